"""Syscalls that belong to one guest ISA, with architecture-neutral semantics.

`riscv_flush_icache(start, end, flags)`: RISC-V's own call to make stores to
code visible to instruction fetch.  There is nothing to flush in pydbt: every
store to a page holding translations already invalidated them (the page is
marked CODE in guest memory, see tb.py), so it only validates its flags as the
kernel does (arch/riscv/kernel/sys_riscv.c: only bit 0,
SYS_RISCV_FLUSH_ICACHE_LOCAL, else EINVAL; the range is not checked).
"""
import errno

from .syscalls import syscall

FLUSH_ICACHE_LOCAL = 1


@syscall("riscv_flush_icache")
def sys_flush_icache(proc, start, end, flags):
    if flags & ~FLUSH_ICACHE_LOCAL:
        return -errno.EINVAL
    return 0
