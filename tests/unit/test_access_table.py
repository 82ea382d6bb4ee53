"""The guest memory's access table (the bytecode JIT's page -> views list) is
made on first use: made late, from the permissions so far, it is the table
one made at the start and kept through the same changes would be."""
import random

from pydbt.runtime.memory import GuestMemory, R, W, X, PAGE_SHIFT

BASE = 0x100000


def _changes(mem, rng, n):
    """n random maps, protects, unmaps, code marks and watches in 64 pages."""
    for _ in range(n):
        first = rng.randrange(64)
        pages = rng.randrange(1, 64 - first + 1)
        start, length = BASE + (first << PAGE_SHIFT), pages << PAGE_SHIFT
        what = rng.randrange(5)
        if what == 0:
            mem.map(start, length, rng.choice([R, R | W, R | X, R | W | X, W, 0]))
        elif what == 1 and mem.vmas:
            mem.protect(start, length, rng.choice([R, R | W, R | X, 0]))
        elif what == 2:
            mem.unmap(start, length)
        elif what == 3:
            page = (BASE >> PAGE_SHIFT) + first
            if mem.perm[page] & X:
                mem._set_code(page, rng.random() < 0.7)
        else:
            at = start + rng.randrange(length)
            mem.set_watches([(at, rng.choice([1, 8, 5000]), rng.choice(["watch", "rwatch", "awatch"]))]
                            if rng.random() < 0.6 else [])


def _kinds(mem):
    """the table as each entry's kind (each memory has views of its own)"""
    return [None if v is None else "rw" if v is mem._rw else "ro" if v is mem._ro else "?" for v in mem.pages]


def test_made_late_is_as_kept_from_the_start():
    seen = set()
    for seed in range(20):
        early, late = GuestMemory(1 << 24), GuestMemory(1 << 24)
        assert late.pages is None                     # (none until asked)
        early.access_table()
        _changes(early, random.Random(seed), 30)
        _changes(late, random.Random(seed), 30)
        assert late.pages is None
        late.access_table()
        assert _kinds(late) == _kinds(early), seed
        _changes(early, random.Random(seed + 100), 20)   # and kept up to date from then on
        _changes(late, random.Random(seed + 100), 20)
        assert _kinds(late) == _kinds(early), seed
        seen.update(_kinds(late))
    assert seen == {None, "rw", "ro"}                   # (the changes made every kind)


def test_entries_follow_the_permissions():
    mem = GuestMemory(1 << 24)
    mem.map(BASE, 0x3000, R | W)
    mem.map(BASE + 0x3000, 0x1000, R)
    mem.map(BASE + 0x4000, 0x1000, W)
    table = mem.access_table()
    pg = BASE >> PAGE_SHIFT
    assert hasattr(table[pg], "wQ") and table[pg] is table[pg + 2]      # writable: store slots
    assert not hasattr(table[pg + 3], "wQ") and hasattr(table[pg + 3], "Q")
    assert table[pg + 4] is None                                        # write-only: checked
    assert table[pg - 1] is None and table[-1] is None                  # unmapped, and the pad
