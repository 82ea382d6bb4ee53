"""riscv_hwprobe (runtime/sys_arch.py) from a guest of our own: the values the
kernel's asm/hwprobe.h defines for an RV64GC CPU, and the kernel's
validation (arch/riscv/kernel/sys_hwprobe.c).  qemu-riscv64 7.2 has no
hwprobe (ENOSYS), so the oracle is the kernel's documented behaviour."""
import os

import pytest

import guestprogs

SOURCE = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

struct pair { long long key; unsigned long long value; };

static long probe(struct pair *p, long n, long setsize, unsigned long *cpus, long flags)
{
    long r = syscall(258, p, n, setsize, cpus, flags);
    return r < 0 ? -errno : r;
}

int main(void)
{
    struct pair p[] = {{0, 9}, {1, 9}, {2, 9}, {3, 9}, {4, 9}, {5, 9}, {6, 9}, {7, 9}, {8, 9}, {9, 9},
                       {10, 9}, {100, 9}, {-5, 9}};
    int n = sizeof p / sizeof p[0];
    printf("all online: %ld\n", probe(p, n, 0, NULL, 0));
    for (int i = 0; i < n; i++)
        printf("key %lld value %#llx\n", p[i].key, p[i].value);
    unsigned long set = 1, none = 0;
    struct pair one = {4, 0};
    printf("cpu 0: %ld value %#llx\n", probe(&one, 1, sizeof set, &set, 0), one.value);
    printf("empty set: %ld\n", probe(&one, 1, sizeof none, &none, 0));
    printf("set size 0, a set: %ld\n", probe(&one, 1, 0, &set, 0));
    printf("bad flags: %ld\n", probe(&one, 1, 0, NULL, 2));
    printf("bad pairs: %ld\n", probe((struct pair *)16, 1, 0, NULL, 0));
    printf("bad set: %ld\n", probe(&one, 1, sizeof set, (unsigned long *)16, 0));
    printf("no pairs: %ld\n", probe(NULL, 0, 0, NULL, 0));

    /* WHICH_CPUS: the CPUs of the set having every pair's value */
    struct pair fd_c = {4, 3}, v = {4, 4}, fast = {9, 3}, slow = {9, 2}, unknown = {100, 0};
    set = 1;
    printf("which FD|C: %ld set %#lx\n", probe(&fd_c, 1, sizeof set, &set, 1), set);
    set = 1;
    printf("which FD|C, fast: %ld set %#lx\n", probe((struct pair[]){fd_c, fast}, 2, sizeof set, &set, 1), set);
    set = 1;
    printf("which V: %ld set %#lx\n", probe(&v, 1, sizeof set, &set, 1), set);
    set = 1;
    printf("which slow: %ld set %#lx\n", probe(&slow, 1, sizeof set, &set, 1), set);
    set = 1;
    printf("which unknown: %ld set %#lx key %lld\n", probe(&unknown, 1, sizeof set, &set, 1), set,
           unknown.key);
    set = 0;
    printf("which, empty set: %ld set %#lx\n", probe(&fd_c, 1, sizeof set, &set, 1), set & 1);
    printf("which, no set: %ld\n", probe(&fd_c, 1, 0, NULL, 1));

    /* many pairs (the runtime answers them in chunks): each as when asked alone */
    enum { BULK = 10000 };
    static struct pair bulk[BULK];
    for (int i = 0; i < BULK; i++)
        bulk[i] = (struct pair){i % 3 == 0 ? 0 : i % 13, 7};
    long r = probe(bulk, BULK, 0, NULL, 0);
    int same = 1;
    for (int i = 0; i < BULK; i++) {
        struct pair alone = {i % 3 == 0 ? 0 : i % 13, 7};
        probe(&alone, 1, 0, NULL, 0);
        same &= bulk[i].key == alone.key && bulk[i].value == alone.value;
    }
    printf("bulk: %ld same=%d\n", r, same);
    /* pairs running into an unmapped page: those before it answered, then EFAULT */
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + page, page);
    struct pair *edge = (struct pair *)(two + page) - 2;
    edge[0] = (struct pair){4, 0};
    edge[1] = (struct pair){3, 0};
    printf("into a hole: %ld then %#llx %#llx\n", probe(edge, 3, 0, NULL, 0), edge[0].value, edge[1].value);
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(own_program):
    return own_program("hwprobe", SOURCE)


def test_hwprobe_tells_an_rv64gc_cpu_and_validates_as_the_kernel(program, tmp_path):
    r = guestprogs.run(guestprogs.pydbt_argv(program, (), ("-R", "16g")), env=dict(os.environ), cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 0, r.describe()
    out = r.stdout.decode().splitlines()
    assert out[:14] == [
        "all online: 0",
        "key 0 value 0",                   # mvendorid, marchid, mimpid: as /proc/cpuinfo
        "key 1 value 0",
        "key 2 value 0",
        "key 3 value 0x1",                 # BASE_BEHAVIOR: IMA
        "key 4 value 0x3",                 # IMA_EXT_0: FD | C, no V nor Zb*
        "key 5 value 0x3",                 # CPUPERF_0: misaligned FAST
        "key 6 value 0",                   # ZICBOZ_BLOCK_SIZE: no Zicboz
        "key 7 value 0x3ffffffff",         # HIGHEST_VIRT_ADDRESS: the 16 GiB space's top
        "key 8 value 0x989680",            # TIME_CSR_FREQ: 10 MHz
        "key 9 value 0x3",                 # MISALIGNED_SCALAR_PERF: FAST
        "key 10 value 0x4",                # MISALIGNED_VECTOR_PERF: unsupported
        "key -1 value 0",                  # unknown keys
        "key -1 value 0",
    ], r.describe()
    assert out[14:] == [
        "cpu 0: 0 value 0x3",
        "empty set: -22",
        "set size 0, a set: -22",
        "bad flags: -22",
        "bad pairs: -14",
        "bad set: -14",
        "no pairs: 0",
        "which FD|C: 0 set 0x1",
        "which FD|C, fast: 0 set 0x1",
        "which V: 0 set 0",
        "which slow: 0 set 0",
        "which unknown: 0 set 0 key -1",
        "which, empty set: 0 set 0x1",     # (an empty set stands for every online CPU)
        "which, no set: -22",
        "bulk: 0 same=1",
        "into a hole: -14 then 0x3 0x1",
    ], r.describe()
