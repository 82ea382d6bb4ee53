"""Tiering (-backend auto: interpreter -> baseline native code -> LLVM's
optimized native code), against qemu-riscv64's output and pydbt's own -stats.

- a loop that becomes hot while it runs moves to native code at once (baseline
  code, made in the guest's thread after -jit-threshold runs) and to LLVM's
  code at once (with -sync-compile) or soon (the compile thread: the running
  baseline code asks again whether its replacement is ready);
- baseline code is optimized once it has counted -opt-threshold guest
  instructions (its own count: test_quick_hotness.py);
- thresholds of 0 skip their tier; without llvmlite, auto is interp -> baseline;
- LLVM keeps to -compile-share of the run's time (the tests of
  the thresholds lift that limit);
- -stats counts the promotions per tier.
Every run's output is qemu's.
"""
import json
import os
import subprocess
import sys

import pytest

import guestprogs
from pydbt.backends import unavailable

pytestmark = pytest.mark.skipif(unavailable("llvm") is not None, reason="llvmlite is not installed")

TIMEOUT = 300.0
ITERATIONS = 4_000_000          # ~40 M guest instructions: ~2 s on the bytecode JIT alone


def _env():
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYDBT_CODE_CACHE": "off",
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}


def _run(binary, opts, tmp_path, n=ITERATIONS):
    """stdout and -stats=json of pydbt running hotloop n"""
    argv = [sys.executable, "-m", "pydbt", "run", *opts, "-stats=json", str(binary), str(n)]
    r = guestprogs.run(argv, env=_env(), cwd=tmp_path, timeout=TIMEOUT)
    assert r.returncode == 0, r.describe() + "\n" + r.stderr.decode(errors="replace")[-3000:]
    return r.stdout, json.loads(r.stderr.decode().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def oracle(guest_binaries):
    binary = guest_binaries["hotloop"]
    if isinstance(binary, guestprogs.BuildError):
        pytest.fail(str(binary), pytrace=False)
    q = guestprogs.run(guestprogs.qemu_argv(binary, [str(ITERATIONS)]), env=_env(), cwd="/", timeout=TIMEOUT)
    assert q.returncode == 0, q.describe()
    return binary, q.stdout


def test_hot_loop_moves_to_native_code_while_it_runs(oracle, tmp_path):
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-native-warmup", "0",
                               "-opt-threshold", "64", "-compile-share", "0"], tmp_path)
    assert out == want
    # the loop's TB gets hot after -jit-threshold runs on the interpreter and
    # the next iteration is native (baseline code, then, after 64 of its
    # instructions, LLVM's)
    assert stats["native_guest_insns"] > 0.95 * stats["guest_insns"], stats
    assert stats["compile_ms"].keys() >= {"interp", "baseline", "llvm"}, stats
    assert stats["tbs_promoted"] >= 2, stats


@pytest.mark.parametrize("opt", ["1", "0"])
def test_baseline_code_is_optimized_where_time_is_spent(oracle, tmp_path, opt):
    """The loop's baseline code counts its first iteration at once: with
    -opt-threshold 1 LLVM compiles it again, and it runs there; 0 skips the
    baseline tier."""
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-opt-threshold", opt,
                               "-native-warmup", "0", "-compile-share", "0"], tmp_path)
    assert out == want
    assert stats["native_guest_insns"] > 0.95 * stats["guest_insns"], stats
    by = stats["tbs_by_backend"]
    assert by.get("llvm", 0) >= 1, stats
    if opt == "0":
        assert "baseline" not in by and "baseline" not in stats["compile_ms"], stats
    else:
        assert by.get("baseline", 0) >= 1, stats


def test_compile_thread_replaces_a_running_loop(oracle, tmp_path):
    binary, _ = oracle
    n = 50 * ITERATIONS                 # (~0.5 s in baseline code: the compile thread's LLVM is done before)
    want = guestprogs.run(guestprogs.qemu_argv(binary, [str(n)]), env=_env(), cwd="/", timeout=TIMEOUT).stdout
    out, stats = _run(binary, ["-backend", "auto", "-native-warmup", "0", "-compile-share", "0"], tmp_path, n=n)
    assert out == want
    # the loop keeps running in baseline code while the compile thread works,
    # then leaves for LLVM's (it never returns to the trampoline by itself)
    assert stats["native_guest_insns"] > 0.95 * stats["guest_insns"], stats
    assert stats["tbs_by_backend"].get("llvm", 0) >= 1, stats


