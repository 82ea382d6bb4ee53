"""Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack, kill & co."""
import errno
import os
import signal
import struct

from .abi import s32
from .syscalls import syscall
from .signals import Action, NSIG, _UNCATCHABLE

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
_NOMASK = (1 << (signal.SIGKILL - 1)) | (1 << (signal.SIGSTOP - 1))


def _sig_ok(sig):
    return 1 <= sig <= NSIG


@syscall("rt_sigaction")
def sys_rt_sigaction(proc, sig, act, oact, sigsetsize):
    if not _sig_ok(sig) or sigsetsize != 8:
        return -errno.EINVAL
    mem = proc.mem
    restorer = proc.arch.sa_restorer
    fmt = "<QQQQ" if restorer else "<QQQ"
    if act and sig in _UNCATCHABLE:
        return -errno.EINVAL
    new = None
    if act:
        vals = struct.unpack(fmt, mem.read(act, struct.calcsize(fmt)))
        if restorer:
            new = Action(vals[0], vals[1], vals[3] & ~_NOMASK, vals[2])
        else:
            new = Action(vals[0], vals[1], vals[2] & ~_NOMASK)
    if oact:
        o = proc.signals.actions[sig]
        data = struct.pack(fmt, o.handler, o.flags, o.restorer, o.mask) if restorer else \
            struct.pack(fmt, o.handler, o.flags, o.mask)
        mem.write(oact, data)
    if new is not None:
        proc.signals.set_action(sig, new)
    return 0


@syscall("rt_sigprocmask")
def sys_rt_sigprocmask(proc, how, set_, oset, sigsetsize):
    if sigsetsize != 8:
        return -errno.EINVAL
    sigs = proc.signals
    old = sigs.mask
    if set_:
        m = struct.unpack("<Q", proc.mem.read(set_, 8))[0]
        if how == SIG_BLOCK:
            new = old | m
        elif how == SIG_UNBLOCK:
            new = old & ~m
        elif how == SIG_SETMASK:
            new = m
        else:
            return -errno.EINVAL
        sigs.set_mask(new)
    if oset:
        proc.mem.write(oset, struct.pack("<Q", old))
    return 0


@syscall("rt_sigpending")
def sys_rt_sigpending(proc, set_, sigsetsize):
    m = 0
    for sig, _ in proc.signals.pending + proc.signals.held:
        m |= 1 << (sig - 1)
    proc.mem.write(set_, struct.pack("<Q", m & proc.signals.mask))
    return 0


@syscall("rt_sigsuspend")
def sys_rt_sigsuspend(proc, set_, sigsetsize):
    if sigsetsize != 8:
        return -errno.EINVAL
    mask = struct.unpack("<Q", proc.mem.read(set_, 8))[0]
    proc.blocking(proc.signals.suspend, mask)
    return -errno.EINTR


@syscall("rt_sigreturn")
def sys_rt_sigreturn(proc):
    proc.signals.sigreturn(proc.cpu)
    return None            # the registers were restored: do not touch the result register


@syscall("sigaltstack")
def sys_sigaltstack(proc, ss, old):
    sigs = proc.signals
    cur = proc.arch.stack_pointer(proc.cpu)
    sp0, flags0, size0 = sigs.altstack
    on_stack = size0 and sp0 < cur <= sp0 + size0
    if old:
        proc.mem.write(old, struct.pack("<QiiQ", sp0, 1 if on_stack else flags0, 0, size0))  # SS_ONSTACK
    if ss:
        if on_stack:
            return -errno.EPERM
        sp, flags, _, size = struct.unpack("<QiiQ", proc.mem.read(ss, 24))
        if flags & 2:               # SS_DISABLE
            sigs.altstack = (0, 2, 0)
        else:
            if size < 2048:
                return -errno.ENOMEM
            sigs.altstack = (sp, 0, size)
    return 0


@syscall("kill")
def sys_kill(proc, pid, sig):
    pid = pid - (1 << 64) if pid >> 63 else pid
    pid = pid - (1 << 32) if pid & 0x80000000 and pid > 0 else pid
    if sig and not _sig_ok(sig):
        return -errno.EINVAL
    if pid == proc.pid:
        if sig:
            proc.signals.queue(sig, code=0, pid=proc.pid, uid=os.getuid())
        return 0
    os.kill(pid, sig)           # other processes, our process group (0, -pgid), everyone (-1)
    return 0


@syscall("tgkill")
def sys_tgkill(proc, tgid, tid, sig):
    tgid, tid = s32(tgid), s32(tid)
    if not _sig_ok(sig) and sig or tgid <= 0 or tid <= 0:
        return -errno.EINVAL
    if tgid != proc.pid:
        return -errno.ESRCH          # (another process's threads: not reachable from here)
    return _to_task(proc, tid, sig)


@syscall("tkill")
def sys_tkill(proc, tid, sig):
    tid = s32(tid)
    if not _sig_ok(sig) and sig or tid <= 0:
        return -errno.EINVAL
    return _to_task(proc, tid, sig)


def _to_task(proc, tid, sig):
    if proc.task_by_tid(tid) is None:
        return -errno.ESRCH
    if sig:
        proc.signals.queue(sig, code=-6, pid=proc.pid, uid=os.getuid(), tid=tid)   # SI_TKILL
    return 0
