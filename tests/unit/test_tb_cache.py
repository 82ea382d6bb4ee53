"""TB cache: chaining with back-links, and invalidation by writes to code pages."""
import pytest

from pydbt.tb import TB, TBCache
from pydbt.runtime.memory import GuestMemory, R, W, X, CODE
from pydbt.errors import GuestFault


@pytest.fixture
def mem():
    m = GuestMemory(space=1 << 32)
    m.map(0x10000, 0x3000, R | W | X)
    return m


def tb(pc, size=8, exits=2):
    pages = list(range(pc >> 12, ((pc + size - 1) >> 12) + 1))
    t = TB(pc, size, size // 4, pages, [pc + size] * exits)
    t.fn = lambda cpu: None
    t.stubs = [lambda cpu: None for _ in range(exits)]
    t.links = list(t.stubs)
    return t


def test_link_and_invalidate_unlinks(mem):
    cache = TBCache(mem)
    a, b = tb(0x10000), tb(0x11000)
    cache.add(a)
    cache.add(b)
    cache.link(a, 1, b)
    assert a.links[1] is b.fn and (a, 1) in b.incoming
    assert mem.perm[0x10] & CODE and mem.perm[0x11] & CODE
    mem.store(0x11004, 0x13, 4)             # a store into b's page
    assert not b.valid and cache.get(0x11000) is None
    assert a.links[1] is a.stubs[1]          # the jump into b was undone
    assert a.valid and cache.get(0x10000) is a
    assert not mem.perm[0x11] & CODE         # no translations left on that page
    assert mem.load(0x11004, 4) == 0x13      # and the store happened


class Patches:
    """Stands for a native state: records which TBs' exit slots are patched."""

    def __init__(self):
        self.patched, self.dropped = [], []

    def patch(self, src, k):
        self.patched.append((src, k))

    def drop(self, t):
        self.dropped.append(t)


def test_a_replaced_tb_lets_go_of_its_successors(mem):
    """A TB replaced by its next tier's stops jumping to its successors, so a
    successor replaced later relinks only live TBs (a dead TB's native chain
    slots may belong to another TB by then: quicksort crashed so)."""
    cache = TBCache(mem)
    cache.native = native = Patches()
    a, b = tb(0x10000), tb(0x11000)
    cache.add(a)
    cache.add(b)
    cache.link(a, 1, b)
    a2 = tb(0x10000)
    cache.add(a2)
    cache.replace(a, a2)
    assert not a.valid and native.dropped == [a]
    assert a.links[1] is a.stubs[1]
    cache.link(a2, 1, b)
    native.patched.clear()
    b2 = tb(0x11000)
    cache.add(b2)
    cache.replace(b, b2)
    assert a2.links[1] is b2.fn and (a2, 1) in b2.incoming
    assert all(src is not a for src, _ in native.patched), native.patched
    assert (a2, 1) in native.patched


def test_nochain(mem):
    cache = TBCache(mem, chaining=False)
    a, b = tb(0x10000), tb(0x11000)
    cache.add(a)
    cache.add(b)
    cache.link(a, 0, b)
    assert a.links == a.stubs


def test_tb_spanning_pages_invalidated_by_either(mem):
    cache = TBCache(mem)
    t = tb(0x10ffc, size=8)
    cache.add(t)
    assert t.pages == [0x10, 0x11]
    mem.store(0x11000, 1, 1)
    assert not t.valid


def test_munmap_and_mprotect_invalidate(mem):
    cache = TBCache(mem)
    t1, t2 = tb(0x10000), tb(0x12000)
    cache.add(t1)
    cache.add(t2)
    mem.protect(0x10000, 0x1000, R)          # no longer executable
    assert not t1.valid
    mem.unmap(0x12000, 0x1000)
    assert not t2.valid


def test_store_to_readonly_page_faults(mem):
    mem.protect(0x10000, 0x1000, R | X)
    with pytest.raises(GuestFault) as e:
        mem.store(0x10010, 1, 8)
    assert e.value.signo == 11 and e.value.addr == 0x10010 and e.value.code == 2  # SEGV_ACCERR
    with pytest.raises(GuestFault) as e:
        mem.load(0x20000, 8)
    assert e.value.code == 1                                     # SEGV_MAPERR
    with pytest.raises(GuestFault):
        mem.load(1 << 40, 8)                                     # beyond the address space
    with pytest.raises(GuestFault) as e:
        mem.load(0x12ffc, 8)                                     # crosses into an unmapped page
    assert e.value.addr == 0x13000


def test_translation_flags_are_part_of_the_key(mem):
    """A single-step TB (flag STEP) and the ordinary TB of the same pc live side by
    side: plain-pc lookups (chaining, indirect jumps) never see the STEP one, and
    a store to their page invalidates both."""
    from pydbt.tb import STEP
    cache = TBCache(mem)
    plain = tb(0x10000)
    step = TB(0x10000, 4, 1, [0x10], [0x10004], flags=STEP)
    step.fn = lambda cpu: None
    step.links = step.stubs = [lambda cpu: None]
    cache.add(plain)
    cache.add(step)
    assert cache.get(0x10000) is plain and cache.get(0x10000, STEP) is step
    assert cache.fns[0x10000] is plain.fn and step.fn not in [cache.fns.get(0x10000)]
    mem.store(0x10000, 0x13, 4)
    assert not plain.valid and not step.valid
    assert cache.get(0x10000) is None and cache.get(0x10000, STEP) is None
    assert not mem.perm[0x10] & CODE


def test_flush_icache_drops_the_translations_of_its_range(mem):
    """riscv_flush_icache(start, end) drops the TBs of [start, end) (a store that
    raced a page's first translation in another thread left one holding old
    bytes), the others stay; a range as wide as the address space too."""
    from types import SimpleNamespace
    from pydbt.runtime.sys_arch import sys_flush_icache
    cache = TBCache(mem)
    a, b, c = tb(0x10000), tb(0x11000), tb(0x12ffc)      # (c spans two pages)
    for t in (a, b, c):
        cache.add(t)
    proc = SimpleNamespace(engine=SimpleNamespace(cache=cache))
    assert sys_flush_icache(proc, 0x11000, 0x11004, 0) == 0
    assert a.valid and not b.valid and c.valid
    assert sys_flush_icache(proc, 0x13000, 0x13001, 1) == 0        # c's second page
    assert a.valid and not c.valid
    assert sys_flush_icache(proc, 0x10000, 0x10000, 0) == 0 and a.valid    # empty range
    assert sys_flush_icache(proc, 0, (1 << 64) - 1, 0) == 0
    assert not a.valid and not cache.by_page
    assert sys_flush_icache(proc, 0, 8, 2) < 0                     # bad flags: EINVAL, nothing done


def test_decoded_words_still_there(mem):
    """GuestMemory.holds (the engine's check after marking a TB's pages as
    code: a write between the decoding and the marking went unseen): the
    decoded words as they are, one changed, one no longer executable, one
    across two pages, one in an unmapped page"""
    from pydbt.frontends.riscv64.translate import translate
    words = [0x00150513, 0x0505, 0x00008067]          # addi a0, a0, 1; c.addi a0, 1; ret
    mem.poke(0x10ff8, b"".join(w.to_bytes(4 if w & 3 == 3 else 2, "little") for w in words))
    blk = translate(mem, 0x10ff8, 64)
    assert [a for a, _ in blk.insns] == [0x10ff8, 0x10ffc, 0x10ffe] and blk.words == words
    assert mem.holds(blk.pages, blk.insns, blk.words)
    mem.store(0x11000, 0x80, 1)                       # the ret's third byte, in the next page
    assert not mem.holds(blk.pages, blk.insns, blk.words)
    mem.store(0x11000, 0, 1)
    assert mem.holds(blk.pages, blk.insns, blk.words)
    mem.protect(0x11000, 0x1000, R)                   # no longer executable
    assert not mem.holds(blk.pages, blk.insns, blk.words)
    mem.unmap(0x11000, 0x1000)
    assert not mem.holds(blk.pages, blk.insns, blk.words)
