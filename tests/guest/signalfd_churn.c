/* signalfd descriptors opened and closed many times (each close must free
 * everything behind it: run under a low RLIMIT_NOFILE, a leak ends in EMFILE),
 * also through dup + close of both and close-on-exec-free dup2 over it; then one
 * still works: a blocked SIGUSR1 raised is read from it.
 * Usage: signalfd_churn [count] */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 2000;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int done = 0;
    for (int i = 0; i < count; i++) {
        int fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (fd < 0) {
            printf("signalfd %d failed: %s\n", i, strerror(errno));
            break;
        }
        if (i % 3 == 1) {                  /* a copy: both must be closed */
            int d = dup(fd);
            close(fd);
            fd = d;
        } else if (i % 3 == 2) {           /* replaced by dup2 of another fd */
            if (dup2(0, fd) < 0)
                break;
        }
        close(fd);
        done++;
    }
    printf("signalfds opened and closed: %d of %d\n", done, count);
    int fd = signalfd(-1, &mask, 0);
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    printf("then one reads: %zd bytes, signal %u\n", n, n == sizeof si ? si.ssi_signo : 0);
    return 0;
}
