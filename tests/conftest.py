"""Every test run is hermetic: the native backend's persistent code cache
(-code-cache, PYDBT_CODE_CACHE) goes to a temporary directory of this run,
never to ~/.cache, and the directory goes when the run ends.  pytest-xdist
workers inherit the controller's directory (the environment variable
_PYDBT_TEST_CODE_CACHE marks it as the run's own); subprocesses inherit it too
(a test that builds its guest's environment from scratch and no HOME gets no
cache at all: the default directory cannot be created)."""
import os
import shutil
import tempfile

_OWNED = "_PYDBT_TEST_CODE_CACHE"


def pytest_configure(config):
    if os.environ.get(_OWNED):                  # (an xdist worker: the controller's directory)
        return
    d = tempfile.mkdtemp(prefix="pydbt-code-cache-")
    os.environ["PYDBT_CODE_CACHE"] = d
    os.environ[_OWNED] = d
    config._pydbt_code_cache = d


def pytest_unconfigure(config):
    d = getattr(config, "_pydbt_code_cache", None)
    if d:
        shutil.rmtree(d, ignore_errors=True)
        os.environ.pop(_OWNED, None)
