"""Memory-management syscalls: brk, mmap, munmap, mprotect, mremap, madvise.

Arguments are checked in the kernel's order and with its errnos (mm/mmap.c,
mm/mprotect.c, mm/mremap.c, mm/madvise.c), the guest space (`mem.space`)
playing TASK_SIZE: a range that wraps or reaches past the space is ENOMEM or
EINVAL as there, never a Python exception.  Whether a *file* may be mapped
(EACCES, ENODEV, EOVERFLOW) is asked of the host kernel itself: a probe mapping
of the same fd, offset, size and protection, unmapped at once.  A private file
mapping is a copy of the file's bytes, read straight into guest memory.

Shared libraries have a place of their own: the first mapping ld.so makes of
one (private, of a whole ELF shared object from offset 0, no address asked)
goes to a slot a hash of the file's identity picks, below the top-down
mmap area (`_library_place`), when it is free (else where Linux would put
it).  So libc is at one address in every program, as the ELF interpreter is,
and its translations are shared by them all (`proc.shared_spans`:
execloop.Engine._store's TB stores of one file at one place).
"""
import ctypes
import errno
import os
import resource

from .syscalls import syscall
from .abi import s32, s64, host_syscall as hsys
from .memory import (PAGE, page_up, page_down, R, W, X, MAP_FIXED, MAP_SHARED, MAP_PRIVATE,
                     MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_NORESERVE)

M64 = (1 << 64) - 1
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MAP_SHARED_VALIDATE, MAP_DROPPABLE = 3, 0x08
MAP_TYPE = 0x0f
# flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK: the hugetlb size bits included)
MAP_KNOWN = (0x03 | MAP_FIXED | MAP_ANONYMOUS | 0x100 | 0x800 | 0x1000 | 0x2000 | MAP_NORESERVE
             | 0x8000 | 0x10000 | 0x20000 | 0x40000 | MAP_FIXED_NOREPLACE | 0x4000000 | (0x3f << 26))
MADV_DONTNEED = 4
# advice values Linux 6.x accepts (MADV_HWPOISON/SOFT_OFFLINE need CAP_SYS_ADMIN: EPERM)
MADV_VALID = frozenset(range(0, 5)) | frozenset(range(8, 26)) | {102, 103}
MADV_PRIVILEGED = (100, 101)
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000
PROT_SEM = 0x8
_PROT_MASK = R | W | X

# _library_place: LIB_SLOTS slots of LIB_SLOT bytes, ending LIB_BELOW below the
# top of the mmap area (the top-down mappings' room), in spaces big enough
LIB_SLOT, LIB_SLOTS, LIB_BELOW = 16 << 20, 256, 1 << 30
ET_DYN = 3

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_MAP_FAILED = ctypes.c_void_p(-1).value


def _err(e):
    return OSError(e, os.strerror(e))


def covered(mem, start, end):
    """True when every byte of [start, end) is mapped (walks the vmas, not pages)."""
    at = start
    for v in mem.vmas:
        if v.end <= at:
            continue
        if v.start > at:
            return False
        at = v.end
        if at >= end:
            return True
    return at >= end


# The calls that change the layout hold mem.map_lock (the kernel's mmap_lock): each
# sys_x takes it and runs _x_held (its body, the lock held).
@syscall("brk")
def sys_brk(proc, addr):
    with proc.mem.map_lock:
        return _brk_held(proc, addr)


def _brk_held(proc, addr):
    mem = proc.mem
    if addr < mem.brk_start:
        return mem.brk
    old_top, new_top = page_up(mem.brk), page_up(addr)
    if new_top > old_top:
        if new_top > mem.mmap_top or not mem.is_free(old_top, new_top):
            return mem.brk
        mem.map(old_top, new_top - old_top, R | W, name="[heap]")
    elif new_top < old_top:
        mem.unmap(new_top, old_top - new_top)
    mem.brk = addr
    return addr


def _probe_file(fd, size, prot, flags, offset):
    """Ask the host kernel whether it would map this file so (raises its errno)."""
    kind = MAP_PRIVATE if flags & MAP_TYPE == MAP_PRIVATE else MAP_SHARED
    r = _libc.mmap(None, size, prot & _PROT_MASK, kind | MAP_NORESERVE, fd, s64(offset))
    if r == _MAP_FAILED or r is None:
        raise _err(ctypes.get_errno())
    _libc.munmap(r, size)


