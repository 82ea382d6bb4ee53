"""llvmlite, imported on first use: LLVM IR text -> optimized native code in an ORC LLJIT.

Nothing here runs until the first TB is compiled (importing llvmlite costs
100-180 ms).  llvmlite 0.50 (LLVM 22): `initialize_native_target()` and
`initialize_native_asmprinter()` (`llvm.initialize()` raises), the new pass
manager, ORC's LLJIT (`create_lljit_compiler`): each compiled unit is linked as
its own JIT library whose ResourceTracker frees its code when dropped.

Two levels (`LEVELS`).  "full" (the llvm tier): a light pipeline (the IR was
optimized already): SROA turns the register allocas into SSA values, then
instcombine, jump threading (a memory check shared by a group of accesses
is known on each path after the first), simplifycfg and instcombine; code
generation at -O2 (without loop strength reduction: LLVM_OPTIONS) for the
generic x86-64 (or the host triple's generic) CPU with the host's bit
manipulation extensions (BMI, BMI2, LZCNT, POPCNT: HOST_FEATURES) when it has
them.
"quick" (the llvm-quick tier, -backend auto's first native one): SROA only and
-O0 code generation (FastISel, the fast register allocator): ~4x less compile
time (a median superblock ~5 ms of CPU instead of ~20), code 1.5-4x slower.

Objects are position-dependent code of the large code model (`movabs` of a
64-bit absolute address, no GOT): the text names the run's addresses and
numbers by symbols (llvm_emit.py) which each library imports as absolute
symbols when it is linked (`compile(..., imports)`), so the object does not
depend on the run and llvm_cache.py keeps it on disk.  One exception: the
guest memory's base, when it lies below 2 GiB (runtime/memory.py puts it at
its LOW_BASE when it can), is a literal in the text (`bind_memory`), so an
access is `movzbl LOW_BASE(%reg)` instead of a `movabs` of the base and an
indexed access; that text is the same in every run whose memory is there
(nearly all), and the cache key follows the text.  `compile` looks it up
there before it compiles (`-stats`: native_cache_hits/misses,
native_cache_load_ms the time the hits took to load and link, native_compiles).  `environment()` is what else
than the text an object depends on (the cache key's other half).  With
`-perfmap` each linked function gets its line in /tmp/perf-<pid>.map.

Thread safety: codegen and linking run under one lock (a compile thread may
call `compile`); LLVM releases the GIL meanwhile.
"""
import importlib.util
import itertools
import threading
import time

from pydbt.stats import STATS

from . import faults, llvm_cache

_lock = threading.RLock()
_state = {}

