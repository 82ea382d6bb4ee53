"""The riscv64 frontend object: everything the arch-neutral runtime asks a guest ISA."""
from pydbt.runtime.syscall_numbers import RISCV64

from .cpu import CPU, XNAMES, FNAMES
from .trans_rvi import TIMEBASE_HZ
from . import signal_frame

# AT_HWCAP: one bit per single-letter extension, 'A' = bit 0
_HWCAP = sum(1 << (ord(ch) - ord("A")) for ch in "IMAFDC")

# riscv_hwprobe's keys (the kernel's asm/hwprobe.h) -> this CPU's values, the
# same on every CPU (HIGHEST_VIRT_ADDRESS, key 7, is the guest space's: hwprobe)
_HWPROBE = {
    0: 0, 1: 0, 2: 0,               # mvendorid, marchid, mimpid (as /proc/cpuinfo)
    3: 1,                           # BASE_BEHAVIOR: IMA
    4: 1 | 2,                       # IMA_EXT_0: FD, C (no V, no Zb*, no Zicboz ...)
    5: 3,                           # CPUPERF_0: misaligned accesses FAST (native code's loads and
    9: 3,                           # MISALIGNED_SCALAR_PERF  stores are plain host ones, no trap)
    6: 0,                           # ZICBOZ_BLOCK_SIZE: no Zicboz
    8: TIMEBASE_HZ,                 # TIME_CSR_FREQ
    10: 4,                          # MISALIGNED_VECTOR_PERF: unsupported (no V)
}


class Riscv64:
    name = "riscv64"
    elf_machine = 243
    elf_class = 64
    uname_machine = "riscv64"
    abi = "generic64"
    hwcap = _HWCAP
    page_size = 4096
    syscall_names = RISCV64
    stack_align = 16
    exec_stack_default = False      # no PT_GNU_STACK: the kernel gives riscv64 a non-executable stack
    insn_align = 2
    cpu_models = {"rv64": "RV64GC (imafdc, zicsr, zifencei)", "any": "same as rv64", "max": "same as rv64"}

    def cpuinfo(self, ncpus):
        """/proc/cpuinfo text"""
        return "".join(f"processor\t: {i}\nhart\t\t: {i}\nisa\t\t: rv64imafdc_zicsr_zifencei\n"
                       f"mmu\t\t: sv39\nuarch\t\t: pydbt\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\n"
                       f"mimpid\t\t: 0x0\n\n" for i in range(ncpus))

    # riscv_hwprobe (runtime/sys_arch.py): the keys whose values are sets of
    # bits (its WHICH_CPUS mode: a CPU matches when it has every bit asked)
    hwprobe_bit_keys = frozenset((3, 4))

    def hwprobe(self, key, mem):
        """riscv_hwprobe's value for `key`, or None for a key the kernel does not know"""
        return mem.space - 1 if key == 7 else _HWPROBE.get(key)

    def new_cpu(self, mem):
        return CPU(mem)

    def translate(self, mem, pc, max_insns, superblock=False, profile=None):
        from .translate import translate
        return translate(mem, pc, max_insns, superblock, profile)

    @property
    def run(self):
        """run(mem, cpu, pc, max_insns, count): the plain block at pc run once
        with no IR (translate.run; the engine's cold runs)"""
        from .translate import run
        return run

    # syscall ABI: number in a7, arguments a0..a5, result in a0
    def syscall_args(self, cpu):
        r = cpu.regs
        return r[17], r[10:16]

    def set_syscall_result(self, cpu, value):
        cpu.regs[10] = value & 0xffffffffffffffff

    @staticmethod
    def clone_args(a0, a1, a2, a3, a4):
        """clone's registers -> (flags, newsp, parent_tid, tls, child_tid): the generic order"""
        return a0, a1, a2, a3, a4

    def set_tls(self, cpu, tls):
        cpu.regs[4] = tls & 0xffffffffffffffff          # tp

    def set_stack_pointer(self, cpu, sp):
        cpu.regs[2] = sp & 0xffffffffffffffff

    # signals (see signal_frame.py)
    sa_restorer = False             # struct sigaction has no sa_restorer field
    sigreturn_code = signal_frame.SIGRETURN_CODE

    def setup_frame(self, proc, cpu, sig, info, act, oldmask, sp=None):
        signal_frame.setup_frame(proc, cpu, sig, info, act, oldmask, sp)

    def restore_frame(self, proc, cpu):
        return signal_frame.restore_frame(proc, cpu)

    def stack_pointer(self, cpu):
        return cpu.regs[2]

    def init_registers(self, cpu, entry, sp):
        cpu.pc = entry
        cpu.regs[2] = sp
        cpu.regs[10] = 0            # a0: rtld_fini (none for static programs)

    def disassemble(self, code, pc):
        """(address, text) pairs for -d in_asm, through capstone."""
        import capstone
        md = getattr(self, "_cs", None)
        if md is None:
            md = self._cs = capstone.Cs(capstone.CS_ARCH_RISCV,
                                        capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
        return [(i.address, f"{i.mnemonic} {i.op_str}".strip()) for i in md.disasm(code, pc)]

    @property
    def gdb(self):
        """The gdbstub's view: target description XML and register layout (gdb.py)."""
        from .gdb import GDB
        return GDB

    reg_names = XNAMES
    global_names = XNAMES + FNAMES     # the IR's getreg/setreg numbering


ARCH = Riscv64()
