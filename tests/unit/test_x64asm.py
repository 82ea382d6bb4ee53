"""backends/x64asm.py against capstone's disassembly.

Each case encodes one instruction and checks that capstone decodes exactly the
bytes emitted (one instruction, all of them consumed) to the text the test
writes itself (register names, `ptr` sizes, address formatting); immediates are
compared as values modulo 2**w (capstone prints them signed or unsigned
depending on the form).  Jumps are checked by the target capstone computes,
relocations by where the imm64 lies.
"""
import ctypes
import math
import mmap
import platform
import struct

import capstone
import pytest

from pydbt.backends import x64asm as X
from pydbt.backends.x64asm import (Asm, mem, Reg, RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
                                   R8, R9, R12, R13, R15)

MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)

R64 = "rax rcx rdx rbx rsp rbp rsi rdi".split() + ["r%d" % i for i in range(8, 16)]
R32 = "eax ecx edx ebx esp ebp esi edi".split() + ["r%dd" % i for i in range(8, 16)]
R16 = "ax cx dx bx sp bp si di".split() + ["r%dw" % i for i in range(8, 16)]
R8N = "al cl dl bl spl bpl sil dil".split() + ["r%db" % i for i in range(8, 16)]
RN = {8: R8N, 16: R16, 32: R32, 64: R64}
PTR = {8: "byte ptr ", 16: "word ptr ", 32: "dword ptr ", 64: "qword ptr "}
REGS = [Reg(i) for i in range(16)]
WIDTHS = (8, 16, 32, 64)
CCS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
ALIASES = {"z": "e", "nz": "ne", "c": "b", "nc": "ae"}
DISPS = (0, 1, 9, 10, 127, 128, -1, -128, -129, 2**31 - 1, -2**31)
EDGE_IMMS = (0, 1, 127, 128, -128, -129, 255, 256, 2**15, -2**15 - 1, 2**16, 2**31 - 1, -2**31, -2**31 - 1,
             2**32 - 1, 2**32, 2**63, -1, 2**64 - 1, 2**64 - 2**31, 2**64 - 2**31 - 1, 2**64)


def _num(v):
    return str(v) if v < 10 else hex(v)


def mtext(base, index=None, scale=1, disp=0):
    s = R64[base] if base is not None else ""
    if index is not None:
        t = R64[index] if scale == 1 else "%s*%d" % (R64[index], scale)
        s = "%s + %s" % (s, t) if s else t
    if not s:
        return "[%s]" % _num(disp % 2**64)
    if disp > 0:
        s += " + " + _num(disp)
    elif disp < 0:
        s += " - " + _num(-disp)
    return "[%s]" % s


def dis1(code):
    """the one instruction capstone decodes from code, which must use every byte"""
    insns = list(MD.disasm(code, 0))
    assert len(insns) == 1, (code.hex(), [(i.mnemonic, i.op_str) for i in insns])
    assert insns[0].size == len(code), (code.hex(), insns[0].size)
    i = insns[0]
    return (i.mnemonic + " " + i.op_str).strip()


def enc(f):
    a = Asm()
    f(a)
    return a.finish()


def check(f, text, imm=None, w=64):
    """f encodes one instruction whose text is `text`, followed by `, imm` when imm is given"""
    code = enc(f)
    got = dis1(code)
    if imm is None:
        assert got == text, code.hex()
    else:
        head, _, last = got.rpartition(", ")
        assert head == text, (got, code.hex())
        assert int(last, 0) % 2**w == imm % 2**w, (got, code.hex())
    return code


def fits(v, w):
    return -(1 << (w - 1)) <= v < (1 << w)


def imm_ok(v, w):
    """an immediate that the op-with-immediate forms of width w take"""
    if w == 64:
        if not -2**63 <= v < 2**64:
            return False
        v = v - 2**64 if v >= 2**63 else v
        return -2**31 <= v < 2**31
    return fits(v, w)


# -- memory operands ----------------------------------------------------------

def test_mem_sweep_every_base_index_scale_disp():
    n = 0
    for base in [None] + REGS:
        for index in [None] + [r for r in REGS if r != RSP]:
            for scale in (1, 2, 4, 8):
                if index is None and scale != 1:
                    continue
                for disp in DISPS:
                    r = REGS[n % 16]
                    n += 1
                    m = mem(base, index, scale, disp)
                    t = mtext(base, index, scale, disp)
                    check(lambda a: a.mov(r, m), "mov %s, qword ptr %s" % (R64[r], t))
                    check(lambda a: a.lea(r, m), "lea %s, %s" % (R64[r], t))
    assert n > 2000


def test_mem_disp_sizes():
    # disp8 when it fits, nothing when 0 (but RBP/R13 need a disp8 0), RSP/R12 need a SIB
    assert len(enc(lambda a: a.mov(RAX, mem(RAX)))) == 3
    assert len(enc(lambda a: a.mov(RAX, mem(RBP)))) == 4
    assert len(enc(lambda a: a.mov(RAX, mem(R13)))) == 4
    assert len(enc(lambda a: a.mov(RAX, mem(RSP)))) == 4
    assert len(enc(lambda a: a.mov(RAX, mem(R12, None, 1, 8)))) == 5
    assert len(enc(lambda a: a.mov(RAX, mem(RAX, None, 1, -128)))) == 4
    assert len(enc(lambda a: a.mov(RAX, mem(RAX, None, 1, 128)))) == 7
    assert len(enc(lambda a: a.mov(RAX, mem(RAX, RCX, 8, 127)))) == 5


