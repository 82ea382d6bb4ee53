"""Socket syscalls: socket, socketpair, bind, listen, accept(4), connect,
get{sock,peer}name, sendto/recvfrom, sendmsg/recvmsg, sendmmsg/recvmmsg,
shutdown, setsockopt/getsockopt.

Guest sockets are host sockets (pass-through, as QEMU): each handler converts
the guest's arguments (socket_abi.py: addresses with the -L rule for AF_UNIX
paths, msghdr/cmsg layouts, option values) and calls the host kernel with
`abi.host_syscall`, so errno values, partial transfers and fd numbers are the
kernel's.  Data buffers are guest memory handed to the host kernel in place
(sys_fs.host_span / _iovecs).  Calls that can wait (accept, connect, send*,
recv*) go through `proc.blocking`, which lets a guest signal interrupt them;
one on a socket with SO_RCVTIMEO/SO_SNDTIMEO set is then never restarted.

Families: AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK for NETLINK_ROUTE (its
messages are fixed-width native-endian structs, the same bytes for every
little-endian Linux ABI pydbt runs); other netlink protocols answer
EPROTONOSUPPORT and other families EAFNOSUPPORT, as a kernel built without
them (both logged under `-d unimp`).

pydbt's own fds look closed (EBADF), also inside SCM_RIGHTS.  EPIPE raises
SIGPIPE in the host thread as for write(), which the signal layer turns into
the guest's SIGPIPE (MSG_NOSIGNAL passes through, so no signal).
"""
import ctypes
import errno
import struct

from . import abi
from . import socket_abi as sa
from .abi import host_syscall as hsys, s32
from .memory import R, W
from .sys_fs import fd_arg, host_span, wrote, _iovecs, _scatter
from .syscalls import syscall
from ..errors import GuestFault

INT_MAX = 0x7fffffff
NETLINK_ROUTE = 0
CONTROL_MAX = 1 << 16                # host buffer for received control messages
_optmem = None


def _optmem_max():
    """The host's net.core.optmem_max: the largest control buffer sendmsg takes."""
    global _optmem
    if _optmem is None:
        try:
            with open("/proc/sys/net/core/optmem_max") as f:
                _optmem = int(f.read())
        except (OSError, ValueError):
            _optmem = 20480
    return _optmem


# signal(7): these never restart after a handler (SA_RESTART or not) when the
# socket has the timeout set: receive calls with SO_RCVTIMEO, send calls with SO_SNDTIMEO
_TIMEO = {"accept4": 20, "recvfrom": 20, "recvmsg": 20, "recvmmsg": 20,      # SO_RCVTIMEO
          "connect": 21, "sendto": 21, "sendmsg": 21}                          # SO_SNDTIMEO
SOL_SOCKET = 1


def _block(proc, name, *args, timed=False):
    """A socket call that may wait; timed: it has a timeout argument (recvmmsg)."""
    try:
        return proc.blocking(hsys, name, *args)
    except OSError as e:
        if e.errno == errno.EINTR and (timed or name in _TIMEO and _has_timeout(args[0], _TIMEO[name])):
            proc.task.no_restart = True
        raise


def _has_timeout(fd, opt):
    tv, n = abi.buf(16), ctypes.c_uint32(16)
    try:
        hsys("getsockopt", fd, SOL_SOCKET, opt, tv, ctypes.byref(n))
    except OSError:
        return False
    return any(tv.raw[:n.value])


def _sock_flags_to_host(proc, v):
    """SOCK_NONBLOCK/SOCK_CLOEXEC (the family's O_NONBLOCK/O_CLOEXEC) -> host
    values; other bits pass, for the host kernel's EINVAL."""
    fam = abi.family(proc)
    g_nb, g_ce = fam.open_flags["O_NONBLOCK"], fam.open_flags["O_CLOEXEC"]
    h_nb, h_ce = abi.HOST.open_flags["O_NONBLOCK"], abi.HOST.open_flags["O_CLOEXEC"]
    out = v & ~(g_nb | g_ce)
    if v & g_nb:
        out |= h_nb
    if v & g_ce:
        out |= h_ce
    return out


def _unsupported(proc, what):
    sa.log_unsupported(proc, "socket " + what)


