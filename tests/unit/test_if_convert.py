"""passes.if_convert: a branch over a few pure instructions becomes straight-line
code with movconds, on native tiers only, computing what the branch did (registers,
exits, the exact count of instructions) on every backend."""
import pytest

from pydbt.backends import NAMES
from pydbt.frontends.riscv64.translate import translate
from pydbt.ir import verify
from pydbt.passes import optimize
from pydbt.runtime.memory import GuestMemory, R, X

from test_backends import CODE, SPACE, _btype, machine_state


def _i(rd, rs1, imm, funct3=0):          # addi (funct3 0), xori (4), andi (7)
    return ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x13


def _r(rd, rs1, rs2, funct3, funct7=0):  # add (0), xor (4), or (6)
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x33


J_OUT = 0x00008067                       # jr ra: the block's end (an indirect exit)
T1, A1, A3, A4, A5 = 6, 11, 13, 14, 15

# intloop's shape: t1 = a1 & 1; if (t1 != 0) { a3 += 5; a4 ^= a3 }; a5 += 1
TRIANGLE = [_i(T1, A1, 1, 7),
            _btype(0, T1, 0, 12),        # beq t1, zero, +12 (over the next two)
            _i(A3, A3, 5),
            _r(A4, A4, A3, 4),
            _i(A5, A5, 1),
            J_OUT]


def _block(words, native):
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | X)
    mem.poke(CODE, b"".join(w.to_bytes(4, "little") for w in words))
    blk = translate(mem, CODE, 64, superblock=True)
    optimize(blk, native=native)
    verify(blk)
    return [op.name for op in blk.ops]


def test_a_short_branch_becomes_movconds_for_native_code_only():
    native, python = _block(TRIANGLE, True), _block(TRIANGLE, False)
    assert "brcond" not in native and "label" not in native
    assert native.count("movcond") == 2 and native.count("skipped") == 1
    assert "brcond" in python and "movcond" not in python and "skipped" not in python


@pytest.mark.parametrize("a1", [0, 1, 2, 3])
def test_converted_code_computes_what_the_branch_did(a1):
    """every backend (the native ones run the converted block) = the interpreter
    (the branch): registers, the exit, and the instructions counted (2 fewer
    when the branch is taken)"""
    regs = [0] * 32
    regs[1], regs[A1], regs[A3], regs[A4], regs[A5] = 0x4000, a1, 100, 0x55, 7
    results = {b: machine_state(b, TRIANGLE, regs, [0] * 32, 0) for b in NAMES}
    assert len({repr(r) for r in results.values()}) == 1, results
    end, got = results["interp"][0], results["interp"][1]
    assert end == ("exit", ("goto_ptr", 0x4000), 6 if a1 & 1 else 4)
    assert (got[A3], got[A4], got[A5]) == ((105, 0x55 ^ 105, 8) if a1 & 1 else (100, 0x55, 8))


@pytest.mark.parametrize("words", [
    # a load on the path: it may fault
    [_btype(0, A1, 0, 8), 0x0005b683, J_OUT],                     # beq a1, 0, +8; ld a3, 0(a1)
    # an exit on the path
    [_btype(0, A1, 0, 8), J_OUT, J_OUT],
    # more than CONVERT_OPS ops
    [_btype(0, A1, 0, 4 * 11)] + [_i(A3, A3, k) for k in range(10)] + [J_OUT],
    # more than SELECT_MAX registers set
    [_btype(0, A1, 0, 4 * 5)] + [_i(r, r, 1) for r in (12, 13, 14, 15)] + [J_OUT],
    # the label is a join of two branches
    [_btype(0, A1, 0, 12), _btype(1, A3, 0, 8), _i(A4, A4, 1), J_OUT],
], ids=["load", "exit", "long", "wide", "join"])
def test_what_is_not_converted(words):
    assert "brcond" in _block(words, True)
