"""A deterministic syscall-argument fuzzer over every implemented syscall.

For each fixed seed, a fresh Python process (this file run as a script: the
calls change its umask, cwd, limits, signal dispositions; the pytest worker
keeps its own) builds a real guest process (riscv64, 4 GiB space) with an RW
region, a read-only page of path names, a hidden pydbt descriptor (ownfds), and
calls `syscalls.dispatch` with edge and random arguments: 0, -1, 2^31, 2^63,
unaligned and page-edge pointers, pointers into unmapped and read-only memory
and past the space, huge lengths, random 64-bit words.  It asserts:
  - only ints come back (no Python exception escapes a handler);
  - no call takes more than a few seconds (no hang, no host work sized by the
    guest's claims);
  - pydbt's own descriptor survives whatever the guest did to descriptors;
  - with odd seeds, -strace formats every call (its argument readers are fuzzed).

Kept harmless to the host: descriptors are those the fuzz itself created (plus
invalid numbers and the hidden one; never the worker's), paths are relative
names inside a temporary cwd, blocking is impossible (pipes and FIFOs forced
O_NONBLOCK, flock LOCK_NB, OFD locks not waited for), copy sizes capped, and
the calls that would end or signal the process or its group, fork, exec, sleep,
wait on futexes, or set resource limits are left out (they have tests of their
own).
"""
import json
import os
import random
import subprocess
import sys
import time

import pytest

SEEDS = (1, 2, 3, 4)
CALLS = 8000
SLOW = 3.0                    # seconds: a call taking longer counts as a hang

SKIP = {
    "exit", "exit_group", "kill", "tgkill", "tkill", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "clone", "clone3", "vfork", "fork", "execve", "execveat",
    "futex", "nanosleep", "clock_nanosleep", "sync", "syncfs", "setrlimit", "reboot", "pause",
    "ppoll", "pselect6", "epoll_pwait", "accept", "accept4", "recvfrom", "recvmsg", "connect",
    # waits for ever; as root, changes the host's kernel log or opens any file by a guessed handle
    "epoll_pwait2", "syslog", "open_by_handle_at",
}
FD_ARGS = {   # syscall -> indices of fd arguments (dirfds included)
    "read": (0,), "write": (0,), "pread64": (0,), "pwrite64": (0,), "readv": (0,), "writev": (0,),
    "preadv": (0,), "pwritev": (0,), "preadv2": (0,), "pwritev2": (0,), "lseek": (0,),
    "sendfile": (0, 1), "copy_file_range": (0, 2), "close": (0,), "dup": (0,), "dup2": (0, 1),
    "dup3": (0, 1), "fcntl": (0,), "ioctl": (0,), "flock": (0,), "fadvise64": (0,),
    "fallocate": (0,), "fstat": (0,), "fstatfs": (0,), "getdents64": (0,), "fchdir": (0,),
    "fchmod": (0,), "fchown": (0,), "ftruncate": (0,), "fsync": (0,), "fdatasync": (0,),
    "sync_file_range": (0,), "mmap": (4,), "openat": (0,), "newfstatat": (0,), "statx": (0,),
    "faccessat": (0,), "faccessat2": (0,), "readlinkat": (0,), "mkdirat": (0,), "mknodat": (0,),
    "unlinkat": (0,), "renameat": (0, 2), "renameat2": (0, 2), "symlinkat": (1,), "linkat": (0, 2),
    "fchmodat": (0,), "fchmodat2": (0,), "fchownat": (0,), "utimensat": (0,), "close_range": (0, 1),
}
PATH_ARGS = {
    "openat": (1,), "newfstatat": (1,), "statx": (1,), "faccessat": (1,), "faccessat2": (1,),
    "readlinkat": (1,), "mkdirat": (1,), "mknodat": (1,), "unlinkat": (1,), "renameat": (1, 3),
    "renameat2": (1, 3), "symlinkat": (0, 2), "linkat": (1, 3), "fchmodat": (1,), "fchmodat2": (1,),
    "fchownat": (1,), "utimensat": (1,), "chdir": (0,), "truncate": (0,), "statfs": (0,),
    "memfd_create": (0,),
}
NAMES = [b"a", b"b", b"d", b"d/e", b"", b"f" * 300, b"/proc/self/maps", b"/proc/self/fd",
         b"/proc/self/exe", b"/proc/self/fd/%d"]
