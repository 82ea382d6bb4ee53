"""IEEE 754 binary16/32/64 arithmetic on bit patterns, in pure Python.

Design
------
Every operand is a bit pattern (a Python int); every operation returns
``(result_bits, flags)`` and never touches global state, so guest threads can
share it and each frontend accumulates the flags into its own register.

1. *Unpack*: a finite operand becomes ``(sign, mant, exp)`` with
   ``value = (-1)**sign * mant * 2**exp`` and ``mant`` an ordinary integer
   (subnormals simply have a smaller ``mant``).  Infinities and NaNs are
   handled up front by each operation (``_nan`` applies the NaN policy).
2. *Exact arithmetic* on those integers: sums are aligned with shifts (Python
   ints are unbounded, so nothing is ever lost), products multiply, and the
   two operations whose result is not a finite binary number (division and
   square root) compute an integer quotient/root with at least p+2 bits and
   OR a *sticky* 1 below it when the remainder is non-zero -- which rounds
   exactly like the true infinite expansion would.
3. *One* rounding function, ``round_pack(fmt, sign, mant, exp, rm, env)``,
   turns any such exact value into the destination format: it chooses the
   rounding position (p bits, or fewer in the subnormal range), rounds with
   ``_round_shift`` (the only place that knows the five rounding modes),
   handles the carry into the next binade, overflow and underflow, and
   computes the flags.  Float->integer conversion and round-to-integral use
   the same ``_round_shift``.

Rounding modes use RISC-V's numbering (RNE=0 RTZ=1 RDN=2 RUP=3 RMM=4); flags
use RISC-V's fflags bits (NV=16 DZ=8 OF=4 UF=2 NX=1).  Other architectures map
to and from these.

What differs between architectures is gathered in an ``FPEnv``: the NaN
policy (always the default NaN as RISC-V does, or propagate the first NaN
operand as x86 SSE does, or signalling NaNs first as Arm does), the sign of
the default NaN, when tininess is detected (after rounding: RISC-V, x86;
before rounding: Arm) and what ``0*inf + qNaN`` gives.

Fast paths (binary64 and binary32, RNE only, finite normal results) use the
host's Python floats, which are IEEE binary64 with round-to-nearest-even: the
result is correctly rounded by the hardware and inexactness is decided with
error-free transformations (TwoSum for sums; Dekker's exact product for
products, quotients and roots).  binary32 is computed in binary64 and rounded
once more, which is exact for + - * / sqrt because 53 >= 2*24 + 2.  Every
fast path is guarded so that it only runs where these proofs hold (no
overflow, no underflow, no NaN) and falls back to the exact path otherwise.
They assume the host FPU is in its default state (round-to-nearest, no
flush-to-zero / denormals-are-zero); this is checked at import and the fast
paths are disabled if it does not hold.
"""
import math
import struct
from typing import NamedTuple, Optional

__all__ = [
    'Format', 'F16', 'F32', 'F64',
    'RNE', 'RTZ', 'RDN', 'RUP', 'RMM',
    'NV', 'DZ', 'OF', 'UF', 'NX',
    'FPEnv', 'RISCV', 'X86_SSE', 'ARM',
    'round_pack', 'add', 'sub', 'mul', 'div', 'sqrt', 'fma',
    'convert', 'to_int', 'to_int_sat', 'from_int', 'round_to_integral',
    'compare', 'eq', 'lt', 'le', 'LT', 'EQ', 'GT', 'UN',
    'minimum_number', 'maximum_number',
    'classify', 'CLASS_NAMES', 'NEG_INF', 'NEG_NORMAL', 'NEG_SUBNORMAL',
    'NEG_ZERO', 'POS_ZERO', 'POS_SUBNORMAL', 'POS_NORMAL', 'POS_INF', 'SNAN',
    'QNAN', 'is_nan', 'is_snan', 'unpack',
]

# Rounding modes (RISC-V's encoding).
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4

# Exception flags (RISC-V's fflags bits).
NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1


