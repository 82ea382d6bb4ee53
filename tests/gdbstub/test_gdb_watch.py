"""Watchpoints (Z2 write, Z3 read, Z4 access) with the real gdb and at the
packet level, on gdb_watch.c: a global written inside a hot loop (compiled by
the JIT: at once, after the tiers' threshold, natively, or interpreted), a read, an
access, a write from a second thread; and the guest memory's side (a watched
page's access-table entry goes and comes back) without gdb.

gdb's riscv target takes a watchpoint as firing before the access and steps
over the instruction itself, so the stub reports the stop before the access;
what the user sees is the stop after it (the store done, the pc at the next
instruction), which is what these tests check through gdb."""

import re
import socket
import subprocess
import threading

import pytest

from gdbstub_client import Client, NEEDS_LLVMLITE

from pydbt.errors import Watchpoint
from pydbt.runtime.memory import GuestMemory, WATCH, R, W

LOOP_N = 20000
LOOP_OUT = f"acc={LOOP_N * (LOOP_N - 1) // 2} watched={LOOP_N - 1} sink=10 by_thread=42"


def _symbols(path):
    out = subprocess.run(["riscv64-linux-gnu-nm", str(path)], capture_output=True, text=True).stdout
    return {m.group(2): int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) \w (\w+)$", out, re.M)}


@pytest.mark.parametrize("opts", [(), ("-jit-threshold", "0"), ("-backend", "interp"),
                                  pytest.param(("-backend", "llvm", "-jit-threshold", "0"), marks=NEEDS_LLVMLITE)],
                         ids=["tiered", "jit-at-once", "interp", "llvm"])
def test_watch_in_hot_loop(gdb, program, opts):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "watch watched", "continue", "print $pc", "x/i $pc - 2", "continue", "info watchpoints",
        "delete", "continue"], args=("loop", str(LOOP_N)), opts=opts)
    assert "Hardware watchpoint 1: watched" in out, out
    assert re.search(r"Old value = 0\nNew value = 999\n", out), out
    assert re.search(r"Old value = 999\nNew value = 1999\n", out), out
    # stopped after the store (a compressed sd, 2 bytes): the pc is the next instruction
    assert re.search(r"<loop\+\d+>:\s+sd\s+a4,0\(a5\)", out), out
    assert "breakpoint already hit 2 times" in out, out
    assert "exited normally" in out, out
    assert rc == 0 and LOOP_OUT in stdout, (out, stdout)


@NEEDS_LLVMLITE
def test_rwatch_on_a_load_native_code_made_unchecked(gdb, program):
    """A loop runs as native code whose loads check nothing (llvm_emit's fault
    loads); a read watch set then must stop at its next read: the first watch
    drops native code, and what is made while it is on checks its loads."""
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "break midpoint", "continue", "rwatch readme", "continue", "bt 1", "delete", "continue"],
        args=("reread", "20000"), opts=("-backend", "llvm", "-jit-threshold", "0", "-sync-compile"))
    assert "Breakpoint 1, " in out and " midpoint " in out, out
    assert re.search(r"Hardware read watchpoint 2: readme\n\nValue = 5\n", out), out
    assert re.search(r"#0 .* in reread \(", out) or re.search(r"#0\s+reread \(", out), out
    assert "exited normally" in out, out
    assert rc == 0 and "reread=200000" in stdout, (out, stdout)


def test_rwatch_and_awatch(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "rwatch readme", "awatch sink", "continue", "bt 1", "continue", "continue", "delete", "continue"])
    # reader(): sink = readme * 2 reads readme (rwatch), then writes sink (awatch)
    assert re.search(r"Hardware read watchpoint 1: readme\n\nValue = 5\n.* in reader \(\)", out), out
    assert re.search(r"Hardware access \(read/write\) watchpoint 2: sink\n\nOld value = 0\nNew value = 10\n", out), out
    # then main's printf reads sink
    assert re.search(r"Hardware access \(read/write\) watchpoint 2: sink\n\nValue = 10\n.* in main ", out), out
    assert rc == 0 and "sink=10" in stdout


def test_watch_hit_in_second_thread(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_watch"), [
        "watch by_thread", "continue", "info threads", "print $_thread", "delete", "continue"])
    assert re.search(r'Thread 2 "watcher" hit Hardware watchpoint 1: by_thread\n\nOld value = 0\n'
                     r'New value = 42\n', out), out
    assert re.search(r"\* 2\s+Thread \d+\.\d+ \"watcher\"\s+worker \(arg=0x2a\)", out), out
    assert re.search(r"^\s+1\s+Thread \d+\.\d+ \"gdb_watch\"", out, re.M), out    # (PR_SET_NAME is per thread)
    assert rc == 0 and "by_thread=42" in stdout


