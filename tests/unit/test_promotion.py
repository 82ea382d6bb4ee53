"""The engine's tiers (dbt/execloop.py): interpreter -> bytecode JIT -> native.

The compile thread is replaced by a queue the test runs by hand, so each step of
a promotion is seen: the bytecode TB's hot count submits the native compile and
runs on; the finished code replaces it (published under the TB cache's lock);
code written while its native version was being compiled drops that version
instead of publishing it; a compile that fails leaves the TB where it was.
Quick native code is optimized for the time spent in it, not for its exits to
Python (which optimizing does not remove).
"""
import struct

import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import get_backend
from pydbt.cli import Options
from pydbt.errors import Syscall
from pydbt.execloop import Engine
from pydbt.frontends.riscv64.arch import ARCH
from pydbt.log import Log
from pydbt.runtime.process import Process
from pydbt.stats import STATS

CODE = 0x10000
A0, A1 = 10, 11


def _b_type(imm, rs2, rs1, funct3, opcode=0x63):
    imm &= 0x1fff
    return ((imm >> 12) << 31 | ((imm >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 |
            ((imm >> 1) & 0xf) << 8 | ((imm >> 11) & 1) << 7 | opcode)


LOOP = [0x00150513,                      # loop: addi a0, a0, 1
        _b_type(-4, A1, A0, 1),          #       bne a0, a1, loop
        0x00000073]                      #       ecall


class Queue:
    """Stands for the compile thread: jobs wait until the test runs them."""

    def __init__(self):
        self.jobs = []
        self.firsts = []                # what ran ahead of the jobs (loading the native tier)

    def submit(self, work, done, first=False):
        if first:                       # (the thread would run it before any job)
            self.firsts.append(work)
            done(work())
            return
        self.jobs.append((work, done))

    def run(self, fail=False):
        work, done = self.jobs.pop(0)
        done(None if fail else work())


def engine_rig(words, thresholds=(1, 5), native_warmup=0.0, backends=("interp", "pybytecode", "llvm"),
               sync=False):
    """A process with `words` at CODE and an engine of `backends` whose compile
    thread is a Queue, or none if `sync` (also test_hotness's, test_reform's
    and test_native_superblock's); no cold runs: every run is a TB's, the
    thresholds count them all."""
    opts = Options()
    opts.reserved_va = 1 << 32
    proc = Process(ARCH, opts, Log())
    proc.mem.map(CODE, 0x1000, 7)
    proc.mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    engine = Engine(proc, [get_backend(n) for n in backends], list(thresholds),
                    native_warmup=native_warmup, sync_compile=sync, cold_runs=False)
    proc.engine = engine
    if not sync:
        engine.compiler = Queue()
    STATS.reset()
    return proc, engine


@pytest.fixture
def rig():
    return engine_rig(LOOP)


def run(proc, engine, n):
    cpu = proc.cpu
    cpu.pc, cpu.regs[A0], cpu.regs[A1] = CODE, 0, n
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)
    assert cpu.regs[A0] == n


def test_hot_bytecode_submits_native_code_and_runs_on(rig):
    proc, engine = rig
    run(proc, engine, 1000)
    tb = engine.cache.get(CODE)
    assert engine.tiers[tb.tier].name == "pybytecode" and tb.promoting
    assert len(engine.compiler.jobs) == 1                # one compile, though it stayed hot
    engine.compiler.run()
    new = engine.cache.get(CODE)
    assert new is not tb and not tb.valid and engine.tiers[new.tier].name == "llvm"
    assert getattr(new.fn, "native", None) is not None
    STATS.extra.clear()
    run(proc, engine, 50_000)                            # all of it native now
    assert STATS.extra.get("native_transitions", 0) >= 1


def test_code_written_while_compiling_drops_the_new_code(rig):
    proc, engine = rig
    run(proc, engine, 1000)
    old = engine.cache.get(CODE)
    proc.mem.store(CODE + 0x800, 1, 4)                   # a store into the code's page
    assert not old.valid
    engine.compiler.run()
    assert engine.cache.get(CODE) is None                # nothing published: translated anew
    assert not engine.cache.native.natives               # and the native code goes
    run(proc, engine, 10)


def test_a_failed_compile_leaves_the_block_in_its_tier(rig):
    proc, engine = rig
    run(proc, engine, 1000)
    old = engine.cache.get(CODE)
    engine.compiler.run(fail=True)
    assert engine.cache.get(CODE) is old and old.valid
    run(proc, engine, 5000)
    assert not engine.compiler.jobs                      # (not submitted again)


def test_superblocks_stop_at_big_regions_of_their_tier():
    """Profile.entry: where a superblock for a tier ends (and chains) instead of
    copying: a region of that tier or higher, or one being promoted to it, that
    is bigger than COPY_MAX instructions; never a smaller one or a lower tier's."""
    from pydbt.tiering import COPY_MAX, Profile
    from pydbt.tb import TB

    class Cache:
        by_pc = {}
    big, small = COPY_MAX + 1, COPY_MAX
    for pc, tier, n, promoting in [(0x10, 2, big, False), (0x20, 2, small, False),
                                   (0x30, 1, big, False), (0x40, 1, big, True), (0x50, 0, big, True)]:
        tb = TB(pc, 4 * n, n, [0], [], tier=tier)
        tb.promoting = promoting
        Cache.by_pc[pc] = tb
    native = Profile(Cache, 2)
    assert [pc for pc in (0x10, 0x20, 0x30, 0x40, 0x50, 0x60) if native.entry(pc)] == [0x10, 0x40]
    assert all(native.ran(pc) for pc in (0x10, 0x20, 0x30, 0x40, 0x50)) and not native.ran(0x60)
    bytecode = Profile(Cache, 1)
    assert [pc for pc in (0x10, 0x20, 0x30, 0x40, 0x50) if bytecode.entry(pc)] == [0x10, 0x30, 0x40, 0x50]


# --- quick native code optimized where its time is spent ---------------------------
# The loop above at CODE, and at SYS a block that leaves native code at once
# (a syscall) each time it runs: its exits are samples of its hotness as the
# loop's budget running out is, but optimizing it would remove none of them.
SYS = CODE + 0x100
SYS_BLOCK = [0x00150513,                 # addi a0, a0, 1
             0x00000073]                 # ecall


@pytest.fixture
def quick_rig(monkeypatch):
    from pydbt import tiering
    opts = Options()
    opts.reserved_va = 1 << 32
    proc = Process(ARCH, opts, Log())
    proc.mem.map(CODE, 0x1000, 7)
    proc.mem.poke(CODE, b"".join(struct.pack("<I", w) for w in LOOP))
    proc.mem.poke(SYS, b"".join(struct.pack("<I", w) for w in SYS_BLOCK))
    # each quick TB asks at every exit and budget sample (-opt-threshold 1)
    engine = Engine(proc, [get_backend(n) for n in ("interp", "pybytecode", "llvm-quick", "llvm")],
                    [1, 5, 1], cold_runs=False)
    proc.engine = engine
    engine.compiler = Queue()
    STATS.reset()
    need = tiering.PAYBACK * 0.005                     # seconds of its time that pay for optimizing
    monkeypatch.setattr(tiering, "OPT_FIXED", 0.005)
    monkeypatch.setattr(tiering, "OPT_INSN_COST", 0.0)
    return proc, engine, need


def _to_quick(proc, engine, pc, go):
    """Run the block at pc (`go`: once) until its quick native code is in, then
    turn the payback rule on (as a warm-up's end does)."""
    for _ in range(20):
        go()
        while engine.compiler.jobs:
            engine.compiler.run()
        tb = engine.cache.get(pc)
        if engine.tiers[tb.tier].name == "llvm-quick":
            engine.policy.payback = True
            return tb
    raise AssertionError("the block never became quick native code")


def _syscall_block(proc, engine):
    cpu = proc.cpu
    cpu.pc = SYS
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)


