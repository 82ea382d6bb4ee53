"""Guest test programs: the table of programs, building them with the riscv64
cross compiler, and running a program under qemu-riscv64 or pydbt.

Sources live in ``tests/guest/``; binaries go to ``tests/_build/`` (ignored by
git) and are rebuilt only when the source, the headers, the flags or the
compiler change (a stamp file next to each binary holds the hash).  Builds
run in parallel.

Also usable by hand::

    python tests/system/guestprogs.py build          # build everything
    python tests/system/guestprogs.py run NAME [ARGS...]   # run under qemu
    python tests/system/guestprogs.py list
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fcntl
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUEST_DIR = REPO / "tests" / "guest"
BUILD_DIR = REPO / "tests" / "_build"

CROSS_CC = os.environ.get("PYDBT_CROSS_CC", "riscv64-linux-gnu-gcc")
# where dynamically linked programs find their ELF interpreter and libraries (-L)
CROSS_SYSROOT = os.environ.get("PYDBT_CROSS_SYSROOT", "/usr/riscv64-linux-gnu")
QEMU = os.environ.get("PYDBT_QEMU", "qemu-riscv64")

BASE_CFLAGS = ("-static", "-Wall", "-Wextra", "-fno-strict-aliasing")
BASE_LIBS = ("-lm",)



def selected(backends):
    """The backend configurations (a dict, or (name, options) pairs) that this
    run tests: all of them, or the names listed in PYDBT_TEST_BACKENDS (comma
    separated; tests/run.sh's runs on other CPythons test the bytecode JIT,
    the part that differs between CPython versions)."""
    want = os.environ.get("PYDBT_TEST_BACKENDS")
    if not want:
        return backends
    names = set(want.split(","))
    if isinstance(backends, dict):
        return {k: v for k, v in backends.items() if k in names}
    return [b for b in backends if b[0] in names]

@dataclasses.dataclass(frozen=True)
class Program:
    """One guest executable built from one or more sources in tests/guest."""

    name: str
    sources: tuple[str, ...]
    opt: str = "-O2"
    cflags: tuple[str, ...] = ()
    libs: tuple[str, ...] = ()
    what: str = ""
    static: bool = True  # False: dynamically linked, run with -L CROSS_SYSROOT

    @property
    def emu_opts(self) -> tuple[str, ...]:
        """Options both qemu and pydbt need to run it."""
        return () if self.static else ("-L", CROSS_SYSROOT)

    def command(self, output: Path) -> list[str]:
        return [
            CROSS_CC,
            *(f for f in BASE_CFLAGS if self.static or f != "-static"),
            self.opt,
            *self.cflags,
            "-I",
            str(GUEST_DIR),
            "-o",
            str(output),
            *(str(GUEST_DIR / s) for s in self.sources),
            *self.libs,
            *BASE_LIBS,
        ]


def _p(name, sources=None, **kw) -> Program:
    return Program(name, tuple(sources or (name + ".c",)), **kw)


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in [
        _p("hello", what="hello world"),
        _p("argv_env", what="argv (with -- and empty strings), env var, exit 3"),
        _p("intarith", what="RV64IM edge cases: div/rem by 0, overflow, shifts, mulh*, W ops, lui/auipc"),
        _p("intarith_O0", ["intarith.c"], opt="-O0", what="intarith built at -O0"),
        _p("isa", what="RV64I loads/stores/branches/jumps/fences/ecall, Zicsr, counters"),
        _p("rvc", ["rvc.c", "rvc_ops.S"], what="compressed instructions (explicit c. mnemonics)"),
        _p("fp_arith", what="F/D arithmetic, min/max, compare, fclass, FMA, fflags, static rm, NaN-boxing"),
        _p("fp_convert", what="FP conversions in every rounding mode, fenv, libm rounding"),
        _p("atomics", libs=("-latomic",), what="lr/sc, every AMO .w/.d, __atomic builtins"),
        _p("fileio", what="file syscalls in a temp dir: read/write/lseek/pread/stat/readdir/rename/dup/pipe/chdir"),
        _p("xattr", what="extended attributes in a temp dir: set/get/list/remove by path, link and fd, errors"),
        _p("printf", cflags=("-Wno-format",), what="every printf conversion, flags, lengths, long double"),
        _p("qsort", what="qsort/bsearch of ints, strings, structs"),
        _p("setjmp", what="setjmp/longjmp nested and across frames, sigsetjmp"),
        _p("setjmp_O0", ["setjmp.c"], opt="-O0", what="setjmp built at -O0"),
        _p("malloc", what="malloc/realloc/calloc/memalign stress, mmap-sized blocks, mremap"),
        _p("segv", what="store to 0x10: dies of SIGSEGV"),
        _p("sigill", what="illegal instructions: dies of SIGILL"),
        _p("segv_recover", what="SIGSEGV handler + siglongjmp recovers"),
        _p("signals", what="SIGSEGV/SIGILL/SIGTRAP/SIGBUS handlers, ucontext edits, raise, masks, sigaltstack"),
        _p("slow_access", what="native code's slow ways in hot loops: misaligned and page-crossing "
                               "loads/stores, stores beside code being run"),
        _p("fault_loads", what="loads that fault in a hot loop (PROT_NONE, unmapped, across a page, "
                               "outside the space): SIGSEGV with exact si_addr, registers and pc"),
        _p("fault_stores", what="stores that fault in a hot loop (read-only, PROT_NONE, unmapped, across a "
                                "page, outside the space; into code run next): SIGSEGV with exact si_addr, "
                                "registers and pc, nothing written"),
        _p("smc", what="self-modifying code: patch + fence.i / clear_cache / mprotect"),
        _p("hostile_jump", what="jal/jalr to an unmapped or non-executable page: the fault is at the target, ra written"),
        _p("hostile_kill", what="kill(getpid(), sig) / raise(sig) with the default action: die, ignore or stop"),
        _p("hostile_sigbus", what="MAP_SHARED file truncated under the guest: SIGBUS at the access, EFAULT in a syscall"),
        _p("hostile_flush_icache", what="riscv_flush_icache flags (0/1 ok, else EINVAL) and code written then run"),
        _p("exec_stack", cflags=("-Wl,-z,execstack",),
           what="nested-function trampolines on a PT_GNU_STACK RWE (executable) stack"),
        _p("big_stack", what="'deep': 320 MiB of stack frames (run with -s 1g), signal handlers return there"),
        _p("hello_dyn", ["hello.c"], static=False, what="hello world, dynamically linked"),
        _p("printf_dyn", ["printf.c"], cflags=("-Wno-format",), static=False,
           what="printf, dynamically linked (libc through the PLT)"),
        _p("malloc_dyn", ["malloc.c"], static=False, what="malloc stress, dynamically linked"),
        _p("fp_convert_dyn", ["fp_convert.c"], static=False, what="fenv and libm.so, dynamically linked"),
        _p("dyn_loader", cflags=("-Wl,--as-needed",), static=False,
           what="dynamic: AT_BASE/AT_ENTRY/AT_PHDR, ld.so in maps and dladdr, /proc/self/exe, dlopen(libm)"),
        _p("procs", what="fork + pipe + wait of children (exit codes, signals), wait4/waitid, process groups; "
                         "vfork + execve, /proc/self/exe, #! scripts, exec errors"),
        _p("procs_dyn", ["procs.c"], static=False, what="procs, dynamically linked"),
        _p("threads", what="pthreads: mutex + condvar, exact counts, atomics, TLS, join values, exit_group "
                           "from a thread, fork with a lock held, code rewritten under a running thread, tkill"),
        _p("threads_dyn", ["threads.c"], static=False, what="threads, dynamically linked"),
        _p("threads_native", what="threads running translated code at once: AMOs, an amoswap spinlock, LR/SC "
                                   "loops, fetch_or/and, amomin/amomaxu with exact totals; signals to and fork beside "
                                   "a computing thread"),
        _p("prio", what="getpriority/setpriority, sched_{get,set}affinity, policies and params, ioprio_get"),
        _p("hostile_sys", cflags=("-Wno-int-conversion",),
           what="hostile syscall arguments (mm validation, EFAULT ranges, huge buffers, fd limits, "
                "close_range, /proc/self/maps offsets): each result printed"),
        _p("gdb_basic", opt="-O0", cflags=("-g",), what="gdbstub tests: locals, a call, a hot loop, code gdb patches"),
        _p("gdb_basic_dyn", ["gdb_basic.c"], opt="-O0", cflags=("-g",), static=False,
           what="gdb_basic, dynamically linked (gdb sees libc through the r_debug list)"),
        _p("gdb_threads", opt="-O0", cflags=("-g",), what="gdbstub tests: three threads through one function"),
        _p("gdb_fork", opt="-O0", cflags=("-g",), what="gdbstub tests: fork, both processes call one function"),
        _p("gdb_follow", opt="-O0", cflags=("-g",),
           what="gdbstub tests: fork, vfork+exec, exec and a write under gdb's follow-fork/exec modes"),
        _p("gdb_exec_target", opt="-O0", cflags=("-g",), what="gdbstub tests: the program gdb_follow execs"),
        _p("gdb_signals", opt="-O0", cflags=("-g",), what="gdbstub tests: a guest signal stops gdb, passed or not"),
        _p("timers", what="alarm + pause, setitimer ticks (then stopped), ITIMER_PROF, POSIX timers "
                           "(SIGEV_SIGNAL + sigval, overruns, SIGEV_NONE, SIGEV_THREAD_ID, CPU clock), "
                           "clock_getres, clock_nanosleep TIMER_ABSTIME"),
        _p("sigwait", what="sigsuspend woken by a child's kill, sigtimedwait (timeout, pending, siginfo), sigpending, "
                            "sigqueue/rt_tgsigqueueinfo values, signalfd (poll, read, epoll, a child's signal)"),
        _p("blocking", what="handled signals interrupting read/nanosleep/poll/waitpid (EINTR, time left), SA_RESTART "
                             "read, tgkill to a thread blocked in read; modes for SIGINT sent by the host tests"),
        _p("events", what="epoll over pipes (LT, ET, ONESHOT, 64-bit data, timeouts, sigmask), eventfd, "
                           "timerfd loop, inotify in a temp dir; 'kernel': epoll_pwait2 too"),
        _p("fileio2", what="sendfile/copy_file_range/splice/tee/vmsplice, flock and fcntl locks with a child "
                            "(signals during the wait), memfd, mincore/msync/mlock, membarrier, rusage, "
                            "an unprivileged child (set*id EPERM); 'kernel': mlock2 too"),
        _p("sockets", what="TCP echo over 127.0.0.1 and ::1 (fork), UDP, AF_UNIX socketpair + SCM_RIGHTS/"
                            "SCM_CREDENTIALS, named and abstract sockets, options (SO_RCVTIMEO timeout), "
                            "recvmsg flags, shutdown + SIGPIPE, sendmmsg/recvmmsg, NETLINK_ROUTE, errors; "
                            "'kernel': what qemu gets wrong; 'accept-wait': for SIGINT from the host tests"),
        _p("sockets_dyn", ["sockets.c"], static=False, what="sockets, dynamically linked"),
        _p("gdb_watch", opt="-O0", cflags=("-g",),
           what="gdbstub tests: watched globals (a hot loop, a read, a named thread), a SIGSEGV"),
        _p("gdb_loops", opt="-O0", cflags=("-g", "-gno-column-info"),
           what="gdbstub tests: a loop on one line (range stepping), a read gdb interrupts"),
        _p("hotloop", what="one hot loop of argv[1] iterations (tiering: a tier change while it runs)"),
        _p("cputime", what="the process's CPU time is its threads'"),
        _p("outside_signals", what="signals from outside"),
        _p("signalfd_churn", what="signalfd open/close churn"),
    ]
}


# ---------------------------------------------------------------------------
# tools


def missing_tools() -> str | None:
    """A human-readable reason when the cross compiler or qemu is missing."""
    missing = [t for t in (CROSS_CC, QEMU) if shutil.which(t) is None]
    if missing:
        return "not installed: " + ", ".join(missing) + " (needed to build and check guest programs)"
    return None


_cc_id_lock = threading.Lock()
_cc_id: str | None = None


def compiler_id() -> str:
    global _cc_id
    with _cc_id_lock:
        if _cc_id is None:
            out = subprocess.run([CROSS_CC, "--version"], capture_output=True, text=True, check=False)
            _cc_id = (shutil.which(CROSS_CC) or CROSS_CC) + "\n" + out.stdout
        return _cc_id


# ---------------------------------------------------------------------------
# building


class BuildError(Exception):
    pass


def build_key(prog: Program) -> str:
    h = hashlib.sha256()
    h.update(compiler_id().encode())
    h.update("\0".join(prog.command(Path("OUT"))).encode())
    for src in prog.sources:
        h.update(b"\0src\0" + src.encode() + b"\0")
        h.update((GUEST_DIR / src).read_bytes())
    for hdr in sorted(GUEST_DIR.glob("*.h")):
        h.update(b"\0hdr\0" + hdr.name.encode() + b"\0")
        h.update(hdr.read_bytes())
    return h.hexdigest()


def binary_path(name: str) -> Path:
    return BUILD_DIR / name


def build_program(prog: Program) -> Path:
    """Build one program (or reuse the cached binary); raise BuildError."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    out = binary_path(prog.name)
    stamp = out.with_name(out.name + ".stamp")
    key = build_key(prog)
    try:
        if out.exists() and stamp.read_text() == key:
            return out
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{prog.name}.", dir=BUILD_DIR)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        cmd = prog.command(tmp_path)
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise BuildError(
                f"building {prog.name} failed (exit {res.returncode}):\n$ {' '.join(cmd)}\n{res.stdout}{res.stderr}"
            )
        os.replace(tmp_path, out)
        stamp_tmp = stamp.with_name(stamp.name + f".{os.getpid()}.{threading.get_ident()}")
        stamp_tmp.write_text(key)
        os.replace(stamp_tmp, stamp)
        return out
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def build_all(programs=None, jobs: int | None = None) -> dict[str, Path | BuildError]:
    """Build programs in parallel.  Returns name -> binary path or BuildError."""
    programs = list(PROGRAMS.values() if programs is None else programs)
    jobs = jobs or max(2, os.cpu_count() or 2)
    results: dict[str, Path | BuildError] = {}
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    # one builder at a time (pytest-xdist workers each build): the others
    # wait, then find everything cached
    with open(BUILD_DIR / ".lock", "w") as lock, concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        fcntl.flock(lock, fcntl.LOCK_EX)
        futs = {pool.submit(build_program, p): p for p in programs}
        for fut in concurrent.futures.as_completed(futs):
            prog = futs[fut]
            try:
                results[prog.name] = fut.result()
            except BuildError as e:
                results[prog.name] = e
            except OSError as e:
                results[prog.name] = BuildError(f"building {prog.name}: {e}")
    return results


