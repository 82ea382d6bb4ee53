"""Interval timers (setitimer/getitimer; glibc's alarm is setitimer on riscv64)
and POSIX timers (timer_create/settime/gettime/getoverrun/delete).

One helper thread per process ("pydbt-timers", started with the first armed
timer) sleeps until the earliest expiry and queues the timer's guest signal
(`Signals.queue`, which wakes or kicks the task that takes it: see blocking.py).
Deadlines are kept in CLOCK_MONOTONIC seconds.  Clocks:

* ITIMER_REAL, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME: real time (an
  absolute CLOCK_REALTIME expiry is converted when it is set: a later change of
  the wall clock does not move it).
* ITIMER_VIRTUAL, ITIMER_PROF, CLOCK_PROCESS_CPUTIME_ID (and
  CLOCK_THREAD_CPUTIME_ID, counted as the process's): approximated with the
  guest's CPU time (sys_time.guest_cpu: the host threads that run guest threads,
  their translation included, as qemu's; user+system for all, where the kernel
  counts the guest's user time for VIRTUAL); the thread wakes when the CPU time
  could have been reached and checks it.

Notification (struct sigevent): SIGEV_SIGNAL (process-directed, si_code
SI_TIMER, si_value), SIGEV_THREAD_ID (to one task; glibc's SIGEV_THREAD is
built on it), SIGEV_NONE (timer_gettime only).  Overruns: an expiry whose
previous signal is still pending counts an overrun instead (si_overrun,
timer_getoverrun).  The kernel's rules: a forked child inherits no timer;
execve deletes POSIX timers and keeps the interval timers.
"""
import errno
import heapq
import itertools
import os
import struct
import threading
import time

from .abi import s32
from .blocking import block_async
from .sys_time import guest_cpu
from .syscalls import syscall

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
SIGALRM, SIGVTALRM, SIGPROF = 14, 26, 27
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_BOOTTIME = 0, 1, 2, 7
CLOCK_THREAD_CPUTIME_ID, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM = 3, 8, 9
CLOCKS = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, CLOCK_BOOTTIME}
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
TIMER_ABSTIME = 1
SI_TIMER, SI_KERNEL = -2, 0x80
SIGEVENT = struct.Struct("<QiiI")          # sigev_value, sigev_signo, sigev_notify, _tid
ITIMERSPEC = struct.Struct("<qqqq")        # it_interval, it_value (timespec each)
ITIMERVAL = struct.Struct("<qqqq")         # it_interval, it_value (timeval each)
MAX_TIMERS = 1 << 15
NS = 1_000_000_000


def _err(e):
    return OSError(e, os.strerror(e))


def _cpu():
    return guest_cpu()


class Timer:
    """One timer; `cpu`: its value counts process CPU time, not real time."""

    def __init__(self, sig, code, cpu=False, tid=None, value=0, notify=SIGEV_SIGNAL, ident=0):
        self.sig, self.code, self.cpu, self.tid = sig, code, cpu, tid
        self.value, self.notify, self.ident = value, notify, ident
        self.expiry = None            # monotonic (or CPU) seconds; None: disarmed
        self.interval = 0.0
        self.overrun = 0              # of the signal now pending
        self.last_overrun = 0         # of the last signal queued (timer_getoverrun)
        self.info = None              # the info dict of the signal queued last
        self.gen = 0                  # bumped by every settime: stale heap entries are skipped

    def now(self):
        return _cpu() if self.cpu else time.monotonic()

    def left(self):
        return 0.0 if self.expiry is None else max(0.0, self.expiry - self.now())


