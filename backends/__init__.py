"""Backends compile a TB's IR into something callable as `fn(cpu) -> (next_pc, slot)`."""
import importlib

NAMES = {"interp": "pydbt.backends.interp", "pybytecode": "pydbt.backends.pybytecode"}


def get_backend(name):
    return importlib.import_module(NAMES[name])
