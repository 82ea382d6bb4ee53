"""Fork, vfork, exec and syscall events at the packet level, with a raw client
against `pydbt run -g` (what gdb 13.1 sends in these scenarios, brief section
6): the stop replies' exact form, the child addressable as `p<C>.<C>` while the
parent waits, `D;pid` per process, a resume of both processes at once (the
supervisor stops the one still running when the other reports), the events
not sent to a client that did not ask for them, and QCatchSyscalls."""

import socket

from gdbstub_client import Client

from pydbt.gdbstub import packets

FEATURES = b"qSupported:multiprocess+;swbreak+;hwbreak+;fork-events+;vfork-events+;exec-events+;vContSupported+"


def _start(stub, program, args, features=FEATURES):
    s = stub(program("gdb_follow"), args=args)
    c = Client(socket.create_connection(("127.0.0.1", int(s.spec)), timeout=30))
    reply = c.ask(features)
    return s, c, reply


def _reg(c, num):
    return int.from_bytes(bytes.fromhex(c.ask(b"p%x" % num).decode()), "little")


def test_fork_event_both_processes_addressable(stub, program):
    s, c, feats = _start(stub, program, ("fork",))
    for f in (b"fork-events+", b"vfork-events+", b"exec-events+", b"QCatchSyscalls+"):
        assert f in feats.split(b";")
    P = s.proc.pid
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop.startswith(b"T05fork:p") and stop.endswith(b";thread:p%x.%x;" % (P, P)), stop
    C = int(stop[len(b"T05fork:p"):].split(b".")[0], 16)
    assert stop == b"T05fork:p%x.%x;thread:p%x.%x;" % (C, C, P, P)
    threads = c.ask(b"qfThreadInfo")
    assert threads.startswith(b"m") and set(threads[1:].split(b",")) == {b"p%x.%x" % (P, P), b"p%x.%x" % (C, C)}
    xml = c.ask(b"qXfer:threads:read::0,fff")
    assert xml.startswith(b"l") and b'id="p%x.%x"' % (C, C) in xml and b'id="p%x.%x"' % (P, P) in xml
    assert c.ask(b"Tp%x.%x" % (C, C)) == b"OK"
    assert c.ask(b"Hgp%x.%x" % (C, C)) == b"OK"
    assert c.ask(b"qC") == b"QCp%x.%x" % (C, C)
    assert _reg(c, 10) == 0                          # a0: fork returns 0 in the child
    pc_child = _reg(c, 32)
    assert c.ask(b"qXfer:exec-file:read:%x:0,fff" % C).endswith(b"gdb_follow")
    assert c.ask(b"Hgp%x.%x" % (P, P)) == b"OK"
    assert _reg(c, 32) == pc_child                   # both at the fork return
    assert c.ask(b"D;%x" % C) == b"OK"               # the child runs free
    assert c.ask(b"Tp%x.%x" % (C, C)) != b"OK"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W03;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 3 and "child 42" in out and "child exit 7" in out
    c.sock.close()                                   # gdb goes: so does the supervisor
    assert s.survivors() == []


def test_both_processes_resumed_at_once(stub, program):
    """vCont;c with no thread: parent and child run; the child's exit is reported
    first (the parent waits for it), the parent is stopped meanwhile, and goes
    on to its own exit at the next resume."""
    s, c, _ = _start(stub, program, ("fork",))
    P = s.proc.pid
    stop = c.ask(b"vCont;c")
    C = int(stop[len(b"T05fork:p"):].split(b".")[0], 16)
    assert c.ask(b"vCont;c") == b"W07;process:%x" % C
    assert c.ask(b"qfThreadInfo") == b"mp%x.%x" % (P, P)
    assert c.ask(b"vCont;c") == b"W03;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 3 and "child exit 7" in out
    c.sock.close()                                   # gdb goes: so does the supervisor
    assert s.survivors() == []


def test_no_fork_events_unless_asked(stub, program):
    s, c, feats = _start(stub, program, ("fork",), features=b"qSupported:multiprocess+;swbreak+")
    assert b"fork-events+" not in feats
    assert c.ask(b"vCont;c") == b"W03;process:%x" % s.proc.pid
    rc, out, _ = s.finish()
    assert rc == 3 and "child exit 7" in out


