"""pydbt.softfloat and the RISC-V F/D helpers against independent oracles.

* The host's x86-64 SSE arithmetic, through a tiny C library compiled here
  (RNE/RTZ/RDN/RUP via fesetround, flags via fetestexcept).
* An exact fractions.Fraction reference written below, for RMM (which x86
  lacks), binary16 and the tininess-before-rounding environment.
* Hand-worked values from the RISC-V spec for saturation, NaN-boxing, min/max,
  classification and the reserved rounding modes.
"""
import ctypes
import inspect
import math
import os
import random
import shutil
import subprocess
import struct
from fractions import Fraction

import pytest

from pydbt import softfloat as sf
from pydbt.errors import GuestFault
from pydbt.frontends.riscv64 import fpu

# PYDBT_SOFTFLOAT_N / _SEED make longer soak runs easy
SEED = int(os.environ.get('PYDBT_SOFTFLOAT_SEED', 20240611))
N = int(os.environ.get('PYDBT_SOFTFLOAT_N', 2000))     # random cases per (operation, format, mode)

RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4
NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1
BOX = 0xFFFFFFFF00000000
M64 = (1 << 64) - 1
CNAN = {32: 0x7FC00000, 64: 0x7FF8000000000000}
# (exponent bits, fraction bits) -- the test's own description of the formats
EF = {16: (5, 10), 32: (8, 23), 64: (11, 52)}
FMT = {16: sf.F16, 32: sf.F32, 64: sf.F64}


# ---------------------------------------------------------------------------
# The C oracle

C_SOURCE = r"""
#include <fenv.h>
#include <math.h>
#include <stdint.h>

static const int modes[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
typedef union { uint64_t u; double d; } u64d;
typedef union { uint32_t u; float f; } u32f;

static void start(int rm) { fesetround(modes[rm]); feclearexcept(FE_ALL_EXCEPT); }
static int finish(void) {
    int e = fetestexcept(FE_ALL_EXCEPT), r = 0;
    if (e & FE_INVALID) r |= 16;
    if (e & FE_DIVBYZERO) r |= 8;
    if (e & FE_OVERFLOW) r |= 4;
    if (e & FE_UNDERFLOW) r |= 2;
    if (e & FE_INEXACT) r |= 1;
    fesetround(FE_TONEAREST);
    feclearexcept(FE_ALL_EXCEPT);
    return r;
}

int op_d(int op, int rm, uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
    u64d ua = {a}, ub = {b}, uc = {c}, ur;
    volatile double x = ua.d, y = ub.d, z = uc.d, r = 0;
    volatile int t = 0;
    start(rm);
    switch (op) {
    case 0: r = x + y; break;
    case 1: r = x - y; break;
    case 2: r = x * y; break;
    case 3: r = x / y; break;
    case 4: r = sqrt(x); break;
    case 5: r = fma(x, y, z); break;
    case 6: t = x == y; break;
    case 7: t = x < y; break;
    case 8: t = x <= y; break;
    case 9: r = rint(x); break;
    /* explicit instructions: x is the first source operand */
    case 10: r = x; __asm__ volatile("addsd %1, %0" : "+x"(r) : "x"(y)); break;
    case 11: r = x; __asm__ volatile("subsd %1, %0" : "+x"(r) : "x"(y)); break;
    case 12: r = x; __asm__ volatile("mulsd %1, %0" : "+x"(r) : "x"(y)); break;
    case 13: r = x; __asm__ volatile("divsd %1, %0" : "+x"(r) : "x"(y)); break;
    }
    int f = finish();
    ur.d = r;
    *out = (op >= 6 && op <= 8) ? (uint64_t)t : ur.u;
    return f;
}

int op_s(int op, int rm, uint32_t a, uint32_t b, uint32_t c, uint64_t *out) {
    u32f ua = {a}, ub = {b}, uc = {c}, ur;
    volatile float x = ua.f, y = ub.f, z = uc.f, r = 0;
    volatile int t = 0;
    start(rm);
    switch (op) {
    case 0: r = x + y; break;
    case 1: r = x - y; break;
    case 2: r = x * y; break;
    case 3: r = x / y; break;
    case 4: r = sqrtf(x); break;
    case 5: r = fmaf(x, y, z); break;
    case 6: t = x == y; break;
    case 7: t = x < y; break;
    case 8: t = x <= y; break;
    case 9: r = rintf(x); break;
    case 10: r = x; __asm__ volatile("addss %1, %0" : "+x"(r) : "x"(y)); break;
    case 11: r = x; __asm__ volatile("subss %1, %0" : "+x"(r) : "x"(y)); break;
    case 12: r = x; __asm__ volatile("mulss %1, %0" : "+x"(r) : "x"(y)); break;
    case 13: r = x; __asm__ volatile("divss %1, %0" : "+x"(r) : "x"(y)); break;
    }
    int f = finish();
    ur.f = r;
    *out = (op >= 6 && op <= 8) ? (uint64_t)t : ur.u;
    return f;
}

/* conversions: kind selects source and destination */
int cvt(int kind, int rm, uint64_t a, uint64_t *out) {
    u64d ud = {a}, rd;
    u32f us = {(uint32_t)a}, rs;
    volatile double xd = ud.d, d = 0;
    volatile float xs = us.f, s = 0;
    volatile int64_t l = (int64_t)a;
    volatile uint64_t lu = a;
    volatile int32_t w = (int32_t)(uint32_t)a;
    volatile uint32_t wu = (uint32_t)a;
    int single = 0;
    start(rm);
    switch (kind) {
    case 0: s = (float)xd; single = 1; break;       /* fcvt.s.d */
    case 1: d = (double)xs; break;                  /* fcvt.d.s */
    case 2: s = (float)w; single = 1; break;
    case 3: s = (float)wu; single = 1; break;
    case 4: s = (float)l; single = 1; break;
    case 5: s = (float)lu; single = 1; break;
    case 6: d = (double)w; break;
    case 7: d = (double)wu; break;
    case 8: d = (double)l; break;
    case 9: d = (double)lu; break;
    }
    int f = finish();
    rs.f = s;
    rd.d = d;
    *out = single ? rs.u : rd.u;
    return f;
}
"""


