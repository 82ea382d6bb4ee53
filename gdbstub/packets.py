"""The remote serial protocol's framing: `$data#cs` packets, acks, escaping,
run-length encoding, and the `\\x03` interrupt byte.

`Reader` is fed raw bytes from the connection and yields what they carry:
packets (data bytes, checksum checked, run-length expanded, not unescaped: only
binary commands unescape their payload), `INTERRUPT` for a `\\x03` between
packets, `ACK`/`NAK` for `+`/`-`, `BAD` for a packet with a wrong checksum and
`TOO_LONG` for one past the size limit (its bytes are skipped up to its end).
Nothing here raises on bad input: garbage between packets is dropped.
"""

INTERRUPT = "interrupt"
ACK = "ack"
NAK = "nak"
BAD = "bad"
TOO_LONG = "too-long"

MAX_PACKET = 0x4000             # what qSupported advertises as PacketSize
_ESCAPED = b"#$}*"


def checksum(data):
    return sum(data) & 0xff


def frame(data, rle=False):
    """One outgoing packet."""
    if rle:
        data = rle_encode(data)
    return b"$" + data + b"#%02x" % checksum(data)


def escape(data):
    """Binary data in a reply (`}` then the byte xor 0x20 for `#$}*`)."""
    out = bytearray()
    for c in data:
        if c in _ESCAPED:
            out += bytes((0x7d, c ^ 0x20))
        else:
            out.append(c)
    return bytes(out)


def unescape(data):
    out = bytearray()
    it = iter(data)
    for c in it:
        if c == 0x7d:
            c = next(it, 0x7d ^ 0x20) ^ 0x20
        out.append(c)
    return bytes(out)


def rle_encode(data):
    """Runs of 4 or more equal bytes as `c*n` (n = count - 1 + 29); the count
    characters `#` and `$` are avoided, as the protocol requires."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        j = i + 1
        while j < n and data[j] == c and j - i < 98:
            j += 1
        run = j - i
        if run >= 4 and c not in b"*#$}":
            extra = run - 1
            if extra + 29 in (ord("#"), ord("$")):      # 6 or 7: shorten the run
                extra = 5
            out.append(c)
            out += b"*" + bytes((extra + 29,))
            i += extra + 1
        else:
            out.append(c)
            i += 1
    return bytes(out)


def rle_decode(data):
    """Expand `c*n` runs of a received packet (before any unescaping)."""
    if b"*" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x2a and out and i + 1 < n:
            out += out[-1:] * (data[i + 1] - 29)
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


class Reader:
    """Incremental parser of the byte stream from gdb (see the module doc)."""

    def __init__(self, limit=MAX_PACKET):
        self.limit = limit
        self.buf = bytearray()
        self.state = "idle"             # idle | data | cs1 | cs2
        self.cs = b""
        self.overflow = False

    def feed(self, data):
        out = []
        for c in data:
            st = self.state
            if st == "idle":
                if c == 0x24:           # $
                    self.state, self.buf, self.overflow = "data", bytearray(), False
                elif c == 0x03:
                    out.append(INTERRUPT)
                elif c == 0x2b:
                    out.append(ACK)
                elif c == 0x2d:
                    out.append(NAK)
                # anything else between packets is noise
            elif st == "data":
                if c == 0x23:           # #
                    self.state, self.cs = "cs1", b""
                elif c == 0x24:         # a new start: the previous packet was truncated
                    self.buf, self.overflow = bytearray(), False
                elif len(self.buf) >= self.limit:
                    self.overflow = True
                else:
                    self.buf.append(c)
            else:
                self.cs += bytes((c,))
                if st == "cs1":
                    self.state = "cs2"
                    continue
                self.state = "idle"
                if self.overflow:
                    out.append(TOO_LONG)
                    continue
                try:
                    ok = int(self.cs, 16) == checksum(self.buf)
                except ValueError:
                    ok = False
                out.append(rle_decode(bytes(self.buf)) if ok else BAD)
        return out