def test_vfork_and_vforkdone(stub, program):
    target = program("gdb_exec_target")
    s, c, _ = _start(stub, program, ("vfork", str(target)))
    P = s.proc.pid
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop.startswith(b"T05vfork:p"), stop
    C = int(stop[len(b"T05vfork:p"):].split(b".")[0], 16)
    assert stop == b"T05vfork:p%x.%x;thread:p%x.%x;" % (C, C, P, P)
    assert c.ask(b"D;%x" % C) == b"OK"
    # the parent resumes: its vfork returns once the child exec'd
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05vforkdone:;thread:p%x.%x;" % (P, P)
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W03;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 3 and "exec target from-vfork 9" in out and "vfork child exit 9" in out


def _symbol(path, name):
    import subprocess
    out = subprocess.run(["riscv64-linux-gnu-nm", str(path)], capture_output=True, text=True).stdout
    return int(next(line.split()[0] for line in out.splitlines() if line.endswith(" " + name)), 16)


def test_exec_event(stub, program):
    """T05exec:<hex path>; the new program is what exec-file reads, and the old
    image's breakpoints are gone (one left at the address of the new program's
    new_work would otherwise stop it)."""
    target = program("gdb_exec_target")
    s, c, _ = _start(stub, program, ("exec", str(target)))
    P = s.proc.pid
    at = _symbol(program("gdb_follow"), "in_child")      # (never called before the exec)
    assert at == _symbol(target, "new_work"), "the two programs' layouts differ: pick another address"
    assert c.ask(b"Z0,%x,2" % at) == b"OK"
    stop = c.ask(b"vCont;c:p%x.-1" % P)
    assert stop == b"T05exec:%s;thread:p%x.%x;" % (str(target).encode().hex().encode(), P, P), stop
    assert c.ask(b"qXfer:exec-file:read:%x:0,fff" % P) == b"l" + str(target).encode()
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W09;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 9 and "exec target from-exec 9" in out


def test_catch_syscalls(stub, program):
    """QCatchSyscalls:1;40 (riscv64's write): entry and return stops with the
    number, the arguments and the result in the registers; QCatchSyscalls:1
    catches every call (getpid, exit_group: no return stop); :0 stops catching."""
    s, c, _ = _start(stub, program, ("syscall",))
    P = s.proc.pid
    thread = b"thread:p%x.%x;" % (P, P)
    assert c.ask(b"QCatchSyscalls:1;40") == b"OK"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05syscall_entry:40;" + thread
    assert _reg(c, 17) == 64 and _reg(c, 10) == 1 and _reg(c, 12) == 14     # a7, a0 (fd), a2 (count)
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05syscall_return:40;" + thread
    assert _reg(c, 10) == 14                         # what write returned
    assert c.ask(b"QCatchSyscalls:1") == b"OK"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05syscall_entry:ac;" + thread     # getpid
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05syscall_return:ac;" + thread
    assert _reg(c, 10) == P
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"T05syscall_entry:5e;" + thread     # exit_group
    assert c.ask(b"QCatchSyscalls:0") == b"OK"
    assert c.ask(b"QCatchSyscalls:2") == b"E01"
    assert c.ask(b"vCont;c:p%x.-1" % P) == b"W05;process:%x" % P
    rc, out, _ = s.finish()
    assert rc == 5 and out == "syscall write\n"


def test_interrupt_with_two_processes_running(stub, program):
    """Both processes resumed (vCont;c), both in endless loops: \\x03 stops both
    (all-stop across processes), one stop reply reports it; each is then killed
    on its own (vKill;pid)."""
    s, c, _ = _start(stub, program, ("spin",))
    P = s.proc.pid
    stop = c.ask(b"vCont;c")
    assert stop.startswith(b"T05fork:p"), stop
    C = int(stop[len(b"T05fork:p"):].split(b".")[0], 16)
    c.send_raw(packets.frame(b"vCont;c"))
    assert c.read_byte() == b"+"
    c.send_raw(b"\x03")
    stop = c.read_packet()
    assert stop.startswith(b"T02thread:p") and (b"p%x." % P in stop or b"p%x." % C in stop), stop
    for pid in (P, C):                           # both stopped: each answers for its registers
        assert c.ask(b"Hgp%x.%x" % (pid, pid)) == b"OK"
        assert 0x10000 <= _reg(c, 32) < 0x80000
    assert c.ask(b"vKill;%x" % C) == b"OK"
    assert c.ask(b"vKill;%x" % P) == b"OK"
    rc, _, _ = s.finish()
    assert rc == -9
    c.sock.close()
    assert s.survivors() == []
