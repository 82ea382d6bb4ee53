"""The native backend's persistent code cache and perf map (backends/llvm_cache.py):

* the disk cache itself: an entry comes back as written; a corrupt, truncated
  or misplaced entry is a miss; the oldest entries go first over the size cap;
  a directory that cannot be made turns the cache off; two processes filling
  one directory at once leave only whole entries;
* with LLVM: a TB's text does not depend on the run (two guest memories at
  different host addresses give the same text, so the second compile is a
  hit and its code runs as the interpreter's); a changed guest code byte
  misses; a corrupt entry is compiled again and replaced; `off` compiles
  every time and writes nothing;
* the perf map: a line per linked TB whose range holds the function (its size
  is the object's symbol size), and a forked child's own file.
"""
import importlib.util
import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest

from pydbt.backends import llvm_cache, llvm_jit
from pydbt.stats import STATS


@pytest.fixture
def fresh_config():
    """llvm_cache's configuration back to the environment's after the test (and
    the process's shared native modules made before it: see _shared_modules)."""
    saved = dict(llvm_cache._config)
    _shared_modules()
    llvm_jit._recent.clear()                   # (objects earlier tests compiled without a disk cache)
    yield llvm_cache.configure
    llvm_cache._config.clear()
    llvm_cache._config.update(saved)


@pytest.fixture(autouse=True)
def low_base_taken():
    """A guest memory holding runtime/memory.py's LOW_BASE (if no live one has it)
    for the test: the memories the test makes all lie elsewhere, where the text
    names the base by a symbol (at LOW_BASE it is a literal of the text, the same
    in every run there: test_llvm_membase.py), whichever memories earlier tests
    left for the garbage collector (collected first: one of them freeing
    LOW_BASE during the test would put a memory of the test there)."""
    import gc
    from pydbt.runtime.memory import GuestMemory
    gc.collect()
    blocker = GuestMemory(space=1 << 24)
    yield
    del blocker


def _shared_modules():
    """backends/llvm.py makes one module once per process, with the first TB: the
    one all TBs share (their callback).  Made here, with the
    cache off, so that a test counting compiles and cache files sees its TBs' only."""
    if importlib.util.find_spec("llvmlite") is None:
        return
    from pydbt.backends import llvm
    if not llvm._RUNTIME_OBJ:
        saved = dict(llvm_cache._config)
        llvm_cache.configure("off")
        try:
            llvm._runtime_object()
        finally:
            llvm_cache._config.clear()
            llvm_cache._config.update(saved)


def entry_files(root):
    return sorted(p for p in _walk(root) if p.endswith(".o"))


def _walk(root):
    for d, _, files in os.walk(root):
        for f in files:
            yield os.path.join(d, f)


# --- the disk cache ------------------------------------------------------------------------

def test_an_entry_comes_back_as_written(tmp_path):
    c = llvm_cache.DiskCache(tmp_path / "c")
    k = llvm_cache.make_key("env", "text")
    assert c.get(k) is None
    assert c.put(k, b"\x7fELF object bytes")
    assert c.get(k) == b"\x7fELF object bytes"
    assert llvm_cache.DiskCache(tmp_path / "c").get(k) == b"\x7fELF object bytes"   # (another process)
    assert entry_files(tmp_path / "c") == [c.path(k)]
    assert not [p for p in _walk(tmp_path / "c") if ".tmp-" in p]


def test_the_key_covers_text_and_environment():
    keys = {llvm_cache.make_key(e, t) for e in ("a", "b") for t in ("x", "y")}
    assert len(keys) == 4
    assert llvm_cache.make_key("a", "x") == llvm_cache.make_key("a", "x")


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "other_key"])
def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path, damage):
    c = llvm_cache.DiskCache(tmp_path)
    k, data = llvm_cache.make_key("env", "t"), bytes(range(256)) * 8
    c.put(k, data)
    p = c.path(k)
    raw = open(p, "rb").read()
    if damage == "flip":
        raw = raw[:-100] + bytes([raw[-100] ^ 1]) + raw[-99:]
    elif damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "empty":
        raw = b""
    else:                                   # a whole entry, but of another key
        k2 = llvm_cache.make_key("env", "u")
        c.put(k2, data)
        raw = open(c.path(k2), "rb").read()
    open(p, "wb").write(raw)
    before = STATS.extra.get("native_cache_corrupt", 0)
    assert c.get(k) is None
    assert STATS.extra.get("native_cache_corrupt", 0) == before + 1
    c.put(k, data)
    assert c.get(k) == data


