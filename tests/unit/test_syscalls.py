"""Syscall handlers against a minimal fake process (real GuestMemory, riscv64 numbers)."""
import errno
import os
import random
import struct
import types

import pytest

from pydbt.runtime import abi, strace, syscalls
from pydbt.runtime.memory import GuestMemory, R, W
from pydbt.runtime.task import Task
from pydbt.runtime.futex import Futexes
from pydbt.runtime.syscall_numbers import GENERIC, RISCV64, numbers
from pydbt.errors import GuestExit

NR = numbers(RISCV64)
BASE = 0x10000000          # RW scratch region
SIZE = 0x40000
RO = BASE + SIZE           # a read-only page right after it
UNMAPPED = 0x7000000000
AT_FDCWD = (1 << 64) - 100  # as the guest's register holds it
M64 = (1 << 64) - 1


class FakeArch:
    name = "riscv64"
    syscall_names = RISCV64
    uname_machine = "riscv64"
    abi = "generic64"

    def cpuinfo(self, ncpus):
        from pydbt.frontends.riscv64.arch import ARCH
        return ARCH.cpuinfo(ncpus)


class FakeLog:
    strace = False

    def __init__(self):
        self.lines = []
        self.unimps = []

    def write(self, text):
        self.lines.append(text)

    def unimp(self, nr, name):
        self.unimps.append((nr, name))

    def strace_line(self, proc, name, args, ret, fn):
        self.lines.append(strace.format_call(proc, name, args, ret))


class FakeProc:
    def __init__(self, mem):
        self.arch = FakeArch()
        self.mem = mem
        self.log = FakeLog()
        self.argv = ["prog", "arg1"]
        self.exe_path = "/bin/true"
        self.auxv = struct.pack("<QQQQ", 6, 4096, 0, 0)
        self.random = None
        self.pid = self.tid = os.getpid()
        self.task = Task(self, None, self.pid)
        self.tasks = {self.pid: self.task}
        self.futexes = Futexes()
        self.stack_size = None
        self.uname_release = None
        self.comm = b""
        self.reserved_fds = set()
        self.debugger = None
        self.leader = self.task
        self.signals = types.SimpleNamespace(signalfds=None)   # (no signalfd open)

    def blocking(self, fn, *args):            # (nothing here blocks: no signal to wait for)
        return fn(*args)

    def host_path(self, p):
        return p

    def task_by_tid(self, tid):
        return self.tasks.get(tid)

    def exit_group(self, status):          # (Process.exit_group ends the process)
        raise GuestExit(status)


@pytest.fixture(scope="module")
def mem():
    m = GuestMemory()
    m.map(BASE, SIZE, R | W, name="[scratch]")
    m.map(RO, 0x1000, R, name="[ro]")
    return m


@pytest.fixture
def proc(mem):
    mem.buf[BASE:BASE + SIZE] = bytes(SIZE)
    return FakeProc(mem)


def call(proc, name, *args):
    args = [a & M64 for a in args] + [0] * (6 - len(args))
    return syscalls.dispatch(proc, NR[name], args)


def cstr(proc, addr, s):
    proc.mem.write(addr, s + b"\0")
    return addr


# --- tables ------------------------------------------------------------------------------
def test_number_table():
    assert RISCV64[63] == "read" and RISCV64[64] == "write" and RISCV64[56] == "openat"
    assert RISCV64[79] == "newfstatat" and RISCV64[80] == "fstat" and RISCV64[261] == "prlimit64"
    assert RISCV64[222] == "mmap" and RISCV64[435] == "clone3" and RISCV64[293] == "rseq"
    assert RISCV64[258] == "riscv_hwprobe" and RISCV64[259] == "riscv_flush_icache"
    assert 38 not in RISCV64 and GENERIC[38] == "renameat"
    assert len(set(GENERIC.values())) == len(GENERIC)


def test_struct_sizes():
    fam = abi.FAMILIES["generic64"]
    assert fam.stat.size == 128 and abi.FAMILIES["x86_64"].stat.size == 144
    assert fam.statx.size == 256 and fam.statfs.size == 120 and fam.sysinfo.size == 112
    assert fam.rusage.size == 144 and fam.utsname.size == 390 and fam.flock.size == 32
    assert fam.oflags_identity          # asm-generic O_* equal x86_64's


