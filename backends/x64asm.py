"""A small, fast x86-64 assembler for the baseline native tier.

The code generator (backends/x64_emit.py) turns a TB's IR straight into
machine code through this module: one `Asm` per block, one method call per
host instruction, the bytes appended to one bytearray (`Asm.code`).  It is
called ~10^5-10^6 times in a run, so it is written for speed of emission:

- registers are small ints (RAX..R15 = 0..15, instances of `Reg`, an int
  subclass: see below); a memory operand is a plain tuple made by `mem()`
  once, which carries its encoding (REX.X/B bits, the ModRM mod/rm bits, the
  SIB and displacement bytes) so an instruction using it only ORs in the reg
  field; `mem()` memoizes them (a dict of up to 8192 operands, cleared when
  full), so the addressing-mode work is paid once per distinct operand;
- op names and condition codes are looked up in precomputed dicts; no object
  is made per call beyond the bytes appended (and a Label per label); the
  hottest forms (64-bit mov reg/[m], alu reg,reg and reg,imm8) inline the
  ModRM encoder `_rm` (~0.17 us an instruction on CPython 3.11, ~0.25 mixed).

Operands: a register is an int; a memory operand a tuple; an immediate an int
of exact type `int`.  Where one position takes a register or an immediate
(`alu`'s and `test`'s source) the two are told apart by type: the register
constants are `Reg` instances, so a plain int there is an immediate.  Use the
constants (or `Reg(n)`) for registers in those positions; arithmetic on a
Reg gives a plain int.  Everywhere else a plain int is taken as a register.

Immediates of width w are accepted in [-2**(w-1), 2**w) (signed or unsigned
spelling of the same bits) and encoded as the shortest form the instruction
has (imm8 sign-extended, the AL/EAX/RAX short forms); a 64-bit operation's
immediate must be a sign-extended imm32 after that reduction, else ValueError.
`mov_imm` to a register takes any int and loads exactly imm & mask(w) with the
shortest mov (never xor: flags are preserved).

Jumps to labels: a label bound already (a backward jump) gets rel8 when it
reaches, else rel32; a forward jump is always rel32, patched by `finish()`
(no relaxation, so offsets taken with `here()` stay valid).

Encoded: the integer instructions the code generator asks for (mov/movzx/
movsx/movsxd/movabs, lea (64 or 32), the ALU group, test, shifts/rotates by
imm or CL, the F7 group, imul r,r/m and r,r/m,imm, bsf/bsr/popcnt/lzcnt/
tzcnt, setcc, cmovcc, cqo/cdq, jcc/jmp/call (call: to a Label too), push/pop/ret, mfence/ud2/int3,
xchg, lock add/or/and/xor/sub/xadd/cmpxchg) and the scalar SSE2 / FMA3 ones
the native FP lowering asks for (x64_fp.py): movq/movd between XMM and
general registers or memory, `sse(op, xmm, xmm|m)` for add/sub/mul/div/sqrt/
min/max/(u)comis/cvtsd2ss/cvtss2sd/xorp* in sd/ss forms, cvtsi2sd/ss,
cvt(t)sd/ss2si, ldmxcsr/stmxcsr, and `vfma` (VEX vfmadd/vfmsub/vfnmadd/vfnmsub
132/213/231 sd/ss).  XMM registers are `Xmm` instances (XMM0..XMM15, an int
subclass of their own: movq/movd tell them from general registers by type).
Not encoded: RIP-relative addressing, segment overrides, packed SSE/AVX, 16-bit
addressing, rel8 forward jumps.  Errors (ValueError): mem as both operands, RSP as an index, a bad
scale, a disp outside signed 32, an immediate that does not fit, a label
bound twice, a jump to a label never bound (at `finish()`).  A bad op name
or width may raise KeyError instead (a code generator bug, not checked on
the hot paths).

Tests: tests/unit/test_x64asm.py, against capstone's disassembly and, on an
x86-64 host, by running assembled functions (condition codes, partial-width
writes, extensions, jumps, mul/div).
"""
import struct

__all__ = [
    "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
    "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
    "Reg", "mem", "Label", "Asm", "CC", "Xmm",
] + ["XMM%d" % _i for _i in range(16)]


class Reg(int):
    """A register number 0..15 (an int; its type marks it a register, not an immediate)"""
    __slots__ = ()
    _NAMES = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
              "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

    def __repr__(self):
        return self._NAMES[self] if 0 <= self < 16 else "Reg(%d)" % int(self)


RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 = map(Reg, range(16))


class Xmm(int):
    """An XMM register number 0..15 (its own type: movq/movd tell it from a general register)"""
    __slots__ = ()

    def __repr__(self):
        return "xmm%d" % int(self)


(XMM0, XMM1, XMM2, XMM3, XMM4, XMM5, XMM6, XMM7, XMM8, XMM9, XMM10, XMM11, XMM12, XMM13, XMM14,
 XMM15) = map(Xmm, range(16))

