"""Guest threads in native code at once (backends/llvm.py without the GIL).

* two threads meet inside native code: each tells the other it runs (an AMO)
  and spins (LR) until the other has; with an endless budget neither ever
  returns to Python, so this finishes only if both run native code at the same
  time (with the GIL held by native code it hangs: the scenario runs in a
  subprocess with a timeout);
* a Python thread runs while a guest thread spins in native code, and the code
  of a TB dropped meanwhile is freed only once no thread can be in it: not
  while the spinning thread is inside since before the drop, but as soon as it
  entered again, though it never leaves native code for long;
* the Python tiers' atomics once native code exists (host atomics through
  x64_runtime.HostAtomics) give the interpreter's answers, on plain, code and read-only
  pages;
* native AMOs and LR/SC run inline (no callback) with the helpers' answers, a
  misaligned one faults as the helper does, and the reservation goes both ways
  between native code and the helpers;
* threads_native (tests/guest) under -backend llvm, hot at once, against
  qemu-riscv64: exact totals of AMOs, an amoswap spinlock released by plain
  stores, LR/SC loops from four threads in parallel; signals to and fork beside
  a thread computing in native code.
"""
import os
import subprocess
import sys
import threading
import time

import pytest

from pydbt.backends import llvm
from pydbt.errors import Breakpoint, GuestFault
from pydbt.frontends.riscv64 import trans_rva
from pydbt.frontends.riscv64.cpu import CPU
from pydbt.runtime.memory import R

import test_llvm
from test_llvm import CODE, DATA

pytestmark = pytest.mark.skipif(llvm.unsupported() is not None, reason="no llvmlite")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# a0..a2 are x10..x12, t0 x5
SPIN = [0x0056202f,     # amoadd.w zero, t0, (a2)     tell: *a2 += 1
        0x1005a52f,     # 1: lr.w a0, (a1)            wait: until *a1 != 0
        0xfe050ee3,     # beqz a0, 1b
        0x00100073]     # ebreak
BUMP = [0x00158593,     # addi a1, a1, 1
        0x1000006f]     # j .+0x100


class Rig(test_llvm.Rig):
    """test_llvm's rig (native TBs over one guest memory, as the engine builds
    them), with CPUs of their own for several threads."""

    def put(self, at, words):
        self.mem.poke(at, b"".join(w.to_bytes(4, "little") for w in words))

    def new_cpu(self, regs=()):
        cpu = CPU(self.mem)
        for r, v in dict(regs).items():
            cpu.regs[r] = v
        return cpu

    def word(self, a):
        return self.mem.load(a, 4)


def _until(cond, what, limit=30.0):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def _spinner(fn, cpu, out):
    def run():
        try:
            fn(cpu)
        except Breakpoint:
            out.append("ebreak")
        except BaseException as e:        # (reported by the scenario)
            out.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# --- scenarios, each run in a subprocess (native code holding the GIL would hang them) ---

def scenario_meet():
    llvm.BUDGET = 1 << 60                  # native code never leaves by its budget
    r = Rig()
    r.put(CODE, SPIN)
    spin = r.tb(CODE).fn
    a, b = DATA, DATA + 4
    out = []
    t1 = _spinner(spin, r.new_cpu({5: 1, 11: b, 12: a}), out)    # tells a, waits for b
    t2 = _spinner(spin, r.new_cpu({5: 1, 11: a, 12: b}), out)    # tells b, waits for a
    t1.join(60)
    t2.join(60)
    assert out == ["ebreak", "ebreak"], out
    assert (r.word(a), r.word(b)) == (1, 1)


