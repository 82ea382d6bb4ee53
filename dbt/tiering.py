"""When a TB moves up a tier, and what a region is formed from.

- `Hotness`: a TB's count of the guest instructions it ran, on a tier that
  counts its own (estimated by its code from its layout: the bytecode JIT
  decrements a closure cell inline, native code (baseline, quick LLVM code) a
  counter word of its own: `native`), hot at its threshold and then every
  RECHECK instructions (native code: every ~ASK_TIME of its estimated time),
  or, refused native code, once a quarter of the time to its affordability
  is run (`NativePolicy.wait`, `Hotness.defer`).
- `NativePolicy`: whether a hot TB of a counting tier may be compiled to
  native code now: the warm-up, the payback rule (its estimated time so far
  against its compile's expected cost: one rule, each counting tier with its
  cost per instruction) and the compile share (the optimizing tier's CPU
  against the run's time), with the costs it measures.
- `Profile`: what the earlier tiers saw (which blocks ran, where regions start),
  for the frontend's profile-guided superblocks.

Architecture-neutral; the engine (execloop.py) asks these at its promotions.
"""
import time
import types


class Profile:
    """What the earlier tiers saw, for a superblock made for tier `tier`: which
    blocks ran, and where a region of that tier (or higher) already starts, or
    is being made, with more than COPY_MAX instructions.  The superblock ends
    there and its exit is chained to that region, instead of copying its code:
    a region entered at several pcs of one loop (quicksort's partition, the side
    exits of a superblock cut by its size limit) was otherwise compiled once per
    pc, each copy holding the whole loop (7x the code).  A small one is copied:
    a loop's head that only dispatches (vm's switch) costs less copied into
    each of its predecessors than a chained jump per iteration.

    Nor is a region an entry when it jumps back into the superblock being made
    (`inside`: the pcs already in it): the two would be one loop split in two
    functions, each iteration leaving one for the other with every register
    written back (quicksort's partition, its inner loop made a region first).
    Its code is copied instead, and the loop closes inside the new region.

    `native`: the superblock is native code's, which may be bigger (the
    frontend's limit for it): a function cut by the size limit (glibc's memcmp,
    memcpy) became a region per exit of the cut, each entered from native code
    and waiting for its own compile (strings: 57 quick regions, 37 with native
    superblocks of up to 400 instructions); the bytecode JIT's stay small
    (bigger ones cost quicksort ~15% more CPU there).

    A block run once, cold (no TB: execloop._cold), ran once.

    `runs`: (threshold, least): a block still on the first tier ran only if
    it ran `least` of its `threshold` runs there (`TB.fn.runs_left`: the
    countdown of execloop's counting wrapper); for the optimizing tier's
    regions (made from a tier above the first): a path that ran a few times
    while the code around it got hot (quicksort's median-of-three swaps, once
    per call) is an exit, not LLVM's code to compile (COLD_FRACTION)."""

    def __init__(self, cache, tier, native=False, start=None, runs=None, cold=None):
        self.by_pc = cache.by_pc
        self.start = start                           # the pc of the superblock being made
        self.tier = tier
        self.native = native
        self.runs = runs
        self.cold = cold or ()                       # pcs of blocks run once, cold (no TB: execloop._cold)

    def ran(self, pc):
        tb = self.by_pc.get(pc)
        if tb is None:
            return pc in self.cold and (self.runs is None or self.runs[1] <= 1)
        if self.runs is None:
            return True
        left = getattr(tb.fn, "runs_left", None)
        threshold, least = self.runs
        return left is None or threshold - left[0] >= least

    def entry(self, pc, inside=()):
        tb = self.by_pc.get(pc)
        return (tb is not None and tb.tier + tb.promoting >= self.tier
                and tb.ninsns > COPY_MAX
                and not any(t in inside for t in tb.targets)
                # (nor an entry of the region this one is made again from)
                and not (tb.region is not None and tb.region[0].pc == self.start))


