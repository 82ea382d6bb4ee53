"""Guest and host ABI data: struct layouts, flag values, ioctl numbers, host syscalls.

Everything that differs between ISAs is *data* here; a frontend names its family
with `arch.abi` ('generic64' for riscv64) and the syscall code asks `family(proc)`
for the layouts.  Conversions between the host's layout and the guest's go
through field names (`convert`), and are a plain byte copy when the two layouts
are the same (most are, between generic64 guests and an x86_64 host).

`host_syscall(name, *args)` calls the host kernel directly (ctypes, GIL released)
with the host's syscall number: pass-through handlers use it so that errno
values, fd inheritability and partial results are exactly the kernel's.
"""
import ctypes
import errno
import os
import struct

from .syscall_numbers import GENERIC


# --- struct layouts ------------------------------------------------------------
class Struct:
    """A C struct as an ordered list of (field, struct-format).  Fields whose format
    is only pad bytes ('4x') carry no value.  pack() takes a dict (missing fields
    are 0) and wraps integers to the field's width, as a C assignment would."""

    def __init__(self, name, fields):
        self.name = name
        self.layout = tuple(fields)
        self.st = struct.Struct("<" + "".join(f for _, f in fields))
        self.size = self.st.size
        self.fields = [n for n, f in fields if not f.endswith("x")]
        self._wrap = []
        for n, f in fields:
            if f.endswith("x"):
                continue
            if f.endswith("s"):
                self._wrap.append(None)
                continue
            bits = struct.calcsize(f) * 8
            self._wrap.append((bits, f.islower()))

    def pack(self, values=None, **kw):
        if values is None:
            values = kw
        elif kw:
            values = {**values, **kw}
        out = []
        for name, wrap in zip(self.fields, self._wrap):
            v = values.get(name, b"" if wrap is None else 0)
            if wrap is not None:
                bits, signed = wrap
                v &= (1 << bits) - 1
                if signed and v >> (bits - 1):
                    v -= 1 << bits
            out.append(v)
        return self.st.pack(*out)

    def unpack(self, data):
        return dict(zip(self.fields, self.st.unpack_from(data)))

    def same_as(self, other):
        return self.layout == other.layout

    def __repr__(self):
        return f"Struct({self.name}, {self.size} bytes)"


def convert(data, src, dst):
    """Bytes of struct `src` -> bytes of struct `dst` (by field names)."""
    if src.same_as(dst):
        return bytes(data[:dst.size])
    return dst.pack(src.unpack(data))


_TS = [("tv_sec", "q"), ("tv_nsec", "q")]

STAT_GENERIC64 = Struct("stat", [     # include/uapi/asm-generic/stat.h, 64-bit: 128 bytes
    ("st_dev", "Q"), ("st_ino", "Q"), ("st_mode", "I"), ("st_nlink", "I"),
    ("st_uid", "I"), ("st_gid", "I"), ("st_rdev", "Q"), ("__pad1", "8x"),
    ("st_size", "q"), ("st_blksize", "i"), ("__pad2", "4x"), ("st_blocks", "q"),
    ("st_atime", "q"), ("st_atime_nsec", "Q"), ("st_mtime", "q"), ("st_mtime_nsec", "Q"),
    ("st_ctime", "q"), ("st_ctime_nsec", "Q"), ("__unused", "8x")])

STAT_X86_64 = Struct("stat", [        # arch/x86/include/uapi/asm/stat.h, x86_64: 144 bytes
    ("st_dev", "Q"), ("st_ino", "Q"), ("st_nlink", "Q"), ("st_mode", "I"),
    ("st_uid", "I"), ("st_gid", "I"), ("__pad0", "4x"), ("st_rdev", "Q"),
    ("st_size", "q"), ("st_blksize", "q"), ("st_blocks", "q"),
    ("st_atime", "q"), ("st_atime_nsec", "Q"), ("st_mtime", "q"), ("st_mtime_nsec", "Q"),
    ("st_ctime", "q"), ("st_ctime_nsec", "Q"), ("__unused", "24x")])

