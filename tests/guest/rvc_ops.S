/* Compressed (RVC) instructions, written with explicit c. mnemonics so each
 * one is a 16-bit encoding.  Each function stores its results into the
 * uint64_t array passed in a0; rvc.c prints them. */

    .option rvc
    .text

/* void rvc_alu(uint64_t *out, uint64_t x, uint64_t y)
 * a0 = out, a1 = x, a2 = y */
    .globl rvc_alu
    .type rvc_alu, @function
rvc_alu:
    c.li    a3, -32
    c.sd    a3, 0(a0)
    c.li    a3, 31
    c.sd    a3, 8(a0)
    c.li    a3, 0
    c.sd    a3, 16(a0)
    c.lui   a3, 1               /* 0x1000 */
    c.sd    a3, 24(a0)
    c.lui   a3, 0x1f            /* 0x1f000 */
    c.sd    a3, 32(a0)
    c.lui   a3, 0xfffe0         /* sign-extended: 0xfffffffffffe0000 */
    c.sd    a3, 40(a0)
    c.lui   a3, 0xfffff         /* 0xfffffffffffff000 */
    c.sd    a3, 48(a0)
    c.mv    a3, a1
    c.addi  a3, -32
    c.sd    a3, 56(a0)
    c.mv    a3, a1
    c.addi  a3, 31
    c.sd    a3, 64(a0)
    c.mv    a3, a1
    c.addiw a3, 1               /* sign-extends the 32-bit sum */
    c.sd    a3, 72(a0)
    c.mv    a3, a1
    c.addiw a3, 0               /* sext.w */
    c.sd    a3, 80(a0)
    c.mv    a3, a1
    c.slli  a3, 1
    c.sd    a3, 88(a0)
    c.mv    a3, a1
    c.slli  a3, 63
    c.sd    a3, 96(a0)
    c.mv    a3, a1
    c.srli  a3, 1
    c.sd    a3, 104(a0)
    c.mv    a3, a1
    c.srli  a3, 63
    c.sd    a3, 112(a0)
    c.mv    a3, a1
    c.srai  a3, 1
    c.sd    a3, 120(a0)
    c.mv    a3, a1
    c.srai  a3, 32
    c.sd    a3, 128(a0)
    c.mv    a3, a1
    c.andi  a3, -1
    c.sd    a3, 136(a0)
    c.mv    a3, a1
    c.andi  a3, 0x15
    c.sd    a3, 144(a0)
    c.mv    a3, a1
    c.andi  a3, -32
    c.sd    a3, 152(a0)
    c.mv    a3, a1
    c.add   a3, a2
    c.sd    a3, 160(a0)
    c.mv    a3, a1
    c.sub   a3, a2
    c.sd    a3, 168(a0)
    c.mv    a3, a1
    c.and   a3, a2
    c.sd    a3, 176(a0)
    c.mv    a3, a1
    c.or    a3, a2
    c.sd    a3, 184(a0)
    c.mv    a3, a1
    c.xor   a3, a2
    c.sd    a3, 192(a0)
    c.mv    a3, a1
    c.addw  a3, a2
    c.sd    a3, 200(a0)
    c.mv    a3, a1
    c.subw  a3, a2
    c.sd    a3, 208(a0)
    c.nop
    /* c.mv / c.add with a full (non-prime) register */
    c.mv    t1, a1
    c.add   t1, a2
    c.mv    a3, t1
    c.sd    a3, 216(a0)
    c.li    t2, 5
    c.slli  t2, 4
    c.mv    a3, t2
    c.sd    a3, 224(a0)
    /* c.addiw on a large value (wraps at 32 bits) */
    c.mv    a3, a1
    c.addiw a3, -1
    c.sd    a3, 232(a0)
    c.jr    ra
    .size rvc_alu, . - rvc_alu

/* void rvc_mem(uint64_t *out, uint64_t *buf)
 * a0 = out, a1 = buf (8 words, word 0..3 initialised by the caller) */
    .globl rvc_mem
    .type rvc_mem, @function
