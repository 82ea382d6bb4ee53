"""riscv64 frontend: fetch, decode and lift one basic block into IR.

`translate(mem, pc, max_insns)` decodes instructions from `pc` until one ends the
block (branch, jump, ecall, fence.i, ...), the instruction limit is reached, or
the next fetch would fault (the fault is then taken when that pc runs as a new
block, so it is reported at the right instruction).  Each instruction is lifted
by the `trans_*` function registered for its decoded name (`TRANS`, filled by
the `trans_rv*` modules); an encoding that does not decode ends the block with
an `illegal` exception at its pc, which becomes SIGILL in the guest.
"""
from pydbt.builder import Builder, RegFile
from pydbt.errors import GuestFault
from pydbt.ir import Block

from .cpu import F0
from .decode import decode
from .lift import TRANS
from . import trans_rvi, trans_rva, trans_rvf  # noqa: F401  (register lifters)


class Ctx:
    """What a lifter sees: the builder, register files, and where it is."""

    __slots__ = ("b", "x", "f", "pc", "next_pc", "ended")

    def __init__(self, b):
        self.b = b
        self.x = RegFile(b, 0, zero=0)
        self.f = RegFile(b, F0)
        self.ended = False

    def end(self):
        self.ended = True


def translate(mem, pc, max_insns=512):
    block = Block(pc)
    b = Builder(block)
    ctx = Ctx(b)
    a = pc
    while True:
        try:
            word = mem.fetch16(a)
            if word & 3 == 3:
                word |= mem.fetch16(a + 2) << 16
        except GuestFault:
            if a == pc:
                raise
            b.goto_tb(a)         # let the faulting fetch start its own block
            break
        insn = decode(word)
        b.insn_start(a)
        block.ninsns += 1
        if insn is None or insn.name not in TRANS:
            b.exception("illegal", a, a)
            a += 2 if word & 3 != 3 else 4
            break
        ctx.pc, ctx.next_pc = a, a + insn.size
        TRANS[insn.name](ctx, insn)
        a += insn.size
        if ctx.ended:
            break
        if block.ninsns >= max_insns:
            b.goto_tb(a)
            break
    block.size = a - pc
    return block
