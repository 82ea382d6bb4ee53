"""Optimizer passes over a block's op list, and the pass manager.

Each pass is a small function `pass(block) -> None` that rewrites `block.ops`.
Values are replaced through a substitution map applied to later inputs, which is
sound because the IR is SSA and control flow only goes forward.

* forward_regs   a `getreg` of a register already read or written earlier in the
                 same straight-line region is replaced by that value (helpers
                 never touch guest registers, so calls do not kill the knowledge;
                 a label does, since another path may join there)
* copy_prop      `mov` outputs are replaced by their input
* const_fold     pure ops whose inputs are all constants become constants,
                 algebraic identities (x+0, x&-1, x|0, x^0, shifts by 0, x*1) fold,
                 and constant offsets add up ((x+8)-8 is x: an access after a
                 pointer bump has the same base as one before it)
* dce            pure ops whose outputs are never used are removed
* narrow         with the known-bits analysis (`known_bits`): an extension or mask
                 that cannot change its input goes (ext32s of a value below 2**31,
                 and with a constant covering every bit the value may have), and
                 chains of extensions collapse (ext32u(ext32s(x)) = ext32u(x))
* dead_setreg    a `setreg` overwritten by a later `setreg` of the same register
                 with nothing in between that could observe the register (a getreg
                 of it, a fault, a helper call, a branch or label) is removed
* if_convert     (native tiers only) a forward `brcond` over a few pure ops and
                 setregs to a label nothing else jumps to (C's `if (c) x = ...;`)
                 becomes straight-line code: the ops run on both paths, each
                 register set there takes a `movcond` of its old and new value,
                 and a `skipped` op keeps the instruction count exact; the label
                 goes, so forwarding runs on through it.  A data-dependent branch
                 mispredicts about half the time on the host (~15 cycles each);
                 LLVM makes cmovs of such branches, the baseline did not.
* low_words      an `ext32s` or `ext32u` of a 64-bit value whose every use reads only its
                 low 32 bits (through add, sub, mul, logic, a left shift's value, a
                 movcond's choices, a 32-bit store or extension) goes: RV64's W
                 instructions sign-extend each result (`addw`: an add and an
                 ext32s), and a chain of them (sha256's `h + S1 + ch + k + w`)
                 needs only its last one's (LLVM's demanded bits did this; the
                 baseline's code had a movsxd per addw)
* rotate         `x >> c | x << (64 - c)` is `rotr x, c`, and RV64's 32-bit form of
                 it (`srliw`, `slliw`, `or`: the low word shifted right, the
                 sign-extended low word shifted left) the sign-extended `rotr` of
                 the low word: RV64GC has no rotate (Zbb has), so C's rotates
                 (hashes: sha256's 6 a round, CPython's siphash) come as three
                 instructions, five ops and 5-6 host instructions each, and the
                 host's rotate is one (LLVM found them, the baseline did not)

`optimize` runs the first three as one walk (`_forward`, the same ops as the
three in turn: each decides on an op from the ops before it), unless a pass is
disabled or traced; narrow computes the known bits as it goes.
"""
from . import ir
from .ir import Const, Temp, MASK, PURE, FLAGS


def _subst_inputs(op, subst):
    if subst:
        ins = op.ins
        for v in ins:
            if v.__class__ is Temp and v.id in subst:
                op.ins = [subst.get(v.id, v) if v.__class__ is Temp else v for v in ins]
                return


def forward_regs(block):
    known = {}
    subst = {}
    out = []
    for op in block.ops:
        _subst_inputs(op, subst)
        if op.name == "label":
            known.clear()
        elif op.name == "getreg":
            r = op.consts[0]
            v = known.get(r)
            if v is not None and v.type == op.type:
                subst[op.outs[0].id] = v
                continue
            known[r] = op.outs[0]
        elif op.name == "setreg":
            known[op.consts[0]] = op.ins[0]
        out.append(op)
    block.ops = out


def copy_prop(block):
    subst = {}
    out = []
    for op in block.ops:
        _subst_inputs(op, subst)
        if op.name == "mov" and op.ins[0].type == op.type:
            subst[op.outs[0].id] = op.ins[0]
            continue
        out.append(op)
    block.ops = out


