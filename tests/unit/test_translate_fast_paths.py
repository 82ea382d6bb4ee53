"""Translation's fast paths against the general ones they stand in for, on
random code: a plain block without a profile (translate.py `_plain`, the
interpreter tier's blocks) against the general translation loop (run here
with a profile that changes nothing: every pc ran, no other region), op for
op with the same instructions, pages and size; and the optimizer's one walk
for its first three passes (passes.py `_forward`) against the passes run one
after the other."""
import random
import struct

import pytest

from pydbt.errors import GuestFault
from pydbt.ir import format_block
from pydbt.passes import NATIVE_ONLY, PASSES, optimize
from pydbt.runtime.memory import GuestMemory, R, W, X
from pydbt.frontends.riscv64.decode import decode, ENCODINGS
from pydbt.frontends.riscv64.translate import translate

CODE, SPACE = 0x10000, 1 << 24
PAGES = 3                      # code pages mapped; the one after them is not (a fetch fault)


class Inert:
    """A profile that changes nothing for a plain block: everything ran, no other region."""
    native = False

    def ran(self, pc):
        return True

    def entry(self, pc, inside=()):
        return False


class Everywhere(Inert):
    """For superblocks: follow every path."""


def _word(name, rng):
    rows = [r for r in ENCODINGS if r[0] == name]
    _, mask, match, _ = rows[0]
    while True:
        w = (rng.getrandbits(32) & ~mask) | match
        i = decode(w)
        if i is not None and i.name == name:
            return w


COMMON = ["addi", "ld", "add", "sd", "lw", "sw", "slli", "addiw", "lui", "auipc", "sub", "and",
          "or", "xor", "srli", "srai", "lbu", "sb", "mul", "addw", "subw", "sllw",
          "andi", "ori", "slt", "sltu", "div", "remu", "lh", "lhu", "lwu", "sh", "fld", "fsd",
          "fadd.d", "csrrs", "amoadd.w", "lr.d", "sc.d", "fence"]
CONTROL = ["beq", "bne", "blt", "bgeu", "jal", "jalr", "ecall", "ebreak", "fence.i"]


def _code(rng, n):
    """n bytes of random instructions: mostly straight-line ones, control flow
    now and then (jumps and branches to near pcs, calls and returns through a
    register set before them), compressed halfwords, words that do not decode."""
    out = bytearray()
    while len(out) < n:
        k = rng.random()
        if k < 0.12:
            name = rng.choice(CONTROL)
            w = _word(name, rng)
            if name in ("jal", "beq", "bne", "blt", "bgeu") and rng.random() < 0.7:
                # a near target (in the code, either way)
                off = rng.randrange(-64, 64) * 2
                if name == "jal":
                    imm = off & 0x1fffff
                    w = (w & 0xfff) | ((imm >> 20) & 1) << 31 | ((imm >> 1) & 0x3ff) << 21 | \
                        ((imm >> 11) & 1) << 20 | ((imm >> 12) & 0xff) << 12
                else:
                    imm = off & 0x1fff
                    w = (w & 0x01fff07f) | ((imm >> 12) & 1) << 31 | ((imm >> 5) & 0x3f) << 25 | \
                        ((imm >> 1) & 0xf) << 8 | ((imm >> 11) & 1) << 7
            if name == "jalr" and rng.random() < 0.6:
                # auipc/jal sets the register the jalr reads: a known target
                r = rng.choice([1, 5, 6, 10])
                pre = _word("auipc", rng) & ~0xfff0f80 | r << 7 | rng.randrange(3) << 12
                w = (w & ~(0x1f << 15)) | r << 15
                out += struct.pack("<I", pre)
            out += struct.pack("<I", w)
        elif k < 0.2:
            h = rng.getrandbits(16)
            while h & 3 == 3:
                h = rng.getrandbits(16)
            out += struct.pack("<H", h)
        elif k < 0.22:
            out += struct.pack("<I", rng.choice([0, 0xffffffff, rng.getrandbits(32) | 3]))
        else:
            out += struct.pack("<I", _word(rng.choice(COMMON), rng))
    return bytes(out[:n])


def _memory(code):
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, PAGES * 0x1000, R | W | X)
    mem.poke(CODE, code)
    return mem


def _shape(blk):
    return format_block(blk), blk.insns, blk.pages, blk.size, blk.ninsns


def _translated(mem, pc, n, **kw):
    try:
        return _shape(translate(mem, pc, n, **kw))
    except GuestFault as e:
        return ("fault", e.pc)


@pytest.mark.parametrize("seed", range(6))
def test_plain_block_equals_general_loop(seed):
    rng = random.Random(seed)
    code = _code(rng, PAGES * 0x1000)
    mem = _memory(code)
    starts = [CODE + 2 * k for k in range(0, PAGES * 0x800, 3)]
    # (page ends: 32-bit words across them, paths into the unmapped page)
    starts += [CODE + PAGES * 0x1000 - 2 * k for k in range(1, 40)] + [CODE + 0x1000 - 2, CODE + 0x2000 - 4]
    kinds = set()
    for pc in starts:
        for n in (1, 3, 512):
            fast = _translated(mem, pc, n, superblock=False)
            general = _translated(mem, pc, n, superblock=False, profile=Inert())
            assert fast == general, (seed, hex(pc), n)
            if fast[0] != "fault":
                kinds |= {k for k in ("goto_tb", "goto_ptr", "exception", "brcond") if k in fast[0]}
    assert kinds == {"goto_tb", "goto_ptr", "exception", "brcond"}


def _passes_in_turn(blk):
    for name, p in PASSES.items():
        if name not in NATIVE_ONLY:
            p(blk)
    return blk


@pytest.mark.parametrize("seed", range(4))
def test_forward_walk_equals_passes_in_turn(seed):
    """optimize's _forward = forward_regs, copy_prop, const_fold in turn, on
    superblocks (loops inside, labels, side exits) and plain blocks"""
    rng = random.Random(100 + seed)
    mem = _memory(_code(rng, PAGES * 0x1000))
    changed = 0
    for pc in range(CODE, CODE + PAGES * 0x1000, 34):
        for kw in ({"superblock": True, "profile": Everywhere()}, {"superblock": False}):
            try:
                one, two = translate(mem, pc, 128, **kw), translate(mem, pc, 128, **kw)
            except GuestFault:
                continue
            before = format_block(one)
            a, b = format_block(optimize(one)), format_block(_passes_in_turn(two))
            assert a == b, (seed, hex(pc), kw)
            changed += a != before
    assert changed > 100
