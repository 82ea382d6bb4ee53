/* Event descriptors, each result printed (compared with qemu-riscv64):
 * epoll over pipes (level-triggered, EPOLLET, EPOLLONESHOT, a 64-bit data
 * value round trip, timeouts bounded from below, errors), epoll_pwait with a
 * signal mask that lets a pending signal through (EINTR, the handler runs,
 * the old mask is back after), eventfd (counter and EFD_SEMAPHORE, EAGAIN),
 * a timerfd loop counted through epoll (expirations bounded, not exact),
 * timerfd_gettime, inotify in the directory argv[1] (create, modify, delete,
 * names), a signal sent by a child while epoll_pwait waits (EINTR, handled
 * once: the signal is blocked outside the call, so the order does not
 * matter), and with argv[2] "kernel" epoll_pwait2, which qemu 7.2 lacks
 * (tests/system/test_events.py checks those lines against the kernel's
 * documented answers).
 * Exit status 0; the last line is "events done, failures=N". */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHOW(expr) SHOW_AS(52, #expr, expr)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void show_events(const char *what, int n, struct epoll_event *ev)
{
    printf("%s: n=%d", what, n);
    for (int i = 0; i < n; i++)
        printf(" [events=%#x data=%#llx]", ev[i].events, (unsigned long long)ev[i].data.u64);
    printf("\n");
}

static void epoll_pipes(void)
{
    int p[2], q[2];
    struct epoll_event ev, out[8];
    pipe(p);
    pipe(q);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "%s", "ep >= 0");
    SHOW(fcntl(ep, F_GETFD));
    SHOW(epoll_create1(1));
    SHOW(sizeof(struct epoll_event));

    ev.events = EPOLLIN;
    ev.data.u64 = 0x123456789abcdef0ULL;
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL));
    SHOW(epoll_ctl(ep, 99, p[0], &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, 12345, &ev));
    SHOW(epoll_ctl(p[0], EPOLL_CTL_ADD, q[0], &ev));
    SHOW(epoll_wait(ep, out, 0, 0));
    SHOW(epoll_wait(p[0], out, 1, 0));

    /* nothing yet: a timeout of 0 and one of 50 ms */
    show_events("empty, timeout 0", epoll_wait(ep, out, 8, 0), out);
    double t0 = now();
    int n = epoll_wait(ep, out, 8, 50);
    double dt = now() - t0;
    show_events("empty, timeout 50ms", n, out);
    printf("waited >= 45ms: %d\n", dt >= 0.045);

    /* level-triggered: ready until read */
    write(p[1], "ab", 2);
    show_events("LT after write", epoll_wait(ep, out, 8, 1000), out);
    show_events("LT again", epoll_wait(ep, out, 8, 0), out);
    char c[4];
    read(p[0], c, 2);
    show_events("LT after read", epoll_wait(ep, out, 8, 0), out);

    /* edge-triggered: once per new write */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 0xfedcba9876543210ULL;
    SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    write(p[1], "x", 1);
    show_events("ET after write", epoll_wait(ep, out, 8, 1000), out);
    show_events("ET again", epoll_wait(ep, out, 8, 0), out);
    write(p[1], "y", 1);
    show_events("ET second write", epoll_wait(ep, out, 8, 1000), out);
    read(p[0], c, 2);

    /* one-shot: disabled after one event until re-armed with MOD */
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.fd = q[0];
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
    write(q[1], "z", 1);
    show_events("ONESHOT first", epoll_wait(ep, out, 8, 1000), out);
    show_events("ONESHOT disarmed", epoll_wait(ep, out, 8, 0), out);
    SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, q[0], &ev));
    show_events("ONESHOT re-armed", epoll_wait(ep, out, 8, 0), out);
    read(q[0], c, 1);

    /* writable end and hang-up */
    ev.events = EPOLLOUT;
    ev.data.u64 = 7;
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    show_events("EPOLLOUT", epoll_wait(ep, out, 8, 0), out);
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    close(q[1]);
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL));
    ev.events = EPOLLIN;
    ev.data.u64 = 0x8000000000000001ULL;
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
    show_events("hang-up", epoll_wait(ep, out, 8, 1000), out);

    /* maxevents smaller than the ready list */
    write(p[1], "w", 1);
    show_events("maxevents 1", epoll_wait(ep, out, 1, 1000), out);
    close(ep);
    close(p[0]);
    close(p[1]);
    close(q[0]);
}

static volatile int got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