# --- creating sockets ---------------------------------------------------------------
def _check_family(proc, domain, protocol):
    if domain in (sa.AF_UNIX, sa.AF_INET, sa.AF_INET6):
        return
    if domain == sa.AF_NETLINK:
        if protocol == NETLINK_ROUTE:
            return
        _unsupported(proc, f"protocol AF_NETLINK/{protocol}")
        raise sa.err(errno.EPROTONOSUPPORT)
    _unsupported(proc, f"family {domain}")
    raise sa.err(errno.EAFNOSUPPORT)


@syscall("socket")
def sys_socket(proc, domain, type_, protocol):
    domain, protocol = s32(domain), s32(protocol)
    _check_family(proc, domain, protocol)
    return hsys("socket", domain, _sock_flags_to_host(proc, s32(type_)), protocol)


@syscall("socketpair")
def sys_socketpair(proc, domain, type_, protocol, sv):
    domain, protocol = s32(domain), s32(protocol)
    _check_family(proc, domain, protocol)
    fds = (ctypes.c_int * 2)()
    hsys("socketpair", domain, _sock_flags_to_host(proc, s32(type_)), protocol, fds)
    try:
        proc.mem.write(sv, struct.pack("<ii", fds[0], fds[1]))
    except BaseException:
        hsys("close", fds[0])                # the kernel installs the fds only after the copy
        hsys("close", fds[1])
        raise
    return 0


@syscall("bind")
def sys_bind(proc, fd, addr, alen):
    fd = fd_arg(proc, fd)
    a = sa.addr_in(proc, addr, alen)
    return hsys("bind", fd, a, len(a) if a else 0)


@syscall("connect")
def sys_connect(proc, fd, addr, alen):
    fd = fd_arg(proc, fd)
    a = sa.addr_in(proc, addr, alen)
    return _block(proc, "connect", fd, a, len(a) if a else 0)


@syscall("listen")
def sys_listen(proc, fd, backlog):
    return hsys("listen", fd_arg(proc, fd), s32(backlog))


@syscall("accept")
def sys_accept(proc, fd, addr, lenp):
    return sys_accept4(proc, fd, addr, lenp, 0)


@syscall("accept4")
def sys_accept4(proc, fd, addr, lenp, flags):
    fd = fd_arg(proc, fd)
    ha = sa.HostAddr()
    new = _block(proc, "accept4", fd, ha.buf if addr else None, ha.lenp if addr else None,
                 _sock_flags_to_host(proc, s32(flags)))
    try:
        if addr:
            sa.addr_out(proc, ha.buf, ha.len.value, addr, lenp)
    except BaseException:
        hsys("close", new)                   # as the kernel: the connection is dropped
        raise
    return new


def _getname(proc, call, fd, addr, lenp):
    fd = fd_arg(proc, fd)
    ha = sa.HostAddr()
    hsys(call, fd, ha.buf, ha.lenp)
    sa.addr_out(proc, ha.buf, ha.len.value, addr, lenp, optional=False)
    return 0


@syscall("getsockname")
def sys_getsockname(proc, fd, addr, lenp):
    return _getname(proc, "getsockname", fd, addr, lenp)


@syscall("getpeername")
def sys_getpeername(proc, fd, addr, lenp):
    return _getname(proc, "getpeername", fd, addr, lenp)


@syscall("shutdown")
def sys_shutdown(proc, fd, how):
    return hsys("shutdown", fd_arg(proc, fd), s32(how))


# --- sending and receiving -----------------------------------------------------------
@syscall("sendto")
def sys_sendto(proc, fd, buf, length, flags, addr, alen):
    fd = fd_arg(proc, fd)
    ptr, n = host_span(proc, buf, min(length, INT_MAX), R)
    a = sa.addr_in(proc, addr, alen) if addr else None
    return _block(proc, "sendto", fd, ptr, n, s32(flags), a, len(a) if a else 0)


@syscall("recvfrom")
def sys_recvfrom(proc, fd, buf, length, flags, addr, lenp):
    fd = fd_arg(proc, fd)
    ptr, n = host_span(proc, buf, min(length, INT_MAX), W)
    ha = sa.HostAddr()
    r = _block(proc, "recvfrom", fd, ptr, n, s32(flags), ha.buf if addr else None, ha.lenp if addr else None)
    wrote(proc, buf, min(r, n))
    if addr:
        sa.addr_out(proc, ha.buf, ha.len.value, addr, lenp)
    return r