@pytest.fixture(scope='module')
def clib(tmp_path_factory):
    gcc = shutil.which('gcc')
    if gcc is None:
        pytest.skip('gcc not available for the IEEE oracle')
    d = tmp_path_factory.mktemp('sforacle')
    src = d / 'oracle.c'
    so = d / 'oracle.so'
    src.write_text(C_SOURCE)
    subprocess.run([gcc, '-O0', '-frounding-math', '-fno-math-errno', '-fPIC', '-shared',
                    '-o', str(so), str(src), '-lm'], check=True, capture_output=True)
    lib = ctypes.CDLL(str(so))
    out = ctypes.c_uint64()
    ref = ctypes.byref(out)
    lib.op_d.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64,
                         ctypes.c_uint64, ctypes.c_void_p]
    lib.op_s.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32,
                         ctypes.c_uint32, ctypes.c_void_p]
    lib.cvt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p]

    class Oracle:
        @staticmethod
        def op(width, op, rm, a, b=0, c=0):
            f = (lib.op_d if width == 64 else lib.op_s)(op, rm, a, b, c, ref)
            return out.value, f

        @staticmethod
        def cvt(kind, rm, a):
            f = lib.cvt(kind, rm, a, ref)
            return out.value, f
    return Oracle


# ---------------------------------------------------------------------------
# Operand generation

def specials(w):
    eb, fb = EF[w]
    s = 1 << (w - 1)
    emax = (1 << eb) - 1
    bias = (1 << (eb - 1)) - 1
    one = bias << fb
    vals = [0, 1, 2, (1 << fb) - 1, 1 << fb, (1 << fb) + 1, one, one + 1, one - 1,
            (bias + 1) << fb, (bias - 1) << fb | (1 << (fb - 1)),    # 2.0, 0.75
            (emax << fb) - 1, (emax - 1) << fb, emax << fb,          # max, 2^emax, inf
            (emax << fb) | (1 << (fb - 1)),                          # qNaN
            (emax << fb) | 1,                                        # sNaN
            (emax << fb) | (1 << (fb - 1)) | 0x15,                   # qNaN with payload
            (bias + fb) << fb, (bias + fb + 1) << fb | 1]            # 2^fb, 2^(fb+1)+ulp
    return vals + [v | s for v in vals]


def short_mant(rng, fb):
    k = rng.randint(0, fb)
    return rng.getrandbits(k) << (fb - k)


def gen(rng, w, exp_range=None):
    """A random operand biased towards interesting values."""
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    sign = rng.getrandbits(1) << (w - 1)
    r = rng.random()
    if r < 0.12:
        return rng.choice(specials(w))
    if r < 0.30:
        return rng.getrandbits(w)
    if r < 0.42:            # subnormal, often with few bits
        return sign | (rng.getrandbits(rng.randint(1, fb)) if rng.random() < 0.5
                       else rng.getrandbits(fb))
    if exp_range is None:
        exp_range = (1, (1 << eb) - 2) if r < 0.7 else (bias - 40, bias + 40)
    e = rng.randint(*exp_range)
    e = min(max(e, 1), (1 << eb) - 2)
    m = short_mant(rng, fb) if rng.random() < 0.5 else rng.getrandbits(fb)
    return sign | (e << fb) | m


def biased_exp(w, x):
    eb, fb = EF[w]
    return (x >> fb) & ((1 << eb) - 1)


def gen_related(rng, w, a, op):
    """A second operand chosen to make ties, cancellation, overflow or underflow likely."""
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    emax = (1 << eb) - 2
    ea = biased_exp(w, a)
    if ea in (0, emax + 1):
        return gen(rng, w)
    choice = rng.random()
    if op in (0, 1):        # add/sub: close exponents, near-negation
        if choice < 0.3:
            return (a ^ (rng.getrandbits(1) << (w - 1))) + rng.randint(-3, 3) & ((1 << w) - 1)
        e = ea - rng.randint(0, fb + 3)
        return gen(rng, w, (e, e))
    if op == 2:             # mul: product near the overflow or underflow threshold
        target = rng.choice([1, emax, bias + rng.randint(-3, 3)])
        e = target - ea + bias + rng.randint(-2, 1)
        return gen(rng, w, (e, e))
    if op == 3:             # div
        target = rng.choice([1, emax, bias])
        e = ea - target + bias + rng.randint(-1, 2)
        return gen(rng, w, (e, e))
    return gen(rng, w)


def gen_fma(rng, w):
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    a = gen(rng, w)
    b = gen_related(rng, w, a, 2) if rng.random() < 0.5 else gen(rng, w)
    if rng.random() < 0.6:
        e = biased_exp(w, a) + biased_exp(w, b) - bias + rng.randint(-fb - 3, 2)
        c = gen(rng, w, (e, e))
    else:
        c = gen(rng, w)
    return a, b, c


# ---------------------------------------------------------------------------
# Bits <-> Fraction and the exact rounding reference

def decode(w, x):
    """Fraction for finite values, else 'nan' / 'inf' / '-inf'."""
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    s = -1 if x >> (w - 1) else 1
    e = (x >> fb) & ((1 << eb) - 1)
    f = x & ((1 << fb) - 1)
    if e == (1 << eb) - 1:
        return 'nan' if f else ('-inf' if s < 0 else 'inf')
    if e == 0:
        return s * Fraction(f) * Fraction(2) ** (1 - bias - fb)
    return s * Fraction(f | (1 << fb)) * Fraction(2) ** (e - bias - fb)


def is_nan_bits(w, x):
    eb, fb = EF[w]
    return ((x >> fb) & ((1 << eb) - 1)) == (1 << eb) - 1 and x & ((1 << fb) - 1) != 0


def ilog2(v):
    """floor(log2(v)) for a positive Fraction."""
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    return e


def round_frac(v, rm):
    """Round a non-negative Fraction to an integer: (n, inexact)."""
    n = math.floor(v)
    fr = v - n
    if fr == 0:
        return n, False
    up = {RNE: fr > Fraction(1, 2) or (fr == Fraction(1, 2) and n % 2 == 1),
          RTZ: False, RMM: fr >= Fraction(1, 2)}
    return n, up.get(rm)


