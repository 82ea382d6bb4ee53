"""Task and process life-cycle syscalls: clone (fork, vfork, threads), execve,
exit / exit_group, wait4 / waitid, futex, set_tid_address, robust lists.

A guest process is a host process (fork is a host fork of pydbt, done inside the
exclusive section), so pids and wait statuses are the host's own; a guest thread
is a host thread running its own exec loop over the shared translator.  The
mechanics live in Process (process.py); this module decodes the guest's
arguments and answers as Linux does.
"""
import errno
import os
import time

from . import abi
from .abi import s32
from .syscalls import syscall

CSIGNAL = 0x000000ff
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT = 0x1000, 0x2000, 0x4000, 0x8000
CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS = 0x10000, 0x20000, 0x40000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED = 0x100000, 0x200000, 0x400000
CLONE_UNTRACED, CLONE_CHILD_SETTID = 0x800000, 0x01000000
CLONE_NEW_ANY = 0x7e020000          # the namespace flags: refused (EPERM, as for a non-root user)
CLONE_IO = 0x80000000

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 2, 3, 4, 5
FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 6, 7, 8, 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_WAITERS = 0x80000000

P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
WNOHANG, WUNTRACED, WEXITED, WCONTINUED, WNOWAIT = 1, 2, 4, 8, 0x01000000
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6


def _err(e):
    return OSError(e, os.strerror(e))


def _put_u32(proc, addr, v):
    proc.mem.write(addr, (v & 0xffffffff).to_bytes(4, "little"))


# --- clone -------------------------------------------------------------------------------
@syscall("clone")
def sys_clone(proc, a0, a1, a2, a3, a4):
    flags, newsp, ptid, tls, ctid = proc.arch.clone_args(a0, a1, a2, a3, a4)
    return _clone(proc, flags, newsp, ptid, tls, ctid)


def _clone(proc, flags, newsp, ptid, tls, ctid):
    flags &= 0xffffffffffffffff
    if flags & CLONE_NEW_ANY or flags & CLONE_PIDFD:
        raise _err(errno.EPERM if flags & CLONE_NEW_ANY else errno.EINVAL)
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND or flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise _err(errno.EINVAL)
    if flags & CLONE_THREAD:
        if flags & CLONE_VFORK:
            raise _err(errno.EINVAL)
        return proc.spawn_thread(flags, newsp, ptid, tls, ctid)
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        # a second process sharing memory (not a thread): host processes cannot share
        # pydbt's guest memory; say so rather than run it wrong
        raise _err(errno.EINVAL)
    return proc.fork(flags, newsp, ptid, tls, ctid)


# --- exec --------------------------------------------------------------------------------
def _string_array(proc, addr, limit=1 << 17):
    """A NULL-terminated array of guest char * -> [bytes]."""
    out = []
    while addr:
        p = int.from_bytes(proc.mem.read(addr + 8 * len(out), 8), "little")
        if not p:
            break
        if len(out) >= limit:
            raise _err(errno.E2BIG)
        out.append(proc.mem.read_cstr(p))
    return out


@syscall("execve")
def sys_execve(proc, path, argv, envp):
    return _execve(proc, proc.mem.read_cstr(path), argv, envp)


@syscall("execveat")
def sys_execveat(proc, dirfd, path, argv, envp, flags):
    from .sys_fs import dirfd_arg
    dirfd_arg(proc, dirfd)                     # (pydbt's own descriptors: EBADF)
    filename = proc.mem.read_cstr(path)
    AT_EMPTY_PATH = 0x1000
    if not filename and flags & AT_EMPTY_PATH:
        filename = os.fsencode(f"/proc/self/fd/{s32(dirfd)}")
    elif not filename.startswith(b"/") and s32(dirfd) != abi.AT_FDCWD:
        filename = os.fsencode(f"/proc/self/fd/{s32(dirfd)}/") + filename
    return _execve(proc, filename, argv, envp)


def _execve(proc, filename, argv, envp):
    from .procfs import hidden_fd
    if hidden_fd(proc, filename):              # /proc/self/fd/N of pydbt's own: ENOENT
        raise _err(errno.ENOENT)
    return proc.execve(filename, _string_array(proc, argv), _string_array(proc, envp))


# --- exit --------------------------------------------------------------------------------
@syscall("exit")
def sys_exit(proc, status):
    proc.exit_task(status & 0xff)


@syscall("exit_group")
def sys_exit_group(proc, status):
    proc.exit_group(status & 0xff)


