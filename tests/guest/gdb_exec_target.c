/* What gdb_follow execs (built -g -O0): a program of its own, so that a
   breakpoint on new_work proves gdb follows into the new image. */
#include <stdio.h>

int new_work(int v)
{
    return v + 1;
}

int main(int argc, char **argv)
{
    printf("exec target %s %d\n", argc > 1 ? argv[1] : "-", new_work(8));
    return 9;
}
