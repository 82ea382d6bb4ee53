"""Table-driven RV64GC instruction decoder.

Overview
--------
``decode(word)`` turns one instruction word into an :class:`Insn` (or None for
an illegal/reserved/unsupported encoding).

* 32-bit instructions (``word & 3 == 3``) are described by ONE table,
  :data:`ENCODINGS`: rows ``(name, mask, match, fmt)``; an instruction is
  ``name`` when ``word & mask == match``.  ``fmt`` names the operand format,
  i.e. which fields are extracted (see ``_FORMATS``).  The rows are written
  with the small helper :func:`_enc` (opcode/funct3/funct7/... keywords) so the
  table reads like the spec's opcode map.
* At import the table is compiled into buckets: major opcode (bits 6:0) ->
  ``(key_mask, {word & key_mask: candidates})`` where ``key_mask`` is the AND
  of all masks in that opcode's bucket (typically opcode|funct3|funct7) and
  ``candidates`` are the rows sharing that key, most specific mask first.
  A decode is therefore two dict lookups plus, nearly always, one mask test.
* 16-bit compressed instructions (``word & 3 != 3``) use a second small table,
  :data:`C_ENCODINGS`: rows ``(c_name, mask, match, nonzero, fmt, base_name)``.
  A row applies when ``h & mask == match`` and (if ``nonzero``) ``h & nonzero``
  is not 0, which is how the reserved "field must be non-zero" cases (c.lwsp
  rd=0, c.addi4spn nzuimm=0, c.lui imm=0, ...) fall through to None.  The
  row's expansion function builds the equivalent 32-bit instruction's Insn
  (base name and operand fields), with ``size=2``.  Buckets: bits 15:13 and
  1:0.

Field conventions (see also the Insn docstring): registers are ints 0..31
(F registers too), ``imm`` is the sign-extended immediate (shamt for shifts,
byte offset for branches/jumps, the final 64-bit value for lui/auipc, the
zero-extended 5-bit uimm for csrr*i), unused fields are None.

Only RV64 user-level G (IMAFD, Zicsr, Zifencei) + C is decoded: privileged
instructions (mret, wfi, sfence.vma...), Zfh, B, V etc. return None.
Spec choices where decoders differ: FENCE ignores fm/rs1/rd (fence.tso and
pause decode as 'fence'); FENCE.I ignores imm/rs1/rd; every FP op that has an
rm field decodes with any rm value (0..7), the lifter rejects 5/6 (and 7 if
frm is invalid at run time); compressed HINT encodings decode to their base
instruction; the all-zero halfword is illegal.
"""

__all__ = ['Insn', 'decode', 'c_name', 'NAMES', 'ENCODINGS', 'C_ENCODINGS']


class Insn:
    """One decoded instruction.

    name  base-ISA mnemonic ('addi', 'fadd.d', 'lr.w', ...); compressed
          instructions carry the name of their 32-bit expansion
    size  4, or 2 for a compressed instruction
    rd, rs1, rs2, rs3   register numbers 0..31 (x or f by instruction), or None
    imm   sign-extended immediate / shamt / byte offset / csr uimm, or None
    rm    FP rounding-mode field (0..7) for FP ops that have one, else None
    csr   12-bit CSR number for Zicsr instructions, else None
    aq, rl            A-extension ordering bits (0/1), else None
    pred, succ        FENCE predecessor/successor sets (4 bits: i o r w)
    raw   the instruction bits (16-bit halfword or 32-bit word)
    """
    __slots__ = ('name', 'size', 'rd', 'rs1', 'rs2', 'rs3', 'imm', 'rm', 'csr',
                 'aq', 'rl', 'pred', 'succ', 'raw')

    def __init__(self, name, size, rd, rs1, rs2, rs3, imm, rm, csr, aq, rl,
                 pred, succ, raw):
        self.name = name
        self.size = size
        self.rd = rd
        self.rs1 = rs1
        self.rs2 = rs2
        self.rs3 = rs3
        self.imm = imm
        self.rm = rm
        self.csr = csr
        self.aq = aq
        self.rl = rl
        self.pred = pred
        self.succ = succ
        self.raw = raw

    def __repr__(self):
        parts = [f'{f}={getattr(self, f)!r}' for f in self.__slots__[2:-1]
                 if getattr(self, f) is not None]
        parts.append(f'raw=0x{self.raw:0{self.size * 2}x}')
        return f'Insn({self.name!r}, size={self.size}, {", ".join(parts)})'


