"""The exec loop: a trampoline over TB functions, and the runtime's exits.

Each compiled TB is `fn(cpu) -> next_fn` (see tb.py), so running guest code is
`while not pending: fn = fn(cpu)`: chained TBs return each other's functions, an
unchained exit returns a stub that translates or finds the successor and links
it.  Translated code leaves the trampoline only by raising: `Syscall` goes to the
runtime's dispatcher, `GuestFault` to signal delivery, `Breakpoint` becomes
SIGTRAP; or when a host signal queued a guest signal (`pending`), which is
delivered between two TBs.  Architecture-neutral: the frontend object supplies
translation and the syscall ABI.

Cold runs (`_cold`): under a tiered backend a block's first run makes no TB:
the frontend lifts each instruction into a builder that runs it at once
(arch.run, builder.Running), and the block's second run makes the TB.

Tiers (Engine): a TB is made by the cheapest backend first and made again by
the next one when it gets hot (-backend auto: interpreter, baseline native
code, LLVM's optimized native code), the new TB replacing
the old one in the cache (its incoming links follow); native code is
finished in the compile thread (compiler.py) while the old TB runs on.
When a TB is hot, and when native code is worth its compile, is tiering.py's.
Superblocks after the first tier follow the paths that tier ran (Profile);
a last-tier region whose exit leads to a new region it should have held is
made once more from the profile as it is then (re-forming, _reform_into).
A native region is formed from the answers a run before gave at its pc when
the code cache holds its record (regionlog.py: the same text, so its object
loads from disk), and a hot block whose recorded region's object is there
goes straight to that object's tier, without the warm-up and payback rule
(`_warm_tier`).  The interpreter's blocks and the baseline's regions are kept
in the code cache's TB store (tbstore.py): a block some process of the
program made before loads (`_stored_tb`), and a process that forks again (a
shell) makes TBs of the whole first-tier store for its children (`before_fork`).

Debugging (`debug`, the gdbstub's server, or None) has one insertion point for
every ISA and backend, here: a block that would contain a breakpoint address is
cut before it (`_cut_at_breakpoints`), and a block starting at one only raises
`Breakpoint` there; a task being single-stepped runs one-instruction TBs that
are cached under the STEP flag (tb.py) and never chained (`run_one`).  A
watched access raises `Watchpoint` before it happens (runtime/memory.py): the
stop is reported there when the guest's gdb target steps over watched accesses
itself, else after the instruction, run again alone with the task's watch
checks off (`_past_watch`).  Syscalls run with the checks off.
"""
import contextlib
import signal
import sys
import threading
import time
from errno import EINTR

from .errors import Syscall, GuestFault, Breakpoint, Watchpoint, TRAP_BRKPT, TaskExit
from .exclusive import MARKER
from .ir import Block, format_block, verify
from .builder import Builder
from .compiler import Compiler
from .passes import optimize
from .stats import STATS
from .tb import TB, TBCache, TBContext, STEP
from .tiering import COLD_FRACTION, COPY_MAX, Hotness, NativePolicy, Profile
from .regionlog import RegionLog
from . import tbstore


PREFETCH_FORK = 2     # the fork before which a process makes TBs of its whole TB store (before_fork)
PREFETCH_MAX = 16384  # (at most this many)
SHARED_STORES = 6      # files at a place of their own with TB stores of their own (_store), per tier
SLOW_MAX = 64          # slow exits of a native region before it is made with callbacks (_slow_exit)


class _Stop:
    """Where a single-stepped TB goes next: nowhere, it only says the pc."""
    __slots__ = ("guest_pc",)

    def __init__(self, pc):
        self.guest_pc = pc


