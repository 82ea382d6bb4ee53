/* Waiting for signals: sigsuspend woken by a child's kill, sigtimedwait with a
 * timeout and with a pending signal (siginfo), sigpending, sigqueue and
 * rt_tgsigqueueinfo (the sigval reaches an SA_SIGINFO handler), signalfd
 * (poll, read, EAGAIN, a child's signal, epoll).
 * Usage: sigwait suspend|timedwait|queue|signalfd */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;
static volatile int got_value, got_code, got_pid_ok, got_sig;
static void on_usr1(int sig) { (void)sig; usr1++; }
static void on_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_value = si->si_value.sival_int;
    got_code = si->si_code;
    got_pid_ok = si->si_pid == getpid();
}

static void block(int sig, sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_BLOCK, &s, old);
}

static int reap(pid_t p)
{
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int do_suspend(void)
{
    signal(SIGUSR1, on_usr1);
    sigset_t old;
    block(SIGUSR1, &old);
    pid_t p = fork();
    if (p == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    int r = sigsuspend(&old);
    printf("sigsuspend: %d %s, handler ran %d\n", r, strerror(errno), (int)usr1);
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("mask restored (SIGUSR1 blocked again): %d\n", sigismember(&now, SIGUSR1));
    printf("child: %d\n", reap(p));
    return 0;
}

static int do_timedwait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGRTMIN + 3);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct timespec tmo = {0, 50000000};
    siginfo_t si;
    errno = 0;
    printf("timeout: %d %s\n", sigtimedwait(&set, &si, &tmo), strerror(errno));
    raise(SIGUSR2);
    sigset_t pend;
    sigpending(&pend);
    printf("sigpending has SIGUSR2: %d, SIGUSR1: %d\n", sigismember(&pend, SIGUSR2), sigismember(&pend, SIGUSR1));
    memset(&si, 0, sizeof si);
    int s = sigtimedwait(&set, &si, &tmo);
    printf("pending: %d (SIGUSR2 %d), si_signo %d, si_code SI_TKILL %d, si_pid ok %d\n", s, SIGUSR2,
           si.si_signo == SIGUSR2, si.si_code == SI_TKILL, si.si_pid == getpid());
    sigpending(&pend);
    printf("taken: still pending %d\n", sigismember(&pend, SIGUSR2));
    /* queued real-time signals come out in order, with their values */
    union sigval v;
    for (int i = 1; i <= 3; i++) {
        v.sival_int = 100 + i;
        sigqueue(getpid(), SIGRTMIN + 3, v);
    }
    for (int i = 0; i < 3; i++) {
        s = sigwaitinfo(&set, &si);
        printf("sigwaitinfo: SIGRTMIN+3 %d, SI_QUEUE %d, value %d\n", s == SIGRTMIN + 3, si.si_code == SI_QUEUE,
               si.si_value.sival_int);
    }
    /* from another process: blocked, default action, still waits here */
    pid_t p = fork();
    if (p == 0) {
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    struct timespec long_tmo = {30, 0};
    s = sigtimedwait(&set, &si, &long_tmo);
    printf("a child's SIGUSR2: %d, si_pid is the child %d, si_code SI_USER %d\n", s == SIGUSR2, si.si_pid == p,
           si.si_code == SI_USER);
    printf("child: %d\n", reap(p));
    struct timespec bad = {0, 2000000000};
    printf("bad timeout: %d %s\n", sigtimedwait(&set, &si, &bad), strerror(errno));
    return 0;
}

static int do_queue(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN + 2, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    union sigval v = {.sival_int = 42};
    printf("sigqueue: %d\n", sigqueue(getpid(), SIGRTMIN + 2, v));
    printf("handler: value %d, si_code SI_QUEUE %d, si_pid ok %d\n", got_value, got_code == SI_QUEUE, got_pid_ok);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 7;
    long r = syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR1, &si);
    printf("rt_tgsigqueueinfo: %ld, handler value %d, SIGUSR1 %d\n", r, got_value, got_sig == SIGUSR1);
    si.si_code = SI_USER;
    errno = 0;
    r = syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si);
    printf("rt_sigqueueinfo with SI_USER: %ld %s\n", r, strerror(errno));
    si.si_code = SI_QUEUE;
    printf("bad signal: %ld %s\n", (long)syscall(SYS_rt_sigqueueinfo, getpid(), 65, &si), strerror(errno));
    printf("no such thread: %ld %s\n", (long)syscall(SYS_rt_tgsigqueueinfo, getpid(), 1 << 30, SIGUSR1, &si),
           strerror(errno));
    return 0;
}

