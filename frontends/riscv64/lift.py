"""The lifter registry shared by the trans_rv* modules."""
TRANS = {}


def trans(*names):
    """Register a lifter `fn(ctx, insn)` for decoded instruction names."""
    def register(fn):
        for n in names:
            TRANS[n] = fn
        return fn
    return register


def illegal(ctx):
    """End the block with SIGILL at this instruction."""
    ctx.b.exception("illegal", ctx.pc, ctx.pc)
    ctx.end()
