"""RISC-V F and D helpers called from translated code.

Each helper takes the CPU state first (it reads `cpu.frm` for the dynamic
rounding mode and ORs exception flags into `cpu.fflags`), then 64-bit register
bit patterns, and returns the 64-bit value for the destination register.  The
arithmetic itself is `pydbt.softfloat` with RISC-V's environment: canonical
NaNs, tininess after rounding, NV for 0*inf + qNaN.

Single-precision values live NaN-boxed in the 64-bit f registers: an operand
whose upper 32 bits are not all ones reads as the canonical NaN, and results
are written with the upper 32 bits set.

`rm` is the instruction's 3-bit field; 7 selects `cpu.frm`; 5, 6, or a dynamic
`frm` of 5..7, are reserved and raise an illegal-instruction fault.

For native backends each helper that computes an IEEE 754 operation carries
`helper.native_fp`, an arch-neutral `NativeFP` description of its common case
(the operation, the format, which argument is the rounding mode), and `ENV_DESC`
says how this ISA keeps its FP state (the CPU attributes of the accumulated
flags and the dynamic rounding mode, its flag bits, rounding-mode codes, default
NaN, NaN-boxing).  A backend may compute that common case itself; the helper
stays the exact reference and the path for everything else.
"""
from pydbt import softfloat as sf
from pydbt.errors import illegal

F32, F64 = sf.F32, sf.F64
ENV = sf.RISCV
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
BOX = 0xFFFFFFFF00000000          # NaN-boxing of single-precision results
CNAN_S = 0x7FC00000
CNAN_D = 0x7FF8000000000000
SIGN_S = 0x80000000
SIGN_D = 0x8000000000000000


def _dyn(cpu, rm):
    """Resolve a rounding-mode field > 4: dynamic (7) or reserved."""
    if rm == 7:
        rm = cpu.frm
        if rm <= 4:
            return rm
    raise illegal()


# Single-precision operands and results (the helpers below inline the same
# expressions where speed matters).

def _unbox(a):
    return a & M32 if a >= BOX else CNAN_S


def _box(r):
    return r | BOX


def _same(a):
    return a


# ---------------------------------------------------------------------------
# Arithmetic with a rounding mode.  Generated per format from small templates:
# the format and its (un)boxing are closure constants, so each helper is one
# Python call plus one call into softfloat.

def _name(f, name):
    f.__name__ = f.__qualname__ = name
    return f


def _make_binop(op, fmt):
    if fmt is F64:
        def helper(cpu, a, b, rm):
            if rm > 4:
                rm = cpu.frm if rm == 7 and cpu.frm <= 4 else _dyn(cpu, rm)
            r, f = op(F64, a, b, rm, ENV)
            if f:
                cpu.fflags |= f
            return r
    else:
        def helper(cpu, a, b, rm):
            if rm > 4:
                rm = _dyn(cpu, rm)
            r, f = op(F32, a & M32 if a >= BOX else CNAN_S,
                      b & M32 if b >= BOX else CNAN_S, rm, ENV)
            if f:
                cpu.fflags |= f
            return r | BOX
    return helper


def _make_sqrt(fmt):
    unbox = _same if fmt is F64 else _unbox
    box = _same if fmt is F64 else _box
    sqrt = sf.sqrt

    def helper(cpu, a, rm):
        if rm > 4:
            rm = _dyn(cpu, rm)
        r, f = sqrt(fmt, unbox(a), rm, ENV)
        if f:
            cpu.fflags |= f
        return box(r)
    return helper


def _make_fma(fmt, neg_prod, neg_add):
    fma = sf.fma
    if fmt is F64:
        def helper(cpu, a, b, c, rm):
            if rm > 4:
                rm = cpu.frm if rm == 7 and cpu.frm <= 4 else _dyn(cpu, rm)
            r, f = fma(F64, a, b, c, rm, ENV, neg_prod, neg_add)
            if f:
                cpu.fflags |= f
            return r
    else:
        def helper(cpu, a, b, c, rm):
            if rm > 4:
                rm = _dyn(cpu, rm)
            r, f = fma(F32, _unbox(a), _unbox(b), _unbox(c), rm, ENV, neg_prod, neg_add)
            if f:
                cpu.fflags |= f
            return r | BOX
    return helper


