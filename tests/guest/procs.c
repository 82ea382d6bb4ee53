/* Processes: fork + pipe + wait of several children, death by signal, vfork +
 * execve, re-exec through /proc/self/exe, #! scripts, exec errors, process
 * groups, wait4/waitid, /proc/<pid>/ of children.  The mode is argv[1];
 * "child-exec N" is what the exec tests run: it prints its arguments and exits N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void status(const char *who, int st)
{
    if (WIFEXITED(st))
        printf("%s: exited %d\n", who, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by signal %d\n", who, WTERMSIG(st));
    else
        printf("%s: status %#x\n", who, st);
}

static int child_exec(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        printf("child-exec argv[%d]=%s\n", i, strcmp(argv[i], "") ? strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i] : "''");
    int fd_open = fcntl(3, F_GETFD) != -1;
    printf("child-exec: fd 3 %s\n", fd_open ? "open" : "closed");
    fflush(stdout);
    return atoi(argv[argc - 1]);
}

static volatile sig_atomic_t got_chld, got_usr1;
static void on_chld(int s) { (void)s; got_chld = 1; }
static void on_usr1(int s) { (void)s; got_usr1++; }

static int forks(void)
{
    signal(SIGCHLD, on_chld);
    int fds[2];
    if (pipe(fds)) return 1;
    pid_t pids[5];
    for (int i = 0; i < 5; i++) {
        pids[i] = fork();
        if (pids[i] < 0) { perror("fork"); return 1; }
        if (pids[i] == 0) {
            close(fds[0]);
            char msg[32];
            int n = snprintf(msg, sizeof msg, "child %d here\n", i);
            write(fds[1], msg, n);
            if (i == 3) raise(SIGTERM);            /* dies of a signal */
            if (i == 4) { volatile int *p = 0; *p = 1; }   /* dies of SIGSEGV */
            _exit(10 + i);
        }
    }
    close(fds[1]);
    char buf[256];
    int total = 0, n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        total += n;
    printf("parent read %d bytes from the children\n", total);
    for (int i = 0; i < 5; i++) {
        int st;
        pid_t w = waitpid(pids[i], &st, 0);
        char who[16];
        snprintf(who, sizeof who, "child %d", i);
        if (w != pids[i]) printf("waitpid returned %d\n", w);
        status(who, st);
    }
    int st;
    printf("wait with no child: %d %s\n", (int)wait(&st), strerror(errno));
    /* wait4 with rusage, waitid */
    pid_t p = fork();
    if (p == 0) _exit(42);
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    pid_t w = wait4(p, &st, 0, &ru);
    printf("wait4: same pid %d, rusage sane %d\n", w == p, ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec < 1000000);
    status("wait4 child", st);
    p = fork();
    if (p == 0) _exit(7);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, p, &si, WEXITED);
    printf("waitid: %d signo=%d code=%d status=%d pid ok=%d\n", r, si.si_signo, si.si_code, si.si_status, si.si_pid == p);
    p = fork();
    if (p == 0) { pause(); _exit(0); }
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, p, &si, WEXITED | WNOHANG);
    printf("waitid WNOHANG on a running child: %d pid=%d\n", r, si.si_pid);
    kill(p, SIGKILL);
    waitpid(p, &st, 0);
    status("killed child", st);
    /* process groups */
    p = fork();
    if (p == 0) {
        int a = setpgid(0, 0) == 0 && getpgrp() == getpid();
        pid_t s = setsid();
        printf("child: own group %d, setsid after setpgid: %s\n", a, s < 0 ? strerror(errno) : "ok");
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, &st, 0);
    status("pgrp child", st);
    /* kill(0, sig): the whole process group, parent and child */
    signal(SIGUSR1, on_usr1);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    p = fork();
    if (p == 0) {
        while (!got_usr1)
            sigsuspend(&old);
        _exit(9);
    }
    usleep(20000);
    kill(0, SIGUSR1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int at_unblock = got_usr1;          /* pending since kill returned: delivered by the unblock */
    waitpid(p, &st, 0);
    status("group-signalled child", st);
    printf("parent got SIGUSR1 %d time(s) (%d at the unblock), SIGCHLD seen %d\n",
           (int)got_usr1, at_unblock, (int)got_chld);
    return 0;
}