# --- files ---------------------------------------------------------------------------------
def test_open_read_write_lseek_close(proc, tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes(b"hello world")
    path = cstr(proc, BASE, str(p).encode())
    fd = call(proc, "openat", AT_FDCWD, path, os.O_RDWR, 0)
    assert fd >= 3
    assert os.get_inheritable(fd)       # no O_CLOEXEC behind the guest's back
    assert call(proc, "read", fd, BASE + 0x100, 5) == 5
    assert proc.mem.read(BASE + 0x100, 5) == b"hello"
    assert call(proc, "lseek", fd, 0, os.SEEK_END) == 11
    proc.mem.write(BASE + 0x200, b"!!")
    assert call(proc, "write", fd, BASE + 0x200, 2) == 2
    assert call(proc, "pread64", fd, BASE + 0x300, 100, 6) == 7
    assert proc.mem.read(BASE + 0x300, 7) == b"world!!"
    assert call(proc, "close", fd) == 0
    assert call(proc, "close", fd) == -errno.EBADF
    assert p.read_bytes() == b"hello world!!"


def test_open_cloexec_and_missing(proc):
    path = cstr(proc, BASE, b"/etc/hostname" if os.path.exists("/etc/hostname") else b"/etc/passwd")
    fd = call(proc, "openat", AT_FDCWD, path, os.O_RDONLY | os.O_CLOEXEC, 0)
    assert fd >= 0 and not os.get_inheritable(fd)
    os.close(fd)
    path = cstr(proc, BASE, b"/nonexistent/x")
    assert call(proc, "openat", AT_FDCWD, path, 0, 0) == -errno.ENOENT


def test_readv_writev(proc, tmp_path):
    r, w = os.pipe()
    proc.mem.write(BASE + 0x100, b"abc")
    proc.mem.write(BASE + 0x200, b"defg")
    proc.mem.write(BASE, struct.pack("<QQQQ", BASE + 0x100, 3, BASE + 0x200, 4))
    assert call(proc, "writev", w, BASE, 2) == 7
    proc.mem.write(BASE, struct.pack("<QQQQ", BASE + 0x300, 2, BASE + 0x400, 10))
    assert call(proc, "readv", r, BASE, 2) == 7
    assert proc.mem.read(BASE + 0x300, 2) == b"ab" and proc.mem.read(BASE + 0x400, 5) == b"cdefg"
    os.close(r), os.close(w)


def test_fstat_layout(proc, tmp_path):
    p = tmp_path / "s"
    p.write_bytes(b"x" * 1234)
    st = os.stat(p)
    fd = os.open(p, os.O_RDONLY)
    assert call(proc, "fstat", fd, BASE) == 0
    raw = proc.mem.read(BASE, 128)
    # asm-generic struct stat: dev ino mode nlink uid gid rdev pad size blksize pad blocks ...
    dev, ino, mode, nlink, uid, gid = struct.unpack_from("<QQIIII", raw, 0)
    size, = struct.unpack_from("<q", raw, 48)
    mtime, mtime_ns = struct.unpack_from("<qQ", raw, 88)
    assert (dev, ino, mode, nlink, uid, gid, size) == \
        (st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, 1234)
    assert mtime * 10**9 + mtime_ns == st.st_mtime_ns
    # newfstatat with AT_EMPTY_PATH on the fd gives the same bytes
    cstr(proc, BASE + 0x1000, b"")
    assert call(proc, "newfstatat", fd, BASE + 0x1000, BASE + 0x2000, 0x1000) == 0
    assert proc.mem.read(BASE + 0x2000, 128) == raw
    os.close(fd)


def test_statx(proc):
    path = cstr(proc, BASE, b"/")
    assert call(proc, "statx", AT_FDCWD, path, 0, 0x7ff, BASE + 0x100) == 0
    mask, = struct.unpack_from("<I", proc.mem.read(BASE + 0x100, 4))
    mode, = struct.unpack_from("<H", proc.mem.read(BASE + 0x100 + 28, 2))
    assert mask & 1 and mode & 0o170000 == 0o040000


def test_getdents64(proc, tmp_path):
    for n in ("a1", "b22", "c333"):
        (tmp_path / n).write_text("")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    n = call(proc, "getdents64", fd, BASE, 4096)
    assert n > 0
    data, names, off = proc.mem.read(BASE, n), [], 0
    while off < n:
        ino, doff, reclen, typ = struct.unpack_from("<QqHB", data, off)
        names.append(data[off + 19:off + reclen].split(b"\0")[0])
        off += reclen
    assert sorted(names) == [b".", b"..", b"a1", b"b22", b"c333"]
    assert call(proc, "getdents64", fd, BASE, 4096) == 0
    os.close(fd)


def test_proc_self_exe(proc):
    path = cstr(proc, BASE, b"/proc/self/exe")
    n = call(proc, "readlinkat", AT_FDCWD, path, BASE + 0x100, 4096)
    assert proc.mem.read(BASE + 0x100, n) == b"/bin/true"
    assert n == len(b"/bin/true")
    cstr(proc, BASE, b"/proc/%d/exe" % os.getpid())
    assert call(proc, "readlinkat", AT_FDCWD, BASE, BASE + 0x100, 4) == 4   # truncated
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/exe"), 0, 0)
    assert os.fstat(fd).st_ino == os.stat("/bin/true").st_ino
    os.close(fd)


def test_proc_self_maps_and_auxv(proc):
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/maps"), 0, 0)
    assert fd >= 0
    text = os.read(fd, 65536).decode()
    os.close(fd)
    line = f"{BASE:08x}-{BASE + SIZE:08x} rw-p 00000000 00:00 0"
    assert any(l.startswith(line) and l.endswith("[scratch]") and l.index("[scratch]") == 73
               for l in text.splitlines())
    assert f"{RO:08x}-{RO + 0x1000:08x} r--p" in text
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/auxv"), 0, 0)
    assert os.read(fd, 100) == proc.auxv
    os.close(fd)
    assert call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/maps"), os.O_WRONLY, 0) \
        == -errno.EACCES
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/cpuinfo"), 0, 0)
    assert b"isa\t\t: rv64" in os.read(fd, 4096)
    os.close(fd)


def test_pipe2_dup3_fcntl(proc):
    assert call(proc, "pipe2", BASE, os.O_CLOEXEC) == 0
    r, w = struct.unpack("<ii", proc.mem.read(BASE, 8))
    assert not os.get_inheritable(r)
    assert call(proc, "fcntl", r, 1, 0) == 1                 # F_GETFD: FD_CLOEXEC
    assert call(proc, "fcntl", w, 4, os.O_NONBLOCK) == 0     # F_SETFL
    assert call(proc, "fcntl", w, 3, 0) & os.O_NONBLOCK      # F_GETFL
    new = call(proc, "dup3", r, 100, 0)
    assert new == 100 and os.get_inheritable(100)
    assert call(proc, "dup3", r, r, 0) == -errno.EINVAL
    assert call(proc, "fcntl", r, 999, 0) == -errno.EINVAL
    for fd in (r, w, 100):
        os.close(fd)


def test_reserved_fds(proc):
    r, w = os.pipe()
    proc.reserved_fds = {r}
    assert call(proc, "close", r) == -errno.EBADF
    assert call(proc, "read", r, BASE, 1) == -errno.EBADF
    assert call(proc, "dup3", w, r, 0) == -errno.EBADF
    os.fstat(r)                                  # still open
    os.close(r), os.close(w)


def test_ioctl(proc):
    fd = os.open("/dev/null", os.O_RDONLY)
    assert call(proc, "ioctl", fd, 0x5401, BASE) == -errno.ENOTTY    # TCGETS on a non-tty
    assert call(proc, "ioctl", fd, 0x12345678, BASE) == -errno.ENOTTY
    assert call(proc, "ioctl", 1000, 0x5401, BASE) == -errno.EBADF
    r, w = os.pipe()
    os.write(w, b"xyz")
    assert call(proc, "ioctl", r, 0x541B, BASE) == 0                 # FIONREAD
    assert struct.unpack("<i", proc.mem.read(BASE, 4))[0] == 3
    for f in (fd, r, w):
        os.close(f)


def test_tty_ioctls(proc):
    import termios
    master, slave = os.openpty()
    try:
        assert call(proc, "ioctl", slave, 0x5401, BASE) == 0                 # TCGETS
        iflag, oflag, cflag, lflag = struct.unpack("<IIII", proc.mem.read(BASE, 16))
        attrs = termios.tcgetattr(slave)
        assert (iflag, oflag, cflag, lflag) == tuple(attrs[:4])
        proc.mem.write(BASE + 12, struct.pack("<I", lflag & ~termios.ECHO))
        assert call(proc, "ioctl", slave, 0x5402, BASE) == 0                 # TCSETS
        assert not termios.tcgetattr(slave)[3] & termios.ECHO
        proc.mem.write(BASE + 0x100, struct.pack("<HHHH", 33, 120, 0, 0))
        assert call(proc, "ioctl", slave, 0x5414, BASE + 0x100) == 0         # TIOCSWINSZ
        assert call(proc, "ioctl", slave, 0x5413, BASE + 0x200) == 0         # TIOCGWINSZ
        assert struct.unpack("<HH", proc.mem.read(BASE + 0x200, 4)) == (33, 120)
        assert call(proc, "ioctl", slave, 0x5413, UNMAPPED) == -errno.EFAULT
    finally:
        os.close(master), os.close(slave)


def test_close_range_skips_reserved(proc):
    fds = [os.dup(0) for _ in range(4)]
    lo, hi = min(fds), max(fds)
    keep = fds[1]
    proc.reserved_fds = {keep}
    assert call(proc, "close_range", lo, hi, 0) == 0
    os.fstat(keep)
    for fd in fds:
        if fd != keep:
            with pytest.raises(OSError):
                os.fstat(fd)
    os.close(keep)


def test_proc_self_stat_cmdline(proc):
    proc.comm = b"myprog"
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/stat"), 0, 0)
    text = os.read(fd, 4096)
    os.close(fd)
    assert text.startswith(b"%d (myprog) " % os.getpid()) and len(text.split()) == 52
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, b"/proc/self/cmdline"), 0, 0)
    assert os.read(fd, 4096) == b"prog\0arg1\0"
    os.close(fd)
    tid = b"/proc/%d/task/%d/maps" % (os.getpid(), proc.tid)
    fd = call(proc, "openat", AT_FDCWD, cstr(proc, BASE, tid), 0, 0)
    assert b"[scratch]" in os.read(fd, 65536)
    os.close(fd)


