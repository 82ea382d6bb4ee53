"""Hotness counting (dbt/tiering.py's Hotness, the bytecode JIT's inline
countdown) and the payback rule of -backend auto.

- the count is exact: hot at the threshold-th instruction, then every RECHECK,
  the same whether a tier calls it per event or the JIT's code counts inline,
  and with events of several instructions (hot at the first that reaches it);
  moved into quick native code's word, it asks again every ~ASK_TIME of the
  code's estimated time instead (test_quick_hotness.py: the native code);
- JIT code counting inline counts an entry as the instructions before its
  loop and an iteration as the loop's, asks only when its countdown runs out,
  runs on when told to (its native code is not wanted yet), leaves when told to;
- the code object with the countdown (a closure's free variable) is the one
  Bytecode.to_code() builds;
- the engine: a block whose native code is refused runs on in its loop (no
  block is made at the loop's head), and the payback rule compiles a block
  only once its time so far covers the compile's expected cost (without a
  warm-up, at its threshold).
"""
import itertools
import struct
import time

import pytest

from pydbt import tiering
from pydbt.errors import Syscall
from pydbt.backends import pybytecode, pyasm
from pydbt.tiering import Hotness, RECHECK
from pydbt.frontends.riscv64.translate import translate
from pydbt.passes import optimize
from pydbt.stats import STATS
from pydbt.runtime.memory import GuestMemory, R, W, X

from test_promotion import _b_type, engine_rig, run

CODE = 0x10000
A0, A1, A2 = 10, 11, 12


LOOP = [0x00160613,                      # addi a2, a2, 1
        0x00150513,                      # loop: addi a0, a0, 1
        _b_type(-4, A1, A0, 1),          #       bne a0, a1, loop
        0x00000073]                      #       ecall


N = 2000 + 3 * RECHECK + 1


def reference(threshold, n):
    """The count's meaning: true at the threshold-th instruction, then every RECHECK."""
    return list(itertools.islice(itertools.chain(
        itertools.repeat(False, threshold - 1),
        itertools.cycle((True,) + (False,) * (RECHECK - 1))), n))


@pytest.mark.parametrize("threshold", [1, 2, 100, 255, 256, 257, 513, 2000])
def test_called_per_event_it_is_hot_at_the_threshold_then_every_recheck(threshold):
    h = Hotness(threshold)
    assert [h() for _ in range(N)] == reference(threshold, N)


@pytest.mark.parametrize("threshold", [1, 256, 300, 2000])
def test_counted_inline_it_asks_at_the_same_events(threshold):
    h = Hotness(threshold)
    asked = []
    h.ask = lambda events: asked.append(events) or False
    cell = h.cell
    for _ in range(N):                        # what the JIT's code does per instruction
        n = cell.cell_contents - 1
        cell.cell_contents = n
        if n <= 0:
            h.expired()
    assert asked == [i + 1 for i, hot in enumerate(reference(threshold, N)) if hot]


