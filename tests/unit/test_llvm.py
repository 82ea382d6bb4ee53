"""The native backend's own machinery (the equivalence with the interpreter is
tests/unit/test_backends.py's, parametrized over every backend):

* IR text: names and literals as LLVM's parser reads them;
* chaining inside native code: a link made by the TB cache patches the native
  slot (the successor runs without returning to Python), invalidation empties it;
  the native jump cache of indirect exits, emptied when its TB goes;
* a store into a page holding translations: the checked path invalidates them,
  the store lands, the block goes on as translated;
* a pending signal (and a budget) gets a native loop back to Python;
* a whole process: Ctrl-C (SIGINT) stops a guest spinning in native code
  promptly; -d out_asm prints host code; -stats counts transitions and chains.
"""
import signal
import shutil
import struct
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import llvm, llvm_emit, llvm_jit
from pydbt.errors import Breakpoint, GuestFault
from pydbt.frontends.riscv64.cpu import CPU
from pydbt.frontends.riscv64.translate import translate
from pydbt.passes import optimize
from pydbt.runtime.memory import GuestMemory, R, W, X
from pydbt.stats import STATS
from pydbt.tb import TB, TBCache, TBContext

CODE, DATA, SPACE = 0x10000, 0x20000, 1 << 24


# --- IR text ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, text", [
    ("tb12_1000", "tb12_1000"),
    ("a.b$c_9", "a.b$c_9"),
    ("9lives", '"9lives"'),
    ('q"uote\\', '"q\\22uote\\5C"'),
    ("sp ace\n", '"sp ace\\0A"'),
    ("pc\u00e9", '"pc\\C3\\A9"'),
])
def test_names_are_quoted_as_llvm_reads_them(name, text):
    assert llvm_emit.Names.quote(name) == text


@pytest.mark.parametrize("name", ["plain", "9lives", 'q"uote\\', "sp ace\n", "pc\u00e9", "-1"])
def test_a_quoted_name_survives_llvm(name):
    """LLVM parses the quoted name back to the same symbol: the compiled function
    is found under it and runs."""
    text = f"define i64 {llvm_emit.Names.sym(name)}(ptr %ctx) {{\n  ret i64 42\n}}\n"
    import ctypes
    tracker, addr = llvm_jit.compile(text, name)
    assert addr and ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(addr)(None) == 42


@pytest.mark.parametrize("value, w, text", [(0, 64, "0"), (5, 32, "5"), ((1 << 64) - 1, 64, "-1"),
                                            (1 << 63, 64, str(-(1 << 63))), (0xffffffff, 32, "-1"),
                                            (0x7fffffff, 32, "2147483647"), (-8, 64, "-8")])
def test_literals(value, w, text):
    assert llvm_emit.lit(value, w) == text


# --- a small engine of native TBs -------------------------------------------------------

def assemble(mem, at, words):
    mem.poke(at, b"".join(struct.pack("<I", w) for w in words))


class Rig:
    """A TB cache of native TBs over a guest memory, as the engine builds it."""

    def __init__(self):
        self.mem = GuestMemory(space=SPACE)
        self.mem.map(CODE, 0x2000, R | W | X)
        self.mem.map(DATA, 0x1000, R | W)
        self.cache = TBCache(self.mem)
        self.counter = [0]
        self.pending = []
        self.cpu = CPU(self.mem)

    def stub(self, k, target):
        def stub(cpu):
            raise AssertionError("stubs are not run here")
        stub.target = target
        return stub

    def tb(self, pc, superblock=True, level="full"):
        blk = translate(self.mem, pc, 64, superblock=superblock)
        optimize(blk)
        targets = [op.consts[0] for op in blk.ops if op.name == "goto_tb"]
        tb = TB(pc, blk.size, blk.ninsns, blk.pages, targets)
        tb.stubs = [self.stub(k, t) for k, t in enumerate(targets)]
        tb.links = list(tb.stubs)
        ctx = TBContext(self.mem, tb.links, self.lookup, self.cache.fns, self.counter, self.pending,
                        self.cache)
        tb.fn = llvm._state(ctx).compile(blk, ctx, level)
        self.cache.add(tb)
        return tb

    def lookup(self, pc):
        return ("lookup", pc)

    def slot(self, tb, k):
        return self.cache.native.slots[tb.fn.native.slot0 + k]


def counts():
    return {k: STATS.extra.get(k, 0) for k in ("native_transitions", "native_chain_hits")}