def test_dirs(proc, tmp_path):
    d = cstr(proc, BASE, str(tmp_path / "sub").encode())
    assert call(proc, "mkdirat", AT_FDCWD, d, 0o755) == 0
    assert (tmp_path / "sub").is_dir()
    assert call(proc, "mkdirat", AT_FDCWD, d, 0o755) == -errno.EEXIST
    new = cstr(proc, BASE + 0x800, str(tmp_path / "sub2").encode())
    assert call(proc, "renameat2", AT_FDCWD, d, AT_FDCWD, new, 0) == 0
    assert call(proc, "unlinkat", AT_FDCWD, new, 0x200) == 0
    assert not (tmp_path / "sub2").exists()
    cwd = os.getcwd()
    try:
        assert call(proc, "chdir", cstr(proc, BASE, str(tmp_path).encode())) == 0
        n = call(proc, "getcwd", BASE + 0x100, 4096)
        assert proc.mem.read(BASE + 0x100, n) == os.fsencode(os.path.realpath(tmp_path)) + b"\0"
        assert call(proc, "getcwd", BASE + 0x100, 2) == -errno.ERANGE
    finally:
        os.chdir(cwd)


def test_faccessat(proc):
    assert call(proc, "faccessat", AT_FDCWD, cstr(proc, BASE, b"/"), os.R_OK) == 0
    assert call(proc, "faccessat", AT_FDCWD, cstr(proc, BASE, b"/nope"), 0) == -errno.ENOENT