# code generation options (all in the cache key): the generic CPU's tuning, plus
# whichever of HOST_FEATURES the host has (host_features): BMI2's three-operand
# shifts and rotates (rorx, shlx, shrx: no copy before a shift of a value still
# live) and BMI's andn.  Measured (steady state, qemu_1s to 4x qemu_1s, 5 reps
# interleaved, warm cache, loaded host): sha256 2.75 -> 2.59 s (its round loop
# 123 -> 116 instructions), strings 1.90 -> 1.83, vm 1.38 -> 1.35, sieve 2.02 ->
# 1.97, crc32 2.51 -> 2.50; the host's own CPU model (znver5) as well: no better
# (sha256 2.56, strings 1.91, crc32 2.57).
CPU, FEATURES = "", ""
HOST_FEATURES = ("bmi", "bmi2", "lzcnt", "popcnt")
# level -> (code model, relocation model).  Full: the absolute symbols
# (llvm_emit.py) are `movabs` immediates.  Quick: -O0 codegen is FastISel, which
# selects no global's address in the large model (the whole rest of the block
# then goes through SelectionDAG); in the small PIC model they are GOT loads it
# selects (JITLink makes the GOT and the call stubs): codegen median -22% over
# strings' 48 quick regions, and -44% with no atomic loads (FastISel has none).
MODELS = {"full": ("large", "static"), "quick": ("small", "pic")}
# LLVM's own options, for the process.  Loop strength reduction: 12-15% of -O2
# codegen time (163 regions), and the code is as fast or faster without it
# (warm cache: matmul_int 0.92 -> 0.82 s, quicksort 1.21 -> 1.11 s, the others
# within noise): our loops index guest memory off a base already.
LLVM_OPTIONS = ("-disable-lsr",)
# Cheaper "full" code generation, measured and rejected (bench/codegen_options.py:
# the 188 full modules of the 10 workloads under -backend llvm, base ~11 ms CPU per
# median module and 2.7 s in all on a loaded host; compile: the configurations
# interleaved per module in one process; code: steady-state CPU, qemu_1s/4 to
# qemu_1s, 3 reps, whose noise on the shared host was +-15%, up to +-50% for fib and
# strings (identical code measured -53..+74%)):
# - -regalloc=basic: median module -6..12%, all modules -16..19%, objects -4%; code
#   slower: at 4x qemu_1s' work (4 reps) sha256 +16%, fib +15%, vm +16% (at
#   qemu_1s sha256 +39..89%, fib +50%); and LLVM reads -regalloc once per process
#   (at its first codegen) while -O0 takes only the fast allocator.
# - one machine pass off: 0-4% each (-enable-misched=false, -disable-machine-sink,
#   -licm, -cse, -ssc, -copyprop, -peephole, -block-placement, -tail-duplicate,
#   -branch-fold, -disable-constant-hoisting, -disable-select-optimize,
#   -x86-cmov-converter=false ...); 21 of them -13..16% (objects +6%); misched, sink,
#   ssc, copyprop, select-optimize and constant hoisting off -10%: matmul_int +32%
#   (+ tail duplication, machine LICM and CSE: -14%, matmul_int +51%, sha256 +37%);
#   misched alone: quicksort +21%, sha256 +22%; sink alone: matmul_int +23%.  The
#   ones that change no code here (select-optimize, cmov-converter, avoid-SFB, LEA
#   optimization, domain reassignment: 1 module of 178 differs): the same sum
#   (+-0.5%, 4 reps interleaved).
# - -fast-isel: the large model's global addresses stop it (-4..9%); in the small
#   PIC model -12..14%, but 4-9% more instructions: crc32 +26%, sha256 +19%,
#   sieve +19%, quicksort +14%.
# - codegen -O1 or -O3, -pre-RA-sched=source (x86's own) or list-burr, greedy's
#   budgets (-grow-region-complexity-budget, -lcr-max-depth,
#   -regalloc-eviction-max-interference-cutoff), misched's (-misched-limit,
#   -misched-regpressure, -misched-cyclicpath): no cheaper.
# - our passes: without the first instcombine -3% (its 0.6 ms), 50 of 178 modules
#   differ, sieve, quicksort and vm +23-27%; unverified modules: -1..3%.
# A module's fixed cost (one store: codegen ~1 ms, our passes ~0.3 ms: the legacy
# codegen pass manager is built per emit_object) is ~15% of the median module.
# llvmlite's set_option ignores a name LLVM does not know (test_llvm_jit_options.py).
# level -> (codegen -O level, our function passes, in order)
LEVELS = {
    # (no GVN: our passes already forwarded registers and folded constants; on
    # strings' and quicksort's 110 regions it took 8% of the compile time and its
    # objects were 1% bigger)
    "full": (2, ("sroa", "instruction_combine",
                 "jump_threading",      # (a check shared by a group: its i1 known on each path)
                 "simplify_cfg", "instruction_combine")),
    "quick": (0, ("sroa",)),
}


def unsupported():
    """None if llvmlite is there (not imported: that waits for the first compile)
    and the host runs the native runtime (x64_runtime.py: an x86-64 host)."""
    from .hostcpu import unsupported as host
    why = host()
    if why is not None:
        return why
    if importlib.util.find_spec("llvmlite") is None:
        return "this host (llvmlite is not installed: pip install 'pydbt[llvm]')"
    return None


