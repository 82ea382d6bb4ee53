"""Host signals from outside, with their siginfo, whichever host thread the
kernel gives them to: a native SA_SIGINFO handler that records them in a pipe.

Why native: a signal sent to one guest thread (tgkill from another process) is
pending on that host thread only, so that thread must take it; CPython's own
handler keeps no siginfo and runs its Python part on the main thread only.  So
every asynchronous host signal (blocking.ASYNC and KICK) gets this handler, on
x86_64 hosts (20 instructions of machine code, below), and no guest
thread blocks them.  It writes one record per signal into a pipe: the host tid
that took it (8 bytes) and the kernel's 128-byte siginfo, in one write (atomic:
under PIPE_BUF).  A host thread of pydbt (signals.py) reads the pipe and queues
the guest signal: for the thread that took it if it came from tkill/tgkill
(si_code SI_TKILL: thread-directed), else for the process.  The handler uses
raw system calls only (no errno, no lock), and SA_RESTART, so a host call it
interrupts goes on; the kick that must interrupt one (blocking.py) comes after.

KICK (SIGRTMAX, pydbt's own signal that interrupts a blocked host call, no
SA_RESTART) has the same handler: a kick is one this process sent to one of
its own threads (si_code SI_TKILL and si_pid our pid: pthread_kill), which the
handler does not record; any other signal 64 is the guest's, sent from
outside.  (The guest's own kill/tgkill of itself never reach the host: they
are queued by pydbt directly.)  Limit: rt_tgsigqueueinfo from outside directs
a signal at a thread with a code other than SI_TKILL: it is taken as the
process's.

fork: the forking thread blocks the signals around fork(), and the child gets
a pipe of its own at the same numbers before it unblocks them (so a signal
for the child never lands in the parent's pipe).

Elsewhere (no machine code here for the host) `available()` is false and
signals.py keeps its other design: every thread blocks the asynchronous
signals and one thread takes them with sigwaitinfo (process-directed only).
"""
import ctypes
import fcntl
import mmap
import os
import resource
import signal
import struct

from . import ownfds

SI_TKILL = -6
RECORD = 8 + 128                       # host tid (u64), then siginfo_t
_SA_SIGINFO, _SA_RESTART = 0x4, 0x10000000


def _x86_64(write_fd):
    """handler(sig, info, ucontext): rdi, rsi, rdx (System V)."""
    record = b"".join([
        b"\x48\x81\xec\x88\x00\x00\x00",        # sub  rsp, 136
        b"\xb8\xba\x00\x00\x00",                # mov  eax, 186 (gettid)
        b"\x0f\x05",                            # syscall          (keeps rsi: info)
        b"\x48\x89\x04\x24",                    # mov  [rsp], rax
        b"\x48\x8d\x7c\x24\x08",                # lea  rdi, [rsp+8]
        b"\xb9\x80\x00\x00\x00",                # mov  ecx, 128
        b"\xf3\xa4",                            # rep movsb        (siginfo after the tid)
        b"\xb8\x01\x00\x00\x00",                # mov  eax, 1 (write)
        b"\xbf" + struct.pack("<i", write_fd),  # mov  edi, write_fd
        b"\x48\x89\xe6",                        # mov  rsi, rsp
        b"\xba\x88\x00\x00\x00",                # mov  edx, 136
        b"\x0f\x05",                            # syscall          (a full pipe: dropped)
        b"\x48\x81\xc4\x88\x00\x00\x00",        # add  rsp, 136
    ])
    own = b"".join([
        b"\xb8\x27\x00\x00\x00",                # mov  eax, 39 (getpid)
        b"\x0f\x05",                            # syscall
        b"\x39\x46\x10",                        # cmp  [rsi+16], eax   (si_pid)
        b"\x74" + bytes([len(record)]),         # je   done            (our own kick)
    ])
    return b"".join([
        b"\x83\x7e\x08\xfa",                    # cmp  dword [rsi+8], -6   (si_code == SI_TKILL?)
        b"\x75" + bytes([len(own)]),            # jne  record
        own, record,
        b"\xc3",                                # done: ret
    ])


_CODE = {"x86_64": _x86_64}.get(os.uname().machine)


def available():
    return _CODE is not None


class _Sigaction(ctypes.Structure):
    """glibc's struct sigaction (Linux x86_64)."""
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_recorder = None                        # the process's Recorder, once installed


class Recorder:
    def __init__(self, proc):
        r, w = os.pipe2(os.O_CLOEXEC)
        self.r, self.w = ownfds.hide(proc, r), ownfds.hide(proc, w)
        os.set_blocking(self.w, False)
        code = _CODE(self.w)
        self.mem = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.mem.write(code)
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))
        if _libc.mprotect(ctypes.c_void_p(self.addr), mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            raise OSError(ctypes.get_errno(), "mprotect")
        self.signals = set()

    def install(self, sig, restart=True):
        """Make the recorder sig's host handler."""
        act = _Sigaction()
        act.handler = self.addr
        act.flags = _SA_SIGINFO | (_SA_RESTART if restart else 0)
        if _libc.sigaction(sig, ctypes.byref(act), None) == 0:
            self.signals.add(sig)

    def read(self):
        """Wait for recorded signals: [(host tid, sig, siginfo bytes)]."""
        data = b""
        while not data or len(data) % RECORD:
            data += os.read(self.r, RECORD * 64)
        out = []
        for i in range(0, len(data), RECORD):
            tid = struct.unpack_from("<Q", data, i)[0]
            raw = data[i + 8:i + RECORD]
            out.append((tid, struct.unpack_from("<i", raw)[0], raw))
        return out

    # --- fork: the child's signals go to a pipe of its own ------------------------------
    def before_fork(self):
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def after_fork_parent(self):
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)

    def after_fork_child(self):
        try:
            self._own_pipe()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)

    def _own_pipe(self):
        r, w = os.pipe2(os.O_CLOEXEC)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        top = max(self.r, self.w) + 1            # (ownfds keeps them above the soft limit)
        if soft != resource.RLIM_INFINITY and soft < top:
            resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))
        try:
            os.dup2(r, self.r, inheritable=False)
            os.dup2(w, self.w, inheritable=False)
        finally:
            if soft != resource.RLIM_INFINITY and soft < top:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        os.close(r)
        os.close(w)
        flags = fcntl.fcntl(self.w, fcntl.F_GETFL)
        fcntl.fcntl(self.w, fcntl.F_SETFL, flags | os.O_NONBLOCK)


def start(proc, signals, kick):
    """Install the recorder for `signals` (SA_RESTART) and `kick` (without): the
    process's Recorder, or None where there is no handler for this host."""
    global _recorder
    if _CODE is None:
        return None
    if _recorder is None:
        _recorder = Recorder(proc)
        os.register_at_fork(before=lambda: _recorder.before_fork(),
                            after_in_parent=lambda: _recorder.after_fork_parent(),
                            after_in_child=lambda: _recorder.after_fork_child())
    for sig in signals:
        _recorder.install(sig)
    _recorder.install(kick, restart=False)
    return _recorder
