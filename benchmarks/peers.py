"""functrans against its peers: the same workloads through every library, one table.

Libraries (columns), each in its own idiom, each answer checked against the NumPy reference
with ``np.testing.assert_allclose`` BEFORE it is timed:

* ``numpy``      — hand-written NumPy forward + derivative code: the reference (ratio 1);
* ``functrans``  — this library;
* ``autograd``   — HIPS autograd (``pip install autograd``);
* ``jax``        — JAX, eager (op by op, no ``jit``);
* ``jax.jit``    — the same JAX function under ``jax.jit``: the compiled reference;
* ``torch.func`` — PyTorch's functional transforms on the CPU (``torch.func.grad``, ``jacrev``,
  ``jacfwd``, ``hessian``, ``vmap``; the remat rows use ``torch.autograd.grad`` because
  ``torch.utils.checkpoint`` does not run under ``torch.func`` transforms).

A peer that is not installed, or that fails on a workload, is reported in its cell; it never
stops the run. Workloads (rows): ``grad`` of a 200-op elementwise chain (0-d and shape (1,),
float64: per-op overhead), the gradient of a softmax cross-entropy MLP loss (64→256→10 and
1024→1024→1024→10, batch 128, float32), Jacobians of ``tanh(W x)`` (n = 100, 400; reverse
and forward mode, float64), the Hessian of ``logsumexp(W x) + ½‖x‖²`` (n = 100), batch
Jacobians of a 2-layer elu MLP (5→8→6 and 32→64→32, B = 64), one CNN training step (the
model of bench_cnn.py, batch 32, float32), the peak memory of gradient checkpointing through
a 64-layer ``tanh(x @ W_i)`` chain (8 remat segments of 8 layers; peak RSS of a fresh child
process per library, so that JAX's and PyTorch's buffers are counted as well as NumPy's), and
functrans's bounded-memory Jacobians (``chunk_size``) of 4000→4000 maps and a Hessian of 4000
inputs.

Pinning: one core (``os.sched_setaffinity``; ``BENCH_CPU=k`` picks which), one thread per
library (OMP/MKL/OpenBLAS = 1, ``torch.set_num_threads(1)``,
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``,
``JAX_PLATFORMS=cpu``). Times are medians of interleaved repeats (_harness.compare) of the
process's CPU time (``--clock cpu``, the default here: on a shared machine the time slices
other processes take do not count; ``--clock wall`` for wall time); cells are time / NumPy
time (lower is better).

    python benchmarks/peers.py                       # everything (5-10 minutes of CPU)
    python benchmarks/peers.py --quick               # 3 repeats, a smaller remat chain and
                                                     # batch-Jacobian memory case
    python benchmarks/peers.py --json out.json       # also write the results as JSON
    python benchmarks/peers.py --only mlp,cnn        # some workload groups only
    python benchmarks/peers.py --only cnn --libs functrans,torch.func   # some columns only
    python benchmarks/plot.py out.json               # the chart of docs/benchmarks.md
"""

from __future__ import annotations

import os
import sys

# --- pinning, before NumPy, JAX or PyTorch is imported ---------------------------------
os.environ.setdefault("JAX_PLATFORMS", "cpu")
_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if _XLA not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _XLA).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if hasattr(os, "sched_setaffinity"):
    _cpus = sorted(os.sched_getaffinity(0))
    _cpu = int(os.environ.get("BENCH_CPU", _cpus[0]))
    os.sched_setaffinity(0, {_cpu})

import _harness  # noqa: E402,F401  (one BLAS/OpenMP thread; repo root on sys.path)
from _harness import Report, fmt_time  # noqa: E402

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402

import bench_cnn  # noqa: E402
import bench_core  # noqa: E402
import bench_jacobians as jac_ref  # noqa: E402
import bench_remat  # noqa: E402

LIBS = ["numpy", "functrans", "autograd", "jax", "jax.jit", "torch.func"]
HERE = os.path.dirname(os.path.abspath(__file__))

# --- optional peers ----------------------------------------------------------------------
# A remat child (``--child remat LIB ...``) imports only its own library: importing JAX and
# PyTorch in each of the twelve children would dominate a quick run.
_CHILD_LIB = sys.argv[3] if sys.argv[1:2] == ["--child"] and len(sys.argv) > 3 else None


def _wanted(lib: str) -> bool:
    return _CHILD_LIB is None or _CHILD_LIB.startswith(lib)


MISSING: dict[str, str] = {}
SKIPPED: set[str] = set()      # --libs: the columns not timed in this run
VERSIONS: dict[str, str] = {"numpy": np.__version__, "functrans": ft.__version__,
                            "python": platform.python_version()}

try:
    if not _wanted("autograd"):
        raise ImportError("not needed in this child")
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as asp
    from importlib.metadata import version as _dist_version
    VERSIONS["autograd"] = _dist_version("autograd")
except ImportError:
    autograd = anp = asp = None
    MISSING["autograd"] = "not installed"

try:
    if not _wanted("jax"):
        raise ImportError("not needed in this child")
    import jax
    import jax.numpy as jnp
    from jax import lax
    jax.config.update("jax_enable_x64", True)   # float64 workloads stay float64
    jax.config.update("jax_platforms", "cpu")
    VERSIONS["jax"] = jax.__version__
    import jaxlib
    VERSIONS["jaxlib"] = jaxlib.__version__
except ImportError:
    jax = jnp = lax = None
    MISSING["jax"] = MISSING["jax.jit"] = "not installed"

try:
    if not _wanted("torch"):
        raise ImportError("not needed in this child")
    import torch
    import torch.func as tf
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    VERSIONS["torch"] = torch.__version__
except ImportError:
    torch = tf = None
    MISSING["torch.func"] = "not installed"


# --- conversions ---------------------------------------------------------------------------

def to_numpy(x: Any) -> Any:
    """Any library's (pytree of) arrays as NumPy arrays."""
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x) if not hasattr(x, "_fields") else \
            type(x)(*(to_numpy(v) for v in x))
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def leaves(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in leaves(v)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in leaves(x[k])]
    return [x]


def check(got: Any, want: Any, rtol: float, atol: float) -> None:
    g, w = leaves(to_numpy(got)), leaves(want)
    assert len(g) == len(w), f"{len(g)} result arrays, expected {len(w)}"
    for a, b in zip(g, w):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"shape {a.shape}, expected {b.shape}"
        assert a.dtype == b.dtype, f"dtype {a.dtype}, expected {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def jx(x: Any) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, x)


