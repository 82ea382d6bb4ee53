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
from pydbt import ir
from pydbt.errors import GuestFault, Syscall, Breakpoint, illegal
from pydbt.ir import MASK, EVAL, FLAGS, Const

name = "interp"
superblocks = False      # cheap plain blocks: the interpreter runs code seen once or twice


def compile(block, ctx):
    """ctx: what the TB may touch (TBContext: mem, links, lookup, counter)."""
    return load(lower(block, ctx.counter is not None), ctx)


def lower(block, counting):
    """The block's code as data, `(data, helpers)`: `data` holds numbers,
    strings, tuples and lists only (marshal can keep it: dbt/tbstore.py), a
    pure op by its name, a helper call by its index in `helpers` (the helper
    functions).  `counting`: the run counts guest instructions (-stats)."""
    tslots = {}        # temp id -> slot
    cslots = {}        # constant's value -> slot (a slot holds the value only: types may share it)
    init = []
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

    # A fault's pc is the pc of the instruction its op belongs to in code order
    # (pcs[index]), which is the last insn_start executed unless an op that may
    # fault follows a label before any insn_start (the frontend puts labels
    # just before an insn_start, or before exits that cannot fault): then the
    # insn_start ops need no step of their own.  Else they stay (kind "insn").
    static_pc, after_label = True, False
    for op in ops:
        n = op.name
        if n == "label":
            after_label = True
        elif n == "insn_start":
            after_label = False
        elif after_label and (FLAGS[n] & ir.FAULT or n in ("call_pure", "exception")):
            static_pc = False
            break
    code = []          # (kind, a, b, c, d)
    pcs = []           # code index -> its instruction's pc
    befores = []       # code index -> instructions before its instruction, in block order
    before = seen = 0
    cur = block.pc
    goto_n = 0
    fixups = []
    helpers = []
    append = code.append
    for op in ops:
        n = op.name
        # (the commonest first: an instruction's start, a register read)
        if n == "insn_start":
            cur = op.consts[0]
            before, seen = seen, seen + 1
            if not static_pc:
                append(("insn", cur, None, None, None))
                pcs.append(cur)
                befores.append(before)
            continue
        if n == "getreg":
            o = op.outs[0].id
            out = tslots.get(o)
            if out is None:
                out = tslots[o] = len(init)
                init.append(0)
            append(("getreg", out, op.consts[0], None, None))
            pcs.append(cur)
            befores.append(before)
            continue
        ins = []
        for v in op.ins:
            if v.__class__ is Const:
                k = cslots.get(v.value)
                if k is None:
                    k = cslots[v.value] = len(init)
                    init.append(v.value)
            else:
                k = tslots.get(v.id)
                if k is None:
                    k = tslots[v.id] = len(init)
                    init.append(0)
            ins.append(k)
        if op.outs:
            o = op.outs[0].id
            out = tslots.get(o)
            if out is None:
                out = tslots[o] = len(init)
                init.append(0)
        else:
            out = None
        kind = _KIND.get(n)
        if kind == "getreg":
            code.append(("getreg", out, op.consts[0], None, None))
        elif kind == "pure":
            if n == "add" and len(ins) == 2:
                code.append(("add", out, ins[0], ins[1], MASK[op.type]))
            else:
                code.append(("pure", out, ins, n, (32 if n == "sext32" else op.type, MASK[op.type])))
        elif kind == "setreg":
            code.append(("setreg", ins[0], op.consts[0], None, None))
        elif kind == "insn":
            cur = op.consts[0]
            if static_pc:
                continue
            code.append(("insn", cur, None, None, None))
        elif kind == "ld":
            code.append(("ld", out, ins[0], op.consts[0], op.consts[1]))
        elif kind == "st":
            code.append(("st", ins[0], ins[1], op.consts[0], None))
        elif kind == "cond":
            code.append(("cond", out, ins, (n, op.ins[0].type, op.consts), None))
        elif kind == "call":
            helper = op.consts[0]
            if helper not in helpers:
                helpers.append(helper)
            code.append(("call", out, ins, helpers.index(helper), MASK[op.type]))
        elif kind == "label":
            labels[op.consts[0]] = len(code)
            continue
        elif kind == "br":
            fixups.append(len(code))
            code.append(("brcond", op.consts[0], [], "always", (None, op.consts[1], head_pc(op.consts[0]))))
        elif kind == "brcond":
            fixups.append(len(code))
            code.append(("brcond", op.consts[1], ins, op.consts[0],
                         (op.ins[0].type, op.consts[2], head_pc(op.consts[1]))))
        elif kind == "skipped":
            if not counting:
                continue
            code.append(("skipped", op.consts[1], ins, op.consts[0], op.ins[0].type))
        elif kind == "mb":
            continue
        elif kind == "goto_tb":
            code.append(("goto_tb", op.consts[0], goto_n, op.consts[1], None))
            goto_n += 1
        elif kind == "goto_ptr":
            code.append(("goto_ptr", ins[0], op.consts[0], None, None))
        elif kind == "exception":
            code.append(("exception",) + tuple(op.consts))
        else:
            raise NotImplementedError(f"interp: op {n}")
        pcs.append(cur)
        befores.append(before)
    for i in fixups:
        k = code[i]
        code[i] = (k[0], labels[k[1]]) + k[2:]

    pcs = pcs if static_pc else None
    # a region's other entries (block.entries): the same code from their label,
    # counting as if the instructions before it had run uncounted
    entries = [(pc, labels[lab], -before) for pc, lab, before in getattr(block, "entries", None) or ()]
    return (code, pcs, befores, init, block.pc, entries), helpers


