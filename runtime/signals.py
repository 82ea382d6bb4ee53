"""Guest signals: dispositions, masks, delivery at TB boundaries, death by signal.

Synchronous faults (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP) come from the exec
loop; asynchronous ones (kill() of itself, or a host signal from another
process: taken with its siginfo by hostsig's native recorder on whichever thread
the kernel picks, for the process or, sent by tgkill, for that thread) are
queued and delivered between TBs.
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
import resource
import signal
import struct
import sys
import threading

from pydbt.errors import GuestFault
from pydbt.stats import STATS
from . import blocking, hostsig
from .blocking import ASYNC, KICK, block_async

SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO = 0x4
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
NSIG = 64
SI_USER, SI_TKILL = 0, -6
# syscalls Linux ends with EINTR whatever SA_RESTART says (signal(7))
NEVER_RESTART = {"rt_sigsuspend", "rt_sigtimedwait", "ppoll", "pselect6", "epoll_pwait", "epoll_pwait2",
                 "nanosleep", "clock_nanosleep", "io_getevents", "io_pgetevents", "semtimedop", "semop",
                 "msgrcv", "msgsnd", "mq_timedreceive", "mq_timedsend", "inotify_read", "pause"}

_DEFAULT_IGNORE = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT}
_DEFAULT_STOP = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}
# host signals pydbt keeps for itself: the kick that interrupts a blocked host call (blocking.py)
_HOST_OWNED = {signal.SIGRTMAX}
# signals a host fault raises: their host handlers are one-shot (see above)
_SYNCHRONOUS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
_SA_NODEFER, _SA_RESETHAND = 0x40000000, 0x80000000


class _HostSigaction(ctypes.Structure):
    """glibc's struct sigaction (Linux: x86_64, aarch64, riscv64)."""
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
# the raw rt_sigaction syscall of the host, for the signals glibc keeps to itself (32, 33)
_NR_RT_SIGACTION = {"x86_64": 13, "aarch64": 134, "riscv64": 134}.get(os.uname().machine)


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


# host signals another part of pydbt handles first (SIGSEGV and SIGBUS: native
# code's fault handler, backends/faults.py): sig -> fn(sig), called after the
# host action set here for the guest, which fn makes its fallback
_claims = {}


def claim_host_signal(sig, fn):
    _claims[sig] = fn


