"""The reference backend: an interpreter of the IR.

`compile(block)` turns the op list into a list of (kind, args) tuples once per
TB, with every input resolved to a slot of a per-execution value array (constants
are preloaded into their slots), so running a TB is a plain loop with no decoding.
Most blocks it runs are run a few times only (the first tier of -backend auto),
so compile is kept cheap and the loop tests the most common kinds first
(getreg, add, setreg, ld); `insn_start` costs no step where the fault pc can
be told from the code index (see compile).
It is the oracle for the other backends: simple and obviously right, not fast.

Like every backend, a compiled TB is a function `fn(cpu)` that returns the
function to run next (see dbt/tb.py): `ctx.links[k]` for its k-th `goto_tb` exit
(the successor once chained, a resolver stub before), `ctx.lookup(pc)` for an
indirect exit.  Guest exceptions (faults, syscalls) propagate as Python
exceptions; a fault's pc is set from the last `insn_start` executed, so it is exact.
"""
from bisect import bisect_right
from operator import itemgetter

from pydbt import ir
from pydbt.errors import GuestFault, raise_exception
from pydbt.ir import MASK, EVAL, FLAGS, Const

name = "interp"
superblocks = False      # cheap plain blocks: the interpreter runs code seen once or twice
cold_runs = True         # as the first tier, a block's first run is the frontend's (execloop._cold)


def compile(block, ctx):
    """ctx: what the TB may touch (TBContext: mem, links, lookup, counter)."""
    return load(lower(block, ctx.counter is not None), ctx)


def lower(block, counting):
    """The block's code, `(code, marks, static_pc, init, start, entries)`: a
    pure op holds its function (ir.EVAL), a helper call the helper; dump()
    makes it data marshal can keep (dbt/tbstore.py), undump() gives it back.
    `counting`: the run counts guest instructions (-stats).

    Slots: a temp's is its id (a block's temps are numbered 0..ntemps-1),
    but a forwarded getreg's (the value's), then one per distinct constant
    value (a slot holds the value only: types may share it).

    A fault's pc is the pc of the instruction its op belongs to in code order
    (the last insn_start before it), which is the last insn_start executed
    unless an op that may fault follows a label before any insn_start (the
    frontend puts labels just before an insn_start, or before exits that
    cannot fault): then, and only then, the insn_start ops get a step of their
    own (kind "insn") and the block is lowered again that way."""
    return _lower(block, counting, True) or _lower(block, counting, False)


