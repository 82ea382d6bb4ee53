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
as a block of its own, so it is reported at the right instruction).  The limit
is MAX_SUPERBLOCK instructions, MAX_NATIVE for native code (the profile says).

An indirect jump whose target is known while translating (a return, `jalr`
through a register the same straight-line path set to a constant: `jal`'s link
register, `auipc`+`addi`) is a direct jump: followed like `jal` in a superblock,
a chainable `goto_tb` at the end of a block, instead of a jump-cache lookup.  So
a call and its return stay in one region.  The value must reach the jump on
every path: where paths merge (a forward branch's landing, a new path from side
exits) only what they all agree on stays known, and no loop label is put between
the instruction that set the register and the jump (`Known.covers`: that
backward branch becomes a side exit).

A call of a function already in the block (not of the block's own start:
recursion) copies it, up to CALL_COPIES times per function, rather than ending
the block there: its instructions are lifted again, a loop in it closes inside
the copy (labels only at the copy's instructions; a branch to the earlier copy
is a side exit or lands ahead), and its return is known from the new call.  Back
in the caller (the calls made since the copy began all returned), a pc already
in the block ends the path as before.

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

A plain block without a profile (the interpreter tier's: most blocks made)
has a loop of its own (`_plain`): one path to its first branch or jump, none
of the superblock's bookkeeping, the same ops as the general loop
(tests/unit/test_translate_fast_paths.py compares the two).
"""
from pydbt.builder import Builder, RegFile, Running
from pydbt.errors import GuestFault, illegal as illegal_fault, raise_exception
from pydbt.ir import Block, Const, EVAL, I64, Op, eval_op, _cond

from .cpu import F0
from .decode import decode
from .lift import TRANS
from . import trans_rvi, trans_rva, trans_rvf  # noqa: F401  (register lifters)
from .trans_rvi import GENERIC, RUNNERS

MAX_PAGES = 4
MAX_SUPERBLOCK = 128         # instructions: bigger ones cost more to compile than they win
MAX_NATIVE = 400             # the same for native code's superblocks (a profile's `native`): a
                             # function cut by the limit becomes a region per exit of the cut
CALL_COPIES = 2              # copies of a function called again in a superblock, after the first
LINKS = (1, 5)               # ra, t0: a jump that writes one of them is a call
DECODED_MAX = 1 << 16        # instruction words whose decoding is kept (_decoded)

_DECODED = {}
_MISSING = object()


def _decoded(word):
    """decode(word), kept by word: a program's code is lifted again and again
    (each tier's superblocks, side exits' blocks), and its words repeat"""
    insn = _DECODED.get(word, _MISSING)
    if insn is _MISSING:
        if len(_DECODED) >= DECODED_MAX:
            _DECODED.clear()
        insn = _DECODED[word] = decode(word)
    return insn


class Ctx:
    """What a lifter sees: the builder, register files, where it is, and the
    control-flow requests it can make (`jump`, `branch`, `end`)."""

    __slots__ = ("b", "x", "f", "pc", "next_pc", "ended", "follow", "side_exits", "forward", "back",
                 "known", "snaps")

    def __init__(self, b):
        self.b = b
        self.x = RegFile(b, 0, zero=0)
        self.f = RegFile(b, F0)
        self.ended = False
        self.follow = None
        self.side_exits = []         # [(label, target, insns, brcond op)]
        self.forward = {}            # target pc ahead in the block -> its side exits
        self.back = None             # target pc -> (label, insns before it) for a loop inside
        self.known = None            # Known: the constant registers on the current path
        self.snaps = {}              # side exit's label -> (its instruction, the constant registers there)

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
        if self.known is not None:
            self.snaps[label] = (self.b.block.ninsns - 1, dict(self.known.regs))
        op = self.b.brcond(cond, a, b, label)
        exit_ = (label, target, self.b.block.ninsns, op)
        self.side_exits.append(exit_)
        self.forward.setdefault(target, []).append(exit_)


_FOLD = frozenset(("add", "sub", "and", "or", "xor", "shl", "shr", "sar"))


class Known:
    """Guest registers holding a constant on the current straight-line path:
    reg -> (value, index of the instruction that set it), and the ranges of
    instructions (set, jump] whose indirect jump was made direct on such a value."""

    def __init__(self):
        self.regs = {}
        self.spans = []

    def forget(self):
        self.regs.clear()

    def land(self, snaps, fall):
        """paths merge here: branches that had `snaps`, and (fall) the path so far;
        what they agree on stays known (set at the earliest of their instructions)"""
        sets = list(snaps) + ([self.regs] if fall else [])
        merged = {}
        for r, (v, k) in sets[0].items():
            same = [x.get(r) for x in sets[1:]]
            if all(o is not None and o[0] == v for o in same):
                merged[r] = (v, min([k] + [o[1] for o in same]))
        self.regs = merged

    def after(self, ops, k):
        """the ops of instruction k (from its insn_start) ran: note its register writes"""
        for op in ops:
            if op.name == "setreg":
                v = op.ins[0]
                if isinstance(v, Const) and op.type == I64:
                    self.regs[op.consts[0]] = (v.value, k)
                else:
                    self.regs.pop(op.consts[0], None)

    def target(self, ops, k):
        """-> the pc the goto_ptr ending ops (instruction k's) jumps to, if known
        from registers set on this path, else None.  A known one is noted: no
        loop label may go between its setting and k (covers)."""
        env, since = {}, k

        def get(v):
            return v.value if isinstance(v, Const) else env.get(v.id)

        for op in ops[:-1]:
            if op.name == "getreg" and op.consts[0] in self.regs and op.type == I64:
                value, at = self.regs[op.consts[0]]
                env[op.outs[0].id] = value
                since = min(since, at)
            elif op.name in _FOLD and op.type == I64 and op.name in EVAL:
                args = [get(v) for v in op.ins]
                if None not in args:
                    env[op.outs[0].id] = eval_op(op.name, I64, op.consts, args)
        t = get(ops[-1].ins[0])
        if t is not None:
            self.spans.append((since, k))
        return t

    def covers(self, j):
        """a label before instruction j would break an assumption made"""
        return any(s < j <= e for s, e in self.spans)


def _insn_ops(ops):
    """the ops of the last instruction (from its insn_start)"""
    i = len(ops) - 1
    while ops[i].name != "insn_start":
        i -= 1
    return ops[i:]


def _plain(mem, pc, max_insns):
    """translate(mem, pc, max_insns, superblock=False) without a profile: one
    path, to its first branch or jump (the interpreter tier's blocks, most of
    those made).  The ops are the general loop's; what only a superblock needs
    (loop labels, landings, copies, paths after side exits) is left out."""
    block = Block(pc)
    b = Builder(block)
    ctx = Ctx(b)                 # (ctx.known None: a branch's registers matter in a superblock only)
    ops = block.ops
    insns = block.insns = []
    words = block.words = []     # (each instruction's encoding: the engine's check, execloop._decoded)
    pages = set()
    bounds = []                  # bounds[k]: where instruction k's ops begin
    fetch16 = mem.fetch16
    side_exits = ctx.side_exits
    trans = TRANS
    a = pc
    n = 0                        # block.ninsns
    while True:
        try:
            word = fetch16(a)
            if word & 3 == 3:
                word |= fetch16(a + 2) << 16
        except GuestFault as e:
            if a == pc:          # the block's own fetch: the fault is at pc (see translate)
                e.pc = a
                raise
            b.goto_tb(a)         # let the faulting fetch start its own block
            break
        insn = _DECODED.get(word, _MISSING)
        if insn is _MISSING:
            insn = _decoded(word)
        size = insn.size if insn is not None else (2 if word & 3 != 3 else 4)
        page = a >> 12
        pages.add(page)
        if (a + size - 1) >> 12 != page:
            pages.add(page + 1)
        first = len(ops)
        bounds.append(first)
        ops.append(Op("insn_start", None, [], [], (a,)))
        n += 1
        block.ninsns = n
        insns.append((a, size))
        words.append(word)
        lift = trans.get(insn.name) if insn is not None else None
        if lift is None:
            b.exception("illegal", a, a, n - 1)
            break
        nxt = a + size
        ctx.pc, ctx.next_pc, ctx.follow, ctx.ended = a, nxt, None, False
        lift(ctx, insn)
        if ctx.ended:
            if ops[-1].name != "goto_ptr":
                break
            # an indirect jump: its target, if the registers this path set tell it
            known = Known()
            for k in range(n - 1):
                known.after(ops[bounds[k]:bounds[k + 1]], k)
            target = known.target(ops[first:], n - 1)
            if target is None:
                break
            ops.pop()
            ctx.follow = target
        if ctx.follow is not None or side_exits:
            b.goto_tb(nxt if ctx.follow is None else ctx.follow)   # a plain block ends at any branch or jump
            break
        if n >= max_insns or len(pages) + ((nxt >> 12) not in pages) > MAX_PAGES:
            b.goto_tb(nxt)
            break
        a = nxt
    for label, target, before, _ in side_exits:
        b.set_label(label)
        b.goto_tb(target, before)
    block.pages = sorted(pages)
    block.size = max(map(sum, insns)) - pc
    return block


class RunCtx:
    """What a running lifter sees (run): a guest branch is decided at once;
    `regs` and `mem` for the fast runners (trans_rvi.RUNNERS)."""
    __slots__ = ("b", "x", "f", "pc", "next_pc", "ended", "follow", "regs", "mem")

    def __init__(self, b):
        self.b = b
        self.regs, self.mem = b.regs, b.mem
        self.x = RegFile(b, 0, zero=0)
        self.f = RegFile(b, F0)

    def end(self):
        self.ended = True

    def jump(self, target):
        self.follow = target

    def branch(self, cond, a, b, target):
        self.follow = target if _cond(cond, a.value, b.value, a.type) else self.next_pc


# TRANS, with the Builder path's lifter where a fast one appends IR ops, and
# a fast runner where there is one (every lifter is registered by now: the
# trans_rv* modules are imported above)
_RUN_TRANS = {**TRANS, **GENERIC, **RUNNERS}


def run(mem, cpu, pc, max_insns=512, count=None):
    """Run the plain block at pc (_plain's) once, with no IR: each instruction
    is run by its fast runner (trans_rvi.RUNNERS) or lifted by its Builder-path
    lifter into a running builder (Running), which does what the ops would do
    as they are emitted; a branch is decided as it is lifted, and the block
    ends there.  A fault, syscall or illegal instruction raises as the
    interpreter's code would (a fault's pc that of its instruction), with the
    registers and memory as that code leaves them; `count` (the engine's
    instruction counter, or None) gets the instructions run, the one raising
    included.  -> (the pc the path goes on at, whether an indirect jump took
    it there)."""
    b = Running(cpu, mem)
    ctx = RunCtx(b)
    fetch16 = mem.fetch16
    lifters = _RUN_TRANS
    a = pc
    n = 0
    try:
        while True:
            try:
                word = fetch16(a)
                if word & 3 == 3:
                    word |= fetch16(a + 2) << 16
            except GuestFault:
                if a == pc:          # the block's own fetch faults at pc (as translate's)
                    raise
                return a, False      # (the faulting fetch starts a block of its own)
            insn = _DECODED.get(word, _MISSING)
            if insn is _MISSING:
                insn = _decoded(word)
            lift = lifters.get(insn.name) if insn is not None else None
            if lift is None:
                raise illegal_fault(a)
            nxt = a + insn.size
            ctx.pc, ctx.next_pc, ctx.follow, ctx.ended = a, nxt, None, False
            lift(ctx, insn)
            if b.raised is not None:
                n += 1               # (the instruction raising counts as run, as in a TB's
                raise_exception(*b.raised)   # exception op; an encoding that does not decode not)
            n += 1
            if ctx.ended:
                return b.exit, b.indirect
            if ctx.follow is not None:
                return ctx.follow, False
            if n >= max_insns:
                return nxt, False
            a = nxt
    except GuestFault as e:
        if e.pc is None:
            e.pc = a
        cpu.pc = e.pc
        raise
    finally:
        if count is not None:
            count[0] += n


def translate(mem, pc, max_insns=512, superblock=True, profile=None):
    """The block at pc (a superblock: following the profile's paths if given, see above)."""
    if not superblock and profile is None:
        return _plain(mem, pc, max_insns)
    if superblock:
        native = profile is not None and getattr(profile, "native", False)
        max_insns = min(max_insns, MAX_NATIVE if native else MAX_SUPERBLOCK)
    block = Block(pc)
    b = Builder(block)
    ctx = Ctx(b)
    block.insns = []             # (address, size) of every instruction lifted
    block.words = []             # (its encoding: the engine's check, execloop._decoded)
    pages = set()
    seen = set()                 # pcs in the block
    copy = set()                 # pcs in the current copy (see CALL_COPIES)
    copies = {}                  # callee pc -> copies of it made after the first
    depth = [0]                  # calls entered since a copy began, not returned from
    starts = {}                  # pc -> (its insn_start op, instructions before it)
    firsts = {}                  # pc -> the same at its first lift, if not in a copy
    heads = {}                   # pc -> label put before it (a loop head)
    looped = set()               # pcs that had a loop head's label
    snaps = ctx.snaps            # (back() holds no reference to ctx: with ctx.back = back
                                 # that would be a cycle, the block kept for the cyclic GC)

    def back(target):
        """A label at an earlier instruction of this block (not its first one,
        which the JIT loops to by itself), inserted on demand.  Inside a copy
        of a function, only at an instruction of the copy."""
        if depth[0] and target not in copy:
            return None
        if target in starts:
            # a loop from target to here (at pc: the JIT's own loop to the block's
            # start): a branch inside it runs again after the loop's writes, so
            # what it knew of the registers no longer holds where it lands
            for at, regs in snaps.values():
                if at >= starts[target][1]:
                    regs.clear()
        if target == pc or target not in starts or known.covers(starts[target][1]):
            return None
        if target not in heads:
            op, before = starts[target]
            heads[target] = block.label()
            looped.add(target)
            block.ops.insert(block.ops.index(op), Op("label", None, [], [], (heads[target],)))
        return heads[target], starts[target][1]

    if superblock:
        ctx.back = back
    tried = set()                # side exits' targets taken in (or whose fetch faults)
    known = ctx.known = Known()

    def next_path():
        """Where translation goes on once a path has ended: the target of a side
        exit that has run and is not in the block yet (its exits land there)."""
        known.forget()
        depth[0] = 0
        if not superblock or profile is None or block.ninsns >= max_insns:
            return None
        for _, target, _, _ in ctx.side_exits:
            if (target not in tried and target not in seen and profile.ran(target)
                    and not profile.entry(target, seen)):
                tried.add(target)
                return target
        return None

    # (a plain block is one path that ends at its first branch: the registers
    # it set are only needed at an indirect jump, so `known` is filled there,
    # from the ops of each instruction before it: bounds[k] = where instruction
    # k's ops begin)
    lazy = not superblock
    bounds = []
    a, starts_path = pc, False
    while a is not None:
        new_path = starts_path
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
        insn = _DECODED.get(word, _MISSING)
        if insn is _MISSING:
            insn = _decoded(word)
        size = insn.size if insn is not None else (2 if word & 3 != 3 else 4)
        landing = ctx.forward.pop(a, ())
        if landing:
            known.land([ctx.snaps.pop(e[0], (0, {}))[1] for e in landing], fall=not new_path)
        for exit_ in landing:                      # a branch to here lands here
            label, _, insns, op = exit_
            b.set_label(label)
            op.consts = op.consts[:2] + (block.ninsns - insns,)
            ctx.side_exits.remove(exit_)
        page = a >> 12
        pages.add(page)
        if (a + size - 1) >> 12 != page:
            pages.add(page + 1)
        first = len(block.ops)
        block.ops.append(Op("insn_start", None, [], [], (a,)))      # (b.insn_start(a))
        starts[a] = (block.ops[first], block.ninsns)
        if not depth[0] and a not in seen:
            firsts[a] = starts[a]
        heads.pop(a, None)       # (a copy's back-edges get labels of their own)
        block.ninsns += 1
        block.insns.append((a, size))
        block.words.append(word)
        seen.add(a)
        copy.add(a)
        if insn is None or insn.name not in TRANS:
            b.exception("illegal", a, a, block.ninsns - 1)
            a, starts_path = next_path(), True
            continue
        ctx.pc, ctx.next_pc, ctx.follow, ctx.ended = a, a + size, None, False
        exits = len(ctx.side_exits)
        TRANS[insn.name](ctx, insn)
        ops = block.ops
        # (the instruction's ops: from its insn_start, unless a loop label was
        # inserted before it meanwhile)
        ops = ops[first:] if ops[first] is starts[a][0] else _insn_ops(ops)
        # (the target from the registers before this instruction: `jalr ra,
        # off(ra)` reads ra before it links)
        if ctx.ended and ops[-1].name == "goto_ptr":
            if lazy:                             # (the path's register writes so far)
                bounds.append(first)
                for k in range(len(bounds) - 1):
                    known.after(block.ops[bounds[k]:bounds[k + 1]], k)
                bounds.pop()
            target = known.target(ops, block.ninsns - 1)
        else:
            target = None
        if lazy:
            bounds.append(first)
        else:
            known.after(ops, block.ninsns - 1)
        if target is not None:                   # a known indirect jump: a direct one
            block.ops.pop()
            ctx.ended, ctx.follow = False, target
        if ctx.ended:
            a, starts_path = next_path(), True
            continue
        nxt = a + size if ctx.follow is None else ctx.follow
        branched = ctx.follow is not None or len(ctx.side_exits) > exits
        if not superblock and branched:
            b.goto_tb(nxt)               # a plain basic block ends at any branch or jump
            break
        call = insn.name in ("jal", "jalr") and insn.rd in LINKS and ctx.follow is not None
        if depth[0] and ctx.follow is not None and insn.name in ("jal", "jalr"):
            depth[0] += 1 if call else -1 if target is not None and insn.rd == 0 else 0
        if (superblock and call and nxt in seen and nxt != pc and copies.get(nxt, 0) < CALL_COPIES
                and block.ninsns < max_insns):
            # a call of a function already in the block: its code is copied
            # (its loops close in the copy, its return is known from this call)
            copies[nxt] = copies.get(nxt, 0) + 1
            copy.clear()
            depth[0] = 1
            a = nxt
            continue
        loop = back(nxt) if superblock else None
        if loop is not None:
            b.br(loop[0], loop[1] - block.ninsns)      # jump back: a loop inside the block
            a, starts_path = next_path(), True
            continue
        if (block.ninsns >= max_insns or nxt in copy or nxt in seen and not depth[0]
                or len(pages) + ((nxt >> 12) not in pages) > MAX_PAGES
                or profile is not None and (branched and not profile.ran(nxt) or profile.entry(nxt, seen))):
            b.goto_tb(nxt)
            a, starts_path = next_path(), True
            continue
        a = nxt
    for label, target, insns, _ in ctx.side_exits:
        b.set_label(label)
        b.goto_tb(target, insns)
    block.pages = sorted(pages)
    block.size = max(map(sum, block.insns)) - pc if block.insns else 0
    if profile is not None and getattr(profile, "entries", None) is not None:
        _add_entries(block, pc, firsts, known, profile, looped, seen)
    return block


def _add_entries(block, pc, firsts, known, profile, looped, seen):
    """Labels at the pcs where the region may be entered too (`block.entries`:
    (pc, label, instructions before it)): its loop heads (native code leaves
    at one when its budget is spent, and comes back there) and those the
    profile names (`profile.entries(pc, seen)`: code entered there from
    outside the region), at their first lift outside a call's copy, where no
    assumption of the path before holds (Known.covers: an indirect jump made
    direct on a register set before it; an inlined callee's return is one)."""
    entries = []
    for a, (op, before) in firsts.items():
        if a != pc and (a in looped or profile.entries(a, seen)) and not known.covers(before):
            entries.append((a, op, before))
    block.entries = []
    for a, op, before in sorted(entries, key=lambda e: e[2]):
        lab = block.label()
        block.ops.insert(block.ops.index(op), Op("label", None, [], [], (lab,)))
        block.entries.append((a, lab, before))

