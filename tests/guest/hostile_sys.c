/* Hostile syscall arguments: each call's result (a value or an errno name) is
 * printed, so the run under pydbt can be compared with qemu-riscv64's.  Raw
 * syscall() everywhere (no libc argument checks in between).
 *
 * Only cases where qemu-riscv64 7.2 gives the kernel's answer are here; the
 * others (madvise's unknown advice and unmapped ranges, ...) are checked
 * against the host kernel in tests/unit/test_hostile_syscalls.py.
 *
 * usage: hostile_sys TMPDIR
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define PG 4096L
#define FAR ((unsigned long)1 << 60)       /* past every guest address space */

static const char *ename(int e)
{
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EIO) E(EBADF) E(ENOMEM) E(EACCES) E(EFAULT) E(EEXIST)
    E(ENOTDIR) E(EISDIR) E(EINVAL) E(EMFILE) E(ENOTTY) E(ESPIPE) E(ERANGE)
    E(ENAMETOOLONG) E(ENOSYS) E(EOVERFLOW) E(ENODEV) E(EOPNOTSUPP) E(EAGAIN)
#undef E
    default: return "E?";
    }
}

static void show(const char *what, long r)
{
    if (r == -1)
        printf("%-44s -1 %s\n", what, ename(errno));
    else
        printf("%-44s %ld\n", what, r);
}

/* for calls returning addresses: print "addr" instead of the value */
static void show_addr(const char *what, long r)
{
    if (r == -1)
        printf("%-44s -1 %s\n", what, ename(errno));
    else
        printf("%-44s addr%s\n", what, (r & (PG - 1)) ? " (unaligned!)" : "");
}

#define T(expr) (errno = 0, show(#expr, (long)(expr)))
#define TA(expr) (errno = 0, show_addr(#expr, (long)(expr)))
/* every argument as a long: an int passed to the variadic syscall() would leave
   the register's upper half undefined on some ABIs */
__attribute__((noinline)) static long sc(long n, long a, long b, long c, long d, long e, long f, ...)
{
    return syscall(n, a, b, c, d, e, f);
}
#define S(...) sc(__VA_ARGS__, 0L, 0L, 0L, 0L, 0L, 0L)

static char path[4096];
static const char *dir;

