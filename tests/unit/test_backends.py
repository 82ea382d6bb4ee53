"""Backend equivalence: every backend computes exactly what the reference interpreter does.

* each IR op alone, on interesting and random inputs;
* random IR blocks (the generator of test_ir);
* random riscv64 machine code (hypothesis): one translated block run from the same
  CPU and memory state on each backend, comparing registers, fflags, memory, how the
  block ended, and for a fault its signal, address and pc (faults mid-block must be
  precise), plus self-modifying stores into the block's own page.
"""
import random
import struct

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from pydbt import ir
from pydbt.backends import NAMES, get_backend, makes_native
from pydbt.builder import Builder
from pydbt.errors import GuestFault, Syscall, Breakpoint
from pydbt.ir import Block, OPS, I64, I32, MASK
from pydbt.passes import optimize
from pydbt.runtime.memory import GuestMemory, R, W, X
from pydbt.frontends.riscv64.cpu import CPU
from pydbt.frontends.riscv64.translate import translate
from pydbt.frontends.riscv64.decode import ENCODINGS

from test_ir import random_block, INTERESTING, FakeCPU

OTHERS = [n for n in NAMES if n != "interp"]
M64 = MASK[64]


STATS_SLOW = [0]       # slow exits machine_state(slow=True) saw


class OneIteration(list):
    """A `pending` list that claims a signal at the first back-edge check, so a block
    that loops on itself runs once, as on the interpreter (which returns at its exit)."""

    def __bool__(self):
        return True


class Ctx:
    def __init__(self, blk, mem=None, pending=None):
        self.mem = mem
        self.counter = [0]
        self.pending = OneIteration() if pending is None else pending
        self.fns = {}
        self.links = [("goto_tb", op.consts[0]) for op in blk.ops if op.name == "goto_tb"]
        self.lookup = lambda pc: ("goto_ptr", pc)


def run_block(backend, blk, regs, mem=None):
    cpu = FakeCPU(regs) if mem is None else None
    ctx = Ctx(blk, mem)
    fn = get_backend(backend).compile(blk, ctx)
    return cpu.regs, fn(cpu), ctx.counter     # the instruction count must agree too


# --- one op at a time ---------------------------------------------------------------

def one_op_block(name, w, nin, consts):
    blk = Block(0x1000)
    b = Builder(blk)
    ins = [b.getreg(i, I64) for i in range(nin)]
    if w == I32:
        ins = [b.op("trunc32", I32, v) for v in ins]
    if name in ("zext32", "sext32"):
        ins = [b.op("trunc32", I32, v) for v in ins]
    if name == "trunc32":
        out = b.op(name, I32, *ins)
        b.setreg(7, b.op("zext32", I64, out))
    else:
        out = b.op(name, w, *ins, consts=consts)
        b.setreg(7, out if out.type == I64 else b.op("zext32", I64, out))
    b.goto_tb(0x2000)
    return blk


PURE_OPS = [(n, d) for n, d in OPS.items() if d.flags & ir.PURE and n not in ("getreg", "call_pure")]


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("name,d", PURE_OPS, ids=[n for n, _ in PURE_OPS])
def test_each_pure_op(backend, name, d):
    rng = random.Random(name)
    conds = ir.CONDS if name in ("setcond", "movcond") else [None]
    widths = [I64] if name in ("zext32", "sext32", "trunc32") else [I64, I32]
    for w in widths:
        for cond in conds:
            blk = one_op_block(name, w, d.nin, (cond,) if cond else ())
            for _ in range(60):
                regs = [rng.choice(INTERESTING) if rng.random() < 0.6 else rng.getrandbits(64) for _ in range(8)]
                assert run_block(backend, blk, regs) == run_block("interp", blk, regs), (name, w, cond, regs)


