"""The IR: builder folding, verifier, printer, and the passes checked against the interpreter."""
import random

import pytest

from pydbt import ir
from pydbt.builder import Builder, RegFile
from pydbt.ir import Block, I64, I32, OPS, MASK, verify, IRError, format_block
from pydbt.passes import optimize, PASSES
from pydbt.backends import interp

M64 = (1 << 64) - 1


class FakeCPU:
    def __init__(self, regs):
        self.regs = list(regs)


class FakeCtx:
    """What a backend gets from the engine: exits return markers instead of TBs."""
    mem = None
    counter = None
    pending = []

    def __init__(self, blk):
        self.links = [("goto_tb", op.consts[0]) for op in blk.ops if op.name == "goto_tb"]
        self.lookup = lambda pc: ("goto_ptr", pc)


def new():
    blk = Block(0x1000)
    return blk, Builder(blk)


def run(blk, regs):
    cpu = FakeCPU(regs)
    exit = interp.compile(blk, FakeCtx(blk))(cpu)
    return cpu.regs, exit


def test_builder_folds_constants():
    blk, b = new()
    v = (b.const(5) + 7) << 2
    assert v.const == 48
    assert not blk.ops
    assert b.const(1).cmp("lt", -1 & M64).const == 0
    assert b.const(1).cmp("ltu", -1 & M64).const == 1
    assert b.const(-8 & M64).sar(1).const == (-4 & M64)
    assert (b.const(0x80000000).sext32()).const == 0xffffffff80000000


def test_eval_division_conventions():
    # x / 0 = 0 and x % 0 = x; MIN / -1 = MIN and MIN % -1 = 0 (lifters build on these)
    mn = 1 << 63
    assert ir.eval_op("div", 64, (), [7, 0]) == 0
    assert ir.eval_op("rem", 64, (), [7, 0]) == 7
    assert ir.eval_op("div", 64, (), [mn, M64]) == mn
    assert ir.eval_op("rem", 64, (), [mn, M64]) == 0
    assert ir.eval_op("div", 64, (), [-7 & M64, 2]) == (-3 & M64)
    assert ir.eval_op("rem", 64, (), [-7 & M64, 2]) == (-1 & M64)
    assert ir.eval_op("mulhsu", 64, (), [M64, 2]) == M64       # -1 * 2 = -2: high word -1
    assert ir.eval_op("rotl", 32, (), [0x80000001, 1]) == 3


def test_verifier_rejects_bad_blocks():
    blk, b = new()
    b.setreg(1, b.getreg(2) + 1)
    with pytest.raises(IRError, match="END"):
        verify(blk)
    b.goto_tb(0x2000)
    assert verify(blk)
    blk.ops.insert(0, ir.Op("add", I64, [blk.temp(I64)], [ir.Temp(I64, 999), ir.Const(I64, 1)]))
    with pytest.raises(IRError, match="before definition"):
        verify(blk)
    blk2, b2 = new()
    blk2.ops.append(ir.Op("add", I64, [blk2.temp(I64)], [ir.Const(I64, 1)]))
    b2.goto_tb(0)
    with pytest.raises(IRError, match="inputs"):
        verify(blk2)


def test_printer():
    blk, b = new()
    b.insn_start(0x1000)
    b.setreg(5, b.getreg(6) + 16)
    b.goto_tb(0x1004)
    text = format_block(blk)
    assert "---- 0000000000001000" in text
    assert "add_i64 t1, t0, $0x10" in text and "setreg_i64 g5, t1" in text
    assert "goto_tb 0x1004" in text


def test_forward_regs_and_dce():
    blk, b = new()
    x = RegFile(b, 0, zero=0)
    x[1] = b.const(5)
    x[2] = x[1] + 1          # getreg 1 is forwarded: folds to 6
    x[3] = x[2] * x[2]
    b.goto_tb(0x2000)
    before = run(blk, [0] * 8)
    optimize(blk)
    verify(blk)
    assert not any(op.name == "getreg" for op in blk.ops)
    assert [op.name for op in blk.ops] == ["setreg"] * 3 + ["goto_tb"]
    assert run(blk, [0] * 8) == before


def test_every_op_is_interpreted():
    """The interp covers every op of the table (a new op fails here until it does)."""
    import inspect
    src = inspect.getsource(interp)
    for name, d in OPS.items():
        if d.flags & ir.PURE and name not in ("getreg", "call_pure", "setcond", "movcond"):
            assert name in ir.EVAL, name
        else:
            assert f'"{name}"' in src, f"interp does not handle {name}"


# --- random blocks: the optimizer must not change what a block computes ---------

BIN = ["add", "sub", "mul", "mulh", "mulhu", "mulhsu", "div", "divu", "rem", "remu",
       "and", "or", "xor", "shl", "shr", "sar", "rotl", "rotr"]
UN = ["neg", "not", "clz", "ctz", "popcnt", "ext8s", "ext8u", "ext16s", "ext16u", "ext32s", "ext32u"]
CONDS = list(ir.CONDS)
INTERESTING = [0, 1, 2, 31, 32, 63, 64, M64, 1 << 63, (1 << 63) - 1, 0x80000000, 0xffffffff]


