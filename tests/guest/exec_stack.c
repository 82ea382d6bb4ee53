/* An executable stack: gcc's nested functions whose address is taken are
 * called through trampolines that gcc writes on the stack, so the linker
 * marks the program PT_GNU_STACK RWE and the loader must map the stack
 * executable (a non-executable stack dies of SIGSEGV at the first call).
 * The nested functions read and write their parent's locals: a qsort
 * comparator that counts its calls, an accumulator called through a
 * pointer, and a recursive parent with a trampoline per level.  Exit 0. */
#include <stdio.h>
#include <stdlib.h>

static long apply(long (*f)(long), long n)
{
    long s = 0;
    for (long i = 1; i <= n; i++)
        s += f(i);
    return s;
}

static long level(int depth, long scale)
{
    long here = depth * scale;
    long add_here(long v) { return v + here; }
    if (depth == 0)
        return apply(add_here, 4);
    return apply(add_here, 2) + level(depth - 1, scale);
}

int main(int argc, char **argv)
{
    (void)argv;
    int calls = 0;
    int descending = argc > 5;            /* 0 when run without arguments */
    int cmp(const void *a, const void *b)
    {
        calls++;
        int x = *(const int *)a, y = *(const int *)b;
        return descending ? (y > x) - (y < x) : (x > y) - (x < y);
    }
    int v[16];
    for (int i = 0; i < 16; i++)
        v[i] = (i * 7 + 3) % 16;
    qsort(v, 16, sizeof v[0], cmp);
    printf("sorted:");
    for (int i = 0; i < 16; i++)
        printf(" %d", v[i]);
    printf("\ncomparator called: %d\n", calls > 0);

    long total = 0;
    long acc(long x) { total += x; return x * x; }
    printf("sum of squares 1..10 = %ld, total = %ld\n", apply(acc, 10), total);
    printf("levels: %ld\n", level(5, 100));
    printf("exec_stack done\n");
    return 0;
}
