"""The native backend: each TB becomes native code through LLVM (llvmlite), chained in native code.

One TB (a superblock, loops inside closed) per LLVM module; a region with
other entries (block.entries) has a small function per entry, each its own
TB of the cache sharing the region's code, exits and id (`_entry`,
TB.region).  Under `-backend llvm` a TB is compiled when the interpreter has
run it `-jit-threshold` times; under `-backend auto` (the default,
dbt/execloop.py) first as baseline code (the BASELINE level: machine code
made by Python, x64_emit.py, placed in the code arena; the same state,
slots and exits; it counts the guest instructions it runs in a word of its
own, see `hot_word`, as quick LLVM code, llvm_quick.py, does), then at the
"full" level once that code is hot; and then
`prepare` (the IR text: Python, under the GIL) runs in the guest's thread and
`finish` (LLVM: parse, optimize, codegen, link; without the GIL) in the
compile thread.  The IR text
comes from llvm_emit.py (FP: llvm_fp.py), the code from llvm_jit.py (ORC
LLJIT; llvmlite is imported on the first compile only), or from the disk cache
(llvm_cache.py).

CPU state: copied in and out at each Python<->native transition, not shared.
A thread's native context (`NativeCtx`, one per CPU object) holds the 64 guest
registers as u64 words plus the exit fields; entering native code packs
`cpu.regs` into it (struct.pack_into), and leaving reads back into the same
list the registers native code wrote back (each TB's exit ORs a bit per
register it writes back into ctx word CTX_DIRTY: `_readback`).  Measured
(CPython 3.11, the 2-core host under load): packing 64 registers ~0.8 us,
reading all 64 back ~1.7 us (an int made for each); a whole transition
(copies, the ctypes call, the exit's dispatch) ~2-4 us.  On the bench
workloads native code runs 10^5-10^6 guest instructions per transition
(intloop: 628 transitions for 2.08 G instructions, one per BUDGET
back-edges); a real program's long tail of warm blocks makes many more
(lua5.4 on a script: 300,000, one per ~4,000 instructions, mostly indirect
jumps into blocks still on the bytecode JIT), where reading back all 64 was
~5% of the run.  A shared buffer would instead slow every register access of
the bytecode tier (a memoryview item instead of a list item) and change every
place that treats `cpu.regs` as a list.

Transitions: `fn(cpu)` (the TB's Python function, what the TB cache and the
trampoline see) enters native code at its TB (through the process's one
C-convention entry, x64_runtime.enter(ctx, code); TBs call each other in
LLVM's preserve_none convention, baseline code too: ctx in R12, the budget
in R13) and returns the
Python function to run next, as every backend does:
* an unchained direct exit (its slot empty: the successor is not native yet, or
  not translated) returns `links[k]`, so the TB cache's stubs and chaining work
  as for the other backends; when the cache links two native TBs, it also
  patches the native slot (`NativeState.patch`, called by TBCache), and
  invalidation empties every slot leading into a dropped TB.  The slots are
  private memory: a forked child's patches stay its own;
* an indirect exit missing the native jump cache returns `fns.get(pc) or
  lookup(pc)`, filling the jump cache when the target is native;
* a budget (BUDGET chained jumps, jump-cache hits and loop back-edges, ~0.1-1 ms
  of native code) bounds the time spent in native code, so pending guest
  signals, Ctrl-C, gdb stops and exclusive sections (dbt/exclusive.py) get in;
  a signal already pending on entry empties it.  (An invalidated TB's code thus
  runs on to its exit or the budget's end, as in the bytecode tier, and is
  freed later.)
* syscalls and other exceptions raise their Python exception after the registers
  are back, faults too, with the pc of the faulting instruction.
A quick TB's hotness (llvm_quick.py): its code counts the guest instructions
it runs down in its countdown word (`NativeState.hot_word`: one of an array,
its address the TB's SYM_TB_HOT; llvm_emit.Emitter.count_hot), checked at each
entry and loop back-edge, and calls back (CB_HOT) when it reaches 0 or below:
its tiering.Hotness refills the word and may ask the engine to promote the TB;
the code goes on.

Loads and stores check nothing (a store but its range) when the guest memory
has its guard ranges and no watch (`fault_loads`, `fault_stores`; llvm_emit's
and x64_emit's; the guest memory's host pages then write-protected where the
guest may not write or translated code lies: protect_writes): an access that
faults on the host goes on, through backends/faults.py's table, at its slow
exit (LLVM) or its callback (baseline).  Callbacks from native code into Python
(`NativeState.callback`): the checked memory path (GuestMemory.load/store)
for any access the inline permission check refuses, and helpers (FP beyond
llvm_fp.py's common cases, AMOs, LR/SC, CSRs; ~0.3 us a call).  FP flags and the dynamic rounding mode live in ctx words (CTX_FFLAGS,
CTX_FRM) while native code runs: copied from the CPU attributes the frontend
names on entry and around every helper callback, back on exit.  An exception in
a callback is kept and the TB leaves by its fault exit.

Threads: native code runs without the GIL (ctypes releases it around the
entry call; a callback takes it back), so guest threads run native code at
once, sharing the TBs, slots and jump cache of the state.  What that asks:
* atomics: AMOs and LR/SC are host atomics in native code (llvm_emit's
  `atomic`; the reservation lives in ctx words CTX_RES while native code runs,
  copied from and back to the CPU attribute the frontend names, as FP flags
  are), and the Python tiers use host atomics too (x64_runtime.HostAtomics, set in
  `mem.native_atomics` before the first native TB can run: a Python load-op-
  store could otherwise lose a native store that lands in between);
* the jump cache: a fill writes an empty pc, the code, then the pc with a new
  tag (llvm_emit.JC_TAG_SHIFT); native code reads pc, code, pc and takes the
  entry only if both reads agree, so it never pairs a pc with another's code;
* chain slots: one aligned 8-byte store each (atomic on x86-64); a slot only
  ever holds code of a live TB or 0;
* freeing: drop() unlinks a TB and then counts an epoch; each thread in native
  code is in `inside` with the epoch it entered at, and a dead TB's code and
  slots are freed (the entry that finds them, `_reclaim`) once every thread
  inside entered after its drop: a thread that never leaves native code for
  long still re-enters every budget, so dead code goes within ~1 ms even when
  some thread is always in native code;
* leaving: a thread in native code sees a signal for it, an exclusive section,
  a gdb stop when its budget ends (the checks are Python's, at the exit).

Compile cost (CPU, bench/native_compile.py): a median region of -backend llvm
(~330 lines) ~14-16 ms at the full level: parse+opt ~4, -O2 codegen ~9-11
(SelectionDAG and the greedy register allocator; O1 costs as much, -O0 with
the greedy allocator ~40% less but its code 20-50% slower; no codegen option
measured helps), link ~0.6; the quick level ~4-5 ms.  Each module also pays a
fixed ~0.8 (quick) / ~1.9 ms (full) - LLVM's codegen pipeline is built and
run per module and per function - so a TB's module holds its function only
(the entry and callback are the state's shared module).  The compile thread
takes it off the guest's critical path when a core is free (on this 2-core
host under load its wall time is 2-3x its CPU: CPU waits, not the GIL).

The persistent code cache: the text of a TB names every number of the run by a
symbol (guest memory, permission bytes, jump cache, callback, the TB's id and
chain slots, each helper by its name: llvm_emit.py), whose values `prepare`
lists (`Native.imports`) and the TB's JIT library defines when `finish` links
it.  So the same guest code gives the same text in every run, and `finish`
(llvm_jit.compile) takes the object from the disk cache (llvm_cache.py,
`-code-cache`) when some run compiled it before: loading and linking one costs
~0.5-0.8 ms in the guest's thread, 0.5-1.7 ms in the compile thread (in-run,
loaded 2-core host; the link is most of it) instead of the compile;
on a warm cache sha256 runs in half the wall time, busybox
`sh | sort | md5sum` (5 processes) in a fifth.  `-perfmap` names each linked
TB in /tmp/perf-<pid>.map.

Steady state (CPU time, difference of two sizes, loaded host, 2026-12-01):
matmul_fp ~6x qemu-riscv64 (native FP), intloop ~2.9x, vm 1.8x, fib 1.7x,
matmul_int 1.5x, sieve 1.4x, crc32 1.1x, sha256 1.05x, strings ~1.0x (noisy:
compile-bound), quicksort 0.7-0.9x; integer geomean ~1.3x.

Not yet: a prompt kick (a thread asked to leave finishes its budget first),
regions across TBs (a chained jump still writes back the registers a TB wrote
and the next loads them), freeing the JITDylib of a freed TB (its code is freed, the empty
library stays).
"""
import contextlib
import ctypes
import mmap
import os
import struct
import threading
import weakref

