"""The arithmetic of the steady-state report (``report.py --size steady``),
kept free of processes so that it can be tested on made-up timings.

- Rates: a runner's steady-state rate is the difference of two sizes,
  (insns(big) - insns(small)) / (cpu(big) - cpu(small)): start-up, loading and
  the first translations cancel out.  Each repetition gives one rate (its two
  runs ran close in time); the report takes the median.
- Planning: qemu and the native build run at (W/k, W), W being the size at
  which qemu runs ~1 s (``Workload.qemu_1s``).  A pydbt runner is calibrated
  per workload: probe runs at sizes growing k-fold in work until the time
  grows in proportion to the work (start-up and compilation no longer
  dominate), then the big size is the one expected to take ``target_s`` (or
  the fixed cost + target_s / 2, when start-up and compilation alone take
  longer; at most W), the small one has 1/k of its work.
- Native metrics from pydbt's ``-stats=json`` (transitions per 10,000 guest
  instructions, the share of native-to-native transfers, compile share of the
  wall time, median compile per TB of each native tier) and issue 12's
  targets, pass or fail (the short-program target is short.py's).
"""

from __future__ import annotations

import math
import statistics

# the native tiers' keys in -stats' per-backend tables (tb_median_ms...), the
# optimizing one first: -backend llvm has "llvm", llvm-quick "llvm-quick",
# auto both (quick code first, hot blocks compiled again optimized)
NATIVE_TIERS = ("llvm", "llvm-quick")


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def pair_rate(insns_small, insns_big, t_small, t_big):
    """Guest instructions per second between two sizes, or None when the
    difference is not positive (too small to measure, or noise)."""
    if None in (insns_small, insns_big, t_small, t_big):
        return None
    di, dt = insns_big - insns_small, t_big - t_small
    return di / dt if di > 0 and dt > 0 else None


def steady_rate(insns_small, insns_big, pairs):
    """The median of the per-repetition rates; `pairs` is [(t_small, t_big)]."""
    rates = [r for r in (pair_rate(insns_small, insns_big, a, b) for a, b in pairs) if r]
    return statistics.median(rates) if rates else None


def project_time(t_at, insns_at, insns_target, rate):
    """The time at insns_target, from a run of insns_at instructions that took
    t_at and the steady-state rate (a projection: the report marks it '~')."""
    if None in (t_at, insns_at, insns_target) or not rate:
        return None
    return t_at + (insns_target - insns_at) / rate


# ---------------------------------------------------------------------------
# planning the sizes


def reference_pair(workload, k):
    """qemu's and the native build's sizes: W/k and W."""
    w = workload.qemu_1s
    return workload.scaled(w, 1 / k), w


def calibrate(probe, workload, start, k=4, target_s=2.0, min_dt=0.25, max_probes=10):
    """Sizes (small, big, est_time_at_W) for one runner of `workload`.

    probe(size) runs the runner once and returns its CPU seconds (None if
    the run failed).  Sizes grow k-fold in work from `start` until the time
    grows in proportion to the work: the last two slopes (seconds per unit of
    work) agree within 1.5x, the last step took min_dt, and the time above the
    line's intercept c (the fixed cost: start-up, and a JIT's compilation,
    which grows with the size until all hot code is compiled) is target_s / 4.
    The big size is then the one expected to take max(target_s, c +
    target_s / 2), capped at W (workload.qemu_1s), snapped to W when within
    70% of its work.  A probe past W, 3x the first goal or max_probes ends the
    search with the last slope.  Returns None when a probe failed."""
    cap = workload.qemu_1s
    hist = []
    size = min(start, cap)
    hard = None
    for i in range(max_probes):
        t = probe(size)
        if t is None:
            return None
        hist.append((size, t))
        if hard is None:
            hard = 3 * max(target_s, t + target_s / 2)
        slope = _slope(workload, *hist[-2:]) if len(hist) >= 2 else None
        last = size >= cap or t >= hard or i == max_probes - 1
        if slope:
            c = t - slope * workload.work(size)                 # the fixed cost on this line
            before = _slope(workload, *hist[-3:-1]) if len(hist) >= 3 else None
            steady = (before is not None and 2 / 3 <= slope / before <= 1.5
                      and t - hist[-2][1] >= min_dt and t - c >= target_s / 4)
            if steady or last:
                goal = max(target_s, c + target_s / 2)
                est_w = t + slope * (workload.work(cap) - workload.work(size))
                return _pair(workload, (goal - c) / slope, k) + (est_w,)
        if last:
            break
        size = min(cap, max(size + 1, workload.scaled(size, k)))
    if size >= cap and t < hard:      # no measurable growth up to W: run at W
        return reference_pair(workload, k) + (t,)
    return _pair(workload, workload.work(size), k) + (None,)    # slow already: this is the big one


def _slope(workload, a, b):
    dwork, dt = workload.work(b[0]) - workload.work(a[0]), b[1] - a[1]
    return dt / dwork if dwork > 0 and dt > 0 else None


def _pair(workload, big_work, k):
    cap = workload.qemu_1s
    if big_work >= 0.7 * workload.work(cap):     # close to W: run at W (shares the wall runs)
        return reference_pair(workload, k)
    big = max(2, workload.size_for_work(big_work))
    small = workload.scaled(big, 1 / k)
    if small >= big:
        small = big - 1
    return small, big


