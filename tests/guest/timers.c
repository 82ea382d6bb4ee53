/* Timers: alarm + pause, setitimer ticks counted by a handler (then stopped),
 * POSIX timers (SIGEV_SIGNAL with a sigval, SIGEV_NONE, SIGEV_THREAD_ID,
 * glibc's SIGEV_THREAD, CLOCK_PROCESS_CPUTIME_ID), clock_getres,
 * clock_nanosleep with TIMER_ABSTIME.  Only timing-independent facts are
 * printed (counts with bounds checks, never raw times).
 * Usage: timers alarm|itimer|posix|thread|abstime|sigev-thread */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, alarms;
static volatile int got_value = -1, got_code, got_signo;
static volatile pid_t handler_tid;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_tick(int sig) { (void)sig; ticks++; }
static void on_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_signo = sig;
    got_code = si->si_code;
    got_value = si->si_value.sival_int;
    handler_tid = (pid_t)syscall(SYS_gettid);
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigaction(sig, &sa, NULL);
}

static int do_alarm(void)
{
    handle(SIGALRM, on_alarm);
    /* nothing between alarm and pause: the first printf's translation could take
       longer than the alarm on a loaded host, and a pause after it waits forever */
    unsigned left = alarm(1);
    int r = pause();
    int e = errno;
    printf("alarm(1) returns %u\n", left);
    printf("pause: %d %s, alarms=%d\n", r, strerror(e), (int)alarms);
    printf("alarm(5) then alarm(0) returns %s\n", (alarm(5), alarm(0)) >= 4 ? "about 5" : "wrong");
    return 0;
}

static int do_itimer(void)
{
    handle(SIGALRM, on_tick);
    struct itimerval it = {{0, 20000}, {0, 20000}}, cur, old;
    setitimer(ITIMER_REAL, &it, NULL);
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer: interval 20000us %d, value in (0, 20000us] %d\n",
           cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 20000,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 20000);
    sigset_t none;
    sigemptyset(&none);
    while (ticks < 5)
        sigsuspend(&none);
    struct itimerval zero = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &zero, &old);
    printf("ticks reached 5: %d, old interval 20000us %d\n", ticks >= 5, old.it_interval.tv_usec == 20000);
    int at_stop = ticks;
    getitimer(ITIMER_REAL, &cur);
    printf("stopped: value 0 %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
    struct timespec ts = {0, 100000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    printf("no tick after the stop: %d\n", ticks == at_stop);
    printf("setitimer(7): %d %s\n", setitimer(7, &it, NULL), strerror(errno));
    /* ITIMER_PROF: burn CPU until it fires */
    handle(SIGPROF, on_alarm);
    struct itimerval prof = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_PROF, &prof, NULL);
    volatile unsigned long spin = 0;
    while (!alarms && spin < 4000000000UL)
        spin++;
    printf("ITIMER_PROF fired while busy: %d\n", (int)alarms);
    return 0;
}

