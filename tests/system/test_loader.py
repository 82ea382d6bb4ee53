"""Loader and process start-up: static-PIE, auxv, -seed, -E/-U/-0, /proc/self/exe,
each compared with qemu-riscv64 given the same options."""
import json
import os
import shutil
import subprocess
import sys

import pytest

CC = "riscv64-linux-gnu-gcc"
QEMU = "qemu-riscv64"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "hello")
pytestmark = pytest.mark.skipif(not shutil.which(CC) or not shutil.which(QEMU),
                                reason="needs riscv64-linux-gnu-gcc and qemu-riscv64")

AUXV_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <elf.h>
extern char **environ;
int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=[%s]\n", i, argv[i]);
    const char *names[] = {"PYDBT_T_A", "PYDBT_T_B", "PYDBT_T_GONE"};
    for (int i = 0; i < 3; i++) { const char *v = getenv(names[i]); printf("%s=%s\n", names[i], v ? v : "(unset)"); }
    printf("pagesz=%lu hwcap=%#lx phent=%lu phnum=%lu\n", getauxval(AT_PAGESZ), getauxval(AT_HWCAP),
           getauxval(AT_PHENT), getauxval(AT_PHNUM));
    printf("entry_ok=%d phdr_ok=%d\n", getauxval(AT_ENTRY) != 0,
           ((Elf64_Phdr *)getauxval(AT_PHDR))->p_type != 0);
    printf("execfn=%s\n", (char *)getauxval(AT_EXECFN));
    unsigned char *r = (unsigned char *)getauxval(AT_RANDOM);
    fprintf(stderr, "random=");
    for (int i = 0; i < 16; i++) fprintf(stderr, "%02x", r[i]);
    fprintf(stderr, "\n");
    char buf[4096]; ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("exe=%s\n", buf);
    printf("sp_aligned=%d\n", ((unsigned long)__builtin_frame_address(0) & 15) == 0);
    return 0;
}
"""


YES_C = r"""
#include <stdio.h>
int main(void) { for (;;) { puts("y"); fflush(stdout); } }
"""


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("loader")
    (d / "auxv.c").write_text(AUXV_C)
    subprocess.run([CC, "-static", "-O2", "-o", str(d / "auxv"), str(d / "auxv.c")], check=True)
    (d / "yes.c").write_text(YES_C)
    subprocess.run([CC, "-static", "-O2", "-o", str(d / "yes"), str(d / "yes.c")], check=True)
    # a static-PIE program: the freestanding example needs no relocations
    subprocess.run([CC, "-nostdlib", "-ffreestanding", "-fPIE", "-O2", "-Wl,-pie,--no-dynamic-linker", "-o",
                    str(d / "hello-pie"), os.path.join(ROOT, "examples", "hello.c")], check=True)
    return d


def pydbt(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pydbt", "run", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def qemu(*args, env=None):
    return subprocess.run([QEMU, *args], capture_output=True, text=True, timeout=120, env=env)


def test_static_pie(progs):
    exe = str(progs / "hello-pie")
    out = subprocess.run(["file", exe], capture_output=True, text=True).stdout
    assert "static-pie" in out
    p, q = pydbt(exe, "x"), qemu(exe, "x")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode)
    assert "arg: x" in p.stdout


def test_auxv_args_env_match_qemu(progs):
    exe = str(progs / "auxv")
    env = dict(os.environ, PYDBT_T_GONE="1")
    opts = ["-E", "PYDBT_T_A=hello world", "-E", "PYDBT_T_B=", "-U", "PYDBT_T_GONE", "-0", "renamed"]
    args = [exe, "--", "", "-d", "two words"]
    p, q = pydbt(*opts, *args, env=env), qemu(*opts, *args, env=env)
    assert p.returncode == q.returncode == 0, p.stderr
    assert p.stdout == q.stdout
    assert "argv[0]=[renamed]" in p.stdout and "argv[1]=[--]" in p.stdout
    assert f"exe={exe}" in p.stdout
    assert "PYDBT_T_GONE=(unset)" in p.stdout and "PYDBT_T_A=hello world" in p.stdout


def test_seed_makes_at_random_deterministic(progs):
    exe = str(progs / "auxv")
    a, b, c = pydbt("-seed", "7", exe), pydbt("-seed", "7", exe), pydbt("-seed", "8", exe)
    ra, rb, rc = (x.stderr.splitlines()[0] for x in (a, b, c))
    assert ra == rb and ra != rc
    u1, u2 = pydbt(exe), pydbt(exe)
    assert u1.stderr.splitlines()[0] != u2.stderr.splitlines()[0]


def test_verify_ir_on_a_glibc_program(progs):
    """Every block lifted while running a glibc program passes the IR verifier."""
    p = pydbt("-verify-ir", str(progs / "auxv"))
    assert p.returncode == 0, p.stderr


def test_options_that_must_not_change_results(progs):
    exe = str(progs / "auxv")
    base = pydbt("-seed", "1", exe)
    for opts in (["-one-insn-per-tb"], ["-d", "nochain"], ["-disable-pass", "all"],
                 ["-jit-threshold", "0", "-disable-pass", "all"], ["-jit-threshold", "0", "-one-insn-per-tb"],
                 ["-backend", "interp"]):
        r = pydbt("-seed", "1", *opts, exe)
        assert (r.stdout, r.stderr, r.returncode) == (base.stdout, base.stderr, base.returncode)


def test_in_asm_and_op_logging(progs, tmp_path):
    log = tmp_path / "log.txt"
    r = pydbt("-d", "in_asm,op,op_opt", "-D", str(log), str(progs / "hello-pie"))
    assert r.returncode == 0
    text = log.read_text()
    assert "IN:" in text and "OP:" in text and "OP after optimization:" in text
    assert "ecall" in text and "goto_tb" in text and "getreg_i64" in text
    assert "Hello" in r.stdout and "IN:" not in r.stderr      # -D keeps logs off stderr


def test_write_to_closed_pipe_dies_of_sigpipe(progs):
    """`pydbt run yes | head -1`: the guest dies of SIGPIPE, as under qemu and natively."""
    import signal
    codes = []
    for cmd in ([QEMU, str(progs / "yes")], [sys.executable, "-m", "pydbt", "run", str(progs / "yes")]):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert p.stdout.readline() == b"y\n"
        p.stdout.close()
        codes.append(p.wait(timeout=60))
    assert codes == [-signal.SIGPIPE, -signal.SIGPIPE]


# --- malformed ELF files, the stack, the arguments (issue 8) -----------------------
from test_elf_fuzz import (build_target, set_ehdr, get_phdr, set_phdr, phdr_index,  # noqa: E402
                           PT_LOAD, PT_GNU_STACK)

PT_NULL, PT_INTERP = 0, 3
MAPS_C = r"""
#include <stdio.h>
int main(void) { FILE *f = fopen("/proc/self/maps", "r"); char l[512];
                 while (fgets(l, sizeof l, f)) fputs(l, stdout); return 0; }
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    return build_target(tmp_path_factory.mktemp("target"))