# scalar SSE ops xmm <- xmm/m: op -> (mandatory prefix, opcode bytes)
_SSE = {}
for _n, _o in (("add", 0x58), ("mul", 0x59), ("sub", 0x5C), ("min", 0x5D), ("div", 0x5E),
               ("max", 0x5F), ("sqrt", 0x51)):
    _SSE[_n + "sd"] = (b"\xf2", bytes((0x0F, _o)))
    _SSE[_n + "ss"] = (b"\xf3", bytes((0x0F, _o)))
_SSE.update({"ucomisd": (b"\x66", b"\x0f\x2e"), "comisd": (b"\x66", b"\x0f\x2f"),
             "ucomiss": (b"", b"\x0f\x2e"), "comiss": (b"", b"\x0f\x2f"),
             "cvtsd2ss": (b"\xf2", b"\x0f\x5a"), "cvtss2sd": (b"\xf3", b"\x0f\x5a"),
             "xorpd": (b"\x66", b"\x0f\x57"), "xorps": (b"", b"\x0f\x57")})
# float -> int: op -> (prefix, opcode)
_CVT2SI = {"cvttsd2si": (b"\xf2", b"\x0f\x2c"), "cvtsd2si": (b"\xf2", b"\x0f\x2d"),
           "cvttss2si": (b"\xf3", b"\x0f\x2c"), "cvtss2si": (b"\xf3", b"\x0f\x2d")}
# FMA3 (VEX.LIG.66.0F38): name without the sd/ss suffix -> opcode
_FMA = {}
for _k, _base in (("vfmadd", 0x99), ("vfmsub", 0x9B), ("vfnmadd", 0x9D), ("vfnmsub", 0x9F)):
    for _form, _add in (("132", 0), ("213", 0x10), ("231", 0x20)):
        _FMA[_k + _form] = _base + _add

_I8 = struct.Struct("<b").pack
_I16 = struct.Struct("<h").pack
_I32 = struct.Struct("<i").pack
_U64 = struct.Struct("<Q").pack
_U32 = struct.Struct("<I").pack
_U16 = struct.Struct("<H").pack
_SCALE = {1: 0x00, 2: 0x40, 4: 0x80, 8: 0xC0}

# condition codes: the low nibble of Jcc/SETcc/CMOVcc
CC = {"o": 0, "no": 1, "b": 2, "ae": 3, "e": 4, "ne": 5, "be": 6, "a": 7,
      "s": 8, "ns": 9, "p": 10, "np": 11, "l": 12, "ge": 13, "le": 14, "g": 15,
      "z": 4, "nz": 5, "c": 2, "nc": 3, "nae": 2, "nb": 3, "na": 6, "nbe": 7,
      "pe": 10, "po": 11, "nge": 12, "nl": 13, "ng": 14, "nle": 15}
_JCC8 = {k: bytes((0x70 | v,)) for k, v in CC.items()}
_JCC32 = {k: bytes((0x0F, 0x80 | v)) for k, v in CC.items()}
_SETCC = {k: bytes((0x0F, 0x90 | v)) for k, v in CC.items()}
_CMOV = {k: bytes((0x0F, 0x40 | v)) for k, v in CC.items()}

_ALU = {"add": 0, "or": 1, "adc": 2, "sbb": 3, "and": 4, "sub": 5, "xor": 6, "cmp": 7}
# per op: opcode bytes for w 8 and w 16/32/64, r/m <- r (store form) and r <- r/m (load form)
_ALU_MR8 = {k: bytes((v * 8,)) for k, v in _ALU.items()}
_ALU_MR = {k: bytes((v * 8 + 1,)) for k, v in _ALU.items()}
_ALU_RM8 = {k: bytes((v * 8 + 2,)) for k, v in _ALU.items()}
_ALU_RM = {k: bytes((v * 8 + 3,)) for k, v in _ALU.items()}
_LOCK_OK = ("add", "or", "and", "xor", "sub", "adc", "sbb")
_SHIFT = {"rol": 0, "ror": 1, "rcl": 2, "rcr": 3, "shl": 4, "sal": 4, "shr": 5, "sar": 7}
_UNARY = {"not": 2, "neg": 3, "mul": 4, "imul": 5, "div": 6, "idiv": 7}
_BITOP = {"bsf": (b"", b"\x0f\xbc"), "bsr": (b"", b"\x0f\xbd"), "popcnt": (b"\xf3", b"\x0f\xb8"),
          "lzcnt": (b"\xf3", b"\x0f\xbd"), "tzcnt": (b"\xf3", b"\x0f\xbc")}
# w -> REX.W bits (8 for 64) and the operand-size prefix
_REXW = {8: 0, 16: 0, 32: 0, 64: 8}

_B8 = b"\x8b"
_B89 = b"\x89"
_B88 = b"\x88"
_B8A = b"\x8a"
_B8D = b"\x8d"


