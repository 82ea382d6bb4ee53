/* Table-driven CRC-32 (reflected, polynomial 0xEDB88320, as zlib's crc32)
 * of generated data: byte loads, a table lookup per byte.  The table is
 * computed at start.  Size = bytes. */
#include "common.h"

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32(uint32_t crc, const unsigned char *p, size_t len)
{
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 100000);
    unsigned char *data = malloc((size_t)n + 1);
    if (!data)
        return 1;
    uint64_t s = 7;
    for (long i = 0; i < n; i++)
        data[i] = (unsigned char)lcg_next(&s);
    make_table();
    uint32_t whole = crc32(0, data, (size_t)n);
    /* and incrementally in uneven pieces: must give the same value */
    uint32_t inc = 0;
    long off = 0, step = 1;
    while (off < n) {
        long len = step < n - off ? step : n - off;
        inc = crc32(inc, data + off, (size_t)len);
        off += len;
        step = step * 3 + 1;
    }
    free(data);
    if (inc != whole) {
        printf("crc32 %ld MISMATCH %08x %08x\n", n, whole, inc);
        return 1;
    }
    printf("crc32 %ld %08x\n", n, whole);
    return 0;
}