class Format:
    """An IEEE 754 binary interchange format."""
    __slots__ = ('name', 'ebits', 'fbits', 'width', 'p', 'bias', 'emin',
                 'qmin', 'emax_field', 'sign_shift', 'sign_bit', 'exp_mask',
                 'frac_mask', 'hidden', 'quiet_bit', 'inf', 'max_finite',
                 'default_nan', 'mask')

    def __init__(self, name, ebits, fbits):
        self.name = name
        self.ebits = ebits
        self.fbits = fbits
        self.width = 1 + ebits + fbits
        self.p = fbits + 1                          # precision in bits
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias                   # exponent of the smallest normal
        self.qmin = self.emin - fbits               # exponent of the subnormal lsb
        self.emax_field = (1 << ebits) - 1          # biased exponent of inf/NaN
        self.sign_shift = ebits + fbits
        self.sign_bit = 1 << self.sign_shift
        self.exp_mask = self.emax_field << fbits
        self.frac_mask = (1 << fbits) - 1
        self.hidden = 1 << fbits
        self.quiet_bit = 1 << (fbits - 1)
        self.inf = self.exp_mask
        self.max_finite = self.exp_mask - 1
        self.default_nan = self.exp_mask | self.quiet_bit
        self.mask = (1 << self.width) - 1

    def __repr__(self):
        return f'Format({self.name})'


F16 = Format('binary16', 5, 10)
F32 = Format('binary32', 8, 23)
F64 = Format('binary64', 11, 52)


class FPEnv(NamedTuple):
    """Architecture-specific choices the standard leaves open."""
    # None: every NaN result is the default NaN (RISC-V).  'first': the first
    # NaN operand, quieted (x86 SSE).  'snan_first': the first signalling NaN
    # operand, else the first quiet one, quieted (Arm with FPCR.DN=0).
    propagate: Optional[str] = None
    default_nan_sign: int = 0        # sign of the NaN an invalid operation makes
    tininess_after: bool = True      # detect tininess after rounding
    # 0*inf + qNaN: NV and the default NaN (RISC-V, Arm), or else the qNaN
    # quietly (x86)
    fma_inf_zero_qnan_nv: bool = True


RISCV = FPEnv()
X86_SSE = FPEnv(propagate='first', default_nan_sign=1, tininess_after=True,
                fma_inf_zero_qnan_nv=False)
ARM = FPEnv(propagate='snan_first', default_nan_sign=0, tininess_after=False)


# ---------------------------------------------------------------------------
# Unpacking and NaNs

def unpack(fmt, x):
    """(sign, mant, exp) of a finite operand: value = (-1)**sign * mant * 2**exp."""
    sign = x >> fmt.sign_shift
    e = (x >> fmt.fbits) & fmt.emax_field
    if e:
        return sign, (x & fmt.frac_mask) | fmt.hidden, e - fmt.bias - fmt.fbits
    return sign, x & fmt.frac_mask, fmt.qmin


def is_nan(fmt, x):
    return (x & fmt.exp_mask) == fmt.exp_mask and (x & fmt.frac_mask) != 0


def is_snan(fmt, x):
    return (x & fmt.exp_mask) == fmt.exp_mask and (x & fmt.frac_mask) != 0 \
        and not (x & fmt.quiet_bit)


def _is_inf(fmt, x):
    return (x & ~fmt.sign_bit) == fmt.inf


def _is_zero(fmt, x):
    return (x & ~fmt.sign_bit) == 0


def _default_nan(fmt, env):
    return fmt.default_nan | (env.default_nan_sign << fmt.sign_shift)


def _nan(fmt, env, *ops):
    """Result of an operation with at least one NaN operand, and its flags."""
    flags = NV if any(is_snan(fmt, x) for x in ops) else 0
    if env.propagate is None:
        return _default_nan(fmt, env), flags
    if env.propagate == 'snan_first':
        for x in ops:
            if is_snan(fmt, x):
                return x | fmt.quiet_bit, flags
    for x in ops:
        if is_nan(fmt, x):
            return x | fmt.quiet_bit, flags
    raise AssertionError('no NaN operand')


def _invalid(fmt, env):
    return _default_nan(fmt, env), NV


# ---------------------------------------------------------------------------
# Rounding: the only place that knows the rounding modes

