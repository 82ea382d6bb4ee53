"""The packets one guest process serves while it is stopped (its agent's side,
agent.py), as one declarative table.

`COMMANDS` lists (name, how it matches, handler); `Session.handle(packet)`
finds the entry (exact names first, then the longest matching prefix) and runs
its handler on the rest of the packet.  A handler returns the reply's bytes, or
a `Resume` (the process runs again: the agent leaves the stopped state).  An
unknown packet gets the empty reply; a handler that fails on malformed input
gets `E01` (never an exception out of here).  Thread ids are gdb's multiprocess
form `p<pid>.<tid>` (hex) when gdb asked for multiprocess, else `<tid>`; a
vCont action naming another process is not this one's.  What concerns the
connection or every process (qSupported, no-ack mode, the thread list, which
process a packet goes to) is the supervisor's (supervisor.py).
"""
import errno
import os
import struct

from . import packets
from .gdbsignals import to_gdb, from_gdb

SIGTRAP = 5



def _signal_set(args):
    """gdb's `<sig>;<sig>...` (hex, gdb's numbering) -> the set of our signal numbers."""
    return frozenset(s for s in (from_gdb(_int(num)) for num in filter(None, args.split(b";"))) if s is not None)

class Resume:
    """What the guest does next: per thread, run (maybe with a signal), step
    (one instruction, or while the pc stays in a range), or stay stopped; or the
    process is killed, or gdb detaches."""

    def __init__(self, step=(), held=(), signals=None, kill=False, detach=False, ranges=None):
        self.step = set(step)
        self.ranges = ranges or {}       # tid -> (start, end): range stepping (vCont;r)
        self.held = set(held)
        self.signals = signals or {}
        self.kill = kill
        self.detach = detach


class Malformed(Exception):
    pass


OTHER = "other process"


def _hex(b):
    return b.hex().encode()


def _int(text):
    try:
        return int(text, 16)
    except ValueError:
        raise Malformed(text) from None


def _signal(text):
    """gdb's signal number (hex) -> Linux's; 0 stays 0 (no signal)."""
    num = _int(text)
    sig = from_gdb(num) if num else 0
    if sig is None:
        raise Malformed(text)
    return sig


# gdb's File-I/O errno numbers (the host's, except ENAMETOOLONG; EUNKNOWN otherwise)
_FIO_ERRNO = {e: e for e in (1, 2, 4, 9, 13, 14, 16, 17, 19, 20, 21, 22, 23, 24, 27, 28, 29, 30)}
_FIO_ERRNO[errno.ENAMETOOLONG] = 91
_FIO_EUNKNOWN = 9999


def _fio_error(e):
    return b"F-1,%x" % _FIO_ERRNO.get(getattr(e, "errno", None), _FIO_EUNKNOWN)


