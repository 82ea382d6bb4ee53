/* System-call heavy loop: small write()s to /dev/null, getpid(), and an
 * lseek() every 8th iteration, each a real ecall to the runtime, with very
 * little guest work between them.  Only deterministic values go into the
 * checksum (the pid is only checked to be positive and constant).
 * Size = iterations (2-3 syscalls each). */
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000);
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) {
        perror("open /dev/null");
        return 1;
    }
    char buf[64];
    memset(buf, 'x', sizeof buf);
    long first_pid = syscall(SYS_getpid);
    uint64_t h = 0, written = 0, bad = 0, nsys = 1;
    for (long i = 0; i < n; i++) {
        ssize_t r = write(fd, buf, 1 + (size_t)(i & 31));
        written += (uint64_t)r;
        h = mix64(h, (uint64_t)r);
        long pid = syscall(SYS_getpid);
        bad += pid != first_pid || pid <= 0;
        nsys += 2;
        if ((i & 7) == 0) {
            off_t o = lseek(fd, 0, SEEK_SET);
            bad += o != 0;
            nsys++;
        }
    }
    close(fd);
    printf("syscalls %ld %016llx written=%llu syscalls=%llu bad=%llu\n", n, (unsigned long long)h,
           (unsigned long long)written, (unsigned long long)nsys, (unsigned long long)bad);
    return bad != 0;
}
