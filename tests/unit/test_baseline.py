"""The baseline tier as a user sees it: -perfmap names its code, -d out_asm
prints it, and auto reaches it without llvmlite (the tier's own runtime:
backends/x64_runtime.py)."""
import json
import os
import subprocess
import sys

import pytest

from pydbt.backends import unavailable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO = os.path.join(ROOT, "examples", "hello")
pytestmark = pytest.mark.skipif(unavailable("baseline") is not None, reason="the host runs no baseline code")


def _pydbt(*args, pre=""):
    code = pre + "import sys; from pydbt.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYDBT_CODE_CACHE="off"))


def test_the_perf_map_names_each_baseline_block():
    p = _pydbt("-backend", "baseline", "-jit-threshold", "0", "-perfmap", "-stats=json", HELLO, "x")
    out, err = p.communicate(timeout=120)
    path = f"/tmp/perf-{p.pid}.map"
    try:
        with open(path) as f:
            lines = [ln.split() for ln in f.read().splitlines()]
    finally:
        if os.path.exists(path):
            os.unlink(path)
    assert p.returncode == 0 and out.startswith(b"Hello"), err
    stats = json.loads(err.decode().strip().splitlines()[-1])
    assert len(lines) == stats["tbs_by_backend"]["baseline"] > 0
    starts = set()
    for start, size, name in lines:
        assert name.startswith("riscv64:0x") and int(size, 16) > 0
        starts.add(int(start, 16))
    assert len(starts) == len(lines)                      # (each block its own code)


def test_out_asm_prints_baseline_code():
    p = _pydbt("-backend", "baseline", "-jit-threshold", "0", "-d", "out_asm", HELLO)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    text = err.decode()
    assert "OUT: [baseline] 0x" in text and "sub rsp, " in text and "ret" in text, text[:2000]


def test_auto_without_llvmlite_runs_baseline_code():
    p = _pydbt("-jit-threshold", "1", "-stats=json", HELLO, pre="import sys; sys.modules['llvmlite'] = None; ")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and out.startswith(b"Hello"), err
    stats = json.loads(err.decode().strip().splitlines()[-1])
    assert stats["tbs_by_backend"].get("baseline", 0) > 0 and "llvm" not in stats["compile_ms"], stats
