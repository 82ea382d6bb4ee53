"""Native FP in the baseline tier (backends/x64_fp.py) against the interpreter.

* every helper the frontend describes (`native_fp`), alone in a block, on
  operands weighted toward special values (test_llvm_fp's generators: zeros
  of both signs, subnormals, the normal range's ends, infinities, quiet and
  signalling NaNs, badly boxed singles, ties, values at the integer
  conversions' limits) under every rounding mode, static and dynamic
  (reserved ones included), with fflags set before: the baseline code's
  result register, fflags (ORed into what was there) and any fault equal the
  interpreter's;
* the common case really runs natively (no helper callback); host flags
  raised by Python during a callback do not reach the guest, the guest's
  raised before it are visible to it, a rounding mode set by it is obeyed;
* sequences of F/D instructions (fflags/frm CSR accesses and memory
  callbacks between them) as machine code: baseline ends in the interpreter's state.
"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("llvmlite")

from pydbt.backends import get_backend, llvm_fp, unavailable, x64_fp            # noqa: E402
from pydbt.builder import Builder                                    # noqa: E402
from pydbt.errors import GuestFault                                  # noqa: E402
from pydbt.frontends.riscv64 import fpu                              # noqa: E402
from pydbt.frontends.riscv64.cpu import CPU                          # noqa: E402
from pydbt.ir import Block, I64                                      # noqa: E402
from pydbt.stats import STATS                                        # noqa: E402

from test_llvm_fp import (compiled, fp_cases, BOX, HELPERS, M64, SPECIAL_D, SPECIAL_I, SPECIAL_S, Ctx, d2b, f2b,  # noqa: E402
                                     fp_programs, operands, run_program)

pytestmark = pytest.mark.skipif(unavailable("baseline") is not None,
                                reason="the baseline tier needs an x86-64 host")



def outcome(backend, name, args, rm, frm, flags0):
    fn = compiled(backend, name, len(args), rm)
    cpu = CPU(None)
    cpu.frm, cpu.fflags = frm, flags0
    cpu.regs[:len(args)] = args
    try:
        fn(cpu)
        got = cpu.regs[7] & M64
    except GuestFault as e:
        got = ("fault", e.signo)
    return got, cpu.fflags


def check(name, args, rm, frm=0, flags0=0):
    expect = outcome("interp", name, args, rm, frm, flags0)
    got = outcome("baseline", name, args, rm, frm, flags0)
    assert got == expect, (name, [hex(a) for a in args], rm, frm, flags0)


def test_described_helpers_are_lowered():
    """every described helper of the frontend has a native lowering here (fma: FMA hosts)"""
    blk = Block(0x1000)
    b = Builder(blk)
    for name in HELPERS:
        d = fpu.ALL_HELPERS[name].native_fp
        n = {"sqrt": 1, "f2i": 1, "f2f": 1, "class": 1, "i2f": 1, "fma": 3}.get(d.op, 2)
        b.setreg(7, b.call(fpu.ALL_HELPERS[name], *[b.getreg(i, I64) for i in range(n)],
                           *([] if d.rm is None else [7])))
    for op in blk.ops:
        if op.name in ("call", "call_pure"):
            d = op.consts[0].native_fp
            if d.op != "fma" or llvm_fp._host_features()["fma"]:
                assert x64_fp.describe(op) is d, op.consts[0].__name__


@pytest.mark.parametrize("name", HELPERS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_native_op_equals_interpreter(name, data):
    check(name, *data.draw(fp_cases(name, rms=(0, 0, 0, 7, 7, 7, 1, 2, 3, 4, 5))))


def _specials(name):
    d = fpu.ALL_HELPERS[name].native_fp
    w = d.src_width if d.op == "f2f" else d.width
    return d, SPECIAL_I if d.op == "i2f" else [v | BOX for v in SPECIAL_S] if w == 32 else SPECIAL_D


@pytest.mark.parametrize("name", HELPERS)
def test_special_operands_exhaustively(name):
    """Every pair of special values through the two-operand ops (each operand
    of fma against the others, ordinary ones too); round to nearest static and
    dynamic, dynamic toward zero / down / up (the helper's path) and, for
    conversions, static toward zero."""
    d, specials = _specials(name)
    rms = [None] if d.rm is None else [0, 7] + ([1] if d.op == "f2i" else [])
    n = 1 if d.op == "i2f" else len(operands(d).wrapped_strategy.element_strategies)
    one, half = specials[-5], specials[-3]
    for rm in rms:
        for a in specials:
            if n == 1:
                check(name, (a,), rm)
                continue
            for b in specials:
                if n == 2:
                    check(name, (a, b), rm)
                else:
                    for args in ((a, b, one), (a, one, b), (one, a, b), (a, b, half)):
                        check(name, args, rm)
    if d.rm is not None:
        for frm in (1, 2, 3, 4):
            for a in specials[::3]:
                check(name, (a,) * n, 7, frm, 0)


def test_unboxed_singles_and_tiny_results():
    """Singles not NaN-boxed read as the default NaN (the helper's path); results
    that underflow (tininess after rounding) or overflow, both precisions; fma
    with NaN operands (0*inf + qNaN raises invalid on the guest, not on x86)."""
    tiny_d, tiny_s = d2b(2.0 ** -1022), f2b(2.0 ** -126) | BOX
    for name, args in [("fadd_s", (f2b(1.0), f2b(1.0) | BOX)), ("fmul_s", (f2b(1.0) | BOX, 0x1234)),
                       ("fsqrt_s", (f2b(4.0) | (1 << 32),)), ("fcvt_d_s", (f2b(1.5),)),
                       ("fmul_d", (tiny_d, d2b(1 - 2.0 ** -53))), ("fmul_d", (tiny_d, d2b(0.5))),
                       ("fmul_d", (d2b(1.0 + 2.0 ** -52), d2b(2.0 ** -1023 * (1 - 2.0 ** -52)))),
                       ("fmul_s", (tiny_s, f2b(1 - 2.0 ** -24) | BOX)), ("fdiv_s", (tiny_s, f2b(3.0) | BOX)),
                       ("fmul_d", (d2b(1e308), d2b(10.0))), ("fadd_s", (f2b(3e38) | BOX, f2b(3e38) | BOX)),
                       ("fcvt_s_d", (d2b(2.0 ** -149 * 1.5),)), ("fcvt_s_d", (d2b(1e300),)),
                       ("fmadd_d", (tiny_d, d2b(0.5), d2b(-2.0 ** -1074))),
                       ("fmadd_d", (0, 0x7FF0000000000000, 0x7FF8000000000000)),      # 0*inf + qNaN
                       ("fnmsub_s", (0xFF800000 | BOX, BOX, 0x7FC00000 | BOX)),
                       ("fmsub_d", (d2b(1.0), d2b(2.0), 0x7FF0000000000001)),       # + sNaN
                       ("fnmadd_d", (0x7FF4000000000000, d2b(2.0), d2b(1.0))),
                       ("fsgnj_s", (f2b(1.0) | BOX, f2b(-1.0))), ("fclass_s", (f2b(1.0),)),
                       ("fmin_s", (0x7F800001 | BOX, f2b(2.0) | BOX)), ("fmax_d", (d2b(-0.0), d2b(0.0)))]:
        d = fpu.ALL_HELPERS[name].native_fp
        for rm in ([None] if d.rm is None else [0, 7]):
            for flags0 in (0, 0x1F):
                check(name, args, rm, 0, flags0)


@pytest.mark.parametrize("name, args", [
    ("fadd_d", (d2b(1.0), d2b(0.1))), ("fmul_d", (d2b(3.0), d2b(1 / 3))), ("fdiv_d", (d2b(1.0), d2b(3.0))),
    ("fmadd_d", (d2b(0.1), d2b(0.2), d2b(0.3))), ("fnmsub_s", (f2b(0.1) | BOX, f2b(3.0) | BOX, f2b(1.0) | BOX)),
    ("fsqrt_d", (d2b(2.0),)), ("fcvt_d_w", (5,)), ("fcvt_l_d", (d2b(2.5),)), ("fcvt_wu_s", (f2b(7.5) | BOX,)),
    ("flt_d", (d2b(1.0), d2b(2.0))), ("feq_s", (f2b(1.0) | BOX, f2b(1.0) | BOX)),
    ("fmin_d", (d2b(1.0), d2b(-2.0))), ("fmax_s", (f2b(1.0) | BOX, f2b(-2.0) | BOX)),
    ("fadd_s", (f2b(1.0) | BOX, f2b(0.1) | BOX)), ("fcvt_s_d", (d2b(0.1),)), ("fcvt_d_s", (f2b(0.1) | BOX,)),
    ("fclass_d", (1,)), ("fclass_s", (f2b(-1.0) | BOX,)), ("fsgnjn_d", (d2b(1.0), d2b(1.0))),
    ("fsgnjx_s", (f2b(-1.0) | BOX, f2b(-3.0) | BOX)), ("fcvt_s_lu", (12345,)),
])
def test_common_case_runs_natively(name, args):
    """Ordinary operands, dynamic round to nearest: no helper callback."""
    d = fpu.ALL_HELPERS[name].native_fp
    if d.op == "fma" and not llvm_fp._host_features()["fma"]:
        pytest.skip("no FMA on this host")
    rm = None if d.rm is None else 7
    outcome("baseline", name, args, rm, 0, 0)             # (compiled, and run once)
    before = STATS.extra.get("native_helper_calls", 0)
    check(name, args, rm)
    assert STATS.extra.get("native_helper_calls", 0) == before


# --- native code around callbacks into Python: test_llvm_fp.py's run on both tiers ----

def test_many_fp_values_live_across_ops():
    """A block of many FP ops whose results stay live (spilled temps as
    operands and outputs, constants as operands): each against the interpreter."""
    blk = Block(0x1000)
    b = Builder(blk)
    regs = [b.getreg(i, I64) for i in range(4)]
    vals = list(regs)
    names = ["fadd_d", "fmul_d", "fsub_d", "fdiv_d", "fmin_d", "fmax_d", "feq_d", "flt_d", "fsgnjx_d"]
    for k in range(24):
        x, y = vals[(k * 5) % len(vals)], vals[(k * 3 + 1) % len(vals)]
        name = names[k % len(names)]
        if k % 7 == 6:
            y = b.const(d2b(1.25))
        args = [x, y] + ([7] if fpu.ALL_HELPERS[name].native_fp.rm is not None else [])
        vals.append(b.call(fpu.ALL_HELPERS[name], *args))
    for k, v in enumerate(vals[4:]):
        b.setreg(8 + k, v)
    b.goto_tb(0x2000)
    init = [d2b(1.5), d2b(-0.1), d2b(3e-310), d2b(7.0)]
    out = {}
    for backend in ("interp", "baseline"):
        cpu = CPU(None)
        cpu.regs[:4] = init
        get_backend(backend).compile(blk, Ctx())(cpu)
        out[backend] = (cpu.regs[8:32], cpu.fflags)
    assert out["baseline"] == out["interp"]


# --- instruction sequences against the interpreter ------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=fp_programs())
def test_fp_sequences_match_the_interpreter(prog):
    assert run_program("baseline", *prog) == run_program("interp", *prog)

