"""Translations kept across processes and runs (the TB store).

A short process spends most of its time translating: a busybox applet forked
by a shell runs ~250 k guest instructions but lifts ~1,300 blocks, each run
once or twice, and compiles the dozen that run more into baseline native
code: about two thirds of its CPU time.  Its siblings forked later do it all
again (their parent never ran that code), and so does every later run of the
program.  The store keeps that work per tier, for each block:
* the first tier's: the interpreter's lowered code (backends/interp.py
  `dump`: plain data; `first_tier`, `first_tier_record`);
* a native tier's: the baseline's machine code, whose run-dependent numbers
  (addresses, ids) are relocations patched at its load (backends/llvm.py
  `kept`, `prepare_kept`; `native_tier`, `native_record`),
each with what the TB cache needs (size, instruction count, pages, direct
targets, a region's other entries) and the instructions it was made from, so
a process that meets a block some process of the same program made before
loads it instead (the engine: execloop.py `_stored_tb`).

A record is a hint, checked before use: its instructions (address, size,
encoding) must still be in guest memory and executable (`mem.holds`, the check
the engine makes of every block it translates), so code that changed (another
library at that address, code written at run time) misses, never runs stale.

One file per program and tier, `tbs/<key>.tbs` under the code cache's
directory (the key: regionlog.program_key of the executable, the sysroot,
pydbt's version and the variant: the guest architecture, the engine's
settings that change the code, the tier, and `fingerprint`s of the sources
that make it).  It only grows: each record is one write() on an O_APPEND
descriptor (records of the processes of one program, a shell and its
children, do not mix), a length, a CRC and the pc before a marshal payload; a
record cut short (a process killed while writing) or whose CRC fails is no
record, and neither is any after a cut (rare: a write is cut only by a full
disk); the last record of a pc wins.  A process reads the file once and, at a
pc it does not know, whatever others appended since (one fstat).  Past
MAX_BYTES nothing is appended any more; past MAX_DIR_BYTES in all, making a
store removes the least recently written (`prune`).

Helpers (a `call` op's function) are kept by name (module:qualname); a block
with a helper that its name does not give back is not kept.

`-stats`: tb_store_hits, tb_store_misses (blocks lifted though the store was
open), tb_store_stale (a record whose instructions were not there any more),
tb_store_prefetched (Engine.before_fork); native_store_* the same for native
code (native_store_unfit: kept under other settings of the run).

Architecture-neutral: it knows pcs, bytes and marshal's data.
"""
import importlib
import marshal
import os
import struct
import threading
import zlib
from _blake2 import blake2b


MAGIC = b"pydbt-tbs 1\n"
HEAD = struct.Struct("<IIQ")          # payload length, its CRC-32, pc
MAX_BYTES = 64 << 20                  # a file stops growing here
MAX_DIR_BYTES = 256 << 20             # all stores of a code cache (prune)
PRUNE_TO = 0.8
MAX_RECORD = 1 << 20                  # a bigger payload is not kept (nor trusted when read)

# the translator's sources: what the lowered code depends on besides the guest's bytes
FIRST_TIER = ("pydbt.ir", "pydbt.builder", "pydbt.passes", "pydbt.backends.interp")
_fingerprints = {}


def fingerprint(modules):
    """A hash of the sources of `modules` (names; a package's: every module
    file in its directory), cached per process."""
    modules = tuple(modules)
    fp = _fingerprints.get(modules)
    if fp is None:
        files = []
        for name in modules:
            mod = importlib.import_module(name)
            if hasattr(mod, "__path__"):             # (a package: all of it)
                d = os.path.dirname(mod.__file__)
                files += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".py"))
            else:
                files.append(mod.__file__)
        h = blake2b(digest_size=16)
        for name in files:
            with open(name, "rb") as f:
                h.update(f.read())
            h.update(b"\0")
        fp = _fingerprints[modules] = h.hexdigest()
    return fp


class Record:
    """A stored block, with the attributes the engine's check reads (pages,
    insns, words) and the interpreter's `lowered`."""
    __slots__ = ("size", "ninsns", "pages", "targets", "insns", "words", "lowered", "entries")

    def __init__(self, size, ninsns, pages, targets, insns, words, lowered):
        self.size, self.ninsns, self.pages, self.targets = size, ninsns, pages, targets
        self.insns, self.words, self.lowered = insns, words, lowered
        self.entries = ()


_names = {}          # helper function -> its name (or None: not kept by name)
_helpers = {}        # name -> helper function


def helper_name(fn):
    """module:qualname of fn if that gives fn back, else None."""
    try:
        return _names[fn]
    except KeyError:
        pass
    except TypeError:                            # (unhashable: not a plain function)
        return None
    name = f"{getattr(fn, '__module__', None)}:{getattr(fn, '__qualname__', None)}"
    _names[fn] = name if resolve(name) is fn else None
    return _names[fn]


def resolve(name):
    """The helper of a name helper_name gave, or None."""
    fn = _helpers.get(name)
    if fn is None:
        module, _, qual = name.partition(":")
        try:
            fn = importlib.import_module(module)
            for part in qual.split("."):
                fn = getattr(fn, part)
        except (ImportError, AttributeError, ValueError):
            return None
        _helpers[name] = fn
    return fn


