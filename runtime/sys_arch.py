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
"""
import errno

from .syscalls import syscall

FLUSH_ICACHE_LOCAL = 1


@syscall("riscv_flush_icache")
def sys_flush_icache(proc, start, end, flags):
    if flags & ~FLUSH_ICACHE_LOCAL:
        return -errno.EINVAL
    engine = getattr(proc, "engine", None)
    if engine is not None and end > start:
        engine.cache.invalidate_range(start, end)
    return 0
