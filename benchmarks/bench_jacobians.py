"""Issue "vmap/Jacobians": Jacobians, Hessians and batch Jacobians vs hand-written NumPy.

* ``J = d tanh(W x)/dx`` (n = 400) by ``jacrev`` and ``jacfwd`` vs
  ``(1 - tanh(Wx)**2)[:, None] * W``, and ``jacrev`` vs a Python loop of n pullbacks;
* Hessian of ``logsumexp(W x) + ½‖x‖²`` (n = 100) vs ``Wᵀ (diag p - p pᵀ) W + I``;
* ``batch_jacobian`` of a 2-layer elu MLP (B = 64; 5→8→6 and 32→64→32; ``ft.nn.elu``, and
  as an info row an elu composed of ``where``/``expm1``/``minimum``) vs the per-example
  product of the layer derivatives, and its growth from B = 64 to B = 1024.

All float64.

    python benchmarks/bench_jacobians.py [--quick] [--json out.json]
"""

from __future__ import annotations

import _harness  # noqa: F401  (pins BLAS threads; must precede numpy)
from _harness import Report

import numpy as np

import functrans as ft
import functrans.numpy as fnp


def tanh_wx(w):
    return lambda x: fnp.tanh(w @ x)


def logsumexp(z):
    m = ft.stop_gradient(fnp.max(z))
    return fnp.log(fnp.sum(fnp.exp(z - m))) + m


def lse_objective(w):
    return lambda x: logsumexp(w @ x) + 0.5 * fnp.sum(x * x)


def lse_hessian_numpy(w, x):
    z = w @ x
    e = np.exp(z - z.max())
    p = e / e.sum()
    return w.T @ (np.diag(p) - np.outer(p, p)) @ w + np.eye(x.shape[0])


def composed_elu(z):
    """elu from four functrans.numpy operations (an info row: the cost of a composite)."""
    return fnp.where(z > 0, z, fnp.expm1(fnp.minimum(z, 0.0)))


def mlp(params, act=ft.nn.elu):
    (w1, b1), (w2, b2) = params
    return lambda x: act(act(x @ w1 + b1) @ w2 + b2)


def mlp_batch_jacobian_numpy(params, x):
    """``J[b] = diag(elu'(z2[b])) W2ᵀ diag(elu'(z1[b])) W1ᵀ`` as batched matmuls."""
    (w1, b1), (w2, b2) = params
    z1 = x @ w1 + b1
    h = np.where(z1 > 0, z1, np.expm1(np.minimum(z1, 0.0)))
    d1 = np.where(z1 > 0, 1.0, np.exp(np.minimum(z1, 0.0)))
    z2 = h @ w2 + b2
    d2 = np.where(z2 > 0, 1.0, np.exp(np.minimum(z2, 0.0)))
    # (B, in, hid) @ (hid, out) -> (B, in, out); then (B, out, in) scaled by d2
    j = (w1[None] * d1[:, None, :]) @ w2
    return np.swapaxes(j, 1, 2) * d2[:, :, None]


def main(argv=None):
    rep = Report("vmap/Jacobians", __doc__, argv)
    rng = np.random.default_rng(0)

    # --- Jacobian of tanh(W x), n = 400
    n = 400
    w = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    f = tanh_wx(w)

    def ref_jac():
        return (1 - np.tanh(w @ x) ** 2)[:, None] * w

    jr, jf = ft.jacrev(f), ft.jacfwd(f)
    eye = np.eye(n)

    def loop():
        _, pb = ft.vjp(f, x)
        return np.stack([pb(eye[i])[0] for i in range(n)])

    want = ref_jac()
    np.testing.assert_allclose(jr(x), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jf(x), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loop(), want, rtol=1e-10, atol=1e-12)
    t = rep.compare({"jacrev": lambda: jr(x), "jacfwd": lambda: jf(x), "np": ref_jac,
                     "loop": loop})
    rep.ratio(f"jacrev tanh(Wx), n={n}", t["jacrev"], t["np"], target=5)
    rep.ratio(f"jacfwd tanh(Wx), n={n}", t["jacfwd"], t["np"], target=5)
    rep.row(f"speed-up of jacrev over a loop of {n} pullbacks", t["loop"] / t["jacrev"], "×",
            target=10, higher_is_better=True, ft_time=t["jacrev"], ref_time=t["loop"],
            ref="loop of pullbacks")

    # --- Hessian of logsumexp(Wx) + ½‖x‖², n = 100
    n = 100
    w = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    hess = ft.hessian(lse_objective(w))
    np.testing.assert_allclose(hess(x), lse_hessian_numpy(w, x), rtol=1e-9, atol=1e-12)
    t = rep.compare({"ft": lambda: hess(x), "np": lambda: lse_hessian_numpy(w, x)})
    rep.ratio(f"hessian logsumexp(Wx)+½‖x‖², n={n}", t["ft"], t["np"], target=10)

    # --- batch_jacobian of a 2-layer elu MLP
    for sizes, target in (((5, 8, 6), 3.0), ((32, 64, 32), 1.5)):
        params = []
        for fi, fo in zip(sizes[:-1], sizes[1:]):
            params.append((rng.standard_normal((fi, fo)) / np.sqrt(fi),
                           0.1 * rng.standard_normal(fo)))
        bj = ft.batch_jacobian(mlp(params))
        bj_composed = ft.batch_jacobian(mlp(params, composed_elu))
        xs = {b: rng.standard_normal((b, sizes[0])) for b in (64, 1024)}
        for b, xb in xs.items():
            want = mlp_batch_jacobian_numpy(params, xb)
            np.testing.assert_allclose(bj(xb), want, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(bj_composed(xb), want, rtol=1e-10, atol=1e-12)
        label = "→".join(map(str, sizes))
        t = rep.compare({"ft64": lambda: bj(xs[64]),
                         "np64": lambda: mlp_batch_jacobian_numpy(params, xs[64]),
                         "composed64": lambda: bj_composed(xs[64]),
                         "ft1024": lambda: bj(xs[1024]),
                         "np1024": lambda: mlp_batch_jacobian_numpy(params, xs[1024])})
        rep.ratio(f"batch_jacobian elu MLP {label}, B=64", t["ft64"], t["np64"], target=target)
        rep.ratio(f"batch_jacobian elu MLP {label}, B=64, elu composed of 4 ops (info)",
                  t["composed64"], t["np64"])
        rep.ratio(f"batch_jacobian elu MLP {label}, B=1024 (info)", t["ft1024"], t["np1024"])
        rep.row(f"batch_jacobian {label}: time(B=1024) / time(B=64)", t["ft1024"] / t["ft64"],
                "×", target=16, ft_time=t["ft1024"], ref_time=t["ft64"], ref="functrans B=64")
    rep.note("float64 throughout; the batch-Jacobian reference is "
             "`swapaxes((W1 * elu'(z1)[:, None, :]) @ W2, 1, 2) * elu'(z2)[:, :, None]`.")
    rep.finish()
    return rep


if __name__ == "__main__":
    main()
