"""Fixtures for the gdbstub tests: pydbt started with -g on a free loopback port,
real gdb-multiarch driving it, every process (pydbt's process group, gdb) killed
at the end of the test."""

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))
import guestprogs  # noqa: E402

from gdbstub_client import GDB, free_port, no_core  # noqa: E402

TIMEOUT = 90


def _group_members(pgid):
    """Live (not zombie) processes whose process group is pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(name))
    return out


class Stub:
    """One `pydbt run -g` process (its own session: killed as a group)."""

    def __init__(self, spec, program, args=(), opts=(), stdin=subprocess.DEVNULL):
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pydbt", "run", "-g", spec, *opts, str(program), *args],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        ready, _, _ = select.select([self.proc.stderr], [], [], 30)
        assert ready, "pydbt did not say where it listens"
        self.banner = self.proc.stderr.readline().decode()
        assert "waiting for gdb" in self.banner, self.banner

    def finish(self, timeout=TIMEOUT):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(errors="replace"), (self.banner + err.decode(errors="replace"))

    def survivors(self, timeout=15):
        """Processes left in pydbt's process group (the supervisor, guest
        children) once they had `timeout` seconds to end: their pids."""
        deadline = time.monotonic() + timeout
        while True:
            left = _group_members(self.proc.pid)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


@pytest.fixture(scope="session")
def binaries():
    reason = guestprogs.missing_tools()
    if reason:
        pytest.skip(reason)
    if shutil.which(GDB) is None:
        pytest.skip(f"not installed: {GDB}")
    return guestprogs.build_all()


@pytest.fixture
def program(binaries):
    def get(name):
        b = binaries[name]
        if isinstance(b, guestprogs.BuildError):
            pytest.fail(str(b), pytrace=False)
        return b
    return get


@pytest.fixture
def stub():
    """stub(program, args=(), opts=(), spec=None) -> a started Stub (killed at the end)."""
    made = []

    def start(program, args=(), opts=(), spec=None, stdin=subprocess.DEVNULL):
        s = Stub(spec or str(free_port()), program, args, opts, stdin)
        made.append(s)
        return s
    yield start
    for s in made:
        s.kill()


@pytest.fixture
def gdb(stub):
    """gdb(program, commands, args=(), opts=(), pre=()) -> (gdb's output, pydbt's
    (status, stdout, stderr)): gdb in batch mode connected to a new stub
    (`gdb.stub` afterwards)."""
    def run(program, commands, args=(), opts=(), pre=(), timeout=TIMEOUT, target="remote"):
        s = run.stub = stub(program, args, opts)
        cmd = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64", "-ex", "set confirm off"]
        for c in pre:
            cmd += ["-ex", c]
        cmd += ["-ex", f"target {target} :{s.spec}"]
        for c in commands:
            cmd += ["-ex", c]
        cmd.append(str(program))
        g = subprocess.run(cmd, capture_output=True, timeout=timeout, start_new_session=True, preexec_fn=no_core)
        text = g.stdout.decode(errors="replace") + g.stderr.decode(errors="replace")
        return text, s.finish()
    return run
