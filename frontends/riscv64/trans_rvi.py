"""Lifters for RV64I, M, Zicsr and Zifencei (compressed forms arrive expanded).

The most common instructions (loads, stores, register and immediate ALU ops,
addiw, lui, auipc, jal, branches' operands) have lifters that append their ops to the block
directly instead of going through the Builder's operator overloading (V,
RegFile): lifting is most of translation's cost, and most blocks are made
for the interpreter tier, which runs them a few times only.  They emit the
very ops the Builder path does (`GENERIC` keeps that path for each of them;
tests/unit/test_lift_fast.py compares the two op for op).
"""
import time

from pydbt.errors import illegal as illegal_fault
from pydbt.builder import V
from pydbt.ir import Const, EVAL, Op, Temp, I64, eval_op, _cond
from .lift import TRANS, trans, illegal

M64 = (1 << 64) - 1

# --- upper immediates, jumps, branches -----------------------------------------


@trans("lui")
def trans_lui(c, i):
    c.x[i.rd] = c.b.const(i.imm)


@trans("auipc")
def trans_auipc(c, i):
    c.x[i.rd] = c.b.const(c.pc + i.imm)


@trans("jal")
def trans_jal(c, i):
    c.x[i.rd] = c.b.const(c.next_pc)
    c.jump((c.pc + i.imm) & M64)


@trans("jalr")
def trans_jalr(c, i):
    target = (c.x[i.rs1] + i.imm) & ~1
    c.x[i.rd] = c.b.const(c.next_pc)
    c.b.goto_ptr(target)
    c.end()


_BRANCH = {"beq": "eq", "bne": "ne", "blt": "lt", "bge": "ge", "bltu": "ltu", "bgeu": "geu"}


@trans(*_BRANCH)
def trans_branch(c, i):
    c.branch(_BRANCH[i.name], c.x[i.rs1], c.x[i.rs2], (c.pc + i.imm) & M64)


# --- loads and stores ---------------------------------------------------------------

_LOAD = {"lb": (1, True), "lh": (2, True), "lw": (4, True), "ld": (8, True),
         "lbu": (1, False), "lhu": (2, False), "lwu": (4, False)}
_STORE = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}


@trans(*_LOAD)
def trans_load(c, i):
    size, signed = _LOAD[i.name]
    c.x[i.rd] = c.b.ld(c.x[i.rs1] + i.imm, size, signed)


@trans(*_STORE)
def trans_store(c, i):
    c.b.st(c.x[i.rs1] + i.imm, c.x[i.rs2], _STORE[i.name])


# --- integer computation -------------------------------------------------------------

_ALU = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
    "sll": lambda a, b: a << b, "srl": lambda a, b: a >> b, "sra": lambda a, b: a.sar(b),
    "slt": lambda a, b: a.cmp("lt", b), "sltu": lambda a, b: a.cmp("ltu", b),
    "mul": lambda a, b: a * b, "mulh": lambda a, b: a.mulh(b),
    "mulhu": lambda a, b: a.mulhu(b), "mulhsu": lambda a, b: a.mulhsu(b),
    "div": lambda a, b: a.b.movcond("eq", b, 0, M64, a.div(b)),
    "divu": lambda a, b: a.b.movcond("eq", b, 0, M64, a.divu(b)),
    "rem": lambda a, b: a.rem(b),       # IR: x % 0 = x, MIN % -1 = 0, as RISC-V
    "remu": lambda a, b: a.remu(b),
}
_IMM = {"addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or",
        "andi": "and", "slli": "sll", "srli": "srl", "srai": "sra"}


@trans(*_ALU)
def trans_alu(c, i):
    c.x[i.rd] = _ALU[i.name](c.x[i.rs1], c.x[i.rs2])


@trans(*_IMM)
def trans_alu_imm(c, i):
    if i.rd == 0:
        return                    # HINTs and nop
    c.x[i.rd] = _ALU[_IMM[i.name]](c.x[i.rs1], i.imm & M64)


