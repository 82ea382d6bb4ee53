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


def test_dynamic_program_needs_its_interpreter(tmp_path):
    """Without -L the riscv64 ld.so is not on this host: one line naming the
    interpreter, where it looked and -L; with -L the program runs."""
    cc, sysroot = "riscv64-linux-gnu-gcc", "/usr/riscv64-linux-gnu"
    interp = "/lib/ld-linux-riscv64-lp64d.so.1"
    if subprocess.run(["which", cc], capture_output=True).returncode or not os.path.exists(sysroot + interp):
        pytest.skip("no riscv64 cross compiler and libc")
    if os.path.exists(interp):
        pytest.skip(f"{interp} exists on this host")
    src = tmp_path / "d.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("dynamic");return 7;}\n')
    subprocess.run([cc, "-o", str(tmp_path / "d"), str(src)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYDBT_LD_PREFIX"}
    r = pydbt("run", str(tmp_path / "d"), env=env)
    one_line_error(r, f"{tmp_path / 'd'}: ELF interpreter {interp} not found (looked in {interp}); use -L")
    assert r.returncode == 1 and r.stdout == ""
    r = pydbt("run", "-L", sysroot, str(tmp_path / "d"), env=env)
    assert (r.returncode, r.stdout, r.stderr) == (7, "dynamic\n", "")


# Every option with bad values: one `pydbt:` line on stderr, exit status 1.
@pytest.mark.parametrize("args,msg", [
    (["-bogus", EXAMPLE], "unknown option '-bogus'"),
    (["-g"], "option -g needs an argument"),
    (["-L", "/nonexistent/sysroot", EXAMPLE], "-L /nonexistent/sysroot: no such directory"),
    (["-E", "NOEQUALS", EXAMPLE], "-E: expected VAR=VALUE"),
    (["-E", "=x", EXAMPLE], "-E: expected VAR=VALUE"),
    (["-0"], "option -0 needs an argument"),
    (["-R", "lots", EXAMPLE], "option -R: bad value 'lots'"),
    (["-R", "0", EXAMPLE], "option -R: bad value '0'"),
    (["-R", "-4g", EXAMPLE], "option -R: bad value '-4g'"),
    (["-R", "15m", EXAMPLE], "must be 16m to 256g"),
    (["-R", "257g", EXAMPLE], "must be 16m to 256g"),
    (["-R", "32768g", EXAMPLE], "must be 16m to 256g"),
    (["-R", "128t", EXAMPLE], "must be 16m to 256g"),
    (["-cpu", "pentium", EXAMPLE], "unknown CPU model"),
    (["-d", "nonsense", EXAMPLE], "unknown -d item 'nonsense'"),
    (["-dfilter", "zz", EXAMPLE], "-dfilter: bad range 'zz'"),
    (["-dfilter", "0x20-0x10", EXAMPLE], "-dfilter: empty or reversed range '0x20-0x10'"),
    (["-dfilter", "0x20+0", EXAMPLE], "-dfilter: empty or reversed range '0x20+0'"),
    (["-dfilter", "1+2+3", EXAMPLE], "-dfilter: bad range '1+2+3'"),
    (["-D", "/nonexistent/dir/log", EXAMPLE], "-D /nonexistent/dir/log: No such file or directory"),
    (["-strace=1", EXAMPLE], "option -strace takes no argument"),
    (["-one-insn-per-tb=yes", EXAMPLE], "option -one-insn-per-tb takes no argument"),
    (["-seed"], "option -seed needs an argument"),
    (["-seed", "x", EXAMPLE], "option -seed: bad value 'x'"),
    (["-seed", "-1", EXAMPLE], "option -seed: bad value '-1': must be 0 or more"),
    (["-s", "lots", EXAMPLE], "option -s: bad value 'lots'"),
    (["-s", "0", EXAMPLE], "option -s: bad value '0'"),
    (["-s", "-8m", EXAMPLE], "option -s: bad value '-8m'"),
    (["-backend", "turbo", EXAMPLE], "unknown backend 'turbo'"),
    (["-jit-threshold", "-1", EXAMPLE], "option -jit-threshold: bad value '-1': must be 0 or more"),
    (["-jit-threshold", "often", EXAMPLE], "option -jit-threshold: bad value 'often'"),
    (["-disable-pass", "speed", EXAMPLE], "unknown pass 'speed'"),
    (["-stats=xml", EXAMPLE], "option -stats: bad value 'xml'"),
    (["-verify-ir=1", EXAMPLE], "option -verify-ir takes no argument"),
    ([], "no program given"),
])
def test_bad_options(args, msg):
    r = pydbt("run", *args)
    one_line_error(r, msg)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("env,msg", [
    ({"PYDBT_RESERVED_VA": "1x"}, "option -R: bad value '1x'"),
    ({"PYDBT_STACK_SIZE": "none"}, "option -s: bad value 'none'"),
    ({"PYDBT_JIT_THRESHOLD": "-3"}, "option -jit-threshold: bad value '-3'"),
    ({"PYDBT_LOG": "everything"}, "unknown -d item 'everything'"),
    ({"PYDBT_DFILTER": "0x9-0x1"}, "-dfilter: empty or reversed range"),
    ({"PYDBT_BACKEND": "fast"}, "unknown backend 'fast'"),
])
def test_bad_environment_twins(env, msg):
    r = pydbt("run", EXAMPLE, env={**os.environ, **env})
    one_line_error(r, msg)
    assert r.returncode == 1


def test_program_without_the_run_word():
    """QEMU's shape, `pydbt [options] prog`, is `pydbt run [options] prog`."""
    r = pydbt("-seed", "1", EXAMPLE, "x")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "arg: x", r.stderr
    r = pydbt("-d", "help")
    assert r.returncode == 0 and "in_asm" in r.stdout
    one_line_error(pydbt("frobnicate"), "frobnicate: No such file or directory")


def test_bare_pydbt_is_a_usage_error():
    r = pydbt()
    assert r.returncode == 1 and r.stdout == "" and r.stderr.startswith("usage: pydbt")


def test_guest_space_adapts_to_ulimit_v():
    """Under `ulimit -v` the default 16 GiB reservation shrinks to fit; an explicit
    -R that cannot be reserved is one line that says what to do."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4_000_000 << 10, resource.RLIM_INFINITY))
    r = pydbt("run", "-d", "page", EXAMPLE, preexec_fn=limit)
    assert r.returncode == 0 and "primes below 100" in r.stdout, r.stderr
    r = pydbt("run", "-R", "16g", EXAMPLE, preexec_fn=limit)
    one_line_error(r, "cannot reserve 16 GiB of host memory for the guest address space")
    assert "-R" in r.stderr and r.returncode == 1


def test_internal_error_is_one_line_and_status_70(tmp_path):
    """The safety net: an unexpected exception inside pydbt (here: forced through a
    sitecustomize that breaks the loader) is reported, never a traceback, exit 70."""
    (tmp_path / "sitecustomize.py").write_text(
        "import pydbt.runtime.loader as l\n"
        "def boom(*a, **k):\n    raise RuntimeError('forced failure')\n"
        "l.load = boom\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    r = pydbt("run", EXAMPLE, env=env)
    assert r.returncode == 70 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("pydbt: internal error: RuntimeError: forced failure"), r.stderr
    r = pydbt("run", EXAMPLE, env={**env, "PYDBT_TRACEBACK": "1"})
    assert r.returncode == 70 and "Traceback" in r.stderr


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
