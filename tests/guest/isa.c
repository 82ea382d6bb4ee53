/* RV64I instruction classes through inline asm: loads and stores of every
 * width (sign/zero extension, negative and misaligned offsets), every
 * branch taken and not taken, jal/jalr link values (jalr clears bit 0 and
 * reads rs1 before writing rd), writes to x0, fences, a raw ecall, and
 * Zicsr: fflags/frm/fcsr through every csrr* form, rdcycle/rdtime/rdinstret
 * (checked for monotonicity only).  Exit status 0. */
#include "common.h"

static void field(const char *name, uint64_t v)
{
    out_ch(' ');
    out_str(name);
    out_ch('=');
    out_hex64(v);
}

static unsigned char mem[64] __attribute__((aligned(16)));

/* p + d, hidden from the compiler (the result is out of the object's
 * bounds on purpose: the instruction's offset brings it back) */
static unsigned char *off(unsigned char *p, long d)
{
    uintptr_t u = (uintptr_t)p;
    __asm__("" : "+r"(u));
    return (unsigned char *)(u + d);
}

static void loads(void)
{
    for (int i = 0; i < 64; i++)
        mem[i] = (unsigned char)(0x80 + i * 7);
    unsigned char *p = mem + 32;
    uint64_t r[20];
    __asm__ volatile("lb %0, 0(%1)" : "=r"(r[0]) : "r"(p));
    __asm__ volatile("lbu %0, 0(%1)" : "=r"(r[1]) : "r"(p));
    __asm__ volatile("lh %0, 2(%1)" : "=r"(r[2]) : "r"(p));
    __asm__ volatile("lhu %0, 2(%1)" : "=r"(r[3]) : "r"(p));
    __asm__ volatile("lw %0, 4(%1)" : "=r"(r[4]) : "r"(p));
    __asm__ volatile("lwu %0, 4(%1)" : "=r"(r[5]) : "r"(p));
    __asm__ volatile("ld %0, 8(%1)" : "=r"(r[6]) : "r"(p));
    __asm__ volatile("lb %0, -1(%1)" : "=r"(r[7]) : "r"(p));
    __asm__ volatile("lh %0, -2(%1)" : "=r"(r[8]) : "r"(p));
    __asm__ volatile("lw %0, -4(%1)" : "=r"(r[9]) : "r"(p));
    __asm__ volatile("ld %0, -32(%1)" : "=r"(r[10]) : "r"(p));
    __asm__ volatile("lbu %0, 31(%1)" : "=r"(r[11]) : "r"(p));
    /* misaligned */
    __asm__ volatile("lh %0, 1(%1)" : "=r"(r[12]) : "r"(p));
    __asm__ volatile("lw %0, 3(%1)" : "=r"(r[13]) : "r"(p));
    __asm__ volatile("ld %0, 5(%1)" : "=r"(r[14]) : "r"(p));
    __asm__ volatile("lwu %0, 7(%1)" : "=r"(r[15]) : "r"(p));
    /* big offsets: base moved away by 2047 / -2048 */
    __asm__ volatile("ld %0, -2047(%1)" : "=r"(r[16]) : "r"(off(p, 2047)));
    __asm__ volatile("lbu %0, 2047(%1)" : "=r"(r[17]) : "r"(off(p, -2047)));
    __asm__ volatile("lhu %0, -2048(%1)" : "=r"(r[18]) : "r"(off(p, 2048 + 6)));
    __asm__ volatile("lw %0, 0(%1)" : "=r"(r[19]) : "r"(mem + 60));
    static const char *const names[20] = {
        "lb",    "lbu",   "lh",    "lhu",   "lw",    "lwu",  "ld",
        "lb-1",  "lh-2",  "lw-4",  "ld-32", "lbu31", "lh+1", "lw+3",
        "ld+5",  "lwu+7", "ld-2047", "lbu2047", "lhu-2048", "lw@60"};
    for (int i = 0; i < 20; i++) {
        out_str("load");
        field(names[i], r[i]);
        out_nl();
    }
}

