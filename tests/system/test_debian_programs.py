"""Real Debian 13 riscv64 programs under pydbt: busybox, coreutils, gzip, lua5.4,
sqlite3 and python3.13 from the archive (debian_sysroot.py fetches and unpacks
them), run with `-L SYSROOT` on realistic input.

The oracle is the host's own x86_64 build of the same program on the same input
(qemu-riscv64 cannot exec here: no binfmt_misc), or a value computed here.  The
guest's environment is PATH=/usr/bin:/bin, resolved through -L: a command the
sysroot lacks falls through to the host's x86_64 binary, which pydbt refuses
(ENOEXEC), so it fails instead of running natively (test_host_binary_not_run).
"""
import gzip
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import debian_sysroot  # noqa: E402

HERE = Path(__file__).resolve().parent / "debian"
GUEST_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
TIMEOUT = 600
# (~5 minutes of CPU: the first CPython only; the guest programs run on every one)
pytestmark = pytest.mark.once


@pytest.fixture(scope="session")
def sysroot():
    try:
        return debian_sysroot.prepare()
    except debian_sysroot.Unavailable as e:
        pytest.skip(f"no Debian riscv64 sysroot: {e}")


def host_tool(name):
    path = shutil.which(name, path="/usr/bin:/bin")
    if path is None:
        pytest.fail(f"host {name} is missing: the oracle (tests/run.sh installs it)", pytrace=False)
    return path


def run(argv, cwd=None, stdin=None, env=None):
    """Run argv in its own session; on timeout kill the whole group (guest
    children too, which hold the pipes) and fail with what it printed."""
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env or GUEST_ENV, start_new_session=True)
    try:
        out, err = p.communicate(stdin, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"timed out after {TIMEOUT} s: {argv[-3:]}\nstdout tail: {out[-800:]!r}\n"
                    f"stderr tail: {err[-800:]!r}", pytrace=False)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)      # nothing of it outlives the test
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def guest(sysroot, prog, *args, cwd=None, stdin=None, env=None, opts=()):
    """`pydbt run [opts] -L SYSROOT SYSROOT/usr/bin/PROG args` with the guest environment."""
    argv = [sys.executable, "-m", "pydbt", "run", *opts, "-L", str(sysroot), str(sysroot / "usr/bin" / prog),
            *args]
    return run(argv, cwd, stdin, env)


def host(argv, cwd=None, stdin=None, env=None):
    return run(argv, cwd, stdin, env)


def same(g, h, what):
    assert g.stdout.decode() == h.stdout.decode(), f"{what}: stdout differs; guest stderr:\n{g.stderr.decode()}"
    assert g.stderr.decode() == h.stderr.decode(), what
    assert g.returncode == h.returncode, f"{what}: {g.stderr.decode()}"


@pytest.fixture(scope="module")
def sample_text():
    """~1,500 deterministic lines: words, numbers, repeats."""
    rng = random.Random(9)
    words = ["alpha", "beta", "gamma", "delta", "riscv", "linux", "user", "Zeta", "eta", "_x", "10", "9"]
    return "".join(f"{rng.choice(words)}{rng.randrange(1000)} {rng.randrange(-500, 500)} "
                   f"{rng.choice(words)}\n" for _ in range(1500)).encode()


# --- busybox ------------------------------------------------------------------


def test_busybox_script(sysroot, tmp_path):
    """pipelines, subshells, $( ), & + wait, kill, xargs, find -exec, awk, time:
    the guest's busybox runs its applets (sh execs /proc/self/exe or forks);
    the host's busybox gets its applets through a PATH of links to itself."""
    hostbb = host_tool("busybox")
    links = tmp_path / "hostbin"
    links.mkdir()
    for name in subprocess.run([hostbb, "--list"], capture_output=True, text=True).stdout.split():
        os.symlink(hostbb, links / name)
    (tmp_path / "g").mkdir()
    (tmp_path / "h").mkdir()
    g = guest(sysroot, "busybox", "sh", str(HERE / "pipelines.sh"), cwd=tmp_path / "g")
    h = host([hostbb, "sh", str(HERE / "pipelines.sh")], cwd=tmp_path / "h", env=dict(GUEST_ENV, PATH=str(links)))
    digits = re.compile(rb"\d")             # `time` reports times
    # ash reports the killed background job ("Terminated") only when it reaps it
    # before `wait` does: a race in the shell itself, on any machine
    killed = re.compile(rb"^Terminated\n", re.M)
    assert h.returncode == 0 and b"done" in h.stdout, h.stderr
    g.stderr, h.stderr = (digits.sub(b"N", killed.sub(b"", r.stderr)) for r in (g, h))
    same(g, h, "pipelines.sh")
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["out.1", "out.2", "out.3", "out.4", "tree"]


