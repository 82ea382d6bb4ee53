"""Range stepping (`vCont;r<start>,<end>`): the stub steps while the pc stays
in [start, end) and reports one T05 when it leaves, as gdbserver does.

gdb 13 uses it for `step`/`next` only where it steps with the stub's single
step: riscv64 GNU/Linux steps in software (breakpoints at the next pcs: the
Linux kernel has no PTRACE_SINGLESTEP there), so the gdb tests choose
`set osabi none`, where gdb sends `vCont;s` and `vCont;r`.  The guest is
gdb_loops.c, built so that its one-line loop is one row of the line table."""

import re
import socket
import subprocess

from gdbstub_client import Client


LOOP_LINE = 18                        # do acc += ...; while (++i < n);  (in spin)


def _line_starts(path):
    """{line: first address} of gdb_loops.c, from the line table."""
    out = subprocess.run(["riscv64-linux-gnu-objdump", "--dwarf=decodedline", str(path)],
                         capture_output=True, text=True, check=True).stdout
    starts = {}
    for m in re.finditer(r"^gdb_loops\.c\s+(\d+)\s+(0x[0-9a-f]+)", out, re.M):
        starts.setdefault(int(m.group(1)), int(m.group(2), 16))
    return starts


def _next_over_loop(gdb, prog, *settings):
    out, (rc, stdout, _) = gdb(prog, [
        "break spin", "continue", "next", "set debug remote 1", "next", "set debug remote 0",
        "print acc", "print i", "next", "continue"], pre=settings)
    assert rc == 0 and "spin=1222773826" in stdout, (out, stdout)
    sent = re.findall(r"Sending packet: \$([^#]*)#", out)
    return out, sent


def test_next_over_a_loop_is_one_range_step(gdb, program):
    prog = program("gdb_loops")
    out, sent = _next_over_loop(gdb, prog, "set osabi none")
    starts = _line_starts(prog)
    resumes = [p for p in sent if p.startswith("vCont;")]
    assert resumes and resumes[0].startswith("vCont;r%x,%x:" % (starts[LOOP_LINE], starts[LOOP_LINE + 1])), out
    assert len(resumes) <= 2, resumes
    assert re.search(r"^19\s+return acc;", out, re.M), out
    assert "$1 = 1222773826" in out and "$2 = 200" in out, out
    assert re.search(r"^20\s+}", out, re.M), out


def test_same_results_without_range_stepping(gdb, program):
    """gdb steps one instruction a packet (range-stepping off) and in software
    (GNU/Linux osabi): the same line and values, with far more packets."""
    prog = program("gdb_loops")
    ranged = _next_over_loop(gdb, prog, "set osabi none")
    for settings in (("set osabi none", "set range-stepping off"), ()):
        out, sent = _next_over_loop(gdb, prog, *settings)
        assert not any(p.startswith("vCont;r") for p in sent), sent[:5]
        assert len(sent) > 50 * len(ranged[1]), (len(sent), len(ranged[1]))
        assert re.search(r"^19\s+return acc;", out, re.M) and "$1 = 1222773826" in out and "$2 = 200" in out, out


def _client(stub, prog):
    s = stub(prog)
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=60))
    c.ask(b"qSupported:multiprocess+;swbreak+")
    return s, c


def _pc(c):
    return int.from_bytes(bytes.fromhex(c.ask(b"p20").decode()), "little")


def test_range_step_packets(stub, program):
    prog = program("gdb_loops")
    starts = _line_starts(prog)
    lo, hi = starts[LOOP_LINE], starts[LOOP_LINE + 1]
    s, c = _client(stub, prog)
    P = s.proc.pid
    me = b"p%x.%x" % (P, P)
    assert c.ask(b"vCont?") == b"vCont;c;C;s;S;t;r"
    assert c.ask(b"Z0,%x,2" % lo) == b"OK"
    assert c.ask(b"vCont;c") == b"T05swbreak:;thread:%s;" % me
    assert _pc(c) == lo
    # a breakpoint inside the range is reported: the loop comes back to lo
    assert c.ask(b"vCont;s:%s" % me) == b"T05thread:%s;" % me
    first = _pc(c)
    assert lo < first < hi
    assert c.ask(b"vCont;r%x,%x:%s;c" % (lo, hi, me)) == b"T05swbreak:;thread:%s;" % me
    assert _pc(c) == lo
    # without it, the whole loop runs in one range step: the stop is the next line's start
    assert c.ask(b"z0,%x,2" % lo) == b"OK"
    assert c.ask(b"vCont;r%x,%x:%s" % (lo, hi, me)) == b"T05thread:%s;" % me
    assert _pc(c) == hi
    # a range the pc is not in: one instruction, as `s`
    assert c.ask(b"vCont;r0,4:%s" % me) == b"T05thread:%s;" % me
    assert hi < _pc(c) <= hi + 4
    # malformed ranges
    for bad in (b"vCont;r%x:%s" % (lo, me), b"vCont;rzz,4", b"vCont;r"):
        assert c.ask(bad) == b"E01", bad
    assert c.ask(b"vCont;c") == b"W00;process:%x" % P
    rc, stdout, _ = s.finish()
    assert rc == 0 and "spin=1222773826" in stdout
