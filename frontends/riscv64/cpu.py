"""riscv64 CPU state: the IR globals and the few pieces of state helpers touch.

`regs` is the global array the IR's getreg/setreg index: x0..x31 at 0..31 and
f0..f31 (raw 64-bit patterns, single precision NaN-boxed) at 32..63.  x0 stays 0
because the register accessor never writes it.  fflags/frm live outside `regs`
because only helpers touch them.
"""
NREGS = 64
F0 = 32

XNAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
          "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
FNAMES = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
          "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()


class CPU:
    def __init__(self, mem):
        self.mem = mem
        self.reset()

    def reset(self):
        """The state a new program image starts from (execve)."""
        self.regs = [0] * NREGS
        self.pc = 0
        self.fflags = 0
        self.frm = 0
        self.reservation = None     # (addr, size, value) of the last lr
        self.insns_base = 0         # for instret

    def copy(self):
        c = CPU(self.mem)
        c.regs = list(self.regs)
        c.pc, c.fflags, c.frm = self.pc, self.fflags, self.frm
        return c

    def dump(self):
        """-d cpu text"""
        lines = [f" pc       {self.pc:016x}"]
        for i in range(0, 32, 4):
            lines.append(" ".join(f"{XNAMES[j]:>4} {self.regs[j]:016x}" for j in range(i, i + 4)))
        for i in range(0, 32, 4):
            lines.append(" ".join(f"{FNAMES[j]:>4} {self.regs[F0 + j]:016x}" for j in range(i, i + 4)))
        lines.append(f" fflags {self.fflags:02x} frm {self.frm}")
        return "\n".join(lines) + "\n"