COPY_MAX = 24         # instructions: a region this small is copied, not chained to (Profile)
COLD_FRACTION = 0.4   # of the first tier's threshold: fewer runs there, and an optimizing tier's
                      # region leaves the block out (Profile.runs)
RECHECK = 4096         # a hot TB's code asks again every RECHECK instructions (~0.2 ms of bytecode)
CHUNK = 256            # the largest countdown in a Hotness cell (CPython's cached small ints)

# The payback rule (NativePolicy.pays_back): a hot TB of a counting tier is
# compiled by the next (native) tier once the time it has taken so far (the
# instructions it counted x its tier's INSN_COST) is PAYBACK times what that
# compile is expected to cost (compile_cost): a rent-or-buy rule; a block that
# has run that long is expected to run about as long again, and code a program
# has no time to use costs it at most about 1/PAYBACK of what the block took.
PAYBACK = 2.0
INSN_COST = 50e-9      # seconds per guest instruction on the bytecode JIT (13-30 M/s of CPU here)
NATIVE_INSN_COST = 0.4e-9  # the same in native code that counts its own (baseline, quick LLVM code:
                       # -backend llvm-quick's steady state, 2026-12-02: sha256 0.3 ns, vm 0.75,
                       # strings 0.8, quicksort 1.0; optimized code 0.13, 0.22, 0.5, 0.58).  An
                       # exchange rate more than a speed: 0.4 and 1.6 both lost (session 12), 0.5
                       # to 1.2 were even (session 15); 0.8 -> 0.4 once the baseline's pins were
                       # written back and its stores unchecked (2026-12-03, steady CPU -backend
                       # auto W/4 to W, 2 reps interleaved: vm -31%, sha256 -18%, strings -15%,
                       # intloop -20%, crc32 -4%, quicksort +3%; whole-process CPU at W: vm -8%,
                       # sha256 -11%, strings -14%, intloop -9%, crc32 -1%, quicksort 0%)
ASK_TIME = 1e-3        # native code asks again every ~1 ms of its estimated time (a
                       # callback into Python and a refused ask: ~2 us; every 256 iterations, a
                       # 2-instruction loop's 20 M iterations took 0.21 s instead of 0.035-0.12)
LOAD_COST = 60e-3      # CPU s: llvmlite's import, its JIT, the runtime module (40-70 ms here)
OPT_FIXED = 3e-3       # a compile's expected cost is OPT_FIXED + a cost per guest
OPT_INSN_COST = 0.6e-3 # instruction of the region, measured (compile_cost) or this (CPU s;
                       # strings, quicksort: 2-4 ms + 0.6-0.7 ms per instruction, r = 0.92-0.94:
                       # 5 ms for a 7-instruction loop, 200 for 270 instructions)


