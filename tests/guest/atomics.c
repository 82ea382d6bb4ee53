/* A extension: lr/sc loops (success, failure without a reservation, after
 * another sc, at another address), every AMO in .w and .d with the aq/rl
 * variants, printing rd (the old value, sign-extended for .w) and memory
 * after; then the __atomic builtins on 1, 2, 4 and 8 byte objects (subword
 * ones become masked lr/sc loops).  Exit status 0. */
#include "common.h"

static uint64_t mem64[4] __attribute__((aligned(16)));
static uint32_t mem32[4] __attribute__((aligned(16)));

#define AMO_W(fn, insn)                                                    \
    static uint64_t fn(uint32_t *p, uint64_t v)                            \
    {                                                                      \
        uint64_t r;                                                        \
        __asm__ volatile(insn " %0, %2, (%1)"                              \
                         : "=&r"(r)                                        \
                         : "r"(p), "r"(v)                                  \
                         : "memory");                                      \
        return r;                                                          \
    }
#define AMO_D(fn, insn)                                                    \
    static uint64_t fn(uint64_t *p, uint64_t v)                            \
    {                                                                      \
        uint64_t r;                                                        \
        __asm__ volatile(insn " %0, %2, (%1)"                              \
                         : "=&r"(r)                                        \
                         : "r"(p), "r"(v)                                  \
                         : "memory");                                      \
        return r;                                                          \
    }

AMO_W(swap_w, "amoswap.w") AMO_W(add_w, "amoadd.w") AMO_W(xor_w, "amoxor.w")
AMO_W(and_w, "amoand.w") AMO_W(or_w, "amoor.w") AMO_W(min_w, "amomin.w")
AMO_W(max_w, "amomax.w") AMO_W(minu_w, "amominu.w")
AMO_W(maxu_w, "amomaxu.w") AMO_W(add_w_aq, "amoadd.w.aq")
AMO_W(add_w_rl, "amoadd.w.rl") AMO_W(swap_w_aqrl, "amoswap.w.aqrl")
AMO_D(swap_d, "amoswap.d") AMO_D(add_d, "amoadd.d") AMO_D(xor_d, "amoxor.d")
AMO_D(and_d, "amoand.d") AMO_D(or_d, "amoor.d") AMO_D(min_d, "amomin.d")
AMO_D(max_d, "amomax.d") AMO_D(minu_d, "amominu.d")
AMO_D(maxu_d, "amomaxu.d") AMO_D(add_d_aq, "amoadd.d.aq")
AMO_D(add_d_rl, "amoadd.d.rl") AMO_D(swap_d_aqrl, "amoswap.d.aqrl")

static void amos(void)
{
    static const struct {
        const char *name;
        uint64_t (*fn)(uint32_t *, uint64_t);
    } w[] = {
        {"amoswap.w", swap_w},   {"amoadd.w", add_w},
        {"amoxor.w", xor_w},     {"amoand.w", and_w},
        {"amoor.w", or_w},       {"amomin.w", min_w},
        {"amomax.w", max_w},     {"amominu.w", minu_w},
        {"amomaxu.w", maxu_w},   {"amoadd.w.aq", add_w_aq},
        {"amoadd.w.rl", add_w_rl}, {"amoswap.w.aqrl", swap_w_aqrl},
    };
    static const struct {
        const char *name;
        uint64_t (*fn)(uint64_t *, uint64_t);
    } d[] = {
        {"amoswap.d", swap_d},   {"amoadd.d", add_d},
        {"amoxor.d", xor_d},     {"amoand.d", and_d},
        {"amoor.d", or_d},       {"amomin.d", min_d},
        {"amomax.d", max_d},     {"amominu.d", minu_d},
        {"amomaxu.d", maxu_d},   {"amoadd.d.aq", add_d_aq},
        {"amoadd.d.rl", add_d_rl}, {"amoswap.d.aqrl", swap_d_aqrl},
    };
    static const uint32_t m32[] = {0x80000001, 0x7fffffff, 0x00000005,
                                   0xffffffff};
    /* the upper half of the .w operand must be ignored */
    static const uint64_t v32[] = {0x0000000000000003ULL, 0xffffffff80000000ULL,
                                   0x12345678fffffffeULL, 0x000000007fffffffULL};
    for (unsigned k = 0; k < sizeof w / sizeof w[0]; k++)
        for (unsigned i = 0; i < 4; i++) {
            mem32[0] = 0x11111111;
            mem32[1] = m32[i];
            mem32[2] = 0x22222222;
            uint64_t old = w[k].fn(&mem32[1], v32[i]);
            out_str(w[k].name);
            out_str(" mem=");
            out_hex32(m32[i]);
            out_str(" v=");
            out_hex64(v32[i]);
            out_str(" -> rd=");
            out_hex64(old);
            out_str(" mem=");
            out_hex32(mem32[1]);
            out_nl();
            CHECK(mem32[0] == 0x11111111 && mem32[2] == 0x22222222,
                  "%s touched neighbours", w[k].name);
        }
    static const uint64_t m64[] = {0x8000000000000001ULL, 0x7fffffffffffffffULL,
                                   5, 0xffffffff00000000ULL};
    static const uint64_t v64[] = {3, 0x8000000000000000ULL,
                                   0x00000000ffffffffULL, 0xfffffffffffffffeULL};
    for (unsigned k = 0; k < sizeof d / sizeof d[0]; k++)
        for (unsigned i = 0; i < 4; i++) {
            mem64[0] = 0x1111111111111111ULL;
            mem64[1] = m64[i];
            mem64[2] = 0x2222222222222222ULL;
            uint64_t old = d[k].fn(&mem64[1], v64[i]);
            out_str(d[k].name);
            out_str(" mem=");
            out_hex64(m64[i]);
            out_str(" v=");
            out_hex64(v64[i]);
            out_str(" -> rd=");
            out_hex64(old);
            out_str(" mem=");
            out_hex64(mem64[1]);
            out_nl();
            CHECK(mem64[0] == 0x1111111111111111ULL &&
                      mem64[2] == 0x2222222222222222ULL,
                  "%s touched neighbours", d[k].name);
        }
    /* rd = x0: memory still updated */
    mem64[0] = 10;
    __asm__ volatile("amoadd.d zero, %1, (%0)" ::"r"(&mem64[0]), "r"(5L)
                     : "memory");
    out_str("amoadd.d rd=x0 mem=");
    out_dec((int64_t)mem64[0]);
    out_nl();
}

