/* F and D extensions through inline asm, on raw bit patterns: add, sub, mul,
 * div, min/max (NaN, signed zeros), sign injection, comparisons, sqrt,
 * fclass, the four fused multiply-adds, each with the fflags it raised
 * (fflags cleared before every op); static rounding modes on inexact and
 * overflowing results; NaN-boxing (fmv.x.d of single results, single ops
 * fed improperly boxed values); loads/stores keep NaN payloads.
 * Exit status 0. */
#include "common.h"

#define PRE "csrwi fflags, 0\n\t"

/* ---- single precision ------------------------------------------------ */
#define BIN_S(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, unsigned *fl)             \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.w.x ft0, %2\n\tfmv.w.x ft1, %3\n\t" insn \
                         "\n\tfmv.x.w %0, ft2\n\tfrflags %1"             \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b)                                \
                         : "ft0", "ft1", "ft2");                         \
        *fl = (unsigned)f;                                               \
        return (uint32_t)r;                                              \
    }
#define CMP_S(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, unsigned *fl)             \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.w.x ft0, %2\n\tfmv.w.x ft1, %3\n\t" insn \
                         " %0, ft0, ft1\n\tfrflags %1"                   \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b)                                \
                         : "ft0", "ft1");                                \
        *fl = (unsigned)f;                                               \
        return r;                                                        \
    }
#define BIN_D(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, unsigned *fl)             \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" insn \
                         "\n\tfmv.x.d %0, ft2\n\tfrflags %1"             \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b)                                \
                         : "ft0", "ft1", "ft2");                         \
        *fl = (unsigned)f;                                               \
        return r;                                                        \
    }
#define CMP_D(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, unsigned *fl)             \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" insn \
                         " %0, ft0, ft1\n\tfrflags %1"                   \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b)                                \
                         : "ft0", "ft1");                                \
        *fl = (unsigned)f;                                               \
        return r;                                                        \
    }

BIN_S(fadd_s, "fadd.s ft2, ft0, ft1")
BIN_S(fsub_s, "fsub.s ft2, ft0, ft1")
BIN_S(fmul_s, "fmul.s ft2, ft0, ft1")
BIN_S(fdiv_s, "fdiv.s ft2, ft0, ft1")
BIN_S(fmin_s, "fmin.s ft2, ft0, ft1")
BIN_S(fmax_s, "fmax.s ft2, ft0, ft1")
BIN_S(fsgnj_s, "fsgnj.s ft2, ft0, ft1")
BIN_S(fsgnjn_s, "fsgnjn.s ft2, ft0, ft1")
BIN_S(fsgnjx_s, "fsgnjx.s ft2, ft0, ft1")
CMP_S(feq_s, "feq.s")
CMP_S(flt_s, "flt.s")
CMP_S(fle_s, "fle.s")
BIN_D(fadd_d, "fadd.d ft2, ft0, ft1")
BIN_D(fsub_d, "fsub.d ft2, ft0, ft1")
BIN_D(fmul_d, "fmul.d ft2, ft0, ft1")
BIN_D(fdiv_d, "fdiv.d ft2, ft0, ft1")
BIN_D(fmin_d, "fmin.d ft2, ft0, ft1")
BIN_D(fmax_d, "fmax.d ft2, ft0, ft1")
BIN_D(fsgnj_d, "fsgnj.d ft2, ft0, ft1")
BIN_D(fsgnjn_d, "fsgnjn.d ft2, ft0, ft1")
BIN_D(fsgnjx_d, "fsgnjx.d ft2, ft0, ft1")
CMP_D(feq_d, "feq.d")
CMP_D(flt_d, "flt.d")
CMP_D(fle_d, "fle.d")