def test_quick_code_that_only_exits_to_python_is_not_optimized(quick_rig):
    """Its exits ask often, and it has been there longer than the rule's time,
    but the time spent in its code is what optimizing saves on: no compile."""
    import time
    from pydbt import tiering
    proc, engine, need = quick_rig
    tb = _to_quick(proc, engine, SYS, lambda: _syscall_block(proc, engine))
    hot = tb.fn.native.hot
    time.sleep(2 * need)
    for _ in range(3000):
        _syscall_block(proc, engine)
    assert STATS.extra["native_transitions"] >= 3000
    assert hot.events + hot.filled - hot.cell.cell_contents >= 3000     # (its entries, counted)
    assert hot.events * tb.ninsns * tiering.NATIVE_INSN_COST < need
    assert not engine.compiler.jobs and not tb.promoting and engine.cache.get(SYS) is tb


def test_quick_code_a_loop_runs_in_is_optimized_once_its_time_pays(quick_rig):
    from pydbt import tiering
    proc, engine, need = quick_rig
    tb = _to_quick(proc, engine, CODE, lambda: run(proc, engine, 1000))
    hot = tb.fn.native.hot
    for _ in range(100):                                # (at most ~100 x 10^7 iterations)
        run(proc, engine, 10_000_000)
        if engine.compiler.jobs:
            break
    assert len(engine.compiler.jobs) == 1 and tb.promoting
    assert hot.events * tb.ninsns * tiering.NATIVE_INSN_COST >= need
    assert STATS.extra["native_transitions"] < 2 * 100 * 10_000_000 / 131072   # (budget exits)
    engine.compiler.run()
    new = engine.cache.get(CODE)
    assert engine.tiers[new.tier].name == "llvm" and not tb.valid
    run(proc, engine, 1000)