MAP_LOCKED = 0x2000


@syscall("mmap")
def sys_mmap(proc, addr, length, prot, flags, fd, offset):
    with proc.mem.map_lock:
        return _mmap_held(proc, addr, length, prot, flags, fd, offset)


def _mmap_held(proc, addr, length, prot, flags, fd, offset):
    """mmap; a mapping made with MAP_LOCKED or after mlockall(MCL_FUTURE) is
    locked, within RLIMIT_MEMLOCK (EAGAIN beyond it, as mlock_future_ok)."""
    lk = getattr(proc, "mlocks", None)
    lock = flags & MAP_LOCKED or (lk is not None and lk.future and lk.image is proc.auxv)
    if lock and 0 < length <= proc.mem.space and not _capable(CAP_IPC_LOCK):
        limit = _memlock_limit()
        held = _locks(proc).locked_pages(proc.mem)
        if limit is not None and (page_up(length) >> 12) + held > limit >> 12:
            return -errno.EAGAIN
    r = _mmap(proc, addr, length, prot, flags, fd, offset)
    if lock and r >= 0:
        _locks(proc).add(r, r + page_up(length))
    return r


def _mmap(proc, addr, length, prot, flags, fd, offset):
    mem = proc.mem
    fd, flags = s32(fd), flags & 0xffffffff
    anon = flags & MAP_ANONYMOUS
    if offset & (PAGE - 1):
        return -errno.EINVAL
    if not anon:
        if fd < 0 or fd in proc.reserved_fds:
            return -errno.EBADF
        st = os.fstat(fd)                      # EBADF as OSError
    if length == 0:
        return -errno.EINVAL
    size = page_up(length)
    if size > mem.space:                        # (a wrapped size too)
        return -errno.ENOMEM
    pgoff = (s64(offset) >> 12) & M64
    if pgoff + (size >> 12) > M64:
        return -errno.EOVERFLOW
    fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
    library = None                              # (_library_place's answer)
    if fixed:
        if addr > mem.space - size:
            return -errno.ENOMEM
        if addr & (PAGE - 1):
            return -errno.EINVAL
        if not flags & MAP_FIXED and not mem.is_free(addr, addr + size):
            return -errno.EEXIST
        start = addr
        mlock_forget(proc, start, start + size)
    else:
        hint = page_down(addr)
        if hint and hint + size <= mem.mmap_top and mem.is_free(hint, hint + size):
            start = hint
        else:
            if not anon and not hint and not offset and flags & MAP_TYPE == MAP_PRIVATE:
                library = _library_place(mem, fd, st, size)
            start = mem.find_free(size) if library is None else library
            if start is None:
                return -errno.ENOMEM
    kind = flags & MAP_TYPE
    if anon:
        if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_DROPPABLE):
            return -errno.EINVAL
        kind = MAP_PRIVATE if kind == MAP_DROPPABLE else kind      # (never dropped: allowed)
    else:
        if kind == MAP_SHARED_VALIDATE and flags & ~MAP_KNOWN:
            return -errno.EOPNOTSUPP
        if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
            return -errno.EINVAL
    if prot & ~(_PROT_MASK | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP):
        prot &= _PROT_MASK                      # (the kernel ignores unknown bits here)
    prot &= _PROT_MASK
    if anon:
        mem.map(start, size, prot, (flags & ~MAP_TYPE) | kind)
        return start
    _probe_file(fd, size, prot, flags, offset)
    name = _fd_name(fd)
    if kind != MAP_PRIVATE:
        # host pages past the end of the file would raise SIGBUS in pydbt itself:
        # map only the part the file covers, the rest anonymous
        covered_len = max(0, min(size, page_up(max(0, st.st_size - offset))))
        if covered_len:
            mem.map(start, covered_len, prot, (flags & ~MAP_TYPE) | MAP_SHARED, fd=fd, offset=offset, name=name)
        if covered_len < size:
            mem.map(start + covered_len, size - covered_len, prot, MAP_PRIVATE | MAP_ANONYMOUS, name=name)
        return start
    # private file mapping: a copy of the file bytes (no SIGBUS hazard, no sharing needed)
    mem.map(start, size, prot, flags, name=name, offset=offset)
    _copy_in(mem, fd, start, length, offset, prot)
    if start == library:
        spans = proc.shared_spans
        spans[:] = [sp for sp in spans if sp[2] <= start or sp[1] >= start + size]
        spans.append((name, start, start + size))
    return start