def one_line_error(r, *patterns):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("pydbt: "), r.stderr
    for p in patterns:
        assert p in r.stderr, r.stderr


def mutant(tmp_path, src, edit, name="mutant"):
    data = bytearray(src.read_bytes())
    result = edit(data)                     # edits in place, or returns the new bytes
    if isinstance(result, (bytes, bytearray)):
        data = result
    out = tmp_path / name
    out.write_bytes(bytes(data))
    out.chmod(0o755)
    return out


def _load(d, nth=0):
    return phdr_index(d, PT_LOAD, nth)


MALFORMED = {
    "phentsize": (lambda d: set_ehdr(d, "e_phentsize", 32), "e_phentsize is 32, not 56"),
    "phnum_zero": (lambda d: set_ehdr(d, "e_phnum", 0), "e_phnum is 0"),
    "phnum_74": (lambda d: set_ehdr(d, "e_phnum", 74), "e_phnum is 74, must be 1 to 73"),
    "phoff_past_end": (lambda d: set_ehdr(d, "e_phoff", len(d) - 100), "program headers lie past the end"),
    "phoff_huge": (lambda d: set_ehdr(d, "e_phoff", (1 << 64) - 8), "program headers lie past the end"),
    "filesz_gt_memsz": (lambda d: set_phdr(d, _load(d, 1), "p_memsz", 0x10), "p_filesz 0x40 > p_memsz 0x10"),
    "offset_not_congruent": (lambda d: set_phdr(d, _load(d, 1), "p_offset", get_phdr(d, _load(d, 1), "p_offset") + 8),
                             "differ modulo the page size"),
    "offset_past_end": (lambda d: set_phdr(d, _load(d), "p_offset", 1 << 63), "lie past the end of the file"),
    "memsz_overflows": (lambda d: set_phdr(d, _load(d, 1), "p_memsz", (1 << 64) - 1), "p_memsz overflows"),
    # was a hang: one dict entry per page of a 2^40-byte segment
    "memsz_huge": (lambda d: set_phdr(d, _load(d, 1), "p_memsz", 1 << 40), "guest address space (-R)"),
    "vaddr_huge": (lambda d: set_phdr(d, _load(d), "p_vaddr", 1 << 62), "guest address space (-R)"),
    "entry_huge": (lambda d: set_ehdr(d, "e_entry", 1 << 63), "entry point 0x8000000000000000"),
    "big_endian": (lambda d: set_ehdr(d, "ei_data", 2), "big-endian ELF files are not supported"),
    "bad_ei_data": (lambda d: set_ehdr(d, "ei_data", 7), "bad EI_DATA 7"),
    "elf32": (lambda d: set_ehdr(d, "ei_class", 1), "32-bit ELF files"),
    "relocatable": (lambda d: set_ehdr(d, "e_type", 1), "not an executable (ET_REL)"),
    # a file cut in the middle of its data: it used to run with zeros instead
    "truncated": (lambda d: d[:get_phdr(d, _load(d, 1), "p_offset") + 0x20], "truncated file?"),
    "interp_unterminated": (lambda d: (set_phdr(d, 0, "p_type", PT_INTERP), set_phdr(d, 0, "p_filesz", 8)),
                            "PT_INTERP is not NUL-terminated"),
    "interp_too_long": (lambda d: (set_phdr(d, 0, "p_type", PT_INTERP), set_phdr(d, 0, "p_filesz", 5000)),
                        "PT_INTERP of 5000 bytes"),
    "no_pt_load": (lambda d: [set_phdr(d, _load(d, 0), "p_type", PT_NULL) for _ in range(2)],
                   "no loadable segments"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_elf_is_one_clean_error(target, tmp_path, case):
    edit, message = MALFORMED[case]
    exe = mutant(tmp_path, target, edit)
    r = pydbt("-R", "1g", str(exe))
    one_line_error(r, f"pydbt: {exe}: ", message)


@pytest.mark.parametrize("edit", [
    lambda d: set_ehdr(d, "e_shoff", (1 << 64) - 1),
    lambda d: (set_ehdr(d, "e_shnum", 0xffff), set_ehdr(d, "e_shstrndx", 0xfff0)),
    lambda d: set_ehdr(d, "e_version", 77),
], ids=["shoff", "shnum", "e_version"])
def test_what_the_kernel_ignores_runs(target, tmp_path, edit):
    """Section headers and e_version are never read by the kernel's ELF loader (qemu
    agrees): a program whose section headers are garbage runs."""
    exe = mutant(tmp_path, target, edit)
    p, q = pydbt(str(exe), "x"), qemu(str(exe), "x")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode) and "arg: x" in p.stdout, p.stderr


def test_write_only_segment_is_readable(target, tmp_path):
    """PF_W without PF_R: Linux (and qemu) map it readable; pydbt used to fault on the first load."""
    exe = mutant(tmp_path, target, lambda d: set_phdr(d, _load(d, 1), "p_flags", 2))
    p, q = pydbt(str(exe)), qemu(str(exe))
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode) and "table: 30" in p.stdout, p.stderr


