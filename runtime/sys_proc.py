"""Process identity, limits and housekeeping syscalls.

Identity is the host's (pid, uids, groups, session) except what pydbt owns:
`proc.pid`, the thread name (`proc.comm`), and the resource limits that would constrain pydbt itself
if passed to the host (RLIMIT_STACK, RLIMIT_AS, RLIMIT_DATA are virtual, as in
QEMU; the stack limit reports `proc.stack_size` when set).
"""
import errno
import os

from . import abi
from . import identity
from . import sys_time
from .abi import host_syscall as hsys, buf, s32
from .syscalls import syscall
from .memory import W

RLIMIT_DATA, RLIMIT_STACK, RLIMIT_AS = 2, 3, 9
RLIM_INFINITY = (1 << 64) - 1
VIRTUAL_RLIMITS = (RLIMIT_DATA, RLIMIT_STACK, RLIMIT_AS)

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_GET_SECCOMP = 21
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
TASK_COMM_LEN = 16


def _err(e):
    return OSError(e, os.strerror(e))


def _put_u32s(proc, *pairs):
    for addr, v in pairs:
        if addr:
            proc.mem.write(addr, (v & 0xffffffff).to_bytes(4, "little"))


# --- identity ------------------------------------------------------------------------
@syscall("uname")
def sys_uname(proc, addr):
    u = os.uname()
    try:
        with open("/proc/sys/kernel/domainname", "rb") as f:
            domain = f.read().strip()
    except OSError:
        domain = b"(none)"
    st = abi.family(proc).utsname
    release = proc.uname_release or u.release
    proc.mem.write(addr, st.pack(
        sysname=u.sysname.encode()[:64], nodename=u.nodename.encode()[:64],
        release=os.fsencode(release)[:64], version=u.version.encode()[:64],
        machine=proc.arch.uname_machine.encode()[:64], domainname=domain[:64]))
    return 0


@syscall("getpid")
def sys_getpid(proc):
    return proc.pid


@syscall("getppid")
def sys_getppid(proc):
    return os.getppid()


@syscall("getuid")
def sys_getuid(proc):
    return os.getuid()


@syscall("geteuid")
def sys_geteuid(proc):
    return os.geteuid()


@syscall("getgid")
def sys_getgid(proc):
    return os.getgid()


@syscall("getegid")
def sys_getegid(proc):
    return os.getegid()


@syscall("getresuid")
def sys_getresuid(proc, ruid, euid, suid):
    r, e, s = os.getresuid()
    _put_u32s(proc, (ruid, r), (euid, e), (suid, s))
    return 0


@syscall("getresgid")
def sys_getresgid(proc, rgid, egid, sgid):
    r, e, s = os.getresgid()
    _put_u32s(proc, (rgid, r), (egid, e), (sgid, s))
    return 0


@syscall("getgroups")
def sys_getgroups(proc, size, addr):
    size = s32(size)
    groups = os.getgroups()
    if size < 0:
        raise _err(errno.EINVAL)
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise _err(errno.EINVAL)
    proc.mem.write(addr, b"".join((g & 0xffffffff).to_bytes(4, "little") for g in groups))
    return len(groups)


@syscall("setpgid")
def sys_setpgid(proc, pid, pgid):
    os.setpgid(s32(pid), s32(pgid))
    return 0


@syscall("getpgid")
def sys_getpgid(proc, pid):
    return os.getpgid(s32(pid))


@syscall("getsid")
def sys_getsid(proc, pid):
    return os.getsid(s32(pid))


@syscall("setsid")
def sys_setsid(proc):
    return hsys("setsid")


# --- randomness ----------------------------------------------------------------------
GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4