static void stores(void)
{
    memset(mem, 0xee, sizeof mem);
    uint64_t v = 0x0123456789abcdefULL;
    unsigned char *p = mem + 16;
    __asm__ volatile("sb %0, 0(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sh %0, 2(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sw %0, 4(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sd %0, 8(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sd %0, -16(%1)" ::"r"(~v), "r"(p) : "memory");
    __asm__ volatile("sh %0, 17(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sw %0, 21(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sd %0, 27(%1)" ::"r"(v), "r"(p) : "memory");
    __asm__ volatile("sb %0, 2047(%1)" ::"r"(0x5a), "r"(off(p, -2047 + 40))
                     : "memory");
    __asm__ volatile("sw zero, -2048(%0)" ::"r"(off(p, 2048 + 44)) : "memory");
    out_str("stores:");
    for (int i = 0; i < 64; i++) {
        if (i % 16 == 0)
            out_str("\n ");
        out_ch(' ');
        out_hexn(mem[i], 2);
    }
    out_nl();
}

static void branches(void)
{
    static const int64_t vals[] = {0, 1, -1, INT64_MIN, INT64_MAX, 0x80000000};
    const int n = sizeof vals / sizeof vals[0];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int64_t a = vals[i], b = vals[j];
            uint64_t m = 0;
#define BR(insn, bit)                                                      \
    __asm__ volatile(insn " %1, %2, 1f\n\tj 2f\n1:\tori %0, %0, " #bit "\n2:" \
                     : "+r"(m)                                             \
                     : "r"(a), "r"(b))
            BR("beq", 1);
            BR("bne", 2);
            BR("blt", 4);
            BR("bge", 8);
            BR("bltu", 16);
            BR("bgeu", 32);
            BR("bgt", 64);
            BR("bleu", 128);
#undef BR
            out_str("branch a=");
            out_hex64(a);
            out_str(" b=");
            out_hex64(b);
            out_str(" taken=");
            out_hexn(m, 2);
            out_nl();
        }
    /* backward branch loop */
    int64_t cnt = 0, k = 10;
    __asm__ volatile("1: addi %0, %0, 3\n\taddi %1, %1, -1\n\tbnez %1, 1b"
                     : "+r"(cnt), "+r"(k));
    out_str("loop cnt=");
    out_dec(cnt);
    out_nl();
}

static void jumps(void)
{
    int64_t d1, d2, d3, d4, t;
    /* jal link = address of the next instruction */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "2:\tjal t0, 1f\n"
                     "\tnop\n"
                     "1:\tlla %1, 2b\n\t"
                     "sub %0, t0, %1\n\t"
                     ".option pop"
                     : "=r"(d1), "=r"(t)
                     :
                     : "t0");
    /* jalr with an odd target: bit 0 is cleared */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "lla t1, 1f\n\t"
                     "addi t1, t1, 1\n\t"
                     "li %0, 7\n\t"
                     "jalr t0, 0(t1)\n\t"
                     "li %0, 99\n"
                     "1:\taddi %0, %0, 1\n\t"
                     ".option pop"
                     : "=r"(d2)
                     :
                     : "t0", "t1");
    /* jalr rd == rs1: the target is computed from the old value */
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     "lla t0, 1f\n\t"
                     "addi t0, t0, -8\n\t"
                     "jalr t0, 8(t0)\n"
                     "3:\tli %0, 99\n\tj 4f\n"
                     "1:\tlla %0, 3b\n\t"
                     "sub %0, t0, %0\n"
                     "4:\n\t"
                     ".option pop"
                     : "=r"(d3)
                     :
                     : "t0");
    /* call/ret through a real function pointer and x0 writes */
    __asm__ volatile("li t0, 5\n\t"
                     "add x0, t0, t0\n\t"
                     ".4byte 0x00001037\n\t" /* lui x0, 1 */
                     "addi x0, x0, 5\n\t"   /* hint */
                     "lw x0, 0(%1)\n\t"     /* load performed, discarded */
                     "mv %0, x0"
                     : "=r"(d4)
                     : "r"(mem)
                     : "t0");
    out_str("jump");
    field("jal_link", d1);
    field("jalr_odd", d2);
    field("jalr_rd_rs1", d3);
    field("x0", d4);
    out_nl();
    CHECK(d1 == 4 && d2 == 8 && d3 == 0 && d4 == 0, "jumps");
}