class Hotness:
    """A TB's hotness count on a tier that counts its own (ctx.hot): how many
    guest instructions it has run, as its code estimates them from its layout
    (an entry counts the instructions to its first back-edge, or all of a
    block without a loop, a back-edge its loop's: pybytecode.Gen.count_event;
    quick native code also counts an exit's path: llvm_emit.Emitter.count_hot).
    Its events: an entry or a back-edge counts n instructions at once.  (Until
    2026-12-02 it counted events, each standing for the smallest loop's
    instructions: 4x too few for a region whose loops run nested, strings'
    main loop, which stayed on the bytecode JIT for 0.9 s of its 2.4.)

    The count is a countdown in a cell (`cell`): the bytecode JIT's code
    decrements it inline and calls `expired()` only when it reaches 0 (or
    below); another tier calls the object once per event (`__call__(n)`).
    Either way the TB is hot at the first event that reaches its threshold,
    and asks again every `recheck` instructions after that; expired() then
    asks the engine (`ask(instructions)`: promote it, or see whether its
    replacement is ready) and says whether the code should leave (by
    ctx.promote), so a loop whose native code is not wanted yet (or still
    being compiled) runs on.  Quick native code counts in a word of its own
    (`native`: the cell becomes that word, with no CHUNK limit, and it asks
    again every ~ASK_TIME of its estimated time)."""
    __slots__ = ("cell", "to_go", "filled", "events", "ask", "chunk", "recheck")

    def __init__(self, threshold, ask=None):
        self.chunk, self.recheck = CHUNK, RECHECK
        self.to_go = threshold                       # instructions to the next ask, beyond the cell's
        self.events = 0                              # instructions counted by emptied cells
        self.ask = ask
        self.cell = types.CellType()
        self._fill()

    def _fill(self):
        self.filled = min(self.to_go, self.chunk)
        self.to_go -= self.filled
        self.cell.cell_contents = self.filled

    def native(self, cell):
        """The count moves into `cell` (anything with a `cell_contents`: quick
        native code's counter word) before any event: no CHUNK limit, and it
        asks again every ~ASK_TIME of the TB's estimated time (at NATIVE_INSN_COST)."""
        self.to_go += self.filled
        self.chunk = 1 << 62
        self.recheck = max(RECHECK, round(ASK_TIME / NATIVE_INSN_COST))
        self.cell = cell
        self._fill()

    def _emptied(self):
        """The cell reached 0 or below (an event of several instructions,
        threads): what went below counts; refill it.  -> True if the TB is hot
        now (its threshold, or `recheck` more since it last was, reached)."""
        over = max(-self.cell.cell_contents, 0)
        self.events += self.filled + over
        self.to_go -= over
        hot = self.to_go <= 0
        if hot:
            self.to_go = self.recheck
        self._fill()
        return hot

    def __call__(self, n=1):
        """An event of n instructions: -> True at the one reaching the
        threshold, then every `recheck`."""
        n = self.cell.cell_contents - n
        self.cell.cell_contents = n
        return n <= 0 and self._emptied()

    def defer(self, n):
        """The next ask not before n more instructions (NativePolicy.wait)."""
        n = int(n) - self.filled
        if n > self.to_go:
            self.to_go = n

    def expired(self):
        """The inline countdown reached 0 (or below: threads): -> should the code leave?"""
        return self._emptied() and self.ask is not None and self.ask(self.events)


