"""The baseline tier's code generator (backends/x64_emit.py): what it makes
cheaper, checked against the interpreter (the oracle) and by exact counts in
its code.

* accesses off one base share one check (the group's range, two permission
  bytes), whatever the base: inside a page, across two allowed pages, across
  into a read-only or unmapped page (then every access takes the callback:
  exact, faults precise);
* a slow access calls the TB's shared routine (one per kind), not its own copy;
* stores of constants of every size (an immediate where one fits);
* an output in the register of an input dying at its op (x op x, shifts by
  the value shifted);
* guest registers kept in host registers across a loop (read once at the
  entry, written through): the interpreter's state at a fault mid-loop, a
  side exit, the end.
"""
import pytest

from pydbt.backends import get_backend
from pydbt.passes import optimize
from pydbt.frontends.riscv64.translate import translate
from pydbt.backends import baseline

from test_backends import (GROUP, machine_state, _load, _store, Ctx, GuestMemoryWith, CODE, DATA, M64)

pytestmark = pytest.mark.skipif(baseline.unsupported() is not None, reason="no x86-64 host")



def _checked(monkeypatch, checked):
    """native accesses checked inline (as without guard ranges) if `checked`"""
    if checked:
        from pydbt.backends import llvm
        monkeypatch.setattr(llvm.NativeState, "fault_loads", lambda self: False)


def _asm(words, checked=False):
    """The baseline code of words; `checked`: as where native accesses are
    checked inline (no guard ranges, a watch): else loads and stores are
    fault accesses"""
    from pydbt.backends import llvm
    blk = translate(GuestMemoryWith(words), CODE, 64)
    optimize(blk)
    unchecked = llvm.NativeState.fault_loads
    if checked:
        llvm.NativeState.fault_loads = lambda self: False
    try:
        fn = get_backend("baseline").compile(blk, Ctx(blk, GuestMemoryWith(words), None))
    finally:
        llvm.NativeState.fault_loads = unchecked
    return baseline.disassemble(fn)


def test_one_check_for_a_group():
    """six accesses off a0: one range check (its two permission bytes), then
    one compare of the group's answer each; one callback routine per kind of
    access"""
    code = _asm(GROUP, checked=True)
    assert code.count("movzx ecx, byte ptr [") == 2, code
    # the shim, called from the TB's slow-path routines only: one per kind of
    # access (ld, lw, lbu; sd, sw), not one per access
    assert code.count("call rdx") == 5, code


@pytest.mark.parametrize("base", [DATA + 8, DATA + 0x1000 - 16, DATA + 0x1000 - 8, DATA + 0x1000 + 8,
                                  DATA + 0x1000 - 12, DATA + 0x2000 - 16, DATA + 0x2000, DATA + 0x2000 - 24,
                                  CODE + 0x100, 8, M64 - 3])
@pytest.mark.parametrize("checked", [False, True])
def test_group_answers_as_the_interpreter(base, checked, monkeypatch):
    """inside a page, across a writable into the read-only page (the stores
    must fault exactly), off the end of the data, into the code page
    (stores there: the callback), near 0 and wrapping; checked inline
    (groups) or not (fault accesses)"""
    _checked(monkeypatch, checked)
    regs = [0] * 32
    regs[10], regs[11], regs[13] = base, 0x1122334455667788, 0xdeadbeef
    want = machine_state("interp", GROUP, regs, [0] * 32, 0)
    assert machine_state("baseline", GROUP, regs, [0] * 32, 0) == want


def _li(rd, v):
    """lui + addi(w) loading a 32-bit signed v"""
    hi = (v + 0x800) >> 12 & 0xfffff
    lo = v & 0xfff
    return [(hi << 12) | (rd << 7) | 0x37, (lo << 20) | (rd << 15) | (0 << 12) | (rd << 7) | 0x1b]


@pytest.mark.parametrize("value", [0, 1, -1, 0x7ff, -0x80000000, 0x12345678, 0x7fffffff])
def test_constant_stores(value):
    """constants stored at every size (sb/sh/sw/sd, the optimizer folds the
    register into the store) equal the interpreter's bytes"""
    words = _li(11, value) + [_store(0, 11, 10, 0), _store(1, 11, 10, 2), _store(2, 11, 10, 4),
                              _store(3, 11, 10, 8), _store(3, 0, 10, 16), 0x00100073]
    regs = [0] * 32
    regs[10] = DATA + 0x40
    want = machine_state("interp", words, regs, [0] * 32, 0)
    assert machine_state("baseline", words, regs, [0] * 32, 0) == want


def _r(funct7, rs2, rs1, funct3, rd, opc=0x33):
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opc


@pytest.mark.parametrize("a0", [3, 0x8000_0001, M64, 0x1234_5678_9abc_def0, 63])
def test_outputs_in_dying_inputs(a0):
    """x op x and shifts of a value by itself (the output taking the input's
    register while it is still read), 32-bit forms (the high half)"""
    words = [_r(0, 10, 10, 0, 11),           # add a1, a0, a0
             _r(0, 11, 11, 1, 12),           # sll a2, a1, a1
             _r(0x20, 12, 12, 5, 13, 0x3b),  # sraw a3, a2, a2
             _r(1, 13, 13, 0, 14),           # mul a4, a3, a3
             _r(0, 14, 14, 4, 15),           # xor a5, a4, a4
             _r(0, 10, 14, 0, 16, 0x3b),     # addw a6, a4, a0
             _r(0x20, 16, 10, 0, 17),        # sub a7, a0, a6
             0x00100073]
    regs = [0] * 32
    regs[10] = a0
    want = machine_state("interp", words, regs, [0] * 32, 0)
    assert machine_state("baseline", words, regs, [0] * 32, 0) == want