def test_the_oldest_entries_go_first_over_the_cap(tmp_path):
    c = llvm_cache.DiskCache(tmp_path, max_bytes=10_000)
    keys = [llvm_cache.make_key("env", str(i)) for i in range(8)]
    for i, k in enumerate(keys):
        c.put(k, bytes(1000))
        os.utime(c.path(k), (1000 + i, 1000 + i))
    c.get(keys[0])                           # used now: the newest
    stale = os.path.join(os.path.dirname(c.path(keys[0])), ".tmp-left-by-a-killed-process")
    open(stale, "wb").write(bytes(100))
    os.utime(stale, (1, 1))
    assert c.prune() == 0                    # 8 * ~1.1 KB: under the cap
    for i in range(8, 12):
        k = llvm_cache.make_key("env", str(i))
        c.put(k, bytes(1000))
        keys.append(k)
    c.prune()                                # (a put prunes too, when it finds the cap passed)
    left = {k for k in keys if os.path.exists(c.path(k))}
    total = sum(os.path.getsize(p) for p in _walk(tmp_path))
    assert total <= 10_000
    assert keys[0] in left and keys[8:] == [k for k in keys[8:] if k in left]
    assert keys[1] not in left and keys[2] not in left     # the oldest
    assert not os.path.exists(stale)


def test_an_impossible_directory_turns_the_cache_off(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    c = llvm_cache.DiskCache(tmp_path / "file" / "cache")     # (even root cannot mkdir under a file)
    assert not c.enabled and c.state.startswith("off:")
    k = llvm_cache.make_key("env", "t")
    assert c.put(k, b"x") is False and c.get(k) is None


def test_a_directory_that_goes_away_makes_the_cache_read_only(tmp_path):
    c = llvm_cache.DiskCache(tmp_path / "c")
    os.rmdir(tmp_path / "c")
    (tmp_path / "c").write_bytes(b"")         # (now a file: nothing can be written under it)
    assert c.put(llvm_cache.make_key("env", "t"), b"x") is False
    assert c.state.startswith("read-only:") and STATS.extra["native_cache"] == c.state


def test_the_default_directory_follows_xdg(tmp_path):
    assert llvm_cache.default_dir({"XDG_CACHE_HOME": "/x/y"}) == "/x/y/pydbt/native"
    assert llvm_cache.default_dir({"HOME": str(tmp_path)}) == str(tmp_path / ".cache" / "pydbt" / "native")
    # no home directory: no cache (a test's HOME=/nonexistent must not be made, even by root)
    assert llvm_cache.default_dir({"HOME": str(tmp_path / "nonexistent")}) is None


def test_no_home_no_cache(tmp_path, fresh_config, monkeypatch):
    monkeypatch.delenv("PYDBT_CODE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent"))
    fresh_config(None)
    assert llvm_cache.cache() is None
    assert STATS.extra["native_cache"] == "off: no home directory"
    assert not (tmp_path / "nonexistent").exists()


WRITER = textwrap.dedent("""
    import sys
    from pydbt.backends import llvm_cache
    c = llvm_cache.DiskCache(sys.argv[1])
    me = sys.argv[2]
    for i in range(300):
        data = (b"shared %d " % i) * 200               # same key, same bytes: both write it
        c.put(llvm_cache.make_key("env", "shared%d" % i), data)
        c.put(llvm_cache.make_key("env", me + str(i)), (me.encode() + b"%d" % i) * 100)
    print("ok")
""")