static void fences_and_ecall(void)
{
    __asm__ volatile("fence\n\tfence rw, rw\n\tfence r, r\n\tfence w, w\n\t"
                     "fence iorw, iorw\n\tfence.tso\n\tfence.i\n\t"
                     ".4byte 0x0100000f\n\t" /* pause */
                     "nop" ::
                         : "memory");
    static const char msg[] = "ecall write ok\n";
    out_flush();
    fflush(stdout);
    register long a0 __asm__("a0") = 1;
    register long a1 __asm__("a1") = (long)msg;
    register long a2 __asm__("a2") = sizeof msg - 1;
    register long a7 __asm__("a7") = 64; /* write */
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    P("ecall returned %ld\n", a0);
    a0 = -1;
    a1 = 0;
    a2 = 0;
    a7 = 63; /* read(-1) -> -EBADF */
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    P("ecall read(-1) returned %ld\n", a0);
}

static void csrs(void)
{
    uint64_t r[24];
    int k = 0;
    __asm__ volatile("csrr %0, fflags" : "=r"(r[k++]));
    __asm__ volatile("csrr %0, frm" : "=r"(r[k++]));
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));
    __asm__ volatile("csrrwi %0, frm, 3" : "=r"(r[k++]));         /* old 0 */
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));             /* 0x60 */
    __asm__ volatile("csrrsi %0, fflags, 0x15" : "=r"(r[k++]));   /* old 0 */
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));             /* 0x75 */
    __asm__ volatile("csrrci %0, fflags, 0x5" : "=r"(r[k++]));    /* 0x15 */
    __asm__ volatile("csrr %0, fflags" : "=r"(r[k++]));           /* 0x10 */
    __asm__ volatile("csrrw %0, fcsr, %1" : "=r"(r[k++]) : "r"(0xfffL));
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));             /* 0xff */
    __asm__ volatile("csrr %0, frm" : "=r"(r[k++]));              /* 7 */
    __asm__ volatile("csrr %0, fflags" : "=r"(r[k++]));           /* 0x1f */
    __asm__ volatile("csrrc %0, fcsr, %1" : "=r"(r[k++]) : "r"(0xe3L));
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));             /* 0x1c */
    __asm__ volatile("csrrs %0, frm, %1" : "=r"(r[k++]) : "r"(0x1L));
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));             /* 0x3c */
    __asm__ volatile("csrw fflags, %0" ::"r"(0x3fL));             /* masked */
    __asm__ volatile("csrr %0, fflags" : "=r"(r[k++]));
    __asm__ volatile("csrrs %0, fflags, zero" : "=r"(r[k++]));    /* read */
    __asm__ volatile("csrrwi zero, fcsr, 0");
    __asm__ volatile("csrr %0, fcsr" : "=r"(r[k++]));
    __asm__ volatile("fsflags %0, %1" : "=r"(r[k++]) : "r"(0x7L));
    __asm__ volatile("fsrm %0, %1" : "=r"(r[k++]) : "r"(0x2L));
    __asm__ volatile("fscsr %0, %1" : "=r"(r[k++]) : "r"(0x0L));
    __asm__ volatile("frcsr %0" : "=r"(r[k++]));
    for (int i = 0; i < k; i++) {
        out_str("csr ");
        out_dec(i);
        out_str(" = ");
        out_hexn(r[i], 4);
        out_nl();
    }
    CHECK(r[10] == 0xff && r[11] == 7 && r[12] == 0x1f, "fcsr masking");

    uint64_t c0, c1, t0, t1, i0, i1;
    __asm__ volatile("rdcycle %0\n\trdtime %1\n\trdinstret %2"
                     : "=r"(c0), "=r"(t0), "=r"(i0));
    volatile uint64_t sink = 0;
    for (int i = 0; i < 1000; i++)
        sink += (uint64_t)i * i;
    __asm__ volatile("rdcycle %0\n\trdtime %1\n\trdinstret %2"
                     : "=r"(c1), "=r"(t1), "=r"(i1));
    uint64_t c2, i2;
    __asm__ volatile("csrr %0, cycle\n\tcsrr %1, instret" : "=r"(c2), "=r"(i2));
    P("counters monotonic: cycle=%d time=%d instret=%d csrr=%d (sink %lu)\n",
      c1 >= c0, t1 >= t0, i1 >= i0, c2 >= c1 && i2 >= i1, (unsigned long)sink);
    CHECK(c1 >= c0 && t1 >= t0 && i1 >= i0, "counters");
}

int main(void)
{
    loads();
    stores();
    branches();
    jumps();
    fences_and_ecall();
    csrs();
    out_flush();
    printf("isa done, failures=%d\n", fail_count);
    return fail_count ? 1 : 0;
}