# ---------------------------------------------------------------------------
# running


@dataclasses.dataclass
class Result:
    argv: list[str]
    returncode: int | None
    stdout: bytes
    stderr: bytes
    elapsed: float
    timed_out: bool = False

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.elapsed:.1f}s"
        rc = self.returncode
        if rc is not None and rc < 0:
            try:
                return f"killed by {signal.Signals(-rc).name} ({rc})"
            except ValueError:
                return f"killed by signal {-rc}"
        return f"exit status {rc}"


def _child_setup():
    # no core dumps from guests that die of a signal (nor from the emulators)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv, *, env: dict[str, str], cwd: Path | str, timeout: float) -> Result:
    """Run argv with stdin from /dev/null; kill its whole process group on
    timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [os.fsencode(a) if isinstance(a, str) else a for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_child_setup,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        timed_out = True
    return Result(
        argv=[a if isinstance(a, str) else os.fsdecode(a) for a in argv],
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        elapsed=time.monotonic() - start,
        timed_out=timed_out,
    )


def build_c(tmp_path, name, source, *flags):
    """A static riscv64 program of a test's own, built from `source` (C text)
    in tmp_path with `flags`; its path."""
    src = Path(tmp_path) / (name + ".c")
    src.write_text(source)
    out = Path(tmp_path) / name
    r = run([CROSS_CC, "-static", "-O2", *flags, "-o", str(out), str(src)], env=dict(os.environ),
            cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.describe()
    return out


# two builds of one loop with the same layout (the same pcs and paths), not
# the same code: other shift and mask immediates (the code caches' stale records)
SAME_LAYOUT_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    unsigned long x = 88172645463325252UL, s = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << SHIFT;
        x ^= x >> 7;
        s += x & MASK;
    }
    printf("%lu %lu\n", x, s);
    return 0;
}
"""


