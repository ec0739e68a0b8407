"""The per-call paths of grad / value_and_grad / vjp / jacrev: argument flattening without
recursion into tuples and lists of arrays, each argument's structure on its own, the cached
seed, error labels per argument."""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import tree


class Pair(NamedTuple):
    w: np.ndarray
    b: np.ndarray


def _loss(params, x):
    h = x
    for w, b in params:
        h = fnp.tanh(h @ w + b)
    return fnp.sum(h ** 2)


def _params(container=list, inner=tuple, rng=None):
    rng = rng or np.random.default_rng(0)
    return container([inner([rng.standard_normal((3, 3)), rng.standard_normal(3)])
                      for _ in range(2)])


@pytest.mark.parametrize("container, inner", [(list, tuple), (tuple, list), (list, list),
                                              (tuple, tuple), (list, Pair._make)])
def test_grad_keeps_each_container_type(container, inner):
    params = _params(container, inner)
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    g = ft.grad(_loss)(params, x)
    assert tree.structure(g) == tree.structure(params)
    assert type(g) is type(params) and all(type(a) is type(p) for a, p in zip(g, params))
    eps = 1e-6
    for k in range(2):          # finite differences along the first bias entry of each layer
        bumped = [list(p) for p in params]
        bumped[k][1] = bumped[k][1] + eps * np.eye(3)[0]
        fd = (_loss(bumped, x) - _loss(params, x)) / eps
        np.testing.assert_allclose(g[k][1][0], fd, rtol=1e-4, atol=1e-6)


def test_flatten_tells_alike_structures_apart():
    a, b = np.ones(2), np.zeros(3)
    shapes = [[(a, b), (a, b)], [[a, b], (a, b)], ([a, b], [a, b]), [(a, b), (a, b, a)],
              [Pair(a, b), (a, b)], [(a, (b,)), (a, b)], [(a, b), [a, b]], [(a, None), (a, b)],
              [(), (a, b)], [(a, b), {"w": a}]]
    defs = [tree.structure(s) for s in shapes]
    assert len(set(defs)) == len(defs)
    for s, d in zip(shapes, defs):
        leaves = tree.leaves(s)
        rebuilt = tree.unflatten(d, leaves)
        assert tree.structure(rebuilt) == d
        assert repr(rebuilt) == repr(s)
    mixed = [(a, 1.0), (a, b)]          # a number is a leaf like an array
    assert tree.structure(mixed) == defs[0]
    assert tree.unflatten(defs[0], tree.leaves(mixed))[0][1] == 1.0


def test_grad_of_a_namedtuple_layer_is_that_namedtuple():
    params = [Pair(np.ones(2), np.ones(2))]
    g = ft.grad(lambda p: fnp.sum(p[0].w * p[0].b))(params)
    assert type(g) is list and type(g[0]) is Pair
    np.testing.assert_allclose(g[0].w, np.ones(2))


def test_argnums_tuple_each_argument_its_structure():
    x = [np.ones(2), (np.full(2, 2.0),)]
    y = {"a": np.full(2, 3.0)}
    f = lambda x, s, y: fnp.sum(x[0] * x[1][0] * y["a"]) * s
    value, (gx, gy) = ft.value_and_grad(f, argnums=(0, 2))(x, 2.0, y)
    assert value == 24.0
    assert type(gx) is list and type(gx[1]) is tuple and type(gy) is dict
    np.testing.assert_allclose(gx[0], [12.0, 12.0])
    np.testing.assert_allclose(gy["a"], [4.0, 4.0])
    g0, = ft.grad(f, argnums=(0,))(x, 2.0, y)
    assert type(g0) is list
    assert type(ft.grad(f, argnums=np.int64(0))(x, 2.0, y)) is list


def test_kwargs_and_negative_argnums():
    f = lambda x, y, *, scale: fnp.sum(x * y) * scale
    assert ft.grad(f, argnums=-1)(np.ones(2), np.full(2, 3.0), scale=2.0).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        ft.grad(f, argnums=2)(np.ones(2), np.ones(2), scale=1.0)


def test_error_names_the_argument_of_the_bad_leaf():
    f = lambda a, b, c: fnp.sum(a) + fnp.sum(c[1])
    with pytest.raises(TypeError, match="argument 2 has dtype int64"):
        ft.grad(f, argnums=(0, 2))(np.ones(2), None, [np.ones(2), np.arange(2)])
    with pytest.raises(TypeError, match=r"primals\[1\] has dtype int64"):
        ft.vjp(lambda a, b: a, np.ones(2), [np.arange(2)])
    # Numbers and lists of numbers are converted, as before.
    assert float(ft.grad(lambda p: p[0] * p[1])([2.0, np.array(3.0)])[0]) == 3.0


def test_seed_is_fresh_for_every_call():
    g = ft.grad(lambda x: x)
    first = g(np.array(1.0, np.float32))
    first += 5.0                        # the caller owns the gradient
    second = g(np.array(1.0, np.float32))
    assert second == 1.0 and second.dtype == np.float32 and second is not first

    def double_in_place(ct):
        ct *= 2.0                       # a hook may modify its cotangent in place

    h = ft.grad(lambda x: ft.with_gradient(x, double_in_place))
    assert [float(h(np.array(1.0))) for _ in range(3)] == [2.0, 2.0, 2.0]
    assert float(ft.grad(lambda x: x * 3.0)(np.array(1.0))) == 3.0


def test_jacrev_and_vjp_with_several_structured_arguments():
    a, b = [np.ones(2), np.full(2, 2.0)], (np.full(2, 3.0),)
    jac = ft.jacrev(lambda a, b: a[0] * a[1] * b[0], argnums=(0, 1))(a, b)
    assert type(jac[0]) is list and type(jac[1]) is tuple
    np.testing.assert_allclose(jac[0][0], np.diag([6.0, 6.0]))
    out, pullback = ft.vjp(lambda a, b: a[0] * b[0], a, b)
    ga, gb = pullback(np.ones(2))
    assert type(ga) is list and type(gb) is tuple
    np.testing.assert_allclose(ga[0], [3.0, 3.0])
    np.testing.assert_allclose(ga[1], [0.0, 0.0])


def test_grads_in_threads_with_structured_params():
    params = _params()
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    want = ft.grad(_loss)(params, x)
    errors = []

    def work():
        try:
            for _ in range(30):
                got = ft.grad(_loss)(params, x)
                for gw, ww in zip(tree.leaves(got), tree.leaves(want)):
                    np.testing.assert_array_equal(gw, ww)
        except Exception as e:      # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
