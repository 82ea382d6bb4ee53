"""The steady-state report's arithmetic on made-up timings (steady.py), the
work model of the workload table, and one tiny real run of
``report.py --size steady`` (a single workload, one repetition)."""
import json
import math
import types

import pytest

import benchlib
import steady


def test_pair_rate_is_the_difference_of_two_sizes():
    # start-up 0.3 s, 1e9 insns/s: 1e8 insns -> 0.4 s, 4e8 -> 0.7 s
    assert steady.pair_rate(1e8, 4e8, 0.4, 0.7) == pytest.approx(1e9)
    assert steady.pair_rate(1e8, 4e8, 0.7, 0.7) is None          # no measurable difference
    assert steady.pair_rate(1e8, 4e8, 0.8, 0.7) is None          # noise larger than the work
    assert steady.pair_rate(None, 4e8, 0.4, 0.7) is None


def test_steady_rate_is_the_median_of_the_repetitions():
    pairs = [(0.4, 0.7), (0.4, 1.0), (0.5, 0.8), (0.9, 0.8)]     # 1e9, 5e8, 1e9, invalid
    assert steady.steady_rate(1e8, 4e8, pairs) == pytest.approx(1e9)
    assert steady.steady_rate(1e8, 4e8, [(0.9, 0.8)]) is None


def test_projection_and_geomean():
    assert steady.project_time(2.0, 1e7, 1e9, 5e8) == pytest.approx(2.0 + 1.98)
    assert steady.project_time(2.0, 1e7, None, 5e8) is None
    assert steady.geomean([1.0, 4.0, None]) == pytest.approx(2.0)
    assert steady.geomean([]) is None


@pytest.mark.parametrize("name", [n for n, w in benchlib.WORKLOADS.items() if w.qemu_1s])
def test_work_model_inverts(name):
    w = benchlib.WORKLOADS[name]
    for size in (w.small, w.bench, w.qemu_1s):
        assert w.size_for_work(w.work(size)) == size
    small = w.scaled(w.qemu_1s, 1 / 4)
    assert small < w.qemu_1s and w.work(small) <= w.work(w.qemu_1s) / 4 * 1.001
    assert w.work(small + 1) > w.work(w.qemu_1s) / 4          # the largest size with <= 1/4 of the work


def fake_runner(w, startup, seconds_per_work, calls=None):
    def probe(size):
        if calls is not None:
            calls.append(size)
        return startup + seconds_per_work * w.work(size)
    return probe


def test_calibrate_a_slow_runner_gets_its_own_sizes():
    w = benchlib.WORKLOADS["intloop"]           # linear
    calls = []
    # 0.3 s start-up, 1 s per 400,000 iterations (~10 MIPS): W would take 300 s
    small, big, est_w, how = steady.calibrate(fake_runner(w, 0.3, 1 / 400_000, calls), w, w.small, k=4,
                                              target_s=2.0)
    assert how == "steady"
    assert big == pytest.approx((2.0 - 0.3) * 400_000, rel=1e-3)
    assert small == pytest.approx(big / 4, rel=1e-3)
    assert est_w == pytest.approx(0.3 + w.qemu_1s / 400_000, rel=1e-3)
    assert calls == sorted(calls) and calls[0] == w.small      # k-fold probes upwards
    assert all(0.3 + c / 400_000 <= 2.0 for c in calls)       # no probe ran past the target


def test_calibrate_ignores_the_compile_dominated_regime():
    w = benchlib.WORKLOADS["intloop"]
    # a JIT: 0.5 s of start-up and compilation that grows a little with size,
    # then 1 s per 40 M iterations: the early probes' slope must not be used
    def probe(size):
        return 0.5 + 0.3 * min(size, 100_000) / 100_000 + size / 40e6
    small, big, _, how = steady.calibrate(probe, w, w.small, k=4, target_s=2.0, wall_cap=0)
    assert how == "steady"
    assert big == pytest.approx((2.0 - 0.8) * 40e6, rel=0.05)
    assert small == w.scaled(big, 1 / 4)
    # it can afford W (3.8 s): it runs at qemu's pair then
    assert steady.calibrate(probe, w, w.small, k=4, target_s=2.0) == (
        *steady.reference_pair(w, 4), pytest.approx(3.8, rel=0.01), "W")