def test_mem_errors():
    with pytest.raises(ValueError):
        mem(RAX, RSP)
    with pytest.raises(ValueError):
        mem(RAX, RCX, 3)
    with pytest.raises(ValueError):
        mem(RAX, None, 1, 2**31)
    with pytest.raises(ValueError):
        mem(RAX, None, 1, -2**31 - 1)
    with pytest.raises(ValueError):
        mem(16)
    for f in (lambda a: a.mov(mem(RAX), mem(RCX)),
              lambda a: a.alu("add", mem(RAX), mem(RCX)),
              lambda a: a.test(mem(RAX), mem(RCX))):
        with pytest.raises(ValueError):
            f(Asm())


# -- moves --------------------------------------------------------------------

def test_mov_reg_reg_every_width():
    for w in WIDTHS:
        for d in REGS:
            for s in REGS:
                check(lambda a: a.mov(d, s, w), "mov %s, %s" % (RN[w][d], RN[w][s]))


def test_mov_load_store_every_width():
    mems = [(RAX, None, 1, 0), (R12, None, 1, 8), (RBP, R13, 4, -300), (R13, None, 1, 0), (None, RSI, 2, 64)]
    for w in WIDTHS:
        for r in REGS:
            for spec in mems:
                m = mem(*spec)
                t = PTR[w] + mtext(*spec)
                check(lambda a: a.mov(r, m, w), "mov %s, %s" % (RN[w][r], t))
                check(lambda a: a.mov(m, r, w), "mov %s, %s" % (t, RN[w][r]))


def test_mov_imm_reg_loads_exactly_and_shortest():
    imms = EDGE_IMMS + (2**31, 2**32, -2**31 - 1, 0x123456789A, -0x123456789A, 0xFFFFFFFF80000000)
    for w in WIDTHS:
        mask = (1 << w) - 1
        for r in REGS:
            for imm in imms:
                code = enc(lambda a: a.mov_imm(r, imm, w))
                text = dis1(code)
                mn, _, ops = text.partition(" ")
                name, _, val = ops.partition(", ")
                val = int(val, 0)
                assert mn in ("mov", "movabs"), text
                if w == 64 and name == R32[r]:          # mov r32 zero-extends
                    loaded = val & 0xFFFFFFFF
                else:
                    assert name == RN[w][r], text
                    loaded = val & mask
                assert loaded == imm & mask, (text, imm)
                if w == 64:
                    v = imm & mask
                    rex = 1 if r >= 8 else 0
                    if v < 2**32:
                        assert len(code) == 5 + rex and name == R32[r], text
                    elif v >= 2**64 - 2**31:
                        assert len(code) == 7 and mn == "mov", text
                    else:
                        assert len(code) == 10 and mn == "movabs", text


def test_mov_imm_keeps_flags_never_xor():
    for r in REGS:
        code = enc(lambda a: a.mov_imm(r, 0))
        assert dis1(code).startswith("mov "), code.hex()


def test_mov_imm_mem():
    spec = (R12, None, 1, 8)
    m = mem(*spec)
    for w in WIDTHS:
        for imm in EDGE_IMMS:
            ok = imm_ok(imm, w) if w == 64 else fits(imm, w)
            if ok:
                check(lambda a: a.mov_imm(m, imm, w), "mov %s%s" % (PTR[w], mtext(*spec)), imm, w)
            elif w == 64:
                with pytest.raises(ValueError):
                    Asm().mov_imm(m, imm, w)


def test_movabs_sym_reloc_points_at_imm64():
    for r in REGS:
        a = Asm()
        a.int3()
        a.movabs_sym(r, "helper_%d" % r)
        code = a.finish()
        ((off, size, name, addend),) = a.relocs
        assert (size, addend) == (8, 0)
        assert name == "helper_%d" % r
        assert off == len(code) - 8 and code[off:] == bytes(8)
        assert dis1(code[1:]) == "movabs %s, 0" % R64[r]
        patched = code[1:off] + (0x1122334455667788).to_bytes(8, "little")
        assert dis1(patched) == "movabs %s, 0x1122334455667788" % R64[r]


def test_load_every_size_sign_width():
    spec = (RBX, R9, 8, -16)
    m = mem(*spec)
    t = mtext(*spec)
    for r in REGS:
        for w in (32, 64):
            rn = RN[w][r]
            check(lambda a: a.load(r, m, 1, False, w), "movzx %s, byte ptr %s" % (R32[r], t))
            check(lambda a: a.load(r, m, 1, True, w), "movsx %s, byte ptr %s" % (rn, t))
            check(lambda a: a.load(r, m, 2, False, w), "movzx %s, word ptr %s" % (R32[r], t))
            check(lambda a: a.load(r, m, 2, True, w), "movsx %s, word ptr %s" % (rn, t))
            check(lambda a: a.load(r, m, 4, False, w), "mov %s, dword ptr %s" % (R32[r], t))
            check(lambda a: a.load(r, m, 4, True, w),
                  ("movsxd %s, dword ptr %s" if w == 64 else "mov %s, dword ptr %s") % (rn, t))
        check(lambda a: a.load(r, m, 8), "mov %s, qword ptr %s" % (R64[r], t))
    with pytest.raises(ValueError):
        Asm().load(RAX, m, 8, False, 32)
    with pytest.raises(ValueError):
        Asm().load(RAX, m, 3)


