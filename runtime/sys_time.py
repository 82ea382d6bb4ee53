"""Clocks and sleeping, and the guest's CPU time.

Clock reads go to the host kernel (vDSO-speed is not a goal here); sleeps are the
host's clock_nanosleep to an absolute deadline through proc.blocking, so a guest
signal with a handler ends them with EINTR and the remaining time, and one
without a handler does not end them (see _sleep_until).

The guest's CPU time (CLOCK_PROCESS_CPUTIME_ID of itself here, ITIMER_VIRTUAL/
PROF and CPU-time POSIX timers in sys_timer.py, times() and getrusage(RUSAGE_SELF)
in sys_proc.py) is the pydbt process's minus that of pydbt's own helper threads
(those named "pydbt-*": the native compile thread, the signal reader, the
kicker, the timer thread; `own_threads_cpu`).  So it is the CPU time of the
host threads that run the guest's threads, their translation included: what
qemu-riscv64 reports (its process is its vCPU threads, which translate too),
and a guest measuring its own work does not see a compile thread running
beside it on another core.  CLOCK_THREAD_CPUTIME_ID is the calling host
thread's already.  Not subtracted: helper threads that have ended (their time
stays in the process's; pydbt's live as long as the process), and children's
times (RUSAGE_CHILDREN, tms_cutime: the host's, which are pydbt processes too).
"""
import errno
import os
import struct
import threading
import time

from . import abi
from .abi import host_syscall as hsys, buf, s32
from .syscalls import syscall


def _err(e):
    return OSError(e, os.strerror(e))


CLOCK_PROCESS_CPUTIME_ID = 2
_TCK = os.sysconf("SC_CLK_TCK")


def _helpers():
    return [t for t in threading.enumerate() if t.name.startswith("pydbt-") and t.ident is not None]


def own_threads_cpu():
    """CPU seconds of pydbt's live helper threads (user + system, ns precision)."""
    total = 0
    for t in _helpers():
        try:
            total += time.clock_gettime_ns(time.pthread_getcpuclockid(t.ident))
        except (OSError, ValueError):
            pass                          # (it ended meanwhile)
    return total / 1e9


