"""Real gdb sessions against `pydbt run -g`: one scenario per test, asserting what
gdb prints and how the guest ended (pydbt's own exit status and output).  The
guest programs are gdb_basic.c / gdb_threads.c, built with -g -O0."""

import re
import subprocess

from gdbstub_client import GDB, NEEDS_LLVMLITE, no_core

import pytest

LOOP_LINE = "gdb_basic.c:28"          # counter++ in hot()'s loop
SET_LINE = "gdb_basic.c:43"           # int y = square(x);


# The tiers a breakpoint, a step or a code patch must work in: the default, native
# code from the start, and auto's native tiers reached while the guest runs.
TIERS = pytest.mark.parametrize("tier", [
    (),
    pytest.param(("-backend", "llvm"), marks=NEEDS_LLVMLITE),
    pytest.param(("-backend", "auto", "-opt-threshold", "8",
                  "-native-warmup", "0", "-compile-share", "0", "-sync-compile"), marks=NEEDS_LLVMLITE),
], ids=["default", "llvm", "auto-native"])


def _entry(path):
    out = subprocess.run(["riscv64-linux-gnu-readelf", "-h", str(path)], capture_output=True, text=True).stdout
    return int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", out).group(1), 16)


def test_entry_registers_and_exit(gdb, program):
    prog = program("gdb_basic")
    out, (rc, stdout, _) = gdb(prog, ["info registers pc", "continue"])
    m = re.search(r"^pc\s+(0x[0-9a-f]+)", out, re.M)
    assert m and int(m.group(1), 16) == _entry(prog), out
    assert "exited with code 015" in out, out
    assert rc == 13 and "patched=7" in stdout


def test_break_bt_locals_print(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_basic"), [
        "break square", "continue", "bt", "info locals", "print v", "finish", "continue"])
    assert re.search(r"Breakpoint 1, square \(v=3\)", out), out
    assert re.search(r"#0\s+square \(v=3\).*\n#1\s+0x[0-9a-f]+ in main", out), out
    assert "$1 = 3" in out and "Value returned is $2 = 9" in out, out
    assert rc == 13 and "x=3 y=9" in stdout


@pytest.mark.parametrize("pre", [(), ("set osabi none", "set debug remote 1")],
                         ids=["software-steps", "range-steps"])
@TIERS
def test_stepping(gdb, program, pre, tier):
    """gdb steps riscv64 GNU/Linux in software (breakpoints at the next pcs);
    with `set osabi none` it uses the stub's steps, `vCont;s` and `vCont;r`."""
    out, (rc, _, _) = gdb(program("gdb_basic"), [
        "break main", "continue", "next", "print $pc", "stepi", "print $pc", "nexti", "print $pc",
        "info line *$pc", "step", "bt 1", "finish", "next", "print y", "continue"], pre=pre, opts=tier)
    assert ("Sending packet: $vCont;r" in out) == bool(pre), out
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)", out, re.M)]
    assert len(pcs) == 3 and pcs[0] < pcs[1] < pcs[2] and pcs[2] - pcs[0] <= 8, out    # line 42: 2 insns
    assert re.search(r"Line 43 of .*gdb_basic\.c", out), out
    assert re.search(r"#0\s+square \(v=3\)", out), out                # `step` went into the call
    assert "Value returned is $4 = 9" in out, out
    assert re.search(r"^44\s", out, re.M) and "$5 = 9" in out, out     # `next` after finish: line 44
    assert rc == 13


def test_set_var_seen_by_guest(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_basic"), [
        f"break {SET_LINE}", "continue", "set var x = 5", "print x", "continue"])
    assert "$1 = 5" in out, out
    assert "x=5 y=25" in stdout and rc == 15, (out, stdout)


@TIERS
def test_code_patch_takes_effect(gdb, program, tier):
    # patched_value ran (and was translated) before the patch: li a0,42; ret
    out, (rc, stdout, _) = gdb(program("gdb_basic"), [
        "break hot", "continue",
        "set {unsigned int}patched_value = 0x02a00513",
        "set {unsigned int}((char *)patched_value + 4) = 0x00008067",
        "x/2i patched_value", "continue"], opts=tier)
    assert "li\ta0,42" in out or "li a0,42" in out, out
    assert "first=7" in stdout and "patched=42" in stdout and rc == 13, stdout


@TIERS
def test_breakpoint_in_hot_jit_loop(gdb, program, tier):
    # checkpoint() is called from inside the loop after 10000 iterations: the loop
    # is a JIT superblock (or native code) by then; a breakpoint put on its body
    # must still hit
    out, (rc, stdout, err) = gdb(program("gdb_basic"), [
        "break checkpoint", "continue", "up", "print i", f"break {LOOP_LINE}", "continue",
        "print i", "print counter", "delete", "continue"], args=("20000",), opts=tier + ("-stats",))
    assert "Breakpoint 1, checkpoint (i=10000)" in out, out
    assert re.search(r"Breakpoint 2, hot \(n=20000\) at .*gdb_basic\.c:28", out), out
    assert re.findall(r"^\$\d+ = (\d+)", out, re.M) == ["10000", "10000", "10000"], out
    assert rc == 13 and "counter=20000" in stdout
    if tier:        # the loop ran in native code (before the stop, after it, or both)
        assert int(re.search(r"native_guest_insns\s+(\d+)", err).group(1)) > 100000, err