# ---------------------------------------------------------------------------
# 32-bit operand formats: fmt -> function(name, w) -> Insn
# ---------------------------------------------------------------------------

def _i_imm(w):
    return ((w >> 20) ^ 0x800) - 0x800


def _fmt_r(name, w):        # rd, rs1, rs2            add, fsgnj.s, feq.d ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31, None,
                None, None, None, None, None, None, None, w)


def _fmt_r_rm(name, w):     # rd, rs1, rs2, rm        fadd.s ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31, None,
                None, (w >> 12) & 7, None, None, None, None, None, w)


def _fmt_r1(name, w):       # rd, rs1                 fmv.x.w, fclass.s ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                None, None, None, None, None, None, None, w)


def _fmt_r1_rm(name, w):    # rd, rs1, rm             fsqrt.s, fcvt.* ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                None, (w >> 12) & 7, None, None, None, None, None, w)


def _fmt_r4(name, w):       # rd, rs1, rs2, rs3, rm   fmadd.s ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31, w >> 27,
                None, (w >> 12) & 7, None, None, None, None, None, w)


def _fmt_i(name, w):        # rd, rs1, imm12          addi, loads, jalr, flw ...
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                ((w >> 20) ^ 0x800) - 0x800, None, None, None, None, None, None, w)


def _fmt_sh6(name, w):      # rd, rs1, shamt6         slli, srli, srai
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                (w >> 20) & 63, None, None, None, None, None, None, w)


def _fmt_sh5(name, w):      # rd, rs1, shamt5         slliw, srliw, sraiw
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                (w >> 20) & 31, None, None, None, None, None, None, w)


def _fmt_s(name, w):        # rs1, rs2, imm12         stores
    imm = ((w >> 7) & 0x1f) | ((w >> 20) & 0xfe0)
    return Insn(name, 4, None, (w >> 15) & 31, (w >> 20) & 31, None,
                (imm ^ 0x800) - 0x800, None, None, None, None, None, None, w)


def _fmt_b(name, w):        # rs1, rs2, offset13      branches
    imm = (((w >> 19) & 0x1000) | ((w << 4) & 0x800) | ((w >> 20) & 0x7e0)
           | ((w >> 7) & 0x1e))
    return Insn(name, 4, None, (w >> 15) & 31, (w >> 20) & 31, None,
                (imm ^ 0x1000) - 0x1000, None, None, None, None, None, None, w)


def _fmt_u(name, w):        # rd, imm32 (already << 12, sign-extended)
    return Insn(name, 4, (w >> 7) & 31, None, None, None,
                ((w & 0xfffff000) ^ 0x80000000) - 0x80000000,
                None, None, None, None, None, None, w)


def _fmt_j(name, w):        # rd, offset21            jal
    imm = (((w >> 11) & 0x100000) | (w & 0xff000) | ((w >> 9) & 0x800)
           | ((w >> 20) & 0x7fe))
    return Insn(name, 4, (w >> 7) & 31, None, None, None,
                (imm ^ 0x100000) - 0x100000, None, None, None, None, None, None, w)


def _fmt_amo(name, w):      # rd, rs1, rs2, aq, rl
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, (w >> 20) & 31, None,
                None, None, None, (w >> 26) & 1, (w >> 25) & 1, None, None, w)


def _fmt_lr(name, w):       # rd, rs1, aq, rl
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                None, None, None, (w >> 26) & 1, (w >> 25) & 1, None, None, w)


def _fmt_csr(name, w):      # rd, rs1, csr
    return Insn(name, 4, (w >> 7) & 31, (w >> 15) & 31, None, None,
                None, None, w >> 20, None, None, None, None, w)