def test_non_writable_segment_keeps_its_last_file_page(target, tmp_path):
    """The kernel's elf_load zeroes the rest of a segment's last file page only if the
    segment is writable: a text segment whose p_filesz was cut short still has all its
    code (the page comes from the file), so the program runs as before (qemu 7.2 zeroes
    the page instead and crashes: the kernel is the oracle here)."""
    exe = mutant(tmp_path, target, lambda d: set_phdr(d, _load(d), "p_filesz", 0x38))
    orig, p = pydbt(str(target)), pydbt(str(exe))
    assert (p.stdout, p.returncode) == (orig.stdout, orig.returncode) and "table: 30" in p.stdout


def test_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_line_error(pydbt(str(fifo)), "not a regular file")


@pytest.fixture(scope="module")
def maps_prog(tmp_path_factory):
    d = tmp_path_factory.mktemp("maps")
    (d / "maps.c").write_text(MAPS_C)
    subprocess.run([CC, "-static", "-O2", "-o", str(d / "maps"), str(d / "maps.c")], check=True)
    return d / "maps"


def _maps(text):
    out = {}
    for line in text.splitlines():
        rng, perms, *rest = line.split()
        lo, hi = (int(x, 16) for x in rng.split("-"))
        out.setdefault(rest[-1] if len(rest) > 3 else "", []).append((lo, hi, perms))
    return out