def test_host_binary_not_run(sysroot, tmp_path):
    """A command the sysroot lacks is looked up through the guest's PATH, falls
    through -L to the host's x86_64 file, and fails as on a riscv64 machine
    (ENOEXEC; the shell then tries it as a script): it never runs natively."""
    assert not (sysroot / "usr/bin/qemu-riscv64").exists()
    host_tool("qemu-riscv64")
    g = guest(sysroot, "busybox", "sh", "-c", "qemu-riscv64 --version; echo status $?", cwd=tmp_path)
    assert b"QEMU" not in g.stdout + g.stderr
    # ash reads a file the kernel refused (ENOEXEC) as a script: the ELF header is a syntax error
    assert g.stdout == b"status 2\n", g.stderr
    assert b"/usr/bin/qemu-riscv64: line 4: syntax error" in g.stderr
    # glibc's execvp then tries /bin/sh, which this sysroot lacks: the host's is x86_64 too
    g = guest(sysroot, "env", "qemu-riscv64", "--version", cwd=tmp_path)
    assert (g.returncode, g.stdout, g.stderr) == (126, b"", b"env: 'qemu-riscv64': Exec format error\n")
    # and one the guest lacks everywhere: the shell's 127
    g = guest(sysroot, "busybox", "sh", "-c", "no-such-program-xyz; echo status $?", cwd=tmp_path)
    assert g.stdout == b"status 127\n"
    assert g.stderr == b"sh: no-such-program-xyz: not found\n"


# --- coreutils and gzip -------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["-n", "-k2,2"], ["-u", "-r"], ["-t", " ", "-k3,3", "-k1,1"]],
                         ids=["plain", "numeric-key", "unique-reverse", "two-keys"])
def test_coreutils_sort(sysroot, tmp_path, sample_text, args):
    (tmp_path / "in.txt").write_bytes(sample_text)
    g = guest(sysroot, "sort", *args, "in.txt", cwd=tmp_path)
    h = host([host_tool("sort"), *args, "in.txt"], cwd=tmp_path)
    same(g, h, f"sort {args}")


def test_coreutils_sha256sum_and_wc(sysroot, tmp_path, sample_text):
    blob = bytes(random.Random(5).randrange(256) for _ in range(40000))
    (tmp_path / "text").write_bytes(sample_text)
    (tmp_path / "blob").write_bytes(blob)
    g = guest(sysroot, "sha256sum", "text", "blob", cwd=tmp_path)
    assert g.stdout.decode() == (f"{hashlib.sha256(sample_text).hexdigest()}  text\n"
                                 f"{hashlib.sha256(blob).hexdigest()}  blob\n"), g.stderr
    same(g, host([host_tool("sha256sum"), "text", "blob"], cwd=tmp_path), "sha256sum")
    g = guest(sysroot, "wc", "text", cwd=tmp_path)    # (words in binary data: coreutils 9.1 and 9.7 differ)
    same(g, host([host_tool("wc"), "text"], cwd=tmp_path), "wc")
    # where versions differ, the oracle is qemu-riscv64 running the same guest binary (wc never execs)
    g = guest(sysroot, "wc", "blob", cwd=tmp_path)
    same(g, host([host_tool("qemu-riscv64"), "-L", str(sysroot), str(sysroot / "usr/bin/wc"), "blob"],
                 cwd=tmp_path), "wc blob")
    g = guest(sysroot, "wc", "-l", stdin=sample_text)
    assert g.stdout == b"1500\n"