_IDENTITY_RIGHT = {"add": 0, "sub": 0, "or": 0, "xor": 0, "shl": 0, "shr": 0, "sar": 0,
                   "rotl": 0, "rotr": 0, "mul": 1}


def _simplify(op):
    """A value equal to op's output, or None."""
    ins = op.ins
    if all(isinstance(v, Const) for v in ins) and op.name != "call_pure":
        w = ins[0].type if op.name in ("setcond", "movcond") else op.type
        return Const(op.type, ir.eval_op(op.name, w, op.consts, [v.value for v in ins]))
    if len(ins) == 2 and isinstance(ins[1], Const) and ins[0].type == op.type:
        c = ins[1].value
        if _IDENTITY_RIGHT.get(op.name) == c:
            return ins[0]
        if op.name == "and" and c == MASK[op.type]:
            return ins[0]
        if op.name in ("and", "mul") and c == 0:
            return Const(op.type, 0)
    if op.name == "movcond" and isinstance(ins[2], Temp) and ins[2] is ins[3]:
        return ins[2]
    return None


_COMMUTATIVE = {"add", "mul", "and", "or", "xor", "mulhu", "mulh"}


def const_fold(block):
    subst = {}
    offsets = {}                     # temp id -> (x, c): the temp is x + c
    out = []
    for op in block.ops:
        _subst_inputs(op, subst)
        if op.name in _COMMUTATIVE and isinstance(op.ins[0], Const) and not isinstance(op.ins[1], Const):
            op.ins = [op.ins[1], op.ins[0]]          # constants go right
        if op.name in ("add", "sub") and isinstance(op.ins[1], Const) and isinstance(op.ins[0], Temp):
            x, c = op.ins[0], op.ins[1].value
            if op.name == "sub":
                op.name, c = "add", -c
            if x.id in offsets and x.type == op.type:
                x, c0 = offsets[x.id]
                c += c0                              # (x + c0) + c = x + (c0 + c)
            op.ins = [x, Const(op.type, c & MASK[op.type])]
            offsets[op.outs[0].id] = (x, c)
        if FLAGS[op.name] & PURE and op.outs and op.name not in ("getreg", "call_pure"):
            v = _simplify(op)
            if v is not None:
                subst[op.outs[0].id] = v
                continue
        out.append(op)
    block.ops = out


def dce(block):
    used = set()
    out = []
    for op in reversed(block.ops):
        if FLAGS[op.name] & PURE and op.outs and not any(o.id in used for o in op.outs):
            continue
        for v in op.ins:
            if v.__class__ is Temp:
                used.add(v.id)
        out.append(op)
    out.reverse()
    block.ops = out


_EXT_BITS = {"ext8u": 8, "ext16u": 16, "ext32u": 32, "ext8s": 8, "ext16s": 16, "ext32s": 32,
             "sext32": 32}


def _bits(v, known):
    if isinstance(v, Const):
        return v.value.bit_length()
    return known.get(v.id, v.type)


def known_bits(block):
    """{temp id: n} such that the temp's value is below 2**n (an upper bound)."""
    known = {}
    for op in block.ops:
        if len(op.outs) == 1:
            known[op.outs[0].id] = _op_bits(op, known)
    return known


class _LazyBits(dict):
    """known_bits of the temps `defs` (temp id -> its op, one output) defines,
    each computed when first asked (from its inputs', in turn): for a pass
    that asks about a few temps only (rotate: narrow asks about most, and is
    faster with them all computed as it goes)."""

    def __init__(self, defs):
        super().__init__()
        self.defs = defs

    def get(self, id, default=None):
        if id not in self:
            self._compute(id)
        return self[id] if id in self else default

    def _compute(self, id):
        stack = [id]
        while stack:
            t = stack[-1]
            d = self.defs.get(t)
            if d is None:
                stack.pop()                          # (not defined by a one-output op: its type)
                continue
            todo = [v.id for v in d.ins if v.__class__ is Temp and v.id not in self and v.id in self.defs]
            if todo:
                stack.extend(todo)
                continue
            self[t] = _op_bits(d, self)
            stack.pop()


