"""Futexes of one process: wait queues keyed by guest address.

A waiter checks the futex word and queues itself under the table's lock, so a
waker that changed the word before calling wake cannot be missed (the kernel's
guarantee).  Each waiter blocks on its own host Event, outside the GIL; `wake`
sets the events of up to n waiters whose bitset matches.  `interrupt(task)`
wakes a task's wait early for a signal (the wait then answers -EINTR).

Private and shared futexes are the same here: they are keyed by guest address
within the process (a futex shared between processes through MAP_SHARED memory
is not supported: each process has its own table).
"""
import errno
import threading
import time

FUTEX_BITSET_MATCH_ANY = 0xffffffff


def _sext12(v):
    v &= 0xfff
    return v - (1 << 12) if v >> 11 else v


class _Waiter:
    __slots__ = ("task", "bitset", "event", "woken", "interrupted")

    def __init__(self, task, bitset):
        self.task, self.bitset = task, bitset
        self.event = threading.Event()
        self.woken = self.interrupted = False


class Futexes:
    def __init__(self):
        self.reset()

    def reset(self):
        """Fresh lock and queues (also in a forked child)."""
        # reentrant: a Python signal handler (main thread) interrupts waits under it
        self.lock = threading.RLock()
        self.queues = {}                 # guest address -> [_Waiter] in arrival order

    def wait(self, mem, task, addr, expected, deadline=None, bitset=FUTEX_BITSET_MATCH_ANY):
        """FUTEX_WAIT: 0 when woken, -EAGAIN if the word is not `expected`,
        -ETIMEDOUT at `deadline` (time.monotonic() seconds), -EINTR for a signal."""
        if bitset == 0:
            return -errno.EINVAL
        with self.lock:
            if mem.load(addr, 4) != expected & 0xffffffff:
                return -errno.EAGAIN
            w = _Waiter(task, bitset)
            self.queues.setdefault(addr, []).append(w)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        w.event.wait(timeout)
        with self.lock:
            if w.woken:
                return 0
            q = self.queues.get(addr)
            if q is not None and w in q:
                q.remove(w)
                if not q:
                    del self.queues[addr]
            return -errno.EINTR if w.interrupted else -errno.ETIMEDOUT

    def _take(self, addr, n, bitset=FUTEX_BITSET_MATCH_ANY):
        """Dequeue up to n waiters of addr whose bitset matches (under the lock)."""
        q = self.queues.get(addr)
        if not q or n <= 0:
            return []
        taken = [w for w in q if w.bitset & bitset][:n]
        for w in taken:
            q.remove(w)
        if not q:
            del self.queues[addr]
        return taken

    @staticmethod
    def _wake_all(waiters):
        for w in waiters:
            w.woken = True
            w.event.set()
        return len(waiters)

    def wake(self, addr, n, bitset=FUTEX_BITSET_MATCH_ANY):
        if bitset == 0:
            return -errno.EINVAL
        with self.lock:
            return self._wake_all(self._take(addr, n, bitset))

    def requeue(self, mem, addr, n_wake, addr2, n_move, expected=None):
        """FUTEX_REQUEUE / FUTEX_CMP_REQUEUE (expected not None): wake n_wake
        waiters of addr and move up to n_move of the rest to addr2."""
        with self.lock:
            if expected is not None and mem.load(addr, 4) != expected & 0xffffffff:
                return -errno.EAGAIN
            woken = self._wake_all(self._take(addr, n_wake))
            moved = self._take(addr, n_move)
            if moved:
                self.queues.setdefault(addr2, []).extend(moved)
            return woken + len(moved)

    def wake_op(self, mem, addr, n, addr2, n2, encoded):
        """FUTEX_WAKE_OP: atomically *addr2 = op(*addr2, oparg); wake n at addr,
        and n2 at addr2 if the old *addr2 passes the comparison."""
        op, cmp = (encoded >> 28) & 0xf, (encoded >> 24) & 0xf
        oparg, cmparg = _sext12(encoded >> 12), _sext12(encoded)
        if op & 8:                        # FUTEX_OP_OPARG_SHIFT
            if not 0 <= oparg <= 31:
                return -errno.EINVAL
            oparg = 1 << oparg
            op &= 7
        ops = {0: lambda o: oparg, 1: lambda o: o + oparg, 2: lambda o: o | oparg,
               3: lambda o: o & ~oparg, 4: lambda o: o ^ oparg}
        cmps = {0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,
                3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b}
        if op not in ops or cmp not in cmps:
            return -errno.ENOSYS
        with self.lock:
            old = mem.load(addr2, 4)
            mem.store(addr2, ops[op](old) & 0xffffffff, 4)
            woken = self._wake_all(self._take(addr, n))
            if cmps[cmp](old - (1 << 32) if old >> 31 else old, cmparg):
                woken += self._wake_all(self._take(addr2, n2))
            return woken

    def interrupt(self, task):
        """A signal for task: end its futex wait, if any, with -EINTR."""
        with self.lock:
            for q in self.queues.values():
                for w in q:
                    if w.task is task:
                        w.interrupted = True
                        w.event.set()
