"""Socket data between the guest and the host: addresses, msghdr/cmsg, options.

Guest socket fds are host sockets (pass-through); what crosses the boundary is
converted here, field by field, between the guest ABI family's layouts and the
host's (`abi.family(proc)`, `abi.HOST`):

* socket addresses: `struct sockaddr_*` are arch-neutral (a native-endian
  16-bit family, the rest bytes in network order) and every Linux ABI family
  pydbt knows is little-endian, so the bytes pass unchanged, except AF_UNIX
  path names, which go through the -L sysroot rule as open() paths do
  (abstract names, starting with a NUL byte, are left alone);
* `struct msghdr`, `struct mmsghdr` and control messages (`struct cmsghdr`
  headers, CMSG_ALIGN padding) are rebuilt in the host's layout and back;
  SCM_RIGHTS fds are checked against pydbt's own (EBADF, as a closed fd);
  SCM_CREDENTIALS carries pids as the guest sees them, which are the host's
  (a guest process is one pydbt process, its threads host threads);
* socket options: a table of the (level, option) pairs pydbt passes, each with
  its value kind: `raw` for ints and structs built of fixed-width fields (the
  same bytes in every family: linger, ucred, ip_mreq, tcp_info, ...), `timeval`
  for SO_RCVTIMEO/SO_SNDTIMEO (the family's `struct timeval`, converted).
  The numbers are asm-generic's, which every family pydbt has uses.  Other
  options answer ENOPROTOOPT, as a kernel without them would (logged by
  `-d unimp`).
"""
import ctypes
import errno
import os
import struct

from . import abi
from .abi import s32

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCKADDR_MAX = 128                   # sizeof(struct sockaddr_storage)
SUN_PATH_MAX = 108
UIO_MAXIOV = 1024
SOL_SOCKET = 1
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
MSG_CTRUNC = 0x8
SCM_MAX_FD = 253
OPT_MAX = 1024                       # host buffer for one option value (tcp_info is ~250 bytes)

# struct msghdr / mmsghdr / cmsghdr of an LP64 Linux ABI (size_t lengths, int name length)
MSGHDR_LP64 = abi.Struct("msghdr", [
    ("msg_name", "Q"), ("msg_namelen", "i"), ("__pad1", "4x"), ("msg_iov", "Q"), ("msg_iovlen", "Q"),
    ("msg_control", "Q"), ("msg_controllen", "Q"), ("msg_flags", "i"), ("__pad2", "4x")])
MMSG_LEN_LP64 = abi.Struct("mmsghdr_tail", [("msg_len", "I"), ("__pad", "4x")])
CMSGHDR_LP64 = abi.Struct("cmsghdr", [("cmsg_len", "Q"), ("cmsg_level", "i"), ("cmsg_type", "i")])


class Layouts:
    """The socket structs of one ABI family (CMSG_ALIGN is to sizeof(long))."""

    def __init__(self, msghdr, mmsg_tail, cmsghdr, align):
        self.msghdr, self.mmsg_tail, self.cmsghdr, self.align = msghdr, mmsg_tail, cmsghdr, align
        self.mmsghdr_size = msghdr.size + mmsg_tail.size
        self.off, self.fmt = {}, {}         # msghdr field -> byte offset, struct format
        for i, (name, f) in enumerate(msghdr.layout):
            self.off[name] = struct.calcsize("<" + "".join(f for _, f in msghdr.layout[:i]))
            self.fmt[name] = "<" + f

    def put(self, proc, msghdr_addr, field, value):
        """Store one field of the guest's struct msghdr at msghdr_addr."""
        proc.mem.write(msghdr_addr + self.off[field], struct.pack(self.fmt[field], value))

    def cmsg_align(self, n):
        return (n + self.align - 1) & ~(self.align - 1)


LP64 = Layouts(MSGHDR_LP64, MMSG_LEN_LP64, CMSGHDR_LP64, 8)
# every family abi.py knows (x86_64, generic64, aarch64) is LP64
LAYOUTS = {name: LP64 for name in abi.FAMILIES}


