"""The supervisor: the one process that owns gdb's connection, and talks to
every debugged guest process over a channel of its own (channel.py, agent.py).

Why a process of its own: with detach-on-fork off gdb keeps a parent and its
child stopped at once and talks to either; a stub living inside one guest
process (QEMU's design) cannot serve the other, and its exit would drop the
connection.  `-g` makes the supervisor by a double fork before the guest runs
(server.py): it is nobody's child, so a guest's wait4 sees only its real
children, and pydbt's own exit status stays the guest's.  It holds no guest
descriptor (its stdin/stdout/stderr are /dev/null), ignores the terminal's
SIGINT (gdb sends Ctrl-C as `\\x03`), and ends when gdb closes the connection;
closing a channel lets that guest run on undebugged.

Routing: gdb's thread ids `p<pid>.<tid>` name the process.  `Hg`/`Hc` choose
the process that register, memory and breakpoint packets go to (forwarded as
they are: the agent answers); `vCont` goes to each process one of its actions
names (the others stay stopped: gdb's "resume one inferior while the other
waits"); `D;pid` / `vKill;pid` end one process's debugging; `qfThreadInfo`
and `qXfer:threads` gather every process's threads; `QCatchSyscalls`,
`QPassSignals`, `QProgramSignals` and `QThreadEvents` go to all; `vFile` goes to the process a `/proc/<pid>/` path names (else the current
one), its descriptors renumbered here.

All-stop across processes: a stop reported by one process first stops every
other running one ("S"); an event that reaches the supervisor while gdb
already has a stop (a race) is kept pending and reported at the next resume
of its process instead of resuming it.  A fork event carries the child's
channel: the child is adopted, stopped at the fork return, when the event is
reported.  An exit (`W`/`X`) is forwarded and the process forgotten; a
channel that ends without one (the process was killed from outside) is
reported as `X09`.

Extended-remote (gdb's `!`): `vRun` starts a program (the first one again,
with its options, or the one and the arguments gdb names) as a new pydbt
process adopted stopped at its first instruction (server.Launcher); so the
supervisor keeps dups of the first process's stdin/stdout/stderr for it, as
gdbserver's inferiors share its terminal (without `!` they are closed at the
first packet that is not part of the handshake).  `vAttach` is refused (E01):
pydbt runs only the programs it starts.
"""
import os
import queue
import re
import signal
import socket
import subprocess
import threading

from . import packets

EOF_ = "eof"
_GONE = "gone"


class _Proc:
    """One debugged guest process, as the supervisor sees it."""

    def __init__(self, pid, sock):
        from .channel import Channel
        self.pid = pid
        self.chan = Channel(sock)
        self.replies = queue.Queue()
        self.running = False
        self.pending = []                # (stop reply, fd) gdb has not heard of yet


_HANDSHAKE = (b"qSupported", b"QStartNoAckMode", b"vMustReplyEmpty", b"!")