def random_block(rng):
    blk, b = new()
    vals = []
    for _ in range(rng.randrange(3, 25)):
        k = rng.random()
        pick = lambda: rng.choice(vals) if vals and rng.random() < 0.7 else b.const(rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64))
        if k < 0.2 or not vals:
            vals.append(b.getreg(rng.randrange(8)))
        elif k < 0.55:
            vals.append(b.op(rng.choice(BIN), I64, pick(), pick()))
        elif k < 0.65:
            vals.append(b.op(rng.choice(UN), I64, pick()))
        elif k < 0.72:
            vals.append(pick().cmp(rng.choice(CONDS), pick()))
        elif k < 0.8:
            vals.append(b.movcond(rng.choice(CONDS), pick(), pick(), pick(), pick()))
        elif k < 0.85:
            v32 = b.op("trunc32", I32, pick())
            vals.append(b.op("sext32" if rng.random() < 0.5 else "zext32", I64, b.op(rng.choice(BIN[:3] + BIN[10:]), I32, v32, v32)))
        elif k < 0.9:
            # a branch over a few ops and setregs (C's `if (c) x = ...`: if_convert's),
            # after which no value lives on (temps do not cross labels)
            lab = b.label()
            b.brcond(rng.choice(CONDS), pick(), pick(), lab, rng.randrange(4))
            for _ in range(rng.randrange(1, 4)):
                v = b.op(rng.choice(BIN), I64, pick(), pick())
                vals.append(v)
                b.setreg(rng.randrange(8), v if rng.random() < 0.7 else pick())
                if rng.random() < 0.3:
                    vals.append(b.getreg(rng.randrange(8)))
            b.set_label(lab)
            vals.clear()
        else:
            b.setreg(rng.randrange(8), pick())
    if vals and rng.random() < 0.5:
        lab = b.label()
        b.brcond(rng.choice(CONDS), rng.choice(vals), b.const(rng.choice(INTERESTING)), lab)
        b.setreg(7, rng.choice(vals))
        b.goto_tb(0x3000)
        b.set_label(lab)
        b.goto_ptr(b.getreg(rng.randrange(8)))     # temps do not cross labels
    else:
        b.setreg(0, vals[-1] if vals else b.const(0))
        b.goto_tb(0x2000)
    return blk


@pytest.mark.parametrize("seed", range(300))
def test_passes_preserve_semantics(seed):
    rng = random.Random(seed)
    blk = random_block(rng)
    verify(blk)
    regs = [rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64) for _ in range(8)]
    expect = run(blk, regs)
    for name in PASSES:          # each pass alone, then all together (as for native code too)
        one = random_block(random.Random(seed))
        optimize(one, disabled=[p for p in PASSES if p != name], native=True)
        verify(one)
        assert run(one, regs) == expect, name
    native = random_block(random.Random(seed))
    optimize(native, native=True)
    verify(native)
    assert run(native, regs) == expect
    optimize(blk)
    verify(blk)
    assert run(blk, regs) == expect


def _sext_block():
    blk, b = new()
    a = b.op("ext32s", I64, b.getreg(1))
    c = b.op("xor", I64, a, b.op("ext16s", I64, b.getreg(2)))
    f = b.op("or", I64, b.op("not", I64, c), b.op("sar", I64, b.getreg(3), b.const(40)))
    b.setreg(4, b.op("ext32s", I64, f))                                   # redundant
    b.setreg(5, b.op("ext32s", I64, b.op("add", I64, a, a)))             # needed: add can carry
    b.setreg(6, b.op("ext32s", I64, b.op("and", I64, f, b.getreg(2))))   # needed: reg 2 is anything
    b.goto_tb(0x2000)
    return blk


def optimized_runs_the_same(make, seed):
    """make() optimized runs as make() does, on random registers; returns it"""
    blk = make()
    optimize(blk)
    verify(blk)
    rng = random.Random(seed)
    for _ in range(200):
        regs = [rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64) for _ in range(8)]
        assert run(blk, regs) == run(make(), regs)
    return blk


def test_narrow_drops_sign_extension_of_sign_extended_values():
    blk = optimized_runs_the_same(_sext_block, 5)
    assert sum(op.name == "ext32s" for op in blk.ops) == 3     # a, and the two needed ones


def _offsets_block():
    blk, b = new()
    p = b.getreg(1)
    q = b.op("add", I64, p, b.const(8))                                   # p + 8
    b.setreg(1, q)
    b.setreg(2, b.op("sub", I64, q, b.const(8)))                          # p
    b.setreg(3, b.op("add", I64, b.op("sub", I64, q, b.const(3)), b.const(-9 & MASK[I64])))   # p - 4
    w = b.op("add", I32, b.op("trunc32", I32, p), b.const(0xffffffff))    # (i32) p - 1
    b.setreg(4, b.op("zext32", I64, b.op("add", I32, w, b.const(2))))     # (i32) p + 1
    b.goto_tb(0x2000)
    return blk


