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

On its own (a few minutes with the defaults):

    python bench/short.py [--workloads strings,fib] [--repeat 5] [--goal 0.8]
                          [--sizes small | --sizes strings=250,2000,fib=20]
                          [--snapshot REV|none] [--code-cache cold|warm|DIR]

prints the comparison's table (wall, as the report's) and the same with CPU
time (user + system: less noisy on a loaded host), and the target's verdict.
"""

from __future__ import annotations

import argparse
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
            row["auto_cpus"], row["base_cpus"] = ([round(x.cpu_s, 5) for x in per[r]] for r in (auto, base))
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


def cpu_table(rows, repeat):
    """(title, header, body): the table's comparison in CPU time (user + system)."""
    from report import fmt_time

    body = []
    for r in rows:
        a, b = r.get("auto_cpus"), r.get("base_cpus")
        ok = r["problem"] is None and a and b
        body.append([r["workload"], f"{r['size']:,}", fmt_time(statistics.median(b)) if ok else "-",
                     fmt_time(statistics.median(a)) if ok else "-",
                     f"{ratio(a, b):.3g}x" if ok else ("FAILED" if r["problem"] else "-")])
    vals = [ratio(r["auto_cpus"], r["base_cpus"]) for r in rows
            if r["problem"] is None and r.get("auto_cpus") and r.get("base_cpus")]
    g = geomean(vals)
    body.append(["geomean", "", "", "", "-" if g is None else f"{g:.3g}x"])
    auto, base = (rows[0]["auto"], rows[0]["base"]) if rows else (AUTO, BASE)
    return (f"The same in CPU time (user + system, median of {repeat})",
            ["workload", "size", f"{base} CPU", f"{auto} CPU", f"{auto} / {base}"], body)


def parse_sizes(text, workloads):
    """--sizes: None (calibrate), "small", or "w=s1,s2,w2=s3" -> {workload: [sizes]}."""
    if not text:
        return None
    if text == "small":
        return {w.name: [w.small] for w in workloads}
    sizes, name = {}, None
    for item in text.split(","):
        key, eq, value = item.partition("=")
        if eq:
            name = key.strip()
            if name not in benchlib.WORKLOADS:
                raise ValueError(f"unknown workload {name!r}")
        elif name is None:
            raise ValueError(f"{item!r}: expected WORKLOAD=SIZE")
        else:
            value = key
        sizes.setdefault(name, []).append(int(value.replace("_", "")))
    return {n: sorted(set(v)) for n, v in sizes.items()}


def main(argv=None):
    import report
    import steady_report

    ap = argparse.ArgumentParser(description="auto vs pybytecode alone on programs that run under "
                                 f"{LIMIT_S:g} s (issue 12's {TARGET - 1:.0%} target)", allow_abbrev=False)
    ap.add_argument("--workloads", default="startup,strings,quicksort,sha256,vm,fib",
                    help="comma list (default startup,strings,quicksort,sha256,vm,fib; 'all': every one)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each runner per size (median; default 5)")
    ap.add_argument("--goal", type=float, default=0.8, metavar="SECONDS",
                    help="the calibrated size's baseline wall time (default 0.8; 0: the small size only)")
    ap.add_argument("--k", type=float, default=4, help="calibration: work ratio between probes (default 4)")
    ap.add_argument("--sizes", help="no calibration: 'small', or WORKLOAD=SIZE,SIZE,WORKLOAD=SIZE...")
    ap.add_argument("--python", default="", metavar="X.Y",
                    help="the CPython to run both on (tests/run.sh's venvs; default this one)")
    ap.add_argument("--snapshot", default="HEAD", metavar="REV",
                    help="run pydbt from an export of this commit (default HEAD); 'none': the working tree")
    ap.add_argument("--code-cache", default="cold", help="cold (default: off), warm, or a directory")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run (default 120)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)

    names = list(benchlib.WORKLOADS) if args.workloads == "all" else [n for n in args.workloads.split(",") if n]
    unknown = [n for n in names if n not in benchlib.WORKLOADS]
    if unknown:
        log(f"unknown workload(s) {', '.join(unknown)} (known: {', '.join(benchlib.WORKLOADS)})")
        return 2
    workloads = [benchlib.WORKLOADS[n] for n in names]
    try:
        fixed = parse_sizes(args.sizes, workloads)
    except ValueError as e:
        log(f"--sizes: {e}")
        return 2
    if fixed is not None:
        workloads = [w for w in workloads if w.name in fixed] + \
            [benchlib.WORKLOADS[n] for n in fixed if n not in names]
    reason = benchlib.missing_tools()
    if reason:
        log(reason)
        return 2
    at = f"@{args.python}" if args.python else ""
    pair = (AUTO + at, BASE + at)
    report.set_code_cache(args.code_cache)
    report.use_snapshot(args.snapshot, pair)
    for w in workloads:
        benchlib.build(w)
    expected = steady_report.Expected(args.timeout)
    t0 = time.monotonic()
    if fixed is not None:
        sizes = fixed
    elif args.goal > 0:
        sizes = plan(workloads, pair[1], args.goal, args.k, expected, args.timeout)
    else:
        sizes = {w.name: [w.small] for w in workloads}
    log("sizes: " + ", ".join(f"{n} {'/'.join(f'{s:,}' for s in v)}" for n, v in sizes.items()))
    runs = measure(workloads, sizes, pair, args.repeat, expected, args.timeout)
    rows = summarise(workloads, runs, pair, expected)
    for t in (table(rows, args.repeat), cpu_table(rows, args.repeat)):
        print(report.text_table(*t) + "\n")
    label, value, ok = target_text(evaluate(rows))
    print(f"{label}: {value}: {'PASS' if ok else 'n/a' if ok is None else 'FAIL'}"
          f"  ({time.monotonic() - t0:.0f} s)")
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