def test_movx_every_register():
    for d in REGS:
        for s in REGS:
            for w in (32, 64):
                rn = RN[w][d]
                check(lambda a: a.movx(d, s, 1, False, w), "movzx %s, %s" % (R32[d], R8N[s]))
                check(lambda a: a.movx(d, s, 1, True, w), "movsx %s, %s" % (rn, R8N[s]))
                check(lambda a: a.movx(d, s, 2, False, w), "movzx %s, %s" % (R32[d], R16[s]))
                check(lambda a: a.movx(d, s, 2, True, w), "movsx %s, %s" % (rn, R16[s]))
                check(lambda a: a.movx(d, s, 4, False, w), "mov %s, %s" % (R32[d], R32[s]))
                check(lambda a: a.movx(d, s, 4, True, w),
                      ("movsxd %s, %s" if w == 64 else "mov %s, %s") % (rn, R32[s]))


# -- arithmetic ---------------------------------------------------------------

ALU_OPS = ("add", "or", "adc", "sbb", "and", "sub", "xor", "cmp")


def test_alu_reg_reg():
    for op in ALU_OPS:
        for w in WIDTHS:
            for d in REGS:
                for s in REGS:
                    check(lambda a: a.alu(op, d, s, w), "%s %s, %s" % (op, RN[w][d], RN[w][s]))


def test_alu_reg_mem_and_mem_reg():
    spec = (R13, RBP, 2, 200)
    m = mem(*spec)
    for op in ALU_OPS:
        for w in WIDTHS:
            t = PTR[w] + mtext(*spec)
            for r in REGS:
                check(lambda a: a.alu(op, r, m, w), "%s %s, %s" % (op, RN[w][r], t))
                check(lambda a: a.alu(op, m, r, w), "%s %s, %s" % (op, t, RN[w][r]))


def test_alu_imm_every_edge():
    m = mem(RSP, None, 1, 16)
    for op in ALU_OPS:
        for w in WIDTHS:
            for d in REGS:
                for imm in EDGE_IMMS:
                    if not imm_ok(imm, w):
                        with pytest.raises(ValueError):
                            Asm().alu(op, d, imm, w)
                        continue
                    code = check(lambda a: a.alu(op, d, imm, w), "%s %s" % (op, RN[w][d]), imm, w)
                    s = imm % 2**w
                    s = s - 2**w if s >= 2**(w - 1) else s
                    pfx = (w == 16) + (w == 64 or d >= 8 or (w == 8 and 4 <= d < 8))
                    if w == 8:
                        size = 2 if d == RAX else 3
                    elif -128 <= s <= 127:
                        size = 3
                    else:
                        size = (1 if d == RAX else 2) + (2 if w == 16 else 4)
                    assert len(code) == pfx + size, (op, w, d, imm, code.hex())
            for imm in (0, -1, 100, -1000):
                if not fits(imm, w):
                    continue
                check(lambda a: a.alu(op, m, imm, w), "%s %s[rsp + 0x10]" % (op, PTR[w]), imm, w)


def test_alu_register_constant_is_not_an_immediate():
    # a Reg is a register, a plain int an immediate
    assert dis1(enc(lambda a: a.alu("add", RAX, RCX))) == "add rax, rcx"
    assert dis1(enc(lambda a: a.alu("add", RAX, 1))) == "add rax, 1"
    assert dis1(enc(lambda a: a.test(RAX, RDX))) == "test rax, rdx"
    assert dis1(enc(lambda a: a.test(RAX, 2))) == "test rax, 2"
    assert dis1(enc(lambda a: a.mov(RAX, 1))) == "mov rax, rcx"   # mov's src is always a register


def test_test_forms():
    spec = (RDI, None, 1, -8)
    m = mem(*spec)
    for w in WIDTHS:
        t = PTR[w] + mtext(*spec)
        for a_ in REGS:
            for b in REGS:
                check(lambda a: a.test(a_, b, w), "test %s, %s" % (RN[w][a_], RN[w][b]))
            check(lambda a: a.test(m, a_, w), "test %s, %s" % (t, RN[w][a_]))
            check(lambda a: a.test(a_, m, w), "test %s, %s" % (t, RN[w][a_]))
            for imm in (0, 1, 127, 128, -1, 2**31 - 1, -2**31):
                if imm_ok(imm, w):
                    check(lambda a: a.test(a_, imm, w), "test %s" % RN[w][a_], imm, w)
        check(lambda a: a.test(m, 0x55, w), "test %s" % t, 0x55, w)
    with pytest.raises(ValueError):
        Asm().test(RAX, 2**32 - 1)


def test_shift_every_op_count():
    m = mem(RAX, RBX, 4, 1000)
    for op in ("rol", "ror", "shl", "shr", "sar"):
        for w in WIDTHS:
            for d in REGS:
                check(lambda a: a.shift(op, d, "cl", w), "%s %s, cl" % (op, RN[w][d]))
                for c in (0, 1, 2, 31, 63, 255):
                    check(lambda a: a.shift(op, d, c, w), "%s %s" % (op, RN[w][d]), c, 8)
            check(lambda a: a.shift(op, m, 3, w), "%s %s%s" % (op, PTR[w], mtext(RAX, RBX, 4, 1000)), 3, 8)
            check(lambda a: a.shift(op, m, "cl", w), "%s %s%s, cl" % (op, PTR[w], mtext(RAX, RBX, 4, 1000)))
    with pytest.raises(ValueError):
        Asm().shift("shl", RAX, 256)
    with pytest.raises(ValueError):
        Asm().shift("shl", RAX, RCX)