# --- faults and unknown numbers --------------------------------------------------------------
def test_efault(proc):
    fd = os.open("/dev/zero", os.O_RDONLY)
    assert call(proc, "read", fd, UNMAPPED, 16) == -errno.EFAULT
    assert call(proc, "read", fd, RO, 16) == -errno.EFAULT        # read-only page
    # partially writable: the accessible part is filled
    assert call(proc, "read", fd, RO - 8, 16) == 8
    os.close(fd)
    assert call(proc, "openat", AT_FDCWD, UNMAPPED, 0, 0) == -errno.EFAULT
    assert call(proc, "uname", UNMAPPED) == -errno.EFAULT
    assert call(proc, "clock_gettime", 0, 0) == -errno.EFAULT


def test_enosys(proc):
    assert syscalls.dispatch(proc, 293, [0] * 6) == -errno.ENOSYS     # rseq (as qemu's)
    assert syscalls.dispatch(proc, 9999, [0] * 6) == -errno.ENOSYS
    assert (293, "rseq") in proc.log.unimps and (9999, None) in proc.log.unimps


# --- process and time ------------------------------------------------------------------------
def test_uname(proc):
    assert call(proc, "uname", BASE) == 0
    raw = proc.mem.read(BASE, 390)
    fields = [raw[i * 65:(i + 1) * 65].split(b"\0")[0] for i in range(6)]
    assert fields[0] == b"Linux" and fields[4] == b"riscv64"


