/* FP conversions in every rounding mode, with the fflags each raised:
 * fcvt.{w,wu,l,lu}.{s,d} (ties, negative fractions, NaN, infinities, out of
 * range values), fcvt.{s,d}.{w,wu,l,lu} (inexact large integers, W forms
 * reading only the low 32 bits), fcvt.s.d / fcvt.d.s; static rm in the
 * instruction and dynamic rm through frm; then the C library view:
 * fesetround/fegetround, lrint/rint/nearbyint/round/floor/ceil/trunc,
 * feclearexcept/fetestexcept, printf rounding under each mode.
 * Exit status 0. */
#include "common.h"
#include <fenv.h>
#include <math.h>

#define PRE "csrwi fflags, 0\n\t"

/* int <- fp: a is raw bits of the source */
#define F2I(fn, mv, insn)                                                 \
    static uint64_t fn(uint64_t a, unsigned *fl)                          \
    {                                                                     \
        uint64_t r, f;                                                    \
        __asm__ volatile(PRE mv " ft0, %2\n\t" insn "\n\tfrflags %1"      \
                         : "=&r"(r), "=&r"(f)                             \
                         : "r"(a)                                         \
                         : "ft0");                                        \
        *fl = (unsigned)f;                                                \
        return r;                                                         \
    }
/* fp <- int: result raw bits */
#define I2F(fn, mvout, insn)                                              \
    static uint64_t fn(uint64_t a, unsigned *fl)                          \
    {                                                                     \
        uint64_t r, f;                                                    \
        __asm__ volatile(PRE insn "\n\t" mvout " %0, ft0\n\tfrflags %1"   \
                         : "=&r"(r), "=&r"(f)                             \
                         : "r"(a)                                         \
                         : "ft0");                                        \
        *fl = (unsigned)f;                                                \
        return r;                                                         \
    }

