"""llvm_jit's code generation configuration: every LLVM option it sets is one
LLVM knows (llvmlite's set_option ignores a misspelt one without a word, so
a typo would silently leave the pass it meant to disable running), and each
level's function passes exist in llvmlite."""
import subprocess
import sys

import pytest

pytest.importorskip("llvmlite")

from pydbt.backends import llvm_jit

HELP = """
import llvmlite.binding as llvm
llvm.initialize_native_target()
llvm.initialize_native_asmprinter()
llvm.set_option("", "-help-hidden")
"""


def llvm_option_names():
    """The names of every option this LLVM accepts (its -help-hidden, which exits)."""
    out = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True, timeout=120).stdout
    names = set()
    for line in out.splitlines():
        word = line.strip().split(" ", 1)[0]
        if word.startswith("--"):
            names.add(word[2:].split("=", 1)[0].split("<", 1)[0])
    return names


def test_every_llvm_option_is_known():
    names = llvm_option_names()
    assert "disable-lsr" in names and "regalloc" in names      # (the listing was read)
    for option in llvm_jit.LLVM_OPTIONS:
        assert option.startswith("-") and option.lstrip("-").split("=", 1)[0] in names, option


def test_a_misspelt_option_is_not_known():
    assert "disable-consthoist" not in llvm_option_names()      # (-disable-constant-hoisting is)


def test_every_level_pass_exists():
    import llvmlite.binding as llvm
    fpm = llvm.create_new_function_pass_manager()
    for level, (opt, passes) in llvm_jit.LEVELS.items():
        assert 0 <= opt <= 3, level
        for p in passes:
            assert callable(getattr(fpm, f"add_{p}_pass", None)), (level, p)