def ref_round(w, v, rm, neg_zero=False, tininess_after=True):
    """Correctly round the Fraction v into format w: (bits, flags)."""
    eb, fb = EF[w]
    p = fb + 1
    bias = (1 << (eb - 1)) - 1
    emin = 1 - bias
    emax = bias
    sign = 1 if v < 0 or (v == 0 and neg_zero) else 0
    a = abs(v)
    if a == 0:
        return sign << (w - 1), 0

    def rnd(q):       # round a / 2**q to an integer in mode rm
        n, up = round_frac(a / Fraction(2) ** q, rm)
        if up is None:
            up = (rm == RUP) != bool(sign)
        inexact = a != n * Fraction(2) ** q
        return n + (1 if up and inexact else 0), inexact

    e = ilog2(a)
    q = max(e, emin) - (p - 1)
    n, inexact = rnd(q)
    val = n * Fraction(2) ** q
    flags = NX if inexact else 0
    if val >= Fraction(2) ** (emax + 1):
        to_inf = rm in (RNE, RMM) or (rm == RUP and not sign) or (rm == RDN and sign)
        mag = ((1 << eb) - 1) << fb if to_inf else (((1 << eb) - 1) << fb) - 1
        return (sign << (w - 1)) | mag, OF | NX
    if inexact:
        if tininess_after:
            nu, _ = rnd(e - (p - 1))
            tiny = nu * Fraction(2) ** (e - (p - 1)) < Fraction(2) ** emin
        else:
            tiny = a < Fraction(2) ** emin
        if tiny:
            flags |= UF
    # encode val
    if val == 0:
        return sign << (w - 1), flags
    ev = ilog2(val)
    if ev < emin:
        m = val / Fraction(2) ** (emin - fb)
        assert m.denominator == 1
        return (sign << (w - 1)) | int(m), flags
    m = val / Fraction(2) ** (ev - fb)
    assert m.denominator == 1
    return (sign << (w - 1)) | ((ev + bias) << fb) | (int(m) - (1 << fb)), flags


def ref_binop(w, op, a, b, rm, c=None, tininess_after=True):
    """Exact reference for finite operands (None if the reference does not apply)."""
    x, y = decode(w, a), decode(w, b)
    z = decode(w, c) if c is not None else Fraction(0)
    if any(isinstance(t, str) for t in (x, y, z)):
        return None
    sa, sb = a >> (w - 1), b >> (w - 1)
    if op == 0:
        v, zs = x + y, (sa & sb) if sa == sb else rm == RDN
    elif op == 1:
        v, zs = x - y, (sa & (1 - sb)) if sa != sb else rm == RDN
    elif op == 2:
        v, zs = x * y, sa ^ sb
    elif op == 3:
        if y == 0:
            return None
        v, zs = x / y, sa ^ sb
    elif op == 5:
        sc = c >> (w - 1)
        ps = sa ^ sb
        v, zs = x * y + z, ps if ps == sc else rm == RDN
    else:
        raise ValueError(op)
    return ref_round(w, v, rm, neg_zero=bool(zs), tininess_after=tininess_after)


# ---------------------------------------------------------------------------
# Driving the RISC-V helpers

class CPU:
    def __init__(self, frm=0):
        self.fflags = 0
        self.frm = frm


def box(w, x):
    return x | BOX if w == 32 else x


def unbox(w, r):
    if w == 32:
        assert r >> 32 == 0xFFFFFFFF, f'result not NaN-boxed: {r:#x}'
        return r & 0xFFFFFFFF
    return r


def call(name, w, *ops, rm=None, frm=0):
    cpu = CPU(frm)
    x = 's' if w == 32 else 'd'
    args = [box(w, o) for o in ops]
    if rm is not None:
        args.append(rm)
    r = fpu.ALL_HELPERS[f'{name}_{x}'](cpu, *args)
    return r, cpu.fflags


OPS = {0: 'fadd', 1: 'fsub', 2: 'fmul', 3: 'fdiv', 4: 'fsqrt', 5: 'fmadd'}


def check_result(w, got, gflags, want, wflags, what):
    if is_nan_bits(w, want):
        assert got == CNAN[w], f'{what}: expected canonical NaN, got {got:#x}'
    else:
        assert got == want, f'{what}: got {got:#x}, want {want:#x}'
    assert gflags == wflags, f'{what}: flags {gflags:#x}, want {wflags:#x} (result {got:#x})'


def odd_float(rng, w, k, e):
    """A float with exactly k significant bits (an odd k-bit integer scaled),
    leading-bit exponent e (unbiased), random sign."""
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    m = (1 << (k - 1)) | rng.getrandbits(k - 1) | 1 if k > 1 else 1
    frac = (m << (fb + 1 - k)) & ((1 << fb) - 1)
    return (rng.getrandbits(1) << (w - 1)) | ((e + bias) << fb) | frac


def gen_tie(rng, w, op):
    """Operands whose exact result is often exactly halfway between two floats."""
    eb, fb = EF[w]
    p = fb + 1
    bias = (1 << (eb - 1)) - 1
    emin = 1 - bias
    if op == 2:
        # odd k-bit * odd j-bit with k+j = p+2: the product has p+1 bits (a tie)
        # or p+2; sometimes scaled into the subnormal range
        k = rng.randint(2, p - 1)
        ea = rng.randint(-20, 20)
        eb_ = rng.randint(-20, 20) if rng.random() < 0.7 else emin - ea - rng.randint(0, p)
        eb_ = max(eb_, emin)
        return odd_float(rng, w, k, ea), odd_float(rng, w, p + 2 - k, eb_)
    if op == 3:
        # division by 2**d into the subnormal range, the lowest bit of a
        # landing half an ulp below the subnormal lsb (or close to it)
        k = rng.randint(1, p)
        d = max(1, p + 1 - k) + rng.randint(0, 4)
        a = odd_float(rng, w, k, emin - p + k + d - 1 + rng.randint(-1, 1) * (rng.random() < 0.3))
        return a, odd_float(rng, w, 1, d)
    if op == 5:
        # a power of two product exactly half an ulp of c
        ea, eb_ = rng.randint(-20, 20), rng.randint(-20, 20)
        c = odd_float(rng, w, rng.randint(p - 2, p), ea + eb_ + p - rng.randint(0, 1))
        return odd_float(rng, w, 1, ea), odd_float(rng, w, 1, eb_), c
    # add/sub: a float and a power of two half an ulp below it
    ea = rng.randint(emin, 20)
    a = odd_float(rng, w, rng.randint(p - 2, p), ea)
    k = 1 if rng.random() < 0.6 else rng.randint(2, 3)
    return a, odd_float(rng, w, k, max(ea - p - rng.randint(0, 1), emin))


def gen_near_exact(rng, w, op):
    """x = fl(q*y) for div(x, y), x = fl(r*r) for sqrt(x): results that are
    exact or only just inexact (the last term of an exact product matters)."""
    eb, fb = EF[w]
    q = odd_float(rng, w, rng.randint(1, fb + 1), rng.randint(-30, 30))
    if op == 4:
        q &= (1 << (w - 1)) - 1
        return (ref_round(w, decode(w, q) ** 2, RNE)[0],)
    y = odd_float(rng, w, rng.randint(1, fb + 1), rng.randint(-30, 30))
    return ref_round(w, decode(w, q) * decode(w, y), RNE)[0], y