@pytest.mark.parametrize("backend", OTHERS)
def test_backend_covers_every_op(backend):
    """A new op in the table fails here until the backend handles it."""
    import importlib
    import inspect
    from pydbt.backends import NAMES
    mod = importlib.import_module(NAMES[backend])      # (get_backend's may load on first use)
    src = inspect.getsource(mod)
    for part in getattr(mod, "EMITTERS", ()):       # (llvm: the IR text comes from llvm_emit)
        src += inspect.getsource(part)
    for n, d in OPS.items():
        if d.flags & ir.PURE and n not in ("getreg", "call_pure") and n in ir.EVAL:
            continue      # covered by test_each_pure_op (falls back to ir.EVAL at worst)
        assert f'"{n}"' in src, f"{backend} does not handle op {n}"


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("seed", range(200))
def test_random_blocks(backend, seed):
    rng = random.Random(seed)
    blk = random_block(rng)
    regs = [rng.choice(INTERESTING) if rng.random() < 0.5 else rng.getrandbits(64) for _ in range(8)]
    expect = run_block("interp", blk, regs)
    assert run_block(backend, blk, regs) == expect
    optimize(blk)
    assert run_block(backend, blk, regs) == expect


# --- random riscv64 machine code ---------------------------------------------------------

CODE, DATA, SPACE = 0x10000, 0x20000, 1 << 24
_ROWS = [e for e in ENCODINGS]
# rows that rarely end a block or fault by themselves: most of a program comes from these
_SAFE = [e for e in ENCODINGS if not e[0].startswith(("csr", "b", "j", "ecall", "ebreak", "fence",
                                                        "lr", "sc", "amo"))]


def _word(row, fill):
    mask, match = row[1], row[2]
    return (fill & ~mask & 0xffffffff) | match


class Ran:
    """A profile for translate(): which blocks ran (and where other regions
    start: entry, by default nowhere)"""
    def __init__(self, ran, entry=lambda pc: False):
        self.ran = ran
        self.entry = lambda pc, inside=(): entry(pc)     # (inside: the superblock's pcs so far)


class SlowStep:
    """Native code left before the access at pc (its inline check failed): the
    engine's slow exit (execloop._slow_exit), as machine_state's `slow` sees it."""

    def __init__(self, pc):
        self.pc = pc


def _slow_rest(pc, cpu, mem, pending, counter, end):
    """After a slow exit at pc: the rest on the interpreter, one plain block at a
    time from pc (its first instruction, the access, alone), while the code
    stays inside the program's words (below `end`) -> the exit that leaves them."""
    interp = get_backend("interp")
    first = True
    while True:
        blk = translate(mem, pc, 1 if first else 64, superblock=False)
        first = False
        ctx = Ctx(blk, mem, pending)
        try:
            r = interp.compile(blk, ctx)(cpu)
        finally:
            counter[0] += ctx.counter[0]
        if not (CODE <= r[1] < end):
            return r
        pc = cpu.pc = r[1]


def machine_state(backend, words, regs, fregs, frm, pending=None, superblock=True, profile=None, entry=0,
                  slow=False):
    """Run `words` as one block on `backend` (entered at its `entry`-th other
    entry, block.entries: None if it has none such): how it ended, registers,
    FP state, data and code memory.  slow: native code leaves at an access its
    check refuses (the engine's way: EXIT_SLOW), and the rest runs on the
    interpreter (_slow_rest: for programs whose loops end by themselves)."""
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.map(DATA, 0x2000, R | W)
    mem.protect(DATA + 0x1000, 0x1000, R)                 # the second data page is read-only
    code = b"".join(struct.pack("<I", w) for w in words)
    mem.poke(CODE, code)
    mem.poke(DATA, bytes(range(256)) * 16)
    cpu = CPU(mem)
    cpu.regs[:32] = [0] + regs[1:32]
    cpu.regs[32:64] = fregs
    cpu.frm = frm
    blk = translate(mem, CODE, 64, superblock=superblock, profile=profile)
    optimize(blk, native=makes_native(get_backend(backend)))   # (as the engine: if_convert for native code)
    if entry > len(getattr(blk, "entries", None) or ()):
        return None
    cpu.pc = blk.entries[entry - 1][0] if entry else CODE
    ctx = Ctx(blk, mem, pending)
    if slow:
        ctx.slow = lambda nat, pc: SlowStep(pc)
    fn = get_backend(backend).compile(blk, ctx)
    if entry:
        fn = fn.entry_fns[entry - 1]
    mem.on_code_write = lambda page: None
    try:
        r = fn(cpu)
        if isinstance(r, SlowStep):
            STATS_SLOW[0] += 1
            r = _slow_rest(r.pc, cpu, mem, [], ctx.counter, CODE + 4 * len(words))
        result = ("exit", r, ctx.counter[0])
    except GuestFault as e:
        result = ("fault", e.signo, e.code, e.addr, e.pc, cpu.pc)
    except (Syscall, Breakpoint) as e:
        result = (type(e).__name__, e.pc, ctx.counter[0])
    return result, list(cpu.regs), cpu.fflags, cpu.frm, bytes(mem.buf[DATA:DATA + 0x2000]), \
        bytes(mem.buf[CODE:CODE + 4 * len(words)])


