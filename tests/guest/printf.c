/* printf of every conversion: d i u o x X e E f F g G a A c s p n %%,
 * widths, precisions (also through *), flags (- + space # 0), length
 * modifiers hh h l ll z j t L (long double is IEEE quad on riscv64, done in
 * software), special values, snprintf truncation, and scanf/strtod/strtol
 * going the other way.  Exit status 0. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

int main(void)
{
    int n1 = -1, n2 = -1;
    signed char hhn = 0;
    short hn = 0;
    long ln = 0;

    printf("[%d] [%i] [%u] [%o] [%x] [%X]\n", 42, -42, 42u, 42u, 0xbeefu,
           0xbeefu);
    printf("[%d] [%d] [%u] [%x]\n", INT_MAX, INT_MIN, UINT_MAX, UINT_MAX);
    printf("[%5d] [%-5d] [%05d] [%+d] [% d] [%+5d] [%-+5d] [% 05d]\n", 42, 42,
           42, 42, 42, 42, 42, 42);
    printf("[%.3d] [%.0d] [%.0d] [%8.3d] [%-8.3d] [%08.3d]\n", 7, 0, 1, -7, 7,
           7);
    printf("[%#o] [%#x] [%#X] [%#o] [%#x] [%#.3o]\n", 8u, 255u, 255u, 0u, 0u,
           8u);
    printf("[%*d] [%-*d] [%.*d] [%*.*d] [%*d]\n", 6, 1, 6, 1, 4, 1, 6, 3, 1,
           -6, 1);
    printf("[%hhd] [%hhu] [%hhx] [%hd] [%hu] [%hx]\n", (signed char)-1,
           (unsigned char)255, (unsigned char)0xab, (short)-1,
           (unsigned short)65535, (unsigned short)0xabcd);
    printf("[%hhd] [%hd]\n", 0x1ff, 0x1ffff); /* truncated to char/short */
    printf("[%ld] [%lu] [%lx] [%lld] [%llu] [%llx] [%lo]\n", LONG_MIN,
           ULONG_MAX, 0xdeadbeefcafebabeUL, LLONG_MAX, ULLONG_MAX,
           0x0123456789abcdefULL, 01234567012345670UL);
    printf("[%zd] [%zu] [%zx] [%jd] [%ju] [%td] [%tx]\n", (ssize_t)-5,
           (size_t)-1, (size_t)4096, (intmax_t)INT64_MIN, (uintmax_t)UINT64_MAX,
           (ptrdiff_t)-12345, (ptrdiff_t)0x7fff);
    printf("[%" PRId8 "] [%" PRIu16 "] [%" PRIx32 "] [%" PRId64 "] [%" PRIX64
           "]\n",
           (int8_t)-8, (uint16_t)65000, (uint32_t)0xfeedface,
           (int64_t)-1234567890123LL, (uint64_t)0xabcdef0123456789ULL);

    /* floating point */
    double d = 3.14159265358979323846, big = 1.5e300, tiny = 2.5e-310,
           neg = -0.0;
    printf("[%f] [%.0f] [%.10f] [%10.3f] [%-10.3f] [%+.2f] [% .2f] [%010.3f]\n",
           d, d, d, d, d, d, d, -d);
    printf("[%e] [%.0e] [%.12e] [%E] [%12.4e] [%#.0e] [%#.0f]\n", d, d, d, big,
           tiny, d, d);
    printf("[%g] [%G] [%g] [%g] [%g] [%g] [%#g] [%.3g] [%.10g] [%g]\n", d,
           1e-5, 1e-4, 123456.0, 1234567.0, 100.0, 100.0, d, d, 0.0001234);
    printf("[%a] [%A] [%.3a] [%a] [%a] [%a] [%.0a]\n", d, d, d, 1.0, -0.5,
           tiny, 1.5);
    printf("[%f] [%e] [%g] [%a] [%F] [%E] [%G] [%A]\n", neg, neg, neg, neg,
           neg, neg, neg, neg);
    printf("[%f] [%F] [%e] [%g] [%5.1f] [%-6f|] [%+f]\n", INFINITY, -INFINITY,
           INFINITY, -INFINITY, INFINITY, INFINITY, INFINITY);
    printf("[%f] [%F] [%e] [%G] [%a] [%A]\n", NAN, NAN, -NAN, NAN, NAN, NAN);
    printf("[%.20f] [%.17g] [%.17g] [%.3f] [%.3f]\n", 0.1, 0.1, 1.0 / 3.0,
           2.0005, 1.0005);
    printf("[%f] [%.2e] [%g]\n", big, big, tiny);
    printf("[%f] [%.1f] [%.1f] [%.1f] [%.1f]\n", 1e15 + 0.3, 0.25, 0.35, 2.5,
           -0.05);
    float fl = 1.1f;
    printf("[%f] [%.9g] [%a]\n", fl, fl, fl);

    /* long double: 128-bit IEEE quad, software emulated */
    long double ld = 3.14159265358979323846264338327950288L;
    printf("[%Lf] [%.30Lf] [%Le] [%Lg] [%La] [%.25Lg]\n", ld, ld, ld, ld, ld,
           ld);
    long double ld2 = 1.0L / 3.0L;
    printf("[%.36Lf] [%LA] [%Lg] [%Lf]\n", ld2, ld2, 1e4000L, -0.0L);
    printf("[%Lf] [%Le] sizeof=%zu\n", (long double)INFINITY, 1.0L + 1e-30L,
           sizeof(long double));

    /* characters and strings */
    printf("[%c] [%5c] [%-5c] [%c]\n", 'A', 'B', 'C', 0x41 + 256);
    printf("[%s] [%10s] [%-10s] [%.3s] [%10.3s] [%-10.3s] [%.*s] [%s]\n",
           "hello", "hello", "hello", "hello", "hello", "hello", 2, "hello",
           "");
    printf("[%ls] [%lc] [%5ls]\n", L"wide", (wint_t)L'w', L"ab");
    printf("[%%] [%5%] [%-5%]\n");

    /* %p of fixed values */
    printf("[%p] [%p] [%20p] [%-20p|]\n", (void *)0x1234, (void *)0,
           (void *)0xdeadbeefUL, (void *)0x10);

    /* %n family */
    printf("abc%n12345%n\n", &n1, &n2);
    printf("%s%hhn%s%hn%s%ln\n", "xx", &hhn, "yyy", &hn, "z", &ln);
    printf("n1=%d n2=%d hhn=%d hn=%d ln=%ld\n", n1, n2, hhn, hn, ln);

    /* positional arguments */
    printf("[%2$s %1$s] [%3$*4$d] [%3$-*4$d]\n", "world", "hello", 7, 6);
    printf("[%1$d %1$x %1$o]\n", 255);

    /* return values and snprintf truncation */
    char buf[16];
    int r = snprintf(buf, sizeof buf, "%s-%d-%f", "truncate", 12345, 1.5);
    printf("snprintf r=%d buf=[%s]\n", r, buf);
    r = snprintf(NULL, 0, "%0100d", 1);
    printf("snprintf(NULL) r=%d\n", r);
    r = snprintf(buf, 1, "xyz");
    printf("snprintf size 1 r=%d empty=%d\n", r, buf[0] == 0);
    r = printf("%s\n", "counted");
    printf("printf r=%d\n", r);
    char *as = NULL;
    r = asprintf(&as, "%d-%s-%.2f", 7, "eight", 9.0);
    printf("asprintf r=%d [%s]\n", r, as);
    free(as);
    r = fprintf(stderr, "to stderr %d\n", 99);
    printf("fprintf(stderr) r=%d\n", r);

    /* a long line through the buffer */
    char longs[600];
    for (int i = 0; i < 599; i++)
        longs[i] = (char)('a' + i % 26);
    longs[599] = 0;
    printf("long: %s|%d\n", longs, (int)strlen(longs));

    /* the other direction */
    int si;
    unsigned su;
    double sd;
    char ss[16];
    long long sll;
    int cnt = sscanf("  -17 0x1f 2.5e3 word 123456789012", "%d %x %lf %15s %lld",
                     &si, &su, &sd, ss, &sll);
    printf("sscanf %d: %d %u %g %s %lld\n", cnt, si, su, sd, ss, sll);
    char *end;
    printf("strtod: %.17g %.17g %g %g %a\n", strtod("0.1", &end),
           strtod("1e-320", &end), strtod("inf", &end), strtod("-nan", &end),
           strtod("0x1.8p3", &end));
    printf("strtol: %ld %ld %lu %ld\n", strtol("-0x7f", &end, 16),
           strtol("0777", &end, 0), strtoul("18446744073709551615", &end, 10),
           strtol("99999999999999999999", &end, 10));
    printf("strtold: %.30Lg\n", strtold("2.718281828459045235360287471352662",
                                        &end));
    printf("atoi=%d atof=%g\n", atoi("  -31337xyz"), atof("6.02e23"));
    return 0;
}