_MEMO = {}


def mem(base, index=None, scale=1, disp=0):
    """A memory operand [base + index*scale + disp] as a tuple
    (base, index, scale, disp, rex_xb, modrm_mod_rm, sib_and_disp_bytes);
    memoized (a code generator asks for the same few operands again and again)."""
    key = (base, index, scale, disp)
    m = _MEMO.get(key)
    if m is None:
        if len(_MEMO) >= 8192:
            _MEMO.clear()
        m = _MEMO[key] = _mem(base, index, scale, disp)
    return m


def _mem(base, index, scale, disp):
    if type(disp) is not int or not -0x80000000 <= disp <= 0x7FFFFFFF:
        raise ValueError("disp %r is not a signed 32-bit int" % (disp,))
    ss = _SCALE.get(scale)
    if ss is None:
        raise ValueError("scale must be 1, 2, 4 or 8, not %r" % (scale,))
    if index is not None:
        if not 0 <= index < 16 or index == 4:
            raise ValueError("bad index register %r (RSP cannot be an index)" % (index,))
        if base is None:                        # [index*scale + disp32]: SIB base 101 with mod 00
            return (base, index, scale, disp, (index >> 3) << 1, 0x04,
                    bytes((ss | (index & 7) << 3 | 5,)) + _I32(disp))
        if not 0 <= base < 16:
            raise ValueError("bad base register %r" % (base,))
        sib = ss | (index & 7) << 3 | (base & 7)
        rex = (index >> 3) << 1 | (base >> 3)
        if disp == 0 and base & 7 != 5:
            return (base, index, scale, disp, rex, 0x04, bytes((sib,)))
        if -128 <= disp <= 127:
            return (base, index, scale, disp, rex, 0x44, bytes((sib,)) + _I8(disp))
        return (base, index, scale, disp, rex, 0x84, bytes((sib,)) + _I32(disp))
    if base is None:                            # absolute [disp32]: SIB, no base, no index
        return (base, index, scale, disp, 0, 0x04, b"\x25" + _I32(disp))
    if not 0 <= base < 16:
        raise ValueError("bad base register %r" % (base,))
    lo = base & 7
    rex = base >> 3
    sib = b"\x24" if lo == 4 else b""           # RSP/R12 as a base need a SIB (no index)
    rm = 4 if lo == 4 else lo
    if disp == 0 and lo != 5:                   # RBP/R13 with mod 00 would mean RIP/disp32
        return (base, index, scale, disp, rex, rm, sib)
    if -128 <= disp <= 127:
        return (base, index, scale, disp, rex, 0x40 | rm, sib + _I8(disp))
    return (base, index, scale, disp, rex, 0x80 | rm, sib + _I32(disp))


class Label:
    """A position in an Asm's code; `pos` is None until bound"""
    __slots__ = ("pos",)

    def __init__(self):
        self.pos = None

    def __repr__(self):
        return "Label(%s)" % (self.pos,)


def _imm(imm, w):
    """imm reduced to a signed w-bit value (ValueError if it is no w-bit value)"""
    if type(imm) is not int:
        raise ValueError("immediate must be an int, not %r" % (imm,))
    if w == 64:
        if -0x80000000 <= imm <= 0x7FFFFFFF:
            return imm
        if 0xFFFFFFFF80000000 <= imm <= 0xFFFFFFFFFFFFFFFF:
            return imm - (1 << 64)
        raise ValueError("immediate %#x does not fit a sign-extended imm32" % imm)
    top = 1 << w
    if not -(top >> 1) <= imm < top:
        raise ValueError("immediate %#x does not fit %d bits" % (imm, w))
    imm &= top - 1
    return imm - top if imm >= top >> 1 else imm


# the recommended NOP of each length 1..9
_NOPS = [b"", b"\x90", b"\x66\x90", b"\x0f\x1f\x00", b"\x0f\x1f\x40\x00", b"\x0f\x1f\x44\x00\x00",
         b"\x66\x0f\x1f\x44\x00\x00", b"\x0f\x1f\x80\x00\x00\x00\x00",
         b"\x0f\x1f\x84\x00\x00\x00\x00\x00", b"\x66\x0f\x1f\x84\x00\x00\x00\x00\x00"]


class Sym(int):
    """A number the code holds that another run has otherwise (an address,
    an id): mov_imm writes it in a field of fixed size (a movabs, or the
    imm32 of a store) and records the field in `relocs`; a Sym plus an int is
    a Sym of the same name (its addend grows)."""

    def __new__(cls, value, name, addend=0, small=False):
        s = int.__new__(cls, value)
        s.name, s.addend, s.small = name, addend, small   # small: an id, always < 2**31
        return s

    def __add__(self, k):
        return Sym(int(self) + k, self.name, self.addend + k, self.small)

    __radd__ = __add__


