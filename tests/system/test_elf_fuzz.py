"""A deterministic ELF fuzzer: mutants of a small static riscv64 program, each run
under pydbt and under qemu-riscv64.

The target is tests/guest/elf_fuzz_target.c (freestanding: text, rodata, data,
bss; ~2.7 KB).  Fixed seeds make a few hundred mutants: ELF header fields,
program header fields (interesting values: 0, page boundaries, the file size,
2^32, 2^63, 2^64-1, the guest space's end, small shifts of the original),
truncations, byte flips in the headers, and combinations.  Every mutant must
end in pydbt within the time bound, with a bounded RSS, and either

  * refused: exit status 1, exactly one stderr line "pydbt: PATH: ...", or
  * run: then, where qemu-riscv64 ran it cleanly too (no qemu error, no
    timeout), the same stdout and exit status (a signal included).

A mutant qemu runs but pydbt refuses must be refused for a reason the loader
documents as a kernel rule qemu does not check (see ALLOWED_STRICTER); any
other is a failure to look at.  The helpers that patch ELF fields are shared
with test_loader.py.
"""
import hashlib
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CC = "riscv64-linux-gnu-gcc"
QEMU = "qemu-riscv64"
ROOT = Path(__file__).resolve().parents[2]
TARGET_SRC = ROOT / "tests" / "guest" / "elf_fuzz_target.c"
SPACE = 8 << 30                        # -R: explicit, the default depends on 'ulimit -v'
PYDBT = [sys.executable, "-m", "pydbt", "run", "-backend", "interp", "-R", "8g"]
TIMEOUT = 10.0
MAX_RSS_KB = 512 << 10
SEEDS = (1, 2, 3)
PER_SEED = 100

pytestmark = [pytest.mark.skipif(not shutil.which(CC) or not shutil.which(QEMU),
                                 reason="needs riscv64-linux-gnu-gcc and qemu-riscv64"),
              pytest.mark.once]          # (the loader's checks: the same on every CPython)

# --- ELF field access (ELF64 little-endian) -----------------------------------
EHDR_FIELDS = {           # name: (offset, struct format)
    "ei_class": (4, "B"), "ei_data": (5, "B"), "ei_version": (6, "B"), "ei_osabi": (7, "B"),
    "e_type": (16, "H"), "e_machine": (18, "H"), "e_version": (20, "I"), "e_entry": (24, "Q"),
    "e_phoff": (32, "Q"), "e_shoff": (40, "Q"), "e_flags": (48, "I"), "e_ehsize": (52, "H"),
    "e_phentsize": (54, "H"), "e_phnum": (56, "H"), "e_shentsize": (58, "H"), "e_shnum": (60, "H"),
    "e_shstrndx": (62, "H"),
}
PHDR_FIELDS = {
    "p_type": (0, "I"), "p_flags": (4, "I"), "p_offset": (8, "Q"), "p_vaddr": (16, "Q"),
    "p_paddr": (24, "Q"), "p_filesz": (32, "Q"), "p_memsz": (40, "Q"), "p_align": (48, "Q"),
}
PT_LOAD, PT_GNU_STACK = 1, 0x6474e551
_MASK = {"B": 0xff, "H": 0xffff, "I": 0xffffffff, "Q": (1 << 64) - 1}


def get_ehdr(data, name):
    off, fmt = EHDR_FIELDS[name]
    return struct.unpack_from("<" + fmt, data, off)[0]


def set_ehdr(data, name, value):
    off, fmt = EHDR_FIELDS[name]
    struct.pack_into("<" + fmt, data, off, value & _MASK[fmt])


def phdr_offset(data, i, name):
    off, fmt = PHDR_FIELDS[name]
    return get_ehdr(data, "e_phoff") + i * 56 + off, fmt


def get_phdr(data, i, name):
    off, fmt = phdr_offset(data, i, name)
    return struct.unpack_from("<" + fmt, data, off)[0]


def set_phdr(data, i, name, value):
    off, fmt = phdr_offset(data, i, name)
    struct.pack_into("<" + fmt, data, off, value & _MASK[fmt])


def phdr_index(data, p_type, nth=0):
    """Index of the nth program header of type p_type."""
    found = [i for i in range(get_ehdr(data, "e_phnum")) if get_phdr(data, i, "p_type") == p_type]
    return found[nth]