def _op_bits(op, known):
    """known_bits of op's one output, from its inputs' (`known`)"""
    n, w, ins = op.name, op.type, op.ins
    b = [_bits(v, known) for v in ins]
    r = w
    if n in ("ext8u", "ext16u", "ext32u", "trunc32"):
        r = min(_EXT_BITS.get(n, 32), b[0])
    elif n in ("ext8s", "ext16s", "ext32s", "sext32"):
        r = b[0] if b[0] < _EXT_BITS[n] else w
    elif n == "ld":
        r = w if op.consts[1] else 8 * op.consts[0]
    elif n == "and":
        r = min(b)
    elif n in ("or", "xor", "mov", "zext32", "divu", "remu"):
        r = max(b) if n in ("or", "xor") else b[0]
    elif n == "shr":
        r = max(b[0] - (ins[1].value & (w - 1)), 0) if isinstance(ins[1], Const) else b[0]
    elif n == "shl" and isinstance(ins[1], Const):
        r = min(b[0] + (ins[1].value & (w - 1)), w)
    elif n == "add":
        r = min(max(b) + 1, w)
    elif n == "mul":
        r = min(b[0] + b[1], w)
    elif n == "setcond":
        r = 1
    elif n == "movcond":
        r = max(b[2], b[3])
    elif n in ("clz", "ctz", "popcnt"):
        r = 7
    return min(r, w)


_S32_OPS = {"ext8s", "ext16s", "ext32s", "sext32"}


def _is_s32(v, s32, known):
    """Is 64-bit v known to be the sign extension of its low 32 bits?"""
    if isinstance(v, Const):
        return v.value < (1 << 31) or v.value >= (1 << 64) - (1 << 31)
    return v.id in s32 or _bits(v, known) <= 31


def narrow(block):
    """Drop extensions and masks that known bits prove do nothing; and
    sign-extensions of values already sign-extended from 32 bits (RV64 code is
    full of `sext.w` after W ops, loads and logic on such values)."""
    known = {}                   # known_bits(block), of each op as narrow finds it
    defs = {}
    subst = {}
    s32 = set()                  # 64-bit temps known to equal ext32s of themselves
    out = []
    for op in block.ops:
        if len(op.outs) == 1:
            known[op.outs[0].id] = _op_bits(op, known)
        _subst_inputs(op, subst)
        n = op.name
        if n == "ext32s" and op.type == 64 and op.ins[0].type == 64 and _is_s32(op.ins[0], s32, known):
            subst[op.outs[0].id] = op.ins[0]
            continue
        if op.type == 64 and len(op.outs) == 1 and (
                n in _S32_OPS
                or n == "ld" and op.consts[1] and op.consts[0] <= 4
                or n in ("and", "or", "xor") and all(_is_s32(v, s32, known) for v in op.ins)
                or n in ("mov", "not") and _is_s32(op.ins[0], s32, known)
                or n == "movcond" and all(_is_s32(v, s32, known) for v in op.ins[2:])
                or n == "sar" and isinstance(op.ins[1], Const) and op.ins[1].value & 63 >= 32):
            s32.add(op.outs[0].id)
        if n in _EXT_BITS and n != "sext32" and op.ins[0].type == op.type:
            x = op.ins[0]
            limit = _EXT_BITS[n] - (1 if n.endswith("s") else 0)
            if _bits(x, known) <= limit:
                subst[op.outs[0].id] = x
                continue
            inner = defs.get(x.id) if isinstance(x, Temp) else None
            if inner is not None and inner.name in _EXT_BITS and inner.name != "sext32" and \
                    _EXT_BITS[inner.name] == _EXT_BITS[n]:
                op.ins = [inner.ins[0]]      # ext32u(ext32s(y)) = ext32u(y), and so on
        elif n == "and" and isinstance(op.ins[1], Const) and op.ins[0].type == op.type:
            m = (1 << _bits(op.ins[0], known)) - 1
            if op.ins[1].value & m == m:
                subst[op.outs[0].id] = op.ins[0]
                continue
        for o in op.outs:
            defs[o.id] = op
        out.append(op)
    block.ops = out


