"""The remote protocol at the packet level, with a raw socket client against
`pydbt run -g`: framing and acks, checksums, escaping and run-length encoding
both ways, over-long and unknown packets, no-ack mode, Ctrl-C, a unix socket,
and a deterministic fuzzer of malformed packets after which the guest still
runs to its normal end."""

import os
import random
import socket
import subprocess
import time

import pytest

from gdbstub_client import Client, wait_running

from pydbt.gdbstub import packets


def _start(stub, program, args=("20000",), spec=None, stdin=subprocess.DEVNULL, name="gdb_basic"):
    s = stub(program(name), args=args, spec=spec, stdin=stdin)
    if spec is None:
        sock = socket.create_connection(("127.0.0.1", int(s.spec)), timeout=30)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(30)
        path = spec.replace("%d", str(s.proc.pid))
        for _ in range(100):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        sock.connect(path)
    return s, Client(sock)


def _finish(s, c):
    """Let the guest run to its end: W0d (exit 13), pydbt exits 13."""
    assert c.ask(b"vCont;c") == b"W0d;process:%x" % s.proc.pid
    rc, stdout, _ = s.finish()
    assert rc == 13 and "patched=7" in stdout


def test_framing_acks_and_supported(stub, program):
    s, c = _start(stub, program)
    c.send_raw(packets.frame(b"qSupported:multiprocess+;swbreak+"))
    assert c.read_byte() == b"+"
    reply = c.read_packet()
    for feature in (b"PacketSize=", b"qXfer:features:read+", b"qXfer:auxv:read+", b"qXfer:exec-file:read+",
                    b"multiprocess+", b"swbreak+", b"hwbreak+", b"vContSupported+", b"QStartNoAckMode+",
                    b"qXfer:threads:read+"):
        assert feature in reply
    assert c.ask(b"?") == b"T05thread:p%x.%x;" % (s.proc.pid, s.proc.pid)
    assert c.ask(b"qC") == b"QCp%x.%x" % (s.proc.pid, s.proc.pid)
    assert c.ask(b"vCont?") == b"vCont;c;C;s;S;t;r"
    assert c.ask(b"qAttached:%x" % s.proc.pid) == b"0"
    _finish(s, c)


def test_bad_checksum_is_nacked_then_retried(stub, program):
    s, c = _start(stub, program)
    c.send_raw(b"$qC#00")
    assert c.read_byte() == b"-"
    assert c.ask(b"qC").startswith(b"QC")
    _finish(s, c)


def test_unknown_and_over_long_packets(stub, program):
    s, c = _start(stub, program)
    for q in (b"qFooBar", b"vMustReplyEmpty", b"qTStatus", b"Z9,1000,4"):
        assert c.ask(q) == b"", q
    assert c.ask(b"vAttach;1") == b"E01"
    assert c.ask(b"vRun;00") == b"E01"           # (not in extended mode: gdb sent no `!`)
    c.send_raw(packets.frame(b"q" * (packets.MAX_PACKET + 100)))
    assert c.read_byte() == b"+"
    assert c.read_packet() == b"E01"
    c.send_raw(b"$qC$qC#%02x" % packets.checksum(b"qC"))      # a truncated packet, then a whole one
    assert c.read_byte() == b"+" and c.read_packet().startswith(b"QC")
    c.send_raw(b"garbage between packets")
    assert c.ask(b"qC").startswith(b"QC")
    _finish(s, c)


def test_escaping_and_run_length_both_ways(stub, program):
    s, c = _start(stub, program)
    c.ask(b"qSupported:multiprocess+")
    sp = int.from_bytes(bytes.fromhex(c.ask(b"p2").decode()), "little")
    addr = sp - 64
    data = bytes(b"#$}*\x03+-x") * 2
    # X: binary, escaped by the client
    assert c.ask(b"X%x,%x:" % (addr, len(data)) + packets.escape(data)) == b"OK"
    assert bytes.fromhex(c.ask(b"m%x,%x" % (addr, len(data))).decode()) == data
    # a run-length encoded request: "1*&" is eleven... "1" and 9 more = 10 hex digits, 5 bytes of 0x11
    c.send_raw(b"$" + b"M%x,5:1*&" % addr + b"#%02x" % packets.checksum(b"M%x,5:1*&" % addr))
    assert c.read_byte() == b"+" and c.read_packet() == b"OK"
    assert c.ask(b"m%x,5" % addr) == b"1111111111"
    # replies are run-length encoded: g has runs of zeros
    raw = c.ask(b"g", decode=False)
    assert b"*" in raw
    regs = packets.rle_decode(raw)
    assert len(regs) == 2 * (33 * 8 + 32 * 8 + 3 * 4)
    # qXfer: binary replies, escaped; the whole document read in chunks
    xml, off = b"", 0
    while True:
        r = c.ask(b"qXfer:features:read:target.xml:%x,40" % off)
        xml += packets.unescape(r[1:])
        off += len(packets.unescape(r[1:]))
        if r[:1] == b"l":
            break
        assert r[:1] == b"m"
    assert b"<architecture>riscv:rv64</architecture>" in xml
    assert c.ask(b"qXfer:features:read:nosuch.xml:0,100") == b"E00"
    assert c.ask(b"m0,8") == b"E14"                 # unmapped
    _finish(s, c)


