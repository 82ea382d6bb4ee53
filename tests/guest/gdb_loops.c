/* For the gdbstub tests (built -g -O0 -gno-column-info: a source line is one
   row of the line table, so one address range), by argument:
     (none)  spin(): a whole loop on one line; `next` over it is one range step
             (vCont;r) where the stub has them, an instruction at a time else;
             prints the sum
     read    prints "reading", then blocks in read(0) (gdb interrupts it with
             Ctrl-C; what the test writes meanwhile must wait for `continue`);
             prints what it read */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

char buf[32] = "untouched";

long spin(long n)
{
    long acc = 0, i = 0;
    do acc += i ^ (acc >> 3); while (++i < n);
    return acc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "read")) {
        printf("reading\n");
        long n = read(0, buf, sizeof buf - 1);
        if (n >= 0)
            buf[n] = 0;
        printf("read=%ld buf=[%s]\n", n, buf);
        return 0;
    }
    long acc = spin(200);
    printf("spin=%ld\n", acc);
    return 0;
}
