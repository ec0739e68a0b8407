"""Exact tests of the conventions of the ufuncs, reductions and creation functions of
functrans.numpy (issue 5), against closed forms; the table of test_primitives.py covers
values, finite differences and batching."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import core


# ---- cumulative products with zeros ------------------------------------------------------

def test_cumprod_derivative_with_zeros_is_exact():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    # d cumprod_j / d x_i = prod_{k <= j, k != i} x_k for i <= j
    want = np.zeros((5, 5))
    for j in range(5):
        for i in range(j + 1):
            want[j, i] = np.prod([x[k] for k in range(j + 1) if k != i])
    np.testing.assert_array_equal(ft.jacrev(fnp.cumprod)(x), want)
    np.testing.assert_array_equal(ft.jacfwd(fnp.cumprod)(x), want)
    # one zero: the last element's gradient is the product of the others
    g = ft.grad(lambda x: fnp.cumprod(x)[-1])(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    # second order: d2 (x0 x1 x2) / dx0 dx1 = x2, also at zeros
    h = ft.hessian(lambda x: fnp.cumprod(x)[-1])(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # along an axis, under vmap, float32 kept
    m = np.array([[1.0, 0.0, 2.0], [0.0, 4.0, 1.0]], np.float32)
    g = ft.grad(lambda m: fnp.sum(fnp.cumprod(m, axis=1)))(m)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [[1.0 + 0.0 + 0.0, 1.0 + 2.0, 0.0], [1.0 + 4.0 + 4.0, 0.0, 0.0]])
    gv = ft.vmap(ft.grad(lambda r: fnp.sum(fnp.cumprod(r))))(m)
    np.testing.assert_array_equal(gv, g)


def test_cumsum_vjp_is_reverse_cumsum():
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(fnp.cumsum(x) * np.array([1.0, 2.0, 3.0])))(
        np.zeros(3)), [6.0, 5.0, 3.0])
    np.testing.assert_array_equal(ft.jacrev(lambda x: fnp.cumsum(x, axis=None))(np.zeros((2, 2))),
                                  np.tril(np.ones((4, 4))).reshape(4, 2, 2))


# ---- quantiles ---------------------------------------------------------------------------

def test_quantile_linear_interpolation_and_its_derivative():
    x = np.array([4.0, 1.0, 3.0, 2.0])          # sorted: 1 2 3 4
    assert float(ft.jvp(lambda x: fnp.quantile(x, 0.5), (x,), (np.ones(4),))[0]) == 2.5
    # q = 0.9: index 2.7 between 3 (x[2]) and 4 (x[0]): weights 0.3 and 0.7
    np.testing.assert_allclose(ft.grad(lambda x: fnp.quantile(x, 0.9))(x), [0.7, 0.0, 0.3, 0.0],
                               rtol=1e-15)
    np.testing.assert_array_equal(ft.grad(fnp.median)(x), [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(ft.grad(fnp.median)(np.array([5.0, 1.0, 3.0])), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(ft.grad(lambda x: fnp.percentile(x, 25.0))(x), [0.0, 0.25, 0.0, 0.75],
                               rtol=1e-15)
    # q = 0 and 1 are the minimum and the maximum exactly
    got = ft.jvp(lambda x: fnp.quantile(x, [0.0, 1.0]), (x,), (np.ones(4),))[0]
    np.testing.assert_array_equal(got, [1.0, 4.0])
    # a slice with a NaN gives NaN, as in NumPy
    y = np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]])
    got = ft.jvp(lambda y: fnp.median(y, axis=1), (y,), (np.ones_like(y),))[0]
    np.testing.assert_array_equal(got, np.median(y, axis=1))


def test_quantile_is_differentiable_in_q():
    # sorted 1 2 3 7: quantile(q) = s[k] + (3q - k)(s[k+1] - s[k]) with k = floor(3q), so
    # d/dq = 3 (s[k+1] - s[k]); q was read as a constant (a silent zero derivative)
    x = np.array([3.0, 1.0, 2.0, 7.0])
    assert float(ft.grad(lambda q: fnp.quantile(x, q))(0.5)) == 3.0
    assert float(ft.grad(lambda q: fnp.quantile(x, q))(0.9)) == 12.0
    np.testing.assert_allclose(ft.grad(lambda q: fnp.percentile(x, q))(50.0), 0.03, rtol=1e-14)
    np.testing.assert_allclose(ft.jacfwd(lambda q: fnp.quantile(x, q))(np.array([0.1, 0.5])),
                               np.diag([3.0, 3.0]))
    # both arguments at once, and the nan variant (3 numbers: d/dq = 2 (s[k+1] - s[k]))
    gx, gq = ft.grad(lambda x, q: fnp.quantile(x, q), argnums=(0, 1))(x, 0.5)
    np.testing.assert_array_equal(gx, [0.5, 0.0, 0.5, 0.0])
    assert float(gq) == 3.0
    y = np.array([4.0, np.nan, 1.0, 2.0])
    assert float(ft.grad(lambda q: fnp.nanquantile(y, q))(0.75)) == 4.0
    # a batched q: per-example values, NaN outside [0, 1]
    np.testing.assert_allclose(ft.vmap(lambda q: fnp.quantile(x, q))(np.array([0.1, 0.5, 1.5])),
                               [1.3, 2.5, np.nan])


def test_nanquantile_reads_each_slices_own_count():
    # row 0 has 2 numbers (quantile 0.25 between them), row 1 has 4, row 2 none (NaN, as NumPy)
    y = np.array([[4.0, np.nan, 1.0, np.nan], [2.0, 3.0, 5.0, 4.0], [np.nan] * 4])
    with np.errstate(invalid="ignore"):
        got, tangent = ft.jvp(lambda y: fnp.nanquantile(y, 0.25, axis=1), (y,), (np.ones_like(y),))
    np.testing.assert_array_equal(got, [1.75, 2.75, np.nan])
    np.testing.assert_array_equal(tangent[:2], [1.0, 1.0])
    g = ft.grad(lambda y: fnp.sum(fnp.nanquantile(y[:2], 0.25, axis=1)))(y)
    np.testing.assert_allclose(g, [[0.25, 0, 0.75, 0], [0.25, 0.75, 0, 0], [0] * 4])
    np.testing.assert_array_equal(ft.grad(fnp.nanmedian)(np.array([np.nan, 3.0, 1.0, 2.0])), [0, 0, 0, 1])
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.nanpercentile(x, 100))(np.array([1.0, np.nan])),
                                  [1, 0])


def test_quantile_errors_name_the_argument():
    with pytest.raises(ValueError, match="method='linear'.*got method='nearest'"):
        ft.grad(lambda x: fnp.quantile(x, 0.5, method="nearest"))(np.ones(3))
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        ft.grad(lambda x: fnp.quantile(x, 1.5))(np.ones(3))
    with pytest.raises(ValueError, match=r"nanpercentile: q must be in \[0, 100\], got 150"):
        ft.grad(lambda x: fnp.nanpercentile(x, 150))(np.ones(3))
    with pytest.raises(ValueError, match="nanquantile: only method='linear'.*got method='lower'"):
        ft.grad(lambda x: fnp.nanquantile(x, 0.5, method="lower"))(np.ones(3))


# ---- NaN-ignoring reductions -------------------------------------------------------------

def test_nan_reductions_ignore_nan_in_value_and_derivative():
    x = np.array([1.0, np.nan, 3.0, 2.0])
    assert ft.value_and_grad(fnp.nansum)(x)[0] == 6.0
    np.testing.assert_array_equal(ft.grad(fnp.nansum)(x), [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(ft.grad(fnp.nanmean)(x), [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_array_equal(ft.grad(fnp.nanmax)(x), [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(ft.grad(fnp.nanmin)(x), [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ft.grad(fnp.nanprod)(x), [6.0, 0.0, 2.0, 3.0])
    # nanvar = mean of squared deviations from 2: (1 + 1 + 0) / 3; gradient 2 (x - 2) / 3
    v, g = ft.value_and_grad(fnp.nanvar)(x)
    np.testing.assert_allclose(v, 2 / 3, rtol=1e-15)
    np.testing.assert_allclose(g, [-2 / 3, 0.0, 2 / 3, 0.0], rtol=1e-15, atol=1e-16)
    # an all-NaN slice: NaN, as NumPy (which also warns)
    m = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with np.errstate(invalid="ignore"):
        got = ft.jvp(lambda m: fnp.nanmax(m, axis=1), (m,), (np.ones_like(m),))[0]
    np.testing.assert_array_equal(got, [np.nan, 2.0])


def test_nan_reductions_take_where_and_initial():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
    w = np.array([[True, True, False], [True, False, True]])
    assert float(fnp.nansum(x, where=w)) == float(np.nansum(x, where=w)) == 3.0
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.nansum(x, where=w))(x), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.nanmean(x, where=w))(x), [[0.5, 0, 0], [0, 0, 0.5]])
    # a slice whose selected elements are all NaN gives initial, as NumPy's fmax.reduce
    got = ft.jvp(lambda x: fnp.nanmax(x, axis=1, where=~w, initial=-5.0), (x,), (np.ones_like(x),))[0]
    np.testing.assert_array_equal(got, np.nanmax(x, axis=1, where=~w, initial=-5.0))
    np.testing.assert_array_equal(got, [3.0, -5.0])
    with pytest.raises(ValueError, match="nanmax: a where= mask needs initial="):
        ft.grad(lambda x: fnp.nanmax(x, where=w))(x)


def test_var_mean_and_correction_keywords():
    x = np.array([[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]])
    m = np.array([[2.0], [1.0]])
    for f, g in ((fnp.var, np.var), (fnp.std, np.std), (fnp.nanvar, np.nanvar), (fnp.nanstd, np.nanstd)):
        for kw in ({"axis": 1, "mean": m}, {"correction": 1},
                   {"axis": 0, "correction": 1.5, "keepdims": True}):
            np.testing.assert_allclose(ft.jvp(lambda x: f(x, **kw), (x,), (x,))[0], g(x, **kw), rtol=1e-14)
            np.testing.assert_allclose(f(x, **kw), g(x, **kw), rtol=1e-14)
    # the variance about a given mean c: d/dx mean((x - c)^2) = 2 (x - c) / n, d/dc = -2 mean(x - c)
    gx, gm = ft.grad(lambda x, m: fnp.sum(fnp.var(x, axis=1, mean=m)), argnums=(0, 1))(x, m)
    np.testing.assert_allclose(gx, 2 * (x - m) / 3, rtol=1e-14)
    np.testing.assert_allclose(gm, -2 * np.mean(x - m, axis=1, keepdims=True), rtol=1e-14)
    for f in (fnp.var, fnp.std, fnp.nanvar, fnp.nanstd):
        with pytest.raises(ValueError, match="ddof and correction can't be provided simultaneously"):
            f(x, ddof=1, correction=1)
        with pytest.raises(ValueError, match=f"{f.__name__}: ddof and correction can't be provided "
                                             r"simultaneously .*got ddof=1 and correction=1"):
            ft.grad(lambda x: f(x, ddof=1, correction=1))(x)


def test_ties_split_in_ptp_and_fmax():
    np.testing.assert_array_equal(ft.grad(fnp.ptp)(np.array([1.0, 3.0, 3.0, 1.0])), [-0.5, 0.5, 0.5, -0.5])
    assert ft.grad(fnp.fmax, argnums=(0, 1))(2.0, 2.0) == (0.5, 0.5)
    assert ft.grad(fnp.fmax, argnums=(0, 1))(np.nan, 2.0) == (0.0, 1.0)
    assert np.isnan(fnp.fmax(np.nan, np.nan))


def test_average_weights_and_errors():
    x, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])
    v, (gx, gw) = ft.value_and_grad(lambda x, w: fnp.average(x, weights=w), argnums=(0, 1))(x, w)
    assert v == 11 / 4
    np.testing.assert_allclose(gx, w / 4, rtol=1e-15)
    np.testing.assert_allclose(gw, (x - 11 / 4) / 4, rtol=1e-15)
    with pytest.raises(ValueError, match="1-D weights must have the length"):
        ft.grad(lambda x: fnp.average(x, axis=0, weights=np.ones(3)))(np.ones((2, 3)))
    with pytest.raises(TypeError, match="axis must be an int"):
        ft.grad(lambda x: fnp.average(x, weights=np.ones(3)))(np.ones((2, 3)))


def test_out_argument_on_traced_values_is_a_clear_error():
    with pytest.raises(TypeError, match="sum: out= is not supported on traced values"):
        ft.grad(lambda x: fnp.sum(x, out=np.zeros(())))(np.ones(3))
    out = np.zeros(())
    fnp.sum(np.ones(3), out=out)      # concrete: NumPy's own behaviour
    assert out == 3.0


# ---- elementwise conventions -------------------------------------------------------------

def test_sinc_at_zero_has_exact_derivatives():
    assert ft.grad(fnp.sinc)(0.0) == 0.0
    np.testing.assert_allclose(ft.grad(ft.grad(fnp.sinc))(0.0), -np.pi ** 2 / 3, rtol=1e-14)
    np.testing.assert_allclose(ft.grad(ft.grad(fnp.sinc))(np.float32(0.0)), -np.pi ** 2 / 3, rtol=1e-6)
    x = np.array([-1.3, -1e-4, 0.0, 1e-3, 0.5])
    np.testing.assert_allclose(ft.vmap(fnp.sinc)(x), np.sinc(x), rtol=1e-15)


def test_rounding_has_zero_derivative_and_heaviside_takes_x2_at_zero():
    for f in (fnp.floor, fnp.ceil, fnp.round, fnp.around, fnp.rint, fnp.trunc, fnp.fix):
        assert ft.grad(lambda x: f(x) * 1.0)(1.3) == 0.0
    x = np.array([-1.0, 0.0, 2.0])
    assert_same = np.testing.assert_array_equal
    assert_same(ft.jvp(lambda h: fnp.heaviside(x, h), (0.5,), (1.0,))[0], [0.0, 0.5, 1.0])
    assert_same(ft.grad(lambda h: fnp.sum(fnp.heaviside(x, h)))(0.5), 1.0)
    assert_same(ft.grad(lambda x: fnp.sum(fnp.heaviside(x, 0.5)))(x), [0.0, 0.0, 0.0])


def test_copysign_and_nan_to_num():
    assert ft.grad(lambda x: fnp.copysign(x, -0.0))(2.0) == -1.0
    assert ft.grad(lambda x: fnp.copysign(x, 1.0))(-2.0) == -1.0
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    out, g = ft.value_and_grad(lambda x: fnp.sum(fnp.nan_to_num(x, posinf=10.0) * np.arange(4.0)))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 3.0])
    assert g.dtype == np.float32
    got = ft.jvp(fnp.nan_to_num, (x,), (np.ones_like(x),))[0]
    np.testing.assert_array_equal(got, np.nan_to_num(x))


def test_logaddexp_derivative_at_infinite_arguments_is_its_limit():
    inf = np.inf
    g = ft.grad(fnp.logaddexp, argnums=(0, 1))
    cases = [((inf, 1.0), (1.0, 0.0)), ((1.0, inf), (0.0, 1.0)), ((inf, inf), (0.5, 0.5)),
             ((-inf, -inf), (0.5, 0.5)), ((-inf, 1.0), (0.0, 1.0)), ((inf, -inf), (1.0, 0.0))]
    for args, want in cases:
        assert tuple(map(float, g(*args))) == want, args
        assert float(ft.jvp(fnp.logaddexp, args, (1.0, 2.0))[1]) == want[0] + 2 * want[1], args
        assert float(ft.grad(ft.grad(fnp.logaddexp))(*args)) == 0.0, args     # the limit of p (1 - p)
        assert float(fnp.logaddexp(*args)) == np.logaddexp(*args)
    x = np.array([inf, -inf, 0.0])
    np.testing.assert_array_equal(ft.vmap(ft.grad(lambda x: fnp.logaddexp(x, 0.0)))(x), [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.logaddexp2(x, 1.0))(inf), 1.0)


# ---- complex inputs ----------------------------------------------------------------------

Z = np.array([1.0 + 2.0j, -0.5 + 0.3j, 2.0 - 1.0j])


@pytest.mark.parametrize("name", ["sin", "cos", "exp", "log", "sqrt", "tanh", "square", "reciprocal",
                                  "conj", "real", "imag", "abs", "angle", "log10", "exp2",
                                  "sum", "prod", "mean", "var", "std", "cumsum", "cumprod", "nansum"])
def test_complex_values_match_numpy(name):
    want = getattr(np, name)(Z)
    got = ft.jvp(getattr(fnp, name), (Z,), (np.ones_like(Z),))[0]   # the traced path
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert np.asarray(got).dtype == np.asarray(want).dtype


def test_complex_gradients_follow_jax():
    # For a real f of z = x + iy, grad is df/dx - i df/dy (JAX's convention).
    z = 3.0 + 4.0j
    assert ft.grad(lambda z: fnp.abs(z) ** 2)(z) == 6.0 - 8.0j
    assert ft.grad(lambda z: fnp.real(z))(z) == 1.0
    assert ft.grad(lambda z: fnp.imag(z))(z) == -1.0j
    np.testing.assert_allclose(ft.grad(fnp.abs)(z), np.conj(z) / 5.0, rtol=1e-15)
    assert ft.grad(fnp.abs)(0j) == 0.0
    assert ft.grad(lambda z: fnp.real(z * z))(z) == 2 * z     # Re z^2 = x^2 - y^2
    assert ft.grad(lambda z: fnp.real(fnp.conj(z) * 1j))(z) == -1.0j  # y
    np.testing.assert_allclose(ft.grad(fnp.angle)(z), (-4.0 - 3.0j) / 25.0, rtol=1e-15)
    g = ft.grad(lambda z: fnp.sum(fnp.abs(z) ** 2))(Z)
    np.testing.assert_allclose(g, 2 * np.conj(Z), rtol=1e-15)
    # a real input combined with a complex value: the real part of the cotangent
    assert ft.grad(lambda x: fnp.real(x * (1.0 + 2.0j)))(1.0) == 1.0
    assert ft.grad(lambda x: fnp.imag(x * (1.0 + 2.0j)))(1.0) == 2.0
    # var of complex is real: mean |z - mean|^2, gradient 2 conj(z - mean) / n
    g = ft.grad(fnp.var)(Z)
    np.testing.assert_allclose(g, 2 * np.conj(Z - Z.mean()) / 3, rtol=1e-14)


def test_abs_of_complex_has_second_derivatives():
    # |x + iy| = r: its Hessian in (x, y) is [[y^2, -xy], [-xy, x^2]] / r^3 (closed form)
    x, y = 1.0, 2.0
    r = np.hypot(x, y)
    want = np.array([[y * y, -x * y], [-x * y, x * x]]) / r ** 3
    h = ft.hessian(lambda v: fnp.abs(v[0] + 1j * v[1]))(np.array([x, y]))   # Python 1j * 0-d
    np.testing.assert_allclose(h, want, rtol=1e-12)
    h = ft.jacfwd(ft.jacrev(lambda v: fnp.abs(v[0] + v[1] * 1j)))(np.array([x, y]))
    np.testing.assert_allclose(h, want, rtol=1e-12)
    # second-order jvp along t: t^T H t with z = x + iy, t = a + ib
    t = 0.3 - 0.7j
    ab = np.array([t.real, t.imag])
    got = ft.jvp(lambda z: ft.jvp(fnp.abs, (z,), (t,))[1], (x + 1j * y,), (t,))[1]
    np.testing.assert_allclose(got, ab @ want @ ab, rtol=1e-12)


def test_holomorphic_grad():
    assert ft.grad(lambda z: z ** 2, holomorphic=True)(1 + 1j) == 2 + 2j
    z = 0.3 + 0.2j
    np.testing.assert_allclose(ft.grad(lambda z: fnp.sin(z) * fnp.exp(z), holomorphic=True)(z),
                               (np.cos(z) + np.sin(z)) * np.exp(z), rtol=1e-15)
    assert ft.grad(ft.grad(lambda z: z ** 3, holomorphic=True), holomorphic=True)(1 + 2j) == 6 + 12j
    v, g = ft.value_and_grad(fnp.log, holomorphic=True)(1j)
    assert v == np.log(1j) and g == -1j
    np.testing.assert_allclose(ft.jacrev(lambda z: z ** 2, holomorphic=True)(Z), np.diag(2 * Z))
    np.testing.assert_allclose(ft.jacfwd(lambda z: fnp.cumsum(z), holomorphic=True)(Z),
                               np.tril(np.ones((3, 3))))
    with pytest.raises(TypeError, match="floating-point output, got dtype complex128; pass holomorphic"):
        ft.grad(lambda z: z ** 2)(1 + 1j)
    with pytest.raises(TypeError, match="holomorphic=True requires complex inputs; input leaf 0"):
        ft.grad(lambda x: x ** 2 + 0j, holomorphic=True)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True requires a complex output"):
        ft.grad(lambda z: fnp.abs(z), holomorphic=True)(1j)
    with pytest.raises(TypeError, match="jacfwd with holomorphic=True requires complex inputs"):
        ft.jacfwd(lambda x: x, holomorphic=True)(np.ones(2))
    with pytest.raises(TypeError, match="jacfwd with holomorphic=True requires a complex output, "
                                        "got dtype float64"):
        ft.jacfwd(lambda z: fnp.abs(z), holomorphic=True)(Z)


# ---- creation ------------------------------------------------------------------------------

def test_like_functions_give_plain_arrays():
    def f(x):
        for like, want in ((fnp.zeros_like(x), np.zeros((2, 3), np.float32)),
                           (fnp.ones_like(x, dtype=int), np.ones((2, 3), int)),
                           (fnp.full_like(x, 7), np.full((2, 3), 7, np.float32)),
                           (fnp.zeros_like(x, shape=(4,)), np.zeros(4, np.float32))):
            assert type(like) is np.ndarray and like.dtype == want.dtype
            np.testing.assert_array_equal(like, want)
        e = fnp.empty_like(x)
        assert type(e) is np.ndarray and e.shape == (2, 3) and e.dtype == np.float32
        return fnp.sum(x * fnp.ones_like(x))
    x = np.ones((2, 3), np.float32)
    ft.grad(f)(x)
    ft.jvp(f, (x,), (x,))
    ft.vmap(f)(np.ones((5, 2, 3), np.float32))      # per example: the unbatched shape
    assert fnp.empty_like(np.ones(2, np.float32)).dtype == np.float32


def test_creation_with_traced_endpoints():
    np.testing.assert_allclose(ft.jacfwd(lambda a: fnp.linspace(a, 1.0, 5))(0.0), 1 - np.linspace(0, 1, 5))
    np.testing.assert_allclose(ft.grad(lambda b: fnp.sum(fnp.logspace(0.0, b, 3)))(1.0),
                               np.log(10) * (np.sqrt(10) * 0.5 + 10), rtol=1e-14)
    g = ft.jacrev(lambda s: fnp.geomspace(s, 8.0, 4))(1.0)
    np.testing.assert_allclose(g, [1.0, 2 / 3 * 2.0, 1 / 3 * 4.0, 0.0], rtol=1e-13)
    assert ft.grad(lambda v: fnp.sum(fnp.full((2, 3), v)))(1.5) == 6.0


def test_traced_methods():
    def f(x):
        assert x.real.shape == x.shape and not np.any(core.concrete_value(x.imag))
        return fnp.sum(x.cumsum() * x.conj()) + x.var() + x.std(ddof=1) + x.clip(0, 1).sum() + x.round().sum()
    x = np.array([0.5, 2.0, -1.0])
    want = np.sum(np.cumsum(x) * x) + x.var() + x.std(ddof=1) + x.clip(0, 1).sum() + x.round().sum()
    assert np.isclose(ft.value_and_grad(f)(x)[0], want)
    assert not hasattr(core.Tracer, "ptp")      # NumPy 2 removed ndarray.ptp


# ---- plain NumPy on traced values ------------------------------------------------------------

def test_numpy_calls_on_traced_values_reach_the_new_functions():
    x = np.array([0.5, 2.0, -1.0, 3.0])

    def f(x):
        return (np.sum(np.cumsum(x)) + np.median(x) + np.quantile(x, 0.25) + np.var(x, ddof=1)
                + np.sum(np.cbrt(x)) + np.sum(np.fmax(x, 0.0)) + np.sum(np.clip(x, 0.0, 1.0))
                + np.real(np.sum(np.conjugate(x))) + np.ptp(x) + np.nansum(x) + np.average(x)
                + np.sum(np.deg2rad(x)) + np.sum(np.sinc(x)))

    want = (np.sum(np.cumsum(x)) + np.median(x) + np.quantile(x, 0.25) + np.var(x, ddof=1)
            + np.sum(np.cbrt(x)) + np.sum(np.fmax(x, 0.0)) + np.sum(np.clip(x, 0.0, 1.0)) + np.sum(x)
            + np.ptp(x) + np.sum(x) + np.mean(x) + np.sum(np.deg2rad(x)) + np.sum(np.sinc(x)))
    v, g = ft.value_and_grad(f)(x)
    np.testing.assert_allclose(v, want, rtol=1e-14)
    ft.check_grads(f, (x,), order=2)


def _traced(f, *args):
    """``f(*args)`` computed on traced values (a vmap over a batch of one)."""
    return ft.tree.map(lambda o: o[0], ft.vmap(f)(*[np.asarray(a)[None] for a in args]))


@pytest.mark.parametrize("f, x", [
    (lambda m, x: m.sum(x, dtype=np.int32), np.arange(6, dtype=np.int32).reshape(2, 3)),
    (lambda m, x: m.prod(x, axis=0, dtype=np.int32), np.arange(1, 7).reshape(2, 3)),
    (lambda m, x: m.cumsum(x, dtype=np.int32), np.array([True, False, True])),
    (lambda m, x: m.cumprod(x, axis=1, dtype=np.float32), np.arange(1.0, 7.0).reshape(2, 3)),
    (lambda m, x: m.mean(x, axis=1, dtype=np.int32), np.array([[1, 2], [3, 5]])),
    (lambda m, x: m.var(x, axis=0, dtype=np.float32), np.array([[1.0, 2.0], [3.0, 5.0]])),
    (lambda m, x: m.nanstd(x, dtype=np.float32), np.array([1.0, np.nan, 4.0])),
    (lambda m, x: m.nanvar(x, axis=0, ddof=2), np.array([[1.0, np.nan], [3.0, 5.0]])),
    (lambda m, x: m.all(x, axis=0), np.zeros((0, 3))),
    (lambda m, x: m.any(x, axis=1, keepdims=True), np.zeros((2, 0))),
    (lambda m, x: m.median(x, axis=0), np.zeros((0, 3))),
    (lambda m, x: m.argmax(x, keepdims=True), np.array([[1.0, 4.0], [3.0, 2.0]])),
    (lambda m, x: m.round(x, -1), np.array([15, 25, -35, 7])),
    (lambda m, x: m.concatenate([x, x], axis=None, dtype=np.float32), np.ones((2, 2))),
    (lambda m, x: m.stack([x, x], axis=-1, dtype=np.int64, casting="unsafe"), np.array([1.5, 2.5])),
    (lambda m, x: m.diff(x, axis=0, prepend=0.0, append=x[:1]), np.array([[1.0, 2.0], [4.0, 8.0]])),
    (lambda m, x: m.diff(x, n=2), np.array([True, False, False, True])),
    (lambda m, x: m.trace(x, 1, dtype=np.int32), np.arange(6, dtype=np.int8).reshape(2, 3)),
])
def test_traced_values_keep_numpys_dtypes_and_edge_cases(f, x):
    """On traced values: NumPy's dtype= results (not int64 from a sum of small integers), its
    NaN for no degree of freedom or an empty median, empty all/any, keepdims of a flat argmax."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = f(np, x)
        for got in (f(fnp, x), _traced(lambda a: f(fnp, a), x)):
            np.testing.assert_array_equal(got, want)
            assert np.asarray(got).dtype == want.dtype


def test_diff_prepend_and_trace_dtype_derivatives():
    x = np.array([1.0, 4.0, 9.0])
    np.testing.assert_array_equal(ft.grad(lambda a: fnp.sum(fnp.diff(a, prepend=a[-1:]) ** 2))(x),
                                  [2 * (1 - 9) - 2 * 3, 2 * 3 - 2 * 5, 2 * 5 - 2 * (1 - 9)])
    g = ft.grad(lambda a: fnp.trace(a, dtype=np.float64))(np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(g, np.eye(2))