def own_threads_user_sys():
    """(user, system) CPU seconds of pydbt's live helper threads (clock ticks precision)."""
    user = system = 0
    for t in _helpers():
        try:
            with open(f"/proc/self/task/{t.native_id}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            user += int(fields[11])           # (utime and stime: fields 14 and 15 of stat)
            system += int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return user / _TCK, system / _TCK


def guest_cpu():
    """The guest's CPU seconds (see the module docstring)."""
    return max(0.0, time.clock_gettime(CLOCK_PROCESS_CPUTIME_ID) - own_threads_cpu())


def _is_own_process_clock(proc, clk):
    """CLOCK_PROCESS_CPUTIME_ID, or clock_getcpuclockid's clock of this process
    (MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED): ~pid << 3 | 2, pid 0 for self)."""
    if clk == CLOCK_PROCESS_CPUTIME_ID:
        return True
    return clk < 0 and clk & 7 == 2 and ~(clk >> 3) in (0, proc.pid)


def rusage_without_own_threads(hb):
    """Host struct rusage (its timevals first) of RUSAGE_SELF: less the helpers'."""
    user, system = own_threads_user_sys()
    for off, minus in ((0, user), (16, system)):
        sec, usec = struct.unpack_from("<qq", hb, off)
        us = max(0, sec * 1_000_000 + usec - round(minus * 1e6))
        struct.pack_into("<qq", hb, off, us // 1_000_000, us % 1_000_000)


def tms_without_own_threads(hb):
    """Host struct tms (clock_t ticks: utime, stime first): less the helpers' ticks."""
    user, system = own_threads_user_sys()
    u, s = struct.unpack_from("<qq", hb, 0)
    struct.pack_into("<qq", hb, 0, max(0, u - round(user * _TCK)), max(0, s - round(system * _TCK)))


def _ts_in(proc, addr):
    """Guest timespec at addr -> host timespec bytes (EINVAL when not normalised)."""
    fam = abi.family(proc)
    raw = proc.mem.read(addr, fam.timespec.size)
    v = fam.timespec.unpack(raw)
    if v["tv_sec"] < 0 or not 0 <= v["tv_nsec"] < 1_000_000_000:
        raise _err(errno.EINVAL)
    return abi.convert(raw, fam.timespec, abi.HOST.timespec)


def _ts_out(proc, addr, hb):
    proc.mem.write(addr, abi.convert(hb.raw, abi.HOST.timespec, abi.family(proc).timespec))


@syscall("clock_gettime")
def sys_clock_gettime(proc, clk, addr):
    clk = s32(clk)
    hb = buf(abi.HOST.timespec.size)
    hsys("clock_gettime", clk, hb)
    if _is_own_process_clock(proc, clk):
        ns = max(0, time.clock_gettime_ns(CLOCK_PROCESS_CPUTIME_ID) - round(own_threads_cpu() * 1e9))
        hb = _ns_ts(ns)
        proc.mem.write(addr, abi.convert(hb, abi.HOST.timespec, abi.family(proc).timespec))
        return 0
    _ts_out(proc, addr, hb)
    return 0


@syscall("clock_getres")
def sys_clock_getres(proc, clk, addr):
    hb = buf(abi.HOST.timespec.size)
    hsys("clock_getres", s32(clk), hb)
    if addr:
        _ts_out(proc, addr, hb)
    return 0


@syscall("gettimeofday")
def sys_gettimeofday(proc, tv, tz):
    fam = abi.family(proc)
    if tv:
        ns = time.time_ns()
        proc.mem.write(tv, fam.timeval.pack(tv_sec=ns // 1_000_000_000,
                                            tv_usec=ns % 1_000_000_000 // 1000))
    if tz:
        proc.mem.write(tz, fam.timezone.pack(tz_minuteswest=0, tz_dsttime=0))
    return 0


@syscall("time")
def sys_time(proc, tloc):
    t = time.time_ns() // 1_000_000_000
    if tloc:
        proc.mem.write(tloc, t.to_bytes(8, "little", signed=True))
    return t


TIMER_ABSTIME = 1
CLOCK_MONOTONIC = 1


def _ns_ts(ns):
    return abi.HOST.timespec.pack(tv_sec=ns // 1_000_000_000, tv_nsec=ns % 1_000_000_000)


def _sleep_until(proc, clk, deadline_ns, rem):
    """Sleep on clock clk until deadline_ns (the host's absolute clock_nanosleep,
    interruptible through proc.blocking, so a kick that brings no handler just
    sleeps again to the same deadline: Linux's transparent restart after a stop
    or an ignored signal).  A handler: EINTR (never restarted, signal(7)) with
    the time left written to rem."""
    try:
        return proc.blocking(hsys, "clock_nanosleep", clk, TIMER_ABSTIME, _ns_ts(deadline_ns), None)
    except OSError as e:
        if e.errno == errno.EINTR and rem:
            left = max(0, deadline_ns - time.clock_gettime_ns(clk))
            proc.mem.write(rem, abi.family(proc).timespec.pack(tv_sec=left // 1_000_000_000,
                                                                tv_nsec=left % 1_000_000_000))
        raise


def _req_ns(proc, req):
    v = abi.HOST.timespec.unpack(_ts_in(proc, req))
    return v["tv_sec"] * 1_000_000_000 + v["tv_nsec"]


@syscall("nanosleep")
def sys_nanosleep(proc, req, rem):
    ns = _req_ns(proc, req)
    return _sleep_until(proc, CLOCK_MONOTONIC, time.clock_gettime_ns(CLOCK_MONOTONIC) + ns, rem)


@syscall("clock_nanosleep")
def sys_clock_nanosleep(proc, clk, flags, req, rem):
    clk, flags = s32(clk), s32(flags)
    ns = _req_ns(proc, req)
    if flags & TIMER_ABSTIME:
        return proc.blocking(hsys, "clock_nanosleep", clk, TIMER_ABSTIME, _ts_in(proc, req), None)
    try:
        now = time.clock_gettime_ns(clk)
    except OSError:
        raise _err(errno.EINVAL)
    return _sleep_until(proc, clk, now + ns, rem)
