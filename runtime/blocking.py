"""Interruptible blocking: a task waits in the host kernel and still sees its
guest signals at once (Process.blocking is the entry point).

The problem: every guest thread is a host thread, CPython retries a system call
that a signal interrupted (PEP 475) and runs Python signal handlers in the main
thread only, so a plain `os.read` on a secondary thread never returns EINTR and a
signal queued for that task waits until the read happens to return.

The design (a host signal to interrupt one host thread):

* The blocking host call is made so that EINTR reaches us: through ctypes
  (`abi.host_syscall` or a libc function: neither retries), never an `os.*` or
  socket method.
* pydbt sends host signal `KICK` (SIGRTMAX, 64) to its own threads.  Its host
  handler has no SA_RESTART, so a host call that the kick interrupts fails
  with EINTR.  With hostsig's recorder (x86_64 hosts) the handler is the
  recorder, which tells a kick (from this process to one of its threads) from
  a guest signal 64 sent from outside, and queues the latter.  Elsewhere it is
  CPython's with a no-op Python function, and a signal 64 from outside is lost
  (taken for a kick).  Guest signal 64 within a process is emulated anyway
  (kill/tgkill/sigqueue of its own tasks are queued, never sent to the host).
* `call(task, fn, args)` marks the task as blocked, runs fn, and on EINTR looks
  at the signals pending for the task: one with a guest handler ends the call
  (OSError EINTR; the exec loop then restarts it or returns -EINTR, as
  `Signals.restarts` says); default actions are taken on the spot, as the
  kernel's get_signal does (fatal: the process dies; stop: it stops, and the
  call goes on once continued; ignored: discarded) and the call is made again.
* gdb's all-stop (gdbstub/agent.py) kicks blocked tasks too: each one waits
  in `debugger.syscall_held` until gdb resumes it, then calls again (the
  syscall restarts transparently, as after a ptrace stop).
* `wake(task)` (Signals._wake, for every signal queued for a task) sends the
  kick to the task's host thread if it is blocked.  The race: a kick that lands
  just before the thread enters the host call is lost (the handler ran while it
  was still in Python).  So the waker also leaves a request with a small kicker
  thread, which kicks the thread again (after 0.5 ms, doubling to 20 ms) until
  the task acknowledges: each attempt of the call has a number, and leaving the
  attempt (result, error or EINTR) changes it.  The other race: a signal queued
  after the task looked at its signals but before it was marked blocked (the
  waker then sends no kick).  So the task marks itself blocked first and looks
  at its signals after; the waker queues first and looks at `blocked` after.
* Host signals from outside (signals.start_host_thread): with hostsig's
  recorder, whichever thread takes one records it (SA_RESTART: its host call
  goes on) and the thread reading the records queues the guest signal and
  wakes the task that takes it, as for any guest signal.  Without it, every
  thread blocks the asynchronous signals (`block_async`) and one thread takes
  them with sigwaitinfo.  Synchronous ones (faults, SIGPIPE, SIGXFSZ) stay
  unblocked.

The other design (a per-task wakeup fd polled with the fd) is race-free but
only covers fd waits; this one covers any host call (wait4, sleeps, accept,
connect, flock ...).  Waits that are pure Python (futexes, sigsuspend,
sigtimedwait) wait on the task's `wake` Event, which Signals._wake sets: no
host signal needed, and no polling slices.

The contract for callers (`proc.blocking(fn, *args)`): fn reports an
interruption by raising OSError(EINTR); fn may be called again after a kick
that found no handler to run, so a timeout must be an absolute deadline (or fn
a closure that recomputes what is left); the return value is fn's.  A call
that Linux never restarts in some cases only (a socket call with SO_RCVTIMEO or
SO_SNDTIMEO: EINTR even with SA_RESTART) sets `proc.task.no_restart = True`
when it lets the EINTR through; `Signals.restarts` reads and clears it.
"""
import errno
import signal
import threading

from pydbt.errors import TaskExit

KICK = signal.SIGRTMAX
_SYNC = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP,
         signal.SIGPIPE, signal.SIGXFSZ, signal.SIGKILL, signal.SIGSTOP, KICK}
# what a secondary guest thread blocks (glibc keeps 32 and 33 to itself anyway)
ASYNC = {s for s in signal.valid_signals() if s not in _SYNC and s not in (32, 33)}
FIRST_REKICK, LAST_REKICK = 0.0005, 0.02
_recording = False          # hostsig's recorder takes host signals on any thread


