"""Tiering (-backend auto: interpreter -> bytecode JIT -> quick native code ->
optimized native code), against qemu-riscv64's output and pydbt's own -stats.

- a loop that becomes hot while it runs moves to native code at once (with
  -sync-compile: the native share of its instructions is what the thresholds
  leave) or soon (the compile thread: the running bytecode asks again every
  RECHECK back-edges whether its replacement is ready);
- quick native code is optimized once it has counted -opt-threshold guest
  instructions (its own count: test_quick_hotness.py);
- thresholds of 0 skip their tier; without llvmlite, auto is interp -> bytecode;
- native compiling keeps to -compile-share of the run's time (the tests of
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
    # the loop's TB gets hot after 2,000 back-edges on the bytecode JIT (the
    # default -native-threshold) and the next iteration is native (quick code,
    # then, after 64 of its instructions, optimized code)
    assert stats["native_guest_insns"] > 0.95 * stats["guest_insns"], stats
    assert stats["compile_ms"].keys() >= {"interp", "pybytecode", "llvm-quick", "llvm"}, stats
    assert stats["tbs_promoted"] >= 3, stats


@pytest.mark.parametrize("opt", ["1", "0"])
def test_quick_native_code_is_optimized_where_time_is_spent(oracle, tmp_path, opt):
    """The loop's quick native code counts its first iteration at once: with
    -opt-threshold 1 it is compiled again with full optimization, and runs
    there; 0 skips the quick tier."""
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-opt-threshold", opt,
                               "-native-warmup", "0", "-compile-share", "0"], tmp_path)
    assert out == want
    assert stats["native_guest_insns"] > 0.95 * stats["guest_insns"], stats
    by = stats["tbs_by_backend"]
    assert by.get("llvm", 0) >= 1, stats
    if opt == "0":
        assert "llvm-quick" not in by and "llvm-quick" not in stats["compile_ms"], stats
    else:
        assert by.get("llvm-quick", 0) >= 1, stats


def test_compile_thread_replaces_a_running_loop(oracle, tmp_path):
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-native-warmup", "0"], tmp_path)
    assert out == want
    # the loop keeps running on the bytecode JIT while the compile thread works,
    # then leaves for the native code (it never returns to the trampoline by itself)
    assert stats["native_guest_insns"] > 0.2 * stats["guest_insns"], stats


def test_a_short_run_makes_no_native_code_in_its_warm_up(oracle, tmp_path):
    """-native-warmup: hot code stays on the bytecode JIT for that long (here
    the whole run); a warm-up of 0 makes the same run's hot loop native."""
    binary, want = oracle
    n = 200_000
    want = guestprogs.run(guestprogs.qemu_argv(binary, [str(n)]), env=_env(), cwd="/", timeout=TIMEOUT).stdout
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-native-warmup", "600000"], tmp_path, n=n)
    assert out == want
    assert stats.get("native_guest_insns", 0) == 0 and not {"llvm", "llvm-quick"} & set(stats["compile_ms"]), stats
    out, stats = _run(binary, ["-backend", "auto", "-sync-compile", "-native-warmup", "0"], tmp_path, n=n)
    assert out == want
    assert stats["native_guest_insns"] > 0.5 * stats["guest_insns"], stats


def test_thresholds_of_zero_skip_their_tiers(oracle, tmp_path):
    binary, want = oracle
    out, stats = _run(binary, ["-backend", "auto", "-jit-threshold", "0", "-native-threshold", "0",
                               "-opt-threshold", "0"], tmp_path, n=20000)
    assert out == guestprogs.run(guestprogs.qemu_argv(binary, ["20000"]), env=_env(), cwd="/",
                                 timeout=TIMEOUT).stdout
    assert set(stats["compile_ms"]) == {"llvm"}, stats          # native code only
    assert stats["tbs_promoted"] == 0, stats


def test_auto_without_llvmlite_is_interpreter_then_bytecode(oracle, tmp_path):
    binary, _ = oracle
    # llvmlite made unimportable: auto quietly means the two Python tiers
    code = ("import sys; sys.modules['llvmlite'] = None; from pydbt.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    r = guestprogs.run([sys.executable, "-c", code, "run", "-backend", "auto", "-stats=json", str(binary), "20000"],
                       env=_env(), cwd=tmp_path, timeout=TIMEOUT)
    assert r.returncode == 0, r.describe()
    q = guestprogs.run(guestprogs.qemu_argv(binary, ["20000"]), env=_env(), cwd="/", timeout=TIMEOUT)
    assert r.stdout == q.stdout
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines                           # no warning: auto is what is there
    assert set(json.loads(lines[0])["compile_ms"]) == {"interp", "pybytecode"}


def test_native_compiling_keeps_to_its_share_of_the_run(oracle, tmp_path):
    """-compile-share: native compiling may use that percentage of the time run
    since the warm-up.  The loop's quick code (its first compile, llvmlite's
    start-up included: >= 30 ms) uses up 1% of the whole run, so it is never
    optimized; with no limit it is."""
    binary, want = oracle
    opts = ["-backend", "auto", "-sync-compile", "-native-warmup", "0", "-opt-threshold", "1"]
    out, stats = _run(binary, opts + ["-compile-share", "1"], tmp_path)
    assert out == want
    assert stats["tbs_by_backend"].get("llvm-quick") == 1, stats
    assert "llvm" not in stats["compile_ms"], stats
    out, stats = _run(binary, opts + ["-compile-share", "0"], tmp_path)
    assert out == want
    assert stats["tbs_by_backend"].get("llvm", 0) >= 1, stats


def test_auto_does_not_load_the_native_tier_until_something_is_hot(guest_binaries, tmp_path):
    """A run that compiles no native code never imports the llvm backend."""
    code = ("import sys; from pydbt import cli\n"
            f"rc = cli.main(['run', '-backend', 'auto', '-native-warmup', '600000', {str(guest_binaries['hello'])!r}])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith('pydbt.backends.llvm')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env())
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("0 ["), r.stdout + r.stderr
    assert "'pydbt.backends.llvm'" not in last and "llvm_emit" not in last, last
