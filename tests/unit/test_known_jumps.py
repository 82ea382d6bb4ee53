"""Indirect jumps whose target the translator knows (frontends/riscv64/translate.py,
`Known`): a return to a call made in the same superblock, `jalr` through a
register set to a constant on every path, become direct jumps; a loop label
that would break that knowledge is not made.  Oracle: the ISA's answer worked
out by hand, on every backend."""
import pytest

from pydbt.backends import NAMES
from pydbt.frontends.riscv64.translate import translate

from test_backends import machine_state, GuestMemoryWith, Ran, CODE

EVERYWHERE = Ran(lambda a: CODE <= a < CODE + 0x100)
NOP, RA, A0, A1, T1 = 0x00000013, 1, 10, 11, 6


def _exits(blk):
    return sorted((op.name, op.consts[0] - CODE if op.name == "goto_tb" else None)
                  for op in blk.ops if op.name in ("goto_tb", "goto_ptr"))


def test_return_to_a_call_in_the_block_is_followed():
    # 0: jal ra, f ; 4: addi a0, a0, 1 ; 8: j .+256 ; f: 12: addi a1, a1, 2 ; 16: ret
    words = [0x00c000ef, 0x00150513, 0x1000006f, 0x00258593, 0x00008067]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=EVERYWHERE)
    assert [a - CODE for a, _ in blk.insns] == [0, 12, 16, 4, 8]
    assert _exits(blk) == [("goto_tb", 8 + 256)]               # no jump-cache lookup left
    regs = [0] * 32
    regs[A0], regs[A1] = 40, 50
    for b in NAMES:
        r = machine_state(b, words, regs, [0] * 32, 0, profile=EVERYWHERE)
        assert r[0][:2] == ("exit", ("goto_tb", CODE + 8 + 256)) and r[0][2] == 5, b
        assert (r[1][A0], r[1][A1], r[1][RA]) == (41, 52, CODE + 4), b


def test_no_loop_label_between_the_call_and_its_return():
    # 0: jal ra, f ; 4: addi ra, ra, 16 ; 8: bnez a1, f ; 12: j .+256
    # f: 16: addi a1, a1, -1 ; 20: ret
    # The return was made direct (to 4) with ra as jal set it; the back-edge to f
    # would reach it again with ra = 20: it stays a side exit to f.
    words = [0x010000ef, 0x01008093, 0x00059463, 0x1000006f, 0xfff58593, 0x00008067]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=EVERYWHERE)
    assert [a - CODE for a, _ in blk.insns] == [0, 16, 20, 4, 8, 12]
    at = next(i for i, op in enumerate(blk.ops) if op.name == "insn_start" and op.consts[0] == CODE + 16)
    assert blk.ops[at - 1].name != "label"                      # no loop head at f
    assert _exits(blk) == [("goto_tb", 16), ("goto_tb", 12 + 256)]
    for a1, exit_, count in [(2, 16, 5), (1, 12 + 256, 6)]:
        regs = [0] * 32
        regs[A1] = a1
        for b in NAMES:
            r = machine_state(b, words, regs, [0] * 32, 0, profile=EVERYWHERE)
            assert r[0][:2] == ("exit", ("goto_tb", CODE + exit_)) and r[0][2] == count, (b, a1)
            assert (r[1][A1], r[1][RA]) == (a1 - 1, CODE + 20), (b, a1)


@pytest.mark.parametrize("agree", [True, False])
@pytest.mark.parametrize("a0", [0, 1])
def test_paths_that_merge_keep_only_what_they_agree_on(agree, a0):
    # 0: lui t1, 0x10 (CODE) ; 4: beqz a0, 12 ; 8: lui t1, 0x10 or 0x11 ; 12: jr 24(t1)
    # 16, 20: nop ; 24: j .+256
    words = [0x00010337, 0x00050463, 0x00010337 if agree else 0x00011337, 0x01830067,
             NOP, NOP, 0x1000006f]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=EVERYWHERE)
    if agree:       # both paths have t1 = CODE: a direct jump, followed
        assert [a - CODE for a, _ in blk.insns] == [0, 4, 8, 12, 24]
        assert _exits(blk) == [("goto_tb", 24 + 256)]
        want = ("goto_tb", CODE + 24 + 256)
    else:           # t1 differs: the indirect jump stays
        assert _exits(blk) == [("goto_ptr", None)]
        want = ("goto_ptr", (0x11000 if a0 else CODE) + 24)
    regs = [0] * 32
    regs[A0] = a0
    for b in NAMES:
        r = machine_state(b, words, regs, [0] * 32, 0, profile=EVERYWHERE)
        assert r[0][0] == "exit" and r[0][1][0] == want[0], b
        if want[0] == "goto_tb":
            assert r[0][1] == want, b
        else:
            assert r[0][1][1] == want[1], b
        assert r[1][T1] == (CODE if agree or not a0 else 0x11000), b


def test_a_jump_through_the_register_it_links_uses_the_old_value():
    # 0: auipc ra, 0 ; 4: jalr ra, 24(ra) ; 8..20: nop ; 24: j .+256
    # jalr reads ra (CODE) before it links (ra = CODE + 8): the target is CODE + 24
    words = [0x00000097, 0x018080e7, NOP, NOP, NOP, NOP, 0x1000006f]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=EVERYWHERE)
    assert [a - CODE for a, _ in blk.insns] == [0, 4, 24]
    assert _exits(blk) == [("goto_tb", 24 + 256)]
    for b in NAMES:
        r = machine_state(b, words, [0] * 32, [0] * 32, 0, profile=EVERYWHERE)
        assert r[0][:2] == ("exit", ("goto_tb", CODE + 24 + 256)) and r[0][2] == 3, b
        assert r[1][RA] == CODE + 8, b