@pytest.mark.parametrize("size,expect", [("5000", 128 << 10), ("200k", 200 << 10), ("1g", 1 << 30),
                                         ("300001", 303104)])
def test_stack_size_is_rounded_and_placed_apart(maps_prog, size, expect):
    """-s is rounded up to pages and to at least 128 KiB (as QEMU); the stack sits
    between the program and the sigreturn page, overlapping neither."""
    r = pydbt("-s", size, str(maps_prog))
    assert r.returncode == 0, r.stderr
    m = _maps(r.stdout)
    (slo, shi, sperm), = m["[stack]"]
    (tlo, thi, tperm), = m["[sigreturn]"]
    assert shi - slo == expect
    assert shi <= tlo and "x" in tperm and sperm == "rw-p"
    prog_end = max(hi for lo, hi, _ in m[str(maps_prog)])
    assert prog_end < slo


def test_stack_size_not_page_multiple_runs_like_qemu():
    p, q = pydbt("-s", "5000", EXAMPLE, "a"), qemu("-s", "5000", EXAMPLE, "a")
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode) and p.returncode == 0, p.stderr


@pytest.mark.parametrize("opts,pattern", [(["-s", "20g"], "-s 20g: the stack does not fit in the 16g"),
                                          (["-R", "64m", "-s", "63m"], "-s 63m: the stack does not fit in the 64m")])
def test_stack_too_big_for_the_space(opts, pattern):
    r = pydbt(*opts, EXAMPLE)
    one_line_error(r, pattern, "-R")


def test_stack_that_would_overlap_the_program(tmp_path):
    """A program linked high (768 MiB) in a 1 GiB space: a 512 MiB stack would
    cover it, so pydbt refuses naming -s; the default stack fits."""
    exe = tmp_path / "high"
    subprocess.run([CC, "-nostdlib", "-ffreestanding", "-static", "-O2", "-Wl,-Ttext-segment=0x30000000",
                    "-o", str(exe), os.path.join(ROOT, "examples", "hello.c")], check=True)
    one_line_error(pydbt("-R", "1g", "-s", "512m", str(exe)), "reaches past the stack", "-s")
    r = pydbt("-R", "1g", str(exe))
    assert r.returncode == 0 and "Hello" in r.stdout, r.stderr


