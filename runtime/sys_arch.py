"""Syscalls that belong to one guest ISA, with architecture-neutral semantics.

`riscv_flush_icache(start, end, flags)`: RISC-V's own call to make stores to
code visible to instruction fetch.  A store to a page holding translations
already invalidated them (the page is marked CODE in guest memory, see tb.py),
except one racing the first translation of its page in another thread
(native code stores without the GIL): that TB may hold the old bytes.  A
program that writes code for another thread calls this before running it, so
it drops the translations of [start, end) (a no-op when the stores did).  It
validates its flags as the kernel does (arch/riscv/kernel/sys_riscv.c: only
bit 0, SYS_RISCV_FLUSH_ICACHE_LOCAL, else EINVAL; the range is not checked).

`riscv_hwprobe(pairs, pair_count, cpusetsize, cpus, flags)`: what the CPU
is, as (key, value) pairs the caller fills with keys (the frontend's
`arch.hwprobe(key, mem)`: glibc picks its string functions by it).  Every
guest CPU is the same, so a CPU set only matters by being empty or not, as
the kernel validates it (arch/riscv/kernel/sys_hwprobe.c): flags 0 fills the
values (an unknown key becomes -1 with value 0; an empty set of online
CPUs: EINVAL); flags WHICH_CPUS keeps the CPUs of the set that have every
pair's value (all or none here; an empty set stands for all online CPUs).
"""
import errno
import os
import struct

from .syscalls import syscall

FLUSH_ICACHE_LOCAL = 1
HWPROBE_WHICH_CPUS = 1


@syscall("riscv_flush_icache")
def sys_flush_icache(proc, start, end, flags):
    if flags & ~FLUSH_ICACHE_LOCAL:
        return -errno.EINVAL
    engine = getattr(proc, "engine", None)
    if engine is not None and end > start:
        engine.cache.invalidate_range(start, end)
    return 0


def _online_mask(nbytes):
    """The online CPUs (the host's, as /proc/cpuinfo's) as a mask of nbytes bytes."""
    n = os.cpu_count() or 1
    return ((1 << n) - 1).to_bytes(max(nbytes, (n + 7) // 8), "little")[:nbytes]


@syscall("riscv_hwprobe")
def sys_riscv_hwprobe(proc, pairs, count, setsize, cpus, flags):
    arch, mem = proc.arch, proc.mem
    flags &= 0xffffffff
    which = flags == HWPROBE_WHICH_CPUS
    if flags and not which:
        return -errno.EINVAL
    masklen = ((os.cpu_count() or 1) + 63) // 64 * 8        # (the kernel's cpumask_size)
    setsize = min(setsize, masklen)
    if which and not (setsize and cpus):
        return -errno.EINVAL
    online = _online_mask(setsize)
    if setsize or cpus:
        given = int.from_bytes(mem.read(cpus, setsize), "little")
        if which and not given:
            given = int.from_bytes(online, "little")          # (none: all online)
        cpuset = given & int.from_bytes(online, "little")
        if not cpuset and not which:
            return -errno.EINVAL
    for i in range(count):
        at = pairs + 16 * i
        key = struct.unpack("<q", mem.read(at, 8))[0]
        value = arch.hwprobe(key, mem)
        if which:
            want = struct.unpack("<Q", mem.read(at + 8, 8))[0]
            if value is None:
                cpuset = 0
                mem.write(at, struct.pack("<qQ", -1, 0))
            elif not (want & ~value == 0 if key in arch.hwprobe_bit_keys else want == value):
                cpuset = 0
        else:
            mem.write(at, struct.pack("<qQ", -1, 0) if value is None else struct.pack("<qQ", key, value))
    if which:
        mem.write(cpus, cpuset.to_bytes(setsize, "little"))
    return 0
