"""Event descriptors, data movement, locks, memory locking and credentials
(issue 10 part C), from real guests: tests/guest/events.c and fileio2.c print
the result of each call; pydbt's stdout and exit status must equal
qemu-riscv64's (the oracle) on each backend configuration.

Where qemu-riscv64 7.2 lacks a call (epoll_pwait2, mlock2: ENOSYS), the guest
makes it only when given "kernel" as its second argument, and the lines it
prints are compared with the kernel's documented answers instead
(epoll_pwait2(2): a timespec timeout, EINVAL for a tv_nsec of 10^9;
mlock2(2): flags 0 locks like mlock, an unknown flag is EINVAL); everything
else must still equal qemu's output.

Also: every new call prints in -strace with its flags decoded.
"""

import os
import re

import pytest

import guestprogs

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent"}
if "PYTHONPATH" in os.environ:                # (pydbt importable from a source tree)
    ENV["PYTHONPATH"] = os.environ["PYTHONPATH"]
TIMEOUT = 300
BACKENDS = guestprogs.selected({
    "interp": ["-backend", "interp"],
    "jit": ["-backend", "pybytecode", "-jit-threshold", "0"],
    "tiered": [],
})
PROGRAMS = ("events", "fileio2")

# the lines a "kernel" run adds, in order, after the line that precedes them
KERNEL_LINES = {
    "events": (
        "signal during epoll_pwait",
        [
            "epoll_pwait2: r=0 waited >= 25ms: 1",
            "syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8)  = -1 (EINVAL)",
            "epoll_pwait2 ready: n=1 [events=0x1 data=0x5]",
        ],
    ),
    "fileio2": (
        "msync(p, pg, MS_INVALIDATE)",
        [
            "syscall(SYS_mlock2, p, pg, 0)                            = 0",
            "syscall(SYS_mlock2, p, pg, 2)                            = -1 (EINVAL)",
        ],
    ),
}


def _run(argv, tmp_path, tag, extra=()):
    work = tmp_path / f"{tag}-dir"
    work.mkdir()
    return guestprogs.run([*argv, str(work), *extra], env=ENV, cwd=work, timeout=TIMEOUT)


def _pydbt(binary, tmp_path, tag, opts=(), extra=()):
    return _run(guestprogs.pydbt_argv(binary, [], list(opts)), tmp_path, tag, extra)


@pytest.fixture(scope="module")
def oracles(guest_binaries, tmp_path_factory):
    got = {}
    for name in PROGRAMS:
        binary = guest_binaries[name]
        if isinstance(binary, guestprogs.BuildError):
            pytest.fail(str(binary), pytrace=False)
        q = _run(guestprogs.qemu_argv(binary, []), tmp_path_factory.mktemp(f"qemu-{name}"), "qemu")
        assert q.returncode == 0, q.describe() + q.stderr.decode()
        assert q.stdout.endswith(f"{name} done, failures=0\n".encode()), q.stdout.decode()[-2000:]
        assert b"FAIL" not in q.stdout
        got[name] = (binary, q)
    return got


def _compare(want_lines, p):
    assert p.returncode == 0, p.describe() + "\n" + p.stderr.decode()[-3000:]
    assert b"Traceback" not in p.stderr, p.stderr.decode()[-3000:]
    got = p.stdout.decode().splitlines()
    diff = [f"want:  {w}\npydbt: {g}" for w, g in zip(want_lines, got) if w != g]
    extra = got[len(want_lines):] or want_lines[len(got):]
    assert not diff and len(got) == len(want_lines), "\n".join(diff[:20]) or \
        f"{len(got)} lines vs {len(want_lines)}:\n" + "\n".join(extra[:20])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_like_qemu(oracles, name, backend, tmp_path):
    binary, q = oracles[name]
    p = _pydbt(binary, tmp_path, "pydbt", BACKENDS[backend])
    _compare(q.stdout.decode().splitlines(), p)


@pytest.mark.parametrize("name", PROGRAMS)
def test_calls_qemu_lacks_answer_as_the_kernel(oracles, name, tmp_path):
    binary, q = oracles[name]
    after, extra = KERNEL_LINES[name]
    want = q.stdout.decode().splitlines()
    at = max(i for i, line in enumerate(want) if line.startswith(after)) + 1
    want[at:at] = extra
    _compare(want, _pydbt(binary, tmp_path, "pydbt", extra=["kernel"]))