def _reclaim(sig):
    fn = _claims.get(sig)
    if fn is not None:
        fn(sig)


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
    """The process's signal dispositions and process-directed pending signals; a
    task's own signal state (mask, held signals, alternate stack, thread-directed
    signals) is on its Task, reached here through `proc.task` (the caller's)."""

    def __init__(self, proc):
        self.proc = proc
        self.actions = [Action() for _ in range(NSIG + 1)]
        # The attention list: every TB and trampoline tests it ("while not pending").
        # Signals to deliver ((signo, info); info["tid"] for one task), and the
        # exclusive section's marker, make the tasks leave their loops.
        self.pending = []
        self.lock = threading.RLock()  # (reentrant: a Python signal handler may run under it)
        self._c_handlers = {}          # synchronous signal -> CPython's C handler (to re-arm)
        self.signalfds = []            # signalfd.SignalFd objects (made readable by _notify)
        self._host_thread = False      # start_host_thread ran
        self.recorder = None           # hostsig.Recorder: every thread takes host signals

    # the calling task's signal state
    @property
    def mask(self):
        return self.proc.task.sigmask

    @mask.setter
    def mask(self, value):
        self.proc.task.sigmask = value

    @property
    def held(self):
        return self.proc.task.held

    @property
    def altstack(self):
        return self.proc.task.altstack

    @altstack.setter
    def altstack(self, value):
        self.proc.task.altstack = value

    def after_fork(self):
        self.lock = threading.RLock()
        if self._host_thread:          # (the mask is inherited; the thread is not)
            self._start_reader()
        self.pending[:] = [e for e in self.pending if type(e) is tuple and "tid" not in e[1]]

    def reset_on_exec(self):
        """execve: handled signals go back to their default; ignored ones stay ignored."""
        for sig, act in enumerate(self.actions):
            if sig and act.handler not in (SIG_DFL, SIG_IGN):
                self.set_action(sig, Action())

    # --- dispositions ------------------------------------------------------------------
    def set_action(self, sig, act):
        self.actions[sig] = act
        if sig in _UNCATCHABLE or sig in _HOST_OWNED:
            return
        if self.recorder is not None and sig in self.recorder.signals:
            return                     # (recorded whatever the guest's action: see _from_host)
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
        _reclaim(sig)

    def _host_handler(self, signo, frame):
        ptr = self._c_handlers.get(signo)
        if ptr:                        # the kernel reset it (SA_RESETHAND): arm it again
            _one_shot(signo, ptr)
            _reclaim(signo)
        self.pending.append((signo, {"code": 0, "pid": 0, "uid": 0}))
        self._notify(signo)
        self._kick(signo)

    # --- signals from outside: with their siginfo, for the process or one thread ---------
    def start_host_thread(self):
        """At the start of the run (main thread, before any guest thread): take
        the asynchronous host signals with their siginfo (si_pid, si_uid,
        si_code, si_value), so a guest signal sent from another process keeps
        it, and never depend on what the main thread is doing.  Where hostsig
        has a native recorder: it is every asynchronous signal's host handler,
        no thread blocks them, and one thread reads the records (a signal sent
        to one guest thread reaches it).  Elsewhere every thread blocks them
        (threads inherit the mask) and one thread takes them with sigwaitinfo
        (process-directed ones only).  Not done when a Process is only built
        (unit tests: the mask would reach every subprocess)."""
        self.recorder = hostsig.start(self.proc, ASYNC, KICK)
        if self.recorder is not None:
            blocking.recording()
        block_async()
        self._host_thread = True
        self._start_reader()

    def _start_reader(self):
        target = self._read_recorded if self.recorder is not None else self._take_host_signals
        threading.Thread(target=target, name="pydbt-signals", daemon=True).start()

    def _read_recorded(self):
        while True:
            for tid, sig, raw in self.recorder.read():
                self._from_host(sig, raw, tid)

    def _take_host_signals(self):
        block_async()
        sigset = (ctypes.c_ulong * 16)()
        _libc.sigemptyset(sigset)
        for sig in ASYNC:
            _libc.sigaddset(sigset, sig)
        info = ctypes.create_string_buffer(128)
        while True:
            sig = _libc.sigwaitinfo(sigset, info)
            if sig > 0:
                self._from_host(sig, info.raw)

    def _from_host(self, sig, raw, host_tid=None):
        """A host signal for the process, or for the guest thread on host thread
        host_tid if tkill/tgkill sent it (SI_TKILL): the guest's disposition decides."""
        code = struct.unpack_from("<i", raw, 8)[0]
        pid, uid, value = struct.unpack_from("<iIQ", raw, 16)
        if code == SI_USER and pid == os.getpid():
            return                     # the guest's kill of its own group: queued by sys_kill
        act = self.actions[sig]
        if act.handler == SIG_IGN:
            return
        tid = None
        if code == SI_TKILL and host_tid is not None and self.proc.task_by_tid(host_tid) is not None:
            tid = host_tid             # (guest tids are host tids)
        tasks = list(self.proc.tasks.values())
        if tid is not None:
            tasks = [t for t in tasks if t.tid == tid]
        if act.handler == SIG_DFL and not any(t.sigwait & _bit(sig) for t in tasks) \
                and any(not t.sigmask & _bit(sig) for t in tasks):
            if sig in _DEFAULT_IGNORE:
                return
            if sig in _DEFAULT_STOP:
                self.stop(sig)
                return
            self.die(sig, 0, quiet=True)     # (as the host kernel would: at once, without a message)
        self.queue(sig, code=code, pid=pid, uid=uid, value=value, tid=tid)

    def _kick(self, sig):
        """A process-directed signal: if no task that accepts it is running guest
        code, end the futex wait of one that accepts it (-EINTR), so it is delivered
        now, as Linux wakes a thread for it."""
        tasks = list(self.proc.tasks.values())
        takers = [t for t in tasks if not t.sigmask & _bit(sig)]
        if takers:
            self._wake(takers[0])

    def _wake(self, task):
        """End the task's wait (a futex wait answers -EINTR; sigsuspend looks again;
        a blocking host call is interrupted, see blocking.py)."""
        self.proc.futexes.interrupt(task)
        task.wake.set()
        self.proc.blocker.wake(task)

    def queue(self, sig, code=0, pid=0, uid=0, tid=None, value=None):
        """A signal for the process, or (tid) for one of its tasks.  A standard
        signal (below 32) already pending for the same target is not queued
        twice, as the kernel's legacy_queue; real-time ones are.  `value`: the
        siginfo word at +24 (si_value of sigqueue and timers)."""
        info = {"code": code, "pid": pid, "uid": uid}
        if value is not None:
            info["value"] = value
        if tid is not None:
            info["tid"] = tid
        if sig < 32 and self._is_pending(sig, tid):
            return
        self.pending.append((sig, info))
        self._notify(sig)
        if tid is not None:
            task = self.proc.task_by_tid(tid)
            if task is not None and task is not getattr(self.proc._tls, "task", None):
                self._wake(task)
        else:
            self._kick(sig)

    def _is_pending(self, sig, tid):
        with self.lock:
            lists = [self.pending] + [x for t in list(self.proc.tasks.values()) for x in (t.sigpending, t.held)]
            return any(type(e) is tuple and e[0] == sig and e[1].get("tid") == tid for lst in lists for e in lst)

    # --- waiting for signals (sigtimedwait, signalfd, sigpending) ---------------------
    def pending_set(self, task):
        """The signals pending for task (directed at it or at the process)."""
        m = 0
        with self.lock:
            for e in self.pending:
                if type(e) is tuple and e[1].get("tid") in (None, task.tid):
                    m |= _bit(e[0])
            for t in list(self.proc.tasks.values()):
                for sig, info in t.sigpending + t.held:
                    if t is task or info.get("tid") is None:
                        m |= _bit(sig)
        return m

    def dequeue(self, task, sigset):
        """Take one signal of `sigset` pending for task (the lowest-numbered, as
        the kernel's next_signal): (signo, info), or None."""
        with self.lock:
            found = []
            for e in self.pending:
                if type(e) is tuple and e[1].get("tid") in (None, task.tid) and sigset & _bit(e[0]):
                    found.append((e, self.pending))
            for t in list(self.proc.tasks.values()):
                for lst in (t.sigpending, t.held):
                    for e in lst:
                        if sigset & _bit(e[0]) and (t is task or e[1].get("tid") is None):
                            found.append((e, lst))
            if not found:
                return None
            e, lst = min(found, key=lambda f: f[0][0])
            lst.remove(e)
        self.refresh_signalfds()
        return e

    # --- signalfd: host eventfds readable while a matching signal is pending ----------
    def _notify(self, sig):
        if self.signalfds:
            for sfd in list(self.signalfds):
                if sfd.mask & _bit(sig):
                    sfd.signal()

    def refresh_signalfds(self):
        """After signals were taken: a signalfd whose signals are all gone is no longer readable."""
        if self.signalfds:
            task = self.proc.task
            m = self.pending_set(task)
            for sfd in list(self.signalfds):
                if not sfd.mask & m:
                    sfd.drain()

    # --- delivery ------------------------------------------------------------------------
    def fault(self, cpu, e: GuestFault):
        """A synchronous fault at cpu.pc: run the guest's handler or die."""
        sig = e.signo
        info = {"code": e.code, "addr": e.addr}
        if self.proc.debugger is not None:     # gdb sees it first (it may discard it, or edit its siginfo)
            sig = self.proc.debugger.signal_stop(self.proc.task, sig, info)
            if not sig:
                return
        act = self.actions[sig]
        if act.handler in (SIG_DFL, SIG_IGN) or self.mask & _bit(sig):
            self.die(sig, cpu.pc)
        self._deliver(cpu, sig, info)

    def _take(self, task):
        """Move the pending signals this task should handle to its own list: those
        directed at it, and process-directed ones it does not block (or that every
        task blocks: they wait in its held list until a mask opens)."""
        with self.lock:
            for e in list(self.pending):
                if type(e) is not tuple:
                    continue                    # (the exclusive section's marker)
                sig, info = e
                tid = info.get("tid")
                if tid is not None and tid != task.tid:
                    if self.proc.task_by_tid(tid) is None:
                        self.pending.remove(e)  # (its task is gone)
                    continue
                if tid is None and task.sigmask & _bit(sig) and sig not in _UNCATCHABLE and \
                        any(not t.sigmask & _bit(sig) for t in list(self.proc.tasks.values())):
                    continue                    # another task takes it
                self.pending.remove(e)
                task.sigpending.append(e)

    def suspend(self, mask):
        """rt_sigsuspend: wait with `mask` until a signal that is not blocked by it
        is pending for the calling task; the old mask comes back when it has been
        delivered (saved in the handler's frame) or at once if none runs."""
        task = self.proc.task
        task.saved_mask = task.sigmask
        self.set_mask(mask)
        while True:
            task.wake.clear()
            if self.interrupts(task):
                return
            task.wake.wait()           # (woken by _wake: race-free, cleared before looking)

    def wait_for(self, task, sigset, deadline):
        """rt_sigtimedwait: take a signal of sigset pending for task, waiting until
        `deadline` (time.monotonic(), None: for ever); None at the deadline.  A
        signal outside the set with a handler ends the wait (OSError EINTR).
        While waiting the set is not blocked, so that a process-directed signal
        of the set picks this task (the kernel's real_blocked)."""
        import time
        old = task.sigmask
        task.sigmask = old & ~sigset
        task.sigwait = sigset
        try:
            while True:
                task.wake.clear()
                e = self.dequeue(task, sigset)
                if e is not None:
                    return e
                if self.interrupts(task, skip=sigset):
                    raise OSError(4, "Interrupted system call")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                task.wake.wait(left)
        finally:
            task.sigmask = old
            task.sigwait = 0

    def interrupts(self, task, skip=0):
        """For a task blocked in a syscall: whether a signal now pending for it
        and not blocked by its mask has a handler to run (the call ends with
        EINTR).  Others are taken here, as the kernel's get_signal does while the
        call is interrupted: a fatal default kills the process, a stop default
        stops it (the call goes on when continued), an ignored one is dropped.
        Signals in `skip` are left alone (those sigtimedwait waits for)."""
        self._take(task)
        handler = False
        for e in list(task.sigpending):
            sig = e[0]
            if (task.sigmask | skip) & _bit(sig) and sig not in _UNCATCHABLE:
                continue
            act = self.actions[sig]
            if act.handler not in (SIG_DFL, SIG_IGN):
                handler = True
                continue
            task.sigpending.remove(e)
            if act.handler == SIG_IGN or sig in _DEFAULT_IGNORE:
                continue
            if sig in _DEFAULT_STOP:
                self.stop(sig)
                continue
            self.die(sig, task.cpu.pc)
        return handler

    def restarts(self, name):
        """A syscall answered -EINTR: whether Linux restarts it (ERESTARTSYS) once
        the signals now pending for the calling task are handled: yes unless it is
        one that never restarts, or a handler without SA_RESTART runs."""
        task = self.proc.task
        if task.not_started:           # (the signal came before the call did anything)
            task.not_started = task.no_restart = False
            return True
        if task.no_restart:            # (the handler said so: a socket call with a timeout, ...)
            task.no_restart = False
            return False
        if name in NEVER_RESTART:
            return False
        self._take(task)
        for sig, _ in task.sigpending:
            act = self.actions[sig]
            if (not task.sigmask & _bit(sig)) and act.handler not in (SIG_DFL, SIG_IGN) \
                    and not act.flags & SA_RESTART:
                return False
        return True

    def _acts(self, sig):
        """Whether delivering sig does anything (a handler, or a default that is not to ignore)."""
        h = self.actions[sig].handler
        return h != SIG_IGN and not (h == SIG_DFL and sig in _DEFAULT_IGNORE)

    def deliver_pending(self, cpu):
        task = self.proc.task
        try:
            self._deliver_pending(cpu, task)
        finally:
            if task.saved_mask is not None:    # (sigsuspend's signal went elsewhere)
                self.set_mask(task.saved_mask)
                task.saved_mask = None

    def _deliver_pending(self, cpu, task):
        if self.pending:
            self._take(task)
        while task.sigpending:
            sig, info = task.sigpending.pop(0)
            if task.sigmask & _bit(sig) and sig not in _UNCATCHABLE:
                task.held.append((sig, info))
                continue
            if self.proc.debugger is not None:     # gdb sees it first (it may discard or change it)
                sig = self.proc.debugger.signal_stop(task, sig, info)
                if not sig:
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
            task = self.proc.task
            old = task.saved_mask if task.saved_mask is not None else task.sigmask
            task.saved_mask = None
            arch.setup_frame(self.proc, cpu, sig, info, act, old, sp)
        except GuestFault:
            self.die(signal.SIGSEGV, cpu.pc)
        STATS.signals_delivered += 1
        self.mask |= act.mask
        if not act.flags & SA_NODEFER:
            self.mask |= _bit(sig)
        if act.flags & SA_RESETHAND:
            self.set_action(sig, Action())

    def set_mask(self, mask):
        task = self.proc.task
        task.sigmask = mask & ~(_bit(signal.SIGKILL) | _bit(signal.SIGSTOP))
        if task.held:                  # look again at what the old mask held back
            task.sigpending.extend(task.held)
            task.held.clear()

    def sigreturn(self, cpu):
        """rt_sigreturn: restore the state saved by setup_frame."""
        self.set_mask(self.proc.arch.restore_frame(self.proc, cpu))

    # --- stop and death ------------------------------------------------------------------
    def stop(self, sig):
        """A stop signal's default action: stop pydbt itself by the same signal,
        so the parent's waitpid(WUNTRACED) sees it; returns once continued."""
        sys.stdout.flush()
        host_default(sig)
        old = signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        signal.pthread_kill(threading.get_ident(), sig)    # (to this thread: the signal thread must not take it)
        if sig in old:
            signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
        if self.recorder is not None and sig in self.recorder.signals:
            self.recorder.install(sig)     # (continued: the next one is recorded again)

    def die(self, sig, pc, quiet=False):
        """End pydbt by the guest's fatal signal, as QEMU does (quiet: without
        the message, as the host kernel's default action for a signal from outside)."""
        if self.proc.debugger is not None:
            self.proc.debugger.died(sig)
        if quiet:
            return self._die_now(sig)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        desc = signal.strsignal(sig) if 1 <= sig < signal.NSIG else None
        desc = desc or (f"Real-time signal {sig - 32}" if sig >= 32 else f"Unknown signal {sig}")
        sys.stdout.flush()
        os.write(2, f"pydbt: uncaught target signal {sig} ({desc}) at pc 0x{pc:x} - {name}\n".encode())
        self.proc.report_stats()
        self._die_now(sig)

    def _die_now(self, sig):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        host_default(sig)
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            signal.pthread_kill(threading.get_ident(), sig)  # (to this thread: the signal thread must not take it)
        except (OSError, ValueError):
            os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGKILL)      # a signal whose default does not kill
