"""Guest signals: dispositions, masks, delivery at TB boundaries, death by signal.

Synchronous faults (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP) come from the exec
loop; asynchronous ones (a host signal for which the guest installed a handler,
or kill() of itself) are queued by a host handler and delivered between TBs.
Delivery asks the frontend to build its signal frame (`arch.setup_frame`) and
`rt_sigreturn` asks it to read the frame back (`arch.restore_frame`).

A guest that dies of a signal makes pydbt die of the same signal, as QEMU does:
one line on stderr, no core file, so the parent sees the real wait status.  A
stop signal with its default action stops pydbt itself the same way (the kernel
then decides: stop, or discard in an orphaned process group), and SIGCONT
resumes it.

Host faults: guest memory accesses that could raise a real host SIGBUS (pages of
shared file mappings) go through a checked path that turns them into a guest
SIGBUS (see memory.py).  As a safety net, the host handler pydbt installs for a
synchronous signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) when the guest
handles it is one-shot (SA_RESETHAND, re-armed each time it runs): CPython's C
handler only sets a flag and returns, so a real host fault would re-execute the
faulting host instruction forever; one-shot, the second fault kills pydbt with
that signal's default action instead of spinning.
"""
import ctypes
import os
import platform
import resource
import signal
import sys

from pydbt.errors import GuestFault
from pydbt.stats import STATS

SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO = 0x4
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
NSIG = 64

_DEFAULT_IGNORE = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT}
_DEFAULT_STOP = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}
# host signals pydbt must keep for itself (none yet; the gdbstub will want SIGINT handling)
_HOST_OWNED = set()
# signals a host fault raises: their host handlers are one-shot (see above)
_SYNCHRONOUS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
_SA_NODEFER, _SA_RESETHAND = 0x40000000, 0x80000000


class _HostSigaction(ctypes.Structure):
    """glibc's struct sigaction (Linux: x86_64, aarch64, riscv64)."""
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
# the raw rt_sigaction syscall of the host, for the signals glibc keeps to itself (32, 33)
_NR_RT_SIGACTION = {"x86_64": 13, "aarch64": 134, "riscv64": 134}.get(platform.machine())


def host_default(sig):
    """Give host signal sig its default action (also 32 and 33, which glibc's
    sigaction() refuses: its own SIGCANCEL and SIGSETXID)."""
    if sig in _UNCATCHABLE:
        return
    try:
        signal.signal(sig, signal.SIG_DFL)
        return
    except (OSError, ValueError):
        pass
    if _NR_RT_SIGACTION is not None:
        act = (ctypes.c_ulong * 4)()        # kernel struct sigaction: SIG_DFL, no flags
        _libc.syscall(_NR_RT_SIGACTION, sig, act, None, 8)


def _one_shot(sig, handler_ptr):
    """Install the C handler at handler_ptr for sig as SA_RESETHAND | SA_NODEFER."""
    act = _HostSigaction()
    if _libc.sigaction(sig, None, ctypes.byref(act)) != 0:
        return
    act.handler = handler_ptr
    act.flags |= _SA_RESETHAND | _SA_NODEFER
    _libc.sigaction(sig, ctypes.byref(act), None)


def _c_handler(sig):
    act = _HostSigaction()
    if _libc.sigaction(sig, None, ctypes.byref(act)) != 0:
        return None
    return act.handler


class Action:
    __slots__ = ("handler", "flags", "mask", "restorer")

    def __init__(self, handler=SIG_DFL, flags=0, mask=0, restorer=0):
        self.handler, self.flags, self.mask, self.restorer = handler, flags, mask, restorer


def _bit(sig):
    return 1 << (sig - 1)


