/* Self-modifying code: machine code written into an RWX mmap buffer,
 * called, then the immediate patched and called again after fence.i (the
 * second call must return the new value); the same through
 * __builtin___clear_cache; a W^X variant with mprotect; a loop that patches
 * and calls a function many times; patching one instruction in the middle
 * of a longer block; and code copied into a fresh mmap after munmap of the
 * old one.  Exit status 0. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef long (*fn0)(void);
typedef long (*fn1)(long);

/* addi a0, x0, imm  (li a0, imm for -2048..2047) */
static uint32_t li_a0(int imm)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (10u << 7) | 0x13u;
}
/* addi a0, a0, imm */
static uint32_t addi_a0(int imm)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (10u << 15) | (10u << 7) | 0x13u;
}
/* slli a0, a0, sh */
static uint32_t slli_a0(int sh)
{
    return ((uint32_t)sh << 20) | (10u << 15) | (1u << 12) | (10u << 7) | 0x13u;
}
#define RET 0x00008067u /* jalr x0, 0(ra) */

static void fence_i(void)
{
    __asm__ volatile("fence.i" ::: "memory");
}

int main(void)
{
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        printf("mmap RWX failed\n");
        return 1;
    }
    fn0 f = (fn0)(uintptr_t)code;

    /* 1. write, fence.i, call; patch, fence.i, call */
    code[0] = li_a0(42);
    code[1] = RET;
    fence_i();
    long r1 = f();
    code[0] = li_a0(1234);
    fence_i();
    long r2 = f();
    printf("fence.i: first=%ld second=%ld\n", r1, r2);

    /* 2. same with __builtin___clear_cache */
    code[0] = li_a0(-7);
    __builtin___clear_cache((char *)code, (char *)(code + 2));
    long r3 = f();
    code[0] = li_a0(2047);
    __builtin___clear_cache((char *)code, (char *)(code + 2));
    long r4 = f();
    printf("clear_cache: first=%ld second=%ld\n", r3, r4);

    /* 3. a loop that patches and calls 200 times */
    long sum = 0;
    for (int i = 0; i < 200; i++) {
        code[0] = li_a0(i * 3 - 100);
        fence_i();
        sum += f();
    }
    printf("patch loop sum=%ld (expect %ld)\n", sum, 200L * (-100) + 3L * 199 * 200 / 2);

    /* 4. a longer block: x -> ((x + a) << s) + b, patching the middle */
    uint32_t *g = code + 16;
    fn1 h = (fn1)(uintptr_t)g;
    g[0] = addi_a0(5);
    g[1] = slli_a0(2);
    g[2] = addi_a0(1);
    g[3] = RET;
    fence_i();
    long h1 = h(10);
    g[1] = slli_a0(4);
    fence_i();
    long h2 = h(10);
    g[2] = addi_a0(-1000);
    fence_i();
    long h3 = h(10);
    printf("block patch: %ld %ld %ld\n", h1, h2, h3);

    /* 5. code that calls the patched function from inside generated code is
     * not needed; instead overwrite the first instruction with a jump to a
     * second copy further down the page */
    uint32_t *c2 = code + 64;
    c2[0] = li_a0(99);
    c2[1] = RET;
    /* jal x0, offset (offset = (c2 - code) * 4 = 256) */
    uint32_t off = 256;
    code[0] = ((off >> 20 & 1) << 31) | ((off >> 1 & 0x3ff) << 21) |
              ((off >> 11 & 1) << 20) | ((off >> 12 & 0xff) << 12) | 0x6f;
    fence_i();
    printf("patched jump: %ld\n", f());

    /* 6. W^X: RW to write, RX to run, RW again to patch */
    munmap(code, 4096);
    uint32_t *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wx[0] = li_a0(11);
    wx[1] = RET;
    mprotect(wx, 4096, PROT_READ | PROT_EXEC);
    fence_i();
    long w1 = ((fn0)(uintptr_t)wx)();
    mprotect(wx, 4096, PROT_READ | PROT_WRITE);
    wx[0] = li_a0(22);
    mprotect(wx, 4096, PROT_READ | PROT_EXEC);
    fence_i();
    long w2 = ((fn0)(uintptr_t)wx)();
    printf("mprotect W^X: first=%ld second=%ld\n", w1, w2);

    /* 7. unmap and map again (likely at the same address) with new code */
    munmap(wx, 4096);
    uint32_t *again = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    again[0] = li_a0(77);
    again[1] = RET;
    fence_i();
    printf("remapped: %ld\n", ((fn0)(uintptr_t)again)());
    /* 8. compressed code: c.li a0, 13 ; c.jr ra */
    uint16_t *cc = (uint16_t *)(again + 8);
    cc[0] = 0x4535; /* c.li a0, 13 */
    cc[1] = 0x8082; /* c.jr ra (ret) */
    fence_i();
    long k1 = ((fn0)(uintptr_t)cc)();
    cc[0] = 0x4501 | (5 << 2); /* c.li a0, 5 */
    fence_i();
    long k2 = ((fn0)(uintptr_t)cc)();
    printf("compressed: %ld %ld\n", k1, k2);
    munmap(again, 4096);
    return 0;
}