def _library_place(mem, fd, st, size):
    """Where the library file fd (stat st) of `size` bytes goes: its slot
    (a hash of the file's device, inode, size and time), if the slot is free
    and it is an ELF shared object; else None (where Linux would put it)."""
    top = mem.mmap_top - LIB_BELOW
    low = top - LIB_SLOTS * LIB_SLOT
    if low < 1 << 30:                           # (a small space: no room to spare)
        return None
    try:
        head = os.pread(fd, 18, 0)
    except OSError:
        return None
    if head[:4] != b"\x7fELF" or len(head) < 18 or head[5] != 1 or int.from_bytes(head[16:18], "little") != ET_DYN:
        return None
    ident = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()
    import hashlib                   # (here: its import is ~3 ms of every start-up)
    start = low + int.from_bytes(hashlib.blake2b(ident, digest_size=8).digest(), "little") % LIB_SLOTS * LIB_SLOT
    if start + size > top or not mem.is_free(start, start + size):
        return None
    return start


def _copy_in(mem, fd, start, length, offset, prot):
    """Read up to `length` file bytes at `offset` into fresh guest pages at `start`,
    straight into guest memory (no host buffer the size of the mapping); into
    pages the host does not let us write (the guest cannot access them, or
    not write them under protect_writes: GuestMemory.host_prot) by a buffer
    and poke."""
    if not mem.host_prot(prot & (R | W | X)) & W:
        done = 0
        while done < length:
            data = os.pread(fd, min(length - done, 1 << 20), offset + done)
            if not data:
                break
            mem.poke(start + done, data)
            done += len(data)
        return
    view = memoryview(mem.buf)
    done = 0
    try:
        while done < length:
            n = os.preadv(fd, [view[start + done:start + min(length, done + (64 << 20))]], offset + done)
            if n <= 0:
                break
            done += n
    except OSError:
        pass                                    # (pages the file does not cover read as zero)
    finally:
        view.release()


def _fd_name(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@syscall("munmap")
def sys_munmap(proc, addr, length):
    with proc.mem.map_lock:
        return _munmap_held(proc, addr, length)


def _munmap_held(proc, addr, length):
    space = proc.mem.space
    if addr & (PAGE - 1) or addr > space or length > space - addr:
        return -errno.EINVAL
    length = page_up(length)
    if length == 0:
        return -errno.EINVAL
    proc.mem.unmap(addr, length)
    mlock_forget(proc, addr, addr + length)
    return 0


@syscall("mprotect")
def sys_mprotect(proc, addr, length, prot):
    with proc.mem.map_lock:
        return _mprotect_held(proc, addr, length, prot)


def _mprotect_held(proc, addr, length, prot):
    prot &= 0xffffffff
    grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
    prot &= ~grows
    if grows == PROT_GROWSDOWN | PROT_GROWSUP:
        return -errno.EINVAL
    if addr & (PAGE - 1):
        return -errno.EINVAL
    if length == 0:
        return 0
    end = addr + page_up(length)
    if end <= addr or end > M64:
        return -errno.ENOMEM
    if prot & ~(_PROT_MASK | PROT_SEM):
        return -errno.EINVAL
    mem = proc.mem
    if end > mem.space or not covered(mem, addr, end):
        return -errno.ENOMEM
    if prot & W:
        e = _shared_file_writable(mem, addr, end)
        if e:
            return -e
    return mem.protect(addr, end - addr, prot & _PROT_MASK)


def _shared_file_writable(mem, start, end):
    """Write access to the shared file mappings in [start, end): the host pages
    were mapped read-only unless writable, so ask the host kernel to allow it
    (EACCES for a file opened read-only, as Linux answers the guest)."""
    for v in mem.mappings():
        s, e = max(v.start, start), min(v.end, end)
        if s < e and v.flags & MAP_SHARED and not v.flags & MAP_ANONYMOUS and not v.prot & W:
            if _libc.mprotect(ctypes.c_void_p(mem.host_base + s), e - s, R | W) != 0:
                return ctypes.get_errno()
    return 0


@syscall("mremap")
def sys_mremap(proc, old, old_size, new_size, flags, new_addr):
    with proc.mem.map_lock:
        return _mremap_held(proc, old, old_size, new_size, flags, new_addr)


def _mremap_held(proc, old, old_size, new_size, flags, new_addr):
    mem = proc.mem
    flags &= 0xffffffff
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        return -errno.EINVAL
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and not flags & MREMAP_MAYMOVE:
        return -errno.EINVAL
    if flags & MREMAP_DONTUNMAP and old_size != new_size:
        return -errno.EINVAL
    if old & (PAGE - 1):
        return -errno.EINVAL
    old_size, new_size = page_up(old_size) & M64, page_up(new_size) & M64
    if new_size == 0 or new_size > mem.space:
        return -errno.EINVAL
    vma = mem.vma_at(old)
    if vma is None:
        return -errno.EFAULT
    if old_size == 0 and not vma.flags & MAP_SHARED:
        return -errno.EINVAL
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP):
        return _mremap_to(mem, vma, old, old_size, new_size, flags, new_addr)
    if old_size >= new_size:                    # shrink (or the same size)
        if old_size > new_size:
            return sys_munmap(proc, old + new_size, old_size - new_size) or old
        return old if old_size <= vma.end - old else -errno.EFAULT
    if old_size > vma.end - old:
        return -errno.EFAULT
    if vma.end == old + old_size and old + new_size <= mem.mmap_top and \
            mem.is_free(old + old_size, old + new_size):
        mem.map(old + old_size, new_size - old_size, vma.prot, vma.flags | MAP_ANONYMOUS, name=vma.name)
        return old
    if not flags & MREMAP_MAYMOVE or new_size > mem.space:
        return -errno.ENOMEM
    dest = mem.find_free(new_size)
    if dest is None:
        return -errno.ENOMEM
    return _move(mem, vma, old, old_size, new_size, dest)


