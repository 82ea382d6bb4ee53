"""execve's checks before the point of no return: which image runs, or which errno.

`find_image(proc, filename, argv)` resolves the guest path (the -L rule;
`/proc/self/exe` is the running program), follows `#!` lines as the kernel's
binfmt_script does (at most 4 levels, the interpreter's path and its one
optional argument, then the script's path, then argv[1:]), and inspects the
ELF file with the loader's checks.  The answer is Linux's: ENOENT, EACCES
(not a regular file, not executable), ENOEXEC (not an ELF of a guest ISA: a
host x86_64 program is never run natively), ELOOP, E2BIG; or the Image and the
argv the new program gets.
"""
import errno
import os
import re
import stat

from pydbt.errors import UserError
from .loader import inspect, find_interp, arg_limit, DEFAULT_STACK

BINPRM_BUF_SIZE = 256
MAX_DEPTH = 4


def _err(e):
    return OSError(e, os.strerror(e))


def _resolve(proc, filename):
    """Guest path -> host path (bytes)."""
    if re.fullmatch(rb"/proc/(self|thread-self|%d)/exe" % proc.pid, filename):
        return os.fsencode(proc.exe_path)
    return proc.host_path(filename)


def _check_file(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _err(errno.ENOENT) from None
    except NotADirectoryError:
        raise _err(errno.ENOTDIR) from None
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        raise _err(errno.EACCES)


def find_image(proc, filename, argv, envp):
    argv = list(argv)
    for _ in range(MAX_DEPTH + 1):
        path = _resolve(proc, filename)
        _check_file(path)
        with open(path, "rb") as f:
            head = f.read(BINPRM_BUF_SIZE)
        if head[:2] != b"#!":
            break
        line = head[2:].split(b"\n", 1)[0].strip(b" \t")
        if not line:
            raise _err(errno.ENOEXEC)
        interp, _, arg = line.replace(b"\t", b" ").partition(b" ")
        arg = arg.strip(b" ")
        argv = [interp] + ([arg] if arg else []) + [filename] + argv[1:]
        filename = interp
    else:
        raise _err(errno.ELOOP)
    try:
        image = inspect(os.fsdecode(path))
    except UserError:
        raise _err(errno.ENOEXEC) from None
    if image.interp is not None:
        try:
            find_interp(proc, image)
        except UserError as e:        # (missing: ENOENT, as the kernel; unusable: ELIBBAD)
            raise _err(errno.ENOENT if " not found " in str(e) else errno.ELIBBAD) from None
    image.path = os.path.abspath(os.fsdecode(path))
    if sum(len(s) + 9 for s in argv + list(envp)) > arg_limit(proc.stack_size or DEFAULT_STACK):
        raise _err(errno.E2BIG)
    return image, argv
