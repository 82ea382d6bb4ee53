/* Quicksort (median-of-three, insertion sort below 16 elements, recursion
 * on the smaller side) of an LCG-generated array: compares, swaps,
 * unpredictable branches, calls.  Size = number of elements. */
#include "common.h"

static void insertion_sort(uint32_t *a, long lo, long hi)
{
    for (long i = lo + 1; i <= hi; i++) {
        uint32_t v = a[i];
        long j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static inline void swap(uint32_t *a, long i, long j)
{
    uint32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static void quicksort(uint32_t *a, long lo, long hi)
{
    while (hi - lo >= 16) {
        long mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        uint32_t pivot = a[mid];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(a, i, j);
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 20000);
    uint32_t *a = malloc(sizeof(uint32_t) * (size_t)(n + 1));
    if (!a)
        return 1;
    uint64_t s = 12345;
    for (long i = 0; i < n; i++)
        a[i] = lcg_next(&s) % 1000003u;
    if (n > 0)
        quicksort(a, 0, n - 1);
    uint64_t h = 0;
    for (long i = 0; i < n; i++) {
        if (i > 0 && a[i - 1] > a[i]) {
            printf("quicksort %ld NOT SORTED at %ld\n", n, i);
            return 1;
        }
        h = mix64(h, a[i]);
    }
    bench_result("quicksort", n, h);
    free(a);
    return 0;
}