def _mremap_to(mem, vma, old, old_size, new_size, flags, new_addr):
    if new_addr & (PAGE - 1):
        return -errno.EINVAL
    if new_size > mem.space or new_addr > mem.space - new_size:
        return -errno.EINVAL
    if old + old_size > new_addr and new_addr + new_size > old:
        return -errno.EINVAL
    if flags & MREMAP_DONTUNMAP and (vma.flags & MAP_SHARED or not vma.flags & MAP_ANONYMOUS):
        return -errno.EINVAL
    if old_size > vma.end - old:
        return -errno.EFAULT
    dest = new_addr if flags & MREMAP_FIXED else mem.find_free(new_size)
    if dest is None:
        return -errno.ENOMEM
    return _move(mem, vma, old, old_size, new_size, dest, keep_old=flags & MREMAP_DONTUNMAP)


def _move(mem, vma, old, old_size, new_size, dest, keep_old=False):
    """Move the pages [old, old+old_size) to dest (new_size long), as a private
    mapping; the host kernel moves them (no host buffer of their size)."""
    mem.move(old, old_size, new_size, dest, vma.prot,
             (vma.flags & ~MAP_SHARED) | MAP_PRIVATE | MAP_ANONYMOUS, vma.name)
    if keep_old:                                 # MREMAP_DONTUNMAP: the old range stays, empty
        mem.map(old, old_size, vma.prot, vma.flags, name=vma.name)
    return dest


@syscall("madvise")
def sys_madvise(proc, addr, length, advice):
    with proc.mem.map_lock:
        return _madvise_held(proc, addr, length, advice)


def _madvise_held(proc, addr, length, advice):
    advice = s32(advice)
    if advice in MADV_PRIVILEGED and os.geteuid() != 0:
        return -errno.EPERM
    if advice not in MADV_VALID and advice not in MADV_PRIVILEGED:
        return -errno.EINVAL
    if addr & (PAGE - 1):
        return -errno.EINVAL
    size = page_up(length) & M64
    if length and not size:
        return -errno.EINVAL
    end = addr + size
    if end > M64:
        return -errno.EINVAL
    if end == addr:
        return 0
    mem = proc.mem
    if advice == MADV_DONTNEED:
        for v in mem.mappings():
            s, e = max(v.start, addr), min(v.end, end)
            if s < e and v.flags & MAP_ANONYMOUS and not v.flags & MAP_SHARED:
                mem.invalidate_and_zero(s, e)
    if end > mem.space or not covered(mem, addr, end):
        return -errno.ENOMEM
    return 0


