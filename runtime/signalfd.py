"""signalfd: a host file descriptor that is readable while a signal of its mask
is pending for the process, and whose read() takes those signals.

The guest's fd is a real host eventfd, so poll, select and epoll on it work as
on any fd.  pydbt keeps a hidden duplicate of it (ownfds) and makes it readable
(adds 1) whenever a signal of the mask is queued (`Signals._notify`), and empties
it when none is pending any more (`Signals.refresh_signalfds`).  The guest's
read() is served here (sys_fs's read finds the SignalFd by comparing open files
with kcmp, so a reused fd number is never mistaken for it): it dequeues the
signals (`Signals.dequeue`) into `struct signalfd_siginfo` records, or blocks
(interruptibly, proc.blocking) until one comes, or EAGAIN when non-blocking.

The duplicate goes when the guest holds no fd of that eventfd any more: its
close() of the last one frees it at once (`close`); one replaced by dup2/dup3,
closed by close_range or by execve's close-on-exec is found by the sweep each
new signalfd makes first (`collect`).  So open/close cycles never accumulate.

Not the kernel's: after fork parent and child share the eventfd, so one may see
the other's readiness (its read then finds nothing: EAGAIN, or it waits on).
"""
import ctypes
import errno
import fcntl
import os
import select
import struct
import threading

from . import abi, ownfds

SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
SIGINFO_SIZE = 128
KCMP_FILE = 0
SI_TIMER = -2
# struct signalfd_siginfo: the fields pydbt fills, then padding to 128 bytes
_SSI = struct.Struct("<IiiIIiIIIIiiQQQQH")


def _err(e):
    return OSError(e, os.strerror(e))


class SignalFd:
    def __init__(self, proc, mask, flags):
        self.proc = proc
        self.mask = mask
        fl = (os.EFD_NONBLOCK if flags & SFD_NONBLOCK else 0) | (os.EFD_CLOEXEC if flags & SFD_CLOEXEC else 0)
        self.fd = os.eventfd(0, fl)                         # the guest's
        self.dup = ownfds.hide(proc, os.dup(self.fd))     # pydbt's
        self.lock = threading.Lock()

    def signal(self):
        os.eventfd_write(self.dup, 1)

    def drain(self):
        with self.lock:
            p = select.poll()
            p.register(self.dup, select.POLLIN)
            if p.poll(0):
                try:
                    os.read(self.dup, 8)
                except BlockingIOError:
                    pass

    def _wait(self):
        """Block until the eventfd is readable (interruptible)."""
        pfd = (ctypes.c_int * 2)(self.fd, select.POLLIN)
        r = abi._libc.poll(pfd, 1, -1)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return r

    def read(self, addr, count):
        proc = self.proc
        if count < SIGINFO_SIZE:
            raise _err(errno.EINVAL)
        nonblock = fcntl.fcntl(self.fd, fcntl.F_GETFL) & os.O_NONBLOCK
        task = proc.task
        while True:
            self.drain()
            out = []
            while len(out) < count // SIGINFO_SIZE:
                e = proc.signals.dequeue(task, self.mask)
                if e is None:
                    break
                out.append(pack(*e))
            if out:
                proc.signals.refresh_signalfds()
                proc.mem.write(addr, b"".join(out))
                return len(out) * SIGINFO_SIZE
            if nonblock:
                raise _err(errno.EAGAIN)
            proc.blocking(self._wait)


def pack(sig, info):
    """One struct signalfd_siginfo."""
    code = info.get("code", 0)
    value = info.get("value", 0) & 0xffffffffffffffff
    if code == SI_TIMER:                 # (pid and uid carry si_tid and si_overrun)
        pid, uid, tid, overrun = 0, 0, info.get("pid", 0), info.get("uid", 0)
    else:
        pid, uid, tid, overrun = info.get("pid", 0), info.get("uid", 0), 0, 0
    status = abi.s32(value) if sig == 17 else 0   # SIGCHLD: si_status
    data = _SSI.pack(sig, 0, code, pid & 0xffffffff, uid & 0xffffffff, 0, tid & 0xffffffff, 0,
                     overrun & 0xffffffff, 0, status, abi.s32(value), value, 0, 0, info.get("addr", 0), 0)
    return data.ljust(SIGINFO_SIZE, b"\0")


def close(proc, fd, closer):
    """The guest closes fd (closer() does it): if it was a signalfd's last fd,
    pydbt's duplicate goes too.  Returns closer()'s result."""
    sfd = find(proc, fd)
    r = closer()
    if sfd is not None and not _in_use(proc, sfd):
        _release(proc, sfd)
    return r


def collect(proc):
    """Free the signalfds the guest holds no fd of (however it let go of them)."""
    for sfd in list(proc.signals.signalfds):
        if not _in_use(proc, sfd):
            _release(proc, sfd)


def _in_use(proc, sfd):
    """Whether a guest fd refers to sfd's eventfd (in doubt: yes)."""
    pid = os.getpid()
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return True
    for fd in fds:
        if fd == sfd.dup or fd in proc.reserved_fds:
            continue
        try:
            if abi.host_syscall("kcmp", pid, pid, KCMP_FILE, fd, sfd.dup) == 0:
                return True
        except OSError as e:
            if e.errno != errno.EBADF:         # (EBADF: the listing's own fd, closed since)
                return True
    return False


def _release(proc, sfd):
    try:
        proc.signals.signalfds.remove(sfd)
    except ValueError:
        return
    ownfds.release(proc, sfd.dup)


def find(proc, fd):
    """The SignalFd the guest's fd refers to, or None."""
    pid = os.getpid()
    for sfd in list(proc.signals.signalfds):
        try:
            if abi.host_syscall("kcmp", pid, pid, KCMP_FILE, fd, sfd.dup) == 0:
                return sfd
        except OSError:
            return None
    return None