static void lrsc(void)
{
    uint64_t r, sc1, sc2, loaded;
    /* a counter incremented by an lr/sc loop */
    mem64[0] = 0;
    for (int i = 0; i < 100; i++)
        __asm__ volatile("1: lr.d %0, (%1)\n\t"
                         "addi %0, %0, 3\n\t"
                         "sc.d %0, %0, (%1)\n\t"
                         "bnez %0, 1b"
                         : "=&r"(r)
                         : "r"(&mem64[0])
                         : "memory");
    P("lr.d/sc.d loop: %lu\n", (unsigned long)mem64[0]);

    mem32[0] = 0xfffffff0;
    for (int i = 0; i < 20; i++)
        __asm__ volatile("1: lr.w.aq %0, (%1)\n\t"
                         "addiw %0, %0, 1\n\t"
                         "sc.w.rl %0, %0, (%1)\n\t"
                         "bnez %0, 1b"
                         : "=&r"(r)
                         : "r"(&mem32[0])
                         : "memory");
    P("lr.w/sc.w loop: %08x\n", mem32[0]);

    /* lr.w sign-extends */
    mem32[1] = 0x80000000;
    __asm__ volatile("lr.w %0, (%1)\n\tsc.w zero, %0, (%1)"
                     : "=&r"(loaded)
                     : "r"(&mem32[1])
                     : "memory");
    P("lr.w of 0x80000000 -> %016lx\n", (unsigned long)loaded);

    /* success then a second sc without a new lr must fail */
    mem64[1] = 7;
    __asm__ volatile("lr.d %0, (%3)\n\t"
                     "sc.d %1, %4, (%3)\n\t"
                     "sc.d %2, %5, (%3)"
                     : "=&r"(loaded), "=&r"(sc1), "=&r"(sc2)
                     : "r"(&mem64[1]), "r"(8L), "r"(9L)
                     : "memory");
    P("lr=%lu sc1 ok=%d sc2 failed=%d mem=%lu\n", (unsigned long)loaded,
      sc1 == 0, sc2 != 0, (unsigned long)mem64[1]);

    /* sc to an address other than the reserved one fails */
    mem64[2] = 100;
    mem64[3] = 200;
    __asm__ volatile("lr.d %0, (%2)\n\t"
                     "sc.d %1, %4, (%3)"
                     : "=&r"(loaded), "=&r"(sc1)
                     : "r"(&mem64[2]), "r"(&mem64[3]), "r"(300L)
                     : "memory");
    P("sc other address failed=%d mem2=%lu mem3=%lu\n", sc1 != 0,
      (unsigned long)mem64[2], (unsigned long)mem64[3]);

    /* sc.w after lr.w on the same word succeeds and stores 32 bits */
    mem32[2] = 1;
    mem32[3] = 0xabababab;
    __asm__ volatile("lr.w %0, (%2)\n\t"
                     "sc.w %1, %3, (%2)"
                     : "=&r"(loaded), "=&r"(sc1)
                     : "r"(&mem32[2]), "r"(0x123456789L)
                     : "memory");
    P("sc.w ok=%d mem=%08x next=%08x\n", sc1 == 0, mem32[2], mem32[3]);
}