def _fmt_csri(name, w):     # rd, uimm5 (in imm), csr
    return Insn(name, 4, (w >> 7) & 31, None, None, None,
                (w >> 15) & 31, None, w >> 20, None, None, None, None, w)


def _fmt_fence(name, w):    # pred, succ
    return Insn(name, 4, None, None, None, None, None, None, None, None, None,
                (w >> 24) & 15, (w >> 20) & 15, w)


def _fmt_none(name, w):     # ecall, ebreak, fence.i
    return Insn(name, 4, None, None, None, None, None, None, None, None, None,
                None, None, w)


_FORMATS = {
    'R': _fmt_r, 'R_RM': _fmt_r_rm, 'R1': _fmt_r1, 'R1_RM': _fmt_r1_rm,
    'R4': _fmt_r4, 'I': _fmt_i, 'SH6': _fmt_sh6, 'SH5': _fmt_sh5, 'S': _fmt_s,
    'B': _fmt_b, 'U': _fmt_u, 'J': _fmt_j, 'AMO': _fmt_amo, 'LR': _fmt_lr,
    'CSR': _fmt_csr, 'CSRI': _fmt_csri, 'FENCE': _fmt_fence, 'NONE': _fmt_none,
}


# ---------------------------------------------------------------------------
# The 32-bit encoding table
# ---------------------------------------------------------------------------

# (shift, width) of the fixed fields an encoding can pin down
_FIELDS = {
    'opcode': (0, 7), 'rd': (7, 5), 'funct3': (12, 3), 'rs1': (15, 5),
    'rs2': (20, 5), 'funct7': (25, 7), 'funct6': (26, 6), 'funct5': (27, 5),
    'fp_fmt': (25, 2), 'imm12': (20, 12),
}


def _enc(name, fmt, **fields):
    """One table row: name, fmt, and fixed fields -> (name, mask, match, fmt)."""
    mask = match = 0
    for field, value in fields.items():
        shift, width = _FIELDS[field]
        assert 0 <= value < (1 << width), (name, field, value)
        mask |= ((1 << width) - 1) << shift
        match |= value << shift
    return (name, mask, match, fmt)


