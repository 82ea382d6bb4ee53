"""Native code's fault table: a host SIGSEGV or SIGBUS at a known instruction
goes on at that instruction's handler, in the same code.

Native code loads and stores guest memory without a check (fault loads and
stores: what follows says of loads holds for stores, whose exits leave before
a store that did nothing, x86 stores being all or nothing).  In LLVM code
(llvm_emit) a load is an `asm goto` whose only instruction may fault and whose
other edge is the load's slow exit (it writes the registers back and leaves
before the guest instruction, whose pc it names).  The compiler keeps the
state at that edge what the exit needs, so when the load faults, going on at
the exit's first instruction is exact: the engine then runs the guest
instruction on the interpreter, which raises the guest's fault (or copies a
shared file's page past its end: SIGBUS, whatever the checked path does).  Each
such load leaves a pair (its offset, the exit's offset) in the object's
`.pydbt_faults` section (llvm_cache.fault_entries).  In baseline code
(x64_emit) the handler is the load's slow path, the callback into
GuestMemory, which the load left as it was.  `add_for` enters the pairs, at
the code's addresses, in the process's table when the code is placed, and
takes them out when it is freed.  (x86-64 hosts, as the native tiers.)

The table is an open-addressing hash (linear probing) of host pc -> handler pc
in a ctypes array: word 0 its mask, then pairs (key 0 empty, 1 a removed one);
a root of two words holds its address and the number of faults sent on.  The
handler (machine code, below; a SA_SIGINFO handler for SIGSEGV and SIGBUS)
looks the faulting pc (the ucontext's RIP) up: found, it sets RIP to the
handler and returns.  Else the action that was there before takes it (the
default, faulthandler's, or the one pydbt set for the guest's handler:
`take_back` keeps it there): a signal sent by a process (si_code <= 0) goes to
its handler (a tail jump), is ignored, or (the default) is raised again after
the old action is put back; a fault not native code's gets the old action put
back, and the instruction faults again into it; but first, a write (SIGSEGV,
SEGV_ACCERR) into a page of the guest memory registered by `protect_writes`
that the guest may write (its permission byte) is one into a page
write-protected because translated code lies there, by code that is not native
code's (Python's store racing the page's marking, another thread's checked
native store): the handler makes the page writable, marks it (`written`) and
returns, so the write goes again; the native tier drops the page's code
(written_pages, at its next entry).  Python writes the table under
a lock, each entry's handler before its key, and a grown table is filled before
the root names it, so the handler (any thread, any time) reads a consistent one.

fork: the child has copies of all of it (private memory, the same handlers).
"""
import ctypes
import signal
import threading
import weakref

from pydbt.runtime import signals
from pydbt.stats import STATS

from .codearena import ARENA
from .x64asm import Asm, mem, RAX, RBX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10, R11, R12

SIGNALS = (signal.SIGSEGV, signal.SIGBUS)
_SA_SIGINFO, _SA_ONSTACK = 0x4, 0x08000000
_UC_RIP = 168                  # offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]), x86-64 Linux
_SI_CODE = 8                   # offsetof(siginfo_t, si_code)
_SI_ADDR = 16                  # offsetof(siginfo_t, si_addr)
_SEGV_ACCERR = 2
_PAGE_W = 2                    # a permission byte's PROT_WRITE (runtime/memory.py)
_HASH = 0x5BD1E995             # (multiplicative hashing: the product's bits 20.. index the table)
_MIN_SIZE = 1024
EMPTY, REMOVED = 0, 1


class _Sigaction(ctypes.Structure):
    """glibc's struct sigaction (x86-64 Linux)."""
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_root = (ctypes.c_uint64 * 2)()                       # table address, faults sent on
# the guest memory whose host pages are write-protected (protect_writes): host
# address of its space, its end, its permission bytes, its `written` marks, and
# a word set when one is marked (see written_pages)
WRITES = (ctypes.c_uint64 * 5)()
_old = (_Sigaction * (max(SIGNALS) + 1))()            # the actions before ours, by signal
_ours = _Sigaction()
_state = {"table": None, "used": 0, "owners": {}, "handler": None, "keep": []}


