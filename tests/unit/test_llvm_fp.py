"""Native FP in the llvm backend (backends/llvm_fp.py) against the exact helpers.

* every helper the frontend describes (`native_fp`), alone in a block, on
  hypothesis operands weighted toward special values (zeros, subnormals, the
  normal range's ends, infinities, quiet and signalling NaNs, badly boxed
  singles, ties, values at the integer conversions' limits) under every rounding
  mode, static and dynamic (reserved ones included): result, fflags (ORed into
  what was there) and any fault equal the helper's own answer;
* the common case really runs natively (no helper callback); the host's
  flags raised by Python during a callback do not reach the guest, the guest's
  raised before it are visible to it, a rounding mode set by it is obeyed after;
* sequences of F/D instructions (with fflags/frm CSR accesses and memory
  callbacks between them) as machine code: the llvm backend ends in the state
  the interpreter does.
"""
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("llvmlite")

from pydbt.backends import get_backend, llvm_fp, unavailable
from pydbt.builder import Builder
from pydbt.errors import GuestFault
from pydbt.frontends.riscv64 import fpu
from pydbt.frontends.riscv64.cpu import CPU
from pydbt.ir import Block, I64
from pydbt.stats import STATS

M64 = (1 << 64) - 1
BOX = 0xFFFFFFFF00000000
HELPERS = sorted(n for n, f in fpu.ALL_HELPERS.items() if getattr(f, "native_fp", None))

pytestmark = pytest.mark.skipif(not llvm_fp._host_features()["x86"],
                                reason="native FP needs an x86-64 host")


