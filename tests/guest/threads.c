/* Threads: pthread_create/join with return values, a mutex and a condition
 * variable, contended increments under a lock (exact total), atomic adds,
 * thread-local storage, exit_group from a thread while others block, fork
 * while another thread holds a lock, and code rewritten while another thread
 * runs it, atomics racing with another thread's plain stores, and threads
 * mapping memory at the same time.  The mode is argv[1].
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 8
#define ROUNDS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static atomic_long acounter;
static int ready;
static __thread int tls_value = 5;

static void *worker(void *arg)
{
    long id = (long)arg;
    tls_value += (int)id;
    pthread_mutex_lock(&lock);
    while (!ready)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        long c = counter;
        if (i % 64 == 0)
            sched_yield();
        counter = c + 1;
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&acounter, 2);
    }
    int tid_ok = syscall(SYS_gettid) != getpid();
    return (void *)(long)(id * id + 1000 * (tls_value == 5 + id) + 10000 * tid_ok);
}

static int basic(void)
{
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i)) { puts("create failed"); return 1; }
    DIR *d = opendir("/proc/self/task");
    int ntasks = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        ntasks += e->d_name[0] != '.';
    if (d) closedir(d);
    /* (qemu's own helper thread shows there too: at least ours) */
    printf("/proc/self/task lists every thread: %d\n", ntasks >= NTHREADS + 1);
    pthread_mutex_lock(&lock);
    ready = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    long sum = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d returned %ld\n", i, (long)r);
        sum += (long)r;
    }
    printf("counter=%ld (expected %d) atomic=%ld (expected %d) main tls=%d\n", counter, NTHREADS * ROUNDS,
           (long)acounter, 2 * NTHREADS * ROUNDS, tls_value);
    return 0;
}

static void *blocker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;)
        pthread_cond_wait(&cond, &lock);
    return NULL;
}

static void *exiter(void *arg)
{
    (void)arg;
    usleep(20000);
    printf("exiter: calling exit(3)\n");
    fflush(stdout);
    exit(3);
}

static int exit_group_mode(void)
{
    pthread_t a, b, c;
    pthread_create(&a, NULL, blocker, NULL);
    pthread_create(&b, NULL, blocker, NULL);
    pthread_create(&c, NULL, exiter, NULL);
    pthread_join(a, NULL);          /* never returns: the exiter ends the process */
    return 0;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    pthread_mutex_lock(&lock);
    ready = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (;;)
        usleep(1000);               /* keeps `held` forever, keeps running */
    return NULL;
}

static int fork_lock_mode(void)
{
    pthread_t t;
    pthread_create(&t, NULL, holder, NULL);
    pthread_mutex_lock(&lock);
    while (!ready)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 3; i++) {
        pid_t p = fork();
        if (p == 0) {
            /* only this thread lives here; malloc and stdio still work */
            char *s = malloc(100);
            snprintf(s, 100, "child %d: trylock of the held mutex: %s", i,
                     pthread_mutex_trylock(&held) ? "busy" : "got it");
            puts(s);
            fflush(stdout);
            _exit(20 + i);
        }
        int st;
        waitpid(p, &st, 0);
        printf("fork %d: exited %d\n", i, WEXITSTATUS(st));
    }
    return 0;
}

typedef int (*fn_t)(void);
static volatile fn_t code_fn;
static atomic_int seen_new;

static void *runner(void *arg)
{
    (void)arg;
    for (long i = 0; i < 100000000; i++) {
        __asm__ volatile("fence.i" ::: "memory");
        if (code_fn() == 2) { atomic_store(&seen_new, 1); return NULL; }
    }
    return NULL;
}

static int smc_mode(void)
{
    /* li a0, 1; ret  ->  li a0, 2; ret  (uncompressed addi, jalr) */
    unsigned int v1[] = {0x00100513, 0x00008067}, v2[] = {0x00200513, 0x00008067};
    unsigned int *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(page, v1, sizeof v1);
    __builtin___clear_cache((char *)page, (char *)page + 8);
    code_fn = (fn_t)page;
    pthread_t t;
    pthread_create(&t, NULL, runner, NULL);
    usleep(20000);
    memcpy(page, v2, sizeof v2);
    __builtin___clear_cache((char *)page, (char *)page + 8);
    pthread_join(t, NULL);
    printf("runner saw the new code: %d\n", atomic_load(&seen_new));
    return 0;
}

