"""The backend registry (pydbt.backends): native backends load on first use, and
what they declare before that is what their modules say."""
import importlib
import pytest

from pydbt import backends


@pytest.mark.parametrize("name", sorted(backends._DECLARED))
def test_a_lazy_backend_declares_what_its_module_says(name):
    if backends.unavailable(name) is not None:
        pytest.skip(backends.unavailable(name))
    lazy = backends.get_backend(name)
    module = importlib.import_module(backends.NAMES[name])
    for attr, value in backends._DECLARED[name].items():
        assert getattr(module, attr, False) == value, attr
    assert lazy.name == module.name == name
    assert lazy.compile is module.compile          # (the rest comes from the module)