def test_signal_handlers_return_with_a_1g_stack(guest_binary):
    """-s 1g used to map the stack over the sigreturn page: every handler return faulted.
    320 MiB deep in the stack, six handlers return (qemu's -s has no 'g' suffix)."""
    exe = str(guest_binary("big_stack"))
    p, q = pydbt("-s", "1g", exe, "deep"), qemu("-s", "1024M", exe, "deep")
    assert q.returncode == 0 and "320 MiB deep: handled 6 signals" in q.stdout
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr


def test_argument_list_too_long():
    """The kernel's rule with RLIMIT_STACK = the stack: strings and pointers may use a
    quarter of it, at least 128 KiB.  Above the limit: one line, E2BIG's message."""
    a = "x" * 100000
    r = pydbt("-s", "128k", EXAMPLE, a, a)
    one_line_error(r, "Argument list too long", "-s")
    q = qemu("-s", "128k", EXAMPLE, a, a)
    assert q.returncode != 0 and "Argument list too long" in q.stderr
    # 1 MiB stack: 256 KiB of arguments; two 100 KB arguments run, three do not
    p, q = pydbt("-s", "1m", EXAMPLE, a, a), qemu("-s", "1M", EXAMPLE, a, a)
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode) and p.returncode == 0
    one_line_error(pydbt("-s", "1m", EXAMPLE, a, a, a), "Argument list too long")
    # the default 8 MiB stack takes what the host's execve took
    p, q = pydbt(EXAMPLE, a, a, a), qemu(EXAMPLE, a, a, a)
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode) and p.returncode == 0


def test_one_string_longer_than_max_arg_strlen():
    """A single string over 128 KiB is E2BIG too (the host's execve cannot pass one to
    pydbt, a guest's execve could): checked on the loader itself."""
    from pydbt.cli import parse_run_args
    from pydbt.errors import UserError
    from pydbt.runtime.loader import inspect, load
    from pydbt.runtime.process import Process
    opts, prog, _ = parse_run_args(["-R", "64m", EXAMPLE])
    image = inspect(prog)
    proc = Process(image.arch, opts, None)
    with pytest.raises(UserError, match="Argument list too long .one string of 131073 bytes"):
        load(proc, image, [prog, "y" * (128 << 10)], [])
    proc = Process(image.arch, opts, None)
    entry, sp = load(proc, image, [prog, "y" * ((128 << 10) - 1)], [])
    assert proc.mem.load(sp, 8) == 2                 # argc


@pytest.mark.parametrize("how", ["rwe", "rw", "absent"])
def test_pt_gnu_stack_decides_an_executable_stack(guest_binary, tmp_path, how):
    """Nested-function trampolines run on the stack: with PT_GNU_STACK RWE they work;
    marked RW, or with no PT_GNU_STACK (riscv64's default: not executable), the
    program dies of SIGSEGV, under qemu as under pydbt."""
    src = guest_binary("exec_stack")

    def edit(d):
        i = phdr_index(d, PT_GNU_STACK)
        if how == "rw":
            set_phdr(d, i, "p_flags", 6)
        elif how == "absent":
            set_phdr(d, i, "p_type", PT_NULL)
    exe = mutant(tmp_path, src, edit)
    p, q = pydbt(str(exe)), qemu(str(exe))
    assert q.returncode == (0 if how == "rwe" else -11)
    assert (p.stdout, p.returncode) == (q.stdout, q.returncode), p.stderr


