"""The documentation's code runs: the docstring examples (doctest) of every functrans module,
the worked example of docs/adding_a_primitive.md, and every public name has a docstring."""

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import functrans

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(functrans.__path__, "functrans.")
                 if m.name != "functrans.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_adding_a_primitive_example_runs():
    text = (ROOT / "docs" / "adding_a_primitive.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(code, "adding_a_primitive.md", "exec"), {})


def test_every_public_name_is_documented():
    missing = [n for n in functrans.__all__ if not getattr(getattr(functrans, n), "__doc__", None)]
    assert not missing, f"public names without a docstring: {missing}"


# ---------------------------------------------------------------------------------------
# Every public name of every public namespace is documented with an example that runs.

def _namespaces() -> dict:
    import functrans.numpy as fnp
    return {"functrans": functrans, "functrans.numpy": fnp, "functrans.numpy.linalg": fnp.linalg,
            "functrans.nn": functrans.nn, "functrans.optim": functrans.optim,
            "functrans.tree": functrans.tree, "functrans.errors": functrans.errors}


def _is_numpys(obj) -> bool:
    """NumPy's own objects re-exported under their names (``fnp.float32``, ``fnp.zeros``,
    ``fnp.pi``): NumPy documents them."""
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "numpy" or isinstance(
        obj, (int, float, type(None)))


PUBLIC = sorted(f"{ns}.{name}" for ns, module in _namespaces().items() for name in module.__all__
                if not _is_numpys(getattr(module, name)))


def _resolve(qualname: str):
    ns, _, name = qualname.rpartition(".")
    return getattr(_namespaces()[ns], name)


def test_public_namespaces_list_their_names():
    """``__all__`` is the list of public names: nothing public is left out of it."""
    for ns, module in _namespaces().items():
        listed = set(module.__all__)
        assert all(hasattr(module, n) for n in listed), ns
        defined = {n for n, v in vars(module).items() if not n.startswith("_")
                   and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__}
        assert defined <= listed, f"{ns}: public but not in __all__: {sorted(defined - listed)}"


@pytest.mark.parametrize("qualname", PUBLIC)
def test_public_name_has_a_docstring_example_that_runs(qualname):
    obj = _resolve(qualname)
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    if isinstance(obj, ModuleType):
        return
    test = doctest.DocTestParser().get_doctest(doc, {}, qualname, None, 0)
    assert test.examples, f"{qualname}: the docstring has no example (>>>)"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, f"{qualname}: a docstring example failed\n" + "".join(out)


def _api_reference_names() -> set:
    """The names docs/api.md documents: its autodoc and py: directives, an ``automodule`` with
    ``:members:`` standing for its module's ``__all__`` less ``:exclude-members:``."""
    text = (ROOT / "docs" / "api.md").read_text()
    names = set()
    for directive, target, body in re.findall(r"^\.\. ([\w:]+):: ([\w.]+).*\n((?:[ \t]+.*\n)*)", text, re.M):
        if directive == "automodule":
            names.add(target)
            options = dict(re.findall(r":([\w-]+):(.*(?:\n {6,}.*)*)", body))
            if "members" in options and not options["members"].strip():
                module = importlib.import_module(target)
                excluded = {n.strip() for n in options.get("exclude-members", "").split(",")}
                names |= {f"{target}.{n}" for n in module.__all__ if n not in excluded}
        else:
            names.add(target)
    return names


def test_api_reference_lists_every_public_name():
    documented = _api_reference_names()
    missing = [q for q in PUBLIC if q not in documented]
    assert not missing, f"docs/api.md does not document {missing}"
