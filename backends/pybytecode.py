"""The Python-bytecode JIT: each TB becomes one Python function, built with `bytecode`.

The generator below names no opcode: it asks backends/pyops.py's Emitter for
operations (push, call, jump if, loop unless, ...), which knows each CPython's
opcodes (3.11 to 3.13) and computes the code's stack depth.

    def tb_<pc>(cpu):                      # links, lookup, fns, pages, count, pending: constants
        r = cpu.regs
        g10 = r[10]; ...                   # registers read before written (see read())
        try:
            <ops, guest registers living in locals g<n>, temps in t<n>>
            r[10] = g10; ...                  # at each exit: the registers written
            return links[k]                   # goto_tb: the chained successor (or its stub)
        except BaseException as e:            # a fault mid-block: registers written so far
            r[10] = g10; ...                  # go back; the guest pc comes from the
            fixup(e, pcs, cpu, ...); raise    # traceback's line number = instruction index

* Registers stay in locals for the whole TB and are written back only at exits
  (those that may have been written on the way there: inside a loop, all the
  loop writes).  A register no path has written yet is loaded where it is first
  read, outside loops, so an early exit does not pay for the rest's loads.
  Guest-register load/store elimination is free; a fault is still precise
  because the handler writes back the current locals, and each bytecode
  instruction's line number is the index of its guest instruction, which maps
  the faulting bytecode to the guest pc at no cost on the hot path.
* A TB that jumps to its own start loops inside its function (checking for a
  pending signal on the back-edge) instead of returning to the trampoline.
* Memory accesses are inlined: `pages[a >> 12].Q[a >> 3]` loads, `pages[a >> 12].wQ[a >> 3] = v`
  stores, the page's entry in the access table being typed views of guest
  memory, without the store slots for a page that is not writable, or None
  (see runtime/memory.py).  The access runs in a try region of its own whose handler
  is the checked slow path (GuestMemory.load/store: page crossing, faults,
  self-modifying code); misaligned addresses go there after one AND.
* Rare or wide ops (division, mulh, clz, rotates) call the IR's own semantic
  functions (`ir.EVAL`), so they cannot disagree with the interpreter.
"""
import types

from pydbt import ir
from pydbt.errors import GuestFault, raise_exception
from pydbt.ir import Const, MASK, EVAL
from pydbt.passes import known_bits, _bits
from pydbt.runtime.memory import PAGE_SHIFT, TABLE_PAD

from . import pyasm, pyops
from .pyops import Bytecode, Label, Compare, BinaryOp, SetLineno

PAGE_MASK = (1 << PAGE_SHIFT) - 1

name = "pybytecode"
superblocks = True       # compile time is paid for hot code only: make it big
counts_hotness = True    # (ctx.hot: see hot_check)
access_table = True      # (its code indexes the guest memory's: runtime/memory.py)

_BIN = {"add": BinaryOp.ADD, "sub": BinaryOp.SUBTRACT, "mul": BinaryOp.MULTIPLY,
        "and": BinaryOp.AND, "or": BinaryOp.OR, "xor": BinaryOp.XOR}
_NEEDS_MASK = {"add", "sub", "mul"}
_CMP = {"eq": Compare.EQ, "ne": Compare.NE, "lt": Compare.LT, "ge": Compare.GE,
        "le": Compare.LE, "gt": Compare.GT, "ltu": Compare.LT, "geu": Compare.GE,
        "leu": Compare.LE, "gtu": Compare.GT}
