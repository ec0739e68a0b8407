"""Robustness and error reporting.

* very deep computations differentiate without RecursionError;
* transforms never mutate their inputs (arguments, cotangents, tangents);
* a failure inside a transformed function leaves no state behind;
* every bad input raises the documented class with a message naming what was wrong.
"""

from __future__ import annotations

import gc
import re

import numpy as np
import pytest

import functrans as ft
import functrans.core
import functrans.errors
import functrans.numpy as fnp
from functrans.errors import ConcretizationError, FunctransError, LeakedTracerError


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


def assert_clean_state():
    assert functrans.core.current_trace() is functrans.core.EVAL


X3 = np.array([0.3, -1.2, 2.0])


# ---------------------------------------------------------------------------------------
# Deep computations.

N_DEEP = 100_000


def _deep_chain(x):
    for _ in range(N_DEEP):
        x = x * 1.00001
    return x


def test_argnums_of_the_wrong_type_is_named():
    for bad in (0.0, "0", None):
        with pytest.raises(TypeError, match=r"grad: argnums must be an int or a tuple of ints, got"):
            ft.grad(lambda x: x, argnums=bad)(1.0)
    with pytest.raises(TypeError, match=r"jacrev: argnums must be an int or a tuple of ints, got 1.5"):
        ft.jacrev(lambda x: x, argnums=1.5)(np.ones(2))


@pytest.mark.parametrize("transform", [ft.grad, ft.value_and_grad, ft.vmap, ft.jacrev, ft.jacfwd,
                                       ft.jacobian, ft.hessian, ft.batch_jacobian])
def test_transforms_refuse_a_non_callable_when_made(transform):
    # as JAX: "Expected a callable value, got 3.0", at the transform, not at the call
    with pytest.raises(TypeError, match=r"expected a function \(a callable\) as `fun`, got float 3.0"):
        transform(3.0)
    with pytest.raises(TypeError, match=r"^jvp: expected a function"):
        ft.jvp(3.0, (1.0,), (1.0,))
    with pytest.raises(TypeError, match=r"^vjp: expected a function"):
        ft.vjp(3.0, 1.0)


def test_deep_chain_grad_no_recursion_error():
    g = ft.grad(_deep_chain)(1.0)
    close(g, 1.00001 ** N_DEEP, rtol=1e-9)


def test_deep_chain_vjp_no_recursion_error():
    out, pb = ft.vjp(_deep_chain, np.array([1.0, 2.0]))
    close(out, np.array([1.0, 2.0]) * 1.00001 ** N_DEEP, rtol=1e-9)
    close(pb(np.array([1.0, -1.0]))[0], np.array([1.0, -1.0]) * 1.00001 ** N_DEEP, rtol=1e-9)
    close(pb(np.array([2.0, 0.0]))[0], np.array([2.0, 0.0]) * 1.00001 ** N_DEEP, rtol=1e-9)
    del pb
    gc.collect()


def test_deep_mixed_chain_grad_matches_loop():
    n = 20_000

    def f(x):
        for _ in range(n):
            x = fnp.sin(x) + 0.5 * x
        return x

    # reference: the chain rule as a Python loop in NumPy
    x, d = 0.7, 1.0
    for _ in range(n):
        d *= np.cos(x) + 0.5
        x = np.sin(x) + 0.5 * x
    close(ft.grad(f)(0.7), d, rtol=1e-8, atol=1e-300)
    close(ft.jvp(f, (0.7,), (1.0,))[1], d, rtol=1e-8, atol=1e-300)


def test_deep_chain_second_order():
    n = 10_000
    def f(x):
        for _ in range(n):
            x = x * 1.0001
        return x * x
    c = 1.0001 ** n
    close(ft.grad(ft.grad(f))(0.5), 2 * c * c, rtol=1e-8)


def test_deep_nesting_of_transforms():
    # grad applied 8 times to x^10: 10!/2! x^2
    g = lambda x: x ** 10
    for _ in range(8):
        g = ft.grad(g)
    close(g(1.1), 1814400 * 1.1 ** 2, rtol=1e-10)


