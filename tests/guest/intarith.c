/* Integer and 64-bit arithmetic edge cases (RV64IM), through inline asm so
 * the compiler cannot fold anything: division by zero and overflow for
 * div/rem/divu/remu and the W forms, shifts by 0/31/32/63 and by register
 * amounts >= 64, mulh/mulhsu/mulhu, sign extension of W results, slt/sltu,
 * lui/auipc; plus C-level 64/128-bit arithmetic.  Exit status 42. */
#include "common.h"
#include <limits.h>

#define RR(fn, insn)                                                     \
    static int64_t fn(int64_t a, int64_t b)                              \
    {                                                                    \
        int64_t r;                                                       \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); \
        return r;                                                        \
    }

RR(op_add, "add") RR(op_sub, "sub") RR(op_and, "and") RR(op_or, "or")
RR(op_xor, "xor") RR(op_sll, "sll") RR(op_srl, "srl") RR(op_sra, "sra")
RR(op_slt, "slt") RR(op_sltu, "sltu") RR(op_addw, "addw") RR(op_subw, "subw")
RR(op_sllw, "sllw") RR(op_srlw, "srlw") RR(op_sraw, "sraw")
RR(op_mul, "mul") RR(op_mulh, "mulh") RR(op_mulhsu, "mulhsu")
RR(op_mulhu, "mulhu") RR(op_mulw, "mulw") RR(op_div, "div")
RR(op_divu, "divu") RR(op_rem, "rem") RR(op_remu, "remu")
RR(op_divw, "divw") RR(op_divuw, "divuw") RR(op_remw, "remw")
RR(op_remuw, "remuw")

static const struct {
    const char *name;
    int64_t (*fn)(int64_t, int64_t);
} ops[] = {
    {"add", op_add},     {"sub", op_sub},       {"and", op_and},
    {"or", op_or},       {"xor", op_xor},       {"sll", op_sll},
    {"srl", op_srl},     {"sra", op_sra},       {"slt", op_slt},
    {"sltu", op_sltu},   {"addw", op_addw},     {"subw", op_subw},
    {"sllw", op_sllw},   {"srlw", op_srlw},     {"sraw", op_sraw},
    {"mul", op_mul},     {"mulh", op_mulh},     {"mulhsu", op_mulhsu},
    {"mulhu", op_mulhu}, {"mulw", op_mulw},     {"div", op_div},
    {"divu", op_divu},   {"rem", op_rem},       {"remu", op_remu},
    {"divw", op_divw},   {"divuw", op_divuw},   {"remw", op_remw},
    {"remuw", op_remuw},
};
#define NOPS (sizeof ops / sizeof ops[0])

static const int64_t grid[] = {
    0,
    1,
    -1,
    2,
    -2,
    7,
    -7,
    31,
    32,
    63,
    64,
    0x7fffffff,
    (int64_t)0xffffffff80000000ULL,
    0xffffffff,
    0x100000000LL,
    INT64_MAX,
    INT64_MIN,
    0x123456789abcdef0LL,
    (int64_t)0xfedcba9876543210ULL,
    (int64_t)0x8000000080000000ULL,
};
#define NGRID (sizeof grid / sizeof grid[0])

static void line2(const char *what, int64_t a, int64_t b)
{
    out_str(what);
    out_str(" a=");
    out_hex64(a);
    out_str(" b=");
    out_hex64(b);
    out_str(":");
}

static void field(const char *name, int64_t v)
{
    out_ch(' ');
    out_str(name);
    out_ch('=');
    out_hex64(v);
}