def test_huge_segments_cost_no_memory(target, tmp_path):
    """A 1 GiB segment of a sparse file and a 6 GiB bss: mapped, not copied or
    touched (the kernel maps them lazily too): the run's RSS stays small."""
    from test_elf_fuzz import pydbt_run

    def edit(d):
        i = phdr_index(d, 4)                                  # PT_NOTE becomes a 1 GiB PT_LOAD
        for k, v in dict(p_type=PT_LOAD, p_flags=4, p_offset=1 << 32, p_vaddr=1 << 32,
                         p_filesz=1 << 30, p_memsz=1 << 30).items():
            set_phdr(d, i, k, v)
        set_phdr(d, _load(d, 1), "p_memsz", 6 << 30)          # and the bss grows to 6 GiB
    exe = mutant(tmp_path, target, edit)
    os.truncate(exe, (1 << 32) + (1 << 30))                   # a hole, not 5 GiB of disk
    rc, out, err, timed_out, _ = pydbt_run(exe, "x", opts=("-stats=json",))
    orig = pydbt(str(target), "x")
    assert not timed_out and (out.decode(), rc) == (orig.stdout, orig.returncode), err
    # (pydbt's own peak since exec, -stats' VmHWM: the child's ru_maxrss also
    # holds what the test's process had resident when it forked it, 300+ MiB
    # in a long-running test worker)
    rss_kb = json.loads(err.decode().strip().splitlines()[-1])["peak_rss_kb"]
    assert rss_kb < 256 << 10, f"RSS {rss_kb >> 10} MiB"


# --- dynamically linked programs: the ELF interpreter (PT_INTERP) ---------------------
SYSROOT = "/usr/riscv64-linux-gnu"
INTERP = "/lib/ld-linux-riscv64-lp64d.so.1"

