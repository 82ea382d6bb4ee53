"""Translation blocks and the TB cache: lookup, chaining, page index, invalidation.

A `TB` holds the compiled code of one guest block (`fn`), the guest pages it was
translated from, and its chain links: `links[slot]` is the successor TB for the
block's `slot`-th `goto_tb` exit once it is known.  Every link is recorded on
the target too (`incoming`), so invalidating a TB unpatches every jump into it.

The page index maps a guest page to the TBs translated from it and marks the
page CODE in guest memory: any store to such a page (self-modifying code, a
debugger write), an munmap or mprotect of it, or `fence.i` invalidates them.
"""
from .stats import STATS


class TB:
    __slots__ = ("pc", "size", "ninsns", "fn", "pages", "links", "incoming", "valid", "block")

    def __init__(self, pc, size, ninsns, fn, pages, nexits, block=None):
        self.pc = pc
        self.size = size
        self.ninsns = ninsns
        self.fn = fn
        self.pages = pages
        self.links = [None] * nexits
        self.incoming = []          # (tb, slot) pairs that jump here
        self.valid = True
        self.block = block

    def __repr__(self):
        return f"TB({self.pc:#x}, {self.ninsns} insns)"


class TBCache:
    def __init__(self, mem, chaining=True):
        self.mem = mem
        self.chaining = chaining
        self.by_pc = {}
        self.by_page = {}
        mem.on_code_write = self.invalidate_page

    def get(self, pc):
        return self.by_pc.get(pc)

    def add(self, tb):
        self.by_pc[tb.pc] = tb
        for pg in tb.pages:
            self.by_page.setdefault(pg, set()).add(tb)
            self.mem.mark_code(pg)
        STATS.tbs_translated += 1

    def link(self, src, slot, dst):
        if not self.chaining or not src.valid or not dst.valid:
            return
        src.links[slot] = dst
        dst.incoming.append((src, slot))
        STATS.chains_made += 1

    def invalidate(self, tb):
        if not tb.valid:
            return
        tb.valid = False
        if self.by_pc.get(tb.pc) is tb:
            del self.by_pc[tb.pc]
        for src, slot in tb.incoming:
            if src.links[slot] is tb:
                src.links[slot] = None
                STATS.chains_undone += 1
        tb.incoming = []
        for i, dst in enumerate(tb.links):
            if dst is not None:
                dst.incoming = [(s, k) for s, k in dst.incoming if s is not tb]
                tb.links[i] = None
        for pg in tb.pages:
            s = self.by_page.get(pg)
            if s is not None:
                s.discard(tb)
                if not s:
                    del self.by_page[pg]
                    self.mem.unmark_code(pg)
        STATS.invalidations += 1

    def invalidate_page(self, page):
        for tb in list(self.by_page.get(page, ())):
            self.invalidate(tb)
        if page not in self.by_page:
            self.mem.unmark_code(page)

    def invalidate_range(self, start, end):
        for pg in range(start >> 12, ((end - 1) >> 12) + 1):
            if pg in self.by_page:
                self.invalidate_page(pg)

    def flush(self):
        for tb in list(self.by_pc.values()):
            self.invalidate(tb)
        for pg in list(self.by_page):
            self.invalidate_page(pg)
