"""Signals another process sends to a guest: tgkill to one guest thread, and
guest signal 64 (SIGRTMAX, the host signal pydbt kicks its own threads with),
against qemu-riscv64 (tgkill) and the kernel's documented answer (signal 64).

The guest (tests/guest/outside_signals.c) says "ready <tid>"; this test, its
parent, then sends the signal: tgkill(pid, tid, SIGUSR1) to a second thread
blocked in read() (sent once it is in the host read syscall, per
/proc/PID/task/TID/syscall) or computing, or kill(pid, 64) while the main
thread waits in sigsuspend.  The handler must run on that very thread with the
sender's siginfo (SI_TKILL or SI_USER, si_pid the sender's), once.  Guest tids
are host tids, under qemu and pydbt alike, so the tid it prints is the host
thread to signal.
"""
import ctypes
import os
import platform
import subprocess
import sys
import time

import pytest

import guestprogs
from pydbt.runtime import hostsig

HOST_NR = {"x86_64": {"read": 0, "tgkill": 234}, "aarch64": {"read": 63, "tgkill": 131}}.get(platform.machine())
TIMEOUT = 60.0
BACKENDS = ("interp", "auto")

pytestmark = pytest.mark.skipif(HOST_NR is None or not hostsig.available(),
                                reason="no native signal recorder for this host (runtime/hostsig.py)")
_libc = ctypes.CDLL(None, use_errno=True)


@pytest.fixture
def binary(guest_binary):
    return guest_binary("outside_signals")


def _in_read(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            return f.read().split()[0] == str(HOST_NR["read"])
    except (OSError, IndexError):
        return False


def _run(argv, mode, send):
    """Start argv, wait for "ready <tid>", send(pid, tid), return the rest of stdout."""
    p = subprocess.Popen(argv + [mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        line = p.stdout.readline()             # (the guest flushes it; a dead guest gives b"")
        assert line.startswith(b"ready "), (line, p.stderr.read() if p.poll() is not None else b"")
        tid = int(line.split()[1])
        if mode == "thread-read":
            while not _in_read(p.pid, tid):
                assert time.monotonic() < deadline, "the reader never blocked in read"
                time.sleep(0.01)
        send(p.pid, tid)
        out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{argv[0]} {mode}: no answer to the signal in {TIMEOUT:.0f}s (lost)")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _tgkill(sig):
    def send(pid, tid):
        if _libc.syscall(HOST_NR["tgkill"], pid, tid, sig) != 0:
            raise OSError(ctypes.get_errno(), "tgkill")
    return send


def _pydbt(binary, backend):
    return [sys.executable, "-m", "pydbt", "run", "-backend", backend, str(binary)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["thread-read", "thread-spin"])
def test_tgkill_from_outside_reaches_that_thread(binary, mode, backend):
    q = _run([guestprogs.QEMU, str(binary)], mode, _tgkill(10))
    who = mode.split("-")[1] + "er" if mode == "thread-spin" else "reader"
    want = f"{'spinner' if mode == 'thread-spin' else 'reader'}: signal 10, handler ran once: 1, on this thread: 1, " \
           "si_code SI_TKILL, si_pid is the sender: 1"
    assert q[0] == 0 and want.encode() in q[1], q      # (the oracle says what the kernel does)
    p = _run(_pydbt(binary, backend), mode, _tgkill(10))
    assert p[:2] == q[:2], (who, p, q)


@pytest.mark.parametrize("backend", BACKENDS)
def test_signal_64_from_outside_reaches_the_guest(binary, backend):
    """qemu-riscv64 7.2 cannot map guest signal 64 to a host signal; the answer
    is the kernel's: the handler runs once with kill()'s siginfo."""
    p = _run(_pydbt(binary, backend), "rtmax", lambda pid, tid: os.kill(pid, 64))
    assert p[0] == 0, p
    assert p[1] == b"main: signal 64, handler ran once: 1, on this thread: 1, si_code SI_USER, " \
                   b"si_pid is the sender: 1\n", p