def _build_table():
    t = []
    e = lambda name, fmt, **kw: t.append(_enc(name, fmt, **kw))

    # --- RV64I ---
    e('lui', 'U', opcode=0x37)
    e('auipc', 'U', opcode=0x17)
    e('jal', 'J', opcode=0x6f)
    e('jalr', 'I', opcode=0x67, funct3=0)
    for f3, n in enumerate(('beq', 'bne', None, None, 'blt', 'bge', 'bltu', 'bgeu')):
        if n:
            e(n, 'B', opcode=0x63, funct3=f3)
    for f3, n in enumerate(('lb', 'lh', 'lw', 'ld', 'lbu', 'lhu', 'lwu')):
        e(n, 'I', opcode=0x03, funct3=f3)
    for f3, n in enumerate(('sb', 'sh', 'sw', 'sd')):
        e(n, 'S', opcode=0x23, funct3=f3)
    for f3, n in ((0, 'addi'), (2, 'slti'), (3, 'sltiu'), (4, 'xori'),
                  (6, 'ori'), (7, 'andi')):
        e(n, 'I', opcode=0x13, funct3=f3)
    e('slli', 'SH6', opcode=0x13, funct3=1, funct6=0x00)
    e('srli', 'SH6', opcode=0x13, funct3=5, funct6=0x00)
    e('srai', 'SH6', opcode=0x13, funct3=5, funct6=0x10)
    for f7, f3, n in ((0x00, 0, 'add'), (0x20, 0, 'sub'), (0x00, 1, 'sll'),
                      (0x00, 2, 'slt'), (0x00, 3, 'sltu'), (0x00, 4, 'xor'),
                      (0x00, 5, 'srl'), (0x20, 5, 'sra'), (0x00, 6, 'or'),
                      (0x00, 7, 'and')):
        e(n, 'R', opcode=0x33, funct3=f3, funct7=f7)
    e('fence', 'FENCE', opcode=0x0f, funct3=0)      # fm, rs1, rd ignored
    e('fence.i', 'NONE', opcode=0x0f, funct3=1)     # imm, rs1, rd ignored
    e('ecall', 'NONE', opcode=0x73, funct3=0, rd=0, rs1=0, imm12=0)
    e('ebreak', 'NONE', opcode=0x73, funct3=0, rd=0, rs1=0, imm12=1)
    e('addiw', 'I', opcode=0x1b, funct3=0)
    e('slliw', 'SH5', opcode=0x1b, funct3=1, funct7=0x00)
    e('srliw', 'SH5', opcode=0x1b, funct3=5, funct7=0x00)
    e('sraiw', 'SH5', opcode=0x1b, funct3=5, funct7=0x20)
    for f7, f3, n in ((0x00, 0, 'addw'), (0x20, 0, 'subw'), (0x00, 1, 'sllw'),
                      (0x00, 5, 'srlw'), (0x20, 5, 'sraw')):
        e(n, 'R', opcode=0x3b, funct3=f3, funct7=f7)

    # --- M ---
    for f3, n in enumerate(('mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu',
                            'rem', 'remu')):
        e(n, 'R', opcode=0x33, funct3=f3, funct7=0x01)
    for f3, n in ((0, 'mulw'), (4, 'divw'), (5, 'divuw'), (6, 'remw'), (7, 'remuw')):
        e(n, 'R', opcode=0x3b, funct3=f3, funct7=0x01)

    # --- A --- (funct5 in bits 31:27, aq bit 26, rl bit 25)
    for f3, sfx in ((2, '.w'), (3, '.d')):
        e('lr' + sfx, 'LR', opcode=0x2f, funct3=f3, funct5=0x02, rs2=0)
        e('sc' + sfx, 'AMO', opcode=0x2f, funct3=f3, funct5=0x03)
        for f5, n in ((0x01, 'amoswap'), (0x00, 'amoadd'), (0x04, 'amoxor'),
                      (0x0c, 'amoand'), (0x08, 'amoor'), (0x10, 'amomin'),
                      (0x14, 'amomax'), (0x18, 'amominu'), (0x1c, 'amomaxu')):
            e(n + sfx, 'AMO', opcode=0x2f, funct3=f3, funct5=f5)

    # --- Zicsr ---
    for f3, n in ((1, 'csrrw'), (2, 'csrrs'), (3, 'csrrc')):
        e(n, 'CSR', opcode=0x73, funct3=f3)
    for f3, n in ((5, 'csrrwi'), (6, 'csrrsi'), (7, 'csrrci')):
        e(n, 'CSRI', opcode=0x73, funct3=f3)

    # --- F and D --- (fmt field bits 26:25: 0 = S, 1 = D)
    e('flw', 'I', opcode=0x07, funct3=2)
    e('fld', 'I', opcode=0x07, funct3=3)
    e('fsw', 'S', opcode=0x27, funct3=2)
    e('fsd', 'S', opcode=0x27, funct3=3)
    for fmt, s in ((0, 's'), (1, 'd')):
        x = 'w' if s == 's' else 'd'        # integer-move width: fmv.x.w / fmv.x.d
        for opc, n in ((0x43, 'fmadd'), (0x47, 'fmsub'), (0x4b, 'fnmsub'),
                       (0x4f, 'fnmadd')):
            e(f'{n}.{s}', 'R4', opcode=opc, fp_fmt=fmt)
        for f5, n in ((0x00, 'fadd'), (0x01, 'fsub'), (0x02, 'fmul'), (0x03, 'fdiv')):
            e(f'{n}.{s}', 'R_RM', opcode=0x53, funct7=f5 << 2 | fmt)
        e(f'fsqrt.{s}', 'R1_RM', opcode=0x53, funct7=0x2c | fmt, rs2=0)
        for f3, n in ((0, 'fsgnj'), (1, 'fsgnjn'), (2, 'fsgnjx')):
            e(f'{n}.{s}', 'R', opcode=0x53, funct7=0x10 | fmt, funct3=f3)
        for f3, n in ((0, 'fmin'), (1, 'fmax')):
            e(f'{n}.{s}', 'R', opcode=0x53, funct7=0x14 | fmt, funct3=f3)
        for f3, n in ((2, 'feq'), (1, 'flt'), (0, 'fle')):
            e(f'{n}.{s}', 'R', opcode=0x53, funct7=0x50 | fmt, funct3=f3)
        for r2, i in enumerate(('w', 'wu', 'l', 'lu')):
            e(f'fcvt.{i}.{s}', 'R1_RM', opcode=0x53, funct7=0x60 | fmt, rs2=r2)
            e(f'fcvt.{s}.{i}', 'R1_RM', opcode=0x53, funct7=0x68 | fmt, rs2=r2)
        e(f'fmv.x.{x}', 'R1', opcode=0x53, funct7=0x70 | fmt, rs2=0, funct3=0)
        e(f'fclass.{s}', 'R1', opcode=0x53, funct7=0x70 | fmt, rs2=0, funct3=1)
        e(f'fmv.{x}.x', 'R1', opcode=0x53, funct7=0x78 | fmt, rs2=0, funct3=0)
    e('fcvt.s.d', 'R1_RM', opcode=0x53, funct7=0x20, rs2=1)
    e('fcvt.d.s', 'R1_RM', opcode=0x53, funct7=0x21, rs2=0)
    return t


