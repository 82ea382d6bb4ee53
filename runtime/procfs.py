"""/proc as the guest must see it.

The host's /proc describes pydbt's Python process, so a few entries are
virtualised: `/proc/self/exe` (also spelled `/proc/<ourpid>/exe`,
`/proc/thread-self/exe`, `/proc/<pid>/task/<tid>/exe`) is the guest program; `maps`, `auxv`, `cmdline`, `comm` and `stat` of our own
process and `/proc/cpuinfo` are generated.  A generated file is an anonymous
host file (memfd) holding the text, reopened read-only so the guest gets an
ordinary O_RDONLY fd that `read`, `lseek`, `fstat` and `mmap` handle natively.

Another pydbt process of this run (a guest's child) is shown as its guest too:
`exe`, `cmdline`, `comm`, and the name in `stat` and `status` of /proc/<pid>/
come from its published identity (see identity.py); its other entries are the
host's.

sys_fs calls `open_virtual` before opening a path, `readlink_virtual` before
reading a link, and `redirect` before stat/access-style calls.
"""
import errno
import os

from . import abi, identity

O_ACCMODE = 3
_STRIP = 0o100 | 0o200 | 0o1000 | 0o20000000 | O_ACCMODE   # O_CREAT O_EXCL O_TRUNC O_TMPFILE, access


def _own(proc, path):
    """If `path` names an entry of our own /proc/<pid> directory, return that
    entry's name (b"maps", b"exe", ...); else None."""
    if not path.startswith(b"/proc/"):
        return None
    parts = [p for p in path.split(b"/") if p and p != b"."]
    pid = getattr(proc, "pid", None) or os.getpid()
    tid = getattr(proc, "tid", None) or pid
    mine = (b"self", str(pid).encode())
    if len(parts) == 3 and (parts[1] in mine or parts[1] == b"thread-self"):
        return parts[2]
    tids = {str(t).encode() for t in getattr(proc, "tasks", None) or (tid, pid)}
    if len(parts) == 5 and parts[1] in mine and parts[2] == b"task" and parts[3] in tids:
        return parts[4]                      # /proc/<pid>/task/<tid>/<entry> of any of our threads
    return None


def _other(path):
    """/proc/<pid>/<entry> or /proc/<pid>/task/<tid>/<entry> of another pydbt
    process of this run -> (its identity, entry), else None."""
    if not path.startswith(b"/proc/"):
        return None
    parts = [p for p in path.split(b"/") if p and p != b"."]
    if len(parts) == 5 and parts[2] == b"task" and parts[3].isdigit():
        parts = parts[:2] + parts[4:]
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    ident = identity.lookup(int(parts[1]))
    return (int(parts[1]), ident, parts[2]) if ident is not None else None


def _renamed(pid, entry, comm):
    """The host's /proc/<pid>/stat or status with the guest's name."""
    with open(b"/proc/%d/%s" % (pid, entry), "rb") as f:
        host = f.read()
    if entry == b"stat":
        return host[:host.index(b"(") + 1] + comm + host[host.rindex(b")"):]
    lines = host.split(b"\n")
    return b"\n".join(b"Name:\t" + comm if ln.startswith(b"Name:") else ln for ln in lines)


def _other_text(pid, ident, entry):
    exe, comm, cmdline = ident
    if entry == b"cmdline":
        return cmdline
    if entry == b"comm":
        return comm + b"\n"
    if entry in (b"stat", b"status"):
        return _renamed(pid, entry, comm)
    return None


def _fd_entry(proc, path):
    """/proc/{self,thread-self,<pid>}[/task/<tid>]/{fd,fdinfo}/N of our own
    process -> N (an int), else None."""
    parts = [p for p in path.split(b"/") if p and p != b"."]
    if len(parts) == 6 and parts[2] == b"task":
        parts = parts[:2] + parts[4:]
    pid = getattr(proc, "pid", None) or os.getpid()
    if len(parts) != 4 or parts[0] != b"proc" or parts[2] not in (b"fd", b"fdinfo"):
        return None
    if parts[1] not in (b"self", b"thread-self", str(pid).encode()) or not parts[3].isdigit():
        return None
    return int(parts[3])


def hidden_fd(proc, path):
    """True when `path` names one of pydbt's own descriptors under /proc (ENOENT)."""
    fds = getattr(proc, "reserved_fds", None)
    return bool(fds) and _fd_entry(proc, path) in fds


