"""When a TB moves up a tier, and what a region is formed from.

- `Hotness`: a TB's count of entries and loop back-edges on a tier that counts
  its own (the bytecode JIT decrements a closure cell inline), hot at its
  threshold and then every RECHECK events.
- `NativePolicy`: whether a hot TB of a counting tier may be compiled to
  native code now: the warm-up, the payback rule (its estimated time so far
  against its compile's expected cost) and the compile share (native
  compiling's CPU against the run's time), with the costs it measures.
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
    (bigger ones cost quicksort ~15% more CPU there)."""

    def __init__(self, cache, tier, native=False):
        self.by_pc = cache.by_pc
        self.tier = tier
        self.native = native

    def ran(self, pc):
        return pc in self.by_pc

    def entry(self, pc, inside=()):
        tb = self.by_pc.get(pc)
        return (tb is not None and tb.tier + tb.promoting >= self.tier
                and tb.ninsns > COPY_MAX
                and not any(t in inside for t in tb.targets))


COPY_MAX = 24         # instructions: a region this small is copied, not chained to (Profile)
RECHECK = 256          # a hot TB's code asks again every RECHECK entries and back-edges
CHUNK = 256            # the largest countdown in a Hotness cell (CPython's cached small ints)

# The payback rule (NativePolicy.may_compile): a bytecode TB is compiled to native
# code once the time it has taken so far (its entries and back-edges x its
# instructions x INSN_COST) is PAYBACK times what compiling it is expected to
# cost, plus llvmlite's load for the first (pays_back): a rent-or-buy
# rule; a block that has run that long is expected to run about as long
# again, and native code a program has no time to use costs it at most about
# 1/PAYBACK of what the block itself took.
PAYBACK = 2.0
INSN_COST = 50e-9      # seconds per guest instruction on the bytecode JIT (13-30 M/s of CPU here)
LOAD_COST = 0.08       # the first native compile's extra: llvmlite's import and the JIT's start (CPU s)
COMPILE_COST = 0.01    # a native compile until the run has measured its own (CPU s; quick ~2-5 ms
                       # alone, 8-20 on a loaded host)
OPT_COST = 0.04        # the same for an optimizing one (quick code made again: llvm, ~3-4x)
ENTRY_COST = 12e-6     # once native code runs: a bytecode block's entry from it (the transition
                       # there and back, the block, the dispatch: ~6-12 us here).  4 us left strings'
                       # return points and jump-table cases on the bytecode JIT 2x as long: 2x its
                       # transitions, ~20% more CPU at 400k rounds (vm, quicksort: the same)


class Hotness:
    """A TB's hotness count on a tier that counts its own (ctx.hot): how many
    entries and loop back-edges it has run.  The count is a countdown in a
    cell (`cell`): the bytecode JIT's code decrements it inline and calls
    `expired()` only when it reaches 0; another tier calls the object once per
    event (`__call__`).  Either way the TB is hot at its threshold-th event,
    and asks again every RECHECK events after that; expired() then asks the
    engine (`ask(events)`: promote it, or see whether its replacement is
    ready) and says whether the code should leave (by ctx.promote), so a loop
    whose native code is not wanted yet (or still being compiled) runs on.
    `native`: on a native tier, the seconds its code has run (each entry's time,
    counted to the TB it left native code from), what optimizing it saves on."""
    __slots__ = ("cell", "left", "filled", "events", "ask", "native")

    def __init__(self, threshold, ask=None):
        self.native = 0.0
        self.filled = min(threshold, CHUNK)
        self.cell = types.CellType(self.filled)
        self.left = threshold - self.filled          # events beyond the cell's before it is hot
        self.events = 0                              # events counted by emptied cells
        self.ask = ask

    def _emptied(self):
        """The cell reached 0: refill it.  -> True if the TB is hot now."""
        self.events += self.filled
        hot = not self.left
        self.filled = RECHECK if hot else min(self.left, CHUNK)
        self.left -= 0 if hot else self.filled
        self.cell.cell_contents = self.filled
        return hot

    def __call__(self):
        """One event: -> True at the threshold-th, then every RECHECK."""
        n = self.cell.cell_contents - 1
        if n > 0:
            self.cell.cell_contents = n
            return False
        return self._emptied()

    def expired(self):
        """The inline countdown reached 0 (or below: threads): -> should the code leave?"""
        return self._emptied() and self.ask is not None and self.ask(self.events)


