"""LLVM IR text for one TB, straight from our IR (no llvmlite.ir: text is ~40x cheaper).

One TB becomes one function `i64 @<name>(ptr %ctx, i64 %budget)` of LLVM's
preserve_none convention (it saves no register, so chained jumps between TBs
push and pop nothing; the arguments come in R12 and R13, the registers
baseline code keeps them in), entered from C (ctypes) through the one shared
`enter(ctx, code)`, which saves C's registers once for the whole chain
(x64_runtime.py).  The budget goes from TB to TB in its register (a word of
ctx read and written at every chained jump was a loop-carried chain through
store forwarding for every loop that spans TBs) and is in ctx only outside
native code.  `ctx` is the calling
thread's native context (see CTX_* below): the guest registers as 64 words,
then the budget (what was left when native code returned), the exit fields, the instruction count, the callback status,
the helper arguments, the FP flags and rounding mode (llvm_fp.py) and the
page caches (see memory).  Everything else the code touches (guest memory, its
permission bytes, the chain slots, the jump cache, the Python callback) sits at
an address fixed for the process, and a TB has its id, its first chain slot
and its helpers' indices: all these the text names by symbols (SYM_*, one
per helper named after it: `helper_symbol`), absolute symbols the JIT library
of the TB defines when it is linked (`Emitter.imports` says which), used as
`ptrtoint (ptr @sym to i64)`, i.e. a `movabs` of the value, no GOT.  So the
text depends only on the guest code, the translation flags and pydbt, and its
object can be kept on disk for the next run (llvm_cache.py).  The number of
guest pages and the jump cache's mask stay literals (fixed by the options).
The guest memory's base is the one exception: where it lies below 2 GiB
(runtime/memory.py's LOW_BASE, nearly every run) llvm_jit.bind_memory makes it
a literal before compiling, an access's displacement (see memory).

Shape of the function:

* entry: every guest register the TB reads or writes is loaded into an alloca
  (LLVM's SROA/mem2reg make them SSA values); the allocas are the guest state
  at every point, so any exit - a fault included - writes back the registers the
  TB writes, from the allocas, and the state is exactly that of the
  instructions run so far.  Except the registers the TB writes and never
  reads (`homed`): those are stored to ctx where written (the state at any
  exit again), neither loaded at entry nor written back - outside loops always
  (a store each either way, and no value held to the exit), inside one (the
  innermost) only when it uses more than HOME_PRESSURE registers (a store per
  round instead of a register held; a spill then anyway: sha256's loops of
  ~20 registers, its round loop 113 -> 111 instructions, 34 -> 23 stack
  accesses; intloop's loop, 9 registers, keeps its 3 in registers, and
  matmul_int's inner loop, 6 in a region of 15, its 2: homed there, the loop
  was 19 -> 22 instructions, +29% time).
  Temps are SSA values (our IR never lets a temp live
  across a label, so each LLVM value is defined in a block that dominates its uses).
* loads, in an engine (`fault_loads`): no check at all.  A load is an `asm goto`
  (callbr) of its one host instruction, whose other edge is the slow exit before
  its guest instruction, and which records (its offset, that exit's offset) in
  the object's FAULTS_SECTION; the host pages the guest cannot read are
  PROT_NONE (runtime/memory.py's host_prot, guard ranges around the space), so
  such a load faults on the host and backends/faults.py's handler goes on at
  the exit (exact: LLVM keeps the state on that edge what the exit needs).
  Measured (whole-process CPU, warm cache, 3 reps interleaved, -backend llvm,
  qemu_1s sizes): vm -33%, fib -28%, intloop -28%, matmul_int -22%, sieve -21%,
  strings -25%, quicksort -16%, crc32 -13%, sha256 -11%.  A watched page needs
  every load checked: with a watch, loads are checked as below.
* stores, likewise (`fault_stores`, fault_store): an `asm goto` of the store
  with its entry in FAULTS_SECTION, after one compare of the address with the
  space's end (a store must never reach outside the guards: it would write
  the host's memory; a load there only reads it); the host pages the guest
  may not write, or that hold translated code (CODE), are read-only under
  runtime/memory.py's protect_writes, so such a store faults on the host
  and leaves by its slow exit: the interpreter then raises the guest's fault
  or drops the code the store hits (which opens the page).  x86's stores do
  all or nothing, so the exit's state is exact.
* memory: `perm[a >> 12]` tested inline (load: R set, FILE and WATCH clear; store:
  W set, CODE, FILE and WATCH clear), then a plain host access at `mem_base + a`
  (`BASE(%reg)`, one instruction, when the base is a literal: bind_memory).
  Each access has one check and one branch, fast path or callback: the fewer
  blocks and instructions, the less LLVM's code generator has to do (its cost
  grows with them).  A lone access of n bytes passes when `a` is aligned to n
  (so it cannot cross a page) and inside the space (one `test` of its low and
  high bits when the space is a power of two) and its page allows it; a
  misaligned one takes the callback (rare: RISC-V hardware traps on it).
  Accesses off one base in straight-line code share one check over the range
  they touch (plan_groups), made at the first of them: the range inside the
  space, the permission bytes of its first and last page (the host memory is
  one piece: a range across two allowed pages passes); when it fails, each
  access of the group takes the callback.  Inside a loop a check keeps the page
  it last passed in a ctx word (CTX_PGC + k, -1: none; memory, not a local: no
  phi at every merge, no register held): an access in that page goes straight
  to memory.  A TB empties its words when it starts (other TBs use them too)
  and after every callback (Python may change permissions).  The slow way
  (`slow_exits`, in an engine): an access whose check fails leaves the TB
  before its instruction (EXIT_SLOW, its pc; a branch to the shared `slow`
  exit, which writes the registers back), and the engine runs that instruction
  alone on the interpreter, then goes on (execloop's _slow_exit; a region that
  leaves so too often is made again with callbacks): no call, no merge, no phi
  per access, a fifth fewer blocks for LLVM (median module 9.4 -> 7.4 ms of
  CPU, 120 modules of quicksort, strings, vm, sha256; the steady rates the
  same within noise).  Else (callbacks): the callback
  (GuestMemory.load/store) is exact: page crossing, faults, stores into pages
  that hold translations (which invalidates them); if it raised, the TB leaves
  by its fault exit with the pc of the faulting instruction.  Every slow path
  calls it through the shared `pydbt_callback` (runtime_text), which empties
  the page caches and saves every register (preserve_allcc): no spills around
  the call, one copy of the emptying.  The checks'
  branches carry weights (the slow paths and exits unlikely, the callback `cold`)
  so the hot code is laid out straight and spills go to the cold paths.
* RV64's W operations (an i64 op and an ext32s/ext32u in our IR) are done in
  i32 where their operands have a 32-bit form (`narrow`): LLVM then sees the
  32-bit rotates of sha256's rounds (rorx) and no sign extension between
  them.  Measured (static, the hot loops' instructions): sha256's schedule loop
  79 -> 74, intloop's 36 -> 35 (its 2 movslq gone), the round loop 111 -> 111
  (6 of its rotates' halves are written to guest registers: computed anyway).
* helpers (`call`, `call_pure`: FP, AMOs, CSRs) call back into Python the same way,
  except the FP operations llvm_fp.py computes natively (their common case) and
  AMOs and LR/SC on a plain writable page: host atomics (see atomic).
* exits: `goto_tb` loads its chain slot; a non-null slot is the successor's
  native code, reached by a `musttail` call (a jump) once the budget allows;
  `goto_ptr` probes the native jump cache (pc -> code); a back-edge (a loop
  inside the TB) also spends budget.  An empty slot, a miss, a spent budget or an
  exception returns an exit code to Python (EXIT_*), the details in ctx.

Measured and rejected (session 13; static: -d out_asm of the hot regions,
their hot loops' instructions; time: steady CPU, 5-7 reps interleaved, whose
noise on the shared host was +-10%):
- the page caches as locals (allocas SROA makes phis: no ctx load per check, no
  stores at entry): crc32's loops the same but for `cmp %reg` instead of `cmp
  640(%r12)`, but the registers they hold spill others: quicksort's region 422 ->
  430 instructions, 48 -> 59 stack accesses, its inner loop 13 -> 15; sha256's
  round loop 111 -> 125 (23 -> 37 stack accesses); only where the TB uses at
  most HOME_PRESSURE registers: quicksort as bad.
- read-only registers loaded where read (!invariant.load) instead of copied at
  entry: no LICM in our pipeline, so quicksort's inner loops reload the pivot
  from ctx (13 -> 14 instructions; +10% time); only those read outside loops:
  vm's dispatch region 244 -> 223 instructions (25 -> 6 stack accesses), but
  strings' largest 1125 -> 1142 (183 -> 225), and no time measurably gained
  (strings, quicksort, fib, vm).

`Names` is the one place where identifiers become LLVM text: symbols are
quoted and escaped as LLVM's lexer wants when they are not plain.
"""
import re

from pydbt import ir
from . import llvm_fp
from pydbt.ir import Const, I32, I64, MASK

# fault loads (Emitter.fault_load): the instruction of a load of (size, signed),
# its value zero- or sign-extended to 64 bits; the section of their table
_LOAD_INSN = {(1, False): "movzbl $1, ${0:k}", (1, True): "movsbq $1, $0",
              (2, False): "movzwl $1, ${0:k}", (2, True): "movswq $1, $0",
              (4, False): "movl $1, ${0:k}", (4, True): "movslq $1, $0",
              (8, False): "movq $1, $0"}
