"""File-system and fd syscalls.

Guest fds are host fds (pass-through, as QEMU): most handlers translate pointer
arguments into host buffers and call the host kernel directly with
`abi.host_syscall`, so error codes, fd inheritability (no O_CLOEXEC added behind
the guest's back, unlike `os.open`) and partial transfers are the kernel's.
Every path argument goes through `proc.host_path` (the -L sysroot rule); a few
/proc paths are served by `procfs`.  Host fds in `proc.reserved_fds` (pydbt's
own) look closed to the guest.

Buffers: the host kernel reads and fills guest memory in place (`host_span`:
a pointer into the guest space, never a host buffer the size the guest claims).
A transfer covers at most the contiguous guest-accessible part of the buffer
(like the kernel's partial copy), -EFAULT when none of it is or when the range
reaches past the guest space (access_ok).  Small results (stat buffers, paths)
go through host buffers of their fixed size and `mem.write` (EFAULT on a fault).
pydbt's own descriptors are invisible: EBADF as arguments, ENOENT as
/proc/self/fd/N, left out of /proc/self/fd listings (see ownfds.py).
"""
import ctypes
import errno
import os

from . import abi, procfs, signalfd
from .abi import host_syscall as hsys, buf, s32, s64, AT_FDCWD
from .memory import R, W
from .syscalls import syscall
from ..errors import GuestFault

MAX_RW_COUNT = 0x7ffff000            # the kernel's cap on one read/write
UIO_MAXIOV = 1024
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4

# fcntl commands (asm-generic/fcntl.h; the same on x86_64)
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW = range(8)
F_DUPFD_CLOEXEC = 1030
F_OFD_LOCKS = (36, 37, 38)           # F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
F_INT_CMDS = {8, 9, 10, 11, 1024, 1025, 1026, 1031, 1032, 1033, 1034}  # SETOWN..GET_SEALS



def _err(e):
    return OSError(e, os.strerror(e))


# --- argument helpers --------------------------------------------------------------
def fd_arg(proc, a):
    """A guest fd argument as a host fd; pydbt's own fds look closed."""
    fd = s32(a)
    if fd in getattr(proc, "reserved_fds", ()):
        raise _err(errno.EBADF)
    return fd


def dirfd_arg(proc, a):
    fd = s32(a)
    if fd != AT_FDCWD and fd in getattr(proc, "reserved_fds", ()):
        raise _err(errno.EBADF)
    return fd


def guest_cstr(proc, addr, limit, too_long=None):
    """The NUL-terminated string at guest addr, as the kernel's
    strncpy_from_user(limit): EFAULT if a byte before the NUL cannot be read;
    with no NUL in `limit` bytes, the `too_long` errno or (None) the first
    `limit` bytes."""
    mem, out = proc.mem, bytearray()
    while len(out) < limit:
        n = span(mem, addr + len(out), min(limit - len(out), 4096 - ((addr + len(out)) & 4095)), 1)
        if n == 0 or addr + len(out) + n > mem.space:
            raise _err(errno.EFAULT)
        chunk = mem.read(addr + len(out), n)
        i = chunk.find(b"\0")
        if i >= 0:
            return bytes(out + chunk[:i])
        out += chunk
    if too_long is not None:
        raise _err(too_long)
    return bytes(out)


def guest_path(proc, addr):
    """The guest's path string (bytes); NULL -> EFAULT, PATH_MAX or more -> ENAMETOOLONG."""
    return guest_cstr(proc, addr, 4096, errno.ENAMETOOLONG)


def host_path(proc, p):
    """Guest path -> host path (sysroot rule); the empty path stays empty."""
    if not p:
        return p
    hp = getattr(proc, "host_path", None)
    return hp(p) if hp else p


def path_arg(proc, addr, follow=True):
    """Guest path argument -> host path for stat/access-like calls."""
    p = guest_path(proc, addr)
    if p.startswith(b"/proc/") and procfs.hidden_fd(proc, p):
        raise _err(errno.ENOENT)
    if follow and p.startswith(b"/proc/"):
        r = procfs.redirect(proc, p)
        if r is not None:
            return r
    return host_path(proc, p)


def span(mem, addr, n, need):
    """How many bytes from `addr` (at most n) are mapped with permission `need`
    (W: made writable on the host for the host kernel's write, see
    GuestMemory.before_host_write)."""
    if n <= 0:
        return 0
    end = addr + n
    got = addr
    for v in mem.mappings():
        if v.end <= got:
            continue
        if v.start > got or not v.prot & need:
            break
        got = v.end
        if got >= end:
            break
    n = min(got, end) - addr
    if need & W:
        mem.before_host_write(addr, n)
    return n