class NativePolicy:
    """When a counting tier's hot TB may become native code (see may_compile):
    no native code from a tier that asks again (a JIT) before `native_from`
    (a short program does not pay for llvmlite and its compiles); then, from
    the bytecode JIT, once the block's time so far pays for its compile
    (PAYBACK; not without a warm-up); and while native compiling (its CPU
    time, both halves) has used no more than `share` of the time run since
    (None: no limit): a program that ends soon after its code got hot cannot
    have paid much for code it had no time to use, and a long one gets all
    its code compiled (the TB asks again RECHECK events later, running on
    meanwhile; the hottest ask most often).  The engine counts what it
    spends here: `spent` (CPU of native compiling, both halves), `finish_spent`
    (the compile thread's part), `in_flight` (TBs submitted to the compiler,
    not done), `jobs` (native compiles from a JIT tier begun) and each
    compile's cost (job_cost)."""

    def __init__(self, native_warmup=0.0, share=None):
        self.native_from = time.monotonic() + native_warmup
        self.payback = native_warmup > 0             # (the payback rule: with a warm-up only)
        self.share = share
        self.jobs = 0
        self.hot_time = {}                           # pc -> a hot TB's time so far, until the first
        self.job_cpu = [0.0, 0]                      # CPU seconds and count of compiles from the
        self.opt_cpu = [0.0, 0]                      # bytecode JIT, and from quick code (not the first)
        self.spent = 0.0
        self.finish_spent = 0.0
        self.in_flight = set()                       # (a set: one C call, safe between threads)

    def job_cost(self, measure, first, cpu):
        """A native compile took `cpu` seconds of CPU: counted as one from the
        bytecode JIT if `measure`, else from quick native code, unless `first`
        (the run's first loaded llvmlite too)."""
        if not first:
            costs = self.job_cpu if measure else self.opt_cpu
            costs[0] += cpu
            costs[1] += 1

    def pays_back(self, tb, hot):
        """Has bytecode TB tb (hot: its Hotness) taken the time its native
        compile needs: PAYBACK x the compile's expected CPU cost (the mean of
        this run's so far: this host, this load; or COMPILE_COST), and for the
        run's first, the hot blocks together llvmlite's load more (shared by
        every compile after it)?"""
        need = PAYBACK * self.mean(self.job_cpu, COMPILE_COST)
        if self.jobs:
            # (its events counted as entries from native code: a loop's
            # back-edges are not, so loops go native a little sooner)
            return hot.events * (tb.ninsns * INSN_COST + ENTRY_COST) >= need
        own = hot.events * tb.ninsns * INSN_COST
        self.hot_time[tb.pc] = own
        return own >= need and sum(self.hot_time.values()) >= need + LOAD_COST

    @staticmethod
    def mean(costs, default):
        total, n = costs
        return total / n if n else default

    def may_compile(self, old, hot, on_native):
        """May a counting tier's TB (old, hot: its Hotness or None; `on_native`:
        old is quick native code) be compiled to native code now: the warm-up
        is over, the block has paid for its compile (see PAYBACK; not without
        a warm-up), and the compile share is not used up?"""
        now = time.monotonic()
        if now < self.native_from:
            return False
        if self.payback and hot is not None:
            if not on_native:
                # from the bytecode JIT: its time so far (estimated) against
                # its compile's expected cost
                if not self.pays_back(old, hot):
                    return False
            elif hot.native < PAYBACK * self.mean(self.opt_cpu, OPT_COST):
                # quick native code optimized once the time spent in it pays
                # for the compile as a bytecode block's does (optimized code
                # saves 1/3-3/4 of it, but the time is counted only at exits
                # from quick code: what chained code runs is missed; 2x PAYBACK
                # left quicksort's and vm's loops on quick code 1.6x as long);
                # its exits to Python, which optimizing does not remove, count
                # for nothing
                return False
        share = self.share
        if share is None:
            return True
        # one compile at a time: the share counts what is spent, and the next
        # TB to ask once the thread is free is one of the hottest
        return not self.in_flight and self.spent + self.finish_spent <= share * (now - self.native_from)
