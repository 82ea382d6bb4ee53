"""-r: the kernel release uname() tells the guest (qemu's -r), against qemu-riscv64."""
import os

import pytest

import guestprogs

SOURCE = r"""
#include <stdio.h>
#include <sys/utsname.h>

int main(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return 1;
    printf("%s %s\n", u.release, u.machine);
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(own_program):
    return own_program("uname", SOURCE)


@pytest.mark.parametrize("opts", [(), ("-r", "4.19.0-pydbt"), ("-r", "")], ids=["host", "set", "empty"])
def test_uname_release_as_qemus(program, tmp_path, opts):
    env = dict(os.environ)
    q = guestprogs.run(guestprogs.qemu_argv(program, (), opts), env=env, cwd=tmp_path, timeout=60)
    p = guestprogs.run(guestprogs.pydbt_argv(program, (), opts), env=env, cwd=tmp_path, timeout=120)
    assert (p.returncode, p.stdout) == (q.returncode, q.stdout), p.describe()
    if opts and opts[1]:
        assert p.stdout == b"4.19.0-pydbt riscv64\n"