from pydbt.errors import GuestFault, raise_exception
from pydbt.stats import STATS

from . import llvm_emit as E
from . import faults, llvm_cache, llvm_jit
from . import hostcpu, x64_emit, x64_runtime, x64asm
from .x64asm import Sym
from pydbt import tbstore
from .codearena import ARENA

name = "llvm"
superblocks = True
entries = True             # a region may be entered at other pcs too (block.entries: llvm_emit)
on_disk = True             # (its code is kept in the disk cache, llvm_cache.py, and its regions recorded: regionlog.py)
loads = True               # (a compiler to load before the first compile: load())
EMITTERS = (E,)            # where the ops are lowered (tests/unit/test_backends.py reads it)

BASELINE = "baseline"      # the level of the baseline tier's code (x64_emit.py: no LLVM)
# what baseline code the TB store keeps depends on besides the guest's bytes
KEPT_SOURCES = tuple(f"pydbt.backends.{m}" for m in ("x64_emit", "x64asm", "x64_fp", "x64_runtime", "llvm_emit", "llvm"))
BUDGET = 1 << 17           # native chain hits/back-edges per entry before returning to Python
SLOTS = 1 << 21            # chain slots of one engine (8 bytes each, committed when touched)
HOT_WORDS = 1 << 18        # quick TBs' countdown words of one engine (the same)
JC_BITS = 16               # jump cache: 2**16 entries of (pc | tag, code): llvm_emit.JC_TAG_SHIFT
JC_TAGS = 1 << (64 - E.JC_TAG_SHIFT)
M64 = (1 << 64) - 1

_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64,
                       ctypes.c_uint64, ctypes.c_uint64)
RUNTIME_LEVEL = "quick"    # the shared module's (two small functions: the callback in two conventions)
_CTXS = weakref.WeakValueDictionary()      # ctx address -> NativeCtx
_CB_STAT = {E.CB_LOAD: "native_slow_loads", E.CB_STORE: "native_slow_stores", E.CB_HELPER: "native_helper_calls",
            E.CB_HOT: "native_hot_calls"}
_STRUCTS = {}
_STATES = weakref.WeakSet()                # every NativeState (a forked child resets them)


def unsupported():
    return llvm_jit.unsupported()


def load():
    """Load LLVM (llvmlite, its JIT) and make the runtime module's object
    (_runtime_object) ahead of the first compile, which would."""
    llvm_cache.load_native()
    with _RUNTIME_LOCK:
        _runtime_object()


