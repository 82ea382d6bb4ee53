"""Native floating point for the baseline tier (x64_emit.py): llvm_fp.py's design
(read its overview) in SSE2 / FMA3 machine code through x64asm.  A helper call
whose helper describes its common case (`helper.native_fp`) becomes host FP
code, guarded; the helper stays the path for everything else.

* plan(em) -> an X64FP when the TB has a call describe() accepts, else None.
  Its `env` is the frontend's FP env (llvm.NativeState mirrors the guest's
  flags and rounding mode in CTX_FFLAGS / CTX_FRM from then on).
* Exact flags from MXCSR, as llvm_fp: entry() clears it (`ldmxcsr` 0x1f80:
  nearest-even, all masked, no FTZ/DAZ) once the frame is made; collect()
  (before each callback and at every exit) ORs the raised IE ZE OE UE PE
  into CTX_FFLAGS in the guest's bits (DE dropped); clear() after each
  callback (Python's own float work raises host flags).  MXCSR goes through
  the red zone below RSP.  collect() is one `call` of the TB's fold routine
  (made once, out of line: stmxcsr and, when a flag is up, a test and an OR
  per flag); it uses RDX only (at an exit RAX and RCX hold the chain target
  and the argument); clear() no register (RAX holds the callback's result).
  A TB whose FP ops raise no flags (sign injection, class) has no MXCSR code.
* Each op: guards (integer tests on GPRs, or comparisons that cannot raise a
  flag) jump to its slow path, out of line (em.later): the arguments in
  CTX_ARGS, the helper's callback (em.callback with the op's pc, em.pc, and
  the helper's index, em.env["helper_id"]), its result stored where the op's
  output lives (em.where after em.define), then back after the fast path.
  Guards: a rounding mode other than nearest-even (f2i: also static
  toward-zero, by cvtt*), static or dynamic (CTX_FRM); a 32-bit operand not
  NaN-boxed; min/max of a NaN; f2i out of the integer's range or negative for
  unsigned (llvm_fp's _f2i_limit); unsigned 64-bit i2f of values >= 2^63.
* The fast path: operands movq/movd into XMM0..2, one SSE/FMA instruction,
  then a NaN result (ucomis of the result with itself: a quiet NaN raises no
  flag) is replaced by the env's default NaN; 32-bit results are NaN-boxed.
  fma's four sign variants are vfmadd/vfmsub/vfnmadd/vfnmsub231 (one
  rounding, as the guest's); a NaN result of fma takes the slow path after
  it (the guest may raise invalid for 0*inf + qNaN, x86 does not; for a NaN
  result x86 raises a subset of the guest's flags, and flags are ORed, so
  the helper's answer is exact with no guard on the addend in the hot path).
  Compares: ucomis (quiet: eq) / comis (signalling: lt le) raise invalid as
  the guest does.  min/max: ucomis then cmov (equal values: OR / AND of the
  patterns, so -0 < +0).  Sign injection (shl/rcr through CF) and class are
  integer code.
* No XMM value lives across an op or a callback; scratch GPRs RAX RCX RDX.
* FMA only where the host has it (/proc/cpuinfo `fma`); otherwise fma calls back.

Measured (matmul_fp, cold, CPU user+sys medians of 3 interleaved, loaded
2-core host): at 128 baseline 0.34 s against 4.05 s with every FP op a
callback; at 600 baseline 0.85 s, llvm 0.92, qemu-riscv64 3.90.
"""

from pydbt.ir import I32

from . import llvm_emit as E
from . import llvm_fp
from .llvm_fp import MXCSR_DEFAULT, _HOST_FLAGS, _NO_FLAGS, _f2i_limit, _inf
from .x64asm import RAX, RCX, RDX, RSP, XMM0, XMM1, XMM2, mem
from . import x64_emit      # (it imports this module: its names are read at run time)

