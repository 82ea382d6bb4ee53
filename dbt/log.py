"""-d logging items, -D log file, -dfilter, -strace and -d unimp output.

Guest stdout and stderr are never touched: diagnostics go to the -D file if given,
else to the stderr pydbt was started with (written with os.write so guest
buffering is not mixed; a copy of fd 2 of pydbt's own, runtime/process.py, so
the guest closing or reopening its fd 2 changes nothing).
"""
import os
import select

ITEMS = {
    "in_asm": "show guest instructions of each translated block",
    "op": "show the IR of each block before optimisation",
    "op_opt": "show the IR after optimisation",
    "out_asm": "show the backend's code for each block",
    "exec": "show each block executed",
    "cpu": "show the CPU state before each block executed",
    "nochain": "do not chain translated blocks",
    "strace": "log system calls (same as -strace)",
    "unimp": "log unimplemented system calls (once per number)",
    "page": "show the guest memory map after loading",
}


class Log:
    def __init__(self, items=(), filename=None, dfilter=None):
        bad = [i for i in items if i not in ITEMS]
        if bad:
            raise ValueError(f"unknown -d item '{bad[0]}' (try -d help)")
        self.items = set(items)
        self.strace = "strace" in self.items
        self.fd = 2
        self.filename = filename
        if filename:
            self.fd = self._open()
        self.dfilter = dfilter or []        # [(lo, hi)] pc ranges
        self._unimp_seen = set()

    def _open(self):
        return os.open(self.filename.replace("%d", str(os.getpid())),
                       os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644)

    def after_fork(self):
        """A forked child logs to its own file when the name has %d (else the same)."""
        if self.filename and "%d" in self.filename:
            fd = self._open()
            os.dup2(fd, self.fd, inheritable=False)
            os.close(fd)

    def on(self, item):
        return item in self.items

    def in_filter(self, pc):
        return not self.dfilter or any(lo <= pc < hi for lo, hi in self.dfilter)

    def write(self, text):
        """(A diagnostic that cannot be written is dropped: it never changes
        what the guest sees, its exit status included.)"""
        data = text.encode("utf-8", "replace")
        try:
            while data:
                try:
                    n = os.write(self.fd, data)
                except BlockingIOError:          # (a non-blocking stderr, full: wait, not drop)
                    select.select([], [self.fd], [])
                    continue
                data = data[n:]
        except OSError:
            pass

    def unimp(self, nr, name):
        if "unimp" in self.items and nr not in self._unimp_seen:
            self._unimp_seen.add(nr)
            self.write(f"Unsupported syscall: {nr}" + (f" ({name})" if name else "") + "\n")

    def strace_line(self, proc, name, args, ret, fn):
        from pydbt.runtime.strace import format_call
        self.write(format_call(proc, name, args, ret) + "\n")


def parse_dfilter(text):
    """'0x1000+0x100,0x2000-0x2fff,0x3000' -> [(lo, hi)] half-open ranges;
    ValueError with a message for the user when a part is not one of these."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "+" in part:
                a, n = part.split("+")
                lo, hi = int(a, 0), int(a, 0) + int(n, 0)
            elif "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a, 0), int(b, 0) + 1
            else:
                lo = int(part, 0)
                hi = lo + 1
        except ValueError:
            raise ValueError(f"-dfilter: bad range '{part}' (expected ADDR, ADDR+LEN or ADDR-LAST, "
                             f"e.g. 0x10000+0x100)") from None
        if lo < 0 or hi <= lo:
            raise ValueError(f"-dfilter: empty or reversed range '{part}'")
        out.append((lo, hi))
    return out