# ---------------------------------------------------------------------------
# Sign injection, min/max, comparisons, classification (no rounding mode)

def _make_sgnj(fmt, kind):
    unbox = _same if fmt is F64 else _unbox
    box = _same if fmt is F64 else _box
    sign = fmt.sign_bit
    mag = fmt.mask ^ sign

    if kind == 'j':
        def helper(cpu, a, b):
            return box((unbox(a) & mag) | (unbox(b) & sign))
    elif kind == 'n':
        def helper(cpu, a, b):
            return box((unbox(a) & mag) | (~unbox(b) & sign))
    else:
        def helper(cpu, a, b):
            a = unbox(a)
            return box(a ^ (unbox(b) & sign))
    return helper


def _make_minmax(fmt, op):
    unbox = _same if fmt is F64 else _unbox
    box = _same if fmt is F64 else _box

    def helper(cpu, a, b):
        r, f = op(fmt, unbox(a), unbox(b), ENV)
        if f:
            cpu.fflags |= f
        return box(r)
    return helper


def _make_cmp(fmt, want, signaling):
    unbox = _same if fmt is F64 else _unbox
    compare = sf.compare

    def helper(cpu, a, b):
        r, f = compare(fmt, unbox(a), unbox(b), signaling)
        if f:
            cpu.fflags |= f
        return 1 if r in want else 0
    return helper


def _make_class(fmt):
    unbox = _same if fmt is F64 else _unbox
    classify = sf.classify

    def helper(cpu, a):
        return 1 << classify(fmt, unbox(a))
    return helper


# ---------------------------------------------------------------------------
# Conversions

def _sext32(v):
    v &= M32
    return (v | BOX) if v >> 31 else v


def _make_f2i(fmt, lo, hi, out):
    unbox = _same if fmt is F64 else _unbox
    to_int_sat = sf.to_int_sat

    def helper(cpu, a, rm):
        if rm > 4:
            rm = _dyn(cpu, rm)
        v, f = to_int_sat(fmt, unbox(a), rm, lo, hi)
        if f:
            cpu.fflags |= f
        return out(v)
    return helper


def _make_i2f(fmt, inp):
    box = _same if fmt is F64 else _box
    from_int = sf.from_int

    def helper(cpu, a, rm):
        if rm > 4:
            rm = _dyn(cpu, rm)
        r, f = from_int(fmt, inp(a), rm, ENV)
        if f:
            cpu.fflags |= f
        return box(r)
    return helper


def _w(a):
    a &= M32
    return a - (1 << 32) if a >> 31 else a


def _wu(a):
    return a & M32


def _l(a):
    return a - (1 << 64) if a >> 63 else a


def _lu(a):
    return a


def fcvt_s_d(cpu, a, rm):
    if rm > 4:
        rm = _dyn(cpu, rm)
    r, f = sf.convert(F64, F32, a, rm, ENV)
    if f:
        cpu.fflags |= f
    return r | BOX


def fcvt_d_s(cpu, a, rm):
    if rm > 4:
        rm = _dyn(cpu, rm)
    r, f = sf.convert(F32, F64, a & M32 if a >= BOX else CNAN_S, rm, ENV)
    if f:
        cpu.fflags |= f
    return r


# ---------------------------------------------------------------------------
# Descriptions for native backends (see the module docstring)

class FPEnvDesc:
    """How an ISA keeps its floating-point state."""
    flags_attr = "fflags"        # CPU attribute: accumulated exception flags (ORed into)
    rm_attr = "frm"              # CPU attribute: the dynamic rounding mode
    # the bit of each IEEE 754 exception in the flags
    flag_bits = {"invalid": 16, "divbyzero": 8, "overflow": 4, "underflow": 2, "inexact": 1}
    rm_nearest_even = 0          # rounding-mode codes
    rm_toward_zero = 1
    rm_dynamic = 7               # read the mode from rm_attr (any other value there: the helper decides)
    default_nan = {32: CNAN_S, 64: CNAN_D}     # every NaN result is this one
    nan_boxed = True             # 32-bit values live in 64-bit words whose upper half is all ones
                                 # (otherwise they read as the default NaN); results are boxed
    int32_result_sext = True     # 32-bit integer results are sign-extended to 64 bits
    class_bits = {n: 1 << getattr(sf, n.upper()) for n in (   # fclass: the result of each class
        "neg_inf", "neg_normal", "neg_subnormal", "neg_zero", "pos_zero", "pos_subnormal",
        "pos_normal", "pos_inf", "snan", "qnan")}