# --- wait --------------------------------------------------------------------------------
@syscall("wait4")
def sys_wait4(proc, pid, status_addr, options, rusage):
    pid, options = s32(pid), options & 0xffffffff
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | 0xe0000000):       # (__WNOTHREAD __WALL __WCLONE)
        raise _err(errno.EINVAL)
    st, ru = abi.buf(4), abi.buf(abi.HOST.rusage.size)
    got = proc.blocking(abi.host_syscall, "wait4", pid, st, s32(options), ru)   # (interruptible)
    if got and status_addr:
        _put_u32(proc, status_addr, int.from_bytes(st.raw[:4], "little"))
    if got and rusage:
        proc.mem.write(rusage, abi.convert(ru.raw, abi.HOST.rusage, abi.family(proc).rusage))
    return got


@syscall("waitid")
def sys_waitid(proc, idtype, ident, infop, options, rusage):
    idtype, options = idtype & 0xffffffff, options & 0xffffffff
    if idtype not in (P_ALL, P_PID, P_PGID) or not options & (WEXITED | WUNTRACED | WCONTINUED) \
            or options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | 0xe0000000):
        raise _err(errno.EINVAL)
    info, ru = abi.buf(128), abi.buf(abi.HOST.rusage.size)
    # (interruptible; the siginfo of SIGCHLD has the same layout on every 64-bit Linux)
    proc.blocking(abi.host_syscall, "waitid", idtype, s32(ident), info, s32(options), ru)
    if infop:
        proc.mem.write(infop, info.raw[:128])
    if rusage:
        proc.mem.write(rusage, abi.convert(ru.raw, abi.HOST.rusage, abi.family(proc).rusage))
    return 0


# --- futex -------------------------------------------------------------------------------
def _deadline(proc, ts_addr, absolute, realtime):
    if not ts_addr:
        return None
    ts = abi.family(proc).timespec.unpack(proc.mem.read(ts_addr, 16))
    sec, nsec = ts["tv_sec"], ts["tv_nsec"]
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise _err(errno.EINVAL)
    t = sec + nsec / 1e9
    if not absolute:
        return time.monotonic() + t
    return time.monotonic() + (t - time.time() if realtime else t - time.monotonic())


@syscall("futex")
def sys_futex(proc, uaddr, op, val, timeout, uaddr2, val3):
    cmd = op & 0x7f
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    if realtime and cmd not in (FUTEX_WAIT_BITSET, FUTEX_WAIT):
        raise _err(errno.ENOSYS)
    if uaddr & 3:
        raise _err(errno.EINVAL)
    fx, mem, task = proc.futexes, proc.mem, proc.task
    val &= 0xffffffff
    if cmd == FUTEX_WAIT:
        return fx.wait(mem, task, uaddr, val, _deadline(proc, timeout, False, False))   # (signals: _wake)
    if cmd == FUTEX_WAIT_BITSET:
        return fx.wait(mem, task, uaddr, val, _deadline(proc, timeout, True, realtime), val3 & 0xffffffff)
    if cmd == FUTEX_WAKE:
        mem.load(uaddr, 4)                  # (EFAULT for a bad address, as the kernel)
        n = s32(val)
        return fx.wake(uaddr, n if n >= 0 else 1)      # (the kernel wakes one for a negative count)
    if cmd == FUTEX_WAKE_BITSET:
        return fx.wake(uaddr, val, val3 & 0xffffffff)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if uaddr2 & 3:
            raise _err(errno.EINVAL)
        n_move = timeout & 0x7fffffff       # (the 4th argument is a count here)
        return fx.requeue(mem, uaddr, val, uaddr2, n_move, val3 if cmd == FUTEX_CMP_REQUEUE else None)
    if cmd == FUTEX_WAKE_OP:
        if uaddr2 & 3:
            raise _err(errno.EINVAL)
        return fx.wake_op(mem, uaddr, val, uaddr2, timeout & 0x7fffffff, val3 & 0xffffffff)
    raise _err(errno.ENOSYS)                # PI futexes, FUTEX_FD


# --- thread bookkeeping --------------------------------------------------------------------
@syscall("set_tid_address")
def sys_set_tid_address(proc, tidptr):
    task = proc.task
    task.clear_child_tid = tidptr
    return task.tid


@syscall("set_robust_list")
def sys_set_robust_list(proc, head, length):
    if length != abi.ROBUST_LIST_HEAD_SIZE:
        raise _err(errno.EINVAL)
    proc.task.robust_list = (head, length)
    return 0


@syscall("get_robust_list")
def sys_get_robust_list(proc, pid, head_ptr, len_ptr):
    task = proc.task_by_tid(s32(pid)) if s32(pid) else proc.task
    if task is None:
        raise _err(errno.ESRCH)
    proc.mem.write(head_ptr, task.robust_list[0].to_bytes(8, "little"))
    proc.mem.write(len_ptr, abi.ROBUST_LIST_HEAD_SIZE.to_bytes(8, "little"))
    return 0


@syscall("gettid")
def sys_gettid(proc):
    return proc.task.tid
