"""Guest memory: one host mapping with page permissions kept beside it.

The guest address space is a single anonymous host mapping of `space` bytes
(reserved, not committed: MAP_NORESERVE; 16 GiB unless `-R` says otherwise), so
guest address `a` is byte `a` of `self.buf` and native code can reach it as
`host_base + a`.  Guest addresses at or above `space` do not exist (they fault).
The mapping goes at host address LOW_BASE when that range is free (the
process's first guest memory: MAP_FIXED_NOREPLACE), so native code reaches
guest memory by a 32-bit displacement, `movzbl LOW_BASE(%reg)`, with no
64-bit constant and no register for the base (llvm_jit.bind_memory); `buf` is
then a ctypes char array over it (slices are bytes, as an mmap's), unmapped
when the last view of it goes.  Elsewhere (taken, or refused) it is an mmap
wherever the host puts it, and native code adds the base as a 64-bit symbol.

Permissions live in `perm`, one byte per 4 KiB page: PROT_READ/WRITE/EXEC bits
as Linux, plus `CODE` on pages that hold translated code.  The bytecode JIT's
code does not test them: it indexes the access table `pages` (a Python list,
the fastest thing CPython can index; made by `access_table()` on its first
use, as its entries follow from `perm`: a list of a slot per page of a 16 GiB
space was ~15-20 ms of every process's start-up) whose entry for a page is a
`PageViews` of guest memory or None.  Typed memoryviews of all of guest memory are its slots: `.B`,
`.Q`, `.i`... for loads, `.wB`, `.wQ`... for stores; the entry of a read-only
page (or of one holding translations, whose stores must invalidate them) has
only the load slots set, so a store finds no slot.  The table ends with
`TABLE_PAD` None entries, so an address a little below 0 (a negative index) or
a little above the space finds None; beyond that, the index is out of range.
Whatever fails raises, and translated code retries the access on the checked
slow path (`load`/`store`), which raises the guest fault.

Mappings are tracked as a sorted list of `Vma`s for munmap/mremap and for
/proc/self/maps.  Unmapping or remapping a range replaces its host pages with
fresh anonymous ones (mmap MAP_FIXED over the range), so freed memory reads as
zero when mapped again and costs nothing.  File mappings are real host file
mappings placed at the guest address (MAP_FIXED), MAP_SHARED included.

A shared file mapping's host pages raise a real host SIGBUS when touched past
the end of the file (truncated under the guest): CPython cannot recover from
that inside a memoryview access.  Such pages are marked `FILE`: their
access-table entry is None and the checked path copies their bytes with the
host's process_vm_readv/writev, which fail with EFAULT where a plain access
would raise SIGBUS; that becomes the guest's SIGBUS (BUS_ADRERR, si_addr) at the
faulting instruction, or EFAULT for a syscall, as on Linux.  Only those pages
pay for it (a syscall per access).

Host protections follow the guest's: a page the guest cannot access at all
(unmapped, PROT_NONE) is PROT_NONE on the host too (`_host_protect`, after
every change of the map), every other page is readable and writable on the
host (read-only for a shared file mapping the guest may not write).  Python
never touches such a page (its access-table entry is None and the checked
paths fault first; `poke` goes through /proc/self/mem), so what that buys is
for native code: its loads need no check (llvm_emit's fault loads), a load from
a page the guest cannot access faults on the host, and the native fault
handler (backends/faults.py) sends it to the load's slow exit.  Guard ranges
around the space (PROT_NONE, reserved with it where the host allows:
`native_guards`) make a load outside the space fault the same way, from 256
MiB below it to 256 GiB past its end.  Once native code stores with no check
either (`protect_writes`, set by the native tier's first such code:
backends/llvm.py's fault_stores), a page is writable on the host only where
the guest may write it and no translated code lies (CODE: marking a page as
code write-protects it, unmarking opens it): Python's writes then go where
the guest may write (the checked paths drop the code they hit first, which
opens the page), into other pages through /proc/self/mem (poke, _copy_in),
and `before_host_write` opens what the host kernel is to write (a syscall's
buffer).  A write racing the marking of its page (another thread's, in a
store's fast path) faults on the host: the fault handler opens the page and
marks it, and the native tier drops its code (faults.written_pages).

Watchpoints (gdb's Z2/Z3/Z4, `set_watches`): the pages holding a watched range
are marked `WATCH` and lose their access-table entry (None), so every access to
them from translated code, native code included (its inline check sends WATCH
pages to Python), takes the checked path `load`/`store`, which raises
`Watchpoint` *before* an access that touches a watched range of the right kind.
The exec loop then runs that one instruction again with the checks off for its
thread (`watch_off`: also every thread inside a syscall, whose futex words are
the kernel's accesses, not the guest's) and reports the stop after it.  The
bulk paths (read/write: syscalls, the loader, signal frames) never check.
Removing the last watch of a page gives it its access-table entry back; no
translation depends on it.
"""
import ctypes
import errno
import mmap
import os
import re
import resource
import signal
import struct
import threading
import weakref
from bisect import bisect_left