ENV_DESC = FPEnvDesc()


class NativeFP:
    """The common case of a helper `(cpu, *args)`, in IEEE 754 terms:

    op: add sub mul div (a, b, rm) | sqrt (a, rm) | fma (a, b, c, rm):
        (-(a*b) if neg_prod else a*b) + (-c if neg_add else c), one rounding |
        min_num max_num (a, b): IEEE 754-2019 minimumNumber/maximumNumber, -0 < +0 |
        eq (quiet) lt le (signalling) (a, b) -> 1 or 0 |
        copysign copysign_not copysign_xor (a, b): a with b's sign (inverted, xored) |
        class (a): the env's class_bits of a's class |
        f2i (a, rm): to a signed/unsigned int_bits integer | i2f (a, rm): from the
        low int_bits of a | f2f (a, rm): from format src_width;
    width: the float format (32 or 64) of the operands, or of the result (i2f);
    rm: index of the rounding-mode argument, or None."""
    __slots__ = ("op", "width", "rm", "neg_prod", "neg_add", "int_bits", "int_signed",
                 "src_width", "env")

    def __init__(self, op, width, rm=None, neg_prod=False, neg_add=False, int_bits=0,
                 int_signed=True, src_width=0):
        self.op, self.width, self.rm = op, width, rm
        self.neg_prod, self.neg_add = neg_prod, neg_add
        self.int_bits, self.int_signed, self.src_width = int_bits, int_signed, src_width
        self.env = ENV_DESC


def _describe():
    for x, w in (("s", 32), ("d", 64)):
        d = {}
        for n in ("add", "sub", "mul", "div"):
            d[f"f{n}"] = NativeFP(n, w, rm=2)
        d["fsqrt"] = NativeFP("sqrt", w, rm=1)
        for n, neg_prod, neg_add in (("fmadd", 0, 0), ("fmsub", 0, 1), ("fnmsub", 1, 0), ("fnmadd", 1, 1)):
            d[n] = NativeFP("fma", w, rm=3, neg_prod=bool(neg_prod), neg_add=bool(neg_add))
        d["fmin"], d["fmax"] = NativeFP("min_num", w), NativeFP("max_num", w)
        for n in ("eq", "lt", "le"):
            d["f" + n] = NativeFP(n, w)
        d["fclass"] = NativeFP("class", w)
        d["fsgnj"], d["fsgnjn"], d["fsgnjx"] = (NativeFP(o, w) for o in
                                                ("copysign", "copysign_not", "copysign_xor"))
        for k, bits, signed in (("w", 32, True), ("wu", 32, False), ("l", 64, True), ("lu", 64, False)):
            d[f"fcvt_{k}"] = NativeFP("f2i", w, rm=1, int_bits=bits, int_signed=signed)
            globals()[f"fcvt_{x}_{k}"].native_fp = NativeFP("i2f", w, rm=1, int_bits=bits, int_signed=signed)
        for n, desc in d.items():
            globals()[f"{n}_{x}"].native_fp = desc
    fcvt_s_d.native_fp = NativeFP("f2f", 32, rm=1, src_width=64)
    fcvt_d_s.native_fp = NativeFP("f2f", 64, rm=1, src_width=32)


# ---------------------------------------------------------------------------
# The helpers

def _to_u64(v):
    return v & M64


_lt, _eq, _le = (sf.LT,), (sf.EQ,), (sf.LT, sf.EQ)
_I32, _U32 = (-(1 << 31), (1 << 31) - 1), (0, M32)
_I64, _U64 = (-(1 << 63), (1 << 63) - 1), (0, M64)

