"""A blocking call that a signal finds not yet started (the signal was already
pending when the call was about to block) ends with EINTR and is always
restarted after the handler, as if Linux had delivered the signal on the way
back to user mode before the syscall: a handler without SA_RESTART must not
make a write that would not block fail.  A call that swapped the mask (ppoll,
sigsuspend: the signal is one it waited for) keeps its EINTR, and a call the
signal interrupts once started follows SA_RESTART."""
import errno
import signal

import pytest

from pydbt.runtime.signals import Action, SA_RESTART
from test_hostile_syscalls import new_process

HANDLER = 0x1000                # (a guest address: the handler never runs here)


@pytest.fixture
def proc():
    p = new_process()
    yield p
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def _interrupted(proc, before):
    """proc.blocking of a call, with SIGUSR1 queued before it or by it."""
    def call():
        if not before:
            proc.signals.queue(signal.SIGUSR1, tid=proc.tid)
            raise OSError(errno.EINTR, "interrupted")       # (what a kicked host call returns)
        return 42
    if before:
        proc.signals.queue(signal.SIGUSR1, tid=proc.tid)
    with pytest.raises(OSError) as e:
        proc.blocking(call)
    assert e.value.errno == errno.EINTR


@pytest.mark.parametrize("flags", [0, SA_RESTART])
def test_a_signal_before_the_call_restarts_it(proc, flags):
    proc.signals.set_action(signal.SIGUSR1, Action(HANDLER, flags))
    _interrupted(proc, before=True)
    assert proc.signals.restarts("write") is True


@pytest.mark.parametrize("flags,restarts", [(0, False), (SA_RESTART, True)])
def test_a_signal_during_the_call_follows_sa_restart(proc, flags, restarts):
    proc.signals.set_action(signal.SIGUSR1, Action(HANDLER, flags))
    _interrupted(proc, before=False)
    assert proc.signals.restarts("write") is restarts


def test_a_call_that_swapped_the_mask_keeps_its_eintr(proc):
    proc.signals.set_action(signal.SIGUSR1, Action(HANDLER, SA_RESTART))
    task = proc.task
    task.saved_mask = task.sigmask                 # (ppoll's swap: the signal is what it waits for)
    _interrupted(proc, before=True)
    assert proc.signals.restarts("ppoll") is False
