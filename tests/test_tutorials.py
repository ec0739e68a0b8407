"""The tutorial notebooks (tutorials/*.ipynb) run top to bottom and show the seeds' numbers.

Each notebook is executed headless in a fresh ``python3`` kernel running this interpreter
(nbclient; matplotlib's Agg backend via ``MPLBACKEND=Agg``, this checkout first on
``PYTHONPATH``), then its text outputs are searched for the numbers the original tutorials
print. A failing cell fails the test with the cell's source. A second test checks that the
saved notebooks match their sources in ``tutorials/sources`` and were saved with outputs
(``python tutorials/build.py`` rebuilds them).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest


def _require(name: str):
    """The notebook tooling; in CI (where the ``test`` extra installs it) a missing package
    fails the run instead of quietly skipping every notebook."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


nbformat = _require("nbformat")
nbclient = _require("nbclient")
_require("ipykernel")
_require("matplotlib")

from jupyter_client.manager import AsyncKernelManager  # noqa: E402  (installed with nbclient)
from nbclient.exceptions import CellExecutionError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = ["01_autodiff_basics", "02_custom_differentiation", "03_advanced_autodiff",
             "04_vmap_and_per_example_gradients", "05_under_the_hood"]


# ---------------------------------------------------------------------------------------
# Running a notebook and reading its outputs.


def _failing_cell(nb) -> str:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.get("outputs", [])):
            return f"cell {index}:\n{cell.source}"
    return "(no cell recorded an error)"


def run_notebook(name: str, timeout: int = 120, path: Path | None = None):
    """Execute tutorials/<name>.ipynb (or ``path``), its saved outputs dropped, and return it."""
    nb = nbformat.read(path or TUTORIALS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    km = AsyncKernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable          # this interpreter, not `python` on PATH
    env = {"MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    client = nbclient.NotebookClient(nb, timeout=timeout, km=km,
                                     resources={"metadata": {"path": str(TUTORIALS)}})
    with pytest.MonkeyPatch.context() as mp:         # the kernel inherits the environment
        for key, value in env.items():
            mp.setenv(key, value)
        try:
            client.execute()
        except CellExecutionError as e:
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(e))       # drop the traceback's colours
            pytest.fail(f"{name}.ipynb: a cell raised.\n\nFailing {_failing_cell(nb)}\n\n{message}",
                        pytrace=False)
        except Exception as e:                       # timeout, dead kernel, ...
            pytest.fail(f"{name}.ipynb: execution failed ({type(e).__name__}).\n\n{e}", pytrace=False)
    return nb


def cell_text(cell) -> str:
    """A cell's text outputs. Stream chunks are concatenated as printed (the kernel splits
    stdout at arbitrary points); other outputs go on lines of their own."""
    text = ""
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            text += out.text
        elif out.output_type in ("execute_result", "display_data"):
            text += "\n" + out.get("data", {}).get("text/plain", "") + "\n"
        elif out.output_type == "error":
            text += f"\n{out.ename}: {out.evalue}\n"
    return text


def all_text(nb) -> str:
    return "\n".join(cell_text(c) for c in nb.cells if c.cell_type == "code")