@syscall("getrandom")
def sys_getrandom(proc, addr, count, flags):
    """Random bytes straight into guest memory, as many as the kernel gives in
    one call (MAX_RW_COUNT); with -seed, from the seeded generator in chunks."""
    from .sys_fs import host_span, wrote, MAX_RW_COUNT
    flags &= 0xffffffff
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) or \
            (flags & GRND_RANDOM and flags & GRND_INSECURE):
        raise _err(errno.EINVAL)
    rng = getattr(proc, "random", None)
    ptr, n = host_span(proc, addr, min(count, MAX_RW_COUNT), W)   # (capped before access_ok)
    if rng is None:
        r = hsys("getrandom", ptr, n, flags)
        wrote(proc, addr, r)
        return r
    if n == 0:
        return 0
    if ptr in (0, None) or ptr < 0:
        raise _err(errno.EFAULT)
    for at in range(addr, addr + n, 1 << 20):
        proc.mem.write(at, rng.randbytes(min(1 << 20, addr + n - at)))
    return n


# --- limits ----------------------------------------------------------------------------
def _rlimits(proc):
    """The virtual limits (a dict resource -> (cur, max)), kept on proc."""
    d = getattr(proc, "rlimits", None)
    if d is None:
        d = {}
        try:
            proc.rlimits = d
        except AttributeError:
            pass
    return d


def _get_rlimit(proc, res):
    virt = _rlimits(proc)
    if res in virt:
        return virt[res]
    hb = buf(16)
    hsys("prlimit64", 0, res, None, hb)
    cur, mx = abi.HOST.rlimit.st.unpack(hb.raw[:16])
    if res == RLIMIT_STACK and getattr(proc, "stack_size", None):
        cur = proc.stack_size
    return cur, mx


def _set_rlimit(proc, res, cur, mx):
    if cur != RLIM_INFINITY and mx != RLIM_INFINITY and cur > mx:
        raise _err(errno.EINVAL)
    if res in VIRTUAL_RLIMITS:
        _, old_max = _get_rlimit(proc, res)
        if mx > old_max and os.geteuid() != 0:
            raise _err(errno.EPERM)
        _rlimits(proc)[res] = (cur, mx)
        return
    hsys("prlimit64", 0, res, abi.HOST.rlimit.pack(rlim_cur=cur, rlim_max=mx), None)


def _is_self(proc, pid):
    pid = s32(pid)
    return pid == 0 or pid == proc.pid


@syscall("prlimit64")
def sys_prlimit64(proc, pid, resource, new, old):
    res = resource & 0xffffffff
    st = abi.family(proc).rlimit
    if not _is_self(proc, pid):
        hb = buf(16) if old else None
        hn = abi.convert(proc.mem.read(new, st.size), st, abi.HOST.rlimit) if new else None
        r = hsys("prlimit64", s32(pid), res, hn, hb)
        if old:
            proc.mem.write(old, abi.convert(hb.raw, abi.HOST.rlimit, st))
        return r
    if res >= 16:
        raise _err(errno.EINVAL)
    newval = st.unpack(proc.mem.read(new, st.size)) if new else None
    if old:
        cur, mx = _get_rlimit(proc, res)
        proc.mem.write(old, st.pack(rlim_cur=cur, rlim_max=mx))
    if newval is not None:
        _set_rlimit(proc, res, newval["rlim_cur"], newval["rlim_max"])
    return 0


@syscall("getrlimit")
def sys_getrlimit(proc, resource, addr):
    return sys_prlimit64(proc, 0, resource, 0, addr)


@syscall("setrlimit")
def sys_setrlimit(proc, resource, addr):
    return sys_prlimit64(proc, 0, resource, addr, 0)


# --- scheduling -----------------------------------------------------------------------------
@syscall("sched_getaffinity")
def sys_sched_getaffinity(proc, pid, size, addr):
    size = size & 0xffffffff
    if size > 1 << 16:
        size = 1 << 16
    pid = 0 if _is_self(proc, pid) else s32(pid)
    hb = buf(size)
    r = hsys("sched_getaffinity", pid, size, hb)
    proc.mem.write(addr, hb.raw[:r])
    return r


@syscall("sched_setaffinity")
def sys_sched_setaffinity(proc, pid, size, addr):
    size = min(size & 0xffffffff, 1 << 16)
    return hsys("sched_setaffinity", s32(pid), size, proc.mem.read(addr, size) if size else None)


# priorities and policies: the host's answers for the same thread (guest tids are
# host tids); these take only int arguments, passed on as they are
def _host_ints(name, n):
    def handler(proc, a, b, c):
        return hsys(name, *(s32(x) for x in (a, b, c)[:n]))
    handler.__name__ = f"sys_{name}"
    syscall(name)(handler)