class HostMsg:
    """A host struct msghdr built from the guest's at `gaddr`, and what it takes
    to give the result back.  Keeps its host buffers alive."""

    def __init__(self, proc, gaddr, sending):
        self.proc, self.gaddr, self.sending = proc, gaddr, sending
        lay = self.lay = sa.guest_layouts(proc)
        m = self.g = lay.msghdr.unpack(proc.mem.read(gaddr, lay.msghdr.size))
        namelen = m["msg_namelen"] if m["msg_name"] else 0
        if namelen < 0:
            raise sa.err(errno.EINVAL)
        namelen = min(namelen, sa.SOCKADDR_MAX)
        self.name = None
        if sending and namelen:
            a = sa.addr_in(proc, m["msg_name"], namelen)
            self.name = ctypes.create_string_buffer(a, len(a))
        elif not sending and m["msg_name"]:
            self.name = ctypes.create_string_buffer(sa.SOCKADDR_MAX)
        if m["msg_iovlen"] > sa.UIO_MAXIOV:
            raise sa.err(errno.EMSGSIZE)
        self.iov, niov, self.parts = _iovecs(proc, m["msg_iov"], m["msg_iovlen"], R if sending else W)
        clen = m["msg_controllen"] if m["msg_control"] else 0
        self.control = None
        if sending and clen >= lay.cmsghdr.size:
            if clen > INT_MAX or clen > _optmem_max():
                raise sa.err(errno.ENOBUFS)
            data = sa.control_in(proc, proc.mem.read(m["msg_control"], clen))
            self.control = ctypes.create_string_buffer(data, len(data))
        elif sending and clen:
            proc.mem.read(m["msg_control"], clen)      # copied (EFAULT), too short for a message
        elif not sending and clen:
            self.control = ctypes.create_string_buffer(min(clen, CONTROL_MAX))
        h = sa.HOST
        self.host = h.msghdr.pack(
            msg_name=ctypes.addressof(self.name) if self.name else 0,
            msg_namelen=len(self.name) if self.name is not None else 0,
            msg_iov=ctypes.addressof(self.iov), msg_iovlen=niov,
            msg_control=ctypes.addressof(self.control) if self.control else 0,
            msg_controllen=len(self.control) if self.control is not None else 0,
            msg_flags=0)

    def received(self, hostbytes, r):
        """Give the guest what recvmsg returned (r bytes): data already in its
        buffers, then the sender's address, control messages and flags."""
        proc, lay, m = self.proc, self.lay, self.g
        _scatter(proc, self.parts, r)
        hm = sa.HOST.msghdr.unpack(hostbytes)
        fds = []
        if self.control is not None:
            data = self.control.raw[:hm["msg_controllen"]]
            fds = sa.received_fds(data)
        try:
            if self.name is not None:
                sa.addr_out(proc, self.name, hm["msg_namelen"], m["msg_name"],
                            self.gaddr + lay.off["msg_namelen"])
            flags, clen = hm["msg_flags"], 0
            if self.control is not None:
                gdata, extra = sa.control_out(proc, data, m["msg_controllen"])
                flags |= extra
                if gdata:
                    proc.mem.write(m["msg_control"], gdata)
                clen = len(gdata)
            lay.put(proc, self.gaddr, "msg_flags", flags)
            lay.put(proc, self.gaddr, "msg_controllen", clen)
        except BaseException:
            for fd in fds:                   # never seen by the guest
                try:
                    hsys("close", fd)
                except OSError:
                    pass
            raise


@syscall("sendmsg")
def sys_sendmsg(proc, fd, msg, flags):
    fd = fd_arg(proc, fd)
    hm = HostMsg(proc, msg, True)
    hbuf = ctypes.create_string_buffer(hm.host, len(hm.host))
    return _block(proc, "sendmsg", fd, hbuf, s32(flags))


@syscall("recvmsg")
def sys_recvmsg(proc, fd, msg, flags):
    fd = fd_arg(proc, fd)
    hm = HostMsg(proc, msg, False)
    hbuf = ctypes.create_string_buffer(hm.host, len(hm.host))
    r = _block(proc, "recvmsg", fd, hbuf, s32(flags))
    hm.received(hbuf.raw, r)
    return r


def _host_vector(proc, vec, vlen, sending):
    """HostMsgs for the guest's mmsghdr array (at most UIO_MAXIOV); a bad entry
    after the first cuts the vector there (the kernel returns what it did)."""
    lay = sa.guest_layouts(proc)
    msgs = []
    for i in range(min(vlen & 0xffffffff, sa.UIO_MAXIOV)):
        try:
            msgs.append(HostMsg(proc, vec + i * lay.mmsghdr_size, sending))
        except (OSError, GuestFault):
            if not msgs:
                raise
            break
    h = sa.HOST
    blob = b"".join(m.host + h.mmsg_tail.pack(msg_len=0) for m in msgs)
    return msgs, ctypes.create_string_buffer(blob, max(len(blob), 1))


