"""Event descriptors: epoll, eventfd, timerfd and inotify.

Guest fds are host fds, so every descriptor here is the host kernel's own
(an epoll set, an eventfd counter, a timerfd, an inotify instance): what the
guest reads from them, how they survive fork and exec, and their readiness in
ppoll or another epoll set are the kernel's.  What pydbt converts:

* `struct epoll_event`: 16 bytes on riscv64 and other generic64 guests
  (u32 events, 4 bytes of padding, u64 data), packed to 12 bytes on x86_64
  (host and guest alike); converted both ways by field names.
* `struct itimerspec` (two timespecs) through the guest family's timespec.
* Flags that are open(2) flags on the guest (EPOLL_CLOEXEC, EFD_NONBLOCK,
  TFD_CLOEXEC, IN_NONBLOCK, ...) through the family's open-flag translation.
* `struct inotify_event` needs nothing: the same layout on every Linux ISA.

epoll_pwait and epoll_pwait2 wait like ppoll (sys_poll.py): the host's
epoll_pwait through `proc.blocking`, so a guest signal with a handler that the
call's mask lets through ends the wait with -EINTR at once (never restarted,
signal(7)), the mask
argument replaces the task's mask for the wait and the interrupting signal's
handler gets the old one back in its frame.  pydbt's own fds are EBADF.
"""
import ctypes
import errno
import os
import time

from . import abi
from .abi import Struct, host_syscall as hsys, buf, s32
from .memory import W
from .syscalls import syscall
from .sys_fs import fd_arg, path_arg, span

EP_MAX_EVENTS = 0x7fffffff // 12          # INT_MAX / sizeof(struct epoll_event) on the host
HOST_BATCH = 1024                          # events taken from the host per wait (the rest stay ready)
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EFD_SEMAPHORE = 1
TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET = 1, 2
IN_DONT_FOLLOW = 0x02000000

_PADDED = Struct("epoll_event", [("events", "I"), ("__pad", "4x"), ("data", "Q")])
_PACKED = Struct("epoll_event", [("events", "I"), ("data", "Q")])
EPOLL_EVENT = {"x86_64": _PACKED, "generic64": _PADDED, "aarch64": _PADDED}


def _err(e):
    return OSError(e, os.strerror(e))


def _fdflags(proc, flags, extra=0):
    """Flags that are open(2) flags on the guest (O_CLOEXEC, O_NONBLOCK) -> the
    host's; the bits in `extra` and bits no open flag uses pass unchanged (for
    the host kernel to accept or refuse)."""
    fam = abi.family(proc)
    known = 0
    for v in fam.open_flags.values():
        known |= v
    known &= ~extra
    return fam.oflags_to_host(flags & known) | (flags & ~known)


def _event_structs(proc):
    return EPOLL_EVENT[abi.family(proc).name], EPOLL_EVENT[abi.HOST.name]


# --- epoll ----------------------------------------------------------------------------
@syscall("epoll_create1")
def sys_epoll_create1(proc, flags):
    return hsys("epoll_create1", _fdflags(proc, s32(flags) & 0xffffffff))


@syscall("epoll_create")
def sys_epoll_create(proc, size):
    """The older form (not in the generic table: riscv64 lacks it): size > 0."""
    if s32(size) <= 0:
        raise _err(errno.EINVAL)
    return hsys("epoll_create1", 0)


@syscall("epoll_ctl")
def sys_epoll_ctl(proc, epfd, op, fd, event):
    op = s32(op)
    gst, hst = _event_structs(proc)
    ev = None
    if op != EPOLL_CTL_DEL:                     # (ep_op_has_event: copied in first)
        ev = abi.convert(proc.mem.read(event, gst.size), gst, hst)
    return hsys("epoll_ctl", fd_arg(proc, epfd), op, fd_arg(proc, fd), ev)


def _read_sigmask(proc, addr, size):
    if not addr:
        return None
    if size != 8:
        raise _err(errno.EINVAL)
    return int.from_bytes(proc.mem.read(addr, 8), "little")


def _epoll_wait(proc, epfd, events, maxevents, timeout, mask):
    """Wait for events on epfd; timeout in seconds (None: for ever).  Returns
    the number of events written to the guest's array."""
    maxevents = s32(maxevents)
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise _err(errno.EINVAL)
    gst, hst = _event_structs(proc)
    if events + maxevents * gst.size > proc.mem.space:
        raise _err(errno.EFAULT)
    epfd = fd_arg(proc, epfd)
    room = span(proc.mem, events, min(maxevents, HOST_BATCH) * gst.size, W) // gst.size
    if room == 0:                               # events would fault: wait without taking them
        n = _wait(proc, lambda ms: _poll_in(epfd, ms), timeout, mask)
        if n:
            raise _err(errno.EFAULT)            # (as the kernel's copy-out; the events stay ready)
        return 0
    hb = buf(room * hst.size)
    n = _wait(proc, lambda ms: hsys("epoll_pwait", epfd, hb, room, ms, None, 8), timeout, mask)
    raw = hb.raw
    out = b"".join(abi.convert(raw[i * hst.size:(i + 1) * hst.size], hst, gst) for i in range(n))
    if out:
        proc.mem.write(events, out)
    return n


def _left_ms(deadline):
    """The host wait in ms: what is left until deadline, computed at each call
    (proc.blocking may call again after a signal that ran no handler)."""
    if deadline is None:
        return -1
    return min(0x7fffffff, max(0, int((deadline - time.monotonic()) * 1000 + 0.999)))


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


