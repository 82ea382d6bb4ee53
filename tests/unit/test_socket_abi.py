"""socket_abi: guest <-> host conversion of socket addresses and control messages.

Every ABI family pydbt has today is LP64 like the host, so the guest programs
(tests/guest/sockets.c) only cross the same-layout paths.  Here a guest family
with 32-bit cmsghdr lengths and 4-byte CMSG_ALIGN (an ILP32 ABI's layout) checks
the field-by-field conversion, including the kernel's put_cmsg truncation rules
(MSG_CTRUNC, SCM_RIGHTS fds that do not fit are closed)."""
import errno
import os
import struct

import pytest

from pydbt.runtime import abi
from pydbt.runtime import socket_abi as sa

ILP32 = sa.Layouts(
    abi.Struct("msghdr", [("msg_name", "I"), ("msg_namelen", "i"), ("msg_iov", "I"), ("msg_iovlen", "I"),
                          ("msg_control", "I"), ("msg_controllen", "I"), ("msg_flags", "i")]),
    abi.Struct("mmsghdr_tail", [("msg_len", "I")]),
    abi.Struct("cmsghdr", [("cmsg_len", "I"), ("cmsg_level", "i"), ("cmsg_type", "i")]), 4)


class Mem:
    def __init__(self):
        self.b = bytearray(1 << 16)

    def read(self, a, n):
        if a == 0 or a + n > len(self.b):
            raise OSError(errno.EFAULT, "fault")
        return bytes(self.b[a:a + n])

    def write(self, a, data):
        if a == 0 or a + len(data) > len(self.b):
            raise OSError(errno.EFAULT, "fault")
        self.b[a:a + len(data)] = data


class Proc:
    class arch:
        abi = "generic64"

    def __init__(self):
        self.mem = Mem()
        self.reserved_fds = set()
        self.log = None

    def host_path(self, p):
        return b"/sysroot" + p if p.startswith(b"/run/") else p


@pytest.fixture
def proc(monkeypatch):
    monkeypatch.setitem(sa.LAYOUTS, "generic64", ILP32)
    return Proc()


def _ilp32_cmsg(level, typ, payload):
    ln = 12 + len(payload)
    return struct.pack("<Iii", ln, level, typ) + payload + b"\0" * (-ln % 4)


def _host_cmsg(level, typ, payload):
    ln = 16 + len(payload)
    return struct.pack("<Qii", ln, level, typ) + payload + b"\0" * (-ln % 8)


def test_control_in_rebuilds_headers_in_the_host_layout(proc):
    guest = _ilp32_cmsg(1, 1, struct.pack("<i", 5)) + _ilp32_cmsg(1, 2, struct.pack("<iII", 7, 8, 9))
    want = _host_cmsg(1, 1, struct.pack("<i", 5)) + _host_cmsg(1, 2, struct.pack("<iII", 7, 8, 9))
    assert sa.control_in(proc, guest) == want


def test_control_in_checks_lengths_and_pydbts_fds(proc):
    with pytest.raises(OSError) as e:
        sa.control_in(proc, struct.pack("<Iii", 4, 1, 1) + b"\0" * 4)      # shorter than a header
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        sa.control_in(proc, struct.pack("<Iii", 40, 1, 1) + b"\0" * 4)     # past the buffer
    assert e.value.errno == errno.EINVAL
    proc.reserved_fds.add(9)
    with pytest.raises(OSError) as e:
        sa.control_in(proc, _ilp32_cmsg(1, 1, struct.pack("<ii", 4, 9)))
    assert e.value.errno == errno.EBADF
    assert sa.control_in(proc, b"\0" * 8) == b""                          # no room for a header: none


def test_control_out_cuts_rights_and_closes_what_does_not_fit(proc):
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    try:
        host = _host_cmsg(1, 1, struct.pack("<3i", *fds))
        out, flags = sa.control_out(proc, host, 12 + 8)                  # room for two
        assert flags == sa.MSG_CTRUNC
        assert out == struct.pack("<Iii", 20, 1, 1) + struct.pack("<2i", *fds[:2])
        with pytest.raises(OSError):
            os.fstat(fds[2])                                              # closed: never the guest's
        os.fstat(fds[1])
        out, flags = sa.control_out(proc, _host_cmsg(1, 1, struct.pack("<i", fds[0])), 8)
        assert (out, flags) == (b"", sa.MSG_CTRUNC)                      # no room for a header
        with pytest.raises(OSError):
            os.fstat(fds[0])
        creds = struct.pack("<iII", 1, 2, 3)
        out, flags = sa.control_out(proc, _host_cmsg(1, 2, creds), 64)
        assert (out, flags) == (_ilp32_cmsg(1, 2, creds), 0)
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def test_received_fds_of_a_cut_message():
    host = _host_cmsg(1, 1, struct.pack("<3i", 10, 11, 12))
    cut = host[:16 + 8]                   # the kernel's MSG_CTRUNC output: header keeps the full length
    assert sa.received_fds(cut) == [10, 11]


def test_unix_paths_follow_the_sysroot_rule(proc):
    def put(data):
        proc.mem.write(0x100, data)
        return sa.addr_in(proc, 0x100, len(data))

    fam = struct.pack("<H", sa.AF_UNIX)
    assert put(fam + b"/run/x.sock\0") == fam + b"/sysroot/run/x.sock\0"
    assert put(fam + b"/tmp/x.sock\0") == fam + b"/tmp/x.sock\0"
    assert put(fam + b"\0/run/abstract") == fam + b"\0/run/abstract"         # abstract: unchanged
    inet = struct.pack("<H", sa.AF_INET) + b"\x12\x34\x7f\0\0\x01" + bytes(8)
    assert put(inet) == inet
    with pytest.raises(OSError) as e:
        sa.addr_in(proc, 0x100, 129)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        sa.addr_in(proc, 0x100, -1 & 0xffffffff)
    assert e.value.errno == errno.EINVAL
    assert sa.addr_in(proc, 0, 0) is None


def test_addr_out_copies_what_fits_and_returns_the_full_length(proc):
    proc.mem.write(0x200, struct.pack("<i", 4))
    sa.addr_out(proc, b"ABCDEFGHIJKLMNOP", 16, 0x100, 0x200)
    assert proc.mem.read(0x100, 6) == b"ABCD\0\0" and proc.mem.read(0x200, 4) == struct.pack("<i", 16)
    proc.mem.write(0x200, struct.pack("<i", -1))
    with pytest.raises(OSError) as e:
        sa.addr_out(proc, b"ABCD", 4, 0x100, 0x200)
    assert e.value.errno == errno.EINVAL
    sa.addr_out(proc, b"ABCD", 4, 0, 0x200)                               # optional: not asked for
    with pytest.raises(OSError):
        sa.addr_out(proc, b"ABCD", 4, 0, 0x200, optional=False)


def test_timeval_options_are_converted(proc):
    tv = abi.family(proc).timeval.pack(tv_sec=3, tv_usec=250000)
    assert abi.HOST.timeval.unpack(sa.timeval_in(proc, tv)) == {"tv_sec": 3, "tv_usec": 250000}
    with pytest.raises(OSError) as e:
        sa.timeval_in(proc, tv[:8])
    assert e.value.errno == errno.EINVAL
