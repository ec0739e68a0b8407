"""``chunk_size``: the same result in bounded memory, for every transform that takes it."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.primitives import _MIN_ROWS

RNG = np.random.default_rng(7)
N = 7
W = RNG.standard_normal((5, N))
X = RNG.standard_normal(N)
CHUNKS = [1, 2, 3, N - 1, N, N + 4]


def f_vec(x):
    return fnp.tanh(W @ x)


def jac_closed(x):
    """d tanh(W x) / dx, written out by hand."""
    return (1 - np.tanh(W @ x) ** 2)[:, None] * W


def f_tree(x, y):
    return {"a": fnp.sin(x) * y[0], "b": fnp.stack([fnp.sum(x * x), y[1] ** 3])}


def f_scalar(x):
    return fnp.sum(fnp.sin(W @ x) ** 2) + 0.5 * fnp.sum(x ** 3)


def hess_closed(x):
    z = W @ x
    return W.T @ (2 * np.cos(2 * z)[:, None] * W) + np.diag(3 * x)


def f_batch(x):
    return fnp.tanh(x @ W.T) * fnp.sum(x, axis=1, keepdims=True)


TRANSFORMS = {
    "jacrev": lambda c: ft.jacrev(f_vec, chunk_size=c),
    "jacfwd": lambda c: ft.jacfwd(f_vec, chunk_size=c),
    "jacobian": lambda c: ft.jacobian(f_vec, chunk_size=c),
    "jacobian-fwd": lambda c: ft.jacobian(f_vec, mode="fwd", chunk_size=c),
}


def assert_same(a, b):
    la, lb = ft.tree.leaves(a), ft.tree.leaves(b)
    assert ft.tree.structure(a) == ft.tree.structure(b)
    for u, v in zip(la, lb):
        u, v = np.asarray(u), np.asarray(v)
        assert u.shape == v.shape and u.dtype == v.dtype
        # The same mathematics; the basis of several leaves is mapped as dense rows, whose
        # products may round differently from the symbolic basis (last bits only).
        tol = 1e-5 if u.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol,
                                   err_msg="chunked result differs from the unchunked one")


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("chunk", CHUNKS)
def test_jacobian_chunked_equals_unchunked(name, chunk):
    make = TRANSFORMS[name]
    full = make(None)(X)
    assert_same(make(chunk)(X), full)
    np.testing.assert_allclose(full, jac_closed(X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
@pytest.mark.parametrize("chunk", [1, 2, 4, 100])
def test_pytree_jacobian_chunked(jac, chunk):
    x, y = RNG.standard_normal(3), RNG.standard_normal(2)
    full = jac(f_tree, argnums=(0, 1))(x, y)
    assert_same(jac(f_tree, argnums=(0, 1), chunk_size=chunk)(x, y), full)
    # closed form of two entries
    np.testing.assert_allclose(full["a"][0], np.diag(np.cos(x) * y[0]))
    np.testing.assert_allclose(full["b"][1], [[0.0, 0.0], [0.0, 3 * y[1] ** 2]])


@pytest.mark.parametrize("chunk", CHUNKS)
def test_hessian_chunked(chunk):
    full = ft.hessian(f_scalar)(X)
    assert_same(ft.hessian(f_scalar, chunk_size=chunk)(X), full)
    np.testing.assert_allclose(full, hess_closed(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
@pytest.mark.parametrize("chunk", [1, 2, 4, 5, 9])
def test_batch_jacobian_chunked(mode, chunk):
    xb = RNG.standard_normal((4, N))
    full = ft.batch_jacobian(f_batch, mode=mode)(xb)
    assert_same(ft.batch_jacobian(f_batch, mode=mode, chunk_size=chunk)(xb), full)
    for b in range(4):       # against the finite-difference-free closed form, per example
        x = xb[b]
        t, s = np.tanh(W @ x), np.sum(x)
        want = ((1 - t ** 2) * s)[:, None] * W + t[:, None]
        np.testing.assert_allclose(full[b], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("chunk", [1, 2, 3, 6, 10])
def test_vmap_chunked(chunk):
    xs, ys = RNG.standard_normal((6, 3)), RNG.standard_normal(3)

    def f(x, y):
        return {"dot": x @ y, "outer": fnp.outer(x, y), "const": y * 2.0}

    v = lambda c: ft.vmap(f, in_axes=(0, None), out_axes={"dot": 0, "outer": 2, "const": None},
                          chunk_size=c)
    full = v(None)(xs, ys)
    assert_same(v(chunk)(xs, ys), full)
    np.testing.assert_allclose(full["outer"], np.einsum("bi,j->ijb", xs, ys))
    np.testing.assert_allclose(full["const"], ys * 2.0)


def f_rules(x, dtype=np.float32):
    """Reaches every rule of the symbolic basis: products with a matrix on either side, a
    sum of its elements, selections, negation, a dtype change, and cumsum (no rule: the
    basis window is materialised)."""
    y = -fnp.where(x > 0, fnp.sin(x), 2.0 * x) * fnp.sum(x * x)
    z = (W.T @ (W @ y)).astype(dtype).astype(np.float64)
    return fnp.concatenate([z + fnp.cumsum(x), (x @ W.T) ** 2])


def fd_jacobian(f, x, eps=1e-6):
    return np.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))], -1)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
@pytest.mark.parametrize("chunk", CHUNKS)
def test_chunks_of_the_symbolic_basis(jac, chunk):
    """Each chunk maps a window of the basis' rows, kept symbolic like the whole basis."""
    full = jac(f_rules)(X)
    assert_same(jac(f_rules, chunk_size=chunk)(X), full)
    np.testing.assert_allclose(full, fd_jacobian(lambda x: np.asarray(f_rules(x, np.float64)), X),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_chunks_propagate_inf_and_nan_as_unchunked(jac):
    """A product with the basis is a scaling only for a finite matrix (0 * inf is NaN in the
    dense product); the chunks of one call share that check, and a later call checks again."""
    w = np.tile(W, (8, 1))                     # 40 x 7: large enough for the symbolic rules
    f = lambda x: fnp.sin(w @ x) if jac is ft.jacfwd else w.T @ fnp.sin(x @ w.T)
    x = RNG.standard_normal(N)
    finite = jac(f, chunk_size=3)(x)
    assert np.isfinite(finite).all()
    w[3, 2] = np.inf                           # in place: the next call must not reuse the check
    with np.errstate(invalid="ignore"):
        full, chunked = jac(f)(x), jac(f, chunk_size=3)(x)
    assert np.isnan(full).any()
    np.testing.assert_array_equal(chunked, full)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("chunk", [1, 3, N - 1, 2 * N])
def test_batch_jacobian_chunks_share_the_window(mode, chunk):
    """batch_jacobian's basis windows repeat over the examples (the lead axes)."""
    xb = RNG.standard_normal((3, N))
    g = lambda x: fnp.cumsum(fnp.tanh(x @ W.T) * fnp.sum(x ** 2, axis=1, keepdims=True), axis=1)
    full = ft.batch_jacobian(g, mode=mode)(xb)
    assert_same(ft.batch_jacobian(g, mode=mode, chunk_size=chunk)(xb), full)
    for b in range(3):
        np.testing.assert_allclose(full[b], fd_jacobian(lambda x: np.asarray(g(x[None]))[0], xb[b]),
                                   rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_dtype_preserved(dtype):
    x = X.astype(dtype)
    w = W.astype(dtype)
    j = ft.jacrev(lambda x: fnp.tanh(w @ x), chunk_size=2)(x)
    assert j.dtype == dtype
    assert_same(j, ft.jacrev(lambda x: fnp.tanh(w @ x))(x))
    assert ft.jacfwd(lambda x: fnp.tanh(w @ x), chunk_size=3)(x).dtype == dtype


def test_chunked_under_outer_transforms():
    """Inside grad/vmap the chunks are tracers: they are concatenated, still the same result."""
    def loss(x, c):
        return fnp.sum(ft.jacrev(f_vec, chunk_size=c)(x) ** 2)
    g_full, g_chunk = ft.grad(loss)(X, None), ft.grad(loss)(X, 3)
    np.testing.assert_allclose(g_chunk, g_full, rtol=1e-13, atol=1e-15)
    eps = 1e-6
    fd = np.array([(np.sum(jac_closed(X + eps * e) ** 2) - np.sum(jac_closed(X - eps * e) ** 2))
                   / (2 * eps) for e in np.eye(N)])
    np.testing.assert_allclose(g_full, fd, rtol=1e-6, atol=1e-8)
    xs = RNG.standard_normal((3, N))
    vm = ft.vmap(ft.jacfwd(f_vec, chunk_size=2))(xs)
    np.testing.assert_allclose(vm, np.stack([jac_closed(x) for x in xs]), rtol=1e-12, atol=1e-14)
    for jac in (ft.jacrev, ft.jacfwd):     # basis windows materialised as traced values
        vm = ft.vmap(jac(f_rules, chunk_size=5))(xs)
        assert_same(vm, np.stack([jac(f_rules)(x) for x in xs]))


BAD = [0, -3, 2.5, True, "4", np.float64(3.0)]
MAKERS = {
    "vmap": lambda c: ft.vmap(fnp.sin, chunk_size=c),
    "jacrev": lambda c: ft.jacrev(fnp.sin, chunk_size=c),
    "jacfwd": lambda c: ft.jacfwd(fnp.sin, chunk_size=c),
    "jacobian": lambda c: ft.jacobian(fnp.sin, chunk_size=c),
    "hessian": lambda c: ft.hessian(fnp.sin, chunk_size=c),
    "batch_jacobian": lambda c: ft.batch_jacobian(fnp.sin, chunk_size=c),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_chunk_size_validated(name, bad):
    with pytest.raises(ValueError) as e:
        MAKERS[name](bad)            # checked when the transform is made, before any call
    msg = str(e.value)
    assert name in msg and "chunk_size must be a positive int or None" in msg and repr(bad) in msg


def _peak(fn):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, out


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_chunked_memory_is_result_plus_the_maps_chunk_intermediates(jac, layers):
    """Memory, not time: tracemalloc counts NumPy's buffers exactly, so this is deterministic.

    A chunk maps a window of the symbolic basis, so it holds what the unchunked run holds
    beyond its result, a chunk's worth of each: tanh(W x) one chunk-sized array (its output),
    two layers one more (the product's input, alive with its output).
    """
    n, chunk = 800, 200               # large enough that tracing's Python objects are noise
    w1, w2 = RNG.standard_normal((n, n)) / 30, RNG.standard_normal((n, n)) / 30
    x = RNG.standard_normal(n)
    f = (lambda x: fnp.tanh(w1 @ x)) if layers == 1 else (lambda x: fnp.tanh(w2 @ fnp.tanh(w1 @ x)))
    jac(f, chunk_size=chunk)(x)      # warm caches
    p_full, j_full = _peak(lambda: jac(f)(x))
    p_chunk, j_chunk = _peak(lambda: jac(f, chunk_size=chunk)(x))
    assert_same(j_full, j_chunk)
    result, one_chunk = j_full.nbytes, chunk * n * 8
    # Unchunked: the result, plus one n x n intermediate for two layers (and the scaled
    # product's block buffer of scaled_matmul, a few rows).
    assert p_full <= (layers + 0.1) * result + _MIN_ROWS * n * 8, (p_full, result)
    assert p_chunk <= result + (layers + 0.25) * one_chunk, (p_chunk, result, one_chunk)


@pytest.mark.parametrize("case", ["sum", "product"])
def test_a_pending_scaling_of_a_wide_layers_columns_is_not_made_whole(case):
    """jacfwd through a 4x wider layer: data @ basis is data's columns (examples last), and
    its scaling by the layer's derivative is summed (a vector product) or multiplied into a
    matrix (64-row blocks) without the (4n x n) scaled copy; so is each chunk's share."""
    n, chunk = 300, 100                  # large enough for the blocked product
    data = RNG.standard_normal((4 * n, n)) / np.sqrt(n)
    x = RNG.standard_normal(n)
    z = data @ x
    if case == "sum":
        f, want = (lambda t: fnp.sum(fnp.sin(data @ t))), data.T @ np.cos(z)
    else:
        f, want = (lambda t: fnp.tanh(data @ t) @ data), data.T @ ((1 - np.tanh(z) ** 2)[:, None] * data)
    ft.jacfwd(f)(x)                      # warm caches
    wide = data.nbytes
    for c in (None, chunk):
        peak, jac = _peak(lambda: ft.jacfwd(f, chunk_size=c)(x))
        np.testing.assert_allclose(jac, want, rtol=1e-10, atol=1e-12)
        assert peak <= jac.nbytes + _MIN_ROWS * 4 * n * 8 + wide / 4, (c, peak, jac.nbytes, wide)


def test_hessian_of_logistic_regression_holds_no_wide_array():
    """Its gradient's tangent is a scaling of data's columns, multiplied into data in blocks,
    and the loss value's own tangent a vector product: neither (4n x n) array is made."""
    n = 300
    data = RNG.standard_normal((4 * n, n)) / np.sqrt(n)
    labels = (RNG.random(4 * n) < 0.5).astype(float)
    x = RNG.standard_normal(n) / 4
    loss = lambda t: fnp.sum(ft.nn.softplus(data @ t)) - labels @ (data @ t)
    p = 1 / (1 + np.exp(-(data @ x)))
    ft.hessian(loss)(x)
    peak, hess = _peak(lambda: ft.hessian(loss)(x))
    np.testing.assert_allclose(hess, data.T @ ((p * (1 - p))[:, None] * data), rtol=1e-10, atol=1e-12)
    assert peak <= hess.nbytes + _MIN_ROWS * 4 * n * 8 + data.nbytes / 4, (peak, hess.nbytes)
