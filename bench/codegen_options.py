"""LLVM code generation configurations compared: compile CPU per region and the code's steady-state speed.

    python bench/codegen_options.py compile TEXTS CONFIG... [--reps 3] [--level full] [--time-passes]
    python bench/codegen_options.py icompile TEXTS CONFIG... [--reps 3] [--level full]
    python bench/codegen_options.py asm TEXTS CONFIG... [--level full]
    python bench/codegen_options.py steady CONFIG... [--workloads a,b] [--reps 3] [--backend llvm]
                                          [--scale matmul_fp=8,...]

A CONFIG is NAME=ITEM;ITEM;... with items (all optional, "base" alone is
llvm_jit as it is):
    O0..O3              the level's codegen -O (default: llvm_jit.LEVELS')
    passes=a,b,...      the level's function passes (llvm_jit's add_<a>_pass names)
    model=CM,RELOC      the level's code and relocation models (llvm_jit.MODELS)
    -opt[=value]        an LLVM option set once for the process (replaces
                        llvm_jit.LLVM_OPTIONS unless an item is "+keep")
    +keep               keep llvm_jit.LLVM_OPTIONS and add the options
    clear               no LLVM options (none of llvm_jit.LLVM_OPTIONS)
    full:On, quick:On   that level's codegen -O (steady runs)
    full:-opt=v, quick:-opt=v   an LLVM option set before each compile at that
                        level (the other level must set it back: e.g.
                        "full:-regalloc=basic;quick:-regalloc=default"; but
                        -regalloc is read once per process, at its first
                        codegen: use it as a process option, with quick:O1)
The level the items O/passes apply to is --level (full).

compile: TEXTS is native_compile.py's --keep directory (its after/*.json);
every module of level --level is compiled (parse + our passes, emit_object,
link with made-up imports) in one child process per config and repetition,
the configs interleaved; prints per config the median module's CPU times, the
sum over modules and the object bytes, and with --time-passes LLVM's pass
timing report of the last repetition of each config.

icompile: the same in one child process, each module compiled under every
config in turn (LLVM options toggled per config: the configs' options must
say how to set them back, see option_resets; a target machine and passes of
each config's own): the host's load varies far less between the configs
than between processes (identical configs within 1-2%).  Not for -regalloc
(read once per process).

asm: per workload (the llvm backend's recordings), how many modules' host
assembly differs from the first config's, and their instruction count: an
option that changes no code cannot change its speed, whatever the steady
runs' noise.  Not for -regalloc either.

steady: per workload, CPU time (user+sys, /usr/bin/time) of `pydbt run
-backend B` at the sizes qemu_1s/4 and qemu_1s in work (PYDBT_CODE_CACHE=off;
--scale multiplies both: matmul_fp's steady part at qemu_1s is ~0.1 s),
the configs interleaved, --reps times; the steady-state time is the
difference of the two sizes' CPU; prints each config's median difference
relative to the first config.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import native_compile  # noqa: E402  (its cost(): one module compiled and linked)

STEADY = ("intloop", "sieve", "sha256", "crc32", "matmul_int", "matmul_fp", "quicksort",
          "strings", "fib", "vm")


def parse_config(spec):
    name, _, items = spec.partition("=")
    cfg = dict(name=name, opt=None, passes=None, options=[], keep=False, clear=False, per_level={}, model=None, verify=True, resets={}, level_opt={})
    for item in filter(None, (i.strip() for i in items.split(";"))):
        if item == "base":
            continue
        if item == "clear":
            cfg["clear"] = True
        elif item == "+keep":
            cfg["keep"] = True
        elif item[0] == "O" and item[1:].isdigit():
            cfg["opt"] = int(item[1:])
        elif item == "noverify":
            cfg["verify"] = False
        elif item.startswith("reset:"):
            cfg["resets"][item[6:].partition("=")[0]] = item[6:]
        elif item.startswith("model="):
            cfg["model"] = tuple(item[6:].split(","))
        elif item.startswith("passes="):
            cfg["passes"] = tuple(p for p in item[7:].split(",") if p)
        elif item.startswith(("full:O", "quick:O")) and item.partition(":O")[2].isdigit():
            level, _, n = item.partition(":O")
            cfg["level_opt"][level] = int(n)
        elif item.startswith(("full:", "quick:")):
            level, _, opt = item.partition(":")
            cfg["per_level"].setdefault(level, []).append(opt)
        elif item.startswith("-"):
            cfg["options"].append(item)
        else:
            sys.exit(f"codegen_options: unknown item {item!r} in {spec!r}")
    return cfg


def apply_config(cfg, level):
    """(child) set llvm_jit up as cfg says, before its first use"""
    from pydbt.backends import llvm_jit
    if cfg["options"] or cfg["clear"]:
        llvm_jit.LLVM_OPTIONS = (tuple(llvm_jit.LLVM_OPTIONS) if cfg["keep"] else ()) + tuple(cfg["options"])
    opt, passes = llvm_jit.LEVELS[level]
    llvm_jit.LEVELS = dict(llvm_jit.LEVELS)
    llvm_jit.LEVELS[level] = (opt if cfg["opt"] is None else cfg["opt"],
                              passes if cfg["passes"] is None else cfg["passes"])
    for lv, n in cfg.get("level_opt", {}).items():
        llvm_jit.LEVELS[lv] = (n, llvm_jit.LEVELS[lv][1])
    if cfg["model"]:
        llvm_jit.MODELS = dict(llvm_jit.MODELS, **{level: cfg["model"]})
    if cfg["per_level"]:
        orig = llvm_jit.compile_object
        current = [None]

        def compile_object(text, name, level="full"):
            with llvm_jit._lock:
                s = llvm_jit._init()
                if current[0] != level:
                    for o in cfg["per_level"].get(level, ()):
                        s["llvm"].set_option("", o)
                    current[0] = level
                return orig(text, name, level)
        llvm_jit.compile_object = compile_object
    return llvm_jit


# ---------------------------------------------------------------------------
# compile cost


def child_compile(cfg, texts, level, time_passes, out):
    llvm_jit = apply_config(cfg, level)
    s = llvm_jit._init()
    mods = []
    for f in sorted(Path(texts).glob("after/*.json")):
        mods += [m for m in json.loads(f.read_text()) if m[2] == level]
    for o in cfg["per_level"].get(level, ()):
        s["llvm"].set_option("", o)
    if time_passes:
        s["llvm"].set_time_passes(True)
    rows = []
    for name, text, lv, imports in mods:
        rows.append(native_compile.cost(name, text, lv, imports, cfg["verify"]))
    report = s["llvm"].report_and_reset_timings() if time_passes else ""
    Path(out).write_text(json.dumps(dict(rows=rows, report=report)))


def do_compile(a, cfgs):
    got = {c["name"]: [] for c in cfgs}
    reports = {}
    with tempfile.TemporaryDirectory(prefix="pydbt-cgopt-") as tmp:
        for r in range(a.reps):
            for c in cfgs:
                out = Path(tmp) / "out.json"
                subprocess.run([sys.executable, __file__, "child-compile", json.dumps(c), a.texts, a.level,
                                "1" if a.time_passes and r == a.reps - 1 else "0", str(out)], check=True)
                d = json.loads(out.read_text())
                got[c["name"]].append(d["rows"])
                if d["report"]:
                    reports[c["name"]] = d["report"]
    summarize(cfgs, got, reports)


def summarize(cfgs, got, reports):
    med = statistics.median
    base = None
    print(f"{'config':<28}{'n':>5}{'parse':>8}{'cg':>8}{'link':>7}{'total':>8}{'sum ms':>9}{'summin':>8}{'obj KB':>8}")
    for c in cfgs:
        reps = got[c["name"]]
        n = len(reps[0])
        per = [[med(rep[i][k] for rep in reps) for i in range(n)] for k in range(3)]
        tot = [per[0][i] + per[1][i] + per[2][i] for i in range(n)]
        mins = [min(sum(rep[i][:3]) for rep in reps) for i in range(n)]
        s = dict(minsum=sum(mins) * 1e3, parse=med(per[0]) * 1e3, cg=med(per[1]) * 1e3, link=med(per[2]) * 1e3,
                 total=med(tot) * 1e3, sum=sum(tot) * 1e3, obj=sum(m[3] for m in reps[0]) / 1024)
        rel = "" if base is None else (f"  total {100 * (s['total'] / base['total'] - 1):+.0f}%"
                                       f" sum {100 * (s['sum'] / base['sum'] - 1):+.0f}%"
                                       f" summin {100 * (s['minsum'] / base['minsum'] - 1):+.0f}%"
                                       f" obj {100 * (s['obj'] / base['obj'] - 1):+.1f}%")
        base = base or s
        print(f"{c['name']:<28}{n:>5}{s['parse']:>8.2f}{s['cg']:>8.2f}{s['link']:>7.2f}{s['total']:>8.2f}"
              f"{s['sum']:>9.0f}{s['minsum']:>8.0f}{s['obj']:>8.0f}{rel}")
    for name, rep in reports.items():
        print(f"\n===== {name}: LLVM pass timings =====\n{rep}")


def option_resets(cfgs):
    """{option name: its reset item} of every LLVM option the configs set
    (a bare flag -> =false; -regalloc -> =default; else the config must
    name it in a "reset:" item)"""
    resets = {}
    for c in cfgs:
        for o in c["options"] + c["per_level"].get("full", []):
            name, eq, _ = o.partition("=")
            resets.setdefault(name, c["resets"].get(name) or
                              (f"{name}=default" if name == "-regalloc" else
                               f"{name}=false" if not eq else None))
    missing = [n for n, r in resets.items() if r is None]
    if missing:
        sys.exit(f"codegen_options: no reset value for {missing} (add reset:{missing[0]}=VALUE)")
    return resets


def config_setups(llvm_jit, cfgs, level):
    """per config: (target machine, (pass builder, function passes), the LLVM
    options to set before its compiles, whether it verifies)"""
    llvm = llvm_jit._init()["llvm"]
    resets = option_resets(cfgs)
    target = llvm.Target.from_default_triple()
    setups = []
    for c in cfgs:
        opt, passes = llvm_jit.LEVELS[level]
        opt = opt if c["opt"] is None else c["opt"]
        passes = passes if c["passes"] is None else c["passes"]
        cm, reloc = c["model"] or llvm_jit.MODELS[level]
        tm = target.create_target_machine(cpu=llvm_jit.CPU, features=llvm_jit.FEATURES, opt=opt, codemodel=cm,
                                          reloc=reloc, jit=True)
        pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=1))
        fpm = llvm.create_new_function_pass_manager()
        for p in passes:
            getattr(fpm, f"add_{p}_pass")()
        base = list(llvm_jit.LLVM_OPTIONS) if c["keep"] or not (c["options"] or c["clear"]) else []
        own = base + c["options"] + c["per_level"].get(level, [])
        names = {o.partition("=")[0] for o in own}
        setups.append((tm, (pb, fpm), [r for n, r in resets.items() if n not in names] + own, c["verify"]))
    return setups


def child_icompile(cfgs, texts, level, reps, out):
    """every module compiled under each config in turn, in this one process
    (LLVM options toggled per config; its own target machine and passes)"""
    from pydbt.backends import llvm_jit
    s = llvm_jit._init()
    llvm = s["llvm"]
    setups = config_setups(llvm_jit, cfgs, level)
    mods = []
    for f in sorted(Path(texts).glob("after/*.json")):
        mods += [m for m in json.loads(f.read_text()) if m[2] == level]
    rows = [[] for _ in cfgs]
    for r in range(reps):
        for i, (name, text, lv, imports) in enumerate(mods):
            for k, (tm, passes, opts, verify) in enumerate(setups):
                for o in opts:
                    llvm.set_option("", o)
                s["tms"][level] = tm
                s["passes"][level] = passes
                t0 = time.process_time()
                mod = llvm_jit.parse(text, verify, name, lv)
                t1 = time.process_time()
                obj = tm.emit_object(mod)
                t2 = time.process_time()
                tracker, _ = llvm_jit.link(obj, name, {sym: 0x10000 + 8 * j for j, sym in enumerate(imports)})
                t3 = time.process_time()
                del tracker
                if r == 0:
                    rows[k].append([[], [], [], len(obj)])
                for j, t in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                    rows[k][i][j].append(t)
    Path(out).write_text(json.dumps(rows))


def child_asm(cfgs, texts, level, out):
    """per workload and config: [(instructions, assembly hash)] of each module"""
    import hashlib
    from pydbt.backends import llvm_jit
    s = llvm_jit._init()
    llvm = s["llvm"]
    setups = config_setups(llvm_jit, cfgs, level)
    got = {}
    for f in sorted(Path(texts).glob("after/*.llvm.json")):
        w = f.name.split(".")[0]
        for name, text, lv, imports in json.loads(f.read_text()):
            if lv != level:
                continue
            for k, (tm, passes, opts, _) in enumerate(setups):
                for o in opts:
                    llvm.set_option("", o)
                s["tms"][level] = tm
                s["passes"][level] = passes
                asm = tm.emit_assembly(llvm_jit.parse(text, False, name, lv))
                body = [ln.split("#")[0].strip() for ln in asm.splitlines()
                        if ln.startswith("\t") and not ln.startswith("\t.")]
                got.setdefault(w, [[] for _ in cfgs])[k].append(
                    (len(body), hashlib.md5("\n".join(body).encode()).hexdigest()))
    Path(out).write_text(json.dumps(got))


def do_asm(a, cfgs):
    with tempfile.TemporaryDirectory(prefix="pydbt-cgopt-") as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, __file__, "child-asm", json.dumps(cfgs), a.texts, a.level, str(out)],
                       check=True)
        got = json.loads(out.read_text())
    print("per workload: modules whose assembly differs from the first config's / modules,"
          " instructions (all modules) vs the first config's")
    print(f"{'workload':<12}" + "".join(f"{c['name']:>22}" for c in cfgs[1:]))
    for w, per in got.items():
        cells = []
        for k in range(1, len(cfgs)):
            changed = sum(x[1] != y[1] for x, y in zip(per[0], per[k]))
            n0, n1 = sum(x[0] for x in per[0]), sum(x[0] for x in per[k])
            cells.append(f"{changed}/{len(per[0])} {100 * (n1 / n0 - 1):+.1f}%")
        print(f"{w:<12}" + "".join(f"{x:>22}" for x in cells))


def do_icompile(a, cfgs):
    with tempfile.TemporaryDirectory(prefix="pydbt-cgopt-") as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, __file__, "child-icompile", json.dumps(cfgs), a.texts, a.level,
                        str(a.reps), str(out)], check=True)
        rows = json.loads(out.read_text())
    # -> per config, per rep: [(parse, cg, link, obj)]
    got = {c["name"]: [[(m[0][r], m[1][r], m[2][r], m[3]) for m in rows[k]] for r in range(a.reps)]
           for k, c in enumerate(cfgs)}
    summarize(cfgs, got, {})


# ---------------------------------------------------------------------------
# steady state


def child_run(cfg, level, argv):
    apply_config(cfg, level)
    from pydbt import cli
    sys.exit(cli.main(argv))


def do_steady(a, cfgs):
    import benchlib
    med = statistics.median
    env = dict(os.environ, PYDBT_CODE_CACHE="off")
    scale = {k: float(v) for k, _, v in (x.partition("=") for x in a.scale.split(",") if x)}
    print(f"{'workload':<12}{'sizes':<18}" + "".join(f"{c['name']:>22}" for c in cfgs))
    for w in a.workloads.split(","):
        wl = benchlib.WORKLOADS[w]
        prog = benchlib.REPO / "tests" / "_build" / "bench" / f"{wl.program}.riscv64"
        big = wl.scaled(wl.qemu_1s, scale.get(w, scale.get("all", 1.0)))
        sizes = (wl.scaled(big, 1 / 4), big)
        t = {(c["name"], s): [] for c in cfgs for s in sizes}
        for _ in range(a.reps):
            for c in cfgs:
                for size in sizes:
                    with tempfile.NamedTemporaryFile("r") as tf:
                        cmd = ["/usr/bin/time", "-f", "%U %S %e", "-o", tf.name, sys.executable, __file__,
                               "child-run", json.dumps(c), a.level, "--", "run", "-backend", a.backend,
                               str(prog), str(size)]
                        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
                        u, s_, _e = map(float, tf.read().split()[-3:])
                        t[c["name"], size].append(u + s_)
        base = None
        cells = []
        for c in cfgs:
            diffs = [b - s for s, b in zip(t[c["name"], sizes[0]], t[c["name"], sizes[1]])]
            d = med(diffs)
            spread = f"{min(diffs):.2f}-{max(diffs):.2f}"
            rel = "" if base is None else f" {100 * (d / base - 1):+.0f}%"
            base = base or d
            cells.append(f"{d:.2f} ({spread}){rel}")
        print(f"{w:<12}{str(sizes):<18}" + "".join(f"{x:>22}" for x in cells), flush=True)
        if a.raw:
            print("   raw", json.dumps({f"{k[0]}@{k[1]}": v for k, v in t.items()}), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child-compile":
        return child_compile(json.loads(argv[1]), argv[2], argv[3], argv[4] == "1", argv[5])
    if argv and argv[0] == "child-icompile":
        return child_icompile(json.loads(argv[1]), argv[2], argv[3], int(argv[4]), argv[5])
    if argv and argv[0] == "child-asm":
        return child_asm(json.loads(argv[1]), argv[2], argv[3], argv[4])
    if argv and argv[0] == "child-run":
        return child_run(json.loads(argv[1]), argv[2], argv[4:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile")
    c.add_argument("texts")
    c.add_argument("--time-passes", action="store_true")
    ic = sub.add_parser("icompile")
    ic.add_argument("texts")
    asm = sub.add_parser("asm")
    asm.add_argument("texts")
    st = sub.add_parser("steady")
    st.add_argument("--workloads", default=",".join(STEADY))
    st.add_argument("--backend", default="llvm")
    st.add_argument("--raw", action="store_true")
    st.add_argument("--scale", default="matmul_fp=8",
                    help="WORKLOAD=F,...: the big size has F times qemu_1s' work (all=F: every workload)")
    for p in (c, ic, asm, st):
        p.add_argument("configs", nargs="+")
        p.add_argument("--reps", type=int, default=3)
        p.add_argument("--level", default="full")
    a = ap.parse_args(argv)
    cfgs = [parse_config(s) for s in a.configs]
    dict(compile=do_compile, icompile=do_icompile, asm=do_asm, steady=do_steady)[a.cmd](a, cfgs)


if __name__ == "__main__":
    main()
