"""Command line: `pydbt run [options] prog [args...]`, with QEMU linux-user's vocabulary.

Every option has a PYDBT_* environment twin (read first; a flag overrides it).
Options end at the first word that is not an option (the program): everything
after it, a literal `--` included, is the guest's argv.  `--x` is accepted for
`-x`.  Bad input is one line on stderr and exit status 1, never a traceback.
"""
import contextlib
import gc
import os
import signal
import sys

from .errors import UserError, GuestExit
from .log import Log, ITEMS, parse_dfilter

USAGE = "usage: pydbt run [options] program [arguments...]"

BACKENDS = ("interp", "pybytecode", "baseline", "llvm", "llvm-quick", "auto")

# The cycle collector's thresholds while the guest runs (CPython's: 700 or 2000,
# 10, 10).  Translated code is long-lived: a TB is some 30 tracked objects
# (closures and their cells, lists), and CPython's full collection, made each
# time the old generation has grown by a quarter, walks them all again;
# Debian's python3.13 starting up (31,000 TBs) made 13 of them, 4.4 s of its
# 23 s of CPU, and 3,600 young collections 0.9 s more.  A full collection is
# now made after 100 middle ones (each after 10 young ones), and then only
# with that quarter grown: 23.2 -> 17.7 s.  A young collection every 100,000
# allocations (not 5,000): what translation leaves (~40 tracked objects a
# block) is walked once by a young collection and once more by a middle one,
# whatever the threshold, and never turns out to be garbage; a program of up
# to ~2,500 blocks now ends before its first (matmul_fp's run, ~1,100 blocks:
# 15 young and a middle collection, 8.5-9.4 ms, at 5,000; none at 100,000).
# The cycles pydbt makes are few (637,000 system calls: 2 young collections at
# 20,000), so what this keeps alive is little (its peak RSS the same).
GC_THRESHOLDS = (100000, 10, 100)


