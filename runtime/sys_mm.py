"""Memory-management syscalls: brk, mmap, munmap, mprotect, mremap, madvise."""
import errno
import os

from .syscalls import syscall
from .memory import (PAGE, page_up, page_down, R, W, X, MAP_FIXED, MAP_SHARED, MAP_PRIVATE,
                     MAP_ANONYMOUS, MAP_FIXED_NOREPLACE)

MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
MADV_DONTNEED = 4
_PROT_MASK = R | W | X


@syscall("brk")
def sys_brk(proc, addr):
    mem = proc.mem
    if addr < mem.brk_start:
        return mem.brk
    old_top, new_top = page_up(mem.brk), page_up(addr)
    if new_top > old_top:
        if not mem.is_free(old_top, new_top) or new_top > mem.mmap_top:
            return mem.brk
        mem.map(old_top, new_top - old_top, R | W, name="[heap]")
    elif new_top < old_top:
        mem.unmap(new_top, old_top - new_top)
    mem.brk = addr
    return addr


@syscall("mmap")
def sys_mmap(proc, addr, length, prot, flags, fd, offset):
    mem = proc.mem
    fd &= 0xffffffff
    if fd >= 1 << 31:
        fd -= 1 << 32
    if length == 0 or offset & (PAGE - 1):
        return -errno.EINVAL
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        return -errno.EINVAL
    size = page_up(length)
    if size > mem.space:
        return -errno.ENOMEM
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr & (PAGE - 1):
            return -errno.EINVAL
        if addr + size > mem.space:
            return -errno.ENOMEM
        if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and not mem.is_free(addr, addr + size):
            return -errno.EEXIST
        start = addr
    else:
        start = page_down(addr) if addr and addr + size <= mem.mmap_top and \
            mem.is_free(page_down(addr), page_down(addr) + size) else mem.find_free(size)
        if start is None:
            return -errno.ENOMEM
    prot &= _PROT_MASK
    if flags & MAP_ANONYMOUS:
        mem.map(start, size, prot, flags)
        return start
    if fd in proc.reserved_fds:
        return -errno.EBADF
    st = os.fstat(fd)                          # EBADF as OSError
    name = _fd_name(fd)
    if flags & MAP_SHARED:
        # host pages past the end of the file would raise SIGBUS in pydbt itself:
        # map only the part the file covers, the rest anonymous
        covered = max(0, min(size, page_up(st.st_size - offset)))
        if covered:
            mem.map(start, covered, prot, flags, fd=fd, offset=offset, name=name)
        if covered < size:
            mem.map(start + covered, size - covered, prot, MAP_PRIVATE | MAP_ANONYMOUS, name=name)
        return start
    # private file mapping: a copy of the file bytes (no SIGBUS hazard, no sharing needed)
    mem.map(start, size, prot, flags, name=name, offset=offset)
    data = os.pread(fd, length, offset)
    mem.poke(start, data)
    return start


def _fd_name(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@syscall("munmap")
def sys_munmap(proc, addr, length):
    if addr & (PAGE - 1) or length == 0 or addr + length > proc.mem.space:
        return -errno.EINVAL
    proc.mem.unmap(addr, length)
    return 0


@syscall("mprotect")
def sys_mprotect(proc, addr, length, prot):
    if addr & (PAGE - 1) or prot & ~(_PROT_MASK | 0x01000000 | 0x02000000):
        return -errno.EINVAL
    if length == 0:
        return 0
    return proc.mem.protect(addr, length, prot & _PROT_MASK)


@syscall("mremap")
def sys_mremap(proc, old, old_size, new_size, flags, new_addr):
    mem = proc.mem
    if old & (PAGE - 1) or new_size == 0 or flags & ~3 or (flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE):
        return -errno.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    vma = mem.vma_at(old)
    if vma is None or old + old_size > vma.end:
        return -errno.EFAULT
    prot, vflags = vma.prot, vma.flags
    if flags & MREMAP_FIXED:
        if new_addr & (PAGE - 1):
            return -errno.EINVAL
        dest = new_addr
    elif new_size <= old_size:
        if new_size < old_size:
            mem.unmap(old + new_size, old_size - new_size)
        return old
    elif mem.is_free(old + old_size, old + new_size) and old + new_size <= mem.mmap_top:
        mem.map(old + old_size, new_size - old_size, prot, vflags | MAP_ANONYMOUS, name=vma.name)
        return old
    elif flags & MREMAP_MAYMOVE:
        dest = mem.find_free(new_size)
        if dest is None:
            return -errno.ENOMEM
    else:
        return -errno.ENOMEM
    data = mem.buf[old:old + min(old_size, new_size)]
    mem.unmap(old, old_size)
    mem.map(dest, new_size, prot, (vflags & ~MAP_SHARED) | MAP_PRIVATE | MAP_ANONYMOUS, name=vma.name)
    mem.poke(dest, data)
    return dest


@syscall("madvise")
def sys_madvise(proc, addr, length, advice):
    if addr & (PAGE - 1):
        return -errno.EINVAL
    if advice == MADV_DONTNEED and length:
        mem = proc.mem
        end = page_up(addr + length)
        for v in mem.vmas:
            s, e = max(v.start, addr), min(v.end, end)
            if s < e and v.flags & MAP_ANONYMOUS and not v.flags & MAP_SHARED:
                mem.invalidate_and_zero(s, e)
    return 0


@syscall("msync", "mlock", "munlock", "mlockall", "munlockall")
def sys_mm_nop(proc):
    return 0
