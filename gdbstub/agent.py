"""The agent: gdb's side of one guest process, served over a channel to the
supervisor (supervisor.py owns the gdb connection; channel.py is the wire).

Threads, in each guest process that gdb debugs:
* a *reader* reads the channel: requests (gdb packets, "stop now") go to
  `inbox`, options are applied at once, the channel's end is queued as EOF;
* a *control* thread owns the process's side of the conversation.  While the
  guest runs it waits on `inbox` for a stop: a task's event (breakpoint hit,
  step done, fork, vfork done, exec, syscall entry/return: the task queues it
  and waits, outside guest code; a watched access, after its instruction), a
  "stop now" from the supervisor.  Then it
  stops the world with the exclusive section (`run_alone`: every task parked at
  a TB boundary or outside guest code = gdb's all-stop), sends the stop reply
  and serves packets (commands.py) until one resumes, detaches or kills it.

Tasks that gdb keeps stopped while others run (vCont with no action for them)
wait in `check` at the top of their exec loop; a task waiting in a blocking host
call (read, accept, wait4...) when a stop begins is kicked out of it and waits
in `syscall_held` until gdb resumes it, then makes the call again (a ptrace
stop's transparent restart: nothing is read while gdb looks).  A task stepping
(`s`, or `r` while its pc stays in a range: gdbserver's range stepping) runs
one instruction at a time and is reported when the step or the range ends.  Events that arrive while
stopped are reported after a resume that lets their task run (a breakpoint hit
whose breakpoint gdb removed meanwhile is dropped: the task runs the
instruction again).

Life cycle hooks, called by the process (runtime/process.py, syscalls.py):
* fork/vfork: `before_fork` makes a socketpair for the child when gdb wants fork
  events; the child (`after_fork_child`) starts a fresh agent on one end,
  stopped at the fork return; the parent (`forked`) reports
  `T05fork:p<C>.<C>;thread:...` with the other end attached, which the
  supervisor adopts; after a vfork the parent reports `vforkdone` once the child
  exec'd or exited.  Without fork events the child is not debugged.
* exec: breakpoints are gone; `T05exec:<hex path>;` is reported.
* exit / death by a signal: `W..`/`X..` is sent at once and the process ends
  without waiting for gdb (its parent's wait4 is never held up).
* syscalls, while gdb catches them (QCatchSyscalls): entry and return stops.
* signals: each one about to act on a task (a handler, a default action, a
  fault) stops first, unless QPassSignals lets it through; the resume says
  whether it goes on (`C<sig>`, maybe another one) or is discarded (`c`).
Detaching (gdb's `D`, or the supervisor going away) lets the guest run free; a
thread stopped by a signal then gets it if gdb lets the program see it
(QProgramSignals; without it, all but SIGTRAP and SIGINT, as gdbserver).
"""
import errno
import os
import queue
import signal
import socket
import sys
import threading

from .channel import Channel
from .commands import Session, Resume
from .gdbsignals import to_gdb
from .target import Target

EOF_ = "eof"
STOP = "stop"


class _Event:
    def __init__(self, kind, task=None, value=0, reason=None, fd=None, info=None):
        self.kind, self.task, self.value, self.reason, self.fd = kind, task, value, reason, fd
        self.info = info                 # the stop's siginfo fields (qXfer:siginfo)
        self.done = threading.Event()


# si_code of the SIGTRAP that a stop of this kind is (as ptrace shows it); else SI_USER
_TRAP_CODES = {"break": 1, "step": 2, "watch": 4}     # TRAP_BRKPT, TRAP_TRACE, TRAP_HWBKPT