def same_layout_pair(tmp_path):
    """(donor, binary): the two builds of SAME_LAYOUT_SRC."""
    return (build_c(tmp_path, "a", SAME_LAYOUT_SRC, "-DSHIFT=13", "-DMASK=0xff"),
            build_c(tmp_path, "b", SAME_LAYOUT_SRC, "-DSHIFT=11", "-DMASK=0x7f"))


def qemu_argv(binary: Path, args, opts=()) -> list[str]:
    return [QEMU, *opts, str(binary), *args]


def pydbt_argv(binary: Path, args, extra_opts=()) -> list[str]:
    return [sys.executable, "-m", "pydbt", "run", *extra_opts, str(binary), *args]


def drop_lines(data: bytes, prefixes) -> bytes:
    """Remove the lines that start with one of prefixes (bytes)."""
    kept = [ln for ln in data.splitlines(keepends=True) if not ln.startswith(tuple(prefixes))]
    return b"".join(kept)


QEMU_STDERR_PREFIXES = (b"qemu:", b"qemu-riscv64:")
PYDBT_STDERR_PREFIXES = (b"pydbt:",)


# ---------------------------------------------------------------------------


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd = argv[0]
    if cmd == "list":
        for p in PROGRAMS.values():
            print(f"{p.name:14} {' '.join(p.sources):24} {p.opt}  {p.what}")
        return 0
    reason = missing_tools()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    if cmd == "build":
        names = argv[1:] or list(PROGRAMS)
        t = time.monotonic()
        res = build_all([PROGRAMS[n] for n in names])
        bad = 0
        for name in names:
            r = res[name]
            if isinstance(r, BuildError):
                bad += 1
                print(r, file=sys.stderr)
            else:
                print(r)
        print(f"built {len(names) - bad}/{len(names)} in {time.monotonic() - t:.1f}s", file=sys.stderr)
        return 1 if bad else 0
    if cmd == "run":
        prog = PROGRAMS[argv[1]]
        binary = build_program(prog)
        os.execvp(QEMU, qemu_argv(binary, argv[2:], prog.emu_opts))
    print(f"unknown command {cmd!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
