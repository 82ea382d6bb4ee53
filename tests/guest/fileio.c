/* File I/O inside the directory given as argv[1] (each run gets its own
 * empty temporary directory): open/creat with O_EXCL, write/read, lseek
 * (SET/CUR/END, holes), pread/pwrite, ftruncate, O_APPEND, fstat/stat/lstat
 * (size and mode bits only), mkdir/rmdir, readdir (sorted), rename, unlink,
 * symlink/readlink, access, dup/dup2/dup3/fcntl, pipe, getcwd/chdir (only
 * paths relative to the directory are printed), stdio (fopen, fprintf,
 * fgets, fseek, ftell), errno values of failing calls, EPIPE with SIGPIPE
 * ignored.  Descriptor numbers are printed: a fresh process has only 0-2
 * open, so the first open() returns 3.  Exit status 0. */
#define _GNU_SOURCE
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SHOW(expr) SHOW_AS(44, #expr, expr)

static void show_stat(const char *what, const struct stat *st)
{
    const char *type = S_ISREG(st->st_mode)   ? "reg"
                       : S_ISDIR(st->st_mode) ? "dir"
                       : S_ISLNK(st->st_mode) ? "lnk"
                       : S_ISFIFO(st->st_mode) ? "fifo"
                                               : "other";
    printf("%s: type=%s mode=%04o size=%ld nlink=%lu\n", what, type,
           (unsigned)(st->st_mode & 07777),
           S_ISDIR(st->st_mode) ? -1L : (long)st->st_size,
           S_ISDIR(st->st_mode) ? 0UL : (unsigned long)st->st_nlink);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s failed: %s\n", path, strerrorname_np(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmpstr);
    printf("readdir %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void dump_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("%s (%zd bytes):", path, n);
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 32 && c < 127)
            printf("%c", c);
        else
            printf("\\x%02x", c);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fileio DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    if (chdir(argv[1]) != 0) {
        perror("chdir");
        return 2;
    }
    char base[4096];
    if (!getcwd(base, sizeof base)) {
        perror("getcwd");
        return 2;
    }
    struct stat st;

    /* creation, O_EXCL, write, read back */
    int fd;
    SHOW(fd = open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0640));
    SHOW(open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0640));
    SHOW(write(fd, "hello, world\n", 13));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(lseek(fd, 0, SEEK_SET));
    char buf[128];
    memset(buf, 0, sizeof buf);
    SHOW(read(fd, buf, 5));
    printf("read: [%s]\n", buf);
    SHOW(lseek(fd, -6, SEEK_END));
    memset(buf, 0, sizeof buf);
    SHOW(read(fd, buf, sizeof buf - 1));
    printf("read: [%s]\n", buf);
    SHOW(read(fd, buf, 10)); /* at EOF */

    /* pread/pwrite do not move the offset */
    SHOW(pwrite(fd, "HELLO", 5, 0));
    SHOW(lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    SHOW(pread(fd, buf, 8, 3));
    printf("pread: [%s]\n", buf);
    SHOW(lseek(fd, 0, SEEK_CUR));

    /* a hole past the end */
    SHOW(lseek(fd, 100, SEEK_SET));
    SHOW(write(fd, "end", 3));
    SHOW(fstat(fd, &st));
    show_stat("a.txt after hole", &st);
    SHOW(pread(fd, buf, 4, 50));
    printf("hole bytes: %02x %02x %02x %02x\n", buf[0], buf[1], buf[2], buf[3]);
    SHOW(ftruncate(fd, 20));
    SHOW(fstat(fd, &st));
    show_stat("a.txt truncated", &st);
    SHOW(lseek(fd, 0, SEEK_END));
    SHOW(lseek(fd, -100, SEEK_SET));

    /* readv / writev */
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    SHOW(lseek(fd, 0, SEEK_SET));
    SHOW(writev(fd, iov, 3));
    char r1[3] = {0}, r2[5] = {0};
    struct iovec riov[2] = {{r1, 2}, {r2, 4}};
    SHOW(lseek(fd, 0, SEEK_SET));
    SHOW(readv(fd, riov, 2));
    printf("readv: [%s] [%s]\n", r1, r2);
    SHOW(close(fd));
    SHOW(close(fd));
    dump_file("a.txt");

    /* O_APPEND */
    SHOW(fd = open("a.txt", O_WRONLY | O_APPEND));
    SHOW(lseek(fd, 0, SEEK_SET));
    SHOW(write(fd, "+app", 4));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(close(fd));

    /* stat, chmod, access */
    SHOW(stat("a.txt", &st));
    show_stat("a.txt", &st);
    SHOW(chmod("a.txt", 0600));
    SHOW(stat("a.txt", &st));
    show_stat("a.txt chmod", &st);
    SHOW(access("a.txt", R_OK | W_OK));
    SHOW(access("missing", F_OK));
    SHOW(stat("missing", &st));
    SHOW(open("missing", O_RDONLY));
    SHOW(open("a.txt/x", O_RDONLY));

    /* directories */
    SHOW(mkdir("sub", 0755));
    SHOW(mkdir("sub", 0755));
    SHOW(stat("sub", &st));
    show_stat("sub", &st);
    SHOW(fd = open("sub/b.bin", O_CREAT | O_WRONLY | O_TRUNC, 0666));
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i;
    SHOW(write(fd, bin, sizeof bin));
    SHOW(close(fd));
    SHOW(stat("sub/b.bin", &st));
    show_stat("sub/b.bin", &st);
    SHOW(creat("sub/c", 0700));
    SHOW(symlink("a.txt", "link"));
    SHOW(lstat("link", &st));
    show_stat("link (lstat)", &st);
    SHOW(stat("link", &st));
    show_stat("link (stat)", &st);
    memset(buf, 0, sizeof buf);
    SHOW(readlink("link", buf, sizeof buf));
    printf("readlink: [%s]\n", buf);
    list_dir(".");
    list_dir("sub");

    /* rename, unlink, rmdir */
    SHOW(rename("a.txt", "renamed.txt"));
    SHOW(stat("a.txt", &st));
    SHOW(stat("renamed.txt", &st));
    show_stat("renamed.txt", &st);
    SHOW(stat("link", &st)); /* dangling now */
    SHOW(unlink("link"));
    SHOW(unlink("link"));
    SHOW(rename("sub/c", "c-moved"));
    SHOW(rmdir("sub"));
    SHOW(unlink("sub/b.bin"));
    SHOW(rmdir("sub"));
    list_dir(".");

    /* dup, dup2, dup3, fcntl */
    SHOW(fd = open("renamed.txt", O_RDWR));
    int fd2;
    SHOW(fd2 = dup(fd));
    SHOW(lseek(fd, 3, SEEK_SET));
    SHOW(lseek(fd2, 0, SEEK_CUR)); /* shared offset */
    SHOW(dup2(fd, 10));
    SHOW(write(10, "<10>", 4));
    SHOW(lseek(fd, 0, SEEK_CUR));
    SHOW(dup3(fd, 11, O_CLOEXEC));
    SHOW(fcntl(11, F_GETFD));
    SHOW(fcntl(10, F_GETFD));
    SHOW(fcntl(fd, F_GETFL) & O_ACCMODE);
    SHOW(fcntl(fd, F_DUPFD, 20));
    SHOW(close(10));
    SHOW(close(11));
    SHOW(close(20));
    SHOW(close(fd2));
    SHOW(close(fd));
    SHOW(dup2(99, 12));
    dump_file("renamed.txt");

    /* writing to stdout through a duplicated descriptor */
    fflush(stdout);
    SHOW(fd = dup(1));
    SHOW(write(fd, "via dup(1)\n", 11));
    SHOW(close(fd));

    /* pipes */
    int p[2];
    SHOW(pipe(p));
    SHOW(write(p[1], "through the pipe", 16));
    memset(buf, 0, sizeof buf);
    SHOW(read(p[0], buf, 7));
    printf("pipe read: [%s]\n", buf);
    SHOW(close(p[1]));
    memset(buf, 0, sizeof buf);
    SHOW(read(p[0], buf, sizeof buf));
    printf("pipe read: [%s]\n", buf);
    SHOW(read(p[0], buf, sizeof buf)); /* EOF */
    SHOW(close(p[0]));
    SHOW(pipe2(p, O_CLOEXEC | O_NONBLOCK));
    SHOW(read(p[0], buf, 1)); /* EAGAIN */
    SHOW(fstat(p[0], &st));
    printf("pipe is fifo: %d\n", S_ISFIFO(st.st_mode));
    SHOW(close(p[0]));
    signal(SIGPIPE, SIG_IGN);
    SHOW(write(p[1], "x", 1)); /* no reader: EPIPE (SIGPIPE ignored) */
    SHOW(close(p[1]));

    /* getcwd / chdir: only relative results */
    SHOW(mkdir("d1", 0700));
    SHOW(mkdir("d1/d2", 0700));
    SHOW(chdir("d1/d2"));
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && strncmp(cwd, base, strlen(base)) == 0)
        printf("cwd relative: [%s]\n", cwd + strlen(base));
    else
        printf("cwd outside base!\n");
    SHOW(chdir(".."));
    if (getcwd(cwd, sizeof cwd) && strncmp(cwd, base, strlen(base)) == 0)
        printf("cwd relative: [%s]\n", cwd + strlen(base));
    SHOW(chdir("nonexistent"));
    SHOW(chdir(base));
    if (getcwd(cwd, sizeof cwd))
        printf("cwd back at base: %d\n", strcmp(cwd, base) == 0);
    SHOW(getcwd(cwd, 2) == NULL);
    printf("errno after short getcwd: %s\n", strerrorname_np(errno));
    SHOW(rmdir("d1/d2"));
    SHOW(rmdir("d1"));

    /* openat relative to a directory fd */
    int dfd;
    SHOW(mkdir("dir3", 0755));
    SHOW(dfd = open("dir3", O_RDONLY | O_DIRECTORY));
    SHOW(fd = openat(dfd, "inner", O_CREAT | O_WRONLY, 0644));
    SHOW(write(fd, "inner data", 10));
    SHOW(close(fd));
    SHOW(fstatat(dfd, "inner", &st, 0));
    show_stat("dir3/inner", &st);
    SHOW(unlinkat(dfd, "inner", 0));
    SHOW(close(dfd));
    SHOW(unlinkat(AT_FDCWD, "dir3", AT_REMOVEDIR));

    /* stdio */
    FILE *f = fopen("stdio.txt", "w+");
    printf("fopen ok: %d\n", f != NULL);
    for (int i = 0; i < 5; i++)
        fprintf(f, "line %d: %s\n", i, i % 2 ? "odd" : "even");
    printf("ftell after writes: %ld\n", ftell(f));
    SHOW(fseek(f, 0, SEEK_SET));
    char line[64];
    while (fgets(line, sizeof line, f))
        printf("fgets: %s", line);
    printf("feof=%d ferror=%d\n", feof(f), ferror(f));
    SHOW(fseek(f, 8, SEEK_SET));
    printf("fgetc: %c\n", fgetc(f));
    SHOW(fclose(f));
    f = fopen("stdio.txt", "r");
    size_t total = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        total += (size_t)c;
    fclose(f);
    printf("byte sum %zu\n", total);
    f = fopen("no/such/file", "r");
    printf("fopen missing: %s errno=%s\n", f ? "opened?!" : "NULL",
           strerrorname_np(errno));

    /* stderr too */
    fprintf(stderr, "fileio: stderr line\n");
    list_dir(".");
    SHOW(unlink("renamed.txt"));
    SHOW(unlink("c-moved"));
    SHOW(unlink("stdio.txt"));
    list_dir(".");
    printf("fileio done\n");
    return 0;
}
