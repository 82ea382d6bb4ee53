/* Process round trips: SIZE times fork, then (mode "exec", the default)
 * execve of this very program as a child that exits at once, or (mode
 * "fork") a child that exits without exec; the parent waits for each.
 * Prints "spawn SIZE checksum" (a hash of the children's exit statuses).
 * Not in benchlib's WORKLOADS: qemu-riscv64 cannot exec a riscv64 program
 * without binfmt_misc (bench/procs.py compares what can be compared). */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return atoi(argv[2]) % 251;
    long n = bench_size(argc, argv, 10);
    int exec_mode = !(argc > 2 && strcmp(argv[2], "fork") == 0);
    uint64_t h = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            if (!exec_mode)
                _exit((int)(i % 251));
            char num[24];
            snprintf(num, sizeof num, "%ld", i);
            char *args[] = {"spawn", "child", num, NULL};
            execv("/proc/self/exe", args);
            perror("execv");
            _exit(255);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
            fprintf(stderr, "spawn: child %ld did not exit\n", i);
            return 1;
        }
        h = mix64(h, (uint64_t)WEXITSTATUS(status));
    }
    bench_result("spawn", n, h);
    return 0;
}
