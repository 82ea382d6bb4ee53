"""Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack, kill
& co.; waiting for signals: rt_sigsuspend, pause, rt_sigtimedwait, rt_sigpending,
signalfd4; queueing them with a value: rt_sigqueueinfo, rt_tgsigqueueinfo.

The siginfo written by rt_sigtimedwait is the generic 64-bit Linux layout
(si_signo, si_errno, si_code at 0/4/8, the union at 16: si_pid or si_tid at 16,
si_uid or si_overrun at 20, si_value or si_status at 24), 128 bytes.
"""
import errno
import os
import signal
import struct
import time

from . import abi, signalfd
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
    if sigsetsize > 8:
        return -errno.EINVAL
    m = proc.signals.pending_set(proc.task) & proc.task.sigmask
    proc.mem.write(set_, struct.pack("<Q", m)[:sigsetsize])
    return 0


@syscall("rt_sigsuspend")
def sys_rt_sigsuspend(proc, set_, sigsetsize):
    if sigsetsize != 8:
        return -errno.EINVAL
    mask = struct.unpack("<Q", proc.mem.read(set_, 8))[0]
    proc.signals.suspend(mask)
    return -errno.EINTR


@syscall("pause")
def sys_pause(proc):
    proc.signals.suspend(proc.task.sigmask)
    return -errno.EINTR


def siginfo_bytes(sig, info):
    """The guest's siginfo_t (see the module docstring)."""
    if "addr" in info:
        tail = struct.pack("<Q", info["addr"])
    else:
        tail = struct.pack("<iIQ", info.get("pid", 0), info.get("uid", 0) & 0xffffffff,
                           info.get("value", 0) & 0xffffffffffffffff)
    return (struct.pack("<iiii", sig, 0, info.get("code", 0), 0) + tail).ljust(128, b"\0")


@syscall("rt_sigtimedwait")
def sys_rt_sigtimedwait(proc, set_, info_addr, tmo, sigsetsize):
    if sigsetsize != 8:
        return -errno.EINVAL
    sigset = struct.unpack("<Q", proc.mem.read(set_, 8))[0] & ~_NOMASK
    deadline = None
    if tmo:
        fam = abi.family(proc)
        ts = fam.timespec.unpack(proc.mem.read(tmo, fam.timespec.size))
        if ts["tv_sec"] < 0 or not 0 <= ts["tv_nsec"] < 1_000_000_000:
            return -errno.EINVAL
        deadline = time.monotonic() + ts["tv_sec"] + ts["tv_nsec"] / 1e9
    e = proc.signals.wait_for(proc.task, sigset, deadline)
    if e is None:
        return -errno.EAGAIN
    sig, info = e
    if info_addr:
        proc.mem.write(info_addr, siginfo_bytes(sig, info))
    return sig


def _queueinfo(proc, tgid, tid, sig, uinfo):
    """rt_sigqueueinfo (tid None) and rt_tgsigqueueinfo."""
    tgid = s32(tgid)
    if not _sig_ok(sig):
        return -errno.EINVAL
    raw = proc.mem.read(uinfo, 128)
    _, _, code = struct.unpack_from("<iii", raw)
    pid, uid, value = struct.unpack_from("<iIQ", raw, 16)
    if tgid != proc.pid:
        if tgid <= 0:
            return -errno.EINVAL if tid is not None else -errno.ESRCH
        host = bytearray(raw)            # (the same layout on the host: another process gets it as is)
        struct.pack_into("<i", host, 0, sig)
        if tid is None:
            return abi.host_syscall("rt_sigqueueinfo", tgid, sig, bytes(host))
        return abi.host_syscall("rt_tgsigqueueinfo", tgid, s32(tid), sig, bytes(host))
    # (the kernel refuses codes >= 0 and SI_TKILL only towards another process: the host checks those)
    if tid is not None and proc.task_by_tid(s32(tid)) is None:
        return -errno.ESRCH
    proc.signals.queue(sig, code=code, pid=pid, uid=uid, value=value, tid=None if tid is None else s32(tid))
    return 0


@syscall("rt_sigqueueinfo")
def sys_rt_sigqueueinfo(proc, tgid, sig, uinfo):
    return _queueinfo(proc, tgid, None, sig, uinfo)


@syscall("rt_tgsigqueueinfo")
def sys_rt_tgsigqueueinfo(proc, tgid, tid, sig, uinfo):
    if s32(tid) <= 0:
        return -errno.EINVAL
    return _queueinfo(proc, tgid, tid, sig, uinfo)


@syscall("signalfd4")
def sys_signalfd4(proc, fd, mask_addr, sizemask, flags):
    fd, flags = s32(fd), flags & 0xffffffff
    if sizemask != 8 or flags & ~(signalfd.SFD_NONBLOCK | signalfd.SFD_CLOEXEC):
        return -errno.EINVAL
    mask = struct.unpack("<Q", proc.mem.read(mask_addr, 8))[0] & ~_NOMASK
    if fd != -1:
        if fd in proc.reserved_fds:
            return -errno.EBADF
        os.fstat(fd)                     # (EBADF for a closed fd)
        sfd = signalfd.find(proc, fd)
        if sfd is None:
            return -errno.EINVAL
        sfd.mask = mask
    else:
        signalfd.collect(proc)           # (those the guest let go of without close)
        sfd = signalfd.SignalFd(proc, mask, flags)
        proc.signals.signalfds.append(sfd)
    sfd.drain()
    if proc.signals.pending_set(proc.task) & mask:
        sfd.signal()
    return sfd.fd


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
    if sig and (pid == 0 or pid < -1 and -pid == os.getpgrp()):
        # Our own group: pending here when kill returns, as Linux has it.  The
        # host copy that reaches pydbt is dropped (signals.Signals._from_host).
        proc.signals.queue(sig, code=0, pid=proc.pid, uid=os.getuid())
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
