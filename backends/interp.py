"""The reference backend: an interpreter of the IR.

`compile(block)` turns the op list into a list of (handler, args) pairs once per
TB, with every input resolved to a slot of a per-execution value array (constants
are preloaded into their slots), so running a TB is a plain loop with no decoding.
It is the oracle for the other backends: simple and obviously right, not fast.

Like every backend, a compiled TB is a function `fn(cpu)` that returns the
function to run next (see dbt/tb.py): `ctx.links[k]` for its k-th `goto_tb` exit
(the successor once chained, a resolver stub before), `ctx.lookup(pc)` for an
indirect exit.  Guest exceptions (faults, syscalls) propagate as Python
exceptions; a fault's pc is set from the last `insn_start` executed, so it is exact.
"""
from pydbt import ir
from pydbt.errors import GuestFault, Syscall, Breakpoint, illegal
from pydbt.ir import MASK, EVAL

name = "interp"
superblocks = False      # cheap plain blocks: the interpreter runs code seen once or twice


def compile(block, ctx):
    """ctx: what the TB may touch (TBContext: mem, links, lookup, counter)."""
    slots = {}
    init = []

    def slot(v):
        if isinstance(v, ir.Const):
            key = ("c", v.type, v.value)
            if key not in slots:
                slots[key] = len(init)
                init.append(v.value)
            return slots[key]
        key = ("t", v.id)
        if key not in slots:
            slots[key] = len(init)
            init.append(0)
        return slots[key]

    mem = ctx.mem
    labels = {}

    def head_pc(label):
        """for a backward branch: (pc of the loop head, instructions before it in
        block order); a pending signal leaves the block there"""
        if label not in labels:
            return None
        at = [i for i, o in enumerate(block.ops) if o.name == "label" and o.consts[0] == label][0]
        before = sum(1 for o in block.ops[:at] if o.name == "insn_start")
        return next(o.consts[0] for o in block.ops[at:] if o.name == "insn_start"), before
    code = []          # (kind, a, b, c, d)
    goto_n = 0
    fixups = []
    for op in block.ops:
        n = op.name
        ins = [slot(v) for v in op.ins]
        out = slot(op.outs[0]) if op.outs else None
        if n in ("setcond", "movcond"):
            code.append(("cond", out, ins, (n, op.ins[0].type, op.consts), None))
        elif op.flags & ir.PURE and n not in ("getreg", "call_pure"):
            f = EVAL[n]
            w = op.type
            if n == "sext32":
                w = 32
            code.append(("pure", out, ins, f, (w, MASK[op.type])))
        elif n == "getreg":
            code.append(("getreg", out, op.consts[0], None, None))
        elif n == "setreg":
            code.append(("setreg", ins[0], op.consts[0], None, None))
        elif n == "ld":
            code.append(("ld", out, ins[0], op.consts[0], op.consts[1]))
        elif n == "st":
            code.append(("st", ins[0], ins[1], op.consts[0], None))
        elif n in ("call", "call_pure"):
            code.append(("call", out, ins, op.consts[0], MASK[op.type]))
        elif n == "insn_start":
            code.append(("insn", op.consts[0], None, None, None))
        elif n == "label":
            labels[op.consts[0]] = len(code)
        elif n == "br":
            fixups.append(len(code))
            code.append(("brcond", op.consts[0], [], "always", (None, op.consts[1], head_pc(op.consts[0]))))
        elif n == "brcond":
            fixups.append(len(code))
            code.append(("brcond", op.consts[1], ins, op.consts[0],
                         (op.ins[0].type, op.consts[2], head_pc(op.consts[1]))))
        elif n == "mb":
            pass
        elif n == "goto_tb":
            code.append(("goto_tb", op.consts[0], goto_n, op.consts[1], None))
            goto_n += 1
        elif n == "goto_ptr":
            code.append(("goto_ptr", ins[0], op.consts[0], None, None))
        elif n == "exception":
            code.append(("exception",) + tuple(op.consts))
        else:
            raise NotImplementedError(f"interp: op {n}")
    for i in fixups:
        k = code[i]
        code[i] = (k[0], labels[k[1]]) + k[2:]

    links, lookup, count, pending = ctx.links, ctx.lookup, ctx.counter, ctx.pending
    fn = _runner(code, init, mem, links, lookup, count, pending, block.pc, 0, 0)
    # a region's other entries (block.entries): the same code from their label,
    # counting as if the instructions before it had run uncounted
    fn.entry_fns = [_runner(code, init, mem, links, lookup, count, pending, pc, labels[lab], -before)
                    for pc, lab, before in getattr(block, "entries", None) or ()]
    return fn


def _runner(code, init, mem, links, lookup, count, pending, start, first, adjust):
    """The TB's function, entered at code[first] (instruction pc `start`).
    (It keeps no reference to the IR: the block is freed.)"""

    def run(cpu):
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
                if k == "pure":
                    t[a] = c(d[0], *[t[x] for x in b]) & d[1]
                elif k == "getreg":
                    t[a] = regs[b]
                elif k == "setreg":
                    regs[b] = t[a]
                elif k == "insn":
                    pc = a
                elif k == "ld":
                    t[a] = mem.load(t[b], c, d) & 0xffffffffffffffff
                elif k == "st":
                    mem.store(t[a], t[b], c)
                elif k == "cond":
                    t[a] = ir.eval_op(c[0], c[1], c[2], [t[x] for x in b])
                elif k == "call":
                    r = c(cpu, *[t[x] for x in b])
                    if a is not None:
                        t[a] = r & d
                elif k == "brcond":
                    if c == "always" or ir._cond(c, t[b[0]], t[b[1]], d[0]):
                        i = a
                        if count is not None:
                            count[0] -= d[1]
                        if d[2] is not None and pending:    # a loop: let a signal in
                            if count is not None:
                                count[0] += d[2][1]
                            return lookup(d[2][0])
                elif k == "goto_tb":
                    if count is not None:
                        count[0] += c
                    return links[b]
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
                e.pc = pc
            cpu.pc = e.pc
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
