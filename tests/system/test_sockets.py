"""Sockets under pydbt, beyond the stdout comparisons of test_guest_programs.py
(cases `sockets`, `sockets_dyn`):

* the `kernel` section of tests/guest/sockets.c, where qemu-riscv64 7.2 is
  wrong (MSG_CTRUNC with fds that do not fit, short cmsg_len, an invalid
  recvmmsg timeout, socket type checks, fd leaks, short msg_namelen),
  against a native build of the same source on the host kernel;
* a guest blocked in accept() and SIGINT from outside: death by SIGINT (no
  handler), EINTR (handler without SA_RESTART), the accept going on and
  completing (SA_RESTART); the same under qemu-riscv64, the oracle;
* Debian's busybox nc (riscv64) as a client and as a server against a host
  Python peer on a free loopback port, and busybox wget from a host HTTP
  server, compared with the same under qemu;
* AF_UNIX path names under -L: a guest path reaches the socket in the sysroot;
* pydbt's own fds (-D log) cannot be passed with SCM_RIGHTS;
* -strace lines of socket() and bind() equal qemu's.
Every wait has a deadline; the ordering comes from what the programs print
and from /proc/PID/task/*/wchan (a thread inside accept), never from sleeps.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import guestprogs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import debian_sysroot  # noqa: E402

ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent"}
if "PYTHONPATH" in os.environ:
    ENV["PYTHONPATH"] = os.environ["PYTHONPATH"]
TIMEOUT = 120          # for anything pydbt has to start and run
PROMPT = 10            # a signal must end a blocked accept within this (it is milliseconds when it works)


def _pydbt(binary, args, opts=()):
    return guestprogs.pydbt_argv(binary, args, list(opts))


def _qemu(binary, args, opts=()):
    return guestprogs.qemu_argv(binary, args, list(opts))


class Running:
    """A guest program running in its own session, read line by line with deadlines."""

    def __init__(self, argv, stdin=subprocess.DEVNULL):
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=ENV, start_new_session=True)
        self.out = b""

    def readline(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                self.kill()
                pytest.fail(f"no line within {timeout} s; so far {self.out!r}; stderr {self.p.stderr.read()!r}")
            chunk = os.read(self.p.stdout.fileno(), 4096)
            if not chunk:
                break
            self.out += chunk
        line, _, self.out = self.out.partition(b"\n")
        return line + b"\n"

    def finish(self, timeout=TIMEOUT):
        if self.p.stdin is not None and self.p.stdin.closed:
            self.p.stdin = None
        try:
            rest, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"did not end within {timeout} s")
        return self.p.returncode, self.out + rest, err

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()


def _in_accept(pid, timeout=TIMEOUT):
    """Wait until one of pid's threads sleeps in the kernel's accept."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/wchan") as f:
                    if "accept" in f.read():
                        return
        except OSError:
            pass
        time.sleep(0.01)
    pytest.fail("the guest never blocked in accept")


