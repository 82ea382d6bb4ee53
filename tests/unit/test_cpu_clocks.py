"""sys_time's guest CPU time leaves out pydbt's helper threads ("pydbt-*"): a
helper that burns 0.3 s of CPU while the calling thread waits advances the
kernel's process clock (the oracle: time.process_time) by that much and the
guest's by almost nothing; getrusage/times lose the same (clock-tick precision)."""
import ctypes
import resource
import threading
import time

from pydbt.runtime import sys_time


def _burn(seconds, measured):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    measured.wait(10)                      # (alive until measured: an ended thread's CPU stays counted)


def test_helper_threads_cpu_is_not_the_guests():
    g0, p0, o0 = sys_time.guest_cpu(), time.process_time(), sys_time.own_threads_cpu()
    measured = threading.Event()
    t = threading.Thread(target=_burn, args=(0.3, measured), name="pydbt-burn")
    t.start()
    deadline = time.monotonic() + 60
    while sys_time.own_threads_cpu() - o0 < 0.3 and time.monotonic() < deadline:
        time.sleep(0.01)                   # (earlier tests' helpers count too: the difference)
    g1, p1 = sys_time.guest_cpu(), time.process_time()
    hb = ctypes.create_string_buffer(144)
    struct_ru = resource.getrusage(resource.RUSAGE_SELF)
    ctypes.memmove(hb, (ctypes.c_int64 * 4)(int(struct_ru.ru_utime), int(struct_ru.ru_utime % 1 * 1e6),
                                            int(struct_ru.ru_stime), int(struct_ru.ru_stime % 1 * 1e6)), 32)
    sys_time.rusage_without_own_threads(hb)
    us = (ctypes.c_int64 * 4).from_buffer(hb)
    ru_guest = us[0] + us[1] / 1e6 + us[2] + us[3] / 1e6
    measured.set()
    t.join(10)
    assert p1 - p0 >= 0.28                 # (the kernel counts the helper)
    assert g1 - g0 < 0.1                   # (the guest does not)
    assert struct_ru.ru_utime + struct_ru.ru_stime - ru_guest >= 0.25
