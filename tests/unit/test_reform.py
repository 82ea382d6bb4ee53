"""Region formation against a profile that changes (dbt/execloop.py: Profile,
Engine._reform_into): a region made before one of its paths ran exits there;
when that exit's target becomes a small region of the same tier, or one that
jumps back into the region, the region is made again with the path inside.
The guest's results are checked against the interpreter alone.
"""

import pytest

pytest.importorskip("llvmlite")

from pydbt.errors import Syscall
from pydbt.tiering import COPY_MAX, Profile
from pydbt.stats import STATS
from pydbt.tb import TB

from test_promotion import engine_rig

CODE = 0x10000
A0, A1, A2, A4 = 10, 11, 12, 14


def _b_type(imm, rs2, rs1, funct3, opcode=0x63):
    imm &= 0x1fff
    return ((imm >> 12) << 31 | ((imm >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 |
            ((imm >> 1) & 0xf) << 8 | ((imm >> 11) & 1) << 7 | opcode)


# loop: a0 += 1; if a0 < a1 skip the count; else a2 += a0; until a0 == a4
LOOP = [0x00150513,                      # 0  loop: addi a0, a0, 1
        _b_type(8, A1, A0, 4),           # 4        blt a0, a1, skip
        0x00a60633,                      # 8        add a2, a2, a0   (the late path)
        _b_type(-12, A4, A0, 1),         # 12 skip: bne a0, a4, loop
        0x00000073]                      # 16       ecall


def _rig(backends, thresholds):
    return engine_rig(LOOP, thresholds, backends=backends, sync=True)


def _run(proc, engine, a1, a4, a2=0):
    cpu = proc.cpu
    cpu.pc, cpu.regs[A0], cpu.regs[A1], cpu.regs[A2], cpu.regs[A4] = CODE, 0, a1, a2, a4
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)
    return cpu.regs[A0], cpu.regs[A2]


def _phases(proc, engine):
    """the late path never runs, then runs every iteration, then a long run"""
    return [_run(proc, engine, 1 << 40, 1000),
            _run(proc, engine, 0, 1000),
            _run(proc, engine, 0, 200_000, a2=5)]


def test_a_region_is_made_again_once_its_late_path_is_a_small_region():
    proc, engine = _rig(("interp", "llvm"), [20])
    results = _phases(proc, engine)
    tb = engine.cache.get(CODE)
    assert engine.tiers[tb.tier].name == "llvm"
    assert CODE + 8 in engine.region_pcs[CODE] and CODE + 8 not in tb.targets   # the late path is inside
    assert STATS.extra.get("regions_reformed") == 1
    # (the last phase ran in the new region: no exit per iteration)
    assert STATS.extra.get("native_transitions", 0) < 200
    assert results[1] == (1000, 1000 * 1001 // 2)
    ref_proc, ref_engine = _rig(("interp",), [])
    assert results == _phases(ref_proc, ref_engine)


def test_a_region_is_made_again_at_most_once():
    proc, engine = _rig(("interp", "llvm"), [20])
    _phases(proc, engine)
    _phases(proc, engine)
    assert STATS.extra.get("regions_reformed") == 1


def test_without_the_late_path_nothing_is_made_again():
    proc, engine = _rig(("interp", "llvm"), [20])
    _run(proc, engine, 1 << 40, 1000)
    _run(proc, engine, 1 << 40, 50_000)
    first = engine.cache.get(CODE)
    assert CODE + 8 in first.targets and not STATS.extra.get("regions_reformed")


def test_a_region_jumping_back_into_the_superblock_is_copied():
    """Profile.entry: a big region of the tier is an entry (the superblock
    ends there) unless one of its exits leads into the superblock being made."""
    class Cache:
        by_pc = {}
    n = COPY_MAX + 1
    Cache.by_pc[0x10] = TB(0x10, 4 * n, n, [0], [0x100, 0x200], tier=1)
    Cache.by_pc[0x20] = TB(0x20, 4 * n, n, [0], [0x300], tier=1)
    p = Profile(Cache, 1)
    assert p.entry(0x10) and p.entry(0x20)
    assert not p.entry(0x10, {0x200, 0x50}) and p.entry(0x20, {0x200, 0x50})