static const char *at(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static int make_file(const char *name, long size)
{
    int fd = open(at(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    char block[4096];
    for (long i = 0; i < size; i += sizeof block) {
        for (int j = 0; j < (int)sizeof block; j++)
            block[j] = (char)((i + j) * 7 + (i >> 12));
        long n = size - i < (long)sizeof block ? size - i : (long)sizeof block;
        if (write(fd, block, n) != n)
            printf("FAIL write %s\n", name);
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void mm_cases(int fd)
{
    long p = S(SYS_mmap, 0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    int wfd = open(at("w"), O_WRONLY | O_CREAT, 0644);
    int rfd = open(at("big"), O_RDONLY);
    int pfd[2];
    pipe(pfd);
    printf("-- mmap\n");
    T(S(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    T(S(SYS_mmap, 0, -1L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    T(S(SYS_mmap, 0, -PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_ANONYMOUS, -1, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, fd, 1));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, fd, (long)1 << 63));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, fd, -PG));
    T(S(SYS_mmap, p + 1, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    T(S(SYS_mmap, FAR, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    T(S(SYS_mmap, -PG, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, -1, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, 1000, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, dfd, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, pfd[0], 0));
    T(S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, wfd, 0));
    T(S(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0));
    TA(S(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, rfd, 0));
    TA(S(SYS_mmap, FAR, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));   /* a hint only */
    TA(S(SYS_mmap, p + 1, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    printf("-- munmap\n");
    T(S(SYS_munmap, p + 1, PG));
    T(S(SYS_munmap, p, 0));
    T(S(SYS_munmap, FAR, PG));
    T(S(SYS_munmap, p, -PG));
    printf("-- mprotect\n");
    T(S(SYS_mprotect, p + 1, PG, PROT_READ));
    T(S(SYS_mprotect, p, PG, 0x100));
    T(S(SYS_mprotect, p, -1L, PROT_READ));
    T(S(SYS_mprotect, p, (long)1 << 40, PROT_READ));
    T(S(SYS_mprotect, FAR, PG, PROT_READ));
    T(S(SYS_mprotect, p, 4 * PG, PROT_READ | PROT_WRITE));
    printf("-- madvise\n");
    T(S(SYS_madvise, p + 1, PG, MADV_DONTNEED));
    T(S(SYS_madvise, p, -1L, MADV_DONTNEED));
    T(S(SYS_madvise, p, 0, MADV_DONTNEED));
    ((volatile char *)p)[5] = 9;
    T(S(SYS_madvise, p, PG, MADV_DONTNEED));
    T(((volatile char *)p)[5]);
    printf("-- mremap\n");
    T(S(SYS_mremap, p + 1, PG, PG, 0, 0));
    T(S(SYS_mremap, p, PG, PG, 0x80, 0));
    T(S(SYS_mremap, p, PG, PG, MREMAP_FIXED, FAR));
    T(S(SYS_mremap, p, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p + 1));
    T(S(SYS_mremap, p, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, FAR));
    T(S(SYS_mremap, p, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, -PG));
    T(S(SYS_mremap, p, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, p + PG));
    T(S(SYS_mremap, FAR, PG, 2 * PG, MREMAP_MAYMOVE, 0));
    T(S(SYS_mremap, p + 3 * PG, PG, 2 * PG, 0, 0) == -1 ? -1 : 0);
    ((volatile char *)p)[7] = 42;
    long dst = S(SYS_mmap, 0, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) + 2 * PG;
    long q = S(SYS_mremap, p, PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    printf("mremap onto ro: %s, byte=%d\n", q == dst ? "moved" : "failed", q == dst ? ((char *)q)[7] : -1);
    printf("-- brk\n");
    long b0 = S(SYS_brk, 0);
    T(S(SYS_brk, -PG) == b0);
    T(S(SYS_brk, FAR) == b0);
    T(S(SYS_brk, 1) == b0);
    close(dfd), close(wfd), close(rfd), close(pfd[0]), close(pfd[1]);
}

static void rw_cases(int fd)
{
    long ro = S(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *two = (char *)S(SYS_mmap, 0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *huge = (char *)S(SYS_mmap, 0, (long)2 << 30, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    S(SYS_munmap, (long)two + PG, PG);                /* two: one page, then a hole */
    printf("-- read/write\n");
    T(S(SYS_read, fd, 0, 10));
    T(S(SYS_read, fd, ro, 10));
    T(S(SYS_read, fd, FAR, 10));
    T(S(SYS_read, fd, -8L, 16));
    T(S(SYS_lseek, fd, 0, SEEK_CUR));
    T(S(SYS_read, fd, huge, 1));
    T(S(SYS_lseek, fd, 0, SEEK_SET));
    T(S(SYS_pread64, fd, huge, (long)2 << 30, 0));
    T(S(SYS_pread64, fd, two, 10, -1L));
    T(S(SYS_write, 1, 0, 0));
    T(S(SYS_write, 1, 0, 10));
    T(S(SYS_write, 1, FAR, 10));
    T(S(SYS_write, 1000, two, 10));
    T(S(SYS_read, -1, two, 10));
    printf("-- iovecs\n");
    struct iovec iov[3] = {{two, 4}, {two + PG, 4}, {two + 8, 4}};   /* the second in the hole */
    lseek(fd, 0, SEEK_SET);
    T(S(SYS_readv, fd, iov, 3));
    T(S(SYS_readv, fd, 0, 1));
    T(S(SYS_readv, fd, iov, -1));
    T(S(SYS_readv, fd, iov, 1025));
    T(S(SYS_readv, fd, iov, 0));
    iov[0].iov_len = -1L;
    T(S(SYS_readv, fd, iov, 1));
    iov[0].iov_base = huge, iov[0].iov_len = (long)2 << 30;
    T(S(SYS_readv, fd, iov, 1) > 0);
    T(S(SYS_writev, 1, two + PG - 8, 1));
    printf("-- getdents64 / readlinkat / getcwd / getrandom\n");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    T(S(SYS_getdents64, dfd, two, 1));
    T(S(SYS_getdents64, dfd, 0, 4096));
    T(S(SYS_getdents64, fd, two, 4096));
    T(S(SYS_readlinkat, AT_FDCWD, "/proc/self/cwd", two, 0));
    T(S(SYS_readlinkat, AT_FDCWD, "/proc/self/cwd", 0, 100));
    T(S(SYS_readlinkat, AT_FDCWD, 0, two, 100));
    T(S(SYS_readlinkat, AT_FDCWD, FAR, two, 100));
    T(S(SYS_getcwd, 0, 100));
    T(S(SYS_getcwd, two, 1));
    T(S(SYS_getrandom, 0, 16, 0));
    T(S(SYS_getrandom, two, 16, 0x80));
    T(S(SYS_getrandom, huge, 64L << 20, 0));
    T(S(SYS_getrandom, ro, 16, 0));
    printf("-- paths\n");
    memset(two, 'a', PG);
    two[PG - 2] = 0;
    T(S(SYS_openat, AT_FDCWD, two + PG - 1, O_RDONLY));   /* unterminated at the end of the mapping */
    two[PG - 2] = 'a', two[PG - 1] = 0;
    T(S(SYS_openat, AT_FDCWD, two, O_RDONLY));   /* 4095 bytes: too long */
    T(S(SYS_openat, AT_FDCWD, 0, O_RDONLY));
    T(S(SYS_openat, AT_FDCWD, FAR, O_RDONLY));
    T(S(SYS_newfstatat, AT_FDCWD, "/", 0, 0));
    T(S(SYS_newfstatat, AT_FDCWD, "/", ro, 0));
    T(S(SYS_fstat, fd, FAR));
    T(S(SYS_statx, AT_FDCWD, "/", 0, 0x7ff, two + PG - 8));
    T(S(SYS_clock_gettime, 0, FAR));
    T(S(SYS_clock_gettime, 12345, two));
    T(S(SYS_uname, ro));
    T(S(SYS_pipe2, ro, 0));
    T(S(SYS_pipe2, two, -1));
    printf("-- a big file through fread\n");
    FILE *f = fopen(at("big"), "rb");
    unsigned long sum = 0, total = 0;
    size_t n;
    while ((n = fread(huge, 1, (size_t)1 << 30, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            sum = sum * 31 + (unsigned char)huge[i];
        total += n;
    }
    fclose(f);
    printf("fread: %lu bytes, sum %lx\n", total, sum);
    close(dfd);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void fd_cases(void)
{
    printf("-- descriptors\n");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int top = (int)rl.rlim_cur - 1;
    T(S(SYS_fcntl, top, F_GETFD));
    T(S(SYS_dup3, 1, top, 0) == top);
    T(S(SYS_close, top));
    T(S(SYS_dup3, 1, top + 1, 0));
    T(S(SYS_fcntl, 1, F_DUPFD, top + 1));
    T(S(SYS_fcntl, 1, F_DUPFD, -1));
    T(S(SYS_fcntl, 1, 12345, 0));
    T(S(SYS_close_range, 5, 4, 0));
    T(S(SYS_close_range, 3, ~0U, 0x80));
    T(S(SYS_close_range, 3, ~0U, 0));
    printf("open fds after close_range: %d\n", count_fds());
    T(S(SYS_dup3, 0, 0, 0));
    T(S(SYS_dup3, 0, 1, -1));
    T(S(SYS_close, -1));
    T(S(SYS_close, 1 << 30));
    T(S(SYS_ioctl, 1000, 0x5401, 0));
    T(S(SYS_fstat, 1000, 0));
}

static void maps_cases(void)
{
    printf("-- /proc/self/maps\n");
    int fd = open(at("big"), O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    char *m = mmap(0, 3 * PG, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
    char *s = mmap(0, 2 * PG, PROT_READ, MAP_SHARED, fd, 5 * PG);
    mprotect(m + PG, PG, PROT_READ | PROT_WRITE);     /* splits it: offsets 2, 3, 4 pages */
    void *b = sbrk(0);
    sbrk(3 * PG);
    sbrk(-PG);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], shared[128] = "shared: missing\n";
    int ok_inode = 0, rows = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, maj, min, ino;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu", &lo, &hi, perms, &off, &maj, &min, &ino) != 7)
            printf("FAIL maps line: %s", line);
        if (strstr(line, "/big")) {
            rows++;
            ok_inode += ino == st.st_ino && makedev(maj, min) == st.st_dev;
            if (lo >= (unsigned long)m && lo < (unsigned long)m + 3 * PG)
                printf("private +%lx: pages=%lu %s off=%lx\n", lo - (unsigned long)m, (hi - lo) / PG, perms, off);
            if (lo == (unsigned long)s)
                snprintf(shared, sizeof shared, "shared: pages=%lu %s off=%lx\n", (hi - lo) / PG, perms, off);
        }
    }
    fclose(f);
    printf("%s", shared);
    printf("file rows: %d, dev+inode right: %d, brk moved: %d\n", rows, ok_inode, sbrk(0) != b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: hostile_sys TMPDIR\n");
        return 2;
    }
    dir = argv[1];
    setvbuf(stdout, 0, _IOLBF, 0);
    int fd = make_file("big", (3 << 20) + 12345);
    mm_cases(fd);
    lseek(fd, 0, SEEK_SET);
    rw_cases(fd);
    maps_cases();
    fd_cases();
    printf("hostile_sys done\n");
    return 0;
}
