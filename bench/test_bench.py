"""Benchmarks: every workload under every pydbt backend, plus qemu-riscv64
and the native build as references, one pytest-benchmark group per workload.

Each benchmark runs the workload as a subprocess (``python -m pydbt run
-backend B -stats=json prog SIZE``) and always checks its output (the
checksum line) against qemu-riscv64's for the same program and size, also
under ``--benchmark-disable`` (the function then runs once) and under xdist.

Environment:
  PYDBT_BENCH_SIZE      small (default: ~0.3-0.8 M guest instructions each) or bench (~10-30 M)
  PYDBT_BENCH_BACKENDS  comma list of pydbt backends (default: all of pydbt.backends.NAMES)
  PYDBT_BENCH_ROUNDS    rounds per benchmark (default 3; 1 for interp at the bench size)
  PYDBT_BENCH_TIMEOUT   seconds allowed per run (default 300 small, 3600 bench)

    python -m pytest bench -q --benchmark-disable           # check every workload once
    PYDBT_BENCH_SIZE=bench python -m pytest bench -k 'sha256 and not interp'
"""

import os
import shutil

import pytest

import benchlib

SIZE = os.environ.get("PYDBT_BENCH_SIZE", "small")
if SIZE not in benchlib.SIZES:
    raise pytest.UsageError(f"PYDBT_BENCH_SIZE must be one of {', '.join(benchlib.SIZES)}, not {SIZE!r}")

_env_backends = [b for b in os.environ.get("PYDBT_BENCH_BACKENDS", "").split(",") if b]
BACKENDS = _env_backends or benchlib.pydbt_backends()
RUNNERS = [*BACKENDS, "qemu", "native"]
TIMEOUT = float(os.environ.get("PYDBT_BENCH_TIMEOUT", 300 if SIZE == "small" else 3600))


def _rounds(runner):
    if "PYDBT_BENCH_ROUNDS" in os.environ:
        return max(1, int(os.environ["PYDBT_BENCH_ROUNDS"]))
    return 1 if SIZE == "bench" and runner == "interp" else 3


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("name", list(benchlib.WORKLOADS))
def test_workload(benchmark, built, expected_output, name, runner):
    workload = benchlib.WORKLOADS[name]
    size = workload.size(SIZE)
    built(workload, "riscv64")
    if runner == "native":
        if shutil.which(benchlib.HOST_CC) is None:
            pytest.skip(f"host compiler {benchlib.HOST_CC} not installed")
        built(workload, "native")
    expected = expected_output(workload, size)

    runs = []

    def once():
        r = benchlib.run(runner, workload, size, TIMEOUT)
        runs.append(r)
        return r

    benchmark.group = name
    benchmark.extra_info.update(runner=runner, workload=name, size=size, size_class=SIZE)
    benchmark.pedantic(once, rounds=_rounds(runner), iterations=1, warmup_rounds=0)

    assert runs, "the benchmark never ran the workload"
    for r in runs:
        problem = r.failure(expected)
        if problem:
            pytest.fail(problem, pytrace=False)
    last = runs[-1]
    benchmark.extra_info["checksum"] = last.stdout.decode(errors="replace").strip()
    benchmark.extra_info["wall_s"] = [round(r.wall_s, 4) for r in runs]
    benchmark.extra_info["cpu_s"] = [round(r.cpu_s, 4) for r in runs]
    if runner in BACKENDS:
        stats = last.stats
        assert stats is not None, f"no -stats=json line on pydbt's stderr:\n{last.stderr.decode(errors='replace')}"
        insns = stats["guest_insns"]
        assert all(r.stats and r.stats["guest_insns"] == insns for r in runs), \
            "the guest instruction count differs between rounds"
        best = min(r.wall_s for r in runs)
        benchmark.extra_info.update(
            guest_insns=insns,
            guest_mips=round(insns / best / 1e6, 4),          # over the whole process
            guest_mips_pydbt=stats.get("guest_mips"),          # pydbt's own (excludes Python start-up)
            tbs_translated=stats.get("tbs_translated"),
            translate_ms=stats.get("translate_ms"),
            compile_ms=stats.get("compile_ms"),
            syscalls=stats.get("syscalls"),
        )
