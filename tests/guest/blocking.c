/* Blocking calls and signals: a handled signal interrupts read/nanosleep/poll/
 * waitpid (EINTR, the time left for nanosleep), SA_RESTART restarts read(), a
 * signal directed at a thread blocked in read() reaches it.  A sender (a child,
 * or the main thread) repeats the signal until the blocked side says it is done,
 * so the output does not depend on when the first signal lands.
 * Usage: blocking restart|eintr|nanosleep|poll|wait|thread
 *        blocking wait-read none|handler|restart       (host-driven: SIGINT from outside)
 *        blocking wait-read-thread none|handler */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static volatile pid_t handler_tid;
static int ack[2] = {-1, -1}, done[2];

static void on_sig(int sig)
{
    (void)sig;
    handled++;
    handler_tid = (pid_t)syscall(SYS_gettid);
    if (ack[1] >= 0) {
        int e = errno;
        (void)!write(ack[1], "a", 1);
        errno = e;
    }
}

static void handle(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

/* a child that signals the parent until it writes to done[1] (or `count` acks, then writes data) */
static pid_t sender(int count, int data_fd)
{
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        close(done[1]);
        for (int i = 0; count == 0 || i < count; i++) {
            kill(parent, SIGUSR1);
            char c;
            if (read(ack[0], &c, 1) != 1)
                _exit(3);
            if (count == 0) {
                struct pollfd pfd = {done[0], POLLIN, 0};
                if (poll(&pfd, 1, 20) > 0)
                    _exit(0);
            }
        }
        if (data_fd >= 0 && write(data_fd, "late\n", 5) != 5)
            _exit(4);
        _exit(0);
    }
    return p;
}

static int reap(pid_t p)
{
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int do_restart(void)
{
    int data[2];
    if (pipe(ack) || pipe(done) || pipe(data)) return 1;
    handle(SIGUSR1, SA_RESTART);
    pid_t p = sender(3, data[1]);
    char buf[16] = {0};
    ssize_t n = read(data[0], buf, sizeof buf - 1);
    printf("SA_RESTART read: %zd '%.4s', handler ran 3 times: %d\n", n, buf, handled == 3);
    printf("sender: %d\n", reap(p));
    return 0;
}

static int do_eintr(void)
{
    int data[2];
    if (pipe(ack) || pipe(done) || pipe(data)) return 1;
    handle(SIGUSR1, 0);
    pid_t p = sender(0, -1);
    char buf[16];
    errno = 0;
    ssize_t n = read(data[0], buf, sizeof buf);
    int e = errno;
    (void)!write(done[1], "d", 1);
    printf("read without SA_RESTART: %zd %s, handler ran: %d\n", n, strerror(e), handled > 0);
    printf("sender: %d\n", reap(p));
    return 0;
}

static int do_nanosleep(void)
{
    if (pipe(ack) || pipe(done)) return 1;
    handle(SIGUSR1, SA_RESTART);          /* (nanosleep is never restarted) */
    pid_t p = sender(0, -1);
    struct timespec req = {10, 0}, rem = {-1, -1};
    errno = 0;
    int r = nanosleep(&req, &rem);
    int e = errno;
    (void)!write(done[1], "d", 1);
    printf("nanosleep: %d %s, remaining in (0, 10s]: %d\n", r, strerror(e),
           rem.tv_sec >= 0 && rem.tv_sec <= 10 && rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000 &&
               (rem.tv_sec > 0 || rem.tv_nsec > 0) && !(rem.tv_sec == 10 && rem.tv_nsec > 0));
    struct timespec req2 = {10, 0}, rem2 = {-1, -1};
    printf("sender: %d\n", reap(p));
    /* clock_nanosleep returns the error number */
    if (pipe(done)) return 1;
    p = sender(0, -1);
    r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req2, &rem2);
    (void)!write(done[1], "d", 1);
    printf("clock_nanosleep: %d (EINTR %d), remaining set: %d\n", r, EINTR, rem2.tv_sec >= 0 && rem2.tv_sec <= 10);
    printf("sender: %d\n", reap(p));
    return 0;
}

static int do_poll(void)
{
    int data[2];
    if (pipe(ack) || pipe(done) || pipe(data)) return 1;
    handle(SIGUSR1, SA_RESTART);          /* (poll is never restarted) */
    pid_t p = sender(0, -1);
    struct pollfd pfd = {data[0], POLLIN, 0};
    errno = 0;
    int r = poll(&pfd, 1, 30000);
    int e = errno;
    (void)!write(done[1], "d", 1);
    printf("poll: %d %s\n", r, strerror(e));
    printf("sender: %d\n", reap(p));
    return 0;
}