@pytest.mark.parametrize("threshold", [1, 256, 300, 2000])
@pytest.mark.parametrize("step", [3, 7, 300])
def test_events_of_several_instructions_are_hot_at_the_first_reaching_it(threshold, step):
    """(an entry or a back-edge counts its instructions at once: the count
    goes past the threshold, and the next ask is RECHECK past that)"""
    h = Hotness(threshold)
    hot_at, done = [], 0
    for _ in range(N // step):
        done += step
        if h(step):
            hot_at.append(done)
    first = -(-threshold // step) * step
    want = [first]
    while True:
        nxt = want[-1] + -(-RECHECK // step) * step
        if nxt > done:
            break
        want.append(nxt)
    assert hot_at == want
    assert h.events + h.filled - h.cell.cell_contents == done


class Word:
    """stands for quick native code's countdown word (llvm.NativeState.hot_word)"""
    cell_contents = None


@pytest.mark.parametrize("threshold", [1, 256, 300, 5000])
def test_counted_in_a_native_word_it_has_no_chunk_and_asks_again_by_time(threshold):
    """Quick native code's count: guest instructions (a loop's at each
    back-edge: 10 here), checked after each; what it went below 0 counts."""
    h = Hotness(threshold)
    w = Word()
    h.native(w)
    every = round(tiering.ASK_TIME / tiering.NATIVE_INSN_COST)
    assert w.cell_contents == threshold and h.cell is w and h.recheck == every > RECHECK
    asked = []
    h.ask = lambda events: asked.append(events) or False
    first = -(-threshold // 10) * 10           # (the first check at or past the threshold)
    for _ in range((first + 3 * every) // 10):  # what quick native code does per iteration
        w.cell_contents -= 10
        if w.cell_contents <= 0:
            h.expired()
    assert asked == [first + k * every for k in range(4)]


class Ctx:
    def __init__(self, blk, mem, hot):
        self.mem = mem
        self.counter = None
        self.pending = []
        self.fns = {}
        self.links = [("goto_tb", op.consts[0]) for op in blk.ops if op.name == "goto_tb"]
        self.lookup = lambda pc: ("lookup", pc)
        self.hot = hot
        self.left_at = []

        def promote(pc):
            self.left_at.append(pc)
            return ("promoted", pc)
        self.promote = promote


class CPU:
    def __init__(self):
        self.regs = [0] * 64
        self.pc = CODE


def _loop_block():
    mem = GuestMemory(space=1 << 32)
    mem.map(CODE, 0x1000, R | W | X)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in LOOP))
    blk = translate(mem, CODE, 64)
    optimize(blk)
    return blk, mem


@pytest.mark.parametrize("leave", [False, True])
def test_jit_code_counts_inline_and_leaves_only_when_told(leave):
    blk, mem = _loop_block()
    h = Hotness(300)
    asked = []
    h.ask = lambda events: asked.append(events) or leave
    ctx = Ctx(blk, mem, h)
    fn = pybytecode.compile(blk, ctx)
    assert fn.__code__.co_freevars == (pybytecode.HOT_N,) and fn.__closure__[0] is h.cell
    cpu = CPU()
    cpu.regs[A1] = 5000
    # counted: the entry 3 (the addi before the loop and the loop's first
    # turn), each back-edge 2 (the loop's turn it starts): 3 + 2k at the k-th
    # back-edge, 301 at the 149th
    if leave:
        # (asked, the engine promoted it: it leaves at the loop's head by a lookup)
        assert fn(cpu) == ("lookup", CODE + 4)
        assert asked == [301]
        assert cpu.regs[A0] == 149 and cpu.regs[A2] == 1       # (written back at the loop's head)
    else:
        with pytest.raises(Syscall):                          # (the block ends in the ecall)
            fn(cpu)
        assert asked == [301, 301 + RECHECK, 301 + 2 * RECHECK] and ctx.left_at == []
        assert cpu.regs[A0] == 5000 and cpu.regs[A2] == 1


def test_a_countdown_taken_below_zero_still_expires():
    """Two threads can both decrement a 0 before expired() refills the cell: the
    code must still call out (a count left below 0 would never be hot again)."""
    blk, mem = _loop_block()
    h = Hotness(300)
    asked = []
    h.ask = lambda events: asked.append(events) or False
    fn = pybytecode.compile(blk, Ctx(blk, mem, h))
    h.cell.cell_contents = -1                  # (the other thread's 0, decremented again)
    cpu = CPU()
    cpu.regs[A1] = 1000
    with pytest.raises(Syscall):
        fn(cpu)
    # (its first cell of 256, 1 more below 0, the entry's 3; then 20 back-edges of 2)
    assert asked and asked[0] == 256 + 1 + 3 + 40 == 300, asked


def test_the_countdown_code_is_what_bytecode_builds():
    if not pyasm.SUPPORTED:
        pytest.skip("pyasm does not know this CPython or bytecode package")
    blk, mem = _loop_block()
    gen = pybytecode.Gen(blk, Ctx(blk, mem, Hotness(50)))
    items = gen.emit()
    fast = pyasm.assemble(items, argnames=pybytecode._ARGS, name="tb", filename="<pydbt tb>",
                          flags=3, stacksize=gen.stacksize)
    slow = pybytecode.to_code(items, "tb", gen.stacksize, fast=False, freevars=(pybytecode.HOT_N,))
    for attr in ("co_code", "co_names", "co_varnames", "co_freevars", "co_exceptiontable",
                 "co_linetable", "co_stacksize", "co_nlocals", "co_argcount", "co_flags"):
        assert getattr(fast, attr) == getattr(slow, attr), attr


# --- the engine ----------------------------------------------------------------------

llvmlite = pytest.importorskip("llvmlite")


def _rig(warmup, native_threshold=5):
    proc, engine = engine_rig(LOOP, (1, native_threshold), warmup)
    engine.policy.native_from = 0.0     # (the warm-up is over; the rule stays on if it was > 0)
    return proc, engine


def test_a_loop_refused_native_code_runs_on_in_its_block(monkeypatch):
    proc, engine = _rig(warmup=1.0)
    monkeypatch.setattr(tiering, "OPT_FIXED", 1e6)          # (never pays)
    run(proc, engine, 5000)
    run(proc, engine, 5000)
    tb = engine.cache.get(CODE)
    assert engine.tiers[tb.tier].name == "pybytecode" and not tb.promoting
    assert not engine.compiler.jobs
    assert engine.cache.get(CODE + 4) is None                # it never left at the loop's head


def _half_rig(monkeypatch):
    proc, engine = _rig(warmup=1.0)
    monkeypatch.setattr(tiering, "OPT_FIXED", 2e-3)
    monkeypatch.setattr(tiering, "OPT_INSN_COST", 0.0)
    monkeypatch.setattr(tiering, "PAYBACK", 1.0)
    need = 2e-3 / tiering.INSN_COST                          # instructions that pay for the compile
    assert need > 3 * RECHECK, "the test's loop is too big for its cost"
    return proc, engine, need


def test_the_native_tier_loads_when_a_block_has_paid_half_its_compile(monkeypatch):
    """(llvmlite's load, ~60 ms, was inside the run's first compile: a workload
    optimizing one region had its load as its "median compile"; loaded at
    once past the warm-up, a short program whose code never pays for a
    compile loaded it for nothing)"""
    proc, engine, need = _half_rig(monkeypatch)
    STATS.reset()
    run(proc, engine, int(need * 0.3) // 2)
    assert not engine.compiler.firsts and not engine.native_loaded      # (a third: not yet)
    run(proc, engine, (int(need * 0.3) + 2 * RECHECK) // 2)
    assert len(engine.compiler.firsts) == 1 and not engine.compiler.jobs
    assert "native_load_ms" in STATS.extra                   # (timed on its own)
    run(proc, engine, (int(need * 0.5) + 2 * RECHECK) // 2)
    assert len(engine.compiler.firsts) == 1 and len(engine.compiler.jobs) == 1   # (the compile, no load again)


def test_the_native_tier_does_not_load_during_the_warm_up(monkeypatch):
    proc, engine, need = _half_rig(monkeypatch)
    engine.policy.native_from = time.monotonic() + 3600    # (still warming up)
    run(proc, engine, int(need * 1.5) // 2)
    assert not engine.compiler.firsts and not engine.native_loaded and not engine.compiler.jobs


def test_a_sync_compile_loads_the_native_tier_apart_from_the_region(monkeypatch):
    proc, engine = engine_rig(LOOP, (1, 5), 0.0, sync=True)
    STATS.reset()
    run(proc, engine, 10)
    run(proc, engine, 10)
    assert engine.tiers[engine.cache.get(CODE).tier].name == "llvm"
    assert engine.native_loaded and "native_load_ms" in STATS.extra


def test_the_payback_rule_compiles_a_block_once_its_time_covers_the_cost(monkeypatch):
    proc, engine = _rig(warmup=1.0)
    monkeypatch.setattr(tiering, "OPT_FIXED", 2e-3)
    monkeypatch.setattr(tiering, "OPT_INSN_COST", 0.0)
    monkeypatch.setattr(tiering, "PAYBACK", 1.0)
    run(proc, engine, 10)                                   # to the bytecode JIT
    tb = engine.cache.get(CODE)
    assert engine.tiers[tb.tier].name == "pybytecode"
    need = 2e-3 / tiering.INSN_COST                          # instructions that pay for the compile
    assert need > 3 * RECHECK, "the test's loop is too big for its cost"
    run(proc, engine, int(need * 0.8) // 2)                  # (2 instructions an iteration)
    assert not engine.compiler.jobs and not tb.promoting      # (not yet)
    run(proc, engine, (int(need * 0.4) + 2 * RECHECK) // 2)
    assert len(engine.compiler.jobs) == 1 and tb.promoting


def test_without_a_warm_up_a_block_is_compiled_at_its_threshold(monkeypatch):
    proc, engine = _rig(warmup=0.0)
    monkeypatch.setattr(tiering, "OPT_FIXED", 1e6)          # (no rule: not asked)
    run(proc, engine, 10)
    run(proc, engine, 10)
    tb = engine.cache.get(CODE)
    assert tb.promoting and len(engine.compiler.jobs) == 1


def test_a_compiles_expected_cost_grows_with_its_region():
    """(a 7-instruction loop's optimizing compile costs ~5 ms, a
    270-instruction region's ~200; their mean kept the loops on quick code)"""
    p = tiering.NativePolicy()
    fixed = tiering.OPT_FIXED
    assert p.compile_cost(100) == pytest.approx(fixed + 100 * tiering.OPT_INSN_COST)
    p.job_cost(fixed + 0.010, 10)                       # 1 ms per instruction beyond the fixed part
    p.job_cost(fixed + 0.190, 190)
    assert p.compile_cost(20) == pytest.approx(fixed + 0.020)
    assert p.compile_cost(300) == pytest.approx(fixed + 0.300)
