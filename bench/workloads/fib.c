/* Recursion: naive doubly recursive Fibonacci, plus the call count.
 * Calls, returns, stack traffic (ra/s0 spills).  Size = n (the work grows
 * as 1.618^n: +1 is x1.6, +5 is x11). */
#include "common.h"

static uint64_t calls;

__attribute__((noinline)) static uint64_t fib(long n)
{
    calls++;
    if (n < 2)
        return (uint64_t)n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 22);
    uint64_t f = fib(n);
    printf("fib %ld %llu calls=%llu\n", n, (unsigned long long)f, (unsigned long long)calls);
    return 0;
}
