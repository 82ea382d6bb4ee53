"""The exclusive section: run one piece of code while every other guest task is parked.

Each task is either *in guest code* (between `enter` and `leave`: running TBs in
its trampoline) or outside it (serving a syscall, blocked in the host, delivering
a signal).  `run_alone(fn)` (QEMU's start_exclusive/end_exclusive) asks every
task in guest code to stop at its next TB boundary, waits until none is left in
guest code, runs fn, and lets them go on.  Tasks outside guest code may go on
with what they do (a blocking read) but cannot re-enter guest code until the
section ends: `enter` waits for it.

Asking tasks to stop uses the process's `attention` list, which every TB
function and trampoline already tests (`while not pending`): a marker object is
appended for the section's duration, so a task leaves its loop at the next TB
boundary or loop back-edge, calls `leave`, then `enter`, which parks it.  A task
in native code (which runs without the GIL, beside the others: backends/llvm.py)
sees it when it is back in Python: at its next exit, at the latest when its
budget ends (~0.1-1 ms); a parked task is never inside native code, so the
section's fn may drop or free native code.

Used for fork (only the forking task survives in the child: nothing of the
others may be half-done), execve, exit_group, and cache flushes while other
tasks run.  Architecture-neutral; no guest state here.
"""
import threading


class _Marker:
    """What the section puts in `attention` (never mistaken for a signal)."""
    __slots__ = ()


MARKER = _Marker()


class Exclusive:
    def __init__(self, attention):
        self.attention = attention          # the process's pending list (see module doc)
        self.reset()

    def reset(self):
        """Fresh locks and counts (also in a forked child, where only the forking task lives)."""
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.running = 0                    # tasks in guest code
        self.active = False                 # a section is on (or waiting for tasks to park)
        while MARKER in self.attention:
            self.attention.remove(MARKER)

    # --- the tasks' side -------------------------------------------------------------
    def enter(self):
        """A task is about to run guest code: wait while a section is on.
        (Around every syscall: `with` the lock itself, not the Condition,
        whose __enter__ and __exit__ are Python methods.)"""
        with self.lock:
            while self.active:
                self.cond.wait()
            self.running += 1

    def leave(self):
        """A task stops running guest code (a syscall, a signal, its end)."""
        with self.lock:
            self.running -= 1
            if self.active and self.running == 0:
                self.cond.notify_all()

    # --- the section ----------------------------------------------------------------------
    def run_alone(self, fn, *args):
        """Run fn(*args) while no other task is in guest code; the caller must be
        outside guest code itself (between leave and enter)."""
        with self.cond:
            while self.active:              # one section at a time
                self.cond.wait()
            self.active = True
            self.attention.append(MARKER)
            while self.running:
                self.cond.wait()
        try:
            return fn(*args)
        finally:
            with self.cond:
                self.active = False
                if MARKER in self.attention:
                    self.attention.remove(MARKER)
                self.cond.notify_all()