def _init():
    if _state:
        return _state
    with _lock:
        if not _state:
            _state.update(_start())
    return _state


def _start():
    import llvmlite
    import llvmlite.binding as llvm
    from pydbt import __version__
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    for option in LLVM_OPTIONS:
        llvm.set_option("", option)
    target = llvm.Target.from_default_triple()
    features = host_features(llvm)
    tms = {level: target.create_target_machine(cpu=CPU, features=features, opt=opt, codemodel=MODELS[level][0],
                                               reloc=MODELS[level][1], jit=True)
           for level, (opt, _) in LEVELS.items()}
    tm = tms["full"]
    header = f'target datalayout = "{tm.target_data}"\ntarget triple = "{tm.triple}"\n'
    try:                                         # (this file: the pipeline and options)
        with open(__file__, "rb") as f:
            own = llvm_cache.blake2b(f.read(), digest_size=16).hexdigest()
    except OSError:
        own = "?"
    env = "\n".join([f"pydbt {__version__}", f"llvm_jit {own}", f"llvmlite {llvmlite.__version__}",
                     "llvm " + ".".join(map(str, llvm.llvm_version_info)), f"triple {tm.triple}",
                     f"cpu {CPU or target.name}", f"features {features}",
                     f"options {' '.join(LLVM_OPTIONS)}", f"format {llvm_cache.FORMAT}"])
    return dict(llvm=llvm, tm=tm, tms=tms, jit=llvm.create_lljit_compiler(tm, use_jit_link=True),
                names=itertools.count(), header=header, env=env, passes={})


def host_features(llvm):
    """FEATURES, and those of HOST_FEATURES the host CPU has (LLVM's own reading
    of it: CPUID), as LLVM's feature string"""
    try:
        host = llvm.get_host_cpu_features()
    except RuntimeError:                         # (LLVM could not read them)
        host = {}
    extra = [f"+{f}" for f in HOST_FEATURES if host.get(f)]
    return ",".join(([FEATURES] if FEATURES else []) + extra)


def environment(level="full"):
    """What a compiled object depends on besides its text (the cache key's other half)."""
    opt, passes = LEVELS[level]
    return _init()["env"] + f"\nlevel {level}: -O{opt} {','.join(passes)} model {' '.join(MODELS[level])}"


def _passes(s, level):
    """A level's pass builder and function pass manager, made once (under _lock:
    each of llvmlite's calls is one more wait for the GIL in the compile thread)."""
    made = s["passes"].get(level)
    if made is None:
        llvm = s["llvm"]
        pto = llvm.create_pipeline_tuning_options(speed_level=1)
        pb = llvm.create_pass_builder(s["tms"][level], pto)
        fpm = llvm.create_new_function_pass_manager()
        for p in LEVELS[level][1]:
            getattr(fpm, f"add_{p}_pass")()
        made = s["passes"][level] = (pb, fpm)
    return made


def parse(text, verify=False, name=None, level="full"):
    """The module of `text`, optimized at `level`: its function `name` (the
    others are small wrappers), or every function it defines."""
    s = _init()
    with _lock:
        mod = s["llvm"].parse_assembly(s["header"] + text)
        if verify:
            mod.verify()
        pb, fpm = _passes(s, level)
        for f in [mod.get_function(name)] if name else mod.functions:
            if not f.is_declaration:
                fpm.run(f, pb)
    return mod


# the text of the guest memory's base (llvm_emit.Emitter.host: `add i64 a, <this>`)
MEM_OPERAND = "ptrtoint (ptr @pydbt_mem to i64)"
DISP32_MAX = (1 << 31) - 1
_bound = [None]                # the last base bind_memory made a literal (-d out_asm's)


