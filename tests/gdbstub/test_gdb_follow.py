"""Real gdb following forks, vforks and execs through `pydbt run -g` (the
supervisor and one agent per guest process), one scenario per test: the four
`follow-fork-mode` x `detach-on-fork` modes, `catch fork`, `catch vfork`,
`catch exec` with both `follow-exec-mode`s, a process killed or detached while
the other stays under gdb.  Each asserts what gdb prints (which process hits
which breakpoint, `info inferiors`, each `[Inferior N (process P) exited with
code X]`), what the guest printed (the parent's wait4 sees its child's real
status), pydbt's exit status, and that no process of the session is left.
The guest is gdb_follow.c: the child calls in_child(21) and exits 7, the parent
calls in_parent(1) before it waits, prints the child's status and exits 3."""

import re

import pytest

FORK_OUT = ("child 42\n", "parent 2\n", "child exit 7\n")


def _inferiors(out):
    """`info inferiors` rows: [(number, pid or None)]."""
    rows = re.findall(r"^\*?\s+(\d+)\s+(?:process (\d+)|<null>)\s", out, re.M)
    return [(int(n), int(p) if p else None) for n, p in rows]


def _exits(out):
    return {int(p): (int(n), int(c, 8)) for n, p, c in
            re.findall(r"\[Inferior (\d+) \(process (\d+)\) exited (?:with code (\d+)|normally)\]", out)}


def _no_survivors(gdb):
    assert gdb.stub.survivors() == [], "processes of the session left running"


def _finished(result, status=3, stdout=FORK_OUT):
    rc, out, _ = result
    assert rc == status, (rc, out)
    for line in stdout:
        assert line in out, out