# 32-bit ops: compute on suitably extended inputs, sign-extend the low 32 bits.
_W = {
    "addw": lambda a, b: a + b, "subw": lambda a, b: a - b, "mulw": lambda a, b: a * b,
    "sllw": lambda a, b: a << (b & 31),
    "srlw": lambda a, b: a.zext32() >> (b & 31),
    "sraw": lambda a, b: a.sext32().sar(b & 31),
    "divw": lambda a, b: a.b.movcond("eq", b.sext32(), 0, M64, a.sext32().div(b.sext32())),
    "divuw": lambda a, b: a.b.movcond("eq", b.zext32(), 0, M64, a.zext32().divu(b.zext32())),
    "remw": lambda a, b: a.sext32().rem(b.sext32()),
    "remuw": lambda a, b: a.zext32().remu(b.zext32()),
}
_WIMM = {"addiw": "addw", "slliw": "sllw", "srliw": "srlw", "sraiw": "sraw"}


@trans(*_W)
def trans_alu_w(c, i):
    c.x[i.rd] = _W[i.name](c.x[i.rs1], c.x[i.rs2]).sext32()


@trans(*_WIMM)
def trans_alu_w_imm(c, i):
    if i.rd == 0:
        return
    c.x[i.rd] = _W[_WIMM[i.name]](c.x[i.rs1], c.b.const(i.imm & M64)).sext32()


# --- fast lifters (see the overview) ----------------------------------------------------

GENERIC = {}         # name -> the Builder-path lifter a fast one stands in for


def fast(generic, names):
    """Register a fast lifter for names, keeping `generic` in GENERIC."""
    def register(fn):
        for n in names:
            GENERIC[n] = generic
            TRANS[n] = fn
        return fn
    return register


def _src(block, ops, r):
    """x[r] as an IR value: a getreg's temp (RegFile's), or 0 for x0"""
    if r == 0:
        return Const(I64, 0)
    t = Temp(I64, block.ntemps)
    block.ntemps += 1
    ops.append(Op("getreg", I64, [t], [], (r,)))
    return t


def _pure(block, ops, name, a, b):
    """Builder.op(name, I64, a, b): folded when both are constants"""
    if a.__class__ is Const and b.__class__ is Const:
        return Const(I64, eval_op(name, I64, (), [a.value, b.value]))
    t = Temp(I64, block.ntemps)
    block.ntemps += 1
    ops.append(Op(name, I64, [t], [a, b]))
    return t


@fast(trans_load, _LOAD)
def fast_load(c, i):
    block = c.b.block
    ops = block.ops
    size, signed = _LOAD[i.name]
    addr = _pure(block, ops, "add", _src(block, ops, i.rs1), Const(I64, i.imm & M64))
    n = block.ntemps
    t = Temp(I64, n)
    block.ntemps = n + 1
    ops.append(Op("ld", I64, [t], [addr], (size, signed)))
    if i.rd:
        ops.append(Op("setreg", I64, [], [t], (i.rd,)))


@fast(trans_store, _STORE)
def fast_store(c, i):
    block = c.b.block
    ops = block.ops
    addr = _pure(block, ops, "add", _src(block, ops, i.rs1), Const(I64, i.imm & M64))
    ops.append(Op("st", I64, [], [addr, _src(block, ops, i.rs2)], (_STORE[i.name],)))


_FAST_ALU = {"add": "add", "sub": "sub", "and": "and", "or": "or", "xor": "xor",
             "sll": "shl", "srl": "shr", "sra": "sar", "mul": "mul"}


@fast(trans_alu, _FAST_ALU)
def fast_alu(c, i):
    block = c.b.block
    ops = block.ops
    v = _pure(block, ops, _FAST_ALU[i.name], _src(block, ops, i.rs1), _src(block, ops, i.rs2))
    if i.rd:
        ops.append(Op("setreg", I64, [], [v], (i.rd,)))


_FAST_IMM = {n: _FAST_ALU[op] for n, op in _IMM.items() if op in _FAST_ALU}