# Pointers handed to the host kernel in place of a guest buffer it must not
# touch: NULL (the copy faults: the guest's EFAULT, after whatever the kernel
# checks first) and a kernel-half address (fails access_ok at once, as a guest
# range reaching past the address space does in the guest's kernel).
_NULL = 0
_OUTSIDE = -(1 << 47)


def host_span(proc, addr, count, need, cap=MAX_RW_COUNT):
    """(host pointer, length) for the host kernel to read (need=R) or fill (W)
    guest memory [addr, addr+count) in place: no host buffer, so host work is
    bounded by what the kernel does, not by the size the guest claims.  The
    length is the accessible prefix (a partial transfer, as the kernel's copy
    stops at the first fault); a range past the space gets the out-of-range
    pointer, an inaccessible start NULL.  The length is capped at `cap` (the
    kernel's MAX_RW_COUNT) after the range check, as in vfs_read/vfs_write."""
    mem = proc.mem
    if addr + count > mem.space:                  # (also an empty range that starts past it)
        return _OUTSIDE, count
    if count <= 0:
        return _NULL, 0
    count = min(count, cap)
    n = span(mem, addr, count, need)
    if n == 0:
        return _NULL, count
    return mem.host_base + addr, n


def wrote(proc, addr, n):
    """The host kernel stored n bytes at guest addr: drop translations of those pages."""
    if n > 0:
        proc.mem.code_written(addr, n)


def _out(proc, addr, hb, n):
    """Copy n bytes of host buffer hb to guest memory at addr."""
    if n > 0:
        proc.mem.write(addr, ctypes.string_at(hb, n))


def _opt_in(proc, addr, n):
    """Optional input pointer: None for NULL, else the n bytes there."""
    return proc.mem.read(addr, n) if addr else None


# --- read / write --------------------------------------------------------------------
@syscall("read")
def sys_read(proc, fd, addr, count):
    fd = fd_arg(proc, fd)
    if proc.signals.signalfds:                 # (a signalfd's read takes signals)
        sfd = signalfd.find(proc, fd)
        if sfd is not None:
            return sfd.read(addr, count)
    ptr, n = host_span(proc, addr, count, W)
    r = proc.blocking(hsys, "read", fd, ptr, n)
    wrote(proc, addr, r)
    return r


@syscall("write")
def sys_write(proc, fd, addr, count):
    fd = fd_arg(proc, fd)
    ptr, n = host_span(proc, addr, count, R)
    return proc.blocking(hsys, "write", fd, ptr, n)


@syscall("pread64")
def sys_pread64(proc, fd, addr, count, pos):
    fd = fd_arg(proc, fd)
    ptr, n = host_span(proc, addr, count, W)
    r = proc.blocking(hsys, "pread64", fd, ptr, n, s64(pos))
    wrote(proc, addr, r)
    return r


@syscall("pwrite64")
def sys_pwrite64(proc, fd, addr, count, pos):
    fd = fd_arg(proc, fd)
    ptr, n = host_span(proc, addr, count, R)
    return proc.blocking(hsys, "pwrite64", fd, ptr, n, s64(pos))


class _HostIovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _iovecs(proc, iov, cnt, need):
    """Guest iovec array -> (host iovec array, count, [(guest_base, len)]), the
    host entries pointing into guest memory.  As the kernel's import_iovec: a
    negative length is EINVAL, a range outside the space EFAULT, the total is
    capped at MAX_RW_COUNT; the transfer stops at the first inaccessible byte
    (EFAULT when that is the very first)."""
    cnt = s32(cnt)
    if cnt < 0 or cnt > UIO_MAXIOV:
        raise _err(errno.EINVAL)
    if cnt == 0:
        return (_HostIovec * 1)(), 0, []
    st = abi.family(proc).iovec
    raw = proc.mem.read(iov, st.size * cnt)
    ents = [st.unpack(raw[i * st.size:(i + 1) * st.size]) for i in range(cnt)]
    space = proc.mem.space
    for e in ents:
        if e["iov_len"] >> 63:
            raise _err(errno.EINVAL)
    for e in ents:
        if e["iov_base"] + e["iov_len"] > space:
            raise _err(errno.EFAULT)
    parts, total = [], 0
    for e in ents:
        base, ln = e["iov_base"], min(e["iov_len"], MAX_RW_COUNT - total)
        if ln == 0:
            continue
        n = span(proc.mem, base, ln, need)
        if n:
            parts.append((base, n))
            total += n
        if n < ln:
            break
    arr = (_HostIovec * max(len(parts), 1))()
    for i, (base, n) in enumerate(parts):
        arr[i].base = proc.mem.host_base + base
        arr[i].len = n
    if not parts and total == 0 and any(e["iov_len"] for e in ents):
        arr[0].base, arr[0].len = None, 1          # NULL: the host's EFAULT after its own checks
        return arr, 1, parts
    return arr, len(parts), parts