def _reg_value(draw):
    kind = draw(st.integers(0, 5))
    if kind <= 2:       # a pointer into the data pages (sometimes the read-only one)
        return DATA + draw(st.integers(0, 0x1ff8 // 8)) * 8 - draw(st.sampled_from([0, 0, 0, 1, 4]))
    if kind == 1:
        return draw(st.sampled_from(INTERESTING))
    return draw(st.integers(0, M64))


def _branch_to(word, offset):
    """A B-type word with its target changed to pc + offset."""
    o = offset & 0x1fff
    return (word & 0x01fff07f) | ((o >> 12) << 31) | (((o >> 5) & 0x3f) << 25) | \
        (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7)


_BRANCHES = [e for e in ENCODINGS if e[0] in ("beq", "bne", "blt", "bge", "bltu", "bgeu")]


@st.composite
def programs(draw, branchy=False):
    n = draw(st.integers(1, 24))
    third = _BRANCHES if branchy else _ROWS
    rows = draw(st.lists(st.one_of(st.sampled_from(_SAFE), st.sampled_from(_SAFE), st.sampled_from(third)),
                         min_size=n, max_size=n))
    words = []
    for k, row in enumerate(rows):
        w = _word(row, draw(st.integers(0, 0xffffffff)))
        if row[0].startswith("b") and draw(st.booleans()):
            w = _branch_to(w, 4 * (draw(st.integers(0, n)) - k))      # a target inside the program
        words.append(w)
    words.append(0x2000006f)            # j .+512: leave by a chainable exit, not an exception
    regs = [draw(st.builds(lambda: 0))] + [_reg_value(draw) for _ in range(31)]
    fregs = [draw(st.sampled_from([0x3ff0000000000000, 0x7ff8000000000000, 0xffffffff3f800000,
                                   0xffffffff7fc00000, 0x8000000000000000, 1, M64]))
             if draw(st.booleans()) else draw(st.integers(0, M64)) for _ in range(32)]
    frm = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 7]))
    return words, regs, fregs, frm


