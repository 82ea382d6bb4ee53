"""The compile thread's first job (loading the native tier) runs with the
cyclic GC paused and freezes what is alive after it (dbt/compiler.py's
overview); later jobs leave the GC alone."""
import gc
import threading

import pytest

from pydbt.compiler import Compiler


def run_job(comp, work):
    out, done = [], threading.Event()

    def finish(result):
        out.append(result)
        done.set()
    comp.submit(work, finish)
    assert done.wait(10)
    return out[0]


def seen():
    return lambda: (gc.isenabled(), gc.get_freeze_count())


@pytest.fixture
def clean_gc():
    was = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_first_job_pauses_the_gc_and_freezes_what_it_left(clean_gc):
    comp = Compiler()
    kept = [[i] for i in range(1000)]          # (alive, tracked: frozen by the first job)
    assert run_job(comp, seen()) == (False, 0)
    assert gc.isenabled() and gc.get_freeze_count() >= len(kept)
    frozen = gc.get_freeze_count()
    enabled, count = run_job(comp, seen())
    assert enabled and count <= frozen              # later jobs: untouched (some frozen died since)
    assert gc.get_freeze_count() <= frozen


def test_a_failing_first_job_still_restores_the_gc(clean_gc):
    comp = Compiler()

    def boom():
        raise RuntimeError("no llvmlite")
    assert run_job(comp, boom) is None
    assert gc.isenabled() and gc.get_freeze_count() > 0


def test_a_disabled_gc_stays_disabled(clean_gc):
    gc.disable()
    comp = Compiler()
    assert run_job(comp, seen())[0] is False
    assert not gc.isenabled()