# --- the optimizing tier's regions: the paths the first tier ran often -------------
T0, A2 = 5, 12
COLD_LOOP = [0x00150513,                                                  # loop: addi a0, a0, 1
             (15 << 20) | (A0 << 15) | (7 << 12) | (T0 << 7) | 0x13,     #   andi t0, a0, 15
             _b_type(8, 0, T0, 1),                                        #   bnez t0, skip
             (1 << 20) | (A2 << 15) | (A2 << 7) | 0x13,                   #   addi a2, a2, 1 (1 in 16)
             _b_type(-16, A1, A0, 1),                                     # skip: bne a0, a1, loop
             0x00000073]                                                  #   ecall


@pytest.mark.parametrize("fraction, has_cold", [(0.4, False), (0.0, True)])
def test_the_optimizing_tier_leaves_out_a_path_the_first_tier_ran_few_times(monkeypatch, fraction, has_cold):
    """(tiering.COLD_FRACTION) The interpreter ran the loop's rare path 3 times
    in its 50 runs: the bytecode JIT's superblock holds it, LLVM's region
    exits there instead (quicksort's median-of-three swaps: half its region)."""
    from pydbt import execloop
    monkeypatch.setattr(execloop, "COLD_FRACTION", fraction)
    proc, engine = engine_rig(COLD_LOOP, (50, 5), sync=True)
    run(proc, engine, 50)                                  # the interpreter's 50 runs: to the JIT,
    run(proc, engine, 200)                                 # hot there at once: LLVM's region
    assert engine.tiers[engine.cache.get(CODE).tier].name == "llvm"
    assert (CODE + 12 in engine.region_pcs[CODE]) == has_cold
    run(proc, engine, 1000)                                # (the path hot on its own now: the
    assert CODE + 12 in engine.region_pcs[CODE]            # region is formed again with it)
    assert proc.cpu.regs[A2] == 3 + 12 + 62                # (the rare path's count, either way)
