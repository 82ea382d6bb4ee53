"""pydbt's diagnostics (dbt/log.py Log.write): all of a text reaches a stderr
that is non-blocking and full (waited for, not dropped); a stderr that cannot
be written (closed) drops the text and never raises into the run."""
import fcntl
import os
import threading
import time

from pydbt.log import Log


def test_a_full_non_blocking_stderr_is_waited_for():
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)
    log = Log()
    log.fd = w
    got = []

    def reader():
        time.sleep(0.1)                             # (the pipe fills meanwhile)
        while sum(got) < 1_000_000:
            got.append(len(os.read(r, 1 << 16)))
    t = threading.Thread(target=reader)
    t.start()
    log.write("x" * 1_000_000)
    t.join(10)
    assert sum(got) == 1_000_000
    os.close(r)
    os.close(w)


def test_a_closed_stderr_drops_the_text():
    log = Log()
    log.fd = 1 << 20                                 # (no such descriptor: EBADF)
    log.write("lost\n")
    log.fd = -1                                      # (pydbt started without a stderr)
    log.write("lost too\n")
