/* malloc stress: many sizes (0 to a few KiB) in a pseudo-random
 * allocate/free pattern with every block filled and checked, realloc
 * growing and shrinking (contents kept), calloc zeroing, aligned
 * allocations, large blocks served by mmap (and realloc of those, i.e.
 * mremap), brk growth through many small blocks, free(NULL).  Only
 * checksums, sizes and booleans are printed, never addresses.
 * Exit status 0. */
#include "common.h"
#include <malloc.h>
#include <stdlib.h>

static uint64_t lcg_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 31);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31))
            return 0;
    return 1;
}

/* sparse fill/check for big blocks: every 4 KiB page plus both ends */
static void fill_sparse(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 4093)
        p[i] = (unsigned char)(seed ^ (i >> 12));
    p[n - 1] = (unsigned char)seed;
}
static int check_pages(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 4093)
        if (p[i] != (unsigned char)(seed ^ (i >> 12)))
            return 0;
    return 1;
}
static int check_sparse(const unsigned char *p, size_t n, unsigned seed)
{
    return check_pages(p, n - 1, seed) && p[n - 1] == (unsigned char)seed;
}

#define SLOTS 64

int main(void)
{
    static unsigned char *blk[SLOTS];
    static size_t len[SLOTS];
    static unsigned seed[SLOTS];
    uint64_t allocs = 0, frees = 0, bytes = 0, bad = 0;

    for (int round = 0; round < 800; round++) {
        int s = (int)(rnd() % SLOTS);
        if (blk[s]) {
            if (!check(blk[s], len[s], seed[s]))
                bad++;
            if (rnd() % 4 == 0) {
                /* realloc instead of free */
                size_t nl = rnd() % 1500;
                unsigned char *q = realloc(blk[s], nl ? nl : 1);
                size_t keep = nl < len[s] ? nl : len[s];
                if (!q || !check(q, keep, seed[s]))
                    bad++;
                blk[s] = q;
                len[s] = nl ? nl : 1;
                fill(q, len[s], seed[s]);
                continue;
            }
            free(blk[s]);
            blk[s] = NULL;
            frees++;
        } else {
            size_t n;
            switch (rnd() % 4) {
            case 0: n = rnd() % 16; break;
            case 1: n = rnd() % 256; break;
            case 2: n = rnd() % 1024; break;
            default: n = 1u << (rnd() % 12); break;
            }
            blk[s] = malloc(n);
            if (!blk[s]) {
                bad++;
                continue;
            }
            len[s] = n;
            seed[s] = rnd();
            fill(blk[s], n, seed[s]);
            allocs++;
            bytes += n;
        }
    }
    for (int s = 0; s < SLOTS; s++)
        if (blk[s]) {
            if (!check(blk[s], len[s], seed[s]))
                bad++;
            free(blk[s]);
            blk[s] = NULL;
            frees++;
        }
    P("random phase: allocs=%lu frees=%lu bytes=%lu bad=%lu\n",
      (unsigned long)allocs, (unsigned long)frees, (unsigned long)bytes,
      (unsigned long)bad);

    /* growing realloc chain keeps the prefix */
    unsigned char *p = NULL;
    size_t n = 0;
    int ok = 1;
    for (int i = 1; i <= 40; i++) {
        size_t nn = (size_t)i * 97;
        p = realloc(p, nn);
        if (n && !check(p, n, 7))
            ok = 0;
        fill(p, nn, 7);
        n = nn;
    }
    for (int i = 40; i > 0; i -= 3) {
        size_t nn = (size_t)i * 13;
        p = realloc(p, nn);
        if (!check(p, nn, 7))
            ok = 0;
        n = nn;
    }
    free(p);
    P("realloc chain ok=%d\n", ok);

    /* calloc zeroes, also after a free of dirty memory of that size */
    unsigned char *dirty = malloc(1000);
    memset(dirty, 0xa5, 1000);
    free(dirty);
    unsigned char *z = calloc(250, 4);
    int zero = 1;
    for (int i = 0; i < 1000; i++)
        if (z[i])
            zero = 0;
    free(z);
    z = calloc(0, 10);
    P("calloc zero=%d calloc(0)!=NULL=%d\n", zero, z != NULL);
    free(z);
    free(NULL);

    /* alignment */
    int aligned = 1;
    void *ap[6];
    static const size_t aligns[] = {16, 64, 256, 4096, 65536, 8};
    for (int i = 0; i < 6; i++) {
        if (posix_memalign(&ap[i], aligns[i], 100 + i) != 0)
            aligned = 0;
        else if ((uintptr_t)ap[i] % aligns[i])
            aligned = 0;
    }
    void *am = memalign(128, 10), *al = aligned_alloc(32, 64);
    if ((uintptr_t)am % 128 || (uintptr_t)al % 32)
        aligned = 0;
    for (int i = 0; i < 6; i++)
        free(ap[i]);
    free(am);
    free(al);
    void *dummy;
    P("aligned ok=%d bad alignment rc=%d\n", aligned,
      posix_memalign(&dummy, 3, 16));
    int plain_aligned = 1;
    for (int i = 1; i < 200; i += 7) {
        void *q = malloc((size_t)i);
        if ((uintptr_t)q % 16)
            plain_aligned = 0;
        if (malloc_usable_size(q) < (size_t)i)
            plain_aligned = 0;
        free(q);
    }
    P("malloc results 16-aligned and usable>=size: %d\n", plain_aligned);

    /* large blocks: above the mmap threshold */
    static const size_t big[] = {200 * 1024, 1 << 20, 3 * 1024 * 1024 + 17,
                                 8 << 20};
    unsigned char *bp[4];
    ok = 1;
    for (int i = 0; i < 4; i++) {
        bp[i] = malloc(big[i]);
        if (!bp[i]) {
            ok = 0;
            continue;
        }
        fill_sparse(bp[i], big[i], 40 + i);
    }
    for (int i = 0; i < 4; i++)
        if (bp[i] && !check_sparse(bp[i], big[i], 40 + i))
            ok = 0;
    /* realloc of an mmapped block, up and down */
    bp[1] = realloc(bp[1], 5 << 20);
    if (!bp[1] || !check_pages(bp[1], (1 << 20) - 1, 41))
        ok = 0;
    fill_sparse(bp[1], 5 << 20, 99);
    bp[1] = realloc(bp[1], 300 * 1024);
    if (!bp[1] || !check_pages(bp[1], 300 * 1024, 99))
        ok = 0;
    for (int i = 0; i < 4; i++)
        free(bp[i]);
    unsigned char *bz = calloc(1, 2 << 20);
    for (size_t i = 0; i < (2u << 20); i += 4096)
        if (bz[i])
            ok = 0;
    free(bz);
    P("large blocks ok=%d\n", ok);

    /* many small blocks: the heap grows with brk */
    void **many = malloc(1000 * sizeof *many);
    uint64_t sum = 0;
    for (int i = 0; i < 1000; i++) {
        many[i] = malloc(48);
        memset(many[i], i & 0xff, 48);
    }
    for (int i = 0; i < 1000; i += 2)
        free(many[i]);
    for (int i = 1; i < 1000; i += 2) {
        sum += ((unsigned char *)many[i])[47];
        free(many[i]);
    }
    free(many);
    P("small blocks sum=%lu\n", (unsigned long)sum);

    /* a failing allocation */
    void *huge = malloc((size_t)1 << 62);
    P("malloc(2^62) == NULL: %d\n", huge == NULL);
    out_flush();
    return bad ? 1 : 0;
}
