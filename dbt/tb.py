"""Translation blocks and the TB cache: lookup, chaining, page index, invalidation.

Every compiled TB is a function `fn(cpu) -> next_fn`, so running guest code is a
trampoline: `while not pending: fn = fn(cpu)`.  A TB's k-th direct exit returns
`links[k]`: at first a resolver stub (finds or translates the successor and
patches `links[k]` with the successor's function: that is chaining), afterwards
the successor itself, so the hot path never looks anything up.  An indirect exit
returns `lookup(pc)`, one dictionary probe.  Each link is recorded on its target
(`incoming`), so invalidating a TB puts the stubs back into every TB jumping to it.

The page index maps a guest page to the TBs translated from it and marks the page
CODE in guest memory: any store to such a page (self-modifying code, a debugger
write), an munmap or mprotect of it invalidates them.

A TB is found by its key: its pc when it was translated with the default
flags, else (pc, flags), the flags being what changes a translation of the
same code (STEP: one instruction, never chained, for a single-stepping
debugger; frontends may add bits derived from CPU state, none for riscv64).
The hot path (chained exits, `fns.get(pc)` of indirect jumps) only ever probes
plain pcs, so it never meets a TB of other flags, and those are indexed by page
and invalidated like any other.

Guest threads share the cache: its multi-step updates (adding, linking,
invalidating) hold one re-entrant lock, so a TB is never linked into the cache
half-invalidated.  Lookups (one dict probe) take no lock.
"""
import threading

from .stats import STATS

STEP = 1                                # translation flag: one instruction, not chained


class TB:
    """`region`: None, or the TBs entering one piece of code (a native region
    with other entries: llvm_emit's block.entries), its own TB first; only that
    one has exits.  They live and die together (invalidate, replace)."""
    __slots__ = ("pc", "key", "size", "ninsns", "fn", "pages", "links", "stubs", "targets",
                 "incoming", "valid", "tier", "promoting", "region")

    def __init__(self, pc, size, ninsns, pages, targets, flags=0, tier=0):
        self.pc = pc
        self.key = (pc, flags) if flags else pc
        self.size = size
        self.ninsns = ninsns
        self.fn = None
        self.pages = pages
        self.targets = targets          # guest pc of each direct exit
        self.stubs = []
        self.links = []                 # what exit k returns: a stub or the successor's fn
        self.incoming = []              # (tb, k) pairs that jump here
        self.valid = True
        self.tier = tier                # index in the engine's tiers
        self.promoting = False          # its next tier's code is being made (compile thread)
        self.region = None

    def __repr__(self):
        return f"TB({self.pc:#x}, {self.ninsns} insns)"


class TBContext:
    """What a backend's compiled code may use."""

    __slots__ = ("mem", "links", "lookup", "fns", "counter", "pending", "cache", "hot", "promote", "slow")

    def __init__(self, mem, links, lookup, fns, counter, pending, cache=None):
        self.mem, self.links, self.lookup, self.fns = mem, links, lookup, fns
        self.counter, self.pending = counter, pending
        self.cache = cache              # the TBCache (a native backend keeps its state there)
        # a tier that counts hotness (backend.counts_hotness): each entry and loop
        # back-edge calls hot(); when it returns true the code returns promote(pc),
        # pc being where it stopped (the TB is hot, or its replacement may be ready)
        self.hot = self.promote = None
        # native code whose access failed its inline check (a page crossing, a
        # watched or code page...) may leave before that instruction: slow(nat, pc)
        # -> the function that runs it alone and goes on (None: it calls back)
        self.slow = None