def test_ids(proc):
    assert call(proc, "getpid") == os.getpid()
    assert call(proc, "gettid") == proc.tid
    assert call(proc, "getuid") == os.getuid()
    assert call(proc, "set_tid_address", BASE + 0x40) == proc.tid
    assert proc.task.clear_child_tid == BASE + 0x40
    assert call(proc, "set_robust_list", BASE, 24) == 0
    assert call(proc, "set_robust_list", BASE, 12) == -errno.EINVAL
    assert call(proc, "getresuid", BASE, BASE + 4, BASE + 8) == 0
    assert struct.unpack("<III", proc.mem.read(BASE, 12)) == os.getresuid()


def test_getrandom_deterministic(proc):
    proc.random = random.Random(42)
    assert call(proc, "getrandom", BASE, 16, 0) == 16
    a = proc.mem.read(BASE, 16)
    proc.random = random.Random(42)
    call(proc, "getrandom", BASE, 16, 0)
    assert proc.mem.read(BASE, 16) == a
    proc.random = None
    assert call(proc, "getrandom", BASE, 16, 0) == 16
    assert call(proc, "getrandom", BASE, 16, 0x80) == -errno.EINVAL


def test_prlimit_stack(proc):
    proc.stack_size = 8 << 20
    assert call(proc, "prlimit64", 0, 3, 0, BASE) == 0            # RLIMIT_STACK
    assert struct.unpack("<Q", proc.mem.read(BASE, 8))[0] == 8 << 20
    proc.mem.write(BASE, struct.pack("<QQ", 1 << 20, M64))
    assert call(proc, "prlimit64", 0, 3, BASE, BASE + 16) == 0   # virtual: host untouched
    assert call(proc, "getrlimit", 3, BASE + 32) == 0
    assert struct.unpack("<QQ", proc.mem.read(BASE + 32, 16)) == (1 << 20, M64)
    assert call(proc, "getrlimit", 7, BASE) == 0                  # RLIMIT_NOFILE from the host
    import resource
    assert struct.unpack("<Q", proc.mem.read(BASE, 8))[0] == resource.getrlimit(7)[0]


def test_prctl_name(proc):
    cstr(proc, BASE, b"a-very-long-thread-name")
    assert call(proc, "prctl", 15, BASE) == 0
    assert call(proc, "prctl", 16, BASE + 0x100) == 0
    assert proc.mem.read(BASE + 0x100, 16) == b"a-very-long-thr\0"
    assert call(proc, "prctl", 0x12345) == -errno.EINVAL