STATX = Struct("statx", [             # include/uapi/linux/stat.h: the same on every arch
    ("stx_mask", "I"), ("stx_blksize", "I"), ("stx_attributes", "Q"),
    ("stx_nlink", "I"), ("stx_uid", "I"), ("stx_gid", "I"), ("stx_mode", "H"), ("__spare0", "2x"),
    ("stx_ino", "Q"), ("stx_size", "Q"), ("stx_blocks", "Q"), ("stx_attributes_mask", "Q"),
    *[(f"stx_{t}time_{f}", c) for t in "abcm" for f, c in (("sec", "q"), ("nsec", "I"), ("_r", "4x"))],
    ("stx_rdev_major", "I"), ("stx_rdev_minor", "I"), ("stx_dev_major", "I"), ("stx_dev_minor", "I"),
    ("stx_mnt_id", "Q"), ("stx_dio_mem_align", "I"), ("stx_dio_offset_align", "I"),
    ("__spare3", "96x")])

STATFS64 = Struct("statfs", [         # asm-generic/statfs.h with a 64-bit __statfs_word
    ("f_type", "q"), ("f_bsize", "q"), ("f_blocks", "Q"), ("f_bfree", "Q"), ("f_bavail", "Q"),
    ("f_files", "Q"), ("f_ffree", "Q"), ("f_fsid0", "i"), ("f_fsid1", "i"),
    ("f_namelen", "q"), ("f_frsize", "q"), ("f_flags", "q"), ("f_spare", "32x")])

TIMESPEC = Struct("timespec", _TS)
TIMEVAL = Struct("timeval", [("tv_sec", "q"), ("tv_usec", "q")])
TIMEZONE = Struct("timezone", [("tz_minuteswest", "i"), ("tz_dsttime", "i")])
RUSAGE = Struct("rusage", [
    ("ru_utime_sec", "q"), ("ru_utime_usec", "q"), ("ru_stime_sec", "q"), ("ru_stime_usec", "q"),
    *[(f"ru_{n}", "q") for n in ("maxrss ixrss idrss isrss minflt majflt nswap inblock "
                                 "oublock msgsnd msgrcv nsignals nvcsw nivcsw").split()]])
UTSNAME = Struct("utsname", [(n, "65s") for n in
                             ("sysname", "nodename", "release", "version", "machine", "domainname")])
SYSINFO = Struct("sysinfo", [
    ("uptime", "q"), ("load0", "Q"), ("load1", "Q"), ("load2", "Q"),
    ("totalram", "Q"), ("freeram", "Q"), ("sharedram", "Q"), ("bufferram", "Q"),
    ("totalswap", "Q"), ("freeswap", "Q"), ("procs", "H"), ("pad", "H"), ("__pad", "4x"),
    ("totalhigh", "Q"), ("freehigh", "Q"), ("mem_unit", "I"), ("__f", "4x")])
RLIMIT = Struct("rlimit", [("rlim_cur", "Q"), ("rlim_max", "Q")])
TMS = Struct("tms", [("tms_utime", "q"), ("tms_stime", "q"), ("tms_cutime", "q"), ("tms_cstime", "q")])
IOVEC = Struct("iovec", [("iov_base", "Q"), ("iov_len", "Q")])
DIRENT64 = Struct("linux_dirent64", [("d_ino", "Q"), ("d_off", "q"), ("d_reclen", "H"), ("d_type", "B")])
FLOCK = Struct("flock", [("l_type", "h"), ("l_whence", "h"), ("__pad", "4x"),
                         ("l_start", "q"), ("l_len", "q"), ("l_pid", "i"), ("__pad2", "4x")])