@contextlib.contextmanager
def _long_lived():
    """Around the start-up (the imports, the loaded program, the guest
    memory's tables, all long-lived): no cycle collection in it, and what is
    alive after it frozen (gc.freeze), so no collection walks it again while
    translation allocates.  (One young collection during the start-up that
    met the access table, then made for every run, cost ~17 ms, a middle one
    ~7 ms more: a hello world's CPU 90 -> 75 ms.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        if enabled:
            gc.enable()


class Options:
    """What `run` was told (parse_run_args; each option's PYDBT_* twin
    too).  (A plain class, not a dataclass: dataclasses and the inspect
    module it imports cost every pydbt process ~10 ms of start-up.)"""
    gdb = None
    sysroot = None
    argv0 = None
    uname_release = None
    cpu = None
    reserved_va = None
    dfilter = None
    log_file = None
    strace = False
    one_insn_per_tb = False
    seed = None
    stack_size = None
    backend = "auto"
    jit_threshold = 50
    opt_threshold = 4096  # guest instructions
    native_warmup = 200   # ms
    compile_share = 3     # percent (0: no limit; README: why 3)
    sync_compile = False
    no_cold_runs = False
    stats = None          # None, "text" or "json"
    verify_ir = False
    code_cache = None     # None: $XDG_CACHE_HOME/pydbt/native; "off"
    perfmap = False

    def __init__(self):
        self.set_env = []
        self.unset_env = []
        self.log_items = []
        self.disabled_passes = []


_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _size(text):
    """'8m' -> 8388608: a positive byte count with an optional k/m/g/t suffix."""
    t = text.strip().lower()
    mult = _SUFFIX.get(t[-1:], 1)
    if t[-1:] in _SUFFIX:
        t = t[:-1]
    n = int(t, 0) * mult
    if n <= 0:
        raise ValueError(text)
    return n


def _space(text):
    """-R: a guest address space of MIN_SPACE..MAX_SPACE, rounded up to pages."""
    from pydbt.runtime.memory import MIN_SPACE, MAX_SPACE, page_up
    n = page_up(_size(text))
    if not MIN_SPACE <= n <= MAX_SPACE:
        raise ValueError(f"must be {MIN_SPACE >> 20}m to {MAX_SPACE >> 30}g "
                         f"(the access table costs 2 MiB of host memory per GiB)")
    return n


def _count(text):
    n = int(text, 0)
    if n < 0:
        raise ValueError("must be 0 or more")
    return n


def _items(text):
    return [i for i in text.split(",") if i]


# (flags, dest, takes a value, environment variable, converter/None, append, help)
OPTIONS = [
    (("-g",), "gdb", True, "PYDBT_GDB", None, False, "wait for gdb on TCP port (or unix socket path)"),
    (("-L",), "sysroot", True, "PYDBT_LD_PREFIX", None, False, "guest root for absolute paths and the ELF interpreter"),
    (("-E",), "set_env", True, "PYDBT_SET_ENV", None, True, "set VAR=VALUE in the guest environment"),
    (("-U",), "unset_env", True, "PYDBT_UNSET_ENV", None, True, "remove VAR from the guest environment"),
    (("-0",), "argv0", True, "PYDBT_ARGV0", None, False, "argv[0] for the guest"),
    (("-r",), "uname_release", True, "PYDBT_UNAME", None, False,
     "the kernel release uname() tells the guest (default the host's)"),
    (("-R",), "reserved_va", True, "PYDBT_RESERVED_VA", _space, False,
     "size of the guest address space, 16m..256g (default 16g, less under 'ulimit -v')"),
    (("-cpu",), "cpu", True, "PYDBT_CPU", None, False, "CPU model (-cpu help lists them)"),
    (("-d",), "log_items", True, "PYDBT_LOG", _items, False, "log items, comma separated (-d help lists them)"),
    (("-dfilter",), "dfilter", True, "PYDBT_DFILTER", None, False, "only log pcs in ranges: 0xA+0xN,0xB-0xC"),
    (("-D",), "log_file", True, "PYDBT_LOG_FILENAME", None, False, "write logs to a file (%d = pid)"),
    (("-strace",), "strace", False, "PYDBT_STRACE", None, False, "log system calls"),
    (("-one-insn-per-tb", "-singlestep"), "one_insn_per_tb", False, "PYDBT_ONE_INSN_PER_TB", None, False,
     "one guest instruction per translation block"),
    (("-seed",), "seed", True, "PYDBT_RAND_SEED", _count, False, "seed AT_RANDOM and getrandom (deterministic runs)"),
    (("-s",), "stack_size", True, "PYDBT_STACK_SIZE", _size, False,
     "guest stack size (k/m/g suffixes; default 8m)"),
    (("-backend", "-b"), "backend", True, "PYDBT_BACKEND", None, False, "translation backend: " + "|".join(BACKENDS)),
    (("-jit-threshold",), "jit_threshold", True, "PYDBT_JIT_THRESHOLD", _count, False,
     "executions of a block on the interpreter before the JIT compiles it (0: at once)"),
    (("-opt-threshold",), "opt_threshold", True, "PYDBT_OPT_THRESHOLD", _count, False,
     "-backend auto: guest instructions a block runs in baseline native code (counted in its "
     "code) before LLVM optimizes it (0: optimize at once); with a warm-up, also once its "
     "estimated time there pays for the compile"),
    (("-native-warmup",), "native_warmup", True, "PYDBT_NATIVE_WARMUP", _count, False,
     "-backend auto: milliseconds of the run before LLVM compiles anything; after them a block "
     "is optimized once its time so far pays for the compile (0: neither, at -opt-threshold "
     "alone)"),
    (("-compile-share",), "compile_share", True, "PYDBT_COMPILE_SHARE", _count, False,
     "-backend auto: LLVM (loading llvmlite and optimizing) may use this percentage of the "
     "run's time after the warm-up, no more (CPU time; default 3; 0: no limit)"),
    (("-sync-compile",), "sync_compile", False, "PYDBT_SYNC_COMPILE", None, False,
     "compile native code in the guest's thread (default: a compile thread)"),
    (("-no-cold-runs",), "no_cold_runs", False, "PYDBT_NO_COLD_RUNS", None, False,
     "make a TB for a block's first run too (default: the first run is lifted and run at once, "
     "with no TB made, and the second makes it)"),
    (("-disable-pass",), "disabled_passes", True, "PYDBT_DISABLE_PASS", _items, False,
     "optimizer passes to skip, comma separated, or 'all'"),
    (("-stats",), "stats", False, "PYDBT_STATS", None, False, "print statistics at exit (-stats=json for JSON)"),
    (("-verify-ir",), "verify_ir", False, "PYDBT_VERIFY_IR", None, False, "check every block's IR (slow)"),
    (("-code-cache",), "code_cache", True, "PYDBT_CODE_CACHE", None, False,
     "directory keeping native code for the next run, or 'off' (default $XDG_CACHE_HOME/pydbt/native)"),
    (("-perfmap",), "perfmap", False, "PYDBT_PERFMAP", None, False,
     "name native code for perf in /tmp/perf-<pid>.map"),
]


def _help():
    lines = [USAGE, "", "options:"]
    for flags, dest, takes, env, conv, append, text in OPTIONS:
        f = ", ".join(flags) + (" ARG" if takes else "")
        lines.append(f"  {f:<28} {text}  [{env}]")
    lines.append(f"  {'-h, -help':<28} this help")
    lines.append(f"  {'-version':<28} print the version")
    return "\n".join(lines) + "\n"


def _by_flag():
    table = {}
    for row in OPTIONS:
        for f in row[0]:
            table[f] = row
    return table


def _convert(row, value):
    flags, dest, takes, env, conv, append, text = row
    if conv is None:
        return value
    try:
        return conv(value)
    except (ValueError, IndexError) as e:
        why = str(e) if str(e).startswith("must") else ""
        raise UserError(f"option {flags[0]}: bad value '{value}'" + (f": {why}" if why else "")) from None


def parse_run_args(argv, environ=None):
    """argv after 'run' -> (Options, program, guest args)."""
    environ = os.environ if environ is None else environ
    opts = Options()
    for row in OPTIONS:
        flags, dest, takes, env, conv, append, text = row
        if env in environ:
            v = environ[env]
            if not takes:
                if dest == "stats":
                    setattr(opts, dest, "json" if v == "json" else "text" if v not in ("", "0") else None)
                else:
                    setattr(opts, dest, v not in ("", "0"))
            elif append:
                setattr(opts, dest, [x for x in v.split(",") if x])
            else:
                setattr(opts, dest, _convert(row, v))
    table = _by_flag()
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            break
        if a == "--":
            i += 1
            break
        if a in ("-h", "-help", "--help"):
            sys.stdout.write(_help())
            sys.exit(0)
        if a in ("-version", "--version"):
            from . import __version__
            sys.stdout.write(f"pydbt {__version__}\n")
            sys.exit(0)
        flag, eq, inline = a.partition("=")
        if flag.startswith("--"):
            flag = flag[1:]
        row = table.get(flag)
        if row is None:
            raise UserError(f"unknown option '{a}' (try 'pydbt run -h')")
        flags, dest, takes, env, conv, append, text = row
        if dest == "stats":
            if eq and inline not in ("json", "text"):
                raise UserError(f"option -stats: bad value '{inline}' (text or json)")
            opts.stats = inline if eq else "text"
            i += 1
            continue
        if takes:
            if eq:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UserError(f"option {flags[0]} needs an argument")
            value = _convert(row, value)
            if append:
                getattr(opts, dest).append(value)
            else:
                setattr(opts, dest, value)
        else:
            if eq:
                raise UserError(f"option {flags[0]} takes no argument")
            setattr(opts, dest, True)
        i += 1
    if "help" in opts.log_items:
        sys.stdout.write("".join(f"{k:<10} {v}\n" for k, v in ITEMS.items()))
        sys.exit(0)
    if opts.cpu == "help":
        from pydbt.frontends import all_frontends
        for name, arch in all_frontends():
            sys.stdout.write("".join(f"{name:8} {m:6} {d}\n" for m, d in arch.cpu_models.items()))
        sys.exit(0)
    if i >= len(argv):
        raise UserError("no program given (" + USAGE + ")")
    from .passes import PASSES
    if "all" in opts.disabled_passes:
        opts.disabled_passes = list(PASSES)
    bad = [p for p in opts.disabled_passes if p not in PASSES]
    if bad:
        raise UserError(f"unknown pass '{bad[0]}' (passes: {', '.join(PASSES)})")
    if opts.sysroot is not None and not os.path.isdir(opts.sysroot):
        raise UserError(f"-L {opts.sysroot}: no such directory")
    if opts.dfilter is not None:
        try:
            parse_dfilter(opts.dfilter)
        except ValueError as e:
            raise UserError(str(e)) from None
    if opts.backend not in BACKENDS:
        raise UserError(f"unknown backend '{opts.backend}' (available: {', '.join(BACKENDS)})")
    if opts.gdb is not None and not (opts.gdb.isdigit() and 0 < int(opts.gdb) < 65536) and \
            (opts.gdb.isdigit() or not opts.gdb):
        raise UserError(f"-g {opts.gdb}: expected a TCP port (1-65535) or a unix socket path")
    return opts, argv[i], argv[i + 1:]


def guest_environment(opts, environ):
    env = dict(environ)
    for kv in opts.set_env:
        k, eq, v = kv.partition("=")
        if not eq or not k:
            raise UserError(f"-E: expected VAR=VALUE, got '{kv}'")
        env[k] = v
    for k in opts.unset_env:
        env.pop(k, None)
    return [f"{k}={v}" for k, v in env.items()]


def _default_host_signals():
    """Give the guest a native process's signal defaults: CPython ignores SIGPIPE
    and SIGXFSZ and turns SIGINT into KeyboardInterrupt, but a guest writing to a
    closed pipe or interrupted by Ctrl-C must die of that signal (as under QEMU)."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def tiers(opts):
    """The backends a TB goes through as it gets hotter, and the thresholds
    between them: the interpreter, then -backend; `auto` is the interpreter,
    then native code when the host runs it (x86-64): the baseline tier's (made
    by Python, ~1 ms a block), then, with llvmlite, LLVM's optimized code for
    the regions where the time goes; on other hosts the bytecode JIT."""
    from pydbt.backends import unavailable
    if opts.backend != "auto":
        return ["interp", opts.backend], [opts.jit_threshold]
    if unavailable("baseline") is not None:
        return ["interp", "pybytecode"], [opts.jit_threshold]
    if unavailable("llvm") is not None:
        return ["interp", "baseline"], [opts.jit_threshold]
    return ["interp", "baseline", "llvm"], [opts.jit_threshold, opts.opt_threshold]