def test_chaining_is_patched_and_undone():
    """A's exit to B is linked by the cache: its native slot holds B's code and
    running A runs B without a return to Python (one transition, one chain hit);
    invalidating B empties the slot, and A's exit returns its stub again."""
    r = Rig()
    assemble(r.mem, CODE, [0x00150513, 0x0fc0006f])         # addi a0, a0, 1 ; j +252 (B)
    assemble(r.mem, CODE + 0x100, [0x00158593, 0x00100073])  # B: addi a1, a1, 1 ; ebreak
    a, b = r.tb(CODE, superblock=False), r.tb(CODE + 0x100, superblock=False)
    assert a.targets == [CODE + 0x100] and r.slot(a, 0) == 0
    assert a.fn(r.cpu) is a.stubs[0]                         # not linked yet: back to Python
    r.cache.link(a, 0, b)
    assert a.links[0] is b.fn and r.slot(a, 0) == b.fn.native_addr != 0
    before = counts()
    with pytest.raises(Breakpoint) as e:
        a.fn(r.cpu)
    after = counts()
    assert e.value.pc == CODE + 0x104
    assert after["native_transitions"] - before["native_transitions"] == 1
    assert after["native_chain_hits"] - before["native_chain_hits"] == 1
    assert (r.cpu.regs[10], r.cpu.regs[11]) == (2, 1)
    assert r.counter[0] == 2 + 2 + 2        # a, a, b (its ebreak included, as on the interpreter)
    r.cache.invalidate(b)
    assert r.slot(a, 0) == 0 and a.links[0] is a.stubs[0]
    assert a.fn(r.cpu) is a.stubs[0]
    assert r.cpu.regs[10] == 3


def test_jump_cache_fills_and_empties():
    """An indirect exit (jr) missing the native jump cache returns the target's
    function and fills the cache; the next run goes on natively; invalidating the
    target empties its entry."""
    r = Rig()
    # lui a5, 0x10 ; addi a5, a5, 0x100 ; jr a5            B: addi a1, a1, 1 ; ebreak
    assemble(r.mem, CODE, [0x000107b7, 0x10078793, 0x00078067])
    assemble(r.mem, CODE + 0x100, [0x00158593, 0x00100073])
    a, b = r.tb(CODE), r.tb(CODE + 0x100)
    assert a.fn(r.cpu) is b.fn                             # from cache.fns, and filled in
    st = r.cache.native
    i = ((CODE + 0x100) >> 1) & st.jc_mask
    # (the first word: the pc, and a tag above JC_TAG_SHIFT that changes with every fill)
    assert (st.jc[2 * i] & ((1 << llvm_emit.JC_TAG_SHIFT) - 1), st.jc[2 * i + 1]) == (CODE + 0x100, b.fn.native_addr)
    with pytest.raises(Breakpoint):
        a.fn(r.cpu)                                        # straight into B, natively
    assert r.cpu.regs[11] == 1
    r.cache.invalidate(b)
    assert st.jc[2 * i] != CODE + 0x100
    assert a.fn(r.cpu) == ("lookup", CODE + 0x100)         # gone from fns too: the engine's lookup


def test_nochain_keeps_native_exits_in_python():
    """-d nochain (a cache that does not chain): no slot is patched, the jump
    cache stays empty, every exit returns to Python."""
    r = Rig()
    r.cache = TBCache(r.mem, chaining=False)
    assemble(r.mem, CODE, [0x000107b7, 0x10078793, 0x00078067])        # jr to B
    assemble(r.mem, CODE + 0x100, [0x00158593, 0x0fc0006f])             # B: addi ; j +252
    a, b = r.tb(CODE, superblock=False), r.tb(CODE + 0x100, superblock=False)
    c = r.tb(CODE + 0x1fc, superblock=False)
    r.cache.link(b, 0, c)
    assert b.links[0] is b.stubs[0] and r.slot(b, 0) == 0
    assert a.fn(r.cpu) is b.fn and a.fn(r.cpu) is b.fn
    st = r.cache.native
    assert st.jc[2 * (((CODE + 0x100) >> 1) & st.jc_mask)] != CODE + 0x100


def test_freed_slots_are_used_again():
    """A dropped TB's chain slots go back to use once no native code runs (the
    next entry), and its function, still held somewhere, looks its pc up again
    instead of running freed code."""
    r = Rig()
    assemble(r.mem, CODE, [0x00150513, 0x0fc0006f])
    assemble(r.mem, CODE + 0x100, [0x00158593, 0x0fc0006f])
    a, b = r.tb(CODE, superblock=False), r.tb(CODE + 0x100, superblock=False)
    st = r.cache.native
    slot_a = a.fn.native.slot0
    r.cache.invalidate(a)
    assert a.fn(r.cpu) == ("lookup", CODE) and r.cpu.regs[10] == 0
    b.fn(r.cpu)                                  # an entry: nothing native runs, a's code goes
    assert not st.dead and slot_a in st.free[1]
    c = r.tb(CODE, superblock=False)
    assert c.fn.native.slot0 == slot_a and r.slot(c, 0) == 0