def operands(rng, w, op):
    if op in (3, 4) and rng.random() < 0.15:
        return gen_near_exact(rng, w, op)
    if op == 4:
        a = gen(rng, w)
        return (a if rng.random() < 0.2 else a & ((1 << (w - 1)) - 1),)
    if rng.random() < 0.25:
        return gen_tie(rng, w, op)
    if op == 5:
        return gen_fma(rng, w)
    a = gen(rng, w)
    b = gen_related(rng, w, a, op) if rng.random() < 0.5 else gen(rng, w)
    return (a, b) if rng.random() < 0.5 else (b, a)


# ---------------------------------------------------------------------------
# Arithmetic against the C oracle (RNE/RTZ/RDN/RUP), through the RISC-V helpers

# 'exact' runs RNE with the host-float fast paths switched off
@pytest.mark.parametrize('rm', [RNE, RTZ, RDN, RUP, 'exact'])
@pytest.mark.parametrize('w', [32, 64])
@pytest.mark.parametrize('op', sorted(OPS))
def test_arith_vs_host(clib, monkeypatch, op, w, rm):
    if rm == 'exact':
        monkeypatch.setattr(sf, '_fast', False)
        rm = RNE
    rng = random.Random(SEED * 7 + op * 100 + w + rm)
    for _ in range(N):
        ops = operands(rng, w, op)
        want, wflags = clib.op(w, op, rm, *ops)
        if op == 5 and any(is_nan_bits(w, o) for o in ops):
            # x86 does not raise NV for 0*inf + qNaN; RISC-V does (tested below)
            wflags |= NV if _inf_times_zero(w, ops[0], ops[1]) else 0
        got, gflags = call(OPS[op], w, *ops, rm=rm)
        got = unbox(w, got)
        check_result(w, got, gflags, want, wflags,
                     f'{OPS[op]}.{w} rm={rm} ' + ' '.join(f'{o:#x}' for o in ops))


def _inf_times_zero(w, a, b):
    x, y = decode(w, a), decode(w, b)
    return (x in ('inf', '-inf') and y == 0) or (y in ('inf', '-inf') and x == 0)


@pytest.mark.parametrize('w', [32, 64])
def test_fma_sign_variants_vs_host(clib, w):
    rng = random.Random(SEED + w)
    sign = 1 << (w - 1)
    for _ in range(N):
        a, b, c = gen_fma(rng, w)
        rm = rng.randrange(4)
        for name, na, nc in (('fmsub', 0, 1), ('fnmsub', 1, 0), ('fnmadd', 1, 1)):
            if any(is_nan_bits(w, o) for o in (a, b, c)):
                continue
            want, wflags = clib.op(w, 5, rm, a ^ (sign * na), b, c ^ (sign * nc))
            got, gflags = call(name, w, a, b, c, rm=rm)
            check_result(w, unbox(w, got), gflags, want, wflags,
                         f'{name}.{w} rm={rm} {a:#x} {b:#x} {c:#x}')


@pytest.mark.parametrize('w', [32, 64])
def test_compare_vs_host(clib, w):
    rng = random.Random(SEED + 3 * w)
    for _ in range(N * 2):
        a = gen(rng, w)
        b = rng.choice([a, a ^ (1 << (w - 1)), a + 1, gen(rng, w), gen(rng, w)]) & ((1 << w) - 1)
        for op, name in ((6, 'feq'), (7, 'flt'), (8, 'fle')):
            want, wflags = clib.op(w, op, RNE, a, b)
            got, gflags = call(name, w, a, b)
            assert (got, gflags) == (want, wflags), f'{name}.{w} {a:#x} {b:#x}'


# ---------------------------------------------------------------------------
# Conversions against the C oracle

@pytest.mark.parametrize('rm', [RNE, RTZ, RDN, RUP])
def test_float_float_vs_host(clib, rm):
    rng = random.Random(SEED + 11 + rm)
    for _ in range(N * 2):
        # binary64 values around binary32's range and precision
        if rng.random() < 0.5:
            a = gen(rng, 64)
        else:
            e = rng.randint(1023 - 160, 1023 + 135)
            a = (rng.getrandbits(1) << 63) | (e << 52) | (
                short_mant(rng, 52) if rng.random() < 0.5 else rng.getrandbits(52))
        want, wflags = clib.cvt(0, rm, a)
        got, gflags = _cvt('fcvt_s_d', a, rm)
        check_result(32, unbox(32, got), gflags, want, wflags, f'fcvt.s.d rm={rm} {a:#x}')
        s = gen(rng, 32)
        want, wflags = clib.cvt(1, rm, s)
        got, gflags = _cvt('fcvt_d_s', s | BOX, rm)
        check_result(64, got, gflags, want, wflags, f'fcvt.d.s rm={rm} {s:#x}')


def _cvt(name, a, rm, frm=0):
    cpu = CPU(frm)
    r = fpu.ALL_HELPERS[name](cpu, a, rm)
    return r, cpu.fflags


def gen_int(rng):
    r = rng.random()
    if r < 0.2:
        return rng.getrandbits(64)
    if r < 0.4:
        return rng.getrandbits(rng.randint(0, 64))
    if r < 0.6:
        v = rng.getrandbits(rng.randint(0, 33))
        return (-v) & M64 if rng.random() < 0.5 else v
    # near a power of two, often a tie for binary32 or binary64
    k = rng.choice([26, 27, 31, 32, 53, 54, 63, 64])
    h = 1 << (k - 26)             # k >= 26: a quarter ulp of binary32 at 2**k
    v = (1 << k) + rng.choice([-1, 0, 1, 3, 2 * h, 4 * h, 4 * h + 1, -2 * h, -3 * h, -h])
    if k > 53 and rng.random() < 0.5:
        v = (1 << k) - (1 << (k - 54)) + rng.randint(-1, 1)
    v &= M64
    return (-v) & M64 if rng.random() < 0.3 else v


INT_TO_FLOAT = {('s', 'w'): 2, ('s', 'wu'): 3, ('s', 'l'): 4, ('s', 'lu'): 5,
                ('d', 'w'): 6, ('d', 'wu'): 7, ('d', 'l'): 8, ('d', 'lu'): 9}


