"""Clocks and sleeping.

Clock reads go to the host kernel (vDSO-speed is not a goal here); sleeps are the
host's clock_nanosleep to an absolute deadline through proc.blocking, so a guest
signal with a handler ends them with EINTR and the remaining time, and one
without a handler does not end them (see _sleep_until).
"""
import errno
import os
import time

from . import abi
from .abi import host_syscall as hsys, buf, s32
from .syscalls import syscall


def _err(e):
    return OSError(e, os.strerror(e))


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
    hb = buf(abi.HOST.timespec.size)
    hsys("clock_gettime", s32(clk), hb)
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
