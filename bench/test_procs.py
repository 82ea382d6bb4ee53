"""bench/procs.py's cases, once each at a tiny size: every runner that can run
a case prints what the native build prints (the timing is procs.py's job)."""
import pytest

import benchlib
import procs

REAL = [name for name, *_ in procs.REAL]


def test_procs_cases_agree():
    reason = benchlib.missing_tools(native=True)
    if reason:
        pytest.skip(reason)
    results = procs.measure(rounds=3, repeat=1, timeout=600, pipelines=2)
    assert set(results) >= {"spawn-exec", "spawn-fork"}
    if "busybox-50" not in results:
        pytest.skip("no Debian sysroot (see procs' message); the spawn cases passed")
    for name, res in results.items():
        for runner, r in res.items():
            if name == "spawn-exec" and runner == "qemu":
                assert not r["ok"] and "binfmt_misc" in r["why"]
                continue
            if name in REAL and runner == "native":
                assert r == {"ok": False, "why": "not available"}
                continue
            assert r["ok"], f"{name} under {runner}: {r['why']}"
    assert set(results) >= set(REAL)
    assert results["python3-json"]["qemu"]["output"] == '{"a": [1, 2], "b": null}'
    assert "sqlite3-script" in results and results["lua-demo"]["qemu"]["output"]
    assert results["spawn-exec"]["pydbt"]["output"].startswith("spawn 3 ")
    assert results["busybox-50"]["native"]["output"] == "1 5\n2 5"   # 1, apple, fig, kiwi, pear
