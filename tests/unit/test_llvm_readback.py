"""Leaving native code, Python reads back only the registers native code wrote
back (llvm.NativeState._run): each TB's exit ORs a bit per register it writes
back into ctx word CTX_DIRTY (llvm_emit.Emitter.leave_block), and `_readback`
reads those words.

- `_readback(mask)` reads exactly the words of the mask's registers;
- after a run of a loop that writes a0 alone, the word says a0 alone, and
  Python's other registers keep their values.
Oracle: the registers each guest block writes, and the interpreter's results.
"""
import ctypes
import struct

import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import llvm
from pydbt.backends import llvm_emit as E
from pydbt.errors import Syscall

from test_promotion import A0, A1, CODE, LOOP, engine_rig


@pytest.mark.parametrize("mask", [1, 1 << 63, 0b1011, (1 << llvm.READBACK_MAX) - 1, 1 << 10 | 1 << 31 | 1 << 32])
def test_readback_reads_the_words_of_the_masks_registers(mask):
    w = (ctypes.c_uint64 * E.CTX_WORDS)(*[1000 + i for i in range(E.CTX_WORDS)])
    st, idx = llvm._readback(mask)
    assert idx == tuple(g for g in range(64) if mask >> g & 1)
    assert st.unpack_from(w, 0) == tuple(1000 + g for g in idx)
    assert llvm._readback(mask)[0] is st                  # (made once per mask)


def test_many_registers_are_read_back_whole():
    assert llvm._readback((1 << (llvm.READBACK_MAX + 1)) - 1) is None
    assert llvm._readback((1 << 64) - 1) is None


def _native_loop():
    proc, engine = engine_rig(LOOP, (1,), backends=("interp", "llvm"), sync=True)
    cpu = proc.cpu
    for _ in range(3):
        cpu.pc, cpu.regs[A0], cpu.regs[A1] = CODE, 0, 5
        with pytest.raises(Syscall):
            engine.run_until_exception(cpu)
    tb = engine.cache.get(CODE)
    assert engine.tiers[tb.tier].name == "llvm"
    return proc, engine


def test_after_a_run_the_dirty_word_names_the_registers_written_back():
    proc, engine = _native_loop()
    cpu = proc.cpu
    cpu.regs[5], cpu.regs[A1] = 1234, 100
    cpu.pc, cpu.regs[A0] = CODE, 0
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)
    assert cpu.regs[A0] == 100 and cpu.regs[5] == 1234 and cpu.regs[A1] == 100
    nc = llvm._ctx(cpu)
    assert nc.words[E.CTX_DIRTY] == 1 << A0                # (the loop writes a0 alone)
    s = struct.Struct(f"<{len(cpu.regs)}Q")
    assert list(s.unpack_from(nc.words, 0)) == cpu.regs   # (and Python has what native code has)