DYN_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
extern char _start[];
int main(void) {
    int local;
    unsigned long base = getauxval(AT_BASE);
    Dl_info info = {0};
    printf("base=%#lx entry=%#lx start=%#lx stack=%#lx\n", base, getauxval(AT_ENTRY),
           (unsigned long)_start, (unsigned long)&local);
    dladdr((void *)(base + 0x100), &info);
    printf("dladdr=%s fbase=%#lx\n", info.dli_fname, (unsigned long)info.dli_fbase);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) fputs(line, stdout);
    return 0;
}
"""


@pytest.fixture(scope="module")
def dyn(tmp_path_factory):
    if not os.path.exists(SYSROOT + INTERP):
        pytest.skip(f"no riscv64 libc in {SYSROOT}")
    d = tmp_path_factory.mktemp("dyn")
    (d / "auxv.c").write_text(AUXV_C)
    (d / "dyn.c").write_text(DYN_C)
    for name in ("auxv", "dyn"):
        subprocess.run([CC, "-O2", "-o", str(d / name), str(d / f"{name}.c")], check=True)
    subprocess.run([CC, "-static", "-O2", "-o", str(d / "static"), str(d / "auxv.c")], check=True)
    return d


def test_dynamic_auxv_args_env_match_qemu(dyn):
    """The AT_* values a program sees (AT_ENTRY, AT_PHDR/PHENT/PHNUM, AT_EXECFN) and
    /proc/self/exe are the program's, not the interpreter's: as under qemu."""
    exe = str(dyn / "auxv")
    opts = ["-L", SYSROOT, "-E", "PYDBT_T_A=x", "-0", "renamed"]
    p, q = pydbt(*opts, exe, "a", "b c"), qemu(*opts, exe, "a", "b c")
    assert p.returncode == q.returncode == 0, p.stderr
    assert p.stdout == q.stdout
    assert "entry_ok=1 phdr_ok=1" in p.stdout and f"exe={exe}\n" in p.stdout and f"execfn={exe}\n" in p.stdout


def _maps_lines(out):
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and len(parts[1]) == 4:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            rows.append((lo, hi, parts[1], parts[5] if len(parts) > 5 else ""))
    return rows


def test_interpreter_is_mapped_top_down_below_the_stack(dyn):
    """AT_BASE: page aligned, in the mmap area (above the program, below the stack),
    where /proc/self/maps shows ld.so by its host path and dladdr finds it; the
    libraries ld.so maps come below it (top-down), and execution began there (the
    program ran).  qemu chooses another AT_BASE, so it is checked for the same
    shape: ld.so mapped at AT_BASE, AT_ENTRY == &_start."""
    for run in (pydbt, qemu):
        r = run("-L", SYSROOT, str(dyn / "dyn"))
        assert r.returncode == 0, r.stderr
        head = dict(kv.split("=") for kv in r.stdout.splitlines()[0].split())
        base, entry, start, stack = (int(head[k], 16) for k in ("base", "entry", "start", "stack"))
        assert entry == start and base and base % 4096 == 0
        assert f"dladdr={INTERP} fbase={base:#x}" in r.stdout, r.stdout
        maps = _maps_lines(r.stdout)
        at_base = [m for m in maps if m[0] == base]
        assert at_base and at_base[0][3].endswith("ld-linux-riscv64-lp64d.so.1"), r.stdout
        if run is pydbt:
            assert at_base[0][3] == os.path.realpath(SYSROOT + INTERP) or \
                at_base[0][3] == os.path.abspath(SYSROOT + INTERP)
            assert start < base < stack
            ld = [m for m in maps if m[3] == at_base[0][3]]
            assert ld[0][2] == "r-xp" and any(m[2] == "rw-p" for m in ld), ld
            libc = [m for m in maps if m[3].endswith("/libc.so.6")]
            assert libc and max(m[1] for m in libc) <= base, r.stdout


def test_ld_prefix_environment_variable(dyn):
    env = dict(os.environ, PYDBT_LD_PREFIX=SYSROOT)
    r = pydbt(str(dyn / "auxv"), env=env)
    assert r.returncode == 0 and "entry_ok=1" in r.stdout, r.stderr


def _sysroot_with_interp(tmp_path, content):
    lib = tmp_path / "sysroot" / "lib"
    lib.mkdir(parents=True)
    if isinstance(content, bytes):
        (lib / INTERP.rsplit("/", 1)[1]).write_bytes(content)
    elif content == "dir":
        (lib / INTERP.rsplit("/", 1)[1]).mkdir()
    return str(tmp_path / "sysroot")


def test_missing_interpreter_names_where_it_looked(dyn, tmp_path):
    if os.path.exists(INTERP):
        pytest.skip(f"{INTERP} exists on this host")
    root = _sysroot_with_interp(tmp_path, None)
    exe = str(dyn / "auxv")
    one_line_error(pydbt("-L", root, exe),
                   f"pydbt: {exe}: ELF interpreter {INTERP} not found (looked in {root}{INTERP} and {INTERP})",
                   f"-L {root}")
    env = {k: v for k, v in os.environ.items() if k != "PYDBT_LD_PREFIX"}
    one_line_error(pydbt(exe, env=env), f"not found (looked in {INTERP}); use -L <sysroot>")


def _ld_so_with(edit):
    data = bytearray(open(SYSROOT + INTERP, "rb").read())
    edit(data)
    return bytes(data)


@pytest.mark.parametrize("what,content,pattern", [
    ("x86_64", lambda: open(os.path.realpath(sys.executable), "rb").read(), "x86_64 programs are not supported"),
    ("text", lambda: b"#!/bin/sh\n", "not an ELF file"),
    ("directory", lambda: "dir", "Is a directory"),
    ("malformed", lambda: _ld_so_with(lambda d: set_ehdr(d, "e_phentsize", 32)), "e_phentsize is 32, not 56"),
    ("relocatable", lambda: _ld_so_with(lambda d: set_ehdr(d, "e_type", 1)), "not an executable (ET_REL)"),
])
def test_bad_interpreter_is_one_clean_error(dyn, tmp_path, what, content, pattern):
    """The interpreter goes through the program's own header checks."""
    root = _sysroot_with_interp(tmp_path, content())
    exe = str(dyn / "auxv")
    one_line_error(pydbt("-L", root, exe), f"pydbt: {exe}: ELF interpreter {INTERP}: {root}{INTERP}", pattern)


def test_et_exec_interpreter_is_refused(dyn, tmp_path):
    """A riscv64 ELF that is ET_EXEC (a static program) is no ELF interpreter."""
    root = _sysroot_with_interp(tmp_path, (dyn / "static").read_bytes())
    one_line_error(pydbt("-L", root, str(dyn / "auxv")), f"{root}{INTERP} is ET_EXEC, an ELF interpreter must be ET_DYN")