def run(argv):
    from .execloop import Engine
    from .stats import STATS
    from pydbt.runtime.loader import inspect, load
    from pydbt.runtime.process import Process
    from pydbt.runtime import identity
    from pydbt.backends import get_backend

    opts, prog, args = parse_run_args(argv)
    _default_host_signals()
    with _long_lived():
        items = list(opts.log_items) + (["strace"] if opts.strace else [])
        try:
            log = Log(items, opts.log_file, parse_dfilter(opts.dfilter) if opts.dfilter else None)
        except ValueError as e:
            raise UserError(str(e)) from None
        except OSError as e:
            raise UserError(f"-D {opts.log_file}: {e.strerror}") from None
        image = inspect(prog)
        from pydbt.backends import llvm_cache
        llvm_cache.configure(opts.code_cache, opts.perfmap, image.arch.name)
        if opts.cpu is not None and opts.cpu not in image.arch.cpu_models:
            raise UserError(f"unknown CPU model '{opts.cpu}' for {image.arch.name} (try -cpu help)")
        proc = Process(image.arch, opts, log)
        proc.exe_path = os.path.abspath(prog)
        guest_argv = [opts.argv0 if opts.argv0 is not None else prog] + args
        proc.argv = guest_argv
        entry, sp = load(proc, image, guest_argv, guest_environment(opts, os.environ))
        identity.publish(proc)                   # (what this process's /proc shows its parent)
        if log.on("page"):
            log.write("".join(f"{v.start:016x}-{v.end:016x} {v.prot:o} {v.name}\n" for v in proc.mem.vmas))
        proc.arch.init_registers(proc.cpu, entry, sp)
        names, thresholds = tiers(opts)
        engine = Engine(proc, [get_backend(n) for n in names], thresholds,
                        max_insns=1 if opts.one_insn_per_tb else 512,
                        verify_ir=opts.verify_ir, count=bool(opts.stats),
                        disabled_passes=opts.disabled_passes, sync_compile=opts.sync_compile,
                        cold_runs=not opts.no_cold_runs,
                        native_warmup=opts.native_warmup / 1000,
                        compile_share=opts.compile_share / 100 if opts.compile_share else None)
        proc.engine = engine
    STATS.reset()
    if opts.stats:
        STATS.watch_gc()
    if engine.counter is not None:
        STATS.counter = engine.counter
    server = None
    if opts.gdb is not None:
        from pydbt.gdbstub.server import start
        try:
            server = start(proc, opts.gdb)
        except OSError as e:
            raise UserError(f"-g {opts.gdb}: {e.strerror or e}") from None
        engine.debug = server
    try:
        proc.run_main()
    except GuestExit as e:
        sys.stdout.flush()
        if proc.debugger is not None:
            proc.debugger.exited(e.status)
        proc.report_stats()
        return e.status
    return 0


