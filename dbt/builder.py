"""An operator-overloaded IR builder, so lifters read like the ISA manual.

    b.x[rd] = b.x[rs1] + imm          # add_i64 + setreg, x0 handled by the accessor
    b.x[rd] = (b.x[rs1] << 3).sext32()

`V` wraps an IR value; Python ints mix in as constants of the same type.  Ops whose
inputs are all constants are folded on the spot with the IR's own semantics
(`ir.eval_op`), so a lifter never emits `add $1, $2`.
"""
from . import ir
from .ir import I32, I64, EVAL, MASK, Const, Op, Temp

# ops whose inputs are not all of the op's own type (Builder._op_typed)
_MIXED_INPUTS = frozenset(("setcond", "movcond", "zext32", "sext32", "trunc32"))


class V:
    __slots__ = ("b", "v")

    def __init__(self, b, v):
        self.b = b
        self.v = v

    @property
    def type(self):
        return self.v.type

    @property
    def const(self):
        """The value if constant, else None."""
        return self.v.value if isinstance(self.v, Const) else None

    def _bin(self, name, other):
        return self.b.op(name, self.v.type, self, other)

    def _rbin(self, name, other):
        return self.b.op(name, self.v.type, other, self)

    # (each operator calls Builder.op itself, one call less per IR op: lifting
    # is most of translation's cost)
    def __add__(s, o): return s.b.op("add", s.v.type, s, o)
    def __radd__(s, o): return s.b.op("add", s.v.type, o, s)
    def __sub__(s, o): return s.b.op("sub", s.v.type, s, o)
    def __rsub__(s, o): return s.b.op("sub", s.v.type, o, s)
    def __mul__(s, o): return s.b.op("mul", s.v.type, s, o)
    def __and__(s, o): return s.b.op("and", s.v.type, s, o)
    def __rand__(s, o): return s.b.op("and", s.v.type, o, s)
    def __or__(s, o): return s.b.op("or", s.v.type, s, o)
    def __ror__(s, o): return s.b.op("or", s.v.type, o, s)
    def __xor__(s, o): return s.b.op("xor", s.v.type, s, o)
    def __lshift__(s, o): return s.b.op("shl", s.v.type, s, o)
    def __rshift__(s, o): return s.b.op("shr", s.v.type, s, o)      # logical: values are unsigned
    def __neg__(s): return s.b.op("neg", s.v.type, s)
    def __invert__(s): return s.b.op("not", s.v.type, s)

    def sar(self, o): return self._bin("sar", o)
    def mulh(self, o): return self._bin("mulh", o)
    def mulhu(self, o): return self._bin("mulhu", o)
    def mulhsu(self, o): return self._bin("mulhsu", o)
    def div(self, o): return self._bin("div", o)
    def divu(self, o): return self._bin("divu", o)
    def rem(self, o): return self._bin("rem", o)
    def remu(self, o): return self._bin("remu", o)

    def ext(self, name):
        return self.b.op(name, self.type, self)

    def sext32(self):
        """low 32 bits sign-extended (i64 -> i64)"""
        return self.ext("ext32s")

    def zext32(self):
        return self.ext("ext32u")

    def cmp(self, cond, o):
        """setcond: 1 if (self cond o) else 0, of self's type"""
        return self.b.op("setcond", self.type, self, o, consts=(cond,))

    def __repr__(self):
        return f"V({self.v!r})"


class RegFile:
    """Guest register accessor: `b.x[i]` reads, `b.x[i] = v` writes.

    `zero` names a hard-wired zero register (reads 0, writes ignored); `base` is the
    register's index in the CPU state's global array."""

    def __init__(self, b, base, zero=None, type=I64):
        self.b, self.base, self.zero, self.type = b, base, zero, type

    def __getitem__(self, i):
        if i == self.zero:
            return self.b.const(0, self.type)
        return self.b.getreg(self.base + i, self.type)

    def __setitem__(self, i, v):
        if i != self.zero:
            self.b.setreg(self.base + i, v)