RMW = [_load(3, 12, 10, 0),          # ld a2, 0(a0)
       (1 << 20) | (12 << 15) | (12 << 7) | 0x13,   # addi a2, a2, 1
       _store(3, 12, 10, 0),         # sd a2, 0(a0)
       0x00100073]                   # ebreak


def test_one_page_check_when_an_access_covers_its_group():
    """a load and a store of one doubleword: the group's check is the load's
    own (aligned: one page, one permission byte)"""
    code = _asm(RMW, checked=True)
    assert code.count("movzx ecx, byte ptr [") == 1, code


@pytest.mark.parametrize("base", [DATA + 8, DATA + 4, DATA + 0xffc, DATA + 0x1000, DATA + 0x2000, CODE + 8, 0])
@pytest.mark.parametrize("checked", [False, True])
def test_covered_group_answers_as_the_interpreter(base, checked, monkeypatch):
    """aligned, misaligned (the callback, across a page too), read-only (the
    store faults after the load), unmapped, the code page; checked inline
    (groups) or not (fault accesses)"""
    _checked(monkeypatch, checked)
    regs = [0] * 32
    regs[10] = base
    want = machine_state("interp", RMW, regs, [0] * 32, 0)
    assert machine_state("baseline", RMW, regs, [0] * 32, 0) == want


def _addi(rd, rs, imm):
    return ((imm & 0xfff) << 20) | (rs << 15) | (rd << 7) | 0x13


def _b(funct3, rs1, rs2, off):
    o = off & 0x1fff
    return ((((o >> 12) & 1) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12)
            | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63)


# a loop inside the TB (its head after the first instruction): a0 walks by 8
# until a1, a side exit when the loaded value is a5
LOOP = [_addi(14, 14, 1),                 # addi a4, a4, 1
        _load(3, 12, 10, 0),              # L: ld a2, 0(a0)
        _r(0, 12, 13, 0, 13),             # add a3, a3, a2
        _store(3, 13, 10, 0),             # sd a3, 0(a0)
        _addi(10, 10, 8),                 # addi a0, a0, 8
        _addi(14, 14, 1),                 # addi a4, a4, 1
        _b(0, 12, 15, 12),                # beq a2, a5, out
        _b(1, 10, 11, -24),               # bne a0, a1, L
        0x00100073,                       # ebreak
        0x00100073]                       # out: ebreak


def test_pinned_registers_stay_in_host_registers():
    """the loop's guest registers (a0 a1 a2 a3 a4 a5) are read from ctx once,
    at the entry, and those it writes written back only at the exits: no
    store to them inside the loop"""
    from pydbt.backends import llvm_emit as E
    lines = _asm(LOOP).splitlines()
    addr = [int(ln.split(":")[0], 16) for ln in lines]
    # the loop: from its head (after the alignment NOPs) to the jump back there
    head = next(i for i in range(1, len(lines)) if "nop" in lines[i - 1] and "nop" not in lines[i])
    back = next(i for i, ln in enumerate(lines) if ln.rstrip().endswith(f"jmp {addr[head]:#x}"))
    for g in (10, 11, 12, 13, 14, 15):
        at = f"[r12 + {8 * (E.CTX_REGS + g):#x}]"
        reads = [i for i, ln in enumerate(lines) if ln.rstrip().endswith(at) and ", qword ptr" in ln]
        # (the frame, the permission table's address, then the six loads)
        assert len(reads) == 1 and reads[0] <= 7, (g, "\n".join(lines))
        writes = [i for i, ln in enumerate(lines) if f"qword ptr {at}, " in ln]
        # (a1 and a5 are only read: never written)
        assert bool(writes) == (g not in (11, 15)) and all(i > back for i in writes), (g, "\n".join(lines))


@pytest.mark.parametrize("a0, a1, a5", [
    (DATA + 0x100, DATA + 0x180, 1),          # to the end (the ebreak)
    (DATA, DATA + 0x100, 0x4746454443424140),  # the side exit at the 9th word
    (DATA + 0xfc0, DATA + 0x1040, 1),         # the store faults in the read-only page, mid-loop
    (DATA + 0x1ff0, DATA + 0x3000, 1),        # the load faults off the end of the data
    (DATA + 4, DATA + 0x44, 1)])              # misaligned: every access by the callback
@pytest.mark.parametrize("budget", [True, False])
def test_pinned_registers_at_exits_and_faults(a0, a1, a5, budget):
    """registers kept in host registers across the loop: the same state as the
    interpreter's at a fault mid-loop, a side exit and the end; with no
    budget (a signal pending), at the loop's head after one iteration (the
    back-edge's code before the head: entering the loop spends none)"""
    regs = [0] * 32
    regs[10], regs[11], regs[13], regs[15] = a0, a1, 5, a5
    pending = [] if budget else None
    want = machine_state("interp", LOOP, regs, [0] * 32, 0, pending=pending)
    assert machine_state("baseline", LOOP, regs, [0] * 32, 0, pending=pending) == want


