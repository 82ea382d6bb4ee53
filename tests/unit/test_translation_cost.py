"""What makes translation cheaper must not change what it makes.

* The IR of a translated block, and the interpreter's TB made of it, hold no
  reference cycle and do not keep the block alive: the block is freed by its
  reference count, not left for the cyclic collector (whose passes over a
  run's surviving objects cost strings 250 ~60-100 ms).
"""
import gc
import weakref

from pydbt.backends import get_backend
from pydbt.frontends.riscv64.translate import translate

from test_backends import Ran, CODE, Ctx, GuestMemoryWith


# 0: addi a0, a0, 1 ; 4: bnez a0, 0 (a loop: back() is asked) ; 8: j .+256
LOOP = [0x00150513, 0xfe051ee3, 0x1000006f]
EVERYWHERE = Ran(lambda a: CODE <= a < CODE + 0x100)


def _freed_without_gc(make):
    """make() -> (object to watch, something to keep alive): is the object freed by
    reference counting alone once make's other results are dropped?"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        obj, keep = make()
        ref = weakref.ref(obj)
        del obj
        return ref() is None, keep
    finally:
        if enabled:
            gc.enable()


def test_a_translated_block_is_freed_by_its_reference_count():
    for superblock, profile in [(False, None), (True, None), (True, EVERYWHERE)]:
        freed, _ = _freed_without_gc(
            lambda: (translate(GuestMemoryWith(LOOP), CODE, 64, superblock=superblock, profile=profile), None))
        assert freed, (superblock, profile)


def test_the_interpreters_tb_does_not_keep_its_block():
    def make():
        blk = translate(GuestMemoryWith(LOOP), CODE, 64, superblock=False)
        fn = get_backend("interp").compile(blk, Ctx(blk))
        return blk, fn
    freed, fn = _freed_without_gc(make)
    assert freed and callable(fn)


def test_decoded_words_are_kept_and_match_decode(monkeypatch):
    from pydbt.frontends.riscv64 import translate as tr
    from pydbt.frontends.riscv64.decode import ENCODINGS, decode
    monkeypatch.setattr(tr, "_DECODED", {})
    monkeypatch.setattr(tr, "DECODED_MAX", 64)
    words = [row[2] for row in ENCODINGS] + [0x0001, 0x4501, 0x0000, 0xffffffff]
    for w in words * 2:
        got, want = tr._decoded(w), decode(w)
        assert (got is None) == (want is None), hex(w)
        if want is not None:
            assert [getattr(got, f) for f in want.__slots__] == [getattr(want, f) for f in want.__slots__]
        assert tr._decoded(w) is got                     # kept: the same object again
        assert len(tr._DECODED) <= 64                    # (cleared when full)