def test_gzip_round_trip(sysroot, tmp_path, sample_text):
    """gzip -c | gzip -dc gives the bytes back; the guest's .gz is a valid gzip
    stream for Python's zlib and the host's gzip, and the guest reads the host's."""
    data = sample_text * 4
    (tmp_path / "data").write_bytes(data)
    g = guest(sysroot, "gzip", "-9", "-c", "-n", "data", cwd=tmp_path)
    assert g.returncode == 0 and g.stderr == b"", g.stderr
    packed = g.stdout
    assert len(packed) < len(data) // 3
    assert gzip.decompress(packed) == data
    assert host([host_tool("gzip"), "-dc"], stdin=packed).stdout == data
    g = guest(sysroot, "gzip", "-dc", stdin=packed)
    assert g.returncode == 0 and g.stdout == data, g.stderr
    g = guest(sysroot, "gzip", "-dc", stdin=gzip.compress(data, 6))
    assert g.stdout == data, g.stderr
    g = guest(sysroot, "gzip", "-t", stdin=packed[:-9] + b"\0" * 9)   # a broken trailer
    h = host([host_tool("gzip"), "-t"], stdin=packed[:-9] + b"\0" * 9)
    assert g.returncode == h.returncode == 1 and g.stderr == h.stderr, g.stderr


# --- lua, sqlite3, python -----------------------------------------------------


def test_lua_script(sysroot, tmp_path):
    g = guest(sysroot, "lua5.4", str(HERE / "demo.lua"), cwd=tmp_path)
    same(g, host([host_tool("lua5.4"), str(HERE / "demo.lua")], cwd=tmp_path), "demo.lua")
    g = guest(sysroot, "lua5.4", "-e", "local t = {} for i = 1, 100 do t[i] = i * i end print(#t, t[100])")
    assert g.stdout == b"100\t10000\n", g.stderr


def test_sqlite3_script(sysroot, tmp_path):
    sql = (HERE / "script.sql").read_bytes()
    g = guest(sysroot, "sqlite3", ":memory:", stdin=sql, cwd=tmp_path)
    same(g, host([host_tool("sqlite3"), ":memory:"], stdin=sql, cwd=tmp_path), "script.sql")
    # a database file written by the guest, read back by the host
    g = guest(sysroot, "sqlite3", "t.db", stdin=b"create table t(x); insert into t values (1), (2), (40);",
              cwd=tmp_path)
    assert g.returncode == 0, g.stderr
    h = host([host_tool("sqlite3"), "t.db", "select sum(x) from t; pragma integrity_check;"], cwd=tmp_path)
    assert h.stdout == b"43\nok\n", h.stderr


def test_python3_stdlib_and_threads(sysroot, tmp_path):
    """json, hashlib, re, collections and two threading.Threads, plus a module
    of ours imported from the working directory: the guest compiles it and
    writes its .pyc (mkdir, write, rename), with the magic number of the
    stdlib's .pyc files.  With `-seed 1`, this run crashed a CPython 3.12.1
    host in its call path for functions with defaults, which TB functions no
    longer have (issue 8)."""
    shutil.copy(HERE / "helper.py", tmp_path)
    code = (HERE / "stdlib_thread.py").read_text()
    g = guest(sysroot, "python3.13", "-c", code, cwd=tmp_path, opts=("-seed", "1"))
    h = host([sys.executable, "-c", code], cwd=tmp_path, env=dict(GUEST_ENV, PYTHONDONTWRITEBYTECODE="1"))
    same(g, h, "stdlib_thread.py")
    pyc = tmp_path / "__pycache__" / "helper.cpython-313.pyc"
    assert pyc.exists(), list(tmp_path.iterdir())
    stdlib_pyc = sysroot / "usr/lib/python3.13/__pycache__/os.cpython-313.pyc"
    assert pyc.read_bytes()[:4] == stdlib_pyc.read_bytes()[:4]