def d2b(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f2b(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


SPECIAL_D = [0, 1 << 63, 1, (1 << 63) | 1, 0x000FFFFFFFFFFFFF, 0x0010000000000000, 0x8010000000000000,
             0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
             0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000123, 0x7FF0000000000001,
             0x7FF4000000000000, 0xFFF0000000000001] + [d2b(v) for v in (
                 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 0.1, 1 / 3, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64,
                 2.0 ** 63 - 1024, 2.0 ** 31, -2.0 ** 31, 2.0 ** 31 - 0.5, 2.0 ** 31 - 1, -2.0 ** 31 - 1,
                 -2.0 ** 31 - 0.5, 2.0 ** 32, 2.0 ** 32 - 0.5, 4294967295.5, 2.0 ** 52 + 0.5, 1e308,
                 1e-308, 2.0 ** -1022 * 1.5, 2.0 ** -1074 * 3, 2.0 ** 1023, 2.0 ** -537, 0.75, -0.25)]
SPECIAL_S = [0, 1 << 31, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
             0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC00123, 0x7F800001, 0x7FA00000] + [f2b(v) for v in (
                 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.0, 0.1, 2.0 ** 31, -2.0 ** 31, 2.0 ** 32, 2.0 ** 63,
                 -2.0 ** 63, 2.0 ** 64, 2.0 ** 24 + 2, 1e38, 1e-38, 2.0 ** -149 * 3, 2.0 ** 127, 2.0 ** -75)]
SPECIAL_I = [0, 1, M64, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 31) - 1, 0xFFFFFFFF, 0xFFFFFFFF80000000,
             (1 << 53) + 1, (1 << 24) + 1, (1 << 64) - (1 << 11), 0x123456789ABCDEF0, 0x80000001]


def fp64():
    return st.one_of(st.sampled_from(SPECIAL_D), st.floats(width=64).map(d2b), st.integers(0, M64),
                     st.integers(-2000, 2000).map(lambda n: d2b(n / 8)))


def fp32():
    boxed = st.one_of(st.sampled_from(SPECIAL_S), st.floats(width=32).map(f2b), st.integers(0, 0xFFFFFFFF),
                      st.integers(-2000, 2000).map(lambda n: f2b(n / 8))).map(lambda v: v | BOX)
    return st.one_of(boxed, boxed, boxed, st.integers(0, M64))       # (sometimes not NaN-boxed)


def ints():
    return st.one_of(st.sampled_from(SPECIAL_I), st.integers(0, M64), st.integers(-(1 << 40), 1 << 40)
                     .map(lambda v: v & M64))


def operands(d):
    """a strategy for the helper's non-rm arguments"""
    if d.op == "i2f":
        return st.tuples(ints())
    w = d.src_width if d.op == "f2f" else d.width
    f = fp32() if w == 32 else fp64()
    n = {"sqrt": 1, "f2i": 1, "f2f": 1, "class": 1, "fma": 3}.get(d.op, 2)
    return st.tuples(*[f] * n)


class Ctx:
    mem = None
    counter = None
    pending = []

    def __init__(self):
        self.links = [("goto_tb", 0x2000)]
        self.fns = {}
        self.lookup = lambda pc: ("goto_ptr", pc)


_COMPILED = {}


def compiled(backend, name, nargs, rm):
    """backend's function for a block `x7 = helper(x0..x{n-1}[, rm])` (test_x64_fp's too)"""
    key = (backend, name, nargs, rm)
    if key not in _COMPILED:
        blk = Block(0x1000)
        b = Builder(blk)
        args = [b.getreg(i, I64) for i in range(nargs)] + ([] if rm is None else [rm])
        b.setreg(7, b.call(fpu.ALL_HELPERS[name], *args))
        b.goto_tb(0x2000)
        _COMPILED[key] = get_backend(backend).compile(blk, Ctx())
    return _COMPILED[key]


def native(name, nargs, rm):
    """The llvm backend's function for that block"""
    return compiled("llvm", name, nargs, rm)


def outcome(run, cpu):
    try:
        return run(), cpu.fflags
    except GuestFault as e:
        return ("fault", e.signo), cpu.fflags


def check(name, args, rm, frm, flags0):
    d = fpu.ALL_HELPERS[name].native_fp
    ref = CPU(None)
    ref.frm, ref.fflags = frm, flags0
    full = list(args) + ([] if rm is None else [rm])
    expect = outcome(lambda: fpu.ALL_HELPERS[name](ref, *full) & M64, ref)
    fn = native(name, len(args), rm)
    cpu = CPU(None)
    cpu.frm, cpu.fflags = frm, flags0
    cpu.regs[:len(args)] = args
    got = outcome(lambda: (fn(cpu), cpu.regs[7])[1], cpu)
    assert got == expect, (name, [hex(a) for a in args], rm, frm, flags0, d.op)


@st.composite
def fp_cases(draw, name, rms=(0, 0, 0, 7, 7, 7, 1, 2, 3, 4)):
    """(operands, static rounding mode or None, frm, fflags before) of one call of helper `name`"""
    d = fpu.ALL_HELPERS[name].native_fp
    args = draw(operands(d))
    rm = None if d.rm is None else draw(st.sampled_from(rms))
    frm = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 7]))
    flags0 = draw(st.sampled_from([0, 0, 0x1F, 1, 16]))
    return args, rm, frm, flags0


