"""The arithmetic of the steady-state report (``report.py --size steady``),
kept free of processes so that it can be tested on made-up timings.

- Rates: a runner's steady-state rate is the difference of two sizes,
  (insns(big) - insns(small)) / (cpu(big) - cpu(small)): start-up, loading and
  the first translations cancel out.  Each repetition gives one rate (its two
  runs ran close in time); the report takes the median.
- Planning: qemu and the native build run at (W/k, W), W being the size at
  which qemu runs ~1 s (``Workload.qemu_1s``).  A pydbt runner is calibrated
  per workload (``calibrate``): probe runs at sizes growing k-fold in work;
  a runner that can afford W (expected <= the wall cap) runs at qemu's pair
  too; a slower one gets a pair of its own once its time grows in proportion
  to the work on three sizes, its work part outweighs its fixed cost and its
  translation + compilation (from -stats) stopped growing.  A JIT whose
  compilation grows with the size (more code gets hot as it runs longer)
  grows its time linearly enough to pass a line test alone: strings did.
- Native metrics from pydbt's ``-stats=json`` (transitions per 10,000 guest
  instructions, the share of native-to-native transfers, compile share of the
  wall time, median compile per TB of each native tier) and issue 12's
  targets, pass or fail (the short-program target is short.py's).
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple

# the native tiers' keys in -stats' per-backend tables (tb_median_ms...), the
# optimizing one first: -backend llvm has "llvm", llvm-quick "llvm-quick",
# baseline "baseline", auto "baseline" and "llvm" (baseline code first, hot
# blocks compiled again by LLVM)
NATIVE_TIERS = ("llvm", "llvm-quick", "baseline")

# how much translation + compilation may still grow between the last two
# probes of a steady line, as a share of their time difference
JIT_GROWTH = 0.1


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


def native_tbs(stats):
    """The TBs compiled to native code in one run (every native tier; a TB
    recompiled optimized counts twice), from its -stats; None without."""
    tiers = (stats or {}).get("tbs_by_backend")
    if tiers is None:
        return None
    return sum(tiers.get(t, 0) for t in NATIVE_TIERS)


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


class Calibration(NamedTuple):
    """calibrate()'s answer: the pair of sizes, the CPU seconds expected at W
    (None: not estimated) and how the pair was found: "W" (the runner can
    afford qemu's pair), "steady" (a pair of its own on a verified line) or
    "unsteady" (the probe budget ran out first: the pair is the best guess)."""
    small: int
    big: int
    est_w: float | None
    how: str


def jit_seconds(stats):
    """Translation + compilation seconds of one run's -stats, loading the
    native tier included (None without)."""
    if not stats or ("compile_ms" not in stats and "translate_ms" not in stats):
        return None
    return (sum((stats.get("compile_ms") or {}).values()) + (stats.get("translate_ms") or 0)
            + (stats.get("native_load_ms") or 0)) / 1000


def calibrate(probe, workload, start, k=4, target_s=2.0, wall_cap=10.0, min_dt=0.25, max_probes=10,
              jit_growth=JIT_GROWTH):
    """The Calibration (small, big, est_w, how) of one runner of `workload`,
    or None when a probe failed.

    probe(size) runs the runner once and returns its CPU seconds, or (CPU
    seconds, translation + compilation seconds from its -stats, or None),
    or None if the run failed.  Sizes grow k-fold in work from `start`:

    - W when affordable: as soon as a probe ran at W (workload.qemu_1s)
      within wall_cap seconds, or the line through the last two probes puts
      W within wall_cap (a time difference below min_dt, i.e. noise, counted
      as min_dt: an upper bound while fixed costs grow less than the work),
      the pair is qemu's own (W/k, W).
    - Else a pair of its own once the time grows in proportion to the work:
      the last two slopes (three sizes) agree within 1.5x, the last step took
      min_dt, the time above the line's intercept c (the fixed cost) is at
      least target_s / 4 and (below W) c, and translation + compilation grew
      by at most jit_growth of the last step's time (a JIT whose fixed cost
      still grows with the size, as more code gets hot, is not there yet;
      -stats' compile times are wall times: noise only makes the search
      go on).  The big size
      is the one expected to take max(target_s, 2c) (its work at least the
      fixed cost), not below the last probe but one (the pair lies on the
      verified line; not below the last probe if compilation still grew on
      the step before), capped at W and snapped to W within 70% of its work.
    - The search ends without a steady line ("unsteady") when a probe took
      the budget, max(wall_cap, 3x the first goal), when the next one is
      expected to (by the last line less its compilation growth), or after
      max_probes: the last line then gives the pair."""
    cap = workload.qemu_1s
    work = workload.work
    hist = []                                   # (size, cpu s, jit s or None)
    size = min(start, cap)
    budget = None
    for i in range(max_probes):
        got = probe(size)
        if got is None:
            return None
        t, jit = got if isinstance(got, tuple) else (got, None)
        hist.append((size, t, jit))
        if budget is None:
            budget = max(wall_cap, 3 * max(target_s, t + target_s / 2))
        if size >= cap and t <= wall_cap:       # ran at W, affordably: qemu's pair
            return Calibration(*reference_pair(workload, k), t, "W")
        nxt = min(cap, max(size + 1, workload.scaled(size, k)))
        slope = steady = None
        t_next = t
        if len(hist) >= 2:
            s0, t0, j0 = hist[-2]
            dwork, dt = work(size) - work(s0), t - t0
            grew = jit - j0 if None not in (jit, j0) else 0.0
            slope = dt / dwork if dt > 0 else None
            to_w = work(cap) - work(size)
            if size < cap and t + max(dt, min_dt) / dwork * to_w <= wall_cap:
                est = t + (slope * to_w if slope else max(dt, min_dt) / dwork * to_w)
                return Calibration(*reference_pair(workload, k), est, "W")
            t_next = t + max(dt - max(grew, 0.0), min_dt) / dwork * (work(nxt) - work(size))
            if slope:
                c = t - slope * work(size)      # the fixed cost on this line
                before = _slope(workload, *hist[-3:-1]) if len(hist) >= 3 else None
                steady = (before is not None and 2 / 3 <= slope / before <= 1.5 and dt >= min_dt
                          and t - c >= max(c if size < cap else 0, target_s / 4)
                          and grew <= jit_growth * dt)
        last = t >= budget or i == max_probes - 1 or size >= cap or t_next > budget
        if slope and (steady or last):
            goal = max(target_s, 2 * c)
            # both sizes on the verified line: the big one not below the last
            # probe but one, nor below the last if compilation still grew on
            # the step before
            floor = hist[-1] if steady and not _flat(hist[-3], hist[-2], jit_growth) else hist[-2]
            big_work = max((goal - c) / slope, work(floor[0]))
            est_w = t + slope * (work(cap) - work(size))
            return Calibration(*_pair(workload, big_work, k), est_w, "steady" if steady else "unsteady")
        if last:
            break
        size = nxt
    # the time did not grow measurably (or one probe only): this probe is the big one
    return Calibration(*_pair(workload, work(size), k), None, "unsteady")


def _flat(a, b, jit_growth):
    """Translation + compilation grew by at most jit_growth of the time
    from probe a to probe b (True when unknown)."""
    if None in (a[2], b[2]):
        return True
    return b[2] - a[2] <= jit_growth * max(b[1] - a[1], 0)


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
    when the run has one, else the first native tier's (llvm-quick, baseline);
    under auto, which has both, quick_compile_ms is the first tier's."""
    if not stats:
        return None
    insns = stats.get("guest_insns") or 0
    trans = stats.get("native_transitions")
    hits = stats.get("native_chain_hits") or 0
    # (loading the native tier, llvmlite: not a region's compile, but native compiling's cost)
    compile_s = (sum((stats.get("compile_ms") or {}).values()) + (stats.get("native_load_ms") or 0)) / 1000
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
