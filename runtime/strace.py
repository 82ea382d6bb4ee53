"""`-strace` lines in the shape QEMU linux-user prints them.

    1234 openat(AT_FDCWD,"/etc/passwd",O_RDONLY|O_CLOEXEC) = 3
    1234 read(3,0x7ffc1000,832) = 832
    1234 mmap(NULL,4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = 0x0000004000802000
    1234 openat(AT_FDCWD,"/nonexistent",O_RDONLY) = -1 errno=2 (No such file or directory)
    1234 exit_group(0)

Arguments are described per syscall in one table, `SIGNATURES` (name -> argument
kinds); each kind is one formatter.  Calls missing from the table print all six
registers in decimal, as QEMU does for calls it has no format for.  Lines are
returned without the trailing newline.
"""
import os

from . import abi

# --- symbolic tables ---------------------------------------------------------------------
PROT = [("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4), ("PROT_GROWSDOWN", 0x01000000),
        ("PROT_GROWSUP", 0x02000000)]
MAP_TYPE = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}
MAP_FLAGS = [("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_GROWSDOWN", 0x100),
             ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000),
             ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000), ("MAP_NONBLOCK", 0x10000),
             ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000), ("MAP_SYNC", 0x80000),
             ("MAP_FIXED_NOREPLACE", 0x100000)]
AT_FLAGS = [("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_REMOVEDIR", 0x200), ("AT_SYMLINK_FOLLOW", 0x400),
            ("AT_NO_AUTOMOUNT", 0x800), ("AT_EMPTY_PATH", 0x1000), ("AT_STATX_FORCE_SYNC", 0x2000),
            ("AT_STATX_DONT_SYNC", 0x4000), ("AT_RECURSIVE", 0x8000)]
ACCESS = [("R_OK", 4), ("W_OK", 2), ("X_OK", 1)]
CLOCKS = ["CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
          "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
          "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", None, "CLOCK_TAI"]
SIGNALS = [None, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
           "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
           "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
           "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"]
WHENCE = ["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"]
FCNTL = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
         6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG",
         36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE",
         1025: "F_GETLEASE", 1026: "F_NOTIFY", 1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ",
         1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS"}
FCNTL_NOARG = {1, 3, 9, 11, 1025, 1032, 1034}
GRND = [("GRND_NONBLOCK", 1), ("GRND_RANDOM", 2), ("GRND_INSECURE", 4)]
PRCTL = {1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
         15: "PR_SET_NAME", 16: "PR_GET_NAME", 21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP",
         36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER", 38: "PR_SET_NO_NEW_PRIVS",
         39: "PR_GET_NO_NEW_PRIVS", 0x53564d41: "PR_SET_VMA"}
SIGPROCMASK = ["SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"]
RLIMITS = ["RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
           "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
           "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"]
FUTEX_OPS = ["FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE", "FUTEX_CMP_REQUEUE",
             "FUTEX_WAKE_OP", "FUTEX_LOCK_PI", "FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI",
             "FUTEX_WAIT_BITSET", "FUTEX_WAKE_BITSET", "FUTEX_WAIT_REQUEUE_PI",
             "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2"]
CLONE_FLAGS = [("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400),
               ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000),
               ("CLONE_VFORK", 0x4000), ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000),
               ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000), ("CLONE_SETTLS", 0x80000),
               ("CLONE_PARENT_SETTID", 0x100000), ("CLONE_CHILD_CLEARTID", 0x200000),
               ("CLONE_DETACHED", 0x400000), ("CLONE_UNTRACED", 0x800000),
               ("CLONE_CHILD_SETTID", 0x1000000)]


def _s32(x):
    return abi.s32(x)


def _s64(x):
    return abi.s64(x)


def _bits(v, table, zero="0"):
    names = []
    for name, bit in table:
        if v & bit == bit and bit:
            names.append(name)
            v &= ~bit
    if v:
        names.append(f"{v:#x}")
    return "|".join(names) if names else zero


def _named(v, names, fmt=str):
    return names[v] if 0 <= v < len(names) and names[v] else fmt(v)


def _escape(b, limit=4096):
    out = []
    for c in b[:limit]:
        ch = chr(c)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 32 <= c < 127:
            out.append(ch)
        else:
            out.append({10: "\\n", 9: "\\t", 13: "\\r"}.get(c, f"\\{c:03o}"))
    return '"' + "".join(out) + ('"...' if len(b) > limit else '"')


