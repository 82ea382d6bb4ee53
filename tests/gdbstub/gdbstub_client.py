"""A minimal remote-protocol client for the packet-level tests (our own)."""
import os
import socket

from pydbt.gdbstub import packets

GDB = os.environ.get("PYDBT_GDB_CLIENT", "gdb-multiarch")


def no_core():
    """preexec_fn for gdb: an internal error of gdb must not leave a core file."""
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.noack = False

    def send_raw(self, data):
        self.sock.sendall(data)

    def unread(self, data):
        self.buf = data + self.buf

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("stub closed the connection")
        self.buf += chunk

    def read_byte(self):
        while not self.buf:
            self._fill()
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_packet(self, decode=True):
        """The next packet's data (acks before it skipped), checksum checked."""
        while True:
            b = self.read_byte()
            if b == b"$":
                break
            assert b in (b"+", b"-"), b
        while b"#" not in self.buf or len(self.buf) < self.buf.index(b"#") + 3:
            self._fill()
        i = self.buf.index(b"#")
        data, cs, self.buf = self.buf[:i], self.buf[i + 1:i + 3], self.buf[i + 3:]
        assert int(cs, 16) == packets.checksum(data), (data, cs)
        if not self.noack:
            self.send_raw(b"+")
        return packets.rle_decode(data) if decode else data

    def ask(self, data, decode=True):
        self.send_raw(packets.frame(data))
        return self.read_packet(decode)
