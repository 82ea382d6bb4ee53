#!/usr/bin/env python3
"""Run every workload under each pydbt backend, qemu-riscv64 and the native
build, side by side, and report wall times, guest MIPS and ratios.

    python bench/report.py [--size steady|small|bench] [--backends interp,pybytecode]
                           [--pythons 3.11,3.12,3.13]
                           [--workloads sha256,vm] [--repeat N]
                           [--timeout 600 | --timeout interp=1800,pybytecode=600]
                           [--out DIR]

Runs are interleaved (each repetition goes through every workload, and
within a workload through every runner, the order rotating between
repetitions) so that a slow phase of a noisy machine spreads over all
runners; the median of the repetitions is reported.  A run that times out
or prints the wrong checksum is not repeated.

--size steady (the default; steady_report.py) runs qemu at sizes where it
takes ~1 s and compares steady-state rates (the difference of two sizes per
runner, each backend at sizes of its own) and wall times there, with issue
12's targets; with auto among the backends, also auto against pybytecode
alone on programs that run under 1 s (short.py).  small and bench run every
runner at one fixed size (with auto / pybytecode ratios and the short-program
target when both run).  Backends: every -backend name, auto (the tiered
default) included.

Writes into --out (default bench/results/): report-SIZE.md (the tables),
report-SIZE.svg (log-scale bar chart of the times) and report-SIZE.json (the
raw numbers: every run's wall and CPU time, pydbt's -stats), and prints the
tables.  The checksum of every run is checked against qemu-riscv64's.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import benchlib

REFERENCE_RUNNERS = ("qemu", "native")
DEFAULT_TIMEOUT = {
    # size class -> runner -> seconds per run
    "small": {"*": 300},
    "bench": {"interp": 1800, "*": 900, "qemu": 300, "native": 300},
}


def parse_timeouts(text: str | None, size: str) -> dict[str, float]:
    table = dict(DEFAULT_TIMEOUT[size])
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        runner, eq, value = item.rpartition("=")
        table[runner if eq else "*"] = float(value)
    return table


def timeout_for(timeouts: dict[str, float], runner: str) -> float:
    return timeouts.get(runner, timeouts["*"])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# measuring


def measure(workloads, runners, size_class, repeat, timeouts):
    """Returns {workload: {runner: [Run, ...]}} and {workload: expected stdout}."""
    runs = {w.name: {r: [] for r in runners} for w in workloads}
    dead: set[tuple[str, str]] = set()
    expected: dict[str, bytes | None] = {}
    # reference outputs first (qemu), so that every run can be checked as it ends
    for w in workloads:
        ref = benchlib.run("qemu", w, w.size(size_class), timeout_for(timeouts, "qemu"))
        problem = ref.failure(None)
        expected[w.name] = None if problem else ref.stdout
        if problem:
            log(f"!! reference run failed, {w.name} cannot be checked: {problem}")
    # warm up each runner once (page cache, .pyc files) on the start-up program
    start = benchlib.WORKLOADS["startup"]
    for r in runners:
        benchlib.run(r, start, 0, timeout_for(timeouts, r))
    total = repeat * sum(len(runners) for _ in workloads)
    done = 0
    t0 = time.monotonic()
    for rep in range(repeat):
        for i, w in enumerate(workloads):
            k = (rep + i) % len(runners)
            for runner in runners[k:] + runners[:k]:
                done += 1
                if (w.name, runner) in dead:
                    continue
                size = w.size(size_class)
                r = benchlib.run(runner, w, size, timeout_for(timeouts, runner))
                runs[w.name][runner].append(r)
                problem = r.failure(expected[w.name])
                status = "ok" if problem is None else ("TIMEOUT" if r.timed_out else "FAILED")
                log(f"[{done:>3}/{total}] rep {rep + 1}/{repeat} {w.name:<11} {runner:<11} "
                    f"{r.wall_s:8.3f} s  {status}   (elapsed {time.monotonic() - t0:.0f} s)")
                if problem is not None:
                    log("    " + problem.replace("\n", "\n    "))
                    dead.add((w.name, runner))
    return runs, expected


def summarise(workloads, runners, backends, size_class, runs, expected):
    """The numbers the tables, the chart and the JSON are made of."""
    rows = []
    for w in workloads:
        row = {"workload": w.name, "size": w.size(size_class), "stresses": w.stresses,
               "checksum": (expected[w.name] or b"").decode(errors="replace").strip() or None,
               "guest_insns": None, "runners": {}}
        counts = {}
        for runner in runners:
            rs = runs[w.name][runner]
            ok = [r for r in rs if r.failure(expected[w.name]) is None]
            bad = [r for r in rs if r.failure(expected[w.name]) is not None]
            if bad:
                status = "timeout" if bad[0].timed_out else ("wrong output" if bad[0].ok else "failed")
                detail = bad[0].failure(expected[w.name])
            elif not rs:
                status, detail = "not run", None
            else:
                status, detail = "ok", None
            entry = {
                "status": status,
                "detail": detail,
                "wall_s": [round(r.wall_s, 5) for r in rs],
                "cpu_s": [round(r.cpu_s, 5) for r in rs],
                "median_wall_s": statistics.median(r.wall_s for r in ok) if ok and not bad else None,
                "median_cpu_s": statistics.median(r.cpu_s for r in ok) if ok and not bad else None,
                "timeout_s": bad[0].wall_s if bad and bad[0].timed_out else None,
            }
            if runner in backends:
                entry["stats"] = [r.stats for r in rs]
                for r in ok:
                    if r.stats and "guest_insns" in r.stats:
                        counts[runner] = r.stats["guest_insns"]
            row["runners"][runner] = entry
        if counts:
            # interp is the reference; every backend must count the same
            row["guest_insns"] = counts.get("interp", next(iter(counts.values())))
            if len(set(counts.values())) > 1:
                row["insn_count_mismatch"] = counts
                log(f"!! {w.name}: backends disagree on the guest instruction count: {counts}")
        insns = row["guest_insns"]
        for runner, e in row["runners"].items():
            t = e["median_wall_s"]
            e["guest_mips"] = round(insns / t / 1e6, 4) if insns and t else None
        rows.append(row)
    return rows


def ratio(rows_entry, a, b):
    """time(a) / time(b) for one workload, or None."""
    ta = rows_entry["runners"].get(a, {}).get("median_wall_s")
    tb = rows_entry["runners"].get(b, {}).get("median_wall_s")
    return ta / tb if ta and tb else None


def ratio_columns(runners, backends):
    """(title, numerator runner, denominator runner); each cell is
    time(numerator) / time(denominator)."""
    cols = []
    if "interp" in backends:
        for b in backends:
            if b != "interp":
                cols.append((f"{b} speed-up vs interp", "interp", b))
    first = {}                                   # backend -> its runner on the first CPython listed
    for b in backends:
        base, at, _ = b.partition("@")
        if at:
            if base in first:
                cols.append((f"{b} speed vs {first[base]}", first[base], b))
            else:
                first[base] = b
    import short

    for auto, base in short.pairs_for(backends):
        if base in backends:
            cols.append((f"{auto} / {base} (x slower)", auto, base))
    if "qemu" in runners:
        for b in backends:
            cols.append((f"{b} / qemu (x slower)", b, "qemu"))
    if "qemu" in runners and "native" in runners:
        cols.append(("qemu / native (x slower)", "qemu", "native"))
    return cols


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


# ---------------------------------------------------------------------------
# formatting


def fmt_time(t):
    if t is None:
        return "-"
    if t >= 10:
        return f"{t:.1f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 0.01:
        return f"{t * 1e3:.0f} ms"
    return f"{t * 1e3:.1f} ms"


def fmt_num(v, digits=3):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def cell_time(e):
    if e["status"] == "ok":
        return fmt_time(e["median_wall_s"])
    if e["status"] == "timeout":
        return f"TIMEOUT >{fmt_time(e['timeout_s'])}"
    return e["status"].upper()


def build_tables(rows, runners, backends, repeat):
    """[(title, header, body rows)] of strings."""
    tables = []
    body = []
    for row in rows:
        ins = row["guest_insns"]
        body.append([row["workload"], f"{row['size']:,}", f"{ins / 1e6:.2f}" if ins else "-"]
                    + [cell_time(row["runners"][r]) for r in runners])
    tables.append((f"Wall time per run (median of {repeat}; whole process, start-up included)",
                   ["workload", "size", "guest Minsn"] + runners, body))

    body = []
    for row in rows:
        body.append([row["workload"]] + [fmt_num(row["runners"][r]["guest_mips"]) for r in runners])
    real = [row for row in rows if row["workload"] != "startup"]
    body.append(["geomean"] + [fmt_num(geomean(row["runners"][r]["guest_mips"] for row in real)) for r in runners])
    hdr = [r + (" (equiv.)" if r == "native" else "") for r in runners]
    tables.append(("Guest MIPS (guest instructions, counted by pydbt, / wall time)", ["workload"] + hdr, body))

    cols = ratio_columns(runners, backends)
    if cols:
        body = []
        for row in rows:
            body.append([row["workload"]] + [fmt_num(ratio(row, a, b)) for _, a, b in cols])
        body.append(["geomean"] + [fmt_num(geomean(ratio(row, a, b) for row in real)) for _, a, b in cols])
        tables.append(("Ratios of wall times", ["workload"] + [c[0] for c in cols], body))

    hdr = ["workload"]
    for b in backends:
        hdr += [f"{b} TBs", f"{b} translate ms", f"{b} compile ms", f"{b} own MIPS"]
    body = []
    for row in rows:
        cells = [row["workload"]]
        for b in backends:
            st = [s for s in row["runners"][b].get("stats", []) if s]
            if not st:
                cells += ["-"] * 4
                continue
            cells += [str(st[-1].get("tbs_translated", "-")),
                      fmt_num(statistics.median(s.get("translate_ms", 0) for s in st)),
                      fmt_num(statistics.median(sum((s.get("compile_ms") or {}).values()) for s in st)),
                      fmt_num(statistics.median(s.get("guest_mips", 0) for s in st))]
        body.append(cells)
    tables.append(("pydbt translation (median per run; own MIPS = pydbt's -stats, Python start-up excluded)",
                   hdr, body))
    targets = short_targets(rows, backends)
    if targets:
        tables.append(("Targets", ["target (issue 12)", "value", "result"], targets))
    return tables


def short_targets(rows, backends):
    """The short-program target (short.py) on the fixed size's own runs, for
    every auto runner whose baseline (pybytecode) ran too: the workloads
    (startup included) where the baseline's median is under 1 s count."""
    import short

    out = []
    for auto, base in short.pairs_for(backends):
        if base not in backends:
            continue
        srows = [{"workload": row["workload"], "size": row["size"],
                  "base_wall_s": row["runners"][base]["median_wall_s"], "ratio": ratio(row, auto, base)}
                 for row in rows]
        label, value, ok = short.target_text(short.evaluate(srows))
        out.append([label.replace("auto", auto, 1).replace("pybytecode", base, 1), value,
                    "n/a" if ok is None else "PASS" if ok else "FAIL"])
    return out