# --- the kernel's answers where qemu's are wrong ------------------------------------
def test_kernel_answers_against_native(guest_binary, tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler for the native oracle")
    native = tmp_path / "sockets_native"
    subprocess.run([cc, "-O2", "-o", str(native), str(guestprogs.GUEST_DIR / "sockets.c")], check=True,
                   capture_output=True, timeout=TIMEOUT)
    n = subprocess.run([str(native), str(tmp_path), "kernel"], capture_output=True, timeout=TIMEOUT, env=ENV)
    assert n.returncode == 0 and b"kernel: 3 fds, room for 2: 1, MSG_CTRUNC 1, received 2" in n.stdout, n.stdout
    p = subprocess.run(_pydbt(guest_binary("sockets"), [str(tmp_path), "kernel"]), capture_output=True,
                       timeout=TIMEOUT, env=ENV)
    assert (p.returncode, p.stdout.decode()) == (0, n.stdout.decode()), p.stderr.decode()[-3000:]


# --- SIGINT from outside reaches a guest blocked in accept ------------------------------
def _accept_wait(argv, mode):
    """Run `sockets accept-wait MODE`, SIGINT it once it is inside accept; returns
    (returncode, stdout with the port line dropped, seconds from SIGINT to the
    guest's reaction)."""
    r = Running(argv)
    try:
        port = int(r.readline().split()[1])
        _in_accept(r.p.pid)
        t0 = time.monotonic()
        os.kill(r.p.pid, signal.SIGINT)
        if mode == "default":
            rc, out, err = r.finish()
            return rc, out, time.monotonic() - t0
        line = r.readline(timeout=PROMPT + 5)
        took = time.monotonic() - t0
        assert line == b"handler\n", line
        if mode == "restart":
            _in_accept(r.p.pid)                        # (restarted: back in accept)
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as c:
                c.sendall(b"late")
        rc, out, err = r.finish()
        return rc, line + out, took
    finally:
        r.kill()


@pytest.mark.parametrize("mode,want_rc,want_out", [
    ("default", -signal.SIGINT, b""),
    ("handler", 0, b"handler\naccept: EINTR, handler ran 1\n"),
    ("restart", 0, b"handler\naccept: ok, handler ran 1\nread 4 [late]\n"),
    ("thread-handler", 0, b"handler\naccept: EINTR, handler ran 1\njoined\n"),
    ("timeo-restart", 0, b"handler\naccept: EINTR, handler ran 1\n"),  # SO_RCVTIMEO: never restarted
])
def test_sigint_reaches_a_guest_blocked_in_accept(guest_binary, mode, want_rc, want_out):
    binary = guest_binary("sockets")
    q = _accept_wait(_qemu(binary, ["accept-wait", mode]), mode)
    assert q[:2] == (want_rc, want_out), f"oracle: qemu-riscv64 gave {q}"
    p = _accept_wait(_pydbt(binary, ["accept-wait", mode]), mode)
    assert p[:2] == (want_rc, want_out)
    assert p[2] < PROMPT, f"SIGINT took {p[2]:.1f} s to reach the guest"


# --- busybox nc from Debian against a host peer ------------------------------------
@pytest.fixture(scope="module")
def busybox():
    try:
        root = debian_sysroot.prepare()
    except debian_sysroot.Unavailable as e:
        pytest.skip(f"no Debian riscv64 sysroot: {e}")
    return root, root / "usr" / "bin" / "busybox"


def _host_server(reply):
    """A listener on a free loopback port that reads one line, answers `reply` and
    closes; returns (port, thread, what it received)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    got = []

    def serve():
        with srv:
            c, _ = srv.accept()
            with c:
                c.settimeout(TIMEOUT)
                data = b""
                while b"\n" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                got.append(data)
                c.sendall(reply)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv.getsockname()[1], t, got


def _nc_client(argv_for):
    port, t, got = _host_server(b"hello from the host\n")
    r = Running(argv_for(port), stdin=subprocess.PIPE)
    try:
        r.p.stdin.write(b"hello from the guest\n")
        r.p.stdin.flush()
        line = r.readline()
        r.p.stdin.close()
        rc, rest, err = r.finish()
    finally:
        r.kill()
    t.join(TIMEOUT)
    return rc, line + rest, got


def test_busybox_nc_client(busybox):
    root, bb = busybox
    for name, argv_for in [
        ("qemu", lambda port: _qemu(bb, ["nc", "127.0.0.1", str(port)], ["-L", str(root)])),
        ("pydbt", lambda port: _pydbt(bb, ["nc", "127.0.0.1", str(port)], ["-L", str(root)])),
    ]:
        rc, out, got = _nc_client(argv_for)
        assert (rc, out, got) == (0, b"hello from the host\n", [b"hello from the guest\n"]), name


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nc_server(argv_for):
    port = _free_port()
    r = Running(argv_for(port), stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:                                   # until the guest listens
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline or r.p.poll() is not None:
                    pytest.fail(f"nc -l never listened: {r.p.poll()} {r.p.stderr.read()!r}")
                time.sleep(0.05)
        with c:
            c.sendall(b"hello from the host\n")
            line = r.readline()                       # what nc printed: the host's line
            r.p.stdin.write(b"hello from the guest\n")
            r.p.stdin.close()
            got = b""
            while b"\n" not in got:
                chunk = c.recv(4096)
                if not chunk:
                    break
                got += chunk
        rc, rest, err = r.finish()
    finally:
        r.kill()
    return rc, line + rest, got


def test_busybox_nc_listen(busybox):
    root, bb = busybox
    results = {}
    for name, argv_for in [
        ("qemu", lambda port: _qemu(bb, ["nc", "-l", "-p", str(port)], ["-L", str(root)])),
        ("pydbt", lambda port: _pydbt(bb, ["nc", "-l", "-p", str(port)], ["-L", str(root)])),
    ]:
        results[name] = _nc_server(argv_for)
    assert results["qemu"][1:] == (b"hello from the host\n", b"hello from the guest\n"), results
    assert results["pydbt"] == results["qemu"]


def test_busybox_wget(busybox, tmp_path):
    """busybox wget (getaddrinfo, connect, a whole HTTP exchange) from a host
    HTTP server on a free loopback port; the same under qemu."""
    import functools
    import http.server

    (tmp_path / "page.txt").write_bytes(b"served by the host\n" * 100)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        root, bb = busybox
        url = f"http://127.0.0.1:{srv.server_address[1]}/page.txt"
        got = {}
        for name, argv in [("qemu", _qemu(bb, ["wget", "-q", "-O", "-", url], ["-L", str(root)])),
                           ("pydbt", _pydbt(bb, ["wget", "-q", "-O", "-", url], ["-L", str(root)]))]:
            r = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, env=ENV)
            got[name] = (r.returncode, r.stdout, r.stderr)
        assert got["qemu"] == (0, b"served by the host\n" * 100, b""), got["qemu"]
        assert got["pydbt"] == got["qemu"]
    finally:
        srv.shutdown()
        srv.server_close()


# --- AF_UNIX paths follow -L ----------------------------------------------------------
def test_unix_socket_path_under_sysroot(guest_binary):
    root = Path(tempfile.mkdtemp(prefix="pydbt-L-", dir="/tmp"))    # short: sun_path holds 107 bytes
    try:
        (root / "run").mkdir()
        name = f"/run/pydbt-test-{os.getpid()}.sock"
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(str(root) + name)
        srv.listen(1)
        srv.settimeout(TIMEOUT)
        got = []

        def serve():
            with srv:
                c, _ = srv.accept()
                with c:
                    data = b""
                    while True:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    got.append(data)
                    c.sendall(b"in the sysroot")

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        binary = guest_binary("sockets")
        p = subprocess.run(_pydbt(binary, ["unix-connect", name, "hi"], ["-L", str(root)]), capture_output=True,
                           timeout=TIMEOUT, env=ENV)
        t.join(TIMEOUT)
        assert (p.returncode, p.stdout, got) == (0, b"reply 14 [in the sysroot]\n", [b"hi"]), p.stderr
        # without -L the same guest path is the host's, where there is no such socket
        p = subprocess.run(_pydbt(binary, ["unix-connect", name, "hi"]), capture_output=True, timeout=TIMEOUT,
                           env=ENV)
        assert (p.returncode, p.stdout) == (1, f"connect {name}: ENOENT\n".encode())
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- pydbt's own fds stay out of the guest's reach ------------------------------------
def test_scm_rights_cannot_pass_pydbt_fds(guest_binary, tmp_path):
    """With -D the log file is pydbt's fd just over the guest's RLIMIT_NOFILE:
    the guest cannot send it (EBADF, as for a closed fd)."""
    log = tmp_path / "log"
    p = subprocess.run(_pydbt(guest_binary("sockets"), ["scm-high"], ["-D", str(log), "-strace"]),
                       capture_output=True, timeout=TIMEOUT, env=ENV)
    assert (p.returncode, p.stdout) == (0, b"scm-high: 0 of 16 sent\n"), p.stderr
    assert "sendmsg(" in log.read_text()


# --- -strace ----------------------------------------------------------------------------
def test_strace_socket_and_bind_like_qemu(guest_binary, tmp_path):
    binary = guest_binary("sockets")

    # The parent and its two clients write to one stderr, each call in two pieces (the
    # call, then " = result" when it returns), so a line of one process can land in the
    # middle of another's (qemu lost a client's socket line that way in CI). Compare the
    # distinct calls found anywhere in the text.
    call = re.compile(r"(?:socket\([A-Z_|,]+\)|bind\(3,\{sin_family=[^}]*\}, \d+\)) = -?\d+")

    def lines(argv):
        r = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, env=ENV)
        assert r.returncode == 0, r.stderr
        return sorted(set(call.findall(r.stderr.decode())))

    q = lines(_qemu(binary, [str(tmp_path), "tcp"], ["-strace"]))
    assert "socket(PF_INET,SOCK_STREAM|SOCK_CLOEXEC,IPPROTO_IP) = 3" in q, q
    assert 'bind(3,{sin_family=AF_INET,sin_port=htons(0),sin_addr=inet_addr("127.0.0.1")}, 16) = 0' in q, q
    assert lines(_pydbt(binary, [str(tmp_path), "tcp"], ["-strace"])) == q