class Agent:
    def __init__(self, proc, fd):
        self.proc = proc
        self.target = Target(proc)
        self.session = Session(self.target)
        self.events = set()              # fork, vfork, exec: what gdb wants reported
        self.sig_stops = {}              # tid -> [its signal, what gdb said to deliver]
        self._fresh(fd)

    def _fresh(self, fd):
        """New channel, locks, queues (at start and in a forked child)."""
        self.fd = fd
        self.chan = Channel(socket.socket(fileno=fd))
        self.inbox = queue.Queue()
        self.active = True               # False once gdb detached or went away
        self.held = set()
        self.hold = threading.Condition()
        self.in_stop = False             # gdb has the process stopped (blocked host calls wait)
        self.deferred = []
        self.started = threading.Event()     # gdb resumed the first stop
        self.serving = threading.Event()     # the first stop is on
        self.exiting = False

    def start(self, wait="resume"):
        """Start stopped; return once gdb resumed us (wait="resume") or once the
        stop is on (wait="stopped": the caller's task then parks at enter)."""
        threading.Thread(target=self._reader, name="gdb-reader", daemon=True).start()
        threading.Thread(target=self._control, name="gdb-control", daemon=True).start()
        (self.started if wait == "resume" else self.serving).wait()

    # --- the channel ----------------------------------------------------------------
    def _reader(self):
        chan = self.chan
        while True:
            msg = chan.recv()
            if msg is None:
                self.inbox.put(EOF_)
                return
            kind, data, _ = msg
            if kind == b"O":
                self._options(data)
            elif kind == b"S":
                self.inbox.put(STOP)
            elif kind == b"P":
                self.inbox.put(data)

    def _options(self, data):
        opts = dict(kv.split(b"=", 1) for kv in data.split(b",") if b"=" in kv)
        self.session.multiprocess = opts.get(b"mp") == b"1"
        self.events = {k.decode() for k in (b"fork", b"vfork", b"exec") if opts.get(k) == b"1"}

    def _reply(self, data):
        self.chan.send(b"R", data)

    # --- the control thread --------------------------------------------------------------------
    def _control(self):
        self.session.stop_reply(self.proc.leader.tid, 5)    # (gdb asks with `?`)
        self._stop(None)                 # (the supervisor knows we start stopped)
        self.started.set()
        while self.active:
            item = self._next_item()
            if item is EOF_:
                self._gone()
                return
            if item is STOP:
                s = self.session
                tid = s._tid(s.g_tid)
                self.target.stop_info = {tid: (signal.SIGINT, {"code": 0, "pid": 0, "uid": 0})}
                self._stop(s.stop_reply(tid, signal.SIGINT), b"R")
            elif isinstance(item, _Event):
                self._event(item)
            else:                        # a packet while running: gdb sends none in all-stop
                self._reply(b"E01")

    def _next_item(self):
        """A deferred event first, unless its task is one gdb keeps stopped (gdb
        must not hear of a thread it did not resume: it waits for its step)."""
        for i, ev in enumerate(self.deferred):
            if ev.task is None or ev.task.tid not in self.held:
                return self.deferred.pop(i)
        return self.inbox.get()

    def _event(self, ev):
        if ev.kind == "break" and ev.task.cpu.pc not in self.target.breakpoints:
            pass                         # removed meanwhile: the task runs it again
        elif ev.kind == "watch" and not self.target.watching(ev.reason[0], int(ev.reason[1], 16)):
            pass                         # removed meanwhile (the access is done: the task goes on)
        else:
            tid = ev.task.tid if ev.task is not None else self.proc.pid
            fd, ev.fd = ev.fd, None
            sig = ev.value if ev.kind == "signal" else signal.SIGTRAP
            info = ev.info
            if info is None:
                info = {"code": _TRAP_CODES.get(ev.kind, 0), "addr": ev.task.cpu.pc if ev.task else 0}
                if ev.kind == "watch":
                    info["addr"] = int(ev.reason[1], 16)
            self.target.stop_info = {tid: (sig, info)}
            if ev.kind == "thread_exit":     # `w<status>;<thread>` (the thread is gone)
                s = self.session
                reply = b"w%02x;" % (ev.value & 0xff) + s.thread_id(tid)
                s.stop_reply(s._tid(None), sig)     # (g/c: a thread that lives)
                self._stop(reply, b"E")
            else:
                self._stop(self.session.stop_reply(tid, sig, ev.reason), b"E", fd)
        ev.done.set()

    def _stop(self, reply, kind=b"E", fd=None):
        """All-stop: park every task, serve gdb until it resumes."""
        self.proc.exclusive.run_alone(self._serve, reply, kind, fd)

    def _serve(self, reply, kind, fd):
        s = self.session
        self._interrupt_blocked()
        if reply is not None:
            self.chan.send(b"F" if fd is not None else kind, reply, fd)
            if fd is not None:
                self._release(fd)
        self.serving.set()
        while True:
            item = self.inbox.get()
            if item is EOF_:
                self.inbox.put(EOF_)     # (the control loop sees it too)
                self._detach()
                return
            if isinstance(item, _Event):
                self.deferred.append(item)
                continue
            if item is STOP:
                self._reply(b"")         # already stopped
                continue
            out = s.handle(item)
            if isinstance(out, Resume):
                self._reply(b"OK")
                self._resume(out)
                return
            self._reply(out)

    def _resume(self, r):
        t = self.target
        if r.kill:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        if r.detach:
            self._detach()
            return
        t.stop_info = {}
        for tid, stop in self.sig_stops.items():
            stop[1] = r.signals.pop(tid, 0)     # (no signal in the resume: discarded)
        for tid, sig in r.signals.items():
            task = t.task(tid)
            if task is not None:         # (`signal SIGUSR1`: not reported again)
                task.sigpending.append((sig, {"code": 0, "pid": 0, "uid": 0, "debugger": True}))
        t.stepping = set(r.step)
        t.ranges = dict(r.ranges)
        with self.hold:
            self.held = set(r.held)
            self.in_stop = False
            self.hold.notify_all()

    def _detach(self):
        """The guest runs free from now on (gdb detached or went away)."""
        self.active = False
        self.target.clear()
        self.target.catch_syscalls = None
        for stop in self.sig_stops.values():
            stop[1] = stop[0] if self._passes_on_detach(stop[0]) else 0
        self.session.close_files()
        if self.proc.debugger is self:
            self.proc.debugger = None
        with self.hold:
            self.held = set()
            self.in_stop = False
            self.hold.notify_all()
        for ev in self.deferred:
            ev.done.set()
        self.deferred = []
        self.chan.close()
        self.proc.reserved_fds.discard(self.fd)

    def _passes_on_detach(self, sig):
        """Does a thread stopped by sig get it when gdb detaches?  Those gdb lets
        the program see (QProgramSignals); without that list, all but SIGTRAP
        and SIGINT (gdb's own), as gdbserver decides."""
        ps = self.target.program_signals
        if ps is not None:
            return sig in ps
        return sig not in (signal.SIGTRAP, signal.SIGINT)

    def _interrupt_blocked(self):
        """All-stop while a task waits in a blocking host call (read, accept,
        wait4...): as a ptrace stop, it must not go on meanwhile (a read would
        take data and write guest memory while gdb looks).  It is kicked out of
        the call (runtime/blocking.py), waits in `syscall_held` until gdb
        resumes it, then makes the call again: the syscall restarts
        transparently.  Its registers show it in the syscall (pc after the
        ecall, the arguments in place)."""
        with self.hold:
            self.in_stop = True
        blocker = self.proc.blocker
        for task in list(self.proc.tasks.values()):
            if task.blocked:
                blocker.wake(task)

    def _release(self, fd):
        self.proc.reserved_fds.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass

    def _gone(self):
        """The supervisor closed the channel: the guest runs on without gdb."""
        self._detach()
        while True:                      # release tasks still waiting on an event
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Event):
                item.done.set()

    # --- hooks for the exec loop (a task's own thread) -------------------------------------------
    def check(self, task):
        """At the top of a task's loop: wait while gdb keeps this task stopped."""
        excl = self.proc.exclusive
        while self.active and task.tid in self.held:
            excl.leave()
            try:
                with self.hold:
                    while self.active and task.tid in self.held:
                        self.hold.wait()
            finally:
                excl.enter()         # (may wait for a new stop, which may hold it again)
        t = self.target
        if t.thread_events and task.tid not in t.known_tids and self.active:
            t.known_tids.add(task.tid)       # a new thread, before its first instruction
            self._report(_Event("create", task, reason="create"), in_guest=True)
        if task.sigpending:          # one gdb sent (`signal SIGUSR1`): it acts before anything runs
            self.proc.signals.deliver_pending(task.cpu)

    def stepping(self, task):
        return task.tid in self.target.stepping

    def holds(self, task):
        """Does gdb have this task stopped (the process stopped, or the task kept)?"""
        return self.active and (self.in_stop or task.tid in self.held)

    def syscall_held(self, task):
        """Before a blocking host call (runtime/blocking.py): wait while gdb has
        the task stopped."""
        if not self.holds(task):
            return
        with self.hold:
            while self.holds(task) and not task.killed:    # (an execve ends it: TaskExit after)
                self.hold.wait(0.5)

    def breakpoint_hit(self, task, pc):
        """A TB stopped before a breakpoint at pc: True if it is gdb's (reported)."""
        reason = self.target.stop_reason(pc)
        if reason is None or not self.active:
            return False
        self._report(_Event("break", task, reason=reason), in_guest=True)
        return True

    @property
    def watch_before(self):
        """Does gdb want watch stops before the access (it steps over it itself)?"""
        return getattr(self.target.desc, "watch_stops_before", False)

    def watch_hit(self, task, kind, addr):
        """The task's instruction accesses (or, after `watch_before` is False, just
        accessed) a watched address (kind "watch", "rwatch" or "awatch"): reported
        as a stop (a step ends there too)."""
        self.target.stepping.discard(task.tid)
        self.target.ranges.pop(task.tid, None)
        if not self.active:
            return False
        self._report(_Event("watch", task, reason=(kind, b"%x" % addr)), in_guest=True)
        return True

    def step_done(self, task):
        """One instruction stepped: the stop, unless the task range-steps and its
        pc is still in the range (vCont;r: it steps on, gdb hears nothing; a
        breakpoint met in the range stops it, as its trap would)."""
        t = self.target
        span = t.ranges.get(task.tid)
        pc = task.cpu.pc
        if span is not None and span[0] <= pc < span[1] and self.active:
            if pc not in t.breakpoints:
                return
            t.ranges.pop(task.tid, None)        # (a breakpoint in the range: its stop, as a trap's)
            t.stepping.discard(task.tid)
            self._report(_Event("break", task, reason=t.stop_reason(pc)), in_guest=True)
            return
        t.ranges.pop(task.tid, None)
        t.stepping.discard(task.tid)
        if self.active:
            self._report(_Event("step", task), in_guest=True)

    def signal_stop(self, task, sig, info):
        """A signal is about to act on task (its handler, its default, or a fault):
        gdb sees it first, unless QPassSignals lets it through.  Returns the
        signal to go on with (0: gdb discarded it)."""
        if not self.active or info.get("debugger") or sig == signal.SIGKILL or \
                sig in self.target.pass_signals or to_gdb(sig) is None:
            return sig
        stop = self.sig_stops[task.tid] = [sig, sig]
        try:
            self._report(_Event("signal", task, value=sig, info=info), in_guest=True)
        finally:
            self.sig_stops.pop(task.tid, None)
        return stop[1]

    def _report(self, ev, in_guest=False):
        """Queue ev for the control thread and wait until gdb lets the guest go on
        (a task waits outside guest code, so the all-stop can happen)."""
        if not self.active:
            ev.done.set()
            return
        excl = self.proc.exclusive
        if in_guest:
            excl.leave()
        try:
            self.inbox.put(ev)
            while not ev.done.wait(0.5):
                if not self.active:
                    break
        finally:
            if in_guest:
                excl.enter()

    # --- hooks for the process's life cycle (a task's thread, inside a syscall) -------------------
    def exited(self, status):
        if not self.exiting and self.active:
            self.exiting = True
            self.chan.send(b"E", self.session.exit_reply(status))

    def thread_exited(self, task, status):
        """A thread (not the last) ended: gdb hears of it if it asked (QThreadEvents)."""
        t = self.target
        t.known_tids.discard(task.tid)
        if self.active and t.thread_events and not self.exiting:
            self._report(_Event("thread_exit", task, value=status))

    def died(self, sig):
        if not self.exiting and self.active:
            self.exiting = True
            self.chan.send(b"E", self.session.signal_reply(sig))

    def before_fork(self, vfork):
        """A channel for the child when gdb follows forks (None: the child runs free)."""
        if not self.active or ("vfork" if vfork else "fork") not in self.events:
            return None
        from pydbt.runtime import ownfds
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return ownfds.hide(self.proc, a.detach()), ownfds.hide(self.proc, b.detach())

    def after_fork_child(self, pair):
        """In the child, at the fork return: a fresh agent, stopped (pair given),
        or the child is not debugged."""
        from pydbt.runtime import ownfds
        proc = self.proc
        mine = [pair[0]] if pair else []
        if self.active:                  # (detached: its channel is closed already)
            self.chan.sock.detach()      # (the number is closed here, once)
            mine.append(self.fd)
        for fd in mine:
            try:
                ownfds.release(proc, fd)
            except OSError:
                pass
        self.session.close_files()
        if pair is None or not self.active:
            if pair:
                ownfds.release(proc, pair[1])
            self.active = False
            self.target.clear()
            self.target.catch_syscalls = None
            self.held, self.deferred = set(), []
            proc.debugger = None
            return
        self._fresh(pair[1])
        self.target.stepping = set()
        proc.arch.set_syscall_result(proc.cpu, 0)     # (as the kernel's copy of the registers)
        self.start(wait="stopped")

    def forked(self, pid, pair, vfork):
        """In the parent: report the fork, the child's channel attached."""
        if pair is None:
            return
        from pydbt.runtime import ownfds
        mine, theirs = pair
        ownfds.release(self.proc, theirs)
        if not self.active:
            ownfds.release(self.proc, mine)
            return
        name = "vfork" if vfork else "fork"
        ev = _Event(name, self.proc.task, reason=(name, self.session.thread_id(pid, pid)), fd=mine)
        self._report(ev)
        if ev.fd is not None:            # (never sent: gdb went away meanwhile)
            self._release(ev.fd)

    def vfork_done(self):
        if self.active and "vfork" in self.events:
            self._report(_Event("vforkdone", self.proc.task, reason="vforkdone"))

    def exec_done(self):
        """After a successful execve: the old image's breakpoints are gone."""
        self.target.clear()
        if self.active and "exec" in self.events:
            self._report(_Event("exec", self.proc.task, reason=("exec", self.target.exe_path().hex().encode())))

    def syscall(self, proc, nr, args, run):
        """Run one syscall with entry and return stops (gdb catches it)."""
        caught = self.target.catches(nr)
        if caught:
            self._report(_Event("syscall", proc.task, reason=("syscall_entry", b"%x" % nr)))
        ret = run(proc, nr, args, True)
        if caught and self.active and self.target.catches(nr):
            if ret is not None and ret != -errno.EINTR:      # (an interrupted one may restart)
                proc.arch.set_syscall_result(proc.cpu, ret)
            self._report(_Event("syscall", proc.task, reason=("syscall_return", b"%x" % nr)))
        return ret
