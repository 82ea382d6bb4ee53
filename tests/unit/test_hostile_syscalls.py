"""Hostile syscall arguments against the host kernel itself.

The same call is made twice: by pydbt's handler on a real guest process (riscv64
numbers, through `syscalls.dispatch`) and directly on this x86_64 host (ctypes),
each in its own world laid out the same way (an RW mapping `p` of 4 pages, a
2-page mapping `two` whose second page is unmapped, a 2 GiB MAP_NORESERVE
mapping `huge`, a file and a directory).  The results must agree: the errno
Linux gives, or the same count.  These are the cases qemu-riscv64 7.2 gets
wrong (so tests/system/test_hostile_syscalls.py cannot compare them with it).
Also: pydbt's own descriptors are invisible to the guest (ownfds.py).
"""
import ctypes
import errno
import os
import platform
import resource
import struct

import pytest

from pydbt.cli import Options
from pydbt.frontends.riscv64.arch import ARCH
from pydbt.runtime import syscalls, ownfds
from pydbt.runtime.process import Process

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="the host oracle speaks x86_64")

PG = 4096
M64 = (1 << 64) - 1
FAR = 1 << 60
PROT_RW, MAP_PA, MAP_NORESERVE = 3, 0x22, 0x4000
X86 = dict(read=0, mmap=9, mprotect=10, munmap=11, mremap=25, msync=26, madvise=28, readv=19,
           pread64=17, write=1, getcwd=79, readlinkat=267, getdents64=217, getrandom=318,
           openat=257, memfd_create=319, prctl=157)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _Log:
    strace = False
    fd = 2

    def write(self, text):
        pass

    def unimp(self, nr, name):
        pass

    def strace_line(self, *a):
        pass


def new_process(log=None):
    opts = Options()
    opts.reserved_va = 1 << 32
    return Process(ARCH, opts, log or _Log())


class Guest:
    """pydbt's world: calls go through the syscall dispatcher."""

    def __init__(self):
        self.proc = new_process()
        self.nr = {n: k for k, n in ARCH.syscall_names.items()}

    def call(self, name, *args):
        args = [a & M64 for a in args] + [0] * (6 - len(args))
        r = syscalls.dispatch(self.proc, self.nr[name], args)
        assert isinstance(r, int)
        return r


class Host:
    """The host kernel's world."""

    def call(self, name, *args):
        r = _libc.syscall(ctypes.c_long(X86[name]), *[ctypes.c_long(a - (1 << 64) if a >> 63 else a)
                                                        for a in (x & M64 for x in args)])
        return -ctypes.get_errno() if r == -1 else r


def layout(w, tmp_path, tag):
    """The same mappings and files in world w: returns a dict of names -> values."""
    d = tmp_path / tag
    d.mkdir()
    (d / "f").write_bytes(bytes(range(256)) * 64)
    fd = os.open(d / "f", os.O_RDONLY)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    p = w.call("mmap", 0, 4 * PG, PROT_RW, MAP_PA, -1, 0)
    two = w.call("mmap", 0, 2 * PG, PROT_RW, MAP_PA, -1, 0)
    assert w.call("munmap", two + PG, PG) == 0
    huge = w.call("mmap", 0, 2 << 30, PROT_RW, MAP_PA | MAP_NORESERVE, -1, 0)
    hole = w.call("mmap", 0, 3 * PG, PROT_RW, MAP_PA, -1, 0)
    assert w.call("munmap", hole + PG, PG) == 0        # hole + PG is a gap between two pages
    assert min(p, two, huge, hole) > 0
    return dict(p=p, two=two, huge=huge, hole=hole, fd=fd, dfd=dfd, dir=d)


def _close(env):
    os.close(env["fd"])
    os.close(env["dfd"])


