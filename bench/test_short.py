"""The short-program target (short.py: auto vs pybytecode alone on programs
that run under 1 s) on made-up timings, in both report modes' tables, and
one tiny real comparison (fib, one repetition)."""
import math

import pytest

import benchlib
import short


def test_pairs_follow_the_auto_runners():
    assert short.pairs_for(["interp", "pybytecode", "llvm"]) == []
    assert short.pairs_for(["auto", "llvm"]) == [("auto", "pybytecode")]
    assert short.pairs_for(["auto@3.11", "auto@3.13"]) == [("auto@3.11", "pybytecode@3.11"),
                                                            ("auto@3.13", "pybytecode@3.13")]


def test_pydbt_backends_include_auto():
    names = benchlib.pydbt_backends()
    assert names[0] == "interp" and "auto" in names and "pybytecode" in names


def linear(w, startup, seconds_per_work, calls):
    def probe(size):
        calls.append(size)
        return startup + seconds_per_work * w.work(size)
    return probe


def test_short_size_interpolates_to_the_goal():
    w = benchlib.WORKLOADS["intloop"]            # linear; 0.25 s start-up, 1 s per 1 M iterations
    calls = []
    size, probes = short.short_size(w, linear(w, 0.25, 1e-6, calls), w.small, 0.8)
    assert size == pytest.approx(550_000, rel=1e-3)          # 0.25 + 0.55 = 0.8 s
    assert calls == [20_000, 80_000, 320_000, 1_280_000]      # 4x in work until past the goal
    assert [s for s, _ in probes] == calls
    w = benchlib.WORKLOADS["matmul_int"]         # cubic: interpolation in work, not in size
    calls = []
    size, _ = short.short_size(w, linear(w, 0.3, 0.5 / w.work(100), calls), w.small, 0.8)
    assert size == 100


def test_short_size_edges():
    w = benchlib.WORKLOADS["intloop"]
    # the small size already takes the goal: it is the size
    assert short.short_size(w, lambda s: 0.9, w.small, 0.8) == (w.small, [(w.small, 0.9)])
    # a failed probe
    assert short.short_size(w, lambda s: None, w.small, 0.8) is None
    times = {20_000: 0.5, 80_000: 0.95}
    size, _ = short.short_size(w, times.get, w.small, 0.9)
    assert size == pytest.approx(20_000 + 0.4 / 0.45 * 60_000, abs=1)
    # never past W, never more than max_probes
    calls = []
    size, probes = short.short_size(w, linear(w, 0.2, 1e-12, calls), w.small, 0.8, max_probes=40)
    assert size == w.qemu_1s == calls[-1] and all(c <= w.qemu_1s for c in calls)
    calls = []
    short.short_size(w, linear(w, 0.2, 1e-12, calls), w.small, 0.8, max_probes=3)
    assert len(calls) == 3


def row(name, size, base, auto_over_base):
    return {"workload": name, "size": size, "base_wall_s": base, "ratio": auto_over_base}


def test_ratio_is_of_the_medians():
    assert short.ratio([0.5, 0.6, 9.0], [0.4, 0.5, 0.6]) == pytest.approx(0.6 / 0.5)
    assert short.ratio([], [0.5]) is None and short.ratio([0.5], []) is None


def test_target_passes_and_fails():
    rows = [row("a", 1, 0.4, 1.05), row("a", 4, 0.8, 0.9), row("b", 1, 0.5, 1.10)]
    res = short.evaluate(rows)
    assert res["passed"] is True and res["worst"] == 1.10 and res["worst_at"] == "b 1"
    assert res["geomean"] == pytest.approx(math.prod([1.05, 0.9, 1.10]) ** (1 / 3))
    assert (res["counted"], res["over_limit"]) == (3, 0)
    # one program 11% slower under auto: fails, though the geomean is fine
    rows.append(row("c", 1_000, 0.3, 1.11))
    res = short.evaluate(rows)
    assert res["passed"] is False and res["worst_at"] == "c 1,000" and res["geomean"] < 1.10
    label, value, ok = short.target_text(res)
    assert ok is False and value.startswith("1.11x (c 1,000); geomean ") and "10%" not in value
    assert "1.10x" in label


def test_target_counts_only_programs_under_a_second():
    # 2x slower, but the baseline took 1.2 s: not a short program
    rows = [row("a", 1, 0.4, 1.0), row("b", 1, 1.2, 2.0), row("c", 1, 1.0, 3.0)]
    res = short.evaluate(rows)
    assert res["passed"] is True and (res["counted"], res["over_limit"]) == (1, 2)
    # a failed pair (no ratio) among the counted: not measurable, not passed
    res = short.evaluate([row("a", 1, 0.4, 1.0), row("b", 1, 0.5, None)])
    assert res["passed"] is None and res["worst"] is None
    assert short.evaluate([])["passed"] is None
    assert short.target_text(short.evaluate([]))[1:] == ("-", None)


def fixed_row(name, size, walls):
    return {"workload": name, "size": size,
            "runners": {r: {"median_wall_s": t, "status": "ok"} for r, t in walls.items()}}