def test_unary_group():
    spec = (R15, R8, 1, -5)
    m = mem(*spec)
    for op in ("not", "neg", "mul", "imul", "div", "idiv"):
        for w in WIDTHS:
            for d in REGS:
                check(lambda a: a.unary(op, d, w), "%s %s" % (op, RN[w][d]))
            check(lambda a: a.unary(op, m, w), "%s %s%s" % (op, PTR[w], mtext(*spec)))


def test_imul_bitops_cmov():
    spec = (RSP, RBP, 8, 0)
    m = mem(*spec)
    for w in (16, 32, 64):
        t = PTR[w] + mtext(*spec)
        for d in REGS:
            for s in REGS:
                check(lambda a: a.imul(d, s, w), "imul %s, %s" % (RN[w][d], RN[w][s]))
                for op in ("bsf", "bsr", "popcnt", "lzcnt", "tzcnt"):
                    check(lambda a: a.bitop(op, d, s, w), "%s %s, %s" % (op, RN[w][d], RN[w][s]))
            check(lambda a: a.imul(d, m, w), "imul %s, %s" % (RN[w][d], t))
            for op in ("bsf", "bsr", "popcnt", "lzcnt", "tzcnt"):
                check(lambda a: a.bitop(op, d, m, w), "%s %s, %s" % (op, RN[w][d], t))
            for cc in CCS:
                check(lambda a: a.cmov(cc, d, RSI, w), "cmov%s %s, %s" % (cc, RN[w][d], RN[w][RSI]))
                check(lambda a: a.cmov(cc, d, m, w), "cmov%s %s, %s" % (cc, RN[w][d], t))


def test_setcc_every_cc_and_register():
    for cc in CCS + list(ALIASES):
        name = ALIASES.get(cc, cc)
        for d in REGS:
            check(lambda a: a.setcc(cc, d), "set%s %s" % (name, R8N[d]))


def test_misc_one_byte_and_fixed():
    check(lambda a: a.cqo(), "cqo")
    check(lambda a: a.cdq(), "cdq")
    check(lambda a: a.ret(), "ret")
    check(lambda a: a.mfence(), "mfence")
    check(lambda a: a.ud2(), "ud2")
    check(lambda a: a.int3(), "int3")
    for r in REGS:
        check(lambda a: a.push(r), "push %s" % R64[r])
        check(lambda a: a.pop(r), "pop %s" % R64[r])
        check(lambda a: a.jmp(r), "jmp %s" % R64[r])
        check(lambda a: a.call(r), "call %s" % R64[r])
    for spec in ((RAX, None, 1, 0), (R12, RCX, 8, 24), (RSP, None, 1, -8)):
        check(lambda a: a.jmp(mem(*spec)), "jmp qword ptr %s" % mtext(*spec))
        check(lambda a: a.call(mem(*spec)), "call qword ptr %s" % mtext(*spec))


def test_atomics():
    spec = (RDI, RSI, 8, 0)
    m = mem(*spec)
    for w in WIDTHS:
        t = PTR[w] + mtext(*spec)
        for r in REGS:
            check(lambda a: a.xchg(m, r, w), "xchg %s, %s" % (t, RN[w][r]))
            check(lambda a: a.lock_xadd(m, r, w), "lock xadd %s, %s" % (t, RN[w][r]))
            check(lambda a: a.lock_cmpxchg(m, r, w), "lock cmpxchg %s, %s" % (t, RN[w][r]))
            for op in ("add", "or", "and", "xor", "sub"):
                check(lambda a: a.lock_alu(op, m, r, w), "lock %s %s, %s" % (op, t, RN[w][r]))
    with pytest.raises(ValueError):
        Asm().lock_alu("cmp", m, RAX)
    with pytest.raises(ValueError):
        Asm().xchg(RAX, RCX)
    a = Asm()
    with pytest.raises(ValueError):
        a.lock_xadd(RAX, RCX)
    assert a.code == bytearray()        # nothing half-emitted


# -- jumps and labels ---------------------------------------------------------

def targets(code, start, count):
    """[(offset, mnemonic, target)] of the jumps among the `count` instructions at code[start:]"""
    out = []
    for i in MD.disasm(code[start:], start, count):
        if i.mnemonic.startswith("j"):
            out.append((i.address, i.mnemonic, int(i.op_str, 0)))
    return out


@pytest.mark.parametrize("gap", [0, 1, 100, 125, 126, 127, 128, 129, 300, 70000])
def test_jumps_forward_and_backward_reach_labels(gap):
    for cc in CCS + list(ALIASES) + [None]:
        a = Asm()
        back = a.label()
        a.bind(back)
        a.code += b"\x90" * gap
        fwd = a.label()
        at1 = a.here()
        if cc is None:
            a.jmp(back)
            a.jmp(fwd)
        else:
            a.jcc(cc, back)
            a.jcc(cc, fwd)
        a.code += b"\x90" * gap
        a.bind(fwd)
        a.ret()
        code = a.finish()
        js = targets(code, at1, 2)
        name = "jmp" if cc is None else "j" + ALIASES.get(cc, cc)
        assert [(m, t) for _, m, t in js] == [(name, 0), (name, a.offset(fwd))]
        assert js[0][0] == at1
        first = js[1][0] - at1                    # the backward jump's length
        short = gap + 2 <= 128
        assert first == (2 if short else (5 if cc is None else 6)), (cc, gap, first)


