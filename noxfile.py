"""Developer tasks: ``nox -s tests|props|lint|typecheck|bench|docs``.

Install nox with ``pip install nox``; each session builds its own virtualenv under ``.nox/``.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Install functrans with the test extra and run pytest (extra arguments go to pytest)."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def props(session: nox.Session) -> None:
    """The property-based tests with the long hypothesis profile (many more, fresh examples)."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "tests/test_properties.py", *session.posargs,
                env={"HYPOTHESIS_PROFILE": "long"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package and the tests."""
    session.install(".[lint]")
    session.run("ruff", "check", "functrans", "tests", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the package."""
    session.install(".[typecheck]")
    session.run("mypy", "functrans", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (benchmarks/run.py), against autograd and JAX (and PyTorch when installed)."""
    runner = ROOT / "benchmarks" / "run.py"
    if not runner.exists():
        session.skip(f"no benchmark runner: {runner.relative_to(ROOT)} does not exist yet")
    session.install(".[bench]")
    session.run("python", str(runner), *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation in docs/ with Sphinx, warnings as errors."""
    conf = ROOT / "docs" / "conf.py"
    if not conf.exists():
        session.error("docs/conf.py does not exist: there is no Sphinx documentation to build yet")
    session.install(".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
                *session.posargs)
