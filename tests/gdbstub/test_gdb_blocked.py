"""Ctrl-C while the guest is blocked in a syscall (gdb_loops.c `read`: read(0)
on a pipe the test holds).  As with a ptrace stop of a task in a syscall, gdb
gets the SIGINT stop at once; the registers show the task in the syscall (pc
after the ecall, a7 the number, a0 the fd), `bt` works; the read takes no data
while gdb has the process stopped (the task is kicked out of its host call and
waits), and `continue` restarts it transparently: it then reads what was
written meanwhile.  Also a second thread's accept (sockets.c) interrupted the
same way."""

import os
import re
import signal
import socket
import subprocess

from gdbstub_client import GDB, Client, no_core, read_until, wait_asleep

from pydbt.gdbstub import packets

UNTOUCHED = '$%d = "untouched", \'\\000\' <repeats 22 times>'


def test_ctrl_c_in_read_then_continue(stub, program):
    prog = program("gdb_loops")
    s = stub(prog, args=("read",), stdin=subprocess.PIPE)
    pipe = f"/proc/{os.getpid()}/fd/{s.proc.stdin.fileno()}"      # (gdb's shell writes to the guest's stdin)
    g = subprocess.Popen(
        [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64", "-ex", f"target remote :{s.spec}",
         "-ex", "continue", "-ex", "bt", "-ex", "info registers a0 a7", "-ex", "x/i $pc - 4",
         "-ex", "print buf", "-ex", f"shell printf hello > {pipe}", "-ex", "print buf",
         "-ex", "continue", str(prog)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=no_core)
    try:
        read_until(s.proc.stdout, b"reading\n")
        wait_asleep(s.proc.pid)
        os.kill(g.pid, signal.SIGINT)
        out = g.communicate(timeout=120)[0].decode(errors="replace")
    finally:
        if g.poll() is None:
            g.kill()
    assert "Program received signal SIGINT" in out, out
    assert re.search(r"#0\s+0x[0-9a-f]+ in (__libc_)?read ", out), out
    assert re.search(r"#1\s+0x[0-9a-f]+ in main \(argc=2, .*gdb_loops\.c:27", out), out
    assert re.search(r"^a0\s+0x0\s", out, re.M) and re.search(r"^a7\s+0x3f\s", out, re.M), out
    assert re.search(r"<(__libc_)?read\+\d+>:\s+ecall", out), out
    assert UNTOUCHED % 1 in out and UNTOUCHED % 2 in out, out     # nothing read while stopped
    assert "exited normally" in out, out
    rc, stdout, _ = s.finish()
    assert rc == 0 and stdout.endswith("read=5 buf=[hello]\n"), stdout


def test_ctrl_c_in_read_packets(stub, program):
    """The same at the packet level: interrupted twice, the read goes on each
    time and completes when data comes after the resume."""
    prog = program("gdb_loops")
    s = stub(prog, args=("read",), stdin=subprocess.PIPE)
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=60))
    c.ask(b"qSupported:multiprocess+")
    P = s.proc.pid
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    read_until(s.proc.stdout, b"reading\n")
    for _ in range(2):
        wait_asleep(P)
        c.send_raw(b"\x03")
        assert c.read_packet() == b"T02thread:p%x.%x;" % (P, P)
        assert int.from_bytes(bytes.fromhex(c.ask(b"p11").decode()), "little") == 63      # a7: read
        assert int.from_bytes(bytes.fromhex(c.ask(b"pa").decode()), "little") == 0        # a0: fd 0
        c.send_raw(packets.frame(b"vCont;c"))
        assert c.read_byte() == b"+"
    wait_asleep(P)
    s.proc.stdin.write(b"abc")                     # (while it runs: the restarted read takes it)
    s.proc.stdin.flush()
    assert c.read_packet() == b"W00;process:%x" % P
    rc, stdout, _ = s.finish()
    assert rc == 0 and stdout.endswith("read=3 buf=[abc]\n"), stdout


def test_ctrl_c_in_a_threads_accept(stub, program):
    """sockets.c `accept-wait thread-default`: a second thread blocks in accept
    while the first waits in pthread_join; Ctrl-C stops both, the accepting
    thread shows the syscall; after `continue` a connection completes it."""
    s = stub(program("sockets"), args=("accept-wait", "thread-default"))
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=60))
    c.ask(b"qSupported:multiprocess+")
    P = s.proc.pid
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    port = int(re.search(rb"port (\d+)\n", read_until(s.proc.stdout, b"\n")).group(1))
    wait_asleep(P)
    c.send_raw(b"\x03")
    assert c.read_packet().startswith(b"T02thread:p%x." % P)
    tids = c.ask(b"qfThreadInfo")[1:].split(b",")
    assert len(tids) == 2 and tids[0] == b"p%x.%x" % (P, P), tids
    assert c.ask(b"Hg" + tids[1]) == b"OK"
    assert int.from_bytes(bytes.fromhex(c.ask(b"p11").decode()), "little") in (202, 242)    # accept, accept4
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(b"hi")
    assert c.read_packet() == b"W00;process:%x" % P
    rc, stdout, _ = s.finish()
    assert rc == 0 and "accept: ok, handler ran 0\nread 2 [hi]\njoined\n" in stdout, stdout
