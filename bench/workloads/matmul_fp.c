/* Double-precision matrix multiply, C = A x B (ikj order): fld, fmul/fadd
 * (or fmadd when the compiler contracts), fsd, int<->double conversions.
 * The elements are small multiples of 1/8, so every product and sum is
 * exact: the result is the same with or without fused multiply-add, on any
 * IEEE-754 machine (the riscv64 and x86_64 builds print the same line).
 * Size = n for n x n matrices. */
#include "common.h"

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 48);
    double *a = malloc(sizeof(double) * (size_t)(n * n + 1));
    double *b = malloc(sizeof(double) * (size_t)(n * n + 1));
    double *c = calloc((size_t)(n * n + 1), sizeof(double));
    if (!a || !b || !c)
        return 1;
    uint64_t s = 3;
    for (long i = 0; i < n * n; i++) {
        a[i] = ((int)(lcg_next(&s) % 257) - 128) * 0.125;
        b[i] = ((int)(lcg_next(&s) % 257) - 128) * 0.125;
    }
    for (long i = 0; i < n; i++)
        for (long k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = b + k * n;
            double *crow = c + i * n;
            for (long j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
    uint64_t h = 0;
    double trace = 0.0;
    for (long i = 0; i < n * n; i++)
        h = mix64(h, (uint64_t)(int64_t)(c[i] * 64.0));
    for (long i = 0; i < n; i++)
        trace += c[i * n + i];
    printf("matmul_fp %ld %016llx %.3f\n", n, (unsigned long long)h, trace);
    free(a); free(b); free(c);
    return 0;
}
