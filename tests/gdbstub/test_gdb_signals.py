"""Guest signals under real gdb (`catch signal`, `handle`, `signal`): a signal
about to act on the guest stops gdb first ("Program received signal ..."),
then goes on or not as `handle ... pass|nopass` says (the resume's `C<sig>` or
`c`), or never stops at all when `handle ... nostop` put it in QPassSignals;
gdb's `signal SIGUSR2` runs the guest's handler at once; a fault is seen
before the guest dies of it; a detach at a signal stop passes the signal on
only if gdb's `handle` lets the program see it (QProgramSignals).  The guest
is gdb_signals.c: SIGUSR1 and SIGUSR2 handlers count, it raises SIGUSR1 and
prints both counts, or stores to 0."""

import re

USR1 = "Program received signal SIGUSR1, User defined signal 1."


def test_signal_stops_then_is_passed(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["continue", "continue"], args=("usr1",))
    assert out.count(USR1) == 1, out
    assert rc == 0 and "usr1 handler ran 1" in stdout, stdout


def test_signal_nopass_is_discarded(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["handle SIGUSR1 nopass", "continue", "continue"],
                                args=("usr1",))
    assert out.count(USR1) == 1, out
    assert rc == 0 and "usr1 handler ran 0" in stdout, stdout


def test_signal_nostop_goes_through_without_a_stop(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["handle SIGUSR1 nostop noprint pass", "continue"],
                                args=("usr1",))
    assert USR1 not in out, out
    assert "exited normally" in out, out
    assert rc == 0 and "usr1 handler ran 1" in stdout, stdout


def test_catch_signal(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["catch signal SIGUSR1", "continue", "bt 1", "continue"],
                                args=("usr1",))
    assert re.search(r"Catchpoint 1 \(signal SIGUSR1\)", out), out
    assert rc == 0 and "usr1 handler ran 1" in stdout, stdout


def test_gdb_sends_a_signal(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), [
        "handle SIGUSR1 nostop noprint pass", "break at_rest", "break on_usr2", "continue",
        "signal SIGUSR2", "bt 3", "delete", "continue"], args=("usr1",))
    assert "Breakpoint 1, at_rest ()" in out, out
    assert re.search(r"Breakpoint 2, on_usr2 \(sig=12\)", out), out
    assert re.search(r"#1\s+<signal handler called>\s*\n#2\s+at_rest \(\)", out), out
    assert rc == 0 and "usr1 handler ran 1" in stdout and "usr2 handler ran 1" in stdout, stdout


def test_fault_seen_before_death(gdb, program):
    out, (rc, _, err) = gdb(program("gdb_signals"), ["continue", "print $pc", "continue"], args=("segv",))
    assert "Program received signal SIGSEGV, Segmentation fault." in out, out
    assert re.search(r"^\d+\s+\*\(volatile int \*\)0 = 1;", out, re.M) and "<main+" in out, out   # at the store
    assert "Program terminated with signal SIGSEGV" in out, out
    assert rc == -11 and "SIGSEGV" in err


def test_detach_at_a_signal_stop_passes_it(gdb, program):
    """gdb's `handle` pass state reaches the stub (QProgramSignals): a detach
    from a thread stopped by a signal gdb passes delivers it."""
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["continue", "detach"], args=("usr1",))
    assert out.count(USR1) == 1 and "detached" in out, out
    assert rc == 0 and "usr1 handler ran 1" in stdout, stdout


def test_detach_at_a_nopass_signal_stop_discards_it(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_signals"), ["handle SIGUSR1 nopass", "continue", "detach"],
                                args=("usr1",))
    assert out.count(USR1) == 1 and "detached" in out, out
    assert rc == 0 and "usr1 handler ran 0" in stdout, stdout


def _detach_at_usr1(stub, program, program_signals):
    """At the packet level: stop at the SIGUSR1, maybe QProgramSignals, detach."""
    import socket
    from gdbstub_client import Client
    s = stub(program("gdb_signals"), args=("usr1",))
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=60))
    assert b"QProgramSignals+" in c.ask(b"qSupported:multiprocess+")
    P = s.proc.pid
    assert c.ask(b"vCont;c") == b"T1ethread:p%x.%x;" % (P, P)     # gdb's SIGUSR1 is 30
    if program_signals is not None:
        assert c.ask(b"QProgramSignals:" + program_signals) == b"OK"
    assert c.ask(b"D;%x" % P) == b"OK"
    rc, stdout, _ = s.finish()
    assert rc == 0
    return stdout


def test_program_signals_packet(stub, program):
    assert "usr1 handler ran 1" in _detach_at_usr1(stub, program, b"e;1e;1f")
    assert "usr1 handler ran 0" in _detach_at_usr1(stub, program, b"e;1f")
    assert "usr1 handler ran 0" in _detach_at_usr1(stub, program, b"")
    assert "usr1 handler ran 1" in _detach_at_usr1(stub, program, None)    # (not sent: all but TRAP, INT)