# (what, the call as a function of the layout) -> compared between the worlds
MM_CASES = [
    ("mprotect len 0", lambda e: ("mprotect", e["p"], 0, 1)),
    ("mprotect GROWSDOWN|GROWSUP", lambda e: ("mprotect", e["p"], PG, 0x03000001)),
    ("mprotect over a gap", lambda e: ("mprotect", e["hole"], 3 * PG, 1)),
    ("mprotect wraps", lambda e: ("mprotect", e["p"], M64 - PG, 1)),
    ("munmap at -PG", lambda e: ("munmap", -PG, PG)),
    ("munmap len 2^63", lambda e: ("munmap", e["p"], 1 << 63)),
    ("mmap FIXED_NOREPLACE over p", lambda e: ("mmap", e["p"], PG, 1, MAP_PA | 0x100000, -1, 0)),
    ("mmap no map type", lambda e: ("mmap", 0, PG, 1, 0x20, -1, 0)),
    ("mmap SHARED_VALIDATE unknown flag", lambda e: ("mmap", 0, PG, 1, 0x03 | 0x800000, e["fd"], 0)),
    ("mmap SHARED_VALIDATE MAP_SYNC", lambda e: ("mmap", 0, PG, 1, 0x03 | 0x80000, e["fd"], 0)),
    ("mmap SHARED_VALIDATE anonymous", lambda e: ("mmap", 0, PG, 1, 0x23, -1, 0)),
    ("mmap private, an unknown flag", lambda e: ("mmap", 0, PG, 1, 0x22 | 0x800000, -1, 0)),
    ("mmap file offset 2^63", lambda e: ("mmap", 0, PG, 1, 0x02, e["fd"], 1 << 63)),
    ("mmap a directory", lambda e: ("mmap", 0, PG, 1, 0x02, e["dfd"], 0)),
    ("mmap shared writable, O_RDONLY file", lambda e: ("mmap", 0, PG, 3, 0x01, e["fd"], 0)),
    ("mremap new size 0", lambda e: ("mremap", e["p"], PG, 0, 1, 0)),
    ("mremap old size 0 (private)", lambda e: ("mremap", e["p"], 0, PG, 1, 0)),
    ("mremap old size -PG", lambda e: ("mremap", e["p"], -PG, PG, 1, 0)),
    ("mremap new size -PG", lambda e: ("mremap", e["p"], PG, -PG, 1, 0)),
    ("mremap DONTUNMAP resize", lambda e: ("mremap", e["p"], PG, 2 * PG, 5, 0)),
    ("mremap across a gap", lambda e: ("mremap", e["hole"], 3 * PG, 4 * PG, 1, 0)),
    ("mremap FIXED to FAR", lambda e: ("mremap", e["p"], PG, PG, 3, FAR)),
    ("madvise unknown advice", lambda e: ("madvise", e["p"], PG, 999)),
    ("madvise len -1", lambda e: ("madvise", e["p"], -1, 4)),
    ("madvise over a gap", lambda e: ("madvise", e["hole"], 3 * PG, 4)),
    ("madvise unmapped, len 0", lambda e: ("madvise", e["hole"] + PG, 0, 4)),
    ("madvise past the space", lambda e: ("madvise", FAR, PG, 0)),
    ("madvise MADV_NORMAL", lambda e: ("madvise", e["p"], 4 * PG, 0)),
    ("msync bad flags", lambda e: ("msync", e["p"], PG, 8)),
    ("msync unmapped", lambda e: ("msync", e["hole"] + PG, PG, 4)),
]

RW_CASES = [
    ("read into a buffer that ends in a hole", lambda e: ("read", e["fd"], e["two"] + PG - 10, 100)),
    ("read count -1", lambda e: ("read", e["fd"], e["huge"], -1)),
    ("read 1 byte into 2 GiB", lambda e: ("read", e["fd"], e["huge"], 1)),
    ("pread64 2 GiB", lambda e: ("pread64", e["fd"], e["huge"], 2 << 30, 0)),
    ("read past the space", lambda e: ("read", e["fd"], FAR, 10)),
    ("read 0 bytes past the space", lambda e: ("read", e["fd"], FAR, 0)),
    ("write 0 bytes past the space", lambda e: ("write", e["fd"], FAR, 0)),
    ("write from a buffer that ends in a hole", lambda e: ("write", e["fd"], e["two"] + PG - 10, 100)),
    ("getrandom into a buffer that ends in a hole", lambda e: ("getrandom", e["two"] + PG - 8, 16, 0)),
    ("getrandom 16 MiB into 2 GiB", lambda e: ("getrandom", e["huge"], 16 << 20, 0)),
    ("getrandom past the space", lambda e: ("getrandom", FAR, 16, 0)),
    ("getrandom bad flags", lambda e: ("getrandom", e["two"], 16, 0x80)),
    ("getdents64 count 2^32-1", lambda e: ("getdents64", e["dfd"], e["huge"], 0xffffffff)),
    ("getdents64 count 1", lambda e: ("getdents64", e["dfd"], e["two"], 1)),
    ("getcwd size -1", lambda e: ("getcwd", e["huge"], -1)),
    ("readlinkat bufsiz -1", lambda e: ("readlinkat", -100, e["path"], e["huge"], -1)),
    ("readlinkat bufsiz 2^31-1", lambda e: ("readlinkat", -100, e["path"], e["huge"], 0x7fffffff)),
]


