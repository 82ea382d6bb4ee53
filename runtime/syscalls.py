"""Syscall dispatch: guest number -> name (from the frontend's table) -> handler.

Handlers live in family modules (`sys_fs`, `sys_mm`, `sys_proc`, `sys_time`,
`sys_signal`, ...) and register themselves by *name* with `@syscall("write")`, so
the runtime is the same for every guest ISA: only the number table differs.
A handler is `handler(proc, *args)` taking the raw 64-bit argument registers it
needs and returning the guest return value (negative errno on failure).  OSError
raised inside a handler becomes `-errno`; a GuestFault while touching guest
memory becomes -EFAULT.  Unknown numbers return -ENOSYS (`-d unimp` logs each once).
"""
import errno

from ..errors import GuestFault

HANDLERS = {}


def syscall(*names):
    def register(fn):
        for n in names:
            HANDLERS[n] = fn
        return fn
    return register


_families = []          # [True] once every family module is imported


def _load_families():
    _families.append(True)
    from . import (sys_fs, sys_mm, sys_proc, sys_time, sys_signal, sys_task, sys_arch, sys_poll,  # noqa: F401
                   sys_socket, sys_events, sys_timer, sys_io)  # (registration)


def dispatch(proc, nr, args, caught=False):
    """Run syscall `nr` with the six argument registers; returns the value for the guest."""
    dbg = proc.debugger
    if dbg is not None and not caught and dbg.target.catch_syscalls is not None:    # gdb's `catch syscall`
        return dbg.syscall(proc, nr, args, dispatch)
    if not _families:          # (not `HANDLERS`: a family imported on its own registers some)
        _load_families()
    name = proc.arch.syscall_names.get(nr)
    fn = HANDLERS.get(name) if name else None
    strace = proc.log.strace
    if fn is None:
        proc.log.unimp(nr, name)
        ret = -errno.ENOSYS
        if strace:
            proc.log.strace_line(proc, name or f"syscall_{nr}", args, ret, None)
        return ret
    if strace and name in ("exit", "exit_group", "execve"):
        proc.log.strace_line(proc, name, args, None, fn)
    try:
        ret = fn(proc, *args[:fn.__code__.co_argcount - 1])
    except OSError as e:
        ret = -(e.errno or errno.EIO)
    except GuestFault:
        ret = -errno.EFAULT
    if strace:
        proc.log.strace_line(proc, name, args, ret, fn)
    return ret