class Builder:
    def __init__(self, block):
        self.block = block

    # values
    def const(self, value, type=I64):
        return V(self, Const(type, value))

    def _val(self, x, type):
        if x.__class__ is V:
            return x.v
        if isinstance(x, V):
            return x.v
        if isinstance(x, int):
            return Const(type, x)
        raise TypeError(f"not an IR value: {x!r}")

    def emit(self, name, type, outs, ins, consts=()):
        self.block.ops.append(Op(name, type, outs, ins, consts))

    def op(self, name, type, *ins, consts=()):
        """Emit a pure op with one output, folding it when every input is constant."""
        if name in _MIXED_INPUTS:
            return self._op_typed(name, type, ins, consts)
        vals = []
        folded = True
        for x in ins:
            if x.__class__ is V:
                v = x.v
            else:
                v = self._val(x, type)
            if v.__class__ is not Const:
                folded = False
            vals.append(v)
        if folded:
            return V(self, Const(type, ir.eval_op(name, type, consts, [v.value for v in vals])))
        block = self.block
        out = Temp(type, block.ntemps)
        block.ntemps += 1
        block.ops.append(Op(name, type, [out], vals, consts))
        return V(self, out)

    def _op_typed(self, name, type, ins, consts):
        """op() of an op whose inputs have types other than its own"""
        vals = [self._val(x, type) for x in ins]
        if name in ("setcond", "movcond"):   # compare inputs keep their own type
            t0 = next((x.type for x in ins if isinstance(x, V)), type)
            vals[0] = self._val(ins[0], t0)
            vals[1] = self._val(ins[1], t0)
        elif name in ("zext32", "sext32"):
            vals = [self._val(ins[0], I32)]
        elif name == "trunc32":
            vals = [self._val(ins[0], I64)]
        if all(isinstance(v, Const) for v in vals):
            w = vals[0].type if name in ("setcond", "movcond") else type
            return V(self, Const(type, ir.eval_op(name, w, consts, [v.value for v in vals])))
        out = self.block.temp(type)
        self.block.ops.append(Op(name, type, [out], vals, consts))
        return V(self, out)

    def movcond(self, cond, a, b, x, y):
        """(a cond b) ? x : y"""
        t = x.type if isinstance(x, V) else y.type if isinstance(y, V) else I64
        return self.op("movcond", t, a, b, x, y, consts=(cond,))

    # guest state
    def getreg(self, reg, type=I64):
        block = self.block
        out = Temp(type, block.ntemps)
        block.ntemps += 1
        block.ops.append(Op("getreg", type, [out], [], (reg,)))
        return V(self, out)

    def setreg(self, reg, v, type=I64):
        self.block.ops.append(Op("setreg", type, [], [v.v if v.__class__ is V else self._val(v, type)], (reg,)))

    # memory
    def ld(self, addr, size, signed=False, type=I64):
        out = self.block.temp(type)
        self.emit("ld", type, [out], [self._val(addr, I64)], (size, signed))
        return V(self, out)

    def st(self, addr, v, size, type=I64):
        self.emit("st", type, [], [self._val(addr, I64), self._val(v, type)], (size,))

    # helpers
    def call(self, helper, *args, ret=True, pure=False, type=I64):
        """Call a Python helper `helper(cpu, *args)`; returns its result as a V."""
        outs = [self.block.temp(type)] if ret else []
        self.emit("call_pure" if pure else "call", type, outs,
                  [self._val(a, I64) for a in args], (helper,))
        return V(self, outs[0]) if ret else None

    # control
    def insn_start(self, pc):
        self.emit("insn_start", None, [], [], (pc,))

    def label(self):
        return self.block.label()

    def set_label(self, label):
        self.emit("label", None, [], [], (label,))

    def brcond(self, cond, a, b, label, skip=0):
        t = a.type if isinstance(a, V) else b.type if isinstance(b, V) else I64
        self.emit("brcond", t, [], [self._val(a, t), self._val(b, t)], (cond, label, skip))
        return self.block.ops[-1]

    def br(self, label, skip=0):
        self.emit("br", None, [], [], (label, skip))

    # exits: `insns` defaults to the instructions lifted so far (the path to here)
    def goto_tb(self, pc, insns=None):
        self.emit("goto_tb", None, [], [], (pc, self.block.ninsns if insns is None else insns))

    def goto_ptr(self, v, insns=None):
        self.emit("goto_ptr", I64, [], [self._val(v, I64)],
                  (self.block.ninsns if insns is None else insns,))

    def exception(self, kind, pc, next_pc, insns=None):
        self.emit("exception", None, [], [], (kind, pc, next_pc,
                                              self.block.ninsns if insns is None else insns))

    def mb(self):
        self.emit("mb", None, [], [])


def _running(name, reverse=False):
    """RunValue's operator for the pure op `name` (two inputs, the op of
    the left one's type, as Builder.op makes it): ir.EVAL's, at once"""
    f = EVAL[name]
    if reverse:
        def op(s, o):
            w = s.type
            m = MASK[w]
            return RunValue(s.b, f(w, o.value if o.__class__ is RunValue else o & m, s.value) & m, w)
    else:
        def op(s, o):
            w = s.type
            m = MASK[w]
            return RunValue(s.b, f(w, s.value, o.value if o.__class__ is RunValue else o & m) & m, w)
    return op


def _running_unary(name):
    f = EVAL[name]

    def op(s):
        w = s.type
        return RunValue(s.b, f(w, s.value) & MASK[w], w)
    return op


