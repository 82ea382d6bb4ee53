"""What native code leaves on disk: the persistent object cache and the perf map.

The object cache.  The LLVM IR text of a TB depends only on its guest code, the
translation flags and pydbt (llvm_emit.py names every run-dependent number by
a symbol resolved when the object is linked), so its compiled object can be
kept across runs: a second run of a program links the objects the first one
compiled instead of compiling them again.

* key: blake2b of the text and of everything else the object depends on
  (`llvm_jit.environment()`: pydbt's version and the code generator's own
  source, llvmlite's and LLVM's versions, target triple, CPU name and
  features, code and relocation models, optimisation level);
* place: `-code-cache DIR` / `PYDBT_CODE_CACHE`, else
  `$XDG_CACHE_HOME/pydbt/native` (default `~/.cache/pydbt/native`, and no
  cache when the home directory does not exist); `off` disables it.  Entries are `<2 hex>/<key>.o` below it;
* an entry is a header (magic, format, key, payload length, payload digest)
  then the object: a truncated or corrupt entry is a miss, compiled again
  and replaced;
* writes go to a temporary file renamed over the entry (os.replace): readers
  see a whole entry or none, and several pydbt processes may fill one
  directory at once (the last rename of identical bytes wins);
* size: at most `max_bytes` (MAX_BYTES); a hit refreshes the entry's mtime, and
  the oldest entries go first when a process finds the directory over its cap
  (checked once per process when it first writes, then after every
  max_bytes/64 bytes it wrote).  The first check looks at the subdirectory
  it wrote to, 1/256 of the entries (keys are uniform hashes), and at all of
  them only when that sample says the directory holds over SAMPLE_OVER of
  the cap: a full look at a directory near its cap (25,000 entries) took
  ~85 ms of CPU, most of it holding the GIL (a Python loop over the
  entries), in the run's first native compile, stalling the guest;
* a directory that cannot be created or written: the cache is off (or
  read-only), which `-stats` says (`native_cache`), and pydbt goes on;
* `has(key)` (one stat) and `key_made(function)` (the key this thread last
  made for a text defining that function: a job's, after its finish) tell
  the engine whether a region's object is there before it is made
  (dbt/regionlog.py keeps the records of the regions' shapes under
  `regions/` in the same directory).

The perf map (`-perfmap`, `PYDBT_PERFMAP`): a `START SIZE name` line per native
TB as it is linked, in `/tmp/perf-<pid>.map` (perf's convention for JIT
code); the size comes from the object's symbol table.  A forked child writes its
own file, starting with the lines its parent wrote (the code is still mapped).

Nothing here imports llvmlite.
"""
import os
import struct
import threading
import time
from _blake2 import blake2b    # (hashlib would load OpenSSL at start-up: ~5-40 ms)

from pydbt import atomicfile
from pydbt.stats import STATS
from .llvm_emit import FAULTS_SECTION

MAGIC = b"pydbtobj"
FORMAT = 1
HEADER = struct.Struct("<8sI40sQ32s")        # magic, format, key (hex), payload length, blake2b-256
MAX_BYTES = 256 << 20
PRUNE_TO = 0.8                                # pruning leaves this fraction of the cap
STALE_TMP = 3600                              # seconds before another process's temp file is litter
SUBDIRS = 256                                 # <2 hex> subdirectories
SAMPLE_OVER = 0.875                           # the first check looks at everything over this x the cap


def default_dir(environ=None):
    """$XDG_CACHE_HOME/pydbt/native, else ~/.cache/pydbt/native; None when
    there is no XDG_CACHE_HOME and no home directory (never made up)."""
    env = os.environ if environ is None else environ
    if env.get("XDG_CACHE_HOME"):
        return os.path.join(env["XDG_CACHE_HOME"], "pydbt", "native")
    home = env.get("HOME") or os.path.expanduser("~")
    if not os.path.isdir(home):
        return None
    return os.path.join(home, ".cache", "pydbt", "native")


_made = threading.local()                     # the keys this thread made last (key_made)
MADE = 4


def make_key(environment, text):
    h = blake2b(digest_size=20)
    h.update(environment.encode())
    h.update(b"\0")
    h.update(text.encode())
    key = h.hexdigest()
    made = getattr(_made, "keys", None)
    if made is None:
        made = _made.keys = []
    made.append((text, key))
    del made[:-MADE]
    return key


def load_native():
    """Load the native tier (llvmlite, the JIT: what the first compile does)
    ahead of it: a run that will load objects from this cache (the compile
    thread's first job)."""
    from . import llvm_jit
    llvm_jit.environment()


