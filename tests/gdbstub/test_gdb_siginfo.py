"""qXfer:siginfo:read/write with the real gdb: `$_siginfo` of the SIGSEGV that
stopped the guest, in the guest's layout (si_signo, si_code SEGV_MAPERR,
si_addr), and an edit of si_addr that the guest's SA_SIGINFO handler then sees
(gdb_watch.c "segv-handled"); a stop that is no signal's (a breakpoint) is a
SIGTRAP with TRAP_BRKPT."""

import re


def test_siginfo_of_a_fault(gdb, program):
    out, (rc, _, _) = gdb(program("gdb_watch"), [
        "continue", "print $_siginfo.si_signo", "print $_siginfo.si_code",
        "print $_siginfo._sifields._sigfault.si_addr", "continue"], args=("segv",))
    assert "Program received signal SIGSEGV" in out, out
    assert re.findall(r"^\$\d+ = (.*)$", out, re.M) == ["11", "1", "(void *) 0x10"], out
    assert rc == -11


def test_siginfo_written_reaches_the_handler(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "continue", "set $_siginfo._sifields._sigfault.si_addr = (void *) 0x1234",
        "set $_siginfo.si_code = 2", "continue"], args=("segv-handled",))
    assert "Program received signal SIGSEGV" in out, out
    assert rc == 3 and "si_addr=0x1234 si_code=2" in stdout, (out, stdout)


def test_siginfo_of_a_breakpoint(gdb, program):
    out, (rc, _, _) = gdb(program("gdb_watch"), [
        "break reader", "continue", "print $_siginfo.si_signo", "print $_siginfo.si_code",
        "delete", "continue"])
    assert re.findall(r"^\$\d+ = (.*)$", out, re.M) == ["5", "1"], out
    assert rc == 0