def text_table(title, header, body):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([title, line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body])


def md_table(title, header, body):
    out = [f"### {title}", "", "| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


def machine_line(m, short=False):
    qemu = m["qemu"]
    if short:
        words = qemu.split()
        qemu = "qemu " + words[words.index("version") + 1] if "version" in words[:-1] else qemu
    return (f"{m['date']} · {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), load {' '.join(m['loadavg_at_start'])}"
            f" · {m['python']} · {qemu} · pydbt {m['pydbt_commit']}")


def tick_label(t):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale * 0.999:
            v = t / scale
            return f"{v:.0f} {unit}" if v >= 1 else f"{v:g} {unit}"
    return f"{t:g} s"


def markdown(rows, tables, machine, args, runners, steady=False):
    out = [f"# pydbt benchmark report ({args.size})", "",
           f"- date: {machine['date']}",
           f"- machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), "
           f"load average at start {' '.join(machine['loadavg_at_start'])}"
           + (f", at the end {' '.join(machine['loadavg_at_end'])}" if machine.get("loadavg_at_end") else ""),
           f"- {machine['os']}; {machine['python']}",
           f"- {machine['qemu']}; cross {machine['cross_cc']}; host {machine['host_cc']}",
           f"- pydbt {machine['pydbt_commit']}; runners: {', '.join(runners)}; repeat {args.repeat} (median)"
           + (f"; native code cache {machine['code_cache']['setting']}" if machine.get("code_cache") else "")
           + (f"; pairs of sizes k = {args.k:g} apart in work" if steady else ""),
           "- every run's output checked against qemu-riscv64's checksum line", ""]
    for t in tables:
        out += [md_table(*t), ""]
    size_key = "qemu_1s" if steady else "size"
    out += ["### Workloads", "", f"| workload | {'W' if steady else 'size'} | stresses | checksum |",
            "|---|---:|---|---|"]
    out += [f"| {r['workload']} | {r[size_key]:,} | {r['stresses']} | `{r['checksum'] or '-'}` |" for r in rows]
    problems = [(r["workload"], n, e["detail"]) for r in rows for n, e in r["runners"].items()
                if e["status"] != "ok" and e["detail"]]
    if problems:
        out += ["", "### Problems", ""]
        out += [f"- **{w} / {n}**: " + d.replace("\n", " ") for w, n, d in problems]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# the chart

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
RUNNER_COLOURS = {"qemu": "#7f7f7f", "native": "#2f2f2f"}


def svg_chart(rows, runners, machine, size_class, repeat):
    colours = {}
    others = iter(PALETTE)
    for r in runners:
        colours[r] = RUNNER_COLOURS.get(r) or next(others)
    times = [e["median_wall_s"] or e["timeout_s"] for row in rows for e in row["runners"].values()]
    times = [t for t in times if t]
    if not times:
        return None
    lo = 10 ** math.floor(math.log10(min(times)))
    hi = max(times) * 1.8     # room for the value label after the longest bar
    label_w, plot_w, right = 100, 680, 30
    bar_h, bar_gap, group_gap = 11, 2, 12
    top = 78
    group_h = len(runners) * (bar_h + bar_gap) + group_gap
    height = top + len(rows) * group_h + 40
    width = label_w + plot_w + right

    def x(t):
        return label_w + plot_w * (math.log10(t) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{label_w}" y="18" font-size="14" font-weight="bold">pydbt benchmarks ({esc(size_class)} size): '
           f'wall time per run, log scale, median of {repeat}</text>',
           f'<text x="{label_w}" y="32" font-size="10" fill="#555">{esc(machine_line(machine, short=True))}</text>']
    # legend
    lx = label_w
    for r in runners:
        out.append(f'<rect x="{lx}" y="44" width="10" height="10" fill="{colours[r]}"/>')
        out.append(f'<text x="{lx + 14}" y="53">{esc(r)}</text>')
        lx += 24 + 7 * len(r)
    # decade grid
    axis_y = top + len(rows) * group_h - group_gap + 4
    decade = lo
    while decade <= hi:
        for m in (1, 2, 5):
            d = decade * m
            if d > hi:
                break
            gx = x(d)
            out.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{axis_y}" '
                       f'stroke="{"#ccc" if m == 1 else "#eee"}"/>')
            out.append(f'<text x="{gx:.1f}" y="{axis_y + 14}" text-anchor="middle" '
                       f'fill="{"#333" if m == 1 else "#999"}" font-size="{10 if m == 1 else 8}">{esc(tick_label(d))}</text>')
        decade *= 10
    y = top
    for row in rows:
        mid = y + (len(runners) * (bar_h + bar_gap)) / 2
        out.append(f'<text x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end" font-weight="bold">'
                   f'{esc(row["workload"])}</text>')
        for r in runners:
            e = row["runners"][r]
            t = e["median_wall_s"]
            if t:
                w = max(1.0, x(t) - label_w)
                out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colours[r]}">'
                           f'<title>{esc(row["workload"])} / {esc(r)}: {esc(fmt_time(t))}</title></rect>')
                out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 2}" font-size="9">{esc(fmt_time(t))}</text>')
            else:
                note = cell_time(e)
                w = 0
                if e["timeout_s"]:
                    w = max(1.0, x(e["timeout_s"]) - label_w)
                    out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="none" '
                               f'stroke="{colours[r]}" stroke-dasharray="3,2"/>')
                    w = 0      # the note goes inside the dashed outline
                out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 2}" font-size="9" fill="#c00">'
                           f'{esc(r)}: {esc(note)}</text>')
            y += bar_h + bar_gap
        y += group_gap
    out.append(f'<line x1="{label_w}" y1="{top - 6}" x2="{label_w}" y2="{axis_y}" stroke="#333"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------


def write_outputs(args, machine, rows, runners, backends, raw):
    """Print the tables; write the Markdown, the SVG chart and the JSON."""
    tables = build_tables(rows, runners, backends, args.repeat)
    print(f"pydbt benchmark report ({args.size}), {machine_line(machine)}")
    print(f"{len(rows)} workloads x {len(runners)} runners x {args.repeat}"
          + (f", {raw['elapsed_s']:.0f} s in all" if "elapsed_s" in raw else "") + "\n")
    for t in tables:
        print(text_table(*t) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"report-{args.size}"
    stem.with_suffix(".md").write_text(markdown(rows, tables, machine, args, runners))
    svg = svg_chart(rows, runners, machine, args.size, args.repeat)
    if svg:
        stem.with_suffix(".svg").write_text(svg)
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"wrote {stem}.md, {stem}.svg, {stem}.json")


def use_snapshot(rev, pythons=()):
    """Put an export of `rev` first on the children's PYTHONPATH (removed at
    exit); returns its short hash, or None for 'none'."""
    if rev in (None, "", "none"):
        return None
    import atexit
    import shutil

    site, short = benchlib.snapshot(rev)
    atexit.register(shutil.rmtree, site.parent, True)
    for v in sorted({b.partition("@")[2] for b in pythons if "@" in b}):
        benchlib.precompile(site, benchlib.python_for(v))   # (the other CPythons' .pyc too)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    log(f"measuring pydbt {short} from {site}")
    return short


def set_code_cache(setting):
    """PYDBT_CODE_CACHE for every pydbt run of this report (children inherit
    it): "off" for cold, a fresh temporary directory (removed at exit) for
    warm, else the directory given.  Returns what it set, for the JSON."""
    if setting == "cold":
        value = "off"
    elif setting == "warm":
        import atexit
        import shutil
        import tempfile

        value = tempfile.mkdtemp(prefix="pydbt-bench-cache-")
        atexit.register(shutil.rmtree, value, True)
    else:
        value = str(Path(setting).resolve())
    os.environ["PYDBT_CODE_CACHE"] = value
    return {"setting": setting, "PYDBT_CODE_CACHE": value}


def run_steady(args, machine, workloads, short_workloads, runners, backends, timeouts, t0):
    """--size steady: see steady_report."""
    import steady_report as sr

    def tmo(r):
        return timeout_for(timeouts, r)

    expected = sr.Expected(tmo("qemu"))
    log("calibrating each backend's sizes ...")
    plans = sr.plan(workloads, runners, backends, args, expected, tmo)
    runs = sr.measure(workloads, runners, plans, args.repeat, expected, tmo)
    counter = args.counter or sr.pick_counter(backends)
    counts = sr.count_insns(workloads, runs, counter, timeout_for(timeouts, counter or "*"))
    rows = sr.summarise(workloads, runners, backends, plans, runs, counts, expected)
    short_rows = run_short(args, short_workloads, backends, expected, tmo)
    try:
        machine["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    raw = {"machine": machine, "size": "steady", "repeat": args.repeat, "k": args.k,
           "target_s": args.target_s, "wall_cap_s": args.wall_cap, "counter": counter,
           "runners": runners, "backends": backends, "timeouts": timeouts,
           "elapsed_s": round(time.monotonic() - t0, 2), "workloads": rows,
           "short_goal_s": args.short_goal, "short": short_rows}
    write_steady(args, machine, rows, runners, backends, raw)
    failed = [(r["workload"], n) for r in rows for n, e in r["runners"].items() if e["status"] != "ok"]
    failed += run_windows(args, machine, workloads, backends)
    failed += [(r["workload"], f"{r['auto']}/{r['base']} short {r['size']:,}") for r in short_rows if r["problem"]]
    if failed:
        log("not ok: " + ", ".join(f"{w}/{n}" for w, n in failed))
    return 1 if failed else 0


def run_short(args, workloads, backends, expected, timeout_for):
    """The short-program comparison (short.py) for every auto runner listed:
    its rows, [] when there is none or --short-goal is 0."""
    import short

    rows = []
    if args.short_goal <= 0:
        return rows
    for pair in short.pairs_for(backends):
        auto, base = pair
        log(f"short programs: {auto} vs {base} under {short.LIMIT_S:g} s ...")
        sizes = short.plan(workloads, base, args.short_goal, args.k, expected, timeout_for(base))
        runs = short.measure(workloads, sizes, pair, args.repeat, expected, timeout_for(base))
        rows += short.summarise(workloads, runs, pair, expected)
    return rows


def run_windows(args, machine, workloads, backends):
    """--windows N: the same workloads by timing windows (windows.py: the
    fastest of many ~10 ms runs of the workload's main in one process, N
    rounds), beside the two-size rates: report-windows.md and .json in --out.
    -> the (workload, runner) pairs that failed."""
    import windows

    if args.windows <= 0:
        return []
    log(f"timing windows: {args.windows} rounds ...")
    wargs = argparse.Namespace(min_reps=20, seconds=1.5, rounds=args.windows, window_ms=10, timeout=300,
                               native=False)
    return windows.run(workloads, backends, wargs, machine, args.out, "report-windows")


def write_steady(args, machine, rows, runners, backends, raw):
    import steady_report as sr

    tables = sr.build_tables(rows, runners, backends, args.repeat, args.k, raw.get("short"))
    print(f"pydbt benchmark report (steady), {machine_line(machine)}")
    print(f"{len(rows)} workloads x {len(runners)} runners x {args.repeat}"
          + (f", {raw['elapsed_s']:.0f} s in all" if "elapsed_s" in raw else "") + "\n")
    for t in tables:
        print(text_table(*t) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "report-steady"
    stem.with_suffix(".md").write_text(markdown(rows, tables, machine, args, runners, steady=True))
    stem.with_suffix(".svg").write_text(sr.svg_chart(rows, runners, backends, machine, args.repeat))
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"wrote {stem}.md, {stem}.svg, {stem}.json")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--size", choices=("steady",) + benchlib.SIZES, default="steady",
                    help="steady (default): qemu at ~1 s and steady-state rates of two sizes per runner; "
                    "small or bench: every runner at one fixed size")
    ap.add_argument("--k", type=float, default=4, help="steady: work ratio of the two sizes (default 4)")
    ap.add_argument("--target", dest="target_s", type=float, default=2.0,
                    help="steady: CPU seconds of a backend's big run (default 2)")
    ap.add_argument("--wall-cap", type=float, default=10.0,
                    help="steady: a backend expected to take <= this many seconds at qemu's ~1 s size W "
                    "runs at qemu's pair (W/k, W); a slower one gets a pair of its own and its wall time at W "
                    "is projected (default 10)")
    ap.add_argument("--code-cache", default="cold",
                    help="the native backend's disk cache for every pydbt run: cold (default: off, every run "
                    "compiles), warm (one temporary directory for the whole report: the calibration runs fill "
                    "it, the measured runs load from it) or a directory (never the user's default)")
    ap.add_argument("--snapshot", default="HEAD", metavar="REV",
                    help="run pydbt from an export of this commit (default HEAD: what is committed, not "
                    "the working tree others may be editing meanwhile); 'none' runs the working tree")
    ap.add_argument("--short-goal", type=float, default=0.8, metavar="SECONDS",
                    help="steady, with auto among the backends: the short-program comparison (auto vs "
                    "pybytecode alone, issue 12's 10%% target) runs at the small size and at the size where "
                    "pybytecode takes about this many seconds of wall time (default 0.8; 0: no comparison)")
    ap.add_argument("--counter", help="steady: the backend that counts guest instructions at sizes no "
                    "backend ran (default: llvm if it runs here)")
    ap.add_argument("--backends", help="comma list of pydbt backends, auto (the tiered default) included "
                    "(default: all)")
    ap.add_argument("--workloads", help="comma list of workloads (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per workload and runner (median; default 3)")
    ap.add_argument("--timeout", help="seconds per run: N, or runner=N,... "
                    "(default small 300; bench interp=1800, other backends 900, qemu/native 300)")
    ap.add_argument("--pythons", help="comma list of CPython versions (3.11,3.12,...): each backend runs on "
                    "each (runner backend@X.Y), in tests/run.sh's venvs")
    ap.add_argument("--no-native", action="store_true", help="skip the native build")
    ap.add_argument("--windows", type=int, default=3, metavar="ROUNDS",
                    help="steady: also measure by timing windows (windows.py), this many rounds "
                    "(default 3; 0: not)")
    ap.add_argument("--out", default=str(benchlib.BENCH_DIR / "results"), help="output folder (default bench/results)")
    ap.add_argument("--replot", metavar="JSON", help="no runs: redo the tables and the chart from a report's JSON")
    args = ap.parse_args(argv)

    if args.replot:
        try:
            raw = json.loads(Path(args.replot).read_text())
        except (OSError, ValueError) as e:
            log(f"--replot {args.replot}: {e}")
            return 2
        args.size, args.repeat = raw["size"], raw["repeat"]
        if args.size == "steady":
            args.k = raw.get("k", args.k)
            write_steady(args, raw["machine"], raw["workloads"], raw["runners"], raw["backends"], raw)
        else:
            write_outputs(args, raw["machine"], raw["workloads"], raw["runners"], raw["backends"], raw)
        return 0

    reason = benchlib.missing_tools()
    if reason:
        log(reason)
        return 2
    registered = benchlib.pydbt_backends()
    backends = [b for b in (args.backends or "").split(",") if b] or registered
    unknown = [b for b in backends if b not in registered]
    if unknown:
        log(f"unknown backend(s) {', '.join(unknown)} (known: {', '.join(registered)})")
        return 2
    if args.pythons:
        backends = [f"{b}@{v}" for b in backends for v in args.pythons.split(",") if v]
        for v in {b.partition("@")[2] for b in backends}:
            try:
                benchlib.python_for(v)
            except benchlib.BuildError as e:
                log(str(e))
                return 2
    names = [n for n in (args.workloads or "").split(",") if n] or list(benchlib.WORKLOADS)
    unknown = [n for n in names if n not in benchlib.WORKLOADS]
    if unknown:
        log(f"unknown workload(s) {', '.join(unknown)} (known: {', '.join(benchlib.WORKLOADS)})")
        return 2
    workloads = [benchlib.WORKLOADS[n] for n in names]
    native = not args.no_native
    if native and benchlib.missing_tools(native=True):
        log(f"host compiler {benchlib.HOST_CC} missing: no native runs")
        native = False
    runners = backends + ["qemu"] + (["native"] if native else [])
    code_cache = set_code_cache(args.code_cache)
    snap = use_snapshot(args.snapshot, backends)
    short_workloads = workloads          # (startup too: a short program of its own)
    if args.size == "steady":
        names = [n for n in names if benchlib.WORKLOADS[n].qemu_1s]
        workloads = [benchlib.WORKLOADS[n] for n in names]
    timeouts = parse_timeouts(args.timeout, "bench" if args.size == "steady" else args.size)
    machine = benchlib.machine_info()
    if snap:
        machine["pydbt_commit"] = snap + " (snapshot)"

    t0 = time.monotonic()
    log("building the workloads ...")
    progs = {w.program: w for w in list(short_workloads) + [benchlib.WORKLOADS["startup"]]}
    for w in progs.values():
        for target in ["riscv64"] + (["native"] if native else []):
            try:
                benchlib.build(w, target)
            except benchlib.BuildError as e:
                log(str(e))
                return 1
    if args.size == "steady":
        machine["code_cache"] = code_cache
        return run_steady(args, machine, workloads, short_workloads, runners, backends, timeouts, t0)
    machine["code_cache"] = code_cache
    runs, expected = measure(workloads, runners, args.size, args.repeat, timeouts)
    elapsed = time.monotonic() - t0
    rows = summarise(workloads, runners, backends, args.size, runs, expected)
    raw = {
        "machine": machine,
        "size": args.size,
        "repeat": args.repeat,
        "runners": runners,
        "backends": backends,
        "timeouts": timeouts,
        "elapsed_s": round(elapsed, 2),
        "workloads": rows,
    }
    write_outputs(args, machine, rows, runners, backends, raw)
    failed = [(r["workload"], n) for r in rows for n, e in r["runners"].items() if e["status"] != "ok"]
    if failed:
        log("not ok: " + ", ".join(f"{w}/{n}" for w, n in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
