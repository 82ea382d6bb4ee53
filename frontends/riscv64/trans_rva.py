"""Lifters for the A extension: LR/SC and AMOs, as helpers over guest memory.

LR records (address, size, value); SC succeeds when the reservation is for the
same address and size and memory still holds the value (the same compare-and-
swap view of LR/SC as QEMU's).  Misaligned atomics raise SIGBUS (BUS_ADRALN), as
the kernel does for the address-misaligned trap.

Guest threads share memory: every LR, SC and AMO runs under the memory's
`atomic_lock`, so two atomics never interleave (a thread switch may fall
between a helper's load and its store).
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
    with mem.atomic_lock:
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


def amo(cpu, op, addr, value, size):
    _aligned(addr, size)
    mask = (1 << (size * 8)) - 1
    mem = cpu.mem
    with mem.atomic_lock:
        old = mem.load(addr, size)
        mem.store(addr, _AMO[op](old, value & mask, size), size)
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