from ..errors import segv, UserError, GuestFault, Watchpoint

PAGE = 4096
PAGE_SHIFT = 12
SPACE = 1 << 34              # the default guest address space: 16 GiB
MIN_SPACE = 16 << 20         # -R range: below 16 MiB a glibc program has no room to run;
MAX_SPACE = 256 << 30        # above 256 GiB the access table alone takes over 512 MiB of host memory
TABLE_COST = 8 + 1           # host bytes per guest page: an access-table slot and a permission byte
R, W, X = mmap.PROT_READ, mmap.PROT_WRITE, mmap.PROT_EXEC
PROT_NONE = 0
CODE = 8
FILE = 16                    # a shared file mapping's page: accessed only through host copies
WATCH = 32                   # a page holding a watched range: every load and store is checked
BUS_ADRERR = 2
MAP_NORESERVE = 0x4000
MAP_FIXED = 0x10
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_FIXED_NOREPLACE = 0x100000
PROC_MEM_WRITES = "/proc/self/mem"      # (poke into a page the host protects: ptrace's way)
# the guard ranges around the space (_reserve): below it (a null pointer minus an
# offset) and 256 GiB above it (an index past its end; with the space, every
# address of Sv39's user space); PROT_NONE, they cost host address space only
GUARD_BELOW, GUARD_ABOVE = 256 << 20, 1 << 38
# where the guest space goes when the range is free: below 2 GiB, so a native
# access's displacement reaches the base (and above the first GiB, which a
# non-PIE host's heap grows into)
LOW_BASE = 1 << 30

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_MAP_FAILED = ctypes.c_void_p(-1).value


