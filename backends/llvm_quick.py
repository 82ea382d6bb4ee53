"""The quick native tier (-backend auto's first native one): the llvm backend's
code, compiled cheaply (llvm_jit's "quick" level: SROA, then -O0 code
generation: ~4x less compile time than the llvm tier, code 1.5-4x slower).

It shares the llvm tier's native state (chain slots, jump cache: quick and
full code chain into each other) and counts its own hotness by sampling the
exits of native code to Python (llvm.NativeState.enter): each exit from one of
its TBs is a sample of that TB, and a native entry's budget (~0.1-1 ms of
native code) running out inside it counts SAMPLE_WEIGHT samples (a loop that
never leaves native code is as hot as that).  At the threshold
(-opt-threshold) the engine compiles it again at the full level, in the
compile thread, and the new code replaces it.  So compile time follows where
time is spent: hot regions get native code after ~5 ms of compile, the ones
where the program stays get the optimized code.
"""
from . import llvm
from .llvm import unsupported, EMITTERS, finish, disassemble  # noqa: F401

name = "llvm-quick"
superblocks = True
counts_hotness = True            # (budget samples: see above)


def compile(block, ctx):
    return llvm._state(ctx).compile(block, ctx, "quick")


def prepare(block, ctx):
    return llvm._state(ctx).prepare(block, ctx, "quick")
