"""Exceptions that cross the translator's layers.

Guest-visible events (faults, illegal instructions, syscalls, exits) are Python
exceptions raised from inside a TB or a helper and caught by the exec loop,
which turns them into guest signals or runtime calls.  Errors in pydbt's own
input (bad file, bad option) are `UserError`: one line on stderr, exit 1.
"""
import signal


class UserError(Exception):
    """Bad input to pydbt itself: reported as one line, never a traceback."""


class GuestException(Exception):
    """Something the guest did that ends the current TB and goes to the runtime."""


class GuestFault(GuestException):
    """A synchronous fault: delivered to the guest as a signal.

    `pc` is the guest pc of the faulting instruction; the exec loop fills it in
    when the raiser does not know it (memory accesses do not)."""

    def __init__(self, signo, code=0, addr=0, pc=None):
        super().__init__(signo, code, addr)
        self.signo = signo
        self.code = code
        self.addr = addr
        self.pc = pc

    def __str__(self):
        return f"{signal.Signals(self.signo).name} addr=0x{self.addr:x}"


# si_code values used for synthesised faults
SEGV_MAPERR = 1
SEGV_ACCERR = 2
ILL_ILLOPC = 1
BUS_ADRALN = 1
TRAP_BRKPT = 1
TRAP_HWBKPT = 4


def segv(addr, mapped):
    return GuestFault(signal.SIGSEGV, SEGV_ACCERR if mapped else SEGV_MAPERR, addr)


def illegal(pc=None):
    return GuestFault(signal.SIGILL, ILL_ILLOPC, pc or 0, pc)


class Syscall(GuestException):
    """The guest executed its syscall instruction; pc is that instruction's address,
    `next_pc` where execution resumes."""

    def __init__(self, pc, next_pc):
        super().__init__(pc)
        self.pc = pc
        self.next_pc = next_pc


class Breakpoint(GuestException):
    def __init__(self, pc):
        super().__init__(pc)
        self.pc = pc


def raise_exception(kind, pc, next_pc):
    """What the IR's `exception` op of `kind` does (every backend's)."""
    if kind == "syscall":
        raise Syscall(pc, next_pc)
    if kind == "breakpoint":
        raise Breakpoint(pc)
    if kind == "illegal":
        raise illegal(pc)
    raise ValueError(f"unknown exception kind {kind}")


class Watchpoint(GuestFault):
    """A guest instruction is about to access a range gdb watches (raised by the
    checked memory path before the access).  A GuestFault, so every backend
    gives it the pc of that instruction and the state before it; the exec loop
    runs the instruction again with the checks off, then reports the stop.
    `kind`: "watch" (a write), "rwatch" (a read) or "awatch"; `addr`: the watched
    address accessed."""

    def __init__(self, kind, addr):
        super().__init__(signal.SIGTRAP, TRAP_HWBKPT, addr)
        self.kind = kind


class GuestExit(Exception):
    """exit/exit_group: ends the exec loop with a status."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class TaskExit(BaseException):
    """Ends the calling task's exec loop: its thread exited, or another task's
    execve or exit_group ended it.  (BaseException: no handler of guest errors
    may swallow it.)"""
