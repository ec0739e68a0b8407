"""Issue "core": interpreter overhead of functrans, as ratios against NumPy (and autograd).

a. eval fast path: ``fnp.f(x)`` with no traced argument vs ``np.f(x)`` on a 3-element array;
b. ``grad`` of a 200-op elementwise chain on a 0-d float64 array: µs per op (forward+backward),
   and the same code through HIPS autograd (optional peer);
c. ``grad`` of a softmax cross-entropy MLP loss (tanh hidden layers, float32, batch 128) vs a
   hand-written NumPy forward + backprop.

    python benchmarks/bench_core.py [--quick] [--json out.json]
"""

from __future__ import annotations

import _harness  # noqa: F401  (pins BLAS threads; must precede numpy)
from _harness import Report

import numpy as np

import functrans as ft
import functrans.numpy as fnp

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # optional peer
    autograd = anp = None


# ---------------------------------------------------------------------------------------
# a. eval fast path

def fast_path_cases():
    x = np.array([0.1, 0.7, -0.4])
    y = np.array([0.5, -0.2, 0.3])
    c = x > 0
    a = np.arange(9.0).reshape(3, 3) / 10
    b = a.T.copy()
    key = slice(1, None)
    return [
        ("sin (3 float64)", lambda: fnp.sin(x), lambda: np.sin(x)),
        ("exp", lambda: fnp.exp(x), lambda: np.exp(x)),
        ("add", lambda: fnp.add(x, y), lambda: np.add(x, y)),
        ("multiply", lambda: fnp.multiply(x, y), lambda: np.multiply(x, y)),
        ("maximum", lambda: fnp.maximum(x, y), lambda: np.maximum(x, y)),
        ("where", lambda: fnp.where(c, x, y), lambda: np.where(c, x, y)),
        ("sum", lambda: fnp.sum(x), lambda: np.sum(x)),
        ("reshape", lambda: fnp.reshape(x, (3, 1)), lambda: np.reshape(x, (3, 1))),
        ("matmul 3x3", lambda: fnp.matmul(a, b), lambda: np.matmul(a, b)),
        # Both sides index with the same key object: ``x[1:]`` would build its slice with
        # one opcode while ``slice(1, None)`` is a call, a cost of the syntax, not of functrans.
        ("getitem x[1:]", lambda: fnp.getitem(x, key), lambda: x[key]),
    ]


# ---------------------------------------------------------------------------------------
# b. 200-op elementwise chain (10 primitive ops per block, 20 blocks)

N_BLOCKS = 20
OPS_PER_BLOCK = 10


def chain(m, x):
    """The same code for fnp, autograd.numpy and numpy (``m``)."""
    for _ in range(N_BLOCKS):
        y = m.sin(x)          # 1
        y = m.cos(y)          # 2
        y = y * 1.3           # 3
        y = y + x             # 4
        y = m.tanh(y)         # 5
        z = y * y             # 6
        z = -z                # 7
        z = m.exp(z)          # 8
        x = z + y * 0.5       # 9, 10
    return x


def complex_step_grad(x0: float, h: float = 1e-30) -> float:
    """Reference derivative of ``chain`` by the complex-step method (exact to rounding)."""
    return chain(np, np.array(x0 + 1j * h)).imag / h


# ---------------------------------------------------------------------------------------
# c. softmax cross-entropy MLP

def mlp_logits(params, x):
    *hidden, (w, b) = params
    h = x
    for wi, bi in hidden:
        h = fnp.tanh(h @ wi + bi)
    return h @ w + b


def mlp_loss(params, x, onehot):
    """The loss as a user writes it, with functrans's softmax cross-entropy."""
    return ft.nn.softmax_cross_entropy(mlp_logits(params, x), onehot)


def mlp_loss_composed(params, x, onehot):
    """The same loss with the log-sum-exp written out in functrans.numpy operations."""
    logits = mlp_logits(params, x)
    m = ft.stop_gradient(fnp.max(logits, axis=1, keepdims=True))
    lse = fnp.log(fnp.sum(fnp.exp(logits - m), axis=1)) + m[:, 0]
    return fnp.mean(lse - fnp.sum(onehot * logits, axis=1))


