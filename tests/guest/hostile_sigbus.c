/* A MAP_SHARED file mapping truncated under the guest (ftruncate), then
 * touched: Linux raises SIGBUS (BUS_ADRERR, si_addr = the address) at the
 * access, for a load and a store; a syscall reading from such a page fails
 * with EFAULT; once the file grows again the page reads as zero.
 *
 * usage: hostile_sigbus DIR handler|die [times]
 * The file is created in DIR and removed.  With "handler", a SA_SIGINFO
 * SIGBUS handler prints what it sees and siglongjmps back; each access is
 * repeated `times` times (default 1: more makes the loops hot for the JIT).
 * With "die" the first load dies of SIGBUS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf env;
static char *base;

static long __attribute__((noinline)) load(volatile long *p) { return *p; }
static void __attribute__((noinline)) store(volatile long *p, long v) { *p = v; }

static void handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    unsigned long pc = uc->uc_mcontext.__gregs[REG_PC];
    /* the pc, relative to the function that made the access */
    long off = pc - (pc >= (unsigned long)store && pc < (unsigned long)store + 16 ? (unsigned long)store
                                                                                  : (unsigned long)load);
    printf("  sig=%d code=%d addr=base+%#lx pc=fn+%ld\n", sig, si->si_code,
           (unsigned long)((char *)si->si_addr - base), off);
    siglongjmp(env, 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hostile_sigbus DIR handler|die [times]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int times = argc > 3 ? atoi(argv[3]) : 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/sigbus.dat", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 0x2000) != 0) {
        perror("file");
        return 1;
    }
    unlink(path);
    base = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    store((long *)(base + 0x1008), 0x1234);
    long v = 0;
    pread(fd, &v, 8, 0x1008);
    printf("shared: file sees %#lx, mapping %#lx\n", v, load((long *)(base + 0x1008)));
    if (ftruncate(fd, 0x1000) != 0)
        return 1;
    printf("truncated to one page: first page %#lx\n", load((long *)base));
    if (strcmp(argv[2], "die") == 0) {
        printf("loading past the end\n");
        load((long *)(base + 0x1010));
        printf("survived: wrong\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    volatile int faults = 0;
    for (volatile int i = 0; i < times; i++) {
        if (sigsetjmp(env, 1) == 0) {
            if (i == 0)
                printf("load past the end:\n");
            load((long *)(base + 0x1010 + 8 * (i % 8)));
            printf("load survived: wrong\n");
        } else {
            faults++;
        }
        if (sigsetjmp(env, 1) == 0) {
            if (i == 0)
                printf("store past the end:\n");
            store((long *)(base + 0x1ff8), 7);
            printf("store survived: wrong\n");
        } else {
            faults++;
        }
    }
    printf("faults=%d\n", faults);
    errno = 0;
    long r = write(1, base + 0x1000, 8);
    printf("write() from the page past the end: %ld %s\n", r, strerror(errno));
    if (ftruncate(fd, 0x2000) != 0)
        return 1;
    printf("grown again: %#lx %#lx\n", load((long *)(base + 0x1008)), load((long *)base));
    return 0;
}