class Timers:
    def __init__(self, proc):
        self.proc = proc
        self.cond = threading.Condition(threading.Lock())
        self.heap = []                # (wall-clock monotonic wake time, seq, timer, gen)
        self.seq = itertools.count()
        self.itimers = {}             # which -> Timer
        self.posix = {}               # id -> Timer
        self.thread = None

    # --- arming ---------------------------------------------------------------------------
    def arm(self, t, value, interval):
        """(under no lock) Set t to expire in `value` seconds (0: disarm)."""
        with self.cond:
            t.gen += 1
            t.interval = interval
            t.expiry = t.now() + value if value > 0 else None
            if t.expiry is not None:
                self._push(t)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="pydbt-timers", daemon=True)
                self.thread.start()
            self.cond.notify()

    def _push(self, t):
        wake = time.monotonic() + (t.expiry - t.now())
        heapq.heappush(self.heap, (wake, next(self.seq), t, t.gen))

    # --- the timer thread --------------------------------------------------------------------
    def _run(self):
        block_async()
        with self.cond:
            while True:
                if not self.heap:
                    self.cond.wait()
                    continue
                wake, _, t, gen = self.heap[0]
                delay = wake - time.monotonic()
                if delay > 0:
                    self.cond.wait(delay)
                    continue
                heapq.heappop(self.heap)
                if gen != t.gen or t.expiry is None:
                    continue
                if t.now() < t.expiry:          # (CPU time: not reached yet)
                    self._push(t)
                    continue
                self._fire(t)
                if t.interval > 0:
                    t.expiry += t.interval
                    late = t.now() - t.expiry
                    if late > 0:                # expiries missed meanwhile are overruns
                        k = int(late // t.interval) + 1
                        t.expiry += k * t.interval
                        t.overrun += k
                    self._push(t)
                else:
                    t.expiry = None

    def _fire(self, t):
        if t.notify == SIGEV_NONE:
            return
        sigs = self.proc.signals
        if t.info is not None and self._still_pending(t.info):
            t.overrun += 1
            t.info["uid"] = t.overrun           # (si_overrun, read at delivery)
            return
        t.last_overrun, t.overrun = t.overrun, 0
        if t.code == SI_TIMER:
            sigs.queue(t.sig, code=SI_TIMER, pid=t.ident, uid=t.last_overrun, value=t.value, tid=t.tid)
        else:
            sigs.queue(t.sig, code=t.code, tid=t.tid)
        t.info = self._find(t.sig)

    def _find(self, sig):
        """The info dict of the signal just queued (the last of its number)."""
        for e in reversed(self.proc.signals.pending):
            if type(e) is tuple and e[0] == sig:
                return e[1]
        return None

    def _still_pending(self, info):
        sigs = self.proc.signals
        with sigs.lock:
            lists = [sigs.pending] + [x for tk in list(self.proc.tasks.values()) for x in (tk.sigpending, tk.held)]
            return any(type(e) is tuple and e[1] is info for lst in lists for e in lst)

    # --- life cycle --------------------------------------------------------------------------------
    def on_exec(self):
        """execve: POSIX timers are deleted; interval timers go on."""
        with self.cond:
            for t in self.posix.values():
                t.gen += 1
                t.expiry = None
            self.posix.clear()


def timers(proc):
    if proc.timers is None:
        proc.timers = Timers(proc)
    return proc.timers


def _pair(proc, addr, unit):
    """A guest itimerval (unit 1e6) or itimerspec (1e9) -> (interval, value) seconds."""
    iv_s, iv_f, v_s, v_f = ITIMERSPEC.unpack(proc.mem.read(addr, 32))
    for sec, frac in ((iv_s, iv_f), (v_s, v_f)):
        if sec < 0 or not 0 <= frac < unit:
            raise _err(errno.EINVAL)
    return iv_s + iv_f / unit, v_s + v_f / unit


def _put_pair(proc, addr, interval, value, unit):
    def split(x):
        n = round(x * unit)
        return n // unit, n % unit
    proc.mem.write(addr, ITIMERSPEC.pack(*split(interval), *split(value)))


# --- setitimer / getitimer ----------------------------------------------------------------
_ITIMER_SIG = {ITIMER_REAL: SIGALRM, ITIMER_VIRTUAL: SIGVTALRM, ITIMER_PROF: SIGPROF}


def _itimer(proc, which):
    ts = timers(proc)
    t = ts.itimers.get(which)
    if t is None:
        t = ts.itimers[which] = Timer(_ITIMER_SIG[which], SI_KERNEL, cpu=which != ITIMER_REAL)
    return t


def _round_itimer(x):
    """A value the kernel would report: whole microseconds, never 0 while armed."""
    return max(x, 1e-6)


@syscall("getitimer")
def sys_getitimer(proc, which, curr):
    which = s32(which)
    if which not in _ITIMER_SIG:
        raise _err(errno.EINVAL)
    t = _itimer(proc, which)
    left = t.left()
    _put_pair(proc, curr, t.interval, _round_itimer(left) if t.expiry is not None else 0.0, 1_000_000)
    return 0


@syscall("setitimer")
def sys_setitimer(proc, which, new, old):
    which = s32(which)
    if which not in _ITIMER_SIG:
        raise _err(errno.EINVAL)
    interval, value = _pair(proc, new, 1_000_000) if new else (0.0, 0.0)
    t = _itimer(proc, which)
    if old:
        _put_pair(proc, old, t.interval, _round_itimer(t.left()) if t.expiry is not None else 0.0, 1_000_000)
    timers(proc).arm(t, value, interval if value > 0 else 0.0)
    return 0


# --- POSIX timers ---------------------------------------------------------------------------------
@syscall("timer_create")
def sys_timer_create(proc, clk, sevp, idp):
    clk = s32(clk)
    if clk in (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM):
        raise _err(errno.EPERM)              # (CAP_WAKE_ALARM, as an unprivileged process)
    if clk < 0:                              # a CPU clock by pid/tid (glibc's for the CPU-time clocks)
        who, kind = ~clk >> 3, clk & 3
        ok = proc.task_by_tid(who) is not None if clk & 4 else who in (0, proc.pid)
        if kind == 3 or not (ok or (clk & 4 and who == 0)):
            raise _err(errno.EINVAL)         # (another process's CPU clock: not emulated)
        clk = CLOCK_THREAD_CPUTIME_ID if clk & 4 else CLOCK_PROCESS_CPUTIME_ID
    if clk not in CLOCKS:
        raise _err(errno.EINVAL)
    ts = timers(proc)
    ident = next((i for i in range(MAX_TIMERS) if i not in ts.posix), None)
    if ident is None:
        raise _err(errno.EAGAIN)
    if sevp:
        value, signo, notify, tid = SIGEVENT.unpack(proc.mem.read(sevp, SIGEVENT.size))
        tid = s32(tid)
    else:
        value, signo, notify, tid = ident, SIGALRM, SIGEV_SIGNAL, 0
    target = None
    if notify == SIGEV_THREAD_ID:
        if proc.task_by_tid(tid) is None:
            raise _err(errno.EINVAL)
        target = tid
    elif notify not in (SIGEV_SIGNAL, SIGEV_NONE):
        raise _err(errno.EINVAL)             # (SIGEV_THREAD is glibc's, never the kernel's)
    if notify != SIGEV_NONE and not 1 <= signo <= 64:
        raise _err(errno.EINVAL)
    proc.mem.write(idp, ident.to_bytes(4, "little"))
    ts.posix[ident] = Timer(signo, SI_TIMER, cpu=clk in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID), tid=target,
                            value=value, notify=notify, ident=ident)
    ts.posix[ident].clock = clk
    return 0


