"""The intermediate representation: one op table, values, blocks, printer, verifier.

A translation block (TB) is lifted into a `Block`: a straight list of `Op`s in SSA
form.  Every op names an entry of `OPS`, the single op table that every backend must
cover (tests/unit/test_backends_cover_ops.py fails when one does not).

* Values are `Temp`s (defined once) or `Const`s (literals, usable as any input).
  Both carry a type, `I32` or `I64`; the width lives on the op (`add` of type i64),
  never in its name.  Integer values are kept unsigned: 0 <= v < 2**width.
* Guest registers are globals: `getreg`/`setreg` move them between the CPU state
  and temps.  The optimizer forwards them inside the block.
* Control flow inside a block: `brcond`/`br` to `label`s, forward or backward (a
  loop inside a superblock); temps never live across a label, only guest
  registers do, so every pass can treat a label as a fresh start.  A block leaves by `goto_tb` (direct successor, chainable), `goto_ptr`
  (indirect successor) or `exception` (syscall, breakpoint, illegal instruction).
  A block may have several such exits (side exits of a superblock: see the
  frontend); each carries `insns`, the guest instructions before it in block
  order, and a `brcond`/`br` carries `skip`, the instructions it jumps over
  (negative for a backward jump: the ones it runs again), so that counted
  instructions (--stats) are exact on every path.  `skipped` is a branch's
  count without the branch: when its condition holds, the `insns` instructions
  before it did not run (passes.if_convert made them run on both paths).
* `insn_start` marks the first op of each guest instruction: a fault inside the
  block is reported at the pc of the last `insn_start` executed.
* The semantics of every pure op are the functions in `EVAL`: the interpreter
  runs them and the constant folder calls them, so the two cannot disagree.
"""
from collections import namedtuple

I32, I64 = 32, 64
MASK = {I32: (1 << 32) - 1, I64: (1 << 64) - 1}

# op flags
PURE = 1       # no side effect: removable when its outputs are unused, foldable
SIDE = 2       # has a side effect (memory, CPU state, control)
END = 4        # ends the block
FAULT = 8      # may raise a guest fault


class OpDef(namedtuple("OpDef", "name nout nin consts flags")):
    """An op's row in the table: its name, outputs, inputs (-1: variable, a
    call's), the names of its constant arguments, its flags."""
    __slots__ = ()


def _table(*rows):
    return {r.name: r for r in rows}


_UNARY = ("mov neg not clz ctz popcnt ext8s ext8u ext16s ext16u ext32s ext32u "
          "trunc32 zext32 sext32").split()
_BINARY = ("add sub mul mulh mulhu mulhsu div divu rem remu and or xor "
           "shl shr sar rotl rotr").split()

OPS = _table(
    *(OpDef(n, 1, 1, (), PURE) for n in _UNARY),
    *(OpDef(n, 1, 2, (), PURE) for n in _BINARY),
    OpDef("setcond", 1, 2, ("cond",), PURE),
    OpDef("movcond", 1, 4, ("cond",), PURE),
    OpDef("getreg", 1, 0, ("reg",), PURE),
    OpDef("setreg", 0, 1, ("reg",), SIDE),
    OpDef("ld", 1, 1, ("size", "signed"), SIDE | FAULT),
    OpDef("st", 0, 2, ("size",), SIDE | FAULT),
    OpDef("call", -1, -1, ("helper",), SIDE | FAULT),
    OpDef("call_pure", -1, -1, ("helper",), PURE),
    OpDef("insn_start", 0, 0, ("pc",), SIDE),
    OpDef("label", 0, 0, ("label",), SIDE),
    OpDef("br", 0, 0, ("label", "skip"), SIDE),
    OpDef("brcond", 0, 2, ("cond", "label", "skip"), SIDE),
    OpDef("skipped", 0, 2, ("cond", "insns"), SIDE),
    OpDef("mb", 0, 0, (), SIDE),
    OpDef("goto_tb", 0, 0, ("pc", "insns"), SIDE | END),
    OpDef("goto_ptr", 0, 1, ("insns",), SIDE | END),
    OpDef("exception", 0, 0, ("kind", "pc", "next_pc", "insns"), SIDE | END),
)

FLAGS = {name: d.flags for name, d in OPS.items()}      # op name -> its flags (Op.flags)

CONDS = ("eq", "ne", "lt", "ge", "le", "gt", "ltu", "geu", "leu", "gtu")


class Value:
    __slots__ = ("type",)


class Temp(Value):
    __slots__ = ("id",)

    def __init__(self, type, id):
        self.type = type
        self.id = id

    def __repr__(self):
        return f"t{self.id}"