def bind_memory(text, imports):
    """The text with the guest memory's base (symbol pydbt_mem's value in
    `imports`) a literal when it fits a 32-bit displacement: LLVM folds it into
    each access's addressing (`movzbl BASE(%reg)`: no 64-bit `movabs` of the base,
    no register for it).  Any other base stays a symbol."""
    base = (imports or {}).get("pydbt_mem")
    if base is None or not 0 < base <= DISP32_MAX or MEM_OPERAND not in text:
        return text
    _bound[0] = base
    return text.replace(MEM_OPERAND, str(base))


def compile(text, name, imports=None, pc=None, exports=(), level="full"):
    """One module's text -> (tracker, address of its function `name`), the
    object from the disk cache or compiled at `level` (and then put there), linked with
    `imports` (symbol -> absolute value; the guest memory's base may become a
    literal: bind_memory).  The code lives as long as the
    tracker does.  pc: the guest pc the perf map names it by; exports: other
    symbols of the module to find in the tracker (`tracker[sym]`)."""
    text = bind_memory(text, imports)
    obj, hit = cached_object(text, name, level)
    t0 = time.perf_counter()
    tracker, addr = link(obj, name, imports, exports, pc)
    if hit:
        _load_ms(t0)
    return tracker, addr


# without the disk cache, the objects this process compiled last, by key: a
# region made again with the same text (re-formed to the same shape, or dropped
# and made again: strings under auto compiles one of its largest twice) is not
# compiled again (with the disk cache, the disk has it)
RECENT_MAX = 256
_recent = {}


def cached_object(text, name, level="full"):
    """-> (object of the module's text at `level`, whether the disk cache had it):
    from the disk cache (or, without one, this process's recent objects), else
    compiled (and put there)."""
    _init()
    t0 = time.perf_counter()
    disk = llvm_cache.cache()
    key = llvm_cache.make_key(environment(level), text)
    obj = _recent.get(key) if disk is None else disk.get(key)
    if obj is not None:
        if disk is None:
            STATS.bump("native_recent_hits")
            return obj, False
        STATS.bump("native_cache_hits")
        _load_ms(t0)
        return obj, True
    obj = compile_object(text, name, level)
    STATS.bump("native_compiles")
    if disk is None:
        with _lock:
            _recent[key] = obj
            if len(_recent) > RECENT_MAX:
                del _recent[next(iter(_recent))]
    else:
        STATS.bump("native_cache_misses")
        disk.put(key, obj)
    return obj, False


def _load_ms(t0):
    extra = STATS.extra
    extra["native_cache_load_ms"] = round(extra.get("native_cache_load_ms", 0) +
                                          (time.perf_counter() - t0) * 1e3, 4)


def compile_object(text, name, level="full"):
    """A module's text -> its object code at `level` (no cache)."""
    s = _init()
    with _lock:
        return s["tms"][level].emit_object(parse(text, True, name, level))


def link(obj, name, imports=None, exports=(), pc=None):
    """An object -> (tracker, address of its function `name`): linked as a JIT
    library of its own, with `imports` (symbol -> absolute value)."""
    s = _init()
    with _lock:
        lib = s["llvm"].JITLibraryBuilder().add_object_img(obj)
        for sym, value in (imports or {}).items():
            lib.import_symbol(sym, value)
        for sym in (name,) + tuple(exports):
            lib.export_symbol(sym)
        tracker = lib.link(s["jit"], f"pydbt{next(s['names'])}")
    addr = tracker[name]
    faults.add_for(tracker, addr, llvm_cache.fault_entries(obj))
    if llvm_cache.perfmap_on():
        llvm_cache.perfmap_add(addr, llvm_cache.symbol_size(obj, name) or 1, pc, name)
    return tracker, addr


def assembly(text, level="full"):
    """The host assembly of a module's text (-d out_asm), with the guest
    memory's base as `compile` last bound it."""
    if _bound[0] is not None:
        text = bind_memory(text, {"pydbt_mem": _bound[0]})
    with _lock:
        s = _init()
        return s["tms"][level].emit_assembly(parse(text, level=level))


def optimized_ir(text):
    with _lock:
        return str(parse(text))
