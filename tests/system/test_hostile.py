"""Hostile and faulting guests, signal side: pydbt against qemu-riscv64 and the
kernel's documented answers.

- jumps (jal / jalr) to an unmapped or non-executable page: the fault is at the
  target (signal frame pc, si_addr, pydbt's one-line message), ra written;
- a shared file mapping truncated under the guest: SIGBUS (BUS_ADRERR, si_addr)
  at the access, EFAULT for a syscall, and never a spinning or crashing pydbt
  (also checked for a real host fault: the one-shot host handler);
- kill(getpid(), sig) / raise(sig) for every signal 1..64 with its default
  action: death by that signal, ignored, or a stop that the parent sees with
  waitpid(WUNTRACED) and ends with SIGCONT.  qemu-riscv64 7.2 is the oracle for
  1..31; for the real-time signals it is wrong (it sends guest signal n as host
  signal n+2 and loses 63 and 64), so there the oracle is signal(7): terminate;
- riscv_flush_icache: 0 for flags 0 and 1, EINVAL otherwise, as the kernel
  (qemu 7.2 answers 0 for every flag: compared only where it is right).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import pydbt

import guestprogs

CONFIGS = {
    "interp": ["-backend", "interp"],
    "jit": ["-backend", "pybytecode", "-jit-threshold", "0"],
    "tiered": [],
    "llvm": ["-backend", "llvm", "-jit-threshold", "0"],
}
BACKENDS = guestprogs.selected(CONFIGS)     # (those the parametrized tests run)
TIMEOUT = 120.0
ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent",
       **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}


def _run(argv, tmp_path):
    return guestprogs.run(argv, env=ENV, cwd=tmp_path, timeout=TIMEOUT)


def _pydbt(binary, args, backend, tmp_path):
    return _run(guestprogs.pydbt_argv(binary, args, CONFIGS[backend]), tmp_path)


def _qemu(binary, args, tmp_path):
    return _run(guestprogs.qemu_argv(binary, args), tmp_path)


def _same(q, p):
    assert not p.timed_out, "pydbt timed out"
    assert p.returncode == q.returncode, f"qemu {q.describe()}, pydbt {p.describe()}\n{p.stderr.decode()[-2000:]}"
    assert p.stdout == q.stdout, f"qemu:\n{q.stdout.decode()}\npydbt:\n{p.stdout.decode()}"
    assert guestprogs.drop_lines(p.stderr, guestprogs.PYDBT_STDERR_PREFIXES) == \
        guestprogs.drop_lines(q.stderr, guestprogs.QEMU_STDERR_PREFIXES)


# --- jumps to code that cannot run -------------------------------------------------------

TARGET = 0x200001000          # hostile_jump's target page (its stub is at 0x200000000)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("page", ["unmapped", "noexec"])
@pytest.mark.parametrize("jump", ["jal", "jalr"])
def test_jump_fault_is_at_the_target(jump, page, backend, guest_binary, tmp_path):
    binary = guest_binary("hostile_jump")
    args = [jump, page, "handler", "60"]        # 60: the stub and the loop get hot for the JIT
    q = _qemu(binary, args, tmp_path)
    code = 1 if page == "unmapped" else 2       # SEGV_MAPERR / SEGV_ACCERR
    assert q.returncode == 0 and q.stdout.count(
        f"sig=11 code={code} addr=P+0x1000 pc=P+0x1000 ra=P+0x4\n".encode()) == 60, q.stdout
    _same(q, _pydbt(binary, args, backend, tmp_path))


@pytest.mark.parametrize("backend", ["interp", "tiered"])
@pytest.mark.parametrize("jump", ["jal", "jalr"])
def test_jump_fault_without_handler(jump, backend, guest_binary, tmp_path):
    binary = guest_binary("hostile_jump")
    args = [jump, "noexec", "die"]
    q = _qemu(binary, args, tmp_path)
    assert q.returncode == -signal.SIGSEGV
    p = _pydbt(binary, args, backend, tmp_path)
    _same(q, p)
    assert f"pydbt: uncaught target signal 11 (Segmentation fault) at pc {TARGET:#x} - SIGSEGV\n".encode() \
        == p.stderr


# --- SIGBUS from a truncated shared file mapping -----------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_sigbus_truncated_shared_mapping(backend, guest_binary, tmp_path):
    binary = guest_binary("hostile_sigbus")
    q = _qemu(binary, [str(tmp_path), "handler", "60"], tmp_path)
    assert q.returncode == 0 and b"faults=120" in q.stdout and b"-1 Bad address" in q.stdout
    assert q.stdout.count(b"sig=7 code=2 addr=base+0x1ff8 pc=fn+0\n") == 60
    _same(q, _pydbt(binary, [str(tmp_path), "handler", "60"], backend, tmp_path))


@pytest.mark.parametrize("backend", ["interp", "tiered"])
def test_sigbus_without_handler(backend, guest_binary, tmp_path):
    binary = guest_binary("hostile_sigbus")
    q = _qemu(binary, [str(tmp_path), "die"], tmp_path)
    assert q.returncode == -signal.SIGBUS
    p = _pydbt(binary, [str(tmp_path), "die"], backend, tmp_path)
    _same(q, p)
    assert p.stderr.startswith(b"pydbt: uncaught target signal 7 (Bus error) at pc 0x")


def test_real_host_fault_with_a_guest_handler_does_not_spin(tmp_path):
    """The safety net under the checked path: a host SIGBUS that does happen
    while the guest handles SIGBUS (CPython's C handler alone would return to
    the faulting instruction forever) kills pydbt with SIGBUS."""
    script = textwrap.dedent(f"""
        import ctypes, mmap, os
        from pydbt.runtime.signals import Signals, Action
        class Proc:
            pass
        sigs = Signals(Proc())
        sigs.set_action(7, Action(handler=0x1000))
        fd = os.open({str(tmp_path / "f")!r}, os.O_RDWR | os.O_CREAT)
        os.ftruncate(fd, 8192)
        m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
        os.ftruncate(fd, 0)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        print("touching", flush=True)
        ctypes.string_at(addr + 4096, 8)
        print("survived")
    """)
    r = guestprogs.run([sys.executable, "-c", script], env=ENV, cwd=tmp_path, timeout=20)
    assert not r.timed_out, "a host SIGBUS with a guest handler spun"
    assert r.returncode == -signal.SIGBUS and r.stdout == b"touching\n", (r.describe(), r.stderr)


# --- signals to itself with the default action ---------------------------------------------

_IGNORED = {signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH}
_STOPS = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}


def linux_default(sig):
    """signal(7): what the default action does to the process."""
    if sig in _IGNORED:
        return "exit 0"
    if sig in _STOPS:
        return f"stopped by {sig}, exit 0"
    return f"killed by {sig}"


def run_watching_stops(argv, tmp_path):
    """Run argv in a process group of its own (not orphaned: SIGTSTP & co. stop
    it); resume it with SIGCONT when it stops.  -> (outcome, stdout)"""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=ENV, cwd=tmp_path, process_group=0)
    outcome, deadline = "", time.monotonic() + TIMEOUT
    with p:
        while True:
            pid, status = os.waitpid(p.pid, os.WUNTRACED | os.WNOHANG)
            if pid == 0:
                if time.monotonic() > deadline:
                    p.kill()
                    return "timed out", b""
                time.sleep(0.01)
            elif os.WIFSTOPPED(status):
                outcome += f"stopped by {os.WSTOPSIG(status)}, "
                os.kill(p.pid, signal.SIGCONT)
            else:
                p.returncode = status           # reaped here, not by Popen
                break
        out = p.stdout.read()
    if os.WIFSIGNALED(status):
        return outcome + f"killed by {os.WTERMSIG(status)}", out
    return outcome + f"exit {os.WEXITSTATUS(status)}", out


@pytest.mark.parametrize("sig", range(1, 65))
def test_kill_self_default_action(sig, guest_binary, tmp_path):
    binary = guest_binary("hostile_kill")
    want = linux_default(sig)
    if sig < 32:                # qemu-riscv64 is right there (it is not for 32..64)
        q, _ = run_watching_stops(guestprogs.qemu_argv(binary, ["kill", str(sig)]), tmp_path)
        assert q == want, f"oracle: qemu {q}, signal(7) says {want}"
    got, out = run_watching_stops(guestprogs.pydbt_argv(binary, ["kill", str(sig)]), tmp_path)
    assert got == want
    assert out.startswith(f"sending {sig}\n".encode())
    assert (f"survived {sig} (r=0)\n".encode() in out) == want.endswith("exit 0")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGCHLD, signal.SIGSTOP,
                                 signal.SIGTSTP, 32, 33, 34, 64])
def test_raise_default_action(sig, guest_binary, tmp_path):
    """raise() is tgkill of itself: the same ends, on the interpreter; except that
    glibc's raise() refuses its own 32 and 33 (EINVAL, as natively and under qemu)."""
    binary = guest_binary("hostile_kill")
    got, out = run_watching_stops(
        guestprogs.pydbt_argv(binary, ["raise", str(sig)], CONFIGS["interp"]), tmp_path)
    if sig in (32, 33):
        assert (got, out) == ("exit 0", f"sending {sig}\nsurvived {sig} (r=-1)\n".encode())
    else:
        assert got == linux_default(sig)