# ---------------------------------------------------------------------------------------
# Inputs are never mutated.

def _snapshot(tree):
    return [np.array(x, copy=True) for x in ft.tree.leaves(tree)]


def _unchanged(tree, snap):
    for x, s in zip(ft.tree.leaves(tree), snap):
        np.testing.assert_array_equal(np.asarray(x), s)


def _inplace_hook(g):
    g *= 7.0
    return None


def test_grad_does_not_mutate_inputs():
    x = np.array([1.0, 2.0, 3.0])
    p = {"w": np.ones((2, 3)), "b": np.array([0.5, -0.5])}
    snap = _snapshot((x, p))
    f = lambda x, p: fnp.sum(fnp.tanh(p["w"] @ ft.with_gradient(x, _inplace_hook) + p["b"]) ** 2)
    ft.grad(f, argnums=(0, 1))(x, p)
    ft.value_and_grad(f)(x, p)
    ft.grad(lambda x: fnp.sum(ft.with_gradient(x, _inplace_hook)))(x)   # identity-like
    ft.grad(lambda x: fnp.sum(x))(x)
    ft.hessian(lambda x: fnp.sum(x ** 3))(x)
    _unchanged((x, p), snap)


def test_vjp_does_not_mutate_primals_or_cotangents():
    x = np.array([1.0, 2.0, 3.0])
    snap_x = x.copy()
    for fun in [lambda x: x, lambda x: x * 1.0, lambda x: ft.with_gradient(x, _inplace_hook),
                lambda x: ft.with_gradient(x, _inplace_hook) + x,
                lambda x: fnp.reshape(x, (3, 1)).T[0]]:
        out, pb = ft.vjp(fun, x)
        ct = np.array([1.0, -2.0, 0.5])
        snap_ct = ct.copy()
        r1 = np.array(pb(ct)[0], copy=True)
        r2 = pb(ct)[0]
        np.testing.assert_array_equal(ct, snap_ct)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(x, snap_x)
    # mutating a returned cotangent must not change what the pullback returns next time
    out, pb = ft.vjp(lambda x: x * 2.0, x)
    ct = np.ones(3)
    r = pb(ct)[0]
    r_copy = np.array(r, copy=True)
    if isinstance(r, np.ndarray) and r.flags.writeable:
        r += 100.0
    np.testing.assert_array_equal(pb(ct)[0], r_copy)
    np.testing.assert_array_equal(ct, np.ones(3))


def test_jvp_and_linearize_do_not_mutate_inputs():
    x, t = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    snap = _snapshot((x, t))
    ft.jvp(lambda x: fnp.sin(x) * x, (x,), (t,))
    ft.jvp(lambda x: x, (x,), (t,))
    ft.jvp(lambda x: ft.with_gradient(x, _inplace_hook), (x,), (t,))
    _, f_jvp = ft.linearize(lambda x: x ** 2, x)
    f_jvp(t)
    ft.jacfwd(lambda x: x ** 2)(x)
    _unchanged((x, t), snap)


def test_vmap_does_not_mutate_inputs():
    xs = np.arange(12.0).reshape(3, 4)
    w = np.array([1.0, -1.0, 2.0, 0.5])
    snap = _snapshot((xs, w))
    ft.vmap(lambda x, w: x * w, in_axes=(0, None))(xs, w)
    ft.vmap(lambda x: x, in_axes=1)(xs)
    ft.vmap(ft.grad(lambda x, w: fnp.sum(ft.with_gradient(x, _inplace_hook) * w)),
            in_axes=(0, None))(xs, w)
    ft.vmap(lambda x: x.at[0].set(99.0))(xs)
    ft.vmap(lambda x: x.at[1].add(5.0))(xs)
    _unchanged((xs, w), snap)


def test_functional_update_does_not_mutate():
    x = np.arange(4.0)
    # f(x) = sum(x' * x) with x' = x except x'[1] = 10: df/dx = [2x0, 10, 2x2, 2x3]
    out = ft.grad(lambda x: fnp.sum(x.at[1].set(10.0) * x))(x)
    np.testing.assert_array_equal(x, np.arange(4.0))
    close(out, np.array([0.0, 10.0, 4.0, 6.0]))
    out = ft.grad(lambda x: fnp.sum(x.at[1].add(10.0) ** 2))(x)
    np.testing.assert_array_equal(x, np.arange(4.0))
    close(out, 2 * (x + np.array([0.0, 10.0, 0.0, 0.0])))