def _iov_cases(w, e):
    """readv: iovecs written into each world's memory."""
    out = []
    for what, iovs in [("readv, a base past the space", [(e["two"], 4), (FAR, 4)]),
                       ("readv, the second in a hole", [(e["two"], 4), (e["two"] + PG, 4), (e["two"] + 8, 4)]),
                       ("readv, a negative length", [(e["two"], 4), (e["two"], -1)]),
                       ("readv, 2 GiB", [(e["huge"], 2 << 30)])]:
        raw = b"".join(struct.pack("<QQ", b & M64, n & M64) for b, n in iovs)
        w.poke(e["p"], raw)
        out.append((what, w.call("readv", e["fd"], e["p"], len(iovs))))
        w.call("pread64", e["fd"], e["two"], 0, 0)
        os.lseek(e["fd"], 0, os.SEEK_SET)
    return out


def _poke_guest(g):
    return lambda a, data: g.proc.mem.write(a, data)


def _poke_host(a, data):
    ctypes.memmove(a, data, len(data))


def _results(w, env, cases):
    out = []
    for what, make in cases:
        os.lseek(env["fd"], 0, os.SEEK_SET)
        r = w.call(*make(env))
        out.append((what, r))
    return out


def test_mm_arguments_as_the_host_kernel(tmp_path):
    g, h = Guest(), Host()
    ge, he = layout(g, tmp_path, "guest"), layout(h, tmp_path, "host")
    try:
        got = _results(g, ge, MM_CASES)
        want = _results(h, he, MM_CASES)
    finally:
        _close(ge), _close(he)
    # addresses differ between the worlds: compare "an address" with "an address"
    norm = [(w, r if r <= 0 else "ok") for w, r in want]
    assert [(w, r if r <= 0 else "ok") for w, r in got] == norm


def test_buffers_as_the_host_kernel(tmp_path):
    g, h = Guest(), Host()
    ge, he = layout(g, tmp_path, "guest"), layout(h, tmp_path, "host")
    g.poke, h.poke = _poke_guest(g), _poke_host
    for w, e in ((g, ge), (h, he)):
        w.poke(e["p"] + 2 * PG, b"/proc/self/cwd\0")
        e["path"] = e["p"] + 2 * PG
    try:
        got = _results(g, ge, RW_CASES) + _iov_cases(g, ge)
        want = _results(h, he, RW_CASES) + _iov_cases(h, he)
    finally:
        _close(ge), _close(he)
    assert got == want


def test_mmap_offset_is_signed():
    """riscv64's (and arm64's) sys_mmap shift a signed off_t: an offset of -PG is
    page offset 2^64-1, and one more page overflows (x86_64's is unsigned)."""
    g = Guest()
    assert g.call("mmap", 0, PG, 1, MAP_PA, -1, -PG) == -errno.EOVERFLOW
    assert g.call("mmap", 0, PG, 1, MAP_PA, -1, 1 << 62) > 0


def test_strings_as_the_host_kernel(tmp_path):
    """Paths of PATH_MAX bytes or more, a string running into a hole, long
    memfd names, a thread name with no NUL: as strncpy_from_user."""
    g, h = Guest(), Host()
    ge, he = layout(g, tmp_path, "guest"), layout(h, tmp_path, "host")
    g.poke, h.poke = _poke_guest(g), _poke_host
    got, want = [], []
    for w, e, out in ((g, ge, got), (h, he, want)):
        p = e["p"]
        w.poke(p, b"a" * (4 * PG))                                     # no NUL at all
        out.append(w.call("openat", -100, p, 0, 0))                     # ENAMETOOLONG
        out.append(w.call("openat", -100, e["two"] + PG - 5, 0, 0) if not w.poke(e["two"] + PG - 5, b"abcde")
                   else None)                                           # runs into the hole: EFAULT
        w.poke(e["two"], b"b" * PG)
        out.append(w.call("openat", -100, e["two"], 0, 0))              # PATH_MAX bytes, then a hole
        out.append(w.call("memfd_create", p, 0))                        # EINVAL (name too long)
        out.append(w.call("prctl", 15, p, 0, 0, 0))                     # PR_SET_NAME: the first 15 bytes
        w.poke(p + 4 * PG - 1, b"\0")
        out.append(w.call("openat", -100, p + PG, 0, 0))                # 3 pages: ENAMETOOLONG
        w.poke(p + PG, b"/" * 4095 + b"\0")
        out.append(w.call("openat", -100, p + PG, 0o200000, 0) >= 0)   # 4095 slashes: "/"
    _close(ge), _close(he)
    assert got == want
    assert g.proc.comm == b"a" * 15