def test_store_into_a_code_page_invalidates_and_goes_on():
    """A store into the page of a translated TB (here its own) takes the checked
    path: the TBs of that page are invalidated (the native ones dropped, their
    slots emptied), the store lands, and the rest of the block runs as translated."""
    r = Rig()
    # lui a0, 0x10 ; sw zero, 64(a0) ; addi a1, zero, 3 ; ebreak
    assemble(r.mem, CODE, [0x00010537, 0x04052023, 0x00300593, 0x00100073])
    r.mem.poke(CODE + 64, b"\xff" * 4)
    a = r.tb(CODE)
    assert a.valid and a.fn.native.tb_id in r.cache.native.natives
    with pytest.raises(Breakpoint):
        a.fn(r.cpu)
    assert not a.valid and a.fn.native.tb_id not in r.cache.native.natives
    assert bytes(r.mem.buf[CODE + 64:CODE + 68]) == b"\0" * 4
    assert (r.cpu.regs[10], r.cpu.regs[11]) == (CODE, 3)


def test_fault_in_native_code_is_precise():
    """A store to a read-only page: SIGSEGV at that instruction, with the
    registers of the instructions before it written back."""
    r = Rig()
    r.mem.protect(DATA, 0x1000, R)
    # addi a1, zero, 7 ; lui a0, 0x20 ; sd a1, 8(a0) ; addi a2, zero, 9
    assemble(r.mem, CODE, [0x00700593, 0x00020537, 0x00b53423, 0x00900613, 0x00100073])
    a = r.tb(CODE)
    with pytest.raises(GuestFault) as e:
        a.fn(r.cpu)
    assert (e.value.signo, e.value.addr, e.value.pc, r.cpu.pc) == (signal.SIGSEGV, DATA + 8, CODE + 8, CODE + 8)
    assert (r.cpu.regs[10], r.cpu.regs[11], r.cpu.regs[12]) == (DATA, 7, 0)


LOOP = [0x00150513, 0xffdff06f]           # L: addi a0, a0, 1 ; j L


def test_budget_brings_a_native_loop_back():
    """A TB jumping to its own start loops in native code and returns to Python
    (by its exit) after BUDGET rounds, with the registers and the count exact."""
    r = Rig()
    assemble(r.mem, CODE, LOOP)
    a = r.tb(CODE)
    assert a.fn(r.cpu) is a.stubs[0]
    assert r.cpu.regs[10] == llvm.BUDGET + 1
    assert r.counter[0] == 2 * (llvm.BUDGET + 1)


def test_pending_signal_stops_a_native_loop():
    """With a signal already pending, a native loop goes round once; and a
    trampoline over a native loop ends soon after another thread queues a signal
    (native code runs without the GIL; the trampoline sees the signal at the
    budget's end)"""
    r = Rig()
    assemble(r.mem, CODE, LOOP)
    a = r.tb(CODE)
    r.pending.append(signal.SIGUSR1)
    assert a.fn(r.cpu) is a.stubs[0] and r.cpu.regs[10] == 1
    r.pending.clear()
    started = threading.Event()

    def signal_later():
        started.wait(30)
        r.pending.append(signal.SIGUSR1)
    t = threading.Thread(target=signal_later)
    t.start()
    t0 = time.monotonic()
    while not r.pending and time.monotonic() - t0 < 60:
        a.fn(r.cpu)
        started.set()
    t.join(30)
    assert r.pending and time.monotonic() - t0 < 60
    assert r.cpu.regs[10] > llvm.BUDGET


def test_helpers_and_fp_run_through_callbacks():
    """FP (fadd.d through the exact helper) and an AMO in native code: results as
    the interpreter's, fflags included."""
    import test_backends
    # fadd.d fa0, fa1, fa2 ; amoadd.d a3, a4, (a5) ; ebreak
    words = [0x02c58553, 0x00e7b6af, 0x00100073]
    regs = [0] * 32
    regs[14], regs[15] = 5, test_backends.DATA + 16
    fregs = [0] * 32
    fregs[11], fregs[12] = 0x3ff0000000000000, 0x3ca0000000000000      # 1.0 + 2**-53: inexact
    res = {b: test_backends.machine_state(b, words, regs, fregs, 0) for b in ("interp", "llvm")}
    assert res["llvm"] == res["interp"]
    assert res["llvm"][2] & 1                      # NX
    assert res["llvm"][0][0] == "Breakpoint"


