"""Guest signals: dispositions, masks, delivery at TB boundaries, death by signal.

Synchronous faults (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP) come from the exec
loop; asynchronous ones (a host signal for which the guest installed a handler,
or kill() of itself) are queued by a host handler and delivered between TBs.
Delivery asks the frontend to build its signal frame (`arch.setup_frame`) and
`rt_sigreturn` asks it to read the frame back (`arch.restore_frame`).

A guest that dies of a signal makes pydbt die of the same signal, as QEMU does:
one line on stderr, no core file, so the parent sees the real wait status.
"""
import os
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
        except (OSError, ValueError):
            pass

    def _host_handler(self, signo, frame):
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
                if sig in _DEFAULT_IGNORE or sig in _DEFAULT_STOP:
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

    # --- death ------------------------------------------------------------------------------
    def die(self, sig, pc):
        """End pydbt by the guest's fatal signal, as QEMU does."""
        try:
            name = signal.Signals(sig).name
            desc = signal.strsignal(sig)
        except ValueError:
            name, desc = f"signal {sig}", ""
        sys.stdout.flush()
        os.write(2, f"pydbt: uncaught target signal {sig} ({desc}) at pc 0x{pc:x} - {name}\n".encode())
        self.proc.report_stats()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGKILL)      # a signal whose default does not kill
