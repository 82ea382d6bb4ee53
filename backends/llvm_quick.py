"""The quick native tier (-backend auto's first native one): the llvm backend's
code, compiled cheaply (llvm_jit's "quick" level: SROA, then -O0 code
generation: ~4x less compile time than the llvm tier, code 1.5-4x slower).

It shares the llvm tier's native state (chain slots, jump cache: quick and
full code chain into each other) and counts its own hotness, in guest
instructions: a quick TB's code subtracts from its countdown word (a word
per TB, llvm.NativeState.hot_word) a loop's instructions at each back-edge
and the path's at each exit, estimated from the code's layout
(llvm_emit.Emitter.count_hot), and checks it at each entry and back-edge:
at 0 or below (threads may lose a decrement, or take it below 0) the code
calls back into Python, where the TB's tiering.Hotness refills it and, at
the threshold (-opt-threshold instructions) and every ~ASK_TIME (1 ms) of
quick code after it, asks the engine; the code goes on meanwhile.  Under
the payback rule (a warm-up: tiering.NativePolicy.pays_back) the TB is
compiled again at the full level, in the compile thread, once its
instructions x NATIVE_INSN_COST (~0.8 ns of quick code per guest
instruction) is PAYBACK x the expected cost of optimizing a region of its
size (NativePolicy.compile_cost: ~3 ms + ~0.6 ms per instruction), so time
spent in code chained from other regions counts where it is spent, and
exits to Python, which optimizing does not remove, count for nothing.
(Until 2026-12-02 the exits of native code were sampled instead, each
native entry's time credited to the TB it left from: a chain A -> B -> C ->
exit credited C with all of it; strings under auto optimized 4 of its 40
quick regions, its loops staying on quick code.  Then, until 2026-12-02 too,
the code counted events, entries and back-edges, each standing for its
smallest loop's instructions: 4x too few for strings' main region, whose
loops run nested; it was optimized after 1.4 of its 2.4 s.)
So compile time follows where time is spent: hot regions get native code
after ~5 ms of compile, the ones where the program stays get the optimized
code.  Without a warm-up the count alone decides (deterministic tests).
"""
from . import llvm
from .llvm import unsupported, load, EMITTERS, finish, disassemble  # noqa: F401

name = "llvm-quick"
superblocks = True
entries = True             # (regions with other entries: llvm.py)
on_disk = True             # (its code is kept in the disk cache, llvm_cache.py, and its regions recorded: regionlog.py)
loads = True               # (a compiler to load before the first compile: load())
counts_hotness = True            # (a countdown word per TB: see above)


def compile(block, ctx):
    return llvm._state(ctx).compile(block, ctx, "quick")


def prepare(block, ctx):
    return llvm._state(ctx).prepare(block, ctx, "quick")
