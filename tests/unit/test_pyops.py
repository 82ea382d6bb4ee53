"""The JIT's emitter (backends/pyops.py): the code it builds runs on this CPython,
its stack depth is the one CPython's rules give, the JIT's code never reads a
local before it is bound (3.12+ would crash, not raise), and a CPython it does
not know makes pydbt fall back on the interpreter with one line on stderr."""
import os
import struct
import subprocess
import sys
import types

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from bytecode import Bytecode, Instr, Label, TryBegin, TryEnd, BinaryOp, Compare

from pydbt import backends
from pydbt.backends import pyops
from pydbt.frontends.riscv64.translate import translate
from pydbt.passes import optimize
from pydbt.runtime.memory import GuestMemory, R, W, X

from test_backends import programs, Ctx, Ran, CODE, SPACE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def function(e, argnames):
    bc = Bytecode(e.code)
    bc.argnames = list(argnames)
    bc.argcount = len(argnames)
    bc.name = "f"
    bc.first_lineno = 1
    bc.flags = 3
    code = bc.to_code(stacksize=e.max_depth, check_pre_and_post=False,
                      compute_exception_stack_depths=False)
    return types.FunctionType(code, {}), Bytecode(e.code).compute_stacksize(check_pre_and_post=False)


def test_this_cpython_is_supported():
    assert sys.version_info[:2] in pyops.TABLES
    assert pyops.unsupported() is None
    assert pyops._smoke() == [7, 2, 1, 0]


@pytest.mark.parametrize("n", [1, 2, 17, 40])
def test_deep_expressions_get_their_depth(n):
    """x0 + (x1 + (x2 + ...)) built right-deep: n values on the stack at once; a
    call with n arguments on top of that."""
    e = pyops.Emitter()
    e.resume()
    for k in range(n):
        e.load("x")
        e.const(k)
        e.binop(BinaryOp.ADD)
    for _ in range(n - 1):
        e.binop(BinaryOp.ADD)
    e.callable_const(lambda *a: sum(a))
    for k in range(n):
        e.const(k)
    e.call(n)
    e.binop(BinaryOp.ADD)
    e.ret()
    f, computed = function(e, ["x"])
    assert e.max_depth == computed == n + 3      # (the sum so far, the callable and NULL, n arguments)
    assert f(10) == sum(10 + k for k in range(n)) + sum(range(n))


def test_branches_agree_on_the_depth():
    """A label reached with different depths is a generator bug: it is caught."""
    e = pyops.Emitter()
    join = Label()
    e.load("x")
    e.load("x")
    e.jump_if(True, join)          # one value left on this path
    e.load("x")                    # two on this one
    with pytest.raises(pyops.StackError):
        e.place(join)


def test_loops_and_handlers_keep_the_depth():
    """A back-edge, a try region's handler and `x or f()` (both table dependent)."""
    e = pyops.Emitter()
    e.resume()
    head, handler, got = Label(), Label(), Label()
    e.place(head)
    e.load("n")
    e.const(1)
    e.binop(BinaryOp.SUBTRACT)
    e.store("n")
    e.load("n")
    e.const(0)
    e.compare(Compare.LE)
    e.loop_unless(head)
    entry = e.try_begin(handler)
    e.load("n")
    e.load("n")
    e.binop(BinaryOp.TRUE_DIVIDE)          # n == 0: ZeroDivisionError
    e.try_end(entry)
    e.ret()
    e.place(handler)
    e.pop()
    e.load("d")
    e.method("get")
    e.load("n")
    e.call(1)
    e.jump_if_true_or_pop(got)
    e.const("missing")
    e.place(got)
    e.ret()
    f, computed = function(e, ["n", "d"])
    assert e.max_depth == computed
    assert f(5, {0: "zero"}) == "zero"
    assert f(5, {}) == "missing"
    assert f(-3, {}) == 1.0                 # (n - 1 <= 0 at once: -4 / -4)


def test_falsy_values_jump_right():
    """3.13's conditional jumps take a bool: an int (x & 7) or a list must be
    converted first, or the jump is silently never taken."""
    e = pyops.Emitter()
    e.resume()
    yes = Label()
    e.load("x")
    e.jump_if(True, yes)
    e.const(0)
    e.ret()
    e.place(yes)
    e.const(1)
    e.ret()
    f, _ = function(e, ["x"])
    assert [f(v) for v in (0, 8, [], [1], None, "a")] == [0, 1, 0, 1, 0, 1]


# --- the JIT's code never reads an unbound local ---------------------------------------