def test_label_errors():
    a = Asm()
    lab = a.label()
    a.bind(lab)
    with pytest.raises(ValueError):
        a.bind(lab)
    b = Asm()
    never = b.label()
    b.jcc("e", never)
    with pytest.raises(ValueError):
        b.finish()
    c = Asm()
    with pytest.raises(ValueError):
        c.offset(c.label())


def test_here_and_offset():
    a = Asm()
    a.mov(RAX, RCX)
    assert a.here() == 3
    lab = a.label()
    a.bind(lab)
    assert a.offset(lab) == 3
    a.jmp(lab)
    assert a.finish() == bytes.fromhex("4889c8ebfe")


def test_register_constants():
    assert (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI) == tuple(range(8))
    assert (X.R8, X.R15) == (8, 15)
    assert repr(R12) == "r12"
    assert type(mem(RAX)) is tuple


# -- running the code: the CPU as the oracle ------------------------------------

needs_x64 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 host")
SAVED = (RBX, RBP, R12, R13, X.R14, R15)       # callee-saved under the SysV ABI


class Runner:
    """one RWX page that each call overwrites with a function(rdi, rsi, rdx) -> rax"""
    def __init__(self):
        self.m = mmap.mmap(-1, 1 << 16, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.m))
        proto = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)
        self.fn = proto(self.addr)

    def __call__(self, body, rdi=0, rsi=0, rdx=0):
        a = Asm()
        for r in SAVED:
            a.push(r)
        body(a)
        for r in reversed(SAVED):
            a.pop(r)
        a.ret()
        code = a.finish()
        self.m[:len(code)] = code
        return self.fn(rdi, rsi, rdx)


@pytest.fixture(scope="module")
def run():
    return Runner()


M64 = 2**64 - 1
PRE = 0x1122334455667788


@needs_x64
def test_run_mov_imm_writes_exactly_its_width(run):
    for r in REGS:
        if r == RSP:
            continue
        for w in WIDTHS:
            mask = (1 << w) - 1
            for imm in EDGE_IMMS + (0x123456789A, -0x123456789A):
                def body(a):
                    a.mov_imm(r, PRE)
                    a.mov_imm(r, imm, w)
                    a.mov(RAX, r)
                want = (imm & mask) if w >= 32 else (PRE & ~mask & M64) | (imm & mask)
                assert run(body) == want, (R64[r], w, imm)


def _sx(v):
    return v - 2**64 if v >= 2**63 else v


def _flags_pred(cc, x, y):
    d = (x - y) & M64
    return {"e": x == y, "ne": x != y, "b": x < y, "ae": x >= y, "be": x <= y, "a": x > y,
            "l": _sx(x) < _sx(y), "ge": _sx(x) >= _sx(y), "le": _sx(x) <= _sx(y), "g": _sx(x) > _sx(y),
            "s": d >= 2**63, "ns": d < 2**63,
            "o": not -2**63 <= _sx(x) - _sx(y) < 2**63, "no": -2**63 <= _sx(x) - _sx(y) < 2**63,
            "p": bin(d & 0xFF).count("1") % 2 == 0, "np": bin(d & 0xFF).count("1") % 2 == 1}[cc]


@needs_x64
def test_run_every_condition_code(run):
    vals = (0, 1, 2, 2**63 - 1, 2**63, M64, 0x80, 0x7F)
    for cc in CCS + list(ALIASES):
        name = ALIASES.get(cc, cc)

        def by_setcc(a):
            a.mov_imm(RAX, PRE)
            a.alu("cmp", RDI, RSI)
            a.setcc(cc, RAX)
            a.movx(RAX, RAX, 1, False)

        def by_jcc(a):
            yes, done = a.label(), a.label()
            a.alu("cmp", RDI, RSI)
            a.jcc(cc, yes)
            a.mov_imm(RAX, 0)
            a.jmp(done)
            a.bind(yes)
            a.mov_imm(RAX, 1)
            a.bind(done)

        def by_cmov(a):
            a.mov_imm(RAX, 0)
            a.mov_imm(RCX, 1)
            a.alu("cmp", RDI, RSI)
            a.cmov(cc, RAX, RCX)
        for x in vals:
            for y in vals:
                want = int(_flags_pred(name, x, y))
                for body in (by_setcc, by_jcc, by_cmov):
                    assert run(body, x, y) == want, (cc, x, y, body.__name__)


@needs_x64
def test_run_loops_and_long_jumps(run):
    def body(a):                    # rax = sum(1..rdi), a backward jcc over a long body
        top, out = a.label(), a.label()
        a.mov_imm(RAX, 0)
        a.bind(top)
        a.test(RDI, RDI)
        a.jcc("e", out)
        a.alu("add", RAX, RDI)
        for _ in range(40):         # 40 x 3 bytes of no-ops: the backward jump needs rel32
            a.mov(RCX, RCX)
        a.alu("sub", RDI, 1)
        a.jmp(top)
        a.bind(out)
    assert run(body, 1000) == 500500


