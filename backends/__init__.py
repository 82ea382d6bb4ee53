"""Backends compile a TB's IR into something callable as `fn(cpu) -> (next_pc, slot)`."""
import importlib
import sys

NAMES = {"interp": "pydbt.backends.interp", "pybytecode": "pydbt.backends.pybytecode",
         "llvm": "pydbt.backends.llvm", "llvm-quick": "pydbt.backends.llvm_quick",
         "baseline": "pydbt.backends.baseline"}

# what a backend needs of the host, if it may be missing: module -> function
# returning None when the backend can run here, else why not
_NEEDS = {"pybytecode": "pydbt.backends.pyops", "llvm": "pydbt.backends.llvm_jit",
          "llvm-quick": "pydbt.backends.llvm_jit", "baseline": "pydbt.backends.hostcpu"}
_FALLBACK = "interp"
_warned = set()
# backends imported on their first compile, and what the exec loop asks of a
# tier before that (dbt/execloop.py): `-backend auto` does not pay for loading
# the native tier (~10-40 ms) in a program that never gets hot; `loads`: it has
# a compiler to load (`load()`: llvmlite) before its first compile
_DECLARED = {"llvm": {"superblocks": True, "counts_hotness": False, "entries": True, "on_disk": True,
                      "loads": True},
             "llvm-quick": {"superblocks": True, "counts_hotness": True, "entries": True, "on_disk": True,
                            "loads": True},
             "baseline": {"superblocks": True, "counts_hotness": True, "entries": True, "on_disk": False,
                          "keeps": True}}
NATIVE = frozenset(("llvm", "llvm-quick", "baseline"))      # the backends that make native code


class _Lazy:
    """A backend module, imported on the first use of anything it does not declare."""

    def __init__(self, name, declared):
        self.__dict__.update(declared, name=name)

    def __getattr__(self, attr):            # (only for what is not declared)
        return getattr(importlib.import_module(NAMES[self.name]), attr)


def unavailable(name):
    """None if backend `name` can run on this host, else why not."""
    need = _NEEDS.get(name)
    if need is None:
        return None
    try:
        return importlib.import_module(need).unsupported()
    except Exception as e:          # (a dependency that does not import here)
        return f"this host ({type(e).__name__}: {e})"


def makes_native(backend):
    """Does this backend (module or lazy one) make native code?  (Without
    importing a lazy one: the engine asks before anything is hot enough.)"""
    return getattr(backend, "name", None) in NATIVE or hasattr(backend, "prepare")


def get_backend(name):
    """The backend module `name`; one that cannot run on this host is replaced by
    the interpreter, saying so once on stderr."""
    why = unavailable(name)
    if why is not None:
        if name not in _warned:
            _warned.add(name)
            print(f"pydbt: the {name} backend cannot run on {why}; using {_FALLBACK}",
                  file=sys.stderr, flush=True)
        name = _FALLBACK
    if name in _DECLARED:
        return _Lazy(name, _DECLARED[name])
    return importlib.import_module(NAMES[name])
