"""Clocks and sleeping.

Clock reads go to the host kernel (vDSO-speed is not a goal here); sleeps are the
host's nanosleep/clock_nanosleep, so an interrupting host signal ends them with
EINTR and the remaining time, as the kernel does for the guest.
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


def _sleep(proc, hostcall, args, rem):
    hrem = buf(abi.HOST.timespec.size)
    try:
        return hsys(hostcall, *args, hrem)
    except OSError as e:
        if e.errno == errno.EINTR and rem:
            _ts_out(proc, rem, hrem)
        raise


@syscall("nanosleep")
def sys_nanosleep(proc, req, rem):
    return _sleep(proc, "nanosleep", (_ts_in(proc, req),), rem)


TIMER_ABSTIME = 1


@syscall("clock_nanosleep")
def sys_clock_nanosleep(proc, clk, flags, req, rem):
    flags = s32(flags)
    return _sleep(proc, "clock_nanosleep", (s32(clk), flags, _ts_in(proc, req)),
                  0 if flags & TIMER_ABSTIME else rem)