def _scatter(proc, parts, r):
    for base, n in parts:
        if r <= 0:
            break
        k = min(n, r)
        wrote(proc, base, k)
        r -= k


@syscall("readv")
def sys_readv(proc, fd, iov, cnt):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, W)
    r = proc.blocking(hsys, "readv", fd, arr, k)
    _scatter(proc, parts, r)
    return r


@syscall("writev")
def sys_writev(proc, fd, iov, cnt):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, R)
    return proc.blocking(hsys, "writev", fd, arr, k)


@syscall("preadv")
def sys_preadv(proc, fd, iov, cnt, pos_l, pos_h):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, W)
    r = proc.blocking(hsys, "preadv", fd, arr, k, s64(pos_l), 0)
    _scatter(proc, parts, r)
    return r


@syscall("pwritev")
def sys_pwritev(proc, fd, iov, cnt, pos_l, pos_h):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, R)
    return proc.blocking(hsys, "pwritev", fd, arr, k, s64(pos_l), 0)


@syscall("preadv2")
def sys_preadv2(proc, fd, iov, cnt, pos_l, pos_h, flags):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, W)
    r = proc.blocking(hsys, "preadv2", fd, arr, k, s64(pos_l), 0, s32(flags))
    _scatter(proc, parts, r)
    return r


@syscall("pwritev2")
def sys_pwritev2(proc, fd, iov, cnt, pos_l, pos_h, flags):
    fd = fd_arg(proc, fd)
    arr, k, parts = _iovecs(proc, iov, cnt, R)
    return proc.blocking(hsys, "pwritev2", fd, arr, k, s64(pos_l), 0, s32(flags))


@syscall("lseek")
def sys_lseek(proc, fd, offset, whence):
    return hsys("lseek", fd_arg(proc, fd), s64(offset), s32(whence))


@syscall("copy_file_range")
def sys_copy_file_range(proc, fd_in, off_in, fd_out, off_out, length, flags):
    fd_in, fd_out = fd_arg(proc, fd_in), fd_arg(proc, fd_out)
    bi = bo = None
    if off_in:
        bi = buf(8)
        ctypes.memmove(bi, proc.mem.read(off_in, 8), 8)
    if off_out:
        bo = buf(8)
        ctypes.memmove(bo, proc.mem.read(off_out, 8), 8)
    r = hsys("copy_file_range", fd_in, bi, fd_out, bo, length, s32(flags))
    if off_in:
        _out(proc, off_in, bi, 8)
    if off_out:
        _out(proc, off_out, bo, 8)
    return r


# --- open / close / dup / pipe ---------------------------------------------------------
@syscall("openat")
def sys_openat(proc, dirfd, path, flags, mode):
    p = guest_path(proc, path)
    hflags = abi.family(proc).oflags_to_host(s32(flags)) & 0xffffffff
    dirfd = dirfd_arg(proc, dirfd)
    if p.startswith(b"/proc/"):
        if procfs.hidden_fd(proc, p):
            raise _err(errno.ENOENT)
        fd = procfs.open_virtual(proc, p, hflags)
        if fd is not None:
            return fd
    return proc.blocking(hsys, "openat", dirfd, host_path(proc, p), hflags, mode & 0o7777)   # (a FIFO waits)


@syscall("close")
def sys_close(proc, fd):
    fd = fd_arg(proc, fd)
    if proc.signals.signalfds:                 # (a signalfd's last fd frees pydbt's copy too)
        return signalfd.close(proc, fd, lambda: hsys("close", fd))
    return hsys("close", fd)


