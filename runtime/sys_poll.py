"""ppoll and pselect6: wait until file descriptors are ready, a signal comes or
the timeout ends (glibc's poll and select are these on riscv64).

Guest fds are host fds, so the wait is the host's ppoll (ctypes, GIL released)
through proc.blocking: a guest signal with a handler that the call's mask lets
through ends it with -EINTR (never restarted, signal(7)) as soon as it is
queued (blocking.py kicks the thread), as the kernel does; a signal handled
before the wait began ends it at once.  No polling slices.  The mask
argument replaces the task's mask for the wait; a handler that runs for the
interrupting signal gets the old one back in its frame (as rt_sigsuspend).
The timeout is written back with the time left, as Linux's ppoll and pselect6
do.  pydbt's own fds (proc.reserved_fds) are not the guest's: POLLNVAL for
ppoll, EBADF for pselect6.
"""
import ctypes
import errno
import struct
import time

from . import abi
from .abi import s32
from .syscalls import syscall

POLLFD = struct.Struct("<ihh")          # struct pollfd: the same on every Linux ISA
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND = 0x40, 0x80, 0x100, 0x200
# what select() counts as ready, from the poll bits (fs/select.c)
IN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
OUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
EX_SET = POLLPRI
FD_SETSIZE_MAX = 1 << 20


def _err(e):
    return OSError(e, errno.errorcode.get(e, ""))


def _read_timeout(proc, addr):
    """Guest timespec -> seconds (None: wait for ever); EINVAL when not normalised."""
    if not addr:
        return None
    fam = abi.family(proc)
    v = fam.timespec.unpack(proc.mem.read(addr, fam.timespec.size))
    if v["tv_sec"] < 0 or not 0 <= v["tv_nsec"] < 1_000_000_000:
        raise _err(errno.EINVAL)
    return v["tv_sec"] + v["tv_nsec"] / 1e9


def _write_left(proc, addr, deadline):
    if addr and deadline is not None:
        ns = max(0, int((deadline - time.monotonic()) * 1e9))
        fam = abi.family(proc)
        proc.mem.write(addr, fam.timespec.pack(tv_sec=ns // 1_000_000_000, tv_nsec=ns % 1_000_000_000))


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _host_ppoll(arr, n, deadline):
    """The host's ppoll (ctypes: EINTR reaches proc.blocking) until deadline."""
    ts = None
    if deadline is not None:
        ns = max(0, int((deadline - time.monotonic()) * 1e9))
        ts = ctypes.byref(_Timespec(ns // 1_000_000_000, ns % 1_000_000_000))
    r = abi._libc.ppoll(arr, n, ts, None)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, errno.errorcode.get(e, ""))
    return r


def _wait(proc, want, timeout, mask):
    """Poll the fds of want ({fd: events}) until one is ready, the timeout ends or
    a guest signal with a handler comes (EINTR); returns ([(fd, revents)], deadline)."""
    task = proc.task
    if mask is not None:
        task.saved_mask = task.sigmask
        proc.signals.set_mask(mask)
    deadline = None if timeout is None else time.monotonic() + timeout
    arr = (_PollFd * max(len(want), 1))()
    for i, (fd, ev) in enumerate(want.items()):
        arr[i].fd, arr[i].events = fd, ev - 0x10000 if ev & 0x8000 else ev
    interrupted = False
    try:
        try:
            proc.blocking(_host_ppoll, arr, len(want), deadline)
        except OSError as e:
            interrupted = e.errno == errno.EINTR
            raise
        return [(arr[i].fd, arr[i].revents & 0xffff) for i in range(len(want)) if arr[i].revents], deadline
    finally:
        if mask is not None and not interrupted:
            proc.signals.set_mask(task.saved_mask)   # (interrupted: restored at delivery)
            task.saved_mask = None


def _read_mask(proc, addr, size):
    if not addr:
        return None
    if size != 8:
        raise _err(errno.EINVAL)
    return struct.unpack("<Q", proc.mem.read(addr, 8))[0]


@syscall("ppoll")
def sys_ppoll(proc, fds, nfds, tmo, sigmask, sigsetsize):
    if nfds > FD_SETSIZE_MAX:
        return -errno.EINVAL
    timeout = _read_timeout(proc, tmo)
    mask = _read_mask(proc, sigmask, sigsetsize)
    raw = proc.mem.read(fds, nfds * POLLFD.size) if nfds else b""
    entries = [POLLFD.unpack_from(raw, i * POLLFD.size) for i in range(nfds)]
    reserved = getattr(proc, "reserved_fds", ())
    nval = set()
    want = {}
    for fd, events, _ in entries:
        if fd < 0:
            continue
        if fd in reserved:
            nval.add(fd)
            continue
        want[fd] = want.get(fd, 0) | (events & 0xffff) | POLLERR | POLLHUP
    if nval:
        timeout = 0
    ready, deadline = _wait(proc, want, timeout, mask)
    got = dict(ready)
    out = bytearray()
    n = 0
    for fd, events, _ in entries:
        rev = 0
        if fd in nval:
            rev = POLLNVAL
        elif fd >= 0:
            rev = got.get(fd, 0) & ((events & 0xffff) | POLLERR | POLLHUP | POLLNVAL)
        n += rev != 0
        out += POLLFD.pack(fd, events, rev - 0x10000 if rev & 0x8000 else rev)
    if nfds:
        proc.mem.write(fds, bytes(out))
    _write_left(proc, tmo, deadline)
    return n


@syscall("pselect6")
def sys_pselect6(proc, n, rd, wr, ex, tmo, sigdata):
    n = s32(n)
    if n < 0:
        return -errno.EINVAL
    n = min(n, FD_SETSIZE_MAX)
    timeout = _read_timeout(proc, tmo)
    mask = None
    if sigdata:
        ss, size = struct.unpack("<QQ", proc.mem.read(sigdata, 16))
        mask = _read_mask(proc, ss, size)
    nbytes = (n + 63) // 64 * 8
    sets = [int.from_bytes(proc.mem.read(a, nbytes), "little") if a and nbytes else 0 for a in (rd, wr, ex)]
    reserved = getattr(proc, "reserved_fds", ())
    want = {}
    for fd in range(n):
        ev = (POLLIN if sets[0] >> fd & 1 else 0) | (POLLOUT if sets[1] >> fd & 1 else 0) | \
             (POLLPRI if sets[2] >> fd & 1 else 0)
        if ev:
            if fd in reserved:
                return -errno.EBADF
            want[fd] = ev
    ready, deadline = _wait(proc, want, timeout, mask)
    if any(rev & POLLNVAL for _, rev in ready):
        return -errno.EBADF
    outs = [0, 0, 0]
    for fd, rev in ready:
        for k, bits in enumerate((IN_SET, OUT_SET, EX_SET)):
            if sets[k] >> fd & 1 and rev & bits:
                outs[k] |= 1 << fd
    for a, v in zip((rd, wr, ex), outs):
        if a and nbytes:
            proc.mem.write(a, v.to_bytes(nbytes, "little"))
    _write_left(proc, tmo, deadline)
    return sum(bin(v).count("1") for v in outs)