def build_target(out_dir):
    out = Path(out_dir) / "elf_fuzz_target"
    subprocess.run([CC, "-nostdlib", "-static", "-ffreestanding", "-O2", "-o", str(out), str(TARGET_SRC)],
                   check=True)
    return out


# --- running --------------------------------------------------------------------
def _limit_pydbt():
    # a safety net, not the check: room for the guest space's reservation plus 4 GiB
    resource.setrlimit(resource.RLIMIT_AS, (SPACE + (4 << 30),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_bounded(argv, preexec, timeout=TIMEOUT):
    """(returncode, stdout, stderr, timed_out, max RSS in KiB) of one run in its own session."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True, preexec_fn=preexec)
        deadline, timed_out = time.monotonic() + timeout, False
        while True:                       # reap it ourselves: wait4 gives its own rusage
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline and not timed_out:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), timed_out, usage.ru_maxrss


def pydbt_run(path, *args, opts=()):
    return run_bounded([*PYDBT, *opts, str(path), *args], _limit_pydbt)


def qemu_run(path, *args, opts=()):
    return run_bounded([QEMU, *opts, str(path), *args], _no_core)


def refused(result, path):
    """pydbt refused the file: exit 1, one line 'pydbt: PATH: ...' (None if it did not)."""
    rc, out, err, timed_out, _ = result
    lines = err.decode(errors="replace").splitlines()
    if rc == 1 and len(lines) == 1 and lines[0].startswith(f"pydbt: {path}: ") and not out:
        return lines[0]
    return None


def qemu_clean(result):
    """qemu ran the guest: no timeout and no error of qemu's own (its signal line is
    fine).  qemu 7.2 refuses some files with exit status 1 (255 for E2BIG) and
    nothing on stderr, before the guest could print anything."""
    rc, out, err, timed_out, _ = result
    if timed_out:
        return False
    lines = err.decode(errors="replace").splitlines()
    own = [ln for ln in lines if ln.startswith(("qemu-riscv64:", "qemu:")) and "uncaught target signal" not in ln]
    return not own and not (rc in (1, 255) and not out)


EF_RISCV_RVE = 0x8


def qemu_is_not_the_kernel(data):
    """Why qemu-riscv64 7.2 runs this file differently from Linux (riscv64, 6.7+), or None:
    pydbt follows the kernel there, so the two are not compared."""
    try:
        if get_ehdr(data, "e_flags") & EF_RISCV_RVE:
            return "RVE flag: qemu runs it as RV64E (16 registers), Linux ignores e_flags"
        for i in range(min(get_ehdr(data, "e_phnum"), 73)):
            if get_phdr(data, i, "p_type") != PT_LOAD:
                continue
            flags = get_phdr(data, i, "p_flags")
            if flags & 1 and not flags & 4:
                return "exec-only segment: Linux/riscv faults on loads from it, qemu does not"
            if not flags & 2 and get_phdr(data, i, "p_memsz") > get_phdr(data, i, "p_filesz"):
                return ("non-writable segment with bss: Linux leaves its last file page as it is "
                        "(padzero fails silently), qemu zeroes and remaps it")
    except struct.error:
        pass
    return None


# --- mutants --------------------------------------------------------------------
def interesting(rng, orig, file_size):
    return rng.choice([0, 1, 2, 0x10, 0x38, 0x40, 0xfff, 0x1000, 0x1001, 0x10000, 0x11000,
                       file_size, file_size - 1, file_size + 1, 1 << 31, 1 << 32, (1 << 32) - 1,
                       SPACE - 0x1000, SPACE, 1 << 40, 1 << 62, 1 << 63, (1 << 64) - 1, (1 << 64) - 0x1000,
                       orig + 1, orig - 1, orig + 0x1000, orig - 0x1000, orig * 2, orig ^ (1 << rng.randrange(64)),
                       rng.getrandbits(64), rng.getrandbits(16)])


def mutate(rng, base):
    data = bytearray(base)
    kinds = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.choice(("ehdr", "phdr", "phdr", "phdr", "truncate", "flip"))
        kinds.append(kind)
        try:
            if kind == "ehdr":
                name = rng.choice(list(EHDR_FIELDS))
                set_ehdr(data, name, interesting(rng, get_ehdr(data, name), len(base)))
            elif kind == "phdr":
                i = rng.randrange(max(min(get_ehdr(data, "e_phnum"), 8), 1))
                name = rng.choice(list(PHDR_FIELDS))
                set_phdr(data, i, name, interesting(rng, get_phdr(data, i, name), len(base)))
            elif kind == "truncate":
                data = data[:rng.randrange(len(data))]
            else:
                for _ in range(rng.randrange(1, 5)):
                    at = rng.randrange(min(len(data), 64 + 5 * 56))
                    data[at] ^= 1 << rng.randrange(8)
        except (struct.error, ValueError):    # a field outside what an earlier step left
            pass
    return bytes(data), "+".join(kinds)


def mutants(base):
    seen = {hashlib.sha256(base).digest()}
    for seed in SEEDS:
        rng = random.Random(seed)
        for n in range(PER_SEED):
            data, kind = mutate(rng, base)
            h = hashlib.sha256(data).digest()
            if h not in seen:
                seen.add(h)
                yield f"s{seed}-{n}-{kind}", data


# Reasons pydbt may refuse a mutant that qemu runs: rules of the kernel's
# binfmt_elf that qemu-riscv64 7.2 does not check, and pydbt's own documented
# limits (the -R guest space; a segment's file bytes must be in the file).
ALLOWED_STRICTER = ("p_filesz", "differ modulo the page size", "past the end of the file",
                    "e_phnum is", "guest address space (-R)", "reaches past the stack",
                    "big-endian", "bad EI_DATA", "PT_INTERP")


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    return build_target(tmp_path_factory.mktemp("elf_fuzz"))


def test_target_runs_like_qemu(target):
    p, q = pydbt_run(target, "x"), qemu_run(target, "x")
    assert not p[3] and (p[0], p[1]) == (q[0], q[1]) and b"bss nonzero words: 0" in p[1]


def test_elf_mutants(target, tmp_path):
    base = target.read_bytes()
    cases = list(mutants(base))
    assert len(cases) > 250

    def one(case):
        name, data = case
        path = tmp_path / name
        path.write_bytes(data)
        path.chmod(0o755)
        return name, path, pydbt_run(path, "a"), qemu_run(path, "a")

    start = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, cases))
    problems, stats = [], {"refused": 0, "ran, same as qemu": 0, "ran, qemu refused": 0,
                       "ran, qemu is not the kernel": 0}
    for name, path, p, q in results:
        rc, out, err, timed_out, rss = p
        text = err.decode(errors="replace")
        if timed_out:
            problems.append(f"{name}: pydbt timed out ({TIMEOUT}s)")
            continue
        if rss > MAX_RSS_KB:
            problems.append(f"{name}: pydbt reached {rss >> 10} MiB RSS")
        if "Traceback" in text or rc < 0 and "uncaught target signal" not in text:
            problems.append(f"{name}: pydbt crashed (status {rc}), stderr:\n{text[-1500:]}")
            continue
        why = refused(p, path)
        if why is not None:
            stats["refused"] += 1
            if qemu_clean(q) and not any(r in why for r in ALLOWED_STRICTER):
                problems.append(f"{name}: qemu ran it (status {q[0]}), pydbt refused: {why}")
            continue
        if rc == 1 and text.startswith("pydbt: ") and "uncaught" not in text:
            problems.append(f"{name}: a pydbt error that is not one clean line:\n{text[-1500:]}")
            continue
        if not qemu_clean(q):
            stats["ran, qemu refused"] += 1
            continue
        if qemu_is_not_the_kernel(path.read_bytes()):
            stats["ran, qemu is not the kernel"] += 1
            continue
        stats["ran, same as qemu"] += 1
        if (rc, out) != (q[0], q[1]):
            problems.append(f"{name}: pydbt status {rc} stdout {out[:200]!r}\n"
                            f"   qemu status {q[0]} stdout {q[1][:200]!r}\n   pydbt stderr {text[-500:]}")
    elapsed = time.monotonic() - start
    maxrss = max(r[2][4] for r in results)
    print(f"{len(cases)} mutants in {elapsed:.1f}s: {stats}; pydbt's max RSS {maxrss >> 10} MiB")
    assert not problems, f"{len(problems)} of {len(cases)} mutants:\n" + "\n".join(problems[:30])
    assert stats["refused"] > 20 and stats["ran, same as qemu"] > 20      # the fuzzer reaches both
