/* riscv_flush_icache (syscall 259), as glibc's __riscv_flush_icache and
 * __builtin___clear_cache use it: 0 for flags 0 and 1
 * (SYS_RISCV_FLUSH_ICACHE_LOCAL), EINVAL for any other flag; the range is
 * not checked.  Then code is written, flushed and run.
 *
 * usage: hostile_flush_icache [invalid]
 * "invalid" also tries the flags Linux refuses (qemu-riscv64 7.2 answers 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[64];

static void try(unsigned long start, unsigned long end, unsigned long flags)
{
    errno = 0;
    long r = syscall(259, start, end, flags);
    printf("flush_icache(%s, %#lx) = %ld (%s)\n", start == (unsigned long)buf ? "buf, buf + 64" : start ? "high, 0x10" : "0, 0", flags, r, r ? strerror(errno) : "ok");
}

int main(int argc, char **argv)
{
    (void)argv;
    try((unsigned long)buf, (unsigned long)buf + 64, 0);
    try((unsigned long)buf, (unsigned long)buf + 64, 1);
    if (argc > 1) {
        try((unsigned long)buf, (unsigned long)buf + 64, 2);
        try((unsigned long)buf, (unsigned long)buf + 64, 3);
        try((unsigned long)buf, (unsigned long)buf + 64, 1UL << 63);
    }
    try(0, 0, 0);
    try(0xffffffffffff0000UL, 0x10, 0);      /* nothing is checked about the range */
    unsigned int *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int (*fn)(void) = (int (*)(void))code;
    for (int k = 1; k <= 3; k++) {
        code[0] = 0x00000513u | (unsigned)(k * 7) << 20;   /* li a0, 7k */
        code[1] = 0x00008067u;                              /* ret */
        __builtin___clear_cache((char *)code, (char *)(code + 2));
        printf("code returns %d\n", fn());
    }
    return 0;
}
