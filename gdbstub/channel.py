"""The channel between the supervisor (who owns gdb's connection) and one guest
process's agent: a unix stream socket carrying small typed messages, and the
descriptor of a new process's channel when a guest forks (SCM_RIGHTS).

A message is `<u32 length><kind byte><data>`.  Kinds:

* supervisor -> agent: `P` a gdb packet to serve (one `R` answers it), `S` stop
  now (answered by `R` with the stop reply, empty if already stopped), `O`
  options (no answer: `mp=1,fork=1,...`);
* agent -> supervisor: `R` the answer to the last request, `E` an event (a stop
  reply, `W..`/`X..` at the end), `F` an event that carries a descriptor (a
  fork: the child's channel).

Thread-safe for senders; one reader per channel.
"""
import socket
import struct
import threading

_HEAD = struct.Struct("<Ic")


class Channel:
    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.buf = b""
        self.fds = []                    # received descriptors not yet claimed by an F message

    def fileno(self):
        return self.sock.fileno()

    def send(self, kind, data=b"", fd=None):
        """False when the other side is gone."""
        msg = _HEAD.pack(len(data), kind) + data
        try:
            with self.lock:
                if fd is None:
                    self.sock.sendall(msg)
                else:
                    n = socket.send_fds(self.sock, [msg], [fd])
                    if n < len(msg):
                        self.sock.sendall(msg[n:])
            return True
        except OSError:
            return False

    def recv(self):
        """The next message as (kind, data, fd or None); None at the end."""
        while True:
            if len(self.buf) >= _HEAD.size:
                n, kind = _HEAD.unpack_from(self.buf)
                if len(self.buf) >= _HEAD.size + n:
                    data = self.buf[_HEAD.size:_HEAD.size + n]
                    self.buf = self.buf[_HEAD.size + n:]
                    fd = self.fds.pop(0) if kind == b"F" and self.fds else None
                    return kind, data, fd
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 4)
            except OSError:
                data, fds = b"", []
            self.fds += fds
            if not data:
                return None
            self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
