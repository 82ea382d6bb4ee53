"""A minimal remote-protocol client for the packet-level tests (our own), and
waits on the state of a process under test (its output, its threads asleep or
running) instead of fixed sleeps."""
import importlib.util
import os
import select
import socket
import time

import pytest

from pydbt.gdbstub import packets

GDB = os.environ.get("PYDBT_GDB_CLIENT", "gdb-multiarch")
# a parameter that runs pydbt's native tier
NEEDS_LLVMLITE = pytest.mark.skipif(importlib.util.find_spec("llvmlite") is None,
                                    reason="llvmlite not installed")


def no_core():
    """preexec_fn for gdb: an internal error of gdb must not leave a core file."""
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.noack = False

    def send_raw(self, data):
        self.sock.sendall(data)

    def unread(self, data):
        self.buf = data + self.buf

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("stub closed the connection")
        self.buf += chunk

    def read_byte(self):
        while not self.buf:
            self._fill()
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_packet(self, decode=True):
        """The next packet's data (acks before it skipped), checksum checked."""
        while True:
            b = self.read_byte()
            if b == b"$":
                break
            assert b in (b"+", b"-"), b
        while b"#" not in self.buf or len(self.buf) < self.buf.index(b"#") + 3:
            self._fill()
        i = self.buf.index(b"#")
        data, cs, self.buf = self.buf[:i], self.buf[i + 1:i + 3], self.buf[i + 3:]
        assert int(cs, 16) == packets.checksum(data), (data, cs)
        if not self.noack:
            self.send_raw(b"+")
        return packets.rle_decode(data) if decode else data

    def ask(self, data, decode=True):
        self.send_raw(packets.frame(data))
        return self.read_packet(decode)


def read_until(stream, marker, timeout=60):
    """Bytes from a pipe (os.read: nothing left in a Python buffer) until marker."""
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([stream], [], [], max(left, 0))
        assert ready, f"no {marker!r} within {timeout} s: {got!r}"
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"end of output before {marker!r}: {got!r}"
        got += chunk
    return got


def _main_thread(pid):
    """(state, utime + stime in clock ticks) of pid's main host thread (or of
    the thread "pid/task/tid")."""
    path = f"/proc/{pid}/stat" if "/" in str(pid) else f"/proc/{pid}/task/{pid}/stat"
    with open(path) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], int(fields[11]) + int(fields[12])


def wait_running(pid, cpu=0.5, timeout=120):
    """Wait until pydbt's main host thread (the guest's first task) has run guest
    code for `cpu` seconds since now (it sleeps while it waits for gdb)."""
    tick = os.sysconf("SC_CLK_TCK")
    start = _main_thread(pid)[1]
    deadline = time.monotonic() + timeout
    while _main_thread(pid)[1] - start < cpu * tick:
        assert time.monotonic() < deadline, f"pydbt {pid} never ran for {cpu} s"
        time.sleep(0.05)


def wait_asleep(pid, quiet=0.3, timeout=60):
    """Wait until every host thread of pydbt (guest tasks and pydbt's helpers)
    sleeps in the kernel and none uses CPU for `quiet` seconds: the guest's
    tasks are blocked in host calls (the kernel here shows no /proc/PID/syscall
    to say which)."""
    deadline = time.monotonic() + timeout
    since, last = None, None
    while time.monotonic() < deadline:
        now = []
        for tid in sorted(os.listdir(f"/proc/{pid}/task")):
            try:
                now.append(_main_thread(f"{pid}/task/{tid}"))
            except OSError:                        # (a thread ended)
                now.append(None)
        if any(t is None or t[0] != "S" for t in now) or now != last:
            since, last = time.monotonic(), now
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.02)
    raise AssertionError(f"pydbt {pid} never settled in a blocking call")
