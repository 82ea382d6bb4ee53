"""The emitter between the JIT's code generator and CPython's bytecode.

The generator (pybytecode.Gen) asks for operations: push a local or a
constant, call with n arguments, jump forward if true, loop back unless true,
load an attribute or a method, open a try region.  An Emitter turns them into
`bytecode` instructions for the running CPython, reading one small table per
version (TABLES): what differs between 3.11, 3.12 and 3.13 is there and nowhere
else.  Anything else (3.14+, or a `bytecode` package that cannot build code for
this CPython) is unsupported: `unsupported()` says why, and the backend
registry then falls back on the interpreter.

The emitter also computes the stack depth: each operation knows what it pushes
and pops, a jump records the depth at its label, and a label reached both by a
jump and by falling through must agree (StackError otherwise: a generator bug).
`max_depth` is the code object's co_stacksize; tests compare it with
`Bytecode.compute_stacksize()`.

Per version (the JIT's view):
  3.11  PUSH_NULL fn args PRECALL CALL; LOAD_METHOD; POP_JUMP_FORWARD/BACKWARD_IF_*;
        JUMP_IF_TRUE_OR_POP
  3.12  PUSH_NULL fn args CALL; LOAD_ATTR (method?, name); POP_JUMP_IF_* forward only
        (a conditional back-edge is POP_JUMP_IF_TRUE over JUMP_BACKWARD)
  3.13  fn PUSH_NULL args CALL; conditional jumps take a bool only (TO_BOOL first
        unless the value is a comparison's result)
"""
import dis
import sys

try:
    from bytecode import Bytecode, Instr, Label, SetLineno, TryBegin, TryEnd, Compare, BinaryOp, FreeVar
    _IMPORT_ERROR = None
except Exception as e:          # (a bytecode package that does not know this CPython)
    _IMPORT_ERROR = e
    Instr = Label = SetLineno = TryBegin = TryEnd = Compare = BinaryOp = Bytecode = FreeVar = None

VERSION = sys.version_info[:2]

# What each supported CPython calls the operations that differ.  None: the
# operation is built from others (see the Emitter methods).
TABLES = {
    (3, 11): dict(null_first=True, precall=True, method="LOAD_METHOD", attr_flag=False,
                  jump_true="POP_JUMP_FORWARD_IF_TRUE", jump_false="POP_JUMP_FORWARD_IF_FALSE",
                  back_if_false="POP_JUMP_BACKWARD_IF_FALSE", true_or_pop="JUMP_IF_TRUE_OR_POP",
                  jump_not_none="POP_JUMP_FORWARD_IF_NOT_NONE", to_bool=None),
    (3, 12): dict(null_first=True, precall=False, method=None, attr_flag=True,
                  jump_true="POP_JUMP_IF_TRUE", jump_false="POP_JUMP_IF_FALSE",
                  back_if_false=None, true_or_pop=None,
                  jump_not_none="POP_JUMP_IF_NOT_NONE", to_bool=None),
    (3, 13): dict(null_first=False, precall=False, method=None, attr_flag=True,
                  jump_true="POP_JUMP_IF_TRUE", jump_false="POP_JUMP_IF_FALSE",
                  back_if_false=None, true_or_pop=None,
                  jump_not_none="POP_JUMP_IF_NOT_NONE", to_bool="TO_BOOL"),
}

# opcodes every supported version has, with the same meaning
COMMON = ("LOAD_CONST", "LOAD_FAST", "STORE_FAST", "BINARY_OP", "COMPARE_OP", "BINARY_SUBSCR",
          "STORE_SUBSCR", "LOAD_ATTR", "UNARY_NEGATIVE", "COPY", "SWAP", "POP_TOP", "PUSH_NULL",
          "CALL", "RETURN_VALUE", "RERAISE", "RESUME", "JUMP_FORWARD", "JUMP_BACKWARD",
          "COPY_FREE_VARS", "LOAD_DEREF", "STORE_DEREF")


class StackError(Exception):
    """The generator's code does not agree with itself on the stack depth."""


_SHARED = frozenset((int, bool, str, type(None)) + ((BinaryOp, Compare) if _IMPORT_ERROR is None else ()))
_CACHE = {}          # (name, type(arg), arg) -> Instr: equal instructions are shared
_CACHE_MAX = 100000


def _instr(name, arg):
    # Instr() validates its argument and costs ~1.5 us: share equal instructions
    # (they carry no line number: SetLineno pseudo-instructions give it).
    # Objects such as labels and helpers are not kept: they belong to one TB or
    # one guest memory, which the cache would keep alive.
    t = type(arg)
    if t not in _SHARED:
        return Instr(name, arg) if arg is not None else Instr(name)
    key = (name, t, arg)                     # (1 and True are equal keys)
    ins = _CACHE.get(key)
    if ins is None:
        ins = Instr(name, arg) if arg is not None else Instr(name)
        if len(_CACHE) < _CACHE_MAX:
            _CACHE[key] = ins
    return ins