@fast(trans_alu_imm, _FAST_IMM)
def fast_alu_imm(c, i):
    rd = i.rd
    if rd == 0:
        return                    # HINTs and nop
    block = c.b.block
    ops = block.ops
    rs1 = i.rs1
    if rs1 == 0:
        v = Const(I64, eval_op(_FAST_IMM[i.name], I64, (), [0, i.imm & M64]))
    else:
        n = block.ntemps
        t = Temp(I64, n)
        v = Temp(I64, n + 1)
        block.ntemps = n + 2
        ops.append(Op("getreg", I64, [t], [], (rs1,)))
        ops.append(Op(_FAST_IMM[i.name], I64, [v], [t, Const(I64, i.imm & M64)]))
    ops.append(Op("setreg", I64, [], [v], (rd,)))


@fast(trans_alu_w_imm, ("addiw",))
def fast_addiw(c, i):
    if i.rd == 0:
        return
    block = c.b.block
    ops = block.ops
    v = _pure(block, ops, "add", _src(block, ops, i.rs1), Const(I64, i.imm & M64))
    if v.__class__ is Const:
        v = Const(I64, eval_op("ext32s", I64, (), [v.value]))
    else:
        t = Temp(I64, block.ntemps)
        block.ntemps += 1
        ops.append(Op("ext32s", I64, [t], [v]))
        v = t
    ops.append(Op("setreg", I64, [], [v], (i.rd,)))


@fast(trans_branch, _BRANCH)
def fast_branch(c, i):
    b = c.b
    block = b.block
    ops = block.ops
    c.branch(_BRANCH[i.name], V(b, _src(block, ops, i.rs1)), V(b, _src(block, ops, i.rs2)),
             (c.pc + i.imm) & M64)


@fast(trans_lui, ("lui",))
def fast_lui(c, i):
    if i.rd:
        c.b.block.ops.append(Op("setreg", I64, [], [Const(I64, i.imm)], (i.rd,)))


@fast(trans_auipc, ("auipc",))
def fast_auipc(c, i):
    if i.rd:
        c.b.block.ops.append(Op("setreg", I64, [], [Const(I64, c.pc + i.imm)], (i.rd,)))


@fast(trans_jal, ("jal",))
def fast_jal(c, i):
    if i.rd:
        c.b.block.ops.append(Op("setreg", I64, [], [Const(I64, c.next_pc)], (i.rd,)))
    c.follow = (c.pc + i.imm) & M64


# --- fast runners: the same instructions run at once (translate.run) ----------------
#
# A cold run (translate.run) lifts each instruction into a running builder
# (builder.Running); for the commonest ones these do what that does with no
# builder values in between: the same ops' semantics (ir.EVAL), the same order
# of effects (tests/unit/test_run_fast.py compares each with its lifter run).
# x0 is never written, so regs[0] reads 0.

RUNNERS = {}         # name -> a runner standing in for its Builder-path lifter in a cold run


def fast_run(names):
    def register(fn):
        for n in names:
            RUNNERS[n] = fn
        return fn
    return register


_ADD = EVAL["add"]
_EXT32S = EVAL["ext32s"]


@fast_run(_FAST_IMM)
def run_alu_imm(c, i):
    if i.rd:
        regs = c.regs
        regs[i.rd] = EVAL[_FAST_IMM[i.name]](I64, regs[i.rs1], i.imm & M64) & M64


@fast_run(_FAST_ALU)
def run_alu(c, i):
    if i.rd:
        regs = c.regs
        regs[i.rd] = EVAL[_FAST_ALU[i.name]](I64, regs[i.rs1], regs[i.rs2]) & M64


@fast_run(("addiw",))
def run_addiw(c, i):
    if i.rd:
        regs = c.regs
        regs[i.rd] = _EXT32S(I64, _ADD(I64, regs[i.rs1], i.imm & M64) & M64) & M64


@fast_run(_LOAD)
def run_load(c, i):
    size, signed = _LOAD[i.name]
    regs = c.regs
    v = c.mem.load(_ADD(I64, regs[i.rs1], i.imm & M64) & M64, size, signed) & M64
    if i.rd:
        regs[i.rd] = v