def _handler_code():
    """The SA_SIGINFO handler(sig, info, ucontext): rdi, rsi, rdx."""
    a = Asm()
    sent, probe, found, restore, restored, done, other = (a.label() for _ in range(7))
    a.mov(RAX, mem(RSI, None, 1, _SI_CODE), w=32)
    a.test(RAX, RAX, w=32)
    a.jcc("le", sent)                                 # (sent by a process: not a fault)
    a.mov(R8, mem(RDX, None, 1, _UC_RIP))             # r8: the faulting pc
    a.mov_imm(R9, ctypes.addressof(_root))
    a.mov(R10, mem(R9))                               # r10: the table
    a.mov(R11, mem(R10))                              # r11: its mask
    a.imul_imm(RAX, R8, _HASH)
    a.shift("shr", RAX, 20)
    a.bind(probe)
    a.alu("and", RAX, R11)
    a.mov(RCX, RAX)
    a.shift("shl", RCX, 4)
    a.alu("cmp", mem(R10, RCX, 1, 8), R8)             # the key
    a.jcc("e", found)
    a.alu("cmp", mem(R10, RCX, 1, 8), EMPTY)
    a.jcc("e", other)                                 # (not native code's)
    a.alu("add", RAX, 1)
    a.jmp(probe)
    a.bind(found)
    a.mov(RCX, mem(R10, RCX, 1, 16))                  # its handler
    a.mov(mem(RDX, None, 1, _UC_RIP), RCX)
    a.mov(RCX, mem(R9, None, 1, 8))
    a.alu("add", RCX, 1)
    a.mov(mem(R9, None, 1, 8), RCX)
    a.ret()
    # other: a write into a page the guest may write, write-protected on the host
    # because translated code lies there (protect_writes), by code not in the
    # table (Python's, C's, a checked native store that raced the marking): the
    # page is made writable, marked written (Python drops its translations:
    # written_pages) and the write goes again; else the old action, again
    a.bind(other)
    a.alu("cmp", RDI, int(signal.SIGSEGV), w=32)
    a.jcc("ne", restore)
    a.alu("cmp", mem(RSI, None, 1, _SI_CODE), _SEGV_ACCERR, w=32)
    a.jcc("ne", restore)
    a.mov(R8, mem(RSI, None, 1, _SI_ADDR))
    a.mov_imm(R9, ctypes.addressof(WRITES))
    a.mov(RCX, mem(R9))
    a.alu("cmp", R8, RCX)
    a.jcc("b", restore)
    a.alu("cmp", R8, mem(R9, None, 1, 8))
    a.jcc("ae", restore)
    a.alu("sub", R8, RCX)
    a.shift("shr", R8, 12)                            # r8: the guest page
    a.mov(RCX, mem(R9, None, 1, 16))
    a.load(RAX, mem(RCX, R8, 1, 0), 1)
    a.test(RAX, _PAGE_W, w=32)
    a.jcc("e", restore)
    a.mov(RCX, mem(R9, None, 1, 24))
    a.mov_imm(RAX, 1)
    a.mov(mem(RCX, R8, 1, 0), RAX, w=8)               # written[page] = 1, then the flag
    a.mov(mem(R9, None, 1, 32), RAX)
    a.mov(RDI, R8)
    a.shift("shl", RDI, 12)
    a.alu("add", RDI, mem(R9))
    a.mov_imm(RSI, 4096)
    a.mov_imm(RDX, 3, w=32)                           # PROT_READ | PROT_WRITE
    a.alu("sub", RSP, 8)
    a.mov_imm(RAX, ctypes.cast(_libc.mprotect, ctypes.c_void_p).value)
    a.call(RAX)
    a.alu("add", RSP, 8)
    a.ret()
    # sent: the old action's handler takes it (a tail jump: the same arguments),
    # nothing if ignored, death if the default (below)
    a.bind(sent)
    a.imul_imm(RAX, RDI, ctypes.sizeof(_Sigaction))
    a.mov_imm(RCX, ctypes.addressof(_old))
    a.mov(RAX, mem(RCX, RAX, 1, 0))
    a.alu("cmp", RAX, 1)
    a.jcc("e", done)                                  # SIG_IGN
    a.jcc("b", restore)                               # SIG_DFL
    a.jmp(RAX)
    # the old action back, and a sent signal raised again (pending until we
    # return); a fault happens again by itself
    a.bind(restore)
    a.push(RBX)
    a.push(R12)
    a.alu("sub", RSP, 8)
    a.mov(RBX, RDI, w=32)                             # sig
    a.mov(R12, mem(RSI, None, 1, _SI_CODE), w=32)     # si_code
    a.imul_imm(RSI, RDI, ctypes.sizeof(_Sigaction))
    a.mov_imm(RAX, ctypes.addressof(_old))
    a.alu("add", RSI, RAX)
    a.alu("xor", RDX, RDX, w=32)
    a.mov_imm(RAX, ctypes.cast(_libc.sigaction, ctypes.c_void_p).value)
    a.call(RAX)
    a.test(R12, R12, w=32)
    a.jcc("g", restored)
    a.mov(RDI, RBX, w=32)
    a.mov_imm(RAX, ctypes.cast(_libc.raise_, ctypes.c_void_p).value)
    a.call(RAX)
    a.bind(restored)
    a.alu("add", RSP, 8)
    a.pop(R12)
    a.pop(RBX)
    a.bind(done)
    a.ret()
    return a.finish()


