"""`-g`: where pydbt waits for gdb, and how a debugging session is set up.

pydbt listens (a TCP port on 127.0.0.1, or a unix socket path where `%d` is the
pid), says where on stderr, and accepts gdb before the first guest
instruction.  Then the connection goes to a supervisor process made by a double
fork (supervisor.py: it owns the connection and multiplexes every debugged
guest process), and this guest process becomes its first client: an agent
(agent.py) on one end of a socketpair, stopped until gdb resumes it.  Guest
processes forked later get channels of their own (agent.py's fork hooks).

A program gdb starts (`run` in extended-remote: vRun) is a new pydbt process
the supervisor launches with the first one's options (`Launcher`); it finds its
channel in the environment (AGENT_FD, unset for the guest by `-U`) instead of
listening.
"""
import os
import socket
import sys

from pydbt.runtime import ownfds

from .agent import Agent


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


AGENT_FD = "PYDBT_GDB_AGENT_FD"


class Launcher:
    """How the supervisor starts a program for gdb's vRun: pydbt again, with the
    first process's options (and its working directory and environment, which
    the supervisor keeps), the program and arguments gdb names (the first
    program when gdb names none)."""

    def __init__(self, proc):
        raw = sys.argv[1:]
        nargs = len(proc.argv) - 1
        tail = len(raw) - 1 - nargs
        self.head = raw[:tail] if tail >= 0 else None        # "run", the options (-g ...)
        self.prog = raw[tail] if tail >= 0 else None
        self.args = raw[tail + 1:] if tail >= 0 else []

    def command(self, prog=None, args=None):
        if self.head is None:
            return None
        if self.head and self.head[-1] == "--":
            head, sep = self.head[:-1], ["--"]
        else:
            head, sep = self.head, []
        return [sys.executable, "-m", "pydbt", *head, "-U", AGENT_FD, *sep,
                prog or self.prog, *(self.args if prog is None and args is None else args or [])]


def start(proc, spec):
    """-g: listen, say where on stderr, wait for gdb, hand the connection to a
    new supervisor; returns this process's agent once gdb resumed the guest.
    (A program gdb started: the channel to the supervisor is given.)"""
    given = os.environ.pop(AGENT_FD, None)
    if given is not None and given.isdigit():
        agent = Agent(proc, ownfds.hide(proc, int(given)))
        proc.debugger = agent
        agent.start(wait="resume")
        return agent
    listener, where = listen(spec, proc.pid)
    sys.stderr.write(f"pydbt: waiting for gdb on {where}\n")
    sys.stderr.flush()
    conn, _ = listener.accept()
    listener.close()
    if conn.family == socket.AF_INET:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    _spawn_supervisor(conn, theirs, proc.pid, Launcher(proc))
    conn.close()
    theirs.close()
    agent = Agent(proc, ownfds.hide(proc, mine.detach()))
    proc.debugger = agent
    agent.start(wait="resume")
    return agent


def _spawn_supervisor(conn, sock, pid, launcher):
    """A double fork: the supervisor is no guest's child (wait4 never sees it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    middle = os.fork()
    if middle == 0:
        try:
            if os.fork() == 0:
                from .supervisor import serve
                try:
                    serve(conn, sock, pid, launcher)
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(middle, 0)
