"""Nested transforms: higher derivatives, perturbation confusion, mixing grad/jvp/vmap.

References are closed forms (derived by hand / with SymPy), finite differences or plain
Python loops over examples.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

from reference import close, fd_jac


def d_rev(f):
    return ft.grad(f)


def d_fwd(f):
    return lambda x: ft.jvp(f, (x,), (np.ones_like(x),))[1]


def d_jacfwd(f):
    return ft.jacfwd(f)


def d_jacrev(f):
    return ft.jacrev(f)


# ---------------------------------------------------------------------------------------
# Fourth derivatives against closed forms.

def _tanh4(x):
    t = np.tanh(x)
    return 8 * t * (1 - t ** 2) * (2 - 3 * t ** 2)


FOURTH = [
    ("sin", fnp.sin, np.sin, [0.0, 0.7, -2.1]),
    ("cos", fnp.cos, np.cos, [0.4, 3.0]),
    ("exp", fnp.exp, np.exp, [0.0, 1.3, -0.5]),
    ("x^5", lambda x: x ** 5, lambda x: 120 * x, [1.3, -0.8, 2.0]),
    ("x*x*x*x*x", lambda x: x * x * x * x * x, lambda x: 120 * x, [1.3, -0.8]),
    ("tanh", fnp.tanh, _tanh4, [0.0, 0.4, -1.1]),
    ("log", fnp.log, lambda x: -6 / x ** 4, [0.5, 1.0, 2.5]),
    ("1/(1+x^2)", lambda x: 1 / (1 + x ** 2),
     lambda x: 24 * (5 * x ** 4 - 10 * x ** 2 + 1) / (1 + x ** 2) ** 5, [0.0, 0.3, -1.7]),
    ("exp(-x^2)", lambda x: fnp.exp(-x ** 2),
     lambda x: 4 * (4 * x ** 4 - 12 * x ** 2 + 3) * np.exp(-x ** 2), [0.0, 0.5, 1.5]),
    ("exp*sin", lambda x: fnp.exp(x) * fnp.sin(x), lambda x: -4 * np.exp(x) * np.sin(x), [0.2, 1.0]),
    ("sqrt", fnp.sqrt, lambda x: -15 / 16 * x ** -3.5, [0.5, 2.0]),
]

ORDERS = {
    "rrrr": [d_rev] * 4,
    "ffff": [d_fwd] * 4,
    "rfrf": [d_rev, d_fwd, d_rev, d_fwd],
    "ffrr": [d_fwd, d_fwd, d_rev, d_rev],
    "jacobians": [d_jacfwd, d_jacrev, d_jacfwd, d_jacrev],
}


@pytest.mark.parametrize("name,f,f4,points", FOURTH, ids=[c[0] for c in FOURTH])
@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_fourth_derivative(name, f, f4, points, order):
    g = f
    for d in ORDERS[order]:
        g = d(g)
    for x in points:
        close(g(np.float64(x)), f4(x), rtol=1e-9, atol=1e-9)


def test_intermediate_orders_sin():
    f = fnp.sin
    expected = [np.sin, np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin,
                np.cos, lambda x: -np.sin(x)]
    g = f
    for k, want in enumerate(expected):
        close(g(0.9), want(0.9), rtol=1e-12, atol=1e-12)
        g = ft.grad(g)


def test_hessian_of_hessian_shape_and_value():
    # f(x) = sum(x^4): third derivative tensor is diagonal 24 x_i
    x = np.array([0.5, -1.0, 2.0])
    T = ft.jacfwd(ft.hessian(lambda x: fnp.sum(x ** 4)))(x)
    assert T.shape == (3, 3, 3)
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = 24 * x[i]
    close(T, want)


# ---------------------------------------------------------------------------------------
# Perturbation confusion.

def test_perturbation_confusion_grad():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1
    f = lambda x: x * ft.grad(lambda y: x + y)(1.0)
    for x in [0.5, 2.0, -3.0]:
        close(ft.grad(f)(x), 1.0)


def test_perturbation_confusion_jvp():
    inner = lambda x: ft.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    f = lambda x: x * inner(x)
    close(ft.jvp(f, (2.0,), (1.0,))[1], 1.0)
    close(ft.grad(f)(2.0), 1.0)
    close(ft.jvp(lambda x: x * ft.grad(lambda y: x + y)(1.0), (2.0,), (1.0,))[1], 1.0)


def test_perturbation_confusion_closure_product():
    # d/dx [x * grad(y -> x*y)(2)] = d/dx [x * x] = 2x
    f = lambda x: x * ft.grad(lambda y: x * y)(2.0)
    for x in [0.5, 3.0, -1.5]:
        close(ft.grad(f)(x), 2 * x)
        close(ft.jvp(f, (x,), (1.0,))[1], 2 * x)
        close(ft.jacfwd(f)(x), 2 * x)


def test_perturbation_confusion_same_function_nested():
    # Siskind & Pearlmutter's style: D(x -> x * D(y -> x * y)(1))(1)
    # = d/dx [x * x] at x = 1 = 2 (a confused implementation mixes the two perturbations)
    D = lambda f: ft.grad(f)
    close(D(lambda x: x * D(lambda y: x * y)(1.0))(1.0), 2.0)


def test_closure_over_outer_tracer_in_inner_grad():
    # grad_x [ grad_y (x y^2) at y = x ] = grad_x [2 x^2] = 4x
    f = lambda x: ft.grad(lambda y: x * y * y)(x)
    close(ft.grad(f)(1.5), 6.0)
    close(ft.grad(ft.grad(f))(1.5), 4.0)


# ---------------------------------------------------------------------------------------
# Mixing jvp, grad and vmap.

A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
X3 = np.array([0.3, -1.2, 2.0])


def _quartic(x):
    return 0.5 * x @ (A @ x) + fnp.sum(fnp.sin(x)) + 0.25 * fnp.sum(x ** 4)


def _quartic_hessian(x):
    return A - np.diag(np.sin(x)) + np.diag(3 * x ** 2)


def test_jvp_of_grad_is_hessian_vector_product():
    v = np.array([1.0, -0.5, 2.0])
    g, hv = ft.jvp(ft.grad(_quartic), (X3,), (v,))
    close(g, A @ X3 + np.cos(X3) + X3 ** 3)
    close(hv, _quartic_hessian(X3) @ v)


def test_grad_of_jvp():
    v = np.array([1.0, -0.5, 2.0])
    # grad_x <grad f(x), v> = H v
    f = lambda x: ft.jvp(_quartic, (x,), (v,))[1]
    close(ft.grad(f)(X3), _quartic_hessian(X3) @ v)


def test_grad_of_vjp():
    # x -> pullback of sin at x applied to c, summed: grad = -sin(x) * c
    c = np.array([1.0, 2.0, -1.0])
    f = lambda x: fnp.sum(ft.vjp(fnp.sin, x)[1](c)[0])
    close(ft.grad(f)(X3), -np.sin(X3) * c)


@pytest.mark.parametrize("hess", [ft.hessian, lambda f: ft.jacfwd(ft.jacrev(f)),
                                  lambda f: ft.jacrev(ft.jacfwd(f)),
                                  lambda f: ft.jacrev(ft.jacrev(f)),
                                  lambda f: ft.jacfwd(ft.jacfwd(f)),
                                  lambda f: ft.jacfwd(ft.grad(f))])
def test_hessians_closed_form(hess):
    close(hess(_quartic)(X3), _quartic_hessian(X3), rtol=1e-10, atol=1e-10)


def test_jacfwd_jacrev_of_vector_function():
    # f: R^2 -> R^2, second derivative tensor of shape (2, 2, 2)
    f = lambda x: fnp.stack([x[0] ** 2 * x[1], fnp.sin(x[0] * x[1])])
    x = np.array([0.7, -0.4])
    T = ft.jacfwd(ft.jacrev(f))(x)
    a, b = x
    s, c = np.sin(a * b), np.cos(a * b)
    want = np.array([[[2 * b, 2 * a], [2 * a, 0.0]],
                     [[-b * b * s, c - a * b * s], [c - a * b * s, -a * a * s]]])
    assert T.shape == (2, 2, 2)
    close(T, want)


def _loss(w, x, y):
    return (fnp.tanh(x @ w) - y) ** 2


def _loss_grad_closed(w, x, y):
    t = np.tanh(x @ w)
    return 2 * (t - y) * (1 - t ** 2) * x


RNG = np.random.default_rng(7)
W = RNG.standard_normal(3)
XB = RNG.standard_normal((5, 3))
YB = RNG.standard_normal(5)


def test_vmap_of_grad_per_example_gradients():
    per_ex = ft.vmap(ft.grad(_loss), in_axes=(None, 0, 0))(W, XB, YB)
    assert per_ex.shape == (5, 3)
    loop = np.stack([_loss_grad_closed(W, XB[i], YB[i]) for i in range(5)])
    close(per_ex, loop)
    loop_ft = np.stack([ft.grad(_loss)(W, XB[i], YB[i]) for i in range(5)])
    close(per_ex, loop_ft)


def test_grad_of_summed_vmap():
    total = lambda w: fnp.sum(ft.vmap(_loss, in_axes=(None, 0, 0))(w, XB, YB))
    want = sum(_loss_grad_closed(W, XB[i], YB[i]) for i in range(5))
    close(ft.grad(total)(W), want)


def test_vmap_of_hessian_and_jacobian():
    hs = ft.vmap(ft.hessian(_quartic))(XB)
    assert hs.shape == (5, 3, 3)
    for i in range(5):
        close(hs[i], _quartic_hessian(XB[i]), rtol=1e-10, atol=1e-10)
    js = ft.vmap(ft.jacrev(fnp.sin))(XB)
    for i in range(5):
        close(js[i], np.diag(np.cos(XB[i])))


def test_vmap_of_vmap():
    f = lambda x, y: fnp.sum(x * y)
    Y = RNG.standard_normal((4, 3))
    out = ft.vmap(ft.vmap(f, in_axes=(None, 0)), in_axes=(0, None))(XB, Y)
    assert out.shape == (5, 4)
    close(out, XB @ Y.T)
    # map over axis 1 of a (3, 5) array with out_axes=1, inner over its rows
    g = lambda v: v * 2.0 + fnp.sum(v)
    M = XB.T.copy()                       # (3, 5)
    out2 = ft.vmap(ft.vmap(g), in_axes=1, out_axes=1)(M[:, :, None] * np.ones((1, 1, 2)))
    want = np.empty((3, 5, 2))
    for j in range(5):
        for i in range(3):
            v = M[i, j] * np.ones(2)
            want[i, j] = v * 2 + v.sum()
    close(out2, want)


def test_vmap_negative_axes_nested():
    T = RNG.standard_normal((2, 3, 4))
    out = ft.vmap(ft.vmap(lambda v: fnp.sum(v ** 2), in_axes=-1), in_axes=-1)(T)
    # outer maps axis -1 (size 4), inner maps last axis of the (2, 3) slice (size 3)
    assert out.shape == (4, 3)
    close(out, np.einsum("ijk,ijk->kj", T, T))


def test_grad_of_vmap_of_grad():
    # sum_i f'(x_i) with f = sin^2 ; gradient wrt x: f''(x_i) = 2 cos(2 x_i)
    f = lambda x: fnp.sin(x) ** 2
    g = ft.grad(lambda xs: fnp.sum(ft.vmap(ft.grad(f))(xs)))(X3)
    close(g, 2 * np.cos(2 * X3))


def test_vmap_inside_grad_closing_over_grad_tracer():
    xs = np.array([0.5, 1.0, -2.0])
    f = lambda w: fnp.sum(ft.vmap(lambda xi: fnp.sin(w * xi))(xs))
    for w in [0.3, 1.1]:
        close(ft.grad(f)(w), np.sum(xs * np.cos(w * xs)))
        close(ft.grad(ft.grad(f))(w), -np.sum(xs ** 2 * np.sin(w * xs)))


def test_grad_inside_vmap_closing_over_batch_tracer():
    a = np.array([1.0, -2.0, 0.5])
    out = ft.vmap(lambda ai: ft.grad(lambda x: ai * x ** 2)(3.0))(a)
    close(out, 6 * a)
    out = ft.vmap(lambda ai: ft.grad(lambda x: fnp.sin(ai * x))(0.5))(a)
    close(out, a * np.cos(a * 0.5))


def test_jvp_inside_vmap_and_vmap_inside_jvp():
    out = ft.vmap(lambda x: ft.jvp(fnp.exp, (x,), (2.0,))[1])(X3)
    close(out, 2 * np.exp(X3))
    p, t = ft.jvp(lambda s: ft.vmap(lambda x: fnp.sin(s * x))(X3), (0.7,), (1.0,))
    close(p, np.sin(0.7 * X3))
    close(t, X3 * np.cos(0.7 * X3))


def test_hvp_matches_closed_form_in_vmap():
    vs = RNG.standard_normal((4, 3))
    out = ft.vmap(lambda v: ft.hvp(_quartic, (X3,), (v,)))(vs)
    close(out, vs @ _quartic_hessian(X3).T)


def test_third_order_mixed_modes_multivariate():
    # f(x, y) = x^3 y^2: d^3/dx^2 dy = 12 x y
    f = lambda x, y: x ** 3 * y ** 2
    fxy = ft.grad(ft.grad(ft.grad(f, argnums=0), argnums=0), argnums=1)
    close(fxy(1.5, -2.0), 12 * 1.5 * -2.0)
    fyx = ft.grad(lambda x, y: ft.jvp(lambda yy: ft.grad(f)(x, yy), (y,), (1.0,))[1])
    close(fyx(1.5, -2.0), 12 * 1.5 * -2.0)


def test_nested_against_finite_differences():
    # jacobian of the gradient of a non-polynomial function vs FD of the closed-form gradient
    f = lambda x: fnp.log(1.0 + fnp.sum(fnp.exp(x)))
    def grad_closed(x):
        e = np.exp(x)
        return e / (1.0 + e.sum())
    H = ft.jacrev(ft.grad(f))(X3)
    close(H, fd_jac(grad_closed, X3), rtol=1e-6, atol=1e-9)
