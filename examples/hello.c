/* The bundled example: a freestanding riscv64 program (no libc) so that its
 * binary stays small enough to ship.  It prints a greeting, its arguments and
 * the primes below 100, then exits with status 0.
 * Rebuild: sh examples/build.sh */
typedef unsigned long u64;

static long sys3(long nr, long a, long b, long c)
{
    register long a0 asm("a0") = a;
    register long a1 asm("a1") = b;
    register long a2 asm("a2") = c;
    register long a7 asm("a7") = nr;
    asm volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

static u64 len(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void put(const char *s) { sys3(64, 1, (long)s, len(s)); }

static void put_num(u64 v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    put(buf + i);
}

int main(int argc, char **argv)
{
    put("Hello from riscv64, translated by pydbt!\n");
    for (int i = 1; i < argc; i++) { put("arg: "); put(argv[i]); put("\n"); }
    put("primes below 100:");
    for (u64 n = 2; n < 100; n++) {
        int prime = 1;
        for (u64 d = 2; d * d <= n; d++)
            if (n % d == 0) { prime = 0; break; }
        if (prime) { put(" "); put_num(n); }
    }
    put("\n");
    return 0;
}

__attribute__((naked, noreturn)) void _start(void)
{
    asm volatile(
        "ld a0, 0(sp)\n"          /* argc */
        "addi a1, sp, 8\n"        /* argv */
        "call main\n"
        "li a7, 93\n"             /* exit(main's result) */
        "ecall\n");
}