def _lower(block, counting, static_pc):
    """lower(), or None if `static_pc` and the block needs insn steps"""
    ntemps = block.ntemps
    cslots = {}        # constant's value -> slot
    init = [0] * ntemps
    ops = block.ops
    labels = {}

    def head_pc(label):
        """for a backward branch: (pc of the loop head, instructions before it in
        block order); a pending signal leaves the block there"""
        if label not in labels:
            return None
        at = [i for i, o in enumerate(ops) if o.name == "label" and o.consts[0] == label][0]
        before = sum(1 for o in ops[:at] if o.name == "insn_start")
        return next(o.consts[0] for o in ops[at:] if o.name == "insn_start"), before

    code = []          # (kind, a, b, c, d)
    # each instruction's first code index, pc and instructions before it in
    # block order (a fault at code index i is in the last one starting <= i)
    marks = [(0, block.pc, 0)]
    seen = 0
    after_label = False
    # a getreg of a register read or set before in the same stretch (no label
    # between: helpers never write guest registers) is that value's slot, with
    # no step of its own (unoptimized first-tier blocks: 60% of their getregs)
    known = {}         # register -> (slot of its value, type)
    remap = list(range(ntemps))
    goto_n = 0
    fixups = []
    append = code.append
    for op in ops:
        n = op.name
        # (the commonest first: an instruction's start, a register read, a write)
        if n == "insn_start":
            marks.append((len(code), op.consts[0], seen))
            seen += 1
            after_label = False
            if not static_pc:
                append(("insn", op.consts[0], None, None, None))
            continue
        if n == "getreg":
            t, g = op.outs[0].id, op.consts[0]
            was = known.get(g)
            if was is not None and was[1] == op.type:
                remap[t] = was[0]
            else:
                known[g] = (t, op.type)
                append(("getreg", t, g, None, None))
            continue
        if n == "setreg":
            v = op.ins[0]
            if v.__class__ is Const:
                k = cslots.get(v.value)
                if k is None:
                    k = cslots[v.value] = len(init)
                    init.append(v.value)
            else:
                k = remap[v.id]
            known[op.consts[0]] = (k, v.type)
            append(("setreg", k, op.consts[0], None, None))
            continue
        ins = []
        for v in op.ins:
            if v.__class__ is Const:
                k = cslots.get(v.value)
                if k is None:
                    k = cslots[v.value] = len(init)
                    init.append(v.value)
                ins.append(k)
            else:
                ins.append(remap[v.id])
        out = op.outs[0].id if op.outs else None      # (never a forwarded temp: SSA)
        if after_label and static_pc and (FLAGS[n] & ir.FAULT or n in ("call_pure", "exception")):
            return None
        kind = _KIND.get(n)
        if kind == "pure":
            if n == "add" and len(ins) == 2:
                append(("add", out, ins[0], ins[1], MASK[op.type]))
            else:
                append(("pure", out, ins, EVAL[n], (32 if n == "sext32" else op.type, MASK[op.type])))
        elif kind == "ld":
            append(("ld", out, ins[0], op.consts[0], op.consts[1]))
        elif kind == "st":
            append(("st", ins[0], ins[1], op.consts[0], None))
        elif kind == "cond":
            append(("cond", out, ins, (n, op.ins[0].type, op.consts), None))
        elif kind == "call":
            append(("call", out, ins, op.consts[0], MASK[op.type]))
        elif kind == "label":
            labels[op.consts[0]] = len(code)
            after_label = True
            known.clear()                            # (another path joins here)
        elif kind == "br":
            fixups.append(len(code))
            append(("brcond", op.consts[0], [], "always", (None, op.consts[1], head_pc(op.consts[0]))))
        elif kind == "brcond":
            fixups.append(len(code))
            append(("brcond", op.consts[1], ins, op.consts[0],
                    (op.ins[0].type, op.consts[2], head_pc(op.consts[1]))))
        elif kind == "skipped":
            if counting:
                append(("skipped", op.consts[1], ins, op.consts[0], op.ins[0].type))
        elif kind == "mb":
            pass
        elif kind == "goto_tb":
            append(("goto_tb", op.consts[0], goto_n, op.consts[1], None))
            goto_n += 1
        elif kind == "goto_ptr":
            append(("goto_ptr", ins[0], op.consts[0], None, None))
        elif kind == "exception":
            append(("exception",) + tuple(op.consts))
        else:
            raise NotImplementedError(f"interp: op {n}")
    for i in fixups:
        k = code[i]
        code[i] = (k[0], labels[k[1]]) + k[2:]

    # a region's other entries (block.entries): the same code from their label,
    # counting as if the instructions before it had run uncounted
    entries = [(pc, labels[lab], -before) for pc, lab, before in block.entries] if block.entries else []
    return (code, marks, static_pc, init, block.pc, entries)


def load(lowered, ctx):
    """The TB's function from lower()'s code."""
    code, marks, static_pc, init, start, entries = lowered
    links, lookup, count, pending = ctx.links, ctx.lookup, ctx.counter, ctx.pending
    fn = _runner(code, marks, static_pc, init, ctx.mem, links, lookup, count, pending, start, 0, 0)
    if entries:
        fn.entry_fns = [_runner(code, marks, static_pc, init, ctx.mem, links, lookup, count, pending, pc, first, adjust)
                        for pc, first, adjust in entries]
    return fn