class Session:
    """The command side of one gdb connection to one process (the target adapter)."""

    def __init__(self, target):
        self.target = target
        self.multiprocess = False
        self.noack = False
        self.g_tid = None
        self.c_tid = None
        self.last_stop = (0, SIGTRAP, None)
        self.files = {}                  # vFile fd -> host fd

    # --- thread ids ------------------------------------------------------------------
    def thread_id(self, tid, pid=None):
        if self.multiprocess:
            return b"p%x.%x" % (self.target.pid if pid is None else pid, tid)
        return b"%x" % tid

    def parse_thread(self, text, others=False):
        """-> None (all threads), 0 (any) or a tid; OTHER for a thread of another
        process when `others` (vCont names them too), else Malformed."""
        if text.startswith(b"p"):
            pid, _, tid = text[1:].partition(b".")
            if pid not in (b"-1", b"0") and _int(pid) != self.target.pid:
                if others:
                    return OTHER
                raise Malformed(text)
            text = tid or b"-1"
        if text == b"-1":
            return None
        return _int(text)

    def _tid(self, tid):
        """A real tid for 0/None/gone: the current or first thread."""
        tids = self.target.tids()
        if tid in tids:
            return tid
        return self.g_tid if self.g_tid in tids else (tids[0] if tids else self.target.pid)

    # --- stop replies --------------------------------------------------------------------
    def stop_reply(self, tid, sig=SIGTRAP, reason=None):
        self.g_tid = self.c_tid = tid
        self.last_stop = (tid, sig, reason)
        return self._format_stop()

    def _format_stop(self):
        """(formatted when asked: `?` comes after qSupported chose the thread-id form)"""
        tid, sig, reason = self.last_stop
        r = b"T%02x" % (to_gdb(sig) or 0)
        if isinstance(reason, tuple):            # (name, value): fork:p1.1; exec:2f62...;
            r += reason[0].encode() + b":" + reason[1] + b";"
        elif reason:
            r += reason.encode() + b":;"
        return r + b"thread:" + self.thread_id(tid) + b";"

    def exit_reply(self, status):
        return b"W%02x;process:%x" % (status & 0xff, self.target.pid)

    def signal_reply(self, sig):
        return b"X%02x;process:%x" % (to_gdb(sig) or 0, self.target.pid)

    # --- dispatch ----------------------------------------------------------------------------
    def handle(self, packet):
        for name, exact, fn in _TABLE:
            if packet == name or not exact and packet.startswith(name):
                try:
                    return fn(self, packet[len(name):])
                except (Malformed, ValueError, IndexError, KeyError, OverflowError, struct.error):
                    return b"E01"
        return b""

    # --- general queries -----------------------------------------------------------------------
    def why_stopped(self, args):
        return self._format_stop()

    def current_thread(self, args):
        return b"QC" + self.thread_id(self._tid(self.g_tid))

    def thread_info_first(self, args):
        return b"m" + b",".join(self.thread_id(t) for t in self.target.tids())

    def thread_info_next(self, args):
        return b"l"

    def thread_alive(self, args):
        tid = self.parse_thread(args)
        return b"OK" if tid in self.target.tids() else b"E01"

    def set_thread(self, args):
        op, tid = args[:1], self.parse_thread(args[1:])
        if tid not in (None, 0) and tid not in self.target.tids():
            return b"E01"
        if op == b"g":
            self.g_tid = self._tid(tid)
        elif op == b"c":
            self.c_tid = tid
        else:
            return b"E01"
        return b"OK"

    # --- qXfer objects ---------------------------------------------------------------------------
    def xfer(self, args):
        obj, _, rest = args.partition(b":")
        op, _, rest = rest.partition(b":")
        if op == b"write" and obj == b"siginfo":      # qXfer:siginfo:write::<offset>:<binary data>
            annex, off, data = rest.split(b":", 2)
            data = packets.unescape(data)
            ok = self.target.write_siginfo(self._tid(self.g_tid), _int(off), data)
            return b"%x" % len(data) if ok else b"E01"
        annex, _, span = rest.rpartition(b":")
        if op != b"read":
            return b""
        off, _, length = span.partition(b",")
        off, length = _int(off), _int(length)
        if obj == b"features":
            data = self.target.desc.annexes.get(annex.decode())
            if data is None:
                return b"E00"
        elif obj == b"auxv":
            data = self.target.auxv()
        elif obj == b"exec-file":
            data = self.target.exe_path()
        elif obj == b"siginfo":
            data = self.target.siginfo(self._tid(self.g_tid))
            if data is None:
                return b"E01"
        else:
            return b""
        chunk = data[off:off + length]
        return (b"m" if off + len(chunk) < len(data) else b"l") + packets.escape(chunk)

    def thread_rows(self, args):
        """(the supervisor's request) this process's rows of qXfer:threads."""
        rows = []
        for tid in self.target.tids():
            name = self.target.thread_name(tid).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            rows.append(f'<thread id="{self.thread_id(tid).decode()}" core="0" name="{name}"/>\n')
        return "".join(rows).encode()

    # --- registers and memory ------------------------------------------------------------------------
    def read_registers(self, args):
        return _hex(self.target.read_registers(self._tid(self.g_tid)))

    def write_registers(self, args):
        self.target.write_registers(self._tid(self.g_tid), bytes.fromhex(args.decode()))
        return b"OK"

    def read_register(self, args):
        data = self.target.read_register(self._tid(self.g_tid), _int(args))
        return b"E01" if data is None else _hex(data)

    def write_register(self, args):
        num, _, value = args.partition(b"=")
        ok = self.target.write_register(self._tid(self.g_tid), _int(num), bytes.fromhex(value.decode()))
        return b"OK" if ok else b"E01"

    def read_memory(self, args):
        addr, _, n = args.partition(b",")
        n = min(_int(n), packets.MAX_PACKET // 2)
        data = self.target.read_memory(_int(addr), n)
        return _hex(data) if data or n == 0 else b"E14"

    def write_memory(self, args):
        head, _, value = args.partition(b":")
        addr, _, n = head.partition(b",")
        data = bytes.fromhex(value.decode())
        if len(data) != _int(n):
            return b"E01"
        return b"OK" if self.target.write_memory(_int(addr), data) else b"E14"

    def write_memory_binary(self, args):
        head, _, value = args.partition(b":")
        addr, _, n = head.partition(b",")
        data = packets.unescape(value)
        if len(data) != _int(n):
            return b"E01"
        return b"OK" if self.target.write_memory(_int(addr), data) else b"E14"

    # --- breakpoints ---------------------------------------------------------------------------------
    def _break(self, args, insert):
        kind, addr, length = (args.split(b";")[0].split(b",") + [b"", b""])[:3]
        kind, addr = _int(kind), _int(addr)
        t = self.target
        if kind in (2, 3, 4):            # watchpoints: write, read, access; length in bytes
            length = _int(length)
            ok = t.insert_watchpoint(kind, addr, length) if insert else t.remove_watchpoint(kind, addr, length)
            return b"OK" if ok else b"E01"
        if kind not in (0, 1):
            return b""
        ok = t.insert_breakpoint(kind, addr) if insert else t.remove_breakpoint(kind, addr)
        return b"OK" if ok else b"E14"

    def insert_break(self, args):
        return self._break(args, True)

    def remove_break(self, args):
        return self._break(args, False)

    # --- resuming --------------------------------------------------------------------------------------
    def vcont(self, args):
        actions = []
        for part in args.split(b";"):
            if not part:
                continue
            act, _, thread = part.partition(b":")
            kind, sig, span = act[:1], (_signal(act[1:]) if act[:1] in (b"C", b"S") else 0), None
            if kind == b"r":             # r<start>,<end>: step while start <= pc < end
                start, comma, end = act[1:].partition(b",")
                if not comma:
                    raise Malformed(part)
                span = (_int(start), _int(end))
            elif kind not in (b"c", b"C", b"s", b"S", b"t"):
                raise Malformed(part)
            who = self.parse_thread(thread, others=True) if thread else None
            if who is not OTHER:
                actions.append((kind, sig, who, span))
        if not args.strip(b";"):
            raise Malformed(args)
        res = Resume()
        for tid in self.target.tids():
            for kind, sig, who, span in actions:
                if who is None or who == 0 and tid == self._tid(None) or who == tid:
                    if kind in (b"s", b"S", b"r"):
                        res.step.add(tid)
                    if span is not None:
                        res.ranges[tid] = span
                    if kind == b"t":
                        res.held.add(tid)
                    if sig:
                        res.signals[tid] = sig
                    break
            else:
                res.held.add(tid)        # no action: it stays stopped
        return res

    def _simple_resume(self, step, args):
        sig = 0
        if args[:1] not in (b"", b";") and step in (b"C", b"S"):
            sig = _signal(args.split(b";")[0])
        tid = self._tid(self.c_tid)
        res = Resume(step=[tid] if step in (b"s", b"S") else [])
        if sig:
            res.signals[tid] = sig
        return res

    def cont(self, args):
        if args:
            self.target.task(self._tid(self.c_tid)).cpu.pc = _int(args)
        return self._simple_resume(b"c", b"")

    def step(self, args):
        if args:
            self.target.task(self._tid(self.c_tid)).cpu.pc = _int(args)
        return self._simple_resume(b"s", b"")

    def cont_signal(self, args):
        return self._simple_resume(b"C", args)

    def step_signal(self, args):
        return self._simple_resume(b"S", args)

    def catch_syscalls(self, args):
        """QCatchSyscalls:0 | QCatchSyscalls:1[;nr]...: stop at entry and return."""
        if args == b"0":
            self.target.catch_syscalls = None
        elif args == b"1":
            self.target.catch_syscalls = frozenset()      # every syscall
        elif args.startswith(b"1;"):
            self.target.catch_syscalls = frozenset(_int(n) for n in args[2:].split(b";"))
        else:
            raise Malformed(args)
        return b"OK"

    def thread_events(self, args):
        """QThreadEvents:1|0: report threads created (T05create) and exited (w)."""
        if args not in (b"0", b"1"):
            raise Malformed(args)
        self.target.thread_events = args == b"1"
        self.target.known_tids = set(self.target.tids())
        return b"OK"

    def thread_extra_info(self, args):
        """qThreadExtraInfo,<thread>: the thread's name (PR_SET_NAME), hex encoded."""
        tid = self.parse_thread(args.lstrip(b","))
        if tid not in self.target.tids():
            return b"E01"
        return _hex(("Name: " + self.target.thread_name(tid)).encode())

    def pass_signals(self, args):
        """QPassSignals:<sig>;...: signals that go to the guest without a stop."""
        self.target.pass_signals = _signal_set(args)
        return b"OK"

    def program_signals(self, args):
        """QProgramSignals:<sig>;...: the signals the program may see without gdb
        saying so (a detach passes a stopped thread's signal only if listed)."""
        self.target.program_signals = _signal_set(args)
        return b"OK"

    def kill(self, args):
        return Resume(kill=True)

    def detach(self, args):
        return Resume(detach=True)

    # --- host I/O (vFile) --------------------------------------------------------------------------------
    def vfile(self, args):
        op, _, rest = args.partition(b":")
        fields = rest.split(b",")
        try:
            if op == b"setfs":
                return b"F0"
            if op == b"open":
                path = bytes.fromhex(fields[0].decode())
                flags, mode = _int(fields[1]), _int(fields[2])
                if flags & 3:
                    return b"F-1,%x" % errno.EACCES    # read-only access to the target's files
                fd = self.target.open_file(path, os.O_RDONLY, mode)
                vfd = max(self.files, default=0) + 1
                self.files[vfd] = fd
                return b"F%x" % vfd
            if op == b"close":
                fd = self.files.pop(_int(fields[0]), None)
                if fd is None:
                    return b"F-1,%x" % errno.EBADF
                os.close(fd)
                return b"F0"
            if op == b"pread":
                fd = self.files.get(_int(fields[0]))
                if fd is None:
                    return b"F-1,%x" % errno.EBADF
                n = min(_int(fields[1]), packets.MAX_PACKET // 2)
                data = os.pread(fd, n, _int(fields[2]))
                return b"F%x;" % len(data) + packets.escape(data)
            if op == b"fstat":
                fd = self.files.get(_int(fields[0]))
                if fd is None:
                    return b"F-1,%x" % errno.EBADF
                st = os.fstat(fd)
                data = struct.pack(">7I3Q3I", st.st_dev & 0xffffffff, st.st_ino & 0xffffffff, st.st_mode,
                                   st.st_nlink, st.st_uid, st.st_gid, st.st_rdev & 0xffffffff, st.st_size,
                                   st.st_blksize, st.st_blocks, int(st.st_atime) & 0xffffffff,
                                   int(st.st_mtime) & 0xffffffff, int(st.st_ctime) & 0xffffffff)
                return b"F%x;" % len(data) + packets.escape(data)
            if op == b"readlink":
                link = self.target.readlink(bytes.fromhex(fields[0].decode()))
                return b"F%x;" % len(link) + packets.escape(link)
        except OSError as e:
            return _fio_error(e)
        return b""

    def close_files(self):
        for fd in self.files.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.files = {}


def _empty(session, args):
    return b""


# name, exact match?, handler
COMMANDS = [
    (b"?", True, Session.why_stopped),
    (b"qC", True, Session.current_thread),
    (b"qfThreadInfo", True, Session.thread_info_first),
    (b"qsThreadInfo", True, Session.thread_info_next),
    (b"T", False, Session.thread_alive),
    (b"H", False, Session.set_thread),
    (b"qXfer:", False, Session.xfer),
    (b"g", True, Session.read_registers),
    (b"G", False, Session.write_registers),
    (b"p", False, Session.read_register),
    (b"P", False, Session.write_register),
    (b"m", False, Session.read_memory),
    (b"M", False, Session.write_memory),
    (b"X", False, Session.write_memory_binary),
    (b"Z", False, Session.insert_break),
    (b"z", False, Session.remove_break),
    (b"vCont;", False, Session.vcont),
    (b"c", False, Session.cont),
    (b"s", False, Session.step),
    (b"C", False, Session.cont_signal),
    (b"S", False, Session.step_signal),
    (b"vKill", False, Session.kill),
    (b"k", True, Session.kill),
    (b"D", False, Session.detach),
    (b"vFile:", False, Session.vfile),
    (b"QCatchSyscalls:", False, Session.catch_syscalls),
    (b"QPassSignals:", False, Session.pass_signals),
    (b"QProgramSignals:", False, Session.program_signals),
    (b"QThreadEvents:", False, Session.thread_events),
    (b"qThreadExtraInfo", False, Session.thread_extra_info),
    (b"@rows", True, Session.thread_rows),
    (b"qTStatus", True, _empty),
]
# exact names first, then the longest prefix wins
_TABLE = sorted(COMMANDS, key=lambda c: (not c[1], -len(c[0])))