def patch(code, relocs, value):
    """code (a bytearray) with each reloc's field set to value(name) + its addend."""
    for at, size, name, addend in relocs:
        v = (value(name) + addend) & ((1 << 8 * size) - 1)
        code[at:at + size] = v.to_bytes(size, "little")
    return code


class Asm:
    """One block's code: instructions appended to `code`, labels, relocations
    ((offset, size, name, addend) of each field holding a Sym)"""
    __slots__ = ("code", "relocs", "_fixups")

    def __init__(self):
        self.code = bytearray()
        self.relocs = []
        self._fixups = []               # (offset of a rel32 field, Label)

    # -- positions and labels ------------------------------------------------
    def here(self):
        return len(self.code)

    def label(self):
        return Label()

    def align(self, k):
        """pad with multi-byte NOPs to a multiple of k bytes (k a power of two)"""
        n = -len(self.code) & (k - 1)
        while n:
            m = min(n, 9)
            self.code += _NOPS[m]
            n -= m

    def bind(self, label):
        if label.pos is not None:
            raise ValueError("label bound twice")
        label.pos = len(self.code)

    def offset(self, label):
        if label.pos is None:
            raise ValueError("label not bound")
        return label.pos

    def finish(self):
        code = self.code
        for at, label in self._fixups:
            pos = label.pos
            if pos is None:
                raise ValueError("jump to a label never bound")
            code[at:at + 4] = _I32(pos - at - 4)
        self._fixups = []
        return bytes(code)

    # -- the ModRM encoder -----------------------------------------------------
    def _rm(self, rex, op, r, rm):
        """[REX] op ModRM [SIB] [disp]: r the reg field (a register or a /digit),
        rm a register or a mem tuple; rex the bits the caller needs (8 = W,
        0x40 = a REX with no bits, for SPL/BPL/SIL/DIL)"""
        code = self.code
        if type(rm) is tuple:
            rex |= (r >> 3) << 2 | rm[4]
            if rex:
                code.append(0x40 | rex)
            code += op
            code.append(rm[5] | (r & 7) << 3)
            code += rm[6]
        else:
            rex |= (r >> 3) << 2 | (rm >> 3)
            if rex:
                code.append(0x40 | rex)
            code += op
            code.append(0xC0 | (r & 7) << 3 | (rm & 7))

    # -- moves -----------------------------------------------------------------
    def mov(self, dst, src, w=64):
        if type(src) is tuple:
            if type(dst) is tuple:
                raise ValueError("mov: two memory operands")
            if w == 64:                     # the hottest form, _rm inlined
                code = self.code
                code.append(0x48 | (dst >> 3) << 2 | src[4])
                code.append(0x8B)
                code.append(src[5] | (dst & 7) << 3)
                code += src[6]
            elif w == 32:
                self._rm(0, _B8, dst, src)
            elif w == 8:
                self._rm(0x40 if 4 <= dst < 8 else 0, _B8A, dst, src)
            elif w == 16:
                self.code.append(0x66)
                self._rm(0, _B8, dst, src)
            else:
                raise ValueError("bad width %r" % (w,))
            return
        if w == 64:
            code = self.code
            if type(dst) is tuple:
                code.append(0x48 | (src >> 3) << 2 | dst[4])
                code.append(0x89)
                code.append(dst[5] | (src & 7) << 3)
                code += dst[6]
            else:
                code.append(0x48 | (src >> 3) << 2 | (dst >> 3))
                code.append(0x89)
                code.append(0xC0 | (src & 7) << 3 | (dst & 7))
        elif w == 32:
            self._rm(0, _B89, src, dst)
        elif w == 8:
            self._rm(0x40 if 4 <= src < 8 or (type(dst) is not tuple and 4 <= dst < 8) else 0,
                     _B88, src, dst)
        elif w == 16:
            self.code.append(0x66)
            self._rm(0, _B89, src, dst)
        else:
            raise ValueError("bad width %r" % (w,))

    def mov_imm(self, dst, imm, w=64):
        code = self.code
        if type(imm) is Sym:
            return self._mov_sym(dst, imm, w)
        if type(dst) is tuple:
            if w == 64 or w == 32:
                self._rm(_REXW[w], b"\xc7", 0, dst)
                code += _I32(_imm(imm, w))
            elif w == 16:
                code.append(0x66)
                self._rm(0, b"\xc7", 0, dst)
                code += _I16(_imm(imm, 16))
            else:
                self._rm(0, b"\xc6", 0, dst)
                code += _I8(_imm(imm, 8))
            return
        if type(imm) is not int:
            raise ValueError("immediate must be an int, not %r" % (imm,))
        if w == 64:
            v = imm & 0xFFFFFFFFFFFFFFFF
            if v <= 0xFFFFFFFF:                     # mov r32, imm32 (zero-extends)
                if dst >= 8:
                    code.append(0x41)
                code.append(0xB8 | (dst & 7))
                code += _I32(v - (1 << 32) if v >= 0x80000000 else v)
            elif v >= 0xFFFFFFFF80000000:           # mov r/m64, simm32
                code += b"\x49\xc7" if dst >= 8 else b"\x48\xc7"
                code.append(0xC0 | (dst & 7))
                code += _I32(v - (1 << 64))
            else:                                   # movabs r64, imm64
                code.append(0x49 if dst >= 8 else 0x48)
                code.append(0xB8 | (dst & 7))
                code += _U64(v)
        elif w == 32:
            if dst >= 8:
                code.append(0x41)
            code.append(0xB8 | (dst & 7))
            code += _U32(imm & 0xFFFFFFFF)
        elif w == 16:
            code.append(0x66)
            if dst >= 8:
                code.append(0x41)
            code.append(0xB8 | (dst & 7))
            code += _U16(imm & 0xFFFF)
        elif w == 8:
            if dst >= 4:
                code.append(0x41 if dst >= 8 else 0x40)
            code.append(0xB0 | (dst & 7))
            code.append(imm & 0xFF)
        else:
            raise ValueError("bad width %r" % (w,))

    def movabs_sym(self, reg, name):
        self._mov_sym(reg, Sym(0, name), 64)

    def _mov_sym(self, dst, sym, w):
        """mov_imm of a Sym: a movabs to a register, the imm32 of a 64-bit store."""
        code = self.code
        if type(dst) is tuple and w == 64 and sym.small:
            self._rm(_REXW[w], b"\xc7", 0, dst)
            self.relocs.append((len(code), 4, sym.name, sym.addend))
            code += _I32(_imm(int(sym), 32))
        elif type(dst) is not tuple and w == 64:
            code.append(0x49 if dst >= 8 else 0x48)
            code.append(0xB8 | (dst & 7))
            self.relocs.append((len(code), 8, sym.name, sym.addend))
            code += _U64(int(sym) & 0xFFFFFFFFFFFFFFFF)
        else:
            raise ValueError("a Sym goes in a 64-bit move (to memory: a small one)")

    def load(self, dst, m, size, signed=False, w=64):
        if type(m) is not tuple:
            raise ValueError("load: the source must be a memory operand")
        self._ext(dst, m, size, signed, w)

    def movx(self, dst, src, size, signed, w=64):
        if type(src) is tuple or type(dst) is tuple:
            raise ValueError("movx: registers only")
        self._ext(dst, src, size, signed, w)

    def _ext(self, dst, src, size, signed, w):
        if w != 64 and w != 32:
            raise ValueError("bad width %r" % (w,))
        if size == 4:
            if signed and w == 64:
                self._rm(8, b"\x63", dst, src)              # movsxd r64, r/m32
            else:
                self._rm(0, _B8, dst, src)                  # mov r32, r/m32
        elif size == 1:
            rex = 0x40 if type(src) is not tuple and 4 <= src < 8 else 0
            if signed:
                self._rm(rex | _REXW[w], b"\x0f\xbe", dst, src)
            else:
                self._rm(rex, b"\x0f\xb6", dst, src)        # movzx r32 zero-extends to 64
        elif size == 2:
            if signed:
                self._rm(_REXW[w], b"\x0f\xbf", dst, src)
            else:
                self._rm(0, b"\x0f\xb7", dst, src)
        elif size == 8 and w == 64:
            self._rm(8, _B8, dst, src)
        else:
            raise ValueError("bad size %r for width %r" % (size, w))

    def lea(self, dst, m, w=64):
        """dst = the address of m; w 32 computes it mod 2**32 (zero-extended)"""
        if type(m) is not tuple or type(dst) is tuple:
            raise ValueError("lea: dst a register, the source a memory operand")
        if w == 64:
            self._rm(8, _B8D, dst, m)
        elif w == 32:
            self._rm(0, _B8D, dst, m)
        else:
            raise ValueError("lea: w 32 or 64")

    # -- arithmetic ------------------------------------------------------------
    def alu(self, op, dst, src, w=64):
        t = type(src)
        if t is int:
            num = _ALU[op]
            if -128 <= src <= 127 and w != 8:              # the common case: imm8
                if w == 64 and type(dst) is not tuple:      # (inlined _rm)
                    code = self.code
                    code.append(0x48 | (dst >> 3))
                    code.append(0x83)
                    code.append(0xC0 | num << 3 | (dst & 7))
                    code.append(src & 0xFF)
                    return
                if w == 16:
                    self.code.append(0x66)
                self._rm(_REXW[w], b"\x83", num, dst)
                self.code.append(src & 0xFF)
                return
            imm = _imm(src, w)
            code = self.code
            if w == 8:
                if type(dst) is not tuple and dst == 0:
                    code.append(num * 8 + 4)
                else:
                    self._rm(0x40 if type(dst) is not tuple and 4 <= dst < 8 else 0, b"\x80", num, dst)
                code.append(imm & 0xFF)
                return
            if w == 16:
                code.append(0x66)
            if -128 <= imm <= 127:
                self._rm(_REXW[w], b"\x83", num, dst)
                code.append(imm & 0xFF)
            elif type(dst) is not tuple and dst == 0:       # add/... eax/rax, imm32
                if w == 64:
                    code.append(0x48)
                code.append(num * 8 + 5)
                code += _I16(imm) if w == 16 else _I32(imm)
            else:
                self._rm(_REXW[w], b"\x81", num, dst)
                code += _I16(imm) if w == 16 else _I32(imm)
            return
        if t is tuple:
            if type(dst) is tuple:
                raise ValueError("alu: two memory operands")
            if w == 64:
                self._rm(8, _ALU_RM[op], dst, src)
            elif w == 32:
                self._rm(0, _ALU_RM[op], dst, src)
            elif w == 8:
                self._rm(0x40 if 4 <= dst < 8 else 0, _ALU_RM8[op], dst, src)
            elif w == 16:
                self.code.append(0x66)
                self._rm(0, _ALU_RM[op], dst, src)
            else:
                raise ValueError("bad width %r" % (w,))
            return
        if w == 64 and type(dst) is not tuple:              # reg, reg (inlined _rm)
            code = self.code
            code.append(0x48 | (src >> 3) << 2 | (dst >> 3))
            code += _ALU_MR[op]
            code.append(0xC0 | (src & 7) << 3 | (dst & 7))
        elif w == 64:
            self._rm(8, _ALU_MR[op], src, dst)
        elif w == 32:
            self._rm(0, _ALU_MR[op], src, dst)
        elif w == 8:
            self._rm(0x40 if 4 <= src < 8 or (type(dst) is not tuple and 4 <= dst < 8) else 0,
                     _ALU_MR8[op], src, dst)
        elif w == 16:
            self.code.append(0x66)
            self._rm(0, _ALU_MR[op], src, dst)
        else:
            raise ValueError("bad width %r" % (w,))

    def test(self, a, b, w=64):
        t = type(b)
        if t is tuple:
            a, b = b, a                                     # test is symmetric: [m] in r/m
            t = type(b)
            if t is tuple:
                raise ValueError("test: two memory operands")
        code = self.code
        if t is int:
            imm = _imm(b, w)
            if w == 16:
                code.append(0x66)
            if type(a) is not tuple and a == 0:             # test al/ax/eax/rax, imm
                if w == 64:
                    code.append(0x48)
                code.append(0xA8 if w == 8 else 0xA9)
            elif w == 8:
                self._rm(0x40 if type(a) is not tuple and 4 <= a < 8 else 0, b"\xf6", 0, a)
            else:
                self._rm(_REXW[w], b"\xf7", 0, a)
            if w == 8:
                code.append(imm & 0xFF)
            elif w == 16:
                code += _I16(imm)
            else:
                code += _I32(imm)
            return
        if w == 8:
            self._rm(0x40 if 4 <= b < 8 or (type(a) is not tuple and 4 <= a < 8) else 0, b"\x84", b, a)
            return
        if w == 16:
            code.append(0x66)
        self._rm(_REXW[w], b"\x85", b, a)

    def _w(self, w, dst):
        """emits the operand-size prefix of width w (16) and returns the REX bits it needs"""
        if w == 64:
            return 8
        if w == 32:
            return 0
        if w == 16:
            self.code.append(0x66)
            return 0
        if w == 8:
            return 0x40 if type(dst) is not tuple and 4 <= dst < 8 else 0
        raise ValueError("bad width %r" % (w,))

    def shift(self, op, dst, count, w=64):
        num = _SHIFT[op]
        b8 = w == 8
        if count == "cl":
            self._rm(self._w(w, dst), b"\xd2" if b8 else b"\xd3", num, dst)
        elif type(count) is int and 0 <= count <= 255:
            if count == 1:
                self._rm(self._w(w, dst), b"\xd0" if b8 else b"\xd1", num, dst)
            else:
                self._rm(self._w(w, dst), b"\xc0" if b8 else b"\xc1", num, dst)
                self.code.append(count)
        else:
            raise ValueError("shift count must be 0..255 or 'cl', not %r" % (count,))

    def unary(self, op, dst, w=64):
        self._rm(self._w(w, dst), b"\xf6" if w == 8 else b"\xf7", _UNARY[op], dst)

    def imul(self, dst, src, w=64):
        if type(dst) is tuple or w == 8:
            raise ValueError("imul: dst a register, w 16/32/64")
        self._rm(self._w(w, dst), b"\x0f\xaf", dst, src)

    def imul_imm(self, dst, src, imm, w=64):
        """dst = src * imm (three-operand imul: imm8 when it fits, else imm32/imm16); src reg or mem"""
        if type(dst) is tuple or w == 8:
            raise ValueError("imul: dst a register, w 16/32/64")
        v = _imm(imm, w)
        if -128 <= v <= 127:
            self._rm(self._w(w, dst), b"\x6b", dst, src)
            self.code.append(v & 0xFF)
        else:
            self._rm(self._w(w, dst), b"\x69", dst, src)
            self.code += _I16(v) if w == 16 else _I32(v)

    def bitop(self, op, dst, src, w=64):
        if type(dst) is tuple or w == 8:
            raise ValueError("%s: dst a register, w 16/32/64" % op)
        pfx, opc = _BITOP[op]
        if w == 16:
            self.code.append(0x66)
            w = 32
        self.code += pfx
        self._rm(_REXW[w], opc, dst, src)

    def setcc(self, cc, dst):
        self._rm(0x40 if type(dst) is not tuple and 4 <= dst < 8 else 0, _SETCC[cc], 0, dst)

    def cmov(self, cc, dst, src, w=64):
        if type(dst) is tuple or w == 8:
            raise ValueError("cmov: dst a register, w 16/32/64")
        self._rm(self._w(w, dst), _CMOV[cc], dst, src)

    def cqo(self):
        self.code += b"\x48\x99"

    def cdq(self):
        self.code.append(0x99)

    # -- control flow ----------------------------------------------------------
    def jcc(self, cc, target):
        code = self.code
        pos = target.pos
        if pos is not None:
            rel = pos - len(code) - 2
            if rel >= -128:
                code += _JCC8[cc]
                code.append(rel & 0xFF)
                return
            code += _JCC32[cc]
            code += _I32(pos - len(code) - 4)
            return
        code += _JCC32[cc]
        self._fixups.append((len(code), target))
        code += b"\0\0\0\0"

    def jmp(self, target):
        code = self.code
        if type(target) is Label:
            pos = target.pos
            if pos is not None:
                rel = pos - len(code) - 2
                if rel >= -128:
                    code.append(0xEB)
                    code.append(rel & 0xFF)
                    return
                code.append(0xE9)
                code += _I32(pos - len(code) - 4)
                return
            code.append(0xE9)
            self._fixups.append((len(code), target))
            code += b"\0\0\0\0"
            return
        self._rm(0, b"\xff", 4, target)

    def call(self, target):
        """call a Label (rel32) or a register / memory operand (indirect)"""
        if type(target) is Label:
            code = self.code
            code.append(0xE8)
            if target.pos is not None:
                code += _I32(target.pos - len(code) - 4)
            else:
                self._fixups.append((len(code), target))
                code += b"\0\0\0\0"
            return
        self._rm(0, b"\xff", 2, target)

    def push(self, reg):
        if reg >= 8:
            self.code.append(0x41)
        self.code.append(0x50 | (reg & 7))

    def pop(self, reg):
        if reg >= 8:
            self.code.append(0x41)
        self.code.append(0x58 | (reg & 7))

    def ret(self):
        self.code.append(0xC3)

    def mfence(self):
        self.code += b"\x0f\xae\xf0"

    def ud2(self):
        self.code += b"\x0f\x0b"

    def int3(self):
        self.code.append(0xCC)

    # -- atomics ---------------------------------------------------------------
    def _mr(self, m, reg, w, op8, op, lock=False):
        if type(m) is not tuple or type(reg) is tuple:
            raise ValueError("expected [m], reg")
        if w not in _REXW:
            raise ValueError("bad width %r" % (w,))
        if lock:
            self.code.append(0xF0)
        if w == 8:
            self._rm(0x40 if 4 <= reg < 8 else 0, op8, reg, m)
        else:
            self._rm(self._w(w, reg), op, reg, m)

    def xchg(self, m, reg, w=64):
        self._mr(m, reg, w, b"\x86", b"\x87")

    def lock_alu(self, op, m, src, w=64):
        if op not in _LOCK_OK:
            raise ValueError("lock %s is not an atomic op" % op)
        self._mr(m, src, w, _ALU_MR8[op], _ALU_MR[op], True)

    def lock_xadd(self, m, reg, w=64):
        self._mr(m, reg, w, b"\x0f\xc0", b"\x0f\xc1", True)

    def lock_cmpxchg(self, m, reg, w=64):
        self._mr(m, reg, w, b"\x0f\xb0", b"\x0f\xb1", True)

    # -- scalar SSE / FMA3 -----------------------------------------------------
    def _sse(self, pfx, rexw, op, reg, rm):
        """[prefix] [REX] 0F op ModRM..: the mandatory prefix goes before REX"""
        self.code += pfx
        self._rm(rexw, op, reg, rm)

    def movq(self, dst, src):
        """64-bit moves: xmm <- r64/m64/xmm, r64/m64 <- xmm"""
        if type(dst) is Xmm:
            if type(src) is Xmm or type(src) is tuple:
                self._sse(b"\xf3", 0, b"\x0f\x7e", dst, src)        # movq xmm, xmm/m64
            else:
                self._sse(b"\x66", 8, b"\x0f\x6e", dst, src)        # movq xmm, r64
        elif type(src) is Xmm:
            if type(dst) is tuple:
                self._sse(b"\x66", 0, b"\x0f\xd6", src, dst)        # movq m64, xmm
            else:
                self._sse(b"\x66", 8, b"\x0f\x7e", src, dst)        # movq r64, xmm
        else:
            raise ValueError("movq: one operand must be an Xmm")

    def movd(self, dst, src):
        """32-bit moves: xmm <- r32/m32 (the rest of xmm zeroed), r32/m32 <- xmm"""
        if type(dst) is Xmm and type(src) is not Xmm:
            self._sse(b"\x66", 0, b"\x0f\x6e", dst, src)
        elif type(src) is Xmm and type(dst) is not Xmm:
            self._sse(b"\x66", 0, b"\x0f\x7e", src, dst)
        else:
            raise ValueError("movd: one operand an Xmm, the other a register or memory")

    def sse(self, op, dst, src):
        """a scalar SSE op dst(xmm) op= src (xmm or mem); (u)comis compares dst with src"""
        if type(dst) is not Xmm or (type(src) is not Xmm and type(src) is not tuple):
            raise ValueError("%s: xmm, xmm/m" % op)
        pfx, opc = _SSE[op]
        self._sse(pfx, 0, opc, dst, src)

    def cvtsi2f(self, w_float, dst, src, w=64):
        """cvtsi2sd (w_float 64) / cvtsi2ss (32): xmm dst <- the signed w-bit integer src (reg/mem)"""
        if type(dst) is not Xmm or type(src) is Xmm or w not in (32, 64):
            raise ValueError("cvtsi2s%s: xmm, r/m%d" % ("d" if w_float == 64 else "s", w))
        self._sse(b"\xf2" if w_float == 64 else b"\xf3", _REXW[w], b"\x0f\x2a", dst, src)

    def cvt2si(self, op, dst, src, w=64):
        """cvt(t)sd2si / cvt(t)ss2si: w-bit general register dst <- xmm/m src"""
        if type(dst) is tuple or type(dst) is Xmm or (type(src) is not Xmm and type(src) is not tuple) \
                or w not in (32, 64):
            raise ValueError("%s: r%d, xmm/m" % (op, w))
        pfx, opc = _CVT2SI[op]
        self._sse(pfx, _REXW[w], opc, dst, src)

    def ldmxcsr(self, m):
        if type(m) is not tuple:
            raise ValueError("ldmxcsr: a memory operand")
        self._rm(0, b"\x0f\xae", 2, m)

    def stmxcsr(self, m):
        if type(m) is not tuple:
            raise ValueError("stmxcsr: a memory operand")
        self._rm(0, b"\x0f\xae", 3, m)

    def rorx(self, dst, src, n, w=64):
        """BMI2: dst = src rotated right by n (w: 64 or 32 bits, the high half
        cleared; registers; flags kept)"""
        if type(dst) is tuple or type(src) is tuple or w not in (32, 64) or not 0 <= n < w:
            raise ValueError("rorx: two registers, 32 or 64 bits and a count below them")
        code = self.code
        code.append(0xC4)
        code.append((((dst >> 3) ^ 1) << 7) | 0x40 | (((src >> 3) ^ 1) << 5) | 0x03)
        code.append(0xFB if w == 64 else 0x7B)  # W1 (W0), vvvv unused, L0, F2
        code.append(0xF0)
        code.append(0xC0 | (dst & 7) << 3 | (src & 7))
        code.append(n)

    def vfma(self, op, dst, src1, src2):
        """FMA3 scalar: op e.g. "vfmadd231sd" (dst = src1*src2 + dst), "vfnmsub213ss"...;
        dst, src1 xmm, src2 xmm or mem (VEX.LIG.66.0F38, W1 for sd)"""
        if type(dst) is not Xmm or type(src1) is not Xmm or (type(src2) is not Xmm and type(src2) is not tuple):
            raise ValueError("%s: xmm, xmm, xmm/m" % op)
        opc = _FMA[op[:-2]]
        wbit = {"sd": 0x80, "ss": 0}[op[-2:]]
        code = self.code
        if type(src2) is tuple:
            xb = src2[4]
            modrm = src2[5] | (dst & 7) << 3
            tail = src2[6]
        else:
            xb = src2 >> 3
            modrm = 0xC0 | (dst & 7) << 3 | (src2 & 7)
            tail = b""
        code.append(0xC4)
        code.append((((dst >> 3) ^ 1) << 7) | (((xb >> 1) ^ 1) << 6) | (((xb & 1) ^ 1) << 5) | 0x02)
        code.append(wbit | ((~src1) & 15) << 3 | 0x01)
        code.append(opc)
        code.append(modrm)
        code += tail
