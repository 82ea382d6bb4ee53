/* Jumps to code that cannot run: `jal` (direct) or `jalr` (indirect) to an
 * unmapped page or to a mapped page without PROT_EXEC.  A two-instruction
 * stub at P = 0x200000000 does the jump to P + 0x1000 (after writing ra =
 * P + 4), so every address is known.  Linux reports the fault at the jump's
 * target (SEGV_MAPERR or SEGV_ACCERR, si_addr = pc = target) with ra
 * already written.
 *
 * usage: hostile_jump jal|jalr unmapped|noexec handler|die [times]
 * With "handler", a SA_SIGINFO SIGSEGV handler prints what it sees and
 * siglongjmps back; the jump is repeated `times` times (default 1; more
 * makes the stub and the loop hot enough for the JIT).  With "die" the
 * program dies of SIGSEGV. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define P 0x200000000UL
static sigjmp_buf env;

static void handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    unsigned long pc = uc->uc_mcontext.__gregs[REG_PC];
    unsigned long ra = uc->uc_mcontext.__gregs[REG_RA];
    printf("sig=%d code=%d addr=P+%#lx pc=P+%#lx ra=P+%#lx\n", sig, si->si_code,
           (unsigned long)si->si_addr - P, pc - P, ra - P);
    siglongjmp(env, 1);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hostile_jump jal|jalr unmapped|noexec handler|die [times]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int jal = strcmp(argv[1], "jal") == 0;
    int noexec = strcmp(argv[2], "noexec") == 0;
    int with_handler = strcmp(argv[3], "handler") == 0;
    int times = argc > 4 ? atoi(argv[4]) : 1;
    unsigned int *code = mmap((void *)P, 0x2000, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (code == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    code[0] = jal ? 0x000010efu     /* jal ra, . + 0x1000 */
                  : 0x000500e7u;    /* jalr ra, 0(a0) */
    code[1] = 0x00008067u;          /* ret (never reached) */
    code[0x400] = 0x00008067u;      /* ret, on the target page: must not run */
    if (mprotect(code, 0x1000, PROT_READ | PROT_EXEC) != 0)
        return 1;
    if (noexec)
        mprotect((char *)code + 0x1000, 0x1000, PROT_READ);
    else
        munmap((char *)code + 0x1000, 0x1000);
    if (with_handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
    }
    void (*stub)(unsigned long) = (void (*)(unsigned long))P;
    volatile int faults = 0;
    for (volatile int i = 0; i < times; i++) {
        if (sigsetjmp(env, 1) == 0) {
            stub(P + 0x1000);
            printf("returned from the stub: wrong\n");
        } else {
            faults++;
        }
    }
    printf("faults=%d\n", faults);
    return 0;
}
