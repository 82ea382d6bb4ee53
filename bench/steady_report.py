"""``report.py --size steady``: qemu measured where its start-up is noise.

1. Plan: qemu and native run at (W/k, W), W = ``Workload.qemu_1s`` (qemu
   ~1 s); each pydbt backend is calibrated per workload (steady.calibrate):
   one expected to take <= ``wall_cap`` s at W runs at (W/k, W) too (its
   steady rate and its wall time at W measured where qemu's are); a slower
   one gets a pair of its own whose big run takes ~``target_s`` (its wall
   time at W projected from its steady rate, shown with ~).  The probes
   (size, CPU s, translation + compilation s) are kept in the JSON.
2. Measure: ``repeat`` passes, each through every workload and, within it,
   every runner in rotating order (its sizes back to back); every output
   checked against qemu's at the same size.
3. Count: guest instructions per (workload, size) from the pydbt runs'
   -stats, the count cache (benchlib.known_insns), else one run of the
   counting backend (llvm when available): qemu and native run the same
   guest code, so they get the same counts.
4. Short programs (short.py): for each auto runner, auto and pybytecode
   alone at sizes where pybytecode runs under 1 s (issue 12's 10% target).
5. Summarise (rates, ratios, native metrics from the big run of each
   steady pair, targets), tables, SVG chart.
"""

from __future__ import annotations

import html
import math
import statistics
import sys
import time

import benchlib
import steady
from steady import geomean

COUNTERS = ("llvm", "auto", "pybytecode", "interp")   # preferred counting backends, fastest first


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# measuring


class Expected:
    """qemu's output per (workload, size), one reference run each."""

    def __init__(self, timeout):
        self.timeout, self.cache = timeout, {}

    def get(self, w, size, run=None):
        """qemu's output; `run`, a qemu run of (w, size) just made, serves as
        the reference when there is none yet."""
        key = (w.name, size)
        if key not in self.cache and run is not None and run.runner == "qemu":
            problem = run.failure(None)
            self.cache[key] = None if problem else run.stdout
        if key not in self.cache:
            ref = benchlib.run("qemu", w, size, self.timeout)
            problem = ref.failure(None)
            if problem:
                log(f"!! reference run failed, {w.name} {size} cannot be checked: {problem}")
            self.cache[key] = None if problem else ref.stdout
        return self.cache[key]


def plan(workloads, runners, backends, opts, expected, timeout_for):
    """{workload: {runner: {"pair": (S, B), "wall": bool (B is W), "est_wall_s",
    "calibration": "W" | "steady" | "unsteady" | "reference", "probes":
    [[size, cpu_s, jit_s], ...], "problem"}}}"""
    plans = {}
    for w in workloads:
        plans[w.name] = p = {}
        ref = steady.reference_pair(w, opts.k)
        for r in runners:
            if r not in backends:
                p[r] = {"pair": ref, "wall": True, "est_wall_s": None, "calibration": "reference",
                        "probes": [], "problem": None}
                continue
            problems, probes = [], []

            def probe(size, r=r, w=w, problems=problems, probes=probes):
                run = benchlib.run(r, w, size, timeout_for(r))
                problem = run.failure(expected.get(w, size))
                jit = steady.jit_seconds(run.stats)
                log(f"   calibrate {w.name:<11} {r:<11} size {size:>11,}  cpu {run.cpu_s:7.3f} s"
                    + ("" if jit is None else f"  jit {jit:7.3f} s") + ("" if problem is None else "  FAILED"))
                if problem:
                    problems.append(problem)
                    return None
                probes.append([size, round(run.cpu_s, 4), None if jit is None else round(jit, 4)])
                return run.cpu_s, jit

            res = steady.calibrate(probe, w, w.small, opts.k, opts.target_s, opts.wall_cap)
            if res is None:
                p[r] = {"pair": None, "wall": False, "est_wall_s": None, "calibration": None,
                        "probes": probes, "problem": problems[-1]}
                continue
            log(f"   calibrated {w.name:<11} {r:<11} {res.small:,} / {res.big:,} ({res.how})")
            p[r] = {"pair": (res.small, res.big), "wall": res.big == w.qemu_1s, "est_wall_s": res.est_w,
                    "calibration": res.how, "probes": probes, "problem": None}
    return plans