#: The 32-bit encoding table: (name, mask, match, fmt) rows.
ENCODINGS = tuple(_build_table())


def _compile(table, key_of_row):
    """Bucket rows by major opcode; inside a bucket by the mask common to all
    its rows; candidates most specific first.
    -> {opcode: (key_mask, {word & key_mask: candidates})}"""
    buckets = {}
    for row in table:
        buckets.setdefault(row[2] & 0x7f, []).append(row)
    out = {}
    for b, rows in buckets.items():
        key_mask = ~0
        for row in rows:
            key_mask &= row[1]
        key_mask &= 0xffffffff
        sub = {}
        for row in rows:
            sub.setdefault(row[2] & key_mask, []).append(row)
        out[b] = (key_mask, {k: tuple(key_of_row(r) for r in sorted(
            v, key=lambda r: -bin(r[1]).count('1'))) for k, v in sub.items()})
    return out


def _check_table():
    names = [r[0] for r in ENCODINGS]
    assert len(names) == len(set(names)), 'duplicate names in ENCODINGS'
    for r in ENCODINGS:
        assert r[1] & 0x7f == 0x7f and r[2] & 3 == 3, r


_check_table()
_BUCKETS = _compile(ENCODINGS, lambda r: (r[1], r[2], _FORMATS[r[3]], r[0]))


# ---------------------------------------------------------------------------
# Compressed (RVC) expansions: fmt -> function(name, h) -> Insn (size 2)
# ---------------------------------------------------------------------------

def _c_addi4spn(name, h):   # addi rd', x2, nzuimm
    imm = (((h >> 7) & 0x30) | ((h >> 1) & 0x3c0) | ((h >> 4) & 0x4)
           | ((h >> 2) & 0x8))
    return Insn(name, 2, 8 + ((h >> 2) & 7), 2, None, None, imm,
                None, None, None, None, None, None, h)


def _c_load_w(name, h):     # lw rd', uimm(rs1')
    imm = ((h >> 7) & 0x38) | ((h >> 4) & 0x4) | ((h << 1) & 0x40)
    return Insn(name, 2, 8 + ((h >> 2) & 7), 8 + ((h >> 7) & 7), None, None, imm,
                None, None, None, None, None, None, h)


def _c_load_d(name, h):     # ld/fld rd', uimm(rs1')
    imm = ((h >> 7) & 0x38) | ((h << 1) & 0xc0)
    return Insn(name, 2, 8 + ((h >> 2) & 7), 8 + ((h >> 7) & 7), None, None, imm,
                None, None, None, None, None, None, h)


