"""Timing windows (windows.py): the driver's line parsed, the windows' output
checked against qemu's, ratios and issue 12's verdicts on made-up numbers,
and one tiny real run of the driver under qemu and pydbt."""
import sys

import pytest

import benchlib
import windows


def test_parse_reads_the_drivers_last_line():
    assert windows.parse(b"noise\nwindows 12 3400000 3900000\n") == (12, 3400000, 3900000)
    assert windows.parse(b"windows 1 2 3\nwindows 5 60 70\n") == (5, 60, 70)
    assert windows.parse(b"windows x y z\n") is None
    assert windows.parse(b"pydbt: killed\n") is None


def test_output_is_qemus_as_far_as_both_go():
    want = [b"fib 28 1 calls=10", b"fib 28 1 calls=20", b"fib 28 1 calls=30"]
    assert windows.check_output(b"fib 28 1 calls=10\nfib 28 1 calls=20\n", want) is None
    assert windows.check_output(b"\n".join(want + [b"fib 28 1 calls=40"]), want) is None
    bad = windows.check_output(b"fib 28 1 calls=10\nfib 28 1 calls=21\n", want)
    assert bad.startswith("window 2 printed") and "calls=21" in bad
    assert windows.check_output(b"", want) == "no output"


def _results(ms):
    """measure()'s shape from {workload: {runner: fastest ms or None}}"""
    return {w: {"size": 1, "expected": None,
                "runners": {r: {"ms": v, "median_ms": v, "windows": 10, "error": None if v else "x"}
                            for r, v in rs.items()}}
            for w, rs in ms.items()}


def test_ratios_and_verdicts():
    W = benchlib.WORKLOADS
    wl = [W["sha256"], W["crc32"], W["matmul_fp"]]
    res = _results({"sha256": {"qemu": 10.0, "auto": 8.0, "baseline": 11.0},
                    "crc32": {"qemu": 6.0, "auto": 2.0, "baseline": 3.0},
                    "matmul_fp": {"qemu": 5.0, "auto": 12.0, "baseline": None}})
    rows, geo = windows.summarise(res, wl, ["auto", "baseline"])
    assert rows[0]["vs_qemu"] == {"auto": 1.25, "baseline": pytest.approx(10 / 11)}
    assert geo["int", "auto"] == pytest.approx((1.25 * 3.0) ** 0.5)
    assert geo["fp", "baseline"] is None
    auto = {t: (v, ok) for t, v, ok in windows.verdicts(rows, geo, "auto")}
    assert auto["every int workload >= 1.0x qemu (worst)"] == ("1.25x (sha256)", True)
    assert auto["int geomean >= 1.5x qemu"] == ("1.94x", True)
    assert auto["every fp workload >= 0.5x qemu (worst)"] == ("0.417x (matmul_fp)", False)
    base = {t: (v, ok) for t, v, ok in windows.verdicts(rows, geo, "baseline")}
    assert base["every int workload >= 1.0x qemu (worst)"] == ("0.909x (sha256)", False)
    assert base["every fp workload >= 0.5x qemu"] == ("failed runs", False)
    text = windows.markdown(rows, geo, ["qemu", "auto", "baseline"], ["auto", "baseline"],
                            type("A", (), {"min_reps": 20, "seconds": 1.5, "rounds": 2, "window_ms": 10})(),
                            {"pydbt_commit": "abc", "loadavg_at_start": ["1.0", "1.1", "1.2"]})
    assert "| sha256 | int | 1 | 10.000 | 8.000 | 11.000 | 1.25x | 0.909x |" in text
    assert "| baseline | every int workload >= 1.0x qemu (worst) | 0.909x (sha256) | FAIL |" in text


def test_a_real_run_under_qemu_and_pydbt(built):
    w = benchlib.WORKLOADS["intloop"]
    built(w, "riscv64-windows")
    want = None
    for runner in ("qemu", "auto"):
        argv = windows.argv_for(runner, w, 5000, 3, 0)
        rc, out, err, *_ = benchlib.run_argv(argv, 300)
        assert rc == 0, err.decode(errors="replace")
        n, fast, med = windows.parse(err)
        assert n == 3 and 0 < fast <= med
        lines = out.splitlines()
        assert len(lines) == 3 and lines[0].startswith(b"intloop 5000 ")
        if want is None:
            want = lines
        assert windows.check_output(out, want) is None, runner
    assert sys.executable in windows.argv_for("auto", w, 1, 1, 0)
