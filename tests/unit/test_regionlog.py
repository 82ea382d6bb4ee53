"""dbt/regionlog.py: a region's profile answers recorded, replayed, kept on disk.

- a replay answers the frontend as the record says, so the block is the one
  the recording run made whatever the live profile says now;
- a query the record does not hold (other code at the pc) makes the replay
  answer from the live profile from there on (diverged), and the block is
  the live profile's;
- the file: records survive a round trip, two runs' records merge, a
  corrupt file or line is no record, keys per record are kept (the newest
  MAX_KEYS), `cached` looks for a key's entry in the disk cache.
"""
import os

from pydbt import regionlog
from pydbt.backends.llvm_cache import DiskCache
from pydbt.frontends.riscv64.translate import translate
from pydbt.regionlog import RegionLog, Replay
from pydbt.stats import STATS

from test_backends import CODE, GuestMemoryWith, Ran
from test_call_copies import addi, bnez

A0, A1 = 10, 11
ECALL = 0x00000073

# a0 = 0 ; bnez a1, +8 ; a0 += 1 ; L: a0 += 2 ; ecall
WORDS = [addi(A0, 0, 0), bnez(A1, 8), addi(A0, A0, 1), addi(A0, A0, 2), ECALL]


def _insns(blk):
    return [a for a, _ in blk.insns]


def _ran(pcs):
    return Ran(lambda a: a in pcs)


def test_a_replay_makes_the_recorded_block_whatever_the_profile_says_now():
    mem = GuestMemoryWith(WORDS)
    everything = Ran(lambda a: True)
    rec = Replay(everything, None)
    first = translate(mem, CODE, 64, profile=rec)
    assert not rec.done() and not rec.diverged and rec.answers
    assert _insns(first) == [CODE + 4 * i for i in range(5)]
    # nothing ran (the live profile): a block of the first path's two instructions...
    assert _insns(translate(mem, CODE, 64, profile=_ran(set()))) == [CODE, CODE + 4]
    # ...but the record's answers make the first block again
    again = Replay(_ran(set()), rec.answers)
    blk = translate(mem, CODE, 64, profile=again)
    assert again.done() and not again.diverged
    assert _insns(blk) == _insns(first)
    assert [op.name for op in blk.ops] == [op.name for op in first.ops]
    assert again.answers == rec.answers


def test_other_code_at_the_pc_diverges_to_the_live_profile():
    mem = GuestMemoryWith(WORDS)
    rec = Replay(Ran(lambda a: True), None)
    translate(mem, CODE, 64, profile=rec)
    # the same pc, other code: straight-line, so the recorded queries are not asked
    other = GuestMemoryWith([addi(A0, 0, 0), addi(A0, A0, 1), ECALL])
    live = _ran({CODE})
    replay = Replay(live, rec.answers)
    blk = translate(other, CODE, 64, profile=replay)
    assert not replay.done() and replay.diverged
    assert _insns(blk) == _insns(translate(other, CODE, 64, profile=live))


def test_a_replay_that_asks_differently_midway_answers_live_from_there():
    replay = Replay(Ran(lambda a: False, entry=lambda a: True), [("r", 0x10, True), ("e", 0x20, False)])
    assert replay.ran(0x10) is True              # as recorded
    assert replay.entry(0x24) is True            # not recorded (0x20 was): live
    assert replay.ran(0x10) is False             # live from now on
    assert replay.diverged and not replay.done()
    assert replay.answers == [("r", 0x10, True), ("e", 0x24, True), ("r", 0x10, False)]


def test_entries_are_replayed_too():
    asked = []
    live = Ran(lambda a: True)
    live.entries = lambda pc, inside: asked.append(pc) or False
    replay = Replay(live, [("n", 0x40, True)])
    assert replay.entries(0x40, set()) is True and not asked
    assert Replay(Ran(lambda a: True), None).entries is None     # (no entries asked: none)


def _formed(log, name, pc, answers, key):
    p = Replay(Ran(lambda a: True), None)
    p.answers = list(answers)
    log.formed(name, pc, p, key)