def _c_store_w(name, h):    # sw rs2', uimm(rs1')
    imm = ((h >> 7) & 0x38) | ((h >> 4) & 0x4) | ((h << 1) & 0x40)
    return Insn(name, 2, None, 8 + ((h >> 7) & 7), 8 + ((h >> 2) & 7), None, imm,
                None, None, None, None, None, None, h)


def _c_store_d(name, h):    # sd/fsd rs2', uimm(rs1')
    imm = ((h >> 7) & 0x38) | ((h << 1) & 0xc0)
    return Insn(name, 2, None, 8 + ((h >> 7) & 7), 8 + ((h >> 2) & 7), None, imm,
                None, None, None, None, None, None, h)


def _ci_imm(h):             # imm[5] = bit 12, imm[4:0] = bits 6:2, signed
    return ((((h >> 7) & 0x20) | ((h >> 2) & 0x1f)) ^ 0x20) - 0x20


def _c_addi(name, h):       # addi/addiw rd, rd, imm  (c.nop is addi x0)
    rd = (h >> 7) & 31
    return Insn(name, 2, rd, rd, None, None, _ci_imm(h),
                None, None, None, None, None, None, h)


def _c_li(name, h):         # addi rd, x0, imm
    return Insn(name, 2, (h >> 7) & 31, 0, None, None, _ci_imm(h),
                None, None, None, None, None, None, h)


def _c_lui(name, h):        # lui rd, nzimm << 12
    return Insn(name, 2, (h >> 7) & 31, None, None, None, _ci_imm(h) << 12,
                None, None, None, None, None, None, h)


def _c_addi16sp(name, h):   # addi x2, x2, nzimm
    imm = (((h >> 3) & 0x200) | ((h >> 2) & 0x10) | ((h << 1) & 0x40)
           | ((h << 4) & 0x180) | ((h << 3) & 0x20))
    return Insn(name, 2, 2, 2, None, None, (imm ^ 0x200) - 0x200,
                None, None, None, None, None, None, h)


def _c_shift_p(name, h):    # srli/srai rd', rd', shamt6
    rd = 8 + ((h >> 7) & 7)
    return Insn(name, 2, rd, rd, None, None, ((h >> 7) & 0x20) | ((h >> 2) & 0x1f),
                None, None, None, None, None, None, h)


def _c_andi(name, h):       # andi rd', rd', imm
    rd = 8 + ((h >> 7) & 7)
    return Insn(name, 2, rd, rd, None, None, _ci_imm(h),
                None, None, None, None, None, None, h)


def _c_arith(name, h):      # sub/xor/or/and/subw/addw rd', rd', rs2'
    rd = 8 + ((h >> 7) & 7)
    return Insn(name, 2, rd, rd, 8 + ((h >> 2) & 7), None, None,
                None, None, None, None, None, None, h)


def _c_j(name, h):          # jal x0, offset
    imm = (((h >> 1) & 0x800) | ((h >> 7) & 0x10) | ((h >> 1) & 0x300)
           | ((h << 2) & 0x400) | ((h >> 1) & 0x40) | ((h << 1) & 0x80)
           | ((h >> 2) & 0xe) | ((h << 3) & 0x20))
    return Insn(name, 2, 0, None, None, None, (imm ^ 0x800) - 0x800,
                None, None, None, None, None, None, h)


def _c_branch(name, h):     # beq/bne rs1', x0, offset
    imm = (((h >> 4) & 0x100) | ((h >> 7) & 0x18) | ((h << 1) & 0xc0)
           | ((h >> 2) & 0x6) | ((h << 3) & 0x20))
    return Insn(name, 2, None, 8 + ((h >> 7) & 7), 0, None, (imm ^ 0x100) - 0x100,
                None, None, None, None, None, None, h)


def _c_slli(name, h):       # slli rd, rd, shamt6
    rd = (h >> 7) & 31
    return Insn(name, 2, rd, rd, None, None, ((h >> 7) & 0x20) | ((h >> 2) & 0x1f),
                None, None, None, None, None, None, h)