def test_calibrate_a_long_fixed_cost_gets_as_much_work_on_top():
    w = benchlib.WORKLOADS["intloop"]
    # 2.5 s of start-up and compilation (a cold native tier), then 20 M
    # iterations/s: the big run's work must be at least the fixed cost (5 s in
    # all, 50 M iterations), and the line is checked that far
    calls = []
    small, big, _, how = steady.calibrate(fake_runner(w, 2.5, 1 / 20e6, calls), w, w.small, k=4,
                                          target_s=2.0, wall_cap=0)
    assert (how, big) == ("steady", pytest.approx(2.5 * 20e6, rel=1e-3))
    assert small == w.scaled(big, 1 / 4)
    assert 2.5 + calls[-1] / 20e6 >= 5.0 and len(calls) == 7


def plateau_runner(w, compile_s, plateau, rate, startup=1.0, stats=True):
    """A JIT whose compilation grows in proportion to the size up to
    `plateau` (more code gets hot as it runs longer), then stays: CPU seconds
    and, with stats, the translation + compilation seconds -stats reports."""
    def probe(size):
        jit = compile_s * min(size, plateau) / plateau
        t = startup + jit + size / rate
        return (t, jit + 0.05) if stats else t
    return probe


def test_calibrate_rejects_a_fixed_cost_that_grows_until_a_plateau():
    """Session 8's strings: compilation grows linearly with the size up to
    10,000 rounds, so the first three probes lie on one line; the old rule
    took a pair (1,666 / 6,666) in that regime, ~100x too slow a rate."""
    w = benchlib.WORKLOADS["strings"]           # W = 800,000 rounds, 1 s of work at W here
    probe = plateau_runner(w, 1.5, 10_000, 800_000, stats=False)
    (s1, t1), (s2, t2), (s3, t3) = [(s, probe(s)) for s in (250, 1000, 4000)]
    slopes = [(t2 - t1) / (s2 - s1), (t3 - t2) / (s3 - s2)]
    assert 2 / 3 <= slopes[1] / slopes[0] <= 1.5 and t3 - t2 >= 0.25     # the old rule's line
    c = t3 - slopes[1] * s3
    assert t3 - c >= 2.0 / 4 and t3 - c < c                 # ... and its work part; not >= the fixed cost
    # timing alone: it can afford W (3.5 s), found past the plateau
    assert steady.calibrate(probe, w, w.small) == (200_000, 800_000, pytest.approx(3.5, rel=0.01), "W")
    # a runner that cannot afford W (no wall runs): a steady pair past the plateau
    probe = plateau_runner(w, 1.5, 10_000, 800_000)
    small, big, _, how = steady.calibrate(probe, w, w.small, wall_cap=0)
    assert how == "steady" and 10_000 <= small < big


def test_calibrate_sees_compilation_grow_where_the_time_looks_linear():
    """A plateau so late (64,000 rounds, 3 s of compilation) that the time
    is linear with its work part beyond the fixed cost: timing alone cannot
    tell; -stats' compilation time, growing as fast as the time, can."""
    w = benchlib.WORKLOADS["strings"]
    blind = steady.calibrate(plateau_runner(w, 3.0, 64_000, 800_000, stats=False), w, w.small, wall_cap=0)
    assert blind.how == "steady" and blind.big < 64_000          # fooled
    probe = plateau_runner(w, 3.0, 64_000, 800_000)
    small, big, _, _ = steady.calibrate(probe, w, w.small, wall_cap=0)
    assert small >= 64_000 and big == w.qemu_1s
    assert steady.calibrate(probe, w, w.small) == (200_000, 800_000, pytest.approx(5.0, rel=0.01), "W")


def test_calibrate_keeps_the_small_size_past_compilation():
    """A slow runner (pybytecode-like: 16,000 rounds/s) whose compilation
    grows up to 16,000 rounds: steady from 16,000 to 64,000, and the pair's
    small size is not where compilation still grew (it would be at 5,200)."""
    w = benchlib.WORKLOADS["strings"]
    probe = plateau_runner(w, 0.3, 16_000, 16_000, startup=0.4)
    small, big, _, how = steady.calibrate(probe, w, w.small, wall_cap=10)
    assert how == "steady" and (small, big) == (16_000, 64_000)