def dead_setreg(block):
    pending = {}                 # reg -> index in out of a setreg not yet observable
    out = []
    for op in block.ops:
        if FLAGS[op.name] & (ir.FAULT | ir.END) or op.name in ("label", "br", "brcond", "call"):
            pending.clear()
        if op.name == "getreg":
            pending.pop(op.consts[0], None)
        if op.name == "setreg":
            r = op.consts[0]
            if r in pending:
                out[pending[r]] = None
            pending[r] = len(out)
        out.append(op)
    block.ops = [op for op in out if op is not None]


# if_convert: a branch is converted when what it jumps over is at most this
# many ops that compute (getregs, movs and insn_starts aside) and sets at most
# SELECT_MAX registers (each a movcond: a compare and a cmov on x86-64)
CONVERT_OPS = 8
SELECT_MAX = 3
# what may lie on the path jumped over: ops with no effect but their outputs and
# no fault (call_pure calls a helper: left alone)
_SPECULABLE = frozenset(n for n, f in FLAGS.items() if f & PURE and n != "call_pure") | {"setreg", "insn_start"}
_FREE = frozenset(("getreg", "mov", "insn_start", "setreg"))


def if_convert(block):
    """(see the module's overview) -> whether anything was converted"""
    ops = block.ops
    refs = {}                                        # label -> branches to it
    for op in ops:
        if op.name == "br":
            refs[op.consts[0]] = refs.get(op.consts[0], 0) + 1
        elif op.name == "brcond":
            refs[op.consts[1]] = refs.get(op.consts[1], 0) + 1
    for _, lab, _ in getattr(block, "entries", None) or ():
        refs[lab] = refs.get(lab, 0) + 2             # (entered from outside: a join)
    out, i, n, done = [], 0, len(ops), False
    while i < n:
        op = ops[i]
        if op.name == "brcond" and refs.get(op.consts[1]) == 1:
            body = _convertible(ops, i + 1, op.consts[1])
            if body is not None:
                out.extend(_select(block, op, ops[i + 1:body]))
                i = body + 1                         # (past the label, which goes)
                done = True
                continue
        out.append(op)
        i += 1
    block.ops = out
    return done


def _convertible(ops, start, lab):
    """The index of label `lab` if ops[start:] up to it may run on both paths
    (see if_convert), else None."""
    cost = 0
    set_ = set()
    for j in range(start, min(len(ops), start + 4 * CONVERT_OPS + 8)):
        op = ops[j]
        name = op.name
        if name == "label":
            return j if op.consts[0] == lab else None
        if name not in _SPECULABLE:
            return None
        if name == "setreg":
            if op.type != ir.I64 or op.ins[0].type != ir.I64:
                return None
            set_.add(op.consts[0])
            if len(set_) > SELECT_MAX:
                return None
        elif name == "getreg":
            if op.consts[0] in set_:                 # (a value set on this path: not forwarded)
                return None
        elif name not in _FREE:
            cost += 1
            if cost > CONVERT_OPS:
                return None
    return None


def _select(block, br, body):
    """The ops replacing brcond `br` and the ops it jumps over (`body`)."""
    a, b = br.ins
    cond, _, skip = br.consts
    new = {}
    out = []
    for op in body:
        if op.name == "setreg":
            new[op.consts[0]] = op.ins[0]
        else:
            out.append(op)
    head = []
    for r, v in new.items():
        old = block.temp(ir.I64)
        head.append(ir.Op("getreg", ir.I64, [old], [], (r,)))
        sel = block.temp(ir.I64)
        # the branch taken: the path did not run, the register keeps its value
        out.append(ir.Op("movcond", ir.I64, [sel], [a, b, old, v], (cond,)))
        out.append(ir.Op("setreg", ir.I64, [], [sel], (r,)))
    if skip:
        out.append(ir.Op("skipped", a.type, [], [a, b], (cond, skip)))
    return head + out


_DISJOINT = ("or", "xor", "add")     # (of two shifts of one value whose bits do not overlap: the same)


