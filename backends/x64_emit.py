"""Baseline native code: one TB's IR straight to x86-64 machine code, by Python (no LLVM).

The tier between the interpreter and LLVM's optimized code (backends/baseline.py):
what it makes costs about what the bytecode JIT's compile costs, in the guest's
thread, with no compile thread and no llvmlite in the way, and runs at native
speed (a few times slower than LLVM's code), chaining into and out of LLVM's
code: the same native state, ABI and exits as llvm_emit.py's (read its overview;
this one says what differs).

* ABI: a TB is a function of LLVM's preserve_none convention: ctx in R12 (kept
  in R12 throughout), every other register free (RBP too: x64_runtime.enter
  keeps it for C), the exit code in RAX; entered
  from C through x64_runtime.enter, chained to by `jmp`.  On entry RSP
  is 8 mod 16; the TB's frame (FRAME: spill slots, 8 mod 16) makes it 0 for calls.
* Guest registers live in ctx (CTX_REGS), but for the pins: `getreg` is a
  load, `setreg` a store, in the IR's order (the optimizer already forwarded
  registers inside the block).  Each exit ORs the TB's written registers
  into CTX_DIRTY (Python's readback).
  Pins (pin_regs): up to MAX_PINS registers the TB reads or writes inside
  loops (an access inside k loops weighs LOOP_WEIGHT**k; the heaviest
  first) live in host registers taken from the pool instead, as many as
  leave it the most temps alive at once (pressure, a value set into a pin
  counted as living there: sha256's block function gets none), loaded at
  each entry and written back by the exits' shared tails (store_pins: the
  ones the TB writes), as LLVM's code does: a loop's setregs are register
  moves.  Whatever leaves the TB goes through those tails (faults from
  callbacks too, and host faults at fault loads: their slow paths are
  callbacks), and native code's callbacks never read guest registers (nor
  do LLVM's SSA values live in ctx), so ctx need not be exact in between.
  A getreg of a pin is a register move, or nothing when its temp is 64-bit
  and the pin is not set while it lives (alias); a value set into a pin is
  computed there (hint) when nothing until its setreg needs the pin's old
  value: no read of it, no branch or label (the other path) and no op that
  may fault (its exit would write the new value back before its
  instruction: aarch64's post-index loads compute the new base first).
  (Written through to ctx at every setreg until 2026-12-03: steady CPU,
  -backend baseline, 3-5 reps interleaved, W/4 to W: intloop -24%, sieve
  -8..-31%, matmul_int -11..-19%, sha256 -13%, quicksort -9%, crc32 -6%,
  strings and vm unchanged.)  Helpers never write guest registers
  (passes.py), so no pin is reloaded after a callback.  (With perm,
  head_check, the one-compare alignment check and loop alignment below: matmul_int's inner loop 46 -> 36
  instructions, sieve's 24 -> 18; steady rate / qemu-riscv64's, cpu(big) -
  cpu(small), 3 reps interleaved with the old code and qemu, medians, on a
  loaded 2-core host (+-10%), two runs (6504a22; c25d4ad): matmul_int 0.60
  -> 0.68; 0.69 -> 0.75, sieve 0.89 -> 0.97; 0.82 -> 0.88, crc32 0.91 ->
  0.94; 0.76 -> 0.96, quicksort 0.81 -> 1.03; 0.92 -> 1.00, strings 0.94 ->
  1.11; 1.13 -> 1.50, sha256 0.85 -> 0.91; 0.94 -> 0.82 (noise: its main TB
  gets no pins; sha256 80000000 CPU medians of 5: 1.68 -> 1.49 s).)
* Temps: SSA values never live across a label (the IR's rule), so registers
  are allocated per stretch between labels, greedily in op order from POOL (11
  registers less the pins and perm; RAX, RCX, RDX are scratch).  An output takes the register of an
  input that dies at its op when the op reads that input before writing
  (define's `reuse`: no copy); `add x, c` and `add x, y` into another
  register are one lea.
  When the pool is empty the live temp used furthest ahead (not an input of
  the op) moves to a stack slot if the new temp is used sooner (evict: one
  store), else the new temp lives in a slot.  (sha256's main TB: 1093 -> 1076
  instructions, 125 -> 103 stack references; sha256 80000000 CPU 1.86 -> 1.66 s.)
* Memory: with fault loads and stores (llvm_emit's; the common case: guard
  ranges, no watch) a load is a plain host access whose host fault goes on at
  its slow path (fault_at: backends/faults.py), a store the same after one
  compare of its page number with npages (never outside the space; a space
  of a power of two: the address shifted by its bits, range_check).  The add
  that makes a fault load's address, and nothing else, is the load's operand
  (`[base + index*2**k + c + mem_base]`: fold_addresses), its slow path
  computing the guest address; a setreg of that address which the load's
  own value overwrites is made there too (the state at its fault).
  Otherwise accesses off one base in straight-line code share one check, made
  at the first of them (llvm_emit's plan_groups):
  the range they all touch inside the space and the permission bytes of its
  first and last page (check_range, branches to the first access's slow
  path), or, when the first access covers the whole range (a load and a
  store of one word), that access's own check (aligned: one page); its answer
  in a stack slot that each other access compares (two instructions instead
  of ~9).  A lone access checks its own address (aligned,
  inside the space, its page's permission byte as llvm_emit's perm_bits).
  The permission table's address is a register (perm, out of the pool) when
  the TB's accesses weigh PERM_MIN (as pins' reads), else a movabs per check.
  Then a plain host access at `[addr + base]` (the base a displacement when
  below 2 GiB); anything else takes the callback (CB_LOAD/CB_STORE:
  GuestMemory, exact; a failed group check sends each access of the group
  there).  Constants are stored as immediates.  No page caches: the
  optimized tier has those.
* Callbacks (slow accesses, helpers: FP, AMOs, LR/SC, CSRs; the hotness
  countdown; a callback counts CALL_INSNS instructions of hotness): the arguments go in ctx words (CTX_CB: kind, a, b, c; a helper's
  own in CTX_ARGS), then a call of the state's shim (x64_runtime.shim), which saves
  every register it may change, calls the ctypes callback and returns its
  result in RAX: nothing is spilled around a call.  A non-zero CTX_STATUS after
  it leaves by the fault exit with the current instruction's pc.  A slow
  memory access stores its variable arguments and calls the TB's routine for
  its kind and constant arguments (mem_routine: the rest, once per TB), then
  branches to its fault exit on the flags the routine leaves.
  (Emission and code of lua5.4's 420 baseline blocks, rebuilt in-process,
  process_time medians x9: before groups 208 ms, 1153848 bytes; now 221 ms,
  843084 bytes.)
* Compares with 0 are `test r, r`.  A 32-bit rotate by a constant is a BMI2
  `rorx` reading the low half of its value's register where it is: the
  trunc32 before it is not emitted (fold_truncs).
* Exits set ECX (the argument) and EDX (the exit code), and RAX (the code to
  chain to, or 0) for a chainable one, then jump to the TB's shared tails: the
  chain tail spends a budget unit and jumps, or returns; loops inside the TB
  spend budget at each back-edge (leaving at the loop's head when it is spent).
  The budget is in R13 (BUD) from TB to TB, LLVM's code's too (its second
  argument), and in its ctx word only outside native code (the return tail
  stores it): a `sub` on the ctx word was a loop-carried chain through store
  forwarding, at a back-edge (session 23: sieve 200000000 CPU min of 5: 2.12
  -> 1.99 s, sha256 40000000 0.77 -> 0.72 s) and at every chained jump (fib's
  calls and returns: fastest window 3.24-3.38 -> 3.16-3.20 ms).  Inside a TB
  it is a pin candidate (pin_regs): where R13 is worth more to a guest
  register, the budget waits in a stack slot and goes back to R13 at the tails.
  Hotness: the TB's countdown word (llvm_emit's), checked at the entry; an
  exit subtracts its path's instructions and, in a TB with loops, the loop's
  instructions (the smallest back-edge's) times the budget units spent since
  the entry (kept in a stack slot: each back-edge spends one), so no
  iteration updates it (loop_hot; tight loops ran 10-25% slower under auto
  than under -backend baseline with a per-back-edge count).  CTX_ICOUNT is
  added to where llvm_emit adds to %ic.
  When not counting instructions (no -stats), the back-edge code (the
  budget) sits just before
  the loop's head, the way in jumping over it (head_check; entering spends
  nothing: a TB entered with no budget still runs to its first back-edge),
  and each back-edge is one branch there; a branch to a jump to the start
  goes straight to the start's (matmul_int's inner loop 37 -> 36
  instructions, one taken branch less per iteration).
* Slow paths and exits are out of line (`cold`: emitted after the body), so
  the hot code runs straight.  Loop heads (labels with a back-edge, the
  start of a TB that jumps to itself) are aligned to LOOP_ALIGN bytes with
  NOPs (the arena places code 64-byte aligned): the old code's matmul_int
  inner loop was 32-aligned by chance, its new one not, and lost ~8%.
* Other entries of a region (block.entries): a stub each after the code, which
  makes the frame, counts the instructions before its label as not run, and
  jumps to the label.

The code is position-independent (jumps relative, addresses `movabs`): the
state copies it into the code arena (codearena.py; llvm.NativeState.finish).
"""
import itertools
import operator

from pydbt import ir
from pydbt.ir import Const, I32, I64

from . import llvm_emit as E
from . import x64_fp
from . import hostcpu
from .x64asm import (Asm, Sym, mem, RAX, RCX, RDX, RBX, RBP, RSP, RSI, RDI, R8, R9, R10, R11, R12,
                     R13, R14, R15)