def test_calibrate_measured_strings_profiles():
    """CPU seconds measured here (cold code cache, 2026-12-02, load ~2):
    -backend auto and llvm on strings; both run W (800,000) in 3-5 s."""
    w = benchlib.WORKLOADS["strings"]
    auto = {250: 0.94, 1000: 0.99, 4000: 1.45, 16000: 1.90, 64000: 2.25}
    llvm = {250: 1.88, 1000: 1.87, 4000: 2.14, 16000: 2.27, 64000: 2.19}
    for profile in (auto, llvm):
        small, big, est_w, how = steady.calibrate(profile.__getitem__, w, w.small)
        assert (small, big, how) == (200_000, 800_000, "W") and est_w <= 10


def test_calibrate_is_not_fooled_by_compile_time_that_doubles():
    w = benchlib.WORKLOADS["strings"]
    # measured with a cold native tier: 2.9, 3.7, 5.4 s at 250, 1,000, 4,000
    # (slopes 2:1 apart, compilation still growing); flat from 16,000 on
    # (-stats: the growth is compilation: 0.5, 1.3, 2.9 s, then 3.4 s)
    def probe(size):
        t = {250: 2.86, 1000: 3.70, 4000: 5.41}.get(size, 6.0 + size / 600_000)
        return t, {250: 0.5, 1000: 1.3, 4000: 2.9}.get(size, 3.4)
    assert steady.calibrate(probe, w, w.small)[:2] == (200_000, 800_000)
    small, _, _, how = steady.calibrate(probe, w, w.small, k=4, target_s=2.0, wall_cap=0)
    assert small >= 16_000 and how == "steady"
    # timing alone, without a wall run: not taken for steady
    assert steady.calibrate(lambda size: probe(size)[0], w, w.small, wall_cap=0).how == "unsteady"


def test_calibrate_a_fast_runner_runs_at_qemus_sizes():
    w = benchlib.WORKLOADS["matmul_int"]        # cubic
    small, big, est_w, how = steady.calibrate(fake_runner(w, 0.2, 1.0 / w.work(w.qemu_1s)), w, w.small)
    assert (small, big) == steady.reference_pair(w, 4) == (w.scaled(w.qemu_1s, 0.25), w.qemu_1s)
    assert est_w == pytest.approx(1.2, rel=1e-3) and how == "W"


def test_calibrate_stops_before_an_unaffordable_probe():
    w = benchlib.WORKLOADS["intloop"]
    calls = []
    # compilation keeps growing with the size (never steady): the probes stop
    # before one expected to take longer than the budget (wall cap 10 s)
    def probe(size):
        calls.append(size)
        jit = 0.3 * math.log2(size)
        return 0.3 + jit + size / 400_000, jit
    small, big, _, how = steady.calibrate(probe, w, w.small)
    assert how == "unsteady" and small < big
    assert probe(calls[-1])[0] <= 10 and len(calls) <= 6


def test_calibrate_fib_and_failures():
    w = benchlib.WORKLOADS["fib"]               # work grows 1.618x per step
    def t(size):
        return 0.3 + 2.0 * w.work(size) / w.work(27)
    small, big, _, how = steady.calibrate(t, w, w.small)
    assert how == "steady"
    assert t(big) <= 2.0 < t(big + 1)                          # the largest size within the target
    assert small == w.scaled(big, 1 / 4) < big
    assert steady.calibrate(lambda size: None, w, w.small) is None


def test_jit_seconds_and_native_tbs():
    stats = {"compile_ms": {"interp": 100.0, "llvm": 400.0}, "translate_ms": 500.0,
             "tbs_by_backend": {"interp": 1000, "pybytecode": 90, "llvm-quick": 60, "llvm": 12}}
    assert steady.jit_seconds(stats) == 1.0 and steady.native_tbs(stats) == 72
    assert steady.jit_seconds(dict(stats, native_load_ms=50.0)) == pytest.approx(1.05)   # (llvmlite's load)
    assert steady.jit_seconds({"guest_insns": 5}) is None and steady.jit_seconds(None) is None
    assert steady.native_tbs({"tbs_by_backend": {"pybytecode": 9}}) == 0 and steady.native_tbs(None) is None