STRACE = {
    "events": [
        r"epoll_create1\(EPOLL_CLOEXEC\) = \d+",
        r"epoll_ctl\(\d+,EPOLL_CTL_ADD,\d+,\{events=EPOLLIN,data=0x123456789abcdef0\}\) = 0",
        r"epoll_ctl\(\d+,EPOLL_CTL_MOD,\d+,\{events=EPOLLIN\|EPOLLET,data=0xfedcba9876543210\}\) = 0",
        r"epoll_ctl\(\d+,EPOLL_CTL_ADD,\d+,\{events=EPOLLIN\|EPOLLONESHOT,data=0x[0-9a-f]+\}\) = 0",
        r"epoll_ctl\(\d+,EPOLL_CTL_DEL,\d+,NULL\) = 0",
        r"epoll_pwait\(\d+,0x[0-9a-f]+,8,50,NULL,8\) = 0",
        r"epoll_pwait\(\d+,0x[0-9a-f]+,2,5000,0x[0-9a-f]+,8\) = -1 errno=4 \(Interrupted system call\)",
        r"epoll_pwait2\(\d+,0x[0-9a-f]+,1,0x[0-9a-f]+,NULL,8\) = 0",
        r"eventfd2\(5,EFD_NONBLOCK\|EFD_CLOEXEC\) = \d+",
        r"eventfd2\(0,EFD_SEMAPHORE\|EFD_NONBLOCK\) = \d+",
        r"timerfd_create\(CLOCK_MONOTONIC,TFD_CLOEXEC\) = \d+",
        r"timerfd_create\(CLOCK_REALTIME,TFD_NONBLOCK\) = \d+",
        r"timerfd_settime\(\d+,TFD_TIMER_ABSTIME\|TFD_TIMER_CANCEL_ON_SET,0x[0-9a-f]+,NULL\) = 0",
        r"timerfd_gettime\(\d+,0x[0-9a-f]+\) = 0",
        r"inotify_init1\(IN_NONBLOCK\|IN_CLOEXEC\) = \d+",
        r'inotify_add_watch\(\d+,"[^"]+",IN_MODIFY\|IN_CLOSE_WRITE\|IN_MOVED_FROM\|IN_MOVED_TO\|IN_CREATE'
        r'\|IN_DELETE\) = 1',
        r"inotify_rm_watch\(\d+,1\) = 0",
    ],
    "fileio2": [
        r"sendfile\(\d+,\d+,0x[0-9a-f]+,5\) = 5",
        r"splice\(\d+,NULL,\d+,NULL,4,SPLICE_F_NONBLOCK\) = -1 errno=11 ",
        r"tee\(\d+,\d+,100,0\) = 7",
        r"vmsplice\(\d+,0x[0-9a-f]+,2,0\) = 8",
        r"readahead\(\d+,0,4096\) = 0",
        r"flock\(\d+,LOCK_EX\|LOCK_NB\) = -1 errno=11 ",
        r"flock\(\d+,LOCK_SH\|LOCK_NB\) = -1 errno=11 ",
        r"fcntl\(\d+,F_SETLKW,\d+\) = -1 errno=4 \(Interrupted system call\)",
        r'memfd_create\("pydbt-test",MFD_CLOEXEC\|MFD_ALLOW_SEALING\) = \d+',
        r"mlock2\(0x[0-9a-f]+,4096,0x2\) = -1 errno=22 ",
        r"mlockall\(MCL_FUTURE\) = -1 errno=1 ",
        r"munlockall\(\) = 0",
        r"membarrier\(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,0x0,0\) = 0",
        r"setuid\(0\) = -1 errno=1 ",
        r"setresuid\(-1,-1,-1\) = 0",
        r"setgroups\(1,0x[0-9a-f]+\) = -1 errno=1 ",
        r"syslog\(0,NULL,0\) = -1 errno=1 ",
        r'name_to_handle_at\(AT_FDCWD,"[^"]+/src",0x[0-9a-f]+,0x[0-9a-f]+,0\) = 0',
        r"open_by_handle_at\(-100,0x[0-9a-f]+,O_RDONLY\) = -1 errno=1 ",
    ],
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_strace_decodes_flags(oracles, name, tmp_path):
    binary, _ = oracles[name]
    p = _pydbt(binary, tmp_path, "pydbt", ["-strace"], extra=["kernel"])
    assert p.returncode == 0, p.describe() + "\n" + p.stderr.decode()[-3000:]
    lines = p.stderr.decode().splitlines()
    missing = [pat for pat in STRACE[name] if not any(re.match(r"\d+ " + pat, ln) for ln in lines)]
    assert not missing, "no strace line matches:\n" + "\n".join(missing) + "\n--- strace ---\n" + \
        "\n".join(ln for ln in lines if "(" in ln)[-4000:]