def test_watch_packets(stub, program):
    """Z2 of 4 bytes in the middle of an 8-byte global: the store covering it stops
    before the access with watch:<the watched address>; a step (the watchpoint
    removed, as gdb does) completes it; the kind and the length of each packet count."""
    prog = program("gdb_watch")
    sym = _symbols(prog)
    s = stub(prog, args=("loop", "3000"))
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=30))
    c.ask(b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+")
    P = s.proc.pid
    w = sym["watched"]
    assert c.ask(b"Z3,%x,8" % w) == b"OK"           # a read watch on it: never hit (only written)
    assert c.ask(b"Z2,%x,4" % (w + 4)) == b"OK"
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop == b"T05watch:%x;thread:p%x.%x;" % (w + 4, P, P), stop
    pc = int.from_bytes(bytes.fromhex(c.ask(b"p20").decode()), "little")
    assert c.ask(b"m%x,2" % pc) == b"98e3"          # sd a4,0(a5): not done yet
    assert c.ask(b"m%x,8" % w) == b"00" * 8
    assert c.ask(b"z2,%x,4" % (w + 4)) == b"OK"
    assert c.ask(b"vCont;s:p%x.%x" % (P, P)) == b"T05thread:p%x.%x;" % (P, P)
    assert int.from_bytes(bytes.fromhex(c.ask(b"p20").decode()), "little") == pc + 2
    assert c.ask(b"m%x,8" % w) == (999).to_bytes(8, "little").hex().encode()
    assert c.ask(b"Z4,%x,1" % (w + 1)) == b"OK"     # one byte: the next store hits it
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop == b"T05awatch:%x;thread:p%x.%x;" % (w + 1, P, P), stop
    assert c.ask(b"z4,%x,1" % (w + 1)) == b"OK"
    assert c.ask(b"z3,%x,8" % w) == b"OK"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W00;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 0 and "watched=2999" in out
    c.sock.close()


def test_watched_page_checked_then_fast_again():
    """Without gdb: a watched page loses its access-table entry (so translated code
    takes the checked path), keeps WATCH over mprotect, raises Watchpoint only for
    the watched kind and range, not for a thread whose checks are off; removing
    the watch gives the page its fast entry back."""
    mem = GuestMemory(1 << 24)
    base = 0x100000
    mem.map(base, 0x3000, R | W)
    pg = (base + 0x1000) >> 12
    fast = mem.access_table()[pg]                   # (made now: from the permissions so far)
    assert fast is not None and hasattr(fast, "wQ")
    mem.set_watches([(base + 0x1010, 4, "watch"), (base + 0x1020, 8, "rwatch")])
    assert mem.pages[pg] is None and mem.perm[pg] & WATCH
    assert mem.pages[pg - 1] is fast and not mem.perm[pg - 1] & WATCH
    mem.store(base + 0x1000, 7, 8)                   # same page, outside the ranges: fine
    assert mem.load(base + 0x1010, 4) == 0           # a read of a write watch: fine
    with pytest.raises(Watchpoint) as e:
        mem.store(base + 0x100c, 0x1122334455667788, 8)     # overlaps the write watch
    assert (e.value.kind, e.value.addr) == ("watch", base + 0x1010)
    assert mem.load(base + 0x100c, 8) == 0           # raised before the access
    with pytest.raises(Watchpoint) as e:
        mem.load(base + 0x1027, 1)
    assert (e.value.kind, e.value.addr) == ("rwatch", base + 0x1027)
    mem.write(base + 0x1010, b"\1\2\3\4")            # bulk (syscall) paths never check
    assert mem.read(base + 0x1020, 8) == bytes(8)
    mem.protect(base, 0x3000, R)
    assert mem.pages[pg] is None and mem.perm[pg] & WATCH
    mem.protect(base, 0x3000, R | W)
    done = []

    def quiet_thread():
        mem.watch_off.add(threading.get_ident())
        mem.store(base + 0x1010, 5, 4)
        done.append(mem.load(base + 0x1020, 8))
    t = threading.Thread(target=quiet_thread)
    t.start()
    t.join(10)
    assert done == [0] and mem.load(base + 0x1010, 4) == 5
    mem.set_watches([])
    assert mem.pages[pg] is fast and not mem.perm[pg] & WATCH
    mem.store(base + 0x1010, 9, 4)
    assert mem.load(base + 0x1010, 4) == 9