@syscall("close_range")
def sys_close_range(proc, first, last, flags):
    first, last, flags = first & 0xffffffff, last & 0xffffffff, flags & 0xffffffff
    if first > last or flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC):
        raise _err(errno.EINVAL)
    lo = first
    for r in sorted(f for f in getattr(proc, "reserved_fds", ()) if first <= f <= last):
        if lo < r:
            hsys("close_range", lo, r - 1, flags)
        lo = r + 1
    if lo <= last:
        hsys("close_range", lo, last, flags)
    return 0


@syscall("dup")
def sys_dup(proc, fd):
    return hsys("dup", fd_arg(proc, fd))


@syscall("dup3")
def sys_dup3(proc, oldfd, newfd, flags):
    oldfd, newfd = fd_arg(proc, oldfd), fd_arg(proc, newfd)
    return hsys("dup3", oldfd, newfd, abi.family(proc).oflags_to_host(s32(flags)))


@syscall("dup2")
def sys_dup2(proc, oldfd, newfd):
    oldfd, newfd = fd_arg(proc, oldfd), fd_arg(proc, newfd)
    if oldfd == newfd:
        hsys("fcntl", oldfd, F_GETFD, 0)
        return newfd
    return hsys("dup3", oldfd, newfd, 0)


@syscall("pipe2")
def sys_pipe2(proc, fds, flags):
    hb = buf(8)
    hsys("pipe2", hb, abi.family(proc).oflags_to_host(s32(flags)))
    try:
        proc.mem.write(fds, hb.raw[:8])
    except GuestFault:
        for f in abi.INT.st.unpack_from(hb.raw, 0) + abi.INT.st.unpack_from(hb.raw, 4):
            os.close(f)
        raise
    return 0


@syscall("pipe")
def sys_pipe(proc, fds):
    return sys_pipe2(proc, fds, 0)


@syscall("memfd_create")
def sys_memfd_create(proc, name, flags):
    return hsys("memfd_create", guest_cstr(proc, name, 250, errno.EINVAL), flags & 0xffffffff)


# --- fcntl / ioctl / flock ---------------------------------------------------------------
@syscall("fcntl")
def sys_fcntl(proc, fd, cmd, arg):
    fd, cmd = fd_arg(proc, fd), s32(cmd)
    fam = abi.family(proc)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD) or cmd in F_INT_CMDS:
        return hsys("fcntl", fd, cmd, s32(arg) if cmd != F_SETFD else arg & 0xffffffff)
    if cmd == F_GETFL:
        return fam.oflags_to_guest(hsys("fcntl", fd, cmd, 0))
    if cmd == F_SETFL:
        return hsys("fcntl", fd, cmd, fam.oflags_to_host(s32(arg)))
    if cmd in (F_GETLK, F_SETLK, F_SETLKW) or cmd in F_OFD_LOCKS:
        from .sys_io import fcntl_lock            # record locks (F_SETLKW waits: sys_io.py)
        return fcntl_lock(proc, fd, cmd, arg)
    raise _err(errno.EINVAL)


@syscall("ioctl")
def sys_ioctl(proc, fd, request, arg):
    fd = fd_arg(proc, fd)
    fam = abi.family(proc)
    ent = fam.ioctl_by_nr.get(request & 0xffffffff)
    if ent is None:
        hsys("fcntl", fd, F_GETFD, 0)            # EBADF first, as the kernel
        raise _err(errno.ENOTTY)
    name, kind, st = ent
    host_nr, _, hst = abi.HOST.ioctls[name]
    if kind == "out":
        hb = buf(hst.size)
        r = hsys("ioctl", fd, host_nr, hb)
        proc.mem.write(arg, abi.convert(hb.raw, hst, st))
        return r
    if kind == "in":
        data = abi.convert(proc.mem.read(arg, st.size), st, hst)
        return hsys("ioctl", fd, host_nr, data)
    if kind == "val":
        return hsys("ioctl", fd, host_nr, arg)
    return hsys("ioctl", fd, host_nr, 0)


@syscall("fadvise64")
def sys_fadvise64(proc, fd, offset, length, advice):
    return hsys("fadvise64", fd_arg(proc, fd), s64(offset), s64(length), s32(advice))


@syscall("fallocate")
def sys_fallocate(proc, fd, mode, offset, length):
    return hsys("fallocate", fd_arg(proc, fd), s32(mode), s64(offset), s64(length))


# --- stat family -----------------------------------------------------------------------
def _stat_out(proc, hb, addr):
    proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.stat, abi.family(proc).stat))