def sizes_of(entry, w):
    """The sizes a runner runs at: its pair (W, the wall size, when affordable)."""
    return [] if entry["pair"] is None else list(entry["pair"])


def measure(workloads, runners, plans, repeat, expected, timeout_for):
    """{workload: {runner: {size: [Run, ...]}}}; a failed runner is not run again."""
    runs = {w.name: {r: {s: [] for s in sizes_of(plans[w.name][r], w)} for r in runners} for w in workloads}
    dead = {(w.name, r) for w in workloads for r in runners if plans[w.name][r]["problem"]}
    total = repeat * sum(len(sizes_of(plans[w.name][r], w)) for w in workloads for r in runners)
    done, t0 = 0, time.monotonic()
    for rep in range(repeat):
        for i, w in enumerate(workloads):
            k = (rep + i) % len(runners)
            for r in runners[k:] + runners[:k]:
                for size in sizes_of(plans[w.name][r], w):
                    done += 1
                    run = benchlib.run_checked(r, w, size, timeout_for(r), expected, dead,
                                               f"[{done:>3}/{total}] rep {rep + 1}/{repeat}", t0)
                    if run is not None:
                        runs[w.name][r][size].append(run)
    return runs


def count_insns(workloads, runs, counter, timeout):
    """{workload: {size: guest insns}} for every size any runner ran."""
    counts = {}
    for w in workloads:
        counts[w.name] = c = {}
        for per_size in runs[w.name].values():
            for size, rs in per_size.items():
                for r in rs:
                    if r.stats and r.ok and "guest_insns" in r.stats:
                        c[size] = r.stats["guest_insns"]
        for size in sorted({s for per_size in runs[w.name].values() for s in per_size}):
            if size in c:
                continue
            known = benchlib.known_insns(w, size)
            if known is None and counter:
                log(f"   counting {w.name} {size:,} with {counter} ...")
                r = benchlib.run(counter, w, size, timeout)
                known = r.stats.get("guest_insns") if r.ok and r.stats else None
            if known is not None:
                c[size] = known
    return counts


def pick_counter(backends):
    from pydbt.backends import NAMES, unavailable

    for name in COUNTERS:
        if name in NAMES and unavailable(name) is None:
            return name
    return backends[0] if backends else None


