"""Quick native code counts its own hotness in guest instructions (llvm_quick.py,
llvm_emit.Emitter.count_hot, llvm.NativeState.hot_word): a loop's back-edge
subtracts the loop's instructions from the TB's native countdown word, an
exit the instructions before it, and at each entry and back-edge, at 0 or
below, the code calls back into Python, where its tiering.Hotness refills
the word and asks the engine; the code goes on.

- the count is the instructions run (where no branch skips any);
- without a warm-up the quick TB is optimized at the first check after its
  -opt-threshold-th instruction, not before;
- a word left below 0 (two threads decrementing it, or an exit's count)
  still calls back, and what it went below counts;
- under the payback rule the TB is optimized once its instructions x
  NATIVE_INSN_COST pay for an optimizing compile, not before;
- only code of a counting tier has the countdown (the optimized code none),
  and a freed TB's word is used again.
Oracle: exact counts (run(n) is n iterations of LOOP's 2 instructions, then
its ecall, which Python runs).
"""
import ctypes

import pytest

pytest.importorskip("llvmlite")

from pydbt import tiering
from pydbt.backends import llvm_emit as E
from pydbt.tiering import RECHECK

from test_promotion import CODE, LOOP, engine_rig, run

QUICK = ("interp", "pybytecode", "llvm-quick", "llvm")


def _counted(hot):
    """the events a Hotness has seen so far (emptied cells and the one counting)"""
    return hot.events + hot.filled - hot.cell.cell_contents


def insns(n):
    """the instructions run(n) runs in LOOP's native code"""
    return 2 * n


