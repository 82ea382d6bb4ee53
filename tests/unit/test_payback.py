"""The payback rule's estimate of a block's time (tiering.NativePolicy.pays_back):
the guest instructions its code counted (tiering.Hotness), as the bytecode
JIT estimates them (an entry the instructions to its first back-edge, a
back-edge the loop's) and native code (the same, and an exit its path):
instructions x its tier's cost per instruction (INSN_COST, NATIVE_INSN_COST)
against PAYBACK x the compile's expected cost, not events each standing for a
whole superblock (strings 250 was charged 10x its real time and compiled
native code it had no time to use) nor for its smallest loop (strings' main
region, its loops nested: 1/4 of its time)."""
import pytest

from pydbt.tiering import INSN_COST, NATIVE_INSN_COST, PAYBACK, Hotness, NativePolicy

from test_call_copies import addi, bnez


class TB:
    def __init__(self, ninsns):
        self.pc, self.ninsns = 0x10000, ninsns


@pytest.mark.parametrize("on_native, cost", [(False, INSN_COST), (True, NATIVE_INSN_COST)])
def test_a_blocks_time_is_its_instructions_at_its_tiers_cost(on_native, cost):
    p = NativePolicy(native_warmup=0.2)
    tb, hot = TB(200), Hotness(1)
    need = PAYBACK * p.compile_cost(tb.ninsns)
    hot.events = int(need / cost) + 1
    assert p.pays_back(tb, hot, on_native)
    hot.events -= 2
    assert not p.pays_back(tb, hot, on_native)


# a2 += 1 ; L: a0 += 1 ; a1 -= 1 ; bnez a1, L ; ecall    (a 3-instruction loop inside)
LOOP_INSIDE = [addi(12, 12, 1), addi(10, 10, 1), addi(11, 11, -1), bnez(11, -8), 0x00000073]


def _hotness_after(runs, thresholds, backends):
    """Run LOOP_INSIDE `runs` times on an engine of `backends`: -> (the tier of
    its TB then, tier -> the Hotness each counting tier's TB had)."""
    from pydbt.errors import Syscall
    from test_promotion import engine_rig
    proc, engine = engine_rig(LOOP_INSIDE, thresholds=thresholds, backends=backends, sync=True)
    hots = {}
    context = engine._context

    def spy(tb):
        ctx = context(tb)
        if ctx.hot is not None:
            hots[tb.tier] = ctx.hot
        return ctx
    engine._context = spy
    cpu = proc.cpu
    for _ in range(runs):
        cpu.pc, cpu.regs[11] = 0x10000, 4
        with pytest.raises(Syscall):
            engine.run_until_exception(cpu)
    return engine.cache.get(0x10000).tier, hots


def test_the_bytecode_jit_counts_its_instructions():
    pytest.importorskip("llvmlite")
    tier, hots = _hotness_after(3, (1, 10 ** 6), ("interp", "pybytecode", "llvm"))
    assert tier == 1                                  # (the bytecode JIT's)
    h = hots[1]
    # each run on it: the entry 4 (a2 += 1 and the loop's first turn), 3 back-edges
    # of the 3-instruction loop (the ecall uncounted: an estimate)
    counted = h.events + h.filled - h.cell.cell_contents
    assert counted and counted % 13 == 0, counted


def test_quick_native_code_counts_its_instructions():
    """Quick native code counts guest instructions itself, the estimate that
    optimizes it (pays_back): instructions x NATIVE_INSN_COST."""
    pytest.importorskip("llvmlite")
    tier, hots = _hotness_after(4, (1, 1, 10 ** 6), ("interp", "pybytecode", "llvm-quick", "llvm"))
    assert tier == 2                                  # (quick native code)
    q = hots[2]
    # each run on it: a2 += 1, 4 turns of the 3-instruction loop, the ecall
    counted = q.events + q.filled - q.cell.cell_contents
    assert counted and counted % 14 == 0, counted


def test_the_optimizing_tier_keeps_to_its_share():
    """-compile-share: LLVM's CPU (its compiles, and llvmlite's load until it is
    done: LOAD_COST) within `share` of the time since the warm-up, the next
    compile included; so a short run affords no load at all."""
    from pydbt.tiering import LOAD_COST
    p = NativePolicy(native_warmup=0.0, share=0.03)
    t0, cost = p.native_from, p.compile_cost(20)
    first = (LOAD_COST + cost) / 0.03                   # (~2.3 s of run)
    assert not p.affords(20, t0 + first - 0.01) and p.affords(20, t0 + first + 0.01)
    p.loaded = True
    assert p.affords(20, t0 + cost / 0.03 + 0.01)
    p.spent, p.finish_spent = 0.010, 0.020              # (what it spent: both halves)
    assert not p.affords(20, t0 + cost / 0.03 + 0.01)
    assert p.affords(20, t0 + (cost + 0.030) / 0.03 + 0.01)
    assert NativePolicy(native_warmup=0.0).affords(20, t0)        # (no share: no limit)


def test_a_refused_block_asks_again_when_it_may_be_compiled():
    """NativePolicy.wait: refused by the share, a block need not ask before
    a quarter of the time to its affordability, at its tier's cost per instruction
    (native code's asks are callbacks into Python); Hotness.defer holds its
    next ask back that far, and no further than that."""
    from pydbt.tiering import LOAD_COST, RECHECK
    p = NativePolicy(native_warmup=0.0, share=0.03)
    tb, cost = TB(20), p.compile_cost(20)
    n = p.wait(tb, None, True)
    ahead = (LOAD_COST + cost) / 0.03 / NATIVE_INSN_COST / 4    # (~2.3 s of native code, a quarter)
    assert ahead * 0.99 < n <= ahead
    assert p.wait(tb, None, False) == pytest.approx(n * NATIVE_INSN_COST / INSN_COST, rel=0.01)
    assert NativePolicy(native_warmup=0.0).wait(tb, None, True) == 0          # (no share: now)
    hot = Hotness(100)
    assert not hot(99) and hot(1)                    # (hot at its threshold: it asked, refused)
    hot.defer(10 * RECHECK)
    assert not hot(10 * RECHECK - 1) and hot(1)      # (the next ask after that many, not before)
    hot.defer(1)                                     # (never sooner than its recheck)
    assert not hot(RECHECK - 1) and hot(1)
    # the payback rule's half (half_paid's early load) counts too
    q = NativePolicy(native_warmup=0.001)
    q.native_from -= 1.0
    hot = Hotness(1)
    hot(1)
    want = 0.5 * PAYBACK * q.compile_cost(20) / NATIVE_INSN_COST - hot.events
    assert q.wait(tb, hot, True) == pytest.approx(want / 4)
