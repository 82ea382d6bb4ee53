"""Fixtures for the benchmark suite: workloads built once per session (per
xdist worker), and qemu-riscv64's output as the expected checksum."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402


@pytest.fixture(scope="session")
def bench_tools():
    reason = benchlib.missing_tools()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def built(bench_tools):
    """built(workload, target) -> binary Path, building on first use; a build
    failure fails the calling test with the compiler's output."""
    cache = {}

    def get(workload, target="riscv64"):
        key = (workload.program, target)
        if key not in cache:
            try:
                cache[key] = benchlib.build(workload, target)
            except benchlib.BuildError as e:
                cache[key] = e
        if isinstance(cache[key], benchlib.BuildError):
            pytest.fail(str(cache[key]), pytrace=False)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def expected_output(built):
    """expected_output(workload, size) -> qemu-riscv64's stdout (the checksum
    line), computed once per session."""
    cache = {}

    def get(workload, size):
        key = (workload.name, size)
        if key not in cache:
            built(workload)
            r = benchlib.run("qemu", workload, size, timeout=600)
            problem = r.failure(None)
            if problem:
                pytest.fail("the reference run failed: " + problem, pytrace=False)
            cache[key] = r.stdout
        return cache[key]

    return get
