"""Regressions found by differential testing against JAX (values checked against closed forms).

Each test is a case where functrans disagreed with what a JAX user gets; the expected values
are computed by hand, not by JAX.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from reference import close, fd_grad

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


# ---------------------------------------------------------------------------------------
# x.at[idx]: the update methods JAX has beyond set/add

AT_CASES = [
    ("multiply", lambda x, i, v: x.__setitem__(i, x[i] * v)),
    ("divide", lambda x, i, v: x.__setitem__(i, x[i] / v)),
    ("power", lambda x, i, v: x.__setitem__(i, x[i] ** v)),
    ("min", lambda x, i, v: x.__setitem__(i, np.minimum(x[i], v))),
    ("max", lambda x, i, v: x.__setitem__(i, np.maximum(x[i], v))),
]


@pytest.mark.parametrize("name, numpy_update", AT_CASES, ids=[c[0] for c in AT_CASES])
def test_at_update_methods(name, numpy_update):
    x = np.array([0.5, 1.5, 2.5, 3.5])
    idx, v = np.array([2, 0]), np.array([2.0, 0.25])

    def f(x, v):
        return getattr(x.at[idx], name)(v)

    def f_np(x, v):
        out = x.copy()
        numpy_update(out, idx, v)
        return out
    (_, out), g = ft.value_and_grad(lambda x, v: (fnp.sum(fnp.sin(f(x, v))), f(x, v)),
                                      argnums=(0, 1), has_aux=True)(x, v)
    np.testing.assert_allclose(out, f_np(x, v))
    eps = 1e-6
    for a, ga in enumerate(g):
        args = [x, v]
        fd = np.zeros_like(args[a])
        for k in range(fd.size):
            e = np.zeros_like(args[a])
            e[k] = eps
            hi = [p + e if j == a else p for j, p in enumerate(args)]
            lo = [p - e if j == a else p for j, p in enumerate(args)]
            fd[k] = (np.sum(np.sin(f_np(*hi))) - np.sum(np.sin(f_np(*lo)))) / (2 * eps)
        np.testing.assert_allclose(ga, fd, rtol=1e-6, atol=1e-8)
    # vmap over a batched index: row b updates position i[b]
    xs, ii = np.stack([x, x + 1]), np.array([1, 3])
    want = xs.copy()
    for b in range(2):
        numpy_update(want[b], ii[b], 2.0)
    np.testing.assert_allclose(ft.vmap(lambda x, i: getattr(x.at[i], name)(2.0))(xs, ii), want)


def test_at_divide_and_power_with_repeated_indices_apply_the_product_of_the_updates():
    """As JAX: x / (v0 v1) and x ** (v0 v1) where an element is selected twice, also for
    indices mapped by vmap (whose repeats cannot be seen); derivatives against the closed
    forms."""
    x, idx, v = np.array([2.0, 3.0, 4.0]), np.array([0, 0, 2]), np.array([2.0, 5.0, 0.5])
    np.testing.assert_allclose(ft.vmap(lambda x: x.at[idx].divide(v))(x[None])[0], [0.2, 3.0, 8.0])
    np.testing.assert_allclose(ft.vmap(lambda x: x.at[idx].power(v))(x[None])[0], [1024.0, 3.0, 2.0])
    rows, mapped = np.array([[0, 0, 2], [1, 1, 1]]), np.stack([x, x])
    np.testing.assert_allclose(ft.vmap(lambda x, i: x.at[i].divide(v))(mapped, rows),
                               [[0.2, 3.0, 8.0], [2.0, 3.0 / 5.0, 4.0]])
    np.testing.assert_allclose(ft.vmap(lambda x, i: x.at[i].power(v))(mapped, rows),
                               [[1024.0, 3.0, 2.0], [2.0, 243.0, 4.0]])
    w = np.array([1.0, 2.0, 3.0])
    gx, gv = ft.grad(lambda x, v: fnp.sum(w * x.at[idx].divide(v)), argnums=(0, 1))(x, v)
    # sum = x0 / (v0 v1) + 2 x1 + 3 x2 / v2
    np.testing.assert_allclose(gx, [1 / 10, 2.0, 6.0])
    np.testing.assert_allclose(gv, [-2 / 20, -2 / 50, -3 * 4 / 0.25])
    gx, gv = ft.grad(lambda x, v: fnp.sum(w * x.at[idx].power(v)), argnums=(0, 1))(x, v)
    # sum = x0 ** (v0 v1) + 2 x1 + 3 x2 ** v2
    np.testing.assert_allclose(gx, [10 * 2.0 ** 9, 2.0, 3 * 0.5 * 4.0 ** -0.5])
    np.testing.assert_allclose(gv, [5 * np.log(2) * 2.0 ** 10, 2 * np.log(2) * 2.0 ** 10,
                                    3 * np.log(4) * 2.0])


# x.at[idx].multiply / .min / .max with repeated indices apply every update (np.multiply.at,
# np.minimum.at, np.maximum.at; JAX does the same).

REPEATED = [("multiply", np.multiply), ("min", np.minimum), ("max", np.maximum)]
# (x shape, index, shape of the updates): repeats in 1-D, in pairs of 2-D coordinates, whole rows
REPEATED_INDICES = [
    ((5,), (np.array([0, 3, 0, 0, 3]),), (5,)),
    ((3, 4), (np.array([0, 2, 0, 2, 0]), np.array([1, 3, 1, 3, 1])), (5,)),
    ((3, 4), (np.array([2, 0, 2]), slice(None)), (3, 4)),
    ((3, 4), (np.array([1, 1]), slice(1, 3)), (2,)),        # updates broadcast over the repeats
]


def _numpy_at(ufunc, x, idx, v):
    out = np.array(x, dtype=np.result_type(x, v), copy=True)
    ufunc.at(out, idx, v)
    return out


def _distinct(rng, shape):
    """Values away from each other (no ties: finite differences see one branch) and from 0."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + 0.6).reshape(shape) * rng.choice([-1, 1], size=shape)