class TBCache:
    def __init__(self, mem, chaining=True):
        self.mem = mem
        self.chaining = chaining
        self.by_pc = {}                 # pc -> TB
        self.fns = {}                   # pc -> TB function (the indirect-jump lookup)
        self.by_page = {}
        self.lock = threading.RLock()
        self.native = None              # a native backend's state: its links follow ours (_relinked)
        mem.on_code_write = self.invalidate_page

    def after_fork(self):
        self.lock = threading.RLock()

    def get(self, pc, flags=0):
        return self.by_pc.get((pc, flags) if flags else pc)

    def add(self, tb):
        with self.lock:
            self.index(tb)
            self.publish(tb)

    def index(self, tb):
        """tb's pages hold translated code: a write to them invalidates tb (which
        need not be published yet: code still being compiled)."""
        with self.lock:
            for pg in tb.pages:
                self.by_page.setdefault(pg, set()).add(tb)
                self.mem.mark_code(pg)

    def publish(self, tb):
        """tb (indexed, its fn made) is what runs at its key from now on."""
        with self.lock:
            self.by_pc[tb.key] = tb
            self.fns[tb.key] = tb.fn
            STATS.tbs_translated += 1

    def discard(self, tb):
        """A TB made but never published (its code came too late): let it go."""
        with self.lock:
            if tb.valid:
                self.invalidate(tb)
            elif self.native is not None and tb.fn is not None:
                self.native.drop(tb)

    def link(self, src, k, dst):
        with self.lock:
            if not self.chaining or not src.valid or not dst.valid:
                return
            src.links[k] = dst.fn
            dst.incoming.append((src, k))
            self._relinked(src, k)
            STATS.chains_made += 1

    def _relinked(self, src, k):
        """src.links[k] changed: native code's slot for that exit follows."""
        if self.native is not None:
            self.native.patch(src, k)

    def replace(self, old, new):
        """new (already added) takes over old's place: every jump into old now goes to new."""
        with self.lock:
            if not old.valid:
                # (old's code was written while new was made from it, by another
                # thread: native code runs without the GIL; new may hold the old bytes)
                self.invalidate(new)
                return
            for src, k in old.incoming:
                if src.links[k] is old.fn:
                    src.links[k] = new.fn
                    new.incoming.append((src, k))
                    self._relinked(src, k)
            old.incoming = []
            old.valid = False
            # (its own exits let go of their successors, as invalidate's do: else a
            # successor replaced later would relink this dead TB, and patch native
            # chain slots that may belong to another TB by then)
            for k, fn in enumerate(old.links):
                if fn is not old.stubs[k]:
                    old.links[k] = old.stubs[k]
                    self._relinked(old, k)
            if self.native is not None:
                self.native.drop(old)
            for pg in old.pages:
                s = self.by_page.get(pg)
                if s is not None:
                    s.discard(old)
            self._region_gone(old)

    def _region_gone(self, tb):
        """tb is no longer valid: when it was a region's own TB, its other
        entries go too (their code was its code)."""
        if tb.region is not None and tb.region[0] is tb:
            for other in tb.region[1:]:
                self.invalidate(other)

    def invalidate(self, tb):
        with self.lock:
            if not tb.valid:
                return
            tb.valid = False
            if self.by_pc.get(tb.key) is tb:
                del self.by_pc[tb.key]
                del self.fns[tb.key]
            for src, k in tb.incoming:
                if src.links[k] is tb.fn:
                    src.links[k] = src.stubs[k]
                    self._relinked(src, k)
                    STATS.chains_undone += 1
            tb.incoming = []
            for k, fn in enumerate(tb.links):
                if fn is not tb.stubs[k]:
                    tb.links[k] = tb.stubs[k]
                    self._relinked(tb, k)
            if self.native is not None:
                self.native.drop(tb)
            for pg in tb.pages:
                s = self.by_page.get(pg)
                if s is not None:
                    s.discard(tb)
                    if not s:
                        del self.by_page[pg]
                        self.mem.unmark_code(pg)
            STATS.invalidations += 1
            for other in tb.region or ():           # (its region goes with it)
                self.invalidate(other)

    def invalidate_page(self, page):
        with self.lock:
            for tb in list(self.by_page.get(page, ())):
                self.invalidate(tb)
            if page not in self.by_page:
                self.mem.unmark_code(page)

    def invalidate_range(self, start, end):
        first, last = start >> 12, (end - 1) >> 12
        pages = range(first, last + 1) if last - first < len(self.by_page) else \
            sorted(pg for pg in list(self.by_page) if first <= pg <= last)
        for pg in pages:
            if pg in self.by_page:
                self.invalidate_page(pg)

    def flush(self):
        with self.lock:
            for tb in list(self.by_pc.values()):
                self.invalidate(tb)
            for pg in list(self.by_page):
                self.invalidate_page(pg)