TERMIOS = Struct("termios", [("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
                             ("c_line", "B"), ("c_cc", "19s")])
WINSIZE = Struct("winsize", [("ws_row", "H"), ("ws_col", "H"), ("ws_xpixel", "H"), ("ws_ypixel", "H")])
INT = Struct("int", [("v", "i")])
U64 = Struct("u64", [("v", "Q")])

ROBUST_LIST_HEAD_SIZE = 24            # struct robust_list_head on 64-bit

# --- open(2) flags -------------------------------------------------------------
# asm-generic/fcntl.h (riscv64, x86_64, loongarch64); aarch64 moves four of them.
OPEN_FLAGS_GENERIC = {
    "O_WRONLY": 0o1, "O_RDWR": 0o2, "O_CREAT": 0o100, "O_EXCL": 0o200, "O_NOCTTY": 0o400,
    "O_TRUNC": 0o1000, "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000, "O_DSYNC": 0o10000,
    "O_ASYNC": 0o20000, "O_DIRECT": 0o40000, "O_LARGEFILE": 0o100000, "O_DIRECTORY": 0o200000,
    "O_NOFOLLOW": 0o400000, "O_NOATIME": 0o1000000, "O_CLOEXEC": 0o2000000, "__O_SYNC": 0o4000000,
    "O_PATH": 0o10000000, "__O_TMPFILE": 0o20000000,
}
OPEN_FLAGS_AARCH64 = {**OPEN_FLAGS_GENERIC, "O_DIRECTORY": 0o40000, "O_NOFOLLOW": 0o100000,
                      "O_DIRECT": 0o200000, "O_LARGEFILE": 0o400000}

# --- ioctls passed through to the host fd: name -> (number, argument kind, struct)
# kinds: 'out' (kernel writes the struct), 'in' (kernel reads it), 'val' (the
# argument itself), 'none'.  asm-generic/ioctls.h numbers (x86 uses them too).
IOCTLS_GENERIC = {
    "TCGETS": (0x5401, "out", TERMIOS), "TCSETS": (0x5402, "in", TERMIOS),
    "TCSETSW": (0x5403, "in", TERMIOS), "TCSETSF": (0x5404, "in", TERMIOS),
    "TCSBRK": (0x5409, "val", None), "TCXONC": (0x540A, "val", None), "TCFLSH": (0x540B, "val", None),
    "TIOCSCTTY": (0x540E, "val", None), "TIOCGPGRP": (0x540F, "out", INT),
    "TIOCSPGRP": (0x5410, "in", INT), "TIOCOUTQ": (0x5411, "out", INT),
    "TIOCGWINSZ": (0x5413, "out", WINSIZE), "TIOCSWINSZ": (0x5414, "in", WINSIZE),
    "FIONREAD": (0x541B, "out", INT), "TIOCNOTTY": (0x5422, "none", None),
    "FIONBIO": (0x5421, "in", INT), "TIOCGSID": (0x5429, "out", INT),
    "FIONCLEX": (0x5450, "none", None), "FIOCLEX": (0x5451, "none", None),
}


class Family:
    """One ABI family: everything a syscall handler needs to know about the guest's
    binary interface.  Attribute per struct name, plus flag and ioctl tables."""

    def __init__(self, name, structs, open_flags, ioctls):
        self.name = name
        self.__dict__.update(structs)
        self.structs = structs
        self.open_flags = open_flags
        self.ioctls = ioctls
        self.ioctl_by_nr = {nr: (name,) + tuple(rest) for name, (nr, *rest) in ioctls.items()}
        self.oflags_identity = True
        self._to_host = []

    def link_host(self, host):
        """Precompute the open-flag translation against the host's family."""
        self.oflags_identity = host.open_flags == self.open_flags
        self._to_host = [(self.open_flags[k], host.open_flags[k])
                         for k in self.open_flags if k in host.open_flags]

    def oflags_to_host(self, flags):
        if self.oflags_identity:
            return flags
        out = flags & 3
        for g, h in self._to_host:
            if flags & g:
                out |= h
        return out

    def oflags_to_guest(self, flags):
        if self.oflags_identity:
            return flags
        out = flags & 3
        for g, h in self._to_host:
            if flags & h:
                out |= g
        return out


_COMMON = dict(stat=STAT_GENERIC64, statx=STATX, statfs=STATFS64, timespec=TIMESPEC,
               timeval=TIMEVAL, timezone=TIMEZONE, rusage=RUSAGE, utsname=UTSNAME,
               sysinfo=SYSINFO, rlimit=RLIMIT, tms=TMS, iovec=IOVEC, dirent64=DIRENT64,
               flock=FLOCK, termios=TERMIOS, winsize=WINSIZE)

_MACHINE = os.uname().machine
HOST_FAMILY = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "generic64"}.get(_MACHINE, "x86_64")

FAMILIES = {}
FAMILIES["x86_64"] = Family("x86_64", {**_COMMON, "stat": STAT_X86_64}, OPEN_FLAGS_GENERIC, IOCTLS_GENERIC)
FAMILIES["generic64"] = Family("generic64", dict(_COMMON), OPEN_FLAGS_GENERIC, IOCTLS_GENERIC)
FAMILIES["aarch64"] = Family("aarch64", dict(_COMMON), OPEN_FLAGS_AARCH64, IOCTLS_GENERIC)
HOST = FAMILIES[HOST_FAMILY]
for _f in FAMILIES.values():
    _f.link_host(HOST)


def family(proc):
    """The guest's ABI family (cached on the arch object's `abi` name)."""
    return FAMILIES[getattr(proc.arch, "abi", "generic64")]


