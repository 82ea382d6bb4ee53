"""llvmlite, imported on first use: LLVM IR text -> optimized native code in an ORC LLJIT.

Nothing here runs until the first TB is compiled (importing llvmlite costs
100-180 ms).  llvmlite 0.50 (LLVM 22): `initialize_native_target()` and
`initialize_native_asmprinter()` (`llvm.initialize()` raises), the new pass
manager, ORC's LLJIT (`create_lljit_compiler`): each compiled unit is linked as
its own JIT library whose ResourceTracker frees its code when dropped.

The pipeline is light (the IR was optimized already): SROA turns the register
allocas into SSA values, then instcombine, early simplifications, GVN and
simplifycfg; code generation at -O2 (the default target machine).
"""
import importlib.util
import itertools
import threading

_lock = threading.Lock()
_state = {}


def unsupported():
    """None if llvmlite is there (not imported: that waits for the first compile)."""
    if importlib.util.find_spec("llvmlite") is None:
        return "this host (llvmlite is not installed: pip install 'pydbt[llvm]')"
    return None


def _init():
    if _state:
        return _state
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(opt=2, codemodel="default", reloc="pic", jit=True)
    header = f'target datalayout = "{tm.target_data}"\ntarget triple = "{tm.triple}"\n'
    _state.update(llvm=llvm, tm=tm, jit=llvm.create_lljit_compiler(tm, use_jit_link=True), names=itertools.count(),
                  header=header)
    return _state


def _optimize(llvm, tm, mod):
    pto = llvm.create_pipeline_tuning_options(speed_level=1)
    pb = llvm.create_pass_builder(tm, pto)
    fpm = llvm.create_new_function_pass_manager()
    fpm.add_sroa_pass()
    fpm.add_instruction_combine_pass()
    fpm.add_new_gvn_pass()
    fpm.add_simplify_cfg_pass()
    fpm.add_instruction_combine_pass()
    for f in mod.functions:
        if not f.is_declaration:
            fpm.run(f, pb)


def parse(text, verify=False):
    s = _init()
    mod = s["llvm"].parse_assembly(s["header"] + text)
    if verify:
        mod.verify()
    _optimize(s["llvm"], s["tm"], mod)
    return mod


def compile(text, name, verify=False):
    """Compile one module's text; -> (tracker, address of function `name`).
    The code lives as long as the tracker does."""
    with _lock:
        s = _init()
        mod = parse(text, True)
        obj = s["tm"].emit_object(mod)
        lib = s["llvm"].JITLibraryBuilder().add_object_img(obj).export_symbol(name)
        tracker = lib.link(s["jit"], f"pydbt{next(s['names'])}")
        return tracker, tracker[name]


def assembly(text):
    """The host assembly of a module's text (-d out_asm)."""
    with _lock:
        s = _init()
        return s["tm"].emit_assembly(parse(text))


def optimized_ir(text):
    with _lock:
        return str(parse(text))
