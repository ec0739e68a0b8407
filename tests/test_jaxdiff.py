"""Regressions found by differential testing against JAX (values checked against closed forms).

Each test is a case where functrans disagreed with what a JAX user gets; the expected values
are computed by hand, not by JAX.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

X3 = np.array([0.3, -1.2, 2.0])


# ---------------------------------------------------------------------------------------
# custom_vjp

def test_custom_vjp_bwd_gets_zeros_for_an_unused_output():
    """bwd receives a cotangent for every output, zeros where an output was not used."""
    @ft.custom_vjp
    def f(x):
        return {"s": fnp.sin(x), "c": fnp.cos(x)}
    f.defvjp(lambda x: (f(x), x), lambda x, g: (g["s"] * 3.0 + g["c"] * 5.0,))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)["s"]))(X3), np.full(3, 3.0))
    g = ft.grad(lambda x: fnp.sum(f(x)["s"]) + fnp.sum(f(x)["c"]))(X3)
    np.testing.assert_allclose(g, np.full(3, 8.0))


def test_custom_vjp_and_jvp_accept_keyword_arguments():
    """Keyword arguments bind to their positions (with defaults), as in JAX."""
    @ft.custom_vjp
    def f(x, y=2.0):
        return x * y
    f.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (g * r[1], g * r[0]))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x, y=X3)))(X3), X3)
    np.testing.assert_allclose(ft.grad(lambda x: f(x=x))(1.5), 2.0)

    @ft.custom_jvp
    def h(x, n):
        return x ** n
    h.defjvp(lambda p, t: (p[0] ** p[1], p[1] * p[0] ** (p[1] - 1) * t[0]))
    np.testing.assert_allclose(ft.grad(lambda x: h(x, n=3.0))(2.0), 12.0)
    with pytest.raises(TypeError, match="keyword arguments must bind to positional"):
        f(1.0, x=2.0)
