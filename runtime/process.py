"""One guest process: its memory, CPU, signals, options, and the engine running it."""
import os

from pydbt.stats import STATS
from pydbt.errors import UserError
from .memory import GuestMemory, default_space, MIN_SPACE


def _default_space():
    space = default_space()
    if space is None:
        raise UserError(f"the host address-space limit ('ulimit -v') leaves no room for a guest space "
                        f"of {MIN_SPACE >> 20} MiB; raise the limit")
    return space
from .signals import Signals
from . import syscalls


class Process:
    def __init__(self, arch, options, log):
        self.arch = arch
        self.options = options
        self.log = log
        self.mem = GuestMemory(options.reserved_va or _default_space())
        self.cpu = arch.new_cpu(self.mem)
        self.signals = Signals(self)
        self.sysroot = options.sysroot
        self.stack_size = options.stack_size
        self.random = None
        if options.seed is not None:
            import random
            self.random = random.Random(options.seed)
        self.pid = self.tid = os.getpid()
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        self.comm = b""
        self.reserved_fds = set()
        self.argv = []
        self.exe_path = ""
        self.auxv = b""
        self.engine = None

    def host_path(self, path):
        """Guest path (bytes) -> host path: under -L first for absolute paths, as QEMU."""
        if self.sysroot and path.startswith(b"/"):
            cand = os.fsencode(self.sysroot).rstrip(b"/") + path
            if os.path.lexists(cand):
                return cand
        return path

    def syscall(self, nr, args):
        return syscalls.dispatch(self, nr, args)

    def report_stats(self):
        fmt = self.options.stats
        if fmt:
            self.log.write(STATS.report(fmt) + "\n")