def test_a_short_run_makes_no_llvm_code_in_its_warm_up(oracle, tmp_path):
    """-native-warmup: hot code stays in baseline code for that long (here
    the whole run); a warm-up of 0 has LLVM optimize the same run's hot loop."""
    binary, want = oracle
    n = 200_000
    want = guestprogs.run(guestprogs.qemu_argv(binary, [str(n)]), env=_env(), cwd="/", timeout=TIMEOUT).stdout
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-native-warmup", "600000"], tmp_path, n=n)
    assert out == want
    assert "llvm" not in stats["compile_ms"] and stats["tbs_by_backend"].get("baseline", 0) >= 1, stats
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-native-warmup", "0", "-compile-share", "0"],
                      tmp_path, n=n)
    assert out == want
    assert stats["tbs_by_backend"].get("llvm", 0) >= 1, stats


def test_thresholds_of_zero_skip_their_tiers(oracle, tmp_path):
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-jit-threshold", "0", "-opt-threshold", "0"],
                      tmp_path, n=20000)
    assert out == guestprogs.run(guestprogs.qemu_argv(binary, ["20000"]), env=_env(), cwd="/",
                                 timeout=TIMEOUT).stdout
    assert set(stats["compile_ms"]) == {"llvm"}, stats          # native code only
    assert stats["tbs_promoted"] == 0, stats


def test_auto_without_llvmlite_is_interpreter_then_baseline(oracle, tmp_path):
    binary, _ = oracle
    # llvmlite made unimportable: auto quietly means the interpreter and baseline code
    code = ("import sys; sys.modules['llvmlite'] = None; from pydbt.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    r = guestprogs.run([sys.executable, "-c", code, "run", "-backend", "auto", "-stats=json", str(binary), "20000"],
                       env=_env(), cwd=tmp_path, timeout=TIMEOUT)
    assert r.returncode == 0, r.describe()
    q = guestprogs.run(guestprogs.qemu_argv(binary, ["20000"]), env=_env(), cwd="/", timeout=TIMEOUT)
    assert r.stdout == q.stdout
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines                           # no warning: auto is what is there
    assert set(json.loads(lines[0])["compile_ms"]) == {"interp", "baseline"}


def test_native_compiling_keeps_to_its_share_of_the_run(oracle, tmp_path):
    """-compile-share: LLVM (llvmlite's load, ~60 ms, and its compiles) may use
    that percentage of the time run since the warm-up.  Two hot loops one
    after the other (~1.5 s in all; only they get to -opt-threshold): at the
    1% (the default is 3%) a run this short cannot afford llvmlite's load with
    a compile (~65 ms: 6.5 s of run), so neither is optimized and llvmlite is
    not loaded; at 50% the first can be at once, and with no limit both are."""
    binary, _ = oracle
    args = [str(100 * ITERATIONS), str(50 * ITERATIONS)]
    want = guestprogs.run(guestprogs.qemu_argv(binary, args), env=_env(), cwd="/", timeout=TIMEOUT).stdout
    opts = ["-backend", "auto", "-sync-compile", "-native-warmup", "0", "-opt-threshold", "1000000"]

    def run(*share):
        argv = [sys.executable, "-m", "pydbt", "run", *opts, *share, "-stats=json", str(binary), *args]
        r = guestprogs.run(argv, env=_env(), cwd=tmp_path, timeout=TIMEOUT)
        assert (r.returncode, r.stdout) == (0, want), r.describe()
        return json.loads(r.stderr.decode().strip().splitlines()[-1])
    stats = run("-compile-share", "1")
    assert "llvm" not in stats["tbs_by_backend"] and "native_load_ms" not in stats, stats
    stats = run("-compile-share", "50")
    assert stats["tbs_by_backend"].get("llvm", 0) >= 1, stats
    stats = run("-compile-share", "0")
    assert stats["tbs_by_backend"].get("llvm", 0) >= 2, stats


