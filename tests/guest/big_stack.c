/* A big stack (run with -s 1g under both emulators, with the argument
 * "deep"): 320 MiB of stack frames are touched one page at a time, and at the
 * deepest point signals are delivered and their handlers return through
 * rt_sigreturn (the return address is the sigreturn trampoline, which must
 * not be overwritten by the stack).  Without "deep" only the signals run, on
 * a normal stack.  Exit 0. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t handled;
static volatile long handler_sum;

static void handler(int sig)
{
    char local[256];
    memset(local, sig, sizeof local);
    handler_sum += local[100];
    handled++;
}

static int signals_at_depth(void)
{
    for (int i = 0; i < 3; i++) {
        raise(SIGUSR1);
        raise(SIGUSR2);
    }
    return handled;
}

/* each level holds 1 MiB of stack, touched once per page */
static long dive(int levels)
{
    volatile char frame[1 << 20];
    for (unsigned i = 0; i < sizeof frame; i += 4096)
        frame[i] = (char)(levels + i / 4096);
    long r = levels ? dive(levels - 1) : signals_at_depth();
    return r + frame[4096 * 3] - (char)(levels + 3);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    int deep = argc > 1 && strcmp(argv[1], "deep") == 0;
    long r = deep ? dive(320) : signals_at_depth();
    printf("%s: handled %ld signals, handler sum %ld\n", deep ? "320 MiB deep" : "shallow", r,
           (long)handler_sum);
    printf("big_stack done\n");
    return 0;
}