def test_follow_parent_detach_on(gdb, program):
    out, res = gdb(program("gdb_follow"), ["break in_child", "break in_parent", "continue",
                                           "info inferiors", "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    child = int(re.search(r"\[Detaching after fork from child process (\d+)\]", out).group(1))
    assert child != parent
    assert re.search(r"Breakpoint 2, in_parent \(v=1\)", out) and "in_child (v=" not in out, out
    assert _inferiors(out) == [(1, parent)], out
    assert _exits(out) == {parent: (1, 3)}, out
    _finished(res)
    _no_survivors(gdb)


def test_follow_child_detach_on(gdb, program):
    out, res = gdb(program("gdb_follow"), ["set follow-fork-mode child", "break in_child", "break in_parent",
                                           "continue", "info inferiors", "bt 1", "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    m = re.search(r"\[Attaching after .* fork to child .*?(\d+)\]", out)
    child = int(m.group(1))
    assert re.search(r"hit Breakpoint 1, in_child \(v=21\)", out) and "in_parent (v=" not in out, out
    assert (2, child) in _inferiors(out) and (1, parent) not in _inferiors(out), out    # the parent: detached
    assert _exits(out) == {child: (2, 7)}, out
    _finished(res)                       # the parent ran free, its wait4 saw 7
    _no_survivors(gdb)


def test_follow_parent_detach_off(gdb, program):
    out, res = gdb(program("gdb_follow"), [
        "set detach-on-fork off", "break in_child", "break in_parent", "continue", "info inferiors",
        "inferior 2", "continue", "continue", "inferior 1", "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    inf = _inferiors(out)
    assert len(inf) == 2 and inf[0] == (1, parent) and inf[1][0] == 2 and inf[1][1] not in (None, parent), out
    child = inf[1][1]
    # the parent stops in its code first, while the child waits at the fork return
    assert re.search(r"Thread 1\.1 .* hit Breakpoint 2\.1, in_parent \(v=1\)", out), out
    assert re.search(r"#0\s+.* in _?_?(?:libc_)?_?[Ff]ork", out), out
    assert re.search(r"Thread 2\.1 .* hit Breakpoint 1\.2, in_child \(v=21\)", out), out
    assert _exits(out) == {child: (2, 7), parent: (1, 3)}, out
    assert out.index(f"process {child}) exited") < out.index(f"process {parent}) exited")
    _finished(res)
    _no_survivors(gdb)


def test_follow_child_detach_off(gdb, program):
    out, res = gdb(program("gdb_follow"), [
        "set follow-fork-mode child", "set detach-on-fork off", "break in_child", "break in_parent",
        "continue", "info inferiors", "continue", "inferior 1", "continue", "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    inf = _inferiors(out)
    assert len(inf) == 2 and inf[0] == (1, parent), out
    child = inf[1][1]
    assert re.search(r"\[New inferior 2 \(process %d\)\]" % child, out), out
    assert re.search(r"Thread 2\.1 .* hit Breakpoint 1\.2, in_child \(v=21\)", out), out
    assert re.search(r"Thread 1\.1 .* hit Breakpoint 2\.1, in_parent \(v=1\)", out), out
    assert out.index("in_child (v=21)") < out.index("in_parent (v=1)")
    assert _exits(out) == {child: (2, 7), parent: (1, 3)}, out
    _finished(res)
    _no_survivors(gdb)


def test_kill_one_inferior_parent_sees_sigkill(gdb, program):
    """detach-on-fork off, then `kill inferiors 2` (vKill;pid): the child dies of
    SIGKILL and the parent, still under gdb, sees that status in wait4."""
    out, res = gdb(program("gdb_follow"), [
        "set detach-on-fork off", "break in_parent", "continue", "kill inferiors 2", "info inferiors",
        "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    assert "Breakpoint 1, in_parent (v=1)" in out or "Breakpoint 1.1, in_parent" in out, out
    assert _inferiors(out) == [(1, parent), (2, None)], out
    assert _exits(out) == {parent: (1, 3)}, out
    _finished(res, stdout=("parent 2\n", "child exit 137\n"))
    assert "child 42" not in res[1]
    _no_survivors(gdb)


def test_detach_one_inferior(gdb, program):
    """detach-on-fork off, then `detach inferiors 2` (D;pid): the child runs free
    to its end while the parent stays under gdb and stops at its breakpoint."""
    out, res = gdb(program("gdb_follow"), [
        "set detach-on-fork off", "break in_parent", "break in_child", "continue", "detach inferiors 2",
        "continue"], args=("fork",))
    parent = gdb.stub.proc.pid
    child = int(re.search(r"\[Inferior 2 \(process (\d+)\) detached\]", out).group(1))
    assert child != parent
    assert "in_child (v=" not in out, out
    assert _exits(out) == {parent: (1, 3)}, out
    _finished(res)
    _no_survivors(gdb)


def test_catch_fork(gdb, program):
    out, res = gdb(program("gdb_follow"), ["catch fork", "continue", "info inferiors", "continue"],
                   args=("fork",))
    child = int(re.search(r"Catchpoint 1 \(forked process (\d+)\)", out).group(1))
    assert child != gdb.stub.proc.pid
    assert _exits(out) == {gdb.stub.proc.pid: (1, 3)}, out
    _finished(res)
    _no_survivors(gdb)


def test_catch_vfork_then_exec_in_child(gdb, program):
    target = program("gdb_exec_target")
    out, res = gdb(program("gdb_follow"), ["catch vfork", "continue", "continue"], args=("vfork", str(target)))
    child = int(re.search(r"Catchpoint 1 \(vforked process (\d+)\)", out).group(1))
    assert child != gdb.stub.proc.pid
    assert _exits(out) == {gdb.stub.proc.pid: (1, 3)}, out      # (vforkdone let the parent go on)
    _finished(res, stdout=("exec target from-vfork 9\n", "vfork child exit 9\n"))
    _no_survivors(gdb)


def test_follow_vfork_child_through_exec(gdb, program):
    """follow-fork-mode child on a vfork whose child execs: gdb follows the child
    into the new program (a breakpoint there hits) while the parent, detached,
    waits for the exec and goes on."""
    target = program("gdb_exec_target")
    out, res = gdb(program("gdb_follow"), [
        "set follow-fork-mode child", "catch exec", "continue", "break new_work", "continue", "bt 2",
        "continue"], args=("vfork", str(target)))
    assert re.search(r"Catchpoint 1 \(exec'd .*gdb_exec_target\)", out), out
    assert re.search(r"Breakpoint 2, new_work \(v=8\) at .*gdb_exec_target\.c", out), out
    assert re.search(r"#1\s+0x[0-9a-f]+ in main \(argc=2", out), out
    child = [p for p, (n, c) in _exits(out).items() if c == 9]
    assert len(child) == 1 and child[0] != gdb.stub.proc.pid, out
    _finished(res, stdout=("exec target from-vfork 9\n", "vfork child exit 9\n"))
    _no_survivors(gdb)


@pytest.mark.parametrize("mode", ["same", "new"])
def test_catch_exec_and_break_in_new_main(gdb, program, mode):
    target = program("gdb_exec_target")
    out, res = gdb(program("gdb_follow"), [
        f"set follow-exec-mode {mode}", "catch exec", "continue", "info inferiors", "break main", "continue",
        "bt 1", "continue"], args=("exec", str(target)))
    pid = gdb.stub.proc.pid
    assert re.search(r"Catchpoint 1 \(exec'd %s\)" % re.escape(str(target)), out), out
    assert re.search(r"Breakpoint 2(?:\.1)?, main \(argc=2, argv=.*gdb_exec_target\.c:\d+", out), out
    inf = _inferiors(out)
    if mode == "same":
        assert inf == [(1, pid)], out
        assert _exits(out) == {pid: (1, 9)}, out
    else:                               # a new inferior for the new program, same process
        assert inf == [(1, None), (2, pid)], out
        assert _exits(out) == {pid: (2, 9)}, out
    _finished(res, status=9, stdout=("exec target from-exec 9\n",))
    _no_survivors(gdb)


def test_syscall_stops_through_gdb(gdb, program):
    """gdb 13.1 has no riscv64 syscall support (`catch syscall 64` is refused for
    the architecture), so QCatchSyscalls is sent by hand: gdb receives the entry
    and return stops of write (64 = 0x40), sees no catchpoint of its own for
    them and resumes; the guest runs to its end.  The stops' contents are
    checked at the packet level (test_follow_packets.py)."""
    out, res = gdb(program("gdb_follow"), [
        "catch syscall 64", "maint packet QCatchSyscalls:1;40", "set debug infrun 1", "continue"],
        args=("syscall",))
    assert "'catch syscall' is not supported on this architecture" in out, out    # (gdb's own limit)
    assert 'received: "OK"' in out, out
    assert out.count("handle_inferior_event: status->kind = SYSCALL_ENTRY") == 1, out
    assert out.count("handle_inferior_event: status->kind = SYSCALL_RETURN") == 1, out
    assert _exits(out) == {gdb.stub.proc.pid: (1, 5)}, out
    _finished(res, status=5, stdout=("syscall write\n",))
    _no_survivors(gdb)


def test_gdb_killed_with_two_processes_stopped(gdb, program):
    """gdb dies (SIGKILL) while it holds parent and child stopped: the supervisor
    sees the connection end, both processes run on undebugged to their ends."""
    out, res = gdb(program("gdb_follow"), [
        "set detach-on-fork off", "break in_parent", "continue", "info inferiors",
        "python import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "continue"], args=("fork",))
    assert len(_inferiors(out)) == 2, out
    _finished(res)
    _no_survivors(gdb)


def test_extended_remote_detach_off(gdb, program):
    """The same two-inferior session over `target extended-remote`."""
    out, res = gdb(program("gdb_follow"), [
        "set detach-on-fork off", "break in_child", "break in_parent", "continue", "info inferiors",
        "inferior 2", "continue", "continue", "inferior 1", "continue"], args=("fork",), target="extended-remote")
    parent = gdb.stub.proc.pid
    inf = _inferiors(out)
    assert len(inf) == 2 and inf[0] == (1, parent), out
    assert re.search(r"hit Breakpoint 1\.2, in_child \(v=21\)", out), out
    assert _exits(out) == {inf[1][1]: (2, 7), parent: (1, 3)}, out
    _finished(res)
    _no_survivors(gdb)
