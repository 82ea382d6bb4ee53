/* Driver for rvc_ops.S: the compressed (RVC) instruction forms, including
 * the stack-pointer and floating-point ones, c.jalr link values and a loop
 * made only of compressed instructions.  Also checks that the code really
 * is compressed by looking at the first instruction halfwords. */
#include "common.h"

void rvc_alu(uint64_t *out, uint64_t x, uint64_t y);
void rvc_mem(uint64_t *out, uint64_t *buf);
void rvc_ctrl(uint64_t *out, uint64_t x);
long rvc_call(long (*fn)(long), long v);

static long times3(long v) { return v * 3; }

static void dump(const char *what, const uint64_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        out_str(what);
        out_ch('[');
        out_dec(i);
        out_str("] = ");
        out_hex64(v[i]);
        out_nl();
    }
}

int main(void)
{
    static const uint64_t xs[][2] = {
        {0x0123456789abcdefULL, 0x1111111111111111ULL},
        {0x000000007fffffffULL, 0x0000000000000001ULL},
        {0xffffffff80000000ULL, 0x00000000ffffffffULL},
        {0x8000000000000000ULL, 0xffffffffffffffffULL},
    };
    uint64_t out[40];
    for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        memset(out, 0, sizeof out);
        rvc_alu(out, xs[i][0], xs[i][1]);
        out_str("alu x=");
        out_hex64(xs[i][0]);
        out_str(" y=");
        out_hex64(xs[i][1]);
        out_nl();
        dump("  alu", out, 30);
    }

    uint64_t buf[8] = {0x1122334455667788ULL, 0x80000001fedcba98ULL,
                       0x400921fb54442d18ULL /* pi */, 0xa5a5a5a5c3c3c3c3ULL,
                       0, 0, 0, 0};
    memset(out, 0, sizeof out);
    rvc_mem(out, buf);
    dump("mem", out, 13);
    dump("buf", buf, 8);

    for (uint64_t x = 0; x < 2; x++) {
        memset(out, 0, sizeof out);
        rvc_ctrl(out, x);
        out_str("ctrl x=");
        out_dec((int64_t)x);
        out_nl();
        dump("  ctrl", out, 5);
    }
    out_str("call: ");
    out_dec(rvc_call(times3, 14));
    out_nl();

    /* rvc_alu starts with c.li a3,-32: a 16-bit parcel with op bits != 11 */
    const uint16_t *code = (const uint16_t *)(uintptr_t)rvc_alu;
    out_str("first parcel compressed: ");
    out_dec((code[0] & 3) != 3);
    out_nl();
    out_flush();
    return 0;
}