def test_auto_does_not_load_llvmlite_until_something_is_hot(guest_binaries, tmp_path):
    """A run that makes no LLVM code never imports llvmlite (~0.1-0.2 s)."""
    code = ("import sys; from pydbt import cli\n"
            f"rc = cli.main(['run', '-backend', 'auto', '-native-warmup', '600000', {str(guest_binaries['hello'])!r}])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('llvmlite')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env())
    last = r.stdout.strip().splitlines()[-1]
    assert last == "0 []", r.stdout + r.stderr


def _against_qemu(guest_binaries, name, args, cwd):
    """-> run(pydbt options): guest program `name` run by pydbt with -stats=json,
    its stdout checked against qemu's, -> its stats."""
    binary = guest_binaries[name]
    if isinstance(binary, guestprogs.BuildError):
        pytest.fail(str(binary), pytrace=False)
    q = guestprogs.run(guestprogs.qemu_argv(binary, args), env=_env(), cwd="/", timeout=TIMEOUT)
    assert q.returncode == 0, q.describe()

    def run(opts):
        argv = [sys.executable, "-m", "pydbt", "run", *opts, "-stats=json", str(binary), *args]
        r = guestprogs.run(argv, env=_env(), cwd=cwd, timeout=TIMEOUT)
        assert r.returncode == 0, r.describe() + "\n" + r.stderr.decode(errors="replace")[-3000:]
        assert r.stdout == q.stdout
        return json.loads(r.stderr.decode().strip().splitlines()[-1])
    return run


@pytest.mark.parametrize("prog", ["fault_loads", "fault_stores"])
def test_faulting_accesses_leave_native_code_exactly(guest_binaries, tmp_path, prog):
    """LLVM's and the baseline's code loads and stores with no check: loads
    from pages the guest cannot read (PROT_NONE, unmapped, a word across into
    one, addresses outside the space), stores into pages it may not write
    (read-only too) fault on the host, and the fault table sends each to its
    access's slow exit; the guest's SIGSEGV handler sees qemu's si_addr,
    registers and pc (and memory: nothing of a faulting store written), in
    every region (each hot in native code before its target goes away); a
    store into the page of code run next (host read-only: translated code
    lies there) drops that code; -stats counts the interpreter's
    instructions."""
    run = _against_qemu(guest_binaries, prog, [], tmp_path)
    want = run(["-backend", "interp"])
    llvm = run(["-backend", "llvm", "-jit-threshold", "5", "-sync-compile"])
    baseline = run(["-backend", "baseline"])
    for got in (llvm, baseline):
        # (every fault counts the instructions before it, as the interpreter does)
        assert got["guest_insns"] == want["guest_insns"], (got, want)
        # (six regions, each faulting: LLVM's until it is made again with callbacks)
        assert got["native_host_faults"] >= 6 * 50, got
    assert llvm["regions_callbacks"] >= 6, llvm


@pytest.mark.parametrize("part", ["misaligned", "all"])
def test_slow_accesses_leave_native_code_exactly(guest_binaries, tmp_path, part):
    """Misaligned accesses and words across a page run in LLVM's code (its
    loads and stores check nothing; the host does them); stores beside code
    being run fault on the host (the page is read-only there while it holds
    translated code) and leave LLVM's code before their instruction, which
    runs alone on the interpreter: qemu's output, the interpreter's
    instruction count; a region leaving so again and again (every round here)
    is made again with callbacks."""
    run = _against_qemu(guest_binaries, "slow_access", ["misaligned"] if part == "misaligned" else [], tmp_path)
    want = run(["-backend", "interp"])
    got = run(["-backend", "llvm", "-jit-threshold", "5", "-sync-compile"])
    if part == "misaligned":
        assert "native_slow_exits" not in got and got["native_host_faults"] == 0, got
    else:
        assert got["native_slow_exits"] > 0 and got["regions_callbacks"] >= 1, got
    assert got["guest_insns"] == want["guest_insns"]
