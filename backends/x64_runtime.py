"""The native tiers' runtime on an x86-64 host, made by Python (x64asm), no LLVM:

* `enter(ctx, code)`: C's entry into a TB's code (any native tier's: LLVM's
  preserve_none convention, ctx in R12, the budget in R13, from its ctx word;
  a TB returning to Python stores it back there).  It saves the registers C wants kept
  (RBX, RBP, R12-R15: LLVM's code keeps RBP, baseline code uses it as one more
  register), aligns the stack and calls the code, whose exit code it returns.
  One for the process.
* `shim(callback)`: baseline code's way back into Python (x64_emit.Emitter.
  callback): saves every register a C call may change but RAX, calls
  `callback(ctx, kind, a, b, c)` with the arguments read from ctx (CTX_CB..)
  and returns its result in RAX.  One per native state (its ctypes callback).
* `HostAtomics`: the Python tiers' AMOs and LR/SC once native code runs beside
  them without the GIL (frontends' `mem.native_atomics`; see llvm.py):
  `rmw[op, size](host address, value)` -> the old value (zero-extended),
  `cas[size](host address, expected, new)` -> 1 if it stored.  `xchg`, `lock
  xadd`, else a `lock cmpxchg` loop; seq_cst as x86's locked instructions are.
So a run whose native code is all baseline code never loads llvmlite.
"""
import ctypes

from . import llvm_emit as E
from .codearena import ARENA
from .x64asm import Asm, mem, RAX, RCX, RDX, RBX, RBP, RSP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15

ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)
_one = {}


def _place(asm):
    return ARENA.place(asm.finish())


def enter():
    """-> (its Code, a ctypes function(ctx, code) -> exit code); made once"""
    e = _one.get("enter")
    if e is None:
        a = Asm()
        kept = (RBX, RBP, R12, R13, R14, R15)
        for r in kept:
            a.push(r)
        a.alu("sub", RSP, 8)
        # (6 pushes, 8 and the return address: 0 mod 16; the call makes the TB's 8 mod 16)
        a.mov(R12, RDI)
        a.mov(R13, mem(RDI, None, 1, 8 * E.CTX_BUDGET))
        a.call(RSI)
        a.alu("add", RSP, 8)
        for r in reversed(kept):
            a.pop(r)
        a.ret()
        code = _place(a)
        e = _one["enter"] = (code, ENTRY_TYPE(code.addr))
    return e


def shim(callback):
    """-> the Code of a shim calling C function `callback` (see above)"""
    a = Asm()
    saved = (RCX, RDX, RSI, RDI, R8, R9, R10, R11)
    for r in saved:
        a.push(r)
    a.alu("sub", RSP, 8)                      # (8 pushes and the return address: 8 mod 16)
    a.mov(RDI, R12)
    for r, k in ((RSI, 0), (RDX, 1), (RCX, 2), (R8, 3)):
        a.mov(r, mem(R12, None, 1, 8 * (E.CTX_CB + k)))
    a.mov_imm(RAX, callback)
    a.call(RAX)
    a.alu("add", RSP, 8)
    for r in reversed(saved):
        a.pop(r)
    a.ret()
    return _place(a)


# op -> the condition under which the new value is the operand (RSI) rather than the old (RAX)
_PICK = {"min": "g", "max": "l", "minu": "a", "maxu": "b"}
_LOGIC = ("and", "or", "xor")
OPS = ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu")


class HostAtomics:
    """See the overview.  One for the process (`get`)."""

    @classmethod
    def get(cls):
        h = _one.get("atomics")
        if h is None:
            h = _one["atomics"] = cls()
        return h

    def __init__(self):
        rmw_t = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
        cas_t = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
        self.codes = []
        self.rmw, self.cas = {}, {}
        for size in (4, 8):
            w = 8 * size
            for op in OPS:
                self.rmw[op, size] = rmw_t(self._make(self._rmw, op, w))
            self.cas[size] = cas_t(self._make(self._cas, None, w))

    def _make(self, body, op, w):
        a = Asm()
        body(a, op, w)
        code = _place(a)
        self.codes.append(code)                # (kept: the functions live as long as this)
        return code.addr

    @staticmethod
    def _rmw(a, op, w):
        m = mem(RDI)
        if op in ("swap", "add"):
            a.mov(RAX, RSI, w)
            (a.xchg if op == "swap" else a.lock_xadd)(m, RAX, w)
            a.ret()
            return
        a.mov(RAX, m, w)
        again = a.label()
        a.bind(again)
        if op in _LOGIC:
            a.mov(RCX, RAX, w)
            a.alu(op, RCX, RSI, w)
        else:
            a.mov(RCX, RAX, w)
            a.alu("cmp", RAX, RSI, w)
            a.cmov(_PICK[op], RCX, RSI, w)
        a.lock_cmpxchg(m, RCX, w)              # (fails: RAX = the value now there, again)
        a.jcc("ne", again)
        a.ret()

    @staticmethod
    def _cas(a, _op, w):
        a.mov(RAX, RSI, w)
        a.lock_cmpxchg(mem(RDI), RDX, w)
        a.setcc("e", RAX)
        a.movx(RAX, RAX, 1, False, 32)
        a.ret()