def test_noack_mode(stub, program):
    s, c = _start(stub, program)
    assert c.ask(b"QStartNoAckMode") == b"OK"
    c.noack = True
    c.send_raw(packets.frame(b"qC"))
    assert c.read_byte() == b"$"                    # no '+' first
    c.unread(b"$")
    assert c.read_packet().startswith(b"QC")
    _finish(s, c)


def test_interrupt_on_unix_socket(stub, program, tmp_path):
    s, c = _start(stub, program, args=("2000000000",), spec=str(tmp_path / "gdb-%d.sock"))
    assert "gdb-%d.sock" % s.proc.pid in s.banner
    c.ask(b"qSupported:multiprocess+")
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    wait_running(s.proc.pid, cpu=0.3)              # (in the loop)
    c.send_raw(b"\x03")
    stop = c.read_packet()
    assert stop.startswith(b"T02") and b"thread:p%x." % s.proc.pid in stop
    pc = int.from_bytes(bytes.fromhex(c.ask(b"p20").decode()), "little")
    assert 0x10000 <= pc < 0x80000
    assert c.ask(b"vKill;%x" % s.proc.pid) == b"OK"
    rc, _, _ = s.finish()
    assert rc == -9


def _fuzz_cases(seed, n):
    rng = random.Random(seed)
    heads = [b"q", b"Q", b"qSupported", b"qXfer:features:read:", b"qXfer:auxv:read:", b"qXfer:threads:read:",
             b"qXfer:exec-file:read:", b"qXfer:", b"m", b"p", b"g", b"H", b"Hg", b"Hc", b"T", b"?", b"qC",
             b"vFile:open:", b"vFile:pread:", b"vFile:fstat:", b"vFile:readlink:", b"vFile:close:",
             b"vFile:setfs:", b"vFile:", b"vCont?", b"qfThreadInfo", b"qsThreadInfo", b"qAttached", b"v", b"",
             b"vCont;r", b"QProgramSignals:"]
    alphabet = b"0123456789abcdefABCDEFpx.,:;-=}*#$ \x00\xff"
    for _ in range(n):
        body = rng.choice(heads) + bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        kind = rng.random()
        if kind < 0.7:
            # a well-framed packet (its '#' and '$' make truncated ones)
            yield "packet", body
        elif kind < 0.85:
            yield "raw", b"$" + body[:rng.randrange(0, len(body) + 1)] + b"#zz"
        else:
            yield "raw", bytes(rng.randrange(0x20, 0x7f) for _ in range(rng.randrange(1, 16))).replace(
                b"$", b".").replace(b"\x03", b".")


def test_fuzzed_packets_leave_guest_unharmed(stub, program):
    s, c = _start(stub, program)
    assert c.ask(b"QStartNoAckMode") == b"OK"
    c.noack = True
    for kind, data in _fuzz_cases(11, 400):
        if kind == "packet":
            if b"#" in data or b"$" in data:        # framing characters: the stub sees something else
                c.send_raw(packets.frame(data))
                c.send_raw(packets.frame(b"qC"))    # resynchronise on a known answer
                for _ in range(4):
                    if c.read_packet().startswith(b"QC"):
                        break
                else:
                    pytest.fail(f"no resync after {data!r}")
                continue
            reply = c.ask(data)
            assert isinstance(reply, bytes)
        else:
            c.send_raw(data)
    assert c.ask(b"qC").startswith(b"QC")
    assert s.proc.poll() is None
    _finish(s, c)


def test_death_by_signal_is_reported(stub, program):
    s, c = _start(stub, program, args=(), name="segv")
    c.ask(b"qSupported:multiprocess+")
    P = s.proc.pid
    # the fault stops first (gdb's "Program received signal SIGSEGV"), then goes on
    assert c.ask(b"vCont;c") == b"T0bthread:p%x.%x;" % (P, P)
    assert c.ask(b"vCont;C0b:p%x.%x" % (P, P)) == b"X0b;process:%x" % P
    rc, _, err = s.finish()
    assert rc == -11 and "uncaught target signal 11" in err


def test_packet_helpers():
    data = bytes(range(256)) + b"}}##$$**" + b"\0" * 50
    assert packets.unescape(packets.escape(data)) == data
    assert not set(packets.escape(data)) & set(b"#$*")
    for text in (b"0" * 100, b"abc" + b"f" * 7 + b"x", b"1" * 6, b"1" * 7, b"12" * 30, b"", b"z" * 300):
        enc = packets.rle_encode(text)
        assert packets.rle_decode(enc) == text and b"#" not in enc and b"$" not in enc, text
    assert len(packets.rle_encode(b"0" * 100)) < 12
    r = packets.Reader(limit=16)
    items = []
    for ch in b"+$qC#b4-\x03$q#00" + packets.frame(b"x" * 40) + b"$m0,1*!#":
        items += r.feed(bytes((ch,)))                # one byte at a time
    items += r.feed(b"%02x" % packets.checksum(b"m0,1*!"))
    assert items == [packets.ACK, b"qC", packets.NAK, packets.INTERRUPT, packets.BAD, packets.TOO_LONG, b"m0,11111"]
