/* Accesses that native code's inline checks send the slow way, in hot loops:
 * misaligned loads and stores (ld/sd/lw/sw/lh/sh at odd addresses, made with
 * inline asm: the compiler never emits them), words across a page boundary,
 * and stores into a page that holds code being run (a function in an RWX
 * mapping called every round while data beside it is written; not with the
 * argument "misaligned").  Checksums of what was read; exit status 0. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t ld_at(const unsigned char *p)
{
    uint64_t v;
    __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}

static void sd_at(unsigned char *p, uint64_t v)
{
    __asm__ volatile("sd %0, 0(%1)" : : "r"(v), "r"(p) : "memory");
}

static uint64_t lw_at(const unsigned char *p)
{
    int64_t v;
    __asm__ volatile("lw %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
    return (uint64_t)v;
}

static void sh_at(unsigned char *p, uint64_t v)
{
    __asm__ volatile("sh %0, 0(%1)" : : "r"(v), "r"(p) : "memory");
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

int main(int argc, char **argv)
{
    /* two pages: data at every misalignment, and words across the boundary */
    unsigned char *buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return 1;
    for (int i = 0; i < 8192; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    uint64_t h = 0;
    for (int round = 0; round < 3000; round++) {
        int off = 1 + round % 7;
        unsigned char *p = buf + 64 * (round % 60) + off;
        uint64_t v = ld_at(p);
        sd_at(p + 16, v + (uint64_t)round);
        h = mix(h, v);
        h = mix(h, lw_at(p + 3));
        sh_at(p + 5, h);
        unsigned char *x = buf + 4096 - off;           /* across the page boundary */
        h = mix(h, ld_at(x));
        sd_at(x - 8 + (round & 3), h);
    }
    printf("misaligned: %016llx\n", (unsigned long long)h);
    if (argc > 1 && strcmp(argv[1], "misaligned") == 0)
        return 0;

    /* a function in an RWX page, data stored beside it every round */
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    code[0] = 0x00150513;             /* addi a0, a0, 1 */
    code[1] = 0x00008067;             /* ret */
    __builtin___clear_cache((char *)code, (char *)(code + 2));
    long (*inc)(long) = (long (*)(long))code;
    volatile uint64_t *data = (volatile uint64_t *)(code + 512);
    long acc = 0;
    for (int round = 0; round < 3000; round++) {
        data[round % 64] = (uint64_t)round * 3;
        acc = inc(acc) + (long)data[(round + 1) % 64];
    }
    printf("code page: %ld\n", acc);
    return 0;
}