@pytest.mark.parametrize('rm', [RNE, RTZ, RDN, RUP])
def test_int_to_float_vs_host(clib, rm):
    rng = random.Random(SEED + 17 + rm)
    for _ in range(N):
        a = gen_int(rng)
        if rng.random() < 0.3:
            a = (a & 0xFFFFFFFF) | (rng.getrandbits(32) << 32)    # junk above bit 31
        for (x, src), kind in INT_TO_FLOAT.items():
            want, wflags = clib.cvt(kind, rm, a)
            got, gflags = _cvt(f'fcvt_{x}_{src}', a, rm)
            w = 32 if x == 's' else 64
            check_result(w, unbox(w, got), gflags, want, wflags, f'fcvt.{x}.{src} rm={rm} {a:#x}')


INT_RANGES = {'w': (-(1 << 31), (1 << 31) - 1), 'wu': (0, (1 << 32) - 1),
              'l': (-(1 << 63), (1 << 63) - 1), 'lu': (0, (1 << 64) - 1)}


def riscv_f2i_expected(w, a, rounded, dst):
    """RISC-V's fcvt.<int>.<fmt> from the exactly rounded value."""
    lo, hi = INT_RANGES[dst]
    x = decode(w, a)
    if x == 'nan':
        v, f = hi, NV
    elif x == 'inf' or (not isinstance(x, str) and rounded > hi):
        v, f = hi, NV
    elif x == '-inf' or rounded < lo:
        v, f = lo, NV
    else:
        v, f = rounded, (NX if rounded != x else 0)
    if dst in ('w', 'wu'):                # 32-bit results are sign-extended
        v &= 0xFFFFFFFF
        if v >> 31:
            v |= BOX
    return v & M64, f


def gen_f2i_operand(rng, w):
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    r = rng.random()
    if r < 0.3:
        return gen(rng, w)
    if r < 0.6:           # near the integer range limits
        k = rng.choice([30, 31, 32, 33, 62, 63, 64, 65])
        e = bias + k + rng.randint(-1, 0)
    else:                 # small values with fractional parts, including ties
        e = bias + rng.randint(-3, 8)
    m = rng.getrandbits(fb) if rng.random() < 0.5 else short_mant(rng, fb)
    if rng.random() < 0.3:
        m = ((1 << fb) - 1) - rng.randint(0, 3)
    return (rng.getrandbits(1) << (w - 1)) | (e << fb) | m


@pytest.mark.parametrize('rm', [RNE, RTZ, RDN, RUP, RMM])
@pytest.mark.parametrize('w', [32, 64])
def test_float_to_int(clib, w, rm):
    """In-range results from the host's rint (or an exact reference for RMM);
    saturation from RISC-V's table."""
    rng = random.Random(SEED + 23 + w + rm)
    x = 's' if w == 32 else 'd'
    for _ in range(N):
        a = gen_f2i_operand(rng, w)
        v = decode(w, a)
        if isinstance(v, str):
            rounded = None
        elif rm == RMM:
            n = math.floor(abs(v) + Fraction(1, 2))
            rounded = -n if v < 0 else n
        else:
            r, _ = clib.op(w, 9, rm, a)
            rounded = decode(w, r)
            assert rounded.denominator == 1
            rounded = int(rounded)
        for dst in ('w', 'wu', 'l', 'lu'):
            want = riscv_f2i_expected(w, a, rounded, dst)
            got = _cvt(f'fcvt_{dst}_{x}', box(w, a), rm)
            assert got == want, f'fcvt.{dst}.{x} rm={rm} {a:#x} ({v}): {got} != {want}'


# ---------------------------------------------------------------------------
# The exact reference: RMM, binary16, tininess before rounding

@pytest.mark.parametrize('w', [32, 64])
@pytest.mark.parametrize('op', [0, 1, 2, 3, 5])
def test_rmm_vs_fraction(op, w):
    rng = random.Random(SEED + 31 + op * 10 + w)
    for _ in range(N):
        ops = operands(rng, w, op)
        ref = ref_binop(w, op, *ops[:2], RMM, c=ops[2] if op == 5 else None)
        if ref is None:
            continue
        got, gflags = call(OPS[op], w, *ops, rm=RMM)
        check_result(w, unbox(w, got), gflags, *ref, f'{OPS[op]}.{w} RMM {ops}')


@pytest.mark.parametrize('w', [32, 64])
def test_rmm_sqrt_equals_rne(clib, w):
    """A square root is never a tie, so RMM and RNE agree."""
    rng = random.Random(SEED + 37 + w)
    for _ in range(N):
        a = gen(rng, w)
        want, wflags = clib.op(w, 4, RNE, a)
        got, gflags = call('fsqrt', w, a, rm=RMM)
        check_result(w, unbox(w, got), gflags, want, wflags, f'fsqrt.{w} RMM {a:#x}')


def test_rmm_conversions():
    rng = random.Random(SEED + 41)
    for _ in range(N):
        a = gen(rng, 64)
        v = decode(64, a)
        if not isinstance(v, str):
            ref = ref_round(32, v, RMM, neg_zero=bool(a >> 63))
            got, gflags = _cvt('fcvt_s_d', a, RMM)
            check_result(32, unbox(32, got), gflags, *ref, f'fcvt.s.d RMM {a:#x}')
        i = gen_int(rng)
        for (x, src) in INT_TO_FLOAT:
            lo, hi = INT_RANGES[src]
            bits = 32 if src in ('w', 'wu') else 64
            iv = i & ((1 << bits) - 1)
            if lo < 0 and iv >> (bits - 1):
                iv -= 1 << bits
            w = 32 if x == 's' else 64
            ref = ref_round(w, Fraction(iv), RMM)
            got, gflags = _cvt(f'fcvt_{x}_{src}', i, RMM)
            check_result(w, unbox(w, got), gflags, *ref, f'fcvt.{x}.{src} RMM {i:#x}')


@pytest.mark.parametrize('rm', [RNE, RTZ, RDN, RUP, RMM])
def test_binary16_vs_fraction(rm):
    rng = random.Random(SEED + 43 + rm)
    fmt = sf.F16
    fns = {0: sf.add, 1: sf.sub, 2: sf.mul, 3: sf.div}
    for _ in range(N):
        for op, fn in fns.items():
            a = gen(rng, 16)
            b = gen_related(rng, 16, a, op) if rng.random() < 0.5 else gen(rng, 16)
            ref = ref_binop(16, op, a, b, rm)
            if ref is not None:
                got = fn(fmt, a, b, rm)
                check_result(16, *got, *ref, f'{fn.__name__}.16 rm={rm} {a:#x} {b:#x}')
        a, b, c = gen_fma(rng, 16)
        ref = ref_binop(16, 5, a, b, rm, c=c)
        if ref is not None:
            check_result(16, *sf.fma(fmt, a, b, c, rm), *ref, f'fma.16 {a:#x} {b:#x} {c:#x}')
        a = gen(rng, 16) & 0x7FFF
        v = decode(16, a)
        if not isinstance(v, str):
            # sqrt: reference by bisection on the exact square
            got, gflags = sf.sqrt(fmt, a, rm)
            g = decode(16, got)
            assert not isinstance(g, str)
            exact = g * g == v
            assert gflags == (0 if exact else NX)
            if not exact:
                # the neighbours of g bracket the root the right way for rm
                lo_n = decode(16, got - 1) if got & 0x7FFF else Fraction(0)
                hi_n = decode(16, got + 1)
                if rm in (RTZ, RDN):
                    assert g * g < v < hi_n * hi_n
                elif rm == RUP:
                    assert lo_n * lo_n < v < g * g
                else:
                    assert ((lo_n + g) / 2) ** 2 < v < ((g + hi_n) / 2) ** 2


