"""The quick native tier (-backend auto's first native one): the llvm backend's
code, compiled cheaply (llvm_jit's "quick" level: SROA, then -O0 code
generation: ~4x less compile time than the llvm tier, code 1.5-4x slower).

It shares the llvm tier's native state (chain slots, jump cache: quick and
full code chain into each other) and counts its own hotness by sampling the
exits of native code to Python (llvm.NativeState.enter): each exit from one of
its TBs is a sample of that TB, and a native entry's budget (~0.1-1 ms of
native code) running out inside it counts SAMPLE_WEIGHT samples (a loop that
never leaves native code is as hot as that).  At the threshold
(-opt-threshold), and every RECHECK samples after it, the TB asks the engine;
under the payback rule (a warm-up: tiering.NativePolicy) it is compiled again
at the full level, in the compile thread, only once the time spent in its
code (each native entry's time, measured around the call and counted to the
TB that left native code: `Hotness.native`) pays for an optimizing compile
(PAYBACK x its cost), as optimizing saves part of that time and none of the
exits: a block that leaves native code often because its successor is not
native, or for syscalls, gets no optimizing compile for its exits (strings,
quicksort, vm, sha256, sieve at bench size: 14 optimizing compiles -> none, CPU
-5-30%).
So compile time follows where time is spent: hot regions get native code after
~5 ms of compile, the ones where the program stays get the optimized code.
Without a warm-up the count alone decides (deterministic tests).
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