static void builtins(void)
{
    static uint8_t b[4] = {0xf0, 0x11, 0x22, 0x33};
    static uint16_t h[4] = {0xfff0, 0x1111, 0x2222, 0x3333};
    static uint32_t w = 0x7ffffff0;
    static uint64_t q = 0xfffffffffffffff0ULL;
    uint8_t ob;
    uint16_t oh;
    uint32_t ow;
    uint64_t oq;

    ob = __atomic_fetch_add(&b[1], 0xf0, __ATOMIC_SEQ_CST);
    P("u8 fetch_add old=%02x new=%02x neighbours %02x %02x\n", ob, b[1], b[0],
      b[2]);
    ob = __atomic_fetch_or(&b[2], 0x81, __ATOMIC_RELAXED);
    P("u8 fetch_or old=%02x new=%02x\n", ob, b[2]);
    ob = __atomic_fetch_nand(&b[3], 0x0f, __ATOMIC_ACQ_REL);
    P("u8 fetch_nand old=%02x new=%02x\n", ob, b[3]);
    ob = __atomic_exchange_n(&b[0], 0x5a, __ATOMIC_SEQ_CST);
    P("u8 exchange old=%02x new=%02x\n", ob, b[0]);
    uint8_t eb = 0x5a;
    int ok = __atomic_compare_exchange_n(&b[0], &eb, 0xa5, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
    P("u8 cas ok=%d val=%02x\n", ok, b[0]);
    eb = 0x00;
    ok = __atomic_compare_exchange_n(&b[0], &eb, 0x11, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
    P("u8 cas fail ok=%d expected now=%02x val=%02x\n", ok, eb, b[0]);

    oh = __atomic_fetch_sub(&h[1], 0x2222, __ATOMIC_SEQ_CST);
    P("u16 fetch_sub old=%04x new=%04x neighbours %04x %04x\n", oh, h[1], h[0],
      h[2]);
    oh = __atomic_fetch_xor(&h[3], 0xffff, __ATOMIC_SEQ_CST);
    P("u16 fetch_xor old=%04x new=%04x\n", oh, h[3]);
    oh = __atomic_add_fetch(&h[0], 0x20, __ATOMIC_SEQ_CST);
    P("u16 add_fetch new=%04x\n", oh);
    uint16_t eh = 0x10;
    ok = __atomic_compare_exchange_n(&h[0], &eh, 0xbeef, 1, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED);
    while (!ok && eh == 0x10)
        ok = __atomic_compare_exchange_n(&h[0], &eh, 0xbeef, 1,
                                         __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    P("u16 weak cas ok=%d val=%04x\n", ok, h[0]);

    ow = __atomic_fetch_add(&w, 0x20, __ATOMIC_SEQ_CST);
    P("u32 fetch_add old=%08x new=%08x\n", ow, w);
    ow = __atomic_fetch_and(&w, 0xf000000f, __ATOMIC_SEQ_CST);
    P("u32 fetch_and old=%08x new=%08x\n", ow, w);
    int32_t sw = -5;
    int32_t os = __atomic_fetch_sub(&sw, 10, __ATOMIC_SEQ_CST);
    P("s32 fetch_sub old=%d new=%d\n", os, sw);
    uint32_t ew = 0x80000000;
    ok = __atomic_compare_exchange_n(&w, &ew, 0x12345678, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
    P("u32 cas ok=%d val=%08x\n", ok, w);
    ow = __atomic_load_n(&w, __ATOMIC_ACQUIRE);
    __atomic_store_n(&w, ow + 1, __ATOMIC_RELEASE);
    P("u32 load/store %08x\n", w);

    oq = __atomic_fetch_add(&q, 0x20, __ATOMIC_SEQ_CST);
    P("u64 fetch_add old=%016lx new=%016lx\n", (unsigned long)oq,
      (unsigned long)q);
    oq = __atomic_exchange_n(&q, 0x8000000000000000ULL, __ATOMIC_SEQ_CST);
    P("u64 exchange old=%016lx new=%016lx\n", (unsigned long)oq,
      (unsigned long)q);
    uint64_t eq = 0x8000000000000000ULL;
    ok = __atomic_compare_exchange_n(&q, &eq, 1, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
    P("u64 cas ok=%d val=%016lx\n", ok, (unsigned long)q);
    /* C11 style max loop on top of compare-exchange */
    int64_t sq = 3, cur = __atomic_load_n(&sq, __ATOMIC_RELAXED);
    while (cur < 40 && !__atomic_compare_exchange_n(&sq, &cur, 40, 1,
                                                    __ATOMIC_SEQ_CST,
                                                    __ATOMIC_RELAXED))
        ;
    P("s64 cas-max -> %ld\n", (long)sq);
    P("lock free: 1=%d 2=%d 4=%d 8=%d\n", __atomic_always_lock_free(1, 0),
      __atomic_always_lock_free(2, 0), __atomic_always_lock_free(4, 0),
      __atomic_always_lock_free(8, 0));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int flag = 0;
    int was = __atomic_test_and_set(&flag, __ATOMIC_SEQ_CST);
    int was2 = __atomic_test_and_set(&flag, __ATOMIC_SEQ_CST);
    P("test_and_set %d %d\n", was, was2);
}

int main(void)
{
    amos();
    lrsc();
    builtins();
    out_flush();
    printf("atomics done, failures=%d\n", fail_count);
    return fail_count ? 1 : 0;
}