def _reserve(space):
    """The guest space's host mapping -> (a ctypes char array over it, whether
    guard ranges lie around it): at LOW_BASE when the range is free, else
    wherever the host puts it; with its guards (GUARD_BELOW and GUARD_ABOVE,
    PROT_NONE) reserved in the same mapping when the host allows that much
    address space (`ulimit -v`), else without.  Unmapped, guards and all, when
    the last reference to the array goes (views keep it)."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE
    total = GUARD_BELOW + space + GUARD_ABOVE
    for at, n, below in ((LOW_BASE - GUARD_BELOW, total, GUARD_BELOW), (LOW_BASE, space, 0),
                         (None, total, GUARD_BELOW), (None, space, 0)):
        if at is None:
            r = _libc.mmap(None, n, PROT_NONE, flags, -1, 0)
        else:
            r = _libc.mmap(at, n, PROT_NONE, flags | MAP_FIXED_NOREPLACE, -1, 0)
            if r is not None and r != _MAP_FAILED and r != at:    # (a kernel before 4.17: a hint)
                _libc.munmap(r, n)
                continue
        if r is None or r == _MAP_FAILED:
            continue
        buf = (ctypes.c_char * space).from_address(r + below)
        weakref.finalize(buf, _libc.munmap, r, n).atexit = False   # (threads may still run at exit)
        return buf, n == total
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc.process_vm_readv.restype = _libc.process_vm_writev.restype = ctypes.c_ssize_t
_libc.mremap.restype = ctypes.c_void_p
_libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]


def host_prot(p, stores=False):
    """The host protection of a page whose permission byte is p: none where the
    guest has no access, else read and write (a shared file mapping's pages:
    write only where the guest may, its file being maybe read-only).  `stores`
    (GuestMemory.protect_writes: native code stores with no check): write
    only where the guest may and no translated code lies (CODE)."""
    if not p & (R | W | X):
        return PROT_NONE
    if stores:
        return R | (W if p & (W | CODE) == W else 0)
    if p & FILE:
        return R | (p & W)
    return R | W


# permission byte -> its host protection (host_prot), without and with
# protect_writes; and runs of one byte
_HOST_PROT = (bytes(host_prot(p) for p in range(256)), bytes(host_prot(p, True) for p in range(256)))
_RUNS = re.compile(rb"(.)\1*", re.S)


def page_down(a):
    return a & ~(PAGE - 1)


def page_up(a):
    return (a + PAGE - 1) & ~(PAGE - 1)


class Vma:
    __slots__ = ("start", "end", "prot", "flags", "name", "offset")

    def __init__(self, start, end, prot, flags=MAP_PRIVATE | MAP_ANONYMOUS, name="", offset=0):
        self.start, self.end, self.prot, self.flags = start, end, prot, flags
        self.name, self.offset = name, offset

    def __repr__(self):
        return f"Vma({self.start:#x}-{self.end:#x} {self.prot} {self.name})"


_U = {(1, False): struct.Struct("<B"), (2, False): struct.Struct("<H"),
      (4, False): struct.Struct("<I"), (8, False): struct.Struct("<Q"),
      (1, True): struct.Struct("<b"), (2, True): struct.Struct("<h"),
      (4, True): struct.Struct("<i"), (8, True): struct.Struct("<q")}
_MASK = {1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: 0xffffffffffffffff}


VIEW_FORMATS = ("B", "H", "I", "Q", "b", "h", "i", "q")
TABLE_PAD = 256              # pages: addresses down to -1 MiB find None, not the top of the space


class PageViews:
    """Typed memoryviews of all of guest memory, as slots: `v.I[a >> 2]` loads the
    unsigned 32-bit word at guest address a (a aligned), `v.wI[a >> 2] = x`
    stores it.  The store slots are set only in the instance for writable pages."""
    __slots__ = VIEW_FORMATS + tuple("w" + f for f in VIEW_FORMATS)

    def __init__(self, base, writable):
        for f in VIEW_FORMATS:
            setattr(self, f, base.cast(f))
            if writable:
                setattr(self, "w" + f, getattr(self, f))


def _host_vm_used():
    """Bytes of host address space this process uses now (VmSize)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) << 10
    except OSError:
        pass
    return 0