def test_value_computed_in_a_pin_keeps_the_old_one_alive():
    """a5's new value is computed (a4 = a5 + a1) while its old one (set in
    its host register: the load may fault) is still read (a6 = a5 - a2)
    before the move into a5: the new value may not take a5's host register
    before then"""
    words = [_addi(13, 13, 1),                # addi a3, a3, 1
             _addi(15, 15, 1),                # L: addi a5, a5, 1
             _load(3, 17, 12, 0),             # ld a7, 0(a2)
             _r(0, 11, 15, 0, 14),            # add a4, a5, a1
             _r(0x20, 12, 15, 0, 16),         # sub a6, a5, a2
             _r(0, 0, 14, 0, 15),             # add a5, a4, zero
             _addi(10, 10, -1),               # addi a0, a0, -1
             _b(1, 10, 0, -24),               # bne a0, zero, L
             0x00100073]
    regs = [0] * 32
    regs[10], regs[11], regs[12], regs[15] = 3, 0x100, DATA + 8, 0x1000
    want = machine_state("interp", words, regs, [0] * 32, 0, pending=[])
    assert want[0][0] == "Breakpoint"
    assert machine_state("baseline", words, regs, [0] * 32, 0, pending=[]) == want


def test_loop_head_aligned():
    """the loop's head starts at a multiple of LOOP_ALIGN bytes, NOPs before
    it (the code is placed 64-byte aligned)"""
    import re
    from pydbt.backends import x64_emit
    lines = _asm(LOOP).splitlines()
    addrs = [int(ln.split(":")[0], 16) for ln in lines]
    heads = set()
    for k, (a, ln) in enumerate(zip(addrs, lines)):
        m = re.search(r"\sjmp (0x[0-9a-f]+)$", ln)
        # (a back-edge: the budget spent, `jl` out, else the jump back)
        if m and int(m.group(1), 16) < a and " jl " in lines[k - 1]:
            heads.add(int(m.group(1), 16))
    assert heads and all(h % x64_emit.LOOP_ALIGN == 0 for h in heads), "\n".join(lines)
    assert any("nop" in ln for ln in lines)


@pytest.mark.parametrize("bmi2", [True, False])
@pytest.mark.parametrize("base", [DATA + 8, DATA + 1, DATA + 2, DATA + 4, DATA + 0xfff, DATA + 0x1ff8,
                                  DATA + 0x2000, CODE + 8, M64 - 7, 1 << 37, 1 << 62])
def test_lone_access_alignment_and_space(monkeypatch, bmi2, base):
    """a lone access's alignment and space in one compare (the low bits
    rotated above the page number, by rorx or by mov and ror): each size
    aligned or not, inside and outside the space, as the interpreter.
    (Loads check nothing when the space has its guard ranges: outside the
    space, inside the guards or at a non-canonical host address, they fault
    on the host; beyond the guards a load reads what the host has there, if
    anything: README's limit, no address tried here.)"""
    from pydbt.backends import x64_emit
    if bmi2 and not x64_emit._BMI2:
        pytest.skip("no BMI2 on this host")
    monkeypatch.setattr(x64_emit, "_BMI2", bmi2)
    for f3 in (0, 1, 2, 3):
        words = [_load(f3, 12, 10, 0), 0x00100073]        # l{b,h,w,d} a2, 0(a0); ebreak
        regs = [0] * 32
        regs[10] = base & M64
        want = machine_state("interp", words, regs, [0] * 32, 0)
        assert machine_state("baseline", words, regs, [0] * 32, 0) == want, f3


@pytest.mark.parametrize("space", [1 << 24, 3 << 22])
@pytest.mark.parametrize("at", [DATA + 8, DATA + 0x1ffc, -8, 0, 8, 1 << 37, 1 << 62, M64 - 7])
def test_store_range(monkeypatch, space, at):
    """an unchecked store's range check (its page number against the space's,
    or, the space a power of two, the address shifted by its bits alone):
    inside, just below and past the space's end, far outside, as the
    interpreter (`at` below 16 MiB: from the end of the space)."""
    import test_backends
    monkeypatch.setattr(test_backends, "SPACE", space)
    base = (space + at if -space < at <= 8 else at) & M64
    for f3 in (0, 1, 2, 3):
        words = [_store(f3, 12, 10, 0), 0x00100073]       # s{b,h,w,d} a2, 0(a0); ebreak
        regs = [0] * 32
        regs[10], regs[12] = base, 0x1122334455667788
        want = machine_state("interp", words, regs, [0] * 32, 0)
        assert machine_state("baseline", words, regs, [0] * 32, 0) == want, f3


