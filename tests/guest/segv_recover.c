/* The minimal signal-delivery test: a SIGSEGV handler installed with
 * sigaction(SA_SIGINFO) recovers from a store to address 0x10 with
 * siglongjmp, three times in a row; prints si_addr and that it recovered.
 * Exit status 5. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf env;
static void *volatile fault_addr;
static volatile uintptr_t target = 0x10;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    fault_addr = si->si_addr;
    siglongjmp(env, 1);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) {
        printf("sigaction failed\n");
        return 1;
    }
    int recovered = 0;
    for (int i = 0; i < 3; i++) {
        if (sigsetjmp(env, 1) == 0) {
            *(volatile int *)(target + 8 * i) = i;
            printf("store %d did not fault?!\n", i);
        } else {
            recovered++;
            printf("recovered from SIGSEGV #%d at si_addr=%p\n", i, fault_addr);
        }
    }
    printf("recovered %d times\n", recovered);
    return recovered == 3 ? 5 : 1;
}