class Const(Value):
    __slots__ = ("value",)

    def __init__(self, type, value):
        self.type = type
        self.value = value & MASK[type]

    def __repr__(self):
        return f"${self.value:#x}"

    def __eq__(self, other):
        return isinstance(other, Const) and other.type == self.type and other.value == self.value

    def __hash__(self):
        return hash((self.type, self.value))


class Op:
    __slots__ = ("name", "type", "outs", "ins", "consts")

    def __init__(self, name, type, outs, ins, consts=()):
        self.name = name
        self.type = type
        self.outs = outs
        self.ins = ins
        self.consts = consts

    @property
    def flags(self):
        return FLAGS[self.name]

    def __repr__(self):
        return format_op(self)


class Block:
    """The IR of one TB: ops plus what the TB cache needs to know about it."""
    entries = None             # a region's other entries, [(pc, label, instructions before)], if any

    def __init__(self, pc):
        self.pc = pc
        self.ops = []
        self.ntemps = 0
        self.nlabels = 0
        self.ninsns = 0
        self.size = 0          # guest bytes covered, from pc

    def temp(self, type):
        t = Temp(type, self.ntemps)
        self.ntemps += 1
        return t

    def label(self):
        self.nlabels += 1
        return self.nlabels - 1


# --- semantics of the pure ops -------------------------------------------------

def _s(v, w):
    """unsigned w-bit -> signed"""
    return v - (1 << w) if v >> (w - 1) else v


def _cond(c, a, b, w):
    if c == "eq": return a == b
    if c == "ne": return a != b
    if c == "ltu": return a < b
    if c == "geu": return a >= b
    if c == "leu": return a <= b
    if c == "gtu": return a > b
    a, b = _s(a, w), _s(b, w)
    if c == "lt": return a < b
    if c == "ge": return a >= b
    if c == "le": return a <= b
    if c == "gt": return a > b
    raise ValueError(c)


def _div(w, a, b):
    """signed division truncating toward zero; x/0 -> 0 (lifters pick the guest's answer)"""
    a, b = _s(a, w), _s(b, w)
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _rem(w, a, b):
    sa, sb = _s(a, w), _s(b, w)
    if sb == 0:
        return a
    return sa - sb * _div(w, a, b)


def _clz(w, a):
    return w - a.bit_length()


def _ctz(w, a):
    return w if a == 0 else (a & -a).bit_length() - 1


# EVAL[name](w, *inputs) for pure ops; the result is masked by the caller.
# Shift amounts are taken modulo the width.
EVAL = {
    "mov": lambda w, a: a,
    "neg": lambda w, a: -a,
    "not": lambda w, a: ~a,
    "clz": _clz,
    "ctz": _ctz,
    "popcnt": lambda w, a: bin(a).count("1"),
    "ext8s": lambda w, a: _s(a & 0xff, 8),
    "ext8u": lambda w, a: a & 0xff,
    "ext16s": lambda w, a: _s(a & 0xffff, 16),
    "ext16u": lambda w, a: a & 0xffff,
    "ext32s": lambda w, a: _s(a & 0xffffffff, 32),
    "ext32u": lambda w, a: a & 0xffffffff,
    "trunc32": lambda w, a: a,                 # i64 -> i32
    "zext32": lambda w, a: a,                  # i32 -> i64
    "sext32": lambda w, a: _s(a, 32),          # i32 -> i64
    "add": lambda w, a, b: a + b,
    "sub": lambda w, a, b: a - b,
    "mul": lambda w, a, b: a * b,
    "mulh": lambda w, a, b: (_s(a, w) * _s(b, w)) >> w,
    "mulhu": lambda w, a, b: (a * b) >> w,
    "mulhsu": lambda w, a, b: (_s(a, w) * b) >> w,
    "div": _div,
    "divu": lambda w, a, b: a // b if b else 0,
    "rem": _rem,
    "remu": lambda w, a, b: a % b if b else a,
    "and": lambda w, a, b: a & b,
    "or": lambda w, a, b: a | b,
    "xor": lambda w, a, b: a ^ b,
    "shl": lambda w, a, b: a << (b & (w - 1)),
    "shr": lambda w, a, b: a >> (b & (w - 1)),
    "sar": lambda w, a, b: _s(a, w) >> (b & (w - 1)),
    "rotl": lambda w, a, b: (a << (b & (w - 1))) | (a >> ((w - (b & (w - 1))) & (w - 1))),
    "rotr": lambda w, a, b: (a >> (b & (w - 1))) | (a << ((w - (b & (w - 1))) & (w - 1))),
    "setcond": None,   # needs its cond: see eval_op
    "movcond": None,
}


