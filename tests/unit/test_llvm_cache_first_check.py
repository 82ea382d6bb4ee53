"""The disk cache's first size check in a process (llvm_cache.DiskCache.put):
from one subdirectory, the whole directory only when that sample says it is
near its cap (a full look at a big cache stalled the run's first native
compile)."""
import os

from pydbt.backends import llvm_cache


def fill(root, n, size, subdirs=256):
    """n entries of `size` bytes spread over the subdirectories, as keys are."""
    for i in range(n):
        d = os.path.join(root, f"{i % subdirs:02x}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i:040x}.o"), "wb") as f:
            f.write(bytes(size))


def counting_scandir(monkeypatch):
    seen = []
    real = os.scandir

    def scandir(path):
        seen.append(os.fspath(path))
        return real(path)
    monkeypatch.setattr(llvm_cache.os, "scandir", scandir)
    return seen


def test_a_cache_far_under_its_cap_is_not_walked(tmp_path, monkeypatch):
    fill(tmp_path, 2048, 100)                       # ~200 KB of a 1 MB cap
    c = llvm_cache.DiskCache(tmp_path, max_bytes=1 << 20)
    seen = counting_scandir(monkeypatch)
    k = llvm_cache.make_key("env", "first")
    assert c.put(k, bytes(100))
    assert seen == [os.path.dirname(c.path(k))]     # its own subdirectory only
    assert c.get(k) == bytes(100)


def test_a_cache_near_its_cap_is_walked_and_pruned(tmp_path, monkeypatch):
    fill(tmp_path, 2048, 500)                       # ~1 MB: over a 0.9 MB cap
    c = llvm_cache.DiskCache(tmp_path, max_bytes=900_000)
    seen = counting_scandir(monkeypatch)
    before = llvm_cache.STATS.extra.get("native_cache_pruned", 0)
    k = llvm_cache.make_key("env", "first")
    assert c.put(k, bytes(500))
    assert str(tmp_path) in seen and len(seen) > 256               # every subdirectory
    total = sum(e[1] for e in c.entries())
    assert total <= 900_000 * llvm_cache.PRUNE_TO
    assert llvm_cache.STATS.extra["native_cache_pruned"] > before


def test_later_checks_look_at_everything(tmp_path, monkeypatch):
    c = llvm_cache.DiskCache(tmp_path, max_bytes=64 * 1000)
    c.put(llvm_cache.make_key("env", "0"), bytes(10))      # (the first check)
    seen = counting_scandir(monkeypatch)
    c.put(llvm_cache.make_key("env", "1"), bytes(1000))    # past max_bytes / 64 written
    assert str(tmp_path) in seen