def test_madvise_dontneed_len_minus_one_keeps_the_stack(tmp_path):
    g = Guest()
    p = g.call("mmap", 0, 4 * PG, PROT_RW, MAP_PA, -1, 0)
    g.proc.mem.write(p, b"live")
    assert g.call("madvise", p, -1, 4) == -errno.EINVAL
    assert g.call("madvise", p, M64 - p, 4) == -errno.EINVAL        # end wraps
    assert g.proc.mem.read(p, 4) == b"live"


def test_mremap_fixed_past_the_space_and_private_mmap_at_2_63(tmp_path):
    g = Guest()
    p = g.call("mmap", 0, 4 * PG, PROT_RW, MAP_PA, -1, 0)
    space = g.proc.mem.space
    assert g.call("mremap", p, PG, PG, 3, space) == -errno.EINVAL
    assert g.call("mremap", p, PG, PG, 3, space - PG) > 0
    (tmp_path / "f").write_bytes(b"x" * 100)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        assert g.call("mmap", 0, PG, 1, 2, fd, 1 << 63) == -errno.EOVERFLOW
        a = g.call("mmap", 0, 3 * PG, 1, 2, fd, 0)                      # longer than the file
        assert g.proc.mem.read(a, 101) == b"x" * 100 + b"\0"
    finally:
        os.close(fd)


def test_mprotect_write_on_a_shared_file_mapping(tmp_path):
    """PROT_WRITE added to a shared mapping: EACCES for a read-only file (as
    Linux), else the writes reach the file."""
    g = Guest()
    f = tmp_path / "f"
    f.write_bytes(b"z" * PG)
    ro, rw = os.open(f, os.O_RDONLY), os.open(f, os.O_RDWR)
    try:
        a = g.call("mmap", 0, PG, 1, 0x01, ro, 0)
        assert g.call("mprotect", a, PG, 3) == -errno.EACCES
        b = g.call("mmap", 0, PG, 1, 0x01, rw, 0)
        assert g.call("mprotect", b, PG, 3) == 0
        g.proc.mem.write(b, b"written")
        assert f.read_bytes()[:8] == b"writtenz"
    finally:
        os.close(ro), os.close(rw)


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PG


def test_mremap_moves_pages_without_copying_them():
    """Growing a 1 GiB mapping that cannot grow in place moves it: the host
    kernel moves the pages, pydbt neither copies nor touches the untouched ones."""
    import time
    g = Guest()
    mem = g.proc.mem
    a = g.call("mmap", 0, 1 << 30, PROT_RW, MAP_PA | MAP_NORESERVE, -1, 0)
    b = g.call("mmap", a + (1 << 30), PG, PROT_RW, MAP_PA | 0x10, -1, 0)   # blocks growth in place
    assert b == a + (1 << 30)
    for off in (0, 12345, 1 << 29, (1 << 30) - 8):
        mem.write(a + off, off.to_bytes(8, "little"))
    before, t = _rss(), time.monotonic()
    n = g.call("mremap", a, 1 << 30, (1 << 30) + PG, 1, 0)
    assert n > 0 and n != a
    assert time.monotonic() - t < 1 and _rss() - before < 64 << 20
    for off in (0, 12345, 1 << 29, (1 << 30) - 8):
        assert mem.read(n + off, 8) == off.to_bytes(8, "little")
    assert mem.read(n + (1 << 30), 8) == bytes(8)
    assert g.call("getrandom", a, 8, 0) == -errno.EFAULT                 # the old range is gone
    assert mem.vma_at(a) is None and mem.vma_at(n).end == n + (1 << 30) + PG


def test_mprotect_of_a_huge_range_is_quick():
    import time
    g = Guest()
    p = g.call("mmap", 0, 4 * PG, PROT_RW, MAP_PA, -1, 0)
    t = time.monotonic()
    assert g.call("mprotect", p, 1 << 31, 1) == -errno.ENOMEM
    assert g.call("mprotect", 0, g.proc.mem.space, 1) == -errno.ENOMEM
    assert time.monotonic() - t < 0.5


