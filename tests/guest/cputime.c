/* The process's CPU time is its threads': a single-threaded program that
 * computes for 0.4 s of its thread's CPU time reads the same (within a few
 * clock ticks) from CLOCK_PROCESS_CPUTIME_ID, getrusage(RUSAGE_SELF) and
 * times(). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static double secs(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static volatile unsigned long sink;

static unsigned long work(unsigned long x, int i)
{
    switch (i & 7) {               /* (several hot blocks: something to compile) */
    case 0: return x * 6364136223846793005UL + 1;
    case 1: return x ^ (x >> 13);
    case 2: return x + (x << 7);
    case 3: return x * 31 + i;
    case 4: return (x >> 3) | (x << 61);
    case 5: return x - i * 17;
    case 6: return x ^ 0x9e3779b97f4a7c15UL;
    default: return x + 12345;
    }
}

int main(void)
{
    unsigned long x = 1;
    double until = secs(CLOCK_THREAD_CPUTIME_ID) + 0.4;
    while (secs(CLOCK_THREAD_CPUTIME_ID) < until)
        for (int i = 0; i < 20000; i++)
            x = work(x, i);
    sink = x;
    double thread = secs(CLOCK_THREAD_CPUTIME_ID);
    double process = secs(CLOCK_PROCESS_CPUTIME_ID);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rus = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    struct tms tm;
    times(&tm);
    double tck = (double)(tm.tms_utime + tm.tms_stime) / sysconf(_SC_CLK_TCK);
    printf("process CPU within 50 ms of the thread's: %d\n", process - thread < 0.05 && process >= thread - 0.001);
    printf("getrusage within 50 ms of the thread's: %d\n", rus - thread < 0.05 && rus > thread - 0.03);
    printf("times within 60 ms of the thread's: %d\n", tck - thread < 0.06 && tck > thread - 0.05);
    return 0;
}