class RunValue:
    """A running builder's value (Running): a constant, with V's interface
    for the lifters, whose every operator is evaluated at once with the IR's
    semantics (ir.EVAL), as Builder.op folds constants."""
    __slots__ = ("b", "value", "type")

    def __init__(self, b, value, type):
        self.b = b
        self.value = value
        self.type = type

    @property
    def v(self):
        return self                                  # (a Const's .value and .type)

    @property
    def const(self):
        return self.value

    __add__, __radd__ = _running("add"), _running("add", True)
    __sub__, __rsub__ = _running("sub"), _running("sub", True)
    __mul__ = _running("mul")
    __and__, __rand__ = _running("and"), _running("and", True)
    __or__, __ror__ = _running("or"), _running("or", True)
    __xor__ = _running("xor")
    __lshift__ = _running("shl")
    __rshift__ = _running("shr")
    __neg__ = _running_unary("neg")
    __invert__ = _running_unary("not")
    sar, mulh, mulhu, mulhsu = _running("sar"), _running("mulh"), _running("mulhu"), _running("mulhsu")
    div, divu, rem, remu = _running("div"), _running("divu"), _running("rem"), _running("remu")
    sext32, zext32 = _running_unary("ext32s"), _running_unary("ext32u")     # (V's names for them)

    def ext(self, name):
        return self.b.op(name, self.type, self)

    def cmp(self, cond, o):
        """setcond: 1 if (self cond o) else 0, of self's type"""
        return self.b.op("setcond", self.type, self, o, consts=(cond,))

    def __repr__(self):
        return f"RunValue({self.value:#x})"


class Running(Builder):
    """A Builder that runs what a lifter says instead of recording it: the
    first run of a block of cold code (dbt/execloop.py's cold runs), with no
    IR, no lowering, no TB.  Every value is a constant (RunValue: a getreg
    reads the register now, each operator is evaluated with the IR's own
    semantics), and an op with an effect happens as it is emitted, in the
    order a backend's code would do it: setreg writes the register, ld and st
    go to memory, call calls the helper.  The block's exits say where the
    path goes on (`exit`; `indirect`: a goto_ptr's), an exception op is noted
    (`raised`: the frontend raises it once the instruction is counted); a
    lifter emits no labels or branches of its own (its frontend's context
    decides a guest branch)."""
    block = None

    def __init__(self, cpu, mem):
        self.cpu, self.mem, self.regs = cpu, mem, cpu.regs
        self.exit = None
        self.indirect = False
        self.raised = None

    def _int(self, x, type):
        """x's value as an input of an op of `type` (Builder._val's)"""
        return x.value if x.__class__ is RunValue else x & MASK[type]

    def const(self, value, type=I64):
        return RunValue(self, value & MASK[type], type)

    def op(self, name, type, *ins, consts=()):
        """A pure op of constants, folded (Builder.op and _op_typed's way)."""
        w = type
        if name in ("setcond", "movcond"):         # compare inputs keep their own type
            w = next((x.type for x in ins if x.__class__ is RunValue), type)
            args = [self._int(x, w if k < 2 else type) for k, x in enumerate(ins)]
        else:
            args = [self._int(x, I32 if name in ("zext32", "sext32") else type) for x in ins]
        return RunValue(self, ir.eval_op(name, w, consts, args) & MASK[type], type)

    def movcond(self, cond, a, b, x, y):
        t = x.type if x.__class__ is RunValue else y.type if y.__class__ is RunValue else I64
        return self.op("movcond", t, a, b, x, y, consts=(cond,))

    def getreg(self, reg, type=I64):
        return RunValue(self, self.regs[reg], type)

    def setreg(self, reg, v, type=I64):
        self.regs[reg] = self._int(v, type)

    def ld(self, addr, size, signed=False, type=I64):
        return RunValue(self, self.mem.load(self._int(addr, I64), size, signed) & MASK[type], type)

    def st(self, addr, v, size, type=I64):
        self.mem.store(self._int(addr, I64), self._int(v, type), size)

    def call(self, helper, *args, ret=True, pure=False, type=I64):
        r = helper(self.cpu, *[self._int(a, I64) for a in args])
        return RunValue(self, r & MASK[type], type) if ret else None

    def goto_tb(self, pc, insns=None):
        self.exit = pc

    def goto_ptr(self, v, insns=None):
        self.exit = self._int(v, I64)
        self.indirect = True

    def exception(self, kind, pc, next_pc, insns=None):
        self.raised = (kind, pc, next_pc)

    def mb(self):
        pass                                         # (as in the interpreter's code)

    def emit(self, name, type, outs, ins, consts=()):
        raise NotImplementedError(f"a running lifter emitted {name}")

    def label(self):
        raise NotImplementedError("a running lifter made a label")