@syscall("newfstatat")
def sys_newfstatat(proc, dirfd, path, statbuf, flags):
    flags = s32(flags)
    dirfd = dirfd_arg(proc, dirfd)
    if not path and flags & AT_EMPTY_PATH:
        hp = b""
    else:
        hp = path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    hb = buf(abi.HOST.stat.size)
    r = hsys("newfstatat", dirfd, hp, hb, flags)
    _stat_out(proc, hb, statbuf)
    return r


@syscall("fstat")
def sys_fstat(proc, fd, statbuf):
    hb = buf(abi.HOST.stat.size)
    r = hsys("fstat", fd_arg(proc, fd), hb)
    _stat_out(proc, hb, statbuf)
    return r


@syscall("statx")
def sys_statx(proc, dirfd, path, flags, mask, statxbuf):
    flags = s32(flags)
    dirfd = dirfd_arg(proc, dirfd)
    if not path and flags & AT_EMPTY_PATH:
        hp = b""
    else:
        hp = path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    hb = buf(abi.HOST.statx.size)
    r = hsys("statx", dirfd, hp, flags, mask & 0xffffffff, hb)
    proc.mem.write(statxbuf, abi.convert(hb.raw, abi.HOST.statx, abi.family(proc).statx))
    return r


def _statfs_out(proc, hb, addr):
    proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.statfs, abi.family(proc).statfs))


@syscall("statfs")
def sys_statfs(proc, path, statbuf):
    hb = buf(abi.HOST.statfs.size)
    r = hsys("statfs", path_arg(proc, path), hb)
    _statfs_out(proc, hb, statbuf)
    return r


@syscall("fstatfs")
def sys_fstatfs(proc, fd, statbuf):
    hb = buf(abi.HOST.statfs.size)
    r = hsys("fstatfs", fd_arg(proc, fd), hb)
    _statfs_out(proc, hb, statbuf)
    return r


@syscall("faccessat")
def sys_faccessat(proc, dirfd, path, mode):
    dirfd = dirfd_arg(proc, dirfd)
    return hsys("faccessat", dirfd, path_arg(proc, path), s32(mode))


@syscall("faccessat2")
def sys_faccessat2(proc, dirfd, path, mode, flags):
    dirfd, flags = dirfd_arg(proc, dirfd), s32(flags)
    hp = path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    try:
        return hsys("faccessat2", dirfd, hp, s32(mode), flags)
    except OSError as e:
        if e.errno != errno.ENOSYS or flags:
            raise
        return hsys("faccessat", dirfd, hp, s32(mode))


@syscall("readlinkat")
def sys_readlinkat(proc, dirfd, path, addr, bufsiz):
    dirfd, bufsiz = dirfd_arg(proc, dirfd), s32(bufsiz)
    if bufsiz <= 0:
        raise _err(errno.EINVAL)
    p = guest_path(proc, path)
    if p.startswith(b"/proc/"):
        if procfs.hidden_fd(proc, p):
            raise _err(errno.ENOENT)
        target = procfs.readlink_virtual(proc, p)
        if target is not None:
            data = target[:bufsiz]
            proc.mem.write(addr, data)
            return len(data)
    n = min(bufsiz, 1 << 16)                 # (no link is longer: PATH_MAX is 4096)
    hb = buf(n)
    r = hsys("readlinkat", dirfd, host_path(proc, p), hb, n)
    _out(proc, addr, hb, r)
    return r


@syscall("getdents64")
def sys_getdents64(proc, fd, dirp, count):
    fd = fd_arg(proc, fd)
    count = count & 0xffffffff
    if proc.reserved_fds and procfs.is_fd_dir(fd):
        return _getdents_hiding(proc, fd, dirp, count)
    n = span(proc.mem, dirp, count, W)
    r = hsys("getdents64", fd, proc.mem.host_base + dirp if n else _NULL, n or count)
    wrote(proc, dirp, r)
    return r


def _getdents_hiding(proc, fd, dirp, count):
    """getdents64 of a /proc/<pid>/fd directory without pydbt's own descriptors."""
    hidden = {str(f).encode() for f in proc.reserved_fds}
    hb = buf(min(count, 1 << 16))
    while True:
        r = hsys("getdents64", fd, hb, min(count, 1 << 16))
        raw, out, off = hb.raw[:r], bytearray(), 0
        while off < r:
            reclen = int.from_bytes(raw[off + 16:off + 18], "little")
            name = raw[off + 19:off + reclen].split(b"\0", 1)[0]
            if name not in hidden:
                out += raw[off:off + reclen]
            off += reclen
        if out or r == 0:
            proc.mem.write(dirp, bytes(out))
            return len(out)