def _c_lwsp(name, h):       # lw rd, uimm(x2)
    imm = ((h >> 7) & 0x20) | ((h >> 2) & 0x1c) | ((h << 4) & 0xc0)
    return Insn(name, 2, (h >> 7) & 31, 2, None, None, imm,
                None, None, None, None, None, None, h)


def _c_ldsp(name, h):       # ld/fld rd, uimm(x2)
    imm = ((h >> 7) & 0x20) | ((h >> 2) & 0x18) | ((h << 4) & 0x1c0)
    return Insn(name, 2, (h >> 7) & 31, 2, None, None, imm,
                None, None, None, None, None, None, h)


def _c_swsp(name, h):       # sw rs2, uimm(x2)
    imm = ((h >> 7) & 0x3c) | ((h >> 1) & 0xc0)
    return Insn(name, 2, None, 2, (h >> 2) & 31, None, imm,
                None, None, None, None, None, None, h)


def _c_sdsp(name, h):       # sd/fsd rs2, uimm(x2)
    imm = ((h >> 7) & 0x38) | ((h >> 1) & 0x1c0)
    return Insn(name, 2, None, 2, (h >> 2) & 31, None, imm,
                None, None, None, None, None, None, h)


def _c_jr(name, h):         # jalr x0, 0(rs1)
    return Insn(name, 2, 0, (h >> 7) & 31, None, None, 0,
                None, None, None, None, None, None, h)


def _c_jalr(name, h):       # jalr x1, 0(rs1)
    return Insn(name, 2, 1, (h >> 7) & 31, None, None, 0,
                None, None, None, None, None, None, h)


def _c_mv(name, h):         # add rd, x0, rs2
    return Insn(name, 2, (h >> 7) & 31, 0, (h >> 2) & 31, None, None,
                None, None, None, None, None, None, h)


def _c_add(name, h):        # add rd, rd, rs2
    rd = (h >> 7) & 31
    return Insn(name, 2, rd, rd, (h >> 2) & 31, None, None,
                None, None, None, None, None, None, h)


def _c_none(name, h):       # ebreak
    return Insn(name, 2, None, None, None, None, None,
                None, None, None, None, None, None, h)


_RD = 0x0f80        # bits 11:7 (rd / rs1 of CI/CR formats)
_RS2 = 0x007c       # bits 6:2
_CI = 0x107c        # bits 12, 6:2 (CI immediate)