static void epoll_sigmask(void)
{
    struct epoll_event out[2];
    int p[2];
    pipe(p);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, empty, cur;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    printf("handled before epoll_pwait: %d\n", got_usr1);
    /* the blocked signal is pending: a mask that blocks it too waits out the timeout */
    show_events("pwait, mask blocks it", epoll_pwait(ep, out, 2, 20, &block), out);
    printf("handled: %d\n", got_usr1);
    errno = 0;
    int n = epoll_pwait(ep, out, 2, 5000, &empty);
    printf("pwait, empty mask: n=%d errno=%s handled=%d\n", n, strerrorname_np(errno), got_usr1);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("SIGUSR1 blocked again after: %d\n", sigismember(&cur, SIGUSR1));
    SHOW(epoll_pwait(ep, out, 2, 0, (sigset_t *)0x10));
    SHOW(syscall(SYS_epoll_pwait, ep, out, 2, 0, &empty, 4));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    close(ep);
    close(p[0]);
    close(p[1]);
}

static void eventfds(void)
{
    uint64_t v;
    int fd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
    SHOW(fcntl(fd, F_GETFD));
    SHOW(fcntl(fd, F_GETFL) & O_NONBLOCK);
    SHOW(eventfd(0, 0x40));
    v = 3;
    SHOW(write(fd, &v, 8));
    SHOW(read(fd, &v, 8));
    printf("counter read: %llu\n", (unsigned long long)v);
    SHOW(read(fd, &v, 8));
    SHOW(read(fd, &v, 4));
    v = ~0ULL;
    SHOW(write(fd, &v, 8));
    close(fd);

    fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
    v = 3;
    write(fd, &v, 8);
    for (int i = 0; i < 4; i++) {
        v = 0;
        errno = 0;
        long r = read(fd, &v, 8);
        printf("semaphore read %d: r=%ld v=%llu errno=%s\n", i, r, (unsigned long long)v,
               r < 0 ? strerrorname_np(errno) : "0");
    }
    /* epoll over the eventfd */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = 42}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    show_events("eventfd empty", epoll_wait(ep, out, 2, 0), out);
    v = 2;
    write(fd, &v, 8);
    show_events("eventfd written", epoll_wait(ep, out, 2, 0), out);
    close(ep);
    close(fd);
}