# ---------------------------------------------------------------------------
# summarising


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(workloads, runners, backends, plans, runs, counts, expected):
    rows = []
    for w in workloads:
        W = w.qemu_1s
        ins = counts[w.name]
        row = {"workload": w.name, "kind": w.kind, "stresses": w.stresses, "qemu_1s": W,
               "insns": {str(s): n for s, n in sorted(ins.items())},
               "checksum": (expected.cache.get((w.name, W)) or b"").decode(errors="replace").strip() or None,
               "runners": {}}
        for r in runners:
            p = plans[w.name][r]
            per_size = runs[w.name][r]
            bad = [x for rs in per_size.values() for x in rs if x.failure(expected.cache.get((w.name, x.size)))]
            e = {"small": p["pair"][0] if p["pair"] else None, "big": p["pair"][1] if p["pair"] else None,
                 "ran_at_w": p["wall"], "est_wall_s": p["est_wall_s"],
                 "calibration": p.get("calibration"), "probes": p.get("probes", []),
                 "runs": {str(s): [{"wall_s": round(x.wall_s, 5), "cpu_s": round(x.cpu_s, 5), "stats": x.stats}
                                   for x in rs] for s, rs in per_size.items()}}
            problem = p["problem"] or (bad[0].failure(expected.cache.get((w.name, bad[0].size))) if bad else None)
            e["status"] = "ok" if problem is None else ("timeout" if bad and bad[0].timed_out else "failed")
            e["detail"] = problem
            row["runners"][r] = e
            if problem:
                continue
            S, B = p["pair"]
            pairs = list(zip([x.cpu_s for x in per_size[S]], [x.cpu_s for x in per_size[B]]))
            rate = steady.steady_rate(ins.get(S), ins.get(B), pairs)
            e["steady_mips"] = rate / 1e6 if rate else None
            e["rate_samples_mips"] = [round(x / 1e6, 3) for x in
                                      (steady.pair_rate(ins.get(S), ins.get(B), a, b) for a, b in pairs) if x]
            if W in per_size:
                e["wall_at_w"], e["wall_projected"] = _median(x.wall_s for x in per_size[W]), False
            else:
                e["wall_at_w"] = steady.project_time(_median(x.wall_s for x in per_size[B]), ins.get(B),
                                                     ins.get(W), rate)
                e["wall_projected"] = True
            if r in backends:
                # from the runs the steady rate is measured on: the big one (W when it ran there)
                e["native_at"] = B
                e["native"] = steady.median_metrics(steady.native_metrics(x.stats, x.wall_s) for x in per_size[B])
                # code still getting hot between the pair's sizes: its compilation is in the rate
                grew = [None if None in (steady.native_tbs(a.stats), steady.native_tbs(b.stats)) else
                        steady.native_tbs(b.stats) - steady.native_tbs(a.stats)
                        for a, b in zip(per_size[S], per_size[B])]
                e["steady_new_tbs"] = _median(grew)
        q = row["runners"].get("qemu", {})
        for r, e in row["runners"].items():
            e["steady_vs_qemu"] = (e["steady_mips"] / q["steady_mips"]
                                   if e.get("steady_mips") and q.get("steady_mips") else None)
            e["wall_vs_qemu"] = (e["wall_at_w"] / q["wall_at_w"]
                                 if e.get("wall_at_w") and q.get("wall_at_w") else None)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# tables


def _num(v, digits=3, unit=""):
    if v is None:
        return "-"
    return (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}g}") + unit


def _sizes(row, r):
    e = row["runners"][r]
    if e["small"] is None:
        return e["status"].upper()
    return (f"{e['small']:,} / {e['big']:,}" + (" +W" if e["ran_at_w"] and e["big"] != row["qemu_1s"] else "")
            + (" (unsteady)" if e.get("calibration") == "unsteady" else ""))


def _unsteady(e):
    """A pair the calibration could not verify (its rate is marked '?')."""
    return e.get("calibration") == "unsteady"


