"""Native code's fault table (backends/faults.py) and the host protections it
relies on (runtime/memory.py's host_prot, native_guards):

* a load that faults at a pc in the table goes on at its handler, whatever
  the address; entries go with their owner only (code linked since at the same
  pc keeps its own); a grown table keeps them all;
* a fault elsewhere, or a SIGSEGV sent by a process, gets the action there
  was before (death by SIGSEGV, faulthandler's report), also after pydbt set a
  Python handler for the guest (`take_back`);
* host pages follow the guest's map: PROT_NONE where the guest has no access
  (unmapped, PROT_NONE), readable and writable elsewhere; poke writes into a
  PROT_NONE page; the guard ranges are reserved around the space.
Signal handlers are the process's: each case runs in a fresh one.
"""
import json
import os
import signal
import subprocess
import sys

import pytest

from pydbt.backends import faults, hostcpu

pytestmark = pytest.mark.skipif(hostcpu.unsupported() is not None, reason="an x86-64 host's machine code")

HERE = os.path.dirname(os.path.abspath(__file__))

LOADER = """
import ctypes, json, os, signal, sys
from pydbt.backends import faults
from pydbt.backends.codearena import ARENA
from pydbt.backends.x64asm import Asm, mem, RAX, RDI

def load_fn():
    # (rax = [rdi]; the handler: rax = 77)
    a = Asm()
    h = a.label()
    a.mov(RAX, mem(RDI))
    a.ret()
    a.bind(h)
    a.mov_imm(RAX, 77)
    a.ret()
    code = ARENA.place(a.finish())
    return code, code.addr + h.pos, ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(code.addr)
"""


def run_py(code, expect_rc=0):
    out = subprocess.run([sys.executable, "-c", LOADER + code], capture_output=True, text=True, cwd=HERE,
                         timeout=120)
    assert out.returncode == expect_rc, out.stderr
    return out


def test_a_fault_in_the_table_goes_on_at_its_handler():
    out = run_py("""
code, handler, fn = load_fn()
x = ctypes.c_int64(5)
faults.install()
owner, other = object(), object()
faults.add(owner, [(code.addr, handler)])
got = [fn(ctypes.addressof(x)), fn(0), fn(8), fn(1 << 47), fn(0xdead000000000000)]
# (grown: 3000 more entries; the first is still found)
faults.add(other, [(code.addr + 4096 + 16 * i, 1) for i in range(3000)])
got += [fn(0), faults.lookup(code.addr) == handler, faults.faults_sent()]
# (another owner's entry at the same pc, linked since: the first owner's removal keeps it)
faults.add(other, [(code.addr, handler)])
faults.remove(owner, [code.addr])
got.append(faults.lookup(code.addr) == handler)
faults.remove(other, [code.addr])
got.append(faults.lookup(code.addr))
print(json.dumps(got))
""")
    assert json.loads(out.stdout) == [5, 77, 77, 77, 77, 77, True, 5, True, None]


@pytest.mark.parametrize("how", ["unknown-pc", "removed", "sent"])
def test_what_is_not_native_codes_gets_the_action_before(how):
    """The default action: pydbt dies of SIGSEGV, as a waiting parent must see."""
    out = run_py(f"""
code, handler, fn = load_fn()
faults.install()
owner = object()
faults.add(owner, [(code.addr, handler)])
assert fn(0) == 77
if {how!r} == "removed":
    faults.remove(owner, [code.addr])
if {how!r} == "sent":
    os.kill(os.getpid(), signal.SIGSEGV)
elif {how!r} == "unknown-pc":
    ctypes.string_at(8, 1)
else:
    fn(0)
print("survived")
""", expect_rc=-signal.SIGSEGV)
    assert "survived" not in out.stdout


def test_faulthandler_before_still_reports():
    out = run_py("""
import faulthandler
faulthandler.enable()
code, handler, fn = load_fn()
faults.install()
faults.add(object(), [(code.addr, handler)])
assert fn(0) == 77
ctypes.string_at(8, 1)
""", expect_rc=-signal.SIGSEGV)
    assert "Fatal Python error: Segmentation fault" in out.stderr