COMMANDS = ("run", "help", "version")
EX_SOFTWARE = 70                 # sysexits.h: an internal software error


def _internal_error(e):
    """The safety net: an exception nobody expected is one line plus a hint, exit 70
    (the traceback with PYDBT_TRACEBACK=1), never a silent or guest-visible success."""
    sys.stdout.flush()
    if os.environ.get("PYDBT_TRACEBACK"):
        import traceback
        traceback.print_exc()
    where = ""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    sys.stderr.write(f"pydbt: internal error: {type(e).__name__}: {e}{where}\n"
                     f"pydbt: this is a bug in pydbt; please report it with the command line "
                     f"(PYDBT_TRACEBACK=1 shows the traceback)\n")
    return EX_SOFTWARE


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            sys.stderr.write(USAGE + "\n(try 'pydbt -h')\n")
            return 1
        if argv[0] in ("-h", "-help", "--help", "help"):
            sys.stdout.write(_help() + "\ncommands:\n  run     run a guest program "
                             "(the default: 'pydbt [options] program' works too)\n")
            return 0
        if argv[0] in ("-version", "--version", "version"):
            from . import __version__
            sys.stdout.write(f"pydbt {__version__}\n")
            return 0
        # 'pydbt run [options] prog', or QEMU's shape without the command word
        return run(argv[1:] if argv[0] == "run" else argv)
    except UserError as e:
        sys.stderr.write(f"pydbt: {e}\n")
        return 1
    except KeyboardInterrupt:        # Ctrl-C before the guest's own signal defaults were set
        _die_of(signal.SIGINT)
    except Exception as e:           # noqa: BLE001  (the safety net, see _internal_error)
        return _internal_error(e)


def entry():
    """The command (`pydbt`, `python -m pydbt`): main(), then the host process
    ends at once (_exit, as QEMU's does) once stdout and stderr are flushed:
    Python's own finalization (freeing the guest memory's tables, the TB
    cache, native code) took 50-170 ms, up to 40% of a short run."""
    status = main()
    for f in (sys.stdout, sys.stderr):
        try:
            if f is not None:             # (None: pydbt was started with that fd closed)
                f.flush()
        except (OSError, ValueError):     # (a closed pipe: nothing more can be said)
            pass
    os._exit(status if isinstance(status, int) else 1)


def _die_of(sig):
    """End pydbt by a signal's default action, so a waiting shell sees it."""
    sys.stdout.flush()
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