def _round_shift(mant, shift, sign, rm):
    """Round the non-negative integer mant / 2**shift (shift > 0) to an integer
    in mode rm, for a value of the given sign.  Returns (q, inexact)."""
    q = mant >> shift
    rem = mant & ((1 << shift) - 1)
    if not rem:
        return q, False
    if rm == RNE:
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
    elif rm == RMM:
        if rem >= 1 << (shift - 1):
            q += 1
    elif rm == RDN:
        q += sign
    elif rm == RUP:
        q += not sign
    elif rm != RTZ:
        raise ValueError(f'bad rounding mode {rm}')
    return q, True


def _overflow(fmt, sign, rm):
    if rm == RTZ or (rm == RDN and not sign) or (rm == RUP and sign):
        mag = fmt.max_finite
    else:
        mag = fmt.inf
    return (sign << fmt.sign_shift) | mag, OF | NX


def round_pack(fmt, sign, mant, exp, rm=RNE, env=RISCV):
    """Round (-1)**sign * mant * 2**exp (mant >= 0 an int) to fmt.

    Returns (bits, flags).  A zero mant gives a zero of the given sign.  For
    non-terminating results the caller passes at least p+2 significant bits
    with a sticky 1 in the lowest bit when anything non-zero lies below."""
    if not mant:
        return sign << fmt.sign_shift, 0
    p = fmt.p
    n = mant.bit_length()
    e = exp + n - 1                     # exponent of the leading bit
    emin = fmt.emin
    shift = n - p if e >= emin else fmt.qmin - exp
    if shift > 0:
        q, inexact = _round_shift(mant, shift, sign, rm)
        if q >> p:                      # carried into the next binade
            q >>= 1
            shift += 1
    else:
        q, inexact = mant << -shift, False
    fbits = fmt.fbits
    if q >> fbits:                      # normal
        biased = exp + shift + fbits + fmt.bias
        if biased >= fmt.emax_field:
            return _overflow(fmt, sign, rm)
        bits = (sign << fmt.sign_shift) | (biased << fbits) | (q & fmt.frac_mask)
    else:                               # subnormal (or zero)
        bits = (sign << fmt.sign_shift) | q
    if not inexact:
        return bits, 0
    if e >= emin:
        return bits, NX
    if e < emin - 1 or not env.tininess_after:
        return bits, UF | NX
    # e == emin-1: tiny unless rounding to p bits with an unbounded exponent
    # range carries the value up to 2**emin.
    s = n - p
    if s > 0 and _round_shift(mant, s, sign, rm)[0] >> p:
        return bits, NX
    return bits, UF | NX


# ---------------------------------------------------------------------------
# Host float plumbing for the fast paths

_Q = struct.Struct('<Q')
_D = struct.Struct('<d')
_I = struct.Struct('<I')
_S = struct.Struct('<f')
_pq, _uq = _Q.pack, _Q.unpack
_pd, _ud = _D.pack, _D.unpack
_pq3, _ud3 = struct.Struct('<3Q').pack, struct.Struct('<3d').unpack
_pi, _ui = _I.pack, _I.unpack
_ps, _us = _S.pack, _S.unpack

_SPLIT = 134217729.0                 # 2**27 + 1 (Veltkamp splitting constant)
_D_LO = 2.0 ** -900                  # fast-path bounds that keep Dekker exact
_D_HI = 2.0 ** 995                   # (the Veltkamp split of 2**995 cannot overflow)
_D_BIG = 2.0 ** 1023
_S_MIN = 1.1754943508222875e-38      # smallest normal binary32
_S_MAX = 3.4028234663852886e+38      # largest binary32


def _host_fpu_is_default():
    """Round-to-nearest-even without flush-to-zero / denormals-are-zero?"""
    tiny = float('2.2250738585072014e-308')
    sub = float('5e-324')
    one = float('1')
    eps = float('1.1102230246251565e-16')            # 2**-53: a tie
    return (tiny * float('0.5') != 0.0 and sub + 0.0 != 0.0
            and one + eps == one and one + eps * float('1.5') != one
            and -one - eps == -one)


_fast = _host_fpu_is_default()
# operand range of the fma fast path: Dekker's split cannot overflow and its
# partial products stay normal, so the exactness test is itself exact
_FMA_LO, _FMA_HI = float(2.0 ** -400), float(2.0 ** 400)


def _exact_product_is(a, b, p, target):
    """Is a*b == target exactly, given p = fl(a*b) (Dekker)?  Needs the guards
    of the callers (no overflow in the split, no underflow in the partials)."""
    if p != target:
        return False
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLIT * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl == 0.0


