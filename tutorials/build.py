"""Build the tutorial notebooks from their sources and execute them, saving the outputs.

Each notebook is written as a Python file in ``tutorials/sources/`` in the "percent" format:
a line ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell (whose lines are
comments: the leading ``# `` is removed). This script turns every source into
``tutorials/<name>.ipynb``, runs it top to bottom in a fresh ``python3`` kernel (the
interpreter running this script, with this checkout first on ``PYTHONPATH``) and saves the
notebook with its outputs, plots included as PNG images.

    python tutorials/build.py                 # all notebooks
    python tutorials/build.py 02 05           # the ones whose names start with these

Requires ``nbformat``, ``nbclient``, ``ipykernel`` and ``matplotlib`` (the ``test`` extra).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from jupyter_client.manager import KernelManager

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = HERE / "sources"


def parse(source: str) -> list:
    """Percent-format Python source to a list of notebook cells."""
    cells = []
    kind, lines = None, []

    def flush() -> None:
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if not text:
            return
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind == "markdown":
            if line.startswith("# "):
                lines.append(line[2:])
            elif line.rstrip() == "#":
                lines.append("")
            elif line.strip():
                raise ValueError(f"markdown cell line does not start with '#': {line!r}")
            else:
                lines.append("")
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


def kernel_manager() -> KernelManager:
    """A ``python3`` kernel running this very interpreter (not whatever ``python`` is on PATH)."""
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    return km


def kernel_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["MPLBACKEND"] = "Agg"           # headless; the notebooks select the inline backend
    return env


def execute(nb: nbformat.NotebookNode, timeout: int = 300) -> nbformat.NotebookNode:
    """Run ``nb`` in place in a fresh kernel (cwd: tutorials/); raises on a failing cell."""
    saved = dict(os.environ)
    os.environ.update(kernel_env())      # the kernel inherits this process's environment
    try:
        client = NotebookClient(nb, timeout=timeout, km=kernel_manager(),
                                resources={"metadata": {"path": str(HERE)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def build(src: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text(encoding="utf-8"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    start = time.perf_counter()
    execute(nb)
    out = HERE / (src.stem + ".ipynb")
    nbformat.write(nb, out)
    print(f"{out.relative_to(ROOT)}: {len(nb.cells)} cells, executed in "
          f"{time.perf_counter() - start:.1f} s")
    return out


def main(argv: list[str]) -> None:
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if argv:
        sources = [s for s in sources if any(s.name.startswith(a) for a in argv)]
    if not sources:
        raise SystemExit(f"no notebook sources matching {argv} in {SOURCES}")
    for src in sources:
        build(src)


if __name__ == "__main__":
    main(sys.argv[1:])