# --- formatters: f(proc, value, args) -> str, or None to leave the argument out ---------
def f_ptr(proc, v, args):
    return "NULL" if v == 0 else f"0x{v:016x}"


def f_buf(proc, v, args):
    return f"{v:#x}"


def f_str(proc, v, args):
    if v == 0:
        return "NULL"
    try:
        return _escape(proc.mem.read_cstr(v, 4097))
    except Exception:          # unreadable: show the pointer
        return f"0x{v:016x}"


def f_argv(proc, v, args):
    if v == 0:
        return "NULL"
    items = []
    try:
        for i in range(64):
            p = int.from_bytes(proc.mem.read(v + 8 * i, 8), "little")
            if p == 0:
                items.append("NULL")
                break
            items.append(f_str(proc, p, args))
        else:
            items.append("...")
    except Exception:
        return f"0x{v:016x}"
    return "{" + ",".join(items) + "}"


def f_oflags(proc, v, args):
    v &= 0xffffffff
    fam = abi.family(proc)
    acc = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}.get(v & 3, "O_ACCMODE")
    table = [(n.lstrip("_"), b) for n, b in fam.open_flags.items() if n not in ("O_WRONLY", "O_RDWR")]
    rest = _bits(v & ~3, table, "")
    return acc + ("|" + rest if rest else "")


def f_fdflags(proc, v, args):
    """O_CLOEXEC-style flags of dup3/pipe2: no access mode, 0 stays 0."""
    fam = abi.family(proc)
    table = [(n.lstrip("_"), b) for n, b in fam.open_flags.items() if n not in ("O_WRONLY", "O_RDWR")]
    return _bits(v & 0xffffffff, table)


def f_omode(proc, v, args):
    """openat's mode: only when O_CREAT or O_TMPFILE (args[2] holds the flags)."""
    fam = abi.family(proc)
    fl = args[2]
    if fl & fam.open_flags["O_CREAT"] or fl & fam.open_flags["__O_TMPFILE"]:
        return f_mode(proc, v, args)
    return None


def f_mode(proc, v, args):
    return f"0{v & 0xffffffff:o}" if v & 0xffffffff else "0"


SIMPLE = {
    "int": lambda proc, v, a: str(_s32(v)),
    "fd": lambda proc, v, a: str(_s32(v)),
    "long": lambda proc, v, a: str(_s64(v)),
    "ulong": lambda proc, v, a: str(v),
    "hex": lambda proc, v, a: f"{v:#x}",
    "dirfd": lambda proc, v, a: "AT_FDCWD" if _s32(v) == -100 else str(_s32(v)),
    "ptr": f_ptr, "buf": f_buf, "str": f_str, "path": f_str, "argv": f_argv,
    "oflags": f_oflags, "omode": f_omode, "mode": f_mode,
    "prot": lambda proc, v, a: _bits(v, PROT, "PROT_NONE"),
    "mflags": lambda proc, v, a: "|".join(
        [MAP_TYPE.get(v & 3, f"{v & 3:#x}")] + ([_bits(v & ~0xf, MAP_FLAGS)] if v & ~0xf else [])),
    "atflags": lambda proc, v, a: _bits(v & 0xffffffff, AT_FLAGS),
    "access": lambda proc, v, a: _bits(v & 0xffffffff, ACCESS, "F_OK"),
    "clock": lambda proc, v, a: _named(_s32(v), CLOCKS),
    "sig": lambda proc, v, a: _named(_s32(v), SIGNALS),
    "whence": lambda proc, v, a: _named(_s32(v), WHENCE),
    "fcntl": lambda proc, v, a: FCNTL.get(_s32(v), str(_s32(v))),
    "fcntlarg": lambda proc, v, a: None if _s32(a[1]) in FCNTL_NOARG else str(_s64(v)),
    "ioctl": lambda proc, v, a: abi.family(proc).ioctl_by_nr.get(v & 0xffffffff, (f"{v:#x}",))[0],
    "fdflags": f_fdflags,
    "grnd": lambda proc, v, a: _bits(v & 0xffffffff, GRND),
    "prctl": lambda proc, v, a: PRCTL.get(_s32(v), str(_s32(v))),
    "how": lambda proc, v, a: _named(_s32(v), SIGPROCMASK),
    "rlimit": lambda proc, v, a: _named(_s32(v), RLIMITS),
    "futex": lambda proc, v, a: _named(_s32(v) & 0x7f, FUTEX_OPS) +
    ("|FUTEX_PRIVATE_FLAG" if v & 128 else "") + ("|FUTEX_CLOCK_REALTIME" if v & 256 else ""),
    "clone": lambda proc, v, a: _bits(v & ~0xff, CLONE_FLAGS, "") + (
        ("|" if v & ~0xff else "") + _named(v & 0xff, SIGNALS) if v & 0xff else ""),
}

