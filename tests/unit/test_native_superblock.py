"""Native code's superblocks may be bigger than the bytecode JIT's (translate.py
MAX_NATIVE, MAX_SUPERBLOCK; tiering.Profile's `native`): a loop of more than
MAX_SUPERBLOCK instructions is one native region, not a region per exit of
the cut.  Oracle: the ISA's answer worked out by hand, and the interpreter."""

import pytest
from pydbt.frontends.riscv64.translate import MAX_NATIVE, MAX_SUPERBLOCK, translate
from test_backends import CODE, GuestMemoryWith, Ran

A0, A1 = 10, 11
BODY = 300                                  # more than MAX_SUPERBLOCK, fewer than MAX_NATIVE
ADDI_A0 = 0x00150513                        # addi a0, a0, 1
DEC_A1 = 0xfff58593                         # addi a1, a1, -1


def _bnez(rs1, off):
    off &= 0x1fff
    return ((off >> 12) << 31 | ((off >> 5) & 0x3f) << 25 | rs1 << 15 | 1 << 12 |
            ((off >> 1) & 0xf) << 8 | ((off >> 11) & 1) << 7 | 0x63)


# loop: BODY x (a0 += 1); a1 -= 1; bnez a1, loop; ecall
LOOP = [ADDI_A0] * BODY + [DEC_A1, _bnez(A1, -4 * (BODY + 1)), 0x00000073]


class _Profile(Ran):
    def __init__(self, native):
        super().__init__(lambda a: CODE <= a < CODE + 4 * len(LOOP))
        self.native = native


def test_limits():
    assert MAX_SUPERBLOCK < BODY + 2 < MAX_NATIVE


@pytest.mark.parametrize("native", [False, True])
def test_a_native_superblock_holds_the_whole_loop(native):
    blk = translate(GuestMemoryWith(LOOP), CODE, 512, profile=_Profile(native))
    exits = sorted(op.consts[0] - CODE for op in blk.ops if op.name == "goto_tb")
    if native:
        assert blk.ninsns == BODY + 3                 # the loop and the ecall after it
        assert exits == [0]                           # (to its own start: the backend's loop)
    else:
        assert blk.ninsns == MAX_SUPERBLOCK
        assert exits == [4 * MAX_SUPERBLOCK]


def _engine_run(backends, thresholds, rounds):
    from pydbt.errors import Syscall
    from test_promotion import engine_rig
    proc, engine = engine_rig(LOOP, thresholds, backends=backends, sync=True)
    cpu = proc.cpu
    cpu.pc, cpu.regs[A0], cpu.regs[A1] = CODE, 7, rounds
    with pytest.raises(Syscall):
        engine.run_until_exception(cpu)
    return engine, cpu.regs[A0], cpu.regs[A1]


def test_the_engine_makes_one_native_region_of_the_loop():
    pytest.importorskip("llvmlite")
    rounds = 40
    engine, a0, a1 = _engine_run(("interp", "llvm"), [3], rounds)
    assert (a0, a1) == (7 + BODY * rounds, 0)
    assert _engine_run(("interp",), [], rounds)[1:] == (a0, a1)
    native = [tb for tb in engine.cache.by_pc.values() if tb.tier == 1]
    # (the ecall had not run when it was made: not in it)
    assert [(tb.pc, tb.ninsns) for tb in native] == [(CODE, BODY + 2)]