@pytest.mark.parametrize("name", HELPERS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_native_op_equals_helper(name, data):
    check(name, *data.draw(fp_cases(name)))


def test_special_operands_exhaustively():
    """Every pair of special values through the two-operand ops (and as each
    operand of fma, the others ordinary), round to nearest, static and dynamic."""
    for name in HELPERS:
        d = fpu.ALL_HELPERS[name].native_fp
        w = d.src_width if d.op == "f2f" else d.width
        specials = SPECIAL_I if d.op == "i2f" else [v | BOX for v in SPECIAL_S] if w == 32 else SPECIAL_D
        rms = [None] if d.rm is None else [0, 7]
        one = specials[len(specials) - 5]
        n = len(operands(d).wrapped_strategy.element_strategies) if d.op != "i2f" else 1
        for rm in rms:
            for a in specials:
                if n == 1:
                    check(name, (a,), rm, 0, 0)
                    continue
                for b in specials:
                    if n == 2:
                        check(name, (a, b), rm, 0, 0)
                    else:
                        for args in ((a, b, one), (a, one, b), (one, a, b)):
                            check(name, args, rm, 0, 0)


@pytest.mark.parametrize("name, args", [
    ("fadd_d", (d2b(1.0), d2b(0.1))), ("fmul_d", (d2b(3.0), d2b(1 / 3))), ("fdiv_d", (d2b(1.0), d2b(3.0))),
    ("fmadd_d", (d2b(0.1), d2b(0.2), d2b(0.3))), ("fsqrt_d", (d2b(2.0),)),
    ("fcvt_d_w", (5,)), ("fcvt_l_d", (d2b(2.5),)), ("flt_d", (d2b(1.0), d2b(2.0))),
    ("fadd_s", (f2b(1.0) | BOX, f2b(0.1) | BOX)), ("fcvt_s_d", (d2b(0.1),)), ("fclass_d", (1,)),
])
def test_common_case_runs_natively(name, args):
    """Ordinary operands, round to nearest: no helper callback, inexact raised."""
    before = STATS.extra.get("native_helper_calls", 0)
    check(name, args, None if fpu.ALL_HELPERS[name].native_fp.rm is None else 7, 0, 0)
    assert STATS.extra.get("native_helper_calls", 0) == before


# --- native code around callbacks into Python -----------------------------------------

def _pollute(cpu, x):
    """Python float work: raises the host's inexact flag"""
    return int(1.0 / (3.0 + (x & 1)) * 0)


def _peek(cpu, x):
    return cpu.fflags


def _set_rtz(cpu, x):
    cpu.frm = 1
    return 0


# (the baseline tier lowers the same helpers: x64_fp.py; these run on both)
NATIVE = ["llvm", pytest.param("baseline", marks=pytest.mark.skipif(unavailable("baseline") is not None,
                                                                   reason="no baseline code on this host"))]


def run_calls(backend, *steps):
    """x3 = fadd/fdiv.d(x0, x1, rm 7), helper(x2) ... in one block; -> registers, fflags"""
    blk = Block(0x1000)
    b = Builder(blk)
    for k, (name, fn) in enumerate(steps):
        if name == "helper":
            b.setreg(10 + k, b.call(fn, b.getreg(2, I64)))
        else:
            b.setreg(10 + k, b.call(fpu.ALL_HELPERS[name], b.getreg(0, I64), b.getreg(1, I64), 7))
    b.goto_tb(0x2000)
    fn = get_backend(backend).compile(blk, Ctx())
    cpu = CPU(None)
    cpu.regs[:3] = [d2b(1.0), d2b(10.0), 0]
    fn(cpu)
    return cpu.regs[10:10 + len(steps)], cpu.fflags


@pytest.mark.parametrize("backend", NATIVE)
def test_python_float_work_in_a_callback_raises_no_guest_flag(backend):
    regs, flags = run_calls(backend, ("fadd_d", None), ("helper", _pollute), ("fadd_d", None))
    assert regs == [d2b(11.0), 0, d2b(11.0)] and flags == 0


@pytest.mark.parametrize("backend", NATIVE)
def test_a_callback_sees_the_flags_native_code_raised(backend):
    regs, flags = run_calls(backend, ("fadd_d", None), ("helper", _peek), ("fdiv_d", None), ("helper", _peek))
    assert regs == [d2b(11.0), 0, d2b(0.1), 1] and flags == 1


@pytest.mark.parametrize("backend", NATIVE)
def test_native_code_obeys_a_rounding_mode_a_callback_set(backend):
    regs, flags = run_calls(backend, ("fdiv_d", None), ("helper", _set_rtz), ("fdiv_d", None))
    assert regs == [d2b(0.1), 0, d2b(0.1) - 1] and flags == 1     # RNE rounds 1/10 up, RTZ down


# --- instruction sequences against the interpreter ------------------------------------

from pydbt.frontends.riscv64.decode import ENCODINGS          # noqa: E402
from pydbt.frontends.riscv64.translate import translate      # noqa: E402
from pydbt.passes import optimize                            # noqa: E402
from pydbt.runtime.memory import GuestMemory, R, W, X        # noqa: E402

CODE, DATA = 0x10000, 0x20000
_FROWS = [e for e in ENCODINGS if e[0].startswith("f") and not e[0].startswith("fence")
          and e[0] not in ("flw", "fld", "fsw", "fsd")]


def _csr(funct3, csr, rd, rs1):
    return (csr << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x73


# frflags t0, frrm t1, frcsr t1, fsrm a0, fsflagsi 0, fsrmi 0, fsrmi 1 (helpers
# reading and writing fflags/frm between the FP instructions)
_EXTRA = [_csr(2, 1, 5, 0), _csr(2, 2, 6, 0), _csr(2, 3, 6, 0), _csr(1, 2, 0, 10), _csr(5, 1, 0, 0),
          _csr(5, 2, 0, 0), _csr(5, 2, 0, 1)]


def _ld_st(rd, off):
    """fld/fsd rd, off(s0): s0 sits 8 or 0 bytes before the end of the data's first
    page, so some cross it (the memory callback) or leave the data (a fault)"""
    return [(off << 20) | (8 << 15) | (3 << 12) | (rd << 7) | 0x07,
            ((off >> 5) << 25) | (rd << 20) | (8 << 15) | (3 << 12) | ((off & 31) << 7) | 0x27]


@st.composite
def fp_programs(draw):
    n = draw(st.integers(1, 20))
    words = []
    for _ in range(n):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            words.append(draw(st.sampled_from(_EXTRA)))
        elif kind == 1:
            words.append(draw(st.sampled_from(_ld_st(draw(st.integers(0, 31)), draw(st.sampled_from([0, 8, 0xffc]))))))
        else:
            name, mask, match = draw(st.sampled_from(_FROWS))[:3]
            fill = draw(st.integers(0, 0xFFFFFFFF))
            if draw(st.booleans()):
                fill = (fill & ~(7 << 12)) | (draw(st.sampled_from([0, 7])) << 12)   # rm: RNE or dynamic
            words.append((fill & ~mask & 0xFFFFFFFF) | match)
    words.append(0x2000006F)
    regs = [0] + [draw(ints()) for _ in range(7)] + [DATA + 0x1000 - 8 * draw(st.integers(0, 1))] + \
        [draw(ints()) for _ in range(23)]
    fregs = [draw(st.one_of(fp64(), fp32())) for _ in range(32)]
    return words, regs, fregs, draw(st.sampled_from([0, 0, 0, 1, 4, 5, 7])), draw(st.sampled_from([0, 1, 16]))


def run_program(backend, words, regs, fregs, frm, flags0):
    mem = GuestMemory(space=1 << 24)
    mem.map(CODE, 0x1000, R | X)
    mem.map(DATA, 0x2000, R | W)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    mem.poke(DATA + 0x1000 - 8, struct.pack("<Q", d2b(math.pi)))
    cpu = CPU(mem)
    cpu.regs[:32] = regs
    cpu.regs[32:64] = fregs
    cpu.frm, cpu.fflags, cpu.pc = frm, flags0, CODE
    blk = translate(mem, CODE, 64, superblock=True)
    optimize(blk)
    ctx = Ctx()
    ctx.mem = mem
    fn = get_backend(backend).compile(blk, ctx)
    try:
        end = ("exit", fn(cpu))
    except GuestFault as e:
        end = ("fault", e.signo, e.pc)
    return end, cpu.regs, cpu.fflags, cpu.frm, bytes(mem.buf[DATA:DATA + 0x2000])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=fp_programs())
def test_fp_sequences_match_the_interpreter(prog):
    assert run_program("llvm", *prog) == run_program("interp", *prog)