# plausible values for some arguments (taken 60% of the time), so that calls get past
# the first check and reach the deeper paths
HINTS = {
    "mmap": {1: [1, 4096, 8192, 5000, 1 << 20, 1 << 30], 2: [0, 1, 3, 5, 7],
             3: [0x22, 0x02, 0x01, 0x12, 0x32, 0x100022, 0x03, 0x23, 0x4022, 0x80003]},
    "munmap": {1: [4096, 8192, 1 << 20]}, "mprotect": {1: [4096, 8192, 1 << 20], 2: [0, 1, 3, 5, 7]},
    "mremap": {1: [4096, 8192], 2: [4096, 1 << 16, 1 << 21], 3: [0, 1, 3, 5]},
    "madvise": {1: [4096, 1 << 20], 2: [0, 4, 8, 9, 14, 999]},
    "openat": {2: [0, 1, 2, 0o100 | 2, 0o200000, 0o10000000, 0o1000 | 1]},
    "read": {2: [1, 100, 4096, 1 << 20]}, "write": {2: [1, 100, 4096]},
    "getdents64": {2: [64, 4096, 1 << 16]}, "fcntl": {1: [0, 1, 2, 3, 4, 5, 6, 1030, 1033, 36, 37]},
    "lseek": {2: [0, 1, 2, 3, 4]}, "readv": {2: [1, 2]}, "writev": {2: [1, 2]},
}
O_NONBLOCK, LOCK_NB = 0o4000, 4


