/* The timing-window driver (bench/windows.py): linked with a workload built
 * with -Dmain=bench_main, it runs the workload's main again and again in one
 * process and times each run (a window) with CLOCK_MONOTONIC.
 *
 *   prog MIN_REPS SECONDS SIZE...   (SIZE...: the workload's own arguments)
 *
 * runs at least MIN_REPS windows and until SECONDS have passed, each window's
 * output on stdout as the workload prints it, and on stderr one line:
 * "windows <count> <fastest ns> <median ns>".  The fastest window is the
 * steady state with the least disturbance from other tenants of the host. */
#undef main
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int bench_main(int argc, char **argv);

#define MAX_WINDOWS 100000

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MIN_REPS SECONDS [WORKLOAD ARGS...]\n", argv[0]);
        return 2;
    }
    long min_reps = strtol(argv[1], NULL, 0);
    double seconds = strtod(argv[2], NULL);
    static long long took[MAX_WINDOWS];
    long n = 0;
    long long start = now_ns();
    argv[2] = argv[0];                   /* the workload sees its name and its arguments */
    while (n < MAX_WINDOWS && (n < min_reps || now_ns() - start < (long long)(seconds * 1e9))) {
        long long t0 = now_ns();
        int rc = bench_main(argc - 2, argv + 2);
        took[n++] = now_ns() - t0;
        fflush(stdout);
        if (rc != 0)
            return rc;
    }
    qsort(took, (size_t)n, sizeof took[0], by_value);
    fprintf(stderr, "windows %ld %lld %lld\n", n, took[0], took[n / 2]);
    return 0;
}