def output_of(nb, snippet: str) -> str:
    """The text output of the (first) code cell whose source contains ``snippet``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and snippet in cell.source:
            return cell_text(cell)
    raise AssertionError(f"no code cell contains {snippet!r}")


def n_images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"


def value_after(text: str, label: str) -> float:
    """The number printed right after ``label`` (first occurrence)."""
    m = re.search(re.escape(label) + r"\s*(" + FLOAT + ")", text)
    assert m, f"{label!r} followed by a number not found in:\n{text}"
    return float(m.group(1))


def values_after(text: str, label: str) -> list[float]:
    return [float(v) for v in re.findall(re.escape(label) + r"\s*(" + FLOAT + ")", text)]


def has_lines(text: str, *lines: str) -> bool:
    """``lines`` occur in ``text`` consecutively, in order."""
    return "\n".join(lines) in text


# ---------------------------------------------------------------------------------------
# One test per notebook: run it, then look for the numbers of the original.


def test_01_autodiff_basics():
    nb = run_notebook("01_autodiff_basics")
    text = all_text(nb)
    assert value_after(output_of(nb, "y = y_of(x)"), "(") == 28.0            # 2 x^T x at arange(4)
    # gradient of 2 x^T x at arange(4) is 4x, checked elementwise
    assert re.search(r"\[\s*0\.,?\s+4\.,?\s+8\.,?\s+12\.\]", output_of(nb, "x_grad = ft.grad(y_of)(x)"))
    assert re.fullmatch(r"array\(\[ True,\s+True,\s+True,\s+True\]\)",
                        output_of(nb, "x_grad == 4 * x").strip())
    assert re.search(r"\[1\., 1\., 1\., 1\.\]", output_of(nb, "ft.grad(lambda x: x.sum())(x)"))
    # non-scalar outputs: grad refuses, the sum / the pullback of ones give 2x
    assert "TypeError: grad requires a scalar output" in text
    assert re.search(r"\[0\., 2\., 4\., 6\.\]", output_of(nb, "pullback(fnp.ones(len(y)))"))
    # detaching: the gradient of u * x is u; y itself still has gradient 2x
    assert "False" not in output_of(nb, "x_grad == u")
    assert "False" not in output_of(nb, "== 2 * x")
    # control flow: the gradient equals f(a) / a
    assert "True" in output_of(nb, "d_grad == d / a")
    # ... and for a vector a, the Jacobian is f(a) / a times the identity
    assert value_after(text, "f(a) / a = [") == value_after(text, "gradient of the sum: [")
    # exercise 4: sin and its derivative by vmap(grad), plotted
    assert value_after(text, "max |f'(x) - cos(x)| =") < 1e-12
    # exercises 6-7: chain rule by hand == grad == forward == backward
    assert value_after(text, "ft.grad:") == pytest.approx(value_after(text, "by hand:"), rel=1e-12)
    assert value_after(text, "forward (x to f):") == pytest.approx(value_after(text, "backward (f to x):"),
                                                                     rel=1e-12)
    # exercise 2: calling the gradient (and the pullback) again gives the same result
    ex2 = output_of(nb, "grad_y = ft.grad(y_of)").strip().splitlines()
    assert len(ex2) == 4 and ex2[0] == ex2[1] and ex2[2] == ex2[3] and "12." in ex2[0], ex2
    # exercise 3: for a matrix a, the Jacobian is (2, 2, 2, 2) and the scale times the identity
    assert output_of(nb, "JA = ft.jacobian(f)(A)").split() == ["(2,", "2,", "2,", "2)", "True"]
    assert n_images(nb) >= 1


def test_a_failing_cell_fails_with_its_source(tmp_path):
    """The message of a failing notebook names the cell and shows its source and the error."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("y = x + 1\nraise ValueError(f'boom {y}')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "broken.ipynb")
    with pytest.raises(pytest.fail.Exception) as failure:
        run_notebook("broken", path=tmp_path / "broken.ipynb")
    message = str(failure.value)
    assert "broken.ipynb: a cell raised" in message
    assert "Failing cell 1:\ny = x + 1\nraise ValueError(f'boom {y}')" in message
    assert "ValueError: boom 2" in message


def test_02_custom_differentiation():
    nb = run_notebook("02_custom_differentiation")
    text = all_text(nb)
    # sillyExp with a custom derivative: the rule evaluates the function once
    out = output_of(nb, "def sillyExp")
    assert has_lines(out, "Taking 𝑒(2.7182817) to the power of 3.0!", "exp(3) = 20.085535",
                     "Taking 𝑒(2.7182817) to the power of 3.0!", "𝛁exp(3) = 20.085535"), out
    # stop gradient
    assert "(-0.18009877, 0.0)" in text
    # derivative surgery: the hooks run in backward order, the result is cos(30) + 0.5
    assert has_lines(output_of(nb, "rewrite_log_derivative)"),
                     "∂log/∂x = 0.033333335, but rewritten to 0.5", "∂+/∂sin = 1.0", "0.65425146")
    # the hooked MLP trained on XOR: 10 steps, loss going down, -0.25 for a dead output row
    mlp = output_of(nb, "class MLP")
    losses = values_after(mlp, "Loss:")
    assert len(losses) == 10 and losses[-1] < losses[0]
    assert mlp.count("∂L/∂ŷ =") == 10 and mlp.count("∂L/∂layer1 =") == 10
    assert re.search(r"∂L/∂ŷ = \[\[-0\.25\s*\]", mlp), mlp[:400]
    # checkpointing: the square is computed twice and the gradient is Swift's
    for snippet in ("square = make_recomputed_in_gradient(square_)", "square = ft.remat(square_)"):
        assert has_lines(output_of(nb, snippet), "Running original computation...", "  Computing square...",
                         "Running backpropagation...", "  Computing square...", "Gradient = -0.9129453")
    # the CNN with an activation-discarding convolution: applied twice per training step
    cnn = output_of(nb, "Starting training step")
    for i in range(1, 6):
        assert re.search(rf"Starting training step {i}\n  Running original computation...\n"
                         rf"    Applying Conv2D layer...\n  Loss: {FLOAT}\n  Running backpropagation...\n"
                         rf"    Applying Conv2D layer...", cnn), cnn
    assert cnn.count("Applying Conv2D layer...") == 10
    losses = values_after(cnn, "Loss:")
    assert len(losses) == 5 and all(b < a for a, b in zip(losses, losses[1:]))
    assert "ft.nn.Remat == plain: True" in text
    assert "ActivationDiscarding == plain: True" in text


