"""ELF loading: check a guest program as Linux's binfmt_elf does, map it, build its stack.

`inspect(path)` reads the ELF header and the program headers (ELF64,
little-endian, read with struct: section headers are never looked at, as the
kernel never does) and checks every field before anything is mapped; any
problem is a UserError, one line naming the file.  `load(proc, image, ...)`
places the stack, the program and the sigreturn page in the guest space,
copies the segments in and builds the initial stack (strings at the top, then
AT_RANDOM bytes, auxv, envp, argv, argc at an aligned sp).

A dynamically linked program (PT_INTERP) also gets its ELF interpreter, as
binfmt_elf and QEMU do: an absolute name is looked up under -L first, then on
the host; the file goes through the same header checks as a program and must
be an ET_DYN for the same ISA; it is mapped at the top of the mmap area (the
highest free range below the stack's gap, top-down as Linux), execution starts
at its entry, and auxv carries AT_BASE = its load bias while AT_ENTRY/AT_PHDR/
AT_PHNUM/AT_EXECFN stay the program's.  ld.so then opens and maps the
libraries itself through the syscalls (paths rewritten under -L by
proc.host_path; the host's x86_64 /etc/ld.so.cache is opened as under qemu and
glibc ignores its entries for another ABI).

The rules, from the kernel's load_elf_binary/load_elf_phdrs/elf_map/elf_load
(where the kernel would fail exec with ENOEXEC/EINVAL/EIO, pydbt refuses):
  - e_phentsize is 56, 1 <= e_phnum and the table fits in one page (<= 73
    entries), and the table lies inside the file;
  - PT_INTERP: 2..4096 bytes inside the file, ending in NUL;
  - PT_LOAD: p_filesz <= p_memsz, p_vaddr + p_memsz inside the address space
    (here: below the stack, -s/-R), and, when it has file bytes,
    p_offset == p_vaddr modulo the page size (else mmap fails: EINVAL);
  - e_entry inside the address space.
Where pydbt is stricter than the kernel, and why:
  - EI_DATA must say little-endian (the kernel ignores the byte; QEMU refuses);
  - a segment's file bytes must lie inside the file: the kernel maps them and
    the guest dies of SIGBUS if it touches a page past the end, pydbt copies
    segments in and refuses a truncated file at once.
What is mapped follows the kernel: a segment maps whole file pages (the bytes
around it on its first and last page come from the file too), the rest of the
last file page is zeroed only if the segment is writable, its bss pages are
anonymous read-write (plus exec if the segment is), and a later segment
replaces an earlier one where their pages overlap.  AT_PHDR is where a PT_LOAD
maps e_phoff (0 + bias if none does); PT_PHDR is not consulted.

The stack: PT_GNU_STACK's PF_X decides whether it is executable; without
PT_GNU_STACK, the arch's `exec_stack_default` (riscv64 kernels and QEMU give a
non-executable stack).  Its size
(`-s`, default 8 MiB) is rounded up to whole pages and to at least 128 KiB, as
QEMU does.  Layout from the top of the guest space: the sigreturn page, the
stack, one unmapped guard page, a 1 MiB gap, then the top-down mmap area.  A
stack that does not fit, or that would overlap the program, is refused naming
-s/-R.  Arguments: as the kernel with RLIMIT_STACK = the stack size, the
argument and environment strings plus one pointer each may use a quarter of
the stack (at most 6 MiB, at least 128 KiB), no single string more than
128 KiB, and the whole initial frame must fit in the stack; otherwise
"Argument list too long" (E2BIG).  (QEMU lets strings fill the whole stack.)
"""
import errno
import os
import stat
import struct

from pydbt.errors import UserError
from pydbt.frontends import by_machine, KNOWN_MACHINES, REGISTRY
from .memory import PAGE, page_down, page_up, R, W, X, MAP_PRIVATE, MAP_ANONYMOUS

DEFAULT_STACK = 8 << 20
MIN_STACK = 32 * PAGE                 # QEMU's STACK_LOWER_LIMIT
MMAP_GAP = 1 << 20                    # between the stack's guard page and the mmap area

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
ET_EXEC, ET_DYN = 2, 3
ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
PT_LOAD, PT_INTERP, PT_GNU_STACK = 1, 3, 0x6474e551
PF_X, PF_W, PF_R = 1, 2, 4
PATH_MAX = 4096
MAX_ARG_STRLEN = 32 * PAGE
ARG_MAX = 32 * PAGE


