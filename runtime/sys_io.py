"""Moving data between descriptors, and file locks.

sendfile, splice, tee and vmsplice are the host kernel's own (guest fds are
host fds); offsets (`loff_t *`) are copied in and back out, vmsplice's iovecs
point straight into guest memory (as readv/writev, sys_fs.py).  Calls that
may wait (a pipe that is full or empty, a lock someone else holds: flock,
fcntl F_SETLKW and F_OFD_SETLKW) wait in `proc.blocking`, where a guest
signal can end them; whether the call is then restarted is the signal
code's decision (SA_RESTART), as for read.

fcntl's record-lock commands come here from sys_fs's fcntl: `struct flock`
is converted between the guest's layout and the host's; `l_pid` needs no
translation (a guest process is a host process with the same pid).
"""
import ctypes
import os

from . import abi
from .abi import host_syscall as hsys, buf, s32, s64
from .memory import R, W
from .syscalls import syscall
from .sys_fs import fd_arg, MAX_RW_COUNT, _iovecs, _scatter

F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_GETFL = 3
LOCK_NB = 4


def _loff_in(proc, addr):
    """A guest `loff_t *` argument -> a host 8-byte buffer holding it (None for NULL)."""
    if not addr:
        return None
    hb = buf(8)
    ctypes.memmove(hb, proc.mem.read(addr, 8), 8)
    return hb


def _loff_out(proc, addr, hb):
    if addr:
        proc.mem.write(addr, hb.raw[:8])


@syscall("sendfile")
def sys_sendfile(proc, out_fd, in_fd, offp, count):
    out_fd, in_fd = fd_arg(proc, out_fd), fd_arg(proc, in_fd)
    off = _loff_in(proc, offp)
    r = proc.blocking(hsys, "sendfile", out_fd, in_fd, off, min(count, MAX_RW_COUNT))
    _loff_out(proc, offp, off)
    return r


@syscall("splice")
def sys_splice(proc, fd_in, off_in, fd_out, off_out, length, flags):
    fd_in, fd_out = fd_arg(proc, fd_in), fd_arg(proc, fd_out)
    bi, bo = _loff_in(proc, off_in), _loff_in(proc, off_out)
    r = proc.blocking(hsys, "splice", fd_in, bi, fd_out, bo, min(length, MAX_RW_COUNT), flags & 0xffffffff)
    _loff_out(proc, off_in, bi)
    _loff_out(proc, off_out, bo)
    return r


@syscall("tee")
def sys_tee(proc, fd_in, fd_out, length, flags):
    fd_in, fd_out = fd_arg(proc, fd_in), fd_arg(proc, fd_out)
    return proc.blocking(hsys, "tee", fd_in, fd_out, min(length, MAX_RW_COUNT), flags & 0xffffffff)


@syscall("vmsplice")
def sys_vmsplice(proc, fd, iov, nr_segs, flags):
    """Guest memory to a pipe (its pages referenced by the pipe, as on Linux) or
    a pipe to guest memory; which one is the host kernel's decision (the pipe
    end's mode), so the iovecs are checked for reading and, if the fd is a
    read end, for writing too."""
    fd = fd_arg(proc, fd)
    acc = hsys("fcntl", fd, F_GETFL, 0) & 3               # O_RDONLY: a read end
    need = W if acc == os.O_RDONLY else R
    arr, k, parts = _iovecs(proc, iov, nr_segs, need)
    r = proc.blocking(hsys, "vmsplice", fd, arr, k, flags & 0xffffffff)
    if need == W:
        _scatter(proc, parts, r)
    return r


@syscall("readahead")
def sys_readahead(proc, fd, offset, count):
    return hsys("readahead", fd_arg(proc, fd), s64(offset), count)


# --- locks ------------------------------------------------------------------------------
@syscall("flock")
def sys_flock(proc, fd, op):
    fd, op = fd_arg(proc, fd), s32(op)
    if op & LOCK_NB:
        return hsys("flock", fd, op)
    return proc.blocking(hsys, "flock", fd, op)


def fcntl_lock(proc, fd, cmd, arg):
    """fcntl F_GETLK/F_SETLK/F_SETLKW and the F_OFD_* forms (fd already checked)."""
    fam = abi.family(proc)
    hst = abi.HOST.flock
    data = abi.convert(proc.mem.read(arg, fam.flock.size), fam.flock, hst)
    hb = buf(hst.size)
    ctypes.memmove(hb, data, len(data))
    if cmd in (F_SETLKW, F_OFD_SETLKW):
        r = proc.blocking(hsys, "fcntl", fd, cmd, hb)
    else:
        r = hsys("fcntl", fd, cmd, hb)
    if cmd in (F_GETLK, F_OFD_GETLK):
        proc.mem.write(arg, abi.convert(hb.raw, hst, fam.flock))
    return r