def test_two_processes_fill_one_directory_at_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name], stdout=subprocess.PIPE)
             for name in ("a", "b")]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert (p.returncode, out) == (0, b"ok\n")
    c = llvm_cache.DiskCache(tmp_path)
    for i in range(300):
        assert c.get(llvm_cache.make_key("env", f"shared{i}")) == (b"shared %d " % i) * 200
        for me in "ab":
            assert c.get(llvm_cache.make_key("env", me + str(i))) == (me.encode() + b"%d" % i) * 100
    assert len(entry_files(tmp_path)) == 900
    assert not [p for p in _walk(tmp_path) if ".tmp-" in p]


def test_symbol_size_reads_an_elf_symbol_table():
    """A hand-made ELF64 object: two symbols, the sizes found by name."""
    strtab = b"\0first\0second\0"
    syms = bytes(24) + struct.pack("<IBBHQQ", 1, 0x12, 0, 1, 0, 0x40) + \
        struct.pack("<IBBHQQ", 7, 0x12, 0, 1, 0x40, 0x123)
    shdr = struct.Struct("<IIQQQQIIQQ")
    off_str, off_sym = 64, 64 + len(strtab)
    shoff = off_sym + len(syms)
    sections = [bytes(64), shdr.pack(0, 3, 0, 0, off_str, len(strtab), 0, 0, 1, 0),
                shdr.pack(0, 2, 0, 0, off_sym, len(syms), 1, 1, 8, 24)]
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 1, 62, 1, 0, 0, shoff,
                       0, 64, 0, 0, 64, 3, 0)
    obj = ehdr + strtab + syms + b"".join(sections)
    assert llvm_cache.symbol_size(obj, "second") == 0x123
    assert llvm_cache.symbol_size(obj, "first") == 0x40
    assert llvm_cache.symbol_size(obj, "third") is None
    assert llvm_cache.symbol_size(b"MZ not elf", "first") is None


# --- with LLVM: native TBs ------------------------------------------------------------------

CODE, DATA, SPACE = 0x10000, 0x20000, 1 << 24


def _program(mem, imm):
    """a loop summing DATA's 16 words into a0 (plus imm), then ecall"""
    words = [
        0x00000513,                      # li a0, 0
        0x000205b7,                      # lui a1, 0x20   (DATA)
        0x01000613,                      # li a2, 16
        0x0005b683,                      # ld a3, 0(a1)
        0x00d50533,                      # add a0, a0, a3
        0x00858593,                      # addi a1, a1, 8
        0xfff60613,                      # addi a2, a2, -1
        0xfe0618e3,                      # bnez a2, -16
        0x00050513 | (imm & 0xfff) << 20,  # addi a0, a0, imm
        0x00000073,                      # ecall
    ]
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))


def _native(imm):
    """A fresh guest memory (its own host addresses) with the program, its
    block compiled natively; -> (block's native function, cpu)"""
    pytest.importorskip("llvmlite")
    from pydbt.backends import llvm
    from pydbt.frontends.riscv64.cpu import CPU
    from pydbt.frontends.riscv64.translate import translate
    from pydbt.passes import optimize
    from pydbt.runtime.memory import GuestMemory, R, W, X
    from pydbt.tb import TBContext
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | X)
    mem.map(DATA, 0x1000, R | W)
    mem.poke(DATA, b"".join(struct.pack("<Q", 3 * i + 1) for i in range(16)))
    _program(mem, imm)
    blk = translate(mem, CODE, 64, superblock=True)
    optimize(blk)
    ctx = TBContext(mem, [], lambda pc: ("lookup", pc), {}, None, [])
    return llvm.compile(blk, ctx), CPU(mem), mem


def _run(fn, cpu):
    """run the block to its ecall -> a0"""
    from pydbt.errors import Syscall
    with pytest.raises(Syscall):
        fn(cpu)
    return cpu.regs[10]


def _counts():
    return {k: STATS.extra.get(k, 0) for k in ("native_compiles", "native_cache_hits", "native_cache_misses")}


def _delta(before):
    return {k: v - before[k] for k, v in _counts().items()}