class Segment:
    """One PT_LOAD program header."""
    __slots__ = ("flags", "offset", "vaddr", "filesz", "memsz", "align")

    def __init__(self, flags, offset, vaddr, filesz, memsz, align):
        self.flags, self.offset, self.vaddr = flags, offset, vaddr
        self.filesz, self.memsz, self.align = filesz, memsz, align

    @property
    def prot(self):
        """PF_W implies read, as Linux maps it (a write-only page is readable; there
        is no write-only page table entry); an exec-only page stays exec-only."""
        return (R if self.flags & (PF_R | PF_W) else 0) | (W if self.flags & PF_W else 0) | \
            (X if self.flags & PF_X else 0)


class Image:
    """What inspect() learned: the frontend, and every header field load() needs."""

    def __init__(self, path, arch, elf_type, interp, entry=0, phoff=0, phnum=0, phentsize=0,
                 loads=(), exec_stack=None):
        self.path, self.arch, self.elf_type, self.interp = path, arch, elf_type, interp
        self.entry, self.phoff, self.phnum, self.phentsize = entry, phoff, phnum, phentsize
        self.loads, self.exec_stack = list(loads), exec_stack


def pie_base(mem):
    """Where a position-independent program goes: an eighth of the way up."""
    return page_down(mem.space // 8)


def _size_text(n):
    for shift, unit in ((30, "g"), (20, "m"), (10, "k")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def _open(path):
    """Open the program for reading; non-regular files are refused as execve does (EACCES)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f"{path}: No such file or directory") from None
    except OSError as e:
        raise UserError(f"{path}: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UserError(f"{path}: Is a directory" if stat.S_ISDIR(st.st_mode)
                        else f"{path}: Permission denied (not a regular file)")
    return os.fdopen(fd, "rb")


def _read_at(f, offset, n):
    f.seek(offset)
    return f.read(n)


def inspect(path):
    with _open(path) as f:
        try:
            return _inspect(f, path)
        except OSError as e:
            raise UserError(f"{path}: {e.strerror or e}") from None


def _inspect(f, path):
    size = os.fstat(f.fileno()).st_size
    head = f.read(EHDR.size)
    if head[:4] != b"\x7fELF":
        raise UserError(f"{path}: not an ELF file")

    def bad(why):
        return UserError(f"{path}: malformed ELF file ({why})")

    if len(head) < EHDR.size:
        raise bad("truncated ELF header")
    (ident, e_type, e_machine, _version, e_entry, e_phoff, _shoff, _flags, _ehsize, e_phentsize,
     e_phnum, _shentsize, _shnum, _shstrndx) = EHDR.unpack(head)
    if ident[4] == 1:
        raise UserError(f"{path}: 32-bit ELF files are not supported")
    if ident[4] != 2:
        raise bad(f"bad EI_CLASS {ident[4]}")
    if ident[5] == 2:
        raise UserError(f"{path}: big-endian ELF files are not supported")
    if ident[5] != 1:
        raise bad(f"bad EI_DATA {ident[5]}")
    arch = by_machine(e_machine)
    if arch is None:
        name = KNOWN_MACHINES.get(e_machine, f"machine {e_machine}")
        known = ", ".join(n for n, _ in REGISTRY.values())
        raise UserError(f"{path}: {name} programs are not supported (guest ISAs: {known})")
    if e_type not in (ET_EXEC, ET_DYN):
        raise UserError(f"{path}: not an executable ({ET_NAMES.get(e_type, f'type {e_type}')})")
    if e_phentsize != PHDR.size:
        raise bad(f"e_phentsize is {e_phentsize}, not {PHDR.size}")
    if not 1 <= e_phnum <= PAGE // PHDR.size:
        raise bad(f"e_phnum is {e_phnum}, must be 1 to {PAGE // PHDR.size}")
    if e_phoff + e_phnum * PHDR.size > size:
        raise bad("the program headers lie past the end of the file")
    table = _read_at(f, e_phoff, e_phnum * PHDR.size)
    if len(table) != e_phnum * PHDR.size:
        raise bad("the program headers lie past the end of the file")
    interp, exec_stack, loads = None, None, []
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_align = \
            PHDR.unpack_from(table, i * PHDR.size)
        where = f"program header {i}"
        if p_type == PT_LOAD:
            if p_filesz > p_memsz:
                raise bad(f"{where}: p_filesz {p_filesz:#x} > p_memsz {p_memsz:#x}")
            if p_vaddr + p_memsz > 1 << 64:
                raise bad(f"{where}: p_vaddr + p_memsz overflows")
            if p_filesz:
                if (p_offset - p_vaddr) % PAGE:
                    raise bad(f"{where}: p_offset {p_offset:#x} and p_vaddr {p_vaddr:#x} "
                              f"differ modulo the page size")
                if p_offset + p_filesz > size:
                    raise bad(f"{where}: its {p_filesz} file bytes at offset {p_offset:#x} lie past "
                              f"the end of the file ({size} bytes): truncated file?")
            loads.append(Segment(p_flags, p_offset, p_vaddr, p_filesz, p_memsz, p_align))
        elif p_type == PT_INTERP and interp is None:
            if not 2 <= p_filesz <= PATH_MAX:
                raise bad(f"{where}: PT_INTERP of {p_filesz} bytes")
            name = _read_at(f, p_offset, p_filesz) if p_offset + p_filesz <= size else b""
            if len(name) != p_filesz:
                raise bad(f"{where}: PT_INTERP lies past the end of the file")
            if name[-1] != 0:
                raise bad(f"{where}: PT_INTERP is not NUL-terminated")
            interp = os.fsdecode(name[:-1])
        elif p_type == PT_GNU_STACK and exec_stack is None:
            exec_stack = bool(p_flags & PF_X)
    if not loads:
        raise UserError(f"{path}: no loadable segments")
    return Image(path, arch, "ET_EXEC" if e_type == ET_EXEC else "ET_DYN", interp, e_entry, e_phoff,
                 e_phnum, e_phentsize, loads, exec_stack)


def stack_layout(space, stack_size):
    """(stack_lo, stack_hi, sigreturn page) for a requested size; UserError if it cannot fit."""
    size = max(page_up(stack_size or DEFAULT_STACK), MIN_STACK)
    hi = space - PAGE                           # the sigreturn page is the top one
    lo = hi - size
    if lo - PAGE - MMAP_GAP < 1 << 20:
        raise UserError(f"-s {_size_text(stack_size or DEFAULT_STACK)}: the stack does not fit in the "
                        f"{_size_text(space)} guest address space (use a smaller -s or a larger -R)")
    return lo, hi, hi


def _place(image, mem, floor, base=None):
    """The load bias; UserError unless every segment and the entry lie below `floor`.
    An ET_DYN image goes at `base` (default: the PIE base), aligned up to its
    largest power-of-two p_align."""
    path = image.path
    if image.elf_type == "ET_DYN":
        align = _max_align(image)
        base = pie_base(mem) if base is None else base
        bias = (base + align - 1) // align * align
    else:
        bias = 0
    for s in image.loads:
        lo, hi = s.vaddr + bias, s.vaddr + bias + s.memsz
        if hi > floor:
            what = "the stack (use a smaller -s or a larger -R)" if hi <= mem.space else \
                f"the end of the {_size_text(mem.space)} guest address space (-R)"
            raise UserError(f"{path}: segment {lo:#x}-{hi:#x} reaches past {what}")
    if image.entry + bias >= mem.space:
        raise UserError(f"{path}: entry point {image.entry + bias:#x} lies outside the "
                        f"{_size_text(mem.space)} guest address space (-R)")
    return bias


def _max_align(image):
    return max([s.align for s in image.loads if s.align & (s.align - 1) == 0] + [PAGE])


# --- the ELF interpreter (PT_INTERP) ------------------------------------------------
def find_interp(proc, image):
    """The interpreter the program names, looked up as QEMU does: under -L first,
    then on the host path; inspected with the program's own header checks and
    required to be an ET_DYN ELF for the program's ISA.  Returns its Image."""
    name = image.interp
    where = [name]
    if proc.sysroot and name.startswith("/"):
        where.insert(0, proc.sysroot.rstrip("/") + name)
    path = next((w for w in where if os.path.exists(w)), None)
    prefix = f"{image.path}: ELF interpreter {name}"
    if path is None:
        hint = "use -L <sysroot> (e.g. -L /usr/riscv64-linux-gnu)" if not proc.sysroot else \
            f"is -L {proc.sysroot} the right sysroot?"
        raise UserError(f"{prefix} not found (looked in {' and '.join(where)}); {hint}")
    try:
        interp = inspect(path)
    except UserError as e:
        raise UserError(f"{prefix}: {e}") from None
    if interp.arch is not image.arch:
        raise UserError(f"{prefix}: {path} is a {interp.arch.name} ELF file, the program is "
                        f"{image.arch.name}")
    if interp.elf_type != "ET_DYN":
        raise UserError(f"{prefix}: {path} is {interp.elf_type}, an ELF interpreter must be "
                        f"ET_DYN (a shared object)")
    return interp


def _interp_base(mem, interp, top):
    """Where the interpreter goes: as Linux, the highest free range of the mmap
    area (below the stack's gap) that holds all its segments, suitably aligned."""
    lo = page_down(min(s.vaddr for s in interp.loads))
    span = page_up(max(s.vaddr + s.memsz for s in interp.loads)) - lo
    align = _max_align(interp)
    at = mem.find_free(span + align - PAGE, top)
    if at is None:
        raise UserError(f"{interp.path}: no room for the ELF interpreter in the "
                        f"{_size_text(mem.space)} guest address space (-R)")
    return (at + align - 1) // align * align - lo


def load(proc, image, argv, envp, execfn=None):
    """Map the program and build the stack; returns (entry, sp)."""
    mem = proc.mem
    arch = image.arch
    interp = find_interp(proc, image) if image.interp is not None else None
    stack_lo, stack_hi, tramp = stack_layout(mem.space, proc.stack_size)
    if proc.stack_size:
        proc.stack_size = stack_hi - stack_lo          # what getrlimit(RLIMIT_STACK) reports
    bias = _place(image, mem, stack_lo - PAGE)
    with _open(image.path) as f:
        try:
            phdr, hi = _map_segments(mem, image, f, bias)
        except OSError as e:
            raise UserError(f"{image.path}: {e.strerror or e}") from None
    mem.brk_start = mem.brk = page_up(hi)
    exec_stack = image.exec_stack if image.exec_stack is not None else \
        arch.exec_stack_default
    mem.map(stack_lo, stack_hi - stack_lo, R | W | (X if exec_stack else 0),
            MAP_PRIVATE | MAP_ANONYMOUS, name="[stack]")
    mem.mmap_top = stack_lo - PAGE - MMAP_GAP
    _map_sigreturn(proc, arch, tramp)
    entry = image.entry + bias
    proc.load_bias = bias
    proc.entry = entry
    start, interp_bias = entry, 0
    proc.shared_spans = []                      # (sys_mm: the libraries' places, and ld.so's)
    if interp is not None:
        interp_bias = _place(interp, mem, stack_lo - PAGE, _interp_base(mem, interp, mem.mmap_top))
        with _open(interp.path) as f:
            try:
                _, end = _map_segments(mem, interp, f, interp_bias)
            except OSError as e:
                raise UserError(f"{interp.path}: {e.strerror or e}") from None
        start = interp.entry + interp_bias
        # (its code: the same file at the same place in every program of this
        # stack layout, so its translations are shared: execloop's TB store)
        proc.shared_spans.append((interp.path, min(s.vaddr for s in interp.loads) + interp_bias, end))
    sp = _build_stack(proc, arch, argv, envp, execfn or image.path, stack_lo, stack_hi,
                      [(AT_PHDR, phdr), (AT_PHENT, image.phentsize), (AT_PHNUM, image.phnum),
                       (AT_PAGESZ, PAGE), (AT_BASE, interp_bias), (AT_FLAGS, 0), (AT_ENTRY, entry),
                       (AT_UID, os.getuid()), (AT_EUID, os.geteuid()), (AT_GID, os.getgid()),
                       (AT_EGID, os.getegid()), (AT_HWCAP, arch.hwcap), (AT_CLKTCK, 100),
                       (AT_SECURE, 0), (AT_HWCAP2, 0)])
    return start, sp


def _map_segments(mem, image, f, bias):
    """Map and fill the PT_LOAD segments in order, as elf_load does; returns (AT_PHDR, end)."""
    name = os.path.abspath(image.path)
    size = os.fstat(f.fileno()).st_size
    phdr, hi = bias, 0
    for s in image.loads:
        vaddr = s.vaddr + bias
        hi = max(hi, vaddr + s.memsz)
        if s.offset <= image.phoff < s.offset + s.filesz:
            phdr = image.phoff - s.offset + vaddr
        if s.filesz:
            start, end = page_down(vaddr), page_up(vaddr + s.filesz)
            off = page_down(s.offset)
            mem.map(start, end - start, R | W, MAP_PRIVATE, name=name, offset=off)
            _copy_in(mem, f, start, off, min(end - start, size - off), image.path)
            if s.memsz > s.filesz and s.flags & PF_W:
                mem.poke(vaddr + s.filesz, bytes(end - vaddr - s.filesz))
            mem.protect(start, end - start, s.prot)
            zero_start = end
        else:
            zero_start = page_down(vaddr)
        zero_end = page_up(vaddr + s.memsz)
        if s.memsz > s.filesz and zero_end > zero_start:
            mem.map(zero_start, zero_end - zero_start, R | W | (s.prot & X), MAP_PRIVATE | MAP_ANONYMOUS)
    return phdr, hi


def _copy_in(mem, f, guest, off, n, path, chunk=1 << 20):
    """Copy n file bytes at `off` to guest address `guest` (fresh zero pages): holes
    (SEEK_DATA/SEEK_HOLE) and all-zero chunks are skipped, so a huge sparse
    segment costs neither time nor memory."""
    fd, pos, end = f.fileno(), off, off + n
    while pos < end:
        try:
            data_at = os.lseek(fd, pos, os.SEEK_DATA)
            hole_at = min(os.lseek(fd, data_at, os.SEEK_HOLE), end)
        except OSError as e:
            if e.errno == errno.ENXIO:          # nothing but a hole up to the end of the file
                return
            data_at, hole_at = pos, end         # no SEEK_DATA here: read it all
        while data_at < hole_at:
            k = min(chunk, hole_at - data_at)
            data = os.pread(fd, k, data_at)
            if len(data) < k:
                raise UserError(f"{path}: the file shrank while it was being loaded")
            if data.strip(b"\0"):
                mem.poke(guest + data_at - off, data)
            data_at += k
        pos = hole_at                           # > pos: SEEK_HOLE lies past SEEK_DATA


def _map_sigreturn(proc, arch, addr):
    """The page the signal trampoline returns through (there is no vDSO)."""
    mem = proc.mem
    mem.map(addr, PAGE, R | W, MAP_PRIVATE | MAP_ANONYMOUS, name="[sigreturn]")
    mem.poke(addr, arch.sigreturn_code)
    mem.protect(addr, PAGE, R | X)
    proc.sigreturn_tramp = addr


def arg_limit(stack_size):
    """Bytes the argument and environment strings and their pointers may take (the
    kernel's bprm_stack_limits with RLIMIT_STACK = the stack size)."""
    return max(min(stack_size // 4, (8 << 20) // 4 * 3), ARG_MAX)


def _build_stack(proc, arch, argv, envp, execfn, stack_lo, stack_hi, aux):
    mem = proc.mem
    args = [os.fsencode(s) + b"\0" for s in argv]
    envs = [os.fsencode(s) + b"\0" for s in envp]
    name = os.fsencode(execfn) + b"\0"
    strings = args + envs + [name]
    nbytes = sum(map(len, strings))
    used = nbytes + (max(len(argv), 1) + len(envp)) * 8
    size = stack_hi - stack_lo
    limit = arg_limit(size)
    longest = max(map(len, strings))
    if used > limit or longest > MAX_ARG_STRLEN:
        why = (f"{used} bytes of arguments and environment, the limit with a "
               f"{_size_text(size)} stack is {limit} (-s)") if used > limit else \
            f"one string of {longest} bytes, the limit is {MAX_ARG_STRLEN}"
        raise UserError(f"{execfn}: Argument list too long ({why})")
    aux = aux + [(AT_RANDOM, 0), (AT_EXECFN, 0), (AT_NULL, 0)]
    frame = 8 + nbytes + 16 + 16 + (len(argv) + len(envp) + 3 + 2 * len(aux)) * 8 + arch.stack_align
    if frame > size:
        raise UserError(f"{execfn}: Argument list too long (the initial stack frame needs {frame} "
                        f"bytes, the stack is {size} (-s))")
    # as the kernel: a zero word at the very top, above it nothing; below it the
    # strings in ascending order argv[0].. envp[0].. execfn
    sp = stack_hi - 8 - nbytes
    mem.poke(sp, b"".join(strings))
    addrs, a = [], sp
    for s in strings:
        addrs.append(a)
        a += len(s)
    arg_addrs, env_addrs, execfn_addr = addrs[:len(args)], addrs[len(args):-1], addrs[-1]
    sp = (sp & ~15) - 16
    random_addr = sp
    mem.poke(random_addr, proc.random.randbytes(16) if proc.random is not None else os.urandom(16))
    aux[-3:] = [(AT_RANDOM, random_addr), (AT_EXECFN, execfn_addr), (AT_NULL, 0)]
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    auxv = b"".join(struct.pack("<QQ", k, v) for k, v in aux)
    total = len(words) * 8 + len(auxv)
    sp = (sp - total) & ~(arch.stack_align - 1)
    mem.poke(sp, struct.pack(f"<{len(words)}Q", *words) + auxv)
    proc.auxv = auxv
    return sp
