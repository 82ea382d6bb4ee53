"""Cold runs (dbt/execloop.py `_cold`): under a tiered backend a block's
first run is lifted and run at once (frontends/riscv64/translate.run), with
no IR and no TB; its second run makes the TB.  Against qemu-riscv64's output
and pydbt's own -stats: the same output and guest instructions with and
without them (-no-cold-runs), TBs only for the blocks that ran again, and
none of it where TBs are asked to be seen (-d in_asm) or under -backend interp."""
import json
import os

import pytest

import guestprogs

TIMEOUT = 300


def _run(binary, tmp_path, *opts, args=("200",)):
    argv = guestprogs.pydbt_argv(binary, list(args), ("-stats=json", "-code-cache", "off") + opts)
    r = guestprogs.run(argv, env=dict(os.environ), cwd=tmp_path, timeout=TIMEOUT)
    lines = [ln for ln in r.stderr.decode(errors="replace").splitlines() if ln.startswith("{")]
    assert r.returncode == 0 and lines, r.describe()
    return r.stdout, json.loads(lines[-1])


@pytest.mark.parametrize("backend", ["auto", "pybytecode"])
def test_a_first_run_makes_no_tb(guest_binary, tmp_path, backend):
    binary = guest_binary("qsort")
    oracle = guestprogs.run(guestprogs.qemu_argv(binary, ["200"]), env=dict(os.environ), cwd=tmp_path,
                            timeout=60)
    out, cold = _run(binary, tmp_path, "-backend", backend)
    out2, every = _run(binary, tmp_path, "-backend", backend, "-no-cold-runs")
    out3, shown = _run(binary, tmp_path, "-backend", backend, "-d", "in_asm")
    assert out == out2 == out3 == oracle.stdout
    assert cold["guest_insns"] == every["guest_insns"] == shown["guest_insns"]
    assert every["cold_runs"] == shown["cold_runs"] == 0
    assert every["tbs_translated"] == shown["tbs_translated"]
    # each block's first run is cold; a first-tier TB for those that ran
    # again (most of the C library's start-up and exit runs once)
    first = every["tbs_by_backend"]["interp"]
    assert cold["cold_runs"] >= 0.9 * first, (cold, every)
    assert cold["tbs_by_backend"]["interp"] < 0.7 * first, (cold, every)


def test_the_interpreter_alone_runs_no_block_cold(guest_binary, tmp_path):
    _, st = _run(guest_binary("qsort"), tmp_path, "-backend", "interp")
    assert st["cold_runs"] == 0 and st["tbs_translated"] > 300