def guest_layouts(proc):
    return LAYOUTS[abi.family(proc).name]


HOST = LAYOUTS[abi.HOST.name]


def err(e):
    return OSError(e, os.strerror(e))


# --- socket addresses ----------------------------------------------------------------
def addr_in(proc, addr, alen):
    """A guest sockaddr argument -> host bytes (None for no address), as the
    kernel's move_addr_to_kernel: a length < 0 or > sockaddr_storage is EINVAL,
    an unreadable address EFAULT.  AF_UNIX path names follow the -L rule."""
    alen = s32(alen)
    if alen < 0 or alen > SOCKADDR_MAX:
        raise err(errno.EINVAL)
    if alen == 0:
        return None
    data = proc.mem.read(addr, alen)
    return _unix_host_path(proc, data)


def _unix_host_path(proc, data):
    if len(data) <= 3 or int.from_bytes(data[:2], "little") != AF_UNIX or data[2] == 0:
        return data
    path = data[2:].split(b"\0", 1)[0]
    hp = proc.host_path(path) if hasattr(proc, "host_path") else path
    if hp == path:
        return data
    if len(hp) >= SUN_PATH_MAX:            # the sysroot's copy has a name too long for sun_path
        raise err(errno.ENAMETOOLONG)
    return data[:2] + hp + b"\0"


def addr_out(proc, host_bytes, klen, addr, lenp, optional=True):
    """Store an address the host kernel returned (klen bytes) for the guest, as
    move_addr_to_user: the guest's *lenp says how much room there is (< 0:
    EINVAL), min(room, klen) bytes are copied, *lenp becomes klen.  `optional`:
    a NULL addr means the caller did not ask (accept, recvfrom)."""
    if not addr and optional:
        return
    room = s32(int.from_bytes(proc.mem.read(lenp, 4), "little"))
    if room < 0:
        raise err(errno.EINVAL)
    n = min(room, klen)
    if n:
        proc.mem.write(addr, bytes(host_bytes[:n]))
    proc.mem.write(lenp, struct.pack("<i", klen))


class HostAddr:
    """A host sockaddr buffer and its socklen_t, for calls that return an address."""

    def __init__(self):
        self.buf = ctypes.create_string_buffer(SOCKADDR_MAX)
        self.len = ctypes.c_uint32(SOCKADDR_MAX)

    @property
    def lenp(self):
        return ctypes.byref(self.len)


# --- control messages ----------------------------------------------------------------
def _walk(data, lay, received=False):
    """(level, type, payload) of each control message in `data`, as the kernel's
    for_each_cmsghdr; a header whose length is short or runs past the end is
    EINVAL.  `received`: the kernel's own output, whose last message may be cut
    short (MSG_CTRUNC; its header keeps the full length)."""
    hdr = lay.cmsghdr
    off, end, out = 0, len(data), []
    while off + hdr.size <= end:
        h = hdr.unpack(data[off:off + hdr.size])
        ln = h["cmsg_len"]
        if received and ln > end - off:
            ln = end - off
        if ln < hdr.size or ln > end - off:
            raise err(errno.EINVAL)
        out.append((h["cmsg_level"], h["cmsg_type"], bytes(data[off + hdr.size:off + ln])))
        off += lay.cmsg_align(ln)
    return out


def _pack(msgs, lay):
    parts = []
    for level, typ, payload in msgs:
        ln = lay.cmsghdr.size + len(payload)
        parts.append(lay.cmsghdr.pack(cmsg_len=ln, cmsg_level=level, cmsg_type=typ) + payload
                     + b"\0" * (lay.cmsg_align(ln) - ln))
    return b"".join(parts)