def is_fd_dir(fd):
    """True when host fd `fd` is open on our own /proc/<pid>/fd (or fdinfo) directory."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(f"/proc/{os.getpid()}/") and target.endswith(("/fd", "/fdinfo"))


def exe_path(proc):
    p = proc.exe_path
    return os.fsencode(os.path.abspath(p))


# --- generated contents ----------------------------------------------------------
def _merged(vmas):
    """Adjacent mappings the kernel would have merged into one vma (the same
    protection, flags and name, and for a file contiguous offsets): brk grown in
    steps is one [heap], a range mprotect-ed back is one line again."""
    out = []
    for v in vmas:
        if out:
            p = out[-1]
            if p.end == v.start and p.prot == v.prot and p.flags == v.flags and p.name == v.name and \
                    (not v.name.startswith("/") or p.offset + (p.end - p.start) == v.offset):
                out[-1] = type(v)(p.start, v.end, p.prot, p.flags, p.name, p.offset)
                continue
        out.append(v)
    return out


def maps_text(proc):
    lines = []
    inodes = {}
    for v in _merged(proc.mem.mappings()):
        dev_major = dev_minor = ino = 0
        name = v.name or ""
        if name.startswith("/"):
            if name not in inodes:
                try:
                    st = os.stat(name)
                    inodes[name] = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
                except OSError:
                    inodes[name] = (0, 0, 0)
            dev_major, dev_minor, ino = inodes[name]
        perms = ("r" if v.prot & 1 else "-") + ("w" if v.prot & 2 else "-") + \
                ("x" if v.prot & 4 else "-") + ("s" if v.flags & 1 else "p")
        offset = v.offset if name.startswith("/") else 0
        head = f"{v.start:08x}-{v.end:08x} {perms} {offset:08x} {dev_major:02x}:{dev_minor:02x} {ino} "
        if name:
            head = head.ljust(73) + name   # the kernel pads the path to column 73 on 64-bit
        lines.append(head + "\n")
    return "".join(lines).encode()


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def cpuinfo_text(proc):
    """/proc/cpuinfo: the frontend writes it (`arch.cpuinfo(ncpus)`), one entry per host CPU."""
    make = getattr(proc.arch, "cpuinfo", None)
    text = make(_cpu_count()) if callable(make) else \
        "".join(f"processor\t: {i}\n\n" for i in range(_cpu_count()))
    return text.encode()


_comm = identity.comm_of


def stat_text(proc):
    """The host's /proc/self/stat with the guest's name, size and addresses."""
    try:
        with open("/proc/self/stat", "rb") as f:
            host = f.read()
        rest = host[host.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        rest = [b"0"] * 50
    rest = rest + [b"0"] * (50 - len(rest))
    # rest[0] is field 3 (state); field n is rest[n - 3]
    vsize = sum(v.end - v.start for v in proc.mem.mappings())
    rest[23 - 3] = str(vsize).encode()
    for n in list(range(26, 31)) + list(range(45, 52)):
        rest[n - 3] = b"0"
    rest[28 - 3] = str(getattr(proc, "start_stack", 0) or 0).encode()
    pid = getattr(proc, "pid", os.getpid())
    return b"%d (%s) " % (pid, _comm(proc)) + b" ".join(rest[:50]) + b"\n"


_SELF = {
    b"maps": maps_text,
    b"auxv": lambda proc: bytes(getattr(proc, "auxv", b"") or b""),
    b"cmdline": lambda proc: b"".join(os.fsencode(a) + b"\0" for a in proc.argv),
    b"comm": lambda proc: _comm(proc) + b"\n",
    b"stat": stat_text,
}
_GLOBAL = {b"/proc/cpuinfo": cpuinfo_text}


def _generator(proc, path):
    entry = _own(proc, path)
    if entry is not None:
        return _SELF.get(entry)
    return _GLOBAL.get(os.path.normpath(path) if path.startswith(b"/proc/") else None)


def _memfd_with(data, flags):
    fd = os.memfd_create("pydbt-proc", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        # a read-only fd on the same file, with the guest's flags (O_CLOEXEC, O_NONBLOCK...)
        return abi.host_syscall("openat", abi.AT_FDCWD, b"/proc/self/fd/%d" % fd, flags & ~_STRIP)
    finally:
        os.close(fd)


def open_virtual(proc, path, flags=0):
    """Open a virtualised /proc path: returns a host fd, or None if `path` is not
    virtual.  `flags` are host open flags.  Writing to generated files is EACCES."""
    if not path.startswith(b"/proc/"):
        return None
    if _own(proc, path) == b"exe":
        return abi.host_syscall("openat", abi.AT_FDCWD, exe_path(proc), flags)
    gen = _generator(proc, path)
    if gen is not None:
        data = gen(proc)
    else:
        other = _other(path)
        if other is None:
            return None
        pid, ident, entry = other
        if entry == b"exe":
            return abi.host_syscall("openat", abi.AT_FDCWD, ident[0], flags)
        data = _other_text(pid, ident, entry)
        if data is None:
            return None
    if flags & O_ACCMODE:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    return _memfd_with(data, flags)


def readlink_virtual(proc, path):
    """Target of a virtualised /proc symlink (bytes) or None."""
    return redirect(proc, path)


def redirect(proc, path):
    """Host path to use for stat/access-style calls that follow links, or None."""
    if _own(proc, path) == b"exe":
        return exe_path(proc)
    other = _other(path) if path.endswith(b"/exe") else None
    return other[1][0] if other is not None else None
