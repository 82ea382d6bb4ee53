"""pydbt's own descriptors, out of the guest's way.

A guest fd is the host fd of the same number, so every descriptor pydbt keeps
for itself (the -D log file, a vfork pipe, ...) would be one the guest can
see, close or dup onto.  As QEMU moves its own out of the way, `hide` moves
each into a block of RESERVE numbers just below the soft RLIMIT_NOFILE pydbt
started with, and lowers the host's soft limit to the bottom of that block
(the first time).  So the host kernel itself gives the guest Linux's answers
at its (slightly lower) limit: open/dup/pipe fail with EMFILE, dup2 onto a
number at or above it with EBADF, F_DUPFD with EINVAL; getrlimit and
/proc/self/limits agree.  The numbers also go into `proc.reserved_fds`, which
sys_fs treats as closed (EBADF as arguments, skipped by close_range, ENOENT
under /proc/self/fd, left out of its listings): that still holds if the guest
raises its soft limit over the block (the only case where it could name them).

Nothing changes for a run that keeps no descriptor of its own.
"""
import fcntl
import os
import resource

RESERVE = 24                  # (TB stores: two per file with one of its own, execloop.SHARED_STORES)
NOFILE = resource.RLIMIT_NOFILE


def hide(proc, fd):
    """Move pydbt's own `fd` into the reserved block (close-on-exec); returns its
    new number, recorded in proc.reserved_fds.  If there is no room (a tiny
    limit, a full block), the fd keeps its number and is hidden all the same."""
    soft, hard = resource.getrlimit(NOFILE)
    block = getattr(proc, "own_fd_block", None)
    first = block is None
    if first:
        if soft == resource.RLIM_INFINITY or soft < 64:
            return _keep(proc, fd)
        block = (soft - RESERVE, soft)
    lo, hi = block
    after = lo if first else soft                # the soft limit the guest sees afterwards
    try:
        if soft < hi:
            resource.setrlimit(NOFILE, (hi, hard))
        try:
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lo)
        finally:
            resource.setrlimit(NOFILE, (after, hard))
    except (OSError, ValueError):
        return _keep(proc, fd)
    if new >= hi:                                # (the block is full)
        os.close(new)
        return _keep(proc, fd)
    proc.own_fd_block = block
    os.close(fd)
    proc.reserved_fds.add(new)
    return new


def _keep(proc, fd):
    os.set_inheritable(fd, False)
    proc.reserved_fds.add(fd)
    return fd


def release(proc, fd):
    """pydbt closes one of its own descriptors."""
    proc.reserved_fds.discard(fd)
    os.close(fd)