@pytest.mark.parametrize('w', [16, 32, 64])
def test_tininess_before_rounding(w):
    """The ARM environment detects tininess before rounding, RISC-V after."""
    rng = random.Random(SEED + 47 + w)
    eb, fb = EF[w]
    bias = (1 << (eb - 1)) - 1
    fmt = FMT[w]
    hits = 0
    for _ in range(N):
        a = (rng.randint(bias - 2, bias + 2) << fb) | rng.getrandbits(fb)
        # b just below 2**emin / a: the product lies just below 2**emin
        b, _ = ref_round(w, Fraction(2) ** (1 - bias) / decode(w, a), RDN)
        b += rng.randint(-1, 0)
        b |= rng.getrandbits(1) << (w - 1)
        rm = rng.randrange(5)
        got = {}
        for env, after in ((sf.ARM, False), (sf.RISCV, True)):
            ref = ref_binop(w, 2, a, b, rm, tininess_after=after)
            got[after] = sf.mul(fmt, a, b, rm, env)
            assert got[after] == ref, f'mul.{w} rm={rm} after={after} {a:#x} {b:#x}'
        hits += got[True] != got[False]
    assert hits > N // 30, 'too few cases distinguished the two tininess rules'


# ---------------------------------------------------------------------------
# x86 NaN propagation reuses the module: check it against the host

@pytest.mark.parametrize('w', [32, 64])
def test_x86_nan_propagation_vs_host(clib, w):
    rng = random.Random(SEED + 53 + w)
    fmt = FMT[w]
    nans = [x for x in specials(w) if is_nan_bits(w, x)]
    fns = {0: sf.add, 1: sf.sub, 2: sf.mul, 3: sf.div}
    for _ in range(N):
        a, b = gen(rng, w), gen(rng, w)
        if rng.random() < 0.5:
            a = rng.choice(nans) | rng.getrandbits(EF[w][1] - 2)
        if rng.random() < 0.5:
            b = rng.choice(nans) | rng.getrandbits(EF[w][1] - 2)
        for op, fn in fns.items():
            want = clib.op(w, 10 + op, RNE, a, b)
            assert fn(fmt, a, b, RNE, sf.X86_SSE) == want, f'{fn.__name__}.{w} {a:#x} {b:#x}'
        assert sf.sqrt(fmt, a, RNE, sf.X86_SSE) == clib.op(w, 4, RNE, a)
    for _ in range(N):
        a = gen(rng, 64)
        assert sf.convert(sf.F64, sf.F32, a, RNE, sf.X86_SSE) == clib.cvt(0, RNE, a)
        s = gen(rng, 32)
        assert sf.convert(sf.F32, sf.F64, s, RNE, sf.X86_SSE) == clib.cvt(1, RNE, s)


# ---------------------------------------------------------------------------
# RISC-V specifics, hand-worked from the spec

D = lambda x: struct.unpack('<Q', struct.pack('<d', x))[0]      # noqa: E731
S = lambda x: struct.unpack('<I', struct.pack('<f', x))[0]      # noqa: E731
QNAN_S, SNAN_S = 0x7FC00000, 0x7F800001
QNAN_D, SNAN_D = 0x7FF8000000000000, 0x7FF0000000000001
INF_D, INF_S = 0x7FF0000000000000, 0x7F800000


@pytest.mark.parametrize('x, w, val, rm, expect', [
    # (format, value bits, rm, {dst: (result, flags)})
    ('d', 64, QNAN_D, RTZ, {'w': (0x7FFFFFFF, NV), 'wu': (M64, NV),
                            'l': ((1 << 63) - 1, NV), 'lu': (M64, NV)}),
    ('d', 64, SNAN_D | (1 << 63), RTZ, {'w': (0x7FFFFFFF, NV), 'lu': (M64, NV)}),
    ('d', 64, INF_D, RNE, {'w': (0x7FFFFFFF, NV), 'wu': (M64, NV),
                           'l': ((1 << 63) - 1, NV), 'lu': (M64, NV)}),
    ('d', 64, INF_D | (1 << 63), RNE, {'w': (0xFFFFFFFF80000000, NV), 'wu': (0, NV),
                                       'l': (1 << 63, NV), 'lu': (0, NV)}),
    ('d', 64, D(-1.0), RTZ, {'w': (M64, 0), 'wu': (0, NV), 'l': (M64, 0), 'lu': (0, NV)}),
    ('d', 64, D(-0.5), RTZ, {'wu': (0, NX), 'lu': (0, NX), 'w': (0, NX)}),
    ('d', 64, D(-0.5), RDN, {'wu': (0, NV), 'w': (M64, NX)}),
    ('d', 64, D(-0.0), RNE, {'wu': (0, 0), 'lu': (0, 0)}),
    ('d', 64, D(2.5), RNE, {'w': (2, NX)}),
    ('d', 64, D(2.5), RMM, {'w': (3, NX)}),
    ('d', 64, D(-2.5), RMM, {'w': (M64 - 2, NX)}),
    ('d', 64, D(-2.5), RUP, {'l': (M64 - 1, NX)}),
    ('d', 64, D(2147483647.5), RNE, {'w': (0x7FFFFFFF, NV)}),
    ('d', 64, D(2147483647.5), RTZ, {'w': (0x7FFFFFFF, NX)}),
    ('d', 64, D(-2147483648.5), RTZ, {'w': (0xFFFFFFFF80000000, NX)}),
    ('d', 64, D(-2147483648.5), RDN, {'w': (0xFFFFFFFF80000000, NV)}),
    ('d', 64, D(4294967295.0), RNE, {'wu': (M64, 0), 'w': (0x7FFFFFFF, NV)}),
    ('d', 64, D(4294967296.0), RNE, {'wu': (M64, NV)}),
    ('d', 64, D(2.0 ** 31), RNE, {'wu': (0xFFFFFFFF80000000, 0)}),
    ('d', 64, D(2.0 ** 63), RNE, {'l': ((1 << 63) - 1, NV), 'lu': (1 << 63, 0)}),
    ('d', 64, D(-2.0 ** 63), RNE, {'l': (1 << 63, 0), 'lu': (0, NV)}),
    ('d', 64, D(2.0 ** 64), RNE, {'lu': (M64, NV)}),
    ('s', 32, S(-1.5), RNE, {'w': (M64 - 1, NX), 'wu': (0, NV)}),
    ('s', 32, 0x7F7FFFFF, RNE, {'l': ((1 << 63) - 1, NV), 'lu': (M64, NV)}),
])
def test_fcvt_to_int_spec(x, w, val, rm, expect):
    for dst, want in expect.items():
        assert _cvt(f'fcvt_{dst}_{x}', box(w, val), rm) == want, dst