def mlp_grad_numpy(params, x, onehot):
    """Hand-written forward + backprop of ``mlp_loss``."""
    hs = [x]
    for w, b in params[:-1]:
        hs.append(np.tanh(hs[-1] @ w + b))
    w, b = params[-1]
    logits = hs[-1] @ w + b
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    d = (p - onehot) / x.shape[0]
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, _ = params[i]
        h = hs[i]
        grads.append((h.T @ d, d.sum(axis=0)))
        if i:
            d = (d @ w.T) * (1 - h * h)
    return grads[::-1]


def make_mlp(sizes, batch, rng, dtype=np.float32):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype),
                       (0.1 * rng.standard_normal(fan_out)).astype(dtype)))
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], batch)
    onehot = np.eye(sizes[-1], dtype=dtype)[labels]
    return params, x, onehot


def main(argv=None):
    rep = Report("core", __doc__, argv)

    # a.
    for name, f_ft, f_np in fast_path_cases():
        np.testing.assert_allclose(f_ft(), f_np())
        t = rep.compare({"ft": f_ft, "np": f_np})
        rep.ratio(f"eval fast path: {name}", t["ft"], t["np"], target=1.5)

    # b.
    n_ops = N_BLOCKS * OPS_PER_BLOCK
    x0 = np.array(0.3)
    g_ft = ft.grad(lambda x: chain(fnp, x))
    np.testing.assert_allclose(g_ft(x0), complex_step_grad(0.3), rtol=1e-10)
    fns = {"ft": lambda: g_ft(x0), "numpy eval": lambda: chain(np, x0)}
    if autograd is not None:
        g_ag = autograd.grad(lambda x: chain(anp, x))
        np.testing.assert_allclose(g_ft(x0), g_ag(x0), rtol=1e-12)
        fns["autograd"] = lambda: g_ag(x0)
    t = rep.compare(fns)
    rep.row(f"grad of {n_ops}-op chain (0-d float64): per op", t["ft"] / n_ops * 1e6, " µs",
            target=8.0, ft_time=t["ft"], ref_time=t["numpy eval"], ref="numpy eval only")
    if autograd is not None:
        rep.ratio(f"grad of {n_ops}-op chain vs autograd", t["ft"], t["autograd"], target=0.25,
                  ref="autograd " + autograd.__version__ if hasattr(autograd, "__version__")
                  else "autograd")
    else:
        rep.note("HIPS autograd is not installed (`pip install autograd`): "
                 "the autograd comparison was skipped.")

    # c.
    rng = np.random.default_rng(0)
    for sizes, target in (((64, 256, 10), 1.3), ((1024, 1024, 1024, 10), 1.1)):
        params, x, onehot = make_mlp(sizes, 128, rng)
        g_ft, g_composed = ft.grad(mlp_loss), ft.grad(mlp_loss_composed)
        want = mlp_grad_numpy(params, x, onehot)
        for g in (g_ft, g_composed):
            for (gw, gb), (ww, wb) in zip(g(params, x, onehot), want):
                np.testing.assert_allclose(gw, ww, rtol=2e-3, atol=1e-6)
                np.testing.assert_allclose(gb, wb, rtol=2e-3, atol=1e-6)
                assert gw.dtype == np.float32 and gb.dtype == np.float32
        t = rep.compare({"ft": lambda: g_ft(params, x, onehot),
                         "composed": lambda: g_composed(params, x, onehot),
                         "np": lambda: mlp_grad_numpy(params, x, onehot)})
        name = f"grad MLP {'→'.join(map(str, sizes))} tanh, B=128 float32"
        rep.ratio(name, t["ft"], t["np"], target=target, ref="hand-written numpy backprop")
        rep.ratio(name + ", log-sum-exp composed (info)", t["composed"], t["np"],
                  ref="hand-written numpy backprop")
    rep.note("MLP: softmax cross-entropy with one-hot labels (`ft.nn.softmax_cross_entropy`), "
             "tanh hidden layers, float32; the reference computes the forward pass and the manual "
             "backward pass. The (info) rows write the loss's log-sum-exp out in "
             "`functrans.numpy` operations (max, exp, sum, log) instead.")
    rep.finish()
    return rep


if __name__ == "__main__":
    main()
