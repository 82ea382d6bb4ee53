"""The persistent native code cache across runs: a guest program run twice
under `-backend llvm` with one PYDBT_CODE_CACHE directory.  The first run
compiles and fills the cache; the second compiles nothing (every native TB
is a hit: the text of a TB does not depend on the run) and both print what qemu-riscv64 prints."""
import json
import os

import pytest

import guestprogs
from pydbt import cli

pytest.importorskip("llvmlite")
pytestmark = pytest.mark.once            # (the cache's files: the same on every CPython)

TIMEOUT = 600
# native code compiled in the guest's thread, so that both runs make the same
# TBs native (a compile thread may still be busy when a run ends)
SYNC = ["-sync-compile"] if any("-sync-compile" in row[0] for row in cli.OPTIONS) else []


def _stats(stderr):
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.startswith("{")]
    assert lines, stderr
    return json.loads(lines[-1])


@pytest.mark.parametrize("program", ["qsort", "fp_arith"])
def test_a_second_run_compiles_nothing(guest_binary, tmp_path, program):
    binary = guest_binary(program)
    env = dict(os.environ, PYDBT_CODE_CACHE=str(tmp_path / "cache"))
    oracle = guestprogs.run(guestprogs.qemu_argv(binary, ()), env=env, cwd=tmp_path, timeout=60)
    assert oracle.returncode == 0, oracle.describe()
    argv = guestprogs.pydbt_argv(binary, (), ("-backend", "llvm", "-jit-threshold", "0", *SYNC, "-stats=json"))
    runs = [guestprogs.run(argv, env=env, cwd=tmp_path, timeout=TIMEOUT) for _ in range(2)]
    for r in runs:
        assert (r.returncode, r.stdout) == (oracle.returncode, oracle.stdout), r.describe()
    first, second = (_stats(r.stderr) for r in runs)
    assert first["native_cache"] == second["native_cache"] == str(tmp_path / "cache")
    assert first["native_compiles"] == first["native_cache_misses"] > 0
    assert first.get("native_cache_hits", 0) == 0
    assert second.get("native_compiles", 0) == 0 and second.get("native_cache_misses", 0) == 0
    # (one module more than the TBs, made once LLVM code exists (backends/llvm.py):
    # the one all TBs share, their callback)
    assert second["native_cache_hits"] == first["native_cache_misses"] == second["native_tbs"] + 1
    assert second["native_cache_load_ms"] > 0