# name -> argument kinds (space separated); ret 'ptr' marks calls returning addresses.
SIGNATURES = {
    # fs
    "read": "fd buf ulong", "write": "fd buf ulong", "readv": "fd ptr int", "writev": "fd ptr int",
    "pread64": "fd buf ulong long", "pwrite64": "fd buf ulong long",
    "preadv": "fd ptr int long", "pwritev": "fd ptr int long",
    "preadv2": "fd ptr int long long hex", "pwritev2": "fd ptr int long long hex",
    "openat": "dirfd path oflags omode", "open": "path oflags omode", "close": "fd",
    "close_range": "int int hex",
    "lseek": "fd long whence", "newfstatat": "dirfd path ptr atflags", "fstat": "fd ptr",
    "statx": "dirfd path atflags hex ptr", "faccessat": "dirfd path access",
    "faccessat2": "dirfd path access atflags", "readlinkat": "dirfd path ptr int",
    "getdents64": "fd buf int", "ioctl": "fd ioctl ptr", "fcntl": "fd fcntl fcntlarg",
    "dup": "fd", "dup2": "fd fd", "dup3": "fd fd fdflags", "pipe2": "ptr fdflags", "pipe": "ptr",
    "getcwd": "buf ulong", "chdir": "path", "fchdir": "fd", "mkdirat": "dirfd path mode",
    "mknodat": "dirfd path mode hex", "unlinkat": "dirfd path atflags",
    "renameat": "dirfd path dirfd path", "renameat2": "dirfd path dirfd path hex",
    "symlinkat": "path dirfd path", "linkat": "dirfd path dirfd path atflags",
    "fchmod": "fd mode", "fchmodat": "dirfd path mode", "fchmodat2": "dirfd path mode atflags",
    "setxattr": "path str ptr ulong hex", "lsetxattr": "path str ptr ulong hex",
    "fsetxattr": "fd str ptr ulong hex", "getxattr": "path str ptr ulong",
    "lgetxattr": "path str ptr ulong", "fgetxattr": "fd str ptr ulong", "listxattr": "path ptr ulong",
    "llistxattr": "path ptr ulong", "flistxattr": "fd ptr ulong", "removexattr": "path str",
    "lremovexattr": "path str", "fremovexattr": "fd str",
    "fchown": "fd int int", "fchownat": "dirfd path int int atflags",
    "truncate": "path long", "ftruncate": "fd long", "fsync": "fd", "fdatasync": "fd",
    "syncfs": "fd", "sync": "", "statfs": "path ptr", "fstatfs": "fd ptr",
    "utimensat": "dirfd path ptr atflags", "umask": "mode", "sendfile": "fd fd ptr ulong",
    "copy_file_range": "fd ptr fd ptr ulong hex", "fadvise64": "fd long long int",
    "fallocate": "fd int long long", "sync_file_range": "fd long long hex",
    # mm
    "brk": "ptr", "mmap": "ptr ulong prot mflags fd long", "munmap": "ptr ulong",
    "mprotect": "ptr ulong prot", "mremap": "ptr ulong ulong hex ptr", "madvise": "ptr ulong int",
    "msync": "ptr ulong hex", "mlock": "ptr ulong", "munlock": "ptr ulong", "mincore": "ptr ulong ptr",
    # proc
    "exit": "int", "exit_group": "int", "uname": "buf", "getpid": "", "getppid": "", "gettid": "",
    "getuid": "", "geteuid": "", "getgid": "", "getegid": "", "getresuid": "ptr ptr ptr",
    "getresgid": "ptr ptr ptr", "getgroups": "int ptr", "setpgid": "int int", "getpgid": "int",
    "getsid": "int", "setsid": "", "getrandom": "buf ulong grnd",
    "prlimit64": "int rlimit ptr ptr", "getrlimit": "rlimit ptr", "setrlimit": "rlimit ptr",
    "set_tid_address": "ptr", "set_robust_list": "ptr ulong", "get_robust_list": "int ptr ptr",
    "sched_getaffinity": "int ulong ptr", "sched_yield": "", "sysinfo": "ptr",
    "getrusage": "int ptr", "times": "ptr", "prctl": "prctl hex hex hex hex",
    "getcpu": "ptr ptr ptr", "personality": "hex",
    "execve": "path argv ptr", "wait4": "int ptr hex ptr", "clone": "clone ptr ptr ptr ptr",
    "clone3": "ptr ulong", "futex": "ptr futex int ptr ptr int", "rseq": "ptr int hex hex",
    "riscv_hwprobe": "ptr ulong ulong ptr hex", "riscv_flush_icache": "ptr ptr hex",
    # time
    "clock_gettime": "clock ptr", "clock_getres": "clock ptr", "gettimeofday": "ptr ptr",
    "nanosleep": "ptr ptr", "clock_nanosleep": "clock hex ptr ptr", "time": "ptr",
    # signals
    "rt_sigaction": "sig ptr ptr ulong", "rt_sigprocmask": "how ptr ptr ulong", "rt_sigreturn": "",
    "sigaltstack": "ptr ptr", "kill": "int sig", "tkill": "int sig", "tgkill": "int int sig",
    "rt_sigsuspend": "ptr ulong", "rt_sigpending": "ptr ulong",
    # net
    "socket": "int int int", "connect": "fd ptr int", "bind": "fd ptr int", "listen": "fd int",
    "accept": "fd ptr ptr", "accept4": "fd ptr ptr hex", "sendto": "fd buf ulong hex ptr int",
    "recvfrom": "fd buf ulong hex ptr ptr", "shutdown": "fd int",
}
# event fds, splice, locks, memory locking, credentials (issue 10 part C)
EPOLL_OPS = {1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}
EPOLL_EVENTS = [("EPOLLIN", 0x1), ("EPOLLPRI", 0x2), ("EPOLLOUT", 0x4), ("EPOLLERR", 0x8),
                ("EPOLLHUP", 0x10), ("EPOLLNVAL", 0x20), ("EPOLLRDNORM", 0x40), ("EPOLLRDBAND", 0x80),
                ("EPOLLWRNORM", 0x100), ("EPOLLWRBAND", 0x200), ("EPOLLMSG", 0x400),
                ("EPOLLRDHUP", 0x2000), ("EPOLLEXCLUSIVE", 1 << 28), ("EPOLLWAKEUP", 1 << 29),
                ("EPOLLONESHOT", 1 << 30), ("EPOLLET", 1 << 31)]