def unbound_loads(items, bound_at_entry):
    """The LOAD_FAST instructions of an instruction list that may read a local no
    path has bound (a flow analysis: bound = stored on every path here; a try
    region's handler is reached from every instruction in the region)."""
    label_at = {it: k for k, it in enumerate(items) if isinstance(it, Label)}
    handler_of, current = [None] * len(items), None
    for k, it in enumerate(items):
        if isinstance(it, TryBegin):
            current = it.target
        elif isinstance(it, TryEnd):
            current = None
        handler_of[k] = current
    final = {"RETURN_VALUE", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD", "RETURN_CONST"}
    state = [None] * (len(items) + 1)         # None: not reached (yet)
    state[0] = frozenset(bound_at_entry)

    def flow(k, s):
        if state[k] is None or not state[k] <= s:
            new = s if state[k] is None else state[k] & s
            if new != state[k]:
                state[k] = new
                return True
        return False

    changed = True
    while changed:
        changed = False
        for k, it in enumerate(items):
            s = state[k]
            if s is None:
                continue
            if handler_of[k] is not None and isinstance(it, Instr):
                changed |= flow(label_at[handler_of[k]], s)
            if isinstance(it, Instr):
                if isinstance(it.arg, Label):
                    changed |= flow(label_at[it.arg], s)
                if it.name == "STORE_FAST":
                    s = s | {it.arg}
                if it.name in final:
                    continue
            changed |= flow(k + 1, s)
    return [(k, it.arg) for k, it in enumerate(items) if isinstance(it, Instr)
            and it.name == "LOAD_FAST" and state[k] is not None and it.arg not in state[k]]


def _items(prog, shape, warm):
    from pydbt.backends import pybytecode
    words, regs, fregs, frm = prog
    mem = GuestMemory(space=SPACE)
    mem.map(CODE, 0x1000, R | W | X)
    mem.poke(CODE, b"".join(struct.pack("<I", w) for w in words))
    kw = {"superblock": shape != "block"}
    if shape == "paths":
        kw["profile"] = Ran(lambda a: not (warm >> ((a - CODE) // 4 % 26)) & 1)
    blk = translate(mem, CODE, 64, **kw)
    optimize(blk)
    return pybytecode.Gen(blk, Ctx(blk, mem, [])).emit()


def test_the_analysis_finds_an_unbound_read():
    e = pyops.Emitter()
    skip = Label()
    e.load("x")
    e.jump_if(True, skip)
    e.const(1)
    e.store("y")
    e.place(skip)
    e.load("y")
    e.ret()
    assert unbound_loads(e.code, ["x"]) == [(len(e.code) - 2, "y")]


@pytest.mark.parametrize("shape", ["block", "superblock", "paths"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), warm=st.integers(0, (1 << 26) - 1))
def test_jit_code_reads_only_bound_locals(shape, data, warm):
    from pydbt.backends import pybytecode
    prog = data.draw(programs(branchy=shape == "paths"))
    items = _items(prog, shape, warm)
    assert unbound_loads(items, pybytecode._ARGS) == []


# --- an unknown CPython: the interpreter, one line on stderr ------------------------------

def test_unknown_cpython_falls_back_on_the_interpreter(monkeypatch, capsys):
    monkeypatch.setattr(pyops, "VERSION", (3, 14))
    monkeypatch.setattr(pyops, "_WHY", [])
    monkeypatch.setattr(backends, "_warned", set())
    assert backends.get_backend("pybytecode").name == "interp"
    assert backends.get_backend("pybytecode").name == "interp"
    err = capsys.readouterr().err
    assert err == "pydbt: the pybytecode backend cannot run on CPython 3.14 " \
                  "(supported: 3.11, 3.12, 3.13); using interp\n"


def test_a_table_naming_a_missing_opcode_is_unsupported(monkeypatch):
    table = dict(pyops.TABLES[pyops.VERSION], jump_true="POP_JUMP_SIDEWAYS_IF_TRUE")
    monkeypatch.setattr(pyops, "TABLES", {pyops.VERSION: table})
    monkeypatch.setattr(pyops, "_WHY", [])
    assert "no opcode POP_JUMP_SIDEWAYS_IF_TRUE" in pyops.unsupported()


def test_pydbt_runs_a_program_on_an_unknown_cpython():
    """The whole command on a CPython the emitter does not know (faked): the
    program's output and status, one line on stderr, no traceback."""
    hello = os.path.join(ROOT, "examples", "hello")
    script = ("import sys; from pydbt.backends import pyops; pyops.VERSION = (3, 99); "
              "from pydbt.cli import main; sys.exit(main(sys.argv[1:]))")
    for extra in (["-backend", "pybytecode"], ["-backend", "pybytecode", "-jit-threshold", "0"]):
        p = subprocess.run([sys.executable, "-c", script, "run", *extra, hello],
                           capture_output=True, text=True, timeout=120)
        native = subprocess.run([sys.executable, "-m", "pydbt", "run", *extra, hello],
                                capture_output=True, text=True, timeout=120)
        assert (p.returncode, p.stdout) == (native.returncode, native.stdout)
        assert p.stderr == "pydbt: the pybytecode backend cannot run on CPython 3.99 " \
                           "(supported: 3.11, 3.12, 3.13); using interp\n" + native.stderr