class Signals:
    def __init__(self, proc):
        self.proc = proc
        self.actions = [Action() for _ in range(NSIG + 1)]
        self.mask = 0
        self.pending = []              # [(signo, siginfo fields)] to look at at the next TB boundary
        self.held = []                 # pending but blocked by the mask
        self.altstack = (0, 2, 0)      # ss_sp, ss_flags (SS_DISABLE), ss_size
        self._c_handlers = {}          # synchronous signal -> CPython's C handler (to re-arm)

    # --- dispositions ------------------------------------------------------------------
    def set_action(self, sig, act):
        self.actions[sig] = act
        if sig in _UNCATCHABLE or sig in _HOST_OWNED:
            return
        try:
            if act.handler == SIG_IGN:
                signal.signal(sig, signal.SIG_IGN)
            elif act.handler == SIG_DFL:
                signal.signal(sig, signal.SIG_DFL)
            else:
                signal.signal(sig, self._host_handler)
                if sig in _SYNCHRONOUS:
                    ptr = self._c_handlers.get(sig) or _c_handler(sig)
                    if ptr:
                        self._c_handlers[sig] = ptr
                        _one_shot(sig, ptr)
        except (OSError, ValueError):
            pass                       # (32 and 33: glibc's own; the guest's action is still emulated)

    def _host_handler(self, signo, frame):
        ptr = self._c_handlers.get(signo)
        if ptr:                        # the kernel reset it (SA_RESETHAND): arm it again
            _one_shot(signo, ptr)
        self.pending.append((signo, {"code": 0, "pid": 0, "uid": 0}))

    def queue(self, sig, code=0, pid=0, uid=0):
        self.pending.append((sig, {"code": code, "pid": pid, "uid": uid}))

    # --- delivery ------------------------------------------------------------------------
    def fault(self, cpu, e: GuestFault):
        """A synchronous fault at cpu.pc: run the guest's handler or die."""
        sig = e.signo
        act = self.actions[sig]
        if act.handler in (SIG_DFL, SIG_IGN) or self.mask & _bit(sig):
            self.die(sig, cpu.pc)
        self._deliver(cpu, sig, {"code": e.code, "addr": e.addr})

    def deliver_pending(self, cpu):
        while self.pending:
            sig, info = self.pending.pop(0)
            if self.mask & _bit(sig) and sig not in _UNCATCHABLE:
                self.held.append((sig, info))
                continue
            act = self.actions[sig]
            if act.handler == SIG_IGN:
                continue
            if act.handler == SIG_DFL:
                if sig in _DEFAULT_STOP:
                    self.stop(sig)
                    continue
                if sig in _DEFAULT_IGNORE:
                    continue
                self.die(sig, cpu.pc)
            self._deliver(cpu, sig, info)

    def _deliver(self, cpu, sig, info):
        act = self.actions[sig]
        arch = self.proc.arch
        sp = None
        ss_sp, ss_flags, ss_size = self.altstack
        if act.flags & SA_ONSTACK and not ss_flags & 2 and ss_size:
            cur = arch.stack_pointer(cpu)
            if not (ss_sp <= cur < ss_sp + ss_size):
                sp = ss_sp + ss_size
        try:
            arch.setup_frame(self.proc, cpu, sig, info, act, self.mask, sp)
        except GuestFault:
            self.die(signal.SIGSEGV, cpu.pc)
        STATS.signals_delivered += 1
        self.mask |= act.mask
        if not act.flags & SA_NODEFER:
            self.mask |= _bit(sig)
        if act.flags & SA_RESETHAND:
            self.set_action(sig, Action())

    def set_mask(self, mask):
        self.mask = mask & ~(_bit(signal.SIGKILL) | _bit(signal.SIGSTOP))
        if self.held:                  # look again at what the old mask held back
            self.pending.extend(self.held)
            self.held.clear()

    def sigreturn(self, cpu):
        """rt_sigreturn: restore the state saved by setup_frame."""
        self.set_mask(self.proc.arch.restore_frame(self.proc, cpu))

    # --- stop and death ------------------------------------------------------------------
    def stop(self, sig):
        """A stop signal's default action: stop pydbt itself by the same signal,
        so the parent's waitpid(WUNTRACED) sees it; returns once continued."""
        sys.stdout.flush()
        host_default(sig)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)

    def die(self, sig, pc):
        """End pydbt by the guest's fatal signal, as QEMU does."""
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        desc = signal.strsignal(sig) if 1 <= sig < signal.NSIG else None
        desc = desc or (f"Real-time signal {sig - 32}" if sig >= 32 else f"Unknown signal {sig}")
        sys.stdout.flush()
        os.write(2, f"pydbt: uncaught target signal {sig} ({desc}) at pc 0x{pc:x} - {name}\n".encode())
        self.proc.report_stats()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        host_default(sig)
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGKILL)      # a signal whose default does not kill