def scenario_free_dead_code():
    llvm.BUDGET = 1 << 60
    r = Rig()
    r.put(CODE, SPIN)
    r.put(CODE + 0x100, BUMP)
    r.put(CODE + 0x200, BUMP)
    spin, x, y = r.tb(CODE), r.tb(CODE + 0x100, False), r.tb(CODE + 0x200, False)
    st = r.cache.native
    started, flag1, flag2 = DATA, DATA + 4, DATA + 8
    cpu = r.new_cpu({5: 1, 11: flag1, 12: started})
    out = []

    def twice():
        for flag in (flag1, flag2):
            cpu.regs[11] = flag
            try:
                spin.fn(cpu)
            except Breakpoint:
                out.append("ebreak")
    t = threading.Thread(target=twice, daemon=True)
    t.start()
    _until(lambda: r.word(started) == 1, "the first spin")     # (Python runs meanwhile)
    slot_x = x.fn.native.slot0
    r.cache.invalidate(x)
    me = r.new_cpu()
    assert y.fn(me).target == CODE + 0x304               # an entry (to a stub): tries to free x
    assert [d for d, _ in st.dead] == [x.fn.native], "freed while a thread may be in it"
    assert slot_x not in st.free.get(1, [])
    r.mem.store(flag1, 1, 4)
    _until(lambda: r.word(started) == 2, "the second spin")
    y.fn(me)                                                    # the spinner entered after the drop
    assert not st.dead and slot_x in st.free[1]
    assert len(st.inside) == 1                                  # (it is still in native code)
    r.mem.store(flag2, 1, 4)
    t.join(60)
    assert out == ["ebreak", "ebreak"] and not st.inside


SCENARIOS = {"meet": scenario_meet, "free_dead_code": scenario_free_dead_code}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name):
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_llvm_threads as t; "
            f"t.SCENARIOS[{name!r}](); print('PASS')")
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: no progress in 120 s (native code holds the GIL?)")
    assert p.returncode == 0 and p.stdout.strip().endswith("PASS"), p.stdout + p.stderr


# --- the Python tiers' atomics with native code in the process ------------------------------

def _amo_run(mem, cpu, op, size, addr, old, v):
    mem.store(addr, old, size)
    r = trans_rva.amo(cpu, op, addr, v, size)
    return r, mem.load(addr, size)


@pytest.mark.parametrize("page", ["plain", "code"])
def test_python_tier_atomics_are_host_atomics_with_the_same_answers(page):
    r = Rig()
    mem = r.mem
    cpu = r.new_cpu()
    addr = DATA + 8 if page == "plain" else CODE + 0x808
    if page == "code":
        mem.on_code_write = lambda pg: None         # (nothing to invalidate: the page stays marked)
        mem.mark_code(addr >> 12)                   # (no store slots: the checked path)
    values = [0, 1, 5, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 63, (1 << 64) - 1, 0x123456789abcdef0]
    expect = {}
    assert mem.native_atomics is None
    for op in trans_rva._AMO:
        for size in (4, 8):
            m = (1 << (8 * size)) - 1
            for old in values:
                for v in values:
                    expect[op, size, old, v] = _amo_run(mem, cpu, op, size, addr, old & m, v)
    r.put(CODE + 0x100, [0x00100073])               # ebreak
    r.tb(CODE + 0x100)                              # native code may run from now on
    assert mem.native_atomics is not None
    for (op, size, old, v), want in expect.items():
        m = (1 << (8 * size)) - 1
        assert _amo_run(mem, cpu, op, size, addr, old & m, v) == want, (op, size, old, v)
    # LR/SC: a matching reservation stores, a stale one fails and leaves memory
    for size in (4, 8):
        mem.store(addr, 7, size)
        assert trans_rva.lr(cpu, addr, size) == 7
        assert trans_rva.sc(cpu, addr, 9, size) == 0 and mem.load(addr, size) == 9
        trans_rva.lr(cpu, addr, size)
        mem.store(addr, 10, size)
        assert trans_rva.sc(cpu, addr, 11, size) == 1 and mem.load(addr, size) == 10


def test_python_tier_atomic_on_a_read_only_page_faults():
    r = Rig()
    r.mem.map(DATA + 0x1000, 0x1000, R)
    r.put(CODE, [0x00100073])
    r.tb(CODE)
    assert r.mem.native_atomics is not None
    with pytest.raises(GuestFault) as e:
        trans_rva.amo(r.new_cpu(), "amoadd", DATA + 0x1000, 1, 8)
    assert e.value.addr == DATA + 0x1000


# --- native AMOs and LR/SC against the helpers' answers ----------------------------------------

def _run_tb(fn, cpu):
    from pydbt.stats import STATS
    before = STATS.extra.get("native_helper_calls", 0)
    with pytest.raises(Breakpoint):
        fn(cpu)
    return STATS.extra.get("native_helper_calls", 0) - before