class Emitter:
    """Builds one instruction list (`code`), tracking the stack depth."""

    def __init__(self, table=None):
        t = TABLES[VERSION] if table is None else table
        self.null_first = t["null_first"]
        self.precall = t["precall"]
        self.method_op = t["method"]
        self.attr_flag = t["attr_flag"]
        self.jump_true, self.jump_false = t["jump_true"], t["jump_false"]
        self.back_if_false = t["back_if_false"]
        self.true_or_pop = t["true_or_pop"]
        self.jump_not_none = t["jump_not_none"]
        self.to_bool = t["to_bool"]
        self.code = []
        self.depth = 0               # None: here is unreachable (after a return or a jump)
        self.max_depth = 0
        self.at = {}                 # label -> the depth there
        self.is_bool = False         # the top of the stack is a comparison's result

    # --- the stack --------------------------------------------------------------------
    def _op(self, name, arg, effect):
        self.code.append(_instr(name, arg))
        d = self.depth
        if d is not None:
            d += effect
            self.depth = d
            if d > self.max_depth:
                self.max_depth = d
        self.is_bool = False

    def _to(self, label, depth):
        """A jump to label with `depth` on the stack."""
        if depth is None:
            return
        seen = self.at.get(label)
        if seen is None:
            self.at[label] = depth
        elif seen != depth:
            raise StackError(f"a jump reaches a label with {depth} on the stack, another with {seen}")

    def place(self, label):
        self.code.append(label)
        d = self.depth
        seen = self.at.get(label)
        if d is None:
            self.depth = seen if seen is not None else 0     # (0: code nothing reaches)
        elif seen is None:
            self.at[label] = d
        elif seen != d:
            raise StackError(f"a label is reached with {d} on the stack and by a jump with {seen}")
        self.is_bool = False

    def lineno(self, n):
        self.code.append(SetLineno(n))

    def try_begin(self, handler, depth=0):
        """Open a try region whose handler gets the exception on a stack cut to depth."""
        entry = TryBegin(handler, push_lasti=False, stack_depth=depth)
        self._to(handler, depth + 1)
        self.code.append(entry)
        return entry

    def try_end(self, entry):
        self.code.append(TryEnd(entry))

    # --- values ---------------------------------------------------------------------
    # (const, load and store are most of a TB's instructions: _op inlined)
    def const(self, value):
        t = type(value)
        ins = _CACHE.get(("LOAD_CONST", t, value)) if t in _SHARED else None
        self.code.append(ins if ins is not None else _instr("LOAD_CONST", value))
        d = self.depth
        if d is not None:
            d += 1
            self.depth = d
            if d > self.max_depth:
                self.max_depth = d
        self.is_bool = False

    def load(self, name):
        ins = _CACHE.get(("LOAD_FAST", str, name))
        self.code.append(ins if ins is not None else _instr("LOAD_FAST", name))
        d = self.depth
        if d is not None:
            d += 1
            self.depth = d
            if d > self.max_depth:
                self.max_depth = d
        self.is_bool = False

    def store(self, name):
        ins = _CACHE.get(("STORE_FAST", str, name))
        self.code.append(ins if ins is not None else _instr("STORE_FAST", name))
        d = self.depth
        if d is not None:
            d -= 1
            self.depth = d
            if d > self.max_depth:
                self.max_depth = d
        self.is_bool = False

    # a closure's free variables (cells the function shares with its maker):
    # copy_free_vars(n) first of all, then load_free/store_free by name
    def copy_free_vars(self, n):
        self._op("COPY_FREE_VARS", n, 0)

    def load_free(self, name):
        self._op("LOAD_DEREF", FreeVar(name), 1)

    def store_free(self, name):
        self._op("STORE_DEREF", FreeVar(name), -1)

    def binop(self, op):
        self._op("BINARY_OP", op, -1)

    def compare(self, cmp):
        self._op("COMPARE_OP", cmp, -1)
        self.is_bool = True

    def neg(self):
        self._op("UNARY_NEGATIVE", None, 0)

    def subscr(self):
        self._op("BINARY_SUBSCR", None, -1)

    def store_subscr(self):
        self._op("STORE_SUBSCR", None, -3)

    def attr(self, name):
        self._op("LOAD_ATTR", (False, name) if self.attr_flag else name, 0)

    def copy(self, k):
        self._op("COPY", k, 1)

    def swap(self, k):
        self._op("SWAP", k, 0)

    def pop(self):
        self._op("POP_TOP", None, -1)

    # --- calls: callable(s), arguments, call(n) -----------------------------------------
    def callable_const(self, fn):
        if self.null_first:
            self._op("PUSH_NULL", None, 1)
            self._op("LOAD_CONST", fn, 1)
        else:
            self._op("LOAD_CONST", fn, 1)
            self._op("PUSH_NULL", None, 1)

    def callable_local(self, name):
        if self.null_first:
            self._op("PUSH_NULL", None, 1)
            self._op("LOAD_FAST", name, 1)
        else:
            self._op("LOAD_FAST", name, 1)
            self._op("PUSH_NULL", None, 1)

    def method(self, name):
        """obj -> its method `name`, ready for call(n) as a callable"""
        if self.method_op is not None:
            self._op(self.method_op, name, 1)
        else:
            self._op("LOAD_ATTR", (True, name), 1)

    def call(self, n):
        """callable, n arguments -> the result"""
        if self.precall:
            self._op("PRECALL", n, 0)
        self._op("CALL", n, -n - 1)

    # --- control --------------------------------------------------------------------
    def _bool(self):
        if self.to_bool is not None and not self.is_bool:
            self._op(self.to_bool, None, 0)

    def jump(self, label):
        """a forward jump"""
        self._op("JUMP_FORWARD", label, 0)
        self._to(label, self.depth)
        self.depth = None

    def jump_if(self, flag, label):
        """pop a value; jump forward to label if its truth is flag"""
        self._bool()
        self._op(self.jump_true if flag else self.jump_false, label, -1)
        self._to(label, self.depth)

    def loop_unless(self, label):
        """pop a value; jump back to label (placed already) unless it is true"""
        if self.back_if_false is not None:
            self._bool()
            self._op(self.back_if_false, label, -1)
            self._to(label, self.depth)
            return
        stay = Label()
        self.jump_if(True, stay)
        self._op("JUMP_BACKWARD", label, 0)
        self._to(label, self.depth)
        self.depth = None
        self.place(stay)

    def jump_if_true_or_pop(self, label):
        """jump forward to label keeping the value if it is true (here: not None,
        the only false value it can be), else pop it"""
        if self.true_or_pop is not None:
            self._op(self.true_or_pop, label, 0)
            self._to(label, self.depth)
            if self.depth is not None:
                self.depth -= 1
            return
        self.copy(1)
        self._op(self.jump_not_none, label, -1)
        self._to(label, self.depth)
        self.pop()

    def ret(self):
        self._op("RETURN_VALUE", None, -1)
        self.depth = None

    def reraise(self):
        self._op("RERAISE", 0, -1)
        self.depth = None

    def resume(self):
        self._op("RESUME", 0, 0)


