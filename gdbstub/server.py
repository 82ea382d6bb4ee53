"""The gdb server for one process: the connection, the stopped/running states,
and the hooks the exec loop calls.

Threads:
* a *reader* owns reads from the socket: it acks packets (until
  QStartNoAckMode), answers bad checksums with `-`, resends on `-`, and queues
  packets, `\\x03` interrupts and the end of the connection in `inbox`;
* a *control* thread owns gdb's side of the conversation.  While the guest
  runs it waits on `inbox` for a stop: a task's event (breakpoint hit, step
  done: the task queues it and waits, outside guest code), a Ctrl-C, the
  process's exit or death.  Then it stops the world with the exclusive section
  (`run_alone`: every task parked at a TB boundary or outside guest code = gdb's
  all-stop) and serves packets (commands.py) until one resumes the guest.

Tasks that gdb keeps stopped while others run (vCont with no action for them)
wait in `check` at the top of their exec loop.  Events that arrive while
stopped are reported after a resume that lets their task run (a breakpoint hit
whose breakpoint gdb removed meanwhile is dropped: the task runs the
instruction again).
"""
import os
import queue
import signal
import socket
import sys
import threading

from . import packets
from .commands import Session, Resume
from .target import Target

EOF_ = "eof"


class _Event:
    def __init__(self, kind, task=None, value=0, reason=None):
        self.kind, self.task, self.value, self.reason = kind, task, value, reason
        self.done = threading.Event()


def listen(spec, pid):
    """spec: a TCP port (127.0.0.1) or a unix socket path (`%d` -> pid).
    Returns (listening socket, where it listens, as a text)."""
    if spec.isdigit():
        port = int(spec)
        if not 0 < port < 65536:
            raise ValueError(f"bad port {spec}")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        where = f"127.0.0.1:{port}"
    else:
        path = spec.replace("%d", str(pid))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s.bind(path)
        where = path
    s.listen(1)
    return s, where


