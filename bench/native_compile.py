"""What one native region costs LLVM: lines, basic blocks, parse+opt and codegen CPU time.

    python bench/native_compile.py [--before REV [--only FILE...]] [--workloads a,b]
                                   [--backends llvm,auto] [--reps 3] [--keep DIR]

Records the LLVM IR text (and level) of every module one run of each workload compiles
(`llvm_jit.compile` wrapped; `-code-cache off -sync-compile`, the bench size),
once with the working tree's pydbt and, with --before, once with a snapshot of
that commit (benchlib.snapshot, first on PYTHONPATH) - or, with --only, of HEAD
with only those files (repository paths) as at REV, to compare one module's
change while others change the rest; each recording runs in its own process.
Then, in this one process, compiles every text through llvm_jit at its level
(`parse(text, True, name, level)`, `emit_object`, `link` with made-up imports),
the two sides interleaved, --reps times, and prints per workload and backend
the median region's lines, blocks and CPU times (time.process_time), and the
overall medians per backend and level.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT = ("intloop", "sieve", "sha256", "crc32", "matmul_int", "matmul_fp", "quicksort",
           "strings", "fib", "vm")


def record(prog, size, backend, out):
    """(child) run prog under `backend`, writing [(name, text)] of every compile to out."""
    from pydbt.backends import llvm_jit
    from pydbt import cli
    texts = []
    orig = llvm_jit.compile

    def spy(text, name, imports=None, pc=None, exports=(), level="full"):
        texts.append((name, text, level, sorted(imports or ())))
        return orig(text, name, imports, pc, exports, level)

    llvm_jit.compile = spy
    with open(os.devnull, "w") as null:
        fd = os.dup(1)
        os.dup2(null.fileno(), 1)
        try:
            cli.main(["run", "-backend", backend, "-code-cache", "off", "-sync-compile", prog, str(size)])
        finally:
            os.dup2(fd, 1)
    Path(out).write_text(json.dumps(texts))


def dump(workloads, backends, pythonpath, outdir):
    """-> {(workload, backend): [(name, text)]} recorded in child processes."""
    import benchlib
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    got = {}
    for w in workloads:
        wl = benchlib.WORKLOADS[w]
        prog = benchlib.REPO / "tests" / "_build" / "bench" / f"{wl.program}.riscv64"
        if not prog.exists():
            sys.exit(f"native_compile: {prog} is missing (the test suite builds it)")
        for b in backends:
            out = Path(outdir) / f"{w}.{b}.json"
            subprocess.run([sys.executable, __file__, "--record", str(prog), str(wl.bench), b, str(out)],
                           env=env, check=True, timeout=600)
            got[w, b] = json.loads(out.read_text())
    return got


def overlay(site, rev, files):
    """put `files` (repository paths) as at rev into the snapshot `site`"""
    import tomllib
    import benchlib
    dirs = tomllib.loads((benchlib.REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for f in files:
        folder, _, rest = f.rpartition("/")
        pkg = next((p for p, d in dirs.items() if d == folder), None)
        if pkg is None:
            sys.exit(f"native_compile: {f} is not in a package folder")
        text = subprocess.run(["git", "-C", str(benchlib.REPO), "show", f"{rev}:{f}"],
                              capture_output=True, check=True).stdout
        (site / pkg.replace(".", "/") / rest).write_bytes(text)


def blocks(text):
    """basic blocks of the TB function (labels + entry), other functions left out"""
    n = 0
    for line in text.splitlines():
        if line.startswith("define") and n:
            break
        if line.endswith(":") and not line.startswith(" ") or line.startswith("define"):
            n += 1
    return n


def cost(name, text, level, imports, verify=True):
    """-> (parse+opt s, codegen s, link s, object bytes) of one module at its
    level, CPU time (linked with made-up values for its imports: never run)"""
    from pydbt.backends import llvm_jit
    s = llvm_jit._init()
    t0 = time.process_time()
    mod = llvm_jit.parse(text, verify, name, level)
    t1 = time.process_time()
    obj = s["tms"][level].emit_object(mod)
    t2 = time.process_time()
    tracker, _ = llvm_jit.link(obj, name, {sym: 0x10000 + 8 * i for i, sym in enumerate(imports)})
    t3 = time.process_time()
    del tracker
    return t1 - t0, t2 - t1, t3 - t2, len(obj)


def opt_blocks(name, text, level, imports):
    """basic blocks of the TB function after our passes"""
    from pydbt.backends import llvm_jit
    return len(list(llvm_jit.parse(text, True, name, level).get_function(name).blocks))


def measure(sides, reps):
    """sides: {label: {(w, b): [(name, text)]}} -> {label: {(w, b): [per-module row]}}"""
    rows = {lab: {k: [] for k in d} for lab, d in sides.items()}
    keys = list(next(iter(sides.values())))
    for k in keys:
        for lab, d in sides.items():
            for m in d[k]:
                rows[lab][k].append(dict(lines=m[1].count("\n"), blocks=blocks(m[1]), level=m[2],
                                         oblocks=opt_blocks(*m), parse=[], cg=[], link=[]))
        for _ in range(reps):
            for lab, d in sides.items():                      # interleaved
                for m, row in zip(d[k], rows[lab][k]):
                    p, c, ln, _ = cost(*m)
                    row["parse"].append(p)
                    row["cg"].append(c)
                    row["link"].append(ln)
    return rows


def summary(modules):
    med = statistics.median
    if not modules:
        return dict(n=0, lines=0, blocks=0, oblocks=0, parse=0.0, cg=0.0, link=0.0, total=0.0, sum=0.0)
    p = [med(m["parse"]) for m in modules]
    c = [med(m["cg"]) for m in modules]
    ln = [med(m["link"]) for m in modules]
    return dict(n=len(modules), lines=med(m["lines"] for m in modules),
                blocks=med(m["blocks"] for m in modules), oblocks=med(m["oblocks"] for m in modules),
                parse=med(p) * 1e3, cg=med(c) * 1e3, link=med(ln) * 1e3,
                total=med(a + b + x for a, b, x in zip(p, c, ln)) * 1e3, sum=sum(p + c + ln) * 1e3)


def report(rows):
    labels = list(rows)
    keys = list(rows[labels[0]])
    head = f"{'workload':<12}{'backend':<8}{'side':<8}{'n':>4}{'lines':>7}{'blocks':>7}{'opt.bb':>7}" \
           f"{'parse ms':>9}{'cg ms':>8}{'link':>7}{'total':>8}{'sum ms':>9}"
    print(head)
    for k in keys:
        for lab in labels:
            s = summary(rows[lab][k])
            print(f"{k[0]:<12}{k[1]:<8}{lab:<8}{s['n']:>4}{s['lines']:>7.0f}{s['blocks']:>7.0f}"
                  f"{s['oblocks']:>7.0f}{s['parse']:>9.2f}{s['cg']:>8.2f}{s['link']:>7.2f}{s['total']:>8.2f}"
                  f"{s['sum']:>9.1f}")
    print("\nall modules, per backend and level (medians over modules; sum: total CPU of all modules)")
    for b, level in sorted({(k[1], m["level"]) for k in keys for lab in labels for m in rows[lab][k]}):
        base = None
        for lab in labels:
            s = summary([m for k in keys if k[1] == b for m in rows[lab][k] if m["level"] == level])
            rel = "" if base is None else f"  total {100 * (s['total'] / base['total'] - 1):+.0f}%" \
                                          f", sum {100 * (s['sum'] / base['sum'] - 1):+.0f}%"
            base = base or s
            print(f"{b:<5}{level:<6}{lab:<8}{s['n']:>4} modules  lines {s['lines']:.0f}  blocks {s['blocks']:.0f}"
                  f"  opt.blocks {s['oblocks']:.0f}  parse+opt {s['parse']:.2f} ms  codegen {s['cg']:.2f} ms"
                  f"  link {s['link']:.2f} ms  total {s['total']:.2f} ms  sum {s['sum']:.0f} ms{rel}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", help="also measure this commit's emitter (a snapshot)")
    ap.add_argument("--only", nargs="+", metavar="FILE",
                    help="the before side: HEAD with only these files as at --before")
    ap.add_argument("--workloads", default=",".join(DEFAULT))
    ap.add_argument("--backends", default="llvm,auto")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", help="keep the recorded texts in this directory")
    ap.add_argument("--record", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.record:
        return record(*a.record)
    workloads = [w for w in a.workloads.split(",") if w]
    backends = [b for b in a.backends.split(",") if b]
    tmp = Path(tempfile.mkdtemp(prefix="pydbt-native-compile-"))
    try:
        sides = {}
        if a.before:
            import benchlib
            site, rev = benchlib.snapshot("HEAD" if a.only else a.before)
            try:
                if a.only:
                    rev = f"{rev}+{a.before}"
                    overlay(site, a.before, a.only)
                (tmp / "before").mkdir()
                sides[rev] = dump(workloads, backends, site, tmp / "before")
            finally:
                shutil.rmtree(site.parent, ignore_errors=True)
        (tmp / "after").mkdir()
        sides["tree"] = dump(workloads, backends, None, tmp / "after")
        if a.keep:
            shutil.copytree(tmp, a.keep, dirs_exist_ok=True)
        report(measure(sides, a.reps))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
