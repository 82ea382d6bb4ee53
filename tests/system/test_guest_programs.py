"""pydbt against qemu-riscv64 on the guest programs of tests/guest.

Each case runs one program under ``qemu-riscv64`` (the oracle) and under
``python -m pydbt run`` with the same arguments, environment and a fresh
temporary directory each, then compares stdout, stderr and the exit status
exactly.  Lines the emulators print themselves are dropped from stderr
first: ``qemu:``/``qemu-riscv64:`` from qemu's, ``pydbt:`` from pydbt's.  A
guest killed by a signal must end both with returncode ``-signal``.

Before comparing, the qemu run is checked against what the program is meant
to do (exit status or signal, no ``FAIL`` lines, its final line), so a broken
oracle or program shows up as such and not as a pydbt bug.

Environment knobs:
  PYDBT_SYSTEST_OPTS     extra pydbt options, e.g. "--backend interp"
  PYDBT_SYSTEST_TIMEOUT  seconds allowed to each pydbt run (default 600)
  PYDBT_SYSTEST_ORACLE_ONLY=1  run and check only the qemu side, then skip
                         (to check the programs and the oracle themselves)
  PYDBT_CROSS_CC, PYDBT_QEMU  the cross compiler and qemu to use
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shlex
import signal

import pytest

import guestprogs

PYDBT_TIMEOUT = float(os.environ.get("PYDBT_SYSTEST_TIMEOUT", "180"))   # (the slowest: ~20 s under load)
PYDBT_OPTS = shlex.split(os.environ.get("PYDBT_SYSTEST_OPTS", ""))
ORACLE_ONLY = os.environ.get("PYDBT_SYSTEST_ORACLE_ONLY", "") not in ("", "0")
QEMU_TIMEOUT = 60.0

TMPDIR = "{tmpdir}"  # replaced by the run's own temporary directory


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    program: str
    args: tuple[str, ...] = ()
    exit: int | None = 0  # expected exit status, or
    signal: int | None = None  # the signal the guest must die of
    stdout_has: tuple[bytes, ...] = ()  # oracle sanity: qemu's stdout contains these
    env: tuple[tuple[str, str], ...] = ()


def _done(name):
    return (f"{name} done, failures=0".encode(),)


CASES = [
    Case("hello", "hello", stdout_has=(b"Hello, world!\n",)),
    Case(
        "argv_env",
        "argv_env",
        args=("alpha", "--", "", "two words", "-x", "--help", "ünï", ""),
        exit=3,
        stdout_has=(b"argc=9", b"argv[2]=[--] len=2", b"argv[8]=[] len=0", b"PYDBT_TEST_VAR=[a b=c; d]"),
        env=(("PYDBT_TEST_VAR", "a b=c; d"),),
    ),
    Case("intarith", "intarith", exit=42, stdout_has=_done("intarith")),
    Case("intarith_O0", "intarith_O0", exit=42, stdout_has=_done("intarith")),
    Case("isa", "isa", stdout_has=_done("isa") + (b"counters monotonic: cycle=1 time=1 instret=1",)),
    Case("rvc", "rvc", stdout_has=(b"first parcel compressed: 1",)),
    Case("fp_arith", "fp_arith", stdout_has=_done("fp_arith")),
    Case("fp_convert", "fp_convert", stdout_has=_done("fp_convert")),
    Case("atomics", "atomics", stdout_has=_done("atomics")),
    Case("fileio", "fileio", args=(TMPDIR,), stdout_has=(b"fileio done",)),
    Case("xattr", "xattr", args=(TMPDIR,), stdout_has=(b"xattr done",)),
    Case("printf", "printf", stdout_has=(b"atoi=-31337",)),
    Case("qsort", "qsort", stdout_has=(b"structs sorted=1", b"ints: sorted=1 same_as_mergesort=1")),
    Case("setjmp", "setjmp", stdout_has=(b"outer caught 15", b"siglongjmp 5")),
    Case("setjmp_O0", "setjmp_O0", stdout_has=(b"outer caught 15", b"siglongjmp 5")),
    Case("malloc", "malloc", stdout_has=(b"bad=0", b"large blocks ok=1", b"malloc(2^62) == NULL: 1")),
    Case("segv", "segv", exit=None, signal=signal.SIGSEGV, stdout_has=(b"about to write to address 0x10\n",)),
    Case("sigill_zero", "sigill", args=("zero",), exit=None, signal=signal.SIGILL),
    Case("sigill_undef", "sigill", args=("undef",), exit=None, signal=signal.SIGILL),
    Case("sigill_csr", "sigill", args=("csr",), exit=None, signal=signal.SIGILL),
    Case("sigill_badrm", "sigill", args=("nofd",), exit=None, signal=signal.SIGILL),
    Case("segv_recover", "segv_recover", exit=5, stdout_has=(b"recovered 3 times",)),
    Case("signals", "signals", exit=7, stdout_has=(b"signals done",)),
    Case("slow_access", "slow_access", stdout_has=(b"misaligned: ", b"code page: ")),
    Case("fault_loads", "fault_loads", stdout_has=(b"protnone: faults=120", b"far: faults=300", b"file: 7f ELF")),
    Case("fault_stores", "fault_stores", stdout_has=(b"readonly: faults=120", b"above: faults=300",
                                                     b"self-modifying: ")),
    Case("smc", "smc", stdout_has=(b"fence.i: first=42 second=1234", b"compressed: 13 5")),
    Case("hostile_jump", "hostile_jump", args=("jalr", "noexec", "handler", "60"),
         stdout_has=(b"pc=P+0x1000 ra=P+0x4", b"faults=60")),
    Case("hostile_kill", "hostile_kill", args=("raise", "15"), exit=None, signal=signal.SIGTERM,
         stdout_has=(b"sending 15\n",)),
    Case("hostile_sigbus", "hostile_sigbus", args=(TMPDIR, "handler", "60"),
         stdout_has=(b"faults=120", b"grown again: 0 0")),
    Case("hostile_flush_icache", "hostile_flush_icache", stdout_has=(b"code returns 21",)),
    Case("exec_stack", "exec_stack", stdout_has=(b"levels: 3025", b"exec_stack done")),
    Case("big_stack", "big_stack", stdout_has=(b"shallow: handled 6 signals", b"big_stack done")),
    # dynamically linked (no -static): both emulators get -L (Program.emu_opts)
    Case("hello_dyn", "hello_dyn", stdout_has=(b"Hello, world!\n",)),
    Case("printf_dyn", "printf_dyn", stdout_has=(b"atoi=-31337",)),
    Case("malloc_dyn", "malloc_dyn", stdout_has=(b"bad=0", b"large blocks ok=1", b"malloc(2^62) == NULL: 1")),
    Case("fp_convert_dyn", "fp_convert_dyn", stdout_has=_done("fp_convert")),
    Case("dyn_loader", "dyn_loader", stdout_has=(b"libm loaded before dlopen: 0", b"cos(0.5)=0.8775825618903727",
                                                 b"dyn_loader done, failures=0")),
    # processes and threads (exec needs the guest to run guest programs: qemu-riscv64
    # without binfmt_misc cannot, so exec has its own test in test_processes.py)
    Case("procs_fork", "procs", args=("fork",), stdout_has=(b"child 3: killed by signal 15", b"pgrp child: exited 0")),
    Case("procs_fork_dyn", "procs_dyn", args=("fork",), stdout_has=(b"child 4: killed by signal 11",)),
    Case("threads", "threads", stdout_has=(b"counter=16000 (expected 16000) atomic=32000 (expected 32000)",)),
    Case("threads_dyn", "threads_dyn", stdout_has=(b"counter=16000 (expected 16000) atomic=32000",)),
    Case("threads_exit_group", "threads", args=("exit-group",), exit=3, stdout_has=(b"exiter: calling exit(3)",)),
    Case("threads_fork_lock", "threads", args=("fork-lock",), stdout_has=(b"fork 2: exited 22",)),
    Case("threads_smc", "threads", args=("smc",), stdout_has=(b"runner saw the new code: 1",)),
    Case("threads_tkill", "threads", args=("tkill",), stdout_has=(b"signal handled in the target thread: 1",)),
    Case("threads_main_exit", "threads", args=("main-exit",), stdout_has=(b"late thread 1 still runs",)),
    Case("prio", "prio", stdout_has=(b"getpriority now: 1", b"FIFO: 99 1")),
    Case("threads_robust", "threads", args=("robust",), stdout_has=(b"lock after the owner died: EOWNERDEAD",)),
    Case("threads_atomics_vs_stores", "threads", args=("atomics-vs-stores",),
         stdout_has=(b"plain stores lost to atomics: 0 (hammer ran: 1)",)),
    Case("threads_mmap_race", "threads", args=("mmap-race",), stdout_has=(b"mappings shared by two threads: 0",)),
    Case("threads_native", "threads_native", stdout_has=(b"spinlock 40000 (expected 40000)", b"bits 0x2020202",
                                                     b"signals handled by the computing thread: 20 of 20",
                                                     b"threads_native done")),
    Case("timers_sigev_thread", "timers", args=("sigev-thread",),
         stdout_has=(b"SIGEV_THREAD function ran 3 times: 1, value 99",)),
    Case("gdb_basic", "gdb_basic", exit=13, stdout_has=(b"x=3 y=9 first=7\n", b"patched=7\n")),
    Case("gdb_basic_dyn", "gdb_basic_dyn", exit=13, stdout_has=(b"x=3 y=9 first=7\n",)),
    Case("gdb_threads", "gdb_threads", stdout_has=(b"total=6\n",)),
    Case("gdb_fork", "gdb_fork", stdout_has=(b"child 42\n", b"parent 2, child exit 4\n")),
    # blocking calls, waiting for signals, timers (issue 10)
    Case("timers_alarm", "timers", args=("alarm",), stdout_has=(b"pause: -1 Interrupted system call, alarms=1",)),
    Case("timers_itimer", "timers", args=("itimer",), stdout_has=(b"no tick after the stop: 1",)),
    Case("timers_posix", "timers", args=("posix",), stdout_has=(b"si_value 1234", b"CPU-time timer fired while busy: 1")),
    Case("timers_thread", "timers", args=("thread",), stdout_has=(b"SIGEV_THREAD_ID: handled in the target thread 1",)),
    Case("timers_abstime", "timers", args=("abstime",), stdout_has=(b"woke after the deadline 1",)),
    Case("sigwait_suspend", "sigwait", args=("suspend",), stdout_has=(b"handler ran 1",)),
    Case("sigwait_timedwait", "sigwait", args=("timedwait",), stdout_has=(b"si_pid is the child 1",)),
    Case("sigwait_queue", "sigwait", args=("queue",), stdout_has=(b"handler: value 42, si_code SI_QUEUE 1",)),
    Case("sigwait_signalfd", "sigwait", args=("signalfd",), stdout_has=(b"ssi_int 31, SI_QUEUE 1",)),
    Case("blocking_restart", "blocking", args=("restart",), stdout_has=(b"SA_RESTART read: 5 'late'",)),
    Case("blocking_eintr", "blocking", args=("eintr",), stdout_has=(b"read without SA_RESTART: -1 Interrupted",)),
    Case("blocking_nanosleep", "blocking", args=("nanosleep",), stdout_has=(b"remaining in (0, 10s]: 1",)),
    Case("blocking_poll", "blocking", args=("poll",), stdout_has=(b"poll: -1 Interrupted system call",)),
    Case("blocking_wait", "blocking", args=("wait",), stdout_has=(b"waitpid without SA_RESTART: -1 Interrupted",)),
    Case("blocking_thread", "blocking", args=("thread",), stdout_has=(b"handler ran in the reader: 1",)),
    Case("gdb_follow", "gdb_follow", args=("fork",), exit=3,
         stdout_has=(b"child 42\n", b"parent 2\n", b"child exit 7\n")),
    Case("gdb_follow_syscall", "gdb_follow", args=("syscall",), exit=5, stdout_has=(b"syscall write\n",)),
    Case("gdb_exec_target", "gdb_exec_target", exit=9, stdout_has=(b"exec target - 9\n",)),
    Case("gdb_signals", "gdb_signals", stdout_has=(b"usr1 handler ran 1\n", b"usr2 handler ran 0\n")),
    Case("gdb_signals_segv", "gdb_signals", args=("segv",), exit=None, signal=signal.SIGSEGV),
    Case("gdb_watch", "gdb_watch", stdout_has=(b"acc=4498500 watched=2999 sink=10 by_thread=42\n",)),
    Case("gdb_watch_segv", "gdb_watch", args=("segv",), exit=None, signal=signal.SIGSEGV),
    Case("gdb_watch_segv_handled", "gdb_watch", args=("segv-handled",), exit=3,
         stdout_has=(b"si_addr=0x10 si_code=1\n",)),
    Case("gdb_loops", "gdb_loops", stdout_has=(b"spin=1222773826\n",)),
    Case("gdb_loops_read", "gdb_loops", args=("read",), stdout_has=(b"reading\nread=0 buf=[]\n",)),
    # sockets (issue 10; also tests/system/test_sockets.py)
    Case("sockets", "sockets", args=(TMPDIR,), stdout_has=(b"tcp: echoed 56 bytes, client exit 0",
                                                           b"unix: read through the received fd: 28",
                                                           b"sockets done, failures=0")),
    Case("sockets_dyn", "sockets_dyn", args=(TMPDIR, "tcp", "unix", "msg"),
         stdout_has=(b"sockets done, failures=0",)),
    # tiering (issue 12; also tests/system/test_tiering.py)
    Case("hotloop", "hotloop", args=("20000",), stdout_has=(b"2658416250084589850 2549744\n",)),
]


def guest_env(case: Case) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C",
        "HOME": "/nonexistent",
    }
    # keep pydbt importable when the tests run from a source tree
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env.update(dict(case.env))
    return env


def run_case(case: Case, binary, argv_for, tmp_path, tag, timeout):
    work = tmp_path / f"{tag}-dir"
    cwd = tmp_path / f"{tag}-cwd"
    work.mkdir()
    cwd.mkdir()
    args = [a.replace(TMPDIR, str(work)) for a in case.args]
    return guestprogs.run(argv_for(binary, args), env=guest_env(case), cwd=cwd, timeout=timeout)


def expected_returncode(case: Case) -> int:
    return -case.signal if case.signal is not None else case.exit


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _diff(name, want: bytes, got: bytes, limit=60) -> str:
    lines = list(
        difflib.unified_diff(
            _text(want).splitlines(keepends=True),
            _text(got).splitlines(keepends=True),
            fromfile=f"{name} (qemu)",
            tofile=f"{name} (pydbt)",
            n=2,
        )
    )
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)\n"]
    return "".join(lines)


def check_oracle(case: Case, q: guestprogs.Result):
    """qemu must do what the program is written to do."""
    assert not q.timed_out, f"qemu-riscv64 timed out on {case.id}"
    want = expected_returncode(case)
    assert q.returncode == want, (
        f"oracle: qemu-riscv64 {case.id}: {q.describe()}, expected "
        f"{'signal ' + signal.Signals(case.signal).name if case.signal else 'exit ' + str(case.exit)}\n"
        f"stdout:\n{_text(q.stdout)[-2000:]}\nstderr:\n{_text(q.stderr)[-2000:]}"
    )
    assert b"FAIL" not in q.stdout, f"oracle: {case.id} reports self-check failures under qemu:\n{_text(q.stdout)}"
    for s in case.stdout_has:
        assert s in q.stdout, f"oracle: {case.id} stdout under qemu lacks {s!r}:\n{_text(q.stdout)[-3000:]}"


# every program runs on each backend configuration: the reference interpreter, the
# bytecode JIT compiling every block at once, and -backend auto (the default:
# interpreter, bytecode JIT, quick native code, optimized native code for what
# gets hot) with thresholds low enough and no warm-up, so that tier changes
# happen in every program, native code made in the compile thread (thresholds
# of 2/40 tripled the time of a printf-heavy program: 28 s; the default's
# 200 ms warm-up makes native code in few of these short programs, so its
# configuration would add little but time: tests/system/test_tiering.py runs
# it; -backend llvm on its own: tests/system/test_hostile.py and tests/unit)
BACKENDS = guestprogs.selected({
    "interp": ["-backend", "interp"],
    "jit": ["-backend", "pybytecode", "-jit-threshold", "0"],
    "baseline": ["-backend", "baseline", "-jit-threshold", "0"],
    "auto": ["-backend", "auto", "-opt-threshold", "8", "-native-warmup", "0",
             "-compile-share", "0"],
})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_guest_program(case: Case, backend, guest_binary, tmp_path):
    binary = guest_binary(case.program)

    emu_opts = list(guestprogs.PROGRAMS[case.program].emu_opts)
    q = run_case(case, binary, lambda b, a: guestprogs.qemu_argv(b, a, emu_opts), tmp_path, "qemu", QEMU_TIMEOUT)
    check_oracle(case, q)
    if ORACLE_ONLY:
        pytest.skip("PYDBT_SYSTEST_ORACLE_ONLY: qemu side checked, pydbt not run")

    p = run_case(
        case,
        binary,
        lambda b, a: guestprogs.pydbt_argv(b, a, BACKENDS[backend] + PYDBT_OPTS + emu_opts),
        tmp_path,
        "pydbt",
        PYDBT_TIMEOUT,
    )
    q_err = guestprogs.drop_lines(q.stderr, guestprogs.QEMU_STDERR_PREFIXES)
    p_err = guestprogs.drop_lines(p.stderr, guestprogs.PYDBT_STDERR_PREFIXES)

    problems = []
    if p.timed_out:
        problems.append(f"pydbt timed out after {p.elapsed:.0f}s")
    if p.returncode != q.returncode:
        problems.append(f"status: qemu {q.describe()}, pydbt {p.describe()}")
    if p.stdout != q.stdout:
        problems.append("stdout differs:\n" + _diff("stdout", q.stdout, p.stdout))
    if p_err != q_err:
        problems.append("stderr differs:\n" + _diff("stderr", q_err, p_err))
    if problems:
        raw_err = _text(p.stderr)
        if len(raw_err) > 3000:
            raw_err = raw_err[:1000] + "\n...\n" + raw_err[-2000:]
        pytest.fail(
            f"{case.id}: pydbt differs from qemu-riscv64\n"
            f"$ {' '.join(p.argv)}\n"
            + "\n".join(problems)
            + f"\n--- pydbt stderr (unfiltered) ---\n{raw_err}",
            pytrace=False,
        )


# programs exercised by a test module of their own instead of a case here
ELSEWHERE = {"hostile_sys": "test_hostile_sys_qemu.py", "events": "test_events.py", "fileio2": "test_events.py",
             "cputime": "test_guest_cputime.py", "outside_signals": "test_outside_signals.py",
             "signalfd_churn": "test_signalfd_leak.py"}


def test_every_program_has_a_case():
    """Each program in the build table is exercised by at least one case (or by
    the module ELSEWHERE names, which must use it)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name, module in ELSEWHERE.items():
        with open(os.path.join(here, module)) as f:
            assert f'"{name}"' in f.read(), f"{module} does not use {name}"
    used = {c.program for c in CASES} | set(ELSEWHERE)
    assert set(guestprogs.PROGRAMS) == used