def prune(folder, keep=None, max_bytes=None):
    """Past MAX_DIR_BYTES in folder's stores, remove the least recently
    written ones (not `keep`) down to PRUNE_TO of it (when a store is made:
    one listing, a stat per store).  A store removed under a process that
    has it open stays readable there (and its appends go nowhere)."""
    cap = MAX_DIR_BYTES if max_bytes is None else max_bytes
    try:
        stores = []
        for entry in os.scandir(folder):
            if entry.name.endswith(".tbs") and entry.path != keep:
                st = entry.stat()
                stores.append((st.st_mtime, st.st_size, entry.path))
    except OSError:
        return
    total = sum(size for _, size, _ in stores)
    if total <= cap:
        return
    for _, size, path in sorted(stores):
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        if total <= PRUNE_TO * cap:
            break


class TBStore:
    def __init__(self, path, own=None):
        """own: (keep, drop): keep(fd) -> the fd pydbt keeps for itself, out of
        the guest's way (runtime/ownfds.py), drop(fd) closes it."""
        self.path = path
        self.lock = threading.Lock()
        self.index = {}                          # pc -> (the bytes read, its payload's offset there, length, CRC)
        self.end = 0                             # the file's bytes read so far
        self.full = False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:                                     # (the first process writes the magic)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
            os.write(fd, MAGIC)
            prune(os.path.dirname(path), keep=path)
        except FileExistsError:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        self.drop = own[1] if own else os.close
        self.fd = own[0](fd) if own else fd
        self._read_new()
        self.found = len(self.index)             # pcs with records when opened (a run before made them)

    @classmethod
    def open(cls, disk, exe_path, sysroot, variant, own=None):
        """The store of the program, or None (no code cache, no readable
        executable, a directory it cannot write)."""
        from .regionlog import program_key
        if disk is None or not getattr(disk, "enabled", False) or not exe_path:
            return None
        key = program_key(exe_path, sysroot, variant)
        if key is None:
            return None
        try:
            return cls(os.path.join(disk.root, "tbs", key + ".tbs"), own)
        except OSError:
            return None

    def close(self):
        if self.fd is not None:
            self.drop(self.fd)
            self.fd = None

    def _read_new(self):
        """Index the records appended since the last read (by anyone)."""
        with self.lock:
            size = os.fstat(self.fd).st_size
            if size <= self.end:
                return
            data = os.pread(self.fd, size - self.end, self.end)
            at = 0
            if self.end == 0:
                if not data.startswith(MAGIC):   # (another format, or its first write not there yet)
                    self.full = self.full or len(data) >= len(MAGIC)
                    return
                at = len(MAGIC)
            index = self.index
            while at + HEAD.size <= len(data):
                n, crc, pc = HEAD.unpack_from(data, at)
                if n > MAX_RECORD or at + HEAD.size + n > len(data):
                    break                        # (cut short, or still being written)
                index[pc] = (data, at + HEAD.size, n, crc)
                at += HEAD.size + n
            self.end += at
            self.full = self.end >= MAX_BYTES

    def pcs(self):
        """The pcs of every record now in the file."""
        self._read_new()
        return list(self.index)

    def has(self, pc):
        """Is a record for pc among those read so far (no read of the file)?"""
        return pc in self.index

    def get(self, pc):
        """The payload stored for pc (a tuple), or None."""
        found = self.index.get(pc)
        if found is None:
            self._read_new()
            found = self.index.get(pc)
            if found is None:
                return None
        data, at, n, crc = found
        try:
            payload = memoryview(data)[at:at + n]
            if zlib.crc32(payload) != crc:
                raise ValueError("crc")
            return marshal.loads(payload)
        except (ValueError, TypeError, EOFError):
            self.index.pop(pc, None)
            return None

    def put(self, pc, payload):
        """Keep payload (a tuple marshal can keep) as pc's record."""
        if self.full or self.fd is None:
            return
        try:
            payload = marshal.dumps(payload)
        except ValueError:                       # (something marshal cannot keep)
            return
        if len(payload) > MAX_RECORD:
            return
        try:
            os.write(self.fd, HEAD.pack(len(payload), zlib.crc32(payload), pc) + payload)
        except OSError:                          # (a full disk: no more records)
            self.full = True


# --- the records ----------------------------------------------------------------------------

def first_tier(block, targets, lowered):
    """The payload of a first-tier block (interp.dump's `(data, helpers)`), or
    None (a helper with no name)."""
    code, helpers = lowered
    names = [helper_name(fn) for fn in helpers]
    if None in names:
        return None
    return (block.size, block.ninsns, block.pages, targets, block.insns, block.words, code, names)


def first_tier_record(payload):
    """The Record of a first-tier payload, or None."""
    try:
        size, ninsns, pages, targets, insns, words, code, names = payload
    except (ValueError, TypeError):
        return None
    helpers = [resolve(name) for name in names]
    if None in helpers:
        return None
    return Record(size, ninsns, pages, targets, insns, words, (code, helpers))


def native_tier(block, targets, kept):
    """The payload of a native region: what the TB cache needs (entries
    included) and the backend's `kept` code."""
    entries = [tuple(e) for e in getattr(block, "entries", None) or ()]
    return (block.size, block.ninsns, block.pages, targets, block.insns, block.words, entries, kept)


def native_record(payload):
    """A native payload as a Record (`lowered`: the backend's kept code;
    `entries`: the region's other entries), or None."""
    try:
        size, ninsns, pages, targets, insns, words, entries, kept = payload
    except (ValueError, TypeError):
        return None
    rec = Record(size, ninsns, pages, targets, insns, words, kept)
    rec.entries = entries
    return rec