_SIGNED_CMP = {"lt", "ge", "le", "gt"}
_VIEW = {(1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q",
         (1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q"}
_SHIFT = {1: 0, 2: 1, 4: 2, 8: 3}
_EXT = {"ext8s": (0xff, 0x80), "ext16s": (0xffff, 0x8000), "ext32s": (0xffffffff, 0x80000000)}
_EXTU = {"ext8u": 0xff, "ext16u": 0xffff, "ext32u": 0xffffffff}
# a TB function's one parameter; what else it uses (the TB's links, the lookup, the
# pages, the counters, the pending flag) are constants of its code object (see ref())
_ARGS = ("cpu",)
HOT_N = "hot_n"          # the free variable of the inline hotness countdown (count_event)


def fixup(e, pcs, cpu, local, written, count):
    """In a TB's exception handler: write back the register locals bound so far
    (`local` = the TB's locals(); written = ((reg, local name), ...)), give a
    fault the pc of the faulting instruction and (stats: `count`, else 0) count the
    instructions that ran before it (its line is its index in block order; an
    exception op counted its own before it raised)."""
    regs = cpu.regs
    for g, name in written:
        if name in local:
            regs[g] = local[name]
    if isinstance(e, GuestFault):
        tb = e.__traceback__
        if e.pc is None:
            e.pc = pcs[tb.tb_lineno]
        cpu.pc = e.pc
        if count and (tb.tb_next is None or tb.tb_next.tb_frame.f_code is not _RAISE_CODE):
            count[0] += local.get("ic", 0) + tb.tb_lineno - 1


_RAISE_CODE = raise_exception.__code__


class Gen:
    def __init__(self, block, ctx):
        self.block = block
        self.ctx = ctx
        self.hot = getattr(ctx, "hot", None)     # (a tier below the last: hot_check)
        # its count inline: a countdown in a cell shared with the engine (see hot_check)
        self.hot_cell = getattr(self.hot, "cell", None)
        self.e = pyops.Emitter()     # the instructions, through the version's opcode table
        self.code = self.e.code
        self.line = 1
        self.labels = {}
        self.written = []            # guest registers written anywhere (in order)
        self.fallthrough = True

    # --- emission helpers --------------------------------------------------------------
    def load(self, v):
        if isinstance(v, Const):
            self.e.const(v.value)
        elif v.id == self.on_stack:
            self.on_stack = None              # the value is already there
        else:
            name = self.names.get(v.id)
            if name is not None:
                self.read(name)
            self.e.load(name or f"t{v.id}")

    def read(self, name):
        """A register local is read: unless it is bound on every path to here, it
        is loaded here if no path to here wrote it and this is not in a loop (a
        block left early does not pay for loads it never reached; a loop would
        load again each time round), else at the entry."""
        if name in self.defw:
            return
        if self.in_loop[self.pos] or int(name[1:]) in self.maybe[self.pos]:
            self.need.add(name)
            return
        self.e.load("r")
        self.e.const(int(name[1:]))
        self.e.subscr()
        self.e.store(name)
        self.defw = self.defw | {name}

    def store(self, v):
        if v.id in self.stack_ok:
            self.on_stack = v.id
        else:
            name = self.names.get(v.id)
            if name is not None:                 # computed straight into a register local
                self.defw = self.defw | {name}
            self.e.store(name or f"t{v.id}")

    def load_early(self, op):
        """The registers op reads are loaded (if they must be, see read) before its
        code: ops with branches inside (movcond, accesses' slow paths, groups'
        checks) must not load a register on one of their paths only."""
        temps = [v for v in op.ins if not isinstance(v, Const)]
        g = self.groups.get(id(op))
        if g is not None:
            temps.append(g[2])
        temps += [self.defs[v.id].ins[0] for v in temps if v.id in self.deferred]
        for v in temps:
            name = self.names.get(v.id) if not isinstance(v, Const) else None
            if name is not None:
                self.read(name)

    def binop(self, op):
        self.e.binop(op)

    def mask(self, w):
        self.e.const(MASK[w])
        self.binop(BinaryOp.AND)

    def call(self, fn, nargs_loader, n):
        """Call fn with n arguments pushed by nargs_loader(); the result stays on the stack."""
        self.e.callable_const(fn)
        nargs_loader()
        self.e.call(n)

    def ref(self, name):
        """Push one of the objects a TB works with, as a constant of its code: a
        TB function takes only `cpu`, so CPython calls it with its exact-args fast
        path (CPython 3.12.1 crashed in the with-defaults path: issue 8)."""
        ctx = self.ctx
        if name == "pages":
            self.e.const(ctx.mem.access_table() if ctx.mem is not None else None)
        else:
            self.e.const(getattr(ctx, name))        # links, fns, counter, pending

    def label(self, key):
        lab = self.labels.get(key)
        if lab is None:
            lab = self.labels[key] = Label()
        return lab

    def signed(self, w):
        """top of stack: unsigned w-bit -> signed Python int"""
        s = 1 << (w - 1)
        self.e.const(s)
        self.binop(BinaryOp.XOR)
        self.e.const(s)
        self.binop(BinaryOp.SUBTRACT)

    def compare(self, cond, a, b, w):
        # a signed comparison compares the values with their sign bits flipped,
        # unless both sign bits are known clear; a constant comes flipped
        flip = cond in _SIGNED_CMP and max(_bits(a, self.known), _bits(b, self.known)) >= w
        for v in (a, b):
            if flip and isinstance(v, Const):
                self.e.const(v.value ^ (1 << (w - 1)))
                continue
            self.load(v)
            if flip:
                self.e.const(1 << (w - 1))
                self.binop(BinaryOp.XOR)
        self.e.compare(_CMP[cond])

    def return_lookup(self, push_pc):
        """return fns.get(pc) or lookup(pc): the function of the TB at pc"""
        self.ref("fns")
        self.e.method("get")
        push_pc()
        self.e.call(1)
        self.e.jump_if_true_or_pop(self.ret_label)
        self.e.callable_const(self.ctx.lookup)
        push_pc()
        self.e.call(1)
        self.e.ret()

    def back_edge(self, lab, skip):
        """A backward jump inside the block (a loop): taken unless a signal is
        pending, in which case the block is left at the loop head."""
        if self.ctx.counter is not None:
            self.add_ic(-skip)               # the instructions run again
        head_pc, before = self.heads[lab]
        self.hot_check(head_pc, before, abs(skip))     # (an iteration: the loop's instructions)
        self.ref("pending")
        self.e.loop_unless(self.label(lab))
        self.jump_to_tail(self.pending_tails, "exit_pc", head_pc, before)

    def hot_check(self, head_pc, insns, weight):
        """On a tier below the last (ctx.hot): a loop's back-edge counts its
        loop's `weight` instructions, and leaves at the loop head by
        promote(head) when told to."""
        if self.hot is None:
            return
        cold = Label()
        self.count_event(self.e, cold, weight)
        # (counted inline, it is told to leave once it has been replaced: it
        # leaves as for a pending signal, sharing that tail, and the lookup
        # finds the new code)
        tails = self.hot_tails if self.hot_cell is None else self.pending_tails
        self.jump_to_tail(tails, "exit_pc", head_pc, insns)
        self.e.place(cold)

    def count_event(self, e, cold, n):
        """An entry or a loop back-edge on a tier below the last, standing for
        n guest instructions (the hotness count's unit, tiering.Hotness): jump
        to cold unless the TB is to leave.  With a countdown cell (ctx.hot.cell,
        the free variable HOT_N): `HOT_N -= n`, and only when it reaches 0 (or
        below) a call of ctx.hot.expired(), which refills it and says whether
        to leave (~2 ns, against ~30 for a call per event); else hot(n) on each
        event."""
        if self.hot_cell is None:
            e.callable_const(self.hot)
            e.const(n)
            e.call(1)
            e.jump_if(False, cold)
            return
        e.load_free(HOT_N)
        e.const(n)
        e.binop(BinaryOp.SUBTRACT)
        e.copy(1)
        e.store_free(HOT_N)
        e.const(0)
        e.compare(Compare.GT)           # (not its truth: threads can take it below 0)
        e.jump_if(True, cold)
        e.callable_const(self.hot.expired)
        e.call(0)
        e.jump_if(False, cold)

    def jump_to_tail(self, tails, local, value, insns):
        """Leave by the tail in `tails` shared by the exits that write back the same
        registers (cold code is most of a superblock's size, and compile time grows
        with size): `local` = value, exit_n = insns (when counting), jump there."""
        regs = tuple(self.exit_regs())
        for g in regs:
            self.read(f"g{g}")
        tail = tails.get(regs)
        if tail is None:
            tail = tails[regs] = Label()
        self.e.const(value)
        self.e.store(local)
        if self.ctx.counter is not None:
            self.e.const(insns)
            self.e.store("exit_n")
        self.e.jump(tail)

    def exit_regs(self):
        """The registers an exit here writes back: those a path to it may have written."""
        maybe = self.maybe[self.pos]
        return [g for g in self.written if g in maybe]

    def fits(self, n, ins, w):
        """Can the unmasked result of op n already be below 2**w? (known bits)"""
        if any(not isinstance(v, Const) and v.id in self.lazy for v in ins):
            return False
        b = [_bits(v, self.known) for v in ins]
        if n == "add":
            return max(b) + 1 <= w
        if n == "mul":
            return b[0] + b[1] <= w
        if n == "shl":
            return isinstance(ins[1], Const) and b[0] + (ins[1].value & (w - 1)) <= w
        return False

    def writeback(self, regs, here=True):
        """Store register locals back to the CPU state at an exit (exit_regs()).
        here=False: in a tail shared by exits elsewhere (which said what they read)."""
        for g in regs:
            if here:
                self.read(f"g{g}")
            self.e.load(f"g{g}")
            self.e.load("r")
            self.e.const(g)
            self.e.store_subscr()

    def bump(self, idx, n, with_ic=False):
        """count[idx] += n (+ ic); n: a constant or the name of a local"""
        self.ref("counter")
        self.e.const(idx)
        self.e.copy(2)
        self.e.copy(2)
        self.e.subscr()
        if isinstance(n, str):
            self.e.load(n)
        else:
            self.e.const(n)
        self.binop(BinaryOp.INPLACE_ADD)
        if with_ic:
            self.e.load("ic")
            self.binop(BinaryOp.INPLACE_ADD)
        self.e.swap(3)
        self.e.swap(2)
        self.e.store_subscr()

    def add_ic(self, n):
        """stats: ic += n, the local count of guest instructions of this call"""
        self.e.load("ic")
        self.e.const(n)
        self.binop(BinaryOp.INPLACE_ADD)
        self.e.store("ic")

    def count_tb(self, insns):
        """stats at an exit: count[0] += ic + `insns` guest instructions"""
        if self.ctx.counter is not None:
            self.bump(0, insns, with_ic=True)

    # --- ops -------------------------------------------------------------------------
    def op(self, op):
        n = op.name
        # registers bound on every path to here (for the entry loads)
        if n in ("brcond", "br"):
            lab = op.consts[1] if n == "brcond" else op.consts[0]
            self.defw_at[lab] = self.defw_at.get(lab, self.defw) & self.defw
        elif n == "label":
            at = self.defw_at.get(op.consts[0], self.defw)
            self.defw = (self.defw & at) if self.fallthrough else at
            if op.consts[0] in self.back_targets:
                # a backward branch comes later: on its paths (a superblock's later
                # parts may enter from elsewhere) nothing may be bound but the entry's
                self.defw = frozenset()
        self.fallthrough = not (op.flags & ir.END) and n != "br"
        self.load_early(op)
        w = op.type
        ins = op.ins
        if n == "add" and op.outs[0].id in self.addr_only and isinstance(ins[1], Const):
            if op.outs[0].id in self.deferred:
                return                       # computed where a grouped access needs it
            self.address(op)
        elif n in _BIN:
            self.load(ins[0])
            self.load(ins[1])
            self.binop(_BIN[n])
            if n in _NEEDS_MASK and op.outs[0].id not in self.lazy and not self.fits(n, ins, w):
                self.mask(w)
        elif n in ("shl", "shr", "sar"):
            self.load(ins[0])
            if n == "sar" and _bits(ins[0], self.known) < w:
                n = "shr"                    # the sign bit is known clear
            if n == "sar":
                self.signed(w)
            if isinstance(ins[1], Const):
                self.e.const(ins[1].value & (w - 1))
            else:
                self.load(ins[1])
                self.e.const(w - 1)
                self.binop(BinaryOp.AND)
            self.binop(BinaryOp.LSHIFT if n == "shl" else BinaryOp.RSHIFT)
            if n == "sar" or n == "shl" and op.outs[0].id not in self.lazy and not self.fits(n, ins, w):
                self.mask(w)
        elif n == "mov" or n == "zext32":
            self.load(ins[0])
        elif n == "not":
            self.load(ins[0])
            self.e.const(MASK[w])
            self.binop(BinaryOp.XOR)
        elif n == "neg":
            self.load(ins[0])
            self.e.neg()
            if op.outs[0].id not in self.lazy:
                self.mask(w)
        elif n in _EXT or n == "sext32":
            m, s = _EXT.get(n, (0xffffffff, 0x80000000))
            self.load(ins[0])
            if n != "sext32":
                self.e.const(m)
                self.binop(BinaryOp.AND)
            self.e.const(s)
            self.binop(BinaryOp.XOR)
            self.e.const(s)
            self.binop(BinaryOp.SUBTRACT)
            self.mask(w)
        elif n in _EXTU or n == "trunc32":
            self.load(ins[0])
            self.e.const(_EXTU.get(n, 0xffffffff))
            self.binop(BinaryOp.AND)
        elif n == "setcond":
            self.compare(op.consts[0], ins[0], ins[1], ins[0].type)
        elif n == "movcond":
            other, done = Label(), Label()
            self.compare(op.consts[0], ins[0], ins[1], ins[0].type)
            self.e.jump_if(False, other)
            self.load(ins[2])
            self.store(op.outs[0])
            self.e.jump(done)
            self.e.place(other)
            self.load(ins[3])
            self.store(op.outs[0])
            self.e.place(done)
            return
        elif n in EVAL:                      # rare ops: the IR's own semantics
            f = EVAL[n]
            self.call(f, lambda: (self.e.const(w), [self.load(v) for v in ins]), 1 + len(ins))
            self.mask(w)
        elif n == "getreg":
            if op.outs[0].id in self.names:
                return                       # an alias of the register's local
            self.read(f"g{op.consts[0]}")
            self.e.load(f"g{op.consts[0]}")
        elif n == "setreg":
            if id(op) not in self.folded:    # (else the value was computed into the local)
                self.load(ins[0])
                self.e.store(f"g{op.consts[0]}")
            self.defw = self.defw | {f"g{op.consts[0]}"}
            return
        elif n == "ld":
            return self.ld(op)
        elif n == "st":
            return self.st(op)
        elif n in ("call", "call_pure"):
            self.call(op.consts[0], lambda: (self.e.load("cpu"), [self.load(v) for v in ins]),
                      1 + len(ins))
            if not op.outs:
                self.e.pop()
                return
            self.mask(w)
        elif n == "insn_start":
            self.line = self.insn_index.get(op.consts[0], self.line)
            self.e.lineno(self.line)
            return
        elif n == "label":
            self.e.place(self.label(op.consts[0]))
            self.placed.add(op.consts[0])
            return
        elif n == "br" and op.consts[0] in self.placed:
            self.back_edge(op.consts[0], op.consts[1])
            return
        elif n == "br":
            self.e.jump(self.label(op.consts[0]))
            return
        elif n == "brcond" and op.consts[1] in self.placed:
            cond, lab, skip = op.consts
            stay = Label()
            self.compare(cond, ins[0], ins[1], ins[0].type)
            self.e.jump_if(False, stay)
            self.back_edge(lab, skip)
            self.e.place(stay)
            return
        elif n == "brcond":
            cond, lab, skip = op.consts
            self.compare(cond, ins[0], ins[1], ins[0].type)
            if skip and self.ctx.counter is not None:
                stay = Label()
                self.e.jump_if(False, stay)
                self.add_ic(-skip)           # the instructions jumped over do not run
                self.e.jump(self.label(lab))
                self.e.place(stay)
            else:
                self.e.jump_if(True, self.label(lab))
            return
        elif n == "skipped":
            if self.ctx.counter is not None:
                cond, skip = op.consts
                stay = Label()
                self.compare(cond, ins[0], ins[1], ins[0].type)
                self.e.jump_if(False, stay)
                self.add_ic(-skip)           # (as a branch over them would)
                self.e.place(stay)
            return
        elif n == "mb":
            return
        elif n == "goto_tb":
            return self.goto_tb(op)
        elif n == "goto_ptr":
            self.writeback(self.exit_regs())
            self.count_tb(op.consts[0])
            self.return_lookup(lambda: self.load(ins[0]))
            return
        elif n == "exception":
            self.writeback(self.exit_regs())
            self.count_tb(op.consts[3])
            self.call(raise_exception, lambda: [self.e.const(c) for c in op.consts[:3]], 3)
            self.e.ret()
            return
        else:
            raise NotImplementedError(f"pybytecode: op {n}")
        self.store(op.outs[0])

    def address(self, op):
        """base + constant, an address only fed to loads and stores: left
        unmasked (any value outside the guest space, negative or above 2**64
        included, fails their checks)"""
        self.load(op.ins[0])
        c = op.ins[1].value
        if c >> 63:
            self.e.const((1 << 64) - c)
            self.binop(BinaryOp.SUBTRACT)
        else:
            self.e.const(c)
            self.binop(BinaryOp.ADD)

    # --- memory ------------------------------------------------------------------
    # A load is `pages[a >> 12].<format>[a >> shift]`, a store the same with
    # `.w<format>`: the access table's entry lacks the slot (or is None, or the
    # index is out of range) exactly when the page does not allow the access, so
    # every failure raises.  The
    # access runs in a try region of its own whose handler is the checked slow
    # path (slow_load / slow_store), which faults precisely.  Misaligned addresses
    # (one AND) go to the slow path directly.  The rest of the block is covered by
    # the TB's fault handler: its try region is closed around each access.

    def fast_begin(self, a, size, slow):
        if size > 1 and a is not None:
            self.load(a)
            self.e.const(size - 1)
            self.binop(BinaryOp.AND)
            self.e.jump_if(True, slow)
        self.close_outer()
        handler = Label()
        fast = self.e.try_begin(handler)
        return fast, handler

    def close_outer(self):
        """End the TB's fault-handler region here (an empty one is dropped)."""
        k = len(self.code) - 1
        while self.code[k] is not self.outer and type(self.code[k]) in (SetLineno, Label):
            k -= 1
        if self.code[k] is self.outer:
            del self.code[k]
        else:
            self.e.try_end(self.outer)

    def fast_end(self, fast):
        self.e.try_end(fast)
        self.outer = self.e.try_begin(self.handler)

    def view_index(self, a, size, signed, store):
        """push the typed view of a's page (for a store: its store slot) and a's index in it"""
        self.ref("pages")
        self.load(a)
        self.e.const(PAGE_SHIFT)
        self.binop(BinaryOp.RSHIFT)
        self.e.subscr()
        self.e.attr(("w" if store else "") + _VIEW[size, signed and size < 8])
        self.load(a)
        if size > 1:
            self.e.const(_SHIFT[size])
            self.binop(BinaryOp.RSHIFT)

    def group_check(self, op):
        """For an access in a group (see plan_groups): the group's header if it is
        the first, then `if grp_ok<k>:` the unchecked access, else fall through to
        the access's own checked code.  Returns the group's page views local, or None."""
        g = self.groups.get(id(op))
        if g is None:
            return None
        k, first, base, lo, span, align, stores, sizes = g
        ok, pv = f"grp_ok{k}", f"grp_pv{k}"
        if first:
            fail, skip = Label(), Label()
            self.e.const(False)
            self.e.store(ok)
            if align > 1:
                self.load(base)
                self.e.const(align - 1)
                self.binop(BinaryOp.AND)
                self.e.jump_if(True, fail)
            self.load(base)
            self.e.const(lo)
            self.binop(BinaryOp.ADD)
            self.e.const(PAGE_MASK)
            self.binop(BinaryOp.AND)
            self.e.const((1 << PAGE_SHIFT) - span)
            self.e.compare(Compare.GT)
            self.e.jump_if(True, fail)     # the group crosses a page
            fast, handler = self.fast_begin(None, 1, fail)
            self.ref("pages")
            self.load(base)
            self.e.const(lo)
            self.binop(BinaryOp.ADD)
            self.e.const(PAGE_SHIFT)
            self.binop(BinaryOp.RSHIFT)
            self.e.subscr()
            self.e.copy(1)
            self.e.attr("wB" if stores else "B")   # raises unless the page allows all
            self.e.pop()
            self.e.store(pv)
            self.fast_end(fast)
            for size in sizes:                   # grp_ix<k>_<size> = base >> log2(size)
                if size > 1:
                    self.load(base)
                    self.e.const(_SHIFT[size])
                    self.binop(BinaryOp.RSHIFT)
                    self.e.store(f"grp_ix{k}_{size}")
            self.e.const(True)
            self.e.store(ok)
            self.e.jump(skip)
            self.e.place(handler)
            self.e.pop()
            self.e.place(fail)
            self.e.place(skip)
        self.e.load(ok)
        self.e.jump_if(False, alone := Label())
        return pv, alone, k, base

    def grouped_index(self, grouped, op, size, signed, store):
        """push the group's view for this access and its index: (base >> log2(size)) + off / size"""
        pv, _, k, base = grouped
        off = self.offsets[id(op)]
        self.e.load(pv)
        self.e.attr(("w" if store else "") + _VIEW[size, signed and size < 8])
        if size > 1:
            self.e.load(f"grp_ix{k}_{size}")
        else:
            self.load(base)
        if off:
            self.e.const(abs(off) // size)
            self.binop(BinaryOp.ADD if off > 0 else BinaryOp.SUBTRACT)

    def alone(self, grouped, a):
        """A grouped access falls back on its own checked code: its address, if
        deferred, is computed here."""
        self.e.place(grouped[1])
        if not isinstance(a, Const) and a.id in self.deferred:
            self.address(self.defs[a.id])
            self.store(a)

    def ld(self, op):
        size, signed = op.consts
        a = op.ins[0]
        slow, done = Label(), Label()
        grouped = self.group_check(op)
        if grouped:
            self.grouped_index(grouped, op, size, signed, store=False)
            self.e.subscr()
            if signed and size < 8:
                self.mask(op.type)
            self.store(op.outs[0])
            self.e.jump(done)
            self.alone(grouped, a)
        fast, handler = self.fast_begin(a, size, slow)
        self.view_index(a, size, signed, store=False)
        self.e.subscr()
        self.fast_end(fast)
        if signed and size < 8:
            self.mask(op.type)
        self.store(op.outs[0])
        self.e.jump(done)
        self.e.place(handler)
        self.e.pop()
        self.e.place(slow)
        self.call(slow_load(self.ctx.mem, size, signed, op.type), lambda: self.load(a), 1)
        self.store(op.outs[0])
        self.e.place(done)

    def st(self, op):
        size = op.consts[0]
        a, v = op.ins
        slow, done = Label(), Label()
        grouped = self.group_check(op)
        if grouped:
            self.store_value(v, size)
            self.grouped_index(grouped, op, size, False, store=True)
            self.e.store_subscr()
            self.e.jump(done)
            self.alone(grouped, a)
        fast, handler = self.fast_begin(a, size, slow)
        self.store_value(v, size)
        self.view_index(a, size, False, store=True)
        self.e.store_subscr()
        self.fast_end(fast)
        self.e.jump(done)
        self.e.place(handler)
        self.e.pop()
        self.e.place(slow)
        self.call(slow_store(self.ctx.mem, size), lambda: (self.load(a), self.load(v)), 2)
        self.e.pop()
        self.e.place(done)

    def store_value(self, v, size):
        self.load(v)
        if size < 8 or v.type != 64:
            self.e.const((1 << (8 * size)) - 1)
            self.binop(BinaryOp.AND)

    def goto_tb(self, op):
        k = self.exit_index
        self.exit_index += 1
        if op.consts[0] == self.block.pc and self.loop_head is not None:
            # a branch back to this TB's start: loop here while no signal is pending
            if self.ctx.counter is not None:
                self.add_ic(op.consts[1])    # one more iteration
            self.hot_check(self.block.pc, 0, op.consts[1])
            self.ref("pending")
            self.e.loop_unless(self.loop_head)
            insns = 0                        # (counted on the back-edge)
        else:
            insns = op.consts[1]
        if op is not self.block.ops[-1]:
            return self.jump_to_tail(self.tails, "exit_k", k, insns)      # a side exit
        self.writeback(self.exit_regs())
        self.count_tb(insns)
        self.ref("links")
        self.e.const(k)
        self.e.subscr()
        self.e.ret()

    def exit_tails(self):
        """The shared side-exit tails: write back, count, return links[exit_k].
        Register sets that nest (a later side exit usually writes back what an
        earlier one did and more) share one chain: the tail of a set writes back
        what it has beyond the next smaller set and falls into that set's tail."""
        left = sorted(self.tails, key=len, reverse=True)
        while left:
            chain = [left.pop(0)]
            for regs in list(left):
                if set(regs) <= set(chain[-1]):
                    chain.append(regs)
                    left.remove(regs)
            for n, regs in enumerate(chain):
                self.e.place(self.tails[regs])
                rest = set(chain[n + 1]) if n + 1 < len(chain) else set()
                self.writeback([g for g in regs if g not in rest], here=False)
            if self.ctx.counter is not None:
                self.bump(0, "exit_n", with_ic=True)
            self.ref("links")
            self.e.load("exit_k")
            self.e.subscr()
            self.e.ret()
        for regs, tail in self.pending_tails.items():
            # a signal is pending at a loop's back-edge: leave at the loop head
            self.e.place(tail)
            self.writeback(regs, here=False)
            if self.ctx.counter is not None:
                self.bump(0, "exit_n", with_ic=True)
            self.return_lookup(lambda: self.e.load("exit_pc"))
        for regs, tail in self.hot_tails.items():
            # the TB became hot at a loop's back-edge: leave at the loop head
            self.e.place(tail)
            self.writeback(regs, here=False)
            if self.ctx.counter is not None:
                self.bump(0, "exit_n", with_ic=True)
            self.e.callable_const(self.ctx.promote)
            self.e.load("exit_pc")
            self.e.call(1)
            self.e.ret()

    # --- the function --------------------------------------------------------------------
    def build(self):
        items = self.emit()
        return to_code(items, f"tb_{self.block.pc:x}", self.stacksize,
                       freevars=() if self.hot_cell is None else (HOT_N,))

    def emit(self):
        """The TB's instructions (bytecode objects)."""
        block = self.block
        regs = []
        for op in block.ops:
            if op.name in ("getreg", "setreg"):
                g = op.consts[0]
                if g not in regs:
                    regs.append(g)
                if op.name == "setreg" and g not in self.written:
                    self.written.append(g)
        pcs = {}
        self.insn_index = {}
        for op in block.ops:
            if op.name == "insn_start":
                idx = len(pcs) + 1
                pcs[idx] = op.consts[0]
                self.insn_index[op.consts[0]] = idx
        self.pcs = pcs
        self.names, self.folded = plan_names(block)
        self.known = known_bits(block)
        self.lazy = plan_lazy(block, self.names)
        self.addr_only = plan_addresses(block, self.lazy)
        self.defs = {o.id: op for op in block.ops for o in op.outs}
        self.groups, self.offsets = plan_groups(block, self.lazy, self.defs)
        self.deferred = plan_deferred(block, self.addr_only, self.groups)
        # (a group's base is read again by its check: it must live in a local)
        self.stack_ok = plan_stack(block, self.names, self.folded) - \
            {g[2].id for g in self.groups.values()}
        self.on_stack = None
        self.exit_index = 0
        self_loop = any(op.name == "goto_tb" and op.consts[0] == block.pc for op in block.ops)
        self.loop_head = Label() if self_loop else None
        # labels that backward branches go to: (pc of the loop head, instructions before it)
        self.heads, self.placed, seen, count = {}, set(), {}, 0
        loops = [(0, len(block.ops))] if self_loop else []
        self.first_pass = None           # instructions to the first back-edge (the entry's count)
        for k, op in enumerate(block.ops):
            if op.name == "insn_start":
                count += 1
            elif op.name == "label":
                seen[op.consts[0]] = k
                nxt = next((o.consts[0] for o in block.ops[k:] if o.name == "insn_start"), None)
                self.heads[op.consts[0]] = (nxt, count)
            elif op.name in ("br", "brcond") and op.consts[op.name == "brcond"] in seen:
                loops.append((seen[op.consts[op.name == "brcond"]], k + 1))
                self.first_pass = count if self.first_pass is None else self.first_pass
            elif op.name == "goto_tb" and op.consts[0] == block.pc and self.first_pass is None:
                self.first_pass = count
        self.in_loop = plan_loops(block, loops)
        self.maybe = plan_written(block, self.loop_head is not None)
        self.back_targets = {block.ops[lo].consts[0] for lo, _ in loops if block.ops[lo].name == "label"}
        self.ret_label = Label()
        self.tails = {}                  # registers written back -> shared side-exit tail
        self.pending_tails = {}          # ... the exits of loops' back-edges when a signal is pending
        self.hot_tails = {}              # ... and when the TB becomes hot there (hot_check)

        # registers bound on every path to here / to load at the entry
        self.defw, self.defw_at, self.need = frozenset(), {}, set()
        handler = self.handler = Label()
        if self.ctx.counter is not None:
            self.e.const(0)
            self.e.store("ic")
        self.outer = self.e.try_begin(handler)
        if self.loop_head is not None:
            self.e.place(self.loop_head)
        for self.pos, op in enumerate(block.ops):
            self.op(op)
        self.close_outer()
        self.exit_tails()
        self.e.place(self.ret_label)
        self.e.ret()
        # the fault handler: the register locals bound so far go back to the
        # CPU state, the fault gets its pc, and is raised again
        self.e.place(handler)
        self.e.callable_const(fixup)
        self.e.copy(3)                   # the exception
        self.e.const(pcs)
        self.e.load("cpu")
        self.e.callable_const(locals)
        self.e.call(0)
        self.e.const(tuple((g, f"g{g}") for g in self.written))
        self.e.const(self.ctx.counter if self.ctx.counter is not None else 0)    # (a None const is no argument)
        self.e.call(6)
        self.e.pop()
        self.e.reraise()
        # entry: r = cpu.regs; g<n> = r[n] for the registers read before they are
        # written that read() did not load where they are first read
        self.line = 1
        e = pyops.Emitter()
        e.lineno(1)
        if self.hot_cell is not None:
            e.copy_free_vars(1)          # (HOT_N: a closure's cells come first of all)
        e.resume()
        if self.hot is not None:
            # a tier below the last: an entry counts the instructions to the
            # first back-edge (the first loop's first turn; its back-edges count
            # the turns after it), all of them in a block without a loop (an
            # estimate: a side exit may leave sooner; counting only those
            # before the first loop head, a loop at the block's start entered
            # often for a turn or two counted 1 an entry: sha256's stayed on
            # the bytecode JIT for 2 s); when told to the TB returns
            # promote(pc) (nothing has run yet)
            cold = Label()
            self.count_event(e, cold, max(self.first_pass or self.block.ninsns, 1))
            e.callable_const(self.ctx.promote)
            e.const(self.block.pc)
            e.call(1)
            e.ret()
            e.place(cold)
        e.load("cpu")
        e.attr("regs")
        e.store("r")
        for g in regs:
            if f"g{g}" in self.need:
                e.load("r")
                e.const(g)
                e.subscr()
                e.store(f"g{g}")
        self.stacksize = max(e.max_depth, self.e.max_depth)
        return e.code + self.code


def to_code(items, name, stacksize, fast=True, freevars=()):
    """The code object of a TB's instruction list (stacksize: the emitter's
    max_depth; freevars: the names of its free variables, in order): through
    pyasm (the same code object, built faster) unless fast is False or it does
    not support the list."""
    if fast and pyasm.SUPPORTED:
        try:
            return pyasm.assemble(items, argnames=_ARGS, name=name, filename="<pydbt tb>",
                                  flags=3, stacksize=stacksize)
        except pyasm.Unsupported:
            pass
    bc = Bytecode(items)
    bc.argnames = list(_ARGS)
    bc.argcount = len(_ARGS)
    bc.name = name
    bc.filename = "<pydbt tb>"
    bc.first_lineno = 1
    bc.freevars = list(freevars)
    bc.flags = 3                     # OPTIMIZED | NEWLOCALS
    return bc.to_code(stacksize=stacksize, check_pre_and_post=False,
                      compute_exception_stack_depths=False)


def plan_loops(block, loops):
    """For each op: is it inside a loop (a range of ops [head, back-edge + 1))?"""
    out = [False] * (len(block.ops) + 1)
    for lo, hi in loops:
        out[lo:hi] = [True] * (hi - lo)
    return out


def plan_written(block, loop_head):
    """For each op: the guest registers that a path from the block's entry to it
    may have written (a fixed point over the block's branches, back-edges
    included; loop_head: a branch to the block's start loops to op 0)."""
    ops = block.ops
    into = {op.consts[0]: frozenset() for op in ops if op.name == "label"}
    start = frozenset()
    out = [frozenset()] * (len(ops) + 1)
    changed = True
    while changed:
        changed = False
        cur = start
        for k, op in enumerate(ops):
            n = op.name
            if n == "label":
                cur = cur | into[op.consts[0]]
            out[k] = cur
            if n == "setreg":
                cur = cur | {op.consts[0]}
            elif n in ("br", "brcond"):
                lab = op.consts[0] if n == "br" else op.consts[1]
                if not cur <= into[lab]:
                    into[lab] = into[lab] | cur
                    changed = True
            elif loop_head and n == "goto_tb" and op.consts[0] == block.pc and not cur <= start:
                start = start | cur
                changed = True
            if n == "br" or op.flags & ir.END:
                cur = frozenset()            # (what follows is reached by its label only)
    out[len(ops)] = cur
    return out


def plan_names(block):
    """Give temps the guest register locals' names where that is safe.

    * fold: `t = op(...); ...; setreg g, t` computes straight into the local g, when
      between the two nothing reads or writes g, nothing may fault and nothing
      branches (so a fault still sees the old g), and g is not written again
      before t's last use;
    * alias: `t = getreg g` is the local g itself when g is not written between the
      getreg and t's last use.
    Returns ({temp id: local name}, {id(setreg op) folded away})."""
    ops = block.ops
    last_use, def_at = {}, {}
    for j, op in enumerate(ops):
        for v in op.ins:
            if not isinstance(v, Const):
                last_use[v.id] = j
        for v in op.outs:
            def_at[v.id] = j
    writes = {}                      # reg -> indices where its local is written
    names, folded = {}, set()
    for j, op in enumerate(ops):
        if op.name != "setreg" or isinstance(op.ins[0], Const):
            continue
        t, g = op.ins[0], op.consts[0]
        i = def_at[t.id]
        d = ops[i]
        if t.id in names or d.name == "getreg" or len(d.outs) != 1:
            continue
        between = ops[i + 1:j]
        if any(o.name in ("getreg", "setreg") and o.consts[0] == g or
               o.flags & (ir.FAULT | ir.END) or o.name in ("label", "br", "brcond") or
               (o.name == "call" and o.flags & ir.SIDE) for o in between):
            continue
        if any(o.name == "setreg" and o.consts[0] == g for o in ops[j + 1:last_use.get(t.id, j)]):
            continue
        names[t.id] = f"g{g}"
        folded.add(id(op))
        writes.setdefault(g, []).append(i)
    for j, op in enumerate(ops):
        if op.name == "setreg" and id(op) not in folded:
            writes.setdefault(op.consts[0], []).append(j)
    for i, op in enumerate(ops):
        if op.name != "getreg":
            continue
        t, g = op.outs[0], op.consts[0]
        end = last_use.get(t.id, i)
        if not any(i < k < end for k in writes.get(g, ())):
            names[t.id] = f"g{g}"
    return names, folded


def plan_addresses(block, lazy):
    """Temps computed by `add` of a constant and used only as load/store addresses:
    they are left unmasked.  Above 2**64 they are beyond the access table; the
    constant is bounded below and the base is exact (not lazy), so that below 0
    they index its None padding."""
    uses = {}
    for op in block.ops:
        for k, v in enumerate(op.ins):
            if not isinstance(v, Const):
                ok = op.name in ("ld", "st") and k == 0
                uses[v.id] = uses.get(v.id, True) and ok
    return {op.outs[0].id for op in block.ops
            if op.name == "add" and op.type == 64 and isinstance(op.ins[1], Const)
            and getattr(op.ins[0], "id", None) not in lazy
            and not _NEG_LIMIT[0] <= op.ins[1].value < _NEG_LIMIT[1] and uses.get(op.outs[0].id)}


_NEG_LIMIT = (1 << 63, (1 << 64) - (TABLE_PAD << PAGE_SHIFT))    # constants below -1 MiB, unsigned


def plan_groups(block, lazy, defs):
    """Loads and stores at constant offsets from one base value, with no label
    between them (so the first runs before the others on every path), each
    aligned if the base is: one check of the base (aligned, the group inside one
    page, the page allowing every access) lets them all skip their own.
    Returns ({id(op): (group number, first?, base, lo, span, align, any store?,
    sizes)}, {id(op): its offset from the base})."""
    spans, span = {}, 0
    for op in block.ops:
        if op.name == "label":
            span += 1
        if op.name not in ("ld", "st") or isinstance(op.ins[0], Const):
            continue
        a, size = op.ins[0], op.consts[0]
        d = defs.get(a.id)
        if d is not None and d.name == "add" and d.type == 64 and isinstance(d.ins[1], Const) \
                and not isinstance(d.ins[0], Const):
            base, off = d.ins[0], d.ins[1].value
            off = off - (1 << 64) if off >> 63 else off
        else:
            base, off = a, 0
        if base.id in lazy or off % size or off < -(TABLE_PAD << PAGE_SHIFT):
            continue
        spans.setdefault((span, base.id), []).append((op, base, off, size))
    groups, offsets = {}, {}
    for k, members in enumerate(spans.values()):
        lo = min(off for _, _, off, _ in members)
        span_ = max(off + size for _, _, off, size in members) - lo
        sizes = sorted({size for _, _, _, size in members})
        # the check costs ~22 bytecodes, 4 more for alignment and 4 an access
        # size; grouped, an access saves ~7 (its alignment test and table
        # lookup, less the flag test), a byte access ~3 (it has no alignment test)
        cost = 22 + 4 * (sizes[-1] > 1) + 4 * sum(1 for z in sizes if z > 1)
        if span_ > 1 << PAGE_SHIFT or sum(3 if z == 1 else 7 for _, _, _, z in members) <= cost:
            continue
        stores = any(op.name == "st" for op, _, _, _ in members)
        for j, (op, base, off, _) in enumerate(members):
            groups[id(op)] = (k, j == 0, base, lo, span_, sizes[-1], stores, sizes)
            offsets[id(op)] = off
    return groups, offsets


def plan_deferred(block, addr_only, groups):
    """Address temps read only by grouped accesses: computed only on their
    fall-back paths (the grouped access indexes from the base)."""
    ok = {}
    for op in block.ops:
        for k, v in enumerate(op.ins):
            if not isinstance(v, Const):
                ok[v.id] = ok.get(v.id, True) and k == 0 and id(op) in groups
    return {t for t in addr_only if ok.get(t)}


# uses that read only the low bits of an input, and mask their own result (add,
# sub, mul, shl: unless lazy themselves, so their uses are of this kind too)
_LOW_BITS_USES = {"ext8s", "ext16s", "ext32s", "ext8u", "ext16u", "ext32u", "trunc32",
                  "add", "sub", "mul"}


def plan_lazy(block, names):
    """Temps whose producer (add, sub, mul, shl, neg) may skip its mask: a Python
    int congruent to the value modulo 2**64 will do, because every use reads
    only its low bits and masks its own result (or is lazy in turn).  Register
    locals are always exact."""
    ok = {}
    for op in block.ops:
        for k, v in enumerate(op.ins):
            if isinstance(v, Const):
                continue
            n = op.name
            low = (n in _LOW_BITS_USES or n == "shl" and k == 0
                   or n == "and" and isinstance(op.ins[1 - k], Const)
                   or n == "st" and k == 1 and (op.consts[0] < 8 or v.type != 64))
            ok[v.id] = ok.get(v.id, True) and low
    return {op.outs[0].id for op in block.ops
            if op.name in ("add", "sub", "mul", "shl", "neg") and op.outs[0].id not in names
            and ok.get(op.outs[0].id)}


# ops whose code loads ins[0] first (so a value left on the stack can feed them)
_FIRST_LOAD = set(_BIN) | {"shl", "shr", "sar", "mov", "zext32", "not", "neg", "sext32", "trunc32",
                           "setcond", "setreg", "brcond"} | set(_EXT) | set(_EXTU)


def plan_stack(block, names, folded):
    """Temps used once, as the first input of the very next op: they stay on the stack."""
    ops = block.ops
    uses = {}
    for op in ops:
        for v in op.ins:
            if not isinstance(v, Const):
                uses[v.id] = uses.get(v.id, 0) + 1
    ok = set()
    for op, nxt in zip(ops, ops[1:]):
        if len(op.outs) != 1 or op.name in ("getreg", "movcond"):
            continue
        t = op.outs[0]
        if t.id in names or uses.get(t.id) != 1 or nxt.name not in _FIRST_LOAD:
            continue
        if id(nxt) in folded or not nxt.ins or nxt.ins[0] is not t:
            continue
        if nxt.name in ("setcond", "brcond") and any(v is t for v in nxt.ins[1:]):
            continue
        ok.add(t.id)
    return ok


def _slow_paths(mem):
    """The checked accesses a TB falls back on, one function per kind, made once
    per guest memory: they take the address as computed (which may be unmasked:
    see plan_addresses); loads return the value masked to the op's width."""
    paths = getattr(mem, "_slow_paths", None)
    if paths is None:
        paths = mem._slow_paths = {}
    return paths


def slow_load(mem, size, signed, w):
    paths = _slow_paths(mem)
    f = paths.get((size, signed, w))
    if f is None:
        load, m = mem.load, MASK[w]

        def f(a):
            return load(a & 0xFFFFFFFFFFFFFFFF, size, signed) & m
        paths[size, signed, w] = f
    return f


def slow_store(mem, size):
    paths = _slow_paths(mem)
    f = paths.get(size)
    if f is None:
        store = mem.store

        def f(a, v):
            store(a & 0xFFFFFFFFFFFFFFFF, v, size)
        paths[size] = f
    return f


def compile(block, ctx):
    gen = Gen(block, ctx)
    code = gen.build()
    closure = None if gen.hot_cell is None else (gen.hot_cell,)
    return types.FunctionType(code, {}, code.co_name, None, closure)


def disassemble(fn):
    """-d out_asm text for a compiled TB."""
    import dis
    import io
    out = io.StringIO()
    dis.dis(fn, file=out)
    return out.getvalue()
