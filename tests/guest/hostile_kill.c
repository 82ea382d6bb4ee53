/* A signal sent to itself with its default disposition: kill(getpid(), sig)
 * or raise(sig) (tgkill).  Linux ends the process with that signal, ignores
 * it (SIGCHLD, SIGURG, SIGWINCH, SIGCONT) or stops it (SIGSTOP, SIGTSTP,
 * SIGTTIN, SIGTTOU; the process goes on once a SIGCONT comes).
 *
 * usage: hostile_kill kill|raise SIG
 * Prints "sending SIG", then "survived SIG" and exits 0 if it goes on. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hostile_kill kill|raise SIG\n");
        return 2;
    }
    int sig = atoi(argv[2]);
    printf("sending %d\n", sig);
    fflush(stdout);
    int r = strcmp(argv[1], "raise") == 0 ? raise(sig) : kill(getpid(), sig);
    printf("survived %d (r=%d)\n", sig, r);
    return 0;
}
