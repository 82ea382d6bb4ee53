"""Process benchmarks, side by side: pydbt, qemu-riscv64 and the native build.

Workloads:
  spawn-exec   ROUNDS x (fork + execve of a small static program + wait):
               bench/workloads/spawn.c.  qemu-riscv64 cannot run it: it hands
               execve to the host kernel, which runs a riscv64 program only
               through binfmt_misc (absent here: ENOEXEC), so its row is
               pydbt against native.
  spawn-fork   the same without execve (fork + _exit + wait): qemu can.
  busybox-50   Debian's riscv64 busybox-static (tests/system/debian_sysroot.py)
               running a shell script of 50 pipelines (echo | tr | sort | uniq
               | wc, with $( ) each); qemu runs it too (busybox runs those
               applets in the forked child, without exec); native is the
               host's x86_64 busybox with a PATH of links to its applets.
  python3-json, lua-demo, sqlite3-script
               real programs of the same sysroot, mostly start-up (code run
               a few times each): Debian's python3.13 importing json, lua5.4
               on tests/system/debian/demo.lua, sqlite3 on its script.sql;
               qemu runs them too; no native row (the host's builds differ).
Every runner's output must match native's (qemu's where native has none).  Wall time is the median of
--repeat runs of the whole process (start-up included).  pydbt runs twice
over: `pydbt` with an empty code cache each run (cold: every block lifted,
every native region compiled), `pydbt-warm` with one a first unmeasured run
filled (the TB store's blocks and the native code of the runs before:
dbt/tbstore.py, backends/llvm_cache.py).  --snapshot REV runs that commit's
pydbt (default: the working tree).

    python bench/procs.py                       # ~6 minutes (busybox-50 under pydbt: ~3)
    python bench/procs.py --rounds 50 --repeat 3 --json out.json
`bench/test_procs.py` checks every case once at a tiny size (outputs agree).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "system"))
import benchlib  # noqa: E402
import debian_sysroot  # noqa: E402

SPAWN = benchlib.Workload("spawn", 10, 100, "fork + execve + wait round trips")
PIPELINES = 50


def busybox_script(n=PIPELINES):
    """n pipelines, each with a command substitution and four stages."""
    return ("i=0\nwhile [ $i -lt %d ]; do\n  i=$((i + 1))\n"
            "  n=$(echo \"pear apple fig $i apple kiwi $i\" | tr ' ' '\\n' | sort | uniq | wc -l)\n"
            "  echo \"$i $n\"\ndone | tail -3\n") % n


DEBIAN = Path(__file__).resolve().parents[1] / "tests" / "system" / "debian"
# (name, program in the sysroot's /usr/bin, arguments, stdin file or None)
REAL = [
    ("python3-json", "python3.13", ["-c", "import json; print(json.dumps({'a': [1, 2], 'b': None}))"], None),
    ("lua-demo", "lua5.4", ["{debian}/demo.lua"], None),
    ("sqlite3-script", "sqlite3", [":memory:"], DEBIAN / "script.sql"),
]


class Case:
    def __init__(self, name, argvs, envs=None, stdin=None):
        self.name = name
        self.argvs = argvs          # runner -> argv, or None: the runner cannot run it
        self.envs = envs or {}      # runner -> the whole environment (default: ours)
        self.stdin = stdin          # a file the program reads as its stdin, or None


def cases(rounds, workdir, pipelines=PIPELINES):
    """The three cases; each maps runner -> argv (None: the runner cannot run it, with why)."""
    rv = str(benchlib.build(SPAWN, "riscv64"))
    native = str(benchlib.build(SPAWN, "native"))
    pydbt = [sys.executable, "-m", "pydbt", "run"]
    out = [
        Case("spawn-exec", {"pydbt": pydbt + [rv, str(rounds)], "qemu": None, "native": [native, str(rounds)]}),
        Case("spawn-fork", {"pydbt": pydbt + [rv, str(rounds), "fork"],
                            "qemu": [benchlib.QEMU, rv, str(rounds), "fork"],
                            "native": [native, str(rounds), "fork"]}),
    ]
    try:
        root = debian_sysroot.prepare()
    except debian_sysroot.Unavailable as e:
        print(f"procs: busybox-50 not run: {e}", file=sys.stderr)
        return out
    script = Path(workdir) / "pipelines.sh"
    script.write_text(busybox_script(pipelines))
    hostbb = shutil.which("busybox")
    links = Path(workdir) / "hostbin"
    argvs = {"pydbt": pydbt + ["-L", str(root), str(root / "usr/bin/busybox"), "sh", str(script)],
             "qemu": [benchlib.QEMU, "-L", str(root), str(root / "usr/bin/busybox"), "sh", str(script)],
             "native": None}
    if hostbb:
        links.mkdir(exist_ok=True)
        for name in subprocess.run([hostbb, "--list"], capture_output=True, text=True).stdout.split():
            if not (links / name).exists():
                os.symlink(hostbb, links / name)
        argvs["native"] = [hostbb, "sh", str(script)]
    guest_env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}       # resolved through -L
    out.append(Case("busybox-50", argvs, {"pydbt": guest_env, "qemu": guest_env,
                                          "native": {"PATH": str(links), "LC_ALL": "C"}}))
    # real programs, mostly start-up: code run a few times each (no native row:
    # the host's builds are other versions, or other programs)
    for name, prog, args, stdin in REAL:
        guest = [str(root / "usr/bin" / prog)] + [a.replace("{debian}", str(DEBIAN)) for a in args]
        out.append(Case(name, {"pydbt": pydbt + ["-L", str(root)] + guest,
                               "qemu": [benchlib.QEMU, "-L", str(root)] + guest, "native": None},
                        {"pydbt": guest_env, "qemu": guest_env}, stdin=stdin))
    return out


def run_once(case, runner, timeout, extra=None):
    env = case.envs.get(runner)
    saved = os.environ.copy()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.environ.update(extra or {})
        return benchlib.run_argv(case.argvs[runner], timeout, stdin=case.stdin)
    finally:
        os.environ.clear()
        os.environ.update(saved)


RUNNERS = ("pydbt", "pydbt-warm", "qemu", "native")


def measure(rounds=20, repeat=1, timeout=1800, runners=RUNNERS, pipelines=PIPELINES, pythonpath=None):
    """{case: {runner: {"wall_s": median, "walls": [...], "ok": bool, "why": str}}}"""
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for case in cases(rounds, work, pipelines):
            expected = None
            res = results[case.name] = {}
            warm = tempfile.mkdtemp(dir=work)
            for runner in runners:
                argv = case.argvs.get(runner.split("-")[0])
                if argv is None:
                    res[runner] = {"ok": False, "why": "cannot run it (exec needs binfmt_misc)"
                                   if runner == "qemu" else "not available"}
                    continue
                walls, why = [], ""
                for k in range(repeat + (runner == "pydbt-warm")):
                    extra = None
                    if runner.startswith("pydbt"):
                        extra = {"PYDBT_CODE_CACHE": warm if runner == "pydbt-warm" else tempfile.mkdtemp(dir=work)}
                        if pythonpath:
                            extra["PYTHONPATH"] = pythonpath
                    rc, out, err, wall, _cpu, timed_out = run_once(case, runner.split("-")[0], timeout, extra)
                    if runner == "pydbt-warm" and k == 0 and not timed_out and rc == 0:
                        continue                                 # (the run that fills the cache)
                    if timed_out or rc != 0:
                        why = f"exit {rc}" + (" (timed out)" if timed_out else "") + ": " + \
                            err.decode(errors="replace").strip()[-200:]
                        break
                    if expected is None:
                        expected = out
                    elif out != expected:
                        why = f"output differs: {out[-200:]!r} vs {expected[-200:]!r}"
                        break
                    walls.append(wall)
                res[runner] = {"ok": not why, "why": why, "walls": walls,
                               "wall_s": statistics.median(walls) if walls and not why else None,
                               "output": (expected or b"").decode(errors="replace").strip()}
    return results


def table(results):
    lines = ["| case | pydbt s (cold) | pydbt s (warm) | qemu s | native s | cold / qemu | warm / qemu "
             "| warm / native |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, res in results.items():
        w = {r: (v.get("wall_s") if v.get("ok") else None) for r, v in res.items()}
        cell = lambda r: f"{w[r]:.3f}" if w.get(r) else "-"                      # noqa: E731
        ratio = lambda a, b: f"{w[a] / w[b]:.1f}x" if w.get(a) and w.get(b) else "-"  # noqa: E731
        lines.append(f"| {name} | {cell('pydbt')} | {cell('pydbt-warm')} | {cell('qemu')} | {cell('native')} | "
                     f"{ratio('pydbt', 'qemu')} | {ratio('pydbt-warm', 'qemu')} | {ratio('pydbt-warm', 'native')} |")
    notes = [f"- {name} under {r}: {v['why']}" for name, res in results.items() for r, v in res.items()
             if not v.get("ok")]
    return "\n".join(lines + notes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="fork(+exec) round trips per spawn run")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--snapshot", default="none", help="run this commit's pydbt (default none: the working tree)")
    ap.add_argument("--pipelines", type=int, default=PIPELINES, help="busybox's pipelines (default 50)")
    a = ap.parse_args(argv)
    reason = benchlib.missing_tools(native=True)
    if reason:
        print(f"procs: {reason}", file=sys.stderr)
        return 1
    t0 = time.time()
    site = None
    if a.snapshot != "none":
        site, rev = benchlib.snapshot(a.snapshot)
        print(f"measuring pydbt {rev} from {site}", file=sys.stderr)
    try:
        results = measure(a.rounds, a.repeat, a.timeout, pipelines=a.pipelines,
                          pythonpath=str(site) if site else None)
    finally:
        if site:
            shutil.rmtree(site.parent, ignore_errors=True)
    print(table(results))
    print(f"(rounds {a.rounds}, {a.pipelines} pipelines, median of {a.repeat}; {time.time() - t0:.0f} s in all)")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": benchlib.machine_info(), "rounds": a.rounds,
                                            "results": results}, indent=1))
    bad = [1 for res in results.values() for r, v in res.items() if not v["ok"] and v.get("walls") is not None]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
