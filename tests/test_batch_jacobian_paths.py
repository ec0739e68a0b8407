"""The code paths of batch_jacobian's fast route (one vmap over the basis of one jvp or
pullback) and of the interpreter shortcuts it relies on, each against a closed form, finite
differences or a Python loop."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import batching, forward, primitives
from functrans.core import Primitive

from reference import close

RNG = np.random.default_rng(31)


@pytest.mark.parametrize("chunk", [None, 2])
def test_basis_times_a_non_finite_matrix_is_the_dense_product(chunk):
    """basis @ W picks rows of W only where that equals the dense product: an inf or NaN
    elsewhere in a column spreads as 0 * inf = NaN, as NumPy's dense product does."""
    w = RNG.standard_normal((4, 3))
    w[1, 2], w[3, 0] = np.inf, np.nan
    xs = RNG.standard_normal((5, 4))
    with np.errstate(invalid="ignore"):
        want = np.broadcast_to((np.eye(4) @ w).T, (5, 3, 4))
        got = ft.batch_jacobian(lambda x: x @ w, mode="fwd", chunk_size=chunk)(xs)
    np.testing.assert_array_equal(got, want)


def test_batch_jacobian_under_grad_matches_finite_differences():
    """Under an outer transform the matrix met by the basis is traced (not concrete)."""
    w = RNG.standard_normal((3, 2))
    xs = RNG.standard_normal((4, 3))

    def loss(w):
        return fnp.sum(ft.batch_jacobian(lambda x: fnp.tanh(x @ w), mode="fwd")(xs) ** 2)

    def loss_closed(w):      # J[b] = diag(1 - tanh(z_b)^2) W^T
        d = 1 - np.tanh(xs @ w) ** 2
        return np.sum((d[:, :, None] * w.T[None]) ** 2)

    eps, fd = 1e-6, np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = eps
        fd[i] = (loss_closed(w + e) - loss_closed(w - e)) / (2 * eps)
    close(ft.grad(loss)(w), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_vmap_of_batch_jacobian_matches_a_loop(mode):
    w = RNG.standard_normal((3, 3))
    f = lambda x: ft.nn.elu(x @ w, 0.5) * x          # elu's alpha: a primitive with params
    xss = RNG.standard_normal((2, 4, 3))
    got = ft.vmap(ft.batch_jacobian(f, mode=mode))(xss)
    z = xss @ w
    slope = np.where(z > 0, 1.0, 0.5 * np.exp(np.minimum(z, 0)))
    elu = np.where(z > 0, z, 0.5 * np.expm1(np.minimum(z, 0)))
    # d/dx_j [elu(z)_c x_c] = slope_c w_jc x_c + elu_c [c == j]
    want = slope[..., :, None] * w.T * xss[..., :, None] + elu[..., :, None] * np.eye(3)
    close(got, want, rtol=1e-12, atol=1e-13)


def test_rules_with_params_in_jvp_and_vmap():
    """A two-argument tangent rule and a broadcasting batch rule with static params (the
    paths that pass ``**params`` on; the parameterless ones skip it)."""
    axpy_p = Primitive("test_axpy", lambda x, y, a: a * x + y)
    forward.defjvp(axpy_p, lambda t, ans, x, y, a: a * t, lambda t, ans, x, y, a: t)
    primitives.defbroadcasting(axpy_p)
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    out, tangent = ft.jvp(lambda x, y: axpy_p.bind(x, y, a=2.5), (x, y), (np.ones_like(x), np.ones_like(y)))
    close(out, 2.5 * x + y)
    close(tangent, np.full((4, 3), 3.5))
    got = ft.vmap(lambda x: axpy_p.bind(x, y, a=-1.5))(x)
    close(got, np.stack([-1.5 * xi + y for xi in x]))
    jac = ft.batch_jacobian(lambda x: axpy_p.bind(x, y, a=0.5), mode="fwd")(x)
    close(jac, np.broadcast_to(0.5 * np.eye(3), (4, 3, 3)))
    del batching.batch_rules[axpy_p], forward.jvp_rules[axpy_p]


def test_add_and_sub_tangents_broadcast_to_the_output():
    x, b = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    close(ft.jvp(lambda x: x + b, (x,), (np.ones(3),))[1], np.ones((2, 3)))
    close(ft.jvp(lambda x: b - x, (x,), (np.ones(3),))[1], -np.ones((2, 3)))
    close(ft.jvp(lambda x: x - b, (x,), (np.ones(3),))[1], np.ones((2, 3)))
