/* One hot loop (a superblock that loops on itself), N iterations (argv[1]):
   the tiering tests run it long enough for a tier change to happen while the
   loop is running.  With argv[2], a second loop of other code runs M
   iterations after it (a second hot region).  Prints a checksum that depends
   on every iteration. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    long m = argc > 2 ? atol(argv[2]) : 0;
    unsigned long x = 88172645463325252UL, s = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s += x & 0xff;
    }
    unsigned int h = 2166136261u;
    for (long i = 0; i < m; i++) {
        h = (h ^ (unsigned int)(i & 0xff)) * 16777619u;
        h += h >> 11;
    }
    if (m)
        printf("%lu %lu %u\n", x, s, h);
    else
        printf("%lu %lu\n", x, s);
    return 0;
}
