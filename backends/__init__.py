"""Backends compile a TB's IR into something callable as `fn(cpu) -> (next_pc, slot)`."""
import importlib
import sys

NAMES = {"interp": "pydbt.backends.interp", "pybytecode": "pydbt.backends.pybytecode",
         "llvm": "pydbt.backends.llvm", "llvm-quick": "pydbt.backends.llvm_quick"}

# what a backend needs of the host, if it may be missing: module -> function
# returning None when the backend can run here, else why not
_NEEDS = {"pybytecode": "pydbt.backends.pyops", "llvm": "pydbt.backends.llvm_jit",
          "llvm-quick": "pydbt.backends.llvm_jit"}
_FALLBACK = "interp"
_warned = set()


def unavailable(name):
    """None if backend `name` can run on this host, else why not."""
    need = _NEEDS.get(name)
    if need is None:
        return None
    try:
        return importlib.import_module(need).unsupported()
    except Exception as e:          # (a dependency that does not import here)
        return f"this host ({type(e).__name__}: {e})"


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
    return importlib.import_module(NAMES[name])