static int do_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("signalfd: %d\n", fd >= 0);
    struct signalfd_siginfo ssi;
    errno = 0;
    printf("empty read: %zd %s\n", read(fd, &ssi, sizeof ssi), strerror(errno));
    struct pollfd pfd = {fd, POLLIN, 0};
    printf("poll while empty: %d\n", poll(&pfd, 1, 0));
    raise(SIGUSR2);
    printf("poll after raise: %d revents POLLIN %d\n", poll(&pfd, 1, 0), (pfd.revents & POLLIN) != 0);
    ssize_t n = read(fd, &ssi, sizeof ssi);
    printf("read: %zd, ssi_signo SIGUSR2 %d, ssi_code SI_TKILL %d, ssi_pid ok %d\n", n, ssi.ssi_signo == SIGUSR2,
           ssi.ssi_code == SI_TKILL, ssi.ssi_pid == (unsigned)getpid());
    printf("poll after read: %d\n", poll(&pfd, 1, 0));
    printf("short buffer: %zd %s\n", read(fd, &ssi, 8), strerror(errno));
    /* a child's signal, waited for with epoll */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    pid_t p = fork();
    if (p == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    int k = epoll_wait(ep, &out, 1, 30000);
    printf("epoll_wait: %d, data %u\n", k, out.data.u32);
    n = read(fd, &ssi, sizeof ssi);
    printf("read: %zd, ssi_signo SIGUSR1 %d, ssi_pid is the child %d\n", n, ssi.ssi_signo == SIGUSR1,
           ssi.ssi_pid == (unsigned)p);
    printf("child: %d\n", reap(p));
    /* a blocking signalfd: woken by a sigqueue from a child */
    int bfd = signalfd(-1, &set, 0);
    p = fork();
    if (p == 0) {
        union sigval v = {.sival_int = 31};
        sigqueue(getppid(), SIGUSR2, v);
        _exit(0);
    }
    n = read(bfd, &ssi, sizeof ssi);
    printf("blocking read: %zd, SIGUSR2 %d, ssi_int %d, SI_QUEUE %d\n", n, ssi.ssi_signo == SIGUSR2, ssi.ssi_int,
           ssi.ssi_code == SI_QUEUE);
    printf("child: %d\n", reap(p));
    /* changing the mask of an existing signalfd */
    sigset_t only1;
    sigemptyset(&only1);
    sigaddset(&only1, SIGUSR1);
    printf("signalfd(fd, new mask): same fd %d\n", signalfd(fd, &only1, 0) == fd);
    raise(SIGUSR2);
    printf("SIGUSR2 no longer shown: %zd %s\n", read(fd, &ssi, sizeof ssi), strerror(errno));
    printf("signalfd(not a signalfd): %d %s\n", signalfd(ep, &set, 0), strerror(errno));
    printf("bad flags: %d %s\n", signalfd(-1, &set, 1), strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "suspend")) return do_suspend();
    if (!strcmp(m, "timedwait")) return do_timedwait();
    if (!strcmp(m, "queue")) return do_queue();
    if (!strcmp(m, "signalfd")) return do_signalfd();
    fprintf(stderr, "usage: sigwait suspend|timedwait|queue|signalfd\n");
    return 2;
}
