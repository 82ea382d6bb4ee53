"""dbt/tbstore.py on its own: records written by one store are read by
another on the same file (another process), later records of a pc win,
records appended after a store opened are found at a miss, helpers are kept
by name (and a block with one that has no name is not kept), a record cut
short or failing its CRC is no record, and the interpreter's lowered code
loaded from a record computes what the block's own compile computes."""
import os
import types

import pytest

from pydbt import tbstore
from pydbt.backends import interp
from pydbt.builder import Builder
from pydbt.ir import Block
from pydbt.frontends.riscv64 import fpu


def _block(pc, size=8, helper=None):
    b = Builder(Block(pc))
    b.insn_start(pc)
    x = b.getreg(10)
    y = x + 7
    if helper is not None:
        y = b.call(helper, y)
    b.setreg(11, y)
    b.block.ninsns, b.block.size = 2, size
    b.block.pages, b.block.insns, b.block.words = [pc >> 12], [(pc, 4), (pc + 4, 4)], [0x13, 0x93]
    b.goto_tb(pc + size)
    return b.block


def _put(store, block):
    payload = tbstore.first_tier(block, [block.pc + block.size], interp.dump(interp.lower(block, False)))
    if payload is not None:
        store.put(block.pc, payload)


def _get(store, pc):
    payload = store.get(pc)
    return None if payload is None else tbstore.first_tier_record(payload)


def _ctx():
    return types.SimpleNamespace(mem=None, links=["next"], lookup=None, counter=None, pending=[])


def _run(fn):
    cpu = types.SimpleNamespace(regs=[0] * 64)
    cpu.regs[10] = 5
    return fn(cpu), cpu.regs[11]


def test_records_are_shared_through_the_file(tmp_path):
    path = str(tmp_path / "p.tbs")
    a = tbstore.TBStore(path)
    b = tbstore.TBStore(path)                        # (another process's, opened before a's writes)
    block = _block(0x1000)
    _put(a, block)
    rec = _get(b, 0x1000)                              # (a miss first: b reads what was appended)
    assert rec is not None and (rec.size, rec.ninsns, rec.targets) == (8, 2, [0x1008])
    assert (rec.pages, rec.insns, rec.words) == ([1], [(0x1000, 4), (0x1004, 4)], [0x13, 0x93])
    assert _run(interp.load(interp.undump(*rec.lowered), _ctx())) == _run(interp.compile(_block(0x1000), _ctx())) == ("next", 12)
    assert _get(b, 0x2000) is None
    _put(a, _block(0x1000, size=12))                 # (the last record of a pc wins)
    assert _get(tbstore.TBStore(path), 0x1000).size == 12
    # (found: the records there when a store opened; a program's run before made them)
    assert a.found == b.found == 0 and a.has(0x1000) is False and b.has(0x1000)
    assert tbstore.TBStore(path).found == 1                  # (pcs: two records of one)


def test_helpers_by_name_and_a_nameless_one_not_kept(tmp_path):
    path = str(tmp_path / "p.tbs")
    s = tbstore.TBStore(path)
    assert tbstore.helper_name(fpu._box) == "pydbt.frontends.riscv64.fpu:_box"
    _put(s, _block(0x1000, helper=fpu._box))
    rec = _get(tbstore.TBStore(path), 0x1000)
    assert rec.lowered[1] == [fpu._box]
    size = os.path.getsize(path)
    _put(s, _block(0x2000, helper=lambda cpu, v: v))
    assert os.path.getsize(path) == size and _get(tbstore.TBStore(path), 0x2000) is None


@pytest.mark.parametrize("damage", ["cut", "crc", "magic"])
def test_damaged_records_are_no_records(tmp_path, damage):
    path = str(tmp_path / "p.tbs")
    s = tbstore.TBStore(path)
    _put(s, _block(0x1000))
    _put(s, _block(0x2000))
    data = bytearray(open(path, "rb").read())
    if damage == "cut":
        del data[-3:]
    elif damage == "crc":
        data[-1] ^= 0xff
    else:
        data[0] ^= 0xff
    open(path, "wb").write(bytes(data))
    t = tbstore.TBStore(path)
    assert (_get(t, 0x1000) is not None) == (damage != "magic")
    assert _get(t, 0x2000) is None
    _put(t, _block(0x3000))
    assert (_get(tbstore.TBStore(path), 0x3000) is not None) == (damage != "magic" and damage != "cut")


def test_a_full_file_grows_no_more(tmp_path, monkeypatch):
    monkeypatch.setattr(tbstore, "MAX_BYTES", 64)
    path = str(tmp_path / "p.tbs")
    s = tbstore.TBStore(path)
    _put(s, _block(0x1000))
    size = os.path.getsize(path)
    s = tbstore.TBStore(path)
    _put(s, _block(0x2000))
    assert os.path.getsize(path) == size


def test_making_a_store_prunes_the_least_recently_written(tmp_path, monkeypatch):
    folder = tmp_path / "tbs"
    folder.mkdir()
    for k in range(4):                               # (old stores of 1000 bytes, oldest first)
        p = folder / f"{k}.tbs"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + k, 1000 + k))
    monkeypatch.setattr(tbstore, "MAX_DIR_BYTES", 3500)
    tbstore.TBStore(str(folder / "new.tbs"))         # (4,000 + the new one's magic > 3,500: down to 2,800)
    assert sorted(p.name for p in folder.iterdir()) == ["2.tbs", "3.tbs", "new.tbs"]
    tbstore.TBStore(str(folder / "new.tbs"))         # (an existing one prunes nothing)
    assert len(list(folder.iterdir())) == 3