# --- directories and names ---------------------------------------------------------------
@syscall("getcwd")
def sys_getcwd(proc, addr, size):
    size = min(size, 1 << 16)                # (PATH_MAX is 4096: a bigger buffer changes nothing)
    hb = buf(size)
    r = hsys("getcwd", hb, size)
    _out(proc, addr, hb, r)
    return r


@syscall("chdir")
def sys_chdir(proc, path):
    return hsys("chdir", path_arg(proc, path))


@syscall("fchdir")
def sys_fchdir(proc, fd):
    return hsys("fchdir", fd_arg(proc, fd))


@syscall("mkdirat")
def sys_mkdirat(proc, dirfd, path, mode):
    dirfd = dirfd_arg(proc, dirfd)
    return hsys("mkdirat", dirfd, host_path(proc, guest_path(proc, path)), mode & 0xffffffff)


@syscall("mknodat")
def sys_mknodat(proc, dirfd, path, mode, dev):
    dirfd = dirfd_arg(proc, dirfd)
    return hsys("mknodat", dirfd, host_path(proc, guest_path(proc, path)), mode & 0xffffffff,
                dev & 0xffffffff)


@syscall("unlinkat")
def sys_unlinkat(proc, dirfd, path, flags):
    dirfd = dirfd_arg(proc, dirfd)
    return hsys("unlinkat", dirfd, host_path(proc, guest_path(proc, path)), s32(flags))


@syscall("renameat2")
def sys_renameat2(proc, olddirfd, oldpath, newdirfd, newpath, flags):
    olddirfd, newdirfd = dirfd_arg(proc, olddirfd), dirfd_arg(proc, newdirfd)
    return hsys("renameat2", olddirfd, host_path(proc, guest_path(proc, oldpath)),
                newdirfd, host_path(proc, guest_path(proc, newpath)), flags & 0xffffffff)


@syscall("renameat")
def sys_renameat(proc, olddirfd, oldpath, newdirfd, newpath):
    return sys_renameat2(proc, olddirfd, oldpath, newdirfd, newpath, 0)


@syscall("symlinkat")
def sys_symlinkat(proc, target, newdirfd, linkpath):
    # the target is link *content*, stored verbatim: not a path to translate
    t = guest_path(proc, target)
    newdirfd = dirfd_arg(proc, newdirfd)
    return hsys("symlinkat", t, newdirfd, host_path(proc, guest_path(proc, linkpath)))


@syscall("linkat")
def sys_linkat(proc, olddirfd, oldpath, newdirfd, newpath, flags):
    olddirfd, newdirfd = dirfd_arg(proc, olddirfd), dirfd_arg(proc, newdirfd)
    return hsys("linkat", olddirfd, host_path(proc, guest_path(proc, oldpath)),
                newdirfd, host_path(proc, guest_path(proc, newpath)), s32(flags))


# --- attributes --------------------------------------------------------------------------
@syscall("fchmod")
def sys_fchmod(proc, fd, mode):
    return hsys("fchmod", fd_arg(proc, fd), mode & 0xffffffff)


@syscall("fchmodat")
def sys_fchmodat(proc, dirfd, path, mode):
    dirfd = dirfd_arg(proc, dirfd)
    return hsys("fchmodat", dirfd, path_arg(proc, path), mode & 0xffffffff)


@syscall("fchmodat2")
def sys_fchmodat2(proc, dirfd, path, mode, flags):
    dirfd, flags = dirfd_arg(proc, dirfd), s32(flags)
    hp = path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    return hsys("fchmodat2", dirfd, hp, mode & 0xffffffff, flags)


@syscall("fchown")
def sys_fchown(proc, fd, uid, gid):
    return hsys("fchown", fd_arg(proc, fd), uid & 0xffffffff, gid & 0xffffffff)


@syscall("fchownat")
def sys_fchownat(proc, dirfd, path, uid, gid, flags):
    dirfd, flags = dirfd_arg(proc, dirfd), s32(flags)
    if not path and flags & AT_EMPTY_PATH:
        hp = b""
    else:
        hp = path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    return hsys("fchownat", dirfd, hp, uid & 0xffffffff, gid & 0xffffffff, flags)