# --- the host kernel ---------------------------------------------------------------
HOST_NR_X86_64 = dict(
    read=0, write=1, close=3, fstat=5, lseek=8, ioctl=16, pread64=17, pwrite64=18, readv=19,
    writev=20, sched_yield=24, dup=32, dup2=33, nanosleep=35, sendfile=40, fcntl=72, flock=73,
    fsync=74, fdatasync=75, truncate=76, ftruncate=77, getcwd=79, chdir=80, fchdir=81,
    fchmod=91, fchown=93, umask=95, gettimeofday=96, getrusage=98, sysinfo=99, times=100,
    setpgid=109, getppid=110, setsid=112, getpgid=121, getsid=124, personality=135,
    statfs=137, fstatfs=138, prctl=157, sync=162, gettid=186, time=201,
    sched_getaffinity=204, getdents64=217, fadvise64=221, clock_gettime=228,
    clock_getres=229, clock_nanosleep=230, openat=257, mkdirat=258, fchownat=260,
    newfstatat=262, unlinkat=263, renameat=264, linkat=265, symlinkat=266, readlinkat=267,
    fchmodat=268, faccessat=269, utimensat=280, dup3=292, pipe2=293, preadv=295, pwritev=296,
    prlimit64=302, getcpu=309, renameat2=316, getrandom=318, memfd_create=319,
    copy_file_range=326, preadv2=327, pwritev2=328, statx=332, close_range=436,
    faccessat2=439, fchmodat2=452, mknodat=259, fallocate=285, syncfs=306, sync_file_range=277,
    getgroups=115, getresuid=118, getresgid=120, pipe=22,
    getpriority=140, setpriority=141, sched_setaffinity=203, sched_getparam=143,
    sched_setparam=142, sched_getscheduler=145, sched_setscheduler=144, sched_get_priority_max=146,
    sched_get_priority_min=147, sched_rr_get_interval=148, ioprio_set=251, ioprio_get=252,
    socket=41, connect=42, accept=43, sendto=44, recvfrom=45, sendmsg=46, recvmsg=47, shutdown=48,
    bind=49, listen=50, getsockname=51, getpeername=52, socketpair=53, setsockopt=54, getsockopt=55,
    accept4=288, recvmmsg=299, sendmmsg=307)
HOST_NR_X86_64.update(                   # event fds, splice, memory locking, credentials (issue 10)
    epoll_create1=291, epoll_ctl=233, epoll_pwait=281, eventfd2=290, timerfd_create=283,
    timerfd_settime=286, timerfd_gettime=287, inotify_init1=294, inotify_add_watch=254,
    inotify_rm_watch=255, splice=275, tee=276, vmsplice=278, readahead=187, mlock=149, munlock=150,
    mincore=27, membarrier=324, syslog=103, setuid=105, setgid=106, setreuid=113, setregid=114,
    setgroups=116, setresuid=117, setresgid=119, setfsuid=122, setfsgid=123,
    name_to_handle_at=303, open_by_handle_at=304)
HOST_NR_X86_64.update(                   # extended attributes
    setxattr=188, lsetxattr=189, fsetxattr=190, getxattr=191, lgetxattr=192, fgetxattr=193,
    listxattr=194, llistxattr=195, flistxattr=196, removexattr=197, lremovexattr=198,
    fremovexattr=199)
HOST_NR_X86_64.update(                   # interruptible waits, signals (issue 10 part A)
    wait4=61, waitid=247, rt_sigtimedwait=128, tgkill=234, getitimer=36, setitimer=38,
    rt_sigqueueinfo=129, rt_tgsigqueueinfo=297, kcmp=312)

HOST_NR = HOST_NR_X86_64 if _MACHINE == "x86_64" else {n: k for k, n in GENERIC.items()}

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _arg(a):
    if isinstance(a, int):
        if a >= 1 << 63:
            a -= 1 << 64
        return ctypes.c_long(a)
    return a                      # bytes, None, ctypes buffers and pointers


def host_syscall(name, *args):
    """Run host syscall `name`; returns its non-negative result or raises OSError."""
    r = _syscall(ctypes.c_long(HOST_NR[name]), *[_arg(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def buf(n):
    """A zeroed host buffer of n bytes for host_syscall output arguments."""
    return ctypes.create_string_buffer(max(n, 1))


def s32(x):
    """Low 32 bits of a register as a signed int (fds, int arguments)."""
    x &= 0xffffffff
    return x - (1 << 32) if x & 0x80000000 else x


def s64(x):
    x &= 0xffffffffffffffff
    return x - (1 << 64) if x >> 63 else x


AT_FDCWD = -100
EFAULT = errno.EFAULT