class Supervisor:
    def __init__(self, conn, sock, pid, launcher=None, stdio=None):
        self.launcher = launcher
        self.stdio = stdio               # the first process's stdin/stdout/stderr (dups), for vRun
        self.extended = False
        self.conn = conn
        self.inbox = queue.Queue()
        self.send_lock = threading.Lock()
        self.last_sent = b""
        self.noack = False
        self.offered = set()             # what gdb's qSupported offered
        self.procs = {}
        self.g_pid = self.c_pid = pid
        self.waiting = False             # gdb waits for a stop reply
        self.last_stop = None
        self.vfiles = {}                 # our vFile fd -> (process, its fd)
        self._adopt(pid, sock)

    # --- processes ----------------------------------------------------------------
    def _adopt(self, pid, sock):
        p = _Proc(pid, sock)
        self.procs[pid] = p
        threading.Thread(target=self._agent_reader, args=(p,), name=f"agent-{pid}", daemon=True).start()
        if self.offered:
            p.chan.send(b"O", self._options())
        return p

    def _options(self):
        mp = b"multiprocess" in self.offered
        opts = [b"mp=%d" % mp]
        for name in (b"fork", b"vfork", b"exec"):
            opts.append(name + b"=%d" % (mp and name + b"-events" in self.offered))
        return b",".join(opts)

    def _agent_reader(self, p):
        while True:
            msg = p.chan.recv()
            if msg is None:
                p.replies.put(_GONE)
                self.inbox.put(("gone", p, b"", None))
                return
            kind, data, fd = msg
            if kind == b"R":
                p.replies.put(data)
            else:
                self.inbox.put(("event", p, data, fd))

    def _ask(self, p, kind, data=b""):
        """A request to p's agent and its answer (None: the process is gone)."""
        if not p.chan.send(kind, data):
            return None
        r = p.replies.get()
        if r is _GONE:
            p.replies.put(_GONE)
            return None
        return r

    def _forget(self, p):
        if self.procs.get(p.pid) is p:
            del self.procs[p.pid]
        p.chan.close()
        for _, fd in p.pending:
            if fd is not None:
                os.close(fd)
        p.pending = []
        for vfd in [v for v, (q, _) in self.vfiles.items() if q is p]:
            del self.vfiles[vfd]
        if self.g_pid == p.pid:
            self.g_pid = next(iter(self.procs), p.pid)
        if self.c_pid == p.pid:
            self.c_pid = self.g_pid

    def _current(self, pid=None):
        if pid is None:
            pid = self.g_pid
        return self.procs.get(pid) or next(iter(self.procs.values()), None)

    # --- gdb's connection -------------------------------------------------------------
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

    def _gdb_reader(self):
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
                if item is packets.ACK:
                    continue
                if item is packets.NAK:
                    with self.send_lock:
                        self._write(self.last_sent)
                    continue
                if item is packets.BAD:
                    if not self.noack:
                        with self.send_lock:
                            self._write(b"-")
                    continue
                if item is not packets.INTERRUPT and not self.noack:
                    with self.send_lock:
                        self._write(b"+")
                self.inbox.put(item)

    # --- the main loop ------------------------------------------------------------------
    def run(self):
        threading.Thread(target=self._gdb_reader, name="gdb-reader", daemon=True).start()
        while True:
            item = self.inbox.get()
            if item is EOF_:
                break
            if isinstance(item, tuple):
                self._agent_event(*item)
            elif item is packets.INTERRUPT:
                if self.waiting:
                    self._interrupt()
            elif item is packets.TOO_LONG:
                self.send(b"E01")
            elif not self.waiting:       # (gdb sends no packet while all-stop runs)
                if self.stdio and not self.extended and not item.startswith(_HANDSHAKE):
                    self._drop_stdio()   # (not extended-remote: no vRun will want them)
                out = self._packet(item)
                if out is not None:
                    self.send(out, rle=item[:1] in (b"g", b"p", b"m"))
        for p in list(self.procs.values()):       # gdb went away: every guest runs on
            p.chan.close()

    def _agent_event(self, what, p, data, fd):
        if self.procs.get(p.pid) is not p:       # (after D, vKill, or its W)
            if fd is not None:
                os.close(fd)
            return
        if what == "gone":
            data = b"X09;process:%x" % p.pid     # killed from outside
        p.running = False
        if self.waiting:
            self._stop_running()
            self._report(p, data, fd)
        else:
            p.pending.append((data, fd))

    def _stop_running(self):
        for q in list(self.procs.values()):
            if q.running:
                q.running = False
                self._ask(q, b"S")

    def _interrupt(self):
        """Ctrl-C: stop every running process; report the first one's stop."""
        first = None
        for q in list(self.procs.values()):
            if q.running:
                q.running = False
                r = self._ask(q, b"S")
                if r and first is None:
                    first = (q, r)
        if first is not None:
            self._report(first[0], first[1], None)
        # (else the processes had events of their own on the way: reported next)

    def _report(self, p, data, fd):
        self.waiting = False
        if data[:1] in (b"W", b"X"):
            self._forget(p)
        else:
            self.last_stop = data
            self.g_pid = self.c_pid = p.pid
            if fd is not None:
                m = re.search(rb"fork:p([0-9a-f]+)\.", data)
                if m:
                    self._adopt(int(m.group(1), 16), socket.socket(fileno=fd))
                else:
                    os.close(fd)
        self.send(data)

    # --- packets ----------------------------------------------------------------------------
    def _packet(self, pkt):
        for name, exact, fn in _TABLE:
            if pkt == name or not exact and pkt.startswith(name):
                try:
                    return fn(self, pkt[len(name):], pkt)
                except (ValueError, IndexError, KeyError):
                    return b"E01"
        return self._forward(self._current(), pkt)

    def _forward(self, p, pkt):
        if p is None:
            return b"E01"
        r = self._ask(p, b"P", pkt)
        return b"E01" if r is None else r

    def _pid_of(self, thread):
        """The process a thread id names: None (all), 0 (the current one) or a pid."""
        if thread in (b"", b"-1"):
            return None
        if not thread.startswith(b"p"):
            return 0
        pid = thread[1:].partition(b".")[0]
        return None if pid == b"-1" else int(pid, 16)

    def q_supported(self, args, pkt):
        self.offered = {f[:-1] for f in args.lstrip(b":").split(b";") if f.endswith(b"+")}
        feats = [b"PacketSize=%x" % packets.MAX_PACKET, b"qXfer:features:read+", b"qXfer:auxv:read+",
                 b"qXfer:exec-file:read+", b"qXfer:threads:read+", b"multiprocess+", b"swbreak+",
                 b"hwbreak+", b"vContSupported+", b"QStartNoAckMode+", b"QCatchSyscalls+",
                 b"QPassSignals+", b"QProgramSignals+", b"qXfer:siginfo:read+", b"qXfer:siginfo:write+", b"QThreadEvents+"]
        if b"multiprocess" in self.offered:
            feats += [f + b"+" for f in (b"fork-events", b"vfork-events", b"exec-events") if f in self.offered]
        for p in self.procs.values():
            p.chan.send(b"O", self._options())
        return b";".join(feats)

    def start_noack(self, args, pkt):
        self.noack = True
        return b"OK"

    def why_stopped(self, args, pkt):
        if self.last_stop is None:
            self.last_stop = self._forward(self._current(), pkt)
        return self.last_stop

    def attached(self, args, pkt):
        return b"0"                      # we started the processes: gdb kills them on quit

    def thread_info(self, args, pkt):
        ids = []
        for p in list(self.procs.values()):
            r = self._ask(p, b"P", b"qfThreadInfo")
            if r and r.startswith(b"m"):
                ids.append(r[1:])
        return b"m" + b",".join(ids) if ids else b"l"

    def thread_info_next(self, args, pkt):
        return b"l"

    def thread_alive(self, args, pkt):
        pid = self._pid_of(args)
        return self._forward(self.procs.get(pid) if pid else self._current(), pkt)

    def thread_extra(self, args, pkt):
        pid = self._pid_of(args.lstrip(b","))
        return self._forward(self.procs.get(pid) if pid else self._current(), pkt)

    def set_thread(self, args, pkt):
        op, pid = args[:1], self._pid_of(args[1:])
        if op == b"c" and pid is None:
            return b"OK"                 # (every thread: vCont says which)
        if pid in (None, 0):
            p = self._current(self.g_pid if op == b"g" else self.c_pid)
        else:
            p = self.procs.get(pid)
        r = self._forward(p, pkt)
        if r == b"OK":
            if op == b"g":
                self.g_pid = p.pid
            else:
                self.c_pid = p.pid
        return r

    def xfer(self, args, pkt):
        obj, _, rest = args.partition(b":")
        op, _, rest = rest.partition(b":")
        annex, _, span = rest.rpartition(b":")
        if obj == b"threads" and op == b"read":
            rows = b"".join(self._ask(p, b"P", b"@rows") or b"" for p in list(self.procs.values()))
            data = b'<?xml version="1.0"?>\n<threads>\n' + rows + b"</threads>\n"
            off, _, length = span.partition(b",")
            off, length = int(off, 16), int(length, 16)
            chunk = data[off:off + length]
            return (b"m" if off + len(chunk) < len(data) else b"l") + packets.escape(chunk)
        p = self._current()
        if obj == b"exec-file" and annex:
            p = self.procs.get(int(annex, 16)) or p
        return self._forward(p, pkt)

    def vcont_query(self, args, pkt):
        return b"vCont;c;C;s;S;t;r"

    def vcont(self, args, pkt):
        acts = [a for a in args.split(b";") if a]
        if not acts:
            return b"E01"
        targets = []
        for p in self.procs.values():
            if p.running:
                continue
            for a in acts:
                pid = self._pid_of(a.partition(b":")[2])
                if pid is None or pid == p.pid or pid == 0 and p.pid == self.g_pid:
                    targets.append(p)
                    break
        if not targets:
            return b"E01"
        for p in targets:
            if p.pending:                # a stop gdb has not heard of: that first
                data, fd = p.pending.pop(0)
                self._report(p, data, fd)
                return None
        return self._resume(targets, pkt)

    def _resume(self, targets, pkt):
        """Forward a resume to each process; no reply now (a stop reply comes
        later) unless none of them took it (malformed: its error)."""
        err = None
        for p in targets:
            r = self._ask(p, b"P", pkt)
            if r == b"OK":
                p.running = True
                self.waiting = True
            elif err is None:
                err = r or b"E01"
        return None if self.waiting else err

    def old_resume(self, args, pkt):
        p = self._current(self.c_pid)
        if p is None:
            return b"E01"
        if p.pending:
            data, fd = p.pending.pop(0)
            self._report(p, data, fd)
            return None
        return self._resume([p], pkt)

    def detach(self, args, pkt):
        return self._end_each(args, b"D")

    def kill(self, args, pkt):
        return self._end_each(args, b"vKill")

    def _end_each(self, args, request):
        """`D[;pid]` / `vKill;pid`: send request to that process, or to every one,
        and forget it."""
        if args.startswith(b";"):
            p = self.procs.get(int(args[1:], 16))
            if p is None:
                return b"E01"
            targets = [p]
        else:
            targets = list(self.procs.values())
        for p in targets:
            self._ask(p, b"P", request)
            self._forget(p)
        return b"OK"

    def to_all(self, args, pkt):
        replies = [self._ask(p, b"P", pkt) for p in list(self.procs.values())]
        return b"OK" if all(r == b"OK" for r in replies) else b"E01"

    def vfile(self, args, pkt):
        op, _, rest = args.partition(b":")
        fields = rest.split(b",")
        if op == b"setfs":
            return b"F0"
        if op in (b"open", b"readlink"):
            path = bytes.fromhex(fields[0].decode())
            m = re.match(rb"/proc/(\d+)/", path)
            p = self.procs.get(int(m.group(1))) if m else None
            p = p or self._current()
            r = self._forward(p, pkt)
            if op == b"open" and r.startswith(b"F") and not r.startswith(b"F-"):
                vfd = max(self.vfiles, default=0) + 1
                self.vfiles[vfd] = (p, int(r[1:], 16))
                return b"F%x" % vfd
            return r
        vfd = int(fields[0], 16)
        if vfd not in self.vfiles:
            return b"F-1,9"              # EBADF
        p, fd = self.vfiles[vfd]
        if op == b"close":
            del self.vfiles[vfd]
        return self._forward(p, b"vFile:" + op + b":" + b",".join([b"%x" % fd] + fields[1:]))

    # --- extended-remote: starting programs ---------------------------------------------------
    def extended_mode(self, args, pkt):
        self.extended = True
        return b"OK"

    def _drop_stdio(self):
        for fd in self.stdio or ():
            os.close(fd)
        self.stdio = None

    def vrun(self, args, pkt):
        """vRun;<hex program>;<hex arg>...: a new process, stopped at its first
        instruction (its stop reply is the answer); E01 if it cannot start."""
        fields = args.split(b";")[1:]
        prog = bytes.fromhex(fields[0].decode()) if fields and fields[0] else None
        argv = [os.fsdecode(bytes.fromhex(a.decode())) for a in fields[1:]]
        cmd = self.launcher.command(os.fsdecode(prog) if prog else None, argv or None) \
            if self.launcher is not None and self.stdio else None
        if cmd is None:
            return b"E01"
        from .server import AGENT_FD
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        env[AGENT_FD] = str(theirs.fileno())
        try:
            child = subprocess.Popen(cmd, stdin=self.stdio[0], stdout=self.stdio[1], stderr=self.stdio[2],
                                     env=env, pass_fds=(theirs.fileno(),))
        except (OSError, ValueError):    # (no such interpreter, a NUL in a name)
            mine.close()
            theirs.close()
            return b"E01"
        theirs.close()
        threading.Thread(target=child.wait, name=f"reap-{child.pid}", daemon=True).start()
        p = self._adopt(child.pid, mine)
        r = self._ask(p, b"P", b"?")
        if r is None:                    # (pydbt refused it: its one line is on stderr)
            self._forget(p)
            return b"E01"
        self.last_stop = r
        self.g_pid = self.c_pid = p.pid
        return r

    def refuse(self, args, pkt):
        return b"E01"

    def internal(self, args, pkt):
        return b""                       # (our agents' own requests are not gdb's)