def th(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(th(v) for v in x)
    if isinstance(x, dict):
        return {k: th(v) for k, v in x.items()}
    return torch.from_numpy(np.ascontiguousarray(x))


def jax_timed(f: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: jax.block_until_ready(f(*args))


# --- results -------------------------------------------------------------------------------

class Results:
    def __init__(self, rep: Report):
        self.rep = rep
        self.rows: list[dict[str, Any]] = []
        self.memory: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def time_case(self, group: str, name: str, reference: Callable[[], Any],
                  builders: dict[str, Callable[[], Callable[[], Any]]],
                  rtol: float, atol: float, per: int | None = None) -> dict[str, Any]:
        """Check every library's answer against ``reference()``, then time them interleaved.

        ``builders[lib]()`` returns the zero-argument callable to time (building it may
        import or trace); anything that raises is reported in the cell, not fatal.
        """
        print(f"[{group}] {name}", file=sys.stderr, flush=True)
        want = to_numpy(reference())
        fns: dict[str, Callable[[], Any]] = {"numpy": reference}
        status: dict[str, str] = {"numpy": "ok"}
        for lib in LIBS[1:]:
            if lib in MISSING:
                status[lib] = MISSING[lib]
                continue
            if lib in SKIPPED:
                status[lib] = "skipped"
                continue
            if lib not in builders:
                status[lib] = "n/a"
                continue
            try:
                fn = builders[lib]()
                check(fn(), want, rtol, atol)
            except Exception as e:  # a peer's failure is a result, not a crash
                msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                status[lib] = "error"
                self.notes.append(f"{name} / {lib}: {msg[:300]}")
                print(f"    {lib}: {msg[:300]}", file=sys.stderr, flush=True)
                continue
            fns[lib] = fn
            status[lib] = "ok"
        t = self.rep.compare(fns)
        row = {"group": group, "case": name, "per": per, "results": {}}
        for lib in LIBS:
            r = {"status": status.get(lib, "n/a")}
            if lib in t:
                r["time"] = t[lib]
                r["ratio"] = t[lib] / t["numpy"]
            row["results"][lib] = r
        self.rows.append(row)
        print("    " + "  ".join(f"{lib} {fmt_time(t[lib])} ({t[lib] / t['numpy']:.3g}x)"
                                for lib in LIBS if lib in t), file=sys.stderr, flush=True)
        return row

    # markdown -----------------------------------------------------------------------------
    def ratio_table(self) -> str:
        head = "| workload | " + " | ".join(LIBS) + " |"
        lines = [head, "| --- |" + " ---: |" * len(LIBS)]
        for row in self.rows:
            cells = []
            for lib in LIBS:
                r = row["results"][lib]
                if "ratio" not in r:
                    cells.append(r["status"])
                elif lib == "numpy":
                    cells.append(f"1 ({fmt_time(r['time'])})")
                else:
                    cells.append(f"{r['ratio']:.3g}×")
            lines.append(f"| {row['case']} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def time_table(self) -> str:
        lines = ["| workload | " + " | ".join(LIBS) + " |", "| --- |" + " ---: |" * len(LIBS)]
        for row in self.rows:
            cells = []
            for lib in LIBS:
                r = row["results"][lib]
                if "time" not in r:
                    cells.append(r["status"])
                elif row["per"]:
                    cells.append(f"{r['time'] / row['per'] * 1e6:.3g} µs/op")
                else:
                    cells.append(fmt_time(r["time"]))
            lines.append(f"| {row['case']} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def memory_table(self) -> str:
        lines = []
        remat = [m for m in self.memory if m["kind"] == "remat"]
        if remat:
            libs = [m["lib"] for m in remat]
            lines += ["| remat, 64-layer chain | " + " | ".join(libs) + " |",
                      "| --- |" + " ---: |" * len(libs)]

            def cell(m, key, f):
                return f(m[key]) if m.get(key) is not None else m.get("status", "")
            lines.append("| peak MB, plain grad | " + " | ".join(
                cell(m, "plain_peak", lambda v: f"{v / 2 ** 20:.0f}") for m in remat) + " |")
            lines.append("| peak MB, remat (8 × 8) | " + " | ".join(
                cell(m, "remat_peak", lambda v: f"{v / 2 ** 20:.0f}") for m in remat) + " |")
            lines.append("| **peak ratio remat / plain** | " + " | ".join(
                cell(m, "memory_ratio", lambda v: f"**{v:.2f}×**") for m in remat) + " |")
            lines.append("| time ratio remat / plain | " + " | ".join(
                cell(m, "time_ratio", lambda v: f"{v:.2f}×") for m in remat) + " |")
            lines.append("| time, plain grad | " + " | ".join(
                cell(m, "plain_time", fmt_time) for m in remat) + " |")
        chunk = [m for m in self.memory if m["kind"] == "chunk"]
        if chunk:
            mb = lambda v: f"{v / 2 ** 20:.0f}"

            def working_ratio(m: dict) -> str:    # of nothing (under one chunk) it means nothing
                if m["full_work"] < m["chunk_bytes"]:
                    return "— (unchunked: result only)"
                return f"**{m['chunk_work'] / m['full_work']:.2f}×**"

            def same_result(m: dict) -> str:      # bitwise, or how far apart
                return "yes" if m["same"] else f"to {m['max_rel_diff']:.0e} of max \\|J\\|"
            lines += ["", "| bounded memory (functrans) | chunk_size | result MB | peak MB, "
                      "unchunked → chunked | **peak ratio** | floor: result / unchunked peak "
                      "| working MB (above the result), unchunked → chunked | **working ratio** "
                      "| chunked working, in chunk-sized arrays | time unchunked → chunked "
                      "| same result |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |"]
            for m in chunk:
                lines.append(
                    f"| {m['case']} | {m['chunk_size']} | {mb(m['result_bytes'])} | "
                    f"{mb(m['full_peak'])} → {mb(m['chunk_peak'])} | "
                    f"**{m['chunk_peak'] / m['full_peak']:.2f}×** | "
                    f"{m['result_bytes'] / m['full_peak']:.2f}× | "
                    f"{m['full_work'] / 2 ** 20:.1f} → {m['chunk_work'] / 2 ** 20:.1f} | "
                    f"{working_ratio(m)} | "
                    f"{m['chunk_work'] / m['chunk_bytes']:.1f} | "
                    f"{fmt_time(m['full_time'])} → {fmt_time(m['chunk_time'])}"
                    f"{' *' if m['timed_once'] else ''} | "
                    f"{same_result(m)} |")
        return "\n".join(lines)


# =========================================================================================
# 1. per-op overhead: grad of the 200-op elementwise chain of bench_core

def chain(m: Any, x: Any) -> Any:
    return bench_core.chain(m, x)


def chain_grad_numpy(x: np.ndarray) -> np.ndarray:
    """Hand-written reverse mode of ``bench_core.chain`` (gradient of its sum)."""
    tape = []
    for _ in range(bench_core.N_BLOCKS):
        y1 = np.sin(x)
        y4 = np.cos(y1) * 1.3 + x
        y = np.tanh(y4)
        z = np.exp(-(y * y))
        tape.append((x, y1, y, z))
        x = z + y * 0.5
    g = np.ones_like(x)
    for x, y1, y, z in reversed(tape):
        gy = g * 0.5 - 2.0 * g * z * y
        gy4 = gy * (1.0 - y * y)
        g = gy4 + np.cos(x) * (-np.sin(y1) * 1.3 * gy4)
    return g


def bench_chain(res: Results) -> None:
    n_ops = bench_core.N_BLOCKS * bench_core.OPS_PER_BLOCK
    for shape in ((), (1,)):
        x = np.full(shape, 0.3)
        want = chain_grad_numpy(x)
        np.testing.assert_allclose(want, bench_core.complex_step_grad(0.3), rtol=1e-10)

        def b_ft():
            if shape == ():
                g = ft.grad(lambda x: chain(fnp, x))
            else:
                g = ft.grad(lambda x: fnp.sum(chain(fnp, x)))
            return lambda: g(x)

        def b_ag():
            g = autograd.grad(lambda x: anp.sum(chain(anp, x)))
            return lambda: g(x)

        def b_jax(jit):
            g = jax.grad(lambda x: jnp.sum(chain(jnp, x)))
            g = jax.jit(g) if jit else g
            xj = jnp.asarray(x)
            return jax_timed(g, xj)

        def b_torch():
            g = tf.grad(lambda x: torch.sum(chain(torch, x)))
            xt = torch.tensor(x)
            return lambda: g(xt)

        res.time_case("chain", f"grad, {n_ops}-op chain, x.shape={shape}",
                      lambda: chain_grad_numpy(x),
                      {"functrans": b_ft, "autograd": b_ag, "jax": lambda: b_jax(False),
                       "jax.jit": lambda: b_jax(True), "torch.func": b_torch},
                      rtol=1e-10, atol=1e-14, per=n_ops)


# =========================================================================================
# 2. MLP loss gradient (softmax cross-entropy, tanh hidden layers, float32, B = 128)

def mlp_loss(m: Any, cross_entropy: Callable[[Any, Any], Any], params: Any, x: Any,
             onehot: Any) -> Any:
    """The same network for every library: ``m`` is its NumPy namespace, ``cross_entropy`` the
    mean softmax cross-entropy of logits against one-hot rows as a user of it writes it (as in
    the CNN step): functrans's and torch's own loss, JAX's and autograd's log-softmax idiom."""
    *hidden, (w, b) = params
    h = x
    for wi, bi in hidden:
        h = m.tanh(h @ wi + bi)
    return cross_entropy(h @ w + b, onehot)


def bench_mlp(res: Results) -> None:
    rng = np.random.default_rng(0)
    for sizes in ((64, 256, 10), (1024, 1024, 1024, 10)):
        params, x, onehot = bench_core.make_mlp(sizes, 128, rng)
        params = [tuple(p) for p in params]

        def b_ft():
            g = ft.grad(lambda p, x, y: mlp_loss(fnp, ft.nn.softmax_cross_entropy, p, x, y))
            return lambda: g(params, x, onehot)

        def b_ag():
            ce = lambda z, y: anp.mean(asp.logsumexp(z, axis=1) - anp.sum(y * z, axis=1))
            g = autograd.grad(lambda p, x, y: mlp_loss(anp, ce, p, x, y))
            return lambda: g(params, x, onehot)

        def b_jax(jit):
            ce = lambda z, y: -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1))
            g = jax.grad(lambda p, x, y: mlp_loss(jnp, ce, p, x, y))
            return jax_timed(jax.jit(g) if jit else g, jx(params), jnp.asarray(x), jnp.asarray(onehot))

        def b_torch():
            ce = torch.nn.functional.cross_entropy          # probabilities (one-hot) as targets
            g = tf.grad(lambda p, x, y: mlp_loss(torch, ce, p, x, y))
            pt, xt, yt = th(params), th(x), th(onehot)
            return lambda: g(pt, xt, yt)

        res.time_case("mlp", f"grad, MLP {'→'.join(map(str, sizes))}, B=128, float32",
                      lambda: [tuple(p) for p in bench_core.mlp_grad_numpy(params, x, onehot)],
                      {"functrans": b_ft, "autograd": b_ag, "jax": lambda: b_jax(False),
                       "jax.jit": lambda: b_jax(True), "torch.func": b_torch},
                      rtol=2e-3, atol=2e-6)


# =========================================================================================
# 3. Jacobians of tanh(W x), 4. Hessian of logsumexp(W x) + ½‖x‖², 5. batch Jacobians

def autograd_jacfwd(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """autograd has forward-mode jvps but no forward Jacobian: a loop of n jvps."""
    def jac(x):
        jvp = autograd.make_jvp(f)(x)
        eye = np.eye(x.size, dtype=x.dtype)
        return np.stack([jvp(e)[1] for e in eye], axis=-1)
    return jac


def bench_jacobians(res: Results) -> None:
    rng = np.random.default_rng(1)
    for n in (100, 400):
        w = rng.standard_normal((n, n)) / np.sqrt(n)
        x = rng.standard_normal(n)

        def ref():
            return (1 - np.tanh(w @ x) ** 2)[:, None] * w

        for mode in ("rev", "fwd"):
            def b_ft():
                j = (ft.jacrev if mode == "rev" else ft.jacfwd)(lambda x: fnp.tanh(w @ x))
                return lambda: j(x)

            def b_ag():
                f = lambda x: anp.tanh(anp.dot(w, x))
                j = autograd.jacobian(f) if mode == "rev" else autograd_jacfwd(f)
                return lambda: j(x)

            def b_jax(jit):
                wj = jnp.asarray(w)
                j = (jax.jacrev if mode == "rev" else jax.jacfwd)(lambda x: jnp.tanh(wj @ x))
                return jax_timed(jax.jit(j) if jit else j, jnp.asarray(x))

            def b_torch():
                wt = torch.from_numpy(w)
                j = (tf.jacrev if mode == "rev" else tf.jacfwd)(lambda x: torch.tanh(wt @ x))
                xt = torch.from_numpy(x)
                return lambda: j(xt)

            res.time_case("jacobian", f"jac{mode} tanh(W x), n={n}", ref,
                          {"functrans": b_ft, "autograd": b_ag, "jax": lambda: b_jax(False),
                           "jax.jit": lambda: b_jax(True), "torch.func": b_torch},
                          rtol=1e-10, atol=1e-13)
    res.notes.append("autograd has no forward-mode Jacobian: its `jacfwd` cells are a Python loop "
                     "of n `autograd.make_jvp` calls; its `jacrev` is `autograd.jacobian`, which "
                     "also loops over the n output cotangents.")

    # --- Hessian
    n = 100
    w = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)

    def b_ft_h():
        h = ft.hessian(lambda x: ft.nn.logsumexp(w @ x) + 0.5 * fnp.sum(x * x))
        return lambda: h(x)

    def b_ag_h():
        h = autograd.hessian(lambda x: asp.logsumexp(anp.dot(w, x)) + 0.5 * anp.sum(x * x))
        return lambda: h(x)

    def b_jax_h(jit):
        wj = jnp.asarray(w)
        h = jax.hessian(lambda x: jax.nn.logsumexp(wj @ x) + 0.5 * jnp.sum(x * x))
        return jax_timed(jax.jit(h) if jit else h, jnp.asarray(x))

    def b_torch_h():
        wt = torch.from_numpy(w)
        h = tf.hessian(lambda x: torch.logsumexp(wt @ x, dim=0) + 0.5 * torch.sum(x * x))
        xt = torch.from_numpy(x)
        return lambda: h(xt)

    res.time_case("hessian", f"hessian logsumexp(W x)+½‖x‖², n={n}",
                  lambda: jac_ref.lse_hessian_numpy(w, x),
                  {"functrans": b_ft_h, "autograd": b_ag_h, "jax": lambda: b_jax_h(False),
                   "jax.jit": lambda: b_jax_h(True), "torch.func": b_torch_h},
                  rtol=1e-9, atol=1e-12)

    # --- batch Jacobians of a 2-layer elu MLP, B = 64
    for sizes in ((5, 8, 6), (32, 64, 32)):
        params = []
        for fi, fo in zip(sizes[:-1], sizes[1:]):
            params.append((rng.standard_normal((fi, fo)) / np.sqrt(fi), 0.1 * rng.standard_normal(fo)))
        (w1, b1), (w2, b2) = params
        xb = rng.standard_normal((64, sizes[0]))

        def b_ft_b():
            bj = ft.batch_jacobian(lambda x: ft.nn.elu(ft.nn.elu(x @ w1 + b1) @ w2 + b2))
            return lambda: bj(xb)

        def b_ag_b():
            def elu(z):
                return anp.where(z > 0, z, anp.expm1(anp.minimum(z, 0.0)))
            # examples are independent: the Jacobian of the batch-summed output, (out, B, in)
            j = autograd.jacobian(lambda x: anp.sum(elu(anp.dot(elu(anp.dot(x, w1) + b1), w2) + b2),
                                                    axis=0))
            return lambda: np.swapaxes(j(xb), 0, 1)

        def b_jax_b(jit):
            p = jx(params)
            f = lambda x: jax.nn.elu(jax.nn.elu(x @ p[0][0] + p[0][1]) @ p[1][0] + p[1][1])
            bj = jax.vmap(jax.jacrev(f))
            return jax_timed(jax.jit(bj) if jit else bj, jnp.asarray(xb))

        def b_torch_b():
            (tw1, tb1), (tw2, tb2) = th(params)
            elu = torch.nn.functional.elu
            bj = tf.vmap(tf.jacrev(lambda x: elu(elu(x @ tw1 + tb1) @ tw2 + tb2)))
            xt = torch.from_numpy(xb)
            return lambda: bj(xt)

        res.time_case("batch_jacobian", f"batch_jacobian elu MLP {'→'.join(map(str, sizes))}, B=64",
                      lambda: jac_ref.mlp_batch_jacobian_numpy(params, xb),
                      {"functrans": b_ft_b, "autograd": b_ag_b, "jax": lambda: b_jax_b(False),
                       "jax.jit": lambda: b_jax_b(True), "torch.func": b_torch_b},
                      rtol=1e-10, atol=1e-13)
    res.notes.append("batch_jacobian: functrans `batch_jacobian` (mode auto); JAX and torch.func "
                     "`vmap(jacrev(f))` over examples; autograd (no vmap) `jacobian` of the "
                     "batch-summed output, one pullback per output feature.")


# =========================================================================================
# 6. one CNN training step (bench_cnn's model), float32, batch 32

LR = bench_cnn.LR


def cnn_params(model: Any) -> dict[str, np.ndarray]:
    conv1, conv2, _, _, dense = model.layers
    return {"f1": conv1.filter, "b1": conv1.bias, "f2": conv2.filter, "b2": conv2.bias,
            "k": dense.kernel, "bd": dense.bias}


def _conv_cols(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    b, h, w, c = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.empty((b, ho, wo, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x[:, i:i + ho, j:j + wo, :]
    return cols.reshape(b * ho * wo, kh * kw * c)


def _conv_cols_backward(dcols: np.ndarray, shape: tuple, kh: int, kw: int) -> np.ndarray:
    b, h, w, c = shape
    ho, wo = h - kh + 1, w - kw + 1
    dcols = dcols.reshape(b, ho, wo, kh, kw, c)
    dx = np.zeros(shape, dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, i:i + ho, j:j + wo, :] += dcols[:, :, :, i, j, :]
    return dx


def cnn_step_numpy(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple:
    """Hand-written forward, backward (im2col convolutions) and SGD update."""
    bsz = x.shape[0]
    f1, f2 = p["f1"], p["f2"]
    c1 = _conv_cols(x, 3, 3)                                        # (B*26*26, 9)
    z1 = (c1 @ f1.reshape(-1, f1.shape[-1]) + p["b1"]).reshape(bsz, 26, 26, 8)
    a1 = np.maximum(z1, 0)
    c2 = _conv_cols(a1, 3, 3)                                       # (B*24*24, 72)
    z2 = (c2 @ f2.reshape(-1, f2.shape[-1]) + p["b2"]).reshape(bsz, 24, 24, 16)
    a2 = np.maximum(z2, 0)
    r = a2.reshape(bsz, 12, 2, 12, 2, 16)
    pooled = r.max(axis=(2, 4))
    flat = pooled.reshape(bsz, -1)
    logits = flat @ p["k"] + p["bd"]
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[np.arange(bsz), y])
    d = e / s
    d[np.arange(bsz), y] -= 1
    d /= bsz
    g = {"k": flat.T @ d, "bd": d.sum(axis=0)}
    dflat = (d @ p["k"].T).reshape(bsz, 12, 1, 12, 1, 16)
    mask = r == pooled[:, :, None, :, None, :]
    dz2 = (mask * dflat).reshape(bsz, 24, 24, 16) * (z2 > 0)
    dz2f = dz2.reshape(-1, 16)
    g["f2"] = (c2.T @ dz2f).reshape(f2.shape)
    g["b2"] = dz2f.sum(axis=0)
    da1 = _conv_cols_backward(dz2f @ f2.reshape(-1, 16).T, a1.shape, 3, 3)
    dz1f = (da1 * (z1 > 0)).reshape(-1, 8)
    g["f1"] = (c1.T @ dz1f).reshape(f1.shape)
    g["b1"] = dz1f.sum(axis=0)
    return {k: p[k] - LR * g[k] for k in p}, np.float32(loss)


def bench_cnn_step(res: Results) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    model = bench_cnn.make_model(rng)
    p = cnn_params(model)

    def b_ft():
        opt = ft.optim.SGD(learning_rate=LR)
        state = opt.init(model)

        def step():
            m, _, loss = bench_cnn.functrans_step(model, opt, state, x, y)
            return cnn_params(m), np.float32(loss)
        return step

    def b_ag():
        def forward(p, x):
            def conv(a, f, b):
                ho, wo = a.shape[1] - 2, a.shape[2] - 2
                out = 0.0
                for i in range(3):
                    for j in range(3):
                        out = out + anp.dot(a[:, i:i + ho, j:j + wo, :], f[i, j])
                return anp.maximum(out + b, 0.0)
            a = conv(conv(x, p["f1"], p["b1"]), p["f2"], p["b2"])
            bsz = a.shape[0]
            a = anp.max(anp.max(anp.reshape(a, (bsz, 12, 2, 12, 2, 16)), axis=4), axis=2)
            logits = anp.dot(anp.reshape(a, (bsz, -1)), p["k"]) + p["bd"]
            return anp.mean(asp.logsumexp(logits, axis=1) - logits[np.arange(bsz), y])
        vg = autograd.value_and_grad(forward)

        def step():
            loss, g = vg(p, x)
            return {k: p[k] - LR * g[k] for k in p}, np.float32(loss)
        return step

    def b_jax(jit):
        def forward(p, x, y):
            dn = ("NHWC", "HWIO", "NHWC")
            a = jax.nn.relu(lax.conv_general_dilated(x, p["f1"], (1, 1), "VALID",
                                                     dimension_numbers=dn) + p["b1"])
            a = jax.nn.relu(lax.conv_general_dilated(a, p["f2"], (1, 1), "VALID",
                                                     dimension_numbers=dn) + p["b2"])
            a = lax.reduce_window(a, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
            logits = a.reshape(a.shape[0], -1) @ p["k"] + p["bd"]
            logp = jax.nn.log_softmax(logits)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

        def step(p, x, y):
            loss, g = jax.value_and_grad(forward)(p, x, y)
            return jax.tree_util.tree_map(lambda a, b: a - LR * b, p, g), loss
        return jax_timed(jax.jit(step) if jit else step, jx(p), jnp.asarray(x), jnp.asarray(y))

    def b_torch():
        f = torch.nn.functional

        def forward(p, x, y):                      # NCHW / OIHW: torch's layout
            a = f.relu(f.conv2d(x, p["f1"], p["b1"]))
            a = f.relu(f.conv2d(a, p["f2"], p["b2"]))
            a = f.max_pool2d(a, 2, 2)
            a = a.permute(0, 2, 3, 1).reshape(a.shape[0], -1)   # NHWC flattening order
            return f.cross_entropy(a @ p["k"] + p["bd"], y)
        gv = tf.grad_and_value(forward)
        tp = {k: th(v.transpose(3, 2, 0, 1).copy()) if k in ("f1", "f2") else th(v)
              for k, v in p.items()}
        xt, yt = th(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y.astype(np.int64))

        def step():
            g, loss = gv(tp, xt, yt)
            new = {k: tp[k] - LR * g[k] for k in tp}
            return ({k: v.permute(2, 3, 1, 0) if k in ("f1", "f2") else v for k, v in new.items()},
                    loss)
        return step

    res.time_case("cnn", "CNN training step (conv-conv-pool-dense), B=32, float32",
                  lambda: cnn_step_numpy(p, x, y),
                  {"functrans": b_ft, "autograd": b_ag, "jax": lambda: b_jax(False),
                   "jax.jit": lambda: b_jax(True), "torch.func": b_torch},
                  rtol=2e-3, atol=2e-5)
    res.notes.append("CNN step: forward, all parameter gradients and the SGD update from the same "
                     "weights; checked on the updated parameters and the loss. NumPy reference: "
                     "im2col convolutions. autograd: convolutions as 9 shifted matmuls; JAX: "
                     "`lax.conv_general_dilated` + `reduce_window`; torch.func: "
                     "`grad_and_value` of `F.conv2d`/`F.max_pool2d` (NCHW).")


# =========================================================================================
# 7. remat memory: peak RSS of one grad through a 64-layer chain, per library, in a fresh child

REMAT_LIBS = ["numpy", "functrans", "autograd", "jax", "jax.jit", "torch"]


def _remat_grad(lib: str, variant: str, ws: tuple, x: np.ndarray, segments: int
                ) -> Callable[[], Any]:
    """A zero-argument callable computing d sum(chain(ws, x)) / dx (float32)."""
    L = len(ws)
    per = L // segments
    remat = variant == "remat"
    if lib == "numpy":
        def grad():
            if not remat:
                hs, h = [], x
                for w in ws:
                    h = np.tanh(h @ w)
                    hs.append(h)
                g = np.ones_like(h)
                for w, h in zip(reversed(ws), reversed(hs)):
                    g = (g * (1 - h * h)) @ w.T
                return g
            bounds, h = [], x
            for s in range(segments):
                bounds.append(h)
                for w in ws[s * per:(s + 1) * per]:
                    h = np.tanh(h @ w)
            g = np.ones_like(h)
            for s in reversed(range(segments)):
                hs, h = [], bounds[s]
                for w in ws[s * per:(s + 1) * per]:
                    h = np.tanh(h @ w)
                    hs.append(h)
                for w, h in zip(reversed(ws[s * per:(s + 1) * per]), reversed(hs)):
                    g = (g * (1 - h * h)) @ w.T
                del hs
            return g
        return grad
    if lib == "functrans":
        g = ft.grad(bench_remat.make_loss("segments" if remat else "plain", L, segments),
                    argnums=1)
        return lambda: g(ws, x)
    if lib == "autograd":
        def seg(ws, h):
            for w in ws:
                h = anp.tanh(anp.dot(h, w))
            return h
        segc = autograd.checkpoint(seg) if remat else seg

        def loss(x):
            h = x
            for s in range(segments):
                h = segc(ws[s * per:(s + 1) * per], h)
            return anp.sum(h)
        g = autograd.grad(loss)
        return lambda: g(x)
    if lib in ("jax", "jax.jit"):
        def seg(ws, h):
            for w in ws:
                h = jnp.tanh(h @ w)
            return h
        segc = jax.checkpoint(seg) if remat else seg

        def loss(ws, h):
            for s in range(segments):
                h = segc(ws[s * per:(s + 1) * per], h)
            return jnp.sum(h)
        g = jax.grad(loss, argnums=1)
        g = jax.jit(g) if lib == "jax.jit" else g
        wj, xj = jx(ws), jnp.asarray(x)
        return jax_timed(g, wj, xj)
    if lib == "torch":
        from torch.utils.checkpoint import checkpoint

        def seg(h, *ws):
            for w in ws:
                h = torch.tanh(h @ w)
            return h
        wt = th(ws)
        xt = torch.from_numpy(x)

        def grad():
            xr = xt.detach().requires_grad_(True)
            h = xr
            for s in range(segments):
                part = wt[s * per:(s + 1) * per]
                h = checkpoint(seg, h, *part, use_reentrant=False) if remat else seg(h, *part)
            return torch.autograd.grad(h.sum(), xr)[0]
        return grad
    raise ValueError(lib)


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _child_main(argv: list[str]) -> None:
    """``--child remat LIB VARIANT WIDTH LAYERS SEGMENTS REPEAT OUT.npy``: one measurement."""
    kind, lib, variant, width, layers, segments, repeat, out = argv
    width, layers, segments, repeat = int(width), int(layers), int(segments), int(repeat)
    rng = np.random.default_rng(0)
    ws = tuple((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
               for _ in range(layers))
    x = rng.standard_normal((width, width)).astype(np.float32)
    fn = _remat_grad(lib, variant, ws, x, segments)
    r = fn()                       # warm-up: compiles (jax.jit), caches, lazy imports
    del r
    gc.collect()
    base = _rss_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")               # reset the high-water mark to the current RSS
    r = fn()
    peak = _rss_kb("VmHWM")
    np.save(out, to_numpy(r))
    del r
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"peak": (peak - base) * 1024, "time": statistics.median(times)}))


def bench_remat_memory(res: Results, quick: bool) -> None:
    width, layers, segments = (256, 64, 8) if quick else (512, 64, 8)
    repeat = 1 if quick else 3
    print(f"[remat] {layers} layers, activations {width}x{width} float32, {segments} segments",
          file=sys.stderr, flush=True)
    env = dict(os.environ, FUNCTRANS_MALLOC_TUNING="0", MALLOC_MMAP_THRESHOLD_="65536",
               MALLOC_TRIM_THRESHOLD_="0")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        grads = {}
        for lib in REMAT_LIBS:
            m = {"kind": "remat", "lib": lib, "width": width, "layers": layers,
                 "segments": segments}
            results[lib] = m
            miss = MISSING.get(lib if lib != "torch" else "torch.func")
            if miss:
                m["status"] = miss
                continue
            for variant in ("plain", "remat"):
                out = os.path.join(tmp, f"{lib}-{variant}.npy")
                cmd = [sys.executable, os.path.abspath(__file__), "--child", "remat", lib, variant,
                       str(width), str(layers), str(segments), str(repeat), out]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
                if proc.returncode:
                    m["status"] = "error"
                    res.notes.append(f"remat / {lib} / {variant}: "
                                     f"{proc.stderr.strip().splitlines()[-1][:300]}")
                    break
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                m[f"{variant}_peak"], m[f"{variant}_time"] = r["peak"], r["time"]
                grads[(lib, variant)] = np.load(out)
            else:
                m["status"] = "ok"
        want = grads.get(("numpy", "plain"))
        for lib, m in results.items():
            if m.get("status") != "ok":
                continue
            try:
                for variant in ("plain", "remat"):
                    check(grads[(lib, variant)], want, rtol=1e-3, atol=1e-4)
            except AssertionError as e:
                m["status"] = "wrong result"
                res.notes.append(f"remat / {lib}: {str(e).strip().splitlines()[0][:300]}")
                continue
            m["memory_ratio"] = m["remat_peak"] / m["plain_peak"]
            m["time_ratio"] = m["remat_time"] / m["plain_time"]
            print(f"    {lib}: plain {m['plain_peak'] / 2**20:.0f} MB, remat "
                  f"{m['remat_peak'] / 2**20:.0f} MB ({m['memory_ratio']:.2f}x); time "
                  f"{m['time_ratio']:.2f}x", file=sys.stderr, flush=True)
    res.memory += list(results.values())
    res.notes.append(
        f"remat: grad w.r.t. x of sum(tanh(x @ W_i)), {layers} layers, {width}x{width} float32 "
        f"activations ({width * width * 4 / 2 ** 20:g} MB each), remat = {segments} checkpointed "
        f"segments of {layers // segments} layers (functrans `remat`, autograd `checkpoint`, "
        "`jax.checkpoint`, `torch.utils.checkpoint(use_reentrant=False)` with "
        "`torch.autograd.grad`; NumPy: hand-written backprop that recomputes each segment). "
        "Peak = high-water RSS of one call in a fresh process after a warm-up call, minus the "
        "RSS before it (glibc mmap threshold 64 KiB so freed buffers leave the RSS; functrans's "
        "malloc tuning off); the returned gradient is included.")


# =========================================================================================
# 8. bounded-memory Jacobians: chunk_size

def _traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, out


def _chunk_cases(quick: bool) -> list[tuple]:
    """(case, transform(chunk_size) -> zero-argument call, closed-form answer, chunk_size,
    basis rows). The issue's 4000 -> 4000 maps, quick or not: tanh(W x), whose unchunked
    Jacobian needs nothing beyond its result, and maps whose unchunked Jacobian needs n x n
    intermediates (two layers; a Hessian); then maps through a 4x wider layer and an
    attention head (125 tokens x 32: 4000 -> 4000), 1000 -> 1000 and 64 x 16 tokens when
    quick (the memory ratios depend on the shapes' proportions, not their size, and a call
    costs 64x less)."""
    rng = np.random.default_rng(2)
    n, chunk = 4000, 500
    w1, w2 = ((rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32) for _ in range(2))
    x = rng.standard_normal(n).astype(np.float32)
    one = lambda x: fnp.tanh(w1 @ x)
    two = lambda x: fnp.tanh(w2 @ fnp.tanh(w1 @ x))
    h = np.tanh(w1 @ x)
    jac_one = (1 - h ** 2)[:, None] * w1
    jac_two = (1 - np.tanh(w2 @ h) ** 2)[:, None] * (w2 @ jac_one)
    cases = [(f"{jac.__name__} {name}, {n}→{n}", lambda c, jac=jac, f=f: (lambda: jac(f, chunk_size=c)(x)),
              want, chunk, n)
             for name, f, want in [("tanh(W x)", one, jac_one), ("tanh(W₂ tanh(W₁ x))", two, jac_two)]
             for jac in (ft.jacrev, ft.jacfwd)]
    cases.append((f"hessian Σ log cosh(W x), n={n}",
                  lambda c: (lambda: ft.hessian(lambda x: fnp.sum(fnp.log(fnp.cosh(w1 @ x))),
                                                chunk_size=c)(x)),
                  w1.T @ ((1 - h ** 2)[:, None] * w1), chunk, n))
    d, b = (128, 64) if quick else (256, 64)
    v1 = (rng.standard_normal((d, 2 * d)) / np.sqrt(d)).astype(np.float32)
    v2 = (rng.standard_normal((2 * d, d)) / np.sqrt(2 * d)).astype(np.float32)
    xb = rng.standard_normal((b, d)).astype(np.float32)
    mlp = lambda x: ft.nn.elu(ft.nn.elu(x @ v1) @ v2)
    want = jac_ref.mlp_batch_jacobian_numpy([(v1, np.zeros(2 * d, np.float32)),
                                             (v2, np.zeros(d, np.float32))], xb)
    cases.append((f"batch_jacobian elu MLP {d}→{2 * d}→{d}, B={b}",
                  lambda c: (lambda: ft.batch_jacobian(mlp, chunk_size=c)(xb)), want, d // 8, d))
    return cases + _wide_chunk_cases(rng, 1000 if quick else n) + \
        _attention_chunk_cases(rng, *((64, 16) if quick else (125, 32)))


def _wide_chunk_cases(rng: np.random.Generator, n: int) -> list[tuple]:
    """Maps through a 4x wider layer, whose unchunked Jacobians may hold (n x 4n)
    intermediates, 4 results' worth each: a transformer's MLP block, and the Hessian of
    logistic regression's loss on 4n examples (Newton's method). chunk_size = n / 8."""
    h, chunk = 4 * n, n // 8
    w1 = (rng.standard_normal((h, n)) / np.sqrt(n)).astype(np.float32)
    w2 = (rng.standard_normal((n, h)) / np.sqrt(h)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(h)).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    block = lambda x: w2 @ fnp.tanh(w1 @ x + b1)
    jac_block = w2 @ ((1 - np.tanh(w1 @ x + b1) ** 2)[:, None] * w1)
    data = (rng.standard_normal((h, n)) / np.sqrt(n)).astype(np.float32)     # examples x features
    labels = (rng.random(h) < 0.5).astype(np.float32)
    loss = lambda t: fnp.sum(ft.nn.softplus(data @ t)) - labels @ (data @ t)
    p = 1 / (1 + np.exp(-(data @ x)))
    hess_loss = data.T @ ((p * (1 - p))[:, None] * data)
    cases = [(f"{jac.__name__} MLP block W₂ tanh(W₁ x + b₁), {n}→{h}→{n}",
              lambda c, jac=jac: (lambda: jac(block, chunk_size=c)(x)), jac_block, chunk, n)
             for jac in (ft.jacrev, ft.jacfwd)]
    cases.append((f"hessian logistic-regression loss, {h} examples × {n} features",
                  lambda c: (lambda: ft.hessian(loss, chunk_size=c)(x)), hess_loss, chunk, n))
    return cases


def _attention_chunk_cases(rng: np.random.Generator, tokens: int, width: int) -> list[tuple]:
    """One head of self-attention, softmax(X Wq (X Wk)ᵀ / √d) X Wv on ``tokens`` x ``width``
    inputs: each basis row's tangent of the scores is tokens x tokens, (tokens / width) results'
    worth unchunked. Checked against a hand-written forward-mode derivative."""
    n, chunk, scale = tokens * width, tokens * width // 8, np.float32(1 / np.sqrt(width))
    wq, wk, wv = ((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
                  for _ in range(3))
    x = rng.standard_normal((tokens, width)).astype(np.float32)
    attn = lambda x: ft.nn.softmax((x @ wq) @ (x @ wk).T * scale, axis=-1) @ (x @ wv)
    e = np.eye(n, dtype=np.float32).reshape(n, tokens, width)       # d x, one basis row each
    q, k, v = x @ wq, x @ wk, x @ wv
    p = np.exp(q @ k.T * scale - (q @ k.T * scale).max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ds = ((e @ wq) @ k.T + q @ np.swapaxes(e @ wk, -1, -2)) * scale
    dy = p * (ds - (p * ds).sum(-1, keepdims=True)) @ v + p @ (e @ wv)
    want = np.moveaxis(dy, 0, -1).reshape(tokens, width, tokens, width)
    del e, ds, dy
    return [(f"{jac.__name__} self-attention head, {tokens} tokens × {width}, {n}→{n}",
             lambda c, jac=jac: (lambda: jac(attn, chunk_size=c)(x)), want, chunk, n)
            for jac in (ft.jacrev, ft.jacfwd)]


def bench_chunked(res: Results, quick: bool) -> None:
    """Peak memory (tracemalloc) with and without ``chunk_size``, the result counted and not."""
    clock = _harness.CLOCKS[res.rep.clock]
    for case, make, want, chunk, rows in _chunk_cases(quick):
        case = f"{case}, float32"
        print(f"[chunk] {case}, chunk_size={chunk}", file=sys.stderr, flush=True)
        full, chunked = make(None), make(chunk)
        t0 = clock()
        p_full, j_full = _traced_peak(full)
        slow = clock() - t0 > 2
        p_chunk, j_chunk = _traced_peak(chunked)
        same = bool(np.array_equal(j_full, j_chunk)) and j_full.dtype == j_chunk.dtype
        for j in (j_full, j_chunk):
            np.testing.assert_allclose(j, want, rtol=2e-3, atol=2e-5)
        differ = float(np.abs(j_chunk - j_full).max() / np.abs(j_full).max())
        result = int(j_full.nbytes)
        del j_full, j_chunk
        t = {"full": _once(full, clock), "chunk": _once(chunked, clock)} if quick or slow \
            else res.rep.compare({"full": full, "chunk": chunked})
        m = {"kind": "chunk", "case": case, "lib": "functrans", "chunk_size": chunk,
             "full_peak": p_full, "chunk_peak": p_chunk, "result_bytes": result,
             "chunk_bytes": result * chunk // rows,
             "full_work": p_full - result, "chunk_work": p_chunk - result,
             "full_time": t["full"], "chunk_time": t["chunk"], "timed_once": quick or slow,
             "same": same, "max_rel_diff": differ, "status": "ok"}
        res.memory.append(m)
        print(f"    peak {p_full / 2**20:.0f} MB -> {p_chunk / 2**20:.0f} MB "
              f"({p_chunk / p_full:.2f}x, floor {result / p_full:.2f}x; result "
              f"{result / 2**20:.0f} MB; above it {(p_full - result) / 2**20:.1f} -> "
              f"{(p_chunk - result) / 2**20:.1f} MB = {(p_chunk - result) / m['chunk_bytes']:.2f} "
              f"chunks); time {fmt_time(t['full'])} -> {fmt_time(t['chunk'])}; identical: {same} "
              f"(max difference {differ:.1e} of max |J|)",
              file=sys.stderr, flush=True)
    res.notes.append("chunked Jacobians: peak = tracemalloc peak above the baseline during one "
                     "call (the function's constants, e.g. W, are not counted; the returned "
                     "result is); 'working' = peak minus the result's bytes, also counted in "
                     "chunk-sized arrays (chunk_size basis rows of the result). A chunked run "
                     "holds at least its own result, so its peak ratio cannot fall below the "
                     "floor = result / unchunked peak. 'same result' = bitwise equal and the "
                     "same dtype, or else the largest difference / the largest entry (BLAS "
                     "kernels round products of other shapes differently); both runs are also "
                     "checked against the closed form. A case whose unchunked call takes over "
                     "2 s is timed once each (*), not in interleaved repeats.")


def _once(fn: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    t0 = clock()
    fn()
    return clock() - t0


# =========================================================================================

GROUPS = {"chain": bench_chain, "mlp": bench_mlp, "jacobians": bench_jacobians,
          "cnn": bench_cnn_step, "remat": bench_remat_memory, "chunk": bench_chunked}


def machine() -> dict[str, Any]:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_pinned": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpus_online": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU family", "Model", "Hypervisor vendor",
                               "Architecture", "CPU(s)", "L2 cache", "L3 cache",
                               "Flags") and val.strip():
                info[key.strip()] = val.strip() if key.strip() != "Flags" else \
                    " ".join(f for f in val.split() if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    try:
        info["blas"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "functrans"], cwd=HERE,
                               capture_output=True, text=True).stdout.strip()
        info["functrans_commit"] = rev + (" (+ uncommitted changes in functrans/)" if dirty else "")
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> Results:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child_main(argv[1:])
        sys.exit(0)
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--only", default=None, help="comma-separated groups: " + ",".join(GROUPS))
    ap.add_argument("--libs", default=None,
                    help="comma-separated libraries to time besides numpy: " + ",".join(LIBS[1:]))
    own, rest = ap.parse_known_args(argv)
    if own.libs is not None:
        wanted = own.libs.split(",")
        unknown = [lib for lib in wanted if lib not in LIBS]
        if unknown:
            raise SystemExit(f"peers.py: unknown library {unknown[0]!r}; the libraries are "
                             f"{', '.join(LIBS)}")
        SKIPPED.update(lib for lib in LIBS[1:] if lib not in wanted)
    rep = Report("peers", __doc__, rest, clock="cpu")
    res = Results(rep)
    groups = list(GROUPS) if own.only is None else own.only.split(",")
    t0 = time.perf_counter()
    group_s: dict[str, float] = {}
    for g in groups:
        if g not in GROUPS:
            raise SystemExit(f"peers.py: unknown group {g!r}; the groups are {', '.join(GROUPS)}")
        t_g = time.perf_counter()
        fn = GROUPS[g]
        if g in ("remat", "chunk"):
            fn(res, rep.quick)
        else:
            fn(res)
        group_s[g] = time.perf_counter() - t_g
        print(f"[{g}] done in {group_s[g]:.0f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    for lib, why in MISSING.items():
        res.notes.append(f"{lib}: {why}")
    info = machine()
    print("### functrans and its peers: time / NumPy reference time (lower is better)\n")
    print(res.ratio_table())
    print("\nMedian time per call (the 200-op chain rows: per op):\n")
    print(res.time_table())
    if res.memory:
        print("\n### Memory\n")
        print(res.memory_table())
    print()
    for n in res.notes:
        print(f"- {n}")
    print(f"\nversions: {', '.join(f'{k} {v}' for k, v in VERSIONS.items())}")
    print(f"machine: {info.get('Model name', '?')}, pinned to CPU {info.get('cpu_pinned')}; "
          f"{rep.repeat} interleaved repeats; clock: {rep.clock} "
          f"({'process CPU time' if rep.clock == 'cpu' else 'wall time'}); {elapsed:.0f} s "
          f"({', '.join(f'{g} {t:.0f} s' for g, t in group_s.items())})")
    if rep.args.json:
        with open(rep.args.json, "w") as f:
            json.dump({"issue": "peers", "libraries": LIBS, "rows": res.rows,
                       "memory": res.memory, "notes": res.notes, "versions": VERSIONS,
                       "machine": info, "quick": rep.quick, "repeat": rep.repeat,
                       "clock": rep.clock, "elapsed_s": elapsed, "group_s": group_s}, f, indent=1)
    return res


if __name__ == "__main__":
    main()
