"""ELF loading: map a guest program and build its initial stack as the kernel does.

`inspect(path)` checks the file (ELF, class, machine -> frontend) and raises
UserError with one clear line for anything pydbt cannot run.  `load(proc, ...)`
maps the PT_LOAD segments (static at their addresses, static-PIE at a chosen
base), sets up brk, and builds the stack: strings at the top, then AT_RANDOM
bytes, the auxiliary vector, envp, argv and argc at a 16-byte aligned sp.
"""
import os
import struct

from elftools.elf.elffile import ELFFile
from elftools.common.exceptions import ELFError

from pydbt.errors import UserError
from pydbt.frontends import by_machine, KNOWN_MACHINES, REGISTRY
from .memory import PAGE, page_down, page_up, R, W, X, MAP_PRIVATE, MAP_ANONYMOUS

DEFAULT_STACK = 8 << 20

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31


class Image:
    """What inspect() learned: enough to pick the frontend before loading."""

    def __init__(self, path, arch, elf_type, interp):
        self.path, self.arch, self.elf_type, self.interp = path, arch, elf_type, interp


def pie_base(mem):
    """Where a position-independent program goes: an eighth of the way up."""
    return page_down(mem.space // 8)


def inspect(path):
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path}: No such file or directory") from None
    except IsADirectoryError:
        raise UserError(f"{path}: Is a directory") from None
    except PermissionError:
        raise UserError(f"{path}: Permission denied") from None
    with f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            raise UserError(f"{path}: not an ELF file")
        try:
            elf = ELFFile(f)
            e_type = elf.header.e_type
            interp = None
            for seg in elf.iter_segments():
                if seg.header.p_type == "PT_INTERP":
                    interp = seg.get_interp_name()
        except (ELFError, struct.error, ValueError) as e:
            raise UserError(f"{path}: malformed ELF file ({e})") from None
    if head[4] != 2:
        raise UserError(f"{path}: 32-bit ELF files are not supported")
    raw_machine = struct.unpack_from("<H", head, 18)[0]
    arch = by_machine(raw_machine)
    if arch is None:
        name = KNOWN_MACHINES.get(raw_machine, f"machine {raw_machine}")
        known = ", ".join(n for n, _ in REGISTRY.values())
        raise UserError(f"{path}: {name} programs are not supported (guest ISAs: {known})")
    if e_type not in ("ET_EXEC", "ET_DYN"):
        raise UserError(f"{path}: not an executable ({e_type})")
    return Image(path, arch, e_type, interp)


def _prot(p_flags):
    return (R if p_flags & 4 else 0) | (W if p_flags & 2 else 0) | (X if p_flags & 1 else 0)