def test_with_gradient_hook_cannot_mutate_the_primal():
    x = np.array([1.0, 2.0, 3.0])

    def hook(g):
        g[...] = -1.0
    out, pb = ft.vjp(lambda x: ft.with_gradient(x, hook), x)
    pb(np.ones(3))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(out), [1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------
# A failure leaves no state behind.

class Boom(Exception):
    pass


def _raise(x):
    raise Boom("inside")


@pytest.mark.parametrize("transform", [
    lambda f: ft.grad(f),
    lambda f: ft.value_and_grad(f),
    lambda f: (lambda x: ft.vjp(f, x)),
    lambda f: (lambda x: ft.jvp(f, (x,), (x,))),
    lambda f: ft.vmap(f),
    lambda f: ft.jacfwd(f),
    lambda f: ft.jacrev(f),
    lambda f: ft.hessian(f),
    lambda f: ft.grad(lambda x: fnp.sum(ft.vmap(f)(x))),
    lambda f: ft.vmap(ft.grad(f)),
    lambda f: ft.grad(ft.grad(f)),
], ids=["grad", "value_and_grad", "vjp", "jvp", "vmap", "jacfwd", "jacrev", "hessian",
        "grad_vmap", "vmap_grad", "grad_grad"])
def test_exception_inside_transform_leaves_no_state(transform):
    x = np.array([0.5, 1.5])
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1
        if calls["n"] == 1:
            fnp.sin(x) * 2.0          # some traced work first
            raise Boom("first call fails")
        return fnp.sum(fnp.sin(x)) if np.ndim(x) == 1 else fnp.sin(x)

    with pytest.raises(Boom):
        transform(f)(x)
    assert_clean_state()
    # the next calls work and give right values
    close(ft.grad(lambda x: fnp.sum(fnp.sin(x)))(x), np.cos(x))
    close(ft.vmap(fnp.sin)(x), np.sin(x))
    close(ft.jvp(fnp.sin, (x,), (np.ones(2),))[1], np.cos(x))
    assert_clean_state()


def test_exception_in_pullback_and_hook_leaves_no_state():
    def bad_hook(g):
        raise Boom("hook")
    out, pb = ft.vjp(lambda x: fnp.sin(ft.with_gradient(x, bad_hook)), X3)
    with pytest.raises(Boom):
        pb(np.ones(3))
    assert_clean_state()
    with pytest.raises(Boom):
        ft.grad(lambda x: fnp.sum(ft.with_gradient(x, bad_hook)))(X3)
    assert_clean_state()
    with pytest.raises(Boom):
        ft.grad(ft.grad(lambda x: ft.with_gradient(x, bad_hook) ** 3))(1.0)
    assert_clean_state()
    close(ft.grad(lambda x: fnp.sum(x ** 2))(X3), 2 * X3)


def test_error_inside_nested_transform_then_recover():
    def f(x):
        return ft.vmap(lambda y: y if y > 0 else -y)(x)      # ConcretizationError
    with pytest.raises(ConcretizationError):
        ft.grad(lambda x: fnp.sum(f(x)))(X3)
    assert_clean_state()
    with pytest.raises(TypeError):
        ft.vmap(ft.grad(lambda x: x * np.ones(2)))(X3)       # non-scalar grad inside vmap
    assert_clean_state()
    close(ft.vmap(ft.grad(lambda x: x ** 2))(X3), 2 * X3)


def test_errors_in_deep_stack_many_times():
    for _ in range(50):
        with pytest.raises(Boom):
            ft.grad(ft.grad(_raise))(1.0)
        with pytest.raises(Boom):
            ft.vmap(ft.grad(_raise))(X3)
        with pytest.raises(Boom):
            ft.jvp(ft.grad(_raise), (1.0,), (1.0,))
    assert_clean_state()
    close(ft.grad(fnp.exp)(0.0), 1.0)


# ---------------------------------------------------------------------------------------
# Bad inputs: class and message.

def test_grad_non_scalar_output():
    with pytest.raises(TypeError) as e:
        ft.grad(lambda x: x * 2.0)(X3)
    msg = str(e.value)
    assert "scalar" in msg and "(3,)" in msg
    with pytest.raises(TypeError, match=r"\(2, 3\)"):
        ft.grad(lambda x: fnp.ones((2, 3)) * x)(1.0)
    with pytest.raises(TypeError, match="scalar"):
        ft.value_and_grad(lambda x: (x, x))(1.0)
    assert_clean_state()


def test_grad_of_complex_output_is_type_error():
    with pytest.raises(TypeError, match="complex|real"):
        ft.grad(lambda x: x * (1 + 1j))(1.0)


def test_grad_wrt_integer_input():
    with pytest.raises(TypeError) as e:
        ft.grad(lambda x: fnp.sum(x * 2))(np.arange(3))
    msg = str(e.value)
    assert "int64" in msg or "int" in msg
    assert "dtype" in msg
    with pytest.raises(TypeError, match="int"):
        ft.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match="int32"):
        ft.grad(lambda p: fnp.sum(p["a"]) * 1.0)({"a": np.arange(3, dtype=np.int32)})
    with pytest.raises(TypeError, match="argument 1"):
        ft.grad(lambda x, n: x * n, argnums=1)(2.0, 3)
    with pytest.raises(TypeError, match="bool"):
        ft.grad(lambda x: 1.0 * x)(np.array(True))


