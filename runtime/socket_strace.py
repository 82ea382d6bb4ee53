"""`-strace` formats of the socket syscalls, in QEMU's shape:

    socket(PF_INET,SOCK_STREAM|SOCK_CLOEXEC,IPPROTO_IP) = 3
    bind(3,{sin_family=AF_INET,sin_port=htons(0),sin_addr=inet_addr("127.0.0.1")}, 16) = 0
    setsockopt(3,SOL_SOCKET,SO_REUSEADDR,0x0000003ffffe0b0,4) = 0
    sendto(4,0x58750,5,MSG_NOSIGNAL,NULL, 0) = 5

`KINDS` (argument formatters, f(proc, value, args) -> str) and `SIGNATURES`
are merged into strace.py's tables.  Addresses are decoded as QEMU's
print_sockaddr does (AF_UNIX, AF_INET, AF_NETLINK; other families as raw
sa_data bytes); AF_INET6, which QEMU 7.2 shows raw, is shown decoded.
"""
import ipaddress

from . import abi
from . import socket_abi as sa

DOMAINS = {1: "PF_UNIX", 2: "PF_INET", 10: "PF_INET6", 16: "PF_NETLINK", 17: "PF_PACKET"}
TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
         6: "SOCK_DCCP", 10: "SOCK_PACKET"}
IPPROTOS = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 41: "IPPROTO_IPV6",
            58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 255: "IPPROTO_RAW"}
NETLINK_PROTOS = {0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 9: "NETLINK_AUDIT", 15: "NETLINK_KOBJECT_UEVENT",
                  16: "NETLINK_GENERIC"}
MSG_FLAGS = [("MSG_OOB", 0x1), ("MSG_PEEK", 0x2), ("MSG_DONTROUTE", 0x4), ("MSG_CTRUNC", 0x8),
             ("MSG_PROXY", 0x10), ("MSG_TRUNC", 0x20), ("MSG_DONTWAIT", 0x40), ("MSG_EOR", 0x80),
             ("MSG_WAITALL", 0x100), ("MSG_FIN", 0x200), ("MSG_SYN", 0x400), ("MSG_CONFIRM", 0x800),
             ("MSG_RST", 0x1000), ("MSG_ERRQUEUE", 0x2000), ("MSG_NOSIGNAL", 0x4000), ("MSG_MORE", 0x8000),
             ("MSG_WAITFORONE", 0x10000), ("MSG_BATCH", 0x40000), ("MSG_ZEROCOPY", 0x4000000),
             ("MSG_FASTOPEN", 0x20000000), ("MSG_CMSG_CLOEXEC", 0x40000000)]
SHUT = ["SHUT_RD", "SHUT_WR", "SHUT_RDWR"]


def _s32(v):
    return abi.s32(v)


def _bits(v, table):
    names = []
    for name, bit in table:
        if v & bit:
            names.append(name)
            v &= ~bit
    if v:
        names.append(f"{v:#x}")
    return "|".join(names) if names else "0"


def _ptr(v):
    return "NULL" if v == 0 else f"0x{v:016x}"


def f_domain(proc, v, a):
    return DOMAINS.get(_s32(v), str(_s32(v)))


def f_type(proc, v, a):
    of = abi.family(proc).open_flags
    v = _s32(v) & 0xffffffff
    base = TYPES.get(v & 0xf, str(v & 0xf))
    rest = _bits(v & ~0xf, [("SOCK_CLOEXEC", of["O_CLOEXEC"]), ("SOCK_NONBLOCK", of["O_NONBLOCK"])])
    return base if rest == "0" else base + "|" + rest


def f_sockflags(proc, v, a):
    of = abi.family(proc).open_flags
    return _bits(v & 0xffffffff, [("SOCK_CLOEXEC", of["O_CLOEXEC"]), ("SOCK_NONBLOCK", of["O_NONBLOCK"])])