static void division(void)
{
    static const int64_t cases[][2] = {
        {7, 0},
        {-7, 0},
        {0, 0},
        {INT64_MIN, -1},
        {INT64_MIN, 0},
        {INT64_MIN, 1},
        {7, 2},
        {-7, 2},
        {7, -2},
        {-7, -2},
        {(int64_t)0xffffffff80000000ULL, -1}, /* INT32_MIN / -1 (W) */
        {0x80000000, -1},                     /* W sees INT32_MIN   */
        {(int64_t)0xdeadbeef80000000ULL, 0xffffffff},
        {0x100000007LL, 2},
        {0x100000007LL, 0x100000000LL}, /* W divisor is 0 */
        {-1, 2},
        {0x7fffffff, -1},
        {1, INT64_MIN},
        {INT64_MAX, INT64_MIN},
        {(int64_t)0xfedcba9876543210ULL, 0x1234567},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t a = cases[i][0], b = cases[i][1];
        line2("div", a, b);
        field("div", op_div(a, b));
        field("divu", op_divu(a, b));
        field("rem", op_rem(a, b));
        field("remu", op_remu(a, b));
        out_nl();
        line2("divw", a, b);
        field("divw", op_divw(a, b));
        field("divuw", op_divuw(a, b));
        field("remw", op_remw(a, b));
        field("remuw", op_remuw(a, b));
        out_nl();
    }
    /* architectural results that must hold whatever the oracle says */
    CHECK(op_div(5, 0) == -1, "div by 0");
    CHECK(op_divu(5, 0) == -1, "divu by 0");
    CHECK(op_rem(5, 0) == 5, "rem by 0");
    CHECK(op_remu(5, 0) == 5, "remu by 0");
    CHECK(op_div(INT64_MIN, -1) == INT64_MIN, "div overflow");
    CHECK(op_rem(INT64_MIN, -1) == 0, "rem overflow");
    CHECK(op_divw(INT32_MIN, -1) == INT32_MIN, "divw overflow");
    CHECK(op_remw(INT32_MIN, -1) == 0, "remw overflow");
    CHECK(op_divuw(5, 0) == -1, "divuw by 0");
    CHECK(op_remuw(0x80000005LL, 0) == (int64_t)0xffffffff80000005ULL,
          "remuw by 0");
}

static void multiply(void)
{
    static const int64_t cases[][2] = {
        {-1, -1},
        {INT64_MIN, INT64_MIN},
        {INT64_MIN, -1},
        {INT64_MAX, INT64_MAX},
        {-1, 1},
        {1, -1},
        {-2, 3},
        {3, -2},
        {0x123456789abcdef0LL, 0x0fedcba987654321LL},
        {0xffffffff, 0xffffffff},
        {0x80000000, 0x80000000},
        {0x7fffffff, 2},
        {0x10000, 0x10000},
        {(int64_t)0xdeadbeefcafebabeULL, 0},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t a = cases[i][0], b = cases[i][1];
        line2("mul", a, b);
        field("mul", op_mul(a, b));
        field("mulh", op_mulh(a, b));
        field("mulhsu", op_mulhsu(a, b));
        field("mulhu", op_mulhu(a, b));
        field("mulw", op_mulw(a, b));
        out_nl();
    }
    CHECK(op_mulhu(-1, -1) == -2, "mulhu");
    CHECK(op_mulh(-1, -1) == 0, "mulh");
    CHECK(op_mulhsu(-1, -1) == -1, "mulhsu");
}