class NativePolicy:
    """When a counting tier's hot TB may be compiled by the next, native, tier
    (see may_compile): not before `native_from` (a short program does not pay
    for llvmlite and its compiles); then, with a warm-up, once the block's
    time so far (estimated from its exact count of instructions) pays for its
    compile (the payback rule: PAYBACK); and while the optimizing tier (its
    CPU time: llvmlite's load, LOAD_COST expected, and its compiles, both
    halves) has used no more than `share` of the time run since, the next
    compile and the load if it is still to come included (None: no limit).
    So the optimizing tier costs a run at most `share` of its time, whatever
    its length: a program that ends soon after its code got hot cannot have
    paid much for code it had no time to use (with a share of 3%, none in a
    run under ~2.5 s: llvmlite's load alone is ~60 ms), and a long one gets
    its hot code optimized, the hottest first (the TB asks again `recheck`
    instructions later, running on meanwhile; the hottest ask most often).
    The engine counts what it spends here: `spent` (CPU of the optimizing
    tier, both halves), `finish_spent` (the compile thread's part),
    `loaded` (llvmlite is), `in_flight` (TBs submitted to the compiler, not
    done), `jobs` (compiles from a counting tier begun) and each one's cost
    (job_cost)."""

    def __init__(self, native_warmup=0.0, share=None):
        self.native_from = time.monotonic() + native_warmup
        self.payback = native_warmup > 0             # (the payback rule: with a warm-up only)
        self.share = share
        self.jobs = 0
        self.job_cpu = [0.0, 0]                      # CPU seconds and count of the compiles
        self.job_insns = 0                           # their instructions
        self.spent = 0.0
        self.finish_spent = 0.0
        self.loaded = False
        self.in_flight = set()                       # (a set: one C call, safe between threads)

    def job_cost(self, cpu, ninsns):
        """A compile from a counting tier of a region of `ninsns` guest
        instructions took `cpu` seconds of CPU (loading the native tier is
        not in it: the engine's _load_native)."""
        self.job_cpu[0] += cpu
        self.job_cpu[1] += 1
        self.job_insns += ninsns

    def half_paid(self, tb, hot, on_native):
        """Past the warm-up, with the share affording the load and the
        compile, has TB tb (of a counting tier, refused native code) taken
        half the time its compile needs (the payback rule's)?  Then the
        native tier's compiler is loaded (~60 ms, beside the guest): it is
        ready when the compile is due, and a short program whose code never
        pays does not load it."""
        if time.monotonic() < self.native_from or not self.affords(tb.ninsns):
            return False
        return not self.payback or hot is None or self.pays_back(tb, hot, on_native, 0.5)

    def affords(self, ninsns, now=None):
        """May the optimizing tier spend a compile of a region of `ninsns`
        instructions (and llvmlite's load, not done yet) within its share?"""
        if self.share is None:
            return True
        return (time.monotonic() if now is None else now) >= self.affordable_at(ninsns)

    def affordable_at(self, ninsns):
        """When (time.monotonic) the share affords a compile of `ninsns`
        instructions (and llvmlite's load, not done yet), at the costs so far."""
        cost = self.compile_cost(ninsns) + (0.0 if self.loaded else LOAD_COST)
        return self.native_from + (self.spent + self.finish_spent + cost) / self.share

    def compile_cost(self, ninsns):
        """The expected CPU cost of compiling a region of `ninsns` guest
        instructions: OPT_FIXED + a cost per instruction, this run's (what its
        compiles took beyond OPT_FIXED, per instruction) or OPT_INSN_COST.
        (Their mean was the cost of the biggest regions: 130 ms under strings,
        where 20-60 instruction loops cost 5-20 ms; the loops stayed on quick
        code.)"""
        total, n = self.job_cpu
        per = (total - n * OPT_FIXED) / self.job_insns if n and self.job_insns else OPT_INSN_COST
        return OPT_FIXED + max(per, 0.0) * ninsns

    def pays_back(self, tb, hot, on_native, part=1.0):
        """Has TB tb of a counting tier (hot: its Hotness; `on_native`: that
        tier's code is native, else the bytecode JIT's) taken the time its
        compile by the next tier needs (or `part` of it): its instructions x
        its tier's cost per instruction against PAYBACK x the compile's
        expected CPU cost?"""
        insn_cost = NATIVE_INSN_COST if on_native else INSN_COST
        return hot.events * insn_cost >= part * PAYBACK * self.compile_cost(tb.ninsns)

    def wait(self, tb, hot, on_native):
        """A quarter of the guest instructions TB tb (of a counting tier) may
        run before may_compile, refusing it now, could say yes (the warm-up,
        the share at the costs so far, half its payback: half_paid's),
        estimated at its tier's cost per instruction (code up to 4x slower
        than that still asks in time; faster code asks a few times more): it
        need not ask before.  (A refused ask from native code is a callback
        into Python, ~10-20 us: every ~1 ms of a hot loop's time, 1,200 in
        crc32's 1.2 s run, ~2%.)"""
        insn_cost = NATIVE_INSN_COST if on_native else INSN_COST
        now = time.monotonic()
        secs = self.native_from - now
        if self.share:
            secs = max(secs, self.affordable_at(tb.ninsns) - now)
        n = secs / insn_cost
        if self.payback and hot is not None:
            n = max(n, 0.5 * PAYBACK * self.compile_cost(tb.ninsns) / insn_cost - hot.events)
        return max(n, 0.0) / 4

    def may_compile(self, old, hot, on_native):
        """May a counting tier's TB (old, hot: its Hotness or None; `on_native`:
        old is native code) be compiled to native code now: the warm-up
        is over, the block has paid for its compile (see PAYBACK; not without
        a warm-up), and the compile share is not used up?"""
        now = time.monotonic()
        if now < self.native_from:
            return False
        if self.payback and hot is not None and not self.pays_back(old, hot, on_native):
            return False
        if self.share is None:
            return True
        # one compile at a time: the share counts what is spent, and the next
        # TB to ask once the thread is free is one of the hottest
        return not self.in_flight and self.affords(old.ninsns, now)
