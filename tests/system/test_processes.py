"""execve under pydbt, where qemu-riscv64 cannot be the oracle.

qemu-riscv64 hands a guest's execve to the host kernel, which runs a riscv64
program only through binfmt_misc (not set up on these machines: qemu answers
ENOEXEC) and runs a host x86_64 program natively.  The expected output here is
what Linux on riscv64 does, spelled out from the program's own logic: the
children's argv as the kernel builds it (a #! line's interpreter and argument,
then the script's path), close-on-exec descriptors closed, exit statuses
through wait, and ENOEXEC for a program of another ISA: a guest must never run
a host binary.
"""
import os
import subprocess
import sys

import pytest

import guestprogs

BACKENDS = guestprogs.selected([("interp", ["-backend", "interp"]), ("jit", ["-jit-threshold", "0"]), ("tiered", [])])


def pydbt(args, **kw):
    return subprocess.run([sys.executable, "-m", "pydbt", "run", *args], capture_output=True, timeout=300, **kw)


def child_lines(tag, name, n, argv0="procs"):
    return [f"child-exec argv[0]={argv0}", "child-exec argv[1]=child-exec", f"child-exec argv[2]={tag}",
            f"child-exec argv[3]={n}", "child-exec: fd 3 closed"] + ([f"{name}: exited {n}"] if name else [])


@pytest.mark.parametrize("backend,opts", BACKENDS, ids=[b for b, _ in BACKENDS])
@pytest.mark.parametrize("program", ["procs", "procs_dyn"])
def test_exec(guest_binary, tmp_path, backend, opts, program):
    binary = guest_binary(program)
    emu = [] if program == "procs" else ["-L", "/usr/riscv64-linux-gnu"]
    script = tmp_path / "script.sh"
    script.write_text(f"#!{binary} child-exec\n")
    script.chmod(0o644)                 # the program checks EACCES first, then sets the x bit
    r = pydbt([*opts, *emu, str(binary), "exec", str(binary), str(script)], cwd=tmp_path)
    expected = ["execve missing: -1 No such file or directory", "execve directory: -1 Permission denied",
                "execve no x bit: -1 EACCES"]
    expected += child_lines("vfork", "vfork child", 3) + child_lines("proc-self-exe", "/proc/self/exe child", 4)
    # a #! script: argv = [interpreter, its argument, the script's path, argv[1:]]
    expected += child_lines("script.sh", "script child", 5, binary.name) + child_lines("final", None, 6)
    assert r.stdout.decode().splitlines() == expected, r.stderr.decode()
    assert r.returncode == 6, r.stderr.decode()


@pytest.mark.parametrize("other", ["/bin/true", sys.executable])
def test_a_host_program_is_never_run(guest_binary, other):
    """execve of an x86_64 program answers ENOEXEC, as a riscv64 kernel would."""
    r = pydbt([str(guest_binary("procs")), "exec-other", os.path.realpath(other)])
    assert r.stdout.decode() == f"execve {os.path.realpath(other)}: Exec format error\n", r.stderr
    assert r.returncode == 0


@pytest.mark.parametrize("program", ["procs", "procs_dyn"])
def test_proc_of_children(guest_binary, program):
    """A parent reads /proc/<pid>/ of its children (comm, cmdline, exe, stat's
    name) and sees guests, as on Linux: a child that renamed itself with
    PR_SET_NAME, one that exec'd with another argv (comm = the file's name, the
    new cmdline), one as forked (its parent's comm and cmdline).  (qemu-riscv64
    shows its own host process there, so it cannot be the oracle.)"""
    binary = guest_binary(program)
    emu = [] if program == "procs" else ["-L", "/usr/riscv64-linux-gnu"]
    r = pydbt([*emu, str(binary), "proc-children", str(binary)])
    name = binary.name
    assert r.stdout.decode().splitlines() == [
        f"renamed child: comm=worker-a cmdline={name},proc-children,{name} exe={name} stat=(worker-a)",
        "child: exited 0",
        f"exec'd child: comm={name} cmdline=renamed,hold,10,11 exe={name} stat=({name})",
        "child: exited 0",
        f"forked child: comm={name} cmdline={name},proc-children,{name} exe={name} stat=({name})",
        "child: exited 0"], r.stderr.decode()
    assert r.returncode == 0, r.stderr.decode()
