"""``python -m functrans``: a short tour of the transforms on the source tutorials' examples.

Every line is ``transform | expression | result``. The examples are functrans ports of the
documents listed in the project's seeds (Dive into Deep Learning "Automatic differentiation",
TensorFlow's "Advanced automatic differentiation" guide and Swift for TensorFlow's "Custom
differentiation" tutorial); where those documents print numbers, the same numbers come out
here (float64 here, float32 there, so they agree to about 1e-6).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

import functrans as ft
import functrans.numpy as fnp

_WIDTH_NAME = 16
_WIDTH_EXPR = 58


def _fmt(value: Any) -> str:
    """A compact, version-independent rendering (no ``np.float64(...)`` reprs)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)) and not (value and all(isinstance(v, int) for v in value)):
        inner = ", ".join(_fmt(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, (tuple, list)):
        return str(tuple(value))
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if arr.ndim == 0:
        if arr.dtype.kind == "b":
            return str(bool(arr))
        text = f"{float(arr):.10g}"
        return text if any(c in text for c in ".einf") else text + ".0"
    text = np.array2string(arr, precision=8, separator=", ", threshold=12, suppress_small=True,
                           max_line_width=10_000)
    return " ".join(line.strip() for line in text.splitlines())


def _row(name: str, expr: str, value: Any) -> None:
    print(f"  {name:<{_WIDTH_NAME}} {expr:<{_WIDTH_EXPR}} -> {_fmt(value)}")


def _section(title: str) -> None:
    print(f"\n{title}")


def _d2l() -> None:
    _section("Dive into Deep Learning, 'Automatic differentiation'")
    x = fnp.arange(4.0)
    x_grad = ft.grad(lambda x: 2 * fnp.dot(x, x))(x)
    _row("grad", "grad(lambda x: 2 * dot(x, x))(arange(4.))", x_grad)
    _row("grad", "x_grad == 4 * x", x_grad == 4 * x)
    _row("grad", "grad(lambda x: sum(x))(x)", ft.grad(lambda x: fnp.sum(x))(x))
    _row("grad", "grad(lambda x: sum(x * x))(x)   # non-scalar y, summed",
         ft.grad(lambda x: fnp.sum(x * x))(x))

    def z(x: Any) -> Any:                        # y = x*x; u = detach(y); z = u*x
        y = x * x
        u = ft.stop_gradient(y)
        return fnp.sum(u * x)
    _row("stop_gradient", "grad(z)(x) with u = stop_gradient(x*x), z = u*x", ft.grad(z)(x))
    _row("stop_gradient", "grad(z)(x) == u", bool(np.all(ft.grad(z)(x) == x * x)))

    def f(a: Any) -> Any:                        # Python control flow on traced values
        b = a * 2
        while fnp.linalg.norm(b) < 1000:
            b = b * 2
        if fnp.sum(b) > 0:
            c = b
        else:
            c = 100 * b
        return c
    a = np.random.default_rng(0).normal()
    d, d_grad = ft.value_and_grad(f)(a)
    _row("value_and_grad", f"f(a), grad(f)(a) at a = {a:.6f} (while/if on a)", (d, d_grad))
    _row("grad", "grad(f)(a) == f(a) / a", bool(d_grad == d / a))
    pts = fnp.linspace(0.0, np.pi, 5)
    _row("vmap", "vmap(grad(sin))(linspace(0, pi, 5))  # = cos", ft.vmap(ft.grad(fnp.sin))(pts))


def _tensorflow() -> None:
    _section("TensorFlow guide, 'Advanced automatic differentiation'")
    grads = ft.grad(lambda p: p["x"] ** 2 + ft.stop_gradient(p["y"] ** 2))({"x": 2.0, "y": 3.0})
    _row("stop_gradient", "grad(x**2 + stop_gradient(y**2)) at x=2, y=3", grads)

    def clip_by_norm(g: Any, clip: float) -> Any:
        return g * clip / fnp.maximum(fnp.sqrt(fnp.sum(g * g)), clip)
    # TF's @custom_gradient clip_gradients(v * v): the cotangent 1 arriving at v*v is clipped to
    # norm 0.5, then multiplied by d(v*v)/dv = 4 at v = 2.
    clipped = ft.grad(lambda v: ft.with_gradient(v * v, lambda g: clip_by_norm(g, 0.5)))(2.0)
    _row("with_gradient", "grad(clip_gradients(v * v))(2.0), backward clips", clipped)
    d0, d1 = ft.grad(lambda x0, x1: fnp.sum(fnp.sin(x0) + fnp.sigmoid(x1)), argnums=(0, 1))(0.0, 0.0)
    _row("grad", "d/dx0 [sin(x0) + sigmoid(x1)] at 0   # cos(0)", d0)
    _row("grad", "d/dx1 [sin(x0) + sigmoid(x1)] at 0   # sigmoid'(0)", d1)
    cube = lambda x: x * x * x
    _row("grad", "grad(lambda x: x*x*x)(1.0)", ft.grad(cube)(1.0))
    _row("grad(grad)", "grad(grad(lambda x: x*x*x))(1.0)", ft.grad(ft.grad(cube))(1.0))

    rng = np.random.default_rng(0)
    relu = lambda t: fnp.maximum(t, 0.0)
    elu = lambda t: fnp.where(t > 0, t, fnp.exp(fnp.minimum(t, 0.0)) - 1.0)

    def dense(params: tuple, x: Any, act: Callable[[Any], Any]) -> Any:
        kernel, bias = params
        return act(x @ kernel + bias)

    def init(n_in: int, n_out: int) -> tuple:
        return rng.normal(size=(n_in, n_out)) / np.sqrt(n_in), np.zeros(n_out)

    x = rng.normal(size=(7, 5))
    layer = init(5, 10)

    def g1_mag(params: tuple) -> Any:             # input-gradient regularisation
        g1 = ft.grad(lambda x: fnp.sum(dense(params, x, relu) ** 2))(x)
        return fnp.linalg.norm(g1)
    _row("grad(grad)", "grad of |d out/dx| w.r.t. (kernel, bias): shapes",
         [g.shape for g in ft.grad(g1_mag)(layer)])

    xs = fnp.linspace(-10.0, 10.0, 200 + 1)
    dy_dx = ft.jacobian(lambda delta: fnp.sigmoid(xs + delta))(0.0)
    _row("jacobian", "jacobian(lambda d: sigmoid(x + d))(0.).shape", dy_dx.shape)
    j = ft.jacobian(lambda k: dense((k, layer[1]), x, relu))(layer[0])
    _row("jacobian", "jacobian(dense 5->10, relu; w.r.t. kernel).shape", j.shape)
    g = ft.grad(lambda k: fnp.sum(dense((k, layer[1]), x, relu)))(layer[0])
    _row("jacobian", "max |grad(sum y) - sum(jacobian, axis=(0, 1))|", np.max(np.abs(g - j.sum(axis=(0, 1)))))

    layer1, layer2 = init(5, 8), init(8, 6)

    def loss(kernel1: Any) -> Any:
        y = dense((kernel1, layer1[1]), x, relu)
        return fnp.mean(dense(layer2, y, relu) ** 2)
    h = ft.hessian(loss)(layer1[0])
    _row("hessian", "hessian(loss)(kernel1 (5, 8)).shape", h.shape)
    n = layer1[0].size
    g_vec = ft.grad(loss)(layer1[0]).reshape(n, 1)
    # Newton step on concrete arrays (plain NumPy: fnp.linalg.solve is not there yet).
    update = np.linalg.solve(h.reshape(n, n) + np.eye(n) * 1e-3, g_vec)
    _row("hessian", "Newton update solve(H + eps*I, g).shape", update.shape)
    v = rng.normal(size=layer1[0].shape)
    hv = ft.hvp(loss, (layer1[0],), (v,))
    _row("hvp", "max |hvp(loss, (k,), (v,)) - H @ v|",
         np.max(np.abs(hv - np.tensordot(h, v, axes=2))))

    def net(x: Any) -> Any:
        return dense(layer2, dense(layer1, x, elu), elu)
    j = ft.jacobian(net)(x)
    _row("jacobian", "jacobian(two elu layers)(x (7, 5)).shape", j.shape)
    jb = ft.batch_jacobian(net)(x)
    _row("batch_jacobian", "batch_jacobian(two elu layers)(x).shape", jb.shape)
    _row("batch_jacobian", "max |batch_jacobian - einsum('bxby->bxy', j)|",
         np.max(np.abs(jb - np.einsum("bxby->bxy", j))))

    per_example = ft.vmap(ft.grad(lambda k, xi: fnp.sum(dense((k, layer[1]), xi, relu) ** 2)),
                          in_axes=(None, 0))(layer[0], x)
    _row("vmap(grad)", "per-example gradients w.r.t. kernel: shape", per_example.shape)
    _row("jvp", "jvp(sin, (0.,), (2.,))", ft.jvp(fnp.sin, (0.0,), (2.0,)))
    _row("jacfwd", "jacfwd(lambda x: x**2)([1., 2.])", ft.jacfwd(lambda x: x ** 2)(fnp.array([1.0, 2.0])))


def _swift() -> None:
    _section("Swift for TensorFlow, 'Custom differentiation'")
    # --- custom_vjp (sillyExp: exp(3) = 20.085535, gradient 20.085535) -------------------
    @ft.custom_vjp
    def silly_exp(x: Any) -> Any:
        return fnp.power(np.e, x)                 # e ** x, computed the roundabout way

    @silly_exp.defvjp
    def silly_exp_vjp(x: Any) -> Any:             # Swift's @derivative(of: sillyExp)
        y = silly_exp(x)
        return y, lambda g: (g * y,)
    value, gradient = ft.value_and_grad(silly_exp)(3.0)
    _row("custom_vjp", "value_and_grad(sillyExp)(3.0)", (value, gradient))

    xy_gradient = ft.grad(lambda x, y: fnp.sin(fnp.sin(fnp.sin(x)))
                          + ft.stop_gradient(fnp.cos(fnp.cos(fnp.cos(y)))), argnums=(0, 1))(2.0, 3.0)
    _row("stop_gradient", "grad(sin(sin(sin(x))) + stop_gradient(cos(cos(cos(y)))))", xy_gradient)

    def surgery(x: Any) -> Any:
        # Print the partial derivative with respect to the result of sin(x).
        a = ft.with_gradient(fnp.sin(x), lambda g: print(f"      hook: ∂+/∂sin = {_fmt(g)}"))

        def rewrite(dx: Any) -> None:            # force ∂log/∂x to be 0.5, in place
            print(f"      hook: ∂log/∂x = {_fmt(dx)}, but rewritten to 0.5")
            dx[...] = 0.5
        b = fnp.log(ft.with_gradient(x, rewrite))
        return a + b
    print(f"  {'with_gradient':<{_WIDTH_NAME}} grad(sin(x)·hook + log(x·hook))(30.0):")
    _row("with_gradient", "   ... result", ft.grad(surgery)(30.0))

    # --- remat / checkpoint (square(cos(10)): gradient -0.9129453, square runs twice) ----
    calls = []

    def square(x: Any) -> Any:
        calls.append(1)                           # counts how often the square is computed
        return x * x
    g = ft.grad(lambda x: ft.remat(square)(fnp.cos(x)))(10.0)
    _row("remat", "grad(remat(square)(cos(x)))(10.0), square computed", (g, f"{len(calls)} times"))


def main() -> int:
    start = time.perf_counter()
    print(f"functrans {ft.__version__} (NumPy {np.__version__}, Python {sys.version.split()[0]})")
    print(f"  {'transform':<{_WIDTH_NAME}} {'expression':<{_WIDTH_EXPR}} -> result")
    _d2l()
    _tensorflow()
    _swift()
    print(f"\n[{time.perf_counter() - start:.2f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
