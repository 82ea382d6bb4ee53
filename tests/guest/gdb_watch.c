/* Watchpoints, siginfo and thread events for the gdbstub tests (built -g -O0).
   "loop" (default): a hot loop writes `watched` every 1000 iterations, then
   reader() reads `readme`, then a thread named "watcher" (PR_SET_NAME) writes
   `by_thread`; "segv": a store to 0x10 first (SIGSEGV, si_addr 0x10);
   "segv-handled": the same with a handler that prints si_addr and si_code;
   "reread": a hot loop reads `readme` n times, midpoint(), then again. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

volatile long watched;
volatile long readme = 5;
volatile long sink;
volatile long by_thread;

long loop(long n)
{
    long acc = 0;
    for (long i = 0; i < n; i++) {
        acc += i;
        if (i % 1000 == 999)
            watched = i;
    }
    return acc;
}

void reader(void)
{
    sink = readme * 2;
}

long reread(long n)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += readme;
    return s;
}

/* (a page of its own: gdb's breakpoint there drops no translation of reread) */
__attribute__((aligned(4096), noinline)) void midpoint(void)
{
    __asm__ volatile("" ::: "memory");
}

void *worker(void *arg)
{
    prctl(PR_SET_NAME, "watcher");
    by_thread = (long)arg;
    return NULL;
}

void on_segv(int sig, siginfo_t *si, void *uc)
{
    printf("si_addr=%p si_code=%d\n", si->si_addr, si->si_code);
    fflush(stdout);
    _exit(3);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "loop";
    long n = argc > 2 ? atol(argv[2]) : 3000;
    pthread_t t;
    if (!strcmp(mode, "segv-handled")) {
        struct sigaction sa = {0};
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
    }
    if (!strcmp(mode, "reread")) {
        long s = reread(n);
        midpoint();
        s += reread(n);
        printf("reread=%ld\n", s);
        return 0;
    }
    if (!strncmp(mode, "segv", 4))
        *(volatile int *)0x10 = 1;
    long acc = loop(n);
    reader();
    pthread_create(&t, NULL, worker, (void *)42);
    pthread_join(t, NULL);
    printf("acc=%ld watched=%ld sink=%ld by_thread=%ld\n", acc, watched, sink, by_thread);
    return 0;
}