_STORE_INSN = {1: "movb $1, $0", 2: "movw $1, $0", 4: "movl $1, $0", 8: "movq $1, $0"}
FAULTS_SECTION = ".pydbt_faults"
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# ctx layout, in 64-bit words
CTX_REGS = 0
NREGS_MAX = 64
CTX_BUDGET = 64
CTX_EXIT_ID = 65
CTX_EXIT_ARG = 66
CTX_ICOUNT = 67
CTX_STATUS = 68
CTX_PC = 69
CTX_ARGS = 70
NARGS_MAX = 8
CTX_FFLAGS = CTX_ARGS + NARGS_MAX      # FP: accumulated exception flags, dynamic rounding mode
CTX_FRM = CTX_FFLAGS + 1               # (llvm_fp.py)
CTX_PGC = CTX_FRM + 1                  # the page caches of a TB with a loop (see cached_page)
NPGC_MAX = 8
CTX_RES = CTX_PGC + NPGC_MAX           # the LR reservation: address, size (0: none), value (see atomic)
CTX_ENTRY = CTX_RES + 3                # a region's entry (see entry_name), 0 but in an entry's wrapper
CTX_DIRTY = CTX_ENTRY + 1              # the registers written back since Python's entry, a bit each (leave_block)
CTX_CB = CTX_DIRTY + 1                 # a baseline TB's callback: kind, a, b, c (x64_emit.py's shim reads them)
CTX_WORDS = CTX_CB + 4

# a loop that uses more guest registers than this stores the TB's write-only
# ones where it writes them (`homed`, see the overview)
HOME_PRESSURE = 14
# the shared function that calls back into Python (runtime_text): it saves every register
CB_CC = "preserve_allcc"
LIKELY = 2000                          # branch weight of the likely way (the other: 1)

# exit codes returned to Python
EXIT_GOTO, EXIT_PTR, EXIT_LOOP, EXIT_EXC, EXIT_FAULT, EXIT_SLOW = range(6)

# callback kinds: cb(ctx, kind, a, b, c) -> u64
CB_LOAD, CB_STORE, CB_HELPER = range(3)
CB_HOT = 3                             # a quick TB's hotness countdown ran out (Emitter.count_hot)

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
PERM_R, PERM_W, PERM_CODE, PERM_FILE, PERM_WATCH = 1, 2, 8, 16, 32     # runtime/memory.py's bits

_PRED = {"eq": "eq", "ne": "ne", "lt": "slt", "ge": "sge", "le": "sle", "gt": "sgt",
         "ltu": "ult", "geu": "uge", "leu": "ule", "gtu": "ugt"}
_SIMPLE = {"add": "add", "sub": "sub", "mul": "mul", "and": "and", "or": "or", "xor": "xor"}
_SHIFT = {"shl": "shl", "shr": "lshr", "sar": "ashr"}
_EXT = {"ext8s": (8, "sext"), "ext8u": (8, "zext"), "ext16s": (16, "sext"), "ext16u": (16, "zext"),
        "ext32s": (32, "sext"), "ext32u": (32, "zext")}
_LO = {"add": "add", "sub": "sub", "mul": "mul", "and": "and", "or": "or", "xor": "xor", "shl": "shl"}
_COUNT = {"clz": "ctlz", "ctz": "cttz", "popcnt": "ctpop"}
_MULH = {"mulh": ("sext", "sext"), "mulhu": ("zext", "zext"), "mulhsu": ("sext", "zext")}

_PLAIN = re.compile(r"[A-Za-z$._][A-Za-z$._0-9]*\Z")

# symbols for the run's numbers: the state's, then the TB's own
SYM_MEM, SYM_PERM, SYM_JC, SYM_CB = "pydbt_mem", "pydbt_perm", "pydbt_jc", "pydbt_cb"
SYM_TB_ID, SYM_TB_SLOTS = "pydbt_tb_id", "pydbt_tb_slots"
SYM_TB_HOT = "pydbt_tb_hot"            # the address of a counting TB's countdown word (count_hot)
# the shared functions (runtime_text): C's entry into a TB, the callback every TB calls
# (the quick level's in C's convention, which -O0's FastISel selects: see Emitter)
SYM_CALLBACK, SYM_CALLBACK_C = "pydbt_callback", "pydbt_callback_c"

# a jump cache entry: (pc | tag << JC_TAG_SHIFT, code); the tag changes with every
# fill, so a reader that sees the same first word before and after reading the
# code has a consistent pair (other threads fill entries while native code runs)
JC_TAG_SHIFT = 48


# TB functions save no register (LLVM's preserve_none): a chained jump costs no
# pushes and pops; Python enters through the shared C-convention entry, which does
CC = "preserve_nonecc"


def runtime_text():
    """The module every TB shares (one per native state, its SYM_CB linked):
    `pydbt_callback`, a TB's
    one way to the Python callback: it calls it, then empties every page cache
    word (Python may have changed permissions; CTX_PGC.., a TB empties its own
    on entry too).  Its convention saves every register, so a slow path spills
    nothing around its call; `pydbt_callback_c`, the same in C's convention, is
    the quick level's.  (One copy instead of two functions in each TB's
    module: a module's every function costs LLVM a whole codegen pipeline.)"""
    cb = Names.sym(SYM_CB)
    out = [f"declare i64 {cb}(ptr, i64, i64, i64, i64)"]
    for cc, sym in ((CB_CC + " ", SYM_CALLBACK), ("", SYM_CALLBACK_C)):
        out += [f"define {cc}i64 {Names.sym(sym)}(ptr %ctx, i64 %k, i64 %a, i64 %b, i64 %c) cold noinline nounwind {{",
                f"  %r = call i64 {cb}(ptr %ctx, i64 %k, i64 %a, i64 %b, i64 %c)"]
        for k in range(NPGC_MAX):
            out += [f"  %p{k} = getelementptr inbounds i64, ptr %ctx, i64 {CTX_PGC + k}",
                    f"  store i64 -1, ptr %p{k}"]
        out += ["  ret i64 %r", "}"]
    return "\n".join(out) + "\n"


def helper_symbol(fn):
    """A helper's symbol: `pydbt.helper:` + its module and qualified name (and
    its __name__ where a factory renamed it), the same in every run.  It only
    has to be unique within one TB (the symbol's value, the helper's index, is
    the linking run's own): Emitter.helper numbers two helpers of one name."""
    mod, qual, name = (getattr(fn, a, None) for a in ("__module__", "__qualname__", "__name__"))
    if not isinstance(qual, str):                    # (a partial, a callable object)
        mod, qual, name = type(fn).__module__, type(fn).__qualname__, None
    if isinstance(name, str) and qual.rpartition(".")[2] != name:
        qual = f"{qual}[{name}]"
    return f"pydbt.helper:{mod}.{qual}"


class Names:
    """LLVM identifiers: a plain name as is, any other quoted with every byte
    outside printable ASCII (and `"`, `\\`) written as \\XX, as LLVM's lexer reads it."""

    @staticmethod
    def sym(name):
        return "@" + Names.quote(name)

    @staticmethod
    def local(name):
        return "%" + Names.quote(name)

    @staticmethod
    def quote(name):
        if _PLAIN.match(name):
            return name
        out = []
        for b in name.encode("utf-8"):
            if 0x20 <= b < 0x7f and b not in (0x22, 0x5c):
                out.append(chr(b))
            else:
                out.append("\\%02X" % b)
        return '"' + "".join(out) + '"'


def lit(value, w):
    """An integer literal of width w (LLVM reads them signed)."""
    value &= MASK[w] if w in MASK else (1 << w) - 1
    return str(value - (1 << w) if value >> (w - 1) else value)


def ty(w):
    return f"i{w}"


def entry_name(name, k):
    """The function entering TB function `name` at its k-th other entry (block.entries[k - 1])."""
    return f"{name}.e{k}"


def plan_groups(ops, loads=True, stores=True):
    """Accesses off one base value (`add base, const` or the base itself), in
    straight-line code (no label, helper call or exit between them) and within
    4 KiB of each other share one permission check, made at the first of them
    over the range they all touch: if it passes, none of them needs its own.
    When it fails each takes the checked path (exact, just slower).  ->
    {id(op): group}, a group being [base, lo, hi, loads?, stores?, its i1 once
    emitted, number of accesses].  `loads` (`stores`) False: no load (store)
    is checked (fault loads and stores)."""
    addr_of, open_, groups = {}, {}, {}
    for op in ops:
        n = op.name
        if n == "add" and op.type == I64 and isinstance(op.ins[1], Const) and \
                not isinstance(op.ins[0], Const):
            c = op.ins[1].value
            addr_of[op.outs[0].id] = (op.ins[0], c - (1 << 64) if c >> 63 else c)
        elif (n == "st" and stores) or (n == "ld" and loads):
            a = op.ins[0]
            size = op.consts[0]
            if isinstance(a, Const):
                base, off, key = a, 0, None
            else:
                base, off = addr_of.get(a.id, (a, 0))
                key = base.id if not isinstance(base, Const) else None
            g = open_.get(key) if key is not None else None
            if g is None or max(g[2], off + size) - min(g[1], off) > PAGE:
                g = [base, off, off + size, False, False, None, 0]
                if key is not None:
                    open_[key] = g
            g[1], g[2] = min(g[1], off), max(g[2], off + size)
            g[3 if n == "ld" else 4] = True
            g[6] += 1
            groups[id(op)] = g
        elif n in ("label", "br", "call", "call_pure") or op.flags & ir.END:
            open_.clear()
    return groups


