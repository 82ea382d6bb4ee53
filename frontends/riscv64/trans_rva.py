"""Lifters for the A extension: LR/SC and AMOs, as helpers over guest memory.

LR records (address, size, value); SC succeeds when the reservation is for the
same address and size and memory still holds the value (the same compare-and-
swap view of LR/SC as QEMU's).  Misaligned atomics raise SIGBUS (BUS_ADRALN), as
the kernel does for the address-misaligned trap.

Guest threads share memory, and an atomic must also be atomic with respect to
another thread's plain store (a lock released by `sw` while another thread's
SC or AMO is between its load and its store must not be lost).  Two regimes:

* No native code in the process (`mem.native_atomics` is None): guest threads
  are host threads under CPython's lock, which changes hands only where the
  interpreter checks for it (calls, function entry, backward jumps; never
  between a subscript, an arithmetic operation and a store of the same
  statement).  So on a page with store slots the load-op-store of an AMO and
  the compare-and-store of an SC are one straight expression on the page's
  typed views, with no call between load and store: no other guest thread runs
  in between.
* Native code exists (the llvm backend sets `mem.native_atomics` before its
  first TB can run): native code runs without CPython's lock, so a native plain
  store may land anywhere in a Python statement.  AMOs and SC then use host
  atomics (`lock xadd`, `cmpxchg`...: small native functions, see
  backends/x64_runtime.py HostAtomics), as native code's own AMOs and LR/SC do
  (llvm_emit lowers these helpers from their `native_atomic` description).
  The switch is safe: a helper reads the regime under `atomic_lock` right
  before its load and store, with no point between where CPython's lock could
  change hands; native code can only start once the regime has switched
  (backends/llvm.py sets it before its first TB is handed out).

Pages without store slots (read-only, translated code, shared file pages,
watched ranges, unmapped) take the checked path, under `atomic_lock` like the
rest, so atomics never interleave with each other; with native atomics the
checked path makes its checks (faults, watchpoints, invalidating the code a
store hits) and then the same host atomic, except on FILE pages (copied with
process_vm_readv/writev, atomic only against the other tiers' checked paths).
LR reads the word with one aligned host load (a typed view), never torn.
"""
import signal

from pydbt.errors import GuestFault, BUS_ADRALN, Watchpoint
from .lift import trans

M64 = (1 << 64) - 1


def _sext(v, size):
    if size == 4:
        v &= 0xffffffff
        return v - (1 << 32) if v >> 31 else v
    return v - (1 << 64) if v >> 63 else v


def _aligned(addr, size):
    if addr & (size - 1):
        raise GuestFault(signal.SIGBUS, BUS_ADRALN, addr)


def _slots(mem, addr, size):
    """(load view, store view, index) of an aligned atomic access to a page with
    store slots, else None (the checked path)."""
    pv = mem.page_views(addr >> 12)
    if pv is None:
        return None
    if size == 4:
        w = getattr(pv, "wI", None)
        return None if w is None else (pv.I, w, addr >> 2)
    w = getattr(pv, "wQ", None)
    return None if w is None else (pv.Q, w, addr >> 3)


def _load(mem, addr, size):
    """One aligned host load where the page has load slots (never torn by a
    concurrent native store), else the checked path."""
    pv = mem.page_views(addr >> 12)
    if pv is not None:
        return pv.I[addr >> 2] if size == 4 else pv.Q[addr >> 3]
    return mem.load(addr, size)


def lr(cpu, addr, size):
    _aligned(addr, size)
    with cpu.mem.atomic_lock:
        v = _load(cpu.mem, addr, size)
    cpu.reservation = (addr, size, v)
    return _sext(v, size) & M64


def _checked(mem, addr, size):
    """The checked path's tests of an atomic's load and store (faults,
    watchpoints, invalidation of code on the page) -> True when the page is a
    FILE one (its bytes must be copied, not accessed in place)."""
    return bool(mem.check(addr, size, False) | mem.check(addr, size, True))


def sc(cpu, addr, value, size):
    _aligned(addr, size)
    r, cpu.reservation = cpu.reservation, None
    mem = cpu.mem
    fast = _slots(mem, addr, size)
    mask = (1 << (size * 8)) - 1
    with mem.atomic_lock:
        na = mem.native_atomics            # (read here, next to the store: see the docstring)
        if fast is not None and r is not None and r[0] == addr and r[1] == size:
            if na is None:
                view, w, i = fast
                if view[i] != r[2]:
                    return 1
                w[i] = value & mask        # (no call between the compare and the store)
                return 0
            return 0 if na.cas[size](mem.host_base + addr, r[2], value & mask) else 1
        try:
            if r is None or r[0] != addr or r[1] != size:
                mem.load(addr, size)        # still faults on a bad address
                return 1
            if na is not None and not _checked(mem, addr, size):
                return 0 if na.cas[size](mem.host_base + addr, r[2], value & mask) else 1
            if mem.load(addr, size) != r[2]:
                return 1
            mem.store(addr, value, size)
        except Watchpoint:
            cpu.reservation = r             # (the SC runs again after gdb's stop: dbt/execloop.py)
            raise
    return 0