def build_tables(rows, runners, backends, repeat, k, short_rows=None):
    """The steady report's tables; short_rows: short.summarise's rows of every
    auto runner (its table and its target row), or None."""
    import short
    from report import fmt_time

    def col(get, rs, approx=None):
        body = []
        for row in rows:
            cells = [row["workload"]]
            for r in rs:
                e = row["runners"][r]
                v = get(e)
                cells.append(e["status"].upper() if e["status"] != "ok" else
                             ("~" if approx and approx(e) and v is not None else "") + _num(v)
                             + ("?" if v is not None and _unsteady(e) else ""))
            body.append(cells)
        for label, kinds in (("geomean integer", ("int",)), ("geomean FP", ("fp",))):
            body.append([label] + [_num(geomean(get(row["runners"][r]) for row in rows if row["kind"] in kinds))
                                   for r in rs])
        return body

    tables = []
    body = []
    for row in rows:
        W = row["qemu_1s"]
        n = row["insns"].get(str(W))
        body.append([row["workload"], row["kind"], f"{W:,}", f"{n / 1e6:,.0f}" if n else "-",
                     fmt_time(row["runners"].get("qemu", {}).get("wall_at_w"))]
                    + [_sizes(row, b) for b in backends])
    tables.append((f"Sizes: qemu's ~1 s size W (qemu and native run W/{k} and W); each backend's calibrated "
                   "pair: W/k and W when it can afford W, else its own (unsteady: not verified, figures "
                   "marked ?)",
                   ["workload", "kind", "W", "guest Minsn at W", "qemu wall at W"] + [f"{b} sizes" for b in backends],
                   body))
    hdr = [r + (" (equiv.)" if r == "native" else "") for r in runners]
    tables.append((f"Steady-state guest MIPS (difference of two sizes, CPU time, median of {repeat})",
                   ["workload"] + hdr, col(lambda e: e.get("steady_mips"), runners)))
    others = [r for r in runners if r != "qemu"]
    tables.append(("Steady-state speed vs qemu-riscv64 (x; above 1 = faster than qemu)",
                   ["workload"] + others, col(lambda e: e.get("steady_vs_qemu"), others)))
    body = []
    for row in rows:
        cells = [row["workload"]]
        for r in runners:
            e = row["runners"][r]
            t = e.get("wall_at_w")
            cells.append(e["status"].upper() if e["status"] != "ok" else
                         ("~" if e.get("wall_projected") and t else "") + fmt_time(t))
        body.append(cells)
    tables.append((f"Wall time at W, whole process (median of {repeat}; ~ = projected from the backend's "
                   "steady rate, not run)", ["workload"] + runners, body))
    tables.append(("Wall time at W / qemu's (x; below 1 = faster than qemu)", ["workload"] + others,
                   col(lambda e: e.get("wall_vs_qemu"), others, approx=lambda e: e.get("wall_projected"))))
    natives = [b for b in backends if any((row["runners"][b].get("native") or {}) for row in rows)]
    if natives:
        hdr, body = ["workload"], []
        quick = {b for b in natives
                 if any((row["runners"][b].get("native") or {}).get("quick_compile_ms") for row in rows)}
        for b in natives:
            hdr += [f"{b} transitions /10k insns", f"{b} chained %", f"{b} compile % of wall",
                    f"{b} median compile ms/TB" + (" (optimized)" if b in quick else "")]
            hdr += [f"{b} median compile ms/TB (quick)"] if b in quick else []
            hdr += [f"{b} native TBs compiled between the pair's sizes"]
        for row in rows:
            cells = [row["workload"]]
            for b in natives:
                m = row["runners"][b].get("native") or {}
                cells += [_num(m.get("transitions_per_10k")), _num(m.get("chained_pct"), 4),
                          _num(m.get("compile_share_pct")), _num(m.get("median_compile_ms"))]
                cells += [_num(m.get("quick_compile_ms"))] if b in quick else []
                cells += [_num(row["runners"][b].get("steady_new_tbs"))]
            body.append(cells)
        tables.append(("Native tier, from -stats=json of the big run of each steady pair (W where it ran "
                       "there), median; the last column: TBs compiled to native code in the big run and not the "
                       "small one (their compilation is part of the steady difference)", hdr, body))
    by_auto = {}
    for r in short_rows or []:
        by_auto.setdefault(r["auto"], []).append(r)
    for auto_rows in by_auto.values():
        tables.append(short.table(auto_rows, repeat))
    hdr, body = ["target (issue 12)"], None
    for b in backends:
        hdr.append(b)
        res = steady.evaluate_targets(rows, b)
        if by_auto:
            res.append(short.target_text(short.evaluate(by_auto[b])) if b in by_auto
                       else (short.target_text(short.evaluate([]))[0], "-", None))
        if body is None:
            body = [[t] for t, _, _ in res]
        for cells, (_, value, ok) in zip(body, res):
            cells.append(("n/a " if ok is None else "PASS " if ok else "FAIL ") + value)
    tables.append(("Targets", hdr, body or []))
    return tables


# ---------------------------------------------------------------------------
# the chart: wall time at W (log), steady-state speed vs qemu (log, 1x line)