def test_the_text_does_not_depend_on_the_run(tmp_path, fresh_config):
    """Two guest memories at different host addresses: the same text, so the
    second compile is a disk hit (no LLVM), and both run to the sum."""
    fresh_config(str(tmp_path))
    b = _counts()
    f1, cpu1, m1 = _native(5)
    assert _delta(b) == {"native_compiles": 1, "native_cache_hits": 0, "native_cache_misses": 1}
    f2, cpu2, m2 = _native(5)
    assert m1.host_base != m2.host_base
    assert f1.native.text == f2.native.text
    assert f1.native.imports[llvm_cache_sym("SYM_MEM")] != f2.native.imports[llvm_cache_sym("SYM_MEM")]
    assert _delta(b) == {"native_compiles": 1, "native_cache_hits": 1, "native_cache_misses": 1}
    want = sum(3 * i + 1 for i in range(16)) + 5
    assert _run(f1, cpu1) == want and _run(f2, cpu2) == want
    assert len(entry_files(tmp_path)) == 1


def llvm_cache_sym(name):
    from pydbt.backends import llvm_emit
    return getattr(llvm_emit, name)


def test_a_changed_guest_code_byte_misses(tmp_path, fresh_config):
    fresh_config(str(tmp_path))
    b = _counts()
    f1, cpu1, _ = _native(5)
    f2, cpu2, _ = _native(6)                 # (one immediate differs)
    assert _delta(b) == {"native_compiles": 2, "native_cache_hits": 0, "native_cache_misses": 2}
    assert _run(f2, cpu2) == _run(f1, cpu1) + 1
    assert len(entry_files(tmp_path)) == 2