static int do_posix(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN + 1, &sa, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &block, &old);

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN + 1;
    sev.sigev_value.sival_int = 1234;
    timer_t t;
    printf("timer_create: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
    struct itimerspec its = {{0, 0}, {0, 30000000}}, cur;
    timer_settime(t, 0, &its, NULL);
    timer_gettime(t, &cur);
    printf("timer_gettime while armed: value in (0, 30ms] %d\n",
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 30000000);
    sigsuspend(&old);
    printf("handler: signo is SIGRTMIN+1 %d, si_code SI_TIMER %d, si_value %d\n",
           got_signo == SIGRTMIN + 1, got_code == SI_TIMER, got_value);
    timer_gettime(t, &cur);
    printf("after expiry: value 0 %d, overrun %d\n",
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, timer_getoverrun(t));
    /* periodic while the signal is blocked: overruns accumulate, one signal */
    struct itimerspec per = {{0, 5000000}, {0, 5000000}};
    timer_settime(t, 0, &per, NULL);
    struct timespec ts = {0, 60000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    sigset_t pend;
    sigpending(&pend);
    printf("pending while blocked: %d\n", sigismember(&pend, SIGRTMIN + 1));
    siginfo_t si;
    struct timespec zero = {0, 0};
    int s = sigtimedwait(&block, &si, &zero);
    printf("sigtimedwait took it: %d, si_overrun > 0 %d, si_value %d\n",
           s == SIGRTMIN + 1, si.si_overrun > 0, si.si_value.sival_int);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timer_settime(t, 0, &off, NULL);
    printf("timer_delete: %d, again: %d %s\n", timer_delete(t), timer_delete(t), strerror(errno));

    /* SIGEV_NONE: nothing is sent, the time runs */
    sev.sigev_notify = SIGEV_NONE;
    timer_t n;
    timer_create(CLOCK_REALTIME, &sev, &n);
    struct itimerspec ten = {{0, 0}, {10, 0}};
    timer_settime(n, 0, &ten, NULL);
    timer_gettime(n, &cur);
    printf("SIGEV_NONE: value in (9s, 10s] %d\n", cur.it_value.tv_sec == 9 || (cur.it_value.tv_sec == 10 && cur.it_value.tv_nsec == 0));
    timer_delete(n);

    /* errors */
    errno = 0;
    printf("timer_create(bad clock): %d %s\n", timer_create(99, &sev, &n), strerror(errno));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = 0;
    printf("timer_create(signal 0): %d %s\n", timer_create(CLOCK_MONOTONIC, &sev, &n), strerror(errno));
    printf("timer_settime(bad id): %d %s\n", (int)syscall(SYS_timer_settime, 999, 0, &its, NULL), strerror(errno));
    struct timespec res;
    printf("clock_getres(MONOTONIC): %d, fine %d\n", clock_getres(CLOCK_MONOTONIC, &res),
           res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
    printf("clock_getres(bad): %d %s\n", clock_getres(99, &res), strerror(errno));

    /* CLOCK_PROCESS_CPUTIME_ID: fires while the process is busy */
    sigprocmask(SIG_SETMASK, &old, NULL);
    got_value = -1;
    sev.sigev_signo = SIGRTMIN + 1;
    sev.sigev_value.sival_int = 77;
    timer_t c;
    timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &c);
    struct itimerspec cpu = {{0, 0}, {0, 20000000}};
    timer_settime(c, 0, &cpu, NULL);
    volatile unsigned long spin = 0;
    while (got_value != 77 && spin < 4000000000UL)
        spin++;
    printf("CPU-time timer fired while busy: %d\n", got_value == 77);
    timer_delete(c);
    return 0;
}

static sem_t sem;
static volatile int thread_calls, thread_value;
static void notify_fn(union sigval v) { thread_value = v.sival_int; thread_calls++; sem_post(&sem); }

static sem_t ready;
static volatile pid_t target_tid;
static void *target(void *arg)
{
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    sem_post(&ready);
    struct timespec ts = {5, 0};
    while (got_value != 55 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
    return NULL;
}

/* glibc's SIGEV_THREAD (a helper thread waiting in sigwaitinfo for SIGEV_THREAD_ID
 * signals, starting a detached thread for each expiry: each new thread maps its
 * malloc arena while others do). */
static int do_sigev_thread(void)
{
    sem_init(&sem, 0, 0);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = notify_fn;
    sev.sigev_value.sival_int = 99;
    timer_t t;
    printf("timer_create(SIGEV_THREAD): %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
    struct itimerspec its = {{0, 10000000}, {0, 10000000}};
    timer_settime(t, 0, &its, NULL);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    int ok = 1;
    for (int i = 0; i < 3; i++)
        ok &= sem_timedwait(&sem, &dl) == 0;
    timer_delete(t);
    printf("SIGEV_THREAD function ran 3 times: %d, value %d\n", ok, thread_value);
    return 0;
}

static int do_thread(void)
{
    /* SIGEV_THREAD_ID: the signal goes to that thread */
    struct sigevent sev;
    timer_t t;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    sem_init(&ready, 0, 0);
    pthread_t th;
    pthread_create(&th, NULL, target, NULL);
    sem_wait(&ready);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 55;
    sev._sigev_un._tid = target_tid;
    printf("timer_create(SIGEV_THREAD_ID): %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
    struct itimerspec once = {{0, 0}, {0, 20000000}};
    timer_settime(t, 0, &once, NULL);
    pthread_join(th, NULL);
    printf("SIGEV_THREAD_ID: handled in the target thread %d, value %d\n", handler_tid == target_tid, got_value);
    timer_delete(t);
    sev._sigev_un._tid = 1 << 30;
    printf("SIGEV_THREAD_ID to no thread: %d %s\n", timer_create(CLOCK_MONOTONIC, &sev, &t), strerror(errno));
    return 0;
}

static int do_abstime(void)
{
    struct timespec now, until, t2;
    clock_gettime(CLOCK_MONOTONIC, &now);
    until = now;
    until.tv_nsec += 50000000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    printf("clock_nanosleep(ABSTIME): %d, woke after the deadline %d\n", r,
           t2.tv_sec > until.tv_sec || (t2.tv_sec == until.tv_sec && t2.tv_nsec >= until.tv_nsec));
    struct timespec past = {0, 0};
    printf("ABSTIME in the past: %d\n", clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, NULL));
    struct timespec bad = {0, 1000000000};
    printf("bad timespec: %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL));
    printf("thread CPU clock: %d\n", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &past, NULL));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "alarm")) return do_alarm();
    if (!strcmp(m, "itimer")) return do_itimer();
    if (!strcmp(m, "posix")) return do_posix();
    if (!strcmp(m, "thread")) return do_thread();
    if (!strcmp(m, "sigev-thread")) return do_sigev_thread();
    if (!strcmp(m, "abstime")) return do_abstime();
    fprintf(stderr, "usage: timers alarm|itimer|posix|thread|abstime\n");
    return 2;
}