static void shifts(void)
{
    static const int64_t vals[] = {(int64_t)0x8000000000000001ULL,
                                   0x0123456789abcdefLL, 0x80000000LL, -1,
                                   (int64_t)0xfedcba9880000000ULL};
    static const int64_t amts[] = {0, 1, 31, 32, 33, 63, 64, 65, 95, 96, 127,
                                   -1, 0x100, (int64_t)0x8000000000000021ULL};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (unsigned j = 0; j < sizeof amts / sizeof amts[0]; j++) {
            int64_t a = vals[i], b = amts[j];
            line2("shift", a, b);
            field("sll", op_sll(a, b));
            field("srl", op_srl(a, b));
            field("sra", op_sra(a, b));
            field("sllw", op_sllw(a, b));
            field("srlw", op_srlw(a, b));
            field("sraw", op_sraw(a, b));
            out_nl();
        }
    CHECK(op_sll(1, 64) == 1, "sll masks to 6 bits");
    CHECK(op_sllw(1, 32) == 1, "sllw masks to 5 bits");
    CHECK(op_srl(-1, 127) == 1, "srl 127");

    /* immediate forms */
    int64_t v = (int64_t)0x8000000180000001ULL, r[16];
    __asm__ volatile("slli %0, %1, 0" : "=r"(r[0]) : "r"(v));
    __asm__ volatile("slli %0, %1, 31" : "=r"(r[1]) : "r"(v));
    __asm__ volatile("slli %0, %1, 32" : "=r"(r[2]) : "r"(v));
    __asm__ volatile("slli %0, %1, 63" : "=r"(r[3]) : "r"(v));
    __asm__ volatile("srli %0, %1, 1" : "=r"(r[4]) : "r"(v));
    __asm__ volatile("srli %0, %1, 63" : "=r"(r[5]) : "r"(v));
    __asm__ volatile("srai %0, %1, 1" : "=r"(r[6]) : "r"(v));
    __asm__ volatile("srai %0, %1, 63" : "=r"(r[7]) : "r"(v));
    __asm__ volatile("slliw %0, %1, 0" : "=r"(r[8]) : "r"(v));
    __asm__ volatile("slliw %0, %1, 31" : "=r"(r[9]) : "r"(v));
    __asm__ volatile("srliw %0, %1, 0" : "=r"(r[10]) : "r"(v));
    __asm__ volatile("srliw %0, %1, 31" : "=r"(r[11]) : "r"(v));
    __asm__ volatile("sraiw %0, %1, 0" : "=r"(r[12]) : "r"(v));
    __asm__ volatile("sraiw %0, %1, 31" : "=r"(r[13]) : "r"(v));
    __asm__ volatile("srliw %0, %1, 1" : "=r"(r[14]) : "r"(v));
    __asm__ volatile("sraiw %0, %1, 1" : "=r"(r[15]) : "r"(v));
    static const char *const inames[16] = {
        "slli0", "slli31", "slli32", "slli63", "srli1", "srli63",
        "srai1", "srai63", "slliw0", "slliw31", "srliw0", "srliw31",
        "sraiw0", "sraiw31", "srliw1", "sraiw1"};
    for (int i = 0; i < 16; i++) {
        out_str("imm-shift");
        field(inames[i], r[i]);
        out_nl();
    }
}

static void wforms_and_compare(void)
{
    int64_t r[12];
    r[0] = op_addw(0x7fffffff, 1);
    r[1] = op_subw((int64_t)0xffffffff80000000ULL, 1);
    r[2] = op_addw((int64_t)0xdeadbeef00000001ULL, 1);
    r[3] = op_subw(0, 1);
    __asm__ volatile("addiw %0, %1, 0" : "=r"(r[4]) : "r"(0x12345678deadbeefLL));
    __asm__ volatile("addiw %0, %1, 1" : "=r"(r[5]) : "r"(0x7fffffffLL));
    __asm__ volatile("addiw %0, %1, -2048" : "=r"(r[6]) : "r"(0LL));
    __asm__ volatile("addi %0, %1, -1" : "=r"(r[7]) : "r"(0LL));
    __asm__ volatile("addi %0, %1, 2047" : "=r"(r[8]) : "r"(INT64_MAX));
    r[9] = op_add(INT64_MAX, 1);
    r[10] = op_sub(INT64_MIN, 1);
    r[11] = op_mulw(0x12345678, 0x9abcdef);
    for (int i = 0; i < 12; i++) {
        out_str("wform ");
        out_dec(i);
        field("r", r[i]);
        out_nl();
    }
    CHECK(r[0] == (int64_t)0xffffffff80000000ULL, "addw sign-extends");
    CHECK(r[4] == (int64_t)0xffffffffdeadbeefULL, "sext.w");

    static const int64_t pairs[][2] = {{-1, 0}, {0, -1}, {INT64_MIN, INT64_MAX},
                                       {INT64_MAX, INT64_MIN}, {5, 5}, {4, 5},
                                       {0x80000000, 0x7fffffff}};
    for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int64_t a = pairs[i][0], b = pairs[i][1];
        line2("cmp", a, b);
        field("slt", op_slt(a, b));
        field("sltu", op_sltu(a, b));
        int64_t s1, s2, s3, s4;
        __asm__ volatile("slti %0, %1, -1" : "=r"(s1) : "r"(a));
        __asm__ volatile("sltiu %0, %1, -1" : "=r"(s2) : "r"(a));
        __asm__ volatile("sltiu %0, %1, 1" : "=r"(s3) : "r"(a));
        __asm__ volatile("slti %0, %1, 2047" : "=r"(s4) : "r"(a));
        field("slti-1", s1);
        field("sltiu-1", s2);
        field("seqz", s3);
        field("slti2047", s4);
        out_nl();
    }

    int64_t l[8];
    __asm__ volatile("andi %0, %1, -2048" : "=r"(l[0]) : "r"(-1LL));
    __asm__ volatile("andi %0, %1, 2047" : "=r"(l[1]) : "r"(-1LL));
    __asm__ volatile("ori %0, %1, -2048" : "=r"(l[2]) : "r"(0LL));
    __asm__ volatile("xori %0, %1, -1" : "=r"(l[3]) : "r"(0x0123456789abcdefLL));
    __asm__ volatile("xori %0, %1, 1365" : "=r"(l[4]) : "r"(0xff0LL));
    l[5] = op_and(0x0123456789abcdefLL, (int64_t)0xf0f0f0f0f0f0f0f0ULL);
    l[6] = op_or(0x0123456789abcdefLL, (int64_t)0xf0f0f0f0f0f0f0f0ULL);
    l[7] = op_xor(0x0123456789abcdefLL, (int64_t)0xf0f0f0f0f0f0f0f0ULL);
    for (int i = 0; i < 8; i++) {
        out_str("logic ");
        out_dec(i);
        field("r", l[i]);
        out_nl();
    }
}