# name, exact match?, handler; everything else goes to the current process
COMMANDS = [
    (b"qSupported", False, Supervisor.q_supported),
    (b"QStartNoAckMode", True, Supervisor.start_noack),
    (b"?", True, Supervisor.why_stopped),
    (b"qAttached", False, Supervisor.attached),
    (b"qfThreadInfo", True, Supervisor.thread_info),
    (b"qsThreadInfo", True, Supervisor.thread_info_next),
    (b"T", False, Supervisor.thread_alive),
    (b"qThreadExtraInfo", False, Supervisor.thread_extra),
    (b"H", False, Supervisor.set_thread),
    (b"qXfer:", False, Supervisor.xfer),
    (b"vCont?", True, Supervisor.vcont_query),
    (b"vCont;", False, Supervisor.vcont),
    (b"c", False, Supervisor.old_resume),
    (b"C", False, Supervisor.old_resume),
    (b"s", False, Supervisor.old_resume),
    (b"S", False, Supervisor.old_resume),
    (b"D", False, Supervisor.detach),
    (b"vKill", False, Supervisor.kill),
    (b"k", True, Supervisor.kill),
    (b"QCatchSyscalls:", False, Supervisor.to_all),
    (b"QPassSignals:", False, Supervisor.to_all),
    (b"QProgramSignals:", False, Supervisor.to_all),
    (b"QThreadEvents:", False, Supervisor.to_all),
    (b"vFile:", False, Supervisor.vfile),
    (b"@", False, Supervisor.internal),
    (b"!", True, Supervisor.extended_mode),
    (b"vRun", False, Supervisor.vrun),
    (b"vAttach", False, Supervisor.refuse),
]
_TABLE = sorted(COMMANDS, key=lambda c: (not c[1], -len(c[0])))


def _quiet():
    """The supervisor keeps no guest descriptor and no guest signal handling."""
    signal.pthread_sigmask(signal.SIG_SETMASK, ())      # (pydbt blocks some in its threads)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_IGN if sig == signal.SIGINT else signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def serve(conn, sock, pid, launcher=None):
    """In the supervisor process: close everything else, serve gdb, end."""
    _quiet()
    try:
        stdio = [os.dup(fd) for fd in (0, 1, 2)]     # (for vRun; dropped unless extended-remote)
    except OSError:
        stdio = []
    keep = {conn.fileno(), sock.fileno(), *stdio}
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    Supervisor(conn, sock, pid, launcher, stdio).run()