def test_store_far_outside_the_space_leaves_the_host_alone(monkeypatch):
    """an unchecked store at a guest address that is a live host buffer's
    address less the guest memory's base (where the store would land without
    its range check: past the guard ranges, no host fault stops it) faults as
    the interpreter's does, and the buffer stays as it was"""
    import ctypes
    import signal
    import test_backends
    buf = ctypes.create_string_buffer(b"\x5a" * 64)
    made = []

    class Memory(test_backends.GuestMemory):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    class Regs(list):
        """a0: the buffer's address from the guest memory machine_state made"""
        def __getitem__(self, i):
            got = list.__getitem__(self, i)
            if isinstance(i, slice) and i.start == 1:
                got[9] = (ctypes.addressof(buf) + 16 - made[-1].host_base) & M64
            return got
    monkeypatch.setattr(test_backends, "GuestMemory", Memory)
    for f3 in (0, 1, 2, 3):
        words = [_store(f3, 12, 10, 0), 0x00100073]       # s{b,h,w,d} a2, 0(a0); ebreak
        regs = Regs([0] * 32)
        regs[12] = 0x1122334455667788
        for backend in ("interp", "baseline"):
            end = machine_state(backend, words, regs, [0] * 32, 0)[0]
            assert end[:2] == ("fault", signal.SIGSEGV), (backend, f3, end)
            assert buf.raw == b"\x5a" * 64 + b"\0", (backend, f3)


@pytest.mark.parametrize("budget", [True, False])
@pytest.mark.parametrize("a0, a1, a5", [(DATA + 0x100, DATA + 0x180, 1), (DATA, DATA + 0x100, 0x4746454443424140),
                                        (DATA + 0xfc0, DATA + 0x1040, 1)])
def test_loop_without_counting(monkeypatch, budget, a0, a1, a5):
    """not counting instructions (no -stats: the back-edge is one branch to
    the budget's code placed before the loop's head), with and without
    budget: the interpreter's state (its count aside)"""
    from pydbt.backends import x64_emit
    init = x64_emit.Emitter.__init__

    def quiet(self, block, env, counting, hot, *unchecked):
        init(self, block, env, False, hot, *unchecked)
    monkeypatch.setattr(x64_emit.Emitter, "__init__", quiet)
    regs = [0] * 32
    regs[10], regs[11], regs[13], regs[15] = a0, a1, 5, a5
    pending = [] if budget else None
    want = machine_state("interp", LOOP, regs, [0] * 32, 0, pending=pending)
    got = machine_state("baseline", LOOP, regs, [0] * 32, 0, pending=pending)
    assert got[0][:2] == want[0][:2] and got[1:] == want[1:]
    lines = _asm(LOOP).splitlines()
    # the budget is in its register (r13, the entry's and the chained TB's): its
    # ctx word is only written, by the return to Python; no load and store per iteration
    word = "qword ptr [r12 + %#x]" % (8 * x64_emit.E.CTX_BUDGET)
    text = [ln.split(":", 1)[1].strip() for ln in lines]
    assert [t for t in text if word in t] == ["mov %s, r13" % word], "\n".join(lines)
    spend = {ln.split(":")[0].strip() for ln in lines if ln.endswith("sub r13, 1")}
    # the loop's back-edge (bne a0, a1): one branch to the budget's code
    assert any(ln.split()[-2] == "jne" and ln.split()[-1] in spend for ln in lines), "\n".join(lines)


def _post_index_loop():
    """A loop whose first instruction loads x3 from x6 and advances both x6
    and x2 by 8 (their sums computed before the load, set after it: as
    aarch64's post-index loads are lifted), the second counts in x4; as IR."""
    from pydbt.builder import Builder
    from pydbt.ir import Block
    blk = Block(CODE)
    b = Builder(blk)
    head = b.label()
    b.set_label(head)
    b.insn_start(CODE)
    x2, x6 = b.getreg(2), b.getreg(6)
    x2n, x6n = x2 + 8, x6 + 8
    b.setreg(3, b.ld(x6, 8))
    b.setreg(2, x2n)
    b.setreg(6, x6n)
    b.insn_start(CODE + 4)
    b.setreg(4, b.getreg(4) + 1)
    b.brcond("ne", b.getreg(4), 1000, head, -2)
    b.goto_tb(CODE + 8)
    return blk


@pytest.mark.parametrize("backend", ["interp", "baseline"])
def test_a_value_set_after_a_load_waits_for_it(backend):
    """(pins written back at the exits) x2's new value, computed before the
    load and set after it, may not be computed in x2's host register, or the
    load's fault would leave with x2 already advanced.  The load faults at the
    third iteration (off the end of the mapped page): x6 is the faulting
    address, x2 advanced twice, x3 the last word read, x4 = 2."""
    from pydbt.frontends.riscv64.cpu import CPU
    from pydbt.runtime.memory import GuestMemory, R, W
    from pydbt.errors import GuestFault
    mem = GuestMemory(space=1 << 24)
    mem.map(DATA, 0x1000, R | W)
    mem.poke(DATA + 0xff0, (7).to_bytes(8, "little") + (9).to_bytes(8, "little"))
    cpu = CPU(mem)
    cpu.regs[2], cpu.regs[6] = 100, DATA + 0xff0
    blk = _post_index_loop()
    fn = get_backend(backend).compile(blk, Ctx(blk, mem, []))
    with pytest.raises(GuestFault) as e:
        fn(cpu)
    assert (e.value.addr, e.value.pc) == (DATA + 0x1000, CODE)
    assert cpu.regs[2:7] == [116, 9, 2, 0, DATA + 0x1000]


