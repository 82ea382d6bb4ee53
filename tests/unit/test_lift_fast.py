"""The fast lifters (trans_rvi.py: ops appended directly) against the Builder
path they stand in for (trans_rvi.GENERIC): for random encodings of each
instruction they cover (every register including x0, 32- and 16-bit forms,
immediates of both signs) both must emit the same ops, op for op, with the
same temps, and leave the same control-flow request."""
import random

import pytest

from pydbt.builder import Builder
from pydbt.ir import Block, format_block
from pydbt.frontends.riscv64.decode import decode, ENCODINGS
from pydbt.frontends.riscv64.translate import Ctx
from pydbt.frontends.riscv64.lift import TRANS
from pydbt.frontends.riscv64 import trans_rvi


def _lift(fn, insn, pc, pre):
    block = Block(pc)
    ctx = Ctx(Builder(block))
    for _ in range(pre):                 # temps already numbered before this instruction
        block.temp(64)
    ctx.pc, ctx.next_pc, ctx.follow, ctx.ended = pc, pc + insn.size, None, False
    ctx.b.insn_start(pc)
    fn(ctx, insn)
    return format_block(block), block.ntemps, ctx.follow, ctx.ended


def _words(name, rng, n):
    rows = [r for r in ENCODINGS if r[0] == name]
    assert rows, name
    _, mask, match, _ = rows[0]
    out = []
    while len(out) < n:
        w = (rng.getrandbits(32) & ~mask) | match
        if decode(w) is not None and decode(w).name == name:
            out.append(w)
    return out


@pytest.mark.parametrize("name", sorted(trans_rvi.GENERIC))
def test_fast_equals_generic(name):
    assert TRANS[name] is not trans_rvi.GENERIC[name]
    rng = random.Random(name)
    words = _words(name, rng, 300)
    for w in words:
        insn = decode(w)
        for pc in (0x10000, 0xfffffffffffff000):
            pre = rng.randrange(4)
            assert _lift(TRANS[name], insn, pc, pre) == _lift(trans_rvi.GENERIC[name], insn, pc, pre), \
                (name, hex(w), hex(pc))


def test_compressed_forms():
    """16-bit encodings expand to the names the fast lifters cover (x0 and
    the hint forms included)"""
    seen = set()
    for h in range(0, 1 << 16):
        if h & 3 == 3:
            continue
        insn = decode(h)
        if insn is None or insn.name not in trans_rvi.GENERIC:
            continue
        seen.add(insn.name)
        pc = 0x4000 + (h & 0xffe)
        assert _lift(TRANS[insn.name], insn, pc, 1) == _lift(trans_rvi.GENERIC[insn.name], insn, pc, 1), hex(h)
    assert {"addi", "addiw", "lui", "jal", "ld", "sd", "add", "sub", "and"} <= seen