_AMO = {
    "amoswap": lambda old, v, s: v,
    "amoadd": lambda old, v, s: old + v,
    "amoxor": lambda old, v, s: old ^ v,
    "amoand": lambda old, v, s: old & v,
    "amoor": lambda old, v, s: old | v,
    "amomin": lambda old, v, s: old if _sext(old, s) <= _sext(v, s) else v,
    "amomax": lambda old, v, s: old if _sext(old, s) >= _sext(v, s) else v,
    "amominu": lambda old, v, s: old if old <= v else v,
    "amomaxu": lambda old, v, s: old if old >= v else v,
}


_KIND = {op: k for k, op in enumerate(_AMO)}


def amo(cpu, op, addr, value, size):
    _aligned(addr, size)
    mask = (1 << (size * 8)) - 1
    v = value & mask
    mem = cpu.mem
    fast = _slots(mem, addr, size)
    k = _KIND[op]
    sb = 1 << (size * 8 - 1)
    sv = (v ^ sb) - sb
    with mem.atomic_lock:
        na = mem.native_atomics            # (read here, next to the store: see the docstring)
        if na is None and fast is not None:
            # the load, the op (_AMO's, in its key order) and the store with no
            # call and no backward jump between them (see the module's docstring)
            view, w, i = fast
            old = view[i]
            w[i] = (v if k == 0 else (old + v) & mask if k == 1 else old ^ v if k == 2 else
                    old & v if k == 3 else old | v if k == 4 else
                    (old if (old ^ sb) - sb <= sv else v) if k == 5 else
                    (old if (old ^ sb) - sb >= sv else v) if k == 6 else
                    (old if old <= v else v) if k == 7 else (old if old >= v else v))
        elif fast is None and (na is None or _checked(mem, addr, size)):
            old = mem.load(addr, size)
            mem.store(addr, _AMO[op](old, v, size), size)
        else:
            old = na.rmw[_NATIVE_OP[op], size](mem.host_base + addr, v)
    return _sext(old, size) & M64


class NativeAtomic:
    """What a native backend needs to run a helper of this module as host
    atomics (llvm_emit's `atomic`): kind "rmw" (op: one of NATIVE_OPS), "lr" or
    "sc"; the access size; whether the result is sign-extended from it; SC's
    results (success, failure); the CPU attribute holding the reservation."""
    __slots__ = ("kind", "op", "size", "signed", "results", "reservation")

    def __init__(self, kind, size, op=None):
        self.kind, self.op, self.size = kind, op, size
        self.signed, self.results, self.reservation = True, (0, 1), "reservation"


_NATIVE_OP = {op: op[3:] for op in _AMO}            # amoswap -> swap ...
NATIVE_OPS = tuple(_NATIVE_OP.values())


def _size(name):
    return 4 if name.endswith(".w") else 8


def _module_level(helper):
    """A helper made by a factory, also a global of this module under its
    __name__ (and so its __qualname__): code kept by the TB store
    (dbt/tbstore.py) names its helpers by module and qualname."""
    helper.__qualname__ = helper.__name__
    globals()[helper.__name__] = helper
    return helper


def _lr_helper(size):
    def helper(cpu, addr):
        return lr(cpu, addr, size)
    helper.__name__ = f"lr_{'w' if size == 4 else 'd'}"
    helper.native_atomic = NativeAtomic("lr", size)
    return _module_level(helper)


def _sc_helper(size):
    def helper(cpu, addr, value):
        return sc(cpu, addr, value, size)
    helper.__name__ = f"sc_{'w' if size == 4 else 'd'}"
    helper.native_atomic = NativeAtomic("sc", size)
    return _module_level(helper)


_LR = {4: _lr_helper(4), 8: _lr_helper(8)}
_SC = {4: _sc_helper(4), 8: _sc_helper(8)}


@trans("lr.w", "lr.d")
def trans_lr(c, i):
    c.x[i.rd] = c.b.call(_LR[_size(i.name)], c.x[i.rs1])


@trans("sc.w", "sc.d")
def trans_sc(c, i):
    c.x[i.rd] = c.b.call(_SC[_size(i.name)], c.x[i.rs1], c.x[i.rs2])


def _amo_helper(op, size):
    def helper(cpu, addr, value):
        return amo(cpu, op, addr, value, size)
    helper.__name__ = f"{op}_{'w' if size == 4 else 'd'}"
    helper.native_atomic = NativeAtomic("rmw", size, _NATIVE_OP[op])
    return _module_level(helper)


_AMO_HELPERS = {f"{op}.{s}": _amo_helper(op, 4 if s == "w" else 8) for op in _AMO for s in "wd"}


@trans(*_AMO_HELPERS)
def trans_amo(c, i):
    c.x[i.rd] = c.b.call(_AMO_HELPERS[i.name], c.x[i.rs1], c.x[i.rs2])
