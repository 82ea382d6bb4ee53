"""riscv64 frontend: fetch, decode and lift one translation block (a superblock) into IR.

`translate(mem, pc, max_insns)` decodes from `pc` and lifts each instruction with
the `trans_*` function registered for its decoded name (`TRANS`, filled by the
`trans_rv*` modules).  Blocks are superblocks: a conditional branch becomes a
side exit (`brcond` to a `goto_tb` placed after the main path) and translation
goes on with the fall-through; a direct jump or call (`jal`) is followed to its
target.  A branch or jump back to an instruction already in the block becomes a
backward jump inside it (a label is inserted before that instruction), so a loop
whose parts were reached in any order lives in one block, which the JIT turns
into a loop inside one function (a branch to the block's own start is left to
the JIT's self-loop).  A path ends at an indirect jump, a syscall, `fence.i`, a pc
already in the block, the instruction limit, a fourth code page, or an
instruction whose fetch would fault (the fault is then taken when that pc runs
as a block of its own, so it is reported at the right instruction).

Given a profile (the engine's first tier says which blocks `ran(pc)`), a
superblock follows the paths that ran: a path also ends where the fall-through
of a branch or the target of a jump never ran, and translation goes on with a
side exit whose target ran but is not in the block yet (its branches land
there), until the limit.  So a loop whose hot paths go both ways of a branch
(quicksort's partition) runs in one function instead of two blocks exiting
to each other, and code that never ran is not compiled.  A path also ends
where another region of the tier starts (`profile.entry(pc)`, not the block's
own pc): the exit is chained to it rather than its code copied.  An encoding
that does not decode ends the block with an `illegal` exception at its pc, which
becomes SIGILL in the guest.
"""
from pydbt.builder import Builder, RegFile
from pydbt.errors import GuestFault
from pydbt.ir import Block, Op

from .cpu import F0
from .decode import decode
from .lift import TRANS
from . import trans_rvi, trans_rva, trans_rvf  # noqa: F401  (register lifters)

MAX_PAGES = 4
MAX_SUPERBLOCK = 128         # instructions: bigger ones cost more to compile than they win


class Ctx:
    """What a lifter sees: the builder, register files, where it is, and the
    control-flow requests it can make (`jump`, `branch`, `end`)."""

    __slots__ = ("b", "x", "f", "pc", "next_pc", "ended", "follow", "side_exits", "forward", "back")

    def __init__(self, b):
        self.b = b
        self.x = RegFile(b, 0, zero=0)
        self.f = RegFile(b, F0)
        self.ended = False
        self.follow = None
        self.side_exits = []         # [(label, target, insns, brcond op)]
        self.forward = {}            # target pc ahead in the block -> its side exits
        self.back = None             # target pc -> (label, insns before it) for a loop inside

    def end(self):
        """The block ends after this instruction (the lifter emitted the exit)."""
        self.ended = True

    def jump(self, target):
        """Continue at target (the translator follows it or exits there)."""
        self.follow = target

    def branch(self, cond, a, b, target):
        """If (a cond b) go to target; else fall through.  A target further along
        the fall-through path becomes a jump inside the block when translation
        reaches it, any other one a side exit."""
        loop = self.back(target) if self.back else None
        if loop is not None:             # back to an instruction of this block: a loop
            label, before = loop
            self.b.brcond(cond, a, b, label, before - self.b.block.ninsns)
            return
        label = self.b.label()
        op = self.b.brcond(cond, a, b, label)
        exit_ = (label, target, self.b.block.ninsns, op)
        self.side_exits.append(exit_)
        self.forward.setdefault(target, []).append(exit_)


def translate(mem, pc, max_insns=512, superblock=True, profile=None):
    """The block at pc (a superblock: following the profile's paths if given, see above)."""
    if superblock:
        max_insns = min(max_insns, MAX_SUPERBLOCK)
    block = Block(pc)
    b = Builder(block)
    ctx = Ctx(b)
    block.insns = []             # (address, size) of every instruction lifted
    pages = set()
    seen = set()
    starts = {}                  # pc -> (its insn_start op, instructions before it)
    heads = {}                   # pc -> label put before it (a loop head)

    def back(target):
        """A label at an earlier instruction of this block (not its first one,
        which the JIT loops to by itself), inserted on demand."""
        if target == pc or target not in starts:
            return None
        if target not in heads:
            op, before = starts[target]
            heads[target] = block.label()
            block.ops.insert(block.ops.index(op), Op("label", None, [], [], (heads[target],)))
        return heads[target], starts[target][1]

    if superblock:
        ctx.back = back
    tried = set()                # side exits' targets taken in (or whose fetch faults)

    def next_path():
        """Where translation goes on once a path has ended: the target of a side
        exit that has run and is not in the block yet (its exits land there)."""
        if not superblock or profile is None or block.ninsns >= max_insns:
            return None
        for _, target, _, _ in ctx.side_exits:
            if (target not in tried and target not in seen and profile.ran(target)
                    and not profile.entry(target)):
                tried.add(target)
                return target
        return None

    a, starts_path = pc, False
    while a is not None:
        try:
            word = mem.fetch16(a)
            if word & 3 == 3:
                word |= mem.fetch16(a + 2) << 16
        except GuestFault as e:
            if a == pc:          # the block's own fetch: the fault is at pc, the jump's
                e.pc = a         # target (not at the jump, where a lookup from a TB would put it)
                raise
            if not starts_path:  # (else its side exits stay as they are)
                b.goto_tb(a)     # let the faulting fetch start its own block
            a, starts_path = next_path(), True
            continue
        starts_path = False
        insn = decode(word)
        size = insn.size if insn is not None else (2 if word & 3 != 3 else 4)
        for exit_ in ctx.forward.pop(a, ()):       # a branch to here lands here
            label, _, insns, op = exit_
            b.set_label(label)
            op.consts = op.consts[:2] + (block.ninsns - insns,)
            ctx.side_exits.remove(exit_)
        pages.update((a >> 12, (a + size - 1) >> 12))
        b.insn_start(a)
        starts[a] = (block.ops[-1], block.ninsns)
        block.ninsns += 1
        block.insns.append((a, size))
        seen.add(a)
        if insn is None or insn.name not in TRANS:
            b.exception("illegal", a, a, block.ninsns - 1)
            a, starts_path = next_path(), True
            continue
        ctx.pc, ctx.next_pc, ctx.follow, ctx.ended = a, a + size, None, False
        exits = len(ctx.side_exits)
        TRANS[insn.name](ctx, insn)
        if ctx.ended:
            a, starts_path = next_path(), True
            continue
        nxt = a + size if ctx.follow is None else ctx.follow
        branched = ctx.follow is not None or len(ctx.side_exits) > exits
        if not superblock and branched:
            b.goto_tb(nxt)               # a plain basic block ends at any branch or jump
            break
        loop = back(nxt) if superblock else None
        if loop is not None:
            b.br(loop[0], loop[1] - block.ninsns)      # jump back: a loop inside the block
            a, starts_path = next_path(), True
            continue
        if (block.ninsns >= max_insns or nxt in seen
                or len(pages | {nxt >> 12}) > MAX_PAGES
                or profile is not None and (branched and not profile.ran(nxt) or profile.entry(nxt))):
            b.goto_tb(nxt)
            a, starts_path = next_path(), True
            continue
        a = nxt
    for label, target, insns, _ in ctx.side_exits:
        b.set_label(label)
        b.goto_tb(target, insns)
    block.pages = sorted(pages)
    block.size = max(x + n for x, n in block.insns) - pc if block.insns else 0
    return block