@fast_run(_STORE)
def run_store(c, i):
    regs = c.regs
    c.mem.store(_ADD(I64, regs[i.rs1], i.imm & M64) & M64, regs[i.rs2], _STORE[i.name])


@fast_run(_BRANCH)
def run_branch(c, i):
    regs = c.regs
    c.follow = (c.pc + i.imm) & M64 if _cond(_BRANCH[i.name], regs[i.rs1], regs[i.rs2], I64) else c.next_pc


@fast_run(("lui",))
def run_lui(c, i):
    if i.rd:
        c.regs[i.rd] = i.imm & M64


@fast_run(("auipc",))
def run_auipc(c, i):
    if i.rd:
        c.regs[i.rd] = (c.pc + i.imm) & M64


@fast_run(("jal",))
def run_jal(c, i):
    if i.rd:
        c.regs[i.rd] = c.next_pc & M64
    c.follow = (c.pc + i.imm) & M64


# --- system -------------------------------------------------------------------------------


@trans("ecall")
def trans_ecall(c, i):
    c.b.exception("syscall", c.pc, c.next_pc)
    c.end()


@trans("ebreak")
def trans_ebreak(c, i):
    c.b.exception("breakpoint", c.pc, c.next_pc)
    c.end()


@trans("fence")
def trans_fence(c, i):
    c.b.mb()


@trans("fence.i")
def trans_fence_i(c, i):
    # Stores to pages holding translations already invalidated them (the CODE
    # page bit); ending the block makes the next instruction fetch see new code.
    c.b.goto_tb(c.next_pc)
    c.end()


# --- Zicsr ------------------------------------------------------------------------------

CSR_FFLAGS, CSR_FRM, CSR_FCSR = 0x001, 0x002, 0x003
CSR_CYCLE, CSR_TIME, CSR_INSTRET = 0xC00, 0xC01, 0xC02
_COUNTERS = (CSR_CYCLE, CSR_TIME, CSR_INSTRET)
_T0 = time.monotonic_ns()
TIMEBASE_HZ = 10_000_000            # the time CSR's rate, as common boards' (riscv_hwprobe tells it)


def _counter(cpu, csr):
    ns = time.monotonic_ns() - _T0
    if csr == CSR_TIME:
        return ns // (1_000_000_000 // TIMEBASE_HZ)
    return ns                       # cycle, instret: monotonic, like QEMU's host ticks


def csr_access(cpu, csr, op, src):
    """op 0: write src; 1: set bits; 2: clear bits; 3: read only.  Returns the old value."""
    if csr in _COUNTERS:
        if op != 3:
            raise illegal_fault()
        return _counter(cpu, csr)
    if csr == CSR_FFLAGS:
        old = cpu.fflags
    elif csr == CSR_FRM:
        old = cpu.frm
    else:
        old = (cpu.frm << 5) | cpu.fflags
    new = src if op == 0 else old | src if op == 1 else old & ~src if op == 2 else old
    if op != 3:
        if csr == CSR_FFLAGS:
            cpu.fflags = new & 0x1f
        elif csr == CSR_FRM:
            cpu.frm = new & 7
        else:
            cpu.fflags, cpu.frm = new & 0x1f, (new >> 5) & 7
    return old


_CSR = {"csrrw": 0, "csrrs": 1, "csrrc": 2, "csrrwi": 0, "csrrsi": 1, "csrrci": 2}


@trans(*_CSR)
def trans_csr(c, i):
    if i.csr not in (CSR_FFLAGS, CSR_FRM, CSR_FCSR) + _COUNTERS:
        return illegal(c)
    op = _CSR[i.name]
    src = c.b.const(i.imm) if i.name.endswith("i") else c.x[i.rs1]
    if op != 0 and (i.imm == 0 if i.name.endswith("i") else i.rs1 == 0):
        op = 3                        # csrrs/csrrc with x0 / 0 do not write
    old = c.b.call(csr_access, i.csr, op, src)
    c.x[i.rd] = old
