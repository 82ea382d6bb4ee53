"""A task: one guest thread, as Linux has them.

What is a thread's own lives here: its CPU state, its thread id, its signal
mask, alternate signal stack and the signals directed at it (pending, or held
back by its mask), the `clear_child_tid` address (zeroed and futex-woken when
it exits: how pthread_join waits) and its robust-futex list.  Everything shared
by the threads of a process (memory, descriptors, signal dispositions, the
translator and its TB cache) is the Process's.

Each task runs on its own host thread; `Process.task` is the calling thread's
task (thread-local), so code that serves a syscall or a signal finds "the
current thread" as the kernel's `current`.
"""
import threading


class Task:
    def __init__(self, proc, cpu, tid):
        self.proc = proc
        self.cpu = cpu
        self.tid = tid
        self.sigmask = 0
        self.altstack = (0, 2, 0)        # ss_sp, ss_flags (SS_DISABLE), ss_size
        self.sigpending = []             # [(signo, info)] directed at this task
        self.held = []                   # pending but blocked by the mask
        self.saved_mask = None           # sigsuspend's mask to restore after the handler
        self.sigwait = 0                 # the set rt_sigtimedwait waits for (taken, never acted on)
        self.no_restart = False
        self.not_started = False         # set with an EINTR from before the host call: always restarted          # set with an EINTR that SA_RESTART must not restart
        self.wake = threading.Event()    # set when a signal arrives for a waiting task
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        self.comm = b""
        self.killed = False              # another task's exec or exit_group ended this one
        self.host_ident = threading.get_ident()   # its host thread (set again by the thread itself)
        self.blocked = False             # in a blocking host call (blocking.py)
        self.attempt = 0                 # which attempt of that call (a kick's acknowledgement)

    def __repr__(self):
        return f"Task(tid={self.tid})"