static void upper_immediates(void)
{
    int64_t u[5];
    __asm__ volatile("lui %0, 0x80000" : "=r"(u[0]));
    __asm__ volatile("lui %0, 0x7ffff" : "=r"(u[1]));
    __asm__ volatile("lui %0, 0xfffff" : "=r"(u[2]));
    __asm__ volatile("lui %0, 0x12345" : "=r"(u[3]));
    __asm__ volatile("lui %0, 0" : "=r"(u[4]));
    for (int i = 0; i < 5; i++) {
        out_str("lui");
        field("r", u[i]);
        out_nl();
    }
    int64_t a, b, d1, d2, d3;
    __asm__ volatile("1: auipc %0, 0x12345\n\tlla %1, 1b" : "=r"(a), "=r"(b));
    d1 = a - b;
    __asm__ volatile("1: auipc %0, 0x80000\n\tlla %1, 1b" : "=r"(a), "=r"(b));
    d2 = a - b;
    __asm__ volatile("1: auipc %0, 0\n\tlla %1, 1b" : "=r"(a), "=r"(b));
    d3 = a - b;
    out_str("auipc");
    field("d12345", d1);
    field("d80000", d2);
    field("d0", d3);
    out_nl();
    CHECK(d1 == 0x12345000 && d2 == (int64_t)0xffffffff80000000ULL && d3 == 0,
          "auipc");
}

static void grids(void)
{
    for (unsigned k = 0; k < NOPS; k++) {
        uint64_t h = FNV_INIT;
        for (unsigned i = 0; i < NGRID; i++)
            for (unsigned j = 0; j < NGRID; j++)
                h = fnv_word(h, (uint64_t)ops[k].fn(grid[i], grid[j]));
        out_str("grid ");
        out_str(ops[k].name);
        out_ch(' ');
        out_hex64(h);
        out_nl();
    }
}

static volatile int64_t vs[] = {INT64_MAX, INT64_MIN, -1, 3, 1000000007,
                                0x00ff00ff00ff00ffLL};
static volatile uint64_t vu[] = {UINT64_MAX, 0x8000000000000000ULL, 10,
                                 0xdeadbeefcafebabeULL};