@syscall("msync")
def sys_msync(proc, addr, length, flags):
    flags = s32(flags)
    MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
    if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or addr & (PAGE - 1) or \
            (flags & MS_ASYNC and flags & MS_SYNC):
        return -errno.EINVAL
    end = addr + page_up(length)
    if end > M64 or end < addr:
        return -errno.ENOMEM
    if end == addr:
        return 0
    mem = proc.mem
    lk = getattr(proc, "mlocks", None)
    if flags & MS_INVALIDATE and lk is not None and lk.image is proc.auxv and lk.overlap(addr, end):
        return -errno.EBUSY
    if flags & MS_SYNC:                          # shared file pages are the host's: write them back
        for v in mem.vmas:
            s, e = max(v.start, addr), min(v.end, end)
            if s < e and v.flags & MAP_SHARED and not v.flags & MAP_ANONYMOUS:
                if _libc.msync(ctypes.c_void_p(mem.host_base + s), ctypes.c_size_t(e - s), MS_SYNC) != 0:
                    return -ctypes.get_errno()
    if end > mem.space or not covered(mem, addr, end):
        return -errno.ENOMEM
    return 0


# --- memory locking ---------------------------------------------------------------------
# Locked ranges are pydbt's bookkeeping (VM_LOCKED and mm->locked_vm), checked as
# the kernel checks them for the caller's RLIMIT_MEMLOCK and CAP_IPC_LOCK; host
# pages are not locked (the guest's pages stay where the host kernel keeps them).
# A range counts while it is mapped; munmap and a MAP_FIXED mapping over it
# unlock it, execve drops all (the state belongs to one image).
MLOCK_ONFAULT = 1
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4
CAP_IPC_LOCK = 14


class _Locks:
    def __init__(self, image):
        self.image = image          # proc.auxv of the image that locked (a new one after execve)
        self.ranges = []            # sorted, disjoint [start, end)
        self.future = False

    def sub(self, start, end):
        out = []
        for s, e in self.ranges:
            if e <= start or s >= end:
                out.append((s, e))
                continue
            if s < start:
                out.append((s, start))
            if e > end:
                out.append((end, e))
        self.ranges = out

    def add(self, start, end):
        self.sub(start, end)
        self.ranges = sorted(self.ranges + [(start, end)])
        merged = []
        for s, e in self.ranges:
            if merged and merged[-1][1] == s:
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        self.ranges = merged

    def overlap(self, start, end):
        return sum(max(0, min(e, end) - max(s, start)) for s, e in self.ranges)

    def locked_pages(self, mem):
        return sum(self.overlap(v.start, v.end) for v in mem.vmas) >> 12


def _locks(proc):
    lk = getattr(proc, "mlocks", None)
    if lk is None or lk.image is not proc.auxv:
        lk = proc.mlocks = _Locks(proc.auxv)
    return lk


def mlock_forget(proc, start, end):
    """A range unmapped or mapped anew: no longer locked."""
    lk = getattr(proc, "mlocks", None)
    if lk is not None and lk.ranges:
        lk.sub(start, end)