# ---------------------------------------------------------------------------
# Arithmetic

def add(fmt, a, b, rm=RNE, env=RISCV):
    """a + b.  Returns (bits, flags)."""
    if rm == RNE and _fast:
        if fmt is F64:
            x = _ud(_pq(a))[0]
            y = _ud(_pq(b))[0]
            s = x + y
            # (sums in the subnormal range are exact, so no underflow to detect)
            if abs(s) < _D_BIG:
                bb = s - x
                return _uq(_pd(s))[0], (NX if (x - (s - bb)) + (y - bb) else 0)
        elif fmt is F32:
            x = _us(_pi(a))[0]
            y = _us(_pi(b))[0]
            s = x + y
            if abs(s) < _S_MAX:
                bb = s - x
                r = _ps(s)
                return _ui(r)[0], (NX if (x - (s - bb)) + (y - bb) or _us(r)[0] != s else 0)
    return _add(fmt, a, b, rm, env)


def sub(fmt, a, b, rm=RNE, env=RISCV):
    """a - b.  Returns (bits, flags)."""
    if not is_nan(fmt, b):
        b ^= fmt.sign_bit
    return add(fmt, a, b, rm, env)


def _add(fmt, a, b, rm, env):
    em = fmt.exp_mask
    if (a & em) == em or (b & em) == em:
        if is_nan(fmt, a) or is_nan(fmt, b):
            return _nan(fmt, env, a, b)
        if _is_inf(fmt, a):
            if _is_inf(fmt, b) and a != b:
                return _invalid(fmt, env)
            return a, 0
        return b, 0
    sa, ma, xa = unpack(fmt, a)
    sb, mb, xb = unpack(fmt, b)
    return _add_exact(fmt, sa, ma, xa, sb, mb, xb, rm, env)


def _add_exact(fmt, sa, ma, xa, sb, mb, xb, rm, env):
    """Round (-1)**sa*ma*2**xa + (-1)**sb*mb*2**xb, with IEEE's zero signs."""
    if xa > xb:
        ma <<= xa - xb
        x = xb
    else:
        mb <<= xb - xa
        x = xa
    m = (-ma if sa else ma) + (-mb if sb else mb)
    if m == 0:
        sign = sa if sa == sb else int(rm == RDN)
        return sign << fmt.sign_shift, 0
    if m < 0:
        return round_pack(fmt, 1, -m, x, rm, env)
    return round_pack(fmt, 0, m, x, rm, env)


def mul(fmt, a, b, rm=RNE, env=RISCV):
    """a * b.  Returns (bits, flags)."""
    if rm == RNE and _fast:
        if fmt is F64:
            x = _ud(_pq(a))[0]
            y = _ud(_pq(b))[0]
            p = x * y
            if _D_LO < abs(p) < _D_HI:
                c = _SPLIT * x
                xh = c - (c - x)
                xl = x - xh
                c = _SPLIT * y
                yh = c - (c - y)
                yl = y - yh
                err = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
                if err == err:          # NaN only if a split overflowed
                    return _uq(_pd(p))[0], (NX if err else 0)
        elif fmt is F32:
            p = _us(_pi(a))[0] * _us(_pi(b))[0]      # exact in binary64
            if _S_MIN < abs(p) < _S_MAX:
                r = _ps(p)
                return _ui(r)[0], (NX if _us(r)[0] != p else 0)
    return _mul(fmt, a, b, rm, env)


def _mul(fmt, a, b, rm, env):
    em = fmt.exp_mask
    sign = (a ^ b) >> fmt.sign_shift
    if (a & em) == em or (b & em) == em:
        if is_nan(fmt, a) or is_nan(fmt, b):
            return _nan(fmt, env, a, b)
        if _is_zero(fmt, a) or _is_zero(fmt, b):
            return _invalid(fmt, env)
        return (sign << fmt.sign_shift) | fmt.inf, 0
    _, ma, xa = unpack(fmt, a)
    _, mb, xb = unpack(fmt, b)
    return round_pack(fmt, sign, ma * mb, xa + xb, rm, env)


