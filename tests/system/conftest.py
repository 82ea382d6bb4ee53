"""Fixtures for the system tests: the guest programs, built once per session."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guestprogs  # noqa: E402


@pytest.fixture(scope="session")
def guest_binaries():
    """name -> Path of the built binary, or BuildError for programs that did
    not build.  Skips when the cross compiler or qemu-riscv64 is missing."""
    reason = guestprogs.missing_tools()
    if reason:
        pytest.skip(reason)
    return guestprogs.build_all()


@pytest.fixture
def guest_binary(guest_binaries):
    """guest_binary(name) -> Path of that program's binary; fails the calling
    test with the compiler output if it did not build."""

    def get(name):
        b = guest_binaries[name]
        if isinstance(b, guestprogs.BuildError):
            pytest.fail(str(b), pytrace=False)
        return b

    return get


@pytest.fixture(scope="session")
def own_program(tmp_path_factory):
    """own_program(name, source, *flags) -> Path of a test module's own C
    program (static riscv64), built once per session in a directory of its
    own.  Skips when the cross compiler or qemu-riscv64 is missing."""
    reason = guestprogs.missing_tools()
    if reason:
        pytest.skip(reason)
    made = {}

    def build(name, source, *flags):
        if name not in made:
            made[name] = guestprogs.build_c(tmp_path_factory.mktemp(name), name, source, *flags)
        return made[name]

    return build