# a loop counting in eight registers and loading (pins in every register the
# pool lends them, and the permission table's), left by an indirect jump
# (jalr zero, 0(t5)): the jump cache probe's scratch registers may not be
# pins, whose values go back to ctx after it
MANY = [_addi(31, 31, 1),                 # addi t6, t6, 1 (the loop's head is not the TB's start)
        _load(3, 6, 10, 0),               # L: ld t1, 0(a0)
        _addi(10, 10, 8),                 # addi a0, a0, 8
        *[_addi(g, g, g) for g in range(11, 17)],     # addi aN, aN, N (a1..a6)
        _addi(17, 17, -1),                # addi a7, a7, -1
        _b(1, 17, 0, -36),                # bne a7, zero, L
        (30 << 15) | 0x67]                # jalr zero, 0(t5)


@pytest.mark.parametrize("crowded", [False, True])
def test_many_pins_left_by_an_indirect_jump(crowded, monkeypatch):
    """crowded: as if the temps needed no register (pressure 0): pins take
    every register PIN_REGS lends them, the temps live in stack slots"""
    from pydbt.backends import x64_emit
    if crowded:
        monkeypatch.setattr(x64_emit.Emitter, "pressure", lambda self, ops, cands, inloop, room, sets: ([0] * (len(cands) + 1),) * 2)
    regs = [0x1111 * g for g in range(32)]
    regs[10], regs[17], regs[30] = DATA, 5, 0x4242
    want = machine_state("interp", MANY, regs, [0] * 32, 0, pending=[])
    assert machine_state("baseline", MANY, regs, [0] * 32, 0, pending=[]) == want
    assert want[0][:2] == ("exit", ("goto_ptr", 0x4242))
    assert want[1][10:18] == [DATA + 40] + [0x1111 * g + 5 * g for g in range(11, 17)] + [0]


def test_a_loops_way_out_is_not_loop_code():
    """on_cycle: code between a loop's head and its back-edge that only leads
    to an exit (a function's epilogue) runs once: it neither weighs as loop
    code in the choice of pins nor counts in the loop's register pressure."""
    from pydbt.builder import Builder
    from pydbt.ir import Block
    from pydbt.backends import x64_emit
    blk = Block(0x1000)
    b = Builder(blk)
    head, more = b.label(), b.label()
    b.set_label(head)
    x = b.getreg(10)
    b.brcond("ne", x, b.const(0), more)
    for g in range(18, 27):                     # the epilogue: nine registers read once
        b.setreg(g + 1, b.getreg(g))
    b.goto_ptr(b.getreg(1))
    b.set_label(more)
    b.setreg(10, b.op("add", 64, b.getreg(10), b.const(-1)))
    b.br(head, -3)
    ops = blk.ops
    cyc = x64_emit.Emitter.on_cycle(ops, set(), blk.pc)
    names = [(op.name, c) for op, c in zip(ops, cyc)]
    assert all(c for n, c in names[:3]), names            # the head and its test
    assert not any(c for (n, c), op in zip(names, ops) if n in ("getreg", "setreg") and op.consts[0] >= 18)
    assert all(c for n, c in names[names.index(("label", True), 2):]), names   # the loop's rest


def test_pressure_counts_the_spills_each_choice_of_pins_costs():
    """Emitter.pressure: for k = 0, 1 pins, the times more temps are alive
    than the registers left hold (a pin's getreg temp needs none), and the
    most alive at once"""
    from pydbt.builder import Builder
    from pydbt.ir import Block
    from pydbt.backends import x64_emit
    blk = Block(0x1000)
    b = Builder(blk)
    a, x, y = b.getreg(10), b.getreg(11), b.getreg(12)     # alive: a; a x; a x y
    s = b.op("add", 64, x, y)                              # a x y s (x and y die here)
    b.setreg(13, b.op("add", 64, s, a))                    # a s e; then e
    em = x64_emit.Emitter(blk, {"hot": None, "npages": 1}, False, False)
    em.last = {v.id: i for i, op in enumerate(blk.ops) for v in op.ins if hasattr(v, "id")}
    sets = {13: [i for i, op in enumerate(blk.ops) if op.name == "setreg"]}     # (pin_regs': setregs by register)
    # room 3: one spill at the peak (4 alive); pinning a10 leaves 2 registers
    # and 3 temps there: still one
    assert em.pressure(blk.ops, [10], None, 3, sets) == ([1, 1], [4, 3])
    assert em.pressure(blk.ops, [10], None, 4, sets) == ([0, 0], [4, 3])
    assert em.pressure(blk.ops, [10], None, 2, sets) == ([2, 2], [4, 3])
    # inside a loop each spill weighs as its op there
    assert em.pressure(blk.ops, [10], [8] * len(blk.ops), 3, sets) == ([8, 8], [4, 3])


