/* One hot loop (a superblock that loops on itself), N iterations (argv[1]):
   the tiering tests run it long enough for a tier change to happen while the
   loop is running.  Prints a checksum that depends on every iteration. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    unsigned long x = 88172645463325252UL, s = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s += x & 0xff;
    }
    printf("%lu %lu\n", x, s);
    return 0;
}