@needs_x64
def test_run_loads_extend(run):
    buf = (ctypes.c_uint8 * 16)(*[0x80, 0xFF, 0x7F, 0x01, 0xFE, 0xFF, 0xFF, 0xFF,
                                  0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])
    raw = bytes(buf)
    base = ctypes.addressof(buf)
    for off in range(0, 8):
        for size in (1, 2, 4, 8):
            for signed in (False, True):
                for w in (32, 64):
                    if size == 8 and w == 32:
                        continue
                    v = int.from_bytes(raw[off:off + size], "little", signed=signed) & ((1 << w) - 1)
                    for r in (RAX, RCX, R12):   # (not RDI/RSI: the address)
                        def body(a):
                            a.mov_imm(r, PRE)
                            a.load(r, mem(RDI, RSI, 1, 0), size, signed, w)
                            a.mov(RAX, r)
                        assert run(body, base, off) == v, (off, size, signed, w, R64[r])
                        def body2(a):
                            a.mov_imm(r, PRE)
                            a.mov(RBP, mem(RDI, RSI, 1, 0))      # BPL needs a REX
                            a.movx(r, RBP, size, signed, w) if size < 8 else a.mov(r, RBP)
                            a.mov(RAX, r)
                        assert run(body2, base, off) == v, (off, size, signed, w, R64[r])


@needs_x64
def test_run_mul_div_shift(run):
    def mulhi(a):
        a.mov(RAX, RDI)
        a.unary("mul", RSI)
        a.mov(RAX, RDX)
    def sdiv(a):
        a.mov(RAX, RDI)
        a.cqo()
        a.unary("idiv", RSI)
    def sar_cl(a):
        a.mov(RAX, RDI)
        a.mov(RCX, RSI)
        a.shift("sar", RAX, "cl")
    for x in (1, 7, 2**63 - 1, M64 - 5, 123456789123):
        for y in (1, 3, 2**40 + 1, M64):
            assert run(mulhi, x, y) == (x * y) >> 64
            q = abs(_sx(x)) // abs(_sx(y)) * (1 if (_sx(x) < 0) == (_sx(y) < 0) else -1)
            assert run(sdiv, x, y) == q & M64
        for c in (0, 1, 5, 63):
            assert run(sar_cl, x, c) == (_sx(x) >> c) & M64


def test_imul_imm_and_lea32():
    spec = (RBX, R12, 2, 40)
    m = mem(*spec)
    for w in (16, 32, 64):
        for d in REGS:
            for s in (RAX, RSP, RBP, R13):
                for imm in (0, 3, -128, 127, 128, -129, 1000, 2**31 - 1, -2**31, 2**32 - 1):
                    if not imm_ok(imm, w):
                        with pytest.raises(ValueError):
                            Asm().imul_imm(d, s, imm, w)
                        continue
                    code = check(lambda a: a.imul_imm(d, s, imm, w), "imul %s, %s" % (RN[w][d], RN[w][s]), imm, w)
                    sv = imm % 2**w
                    sv = sv - 2**w if sv >= 2**(w - 1) else sv
                    body = 1 if -128 <= sv <= 127 else (2 if w == 16 else 4)
                    pfx = (w == 16) + (w == 64 or d >= 8 or s >= 8)
                    assert len(code) == pfx + 2 + body, code.hex()
            check(lambda a: a.imul_imm(d, m, 5, w), "imul %s, %s%s" % (RN[w][d], PTR[w], mtext(*spec)), 5, w)
    for d in REGS:
        check(lambda a: a.lea(d, m, 32), "lea %s, %s" % (R32[d], mtext(*spec)))
    with pytest.raises(ValueError):
        Asm().lea(RAX, m, 16)


@needs_x64
def test_run_imul_imm_and_lea32(run):
    for x in (1, 3, 2**32 + 7, M64, 2**63):
        for imm in (-1, 5, 1000, -2**31):
            def body(a):
                a.imul_imm(R13, RDI, imm)
                a.mov(RAX, R13)
            assert run(body, x) == (x * imm) & M64

            def body32(a):
                a.mov_imm(RAX, PRE)
                a.lea(RAX, mem(RDI, RSI, 4, -8), 32)
            assert run(body32, x, imm & M64) == (x + 4 * imm - 8) & 0xFFFFFFFF


# -- scalar SSE / FMA3 ----------------------------------------------------------

XMMS = [X.Xmm(i) for i in range(16)]
XN = ["xmm%d" % i for i in range(16)]
MEMS = ((RAX, None, 1, 0), (R12, RCX, 8, 24), (RSP, None, 1, -8), (R13, None, 1, 0), (R9, X.R10, 4, -300),
        (None, RDX, 2, 0x100))


def test_xmm_register_type():
    assert X.XMM0 == 0 and X.XMM15 == 15 and type(X.XMM3) is X.Xmm and repr(X.XMM11) == "xmm11"
    assert type(X.XMM3) is not Reg and "XMM7" in X.__all__


def test_movq_movd_every_register_and_memory():
    for x in XMMS:
        for r in REGS:
            check(lambda a: a.movq(x, r), "movq %s, %s" % (XN[x], R64[r]))
            check(lambda a: a.movq(r, x), "movq %s, %s" % (R64[r], XN[x]))
            check(lambda a: a.movd(x, r), "movd %s, %s" % (XN[x], R32[r]))
            check(lambda a: a.movd(r, x), "movd %s, %s" % (R32[r], XN[x]))
        for y in XMMS:
            check(lambda a: a.movq(x, y), "movq %s, %s" % (XN[x], XN[y]))
        for spec in MEMS:
            m = mem(*spec)
            check(lambda a: a.movq(x, m), "movq %s, qword ptr %s" % (XN[x], mtext(*spec)))
            check(lambda a: a.movq(m, x), "movq qword ptr %s, %s" % (mtext(*spec), XN[x]))
            check(lambda a: a.movd(x, m), "movd %s, dword ptr %s" % (XN[x], mtext(*spec)))
            check(lambda a: a.movd(m, x), "movd dword ptr %s, %s" % (mtext(*spec), XN[x]))
    for bad in ((RAX, RCX), (X.XMM0, X.XMM1)):
        with pytest.raises(ValueError):
            Asm().movd(*bad)
    with pytest.raises(ValueError):
        Asm().movq(RAX, RCX)