def div(fmt, a, b, rm=RNE, env=RISCV):
    """a / b.  Returns (bits, flags)."""
    if rm == RNE and _fast:
        if fmt is F64:
            x = _ud(_pq(a))[0]
            y = _ud(_pq(b))[0]
            if _D_LO < abs(x) < _D_HI and y:
                q = x / y
                # exact iff q*y == x exactly (splitting y must not overflow)
                if _D_LO < abs(q) < _D_HI and abs(y) < _D_HI:
                    return _uq(_pd(q))[0], (0 if _exact_product_is(q, y, q * y, x) else NX)
        elif fmt is F32:
            x = _us(_pi(a))[0]
            y = _us(_pi(b))[0]
            if y:
                q = x / y
                if _S_MIN < abs(q) < _S_MAX:
                    r = _ps(q)
                    # 24x24-bit product: exact in binary64
                    return _ui(r)[0], (0 if _us(r)[0] * y == x else NX)
    return _div(fmt, a, b, rm, env)


def _div(fmt, a, b, rm, env):
    em = fmt.exp_mask
    sign = (a ^ b) >> fmt.sign_shift
    if (a & em) == em or (b & em) == em:
        if is_nan(fmt, a) or is_nan(fmt, b):
            return _nan(fmt, env, a, b)
        if _is_inf(fmt, a):
            if _is_inf(fmt, b):
                return _invalid(fmt, env)
            return (sign << fmt.sign_shift) | fmt.inf, 0
        return sign << fmt.sign_shift, 0            # finite / inf
    _, ma, xa = unpack(fmt, a)
    _, mb, xb = unpack(fmt, b)
    if not mb:
        if not ma:
            return _invalid(fmt, env)
        return (sign << fmt.sign_shift) | fmt.inf, DZ
    if not ma:
        return sign << fmt.sign_shift, 0
    k = max(0, fmt.p + 2 + mb.bit_length() - ma.bit_length())
    q, r = divmod(ma << k, mb)
    return round_pack(fmt, sign, (q << 1) | (r != 0), xa - xb - k - 1, rm, env)


def sqrt(fmt, a, rm=RNE, env=RISCV):
    """Square root.  Returns (bits, flags)."""
    if rm == RNE and _fast:
        if fmt is F64:
            x = _ud(_pq(a))[0]
            if _D_LO < x < _D_HI:
                r = math.sqrt(x)
                return _uq(_pd(r))[0], (0 if _exact_product_is(r, r, r * r, x) else NX)
        elif fmt is F32:
            x = _us(_pi(a))[0]
            if 0.0 < x < _S_MAX:
                b = _ps(math.sqrt(x))
                r = _us(b)[0]
                return _ui(b)[0], (0 if r * r == x else NX)
    return _sqrt(fmt, a, rm, env)


def _sqrt(fmt, a, rm, env):
    if is_nan(fmt, a):
        return _nan(fmt, env, a)
    if _is_zero(fmt, a):
        return a, 0
    if a >> fmt.sign_shift:
        return _invalid(fmt, env)
    if a == fmt.inf:
        return a, 0
    _, m, x = unpack(fmt, a)
    if x & 1:
        m <<= 1
        x -= 1
    k = fmt.p + 2                       # root gets at least p+3 bits
    m <<= 2 * k
    r = math.isqrt(m)
    return round_pack(fmt, 0, (r << 1) | (m != r * r), (x >> 1) - k - 1, rm, env)