def _poll_in(fd, ms):
    """Whether fd becomes readable within ms (the host's poll; EINTR raised)."""
    pfd = _PollFd(fd, 1, 0)
    r = abi._libc.poll(ctypes.byref(pfd), 1, ms)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def _wait(proc, once, timeout, mask):
    """once(ms) through proc.blocking: its result, or EINTR for a guest signal
    with a handler that the (swapped) mask lets through."""
    task = proc.task
    if mask is not None:
        task.saved_mask = task.sigmask
        proc.signals.set_mask(mask)
    deadline = None if timeout is None else time.monotonic() + timeout
    interrupted = False
    try:
        while True:
            try:
                n = proc.blocking(lambda: once(_left_ms(deadline)))
            except OSError as e:
                interrupted = e.errno == errno.EINTR
                raise
            # (the host rounds to its ticks: a wait may end a little early)
            if n or deadline is None or time.monotonic() >= deadline:
                return n
    finally:
        if mask is not None and not interrupted:  # (EINTR: restored at delivery, as ppoll)
            proc.signals.set_mask(task.saved_mask)
            task.saved_mask = None


@syscall("epoll_pwait")
def sys_epoll_pwait(proc, epfd, events, maxevents, timeout, sigmask, sigsetsize):
    mask = _read_sigmask(proc, sigmask, sigsetsize)
    ms = s32(timeout)
    return _epoll_wait(proc, epfd, events, maxevents, None if ms < 0 else ms / 1000, mask)


@syscall("epoll_wait")
def sys_epoll_wait(proc, epfd, events, maxevents, timeout):
    return sys_epoll_pwait(proc, epfd, events, maxevents, timeout, 0, 8)


@syscall("epoll_pwait2")
def sys_epoll_pwait2(proc, epfd, events, maxevents, tmo, sigmask, sigsetsize):
    timeout = None
    if tmo:
        fam = abi.family(proc)
        ts = fam.timespec.unpack(proc.mem.read(tmo, fam.timespec.size))
        if ts["tv_sec"] < 0 or not 0 <= ts["tv_nsec"] < 1_000_000_000:
            raise _err(errno.EINVAL)
        timeout = ts["tv_sec"] + ts["tv_nsec"] / 1e9
    mask = _read_sigmask(proc, sigmask, sigsetsize)
    return _epoll_wait(proc, epfd, events, maxevents, timeout, mask)


# --- eventfd ----------------------------------------------------------------------------
@syscall("eventfd2")
def sys_eventfd2(proc, initval, flags):
    return hsys("eventfd2", initval & 0xffffffff, _fdflags(proc, flags & 0xffffffff, EFD_SEMAPHORE))


@syscall("eventfd")
def sys_eventfd(proc, initval):
    return sys_eventfd2(proc, initval, 0)


# --- timerfd ----------------------------------------------------------------------------
def _itimerspec_in(proc, addr):
    fam = abi.family(proc)
    n = fam.timespec.size
    raw = proc.mem.read(addr, 2 * n)
    return abi.convert(raw[:n], fam.timespec, abi.HOST.timespec) + \
        abi.convert(raw[n:], fam.timespec, abi.HOST.timespec)


def _itimerspec_out(proc, addr, hb):
    fam = abi.family(proc)
    n = abi.HOST.timespec.size
    raw = hb.raw
    proc.mem.write(addr, abi.convert(raw[:n], abi.HOST.timespec, fam.timespec) +
                   abi.convert(raw[n:2 * n], abi.HOST.timespec, fam.timespec))


@syscall("timerfd_create")
def sys_timerfd_create(proc, clockid, flags):
    return hsys("timerfd_create", s32(clockid), _fdflags(proc, flags & 0xffffffff))


@syscall("timerfd_settime")
def sys_timerfd_settime(proc, fd, flags, new, old):
    data = _itimerspec_in(proc, new)
    hnew = buf(len(data))
    ctypes.memmove(hnew, data, len(data))
    hold = buf(2 * abi.HOST.timespec.size) if old else None
    r = hsys("timerfd_settime", fd_arg(proc, fd), flags & 0xffffffff, hnew, hold)
    if old:
        _itimerspec_out(proc, old, hold)
    return r


@syscall("timerfd_gettime")
def sys_timerfd_gettime(proc, fd, cur):
    hb = buf(2 * abi.HOST.timespec.size)
    r = hsys("timerfd_gettime", fd_arg(proc, fd), hb)
    _itimerspec_out(proc, cur, hb)
    return r


# --- inotify ----------------------------------------------------------------------------
@syscall("inotify_init1")
def sys_inotify_init1(proc, flags):
    return hsys("inotify_init1", _fdflags(proc, flags & 0xffffffff))


@syscall("inotify_init")
def sys_inotify_init(proc):
    return sys_inotify_init1(proc, 0)


@syscall("inotify_add_watch")
def sys_inotify_add_watch(proc, fd, path, mask):
    fd, mask = fd_arg(proc, fd), mask & 0xffffffff
    return hsys("inotify_add_watch", fd, path_arg(proc, path, follow=not mask & IN_DONT_FOLLOW), mask)


@syscall("inotify_rm_watch")
def sys_inotify_rm_watch(proc, fd, wd):
    return hsys("inotify_rm_watch", fd_arg(proc, fd), s32(wd))