def test_the_guests_handler_for_sent_signals_and_the_table_both_work():
    """pydbt gives SIGSEGV a Python handler when the guest handles it (signals.py);
    take_back keeps the fault handler first and that handler for the rest."""
    out = run_py("""
from pydbt.runtime import signals
code, handler, fn = load_fn()
faults.install()
faults.add(object(), [(code.addr, handler)])
seen = []
signal.signal(signal.SIGSEGV, lambda s, f: seen.append(s))
signals._reclaim(signal.SIGSEGV)
os.kill(os.getpid(), signal.SIGSEGV)
print(json.dumps([fn(0), seen, faults.faults_sent()]))
""")
    assert json.loads(out.stdout) == [77, [signal.SIGSEGV], 1]


HOST_PROTS = """
def host_prots(mem, start, end, unit=4096):
    # the host protection ('rw', 'r', 'none') of each `unit` bytes of [start, end)
    out = [None] * ((end - start) // unit)
    with open("/proc/self/maps") as f:
        for line in f:
            rng, perms = line.split()[:2]
            lo, hi = (int(x, 16) - mem.host_base for x in rng.split("-"))
            for i in range(max(lo, start) - start, min(hi, end) - start, unit):
                out[i // unit] = {"rw": "rw", "r-": "r", "--": "none"}[perms[:2]]
    return out
"""


def test_host_pages_follow_the_guests_map():
    """(in a fresh process: the first memory goes at LOW_BASE, where its guards fit)"""
    out = run_py(HOST_PROTS + """
from pydbt.runtime.memory import GuestMemory, R, W, PAGE, GUARD_BELOW, GUARD_ABOVE
m = GuestMemory(space=1 << 26)
base = 0x100000
got = [sorted(set(host_prots(m, 0, m.space, 1 << 20)))]
m.map(base, 4 * PAGE, R | W)
m.write(base, b"abc")
m.protect(base + PAGE, PAGE, 0)
m.unmap(base + 2 * PAGE, PAGE)
m.protect(base + 3 * PAGE, PAGE, R)
got.append(host_prots(m, base - PAGE, base + 5 * PAGE))
# (poke, as the loader and gdb do, into a page the guest cannot access)
m.poke(base + PAGE + 8, b"hidden")
import pydbt.runtime.memory as M
M.PROC_MEM_WRITES = "/nonexistent"           # (a kernel refusing /proc/self/mem writes)
m.poke(base + PAGE + 16, b"too")
got.append(host_prots(m, base, base + 2 * PAGE))
m.protect(base + PAGE, PAGE, R)
got.append([m.read(base + PAGE + 8, 6).decode(), m.read(base + PAGE + 16, 3).decode(), m.read(base, 3).decode()])
m.reset()
got.append(sorted(set(host_prots(m, 0, m.space, 1 << 20))))
got.append([m.native_guards(), m.native_guards()])
got.append(sorted(set(host_prots(m, -GUARD_BELOW, 0, 1 << 20))))
got.append(sorted(set(host_prots(m, m.space, m.space + GUARD_ABOVE, 1 << 30))))
print(json.dumps(got))
""")
    assert json.loads(out.stdout) == [
        ["none"], ["none", "rw", "none", "none", "rw", "none"], ["rw", "none"], ["hidden", "too", "abc"],
        ["none"], [True, True],
        ["none"], ["none"]]


