"""Native floating point for the llvm backend: a helper call whose helper
describes its common case (`helper.native_fp`, see frontends' NativeFP: the IEEE
754 operation, the format, which argument is the rounding mode, and an env
saying where the guest keeps its flags and rounding mode) becomes host FP code,
with the helper kept as the path for everything else.

Exact flags from the host FPU (x86-64 SSE): the host's status flags are sticky
like the guest's, so a TB that computes FP natively clears them on entry
(`ldmxcsr` 0x1f80: round-to-nearest-even, all exceptions masked, no FTZ/DAZ)
and, at its exit and before each callback into Python (whose own float work
raises host flags), maps them to the guest's bits (IE ZE OE UE PE -> invalid
divbyzero overflow underflow inexact; DE has no IEEE meaning and is dropped)
and ORs them into the context word CTX_FFLAGS, clearing them again after the
callback.  x86 SSE follows IEEE 754 as the guest does, tininess after
rounding included; the FP operations are LLVM's constrained intrinsics in a
`strictfp` function, so LLVM neither moves them across the MXCSR accesses nor
speculates them.  What the host does differently is kept off the fast path:

* a rounding mode other than nearest-even (f2i: also toward zero, which the
  host's truncating conversion does): static, or dynamic (`CTX_FRM`) at run time;
* a 32-bit operand not NaN-boxed (when the env boxes them);
* NaN results: the host propagates payloads, the guest returns its default NaN:
  every result that may be a NaN is replaced by it (an integer test);
* fma with a NaN addend (the guest may raise invalid for 0*inf + qNaN, x86 does
  not), min/max with a NaN operand, f2i out of the integer's range (or NaN),
  unsigned 64-bit i2f of values >= 2^63 (no host instruction).

Sign injection and classification are integer code (no flags, no MXCSR).
Guards are integer tests or host comparisons on values that cannot raise a
flag, so a refused case leaves the host flags as they were; it then calls the
helper as any other call (llvm_emit.Emitter.callback).  Python's side
(llvm.NativeState) copies the env's flags and rounding mode into CTX_FFLAGS /
CTX_FRM on entry and around every helper callback, and the flags back on exit.
Other hosts, or a host without FMA for fma: plain callbacks.

Measured (matmul_fp, steady state, CPU time of two sizes, loaded 2-core host):
~2,600 M guest instructions/s against qemu-riscv64's ~410 (softfloat), where
callbacks to the helpers gave ~4.
"""
import os

from pydbt.ir import Const, I32

from . import hostcpu, llvm_emit as E

MXCSR_DEFAULT = 0x1f80
# x86 MXCSR flag bit -> IEEE exception
_HOST_FLAGS = ((0, "invalid"), (2, "divbyzero"), (3, "overflow"), (4, "underflow"), (5, "inexact"))
_ARITH = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
_MAY_NAN = {"add", "sub", "mul", "div", "sqrt", "fma", "f2f"}
_NO_FLAGS = {"copysign", "copysign_not", "copysign_xor", "class"}
_STRICT = 'metadata !"fpexcept.strict"'
_RNE = 'metadata !"round.tonearest"'
_host = {}


def _host_features():
    """(x86-64?, FMA?) of this host, looked up once (/proc/cpuinfo: no llvmlite,
    x64_fp.py asks too)."""
    if not _host:
        x86 = os.uname().machine.lower() in ("x86_64", "amd64")
        _host.update(x86=x86, fma=x86 and "fma" in hostcpu.flags())
    return _host


def describe(op):
    """The NativeFP description of a call op this module lowers, else None."""
    if op.name not in ("call", "call_pure"):
        return None
    d = getattr(op.consts[0], "native_fp", None)
    if d is None or d.width not in (32, 64):
        return None
    host = _host_features()
    if not host["x86"] or (d.op == "fma" and not host["fma"]):
        return None
    if d.rm is not None:
        if d.rm >= len(op.ins) or not isinstance(op.ins[d.rm], Const):
            return None
        rm, env = op.ins[d.rm].value, d.env
        ok = {env.rm_nearest_even, env.rm_dynamic}
        if d.op == "f2i":
            ok.add(env.rm_toward_zero)
        if rm not in ok:
            return None
    return d


def plan(em):
    """-> an FPLowering for the emitter's block if it has calls to lower, else None."""
    descs = [d for d in map(describe, em.block.ops) if d is not None]
    if not descs:
        return None
    return FPLowering(em, descs[0].env, any(d.op not in _NO_FLAGS for d in descs),
                      any(d.op == "fma" for d in descs))