def _to_quick(proc, engine):
    """Run the loop until its quick native code is in, and the code's Hotness."""
    for _ in range(20):
        run(proc, engine, 10)
        while engine.compiler.jobs:
            engine.compiler.run()
        tb = engine.cache.get(CODE)
        if engine.tiers[tb.tier].name == "llvm-quick":
            return tb, tb.fn.native.hot
    raise AssertionError("the loop never became quick native code")


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_quick_code_counts_the_instructions_it_runs(n):
    proc, engine = engine_rig(LOOP, (1, 5, 10**9), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    done = _counted(hot)
    run(proc, engine, n)
    assert _counted(hot) - done == insns(n)


@pytest.mark.parametrize("threshold", [300, 5000])
def test_without_a_warm_up_quick_code_is_optimized_at_its_threshold_exactly(threshold):
    proc, engine = engine_rig(LOOP, (1, 5, threshold), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    assert E.SYM_TB_HOT in tb.fn.native.text
    assert isinstance(hot.cell.cell_contents, int) and hot.cell is not None
    done = _counted(hot)
    assert done < threshold - 2 and done % 2 == 0
    run(proc, engine, (threshold - 2 - done) // 2)     # one iteration short
    assert _counted(hot) == threshold - 2
    assert not tb.promoting and not engine.compiler.jobs
    run(proc, engine, 2)                               # the threshold-th at the first back-edge
    assert tb.promoting and len(engine.compiler.jobs) == 1
    assert hot.events == threshold
    engine.compiler.run()
    new = engine.cache.get(CODE)
    assert engine.tiers[new.tier].name == "llvm" and not tb.valid
    assert E.SYM_TB_HOT not in new.fn.native.text      # (the last tier counts nothing)
    run(proc, engine, 1000)


def test_a_countdown_taken_below_zero_still_calls_back():
    """Two threads can both decrement a 0 before Python refills it, and an
    exit subtracts its path without a check: the code must still call back at
    its next check (a word left below 0 would never be hot again), and the
    instructions below 0 count."""
    proc, engine = engine_rig(LOOP, (1, 5, 10_000), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    asked = []
    hot.ask = lambda events: asked.append(events) or False
    hot.cell.cell_contents = -3
    run(proc, engine, 1)                                # (checked at its entry)
    assert asked == [10_003]                            # (its cell of 10,000 emptied, 3 more: hot)
    assert hot.cell.cell_contents == hot.recheck - insns(1)
    run(proc, engine, 5)
    assert _counted(hot) == 10_003 + insns(1) + insns(5)


def _promoted_at(engine, tb, hot):
    """-> a list that gets the events at which tb began promoting"""
    at, ask = [], hot.ask

    def watch(events):
        r = ask(events)
        if tb.promoting and not at:
            at.append(events)
        return r
    hot.ask = watch
    return at


def test_under_the_payback_rule_quick_code_is_optimized_once_its_time_pays(monkeypatch):
    monkeypatch.setattr(tiering, "OPT_FIXED", 2e-4)
    monkeypatch.setattr(tiering, "OPT_INSN_COST", 0.0)
    monkeypatch.setattr(tiering, "ASK_TIME", 0.0)      # (asks every RECHECK events)
    proc, engine = engine_rig(LOOP, (1, 5, 1), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    engine.policy.payback = True                       # (as at a warm-up's end)
    engine.policy.job_cpu = [0.0, 0]                   # (the quick compile's cost: not the rule's here)
    at = _promoted_at(engine, tb, hot)
    need = tiering.PAYBACK * 2e-4 / tiering.NATIVE_INSN_COST   # (instructions)
    assert need > 20 * RECHECK, "the test's loop is too big for its cost"
    run(proc, engine, int(need * 0.8) // 2)
    assert not tb.promoting and not engine.compiler.jobs
    assert hot.events >= int(need * 0.8) - RECHECK      # (asked, refused)
    run(proc, engine, (int(need * 0.2) + 2 * RECHECK) // 2)
    assert tb.promoting and len(engine.compiler.jobs) == 1
    assert need <= at[0] < need + RECHECK


def test_quick_code_asks_again_every_ms_of_its_estimated_time():
    """(a callback per RECHECK events would cost a small loop's quick code ~1 us
    in every few)"""
    proc, engine = engine_rig(LOOP, (1, 5, 300), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    engine.policy.native_from = float("inf")           # (never optimized: it asks on)
    want = round(tiering.ASK_TIME / tiering.NATIVE_INSN_COST)     # (instructions)
    assert hot.recheck == want > RECHECK
    asked = []
    hot.ask = lambda events: asked.append(events) or False
    done = _counted(hot)
    assert done < 300 and done % 2 == 0 and want % 2 == 0
    run(proc, engine, (300 - done + 2 * want) // 2 + 1)    # (+1: the last is checked at a back-edge)
    assert asked == [300, 300 + want, 300 + 2 * want]


def test_a_freed_quick_tbs_word_is_used_again():
    proc, engine = engine_rig(LOOP, (1, 5, 300), backends=QUICK)
    tb, hot = _to_quick(proc, engine)
    st = engine.cache.native
    word = tb.fn.native.imports[E.SYM_TB_HOT]
    assert st.hot_at[word] is hot
    run(proc, engine, 1000)
    engine.compiler.run()                               # (optimized: the quick TB dropped)
    assert not tb.valid
    run(proc, engine, 10)                               # (an entry frees what no thread is in)
    assert word not in st.hot_at
    assert st.free_hot == [(word - ctypes.addressof(st.hot_words)) // 8]


def test_threads_count_in_quick_code_and_promote_from_its_callbacks(tmp_path):
    """Guest threads run quick code at once, each decrementing the same words
    and calling back; with -sync-compile the optimizing compile runs inside
    such a callback, while other threads run the code it replaces.  The
    output is qemu-riscv64's.  (No code cache: the run's shared one may hold
    this program's regions from another test, which a warm run loads at
    their highest tier, skipping quick code.)"""
    import json
    from test_llvm_threads import threads_native_matches_qemu
    p = threads_native_matches_qemu(tmp_path, "-backend", "auto", "-native-warmup", "0", "-sync-compile",
                                    "-jit-threshold", "2", "-opt-threshold", "300", "-code-cache", "off", "-stats=json")
    stats = json.loads(p.stderr.decode().strip().splitlines()[-1])
    assert stats["native_hot_calls"] > 0 and stats["tbs_by_backend"].get("llvm", 0) > 0, stats


def _to_baseline(proc, engine):
    """Run the loop until its baseline code is in, and the code's Hotness."""
    for _ in range(20):
        run(proc, engine, 10)
        tb = engine.cache.get(CODE)
        if engine.tiers[tb.tier].name == "baseline":
            return tb, tb.fn.native.hot
    raise AssertionError("the loop never became baseline code")


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 300_000])
def test_baseline_code_counts_a_loops_instructions_at_its_exits(n):
    """(auto's first native tier) a loop's back-edges update no countdown: an
    exit counts the budget they spent since the entry, x the loop's
    instructions, and its path's; the same count, across budget-outs too
    (300,000 iterations: BUDGET is 131,072 back-edges an entry)."""
    proc, engine = engine_rig(LOOP, (1, 10**9), backends=("interp", "baseline", "llvm"), sync=True)
    tb, hot = _to_baseline(proc, engine)
    done = _counted(hot)
    run(proc, engine, n)
    assert _counted(hot) - done == insns(n)