# (glibc's raise, under a name Python allows)
_libc.raise_ = _libc["raise"]


def install():
    """Make the handler SIGSEGV's and SIGBUS's (once per process; the actions
    before are kept for what is not native code's)."""
    with _lock:
        if _state["handler"] is not None:
            return
        if _state["table"] is None:
            _grow(_MIN_SIZE)
        code = ARENA.place(_handler_code())
        _ours.handler = code.addr
        _ours.flags = _SA_SIGINFO | _SA_ONSTACK
        for sig in SIGNALS:
            if _libc.sigaction(sig, ctypes.byref(_ours), ctypes.byref(_old[sig])) != 0:
                raise OSError(ctypes.get_errno(), "sigaction")
        _state["handler"] = code
        STATS.gauges["native_host_faults"] = faults_sent
    for sig in SIGNALS:
        signals.claim_host_signal(sig, take_back)


def take_back(sig):
    """pydbt changed sig's host action (the guest's sigaction, see
    runtime/signals.py): that action becomes the one for what is not native
    code's, and the handler is sig's again."""
    with _lock:
        _libc.sigaction(sig, ctypes.byref(_ours), ctypes.byref(_old[sig]))


def installed():
    return _state["handler"] is not None


def protect_writes(base, space, perm, written):
    """The guest memory at host address `base` (`space` bytes; `perm`, `written`:
    ctypes byte arrays of a byte per page) has write-protected host pages where
    translated code lies: a write there from code not in the table makes the
    page writable and marks it in `written` (see the handler).  One memory at a
    time (the process's guest memory)."""
    install()
    with _lock:
        _drain()
        WRITES[0] = WRITES[1] = 0
        WRITES[4] = 0
        WRITES[2], WRITES[3] = ctypes.addressof(perm), ctypes.addressof(written)
        WRITES[1] = base + space
        WRITES[0] = base
        _state["writes"] = (perm, written)       # (alive while the handler may read them)


def unprotect_writes(written):
    """(the memory goes: a finalizer) no write-protected pages there any more."""
    _under_lock(_unprotect, written)


def _unprotect(written):
    if _state.get("writes") is not None and _state["writes"][1] is written:
        WRITES[0] = WRITES[1] = 0
        _state["writes"] = None


def written_pages(written):
    """The pages the handler made writable since the last call (their marks in
    `written` cleared): [guest page number]."""
    if not WRITES[4]:
        return []
    WRITES[4] = 0
    raw = ctypes.string_at(written, ctypes.sizeof(written))
    pages = []
    i = raw.find(1)
    while i >= 0:
        written[i] = 0
        pages.append(i)
        i = raw.find(1, i + 1)
    return pages


