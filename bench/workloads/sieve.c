/* Sieve of Eratosthenes: byte stores with strides, a scan.
 * Size = the limit; counts and sums the primes below it. */
#include "common.h"

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 100000);
    unsigned char *composite = calloc((size_t)n + 1, 1);
    if (!composite)
        return 1;
    for (long i = 2; i * i <= n; i++)
        if (!composite[i])
            for (long j = i * i; j <= n; j += i)
                composite[j] = 1;
    uint64_t count = 0, sum = 0, h = 0;
    for (long i = 2; i <= n; i++)
        if (!composite[i]) {
            count++;
            sum += (uint64_t)i;
            h = mix64(h, (uint64_t)i);
        }
    free(composite);
    bench_result("sieve", n, (count << 40) ^ sum ^ h);
    return 0;
}