# a loop with more values alive at once than the pool has registers (twelve
# loads summed after the last) and counters read and written each iteration
WIDE = [_addi(14, 14, 1),                                 # addi a4, a4, 1
        *[_load(3, g, 10, 8 * k) for k, g in enumerate([5, 6, 7, 9, 18, 19, 20, 21, 22, 23, 24, 25])],
        *[_r(0, g, 13, 0, 13) for g in [5, 6, 7, 9, 18, 19, 20, 21, 22, 23, 24, 25]],   # add a3, a3, g
        _addi(10, 10, 8),                                 # addi a0, a0, 8
        _addi(14, 14, 2),                                 # addi a4, a4, 2
        _addi(17, 17, -1),                                # addi a7, a7, -1
        _b(1, 17, 0, -4 * 27),                            # bne a7, zero, L
        0x00100073]                                       # ebreak


@pytest.mark.parametrize("a0, a7", [(DATA, 20), (DATA + 0xf80, 30), (DATA + 0x1f00, 40)])
def test_wide_loop_answers_as_the_interpreter(a0, a7):
    """pins chosen past the pool's room (their temps spilled): the end, and a
    load faulting mid-loop (off the data's end), as the interpreter's"""
    regs = [0x1111 * g for g in range(32)]
    regs[10], regs[17] = a0, a7
    want = machine_state("interp", WIDE, regs, [0] * 32, 0, pending=[])
    assert machine_state("baseline", WIDE, regs, [0] * 32, 0, pending=[]) == want


def _shifti(funct6, rs, sh, funct3, rd, opc=0x13):
    """slli/srli (opc 0x13, 6-bit amounts) and slliw/srliw (opc 0x1b, 5-bit)"""
    return (funct6 << 26) | (sh << 20) | (rs << 15) | (funct3 << 12) | (rd << 7) | opc


# a0 rotated right by 7, 32-bit (srliw, slliw, or: the rotate pass's rotr_i32)
# and 64-bit (srli, slli, or), while a0 stays alive (a3 = a0 + a1 + a2)
ROTATES = [_shifti(0, 10, 7, 5, 5, 0x1b),          # srliw t0, a0, 7
           _shifti(0, 10, 25, 1, 6, 0x1b),         # slliw t1, a0, 25
           _r(0, 6, 5, 6, 11),                     # or a1, t0, t1
           _shifti(0, 10, 13, 5, 5),               # srli t0, a0, 13
           _shifti(0, 10, 51, 1, 6),               # slli t1, a0, 51
           _r(0, 6, 5, 6, 12),                     # or a2, t0, t1
           _r(0, 11, 10, 0, 13),                   # add a3, a0, a1
           _r(0, 12, 13, 0, 13),                   # add a3, a3, a2
           0x00100073]                             # ebreak


@pytest.mark.parametrize("bmi2", [False, True])
@pytest.mark.parametrize("a0", [0x0123456789abcdef, 0xfedcba9876543210, 0x80000001])
def test_rotates_of_a_live_value(monkeypatch, bmi2, a0):
    """a rotate by a constant of a value still alive: with BMI2 one rorx (32
    and 64 bits), without it a copy and a ror; either way as the interpreter"""
    from pydbt.backends import hostcpu, x64_emit
    if bmi2 and "bmi2" not in hostcpu.flags():
        pytest.skip("the host has no BMI2")
    monkeypatch.setattr(x64_emit, "_BMI2", bmi2)
    asm = _asm(ROTATES)
    assert asm.count("rorx") == (2 if bmi2 else 0), asm
    regs = [0] * 32
    regs[10] = a0
    want = machine_state("interp", ROTATES, regs, [0] * 32, 0)
    assert machine_state("baseline", ROTATES, regs, [0] * 32, 0) == want
    # (the rotates, by the interpreter)
    r32 = ((a0 & 0xffffffff) >> 7 | (a0 << 25)) & 0xffffffff
    r32 = r32 - (1 << 32) if r32 >> 31 else r32
    assert want[1][11] == r32 & (1 << 64) - 1
    assert want[1][12] == (a0 >> 13 | a0 << 51) & (1 << 64) - 1


# a table-driven loop (crc32's shape): its loads' addresses are an add of a
# base and a shifted index, of two registers, of a constant offset (and a
# store's of a constant offset); the first
# two are set into registers the loads then overwrite (the address there
# only if the load faults: its slow path sets it)
FOLDS = [_addi(14, 14, 1),                       # addi a4, a4, 1
         _load(4, 12, 10, 0),                    # L: lbu a2, 0(a0)
         _r(0, 13, 12, 4, 12),                   # xor a2, a2, a3
         (0xff << 20) | (12 << 15) | (7 << 12) | (12 << 7) | 0x13,   # andi a2, a2, 0xff
         _shifti(0, 12, 2, 1, 12),               # slli a2, a2, 2
         _r(0, 11, 12, 0, 12),                   # add a2, a2, a1
         _load(2, 12, 12, 0),                    # lw a2, 0(a2)      [a1 + x*4]
         _r(0, 17, 10, 0, 15),                   # add a5, a0, a7
         _load(4, 15, 15, 0),                    # lbu a5, 0(a5)     [a0 + a7]
         _load(3, 16, 10, 8),                    # ld a6, 8(a0)      [a0 + 8]
         _r(0, 12, 13, 0, 13),                   # add a3, a3, a2
         _r(0, 15, 13, 0, 13),                   # add a3, a3, a5
         _r(0, 16, 13, 4, 13),                   # xor a3, a3, a6
         _store(3, 13, 11, 0x100),               # sd a3, 0x100(a1)   [a1 + 0x100]
         _addi(10, 10, 1),                       # addi a0, a0, 1
         _b(1, 10, 9, -4 * 14),                  # bne a0, s1, L
         0x00100073]                             # ebreak