def test_fixed_size_mode_ratio_column_and_target():
    import report

    rows = [fixed_row("startup", 0, {"pybytecode": 0.20, "auto": 0.21, "qemu": 0.01}),
            fixed_row("sieve", 40_000, {"pybytecode": 0.40, "auto": 0.48, "qemu": 0.02}),
            fixed_row("vm", 30_000, {"pybytecode": 2.00, "auto": 0.50, "qemu": 0.05})]
    cols = report.ratio_columns(["pybytecode", "auto", "qemu"], ["pybytecode", "auto"])
    assert ("auto / pybytecode (x slower)", "auto", "pybytecode") in cols
    (target,) = report.short_targets(rows, ["pybytecode", "auto"])
    # vm ran 2 s under pybytecode: not counted; sieve 1.2x: FAIL
    assert target[1].startswith("1.2x (sieve 40,000)") and target[2] == "FAIL" and "2 counted" in target[1]
    rows[1]["runners"]["auto"]["median_wall_s"] = 0.43
    assert report.short_targets(rows, ["pybytecode", "auto"])[0][2] == "PASS"
    assert report.short_targets(rows, ["auto", "llvm"]) == []       # no baseline ran: no target


def test_steady_tables_show_the_comparison_and_the_target():
    import steady_report

    srows = [dict(row("fib", 20, 0.3, 1.3), auto="auto", base="pybytecode", problem=None, auto_wall_s=0.39),
             dict(row("fib", 24, 0.8, 1.0), auto="auto", base="pybytecode", problem=None, auto_wall_s=0.8)]
    steady_rows = [{"workload": "fib", "kind": "int", "qemu_1s": 38, "insns": {},
                    "runners": {r: {"status": "ok", "small": 30, "big": 38, "ran_at_w": True}
                                for r in ("pybytecode", "auto", "qemu")}}]
    tables = steady_report.build_tables(steady_rows, ["pybytecode", "auto", "qemu"], ["pybytecode", "auto"],
                                        1, 4, srows)
    by_title = {t[0].split(":")[0]: t for t in tables}
    _, hdr, body = by_title["Short programs"]
    assert hdr[-1] == "auto / pybytecode" and body[0][-1] == "1.3x" and body[-1][0] == "geomean (counted)"
    assert body[-1][-1] == f"{math.sqrt(1.3):.3g}x"
    _, hdr, body = by_title["Targets"]
    (line,) = [b for b in body if b[0].startswith("short programs")]
    assert line[1] == "n/a -" and line[2].startswith("FAIL 1.3x (fib 20)")


def test_tiny_real_short_comparison():
    """auto and pybytecode on fib at the small size (20) and at the size where
    pybytecode takes ~0.45 s here, one repetition: outputs checked against
    qemu's, the ratios are those of the recorded wall times."""
    reason = benchlib.missing_tools()
    if reason:
        pytest.skip(reason)
    import steady_report

    w = benchlib.WORKLOADS["fib"]
    benchlib.build(w)
    expected = steady_report.Expected(120)
    sizes = short.plan([w], "pybytecode", 0.45, 4, expected, 120)
    assert sizes["fib"][0] == 20 and sizes["fib"] == sorted(set(sizes["fib"]))
    runs = short.measure([w], sizes, ("auto", "pybytecode"), 1, expected, 120)
    rows = short.summarise([w], runs, ("auto", "pybytecode"), expected)
    assert [r["size"] for r in rows] == sizes["fib"]
    for r in rows:
        assert r["problem"] is None, r["problem"]
        (a,), (b,) = r["auto_walls"], r["base_walls"]
        assert r["ratio"] == pytest.approx(a / b) and r["base_wall_s"] == b > 0
    for per in runs["fib"].values():
        assert all(x.stats and x.stats["guest_insns"] > 0 for rs in per.values() for x in rs)


def test_sizes_option():
    ws = [benchlib.WORKLOADS[n] for n in ("strings", "fib")]
    assert short.parse_sizes(None, ws) is None
    assert short.parse_sizes("small", ws) == {"strings": [250], "fib": [20]}
    assert short.parse_sizes("strings=2_000,250,fib=27", ws) == {"strings": [250, 2000], "fib": [27]}
    for bad in ("250", "nosuch=3", "fib=x"):
        with pytest.raises(ValueError):
            short.parse_sizes(bad, ws)


def test_cpu_table_is_of_the_cpu_medians():
    rows = [{"workload": "fib", "size": 20, "auto": "auto", "base": "pybytecode", "problem": None,
             "auto_cpus": [0.3, 0.2, 0.9], "base_cpus": [0.4, 0.4, 0.5]},
            {"workload": "vm", "size": 800, "auto": "auto", "base": "pybytecode", "problem": "x",
             "auto_cpus": [0.3], "base_cpus": [0.4]}]
    title, hdr, body = short.cpu_table(rows, 3)
    assert hdr[-1] == "auto / pybytecode" and "CPU" in title
    assert body[0][-1] == "0.75x" and body[1][-1] == "FAILED" and body[-1] == ["geomean", "", "", "", "0.75x"]