def test_native_metrics_from_stats():
    stats = {"guest_insns": 1_000_000_000, "native_transitions": 50_000, "native_chain_hits": 950_000,
             "compile_ms": {"interp": 100.0, "llvm": 400.0}, "tb_median_ms": {"interp": 0.06, "llvm": 3.5}}
    m = steady.native_metrics(stats, 2.0)
    assert m == {"transitions_per_10k": pytest.approx(0.5), "chained_pct": pytest.approx(95.0),
                 "compile_share_pct": pytest.approx(25.0), "median_compile_ms": 3.5, "quick_compile_ms": None}
    # loading the native tier: in the share, not in any region's compile
    loaded = steady.native_metrics(dict(stats, native_load_ms=100.0), 2.0)
    assert loaded["compile_share_pct"] == pytest.approx(30.0) and loaded["median_compile_ms"] == 3.5
    # llvm-quick alone: its tier's median; auto (both tiers): the optimized one's, and the quick one's
    quick = dict(stats, tb_median_ms={"interp": 0.06, "llvm-quick": 1.2})
    assert steady.native_metrics(quick, 2.0)["median_compile_ms"] == 1.2
    auto = dict(stats, compile_ms={"interp": 100.0, "pybytecode": 100.0, "llvm-quick": 200.0, "llvm": 100.0},
                tb_median_ms={"interp": 0.06, "pybytecode": 5.0, "llvm-quick": 1.2, "llvm": 30.0})
    a = steady.native_metrics(auto, 2.0)
    assert (a["median_compile_ms"], a["quick_compile_ms"], a["compile_share_pct"]) == (30.0, 1.2, pytest.approx(25.0))
    assert steady.native_metrics({"guest_insns": 10, "compile_ms": {"pybytecode": 3}}, 1.0) is None
    med = steady.median_metrics([m, None, dict(m, median_compile_ms=5.5), dict(m, median_compile_ms=4.5)])
    assert med["median_compile_ms"] == 4.5


def test_summary_metrics_come_from_the_pairs_big_runs():
    """summarise on made-up runs: rates from each pair, the wall time at W
    measured where the runner ran there (projected otherwise), the native
    metrics from the big run of the pair (not another size's)."""
    import steady_report as sr

    w = benchlib.WORKLOADS["fib"]                             # W = 38
    W = w.qemu_1s

    counts = {"fib": {30: 1e9, 33: 5e9, 35: 1e10, W: 4e10}}

    def run(runner, size, cpu, tbs=None, trans=0):
        stats = None if tbs is None else {
            "guest_insns": counts["fib"][size], "native_transitions": trans, "native_chain_hits": 10 ** 6,
            "compile_ms": {"llvm": 100.0 * tbs}, "translate_ms": 10.0, "tb_median_ms": {"llvm": float(tbs)},
            "tbs_by_backend": {"interp": 500, "llvm": tbs}}
        return benchlib.Run(runner, "fib", size, [], 0, b"ok\n", b"", cpu + 0.01, cpu, stats=stats)

    plans = {"fib": {
        "llvm": {"pair": (35, W), "wall": True, "est_wall_s": 1.5, "calibration": "W", "problem": None},
        "auto": {"pair": (30, 33), "wall": False, "est_wall_s": 50.0, "calibration": "unsteady",
                 "problem": None},
        "qemu": {"pair": (35, W), "wall": True, "est_wall_s": None, "calibration": "reference",
                 "problem": None}}}
    runs = {"fib": {
        "llvm": {35: [run("llvm", 35, 1.0, 7, trans=10)], W: [run("llvm", W, 2.0, 9, trans=1000)]},
        "auto": {30: [run("auto", 30, 1.0, 2, trans=5)], 33: [run("auto", 33, 3.0, 5, trans=50)]},
        "qemu": {35: [run("qemu", 35, 0.1)], W: [run("qemu", W, 1.1)]}}}

    expected = types.SimpleNamespace(cache={("fib", s): b"ok\n" for s in (30, 33, 35, W)})

    (row,) = sr.summarise([w], ["llvm", "auto", "qemu"], ["llvm", "auto"], plans, runs, counts, expected)
    llvm, auto, qemu = (row["runners"][r] for r in ("llvm", "auto", "qemu"))
    assert qemu["steady_mips"] == pytest.approx(3e10 / 1.0 / 1e6)
    assert llvm["steady_mips"] == pytest.approx(3e10 / 1.0 / 1e6) and llvm["steady_vs_qemu"] == pytest.approx(1.0)
    assert (llvm["wall_at_w"], llvm["wall_projected"]) == (pytest.approx(2.01), False)
    assert llvm["native_at"] == W and llvm["native"]["median_compile_ms"] == 9.0
    assert llvm["native"]["transitions_per_10k"] == pytest.approx(1000 / 4e10 * 1e4)  # the run at W's
    assert llvm["steady_new_tbs"] == 2 and llvm["calibration"] == "W"
    # a pair of its own: metrics from its big run (33), the wall at W projected from it
    assert auto["native_at"] == 33 and auto["native"]["median_compile_ms"] == 5.0
    assert auto["wall_projected"] and auto["wall_at_w"] == pytest.approx(3.01 + (4e10 - 5e9) / 2e9)
    assert auto["steady_new_tbs"] == 3 and auto["calibration"] == "unsteady"
    tables = sr.build_tables([row], ["llvm", "auto", "qemu"], ["llvm", "auto"], 1, 4)
    sizes = {t: body for t, _, body in tables}
    (cells,) = next(b for t, b in sizes.items() if t.startswith("Sizes"))
    assert cells[-1] == "30 / 33 (unsteady)" and cells[-2] == f"35 / {W}"
    steady_rows = next(b for t, b in sizes.items() if t.startswith("Steady-state guest MIPS"))
    assert steady_rows[0][2].endswith("?") and not steady_rows[0][1].endswith("?")


