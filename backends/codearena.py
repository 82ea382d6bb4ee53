"""Executable memory for machine code made in Python (the baseline tier: x64_emit.py).

One arena per process: chunks of CHUNK bytes mapped read-write-execute, code
placed at 64-byte-aligned offsets and freed by size class (a freed piece is
reused by code of the same class).  A `Code` owns its piece: dropping the last
reference frees it, which the native state does only once no thread can be in
it (llvm.NativeState._reclaim).  Chunks are private mappings: a forked child
has its own copy.  New code is written where no thread runs code (a fresh or
freed piece); x86-64 keeps instruction fetch coherent with those stores.
"""
import ctypes
import mmap
import threading

CHUNK = 1 << 20
ALIGN = 64


class Code:
    """A piece of the arena holding one TB's code: `addr`, and [offset] the
    address at that offset (a region's other entries)."""
    __slots__ = ("arena", "addr", "size", "__weakref__")

    def __init__(self, arena, addr, size):
        self.arena, self.addr, self.size = arena, addr, size

    def __getitem__(self, offset):
        return self.addr + offset

    def __del__(self):
        arena = self.arena
        if arena is not None:
            arena.free(self.addr, self.size)


class CodeArena:
    def __init__(self):
        self.lock = threading.Lock()
        self.chunks = []               # (mmap, its address)
        self.at = self.end = 0         # the free rest of the newest chunk
        self.freed = {}                # size class -> addresses

    def place(self, code):
        """Copy `code` (bytes) into the arena -> its Code."""
        n = (len(code) + ALIGN - 1) & -ALIGN
        with self.lock:
            free = self.freed.get(n)
            if free:
                addr = free.pop()
            else:
                if self.at + n > self.end:
                    size = max(CHUNK, n)
                    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                                  prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
                    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
                    self.chunks.append((m, base))
                    self.at, self.end = base, base + size
                addr = self.at
                self.at += n
        ctypes.memmove(addr, code, len(code))
        return Code(self, addr, n)

    def free(self, addr, n):
        with self.lock:
            self.freed.setdefault(n, []).append(addr)


ARENA = CodeArena()