def f_proto(proc, v, a):
    dom, p = _s32(a[0]), _s32(v)
    if dom in (1, 2, 10):
        return IPPROTOS.get(p, str(p))
    if dom == 16:
        return NETLINK_PROTOS.get(p, str(p))
    return str(p)


def sockaddr_text(data):
    """A socket address as QEMU's print_sockaddr shows it."""
    if len(data) < 2:
        return "{}"
    fam = int.from_bytes(data[:2], "little")
    if fam == sa.AF_UNIX:
        path = data[2:]
        if path[:1] != b"\0":
            path = path.split(b"\0", 1)[0]
        text = "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\{c:03o}" for c in path)
        return '{sun_family=AF_UNIX,sun_path="' + text + '"}'
    if fam == sa.AF_INET and len(data) >= 8:
        port = int.from_bytes(data[2:4], "big")
        return "{sin_family=AF_INET,sin_port=htons(%d),sin_addr=inet_addr(\"%s\")}" % (
            port, ".".join(str(c) for c in data[4:8]))
    if fam == sa.AF_INET6 and len(data) >= 24:
        port = int.from_bytes(data[2:4], "big")
        return "{sin6_family=AF_INET6,sin6_port=htons(%d),sin6_addr=\"%s\"}" % (
            port, ipaddress.IPv6Address(bytes(data[8:24])))
    if fam == sa.AF_NETLINK and len(data) >= 12:
        return "{nl_family=AF_NETLINK,nl_pid=%u,nl_groups=%u}" % (
            int.from_bytes(data[4:8], "little"), int.from_bytes(data[8:12], "little"))
    raw = (bytes(data[2:16]) + bytes(14))[:14]
    return "{sa_family=%d, sa_data={%s}}" % (fam, ", ".join(f"{c:02x}" for c in raw))


def _sockaddr_kind(len_index):
    def f(proc, v, a):
        if v == 0:
            return "NULL"
        n = _s32(a[len_index])
        try:
            return sockaddr_text(proc.mem.read(v, max(0, min(n, sa.SOCKADDR_MAX))))
        except Exception:          # unreadable: show the pointer
            return _ptr(v)
    return f


def f_optname(proc, v, a):
    return sa.OPT_NAMES.get((_s32(a[1]), _s32(v)), str(_s32(v)))


KINDS = {
    "sockdomain": f_domain, "socktype": f_type, "sockproto": f_proto, "sockflags": f_sockflags,
    "saddr2": _sockaddr_kind(2), "saddr5": _sockaddr_kind(5),
    "salen": lambda proc, v, a: f" {_s32(v)}",
    "msgflags": lambda proc, v, a: _bits(v & 0xffffffff, MSG_FLAGS),
    "shuthow": lambda proc, v, a: SHUT[_s32(v)] if 0 <= _s32(v) < 3 else str(_s32(v)),
    "socklevel": lambda proc, v, a: sa.LEVEL_NAMES.get(_s32(v), str(_s32(v))),
    "sockopt": f_optname,
    "vlen": lambda proc, v, a: str(v & 0xffffffff),
}

SIGNATURES = {
    "socket": "sockdomain socktype sockproto", "socketpair": "sockdomain socktype sockproto ptr",
    "bind": "fd saddr2 salen", "connect": "fd saddr2 salen", "listen": "fd int",
    "accept": "fd ptr ptr", "accept4": "fd ptr ptr sockflags",
    "getsockname": "fd ptr ptr", "getpeername": "fd ptr ptr",
    "sendto": "fd buf ulong msgflags saddr5 salen", "recvfrom": "fd buf ulong msgflags ptr ptr",
    "sendmsg": "fd ptr msgflags", "recvmsg": "fd ptr msgflags",
    "sendmmsg": "fd ptr vlen msgflags", "recvmmsg": "fd ptr vlen msgflags ptr",
    "shutdown": "fd shuthow", "setsockopt": "fd socklevel sockopt ptr int",
    "getsockopt": "fd socklevel sockopt ptr ptr",
}