def test_const_fold_adds_up_offsets():
    """(p + 8) - 8 is p itself; chains of constant offsets become one, in each width."""
    blk = optimized_runs_the_same(_offsets_block, 6)
    sets = {op.consts[0]: op.ins[0] for op in blk.ops if op.name == "setreg"}
    p = next(op.outs[0] for op in blk.ops if op.name == "getreg")
    assert sets[2] is p
    assert sum(op.name in ("add", "sub") for op in blk.ops) == 3           # p+8, p-4, (i32) p+1


def _rotates_block(c):
    """C's rotates as RV64 code computes them: a 64-bit one (srli, slli, or),
    the 32-bit form (srliw, slliw, or: the low word zero-extended and shifted
    right, the left shift's word sign-extended) in either order and with xor
    and add, and near misses that are not rotates (amounts not summing to the
    width, two sources, the right shift of a value wider than 32 bits)."""
    blk, b = new()
    x, y = b.getreg(1), b.getreg(2)
    right = b.op("shr", I64, x, b.const(c))
    b.setreg(3, b.op("or", I64, right, b.op("shl", I64, x, b.const(64 - c))))            # rotr 64
    b.setreg(4, b.op("xor", I64, b.op("shl", I64, x, b.const(64 - c)), right))           # the same
    low = b.op("ext32u", I64, x)
    c32 = c % 31 + 1
    wr = b.op("shr", I64, low, b.const(c32))
    wl = b.op("ext32s", I64, b.op("shl", I64, x, b.const(32 - c32)))
    b.setreg(5, b.op("or", I64, wr, wl))                                                  # rotr 32
    b.setreg(6, b.op("add", I64, wl, wr))                                                 # the same
    wl2 = b.op("ext32s", I64, b.op("shl", I64, b.op("ext32s", I64, x), b.const(32 - c32)))
    b.setreg(7, b.op("or", I64, wr, wl2))                                                 # its low word too
    # not rotates
    b.setreg(0, b.op("or", I64, right, b.op("shl", I64, x, b.const((64 - c) % 63 + 1))))
    b.setreg(1, b.op("or", I64, right, b.op("shl", I64, y, b.const(64 - c))))
    wide = b.op("shr", I64, x, b.const(c32))                                              # x: 64 bits
    b.setreg(2, b.op("or", I64, wide, wl))
    b.goto_tb(0x2000)
    return blk


@pytest.mark.parametrize("c", [1, 7, 13, 31, 32, 45, 63])
def test_rotate_finds_rotates(c):
    blk = optimized_runs_the_same(lambda: _rotates_block(c), c)
    rot = [op for op in blk.ops if op.name == "rotr"]
    assert sorted(op.type for op in rot) == [I32, I64]       # (the same rotates share: a value each)
    assert sum(op.name == "or" for op in blk.ops) == 3           # the near misses stay


def _addw_chain_block():
    """sha256's `h + S1 + ch + k + w` as RV64 computes it: an addw (add,
    ext32s) each; a 32-bit store of one; one used whole (a compare)."""
    blk, b = new()
    r = [b.getreg(i) for i in range(1, 6)]
    s = b.op("ext32s", I64, b.op("add", I64, r[0], r[1]))
    s = b.op("ext32s", I64, b.op("add", I64, s, r[2]))                    # low word only: goes
    x = b.op("ext32s", I64, b.op("xor", I64, s, r[3]))                    # low word only: goes
    s = b.op("ext32s", I64, b.op("add", I64, x, r[4]))
    b.setreg(6, s)                                                        # read whole: stays
    w = b.op("ext32u", I64, b.op("sub", I64, r[0], r[2]))
    b.st(r[3], b.op("ext32s", I64, b.op("shl", I64, w, b.const(3))), 4)   # both go: a 4-byte store
    y = b.op("ext32s", I64, b.op("add", I64, r[1], r[2]))
    b.setreg(7, b.op("setcond", I64, y, r[3], consts=("lt",)))            # compared: stays
    b.setreg(5, b.op("shr", I64, b.op("ext32u", I64, r[4]), b.const(7)))  # shifted right: stays
    b.goto_tb(0x2000)
    return blk


class _StoreLog:
    def __init__(self):
        self.stores = []

    def store(self, addr, value, size):
        self.stores.append((addr, value & ((1 << 8 * size) - 1), size))


def _run_storing(blk, regs):
    ctx = FakeCtx(blk)
    ctx.mem = _StoreLog()
    cpu = FakeCPU(regs)
    exit = interp.compile(blk, ctx)(cpu)
    return cpu.regs, exit, ctx.mem.stores


def test_low_words_drops_extensions_only_the_low_word_of_is_read():
    blk = _addw_chain_block()
    optimize(blk, disabled=[p for p in PASSES if p != "low_words"])
    verify(blk)
    rng = random.Random(7)
    for _ in range(300):
        regs = [rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64) for _ in range(8)]
        assert _run_storing(blk, regs) == _run_storing(_addw_chain_block(), regs)
    exts = [op.name for op in blk.ops if op.name.startswith("ext32")]
    assert exts == ["ext32s", "ext32s", "ext32u"], format_block(blk)
