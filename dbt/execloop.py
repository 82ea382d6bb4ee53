"""The exec loop: find or translate the TB at pc, run it, follow its chain.

Translated code runs until it raises: `Syscall` goes to the runtime's dispatcher,
`GuestFault` to signal delivery, `Breakpoint` becomes SIGTRAP.  Between those,
the loop only looks up TBs: a TB's direct exit that has been taken once is
linked to its successor (`tb.links[slot]`), so the dictionary is consulted only
for indirect jumps and first executions.  Architecture-neutral: the frontend
object supplies translation and the syscall ABI.
"""
import signal
import time

from .errors import Syscall, GuestFault, Breakpoint, TRAP_BRKPT
from .ir import format_block, verify
from .passes import optimize
from .stats import STATS
from .tb import TB, TBCache


class Engine:
    def __init__(self, proc, backend, chaining=True, max_insns=512, verify_ir=False,
                 disabled_passes=()):
        self.proc = proc
        self.arch = proc.arch
        self.mem = proc.mem
        self.log = proc.log
        self.backend = backend
        self.cache = TBCache(proc.mem, chaining=chaining and not proc.log.on("nochain"))
        self.max_insns = max_insns
        self.verify_ir = verify_ir
        self.disabled_passes = disabled_passes
        self.slow = any(proc.log.on(i) for i in ("exec", "cpu"))

    # --- translation -------------------------------------------------------------
    def translate(self, pc):
        log = self.log
        t0 = time.perf_counter()
        block = self.arch.translate(self.mem, pc, self.max_insns)
        logged = log.in_filter(pc)
        if logged and log.on("in_asm"):
            self._log_in_asm(block)
        if logged and log.on("op"):
            log.write(f"OP:\n{format_block(block, self.arch.global_names)}\n")
        if self.verify_ir:
            verify(block)
        optimize(block, self.disabled_passes)
        if self.verify_ir:
            verify(block)
        if logged and log.on("op_opt"):
            log.write(f"OP after optimization:\n{format_block(block, self.arch.global_names)}\n")
        t1 = time.perf_counter()
        fn = self.backend.compile(block, self.proc)
        t2 = time.perf_counter()
        STATS.translate_time += t1 - t0
        name = self.backend.name
        STATS.compile_time[name] = STATS.compile_time.get(name, 0.0) + (t2 - t1)
        last = pc + max(block.size, 1) - 1
        pages = list(range(pc >> 12, (last >> 12) + 1))
        nexits = sum(1 for op in block.ops if op.name == "goto_tb")
        tb = TB(pc, block.size, block.ninsns, fn, pages, nexits)
        self.cache.add(tb)
        return tb

    def _log_in_asm(self, block):
        code = self.mem.buf[block.pc:block.pc + block.size]
        lines = [f"IN:"] + [f"0x{a:016x}:  {t}" for a, t in self.arch.disassemble(code, block.pc)]
        self.log.write("----------------\n" + "\n".join(lines) + "\n\n")

    # --- execution -----------------------------------------------------------------
    def run_until_exception(self, cpu):
        """Run TBs from cpu.pc until one raises; the exception propagates."""
        cache = self.cache
        get = cache.by_pc.get
        stats = STATS
        pc = cpu.pc
        if self.slow:
            return self._run_logged(cpu)
        pending = self.proc.signals.pending       # filled by host signal handlers
        tb = get(pc) or self.translate(pc)
        while True:
            pc, slot = tb.fn(cpu)
            if pending:                            # deliver at this TB boundary
                cpu.pc = pc
                return
            stats.tb_executions += 1
            stats.guest_insns += tb.ninsns
            nxt = tb.links[slot] if slot >= 0 else None
            if nxt is None:
                nxt = get(pc)
                if nxt is None:
                    stats.cache_misses += 1
                    cpu.pc = pc
                    nxt = self.translate(pc)
                else:
                    stats.cache_hits += 1
                if slot >= 0:
                    cache.link(tb, slot, nxt)
            tb = nxt

    def _run_logged(self, cpu):
        log = self.log
        while True:
            pc = cpu.pc
            tb = self.cache.by_pc.get(pc) or self.translate(pc)
            if log.in_filter(pc):
                if log.on("exec"):
                    log.write(f"Trace: [{tb.pc:016x}] {tb.ninsns} insns\n")
                if log.on("cpu"):
                    log.write(cpu.dump())
            cpu.pc, _ = tb.fn(cpu)
            STATS.tb_executions += 1
            STATS.guest_insns += tb.ninsns
            if self.proc.signals.pending:
                return

    def run(self, cpu):
        """The CPU loop: run guest code, serve syscalls and faults, until exit."""
        proc = self.proc
        arch = self.arch
        while True:
            try:
                self.run_until_exception(cpu)       # returns when a signal is pending
            except Syscall as e:
                cpu.pc = e.next_pc
                STATS.syscalls += 1
                nr, args = arch.syscall_args(cpu)
                ret = proc.syscall(nr, args)
                if ret is not None:
                    arch.set_syscall_result(cpu, ret)
            except GuestFault as e:
                cpu.pc = e.pc if e.pc is not None else cpu.pc
                proc.signals.fault(cpu, e)
            except Breakpoint as e:
                cpu.pc = e.pc
                proc.signals.fault(cpu, GuestFault(signal.SIGTRAP, TRAP_BRKPT, e.pc, e.pc))
            proc.signals.deliver_pending(cpu)