# --- whole runs -----------------------------------------------------------------------------

CC = shutil.which("riscv64-linux-gnu-gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="riscv64-linux-gnu-gcc is not installed")

SPIN = r"""
#ifndef EXIT
#define EXIT 0
#endif
    .globl _start
_start:
    li a0, 1
    la a1, msg
    li a2, 1
    li a7, 64
    ecall                   # write "r"
    li t1, 1
    slli t1, t1, 24
loop:
    addi t0, t0, 1
    bne t0, t1, loop        # 2**24 rounds: native code by then
    li a0, 1
    la a1, msg2
    li a2, 1
    li a7, 64
    ecall                   # write "n"
    li t1, 0
    li a0, 7
    li a7, EXIT             # 94, exit_group(7), or no syscall number (spin on)
    bnez a7, done
    j loop                  # 2**64 rounds
done:
    ecall
msg: .ascii "r"
msg2: .ascii "n"
"""


def build(tmp_path_factory, name, exit_nr):
    d = tmp_path_factory.mktemp(name)
    src = d / "spin.S"
    src.write_text(SPIN)
    subprocess.run([CC, "-nostdlib", "-static", f"-DEXIT={exit_nr}", "-o", str(d / name), str(src)],
                   check=True)
    return d / name


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    return build(tmp_path_factory, "spin", 0)


@pytest.fixture(scope="module")
def count(tmp_path_factory):
    return build(tmp_path_factory, "count", 94)


def pydbt(*args):
    return [sys.executable, "-m", "pydbt", "run", "-backend", "llvm", *map(str, args)]


@needs_cc
def test_ctrl_c_stops_a_guest_spinning_in_native_code(spin):
    """SIGINT to pydbt while the guest spins in a native loop: pydbt dies of
    SIGINT (the guest's default action), promptly."""
    p = subprocess.Popen(pydbt("-jit-threshold", "0", spin), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got = b""
        while len(got) < 2:
            b = p.stdout.read(1)
            if not b:
                break
            got += b
        assert got == b"rn", p.stderr.read()
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == -signal.SIGINT
        assert time.monotonic() - t0 < 30
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@needs_cc
def test_out_asm_and_stats(count, tmp_path):
    """-d out_asm shows the host code of native TBs; -stats the native
    transitions (few: the loop of 2**24 rounds stays in native code but for
    the budget's returns) and chain hits."""
    p = subprocess.run(pydbt("-jit-threshold", "0", "-d", "out_asm", "-D", tmp_path / "log", "-stats", count),
                       capture_output=True, timeout=120)
    assert (p.returncode, p.stdout) == (7, b"rn"), p.stderr
    log = (tmp_path / "log").read_text()
    assert "OUT: [llvm]" in log and "jmp" in log and "ret" in log
    stats = dict(line.split()[1:3] for line in log.splitlines() if line.startswith("pydbt: native"))
    # (one transition per BUDGET rounds of the loop, plus the syscalls and a few more)
    assert 0 < int(stats["native_transitions"]) < (1 << 24) // llvm.BUDGET + 20
    assert int(stats["native_chain_hits"]) >= (1 << 24) - 1000     # (each return costs one)


def test_llvmlite_is_imported_only_to_compile():
    """Choosing the llvm backend costs no llvmlite import (100-180 ms): that waits
    for the first TB compiled."""
    code = ("import sys; from pydbt.backends import get_backend, unavailable; b = get_backend('llvm'); "
            "assert b.name == 'llvm' and unavailable('llvm') is None; print('llvmlite' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert p.stdout.decode().split() == ["False"], p.stderr


# --- the inline permission checks ------------------------------------------------------

def _edges():
    import test_backends as tb
    out = []
    for edge in (tb.DATA + 0x1000, tb.DATA + 0x2000, tb.SPACE):   # RW|RO, RO|unmapped, the space's end
        out += [edge - k for k in range(0, 10)] + [edge + 1, edge + 3]
    return out + [0, 3, (1 << 64) - 2, 1 << 63]


@pytest.mark.parametrize("funct3, size", [(0, 1), (1, 2), (2, 4), (3, 8)])
def test_inline_checks_match_the_interpreter(funct3, size):
    """The cheap check of a lone access (an aligned address inside the space, one
    permission byte; misaligned: the exact callback), a small group's check (two
    accesses within 8 bytes, aligned to the group's rounded size) and the
    checked path: at every misalignment around a page between RW
    and RO pages, a mapped and an unmapped one and the end of the space, loads,
    stores and faults (signal, address, pc, registers) as the interpreter has them,
    both calling back and leaving by the slow exit (the engine's way)."""
    import test_backends as tb
    slow_before = tb.STATS_SLOW[0]
    words = [tb._load(funct3, 12, 10, 0),            # l{size} a2, 0(a0)
             tb._store(funct3, 13, 11, 0),           # s{size} a3, 0(a1)
             tb._load(funct3, 14, 15, 0),            # l{size} a4, 0(a5)   } a group: a5 and
             tb._store(funct3, 14, 15, size),        # s{size} a4, size(a5) } a5 + size
             0x00100073]                             # ebreak
    mismatches = []
    for at in _edges():
        for reg in (10, 11, 15):
            regs = [0] * 32
            regs[10] = regs[11] = regs[15] = tb.DATA + 64
            regs[reg] = at
            regs[13] = 0x1122334455667788
            want = tb.machine_state("interp", words, regs, [0] * 32, 0)
            for slow in (False, True):
                got = tb.machine_state("llvm", words, regs, [0] * 32, 0, slow=slow)
                if got != want:
                    mismatches.append((hex(at), reg, slow, got[0], want[0]))
    assert not mismatches, mismatches[:5]
    assert tb.STATS_SLOW[0] > slow_before


@pytest.mark.parametrize("funct3, size", [(0, 1), (2, 4), (3, 8)])
def test_page_caches_of_a_loop_match_the_interpreter(funct3, size):
    """In a TB with a loop each access keeps the page its check last passed (an
    aligned access there skips the check) until a callback empties the caches:
    loops walking from a RW page into a RO one and into unmapped memory, misaligned,
    one page per round, and storing into a code page (a callback every round)
    load, store and fault exactly as on the interpreter, calling back or
    leaving by the slow exit."""
    import test_backends as tb
    slow_before = tb.STATS_SLOW[0]
    D = tb.DATA

    def addi(rd, rs1, imm):
        return ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13

    def program(step, n):
        return [addi(14, 0, n),                           # addi a4, zero, n
                tb._load(funct3, 12, 10, 0),              # L: l{size} a2, 0(a0)
                tb._store(funct3, 12, 11, 0),             # s{size} a2, 0(a1)
                addi(10, 10, step), addi(11, 11, step),   # a0 += step ; a1 += step
                addi(14, 14, -1),                         # a4 -= 1
                tb._btype(1, 14, 0, -20),                 # bne a4, zero, L
                0x00100073]                               # ebreak
    cases = [(D + 0x1000 - 2 * size, D + 0x800, size, 6),          # loads into the RO page
             (D + 0x800, D + 0x1000 - 2 * size, size, 6),          # stores into it: SIGSEGV
             (D + 0x2000 - 2 * size, D + 0x800, size, 6),          # loads into unmapped memory
             (D + 0x1000 - 2 * size - 1, D + 0x801, size, 6),      # misaligned, across the page
             (D + 0x801, D + 0x1000 - 2 * size - 1, size, 6),      # misaligned stores into RO
             (D + 0x800, D + 0x1000 - 16, size + 1, 6),            # aligned, then not, then across
             (D + 8, D + 0x10, 0x7f8, 4),                          # a page (nearly) every round
             (D + 0x10, tb.CODE + 0x100, size, 6)]                 # stores into the code page
    mismatches = []
    for a0, a1, step, n in cases:
        regs = [0] * 32
        regs[10], regs[11] = a0, a1
        words = program(step, n)
        want = tb.machine_state("interp", words, regs, [0] * 32, 0, pending=[])
        for slow in (False, True):
            got = tb.machine_state("llvm", words, regs, [0] * 32, 0, pending=[], slow=slow)
            if got != want:
                mismatches.append((hex(a0), hex(a1), slow, got[0], want[0]))
    assert not mismatches, mismatches
    assert tb.STATS_SLOW[0] > slow_before


@pytest.mark.parametrize("loop", [False, True])
def test_write_only_registers_match_the_interpreter(loop, monkeypatch):
    """Registers a TB writes and never reads (here a5 and a6) are stored to ctx
    where written, not kept for the exit (llvm_emit: `homed`; inside a loop
    only when it uses more than HOME_PRESSURE registers: this one 4, homed with
    HOME_PRESSURE 0 only): at a fault (a store into
    the read-only page, mid-loop), through the callback of misaligned stores
    and at the normal exit, registers, memory and counts are the interpreter's."""
    import test_backends as tb
    D = tb.DATA
    words = [0x00600713,                           # addi a4, zero, 6
             (3 << 20) | (10 << 15) | (1 << 12) | (15 << 7) | 0x13,    # L: slli a5, a0, 3
             tb._store(3, 12, 10, 0),              # sd a2, 0(a0)
             (5 << 20) | (15 << 15) | (16 << 7) | 0x1b,                # addiw a6, a5, 5
             0x00850513,                           # addi a0, a0, 8
             0xfff70713,                           # addi a4, a4, -1
             tb._btype(1, 14, 0, -20),             # bne a4, zero, L
             0x00100073]                           # ebreak
    if not loop:
        words = words[1:4] + [0x00850513, tb._store(3, 15, 10, 0), words[-1]]  # ... addi a0 ; sd a5, 0(a0)
    blk = translate(*_block_of(words))
    optimize(blk)
    consts = dict(npages=SPACE >> 12, jc_mask=1023, helper_id=id)
    em = llvm_emit.Emitter(blk, "t", consts, False)
    em.build()
    assert em.homed == (set() if loop else {15, 16})
    monkeypatch.setattr(llvm_emit, "HOME_PRESSURE", 0)
    em = llvm_emit.Emitter(blk, "t", consts, False)
    text = em.build()
    assert em.homed == {15, 16} and "%r15 = alloca" not in text and "%r10 = alloca" in text
    results = []
    for a0 in (D + 0x1000 - (16 if loop else 0), D + 0x1000 - 8, D + 0x101, D + 0x100):
        regs = [0] * 32
        regs[10], regs[12], regs[15], regs[16] = a0, 0x1122334455667788, 99, 98
        want = tb.machine_state("interp", words, regs, [0] * 32, 0, pending=[])
        got = tb.machine_state("llvm", words, regs, [0] * 32, 0, pending=[])
        assert got == want, (hex(a0), got[0], want[0], got[1][10:17], want[1][10:17])
        results.append(want[0][0])
    assert results == ["fault", "fault", "Breakpoint", "Breakpoint"]


def test_w_operations_in_32_bits_match_the_interpreter():
    """RV64's W operations are emitted in i32 where their operands have a 32-bit
    form (llvm_emit: narrow): srliw/slliw/or (a rotate), xor, addw, sraiw,
    andi, not, and, mulw, subw, a 64-bit shift of an srliw, an or of one with a
    64-bit value; over interesting operands, with a store to the read-only
    page after them (a fault) or to a writable one, as the interpreter."""
    import test_backends as tb

    def r(f7, rs2, rs1, f3, rd, opc=0x3b):
        return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc

    def i(imm, rs1, f3, rd, opc=0x1b):
        return (imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc
    words = [i(7, 10, 5, 12),                      # srliw a2, a0, 7
             i(25, 10, 1, 13),                     # slliw a3, a0, 25
             r(0, 13, 12, 6, 14, 0x33),            # or a4, a2, a3
             i(3, 11, 5, 15),                      # srliw a5, a1, 3
             r(0, 15, 14, 4, 14, 0x33),            # xor a4, a4, a5
             r(0, 11, 14, 0, 16),                  # addw a6, a4, a1
             i(0x400 | 5, 16, 5, 17),              # sraiw a7, a6, 5
             i(0x7ff, 16, 7, 5, 0x13),             # andi t0, a6, 0x7ff
             i(-1, 17, 4, 6, 0x13),                # not t1, a7
             r(0, 12, 6, 7, 7, 0x33),              # and t2, t1, a2
             r(1, 11, 16, 0, 28),                  # mulw t3, a6, a1
             r(0x20, 10, 28, 0, 29),               # subw t4, t3, a0
             i(1, 12, 5, 30, 0x13),                # srli t5, a2, 1
             r(0, 10, 12, 6, 9, 0x33),             # or s1, a2, a0
             tb._store(3, 29, 18, 0),              # sd t4, 0(s2)
             0x00100073]                           # ebreak
    blk = translate(*_block_of(words))
    optimize(blk)
    text = llvm_emit.Emitter(blk, "t", dict(npages=SPACE >> 12, jc_mask=1023, helper_id=id), False).build()
    assert "lshr i32" in text and "or i32" in text and "add i32" in text and "mul i32" in text
    mismatches = []
    values = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x123456789abcdef0, (1 << 64) - 1, 1 << 63,
              0xfedcba9876543210, 0x80000001]
    for a0 in values:
        for a1 in values[::3]:
            for s2 in (tb.DATA + 0x1000, tb.DATA + 8):
                regs = [0] * 32
                regs[10], regs[11], regs[18] = a0, a1, s2
                want = tb.machine_state("interp", words, regs, [0] * 32, 0)
                got = tb.machine_state("llvm", words, regs, [0] * 32, 0)
                if got != want:
                    mismatches.append((hex(a0), hex(a1), got[0], want[0]))
    assert not mismatches, mismatches[:5]


def _block_of(words):
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    assemble(mem, CODE, words)
    return mem, CODE, 64


def _fault_after_a_code_store(backend, words, data=b""):
    """Run `words` (at CODE; a0 = DATA + 0x10, a1 = CODE + 0x100) as one TB of
    `backend` until it faults; a store into the code page makes DATA
    inaccessible (a callback changing permissions).  -> (signal, address, pc,
    a0..a4)."""
    import test_backends as tb
    from pydbt.backends import get_backend
    mem = GuestMemory(space=tb.SPACE)
    mem.map(tb.CODE, 0x1000, R | W | X)
    mem.map(tb.DATA, 0x1000, R | W)
    mem.poke(tb.CODE, b"".join(struct.pack("<I", w) for w in words))
    if data:
        mem.poke(tb.DATA, data)
    cpu = CPU(mem)
    cpu.regs[10], cpu.regs[11], cpu.pc = tb.DATA + 0x10, tb.CODE + 0x100, tb.CODE
    blk = translate(mem, tb.CODE, 64)
    optimize(blk)
    fn = get_backend(backend).compile(blk, tb.Ctx(blk, mem, []))
    mem.mark_code(tb.CODE >> 12)
    mem.on_code_write = lambda page: mem.protect(tb.DATA, 0x1000, 0)
    with pytest.raises(GuestFault) as e:
        fn(cpu)
    return e.value.signo, e.value.addr, e.value.pc, cpu.regs[10:15]


def test_a_callback_empties_the_page_caches():
    """Python may change permissions in a callback (here: the store into a code
    page makes the loads' page unreadable): the next round's load checks again
    and faults, as on the interpreter."""
    import test_backends as tb
    words = [0x00600713,                   # addi a4, zero, 6
             tb._load(3, 12, 10, 0),       # L: ld a2, 0(a0)
             tb._store(3, 12, 11, 0),      # sd a2, 0(a1)
             0x00850513, 0x00858593,       # addi a0, a0, 8 ; addi a1, a1, 8
             0xfff70713,                   # addi a4, a4, -1
             tb._btype(1, 14, 0, -20),     # bne a4, zero, L
             0x00100073]                   # ebreak
    results = {b: _fault_after_a_code_store(b, words) for b in ("interp", "llvm")}
    assert results["llvm"] == results["interp"] == \
        (signal.SIGSEGV, tb.DATA + 0x18, tb.CODE + 4, [tb.DATA + 0x18, tb.CODE + 0x108, 0, 0, 5])


def _slow_paths():
    return {k: STATS.extra.get(k, 0) for k in ("native_slow_loads", "native_slow_stores")}


def test_a_group_across_two_allowed_pages_stays_native():
    """A group's check covers the two pages its range may touch: loads off one
    base straddling a RW and a RO page go straight to memory (no callback), as
    the interpreter loads them; a store of the group into the RO page fails the
    check and every access of the group takes the exact callback: the load is
    done, the store faults at its own pc and address."""
    import test_backends as tb
    edge = tb.DATA + 0x1000                                   # RW page | RO page
    loads = [tb._load(3, 12, 10, -8), tb._load(3, 13, 10, 0), tb._load(2, 14, 10, 4), 0x00100073]
    mixed = [tb._load(3, 12, 10, -8), tb._store(3, 12, 10, 0), 0x00100073]
    regs = [0] * 32
    regs[10] = edge
    results = {}
    for name, words in (("loads", loads), ("mixed", mixed)):
        want = tb.machine_state("interp", words, regs, [0] * 32, 0)
        before = _slow_paths()
        got = tb.machine_state("llvm", words, regs, [0] * 32, 0)
        after = _slow_paths()
        assert got == want, name
        results[name] = (want[0][0], {k: after[k] - before[k] for k in after})
    assert results["loads"] == ("Breakpoint", {"native_slow_loads": 0, "native_slow_stores": 0})
    assert results["mixed"] == ("fault", {"native_slow_loads": 1, "native_slow_stores": 1})


@pytest.mark.parametrize("off", [0, 8])
def test_a_callback_empties_the_group_caches(off):
    """A group in a loop (a load and a store off one base, within 8 bytes or
    not) keeps the page its check passed; the store into a code page (a callback)
    makes the data page inaccessible: the next round's group checks again and
    the load faults, as on the interpreter."""
    import test_backends as tb
    words = [0x00600713,                   # addi a4, zero, 6
             tb._load(3, 12, 10, 0),       # L: ld a2, 0(a0)    } a group off a0
             tb._store(3, 12, 10, off),    # sd a2, off(a0)     }
             tb._store(3, 12, 11, 0),      # sd a2, 0(a1)        (into the code page)
             0x00850513, 0x00858593,       # addi a0, a0, 8 ; addi a1, a1, 8
             0xfff70713,                   # addi a4, a4, -1
             tb._btype(1, 14, 0, -24),     # bne a4, zero, L
             0x00100073]                   # ebreak
    results = {b: _fault_after_a_code_store(b, words, bytes(range(256)) * 16) for b in ("interp", "llvm")}
    assert results["llvm"] == results["interp"]
    assert results["llvm"][:3] == (signal.SIGSEGV, tb.DATA + 0x18, tb.CODE + 4)


def test_a_tb_does_not_use_the_page_caches_another_left():
    """The page caches are ctx words shared by the TBs a thread runs: A's loop
    leaves in word 0 the read-only page its loads passed; B, reached by a native
    chained jump, caches its stores in the same word and must check them again:
    its store into that page faults (SIGSEGV, the address, B's pc), as the
    kernel reports a write to a read-only page."""
    r = Rig()
    ro = DATA + 0x1000
    r.mem.map(ro, 0x1000, R)
    assemble(r.mem, CODE, [0x00053603,        # A: ld a2, 0(a0)
                           0xfff70713,        # addi a4, a4, -1
                           0xfe071ce3,        # bne a4, zero, A
                           0x00c53023,        # B: sd a2, 0(a0)
                           0xfff78793,        # addi a5, a5, -1
                           0xfe079ce3,        # bne a5, zero, B
                           0x00100073])       # ebreak
    a, b = r.tb(CODE, superblock=False), r.tb(CODE + 12, superblock=False)
    assert CODE in a.targets and CODE + 12 in a.targets         # a loop by itself, then B
    r.cache.link(a, a.targets.index(CODE + 12), b)
    r.cpu.regs[10], r.cpu.regs[14], r.cpu.regs[15] = ro, 3, 3
    with pytest.raises(GuestFault) as e:
        a.fn(r.cpu)                               # (B ran in the same call: chained natively)
    assert (e.value.signo, e.value.addr, e.value.pc) == (signal.SIGSEGV, ro, CODE + 12)
    assert r.cpu.regs[14:16] == [0, 3]


@pytest.mark.parametrize("level, callback", [("full", llvm_emit.SYM_CALLBACK), ("quick", llvm_emit.SYM_CALLBACK_C)])
def test_tbs_share_one_callback_per_state(level, callback):
    """A TB's module holds its function only: the slow paths' callback (the
    quick level's in C's convention) is one shared module per native state
    (llvm_emit.runtime_text), compiled once per process and linked
    with each state's own callback, so a misaligned load (the checked path) in
    each of two engines reads that engine's guest memory."""
    ld = (1 << 20) | (11 << 15) | (3 << 12) | (10 << 7) | 0x03      # ld a0, 1(a1)
    rigs, got = [Rig(), Rig()], []
    for i, r in enumerate(rigs):
        assemble(r.mem, CODE, [ld, 0x00100073])                        # ; ebreak
        r.mem.poke(DATA + 1, struct.pack("<Q", 0x1122334455667788 + i))
        t = r.tb(CODE, superblock=False, level=level)
        text = t.fn.native.text
        assert sum(1 for line in text.splitlines() if line.startswith("define")) == 1, text
        assert f"@{callback}(" in text and callback in t.fn.native.imports
        r.cpu.regs[11] = DATA
        before = STATS.extra.get("native_slow_loads", 0)
        with pytest.raises(Breakpoint):
            t.fn(r.cpu)
        assert STATS.extra.get("native_slow_loads", 0) == before + 1
        got.append(r.cpu.regs[10])
    assert got == [0x1122334455667788, 0x1122334455667789]
    a, b = (r.cache.native for r in rigs)
    assert a.runtime[0] is not b.runtime[0] and len(llvm._RUNTIME_OBJ) == 1
    assert a.runtime[1][callback] != b.runtime[1][callback]