@pytest.mark.parametrize("name, ufunc", REPEATED, ids=[r[0] for r in REPEATED])
@pytest.mark.parametrize("case", range(len(REPEATED_INDICES)))
def test_at_repeated_indices_values_and_derivatives(name, ufunc, case):
    shape, idx, v_shape = REPEATED_INDICES[case]
    rng = np.random.default_rng(case)
    x, v = _distinct(rng, shape), _distinct(rng, v_shape) * 1.3
    w = rng.normal(size=shape)

    def f(x, v):
        return getattr(x.at[idx], name)(v)

    def loss_np(x, v):
        return np.sum(w * np.sin(_numpy_at(ufunc, x, idx, v)))

    # the value (under grad, where x is traced) is NumPy's, bit for bit
    (_, out), (gx, gv) = ft.value_and_grad(lambda x, v: (fnp.sum(w * fnp.sin(f(x, v))), f(x, v)),
                                           argnums=(0, 1), has_aux=True)(x, v)
    np.testing.assert_array_equal(out, _numpy_at(ufunc, x, idx, v))
    close(gx, fd_grad(lambda x: loss_np(x, v), x), rtol=1e-6, atol=1e-8)
    close(gv, fd_grad(lambda v: loss_np(x, v), v), rtol=1e-6, atol=1e-8)
    # forward mode: the directional derivative by finite differences
    tx, tv = rng.normal(size=shape), rng.normal(size=v_shape)
    _, t_out = ft.jvp(f, (x, v), (tx, tv))
    eps = 1e-6
    fd = (_numpy_at(ufunc, x + eps * tx, idx, v + eps * tv)
          - _numpy_at(ufunc, x - eps * tx, idx, v - eps * tv)) / (2 * eps)
    close(t_out, fd, rtol=1e-6, atol=1e-8)
    # vmap over x and the updates (the indices fixed), and the gradient of that
    xs, vs = np.stack([x, -x, 2 * x]), np.stack([v, v[::-1] if v.ndim else v, -v])
    want = np.stack([_numpy_at(ufunc, a, idx, b) for a, b in zip(xs, vs)])
    np.testing.assert_array_equal(ft.vmap(f)(xs, vs), want)
    close(ft.vmap(ft.grad(lambda x, v: fnp.sum(w * fnp.sin(f(x, v)))))(xs, vs),
          np.stack([fd_grad(lambda a: loss_np(a, b), a) for a, b in zip(xs, vs)]),
          rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, ufunc", REPEATED, ids=[r[0] for r in REPEATED])
def test_at_repeated_indices_batched_by_vmap(name, ufunc):
    """Per-example indices (no concrete value to check) with repeats in some examples."""
    rng = np.random.default_rng(7)
    # the last update is not the extreme: keeping only it (read-modify-write) would show
    xs = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 1.6, -2.0, 3.5], [2.0, -1.0, 0.7, 1.2]])
    v = np.array([2.5, -0.75, 1.5])
    ii = np.array([[0, 0, 0], [1, 3, 1], [2, 0, 1]])          # the last example has no repeat
    w = rng.normal(size=4)

    def loss(x, i, v):
        return fnp.sum(w * fnp.sin(getattr(x.at[i], name)(v)))

    want = np.stack([_numpy_at(ufunc, a, i, v) for a, i in zip(xs, ii)])
    np.testing.assert_array_equal(ft.vmap(lambda x, i: getattr(x.at[i], name)(v))(xs, ii), want)
    gx, gv = ft.vmap(ft.grad(loss, argnums=(0, 2)), in_axes=(0, 0, None))(xs, ii, v)
    for b, (a, i) in enumerate(zip(xs, ii)):
        def loss_np(a, v, i=i):
            return np.sum(w * np.sin(_numpy_at(ufunc, a, i, v)))
        close(gx[b], fd_grad(lambda a: loss_np(a, v), a), rtol=1e-6, atol=1e-8)
        close(gv[b], fd_grad(lambda u: loss_np(a, u), v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["min", "max"])
def test_at_repeated_min_max_ties_share_the_derivative_equally(name):
    """As JAX (and the min/max convention): every candidate equal to the result, x[i] and the
    updates alike, gets an equal share."""
    x = np.array([1.0, 2.0])
    idx = np.array([0, 0, 0])
    gx, gv = ft.grad(lambda x, v: fnp.sum(getattr(x.at[idx], name)(v)), argnums=(0, 1))(
        x, np.array([1.0, 1.0, 7.0 if name == "min" else -7.0]))
    close(gx, [1 / 3, 1.0])
    close(gv, [1 / 3, 1 / 3, 0.0])
    extreme = 0.5 if name == "min" else 1.5                 # two updates beyond x tie: halves
    gx, gv = ft.grad(lambda x, v: fnp.sum(getattr(x.at[idx], name)(v)), argnums=(0, 1))(
        x, np.array([extreme, 1.0, extreme]))
    close(gx, [0.0, 1.0])
    close(gv, [0.5, 0.0, 0.5])
    _, t = ft.jvp(lambda x, v: getattr(x.at[idx], name)(v), (x, np.array([extreme, 1.0, extreme])),
                  (np.array([10.0, 1.0]), np.array([2.0, 100.0, 4.0])))
    close(t, [3.0, 1.0])


def test_at_repeated_multiply_through_zeros_to_second_order():
    """d/dv of x0 * v0 * v1 * v2 with a zero factor, and the Hessian (closed forms)."""
    x, v = np.array([2.0, 5.0]), np.array([0.0, 3.0, 4.0])
    idx = np.array([0, 0, 0])

    def f(v):
        traced_x = 0.0 * v[0] + x         # a constant x made a traced value, to have .at
        return fnp.sum(traced_x.at[idx].multiply(v))
    close(ft.grad(f)(v), [2.0 * 12.0, 0.0, 0.0])
    close(ft.hessian(f)(v), 2.0 * np.array([[0.0, 4.0, 3.0], [4.0, 0.0, 0.0], [3.0, 0.0, 0.0]]))


def test_at_repeated_integer_values():
    xs = np.arange(6).reshape(2, 3)
    idx, v = np.array([0, 0, 2, 0]), np.array([5, -7, 1, 3])
    for name, ufunc in REPEATED:
        got = ft.vmap(lambda x: getattr(x.at[idx], name)(v))(xs)
        want = np.stack([_numpy_at(ufunc, a, idx, v) for a in xs])
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_at_repeated_keeps_float32():
    g = ft.grad(lambda x: fnp.sum(x.at[np.array([0, 0])].multiply(3.0)))(np.ones(2, np.float32))
    assert g.dtype == np.float32
    close(g, [9.0, 1.0])


# ---------------------------------------------------------------------------------------
# linalg.norm of complex and integer arrays (traced): NumPy's values and real dtypes

Z = np.array([1 + 2j, -0.5 + 0.3j, 2 - 1j])


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, 0, 3])
def test_norm_of_complex_is_real(ord):
    got = ft.vmap(lambda z: fnp.linalg.norm(z, ord), in_axes=None, axis_size=1)(Z)[0]
    a = np.abs(Z)
    want = {None: np.sqrt(np.sum(a ** 2)), 2: np.sqrt(np.sum(a ** 2)), 1: np.sum(a),
            np.inf: np.max(a), 0: 3.0, 3: np.sum(a ** 3) ** (1 / 3)}[ord]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want)