def test_sched_getaffinity_sysinfo(proc):
    n = call(proc, "sched_getaffinity", 0, 128, BASE)
    assert n > 0 and n % 8 == 0
    mask = int.from_bytes(proc.mem.read(BASE, n), "little")
    assert {i for i in range(n * 8) if mask >> i & 1} == os.sched_getaffinity(0)
    assert call(proc, "sysinfo", BASE) == 0
    assert struct.unpack_from("<Q", proc.mem.read(BASE + 32, 8))[0] > 0    # totalram


def test_clock_gettime_and_nanosleep(proc):
    import time
    assert call(proc, "clock_gettime", 1, BASE) == 0
    sec, nsec = struct.unpack("<qq", proc.mem.read(BASE, 16))
    assert abs(sec + nsec / 1e9 - time.monotonic()) < 1
    proc.mem.write(BASE, struct.pack("<qq", 0, 1000))
    assert call(proc, "nanosleep", BASE, 0) == 0
    proc.mem.write(BASE, struct.pack("<qq", 0, 10**9))
    assert call(proc, "nanosleep", BASE, 0) == -errno.EINVAL
    assert call(proc, "gettimeofday", BASE, 0) == 0
    assert abs(struct.unpack("<q", proc.mem.read(BASE, 8))[0] - time.time()) < 2


def test_exit(proc):
    with pytest.raises(GuestExit) as e:
        call(proc, "exit_group", 0x1ff)
    assert e.value.status == 0xff


# --- strace --------------------------------------------------------------------------------
def test_strace_format(proc):
    pid = proc.pid
    path = cstr(proc, BASE, b"/etc/passwd")
    assert strace.format_call(proc, "openat", [AT_FDCWD, path, 0o2000000, 0, 0, 0], 3) == \
        f'{pid} openat(AT_FDCWD,"/etc/passwd",O_RDONLY|O_CLOEXEC) = 3'
    assert strace.format_call(proc, "openat", [AT_FDCWD, path, 0o1101, 0o644, 0, 0], -2) == \
        f'{pid} openat(AT_FDCWD,"/etc/passwd",O_WRONLY|O_CREAT|O_TRUNC,0644) = -1 errno=2 ' \
        '(No such file or directory)'
    assert strace.format_call(proc, "mmap", [0, 4096, 3, 0x22, M64, 0], 0x4000802000) == \
        f"{pid} mmap(NULL,4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = 0x0000004000802000"
    assert strace.format_call(proc, "read", [3, 0x800680, 10, 0, 0, 0], 10) == \
        f"{pid} read(3,0x800680,10) = 10"
    assert strace.format_call(proc, "exit_group", [3, 0, 0, 0, 0, 0], None) == f"{pid} exit_group(3)"
    assert strace.format_call(proc, "fcntl", [10, 3, 0, 0, 0, 0], 0) == f"{pid} fcntl(10,F_GETFL) = 0"
    assert strace.format_call(proc, "lseek", [3, 0, 0, 0, 0, 0], 0) == f"{pid} lseek(3,0,SEEK_SET) = 0"
    assert strace.format_call(proc, "set_tid_address", [BASE, 0, 0, 0, 0, 0], 5).startswith(
        f"{pid} set_tid_address(0x{BASE:016x})")
    assert strace.format_call(proc, "io_setup", [1, 2, 3, 4, 5, M64], -38) == \
        f"{pid} io_setup(1,2,3,4,5,-1) = -1 errno=38 (Function not implemented)"    # (no signature)
    assert strace.format_unimp(0, "io_setup") == "Unsupported syscall: 0 (io_setup)"
    # every table entry names only known kinds
    for name in strace.SIGNATURES:
        strace.format_args(proc, name, [0] * 6)


def test_strace_through_dispatch(proc):
    proc.log.strace = True
    call(proc, "getpid")
    assert proc.log.lines[-1] == f"{proc.pid} getpid() = {proc.pid}"
    call(proc, "close", 12345)
    assert proc.log.lines[-1].endswith("close(12345) = -1 errno=9 (Bad file descriptor)")