class Engine:
    """tiers: backends from the cheapest to compile to the fastest code;
    thresholds[i]: how hot a TB gets on tiers[i] before tiers[i + 1] compiles it
    (a threshold of 0 skips its tier).  A TB starts on the first tier; the last
    one's code stays.  On a tier that counts its own hotness (`counts_hotness`:
    the bytecode JIT counts the guest instructions it runs in its code) the TB calls
    `promote` once it is hot (quick native code counts in a word per TB, see
    backends/llvm_quick.py); on another (the interpreter) a
    wrapper counts runs.
    A tier that compiles in two halves (`prepare`, `finish`: the native one) has
    the second half done by the compile thread (compiler.py) unless
    `sync_compile`; the TB runs on in its tier until the new code replaces it.
    Promotions from a counting tier to native code ask `policy` (tiering.py's
    NativePolicy: the warm-up `native_warmup`, the payback rule and
    `compile_share`); one refused asks again later, running on meanwhile."""

    def __init__(self, proc, tiers, thresholds=(), chaining=True, max_insns=512, verify_ir=False,
                 disabled_passes=(), count=False, sync_compile=False, native_warmup=0.0,
                 compile_share=None, cold_runs=True):
        self.proc = proc
        self.arch = proc.arch
        self.mem = proc.mem
        if any(getattr(b, "access_table", False) for b in tiers):
            self.mem.access_table()                  # (made before any guest thread runs)
        self.log = proc.log
        kept = [(b, t) for b, t in zip(tiers[:-1], thresholds) if t > 0 and b is not tiers[-1]]
        self.tiers = [b for b, _ in kept] + [tiers[-1]]
        self.thresholds = [t for _, t in kept]
        self.backend = self.tiers[-1]
        # (asked per TB made: a getattr that misses costs an exception, ~1 us)
        self._counting_tiers = [getattr(b, "counts_hotness", False) for b in self.tiers]
        from pydbt.backends import makes_native
        self._native_tiers = [makes_native(b) for b in self.tiers]
        self.compiler = None if sync_compile else Compiler()
        self.native_loaded = False                   # (_load_native)
        self.policy = NativePolicy(native_warmup, compile_share)   # (tiering.py)
        self.cache = TBCache(proc.mem, chaining=chaining and not proc.log.on("nochain"))
        self.max_insns = max_insns
        self.verify_ir = verify_ir
        self.disabled_passes = disabled_passes
        self.log_opt = proc.log.on("op_opt")
        self.slow = any(proc.log.on(i) for i in ("exec", "cpu"))
        self.counter = [0] if count else None        # [guest instructions executed]
        self.debug = None                            # the gdbstub's server, when attached
        self.region_pcs = {}                         # last tier: region pc -> the pcs of its code
        self.multi_entry = True                      # last-tier regions entered at other pcs too
        self.indirect = set()                        # pcs first reached by an indirect jump (lookup)
        self.reformed = set()                        # pcs whose region was re-formed (once each)
        self._rlog = (None, None)                    # (executable, its RegionLog or None)
        self._tbs = (None, {})                       # (executable, {tier: its TBStore or None})
        self.forks = 0                               # (before_fork)
        # (the tiers above the first whose code the TB store keeps, highest first)
        self._kept_tiers = [t for t in range(len(self.tiers) - 1, 0, -1) if getattr(self.tiers[t], "keeps", False)]
        self.slow_exits = {}                         # native region pc -> its slow exits (_slow_exit)
        self.callback_pcs = set()                    # region pcs made again with callbacks
        # the pcs of the blocks run cold (_cold), or None when there are none:
        # the first tier has no other, or TBs are asked to be seen
        shown = ("in_asm", "op", "op_opt", "out_asm", "exec", "cpu")
        self.cold = set() if cold_runs and len(self.tiers) > 1 and getattr(self.tiers[0], "cold_runs", False) \
            and hasattr(self.arch, "run") and not verify_ir and not any(proc.log.on(i) for i in shown) else None
        self._run_cold = self.arch.run if self.cold is not None else None

    # --- translation -------------------------------------------------------------
    def translate(self, pc):
        """A new TB for pc, on the first tier; or on a native tier whose store
        has a region a run before made at pc (code hot then: it starts native,
        not after another warm-up on the first tier).  Those stores are
        looked at once the program is known to have run before (its first
        tier's store had records when opened): a first run, or a program in
        which nothing gets hot, does not load the native tier for them."""
        first = self._store(0, pc)
        if first is not None and first.found:
            for tier in self._kept_tiers:
                store = self._store(tier, pc)
                if store is not None and store.has(pc):
                    tb = self._stored_tb(store, pc, tier, time.perf_counter())
                    if tb is not None:
                        return tb
        return self._make_tb(pc, 0)

    def _block(self, pc, tier):
        """The IR block of a TB at pc for tiers[tier], and its TB (no code yet)."""
        log = self.log
        backend = self.tiers[tier]
        t0 = time.perf_counter()
        native = self._native(tier)
        # a superblock made after the first tier follows the paths that tier ran
        # (an optimizing tier's, made from a tier above the first: the paths
        # the first tier ran often; tiering.COLD_FRACTION)
        runs = (self.thresholds[0], round(self.thresholds[0] * COLD_FRACTION)) if tier >= 2 else None
        profile = Profile(self.cache, tier, native, pc, runs, self.cold) if tier > 0 else None
        regions = tier > 0 and getattr(backend, "entries", False) and self.multi_entry
        if regions and profile is not None:
            profile.entries = self._enterable(pc, tier)
        rlog = self._regions() if profile is not None and getattr(backend, "on_disk", False) else None
        if rlog is not None:                         # (the shape a run before made here: regionlog.py)
            profile = rlog.replay(backend.name, pc, profile)
        superblock = getattr(backend, "superblocks", False)
        block = self.arch.translate(self.mem, pc, self.max_insns, superblock=superblock, profile=profile)
        if self.debug is not None and self.debug.target.breakpoints:
            block = self._cut_at_breakpoints(block, pc, superblock, profile)
        logged = log.in_filter(pc)
        if logged and log.on("in_asm"):
            self._log_in_asm(block)
        if logged and log.on("op"):
            log.write(f"OP:\n{format_block(block, self.arch.global_names)}\n")
        if tier > 0 or len(self.tiers) == 1 or self.log_opt:
            # (a first-tier block runs a few times, most of them once or twice:
            # optimizing it costs more than it saves, unless -d op_opt asks to see it)
            if self.verify_ir:
                verify(block)
            optimize(block, self.disabled_passes, native=native)
        if self.verify_ir:
            verify(block)
        if logged and self.log_opt:
            log.write(f"OP after optimization:\n{format_block(block, self.arch.global_names)}\n")
        block.replay = profile if rlog is not None else None
        block.callbacks = pc in self.callback_pcs      # (see _slow_exit)
        targets = [op.consts[0] for op in block.ops if op.name == "goto_tb"]
        tb = self._new_tb(pc, block.size, block.ninsns, block.pages, targets, tier)
        self._region(tb, block, getattr(block, "entries", None) if regions else None)
        STATS.translate_time += time.perf_counter() - t0
        return block, tb

    def _new_tb(self, pc, size, ninsns, pages, targets, tier):
        tb = TB(pc, size, ninsns, pages, targets, tier=tier)
        tb.stubs = [self._stub(tb, k, t) for k, t in enumerate(targets)]
        tb.links = list(tb.stubs)
        return tb

    def _region(self, tb, block, entries):
        """tb's region (its other entries' TBs: (pc, label, instructions
        before) each) and, on the last tier, its pcs; block: its size,
        instructions, pages (an IR block, or a stored record)."""
        if entries:
            tb.region = [tb]
            for q, _, before in entries:
                e = TB(q, block.size - (q - tb.pc), block.ninsns - before, block.pages, [], tier=tb.tier)
                e.region = tb.region
                tb.region.append(e)
        if tb.tier > 0 and tb.tier == len(self.tiers) - 1:
            self.region_pcs[tb.pc] = frozenset(a for a, _ in block.insns)

    def _make_tb(self, pc, tier):
        t0 = time.perf_counter()
        store = self._store(tier, pc)
        if store is not None:
            tb = self._stored_tb(store, pc, tier, t0)
            if tb is not None:
                return tb
        block, tb = self._block(pc, tier)
        fn = self._compile(self.tiers[tier], tb, block, store)
        self._finish_tb(tb, fn, t0)
        if not self._decoded(block):
            self.cache.invalidate(tb)
        return tb

    def _finish_tb(self, tb, fn, t0):
        """tb's code made (from a block, or a stored record): counted, cached."""
        tier = tb.tier
        STATS.compile_each.setdefault(self.tiers[tier].name, []).append(time.perf_counter() - t0)
        if tier < len(self.thresholds) and not self._counts_itself(tier):
            fn = self._counting(tb, fn)
        tb.fn = fn
        with self.cache.lock:
            self.cache.add(tb)
            self._install_entries(tb)

    def _decoded(self, block):
        """Are the instructions the frontend decoded for block still there, now
        that their pages are marked as code (cache.index)?  A write landing
        between the decoding and the marking invalidated nothing (another
        thread's, or one whose store raced its page's marking); the TB made from
        the old bytes then goes (it may run once: as if the write came after)."""
        words = getattr(block, "words", None)
        if words is None or self.mem.holds(block.pages, block.insns, words):
            return True
        STATS.bump("tbs_stale")
        return False

    # --- regions with other entries -----------------------------------------------------
    # A native region (of a backend that has `entries`) is also entered where
    # code was entered before (a TB stands there: a loop head native code left
    # at, a return point, a jump table's case, a side exit's target), when that
    # pc is in it at its first lift (translate.py: block.entries).  Each such
    # pc gets a TB of its own sharing the region's code (TB.region), which
    # replaces the TB there: so a function entered at five pcs is compiled
    # once, not as five regions each holding most of it (quicksort: its
    # recursion's return points and partition loops).

    def _enterable(self, pc, tier):
        """-> entries(q, inside): is q (in the region being made at `pc`, whose
        pcs are `inside`) one to enter it at too: code was entered there from
        outside it (an indirect jump's target: a return point, a jump table's
        case; or a TB outside it past the first tier jumps there), and what stands there may give
        way (a TB of a lower tier, or another entry of a region of this tier;
        not a region's own start: that one stays)."""
        by_pc, indirect, cold = self.cache.by_pc, self.indirect, self.cold or ()

        def entries(q, inside):
            tb = by_pc.get(q)
            if tb is None:
                return q in cold and q in indirect   # (run once, cold: no TB there)
            if not tb.valid or not (tb.tier < tier or tb.region is not None
                                                   and tb.region[0] is not tb):
                return False
            # (a jump from a TB of the first tier is code that ran a few times
            # only: intloop's loop entered once from the code before it, at the
            # other arm of a branch LLVM makes a select of; an entry there made
            # it a branch again, +15% CPU)
            return q in indirect or any(src.tier and src.pc not in inside for src, _ in tb.incoming)
        return entries

    def _install_entries(self, tb):
        """(under the cache lock; tb published) tb's region's other entries take
        the place of what stands at their pcs."""
        if tb.region is None or not tb.valid:
            return
        entry_fns = getattr(tb.fn, "entry_fns", ())
        for e, fn in zip(tb.region[1:], entry_fns):
            fn.guest_pc = e.pc
            e.fn = fn
            cur = self.cache.by_pc.get(e.pc)
            self.cache.index(e)
            self.cache.publish(e)
            if cur is not None and cur.valid and cur is not e:
                self.cache.replace(cur, e)

    def _cut_at_breakpoints(self, block, pc, superblock, profile):
        """The block without breakpoint addresses: translation stops before the
        first one (instructions are lifted in the same order with a smaller
        limit), and a block at a breakpoint only raises Breakpoint."""
        bps = self.debug.target.breakpoints
        addrs = [a for a, _ in block.insns]
        if not any(a in bps for a in addrs):
            return block
        k = next(i for i, a in enumerate(addrs) if a in bps)
        if k > 0:
            cut = self.arch.translate(self.mem, pc, k, superblock=superblock, profile=profile)
            if not any(a in bps for a, _ in cut.insns):
                return cut
            cut = self.arch.translate(self.mem, pc, 1, superblock=False, profile=None)
            if not any(a in bps for a, _ in cut.insns):
                return cut
        stop = Block(pc)
        b = Builder(stop)
        b.insn_start(pc)
        b.exception("breakpoint", pc, pc, 0)
        stop.insns, stop.pages, stop.size = [], [pc >> 12], 1
        return stop

    def run_one(self, cpu):
        """Single-step: one instruction in a TB of its own (flag STEP), never chained:
        each exit only says where the next instruction is."""
        tb = self.cache.get(cpu.pc, STEP)
        if tb is None:
            block = self.arch.translate(self.mem, cpu.pc, 1, superblock=False, profile=None)
            from pydbt.backends import get_backend
            backend = get_backend("interp")           # (never loops inside a TB)
            targets = [op.consts[0] for op in block.ops if op.name == "goto_tb"]
            tb = TB(cpu.pc, block.size, block.ninsns, block.pages, targets, flags=STEP)
            tb.links = tb.stubs = [_Stop(t) for t in targets]
            tb.fn = backend.compile(block, TBContext(self.mem, tb.links, _Stop, {}, self.counter, []))
            self.cache.add(tb)
        cpu.pc = tb.fn(cpu).guest_pc

    def _slow_exit(self, nat, pc):
        """Native code (the region at nat.pc) left before the access at pc, whose
        inline check failed (a page crossing, a misaligned access, a watched page,
        a store into a page of code, a fault): -> the function that runs that
        instruction alone on the interpreter (GuestMemory: exact) and goes on.
        Native code then holds no call and no merge per access, only a branch
        to a shared exit (LLVM's compile -21%, median module 9.4 -> 7.4 ms).  A
        region that leaves so SLOW_MAX times (a loop storing into a page of
        code would at every turn: ~20 us each) is made again calling back
        instead (llvm_emit's callback, ~1 us each)."""
        n = self.slow_exits[nat.pc] = self.slow_exits.get(nat.pc, 0) + 1
        if n >= SLOW_MAX and nat.pc not in self.callback_pcs:
            self.callback_pcs.add(nat.pc)
            tb = self.cache.by_pc.get(nat.pc)
            if tb is not None and getattr(tb.fn, "native", None) is nat:
                self.cache.invalidate(tb)
            STATS.bump("regions_callbacks")

        def step(cpu):
            cpu.pc = pc
            self.run_one(cpu)
            # (not lookup(): the pc after the access is no indirect jump's target,
            # which would make it an entry of the next region formed around it)
            return self.cache.fns.get(cpu.pc) or self.translate(cpu.pc).fn
        return step

    def _past_watch(self, task, hit):
        """A watched access, the state before its instruction.  Where gdb wants the
        stop before the access (`debug.watch_before`: it steps over the
        instruction itself) it is reported now; else the instruction runs alone
        with this thread's watch checks off and gdb hears of the stop after it.
        True if gdb heard of it."""
        debug = self.debug
        if debug is not None and debug.watch_before and debug.watch_hit(task, hit.kind, hit.addr):
            return True
        quiet, me = self.mem.watch_off, threading.get_ident()
        quiet.add(me)
        try:
            self.run_one(task.cpu)
        except GuestFault as e:                 # (the access faults after all: the fault only)
            task.cpu.pc = e.pc if e.pc is not None else task.cpu.pc
            self.proc.signals.fault(task.cpu, e)
            return False
        finally:
            quiet.discard(me)
        return debug is not None and not debug.watch_before and debug.watch_hit(task, hit.kind, hit.addr)

    def _counts_itself(self, tier):
        return self._counting_tiers[tier]

    def _native(self, tier):
        """Does tiers[tier] make native code?  (Without importing a lazy one.)"""
        return self._native_tiers[tier]

    def _prepare(self, backend, block, tb):
        """The Python half of a two-half compile (ids and slots of the native
        state: under the cache lock)."""
        with self.cache.lock:
            return backend.prepare(block, self._context(tb))

    def _context(self, tb):
        ctx = TBContext(self.mem, tb.links, self.lookup, self.cache.fns, self.counter,
                        self.proc.signals.pending, self.cache)
        ctx.slow = self._slow_exit
        if tb.tier < len(self.thresholds) and self._counts_itself(tb.tier):
            ctx.hot = Hotness(self.thresholds[tb.tier])
            ctx.promote = self._hot(tb, ctx.hot)
        return ctx

    def _compile(self, backend, tb, block, store=None):
        t1 = time.perf_counter()
        if hasattr(backend, "prepare"):
            job = self._prepare(backend, block, tb)
            fn = backend.finish(job)
            self._formed(backend, tb, block, job)
        elif store is not None and hasattr(backend, "lower"):     # (a first tier's data the store keeps)
            lowered = backend.lower(block, self.counter is not None)
            fn = backend.load(lowered, self._context(tb))
            payload = tbstore.first_tier(block, tb.targets, backend.dump(lowered))
            if payload is not None:
                store.put(tb.pc, payload)
        else:
            fn = backend.compile(block, self._context(tb))
            kept = backend.kept(fn) if store is not None else None       # (native code the store keeps)
            if kept is not None:
                store.put(tb.pc, tbstore.native_tier(block, tb.targets, kept))
        self._compiled(backend, tb, fn, time.perf_counter() - t1)
        return fn

    def _compiled(self, backend, tb, fn, seconds):
        fn.guest_pc = tb.pc
        if self.log.on("out_asm") and self.log.in_filter(tb.pc) and hasattr(backend, "disassemble"):
            self.log.write(f"OUT: [{backend.name}] {tb.pc:#x}\n{backend.disassemble(fn)}\n")
        STATS.compile_time[backend.name] = STATS.compile_time.get(backend.name, 0.0) + seconds

    # --- code kept across processes and runs (tbstore.py) -----------------------------------
    def _store(self, tier, pc=None):
        """The TB store of tiers[tier]'s code for the program running, or None;
        for a pc in a file at a place of its own (`proc.shared_spans`: the ELF
        interpreter, and the libraries sys_mm puts at their slots: the same
        file at the same place in every dynamic program), that file's own
        store there, shared by them all (a record is used only where its
        instructions are there: tbstore.py).  Kept are a first tier's lowered code (`lower`: the
        interpreter) and a native tier's code that holds its run's numbers as
        relocations (`kept`: the baseline); none when blocks are logged or
        verified as they are lifted, a debugger is attached, or there is no
        code cache."""
        exe = getattr(self.proc, "exe_path", None)
        if self._tbs[0] != exe:                      # (the first, or an execve'd program)
            for store in self._tbs[1].values():
                if store is not None:
                    store.close()
            self._tbs = (exe, {})
        stores = self._tbs[1]
        key = tier
        span = None
        if pc is not None:
            for sp in getattr(self.proc, "shared_spans", ()):
                if sp[1] <= pc < sp[2]:
                    if (tier, sp[0], sp[1]) in stores or \
                            sum(type(k) is tuple and k[0] == tier for k in stores) < SHARED_STORES:
                        span = sp
                        key = (tier, sp[0], sp[1])
                    break
        if key not in stores:
            with self.cache.lock:                    # (one per tier: guest threads translate at once)
                if key not in stores:
                    stores[key] = self._open_store(exe, tier) if span is None else \
                        self._open_store(span[0], tier, f" lib at={span[1]:x}")
        return stores[key] if self.debug is None else None

    def _open_store(self, exe, tier, where=""):
        backend = self.tiers[tier]
        first = tier == 0 and hasattr(backend, "lower")
        if not (first or tier in self._kept_tiers) or self.verify_ir or \
                any(self.log.on(i) for i in ("in_asm", "op", "op_opt")):
            return None
        from pydbt.backends import llvm_cache
        from pydbt.runtime import ownfds
        own = (lambda fd: ownfds.hide(self.proc, fd)), (lambda fd: ownfds.release(self.proc, fd))
        # (what else a block's code depends on: the settings that change it, the sources that make it)
        variant = (f"{self.arch.name} py{sys.version_info[0]}.{sys.version_info[1]} "
                   f"count={self.counter is not None} max={self.max_insns} "
                   f"off={','.join(sorted(self.disabled_passes or ()))} "
                   f"{tbstore.fingerprint(tbstore.FIRST_TIER + (type(self.arch).__module__.rpartition('.')[0],))}")
        variant += where
        if first:
            variant += f" alone={len(self.tiers) == 1}"
        else:
            variant += (f" {backend.name} {tier}/{len(self.tiers)} counts={self._counts_itself(tier)} "
                        f"{backend.kept_variant(self._context(TB(0, 0, 0, [], [], tier=tier)))}")
        return tbstore.TBStore.open(llvm_cache.cache(), exe, getattr(self.proc, "sysroot", None), variant, own)

    def exec_kept(self):
        """(before an execve of the program running: its memory still there)
        The first tier's TBs and the bytes of their pages, for exec_done: a
        shell stage that executes /proc/self/exe (busybox) would otherwise
        make every block again.  Only the interpreter's (its code is the
        block's data and the TB's links: nothing else of the run it was made
        in); none with a debugger attached."""
        if self.debug is not None or not hasattr(self.tiers[0], "lower"):
            return None
        tbs = [tb for tb in self.cache.by_pc.values()
               if tb.tier == 0 and tb.valid and tb.region is None and tb.key == tb.pc]
        pages = {pg for tb in tbs for pg in tb.pages}
        return tbs, {pg: self.mem.code_page(pg) for pg in pages}

    def exec_done(self, kept):
        """(after the new image is loaded) The TBs exec_kept gave whose pages
        hold the same bytes, executable, are in the cache again (the cache was
        flushed: they come back unchained, with no incoming jumps)."""
        if self.cold is not None:
            self.cold.clear()                        # (the pcs of another image's code)
        if kept is None:
            return
        tbs, pages = kept
        same = {pg for pg, data in pages.items() if data is not None and self.mem.code_page(pg) == data}
        n = 0
        for tb in tbs:
            if all(pg in same for pg in tb.pages):
                tb.valid = True
                self.cache.add(tb)
                n += 1
        STATS.tbs_translated -= n                    # (add counted them: they were not made again)
        STATS.bump("tbs_kept_over_exec", n)

    def before_fork(self):
        """(in the parent, before a fork) A process that forks again and again
        (a shell: each pipeline's stages are children running code it never
        ran) makes a TB of every block its first tier's store holds, once, at
        its PREFETCH_FORK-th fork: every child after it inherits them instead
        of loading them one by one, each child again.  The native tiers' regions
        first, in the place of lower tiers' TBs (where one starts, no
        first-tier TB is made)."""
        self.forks += 1
        if self.forks != PREFETCH_FORK:
            return
        by_pc = self.cache.by_pc
        left = PREFETCH_MAX
        for tier in self._kept_tiers + [0]:
            store = self._store(tier)
            if store is None:
                continue
            for pc in store.pcs()[:left]:
                old = by_pc.get(pc)
                if old is not None and (old.tier >= tier or not old.valid):
                    continue
                new = self._stored_tb(store, pc, tier, time.perf_counter())
                if new is not None:
                    if old is not None:
                        self.cache.replace(old, new)
                    STATS.bump("tb_store_prefetched")
                    left -= 1

    def _stored_tb(self, store, pc, tier, t0):
        """A TB for pc on tiers[tier] from the store's record, or None (no
        record, one whose instructions are not there any more, native code
        that does not fit this run)."""
        backend = self.tiers[tier]
        first = tier == 0 and hasattr(backend, "lower")
        payload = store.get(pc)
        rec = None if payload is None else tbstore.first_tier_record(payload) if first else \
            tbstore.native_record(payload)
        name = "tb_store" if first else "native_store"
        if rec is None or rec.entries and not (getattr(backend, "entries", False) and self.multi_entry):
            STATS.bump(name + "_misses")
            return None
        tb = self._new_tb(pc, rec.size, rec.ninsns, rec.pages, rec.targets, tier)
        ctx = self._context(tb)
        fn = backend.load(backend.undump(*rec.lowered), ctx) if first else \
            backend.load_kept(pc, len(rec.targets), rec.lowered, ctx)
        if fn is None:
            STATS.bump(name + "_unfit")
            return None
        self._region(tb, rec, rec.entries)
        self._compiled(backend, tb, fn, 0.0)
        STATS.translate_time += time.perf_counter() - t0
        self._finish_tb(tb, fn, t0)
        # (checked once its pages are marked as code, as _decoded checks a
        # block: a write landing meanwhile is seen)
        if not self.mem.holds(rec.pages, rec.insns, rec.words):
            self.cache.invalidate(tb)
            STATS.bump(name + "_stale")
            return None
        STATS.bump(name + "_hits")
        return tb

    # --- region shapes kept across runs (regionlog.py) ------------------------------------
    def _regions(self):
        """The RegionLog of the program running (None: no code cache, a debugger)."""
        exe = getattr(self.proc, "exe_path", None)
        cur = self._rlog
        if cur[0] != exe:                            # (the first, or an execve'd program)
            from pydbt.backends import llvm_cache
            # (what else the text of a region depends on: one log for each)
            variant = (f"{self.arch.name} count={self.counter is not None} chain={self.cache.chaining} "
                       f"max={self.max_insns} off={','.join(sorted(self.disabled_passes or ()))}")
            log = RegionLog.open(llvm_cache.cache(), exe, getattr(self.proc, "sysroot", None), variant)
            cur = self._rlog = (exe, log)
            if log is not None and log.records and self.compiler is not None:
                # (a run before made native code: this one will load it, so the
                # compile thread loads the native tier now, beside the guest)
                self._load_native(self.backend)
        return cur[1] if self.debug is None else None

    def _formed(self, backend, tb, block, job):
        """A native region's object is made: its shape recorded (and counted if replayed)."""
        replay = getattr(block, "replay", None)
        log = self._rlog[1]
        if replay is None or log is None:
            return
        from pydbt.backends import llvm_cache
        fname = getattr(job, "fname", None)
        log.formed(backend.name, tb.pc, replay, llvm_cache.key_made(fname) if fname else None)
        if replay.replayed and not replay.diverged:
            self.reformed.add(tb.pc)                 # (its record is the shape re-forming made)

    def _warm_tier(self, old):
        """The highest native tier above old's whose object of old.pc's recorded
        region is in the disk cache, or None."""
        tiers = [t for t in range(len(self.tiers) - 1, old.tier, -1) if self._native(t)]
        log = self._regions() if tiers else None     # (no native tier: no log, no cache opened)
        if log is None:
            return None
        from pydbt.backends import llvm_cache
        disk = llvm_cache.cache()
        for tier in tiers:
            if log.cached(disk, self.tiers[tier].name, old.pc):
                return tier
        return None

    def _counting(self, tb, fn):
        """A tier that does not count: run fn; after `threshold` runs the TB is
        promoted (_promote).  (A block run cold before has one run less to go.)"""
        left = [self.thresholds[tb.tier]]
        if left[0] > 1 and tb.pc in (self.cold or ()):
            left[0] -= 1

        def counting(cpu):
            left[0] -= 1
            if left[0] == 0 and tb.valid:
                return self._promote(tb)(cpu)
            return fn(cpu)
        counting.guest_pc = tb.pc
        counting.runs_left = left                    # (read by tiering.Profile)
        return counting

    def _hot(self, tb, hot):
        """What a counting tier's TB calls once it is hot (or is told to leave:
        `hot.ask`), with the pc it stopped at (its start, or a loop head inside
        it): -> the function to run there."""
        def promote(pc):
            if tb.valid and not tb.promoting:
                self._promote(tb, hot)
            return self.cache.fns.get(pc) or self.lookup(pc)

        def ask(events):
            # the TB is hot (again): promote it unless that is under way; leave
            # when it has been replaced (invalid), else run on
            if tb.valid and not tb.promoting:
                self._promote(tb, hot)
            return not tb.valid
        hot.ask = ask
        return promote

    def _promote(self, old, hot=None):
        """old is hot (`hot`: its Hotness, on a tier that counts its own): its
        code on the next tier replaces it, now or (compile thread) when ready.
        -> the function to run at old.pc now."""
        from_jit = self._counts_itself(old.tier)
        # (warm: its region's object is on disk, from a run before: loading it
        # costs ~1 ms, so no warm-up nor payback, and the highest such tier)
        warm = self._warm_tier(old)
        tier = old.tier + 1 if warm is None else warm
        if warm is not None:
            STATS.bump("regions_warm")
        elif from_jit and self._native(tier) and not self.policy.may_compile(old, hot, self._native(old.tier)):
            if self.policy.half_paid(old, hot, self._native(old.tier)):
                self._load_native(self.tiers[tier])    # (its compile comes soon: the tier's load first)
            elif hot is not None and not self.policy.in_flight:
                hot.defer(self.policy.wait(old, hot, self._native(old.tier)))
            return old.fn                              # (it asks again: Hotness's RECHECK, or later)
        backend = self.tiers[tier]
        native = hasattr(backend, "prepare")           # (a two-half compile: native code)
        if native and (from_jit or warm is not None):
            self._load_native(backend)
        self.proc.cpu.pc = old.pc                      # (a fetch fault is reported here)
        # (the compile thread only from a JIT tier: code left on the interpreter
        # while native code is made runs ~10x slower, and more of it gets hot;
        # a warm one from the interpreter too: a load, ~1 ms, and the regions
        # after it formed as in the run before, whose were made here too)
        # (the cost of compiles from a counting tier, to predict the next one's)
        measure = native and from_jit and warm is None
        if native and (from_jit or warm is not None):
            self.policy.jobs += 1
        if self.compiler is None or not native or not from_jit:
            t0 = time.thread_time()
            new = self._make_tb(old.pc, tier)
            if native and (from_jit or warm is not None):    # (the optimizing tier's: its share)
                self.policy.spent += time.thread_time() - t0
                if measure:
                    self.policy.job_cost(time.thread_time() - t0, new.ninsns)
            self.cache.replace(old, new)
            STATS.tbs_promoted += 1
            self._reform_into(new)
            return new.fn
        t0, c0 = time.perf_counter(), time.thread_time()
        block, new = self._block(old.pc, tier)
        job = self._prepare(backend, block, new)
        self.cache.index(new)                          # (a write to its code from now on drops it)
        if not self._decoded(block):
            self.cache.discard(new)
            return old.fn
        old.promoting = True
        spent = time.perf_counter() - t0
        cpu = time.thread_time() - c0
        self.policy.spent += cpu

        def work():
            t1, c1 = time.perf_counter(), time.thread_time()
            fn = backend.finish(job)
            self.policy.finish_spent += time.thread_time() - c1      # (only the compile thread adds)
            if measure:                              # (a load is no compile to predict others by)
                self.policy.job_cost(cpu + time.thread_time() - c1, new.ninsns)
            self._formed(backend, new, block, job)
            return fn, time.perf_counter() - t1

        def done(result):
            self.policy.in_flight.discard(new)
            with self.cache.lock:
                if result is None:                   # (and old is not promoted again)
                    self.cache.discard(new)
                    return
                fn, seconds = result
                new.fn = fn
                if not (old.valid and new.valid):     # (its code was written meanwhile)
                    self.cache.discard(new)
                    return
                self._compiled(backend, new, fn, seconds)
                STATS.compile_each.setdefault(backend.name, []).append(spent + seconds)
                self.cache.publish(new)
                self._install_entries(new)
                self.cache.replace(old, new)
                STATS.tbs_promoted += 1
            self._reform_into(new)
        self.policy.in_flight.add(new)
        self.compiler.submit(work, done)
        return old.fn

    def _load_native(self, backend):
        """Load a native tier's compiler (`loads`: llvmlite and its JIT, ~40-60
        ms) once, before its first compile: in the compile thread when there is
        one, beside the guest.  Timed on its own (-stats: native_load_ms) and
        counted as the optimizing tier's CPU (its compile share), so a region's
        compile time is its own (a run's first compile took the load's too)."""
        if self.native_loaded or not getattr(backend, "loads", False):
            return
        self.native_loaded = True
        policy = self.policy
        policy.loaded = True
        thread = self.compiler is not None

        def load():
            t0, c0 = time.perf_counter(), time.thread_time()
            backend.load()
            STATS.extra["native_load_ms"] = round((time.perf_counter() - t0) * 1e3, 3)
            if thread:
                policy.finish_spent += time.thread_time() - c0
            else:
                policy.spent += time.thread_time() - c0
        if thread:
            self.compiler.submit(load, lambda result: None, first=True)
        else:
            load()

    # --- re-forming regions ------------------------------------------------------------
    # A region is formed from the profile of its time: a path that had not run
    # yet, or a pc that was another region's entry then, ends it with an exit.
    # When that exit's target becomes a region of the last tier itself, and one
    # that the region would have copied (COPY_MAX or smaller) or that jumps back
    # into the region's code (a loop split between two functions: each turn
    # writes every register back and reloads it), the region is made again
    # from the profile as it is now (Profile copies both kinds), once per pc.

    def _reform_into(self, new):
        """new, a TB of the last tier, now stands at its pc: re-form the regions of
        that tier jumping to it that it should have been part of (see above)."""
        if new.tier == 0 or new.tier != len(self.tiers) - 1 or not new.valid:
            return
        if not hasattr(self.tiers[new.tier], "prepare"):
            return
        for src, _ in list(new.incoming):
            mine = self.region_pcs.get(src.pc, ())
            if (src.tier == new.tier and src.valid and src.pc != new.pc and src.pc not in self.reformed
                    and (new.ninsns <= COPY_MAX or any(t in mine for t in new.targets))):
                self.reformed.add(src.pc)
                self._reform(src)

    def _reform(self, old):
        """old made again on its tier from today's profile, replacing it; in this
        thread (the guest's, or the compile thread's: done())."""
        backend = self.tiers[old.tier]
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            block, new = self._block(old.pc, old.tier)
        except GuestFault:                           # (its code was unmapped meanwhile)
            return
        job = self._prepare(backend, block, new)
        self.cache.index(new)                        # (a write to its code from now on drops it)
        if not self._decoded(block):
            self.cache.discard(new)
            return
        try:
            fn = backend.finish(job)
        except Exception:                            # (as a failed compile in the thread: old stays)
            self.cache.discard(new)
            return
        self._formed(backend, new, block, job)
        self.policy.spent += time.thread_time() - c0
        with self.cache.lock:
            new.fn = fn
            if not (old.valid and new.valid):
                self.cache.discard(new)
                return
            self._compiled(backend, new, fn, time.perf_counter() - t0)
            STATS.compile_each.setdefault(backend.name, []).append(time.perf_counter() - t0)
            self.cache.publish(new)
            self._install_entries(new)
            self.cache.replace(old, new)
        STATS.bump("regions_reformed")

    def quiet(self):
        """A context in which no compile is half done (around fork)."""
        return self.compiler.quiet() if self.compiler is not None else contextlib.nullcontext()

    # --- cold runs ---------------------------------------------------------------------
    # Most blocks the first tier makes run once or a few times (matmul_fp's
    # C runtime: 750 of 1,087 once, 227 two to five times), and for those
    # lifting the IR, lowering it and making a TB is most of what they cost
    # (~60 us a block, against ~3 to run it on the interpreter).  So a
    # block's first run is the frontend's (arch.run): each instruction is
    # lifted into a builder that runs it (builder.Running), with the IR's own
    # semantics, and nothing is kept; a second run makes the TB.

    def _cold(self, pc):
        """A function that runs the block at pc once as the frontend lifts it,
        if its run may be cold (not run before, no debugger, no stored code for
        it), else None."""
        if pc in self.cold or self.debug is not None:
            return None
        store = self._store(0, pc)
        if store is not None and store.has(pc):
            return None
        self.cold.add(pc)
        run, mem, counter, max_insns, fns = self._run_cold, self.mem, self.counter, self.max_insns, self.cache.fns

        def cold(cpu):
            STATS.cold_runs += 1
            nxt, indirect = run(mem, cpu, pc, max_insns, counter)
            return fns.get(nxt) or (self.lookup(nxt) if indirect else self._miss(cpu, nxt))
        cold.guest_pc = pc
        return cold

    def _miss(self, cpu, pc):
        """The function at pc, where no TB is (lookup's, and a cold run's direct exit)."""
        STATS.cache_misses += 1
        cpu.pc = pc                                  # a fetch fault is reported here
        return self.cold is not None and self._cold(pc) or self.translate(pc).fn

    def _stub(self, tb, k, target):
        """The function exit k returns until it is chained: find or make the successor."""
        def stub(cpu):
            nxt = self.cache.by_pc.get(target)
            if nxt is None:
                STATS.cache_misses += 1
                cpu.pc = target                      # a fetch fault is reported here
                if self.cold is not None and not tb.tier:
                    # (not from a higher tier's code: its exits' targets are
                    # where its region may be entered, _enterable)
                    fn = self._cold(target)
                    if fn is not None:
                        return fn                    # (not chained: the next run makes the TB)
                nxt = self.translate(target)
            else:
                STATS.cache_hits += 1
            self.cache.link(tb, k, nxt)
            return nxt.fn
        stub.guest_pc = target
        return stub

    def after_fork(self):
        self.cache.after_fork()
        if self.compiler is not None:
            self.compiler.after_fork()

    def lookup(self, pc):
        """Indirect jumps: the function of the TB at pc, translating it if needed."""
        fn = self.cache.fns.get(pc)
        if fn is None:
            self.indirect.add(pc)
            fn = self._miss(self.proc.cpu, pc)
        return fn

    def _log_in_asm(self, block):
        lines = ["IN:"]
        for a, n in block.insns:
            text = self.arch.disassemble(self.mem.buf[a:a + n], a)
            lines.append(f"0x{a:016x}:  {text[0][1] if text else '(illegal)'}")
        self.log.write("----------------\n" + "\n".join(lines) + "\n\n")

    # --- execution -----------------------------------------------------------------
    def run_until_exception(self, cpu):
        """Run TBs from cpu.pc until one raises or a signal is pending."""
        pending = self.proc.signals.pending       # filled by host signal handlers
        fn = self.lookup(cpu.pc)
        if self.slow:
            return self._run_logged(cpu, fn)
        while not pending:
            fn = fn(cpu)
        cpu.pc = fn.guest_pc

    def _run_logged(self, cpu, fn):
        log = self.log
        pending = self.proc.signals.pending
        while not pending:
            pc = fn.guest_pc
            if log.in_filter(pc) and pc in self.cache.by_pc:
                if log.on("exec"):
                    log.write(f"Trace: [{pc:016x}] {self.cache.by_pc[pc].ninsns} insns\n")
                if log.on("cpu"):
                    cpu.pc = pc
                    log.write(cpu.dump())
            fn = fn(cpu)
        cpu.pc = fn.guest_pc

    def run(self, task):
        """A task's CPU loop: run guest code, serve syscalls and faults, deliver
        signals, park for exclusive sections; until the task or the process ends
        (an exception: TaskExit, GuestExit)."""
        proc = self.proc
        arch = self.arch
        excl = proc.exclusive
        pending = proc.signals.pending
        cpu = task.cpu
        debug = self.debug
        quiet, me = self.mem.watch_off, threading.get_ident()
        excl.enter()
        try:
            while True:
                if task.killed:
                    raise TaskExit()
                step = False
                if debug is not None:
                    debug.check(task)                   # gdb may keep this task stopped
                    step = debug.stepping(task)
                try:
                    if step:
                        self.run_one(cpu)
                    else:
                        self.run_until_exception(cpu)   # returns when something is pending
                except Syscall as e:
                    if (pending or task.sigpending) and proc.signals.interrupts(task):
                        # a signal came before the syscall: Linux delivers it on the way
                        # back to user mode, so its handler runs first, then the ecall
                        cpu.pc = e.pc
                    else:
                        cpu.pc = e.next_pc
                        STATS.syscalls += 1
                        nr, args = arch.syscall_args(cpu)
                        excl.leave()                        # (a blocking syscall must not hold up a fork)
                        quiet.add(me)                       # (the kernel's accesses hit no watchpoint)
                        task.not_started = False            # (see signals.restarts)
                        try:
                            ret = proc.syscall(nr, args)
                        finally:
                            quiet.discard(me)
                            excl.enter()
                        if task.killed:
                            raise TaskExit()
                        if ret == -EINTR and proc.signals.restarts(arch.syscall_names.get(nr)):
                            cpu.pc = e.pc                   # ERESTARTSYS: run it again after the handler
                        elif ret is not None:
                            arch.set_syscall_result(cpu, ret)
                except Watchpoint as e:
                    cpu.pc = e.pc
                    if self._past_watch(task, e):
                        step = False                    # (the watch stop is the step's stop)
                except GuestFault as e:
                    cpu.pc = e.pc if e.pc is not None else cpu.pc
                    proc.signals.fault(cpu, e)
                except Breakpoint as e:
                    cpu.pc = e.pc
                    if debug is not None and debug.breakpoint_hit(task, e.pc):
                        continue
                    proc.signals.fault(cpu, GuestFault(signal.SIGTRAP, TRAP_BRKPT, e.pc, e.pc))
                if step:
                    debug.step_done(task)
                if pending or task.sigpending:
                    if MARKER in pending:               # an exclusive section: park until it ends
                        excl.leave()
                        excl.enter()
                    proc.signals.deliver_pending(cpu)
                    if pending:                         # for another task: let it run
                        time.sleep(0)
        finally:
            excl.leave()
