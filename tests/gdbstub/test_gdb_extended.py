"""extended-remote with the real gdb: `run` starts the program again (vRun: a
new pydbt with the first one's options, its output on the same stdout), with
the first arguments or new ones, twice; `kill` then `run`; `attach` refused;
`detach` and `disconnect` of a program gdb started leave it running to its
end, no process of the session left behind.  (A `run` answers once the new
pydbt has started, which takes longer than gdb's default 2 s remote timeout on
a loaded machine: the tests raise it, as a user of a slow target would.)"""

import re
import socket

from gdbstub_client import Client

OUT = "acc={} watched={} sink=10 by_thread=42"
SLOW = ("set remotetimeout 30",)


def _acc(n):
    return OUT.format(n * (n - 1) // 2, n - 1 - (n % 1000) if n >= 1000 else 0)


def test_run_twice(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "break reader", "continue", "run", "info inferiors", "continue", "run loop 5", "continue"],
        args=("loop", "100"), pre=SLOW, target="extended-remote")
    assert len(re.findall(r"Breakpoint 1, reader \(\)", out)) == 3, out
    pids = re.findall(r"\[Inferior 1 \(process (\d+)\) exited normally\]", out)
    assert len(pids) == 2 and pids[0] != pids[1], out
    # the first process was killed at the breakpoint (by the first `run`): only the runs' output
    assert stdout.count("acc=") == 2 and _acc(100) in stdout and _acc(5) in stdout, stdout
    assert rc == -9
    assert gdb.stub.survivors() == []


def test_kill_then_run(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "kill", "info inferiors", "run", "print $_exitcode"], args=("loop", "7"), pre=SLOW,
        target="extended-remote")
    assert "exited normally" in out and "$1 = 0" in out, out
    assert stdout.count("acc=") == 1 and _acc(7) in stdout, stdout
    assert rc == -9
    assert gdb.stub.survivors() == []


def test_attach_refused(gdb, program):
    # (gdb kills the program it has before it attaches; then `run` starts it again)
    out, (rc, stdout, _) = gdb(program("gdb_watch"), ["attach 1", "run"], pre=SLOW, target="extended-remote")
    assert "Attaching to process 1 failed" in out, out
    assert "exited normally" in out and _acc(3000) in stdout and stdout.count("acc=") == 1, (out, stdout)
    assert gdb.stub.survivors() == []


def test_detach_and_disconnect_after_run(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "run loop 11", "detach", "run loop 13", "disconnect"],
        pre=SLOW + ("break reader",), args=("loop", "3"), target="extended-remote")
    assert "Detaching from program" in out or "detached" in out, out
    assert _acc(11) in stdout and _acc(13) in stdout and _acc(3) not in stdout, stdout
    assert gdb.stub.survivors() == []


def test_vrun_packets(stub, program):
    """At the packet level: vRun without `!` is refused; with it, an empty program
    name is the first program (its arguments unless others are given); the reply
    is the new process's stop."""
    s = stub(program("gdb_watch"), args=("loop", "2"))
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=30))
    c.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+")
    assert c.ask(b"!") == b"OK"
    assert c.ask(b"vKill;%x" % s.proc.pid) == b"OK"
    stop = c.ask(b"vRun;;" + b"loop".hex().encode() + b";" + b"4".hex().encode())
    m = re.fullmatch(rb"T05thread:p([0-9a-f]+)\.\1;", stop)
    assert m, stop
    assert c.ask(b"vRun;" + b"/nonexistent/prog".hex().encode()) == b"E01"
    assert c.ask(b"vCont;c") == b"W00;process:%s" % m.group(1)
    c.sock.close()
    rc, out, err = s.finish()
    assert _acc(4) in out and "nonexistent" in err, (out, err)
    assert s.survivors() == []
