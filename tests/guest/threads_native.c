/* Guest threads running translated code at the same time (pydbt's native tier
 * runs them in parallel, without the GIL): every result is exact, so the output
 * is the same under any emulator.
 *
 *   hammer  N threads x ROUNDS: __atomic_fetch_add on a 64- and a 32-bit counter
 *           (AMOs), a spinlock made of amoswap (acquire) and a plain release
 *           store around a plain read-modify-write, compare-and-swap loops
 *           (LR/SC) on a 64- and a 32-bit word, fetch_or / fetch_and of each
 *           thread's own bit in a shared word, a max by CAS, amomin.d, amomaxu.w.
 *   signals a thread that only computes while the main thread sends it SIGUSR1
 *           one at a time (each must be handled while it computes)
 *   fork    the main thread forks while another thread computes; the child
 *           computes the same thing alone and exits with a digest of it
 * argv[1]: the mode ("all" by default), argv[2]: the rounds per thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4

static long rounds = 5000;
static int64_t c64;
static int32_t c32;
static int spin;                 /* the spinlock: amoswap to take, a plain store to free */
static long plain;               /* guarded by spin: a plain load, add, store */
static int64_t cas64;
static int32_t cas32;
static uint64_t bits;
static int64_t maxv, minv;
static uint32_t umax;
static int start;

/* AMOs gcc 12 has no builtin for */
static int64_t amomin_d(int64_t *p, int64_t v)
{
    int64_t old;
    __asm__ volatile("amomin.d.aqrl %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
    return old;
}

static uint32_t amomaxu_w(uint32_t *p, uint32_t v)
{
    uint32_t old;
    __asm__ volatile("amomaxu.w %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
    return old;
}

static void lock(void)
{
    while (__atomic_exchange_n(&spin, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&spin, __ATOMIC_ACQUIRE))
            ;
}

static void unlock(void)
{
    /* a plain store (gcc makes __atomic_store_n an amoswap): racing another
     * thread's amoswap, it must not be lost */
    __asm__ volatile("fence rw, w\n\tsw zero, %0" : "=A"(spin) : : "memory");
}

static void *hammer(void *arg)
{
    long id = (long)arg;
    uint64_t mine = 1ull << (8 * id);
    while (!__atomic_load_n(&start, __ATOMIC_ACQUIRE))
        ;
    for (long i = 0; i < rounds; i++) {
        __atomic_fetch_add(&c64, 3, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c32, 1, __ATOMIC_SEQ_CST);
        lock();
        plain += 2;
        unlock();
        int64_t o = __atomic_load_n(&cas64, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cas64, &o, o + 5, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            ;
        int32_t p = __atomic_load_n(&cas32, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cas32, &p, p + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            ;
        /* set then clear this thread's bit: another thread's fetch_or/and in
         * between must not lose it (each thread's byte ends with its bit clear
         * and one higher bit set) */
        __atomic_fetch_or(&bits, mine, __ATOMIC_RELAXED);
        __atomic_fetch_and(&bits, ~mine, __ATOMIC_RELAXED);
        __atomic_fetch_or(&bits, mine << 1, __ATOMIC_RELAXED);
        int64_t v = id * rounds + i;
        int64_t m = __atomic_load_n(&maxv, __ATOMIC_RELAXED);
        while (v > m && !__atomic_compare_exchange_n(&maxv, &m, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        amomin_d(&minv, -v);
        amomaxu_w(&umax, (uint32_t)(v * 2654435761u));
    }
    return NULL;
}

static int hammer_mode(void)
{
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    __atomic_store_n(&start, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    long n = NTHREADS * rounds;
    printf("amoadd.d %lld (expected %ld)\n", (long long)c64, 3 * n);
    printf("amoadd.w %d (expected %ld)\n", c32, n);
    printf("spinlock %ld (expected %ld)\n", plain, 2 * n);
    printf("lr/sc.d %lld (expected %ld)\n", (long long)cas64, 5 * n);
    printf("lr/sc.w %d (expected %ld)\n", cas32, n);
    printf("bits %#llx\n", (unsigned long long)bits);
    printf("max %lld min %lld (expected %ld %ld)\n", (long long)maxv, (long long)minv, n - 1, -(n - 1));
    uint32_t want = 0;
    for (long v = 0; v < n; v++)
        if ((uint32_t)(v * 2654435761u) > want)
            want = (uint32_t)(v * 2654435761u);
    printf("amomaxu.w %#x (expected %#x)\n", umax, want);
    return 0;
}

/* --- a computing thread, and signals sent to it -------------------------------- */
static volatile int stop;
static volatile int handled;
static volatile int computing;
static uint64_t digest;

static uint64_t compute(long n)
{
    uint64_t x = 1;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ull + (uint64_t)i;
    return x;
}

static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static void *computer(void *arg)
{
    (void)arg;
    uint64_t x = 7, laps = 0;
    computing = 1;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        laps++;
    }
    digest = x;
    return (void *)(uintptr_t)(laps > 0);
}

static void wait_for(volatile int *p, int value)
{
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < value)
        sched_yield();
}

static int signals_mode(void)
{
    signal(SIGUSR1, on_usr1);
    pthread_t t;
    pthread_create(&t, NULL, computer, NULL);
    wait_for(&computing, 1);
    int sent = 20;
    for (int i = 1; i <= sent; i++) {
        pthread_kill(t, SIGUSR1);
        wait_for(&handled, i);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    void *ran;
    pthread_join(t, &ran);
    printf("signals handled by the computing thread: %d of %d (it ran: %d)\n", handled, sent,
           ran != NULL);
    return 0;
}

static int fork_mode(void)
{
    pthread_t t;
    stop = 0;
    computing = 0;
    pthread_create(&t, NULL, computer, NULL);
    wait_for(&computing, 1);
    int status = 0;
    for (int k = 0; k < 3; k++) {
        pid_t pid = fork();
        if (pid == 0)               /* alone in the child: compute natively again */
            _exit((int)(compute(rounds * 10 + k) % 251));
        waitpid(pid, &status, 0);
        printf("fork %d: child exited %d (expected %d)\n", k, WEXITSTATUS(status),
               (int)(compute(rounds * 10 + k) % 251));
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    printf("computing thread joined\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "all";
    if (argc > 2)
        rounds = atol(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int all = !strcmp(m, "all");
    if (all || !strcmp(m, "hammer"))
        hammer_mode();
    if (all || !strcmp(m, "signals"))
        signals_mode();
    if (all || !strcmp(m, "fork"))
        fork_mode();
    printf("threads_native done\n");
    return 0;
}