def key_made(function):
    """The key this thread made last for a text that defines `function` (a
    native job's, just finished: what the object was looked up by), or None;
    then it forgets the keys it made."""
    made = getattr(_made, "keys", None) or []
    _made.keys = []
    want = f"@{function}("
    for text, key in reversed(made):
        if want in text:
            return key
    return None


class DiskCache:
    """One cache directory: get(key) -> object bytes or None, put(key, data)."""

    def __init__(self, root, max_bytes=MAX_BYTES):
        self.root = os.path.abspath(root)
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.state = self.root                  # what -stats shows
        self.writable = True
        self.enabled = True
        self.written = 0                         # bytes this process wrote since it last pruned
        self.checked = False                     # pruned (or looked) once in this process
        try:
            os.makedirs(self.root, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                self.writable = False
                self.state = f"read-only: {self.root}: not writable"
        except OSError as e:
            self.enabled = self.writable = False
            self.state = f"off: {self.root}: {e.strerror or e}"

    def path(self, key):
        return os.path.join(self.root, key[:2], key + ".o")

    def has(self, key):
        """Is there an entry for key (one stat: not checked, nor refreshed)?"""
        return self.enabled and os.path.exists(self.path(key))

    def get(self, key):
        if not self.enabled:
            return None
        p = self.path(key)
        try:
            with open(p, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        data = self._check(key, raw)
        if data is None:
            STATS.bump("native_cache_corrupt")
            return None
        try:
            os.utime(p)                          # (last use: pruning drops the oldest)
        except OSError:
            pass
        return data

    @staticmethod
    def _check(key, raw):
        if len(raw) < HEADER.size:
            return None
        magic, fmt, k, n, digest = HEADER.unpack_from(raw)
        data = raw[HEADER.size:]
        if magic != MAGIC or fmt != FORMAT or k != key.encode() or n != len(data) or \
                blake2b(data, digest_size=32).digest() != digest:
            return None
        return data

    def put(self, key, data):
        if not (self.enabled and self.writable):
            return False
        p = self.path(key)
        raw = HEADER.pack(MAGIC, FORMAT, key.encode(), len(data),
                          blake2b(data, digest_size=32).digest()) + data
        try:
            atomicfile.replace(p, raw)
        except OSError as e:
            with self.lock:
                self.writable = False
                self.state = STATS.extra["native_cache"] = f"read-only: {self.root}: {e.strerror or e}"
            return False
        with self.lock:
            self.written += len(raw)
            first = not self.checked
            due = first or self.written >= self.max_bytes // 64
            if due:
                self.checked, self.written = True, 0
        if due and (not first or self.estimate(os.path.dirname(p)) > SAMPLE_OVER * self.max_bytes):
            self.prune()
        return True

    def estimate(self, sub):
        """The directory's size estimated from one subdirectory `sub` of its
        SUBDIRS (each holds ~1/SUBDIRS of the entries: the keys are hashes)."""
        total = 0
        try:
            files = list(os.scandir(sub))
        except OSError:
            return 0
        for f in files:
            try:
                total += f.stat(follow_symlinks=False).st_size
            except OSError:
                continue
        return total * SUBDIRS

    def entries(self):
        """[(mtime, size, path)] of the entries (and stale temporary files)."""
        out = []
        now = time.time()
        try:
            subs = list(os.scandir(self.root))
        except OSError:
            return out
        for sub in subs:
            if not sub.is_dir(follow_symlinks=False):
                continue
            try:
                files = list(os.scandir(sub.path))
            except OSError:
                continue
            for f in files:
                try:
                    st = f.stat(follow_symlinks=False)
                except OSError:
                    continue
                if f.name.startswith(".tmp-"):
                    if now - st.st_mtime > STALE_TMP:      # (left by a killed process)
                        out.append((0, st.st_size, f.path))
                elif f.name.endswith(".o"):
                    out.append((st.st_mtime, st.st_size, f.path))
        return out

    def prune(self):
        """Oldest entries first, down to PRUNE_TO of the cap, if over it."""
        ents = self.entries()
        total = sum(e[1] for e in ents)
        if total <= self.max_bytes:
            return 0
        ents.sort()
        goal, n = self.max_bytes * PRUNE_TO, 0
        for mtime, size, path in ents:
            if total <= goal:
                break
            try:
                os.unlink(path)
            except OSError:
                continue                        # (another process pruned it first)
            total -= size
            n += 1
        STATS.bump("native_cache_pruned", n)
        return n


# --- configuration (cli.run, or the environment) ---------------------------------------

_config = {"cache": None, "resolved": False, "perfmap": None, "prefix": "guest"}
_config_lock = threading.Lock()


def configure(setting=None, perfmap=None, prefix=None):
    """setting: a directory, 'off', or None (PYDBT_CODE_CACHE, else the default
    directory); perfmap: True/False or None (PYDBT_PERFMAP); prefix: the perf
    map names' first part (the guest architecture's name)."""
    with _config_lock:
        _config["setting"] = setting or None
        _config["resolved"] = False
        _config["cache"] = None
        _config["perfmap"] = perfmap
        if prefix is not None:
            _config["prefix"] = prefix


def cache():
    """The DiskCache in use, or None (off)."""
    if _config["resolved"]:
        return _config["cache"]
    with _config_lock:
        if not _config["resolved"]:
            setting = _config.get("setting") or os.environ.get("PYDBT_CODE_CACHE") or default_dir()
            c = None if setting in (None, "off") else DiskCache(setting)
            STATS.extra["native_cache"] = c.state if c is not None else \
                "off" if setting == "off" else "off: no home directory"
            _config["cache"], _config["resolved"] = c, True
    return _config["cache"]


# --- the perf map ---------------------------------------------------------------------------

_perf = {"pid": None, "file": None, "lines": []}
_perf_lock = threading.Lock()


def perfmap_on():
    on = _config["perfmap"]
    if on is None:
        v = os.environ.get("PYDBT_PERFMAP", "")
        on = _config["perfmap"] = v not in ("", "0")
    return on


def perfmap_path(pid=None):
    return f"/tmp/perf-{os.getpid() if pid is None else pid}.map"


def perfmap_add(start, size, pc, name=None):
    """One line for the code at [start, start + size): guest pc `pc` (None: `name`)."""
    line = f"{start:x} {size:x} {_config['prefix']}:{pc:#x}\n" if pc is not None else \
        f"{start:x} {size:x} {name}\n"
    with _perf_lock:
        pid = os.getpid()
        if _perf["pid"] != pid:                 # (first line, or a forked child's first)
            if _perf["file"] is not None:
                try:
                    _perf["file"].close()
                except OSError:
                    pass
            _perf["pid"], _perf["file"] = pid, None
            try:
                _perf["file"] = open(perfmap_path(pid), "a")
                _perf["file"].write("".join(_perf["lines"]))
            except OSError:
                return
        _perf["lines"].append(line)
        f = _perf["file"]
        if f is not None:
            try:
                f.write(line)
                f.flush()
            except OSError:
                pass


# --- the size of a function, from an ELF object's symbol table --------------------------------

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")


def _section_headers(obj):
    """The section headers of a 64-bit little-endian ELF object, and the index
    of its section names' table; ([], 0) for anything else."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return [], 0
    e = _EHDR.unpack_from(obj)
    shoff, shentsize, shnum = e[6], e[11], e[12]
    return [_SHDR.unpack_from(obj, shoff + i * shentsize) for i in range(shnum)], e[13]


def symbol_size(obj, name):
    """The st_size of symbol `name` in a 64-bit little-endian ELF object, or None."""
    shdrs, _ = _section_headers(obj)
    want = name.encode()
    for sh in shdrs:
        if sh[1] != 2:                          # SHT_SYMTAB
            continue
        strtab = shdrs[sh[6]]
        s0 = strtab[4]
        for off in range(sh[4], sh[4] + sh[5], sh[9] or _SYM.size):
            st_name, info, other, shndx, value, size = _SYM.unpack_from(obj, off)
            end = obj.find(b"\0", s0 + st_name)
            if obj[s0 + st_name:end] == want:
                return size
    return None


_FAULTS_SECTION = FAULTS_SECTION.encode()


def fault_entries(obj):
    """The (offset of a load that may fault, offset of its handler) pairs of a
    64-bit little-endian ELF object's FAULTS_SECTION (llvm_emit's fault loads:
    offsets from the start of the function that has them), or []."""
    shdrs, shstrndx = _section_headers(obj)
    if not shdrs:
        return []
    names = shdrs[shstrndx][4]
    for sh in shdrs:
        end = obj.find(b"\0", names + sh[0])
        if obj[names + sh[0]:end] == _FAULTS_SECTION:
            raw = obj[sh[4]:sh[4] + sh[5]]
            words = struct.unpack(f"<{len(raw) // 4}I", raw)
            return list(zip(words[0::2], words[1::2]))
    return []