static void timerfds(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    SHOW(fcntl(fd, F_GETFD));
    SHOW(timerfd_create(12345, 0));
    SHOW(timerfd_create(CLOCK_MONOTONIC, 0x40));
    struct itimerspec its = {.it_interval = {0, 10000000}, .it_value = {0, 10000000}}, cur, old;
    double t0 = now();
    SHOW(timerfd_settime(fd, 0, &its, NULL));
    SHOW(timerfd_gettime(fd, &cur));
    printf("interval %ld.%09ld, value <= interval: %d\n", (long)cur.it_interval.tv_sec,
           cur.it_interval.tv_nsec, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 10000000);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x7100000000000001ULL}, out[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    uint64_t total = 0, exp;
    int wakeups = 0;
    while (total < 10 && wakeups < 1000) {
        int n = epoll_wait(ep, out, 2, 2000);
        if (n != 1 || out[0].data.u64 != 0x7100000000000001ULL)
            break;
        wakeups++;
        if (read(fd, &exp, 8) == 8)
            total += exp;
    }
    double dt = now() - t0;
    printf("timerfd: expirations >= 10: %d, each wake-up >= 1: %d, took >= 95ms: %d\n",
           total >= 10, wakeups >= 1 && (uint64_t)wakeups <= total, dt >= 0.095);
    its.it_value.tv_sec = its.it_value.tv_nsec = 0;
    SHOW(timerfd_settime(fd, 0, &its, &old));
    printf("old interval %ld.%09ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    SHOW(timerfd_gettime(fd, &cur));
    printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* an absolute time already past: expired at once */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    its.it_interval.tv_sec = its.it_interval.tv_nsec = 0;
    its.it_value = t;
    its.it_value.tv_sec -= 1;
    SHOW(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
    exp = 0;
    SHOW(read(fd, &exp, 8));
    printf("expired: %llu\n", (unsigned long long)exp);
    its.it_value.tv_nsec = 1000000000;
    SHOW(timerfd_settime(fd, 0, &its, NULL));
    SHOW(timerfd_settime(fd, 4, &its, NULL));
    SHOW(timerfd_settime(fd, 0, NULL, NULL));
    SHOW(timerfd_gettime(0, &cur));
    close(ep);
    close(fd);
    int rt = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    clock_gettime(CLOCK_REALTIME, &t);
    its.it_value.tv_sec = t.tv_sec + 3600;
    its.it_value.tv_nsec = 0;
    SHOW(timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
    SHOW(read(rt, &exp, 8));
    close(rt);
}

static const char *in_name(uint32_t m)
{
    static char buf[128];
    buf[0] = 0;
    static const struct { uint32_t bit; const char *name; } t[] = {
        {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
        {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
        {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
        {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_IGNORED, "IGNORED"},
        {IN_ISDIR, "ISDIR"}};
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++)
        if (m & t[i].bit) {
            if (buf[0])
                strcat(buf, "|");
            strcat(buf, t[i].name);
        }
    return buf;
}

static void inotify(const char *dir)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    SHOW(fcntl(fd, F_GETFD));
    SHOW(inotify_init1(0x40));
    int wd = inotify_add_watch(fd, dir, IN_CREATE | IN_MODIFY | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                            IN_MOVED_TO);
    printf("wd >= 1: %d\n", wd >= 1);
    SHOW(inotify_add_watch(fd, "/nonexistent/x", IN_CREATE));
    SHOW(inotify_add_watch(fd, dir, 0));
    SHOW(inotify_add_watch(0, dir, IN_CREATE));
    char path[512], path2[512];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    snprintf(path2, sizeof path2, "%s/b.txt", dir);
    char ebuf[4096] __attribute__((aligned(8)));
    SHOW(read(fd, ebuf, sizeof ebuf));
    int f = open(path, O_CREAT | O_WRONLY, 0644);
    write(f, "hello", 5);
    close(f);
    rename(path, path2);
    unlink(path2);
    mkdir(path, 0755);
    rmdir(path);
    /* epoll says the inotify fd is readable */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 99}, out[1];
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    show_events("inotify readable", epoll_wait(ep, out, 1, 1000), out);
    close(ep);
    long n = read(fd, ebuf, sizeof ebuf);
    uint32_t cookie = 0;
    for (long off = 0; off < n;) {
        struct inotify_event *e = (struct inotify_event *)(ebuf + off);
        const char *cookie_note = "";
        if (e->mask & IN_MOVED_FROM)
            cookie = e->cookie;
        if (e->mask & IN_MOVED_TO)
            cookie_note = e->cookie == cookie && cookie ? " (cookie matches)" : " (cookie differs)";
        printf("event: wd_ok=%d %s name=%s len%%4=%d%s\n", e->wd == wd, in_name(e->mask),
               e->len ? e->name : "", (int)(e->len % 4), cookie_note);
        off += sizeof *e + e->len;
    }
    SHOW(sizeof(struct inotify_event));
    SHOW(inotify_rm_watch(fd, wd));
    n = read(fd, ebuf, sizeof ebuf);
    struct inotify_event *e = (struct inotify_event *)ebuf;
    printf("after rm_watch: n=%ld %s\n", n, n > 0 ? in_name(e->mask) : "");
    SHOW(inotify_rm_watch(fd, wd));
    close(fd);
}

static volatile int got_usr2;
static void on_usr2(int sig) { (void)sig; got_usr2++; }

static void epoll_signal_during_wait(void)
{
    int p[2], ready[2];
    pipe(p);
    pipe(ready);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, out[1];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;                  /* epoll waits never restart (signal(7)) */
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t block, empty;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        read(ready[0], &c, 1);
        usleep(50000);
        kill(parent, SIGUSR2);
        _exit(0);
    }
    write(ready[1], "g", 1);
    errno = 0;
    int n = epoll_pwait(ep, out, 1, 10000, &empty);
    printf("signal during epoll_pwait: n=%d errno=%s handled=%d\n", n, strerrorname_np(errno), got_usr2);
    waitpid(pid, NULL, 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    close(ep);
    close(p[0]);
    close(p[1]);
    close(ready[0]);
    close(ready[1]);
}

static void pwait2(void)
{
    int p[2];
    pipe(p);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5}, out[1];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct timespec ts = {0, 30000000};
    double t0 = now();
    errno = 0;
    long r = syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8);
    if (r < 0 && errno == ENOSYS) {
        printf("epoll_pwait2: ENOSYS\n");       /* qemu 7.2 */
    } else {
        printf("epoll_pwait2: r=%ld waited >= 25ms: %d\n", r, now() - t0 >= 0.025);
        ts.tv_nsec = 1000000000;
        SHOW(syscall(SYS_epoll_pwait2, ep, out, 1, &ts, NULL, 8));
        write(p[1], "q", 1);
        show_events("epoll_pwait2 ready", syscall(SYS_epoll_pwait2, ep, out, 1, NULL, NULL, 8), out);
    }
    close(ep);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    epoll_pipes();
    epoll_sigmask();
    eventfds();
    timerfds();
    inotify(dir);
    epoll_signal_during_wait();
    if (argc > 2 && strcmp(argv[2], "kernel") == 0)   /* calls qemu 7.2 lacks */
        pwait2();
    printf("events done, failures=%d\n", fail_count);
    return 0;
}