def control_in(proc, data):
    """Guest control bytes (sendmsg) -> host control bytes.  pydbt's own fds in
    SCM_RIGHTS are EBADF, as closed ones."""
    msgs = _walk(data, guest_layouts(proc))
    reserved = getattr(proc, "reserved_fds", ())
    for level, typ, payload in msgs:
        if level == SOL_SOCKET and typ == SCM_RIGHTS:
            fds = struct.unpack(f"<{len(payload) // 4}i", payload[:len(payload) // 4 * 4])
            if any(fd in reserved for fd in fds):
                raise err(errno.EBADF)
    return _pack(msgs, HOST)


def _close_fds(payload):
    for fd in struct.unpack(f"<{len(payload) // 4}i", payload[:len(payload) // 4 * 4]):
        try:
            os.close(fd)
        except OSError:
            pass


def control_out(proc, data, room):
    """Host control bytes (recvmsg) -> (guest bytes, extra msg_flags), fitting
    in `room` bytes as the kernel's put_cmsg: a message that does not fit is cut
    (MSG_CTRUNC); SCM_RIGHTS fds that do not fit are closed, as the kernel never
    installs them."""
    lay = guest_layouts(proc)
    if lay is HOST:                        # the host kernel already fitted them in `room`
        return bytes(data), 0
    hsz = lay.cmsghdr.size
    out, flags = [], 0
    used = 0
    for level, typ, payload in _walk(data, HOST, received=True):
        space = room - used
        rights = level == SOL_SOCKET and typ == SCM_RIGHTS
        if space < hsz:
            flags |= MSG_CTRUNC
            if rights:
                _close_fds(payload)
            continue
        full = hsz + len(payload)          # put_cmsg's header keeps it; scm_detach_fds counts what fit
        if full > space:
            flags |= MSG_CTRUNC
            keep = space - hsz
            if rights:
                keep -= keep % 4
                _close_fds(payload[keep:])
            payload = payload[:keep]
        ln = hsz + len(payload)
        blob = lay.cmsghdr.pack(cmsg_len=ln if rights else full, cmsg_level=level, cmsg_type=typ) + payload
        pad = min(lay.cmsg_align(ln), room - used) - ln
        out.append(blob + b"\0" * pad)
        used += ln + pad
    return b"".join(out), flags


def received_fds(data):
    """The fds in the SCM_RIGHTS messages of host control bytes."""
    fds = []
    for level, typ, payload in _walk(data, HOST, received=True):
        if level == SOL_SOCKET and typ == SCM_RIGHTS:
            fds += struct.unpack(f"<{len(payload) // 4}i", payload[:len(payload) // 4 * 4])
    return fds


# --- socket options ----------------------------------------------------------------
IPPROTO_IP, IPPROTO_TCP, IPPROTO_IPV6 = 0, 6, 41
RAW, TIMEVAL = "raw", "timeval"
SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD = 20, 21

OPTIONS = {
    SOL_SOCKET: {
        "SO_DEBUG": (1, RAW), "SO_REUSEADDR": (2, RAW), "SO_TYPE": (3, RAW), "SO_ERROR": (4, RAW),
        "SO_DONTROUTE": (5, RAW), "SO_BROADCAST": (6, RAW), "SO_SNDBUF": (7, RAW), "SO_RCVBUF": (8, RAW),
        "SO_KEEPALIVE": (9, RAW), "SO_OOBINLINE": (10, RAW), "SO_PRIORITY": (12, RAW),
        "SO_LINGER": (13, RAW), "SO_REUSEPORT": (15, RAW), "SO_PASSCRED": (16, RAW),
        "SO_PEERCRED": (17, RAW), "SO_RCVLOWAT": (18, RAW), "SO_SNDLOWAT": (19, RAW),
        "SO_RCVTIMEO": (SO_RCVTIMEO_OLD, TIMEVAL), "SO_SNDTIMEO": (SO_SNDTIMEO_OLD, TIMEVAL),
        "SO_BINDTODEVICE": (25, RAW), "SO_TIMESTAMP": (29, RAW), "SO_ACCEPTCONN": (30, RAW),
        "SO_PROTOCOL": (38, RAW), "SO_DOMAIN": (39, RAW),
        "SO_RCVTIMEO_NEW": (66, RAW), "SO_SNDTIMEO_NEW": (67, RAW),   # __kernel_sock_timeval: s64 pair
    },
    IPPROTO_IP: {
        "IP_TOS": (1, RAW), "IP_TTL": (2, RAW), "IP_HDRINCL": (3, RAW), "IP_PKTINFO": (8, RAW),
        "IP_MTU_DISCOVER": (10, RAW), "IP_RECVERR": (11, RAW), "IP_RECVTTL": (12, RAW),
        "IP_RECVTOS": (13, RAW), "IP_MTU": (14, RAW), "IP_FREEBIND": (15, RAW),
        "IP_BIND_ADDRESS_NO_PORT": (24, RAW), "IP_MULTICAST_IF": (32, RAW),
        "IP_MULTICAST_TTL": (33, RAW), "IP_MULTICAST_LOOP": (34, RAW),
        "IP_ADD_MEMBERSHIP": (35, RAW), "IP_DROP_MEMBERSHIP": (36, RAW),
    },
    IPPROTO_IPV6: {
        "IPV6_UNICAST_HOPS": (16, RAW), "IPV6_MULTICAST_IF": (17, RAW), "IPV6_MULTICAST_HOPS": (18, RAW),
        "IPV6_MULTICAST_LOOP": (19, RAW), "IPV6_ADD_MEMBERSHIP": (20, RAW),
        "IPV6_DROP_MEMBERSHIP": (21, RAW), "IPV6_MTU_DISCOVER": (23, RAW), "IPV6_RECVERR": (25, RAW),
        "IPV6_V6ONLY": (26, RAW), "IPV6_RECVPKTINFO": (49, RAW), "IPV6_TCLASS": (67, RAW),
    },
    IPPROTO_TCP: {
        "TCP_NODELAY": (1, RAW), "TCP_MAXSEG": (2, RAW), "TCP_CORK": (3, RAW), "TCP_KEEPIDLE": (4, RAW),
        "TCP_KEEPINTVL": (5, RAW), "TCP_KEEPCNT": (6, RAW), "TCP_SYNCNT": (7, RAW),
        "TCP_LINGER2": (8, RAW), "TCP_DEFER_ACCEPT": (9, RAW), "TCP_WINDOW_CLAMP": (10, RAW),
        "TCP_INFO": (11, RAW), "TCP_QUICKACK": (12, RAW), "TCP_CONGESTION": (13, RAW),
        "TCP_USER_TIMEOUT": (18, RAW), "TCP_FASTOPEN": (23, RAW), "TCP_NOTSENT_LOWAT": (25, RAW),
    },
}
LEVEL_NAMES = {SOL_SOCKET: "SOL_SOCKET", IPPROTO_IP: "IPPROTO_IP", IPPROTO_TCP: "IPPROTO_TCP",
               IPPROTO_IPV6: "IPPROTO_IPV6"}
KIND = {(lvl, nr): kind for lvl, opts in OPTIONS.items() for nr, kind in opts.values()}
OPT_NAMES = {(lvl, nr): name for lvl, opts in OPTIONS.items() for name, (nr, _) in opts.items()}


def option_kind(proc, what, level, opt):
    """The value kind of a supported option; ENOPROTOOPT (logged under -d unimp) if not."""
    kind = KIND.get((level, opt))
    if kind is None:
        log_unsupported(proc, f"{what} level={level} optname={opt}")
        raise err(errno.ENOPROTOOPT)
    return kind


def log_unsupported(proc, what):
    """One `-d unimp` line: `Unsupported <what>`."""
    log = proc.log
    on = getattr(log, "on", None)
    if on is not None and on("unimp"):
        log.write(f"Unsupported {what}\n")


def timeval_in(proc, data):
    g = abi.family(proc).timeval
    if len(data) < g.size:
        raise err(errno.EINVAL)
    return abi.convert(data, g, abi.HOST.timeval)


def timeval_out(proc, data):
    return abi.convert(data, abi.HOST.timeval, abi.family(proc).timeval)
