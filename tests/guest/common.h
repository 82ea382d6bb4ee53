/* Shared helpers for pydbt guest test programs (riscv64, built static).
 *
 * Output must be deterministic: these programs are run under qemu-riscv64
 * and under pydbt and their stdout/stderr/exit status compared exactly.
 *
 * out_*() append to a buffer that goes to stdout with out_flush(); they are
 * much cheaper in guest instructions than printf, which matters for big
 * tables under a pure-Python translator.  Use P() instead of printf() in
 * programs that mix the two: it flushes the buffer first.
 */
#ifndef PYDBT_GUEST_COMMON_H
#define PYDBT_GUEST_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GUEST_UNUSED __attribute__((unused))

static char out_buf[8192];
static size_t out_len;

static GUEST_UNUSED void out_flush(void)
{
    if (out_len)
        fwrite(out_buf, 1, out_len, stdout);
    out_len = 0;
}

/* printf that keeps order with the out_*() buffer */
#define P(...) (out_flush(), printf(__VA_ARGS__))

static GUEST_UNUSED void out_ch(char c)
{
    if (out_len == sizeof out_buf)
        out_flush();
    out_buf[out_len++] = c;
}

static GUEST_UNUSED void out_str(const char *s)
{
    while (*s)
        out_ch(*s++);
}

/* fixed width hex, no prefix */
static GUEST_UNUSED void out_hexn(uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        out_ch("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static GUEST_UNUSED void out_hex64(uint64_t v) { out_hexn(v, 16); }
static GUEST_UNUSED void out_hex32(uint32_t v) { out_hexn(v, 8); }

static GUEST_UNUSED void out_dec(int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out_ch('-');
    while (n)
        out_ch(tmp[--n]);
}

static GUEST_UNUSED void out_nl(void) { out_ch('\n'); }

/* Running checksum (FNV-1a over 64-bit words) for large result grids. */
static GUEST_UNUSED uint64_t fnv_word(uint64_t h, uint64_t w)
{
    for (int i = 0; i < 8; i++) {
        h ^= (w >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

/* Self-checks: a program prints "FAIL ..." when something it can verify on
 * its own is wrong; the harness asserts that qemu's output has none. */
static GUEST_UNUSED int fail_count;
#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            fail_count++;                                \
            out_flush();                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);  \
            printf(__VA_ARGS__);                         \
            printf("\n");                                \
            fflush(stdout);                              \
        }                                                \
    } while (0)

/* SHOW_AS(width, text, expr): "text = value", and errno's name when the value
 * is negative (strerrorname_np: define _GNU_SOURCE before any include).  A
 * program defines its SHOW(expr) as SHOW_AS(width, #expr, expr), so that the
 * text is the expression as written, macros unexpanded. */
#define SHOW_AS(width, text, expr)                                            \
    do {                                                                      \
        errno = 0;                                                            \
        long _r = (long)(expr);                                               \
        int _e = errno;                                                       \
        printf("%-*s = %ld", width, text, _r);                                \
        if (_r < 0)                                                           \
            printf(" (%s)", strerrorname_np(_e) ? strerrorname_np(_e) : "?"); \
        printf("\n");                                                         \
    } while (0)

#endif