def test_a_corrupt_entry_is_compiled_again_and_replaced(tmp_path, fresh_config):
    fresh_config(str(tmp_path))
    _native(7)
    (path,) = entry_files(tmp_path)
    raw = bytearray(open(path, "rb").read())
    raw[len(raw) // 2] ^= 0xff                # (inside the object: a checksum mismatch)
    open(path, "wb").write(raw)
    b = _counts()
    f, cpu, _ = _native(7)
    assert _delta(b) == {"native_compiles": 1, "native_cache_hits": 0, "native_cache_misses": 1}
    assert _run(f, cpu) == sum(3 * i + 1 for i in range(16)) + 7
    f, cpu, _ = _native(7)
    assert _delta(b) == {"native_compiles": 1, "native_cache_hits": 1, "native_cache_misses": 1}
    assert _run(f, cpu) == sum(3 * i + 1 for i in range(16)) + 7


def test_off_writes_nothing_and_keeps_recent_objects_in_memory(tmp_path, fresh_config, monkeypatch):
    """Without the disk cache nothing is written; the same text made again in
    the process is not compiled again (llvm_jit's recent objects), another is."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh_config("off")
    assert llvm_cache.cache() is None and STATS.extra["native_cache"] == "off"
    b = _counts()
    recent = STATS.extra.get("native_recent_hits", 0)
    _native(9)
    _native(9)
    assert _delta(b) == {"native_compiles": 1, "native_cache_hits": 0, "native_cache_misses": 0}
    assert STATS.extra["native_recent_hits"] == recent + 1
    _native(10)
    assert _delta(b)["native_compiles"] == 2
    assert list(_walk(tmp_path)) == []


PERF = textwrap.dedent("""
    import ctypes, json, os
    import llvmlite.binding as llvm
    from pydbt.backends import llvm_cache, llvm_jit
    llvm_cache.configure("off", True, "testarch")
    def tb(name, n):
        # a function of n - 1 multiplies -> (tracker, address, its symbol's size,
        # whether the bytes there are the object's code)
        body = "".join(f"  %v{i} = mul i64 %v{i - 1}, {2 * i + 1}\\n" for i in range(1, n))
        text = f"define i64 @{name}(i64 %v0) {{\\n{body}  ret i64 %v{n - 1}\\n}}\\n"
        tracker, addr = llvm_jit.compile(text, name, pc=0x1000 + n)
        obj = llvm_jit._init()["tm"].emit_object(llvm_jit.parse(text))
        size = llvm_cache.symbol_size(obj, name)
        code = [s.data() for s in llvm.ObjectFileRef.from_data(obj).sections() if s.is_text() and s.size()]
        return tracker, addr, size, code == [ctypes.string_at(addr, size)]
    keep = [tb("tb_a", 3)]
    pid = os.fork()
    if pid == 0:
        keep.append(tb("tb_b", 40))
        os._exit(0)
    os.waitpid(pid, 0)
    print(json.dumps({"parent": os.getpid(), "child": pid, "tbs": [k[1:] for k in keep]}))
""")


def test_the_perf_map_names_each_native_tb(tmp_path):
    """The map's line holds the function: it starts at the address the
    library exports, its size is the object's symbol size (> 0); a forked
    child's map starts with the parent's lines."""
    pytest.importorskip("llvmlite")
    p = subprocess.run([sys.executable, "-c", PERF], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    maps = {}
    try:
        for who in ("parent", "child"):
            with open(llvm_cache.perfmap_path(out[who])) as f:
                maps[who] = [ln.split() for ln in f.read().splitlines()]
    finally:
        for who in ("parent", "child"):
            if os.path.exists(llvm_cache.perfmap_path(out[who])):
                os.unlink(llvm_cache.perfmap_path(out[who]))
    (addr, size, same), = out["tbs"]
    assert maps["parent"] == [[f"{addr:x}", f"{size:x}", "testarch:0x1003"]]
    assert size > 0 and same                 # (the range holds the function's code, all of it)
    assert maps["child"][0] == maps["parent"][0]
    start, sz, name = maps["child"][1]
    assert name == "testarch:0x1028" and int(sz, 16) > size     # (40 adds: the longer function)


def test_helpers_are_named_the_same_in_every_run_and_apart_in_a_tb():
    """Helper symbols come from names (no id, no registration order); two
    helpers of one name in one TB get two symbols, each bound to its own."""
    from pydbt.backends import llvm_emit
    from pydbt.frontends.riscv64 import fpu
    import functools
    assert llvm_emit.helper_symbol(fpu.fadd_d) == "pydbt.helper:pydbt.frontends.riscv64.fpu.fadd_d"

    def make(k):
        def helper(cpu, a):
            return a + k
        return helper
    one, two = make(1), make(2)
    assert llvm_emit.helper_symbol(one) == llvm_emit.helper_symbol(two)
    assert llvm_emit.helper_symbol(functools.partial(one)) == "pydbt.helper:functools.partial"
    ids = {one: 7, two: 9}
    em = llvm_emit.Emitter.__new__(llvm_emit.Emitter)
    em.c, em.imports, em.decls = {"helper_id": ids.__getitem__}, {}, {}
    a, b, a2 = em.helper(one), em.helper(two), em.helper(one)
    assert a == a2 != b
    base = llvm_emit.helper_symbol(one)
    assert em.imports == {base: 7, base + "#2": 9}


def test_the_options_and_their_environment_twins():
    from pydbt import cli
    opts, prog, _ = cli.parse_run_args(["-code-cache", "/some/dir", "-perfmap", "prog"], environ={})
    assert (opts.code_cache, opts.perfmap, prog) == ("/some/dir", True, "prog")
    opts, _, _ = cli.parse_run_args(["prog"], environ={"PYDBT_CODE_CACHE": "off", "PYDBT_PERFMAP": "1"})
    assert (opts.code_cache, opts.perfmap) == ("off", True)
    opts, _, _ = cli.parse_run_args(["--code-cache=/d", "prog"], environ={"PYDBT_CODE_CACHE": "off"})
    assert opts.code_cache == "/d"                  # (the flag wins)


@pytest.mark.parametrize("argv, message", [
    (["-code-cache"], "pydbt: option -code-cache needs an argument\n"),
    (["-perfmap=yes", "prog"], "pydbt: option -perfmap takes no argument\n"),
])
def test_bad_options_are_one_line(argv, message):
    p = subprocess.run([sys.executable, "-m", "pydbt", "run", *argv], capture_output=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr.decode()) == (1, b"", message)