CTX = R12
BUD = R13          # the budget, from TB to TB (LLVM's preserve_none passes its second argument here)
_BMI2 = "bmi2" in hostcpu.flags()
POOL = (RBX, RSI, RDI, R8, R9, R10, R11, RBP, R13, R14, R15)
CC = {"eq": "e", "ne": "ne", "lt": "l", "ge": "ge", "le": "le", "gt": "g",
      "ltu": "b", "geu": "ae", "leu": "be", "gtu": "a"}
NEG = {"e": "ne", "ne": "e", "l": "ge", "ge": "l", "le": "g", "g": "le",
       "b": "ae", "ae": "b", "be": "a", "a": "be"}
_ALU = {"add": "add", "sub": "sub", "and": "and", "or": "or", "xor": "xor"}
_SHIFT = {"shl": "shl", "shr": "shr", "sar": "sar", "rotl": "rol", "rotr": "ror"}
_EXT = {"ext8s": (1, True), "ext8u": (1, False), "ext16s": (2, True), "ext16u": (2, False),
        "ext32s": (4, True), "ext32u": (4, False)}
_BITS = {"clz": "lzcnt", "ctz": "tzcnt", "popcnt": "popcnt"}
# a callback into Python (~0.5-1 us) counts for this many guest instructions of
# native code in a TB's hotness (tiering.NATIVE_INSN_COST each): time, not events
CALL_INSNS = 1000
# guest registers kept in host registers (Emitter.pin_regs): at most MAX_PINS,
# each with a weight >= PIN_MIN, in these host registers (the pool's last)
MAX_PINS = 8
LOOP_WEIGHT = 8
PIN_MIN = LOOP_WEIGHT
# (not RSI: the exits' scratch, after the pins' last use but before the tails
# write them back: goto_ptr's jump cache probe, an exit's hotness count)
PIN_REGS = tuple(r for r in POOL[::-1] if r != RSI)
BUDGET = "budget"        # (pin_regs: the budget, a candidate as a guest register is, pinned in BUD)
# the permission table's address in a register (the first of PIN_REGS) when a
# TB's checks weigh this much (as a pin's getregs)
PERM_MIN = 3
# a temp spilled (Emitter.pressure) costs as many memory accesses as this many
# getregs or setregs of a guest register not pinned (a spilled temp is stored
# once and reloaded at each use: 2 made sha256's message schedule loop keep 8
# pins, whose code ran 16% slower than with 5; timing windows, session 24)
SPILL_COST = 3
# loop heads start at a multiple of this many bytes (NOPs before them)
LOOP_ALIGN = 32
# ops whose lowering reads their first input before it writes the output
# (the output may take a pin holding that input)
PIN_SAFE = frozenset(("add", "sub", "and", "or", "xor", "mul", "shl", "shr", "sar", "rotl", "rotr",
                      "ext8s", "ext8u", "ext16s", "ext16u", "ext32s", "ext32u", "trunc32", "zext32",
                      "sext32", "neg", "not", "clz", "ctz", "popcnt", "ld", "mov"))
_JOINS = frozenset(("label", "br", "brcond", "goto_tb", "goto_ptr", "exception"))


_CTXM = [mem(CTX, None, 1, 8 * w) for w in range(E.CTX_WORDS)]    # (made once: emission is hot)


def ctxm(word):
    return _CTXM[word]


def _s32(v):
    """an int that fits a sign-extended imm32, else None"""
    return v if -(1 << 31) <= v < (1 << 31) else None


def imm(v, w):
    """Const value v (unsigned, width w) as the immediate of a w-bit operation,
    or None when it has none (a 64-bit value outside simm32)."""
    if w == I32:
        return v - (1 << 32) if v >> 31 else v
    return _s32(v - (1 << 64) if v >> 63 else v)