IN_MASK = [("IN_ACCESS", 0x1), ("IN_MODIFY", 0x2), ("IN_ATTRIB", 0x4), ("IN_CLOSE_WRITE", 0x8),
           ("IN_CLOSE_NOWRITE", 0x10), ("IN_OPEN", 0x20), ("IN_MOVED_FROM", 0x40), ("IN_MOVED_TO", 0x80),
           ("IN_CREATE", 0x100), ("IN_DELETE", 0x200), ("IN_DELETE_SELF", 0x400), ("IN_MOVE_SELF", 0x800),
           ("IN_ONLYDIR", 0x01000000), ("IN_DONT_FOLLOW", 0x02000000), ("IN_EXCL_UNLINK", 0x04000000),
           ("IN_MASK_CREATE", 0x10000000), ("IN_MASK_ADD", 0x20000000), ("IN_ONESHOT", 0x80000000)]
LOCK_OPS = [("LOCK_SH", 1), ("LOCK_EX", 2), ("LOCK_NB", 4), ("LOCK_UN", 8)]
MFD_FLAGS = [("MFD_CLOEXEC", 1), ("MFD_ALLOW_SEALING", 2), ("MFD_HUGETLB", 4), ("MFD_NOEXEC_SEAL", 8),
             ("MFD_EXEC", 0x10)]