def test_maps_one_heap_line_and_file_offsets(tmp_path):
    g = Guest()
    mem = g.proc.mem
    mem.brk_start = mem.brk = 0x100000
    for step in (PG, 3 * PG, 10 * PG):
        g.call("brk", mem.brk + step)
    (tmp_path / "f").write_bytes(b"y" * 8 * PG)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    a = g.call("mmap", 0, 4 * PG, 1, 2, fd, 2 * PG)
    os.close(fd)
    assert g.call("mprotect", a + PG, PG, 3) == 0
    assert g.call("mprotect", a + PG, PG, 1) == 0                      # back: one vma again
    from pydbt.runtime.procfs import maps_text
    lines = maps_text(g.proc).decode().splitlines()
    heap = [ln for ln in lines if ln.endswith("[heap]")]
    assert len(heap) == 1 and heap[0].startswith("00100000-0010e000 rw-p 00000000 00:00 0 ")
    f = [ln for ln in lines if ln.endswith(str(tmp_path / "f"))]
    st = os.stat(tmp_path / "f")
    assert len(f) == 1, lines
    assert f[0].split()[1:5] == ["r--p", "00002000", f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}",
                                 str(st.st_ino)]


# --- pydbt's own descriptors -----------------------------------------------------------------
@pytest.fixture
def hidden(tmp_path):
    """A process whose -D log file is hidden; restores this process's RLIMIT_NOFILE."""
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    log = _Log()
    log.fd = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    g = Guest.__new__(Guest)
    g.proc = new_process(log)
    g.nr = {n: k for k, n in ARCH.syscall_names.items()}
    yield g, log.fd, saved
    os.close(log.fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def test_own_fd_moves_above_the_guests_limit(hidden):
    g, fd, (soft, hard) = hidden
    if soft < 64:
        pytest.skip("tiny RLIMIT_NOFILE")
    assert fd in g.proc.reserved_fds and soft - ownfds.RESERVE <= fd < soft
    guest_soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert guest_soft == soft - ownfds.RESERVE and fd >= guest_soft
    buf = g.proc.mem
    p = g.call("mmap", 0, PG, PROT_RW, MAP_PA, -1, 0)
    assert g.call("prlimit64", 0, 7, 0, p) == 0
    assert struct.unpack("<QQ", buf.read(p, 16)) == (guest_soft, hard)
    assert g.call("dup3", 1, fd, 0) == -errno.EBADF                   # at or above the limit: Linux's EBADF
    assert g.call("fcntl", 1, 0, fd) == -errno.EINVAL                 # F_DUPFD at or above it
    for name, args in [("close", (fd,)), ("fcntl", (fd, 1, 0)), ("write", (fd, p, 1)),
                       ("fstat", (fd, p)), ("ioctl", (fd, 0x5401, p)), ("mmap", (0, PG, 1, 2, fd, 0))]:
        assert g.call(name, *args) == -errno.EBADF, name
    assert g.call("close_range", guest_soft, 0xffffffff, 0) == 0     # (not 3: this is pytest)
    assert os.write(fd, b"still open\n") == 11
    buf.write(p, b"/proc/self/fd/%d\0" % fd)
    assert g.call("openat", -100, p, 0, 0) == -errno.ENOENT
    assert g.call("readlinkat", -100, p, p + 100, 100) == -errno.ENOENT
    assert g.call("newfstatat", -100, p, p + 512, 0) == -errno.ENOENT
    buf.write(p + 256, bytes(16))
    assert g.call("execve", p, p + 256, p + 256) == -errno.ENOENT
    assert g.call("execveat", fd, p + 256, p + 256, p + 256, 0x1000) == -errno.EBADF


def test_own_fd_not_listed_in_proc_self_fd(hidden):
    g, fd, _ = hidden
    p = g.call("mmap", 0, 16 * PG, PROT_RW, MAP_PA, -1, 0)
    g.proc.mem.write(p, b"/proc/self/fd\0")
    d = g.call("openat", -100, p, os.O_RDONLY | os.O_DIRECTORY, 0)
    assert d >= 0
    names = []
    while True:
        n = g.call("getdents64", d, p + PG, 200)              # small: several calls
        assert n >= 0
        if n == 0:
            break
        raw, off = g.proc.mem.read(p + PG, n), 0
        while off < n:
            reclen = struct.unpack_from("<H", raw, off + 16)[0]
            names.append(raw[off + 19:off + reclen].split(b"\0")[0].decode())
            off += reclen
    os.close(d)
    listed = {int(x) for x in names if x.isdigit()}
    assert fd not in listed and {0, 1, 2, d} <= listed
