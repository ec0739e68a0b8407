"""The documentation's code runs: the docstring examples (doctest) of every functrans module,
the worked example of docs/adding_a_primitive.md, and every public name has a docstring."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

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