def test_nan_boxing():
    cpu = CPU()
    one = S(1.0)
    # a properly boxed operand is used, an improperly boxed one is the canonical NaN
    assert fpu.fadd_s(cpu, BOX | one, BOX | one, RNE) == BOX | S(2.0)
    assert fpu.fadd_s(cpu, one, BOX | one, RNE) == BOX | QNAN_S
    assert cpu.fflags == 0                       # canonical NaN is quiet
    assert fpu.fclass_s(cpu, one) == 1 << 9
    assert fpu.fclass_s(cpu, 0xFFFFFFFE00000000 | one) == 1 << 9
    assert fpu.fclass_s(cpu, BOX | one) == 1 << 6
    assert fpu.fcvt_d_s(cpu, D(1.0), RNE) == QNAN_D
    assert fpu.fsgnj_s(cpu, one, BOX | one) == BOX | QNAN_S
    assert fpu.fsgnjn_s(cpu, BOX | one, BOX | one) == BOX | S(-1.0)
    assert fpu.fsgnjx_s(cpu, BOX | S(-2.0), BOX | S(-1.0)) == BOX | S(2.0)
    assert fpu.fcvt_w_s(cpu, one, RTZ) == 0x7FFFFFFF and cpu.fflags == NV
    cpu.fflags = 0
    assert fpu.fmin_s(cpu, one, BOX | S(3.0)) == BOX | S(3.0)
    assert fpu.feq_s(cpu, one, one) == 0 and cpu.fflags == 0
    assert fpu.fcvt_s_w(cpu, 5, RNE) == BOX | S(5.0)
    assert fpu.fcvt_s_d(cpu, D(0.1), RNE) == BOX | S(0.1)
    assert fpu.fmadd_s(cpu, BOX | one, BOX | one, one, RNE) == BOX | QNAN_S
    assert fpu.fsqrt_s(cpu, BOX | S(4.0), RNE) == BOX | S(2.0)


def test_sign_injection_d():
    cpu = CPU()
    assert fpu.fsgnj_d(cpu, D(1.5), D(-0.0)) == D(-1.5)
    assert fpu.fsgnjn_d(cpu, D(1.5), D(-0.0)) == D(1.5)
    assert fpu.fsgnjx_d(cpu, D(-1.5), D(-3.0)) == D(1.5)
    assert fpu.fsgnj_d(cpu, SNAN_D, D(-1.0)) == SNAN_D | (1 << 63)     # no canonicalisation
    assert cpu.fflags == 0


@pytest.mark.parametrize('x, w', [('s', 32), ('d', 64)])
def test_min_max(x, w):
    fmt = FMT[w]
    q, s = (QNAN_S, SNAN_S) if w == 32 else (QNAN_D, SNAN_D)
    sign = 1 << (w - 1)
    one = S(1.0) if w == 32 else D(1.0)
    two = S(2.0) if w == 32 else D(2.0)
    cases = [
        # a, b, min, max, flags
        (one, two, one, two, 0),
        (one | sign, two, one | sign, two, 0),
        (0, sign, sign, 0, 0),                       # -0 < +0
        (sign, 0, sign, 0, 0),
        (q, one, one, one, 0),
        (one, q | 5, one, one, 0),
        (s, one, one, one, NV),
        (one, s, one, one, NV),
        (q, q, CNAN[w], CNAN[w], 0),
        (s, q, CNAN[w], CNAN[w], NV),
        (fmt.inf | sign, fmt.inf, fmt.inf | sign, fmt.inf, 0),
    ]
    for a, b, mn, mx, fl in cases:
        for name, want in (('fmin', mn), ('fmax', mx)):
            got = call(name, w, a, b)
            assert (unbox(w, got[0]), got[1]) == (want, fl), f'{name} {a:#x} {b:#x}'


def test_min_max_random():
    rng = random.Random(SEED + 59)
    for _ in range(N):
        for w in (32, 64):
            a, b = gen(rng, w), gen(rng, w)
            x, y = decode(w, a), decode(w, b)
            if isinstance(x, str) and x != 'nan' or isinstance(y, str) and y != 'nan':
                continue                            # infinities are in test_min_max
            if x == 'nan' or y == 'nan':
                continue
            mn, _ = call('fmin', w, a, b)
            mx, _ = call('fmax', w, a, b)
            if x == y:
                assert {unbox(w, mn), unbox(w, mx)} <= {a, b}
            else:
                assert decode(w, unbox(w, mn)) == min(x, y)
                assert decode(w, unbox(w, mx)) == max(x, y)


@pytest.mark.parametrize('x, w', [('s', 32), ('d', 64)])
def test_fclass(x, w):
    eb, fb = EF[w]
    sign = 1 << (w - 1)
    inf = ((1 << eb) - 1) << fb
    cases = [(inf | sign, 0), (inf - 1 | sign, 1), (1 | sign, 2), (sign, 3), (0, 4),
             (1, 5), ((1 << fb) - 1, 5), (1 << fb, 6), (inf, 7), (inf | 1, 8),
             (inf | (1 << (fb - 1)), 9), (inf | sign | 1, 8), (inf | sign | (1 << (fb - 1)), 9)]
    for v, bit in cases:
        assert call('fclass', w, v) == (1 << bit, 0), hex(v)


