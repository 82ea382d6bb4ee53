"""atomicfile.replace: the file whole or not at all (the code cache's objects,
the region records): written through a temporary file renamed over it."""
import os

import pytest

from pydbt import atomicfile


def test_it_writes_bytes_and_text_and_makes_the_directory(tmp_path):
    p = tmp_path / "a" / "b" / "f"
    atomicfile.replace(str(p), b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomicfile.replace(str(p), "text\n")
    assert p.read_text() == "text\n"
    assert os.listdir(p.parent) == ["f"]                 # (no temporary file left)


def test_a_failed_write_raises_and_leaves_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "f"
    p.write_text("old")

    def full(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        atomicfile.replace(str(p), "new")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["f"]