def rotate(block):
    """(see the module's overview)"""
    defs = {}
    known = _LazyBits(defs)      # (asked about a rotate's candidates only)
    subst = {}
    made = {}                    # (width, value's id, amount) -> the rotate's value (one each)
    out = []
    for op in block.ops:
        _subst_inputs(op, subst)
        if len(op.outs) == 1:
            defs[op.outs[0].id] = op
        if op.name in _DISJOINT and op.type == ir.I64 and all(v.__class__ is Temp for v in op.ins):
            a, b = op.ins
            found = _rotate(a, b, defs, known) or _rotate(b, a, defs, known)
            if found:
                key = (found[0], found[1].id, found[2])
                if key not in made:
                    new = _rotate_ops(block, *found)
                    out.extend(new)
                    made[key] = new[-1].outs[0]
                subst[op.outs[0].id] = made[key]
                continue
        out.append(op)
    block.ops = out


def _shift_by(v, name, defs):
    """(x, c) if temp v is `name` (shl, shr) of x by a constant c, else None."""
    d = defs.get(v.id)
    if d is None or d.name != name or d.type != ir.I64 or d.ins[1].__class__ is not Const:
        return None
    return d.ins[0], d.ins[1].value & 63


def _same(u, v):
    return u is v or u.__class__ is Temp and v.__class__ is Temp and u.id == v.id


def _low_word(v, defs):
    """The value whose low 32 bits v's are (through 32-bit extensions)."""
    while v.__class__ is Temp:
        d = defs.get(v.id)
        if d is None or d.name not in ("ext32u", "ext32s") or d.type != ir.I64:
            break
        v = d.ins[0]
    return v


def _rotate(a, b, defs, known):
    """(width, x, c) when op(a, b) is x rotated right by c, a the right shift
    and b the left one, in `width` bits (32: the low word's rotate,
    sign-extended), else None (see rotate)."""
    right = _shift_by(a, "shr", defs)
    if right is None:
        return None
    x, c = right
    left = _shift_by(b, "shl", defs)
    if left is not None and _same(left[0], x) and x.__class__ is Temp and 0 < c and left[1] == 64 - c:
        return 64, x, c
    # the 32-bit form: (ext32u(x) >> c) | ext32s(x << (32 - c)), 0 < c < 32
    ext = defs.get(b.id)
    if not 0 < c < 32 or ext is None or ext.name != "ext32s" or ext.type != ir.I64:
        return None
    left = _shift_by(ext.ins[0], "shl", defs) if ext.ins[0].__class__ is Temp else None
    if left is None or left[1] != 32 - c or _bits(x, known) > 32:
        return None
    word = _low_word(x, defs)
    if not _same(word, _low_word(left[0], defs)) or word.__class__ is not Temp:
        return None
    return 32, word, c


def _rotate_ops(block, width, x, c):
    """The ops of x rotated right by c (the last one's output: the value)."""
    if width == 64:
        return [ir.Op("rotr", ir.I64, [block.temp(ir.I64)], [x, Const(ir.I64, c)], ())]
    low, rot, r = block.temp(ir.I32), block.temp(ir.I32), block.temp(ir.I64)
    return [ir.Op("trunc32", ir.I32, [low], [x], ()),
            ir.Op("rotr", ir.I32, [rot], [low, Const(ir.I32, c)], ()),
            ir.Op("sext32", ir.I64, [r], [rot], ())]


# op -> the inputs whose bits above the low 32 only matter to the output's
# (a use of the output that reads its low word reads theirs only); for an op
# not here every input is read whole, except those _LOW_ALWAYS reads the low word of
_LOW_THROUGH = {n: (0, 1) for n in ("add", "sub", "mul", "and", "or", "xor")}
_LOW_THROUGH.update({"not": (0,), "neg": (0,), "mov": (0,), "shl": (0,), "movcond": (2, 3)})
_LOW_ALWAYS = {n: (0,) for n in ("ext8s", "ext8u", "ext16s", "ext16u", "ext32s", "ext32u", "trunc32")}


def low_words(block):
    """(see the module's overview)"""
    ops = block.ops
    whole = set()                # 64-bit temps some use reads above the low word of
    drop = {}                    # ext32s/ext32u output id -> its input
    for op in reversed(ops):     # (a temp's uses come after it: temps live between labels)
        n = op.name
        if (n == "ext32s" or n == "ext32u") and op.type == ir.I64 and op.ins[0].type == ir.I64 \
                and op.outs[0].id not in whole:
            drop[op.outs[0].id] = op.ins[0]
        low_out = op.outs and op.type == ir.I64 and op.outs[0].id not in whole
        through = _LOW_THROUGH.get(n, ()) if low_out else ()
        always = _LOW_ALWAYS.get(n, ())
        if n == "st" and op.consts[0] <= 4:
            always = (1,)        # (a store of 4 bytes or fewer: st addr, value)
        for i, v in enumerate(op.ins):
            if v.__class__ is Temp and i not in through and i not in always:
                whole.add(v.id)
    if not drop:
        return
    subst = {}
    out = []
    for op in ops:
        _subst_inputs(op, subst)
        if op.outs and op.outs[0].id in drop:
            subst[op.outs[0].id] = op.ins[0]
            continue
        out.append(op)
    block.ops = out