rvc_mem:
    c.addi16sp sp, -64
    c.ld    a3, 0(a1)
    c.sd    a3, 0(a0)
    c.lw    a3, 8(a1)           /* sign-extended */
    c.sd    a3, 8(a0)
    c.lw    a3, 12(a1)
    c.sd    a3, 16(a0)
    c.ld    a3, 24(a1)
    c.sw    a3, 32(a1)          /* low 32 bits only */
    c.sd    a3, 40(a1)
    c.ld    a3, 32(a1)
    c.sd    a3, 24(a0)
    c.ld    a3, 40(a1)
    c.sd    a3, 32(a0)
    /* stack-pointer relative forms */
    c.ld    a3, 0(a1)
    c.sdsp  a3, 0(sp)
    c.ld    a3, 8(a1)
    c.sdsp  a3, 56(sp)
    c.swsp  a3, 16(sp)
    c.ldsp  a4, 0(sp)
    c.sd    a4, 40(a0)
    c.ldsp  a4, 56(sp)
    c.sd    a4, 48(a0)
    c.lwsp  a4, 16(sp)
    c.sd    a4, 56(a0)
    /* c.addi4spn: a4 = sp + 16 -> offset from sp, i.e. 16 */
    c.addi4spn a4, sp, 16
    sub     a4, a4, sp
    c.sd    a4, 64(a0)
    c.addi4spn a4, sp, 1020
    sub     a4, a4, sp
    c.sd    a4, 72(a0)
    /* floating point: c.fld / c.fsd / c.fldsp / c.fsdsp move raw bits */
    c.fld   fa0, 16(a1)
    c.fsd   fa0, 48(a1)
    c.ld    a3, 48(a1)
    c.sd    a3, 80(a0)
    c.fsdsp fa0, 24(sp)
    c.fldsp fa1, 24(sp)
    fmv.x.d a3, fa1
    c.sd    a3, 88(a0)
    c.addi16sp sp, 64
    c.mv    a4, sp
    c.addi16sp sp, -512
    sub     a4, a4, sp
    c.addi16sp sp, 496
    c.addi16sp sp, 16
    c.sd    a4, 96(a0)
    c.jr    ra
    .size rvc_mem, . - rvc_mem

/* void rvc_ctrl(uint64_t *out, uint64_t x)
 * a0 = out, a1 = x */
    .globl rvc_ctrl
    .type rvc_ctrl, @function
rvc_ctrl:
    c.mv    t0, ra
    c.li    a3, 0
    c.beqz  a1, 1f
    c.addi  a3, 1               /* x != 0 */
1:  c.bnez  a1, 2f
    c.addi  a3, 2               /* x == 0 */
2:  c.j     3f
    c.addi  a3, 4               /* never */
3:  c.sd    a3, 0(a0)
    /* c.jalr: link is pc + 2 */
    lla     a5, 5f
4:  c.jalr  a5
5:  sub     a4, ra, a5          /* link - target == 0 */
    c.sd    a4, 8(a0)
    lla     a4, 4b
    sub     a4, ra, a4          /* link - jalr address == 2 */
    c.sd    a4, 16(a0)
    /* c.jr to a computed target */
    lla     a5, 6f
    c.li    a3, 9
    c.jr    a5
    c.li    a3, 7               /* skipped */
6:  c.sd    a3, 24(a0)
    /* countdown loop made of compressed instructions only */
    c.li    a3, 0
    c.li    a4, 20
7:  c.addi  a3, 3
    c.addi  a4, -1
    c.bnez  a4, 7b
    c.sd    a3, 32(a0)
    c.mv    ra, t0
    c.jr    ra
    .size rvc_ctrl, . - rvc_ctrl

/* long rvc_call(long (*fn)(long), long v): calls fn through c.jalr */
    .globl rvc_call
    .type rvc_call, @function
rvc_call:
    c.addi  sp, -16
    c.sdsp  ra, 8(sp)
    c.mv    a5, a0
    c.mv    a0, a1
    c.jalr  a5
    c.addi  a0, 1
    c.ldsp  ra, 8(sp)
    c.addi  sp, 16
    c.jr    ra
    .size rvc_call, . - rvc_call

    .section .note.GNU-stack,"",@progbits