static int execs(const char *self, const char *script)
{
    int fd = open("/dev/null", O_RDONLY);               /* fd 3: close-on-exec below */
    if (fd != 3) printf("fd is %d\n", fd);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    char *env[] = {"PYDBT_TEST=1", NULL};
    /* errors first */
    char *a0[] = {"x", NULL};
    errno = 0;
    printf("execve missing: %d %s\n", execve("/nonexistent/prog", a0, env), strerror(errno));
    printf("execve directory: %d %s\n", execve("/", a0, env), strerror(errno));
    printf("execve no x bit: %d %s\n", execve(script, a0, env) == -1 && errno == EACCES ? -1 : -2, "EACCES");
    fflush(stdout);
    /* vfork + execve of ourselves */
    pid_t p = vfork();
    if (p == 0) {
        char *av[] = {"procs", "child-exec", "vfork", "3", NULL};
        execve(self, av, env);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    status("vfork child", st);
    /* fork + execve of /proc/self/exe */
    p = fork();
    if (p == 0) {
        char *av[] = {"procs", "child-exec", "proc-self-exe", "4", NULL};
        execve("/proc/self/exe", av, env);
        _exit(127);
    }
    waitpid(p, &st, 0);
    status("/proc/self/exe child", st);
    /* a #! script whose interpreter is this program */
    chmod(script, 0755);
    p = fork();
    if (p == 0) {
        char *av[] = {"the-script", "5", NULL};
        execve(script, av, env);
        printf("execve script: %s\n", strerror(errno));
        _exit(127);
    }
    waitpid(p, &st, 0);
    status("script child", st);
    /* execve in the process itself: never returns */
    char *av[] = {"procs", "child-exec", "final", "6", NULL};
    fflush(stdout);
    execve(self, av, env);
    printf("execve failed: %s\n", strerror(errno));
    return 1;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* What a parent sees of its child in /proc/<pid>/: comm, the cmdline's words
 * (basenames), the exe link's basename and the name in stat. */
static void show(const char *who, pid_t pid)
{
    char path[64], buf[4096], link[4096];
    int fd, n;
    printf("%s:", who);
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    fd = open(path, O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    close(fd);
    printf(" comm=%.*s", n > 0 ? n - 1 : 0, buf);
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    fd = open(path, O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    close(fd);
    printf(" cmdline=");
    for (int i = 0; i < n; i += strlen(buf + i) + 1) {
        buf[n] = 0;
        printf("%s%s", i ? "," : "", base(buf + i));
    }
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    n = readlink(path, link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    printf(" exe=%s", base(link));
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    char *open_ = strchr(buf, '('), *close_ = strrchr(buf, ')');
    printf(" stat=%.*s\n", open_ && close_ ? (int)(close_ - open_ + 1) : 0, open_ ? open_ : "");
}

/* Three children held until the parent has looked at them: one that renamed
 * itself (PR_SET_NAME), one that exec'd this program with another argv, one as
 * forked. */
static int proc_children(const char *self)
{
    for (int k = 0; k < 3; k++) {
        int ready[2], go[2];
        char c;
        if (pipe(ready) || pipe(go))
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            if (k == 0)
                prctl(PR_SET_NAME, "worker-a");
            if (k == 1) {
                char *av[] = {"renamed", "hold", "10", "11", NULL}, *env[] = {NULL};
                dup2(ready[1], 10);
                dup2(go[0], 11);
                execve(self, av, env);
                _exit(99);
            }
            write(ready[1], "x", 1);
            read(go[0], &c, 1);
            _exit(0);
        }
        read(ready[0], &c, 1);
        show(k == 0 ? "renamed child" : k == 1 ? "exec'd child" : "forked child", pid);
        write(go[1], "x", 1);
        int st;
        waitpid(pid, &st, 0);
        status("child", st);
        close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "child-exec"))
        return child_exec(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "fork"))
        return forks();
    if (argc >= 4 && !strcmp(argv[1], "exec"))
        return execs(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "proc-children"))
        return proc_children(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "hold")) {          /* ready fd, go fd */
        char c;
        write(atoi(argv[2]), "x", 1);
        read(atoi(argv[3]), &c, 1);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "exec-other")) {     /* e.g. a host program */
        char *av[] = {"other", NULL}, *env[] = {NULL};
        execve(argv[2], av, env);
        printf("execve %s: %s\n", argv[2], strerror(errno));
        return 0;
    }
    fprintf(stderr, "usage: procs fork | exec SELF SCRIPT | exec-other PATH | proc-children SELF | child-exec ... N\n");
    return 2;
}