def _ft(w):
    return "float" if w == 32 else "double"


def _fs(w):
    return "f32" if w == 32 else "f64"


class FPLowering:
    """The FP part of one Emitter (em): its hooks and the lowering of each call."""

    def __init__(self, em, env, flags, fma):
        self.em = em
        self.env = env
        self.flags = flags            # host flags are read (MXCSR at entry, exits, callbacks)
        self.fma = fma

    # --- hooks (llvm_emit) -------------------------------------------------------------
    def attrs(self):
        """Attributes of the TB's function."""
        a = " strictfp" if self.flags else ""
        return a + (' "target-features"="+fma"' if self.fma else "")

    def entry(self):
        if self.flags:
            self.em.intrinsics.add("declare void @llvm.x86.sse.ldmxcsr(ptr)")
            self.em.intrinsics.add("declare void @llvm.x86.sse.stmxcsr(ptr)")
            self.em.emit("%fpcsr = alloca i32")
            self.clear()

    def clear(self):
        if self.flags:
            self.em.emit(f"store i32 {MXCSR_DEFAULT}, ptr %fpcsr")
            self.em.emit("call void @llvm.x86.sse.ldmxcsr(ptr %fpcsr)")

    def collect(self):
        """OR the host flags raised so far into CTX_FFLAGS (in the guest's bits)."""
        if not self.flags:
            return
        em = self.em
        em.emit("call void @llvm.x86.sse.stmxcsr(ptr %fpcsr)")
        m32, m = em.fresh(), em.fresh()
        em.emit(f"{m32} = load i32, ptr %fpcsr")
        em.emit(f"{m} = zext i32 {m32} to i64")
        acc = em.ctx_load(E.CTX_FFLAGS)
        for hbit, name in _HOST_FLAGS:
            gbit = self.env.flag_bits[name]
            s, b, g, o = em.fresh(), em.fresh(), em.fresh(), em.fresh()
            em.emit(f"{s} = lshr i64 {m}, {hbit}")
            em.emit(f"{b} = and i64 {s}, 1")
            em.emit(f"{g} = mul i64 {b}, {gbit}")
            em.emit(f"{o} = or i64 {acc}, {g}")
            acc = o
        em.ctx_store(E.CTX_FFLAGS, acc)

    # --- small pieces -----------------------------------------------------------------
    def constrained(self, name, ret, args, sig, meta=(_RNE,)):
        """call llvm.experimental.constrained.<name>.<sig>; args: [(type, value)];
        meta: the metadata before the exception behaviour (rounding, predicate)"""
        em = self.em
        meta = list(meta) + [_STRICT]
        types = ", ".join([t for t, _ in args] + ["metadata"] * len(meta))
        fn = f"@llvm.experimental.constrained.{name}.{sig}"
        em.intrinsics.add(f"declare {ret} {fn}({types})")
        r = em.fresh()
        vals = ", ".join([f"{t} {v}" for t, v in args] + meta)
        em.emit(f"{r} = call {ret} {fn}({vals}) strictfp")
        return r

    def fcmp(self, a, b, w, pred, signalling=False):
        t = _ft(w)
        return self.constrained("fcmps" if signalling else "fcmp", "i1", [(t, a), (t, b)], _fs(w),
                                (f'metadata !"{pred}"',))

    def not_nan(self, x, w, conds):
        """guard: the register text x holds no NaN"""
        em = self.em
        nan, ok = self.is_nan(self.bits(x, w), w), em.fresh()
        em.emit(f"{ok} = xor i1 {nan}, true")
        conds.append(ok)

    def unpack(self, x, w, conds):
        """i64 register text -> float value text of width w (a boxing condition
        appended to conds)"""
        em = self.em
        if w == 64:
            f = em.fresh()
            em.emit(f"{f} = bitcast i64 {x} to double")
            return f
        if self.env.nan_boxed:
            hi, ok = em.fresh(), em.fresh()
            em.emit(f"{hi} = lshr i64 {x}, 32")
            em.emit(f"{ok} = icmp eq i64 {hi}, 4294967295")
            conds.append(ok)
        lo, f = em.fresh(), em.fresh()
        em.emit(f"{lo} = trunc i64 {x} to i32")
        em.emit(f"{f} = bitcast i32 {lo} to float")
        return f

    def bits(self, x, w):
        """i64 register text -> its w-bit payload (i32 or i64 text)"""
        if w == 64:
            return x
        lo = self.em.fresh()
        self.em.emit(f"{lo} = trunc i64 {x} to i32")
        return lo

    def pack(self, f, w, canon):
        """float value -> i64 register text (the default NaN for any NaN if canon)"""
        em = self.em
        b = em.fresh()
        em.emit(f"{b} = bitcast {_ft(w)} {f} to i{w}")
        if canon:
            b = self.canonical(b, w)
        return self.box(b, w)

    def box(self, b, w):
        em = self.em
        if w == 64:
            return b
        z, r = em.fresh(), em.fresh()
        em.emit(f"{z} = zext i32 {b} to i64")
        em.emit(f"{r} = or i64 {z}, {E.lit(0xffffffff00000000 if self.env.nan_boxed else 0, 64)}")
        return r

    def is_nan(self, b, w):
        """i1: the w-bit pattern b is a NaN (integer test: no host flag)"""
        em = self.em
        mag, r = em.fresh(), em.fresh()
        em.emit(f"{mag} = and i{w} {b}, {E.lit((1 << (w - 1)) - 1, w)}")
        em.emit(f"{r} = icmp ugt i{w} {mag}, {E.lit(_inf(w), w)}")
        return r

    def canonical(self, b, w):
        em = self.em
        n, r = self.is_nan(b, w), em.fresh()
        em.emit(f"{r} = select i1 {n}, i{w} {E.lit(self.env.default_nan[w], w)}, i{w} {b}")
        return r

    # --- the lowering -------------------------------------------------------------------
    def lower(self, op):
        """Emit op (a call) natively with the helper as its slow path; False: not ours."""
        d = describe(op)
        if d is None:
            return False
        em = self.em
        x = [em.widen(v) for v in op.ins]
        conds = []
        rtz = False
        if d.rm is not None:
            rm = op.ins[d.rm].value
            if rm == self.env.rm_dynamic:
                frm, ok = em.ctx_load(E.CTX_FRM), em.fresh()
                em.emit(f"{ok} = icmp eq i64 {frm}, {self.env.rm_nearest_even}")
                conds.append(ok)
            rtz = rm == self.env.rm_toward_zero and rm != self.env.rm_nearest_even
        self.slow = None
        r = getattr(self, "op_" + d.op.split("_")[0])(d, x, conds, rtz)
        out = f"%t{op.outs[0].id}" if op.outs else None
        if self.slow is not None:
            r = self.slow_path(op, x, r)
        if out is not None:
            if op.type == I32:
                em.emit(f"{out} = trunc i64 {r} to i32")
            else:
                em.emit(f"{out} = add i64 {r}, 0")
        return True

    def fast(self, conds):
        """The guards are in: the fast path starts here (if there are guards, in a
        block of its own, the helper's call in another: see slow_path)."""
        if not conds:
            return
        em = self.em
        c = conds[0]
        for d in conds[1:]:
            r = em.fresh()
            em.emit(f"{r} = and i1 {c}, {d}")
            c = r
        fast, self.slow = em.new_block("fpf"), em.new_block("fps")
        em.term(f"br i1 {c}, label %{fast}, label %{self.slow}")
        em.block_start(fast)

    def slow_path(self, op, x, r):
        """End of the fast path (its result r); the helper's call; -> the merged result."""
        em = self.em
        fast_end, done = em.cur, em.new_block("fpd")
        em.term(f"br label %{done}")
        em.block_start(self.slow)
        for i, v in enumerate(x):
            em.ctx_store(E.CTX_ARGS + i, v)
        sv = em.callback(E.CB_HELPER, em.c["helper"](op.consts[0]), len(x), 0)
        slow_end = em.cur
        em.term(f"br label %{done}")
        em.block_start(done)
        m = em.fresh()
        em.emit(f"{m} = phi i64 [{r}, %{fast_end}], [{sv}, %{slow_end}]")
        return m

    # Each op_* emits its guards (appending to conds: integer tests, no host flag),
    # then self.fast(conds), then the fast code; it returns the i64 result text.

    def op_add(self, d, x, conds, rtz):
        w, t = d.width, _ft(d.width)
        a, b = self.unpack(x[0], w, conds), self.unpack(x[1], w, conds)
        self.fast(conds)
        return self.pack(self.constrained(_ARITH[d.op], t, [(t, a), (t, b)], _fs(w)), w, True)

    op_sub = op_mul = op_div = op_add

    def op_sqrt(self, d, x, conds, rtz):
        w, t = d.width, _ft(d.width)
        a = self.unpack(x[0], w, conds)
        self.fast(conds)
        return self.pack(self.constrained("sqrt", t, [(t, a)], _fs(w)), w, True)

    def op_fma(self, d, x, conds, rtz):
        w, t = d.width, _ft(d.width)
        em = self.em
        a, b, c = (self.unpack(v, w, conds) for v in x[:3])
        self.not_nan(x[2], w, conds)
        self.fast(conds)
        if d.neg_prod:
            a, n = em.fresh(), a
            em.emit(f"{a} = fneg {t} {n}")
        if d.neg_add:
            c, n = em.fresh(), c
            em.emit(f"{c} = fneg {t} {n}")
        return self.pack(self.constrained("fma", t, [(t, a), (t, b), (t, c)], _fs(w)), w, True)

    def op_min(self, d, x, conds, rtz):
        """min_num/max_num of two non-NaNs: the smaller/larger, -0 < +0 (equal
        values: OR/AND of the patterns picks the sign)"""
        w, it = d.width, f"i{d.width}"
        em = self.em
        a, b = self.unpack(x[0], w, conds), self.unpack(x[1], w, conds)
        self.not_nan(x[0], w, conds)
        self.not_nan(x[1], w, conds)
        self.fast(conds)
        ab, bb = self.bits(x[0], w), self.bits(x[1], w)
        eq, lt = self.fcmp(a, b, w, "oeq"), self.fcmp(a, b, w, "olt")
        both, pick, r = em.fresh(), em.fresh(), em.fresh()
        if d.op == "min_num":
            em.emit(f"{both} = or {it} {ab}, {bb}")
            em.emit(f"{pick} = select i1 {lt}, {it} {ab}, {it} {bb}")
        else:
            em.emit(f"{both} = and {it} {ab}, {bb}")
            em.emit(f"{pick} = select i1 {lt}, {it} {bb}, {it} {ab}")
        em.emit(f"{r} = select i1 {eq}, {it} {both}, {it} {pick}")
        return self.box(r, w)

    op_max = op_min

    def compare(self, d, x, conds, pred, signalling):
        """the host's quiet (ucomis) / signalling (comis) compare raises invalid
        exactly as the guest's: for a signalling NaN / for any NaN"""
        w = d.width
        a, b = self.unpack(x[0], w, conds), self.unpack(x[1], w, conds)
        self.fast(conds)
        c, r = self.fcmp(a, b, w, pred, signalling), self.em.fresh()
        self.em.emit(f"{r} = zext i1 {c} to i64")
        return r

    def op_eq(self, d, x, conds, rtz):
        return self.compare(d, x, conds, "oeq", False)

    def op_lt(self, d, x, conds, rtz):
        return self.compare(d, x, conds, "olt", True)

    def op_le(self, d, x, conds, rtz):
        return self.compare(d, x, conds, "ole", True)

    def op_copysign(self, d, x, conds, rtz):
        w, it, sign = d.width, f"i{d.width}", 1 << (d.width - 1)
        em = self.em
        self.unpack(x[0], w, conds)
        self.unpack(x[1], w, conds)
        self.fast(conds)
        a, b = self.bits(x[0], w), self.bits(x[1], w)
        s, m, r = em.fresh(), em.fresh(), em.fresh()
        if d.op == "copysign_xor":
            em.emit(f"{s} = and {it} {b}, {E.lit(sign, w)}")
            em.emit(f"{r} = xor {it} {a}, {s}")
        else:
            if d.op == "copysign_not":
                b, nb = em.fresh(), b
                em.emit(f"{b} = xor {it} {nb}, -1")
            em.emit(f"{s} = and {it} {b}, {E.lit(sign, w)}")
            em.emit(f"{m} = and {it} {a}, {E.lit(sign - 1, w)}")
            em.emit(f"{r} = or {it} {m}, {s}")
        return self.box(r, w)

    def op_class(self, d, x, conds, rtz):
        """the class of a's pattern (sign, exponent all ones / zero / other,
        fraction zero or not, its quiet bit) -> the env's bit for it"""
        w = d.width
        em = self.em
        self.unpack(x[0], w, conds)
        self.fast(conds)
        b, it, bits = self.bits(x[0], w), f"i{w}", self.env.class_bits
        frac = (1 << (23 if w == 32 else 52)) - 1
        exp = _inf(w)
        e, f = em.fresh(), em.fresh()
        em.emit(f"{e} = and {it} {b}, {E.lit(exp, w)}")
        em.emit(f"{f} = and {it} {b}, {E.lit(frac, w)}")
        tests = {}
        for name, expr in (("neg", f"icmp slt {it} {b}, 0"),
                           ("emax", f"icmp eq {it} {e}, {E.lit(exp, w)}"),
                           ("enz", f"icmp ne {it} {e}, 0"),
                           ("fnz", f"icmp ne {it} {f}, 0"),
                           ("quiet", f"icmp ugt {it} {f}, {E.lit(frac >> 1, w)}")):
            tests[name] = em.fresh()
            em.emit(f"{tests[name]} = {expr}")

        def pick(test, yes, no):
            r = em.fresh()
            em.emit(f"{r} = select i1 {tests[test]}, i64 {yes}, i64 {no}")
            return r

        def signed(kind):
            return pick("neg", bits["neg_" + kind], bits["pos_" + kind])
        special = pick("fnz", pick("quiet", bits["qnan"], bits["snan"]), signed("inf"))
        small = pick("fnz", signed("subnormal"), signed("zero"))
        return pick("emax", special, pick("enz", signed("normal"), small))

    def op_f2i(self, d, x, conds, rtz):
        """in range only (|a| below the limit, non-negative for unsigned): the
        host's conversion to i64 then gives the guest's value and flags"""
        w, t, it = d.width, _ft(d.width), f"i{d.width}"
        em = self.em
        a = self.unpack(x[0], w, conds)
        ab = self.bits(x[0], w)
        mag, ok = em.fresh(), em.fresh()
        em.emit(f"{mag} = and {it} {ab}, {E.lit((1 << (w - 1)) - 1, w)}")
        em.emit(f"{ok} = icmp ult {it} {mag}, {E.lit(_f2i_limit(d, w, rtz), w)}")
        conds.append(ok)
        if not d.int_signed:
            pos = em.fresh()
            em.emit(f"{pos} = icmp sgt {it} {ab}, -1")
            conds.append(pos)
        self.fast(conds)
        if rtz:
            v = self.constrained("fptosi", "i64", [(t, a)], f"i64.{_fs(w)}", ())
        else:
            v = self.constrained("llrint", "i64", [(t, a)], f"i64.{_fs(w)}")
        if d.int_bits == 32:
            lo, r = em.fresh(), em.fresh()
            em.emit(f"{lo} = trunc i64 {v} to i32")
            em.emit(f"{r} = {'sext' if self.env.int32_result_sext else 'zext'} i32 {lo} to i64")
            v = r
        return v

    def op_i2f(self, d, x, conds, rtz):
        w = d.width
        em = self.em
        v = x[0]
        if d.int_bits == 32:
            lo, r = em.fresh(), em.fresh()
            em.emit(f"{lo} = trunc i64 {v} to i32")
            em.emit(f"{r} = {'sext' if d.int_signed else 'zext'} i32 {lo} to i64")
            v = r
        elif not d.int_signed:
            ok = em.fresh()
            em.emit(f"{ok} = icmp sgt i64 {v}, -1")
            conds.append(ok)
        self.fast(conds)
        return self.pack(self.constrained("sitofp", _ft(w), [("i64", v)], f"{_fs(w)}.i64"), w, False)

    def op_f2f(self, d, x, conds, rtz):
        w, src = d.width, d.src_width
        a = self.unpack(x[0], src, conds)
        self.fast(conds)
        sig = f"{_fs(w)}.{_fs(src)}"
        if w > src:
            r = self.constrained("fpext", _ft(w), [(_ft(src), a)], sig, ())
        else:
            r = self.constrained("fptrunc", _ft(w), [(_ft(src), a)], sig)
        return self.pack(r, w, True)


def _inf(w):
    return 0x7f800000 if w == 32 else 0x7ff0000000000000


def _f2i_limit(d, w, rtz):
    """The magnitude pattern (exclusive) below which a w-bit float converts to
    the integer type in range: 2^(bits-1) (2^bits unsigned), or for round to
    nearest 0.5 less when the format holds that value; at most 2^63 (the host
    converts to i64)."""
    import struct
    n = d.int_bits - (1 if d.int_signed else 0)
    limit = float(min(2 ** n, 2 ** 63))
    if not rtz and limit <= 2 ** 63 and limit - 0.5 != limit:
        half = limit - 0.5
        if w == 32 and struct.unpack("<f", struct.pack("<f", half))[0] != half:
            half = limit
        limit = half
    if w == 32:
        return struct.unpack("<I", struct.pack("<f", limit))[0]
    return struct.unpack("<Q", struct.pack("<d", limit))[0]