def test_norm_gradient_of_complex_input():
    """The gradient of a real function of complex z is d/dRe - i d/dIm (JAX's convention)."""
    g = ft.grad(fnp.linalg.norm)(Z)
    n = np.sqrt(np.sum(np.abs(Z) ** 2))
    eps = 1e-6
    for k in range(3):
        e = np.zeros(3, complex)
        e[k] = eps
        d_re = (np.linalg.norm(Z + e) - np.linalg.norm(Z - e)) / (2 * eps)
        d_im = (np.linalg.norm(Z + 1j * e) - np.linalg.norm(Z - 1j * e)) / (2 * eps)
        np.testing.assert_allclose(g[k], d_re - 1j * d_im, rtol=1e-6)
    np.testing.assert_allclose(g, np.conj(Z) / n)


@pytest.mark.parametrize("ord", [None, 1, np.inf, 0])
def test_norm_of_integers_is_float(ord):
    x = np.array([1, 0, -3])
    got = ft.vmap(lambda z: fnp.linalg.norm(z, ord), in_axes=None, axis_size=1)(x)[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.linalg.norm(x, ord))


# ---------------------------------------------------------------------------------------
# fnp.diff (jnp.diff exists; it was missing)

def test_diff_values_and_derivatives():
    x = np.array([[1.0, 4.0, 9.0, 16.0], [0.5, -1.0, 2.0, 0.0]])
    for n, axis in [(1, -1), (2, 1), (1, 0), (0, -1)]:
        got = ft.vmap(lambda v: fnp.diff(v, n, axis), in_axes=None, axis_size=1)(x)[0]
        np.testing.assert_allclose(got, np.diff(x, n, axis))
    w = np.array([1.0, -2.0])
    # d/dx sum(w * diff(x)) for x of length 3: (-w0, w0 - w1, w1)
    np.testing.assert_allclose(ft.grad(lambda v: fnp.sum(w * fnp.diff(v)))(np.arange(3.0)),
                               [-1.0, 3.0, -2.0])