@pytest.mark.parametrize('x, w', [('s', 32), ('d', 64)])
def test_fma_invalid_cases(x, w):
    fmt = FMT[w]
    q, s = (QNAN_S, SNAN_S) if w == 32 else (QNAN_D, SNAN_D)
    one = S(1.0) if w == 32 else D(1.0)
    sign = 1 << (w - 1)
    for name in ('fmadd', 'fmsub', 'fnmsub', 'fnmadd'):
        # inf * 0 + qNaN raises NV (RISC-V spec), result canonical NaN
        assert call(name, w, fmt.inf, 0, q, rm=RNE) == (box(w, CNAN[w]), NV)
        assert call(name, w, sign, fmt.inf | sign, q, rm=RNE) == (box(w, CNAN[w]), NV)
        assert call(name, w, one, one, q, rm=RNE) == (box(w, CNAN[w]), 0)
        assert call(name, w, one, s, one, rm=RNE) == (box(w, CNAN[w]), NV)
        assert call(name, w, fmt.inf, 0, one, rm=RNE) == (box(w, CNAN[w]), NV)
    # inf - inf in the addition
    assert call('fmadd', w, fmt.inf, one, fmt.inf | sign, rm=RNE) == (box(w, CNAN[w]), NV)
    assert call('fmsub', w, fmt.inf, one, fmt.inf, rm=RNE) == (box(w, CNAN[w]), NV)
    assert call('fnmadd', w, fmt.inf, one, fmt.inf, rm=RDN) == (box(w, fmt.inf | sign), 0)
    # exact zero results: x*y - x*y is +0, except -0 when rounding down
    assert call('fmsub', w, one, one, one, rm=RNE) == (box(w, 0), 0)
    assert call('fmsub', w, one, one, one, rm=RDN) == (box(w, sign), 0)
    assert call('fnmadd', w, sign, one, 0, rm=RNE) == (box(w, 0), 0)     # -(-0*1) - 0
    assert call('fnmsub', w, 0, one, sign, rm=RNE) == (box(w, sign), 0)  # -(0*1) + -0


def test_rounding_mode_field():
    cpu = CPU(frm=RUP)
    third = fpu.fdiv_d(cpu, D(1.0), D(3.0), 7)          # dynamic: round up
    assert third == D(1.0 / 3.0) + 1
    assert cpu.fflags == NX
    assert fpu.fdiv_d(CPU(frm=RTZ), D(1.0), D(3.0), 7) == D(1.0 / 3.0)
    for name, f in fpu.ALL_HELPERS.items():
        if 'rm' not in inspect.signature(f).parameters:
            continue
        nargs = len(inspect.signature(f).parameters) - 2
        for rm, frm in ((5, 0), (6, 0), (7, 5), (7, 6), (7, 7)):
            with pytest.raises(GuestFault):
                f(CPU(frm=frm), *([D(1.0)] * nargs), rm)
        f(CPU(frm=RMM), *([D(1.0)] * nargs), 7)


def test_flags_accrue():
    cpu = CPU()
    cpu.fflags = DZ
    fpu.fadd_d(cpu, D(1.0), D(2.0 ** -60), RNE)
    assert cpu.fflags == DZ | NX
    fpu.fdiv_d(cpu, D(1.0), D(0.0), RNE)
    fpu.flt_d(cpu, QNAN_D, D(1.0))
    assert cpu.fflags == DZ | NX | NV


def test_helper_names():
    names = set()
    for x in 'sd':
        for op in ('fadd fsub fmul fdiv fsqrt fmadd fmsub fnmsub fnmadd fsgnj fsgnjn '
                   'fsgnjx fmin fmax feq flt fle fclass fcvt_w fcvt_wu fcvt_l fcvt_lu').split():
            names.add(f'{op}_{x}')
        for src in ('w', 'wu', 'l', 'lu'):
            names.add(f'fcvt_{x}_{src}')
    names |= {'fcvt_s_d', 'fcvt_d_s'}
    assert set(fpu.ALL_HELPERS) == names
    for n, f in fpu.ALL_HELPERS.items():
        assert getattr(fpu, n) is f and f.__name__ == n


# ---------------------------------------------------------------------------
# Generic pieces of softfloat

def test_round_to_integral_and_to_int():
    F = sf.F64
    assert sf.round_to_integral(F, D(2.5), RNE) == (D(2.0), 0)
    assert sf.round_to_integral(F, D(2.5), RMM, exact=True) == (D(3.0), NX)
    assert sf.round_to_integral(F, D(-0.25), RUP) == (D(-0.0), 0)
    assert sf.round_to_integral(F, D(-0.25), RDN) == (D(-1.0), 0)
    assert sf.round_to_integral(F, D(1e300), RDN) == (D(1e300), 0)
    assert sf.to_int(F, D(-7.5), RNE) == (-8, True)
    assert sf.to_int(F, D(1e300), RNE) == (int(1e300), False)
    v, _ = sf.to_int(F, QNAN_D, RNE)
    assert math.isnan(v)
    assert sf.to_int(F, INF_D | (1 << 63), RNE)[0] == -math.inf
    # x86-style: NaN and overflow give the "integer indefinite"
    assert sf.to_int_sat(F, QNAN_D, RNE, -2**31, 2**31 - 1, -2**31, -2**31) == (-2**31, NV)
    assert sf.to_int_sat(F, D(3e9), RNE, -2**31, 2**31 - 1, -2**31, -2**31) == (-2**31, NV)


def test_classify_names():
    assert sf.CLASS_NAMES[sf.classify(sf.F32, S(-0.0))] == '-0'
    assert sf.CLASS_NAMES[sf.classify(sf.F64, SNAN_D)] == 'snan'


def test_arm_nan_propagation():
    F = sf.F64
    qa, sb = QNAN_D | 0x1234, SNAN_D | 0x5678
    assert sf.add(F, qa, sb, RNE, sf.ARM) == (sb | (1 << 51), NV)      # sNaN first
    assert sf.add(F, qa, D(1.0), RNE, sf.ARM) == (qa, 0)
    assert sf.add(F, qa, sb, RNE, sf.X86_SSE) == (qa, NV)              # first operand
    assert sf.add(F, qa, sb, RNE) == (QNAN_D, NV)                      # RISC-V
    assert sf.mul(F, INF_D, 0, RNE, sf.X86_SSE) == (QNAN_D | (1 << 63), NV)
    assert sf.fma(F, INF_D, 0, qa, RNE, sf.ARM) == (QNAN_D, NV)       # default NaN
    assert sf.fma(F, INF_D, 0, qa, RNE, sf.X86_SSE) == (qa, 0)
    assert sf.fma(F, INF_D, 0, sb, RNE, sf.ARM) == (sb | (1 << 51), NV)
    assert sf.convert(F, sf.F32, sb, RNE, sf.ARM) == (0x7FC00000 | (0x5678 >> 29), NV)