class NativeCtx:
    """One thread's (one CPU object's) native context: see llvm_emit.CTX_*."""
    __slots__ = ("words", "addr", "cpu", "error", "fp", "__weakref__")

    def __init__(self, cpu):
        self.words = (ctypes.c_uint64 * E.CTX_WORDS)()
        self.addr = ctypes.addressof(self.words)
        self.cpu = cpu
        self.error = None
        self.fp = None             # (flags, rounding mode) CPU attributes mirrored in the words
        _CTXS[self.addr] = self


def _mirror_fp(fp):
    """A TB computes FP natively (llvm_fp.py): from now on the flags and the
    rounding mode (the CPU attributes named by fp) live in ctx words while native
    code runs.  Every context switches now, a thread that is in a callback from
    native code (which may chain into the new TB) included."""
    for nc in list(_CTXS.values()):
        if nc.fp is None and hasattr(nc.cpu, fp[0]):
            nc.words[E.CTX_FFLAGS] = getattr(nc.cpu, fp[0])
            nc.words[E.CTX_FRM] = getattr(nc.cpu, fp[1])
            nc.fp = fp


def _ctx(cpu):
    try:
        nc = cpu._pydbt_native
    except AttributeError:
        nc = None
    if nc is None or nc.cpu is not cpu:
        if len(cpu.regs) > E.NREGS_MAX:
            raise ValueError(f"llvm: {len(cpu.regs)} guest registers, the native context holds {E.NREGS_MAX}")
        nc = NativeCtx(cpu)
        cpu._pydbt_native = nc
    return nc


def _struct(n):
    s = _STRUCTS.get(n)
    if s is None:
        s = _STRUCTS[n] = struct.Struct(f"<{n}Q")
    return s


_READBACK = {}
READBACK_MAX = 24


def _readback(dirty):
    """-> (a struct reading the ctx words of the registers set in `dirty`, their
    indices): what native code wrote back since Python entered it
    (llvm_emit.CTX_DIRTY), read without making an int of every register: 8
    registers 0.47 us, 2 0.3 us, all 64 0.96-1.7 us (on the loaded host).
    None for more than READBACK_MAX of them: all are read back, no slower."""
    r = _READBACK.get(dirty)
    if r is None:
        idx = [g for g in range(E.NREGS_MAX) if dirty >> g & 1]
        if len(idx) > READBACK_MAX:
            return None
        fmt, at = "<", 0
        for g in idx:
            fmt += f"{8 * (g - at)}xQ" if g > at else "Q"
            at = g + 1
        if len(_READBACK) > 4096:                  # (a bound: masks are per chain of TBs)
            _READBACK.clear()
        r = _READBACK[dirty] = (struct.Struct(fmt), tuple(idx))
    return r


class _Word:
    """A quick TB's countdown word as tiering.Hotness sees its cell."""
    __slots__ = ("words", "i")

    def __init__(self, words, i):
        self.words, self.i = words, i

    @property
    def cell_contents(self):
        return self.words[self.i]

    @cell_contents.setter
    def cell_contents(self, n):
        self.words[self.i] = n


class Native:
    """What Python keeps of one native TB."""
    __slots__ = ("state", "tb_id", "addr", "slot0", "nexits", "links", "lookup", "fns",
                 "exceptions", "tracker", "text", "pc", "pending", "counter", "fname", "imports",
                 "level", "hot", "promote", "entries", "main", "blob", "slow", "fault_pairs", "relocs",
                 "fp_env")


def anonymous(ctype, n):
    """A ctypes array of n ctype in fresh private anonymous memory: zero, and
    its pages committed only when touched (a ctypes array made as such is
    zeroed at once: ~0.5 ms a MiB).  Private: a forked child writing it (its
    chain slots, its countdown words) has copies of its own (mmap's default,
    MAP_SHARED, had a child's chains jump into code only it has).  (The array
    keeps the mapping alive.)"""
    size = max(ctypes.sizeof(ctype) * n, 1)
    return (ctype * n).from_buffer(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS))