for _name, _n in (("getpriority", 2), ("setpriority", 3), ("ioprio_get", 2), ("ioprio_set", 3),
                  ("sched_getscheduler", 1), ("sched_get_priority_max", 1), ("sched_get_priority_min", 1)):
    _host_ints(_name, _n)


@syscall("sched_getparam")
def sys_sched_getparam(proc, pid, addr):
    hb = buf(4)
    hsys("sched_getparam", s32(pid), hb)
    proc.mem.write(addr, hb.raw[:4])
    return 0


@syscall("sched_setparam")
def sys_sched_setparam(proc, pid, addr):
    return hsys("sched_setparam", s32(pid), proc.mem.read(addr, 4))


@syscall("sched_setscheduler")
def sys_sched_setscheduler(proc, pid, policy, addr):
    return hsys("sched_setscheduler", s32(pid), s32(policy), proc.mem.read(addr, 4))


@syscall("chroot")
def sys_chroot(proc, path):
    proc.mem.read_cstr(path)
    # pydbt cannot confine the guest's paths without confining itself: answer as
    # for an unprivileged process
    raise _err(errno.EPERM)


@syscall("sched_yield")
def sys_sched_yield(proc):
    os.sched_yield()
    return 0


@syscall("getcpu")
def sys_getcpu(proc, cpup, nodep, tcache):
    cb, nb = buf(4), buf(4)
    hsys("getcpu", cb, nb, None)
    if cpup:
        proc.mem.write(cpup, cb.raw[:4])
    if nodep:
        proc.mem.write(nodep, nb.raw[:4])
    return 0


# --- accounting ---------------------------------------------------------------------------
@syscall("sysinfo")
def sys_sysinfo(proc, addr):
    hb = buf(abi.HOST.sysinfo.size)
    hsys("sysinfo", hb)
    proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.sysinfo, abi.family(proc).sysinfo))
    return 0


@syscall("getrusage")
def sys_getrusage(proc, who, addr):
    hb = buf(abi.HOST.rusage.size)
    hsys("getrusage", s32(who), hb)
    if s32(who) == 0:                  # RUSAGE_SELF: the guest's (see sys_time.py)
        sys_time.rusage_without_own_threads(hb)
    proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.rusage, abi.family(proc).rusage))
    return 0


@syscall("times")
def sys_times(proc, addr):
    hb = buf(abi.HOST.tms.size)
    r = hsys("times", hb)
    sys_time.tms_without_own_threads(hb)       # (the guest's: see sys_time.py)
    if addr:
        proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.tms, abi.family(proc).tms))
    return r


# --- prctl / personality -----------------------------------------------------------------
def _comm_bytes(proc):
    c = getattr(proc, "comm", None)
    if not c:
        c = os.path.basename(str(getattr(proc, "exe_path", "")))
    if isinstance(c, str):
        c = os.fsencode(c)
    return c[:TASK_COMM_LEN - 1]


