/* Integer matrix multiply, C = A x B with 64-bit accumulation over 32-bit
 * elements (ikj loop order): loads, multiply-adds, stores.  Size = n for
 * n x n matrices. */
#include "common.h"

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 64);
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(n * n + 1));
    int32_t *b = malloc(sizeof(int32_t) * (size_t)(n * n + 1));
    int64_t *c = calloc((size_t)(n * n + 1), sizeof(int64_t));
    if (!a || !b || !c)
        return 1;
    uint64_t s = 1;
    for (long i = 0; i < n * n; i++) {
        a[i] = (int32_t)(lcg_next(&s) % 2001) - 1000;
        b[i] = (int32_t)(lcg_next(&s) % 2001) - 1000;
    }
    for (long i = 0; i < n; i++)
        for (long k = 0; k < n; k++) {
            int64_t aik = a[i * n + k];
            const int32_t *brow = b + k * n;
            int64_t *crow = c + i * n;
            for (long j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
    uint64_t h = 0;
    for (long i = 0; i < n * n; i++)
        h = mix64(h, (uint64_t)c[i]);
    bench_result("matmul_int", n, h);
    free(a); free(b); free(c);
    return 0;
}