def driver(seed, calls, cwd):
    """Runs in its own process: returns a report dict."""
    import fcntl
    from pydbt.cli import Options
    from pydbt.frontends.riscv64.arch import ARCH
    from pydbt.runtime import syscalls, ownfds
    from pydbt.runtime.memory import R, W
    from pydbt.runtime.process import Process

    from pydbt.runtime import strace

    class Log:                    # -strace formats every call (odd seeds): its readers are fuzzed too
        strace = bool(seed & 1)
        fd = 2

        def write(self, t):
            pass

        def unimp(self, *a):
            pass

        def strace_line(self, proc, name, args, ret, fn):
            strace.format_call(proc, name, args, ret)

    os.chdir(cwd)
    os.mkdir("d")
    open("a", "wb").write(b"hello" * 1000)
    opts = Options()
    opts.reserved_va = 1 << 32
    proc = Process(ARCH, opts, Log())
    syscalls.dispatch(proc, 172, [0] * 6)            # (getpid: loads the handler families)
    own = ownfds.hide(proc, os.open(".", os.O_RDONLY))
    mem, rng, M64 = proc.mem, random.Random(seed), (1 << 64) - 1
    rw, rw_size = 0x10000000, 1 << 20
    names = rw + rw_size
    mem.map(rw, rw_size, R | W)
    mem.map(names, 0x1000, R)
    mem.map(names + 0x2000, 0x1000, R)               # a gap page between
    name_ptrs, at = [], names
    for nm in NAMES:
        nm = nm.replace(b"%d", str(own).encode())
        name_ptrs.append(at)
        at += len(nm) + 1
    name_blob = b"".join(n.replace(b"%d", str(own).encode()) + b"\0" for n in NAMES)
    name_ptrs.append(names + 0x1000 - 3)              # unterminated at the end of the page
    tail = b"abc"
    byname = {n: k for k, n in ARCH.syscall_names.items()}
    todo = sorted(n for n in syscalls.HANDLERS if n in byname and n not in SKIP)
    space = mem.space
    pointers = [0, 1, rw, rw + 1, rw + 8, rw + rw_size - 1, rw + rw_size - 8, rw + 0x1234, names,
                names + 0x1000, names + 0xff8, 0x7000000, space - 8, space, space + 4096, 1 << 60,
                1 << 63, M64, M64 - 7]
    ints = [0, 1, 2, 3, 4, 7, 8, 16, 64, 100, 255, 4095, 4096, 4097, 1 << 16, 1 << 20, 1 << 31,
            (1 << 31) - 1, 1 << 32, (1 << 32) - 1, 1 << 40, 1 << 62, 1 << 63, (1 << 63) - 1, M64,
            M64 - 99, M64 - 4095]
    bad_fds = [own, -1 & M64, 1 << 20, 1000]
    r_, w_ = os.pipe2(os.O_NONBLOCK)
    fds = [os.open("a", os.O_RDWR), os.open("d", os.O_RDONLY | os.O_DIRECTORY), r_, w_,
           os.open("/dev/null", os.O_RDWR), os.memfd_create("fuzz"), -100 & M64]   # + what the fuzz creates

    def restore_names():
        try:
            if mem.perm[names >> 12]:
                mem.poke(names, name_blob)
                mem.poke(names + 0x1000 - 3, tail)
        except Exception:                           # noqa: BLE001  (unmapped by the fuzz)
            pass

    def arg(name, i):
        if i in FD_ARGS.get(name, ()):
            return rng.choice(fds if rng.random() < 0.75 else bad_fds)
        if i in PATH_ARGS.get(name, ()):
            return rng.choice(name_ptrs + [0, names + 0x2000 - 1, 1 << 60])
        hint = HINTS.get(name, {}).get(i)
        if hint and rng.random() < 0.6:
            return rng.choice(hint)
        roll = rng.random()
        if roll < 0.35:
            return rng.choice(pointers)
        if roll < 0.6:
            return rng.choice(ints[:12])
        if roll < 0.85:
            return rng.choice(ints)
        return rng.getrandbits(64)

    report = {"calls": 0, "errors": [], "slow": [], "own_fd_ok": None}
    for _ in range(calls):
        name = rng.choice(todo)
        args = [arg(name, i) for i in range(6)]
        if name in ("openat", "pipe2"):
            args[2 if name == "openat" else 1] |= O_NONBLOCK
            if name == "openat":
                args[2] &= ~0o20000000                   # (no O_TMPFILE|O_RDWR files of 4 GiB)
        if name == "fcntl":
            if args[1] & 0xffffffff == 4:
                args[2] |= O_NONBLOCK                    # F_SETFL keeps non-blocking
            if args[1] & 0xffffffff in (7, 38):          # F_SETLKW, F_OFD_SETLKW: do not wait
                args[1] = 6
        if name == "ioctl" and args[1] & 0xffffffff == 0x5421:
            args[1] = 0x5401                             # not FIONBIO
        if name == "flock":
            args[1] |= LOCK_NB
        if name in ("fallocate",):
            args[3] &= (1 << 20) - 1
        if name in ("sendfile", "copy_file_range"):
            args[3 if name == "sendfile" else 4] &= (1 << 20) - 1
        if name == "close_range":
            args[1] = args[0]                            # one fd: never the worker's
        if name == "prlimit64":
            args[2] = 0                                  # read only
        if name == "prctl" and args[0] & 0xffffffff == 1:
            args[1] = 0                                  # PR_SET_PDEATHSIG: none
        restore_names()
        t = time.monotonic()
        try:
            r = syscalls.dispatch(proc, byname[name], args)
            if not isinstance(r, int):
                report["errors"].append(f"{name}{tuple(hex(a) for a in args)} returned {r!r}")
        except BaseException as e:                       # noqa: BLE001  (what we look for)
            report["errors"].append(f"{name}{tuple(hex(a) for a in args)}: {type(e).__name__}: {e}")
            r = None
        dt = time.monotonic() - t
        if dt > SLOW:
            report["slow"].append(f"{name}{tuple(hex(a) for a in args)}: {dt:.1f}s")
        report["calls"] += 1
        if isinstance(r, int) and 2 < r < 1 << 20 and name in (
                "openat", "dup", "dup2", "dup3", "fcntl", "memfd_create") and r not in fds and len(fds) < 40:
            try:
                os.fstat(r)
                if r > 2:
                    fds.append(r)
            except OSError:
                pass
        if name in ("pipe2", "pipe") and r == 0 and mem.perm[(args[0] & M64) >> 12 if args[0] < space else 0]:
            for k in (0, 4):
                try:
                    f = int.from_bytes(mem.read(args[0] + k, 4), "little")
                    if f > 2 and f not in fds:
                        fds.append(f)
                except Exception:                       # noqa: BLE001
                    pass
        for f in fds:                                   # nothing may block
            if 2 < f < 1 << 20:
                try:
                    fl = fcntl.fcntl(f, fcntl.F_GETFL)
                    fcntl.fcntl(f, fcntl.F_SETFL, fl | os.O_NONBLOCK)
                except OSError:
                    pass
    try:
        os.fstat(own)
        report["own_fd_ok"] = own in proc.reserved_fds
    except OSError:
        report["own_fd_ok"] = False
    return report


@pytest.mark.parametrize("seed", SEEDS)
def test_syscall_fuzz(seed, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    t = time.monotonic()
    out = subprocess.run([sys.executable, __file__, str(seed), str(CALLS), str(cwd)], capture_output=True,
                         text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["calls"] == CALLS
    assert not report["errors"], "\n".join(report["errors"][:30])
    assert not report["slow"], "\n".join(report["slow"][:30])
    assert report["own_fd_ok"], "the guest closed or lost pydbt's own descriptor"
    assert time.monotonic() - t < 300


if __name__ == "__main__":
    rep = driver(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    sys.stdout.flush()
    print(json.dumps(rep))