def test_native_amo_is_inline_and_faults_as_the_helper():
    r = Rig()
    r.put(CODE, [0x00b6252f, 0x00100073])          # amoadd.w a0, a1, (a2) ; ebreak
    fn = r.tb(CODE).fn
    r.mem.store(DATA, 0x7fffffff, 4)
    cpu = r.new_cpu({11: 1, 12: DATA})
    assert _run_tb(fn, cpu) == 0                    # (no callback: a host atomic)
    assert cpu.regs[10] == 0x7fffffff and r.word(DATA) == 0x80000000
    assert _run_tb(fn, cpu) == 0
    assert cpu.regs[10] == (1 << 64) - 0x80000000   # (sign-extended, as the helper's)
    cpu.regs[12] = DATA + 2                         # misaligned: the helper, SIGBUS at the AMO
    with pytest.raises(GuestFault) as e:
        fn(cpu)
    assert (e.value.signo, e.value.addr, e.value.pc) == (7, DATA + 2, CODE)


def test_reservation_goes_between_native_code_and_the_helpers():
    r = Rig()
    r.put(CODE, [0x1006352f, 0x00100073])          # lr.d a0, (a2) ; ebreak
    r.put(CODE + 0x100, [0x18b636af, 0x00100073])  # sc.d a3, a1, (a2) ; ebreak
    lr, sc = r.tb(CODE).fn, r.tb(CODE + 0x100).fn
    r.mem.store(DATA, 41, 8)
    cpu = r.new_cpu({11: 99, 12: DATA})
    assert _run_tb(lr, cpu) == 0 and cpu.regs[10] == 41
    assert cpu.reservation == (DATA, 8, 41)         # native LR -> the CPU's reservation
    assert trans_rva.sc(cpu, DATA, 42, 8) == 0 and r.mem.load(DATA, 8) == 42
    assert trans_rva.lr(cpu, DATA, 8) == 42         # helper LR -> native SC
    assert _run_tb(sc, cpu) == 0 and cpu.regs[13] == 0 and r.mem.load(DATA, 8) == 99
    assert cpu.reservation is None
    assert _run_tb(sc, cpu) == 0 and cpu.regs[13] == 1     # no reservation: fails
    _run_tb(lr, cpu)
    r.mem.store(DATA, 5, 8)                         # the value changed: fails, memory kept
    assert _run_tb(sc, cpu) == 0 and cpu.regs[13] == 1 and r.mem.load(DATA, 8) == 5


# --- a guest program against qemu-riscv64 ------------------------------------------------------

def threads_native_matches_qemu(tmp_path, *opts):
    """tests/guest/threads_native.c (all its threads at once) under pydbt with
    `opts` prints and exits as under qemu-riscv64: -> pydbt's run."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
    import guestprogs
    prog = tmp_path / "threads_native"
    build = subprocess.run(guestprogs.PROGRAMS["threads_native"].command(prog), capture_output=True,
                           text=True, timeout=300)
    if build.returncode != 0 and "not found" in build.stderr + build.stdout:
        pytest.skip("no riscv64 cross compiler")
    assert build.returncode == 0, build.stderr
    args = ["all", "100000"]
    q = subprocess.run(["qemu-riscv64", str(prog), *args], capture_output=True, timeout=120)
    assert q.returncode == 0 and q.stdout.endswith(b"threads_native done\n"), q
    p = subprocess.run([sys.executable, "-m", "pydbt", "run", *opts, str(prog), *args],
                       capture_output=True, timeout=600)
    assert (p.returncode, p.stdout) == (q.returncode, q.stdout), p.stderr.decode()[-3000:]
    return p


def test_threads_native_under_llvm_matches_qemu(tmp_path):
    p = threads_native_matches_qemu(tmp_path, "-backend", "llvm", "-jit-threshold", "2", "-stats")
    stats = dict(line.split(None, 2)[1:] for line in p.stderr.decode().splitlines()
                 if line.startswith("pydbt: ") and len(line.split()) == 3)
    # the hammer's atomics ran natively: far fewer helper calls than its 4 x 10^5 rounds
    assert int(stats.get("native_helper_calls", 0)) < 10000, stats