def _posix(proc, tid):
    t = timers(proc).posix.get(s32(tid))
    if t is None:
        raise _err(errno.EINVAL)
    return t


@syscall("timer_settime")
def sys_timer_settime(proc, tid, flags, new, old):
    t = _posix(proc, tid)
    interval, value = _pair(proc, new, NS)
    if old:
        _put_pair(proc, old, t.interval, t.left(), NS)
    if value > 0 and s32(flags) & TIMER_ABSTIME:
        if t.clock == CLOCK_REALTIME:
            value -= time.time()
        elif t.cpu:
            value -= _cpu()
        else:
            value -= time.clock_gettime(t.clock)
        value = max(value, 1e-9)           # (a time already past: expires at once)
    timers(proc).arm(t, value, interval if value > 0 else 0.0)
    return 0


@syscall("timer_gettime")
def sys_timer_gettime(proc, tid, curr):
    t = _posix(proc, tid)
    _put_pair(proc, curr, t.interval, t.left(), NS)
    return 0


@syscall("timer_getoverrun")
def sys_timer_getoverrun(proc, tid):
    return _posix(proc, tid).last_overrun


@syscall("timer_delete")
def sys_timer_delete(proc, tid):
    t = _posix(proc, tid)
    ts = timers(proc)
    with ts.cond:
        t.gen += 1
        t.expiry = None
        del ts.posix[t.ident]
    return 0
