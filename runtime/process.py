"""One guest process: memory, descriptors, signal dispositions, the translator,
and its tasks (guest threads, see task.py), as Linux splits them.

A guest process is a host process and a guest thread a host thread: pids, tids
and wait statuses are the host's own.  `proc.task` is the calling host thread's
task (thread-local), so `proc.cpu` is "the current CPU" wherever a syscall or a
signal is served.  Life cycle, with Linux's rules:

* `spawn_thread` (clone with CLONE_THREAD): a new task on a new host thread,
  running its own exec loop over the shared translator.
* `fork` (clone without CLONE_VM, or vfork): a host fork inside the exclusive
  section (every other task parked), so in the child only the forking task
  lives on, with fresh locks.  vfork: the parent waits until the child execs or
  exits (a pipe that the child's exec or death closes).
* `execve`: the new image replaces the old one in the same host process (no
  Python start-up): other tasks end, close-on-exec descriptors close, handled
  signals go back to their default, memory and translations are dropped.
* `exit_task` (exit): one task ends (clear_child_tid is zeroed and woken); the
  process ends with the last one.  `exit_group`: the whole process ends.
"""
import contextlib
import errno
import fcntl
import os
import struct
import sys
import threading

from pydbt.stats import STATS
from pydbt.errors import UserError, GuestExit, TaskExit
from pydbt.exclusive import Exclusive
from .memory import GuestMemory, default_space, MIN_SPACE
from .signals import Signals
from .futex import Futexes
from .task import Task
from .blocking import Blocker, install as install_kick, block_async
from . import identity, ownfds, syscalls


def _default_space():
    space = default_space()
    if space is None:
        raise UserError(f"the host address-space limit ('ulimit -v') leaves no room for a guest space "
                        f"of {MIN_SPACE >> 20} MiB; raise the limit")
    return space


ROBUST_LIST_LIMIT = 2048                   # the kernel's bound on a robust list walk
FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3fffffff