def test_03_advanced_autodiff():
    nb = run_notebook("03_advanced_autodiff")
    text = all_text(nb)
    assert text.count("dz/dx: 4.0") == 3 and text.count("dz/dy: 0.0") == 3
    assert value_after(output_of(nb, "clip_gradients(v * v)"), "") == 2.0       # clipped 4 to 2
    assert value_after(output_of(nb, "dys_dx0   #"), "array(") == 1.0           # cos(0)
    assert value_after(output_of(nb, "dys_dx1   #"), "array(") == 0.25          # sigmoid'(0)
    assert "dy_dx: 3.0" in text and "d2y_dx2: 6.0" in text
    assert "[(5, 10), (10,)]" in output_of(nb, "ft.tree.leaves(dg1_mag)")
    assert has_lines(output_of(nb, "print(dy_dx.shape)"), "(201,)", "(201,)")
    assert "(7, 10, 5, 10)" in output_of(nb, "j = ft.jacobian(y_of_kernel)")
    assert value_after(text, "delta:") < 1e-3
    assert "h.shape: (5, 8, 5, 8)" in text and "same as ft.hessian: True" in text
    assert "symmetric: True" in text
    assert value_after(text, "loss after:") < value_after(text, "loss before:")
    assert "(5, 8) True" in text                                            # hvp == H @ v
    assert "(7, 6, 7, 5)" in output_of(nb, "j = ft.jacobian(model)(x)\nj.shape")
    assert has_lines(output_of(nb, "j_select = fnp.einsum"), "(7, 6, 5)", "(7, 6, 5)")
    assert "(7, 6, 5)" in output_of(nb, "jb = ft.batch_jacobian(model)(x)\njb.shape")
    assert float(output_of(nb, "error = fnp.max").strip()) < 1e-3
    assert "j.shape: (7, 6, 7, 5)" in text and "jb.shape: (7, 6, 5)" in text
    assert "equal to the diagonal blocks: False" in text                   # the BatchNorm caveat
    assert n_images(nb) >= 5        # sigmoid, Hessian, a (batch, batch) slice, two patch plots


def test_04_vmap_and_per_example_gradients():
    nb = run_notebook("04_vmap_and_per_example_gradients")
    text = all_text(nb)
    assert "array([11., 20., 29.])" in output_of(nb, "def convolve")
    assert "True" in output_of(nb, "batched = ft.vmap(convolve)(xs, ws)")
    assert output_of(nb, "xs_t = xs.T").split() == ["(3,", "3)", "True", "True"]
    assert "True" in output_of(nb, "pairwise =")
    assert "ConcretizationError" in text
    assert "[(64, 32), (64, 10, 32), (64, 1), (64, 32, 1)]" in text
    assert "same as the loop: True" in text
    assert "True" in output_of(nb, "g_mean = ft.grad(mean_loss)")
    assert "x faster" in text
    assert "Jacobian (4, 1000)" in text and "Jacobian (1000, 4)" in text
    assert n_images(nb) >= 1


def test_05_under_the_hood():
    nb = run_notebook("05_under_the_hood")
    text = all_text(nb)
    assert has_lines(output_of(nb, "class LoggingTracer"), "f:", "  sin(())", "  mul((), ())")
    assert "  sin((3,))\n  mul((3,), (3,))" in text                       # vmap: batched shapes
    assert "vmap -> grad -> eval" in text and "grad -> jvp -> vmap -> eval" in text
    assert "naive dual numbers: 2.0" in text                               # perturbation confusion
    for label in ("functrans grad:", "functrans jvp:", "mixed modes:"):
        assert value_after(text, label) == 1.0
    for rule in ("vjp", "jvp", "batching"):
        assert f"NotImplementedError: {rule} rule for 'silu' not registered" in text
    assert value_after(text, "\ngrad:") == pytest.approx(0.9276705118714869, rel=1e-12)
    assert value_after(text, "\ngrad of grad:") == pytest.approx(0.3023661188100153, rel=1e-12)
    assert "jacrev == jacfwd: True" in text
    assert "logistic(())" in output_of(nb, "logged(ft.grad(silu))")
    assert n_images(nb) >= 1


# ---------------------------------------------------------------------------------------
# The saved notebooks are the built sources, with outputs.


def _load_builder():
    spec = importlib.util.spec_from_file_location("tutorials_build", TUTORIALS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_saved_notebook_matches_source_and_has_outputs(name):
    build = _load_builder()
    expected = build.parse((TUTORIALS / "sources" / f"{name}.py").read_text(encoding="utf-8"))
    nb = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in expected], (
        f"{name}.ipynb is out of date with tutorials/sources/{name}.py: "
        f"run python tutorials/build.py {name[:2]}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{name}.ipynb was saved without running"
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2


def test_every_notebook_is_tested():
    sources = sorted(p.stem for p in (TUTORIALS / "sources").glob("[0-9][0-9]_*.py"))
    saved = sorted(p.stem for p in TUTORIALS.glob("*.ipynb"))
    assert sources == saved == NOTEBOOKS
    assert all(f"test_{name}" in globals() for name in NOTEBOOKS)