SSE_OPS = [o + s for o in ("add", "sub", "mul", "div", "sqrt", "min", "max") for s in ("sd", "ss")] + \
    ["ucomisd", "comisd", "ucomiss", "comiss", "cvtsd2ss", "cvtss2sd", "xorpd", "xorps"]


def _msize(op):
    if op.startswith("xorp") or op == "comisd":        # (comisd's m64: capstone says xmmword)
        return "xmmword ptr "
    if op in ("cvtsd2ss",):
        return "qword ptr "
    if op in ("cvtss2sd",):
        return "dword ptr "
    return "qword ptr " if op.endswith("sd") else "dword ptr "


def test_sse_ops_every_register_and_memory():
    for op in SSE_OPS:
        for x in XMMS:
            for y in (X.XMM0, X.XMM7, X.XMM8, X.XMM15, x):
                check(lambda a: a.sse(op, x, y), "%s %s, %s" % (op, XN[x], XN[y]))
            for spec in MEMS:
                check(lambda a: a.sse(op, x, mem(*spec)), "%s %s, %s%s" % (op, XN[x], _msize(op), mtext(*spec)))
    for bad in ((RAX, X.XMM0), (X.XMM0, RAX)):
        with pytest.raises(ValueError):
            Asm().sse("addsd", *bad)


def test_int_float_conversions():
    for x in XMMS:
        for r in REGS:
            for wf, name in ((64, "cvtsi2sd"), (32, "cvtsi2ss")):
                check(lambda a: a.cvtsi2f(wf, x, r, 64), "%s %s, %s" % (name, XN[x], R64[r]))
                check(lambda a: a.cvtsi2f(wf, x, r, 32), "%s %s, %s" % (name, XN[x], R32[r]))
            for op in ("cvttsd2si", "cvtsd2si", "cvttss2si", "cvtss2si"):
                check(lambda a: a.cvt2si(op, r, x, 64), "%s %s, %s" % (op, R64[r], XN[x]))
                check(lambda a: a.cvt2si(op, r, x, 32), "%s %s, %s" % (op, R32[r], XN[x]))
    spec = MEMS[1]
    check(lambda a: a.cvtsi2f(64, X.XMM9, mem(*spec), 64), "cvtsi2sd xmm9, qword ptr %s" % mtext(*spec))
    check(lambda a: a.cvt2si("cvttsd2si", X.R11, mem(*spec), 64), "cvttsd2si r11, qword ptr %s" % mtext(*spec))
    for bad in (lambda a: a.cvtsi2f(64, RAX, RCX), lambda a: a.cvtsi2f(64, X.XMM0, X.XMM1),
                lambda a: a.cvt2si("cvtsd2si", X.XMM0, X.XMM1), lambda a: a.cvt2si("cvtsd2si", RAX, RCX),
                lambda a: a.cvt2si("cvtsd2si", RAX, X.XMM1, 16)):
        with pytest.raises(ValueError):
            bad(Asm())


def test_mxcsr_access():
    for spec in MEMS:
        check(lambda a: a.ldmxcsr(mem(*spec)), "ldmxcsr dword ptr %s" % mtext(*spec))
        check(lambda a: a.stmxcsr(mem(*spec)), "stmxcsr dword ptr %s" % mtext(*spec))
    with pytest.raises(ValueError):
        Asm().ldmxcsr(RAX)


FMA_NAMES = [k + f + s for k in ("vfmadd", "vfmsub", "vfnmadd", "vfnmsub") for f in ("132", "213", "231")
             for s in ("sd", "ss")]


def test_fma3_every_form_and_register_bank():
    for op in FMA_NAMES:
        for d, s1, s2 in ((0, 1, 2), (8, 1, 2), (0, 9, 2), (0, 1, 10), (15, 15, 15), (7, 8, 9), (12, 3, 14)):
            check(lambda a: a.vfma(op, XMMS[d], XMMS[s1], XMMS[s2]), "%s %s, %s, %s" % (op, XN[d], XN[s1], XN[s2]))
        for spec in MEMS:
            check(lambda a: a.vfma(op, X.XMM3, X.XMM14, mem(*spec)),
                  "%s xmm3, xmm14, %s%s" % (op, "qword ptr " if op.endswith("sd") else "dword ptr ", mtext(*spec)))
    with pytest.raises(ValueError):
        Asm().vfma("vfmadd231sd", RAX, X.XMM1, X.XMM2)


def test_call_to_a_label_forward_and_backward():
    a = Asm()
    back = a.label()
    a.bind(back)
    a.ret()
    fwd = a.label()
    at = a.here()
    a.call(fwd)
    a.call(back)
    a.code += b"\x90" * 300
    a.bind(fwd)
    a.ret()
    code = a.finish()
    got = [(i.mnemonic, int(i.op_str, 0)) for i in MD.disasm(code[at:], at, 2)]
    assert got == [("call", a.offset(fwd)), ("call", 0)]


