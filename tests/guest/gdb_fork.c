/* fork under gdb (built -g -O0): both processes call twice(); gdb follows the
   parent (detach-on-fork), the child runs free with the breakpoints gone. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int twice(int v)
{
    return v * 2;
}

int main(void)
{
    pid_t p = fork();
    if (p == 0) {
        printf("child %d\n", twice(21));
        return 4;
    }
    int st;
    waitpid(p, &st, 0);
    printf("parent %d, child exit %d\n", twice(1), WEXITSTATUS(st));
    return 0;
}
