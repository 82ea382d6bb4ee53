/* A program for the gdbstub tests (built -g -O0): a call, a local to change, a hot
   loop (JIT-compiled long before it calls checkpoint), a function whose code
   gdb patches, and an exit status that depends on all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile long counter;
volatile long seen_at;

int patched_value(void)
{
    return 7;
}

void checkpoint(long i)
{
    seen_at = i;
}

long hot(long n)
{
    long s = 0;
    for (long i = 0; i < n; i++) {
        s += i ^ (s >> 3);
        if (i == n / 2)
            checkpoint(i);
        counter++;                      /* line of the loop body: a breakpoint here */
    }
    return s;
}

int square(int v)
{
    int r = v * v;
    return r;
}

int main(int argc, char **argv)
{
    int first = patched_value();
    int x = 3;
    int y = square(x);
    printf("x=%d y=%d first=%d\n", x, y, first);
    if (argc > 2) {                     /* "wait": block in read() until stdin closes */
        char c;
        printf("read=%ld\n", (long)read(0, &c, 1));
    }
    long s = hot(argc > 1 ? atol(argv[1]) : 20000);
    printf("hot=%ld counter=%ld\n", s, counter);
    printf("patched=%d\n", patched_value());
    fflush(stdout);
    return x + 10;
}
