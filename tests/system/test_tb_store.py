"""The TB store (dbt/tbstore.py): the first tier's lowered code kept in the
code cache, per program, across processes and runs.  A second run of a
program loads its blocks instead of lifting them, with qemu's output; so does
a forked child meeting code a sibling lifted before it; records whose
instructions are not there any more (another build with the same layout)
cost misses, never a wrong result; a corrupt or cut-short file is no (or
fewer) records; the guest cannot close the store's descriptor; -code-cache
off keeps no store."""
import json
import os
import shutil

import pytest

import guestprogs
from pydbt import tbstore

TIMEOUT = 300
OPTS = ("-stats=json",)


def _stats(r):
    """Every process's -stats (a forked child prints its own first), the
    run's own last."""
    lines = [ln for ln in r.stderr.decode(errors="replace").splitlines() if ln.startswith("{")]
    assert lines, r.describe()
    return [json.loads(ln) for ln in lines]


def _oracle(binary, tmp_path, args=()):
    r = guestprogs.run(guestprogs.qemu_argv(binary, args), env=dict(os.environ), cwd=tmp_path, timeout=60)
    assert r.stdout and not r.timed_out, r.describe()
    return r


def _run(binary, cache, tmp_path, oracle, args=(), extra=()):
    argv = guestprogs.pydbt_argv(binary, args, OPTS + tuple(extra))
    r = guestprogs.run(argv, env=dict(os.environ, PYDBT_CODE_CACHE=str(cache)), cwd=tmp_path, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (oracle.returncode, oracle.stdout), r.describe()
    return _stats(r)


def _stores(cache):
    d = cache / "tbs"
    return sorted(d.glob("*.tbs")) if d.is_dir() else []


def _native(path):
    """Does the store at path hold native code (not a first tier's)?"""
    store = tbstore.TBStore(str(path))
    payload = store.get(store.pcs()[0])
    store.close()
    return isinstance(payload[7], tuple)          # (kept code; a first tier's: helper names)


@pytest.mark.parametrize("backend", ["auto", "interp"])
def test_a_second_run_loads_its_blocks(guest_binary, tmp_path, backend):
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    cache = tmp_path / "cache"
    [first] = _run(binary, cache, tmp_path, oracle, extra=("-backend", backend))
    assert first["tb_store_misses"] > 100 and "tb_store_hits" not in first
    stores = _stores(cache)                  # (auto: the baseline's regions' too)
    assert len(stores) == (2 if backend == "auto" else 1)
    [second] = _run(binary, cache, tmp_path, oracle, extra=("-backend", backend))
    assert second.get("tb_store_misses", 0) <= 0.05 * first["tb_store_misses"]
    assert "tb_store_stale" not in second
    if backend == "auto":
        # (where a region of the baseline starts, it is loaded at once: that
        # code was hot in the run before; no first-tier TB is made there)
        assert second["native_store_hits"] >= 3
        assert second["tb_store_hits"] < 0.95 * first["tb_store_misses"]
        assert second["tbs_by_backend"]["interp"] < first["tbs_by_backend"]["interp"]
        assert second["tbs_translated"] < first["tbs_translated"]
    else:
        assert second["tb_store_hits"] >= 0.95 * first["tb_store_misses"]
        assert second["tbs_translated"] == first["tbs_translated"]
    # a corrupt file is no records; one cut short keeps the records before the cut
    for store in stores:
        with open(store, "r+b") as f:
            f.truncate(store.stat().st_size - 7)
    [cut] = _run(binary, cache, tmp_path, oracle, extra=("-backend", backend))
    assert cut["tb_store_hits"] > 0                 # (the records before the cut)
    assert cut.get("tb_store_misses", 0) + cut.get("native_store_misses", 0) > 0   # (the last one's gone)
    for store in stores:
        store.write_bytes(os.urandom(store.stat().st_size))
    [noise] = _run(binary, cache, tmp_path, oracle, extra=("-backend", backend))
    assert "tb_store_hits" not in noise and "native_store_hits" not in noise


@pytest.mark.parametrize("backend", ["auto", "baseline"])
def test_a_second_run_loads_its_baseline_code(guest_binary, tmp_path, backend):
    """The baseline's regions are kept too (their run's numbers relocated):
    a second run loads each instead of forming and emitting it."""
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    cache = tmp_path / "cache"
    opts = ("-backend", backend, "-opt-threshold", "0" if backend == "baseline" else "100000000")
    [first] = _run(binary, cache, tmp_path, oracle, extra=opts)
    assert first["native_store_misses"] > 3 and "native_store_hits" not in first
    [second] = _run(binary, cache, tmp_path, oracle, extra=opts)
    assert second["native_store_hits"] >= 0.9 * first["native_store_misses"], second
    assert second.get("native_store_misses", 0) <= 0.1 * first["native_store_misses"], second
    assert "native_store_stale" not in second and "native_store_unfit" not in second
    # (regions loaded where they start, at first sight: one region's other
    # entries may then stand where the run before made a region of its own)
    assert 0.8 * first["native_tbs"] <= second["native_tbs"] <= first["native_tbs"]


def test_another_setting_has_a_store_of_its_own(guest_binary, tmp_path):
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    cache = tmp_path / "cache"
    _run(binary, cache, tmp_path, oracle, extra=("-backend", "interp"))
    [again] = _run(binary, cache, tmp_path, oracle, extra=("-backend", "interp", "-one-insn-per-tb"))
    assert "tb_store_hits" not in again and len(_stores(cache)) == 2


def test_no_store_without_a_code_cache_or_with_logs(guest_binary, tmp_path):
    binary = guest_binary("qsort")
    oracle = _oracle(binary, tmp_path)
    for _ in range(2):
        [s] = _run(binary, "off", tmp_path, oracle)
        assert not any(k.startswith("tb_store") for k in s)
    cache = tmp_path / "cache"
    _run(binary, cache, tmp_path, oracle)
    log = tmp_path / "log"
    argv = guestprogs.pydbt_argv(binary, (), OPTS + ("-d", "in_asm", "-D", str(log)))
    r = guestprogs.run(argv, env=dict(os.environ, PYDBT_CODE_CACHE=str(cache)), cwd=tmp_path, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (oracle.returncode, oracle.stdout), r.describe()
    [logged] = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
    assert "IN:" in log.read_text() and not any(k.startswith("tb_store") for k in logged)


def test_stale_records_cost_misses_not_results(tmp_path):
    """Another build's records at the same pcs (the other build's store
    copied under this one's name): the blocks whose code differs miss (stale),
    the rest load, and the output is this build's."""
    donor, binary = guestprogs.same_layout_pair(tmp_path)
    cache, other = tmp_path / "cache", tmp_path / "other"
    for opts, args in ((("-backend", "interp"), ["2000"]), (("-backend", "baseline", "-opt-threshold", "0"), [])):
        oracle = _oracle(binary, tmp_path, args)
        assert oracle.stdout != _oracle(donor, tmp_path, args).stdout
        before = {p.name for p in _stores(cache)}
        _run(donor, cache, tmp_path, _oracle(donor, tmp_path, args), args, extra=opts)
        before_own = {p.name for p in _stores(other)}
        _run(binary, other, tmp_path, oracle, args, extra=opts)          # (its own stores' names)
        donated = sorted((p for p in _stores(cache) if p.name not in before), key=_native)
        own = sorted((p for p in _stores(other) if p.name not in before_own), key=_native)
        assert len(donated) == len(own) >= 1
        for d, o in zip(donated, own):                  # (the other build's records as its own)
            shutil.copy(d, cache / "tbs" / o.name)
        [stale] = _run(binary, cache, tmp_path, oracle, args, extra=opts)
        kind = "native_store" if "baseline" in opts else "tb_store"
        assert stale[kind + "_stale"] > 0 and stale[kind + "_hits"] > 0, stale


# the guest closes every descriptor it may have (as a shell's child does),
# then runs code no process ran before, in children forked one after another:
# the first lifts it (and stores it); the parent, forking again, makes TBs of
# the whole store before its second fork (Engine.before_fork), which the later
# children inherit: they lift nothing
CLOSE_FORK_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

__attribute__((noinline)) static unsigned long work(unsigned long x)
{
    for (int i = 0; i < 40; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        if (x & 1)
            x ^= x >> 17;
        else
            x += x << 3;
    }
    return x;
}

int main(void)
{
    for (int fd = 3; fd < 4096; fd++)
        close(fd);
    for (int k = 0; k < 3; k++) {
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            printf("child %d %lu\n", k, work((unsigned long)k));
            return 0;
        }
        int st;
        waitpid(p, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
    }
    printf("parent done\n");
    return 0;
}
"""


def test_forked_children_inherit_the_store_and_the_guest_cannot_close_it(tmp_path):
    binary = guestprogs.build_c(tmp_path, "closefork", CLOSE_FORK_SRC)
    oracle = _oracle(binary, tmp_path)
    stats = _run(binary, tmp_path / "cache", tmp_path, oracle, extra=("-backend", "interp"))
    children, parent = stats[:-1], stats[-1]      # (each process counts its own, from its fork)
    assert len(children) == 3
    assert children[0]["tb_store_misses"] > 100                  # (work(), printf's paths, exit)
    assert parent["tb_store_prefetched"] >= 0.9 * children[0]["tb_store_misses"]
    assert [c["tbs_translated"] for c in children[1:]] == [0, 0]


def test_forked_children_inherit_the_parents_prefetched_regions(tmp_path):
    """The prefetch makes the baseline's regions too (before the first tier's
    blocks): a child after it runs the hot loop its sibling made native,
    without making or loading anything.  (With no cold runs: with them a child
    makes a TB where it runs a block twice that its sibling ran once, cold,
    and kept no code for.)"""
    src = CLOSE_FORK_SRC.replace("work((unsigned long)k)", "hot((unsigned long)k)").replace(
        "int main(void)", "static unsigned long hot(unsigned long x)\n{\n"
        "    for (int j = 0; j < 300; j++)\n        x = work(x + (unsigned long)j);\n    return x;\n}\n\n"
        "int main(void)")
    binary = guestprogs.build_c(tmp_path, "hotfork", src)
    oracle = _oracle(binary, tmp_path)
    stats = _run(binary, tmp_path / "cache", tmp_path, oracle,
                 extra=("-backend", "baseline", "-jit-threshold", "5", "-no-cold-runs"))
    children, parent = stats[:-1], stats[-1]
    assert len(children) == 3
    assert children[0]["native_store_misses"] >= 1 and children[0]["native_tbs"] >= 1
    assert parent["tb_store_prefetched"] >= children[0]["native_store_misses"] + children[0]["tb_store_misses"] // 2
    for c in children[1:]:
        assert c["tbs_translated"] == 0 and c.get("native_tbs", 0) == 0, c
        assert c["native_guest_insns"] > 0.5 * c["guest_insns"], c     # (the inherited regions ran)


def test_the_elf_interpreters_and_libcs_blocks_are_shared_by_every_dynamic_program(guest_binary, tmp_path):
    """ld.so is the same file at the same place in every dynamic program (of
    the default stack layout), and so is libc (runtime/sys_mm.py: a library
    at its slot): their blocks are kept in stores of their own, so a program
    never run before loads the ones another program's run made.  (With no
    cold runs: with them the first program keeps only the blocks it ran twice,
    test_a_second_run_loads_its_blocks.)"""
    cache = tmp_path / "cache"
    stats = {}
    for name in ("hello_dyn", "malloc_dyn"):
        binary = guest_binary(name)
        oracle = guestprogs.run(guestprogs.qemu_argv(binary, (), ("-L", guestprogs.CROSS_SYSROOT)),
                                env=dict(os.environ), cwd=tmp_path, timeout=60)
        [stats[name]] = _run(binary, cache, tmp_path, oracle,
                             extra=("-L", guestprogs.CROSS_SYSROOT, "-no-cold-runs"))
    first, second = stats["hello_dyn"], stats["malloc_dyn"]
    assert "tb_store_hits" not in first and first["tb_store_misses"] > 300
    assert second["tb_store_hits"] > 300, second        # (ld.so's and libc's: it has not run before)
    assert second["tb_store_misses"] > 10              # (its own code, and libc's the first did not run)
    # (ld.so's alone: 1,266 hits and 1,156 misses; with libc's, 1,703 and 718)
    assert second["tb_store_hits"] > 2 * second["tb_store_misses"], second
    assert "tb_store_stale" not in second


# a program that executes itself again (/proc/self/exe, as busybox's sh does
# for each stage of a pipeline), then runs code the first image ran
REEXEC_SRC = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) static unsigned long work(unsigned long x)
{
    for (int i = 0; i < 200; i++)
        x = (x ^ (x >> 7)) * 0x9e3779b97f4a7c15UL + (unsigned long)i;
    return x;
}

int main(int argc, char **argv)
{
    unsigned long w = work((unsigned long)argc);
    printf("image %d %lu\n", argc, w);
    fflush(stdout);
    if (argc == 1) {
        execl("/proc/self/exe", argv[0], "again", (char *)0);
        perror("execl");
        return 1;
    }
    return 0;
}
"""


@pytest.mark.parametrize("backend", ["interp", "auto"])
def test_an_execve_of_the_program_running_keeps_its_blocks(tmp_path, backend):
    """The second image is the same file at the same addresses: its blocks
    stay (tbs_kept_over_exec) and compute what the first image's would (the
    output of the two images run apart, under qemu)."""
    binary = guestprogs.build_c(tmp_path, "reexec", REEXEC_SRC)
    first = _oracle(binary, tmp_path, ["again"]).stdout      # (qemu runs each image alone:
    alone = guestprogs.run(guestprogs.qemu_argv(binary, ()), env=dict(os.environ), cwd=tmp_path, timeout=60)
    expected = alone.stdout.split(b"\n")[0] + b"\n" + first  # it cannot execve a riscv64 file itself)
    argv = guestprogs.pydbt_argv(binary, (), OPTS + ("-backend", backend))
    r = guestprogs.run(argv, env=dict(os.environ, PYDBT_CODE_CACHE="off"), cwd=tmp_path, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (0, expected), r.describe()
    [stats] = _stats(r)
    assert stats["tbs_kept_over_exec"] > 100
