"""The fork scenarios of test_gdb_follow.py run against `qemu-riscv64 -g` (QEMU
7.2, Debian 12), asserting what QEMU does, so that the README's comparison
stays true.  QEMU 7.2 advertises no fork, vfork or exec events (its
multiprocess thread ids always say process 1): gdb never hears of a fork, stays on the parent
("process 1") whatever the mode, and the child runs free with QEMU's copy of
the breakpoints removed.  Exec scenarios cannot run under QEMU here at all
(without binfmt_misc its guest's execve of a riscv64 program fails: "Exec
format error").

| scenario (gdb_follow)                      | pydbt                                   | qemu-riscv64 7.2               |
|--------------------------------------------|-----------------------------------------|--------------------------------|
| follow-fork-mode parent, detach-on-fork on | parent stops, child detached, runs free | same (gdb never sees the fork) |
| follow-fork-mode child,  detach-on-fork on | child stops at its breakpoint           | parent stops instead           |
| follow-fork-mode parent, detach-on-fork off| both under gdb, two inferiors           | one inferior, child runs free  |
| follow-fork-mode child,  detach-on-fork off| both under gdb, child first             | one inferior, parent stops     |
| catch fork / catch vfork                   | catchpoint hits (child pid)             | never hits                     |
| catch exec, follow-exec-mode same / new    | stops in the new program                | exec fails (no binfmt_misc)    |
| catch syscall (QCatchSyscalls, by packet)  | entry and return stops                  | not supported (empty reply)    |
| watch / rwatch / awatch (Z2-Z4, gdb_watch) | hardware watchpoints, in JIT code too   | empty reply: gdb single-steps software watchpoints, no rwatch/awatch |
| $_siginfo, QThreadEvents, extended `run`   | yes                                     | no                             |
| range stepping (vCont;r), QProgramSignals  | yes                                     | no                             |
| Ctrl-C while blocked in read (gdb_loops)   | stops at once, the read restarts after  | no stop: the read completes, the interrupt is lost |
"""

import re
import shutil
import socket
import subprocess
import time

import pytest

from gdbstub_client import GDB, Client, free_port, no_core, read_until, wait_asleep

from pydbt.gdbstub import packets

QEMU = "qemu-riscv64"


def _listening(port):
    """True once a socket listens on 127.0.0.1/0.0.0.0:port (read from
    /proc/net/tcp: connecting would use up QEMU's one accept)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[1].endswith(":%04X" % port) and fields[3] == "0A":
                return True
    return False


@pytest.fixture
def qemu(binaries):
    if shutil.which(QEMU) is None:
        pytest.skip(f"not installed: {QEMU}")
    made = []

    def start(program, args, stdin=subprocess.DEVNULL):
        port = free_port()
        p = subprocess.Popen([QEMU, "-g", str(port), str(program), *args], stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        made.append(p)
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert p.poll() is None and time.monotonic() < deadline, "qemu did not listen"
            time.sleep(0.02)
        return p, port
    yield start
    for p in made:
        if p.poll() is None:
            p.kill()
            p.wait()


MODES = {
    "parent-on": [],
    "child-on": ["set follow-fork-mode child"],
    "parent-off": ["set detach-on-fork off"],
    "child-off": ["set follow-fork-mode child", "set detach-on-fork off"],
    "catch-fork": ["catch fork"],
}


@pytest.mark.parametrize("mode", list(MODES))
def test_qemu_never_follows_a_fork(qemu, program, mode):
    prog = program("gdb_follow")
    p, port = qemu(prog, ("fork",))
    cmd = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64"]
    for c in MODES[mode] + ["target remote :%d" % port, "break in_child", "break in_parent", "continue",
                            "info inferiors", "continue"]:
        cmd += ["-ex", c]
    g = subprocess.run(cmd + [str(prog)], capture_output=True, timeout=90, preexec_fn=no_core)
    out = g.stdout.decode(errors="replace") + g.stderr.decode(errors="replace")
    stdout, _ = p.communicate(timeout=60)
    assert re.search(r"Breakpoint \d, in_parent \(v=1\)", out), out     # gdb stays on the parent
    assert "in_child (v=" not in out and "Catchpoint 1 (forked" not in out, out
    assert re.findall(r"^\*?\s+\d+\s+process (\d+)", out, re.M) == ["1"], out     # one inferior, "process 1"
    assert "[Inferior 1 (process 1) exited with code 03]" in out, out
    assert p.returncode == 3 and b"child 42" in stdout and b"child exit 7" in stdout


def test_qemu_has_no_catch_syscalls(qemu, program):
    p, port = qemu(program("gdb_follow"), ("syscall",))
    c = Client(socket.create_connection(("127.0.0.1", port), timeout=30))
    feats = c.ask(b"qSupported:multiprocess+;fork-events+;vfork-events+;exec-events+")
    for f in (b"fork-events+", b"vfork-events+", b"exec-events+", b"QCatchSyscalls+"):
        assert f not in feats.split(b";")
    assert c.ask(b"QCatchSyscalls:1;40") == b""
    assert c.ask(b"vCont;c").startswith(b"W05")
    c.sock.close()
    p.communicate(timeout=60)
    assert p.returncode == 5


def test_qemu_has_no_watchpoints_siginfo_thread_events_or_vrun(qemu, program):
    """qemu-riscv64 7.2 -g (linux-user): Z2/Z3/Z4 get the empty reply (gdb falls
    back on single-stepping software watchpoints; rwatch/awatch cannot be set),
    no qXfer:siginfo, no QThreadEvents, and no extended-remote vRun."""
    p, port = qemu(program("gdb_watch"), ())
    c = Client(socket.create_connection(("127.0.0.1", port), timeout=30))
    feats = c.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+").split(b";")
    for f in (b"qXfer:siginfo:read+", b"QThreadEvents+"):
        assert f not in feats
    for kind in (2, 3, 4):
        assert c.ask(b"Z%d,7f450,8" % kind) == b""
    assert c.ask(b"qXfer:siginfo:read::0,80") == b""
    assert c.ask(b"!") == b"OK"                  # (extended mode accepted, but no vRun)
    assert c.ask(b"vRun;") == b""
    assert c.ask(b"vCont;c").startswith(b"W00")
    c.sock.close()
    p.communicate(timeout=60)
    assert p.returncode == 0


def test_qemu_has_no_range_steps_program_signals_or_interrupt_in_a_syscall(qemu, program):
    """qemu-riscv64 7.2 -g: `vCont?` has no `r`, QProgramSignals is not
    advertised (empty reply), and a Ctrl-C while the guest waits in read() is
    never answered: the read completes when data comes and the guest exits
    with no SIGINT stop before (pydbt: test_gdb_blocked.py)."""
    p, port = qemu(program("gdb_loops"), ("read",), stdin=subprocess.PIPE)
    c = Client(socket.create_connection(("127.0.0.1", port), timeout=30))
    feats = c.ask(b"qSupported:multiprocess+").split(b";")
    assert b"QProgramSignals+" not in feats
    assert c.ask(b"vCont?") == b"vCont;c;C;s;S"
    assert c.ask(b"QProgramSignals:1e") == b""
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    read_until(p.stdout, b"reading\n")
    wait_asleep(p.pid)
    c.send_raw(b"\x03")
    p.stdin.write(b"xyz")
    p.stdin.flush()
    assert c.read_packet() == b"W00"             # (no T02 first)
    c.sock.close()
    stdout, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and stdout.endswith(b"read=3 buf=[xyz]\n")
