"""The error catalogue (tests/error_catalogue.py, docs/errors.md) covers every raise site.

* every ``raise X(...)`` in ``functrans/`` (found by parsing the package) has a catalogue
  entry, and every entry still matches a raise site;
* every entry's example raises exactly the entry's class, with a message containing the
  entry's fragment;
* messages name what was expected and what was got (a sample checked word for word below);
* ``docs/errors.md`` is the rendering of the catalogue (so the documented messages are the
  real ones) and is in the documentation's table of contents.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from error_catalogue import CATALOGUE, DOC, ROOT, Entry, render, run_example

PACKAGE = ROOT / "functrans"


@dataclasses.dataclass(frozen=True)
class Site:
    file: str          # relative to functrans/
    line: int
    cls: str
    text: str          # the literal parts of the message


def _literal_text(node: ast.AST) -> str:
    """The string constants of a message expression, in order (f-string holes dropped)."""
    return "".join(n.value for n in ast.walk(node)
                   if isinstance(n, ast.Constant) and isinstance(n.value, str))


def raise_sites() -> list[Site]:
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue                                    # a bare re-raise
            exc = node.exc
            call = exc if isinstance(exc, ast.Call) else None
            cls = ast.unparse(call.func if call else exc).split(".")[-1]
            text = _literal_text(call.args[0]) if call and call.args else ""
            sites.append(Site(path.relative_to(PACKAGE).as_posix(), node.lineno, cls, text))
    return sites


def matches(entry: Entry, site: Site) -> bool:
    return entry.file == site.file and entry.cls == site.cls and entry.literal in site.text


def claim(site: Site) -> list[Entry]:
    """The entries for ``site``: those matching it with the longest fragment (so a fragment
    may extend another's, as "batch_jacobian: mode" extends "jacobian: mode")."""
    found = [e for e in CATALOGUE if matches(e, site)]
    longest = max((len(e.literal) for e in found), default=0)
    return [e for e in found if len(e.literal) == longest]


SITES = raise_sites()


def test_there_are_raise_sites():
    assert len(SITES) > 90
    assert any(s.cls == "LeakedTracerError" for s in SITES)


def test_every_raise_site_is_catalogued():
    missing = [s for s in SITES if not claim(s)]
    if missing:
        stubs = "\n".join(
            f"    # functrans/{s.file}:{s.line}\n"
            f"    E({s.cls!r}, {s.file!r}, {s.text[:60]!r},\n"
            f"      \"<a call that raises it>\", \"<how to fix the call>\"),"
            for s in missing)
        pytest.fail(
            f"{len(missing)} raise site(s) in functrans/ have no entry in the error catalogue. Add "
            f"one Entry per site to CATALOGUE in tests/error_catalogue.py (cls, file, a fragment of "
            f"the message's literal text that singles the site out in its file, `{{}}` for a hole "
            f"in it; an example call that raises it, a fix), then regenerate the docs with "
            f"`python tests/error_catalogue.py --write`. Stubs to fill in (shorten the fragment to "
            f"a distinctive piece):\n{stubs}",
            pytrace=False)


def test_every_entry_matches_a_raise_site():
    claimed = [e for s in SITES for e in claim(s)]
    stale = [e for e in CATALOGUE if e not in claimed]
    assert not stale, ("catalogue entries that match no raise site (message or file changed? "
                       "update the fragment in tests/error_catalogue.py): "
                       + "; ".join(f"{e.file}: {e.cls} {e.fragment!r}" for e in stale))


def test_fragments_are_unambiguous_in_their_file():
    """Each entry singles out its sites: no two entries claim the same site."""
    for s in SITES:
        claims = claim(s)
        assert len(claims) <= 1, f"functrans/{s.file}:{s.line} is matched by {claims}"


@pytest.mark.parametrize("entry", CATALOGUE, ids=[f"{e.cls}:{e.fragment.strip()[:40]}" for e in CATALOGUE])
def test_example_raises_the_catalogued_error(entry):
    err = run_example(entry)
    assert err is not None, f"the example raised nothing:\n{entry.example}"
    assert type(err).__name__ == entry.cls, f"raised {type(err).__name__}: {err}"
    assert entry.in_message(str(err)), f"message does not contain {entry.fragment!r}: {err}"
    assert entry.fix.strip(), "every entry says how to fix the call"


# Messages name the argument, what was expected and what was got: a sample, word for word.
SAMPLES = [
    ("argnums must be an int or a tuple", ["grad", "argnums", "'x'"]),
    ("requires real- or complex-valued", ["grad", "argument 0", "int64", "astype(float)"]),
    ("grad requires a scalar output", ["shape (3,)", "shape ()", "jacrev"]),
    ("is out of range for a function called with", ["argnums 1", "1 positional argument"]),
    ("pullback: the cotangent must have the output's shapes", ["(3,)", "(2,)"]),
    ("has real dtype ", ["primals[0]", "float64", "complex tangent", "complex128", "t.real"]),
    ("vmap got inconsistent sizes", ["argument 0 has size 3", "argument 1 has size 4"]),
    ("which has rank ", ["in_axes 1", "argument 0", "rank 1", "(3,)"]),
    ("bwd must return a tuple with one cotangent", ["'h'", "bwd", "(g,)"]),
    ("; expected shape ", ["'h'", "shape (2,)", "expected shape ()"]),
    ("returned a cotangent of shape ", ["hook", "(2,)", "(3,)"]),
    ("after that transform returned", ["`grad`", "numpy.sin", "has_aux"]),
    ("which is still running in another thread", ["`grad`", "another thread"]),
    ("is needed of a value batched by `vmap`", ["vmap", "shape ()", "(3,)", "where"]),
    ("cannot be converted to a NumPy array", ["`grad`", "stop_gradient"]),
    ("len() of unsized object", ["shape ()", "x.shape"]),
    ("traced values are unhashable", ["`grad`", "id(x)"]),
    ("jvp rule for '", ["'no_rules'", "defjvp"]),
]


@pytest.mark.parametrize("fragment,words", SAMPLES, ids=[s[0][:30] for s in SAMPLES])
def test_messages_name_argument_expected_and_got(fragment, words):
    (entry,) = [e for e in CATALOGUE if fragment in e.fragment]
    message = str(run_example(entry))
    for w in words:
        assert w in message, f"{w!r} not in: {message}"


def test_docs_page_is_up_to_date():
    assert DOC.exists(), "docs/errors.md is missing: run `python tests/error_catalogue.py --write`"
    assert DOC.read_text() == render(), (
        "docs/errors.md differs from the catalogue's rendering (a message, example or entry "
        "changed): run `python tests/error_catalogue.py --write` and review the diff")


def test_docs_page_is_in_the_toctree():
    index = (ROOT / "docs" / "index.md").read_text()
    toctree = index[index.index("{toctree}"):]
    assert "\nerrors\n" in toctree


def test_catalogue_lists_each_class_of_functrans_errors():
    import functrans.errors as errors
    names = {e.cls for e in CATALOGUE}
    for cls in ("LeakedTracerError", "ConcretizationError", "TypeError", "ValueError"):
        assert cls in names
    assert issubclass(errors.ConcretizationError, (errors.FunctransError, TypeError))
    assert Path(DOC).read_text().count("\n### ") == len(CATALOGUE)