def fma(fmt, a, b, c, rm=RNE, env=RISCV, negate_product=False, negate_addend=False):
    """(+-)(a*b) (+-) c with a single rounding.  Returns (bits, flags).

    The negations do not apply to NaN operands."""
    em = fmt.exp_mask
    ss = fmt.sign_shift
    if (a & em) == em or (b & em) == em or (c & em) == em:
        inf_zero = ((_is_inf(fmt, a) and _is_zero(fmt, b))
                    or (_is_zero(fmt, a) and _is_inf(fmt, b)))
        if inf_zero and env.fma_inf_zero_qnan_nv and is_nan(fmt, c) \
                and not is_snan(fmt, c):
            return _invalid(fmt, env)
        if is_nan(fmt, a) or is_nan(fmt, b) or is_nan(fmt, c):
            return _nan(fmt, env, a, b, c)
        if inf_zero:
            return _invalid(fmt, env)
        ps = ((a ^ b) >> ss) ^ negate_product
        if negate_addend:
            c ^= fmt.sign_bit
        if _is_inf(fmt, a) or _is_inf(fmt, b):
            if _is_inf(fmt, c) and (c >> ss) != ps:
                return _invalid(fmt, env)
            return (ps << ss) | fmt.inf, 0
        return c, 0                                 # c is infinite
    if rm == RNE and _fast and fmt is F64:
        # fast path: when fl(a*b) is exact (Dekker), a*b+c rounds once as p+c does
        x, y, z = _ud3(_pq3(a, b, c))
        if ((x == 0.0 or _FMA_LO < abs(x) < _FMA_HI) and (y == 0.0 or _FMA_LO < abs(y) < _FMA_HI)
                and abs(z) < _D_BIG):
            p = x * y
            t = _SPLIT * x                   # (_exact_product_is, inline)
            xh = t - (t - x)
            xl = x - xh
            t = _SPLIT * y
            yh = t - (t - y)
            yl = y - yh
            if ((xh * yh - p) + xh * yl + xl * yh) + xl * yl == 0.0:
                if negate_product:
                    p = -p
                if negate_addend:
                    z = -z
                s = p + z
                if abs(s) < _D_BIG:
                    bb = s - p
                    return _uq(_pd(s))[0], (NX if (p - (s - bb)) + (z - bb) else 0)
    sa, ma, xa = unpack(fmt, a)
    sb, mb, xb = unpack(fmt, b)
    sc, mc, xc = unpack(fmt, c)
    return _add_exact(fmt, sa ^ sb ^ negate_product, ma * mb, xa + xb,
                      sc ^ negate_addend, mc, xc, rm, env)


# ---------------------------------------------------------------------------
# Conversions

def convert(src, dst, a, rm=RNE, env=RISCV):
    """Convert a from format src to format dst.  Returns (bits, flags)."""
    sign = a >> src.sign_shift
    if (a & src.exp_mask) == src.exp_mask:
        if a & src.frac_mask:                       # NaN
            flags = NV if is_snan(src, a) else 0
            if env.propagate is None:
                return _default_nan(dst, env), flags
            d = dst.fbits - src.fbits
            frac = a & src.frac_mask
            frac = frac << d if d >= 0 else frac >> -d
            return (sign << dst.sign_shift) | dst.exp_mask | dst.quiet_bit | frac, flags
        return (sign << dst.sign_shift) | dst.inf, 0
    _, m, x = unpack(src, a)
    return round_pack(dst, sign, m, x, rm, env)


def to_int(fmt, a, rm=RNE):
    """Round a to an integer in mode rm.

    Returns (value, inexact): value is the exactly rounded Python int, or the
    float nan / inf / -inf for those operands (each architecture applies its
    own range check and saturation; see to_int_sat)."""
    if (a & fmt.exp_mask) == fmt.exp_mask:
        if a & fmt.frac_mask:
            return math.nan, False
        return (-math.inf if a >> fmt.sign_shift else math.inf), False
    sign, m, x = unpack(fmt, a)
    if x >= 0:
        q, inexact = m << x, False
    else:
        q, inexact = _round_shift(m, -x, sign, rm)
    return (-q if sign else q), inexact


def to_int_sat(fmt, a, rm, lo, hi, nan_value=None, overflow_value=None):
    """IEEE convertToInteger into the range [lo, hi].

    In range: (value, NX if inexact).  NaN: (nan_value, NV), nan_value
    defaulting to hi.  Out of range after rounding, or infinite: NV, and the
    value overflow_value if given, else the nearer bound (saturation)."""
    v, inexact = to_int(fmt, a, rm)
    if isinstance(v, float):
        if v != v:
            return (hi if nan_value is None else nan_value), NV
    elif lo <= v <= hi:
        return v, (NX if inexact else 0)
    if overflow_value is not None:
        return overflow_value, NV
    return (hi if v > 0 else lo), NV


def from_int(fmt, v, rm=RNE, env=RISCV):
    """Convert the Python int v to fmt.  Returns (bits, flags)."""
    if v < 0:
        return round_pack(fmt, 1, -v, 0, rm, env)
    return round_pack(fmt, 0, v, 0, rm, env)


