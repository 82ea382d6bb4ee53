"""sys_mm._library_place: a shared library's first mapping goes to the slot a
hash of the file's identity picks (the same place in every program, so its
translations are shared), when free; anything else goes where Linux puts it."""
import os

from pydbt.runtime import sys_mm
from pydbt.runtime.memory import GuestMemory, R, X

ELF_DYN = b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + (243).to_bytes(2, "little")


def _file(tmp_path, name, head):
    p = tmp_path / name
    p.write_bytes(head + bytes(1 << 16))
    return os.open(p, os.O_RDONLY)


def test_a_library_has_one_place_in_every_program(tmp_path):
    fd = _file(tmp_path, "libx.so", ELF_DYN)
    st = os.fstat(fd)
    a, b = GuestMemory(16 << 30), GuestMemory(16 << 30)
    place = sys_mm._library_place(a, fd, st, 1 << 20)
    assert place is not None and place % sys_mm.LIB_SLOT == 0
    assert place + (1 << 20) <= a.mmap_top - sys_mm.LIB_BELOW
    assert sys_mm._library_place(b, fd, st, 1 << 20) == place           # (another program: the same)
    a.map(place, 1 << 20, R | X)
    assert sys_mm._library_place(a, fd, st, 1 << 20) is None           # (taken: where Linux puts it)
    os.close(fd)


def test_only_elf_shared_objects_and_big_spaces_get_a_place(tmp_path):
    exe = bytearray(ELF_DYN)
    exe[16] = 2                                                        # ET_EXEC
    for name, head in (("data", b"just data"), ("exe", bytes(exe))):
        fd = _file(tmp_path, name, head)
        assert sys_mm._library_place(GuestMemory(16 << 30), fd, os.fstat(fd), 1 << 20) is None
        os.close(fd)
    fd = _file(tmp_path, "libx.so", ELF_DYN)
    assert sys_mm._library_place(GuestMemory(1 << 30), fd, os.fstat(fd), 1 << 20) is None   # (-R 1g)
    os.close(fd)


def test_a_private_file_mapping_at_a_free_hint_is_there(tmp_path):
    """(a mapping with an address asked goes there, not to a slot; one made
    with no address goes to the library's slot and is recorded as a span)"""
    from pydbt.cli import Options
    from pydbt.frontends.riscv64.arch import ARCH
    from pydbt.log import Log
    from pydbt.runtime.process import Process
    opts = Options()
    opts.reserved_va = 16 << 30
    proc = Process(ARCH, opts, Log())
    fd = _file(tmp_path, "libx.so", ELF_DYN)
    hint = 0x20000000
    assert sys_mm._mmap(proc, hint, 1 << 16, R, 0x02, fd, 0) == hint        # MAP_PRIVATE, a hint
    assert proc.shared_spans == []
    at = sys_mm._mmap(proc, 0, 1 << 16, R, 0x02, fd, 0)
    assert at == sys_mm._library_place(GuestMemory(16 << 30), fd, os.fstat(fd), 1 << 16)
    assert [sp[1:] for sp in proc.shared_spans] == [(at, at + (1 << 16))]
    os.close(fd)