def test_records_round_trip_and_merge(tmp_path):
    a = RegionLog(str(tmp_path), "prog")
    b = RegionLog(str(tmp_path), "prog")          # (another run of the program, at once)
    _formed(a, "llvm", 0x1000, [("r", 0x1004, True), ("e", 0x1010, False), ("n", 0x1008, True)], "k1")
    _formed(b, "llvm-quick", 0x2000, [("r", 0x2004, False)], "k2")
    c = RegionLog(str(tmp_path), "prog")
    assert c.records == {("llvm", 0x1000): (("k1",), [("r", 0x1004, True), ("e", 0x1010, False),
                                                      ("n", 0x1008, True)]),
                         ("llvm-quick", 0x2000): (("k2",), [("r", 0x2004, False)])}
    assert RegionLog(str(tmp_path), "other").records == {}
    assert not [f for f in os.listdir(tmp_path / "regions") if f.startswith(".tmp-")]


def test_a_record_keeps_the_keys_of_its_texts(tmp_path):
    log = RegionLog(str(tmp_path), "prog")
    answers = [("r", 0x1004, True)]
    for k in ("k1", "k2", "k1", "k3", "k4", "k5"):
        _formed(log, "llvm", 0x1000, answers, k)
    # (the newest MAX_KEYS; a key seen again keeps its place)
    assert RegionLog(str(tmp_path), "prog").records[("llvm", 0x1000)][0] == \
        ("k1", "k2", "k3", "k4", "k5")[-regionlog.MAX_KEYS:]
    _formed(log, "llvm", 0x1000, [("r", 0x1004, False)], "k6")     # (another shape: its key only)
    assert RegionLog(str(tmp_path), "prog").records[("llvm", 0x1000)][0] == ("k6",)


def test_a_corrupt_file_or_line_is_no_record(tmp_path):
    log = RegionLog(str(tmp_path), "prog")
    _formed(log, "llvm", 0x1000, [("r", 0x1004, True)], "k1")
    path = log.path
    with open(path, "a") as f:
        f.write("\nllvm zz k2 r1+ .\nllvm 2000 .\nllvm 3000 k3 q .\nllvm 4000 k4 r4004+")
    assert set(RegionLog(str(tmp_path), "prog").records) == {("llvm", 0x1000)}
    with open(path, "wb") as f:
        f.write(os.urandom(300))
    assert RegionLog(str(tmp_path), "prog").records == {}
    with open(path, "w") as f:
        f.write("pydbt-regions 0\nllvm 1000 k1 r1004+ .")            # (another format)
    assert RegionLog(str(tmp_path), "prog").records == {}
    fresh = RegionLog(str(tmp_path), "prog")
    _formed(fresh, "llvm", 0x2000, [("e", 0x2004, True)], "k2")       # (written anew in this one)
    assert RegionLog(str(tmp_path), "prog").records == {("llvm", 0x2000): (("k2",), [("e", 0x2004, True)])}


def test_replay_counts_and_hits(tmp_path):
    STATS.reset()
    log = RegionLog(str(tmp_path), "prog")
    mem = GuestMemoryWith(WORDS)
    rec = log.replay("llvm", CODE, Ran(lambda a: True))
    translate(mem, CODE, 64, profile=rec)
    log.formed("llvm", CODE, rec, "k1")
    assert "regions_replayed" not in STATS.extra
    again = RegionLog(str(tmp_path), "prog")
    for key in ("k1", "k2"):                      # (k2: another text, -stats' counting, say)
        p = again.replay("llvm", CODE, _ran(set()))
        translate(mem, CODE, 64, profile=p)
        again.formed("llvm", CODE, p, key)
    assert STATS.extra["regions_replayed"] == 2 and STATS.extra["regions_replay_hits"] == 1
    assert RegionLog(str(tmp_path), "prog").records[("llvm", CODE)][0] == ("k1", "k2")


def test_cached_looks_for_an_entry_of_a_key(tmp_path):
    disk = DiskCache(str(tmp_path / "native"))
    log = RegionLog(disk.root, "prog")
    _formed(log, "llvm", 0x1000, [], "ab" * 20)
    assert not log.cached(disk, "llvm", 0x1000) and not log.cached(disk, "llvm", 0x2000)
    disk.put("ab" * 20, b"object")
    log2 = RegionLog(disk.root, "prog")
    assert log2.cached(disk, "llvm", 0x1000) and not log2.cached(disk, "llvm-quick", 0x1000)


