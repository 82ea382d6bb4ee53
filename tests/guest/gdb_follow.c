/* fork, vfork and exec under gdb (built -g -O0), one scenario per argument:
     fork            child: in_child(21) -> "child 42", exit 7;
                     parent: in_parent(1) before it waits, then "parent 2" and
                     "child exit 7", exit 3
     vfork PROG      the child execs PROG (gdb_exec_target) with "from-vfork";
                     the parent waits, prints "vfork child exit N", exit 3
     exec PROG       this process execs PROG with "from-exec" (its exit is PROG's)
     syscall         one write(2) ("syscall write") and getpid, exit 5
     spin            fork, then both processes loop until killed */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int in_child(int v)
{
    return v * 2;
}

int in_parent(int v)
{
    return v * 2;
}

static int wait_child(pid_t p)
{
    int st = 0;
    if (waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "fork";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "fork")) {
        pid_t p = fork();
        if (p == 0) {
            printf("child %d\n", in_child(21));
            return 7;
        }
        int r = in_parent(1);            /* (before it waits: the child may be held) */
        int st = wait_child(p);
        printf("parent %d\n", r);        /* (after: the output's order is fixed) */
        printf("child exit %d\n", st);
        return 3;
    }
    if (!strcmp(mode, "vfork") && argc > 2) {
        pid_t p = vfork();
        if (p == 0) {
            execl(argv[2], argv[2], "from-vfork", (char *)NULL);
            _exit(127);
        }
        printf("vfork child exit %d\n", wait_child(p));
        return 3;
    }
    if (!strcmp(mode, "exec") && argc > 2) {
        execl(argv[2], argv[2], "from-exec", (char *)NULL);
        perror("execl");
        return 127;
    }
    if (!strcmp(mode, "spin")) {         /* both processes loop until killed */
        volatile unsigned long n = 0;
        fork();
        for (;;)
            n++;
    }
    if (!strcmp(mode, "syscall")) {
        write(1, "syscall write\n", 14);
        return getpid() > 0 ? 5 : 6;
    }
    fprintf(stderr, "usage: gdb_follow fork | vfork PROG | exec PROG | syscall | spin\n");
    return 2;
}