# ---------------------------------------------------------------------------------------
# argnums naming one argument twice (the second tracer hid the first: a silent zero)

@pytest.mark.parametrize("transform", [ft.grad, ft.jacrev, ft.jacfwd, ft.hessian])
@pytest.mark.parametrize("argnums", [(0, 0), (0, -2), [1, 1]])
def test_repeated_argnums_are_refused(transform, argnums):
    with pytest.raises(ValueError, match="argnums must name each argument once"):
        transform(lambda x, y: x * y, argnums=argnums)(1.0, 2.0)


# ---------------------------------------------------------------------------------------
# Python numbers from custom rules (primals of tracers of outer transforms had no .shape)

def test_custom_jvp_rule_returning_python_numbers_under_nested_grad():
    @ft.custom_jvp
    def h(x):
        return 2.0
    h.defjvp(lambda p, t: (2.0, 0.0))
    assert float(ft.grad(lambda x: h(x) * x)(0.7)) == 2.0
    assert float(ft.grad(ft.grad(lambda x: h(x) * x))(0.7)) == 0.0
    assert float(ft.jacfwd(ft.grad(lambda x: h(x) * x ** 2))(0.7)) == 4.0


def test_custom_vjp_python_float_residual_has_a_shape_under_nested_grad():
    """bwd asks the shape of a Python-float residual (y) inside an outer grad."""
    @ft.custom_vjp
    def f(x, y):
        return fnp.sin(x) * y
    f.defvjp(lambda x, y: (f(x, y), (x, y)),
             lambda r, g: (fnp.cos(r[0]) * r[1] * g,
                           fnp.sum(fnp.sin(r[0]) * g) if fnp.ndim(r[1]) == 0 else None))
    np.testing.assert_allclose(ft.grad(ft.grad(lambda x: f(x, 2.0)))(0.7), -2.0 * np.sin(0.7))
