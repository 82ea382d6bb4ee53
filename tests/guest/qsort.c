/* qsort and bsearch: ints (with duplicates and extremes), strings,
 * structs by two keys (also checking the result is a sorted permutation),
 * plus a small hand-written merge sort for comparison.  Uses a fixed LCG,
 * so the data is the same in every run.  Exit status 0. */
#include "common.h"
#include <limits.h>
#include <stdlib.h>

static uint64_t lcg_state = 12345;
static uint32_t rnd(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_int_desc(const void *a, const void *b) { return cmp_int(b, a); }
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct rec {
    char name[12];
    int age;
    double score;
};
static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->age != y->age)
        return x->age - y->age;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1; /* score descending */
    return strcmp(x->name, y->name);
}

static void merge_sort(int *v, int *tmp, int n)
{
    if (n < 2)
        return;
    int h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = v[i] <= v[j] ? v[i++] : v[j++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

#define N 1000

int main(void)
{
    static int a[N], b[N], tmp[N];
    uint64_t sum_after = 0;
    for (int i = 0; i < N; i++) {
        a[i] = (int)(rnd() % 1000) - 500;
    }
    a[7] = INT_MAX;
    a[8] = INT_MIN;
    a[9] = INT_MIN;
    memcpy(b, a, sizeof a);
    qsort(a, N, sizeof a[0], cmp_int);
    merge_sort(b, tmp, N);
    int sorted = 1;
    for (int i = 0; i < N; i++) {
        if (i && a[i - 1] > a[i])
            sorted = 0;
        sum_after += (uint64_t)(int64_t)a[i];
    }
    int same = memcmp(a, b, sizeof a) == 0;
    P("ints: sorted=%d same_as_mergesort=%d first=%d %d %d last=%d %d\n",
      sorted, same, a[0], a[1], a[2], a[N - 2], a[N - 1]);
    uint64_t h = FNV_INIT;
    for (int i = 0; i < N; i++)
        h = fnv_word(h, (uint64_t)(uint32_t)a[i]);
    P("ints: hash=%016lx sum=%ld\n", (unsigned long)h, (long)sum_after);
    for (int i = 0; i < 20; i++)
        P("%d%c", a[i * 50], i == 19 ? '\n' : ' ');
    int key = a[617];
    int *found = bsearch(&key, a, N, sizeof a[0], cmp_int);
    int missing = 100000;
    P("bsearch: found=%d value=%d missing_found=%d\n", found != NULL,
      found ? *found : 0, bsearch(&missing, a, N, sizeof a[0], cmp_int) != NULL);
    qsort(a, N, sizeof a[0], cmp_int_desc);
    P("desc: %d %d ... %d\n", a[0], a[1], a[N - 1]);
    /* already sorted and all-equal inputs */
    for (int i = 0; i < N; i++)
        b[i] = 5;
    qsort(b, N, sizeof b[0], cmp_int);
    qsort(a, 1, sizeof a[0], cmp_int);
    qsort(a, 0, sizeof a[0], cmp_int);
    P("equal: %d %d\n", b[0], b[N - 1]);

    static const char *words[] = {
        "pear", "apple", "fig", "banana", "Zebra", "apple", "", "kiwi",
        "applesauce", "app", "cherry", "date", "elderberry", "grape", "0",
        "~tilde", "Apple", "mango", "nectarine", "orange"};
    const int nw = sizeof words / sizeof words[0];
    const char *w[sizeof words / sizeof words[0]];
    memcpy(w, words, sizeof words);
    qsort(w, nw, sizeof w[0], cmp_str);
    P("strings:");
    for (int i = 0; i < nw; i++)
        P(" [%s]", w[i]);
    P("\n");

    static struct rec recs[300];
    for (int i = 0; i < 300; i++) {
        snprintf(recs[i].name, sizeof recs[i].name, "n%03u", rnd() % 1000);
        recs[i].age = 20 + (int)(rnd() % 10);
        recs[i].score = (double)(rnd() % 50) / 4.0;
    }
    qsort(recs, 300, sizeof recs[0], cmp_rec);
    int ok = 1;
    for (int i = 1; i < 300; i++)
        if (cmp_rec(&recs[i - 1], &recs[i]) > 0)
            ok = 0;
    P("structs sorted=%d\n", ok);
    for (int i = 0; i < 300; i += 23)
        P("  %s age=%d score=%.2f\n", recs[i].name, recs[i].age, recs[i].score);
    out_flush();
    return 0;
}
