"""Races between a signal and a task entering a blocking host call, made
deterministic by widening the window (runtime/blocking.py).

The guest (tests/guest/blocking.c, mode restart) blocks in read() with an
SA_RESTART handler while a child sends SIGUSR1 three times, each after the
previous handler's ack, then writes "late": a signal lost on its way to the
blocked read hangs both processes.  The expected output is the one
qemu-riscv64 gives (test_guest_programs.py's blocking_restart case).

The window: a task that looked at its pending signals and found none, then
marked itself blocked.  A signal queued in between used to be neither seen by
the task nor kicked for by the waker (the waker found the task not blocked yet):
a hang seen once in CI under load.  Here every lock taken by the guest's host
thread (the main one) first sleeps 3 ms, so each restarted read() opens that
window wide while the child's next signal arrives.
"""
import subprocess
import sys

TIMEOUT = 60.0

_RUNNER = r'''
import sys, threading, time
from pydbt.runtime import blocking

class SlowLock:
    """An RLock whose acquisition by the main thread first sleeps."""
    def __init__(self):
        self.lock = threading.RLock()
    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.003)
        return self.lock.__enter__()
    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)
    def acquire(self, *a, **k):
        return self.lock.acquire(*a, **k)
    def release(self):
        return self.lock.release()
    def _is_owned(self):
        return self.lock._is_owned()
    def _release_save(self):
        return self.lock._release_save()
    def _acquire_restore(self, state):
        return self.lock._acquire_restore(state)

reset = blocking.Blocker.reset
def slow_reset(self):
    reset(self)
    self.lock = SlowLock()
    self.cond = threading.Condition(self.lock)
blocking.Blocker.reset = slow_reset
from pydbt.cli import main
sys.argv = ["pydbt"] + sys.argv[1:]
sys.exit(main())
'''


def test_signal_queued_while_entering_a_blocking_call(guest_binary):
    binary = guest_binary("blocking")
    argv = [sys.executable, "-c", _RUNNER, "run", "-backend", "interp", str(binary), "restart"]
    try:
        p = subprocess.run(argv, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hung: a SIGUSR1 was lost on its way to the blocked read (>{TIMEOUT:.0f}s)")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"SA_RESTART read: 5 'late', handler ran 3 times: 1" in p.stdout
    assert b"sender: 0" in p.stdout
