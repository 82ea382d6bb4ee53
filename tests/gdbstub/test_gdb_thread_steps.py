"""Per-thread stepping with the real gdb (`set scheduler-locking on`: vCont
steps one thread, every other stays stopped): on gdb_threads.c, the thread that
hit worker_step steps over its increment while the two other workers, stopped
at the same breakpoint (or on their way to it), do not move: the total is that
thread's id alone, and a worker stopped in worker_step is still at its first line."""

import re


def test_step_one_thread_others_stay(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_threads"), [
        "break worker_step", "continue", "set scheduler-locking on", "next", "next", "next",
        "print total == id", "info threads", "set scheduler-locking off", "delete", "continue"])
    assert re.search(r"hit Breakpoint 1, worker_step \(id=\d\)", out), out
    assert "$1 = 1" in out, out                               # total == id: nobody else added
    rows = re.findall(r"^(\*?)\s+\d+\s+Thread \S+ \"gdb_threads\"\s+(.*)$", out, re.M)
    workers = [(cur, frame) for cur, frame in rows if frame.startswith("worker_step")]
    assert [f for c, f in workers if c] and re.search(r"gdb_threads\.c:15$", [f for c, f in workers if c][0]), out
    assert all(re.search(r"gdb_threads\.c:12$", f) for c, f in workers if not c), out
    assert rc == 0 and "total=6" in stdout