def load(lowered, ctx):
    """The TB's function from lower()'s `(data, helpers)`."""
    (code, pcs, befores, init, start, entries), helpers = lowered
    code = list(code)
    for i, (k, a, b, c, d) in enumerate(code):
        if k == "pure":
            code[i] = (k, a, b, EVAL[c], d)
        elif k == "call":
            code[i] = (k, a, b, helpers[c], d)
    links, lookup, count, pending = ctx.links, ctx.lookup, ctx.counter, ctx.pending
    fn = _runner(code, pcs, befores, init, ctx.mem, links, lookup, count, pending, start, 0, 0)
    if entries:
        fn.entry_fns = [_runner(code, pcs, befores, init, ctx.mem, links, lookup, count, pending, pc, first, adjust)
                        for pc, first, adjust in entries]
    return fn


# op name -> how compile() turns it into code
_KIND = {n: "pure" for n, f in FLAGS.items() if f & ir.PURE}
_KIND.update({"getreg": "getreg", "setreg": "setreg", "insn_start": "insn", "ld": "ld", "st": "st",
              "setcond": "cond", "movcond": "cond", "call": "call", "call_pure": "call",
              "label": "label", "br": "br", "brcond": "brcond", "skipped": "skipped", "mb": "mb", "goto_tb": "goto_tb",
              "goto_ptr": "goto_ptr", "exception": "exception"})


def _runner(code, pcs, befores, init, mem, links, lookup, count, pending, start, first, adjust):
    """The TB's function, entered at code[first] (instruction pc `start`).
    (It keeps no reference to the IR: the block is freed.  What it uses are
    its parameters' defaults, one tuple, rather than a closure's cells, one
    object each: thousands of these functions live at once, and the cyclic
    GC's full collections walk every object.)"""

    def run(cpu, code=code, pcs=pcs, befores=befores, init=init, mem=mem, links=links, lookup=lookup,
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
            if e.pc is None:
                e.pc = pc if pcs is None else pcs[i - 1]
            cpu.pc = e.pc
            if count is not None and k != "exception":
                count[0] += befores[i - 1]           # (the instructions before the faulting one ran)
            raise

    return run


def raise_exception(kind, pc, next_pc):
    if kind == "syscall":
        raise Syscall(pc, next_pc)
    if kind == "breakpoint":
        raise Breakpoint(pc)
    if kind == "illegal":
        raise illegal(pc)
    raise ValueError(f"unknown exception kind {kind}")
