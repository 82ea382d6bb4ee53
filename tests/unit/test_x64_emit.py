"""The baseline tier's code generator (backends/x64_emit.py): what it makes
cheaper, checked against the interpreter (the oracle) and by exact counts in
its code.

* accesses off one base share one check (the group's range, two permission
  bytes), whatever the base: inside a page, across two allowed pages, across
  into a read-only or unmapped page (then every access takes the callback:
  exact, faults precise);
* a slow access calls the TB's shared routine (one per kind), not its own copy;
* stores of constants of every size (an immediate where one fits);
* an output in the register of an input dying at its op (x op x, shifts by
  the value shifted).
"""
import pytest

from pydbt.backends import get_backend
from pydbt.passes import optimize
from pydbt.frontends.riscv64.translate import translate
from pydbt.backends import baseline

from test_backends import (GROUP, machine_state, _load, _store, Ctx, GuestMemoryWith, CODE, DATA, M64)

pytestmark = pytest.mark.skipif(baseline.unsupported() is not None, reason="no x86-64 host")



def _asm(words):
    blk = translate(GuestMemoryWith(words), CODE, 64)
    optimize(blk)
    fn = get_backend("baseline").compile(blk, Ctx(blk, GuestMemoryWith(words), None))
    return baseline.disassemble(fn)


def test_one_check_for_a_group():
    """six accesses off a0: one range check (its two permission bytes), then
    one compare of the group's answer each; one callback routine per kind of
    access"""
    code = _asm(GROUP)
    assert code.count("movzx ecx, byte ptr [rdx + rcx]") == 2, code
    # the shim, called from the TB's slow-path routines only: one per kind of
    # access (ld, lw, lbu; sd, sw), not one per access
    assert code.count("call rdx") == 5, code


@pytest.mark.parametrize("base", [DATA + 8, DATA + 0x1000 - 16, DATA + 0x1000 - 8, DATA + 0x1000 + 8,
                                  DATA + 0x1000 - 12, DATA + 0x2000 - 16, DATA + 0x2000, DATA + 0x2000 - 24,
                                  CODE + 0x100, 8, M64 - 3])
def test_group_answers_as_the_interpreter(base):
    """inside a page, across a writable into the read-only page (the stores
    must fault exactly), off the end of the data, into the code page
    (stores there: the callback), near 0 and wrapping"""
    regs = [0] * 32
    regs[10], regs[11], regs[13] = base, 0x1122334455667788, 0xdeadbeef
    want = machine_state("interp", GROUP, regs, [0] * 32, 0)
    assert machine_state("baseline", GROUP, regs, [0] * 32, 0) == want


def _li(rd, v):
    """lui + addi(w) loading a 32-bit signed v"""
    hi = (v + 0x800) >> 12 & 0xfffff
    lo = v & 0xfff
    return [(hi << 12) | (rd << 7) | 0x37, (lo << 20) | (rd << 15) | (0 << 12) | (rd << 7) | 0x1b]


@pytest.mark.parametrize("value", [0, 1, -1, 0x7ff, -0x80000000, 0x12345678, 0x7fffffff])
def test_constant_stores(value):
    """constants stored at every size (sb/sh/sw/sd, the optimizer folds the
    register into the store) equal the interpreter's bytes"""
    words = _li(11, value) + [_store(0, 11, 10, 0), _store(1, 11, 10, 2), _store(2, 11, 10, 4),
                              _store(3, 11, 10, 8), _store(3, 0, 10, 16), 0x00100073]
    regs = [0] * 32
    regs[10] = DATA + 0x40
    want = machine_state("interp", words, regs, [0] * 32, 0)
    assert machine_state("baseline", words, regs, [0] * 32, 0) == want


def _r(funct7, rs2, rs1, funct3, rd, opc=0x33):
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opc


@pytest.mark.parametrize("a0", [3, 0x8000_0001, M64, 0x1234_5678_9abc_def0, 63])
def test_outputs_in_dying_inputs(a0):
    """x op x and shifts of a value by itself (the output taking the input's
    register while it is still read), 32-bit forms (the high half)"""
    words = [_r(0, 10, 10, 0, 11),           # add a1, a0, a0
             _r(0, 11, 11, 1, 12),           # sll a2, a1, a1
             _r(0x20, 12, 12, 5, 13, 0x3b),  # sraw a3, a2, a2
             _r(1, 13, 13, 0, 14),           # mul a4, a3, a3
             _r(0, 14, 14, 4, 15),           # xor a5, a4, a4
             _r(0, 10, 14, 0, 16, 0x3b),     # addw a6, a4, a0
             _r(0x20, 16, 10, 0, 17),        # sub a7, a0, a6
             0x00100073]
    regs = [0] * 32
    regs[10] = a0
    want = machine_state("interp", words, regs, [0] * 32, 0)
    assert machine_state("baseline", words, regs, [0] * 32, 0) == want


RMW = [_load(3, 12, 10, 0),          # ld a2, 0(a0)
       (1 << 20) | (12 << 15) | (12 << 7) | 0x13,   # addi a2, a2, 1
       _store(3, 12, 10, 0),         # sd a2, 0(a0)
       0x00100073]                   # ebreak


def test_one_page_check_when_an_access_covers_its_group():
    """a load and a store of one doubleword: the group's check is the load's
    own (aligned: one page, one permission byte)"""
    code = _asm(RMW)
    assert code.count("movzx ecx, byte ptr [rdx + rcx]") == 1, code


@pytest.mark.parametrize("base", [DATA + 8, DATA + 4, DATA + 0xffc, DATA + 0x1000, DATA + 0x2000, CODE + 8, 0])
def test_covered_group_answers_as_the_interpreter(base):
    """aligned, misaligned (the callback, across a page too), read-only (the
    store faults after the load), unmapped, the code page"""
    regs = [0] * 32
    regs[10] = base
    want = machine_state("interp", RMW, regs, [0] * 32, 0)
    assert machine_state("baseline", RMW, regs, [0] * 32, 0) == want
