"""Transform-level tests: grad, value_and_grad, value_and_pullback/vjp, jvp, linearize,
Jacobians, stop_gradient, with_gradient and check_grads.

Every derivative is compared with central finite differences or a closed form, never with
functrans' own computation of the same quantity.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import primitives

from reference import close, fd_grad, fd_jac


# ---------------------------------------------------------------------------------------
# Independent references.

RNG = np.random.default_rng(1234)
X3 = np.array([0.3, -1.2, 2.0])
M23 = RNG.standard_normal((2, 3))


# ---------------------------------------------------------------------------------------
# grad / value_and_grad

def test_grad_scalar_closed_form():
    g = ft.grad(lambda x: fnp.sin(x) * x)
    for x in [0.0, 0.7, -2.5]:
        close(g(x), np.cos(x) * x + np.sin(x))


def test_grad_vector_matches_finite_differences():
    f = lambda x: fnp.sum(fnp.exp(fnp.sin(x)) * x ** 2) / fnp.sum(x * x + 1.0)
    close(ft.grad(f)(X3), fd_grad(f, X3), rtol=1e-6)


def test_grad_returns_float_of_input_dtype_and_shape():
    x32 = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    g = ft.grad(lambda x: fnp.sum(x * x))(x32)
    assert g.shape == (2, 2) and g.dtype == np.float32
    close(g, 2 * x32)
    g64 = ft.grad(lambda x: fnp.sum(x * x))(x32.astype(np.float64))
    assert g64.dtype == np.float64


def test_grad_python_float_input():
    g = ft.grad(lambda x: x ** 3)(2.0)
    assert np.shape(g) == ()
    close(g, 12.0)


def test_grad_argnums_int():
    f = lambda x, y: fnp.sum(x * y ** 2)
    x, y = X3, np.array([1.5, -0.5, 0.25])
    close(ft.grad(f)(x, y), y ** 2)
    close(ft.grad(f, argnums=1)(x, y), 2 * x * y)
    close(ft.grad(f, argnums=-1)(x, y), 2 * x * y)


def test_grad_argnums_tuple_gives_tuple():
    f = lambda x, y, z: fnp.sum(x * y ** 2) * z
    x, y, z = X3, np.array([1.5, -0.5, 0.25]), 3.0
    gs = ft.grad(f, argnums=(0, 2))(x, y, z)
    assert isinstance(gs, tuple) and len(gs) == 2
    close(gs[0], y ** 2 * z)
    close(gs[1], np.sum(x * y ** 2))
    single = ft.grad(f, argnums=(1,))(x, y, z)
    assert isinstance(single, tuple) and len(single) == 1
    close(single[0], 2 * x * y * z)


def test_grad_non_differentiated_args_may_be_ints():
    f = lambda x, n: fnp.sum(x ** n)
    close(ft.grad(f)(X3, 3), 3 * X3 ** 2)


def test_grad_kwargs_are_passed_through():
    f = lambda x, scale=1.0: scale * fnp.sum(fnp.sin(x))
    close(ft.grad(f)(X3, scale=2.0), 2.0 * np.cos(X3))


def test_grad_has_aux():
    def f(x):
        y = fnp.sin(x)
        return fnp.sum(y * y), {"y": y, "n": 7}
    g, aux = ft.grad(f, has_aux=True)(X3)
    close(g, 2 * np.sin(X3) * np.cos(X3))
    assert set(aux) == {"y", "n"} and aux["n"] == 7
    assert not isinstance(aux["y"], ft.core.Tracer)
    close(aux["y"], np.sin(X3))


def test_value_and_grad_plain_and_aux():
    f = lambda x: fnp.sum(x ** 3)
    v, g = ft.value_and_grad(f)(X3)
    close(v, np.sum(X3 ** 3))
    close(g, 3 * X3 ** 2)
    (v, aux), g = ft.value_and_grad(lambda x: (f(x), x * 2), has_aux=True)(X3)
    close(v, np.sum(X3 ** 3))
    close(aux, 2 * X3)
    assert not isinstance(aux, ft.core.Tracer)
    close(g, 3 * X3 ** 2)


def test_value_and_grad_argnums_tuple():
    f = lambda a, b: fnp.sum(a * fnp.exp(b))
    v, (ga, gb) = ft.value_and_grad(f, argnums=(0, 1))(X3, -X3)
    close(v, np.sum(X3 * np.exp(-X3)))
    close(ga, np.exp(-X3))
    close(gb, X3 * np.exp(-X3))


def test_grad_dict_argument():
    params = {"w": M23.copy(), "b": np.array([0.5, -0.5])}
    x = X3

    def loss(p):
        return fnp.sum(fnp.tanh(p["w"] @ x + p["b"]) ** 2)

    g = ft.grad(loss)(params)
    assert isinstance(g, dict) and set(g) == {"w", "b"}
    assert g["w"].shape == (2, 3) and g["b"].shape == (2,)
    close(g["w"], fd_grad(lambda w: loss({"w": w, "b": params["b"]}), params["w"]), rtol=1e-6)
    close(g["b"], fd_grad(lambda b: loss({"w": params["w"], "b": b}), params["b"]), rtol=1e-6)
    # closed form
    t = np.tanh(M23 @ x + params["b"])
    gb = 2 * t * (1 - t ** 2)
    close(g["b"], gb)
    close(g["w"], np.outer(gb, x))


def test_grad_tuple_and_list_argument():
    def f(args):
        a, (b, c) = args[0], args[1]
        return fnp.sum(a * b) + fnp.sum(c ** 2)
    a, b, c = X3, X3 + 1.0, np.array([2.0, 3.0])
    g = ft.grad(f)((a, [b, c]))
    assert isinstance(g, tuple) and isinstance(g[1], list)
    close(g[0], b)
    close(g[1][0], a)
    close(g[1][1], 2 * c)


class Params(NamedTuple):
    w: np.ndarray
    b: float


@dataclasses.dataclass
class DParams:
    w: np.ndarray
    b: np.ndarray


def test_grad_namedtuple_argument():
    p = Params(w=X3.copy(), b=0.5)
    g = ft.grad(lambda p: fnp.sum(fnp.sin(p.w * p.b)))(p)
    assert isinstance(g, Params)
    close(g.w, np.cos(X3 * 0.5) * 0.5)
    close(g.b, np.sum(np.cos(X3 * 0.5) * X3))


def test_grad_dataclass_argument():
    p = DParams(w=M23.copy(), b=np.array([0.1, 0.2]))
    x = X3

    def loss(p):
        return fnp.sum((p.w @ x + p.b) ** 2)

    g = ft.grad(loss)(p)
    assert isinstance(g, DParams)
    r = M23 @ x + p.b
    close(g.b, 2 * r)
    close(g.w, 2 * np.outer(r, x))


def test_grad_pytree_with_none_leafless_parts():
    g = ft.grad(lambda t: t["x"] ** 2 * 3.0)({"x": 2.0, "unused": None})
    assert g["unused"] is None
    close(g["x"], 12.0)


def test_grad_of_unused_argument_is_zero_of_right_shape():
    g = ft.grad(lambda x, y: fnp.sum(x ** 2), argnums=1)(X3, M23)
    assert g.shape == M23.shape
    close(g, np.zeros_like(M23))


def test_grad_of_constant_function():
    g = ft.grad(lambda x: 3.0)(X3)
    close(g, np.zeros(3))


def test_grad_broadcasting_input():
    # x is (3,) broadcast against (2, 3): gradient must be summed back to (3,).
    f = lambda x: fnp.sum(M23 * x)
    g = ft.grad(f)(X3)
    assert g.shape == (3,)
    close(g, M23.sum(0))


# ---------------------------------------------------------------------------------------
# value_and_pullback / vjp

def test_vjp_is_value_and_pullback():
    assert ft.vjp is ft.value_and_pullback


def test_pullback_matches_jacobian_transpose_several_cotangents():
    f = lambda x: fnp.tanh(M23 @ x) * fnp.sum(x)
    out, pb = ft.value_and_pullback(f, X3)
    close(out, np.tanh(M23 @ X3) * X3.sum())
    J = fd_jac(f, X3)
    cts = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([2.5, -1.5]), np.array([1.0, 0.0])]
    results = [pb(c) for c in cts]
    for c, r in zip(cts, results):
        assert isinstance(r, tuple) and len(r) == 1
        close(r[0], c @ J, rtol=1e-6)
    close(results[0][0], results[3][0], rtol=0, atol=0)   # repeated call: identical


def test_pullback_multiple_primals():
    f = lambda x, y: fnp.sin(x) * y
    out, pb = ft.vjp(f, X3, 2.0)
    cx, cy = pb(np.array([1.0, 2.0, 3.0]))
    close(cx, np.cos(X3) * 2.0 * np.array([1.0, 2.0, 3.0]))
    close(cy, np.sum(np.sin(X3) * np.array([1.0, 2.0, 3.0])))
    assert np.shape(cy) == ()


def test_pullback_pytree_output_and_input():
    def f(p):
        return {"s": fnp.sum(p["a"] ** 2), "v": p["a"] * p["b"]}
    p = {"a": X3, "b": 2.0}
    out, pb = ft.vjp(f, p)
    close(out["s"], np.sum(X3 ** 2))
    (ct,) = pb({"s": 1.0, "v": np.zeros(3)})
    close(ct["a"], 2 * X3)
    close(ct["b"], 0.0)
    (ct,) = pb({"s": 0.0, "v": np.ones(3)})
    close(ct["a"], np.full(3, 2.0))
    close(ct["b"], np.sum(X3))


def test_pullback_has_aux():
    out, pb, aux = ft.vjp(lambda x: (x ** 2, {"double": 2 * x}), X3, has_aux=True)
    close(out, X3 ** 2)
    close(aux["double"], 2 * X3)
    assert not isinstance(aux["double"], ft.core.Tracer)
    close(pb(np.ones(3))[0], 2 * X3)
    close(pb(np.arange(3.0))[0], 2 * X3 * np.arange(3.0))


def test_pullback_of_output_independent_of_input():
    out, pb = ft.vjp(lambda x: np.ones(2), X3)
    (c,) = pb(np.ones(2))
    close(c, np.zeros(3))
    assert c.shape == (3,)


def test_pullback_float32():
    x = X3.astype(np.float32)
    out, pb = ft.vjp(lambda x: x * x, x)
    (c,) = pb(np.ones(3, np.float32))
    assert c.dtype == np.float32
    close(c, 2 * x, rtol=1e-6)


def test_pullback_is_differentiable_and_batchable():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x = np.array([0.1, 0.2])
    out, pb = ft.vjp(lambda x: fnp.sin(A @ x), x)
    J = np.cos(A @ x)[:, None] * A                 # closed-form Jacobian (3, 2)
    # the pullback is linear in the cotangent: its gradient / jvp / vmap expose J
    close(ft.grad(lambda c: fnp.sum(pb(c)[0]))(np.ones(3)), J @ np.ones(2))
    close(ft.jvp(lambda c: pb(c)[0], (np.ones(3),), (np.array([1.0, 0.0, 0.0]),))[1], J[0])
    close(ft.vmap(lambda c: pb(c)[0])(np.eye(3)), J)


def test_print_inside_grad_shows_the_value(capsys):
    def f(x):
        print("x =", x)
        print("y =", x * 2.0)
        return x * x
    ft.grad(f)(3.0)
    out = capsys.readouterr().out
    assert "x = 3.0" in out and "y = 6.0" in out


def test_format_spec_of_a_traced_value_formats_its_value():
    # f"{loss:.4f}" inside a differentiated function works as on a concrete number
    seen = []

    def f(x):
        loss = fnp.sum(x ** 2)
        seen.append(f"{loss:.3f} {x[0]:8.2e} {x}")
        return loss
    ft.grad(f)(np.array([1.5, 2.0]))
    ft.jvp(f, (np.array([1.5, 2.0]),), (np.ones(2),))
    assert seen == ["6.250 1.50e+00 [1.5 2. ]"] * 2
    with pytest.raises(ft.errors.ConcretizationError):     # no single value under vmap
        ft.vmap(lambda x: f"{x:.3f}")(np.ones(2))


# ---------------------------------------------------------------------------------------
# jvp and linearize

def test_linearize_has_aux():
    # as JAX: (out, f_jvp, aux); d/dx x**3 at 2 is 12
    out, f_jvp, aux = ft.linearize(lambda x: (x ** 3, {"twice": 2.0 * x}), 2.0, has_aux=True)
    assert float(out) == 8.0 and float(f_jvp(1.0)) == 12.0 and float(f_jvp(0.5)) == 6.0
    assert float(aux["twice"]) == 4.0 and not isinstance(aux["twice"], ft.core.Tracer)
    with pytest.raises(TypeError, match="linearize with has_aux=True needs the function to return a pair"):
        ft.linearize(lambda x: x, 1.0, has_aux=True)


def test_jvp_matches_finite_differences():
    f = lambda x: fnp.tanh(M23 @ x) * fnp.sum(x ** 2)
    v = np.array([0.2, -0.4, 1.0])
    out, t = ft.jvp(f, (X3,), (v,))
    close(out, f(X3))
    close(t, fd_jac(f, X3) @ v, rtol=1e-6)


def test_jvp_multiple_primals_and_pytrees():
    def f(p, s):
        return {"u": p["a"] * s, "v": fnp.sum(fnp.exp(p["b"]))}
    p = {"a": X3, "b": np.array([0.1, 0.2])}
    tp = {"a": np.ones(3), "b": np.array([1.0, -1.0])}
    out, t = ft.jvp(f, (p, 2.0), (tp, 0.5))
    close(out["u"], 2 * X3)
    close(t["u"], 1.0 * 2.0 + X3 * 0.5)
    close(t["v"], np.exp(0.1) - np.exp(0.2))


def test_jvp_constant_output_gives_zero_tangent():
    out, t = ft.jvp(lambda x: np.full(2, 3.0), (X3,), (np.ones(3),))
    close(t, np.zeros(2))
    assert np.shape(t) == (2,)


def test_jvp_scalar():
    out, t = ft.jvp(fnp.exp, (1.0,), (2.0,))
    close(out, np.e)
    close(t, 2 * np.e)


def test_linearize():
    f = lambda x: fnp.sin(x) * x
    out, f_jvp = ft.linearize(f, X3)
    close(out, np.sin(X3) * X3)
    J = np.diag(np.cos(X3) * X3 + np.sin(X3))
    for t in [np.ones(3), np.array([1.0, -2.0, 0.5]), np.zeros(3)]:
        close(f_jvp(t), J @ t)
    # linear: f_jvp(a t1 + t2) == a f_jvp(t1) + f_jvp(t2)
    t1, t2 = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 4.0])
    close(f_jvp(3 * t1 + t2), 3 * f_jvp(t1) + f_jvp(t2))


def test_linearize_under_vmap():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x = np.array([0.1, 0.2])
    _, f_jvp = ft.linearize(lambda x: fnp.sin(A @ x), x)
    close(ft.vmap(f_jvp)(np.eye(2)), (np.cos(A @ x)[:, None] * A).T)


def test_linearize_multiple_args():
    out, f_jvp = ft.linearize(lambda x, y: x * y, 2.0, 3.0)
    close(out, 6.0)
    close(f_jvp(1.0, 0.0), 3.0)
    close(f_jvp(0.0, 1.0), 2.0)


# ---------------------------------------------------------------------------------------
# Jacobians

def _vec_fun(x):
    return fnp.stack([fnp.sin(x[0]) * x[1], x[1] * x[2] ** 2, fnp.exp(x[0] - x[2]), fnp.sum(x)])


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd, ft.jacobian,
                                 lambda f: ft.jacobian(f, mode="rev"),
                                 lambda f: ft.jacobian(f, mode="fwd")])
def test_jacobians_match_finite_differences(jac):
    J = jac(_vec_fun)(X3)
    assert J.shape == (4, 3)
    close(J, fd_jac(_vec_fun, X3), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_jacobian_shapes_matrix_in_out(jac):
    A = RNG.standard_normal((4, 2))
    f = lambda X: fnp.tanh(A @ X)
    X = RNG.standard_normal((2, 3))
    J = jac(f)(X)
    assert J.shape == (4, 3, 2, 3)
    close(J, fd_jac(f, X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_jacobian_pytrees_and_argnums(jac):
    def f(x, y):
        return {"p": x * y, "q": fnp.sum(x) * y}
    x, y = X3, 2.0
    J = jac(f, argnums=(0, 1))(x, y)
    assert set(J) == {"p", "q"}
    close(J["p"][0], np.eye(3) * y)
    close(J["p"][1], x)
    close(J["q"][0], np.full(3, y))
    close(J["q"][1], np.sum(x))


def test_hessian_and_hvp_closed_form():
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    f = lambda x: 0.5 * x @ (A @ x) + fnp.sum(fnp.sin(x))
    H_true = A - np.diag(np.sin(X3))
    close(ft.hessian(f)(X3), H_true)
    v = np.array([1.0, -1.0, 0.5])
    close(ft.hvp(f, (X3,), (v,)), H_true @ v)


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd, ft.jacobian,
                                 lambda f, **kw: ft.jacobian(f, mode="rev", **kw),
                                 lambda f, **kw: ft.jacobian(f, mode="fwd", **kw)])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_jacobians_has_aux(jac, chunk_size):
    def f(x, y):
        return {"p": fnp.sin(x) * y, "q": x ** 2}, {"s": fnp.sum(x) * y, "n": 7}
    J, aux = jac(f, argnums=(0, 1), has_aux=True, chunk_size=chunk_size)(X3, 2.0)
    close(J["p"][0], fd_jac(lambda x: np.sin(x) * 2.0, X3), rtol=1e-6, atol=1e-8)
    close(J["p"][1], np.sin(X3))
    close(J["q"][0], np.diag(2 * X3))
    close(J["q"][1], np.zeros(3))
    assert aux["n"] == 7 and not isinstance(aux["s"], ft.core.Tracer)
    close(aux["s"], 2.0 * np.sum(X3))


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd])
def test_jacobian_has_aux_runs_once_and_nests(jac):
    calls = []

    def f(x):
        calls.append(1)
        return x ** 3, x * 2
    J, aux = jac(f, has_aux=True)(X3)
    assert len(calls) == 1
    close(J, np.diag(3 * X3 ** 2))
    close(aux, 2 * X3)
    # aux of an inner Jacobian is a value of the outer transforms: differentiable, batchable
    g = ft.grad(lambda y: fnp.sum(jac(lambda x: (x * y, x * y ** 2), has_aux=True)(X3)[1]))(1.5)
    close(g, 2 * 1.5 * np.sum(X3))
    Jb, auxb = ft.vmap(jac(lambda x: (fnp.sin(x), fnp.cos(x)), has_aux=True))(X3)
    close(Jb, np.cos(X3))
    close(auxb, np.cos(X3))


def test_hessian_and_jvp_has_aux():
    H, aux = ft.hessian(lambda x: (fnp.sum(x ** 3), {"x2": x * 2}), has_aux=True)(X3)
    close(H, np.diag(6 * X3))
    close(aux["x2"], 2 * X3)
    assert not isinstance(aux["x2"], ft.core.Tracer)
    out, t, aux = ft.jvp(lambda x: (fnp.sin(x), x + 1), (X3,), (np.ones(3),), has_aux=True)
    close(out, np.sin(X3))
    close(t, np.cos(X3))
    close(aux, X3 + 1)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd", "jacobian", "hessian", "jvp"])
def test_has_aux_needs_a_pair(name):
    f = lambda x: fnp.sum(x ** 2)
    transform = getattr(ft, name)
    call = ((lambda: ft.jvp(f, (X3,), (X3,), has_aux=True)) if name == "jvp"
            else lambda: transform(f, has_aux=True)(X3))
    with pytest.raises(TypeError, match="with has_aux=True needs the function to return a pair"):
        call()


def test_batch_jacobian_vs_finite_differences():
    W = RNG.standard_normal((3, 2))
    f = lambda x: fnp.tanh(x @ W)
    x = RNG.standard_normal((4, 3))
    for mode in ["rev", "fwd", "auto"]:
        jb = ft.batch_jacobian(f, mode=mode)(x)
        assert jb.shape == (4, 2, 3)
        for b in range(4):
            close(jb[b], fd_jac(lambda xb: np.tanh(xb @ W), x[b]), rtol=1e-6, atol=1e-8)


def _tree_fun(p):
    """A pytree (dict) in, a pytree (tuple with a dict) out."""
    a, b = p["a"], p["b"]
    return (fnp.sin(a) * fnp.sum(b), {"m": fnp.tanh(b @ a), "s": fnp.sum(a * a) * b[0, 1]})


def _tree_fun_np(a, b):
    return (np.sin(a) * np.sum(b), {"m": np.tanh(b @ a), "s": np.sum(a * a) * b[0, 1]})


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd, ft.jacobian])
def test_jacobians_of_pytrees_equal_finite_differences(jac):
    a, b = RNG.standard_normal(2), RNG.standard_normal((3, 2))
    J = jac(_tree_fun)({"a": a, "b": b})
    # J mirrors the output's structure; each leaf holds the input's structure
    outs = {"0": lambda a, b: _tree_fun_np(a, b)[0], "m": lambda a, b: _tree_fun_np(a, b)[1]["m"],
            "s": lambda a, b: _tree_fun_np(a, b)[1]["s"]}
    blocks = {"0": J[0], "m": J[1]["m"], "s": J[1]["s"]}
    for name, f in outs.items():
        assert set(blocks[name]) == {"a", "b"}
        close(blocks[name]["a"], fd_jac(lambda a_: f(a_, b), a), rtol=1e-6, atol=1e-8)
        close(blocks[name]["b"], fd_jac(lambda b_: f(a, b_), b), rtol=1e-6, atol=1e-8)
    other = (ft.jacfwd if jac is ft.jacrev else ft.jacrev)(_tree_fun)({"a": a, "b": b})
    for x, y in zip(ft.tree.leaves(J), ft.tree.leaves(other)):
        close(x, y, rtol=1e-12, atol=1e-14)


def _lse_objective(x):
    A = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.1], [-0.7, 0.4, 0.9], [0.5, 0.5, 0.5]])
    z = A @ x
    return fnp.log(fnp.sum(fnp.exp(z))) + fnp.sum(fnp.sin(x) * x ** 2)


def _lse_gradient_np(x):
    A = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.1], [-0.7, 0.4, 0.9], [0.5, 0.5, 0.5]])
    p = np.exp(A @ x) / np.sum(np.exp(A @ x))
    return A.T @ p + np.cos(x) * x ** 2 + 2 * x * np.sin(x)


def test_hessian_symmetric_equals_fd_of_gradient_and_hvp():
    x = np.array([0.4, -0.9, 1.3])
    H = ft.hessian(_lse_objective)(x)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-13)
    close(ft.grad(_lse_objective)(x), _lse_gradient_np(x), rtol=1e-12)
    close(H, fd_jac(_lse_gradient_np, x), rtol=1e-6, atol=1e-8)
    for v in (np.array([1.0, 0.0, 0.0]), np.array([0.3, -2.0, 0.7])):
        hv = ft.hvp(_lse_objective, (x,), (v,))
        close(hv, H @ v, rtol=1e-12, atol=1e-14)
        eps = 1e-6
        close(hv, (_lse_gradient_np(x + eps * v) - _lse_gradient_np(x - eps * v)) / (2 * eps),
              rtol=1e-6, atol=1e-8)


# Jacobian bases are kept symbolic (batching.ScaledTracer), and so are chains of scalings of
# large batched values: each must give what the per-example (looped) computation gives.

def _one_hot_jvps(f, x):
    """Columns of the Jacobian, one jvp per one-hot tangent (the loop jacfwd replaces)."""
    cols = [ft.jvp(f, (x,), (np.eye(x.size)[i].reshape(x.shape),))[1] for i in range(x.size)]
    return np.stack(cols, axis=-1)


def _one_hot_vjps(f, x):
    """Rows of the Jacobian, one pullback per one-hot cotangent (the loop jacrev replaces)."""
    out, pullback = ft.vjp(f, x)
    return np.stack([pullback(np.eye(out.size)[i].reshape(out.shape))[0] for i in range(out.size)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("scale", [np.array([1.0, np.inf, 2.0]), np.array([np.nan, 1.0, -1.0])])
def test_jacobian_basis_with_inf_and_nan_as_dense(scale):
    f = lambda x: fnp.tanh(x * scale)
    x = np.array([0.1, 0.2, 0.3])
    want = _one_hot_jvps(f, x)
    np.testing.assert_array_equal(ft.jacfwd(f)(x), want)
    W = np.array([[1.0, 2.0, 3.0], [np.inf, 0.0, 1.0]])
    g = lambda x: W @ (x * 2.0)
    np.testing.assert_array_equal(ft.jacfwd(g)(x), _one_hot_jvps(g, x))
    np.testing.assert_array_equal(ft.jacrev(g)(x), _one_hot_vjps(g, x))
    np.testing.assert_array_equal(ft.jacrev(f)(x), _one_hot_vjps(f, x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pending_scalings_of_large_values_match_loop(dtype):
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((6, 40, 30)).astype(dtype)
    xs[0, 0, 0] = np.inf                       # masked away below: must stay 0, not NaN
    xs[1, 2, 3] = np.nan
    c = rng.standard_normal((40, 30)) > 0
    c[0, 0] = c[2, 3] = False
    y = rng.standard_normal((40, 30)).astype(dtype)

    def f(t):
        u = fnp.where(c, t * y, 0.0) * y
        v = -(u * y) + fnp.where(c, u, u * y)
        return fnp.sum(v * 2.0, axis=1), u - v

    got = ft.vmap(f)(xs)
    want = [np.stack(w) for w in zip(*[f(x) for x in xs])]
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=2e-5 if dtype == np.float32 else 1e-13, atol=1e-5)
    # nested: an outer vmap's pending scaling is a plain value to the inner one
    got2 = ft.vmap(ft.vmap(lambda r: r * y[0] * 3.0))(xs)
    np.testing.assert_allclose(got2, xs * y[0] * 3.0, rtol=1e-6)


@pytest.mark.parametrize("min_rows", [1, 64])
@pytest.mark.parametrize("block", [7, 64, 1 << 14])
def test_scaled_matmul_blocks_match_the_whole_product(monkeypatch, block, min_rows):
    """The cache-blocked ``(x * s) @ w`` equals the product made whole, inf and NaN included
    (up to the rounding of BLAS kernels, which depends on the shapes), whichever leading axis
    the blocks split."""
    monkeypatch.setattr(primitives, "_BLOCK", block)
    monkeypatch.setattr(primitives, "_MIN_ROWS", min_rows)
    rng = np.random.default_rng(7)
    w = rng.standard_normal((9, 5))
    w[3, 1] = np.inf
    for x_shape, s_shape in [((6, 50, 9), (50, 9)), ((6, 1, 9), (40, 9)), ((3, 2, 40, 9), (9,))]:
        x = rng.standard_normal(x_shape)
        s = rng.standard_normal(s_shape)
        x.flat[5] = np.nan
        with np.errstate(invalid="ignore"):
            want = np.multiply(x, s) @ w
            got = primitives.scaled_matmul_p.impl(x, s, w)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_batch_jacobian_of_elu_mlp_matches_per_example_loop(mode):
    """Large enough that the elu derivatives stay pending scalings and meet the second layer."""
    rng = np.random.default_rng(8)
    w1, w2 = rng.standard_normal((12, 40)), rng.standard_normal((40, 10))
    b1, b2 = rng.standard_normal(40), rng.standard_normal(10)

    def elu(z):
        return fnp.where(z > 0, z, fnp.expm1(fnp.minimum(z, 0.0)))

    def mlp(x):
        return elu(elu(x @ w1 + b1) @ w2 + b2)

    xs = rng.standard_normal((30, 12))
    want = np.stack([ft.jacfwd(mlp)(x) for x in xs])
    eps = 1e-6
    fd = np.stack([np.stack([(mlp(x + eps * e) - mlp(x - eps * e)) / (2 * eps) for e in np.eye(12)], -1)
                   for x in xs[:3]])
    close(want[:3], fd, rtol=1e-6, atol=1e-7)
    close(ft.batch_jacobian(mlp, mode=mode)(xs), want, rtol=1e-12, atol=1e-13)
    close(ft.vmap(ft.jacfwd(mlp))(xs), want, rtol=1e-12, atol=1e-13)


def test_jacobian_of_identity_and_of_basis_outputs():
    x = np.arange(4.0)
    close(ft.jacrev(lambda x: x)(x), np.eye(4))
    close(ft.jacfwd(lambda x: 2.0 * x)(x), 2 * np.eye(4))
    close(ft.jacfwd(lambda x: fnp.sum(x * x))(x), 2 * x)
    close(ft.jacrev(lambda x: fnp.sum(x * x))(x), 2 * x)
    close(ft.batch_jacobian(lambda x: x * 3.0)(np.ones((2, 3))), np.broadcast_to(3 * np.eye(3), (2, 3, 3)))
    # a basis under an outer transform (its diagonal traced by grad)
    g = ft.grad(lambda s: fnp.sum(ft.jacfwd(lambda x: fnp.sin(x * s))(x)))(0.5)
    close(g, np.sum(np.cos(0.5 * x) - 0.5 * x * np.sin(0.5 * x)), rtol=1e-12)


def test_batch_jacobian_auto_mode_memory_never_misreports():
    k = [2]
    f = lambda x: fnp.sin(x[:, :k[0]]) * 2.0
    x = RNG.standard_normal((3, 4))
    bj = ft.batch_jacobian(f)
    close(bj(x)[0], np.eye(4)[:2] * 2 * np.cos(x[0])[None])      # 2 < 4 outputs: reverse
    k[0] = 4                                                        # now 4 outputs: stale memory
    jb = bj(x)
    assert jb.shape == (3, 4, 4)
    for b in range(3):
        close(jb[b], np.diag(2 * np.cos(x[b])))
    close(bj(x[:2])[1], np.diag(2 * np.cos(x[1])))                  # another shape


def test_batch_jacobian_bad_output():
    with pytest.raises(ValueError, match=r"batch size 3 first, got shape \(4,\)"):
        ft.batch_jacobian(lambda x: fnp.ones(4) * fnp.sum(x))(np.ones((3, 2)))
    for mode in ("auto", "rev", "fwd"):
        with pytest.raises(ValueError, match="batch size 3 first, got a tuple"):
            ft.batch_jacobian(lambda x: (x, x), mode=mode)(np.ones((3, 2)))


# ---------------------------------------------------------------------------------------
# Returned derivatives are the caller's own arrays: writable, sharing no memory (as autograd's)

def assert_own(*results, given=()):
    """Every array leaf of ``results`` is writable and shares memory with no other leaf nor
    with the ``given`` arrays (the caller's cotangents or tangents)."""
    leaves = ft.tree.leaves(results)
    assert leaves and all(type(a) is np.ndarray for a in leaves)
    for k, a in enumerate(leaves):
        assert a.flags.writeable, k
        for b in leaves[k + 1:] + list(given):
            assert not np.shares_memory(a, b), k


def test_grad_of_sum_is_writable():
    g = ft.grad(lambda x: fnp.sum(x))(np.ones(3))
    assert_own(g)
    g *= 0.1
    g[0] = 0.0
    close(g, [0.0, 0.1, 0.1])


def test_grad_argnums_tuple_results_are_independent():
    ga, gb = ft.grad(lambda a, b: fnp.sum(a + b), (0, 1))(np.ones(3), np.ones(3))
    assert_own(ga, gb)
    ga[0] = 5.0
    close(ga, [5.0, 1.0, 1.0])
    close(gb, np.ones(3))
    # one cotangent object for both operands of a product's sum (no broadcast)
    x = np.array([1.0, 2.0, 3.0])
    _, (ga, gb) = ft.value_and_grad(lambda a, b: fnp.sum((a + b) ** 2), (0, 1))(x, x)
    assert_own(ga, gb)
    gb -= 1.0
    close(ga, 4 * x)
    close(gb, 4 * x - 1.0)
    g = ft.grad(lambda p: fnp.sum(p["u"]) + fnp.sum(p["v"]))({"u": np.ones(2), "v": np.ones(2)})
    assert_own(g)


def test_pullback_results_are_independent_of_each_other_and_of_the_cotangent():
    x = np.array([0.5, -1.0])
    _, pullback = ft.value_and_pullback(lambda a, b: a + b, x, 2 * x)
    ct = np.array([1.0, 2.0])
    ga, gb = pullback(ct)
    assert_own(ga, gb, given=[ct])
    ga += 1.0
    close(gb, [1.0, 2.0])
    close(ct, [1.0, 2.0])
    assert_own(pullback(ct), ga, gb)        # a second call shares nothing with the first
    (g,) = ft.value_and_pullback(lambda a: fnp.sum(a), x)[1](1.0)
    assert_own(g)
    close(g, np.ones(2))


def test_custom_vjp_rule_returning_one_cotangent_twice():
    @ft.custom_vjp
    def add(a, b):
        return a + b
    add.defvjp(lambda a, b: (a + b, None), lambda res, g: (g, g))
    ga, gb = ft.grad(lambda a, b: fnp.sum(add(a, b)), (0, 1))(np.ones(2), np.ones(2))
    assert_own(ga, gb)
    ct = np.array([3.0, 4.0])
    ga, gb = ft.value_and_pullback(add, np.ones(2), np.ones(2))[1](ct)
    assert_own(ga, gb, given=[ct])
    ga[:] = 0.0
    close(gb, [3.0, 4.0])


@pytest.mark.parametrize("jac", [ft.jacrev, ft.jacfwd, ft.jacobian])
def test_jacobians_are_writable_and_independent(jac):
    x = np.array([1.0, 2.0, 3.0])
    ja, jb = jac(lambda a, b: fnp.sum(a + b), (0, 1))(x, x)
    assert_own(ja, jb)
    ja[0] = 7.0
    close(jb, np.ones(3))
    j1, j2 = jac(lambda a: (a, 2.0 * fnp.sum(a)))(x)
    assert_own(j1, j2)
    j1 *= 3.0
    close(j1, 3 * np.eye(3))
    close(j2, [2.0, 2.0, 2.0])
    j1, j2 = jac(lambda a: (a, a))(x)
    assert_own(j1, j2)
    j1[0, 0] = 0.0
    close(j2, np.eye(3))
    assert_own(jac(lambda a: fnp.sum(a))(x))


def test_hessian_hvp_batch_jacobian_are_writable():
    x = np.array([1.0, 2.0])
    h = ft.hessian(lambda a: fnp.sum(a))(x)          # zeros from a linear function
    assert_own(h)
    h += 1.0
    close(h, np.ones((2, 2)))
    t = np.array([1.0, 0.0])
    assert_own(ft.hvp(lambda a: fnp.sum(a ** 3), (x,), (t,)), given=[t])
    for mode in ("rev", "fwd"):
        bj = ft.batch_jacobian(lambda a: fnp.sum(a, axis=1, keepdims=True), mode=mode)(np.ones((2, 3)))
        assert_own(bj)
        bj[0] = 0.0
        close(bj[1], np.ones((1, 3)))


def test_jvp_and_linearize_tangents_are_independent_of_each_other_and_of_the_tangent():
    x, t = np.array([1.0, 2.0]), np.array([0.5, 0.25])
    _, (t1, t2) = ft.jvp(lambda a: (a, a), (x,), (t,))
    assert_own(t1, t2, given=[t])
    t1[0] = 9.0
    close(t2, t)
    close(t, [0.5, 0.25])
    _, f_jvp = ft.linearize(lambda a: (a, a + np.ones((3, 2))), x)   # a broadcast tangent
    t1, t2 = f_jvp(t)
    assert_own(t1, t2, given=[t])
    t2 += 1.0
    close(t1, t)
    close(t2, np.broadcast_to(t + 1.0, (3, 2)))


def test_derivatives_from_user_rules_do_not_alias_the_callers_arrays():
    """A custom rule or hook may return an array someone holds (a closed-over constant, a
    residual that is the caller's input): the user's gradient is its own copy, so updating
    it in place leaves that array alone."""
    W = np.array([1.0, 2.0])
    X = np.array([3.0, 4.0])

    @ft.custom_vjp
    def closed_over(x):
        return x * 1.0
    closed_over.defvjp(lambda x: (x * 1.0, None), lambda res, g: (W,))

    @ft.custom_vjp
    def residual(x):
        return x * 1.0
    residual.defvjp(lambda x: (x * 1.0, x), lambda res, g: (res,))   # res is X itself

    @ft.custom_vjp
    def one_function(x):
        return x * 1.0

    @one_function.defvjp
    def one_function_vjp(x):
        return x * 1.0, lambda g: (W,)

    @ft.custom_jvp
    def tangent_rule(x):
        return x * 1.0
    tangent_rule.defjvp(lambda p, t: (p[0] * 1.0, W))

    def hooked(x):
        return ft.with_gradient(x, lambda g: W)

    results = [ft.grad(lambda x: fnp.sum(f(x)))(X) for f in (closed_over, residual, one_function, hooked)]
    results.append(ft.vjp(closed_over, X)[1](np.ones(2))[0])
    results.append(ft.jacrev(lambda x: fnp.sum(closed_over(x)))(X))
    results.append(ft.jvp(tangent_rule, (X,), (np.ones(2),))[1])
    results.append(ft.linearize(tangent_rule, X)[1](np.ones(2)))
    for r in results:
        assert_own(r, given=[W, X])
        r += 100.0
    close(W, [1.0, 2.0])
    close(X, [3.0, 4.0])
    # values are unchanged: the rules are used
    close(results[0], W + 100.0)
    close(results[1], X + 100.0)
    # a rule's array that does not reach the user unchanged is not copied for nothing, and
    # the cotangent a hook sees is still its own writable array
    seen = []

    def hook(g):
        seen.append(g.flags.writeable)
        g *= 2.0
    close(ft.grad(lambda x: fnp.sum(ft.with_gradient(closed_over(x), hook) * 3.0))(X), W)
    close(ft.grad(lambda x: fnp.sum(closed_over(ft.with_gradient(x, hook))))(X), 2 * W)
    assert seen == [True, True]
    close(W, [1.0, 2.0])


def test_owned_copies_only_read_only_and_shared_arrays():
    from functrans.api import _owned
    a, b = np.ones(3), np.ones(2)
    flat = [a, b]
    assert _owned(flat)[0] is a and flat[1] is b               # fresh and distinct: kept
    flat = [a, a.reshape(3, 1), b[:1], np.broadcast_to(b, (4, 2)), a]
    _owned(flat)
    assert flat[0] is a and flat[2].base is b                 # a view of nothing returned: kept
    assert all(f is not a for f in flat[1:])
    assert_own(flat)
    halves = np.arange(4.0)
    flat = [halves[:2], halves[2:]]                            # disjoint views of one buffer
    _owned(flat)
    assert flat[0].base is halves and flat[1].base is halves
    flat = [a]
    assert _owned(flat, given=[a])[0] is not a

    def inner(s):                                             # nested transforms: left alone
        flat = [s, s]
        _owned(flat)
        assert flat[0] is s and flat[1] is s
        return s * 2.0
    close(ft.grad(inner)(1.0), 2.0)


# ---------------------------------------------------------------------------------------
# stop_gradient

def test_stop_gradient_grad():
    close(ft.grad(lambda x: x * ft.stop_gradient(x))(3.0), 3.0)
    close(ft.grad(lambda x: fnp.sum(fnp.sin(ft.stop_gradient(x)) * x))(X3), np.sin(X3))


def test_stop_gradient_value_unchanged():
    close(ft.stop_gradient(X3), X3)
    out = ft.stop_gradient({"a": X3, "b": (1.0, 2.0)})
    close(out["a"], X3)
    assert out["b"] == (1.0, 2.0) or np.allclose(out["b"], (1.0, 2.0))


def test_stop_gradient_pytree_in_grad():
    def f(x):
        s = ft.stop_gradient({"a": x, "b": [x * 2]})
        return fnp.sum(s["a"] * s["b"][0] + x)
    close(ft.grad(f)(X3), np.ones(3))


def test_stop_gradient_jvp_and_vmap():
    _, t = ft.jvp(lambda x: ft.stop_gradient(x) * x, (2.0,), (1.0,))
    close(t, 2.0)
    close(ft.vmap(lambda x: ft.stop_gradient(x) * 2.0)(X3), 2 * X3)
    g = ft.vmap(ft.grad(lambda x: ft.stop_gradient(x ** 2) * x))(X3)
    close(g, X3 ** 2)


def test_stop_gradient_second_order():
    # f(x) = x^2 * sg(x): f' = 2x*x0 ; f'' = 2 x0 (x0 fixed during differentiation)
    close(ft.grad(ft.grad(lambda x: x ** 2 * ft.stop_gradient(x)))(3.0), 6.0)


# ---------------------------------------------------------------------------------------
# with_gradient

def test_with_gradient_observe():
    seen = []

    def hook(g):
        seen.append(np.array(g, copy=True))
        return None

    f = lambda x: fnp.sum(fnp.sin(ft.with_gradient(x * 2.0, hook)))
    g = ft.grad(f)(X3)
    close(g, 2 * np.cos(2 * X3))
    assert len(seen) == 1
    close(seen[0], np.cos(2 * X3))


def test_with_gradient_replace():
    f = lambda x: fnp.sum(ft.with_gradient(x, lambda g: np.full_like(g, 0.5)) * 10.0)
    close(ft.grad(f)(X3), np.full(3, 0.5))
    # replacement flows on through the earlier computation
    f2 = lambda x: fnp.sum(ft.with_gradient(fnp.sin(x), lambda g: 2 * g))
    close(ft.grad(f2)(X3), 2 * np.cos(X3))


def test_with_gradient_hook_sees_writable_numpy_array():
    kinds = []

    def hook(g):
        kinds.append((type(g), np.shape(g), g.flags.writeable))
    ft.grad(lambda x: ft.with_gradient(x, hook) * 3.0)(2.0)
    ft.grad(lambda x: fnp.sum(ft.with_gradient(x, hook)))(X3)
    assert kinds == [(np.ndarray, (), True), (np.ndarray, (3,), True)]


def test_with_gradient_in_place_modification_scalar():
    def hook(g):
        g *= 10.0
    # the hook rewrites the cotangent at sin(x) in place; a second use of sin(x) must not
    # see the change: d/dx [hooked(sin x) + sin x] = cos(x) * (10 + 1)
    def f(x):
        y = fnp.sin(x)
        return ft.with_gradient(y, hook) + y
    for x in [0.3, 1.7]:
        close(ft.grad(f)(x), 11.0 * np.cos(x))


def test_with_gradient_in_place_does_not_corrupt_other_use():
    def hook(g):
        g[...] = 0.0          # wipe the cotangent of this use only

    def f(x):
        y = x * 3.0
        a = ft.with_gradient(y, hook)
        return fnp.sum(a * 2.0) + fnp.sum(y * 5.0) + fnp.sum(a)

    close(ft.grad(f)(X3), np.full(3, 15.0))


def test_with_gradient_in_place_shared_cotangent_object():
    # add's cotangent rule may hand the same array to both operands: a hook mutating its
    # argument must not change what flows to the other operand.
    def hook(g):
        g += 100.0
    f = lambda x: fnp.sum(ft.with_gradient(x, hook) + x)
    close(ft.grad(f)(X3), np.full(3, 102.0))
    f = lambda x: fnp.sum(x + ft.with_gradient(x, hook))
    close(ft.grad(f)(X3), np.full(3, 102.0))


def test_with_gradient_swift_style_rewrite_in_place():
    # Swift: dx = 0.5 inside the hook.
    def set_half(g):
        g[...] = 0.5
    g = ft.grad(lambda x: fnp.log(ft.with_gradient(x, set_half)))(30.0)
    close(g, 0.5)


def test_with_gradient_does_not_mutate_user_cotangent_and_repeats():
    calls = []

    def hook(g):
        calls.append(np.array(g, copy=True))
        g *= 2.0
    out, pb = ft.vjp(lambda x: ft.with_gradient(x * 1.0, hook) * 3.0, X3)
    ct = np.array([1.0, 2.0, 3.0])
    ct_copy = ct.copy()
    r1 = pb(ct)[0]
    r2 = pb(ct)[0]
    np.testing.assert_array_equal(ct, ct_copy)
    close(r1, 6.0 * ct_copy)
    close(r2, 6.0 * ct_copy)
    assert len(calls) == 2
    close(calls[0], 3 * ct_copy)
    close(calls[1], 3 * ct_copy)


def test_with_gradient_identity_in_forward_mode():
    hook = lambda g: 100.0 * g
    out, t = ft.jvp(lambda x: ft.with_gradient(fnp.sin(x), hook), (X3,), (np.ones(3),))
    close(out, np.sin(X3))
    close(t, np.cos(X3))
    close(ft.jacfwd(lambda x: ft.with_gradient(x ** 2, hook))(X3), np.diag(2 * X3))


def test_with_gradient_under_vmap_value_unchanged():
    close(ft.vmap(lambda x: ft.with_gradient(x * 2.0, lambda g: None))(X3), 2 * X3)


def test_with_gradient_pytree():
    seen = []
    f = lambda p: fnp.sum(p["a"] * p["b"])
    g = ft.grad(lambda p: f(ft.with_gradient(p, lambda c: seen.append(c) or c * 2.0)))(
        {"a": X3, "b": X3 + 1.0})
    close(g["a"], 2 * (X3 + 1.0))
    close(g["b"], 2 * X3)
    assert len(seen) == 2


def test_with_gradient_nested_differentiation():
    # hook on the input: w(x) = x whose reverse derivative is 2 (at every level, as a JAX
    # custom_vjp identity would be). f = w(x)^3: f' = 3 w^2 w' = 6x^2 and
    # f'' = d/dx [6 w(x)^2] = 12 w w' = 24x (the outer backward pass meets the hook too).
    f = lambda x: ft.with_gradient(x, lambda g: 2 * g) ** 3
    close(ft.grad(f)(1.5), 6 * 1.5 ** 2)
    close(ft.grad(ft.grad(f))(1.5), 24 * 1.5)
    # hook on the output: its cotangent is the seed; replaced by 2 => 6x^2 again.
    f2 = lambda x: ft.with_gradient(x ** 3, lambda g: 2 * g)
    close(ft.grad(ft.grad(f2))(1.5), 12 * 1.5)


def test_with_gradient_in_place_on_traced_cotangent_is_not_silently_ignored():
    # Under jacrev (a vmapped pullback) or nested differentiation the cotangent is a traced
    # value, not a NumPy array; `g *= 2` must not silently rebind the hook's local name and
    # drop the edit: it either takes effect or raises.
    def hook(g):
        g *= 2.0
    f = lambda x: ft.with_gradient(x, hook) * 3.0
    close(ft.grad(lambda x: fnp.sum(f(x)))(X3), np.full(3, 6.0))
    for run, want in [(lambda: ft.jacrev(f)(X3), 6.0 * np.eye(3)),
                      (lambda: ft.grad(ft.grad(lambda x: f(x) ** 2))(1.0), 72.0)]:
        try:
            got = run()
        except TypeError as e:
            assert "in place" in str(e)
        else:
            close(got, want)
    # returning the new cotangent works at every level: F = (3 w(x))^2 with w' = 2
    f2 = lambda x: ft.with_gradient(x, lambda g: g * 2.0) * 3.0
    close(ft.jacrev(f2)(X3), 6.0 * np.eye(3))
    close(ft.grad(ft.grad(lambda x: f2(x) ** 2))(1.0), 72.0)


def test_augmented_assignment_on_traced_values_rebinds():
    def f(x):
        y = x * 1.0
        y += 2.0
        y *= 3.0
        y -= 1.0
        y /= 2.0
        y **= 2
        return fnp.sum(y)
    want = 2 * ((X3 + 2.0) * 3.0 - 1.0) / 2.0 * 1.5
    close(ft.grad(f)(X3), want)
    close(ft.vmap(f)(X3[:, None]), ((X3 + 2.0) * 3.0 - 1.0) ** 2 / 4.0)


def test_with_gradient_rejects_non_callable():
    with pytest.raises(TypeError, match="callable"):
        ft.with_gradient(1.0, 3)


# ---------------------------------------------------------------------------------------
# check_grads

def test_check_grads_passes_on_correct_functions():
    ft.check_grads(lambda x: fnp.sin(x) * fnp.exp(x), (X3,), order=2)
    ft.check_grads(lambda x, y: fnp.sum(x * y ** 2), (X3, X3 + 1.0), order=2)
    ft.check_grads(lambda x: fnp.tanh(M23 @ x), (X3,), order=1, modes=("rev",))


def test_check_grads_pytree_arguments():
    ft.check_grads(lambda p: fnp.sum(p["a"] ** 2) * p["b"], ({"a": X3, "b": 2.0},), order=2)
    ft.check_grads(lambda p: fnp.sin(p.w) * p.b, (Params(w=X3, b=0.5),), order=1)
    wrong = lambda p: fnp.sum(ft.with_gradient(p["a"], lambda g: 2 * g) ** 2)
    with pytest.raises(AssertionError):
        ft.check_grads(wrong, ({"a": X3},), modes=("rev",))


def test_check_grads_catches_wrong_reverse_rule():
    wrong = lambda x: fnp.sin(ft.with_gradient(x, lambda g: 1.5 * g))
    with pytest.raises(AssertionError, match="mismatch"):
        ft.check_grads(wrong, (X3,), order=1, modes=("rev",))
    # forward mode ignores the hook, so it agrees with finite differences
    ft.check_grads(wrong, (X3,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError):
        ft.check_grads(wrong, (X3,), order=1)


def test_check_grads_catches_wrong_custom_vjp():
    @ft.custom_vjp
    def f(x):
        return fnp.sin(x)

    def f_fwd(x):
        return fnp.sin(x), x

    def f_bwd(x, g):
        return (g * fnp.cos(x) * 1.01,)      # 1 % too large
    f.defvjp(f_fwd, f_bwd)
    with pytest.raises(AssertionError):
        ft.check_grads(f, (X3,), order=1, modes=("rev",))


def test_check_grads_complex_arguments_are_checked_in_full():
    # JAX's check_grads: complex directions and <t, conj(pullback(conj ct))> == <J t, ct>.
    # conj(z) is a real-linear but not complex-linear derivative: a rule 2 conj(z) t for z**2
    # agrees with finite differences along real directions only.
    z = np.array([1.0 + 1.0j, 0.5 - 2.0j])
    wrong_jvp = ft.custom_jvp(lambda z: z ** 2)
    wrong_jvp.defjvp(lambda p, t: (p[0] ** 2, 2 * fnp.conj(p[0]) * t[0]))
    with pytest.raises(AssertionError, match="jvp vs finite differences"):
        ft.check_grads(wrong_jvp, (z,), modes=("fwd",))
    wrong_vjp = ft.custom_vjp(lambda z: z ** 2)
    wrong_vjp.defvjp(lambda z: (z ** 2, z), lambda z, g: (2 * fnp.conj(z) * g,))
    with pytest.raises(AssertionError, match="vjp"):
        ft.check_grads(wrong_vjp, (z,), modes=("rev",))
    # correct non-holomorphic functions pass, including the imaginary parts of their outputs
    ft.check_grads(lambda z: fnp.sin(z) * fnp.conj(z) + fnp.abs(z) * z, (z,), order=2)
    ft.check_grads(lambda z: fnp.real(z * fnp.conj(z)), (z,), order=2)


def test_check_grads_rejects_unknown_mode():
    with pytest.raises(ValueError, match="modes"):
        ft.check_grads(fnp.sin, (X3,), modes=("sideways",))