@syscall("truncate")
def sys_truncate(proc, path, length):
    return hsys("truncate", path_arg(proc, path), s64(length))


@syscall("ftruncate")
def sys_ftruncate(proc, fd, length):
    return hsys("ftruncate", fd_arg(proc, fd), s64(length))


@syscall("utimensat")
def sys_utimensat(proc, dirfd, path, times, flags):
    dirfd, flags = dirfd_arg(proc, dirfd), s32(flags)
    hp = None if not path else path_arg(proc, path, follow=not flags & AT_SYMLINK_NOFOLLOW)
    ht = None
    if times:
        fam = abi.family(proc)
        ts = fam.timespec.size
        raw = proc.mem.read(times, 2 * ts)
        ht = abi.convert(raw[:ts], fam.timespec, abi.HOST.timespec) + \
            abi.convert(raw[ts:], fam.timespec, abi.HOST.timespec)
    return hsys("utimensat", dirfd, hp, ht, flags)


@syscall("umask")
def sys_umask(proc, mask):
    return os.umask(mask & 0o777)


# --- syncing -----------------------------------------------------------------------------
@syscall("fsync")
def sys_fsync(proc, fd):
    return hsys("fsync", fd_arg(proc, fd))


@syscall("fdatasync")
def sys_fdatasync(proc, fd):
    return hsys("fdatasync", fd_arg(proc, fd))


@syscall("syncfs")
def sys_syncfs(proc, fd):
    return hsys("syncfs", fd_arg(proc, fd))


@syscall("sync_file_range")
def sys_sync_file_range(proc, fd, offset, nbytes, flags):
    return hsys("sync_file_range", fd_arg(proc, fd), s64(offset), s64(nbytes), flags & 0xffffffff)


@syscall("sync")
def sys_sync(proc):
    hsys("sync")
    return 0


# --- extended attributes ---------------------------------------------------------------
# The host kernel does the work on the guest's buffers in place (host_span): a
# value or list it fills is written only as long as the result, so a buffer
# whose tail is not mapped still works for a short value, as in the guest's
# kernel.  Names are copied (at most XATTR_NAME_MAX + 1 bytes: one without its
# NUL by then is the kernel's ERANGE, as is an empty one).
XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX = 255, 65536, 65536


def _xattr_target(proc, kind, target):
    """The path (kind "" follows a last symlink, "l" does not) or fd ("f") argument."""
    if kind == "f":
        return fd_arg(proc, target)
    return path_arg(proc, target, follow=kind == "")


def _xattr_name(proc, name):
    return guest_cstr(proc, name, XATTR_NAME_MAX + 1)


def _setxattr(kind):
    def handler(proc, target, name, value, size, flags):
        t = _xattr_target(proc, kind, target)
        n = _xattr_name(proc, name)
        size = size & 0xffffffffffffffff
        ptr = host_span(proc, value, size, R, cap=size)[0] if size else _NULL
        return hsys(kind + "setxattr", t, n, ptr, size, s32(flags))
    return handler


def _getxattr(kind):
    def handler(proc, target, name, value, size):
        t = _xattr_target(proc, kind, target)
        n = _xattr_name(proc, name)
        size = min(size & 0xffffffffffffffff, XATTR_SIZE_MAX)
        ptr = host_span(proc, value, size, W, cap=size)[0]
        r = hsys(kind + "getxattr", t, n, ptr, size)
        if size:
            wrote(proc, value, r)
        return r
    return handler


def _listxattr(kind):
    def handler(proc, target, lst, size):
        t = _xattr_target(proc, kind, target)
        size = min(size & 0xffffffffffffffff, XATTR_LIST_MAX)
        ptr = host_span(proc, lst, size, W, cap=size)[0]
        r = hsys(kind + "listxattr", t, ptr, size)
        if size:
            wrote(proc, lst, r)
        return r
    return handler


def _removexattr(kind):
    def handler(proc, target, name):
        return hsys(kind + "removexattr", _xattr_target(proc, kind, target), _xattr_name(proc, name))
    return handler


for _kind in ("", "l", "f"):
    syscall(_kind + "setxattr")(_setxattr(_kind))
    syscall(_kind + "getxattr")(_getxattr(_kind))
    syscall(_kind + "listxattr")(_listxattr(_kind))
    syscall(_kind + "removexattr")(_removexattr(_kind))