SPLICE_FLAGS = [("SPLICE_F_MOVE", 1), ("SPLICE_F_NONBLOCK", 2), ("SPLICE_F_MORE", 4), ("SPLICE_F_GIFT", 8)]
TFD_SETTIME = [("TFD_TIMER_ABSTIME", 1), ("TFD_TIMER_CANCEL_ON_SET", 2)]
MCL_FLAGS = [("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4)]
MEMBARRIER = {0: "MEMBARRIER_CMD_QUERY", 1: "MEMBARRIER_CMD_GLOBAL", 2: "MEMBARRIER_CMD_GLOBAL_EXPEDITED",
              4: "MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED", 8: "MEMBARRIER_CMD_PRIVATE_EXPEDITED",
              16: "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED",
              32: "MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE",
              64: "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE",
              128: "MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ", 256: "MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ",
              512: "MEMBARRIER_CMD_GET_REGISTRATIONS"}


def _fd_flag_kind(prefix, extra=()):
    """Flags that are O_CLOEXEC/O_NONBLOCK under another name (EFD_CLOEXEC, ...)."""
    def f(proc, v, a):
        of = abi.family(proc).open_flags
        return _bits(v & 0xffffffff, list(extra) + [(prefix + "_NONBLOCK", of["O_NONBLOCK"]),
                                                    (prefix + "_CLOEXEC", of["O_CLOEXEC"])])
    return f


def f_epoll_event(proc, v, args):
    """epoll_ctl's event: {events=EPOLLIN|...,data=0x...} (the guest's layout)."""
    if v == 0:
        return "NULL"
    from .sys_events import EPOLL_EVENT
    st = EPOLL_EVENT[abi.family(proc).name]
    try:
        e = st.unpack(proc.mem.read(v, st.size))
    except Exception:          # unreadable: show the pointer
        return f"0x{v:016x}"
    return "{events=" + _bits(e["events"], EPOLL_EVENTS) + f",data={e['data']:#x}" + "}"


SIMPLE.update({
    "uint": lambda proc, v, a: str(v & 0xffffffff),
    "epollevent": f_epoll_event,
    "epollflags": _fd_flag_kind("EPOLL"),
    "epollop": lambda proc, v, a: EPOLL_OPS.get(_s32(v), str(_s32(v))),
    "efdflags": _fd_flag_kind("EFD", [("EFD_SEMAPHORE", 1)]),
    "tfdflags": _fd_flag_kind("TFD"),
    "tfdsettime": lambda proc, v, a: _bits(v & 0xffffffff, TFD_SETTIME),
    "inflags": _fd_flag_kind("IN"),
    "inmask": lambda proc, v, a: _bits(v & 0xffffffff, IN_MASK),
    "lockop": lambda proc, v, a: _bits(v & 0xffffffff, LOCK_OPS),
    "mfdflags": lambda proc, v, a: _bits(v & 0xffffffff, MFD_FLAGS),
    "spliceflags": lambda proc, v, a: _bits(v & 0xffffffff, SPLICE_FLAGS),
    "mclflags": lambda proc, v, a: _bits(v & 0xffffffff, MCL_FLAGS),
    "membarrier": lambda proc, v, a: MEMBARRIER.get(_s32(v), str(_s32(v))),
})
SIGNATURES.update({
    "epoll_create1": "epollflags", "epoll_ctl": "fd epollop fd epollevent",
    "epoll_pwait": "fd ptr int int ptr ulong", "epoll_pwait2": "fd ptr int ptr ptr ulong",
    "eventfd2": "uint efdflags", "timerfd_create": "clock tfdflags",
    "timerfd_settime": "fd tfdsettime ptr ptr", "timerfd_gettime": "fd ptr",
    "inotify_init1": "inflags", "inotify_add_watch": "fd path inmask", "inotify_rm_watch": "fd int",
    "splice": "fd ptr fd ptr ulong spliceflags", "tee": "fd fd ulong spliceflags",
    "vmsplice": "fd ptr ulong spliceflags", "readahead": "fd long ulong",
    "flock": "fd lockop", "memfd_create": "str mfdflags",
    "mlock2": "ptr ulong hex", "mlockall": "mclflags", "munlockall": "",
    "membarrier": "membarrier hex int", "syslog": "int ptr int",
    "setuid": "uint", "setgid": "uint", "setfsuid": "uint", "setfsgid": "uint",
    "setreuid": "int int", "setregid": "int int", "setresuid": "int int int", "setresgid": "int int int",
    "setgroups": "int ptr", "name_to_handle_at": "dirfd path ptr ptr atflags",
    "open_by_handle_at": "fd ptr oflags",
})
# sockets: formatters and signatures live with the socket code
from .socket_strace import KINDS as _SOCKET_KINDS, SIGNATURES as _SOCKET_SIGNATURES  # noqa: E402
SIMPLE.update(_SOCKET_KINDS)
SIGNATURES.update(_SOCKET_SIGNATURES)
# timers, waiting for signals (issue 10 part A)
ITIMERS = ["ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"]
SIGEV = {0: "SIGEV_SIGNAL", 1: "SIGEV_NONE", 2: "SIGEV_THREAD", 4: "SIGEV_THREAD_ID"}
SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
            -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}


def _guest_struct(fmt, fn):
    """A formatter reading struct `fmt` at the argument (NULL; the pointer when unreadable)."""
    import struct

    def f(proc, v, a):
        if v == 0:
            return "NULL"
        try:
            return fn(struct.unpack(fmt, proc.mem.read(v, struct.calcsize(fmt))))
        except Exception:          # unreadable: show the pointer
            return f"0x{v:016x}"
    return f


def _sig_name(n):
    return SIGNALS[n] if 0 < n < len(SIGNALS) else str(n)


SIMPLE.update({
    "itimer": lambda proc, v, a: _named(_s32(v), ITIMERS),
    "itimerval": _guest_struct("<qqqq", lambda t: "{it_interval={tv_sec = %d,tv_usec = %d},"
                                                  "it_value={tv_sec = %d,tv_usec = %d},}" % t),
    "itimerspec": _guest_struct("<qqqq", lambda t: "{it_interval={tv_sec = %d,tv_nsec = %d},"
                                                   "it_value={tv_sec = %d,tv_nsec = %d},}" % t),
    "sigevent": _guest_struct("<Qiii", lambda t: "{sigev_value=%#x,sigev_signo=%s,sigev_notify=%s%s}" % (
        t[0], _sig_name(t[1]), SIGEV.get(t[2], str(t[2])), f",sigev_notify_thread_id={t[3]}" if t[2] == 4 else "")),
    "timerflags": lambda proc, v, a: "TIMER_ABSTIME" if v & 0xffffffff == 1 else str(_s32(v)),
    "siginfo": _guest_struct("<iiiiiIQ", lambda t: "{si_signo=%s, si_code=%s, si_pid=%d, si_uid=%d%s}" % (
        _sig_name(t[0]), SI_CODES.get(t[2], str(t[2])), t[4], t[5],
        ", si_sigval=%d" % abi.s64(t[6]) if t[2] == -1 else "")),     # (the value only with SI_QUEUE, as QEMU)
    "sfdflags": _fd_flag_kind("SFD"),
})
SIGNATURES.update({
    "setitimer": "itimer itimerval ptr", "getitimer": "itimer ptr",
    "timer_create": "clock sigevent ptr", "timer_settime": "int timerflags itimerspec ptr",
    "timer_gettime": "int ptr", "timer_getoverrun": "int", "timer_delete": "int",
    "rt_sigtimedwait": "ptr ptr ptr ulong", "rt_sigqueueinfo": "int sig siginfo",
    "rt_tgsigqueueinfo": "int int sig siginfo", "signalfd4": "fd ptr ulong sfdflags", "pause": "",
})
_PARSED = {}
RET_PTR = {"brk", "mmap", "mremap", "shmat"}


def _kinds(name):
    k = _PARSED.get(name)
    if k is None:
        k = _PARSED[name] = tuple(SIMPLE[s] for s in SIGNATURES[name].split())
    return k


def format_args(proc, name, args):
    args = list(args) + [0] * (6 - len(args))
    if name in SIGNATURES:
        out = []
        for f, v in zip(_kinds(name), args):
            s = f(proc, v, args)
            if s is not None:
                out.append(s)
    else:
        out = [str(_s64(v)) for v in args[:6]]
    return ",".join(out)


def format_enter(proc, name, args):
    """The call part, `PID name(args)`, for printing before a call that may not return."""
    return f"{getattr(proc, 'pid', os.getpid())} {name}({format_args(proc, name, args)})"


def format_ret(name, ret):
    """` = value` or ` = -1 errno=N (text)`; empty for a call that did not return."""
    if ret is None:
        return ""
    if -4096 < ret < 0:
        return f" = -1 errno={-ret} ({os.strerror(-ret)})"
    if name in RET_PTR:
        return f" = 0x{ret & 0xffffffffffffffff:016x}"
    return f" = {ret}"


def format_call(proc, name, args, ret):
    """One strace line (no newline); `ret` None: the call does not return."""
    return format_enter(proc, name, args) + format_ret(name, ret)


def format_unimp(nr, name=None):
    """The `-d unimp` line for an unimplemented syscall (no newline)."""
    return f"Unsupported syscall: {nr}" + (f" ({name})" if name else "")
