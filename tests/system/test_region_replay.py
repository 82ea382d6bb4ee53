"""Region shapes replayed across runs (dbt/regionlog.py) under -backend auto,
with the compile thread (whose timing shapes the first run's regions): a
second run in the same code cache forms its native regions from the first
run's records, each region's object is the one on disk (every replayed region
hits), the hot blocks go straight to their cached tier (regions_warm), and
the output is qemu's.  A corrupt records file is ignored; another program's
records put under this program's key (stale records: other code at their
pcs) cost misses, never a wrong result; -code-cache off keeps no records."""
import json
import os
import shutil

import pytest

import guestprogs
from pydbt import regionlog

pytest.importorskip("llvmlite")
pytestmark = pytest.mark.once

TIMEOUT = 600
OPTS = ("-backend", "auto", "-jit-threshold", "2", "-opt-threshold", "60",
        "-native-warmup", "0", "-compile-share", "0", "-stats=json")


def _stats(r):
    lines = [ln for ln in r.stderr.decode(errors="replace").splitlines() if ln.startswith("{")]
    assert lines, r.describe()
    return json.loads(lines[-1])


def _run(binary, cache, tmp_path, oracle, extra=()):
    argv = guestprogs.pydbt_argv(binary, (), OPTS + tuple(extra))
    env = dict(os.environ, PYDBT_CODE_CACHE=str(cache))
    r = guestprogs.run(argv, env=env, cwd=tmp_path, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (oracle.returncode, oracle.stdout), r.describe()
    return _stats(r)


def _oracle(binary, tmp_path):
    r = guestprogs.run(guestprogs.qemu_argv(binary, ()), env=dict(os.environ), cwd=tmp_path, timeout=60)
    assert r.stdout and not r.timed_out, r.describe()
    return r


def _records(cache):
    d = cache / "regions"
    return sorted(d.glob("*.rlog")) if d.is_dir() else []


def test_a_second_run_replays_every_region_and_loads_it(guest_binary, tmp_path):
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    cache = tmp_path / "cache"
    first = _run(binary, cache, tmp_path, oracle)
    assert first["native_compiles"] > 0 and "regions_replayed" not in first
    [rlog] = _records(cache)
    second = _run(binary, cache, tmp_path, oracle)
    assert second["regions_replayed"] > 0
    assert second["regions_replay_hits"] == second["regions_replayed"]
    assert "regions_replay_diverged" not in second
    assert second["regions_warm"] > 0
    assert second["native_cache_hits"] >= second["regions_replay_hits"]
    # a corrupt records file: no records, the run as a cold one's, and written anew
    rlog.write_bytes(os.urandom(4096))
    third = _run(binary, cache, tmp_path, oracle)
    assert "regions_replayed" not in third and "regions_warm" not in third
    assert regionlog.RegionLog(str(cache), rlog.stem).records


def test_stale_records_cost_misses_not_results(tmp_path):
    donor, binary = guestprogs.same_layout_pair(tmp_path)
    cache = tmp_path / "cache"
    # (compiles in the guest's thread: both runs form the loop's region at one pc)
    _run(donor, cache, tmp_path, _oracle(donor, tmp_path), ["-sync-compile"])
    [rlog] = _records(cache)
    oracle = _oracle(binary, tmp_path)
    # (the name of the build's own records: from a run in another cache)
    _run(binary, tmp_path / "other", tmp_path, oracle, ["-sync-compile"])
    [own] = _records(tmp_path / "other")
    shutil.copy(rlog, cache / "regions" / own.name)        # (the other build's records as its own)
    assert oracle.stdout != _oracle(donor, tmp_path).stdout
    stale = _run(binary, cache, tmp_path, oracle, ["-sync-compile"])
    assert stale["regions_replayed"] > 0                    # (at the same pcs: other code)
    assert stale.get("regions_replay_hits", 0) < stale["regions_replayed"]


def test_no_records_without_a_code_cache(guest_binary, tmp_path):
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    argv = guestprogs.pydbt_argv(binary, (), OPTS)
    for _ in range(2):
        r = guestprogs.run(argv, env=dict(os.environ, PYDBT_CODE_CACHE="off"), cwd=tmp_path, timeout=TIMEOUT)
        assert (r.returncode, r.stdout) == (oracle.returncode, oracle.stdout), r.describe()
        s = _stats(r)
        assert s["native_cache"] == "off" and "regions_replayed" not in s and "regions_warm" not in s