def _noop(signo, frame):
    pass


def install():
    """Main thread, once: the host handler for KICK (CPython's, no SA_RESTART)."""
    signal.signal(KICK, _noop)


def recording():
    """hostsig's recorder is installed: no thread needs to block host signals
    (and a guest thread must not: one sent to it must reach it)."""
    global _recording
    _recording = True


def block_async():
    """A guest or helper thread: leave asynchronous host signals to the thread
    that takes them with sigwaitinfo (nothing to do with the recorder)."""
    if not _recording:
        signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC)


def _kick_pending(task):
    """Whether a kick already waits on the task's host thread (it blocks KICK, or
    is stopped): another would only queue behind it, and real-time signals queue
    without limit but the user's RLIMIT_SIGPENDING, which every process of the
    user shares (timer_create and sigqueue fail with EAGAIN once it is full)."""
    try:
        with open(f"/proc/self/task/{task.tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigPnd:"):
                    return bool(int(line.split()[1], 16) >> (KICK - 1) & 1)
    except (OSError, ValueError):
        pass
    return False


def _eintr():
    return OSError(errno.EINTR, "Interrupted system call")


class Blocker:
    def __init__(self, proc):
        self.proc = proc
        self.reset()

    def reset(self):
        """Fresh lock, no requests, no kicker thread (also in a forked child)."""
        # reentrant: a Python signal handler in the main thread may wake a task
        # while this thread holds the lock
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.requests = []            # [(task, attempt)] to kick again until acknowledged
        self.kicker = None

    # --- the blocked task's side ------------------------------------------------------
    def call(self, task, fn, args):
        signals = self.proc.signals
        started = False
        while True:
            dbg = self.proc.debugger
            if dbg is not None:
                dbg.syscall_held(task)    # gdb has the process stopped: wait, as a ptrace stop would
            # Blocked first, then look at the signals: a waker queues its signal
            # before it looks at `blocked`, so either the look below sees the
            # signal or the waker sees us blocked and kicks (again until we leave
            # this attempt).  Looked at the other way round, a signal queued in
            # between was neither seen nor kicked for: fn blocked for ever.
            with self.lock:
                task.blocked = True
            handled = False
            try:
                if (signals.pending or task.sigpending) and signals.interrupts(task):
                    handled = True
                    if not started and task.saved_mask is None:
                        # nothing done yet: as if the signal had come before the syscall,
                        # which then runs after the handler whatever SA_RESTART says (a
                        # write that would not block must not fail with EINTR); not for a
                        # call that swapped the mask (ppoll, sigsuspend...): it was waiting
                        task.not_started = True
                    raise _eintr()
                if dbg is not None and dbg.holds(task):
                    raise _eintr()        # (a gdb stop began meanwhile: its kick found us not blocked)
                started = True
                return fn(*args)
            except OSError as e:
                if e.errno != errno.EINTR or handled:
                    raise
            finally:
                with self.lock:
                    task.blocked = False
                    task.attempt += 1
            if task.killed:               # (another task's execve ended this one)
                raise TaskExit()

    # --- the waker's side ------------------------------------------------------------------
    def wake(self, task):
        """A signal is pending for task: interrupt its blocking host call, if any."""
        with self.lock:
            if not task.blocked or task.host_ident is None:
                return
            self._kick(task)
            self.requests.append((task, task.attempt))
            if self.kicker is None:
                self.kicker = threading.Thread(target=self._rekick, name="pydbt-kicker", daemon=True)
                self.kicker.start()
            self.cond.notify()

    @staticmethod
    def _kick(task):
        try:
            signal.pthread_kill(task.host_ident, KICK)
        except (OSError, ValueError):
            pass

    def _rekick(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC)
        delay = FIRST_REKICK
        with self.lock:
            while True:
                self.requests = [(t, a) for t, a in self.requests if t.blocked and t.attempt == a]
                if not self.requests:
                    delay = FIRST_REKICK
                    self.cond.wait()
                    continue
                self.cond.wait(delay)
                self.requests = [(t, a) for t, a in self.requests if t.blocked and t.attempt == a]
                for t, _ in self.requests:
                    if not _kick_pending(t):
                        self._kick(t)      # (under the lock: the thread is still in its call)
                delay = min(delay * 2, LAST_REKICK)