def _row(name, kind, vs_qemu, wall, native=None, projected=False):
    return {"workload": name, "kind": kind,
            "runners": {"x": {"steady_vs_qemu": vs_qemu, "wall_vs_qemu": wall, "wall_projected": projected,
                              "native": native}}}


def test_targets_pass_and_fail():
    good = {"transitions_per_10k": 0.2, "chained_pct": 99.0, "compile_share_pct": 4.0, "median_compile_ms": 2.0}
    rows = [_row("a", "int", 1.2, 1.5, good), _row("b", "int", 2.0, 0.8, good),
            _row("f", "fp", 0.6, 1.9, good), _row("s", "sys", 0.01, 50.0, None)]
    res = steady.evaluate_targets(rows, "x")
    assert [ok for _, _, ok in res] == [True, True, True, True, True, True, True, True]
    assert "1.2x (a)" in res[0][1] and res[1][1] == f"{math.sqrt(2.4):.3g}x"
    # one integer workload below qemu, a long compile, an unchained exit path
    bad = dict(good, compile_share_pct=12.0, chained_pct=80.0)
    rows[1] = _row("b", "int", 0.9, 2.5, bad, projected=True)
    res = {t.split(" (")[0]: (v, ok) for t, v, ok in steady.evaluate_targets(rows, "x")}
    assert res["steady state >= 1.0x qemu on every integer workload"] == ("0.9x (b)", False)
    assert res["steady state integer geomean >= 1.5x qemu"][1] is False
    assert res["wall time at qemu's ~1 s size <= 2x qemu's, CPU-bound workloads"] == ("~2.5x (b)", False)
    assert res["compile <= 10% of wall time"] == ("12% (b)", False)
    assert res[">= 95% of exits chained natively"] == ("80% (b)", False)
    # no native code at all: not measurable rather than passed
    plain = [_row("a", "int", 0.01, 90.0)]
    assert [ok for _, _, ok in steady.evaluate_targets(plain, "x")][4:] == [None] * 4


