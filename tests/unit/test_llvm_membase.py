"""Guest memory at a low host address (runtime/memory.py's LOW_BASE) and native
code that reaches it by a 32-bit displacement (llvm_jit.bind_memory):

* the first guest memory of a process goes at LOW_BASE, another one elsewhere,
  and LOW_BASE is free again once the first one's last view has gone;
* the base becomes a literal in the text only when it fits a displacement, and
  the host code then has no `movabs` of it;
* the same native code, with its memory at LOW_BASE and elsewhere, computes what
  the interpreter does: byte and word loads and stores in a loop (misaligned
  words take the callback), and a store to a read-only page faults at its
  instruction with the registers before it written back.
(Each case in a fresh process: which memory gets LOW_BASE depends on the
memories alive in it.)
"""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import llvm_jit
from pydbt.runtime import memory

HERE = os.path.dirname(os.path.abspath(__file__))


def run_py(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_memory_goes_low_and_the_place_comes_back():
    got = run_py("""
import gc, json
from pydbt.runtime.memory import GuestMemory, LOW_BASE, R, W
a = GuestMemory(space=1 << 24)
b = GuestMemory(space=1 << 24)
a.map(0x10000, 0x1000, R | W)
a.write(0x10010, b"hello")
a.store(0x10018, 0x1122334455667788, 8)
io = [a.read(0x10010, 5).decode(), hex(a.load(0x10018, 8)), a._rw.B[0x10010], type(a.buf[0x10010:0x10014]).__name__]
first = [a.host_base == LOW_BASE, b.host_base == LOW_BASE]
del a
gc.collect()
c = GuestMemory(space=1 << 24)
print(json.dumps([first, c.host_base == LOW_BASE, io]))
""")
    assert got == [[True, False], True, ["hello", "0x1122334455667788", ord("h"), "bytes"]]


def test_bind_memory_only_below_2_gib():
    text = f"%h = add i64 %a, {llvm_jit.MEM_OPERAND}\n"
    assert llvm_jit.bind_memory(text, {"pydbt_mem": memory.LOW_BASE}) == f"%h = add i64 %a, {memory.LOW_BASE}\n"
    assert llvm_jit.bind_memory(text, {"pydbt_mem": 0x7f0000000000}) == text
    assert llvm_jit.bind_memory(text, {"pydbt_mem": 1 << 31}) == text
    assert llvm_jit.bind_memory(text, {}) == text and llvm_jit.bind_memory(text, None) == text


# lui a0, DATA ; addi a1, a0, 0x400 ; addi a2, zero, 40
# L: lbu t0, 0(a0) ; sb t0, 0(a1) ; lw t1, 0(a0) (misaligned every 3 of 4) ; addi a0, a0, 1 ;
#    addi a1, a1, 1 ; addi a2, a2, -1 ; bne a2, zero, L
# ld t2, 8(a0) ; lui a3, DATA + 0x1000 (read-only) ; sd t2, 16(a3) (faults) ; addi a4, zero, 9 ; ebreak
PROGRAM = """
import gc, json, sys
import test_backends as tb
from pydbt.backends import llvm_jit
from pydbt.runtime.memory import GuestMemory, LOW_BASE

def addi(rd, rs1, imm):
    return ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13

words = [0x20 << 12 | 10 << 7 | 0x37, addi(11, 10, 0x400), addi(12, 0, 40),
         tb._load(4, 5, 10, 0), tb._store(0, 5, 11, 0), tb._load(2, 6, 10, 0), addi(10, 10, 1),
         addi(11, 11, 1), addi(12, 12, -1), tb._btype(1, 12, 0, -24),
         tb._load(3, 7, 10, 8), 0x21 << 12 | 13 << 7 | 0x37, tb._store(3, 7, 13, 16), addi(14, 0, 9), 0x00100073]
bases = []

class Recorded(GuestMemory):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        bases.append(self.host_base == LOW_BASE)

tb.GuestMemory = Recorded

def run(backend):
    r = tb.machine_state(backend, words, [0] * 32, [0] * 32, 0, pending=[])
    gc.collect()
    return repr(r)

where = sys.argv[1]
blocker = Recorded(space=1 << 24) if where == "high" else None
native = run("llvm")
bound = llvm_jit._bound[0] == LOW_BASE
ref = run("interp")
print(json.dumps([bases[-2], bound, native == ref, ref[:80]]))
"""


@pytest.mark.parametrize("where", ["low", "high"])
def test_native_code_on_either_base_is_the_interpreters(where):
    code = PROGRAM.replace("sys.argv[1]", repr(where))
    low, bound, same, head = run_py(code)
    assert low == (where == "low")
    assert bound == (where == "low")               # (the literal only for the low base)
    assert same, head
    # SIGSEGV (SEGV_ACCERR) at the sd (CODE + 48) for DATA + 0x1010, after all 40 rounds (t0 = 39)
    assert head.startswith("(('fault', <Signals.SIGSEGV: 11>, 2, 135184, 65584, 65584), [0, 0, 0, 0, 0, 39, "), head


def test_the_bound_text_is_the_same_at_the_low_base_again(tmp_path):
    """Two memories at LOW_BASE one after the other (the first gone): the second
    compile of the same block is a disk hit, and both compute the sum."""
    got = run_py(f"""
import gc, json
import test_llvm_cache as t
from pydbt.backends import llvm_cache
from pydbt.runtime.memory import LOW_BASE
t._shared_modules()
llvm_cache.configure({str(tmp_path)!r})
before = t._counts()
f1, cpu1, m1 = t._native(5)
first = [m1.host_base == LOW_BASE, t._run(f1, cpu1)]
del f1, cpu1, m1
gc.collect()
f2, cpu2, m2 = t._native(5)
print(json.dumps([first, m2.host_base == LOW_BASE, t._run(f2, cpu2), t._delta(before)]))
""")
    want = sum(3 * i + 1 for i in range(16)) + 5
    assert got == [[True, want], True, want, {"native_compiles": 1, "native_cache_hits": 1, "native_cache_misses": 1}]
