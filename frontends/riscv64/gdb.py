"""riscv64 as gdb sees it: the target description and the register layout.

The gdbstub (architecture-neutral) asks the frontend object for `gdb`: the XML
annexes served through `qXfer:features:read`, and `registers`, one entry per
remote register number (the `p`/`P` number; `g` is all of them in order), each
with its width in bytes and how to read and write it in a CPU.  Numbers follow
gdb's riscv numbering: x0..x31 0-31, pc 32, f0..f31 33-64, the FP CSRs at
65 + their CSR number (fflags 66, frm 67, fcsr 68).  `siginfo` /
`siginfo_update`: the guest's siginfo_t for qXfer:siginfo (the signal frame's
layout), and the fields gdb wrote back into it.
"""
import struct

from .cpu import XNAMES, FNAMES, F0
from .signal_frame import siginfo as _siginfo

_M64 = (1 << 64) - 1


class Reg:
    __slots__ = ("name", "num", "size", "get", "set")

    def __init__(self, name, num, size, get, set):
        self.name, self.num, self.size, self.get, self.set = name, num, size, get, set


def _x(i):
    def get(cpu):
        return cpu.regs[i] if i else 0

    def set(cpu, v):
        if i:
            cpu.regs[i] = v & _M64
    return get, set


def _f(i):
    def get(cpu):
        return cpu.regs[F0 + i]

    def set(cpu, v):
        cpu.regs[F0 + i] = v & _M64
    return get, set


def _pc_set(cpu, v):
    cpu.pc = v & _M64


def _fflags_set(cpu, v):
    cpu.fflags = v & 0x1f


def _frm_set(cpu, v):
    cpu.frm = v & 7


def _fcsr_set(cpu, v):
    cpu.fflags, cpu.frm = v & 0x1f, (v >> 5) & 7


def _registers():
    regs = [Reg(n, i, 8, *_x(i)) for i, n in enumerate(XNAMES)]
    regs.append(Reg("pc", 32, 8, lambda cpu: cpu.pc, _pc_set))
    regs += [Reg(n, 33 + i, 8, *_f(i)) for i, n in enumerate(FNAMES)]
    regs.append(Reg("fflags", 66, 4, lambda cpu: cpu.fflags, _fflags_set))
    regs.append(Reg("frm", 67, 4, lambda cpu: cpu.frm, _frm_set))
    regs.append(Reg("fcsr", 68, 4, lambda cpu: cpu.fflags | cpu.frm << 5, _fcsr_set))
    return regs


def _cpu_xml():
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
             '<feature name="org.gnu.gdb.riscv.cpu">']
    for i, n in enumerate(XNAMES):
        t = "code_ptr" if n == "ra" else "data_ptr" if n in ("sp", "gp", "tp") else "int"
        lines.append(f'  <reg name="{n}" bitsize="64" type="{t}" regnum="{i}"/>')
    lines.append('  <reg name="pc" bitsize="64" type="code_ptr" regnum="32"/>')
    lines.append("</feature>")
    return "\n".join(lines) + "\n"


def _fpu_xml():
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
             '<feature name="org.gnu.gdb.riscv.fpu">',
             '  <union id="riscv_double">',
             '    <field name="float" type="ieee_single"/>',
             '    <field name="double" type="ieee_double"/>',
             '  </union>']
    for i, n in enumerate(FNAMES):
        lines.append(f'  <reg name="{n}" bitsize="64" type="riscv_double" regnum="{33 + i}"/>')
    for n, num in (("fflags", 66), ("frm", 67), ("fcsr", 68)):
        lines.append(f'  <reg name="{n}" bitsize="32" type="int" regnum="{num}" group="float"/>')
    lines.append("</feature>")
    return "\n".join(lines) + "\n"


_TARGET = """<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target>
  <architecture>riscv:rv64</architecture>
  <osabi>GNU/Linux</osabi>
  <xi:include href="riscv-64bit-cpu.xml"/>
  <xi:include href="riscv-64bit-fpu.xml"/>
</target>
"""


def _siginfo_update(sig, info, off, data):
    """qXfer:siginfo:write of data at off: the fields gdb changed go into info
    (si_code; si_addr for a fault, else si_pid, si_uid and the word at +24)."""
    raw = bytearray(_siginfo(sig, info))
    if off < 0 or off + len(data) > len(raw):
        raise ValueError("siginfo write out of range")
    raw[off:off + len(data)] = data
    info["code"] = struct.unpack_from("<i", raw, 8)[0]
    if "addr" in info:
        info["addr"] = struct.unpack_from("<Q", raw, 16)[0]
    else:
        info["pid"], info["uid"], info["value"] = struct.unpack_from("<iIQ", raw, 16)


class GdbDescription:
    """What the gdbstub needs from this frontend."""

    def __init__(self):
        self.registers = _registers()
        self.by_num = {r.num: r for r in self.registers}
        self.pc_num = 32
        self.annexes = {"target.xml": _TARGET.encode(),
                        "riscv-64bit-cpu.xml": _cpu_xml().encode(),
                        "riscv-64bit-fpu.xml": _fpu_xml().encode()}
        self.breakpoint_kinds = (2, 4)     # c.ebreak / ebreak sizes gdb sends in Z0
        # gdb's riscv target takes watchpoints as firing before the access (as the
        # debug triggers do) and steps over the instruction itself: stop before it
        self.watch_stops_before = True
        self.siginfo = _siginfo            # (sig, info dict) -> the guest's siginfo_t bytes
        self.siginfo_update = _siginfo_update


GDB = GdbDescription()