def svg_chart(rows, runners, backends, machine, repeat):
    from report import PALETTE, RUNNER_COLOURS, fmt_time, machine_line

    colours, others = {}, iter(PALETTE)
    for r in runners:
        colours[r] = RUNNER_COLOURS.get(r) or next(others)
    ratio_runners = [r for r in runners if r != "qemu"]
    esc = html.escape
    label_w, plot_w, right, bar_h, gap, group_gap = 100, 680, 30, 11, 2, 12
    width = label_w + plot_w + right
    out, y = [], 62
    lx = label_w
    for r in runners:
        out.append(f'<rect x="{lx}" y="40" width="10" height="10" fill="{colours[r]}"/>'
                   f'<text x="{lx + 14}" y="49">{esc(r)}</text>')
        lx += 24 + 7 * len(r)
    panels = [
        (f"wall time at W (qemu ~1 s), whole process, log scale, median of {repeat} (dashed: projected)",
         runners, lambda e: e.get("wall_at_w"), lambda e: bool(e.get("wall_projected")), fmt_time, None),
        ("steady-state speed vs qemu-riscv64 (x, log scale; right of the line = faster than qemu)",
         ratio_runners, lambda e: e.get("steady_vs_qemu"), lambda e: False, lambda v: f"{v:.3g}x", 1.0),
    ]
    for title, rs, get, dashed, label, ref in panels:
        vals = [get(row["runners"][r]) for row in rows for r in rs]
        vals = [v for v in vals if v]
        if not vals:
            out.append(f'<text x="{label_w}" y="{y + 10}" font-size="12" font-weight="bold">{esc(title)}: '
                       f'nothing measured</text>')
            y += 30
            continue
        lo = 10 ** math.floor(math.log10(min(vals + ([ref] if ref else []))))
        hi = max(vals + ([ref] if ref else [])) * 2.2

        def x(v, lo=lo, hi=hi):
            return label_w + plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

        out.append(f'<text x="{label_w}" y="{y + 10}" font-size="12" font-weight="bold">{esc(title)}</text>')
        y += 24
        top = y
        for row in rows:
            mid = y + len(rs) * (bar_h + gap) / 2
            out.append(f'<text x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end" font-weight="bold">'
                       f'{esc(row["workload"])}</text>')
            for r in rs:
                e = row["runners"][r]
                v = get(e)
                if v:
                    bw = max(1.0, x(v) - label_w)
                    style = (f'fill="none" stroke="{colours[r]}" stroke-dasharray="3,2"' if dashed(e)
                             else f'fill="{colours[r]}"')
                    out.append(f'<rect x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" {style}>'
                               f'<title>{esc(row["workload"])} / {esc(r)}: {esc(label(v))}</title></rect>'
                               f'<text x="{label_w + bw + 4:.1f}" y="{y + bar_h - 2}" font-size="9">'
                               f'{"~" if dashed(e) else ""}{esc(label(v))}</text>')
                else:
                    out.append(f'<text x="{label_w + 4}" y="{y + bar_h - 2}" font-size="9" fill="#c00">'
                               f'{esc(r)}: {esc(e["status"] if e["status"] != "ok" else "-")}</text>')
                y += bar_h + gap
            y += group_gap
        axis_y = y - group_gap + 4
        d = lo
        while d <= hi:
            for m in (1, 2, 5):
                if d * m > hi:
                    break
                gx = x(d * m)
                text = label(d * m) if m == 1 or ref else ""
                out.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{axis_y}" '
                           f'stroke="{"#ccc" if m == 1 else "#eee"}"/>'
                           f'<text x="{gx:.1f}" y="{axis_y + 13}" text-anchor="middle" font-size="9" '
                           f'fill="#555">{esc(text)}</text>')
            d *= 10
        if ref:
            out.append(f'<line x1="{x(ref):.1f}" y1="{top - 8}" x2="{x(ref):.1f}" y2="{axis_y}" '
                       f'stroke="#c00" stroke-width="1.5"/>')
        out.append(f'<line x1="{label_w}" y1="{top - 6}" x2="{label_w}" y2="{axis_y}" stroke="#333"/>')
        y = axis_y + 30
    height = y + 10
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{label_w}" y="16" font-size="14" font-weight="bold">pydbt benchmarks: qemu-riscv64 '
            f'at ~1 s, steady state</text>',
            f'<text x="{label_w}" y="30" font-size="10" fill="#555">{esc(machine_line(machine, short=True))}</text>']
    return "\n".join(head + out + ["</svg>"]) + "\n"