@pytest.mark.parametrize("a0, s1, a1, a7", [
    (DATA, DATA + 40, DATA + 0x400, 16),               # to the end
    (DATA, DATA + 40, DATA + 0x1f80, 16),              # the table load faults mid-loop (off the data)
    (DATA + 0x1fe0, DATA + 0x1ff8, DATA + 0x400, 16),  # the offset load faults (its last 8 bytes)
    (DATA, DATA + 40, DATA + 0x400, 0x3000),           # the two-register load faults
    (DATA, DATA + 40, DATA + 0xf80, 16)])              # the store faults (the read-only page)
def test_load_addresses_folded_into_the_load(a0, s1, a1, a7):
    """a fault access's add (and shl) fold into its operand (with the guest
    memory below 2 GiB: its base a displacement); its slow path computes the
    guest address (and sets the register the setreg deferred to it): the same
    state as the interpreter's, faults mid-loop included"""
    import gc
    import re
    gc.collect()                                  # (the guest memories before: the low base free)
    asm = _asm(FOLDS)
    loads = [ln for ln in asm.splitlines() if re.search(r"(movsxd|movzx|mov) \w+, \w+ ptr \[", ln)]
    scaled = any(re.search(r"\[\w+ \+ \w+\*4 \+ 0x[0-9a-f]+\]", ln) for ln in loads)
    if any("ptr [rdx + " in ln for ln in loads):  # (the guest memory above 2 GiB: its base in RDX)
        assert not scaled and "shl" in asm, asm
    else:
        assert scaled and "shl" not in asm, asm
        assert any(re.search(r"byte ptr \[\w+ \+ \w+ \+ 0x[0-9a-f]+\]", ln) for ln in loads), asm
        assert re.search(r"mov qword ptr \[\w+ \+ 0x[0-9a-f]+100\], \w+", asm), asm
    regs = [0] * 32
    regs[10], regs[9], regs[11], regs[17], regs[13] = a0, s1, a1, a7, 0x5a
    want = machine_state("interp", FOLDS, regs, [0] * 32, 0, pending=[])
    assert machine_state("baseline", FOLDS, regs, [0] * 32, 0, pending=[]) == want


@pytest.mark.parametrize("between", [None, "insn", "call_pure", "getreg", "setreg_other", "setreg_same"])
def test_which_address_setregs_the_slow_path_may_make(between):
    """Emitter.deferrable: `setreg g, x; ld x; setreg g, loaded` with only
    instruction starts, pure ops (no helper: it may raise) and other
    registers' setregs between: the slow path sets g"""
    from pydbt.builder import Builder
    from pydbt.ir import Block
    from pydbt.backends import x64_emit
    blk = Block(0x1000)
    b = Builder(blk)
    x = b.op("add", 64, b.getreg(15), b.getreg(14))
    b.setreg(15, x)
    if between == "insn":
        b.insn_start(0x1004)
    elif between == "call_pure":
        b.setreg(4, b.call(abs, b.getreg(1), pure=True))
    elif between == "getreg":
        b.setreg(2, b.getreg(15))
    elif between == "setreg_other":
        b.setreg(3, b.const(7))
    elif between == "setreg_same":
        b.setreg(15, b.const(7))
    b.setreg(15, b.ld(x, 4, True))
    ops = blk.ops
    i = next(k for k, o in enumerate(ops) if o.name == "ld")
    j = x64_emit.Emitter.deferrable(ops, i, x.v)
    if between in (None, "insn", "setreg_other"):
        assert j == next(k for k, o in enumerate(ops) if o.name == "setreg" and o.ins[0] is x.v)
    else:
        assert j is None


@pytest.mark.parametrize("budget", [True, False])
def test_the_budget_in_a_stack_slot_when_its_register_is_worth_more_to_a_pin(budget, monkeypatch):
    """pin_regs leaves the budget (the least weight here) unpinned when one
    pin less saves spills: BUD (r13) is the pool's then, the budget lives in
    a stack slot (stored there at the entry, back in r13 at the tails), its
    back-edge a `sub` on the slot; the state as the interpreter's, with and
    without budget (a signal pending: the loop leaves at its head)"""
    from pydbt.backends import x64_emit
    monkeypatch.setattr(x64_emit.Emitter, "pressure",
                        lambda self, ops, cands, inloop, room, sets: ([0] * len(cands) + [1000], [0] * (len(cands) + 1)))
    regs = [0x1111 * g for g in range(32)]
    regs[10], regs[17], regs[30] = DATA, 5, 0x4242
    pending = [] if budget else None
    want = machine_state("interp", MANY, regs, [0] * 32, 0, pending=pending)
    assert machine_state("baseline", MANY, regs, [0] * 32, 0, pending=pending) == want
    text = [ln.split(":", 1)[1].strip() for ln in _asm(MANY).splitlines()[1:]]
    assert any(t.startswith("mov r13, qword ptr [r12 + ") for t in text)      # (a pin in r13)
    home = next(t.split(", ")[0][4:] for t in text if t.startswith("mov qword ptr [rsp") and t.endswith(", r13"))
    assert "sub %s, 1" % home in text, "\n".join(text)
    assert "mov r13, %s" % home in text                    # (the tails: back in r13)