#: The compressed table: (c_name, mask, match, nonzero, expansion, base_name).
#: Rows apply when h & mask == match and (nonzero == 0 or h & nonzero != 0);
#: within a funct3/quadrant bucket the first applicable row wins (more
#: specific rows are listed first).
C_ENCODINGS = (
    # quadrant 0
    ('c.addi4spn', 0xe003, 0x0000, 0x1fe0, _c_addi4spn, 'addi'),
    ('c.fld',      0xe003, 0x2000, 0,      _c_load_d,   'fld'),
    ('c.lw',       0xe003, 0x4000, 0,      _c_load_w,   'lw'),
    ('c.ld',       0xe003, 0x6000, 0,      _c_load_d,   'ld'),
    ('c.fsd',      0xe003, 0xa000, 0,      _c_store_d,  'fsd'),
    ('c.sw',       0xe003, 0xc000, 0,      _c_store_w,  'sw'),
    ('c.sd',       0xe003, 0xe000, 0,      _c_store_d,  'sd'),
    # quadrant 1
    ('c.addi',     0xe003, 0x0001, 0,      _c_addi,     'addi'),    # incl. c.nop
    ('c.addiw',    0xe003, 0x2001, _RD,    _c_addi,     'addiw'),
    ('c.li',       0xe003, 0x4001, 0,      _c_li,       'addi'),
    ('c.addi16sp', 0xef83, 0x6101, _CI,    _c_addi16sp, 'addi'),
    ('c.lui',      0xe003, 0x6001, _CI,    _c_lui,      'lui'),     # rd != 2
    ('c.srli',     0xec03, 0x8001, 0,      _c_shift_p,  'srli'),
    ('c.srai',     0xec03, 0x8401, 0,      _c_shift_p,  'srai'),
    ('c.andi',     0xec03, 0x8801, 0,      _c_andi,     'andi'),
    ('c.sub',      0xfc63, 0x8c01, 0,      _c_arith,    'sub'),
    ('c.xor',      0xfc63, 0x8c21, 0,      _c_arith,    'xor'),
    ('c.or',       0xfc63, 0x8c41, 0,      _c_arith,    'or'),
    ('c.and',      0xfc63, 0x8c61, 0,      _c_arith,    'and'),
    ('c.subw',     0xfc63, 0x9c01, 0,      _c_arith,    'subw'),
    ('c.addw',     0xfc63, 0x9c21, 0,      _c_arith,    'addw'),
    ('c.j',        0xe003, 0xa001, 0,      _c_j,        'jal'),
    ('c.beqz',     0xe003, 0xc001, 0,      _c_branch,   'beq'),
    ('c.bnez',     0xe003, 0xe001, 0,      _c_branch,   'bne'),
    # quadrant 2
    ('c.slli',     0xe003, 0x0002, 0,      _c_slli,     'slli'),
    ('c.fldsp',    0xe003, 0x2002, 0,      _c_ldsp,     'fld'),
    ('c.lwsp',     0xe003, 0x4002, _RD,    _c_lwsp,     'lw'),
    ('c.ldsp',     0xe003, 0x6002, _RD,    _c_ldsp,     'ld'),
    ('c.jr',       0xf07f, 0x8002, _RD,    _c_jr,       'jalr'),
    ('c.mv',       0xf003, 0x8002, _RS2,   _c_mv,       'add'),
    ('c.ebreak',   0xffff, 0x9002, 0,      _c_none,     'ebreak'),
    ('c.jalr',     0xf07f, 0x9002, _RD,    _c_jalr,     'jalr'),
    ('c.add',      0xf003, 0x9002, _RS2,   _c_add,      'add'),
    ('c.fsdsp',    0xe003, 0xa002, 0,      _c_sdsp,     'fsd'),
    ('c.swsp',     0xe003, 0xc002, 0,      _c_swsp,     'sw'),
    ('c.sdsp',     0xe003, 0xe002, 0,      _c_sdsp,     'sd'),
)


def _compile_c():
    buckets = {}
    for cname, mask, match, nz, fn, name in C_ENCODINGS:
        buckets.setdefault(match & 0xe003, []).append((mask, match, nz, fn, name))
    return {k: tuple(v) for k, v in buckets.items()}


_C_BUCKETS = _compile_c()

#: Every name decode() can return.
NAMES = frozenset(r[0] for r in ENCODINGS) | frozenset(r[5] for r in C_ENCODINGS)
assert NAMES == frozenset(r[0] for r in ENCODINGS)


def decode(word):
    """Decode one instruction -> Insn, or None if illegal/reserved/unknown.

    ``word & 3 != 3``: 16-bit compressed instruction (low 16 bits used),
    otherwise a 32-bit instruction (low 32 bits used)."""
    if word & 3 != 3:
        h = word & 0xffff
        for mask, match, nz, fn, name in _C_BUCKETS.get(h & 0xe003, ()):
            if h & mask == match and (not nz or h & nz):
                return fn(name, h)
        return None
    w = word & 0xffffffff
    bucket = _BUCKETS.get(w & 0x7f)
    if bucket is None:
        return None
    key_mask, sub = bucket
    cands = sub.get(w & key_mask)
    if cands is not None:
        for mask, match, fn, name in cands:
            if w & mask == match:
                return fn(name, w)
    return None


def c_name(word):
    """The RVC mnemonic ('c.addi4spn', ...) of a compressed halfword, or None
    (for disassembly listings; decode() returns the expanded instruction)."""
    h = word & 0xffff
    if h & 3 == 3:
        return None
    for cname, mask, match, nz, fn, name in C_ENCODINGS:
        if h & mask == match and (not nz or h & nz):
            return cname
    return None