def default_space():
    """The guest space to reserve when -R is not given: 16 GiB, or less when a
    host address-space limit (`ulimit -v`) would refuse that much.  Half of what
    the limit leaves is taken (a power of two), the rest stays for pydbt itself;
    None when even MIN_SPACE does not fit."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        return SPACE
    left = soft - _host_vm_used()
    space = SPACE
    while space >= MIN_SPACE:
        if 2 * (space + (space >> PAGE_SHIFT) * TABLE_COST) <= left:
            return space
        space >>= 1
    return None


def _size_text(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


class GuestMemory:
    def __init__(self, space=SPACE):
        self.space = space
        npages = space >> PAGE_SHIFT
        try:
            self.buf, self.guards = _reserve(space)
            self.perm = bytearray(npages)
        except (OSError, MemoryError) as e:
            why = e.strerror if isinstance(e, OSError) else "out of memory"
            raise UserError(f"cannot reserve {_size_text(space)} of host memory for the guest address space "
                            f"({why}); a smaller -R (and a larger 'ulimit -v') helps") from None
        base = self.view = memoryview(self.buf).cast("B")   # (a ctypes array's is of format <c;
        # its slices are copied byte by byte: 1 MiB in 40-60 ms against 0.1 for the view's)
        self._ro, self._rw = PageViews(base, False), PageViews(base, True)
        self.host_base = ctypes.addressof(ctypes.c_char.from_buffer(self.buf))
        self.unchecked_loads = False         # native code loads here with no check (see native_guards)
        self.protect_writes = False          # host pages writable only where native code may store
        self.native_written = None           # (backends/llvm.py's fault_stores: pages the fault handler opened)
        self.vmas = []                       # sorted, non-overlapping
        self.atomic_lock = threading.Lock()  # LR/SC and AMOs of all guest threads
        self.native_atomics = None           # host atomics for the Python tiers once native code exists
        # the layout's changes (mmap, munmap, mprotect, mremap, brk, madvise, fork) one
        # at a time, as the kernel's mmap_lock: finding a free range and mapping it
        # must not interleave with another thread's (two arenas at one address)
        self.map_lock = threading.RLock()
        self.on_code_write = None            # callback(first_page, last_page)
        self.pages = None                    # the access table (see above): access_table()
        self.mmap_top = space - min(1 << 30, space >> 2)    # top-down mmap area ends below the stack
        self.brk_start = self.brk = 0
        self.watches = ()                    # ((start, end, kind), ...): kind "watch" | "rwatch" | "awatch"
        self.watch_pages = frozenset()       # the pages marked WATCH
        self.watch_off = set()               # host threads whose accesses do not check watches

    # --- access (hot) --------------------------------------------------------
    def load(self, a, size, signed=False):
        try:
            p = self.perm[a >> PAGE_SHIFT]
            if p & (R | FILE | WATCH) != R or (a & 0xfff) > PAGE - size:
                if self._check(a, size, R, True):
                    return _U[size, signed].unpack(self._host_copy(a, size))[0]
            return _U[size, signed].unpack_from(self.buf, a)[0]
        except (IndexError, OverflowError, struct.error):
            raise segv(a, False) from None

    def store(self, a, value, size):
        try:
            p = self.perm[a >> PAGE_SHIFT]
            if p & (W | CODE | FILE | WATCH) != W or (a & 0xfff) > PAGE - size:
                if self._check(a, size, W, True):
                    self._host_copy(a, size, _U[size, False].pack(value & _MASK[size]))
                else:
                    _U[size, False].pack_into(self.buf, a, value & _MASK[size])
                self.code_written(a, size)
                return
            _U[size, False].pack_into(self.buf, a, value & _MASK[size])
        except (IndexError, OverflowError, struct.error):
            raise segv(a, False) from None

    def fetch16(self, a):
        """Instruction fetch of a halfword: needs EXEC."""
        try:
            p = self.perm[a >> PAGE_SHIFT]
            if p & (X | FILE) != X:
                if not p & X:
                    raise segv(a, p & ~WATCH != 0)
                return _U[2, False].unpack(self._host_copy(a, 2))[0]
            return _U[2, False].unpack_from(self.buf, a)[0]
        except (IndexError, OverflowError):
            raise segv(a, False) from None

    def holds(self, pages, insns, words):
        """Do the instructions insns ((address, size), in `pages`) still hold
        `words` (their encodings, little-endian), and may they still run?"""
        perm = self.perm
        try:
            if any(perm[pg] & (X | FILE) != X for pg in pages):
                return all(self._fetch(a, n) == w for (a, n), w in zip(insns, words))
        except IndexError:
            return False
        buf, number = self.view, int.from_bytes
        for (a, n), w in zip(insns, words):
            if number(buf[a:a + n], "little") != w:
                return False
        return True

    def _fetch(self, a, n):
        """(holds) the n bytes at a as a number, or None if not executable"""
        try:
            first, last = self.perm[a >> PAGE_SHIFT], self.perm[(a + n - 1) >> PAGE_SHIFT]
            if not first & last & X or a < 0:
                return None
            return int.from_bytes(self._host_copy(a, n) if (first | last) & FILE else self.view[a:a + n], "little")
        except (IndexError, GuestFault):
            return None

    def check(self, a, size, store):
        """The checked path's tests of a guest access, without the access:
        faults, watchpoints and (store) the invalidation of code it would hit
        -> True when a page is FILE (its bytes are copied, not accessed in place)."""
        return self._check(a, size, W if store else R, True)

    def _check(self, a, size, need, watch=False):
        """Slow path: page-crossing access, missing permission, a store to code, a
        watched page (`watch`: a guest instruction's access, see set_watches).
        True when a page is FILE: the access must then go through _host_copy."""
        last = a + size - 1
        if last >= self.space or a < 0:
            raise segv(a, False)
        shared = 0
        for pg in range(a >> PAGE_SHIFT, (last >> PAGE_SHIFT) + 1):
            p = self.perm[pg]
            if not p & need:
                addr = max(a, pg << PAGE_SHIFT)
                raise segv(addr, p & ~WATCH != 0 or self.vma_at(addr) is not None)
            shared |= p
        if watch and shared & WATCH and threading.get_ident() not in self.watch_off:
            self._watched(a, last + 1, need)
        shared &= FILE
        if need == W and self.on_code_write:
            for pg in range(a >> PAGE_SHIFT, (last >> PAGE_SHIFT) + 1):
                if self.perm[pg] & CODE:
                    self.on_code_write(pg)
        return shared

    def code_written(self, a, n):
        """After a write landed: _check invalidated the code it hit before it
        did, and another thread (native code runs without the GIL) may have
        translated the old bytes again meanwhile; that code goes too."""
        if self.on_code_write:
            for pg in range(a >> PAGE_SHIFT, ((a + n - 1) >> PAGE_SHIFT) + 1):
                if self.perm[pg] & CODE:
                    self.on_code_write(pg)

    def _watched(self, a, end, need):
        """Raise Watchpoint if [a, end) touches a range watched for this kind of access."""
        for start, stop, kind in self.watches:
            if a < stop and start < end and (kind == "awatch" or (kind == "watch") == (need == W)):
                raise Watchpoint(kind, max(a, start))

    def set_watches(self, ranges):
        """The watched ranges: [(start, length, kind)], kind "watch" (writes),
        "rwatch" (reads) or "awatch" (both).  Pages that hold one get WATCH and
        lose their access-table entry; pages that no longer do get it back."""
        self.watches = tuple((start, start + max(n, 1), kind) for start, n, kind in ranges)
        pages = set()
        for start, stop, _ in self.watches:
            if 0 <= start < self.space:
                pages.update(range(start >> PAGE_SHIFT, (min(stop, self.space) - 1 >> PAGE_SHIFT) + 1))
        old, self.watch_pages = self.watch_pages, frozenset(pages)
        for pg in old - self.watch_pages:
            self.perm[pg] &= ~WATCH
            self._retable(pg)
        for pg in self.watch_pages:
            self.perm[pg] |= WATCH
            self._retable(pg)

    def _host_copy(self, a, n, data=None):
        """Read n bytes at a (data None) or write data there through the host
        kernel, which answers EFAULT where a plain access would raise SIGBUS (a
        shared file mapping past the end of its file): the guest gets SIGBUS."""
        pid = os.getpid()
        buf = ctypes.create_string_buffer(n) if data is None else ctypes.create_string_buffer(bytes(data), n)
        local, remote = _Iovec(ctypes.addressof(buf), n), _Iovec(self.host_base + a, n)
        copy = _libc.process_vm_readv if data is None else _libc.process_vm_writev
        done = copy(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        if done == n:
            return buf.raw
        err = ctypes.get_errno()
        if done < 0 and err != errno.EFAULT:     # (not allowed here: a plain copy)
            if data is None:
                return bytes(self.view[a:a + n])
            self.view[a:a + n] = data
            return None
        raise GuestFault(signal.SIGBUS, BUS_ADRERR, a + max(done, 0))

    # --- bulk access for syscalls and the loader ------------------------------
    def read(self, a, n):
        if n <= 0:
            return b""
        if self._check(a, n, R):
            return self._host_copy(a, n)
        return bytes(self.view[a:a + n])

    def write(self, a, data):
        if not data:
            return
        if self._check(a, len(data), W):
            self._host_copy(a, len(data), data)
        else:
            self.view[a:a + len(data)] = data
        self.code_written(a, len(data))

    def read_cstr(self, a, limit=1 << 16):
        out = bytearray()
        while len(out) < limit:
            end = min(page_down(a) + PAGE, a + limit - len(out))
            chunk = self._host_copy(a, end - a) if self._check(a, 1, R) else bytes(self.view[a:end])
            i = chunk.find(b"\0")
            if i >= 0:
                out += chunk[:i]
                return bytes(out)
            out += chunk
            a = end
        raise segv(a, True)

    def poke(self, a, data):
        """Write ignoring permissions (loader, gdb): code pages still get invalidated."""
        if a < 0 or a + len(data) > self.space:
            raise segv(a, False)
        if self.on_code_write:
            for pg in range(a >> PAGE_SHIFT, ((a + len(data) - 1) >> PAGE_SHIFT) + 1):
                if self.perm[pg] & CODE:
                    self.on_code_write(pg)
        pages = self.perm[a >> PAGE_SHIFT:((a + len(data) - 1) >> PAGE_SHIFT) + 1]
        if any(not self.host_prot(p) & W for p in pages):
            try:
                fd = os.open(PROC_MEM_WRITES, os.O_RDWR | os.O_CLOEXEC)
                try:
                    os.pwrite(fd, data, self.host_base + a)
                finally:
                    os.close(fd)
            except OSError:
                # (a kernel that refuses that: the pages open for the write)
                lo, hi = page_down(a), page_up(a + len(data))
                self._mprotect(lo, hi, R | W)
                self.view[a:a + len(data)] = data
                self._host_protect(lo, hi)
        elif any(p & FILE for p in pages):
            self._host_copy(a, len(data), data)
        else:
            self.view[a:a + len(data)] = data

    # --- the map ---------------------------------------------------------------
    def vma_at(self, a):
        i = bisect_left([v.end for v in self.vmas], a + 1)
        if i < len(self.vmas) and self.vmas[i].start <= a:
            return self.vmas[i]
        return None

    def is_free(self, start, end):
        return all(v.end <= start or v.start >= end for v in self.vmas)

    def find_free(self, length, top=None):
        """Highest free range of `length` bytes below `top` (top-down, as Linux)."""
        hi = self.mmap_top if top is None else top
        for v in reversed(self.vmas):
            if v.start >= hi:
                continue
            if v.end <= hi - length:
                return hi - length
            hi = min(hi, v.start)
        return hi - length if hi - length >= 0x10000 else None

    def _set_perm(self, start, end, prot):
        first, n = start >> PAGE_SHIFT, (end - start) >> PAGE_SHIFT
        self.perm[first:first + n] = bytes([prot & (7 | FILE)]) * n
        if self.pages is not None:
            self.pages[first:first + n] = [self._views(prot & (7 | FILE))] * n
        for pg in self.watch_pages:      # (still watched)
            if first <= pg < first + n:
                self.perm[pg] |= WATCH
                self._retable(pg)

    def access_table(self):
        """The access table (see above), made now if it is not yet: from
        then on every change of `perm` changes it too.  (The engine makes it
        before the guest runs when a tier uses it: backends' `access_table`.)"""
        with self.map_lock:
            if self.pages is None:
                table = [None] * (len(self.perm) + TABLE_PAD)
                for v in self.vmas:
                    lo, hi = v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT
                    table[lo:hi] = map(self._views, self.perm[lo:hi])
                self.pages = table
            return self.pages

    def page_views(self, page):
        """The access-table entry of `page` (>= 0), whether the table is made or not."""
        return self._views(self.perm[page]) if page < len(self.perm) else None

    def _retable(self, page):
        """The access table's entry of `page` from its permission byte."""
        if self.pages is not None:
            self.pages[page] = self.page_views(page)

    def _views(self, p):
        """The access-table entry for a page with permission bits p."""
        if not p & R or p & (FILE | WATCH):
            return None                  # (write-only, FILE and WATCH pages: every access is checked)
        return self._rw if p & (W | CODE) == W else self._ro

    def _set_code(self, page, code):
        was = self.perm[page]
        if code:
            self.perm[page] |= CODE
        else:
            self.perm[page] &= ~CODE
        self._retable(page)
        if self.protect_writes and was != self.perm[page]:
            self._host_protect(page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT)

    # --- host protections (see host_prot) ---------------------------------------
    def host_prot(self, p):
        """The host protection of a page with permission byte p, now."""
        return _HOST_PROT[self.protect_writes][p]

    def protect_for_stores(self):
        """From now on host pages are writable only where native code may
        store with no check (host_prot's `stores`): not where the guest may
        not write nor where translated code lies.  A store there from native
        code faults on the host (backends/faults.py); Python's writes make the
        pages writable first (the checked paths invalidate the code they hit,
        which unmarks its pages; poke goes through /proc/self/mem;
        `before_host_write` before the host kernel writes)."""
        with self.map_lock:
            if not self.protect_writes:
                self.protect_writes = True
                for v in self.vmas:              # (unmapped pages stay as they are: none)
                    self._host_protect(v.start, v.end)

    def before_host_write(self, a, n):
        """The host kernel is about to write [a, a+n) (pages the guest may
        write): the translations there go, and with them the pages' write
        protection (protect_writes)."""
        if n > 0 and self.protect_writes:
            self.code_written(a, n)
    def _mprotect(self, start, end, prot):
        if _libc.mprotect(self.host_base + start, end - start, prot) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"host mprotect failed: {os.strerror(e)}")

    def _host_protect(self, start, end):
        """Give the host pages of [start, end) the protection their permission
        bytes ask for (host_prot), one mprotect per run of equal protection."""
        first = start >> PAGE_SHIFT
        classes = self.perm[first:end >> PAGE_SHIFT].translate(_HOST_PROT[self.protect_writes])
        for run in _RUNS.finditer(classes):
            s, e = first + run.start(), first + run.end()
            self._mprotect(s << PAGE_SHIFT, e << PAGE_SHIFT, classes[run.start()])

    def native_guards(self):
        """Are the guard ranges there (see _reserve)?  Then a native load
        anywhere from GUARD_BELOW below the space to GUARD_ABOVE above it
        faults on the host unless the guest may read there (fault loads)."""
        return self.guards

    def _fresh(self, start, end):
        """Give the range fresh zero host pages (the caller protects them)."""
        r = _libc.mmap(self.host_base + start, end - start, mmap.PROT_READ | mmap.PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if r == _MAP_FAILED:
            raise OSError(ctypes.get_errno(), "host mmap failed")

    def _cut(self, start, end):
        """Remove [start, end) from the vma list, splitting partial overlaps."""
        out = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                out.append(v)
                continue
            if v.start < start:
                out.append(Vma(v.start, start, v.prot, v.flags, v.name, v.offset))
            if v.end > end:
                out.append(Vma(end, v.end, v.prot, v.flags, v.name, v.offset + (end - v.start)))
        self.vmas = out

    def _insert(self, vma):
        self.vmas.append(vma)
        self.vmas.sort(key=lambda v: v.start)

    def _invalidate(self, start, end):
        if self.on_code_write:
            for pg in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
                if self.perm[pg] & CODE:
                    self.on_code_write(pg)

    def map(self, start, length, prot, flags=MAP_PRIVATE | MAP_ANONYMOUS, fd=-1, offset=0, name=""):
        """Map [start, start+length) (start page aligned, already chosen); returns start."""
        end = start + page_up(length)
        self._invalidate(start, end)
        self._cut(start, end)
        if fd >= 0:
            hostflags = MAP_FIXED | (flags & (MAP_SHARED | MAP_PRIVATE))
            hprot = mmap.PROT_READ | (mmap.PROT_WRITE if (flags & MAP_SHARED) == 0 or prot & W else 0)
            r = _libc.mmap(self.host_base + start, end - start, hprot, hostflags, fd, offset)
            if r == _MAP_FAILED:
                e = ctypes.get_errno()
                self._fresh(start, end)
                raise OSError(e, os.strerror(e))
        else:
            self._fresh(start, end)
        self._set_perm(start, end, prot | (FILE if fd >= 0 and flags & MAP_SHARED else 0))
        self._host_protect(start, end)
        self._insert(Vma(start, end, prot, flags, name, offset))
        return start

    def move(self, old, old_size, new_size, dest, prot, flags, name):
        """mremap's move of [old, old+old_size) to a new private mapping at dest
        (new_size long, not overlapping): the host kernel moves the pages
        (host mremap: no copy, untouched pages cost nothing) or, where that
        cannot be (shared file pages, several host mappings), copies them
        itself (process_vm_writev: EFAULT, not SIGBUS, past a file's end)."""
        keep = min(old_size, new_size)
        self._invalidate(old, old + old_size)
        self._invalidate(dest, dest + new_size)
        self._cut(dest, dest + new_size)
        self._fresh(dest, dest + new_size)
        shared = any(self.perm[pg] & FILE for pg in range(old >> PAGE_SHIFT, (old + keep) >> PAGE_SHIFT))
        # MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP: the old range stays mapped
        # (empty), so no other thread can meet a hole in the host mapping
        r = _MAP_FAILED if shared else _libc.mremap(self.host_base + old, keep, keep, 7, self.host_base + dest)
        if r == _MAP_FAILED:
            src, dst = _Iovec(self.host_base + old, keep), _Iovec(self.host_base + dest, keep)
            _libc.process_vm_writev(os.getpid(), ctypes.byref(src), 1, ctypes.byref(dst), 1, 0)
        self._cut(old, old + old_size)
        self._fresh(old, old + old_size)
        self._set_perm(old, old + old_size, 0)
        self._set_perm(dest, dest + new_size, prot)
        self._host_protect(old, old + old_size)
        self._host_protect(dest, dest + new_size)
        self._insert(Vma(dest, dest + new_size, prot, flags, name))
        return dest

    def unmap(self, start, length):
        end = start + page_up(length)
        self._invalidate(start, end)
        self._cut(start, end)
        self._fresh(start, end)
        self._set_perm(start, end, 0)
        self._host_protect(start, end)

    def protect(self, start, length, prot):
        end = start + page_up(length)
        at = start                       # every page mapped? (walk the vmas, not the pages)
        for v in self.vmas:
            if v.end > at:
                if v.start > at:
                    break
                at = v.end
        if at < end:
            return -errno.ENOMEM
        if not prot & X:
            self._invalidate(start, end)
        keep = {}
        for v in self.vmas:
            if v.start < end and v.end > start:
                keep[v.start] = v
        self._cut(start, end)
        for v in keep.values():
            s, e = max(v.start, start), min(v.end, end)
            self._insert(Vma(s, e, prot, v.flags, v.name, v.offset + (s - v.start)))
        pgs = range(start >> PAGE_SHIFT, end >> PAGE_SHIFT)
        code = [pg for pg in pgs if self.perm[pg] & CODE]
        shared = [pg for pg in pgs if self.perm[pg] & FILE]
        self._set_perm(start, end, prot)
        for pg in shared:        # still a shared file mapping's
            self.perm[pg] |= FILE
            self._retable(pg)
        for pg in code:          # still translated (only when exec stays allowed)
            self._set_code(pg, True)
        self._host_protect(start, end)
        return 0

    def reset(self):
        """An empty address space (execve): every page fresh and unmapped, no vmas."""
        self._fresh(0, self.space)
        self._mprotect(0, self.space, PROT_NONE)
        self.protect_writes = False
        for v in self.vmas:                      # (permissions and views are only where vmas are)
            lo, hi = v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT
            self.perm[lo:hi] = bytes(hi - lo)
            if self.pages is not None:
                self.pages[lo:hi] = [None] * (hi - lo)
        self.vmas = []
        self.mmap_top = self.space - min(1 << 30, self.space >> 2)
        self.brk_start = self.brk = 0
        self.watches, self.watch_pages = (), frozenset()

    def invalidate_and_zero(self, start, end):
        """MADV_DONTNEED on private anonymous memory: the pages read as zero again."""
        self._invalidate(start, end)
        self._fresh(start, end)
        self._host_protect(start, end)

    def code_page(self, page):
        """The bytes of an executable page of private memory, else None (an
        execve of the program running compares its code pages: Engine.exec_kept)."""
        try:
            p = self.perm[page]
        except IndexError:
            return None
        if p & (X | FILE) != X:
            return None
        return bytes(self.view[page << PAGE_SHIFT:(page + 1) << PAGE_SHIFT])

    def mark_code(self, page):
        self._set_code(page, True)

    def unmark_code(self, page):
        self._set_code(page, False)

    def mappings(self):
        return list(self.vmas)