class Process:
    def __init__(self, arch, options, log):
        self.arch = arch
        self.options = options
        self.log = log
        self.mem = GuestMemory(options.reserved_va or _default_space())
        self.signals = Signals(self)
        self.sysroot = options.sysroot
        self.uname_release = options.uname_release      # (-r: sys_uname)
        self.stack_size = options.stack_size
        self.random = None
        if options.seed is not None:
            import random
            self.random = random.Random(options.seed)
        self.pid = os.getpid()
        self.reserved_fds = set()
        if getattr(log, "fd", 2) > 2:              # -D: the log file is pydbt's own (ownfds.py)
            log.fd = ownfds.hide(self, log.fd)
        elif getattr(log, "fd", None) == 2 and (options.stats or getattr(log, "items", None)):
            # diagnostics go to the stderr pydbt was started with, whatever the
            # guest does with its fd 2 (coreutils close it at exit; a program
            # may open a file there): a copy of its own
            try:
                log.fd = ownfds.hide(self, os.dup(2))
            except OSError:                        # (started without a stderr: fd 2 is the
                log.fd = -1                        # guest's first file, nowhere to write)
        self.comm = b""
        self.argv = []
        self.exe_path = ""
        self.shared_spans = []                      # [(path, start, end)]: files at a place of their own,
                                                    # the ELF interpreter's (loader.py), libraries' (sys_mm.py)
        self.auxv = b""
        self.engine = None
        self._tls = threading.local()
        self.exclusive = Exclusive(self.signals.pending)
        self.futexes = Futexes()
        self.blocker = Blocker(self)
        self.timers = None                     # sys_timer.Timers, made by the first timer call
        if threading.current_thread() is threading.main_thread():
            install_kick()
        self.lock = threading.Lock()           # the task table
        self.ended = threading.Condition(self.lock)
        self.tasks = {}                        # tid -> Task
        self.leader_status = None              # the main task's exit status, once it exited
        self.vfork_fd = None                   # a vfork child's end of its parent's pipe
        self.debugger = None                   # the gdbstub, told of the process's end
        main = Task(self, arch.new_cpu(self.mem), self.pid)
        self.tasks[main.tid] = main
        self.leader = main
        self._tls.task = main

    # --- the current task ---------------------------------------------------------------
    @property
    def task(self):
        return self._tls.task

    @property
    def cpu(self):
        return self._tls.task.cpu

    @property
    def tid(self):
        return self._tls.task.tid

    def task_by_tid(self, tid):
        return self.tasks.get(tid)

    # --- paths, syscalls, stats ---------------------------------------------------------
    def host_path(self, path):
        """Guest path (bytes) -> host path: under -L first for absolute paths, as QEMU."""
        if self.sysroot and path.startswith(b"/"):
            cand = os.fsencode(self.sysroot).rstrip(b"/") + path
            if os.path.lexists(cand):
                return cand
        return path

    def syscall(self, nr, args):
        return syscalls.dispatch(self, nr, args)

    def blocking(self, fn, *args):
        """Run host call fn(*args), which may block, for the current task: its
        result, or OSError(EINTR) as soon as a guest signal with a handler is
        pending for the task and not blocked by its mask (the exec loop then
        restarts the syscall or returns -EINTR, as `signals.restarts(name)`
        decides from SA_RESTART).  Signals whose default action applies are taken
        meanwhile (fatal: the process dies at once; stop: stopped, then the call
        goes on; ignored: discarded).  fn must let EINTR through: use
        `abi.host_syscall` or a ctypes libc call, never `os.read` or a socket
        method (CPython retries those).  fn may run again after an interruption
        that ends in no handler, so pass absolute deadlines (or a closure that
        recomputes the time left).  The task is outside guest code meanwhile, so
        an exclusive section (fork) does not wait for it.  See blocking.py."""
        return self.blocker.call(self.task, fn, args)

    def report_stats(self):
        fmt = self.options.stats
        if fmt:
            self.log.write(STATS.report(fmt) + "\n")

    # --- running ------------------------------------------------------------------------------
    def run_main(self):
        """Run the main task until the process ends; returns the exit status."""
        self.signals.start_host_thread()
        try:
            self.engine.run(self.task)
        except TaskExit:
            pass
        # the main task exited (or exec/exit ended it) while others may run on
        with self.ended:
            while self.tasks:
                self.ended.wait()
        raise GuestExit(self.final_status)

    def _run_thread(self, task):
        try:
            self.engine.run(task)
        except TaskExit:
            pass
        except GuestExit as e:             # (a last task's exit on a secondary thread)
            self._end_process(e.status)
        except BaseException as e:         # noqa: BLE001  the safety net, as cli's
            from pydbt.cli import _internal_error
            os._exit(_internal_error(e))

    # --- threads ------------------------------------------------------------------------------
    def spawn_thread(self, flags, newsp, ptid, tls, ctid):
        from .sys_task import CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID
        parent = self.task
        arch = self.arch
        cpu = parent.cpu.copy()
        arch.set_syscall_result(cpu, 0)
        if newsp:
            arch.set_stack_pointer(cpu, newsp)
        if flags & CLONE_SETTLS:
            arch.set_tls(cpu, tls)
        task = Task(self, cpu, 0)
        task.sigmask = parent.sigmask
        started = threading.Event()
        failed = []

        def body():
            block_async()
            task.host_ident = threading.get_ident()
            task.tid = threading.get_native_id()
            self._tls.task = task
            try:
                for bit, addr in ((CLONE_PARENT_SETTID, ptid), (CLONE_CHILD_SETTID, ctid)):
                    if flags & bit:
                        self.mem.write(addr, task.tid.to_bytes(4, "little"))
            except Exception:              # noqa: BLE001  (a bad address: EFAULT to the parent)
                failed.append(errno.EFAULT)
                started.set()
                return
            if flags & CLONE_CHILD_CLEARTID:
                task.clear_child_tid = ctid
            with self.lock:
                self.tasks[task.tid] = task
            started.set()
            self._run_thread(task)

        threading.Thread(target=body, name=f"guest-{len(self.tasks)}", daemon=True).start()
        started.wait()
        if failed:
            raise OSError(failed[0], os.strerror(failed[0]))
        return task.tid

    def exit_task(self, status):
        """exit: the calling task ends; the process with the last one."""
        task = self.task
        self._release_task(task)
        with self.ended:
            self.tasks.pop(task.tid, None)
            if task is self.leader:
                self.leader_status = status
            last = not self.tasks
            if last:
                self.ended.notify_all()
        if not last and self.debugger is not None:
            self.debugger.thread_exited(task, status)     # (gdb asked for thread events: QThreadEvents)
        if last and threading.current_thread() is threading.main_thread():
            raise GuestExit(self.final_status)
        if last:
            self._end_process(self.final_status)
        raise TaskExit()

    @property
    def final_status(self):
        return self.leader_status if self.leader_status is not None else 0

    def _release_task(self, task):
        """What the kernel does for an exiting thread: mark the robust futexes it
        holds OWNER_DIED (waking a waiter), zero clear_child_tid and wake a waiter."""
        self._robust_exit(task)
        addr = task.clear_child_tid
        if addr:
            try:
                self.mem.write(addr, b"\0\0\0\0")
                self.futexes.wake(addr, 1)
            except Exception:              # noqa: BLE001  (a bad address is ignored, as Linux)
                pass

    def _robust_exit(self, task):
        head = task.robust_list[0]
        if not head:
            return
        mem = self.mem
        try:
            entry, offset, pending = struct.unpack("<QqQ", mem.read(head, 24))
            seen = 0
            entries = [pending] if pending else []
            while entry != head and seen < ROBUST_LIST_LIMIT:
                if entry != pending:
                    entries.append(entry)
                entry = int.from_bytes(mem.read(entry, 8), "little")
                seen += 1
            for e in entries:
                word_at = (e + offset) & 0xffffffffffffffff
                word = mem.load(word_at, 4)
                if word & FUTEX_TID_MASK == task.tid:
                    mem.store(word_at, (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED, 4)
                    if word & FUTEX_WAITERS:
                        self.futexes.wake(word_at, 1)
        except Exception:                  # noqa: BLE001  (a broken list is ignored, as Linux)
            pass

    def exit_group(self, status):
        if len(self.tasks) <= 1 and threading.current_thread() is threading.main_thread():
            raise GuestExit(status)
        self._end_process(status)

    def _end_process(self, status):
        """End the host process now with status (other threads may be anywhere)."""
        if self.debugger is not None:
            self.debugger.exited(status)
        sys.stdout.flush()
        self.report_stats()
        os._exit(status)

    # --- fork -----------------------------------------------------------------------------------
    def fork(self, flags, newsp, ptid, tls, ctid):
        from .sys_task import (CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID,
                               CLONE_CHILD_CLEARTID, CLONE_VFORK)
        parent = self.task
        vfork = flags & CLONE_VFORK
        if vfork:
            r, w = (ownfds.hide(self, fd) for fd in os.pipe())
        debugger = self.debugger
        chan = debugger.before_fork(vfork) if debugger is not None else None    # (gdb follows forks)
        if self.engine is not None and not vfork:
            self.engine.before_fork()
        quiet = self.engine.quiet() if self.engine is not None else contextlib.nullcontext()
        # (the child never inherits a layout mid-change, nor code half compiled)
        with self.mem.map_lock, quiet:
            pid = self.exclusive.run_alone(os.fork)
        if pid == 0:
            self._after_fork_child(parent)
            cpu = parent.cpu
            if newsp:
                self.arch.set_stack_pointer(cpu, newsp)
            if flags & CLONE_SETTLS:
                self.arch.set_tls(cpu, tls)
            if flags & CLONE_CHILD_SETTID:
                self.mem.write(ctid, self.pid.to_bytes(4, "little"))
            if flags & CLONE_CHILD_CLEARTID:
                parent.clear_child_tid = ctid
            if vfork:
                ownfds.release(self, r)
                self.vfork_fd = w
            if debugger is not None:
                debugger.after_fork_child(chan)    # stopped at the fork return, or not debugged
            return 0
        if flags & CLONE_PARENT_SETTID:
            self.mem.write(ptid, pid.to_bytes(4, "little"))
        if debugger is not None:
            debugger.forked(pid, chan, vfork)      # gdb hears of the fork (the child stopped too)
        if vfork:
            ownfds.release(self, w)
            try:
                while os.read(r, 1):       # (the kernel's vfork wait is killable only)
                    pass
            finally:
                ownfds.release(self, r)
            if debugger is not None and self.debugger is debugger:
                debugger.vfork_done()
        return pid

    def _after_fork_child(self, task):
        """In a forked child: only the forking task lives; every lock is fresh."""
        self.pid = task.tid = os.getpid()
        self.tasks = {task.tid: task}
        self.leader = task
        self.leader_status = None
        self.lock = threading.Lock()
        self.ended = threading.Condition(self.lock)
        self.exclusive.reset()
        self.futexes.reset()
        self.blocker.reset()
        self.timers = None                     # (a child inherits no timer)
        self.signals.after_fork()
        if self.engine is not None:
            self.engine.after_fork()
        self.log.after_fork()
        self._drop_vfork_fd()                  # (a vfork child's child does not hold it)
        STATS.reset()
        if self.engine is not None and self.engine.counter is not None:
            self.engine.counter[0] = 0
            STATS.counter = self.engine.counter

    def _drop_vfork_fd(self):
        """A vfork child's exec (or a fork of it): its parent may go on."""
        if self.vfork_fd is not None:
            ownfds.release(self, self.vfork_fd)
            self.vfork_fd = None

    # --- exec -----------------------------------------------------------------------------------
    def execve(self, filename, argv, envp):
        from .execve import find_image
        image, argv = find_image(self, filename, argv, envp)
        self.exclusive.run_alone(self._replace_image, image, filename, argv, envp)
        if self.debugger is not None:
            self.debugger.exec_done()          # breakpoints gone; gdb hears of the exec
        return None                            # the registers are the new image's

    def _replace_image(self, image, filename, argv, envp):
        from .loader import load
        task = self.task
        for t in list(self.tasks.values()):    # other threads end (parked, or when they come back)
            if t is not task:
                t.killed = True
                self.futexes.interrupt(t)      # (one blocked in a wait ends now, not with its call)
                self.blocker.wake(t)
        self.tasks = {self.pid: task}
        if task.tid != self.pid:               # (the exec'ing thread takes the leader's tid)
            task.tid = self.pid
        self.leader = task
        self._close_on_exec()
        self.signals.reset_on_exec()
        if self.timers is not None:
            self.timers.on_exec()
        self._drop_vfork_fd()
        kept = self.engine.exec_kept() if self._same_program(image.path) else None
        self.engine.cache.flush()
        self.mem.reset()
        self.exe_path = image.path
        self.argv = [os.fsdecode(a) for a in argv]
        self.comm = os.path.basename(os.fsencode(filename))[:15]
        identity.publish(self)
        entry, sp = load(self, image, self.argv, [os.fsdecode(e) for e in envp], os.fsdecode(filename))
        task.cpu.reset()
        task.clear_child_tid = 0
        task.robust_list = (0, 0)
        task.altstack = (0, 2, 0)
        self.arch.init_registers(task.cpu, entry, sp)
        self.engine.exec_done(kept)

    def _same_program(self, path):
        """Is path the file running now (busybox executing /proc/self/exe)?"""
        try:
            a, b = os.stat(self.exe_path), os.stat(path)
        except (OSError, ValueError):
            return False
        return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)

    def _close_on_exec(self):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in self.reserved_fds:
                continue
            try:
                if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                    os.close(fd)
            except OSError:
                pass