def dump(lowered):
    """lower()'s code as `(data, helpers)`: numbers, strings, tuples and lists
    only (a pure op by its name, a helper call by its index in `helpers`)."""
    code, *rest = lowered
    data, helpers = list(code), []
    for i, (k, a, b, c, d) in enumerate(data):
        if k == "pure":
            data[i] = (k, a, b, _EVAL_NAME[c], d)
        elif k == "call":
            if c not in helpers:
                helpers.append(c)
            data[i] = (k, a, b, helpers.index(c), d)
    return (data, *rest), helpers


def undump(data, helpers):
    """lower()'s code from dump()'s `(data, helpers)`."""
    code, *rest = data
    code = list(code)
    for i, (k, a, b, c, d) in enumerate(code):
        if k == "pure":
            code[i] = (k, a, b, EVAL[c], d)
        elif k == "call":
            code[i] = (k, a, b, helpers[c], d)
    return (code, *rest)


_EVAL_NAME = {fn: name for name, fn in EVAL.items()}     # (names that share a function: any of them)


# op name -> how lower() turns it into code (insn_start, getreg, setreg: before it asks)
_KIND = {n: "pure" for n, f in FLAGS.items() if f & ir.PURE}
_KIND.update({"ld": "ld", "st": "st",
              "setcond": "cond", "movcond": "cond", "call": "call", "call_pure": "call",
              "label": "label", "br": "br", "brcond": "brcond", "skipped": "skipped", "mb": "mb", "goto_tb": "goto_tb",
              "goto_ptr": "goto_ptr", "exception": "exception"})


def _runner(code, marks, static_pc, init, mem, links, lookup, count, pending, start, first, adjust):
    """The TB's function, entered at code[first] (instruction pc `start`).
    (It keeps no reference to the IR: the block is freed.  What it uses are
    its parameters' defaults, one tuple, rather than a closure's cells, one
    object each: thousands of these functions live at once, and the cyclic
    GC's full collections walk every object.)"""

    def run(cpu, code=code, marks=marks, static_pc=static_pc, init=init, mem=mem, links=links, lookup=lookup,
            count=count, pending=pending, start=start, first=first, adjust=adjust):
        t = list(init)
        regs = cpu.regs
        pc = start
        i = first
        if adjust and count is not None:
            count[0] += adjust
        try:
            while True:
                k, a, b, c, d = code[i]
                i += 1
                if k == "getreg":
                    t[a] = regs[b]
                elif k == "add":
                    t[a] = (t[b] + t[c]) & d
                elif k == "setreg":
                    regs[b] = t[a]
                elif k == "ld":
                    t[a] = mem.load(t[b], c, d) & 0xffffffffffffffff
                elif k == "pure":
                    t[a] = c(d[0], *[t[x] for x in b]) & d[1]
                elif k == "st":
                    mem.store(t[a], t[b], c)
                elif k == "insn":
                    pc = a
                elif k == "brcond":
                    if c == "always" or ir._cond(c, t[b[0]], t[b[1]], d[0]):
                        i = a
                        if count is not None:
                            count[0] -= d[1]
                        if d[2] is not None and pending:    # a loop: let a signal in
                            if count is not None:
                                count[0] += d[2][1]
                            return lookup(d[2][0])
                elif k == "skipped":
                    if ir._cond(c, t[b[0]], t[b[1]], d):
                        count[0] -= a
                elif k == "goto_tb":
                    if count is not None:
                        count[0] += c
                    return links[b]
                elif k == "cond":
                    t[a] = ir.eval_op(c[0], c[1], c[2], [t[x] for x in b])
                elif k == "call":
                    r = c(cpu, *[t[x] for x in b])
                    if a is not None:
                        t[a] = r & d
                elif k == "goto_ptr":
                    if count is not None:
                        count[0] += b
                    return lookup(t[a])
                elif k == "exception":
                    if count is not None:
                        count[0] += d
                    raise_exception(a, b, c)
        except GuestFault as e:
            _, insn_pc, before = marks[bisect_right(marks, i - 1, key=_first) - 1]
            if e.pc is None:
                e.pc = insn_pc if static_pc else pc
            cpu.pc = e.pc
            if count is not None and k != "exception":
                count[0] += before                   # (the instructions before the faulting one ran)
            raise

    return run


_first = itemgetter(0)
