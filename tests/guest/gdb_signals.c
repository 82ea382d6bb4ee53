/* Guest signals under gdb (built -g -O0), by argument:
     usr1   a SIGUSR1 handler, raise(SIGUSR1), print whether the handler ran;
            then at_rest() (a breakpoint where gdb can send a signal: a SIGUSR2
            handler prints "got usr2"); exit 0
     segv   a store to address 0 (no handler): death by SIGSEGV */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int usr1, usr2;

static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_usr2(int sig) { (void)sig; usr2++; }

void at_rest(void)
{
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "usr1";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "segv")) {
        *(volatile int *)0 = 1;
        return 1;
    }
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    raise(SIGUSR1);
    printf("usr1 handler ran %d\n", usr1);
    at_rest();
    printf("usr2 handler ran %d\n", usr2);
    return 0;
}