@pytest.mark.parametrize("shape", ["block", "superblock", "paths"])
@pytest.mark.parametrize("backend", OTHERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), warm=st.integers(0, (1 << 26) - 1), entries=st.integers(0, (1 << 26) - 1))
def test_random_machine_code(backend, shape, data, warm, entries):
    """Random machine code (branches included: as a superblock they become side
    exits and jumps inside the block; with "paths", the superblock also takes in the
    side exits' targets that have "run", bits of `warm`, and leaves the rest, and
    ends where another region starts, bits of `entries` in one in four cases)
    runs the same on every backend."""
    words, regs, fregs, frm = data.draw(programs(branchy=shape == "paths"))
    kw = {"superblock": shape != "block"}
    if shape == "paths":
        if entries & 3:
            entries = 0
        kw["profile"] = Ran(lambda a: not (warm >> ((a - CODE) // 4 % 26)) & 1,
                            lambda a: (entries >> ((a - CODE) // 4 % 26)) & 1)
    expect = machine_state("interp", words, regs, fregs, frm, **kw)
    got = machine_state(backend, words, regs, fregs, frm, **kw)
    assert got[0] == expect[0], "how the block ended"
    assert got[1] == expect[1], "registers"
    assert got[2:] == expect[2:], "fflags, frm, memory"


def test_fault_mid_block_is_precise():
    """A load from an unmapped page in the middle of a block: pc and the registers
    written by the instructions before it are exact, on every backend."""
    # addi a0, zero, 5 ; addi a1, zero, 7 ; ld a2, 0(zero) ; addi a3, zero, 9
    words = [0x00500513, 0x00700593, 0x00003603, 0x00900693]
    regs = [0] * 32
    regs[13] = 0x1234
    results = {b: machine_state(b, words, regs, [0] * 32, 0) for b in NAMES}
    for b, r in results.items():
        assert r[0] == ("fault", 11, 1, 0, CODE + 8, CODE + 8), b
        assert r[1][10] == 5 and r[1][11] == 7 and r[1][13] == 0x1234, b
    assert len({repr(r) for r in results.values()}) == 1


def test_store_into_own_code_page():
    """A block storing into its own page: the store lands, later instructions of the
    same block still run as translated (riscv needs fence.i to see new code)."""
    # lui a0, 0x10 (a0 = 0x10000) ; sw zero, 64(a0) ; addi a1, zero, 3
    words = [0x00010537, 0x04052023, 0x00300593]
    results = {b: machine_state(b, words, [0] * 32, [0] * 32, 0) for b in NAMES}
    assert len({repr(r) for r in results.values()}) == 1
    assert results["interp"][1][11] == 3


def test_loop_inside_a_block_runs_to_completion():
    """A branch back to the middle of a superblock loops inside it on every backend,
    with exact instruction counts."""
    # addi a1, zero, 5 ; L: addi a0, a0, 1 ; addi a1, a1, -1 ; bne a1, zero, L ; ebreak
    words = [0x00500593, 0x00150513, 0xfff58593, 0xfe059ce3, 0x00100073]
    results = {b: machine_state(b, words, [0] * 32, [0] * 32, 0, pending=[]) for b in NAMES}
    for b, r in results.items():
        assert r[0] == ("Breakpoint", CODE + 16, 1 + 3 * 5 + 1), b
        assert r[1][10] == 5 and r[1][11] == 0, b


@pytest.mark.parametrize("a0, a1", [(1, 1), (1, 0), (0, 0)])
def test_paths_of_a_superblock_join(a0, a1):
    """A superblock that takes in a side exit's target (which has run) where the main
    path's cold fall-through ended: a branch of the main path joins that later part.
    Each path writes back its own registers, on every backend."""
    #    beqz a0, seg ; addi s2, s2, 1 ; bnez a1, join ; addi a3, a3, 1 (never run) ; ebreak
    # seg: addi s1, s1, 1 ; addi s3, s3, 1
    # join: addi a4, a4, 1 ; j .+256     (an exit that is not an exception: those go
    #                                     through the fault handler, which writes back all)
    words = [0x00050a63, 0x00190913, 0x00059a63, 0x00168693, 0x00100073,
             0x00148493, 0x00198993, 0x00170713, 0x1000006f]
    regs = [0] * 32
    regs[10], regs[11] = a0, a1
    ran = Ran(lambda a: a < CODE + 12 or CODE + 20 <= a < CODE + 36)
    results = {b: machine_state(b, words, regs, [0] * 32, 0, profile=ran) for b in NAMES}
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=ran)
    assert [a - CODE for a, _ in blk.insns] == [0, 4, 8, 20, 24, 28, 32]
    r = results["interp"]
    if a0 and a1:           # main path, then the branch to join
        assert r[0][2] == 5 and (r[1][18], r[1][14], r[1][9], r[1][19]) == (1, 1, 0, 0)
    elif a0:                # main path to its end (the cold instruction runs in a block of its own)
        assert r[0][2] == 3 and (r[1][18], r[1][14], r[1][13]) == (1, 0, 0)
    else:                   # the side exit's path
        assert r[0][2] == 5 and (r[1][18], r[1][9], r[1][19], r[1][14]) == (0, 1, 1, 1)
    for b, got in results.items():
        assert got[0][0] == "exit" and got[0][1] == ("goto_tb", CODE + (12 if a0 and not a1 else 0x120)), b
        assert got[0][2] == r[0][2] and got[1:] == r[1:], b


def test_loops_of_a_superblock_overlap():
    """Two loops inside a superblock whose ranges overlap (the second's back-edge,
    in a later part of the block, jumps into the first): a write in the second
    reaches an exit of the first through both back-edges, and is written back there."""
    #       mv t0, t0
    # head: addi a0, a0, -1 ; beqz a0, out ; bnez a1, seg
    # mid:  addi a2, a2, 1 ; j head
    # seg:  addi s5, s5, 16 ; addi a1, a1, -1 ; j mid
    # out:  ebreak                     (never ran: the exit to it is chained)
    words = [0x00028293, 0xfff50513, 0x00050e63, 0x00059663, 0x00160613, 0xff1ff06f,
             0x010a8a93, 0xfff58593, 0xff1ff06f, 0x00100073]
    regs = [0] * 32
    regs[10], regs[11], regs[21] = 3, 1, 0x1000
    ran = Ran(lambda a: a != CODE + 0x24)
    results = {b: machine_state(b, words, regs, [0] * 32, 0, pending=[], profile=ran) for b in NAMES}
    for b, r in results.items():
        assert r[0][0] == "exit" and r[0][2] == 1 + (3 + 3 + 2) + (3 + 2) + 2, b     # seg in round 1
        assert (r[1][10], r[1][11], r[1][12], r[1][21]) == (0, 0, 2, 0x1010), b


def test_superblock_ends_where_another_region_starts():
    """A superblock for a later tier does not copy a region of that tier: the
    path ends at its entry (not at the block's own pc), with a chained exit, and
    a side exit to it is not taken in; the code runs the same on every backend."""
    # L0: addi a0, a0, 1 ; beqz a1, L3 ; L2: addi a2, a2, 1 ; L3: addi a3, a3, 1 ; j .+256
    words = [0x00150513, 0x00058463, 0x00160613, 0x00168693, 0x1000006f]
    everywhere = Ran(lambda a: a < CODE + 20)
    blk = translate(GuestMemoryWith(words), CODE, 64, profile=everywhere)
    assert [a - CODE for a, _ in blk.insns] == [0, 4, 8, 12, 16]
    for entry, insns, exits in [(CODE + 8, [0, 4, 12, 16], {8, 0x110}), (CODE + 12, [0, 4, 8], {12}),
                                (CODE, [0, 4, 8, 12, 16], {0x110})]:
        ran = Ran(everywhere.ran, lambda a, e=entry: a == e)
        blk = translate(GuestMemoryWith(words), CODE, 64, profile=ran)
        assert [a - CODE for a, _ in blk.insns] == insns, entry - CODE
        assert {op.consts[0] - CODE for op in blk.ops if op.name == "goto_tb"} == exits
        regs = [0] * 32
        results = {b: machine_state(b, words, regs, [0] * 32, 0, profile=ran) for b in NAMES}
        for b, r in results.items():
            assert r[0] == results["interp"][0] and r[1:] == results["interp"][1:], b


def GuestMemoryWith(words):
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    return mem


@pytest.mark.parametrize("base, offset", [(0, -8), (0, -0x800), (SPACE - 8, 8), (SPACE, 0),
                                          (M64 - 7, 16), (1 << 63, 0)])
def test_loads_outside_the_space_fault(base, offset):
    """Addresses a little below 0, at or above the top of the space, and wrapping
    past 2**64 fault with the wrapped address on every backend, even with the top
    page of the space mapped (an unmasked negative address must not reach it)."""
    # ld a2, offset(a0) ; addi a3, zero, 9
    words = [((offset & 0xfff) << 20) | (10 << 15) | (3 << 12) | (12 << 7) | 0x03, 0x00900693]
    regs = [0] * 32
    regs[10] = base
    for b in NAMES:
        mem = GuestMemory(space=SPACE)
        mem.map(CODE, 0x1000, R | W | X)
        mem.map(SPACE - 0x1000, 0x1000, R | W)
        mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
        cpu = CPU(mem)
        cpu.regs[:32] = regs
        blk = translate(mem, CODE, 64)
        optimize(blk)
        fn = get_backend(b).compile(blk, Ctx(blk, mem, None))
        with pytest.raises(GuestFault) as e:
            fn(cpu)
        assert (e.value.signo, e.value.addr, e.value.pc) == (11, (base + offset) & M64, CODE), b
        assert cpu.regs[13] == 0, b


def _btype(funct3, rs1, rs2, off):
    o = off & 0x1fff
    return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | \
        (funct3 << 12) | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63


@pytest.mark.parametrize("a1, a2, a3", [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 1, 1)])
def test_side_exit_after_a_skipped_write(a1, a2, a3):
    """Superblock side exits write back a register written earlier in block order
    but skipped on the path taken: its entry value must go back unchanged (and
    side exits that share their write-back code must not lose it)."""
    words = [_btype(1, 11, 0, 8),        # bne a1, zero, +8 (skips the next insn)
             0x00500513,                 # addi a0, zero, 5
             _btype(0, 12, 0, 16),       # beq a2, zero, +16 (leaves the block)
             0x00600513,                 # addi a0, zero, 6
             _btype(0, 13, 0, 12),       # beq a3, zero, +12 (leaves the block)
             0x00100073]                 # ebreak
    regs = [0] * 32
    regs[10], regs[11], regs[12], regs[13] = 0x77, a1, a2, a3
    results = {b: machine_state(b, words, regs, [0] * 32, 0, superblock=True) for b in NAMES}
    assert len({repr(r) for r in results.values()}) == 1, results
    assert results["interp"][1][10] == (6 if a2 else 0x77 if a1 else 5)


def _superblock_items(prog):
    """A JIT superblock's instruction list for the machine code of prog, and its generator."""
    from pydbt.backends import pybytecode
    words, regs, fregs, frm = prog
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    blk = translate(mem, CODE, 64)
    optimize(blk)
    gen = pybytecode.Gen(blk, Ctx(blk, mem, []))
    return gen.emit(), gen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs())
def test_fast_assembler_builds_the_same_code(prog):
    """backends/pyasm.py builds exactly the code object `Bytecode.to_code()` does
    (bytes, constants, names, line and exception tables) for JIT superblocks."""
    from pydbt.backends import pyasm, pybytecode
    if not pyasm.SUPPORTED:
        pytest.skip("pyasm does not know this CPython or bytecode package (Bytecode.to_code() is used)")
    items, gen = _superblock_items(prog)
    fast = pyasm.assemble(items, argnames=pybytecode._ARGS, name="tb", filename="<pydbt tb>",
                          flags=3, stacksize=gen.stacksize)     # (Unsupported fails the test)
    slow = pybytecode.to_code(items, "tb", gen.stacksize, fast=False)
    for attr in ("co_code", "co_names", "co_varnames", "co_exceptiontable", "co_linetable",
                 "co_stacksize", "co_nlocals", "co_argcount", "co_flags"):
        assert getattr(fast, attr) == getattr(slow, attr), attr
    assert [type(c) for c in fast.co_consts] == [type(c) for c in slow.co_consts]
    assert all(a is b or a == b for a, b in zip(fast.co_consts, slow.co_consts))


def test_fast_assembler_is_used_where_it_can_be():
    """On the CPythons whose layout it knows, with a bytecode package that has the
    internals it reads (0.18 on), pyasm is in use (so the comparison above is not
    skipped there)."""
    import sys
    import bytecode
    from pydbt.backends import pyasm
    version = tuple(int(x) for x in bytecode.__version__.split(".")[:2])
    assert pyasm.SUPPORTED == (sys.version_info[:2] in ((3, 11), (3, 12), (3, 13)) and version >= (0, 18))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs())
def test_stack_depth_is_computed(prog):
    """The emitter's stack depth for a superblock is the one the bytecode package
    computes by its own flow analysis (too small would corrupt the interpreter's
    frame; the JIT does not ask the package, which is slow)."""
    from bytecode import Bytecode
    items, gen = _superblock_items(prog)
    assert gen.stacksize == Bytecode(items).compute_stacksize(check_pre_and_post=False)


def _load(funct3, rd, rs1, imm):
    return ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x03


def _store(funct3, rs2, rs1, imm):
    return (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | 0x23


# loads and stores off one base (a0): one group of accesses
GROUP = [_load(3, 12, 10, 8),        # ld a2, 8(a0)
         _store(3, 11, 10, 0),       # sd a1, 0(a0)
         _load(2, 14, 10, 4),        # lw a4, 4(a0)
         _store(2, 13, 10, 16),      # sw a3, 16(a0)
         _load(3, 15, 10, 24),       # ld a5, 24(a0)
         _load(4, 16, 10, -8),       # lbu a6, -8(a0)
         0x00100073]                 # ebreak


@pytest.mark.parametrize("base", [DATA + 8, DATA + 0x100, DATA + 0x104, DATA + 0x102, DATA + 4, DATA + 0x1000 - 16,
                                  DATA + 0x1000 - 32, DATA + 0x1000, DATA + 0x1008, DATA + 0x1100,
                                  DATA + 0x2000 - 8, 0, 0x108, CODE + 0x208, M64 - 7])
def test_accesses_off_one_base(base):
    """Loads and stores off one base register share one check in the JIT (when
    the base is aligned and they all fit in one page that allows them); every
    other case (misaligned, across pages, read-only, unmapped, code) must still
    behave exactly like the interpreter, faults precise."""
    words = GROUP
    regs = [0] * 32
    regs[10], regs[11], regs[13] = base, 0x1122334455667788, 0xdeadbeef
    results = {b: machine_state(b, words, regs, [0] * 32, 0) for b in NAMES}
    assert len({repr(r) for r in results.values()}) == 1, results


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs())
def test_tb_functions_take_only_cpu(prog):
    """A JIT TB is a plain one-argument function (no defaults, no closure): its
    links, lookup, pages and counters are constants of its code, so CPython calls
    it by its exact-args path (the with-defaults path crashed CPython 3.12.1
    hosts running a large guest: issue 8) - and the TB still uses this TB
    context's objects, not copies."""
    from pydbt.backends import pybytecode
    words = prog[0]
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    blk = translate(mem, CODE, 64)
    optimize(blk)
    ctx = Ctx(blk, mem, [])
    fn = pybytecode.compile(blk, ctx)
    code = fn.__code__
    assert (code.co_argcount, code.co_varnames[:1], fn.__defaults__, fn.__closure__) == (1, ("cpu",), None, None)
    ids = {id(c) for c in code.co_consts}
    assert id(ctx.counter) in ids
    assert (id(ctx.links) in ids) == bool(ctx.links)


@pytest.mark.parametrize("backend", NAMES)
def test_a_fault_without_stats(backend, monkeypatch):
    """No -stats (the context's counter None): a load that faults after an
    instruction of its TB leaves the state it leaves when counting (the
    bytecode JIT's fault handler once took the missing counter for a missing
    constant: no TB compiled)."""
    words = [0x00500593,                                   # addi a1, zero, 5
             _load(3, 12, 10, 0),                          # ld a2, 0(a0): unmapped
             0x00100073]                                   # ebreak
    regs = [0] * 32
    regs[10] = DATA + 0x2000
    want = machine_state(backend, words, regs, [0] * 32, 0)
    init = Ctx.__init__

    def quiet(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.counter = None
    monkeypatch.setattr(Ctx, "__init__", quiet)
    assert want[0][0] == "fault" and want[1][11] == 5
    assert machine_state(backend, words, regs, [0] * 32, 0) == want