# --- riscv_flush_icache ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", [b for b in ("interp", "tiered") if b in BACKENDS])
def test_flush_icache(backend, guest_binary, tmp_path):
    binary = guest_binary("hostile_flush_icache")
    _same(_qemu(binary, [], tmp_path), _pydbt(binary, [], backend, tmp_path))
    p = _pydbt(binary, ["invalid"], backend, tmp_path)
    assert p.returncode == 0
    for flags in ("0x2", "0x3", "0x8000000000000000"):     # the kernel's answer; qemu 7.2 says 0
        assert f"flush_icache(buf, buf + 64, {flags}) = -1 (Invalid argument)\n".encode() in p.stdout
    assert p.stdout.endswith(b"code returns 21\n")


@pytest.mark.parametrize("delay", [0.03, 0.1, 0.4, 1.0])
def test_ctrl_c_at_any_time_kills_with_sigint(guest_binary, delay):
    """SIGINT during pydbt's start-up, loading or the guest's run: pydbt dies of
    SIGINT (the guest has no handler), never a plain exit status; no traceback once
    pydbt's code runs (a SIGINT inside CPython's own start-up, before `python -m
    pydbt` reaches pydbt, is CPython's: it too dies of SIGINT, with its traceback,
    or, inside one of its initialization steps (the site module's import, the
    standard streams' set-up: seen on 3.13), ends with its own "Fatal Python
    error: init_..." and status 1: nothing of pydbt has run then)."""
    # (a guest that runs far longer than the longest delay: ~10^9 instructions)
    p = subprocess.Popen([sys.executable, "-m", "pydbt", "run", "-backend", "interp",
                          str(guest_binary("hotloop")), "100000000"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    if p.returncode == 1 and err.startswith(b"Fatal Python error: init_"):
        return                                   # (CPython's start-up, before any pydbt code)
    assert p.returncode == -signal.SIGINT, (p.returncode, err.decode()[-2000:])
    # (a traceback whose frames are all CPython's start-up: its frozen runpy and
    # import code, and what they call before pydbt's __main__ runs, e.g. the
    # editable install's finder and pathlib: none of pydbt's own files)
    own = os.path.dirname(pydbt.__file__).encode()
    assert b"Traceback" not in err or own not in err, err
