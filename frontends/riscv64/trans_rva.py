"""Lifters for the A extension: LR/SC and AMOs, as helpers over guest memory.

LR records (address, size, value); SC succeeds when the reservation is for the
same address and size and memory still holds the value (the same compare-and-
swap view of LR/SC as QEMU's).  Misaligned atomics raise SIGBUS (BUS_ADRALN), as
the kernel does for the address-misaligned trap.

Guest threads share memory, and an atomic must also be atomic with respect to
another thread's plain store (a lock released by `sw` while another thread's
SC or AMO is between its load and its store must not be lost).  Guest threads
are host threads under CPython's lock, which changes hands only where the
interpreter checks for it (calls, function entry, backward jumps; never between
a subscript, an arithmetic operation and a store of the same statement).  So on
a page with store slots the load-op-store of an AMO and the compare-and-store
of an SC are written as one straight expression on the page's typed views,
with no call between load and store: no other guest thread runs in between.
Pages without store slots (read-only, translated code, shared file pages,
watched ranges, unmapped) take the checked path, under `atomic_lock` like the
rest, so atomics never interleave with each other.
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
    pg = addr >> 12
    pages = mem.pages
    pv = pages[pg] if pg < len(pages) else None
    if pv is None:
        return None
    if size == 4:
        w = getattr(pv, "wI", None)
        return None if w is None else (pv.I, w, addr >> 2)
    w = getattr(pv, "wQ", None)
    return None if w is None else (pv.Q, w, addr >> 3)


def lr(cpu, addr, size):
    _aligned(addr, size)
    with cpu.mem.atomic_lock:
        v = cpu.mem.load(addr, size)
    cpu.reservation = (addr, size, v)
    return _sext(v, size) & M64


def sc(cpu, addr, value, size):
    _aligned(addr, size)
    r, cpu.reservation = cpu.reservation, None
    mem = cpu.mem
    fast = _slots(mem, addr, size)
    with mem.atomic_lock:
        if fast is not None and r is not None and r[0] == addr and r[1] == size:
            view, w, i = fast
            if view[i] != r[2]:
                return 1
            w[i] = value & ((1 << (size * 8)) - 1)    # (no call between the compare and the store)
            return 0
        try:
            if r is None or r[0] != addr or r[1] != size:
                mem.load(addr, size)        # still faults on a bad address
                return 1
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
    if fast is None:
        with mem.atomic_lock:
            old = mem.load(addr, size)
            mem.store(addr, _AMO[op](old, v, size), size)
        return _sext(old, size) & M64
    view, w, i = fast
    k = _KIND[op]
    sb = 1 << (size * 8 - 1)
    sv = (v ^ sb) - sb
    with mem.atomic_lock:
        # the load, the op (_AMO's, in its key order) and the store with no call
        # and no backward jump between them (see the module's docstring)
        old = view[i]
        w[i] = (v if k == 0 else (old + v) & mask if k == 1 else old ^ v if k == 2 else
                old & v if k == 3 else old | v if k == 4 else
                (old if (old ^ sb) - sb <= sv else v) if k == 5 else
                (old if (old ^ sb) - sb >= sv else v) if k == 6 else
                (old if old <= v else v) if k == 7 else (old if old >= v else v))
    return _sext(old, size) & M64


def _size(name):
    return 4 if name.endswith(".w") else 8


@trans("lr.w", "lr.d")
def trans_lr(c, i):
    c.x[i.rd] = c.b.call(lr, c.x[i.rs1], _size(i.name))


@trans("sc.w", "sc.d")
def trans_sc(c, i):
    c.x[i.rd] = c.b.call(sc, c.x[i.rs1], c.x[i.rs2], _size(i.name))


def _amo_helper(op, size):
    def helper(cpu, addr, value):
        return amo(cpu, op, addr, value, size)
    helper.__name__ = f"{op}_{'w' if size == 4 else 'd'}"
    return helper


_AMO_HELPERS = {f"{op}.{s}": _amo_helper(op, 4 if s == "w" else 8) for op in _AMO for s in "wd"}


@trans(*_AMO_HELPERS)
def trans_amo(c, i):
    c.x[i.rd] = c.b.call(_AMO_HELPERS[i.name], c.x[i.rs1], c.x[i.rs2])