def faults_sent():
    """How many host faults the handler sent on to native code's exits."""
    return _root[1]


def _slot(table, mask, pc):
    """-> index of pc's entry in table, or of the first free one on its probe"""
    i = ((pc * _HASH) & 0xFFFFFFFFFFFFFFFF) >> 20
    free = None
    while True:
        i &= mask
        key = table[1 + 2 * i]
        if key == pc:
            return i
        if key == REMOVED and free is None:
            free = i
        if key == EMPTY:
            return i if free is None else free
        i += 1


def _grow(size):
    """A new table of `size` entries with every live entry, then published."""
    table = (ctypes.c_uint64 * (1 + 2 * size))()
    table[0] = size - 1
    for pc, (handler, _) in _state["owners"].items():
        i = _slot(table, size - 1, pc)
        table[2 + 2 * i] = handler
        table[1 + 2 * i] = pc
    if _state["table"] is not None:
        _state["keep"].append(_state["table"])    # (a handler may still read it: never freed)
    _state["table"], _state["used"] = table, len(_state["owners"])
    _root[0] = ctypes.addressof(table)


def add(owner, pairs):
    """Enter [(host pc of a load that may fault, host pc of its handler)] for
    code `owner` (any object: remove() takes out only its own entries)."""
    if not pairs:
        return
    with _lock:
        _drain()
        owners = _state["owners"]
        table = _state["table"]
        if table is None or 2 * (_state["used"] + len(pairs)) > table[0] + 1:
            _grow(max(_MIN_SIZE, 1 << (4 * (len(owners) + len(pairs))).bit_length()))
            table = _state["table"]
        mask = table[0]
        for pc, handler in pairs:
            i = _slot(table, mask, pc)
            if table[1 + 2 * i] != pc:
                _state["used"] += table[1 + 2 * i] == EMPTY
            table[2 + 2 * i] = handler
            table[1 + 2 * i] = pc
            owners[pc] = (handler, owner)
    STATS.bump("native_fault_accesses", len(pairs))


def add_for(code, base, pairs):
    """Enter the (offset of a load, offset of its handler) pairs of code placed
    at base, while `code` (its owner: a tracker, an arena piece) lives."""
    if pairs:
        owner = object()
        add(owner, [(base + at, base + handler) for at, handler in pairs])
        weakref.finalize(code, remove, owner, [base + at for at, _ in pairs])


def remove(owner, pcs):
    """Take out owner's entries at pcs (its code is freed; another code's entry
    at the same pc, linked since, stays).  A finalizer calls this, which the
    cyclic GC may run anywhere, add() under the lock in this very thread
    included: the removal then waits for the lock's next holder (_under_lock)."""
    _under_lock(_remove, owner, pcs)


def _remove(owner, pcs):
    owners, table = _state["owners"], _state["table"]
    for pc in pcs:
        got = owners.get(pc)
        if got is not None and got[1] is owner:
            del owners[pc]
            i = _slot(table, table[0], pc)
            if table[1 + 2 * i] == pc:
                table[1 + 2 * i] = REMOVED


_pending = []        # (function, args) of finalizers that found _lock taken


def _under_lock(fn, *args):
    """fn(*args) under _lock: now, or, when the lock is taken (a finalizer the
    cyclic GC runs inside add() or protect_writes() in this very thread, or
    another thread's), by the lock's next holder (_drain)."""
    _pending.append((fn, args))
    if _lock.acquire(blocking=False):
        try:
            _drain()
        finally:
            _lock.release()


def _drain():
    """(under _lock) Run what finalizers left to do meanwhile."""
    while _pending:
        fn, args = _pending.pop(0)
        fn(*args)


def lookup(pc):
    """The handler the table has for host pc, or None (tests)."""
    with _lock:
        table = _state["table"]
        if table is None:
            return None
        i = _slot(table, table[0], pc)
        return table[2 + 2 * i] if table[1 + 2 * i] == pc else None
