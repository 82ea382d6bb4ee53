"""Run statistics for --stats: counters bumped by the TB cache and the exec loop."""
import gc
import json
import time


class Stats:
    FIELDS = ("tbs_translated", "cold_runs", "tbs_promoted", "cache_hits", "cache_misses", "chains_made",
              "chains_undone", "invalidations", "syscalls", "signals_delivered")

    def __init__(self):
        self.gauges = {}                   # name -> a function reading a counter kept elsewhere
        self.reset()

    def reset(self):
        for f in self.FIELDS:
            setattr(self, f, 0)
        self.translate_time = 0.0          # frontend + passes
        self.compile_time = {}             # backend name -> seconds
        self.compile_each = {}             # backend name -> [seconds per TB, translation included]
        self.start = time.perf_counter()
        self.counter = [0]                 # the engine's: guest instructions executed
        self.extra = {}                    # a backend's own counters (name -> number), reported as is
        self.gc = [0.0, 0, 0]              # (watch_gc) seconds in the cycle collector, its runs, full ones
        self.gc_began = 0.0

    def watch_gc(self):
        """Count the cycle collector's runs and time (`gc_ms`, `gc_runs`,
        `gc_full_runs`): translated code is many long-lived objects, and a
        full collection walks them all."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase, info):
        if phase == "start":
            self.gc_began = time.perf_counter()
            return
        g = self.gc
        g[0] += time.perf_counter() - self.gc_began
        g[1] += 1
        g[2] += info.get("generation") == 2

    def bump(self, key, n=1):
        """extra[key] += n (a backend's own counter)"""
        extra = self.extra
        extra[key] = extra.get(key, 0) + n

    def as_dict(self):
        d = {f: getattr(self, f) for f in self.FIELDS}
        d["guest_insns"] = self.counter[0]
        d.update(sorted(self.extra.items()))
        d.update((k, fn()) for k, fn in sorted(self.gauges.items()))
        wall = time.perf_counter() - self.start
        d["translate_ms"] = round(self.translate_time * 1e3, 3)
        d["compile_ms"] = {k: round(v * 1e3, 3) for k, v in self.compile_time.items()}
        d["tb_median_ms"] = {k: round(sorted(v)[len(v) // 2] * 1e3, 3)
                             for k, v in self.compile_each.items() if v}
        d["tbs_by_backend"] = {k: len(v) for k, v in self.compile_each.items() if v}
        if self._on_gc in gc.callbacks:
            d["gc_ms"] = round(self.gc[0] * 1e3, 3)
            d["gc_runs"], d["gc_full_runs"] = self.gc[1], self.gc[2]
        d["wall_s"] = round(wall, 4)
        d["guest_mips"] = round(d["guest_insns"] / wall / 1e6, 4) if wall > 0 else 0.0
        peak = _peak_rss_kb()
        if peak is not None:
            d["peak_rss_kb"] = peak
        return d

    def report(self, fmt="text"):
        d = self.as_dict()
        if fmt == "json":
            return json.dumps(d, sort_keys=True)
        width = max(len(k) for k in d)
        return "\n".join(f"pydbt: {k:<{width}} {v}" for k, v in d.items())


def _peak_rss_kb():
    """This process's peak resident memory since it was exec'd (VmHWM): unlike
    getrusage's ru_maxrss, not what the process that forked it had resident
    then (a big parent's fork-time RSS is carried over exec into ru_maxrss)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


STATS = Stats()