class Emitter:
    """Machine code of one TB.  env: the numbers of the run it is placed in
    (mem_base, perm, npages, jc, jc_mask, shim, tb_id, slots: the address of
    its first chain slot, hot: its countdown word or None, helper_id(fn) -> the
    state's index).  build() -> (code, [(pc, offset) of each other entry]);
    `exceptions` after it: (kind, pc, next_pc) by index.  The env's numbers
    that differ between runs (addresses, ids) may be x64asm Syms: the code
    holds them in fields of fixed size, listed in `relocs` after build (so
    code kept from a run before is this run's once patched: llvm.py)."""

    def __init__(self, block, env, counting, hot, fault_loads=False, fault_stores=False):
        self.block = block
        self.env = env
        # loads (stores) check nothing (llvm_emit's fault loads and stores): a host
        # fault at one goes on at its slow path (fault_pairs: offsets of each
        # access and its path)
        self.fault_loads = fault_loads
        self.fault_stores = fault_stores and fault_loads
        self.fault_at = []            # (offset of a load, its slow path's label)
        self.fault_pairs = []
        self.counting = counting
        self.hot = env["hot"] if hot else None
        self.a = Asm()
        self.exceptions = []
        self.cold = []                # deferred out-of-line code: callables
        self.labels = {}
        self.placed = set()
        self.pc = block.pc
        self.loc = {}                 # temp id -> register (0..15) or slot (16 + k)
        self.free = list(reversed(POOL))
        self.slots_free = []
        self.nslots = 0
        self.fault_labels = {}        # (pc, instructions before it) -> its fault stub's label
        self.before = self.ninsns = 0  # guest instructions before the current one, and so far (block order)
        self.tails = {}               # "chain" / "exit" / "ret" -> label (made on first use)
        self.goto_n = -1
        self.fp = None                # x64_fp's lowering, when the TB computes FP natively
        self.handed = None            # the input whose register the op's output took (define)
        self.op = None                # the op being lowered
        self.pins = {}                # guest register -> the host register holding it (pin_regs)
        self.perm = None              # the host register holding the permission table's address
        self.pinned = frozenset()     # those host registers (out of the pool)
        self.alias = set()            # getreg temps that live in their pin (no copy)
        self.hint = {}                # temp -> the pin it is computed in (its setreg's)
        self.loop_heads = set()       # labels with a back-edge (aligned: LOOP_ALIGN)
        self.loops_to_start = False
        self.to_start = set()         # labels whose code is a jump to the start
        self.back_insns = {}          # loop head label (None: the start) -> {insns of a back-edge}
        self.fast_heads = set()       # loop heads with their back-edges' code before them (head_check)
        self.fast_start = False       # the start too
        self.loop_hot = None          # hotness per back-edge when counted at the exits (see build)
        self.bud = BUD                # the budget's register while the TB runs (pin_regs), else None:
        self.bud_home = None          # its stack slot then (BUD is the pool's)
        self.bud_slot = None          # the stack slot of the budget at entry (those exits' count)
        self.slot_first = 16          # the first slot temps may take
        self.checks = {}              # label -> the label of that code
        self.start_check = None

    # --- registers -------------------------------------------------------------------
    def label(self, lab):
        lb = self.labels.get(lab)
        if lb is None:
            lb = self.labels[lab] = self.a.label()
        return lb

    def slot_mem(self, loc):
        return mem(RSP, None, 1, 8 * (loc - 16))

    def define(self, t, reuse=None):
        """A location for temp t, defined now -> the register to compute it in
        (RAX when it lives in a slot: commit() stores it).  reuse: an input the
        op reads first (before it writes the output): when it dies here in a
        register, t takes that register (no copy).  A value set into a pin
        (hint) is computed there."""
        p = self.hint.get(t.id)
        if p is not None and self.pin_ok(p):
            self.loc[t.id] = p
            return p
        if reuse is not None and type(reuse) is not Const and self.last.get(reuse.id) == self.i:
            loc = self.loc[reuse.id]
            if loc < 16 and loc not in self.pinned:
                # (reuse keeps its place until the op's end, then is not freed)
                self.handed = reuse.id
                self.loc[t.id] = loc
                return loc
        if self.free:
            r = self.free.pop()
        else:
            r = self.evict(t) if self.op.name not in ("call", "call_pure") else None
            if r is None:
                r = self.new_slot()
        self.loc[t.id] = r
        return r if r < 16 else RAX

    def pin_ok(self, p):
        """the op may compute its output in pin p: no input lives there but
        the first, which ops of PIN_SAFE read before they write"""
        loc = self.loc
        for k, v in enumerate(self.op.ins):
            if type(v) is not Const and loc.get(v.id) == p and (k or self.op.name not in PIN_SAFE):
                return False
        return True

    def new_slot(self):
        if self.slots_free:
            return self.slots_free.pop()
        self.nslots += 1
        return 15 + self.nslots

    def evict(self, t):
        """The pool is empty: the register of the live temp used furthest
        ahead (not an input of this op) when that is further than t's first
        use -> it moves to a stack slot (a store, here) and t takes its
        register; None: t goes to a slot."""
        if t.id not in self.last:
            return None
        ins = {v.id for v in self.op.ins if type(v) is not Const}
        live = {tid for tid, loc in self.loc.items()
                if loc < 16 and tid not in ins and tid != self.handed and loc not in self.pinned}
        live.add(t.id)
        # the next use of each (the ops ahead, until all are found: t's first)
        nxt = {}
        ops = self.block.ops
        for k in range(self.i + 1, len(ops)):
            for v in ops[k].ins:
                if type(v) is not Const and v.id in live and v.id not in nxt:
                    nxt[v.id] = k
            if len(nxt) == len(live):
                break
        far, victim = nxt.get(t.id), None
        if far is None:
            return None
        for tid, k in nxt.items():
            if k > far:
                far, victim = k, tid
        if victim is None:
            return None
        r = self.loc[victim]
        k = self.loc[victim] = self.new_slot()
        self.a.mov(self.slot_mem(k), r)
        return r

    def commit(self, t, r):
        loc = self.loc[t.id]
        if loc >= 16:
            self.a.mov(self.slot_mem(loc), r)

    def release(self, tid):
        loc = self.loc.pop(tid, None)
        if loc is not None and tid != self.handed and loc not in self.pinned:
            (self.free if loc < 16 else self.slots_free).append(loc)

    def reg(self, v, scratch, w=I64):
        """-> a register holding v (scratch for a constant or a spilled temp)"""
        if type(v) is Const:
            self.a.mov_imm(scratch, v.value & ir.MASK[w])
            return scratch
        loc = self.loc[v.id]
        if loc < 16:
            return loc
        self.a.mov(scratch, self.slot_mem(loc))
        return scratch

    def into(self, r, v, w=I64):
        """r = v"""
        if type(v) is Const:
            self.a.mov_imm(r, v.value & ir.MASK[w])
            return
        loc = self.loc[v.id]
        if loc < 16:
            if loc != r:
                self.a.mov(r, loc, w)
        else:
            self.a.mov(r, self.slot_mem(loc), w)

    def where(self, v):
        """v's place now, for code emitted later (cold paths): ("i", value),
        ("r", register) or ("m", stack slot)"""
        if type(v) is Const:
            return ("i", v.value)
        loc = self.loc[v.id]
        return ("r", loc) if loc < 16 else ("m", self.slot_mem(loc))

    def put_word(self, word, place):
        """ctx word `word` = place (see where)"""
        a, kind, x = self.a, place[0], place[1]
        if kind == "r":
            a.mov(ctxm(word), x)
        elif kind == "m":
            a.mov(RAX, x)
            a.mov(ctxm(word), RAX)
        elif type(x) is Sym:                 # (a run's number: a field of fixed size, relocated)
            if x.small:
                a.mov_imm(ctxm(word), x)
            else:
                a.mov_imm(RAX, x)
                a.mov(ctxm(word), RAX)
        elif imm(x, I64) is not None:
            a.mov_imm(ctxm(word), imm(x, I64))
        else:
            a.mov_imm(RAX, x)
            a.mov(ctxm(word), RAX)

    def operand(self, v, w, scratch):
        """v as the source operand of a w-bit ALU op: an immediate (int) when a
        constant fits, else a register or a stack slot"""
        if type(v) is Const:
            i = imm(v.value, w)
            if i is not None:
                return ("i", i)
            self.a.mov_imm(scratch, v.value)
            return ("r", scratch)
        loc = self.loc[v.id]
        return ("r", loc) if loc < 16 else ("m", self.slot_mem(loc))

    def alu(self, op, dst, src, w):
        self.a.alu(op, dst, src[1], w)       # (x64asm: a plain int is an immediate, a Reg a register)

    # --- the function ----------------------------------------------------------------
    def build(self):
        a = self.a
        ops = self.block.ops
        self.heads = E.loop_heads(ops)
        self.last = last = {}
        self.group_off = off = {}     # `add x, c` -> c (signed): a group's offsets
        dirty = accesses = 0
        sums, uses, loads = {}, {}, []    # (fold_addresses: adds and shls, their uses, the accesses)
        truncs = {}                       # (fold_truncs: trunc32 output -> [its op, uses, the last user])
        for i, op in enumerate(ops):
            n = op.name
            for v in op.ins:
                if type(v) is not Const:
                    last[v.id] = i
                    if v.id in sums:
                        uses[v.id] += 1
                    elif v.id in truncs:
                        tr = truncs[v.id]
                        tr[1] += 1
                        tr[2] = i
            if n == "trunc32" and type(op.ins[0]) is not Const:
                truncs[op.outs[0].id] = [i, 0, None]
            elif n == "setreg":
                dirty |= 1 << op.consts[0]
            elif (n == "add" or n == "shl") and op.type == I64:
                sums[op.outs[0].id] = op
                uses[op.outs[0].id] = 0
                if n == "add" and type(op.ins[1]) is Const and type(op.ins[0]) is not Const:
                    c = op.ins[1].value
                    off[op.outs[0].id] = c - (1 << 64) if c >> 63 else c
            elif n == "ld" or n == "st":
                accesses += 1
                loads.append(i)
        self.dirty = dirty
        self.fold_addresses(ops, loads, sums, uses)
        self.fold_truncs(ops, truncs)
        self.pin_regs(ops)
        if self.bud is None:
            self.bud_home = self.new_slot()
            self.slot_first = self.bud_home + 1
        if self.hot is not None and self.back_insns:
            # a loop's hotness is counted at the TB's exits, from the budget its
            # back-edges spent since the entry (each spends one unit): no memory
            # update of the countdown word per iteration (tight loops ran 10-25%
            # slower under auto than the same code under -backend baseline)
            self.loop_hot = min(min(n) for n in self.back_insns.values())
            self.bud_slot = self.new_slot()
            self.slot_first = self.bud_slot + 1
        # (a lone access is checked alone)
        self.groups = E.plan_groups(ops, loads=not self.fault_loads, stores=not self.fault_stores) \
            if accesses > 1 else {}
        self.frame_at = []            # offsets of the frame's imm32s (patched at the end)
        self.fp = x64_fp.plan(self)
        self.enter_frame()
        self.save_budget()
        if self.fp is not None:
            self.fp.entry()
        self.load_pins()
        if self.hot is not None:
            # (an entry's check: a TB entered at 0 or below calls back; it is
            # not in the start's loop)
            self.check_hot()
        self.start = a.label()
        if self.fast_start:
            self.start_check = self.head_check(self.start, self.block.pc, 0)
        elif self.loops_to_start and LOOP_ALIGN:
            a.align(LOOP_ALIGN)
        a.bind(self.start)
        dead = False
        flags, END = ir.FLAGS, ir.END
        for i, op in enumerate(ops):
            n = op.name
            if dead and n != "label":
                if n == "insn_start":
                    self.op_insn_start(op)
                continue
            dead = False
            if i in self.folded:
                continue                      # (computed by the load it feeds: fold_addresses)
            self.i = i
            self.handed = None
            self.op = op
            LOWER[n](self, op)
            for v in op.ins:
                if type(v) is not Const and last.get(v.id) == i:
                    self.release(v.id)
            if op.outs:
                for t in op.outs:
                    if t.id not in last:
                        self.release(t.id)
            if flags[n] & END:
                dead = True
                self.forget()
        if not dead:
            a.ud2()
        while self.cold:
            self.cold.pop(0)()
        entries = []
        for pc, lab, before in getattr(self.block, "entries", None) or ():
            entries.append((pc, a.here()))
            self.enter_frame()
            self.save_budget()
            if self.fp is not None:
                self.fp.entry()
            self.load_pins()
            self.add_ic(-before)
            a.jmp(self.label(lab))
        frame = 8 + 16 * ((self.nslots + 1) // 2)
        code = bytearray(a.finish())
        for at in self.frame_at:
            code[at:at + 4] = frame.to_bytes(4, "little")
        self.frame = frame
        self.fault_pairs = [(at, lb.pos) for at, lb in self.fault_at]
        self.relocs = a.relocs
        return bytes(code), entries

    def fold_addresses(self, ops, loads, sums, uses):
        """A fault load's (or store's) address computed by an add that only it uses,
        `base + c`, `base + index` or `base + (index << k)` (k 1..3, a shl only
        that add uses), becomes the load's own operand, `[base + index*2**k +
        c + mem_base]`: the add (and shl) are not emitted (self.folded), base
        and index live to the load, and its slow path computes the guest
        address (crc32's table load: shl, lea and load -> one load, two
        instructions off the loop's dependency chain)."""
        self.folds, self.folded = {}, set()
        mem_base = self.env["mem_base"]
        if not self.fault_loads or mem_base >= 1 << 31:
            return
        last = self.last
        where = {id(op): k for k, op in enumerate(ops)} if loads else {}
        for i in loads:
            x = ops[i].ins[0]
            if type(x) is Const or x.id not in sums or sums[x.id].name != "add":
                continue
            if ops[i].name == "st" and not self.fault_stores:
                continue
            defer = None
            if uses[x.id] == 2 and ops[i].name == "ld":
                defer = self.deferrable(ops, i, x)
                if defer is None:
                    continue
            elif uses[x.id] != 1:
                continue
            add = sums[x.id]
            p, q = add.ins
            if type(p) is Const:
                p, q = q, p
            if type(p) is Const:
                continue
            if type(q) is Const:
                c = q.value - (1 << 64) if q.value >> 63 else q.value
                if not -(1 << 31) <= c + mem_base < 1 << 31 or not -(1 << 31) <= c < 1 << 31:
                    continue
                fold, parts = (p, None, 1, c), (add,)
            else:
                sh = next((v for v in (q, p) if uses.get(v.id) == 1 and sums[v.id].name == "shl"
                           and type(sums[v.id].ins[0]) is not Const and type(sums[v.id].ins[1]) is Const
                           and 1 <= sums[v.id].ins[1].value <= 3), None)
                if sh is not None:
                    shl = sums[sh.id]
                    fold, parts = (p if sh is q else q, shl.ins[0], 1 << shl.ins[1].value, 0), (add, shl)
                else:
                    fold, parts = (p, q, 1, 0), (add,)
            self.folds[i] = fold + (None if defer is None else ops[defer].consts[0],)
            self.folded.update(where[id(o)] for o in parts)
            if defer is not None:
                self.folded.add(defer)
            for v in fold[:2]:
                if v is not None:
                    last[v.id] = max(last[v.id], i)

    def fold_truncs(self, ops, truncs):
        """A trunc32 whose one use is a 32-bit rotate by a constant (BMI2's
        rorx reads the low half of its source) is not emitted: the rotate
        reads the 64-bit value (self.views), which lives to it.  sha256's
        rotates each truncated a value that stays alive: a copy each, 6 a
        round, and a temp more at a time."""
        self.views = {}
        if not _BMI2:
            return
        last = self.last
        for t, (i, n, j) in truncs.items():
            if n != 1:
                continue
            o = ops[j]
            if o.name in ("rotr", "rotl") and o.type == I32 and o.ins[0].__class__ is not Const \
                    and o.ins[0].id == t and type(o.ins[1]) is Const and o.ins[1].value & 31:
                src = ops[i].ins[0]
                self.views[t] = src
                self.folded.add(i)
                last[src.id] = max(last[src.id], j)

    @staticmethod
    def deferrable(ops, i, x):
        """The index of a setreg of load i's address x that its slow path may
        make instead (fold_addresses), or None: crc32's `add a5, a5, a4; lw
        a5, 0(a5)`, where a5 holds the address only if the load faults (the
        state at its fault), the load's own value right after.  Nothing
        between the setreg and the load, nor between the load and the next
        setreg of that register, may read it, leave or fault: insn_starts,
        pure ops (not a helper's: call_pure may raise), other registers'
        getregs and setregs only."""
        flags, PURE = ir.FLAGS, ir.PURE

        def inert(o, g):
            n = o.name
            if n == "getreg" or n == "setreg":
                return o.consts[0] != g
            return n == "insn_start" or (flags[n] & PURE and n != "call_pure")
        j = i - 1
        while j >= 0:
            o = ops[j]
            if o.name == "setreg" and type(o.ins[0]) is not Const and o.ins[0].id == x.id:
                break
            if not inert(o, None) or any(type(v) is not Const and v.id == x.id for v in o.ins):
                return None
            if o.outs and o.outs[0].id == x.id:
                return None                   # (x's add: no setreg of it after)
            j -= 1
        if j < 0:
            return None
        g = ops[j].consts[0]
        if not all(inert(o, g) for o in ops[j + 1:i]):
            return None
        for o in ops[i + 1:]:
            if o.name == "setreg" and o.consts[0] == g:
                return j
            if not inert(o, g):
                return None
        return None

    def save_budget(self):
        """(an entry, before BUD may be loaded with a pin) the budget to its
        home, when BUD is the pool's; and (loop_hot) the budget at this
        entry, to the exits' count"""
        if self.bud_home is not None:
            self.a.mov(self.slot_mem(self.bud_home), BUD)
        if self.bud_slot is not None:
            self.a.mov(self.slot_mem(self.bud_slot), BUD)

    def enter_frame(self):
        # sub rsp, imm32 (patched: the frame's size is known at the end)
        self.a.alu("sub", RSP, 0x7fffffff, I64)
        self.frame_at.append(self.a.here() - 4)

    def leave_frame(self):
        self.a.alu("add", RSP, 0x7fffffff, I64)
        self.frame_at.append(self.a.here() - 4)

    def later(self, fn):
        """fn() emits out-of-line code after the body; -> the label it binds first"""
        lb = self.a.label()

        def run():
            self.a.bind(lb)
            fn()
        self.cold.append(run)
        return lb

    # --- counting ------------------------------------------------------------------------
    def add_ic(self, n):
        if self.counting and n:
            self.a.alu("add", ctxm(E.CTX_ICOUNT), n, I64)

    def check_hot(self):
        """(an entry) the countdown word at 0 or below: call back (CB_HOT); the
        exits subtract what ran (exit)"""
        a = self.a
        a.mov_imm(RAX, self.hot)
        a.alu("cmp", mem(RAX), 0, I64)
        back = a.label()
        pc, before = self.pc, self.before
        a.jcc("le", self.later(lambda: (self.callback(E.CB_HOT, ("i", self.hot), ("i", 0), ("i", 0), pc, before),
                                        a.jmp(back))))
        a.bind(back)

    # --- callbacks -------------------------------------------------------------------
    def callback(self, kind, x, y, z, pc=None, before=None):
        """Call back into Python (see the overview): x, y, z are places (where());
        the result in RAX; a raised exception leaves by the fault exit."""
        a = self.a
        if self.hot is not None and kind != E.CB_HOT:
            # (its hotness counts a callback's time too: FP code here is mostly callbacks)
            a.mov_imm(RAX, self.hot)
            a.alu("sub", mem(RAX), CALL_INSNS, I64)
        a.mov_imm(ctxm(E.CTX_CB), kind)
        for k, p in enumerate((x, y, z), 1):
            self.put_word(E.CTX_CB + k, p)
        if self.fp is not None:
            self.fp.collect()
        a.mov_imm(RDX, self.env["shim"])
        a.call(RDX)
        if self.fp is not None:
            self.fp.clear()
        a.alu("cmp", ctxm(E.CTX_STATUS), 0, I64)
        a.jcc("ne", self.fault(self.pc, self.before) if pc is None else self.fault(pc, before))

    def mem_callback(self, kind, x, y, z, pc, before):
        """callback(kind, x, y, z, pc) of a slow memory access, through the
        TB's shared routine for kind and the constant arguments (mem_routine):
        the others stored, a call, the fault branch; the result in RAX."""
        self.put_word(E.CTX_CB + 1, x)
        if y[0] != "i":
            self.put_word(E.CTX_CB + 2, y)
            y = None
        key = (kind, y, z)
        r = self.tails.get(key)
        if r is None:
            r = self.tails[key] = self.later(lambda: self.mem_routine(kind, y, z))
        self.a.call(r)
        self.a.jcc("ne", self.fault(pc, before))

    def mem_routine(self, kind, y, z):
        """The rest of callback() for kind, y (None: stored by the caller) and
        z, shared by the TB's slow memory paths (called: it leaves the flags
        of the CTX_STATUS test for the caller's fault branch)."""
        a = self.a
        if y is not None:
            self.put_word(E.CTX_CB + 2, y)
        self.put_word(E.CTX_CB + 3, z)
        if self.hot is not None:
            a.mov_imm(RAX, self.hot)
            a.alu("sub", mem(RAX), CALL_INSNS, I64)
        a.mov_imm(ctxm(E.CTX_CB), kind)
        if self.fp is not None:
            self.fp.collect()
        a.alu("sub", RSP, 8, I64)                 # (the call made RSP 8 mod 16)
        a.mov_imm(RDX, self.env["shim"])
        a.call(RDX)
        a.alu("add", RSP, 8, I64)
        if self.fp is not None:
            self.fp.clear()
        a.alu("cmp", ctxm(E.CTX_STATUS), 0, I64)
        a.ret()

    def fault(self, pc, before):
        """The fault exit of the instruction at pc, `before` instructions into
        the TB in block order (which it counts, as an exit does)."""
        lb = self.fault_labels.get((pc, before))
        if lb is None:
            def stub():
                if self.fp is not None:
                    self.fp.collect()
                self.add_ic(before)
                self.a.mov_imm(RCX, pc)
                self.a.mov_imm(RDX, E.EXIT_FAULT)
                self.a.jmp(self.tail("exit"))
            lb = self.fault_labels[(pc, before)] = self.later(stub)
        return lb

    # --- exits -----------------------------------------------------------------------------
    def tail(self, kind):
        """The shared tails (made once, out of line): "exit" (ECX argument,
        EDX exit code) returns to Python; "chain" (RAX the successor's code or
        0 as well) jumps there while the budget lasts, else returns."""
        lb = self.tails.get(kind)
        if lb is not None:
            return lb
        a = self.a
        if kind == "ret":
            def ret():
                a.mov(ctxm(E.CTX_BUDGET), BUD)
                a.mov(ctxm(E.CTX_EXIT_ARG), RCX)
                a.mov_imm(RAX, self.env["tb_id"])
                a.mov(ctxm(E.CTX_EXIT_ID), RAX)
                a.mov(RAX, RDX, I32)
                self.leave_frame()
                a.ret()
            lb = self.later(ret)
        elif kind == "exit":
            def exit_():
                self.store_pins()
                self.mark_dirty()
                a.jmp(self.tail("ret"))
            lb = self.later(exit_)
        else:
            def chain():
                self.store_pins()
                self.mark_dirty()
                a.test(RAX, RAX)
                a.jcc("e", self.tail("ret"))
                a.alu("sub", BUD, 1, I64)
                a.jcc("l", self.tail("ret"))
                self.leave_frame()
                a.jmp(RAX)
            lb = self.later(chain)
        self.tails[kind] = lb
        return lb

    def store_pins(self):
        """(the tails) the pins the TB writes go back to ctx; the budget to BUD"""
        for g, r in self.pins.items():
            if self.dirty >> g & 1:
                self.a.mov(_CTXM[E.CTX_REGS + g], r)
        if self.bud_home is not None:
            self.a.mov(BUD, self.slot_mem(self.bud_home))

    def budget(self):
        """Where the budget is while the TB runs: BUD, or its home when the
        TB takes BUD for a pin or temps (pin_regs)"""
        return BUD if self.bud_home is None else self.slot_mem(self.bud_home)

    def mark_dirty(self):
        d = self.dirty
        if d:
            if d < 1 << 31:
                self.a.alu("or", ctxm(E.CTX_DIRTY), d, I64)
            else:
                self.a.mov_imm(RSI, d)
                self.a.alu("or", ctxm(E.CTX_DIRTY), RSI, I64)

    def exit(self, code, arg, insns, chain=False):
        """Leave with exit `code` and argument `arg` (a place, or None: in ECX
        already); chain: RAX holds the code to chain to (or 0)."""
        a = self.a
        if self.fp is not None:
            self.fp.collect()
        if arg is not None:
            kind, x = arg
            if kind == "i":
                a.mov_imm(RCX, x)
            else:
                a.mov(RCX, x)
        if self.loop_hot is not None:
            # (the path's instructions, and loop_hot per back-edge taken since
            # the entry: the budget they spent; RAX may hold the code to chain to)
            a.mov(RDX, self.slot_mem(self.bud_slot))
            a.alu("sub", RDX, self.budget(), I64)
            a.imul_imm(RDX, RDX, self.loop_hot, I64)
            if insns:
                a.alu("add", RDX, insns, I64)
            a.mov_imm(RSI, self.hot)
            a.alu("sub", mem(RSI), RDX, I64)
        elif self.hot is not None and insns:
            a.mov_imm(RSI, self.hot)
            a.alu("sub", mem(RSI), insns, I64)
        a.mov_imm(RDX, code)
        a.jmp(self.tail("chain" if chain else "exit"))

    def op_goto_tb(self, op):
        a = self.a
        self.goto_n += 1
        k = self.goto_n
        target, insns = op.consts
        self.add_ic(insns)
        if target == self.block.pc and self.fast_start:
            a.jmp(self.start_check)
            return
        if target == self.block.pc:
            # a jump to the TB's own start: loop while the budget lasts
            a.alu("sub", self.budget(), 1, I64)
            a.jcc("l", self.later(lambda: self.exit(E.EXIT_GOTO, ("i", k), insns)))
            a.jmp(self.start)
            return
        a.mov_imm(RAX, self.env["slots"] + 8 * k)
        a.mov(RAX, mem(RAX))
        self.exit(E.EXIT_GOTO, ("i", k), insns, chain=True)

    def op_goto_ptr(self, op):
        a = self.a
        self.add_ic(op.consts[0])
        self.into(RCX, op.ins[0])
        # the jump cache (llvm_emit.goto_ptr): pc, code, pc again; a hit needs
        # the same first word twice and its pc bits the target
        a.mov(RDX, RCX)
        a.shift("shr", RDX, 1)
        a.alu("and", RDX, self.env["jc_mask"], I32)
        a.shift("shl", RDX, 4)
        a.mov_imm(RAX, self.env["jc"])
        a.alu("add", RDX, RAX)
        a.mov(RSI, mem(RDX))
        a.mov(RAX, mem(RDX, None, 1, 8))
        miss, hit = a.label(), a.label()
        a.alu("cmp", RSI, mem(RDX))
        a.jcc("ne", miss)
        a.shift("shl", RSI, 64 - E.JC_TAG_SHIFT)
        a.shift("shr", RSI, 64 - E.JC_TAG_SHIFT)
        a.alu("cmp", RSI, RCX)
        a.jcc("e", hit)
        a.bind(miss)
        a.mov_imm(RAX, 0)
        a.bind(hit)
        self.exit(E.EXIT_PTR, None, op.consts[0], chain=True)

    def op_exception(self, op):
        kind, pc, next_pc, insns = op.consts
        self.exceptions.append((kind, pc, next_pc))
        self.add_ic(insns)
        self.exit(E.EXIT_EXC, ("i", len(self.exceptions) - 1), insns)

    # --- control inside the TB ---------------------------------------------------------
    def op_insn_start(self, op):
        self.pc = op.consts[0]
        self.before, self.ninsns = self.ninsns, self.ninsns + 1

    def op_label(self, op):
        lab = op.consts[0]
        if lab in self.fast_heads:
            pc, before = self.heads[lab]
            self.checks[lab] = self.head_check(self.label(lab), pc, before)
        elif lab in self.loop_heads and LOOP_ALIGN:
            self.a.align(LOOP_ALIGN)
        self.a.bind(self.label(lab))
        self.placed.add(lab)
        self.forget()

    def head_check(self, head, pc, before):
        """The back-edges' code of a loop (fast_heads, the start: fast_start),
        placed just before its head (the way in jumps over it) -> its label, the
        back-edges' target (aligned): spend a budget unit, leaving at the head
        when it is spent (the loop's hotness is counted at the exits: loop_hot).
        A back-edge is then one jump or branch there."""
        a = self.a
        a.jmp(head)
        if LOOP_ALIGN:
            a.align(LOOP_ALIGN)
        lb = a.label()
        a.bind(lb)

        def out():
            self.add_ic(before)
            self.exit(E.EXIT_LOOP, ("i", pc), before)
        a.alu("sub", self.budget(), 1, I64)
        a.jcc("l", self.later(out))
        return lb

    def forget(self):
        """No temp lives here (after a label: the IR's rule; after an exit)."""
        self.loc.clear()
        self.free = [r for r in reversed(POOL) if r not in self.pinned]
        self.slots_free = list(range(16 + self.nslots - 1, self.slot_first - 1, -1))

    def op_br(self, op):
        lab, skip = op.consts
        if lab in self.to_start and self.fast_start:
            self.a.jmp(self.start_check)
            return
        if lab in self.checks:
            self.add_ic(-skip)
            self.a.jmp(self.checks[lab])
            return
        self.to_label(lab, skip, lab in self.placed)

    def op_brcond(self, op):
        cond, lab, skip = op.consts
        cc = self.compare(op)
        a = self.a
        if lab in self.to_start and self.fast_start:
            # (a branch to a jump to the start: to the start's back-edge code)
            a.jcc(cc, self.start_check)
            return
        if lab in self.checks:
            a.jcc(cc, self.checks[lab])           # (not counting: no skip to count)
            return
        back = lab in self.placed
        if not back and not (skip and self.counting):
            a.jcc(cc, self.label(lab))
            return
        fall = a.label()
        a.jcc(NEG[cc], fall)
        self.to_label(lab, skip, back)
        a.bind(fall)

    def op_skipped(self, op):
        """(counting) CTX_ICOUNT -= insns if the condition holds, without a branch"""
        if self.counting:
            cc = self.compare(op)
            a = self.a
            a.mov_imm(RAX, 0)                         # (movs: the flags stay)
            a.mov_imm(RDX, -op.consts[1])
            a.cmov(cc, RAX, RDX)
            a.alu("add", ctxm(E.CTX_ICOUNT), RAX, I64)

    def to_label(self, lab, skip, back):
        """Jump to label lab: count the skipped instructions; a back-edge spends
        budget, leaving at the loop's head when it is spent (its hotness is
        counted at the exits: loop_hot)."""
        a = self.a
        self.add_ic(-skip)
        if back:
            pc, before = self.heads[lab]

            def out():
                self.add_ic(before)
                self.exit(E.EXIT_LOOP, ("i", pc), before)
            a.alu("sub", self.budget(), 1, I64)
            a.jcc("l", self.later(out))
        a.jmp(self.label(lab))

    def compare(self, op):
        """cmp of op's first two inputs -> the condition code of op's cond"""
        x, y = op.ins[0], op.ins[1]
        w = x.type
        r = self.reg(x, RAX, w)
        if type(y) is Const and not y.value:
            self.a.test(r, r, w)              # (the flags of cmp r, 0: CF = OF = 0)
        else:
            self.alu("cmp", r, self.operand(y, w, RCX), w)
        return CC[op.consts[0]]

    # --- registers of the guest ---------------------------------------------------------
    def pin_regs(self, ops):
        """Choose the guest registers the TB keeps in host registers (pins),
        written back by the exits' tails (store_pins); a getreg of a pin is a
        register move, or none (alias) when its temp is 64-bit and the
        register is not set while it lives.  The weight of a register: its
        getregs and setregs, LOOP_WEIGHT ** (loops around it, up to 6) each
        (a loop: from a label to a back-edge to it, or from the start to a
        jump to the start: a goto_tb, or a branch to a label that is one; the
        code in it that only leads to an exit weighs as outside: on_cycle).
        The pressure that limits the pins is the loops' (that code's temps
        may take stack slots: they run once).  The budget is a candidate too
        (BUDGET), pinned in BUD, where the TB is entered and left with it;
        unpinned, it lives in a stack slot and BUD is the pool's (sha256's
        round loop: an eighth guest register pinned instead, its fastest
        window 15.97 -> 15.25 ms, bench/windows.py's method)."""
        at, loops, n, pc = {}, [], len(ops), self.block.pc
        # labels whose code is a jump to the TB's start: a branch there is a back-edge
        self.to_start = to_start = {ops[i].consts[0] for i in range(n - 1)
                                    if ops[i].name == "label" and ops[i + 1].name == "goto_tb"
                                    and ops[i + 1].consts[0] == pc}
        back = self.back_insns
        for i, op in enumerate(ops):
            nm = op.name
            if nm == "label":
                at[op.consts[0]] = i
            elif nm == "br" or nm == "brcond":
                lab = op.consts[-2]
                if lab in at:
                    loops.append((at[lab], i))
                    self.loop_heads.add(lab)
                    back.setdefault(lab, set()).add(abs(op.consts[-1]))
                elif lab in to_start:
                    loops.append((0, i))
            elif nm == "goto_tb" and op.consts[0] == pc:
                if ops[i - 1].name != "label":
                    loops.append((0, i))
                self.loops_to_start = True
                back.setdefault(None, set()).add(op.consts[1])
        if not self.counting:
            # (a back-edge's code is the budget only: its hotness is counted at the exits)
            self.fast_heads = set(self.loop_heads)
            self.fast_start = self.loops_to_start
        depth = [0] * (n + 1)
        for lo, hi in loops:
            depth[lo] += 1
            depth[hi + 1] -= 1
        cycles = self.on_cycle(ops, to_start, pc)
        # (the budget, when not in BUD: a store at the entry and a load at
        # the tails, and a `sub` on memory per back-edge: one instruction, if
        # a loop-carried chain; a guest register's getreg and setreg weigh 2)
        weight, sets, d, checks = {BUDGET: 2}, {}, 0, 0
        inloop = [0] * n                             # per op: its weight inside loops, else 0
        backs = {hi for _, hi in loops}
        for i, op in enumerate(ops):
            d += depth[i]
            e = d if cycles[i] else 0                 # (a loop's way out runs once)
            if e:
                inloop[i] = LOOP_WEIGHT ** min(e, 6)
            if i in backs:
                weight[BUDGET] += LOOP_WEIGHT ** min(max(e, 1), 6)
            if (op.name == "ld" and not self.fault_loads) or (op.name == "st" and not self.fault_stores):
                checks += LOOP_WEIGHT ** min(e, 6)
            elif op.name == "getreg":
                g = op.consts[0]
                weight[g] = weight.get(g, 0) + LOOP_WEIGHT ** min(e, 6)
            elif op.name == "setreg":
                g = op.consts[0]
                sets.setdefault(g, []).append(i)
                weight[g] = weight.get(g, 0) + LOOP_WEIGHT ** min(e, 6)
        cands = sorted((g for g, w in weight.items() if w >= PIN_MIN and g != BUDGET),
                       key=lambda g: -weight[g])[:MAX_PINS]
        # (the budget among them by its weight, whatever it is)
        cands.insert(sum(weight[g] >= weight[BUDGET] for g in cands), BUDGET)
        perm = checks >= PERM_MIN and self.env["npages"] > 0
        if cands or perm:
            # the k pins that save the most: a pin saves its weight in loads
            # and stores, a temp the pool has no room for costs a store and
            # a load (each time more temps are alive than it holds; a pin's
            # getreg temps need no register of their own)
            spills, keep = self.pressure(ops, cands, inloop if loops else None, len(POOL) - perm, sets)
            gain, best, k = 0, 0, 0
            for j in range(len(cands) + 1):
                if j:
                    gain += weight[cands[j - 1]]
                net = gain - SPILL_COST * spills[j]
                if net > best or not j:
                    best, k = net, j
            cands = cands[:k]
            perm = perm and k + 1 + keep[k] <= len(POOL)
        regs = PIN_REGS
        if perm:
            self.perm, regs = regs[0], regs[1:]
        if BUDGET in cands:
            cands.remove(BUDGET)
            regs = tuple(r for r in regs if r != BUD)
        else:
            self.bud = None
        pins = dict(zip(cands, regs))
        self.pins = pins
        self.pinned = frozenset(pins.values()) | {r for r in (self.perm, self.bud) if r is not None}
        if not self.pinned:
            return
        self.free = [r for r in reversed(POOL) if r not in self.pinned]
        last, alias = self.last, self.alias
        for i, op in enumerate(ops):
            if op.name == "getreg" and op.type == I64 and op.consts[0] in pins:
                t = op.outs[0].id
                end = last.get(t)
                if end is not None and not any(i < k < end for k in sets.get(op.consts[0], ())):
                    alias.add(t)
        # a value set into a pin is computed there when nothing between reads
        # or needs the pin's old value (a getreg or an alias of it alive, a
        # branch or label: the other path) and the pin is not set again
        # while the value lives
        # (and so is the first input of its op when it dies there and the op
        # reads it before writing and cannot fault, and so on back: crc32's
        # `srlw a3, a5, 8` as ext32u and shr, both in a3's pin, no copy)
        defined, busy = {}, {}        # temp -> its op's index; pin -> the last use of a value in it
        at = {}                       # temp -> its op's index (every one)

        def free_between(lo, hi, g, before):
            return before <= lo and not any(
                o.name in _JOINS or ir.FLAGS[o.name] & ir.FAULT or (o.name in ("getreg", "setreg") and o.consts[0] == g)
                for o in ops[lo + 1:hi])
        for i, op in enumerate(ops):
            nm = op.name
            if nm == "setreg":
                g, v = op.consts[0], op.ins[0]
                if g in pins and type(v) is not Const and v.id in defined:
                    j = defined.pop(v.id)
                    nxt = next((k for k in sets[g] if k > i), n)
                    before = busy.get(g, -1)         # (the last use of a value in the pin before)
                    if free_between(j, i, g, before) and last[v.id] <= nxt:
                        self.hint[v.id] = pins[g]
                        busy[g] = max(before, last[v.id])
                        d = ops[j]
                        while d.name in PIN_SAFE and not ir.FLAGS[d.name] & ir.FAULT and type(d.ins[0]) is not Const:
                            u = d.ins[0].id
                            jj = at.get(u)
                            if jj is None or last.get(u) != j or u in alias or u in self.hint \
                                    or not free_between(jj, j, g, before):
                                break
                            self.hint[u] = pins[g]
                            j, d = jj, ops[jj]
            elif nm == "getreg" and op.outs[0].id in alias:
                g = op.consts[0]
                busy[g] = max(busy.get(g, -1), last[op.outs[0].id])
            elif len(op.outs) == 1 and nm != "call" and nm != "call_pure":
                defined[op.outs[0].id] = i
                at[op.outs[0].id] = i

    @staticmethod
    def on_cycle(ops, to_start, pc):
        """-> per op: may it run again, i.e. reach a back-edge (a branch to a
        label before it, or to the start) without leaving the TB?  Loops are
        ranges of ops in block order, from a head to its back-edge; the code
        in such a range that only leads to an exit (a function's return after
        its loop, quicksort's insertion sort: nine loads of saved registers)
        runs once, and weighed as loop code it took pins from the loop's own
        registers (and its temps counted in the loop's pressure)."""
        n = len(ops)
        out = [False] * n
        reach = {}                                   # label -> its code may run again
        seen = set()                                 # labels after the op (forward targets)
        flag = False
        for i in range(n - 1, -1, -1):
            op = ops[i]
            nm = op.name
            if nm == "label":
                reach[op.consts[0]] = flag
                seen.add(op.consts[0])
            elif nm == "br" or nm == "brcond":
                lab = op.consts[-2]
                to = reach.get(lab, False) if lab in seen and lab not in to_start else True
                flag = to if nm == "br" else flag or to
            elif nm == "goto_tb":
                flag = op.consts[0] == pc
            elif ir.FLAGS[nm] & ir.END:
                flag = False
            out[i] = flag
        return out

    def pressure(self, ops, cands, inloop, room, sets):
        """-> ([the spills the temps cost with cands[:k] pinned], [the most
        temps alive at once then]) for k = 0..len(cands).  Spills: in each
        stretch of ops where more temps are alive (not counting the getregs
        of cands[:k]) than `room` - k registers hold, the most beyond, each
        weighed as its op: `inloop` (per op: its weight inside loops, 0
        outside), or 1 everywhere if None.  Outside loops a temp the pool has
        no room for costs a stack slot once, not every iteration (quicksort's
        insertion sort: a function's epilogue of nine loads after its loop
        left two of the loop's registers unpinned, each a load or store per
        iteration)."""
        n = len(ops)
        last = self.last
        ks = {g: k for k, g in enumerate(cands, 1)}
        deltas = [[0] * (n + 1) for _ in range(len(cands) + 1)]
        # (a value set into a pin is mostly computed there: hint)
        into = {}
        for op in ops:
            if op.name == "setreg" and op.consts[0] in ks and type(op.ins[0]) is not Const:
                into.setdefault(op.ins[0].id, ks[op.consts[0]])
        # (a getreg of a pin needs a register of its own when the pin is set
        # while it lives (sets: each register's setregs' indices): sha256's
        # round moves a..h along, each old value alive past its register's
        # new one; counted as free, they made 8 pins look better than 6,
        # whose code runs 16% faster)
        for i, op in enumerate(ops):
            k = ks.get(op.consts[0], 0) if op.name == "getreg" else 0
            if k:
                end = last.get(op.outs[0].id)
                if end is not None and any(i < j < end for j in sets.get(op.consts[0], ())):
                    k = 0
            if op.outs and not k:
                k = into.get(op.outs[0].id, 0)
            dk = deltas[k]
            for t in op.outs:
                end = last.get(t.id)
                if end is not None:
                    dk[i] += 1
                    dk[end + 1] -= 1
        weights = inloop if inloop is not None else [1] * n
        spills, most = [], []
        # (temps of getregs of cands[k:] and of everything else: every row's
        # deltas, less those of cands[:k]; alive at each op, a prefix sum)
        acc = [sum(col) for col in zip(*deltas)][:n]
        for k in range(len(cands) + 1):
            if k:
                acc = list(map(operator.sub, acc, deltas[k]))
            # (a stretch where more are alive than fit costs its most: each
            # temp beyond, once spilled, stays in its slot through the
            # stretch's ups and downs)
            cost, over, limit, top = 0, 0, room - k, 0
            for alive, w in zip(itertools.accumulate(acc), weights):
                if w and alive > top:
                    top = alive
                if alive <= limit:
                    over = 0
                elif alive - limit > over:
                    cost += (alive - limit - over) * w
                    over = alive - limit
            spills.append(cost)
            most.append(top)
        return spills, most

    def load_pins(self):
        if self.perm is not None:
            self.a.mov_imm(self.perm, self.env["perm"])
        for g, r in self.pins.items():
            self.a.mov(r, _CTXM[E.CTX_REGS + g])

    def op_getreg(self, op):
        t = op.outs[0]
        g = op.consts[0]
        p = self.pins.get(g)
        if p is not None:
            if t.id in self.alias:
                self.loc[t.id] = p
                return
            r = self.define(t)
            self.a.mov(r, p, op.type)
            self.commit(t, r)
            return
        r = self.define(t)
        self.a.mov(r, _CTXM[E.CTX_REGS + g], op.type)
        self.commit(t, r)

    def op_setreg(self, op):
        v = op.ins[0]
        m = _CTXM[E.CTX_REGS + op.consts[0]]
        p = self.pins.get(op.consts[0])
        if p is not None:
            self.into(p, v)
            return
        if type(v) is Const:
            c = imm(v.value, I64)
            if c is not None:
                self.a.mov_imm(m, c)
            else:
                self.put_word(E.CTX_REGS + op.consts[0], ("i", v.value))
        else:
            self.a.mov(m, self.reg(v, RAX))

    # --- pure ops -------------------------------------------------------------------------
    def op_mov(self, op):
        t = op.outs[0]
        r = self.define(t)
        self.into(r, op.ins[0], op.type)
        self.commit(t, r)

    def _binary(self, op):
        t, w = op.outs[0], op.type
        x = op.ins[0]
        r = self.define(t, x)
        self.into(r, x, w)
        self.alu(_ALU[op.name], r, self.operand(op.ins[1], w, RCX), w)
        self.commit(t, r)

    op_sub = op_and = op_or = op_xor = _binary

    def op_add(self, op):
        """as _binary; x + constant or x + y into another register: one lea"""
        x, y = op.ins
        if type(x) is not Const:
            w = op.type
            loc = self.loc[x.id]
            if loc < 16:
                if type(y) is Const:
                    c = imm(y.value, w)
                    if c is not None and (self.last.get(x.id) != self.i or loc in self.pinned):
                        t = op.outs[0]
                        r = self.define(t)
                        self.a.lea(r, mem(loc, None, 1, c), w)
                        self.commit(t, r)
                        return
                else:
                    ly = self.loc[y.id]
                    if ly < 16:
                        t = op.outs[0]
                        r = self.define(t, x)
                        if r == loc:
                            self.a.alu("add", r, ly, w)
                        elif r == ly:
                            self.a.alu("add", r, loc, w)
                        else:
                            self.a.lea(r, mem(loc, ly), w)
                        self.commit(t, r)
                        return
        self._binary(op)

    def op_mul(self, op):
        t, w = op.outs[0], op.type
        r = self.define(t, op.ins[0])
        self.into(r, op.ins[0], w)
        kind, x = self.operand(op.ins[1], w, RCX)
        if kind == "i":
            self.a.mov_imm(RCX, op.ins[1].value)
            x = RCX
        self.a.imul(r, x, w)
        self.commit(t, r)

    def _neg_not(self, op):
        t, w = op.outs[0], op.type
        r = self.define(t, op.ins[0])
        self.into(r, op.ins[0], w)
        self.a.unary(op.name, r, w)
        self.commit(t, r)

    op_neg = op_not = _neg_not

    def _bits(self, op):
        t, w = op.outs[0], op.type
        r = self.define(t, op.ins[0])
        self.a.bitop(_BITS[op.name], r, self.reg(op.ins[0], RCX), w)
        self.commit(t, r)

    op_clz = op_ctz = op_popcnt = _bits

    def _ext(self, op):
        t, w = op.outs[0], op.type
        size, signed = _EXT[op.name]
        r = self.define(t, op.ins[0])
        if 8 * size >= w:
            self.into(r, op.ins[0], w)
        else:
            self.a.movx(r, self.reg(op.ins[0], RCX), size, signed, w)
        self.commit(t, r)

    op_ext8s = op_ext8u = op_ext16s = op_ext16u = op_ext32s = op_ext32u = _ext

    def _low32(self, op):
        t = op.outs[0]
        r = self.define(t, op.ins[0])
        # (a 32-bit move, to itself too: the high half cleared)
        self.a.movx(r, self.reg(op.ins[0], RCX), 4, False, I64)
        self.commit(t, r)

    op_trunc32 = op_zext32 = _low32

    def op_sext32(self, op):
        t = op.outs[0]
        r = self.define(t, op.ins[0])
        self.a.movx(r, self.reg(op.ins[0], RCX), 4, True, I64)
        self.commit(t, r)

    def _shift(self, op):
        t, w = op.outs[0], op.type
        x = op.ins[0]
        if type(x) is not Const:
            x = self.views.get(x.id, x)           # (a folded trunc32's source: fold_truncs)
        r = self.define(t, x)
        n = op.ins[1]
        if type(n) is Const:
            k = n.value & (w - 1)
            if k and _BMI2 and op.name in ("rotr", "rotl") and w in (I32, I64):
                # (one rorx, no copy of a value that stays alive)
                self.a.rorx(r, self.reg(x, RCX), k if op.name == "rotr" else w - k, w)
                self.commit(t, r)
                return
            self.into(r, op.ins[0], w)
            if k:
                self.a.shift(_SHIFT[op.name], r, k, w)
        else:
            self.into(RCX, n, I32)
            self.into(r, op.ins[0], w)
            self.a.shift(_SHIFT[op.name], r, "cl", w)
        self.commit(t, r)

    op_shl = op_shr = op_sar = op_rotl = op_rotr = _shift

    def _mulh(self, op):
        t, w = op.outs[0], op.type
        a = self.a
        n = op.name
        r = self.define(t)
        x, y = op.ins
        if w == I32:
            # the 64-bit product of the extended halves, its high 32 bits
            a.movx(RAX, self.reg(x, RAX), 4, n != "mulhu", I64)
            a.movx(RCX, self.reg(y, RCX), 4, n == "mulh", I64)
            a.imul(RAX, RCX, I64)
            a.shift("shr", RAX, 32)
            a.mov(r, RAX, I32)
        else:
            self.into(RCX, y)
            self.into(RAX, x)
            a.unary("imul" if n == "mulh" else "mul", RCX, I64)
            if n == "mulhsu":
                # unsigned high half, minus y where x is negative
                self.into(RAX, x)
                a.shift("sar", RAX, 63)
                a.alu("and", RAX, RCX)
                a.alu("sub", RDX, RAX)
            a.mov(r, RDX)
        self.commit(t, r)

    op_mulh = op_mulhu = op_mulhsu = _mulh

    def _divide(self, op):
        """RISC-V's answers without the host's traps (ir's div/rem): x/0 = 0,
        x%0 = x, and a divisor of -1 negates (MIN/-1 = MIN, MIN%-1 = 0)"""
        t, w = op.outs[0], op.type
        a = self.a
        n = op.name
        r = self.define(t)
        self.into(RCX, op.ins[1], w)
        self.into(RAX, op.ins[0], w)
        zero, done = a.label(), a.label()
        a.test(RCX, RCX, w)
        a.jcc("e", zero)
        if n in ("div", "rem"):
            do = a.label()
            a.alu("cmp", RCX, -1, w)
            a.jcc("ne", do)
            if n == "div":
                a.unary("neg", RAX, w)
            else:
                a.mov_imm(RAX, 0)
            a.jmp(done)
            a.bind(do)
            a.cqo() if w == I64 else a.cdq()
            a.unary("idiv", RCX, w)
        else:
            a.mov_imm(RDX, 0)
            a.unary("div", RCX, w)
        if n in ("rem", "remu"):
            a.mov(RAX, RDX, w)
        a.jmp(done)
        a.bind(zero)
        if n in ("div", "divu"):
            a.mov_imm(RAX, 0)
        a.bind(done)
        a.mov(r, RAX, w)
        self.commit(t, r)

    op_div = op_divu = op_rem = op_remu = _divide

    def op_setcond(self, op):
        t = op.outs[0]
        r = self.define(t)
        cc = self.compare(op)
        self.a.setcc(cc, r)
        self.a.movx(r, r, 1, False, I32)
        self.commit(t, r)

    def op_movcond(self, op):
        t, w = op.outs[0], op.type
        r = self.define(t)
        cc = self.compare(op)                     # (then moves only: the flags stay)
        self.into(r, op.ins[3], w)
        c = op.ins[2]
        if type(c) is Const:
            self.a.mov_imm(RDX, c.value)
            c = RDX
        else:
            c = self.operand(c, w, RDX)[1]
        self.a.cmov(cc, r, c, w)
        self.commit(t, r)

    # --- memory ---------------------------------------------------------------------------
    def check(self, addr, size, loads, stores, slow):
        """Jump to slow unless `size` bytes at register addr may be accessed
        in host memory: aligned, inside the space, its page's permission byte.
        (The page number with the address's low log2(size) bits above it, by
        a rotate and a shift, compared with npages: alignment and space in
        one compare.)"""
        a, env = self.a, self.env
        if not env["npages"]:
            a.jmp(slow)
            return
        if size > 1:
            # the low k bits rotated above the page number: one compare checks
            # both the alignment and the space
            k = size.bit_length() - 1
            if _BMI2:
                a.rorx(RCX, addr, k)
            else:
                a.mov(RCX, addr)
                a.shift("ror", RCX, k)
            a.shift("shr", RCX, E.PAGE_SHIFT - k)
        else:
            a.mov(RCX, addr)
            a.shift("shr", RCX, E.PAGE_SHIFT)
        a.alu("cmp", RCX, env["npages"], I64)
        a.jcc("ae", slow)
        a.load(RCX, self.perm_at(RCX), 1, False, I32)
        mask, want = E.Emitter.perm_bits(loads, stores)
        a.alu("and", RCX, mask, I32)
        a.alu("cmp", RCX, want, I32)
        a.jcc("ne", slow)

    def check_access(self, op, addr, slow):
        """Jump to slow unless op's access (address in register addr) may go
        straight to host memory: a lone access checks itself (check); one of
        a group (llvm_emit's plan_groups) relies on its group's check, made
        at its first access over the range they all touch (check_range), its
        answer kept in a stack slot for the others (one compare each)."""
        g = self.groups.get(id(op))
        loads, stores = op.name == "ld", op.name == "st"
        if g is None or g[6] == 1:
            self.check(addr, op.consts[0], loads, stores, slow)
            return
        a = self.a
        if g[5] is None:
            # the first of the group: the flag slot, alive until its last access
            if self.slots_free:
                k = self.slots_free.pop()
            else:
                k = 16 + self.nslots
                self.nslots += 1
            flag = self.slot_mem(k)
            g[5] = [k, flag, g[6]]
            x = op.ins[0]
            off = self.group_off.get(x.id, 0) if type(x) is not Const else 0
            base, lo, hi, gl, gs = g[:5]

            def fail():
                a.mov_imm(flag, 1)
                a.jmp(slow)
            span = hi - lo
            if span == op.consts[0] and lo == off:
                # (this access covers the group's range, e.g. a load and a store
                # of one word: checked as this access alone, aligned: one page)
                self.check(addr, span, gl, gs, self.later(fail))
            else:
                self.check_range(addr, lo - off, span, gl, gs, self.later(fail))
            a.mov_imm(flag, 0)
        else:
            flag = g[5][1]
            a.alu("cmp", flag, 0, I64)
            a.jcc("ne", slow)
        g[5][2] -= 1
        if not g[5][2]:
            self.slots_free.append(g[5][0])

    def check_range(self, addr, lo, span, loads, stores, slow):
        """Jump to slow unless [addr + lo, addr + lo + span) (span <= a page:
        one or two pages, the host memory one piece) lies inside the space and
        the permission bytes of its first and last page allow the accesses
        (llvm_emit's check_range, with branches).  Both pages inside the
        space also means the range does not wrap around.  Uses RCX and RDX."""
        a, env = self.a, self.env
        if not env["npages"]:
            a.jmp(slow)
            return
        mask, want = E.Emitter.perm_bits(loads, stores)
        if self.perm is None:
            a.mov_imm(RDX, env["perm"])
        for d in (lo, lo + span - 1):
            if d:
                a.lea(RCX, mem(addr, None, 1, d))
            else:
                a.mov(RCX, addr)
            a.shift("shr", RCX, E.PAGE_SHIFT)
            a.alu("cmp", RCX, env["npages"], I64)
            a.jcc("ae", slow)
            a.load(RCX, mem(RDX if self.perm is None else self.perm, RCX), 1, False, I32)
            a.alu("and", RCX, mask, I32)
            a.alu("cmp", RCX, want, I32)
            a.jcc("ne", slow)

    def perm_at(self, page):
        """the permission byte of page (a register) as a memory operand"""
        if self.perm is None:
            self.a.mov_imm(RDX, self.env["perm"])
            return mem(RDX, page)
        return mem(self.perm, page)

    def host(self, addr):
        base = self.env["mem_base"]
        if base < 1 << 31:
            return mem(addr, None, 1, base)
        self.a.mov_imm(RDX, base)
        return mem(RDX, addr)

    def op_ld(self, op):
        size, signed = op.consts
        t, w = op.outs[0], op.type
        a = self.a
        done = a.label()
        pc, before = self.pc, self.before
        kind = size | (int(bool(signed)) << 4)
        n = min(size, w // 8)
        fold = self.folds.get(self.i)
        if fold is not None:
            base, index, scale, c, defer = fold
            rb = self.reg(base, RAX)
            ri = None if index is None else self.reg(index, RCX)
            self.release_folded(fold)         # (the load reads them before it writes r)
            r = self.define(t)

            def folded_slow():
                a.lea(RCX, mem(rb, ri, scale, c))     # (as at the load: it left them as they were)
                if defer is not None:             # (the setreg of the address, deferred here)
                    p = self.pins.get(defer)
                    a.mov(_CTXM[E.CTX_REGS + defer] if p is None else p, RCX)
                self.mem_callback(E.CB_LOAD, ("r", RCX), ("i", kind), ("i", 0), pc, before)
                a.mov(r, RAX, w)
                a.jmp(done)
            self.fault_at.append((a.here(), self.later(folded_slow)))
            a.load(r, mem(rb, ri, scale, c + self.env["mem_base"]), n, bool(signed) and 8 * n < w, w)
            a.bind(done)
            self.commit(t, r)
            return
        x = op.ins[0]
        addr = self.reg(x, RAX)
        place = self.where(x)
        r = self.define(t)

        def slow():
            self.mem_callback(E.CB_LOAD, place, ("i", kind), ("i", 0), pc, before)
            a.mov(r, RAX, w)
            a.jmp(done)
        if self.fault_loads:
            # (no check: a host fault at the load goes on at its slow path, which
            # the load left as it was; see backends/faults.py)
            host = self.host(addr)
            self.fault_at.append((a.here(), self.later(slow)))
        else:
            self.check_access(op, addr, self.later(slow))
            host = self.host(addr)
        a.load(r, host, n, bool(signed) and 8 * n < w, w)
        a.bind(done)
        self.commit(t, r)

    def op_st(self, op):
        size = op.consts[0]
        a = self.a
        x, v = op.ins
        fold = self.folds.get(self.i)
        if fold is not None:
            self.folded_st(op, fold)
            return
        addr = self.reg(x, RAX)
        pa, pv = self.where(x), self.where(v)
        done = a.label()
        pc, before = self.pc, self.before

        def slow():
            self.mem_callback(E.CB_STORE, pa, pv, ("i", size), pc, before)
            a.jmp(done)
        lb = None
        if not self.fault_stores:
            self.check_access(op, addr, self.later(slow))
        else:
            # (no check but the range, as llvm_emit's fault_store: a host fault
            # at the store goes on at its slow path; the store did nothing, x86
            # stores being all or nothing)
            lb = self.later(slow)
            a.mov(RCX, addr)
            self.range_check(lb)
        self.store(self.host(addr), v, size, lb)
        a.bind(done)

    def range_check(self, lb):
        """(an unchecked store) to lb unless the guest address in RCX is inside
        the space (RCX is lost): its page number against npages, or, the space
        a power of two, the shift alone (its zero flag)"""
        a, npages = self.a, self.env["npages"]
        if npages and npages & (npages - 1) == 0:
            a.shift("shr", RCX, E.PAGE_SHIFT + npages.bit_length() - 1)
            a.jcc("ne", lb)
        else:
            a.shift("shr", RCX, E.PAGE_SHIFT)
            a.alu("cmp", RCX, npages, I64)
            a.jcc("ae", lb)

    def store(self, host, v, size, lb=None):
        """v's low `size` bytes to host (lb: the store's fault path: fault_at)"""
        c = None
        if type(v) is Const:
            # (a constant as the store's immediate: 8 bytes from a sign-extended imm32)
            c = v.value & ((1 << (8 * size)) - 1) if size < 8 else imm(v.value, I64)
        src = c if c is not None else self.reg(v, RCX)
        if lb is not None:
            self.fault_at.append((self.a.here(), lb))
        if c is not None:
            self.a.mov_imm(host, c, 8 * size)
        else:
            self.a.mov(host, src, 8 * size)

    def folded_st(self, op, fold):
        """op_st, fault stores, its address [rb + ri*scale + c] (fold_addresses):
        the range check computes it in RCX, the slow path again"""
        size = op.consts[0]
        a = self.a
        v = op.ins[1]
        base, index, scale, c, _ = fold
        rb = self.reg(base, RAX)
        ri = None if index is None else self.reg(index, RDX)
        pv = self.where(v)
        done = a.label()
        pc, before = self.pc, self.before
        addr = mem(rb, ri, scale, c)

        def slow():
            a.lea(RCX, addr)                  # (as at the store: it left them as they were)
            self.mem_callback(E.CB_STORE, ("r", RCX), pv, ("i", size), pc, before)
            a.jmp(done)
        lb = self.later(slow)
        a.lea(RCX, addr)
        self.range_check(lb)
        self.store(mem(rb, ri, scale, c + self.env["mem_base"]), v, size, lb)
        a.bind(done)
        self.release_folded(fold)

    def release_folded(self, fold):
        """(a folded access) its base and index, not among its op's inputs,
        released where their last use is the access"""
        for v in fold[:2]:
            if v is not None and self.last[v.id] == self.i:
                self.release(v.id)

    def op_mb(self, op):
        self.a.mfence()

    # --- helpers ----------------------------------------------------------------------------
    def op_call(self, op):
        if self.fp is not None and self.fp.lower(op):
            return
        self.helper_call(op)

    def helper_call(self, op):
        """op's helper called back (the arguments in CTX_ARGS), its result in op's output"""
        if len(op.ins) > E.NARGS_MAX:
            raise NotImplementedError(f"x64: a helper call with {len(op.ins)} arguments")
        for i, v in enumerate(op.ins):
            self.put_word(E.CTX_ARGS + i, self.where(v))
        self.callback(E.CB_HELPER, ("i", self.env["helper_id"](op.consts[0])), ("i", len(op.ins)), ("i", 0))
        if op.outs:
            t = op.outs[0]
            r = self.define(t)
            self.a.mov(r, RAX, op.type)
            self.commit(t, r)

    op_call_pure = op_call


# every op of the IR's table, lowered (tests/unit/test_backends.py checks it)
LOWER = {n: getattr(Emitter, "op_" + n) for n in (
    "mov", "neg", "not", "clz", "ctz", "popcnt", "ext8s", "ext8u", "ext16s", "ext16u", "ext32s", "ext32u",
    "trunc32", "zext32", "sext32", "add", "sub", "mul", "mulh", "mulhu", "mulhsu", "div", "divu", "rem", "remu",
    "and", "or", "xor", "shl", "shr", "sar", "rotl", "rotr", "setcond", "movcond", "getreg", "setreg",
    "ld", "st", "call", "call_pure", "insn_start", "label", "br", "brcond", "skipped", "mb", "goto_tb",
    "goto_ptr", "exception")}


def disassemble(code, addr):
    """-d out_asm: the code as capstone reads it"""
    import capstone
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    return "\n".join(f"  {i.address:#x}: {i.mnemonic} {i.op_str}".rstrip() for i in cs.disasm(code, addr))