class NativeState:
    """The native side of one TB cache (one engine): chain slots, jump cache,
    callback, helper table, live TBs.  `shared` False: a TB compiled outside an
    engine (tests), whose exits are never chained."""

    def __init__(self, mem, shared, chaining=False, cache=None):
        self.mem = mem
        self.cache = cache                       # the TB cache (its lock), when shared
        self.chaining = chaining                 # (-d nochain: no jump cache either)
        self.shared = shared
        nslots = SLOTS if shared else 1024     # (a private state's slots stay empty)
        self.slots = anonymous(ctypes.c_uint64, nslots)
        self.nslots = nslots
        self.next_slot = 0
        # quick TBs' countdown words (hot_word), as the slots
        nhot = HOT_WORDS if shared else 1024
        self.hot_words = anonymous(ctypes.c_int64, nhot)
        self.next_hot = 0
        self.free_hot = []
        self.hot_at = {}                         # a word's address -> its TB's Hotness
        jc_bits = JC_BITS if shared else 4
        self.jc_mask = (1 << jc_bits) - 1
        self.jc = anonymous(ctypes.c_uint64, 2 << jc_bits)
        self.jc[0] = 1                           # every entry (1, 0), empty: no guest pc is odd
        at, size, done = ctypes.addressof(self.jc), 16 << jc_bits, 16
        while done < size:                       # (doubling: no 1 MiB pattern made first)
            ctypes.memmove(at + done, at, min(done, size - done))
            done *= 2
        if mem is not None:
            self._perm = (ctypes.c_char * len(mem.perm)).from_buffer(mem.perm)
            perm, npages, base = ctypes.addressof(self._perm), len(mem.perm), mem.host_base
        else:
            self._perm = (ctypes.c_char * 1)()
            perm, npages, base = ctypes.addressof(self._perm), 0, 0
        self.helpers, self.helper_ids = [], {}
        self.fp_env = None                       # see prepare()
        self.natives = {}
        self.next_id = 0
        # freeing code: drop() counts an epoch; a thread in native code is in
        # `inside` (its ctx -> the epoch it entered at); a dead TB (dropped at
        # epoch e) is freed once every thread inside entered at e or later
        self.epoch = 0
        self.inside = {}
        self.dead = []                           # [(Native, epoch of its drop)]
        self.jc_tag = 0
        self.res_attr = None                     # the CPU attribute of the LR reservation (see _run)
        self.res_helpers = set()                 # helper ids whose callbacks see it (lr, sc)
        self.free = {}                           # n -> first slots of free runs of n slots
        self.memo = None if shared else {}       # IR text -> (tracker, address)
        self.runtime = None                      # (tracker, its symbols): see _runtime
        self.shim = None                         # the baseline code's callback shim (x64_emit.runtime_code)
        self.cb = _CB(self.callback)
        _STATES.add(self)
        # literals in the text; the run's addresses are symbols (see llvm_emit)
        self.consts = {"npages": npages, "jc_mask": self.jc_mask, "helper_id": self.helper}
        self.symbols = {E.SYM_MEM: base, E.SYM_PERM: perm, E.SYM_JC: ctypes.addressof(self.jc),
                        E.SYM_CB: ctypes.cast(self.cb, ctypes.c_void_p).value}

    def alloc_slots(self, n):
        """n consecutive chain slots: freed ones of that size first (see enter)."""
        free = self.free.get(n)
        if free:
            return free.pop()
        if self.next_slot + n > self.nslots:
            raise MemoryError(f"llvm: all {self.nslots} chain slots are in use")
        self.next_slot += n
        return self.next_slot - n

    def hot_word(self, hot):
        """A word for a quick TB's hotness countdown (a freed one first): its
        Hotness `hot` counts there from now on (tiering.Hotness.native).
        -> its address (the TB's SYM_TB_HOT)."""
        if self.free_hot:
            i = self.free_hot.pop()
        elif self.next_hot < len(self.hot_words):
            i = self.next_hot
            self.next_hot += 1
        else:
            raise MemoryError(f"llvm: all {len(self.hot_words)} hotness words are in use")
        hot.native(_Word(self.hot_words, i))
        addr = ctypes.addressof(self.hot_words) + 8 * i
        self.hot_at[addr] = hot
        return addr

    def helper(self, fn):
        i = self.helper_ids.get(fn)
        if i is None:
            i = self.helper_ids[fn] = len(self.helpers)
            self.helpers.append(fn)
            d = getattr(fn, "native_atomic", None)
            if d is not None and d.kind in ("lr", "sc"):
                self.res_helpers.add(i)
                self.res_attr = d.reservation
        return i

    # --- compile ----------------------------------------------------------------------
    def compile(self, block, ctx, level="full"):
        return self.finish(self.prepare(block, ctx, level))

    def prepare(self, block, ctx, level="full"):
        """The Python half of a compile at `level` (llvm_jit.LEVELS): the LLVM IR
        text, its id and chain slots, run in the thread that translated the
        block; finish() is the rest."""
        nexits = sum(1 for op in block.ops if op.name == "goto_tb")
        nat = self._native(block.pc, nexits, ctx, level)
        # (a region's other entries: a function each, sharing this TB's code and exits)
        nat.entries = [(pc, E.entry_name(nat.fname, k)) for k, (pc, _, _) in
                       enumerate(getattr(block, "entries", None) or (), 1)]
        if level == BASELINE:
            return self._baseline(nat, block, ctx)
        slow = nat.slow is not None and not getattr(block, "callbacks", False)
        unchecked = slow and self.fault_stores()         # (loads and stores: see fault_stores)
        em = E.Emitter(block, nat.fname, self.consts, ctx.counter is not None, level, hot=nat.hot is not None,
                       slow_exits=slow, fault_loads=unchecked, fault_stores=unchecked)
        nat.text = em.build()
        nat.exceptions = em.exceptions
        if em.fp is not None:
            self._uses_fp((em.fp.env.flags_attr, em.fp.env.rm_attr))
        if em.reservation is not None:
            self.res_attr = em.reservation
        nat.imports = dict(self.symbols, **em.imports)
        nat.imports[E.SYM_TB_ID] = nat.tb_id
        nat.imports[E.SYM_TB_SLOTS] = ctypes.addressof(self.slots) + 8 * nat.slot0
        if nat.hot is not None:
            nat.imports[E.SYM_TB_HOT] = self.hot_word(nat.hot)
        return nat

    def _native(self, pc, nexits, ctx, level):
        """A new TB's Native: its id, chain slots and what its code reaches."""
        if nexits > self.nslots:
            raise NotImplementedError(f"llvm: a TB with {nexits} exits")
        nat = Native()
        nat.state, nat.nexits = self, nexits
        # (outside an engine nothing is chained: every TB may use the same id and
        # slots, so the same block gives the same text, compiled once.  Under the
        # cache's lock: guest threads make baseline TBs at once, in their own
        # threads, and two with one id would share an entry of `natives`)
        if self.shared:
            with self.cache.lock:
                nat.tb_id, nat.slot0 = self.next_id, self.alloc_slots(nexits)
                self.next_id += 1
        else:
            nat.tb_id, nat.slot0 = 0, 0
            self.next_id += 1
        nat.links, nat.lookup, nat.fns, nat.pc = ctx.links, ctx.lookup, ctx.fns, pc
        nat.pending, nat.counter = ctx.pending, ctx.counter
        nat.level = level
        # (a tier that counts its hotness: in a word of its own, see hot_word)
        nat.hot, nat.promote = getattr(ctx, "hot", None), getattr(ctx, "promote", None)
        nat.fname = f"tb_{pc:x}"
        nat.main = nat.blob = nat.relocs = nat.fp_env = None
        nat.fault_pairs = ()
        # (an access that fails its check leaves the TB, to run alone in the
        # engine's interpreter (EXIT_SLOW), unless the engine asks for callbacks)
        nat.slow = getattr(ctx, "slow", None)
        return nat

    def fault_loads(self):
        """May LLVM code load guest memory with no check (llvm_emit's fault
        loads)?  When the guest memory has its guard ranges and no watched page
        (a watch must see every load: the engine drops native code when the
        first one comes, see gdbstub's target), the native fault handler
        installed (backends/faults.py)."""
        mem = self.mem
        if mem is None or mem.watch_pages or not mem.native_guards():
            return False
        faults.install()
        mem.unchecked_loads = True
        return True

    def fault_stores(self):
        """May native code store to guest memory with no check either (and
        load: what it answers holds for both)?  As fault_loads, with the guest memory's host pages then writable only
        where native code may store (runtime/memory.py's protect_writes: not
        where the guest may not write, nor where translated code lies): a
        store elsewhere faults on the host and goes on at its slow path, which
        raises the guest's fault or drops the code it hits (and the page's
        protection with it).  Other writes there (Python's, racing the
        marking of a page) are the fault handler's: see faults.protect_writes
        and `enter`, which drops the code of the pages it let them write."""
        if not self.fault_loads():
            return False
        mem = self.mem
        if not mem.protect_writes:
            if mem.native_written is None:
                mem.native_written = anonymous(ctypes.c_uint8, len(mem.perm))
                weakref.finalize(mem, faults.unprotect_writes, mem.native_written)
            faults.protect_writes(mem.host_base, mem.space, self._perm, mem.native_written)
            mem.protect_for_stores()
        return True

    def _written(self):
        """(enter) drop the code of the pages the fault handler made writable."""
        marks = self.mem.native_written if self.mem is not None else None
        if marks is not None:
            for pg in faults.written_pages(marks):
                self.mem.code_written(pg << 12, 1)

    def _run_values(self, nat):
        """The numbers of this run a TB's baseline code holds (x64asm Syms: relocs),
        by name; a helper's index by `helper:` and its name (tbstore.helper_name)."""
        nat.text = None
        nat.imports = {}
        hot = None
        if nat.hot is not None:
            with self.cache.lock if self.shared else contextlib.nullcontext():   # (as _native's ids)
                hot = nat.imports[E.SYM_TB_HOT] = self.hot_word(nat.hot)
        if self.shim is None:
            self.shim = x64_runtime.shim(self.symbols[E.SYM_CB])
        return {"perm": self.symbols[E.SYM_PERM], "jc": self.symbols[E.SYM_JC], "shim": self.shim.addr,
                "tb_id": nat.tb_id, "hot": hot, "slots": ctypes.addressof(self.slots) + 8 * nat.slot0}

    def _helper_sym(self, fn):
        return Sym(self.helper(fn), "helper:" + (tbstore.helper_name(fn) or "?"), small=True)

    def _baseline(self, nat, block, ctx):
        """prepare() at the baseline level: the machine code, by x64_emit."""
        v = self._run_values(nat)
        env = {"mem_base": self.symbols[E.SYM_MEM], "npages": self.consts["npages"], "jc_mask": self.jc_mask,
               "helper_id": self._helper_sym, "hot": None if v["hot"] is None else Sym(v["hot"], "hot")}
        env.update({k: Sym(v[k], k, small=k == "tb_id") for k in ("perm", "jc", "shim", "tb_id", "slots")})
        unchecked = self.fault_stores()
        em = x64_emit.Emitter(block, env, ctx.counter is not None, v["hot"] is not None, unchecked, unchecked)
        nat.blob, entries = em.build()
        nat.entries = entries                    # (pc, offset)
        nat.fault_pairs = em.fault_pairs
        nat.exceptions = em.exceptions
        nat.relocs = em.relocs
        if em.fp is not None:
            nat.fp_env = (em.fp.env.flags_attr, em.fp.env.rm_attr)
            self._uses_fp(nat.fp_env)
        return nat

    def _uses_fp(self, fp_env):
        if self.fp_env is None:                  # (the first code with F/D: llvm_fp's or x64_fp's)
            self.fp_env = fp_env
            _mirror_fp(self.fp_env)

    # --- baseline code kept from a run before (the engine's native TB store) ------------
    def kept(self, nat):
        """What a baseline TB's code is, for the store: (code, relocs, entries,
        fault_pairs, exceptions, fp_env, counting, hot, unchecked), or None (a
        helper with no name, another level)."""
        if nat.level != BASELINE or nat.relocs is None or any(r[2] == "helper:?" for r in nat.relocs):
            return None
        return (nat.blob, nat.relocs, nat.entries, nat.fault_pairs, nat.exceptions, nat.fp_env,
                nat.counter is not None, nat.hot is not None, self.fault_stores())

    def kept_variant(self):
        """(kept code's store) The numbers baseline code holds that are no
        relocations, the host features x64_emit uses, its sources."""
        return (f"mem={self.symbols[E.SYM_MEM]:x} pages={self.consts['npages']} jc={self.jc_mask} "
                f"cpu={','.join(sorted(hostcpu.flags()))} "
                f"{tbstore.fingerprint(KEPT_SOURCES)}")

    def prepare_kept(self, pc, nexits, kept, ctx):
        """prepare() of a baseline TB from what kept() gave in a run before: this
        run's numbers patched in.  None if it does not fit this run (counting,
        hotness or unchecked stores otherwise, a helper not found)."""
        blob, relocs, entries, fault_pairs, exceptions, fp_env, counting, hot, unchecked = kept
        if (counting, hot) != (ctx.counter is not None, getattr(ctx, "hot", None) is not None) or \
                unchecked != self.fault_stores():
            return None
        helpers = {}
        for _, _, name, _ in relocs:
            if name.startswith("helper:"):
                fn = tbstore.resolve(name[7:])
                if fn is None:
                    return None
                helpers[name] = fn
        nat = self._native(pc, nexits, ctx, BASELINE)
        v = self._run_values(nat)
        for name, fn in helpers.items():
            v[name] = self.helper(fn)
        nat.blob = bytes(x64asm.patch(bytearray(blob), relocs, v.__getitem__))
        nat.relocs = relocs
        nat.entries, nat.fault_pairs, nat.exceptions = [tuple(e) for e in entries], fault_pairs, exceptions
        if fp_env is not None:
            nat.fp_env = tuple(fp_env)
            self._uses_fp(nat.fp_env)
        return nat

    def _runtime(self):
        """This state's shared module (llvm_emit.runtime_text: the callback
        every LLVM TB calls), linked on the first LLVM finish, -> its symbols;
        its object is made once per process (_runtime_object)."""
        rt = self.runtime
        if rt is None:
            with _RUNTIME_LOCK:
                rt = self.runtime
                if rt is None:
                    tracker, _ = llvm_jit.link(_runtime_object(), E.SYM_CALLBACK, {E.SYM_CB: self.symbols[E.SYM_CB]},
                                               exports=(E.SYM_CALLBACK_C,))
                    syms = {sym: tracker[sym] for sym in (E.SYM_CALLBACK, E.SYM_CALLBACK_C)}
                    rt = self.runtime = (tracker, syms)
        return rt[1]

    def finish(self, nat):
        """The LLVM half: the object from the disk cache or code generation
        (LLVM runs without the GIL, so this may run in a compile thread), linked
        with this TB's symbols, and the TB's function."""
        if nat.level == BASELINE:
            nat.tracker = ARENA.place(nat.blob)
            nat.addr = nat.tracker.addr
            faults.add_for(nat.tracker, nat.addr, nat.fault_pairs)
            if llvm_cache.perfmap_on():
                llvm_cache.perfmap_add(nat.addr, len(nat.blob), nat.pc, nat.fname)
            return self._finished(nat)
        nat.imports.update(self._runtime())
        key = (nat.text, nat.level, nat.imports.get(E.SYM_TB_HOT))     # (a counting TB's word is its own)
        known = self.memo.get(key) if self.memo is not None else None
        if known is None:
            known = llvm_jit.compile(nat.text, nat.fname, nat.imports, nat.pc, level=nat.level,
                                     exports=[sym for _, sym in nat.entries])
            if self.memo is not None:
                if len(self.memo) > 2048:
                    self.memo.clear()
                self.memo[key] = known
        nat.tracker, nat.addr = known
        return self._finished(nat)

    def _finished(self, nat):
        mem = self.mem
        if mem is not None and getattr(mem, "native_atomics", False) is None:
            # (before native code can run: from now on the Python tiers' atomics
            # are host atomics too; see frontends/riscv64/trans_rva.py)
            mem.native_atomics = x64_runtime.HostAtomics.get()
        if self.shared:
            self.natives[nat.tb_id] = nat
            for k in range(nat.nexits):
                self.slots[nat.slot0 + k] = 0
        STATS.bump("native_tbs")
        fn = self.wrapper(nat)
        fn.entry_fns = [self.wrapper(self._entry(nat, pc, nat.tracker[sym])) for pc, sym in nat.entries]
        return fn

    @staticmethod
    def _entry(nat, pc, addr):
        """The Native of one of a region's other entries: its code's address and
        pc, the rest (id, exits, slots) the region's own."""
        view = Native()
        for k in Native.__slots__:
            setattr(view, k, getattr(nat, k))
        view.pc, view.addr, view.main, view.entries = pc, addr, nat, []
        return view

    def wrapper(self, nat):
        entry = x64_runtime.enter()[1]             # (C's entry into any tier's code: no llvmlite)
        enter = self.enter

        def native_tb(cpu):
            return enter(cpu, entry, nat)
        native_tb.native = nat
        native_tb.native_addr = nat.addr
        return native_tb

    # --- run --------------------------------------------------------------------------
    def enter(self, cpu, entry, nat):
        nc = _ctx(cpu)
        if self.dead:
            self._reclaim()
        if faults.WRITES[4]:
            self._written()
        # (inside before the test: a TB dropped after it, by another thread, is
        # then freed only once this entry returns)
        inside = self.inside
        prev = inside.get(nc)                  # (an entry from a callback: keep the outer one's)
        inside[nc] = self.epoch
        try:
            if self.shared and nat.tb_id not in self.natives:
                return nat.lookup(nat.pc)          # dropped since its function was handed out
            return self._run(cpu, nc, entry, nat)
        finally:
            if prev is None:
                del inside[nc]
            else:
                inside[nc] = prev

    def _reclaim(self):
        """Free the code and slots of the dead TBs no thread can be in: dropped
        before every thread now in native code entered (the lock: not while
        another thread drops)."""
        with self.cache.lock:
            low = min(list(self.inside.values()), default=None)
            keep = []
            for d, e in self.dead:
                if low is None or e <= low:
                    self.free.setdefault(d.nexits, []).append(d.slot0)
                    word = d.imports.get(E.SYM_TB_HOT)
                    if word is not None and self.hot_at.pop(word, None) is not None:
                        self.free_hot.append((word - ctypes.addressof(self.hot_words)) // 8)
                else:
                    keep.append((d, e))
            self.dead[:] = keep

    def _run(self, cpu, nc, entry, nat):
        w = nc.words
        regs = cpu.regs
        n = len(regs)
        s = _struct(n)
        s.pack_into(w, 0, *regs)
        ra = self.res_attr
        if ra is not None:
            r = getattr(cpu, ra)
            if r is None:
                w[E.CTX_RES + 1] = 0
            else:
                w[E.CTX_RES], w[E.CTX_RES + 1], w[E.CTX_RES + 2] = r
        fp = self.fp_env
        if fp is not None and nc.fp is None and not hasattr(cpu, fp[0]):
            fp = None                              # (a CPU without FP state, as in _mirror_fp)
        nc.fp = fp
        if fp is not None:
            w[E.CTX_FFLAGS] = getattr(cpu, fp[0])
            w[E.CTX_FRM] = getattr(cpu, fp[1])
        budget = 0 if nat.pending else BUDGET
        w[E.CTX_BUDGET] = budget
        w[E.CTX_STATUS] = 0
        w[E.CTX_ICOUNT] = 0
        w[E.CTX_DIRTY] = 0
        code = entry(nc.addr, nat.addr)            # (without the GIL: other threads run meanwhile)
        if self.shared:
            nat = self.natives.get(w[E.CTX_EXIT_ID]) or self._dead_native(w[E.CTX_EXIT_ID])
        dirty = w[E.CTX_DIRTY]
        if dirty:                                  # (the registers native code wrote back)
            some = _readback(dirty)
            if some is None:
                regs[:] = s.unpack_from(w, 0)
            else:
                rs, idx = some
                for g, v in zip(idx, rs.unpack_from(w, 0)):
                    regs[g] = v
        ra = self.res_attr                         # (set meanwhile by a compile, maybe)
        if ra is not None:
            size = w[E.CTX_RES + 1]
            setattr(cpu, ra, (w[E.CTX_RES], size, w[E.CTX_RES + 2]) if size else None)
        fp = nc.fp                                 # (_mirror_fp may have set it meanwhile)
        if fp is not None:
            setattr(cpu, fp[0], w[E.CTX_FFLAGS])
        left = w[E.CTX_BUDGET]
        extra = STATS.extra
        extra["native_transitions"] = extra.get("native_transitions", 0) + 1
        if left != budget:
            extra["native_chain_hits"] = extra.get("native_chain_hits", 0) + \
                budget - (left if left < 1 << 63 else 0)
        if nat.counter is not None:
            ic = w[E.CTX_ICOUNT]
            ic = ic - (1 << 64) if ic >> 63 else ic
            nat.counter[0] += ic
            extra["native_guest_insns"] = extra.get("native_guest_insns", 0) + ic
        arg = w[E.CTX_EXIT_ARG]
        if code == E.EXIT_GOTO:
            return nat.links[arg]
        if code == E.EXIT_PTR:
            fn = nat.fns.get(arg) or nat.lookup(arg)
            if self.chaining and getattr(fn, "native_addr", None) is not None and \
                    getattr(fn, "native", None) is not None and fn.native.state is self:
                # (under the TB cache's lock, which drop() holds: a TB replaced
                # between the lookup and the fill would leave the jump cache
                # leading into code about to be freed)
                with self.cache.lock:
                    if fn.native.tb_id in self.natives and not arg >> E.JC_TAG_SHIFT:
                        # (native code of other threads reads the entry meanwhile:
                        # emptied, then the code, then the pc with a new tag)
                        i = (arg >> 1) & self.jc_mask
                        jc = self.jc
                        self.jc_tag = tag = (self.jc_tag + 1) % JC_TAGS
                        jc[2 * i] = 1
                        jc[2 * i + 1] = fn.native_addr
                        jc[2 * i] = arg | tag << E.JC_TAG_SHIFT
                        extra["native_jc_fills"] = extra.get("native_jc_fills", 0) + 1
            return fn
        if code == E.EXIT_LOOP:
            return nat.lookup(arg)
        if code == E.EXIT_EXC:
            kind, pc, next_pc = nat.exceptions[arg]
            try:
                raise_exception(kind, pc, next_pc)
            except GuestFault as e:            # (an illegal instruction: as the interpreter)
                if e.pc is None:
                    e.pc = pc
                cpu.pc = e.pc
                raise
        if code == E.EXIT_SLOW:
            extra["native_slow_exits"] = extra.get("native_slow_exits", 0) + 1
            cpu.pc = arg
            return nat.slow(nat, arg)
        if code == E.EXIT_FAULT:
            e, nc.error = nc.error, None
            if isinstance(e, GuestFault):
                if e.pc is None:
                    e.pc = arg
                cpu.pc = e.pc
            raise e
        raise RuntimeError(f"llvm: unknown native exit {code}")

    def _dead_native(self, tb_id):
        for nat, _ in list(self.dead):
            if nat.tb_id == tb_id:
                return nat
        raise RuntimeError(f"llvm: native exit from unknown TB {tb_id}")

    def callback(self, ctx, kind, a, b, c):
        nc = _CTXS[ctx]
        extra = STATS.extra
        key = _CB_STAT[kind]
        extra[key] = extra.get(key, 0) + 1
        try:
            if kind == E.CB_LOAD:
                r = self.mem.load(a, b & 15, bool(b >> 4)) & M64
            elif kind == E.CB_HOT:
                # (a quick TB's countdown ran out: refilled, the engine asked;
                # the code goes on, whatever the answer: a TB replaced meanwhile
                # leaves at its next exit or when its budget runs out)
                hot = self.hot_at.get(a)
                if hot is not None:
                    hot.expired()
                else:                              # (its TB freed: never again)
                    ctypes.c_int64.from_address(a).value = 1 << 62
                r = 0
            elif kind == E.CB_STORE:
                self.mem.store(a, b, c)
                r = 0
            elif a in self.res_helpers:
                r = self._res_helper(nc, a, b)
            else:
                w, fp = nc.words, nc.fp
                if fp is None:
                    r = self.helpers[a](nc.cpu, *w[E.CTX_ARGS:E.CTX_ARGS + b])
                else:
                    cpu = nc.cpu
                    setattr(cpu, fp[0], w[E.CTX_FFLAGS])
                    r = self.helpers[a](cpu, *w[E.CTX_ARGS:E.CTX_ARGS + b])
                    w[E.CTX_FFLAGS] = getattr(cpu, fp[0])
                    w[E.CTX_FRM] = getattr(cpu, fp[1])
                r = 0 if r is None else r & M64
            return r
        except BaseException as e:                    # (KeyboardInterrupt too: raised on exit)
            nc.error = e
            nc.words[E.CTX_STATUS] = 1
            return 0

    def _res_helper(self, nc, a, b):
        """The checked path of a native LR/SC: the helper sees the reservation
        native code keeps in ctx words (CTX_RES), and leaves its own there."""
        w, cpu, ra = nc.words, nc.cpu, self.res_attr
        size = w[E.CTX_RES + 1]
        setattr(cpu, ra, (w[E.CTX_RES], size, w[E.CTX_RES + 2]) if size else None)
        try:
            return self.helpers[a](cpu, *w[E.CTX_ARGS:E.CTX_ARGS + b]) & M64
        finally:
            r = getattr(cpu, ra)
            if r is None:
                w[E.CTX_RES + 1] = 0
            else:
                w[E.CTX_RES], w[E.CTX_RES + 1], w[E.CTX_RES + 2] = r

    # --- the TB cache's hooks ------------------------------------------------------------
    def patch(self, src, k):
        """src.links[k] changed: its native slot follows (the successor's code if
        it is native code of this state, else empty: exit to Python)."""
        nat = getattr(src.fn, "native", None)
        if nat is None or nat.state is not self or k >= nat.nexits or nat.tb_id not in self.natives:
            return                                 # (a dropped TB's slots may be another's now)
        dst = src.links[k]
        dn = getattr(dst, "native", None)
        addr = dn.addr if dn is not None and dn.state is self and dn.tb_id in self.natives else 0
        self.slots[nat.slot0 + k] = addr
        if addr:
            STATS.bump("native_chains_patched")

    def drop(self, tb):
        """tb is invalidated: nothing native leads into it any more; its code is
        freed once no thread can be in it (see _reclaim).  (Called under the TB cache's
        lock, maybe in the compile thread while the guest's runs native code:
        at every step an exit from tb finds it, in `dead` or `natives`.)"""
        nat = getattr(tb.fn, "native", None)
        if nat is None or nat.state is not self:
            return
        if nat.main is not None:                   # (one of a region's other entries: the
            self._jc_forget(nat)                   # code goes with the region's own TB)
            return
        if nat.tb_id not in self.natives:
            return
        self.dead.append((nat, self.epoch + 1))
        del self.natives[nat.tb_id]
        for k in range(nat.nexits):
            self.slots[nat.slot0 + k] = 0
        self._jc_forget(nat)
        self.epoch += 1                            # (after the unlinking: see enter)
        STATS.bump("native_dropped")

    def _jc_forget(self, nat):
        """The jump cache no longer leads to nat's code."""
        i = (nat.pc >> 1) & self.jc_mask
        if self.jc[2 * i + 1] == nat.addr:
            self.jc[2 * i] = 1


def _after_fork_in_child():
    """Only the forking thread lives on, outside native code (fork is a syscall):
    no other thread is in native code any more, whatever `inside` says."""
    for st in list(_STATES):
        st.inside.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

_NO_MEM = []
_RUNTIME_LOCK = threading.Lock()
_RUNTIME_OBJ = []


def _runtime_object():
    """The object of llvm_emit.runtime_text, made once per process (from the disk
    cache, as any module: -stats counts it with NativeAtomics and the TBs)."""
    if not _RUNTIME_OBJ:
        _RUNTIME_OBJ.append(llvm_jit.cached_object(E.runtime_text(), E.SYM_CALLBACK, RUNTIME_LEVEL)[0])
    return _RUNTIME_OBJ[0]


def _state(ctx):
    cache = getattr(ctx, "cache", None)
    if cache is None:
        # a TB outside an engine: one private state per guest memory, living as
        # long as the memory does (an attribute of it, so the two go together)
        if ctx.mem is None:
            if not _NO_MEM:
                _NO_MEM.append(NativeState(None, shared=False))
            return _NO_MEM[0]
        st = getattr(ctx.mem, "_pydbt_native_private", None)
        if st is None:
            st = ctx.mem._pydbt_native_private = NativeState(ctx.mem, shared=False)
        return st
    st = getattr(cache, "native", None)
    if st is None:
        st = cache.native = NativeState(ctx.mem, shared=True, chaining=cache.chaining, cache=cache)
    return st


def compile(block, ctx):
    return _state(ctx).compile(block, ctx)


def prepare(block, ctx):
    """compile(), in two halves: prepare (Python, under the GIL) then finish."""
    return _state(ctx).prepare(block, ctx)


def finish(job):
    return job.state.finish(job)


def disassemble(fn):
    """-d out_asm: the host code of a TB (its module compiled again to assembly)."""
    return llvm_jit.assembly(fn.native.text, fn.native.level)
