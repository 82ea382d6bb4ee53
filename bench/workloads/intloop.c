/* Integer ALU in a tight loop: xorshift, shifts, rotates, 32-bit (W) ops,
 * multiplies and a data-dependent branch.  Size = iterations. */
#include "common.h"

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 100000);
    uint64_t x = 0x9E3779B97F4A7C15ULL, acc = 1;
    uint32_t w = 12345;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc += (x & 0xff) * (uint64_t)i;
        acc = (acc << 3 | acc >> 61) ^ (x >> 32);
        w = w * 1103515245u + (uint32_t)x;
        w ^= w >> 11;
        if (x & 1)
            acc -= (uint64_t)i | w;
        else
            acc |= 3;
    }
    bench_result("intloop", n, acc ^ ((uint64_t)w << 32));
    return 0;
}