def test_tbreak(gdb, program):
    out, (rc, _, _) = gdb(program("gdb_basic"), ["tbreak patched_value", "continue", "continue"])
    assert out.count("Temporary breakpoint 1, patched_value") == 1, out
    assert "exited with code 015" in out and rc == 13


def test_conditional_breakpoint(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_basic"), [
        f"break {LOOP_LINE} if i == 250", "continue", "print i", "print counter", "delete", "continue"],
        args=("300",))
    assert re.findall(r"^\$\d+ = (\d+)", out, re.M) == ["250", "250"], out
    assert rc == 13 and "counter=300" in stdout


def test_kill(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_basic"), ["break square", "continue", "kill"])
    assert "Breakpoint 1, square" in out and "killed" in out, out
    assert rc == -9 and "patched" not in stdout


def test_detach_runs_on(gdb, program):
    out, (rc, stdout, _) = gdb(program("gdb_basic"), ["break square", "continue", "detach"])
    assert re.search(r"\[Inferior 1 \(process \d+\) detached\]", out), out
    assert rc == 13 and "x=3 y=9" in stdout and "patched=7" in stdout


def test_gdb_going_away_lets_the_guest_run(stub, program):
    s = stub(program("gdb_basic"))
    subprocess.run([GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
                    "-ex", f"target remote :{s.spec}", "-ex", "break square", "-ex", "continue",
                    "-ex", "disconnect", str(program("gdb_basic"))], capture_output=True, timeout=60, preexec_fn=no_core)
    rc, stdout, _ = s.finish()
    assert rc == 13 and "patched=7" in stdout


def test_info_proc_mappings(gdb, program):
    prog = program("gdb_basic")
    out, (rc, _, _) = gdb(prog, ["break square", "continue", "info proc mappings", "continue"])
    assert re.search(r"0x10000\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x0\s+.*" + re.escape(str(prog)), out), out
    assert "[stack]" in out and rc == 13


def test_dynamic_program_shared_libraries(gdb, program):
    sysroot = "/usr/riscv64-linux-gnu"
    out, (rc, stdout, _) = gdb(program("gdb_basic_dyn"), [
        "break square", "continue", "info sharedlibrary", "bt", "continue"],
        opts=("-L", sysroot), pre=(f"set sysroot {sysroot}",))
    assert "Breakpoint 1, square (v=3)" in out, out
    assert re.search(r"0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes\s+.*libc\.so\.6", out), out
    assert re.search(r"ld-linux-riscv64-lp64d\.so\.1", out), out
    assert rc == 13 and "x=3 y=9" in stdout


@TIERS
def test_threads_all_stop(gdb, program, tier):
    out, (rc, stdout, _) = gdb(program("gdb_threads"), [
        "break worker_step", "continue", "info threads", "print id", "continue", "continue",
        "continue"], opts=tier)
    assert out.count("hit Breakpoint 1, worker_step") == 3 or out.count("Breakpoint 1, worker_step") == 3, out
    threads = re.findall(r"^\*?\s+\d+\s+Thread ", out, re.M)
    assert len(threads) == 4, out                  # main + 3 workers, all stopped
    assert rc == 0 and "total=6" in stdout


@TIERS
def test_ctrl_c_through_gdb(stub, program, tier):
    """SIGINT to gdb while the guest runs a long loop: gdb sends \\x03, the stub stops."""
    import os
    import signal
    from gdbstub_client import wait_running
    prog = program("gdb_basic")
    s = stub(prog, args=("2000000000",), opts=tier)
    g = subprocess.Popen([GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
                          "-ex", f"target remote :{s.spec}", "-ex", "continue", "-ex", "bt 1",
                          "-ex", "kill", str(prog)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                         preexec_fn=no_core)
    try:
        wait_running(s.proc.pid)                   # (gdb connected and continued: the loop runs)
        os.kill(g.pid, signal.SIGINT)
        out = g.communicate(timeout=60)[0].decode()
    finally:
        if g.poll() is None:
            g.kill()
    assert "SIGINT" in out and re.search(r"#0\s+.*hot \(n=2000000000\)", out), out
    rc, _, _ = s.finish()
    assert rc == -9


def test_bad_g_option():
    import sys
    r = subprocess.run([sys.executable, "-m", "pydbt", "run", "-g", "0", "/bin/true"], capture_output=True)
    assert r.returncode == 1 and r.stderr.decode().startswith("pydbt: -g 0:") and r.stderr.count(b"\n") == 1


def test_port_in_use(program):
    import socket
    import sys
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "pydbt", "run", "-g", str(port), str(program("gdb_basic"))],
                           capture_output=True, timeout=30)
    assert r.returncode == 1 and r.stderr.decode().startswith(f"pydbt: -g {port}:"), r.stderr


def test_fork_child_runs_free(gdb, program):
    """gdb's defaults (follow the parent, detach-on-fork on): the child must not
    stop at the parent's breakpoints nor wait for gdb (test_gdb_follow.py has
    the other modes)."""
    out, (rc, stdout, _) = gdb(program("gdb_fork"), ["break twice", "continue", "bt 1", "continue"])
    assert out.count("Breakpoint 1, twice (v=1)") == 1 and "twice (v=21)" not in out, out
    assert "exited normally" in out, out
    assert rc == 0 and "child 42" in stdout and "parent 2, child exit 4" in stdout