#define F2I_ALL(name, mv, mnem)                                         \
    F2I(name##_rne, mv, mnem " %0, ft0, rne")                           \
    F2I(name##_rtz, mv, mnem " %0, ft0, rtz")                           \
    F2I(name##_rdn, mv, mnem " %0, ft0, rdn")                           \
    F2I(name##_rup, mv, mnem " %0, ft0, rup")                           \
    F2I(name##_rmm, mv, mnem " %0, ft0, rmm")                           \
    F2I(name##_dyn, mv, mnem " %0, ft0, dyn")                           \
    static uint64_t (*const name[6])(uint64_t, unsigned *) = {          \
        name##_rne, name##_rtz, name##_rdn, name##_rup, name##_rmm,     \
        name##_dyn};
#define I2F_ALL(name, mvout, mnem)                                      \
    I2F(name##_rne, mvout, mnem " ft0, %2, rne")                        \
    I2F(name##_rtz, mvout, mnem " ft0, %2, rtz")                        \
    I2F(name##_rdn, mvout, mnem " ft0, %2, rdn")                        \
    I2F(name##_rup, mvout, mnem " ft0, %2, rup")                        \
    I2F(name##_rmm, mvout, mnem " ft0, %2, rmm")                        \
    I2F(name##_dyn, mvout, mnem " ft0, %2, dyn")                        \
    static uint64_t (*const name[6])(uint64_t, unsigned *) = {          \
        name##_rne, name##_rtz, name##_rdn, name##_rup, name##_rmm,     \
        name##_dyn};
/* fp <- fp */
#define F2F_ALL(name, mvin, mvout, mnem)                                \
    I2F(name##_rne, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, rne")   \
    I2F(name##_rtz, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, rtz")   \
    I2F(name##_rdn, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, rdn")   \
    I2F(name##_rup, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, rup")   \
    I2F(name##_rmm, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, rmm")   \
    I2F(name##_dyn, mvout, mvin " ft1, %2\n\t" mnem " ft0, ft1, dyn")   \
    static uint64_t (*const name[6])(uint64_t, unsigned *) = {          \
        name##_rne, name##_rtz, name##_rdn, name##_rup, name##_rmm,     \
        name##_dyn};

F2I_ALL(cvt_w_s, "fmv.w.x", "fcvt.w.s")
F2I_ALL(cvt_wu_s, "fmv.w.x", "fcvt.wu.s")
F2I_ALL(cvt_l_s, "fmv.w.x", "fcvt.l.s")
F2I_ALL(cvt_lu_s, "fmv.w.x", "fcvt.lu.s")
F2I_ALL(cvt_w_d, "fmv.d.x", "fcvt.w.d")
F2I_ALL(cvt_wu_d, "fmv.d.x", "fcvt.wu.d")
F2I_ALL(cvt_l_d, "fmv.d.x", "fcvt.l.d")
F2I_ALL(cvt_lu_d, "fmv.d.x", "fcvt.lu.d")
I2F_ALL(cvt_s_w, "fmv.x.w", "fcvt.s.w")
I2F_ALL(cvt_s_wu, "fmv.x.w", "fcvt.s.wu")
I2F_ALL(cvt_s_l, "fmv.x.w", "fcvt.s.l")
I2F_ALL(cvt_s_lu, "fmv.x.w", "fcvt.s.lu")
/* fcvt.d.w/wu are exact: the assembler takes no rm, so encode the rm field
 * by hand with .insn (funct7 0x69, rs2 0 = w, 1 = wu) */
#define I2F_INSN(name, rs2)                                             \
    I2F(name##_rne, "fmv.x.d", ".insn r OP_FP, 0, 0x69, ft0, %2, " rs2) \
    I2F(name##_rtz, "fmv.x.d", ".insn r OP_FP, 1, 0x69, ft0, %2, " rs2) \
    I2F(name##_rdn, "fmv.x.d", ".insn r OP_FP, 2, 0x69, ft0, %2, " rs2) \
    I2F(name##_rup, "fmv.x.d", ".insn r OP_FP, 3, 0x69, ft0, %2, " rs2) \
    I2F(name##_rmm, "fmv.x.d", ".insn r OP_FP, 4, 0x69, ft0, %2, " rs2) \
    I2F(name##_dyn, "fmv.x.d", ".insn r OP_FP, 7, 0x69, ft0, %2, " rs2) \
    static uint64_t (*const name[6])(uint64_t, unsigned *) = {          \
        name##_rne, name##_rtz, name##_rdn, name##_rup, name##_rmm,     \
        name##_dyn};
I2F_INSN(cvt_d_w, "x0")
I2F_INSN(cvt_d_wu, "x1")
I2F_ALL(cvt_d_l, "fmv.x.d", "fcvt.d.l")
I2F_ALL(cvt_d_lu, "fmv.x.d", "fcvt.d.lu")
F2F_ALL(cvt_s_d, "fmv.d.x", "fmv.x.w", "fcvt.s.d")
/* fcvt.d.s is always exact: rm is accepted but irrelevant */
I2F(cvt_d_s_rne, "fmv.x.d", "fmv.w.x ft1, %2\n\tfcvt.d.s ft0, ft1")

typedef uint64_t (*cvt_fn)(uint64_t, unsigned *);

static const double fvals[] = {
    0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.7, -3.7, 1e-30, -1e-30,
    2147483647.0, 2147483647.5, 2147483648.0, -2147483648.0,
    -2147483648.5, -2147483649.0, 4294967295.0, 4294967295.5, 4294967296.0,
    9223372036854775807.0 /* = 2^63 */, -9223372036854775808.0,
    18446744073709551616.0, 1e30, -1e30, __builtin_inf(), -__builtin_inf(),
    __builtin_nan(""), -__builtin_nan(""), __builtin_nans(""),
    8388608.5 /* 2^23 + 0.5 (exact in double) */, 16777217.0,
};
#define NF (sizeof fvals / sizeof fvals[0])
static const float fvals_s[] = {
    0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.7f, -3.7f, 1e-30f,
    -1e-30f, 2147483520.0f, 2147483520.0f, 2147483648.0f, -2147483648.0f,
    -2147483904.0f, -2147483904.0f, 4294967040.0f, 4294967040.0f,
    4294967296.0f, 9223372036854775807.0f, -9223372036854775808.0f,
    18446744073709551616.0f, 1e30f, -1e30f, __builtin_inff(),
    -__builtin_inff(), __builtin_nanf(""), -__builtin_nanf(""),
    __builtin_nansf(""), 8388607.5f, 16777216.0f,
};

static const uint64_t ivals[] = {
    0, 1, (uint64_t)-1, 0x7fffffff, 0x80000000, 0xffffffff, 16777217,
    (uint64_t)-16777217, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
    0x20000000000001ULL, 0x20000000000003ULL, 0xdeadbeef00000005ULL,
    0x12345678abcdef01ULL, 0x0000000100000001ULL, 0xfffffffffffff801ULL,
};
#define NI (sizeof ivals / sizeof ivals[0])

static void row(const char *name, cvt_fn const *fns, uint64_t in,
                int in_digits, int out_digits)
{
    out_str(name);
    out_ch(' ');
    out_hexn(in, in_digits);
    out_ch(':');
    for (int rm = 0; rm < 6; rm++) {
        unsigned fl;
        uint64_t r = fns[rm](in, &fl);
        out_ch(' ');
        out_hexn(r, out_digits);
        out_ch('/');
        out_hexn(fl, 2);
    }
    out_nl();
}

static uint64_t bits_d(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint32_t bits_s(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void convert_tables(void)
{
    static const struct {
        const char *name;
        cvt_fn const *fn;
        int dbl;
    } f2i[] = {
        {"fcvt.w.s", cvt_w_s, 0},   {"fcvt.wu.s", cvt_wu_s, 0},
        {"fcvt.l.s", cvt_l_s, 0},   {"fcvt.lu.s", cvt_lu_s, 0},
        {"fcvt.w.d", cvt_w_d, 1},   {"fcvt.wu.d", cvt_wu_d, 1},
        {"fcvt.l.d", cvt_l_d, 1},   {"fcvt.lu.d", cvt_lu_d, 1},
    };
    static const struct {
        const char *name;
        cvt_fn const *fn;
        int dbl;
    } i2f[] = {
        {"fcvt.s.w", cvt_s_w, 0},   {"fcvt.s.wu", cvt_s_wu, 0},
        {"fcvt.s.l", cvt_s_l, 0},   {"fcvt.s.lu", cvt_s_lu, 0},
        {"fcvt.d.w", cvt_d_w, 1},   {"fcvt.d.wu", cvt_d_wu, 1},
        {"fcvt.d.l", cvt_d_l, 1},   {"fcvt.d.lu", cvt_d_lu, 1},
    };
    out_str("columns: rne rtz rdn rup rmm dyn(frm=rne)\n");
    for (unsigned k = 0; k < 8; k++)
        for (unsigned i = 0; i < NF; i++) {
            uint64_t in = f2i[k].dbl ? bits_d(fvals[i]) : bits_s(fvals_s[i]);
            row(f2i[k].name, f2i[k].fn, in, f2i[k].dbl ? 16 : 8, 16);
        }
    for (unsigned k = 0; k < 8; k++)
        for (unsigned i = 0; i < NI; i++)
            row(i2f[k].name, i2f[k].fn, ivals[i], 16, 16);
    static const double dd[] = {
        1.0 / 3.0, -1.0 / 3.0, 1e300, -1e300, 1e-300, 3.4028235677973366e38,
        3.4028235677973362e38, 1.1754942807573643e-38, 1.401298464324817e-45,
        7.006492321624085e-46, 16777217.0, -0.0, __builtin_nan(""),
        __builtin_nans(""), -__builtin_inf(), 0.1,
    };
    for (unsigned i = 0; i < sizeof dd / sizeof dd[0]; i++)
        row("fcvt.s.d", cvt_s_d, bits_d(dd[i]), 16, 16);
    static const uint32_t ss[] = {0x3f800000, 0x7f800001, 0xffc00001, 0x00000001,
                                  0x7f7fffff, 0x80000000};
    for (unsigned i = 0; i < sizeof ss / sizeof ss[0]; i++) {
        unsigned fl;
        uint64_t r = cvt_d_s_rne(ss[i], &fl);
        out_str("fcvt.d.s ");
        out_hex32(ss[i]);
        out_str(": ");
        out_hex64(r);
        out_ch('/');
        out_hexn(fl, 2);
        out_nl();
    }
}

/* the dyn column again, under every frm value */
static void dynamic_frm(void)
{
    static const double picks[] = {2.5, -2.5, 1.5, -0.5, 3.7, -3.7, 0.5};
    for (int rm = 0; rm < 5; rm++) {
        __asm__ volatile("fsrm %0" ::"r"((long)rm));
        long frm;
        __asm__ volatile("frrm %0" : "=r"(frm));
        out_str("frm=");
        out_dec(frm);
        out_ch(':');
        for (unsigned i = 0; i < sizeof picks / sizeof picks[0]; i++) {
            unsigned fl, fl2;
            uint64_t r = cvt_l_d_dyn(bits_d(picks[i]), &fl);
            uint64_t r2 = cvt_l_d[rm](bits_d(picks[i]), &fl2);
            out_ch(' ');
            out_dec((int64_t)r);
            CHECK(r == r2 && fl == fl2, "dyn rm %d value %u", rm, i);
        }
        unsigned fl;
        uint64_t r = cvt_s_l_dyn(0x20000000000003ULL, &fl);
        out_str(" s.l=");
        out_hex32((uint32_t)r);
        r = cvt_s_d_dyn(bits_d(1.0 / 3.0), &fl);
        out_str(" s.d=");
        out_hex32((uint32_t)r);
        out_nl();
    }
    __asm__ volatile("fsrm zero");
}

static void libm_modes(void)
{
    static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD,
                                FE_UPWARD};
    static const char *const names[] = {"nearest", "towardzero", "downward",
                                        "upward"};
    volatile double v[] = {2.5, -2.5, 3.5, -0.5, 2.675, 1.0 / 3.0};
    for (int m = 0; m < 4; m++) {
        int rc = fesetround(modes[m]);
        long frm;
        __asm__ volatile("frrm %0" : "=r"(frm));
        P("%s: fesetround=%d fegetround==mode %d frm=%ld\n", names[m], rc,
          fegetround() == modes[m], frm);
        for (int i = 0; i < 4; i++)
            P("  %g: lrint=%ld llrint=%lld rint=%g nearbyint=%g round=%g "
              "floor=%g ceil=%g trunc=%g (long)=%ld\n",
              v[i], lrint(v[i]), llrint(v[i]), rint(v[i]), nearbyint(v[i]),
              round(v[i]), floor(v[i]), ceil(v[i]), trunc(v[i]), (long)v[i]);
        P("  printf %%.2f of 2.675=%.2f -2.675=%.2f 1/3 %%.5f=%.5f "
          "%%.0f 0.5=%.0f 1.5=%.0f\n",
          v[4], -v[4], v[5], 0.5 * (v[0] / 2.5), 1.5 * (v[0] / 2.5));
        volatile float f = 1.0f;
        volatile float g = (float)(f / 3.0f);
        P("  float 1/3 = %a, 1/3 = %a\n", (double)g, v[5]);
    }
    fesetround(FE_TONEAREST);
    P("fesetround(invalid)=%d\n", fesetround(0x1234) != 0);

    feclearexcept(FE_ALL_EXCEPT);
    volatile double z = 0.0, one = 1.0;
    volatile double q = one / z;
    P("after 1/0: DIVBYZERO=%d INEXACT=%d INVALID=%d (q=%g)\n",
      !!fetestexcept(FE_DIVBYZERO), !!fetestexcept(FE_INEXACT),
      !!fetestexcept(FE_INVALID), q);
    feclearexcept(FE_ALL_EXCEPT);
    q = z / z;
    P("after 0/0: INVALID=%d\n", !!fetestexcept(FE_INVALID));
    feclearexcept(FE_ALL_EXCEPT);
    q = one / 3.0;
    P("after 1/3: INEXACT=%d OVERFLOW=%d\n", !!fetestexcept(FE_INEXACT),
      !!fetestexcept(FE_OVERFLOW));
    feraiseexcept(FE_OVERFLOW | FE_UNDERFLOW);
    long fl;
    __asm__ volatile("frflags %0" : "=r"(fl));
    P("feraiseexcept(OF|UF) -> fflags=%02lx\n", fl);
    fenv_t env;
    fegetenv(&env);
    fesetround(FE_UPWARD);
    feclearexcept(FE_ALL_EXCEPT);
    fesetenv(&env);
    __asm__ volatile("frcsr %0" : "=r"(fl));
    P("fesetenv restored fcsr=%02lx\n", fl);
    feclearexcept(FE_ALL_EXCEPT);
}

int main(void)
{
    convert_tables();
    dynamic_frm();
    libm_modes();
    out_flush();
    printf("fp_convert done, failures=%d\n", fail_count);
    return fail_count ? 1 : 0;
}