@syscall("prctl")
def sys_prctl(proc, option, arg2, arg3, arg4, arg5):
    option = s32(option)
    if option == PR_SET_NAME:
        from .sys_fs import guest_cstr
        name = guest_cstr(proc, arg2, TASK_COMM_LEN - 1)
        task = proc.task
        task.comm = name                 # (the calling thread's name; /proc/<pid>/comm is the leader's)
        if task is proc.leader:
            proc.comm = name
            identity.publish(proc)
        return 0
    if option == PR_GET_NAME:
        task = proc.task
        own = task.comm if task is not proc.leader else b""
        proc.mem.write(arg2, (own or _comm_bytes(proc)).ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option in (PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER,
                  PR_SET_NO_NEW_PRIVS, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP):
        return hsys("prctl", option, arg2, arg3, arg4, arg5)
    if option in (PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER):
        hb = buf(4)
        r = hsys("prctl", option, hb, 0, 0, 0)
        proc.mem.write(arg2, hb.raw[:4])
        return r
    raise _err(errno.EINVAL)


@syscall("personality")
def sys_personality(proc, persona):
    return hsys("personality", persona & 0xffffffff)


# --- credentials ---------------------------------------------------------------------------
# The host kernel answers for the guest: the guest's credentials are pydbt's host
# thread's (raw syscalls, per thread as in the kernel: the guest's libc makes
# them process-wide itself, as glibc does on Linux).  A successful setuid changes
# pydbt's own thread too, which is what the guest asked for.
NGROUPS_MAX = 65536


def _host_ids(name, n):
    def handler(proc, a, b, c):
        return hsys(name, *(x & 0xffffffff for x in (a, b, c)[:n]))
    handler.__name__ = f"sys_{name}"
    syscall(name)(handler)


for _name, _n in (("setuid", 1), ("setgid", 1), ("setreuid", 2), ("setregid", 2), ("setresuid", 3),
                  ("setresgid", 3), ("setfsuid", 1), ("setfsgid", 1)):
    _host_ids(_name, _n)


@syscall("setgroups")
def sys_setgroups(proc, size, addr):
    size = s32(size)
    if size < 0 or size > NGROUPS_MAX:
        raise _err(errno.EINVAL)
    data = proc.mem.read(addr, 4 * size) if size else None
    return hsys("setgroups", size, data)


# --- kernel log ----------------------------------------------------------------------------
SYSLOG_ACTION_READ, SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR = 2, 3, 4


@syscall("syslog")
def sys_syslog(proc, type_, bufp, length):
    """The host kernel's answer (dmesg_restrict, CAP_SYSLOG): reads land in guest memory."""
    type_, length = s32(type_), s32(length)
    ptr = bufp
    if type_ in (SYSLOG_ACTION_READ, SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR) and length > 0:
        from .sys_fs import host_span, wrote
        ptr, n = host_span(proc, bufp, length, W)
        length = n
        r = proc.blocking(hsys, "syslog", type_, ptr, length) if type_ == SYSLOG_ACTION_READ else \
            hsys("syslog", type_, ptr, length)
        wrote(proc, bufp, r)
        return r
    return hsys("syslog", type_, ptr, length)


# --- file handles --------------------------------------------------------------------------
MAX_HANDLE_SZ = 128
FILE_HANDLE_HDR = 8                  # struct file_handle: u32 handle_bytes, int handle_type


@syscall("name_to_handle_at")
def sys_name_to_handle_at(proc, dirfd, path, handle, mount_id, flags):
    """The host kernel's handle for the file (struct file_handle has the same
    layout everywhere); EOPNOTSUPP where the file system has none."""
    from .sys_fs import dirfd_arg, path_arg, AT_EMPTY_PATH
    flags = s32(flags)
    dirfd = dirfd_arg(proc, dirfd)
    hp = b"" if flags & AT_EMPTY_PATH and not path else \
        path_arg(proc, path, follow=bool(flags & 0x400))          # AT_SYMLINK_FOLLOW
    want = int.from_bytes(proc.mem.read(handle, 4), "little")
    hb = buf(FILE_HANDLE_HDR + min(want, MAX_HANDLE_SZ))
    hb[0:4] = want.to_bytes(4, "little")
    mb = buf(8)
    try:
        r = hsys("name_to_handle_at", dirfd, hp, hb, mb, flags)
    except OSError as e:
        if e.errno == errno.EOVERFLOW:           # the size needed is written back
            proc.mem.write(handle, hb.raw[:4])
        raise
    got = int.from_bytes(hb.raw[:4], "little")
    proc.mem.write(handle, hb.raw[:FILE_HANDLE_HDR + got])
    proc.mem.write(mount_id, mb.raw[:4])
    return r


@syscall("open_by_handle_at")
def sys_open_by_handle_at(proc, mount_fd, handle, flags):
    """The host kernel's answer: EPERM without CAP_DAC_READ_SEARCH."""
    from .sys_fs import dirfd_arg
    mount_fd = dirfd_arg(proc, mount_fd)
    size = int.from_bytes(proc.mem.read(handle, 4), "little")
    data = proc.mem.read(handle, FILE_HANDLE_HDR + min(size, MAX_HANDLE_SZ))
    return hsys("open_by_handle_at", mount_fd, data, abi.family(proc).oflags_to_host(s32(flags)))
