"""The target adapter for one guest process: what the command table acts on.

Registers (through the frontend's `gdb` register layout), memory (reads need
the page readable, writes ignore protection as ptrace's do and drop the
translations of code they touch), threads (the process's tasks), breakpoints
(a set the translator consults: inserting or removing one invalidates the TBs
of its page, so a block already compiled, a hot loop included, is translated
again and stops before it), watchpoints (ranges the guest memory checks:
runtime/memory.py's WATCH pages; no translation is dropped), and the resume
request the exec loop follows (which tasks single-step).
Architecture-neutral: nothing here names an ISA.

One Target per guest process (each process has its own agent, agent.py).
"""
import os

from pydbt.errors import GuestFault


class Target:
    def __init__(self, proc):
        self.proc = proc
        self.desc = proc.arch.gdb
        self.sw_breaks = set()
        self.hw_breaks = set()
        self.breakpoints = frozenset()      # what the translator stops before
        self.watches = {}                   # (kind, addr, length) -> how many times inserted
        self.stepping = set()               # tids that run one instruction, then stop
        self.ranges = {}                    # tid -> (start, end): it steps on while start <= pc < end
        self.catch_syscalls = None          # QCatchSyscalls: None off, empty = all, else numbers
        self.pass_signals = frozenset()     # QPassSignals: guest signals that do not stop gdb
        self.program_signals = None         # QProgramSignals: what a detach may pass on (None: not sent)
        self.stop_info = {}                 # tid -> (signal, info dict) of its stop (qXfer:siginfo)
        self.thread_events = False          # QThreadEvents: report thread creation and exit
        self.known_tids = set()             # threads gdb has heard of (a new one reports `create`)

    # --- identity ------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    def tids(self):
        return sorted(self.proc.tasks)

    def task(self, tid):
        return self.proc.tasks.get(tid)

    def thread_name(self, tid):
        task = self.task(tid)
        own = getattr(task, "comm", b"") if task is not self.proc.leader else b""    # (PR_SET_NAME)
        name = own or self.proc.comm or os.path.basename(self.proc.exe_path).encode()
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)

    # --- registers -----------------------------------------------------------------------
    def read_registers(self, tid):
        cpu = self.task(tid).cpu
        return b"".join(r.get(cpu).to_bytes(r.size, "little") for r in self.desc.registers)

    def write_registers(self, tid, data):
        cpu = self.task(tid).cpu
        off = 0
        for r in self.desc.registers:
            if off + r.size > len(data):
                break
            r.set(cpu, int.from_bytes(data[off:off + r.size], "little"))
            off += r.size

    def read_register(self, tid, num):
        r = self.desc.by_num.get(num)
        if r is None:
            return None
        return r.get(self.task(tid).cpu).to_bytes(r.size, "little")

    def write_register(self, tid, num, data):
        r = self.desc.by_num.get(num)
        if r is None or len(data) != r.size:
            return False
        r.set(self.task(tid).cpu, int.from_bytes(data, "little"))
        return True

    def pc(self, tid):
        return self.desc.by_num[self.desc.pc_num].get(self.task(tid).cpu)

    # --- memory --------------------------------------------------------------------------------
    def read_memory(self, addr, n):
        """Up to n bytes at addr: fewer when the range runs into an unreadable page
        (gdb then asks again from there and gets the error)."""
        mem = self.proc.mem
        out = b""
        while n > 0:
            chunk = min(n, 4096 - (addr & 4095))
            try:
                out += mem.read(addr, chunk)
            except (GuestFault, OverflowError, ValueError):
                break
            addr, n = addr + chunk, n - chunk
        return out

    def write_memory(self, addr, data):
        """Write as ptrace does (ignoring protection, not mapping anything): False
        when a page in the range is not mapped."""
        mem = self.proc.mem
        if not data:
            return True
        if addr < 0 or addr + len(data) > mem.space:
            return False
        for pg in range(addr >> 12, ((addr + len(data) - 1) >> 12) + 1):
            if mem.vma_at(pg << 12) is None:
                return False
        mem.poke(addr, data)            # (drops the translations of code it touches)
        self._invalidate(addr, addr + len(data))
        return True

    # --- breakpoints -------------------------------------------------------------------------------
    def insert_breakpoint(self, kind, addr):
        """kind 0: software, 1: hardware.  Software ones need the address readable."""
        if kind == 0 and not self.read_memory(addr, 1):
            return False
        (self.sw_breaks if kind == 0 else self.hw_breaks).add(addr)
        self._breaks_changed(addr)
        return True

    def remove_breakpoint(self, kind, addr):
        (self.sw_breaks if kind == 0 else self.hw_breaks).discard(addr)
        self._breaks_changed(addr)
        return True

    def _breaks_changed(self, addr):
        self.breakpoints = frozenset(self.sw_breaks | self.hw_breaks)
        self._invalidate(addr, addr + 1)

    # --- watchpoints -----------------------------------------------------------------------------
    WATCH_KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}

    def insert_watchpoint(self, kind, addr, length):
        """kind 2: write, 3: read, 4: access; any length (0 is taken as 1)."""
        key = (kind, addr, length)
        self.watches[key] = self.watches.get(key, 0) + 1
        self._watches_changed()
        return True

    def remove_watchpoint(self, kind, addr, length):
        key = (kind, addr, length)
        n = self.watches.pop(key, 0)
        if n > 1:
            self.watches[key] = n - 1
        self._watches_changed()
        return True

    def _watches_changed(self):
        mem = self.proc.mem
        first = not mem.watch_pages
        mem.set_watches([(a, n, self.WATCH_KINDS[k]) for k, a, n in self.watches])
        if first and mem.watch_pages and mem.unchecked_loads:
            # (native code loads with no check: it goes, and what is made while a
            # watch is on checks every load; see backends/llvm.py's fault_loads)
            engine = self.proc.engine
            if engine is not None:
                engine.cache.flush()

    def watching(self, kind, addr):
        """Is a watchpoint of this kind ("watch"...) still on addr?"""
        return any(self.WATCH_KINDS[k] == kind and a <= addr < a + max(n, 1) for k, a, n in self.watches)

    def stop_reason(self, pc):
        if pc in self.sw_breaks:
            return "swbreak"
        if pc in self.hw_breaks:
            return "hwbreak"
        return None

    # --- siginfo of a stop -------------------------------------------------------------------------
    def siginfo(self, tid):
        """The guest's siginfo_t of the signal that stopped tid (None: none)."""
        stop = self.stop_info.get(tid)
        return None if stop is None else self.desc.siginfo(*stop)

    def write_siginfo(self, tid, off, data):
        """gdb edits the siginfo the signal will be delivered with: False if tid has none."""
        stop = self.stop_info.get(tid)
        if stop is None:
            return False
        self.desc.siginfo_update(stop[0], stop[1], off, data)
        return True

    def catches(self, nr):
        c = self.catch_syscalls
        return c is not None and (not c or nr in c)

    def clear(self):
        """Detach: no breakpoint, no stepping left behind."""
        addrs = self.sw_breaks | self.hw_breaks
        self.sw_breaks, self.hw_breaks = set(), set()
        self.breakpoints = frozenset()
        self.stepping = set()
        self.ranges = {}
        if self.watches:
            self.watches = {}
            self._watches_changed()
        for a in addrs:
            self._invalidate(a, a + 1)

    def _invalidate(self, start, end):
        engine = self.proc.engine
        if engine is not None:
            engine.cache.invalidate_range(start, end)

    # --- files the target sees (vFile) ---------------------------------------------------------------
    def open_file(self, path, flags, mode):
        """A host fd for the guest's view of path: virtual /proc files first, then -L."""
        from pydbt.runtime import procfs
        fd = procfs.open_virtual(self.proc, path, flags)
        if fd is None:
            fd = os.open(self.proc.host_path(path), flags | os.O_CLOEXEC, mode)
        return fd

    def readlink(self, path):
        from pydbt.runtime import procfs
        link = procfs.readlink_virtual(self.proc, path)
        return link if link is not None else os.readlink(self.proc.host_path(path))

    # --- what gdb reads as objects --------------------------------------------------------------------
    def auxv(self):
        return bytes(self.proc.auxv or b"")

    def exe_path(self):
        return os.fsencode(os.path.abspath(self.proc.exe_path))
