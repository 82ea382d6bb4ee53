/* Moving data between descriptors, locks, memory and credentials, each
 * result printed (compared with qemu-riscv64), in the directory argv[1]:
 * sendfile/copy_file_range/splice/tee/vmsplice through pipes, readahead,
 * flock between a parent and a forked child (LOCK_NB: EWOULDBLOCK, then a
 * blocking wait the parent ends), fcntl F_SETLK/F_GETLK seen from a child
 * (l_pid is the parent's pid), F_SETLKW waiting, OFD locks, memfd_create +
 * mmap + seals, mincore/msync/mlock/munlock answers, membarrier,
 * getrusage/times (monotonic, not exact), and an unprivileged child (root
 * drops to uid/gid 65534 first): setuid(0) EPERM, setgroups EPERM, mlock
 * within RLIMIT_MEMLOCK, syslog, open_by_handle_at EPERM.
 * Exit status 0; the last line is "fileio2 done, failures=N". */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/klog.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHOW(expr) SHOW_AS(56, #expr, expr)

static char dir[400];
static int kernel_mode;                          /* argv[2] "kernel": calls qemu 7.2 lacks */

static const char *path(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void show_pipe(const char *what, int fd)
{
    char buf[64];
    int n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("%s: %d \"%s\"\n", what, n, buf);
}

static void show_file(const char *what, const char *p)
{
    char buf[64];
    int fd = open(p, O_RDONLY);
    int n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    printf("%s: %d \"%s\"\n", what, n, buf);
}

static void transfers(void)
{
    int f = open(path("src"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(f, "0123456789abcdef", 16);
    int p[2], q[2];
    pipe(p);
    pipe(q);
    off_t off = 2;
    SHOW(sendfile(p[1], f, &off, 5));
    printf("offset after: %ld\n", (long)off);
    show_pipe("sendfile with offset", p[0]);
    lseek(f, 10, SEEK_SET);
    SHOW(sendfile(p[1], f, NULL, 100));
    SHOW(lseek(f, 0, SEEK_CUR));
    show_pipe("sendfile from the position", p[0]);
    SHOW(sendfile(p[1], 999, NULL, 1));
    SHOW(sendfile(p[1], f, (off_t *)8, 1));

    int g = open(path("dst"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    loff_t oi = 4, oo = 0;
    SHOW(copy_file_range(f, &oi, g, &oo, 6, 0));
    printf("offsets after: %ld %ld\n", (long)oi, (long)oo);
    SHOW(copy_file_range(f, &oi, g, &oo, 6, 1));
    SHOW(copy_file_range(p[0], NULL, g, NULL, 6, 0));
    show_file("copy_file_range", path("dst"));

    /* splice: file -> pipe -> file */
    loff_t so = 3;
    SHOW(splice(f, &so, p[1], NULL, 4, 0));
    printf("splice offset after: %ld\n", (long)so);
    int h = open(path("spl"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    SHOW(splice(p[0], NULL, h, NULL, 100, 0));
    show_file("splice", path("spl"));
    SHOW(splice(f, NULL, h, NULL, 4, 0));
    SHOW(splice(p[0], NULL, q[1], NULL, 4, SPLICE_F_NONBLOCK));
    SHOW(splice(p[0], (loff_t *)&so, h, NULL, 4, 0));

    /* tee duplicates without consuming */
    write(p[1], "teedata", 7);
    SHOW(tee(p[0], q[1], 100, 0));
    show_pipe("tee source", p[0]);
    show_pipe("tee copy", q[0]);
    SHOW(tee(p[0], q[1], 100, SPLICE_F_NONBLOCK));
    SHOW(tee(f, q[1], 100, 0));

    /* vmsplice both ways */
    char a[] = "vm", b[] = "splice";
    struct iovec iov[2] = {{a, 2}, {b, 6}};
    SHOW(vmsplice(p[1], iov, 2, 0));
    show_pipe("vmsplice to the pipe", p[0]);
    write(p[1], "back", 4);
    char back[8] = {0};
    struct iovec in = {back, sizeof back - 1};
    SHOW(vmsplice(p[0], &in, 1, 0));
    printf("vmsplice from the pipe: \"%s\"\n", back);
    SHOW(vmsplice(f, iov, 2, 0));
    SHOW(vmsplice(p[1], iov, -1, 0));

    SHOW(readahead(f, 0, 4096));
    SHOW(readahead(p[0], 0, 4096));
    close(f);
    close(g);
    close(h);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* the child reports through a pipe; the parent waits for each step */
static void flocks(void)
{
    int f = open(path("lockfile"), O_CREAT | O_RDWR, 0644);
    SHOW(flock(f, LOCK_EX));
    SHOW(flock(f, 99));
    int ready[2], go[2];
    pipe(ready);
    pipe(go);
    pid_t pid = fork();
    if (pid == 0) {
        int g = open(path("lockfile"), O_RDWR);
        errno = 0;
        int r1 = flock(g, LOCK_EX | LOCK_NB), e1 = errno;
        errno = 0;
        int r2 = flock(g, LOCK_SH | LOCK_NB), e2 = errno;
        printf("child: LOCK_EX|LOCK_NB = %d (%s), LOCK_SH|LOCK_NB = %d (%s)\n", r1, strerrorname_np(e1), r2,
               strerrorname_np(e2));
        printf("child: the same fd inherited shares the lock: %d\n", flock(f, LOCK_EX | LOCK_NB));
        close(f);                               /* (else the child's own copy keeps the lock) */
        write(ready[1], "1", 1);
        int r3 = flock(g, LOCK_EX);             /* waits until the parent unlocks */
        printf("child: blocking LOCK_EX = %d\n", r3);
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    /* the child may or may not be blocked yet: either way it gets the lock after this */
    close(f);
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
}

static void record_locks(void)
{
    int f = open(path("recfile"), O_CREAT | O_RDWR, 0644);
    ftruncate(f, 100);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SHOW(fcntl(f, F_SETLK, &fl));
    struct flock bad = fl;
    bad.l_type = 77;
    SHOW(fcntl(f, F_SETLK, &bad));
    SHOW(fcntl(f, F_GETLK, (struct flock *)16));
    int ready[2];
    pipe(ready);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10};
        int r = fcntl(f, F_GETLK, &q);
        printf("child: F_GETLK = %d type=%s start=%ld len=%ld pid_is_parent=%d\n", r,
               q.l_type == F_WRLCK ? "F_WRLCK" : q.l_type == F_UNLCK ? "F_UNLCK" : "?", (long)q.l_start,
               (long)q.l_len, q.l_pid == parent);
        q.l_start = 20;
        q.l_type = F_RDLCK;
        r = fcntl(f, F_GETLK, &q);
        printf("child: F_GETLK elsewhere = %d type=%s\n", r, q.l_type == F_UNLCK ? "F_UNLCK" : "?");
        q.l_type = F_WRLCK;
        q.l_start = 5;
        errno = 0;
        r = fcntl(f, F_SETLK, &q);
        printf("child: F_SETLK = %d (%s)\n", r, strerrorname_np(errno));
        write(ready[1], "1", 1);
        r = fcntl(f, F_SETLKW, &q);            /* waits until the parent unlocks */
        printf("child: F_SETLKW = %d\n", r);
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    fl.l_type = F_UNLCK;
    int unlocked = fcntl(f, F_SETLK, &fl);
    int st;
    waitpid(pid, &st, 0);
    printf("parent: F_UNLCK = %d; child exit %d\n", unlocked, WEXITSTATUS(st));

    /* open file description locks: two opens of the file in one process conflict */
    int a = open(path("recfile"), O_RDWR), b = open(path("recfile"), O_RDWR);
    struct flock o = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4};
    SHOW(fcntl(a, F_OFD_SETLK, &o));
    struct flock o2 = o;
    SHOW(fcntl(b, F_OFD_GETLK, &o2));
    printf("OFD owner: type=%s pid=%d\n", o2.l_type == F_WRLCK ? "F_WRLCK" : "?", o2.l_pid);
    o2 = o;
    SHOW(fcntl(b, F_OFD_SETLK, &o2));
    o2.l_pid = 1;
    SHOW(fcntl(b, F_OFD_SETLK, &o2));
    close(a);
    close(b);
    close(f);
    close(ready[0]);
    close(ready[1]);
}

static void memfds(void)
{
    int m = memfd_create("pydbt-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    SHOW(fcntl(m, F_GETFD));
    char link[128] = {0}, proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", m);
    readlink(proc, link, sizeof link - 1);
    printf("memfd link: %s\n", link);
    SHOW(ftruncate(m, 8192));
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    CHECK(p != MAP_FAILED, "%s", "p != MAP_FAILED");
    strcpy(p + 4096, "through the mapping");
    char buf[32] = {0};
    SHOW(pread(m, buf, 19, 4096));
    printf("pread: %s\n", buf);
    SHOW(msync(p, 8192, MS_SYNC));
    SHOW(msync(p, 8192, MS_ASYNC | MS_SYNC));
    SHOW(msync(p + 1, 4096, MS_SYNC));
    SHOW(msync(p, 8192, 8));
    SHOW(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    SHOW(fcntl(m, F_GET_SEALS));
    SHOW(ftruncate(m, 4096));
    SHOW(ftruncate(m, 16384));
    munmap(p, 8192);
    close(m);
    SHOW(memfd_create("x", 0x100));
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    SHOW(memfd_create(longname, 0));
    m = memfd_create("plain", 0);
    SHOW(fcntl(m, F_GET_SEALS));
    SHOW(fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
    close(m);
}

static void memory(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char vec[8];
    char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[pg] = 1;
    p[3 * pg] = 1;
    SHOW(mincore(p, 4 * pg, vec));
    printf("resident: %d %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
    SHOW(mincore(p + 1, pg, vec));
    SHOW(mincore(p, 4 * pg, (unsigned char *)8));
    munmap(p + 2 * pg, pg);
    SHOW(mincore(p, 4 * pg, vec));
    SHOW(msync(p, 4 * pg, MS_ASYNC));
    SHOW(msync(p, 2 * pg, MS_ASYNC));
    SHOW(mlock(p, 2 * pg));
    SHOW(msync(p, pg, MS_INVALIDATE));
    SHOW(mlock(p, 4 * pg));
    SHOW(munlock(p, 2 * pg));
    SHOW(msync(p, pg, MS_INVALIDATE));
    if (kernel_mode) {                          /* qemu 7.2 has no mlock2 (ENOSYS) */
        SHOW(syscall(SYS_mlock2, p, pg, 0));
        SHOW(syscall(SYS_mlock2, p, pg, 2));
    }
    SHOW(munlock(p, pg));
    SHOW(mlockall(0));
    SHOW(mlockall(MCL_ONFAULT));
    SHOW(mlockall(8));
    SHOW(munlockall());
    munmap(p, 4 * pg);
}

static void barriers(void)
{
    int q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    printf("membarrier query: private expedited %d, global %d\n", !!(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED),
           !!(q & MEMBARRIER_CMD_GLOBAL));
    SHOW(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    SHOW(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    SHOW(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    SHOW(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 1, 0));
    SHOW(syscall(SYS_membarrier, 1 << 20, 0, 0));
    SHOW(syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) >= 0);
}

static long usecs(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

static void usage(void)
{
    struct rusage a, b, t;
    struct tms ta, tb;
    clock_t c0 = times(&ta);
    SHOW(getrusage(RUSAGE_SELF, &a));
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 200000; i++)
        x += i * i;
    SHOW(getrusage(RUSAGE_SELF, &b));
    SHOW(getrusage(RUSAGE_THREAD, &t));
    SHOW(getrusage(RUSAGE_CHILDREN, &t));
    SHOW(getrusage(5, &t));
    SHOW(getrusage(RUSAGE_SELF, (struct rusage *)8));
    clock_t c1 = times(&tb);
    printf("rusage monotonic: %d, maxrss > 0: %d\n",
           usecs(b.ru_utime) + usecs(b.ru_stime) >= usecs(a.ru_utime) + usecs(a.ru_stime), b.ru_maxrss > 0);
    printf("times monotonic: %d %d\n", c1 >= c0, tb.tms_utime + tb.tms_stime >= ta.tms_utime + ta.tms_stime);
    SHOW(times(NULL) > 0);
}

static void unprivileged(void)
{
    int st;
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0) {
            setgroups(0, NULL);
            setresgid(65534, 65534, 65534);
            setresuid(65534, 65534, 65534);
        }
        printf("child: uid=%d euid=%d\n", getuid() == 0 ? 0 : 1, geteuid() == 0 ? 0 : 1);
        SHOW(setuid(0));
        SHOW(setgid(0));
        SHOW(setreuid(0, 0));
        SHOW(setresuid(0, -1, -1));
        SHOW(setresuid(-1, -1, -1));
        SHOW(setgroups(0, NULL));
        gid_t gs[1] = {0};
        SHOW(setgroups(1, gs));
        SHOW(setgroups(-1, gs));
        SHOW(setfsuid(0) == (int)getuid());
        long pg = sysconf(_SC_PAGESIZE);
        char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        struct rlimit rl = {1 << 20, 1 << 20};
        SHOW(setrlimit(RLIMIT_MEMLOCK, &rl));
        SHOW(mlock(p, 4 * pg));
        SHOW(munlock(p, 4 * pg));
        char *big = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        SHOW(mlock(big, 2 << 20));
        SHOW(mlock(p, 4 * pg));
        SHOW(mlock(p, 2 * pg));
        munlock(p, 4 * pg);
        errno = 0;
        void *ml = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
        printf("MAP_LOCKED over the limit: %s\n", ml == MAP_FAILED ? strerrorname_np(errno) : "mapped");
        ml = mmap(NULL, 1 << 19, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
        printf("MAP_LOCKED within it: %s\n", ml == MAP_FAILED ? strerrorname_np(errno) : "mapped");
        SHOW(mlock(big, 1 << 20));
        munmap(ml, 1 << 19);
        SHOW(mlock(big, 1 << 20));
        munlock(big, 1 << 20);
        rl.rlim_cur = 0;
        SHOW(setrlimit(RLIMIT_MEMLOCK, &rl));
        SHOW(mlock(p, pg));
        SHOW(mlockall(MCL_FUTURE));
        SHOW(munlock(p, pg));
        SHOW(klogctl(0, NULL, 0));
        char h[sizeof(struct file_handle) + 128];
        struct file_handle *fh = (struct file_handle *)h;
        fh->handle_bytes = 128;
        fh->handle_type = 1;
        SHOW(open_by_handle_at(AT_FDCWD, fh, O_RDONLY));
        SHOW(open_by_handle_at(AT_FDCWD, (struct file_handle *)8, O_RDONLY));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    printf("unprivileged child exit %d\n", WEXITSTATUS(st));
}

static void handles(void)
{
    char h[sizeof(struct file_handle) + 128];
    struct file_handle *fh = (struct file_handle *)h;
    int mnt;
    fh->handle_bytes = 0;
    SHOW(name_to_handle_at(AT_FDCWD, path("src"), fh, &mnt, 0));
    printf("handle size needed > 0: %d\n", fh->handle_bytes > 0);
    fh->handle_bytes = 128;
    SHOW(name_to_handle_at(AT_FDCWD, path("src"), fh, &mnt, 0));
    SHOW(name_to_handle_at(AT_FDCWD, path("nonexistent"), fh, &mnt, 0));
    SHOW(name_to_handle_at(AT_FDCWD, path("src"), fh, &mnt, 0x1));
}

static volatile int hits;
static void on_sig(int sig) { (void)sig; hits++; }

/* a child waits for a lock the parent holds while the parent sends it
 * SIGUSR1: without SA_RESTART the wait ends with EINTR (the parent signals
 * until the child is gone); with SA_RESTART it goes on after the handler
 * and gets the lock once the parent lets go (after 5 signals) */
static void lock_wait_signal(int use_flock, int restart)
{
    int f = open(path("sigfile"), O_CREAT | O_RDWR, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (use_flock)
        flock(f, LOCK_EX);
    else
        fcntl(f, F_SETLK, &fl);
    int rep[2];
    pipe(rep);
    pid_t pid = fork();
    if (pid == 0) {
        close(f);                                /* (a flock lock belongs to the open file) */
        struct sigaction sa = {0};
        sa.sa_handler = on_sig;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGUSR1, &sa, NULL);
        int g = open(path("sigfile"), O_RDWR);
        write(rep[1], "r", 1);
        errno = 0;
        int r = use_flock ? flock(g, LOCK_EX) : fcntl(g, F_SETLKW, &fl);
        printf("child: %s %s = %d (%s) handled>=1: %d\n", use_flock ? "flock(LOCK_EX)" : "F_SETLKW",
               restart ? "with SA_RESTART" : "without SA_RESTART", r, r ? strerrorname_np(errno) : "ok", hits >= 1);
        _exit(0);
    }
    char c;
    read(rep[0], &c, 1);
    int st, done = 0;
    for (int i = 0; i < (restart ? 5 : 500) && !done; i++) {
        kill(pid, SIGUSR1);
        usleep(20000);
        done = waitpid(pid, &st, WNOHANG) == pid;
    }
    close(f);                                    /* (lets the lock go) */
    if (!done)
        waitpid(pid, &st, 0);
    close(rep[0]);
    close(rep[1]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp");
    kernel_mode = argc > 2 && strcmp(argv[2], "kernel") == 0;
    lock_wait_signal(0, 0);
    lock_wait_signal(0, 1);
    lock_wait_signal(1, 0);
    lock_wait_signal(1, 1);
    transfers();
    flocks();
    record_locks();
    memfds();
    memory();
    barriers();
    usage();
    handles();
    unprivileged();
    printf("fileio2 done, failures=%d\n", fail_count);
    return 0;
}
