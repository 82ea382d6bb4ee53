/* String functions on generated strings: our own byte-at-a-time strlen,
 * memcpy, strcmp, strchr, and glibc's optimised strlen, memcpy, strcmp,
 * strchr, memcmp, memset.  Strings come from a 4-letter alphabet so that
 * comparisons run into long common prefixes.  Size = rounds. */
#include <string.h>
#include "common.h"

#define NSTR 64
#define MAXLEN 96

/* keep gcc from turning our loops back into library calls */
#define OWN __attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))

OWN static size_t my_strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

OWN static void *my_memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

OWN static int my_strcmp(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    while (*p && *p == *q) {
        p++;
        q++;
    }
    return (int)*p - (int)*q;
}

OWN static const char *my_strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return s;
        if (!*s)
            return NULL;
    }
}

static int sign(int v) { return (v > 0) - (v < 0); }

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000);
    static char strs[NSTR][MAXLEN + 1];
    static char buf[2 * MAXLEN + 2];
    uint64_t s = 99;
    for (int i = 0; i < NSTR; i++) {
        int len = 16 + (int)(lcg_next(&s) % (MAXLEN - 16));
        for (int k = 0; k < len; k++)
            strs[i][k] = (char)('a' + (k < 12 ? (i % 3) : (int)(lcg_next(&s) % 4)));
        strs[i][len] = '\0';
    }
    uint64_t h = 0;
    for (long r = 0; r < n; r++) {
        const char *a = strs[lcg_next(&s) % NSTR];
        const char *b = strs[lcg_next(&s) % NSTR];
        int c = 'a' + (int)(r % 5);   /* 'e' never occurs: a full scan */
        /* ours */
        size_t la = my_strlen(a);
        my_memcpy(buf, a, la + 1);
        size_t lb = my_strlen(b);
        my_memcpy(buf + la, b, lb + 1);
        int cmp = my_strcmp(a, b);
        const char *hit = my_strchr(buf, c);
        h = mix64(h, my_strlen(buf) * 131 + (uint64_t)(sign(cmp) + 1) * 7 + (hit ? (uint64_t)(hit - buf) : 999));
        /* glibc's */
        size_t la2 = strlen(a), lb2 = strlen(b);
        memcpy(buf, b, lb2 + 1);
        memcpy(buf + lb2, a, la2 + 1);
        int cmp2 = strcmp(b, a);
        const char *hit2 = strchr(buf, c);
        int mc = memcmp(a, b, la2 < lb2 ? la2 : lb2);
        memset(buf + lb2, 'z', la2 / 2);
        h = mix64(h, strlen(buf) * 131 + (uint64_t)(sign(cmp2) + 1) * 7 + (hit2 ? (uint64_t)(hit2 - buf) : 999));
        h = mix64(h, (uint64_t)(sign(mc) + 1) + (uint64_t)(unsigned char)buf[la2 + lb2 - 1]);
    }
    bench_result("strings", n, h);
    return 0;
}
