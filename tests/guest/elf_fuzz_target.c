/* The ELF fuzzer's target (tests/system/test_elf_fuzz.py): a small
 * freestanding riscv64 program (no libc, built -nostdlib -static) with text,
 * read-only data, initialised data and bss, so that mutated program headers
 * show up in what it prints.  It writes its arguments, a table from .data
 * (changed at run time), a string from .rodata, whether .bss reads as zero,
 * and exits with a checksum of it all (mod 256). */
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

static u64 sum;
static u64 len(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void put(const char *s)
{
    for (u64 i = 0; s[i]; i++)
        sum = sum * 31 + (unsigned char)s[i];
    sys3(64, 1, (long)s, len(s));
}

static void put_num(u64 v)
{
    char buf[24];
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    put(buf + i);
}

static const char greeting[] = "elf fuzz target\n";
static u64 table[8] = {3, 1, 4, 1, 5, 9, 2, 6};
static u64 zeros[512];

int main(int argc, char **argv)
{
    put(greeting);
    for (int i = 1; i < argc; i++) { put("arg: "); put(argv[i]); put("\n"); }
    put("table:");
    for (int i = 0; i < 8; i++) { table[i] = table[i] * 10 + i; put(" "); put_num(table[i]); }
    u64 nz = 0;
    for (int i = 0; i < 512; i++) { nz += zeros[i] != 0; zeros[i] = i; }
    put("\nbss nonzero words: "); put_num(nz);
    put("\n");
    return (int)(sum % 256);
}

__attribute__((naked, noreturn)) void _start(void)
{
    asm volatile(
        "ld a0, 0(sp)\n"
        "addi a1, sp, 8\n"
        "call main\n"
        "li a7, 93\n"
        "ecall\n");
}
