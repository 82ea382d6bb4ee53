"""pydbt's diagnostics (-strace, -d, -stats) go to the stderr it was started
with, whatever the guest does with its fd 2: coreutils close it at exit (the
statistics were lost and pydbt exited 1), a program may open a file there (the
diagnostics went into the guest's file).  A diagnostic that cannot be written
never changes the guest's exit status."""
import os
import subprocess

import pytest

import guestprogs

SOURCE = r"""
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    close(2);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);   /* the lowest free: 2 */
    if (fd != 2)
        return 10 + fd;
    const char msg[] = "guest data\n";
    write(2, msg, strlen(msg));
    getpid();                                                      /* (a syscall after it) */
    close(2);
    return 3;
}
"""


@pytest.fixture(scope="module")
def program(own_program):
    return own_program("own_stderr", SOURCE)


def test_diagnostics_stay_on_pydbts_stderr_when_the_guest_reuses_fd_2(program, tmp_path):
    out = tmp_path / "guest.txt"
    argv = guestprogs.pydbt_argv(program, (str(out),), ("-strace", "-stats=json"))
    r = subprocess.run(argv, capture_output=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 3, r.stderr.decode(errors="replace")[-2000:]
    assert out.read_bytes() == b"guest data\n"
    err = r.stderr.decode(errors="replace")
    assert "getpid() = " in err and '"guest_insns"' in err     # (after the guest reused fd 2)


def test_a_closed_stderr_does_not_change_the_exit_status(program, tmp_path):
    out = tmp_path / "guest.txt"
    argv = guestprogs.pydbt_argv(program, (str(out),), ("-strace", "-stats"))
    r = subprocess.run(["sh", "-c", '"$@" 2>&-', "sh"] + argv, stdout=subprocess.PIPE, timeout=120,
                       env=dict(os.environ))
    assert r.returncode == 3, r.stdout
    assert out.read_bytes() == b"guest data\n"              # (and no diagnostics in it)