def round_to_integral(fmt, a, rm=RNE, exact=False, env=RISCV):
    """Round to an integral value in the same format.  exact=True raises NX
    when the value changes (IEEE roundToIntegralExact)."""
    if (a & fmt.exp_mask) == fmt.exp_mask:
        if a & fmt.frac_mask:
            return _nan(fmt, env, a)
        return a, 0
    sign, m, x = unpack(fmt, a)
    if x >= 0 or not m:
        return a, 0
    q, inexact = _round_shift(m, -x, sign, rm)
    bits, _ = round_pack(fmt, sign, q, 0, rm, env)   # exact; zero keeps sign
    return bits, (NX if inexact and exact else 0)


# ---------------------------------------------------------------------------
# Comparisons, min/max, classification

LT, EQ, GT, UN = -1, 0, 1, 2


def _key(fmt, x):
    """Integer with the same order as the (non-NaN) value; -0 == +0."""
    m = x & ~fmt.sign_bit
    return -m if x >> fmt.sign_shift else m


def compare(fmt, a, b, signaling=False):
    """(LT | EQ | GT | UN, flags).  Quiet comparisons signal NV only for
    signalling NaNs, signalling comparisons for every NaN."""
    if is_nan(fmt, a) or is_nan(fmt, b):
        return UN, (NV if signaling or is_snan(fmt, a) or is_snan(fmt, b) else 0)
    ka = _key(fmt, a)
    kb = _key(fmt, b)
    return (LT if ka < kb else GT if ka > kb else EQ), 0


def eq(fmt, a, b, signaling=False):
    """(a == b, flags); quiet by default."""
    r, flags = compare(fmt, a, b, signaling)
    return r == EQ, flags


def lt(fmt, a, b, signaling=True):
    """(a < b, flags); signalling by default."""
    r, flags = compare(fmt, a, b, signaling)
    return r == LT, flags


def le(fmt, a, b, signaling=True):
    """(a <= b, flags); signalling by default."""
    r, flags = compare(fmt, a, b, signaling)
    return r == LT or r == EQ, flags


def _minmax(fmt, a, b, env, want_max):
    na = is_nan(fmt, a)
    nb = is_nan(fmt, b)
    if na or nb:
        flags = NV if is_snan(fmt, a) or is_snan(fmt, b) else 0
        if na and nb:
            return _nan(fmt, env, a, b)[0], flags
        return (a if nb else b), flags
    if _is_zero(fmt, a) and _is_zero(fmt, b):
        return (a & b if want_max else a | b), 0       # -0 < +0
    ka = _key(fmt, a)
    kb = _key(fmt, b)
    if want_max:
        return (a if ka >= kb else b), 0
    return (a if ka <= kb else b), 0


def minimum_number(fmt, a, b, env=RISCV):
    """IEEE 754-2019 minimumNumber: a NaN operand loses against a number,
    -0 < +0, sNaN signals NV.  Returns (bits, flags)."""
    return _minmax(fmt, a, b, env, False)


def maximum_number(fmt, a, b, env=RISCV):
    """IEEE 754-2019 maximumNumber.  Returns (bits, flags)."""
    return _minmax(fmt, a, b, env, True)


# classify() results, in the order of RISC-V's fclass bits
(NEG_INF, NEG_NORMAL, NEG_SUBNORMAL, NEG_ZERO, POS_ZERO, POS_SUBNORMAL,
 POS_NORMAL, POS_INF, SNAN, QNAN) = range(10)
CLASS_NAMES = ('-inf', '-normal', '-subnormal', '-0', '+0', '+subnormal',
               '+normal', '+inf', 'snan', 'qnan')


def classify(fmt, a):
    """One of NEG_INF .. QNAN (0..9)."""
    neg = a >> fmt.sign_shift
    e = a & fmt.exp_mask
    f = a & fmt.frac_mask
    if e == fmt.exp_mask:
        if f:
            return QNAN if f & fmt.quiet_bit else SNAN
        return NEG_INF if neg else POS_INF
    if e:
        return NEG_NORMAL if neg else POS_NORMAL
    if f:
        return NEG_SUBNORMAL if neg else POS_SUBNORMAL
    return NEG_ZERO if neg else POS_ZERO
