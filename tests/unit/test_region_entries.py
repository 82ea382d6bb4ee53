"""A region entered at other pcs than its first (translate.py's block.entries,
the native backend's entry functions, the engine's TB.region).

Where: a label goes only where nothing the path before assumed holds (not in an
inlined callee, whose return was made direct on the caller's link register, not
in a call's copy); loop heads and the pcs the profile names get one.  What:
entered at any of its entries, the region's native code does what the reference
interpreter does entered at the same label of the same block: registers, memory,
how it ends, and the exact instruction count.  The engine: the region's other
entries replace the TBs at their pcs, share its code, and go with it.
"""
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pydbt.errors import Syscall
from pydbt.frontends.riscv64.translate import translate

from test_backends import CODE, GuestMemoryWith, Ran, machine_state, programs
from test_call_copies import addi, add, bnez, jal, RET

A0, A1, A2, T1, RA = 10, 11, 12, 6, 1
ECALL = 0x00000073


class Entries(Ran):
    """A profile: everything ran; `want(pc)` names the pcs to enter at."""

    def __init__(self, want):
        super().__init__(lambda a: True)
        self.entries = lambda pc, inside: want(pc)


def _entry_pcs(blk):
    return [pc for pc, _, _ in blk.entries]


def test_no_entry_inside_an_inlined_callee():
    # main: jal f ; Q: add a2, a2, a0 ; ecall ; f: a0 += 3 ; ret
    words = [jal(RA, 12), add(A2, A2, A0), ECALL, addi(A0, A0, 3), RET]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=Entries(lambda pc: True))
    f = CODE + 12
    assert [a for a, _ in blk.insns] == [CODE, f, f + 4, CODE + 4, CODE + 8]   # f inlined
    # the return point and after may be entered (nothing assumed there); f's
    # code may not: its return jumps to Q only because this path set ra
    assert _entry_pcs(blk) == [CODE + 4, CODE + 8]


def test_loop_heads_are_entries_without_asking():
    # a0 = 0 ; L: a0 += 1 ; a1 -= 1 ; bnez a1, L ; ecall
    words = [addi(A0, 0, 0), addi(A0, A0, 1), addi(A1, A1, -1), bnez(A1, -8), ECALL]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=Entries(lambda pc: False))
    assert _entry_pcs(blk) == [CODE + 4]


def test_no_entry_inside_a_calls_copy():
    # main: jal f ; jal f ; ecall ; f: a0 += 3 ; ret   (the second call copies f)
    words = [jal(RA, 12), jal(RA, 8), ECALL, addi(A0, A0, 3), RET]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=Entries(lambda pc: True))
    assert CODE + 12 not in _entry_pcs(blk) and CODE + 16 not in _entry_pcs(blk)
    assert CODE + 4 in _entry_pcs(blk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), want=st.integers(0, (1 << 26) - 1), k=st.integers(1, 4))
def test_entered_anywhere_llvm_is_the_interpreter(data, want, k):
    """Random branchy machine code as one region with entries at random pcs:
    entered at its k-th entry, native code ends as the interpreter does."""
    pytest.importorskip("llvmlite")
    words, regs, fregs, frm = data.draw(programs(branchy=True))
    pick = lambda a: (want >> ((a - CODE) // 4 % 26)) & 1       # noqa: E731
    expect = machine_state("interp", words, regs, fregs, frm, profile=Entries(pick), entry=k)
    if expect is None:
        return
    got = machine_state("llvm", words, regs, fregs, frm, profile=Entries(pick), entry=k)
    assert got[0] == expect[0], "how it ended (and the instruction count)"
    assert got[1:] == expect[1:], "registers, FP state, memory"


def test_the_engine_shares_a_regions_code_with_its_entries():
    """A loop's head reached by an indirect jump before the region was made:
    the region (llvm, the last tier) is also entered there, that TB shares its
    code, and a write to the code page drops both."""
    pytest.importorskip("llvmlite")
    from test_promotion import engine_rig
    # P: a0 += 1 ; L: a1 -= 1 ; a2 += a0 ; bnez a1, L ; ecall
    words = [addi(A0, A0, 1), addi(A1, A1, -1), add(A2, A2, A0), bnez(A1, -8), ECALL]
    proc, engine = engine_rig(words, thresholds=(2,), backends=("interp", "llvm"), sync=True)
    cpu = proc.cpu
    head = CODE + 4
    engine.lookup(head)                       # (as an indirect jump there would)
    for rounds in (3, 3, 3, 5):
        cpu.pc, cpu.regs[A0], cpu.regs[A1], cpu.regs[A2] = CODE, 7, rounds, 0
        with pytest.raises(Syscall):
            engine.run_until_exception(cpu)
        assert cpu.regs[A2] == 8 * rounds
    main, entry = engine.cache.get(CODE), engine.cache.get(head)
    assert main.tier == entry.tier == 1 and main.region == [main, entry]
    assert entry.fn.native.main is main.fn.native
    # entered at the head, it runs the region's code
    cpu.pc, cpu.regs[A0], cpu.regs[A1], cpu.regs[A2] = head, 2, 4, 1
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)
    assert (cpu.regs[A1], cpu.regs[A2]) == (0, 9)
    proc.mem.poke(CODE + 16, struct.pack("<I", ECALL))    # a write to the code page
    engine.cache.invalidate_page(CODE >> 12)
    assert not main.valid and not entry.valid


def test_a_region_made_again_does_not_stop_at_its_own_entries():
    """Re-forming a region: its own other entries are not other regions'
    starts to chain to (it was cut there, 303 -> 13 instructions, strings'
    main loop), another region's are."""
    from pydbt.tb import TB, TBCache
    from pydbt.tiering import Profile

    class Mem:
        on_code_write = None

        def mark_code(self, pg):
            pass

    cache = TBCache(Mem())
    main = TB(CODE, 400, 100, [CODE >> 12], [CODE + 0x200], tier=2)
    entry = TB(CODE + 0x40, 300, 80, [CODE >> 12], [], tier=2)
    main.region = entry.region = [main, entry]
    for t in (main, entry):
        t.fn = lambda cpu: None
        cache.add(t)
    assert not Profile(cache, 2, True, CODE).entry(CODE + 0x40)
    assert Profile(cache, 2, True, CODE + 0x800).entry(CODE + 0x40)
