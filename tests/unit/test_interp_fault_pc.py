"""The interpreter's fault pc (backends/interp.py): told from the code index
when the block's labels allow it, else from the insn_start ops executed.
A load past a label that a branch reached from an earlier instruction, with
no insn_start between the label and the load, faults at the pc of the last
instruction that ran (the branch's), not at the one before it in op order."""
from pydbt.backends import get_backend
from pydbt.builder import Builder
from pydbt.errors import GuestFault
from pydbt.ir import Block
from pydbt.runtime.memory import GuestMemory, R, W

from test_ir import FakeCPU


class Ctx:
    def __init__(self, mem):
        self.mem, self.counter, self.pending, self.fns = mem, [0], [], {}
        self.links = ["exit"]
        self.lookup = lambda pc: ("goto_ptr", pc)


def _fault_pc(taken):
    mem = GuestMemory(space=1 << 32)
    mem.map(0x10000, 0x1000, R | W)
    blk = Block(0x100)
    b = Builder(blk)
    b.insn_start(0x100)
    skip = b.label()
    b.brcond("eq", b.getreg(1), 0, skip, 1)     # x1 == 0: over the instruction at 0x104
    b.insn_start(0x104)
    b.setreg(2, b.ld(b.const(0x10000), 8))
    b.set_label(skip)
    b.setreg(3, b.ld(b.getreg(4), 8))           # no insn_start: belongs to what ran last
    b.goto_tb(0x108)
    fn = get_backend("interp").compile(blk, Ctx(mem))
    cpu = FakeCPU([0, 0 if taken else 1, 0, 0, 0x5000] + [0] * 3)
    try:
        fn(cpu)
    except GuestFault as e:
        return e.pc, cpu.pc
    raise AssertionError("no fault")


def test_fault_pc_follows_the_path():
    assert _fault_pc(taken=True) == (0x100, 0x100)
    assert _fault_pc(taken=False) == (0x104, 0x104)


def test_fault_pc_from_code_index():
    """(the frontend's own shape: labels before insn_starts) a fault mid-block"""
    mem = GuestMemory(space=1 << 32)
    blk = Block(0x200)
    b = Builder(blk)
    for k in range(3):
        b.insn_start(0x200 + 4 * k)
        b.setreg(5 + k, b.ld(b.getreg(1) + 8 * k, 8) if k == 2 else b.getreg(2) + k)
    b.goto_tb(0x20c)
    fn = get_backend("interp").compile(blk, Ctx(mem))
    cpu = FakeCPU([0, 0x7000, 3] + [0] * 5)
    try:
        fn(cpu)
    except GuestFault as e:
        assert (e.pc, cpu.pc, cpu.regs[5], cpu.regs[6]) == (0x208, 0x208, 3, 4)
    else:
        raise AssertionError("no fault")