def test_tiny_real_steady_report(tmp_path, monkeypatch):
    """report.py --size steady end to end on fib, with W lowered from 38
    (qemu ~1 s) to 27 to keep it short: qemu and native at (24, 27),
    pybytecode calibrated to smaller sizes, counts from the runs, the cache
    or a counting run; one repetition, a small target."""
    reason = benchlib.missing_tools(native=True)
    if reason:
        pytest.skip(reason)
    import dataclasses

    import report

    monkeypatch.setitem(benchlib.WORKLOADS, "fib", dataclasses.replace(benchlib.WORKLOADS["fib"], qemu_1s=27))
    monkeypatch.setenv("PYDBT_CODE_CACHE", "off")     # (restored afterwards: main() sets it)
    monkeypatch.setenv("PYTHONPATH", "")              # (the same: main() puts the snapshot first)
    rc = report.main(["--workloads", "fib", "--backends", "pybytecode", "--repeat", "1",
                      "--target", "0.8", "--wall-cap", "0", "--out", str(tmp_path)])
    assert rc == 0
    raw = json.loads((tmp_path / "report-steady.json").read_text())
    (row,) = raw["workloads"]
    assert set(row["insns"]) >= {"24", "27"}
    e, q = row["runners"]["pybytecode"], row["runners"]["qemu"]
    assert (q["small"], q["big"]) == (24, 27)
    assert e["status"] == "ok" and e["small"] < e["big"] <= 27
    # no wall runs (--wall-cap 0): a pair of its own, from probes whose -stats gave their compile time
    assert e["calibration"] in ("steady", "unsteady") and len(e["probes"]) >= 2
    assert all(size <= 27 and cpu > 0 and jit > 0 for size, cpu, jit in e["probes"])
    # the rates are what the recorded counts and CPU times say (whether the
    # difference was measurable on a loaded machine or not)
    for entry in (e, q):
        S, B = str(entry["small"]), str(entry["big"])
        (a,), (b,) = entry["runs"][S], entry["runs"][B]
        rate = steady.pair_rate(row["insns"][S], row["insns"][B], a["cpu_s"], b["cpu_s"])
        if rate is None:
            assert entry["steady_mips"] is None
        else:                                   # (the JSON rounds times to 10 us)
            rel = 2.1e-5 / (b["cpu_s"] - a["cpu_s"])
            assert entry["steady_mips"] == pytest.approx(rate / 1e6, rel=rel)
    assert row["insns"]["27"] > row["insns"]["24"] > 0
    if e["steady_mips"] and q["steady_mips"]:
        assert e["steady_vs_qemu"] == pytest.approx(e["steady_mips"] / q["steady_mips"])
        assert e["wall_projected"] == (e["big"] != 27) and e["wall_at_w"] > 0
    md = (tmp_path / "report-steady.md").read_text()
    assert "### Targets" in md and "steady state >= 1.0x qemu" in md
    assert raw["machine"]["code_cache"] == {"setting": "cold", "PYDBT_CODE_CACHE": "off"}
    assert raw["machine"]["pydbt_commit"].endswith(" (snapshot)")
    for per_size in e["runs"].values():               # pydbt ran from the snapshot
        assert all(r["stats"]["guest_insns"] > 0 for r in per_size)
    svg = (tmp_path / "report-steady.svg").read_text()
    assert svg.startswith("<svg") and "steady-state speed vs qemu" in svg


def test_code_cache_settings(monkeypatch, tmp_path):
    import os

    import report

    monkeypatch.setenv("PYDBT_CODE_CACHE", "x")
    assert report.set_code_cache("cold")["PYDBT_CODE_CACHE"] == "off" == os.environ["PYDBT_CODE_CACHE"]
    warm = report.set_code_cache("warm")["PYDBT_CODE_CACHE"]
    assert os.path.isdir(warm) and warm != os.environ.get("XDG_CACHE_HOME") and "pydbt-bench-cache-" in warm
    assert report.set_code_cache(str(tmp_path))["PYDBT_CODE_CACHE"] == str(tmp_path.resolve())


def test_snapshot_is_the_installed_layout(tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    site, rev = benchlib.snapshot("HEAD")
    try:
        assert (site / "pydbt" / "backends" / "__init__.py").exists() and rev
        out = subprocess.run([sys.executable, "-c", "import pydbt.backends, pydbt.runtime; "
                              "print(pydbt.backends.__file__)"], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(site)), check=True).stdout
        assert out.startswith(str(site))
    finally:
        shutil.rmtree(site.parent)