static int do_wait(void)
{
    if (pipe(ack) || pipe(done)) return 1;
    handle(SIGUSR1, 0);
    pid_t p = sender(0, -1);
    int st;
    errno = 0;
    pid_t r = waitpid(p, &st, 0);
    int e = errno;
    (void)!write(done[1], "d", 1);
    printf("waitpid without SA_RESTART: %d %s\n", (int)r, strerror(e));
    printf("sender: %d\n", reap(p));
    /* with SA_RESTART, waitpid goes on until the child exits */
    if (pipe(done)) return 1;
    handle(SIGUSR1, SA_RESTART);
    handled = 0;
    p = sender(3, -1);
    r = waitpid(p, &st, 0);
    printf("waitpid with SA_RESTART: the child %d, exit %d, handler ran 3 times %d\n", r == p, WEXITSTATUS(st),
           handled == 3);
    return 0;
}

static int tpipe[2];
static volatile pid_t reader_tid;
static volatile int reader_done;
static void *reader(void *arg)
{
    (void)arg;
    reader_tid = (pid_t)syscall(SYS_gettid);
    char buf[8];
    errno = 0;
    ssize_t n = read(tpipe[0], buf, sizeof buf);
    int e = errno;
    printf("reader thread: read %zd %s, handler ran in the reader: %d\n", n, strerror(e),
           handler_tid == reader_tid);
    reader_done = 1;
    return NULL;
}

static int do_thread(void)
{
    if (pipe(tpipe)) return 1;
    handle(SIGUSR1, 0);
    sigset_t s;                        /* the main thread never takes it */
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    while (!reader_tid)
        sched_yield();
    while (!reader_done) {
        syscall(SYS_tgkill, getpid(), reader_tid, SIGUSR1);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(th, NULL);
    printf("main: handler ran only in the reader: %d\n", handler_tid == reader_tid);
    return 0;
}

/* --- host-driven: pydbt's tests send SIGINT while the guest is blocked in read(0) */
static int wait_read(const char *how)
{
    ack[1] = 1;                        /* the handler says "a" on stdout */
    if (!strcmp(how, "handler")) handle(SIGINT, 0);
    if (!strcmp(how, "restart")) handle(SIGINT, SA_RESTART);
    printf("ready\n");
    char buf[64];
    errno = 0;
    ssize_t n = read(0, buf, sizeof buf);
    printf("read: %zd %s, handled %d\n", n, n < 0 ? strerror(errno) : "", (int)handled);
    return 0;
}

static void *thread_read(void *arg)
{
    (void)arg;
    sigset_t s;                        /* (created with the main thread's mask) */
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    reader_tid = (pid_t)syscall(SYS_gettid);
    char buf[64];
    errno = 0;
    ssize_t n = read(0, buf, sizeof buf);
    printf("thread read: %zd %s, handled in the reader %d\n", n, n < 0 ? strerror(errno) : "",
           handler_tid == reader_tid);
    return NULL;
}

static int wait_read_thread(const char *how)
{
    ack[1] = 1;
    if (!strcmp(how, "handler")) {
        handle(SIGINT, 0);
        sigset_t s;                    /* the main thread blocks it: only the reader can take it */
        sigemptyset(&s);
        sigaddset(&s, SIGINT);
        pthread_sigmask(SIG_BLOCK, &s, NULL);
    }
    pthread_t th;
    printf("ready\n");
    pthread_create(&th, NULL, thread_read, NULL);
    pthread_join(th, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    const char *a = argc > 2 ? argv[2] : "none";
    if (!strcmp(m, "restart")) return do_restart();
    if (!strcmp(m, "eintr")) return do_eintr();
    if (!strcmp(m, "nanosleep")) return do_nanosleep();
    if (!strcmp(m, "poll")) return do_poll();
    if (!strcmp(m, "wait")) return do_wait();
    if (!strcmp(m, "thread")) return do_thread();
    if (!strcmp(m, "wait-read")) return wait_read(a);
    if (!strcmp(m, "wait-read-thread")) return wait_read_thread(a);
    fprintf(stderr, "usage: blocking restart|eintr|nanosleep|poll|wait|thread|wait-read|wait-read-thread\n");
    return 2;
}