def _d(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _f(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _fma_host():
    try:
        with open("/proc/cpuinfo") as f:
            return "fma" in next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        return False


@needs_x64
def test_run_sse_arithmetic_conversions_and_flags(run):
    """double and single arithmetic, conversions and MXCSR flags computed by the host"""
    def binop(op, movx, x, y):
        def body(a):
            movx(a, X.XMM0, RDI)
            movx(a, X.XMM9, RSI)
            a.sse(op, X.XMM0, X.XMM9)
            movx(a, RAX, X.XMM0)
        return body
    mq, md = (lambda a, d, s: a.movq(d, s)), (lambda a, d, s: a.movd(d, s))
    for x, y in ((1.5, 0.25), (-3.0, 7.0), (1e300, 1e-300)):
        for op, f in (("add", x + y), ("sub", x - y), ("mul", x * y), ("div", x / y)):
            assert run(binop(op + "sd", mq, x, y), _d(x), _d(y)) == _d(f)
    assert run(binop("addss", md, 0, 0), _f(1.5), _f(2.25)) == _f(3.75)
    assert run(binop("sqrtsd", mq, 0, 0), 0, _d(2.0)) == _d(math.sqrt(2.0))

    def cvt(a):
        a.movq(X.XMM3, RDI)
        a.cvt2si("cvtsd2si", RAX, X.XMM3, 64)            # (MXCSR's nearest-even)
    assert run(cvt, _d(2.5)) == 2 and run(cvt, _d(-3.5)) == M64 - 3

    def cvtt(a):
        a.movq(X.XMM3, RDI)
        a.cvt2si("cvttsd2si", RAX, X.XMM3, 64)
    assert run(cvtt, _d(-2.75)) == M64 - 1

    def i2f(a):
        a.cvtsi2f(64, X.XMM2, RDI, 64)
        a.cvtsi2f(32, X.XMM3, RDI, 32)
        a.sse("cvtss2sd", X.XMM3, X.XMM3)
        a.sse("addsd", X.XMM2, X.XMM3)
        a.movq(RAX, X.XMM2)
    assert run(i2f, 2**32 + 5) == _d(2**32 + 5 + 5.0)

    def flags(a):                     # 1/0: ZE (bit 2), and the previous MXCSR restored
        a.stmxcsr(mem(RSP, None, 1, -8))
        a.mov(RDX, mem(RSP, None, 1, -8), 32)
        a.mov_imm(mem(RSP, None, 1, -16), 0x1f80, 32)
        a.ldmxcsr(mem(RSP, None, 1, -16))
        a.movq(X.XMM0, RDI)
        a.movq(X.XMM1, RSI)
        a.sse("divsd", X.XMM0, X.XMM1)
        a.stmxcsr(mem(RSP, None, 1, -16))
        a.mov(RAX, mem(RSP, None, 1, -16), 32)
        a.mov(mem(RSP, None, 1, -8), RDX, 32)
        a.ldmxcsr(mem(RSP, None, 1, -8))
    assert run(flags, _d(1.0), _d(0.0)) & 0x3f == 0x04
    assert run(flags, _d(1.0), _d(3.0)) & 0x3f == 0x20          # inexact only

    def cmp(a):                       # ucomisd: ZF PF CF -> al
        a.movq(X.XMM0, RDI)
        a.movq(X.XMM1, RSI)
        a.mov_imm(RAX, 0)
        a.sse("ucomisd", X.XMM0, X.XMM1)
        a.setcc("b", RAX)
        a.setcc("e", RCX)
        a.setcc("p", RDX)
        a.shift("shl", RCX, 1, 8)
        a.shift("shl", RDX, 2, 8)
        a.alu("or", RAX, RCX, 8)
        a.alu("or", RAX, RDX, 8)
    assert run(cmp, _d(1.0), _d(2.0)) == 1 and run(cmp, _d(2.0), _d(2.0)) == 2
    assert run(cmp, _d(3.0), _d(2.0)) == 0 and run(cmp, _d(math.nan), _d(2.0)) == 7


@needs_x64
@pytest.mark.skipif(not _fma_host(), reason="no FMA3 on this host")
def test_run_fma3_rounds_once(run):
    """x*y+z with one rounding: (1+2^-30)^2 - 1 keeps the 2^-60 a separate
    multiply and add lose; each sign variant and operand order"""
    x, z = 1 + 2.0 ** -30, 1.0
    exact = 2.0 ** -29 + 2.0 ** -60
    for op, want in (("vfmadd231sd", x * x + z), ("vfmsub231sd", exact), ("vfnmadd231sd", -exact),
                     ("vfnmsub231sd", -(x * x) - z)):
        def body(a):
            a.movq(X.XMM0, RSI)
            a.movq(X.XMM9, RDI)
            a.movq(X.XMM10, RDI)
            a.vfma(op, X.XMM0, X.XMM9, X.XMM10)
            a.movq(RAX, X.XMM0)
        assert run(body, _d(x), _d(z)) == _d(want), op
    for op in ("vfmadd132sd", "vfmadd213sd"):      # 132: dst*src2 + src1; 213: src1*dst + src2
        def body2(a):
            a.movq(X.XMM0, RDI)
            a.movq(X.XMM1, RSI if op == "vfmadd132sd" else RDI)
            a.movq(X.XMM2, RDI if op == "vfmadd132sd" else RSI)
            a.vfma(op, X.XMM0, X.XMM1, X.XMM2)
            a.movq(RAX, X.XMM0)
        assert run(body2, _d(x), _d(-1.0)) == _d(exact), op