@pytest.mark.parametrize("a1", [1, 2, 3])
def test_a_branch_inside_a_loop_forgets_what_the_loop_changes(a1):
    # 0: lui t1, 0x10 (CODE) ; L: 4: addi a1, a1, -1 ; 8: beqz a1, out
    # 12: addi t1, t1, 8 ; 16: j L ; out: 20: jr 24(t1)
    # The branch at 8 was translated with t1 = CODE; the loop made later runs
    # it again with t1 moved on: where it lands, t1 is not known.
    words = [0x00010337, 0xfff58593, 0x00058663, 0x00830313, 0xff5ff06f, 0x01830067]
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=EVERYWHERE)
    assert [a - CODE for a, _ in blk.insns] == [0, 4, 8, 12, 16, 20]
    assert _exits(blk) == [("goto_ptr", None)]
    regs = [0] * 32
    regs[A1] = a1
    for b in NAMES:
        r = machine_state(b, words, regs, [0] * 32, 0, pending=[], profile=EVERYWHERE)
        assert r[0][:2] == ("exit", ("goto_ptr", CODE + 24 + 8 * (a1 - 1))), b
        assert r[0][2] == 1 + 4 * (a1 - 1) + 2 + 1, b
        assert (r[1][A1], r[1][T1]) == (0, CODE + 8 * (a1 - 1)), b


# --- random programs: superblocks (known jumps followed) against basic blocks ---------

from hypothesis import given, settings, strategies as st, HealthCheck   # noqa: E402
from pydbt.backends import get_backend                                   # noqa: E402
from pydbt.frontends.riscv64.cpu import CPU                              # noqa: E402
from test_backends import Ctx                                            # noqa: E402

_REGS = (1, 5, 6, 10)          # ra, t0, t1, a0: the ones the program links, sets and jumps through


def _i(imm, rs1, rd, f3, opc):
    return ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc


def _b(off, rs1, rs2, f3):
    o = off & 0x1fff
    return ((o >> 12) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | \
        (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63


def _j(off, rd):
    o = off & 0x1fffff
    return ((o >> 20) << 31) | (((o >> 1) & 0x3ff) << 21) | (((o >> 11) & 1) << 20) | \
        (((o >> 12) & 0xff) << 12) | (rd << 7) | 0x6f


@st.composite
def linking_programs(draw):
    """Calls, returns, jumps through registers set to constants, loops and
    branches among a few registers: every jump target inside the program."""
    n = draw(st.integers(3, 20))
    words = []
    for k in range(n):
        kind = draw(st.integers(0, 6))
        rd, rs = draw(st.sampled_from(_REGS)), draw(st.sampled_from(_REGS))
        to = 4 * draw(st.integers(0, n)) - 4 * k                 # (n: the exit below)
        if kind == 0:
            words.append(_j(to, draw(st.sampled_from((0, 1)))))          # j / jal ra
        elif kind == 1:                                                    # jalr rd, off(rs)
            words.append(_i(draw(st.integers(0, n)) * 4, rs, draw(st.sampled_from((0, 1, rd))), 0, 0x67))
        elif kind == 2:                                                    # li rd, CODE-relative
            words.append(((CODE + 0x800) & ~0xfff) | (rd << 7) | 0x37)    # lui rd, CODE
        elif kind == 3:
            words.append(_i(draw(st.sampled_from((4, 8, -4, 1))), rs, rd, 0, 0x13))  # addi
        elif kind == 4:                                                    # bnez/beqz a1-style
            words.append(_b(to or 4, draw(st.sampled_from((11, 12))), 0, draw(st.sampled_from((0, 1)))))
        else:
            words.append(_i(-1, draw(st.sampled_from((11, 12))), draw(st.sampled_from((11, 12))), 0, 0x13))
    words.append(0x00100073)                                               # ebreak: the end
    return words


def _run(words, a1, a2, superblock, limit=300):
    """Blocks from CODE on, one after the other (the interpreter), until the
    program leaves its code, ebreaks or `limit` blocks ran -> the end state."""
    mem = GuestMemoryWith(words)
    cpu = CPU(mem)
    cpu.regs[11], cpu.regs[12] = a1, a2
    cpu.pc = CODE
    end = CODE + 4 * len(words)
    for _ in range(limit):
        if not CODE <= cpu.pc < end:
            return "left", cpu.pc, list(cpu.regs[:32])
        blk = translate(mem, cpu.pc, 64, superblock=superblock,       # (what ran: the program)
                        profile=Ran(lambda a: CODE <= a < end) if superblock else None)
        ctx = Ctx(blk, mem, pending=[])
        try:
            how, cpu.pc = get_backend("interp").compile(blk, ctx)(cpu)
        except Exception as e:                      # (ebreak, a misaligned fetch...)
            return type(e).__name__, getattr(e, "pc", None), list(cpu.regs[:32])
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=linking_programs(), a1=st.integers(0, 3), a2=st.integers(0, 3))
def test_superblocks_run_as_basic_blocks_do(words, a1, a2):
    """Random programs of calls, returns, constant jumps, loops and branches end
    in the same state run as superblocks (known jumps followed, loops inside) and
    as basic blocks one after the other (no knowledge carried across a block)."""
    want = _run(words, a1, a2, superblock=False)
    if want is None:                                # (an endless loop)
        return
    assert _run(words, a1, a2, superblock=True) == want