_WHY = []       # unsupported()'s answer, once


def unsupported():
    """None if the JIT can run on this CPython with this `bytecode` package, else why not."""
    if not _WHY:
        _WHY.append(_check())
    return _WHY[0]


def _check():
    py = "CPython %d.%d" % VERSION
    if VERSION not in TABLES:
        return f"{py} (supported: " + ", ".join("%d.%d" % v for v in TABLES) + ")"
    if _IMPORT_ERROR is not None:
        return f"{py} with this bytecode package ({type(_IMPORT_ERROR).__name__}: {_IMPORT_ERROR})"
    names = set(COMMON) | {v for v in TABLES[VERSION].values() if isinstance(v, str)}
    missing = sorted(n for n in names if n not in dis.opmap)
    if missing:
        return f"{py}: no opcode " + ", ".join(missing)
    try:
        if _smoke() != [7, 2, 1, 0]:
            return f"{py}: the bytecode package builds wrong code here"
    except Exception as e:
        return f"{py} with this bytecode package ({type(e).__name__}: {e})"
    return None


def _smoke():
    """Build and run a small function through every Emitter operation."""
    import types
    e = Emitter()
    e.resume()
    head, done, handler, ok = Label(), Label(), Label(), Label()
    e.load("n")
    e.store("left")
    e.place(head)
    e.load("out")
    e.method("append")
    e.load("left")
    e.call(1)
    e.pop()
    e.load("left")
    e.const(1)
    e.binop(BinaryOp.SUBTRACT)
    e.store("left")
    e.load("left")
    e.const(0)
    e.compare(Compare.LT)
    e.jump_if(True, done)
    e.load("left")
    e.const(-1)
    e.compare(Compare.EQ)
    e.loop_unless(head)
    e.place(done)
    entry = e.try_begin(handler)
    e.load("out")
    e.const(99)
    e.subscr()                       # IndexError: the handler
    e.try_end(entry)
    e.ret()
    e.place(handler)
    e.pop()
    e.callable_const(dict(a=None).get)
    e.const("a")
    e.call(1)
    e.jump_if_true_or_pop(ok)
    e.callable_local("seven")
    e.call(0)
    e.copy(1)
    e.load("out")
    e.swap(2)
    e.swap(2)
    e.const(0)
    e.store_subscr()
    e.neg()
    e.neg()
    e.place(ok)
    e.load("out")
    e.attr("copy")
    e.pop()
    e.pop()
    e.load("out")
    e.ret()
    bc = Bytecode(e.code)
    bc.argnames = ["out", "n", "seven"]
    bc.argcount = 3
    bc.name = "smoke"
    bc.first_lineno = 1
    bc.flags = 3
    code = bc.to_code(stacksize=e.max_depth, check_pre_and_post=False,
                      compute_exception_stack_depths=False)
    f = types.FunctionType(code, {})
    return f([], 3, lambda: 7)
