"""Loader and process start-up: static-PIE, auxv, -seed, -E/-U/-0, /proc/self/exe,
each compared with qemu-riscv64 given the same options."""
import os
import shutil
import subprocess
import sys

import pytest

CC = "riscv64-linux-gnu-gcc"
QEMU = "qemu-riscv64"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