def test_the_program_key_follows_the_executables_bytes(tmp_path):
    exe = tmp_path / "prog"
    exe.write_bytes(b"\x7fELF one")
    k1 = regionlog.program_key(str(exe), None, "riscv64")
    assert k1 == regionlog.program_key(str(exe), None, "riscv64")
    assert k1 != regionlog.program_key(str(exe), "/sysroot", "riscv64")
    exe.write_bytes(b"\x7fELF two")
    assert k1 != regionlog.program_key(str(exe), None, "riscv64")
    assert regionlog.program_key(str(tmp_path / "missing"), None, "riscv64") is None
    assert RegionLog.open(None, str(exe), None, "riscv64") is None       # (no code cache: no log)


# --- the engine: a warm run's hot block goes straight to its cached tier ---------------

def _engine(tmp_path, warmup, sync):
    """An engine of every tier running test_promotion's loop, with an executable
    (the program's key) and a code cache under tmp_path."""
    import pytest
    pytest.importorskip("llvmlite")
    from test_promotion import LOOP, Queue, engine_rig
    proc, engine = engine_rig(LOOP, thresholds=(1, 5, 1), native_warmup=warmup, sync=sync,
                              backends=("interp", "pybytecode", "llvm-quick", "llvm"))
    exe = tmp_path / "prog"
    if not exe.exists():
        exe.write_bytes(b"\x7fELF the program")
    proc.exe_path = str(exe)
    if not sync:
        engine.compiler = Queue()
    return proc, engine


def test_a_warm_block_skips_the_warm_up_and_goes_to_the_cached_tier(tmp_path):
    from pydbt.backends import llvm_cache
    from test_promotion import run
    llvm_cache.configure(str(tmp_path / "cache"))
    try:
        proc, engine = _engine(tmp_path, 0.0, True)          # the first run: every tier in turn
        run(proc, engine, 100_000)
        assert engine.tiers[engine.cache.get(0x10000).tier].name == "llvm"
        assert "regions_warm" not in STATS.extra
        # the next run: a warm-up no native compile gets past, but the loop's
        # record names an object on disk: loaded at the first promotion
        # (from the interpreter, in the guest's thread), at the optimized tier
        proc, engine = _engine(tmp_path, 1000.0, False)
        run(proc, engine, 10)
        assert not engine.compiler.jobs
        assert engine.tiers[engine.cache.get(0x10000).tier].name == "llvm"
        assert STATS.extra["regions_warm"] == 1
        assert STATS.extra["regions_replayed"] == STATS.extra["regions_replay_hits"] == 1
        assert STATS.extra.get("native_compiles", 0) == 0
        run(proc, engine, 1000)
        # without the code cache: no records, the warm-up holds it on the bytecode JIT
        llvm_cache.configure("off")
        proc, engine = _engine(tmp_path, 1000.0, False)
        run(proc, engine, 1000)
        assert engine.tiers[engine.cache.get(0x10000).tier].name == "pybytecode"
        assert not engine.compiler.jobs and "regions_warm" not in STATS.extra
    finally:
        llvm_cache.configure(None)


def test_a_line_cut_short_is_no_record_and_spoils_no_other(tmp_path):
    log = RegionLog(str(tmp_path), "prog")
    _formed(log, "llvm", 0x1000, [("r", 0x1004, True)], "k1")
    with open(log.path, "a") as f:
        f.write("\nllvm 3000 k3 r3004+,e30")             # (a run killed while appending)
    later = RegionLog(str(tmp_path), "prog")
    assert set(later.records) == {("llvm", 0x1000)}
    _formed(later, "llvm", 0x4000, [("r", 0x4004, False)], "k4")
    assert set(RegionLog(str(tmp_path), "prog").records) == {("llvm", 0x1000), ("llvm", 0x4000)}


def test_a_file_of_lines_made_again_is_written_anew(tmp_path):
    log = RegionLog(str(tmp_path), "prog")
    for i in range(200):                                 # (one region, made again and again)
        _formed(log, "llvm", 0x1000, [("r", 0x1004, i % 2 == 0)], f"k{i}")
    assert open(log.path).read().count("\n") == 200
    again = RegionLog(str(tmp_path), "prog")
    assert again.records[("llvm", 0x1000)] == (("k199",), [("r", 0x1004, False)])
    _formed(again, "llvm", 0x2000, [], "k")
    assert open(log.path).read().count("\n") == 2        # (the header, then a line a record)
    assert set(RegionLog(str(tmp_path), "prog").records) == {("llvm", 0x1000), ("llvm", 0x2000)}
