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
import array
import errno
import os
import sys

from .syscalls import syscall
from ..errors import GuestFault

FLUSH_ICACHE_LOCAL = 1
HWPROBE_WHICH_CPUS = 1
HWPROBE_CHUNK = 4096                            # pairs answered at once
M64 = (1 << 64) - 1


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
    cpuset = None                                # (WHICH_CPUS: [the set], cleared where no match)
    if setsize or cpus:
        online = int.from_bytes(_online_mask(setsize), "little")
        given = int.from_bytes(mem.read(cpus, setsize), "little")
        got = (given or (online if which else 0)) & online   # (WHICH_CPUS: none stands for all)
        if not got:
            return -errno.EINVAL
        if which:
            cpuset = [got]
    done = 0
    while done < count:                          # (in chunks: a count may be huge, as the memory)
        n = min(count - done, HWPROBE_CHUNK)
        at = pairs + 16 * done
        try:
            data = mem.read(at, 16 * n)
        except GuestFault:
            data = None
        if data is None or not _hwprobe_write(mem, at, data, _hwprobe_pairs(arch, mem, data, cpuset)):
            for i in range(n):                   # (a fault: pair by pair to it, as the kernel)
                one = mem.read(at + 16 * i, 16)
                _hwprobe_write(mem, at + 16 * i, one, _hwprobe_pairs(arch, mem, one, cpuset), exact=True)
        done += n
    if which:
        mem.write(cpus, cpuset[0].to_bytes(setsize, "little"))
    return 0


def _hwprobe_pairs(arch, mem, data, cpuset):
    """The pairs of `data` answered (values filled; with `cpuset`, [mask],
    WHICH_CPUS: the mask cleared where a pair's value is not this CPU's).
    By distinct keys (and values asked), each once: a chunk of memory the
    kernel would go through at ~1 ns a pair is mostly one key (zeros)."""
    a = array.array("q", data)
    if sys.byteorder != "little":
        a.byteswap()
    keys, wants = a[0::2], a[1::2]
    answers = {k: arch.hwprobe(k, mem) for k in set(keys)}
    out_keys = {k: -1 if v is None else k for k, v in answers.items()}
    if cpuset is None:
        out_values = {k: v or 0 for k, v in answers.items()}
    else:
        out_values = {k: 0 if v is None else None for k, v in answers.items()}
        for k, w in set(zip(keys, wants)):
            v, w = answers[k], w & M64
            if v is None or not (w & ~v == 0 if k in arch.hwprobe_bit_keys else w == v):
                cpuset[0] = 0
    n = len(keys)
    if len(answers) == 1:
        ((k, key),) = out_keys.items()
        a[0::2] = array.array("q", [key]) * n
        if out_values[k] is not None:
            a[1::2] = array.array("q", [out_values[k]]) * n
    else:
        a[0::2] = array.array("q", map(out_keys.__getitem__, keys))
        a[1::2] = array.array("q", [w if out_values[k] is None else out_values[k] for k, w in zip(keys, wants)])
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def _hwprobe_write(mem, at, data, out, exact=False):
    """Write the answered pairs back where they changed -> done (False: a
    fault; `exact`: raise it, the guest's EFAULT)."""
    if out == data:
        return True
    try:
        mem.write(at, out)
    except GuestFault:
        if exact:
            raise
        return False
    return True
