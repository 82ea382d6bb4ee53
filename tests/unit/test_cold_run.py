"""Cold runs (execloop._cold): a block's first run lifted into a running
builder (builder.Running, frontends/riscv64/translate.run), with no IR and no
TB, must do exactly what the interpreter does with the plain block translated
there: registers, FP state, memory, how the block ended (the next pc, a
fault's signal, address and pc, a syscall or breakpoint) and the instruction
count.  And each fast runner (trans_rvi.RUNNERS) must do what its lifter does
when it runs."""
import random
import struct

import pytest
from hypothesis import given, settings, assume, strategies as st, HealthCheck

from pydbt.backends import get_backend
from pydbt.builder import Running
from pydbt.errors import GuestFault, Syscall, Breakpoint
from pydbt.frontends.riscv64 import trans_rvi
from pydbt.frontends.riscv64.cpu import CPU
from pydbt.frontends.riscv64.decode import decode
from pydbt.frontends.riscv64.lift import TRANS
from pydbt.frontends.riscv64.translate import translate, run, RunCtx
from pydbt.runtime.memory import GuestMemory, R, W, X

from test_backends import programs, Ctx, CODE, DATA, SPACE, INTERESTING
from test_lift_fast import _words


def _machine(words, regs, fregs, frm):
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.map(DATA, 0x2000, R | W)
    mem.protect(DATA + 0x1000, 0x1000, R)                 # the second data page is read-only
    mem.poke(CODE, mem_words(words))
    mem.poke(DATA, bytes(range(256)) * 16)
    mem.on_code_write = lambda page: None
    cpu = CPU(mem)
    cpu.regs[:32] = [0] + regs[1:32]
    cpu.regs[32:64] = fregs
    cpu.frm = frm
    cpu.pc = CODE
    return mem, cpu


def mem_words(words):
    return b"".join(struct.pack("<I", w) for w in words)


def _state(how, cpu, mem, words):
    return how, list(cpu.regs), cpu.fflags, cpu.frm, bytes(mem.buf[DATA:DATA + 0x2000]), \
        bytes(mem.buf[CODE:CODE + 4 * len(words)])


def interpreted(words, regs, fregs, frm):
    """The plain block at CODE on the interpreter, as the first tier makes it"""
    mem, cpu = _machine(words, regs, fregs, frm)
    blk = translate(mem, CODE, 64, superblock=False)
    ctx = Ctx(blk, mem)
    try:
        kind, pc = get_backend("interp").compile(blk, ctx)(cpu)
        how = ("exit", pc, ctx.counter[0])
    except GuestFault as e:
        how = ("fault", e.signo, e.code, e.addr, e.pc, cpu.pc, ctx.counter[0])
    except (Syscall, Breakpoint) as e:
        how = (type(e).__name__, e.pc, ctx.counter[0])
    return _state(how, cpu, mem, words)


def ran_cold(words, regs, fregs, frm):
    mem, cpu = _machine(words, regs, fregs, frm)
    count = [0]
    try:
        pc, _ = run(mem, cpu, CODE, 64, count)
        how = ("exit", pc, count[0])
    except GuestFault as e:
        how = ("fault", e.signo, e.code, e.addr, e.pc, cpu.pc, count[0])
    except (Syscall, Breakpoint) as e:
        how = (type(e).__name__, e.pc, count[0])
    return _state(how, cpu, mem, words)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cold_run_equals_the_interpreter(data):
    words, regs, fregs, frm = data.draw(programs(branchy=data.draw(st.booleans())))
    expect = interpreted(words, regs, fregs, frm)
    # (a store into the block's own code: the translated block runs the old
    # words, the cold run fetches the new ones, as RISC-V allows without fence.i)
    assume(expect[5] == mem_words(words))
    got = ran_cold(words, regs, fregs, frm)
    assert got[0] == expect[0], "how the block ended"
    assert got[1] == expect[1], "registers"
    assert got[2:] == expect[2:], "fflags, frm, memory"


def test_cold_run_fault_is_precise():
    """ld from address 0 third: the two instructions before it ran and count,
    the fault's pc is the load's"""
    words = [0x00500513, 0x00700593, 0x00003603, 0x00900693, 0x2000006f]
    regs = [0] * 32
    got = ran_cold(words, regs, [0] * 32, 0)
    assert got[0] == ("fault", 11, 1, 0, CODE + 8, CODE + 8, 2)
    assert got[1][10:14] == [5, 7, 0, 0]
    assert got == interpreted(words, regs, [0] * 32, 0)


class FakeMemory:
    """Loads read a value made from the address; stores are logged; an
    address in `bad` faults."""

    def __init__(self, bad=()):
        self.log = []
        self.bad = bad

    def load(self, addr, size, signed):
        if addr in self.bad:
            raise GuestFault(11, 1, addr)
        v = (addr * 0x9e3779b97f4a7c15 >> 7) & ((1 << 8 * size) - 1)
        if signed and v >> (8 * size - 1):
            v -= 1 << 8 * size
        self.log.append(("ld", addr, size, signed))
        return v

    def store(self, addr, value, size):
        if addr in self.bad:
            raise GuestFault(11, 1, addr)
        self.log.append(("st", addr, value, size))


def _run_one(lift, insn, pc, regs, bad):
    cpu = CPU(None)
    cpu.regs[:] = regs
    mem = FakeMemory(bad)
    b = Running(cpu, mem)
    c = RunCtx(b)
    c.pc, c.next_pc, c.follow, c.ended = pc, pc + insn.size, None, False
    try:
        lift(c, insn)
        fault = None
    except GuestFault as e:
        fault = e.addr
    return cpu.regs, mem.log, fault, c.follow, c.ended, b.exit, b.indirect, b.raised


@pytest.mark.parametrize("name", sorted(trans_rvi.RUNNERS))
def test_fast_runner_equals_its_lifter_run(name):
    generic = trans_rvi.GENERIC.get(name, TRANS[name])
    rng = random.Random(name)
    for w in _words(name, rng, 200):
        insn = decode(w)
        regs = [0] + [rng.choice(INTERESTING) if rng.random() < 0.3 else rng.getrandbits(64) for _ in range(63)]
        for pc in (0x10000, 0xfffffffffffff000):
            # (a load or store whose address faults, one time in five)
            bad = {(regs[insn.rs1] + insn.imm) & ((1 << 64) - 1)} \
                if rng.random() < 0.2 and insn.imm is not None and insn.rs1 is not None else ()
            assert _run_one(trans_rvi.RUNNERS[name], insn, pc, list(regs), bad) == \
                _run_one(generic, insn, pc, list(regs), bad), (name, hex(w), hex(pc))


def test_runners_cover_the_commonest():
    common = {"addi", "add", "ld", "sd", "lw", "sw", "beq", "bne", "jal", "lui", "auipc", "addiw"}
    assert common <= set(trans_rvi.RUNNERS)
