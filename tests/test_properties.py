"""Property-based tests (hypothesis): primitives and transforms on inputs nobody picked by hand.

* every row of the primitive table (``tests/test_primitives.py``) on random values of its
  domain, random dtype and random ``vmap`` axes: value equals NumPy, derivatives equal
  central finite differences, ``vmap`` equals a Python loop;
* the elementwise rows on random shapes and random broadcasting pairs, the reductions on
  random shapes, axes and ``keepdims``;
* random programs of primitives (with fan-out) against a NumPy evaluation of the same program
  and against finite differences;
* random stacks of transforms (``grad``, ``jvp``, ``vjp``, ``vmap``, ``remat``,
  ``custom_vjp``, ``custom_jvp``, ``jacfwd``/``jacrev``, ``hvp``, ``linearize``) one to
  three deep, against closed-form derivatives, finite differences and, for ``vmap``, a
  Python loop.

The number of examples comes from the hypothesis profile (``tests/conftest.py``): ``ci`` by
default, ``HYPOTHESIS_PROFILE=long`` (``nox -s props``) for a long run.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrans as ft
import functrans.numpy as fnp
from test_primitives import (BINARY, DTYPES, F32, F64, RECORDS, REDUCTIONS, UNARY, assert_batched,
                             assert_same, diff_argnums, partial_in, take)

dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2 ** 32 - 1)


def sample(dom, seed, shapes, dtype):
    rng = np.random.default_rng(seed)
    return [d.sample(rng, s, dtype) for d, s in zip(dom, shapes)]


def check_value_grads_vmap(fun, ref, doms, shapes, dtype, seed, diff=True, order=1, tol=None, eps=None):
    """Value vs ``ref``, derivatives vs finite differences, vmap over each argument vs a loop."""
    args = sample(doms, seed, shapes, dtype)
    assert_same(fun(*args), ref(*[a.copy() for a in args]), dtype)
    nums = [i for i, d in enumerate(doms) if d.diff]
    if diff and nums:
        f = partial_in(fun, args, nums)
        ft.check_grads(f, [args[i] for i in nums], order=order, atol=tol, rtol=tol, eps=eps)
    B = 3
    rng = np.random.default_rng(seed + 1)
    in_axes = tuple(int(rng.integers(-1, len(s) + 1)) if rng.random() < 0.8 else None for s in shapes)
    if all(ax is None for ax in in_axes):
        in_axes = (0,) + in_axes[1:]
    batched = []
    for d, s, ax in zip(doms, shapes, in_axes):
        full = list(s)
        if ax is not None:
            full.insert(ax % (len(s) + 1), B)
        batched.append(d.sample(rng, tuple(full), dtype))
    want = np.stack([np.asarray(fun(*[take(x, ax, b) for x, ax in zip(batched, in_axes)]))
                     for b in range(B)])
    assert_batched(ft.vmap(fun, in_axes=in_axes)(*batched), want, dtype, f"vmap(in_axes={in_axes})")


# ---------------------------------------------------------------------------------------
# Every row of the table, on random values, dtypes and vmap axes.

@given(r=st.sampled_from(RECORDS), data=st.data(), dtype=dtypes, seed=seeds)
def test_every_row_on_random_values(r, data, dtype, seed):
    assume(dtype in r.dtypes)
    shapes = data.draw(st.sampled_from(r.shape_cases()))
    tol = None if r.tol is None else r.tol[dtype]
    check_value_grads_vmap(r.fun, r.ref, r.domains(), shapes, dtype, seed, diff=r.diff, tol=tol)
    if not r.diff:
        args = sample(r.domains(), seed, shapes, dtype)
        nums = diff_argnums(r)
        if nums:
            f = partial_in(r.fun, args, nums)
            _, t = ft.jvp(f, tuple(args[i] for i in nums), tuple(np.ones_like(args[i]) for i in nums))
            assert not np.any(np.asarray(t))


# ---------------------------------------------------------------------------------------
# Elementwise rows on random shapes and broadcasting pairs; reductions on random axes.

shapes_nd = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)


@given(row=st.sampled_from(UNARY), shape=shapes_nd, dtype=dtypes, seed=seeds)
def test_unary_on_random_shapes(row, shape, dtype, seed):
    _, f, ref, dom = row
    check_value_grads_vmap(f, ref, [dom], [shape], dtype, seed)


@given(row=st.sampled_from(BINARY), dtype=dtypes, seed=seeds,
       pair=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
def test_binary_on_random_broadcasting_pairs(row, pair, dtype, seed):
    name, f, ref, dom = row
    doms = list(dom) if isinstance(dom, tuple) else [dom, dom]
    if name in ("maximum", "minimum"):    # finite differences across the kink x == y are wrong
        x, y = sample(doms, seed, pair.input_shapes, dtype)
        assume(np.min(np.abs(x - y), initial=1.0) > 1e-2)
    check_value_grads_vmap(f, ref, doms, list(pair.input_shapes), dtype, seed)


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    n = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-n, n - 1))
    else:
        picked = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
        axis = tuple(a - n if draw(st.booleans()) else a for a in picked)
    return shape, axis, draw(st.booleans())


@given(row=st.sampled_from(REDUCTIONS), case=shape_and_axis(), dtype=dtypes, seed=seeds)
def test_reductions_on_random_axes(row, case, dtype, seed):
    name, f, ref, dom = row
    shape, axis, keepdims = case
    axes = range(len(shape)) if axis is None else [axis] if isinstance(axis, int) else axis
    reduced = math.prod(shape[a] for a in axes)
    assume(not (name == "std" and reduced == 1))     # sqrt(0): not differentiable (API.md)
    # A small step: the std of a few nearly equal values curves sharply, and the default step's
    # truncation error (found by the long profile: 1.5e-5 at std 0.004) exceeded the tolerance.
    check_value_grads_vmap(lambda x: f(x, axis=axis, keepdims=keepdims),
                           lambda x: ref(x, axis=axis, keepdims=keepdims), [dom], [shape], dtype, seed,
                           eps=1e-6)


# ---------------------------------------------------------------------------------------
# Random programs of primitives, with fan-out: against NumPy and finite differences.

UNARY_STEPS = [
    (fnp.sin, np.sin), (fnp.cos, np.cos), (fnp.tanh, np.tanh), (fnp.arctan, np.arctan),
    (fnp.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (lambda x: fnp.exp(fnp.tanh(x)), lambda x: np.exp(np.tanh(x))),
    (lambda x: x * 0.5 + 1.0, lambda x: x * 0.5 + 1.0),
    (lambda x: fnp.logaddexp(x, 0.0), lambda x: np.logaddexp(x, 0.0)),
]
BINARY_STEPS = [
    (lambda x, y: x + y, np.add), (lambda x, y: x - y, np.subtract),
    (lambda x, y: x * y, np.multiply), (lambda x, y: x * fnp.cos(y), lambda x, y: x * np.cos(y)),
    (lambda x, y: fnp.hypot(x, y) + 0.5, lambda x, y: np.hypot(x, y) + 0.5),
]
REDUCE_STEPS = [
    (lambda x: fnp.sum(x * x, axis=-1, keepdims=True), lambda x: np.sum(x * x, axis=-1, keepdims=True)),
    (lambda x: fnp.mean(x, axis=0, keepdims=True), lambda x: np.mean(x, axis=0, keepdims=True)),
]


@st.composite
def programs(draw):
    """A list of steps ``(kind, index, operands)``; each reads earlier values (fan-out)."""
    steps = []
    for k in range(draw(st.integers(1, 8))):
        n = k + 1                                  # values so far: the input and k results
        kind = draw(st.sampled_from(["unary", "unary", "binary", "binary", "reduce"]))
        table = {"unary": UNARY_STEPS, "binary": BINARY_STEPS, "reduce": REDUCE_STEPS}[kind]
        which = draw(st.integers(0, len(table) - 1))
        operands = [draw(st.integers(0, n - 1)) for _ in range(2 if kind == "binary" else 1)]
        steps.append((kind, which, operands))
    return steps


def run_program(steps, x, use_numpy):
    values = [x]
    for kind, which, operands in steps:
        table = {"unary": UNARY_STEPS, "binary": BINARY_STEPS, "reduce": REDUCE_STEPS}[kind]
        f = table[which][1 if use_numpy else 0]
        values.append(f(*[values[i] for i in operands]))
    total = values[-1]
    for v in values[:-1]:                  # every intermediate reaches the output
        total = total + 0.1 * (v.sum() if use_numpy else fnp.sum(v))
    return total.sum() if use_numpy else fnp.sum(total)


@given(steps=programs(), shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3),
       seed=seeds)
def test_random_programs(steps, shape, seed):
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, shape)
    f = lambda x: run_program(steps, x, False)
    np.testing.assert_allclose(f(x), run_program(steps, x, True), rtol=1e-12, atol=1e-12)
    ft.check_grads(f, (x,), order=2)
    # vmap of the program equals the Python loop over examples
    xs = np.random.default_rng(seed + 1).uniform(-1.5, 1.5, (3,) + shape)
    want = np.stack([run_program(steps, xi, True) for xi in xs])
    np.testing.assert_allclose(ft.vmap(f)(xs), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.grad(f))(xs), np.stack([ft.grad(f)(xi) for xi in xs]),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Random stacks of transforms around an elementwise function with closed-form derivatives.
#
# The function maps a vector elementwise, e(x)_i = phi(x_i), so each transform below turns
# it into another elementwise function: a differentiating transform into phi', the others
# (vmap, remat, custom_vjp, linearize) into phi itself. The stack's answer is phi^(k) for k
# differentiating layers, known in closed form.

def phi_sin(a, b):
    return (lambda x: fnp.sin(a * x + b)), (lambda k, x: a ** k * np.sin(a * x + b + k * np.pi / 2))


def phi_exp(a, b):
    return (lambda x: b * fnp.exp(a * x)), (lambda k, x: b * a ** k * np.exp(a * x))


def phi_poly(a, b):
    # a*x**4 + b*x**2: derivatives vanish from the fifth on
    coef = {4: a, 2: b}

    def deriv(k, x):
        return sum(c * math.perm(p, k) * x ** (p - k) for p, c in coef.items() if k <= p)
    return (lambda x: a * x ** 4 + b * x ** 2), deriv


def _grad(e):
    return ft.grad(lambda x: fnp.sum(e(x)))


def _jvp(e):
    return lambda x: ft.jvp(e, (x,), (fnp.ones_like(x),))[1]


def _vjp(e):
    return lambda x: ft.vjp(e, x)[1](fnp.ones_like(x))[0]


def _jacfwd(e):
    return lambda x: ft.jacfwd(e)(x) @ fnp.ones_like(x)


def _jacrev(e):
    return lambda x: fnp.ones_like(x) @ ft.jacrev(e)(x)


def _hvp(e):
    # the second derivative of sum(E) where E' = e is not available; use the Hessian of sum(e)
    return lambda x: ft.hvp(lambda y: fnp.sum(e(y)), (x,), (fnp.ones_like(x),))


def _vmap(e):
    return lambda x: fnp.reshape(ft.vmap(e)(fnp.reshape(x, (-1, 1))), (-1,))


def _vmap_loop(e):
    """vmap over the elements (0-d examples): must equal the Python loop."""
    return lambda x: ft.vmap(lambda xi: fnp.sum(e(fnp.reshape(xi, (1,)))))(x)


def _remat(e):
    return ft.remat(e)


def _custom_vjp(e):
    f = ft.custom_vjp(lambda x: e(x))

    def fwd(x):
        out, pb = ft.vjp(e, x)
        return out, (x,)

    def bwd(res, g):
        (x,) = res
        return (ft.vjp(e, x)[1](g)[0],)
    f.defvjp(fwd, bwd)
    return f


def _custom_jvp(e):
    f = ft.custom_jvp(lambda x: e(x))

    @f.defjvp
    def rule(primals, tangents):
        return ft.jvp(e, primals, tangents)
    return f


def _linearize(e):
    return lambda x: ft.linearize(e, x)[0]


# (name, transform, derivative order it adds)
LAYERS = [("grad", _grad, 1), ("jvp", _jvp, 1), ("vjp", _vjp, 1), ("jacfwd", _jacfwd, 1),
          ("jacrev", _jacrev, 1), ("hvp", _hvp, 2), ("vmap", _vmap, 0), ("vmap_elements", _vmap_loop, 0),
          ("remat", _remat, 0), ("custom_vjp", _custom_vjp, 0), ("custom_jvp", _custom_jvp, 0),
          ("linearize", _linearize, 0)]


@given(layers=st.lists(st.sampled_from(LAYERS), min_size=1, max_size=3),
       phi=st.sampled_from([phi_sin, phi_exp, phi_poly]), a=st.floats(-1.5, 1.5), b=st.floats(-1.5, 1.5),
       n=st.integers(1, 4), dtype=dtypes, seed=seeds)
def test_random_transform_stacks(layers, phi, a, b, n, dtype, seed):
    f, deriv = phi(a, b)
    e = f
    for _, layer, _ in layers:
        e = layer(e)
    k = sum(order for _, _, order in layers)
    x = np.random.default_rng(seed).uniform(-1.2, 1.2, n).astype(dtype)
    got = np.asarray(e(x))
    want = deriv(k, x.astype(np.float64))
    assert got.shape == (n,), [name for name, _, _ in layers]
    assert got.dtype == dtype, [name for name, _, _ in layers]
    tol = dict(rtol=1e-4, atol=1e-4 * max(1.0, abs(a)) ** k) if dtype == F32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got, want, **tol, err_msg=str([name for name, _, _ in layers]))
    # and the stacked function is itself differentiable, to finite differences
    if dtype == F64:
        ft.check_grads(lambda x: fnp.sum(e(x)), (x,), order=1)
        # vmap over a batch of inputs equals the Python loop
        xs = np.random.default_rng(seed + 1).uniform(-1.2, 1.2, (2, n))
        np.testing.assert_allclose(ft.vmap(e)(xs), np.stack([np.asarray(e(xi)) for xi in xs]),
                                   rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Jacobians, Hessians, chunking and out_axes on random programs with vector outputs.

def vector_program(steps, x):
    """A random program's intermediates stacked into a vector output (same as run_program's)."""
    values = [x]
    for kind, which, operands in steps:
        table = {"unary": UNARY_STEPS, "binary": BINARY_STEPS, "reduce": REDUCE_STEPS}[kind]
        values.append(table[which][0](*[values[i] for i in operands]))
    return fnp.concatenate([fnp.ravel(v) for v in values[1:]] + [fnp.ravel(x) * 0.5])


def fd_jacobian(f, x, eps=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


@given(steps=programs(), n=st.integers(1, 3), seed=seeds, chunk=st.integers(1, 4))
def test_jacobians_agree_with_each_other_and_finite_differences(steps, n, seed, chunk):
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, (n,))
    f = lambda x: vector_program(steps, x)
    want = fd_jacobian(f, x)
    for jac in (ft.jacrev(f), ft.jacfwd(f), ft.jacrev(f, chunk_size=chunk), ft.jacfwd(f, chunk_size=chunk),
                ft.jacobian(f)):
        np.testing.assert_allclose(jac(x), want, rtol=1e-6, atol=1e-7)
    # Hessian of a scalar program: symmetric, and the finite-difference Jacobian of the gradient
    g = lambda x: run_program(steps, x, False)
    h = np.asarray(ft.hessian(g)(x))
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, fd_jacobian(ft.grad(g), x), rtol=1e-5, atol=1e-6)
    t = np.random.default_rng(seed + 2).standard_normal(n)
    np.testing.assert_allclose(ft.hvp(g, (x,), (t,)), h @ t, rtol=1e-10, atol=1e-12)


@given(steps=programs(), batch=st.integers(1, 4), n=st.integers(1, 3), in_axis=st.sampled_from([0, 1, -1]),
       out_axis=st.sampled_from([0, 1, -1]), chunk=st.none() | st.integers(1, 3), seed=seeds)
def test_vmap_axes_and_chunks_match_the_loop(steps, batch, n, in_axis, out_axis, chunk, seed):
    f = lambda x: vector_program(steps, x)
    xs = np.random.default_rng(seed).uniform(-1.5, 1.5, (batch, n))
    want = np.stack([np.asarray(f(x)) for x in xs])                 # (batch, m)
    arg = np.moveaxis(xs, 0, in_axis)
    got = ft.vmap(f, in_axes=in_axis, out_axes=out_axis, chunk_size=chunk)(arg)
    np.testing.assert_allclose(got, np.moveaxis(want, 0, out_axis), rtol=1e-13, atol=1e-13)
    # per-example gradients equal the loop of gradients
    g = ft.grad(lambda x: run_program(steps, x, False))
    np.testing.assert_allclose(ft.vmap(g, in_axes=in_axis, chunk_size=chunk)(arg),
                               np.stack([g(x) for x in xs]), rtol=1e-13, atol=1e-13)


@st.composite
def pytrees(draw):
    """A dict/tuple/list pytree of 1 to 4 float arrays of small random shapes."""
    leaves = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), min_size=1, max_size=4))
    kind = draw(st.sampled_from(["dict", "tuple", "list", "nested"]))
    if kind == "dict":
        return {f"k{i}": s for i, s in enumerate(leaves)}
    if kind == "tuple":
        return tuple(leaves)
    if kind == "list":
        return list(leaves)
    return {"a": tuple(leaves[:1]), "b": [{"c": s} for s in leaves[1:]]}


@given(shapes=pytrees(), seed=seeds)
def test_gradients_of_pytrees_keep_their_structure(shapes, seed):
    rng = np.random.default_rng(seed)
    leaf_shapes, treedef = ft.tree.flatten(shapes, is_leaf=lambda s: isinstance(s, tuple) and all(
        isinstance(d, int) for d in s))
    params = ft.tree.unflatten(treedef, [rng.uniform(-1, 1, s) for s in leaf_shapes])

    def loss(p):
        return sum(fnp.sum(fnp.sin(leaf) * (k + 1)) for k, leaf in enumerate(ft.tree.leaves(p)))
    g = ft.grad(loss)(params)
    assert ft.tree.structure(g) == ft.tree.structure(params)
    for k, (gl, pl) in enumerate(zip(ft.tree.leaves(g), ft.tree.leaves(params))):
        np.testing.assert_allclose(gl, (k + 1) * np.cos(pl), rtol=1e-14)
        assert np.shape(gl) == np.shape(pl)
    ft.check_grads(loss, (params,), order=2)