RED = mem(RSP, None, 1, -8)           # MXCSR's memory (the red zone)
BOX = 0xFFFFFFFF00000000
def describe(op):
    """The NativeFP description of a call op this module lowers (llvm_fp's, and
    its arguments fit CTX_ARGS, an f2f's source is 32 or 64 bits), else None."""
    d = llvm_fp.describe(op)
    if d is None or len(op.ins) > E.NARGS_MAX or (d.op == "f2f" and d.src_width not in (32, 64)):
        return None
    return d


def plan(em):
    """-> an X64FP for the emitter's block if it has calls to lower, else None."""
    descs = [d for d in map(describe, em.block.ops) if d is not None]
    if not descs:
        return None
    return X64FP(em, descs[0].env, any(d.op not in _NO_FLAGS for d in descs))


def _sfx(w):
    return "sd" if w == 64 else "ss"


_FMA = {(False, False): "vfmadd231", (False, True): "vfmsub231",
        (True, False): "vfnmadd231", (True, True): "vfnmsub231"}


class X64FP:
    """The FP part of one x64_emit.Emitter (em): its hooks and the lowering of each call."""

    def __init__(self, em, env, flags):
        self.em = em
        self.env = env
        self.flags = flags            # MXCSR is cleared at entry and read at exits and callbacks
        self.fold = None              # the label of the fold routine (collect), made on first use
        self.a = em.a

    # --- hooks (x64_emit) --------------------------------------------------------------
    def entry(self):
        self.clear()

    def clear(self):
        if self.flags:
            self.a.mov_imm(RED, MXCSR_DEFAULT, 32)
            self.a.ldmxcsr(RED)

    def collect(self):
        """OR the host flags raised so far into CTX_FFLAGS (in the guest's bits):
        a call of the TB's one fold routine (RDX only)"""
        if not self.flags:
            return
        if self.fold is None:
            self.fold = self.em.later(self.fold_code)
        self.a.call(self.fold)

    def fold_code(self):
        """The fold routine (called: its MXCSR copy in the red zone below the return address)"""
        a = self.a
        a.stmxcsr(RED)
        a.test(RED, sum(1 << h for h, _ in _HOST_FLAGS), 8)
        some = a.label()
        a.jcc("ne", some)
        a.ret()
        a.bind(some)
        a.mov(RDX, RED, 32)
        bits = self.env.flag_bits
        for h, name in _HOST_FLAGS:
            skip = a.label()
            a.test(RDX, 1 << h, 8)
            a.jcc("e", skip)
            a.alu("or", x64_emit.ctxm(E.CTX_FFLAGS), bits[name], 64)
            a.bind(skip)
        a.ret()

    # --- the lowering -------------------------------------------------------------------
    def lower(self, op):
        """Emit op (a call) natively with the helper as its slow path; False: not ours."""
        d = describe(op)
        if d is None:
            return False
        em, a = self.em, self.a
        places = [em.where(v) for v in op.ins]
        pc = em.pc
        done = a.label()
        out = self.out = [None]       # the output's place (where()), set by define()
        fn, n, typ = op.consts[0], len(op.ins), op.type

        def slow():
            for i, p in enumerate(places):
                self.put_word(E.CTX_ARGS + i, p)
            em.callback(E.CB_HELPER, ("i", em.env["helper_id"](fn)), ("i", n), ("i", 0), pc)
            if out[0] is not None:
                if typ == I32:
                    a.mov(RAX, RAX, 32)
                a.mov(out[0][1], RAX)
            a.jmp(done)
        self.slow = em.later(slow)
        self.rdx = None               # (what RDX holds: BOX, or None)
        if d.rm is not None and op.ins[d.rm].value == self.env.rm_dynamic:
            a.alu("cmp", x64_emit.ctxm(E.CTX_FRM), self.env.rm_nearest_even, 64)
            a.jcc("ne", self.slow)
        rtz = d.rm is not None and op.ins[d.rm].value == self.env.rm_toward_zero \
            and self.env.rm_toward_zero != self.env.rm_nearest_even
        getattr(self, "op_" + d.op.split("_")[0])(d, op, rtz)
        a.bind(done)
        return True

    def put_word(self, word, place):
        a, kind, x = self.a, place[0], place[1]
        if kind == "r":
            a.mov(x64_emit.ctxm(word), x)
        elif kind == "m":
            a.mov(RAX, x)
            a.mov(x64_emit.ctxm(word), RAX)
        else:
            a.mov_imm(RAX, x)
            a.mov(x64_emit.ctxm(word), RAX)

    # --- small pieces ---------------------------------------------------------------------
    def boxed(self, r):
        """guard: register r holds a NaN-boxed 32-bit value (RDX = BOX after it)"""
        if self.env.nan_boxed:
            a = self.a
            self.rdx_box()
            a.alu("cmp", r, RDX)
            a.jcc("b", self.slow)

    def load(self, v, x, w):
        """xmm x = the w-bit float in IR value v (guarded: boxed); -> the GPR holding v"""
        r = self.em.reg(v, RCX)
        if w == 32:
            self.boxed(r)
            self.a.movd(x, r)
        else:
            self.a.movq(x, r)
        return r

    def not_nan(self, r, w):
        """guard: GPR r holds no NaN (integer test; RAX, RDX)"""
        a = self.a
        if w == 32:
            a.mov(RAX, r, 32)
            a.shift("shl", RAX, 1, 32)
            a.alu("cmp", RAX, _inf(32) << 1, 32)
        else:
            a.mov(RAX, r)
            a.shift("shl", RAX, 1)
            a.mov_imm(RDX, _inf(64) << 1 & (1 << 64) - 1)
            self.rdx = None
            a.alu("cmp", RAX, RDX)
        a.jcc("a", self.slow)

    def define(self, op):
        em = self.em
        t = op.outs[0]
        r = em.define(t)
        self.out[0] = em.where(t)
        return t, r

    def result(self, op, x, w, canon, nan_slow=False):
        """op's output = the float in xmm x (the default NaN for a NaN if canon;
        nan_slow: a NaN result takes the slow path), boxed"""
        a, em = self.a, self.em
        if not op.outs:
            if nan_slow:
                a.sse("ucomi" + _sfx(w), x, x)
                a.jcc("p", self.slow)
            return
        t, r = self.define(op)
        back = a.label()
        if nan_slow:
            a.sse("ucomi" + _sfx(w), x, x)
            a.jcc("p", self.slow)
        elif canon:
            a.sse("ucomi" + _sfx(w), x, x)
            nan = self.env.default_nan[w] | (BOX if w == 32 and self.env.nan_boxed else 0)

            def fix():
                a.mov_imm(r, nan)
                a.jmp(back)
            a.jcc("p", em.later(fix))
        if w == 64:
            a.movq(r, x)
        else:
            a.movd(r, x)
            self.box(r)
        a.bind(back)
        em.commit(t, r)

    def box(self, r):
        """r (its low 32 bits, the rest zero) NaN-boxed if the env boxes"""
        if self.env.nan_boxed:
            self.rdx_box()
            self.a.alu("or", r, RDX)

    def rdx_box(self):
        """RDX = BOX (unless it holds it already in this op: self.rdx says what RDX holds)"""
        if self.rdx != BOX:
            self.a.mov_imm(RDX, BOX)
            self.rdx = BOX

    def int_result(self, op, src, w32=False):
        """op's output = GPR src (its low 32 bits zero-extended if w32)"""
        if not op.outs:
            return
        t, r = self.define(op)
        self.a.mov(r, src, 32 if w32 else 64)
        self.em.commit(t, r)

    # --- the ops ----------------------------------------------------------------------------
    def op_add(self, d, op, rtz):
        w = d.width
        self.load(op.ins[0], XMM0, w)
        self.load(op.ins[1], XMM1, w)
        self.a.sse(d.op + _sfx(w), XMM0, XMM1)
        self.result(op, XMM0, w, True)

    op_sub = op_mul = op_div = op_add

    def op_sqrt(self, d, op, rtz):
        w = d.width
        self.load(op.ins[0], XMM1, w)
        self.a.sse("sqrt" + _sfx(w), XMM0, XMM1)
        self.result(op, XMM0, w, True)

    def op_fma(self, d, op, rtz):
        w = d.width
        self.load(op.ins[0], XMM1, w)
        self.load(op.ins[1], XMM2, w)
        self.load(op.ins[2], XMM0, w)
        self.a.vfma(_FMA[(d.neg_prod, d.neg_add)] + _sfx(w), XMM0, XMM1, XMM2)
        self.result(op, XMM0, w, True, nan_slow=True)

    def op_min(self, d, op, rtz):
        """min_num/max_num of two non-NaNs: the smaller/larger, -0 < +0 (equal
        values: OR/AND of the patterns picks the sign); 32-bit: of the boxed words"""
        w = d.width
        a, em = self.a, self.em
        self.not_nan(self.load(op.ins[0], XMM0, w), w)
        rb = self.load(op.ins[1], XMM1, w)
        self.not_nan(rb, w)
        if rb != RCX:
            a.mov(RCX, rb)            # RCX: b's pattern, then the result
        ra = em.reg(op.ins[0], RAX)   # (a again: RAX if spilled or constant)
        mn = d.op == "min_num"
        self.rdx = None
        a.mov(RDX, ra)
        a.alu("or" if mn else "and", RDX, RCX)
        a.sse("ucomi" + _sfx(w), XMM0, XMM1)
        a.cmov("b" if mn else "ae", RCX, ra)     # min: a < b ? a : b; max: a >= b ? a : b
        a.cmov("e", RCX, RDX)
        self.int_result(op, RCX)

    op_max = op_min

    def compare(self, d, op, quiet, cc):
        w = d.width
        a = self.a
        self.load(op.ins[0], XMM0, w)
        self.load(op.ins[1], XMM1, w)
        if quiet:                     # eq: ZF and not PF (unordered sets both)
            a.sse("ucomi" + _sfx(w), XMM0, XMM1)
            a.setcc("e", RAX)
            a.setcc("np", RCX)
            a.alu("and", RAX, RCX, 8)
        else:                         # b > a (ja) / b >= a (jae): false when unordered (CF set)
            a.sse("comi" + _sfx(w), XMM1, XMM0)
            a.setcc(cc, RAX)
        a.movx(RAX, RAX, 1, False, 32)
        self.int_result(op, RAX)

    def op_eq(self, d, op, rtz):
        self.compare(d, op, True, None)

    def op_lt(self, d, op, rtz):
        self.compare(d, op, False, "a")

    def op_le(self, d, op, rtz):
        self.compare(d, op, False, "ae")

    def bits(self, v, scratch, w):
        """GPR holding IR value v, guarded NaN-boxed when w is 32"""
        r = self.em.reg(v, scratch)
        if w == 32:
            self.boxed(r)
        return r

    def op_copysign(self, d, op, rtz):
        """a's magnitude, b's sign: shl drops a's sign, shl of b puts its sign in CF, rcr puts CF on top"""
        w = d.width
        a = self.a
        rb = self.bits(op.ins[1], RCX, w)
        ra = self.bits(op.ins[0], RAX, w)
        ww = 32 if w == 32 else 64
        a.mov(RAX, ra, ww)
        a.mov(RCX, rb, ww)
        if d.op == "copysign_xor":
            a.shift("shr", RCX, w - 1, ww)
            a.shift("shl", RCX, w - 1, ww)
            a.alu("xor", RAX, RCX, ww)
        else:
            if d.op == "copysign_not":
                a.unary("not", RCX, ww)
            a.shift("shl", RAX, 1, ww)
            a.shift("shl", RCX, 1, ww)
            a.shift("rcr", RAX, 1, ww)
        if w == 32:
            self.box(RAX)
        self.int_result(op, RAX)

    def op_class(self, d, op, rtz):
        """the class of a's pattern (exponent all ones / zero / other, fraction
        zero or not, its quiet bit: the fraction's top bit) -> the env's bit"""
        w = d.width
        a = self.a
        bits = self.env.class_bits
        ra = self.bits(op.ins[0], RAX, w)
        ww = 32 if w == 32 else 64
        fb = 23 if w == 32 else 52
        emax = (1 << (w - 1 - fb)) - 1
        a.mov(RAX, ra, ww)
        a.mov(RCX, RAX, ww)
        a.shift("shr", RCX, fb, ww)
        a.alu("and", RCX, emax, 32)               # RCX: the exponent
        self.rdx = None
        a.mov(RDX, RAX, ww)
        a.shift("shl", RDX, w - fb, ww)           # RDX: the fraction at the top (quiet bit = sign)
        done = a.label()
        special, normal, sub = a.label(), a.label(), a.label()

        def signed(kind):
            a.mov_imm(RCX, bits["pos_" + kind])
            a.mov_imm(RDX, bits["neg_" + kind])
            a.test(RAX, RAX, ww)
            a.cmov("s", RCX, RDX)
            a.jmp(done)
        a.alu("cmp", RCX, emax, 32)
        a.jcc("e", special)
        a.test(RCX, RCX, 32)
        a.jcc("ne", normal)
        a.test(RDX, RDX, ww)
        a.jcc("ne", sub)
        signed("zero")
        a.bind(sub)
        signed("subnormal")
        a.bind(normal)
        signed("normal")
        a.bind(special)
        nan = a.label()
        a.test(RDX, RDX, ww)
        a.jcc("ne", nan)
        signed("inf")
        a.bind(nan)
        a.mov_imm(RCX, bits["snan"])
        a.mov_imm(RAX, bits["qnan"])
        a.test(RDX, RDX, ww)
        a.cmov("s", RCX, RAX)
        a.bind(done)
        self.int_result(op, RCX)

    def op_f2i(self, d, op, rtz):
        """in range only (|a| below the limit, non-negative for unsigned): the
        host's conversion to i64 then gives the guest's value and flags"""
        w = d.width
        a = self.a
        ra = self.load(op.ins[0], XMM0, w)
        ww = 32 if w == 32 else 64
        a.mov(RAX, ra, ww)
        if not d.int_signed:
            a.test(RAX, RAX, ww)
            a.jcc("s", self.slow)
        a.shift("shl", RAX, 1, ww)                # the magnitude, shifted
        lim = _f2i_limit(d, w, rtz) << 1
        if w == 32:
            a.alu("cmp", RAX, lim, 32)
        else:
            self.rdx = None
            a.mov_imm(RDX, lim)
            a.alu("cmp", RAX, RDX)
        a.jcc("ae", self.slow)
        a.cvt2si(("cvtt" if rtz else "cvt") + _sfx(w) + "2si", RAX, XMM0, 64)
        if d.int_bits == 32:
            if self.env.int32_result_sext:
                a.movx(RAX, RAX, 4, True, 64)
            else:
                a.mov(RAX, RAX, 32)
        self.int_result(op, RAX)

    def op_i2f(self, d, op, rtz):
        w = d.width
        a = self.a
        r = self.em.reg(op.ins[0], RCX)
        if d.int_bits == 32:
            a.movx(RCX, r, 4, d.int_signed, 64)
            r = RCX
        elif not d.int_signed:
            a.test(r, r)
            a.jcc("s", self.slow)
        a.cvtsi2f(w, XMM0, r, 64)
        self.result(op, XMM0, w, False)

    def op_f2f(self, d, op, rtz):
        w, src = d.width, d.src_width
        self.load(op.ins[0], XMM1, src)
        if w == src:
            self.a.movq(XMM0, XMM1)
        else:
            self.a.sse("cvt%s2%s" % (_sfx(src), _sfx(w)), XMM0, XMM1)
        self.result(op, XMM0, w, True)
