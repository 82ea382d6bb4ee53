"""signalfd descriptors opened and closed 2000 times under RLIMIT_NOFILE 128
(tests/guest/signalfd_churn.c: closed directly, through a dup, or replaced by
dup2): nothing may accumulate behind them (pydbt keeps a duplicate of each
signalfd's eventfd, runtime/signalfd.py), so every open succeeds and a last one
still reads a signal, as under qemu-riscv64 (the oracle)."""
import resource
import subprocess
import sys

import pytest

import guestprogs

TIMEOUT = 120.0
NOFILE = 128


@pytest.fixture
def binary(guest_binary):
    return guest_binary("signalfd_churn")


def _low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _run(argv):
    return subprocess.run(argv, capture_output=True, timeout=TIMEOUT, preexec_fn=_low_nofile)


@pytest.mark.parametrize("backend", ["interp", "auto"])
def test_signalfd_open_close_churn_frees_everything(binary, backend):
    q = _run([guestprogs.QEMU, str(binary), "2000"])
    assert q.returncode == 0 and b"opened and closed: 2000 of 2000" in q.stdout, q
    p = _run([sys.executable, "-m", "pydbt", "run", "-backend", backend, str(binary), "2000"])
    assert (p.returncode, p.stdout) == (q.returncode, q.stdout), p.stderr.decode(errors="replace")