/* unary ones use only a; b ignored */
BIN_S(fsqrt_s, "fsqrt.s ft2, ft0")
BIN_D(fsqrt_d, "fsqrt.d ft2, ft0")
#define CLS(fn, mv, insn)                                                \
    static uint64_t fn(uint64_t a, uint64_t b, unsigned *fl)             \
    {                                                                    \
        uint64_t r, f;                                                   \
        (void)b;                                                         \
        __asm__ volatile(PRE mv " ft0, %2\n\t" insn " %0, ft0\n\tfrflags %1" \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a)                                        \
                         : "ft0");                                       \
        *fl = (unsigned)f;                                               \
        return r;                                                        \
    }
CLS(fclass_s, "fmv.w.x", "fclass.s")
CLS(fclass_d, "fmv.d.x", "fclass.d")

/* rounding-mode variants */
#define RM_S(op)                                                        \
    BIN_S(op##_s_rne, #op ".s ft2, ft0, ft1, rne")                      \
    BIN_S(op##_s_rtz, #op ".s ft2, ft0, ft1, rtz")                      \
    BIN_S(op##_s_rdn, #op ".s ft2, ft0, ft1, rdn")                      \
    BIN_S(op##_s_rup, #op ".s ft2, ft0, ft1, rup")                      \
    BIN_S(op##_s_rmm, #op ".s ft2, ft0, ft1, rmm")                      \
    BIN_S(op##_s_dyn, #op ".s ft2, ft0, ft1, dyn")
#define RM_D(op)                                                        \
    BIN_D(op##_d_rne, #op ".d ft2, ft0, ft1, rne")                      \
    BIN_D(op##_d_rtz, #op ".d ft2, ft0, ft1, rtz")                      \
    BIN_D(op##_d_rdn, #op ".d ft2, ft0, ft1, rdn")                      \
    BIN_D(op##_d_rup, #op ".d ft2, ft0, ft1, rup")                      \
    BIN_D(op##_d_rmm, #op ".d ft2, ft0, ft1, rmm")                      \
    BIN_D(op##_d_dyn, #op ".d ft2, ft0, ft1, dyn")
RM_S(fadd) RM_S(fmul) RM_S(fdiv) RM_D(fadd) RM_D(fmul) RM_D(fdiv)
BIN_S(fsqrt_s_rtz, "fsqrt.s ft2, ft0, rtz")
BIN_S(fsqrt_s_rup, "fsqrt.s ft2, ft0, rup")
BIN_D(fsqrt_d_rtz, "fsqrt.d ft2, ft0, rtz")
BIN_D(fsqrt_d_rup, "fsqrt.d ft2, ft0, rup")

typedef uint64_t (*bin_fn)(uint64_t, uint64_t, unsigned *);
struct op {
    const char *name;
    bin_fn fn;
};

static const uint64_t vals_s[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000,
    0x3dcccccd, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x7f800000,
    0xff800000, 0x7fc00000, 0xffc12345, 0x7f800001, 0x7fa00000,
};
static const uint64_t vals_d[] = {
    0x0000000000000000ULL, 0x8000000000000000ULL, 0x3ff0000000000000ULL,
    0xbff0000000000000ULL, 0x3ff8000000000000ULL, 0x4008000000000000ULL,
    0x3fb999999999999aULL, 0x0000000000000001ULL, 0x800fffffffffffffULL,
    0x0010000000000000ULL, 0x7fefffffffffffffULL, 0x7ff0000000000000ULL,
    0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0xfff8000000012345ULL,
    0x7ff0000000000001ULL, 0x7ff4000000000000ULL,
};
#define NV (sizeof vals_s / sizeof vals_s[0])

static void table(const struct op *ops, int nops, const uint64_t *vals,
                  int digits, int unary)
{
    for (int k = 0; k < nops; k++)
        for (unsigned i = 0; i < NV; i++) {
            out_str(ops[k].name);
            out_ch(' ');
            out_hexn(vals[i], digits);
            out_ch(':');
            for (unsigned j = 0; j < (unary ? 1 : NV); j++) {
                unsigned fl;
                uint64_t r = ops[k].fn(vals[i], vals[j], &fl);
                out_ch(' ');
                out_hexn(r, digits);
                out_ch('/');
                out_hexn(fl, 2);
            }
            out_nl();
        }
}

static const struct op bin_s[] = {
    {"fadd.s", fadd_s},   {"fsub.s", fsub_s},     {"fmul.s", fmul_s},
    {"fdiv.s", fdiv_s},   {"fmin.s", fmin_s},     {"fmax.s", fmax_s},
    {"fsgnj.s", fsgnj_s}, {"fsgnjn.s", fsgnjn_s}, {"fsgnjx.s", fsgnjx_s},
    {"feq.s", feq_s},     {"flt.s", flt_s},       {"fle.s", fle_s},
};
static const struct op bin_d[] = {
    {"fadd.d", fadd_d},   {"fsub.d", fsub_d},     {"fmul.d", fmul_d},
    {"fdiv.d", fdiv_d},   {"fmin.d", fmin_d},     {"fmax.d", fmax_d},
    {"fsgnj.d", fsgnj_d}, {"fsgnjn.d", fsgnjn_d}, {"fsgnjx.d", fsgnjx_d},
    {"feq.d", feq_d},     {"flt.d", flt_d},       {"fle.d", fle_d},
};
static const struct op un_s[] = {{"fsqrt.s", fsqrt_s}, {"fclass.s", fclass_s}};
static const struct op un_d[] = {{"fsqrt.d", fsqrt_d}, {"fclass.d", fclass_d}};

/* ---- fused multiply-add ------------------------------------------------ */
#define FMA_S(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, uint64_t c, unsigned *fl) \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.w.x ft0, %2\n\tfmv.w.x ft1, %3\n\t"    \
                             "fmv.w.x ft2, %4\n\t" insn                  \
                             " ft3, ft0, ft1, ft2\n\tfmv.x.w %0, ft3\n\t" \
                             "frflags %1"                                \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b), "r"(c)                        \
                         : "ft0", "ft1", "ft2", "ft3");                  \
        *fl = (unsigned)f;                                               \
        return (uint32_t)r;                                              \
    }
#define FMA_D(fn, insn)                                                  \
    static uint64_t fn(uint64_t a, uint64_t b, uint64_t c, unsigned *fl) \
    {                                                                    \
        uint64_t r, f;                                                   \
        __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t"    \
                             "fmv.d.x ft2, %4\n\t" insn                  \
                             " ft3, ft0, ft1, ft2\n\tfmv.x.d %0, ft3\n\t" \
                             "frflags %1"                                \
                         : "=&r"(r), "=&r"(f)                            \
                         : "r"(a), "r"(b), "r"(c)                        \
                         : "ft0", "ft1", "ft2", "ft3");                  \
        *fl = (unsigned)f;                                               \
        return r;                                                        \
    }
FMA_S(fmadd_s, "fmadd.s") FMA_S(fmsub_s, "fmsub.s")
FMA_S(fnmadd_s, "fnmadd.s") FMA_S(fnmsub_s, "fnmsub.s")
FMA_D(fmadd_d, "fmadd.d") FMA_D(fmsub_d, "fmsub.d")
FMA_D(fnmadd_d, "fnmadd.d") FMA_D(fnmsub_d, "fnmsub.d")

typedef uint64_t (*fma_fn)(uint64_t, uint64_t, uint64_t, unsigned *);

static void fma_tests(void)
{
    static const struct {
        const char *name;
        fma_fn s, d;
    } f[] = {
        {"fmadd", fmadd_s, fmadd_d},
        {"fmsub", fmsub_s, fmsub_d},
        {"fnmadd", fnmadd_s, fnmadd_d},
        {"fnmsub", fnmsub_s, fnmsub_d},
    };
    /* indices into vals_*: 0 +0, 1 -0, 2 1, 3 -1, 4 1.5, 6 0.1, 7 minsub,
     * 10 max, 11 inf, 12 -inf, 13 qnan, 15 snan */
    static const int sub[] = {0, 1, 2, 3, 4, 6, 7, 10, 11, 12, 13, 15};
    const int ns = sizeof sub / sizeof sub[0];
    for (int k = 0; k < 4; k++) {
        uint64_t hs = FNV_INIT, hd = FNV_INIT;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++)
                for (int l = 0; l < ns; l++) {
                    unsigned fl;
                    uint64_t r = f[k].s(vals_s[sub[i]], vals_s[sub[j]],
                                        vals_s[sub[l]], &fl);
                    hs = fnv_word(hs, r << 8 | fl);
                    r = f[k].d(vals_d[sub[i]], vals_d[sub[j]], vals_d[sub[l]],
                               &fl);
                    hd = fnv_word(hd, r ^ fl);
                }
        out_str(f[k].name);
        out_str(" grid hash s=");
        out_hex64(hs);
        out_str(" d=");
        out_hex64(hd);
        out_nl();
    }
    /* explicit interesting cases (single, double) */
    static const int cases[][3] = {
        {11, 0, 13}, /* inf*0 + qnan: invalid */
        {11, 0, 2},  /* inf*0 + 1 */
        {11, 2, 12}, /* inf - inf */
        {2, 1, 1},   /* 1*-0 + -0 = -0 */
        {3, 0, 0},   /* -1*0 + 0 */
        {6, 5, 3},   /* 0.1*3 - 1: fused rounding */
        {10, 4, 12}, /* max*1.5 overflow... + -inf */
        {10, 4, 3},  /* overflow */
        {7, 6, 0},   /* underflow */
        {15, 2, 2},  /* snan */
        {2, 2, 3},   /* 1*1 - 1 = +0 (rne) */
    };
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int k = 0; k < 4; k++) {
            unsigned fs, fd;
            uint64_t rs = f[k].s(vals_s[cases[c][0]], vals_s[cases[c][1]],
                                 vals_s[cases[c][2]], &fs);
            uint64_t rd = f[k].d(vals_d[cases[c][0]], vals_d[cases[c][1]],
                                 vals_d[cases[c][2]], &fd);
            out_str(f[k].name);
            out_str(" case ");
            out_dec(c);
            out_str(": s=");
            out_hex32((uint32_t)rs);
            out_ch('/');
            out_hexn(fs, 2);
            out_str(" d=");
            out_hex64(rd);
            out_ch('/');
            out_hexn(fd, 2);
            out_nl();
        }
    }
}

/* ---- static and dynamic rounding modes ---------------------------------- */
static void rounding(void)
{
    static const struct op s_ops[] = {
        {"fadd.s.rne", fadd_s_rne}, {"fadd.s.rtz", fadd_s_rtz},
        {"fadd.s.rdn", fadd_s_rdn}, {"fadd.s.rup", fadd_s_rup},
        {"fadd.s.rmm", fadd_s_rmm}, {"fmul.s.rne", fmul_s_rne},
        {"fmul.s.rtz", fmul_s_rtz}, {"fmul.s.rdn", fmul_s_rdn},
        {"fmul.s.rup", fmul_s_rup}, {"fmul.s.rmm", fmul_s_rmm},
        {"fdiv.s.rne", fdiv_s_rne}, {"fdiv.s.rtz", fdiv_s_rtz},
        {"fdiv.s.rdn", fdiv_s_rdn}, {"fdiv.s.rup", fdiv_s_rup},
        {"fdiv.s.rmm", fdiv_s_rmm},
    };
    static const struct op d_ops[] = {
        {"fadd.d.rne", fadd_d_rne}, {"fadd.d.rtz", fadd_d_rtz},
        {"fadd.d.rdn", fadd_d_rdn}, {"fadd.d.rup", fadd_d_rup},
        {"fadd.d.rmm", fadd_d_rmm}, {"fmul.d.rne", fmul_d_rne},
        {"fmul.d.rtz", fmul_d_rtz}, {"fmul.d.rdn", fmul_d_rdn},
        {"fmul.d.rup", fmul_d_rup}, {"fmul.d.rmm", fmul_d_rmm},
        {"fdiv.d.rne", fdiv_d_rne}, {"fdiv.d.rtz", fdiv_d_rtz},
        {"fdiv.d.rdn", fdiv_d_rdn}, {"fdiv.d.rup", fdiv_d_rup},
        {"fdiv.d.rmm", fdiv_d_rmm},
    };
    static const bin_fn s_dyn[] = {fadd_s_dyn, fmul_s_dyn, fdiv_s_dyn};
    static const bin_fn d_dyn[] = {fadd_d_dyn, fmul_d_dyn, fdiv_d_dyn};
    /* pairs: 1 + 2^-24 + 2^-25 style ties and near-ties, 1/3, -1/3,
     * overflow (max * 2 and -max * 2) */
    static const uint64_t ps[][2] = {
        {0x3f800000, 0x33800000}, /* 1 + 2^-24: tie */
        {0x3f800001, 0x33800000}, /* odd + half ulp: tie to even up */
        {0xbf800000, 0xb3800001}, /* negative, just over half */
        {0x3f800000, 0x40400000}, /* 1 op 3 */
        {0xbf800000, 0x40400000}, /* -1 op 3 */
        {0x7f7fffff, 0x40000000}, /* max op 2: overflow for mul */
        {0xff7fffff, 0x40000000},
        {0x3f800000, 0xbf800000}, /* 1 + -1: exact zero, sign by mode */
        {0x00800000, 0x3f000000}, /* min normal op 0.5 */
    };
    static const uint64_t pd[][2] = {
        {0x3ff0000000000000ULL, 0x3ca0000000000000ULL},
        {0x3ff0000000000001ULL, 0x3ca0000000000000ULL},
        {0xbff0000000000000ULL, 0xbca0000000000001ULL},
        {0x3ff0000000000000ULL, 0x4008000000000000ULL},
        {0xbff0000000000000ULL, 0x4008000000000000ULL},
        {0x7fefffffffffffffULL, 0x4000000000000000ULL},
        {0xffefffffffffffffULL, 0x4000000000000000ULL},
        {0x3ff0000000000000ULL, 0xbff0000000000000ULL},
        {0x0010000000000000ULL, 0x3fe0000000000000ULL},
    };
    const int np = sizeof ps / sizeof ps[0];
    for (int k = 0; k < 15; k++) {
        out_str(s_ops[k].name);
        out_ch(':');
        for (int i = 0; i < np; i++) {
            unsigned fl;
            uint64_t r = s_ops[k].fn(ps[i][0], ps[i][1], &fl);
            out_ch(' ');
            out_hex32((uint32_t)r);
            out_ch('/');
            out_hexn(fl, 2);
        }
        out_nl();
        out_str(d_ops[k].name);
        out_ch(':');
        for (int i = 0; i < np; i++) {
            unsigned fl;
            uint64_t r = d_ops[k].fn(pd[i][0], pd[i][1], &fl);
            out_ch(' ');
            out_hex64(r);
            out_ch('/');
            out_hexn(fl, 2);
        }
        out_nl();
    }
    /* dynamic mode: the same through frm, must equal the static results */
    for (int rm = 0; rm < 5; rm++) {
        __asm__ volatile("fsrm %0" ::"r"((long)rm));
        for (int o = 0; o < 3; o++) {
            out_str("dyn rm=");
            out_dec(rm);
            out_str(o == 0 ? " fadd" : o == 1 ? " fmul" : " fdiv");
            out_ch(':');
            for (int i = 0; i < np; i++) {
                unsigned fl, fl2, fl3;
                uint64_t r = s_dyn[o](ps[i][0], ps[i][1], &fl);
                uint64_t r2 = s_ops[o * 5 + rm].fn(ps[i][0], ps[i][1], &fl2);
                uint64_t rd = d_dyn[o](pd[i][0], pd[i][1], &fl3);
                out_ch(' ');
                out_hex32((uint32_t)r);
                out_ch('/');
                out_hex64(rd);
                CHECK(r == r2 && fl == fl2, "dyn vs static rm=%d op=%d i=%d",
                      rm, o, i);
            }
            out_nl();
        }
    }
    __asm__ volatile("fsrm zero");
    unsigned fl;
    uint64_t r;
    r = fsqrt_s_rtz(0x40000000, 0, &fl);
    P("fsqrt.s(2) rtz=%08lx/%02x", (unsigned long)r, fl);
    r = fsqrt_s_rup(0x40000000, 0, &fl);
    P(" rup=%08lx/%02x\n", (unsigned long)r, fl);
    r = fsqrt_d_rtz(0x4000000000000000ULL, 0, &fl);
    P("fsqrt.d(2) rtz=%016lx/%02x", (unsigned long)r, fl);
    r = fsqrt_d_rup(0x4000000000000000ULL, 0, &fl);
    P(" rup=%016lx/%02x\n", (unsigned long)r, fl);
}

/* ---- NaN boxing ---------------------------------------------------------- */
static void nanbox(void)
{
    uint64_t r[12];
    unsigned f[4];
    /* single result seen as a double register: upper 32 bits all ones */
    __asm__ volatile("fmv.w.x ft0, %1\n\tfadd.s ft0, ft0, ft0\n\tfmv.x.d %0, ft0"
                     : "=r"(r[0])
                     : "r"(0x3f800000L)
                     : "ft0");
    /* flw boxes too */
    static const uint32_t one_s = 0x3fc00000;
    __asm__ volatile("flw ft0, 0(%1)\n\tfmv.x.d %0, ft0"
                     : "=r"(r[1])
                     : "r"(&one_s)
                     : "ft0");
    /* improperly boxed input to fadd.s: treated as canonical NaN */
    __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfadd.s ft1, ft0, ft0\n\t"
                         "fmv.x.d %0, ft1\n\tfrflags %1"
                     : "=&r"(r[2]), "=&r"(r[11])
                     : "r"(0x000000003f800000L)
                     : "ft0", "ft1");
    f[0] = (unsigned)r[11];
    /* fsgnj.s with an improperly boxed operand */
    __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.w.x ft1, %2\n\t"
                     "fsgnj.s ft2, ft0, ft1\n\tfmv.x.d %0, ft2"
                     : "=r"(r[3])
                     : "r"(0xfffffffe3f800000L), "r"(0xbf800000L)
                     : "ft0", "ft1", "ft2");
    /* fmv.x.w ignores boxing: low 32 bits, sign-extended */
    __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.x.w %0, ft0"
                     : "=r"(r[4])
                     : "r"(0x12345678bf800000L)
                     : "ft0");
    /* fsw stores the low 32 bits without checking */
    uint32_t st = 0;
    __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 0(%0)" ::"r"(&st),
                     "r"(0x12345678c0000000L)
                     : "ft0", "memory");
    r[5] = st;
    /* fclass.s / feq.s / fcvt.d.s of an unboxed value */
    __asm__ volatile("fmv.d.x ft0, %1\n\tfclass.s %0, ft0"
                     : "=r"(r[6])
                     : "r"(0x000000003f800000L)
                     : "ft0");
    __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfeq.s %0, ft0, ft0\n\tfrflags %1"
                     : "=&r"(r[7]), "=&r"(r[11])
                     : "r"(0x000000003f800000L)
                     : "ft0");
    f[1] = (unsigned)r[11];
    __asm__ volatile(PRE "fmv.d.x ft0, %2\n\tfcvt.d.s ft1, ft0\n\t"
                         "fmv.x.d %0, ft1\n\tfrflags %1"
                     : "=&r"(r[8]), "=&r"(r[11])
                     : "r"(0xffffff003f800000L)
                     : "ft0", "ft1");
    f[2] = (unsigned)r[11];
    /* fmv.w.x then fmv.x.d: boxed */
    __asm__ volatile("fmv.w.x ft0, %1\n\tfmv.x.d %0, ft0"
                     : "=r"(r[9])
                     : "r"(0xdeadbeef80000000L)
                     : "ft0");
    /* fcvt.s.w result is boxed */
    __asm__ volatile("fcvt.s.w ft0, %1\n\tfmv.x.d %0, ft0"
                     : "=r"(r[10])
                     : "r"(-3L)
                     : "ft0");
    static const char *const names[11] = {
        "fadd.s->x.d", "flw->x.d",  "unboxed fadd.s", "unboxed fsgnj.s",
        "fmv.x.w",     "fsw low32", "unboxed fclass", "unboxed feq.s",
        "unboxed fcvt.d.s", "fmv.w.x->x.d", "fcvt.s.w->x.d"};
    for (int i = 0; i < 11; i++) {
        out_str("nanbox ");
        out_str(names[i]);
        out_str(" = ");
        out_hex64(r[i]);
        out_nl();
    }
    P("nanbox flags: fadd=%02x feq=%02x fcvt=%02x\n", f[0], f[1], f[2]);

    /* loads/stores move raw bits: a signalling NaN survives, no flags */
    static const uint64_t snan_d = 0x7ff0000000000001ULL;
    static const uint32_t snan_s = 0x7f800001;
    uint64_t dd = 0, fl;
    uint32_t ss = 0;
    __asm__ volatile(PRE "fld ft0, 0(%2)\n\tfsd ft0, 0(%3)\n\t"
                         "flw ft1, 0(%4)\n\tfsw ft1, 0(%5)\n\t"
                         "fmv.d ft2, ft0\n\tfneg.d ft2, ft2\n\tfabs.d ft2, ft2\n\t"
                         "fmv.x.d %0, ft2\n\tfrflags %1"
                     : "=&r"(r[0]), "=&r"(fl)
                     : "r"(&snan_d), "r"(&dd), "r"(&snan_s), "r"(&ss)
                     : "ft0", "ft1", "ft2", "memory");
    P("ldst: d=%016lx s=%08x move=%016lx flags=%02lx\n", (unsigned long)dd, ss,
      (unsigned long)r[0], (unsigned long)fl);
    __asm__ volatile("fmv.w.x ft0, %1\n\tfmv.x.w %0, ft0"
                     : "=r"(r[0])
                     : "r"(0x80000000L)
                     : "ft0");
    P("fmv.x.w sign-extends: %016lx\n", (unsigned long)r[0]);
}

/* ---- flag accumulation ---------------------------------------------------- */
static void accumulate(void)
{
    uint64_t f1, f2;
    __asm__ volatile("csrwi fflags, 0\n\t"
                     "fmv.w.x ft0, %2\n\tfmv.w.x ft1, zero\n\t"
                     "fdiv.s ft2, ft0, ft1\n\t" /* DZ */
                     "frflags %0\n\t"
                     "fmv.w.x ft0, %3\n\t"
                     "fmul.s ft2, ft0, ft0\n\t" /* OF NX */
                     "fsqrt.s ft2, %4\n\t"
                     "frflags %1\n\t"
                     : "=&r"(f1), "=&r"(f2)
                     : "r"(0x3f800000L), "r"(0x7f7fffffL), "f"(-1.0f)
                     : "ft0", "ft1", "ft2");
    P("accumulated flags: %02lx then %02lx\n", (unsigned long)f1,
      (unsigned long)f2);
    /* C level: the compiler's own FP code */
    volatile double a = 1.0, b = 3.0, z = 0.0;
    volatile float fa = 2.0f;
    P("c: %.17g %.17g %.9g %d %d\n", a / b, __builtin_sqrt(b), (double)(fa / 3.0f),
      a / z > 1e308, (z / z) != (z / z));
    __asm__ volatile("csrwi fflags, 0");
}

int main(void)
{
    table(bin_s, sizeof bin_s / sizeof bin_s[0], vals_s, 8, 0);
    table(bin_d, sizeof bin_d / sizeof bin_d[0], vals_d, 16, 0);
    table(un_s, 2, vals_s, 8, 1);
    table(un_d, 2, vals_d, 16, 1);
    fma_tests();
    rounding();
    nanbox();
    accumulate();
    out_flush();
    printf("fp_arith done, failures=%d\n", fail_count);
    return fail_count ? 1 : 0;
}