fadd_s = _make_binop(sf.add, F32)
fsub_s = _make_binop(sf.sub, F32)
fmul_s = _make_binop(sf.mul, F32)
fdiv_s = _make_binop(sf.div, F32)
fsqrt_s = _make_sqrt(F32)
fmadd_s = _make_fma(F32, False, False)      # a*b + c
fmsub_s = _make_fma(F32, False, True)       # a*b - c
fnmsub_s = _make_fma(F32, True, False)      # -(a*b) + c
fnmadd_s = _make_fma(F32, True, True)       # -(a*b) - c
fsgnj_s = _make_sgnj(F32, 'j')
fsgnjn_s = _make_sgnj(F32, 'n')
fsgnjx_s = _make_sgnj(F32, 'x')
fmin_s = _make_minmax(F32, sf.minimum_number)
fmax_s = _make_minmax(F32, sf.maximum_number)
feq_s = _make_cmp(F32, _eq, False)
flt_s = _make_cmp(F32, _lt, True)
fle_s = _make_cmp(F32, _le, True)
fclass_s = _make_class(F32)
fcvt_w_s = _make_f2i(F32, *_I32, _to_u64)
fcvt_wu_s = _make_f2i(F32, *_U32, _sext32)
fcvt_l_s = _make_f2i(F32, *_I64, _to_u64)
fcvt_lu_s = _make_f2i(F32, *_U64, _lu)
fcvt_s_w = _make_i2f(F32, _w)
fcvt_s_wu = _make_i2f(F32, _wu)
fcvt_s_l = _make_i2f(F32, _l)
fcvt_s_lu = _make_i2f(F32, _lu)

fadd_d = _make_binop(sf.add, F64)
fsub_d = _make_binop(sf.sub, F64)
fmul_d = _make_binop(sf.mul, F64)
fdiv_d = _make_binop(sf.div, F64)
fsqrt_d = _make_sqrt(F64)
fmadd_d = _make_fma(F64, False, False)
fmsub_d = _make_fma(F64, False, True)
fnmsub_d = _make_fma(F64, True, False)
fnmadd_d = _make_fma(F64, True, True)
fsgnj_d = _make_sgnj(F64, 'j')
fsgnjn_d = _make_sgnj(F64, 'n')
fsgnjx_d = _make_sgnj(F64, 'x')
fmin_d = _make_minmax(F64, sf.minimum_number)
fmax_d = _make_minmax(F64, sf.maximum_number)
feq_d = _make_cmp(F64, _eq, False)
flt_d = _make_cmp(F64, _lt, True)
fle_d = _make_cmp(F64, _le, True)
fclass_d = _make_class(F64)
fcvt_w_d = _make_f2i(F64, *_I32, _to_u64)
fcvt_wu_d = _make_f2i(F64, *_U32, _sext32)
fcvt_l_d = _make_f2i(F64, *_I64, _to_u64)
fcvt_lu_d = _make_f2i(F64, *_U64, _lu)
fcvt_d_w = _make_i2f(F64, _w)
fcvt_d_wu = _make_i2f(F64, _wu)
fcvt_d_l = _make_i2f(F64, _l)
fcvt_d_lu = _make_i2f(F64, _lu)

_NAMES = """
    fadd fsub fmul fdiv fsqrt fmadd fmsub fnmsub fnmadd fsgnj fsgnjn fsgnjx
    fmin fmax feq flt fle fclass fcvt_w fcvt_wu fcvt_l fcvt_lu
""".split()
_CVT_FROM_INT = 'w wu l lu'.split()

ALL_HELPERS = {}
for _x in 'sd':
    for _n in _NAMES:
        ALL_HELPERS[f'{_n}_{_x}'] = globals()[f'{_n}_{_x}']
    for _n in _CVT_FROM_INT:
        ALL_HELPERS[f'fcvt_{_x}_{_n}'] = globals()[f'fcvt_{_x}_{_n}']
ALL_HELPERS['fcvt_s_d'] = fcvt_s_d
ALL_HELPERS['fcvt_d_s'] = fcvt_d_s
for _n, _f in ALL_HELPERS.items():
    _name(_f, _n)
del _n, _f, _x
_describe()

__all__ = ['ALL_HELPERS', *ALL_HELPERS]