def loop_heads(ops):
    """label -> (guest pc of its first instruction, instructions before it in
    block order): where a back-edge leaves when the budget is spent."""
    heads, waiting, before = {}, [], 0
    for o in ops:                                # (one pass: a label's pc is the next insn's)
        if o.name == "insn_start":
            for lab in waiting:
                heads[lab] = (o.consts[0], heads[lab][1])
            waiting.clear()
            before += 1
        elif o.name == "label":
            heads[o.consts[0]] = (None, before)
            waiting.append(o.consts[0])
    return heads


class Emitter:
    """Builds the text of one TB function.

    consts: the literals (npages, jc_mask) and `helper_id(fn)` -> the state's
    index of helper fn; `imports` after build(): the helper symbols the text
    uses -> their values (the state's symbols and SYM_TB_* are the caller's)."""

    def __init__(self, block, name, consts, counting, level="full", hot=False, slow_exits=False,
                 fault_loads=False, fault_stores=False):
        self.block = block
        # an access that fails its check leaves the TB (EXIT_SLOW, its pc) instead
        # of calling back (see memory)
        self.slow_exits = slow_exits
        # loads check nothing: one that faults on the host leaves by its slow exit
        # (fault_load; needs slow exits and a plain function name for its table)
        self.fault_loads = fault_loads and slow_exits and _PLAIN.fullmatch(name) is not None
        self.fault_stores = fault_stores and self.fault_loads     # (the same, for stores: fault_store)
        self.hot = hot                # count the instructions run in the TB's word (count_hot)
        # the jump cache's reads (goto_ptr): atomic acquire loads; at the quick
        # level volatile ones, the same instructions on an x86-64 host (loads are
        # not reordered with loads, and LLVM keeps volatiles in order), which
        # -O0's FastISel selects (it selects no atomic: the rest of the block
        # would go through SelectionDAG; quick codegen median -15-30%)
        self.jc_load = ("load volatile {t}, ptr {p}, align 8" if level == "quick" else
                        "load atomic {t}, ptr {p} {order}, align 8")
        # the slow paths' callback: at the quick level in C's convention, whose
        # calls FastISel selects (a preserve_allcc call sends its block through
        # SelectionDAG; -O0 keeps no value in a register across it anyway):
        # quick codegen median -10% (vm, sha256, strings, quicksort)
        self.cb_cc, self.cb_sym = ("", SYM_CALLBACK_C) if level == "quick" else (CB_CC + " ", SYM_CALLBACK)
        self.name = name
        self.c = dict(consts, helper=self.helper)
        self.counting = counting
        self.decls = {}               # symbol -> its declaration
        self.imports = {}             # helper symbol -> helper index
        self.lines = []
        self.n = 0
        self.alias = {}               # temp id -> operand text (mov)
        self.pc = block.pc            # guest pc of the current instruction
        self.terminated = False
        self.placed = set()
        self.exceptions = []          # (kind, pc, next_pc) by index
        self.intrinsics = set()
        self.fault_from = []          # (llvm block, pc, instructions before it) jumping to the fault exit
        self.before = self.ninsns = 0  # guest instructions before the current one, and so far (block order)
        self.slow_from = []           # the same for the slow exit (slow_exits)
        self.cur = "start"
        self.goto_n = -1
        self.fp = None                # llvm_fp.FPLowering when the TB computes FP natively
        self.exits = []               # (llvm block, code, arg, native code or null) into `leave`
        self.meta = {}                # metadata node (a tuple) -> its number
        self.in_loop = set()          # indices of the ops inside a loop (their lone accesses cache pages)
        self.caches = []              # page caches (ctx words CTX_PGC + k), emptied by every callback
        self.calls_back = False       # the TB calls Python (pydbt_callback: runtime_text)
        self.reservation = None       # the CPU attribute of the LR reservation, if LR/SC run natively
        # 32-bit forms of i64 temps (see narrow): temp id -> i32 operand s, the temp
        # being sext(s) (s32) or zext(s) (z32), or s its low half (lo32); its op (defs)
        self.s32, self.z32, self.lo32, self.defs = {}, {}, {}, {}

    # --- text helpers ----------------------------------------------------------------
    def fresh(self, base="v"):
        self.n += 1
        return f"%{base}{self.n}"

    def emit(self, text):
        self.lines.append("  " + text)

    def likely(self, cond, yes, no, negate=False):
        """End the block with a branch to `yes` when cond holds (when it does not,
        with negate), marked as the likely way: the other (a slow path, an exit)
        is laid out of the hot code and its spills go there."""
        a, b = (no, yes) if negate else (yes, no)
        w = (1, LIKELY) if negate else (LIKELY, 1)
        self.term(f"br i1 {cond}, label %{a}, label %{b}, !prof !{self.weights(*w)}")

    def weights(self, *w):
        """-> the metadata number of branch weights w (one node per distinct w)"""
        key = ("branch_weights",) + w
        if key not in self.meta:
            self.meta[key] = len(self.meta)
        return self.meta[key]

    def block_start(self, name):
        self.lines.append(f"{name}:")
        self.cur = name
        self.terminated = False

    def new_block(self, base="b"):
        self.n += 1
        return f"{base}{self.n}"

    def term(self, text):
        self.emit(text)
        self.terminated = True

    def val(self, v):
        if isinstance(v, Const):
            return lit(v.value, v.type)
        return self.alias.get(v.id, f"%t{v.id}")

    def ctx_ptr(self, word):
        p = self.fresh("p")
        self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {word}")
        return p

    def ctx_load(self, word):
        p = self.ctx_ptr(word)
        v = self.fresh()
        self.emit(f"{v} = load i64, ptr {p}")
        return v

    def ctx_store(self, word, value):
        p = self.ctx_ptr(word)
        self.emit(f"store i64 {value}, ptr {p}")

    def addr(self, a):
        p = self.fresh("p")
        self.emit(f"{p} = inttoptr i64 {a} to ptr")
        return p

    # --- symbols ------------------------------------------------------------------------
    def sym(self, name):
        """-> i64 operand: the value of absolute symbol `name`"""
        s = Names.sym(name)
        self.decls.setdefault(name, f"{s} = external global [0 x i8]")
        return f"ptrtoint (ptr {s} to i64)"

    def sym_addr(self, name, offset=0):
        """-> ptr operand: the address symbol `name` holds, plus offset bytes"""
        v = self.sym(name)
        if offset:
            a = self.fresh()
            self.emit(f"{a} = add i64 {v}, {offset}")
            v = a
        return self.addr(v)

    def helper(self, fn):
        """-> i64 operand: helper fn's index, by its symbol (`#2`... after the
        name of another helper of the same name in this TB, in order of use)"""
        base = name = helper_symbol(fn)
        i, k = self.c["helper_id"](fn), 1
        while self.imports.get(name, i) != i:
            k += 1
            name = f"{base}#{k}"
        self.imports[name] = i
        return self.sym(name)

    # --- the function ---------------------------------------------------------------
    def build(self):
        ops = self.block.ops
        self.used = sorted({op.consts[0] for op in ops if op.name in ("getreg", "setreg")})
        self.written = sorted({op.consts[0] for op in ops if op.name == "setreg"})
        # (write-only registers: stored to ctx where written, see the overview)
        self.in_loop = self._loop_ops()
        self.homed = self._homed(ops)
        self.heads = self._heads()
        self.groups = plan_groups(ops, loads=not self.fault_loads, stores=not self.fault_stores)
        self.fp = llvm_fp.plan(self)
        body_start = len(self.lines)
        if self.hot:
            self.count_hot(0)         # (at `start`: an entry, and a jump back to it)
        for self.at, op in enumerate(ops):
            if self.terminated and op.name != "label":
                self.block_start(self.new_block("dead"))
            self.op(op)
        if not self.terminated:
            self.term("unreachable")
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        # entry: register allocas, then the body, then the shared fault exit
        self.lines.append(f"define {CC} i64 {Names.sym(self.name)}(ptr noalias %ctx, i64 %bud.in) nounwind noinline"
                          f"{self.fp.attrs() if self.fp else ''} {{")
        self.lines.append("entry:")
        for g in self.used:
            if g not in self.homed:
                self.emit(f"%r{g} = alloca i64")
        if self.counting:
            self.emit("%ic = alloca i64")
            self.emit("store i64 0, ptr %ic")
        self.emit("%bud = alloca i64")
        for k in self.caches:                # (other TBs use these words too)
            self.emit(f"%pgc{k}.p = getelementptr inbounds i64, ptr %ctx, i64 {CTX_PGC + k}")
            self.emit(f"store i64 -1, ptr %pgc{k}.p")
        if self.fp:
            self.fp.entry()
        self.emit("store i64 %bud.in, ptr %bud")
        for g in self.used:
            self.emit(f"%r{g}.p = getelementptr inbounds i64, ptr %ctx, i64 {CTX_REGS + g}")
            if g not in self.homed:
                self.emit(f"%r{g}.0 = load i64, ptr %r{g}.p")
                self.emit(f"store i64 %r{g}.0, ptr %r{g}")
        entries = getattr(self.block, "entries", None)
        if entries:
            self.dispatch(entries)
        else:
            self.emit("br label %start")
        self.lines.append("start:")
        self.lines.extend(body)
        for name, origins, code in (("fault", self.fault_from, EXIT_FAULT), ("slow", self.slow_from, EXIT_SLOW)):
            if origins:                  # (a shared exit, its pc a phi of where each jump came from)
                self.lines.append(f"{name}:")
                self.cur = name
                phi = ", ".join(f"[{lit(o[1], 64)}, %{o[0]}]" for o in origins)
                self.emit(f"%{name}.pc = phi i64 {phi}")
                if name == "fault" and self.counting:
                    # (the instructions before the faulting one: a slow exit's
                    # own block counts them, a callback's fault here)
                    phi = ", ".join(f"[{lit(o[2], 64)}, %{o[0]}]" for o in origins)
                    v, w = self.fresh(), self.fresh()
                    self.emit(f"%fault.n = phi i64 {phi}")
                    self.emit(f"{v} = load i64, ptr %ic")
                    self.emit(f"{w} = add i64 {v}, %fault.n")
                    self.emit(f"store i64 {w}, ptr %ic")
                self.exit(code, f"%{name}.pc")
        if self.exits:
            self.lines.extend(self.leave_block())
        self.lines.append("}")
        for k in range(1, len(entries or ()) + 1):
            self.lines.extend(self.entry_wrapper(k))
        decls = sorted(self.intrinsics) + [self.decls[k] for k in sorted(self.decls)]
        meta = [f"!{i} = !{{!\"{k[0]}\", " + ", ".join(f"i32 {x}" for x in k[1:]) + "}"
                for k, i in self.meta.items()]
        return "\n".join(decls + self.lines + meta) + "\n"

    # --- a region's other entries ------------------------------------------------------
    # A region may be entered at other pcs than its first (block.entries: a label
    # before each).  Entry k > 0 is a small function of its own (entry_name) that
    # puts k in ctx word CTX_ENTRY and jumps to the TB's function; that one,
    # after loading the registers, reads the word, empties it (every other way
    # in finds 0 there: chained jumps, the jump cache, C) and goes to the label
    # of entry k, where the count of instructions starts as if the ones before
    # the label had run uncounted.  So one function holds the code of every
    # entry, compiled once, its paths between them jumps inside it.

    def dispatch(self, entries):
        e = self.ctx_load(CTX_ENTRY)
        self.ctx_store(CTX_ENTRY, "0")
        cases = " ".join(f"i64 {k}, label %ent{k}" for k in range(1, len(entries) + 1))
        self.term(f"switch i64 {e}, label %start [ {cases} ]")
        for k, (_, lab, before) in enumerate(entries, 1):
            self.lines.append(f"ent{k}:")
            if self.counting:
                self.emit(f"store i64 {lit(-before, 64)}, ptr %ic")
            self.emit(f"br label %L{lab}")

    def entry_wrapper(self, k):
        return [f"define {CC} i64 {Names.sym(entry_name(self.name, k))}(ptr noalias %ctx, i64 %bud) nounwind {{",
                f"  %p = getelementptr inbounds i64, ptr %ctx, i64 {CTX_ENTRY}",
                f"  store i64 {k}, ptr %p",
                f"  %r = musttail call {CC} i64 {Names.sym(self.name)}(ptr %ctx, i64 %bud)",
                "  ret i64 %r", "}"]

    def _loop_ops(self):
        """the indices of the ops inside a loop: from a label to the last branch
        back to it (from the start to a jump to the TB's own start)"""
        return {i for lo, hi in self._loops() for i in range(lo, hi)}

    def _loops(self):
        """the loops, as ranges of op indices: from a label to a branch back to
        it (from the start to a jump to the TB's own start)"""
        at, loops = {}, []
        for i, op in enumerate(self.block.ops):
            if op.name == "label":
                at[op.consts[0]] = i
            lab = op.consts[0] if op.name == "br" else op.consts[1] if op.name == "brcond" else None
            if lab in at:
                loops.append((at[lab], i + 1))
            elif op.name == "goto_tb" and op.consts[0] == self.block.pc:
                loops.append((0, i + 1))
        return loops

    def _homed(self, ops):
        """the write-only registers stored where written (see the overview):
        those whose every write is outside loops or in a loop (the innermost
        around it) that uses more than HOME_PRESSURE registers"""
        write_only = set(self.written) - {op.consts[0] for op in ops if op.name == "getreg"}
        loops = [(hi - lo, lo, hi, {op.consts[0] for op in ops[lo:hi] if op.name in ("getreg", "setreg")})
                 for lo, hi in self._loops()]
        loops.sort(key=lambda x: x[0])
        out = set(write_only)
        for i, op in enumerate(ops):
            if op.name == "setreg" and op.consts[0] in out:
                inner = next((regs for _, lo, hi, regs in loops if lo <= i < hi), None)
                if inner is not None and len(inner) <= HOME_PRESSURE:
                    out.discard(op.consts[0])
        return out

    def _heads(self):
        return loop_heads(self.block.ops)

    # --- exits --------------------------------------------------------------------------
    # Every exit jumps to one shared block, `leave`, with three phis: the exit code,
    # its argument and the native code to chain to (null: none).  There the written
    # registers go back and the count is flushed, once for the whole TB; then a
    # budget unit (spent by any chained exit) buys the tail call, or the code is
    # returned to Python.

    def add_ic(self, n):
        if self.counting and n:
            v, w = self.fresh(), self.fresh()
            self.emit(f"{v} = load i64, ptr %ic")
            self.emit(f"{w} = add i64 {v}, {lit(n, 64)}")
            self.emit(f"store i64 {w}, ptr %ic")

    def exit(self, code, arg, fn="null", insns=0):
        """Leave by `leave` (see above); `insns`: the instructions before the
        exit in block order (what quick code's hotness counts for its path)."""
        self.exits.append((self.cur, str(code), arg, fn, insns))
        self.term("br label %leave")

    def leave_block(self):
        """The shared exit (see above)."""
        lines = self.lines
        self.lines = []
        self.block_start("leave")
        for name, i in (("%xcode", 1), ("%xarg", 2)):
            inc = ", ".join(f"[{e[i]}, %{e[0]}]" for e in self.exits)
            self.emit(f"{name} = phi i64 {inc}")
        inc = ", ".join(f"[{e[3]}, %{e[0]}]" for e in self.exits)
        self.emit(f"%xfn = phi ptr {inc}")
        if self.hot:
            inc = ", ".join(f"[{e[4]}, %{e[0]}]" for e in self.exits)
            self.emit(f"%xhot = phi i64 {inc}")
            self.hot_sub("%xhot")
        # a chained exit spends one unit of the budget, passed on to the next
        # TB in a register (or stored for Python when the TB returns)
        self.emit("%xbud = load i64, ptr %bud")
        self.emit("%xnz = icmp ne ptr %xfn, null")
        self.emit("%xb1 = sub i64 %xbud, 1")
        self.emit("%xnb = select i1 %xnz, i64 %xb1, i64 %xbud")
        for g in self.written:
            if g in self.homed:
                continue
            v = self.fresh()
            self.emit(f"{v} = load i64, ptr %r{g}")
            self.emit(f"store i64 {v}, ptr %r{g}.p")
        if self.written:
            # (which registers Python reads back when the chain returns to it)
            d, d2 = self.ctx_load(CTX_DIRTY), self.fresh()
            self.emit(f"{d2} = or i64 {d}, {lit(sum(1 << g for g in self.written), 64)}")
            self.ctx_store(CTX_DIRTY, d2)
        if self.counting:
            v, old, new = self.fresh(), self.ctx_load(CTX_ICOUNT), self.fresh()
            self.emit(f"{v} = load i64, ptr %ic")
            self.emit(f"{new} = add i64 {old}, {v}")
            self.ctx_store(CTX_ICOUNT, new)
        if self.fp:
            self.fp.collect()
        self.emit("%xleft = icmp sge i64 %xb1, 0")
        self.emit("%xok = and i1 %xnz, %xleft")
        self.likely("%xok", "xgo", "xret")
        self.block_start("xgo")
        self.emit(f"%xr = musttail call {CC} i64 %xfn(ptr %ctx, i64 %xnb)")
        self.term("ret i64 %xr")
        self.block_start("xret")
        self.ctx_store(CTX_BUDGET, "%xnb")
        self.ctx_store(CTX_EXIT_ID, self.sym(SYM_TB_ID))
        self.ctx_store(CTX_EXIT_ARG, "%xarg")
        self.term("ret i64 %xcode")
        out, self.lines = self.lines, lines
        return out

    def spend_local(self):
        """One unit of the budget, kept in a local (%bud: a register in the loops;
        it goes back to ctx at the exit) -> i1: some was left"""
        b, b1, ok = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{b} = load i64, ptr %bud")
        self.emit(f"{b1} = sub i64 {b}, 1")
        self.emit(f"store i64 {b1}, ptr %bud")
        self.emit(f"{ok} = icmp sge i64 {b1}, 0")          # (b > 0: one `dec`, its sign)
        return ok

    def goto_tb(self, k, insns):
        self.add_ic(insns)
        if self.target == self.block.pc:
            # a jump to this TB's own start: loop here while the budget lasts
            ok = self.spend_local()
            out = self.new_block("selfout")
            if self.hot:                           # (counted here, checked at `start`)
                again = self.new_block("again")
                self.likely(ok, again, out)
                self.block_start(again)
                self.hot_sub(lit(insns, 64))
                self.term("br label %start")
            else:
                self.likely(ok, "start", out)
            self.block_start(out)
            self.exit(EXIT_GOTO, str(k), insns=insns)
            return
        slot = self.sym_addr(SYM_TB_SLOTS, 8 * k)
        f = self.fresh("f")
        self.emit(f"{f} = load ptr, ptr {slot}")
        self.exit(EXIT_GOTO, str(k), f, insns)

    def goto_ptr(self, target, insns):
        self.add_ic(insns)
        c = self.c
        i1, idx, e, epc, hit = self.fresh(), self.fresh(), self.fresh("p"), self.fresh(), self.fresh()
        jc = self.sym_addr(SYM_JC)
        self.emit(f"{i1} = lshr i64 {target}, 1")
        self.emit(f"{idx} = and i64 {i1}, {c['jc_mask']}")
        self.emit(f"{e} = getelementptr inbounds [2 x i64], ptr {jc}, i64 {idx}")
        # (the first word, the code, the first word again: a hit needs the same
        # first word twice, its pc bits the target; see JC_TAG_SHIFT)
        fp, f, fs, epc2, same, low, at = (self.fresh(x) for x in ("p", "f", "f", "v", "v", "v", "v"))
        load = self.jc_load
        self.emit(f"{epc} = " + load.format(t="i64", p=e, order="acquire"))
        self.emit(f"{fp} = getelementptr inbounds i64, ptr {e}, i64 1")
        self.emit(f"{f} = " + load.format(t="ptr", p=fp, order="acquire"))
        self.emit(f"{epc2} = " + load.format(t="i64", p=e, order="monotonic"))
        self.emit(f"{same} = icmp eq i64 {epc}, {epc2}")
        self.emit(f"{low} = and i64 {epc}, {(1 << JC_TAG_SHIFT) - 1}")
        self.emit(f"{at} = icmp eq i64 {low}, {target}")
        self.emit(f"{hit} = and i1 {same}, {at}")
        self.emit(f"{fs} = select i1 {hit}, ptr {f}, ptr null")
        self.exit(EXIT_PTR, target, fs, insns)

    def to_label(self, lab, skip, back):
        """Jump to label lab (the branch is taken): count the skipped instructions,
        and on a back-edge spend budget, leaving at the loop head when it is spent."""
        self.add_ic(-skip)
        if not back:
            self.term(f"br label %L{lab}")
            return
        if self.hot:
            self.count_hot(lit(abs(skip), 64))   # (an iteration: the loop's instructions)
        ok = self.spend_local()
        out = self.new_block("loopout")
        self.likely(ok, f"L{lab}", out)
        self.block_start(out)
        pc, before = self.heads[lab]
        self.add_ic(before)
        self.exit(EXIT_LOOP, lit(pc, 64), insns=before)

    # Quick native code counts its hotness in guest instructions (tiering.Hotness.native),
    # estimated from the code's layout at no cost per instruction: a loop's back-edge
    # subtracts the loop's instructions, an exit those before it in block order, a jump
    # to the TB's own start the path's; the check (count_hot) is at the start (an entry,
    # a jump back to it) and at each back-edge.  A skipped forward branch's instructions
    # count as run, an entry other than the start's as if from the start: an estimate
    # within ~2x, where entries and iterations counted as the smallest loop's instructions
    # each were 4x too few for a region whose loops run nested (strings' main loop).

    def hot_sub(self, n):
        """Subtract n from the TB's countdown word: a plain load and store
        (threads may lose one: harmless).  -> the new value"""
        p, v, w = self.sym_addr(SYM_TB_HOT), self.fresh(), self.fresh()
        self.emit(f"{v} = load i64, ptr {p}")
        self.emit(f"{w} = sub i64 {v}, {n}")
        self.emit(f"store i64 {w}, ptr {p}")
        return w

    def count_hot(self, n):
        """Count n instructions (see above) and check the countdown: at 0 or
        below (two threads can both take it below) the callback (CB_HOT)
        refills it and may promote the TB, and the code goes on."""
        if n == 0:
            w = self.fresh()
            self.emit(f"{w} = load i64, ptr {self.sym_addr(SYM_TB_HOT)}")
        else:
            w = self.hot_sub(n)
        z = self.fresh()
        self.emit(f"{z} = icmp sle i64 {w}, 0")
        cold, go = self.new_block("hot"), self.new_block("hgo")
        self.likely(z, go, cold, negate=True)
        self.block_start(cold)
        self.callback(CB_HOT, self.sym(SYM_TB_HOT), 0, 0)
        self.term(f"br label %{go}")
        self.block_start(go)

    # --- callbacks -----------------------------------------------------------------------
    def callback(self, kind, a, b, c):
        cb, cc = Names.sym(self.cb_sym), self.cb_cc
        self.decls.setdefault(self.cb_sym, f"declare {cc}i64 {cb}(ptr, i64, i64, i64, i64)")
        r = self.fresh()
        if self.fp:
            self.fp.collect()
        self.calls_back = True
        self.emit(f"{r} = call {cc}i64 {cb}(ptr %ctx, i64 {kind}, i64 {a}, i64 {b}, i64 {c}) cold")
        if self.fp:
            self.fp.clear()
        st, bad = self.ctx_load(CTX_STATUS), self.fresh()
        self.emit(f"{bad} = icmp ne i64 {st}, 0")
        ok = self.new_block("ok")
        self.fault_from.append((self.cur, self.pc, self.before))
        self.likely(bad, ok, "fault", negate=True)
        self.block_start(ok)
        return r

    # --- memory -------------------------------------------------------------------------
    def check(self, op):
        """-> i1: the accesses of op's group may all go straight to host memory
        (check_range over the range they touch, made at the first of them)"""
        g = self.groups[id(op)]
        if g[5] is None:
            base, lo, hi, loads, stores = g[:5]
            if self.c["npages"] and self.want_cache():
                g[5] = self.cached_range(self.val(base), lo, hi - lo, loads, stores)
            else:
                g[5] = self.check_range(self.val(base), lo, hi - lo, loads, stores)
        return g[5]

    def cached_range(self, base, lo, span, loads, stores):
        """A group's check inside a loop, with a page cache (see cached_page): a
        range inside the cached page passes at once, else check_range decides
        and fills the cache.  -> i1 (a phi: the paths after it know it)."""
        k = len(self.caches)
        self.caches.append(k)
        first, c, hit = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{first} = add i64 {base}, {lo}")
        self.emit(f"{c} = load i64, ptr {self.pgc(k)}")
        size = 1 << (span - 1).bit_length()
        if size <= 8:
            # (the range rounded up to an aligned power of two: one and + compare)
            m = self.fresh()
            self.emit(f"{m} = and i64 {first}, {-PAGE | (size - 1)}")
            self.emit(f"{hit} = icmp eq i64 {m}, {c}")
        else:
            # (both ends in the page: -1, never a page's base, matches nothing)
            last, f, l, x1, x2, x = (self.fresh() for _ in range(6))
            self.emit(f"{last} = add i64 {first}, {span - 1}")
            self.emit(f"{f} = and i64 {first}, {-PAGE}")
            self.emit(f"{l} = and i64 {last}, {-PAGE}")
            self.emit(f"{x1} = xor i64 {f}, {c}")
            self.emit(f"{x2} = xor i64 {l}, {c}")
            self.emit(f"{x} = or i64 {x1}, {x2}")
            self.emit(f"{hit} = icmp eq i64 {x}, 0")
        yes, miss, join = self.new_block("gok"), self.new_block("gmiss"), self.new_block("gj")
        self.likely(hit, yes, miss)
        self.block_start(miss)
        ok = self.check_range(first, 0, span, loads, stores)
        pb = self.fresh()
        self.emit(f"{pb} = and i64 {first}, {-PAGE}")
        self.emit(f"store i64 {pb}, ptr {self.pgc(k)}")    # (a failed check: the callback empties it)
        miss_end = self.cur
        self.term(f"br label %{join}")
        self.block_start(yes)
        self.term(f"br label %{join}")
        self.block_start(join)
        r = self.fresh()
        self.emit(f"{r} = phi i1 [true, %{yes}], [{ok}, %{miss_end}]")
        return r

    def page_index(self, pg):
        """-> pg clamped into the permission table (masked when the number of
        pages is a power of two, else 0 when outside), so its byte can be read
        before the range test is known"""
        npages, idx = self.c["npages"], self.fresh()
        if npages & (npages - 1) == 0:
            self.emit(f"{idx} = and i64 {pg}, {npages - 1}")
        else:
            inr = self.fresh()
            self.emit(f"{inr} = icmp ult i64 {pg}, {npages}")
            self.emit(f"{idx} = select i1 {inr}, i64 {pg}, i64 0")
        return idx

    def check_range(self, base, lo, span, loads, stores):
        """-> i1: [base + lo, base + lo + span) lies inside the space (span <=
        one page: in at most two pages, the host memory being one piece) and the
        permission bytes of its first and last page allow loads (if `loads`) and
        stores (if `stores`).  Branch-free (LLVM's code generator may still split
        the `and`s into branches); the two bytes are one when the range lies in
        one page."""
        npages = self.c["npages"]
        if not npages:
            return "false"
        first, last, p1, p2, inr, nowrap, ok1, ok2, ok = (self.fresh() for _ in range(9))
        self.emit(f"{first} = add i64 {base}, {lo}")
        self.emit(f"{last} = add i64 {first}, {span - 1}")
        self.emit(f"{p1} = lshr i64 {first}, {PAGE_SHIFT}")
        self.emit(f"{p2} = lshr i64 {last}, {PAGE_SHIFT}")
        self.emit(f"{inr} = icmp ult i64 {p2}, {npages}")
        self.emit(f"{nowrap} = icmp ule i64 {first}, {last}")
        a1 = self.perm_allows(self.page_index(p1), loads, stores)
        a2 = self.perm_allows(self.page_index(p2), loads, stores)
        self.emit(f"{ok1} = and i1 {inr}, {nowrap}")
        self.emit(f"{ok2} = and i1 {a1}, {a2}")
        self.emit(f"{ok} = and i1 {ok1}, {ok2}")
        return ok

    def branch_checked(self, op, a, fast, slow):
        """Branch to fast if the access may go straight to host memory (a lone
        access: check_single; one of a group: its group's check), else to slow,
        the callback or the slow exit: exact, for whatever failed (a misaligned lone access, a
        page crossed, a refused permission, a group whose range touches a page
        this access does not).  -> False when it branched to fast only (slow
        unused)."""
        store = op.name == "st"
        g = self.groups[id(op)]
        if g[6] == 1:
            self.check_single(a, op.consts[0], not store, store, fast, slow)
        elif self.slow_exits and g[5] is not None:
            # (not the group's first access: that one's check passed, or the TB
            # left by the slow way there)
            self.term(f"br label %{fast}")
            return False
        else:
            self.likely(self.check(op), fast, slow)
        return True

    def perm_allows(self, pg, loads, stores):
        """-> i1: the permission byte of page index pg (in the table) allows
        loads (if `loads`) and stores (if `stores`)."""
        pp, p, pm, ok = (self.fresh() for _ in range(4))
        self.emit(f"{pp} = getelementptr inbounds i8, ptr {self.sym_addr(SYM_PERM)}, i64 {pg}")
        self.emit(f"{p} = load i8, ptr {pp}")
        mask, want = self.perm_bits(loads, stores)
        self.emit(f"{pm} = and i8 {p}, {mask}")
        self.emit(f"{ok} = icmp eq i8 {pm}, {want}")
        return ok

    def check_single(self, a, size, loads, stores, fast, slow):
        """The check of a lone access of `size` bytes at a: an aligned address
        (it cannot cross a page) inside the space (one test of its low and high
        bits when the space is a power of two) whose page's permission byte
        allows it -> fast, anything else (misaligned too: rare in RISC-V code,
        where the hardware traps on it) -> slow.  Inside a loop the access first
        tries its page cache (cached_page)."""
        npages = self.c["npages"]
        if not npages:
            self.term(f"br label %{slow}")
            return
        cache = self.want_cache()
        if cache:
            self.cached_page(a, size, fast)
        m, z, pg, ok = (self.fresh() for _ in range(4))
        space = npages << PAGE_SHIFT
        pow2 = npages & (npages - 1) == 0
        mask = (size - 1) | ((MASK[I64] ^ (space - 1)) if pow2 else 0)
        self.emit(f"{m} = and i64 {a}, {lit(mask, 64)}")
        self.emit(f"{z} = icmp eq i64 {m}, 0")
        self.emit(f"{pg} = lshr i64 {a}, {PAGE_SHIFT}")
        if not pow2:
            inr, both = self.fresh(), self.fresh()
            self.emit(f"{inr} = icmp ult i64 {pg}, {npages}")
            self.emit(f"{both} = and i1 {z}, {inr}")
            z = both
        allowed = self.perm_allows(self.page_index(pg), loads, stores)
        self.emit(f"{ok} = and i1 {z}, {allowed}")
        if cache:
            # (filled even when the check failed: then the callback empties it)
            base = self.fresh()
            self.emit(f"{base} = and i64 {a}, {-PAGE}")
            self.emit(f"store i64 {base}, ptr {self.pgc(len(self.caches) - 1)}")
        self.likely(ok, fast, slow)

    def want_cache(self):
        """an access inside a loop gets a page cache while ctx has words left"""
        return self.at in self.in_loop and len(self.caches) < NPGC_MAX

    @staticmethod
    def pgc(k):
        return f"%pgc{k}.p"

    def cached_page(self, a, size, fast):
        """Inside a loop: the access's page cache, ctx word CTX_PGC + k (the base
        of the page its check last passed, -1: none).  The TB empties its words
        when it starts and after every callback (Python may change permissions;
        other TBs' words are emptied when those start).  An aligned access in
        that page goes to fast at once; the rest continues in a new block with
        the check, which fills the cache."""
        k = len(self.caches)
        self.caches.append(k)
        m, c, hit = self.fresh(), self.fresh(), self.fresh()
        # (one and + compare: the page's base and the low bits, zero when aligned;
        # -1 never matches, bits 2-11 of the masked address being clear)
        self.emit(f"{m} = and i64 {a}, {-PAGE | (size - 1)}")
        self.emit(f"{c} = load i64, ptr {self.pgc(k)}")
        self.emit(f"{hit} = icmp eq i64 {m}, {c}")
        miss = self.new_block("pgmiss")
        self.likely(hit, fast, miss)
        self.block_start(miss)

    @staticmethod
    def perm_bits(loads, stores):
        """-> (mask, want): the permission byte p allows the access iff p & mask == want"""
        mask, want = PERM_FILE | PERM_WATCH, 0
        if loads:
            mask, want = mask | PERM_R, want | PERM_R
        if stores:
            mask, want = mask | PERM_W | PERM_CODE, want | PERM_W
        return mask, want

    def host(self, a):
        ha = self.fresh()
        self.emit(f"{ha} = add i64 {a}, {self.sym(SYM_MEM)}")
        return self.addr(ha)

    def slow_exit(self, slow):
        """(slow_exits) the block `slow`: leave before the current instruction
        (counted: the instructions before it in block order, as a loop's exit)"""
        self.block_start(slow)
        self.add_ic(self.before)
        self.slow_from.append((self.cur, self.pc))
        self.term("br label %slow")

    def fault_load(self, op, a):
        """A load with no check: an `asm goto` of the one instruction, whose
        other edge is the slow exit before this guest instruction; the
        instruction's offset and that exit's go to FAULTS_SECTION (see
        backends/faults.py: a host fault there goes on at the exit).  -> the
        value loaded, as an i64."""
        size, signed = op.consts
        fast, slow = self.new_block("ldf"), self.new_block("lds")
        hp = self.host(a)
        raw, fn = self.fresh(), self.name
        insn = _LOAD_INSN[size, bool(signed) and size < 8]
        text = (f"1: {insn}\\0A\\09.pushsection {FAULTS_SECTION},\\22\\22,@progbits\\0A\\09"
                f".long 1b - {fn}, ${{2:l}} - {fn}\\0A\\09.popsection")
        self.term(f'{raw} = callbr i64 asm sideeffect "{text}", "=r,*m,!i"(ptr elementtype(i{8 * size}) {hp}) '
                  f"to label %{fast} [label %{slow}]")
        self.slow_exit(slow)
        self.block_start(fast)
        return raw

    def ld(self, op):
        size, signed = op.consts
        a = self.val(op.ins[0])
        if self.fault_loads:
            v = self.fault_load(op, a)
            if op.type == I32:
                self.emit(f"%t{op.outs[0].id} = trunc i64 {v} to i32")
            else:
                self.alias[op.outs[0].id] = v
            return
        fast, slow, done = self.new_block("ldf"), self.new_block("lds"), self.new_block("ldd")
        if self.branch_checked(op, a, fast, slow) and self.slow_exits:
            self.slow_exit(slow)
        self.block_start(fast)
        hp = self.host(a)
        raw, v = self.fresh(), self.fresh()
        self.emit(f"{raw} = load i{8 * size}, ptr {hp}, align 1")
        if size == 8:
            v = raw
        else:
            self.emit(f"{v} = {'sext' if signed else 'zext'} i{8 * size} {raw} to i64")
        out = f"%t{op.outs[0].id}"
        if self.slow_exits:
            if op.type == I32:
                self.emit(f"{out} = trunc i64 {v} to i32")
            else:
                self.alias[op.outs[0].id] = v
            return
        self.term(f"br label %{done}")
        self.block_start(slow)
        sv = self.callback(CB_LOAD, a, size | (int(bool(signed)) << 4), 0)
        slow_end = self.cur
        self.term(f"br label %{done}")
        self.block_start(done)
        if op.type == I32:
            m = self.fresh()
            self.emit(f"{m} = phi i64 [{v}, %{fast}], [{sv}, %{slow_end}]")
            self.emit(f"{out} = trunc i64 {m} to i32")
        else:
            self.emit(f"{out} = phi i64 [{v}, %{fast}], [{sv}, %{slow_end}]")

    def fault_store(self, a, v, size):
        """A store with no check but its range, as fault_load: an `asm goto` of
        its one instruction, whose other edge is the slow exit before this
        guest instruction (the store did nothing: x86 stores are all or
        nothing).  Its address is compared with the space's end, as it is not
        a load's: a store outside the guards would write the host's memory."""
        go, fast, slow = self.new_block("stg"), self.new_block("stf"), self.new_block("sts")
        inside = self.fresh()
        self.emit(f"{inside} = icmp ult i64 {a}, {self.c['npages'] << PAGE_SHIFT}")
        self.likely(inside, go, slow)
        self.block_start(go)
        hp = self.host(a)
        ty = f"i{8 * size}"
        if size < 8:
            nv = self.fresh()
            self.emit(f"{nv} = trunc i64 {v} to {ty}")
            v = nv
        fn = self.name
        text = (f"1: {_STORE_INSN[size]}\\0A\\09.pushsection {FAULTS_SECTION},\\22\\22,@progbits\\0A\\09"
                f".long 1b - {fn}, ${{2:l}} - {fn}\\0A\\09.popsection")
        self.term(f'callbr void asm sideeffect "{text}", "=*m,r,!i"(ptr elementtype({ty}) {hp}, {ty} {v}) '
                  f"to label %{fast} [label %{slow}]")
        self.slow_exit(slow)
        self.block_start(fast)

    def st(self, op):
        size = op.consts[0]
        a = self.val(op.ins[0])
        v = self.widen(op.ins[1])
        if self.fault_stores:
            self.fault_store(a, v, size)
            return
        fast, slow, done = self.new_block("stf"), self.new_block("sts"), self.new_block("std")
        if self.branch_checked(op, a, fast, slow) and self.slow_exits:
            self.slow_exit(slow)
        self.block_start(fast)
        hp = self.host(a)
        if size == 8:
            nv = v
        else:
            nv = self.fresh()
            self.emit(f"{nv} = trunc i64 {v} to i{8 * size}")
        self.emit(f"store i{8 * size} {nv}, ptr {hp}, align 1")
        if self.slow_exits:
            return
        self.term(f"br label %{done}")
        self.block_start(slow)
        self.callback(CB_STORE, a, v, size)
        self.term(f"br label %{done}")
        self.block_start(done)

    def uncount(self, c, n):
        """%ic -= n if i1 c: n instructions in block order did not run"""
        d, v, w = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{d} = select i1 {c}, i64 {lit(-n, 64)}, i64 0")
        self.emit(f"{v} = load i64, ptr %ic")
        self.emit(f"{w} = add i64 {v}, {d}")
        self.emit(f"store i64 {w}, ptr %ic")

    def widen(self, v):
        """an input as i64 (i32 values zero-extended, as the interpreter keeps them)"""
        if v.type == I64:
            return self.val(v)
        r = self.fresh()
        self.emit(f"{r} = zext i32 {self.val(v)} to i64")
        return r

    def call(self, op, helper_index):
        if len(op.ins) > NARGS_MAX:
            raise NotImplementedError(f"llvm: a helper call with {len(op.ins)} arguments")
        for i, v in enumerate(op.ins):
            self.ctx_store(CTX_ARGS + i, self.widen(v))
        r = self.callback(CB_HELPER, helper_index, len(op.ins), 0)
        if op.outs:
            out = f"%t{op.outs[0].id}"
            if op.type == I32:
                self.emit(f"{out} = trunc i64 {r} to i32")
            else:
                self.emit(f"{out} = add i64 {r}, 0")

    # --- atomics ----------------------------------------------------------------------
    # A helper with a `native_atomic` description (kind "rmw" / "lr" / "sc", op,
    # size, signed result, the CPU attribute of the reservation: the frontend's)
    # runs natively when its access passes check_single (aligned, inside the
    # space, its page readable and, but for lr, writable and without code, file or
    # watch bits): an `atomicrmw`, an atomic load that records the reservation in
    # ctx (CTX_RES: address, size, value), a `cmpxchg` against the recorded value
    # (LR/SC as a compare-and-swap, as the Python helpers do).  Anything else
    # calls the helper (the exact checked path).  seq_cst: at least what aq/rl ask.
    _RMW = {"swap": "xchg", "add": "add", "xor": "xor", "and": "and", "or": "or",
            "min": "min", "max": "max", "minu": "umin", "maxu": "umax"}

    def atomic(self, op):
        d = getattr(op.consts[0], "native_atomic", None)
        if d is None or not self.c["npages"] or d.size not in (4, 8) or op.type != I64:
            return False
        if d.kind == "rmw" and d.op not in self._RMW or d.kind not in ("rmw", "lr", "sc"):
            return False
        if d.kind != "rmw":
            self.reservation = d.reservation
        size, t = d.size, f"i{8 * d.size}"
        a = self.widen(op.ins[0])
        v = self.widen(op.ins[1]) if len(op.ins) > 1 else None
        fast, slow, done = self.new_block("atf"), self.new_block("ats"), self.new_block("atd")
        self.check_single(a, size, True, d.kind != "lr", fast, slow)
        self.block_start(fast)
        hp = self.host(a)
        nv = v
        if v is not None and size == 4:
            nv = self.fresh()
            self.emit(f"{nv} = trunc i64 {v} to i32")
        res = self.fresh()
        ends = []                                  # (value, block) into the phi
        if d.kind == "sc":
            rs, ra, rv, m1, m2, m, ok, pair, okb, r1 = (self.fresh() for _ in range(10))
            self.emit(f"{rs} = load i64, ptr {self.ctx_ptr(CTX_RES + 1)}")
            self.emit(f"{ra} = load i64, ptr {self.ctx_ptr(CTX_RES)}")
            self.emit(f"{rv} = load i64, ptr {self.ctx_ptr(CTX_RES + 2)}")
            self.ctx_store(CTX_RES + 1, "0")       # (an SC ends the reservation)
            self.emit(f"{m1} = icmp eq i64 {rs}, {size}")
            self.emit(f"{m2} = icmp eq i64 {ra}, {a}")
            self.emit(f"{m} = and i1 {m1}, {m2}")
            cas, nomatch = self.new_block("sccas"), self.new_block("scno")
            self.term(f"br i1 {m}, label %{cas}, label %{nomatch}")
            self.block_start(nomatch)
            ends.append((str(d.results[1]), nomatch))
            self.term(f"br label %{done}")
            self.block_start(cas)
            exp = rv
            if size == 4:
                exp = self.fresh()
                self.emit(f"{exp} = trunc i64 {rv} to i32")
            self.emit(f"{pair} = cmpxchg ptr {hp}, {t} {exp}, {t} {nv} seq_cst seq_cst, align {size}")
            self.emit(f"{okb} = extractvalue {{ {t}, i1 }} {pair}, 1")
            self.emit(f"{r1} = select i1 {okb}, i64 {d.results[0]}, i64 {d.results[1]}")
            ends.append((r1, cas))
        else:
            raw = self.fresh()
            if d.kind == "lr":
                self.emit(f"{raw} = load atomic {t}, ptr {hp} seq_cst, align {size}")
            else:
                self.emit(f"{raw} = atomicrmw {self._RMW[d.op]} ptr {hp}, {t} {nv} seq_cst, align {size}")
            if size == 8:
                self.emit(f"{res} = add i64 {raw}, 0")
                z = raw
            else:
                z = self.fresh()
                self.emit(f"{z} = zext i32 {raw} to i64")
                self.emit(f"{res} = {'sext' if d.signed else 'zext'} i32 {raw} to i64")
            if d.kind == "lr":
                self.ctx_store(CTX_RES, a)
                self.ctx_store(CTX_RES + 2, z)
                self.ctx_store(CTX_RES + 1, str(size))
            ends.append((res, fast))
        self.term(f"br label %{done}")
        self.block_start(slow)
        for i, x in enumerate(op.ins):
            self.ctx_store(CTX_ARGS + i, self.widen(x))
        r = self.callback(CB_HELPER, self.c["helper"](op.consts[0]), len(op.ins), 0)
        ends.append((r, self.cur))
        self.term(f"br label %{done}")
        self.block_start(done)
        inc = ", ".join(f"[{x}, %{b}]" for x, b in ends)
        self.emit(f"%t{op.outs[0].id} = phi i64 {inc}")
        return True

    # --- ops ----------------------------------------------------------------------------------
    def intrinsic(self, name, w, nargs, extra=""):
        t = ty(w)
        args = ", ".join([t] * nargs + ([extra] if extra else []))
        self.intrinsics.add(f"declare {t} @llvm.{name}.{t}({args})")
        return f"@llvm.{name}.{t}"

    def op(self, op):
        n = op.name
        w = op.type
        outs = op.outs
        out = f"%t{outs[0].id}" if outs else None
        x = [self.val(v) for v in op.ins]
        t = ty(w) if w else None
        if w == I64 and outs and self.narrow(op, n, x, out):
            return
        if n == "mov":
            self.alias[outs[0].id] = x[0]
        elif n in _SIMPLE:
            self.emit(f"{out} = {_SIMPLE[n]} {t} {x[0]}, {x[1]}")
        elif n in _SHIFT:
            s = self.fresh()
            self.emit(f"{s} = and {t} {x[1]}, {w - 1}")
            self.emit(f"{out} = {_SHIFT[n]} {t} {x[0]}, {s}")
        elif n in ("rotl", "rotr"):
            f = self.intrinsic("fshl" if n == "rotl" else "fshr", w, 3)
            self.emit(f"{out} = call {t} {f}({t} {x[0]}, {t} {x[0]}, {t} {x[1]})")
        elif n == "neg":
            self.emit(f"{out} = sub {t} 0, {x[0]}")
        elif n == "not":
            self.emit(f"{out} = xor {t} {x[0]}, -1")
        elif n in _COUNT:
            f = self.intrinsic(_COUNT[n], w, 1, "i1" if n != "popcnt" else "")
            self.emit(f"{out} = call {t} {f}({t} {x[0]}" + (", i1 false)" if n != "popcnt" else ")"))
        elif n in _EXT:
            bits, how = _EXT[n]
            if bits >= w:
                self.alias[outs[0].id] = x[0]
            else:
                s = self.fresh()
                self.emit(f"{s} = trunc {t} {x[0]} to i{bits}")
                self.emit(f"{out} = {how} i{bits} {s} to {t}")
        elif n == "trunc32":
            self.emit(f"{out} = trunc i64 {x[0]} to i32")
        elif n == "zext32":
            self.emit(f"{out} = zext i32 {x[0]} to i64")
        elif n == "sext32":
            self.emit(f"{out} = sext i32 {x[0]} to i64")
        elif n in _MULH:
            ea, eb = _MULH[n]
            wide = f"i{2 * w}"
            a2, b2, p, h = self.fresh(), self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{a2} = {ea} {t} {x[0]} to {wide}")
            self.emit(f"{b2} = {eb} {t} {x[1]} to {wide}")
            self.emit(f"{p} = mul {wide} {a2}, {b2}")
            self.emit(f"{h} = ashr {wide} {p}, {w}")
            self.emit(f"{out} = trunc {wide} {h} to {t}")
        elif n in ("div", "rem", "divu", "remu"):
            self.divide(n, w, x, out)
        elif n == "setcond":
            c = self.fresh()
            self.emit(f"{c} = icmp {_PRED[op.consts[0]]} {ty(op.ins[0].type)} {x[0]}, {x[1]}")
            self.emit(f"{out} = zext i1 {c} to {t}")
        elif n == "movcond":
            c = self.fresh()
            self.emit(f"{c} = icmp {_PRED[op.consts[0]]} {ty(op.ins[0].type)} {x[0]}, {x[1]}")
            self.emit(f"{out} = select i1 {c}, {t} {x[2]}, {t} {x[3]}")
        elif n == "getreg":
            g = op.consts[0]
            if w == I32:
                v = self.fresh()
                self.emit(f"{v} = load i64, ptr %r{g}")
                self.emit(f"{out} = trunc i64 {v} to i32")
            else:
                self.emit(f"{out} = load i64, ptr %r{g}")
        elif n == "setreg":
            g = op.consts[0]
            self.emit(f"store i64 {self.widen(op.ins[0])}, ptr %r{g}{'.p' if g in self.homed else ''}")
        elif n == "ld":
            self.ld(op)
        elif n == "st":
            self.st(op)
        elif n in ("call", "call_pure"):
            if self.fp and self.fp.lower(op):
                return
            if self.atomic(op):
                return
            self.call(op, self.c["helper"](op.consts[0]))
        elif n == "insn_start":
            self.pc = op.consts[0]
            self.before, self.ninsns = self.ninsns, self.ninsns + 1
        elif n == "label":
            lab = op.consts[0]
            if not self.terminated:
                self.term(f"br label %L{lab}")
            self.block_start(f"L{lab}")
            self.placed.add(lab)
        elif n == "br":
            lab, skip = op.consts
            self.to_label(lab, skip, lab in self.placed)
        elif n == "brcond":
            cond, lab, skip = op.consts
            c = self.fresh()
            self.emit(f"{c} = icmp {_PRED[cond]} {ty(op.ins[0].type)} {x[0]}, {x[1]}")
            back = lab in self.placed
            fall = self.new_block("fall")
            if not back:
                if skip and self.counting:
                    # (the skipped instructions as a select before the branch, not
                    # a block on the taken edge: the CFG stays the one without
                    # counting, so LLVM still turns a short branch into a cmov;
                    # intloop's loop with -stats: 2.5x slower with a block there)
                    self.uncount(c, skip)
                self.term(f"br i1 {c}, label %L{lab}, label %{fall}")
            else:
                taken = self.new_block("taken")
                self.term(f"br i1 {c}, label %{taken}, label %{fall}")
                self.block_start(taken)
                self.to_label(lab, skip, back)
            self.block_start(fall)
        elif n == "skipped":
            if self.counting:
                cond, skip = op.consts
                c = self.fresh()
                self.emit(f"{c} = icmp {_PRED[cond]} {ty(op.ins[0].type)} {x[0]}, {x[1]}")
                self.uncount(c, skip)
        elif n == "mb":
            self.emit("fence seq_cst")
        elif n == "goto_tb":
            self.goto_n += 1
            k = self.goto_n
            self.target = op.consts[0]
            self.goto_tb(k, op.consts[1])
        elif n == "goto_ptr":
            self.goto_ptr(x[0], op.consts[0])
        elif n == "exception":
            kind, pc, next_pc, insns = op.consts
            self.exceptions.append((kind, pc, next_pc))
            self.add_ic(insns)
            self.exit(EXIT_EXC, str(len(self.exceptions) - 1), insns=insns)
        else:
            raise NotImplementedError(f"llvm: op {n}")

    # --- RV64's 32-bit operations ---------------------------------------------------------
    # The frontend writes a W operation (addw, slliw, srliw ...) as the 64-bit
    # one and an ext32s/ext32u of its result, all i64.  LLVM then sees neither
    # the 32-bit rotates of sha256 (`srliw; slliw; or`: a zext and a sext of
    # two shifts, or'ed) nor that a sum only feeds the next W operation.  So an
    # i64 temp keeps its 32-bit form where it has one: sext(s) (s32: after
    # ext32s, a logical op of two such, an srliw (its bit 31 clear), an `and`
    # of a 31-bit constant), zext(s) (z32: after ext32u), and ext32s/ext32u
    # take the low half of their input in i32, from its op's inputs' when it is
    # an add, sub, mul, shl, and, or, xor (lo): the W operation is done in
    # i32, its i64 value the sext of that.

    def s32_of(self, v):
        """-> i32 operand s with v == sext(s), or None"""
        if isinstance(v, Const):
            c = v.value & MASK[I64]
            return lit(c, 32) if (c + (1 << 31)) & MASK[I64] < 1 << 32 else None
        return self.s32.get(v.id)

    def z32_of(self, v):
        """-> i32 operand s with v == zext(s), or None"""
        if isinstance(v, Const):
            c = v.value & MASK[I64]
            return lit(c, 32) if c < 1 << 32 else None
        return self.z32.get(v.id)

    def lo(self, v, derive=False):
        """-> i32 operand: the low half of i64 value v (with derive: computed in
        i32 from its op's inputs' where it allows, not deeper: a value needed in
        i64 too would be computed twice)"""
        if isinstance(v, Const):
            return lit(v.value, 32)
        r = self.s32.get(v.id) or self.z32.get(v.id) or self.lo32.get(v.id)
        if r:
            return r
        d = self.defs.get(v.id) if derive else None
        if d is not None and d.name == "shl" and not (isinstance(d.ins[1], Const) and d.ins[1].value & 63 < 32):
            d = None
        if d is not None:
            a, b = self.lo(d.ins[0]), self.lo(d.ins[1])
            r = self.fresh("l")
            self.emit(f"{r} = {_LO[d.name]} i32 {a}, {b}")
        else:
            r = self.fresh("l")
            self.emit(f"{r} = trunc i64 {self.val(v)} to i32")
        self.lo32[v.id] = r
        return r

    def narrow(self, op, n, x, out):
        """An i64 op with a 32-bit form (see above): emitted as that and its
        extension -> True; else only noted (defs, a mov's forms) -> False."""
        o, ins = op.outs[0].id, op.ins
        if n in _LO and not (n == "shl" and not isinstance(ins[1], Const)):
            self.defs[o] = op
        elif n == "mov" and not isinstance(ins[0], Const):
            for d in (self.s32, self.z32, self.lo32, self.defs):
                if ins[0].id in d:
                    d[o] = d[ins[0].id]
            return False
        r, ext = None, "sext"
        if n == "ext32s":
            r = self.lo(ins[0], True)
            self.s32[o] = r
        elif n == "ext32u":
            r, ext = self.lo(ins[0], True), "zext"
            self.z32[o] = r
        elif n in ("and", "or", "xor"):
            sa, sb = self.s32_of(ins[0]), self.s32_of(ins[1])
            za, zb = self.z32_of(ins[0]), self.z32_of(ins[1])
            if sa is not None and sb is not None:
                r = self.fresh("n")
                self.emit(f"{r} = {n} i32 {sa}, {sb}")
                self.s32[o] = r
            elif za is not None and zb is not None:
                r, ext = self.fresh("n"), "zext"
                self.emit(f"{r} = {n} i32 {za}, {zb}")
                self.z32[o] = r
            elif n == "and" and any(isinstance(v, Const) and v.value & MASK[I64] < 1 << 31 for v in ins):
                c, v = (ins[0], ins[1]) if isinstance(ins[0], Const) else (ins[1], ins[0])
                lv = self.lo(v)
                r = self.fresh("n")
                self.emit(f"{r} = and i32 {lv}, {lit(c.value, 32)}")
                self.s32[o] = self.z32[o] = r
        elif n == "not" and self.s32_of(ins[0]) is not None:
            r = self.fresh("n")
            self.emit(f"{r} = xor i32 {self.s32_of(ins[0])}, -1")
            self.s32[o] = r
        elif n in ("shr", "sar") and isinstance(ins[1], Const) and 0 < ins[1].value & 63 < 32:
            c = ins[1].value & 63
            if n == "shr" and self.z32_of(ins[0]) is not None:
                r = self.fresh("n")
                self.emit(f"{r} = lshr i32 {self.z32_of(ins[0])}, {c}")
                self.s32[o] = self.z32[o] = r
            elif n == "sar" and self.s32_of(ins[0]) is not None:
                r = self.fresh("n")
                self.emit(f"{r} = ashr i32 {self.s32_of(ins[0])}, {c}")
                self.s32[o] = r
        if r is None:
            return False
        self.emit(f"{out} = {ext} i32 {r} to i64")
        return True

    def divide(self, n, w, x, out):
        """RISC-V's answers without the host's traps: x/0 = 0 (divu, div), x%0 = x,
        MIN/-1 = MIN and MIN%-1 = 0 (the divisor is made 1 where the host would trap)."""
        t = ty(w)
        a, b = x
        bz, bad, bs, q = self.fresh(), self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{bz} = icmp eq {t} {b}, 0")
        if n in ("div", "rem"):
            amin, bm1, ov = self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{amin} = icmp eq {t} {a}, {lit(1 << (w - 1), w)}")
            self.emit(f"{bm1} = icmp eq {t} {b}, -1")
            self.emit(f"{ov} = and i1 {amin}, {bm1}")
            self.emit(f"{bad} = or i1 {bz}, {ov}")
        else:
            bad = bz
        self.emit(f"{bs} = select i1 {bad}, {t} 1, {t} {b}")
        self.emit(f"{q} = {dict(div='sdiv', rem='srem', divu='udiv', remu='urem')[n]} {t} {a}, {bs}")
        zero = "0" if n in ("div", "divu") else a
        self.emit(f"{out} = select i1 {bz}, {t} {zero}, {t} {q}")
