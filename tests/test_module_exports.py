"""The NumPy submodules spell out ``__all__`` (so that mypy sees the star imports of
``functrans.numpy``): a function added to one of them must also be added to its list."""

import importlib
import inspect

import pytest


@pytest.mark.parametrize("name", ["_elementwise", "_reductions", "_shapes"])
def test_numpy_submodule_lists_every_public_function(name):
    module = importlib.import_module(f"functrans.numpy.{name}")
    listed = set(module.__all__)
    assert all(hasattr(module, n) for n in listed)
    defined = {n for n, v in vars(module).items() if not n.startswith("_") and inspect.isfunction(v)
               and v.__module__ == module.__name__}
    assert defined, name
    assert defined <= listed, f"{name}: public but not in __all__: {sorted(defined - listed)}"