def _capable(cap):
    """Whether the calling host thread has capability cap in its effective set."""
    try:
        with open("/proc/thread-self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def _memlock_limit():
    cur = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    return None if cur == resource.RLIM_INFINITY else cur


def _lock_range(proc, start, length, lock):
    """The kernel's do_mlock / munlock over [start, start+length)."""
    if lock and _memlock_limit() == 0 and not _capable(CAP_IPC_LOCK):
        return -errno.EPERM
    length = page_up((length + (start & (PAGE - 1))) & M64) & M64
    start = page_down(start)
    end = start + length
    mem, lk = proc.mem, _locks(proc)
    if lock:
        limit = _memlock_limit()
        if limit is not None and not _capable(CAP_IPC_LOCK):
            locked = (length >> 12) + lk.locked_pages(mem)
            if locked > limit >> 12:
                locked -= lk.overlap(start, end) >> 12
            if locked > limit >> 12:
                return -errno.ENOMEM
    if end > M64:
        return -errno.EINVAL
    if end == start:
        return 0
    at = start                                   # apply_vma_lock_flags: up to the first hole
    for v in mem.vmas:
        if v.end <= at:
            continue
        if v.start > at:
            break
        nxt = min(v.end, end)
        (lk.add if lock else lk.sub)(at, nxt)
        at = nxt
        if at >= end:
            return 0
    return -errno.ENOMEM


@syscall("mlock")
def sys_mlock(proc, addr, length):
    return _lock_range(proc, addr, length, True)


@syscall("mlock2")
def sys_mlock2(proc, addr, length, flags):
    if flags & ~MLOCK_ONFAULT:
        return -errno.EINVAL
    return _lock_range(proc, addr, length, True)


@syscall("munlock")
def sys_munlock(proc, addr, length):
    return _lock_range(proc, addr, length, False)


@syscall("mlockall")
def sys_mlockall(proc, flags):
    flags &= 0xffffffff
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        return -errno.EINVAL
    if _memlock_limit() == 0 and not _capable(CAP_IPC_LOCK):
        return -errno.EPERM
    mem, lk = proc.mem, _locks(proc)
    limit = _memlock_limit()
    if flags & MCL_CURRENT and limit is not None and not _capable(CAP_IPC_LOCK):
        total = sum(v.end - v.start for v in mem.vmas) >> 12
        if total > limit >> 12:
            return -errno.ENOMEM
    lk.future = bool(flags & MCL_FUTURE)
    if flags & MCL_CURRENT:
        for v in mem.vmas:
            lk.add(v.start, v.end)
    return 0


@syscall("munlockall")
def sys_munlockall(proc):
    lk = _locks(proc)
    lk.ranges, lk.future = [], False
    return 0


# --- residency and barriers ---------------------------------------------------------------
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
MINCORE_CHUNK = 1 << 16                          # pages per host call


@syscall("mincore")
def sys_mincore(proc, addr, length, vec):
    """Which pages of [addr, addr+length) are resident: the host kernel's answer
    for the guest's pages (they are host pages of the guest space)."""
    mem = proc.mem
    if addr & (PAGE - 1):
        return -errno.EINVAL
    if addr + length > mem.space:
        return -errno.ENOMEM
    pages = (length + PAGE - 1) >> 12
    if vec + pages > mem.space:
        return -errno.EFAULT
    at, end, out = addr, addr + pages * PAGE, vec
    while at < end:
        v = mem.vma_at(at)
        if v is None:
            return -errno.ENOMEM
        n = min(v.end, end, at + MINCORE_CHUNK * PAGE) - at
        hb = ctypes.create_string_buffer(n >> 12)
        if _libc.mincore(mem.host_base + at, n, hb) != 0:
            return -ctypes.get_errno()
        proc.mem.write(out, bytes(b & 1 for b in hb.raw))
        at += n
        out += n >> 12
    return 0


MEMBARRIER_REGISTER = {16: 8, 64: 32, 256: 128}  # REGISTER_PRIVATE_EXPEDITED[_SYNC_CORE|_RSEQ] -> the command
MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 4
MEMBARRIER_CMD_GET_REGISTRATIONS = 512
MEMBARRIER_CMD_FLAG_CPU = 1


@syscall("membarrier")
def sys_membarrier(proc, cmd, flags, cpu_id):
    """The host's membarrier (guest threads are host threads of one host mm):
    its answers, and its barriers.  Which private-expedited commands the guest
    registered is kept apart from pydbt's own host registration, so that an
    unregistered one is EPERM as Linux says (and a new image starts with none)."""
    cmd, flags = s32(cmd), s32(flags)
    lk = _locks(proc)
    reg = getattr(lk, "membarrier", 0)
    if cmd in MEMBARRIER_REGISTER.values() and not reg & (cmd << 1) and \
            hsys("membarrier", 0, 0, 0) & cmd:
        if flags & ~(MEMBARRIER_CMD_FLAG_CPU if cmd == 128 else 0):
            return -errno.EINVAL
        return -errno.EPERM
    r = hsys("membarrier", cmd, flags, s32(cpu_id))
    if cmd in MEMBARRIER_REGISTER:
        lk.membarrier = reg | cmd
    elif cmd == MEMBARRIER_CMD_GET_REGISTRATIONS:
        return reg | (r & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)
    return r