def test_grad_wrt_non_array_input():
    with pytest.raises(TypeError) as e:
        ft.grad(lambda s: 1.0)("hello")
    assert "str" in str(e.value)


def test_argnums_out_of_range():
    f = lambda x, y: x * y
    with pytest.raises(ValueError) as e:
        ft.grad(f, argnums=2)(1.0, 2.0)
    assert "argnums" in str(e.value) and "2" in str(e.value)
    with pytest.raises(ValueError, match="argnums"):
        ft.grad(f, argnums=(0, 5))(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums"):
        ft.grad(f, argnums=-3)(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums"):
        ft.value_and_grad(f, argnums=3)(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums"):
        ft.jacrev(f, argnums=2)(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums"):
        ft.jacfwd(f, argnums=2)(1.0, 2.0)
    with pytest.raises((TypeError, ValueError), match="argnums"):
        ft.grad(f, argnums="x")(1.0, 2.0)
    assert_clean_state()


def test_cotangent_of_wrong_shape():
    out, pb = ft.vjp(lambda x: x * 2.0, X3)
    with pytest.raises(ValueError) as e:
        pb(np.ones(2))
    msg = str(e.value)
    assert "(3,)" in msg and "(2,)" in msg
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        pb(np.ones((3, 1)))
    # a scalar cotangent for a vector output is a shape error too (no silent broadcasting)
    with pytest.raises(ValueError, match=r"\(\)"):
        pb(1.0)
    # wrong structure
    out, pb = ft.vjp(lambda x: (x, x * 2.0), X3)
    with pytest.raises((ValueError, TypeError), match="structure|cotangent"):
        pb(np.ones(3))
    # still usable after the errors
    close(pb((np.ones(3), np.ones(3)))[0], np.full(3, 3.0))
    assert_clean_state()


def test_leaked_tracer_used_after_transform():
    leaked = []

    def f(x):
        leaked.append(x * 2.0)
        return x * x
    ft.grad(f)(3.0)
    t = leaked[0]
    assert isinstance(t, ft.core.Tracer)
    with pytest.raises(LeakedTracerError) as e:
        t + 1.0
    assert "leak" in str(e.value).lower()
    assert isinstance(e.value, FunctransError)
    with pytest.raises(LeakedTracerError):
        fnp.sin(t)
    # inside another, new transform it is still a leaked tracer
    with pytest.raises(LeakedTracerError):
        ft.grad(lambda y: y * t)(1.0)
    assert_clean_state()
    with pytest.raises(LeakedTracerError):
        ft.jvp(lambda y: y * t, (1.0,), (1.0,))
    assert_clean_state()


@pytest.mark.parametrize("run", [
    lambda f: ft.grad(f)(2.0),
    lambda f: ft.jvp(f, (2.0,), (1.0,)),
    lambda f: ft.vmap(f)(np.array([1.0, 2.0])),
    lambda f: ft.vjp(f, 2.0),
    lambda f: ft.grad(lambda y: fnp.sum(ft.vmap(f)(y)))(np.array([1.0, 2.0])),
], ids=["grad", "jvp", "vmap", "vjp", "vmap_in_grad"])
def test_leaked_tracers_of_every_transform(run):
    sink = []

    def f(x):
        sink.append(x)
        return x * 1.0
    run(f)
    leaked = sink[0]
    with pytest.raises(LeakedTracerError):
        leaked * 3.0
    with pytest.raises(LeakedTracerError):
        fnp.exp(leaked)
    assert_clean_state()


def test_python_if_on_vmapped_value():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(ConcretizationError) as e:
        ft.vmap(f)(X3)
    msg = str(e.value)
    assert "functrans.numpy.where" in msg
    assert isinstance(e.value, TypeError) and isinstance(e.value, FunctransError)
    assert_clean_state()
    # the suggested fix works
    close(ft.vmap(lambda x: fnp.where(x > 0, x, -x))(X3), np.abs(X3))
    # other concretisations: int(), while, indexing with a batched value
    with pytest.raises(ConcretizationError):
        ft.vmap(lambda x: float(x))(X3)
    with pytest.raises(ConcretizationError):
        ft.vmap(lambda i: X3[int(i)])(np.array([0.0, 1.0]))
    assert_clean_state()


def test_python_control_flow_works_under_differentiation():
    # values are concrete under grad / jvp / vjp
    f = lambda x: x * 2.0 if x > 0 else x * -3.0
    close(ft.grad(f)(1.0), 2.0)
    close(ft.grad(f)(-1.0), -3.0)
    close(ft.jvp(f, (-1.0,), (1.0,))[1], -3.0)
    close(ft.vjp(f, 1.0)[1](1.0)[0], 2.0)


def test_vmap_mismatched_axis_sizes():
    with pytest.raises(ValueError) as e:
        ft.vmap(lambda x, y: x + y)(np.ones(3), np.ones(4))
    msg = str(e.value)
    assert re.search(r"argument 0\D+3", msg) and re.search(r"argument 1\D+4", msg), msg
    with pytest.raises(ValueError) as e:
        ft.vmap(lambda x, y: x + y, in_axes=(0, 1))(np.ones((3, 2)), np.ones((2, 5)))
    assert "3" in str(e.value) and "5" in str(e.value)
    with pytest.raises(ValueError, match="axis_size"):
        ft.vmap(lambda x: x, axis_size=5)(np.ones(3))
    assert_clean_state()


def test_vmap_in_axes_out_of_range():
    with pytest.raises(ValueError) as e:
        ft.vmap(lambda x: x, in_axes=2)(np.ones((3, 4)))
    msg = str(e.value)
    assert "in_axes" in msg and "2" in msg and "(3, 4)" in msg
    with pytest.raises(ValueError, match="in_axes"):
        ft.vmap(lambda x: x, in_axes=-3)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="in_axes"):
        ft.vmap(lambda x: x)(1.0)                         # a scalar has no axis 0
    with pytest.raises(ValueError, match="in_axes"):
        ft.vmap(lambda x, y: x, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="out_axes"):
        ft.vmap(lambda x: x, out_axes=3)(np.ones(3))
    assert_clean_state()


def test_vmap_prefix_errors_name_arguments_or_outputs():
    with pytest.raises(ValueError, match=r"in_axes must be a prefix of the structure of the "
                                         r"arguments: got \(\*, \*, \*\) for the arguments"):
        ft.vmap(lambda p: p[0], in_axes=((0, 0, 0),))((X3, X3))
    with pytest.raises(ValueError, match=r"out_axes must be a prefix of the structure of the "
                                         r"outputs: got \(\*, \*, \*\) for the outputs of "
                                         r"structure \(\*, \*\)"):
        ft.vmap(lambda a: (a, a), out_axes=(0, 0, 0))(np.ones((2, 3)))


def test_indexing_a_numpy_array_by_a_vmapped_index_says_how():
    with pytest.raises(TypeError, match=r"fnp\.take\(a, i\) or fnp\.getitem\(a, i\)"):
        ft.vmap(lambda i: np.arange(5.0)[i])(np.arange(3))
    np.testing.assert_array_equal(ft.vmap(lambda i: fnp.take(np.arange(5.0), i))(np.arange(3)),
                                  [0.0, 1.0, 2.0])


def test_vmap_axis_size_needed_when_nothing_is_mapped():
    with pytest.raises(ValueError) as e:
        ft.vmap(lambda x: x * 2.0, in_axes=None)(np.ones(3))
    assert "axis_size" in str(e.value)
    out = ft.vmap(lambda x: x * 2.0, in_axes=None, axis_size=4)(np.ones(3))
    assert out.shape == (4, 3)
    close(out, np.full((4, 3), 2.0))


def test_jvp_tangent_shape_mismatch():
    with pytest.raises(ValueError) as e:
        ft.jvp(fnp.sin, (X3,), (np.ones(2),))
    msg = str(e.value)
    assert "(3,)" in msg and "(2,)" in msg
    with pytest.raises((ValueError, TypeError)):
        ft.jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))            # structure mismatch
    with pytest.raises(TypeError, match="tuple"):
        ft.jvp(fnp.sin, X3, np.ones(3))                           # not tuples
    assert_clean_state()


def test_jvp_vjp_linearize_of_integer_primals_say_what_to_do():
    """API.md: integer inputs to differentiate raise a TypeError naming the argument (no
    float0 tangents as in JAX); jvp, vjp and linearize have no argnums, so the message says
    to close over the value instead."""
    n = np.arange(3)
    calls = []

    def f(x, k):
        calls.append(1)
        return x * k
    for name, call in [("jvp", lambda: ft.jvp(f, (X3, n), (X3, n))),
                       ("vjp", lambda: ft.vjp(f, X3, n)),
                       ("linearize", lambda: ft.linearize(f, X3, n))]:
        with pytest.raises(TypeError) as e:
            call()
        msg = str(e.value)
        for words in (f"{name} requires real- or complex-valued (float) inputs", "primals[1]",
                      "dtype int64", "x.astype(float)", "functools.partial"):
            assert words in msg, (words, msg)
        assert "argnums" not in msg
    assert calls == []                 # refused before the function runs (linearize too)
    with pytest.raises(TypeError, match=r"vjp requires .*primals\[0\] has dtype bool"):
        ft.vjp(lambda b: b * 1.0, np.array([True, False]))
    # the integer closed over: the derivative in the float argument
    close(ft.jvp(lambda x: f(x, n), (X3,), (np.ones(3),))[1], n)
    assert_clean_state()


def test_linearize_errors_name_linearize_and_come_before_tracing():
    calls = []

    def f(x):
        calls.append(1)
        return fnp.sin(x)
    with pytest.raises(TypeError, match=r"^linearize can only differentiate .*primals\[0\] is a str"):
        ft.linearize(f, "text")
    assert calls == []
    out, f_jvp = ft.linearize(f, X3)
    with pytest.raises(TypeError, match=r"^linearize: primals\[0\] has real dtype float64, got a "
                                        r"complex tangent of dtype complex128"):
        f_jvp(X3 + 0j)
    with pytest.raises(ValueError, match=r"^linearize: each tangent must have its primal's shape; "
                                         r"primals\[0\] has shape \(3,\), got a tangent of shape \(2,\)"):
        f_jvp(np.ones(2))
    with pytest.raises(ValueError, match=r"^linearize: tangents \(the structure of primals\)"):
        f_jvp(X3, X3)
    _, g_jvp = ft.linearize(lambda p: p["a"] * p["b"], {"a": X3, "b": 2.0})
    with pytest.raises(TypeError, match=r"^linearize: leaf 1 of primals\[0\] has real dtype "
                                        r"float64, got a complex tangent of dtype complex128"):
        g_jvp({"a": X3, "b": 1j})
    close(f_jvp(np.ones(3)), np.cos(X3))                      # still usable after the errors
    close(g_jvp({"a": np.ones(3), "b": 1.0}), 2.0 + X3)
    assert_clean_state()


def test_cotangent_of_another_dtype_is_converted_a_complex_one_for_a_real_output_refused():
    """A cotangent of another real dtype (or integers, or a Python number) is converted to the
    output's dtype, as autograd accepts it: the gradient keeps the primal's precision. A
    complex cotangent of a real output is refused (its imaginary part would be dropped)."""
    x32 = X3.astype(np.float32)
    out, pb = ft.vjp(lambda x: (x * 2.0, fnp.sum(x)), x32)
    for ct in [(np.ones(3), np.float32(1.0)), (np.ones(3, np.float32), np.float64(1.0)),
               (np.ones(3, np.int64), 1), (np.ones(3, np.float16), True)]:
        (g,) = pb(ct)
        assert g.dtype == np.float32
        close(g, np.full(3, 3.0))
    with pytest.raises(TypeError, match=r"^pullback: output leaf 1 has real dtype float32, got a "
                                        r"complex cotangent of dtype complex128: pass its real "
                                        r"part \(`ct\.real`\)"):
        pb((np.ones(3, np.float32), 1j))
    (g,) = ft.vjp(fnp.sin, 1.0 + 0j)[1](1.0)                    # a float for a complex output
    assert g.dtype == np.complex128
    np.testing.assert_allclose(g, np.cos(1.0))
    assert_clean_state()


def test_tangent_of_another_dtype_is_converted_a_complex_one_for_a_real_primal_refused():
    _, t = ft.jvp(lambda x, y: x * y, (X3, np.float32(2.0)), (X3, np.float64(1.0)))
    assert t.dtype == np.float64
    close(t, 2.0 * X3 + X3)
    _, t = ft.jvp(fnp.sin, (X3.astype(np.float32),), (np.ones(3),))   # float64 for float32
    assert t.dtype == np.float32
    close(t, np.cos(X3), rtol=1e-6)
    with pytest.raises(TypeError, match=r"^jvp: primals\[0\] has real dtype float64, got a "
                                        r"complex tangent of dtype complex128"):
        ft.jvp(fnp.sin, (1.0,), (1j,))
    _, t = ft.jvp(fnp.sin, (np.float32(0.0),), (2.0,))         # a Python number: converted
    assert t.dtype == np.float32 and float(t) == 2.0
    assert_clean_state()


def test_has_aux_with_non_pair_output():
    for call in [lambda: ft.grad(lambda x: x * 2.0, has_aux=True)(1.0),
                 lambda: ft.value_and_grad(lambda x: x * 2.0, has_aux=True)(1.0),
                 lambda: ft.vjp(lambda x: x * 2.0, 1.0, has_aux=True),
                 lambda: ft.grad(lambda x: (x, 1.0, 2.0), has_aux=True)(1.0)]:
        with pytest.raises(TypeError) as e:
            call()
        assert "has_aux" in str(e.value) and "pair" in str(e.value)
        assert_clean_state()


def test_unknown_jacobian_mode():
    with pytest.raises(ValueError, match="mode"):
        ft.jacobian(fnp.sin, mode="sideways")
    with pytest.raises(ValueError, match="mode"):
        ft.batch_jacobian(fnp.sin, mode="sideways")


def test_batch_jacobian_batch_size_mismatch():
    with pytest.raises(ValueError, match="batch"):
        ft.batch_jacobian(lambda x: fnp.sum(x, axis=0))(np.ones((3, 2)))
    assert_clean_state()


def test_tree_structure_errors():
    with pytest.raises(ValueError):
        ft.tree.map(lambda a, b: a + b, {"x": 1.0}, {"y": 1.0})
    with pytest.raises(ValueError):
        ft.tree.unflatten(ft.tree.structure((1, 2)), [1])
