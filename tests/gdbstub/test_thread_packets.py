"""Thread packets with a raw client (gdb 13 sends QThreadEvents only in
non-stop mode): `QThreadEvents:1` makes a new thread stop before its first
instruction (`T05create:;thread:<new>;`, every thread stopped) and its end a
`w<status>;<thread>` stop; `qThreadExtraInfo` names a thread; with the events
off (the default) neither is reported.  On gdb_watch.c (one thread)."""

import socket

from gdbstub_client import Client

FEATURES = b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+"


def _start(stub, program):
    s = stub(program("gdb_watch"))
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=30))
    feats = c.ask(FEATURES).split(b";")
    return s, c, feats


def test_thread_created_and_exited_events(stub, program):
    s, c, feats = _start(stub, program)
    assert b"QThreadEvents+" in feats
    P = s.proc.pid
    assert c.ask(b"qThreadExtraInfo,p%x.%x" % (P, P)) == b"Name: gdb_watch".hex().encode()
    assert c.ask(b"QThreadEvents:1") == b"OK"
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop.startswith(b"T05create:;thread:p%x." % P), stop
    T = int(stop.split(b"thread:p%x." % P)[1].rstrip(b";"), 16)
    assert T != P
    assert set(c.ask(b"qfThreadInfo")[1:].split(b",")) == {b"p%x.%x" % (P, P), b"p%x.%x" % (P, T)}
    assert c.ask(b"qThreadExtraInfo,p%x.%x" % (P, T)) == b"Name: gdb_watch".hex().encode()
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop == b"w00;p%x.%x" % (P, T), stop
    assert c.ask(b"qfThreadInfo") == b"mp%x.%x" % (P, P)
    assert c.ask(b"qThreadExtraInfo,p%x.%x" % (P, T)) == b"E01"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W00;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 0 and "by_thread=42" in out
    c.sock.close()


def test_no_thread_events_unless_asked(stub, program):
    s, c, _ = _start(stub, program)
    P = s.proc.pid
    assert c.ask(b"QThreadEvents:1") == b"OK"
    assert c.ask(b"QThreadEvents:0") == b"OK"
    assert c.ask(b"QThreadEvents:2") == b"E01"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W00;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 0 and "by_thread=42" in out
    c.sock.close()