# crc32's loop: a byte loaded, the CRC shifted right by 8 as a 32-bit value
# (srliw: ext32u and shr), xored, masked, a table word loaded, xored in
CRC = [_addi(31, 31, 1),                   # addi t6, t6, 1 (the loop's head is not the TB's start)
       _load(4, 12, 14, 0),                # L: lbu a2, 0(a4)
       (8 << 20) | (15 << 15) | (5 << 12) | (13 << 7) | 0x1b,      # srliw a3, a5, 8
       _addi(14, 14, 1),                   # addi a4, a4, 1
       _r(0, 12, 15, 4, 15),               # xor a5, a5, a2
       ((0xff << 20) | (15 << 15) | (7 << 12) | (15 << 7) | 0x13),   # andi a5, a5, 0xff
       _r(0, 11, 15, 0, 15),               # add a5, a5, a1
       _load(2, 15, 15, 0),                # lw a5, 0(a5)
       _r(0, 13, 15, 4, 15),               # xor a5, a5, a3
       _b(1, 14, 16, -32),                 # bne a4, a6, L
       0x00100073]                         # ebreak


def test_values_set_into_a_pin_are_computed_there_from_their_first_op():
    """a value set into a pin is computed there, and so is the first input of
    its op when it dies there (and so on back): srliw's ext32u goes straight
    into a3's register and the shift is done there, no copy; the table load
    goes straight into a5's; the state as the interpreter's"""
    code = _asm(CRC)
    text = [ln.split(":", 1)[1].strip() for ln in code.splitlines()[1:]]
    at = next(i for i, t in enumerate(text) if t.startswith("shr ") and t.endswith(", 8"))
    dst = text[at].split()[1].rstrip(",")
    low = dst + "d" if dst[1].isdigit() else "e" + dst[1:]          # (its 32-bit name)
    assert text[at - 1].startswith(f"mov {low}, "), "\n".join(text)  # (not a copy of another register's)
    regs = [0] * 32
    regs[11], regs[14], regs[15], regs[16] = DATA, DATA + 0x400, 0x1234_5678, DATA + 0x420
    want = machine_state("interp", CRC, regs, [0] * 32, 0)
    assert machine_state("baseline", CRC, regs, [0] * 32, 0) == want
    assert want[1][14] >= DATA + 0x401                     # (an iteration ran)


def _w_shift(funct3, rd, rs1, sh):
    return (sh << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x1b


# two 32-bit rotates of a0 (RV64GC has none: srliw, slliw, or; the rotate pass
# makes them trunc32, rotr, sext32), xored; a0 stays alive after them
XOR_ROTATES = [_w_shift(5, 5, 10, 6), _w_shift(1, 6, 10, 26), _r(0, 6, 5, 6, 5),      # t0 = rotr32(a0, 6)
           _w_shift(5, 7, 10, 11), _w_shift(1, 28, 10, 21), _r(0, 28, 7, 6, 7),   # t2 = rotr32(a0, 11)
           _r(0, 7, 5, 4, 11),                                                       # xor a1, t0, t2
           _r(0, 10, 12, 0, 12),                                                     # add a2, a2, a0
           0x00100073]                                                               # ebreak


@pytest.mark.skipif("bmi2" not in __import__("pydbt.backends.hostcpu", fromlist=["flags"]).flags(),
                    reason="rorx is BMI2's")
@pytest.mark.parametrize("a0", [0x1234_5678, 0xffff_ffff_8000_0001, 0x8765_4321_0fed_cba9])
def test_a_rotate_reads_its_truncated_value_where_it_is(a0):
    """fold_truncs: a trunc32 used by a 32-bit rotate alone is not emitted;
    the rorx reads the 64-bit value's register (its low half), no copy"""
    text = [ln.split(":", 1)[1].strip() for ln in _asm(XOR_ROTATES).splitlines()[1:]]
    rorx = [k for k, t in enumerate(text) if t.startswith("rorx ")]
    assert len(rorx) == 2, "\n".join(text)
    for k in rorx:
        src = text[k].split()[2].rstrip(",")
        assert not (text[k - 1].startswith("mov ") and text[k - 1].split()[1].rstrip(",") == src), "\n".join(text)
    regs = [0] * 32
    regs[10], regs[12] = a0, 7
    want = machine_state("interp", XOR_ROTATES, regs, [0] * 32, 0)
    assert machine_state("baseline", XOR_ROTATES, regs, [0] * 32, 0) == want
    r = lambda x, k: ((x >> k) | (x << (32 - k))) & 0xffffffff
    x = r(a0 & 0xffffffff, 6) ^ r(a0 & 0xffffffff, 11)
    assert want[1][11] == (x | (-(x >> 31) << 32)) & (1 << 64) - 1 and want[1][12] == (7 + a0) & (1 << 64) - 1
