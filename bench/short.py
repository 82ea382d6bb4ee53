"""Issue 12's short-program target: "a program that runs under 1 s is never
slower under ``auto`` than under the bytecode tier alone by more than 10%".

For each workload, ``-backend auto`` and ``-backend pybytecode`` (the
baseline) run at sizes where the baseline takes under 1 s of wall time: the
``small`` size (mostly start-up and the first translations) and a size
calibrated to take about ``goal_s`` (default 0.8 s) under the baseline, where
auto has started making native code that has not yet paid for itself.  (A
size where auto runs under 1 s but the baseline does not is one where auto is
faster: the baseline's time is the one that decides which sizes count.)
Both runners go back to back at each size, their order alternating between
repetitions; the ratio is median(auto wall) / median(baseline wall), whole
process.  The target holds when every ratio (each workload at each size whose
baseline median is under 1 s) is <= 1.10; the geometric mean is shown too.

The arithmetic (short_size, ratio, evaluate) takes no processes and is
tested on made-up timings in test_short.py; plan/measure/summarise run
them through benchlib.  Used by report.py's steady mode (its own runs) and,
on the fixed-size mode's own runs, when auto and pybytecode both ran.
"""

from __future__ import annotations

import statistics
import sys
import time

import benchlib
from steady import geomean

LIMIT_S = 1.0          # "a program that runs under 1 s" (the baseline's median wall time)
TARGET = 1.10          # "... by more than 10%"
AUTO, BASE = "auto", "pybytecode"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pairs_for(backends):
    """[(auto runner, its baseline runner)] for every auto runner listed
    (auto@3.12 is compared with pybytecode@3.12)."""
    out = []
    for b in backends:
        base, at, version = b.partition("@")
        if base == AUTO:
            out.append((b, BASE + at + version))
    return out


# ---------------------------------------------------------------------------
# arithmetic


def short_size(workload, probe, start, goal_s, k=4, max_probes=6):
    """The size at which the baseline is expected to take `goal_s` of wall
    time, and the probes made: (size, [(size, wall)]), or None when a probe
    failed.

    probe(size) runs the baseline once and returns its wall seconds (None on
    failure).  Sizes grow k-fold in work from `start` until a probe takes
    goal_s or more; the size is then interpolated linearly in work between
    the last probe under the goal and that one.  When `start` already takes
    goal_s, it is the size; when no probe reaches the goal (max_probes, or
    the workload's W), the largest probe is."""
    probes = []
    cap = workload.qemu_1s or start
    size = start
    for _ in range(max_probes):
        t = probe(size)
        if t is None:
            return None
        probes.append((size, t))
        if t >= goal_s or size >= cap:
            break
        size = min(cap, max(size + 1, workload.scaled(size, k)))
    size, t = probes[-1]
    if t < goal_s or len(probes) == 1:
        return size, probes
    (s0, t0), (s1, t1) = probes[-2], probes[-1]          # t0 < goal_s <= t1
    w0, w1 = workload.work(s0), workload.work(s1)
    goal_work = w0 + (goal_s - t0) * (w1 - w0) / (t1 - t0)
    return max(s0, min(s1, workload.size_for_work(goal_work))), probes


def ratio(auto_walls, base_walls):
    """median(auto) / median(baseline), or None when either has no run."""
    if not auto_walls or not base_walls:
        return None
    return statistics.median(auto_walls) / statistics.median(base_walls)


def evaluate(rows, limit_s=LIMIT_S, target=TARGET):
    """The target over rows [{workload, size, base_wall_s, ratio}]: those
    whose baseline median is under limit_s count.  Returns {worst, worst_at
    ("workload size"), geomean, counted, over_limit (rows not counted),
    passed (True/False; None when nothing counts or a counted ratio is
    missing)}."""
    counted = [r for r in rows if r.get("base_wall_s") is not None and r["base_wall_s"] < limit_s]
    over = [r for r in rows if r not in counted]
    vals = [(r.get("ratio"), f"{r['workload']} {r['size']:,}") for r in counted]
    if not vals or any(v is None for v, _ in vals):
        return {"worst": None, "worst_at": None, "geomean": geomean(v for v, _ in vals),
                "counted": len(counted), "over_limit": len(over), "passed": None}
    worst, at = max(vals)
    return {"worst": worst, "worst_at": at, "geomean": geomean(v for v, _ in vals),
            "counted": len(counted), "over_limit": len(over), "passed": worst <= target}


