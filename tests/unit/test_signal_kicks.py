"""Kicks (runtime/blocking.py) never pile up: a kick that waits on a thread
that blocks KICK is not sent again, since real-time signals queue one entry
each against the user's RLIMIT_SIGPENDING, shared by all the user's processes
(an orphan re-kicked for minutes once filled it: everyone's timer_create and
sigqueue failed with EAGAIN).  The kernel's answer (/proc/self/task/TID/status
SigPnd, sigtimedwait) is the oracle."""
import signal
import threading

from pydbt.runtime import blocking


class _Task:
    def __init__(self, tid):
        self.tid = tid


def test_kick_pending_sees_a_kick_waiting_on_that_thread():
    seen = {}
    ready, go = threading.Event(), threading.Event()

    def body():
        signal.pthread_sigmask(signal.SIG_BLOCK, {blocking.KICK})
        seen["tid"] = threading.get_native_id()
        ready.set()
        go.wait(10)
        seen["taken"] = signal.sigtimedwait({blocking.KICK}, 5)

    t = threading.Thread(target=body)
    t.start()
    assert ready.wait(10)
    task = _Task(seen["tid"])
    assert not blocking._kick_pending(task)
    signal.pthread_kill(t.ident, blocking.KICK)
    assert blocking._kick_pending(task)
    go.set()
    t.join(10)
    assert seen["taken"] is not None and seen["taken"].si_signo == blocking.KICK
    assert not blocking._kick_pending(_Task(seen["tid"]))      # (the thread is gone)