class GdbServer:
    def __init__(self, proc, listener):
        self.proc = proc
        self.target = Target(proc)
        self.session = Session(self.target)
        self.listener = listener
        self.conn = None
        self.inbox = queue.Queue()
        self.send_lock = threading.Lock()
        self.last_sent = b""
        self.active = True               # False once gdb detached or went away
        self.held = set()
        self.hold = threading.Condition()
        self.deferred = []
        self.started = threading.Event()
        self.exiting = False

    # --- connection -------------------------------------------------------------------
    def wait_for_gdb(self):
        """Accept gdb, stop before the first instruction, return once gdb resumes."""
        self.conn, _ = self.listener.accept()
        self.listener.close()
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) \
            if self.conn.family == socket.AF_INET else None
        self.conn.set_inheritable(False)
        self._hook_process()
        os.register_at_fork(after_in_child=self._after_fork_child)
        threading.Thread(target=self._reader, name="gdb-reader", daemon=True).start()
        threading.Thread(target=self._control, name="gdb-control", daemon=True).start()
        self.started.wait()

    def _hook_process(self):
        """See the process's ends (exit from any task, death by a signal): the
        process and its signals tell `proc.debugger`."""
        self.proc.debugger = self

    def died(self, sig):
        self._report(_Event("signal", value=sig))

    def send(self, data, rle=False):
        pkt = packets.frame(data, rle)
        with self.send_lock:
            self.last_sent = pkt
            self._write(pkt)

    def _write(self, raw):
        try:
            self.conn.sendall(raw)
        except OSError:
            pass

    def _reader(self):
        reader = packets.Reader()
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.inbox.put(EOF_)
                return
            for item in reader.feed(data):
                noack = self.session.noack
                if item is packets.ACK:
                    continue
                if item is packets.NAK:
                    with self.send_lock:
                        self._write(self.last_sent)
                    continue
                if item is packets.BAD:
                    if not noack:
                        with self.send_lock:
                            self._write(b"-")
                    continue
                if item is not packets.INTERRUPT and not noack:
                    with self.send_lock:
                        self._write(b"+")
                self.inbox.put(item)

    # --- the control thread --------------------------------------------------------------------
    def _control(self):
        self.session.stop_reply(self.proc.leader.tid, 5)    # (gdb asks with `?`)
        self._stop(None)
        self.started.set()
        while self.active:
            item = self._next_item()
            if item is EOF_:
                self._gone()
                return
            if item is packets.INTERRUPT:
                self._stop(self.session.stop_reply(self.session._tid(self.session.g_tid), signal.SIGINT))
            elif isinstance(item, _Event):
                self._event(item)
            # (a packet while the guest runs: gdb sends none in all-stop; dropped)

    def _next_item(self):
        """A deferred event first, unless its task is one gdb keeps stopped (gdb
        must not hear of a thread it did not resume: it waits for its step)."""
        for i, ev in enumerate(self.deferred):
            if ev.task is None or ev.task.tid not in self.held:
                return self.deferred.pop(i)
        return self.inbox.get()

    def _event(self, ev):
        if ev.kind == "exit":
            self.send(self.session.exit_reply(ev.value))
            self.active = False
        elif ev.kind == "signal":
            self.send(self.session.signal_reply(ev.value))
            self.active = False
        elif ev.kind == "break" and ev.task.cpu.pc not in self.target.breakpoints:
            pass                         # removed meanwhile: the task runs it again
        else:
            self._stop(self.session.stop_reply(ev.task.tid, 5, ev.reason))
        ev.done.set()

    def _stop(self, reply):
        """All-stop: park every task, serve gdb until it resumes."""
        self.proc.exclusive.run_alone(self._serve, reply)

    def _serve(self, reply):
        s = self.session
        if reply is not None:
            self.send(reply)
        while True:
            item = self.inbox.get()
            if item is EOF_:
                self.inbox.put(EOF_)     # (the control loop sees it too)
                self._resume(Resume(detach=True))
                return
            if isinstance(item, _Event):
                self.deferred.append(item)
                continue
            if item is packets.INTERRUPT:
                continue
            if item is packets.TOO_LONG:
                self.send(b"E01")
                continue
            out = s.handle(item)
            if isinstance(out, Resume):
                self._resume(out)
                return
            self.send(out, rle=item[:1] in (b"g", b"p", b"m"))

    def _resume(self, r):
        t = self.target
        if r.kill:
            self.send(b"OK")             # (vKill's reply; `k` expects none and ignores it)
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        if r.detach:
            self.send(b"OK")
            self._detach()
            return
        for tid, sig in r.signals.items():
            task = t.task(tid)
            if task is not None:
                task.sigpending.append((sig, {"code": 0, "pid": 0, "uid": 0}))
        t.stepping = set(r.step)
        with self.hold:
            self.held = set(r.held)
            self.hold.notify_all()

    def _detach(self):
        self.active = False
        self.target.clear()
        self.session.close_files()
        with self.hold:
            self.held = set()
            self.hold.notify_all()
        for ev in self.deferred:
            ev.done.set()
        self.deferred = []
        try:
            self.conn.close()
        except OSError:
            pass

    def _after_fork_child(self):
        """A forked guest child is not debugged (gdb's detach-on-fork, the only mode
        of phase 1): its copy of the breakpoints and the connection go away."""
        self.active = False
        self.target.clear()
        self.held = set()
        self.deferred = []
        try:
            self.conn.close()
        except OSError:
            pass

    def _gone(self):
        """gdb closed the connection: the guest runs on without it."""
        self._detach()
        while True:                      # release tasks still waiting on an event
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Event):
                item.done.set()

    # --- hooks for the exec loop (a task's own thread) -------------------------------------------
    def check(self, task):
        """At the top of a task's loop: wait while gdb keeps this task stopped."""
        excl = self.proc.exclusive
        while self.active and task.tid in self.held:
            excl.leave()
            try:
                with self.hold:
                    while self.active and task.tid in self.held:
                        self.hold.wait()
            finally:
                excl.enter()         # (may wait for a new stop, which may hold it again)

    def stepping(self, task):
        return task.tid in self.target.stepping

    def breakpoint_hit(self, task, pc):
        """A TB stopped before a breakpoint at pc: True if it is gdb's (reported)."""
        reason = self.target.stop_reason(pc)
        if reason is None or not self.active:
            return False
        self._report(_Event("break", task, reason=reason), task)
        return True

    def step_done(self, task):
        self.target.stepping.discard(task.tid)
        if self.active:
            self._report(_Event("step", task), task)

    def exited(self, status):
        if not self.exiting:
            self.exiting = True
            self._report(_Event("exit", value=status))

    def _report(self, ev, task=None):
        """Queue ev for the control thread and wait until gdb lets the guest go on
        (a task waits outside guest code, so the all-stop can happen)."""
        if not self.active:
            return
        excl = self.proc.exclusive
        if task is not None:
            excl.leave()
        try:
            self.inbox.put(ev)
            while not ev.done.wait(0.5):
                if not self.active:
                    break
        finally:
            if task is not None:
                excl.enter()


def start(proc, spec):
    """-g: listen, say where on stderr, wait for gdb; returns the server."""
    listener, where = listen(spec, proc.pid)
    sys.stderr.write(f"pydbt: waiting for gdb on {where}\n")
    sys.stderr.flush()
    server = GdbServer(proc, listener)
    server.wait_for_gdb()
    return server
