"""-stats: the cycle collector's runs and time are counted once watched."""
import gc

from pydbt.stats import Stats


def test_gc_is_counted_once_watched():
    st = Stats()
    assert "gc_ms" not in st.as_dict()              # (not watched: not reported)
    st.watch_gc()
    st.watch_gc()                                   # (one callback, however often asked)
    try:
        assert gc.callbacks.count(st._on_gc) == 1
        gc.collect(0)
        gc.collect()
        d = st.as_dict()
        assert d["gc_runs"] >= 2 and d["gc_full_runs"] >= 1 and d["gc_ms"] > 0
        st.reset()
        assert st.as_dict()["gc_runs"] == 0
    finally:
        gc.callbacks.remove(st._on_gc)