def load(proc, image, argv, envp, execfn=None):
    """Map the program and build the stack; returns (entry, sp)."""
    mem = proc.mem
    arch = image.arch
    with open(image.path, "rb") as f:
        elf = ELFFile(f)
        if image.interp is not None:
            raise UserError(f"{image.path}: dynamically linked programs are not supported yet "
                            f"(needs interpreter {image.interp}); build it with -static")
        bias = pie_base(mem) if image.elf_type == "ET_DYN" else 0
        loads = [s for s in elf.iter_segments() if s.header.p_type == "PT_LOAD"]
        if not loads:
            raise UserError(f"{image.path}: no loadable segments")
        phdr = None
        for s in elf.iter_segments():
            if s.header.p_type == "PT_PHDR":
                phdr = s.header.p_vaddr + bias
        # the protection of every page: a page shared by two segments gets both
        page_prot = {}
        for seg in loads:
            h = seg.header
            for pg in range(page_down(h.p_vaddr + bias), page_up(h.p_vaddr + bias + h.p_memsz), PAGE):
                page_prot[pg] = page_prot.get(pg, 0) | _prot(h.p_flags)
        if max(page_prot) + PAGE > mem.space:
            raise UserError(f"{image.path}: a segment lies outside the guest address space")
        runs = _runs(page_prot)
        name = os.path.abspath(image.path)
        for start, end, _ in runs:           # writable while the file is copied in
            mem.map(start, end - start, R | W, MAP_PRIVATE, name=name)
        hi = 0
        for seg in loads:
            h = seg.header
            f.seek(h.p_offset)
            mem.poke(h.p_vaddr + bias, f.read(h.p_filesz))
            if phdr is None and h.p_offset <= elf.header.e_phoff < h.p_offset + h.p_filesz:
                phdr = h.p_vaddr + bias + elf.header.e_phoff - h.p_offset
            hi = max(hi, h.p_vaddr + bias + h.p_memsz)
        for start, end, prot in runs:
            mem.protect(start, end - start, prot)
        entry = elf.header.e_entry + bias
        phnum, phent = elf.header.e_phnum, elf.header.e_phentsize
    mem.brk_start = mem.brk = page_up(hi)
    _map_sigreturn(proc, arch)
    proc.load_bias = bias
    proc.entry = entry
    sp = _build_stack(proc, arch, argv, envp, execfn or image.path,
                      [(AT_PHDR, phdr or 0), (AT_PHENT, phent), (AT_PHNUM, phnum),
                       (AT_PAGESZ, PAGE), (AT_BASE, 0), (AT_FLAGS, 0), (AT_ENTRY, entry),
                       (AT_UID, os.getuid()), (AT_EUID, os.geteuid()), (AT_GID, os.getgid()),
                       (AT_EGID, os.getegid()), (AT_HWCAP, arch.hwcap), (AT_CLKTCK, 100),
                       (AT_SECURE, 0), (AT_HWCAP2, 0)])
    return entry, sp


def _map_sigreturn(proc, arch):
    """The page the signal trampoline returns through (there is no vDSO)."""
    mem = proc.mem
    addr = mem.find_free(PAGE)
    mem.map(addr, PAGE, R | W, MAP_PRIVATE | MAP_ANONYMOUS, name="[sigreturn]")
    mem.poke(addr, arch.sigreturn_code)
    mem.protect(addr, PAGE, R | X)
    proc.sigreturn_tramp = addr


def _runs(page_prot):
    """[(start, end, prot)] maximal runs of consecutive pages with one protection"""
    runs = []
    for pg in sorted(page_prot):
        if runs and runs[-1][1] == pg and runs[-1][2] == page_prot[pg]:
            runs[-1][1] = pg + PAGE
        else:
            runs.append([pg, pg + PAGE, page_prot[pg]])
    return runs


def _build_stack(proc, arch, argv, envp, execfn, aux):
    mem = proc.mem
    size = proc.stack_size or DEFAULT_STACK
    top = mem.space - PAGE
    mem.map(top - size, size, R | W, MAP_PRIVATE | MAP_ANONYMOUS, name="[stack]")
    mem.mmap_top = top - size - (1 << 20)
    sp = top

    def push_bytes(data):
        nonlocal sp
        sp -= len(data)
        mem.poke(sp, data)
        return sp

    execfn_addr = push_bytes(os.fsencode(execfn) + b"\0")
    env_addrs = [push_bytes(os.fsencode(e) + b"\0") for e in envp]
    arg_addrs = [push_bytes(os.fsencode(a) + b"\0") for a in argv]
    sp &= ~15
    rnd = proc.random.randbytes(16) if proc.random is not None else os.urandom(16)
    random_addr = push_bytes(rnd)
    aux = aux + [(AT_RANDOM, random_addr), (AT_EXECFN, execfn_addr), (AT_NULL, 0)]
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    auxv = b"".join(struct.pack("<QQ", k, v) for k, v in aux)
    total = len(words) * 8 + len(auxv)
    sp = (sp - total) & ~(arch.stack_align - 1)
    mem.poke(sp, struct.pack(f"<{len(words)}Q", *words) + auxv)
    proc.auxv = auxv
    return sp