# ---------------------------------------------------------------------------
# native metrics from -stats=json


def native_metrics(stats, wall_s):
    """{transitions_per_10k, chained_pct, compile_share_pct, median_compile_ms,
    quick_compile_ms} from one run's -stats (None values where the run had no
    native code).  The median compile per TB is the optimizing tier's (llvm)
    when the run has one, else the quick tier's (llvm-quick); under auto,
    which has both, quick_compile_ms is the quick tier's."""
    if not stats:
        return None
    insns = stats.get("guest_insns") or 0
    trans = stats.get("native_transitions")
    hits = stats.get("native_chain_hits") or 0
    compile_s = sum((stats.get("compile_ms") or {}).values()) / 1000
    medians = stats.get("tb_median_ms") or {}
    tiers = [medians[t] for t in NATIVE_TIERS if medians.get(t) is not None]
    med = tiers[0] if tiers else None
    if trans is None and med is None:
        return None
    trans = trans or 0
    return {
        "transitions_per_10k": trans / insns * 1e4 if insns else None,
        # every native-to-native transfer (direct exits through patched slots,
        # indirect ones through the jump cache) against every return to Python
        "chained_pct": 100 * hits / (hits + trans) if hits + trans else None,
        "compile_share_pct": 100 * compile_s / wall_s if wall_s else None,
        # the optimizing tier's median where the run has one, else the quick tier's
        "median_compile_ms": med,
        # the quick tier's, when the run had both (auto)
        "quick_compile_ms": tiers[1] if len(tiers) > 1 else None,
    }


def median_metrics(items):
    """Per-key median over several runs' native_metrics (None entries skipped)."""
    items = [m for m in items if m]
    if not items:
        return None
    out = {}
    for key in items[0]:
        vals = [m[key] for m in items if m.get(key) is not None]
        out[key] = statistics.median(vals) if vals else None
    return out


# ---------------------------------------------------------------------------
# issue 12's targets


def _worst(rows, get, kinds, higher_is_better):
    vals = [(get(r), r["workload"]) for r in rows if r["kind"] in kinds]
    if any(v is None for v, _ in vals) or not vals:
        return None, None
    v, name = (min if higher_is_better else max)(vals)
    return v, name


def evaluate_targets(rows, backend):
    """[(target, value text, passed: True/False/None)] for one backend.

    rows: the steady summary's rows, each with workload, kind and, under
    runners[backend]: steady_vs_qemu, wall_vs_qemu (+ wall_projected) and
    native (the metrics above).  None means not measurable (no native code,
    a failed run)."""
    def runner(r):
        return r["runners"].get(backend) or {}

    def fmt(v, unit="x", name=None, approx=False):
        if v is None:
            return "-"
        text = ("~" if approx else "") + (f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}") + unit
        return f"{text} ({name})" if name else text

    out = []
    v, name = _worst(rows, lambda r: runner(r).get("steady_vs_qemu"), ("int",), True)
    out.append(("steady state >= 1.0x qemu on every integer workload (worst)", fmt(v, "x", name),
                None if v is None else v >= 1.0))
    g = geomean(runner(r).get("steady_vs_qemu") for r in rows if r["kind"] == "int")
    out.append(("steady state integer geomean >= 1.5x qemu", fmt(g), None if g is None else g >= 1.5))
    v, name = _worst(rows, lambda r: runner(r).get("steady_vs_qemu"), ("fp",), True)
    out.append(("steady state >= 0.5x qemu on FP workloads (worst)", fmt(v, "x", name),
                None if v is None else v >= 0.5))
    v, name = _worst(rows, lambda r: runner(r).get("wall_vs_qemu"), ("int", "fp"), False)
    approx = any(runner(r).get("wall_projected") for r in rows if r["kind"] in ("int", "fp"))
    out.append(("wall time at qemu's ~1 s size <= 2x qemu's, CPU-bound workloads (worst)",
                fmt(v, "x", name, approx), None if v is None else v <= 2.0))

    def metric(key):
        return lambda r: (runner(r).get("native") or {}).get(key)

    v, name = _worst(rows, metric("compile_share_pct"), ("int", "fp"), False)
    out.append(("compile <= 10% of wall time (worst)", fmt(v, "%", name), None if v is None else v <= 10))
    v, name = _worst(rows, metric("transitions_per_10k"), ("int",), False)
    out.append(("<= 1 native<->Python transition per 10,000 guest insns, integer (worst)",
                fmt(v, "", name), None if v is None else v <= 1))
    v, name = _worst(rows, metric("chained_pct"), ("int", "fp"), True)
    out.append((">= 95% of exits chained natively (worst)", fmt(v, "%", name), None if v is None else v >= 95))
    meds = [metric("median_compile_ms")(r) for r in rows if r["kind"] in ("int", "fp")]
    meds = [m for m in meds if m is not None]
    v = statistics.median(meds) if meds else None
    out.append(("median region compile <= 5 ms (median over workloads)",
                fmt(v, " ms") + (f" ({min(meds):.3g}-{max(meds):.3g})" if meds else ""),
                None if v is None else v <= 5))
    return out