static void c_level(void)
{
    uint64_t s = (uint64_t)vs[0] + 1;
    P("c: INT64_MAX+1 (unsigned) = %016lx\n", s);
    int64_t r;
    P("c: add_overflow(INT64_MAX,1) = %d\n",
      __builtin_add_overflow(vs[0], (int64_t)1, &r));
    P("c: sub_overflow(INT64_MIN,1) = %d\n",
      __builtin_sub_overflow(vs[1], (int64_t)1, &r));
    int ov = __builtin_mul_overflow(vs[0], vs[3], &r);
    P("c: mul_overflow(INT64_MAX,3) = %d r=%016lx\n", ov, (uint64_t)r);
    uint64_t u;
    ov = __builtin_mul_overflow(vu[3], vu[2], &u);
    P("c: umul_overflow(0xdeadbeefcafebabe,10) = %d u=%016lx\n", ov, u);
    P("c: div by const: %ld %ld %lu %lu\n", vs[4] / 7, vs[1] / 10,
      vu[0] / 10, vu[3] % 1000);
    unsigned __int128 p = (unsigned __int128)vu[0] * vu[3];
    P("c: u128 mul hi=%016lx lo=%016lx\n", (uint64_t)(p >> 64), (uint64_t)p);
    __int128 q = (__int128)vs[1] * vs[4];
    P("c: s128 mul hi=%016lx lo=%016lx\n", (uint64_t)((unsigned __int128)q >> 64),
      (uint64_t)q);
    unsigned __int128 d = p / vu[2];
    P("c: u128 div hi=%016lx lo=%016lx mod=%lu\n", (uint64_t)(d >> 64),
      (uint64_t)d, (uint64_t)(p % 1000003));
    P("c: clz=%d ctz=%d popcount=%d parity=%d\n", __builtin_clzll(vs[5]),
      __builtin_ctzll(vu[1]), __builtin_popcountll(vu[3]),
      __builtin_parityll(vu[3]));
    P("c: bswap64=%016lx bswap32=%08x bswap16=%04x\n",
      __builtin_bswap64(vu[3]), __builtin_bswap32((uint32_t)vu[3]),
      __builtin_bswap16((uint16_t)vu[3]));
    int32_t i32 = (int32_t)vs[4];
    P("c: int32 wrap %d %d\n", (int32_t)((uint32_t)i32 * 3000u),
      (int32_t)(int8_t)vs[5]);
    P("c: signed >> %ld, unsigned >> %lu, (int)char %d\n", vs[1] >> 63,
      vu[1] >> 63, (int)(signed char)(vs[5] >> 8));
}

/* C's rotates, which RV64GC (no Zbb) computes with two shifts and an or:
 * pydbt's optimizer makes one host rotate of them (passes.rotate), 64-bit
 * ones and the 32-bit form (srliw, slliw, or) with its sign extension; the
 * xor and add forms too.  Checked against a bit-by-bit rotate, every amount,
 * in a loop hot enough for the native tiers. */
static uint64_t rot_ref(uint64_t x, unsigned c, unsigned w)
{
    for (unsigned i = 0; i < c; i++)
        x = (x >> 1) | ((x & 1) << (w - 1));
    return w == 32 ? (uint64_t)(int64_t)(int32_t)(uint32_t)x : x;
}

static void rotates(void)
{
    uint64_t h = 0;
    int bad = 0;
    for (int rep = 0; rep < 40; rep++) {
        for (unsigned k = 0; k < 6; k++) {
            uint64_t x = vu[k % 4] ^ ((uint64_t)vs[k % 6] << k) ^ rep;
            uint32_t y = (uint32_t)x;
            for (unsigned c = 1; c < 64; c++) {
                uint64_t r = (x >> c) | (x << (64 - c));
                uint64_t l = (x << c) ^ (x >> (64 - c));
                bad += r != rot_ref(x, c, 64) || l != rot_ref(x, 64 - c, 64);
                h = h * 31 + r + (l >> 7);
            }
            for (unsigned c = 1; c < 32; c++) {
                int64_t r = (int32_t)((y >> c) | (y << (32 - c)));
                int64_t a = (int32_t)((y << (32 - c)) + (y >> c));
                bad += (uint64_t)r != rot_ref(y, c, 32) || a != r;
                h = h * 31 + (uint64_t)r;
            }
        }
    }
    CHECK(!bad, "rotates: %d wrong\n", bad);
    P("rotates: hash %016lx\n", h);
}

int main(void)
{
    division();
    multiply();
    shifts();
    wforms_and_compare();
    upper_immediates();
    grids();
    c_level();
    rotates();
    out_flush();
    printf("intarith done, failures=%d\n", fail_count);
    return fail_count ? 1 : 42;
}
