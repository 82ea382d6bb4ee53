"""What another pydbt process of this run is running: its guest's exe, argv and name.

The host's /proc/<pid>/ of a guest's child describes a Python process (exe is
python, cmdline `python -m pydbt run ...`).  Every pydbt process therefore keeps
its guest identity in a buffer of its own memory at an address that is the same
in every process of the run: it is mapped once, before the first fork, and
forks inherit it at that address (copy-on-write: a child's identity is its
parent's until the child execs or renames itself, exactly as the kernel's).  A
process that wants another's identity reads that address through
`/proc/<pid>/mem` (the kernel checks the same ptrace access as for a debugger:
a parent may read its children) and accepts it only if it carries this run's
random token; anything else (a host program, a pydbt of another run, no access)
is not a guest of ours and keeps the host's view.

Layout: token (16 bytes), sequence (u64, odd while being written), then the
lengths of exe, comm and cmdline (u32 each) and the three byte strings.  No
files, no descriptors, nothing to clean up: the identity dies with its process.
"""
import ctypes
import mmap
import os
import struct

SIZE = 4 << 20                 # argv + a path + a name (the kernel's ARG_MAX-sized argv fits)
_HEAD = struct.Struct("<16sQIII")

_buf = None                    # this process's identity buffer (an anonymous private mapping)
_addr = 0
_token = b""
_seq = 0


def _ensure():
    global _buf, _addr, _token
    if _buf is None:
        _buf = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0))
        _addr = ctypes.addressof(ctypes.c_char.from_buffer(_buf))
        _token = os.urandom(16)


def comm_of(proc):
    """The task name as the kernel keeps it: set by execve (the file name's last
    component) or PR_SET_NAME, 15 bytes at most."""
    c = getattr(proc, "comm", None) or os.path.basename(os.fsencode(str(proc.exe_path)))
    return os.fsencode(c)[:15]


def publish(proc):
    """Record proc's guest identity (at start, after an execve, after PR_SET_NAME)."""
    global _seq
    _ensure()
    exe = os.fsencode(os.path.abspath(proc.exe_path or ""))
    comm = comm_of(proc)
    cmdline = b"".join(os.fsencode(a) + b"\0" for a in proc.argv)
    cmdline = cmdline[:SIZE - _HEAD.size - len(exe) - len(comm)]
    _seq += 1                                      # odd: being written
    _buf[:_HEAD.size] = _HEAD.pack(_token, _seq, 0, 0, 0)
    at = _HEAD.size
    for part in (exe, comm, cmdline):
        _buf[at:at + len(part)] = part
        at += len(part)
    _seq += 1
    _buf[:_HEAD.size] = _HEAD.pack(_token, _seq, len(exe), len(comm), len(cmdline))


def lookup(pid):
    """(exe, comm, cmdline) of pid if it is a pydbt process of this run, else None."""
    if _buf is None or pid == os.getpid():
        return None
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for _ in range(100):                       # (a writer mid-update: read again)
            head = os.pread(fd, _HEAD.size, _addr)
            if len(head) != _HEAD.size:
                return None
            token, seq, n_exe, n_comm, n_cmd = _HEAD.unpack(head)
            if token != _token:
                return None
            if seq & 1:
                continue
            body = os.pread(fd, n_exe + n_comm + n_cmd, _addr + _HEAD.size)
            if os.pread(fd, _HEAD.size, _addr) != head or len(body) != n_exe + n_comm + n_cmd:
                continue
            return body[:n_exe], body[n_exe:n_exe + n_comm], body[n_exe + n_comm:]
        return None
    except OSError:
        return None
    finally:
        os.close(fd)
