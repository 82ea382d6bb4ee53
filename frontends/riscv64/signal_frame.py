"""The riscv64 Linux signal frame (struct rt_sigframe): built on delivery, read back
by rt_sigreturn.

    frame + 0     siginfo (128 bytes)
    frame + 128   ucontext: uc_flags, uc_link, uc_stack (24), uc_sigmask (8) at +40,
                  padding to 168, then uc_mcontext (16-byte aligned) at +176:
    frame + 304     sc_regs: pc, x1..x31            (32 x 8)
    frame + 560     fp state: f0..f31 (32 x 8), fcsr (4), room for the Q layout
    frame + 1088  end (the frame is 16-byte aligned)

The handler returns to a two-instruction trampoline (`li a7, 139; ecall`:
rt_sigreturn) that the loader maps, since there is no vDSO.
"""
import struct

from .cpu import F0

FRAME_SIZE = 1088
UC = 128
MCTX = UC + 176
FP = MCTX + 256
SIGRETURN_CODE = struct.pack("<II", 0x08b00893, 0x00000073)   # li a7, 139 ; ecall


def siginfo(sig, info):
    code = info.get("code", 0)
    data = struct.pack("<iiii", sig, 0, code, 0)
    if "addr" in info:
        data += struct.pack("<Q", info["addr"])
    else:
        # (kill: pid, uid; sigqueue: + si_value; timers: si_tid, si_overrun, si_value;
        # SIGCHLD: pid, uid, si_status: "value" is the word at +24)
        data += struct.pack("<iIQ", info.get("pid", 0), info.get("uid", 0), info.get("value", 0) & (2**64 - 1))
    return data.ljust(128, b"\0")


def setup_frame(proc, cpu, sig, info, act, oldmask, sp=None):
    r = cpu.regs
    sp = r[2] if sp is None else sp
    frame = (sp - FRAME_SIZE) & ~15
    ss_sp, ss_flags, ss_size = proc.signals.altstack
    uc = struct.pack("<QQQiiQQ", 0, 0, ss_sp, ss_flags, 0, ss_size, oldmask).ljust(176, b"\0")
    regs = struct.pack("<32Q", cpu.pc, *r[1:32])
    fp = struct.pack("<32QI", *r[F0:F0 + 32], (cpu.frm << 5) | cpu.fflags)
    data = siginfo(sig, info) + uc + regs + fp
    proc.mem.write(frame, data.ljust(FRAME_SIZE, b"\0"))
    r[1] = proc.sigreturn_tramp
    r[2] = frame
    r[10] = sig
    r[11] = frame
    r[12] = frame + UC
    cpu.pc = act.handler


def restore_frame(proc, cpu):
    """Restore registers from the frame at sp; returns the saved signal mask."""
    r = cpu.regs
    frame = r[2]
    mem = proc.mem
    mask = struct.unpack("<Q", mem.read(frame + UC + 40, 8))[0]
    regs = struct.unpack("<32Q", mem.read(frame + MCTX, 256))
    fp = struct.unpack("<32QI", mem.read(frame + FP, 260))
    cpu.pc = regs[0]
    r[1:32] = regs[1:]
    r[F0:F0 + 32] = fp[:32]
    cpu.frm, cpu.fflags = (fp[32] >> 5) & 7, fp[32] & 0x1f
    return mask