def _msg_len_out(proc, vec, i, n):
    lay = sa.guest_layouts(proc)
    proc.mem.write(vec + i * lay.mmsghdr_size + lay.msghdr.size, lay.mmsg_tail.pack(msg_len=n))


@syscall("sendmmsg")
def sys_sendmmsg(proc, fd, vec, vlen, flags):
    fd = fd_arg(proc, fd)
    msgs, hbuf = _host_vector(proc, vec, vlen, True)
    r = _block(proc, "sendmmsg", fd, hbuf, len(msgs), s32(flags))
    h = sa.HOST
    for i in range(r):
        off = i * h.mmsghdr_size + h.msghdr.size
        _msg_len_out(proc, vec, i, h.mmsg_tail.unpack(hbuf.raw[off:off + h.mmsg_tail.size])["msg_len"])
    return r


@syscall("recvmmsg")
def sys_recvmmsg(proc, fd, vec, vlen, flags, timeout):
    fd = fd_arg(proc, fd)
    fam = abi.family(proc)
    ts = None
    if timeout:
        ts = abi.convert(proc.mem.read(timeout, fam.timespec.size), fam.timespec, abi.HOST.timespec)
        t = abi.HOST.timespec.unpack(ts)
        if t["tv_sec"] < 0 or not 0 <= t["tv_nsec"] < 1_000_000_000:
            raise sa.err(errno.EINVAL)
    msgs, hbuf = _host_vector(proc, vec, vlen, False)
    hts = ctypes.create_string_buffer(ts, len(ts)) if ts else None
    r = _block(proc, "recvmmsg", fd, hbuf, len(msgs), s32(flags), hts, timed=hts is not None)
    h = sa.HOST
    raw = hbuf.raw
    for i in range(r):
        off = i * h.mmsghdr_size
        n = h.mmsg_tail.unpack(raw[off + h.msghdr.size:off + h.mmsghdr_size])["msg_len"]
        msgs[i].received(raw[off:off + h.msghdr.size], n)
        _msg_len_out(proc, vec, i, n)
    if timeout:
        proc.mem.write(timeout, abi.convert(hts.raw, abi.HOST.timespec, fam.timespec))
    return r


# --- options ---------------------------------------------------------------------
@syscall("setsockopt")
def sys_setsockopt(proc, fd, level, opt, val, optlen):
    fd, level, opt, optlen = fd_arg(proc, fd), s32(level), s32(opt), s32(optlen)
    kind = sa.option_kind(proc, "setsockopt", level, opt)
    if optlen < 0:
        raise sa.err(errno.EINVAL)
    data = proc.mem.read(val, min(optlen, sa.OPT_MAX)) if optlen else b""
    if kind == sa.TIMEVAL:
        data = sa.timeval_in(proc, data)
    hb = ctypes.create_string_buffer(data, len(data)) if data else None
    return hsys("setsockopt", fd, level, opt, hb, len(data))


@syscall("getsockopt")
def sys_getsockopt(proc, fd, level, opt, val, lenp):
    fd, level, opt = fd_arg(proc, fd), s32(level), s32(opt)
    kind = sa.option_kind(proc, "getsockopt", level, opt)
    room = s32(int.from_bytes(proc.mem.read(lenp, 4), "little"))
    if room < 0:
        raise sa.err(errno.EINVAL)
    if kind == sa.TIMEVAL:
        hb, hl = ctypes.create_string_buffer(abi.HOST.timeval.size), ctypes.c_uint32(abi.HOST.timeval.size)
        hsys("getsockopt", fd, level, opt, hb, ctypes.byref(hl))
        data = sa.timeval_out(proc, hb.raw[:hl.value])
        data = data[:room]
    else:
        n = min(room, sa.OPT_MAX)
        hb, hl = ctypes.create_string_buffer(max(n, 1)), ctypes.c_uint32(n)
        hsys("getsockopt", fd, level, opt, hb, ctypes.byref(hl))
        data = hb.raw[:hl.value]
    if data:
        proc.mem.write(val, data)
    proc.mem.write(lenp, struct.pack("<i", len(data)))
    return 0