def target_text(res, target=TARGET):
    """(target, value text, passed) for a Targets table."""
    label = (f"short programs (baseline < {LIMIT_S:g} s): auto wall <= {target:.2f}x "
             "pybytecode's on every one (worst; geomean)")
    if res["worst"] is None:
        return label, "-" + (f" (geomean {res['geomean']:.3g}x)" if res.get("geomean") else ""), None
    return (label, f"{res['worst']:.3g}x ({res['worst_at']}); geomean {res['geomean']:.3g}x; "
            f"{res['counted']} counted", res["passed"])


# ---------------------------------------------------------------------------
# running (steady mode's own runs)


def plan(workloads, base, goal_s, k, expected, timeout):
    """{workload: [sizes]}: small and the calibrated ~goal_s size of the
    baseline runner `base` (just small when that is already as long)."""
    sizes = {}
    for w in workloads:
        if w.small == 0:             # startup: no work to scale
            sizes[w.name] = [0]
            continue

        def probe(size, w=w):
            run = benchlib.run(base, w, size, timeout)
            problem = run.failure(expected.get(w, size))
            log(f"   short size {w.name:<11} {base:<11} size {size:>9,}  wall {run.wall_s:6.3f} s"
                + ("" if problem is None else "  FAILED"))
            return None if problem else run.wall_s

        res = short_size(w, probe, w.small, goal_s, k)
        size = res[0] if res else None
        sizes[w.name] = [w.small] + ([size] if size is not None and size > w.small else [])
    return sizes


def measure(workloads, sizes, pair, repeat, expected, timeout):
    """{workload: {size: {runner: [Run]}}}; the two runners back to back at
    each size, their order alternating; a failed (workload, runner) is not
    run again."""
    runs = {w.name: {s: {r: [] for r in pair} for s in sizes[w.name]} for w in workloads}
    dead = set()
    total = repeat * 2 * sum(len(sizes[w.name]) for w in workloads)
    done, t0 = 0, time.monotonic()
    for rep in range(repeat):
        for i, w in enumerate(workloads):
            for j, size in enumerate(sizes[w.name]):
                order = pair if (rep + i + j) % 2 == 0 else pair[::-1]
                for r in order:
                    done += 1
                    run = benchlib.run_checked(r, w, size, timeout, expected, dead,
                                               f"[{done:>3}/{total}] short rep {rep + 1}/{repeat}", t0)
                    if run is not None:
                        runs[w.name][size][r].append(run)
    return runs


def summarise(workloads, runs, pair, expected):
    """Rows for the JSON and the table: one per workload and size."""
    auto, base = pair
    rows = []
    for w in workloads:
        for size, per in runs[w.name].items():
            row = {"workload": w.name, "size": size, "auto": auto, "base": base, "problem": None}
            walls = {}
            for r, rs in per.items():
                bad = [x.failure(expected.cache.get((w.name, size))) for x in rs]
                bad = [b for b in bad if b]
                if bad and row["problem"] is None:
                    row["problem"] = bad[0]
                walls[r] = [round(x.wall_s, 5) for x in rs]
            row["auto_walls"], row["base_walls"] = walls[auto], walls[base]
            ok = row["problem"] is None
            row["auto_wall_s"] = statistics.median(walls[auto]) if ok and walls[auto] else None
            row["base_wall_s"] = statistics.median(walls[base]) if ok and walls[base] else None
            row["ratio"] = ratio(walls[auto], walls[base]) if ok else None
            rows.append(row)
    return rows


def table(rows, repeat):
    """(title, header, body) of the short-program comparison, with geomean."""
    from report import fmt_time

    body = []
    for r in rows:
        over = r["base_wall_s"] is not None and r["base_wall_s"] >= LIMIT_S
        body.append([r["workload"], f"{r['size']:,}", fmt_time(r["base_wall_s"]), fmt_time(r["auto_wall_s"]),
                     "FAILED" if r["problem"] else
                     ("-" if r["ratio"] is None else f"{r['ratio']:.3g}x" + (" (over 1 s)" if over else ""))])
    res = evaluate(rows)
    g = res["geomean"]
    body.append(["geomean (counted)", "", "", "", "-" if g is None else f"{g:.3g}x"])
    auto, base = (rows[0]["auto"], rows[0]["base"]) if rows else (AUTO, BASE)
    return (f"Short programs: {auto} vs {base} alone at sizes where {base} runs under {LIMIT_S:g} s "
            f"(wall, whole process, interleaved, median of {repeat}; over 1 s: not counted)",
            ["workload", "size", f"{base} wall", f"{auto} wall", f"{auto} / {base}"], body)
