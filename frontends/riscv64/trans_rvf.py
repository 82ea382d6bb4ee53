"""Lifters for the F and D extensions: arithmetic goes to the `fpu` helpers.

Registers hold raw bit patterns; single-precision values are NaN-boxed (upper 32
bits all ones).  Loads, stores and moves are plain IR; everything that rounds,
compares or sets fflags is a helper call (`fpu.fadd_s(cpu, a, b, rm)`, ...), named
after the instruction.  A static rounding mode of 5 or 6 is illegal at decode time;
dynamic mode 7 is checked by the helper at run time.
"""
from . import fpu
from .lift import trans, illegal

BOX = 0xffffffff00000000


def helper(name):
    return getattr(fpu, name.replace(".", "_"))


def _rm_ok(c, i):
    if i.rm in (5, 6):
        illegal(c)
        return False
    return True


@trans("flw", "fld")
def trans_fload(c, i):
    v = c.b.ld(c.x[i.rs1] + i.imm, 4 if i.name == "flw" else 8)
    c.f[i.rd] = v | BOX if i.name == "flw" else v


@trans("fsw", "fsd")
def trans_fstore(c, i):
    c.b.st(c.x[i.rs1] + i.imm, c.f[i.rs2], 4 if i.name == "fsw" else 8)


def _ops(*stems):
    return [f"{s}.{t}" for s in stems for t in "sd"]


@trans(*_ops("fadd", "fsub", "fmul", "fdiv"))
def trans_farith(c, i):
    if _rm_ok(c, i):
        c.f[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], c.f[i.rs2], i.rm)


@trans(*_ops("fsqrt"), "fcvt.s.d", "fcvt.d.s")
def trans_funary(c, i):
    if _rm_ok(c, i):
        c.f[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], i.rm)


@trans(*_ops("fmadd", "fmsub", "fnmsub", "fnmadd"))
def trans_ffma(c, i):
    if _rm_ok(c, i):
        c.f[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], c.f[i.rs2], c.f[i.rs3], i.rm)


@trans(*_ops("fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"))
def trans_fsign_minmax(c, i):
    c.f[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], c.f[i.rs2])


@trans(*_ops("feq", "flt", "fle"))
def trans_fcmp(c, i):
    c.x[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], c.f[i.rs2])


@trans(*_ops("fclass"))
def trans_fclass(c, i):
    c.x[i.rd] = c.b.call(helper(i.name), c.f[i.rs1])


@trans(*(f"fcvt.{k}.{t}" for k in ("w", "wu", "l", "lu") for t in "sd"))
def trans_fcvt_to_int(c, i):
    if _rm_ok(c, i):
        c.x[i.rd] = c.b.call(helper(i.name), c.f[i.rs1], i.rm)


@trans(*(f"fcvt.{t}.{k}" for k in ("w", "wu", "l", "lu") for t in "sd"))
def trans_fcvt_from_int(c, i):
    if _rm_ok(c, i):
        c.f[i.rd] = c.b.call(helper(i.name), c.x[i.rs1], i.rm)


@trans("fmv.x.w")
def trans_fmv_x_w(c, i):
    c.x[i.rd] = c.f[i.rs1].sext32()


@trans("fmv.w.x")
def trans_fmv_w_x(c, i):
    c.f[i.rd] = c.x[i.rs1].zext32() | BOX


@trans("fmv.x.d")
def trans_fmv_x_d(c, i):
    c.x[i.rd] = c.f[i.rs1]


@trans("fmv.d.x")
def trans_fmv_d_x(c, i):
    c.f[i.rd] = c.x[i.rs1]
