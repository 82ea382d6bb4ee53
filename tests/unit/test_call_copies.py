"""A function called again in a superblock (frontends/riscv64/translate.py,
CALL_COPIES): its code is copied into the block, its loop closing inside the
copy and its return known from the new call, instead of the block ending at
the call (strings' my_strlen and my_memcpy, called twice per round).  Oracle:
the ISA's answer worked out by hand, on every backend."""
import pytest

from pydbt.backends import NAMES
from pydbt.frontends.riscv64.translate import CALL_COPIES, translate

from test_backends import machine_state, GuestMemoryWith, Ran, CODE

A0, A1, A2, T1, RA = 10, 11, 12, 6, 1
RET = 0x00008067


def addi(rd, rs1, imm):
    return (imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13


def add(rd, rs1, rs2):
    return rs2 << 20 | rs1 << 15 | rd << 7 | 0x33


def jal(rd, off):
    off &= 0x1fffff
    return ((off >> 20) << 31 | ((off >> 1) & 0x3ff) << 21 | ((off >> 11) & 1) << 20 |
            ((off >> 12) & 0xff) << 12 | rd << 7 | 0x6f)


def bnez(rs1, off):
    off &= 0x1fff
    return ((off >> 12) << 31 | ((off >> 5) & 0x3f) << 25 | rs1 << 15 | 1 << 12 |
            ((off >> 1) & 0xf) << 8 | ((off >> 11) & 1) << 7 | 0x63)


def program(calls):
    """main: `calls` times (jal f; a2 += a0), then j .+256; f: a0 += 3, a1 times (a loop)"""
    main = []
    f_at = 8 * calls + 4
    for k in range(calls):
        main += [jal(RA, f_at - 8 * k), add(A2, A2, A0)]
    main.append(jal(0, 256))
    f = [addi(T1, A1, 0), addi(A0, A0, 3), addi(T1, T1, -1), bnez(T1, -8), RET]
    return main + f, f_at


def _exits(blk):
    return sorted((op.name, op.consts[0] - CODE if op.name == "goto_tb" else None)
                  for op in blk.ops if op.name in ("goto_tb", "goto_ptr"))


@pytest.mark.parametrize("calls", [2, CALL_COPIES + 1, CALL_COPIES + 2])
def test_a_function_called_again_is_copied(calls):
    words, f_at = program(calls)
    end = CODE + 4 * len(words)
    ran = Ran(lambda a: CODE <= a < end)
    blk = translate(GuestMemoryWith(words), CODE, 128, profile=ran)
    addrs = [a - CODE for a, _ in blk.insns]
    copied = min(calls, CALL_COPIES + 1)
    assert addrs.count(f_at) == copied
    if calls <= CALL_COPIES + 1:
        assert _exits(blk) == [("goto_tb", 8 * calls + 256)]        # every return known, one exit
    else:                                                          # the next call exits to f
        assert _exits(blk) == [("goto_tb", f_at)]
    # each copy loops inside itself: one label per copy
    assert sum(1 for op in blk.ops if op.name == "label") >= copied
    regs = [0] * 32
    regs[A0], regs[A1] = 1, 4
    a0, a2 = 1, 0
    for _ in range(copied):
        a0 += 3 * 4
        a2 += a0
    for b in NAMES:
        r = machine_state(b, words, regs, [0] * 32, 0, pending=[], profile=ran)
        if calls <= CALL_COPIES + 1:
            assert r[0][:2] == ("exit", ("goto_tb", CODE + 8 * calls + 256)), b
            assert r[0][2] == 2 * calls + 1 + calls * (1 + 3 * 4 + 1), b      # instructions run
        else:
            assert r[0][:2] == ("exit", ("goto_tb", CODE + f_at)), b
        assert (r[1][A0], r[1][A2]) == (a0, a2), b


def test_a_recursive_call_is_not_copied():
    # 0: addi a1, a1, -1 ; 4: beqz... (a call of the block's own start ends it)
    # f at 0: a0 += 1 ; if a1 != 0: a1 -= 1, jal f ; ret
    words = [addi(A0, A0, 1), bnez(A1, 8), RET, addi(A1, A1, -1), jal(RA, -16), RET]
    ran = Ran(lambda a: CODE <= a < CODE + 4 * len(words))
    blk = translate(GuestMemoryWith(words), CODE, 128, profile=ran)
    assert [a - CODE for a, _ in blk.insns].count(0) == 1
