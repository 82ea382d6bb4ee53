"""The baseline native tier: TBs made into x86-64 machine code by Python
(x64_emit.py), with no LLVM in the way: about the bytecode JIT's compile cost,
in the guest's thread, for code a few times slower than LLVM's optimized code
and tens of times faster than the bytecode JIT's.  It shares the llvm backend's
native state (llvm.py: chain slots, jump cache, exits, callbacks: baseline and
LLVM code chain into each other) and counts its hotness as quick LLVM code does
(a countdown word per TB: llvm_quick.py), so -backend auto can optimize its hot
regions with LLVM."""
from . import llvm
from . import hostcpu, x64_emit

name = "baseline"
superblocks = True
entries = True
on_disk = False                  # (made anew in each run: no disk cache, no region records)
keeps = True                     # (its code is kept in the TB store: kept, load_kept)
counts_hotness = True
EMITTERS = (x64_emit,)


def unsupported():
    return hostcpu.unsupported()


def compile(block, ctx):
    """The whole compile at once, in the guest's thread (~1 ms: no `prepare`
    and `finish` halves for the compile thread, and no share of the run's
    compile time to ask for, -compile-share being LLVM's)."""
    return llvm._state(ctx).compile(block, ctx, llvm.BASELINE)


def kept(fn):
    """What fn's code is, for the engine's TB store (its run's numbers as
    relocations: llvm.NativeState.kept), or None."""
    nat = getattr(fn, "native", None)
    return None if nat is None else nat.state.kept(nat)


def load_kept(pc, nexits, kept, ctx):
    """The TB function of code kept() gave (in a run before, or another
    process), with this run's numbers; None if it does not fit this run."""
    st = llvm._state(ctx)
    nat = st.prepare_kept(pc, nexits, kept, ctx)
    return None if nat is None else st.finish(nat)


def kept_variant(ctx):
    """What else kept code depends on: this run's constants in it, the host
    CPU's features it uses, the sources that make it."""
    return llvm._state(ctx).kept_variant()


def disassemble(fn):
    return x64_emit.disassemble(fn.native.blob, fn.native.addr)
