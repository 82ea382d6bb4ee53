"""Bad input to pydbt itself: one clear line on stderr, non-zero exit, no traceback."""
import os
import subprocess
import sys

import pytest

from pydbt.cli import parse_run_args
from pydbt.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "hello")


def pydbt(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pydbt", *args], capture_output=True, text=True,
                          timeout=60, **kw)


def one_line_error(r, pattern):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) >= 1 and lines[0].startswith("pydbt: "), r.stderr
    assert pattern in lines[0], r.stderr


def test_missing_file(tmp_path):
    one_line_error(pydbt("run", str(tmp_path / "nope")), "No such file or directory")


def test_not_an_elf(tmp_path):
    p = tmp_path / "script.sh"
    p.write_text("#!/bin/sh\necho hi\n")
    one_line_error(pydbt("run", str(p)), "not an ELF file")


def test_directory(tmp_path):
    one_line_error(pydbt("run", str(tmp_path)), "Is a directory")


def test_other_isa():
    one_line_error(pydbt("run", sys.executable if not os.path.islink(sys.executable) else os.path.realpath(sys.executable)),
                   "x86_64 programs are not supported")


def test_truncated_elf(tmp_path):
    p = tmp_path / "trunc"
    p.write_bytes(open(EXAMPLE, "rb").read()[:80])
    r = pydbt("run", str(p))
    assert r.returncode != 0 and "Traceback" not in r.stderr and r.stderr.startswith("pydbt: ")


def test_dynamic_program_is_refused(tmp_path):
    cc = "riscv64-linux-gnu-gcc"
    if subprocess.run(["which", cc], capture_output=True).returncode:
        pytest.skip("no riscv64 cross compiler")
    src = tmp_path / "d.c"
    src.write_text("int main(void){return 0;}\n")
    subprocess.run([cc, "-o", str(tmp_path / "d"), str(src)], check=True)
    one_line_error(pydbt("run", str(tmp_path / "d")), "dynamically linked")


@pytest.mark.parametrize("args,msg", [
    (["-bogus", EXAMPLE], "unknown option '-bogus'"),
    (["-d", "nonsense", EXAMPLE], "unknown -d item 'nonsense'"),
    (["-s", "lots", EXAMPLE], "option -s: bad value 'lots'"),
    (["-seed"], "option -seed needs an argument"),
    (["-backend", "turbo", EXAMPLE], "unknown backend 'turbo'"),
    (["-E", "NOEQUALS", EXAMPLE], "-E: expected VAR=VALUE"),
    (["-cpu", "pentium", EXAMPLE], "unknown CPU model"),
    ([], "no program given"),
])
def test_bad_options(args, msg):
    one_line_error(pydbt("run", *args), msg)


def test_unknown_command():
    one_line_error(pydbt("frobnicate"), "unknown command")


def test_guest_args_reach_guest_unchanged():
    opts, prog, args = parse_run_args(["-strace", "--seed", "5", "prog", "--", "-d", "", "x"])
    assert opts.strace and opts.seed == 5
    assert prog == "prog" and args == ["--", "-d", "", "x"]


def test_environment_twins():
    opts, prog, _ = parse_run_args(["p"], {"PYDBT_RAND_SEED": "9", "PYDBT_STRACE": "1",
                                           "PYDBT_LOG": "in_asm,op", "PYDBT_SET_ENV": "A=1,B=2"})
    assert opts.seed == 9 and opts.strace and opts.log_items == ["in_asm", "op"]
    assert opts.set_env == ["A=1", "B=2"]
    opts, _, _ = parse_run_args(["-seed", "3", "p"], {"PYDBT_RAND_SEED": "9"})
    assert opts.seed == 3                       # the flag overrides its twin
    with pytest.raises(UserError):
        parse_run_args(["p"], {"PYDBT_STACK_SIZE": "zero"})


def test_stats_json():
    import json
    r = pydbt("run", "-stats=json", "-D", os.devnull, EXAMPLE)
    assert r.returncode == 0
    r = pydbt("run", "--stats=json", EXAMPLE)
    assert r.returncode == 0
    d = json.loads(r.stderr.strip().splitlines()[-1])
    assert d["guest_insns"] > 1000 and d["tbs_translated"] > 5 and d["syscalls"] >= 5


def test_example_runs():
    r = pydbt("run", EXAMPLE, "one", "--", "")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == ["Hello from riscv64, translated by pydbt!", "arg: one", "arg: --", "arg: "]
    assert "97" in r.stdout
