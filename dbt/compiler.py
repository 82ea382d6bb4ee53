"""The compile thread: the slow half of a native compile runs beside the guest.

A backend that splits its compile (`prepare(block, ctx)` under the GIL, in the
guest's thread; `finish(job)`, mostly outside the GIL: LLVM's code generation
through ctypes) lets the exec loop hand the second half to this thread.  The
guest runs on in the tier it was in until the new code is installed (the TB
cache's replace, under its lock, from this thread): on a 2-core host compile
time leaves the guest's critical path.

The thread needs the GIL back after each of LLVM's calls (~20 per compile),
and a guest thread running Python gives it up only every switch interval (5
ms): while jobs are queued the interval is 50 us (measured, strings under
auto: a compile's median latency 32 ms at 0.5 ms, 22 ms at 50 us, 20 ms in
the guest's own thread).

The first job loads the native tier (llvmlite's import, the JIT's start:
~15,000 objects, all long-lived; the engine's _load_native submits it
ahead of the first compile) with the cyclic GC paused, and freezes
what is alive after it (gc.freeze, as cli.run does after loading the
program): else the import's objects made the collector walk the whole heap
once more and every full collection after it walk them too (strings 2,000
under auto: 3 full collections, 95-115 ms of CPU, against pybytecode's 2,
32-44 ms; 30-67 ms with the freeze).  (Frozen objects are never collected
as cycles: what is alive then and dies later as part of a cycle stays;
acyclic ones are freed by their counts as before.)

One thread, started on first use, blocking every signal (host signals are for
the guest threads and the runtime's signal thread).  fork: `quiet()` is held
around it, so no compile is half done in the child; the child's compiler has no
thread, and the jobs still queued are queued again there.
"""
import collections
import gc
import signal
import sys
import threading

from .stats import STATS

SWITCH_INTERVAL = 0.00005                         # seconds, while compiling


class Compiler:
    def __init__(self):
        self.loaded = False                      # the first job ran (see the overview)
        self._fresh()

    def _fresh(self):
        self.cv = threading.Condition(threading.Lock())
        self.busy = threading.Lock()             # held while a job runs (see quiet)
        self.jobs = collections.deque()
        self.thread = None

    def submit(self, work, done, first=False):
        """Run `done(work())` in the compile thread; `done(None)` if work raised.
        `first`: before the jobs queued (loading the native tier)."""
        with self.cv:
            if first:
                self.jobs.appendleft((work, done))
            else:
                self.jobs.append((work, done))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="pydbt-compile", daemon=True)
                self.thread.start()
            self.cv.notify()

    def quiet(self):
        """A context in which no job runs (a fork: the child gets no half-made code)."""
        return self.busy

    def pending(self):
        return len(self.jobs)

    def after_fork(self):
        """In a forked child: fresh locks, no thread; the queued jobs go on."""
        jobs = list(self.jobs)
        self._fresh()
        for work, done in jobs:
            self.submit(work, done)

    def _run(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        normal = None                              # the switch interval to go back to
        while True:
            with self.cv:
                if not self.jobs and normal is not None:
                    sys.setswitchinterval(normal)
                    normal = None
                while not self.jobs:
                    self.cv.wait()
                work, done = self.jobs.popleft()
                if normal is None:
                    normal = sys.getswitchinterval()
                    sys.setswitchinterval(min(normal, SWITCH_INTERVAL))
            with self.busy:
                first, self.loaded = not self.loaded, True
                collecting = first and gc.isenabled()
                if collecting:
                    gc.disable()
                try:
                    result = work()
                except Exception as e:            # noqa: BLE001  (the TB stays in its tier)
                    STATS.bump("compile_thread_errors")
                    STATS.extra["compile_thread_last_error"] = f"{type(e).__name__}: {e}"
                    result = None
                finally:
                    if first:
                        gc.freeze()
                    if collecting:
                        gc.enable()
                done(result)