def test_host_pages_writable_only_where_native_code_may_store():
    """protect_writes: a page the guest may only read, or holding translated
    code, is read-only on the host; Python's writes still land (a checked
    store drops the code it hits and the page's protection with it; poke
    writes through /proc/self/mem; before_host_write before the kernel's)"""
    out = run_py(HOST_PROTS + """
from pydbt.runtime.memory import GuestMemory, R, W, X, PAGE
m = GuestMemory(space=1 << 26)
base = 0x100000
m.map(base, 4 * PAGE, R | W | X)
m.protect(base + PAGE, PAGE, R)
dropped = []
m.on_code_write = lambda pg: (dropped.append(pg - (base >> 12)), m.unmark_code(pg))
m.mark_code((base >> 12) + 2)
m.mark_code((base >> 12) + 3)
got = [host_prots(m, base, base + 4 * PAGE)]
m.protect_for_stores()
got.append(host_prots(m, base, base + 4 * PAGE))
m.store(base + 2 * PAGE + 8, 0x41, 1)           # (the checked path: the code goes, the page opens)
m.poke(base + PAGE, b"ro")                      # (a page the guest may only read)
m.before_host_write(base + 3 * PAGE, 16)
got.append(host_prots(m, base, base + 4 * PAGE))
got.append([dropped, m.read(base + PAGE, 2).decode(), m.read(base + 2 * PAGE + 8, 1).decode()])
m.mark_code((base >> 12) + 3)
got.append(host_prots(m, base + 3 * PAGE, base + 4 * PAGE))
m.reset()
got.append(m.protect_writes)
print(json.dumps(got))
""")
    assert json.loads(out.stdout) == [
        ["rw", "rw", "rw", "rw"], ["rw", "r", "r", "r"], ["rw", "r", "rw", "rw"], [[2, 3], "ro", "A"],
        ["r"], False]


WRITER = HOST_PROTS + """
from pydbt.runtime.memory import GuestMemory, R, W, X, PAGE
m = GuestMemory(space=1 << 26)
base = 0x100000
m.map(base, 2 * PAGE, R | W | X)
m.protect(base + PAGE, PAGE, R)
perm = (ctypes.c_char * len(m.perm)).from_buffer(m.perm)
marks = (ctypes.c_uint8 * len(m.perm))()
faults.protect_writes(m.host_base, m.space, perm, marks)
m.mark_code(base >> 12)
m.protect_for_stores()
"""


def test_a_write_into_a_code_page_by_other_code_opens_it():
    """(the handler) a write that is not native code's into a page the guest
    may write, write-protected because translated code lies there (another
    thread marked it meanwhile), makes the page writable, goes again, and
    leaves the page for written_pages (the engine drops its code)"""
    out = run_py(WRITER + """
before = host_prots(m, base, base + PAGE)
ctypes.memmove(m.host_base + base + 100, b"xyz", 3)
print(json.dumps([before, host_prots(m, base, base + PAGE), m.read(base + 100, 3).decode(),
                  [p - (base >> 12) for p in faults.written_pages(marks)], faults.written_pages(marks)]))
""")
    assert json.loads(out.stdout) == [["r"], ["rw"], "xyz", [0], []]


def test_a_write_into_a_page_the_guest_may_only_read_still_kills():
    """(the handler) a page the guest may not write: the fault is no write
    into code, the action before gets it (death by SIGSEGV)"""
    run_py(WRITER + """
ctypes.memmove(m.host_base + base + PAGE + 8, b"no", 2)
print("written")
""", expect_rc=-signal.SIGSEGV)


def test_a_removal_under_the_lock_waits_for_its_holder():
    """remove() is a finalizer: the cyclic GC may run it inside add(), under
    the table's lock in the same thread (this deadlocked: an execve'd
    program's freed code collected while a region's accesses were entered)."""
    owner, other = object(), object()
    faults.add(owner, [(0x10_0000, 0x20_0000)])
    with faults._lock:
        faults.remove(owner, [0x10_0000])          # (returns at once: taken out later)
    faults.add(other, [(0x30_0000, 0x40_0000)])    # (the lock's next holder takes it out)
    assert faults.lookup(0x10_0000) is None and faults.lookup(0x30_0000) == 0x40_0000
    faults.remove(other, [0x30_0000])
    assert faults.lookup(0x30_0000) is None
    # (so does a memory's unprotect_writes, the finalizer of a GuestMemory: it
    # hung a worker on 3.13, collected inside protect_writes)
    with faults._lock:
        faults.unprotect_writes(object())          # (not the current memory's: a no-op, later)
    faults.add(other, [(0x50_0000, 0x60_0000)])
    assert not faults._pending