static void *sig_target(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static volatile sig_atomic_t got_in_thread;
static void on_usr1(int s)
{
    (void)s;
    got_in_thread = syscall(SYS_gettid) != getpid();
}

static int tkill_mode(void)
{
    signal(SIGUSR1, on_usr1);
    pthread_t t;
    pthread_create(&t, NULL, sig_target, NULL);
    usleep(10000);
    pthread_kill(t, SIGUSR1);
    for (int i = 0; i < 2000 && !got_in_thread; i++)
        usleep(1000);
    printf("signal handled in the target thread: %d\n", (int)got_in_thread);
    return 0;
}

static void *late(void *arg)
{
    usleep(30000);
    printf("late thread %ld still runs after main's pthread_exit\n", (long)arg);
    return NULL;
}

static int main_exit_mode(void)
{
    pthread_t t;
    pthread_create(&t, NULL, late, (void *)1L);
    pthread_exit(NULL);           /* the process lives on until its last thread exits */
}

static pthread_mutex_t robust;
static void *die_holding(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL;                  /* exits holding a robust mutex */
}

static int robust_mode(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t t;
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    int r = pthread_mutex_lock(&robust);
    printf("lock after the owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r ? "error" : "0");
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&robust);
    pthread_mutex_unlock(&robust);
    return 0;
}

/* One thread rewrites a word with plain stores and reads each back; another
 * hammers the same word with atomics that leave its value as it is (amoadd 0,
 * amoor 0, an LR/SC of the value it read).  Atomics are indivisible: none may
 * write back a value it read before the plain store, so the store is never
 * lost. */
static volatile long shared_word;
static atomic_int storer_done, hammer_started;

static void *atomic_hammer(void *arg)
{
    long n = 0;
    while (!atomic_load(&storer_done)) {
        long old, tmp;
        __asm__ volatile("amoadd.d %0, zero, (%1)" : "=r"(old) : "r"(&shared_word) : "memory");
        __asm__ volatile("amoor.d %0, zero, (%1)" : "=r"(old) : "r"(&shared_word) : "memory");
        __asm__ volatile("1: lr.d %0, (%2)\n"
                         "   sc.d %1, %0, (%2)\n"
                         "   bnez %1, 1b"
                         : "=&r"(old), "=&r"(tmp) : "r"(&shared_word) : "memory");
        n++;
        atomic_store(&hammer_started, 1);
    }
    return (void *)n;
}

static int atomics_vs_stores_mode(void)
{
    pthread_t t;
    long lost = 0;
    pthread_create(&t, NULL, atomic_hammer, NULL);
    while (!atomic_load(&hammer_started))
        sched_yield();
    for (long k = 1; k <= 300000; k++) {
        shared_word = k;
        if (shared_word != k)
            lost++;
    }
    atomic_store(&storer_done, 1);
    void *rounds;
    pthread_join(t, &rounds);
    printf("plain stores lost to atomics: %ld (hammer ran: %d)\n", lost, rounds != 0);
    return 0;
}

/* Threads that map memory at the same time must get distinct ranges (the
 * kernel's mmap_lock): each maps pages, tags them with its own number, and
 * checks the tags once all have finished; malloc's per-thread arenas (mmap'd
 * heaps) are exercised too. */
#define MAPPERS 6
#define MAPS 150
static pthread_barrier_t map_barrier;

static void *mapper(void *arg)
{
    long me = (long)arg, bad = 0;
    long *maps[MAPS];
    pthread_barrier_wait(&map_barrier);
    for (int i = 0; i < MAPS; i++) {
        maps[i] = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        maps[i][0] = maps[i][1023] = me * 1000 + i;
        free(malloc(1000 + i));
    }
    pthread_barrier_wait(&map_barrier);
    for (int i = 0; i < MAPS; i++) {
        bad += maps[i][0] != me * 1000 + i || maps[i][1023] != me * 1000 + i;
        munmap(maps[i], 8192);
    }
    return (void *)bad;
}

static int mmap_race_mode(void)
{
    pthread_t t[MAPPERS];
    long bad = 0;
    pthread_barrier_init(&map_barrier, NULL, MAPPERS);
    for (long i = 0; i < MAPPERS; i++)
        pthread_create(&t[i], NULL, mapper, (void *)i);
    for (int i = 0; i < MAPPERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    printf("mappings shared by two threads: %ld\n", bad);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *m = argc > 1 ? argv[1] : "basic";
    if (!strcmp(m, "basic")) return basic();
    if (!strcmp(m, "exit-group")) return exit_group_mode();
    if (!strcmp(m, "fork-lock")) return fork_lock_mode();
    if (!strcmp(m, "smc")) return smc_mode();
    if (!strcmp(m, "tkill")) return tkill_mode();
    if (!strcmp(m, "main-exit")) return main_exit_mode();
    if (!strcmp(m, "robust")) return robust_mode();
    if (!strcmp(m, "atomics-vs-stores")) return atomics_vs_stores_mode();
    if (!strcmp(m, "mmap-race")) return mmap_race_mode();
    return 2;
}