def eval_op(name, w, consts, args):
    """Evaluate a pure op on Python ints; the result is masked to the width."""
    if name == "setcond":
        r = int(_cond(consts[0], args[0], args[1], w))
    elif name == "movcond":
        r = args[2] if _cond(consts[0], args[0], args[1], w) else args[3]
    else:
        r = EVAL[name](w, *args)
    return r & MASK[w]


def input_width(op, i):
    """The type of input i of op (most ops: the op's own type)."""
    if op.name in ("zext32", "sext32"):
        return I32
    if op.name == "trunc32":
        return I64
    if op.name in ("setcond", "brcond", "movcond", "skipped") and i < 2:
        return op.ins[0].type
    return op.type


# --- printer (-d op, -d op_opt) ----------------------------------------------

def format_op(op, names=None):
    """One op as text; `names` maps global register numbers to guest register names."""
    if op.name == "insn_start":
        return f" ---- {op.consts[0]:016x}"
    if op.name == "label":
        return f"L{op.consts[0]}:"
    name = op.name if op.type is None else f"{op.name}_i{op.type}"
    parts = [repr(v) for v in op.outs] + [repr(v) for v in op.ins]
    for cname, c in zip(OPS[op.name].consts, op.consts):
        if cname == "reg":
            parts.insert(0 if op.name == "setreg" else 1, names[c] if names else f"g{c}")
        elif cname == "label":
            parts.append(f"L{c}")
        elif callable(c):
            parts.append(getattr(c, "__name__", repr(c)))
        elif isinstance(c, bool):
            parts.append(cname if c else "")
        elif isinstance(c, int):
            parts.append(f"{c:#x}" if cname == "pc" else str(c))
        else:
            parts.append(str(c))
    return f" {name} {', '.join(p for p in parts if p)}".rstrip()


def format_block(block, names=None):
    return "\n".join(format_op(op, names) for op in block.ops) + "\n"


# --- verifier -------------------------------------------------------------------

class IRError(Exception):
    pass


def verify(block):
    """Check SSA form (temps defined before use, never across a label), arity,
    types and labels; raise IRError on the first problem."""
    defined = set()
    labels_defined, labels_used = set(), set()
    ops = block.ops
    if not ops or not (ops[-1].flags & END or ops[-1].name == "br"):
        raise IRError("block does not end with an END op or br")
    reachable = True
    for n, op in enumerate(ops):
        d = OPS.get(op.name)
        if d is None:
            raise IRError(f"op {n}: unknown op {op.name}")
        if d.nin >= 0 and len(op.ins) != d.nin:
            raise IRError(f"op {n} {op.name}: {len(op.ins)} inputs, wants {d.nin}")
        if d.nout >= 0 and len(op.outs) != d.nout:
            raise IRError(f"op {n} {op.name}: {len(op.outs)} outputs, wants {d.nout}")
        if len(op.consts) != len(d.consts):
            raise IRError(f"op {n} {op.name}: {len(op.consts)} constants, wants {len(d.consts)}")
        if op.name == "label":
            lab = op.consts[0]
            if lab not in labels_used and not reachable and not any(
                    o.name in ("br", "brcond") and o.consts[0 if o.name == "br" else 1] == lab
                    for o in ops[n + 1:]):
                raise IRError(f"op {n}: label L{lab} is unreachable")
            defined = set()                   # temps do not live across labels
            labels_defined.add(lab)
            reachable = True
            continue
        if not reachable:
            raise IRError(f"op {n} {op.name}: unreachable ops follow an exit")
        for i, v in enumerate(op.ins):
            if isinstance(v, Temp) and v.id not in defined:
                raise IRError(f"op {n} {op.name}: t{v.id} used before definition on some path")
            if d.flags & PURE and d.name not in ("call_pure",) and v.type != input_width(op, i):
                raise IRError(f"op {n} {op.name}: input {i} has type i{v.type}")
        for v in op.outs:
            if v.id in defined:
                raise IRError(f"op {n} {op.name}: t{v.id} defined twice")
            defined.add(v.id)
        if op.name in ("br", "brcond"):
            lab = op.consts[0] if op.name == "br" else op.consts[1]
            labels_used.add(lab)
            if op.name == "brcond" and op.consts[0] not in CONDS:
                raise IRError(f"op {n}: bad condition {op.consts[0]}")
            if op.name == "br":
                reachable = False
        if op.name in ("setcond", "movcond", "skipped") and op.consts[0] not in CONDS:
            raise IRError(f"op {n}: bad condition {op.consts[0]}")
        if d.flags & END:
            reachable = False
    missing = labels_used - labels_defined
    if missing:
        raise IRError(f"labels used but not defined: {sorted(missing)}")
    return True
