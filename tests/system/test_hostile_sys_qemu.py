"""Hostile syscall arguments from a real guest: tests/guest/hostile_sys.c prints
the result of each call; pydbt's stdout and exit status must equal
qemu-riscv64's (the oracle, on the cases where qemu 7.2 gives the kernel's
answer; the others are in tests/unit/test_hostile_syscalls.py against the host
kernel).  Also run with a -D log file and -strace: pydbt's own descriptor must
be invisible to the guest (its close_range(3, ~0) does not close it, its
/proc/self/fd listing does not show it) and the log still gets every line.
pydbt's peak RSS stays far below the 2 GiB buffers the guest hands to read,
readv, pread64 and fread (host work is bounded by what the kernel does).
"""

import json
import subprocess
import sys

import pytest

import guestprogs

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent"}


def _run(argv, tmp_path, tag):
    work = tmp_path / f"{tag}-dir"
    work.mkdir()
    return guestprogs.run([*argv, str(work)], env=ENV, cwd=work, timeout=600)


@pytest.fixture(scope="module")
def oracle(guest_binaries, tmp_path_factory):
    binary = guest_binaries["hostile_sys"]
    if isinstance(binary, guestprogs.BuildError):
        pytest.fail(str(binary), pytrace=False)
    q = _run(guestprogs.qemu_argv(binary, []), tmp_path_factory.mktemp("qemu"), "qemu")
    assert q.returncode == 0 and q.stdout.endswith(b"hostile_sys done\n"), q.describe() + q.stderr.decode()
    assert b"FAIL" not in q.stdout
    return binary, q


def _compare(q, p):
    assert p.returncode == q.returncode, p.describe() + "\n" + p.stderr.decode()[-3000:]
    assert b"Traceback" not in p.stderr, p.stderr.decode()[-3000:]
    got, want = p.stdout.decode().splitlines(), q.stdout.decode().splitlines()
    diff = [f"qemu:  {w}\npydbt: {g}" for w, g in zip(want, got) if w != g]
    assert not diff and len(got) == len(want), "\n".join(diff[:20]) or f"{len(got)} lines vs {len(want)}"


def test_hostile_sys_like_qemu(oracle, tmp_path):
    binary, q = oracle
    _compare(q, _run(guestprogs.pydbt_argv(binary, []), tmp_path, "pydbt"))


def test_hostile_sys_own_log_fd_is_invisible(oracle, tmp_path):
    """-D log -strace: the guest's close_range(3, ~0), its dup3 onto its
    highest allowed fd and its /proc/self/fd listing see only its own fds."""
    binary, q = oracle
    log = tmp_path / "strace.log"
    p = _run(guestprogs.pydbt_argv(binary, [], ["-D", str(log), "-strace"]), tmp_path, "pydbt")
    _compare(q, p)
    text = log.read_text()
    assert "close_range(3," in text
    after = text[text.index("close_range(3,"):]
    assert "exit_group(0)" in after            # still logging after the guest closed "everything"


def test_hostile_sys_peak_rss_bounded(oracle, tmp_path):
    """pydbt's peak RSS stays far below the guest's 2 GiB buffers."""
    binary, q = oracle
    work = tmp_path / "w"
    work.mkdir()
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, *guestprogs.pydbt_argv(binary, [str(work)])],
                         capture_output=True, text=True, cwd=work, env=ENV, timeout=600)
    rc, maxrss_kib = map(int, out.stdout.split())
    assert rc == 0, out.stderr
    # guest memory actually touched: ~64 MiB of getrandom, a few MiB of file
    # data; the interpreter and translator ~150 MiB
    assert maxrss_kib < 600 * 1024, json.dumps({"maxrss_MiB": maxrss_kib >> 10})
