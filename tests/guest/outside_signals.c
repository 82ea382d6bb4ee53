/* Signals sent from another process (the test): to one thread with tgkill, and
 * signal 64 (SIGRTMAX).  The program says "ready <tid>" when the target may be
 * signalled; the handler (SA_SIGINFO) records where it ran and the siginfo.
 * Usage: outside_signals thread-read   a second thread blocks in read() (no SA_RESTART)
 *        outside_signals thread-spin   a second thread computes until the handler ran
 *        outside_signals rtmax         the main thread waits in sigsuspend for signal 64 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static volatile pid_t handler_tid;
static volatile int got_sig, got_code, got_pid;
static int data[2];

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_pid = si->si_pid;
    handler_tid = (pid_t)syscall(SYS_gettid);
    handled++;
}

static void handle(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

static void report(const char *who, pid_t me)
{
    printf("%s: signal %d, handler ran once: %d, on this thread: %d, si_code %s, si_pid is the sender: %d\n",
           who, got_sig, handled == 1, handler_tid == me,
           got_code == SI_TKILL ? "SI_TKILL" : got_code == SI_USER ? "SI_USER" : "other",
           got_pid == getppid());
}

static void ready(void)
{
    printf("ready %d\n", (int)syscall(SYS_gettid));
    fflush(stdout);
}

static void *reader(void *arg)
{
    (void)arg;
    pid_t me = (pid_t)syscall(SYS_gettid);
    char c;
    ready();
    errno = 0;
    ssize_t n = read(data[0], &c, 1);
    int e = errno;
    printf("reader: read %zd %s\n", n, strerror(e));
    report("reader", me);
    return NULL;
}

static void *spinner(void *arg)
{
    (void)arg;
    pid_t me = (pid_t)syscall(SYS_gettid);
    unsigned long x = 1;
    ready();
    while (!handled)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    report("spinner", me);
    return (void *)(x & 1);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (pipe(data))
        return 1;
    if (!strcmp(mode, "rtmax")) {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, 64);
        sigprocmask(SIG_BLOCK, &block, &old);
        handle(64);
        ready();
        while (!handled)
            sigsuspend(&old);
        report("main", (pid_t)syscall(SYS_gettid));
        return 0;
    }
    pthread_t t;
    handle(SIGUSR1);
    if (pthread_create(&t, NULL, !strcmp(mode, "thread-read") ? reader : spinner, NULL))
        return 2;
    pthread_join(t, NULL);
    printf("main: handler ran on the main thread: %d\n", handler_tid == (pid_t)syscall(SYS_gettid));
    return 0;
}