PASSES = {
    "forward_regs": forward_regs,
    "copy_prop": copy_prop,
    "const_fold": const_fold,
    "if_convert": if_convert,
    "narrow": narrow,
    "rotate": rotate,
    "dead_setreg": dead_setreg,      # (before dce: what fed only a dead setreg goes too)
    "low_words": low_words,          # (after dead_setreg: a dead setreg reads no word whole)
    "dce": dce,
}


def _forward(block):
    """forward_regs, copy_prop and const_fold in one walk over the ops, with
    one substitution map: the same ops as the three one after the other, as
    each decides on an op from the ops before it only (a value forwarded is
    the one the later passes would have put in its place)."""
    known = {}                       # forward_regs: reg -> its value
    subst = {}
    offsets = {}                     # const_fold: temp id -> (x, c): the temp is x + c
    out = []
    append = out.append
    for op in block.ops:
        ins = op.ins
        if subst:
            for v in ins:
                if v.__class__ is Temp and v.id in subst:
                    op.ins = ins = [subst.get(v.id, v) if v.__class__ is Temp else v for v in ins]
                    break
        name = op.name
        if name == "getreg":
            r = op.consts[0]
            v = known.get(r)
            if v is not None and v.type == op.type:
                subst[op.outs[0].id] = v
                continue
            known[r] = op.outs[0]
            append(op)
            continue
        if name == "setreg":
            known[op.consts[0]] = ins[0]
            append(op)
            continue
        if name == "label":
            known.clear()
            append(op)
            continue
        if name == "mov" and ins[0].type == op.type:
            subst[op.outs[0].id] = ins[0]
            continue
        # (const_fold)
        if name in _COMMUTATIVE and ins[0].__class__ is Const and ins[1].__class__ is not Const:
            op.ins = ins = [ins[1], ins[0]]          # constants go right
        if (name == "add" or name == "sub") and ins[1].__class__ is Const and ins[0].__class__ is Temp:
            x, c = ins[0], ins[1].value
            if name == "sub":
                op.name = name = "add"
                c = -c
            if x.id in offsets and x.type == op.type:
                x, c0 = offsets[x.id]
                c += c0                              # (x + c0) + c = x + (c0 + c)
            op.ins = [x, Const(op.type, c & MASK[op.type])]
            offsets[op.outs[0].id] = (x, c)
        if FLAGS[name] & PURE and op.outs and name != "call_pure":
            v = _simplify(op)
            if v is not None:
                subst[op.outs[0].id] = v
                continue
        append(op)
    block.ops = out


_FORWARD = ("forward_regs", "copy_prop", "const_fold")
NATIVE_ONLY = ("if_convert",)     # (Python's tiers: more ops cost more than a branch)


def optimize(block, disabled=(), trace=None, native=False):
    """Run every pass not in `disabled` (those of NATIVE_ONLY only if `native`:
    the code is the host's); `trace(name, block)` after each if given.
    (Without either, the first three run as one walk: _forward.)  When
    if_convert converts, the first three run again (a label went)."""
    _forward_passes(block, disabled, trace)
    for name, p in list(PASSES.items())[len(_FORWARD):]:
        if name in disabled or name in NATIVE_ONLY and not native:
            continue
        changed = p(block)
        if trace:
            trace(name, block)
        if name == "if_convert" and changed:
            _forward_passes(block, disabled, trace)
    return block


def _forward_passes(block, disabled, trace):
    if not disabled and trace is None:
        _forward(block)
        return
    for name in _FORWARD:
        if name not in disabled:
            PASSES[name](block)
            if trace:
                trace(name, block)
