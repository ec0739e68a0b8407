"""Custom derivatives (custom_vjp / custom_jvp), derivative surgery (with_gradient) and remat.

Numbers come from the Swift "custom differentiation" tutorial and TensorFlow's advanced
autodiff guide; everything else is checked against finite differences, closed forms or a
Python loop, and call counts prove which code ran.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

from reference import fd_grad, fd_jac


# ---------------------------------------------------------------------------------------
# Fixtures: functions with custom rules.

def make_sin_vjp(counter=None):
    """sin with a JAX-form rule written in functrans ops (residual: cos x)."""
    @ft.custom_vjp
    def f(x):
        return fnp.sin(x)

    def f_fwd(x):
        if counter is not None:
            counter["fwd"] += 1
        return fnp.sin(x), fnp.cos(x)

    def f_bwd(c, g):
        if counter is not None:
            counter["bwd"] += 1
        return (g * c,)
    f.defvjp(f_fwd, f_bwd)
    return f


def make_mul_vjp():
    """f(x, y) = sin(x) * y**2 with a two-argument rule (pytree residuals)."""
    @ft.custom_vjp
    def f(x, y):
        return fnp.sin(x) * y ** 2

    def fwd(x, y):
        return f(x, y), {"cos": fnp.cos(x), "sin": fnp.sin(x), "y": y}

    def bwd(res, g):
        return g * res["cos"] * res["y"] ** 2, g * res["sin"] * 2.0 * res["y"]
    f.defvjp(fwd, bwd)
    return f


def make_softplus_jvp(counter=None):
    @ft.custom_jvp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        if counter is not None:
            counter["jvp"] += 1
        (x,), (t,) = primals, tangents
        return softplus(x), t * (1.0 / (1.0 + fnp.exp(-x)))
    return softplus


# ---------------------------------------------------------------------------------------
# The Swift tutorial.

def test_swift_silly_exp_one_function_form():
    calls = []

    @ft.custom_vjp
    def silly_exp(x):
        calls.append(float(x))
        return fnp.power(np.float32(math.e), x)

    @silly_exp.defvjp
    def silly_derivative(x):
        y = silly_exp(x)
        return y, lambda v: (v * y,)

    x = np.float32(3.0)
    assert silly_exp(x) == pytest.approx(20.085535, rel=1e-6)
    calls.clear()
    g = ft.grad(silly_exp)(x)
    assert g == pytest.approx(20.085535, rel=1e-6)
    assert g.dtype == np.float32
    assert calls == [3.0]          # "Taking e to the power of 3.0!" printed once, as in Swift


def test_wrong_derivative_shows_proof_rule_is_used():
    @ft.custom_vjp
    def silly_exp(x):
        return fnp.exp(x)

    @silly_exp.defvjp
    def silly_derivative(x):
        y = fnp.exp(x)
        return y, lambda v: (3.0 * v * y,)   # deliberately 3x too big

    assert float(ft.grad(silly_exp)(1.0)) == pytest.approx(3 * math.e)
    assert float(ft.value_and_pullback(silly_exp, 1.0)[1](2.0)[0]) == pytest.approx(6 * math.e)
    # ... and the same wrong factor in forward mode, which transposes the pullback.
    assert float(ft.jvp(silly_exp, (1.0,), (1.0,))[1]) == pytest.approx(3 * math.e)
    assert float(ft.jacfwd(silly_exp)(1.0)) == pytest.approx(3 * math.e)


def test_swift_stop_gradient():
    def f(x, y):
        return fnp.sin(fnp.sin(fnp.sin(x))) + ft.stop_gradient(fnp.cos(fnp.cos(fnp.cos(y))))
    gx, gy = ft.grad(f, argnums=(0, 1))(np.float32(2.0), np.float32(3.0))
    assert float(gx) == pytest.approx(-0.18009877, abs=1e-7)
    assert float(gy) == 0.0


def test_swift_derivative_surgery():
    seen = []

    def f(x):
        a = ft.with_gradient(fnp.sin(x), lambda g: seen.append(("sin", float(g))))

        def rewrite(dx):
            seen.append(("log", float(dx)))
            dx[...] = 0.5                   # in place, as Swift's `inout`
        b = fnp.log(ft.with_gradient(x, rewrite))
        return a + b

    g = ft.grad(f)(np.float32(30.0))
    assert float(g) == pytest.approx(0.65425146, abs=1e-7)
    assert seen[0][0] == "log" and seen[0][1] == pytest.approx(1 / 30, rel=1e-6)
    assert seen[1] == ("sin", 1.0)


def test_swift_checkpointed_square():
    count = [0]

    def square_fn(x):
        count[0] += 1
        return x * x
    square = ft.remat(square_fn)
    out, backprop = ft.value_and_pullback(lambda x: square(fnp.cos(x)), np.float32(10.0))
    assert count[0] == 1                               # "Running original computation..."
    (g,) = backprop(np.float32(1.0))
    assert count[0] == 2                               # "Running backpropagation..." recomputes
    assert float(g) == pytest.approx(-0.9129453, abs=1e-6)
    assert float(out) == pytest.approx(math.cos(10.0) ** 2, rel=1e-6)


def test_swift_checkpoint_via_custom_vjp_one_function_form():
    """Swift's makeRecomputedInGradient, built from the one-function form and a pullback."""
    count = [0]

    def original(x):
        count[0] += 1
        return x * x

    def make_recomputed(fn):
        @ft.custom_vjp
        def wrapped(x):
            return fn(x)

        @wrapped.defvjp
        def wrapped_vjp(x):
            return fn(x), lambda v: ft.value_and_pullback(fn, x)[1](v)
        return wrapped

    square = make_recomputed(original)
    out, backprop = ft.value_and_pullback(lambda x: square(fnp.cos(x)), 10.0)
    assert count[0] == 1
    assert float(backprop(1.0)[0]) == pytest.approx(-0.9129453, abs=1e-6)
    assert count[0] == 2


# ---------------------------------------------------------------------------------------
# TensorFlow's clip_gradients.

def test_tf_clip_gradients():
    @ft.custom_vjp
    def clip_gradients(y):
        return y

    def fwd(y):
        return y, None

    def bwd(_, dy):
        norm = fnp.sqrt(fnp.sum(dy * dy))
        return (dy * fnp.minimum(1.0, 0.5 / norm),)          # tf.clip_by_norm(dy, 0.5)
    clip_gradients.defvjp(fwd, bwd)
    v = np.float32(2.0)
    g = ft.grad(lambda v: clip_gradients(v * v))(v)
    assert float(g) == pytest.approx(2.0)
    assert g.dtype == np.float32


# ---------------------------------------------------------------------------------------
# custom_vjp under every transform.

def test_custom_vjp_values_and_rule_counts():
    counter = {"fwd": 0, "bwd": 0}
    f = make_sin_vjp(counter)
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(f(x), np.sin(x))
    assert counter == {"fwd": 0, "bwd": 0}                   # plain call: no rule
    g = ft.grad(lambda x: fnp.sum(f(x)))(x)
    np.testing.assert_allclose(g, np.cos(x))
    assert counter == {"fwd": 1, "bwd": 1}                   # no forward recomputation


def test_custom_vjp_two_args_pytree_residuals_vs_fd():
    f = make_mul_vjp()
    x, y = 0.7, -1.3
    gx, gy = ft.grad(f, argnums=(0, 1))(x, y)
    assert float(gx) == pytest.approx(math.cos(x) * y ** 2)
    assert float(gy) == pytest.approx(math.sin(x) * 2 * y)
    ft.check_grads(f, (x, y), order=2)


def test_custom_vjp_pytree_args_and_outputs():
    @ft.custom_vjp
    def f(params, x):
        return {"out": params["w"] * x, "sq": params["b"] ** 2}

    def fwd(params, x):
        return f(params, x), (params, x)

    def bwd(res, g):
        params, x = res
        return ({"w": fnp.sum(g["out"] * x), "b": 2.0 * params["b"] * g["sq"]}, g["out"] * params["w"])
    f.defvjp(fwd, bwd)

    def loss(params, x):
        o = f(params, x)
        return fnp.sum(o["out"] ** 2) + o["sq"]
    params, x = {"w": 1.5, "b": -0.5}, np.array([1.0, 2.0])
    gp, gx = ft.grad(loss, argnums=(0, 1))(params, x)
    np.testing.assert_allclose(gp["w"], np.sum(2 * params["w"] * x * x))
    np.testing.assert_allclose(gp["b"], 2 * params["b"])
    np.testing.assert_allclose(gx, 2 * params["w"] ** 2 * x)


def test_custom_vjp_nondiff_argnums():
    @ft.custom_vjp(nondiff_argnums=(1,))
    def scaled_clip(x, bound):
        return x

    def fwd(x, bound):
        return x, None

    def bwd(bound, _, g):
        return (fnp.clip(g, -bound, bound),)
    scaled_clip.defvjp(fwd, bwd)
    g = ft.grad(lambda x: fnp.sum(5.0 * scaled_clip(x, 2.0)))(np.array([1.0, 3.0]))
    np.testing.assert_allclose(g, [2.0, 2.0])
    # a function as a non-differentiable argument
    @ft.custom_vjp(nondiff_argnums=(0,))
    def app(fn, x):
        return fn(x)
    app.defvjp(lambda fn, x: (fn(x), x), lambda fn, x, g: (g * 10.0,))
    assert float(ft.grad(lambda x: app(fnp.sin, x))(1.0)) == pytest.approx(10.0)


def test_custom_vjp_nondiff_tracer_under_vmap():
    @ft.custom_vjp(nondiff_argnums=(1,))
    def f(x, s):
        return x * s

    f.defvjp(lambda x, s: (x * s, None), lambda s, _, g: (g * s,))
    s = np.array([1.0, 2.0, 3.0])
    out = ft.vmap(ft.grad(f), in_axes=(None, 0))(4.0, s)
    np.testing.assert_allclose(out, s)


def test_custom_vjp_jacfwd_and_hessian_equal_fd():
    f = make_mul_vjp()

    def scalar(v):
        return f(v[0], v[1]) + fnp.sum(make_sin_vjp()(v) ** 2)
    v = np.array([0.4, 1.1])
    np.testing.assert_allclose(ft.jacfwd(scalar)(v), fd_grad(scalar, v), rtol=1e-6, atol=1e-8)
    H = ft.hessian(scalar)(v)
    np.testing.assert_allclose(H, fd_jac(ft.grad(scalar), v), rtol=1e-5, atol=1e-7)
    # closed form for the sin part: d2/dx2 sin^2 = 2 cos 2x
    g = make_sin_vjp()
    H2 = ft.hessian(lambda x: fnp.sum(g(x) ** 2))(v)
    np.testing.assert_allclose(H2, np.diag(2 * np.cos(2 * v)), atol=1e-12)
    np.testing.assert_allclose(ft.jacfwd(g)(v), np.diag(np.cos(v)), atol=1e-12)


def test_custom_vjp_jvp_and_hvp():
    f = make_sin_vjp()
    x, t = np.array([0.2, 0.9]), np.array([1.0, -2.0])
    out, tout = ft.jvp(f, (x,), (t,))
    np.testing.assert_allclose(out, np.sin(x))
    np.testing.assert_allclose(tout, np.cos(x) * t)
    np.testing.assert_allclose(ft.hvp(lambda x: fnp.sum(f(x)), (x,), (t,)), -np.sin(x) * t)


def test_custom_vjp_nested_grad_goes_through_bwd():
    counter = {"fwd": 0, "bwd": 0}
    f = make_sin_vjp(counter)
    assert float(ft.grad(ft.grad(f))(0.5)) == pytest.approx(-math.sin(0.5))
    assert counter["bwd"] >= 1
    assert float(ft.grad(ft.grad(ft.grad(f)))(0.5)) == pytest.approx(-math.cos(0.5))
    # a wrong bwd shows in the second derivative too: bwd = 3 g cos x -> -3 sin x
    @ft.custom_vjp
    def h(x):
        return fnp.sin(x)
    h.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda c, g: (3.0 * g * c,))
    assert float(ft.grad(ft.grad(h))(0.5)) == pytest.approx(-3 * math.sin(0.5))
    ft.check_grads(make_mul_vjp(), (0.3, 0.8), order=3, modes=("rev",))


def test_custom_vjp_vmap_vs_loop():
    f = make_mul_vjp()
    xs, ys = np.linspace(-1, 1, 4), np.linspace(0.5, 2, 4)
    np.testing.assert_allclose(ft.vmap(f)(xs, ys), [f(x, y) for x, y in zip(xs, ys)])
    gx, gy = ft.vmap(ft.grad(f, argnums=(0, 1)))(xs, ys)
    loop = [ft.grad(f, argnums=(0, 1))(x, y) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(gx, [a for a, _ in loop])
    np.testing.assert_allclose(gy, [b for _, b in loop])
    # unbatched argument; outer grad of a vmap still uses the rule (summing over the batch)
    gx, gy = ft.vmap(ft.grad(f, argnums=(0, 1)), in_axes=(0, None))(xs, 1.5)
    np.testing.assert_allclose(gy, [ft.grad(f, 1)(x, 1.5) for x in xs])
    gy_total = ft.grad(lambda y: fnp.sum(ft.vmap(f, in_axes=(0, None))(xs, y)), 0)(1.5)
    assert float(gy_total) == pytest.approx(float(np.sum(np.sin(xs) * 2 * 1.5)))
    # the rule is used under grad(vmap): a wrong rule shows
    @ft.custom_vjp
    def w(x):
        return fnp.sin(x)
    w.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda c, g: (2.0 * g * c,))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(ft.vmap(w)(x)))(xs), 2 * np.cos(xs))
    np.testing.assert_allclose(ft.vmap(ft.grad(w))(xs), 2 * np.cos(xs))
    # batch axis not first, and vmap of vmap
    m = np.arange(6.0).reshape(2, 3) / 6
    np.testing.assert_allclose(ft.vmap(ft.vmap(ft.grad(w)), in_axes=1)(m), 2 * np.cos(m).T)
    np.testing.assert_allclose(ft.vmap(ft.vmap(ft.grad(w)))(m), 2 * np.cos(m))
    np.testing.assert_allclose(ft.jacrev(ft.vmap(w))(xs), np.diag(2 * np.cos(xs)))
    np.testing.assert_allclose(ft.jacfwd(ft.vmap(w))(xs), np.diag(2 * np.cos(xs)))


def test_custom_vjp_closure_over_batched_value():
    f = make_sin_vjp()
    ws = np.array([1.0, 2.0, 3.0])

    def per_w(w):
        @ft.custom_vjp
        def scale(x):
            return x * w
        scale.defvjp(lambda x: (x * w, None), lambda _, g: (g * w,))
        return ft.grad(lambda x: scale(f(x)))(0.5)
    np.testing.assert_allclose(ft.vmap(per_w)(ws), ws * math.cos(0.5))


def test_custom_vjp_closure_over_differentiated_value_is_an_error():
    def loss(w):
        @ft.custom_vjp
        def scale(x):
            return x * w
        scale.defvjp(lambda x: (x * w, None), lambda _, g: (g * w,))
        return scale(2.0)
    with pytest.raises(TypeError, match="closes over"):
        ft.grad(loss)(3.0)


def test_custom_vjp_integer_cotangent_dtype_cast_and_float32():
    f = make_sin_vjp()
    x = np.array([0.1, 0.2], dtype=np.float32)
    g = ft.grad(lambda x: fnp.sum(f(x)))(x)
    assert g.dtype == np.float32


# ---------------------------------------------------------------------------------------
# custom_jvp under every transform.

def test_custom_jvp_forward_reverse_and_counts():
    counter = {"jvp": 0}
    sp = make_softplus_jvp(counter)
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(sp(x), np.log1p(np.exp(x)))
    assert counter["jvp"] == 0
    out, t = ft.jvp(sp, (x,), (np.ones(3),))
    np.testing.assert_allclose(t, 1 / (1 + np.exp(-x)))
    assert counter["jvp"] == 1
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(sp(x)))(x), 1 / (1 + np.exp(-x)))
    ft.check_grads(lambda x: fnp.sum(sp(x)), (x,), order=2)


def test_custom_jvp_rule_is_used_and_stable():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 7.0 * t            # deliberately wrong
    assert float(ft.grad(f)(0.3)) == pytest.approx(7.0)
    assert float(ft.jvp(f, (0.3,), (2.0,))[1]) == pytest.approx(14.0)
    # the classic: log1pexp is stable at 1000 only through its rule
    @ft.custom_jvp
    def log1pexp(x):
        return fnp.log(1.0 + fnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + fnp.exp(x)))
    with np.errstate(over="ignore"):
        assert float(ft.grad(log1pexp)(1000.0)) == 1.0


def test_custom_jvp_nested_and_hessian():
    sp = make_softplus_jvp()
    x = np.array([-1.0, 0.5])
    sig = 1 / (1 + np.exp(-x))
    H = ft.hessian(lambda x: fnp.sum(sp(x)))(x)
    np.testing.assert_allclose(H, np.diag(sig * (1 - sig)))
    assert float(ft.grad(ft.grad(sp))(0.5)) == pytest.approx(float(sig[1] * (1 - sig[1])))
    d3 = ft.grad(ft.grad(ft.grad(sp)))(0.5)
    assert float(d3) == pytest.approx(fd_grad(lambda z: ft.grad(ft.grad(sp))(float(z)), 0.5)[()], rel=1e-5)


def make_defjvps(scale=1.0):
    """f(x, y) = sin(x) * y with per-argument rules (JAX's defjvps); ``scale`` marks the x rule."""
    @ft.custom_jvp
    def f(x, y):
        return fnp.sin(x) * y
    f.defjvps(lambda tx, ans, x, y: scale * fnp.cos(x) * y * tx,
              lambda ty, ans, x, y: ans / y * ty)
    return f


def test_custom_jvp_defjvps_closed_forms_and_nesting():
    f = make_defjvps()
    x, y = np.array([0.3, -1.1]), 2.5
    out, t = ft.jvp(f, (x, y), (np.ones(2), 1.0))
    np.testing.assert_allclose(out, np.sin(x) * y)
    np.testing.assert_allclose(t, np.cos(x) * y + np.sin(x))
    np.testing.assert_allclose(ft.jacrev(f)(x, y), np.diag(np.cos(x) * y))
    np.testing.assert_allclose(ft.jacfwd(f, argnums=1)(x, y), np.sin(x))
    H = ft.hessian(lambda x: fnp.sum(f(x, y)))(x)
    np.testing.assert_allclose(H, np.diag(-np.sin(x) * y))
    np.testing.assert_allclose(ft.vmap(ft.grad(f), in_axes=(0, None))(x, y),
                               [float(ft.grad(f)(xi, y)) for xi in x])
    np.testing.assert_allclose(ft.grad(f)(0.3, y), fd_grad(lambda z: np.sin(z) * y, 0.3), rtol=1e-6)
    assert float(ft.grad(make_defjvps(scale=3.0))(0.0, 1.0)) == pytest.approx(3.0)  # the rule runs


def test_custom_jvp_defjvps_none_and_pytrees():
    @ft.custom_jvp
    def f(p, n):
        return {"s": p["a"] * p["b"], "n": p["a"] * n}
    f.defjvps(lambda tp, ans, p, n: {"s": tp["a"] * p["b"] + p["a"] * tp["b"], "n": tp["a"] * n},
              None)
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    g = ft.grad(lambda p: fnp.sum(f(p, 5.0)["s"] + f(p, 5.0)["n"]))(p)
    np.testing.assert_allclose(g["a"], p["b"] + 5.0)
    np.testing.assert_allclose(g["b"], p["a"])
    assert float(ft.grad(lambda n: fnp.sum(f(p, n)["n"]))(5.0)) == 0.0   # None: no derivative


def test_custom_jvp_defjvps_errors():
    @ft.custom_jvp
    def f(x, y):
        return x * y
    f.defjvps(lambda tx, ans, x, y: tx * y)
    with pytest.raises(TypeError, match=r"f'.defjvps has 1 rule but the function was called with 2"):
        ft.grad(f)(1.0, 2.0)

    @ft.custom_jvp
    def g(x):
        return x * 2.0
    g.defjvps(lambda tx, ans, x: fnp.stack([tx, tx]))
    with pytest.raises(ValueError, match=r"defjvps rule 0 .* of '.*g' returned a tangent .* of shape "
                                         r"\(2,\); expected shape \(\)"):
        ft.grad(g)(1.0)
    with pytest.raises(TypeError, match="expects callables or None, got int for argument 0"):
        ft.custom_jvp(lambda x: x).defjvps(3)
    with pytest.raises(TypeError, match="defjvps cannot be used with nondiff_argnums"):
        ft.custom_jvp(lambda x, n: x, nondiff_argnums=(1,)).defjvps(lambda t, a, x, n: t)
    with pytest.raises(ValueError, match="already has a jvp rule"):
        make_defjvps().defjvps(None, None)


def test_custom_jvp_vmap_vs_loop():
    sp = make_softplus_jvp()

    @ft.custom_jvp
    def f(x, y):
        return x * y

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return x * y, 2.0 * (tx * y + x * ty)      # doubled: proves the rule runs
    xs, ys = np.linspace(-1, 1, 5), np.linspace(1, 2, 5)
    np.testing.assert_allclose(ft.vmap(sp)(xs), [sp(x) for x in xs])
    np.testing.assert_allclose(ft.vmap(ft.grad(sp))(xs), [ft.grad(sp)(x) for x in xs])
    gx = ft.vmap(ft.grad(f), in_axes=(0, None))(xs, 3.0)
    np.testing.assert_allclose(gx, 6.0)
    gy = ft.grad(lambda y: fnp.sum(ft.vmap(f, in_axes=(0, None))(xs, y)))(3.0)
    assert float(gy) == pytest.approx(2 * np.sum(xs))
    np.testing.assert_allclose(ft.jacfwd(ft.vmap(f))(xs, ys), np.diag(2 * ys))
    np.testing.assert_allclose(ft.jacrev(ft.vmap(f))(xs, ys), np.diag(2 * ys))


# ---------------------------------------------------------------------------------------
# with_gradient.

def test_with_gradient_observe_replace_none():
    seen = []
    f = lambda x: fnp.sum(ft.with_gradient(x * 2.0, lambda g: seen.append(np.array(g))) ** 2)
    x = np.array([1.0, 3.0])
    np.testing.assert_allclose(ft.grad(f)(x), 8 * x)
    np.testing.assert_allclose(seen[0], 4 * x)
    g = ft.grad(lambda x: fnp.sum(ft.with_gradient(x, lambda g: fnp.zeros_like(g) + 7.0) * x))(x)
    np.testing.assert_allclose(g, x + 7.0)
    # forward mode: identity
    np.testing.assert_allclose(ft.jvp(lambda x: ft.with_gradient(x, lambda g: g * 0), (x,), (x,))[1], x)
    # pytrees
    tree = ft.with_gradient({"a": x, "b": 2.0}, lambda g: None)
    assert set(tree) == {"a", "b"}


def test_with_gradient_in_place_does_not_corrupt_other_uses():
    def hook(g):
        g *= 100.0               # in place, returns None
    def f(x):
        y = x * 3.0
        z = ft.with_gradient(y, hook)
        return fnp.sum(z + y)    # the same cotangent object flows to both uses of y
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ft.grad(f)(x), (100.0 + 1.0) * 3.0 * np.ones(2))
    # scalar: g is a writable 0-d array
    kinds = []

    def hook0(g):
        kinds.append((type(g), g.shape, g.flags.writeable))
        g[...] = 0.25
    assert float(ft.grad(lambda x: ft.with_gradient(x, hook0) * 4.0 + x)(2.0)) == pytest.approx(1.25)
    assert kinds == [(np.ndarray, (), True)]


def test_with_gradient_under_vmap_and_grad_of_grad():
    xs = np.array([1.0, 2.0])
    out = ft.vmap(ft.grad(lambda x: ft.with_gradient(x, lambda g: g * 2.0) ** 3))(xs)
    np.testing.assert_allclose(out, 2 * 3 * xs ** 2)
    # the hook is applied to the cotangent in the outer differentiation too (it is a value)
    d2 = ft.grad(ft.grad(lambda x: ft.with_gradient(x ** 3, lambda g: g * 2.0)))(1.5)
    assert float(d2) == pytest.approx(2 * 6 * 1.5)


def test_with_gradient_bad_hook():
    with pytest.raises(TypeError, match="hook must be callable"):
        ft.with_gradient(1.0, 3)


# ---------------------------------------------------------------------------------------
# remat.

def counted(fn):
    count = [0]

    def wrapper(*args):
        count[0] += 1
        return fn(*args)
    return wrapper, count


def test_remat_values_and_recompute_count():
    body, count = counted(lambda x: fnp.sin(x) * fnp.exp(x))
    f = ft.remat(body)
    x = np.array([0.1, 0.5, -0.3])
    np.testing.assert_allclose(f(x), np.sin(x) * np.exp(x))
    count[0] = 0
    g = ft.grad(lambda x: fnp.sum(f(x)))(x)
    np.testing.assert_allclose(g, (np.cos(x) + np.sin(x)) * np.exp(x))
    assert count[0] == 2
    assert ft.checkpoint is ft.remat


def test_remat_nested_derivatives():
    f = ft.remat(lambda x: fnp.sin(x) * x ** 2)
    plain = lambda x: fnp.sin(x) * x ** 2
    for order_fn in (ft.grad, lambda h: ft.grad(ft.grad(h)), lambda h: ft.grad(ft.grad(ft.grad(h)))):
        assert float(order_fn(f)(0.7)) == pytest.approx(float(order_fn(plain)(0.7)), rel=1e-12)
    x = np.array([0.3, 1.2])
    np.testing.assert_allclose(ft.hessian(lambda x: fnp.sum(f(x)))(x),
                               ft.hessian(lambda x: fnp.sum(plain(x)))(x))
    np.testing.assert_allclose(ft.jacfwd(f)(x), ft.jacrev(f)(x))
    ft.check_grads(f, (x,), order=2)
    # remat of remat
    ff = ft.remat(lambda x: f(f(x)))
    expected = float(ft.grad(ft.grad(lambda x: plain(plain(x))))(0.4))
    assert float(ft.grad(ft.grad(ff))(0.4)) == pytest.approx(expected)


def test_remat_under_vmap():
    body, count = counted(lambda w, x: fnp.tanh(x * w))
    f = ft.remat(body)
    xs = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(ft.vmap(f, in_axes=(None, 0))(0.7, xs), np.tanh(0.7 * xs))
    g = ft.vmap(ft.grad(f, argnums=(0, 1)), in_axes=(None, 0))(0.7, xs)
    np.testing.assert_allclose(g[0], xs * (1 - np.tanh(0.7 * xs) ** 2))
    np.testing.assert_allclose(g[1], 0.7 * (1 - np.tanh(0.7 * xs) ** 2))
    count[0] = 0
    gw = ft.grad(lambda w: fnp.sum(ft.vmap(f, in_axes=(None, 0))(w, xs)))(0.7)
    assert float(gw) == pytest.approx(float(np.sum(xs * (1 - np.tanh(0.7 * xs) ** 2))))
    assert count[0] == 2           # once forward, once in the backward pass (vmapped)


def test_remat_with_control_flow():
    def body(x):
        y = x
        while float(fnp.max(fnp.abs(y))) < 10.0:   # concrete under grad
            y = y * 2.0 + fnp.sin(y)
        return y if float(fnp.sum(y)) > 0 else -y
    f = ft.remat(body)
    x = np.array([0.5, 0.7])
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(x), ft.grad(lambda x: fnp.sum(body(x)))(x))
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(x), fd_grad(lambda x: np.sum(body(x)), x),
                               rtol=1e-6)


def test_remat_with_custom_rules_inside():
    counter = {"fwd": 0, "bwd": 0}
    s = make_sin_vjp(counter)
    sp = make_softplus_jvp()
    f = ft.remat(lambda x: sp(s(x)) * 2.0)
    x = np.array([0.2, -0.4])
    want = 2.0 / (1 + np.exp(-np.sin(x))) * np.cos(x)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(x), want)
    assert counter["fwd"] == 1 and counter["bwd"] == 1     # rule used in the recomputation
    ref = lambda x: fnp.sum(sp(s(x)) * 2.0)
    np.testing.assert_allclose(ft.hessian(lambda x: fnp.sum(f(x)))(x), ft.hessian(ref)(x))
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda x: fnp.sum(f(x))))(x[:, None]), want[:, None])


def test_remat_pytrees_kwargs_and_closure():
    def layer(params, x, *, scale=1.0):
        h = fnp.tanh(x @ params["w"] + params["b"])
        return {"h": h * scale, "aux": (fnp.sum(h),)}
    f = ft.remat(layer)
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))

    def loss(params, x, fn):
        o = fn(params, x, scale=2.0)
        return fnp.sum(o["h"] ** 2) + o["aux"][0]
    got = ft.grad(loss, argnums=(0, 1))(params, x, f)
    want = ft.grad(loss, argnums=(0, 1))(params, x, layer)
    for a, b in zip(ft.tree.leaves(got), ft.tree.leaves(want)):
        np.testing.assert_allclose(a, b)
    # closing over a differentiated value: it is lifted into an argument
    def closed(w):
        g = ft.remat(lambda x: fnp.sin(x * w))
        return fnp.sum(g(g(np.array([0.3, 0.6]))))
    np.testing.assert_allclose(ft.grad(closed)(1.3), fd_grad(closed, 1.3), rtol=1e-6)
    np.testing.assert_allclose(ft.grad(ft.grad(closed))(1.3), fd_grad(ft.grad(closed), 1.3), rtol=1e-5)


def test_remat_grad_of_jvp_still_rematerialises():
    body, count = counted(lambda x: fnp.sin(x) * x)
    f = ft.remat(body)
    count[0] = 0
    g = ft.grad(lambda x: ft.jvp(f, (x,), (1.0,))[1])(0.8)
    assert float(g) == pytest.approx(2 * math.cos(0.8) - 0.8 * math.sin(0.8))
    assert count[0] == 2


def test_remat_keeps_less_in_the_tape():
    """A memory probe: the reverse trace keeps only remat's inputs and outputs."""
    from functrans.reverse import VJPTrace
    from functrans import core

    sizes = {}

    def probe(fn, key):
        def wrapped(x):
            out = fn(x)
            trace = core.current_trace()
            assert isinstance(trace, VJPTrace)
            sizes[key] = len(trace.tape)
            return out
        return wrapped

    def chain(x):
        for _ in range(20):
            x = fnp.tanh(x * 1.1)
        return x
    x = np.ones(3)
    ft.grad(probe(lambda x: fnp.sum(chain(x)), "plain"))(x)
    ft.grad(probe(lambda x: fnp.sum(ft.remat(chain)(x)), "remat"))(x)
    assert sizes["plain"] >= 40 and sizes["remat"] <= 2


# ---------------------------------------------------------------------------------------
# Errors.

def test_error_call_before_rule_and_double_rule():
    @ft.custom_vjp
    def f(x):
        return x
    with pytest.raises(TypeError, match=r"'.*f' was called before a rule was attached.*defvjp"):
        f(1.0)
    f.defvjp(lambda x: (x, None), lambda _, g: (g,))
    with pytest.raises(ValueError, match=r"already has a vjp rule"):
        f.defvjp(lambda x: (x, None), lambda _, g: (g,))

    @ft.custom_jvp
    def h(x):
        return x
    with pytest.raises(TypeError, match=r"before a rule was attached.*defjvp"):
        h(1.0)
    h.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(ValueError, match=r"already has a jvp rule"):
        h.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(TypeError, match="expects callables"):
        ft.custom_vjp(lambda x: x).defvjp(1, 2)


def test_error_bwd_wrong_structure_shape_dtype():
    def make(bwd):
        @ft.custom_vjp
        def f(x, y):
            return x * y
        def f_fwd(x, y):
            return x * y, (x, y)
        f.defvjp(f_fwd, bwd)
        return f
    x, y = np.ones(3), np.ones(3)
    loss = lambda f: ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, y)

    def bwd_one(res, g):
        return (g,)
    with pytest.raises(TypeError,
                       match=r"bwd rule 'test_error_bwd_wrong_structure_shape_dtype.<locals>.bwd_one'.*"
                             r"'.*f'.*one cotangent per differentiable argument \(2.*"
                             r"got a tuple of length 1"):
        loss(make(bwd_one))

    def bwd_shape(res, g):
        return g, fnp.sum(g)
    with pytest.raises(ValueError,
                       match=r"bwd rule.*bwd_shape.*argument 1 of shape \(\); expected shape \(3,\)"):
        loss(make(bwd_shape))

    def bwd_dtype(res, g):
        return g, (g * 1j)
    with pytest.raises(TypeError, match=r"bwd_dtype.*argument 1 of dtype complex128; expected dtype float64"):
        loss(make(bwd_dtype))

    def bwd_tree(res, g):
        return g, {"a": g}
    with pytest.raises(TypeError, match=r"bwd_tree.*structure.*expected the structure"):
        loss(make(bwd_tree))

    def bwd_bare(res, g):
        return g
    f1 = ft.custom_vjp(lambda x: x)
    f1.defvjp(lambda x: (x, None), bwd_bare)
    with pytest.raises(TypeError, match=r"bwd_bare.*wrap a single cotangent in a tuple"):
        ft.grad(f1)(1.0)


def test_error_fwd_and_one_function_rule():
    f = ft.custom_vjp(lambda x: x)
    f.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(TypeError, match=r"fwd rule.*must return a pair \(output, residuals\)"):
        ft.grad(f)(1.0)

    @ft.custom_vjp
    def k(x):
        return x

    @k.defvjp
    def k_vjp(x):
        return x
    with pytest.raises(TypeError, match=r"vjp rule 'test_error_fwd_and_one_function_rule.<locals>.k_vjp' "
                                        r"of '.*k'.*pair \(output, pullback\)"):
        ft.grad(k)(1.0)

    @ft.custom_vjp
    def m(x):
        return x * 2.0

    @m.defvjp
    def m_vjp(x):
        return x * 2.0, lambda g: (np.ones(4),)
    with pytest.raises(ValueError, match=r"m_vjp.*argument 0 of shape \(4,\); expected shape \(\)"):
        ft.grad(m)(1.0)


def test_error_custom_jvp_rule():
    def make(rule):
        @ft.custom_jvp
        def f(x):
            return fnp.sin(x)
        f.defjvp(rule)
        return f
    x = np.ones(3)

    def jvp_shape(p, t):
        return fnp.sin(p[0]), fnp.sum(t[0])
    with pytest.raises(ValueError,
                       match=r"jvp rule '.*jvp_shape' of '.*f'.*tangent.*shape \(\); expected shape \(3,\)"):
        ft.jvp(make(jvp_shape), (x,), (x,))

    def jvp_pair(p, t):
        return fnp.sin(p[0])
    with pytest.raises(TypeError, match=r"jvp_pair.*must return a pair \(primal_out, tangent_out\)"):
        ft.jvp(make(jvp_pair), (x,), (x,))

    def jvp_tree(p, t):
        return fnp.sin(p[0]), (t[0], t[0])
    with pytest.raises(TypeError, match=r"jvp_tree.*structure"):
        ft.grad(lambda x: fnp.sum(make(jvp_tree)(x)))(x)

    def jvp_dtype(p, t):
        return fnp.sin(p[0]), (t[0] > 0)
    with pytest.raises(TypeError, match=r"jvp_dtype.*dtype bool; expected dtype float64"):
        ft.jvp(make(jvp_dtype), (x,), (x,))


def test_error_nondiff_argument_differentiated_and_out_of_range():
    @ft.custom_vjp(nondiff_argnums=(1,))
    def f(x, s):
        return x * s
    f.defvjp(lambda x, s: (x * s, None), lambda s, _, g: (g * s,))
    with pytest.raises(TypeError,
                       match=r"differentiation of '.*f' with respect to argument 1 \(in nondiff_argnums\)"):
        ft.grad(f, argnums=1)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"forward-mode differentiation of '.*f' with respect to argument 1"):
        ft.jvp(lambda s: f(1.0, s), (2.0,), (1.0,))

    @ft.custom_vjp(nondiff_argnums=(3,))
    def g(x):
        return x
    g.defvjp(lambda x: (x, None), lambda _, c: (c,))
    with pytest.raises(ValueError, match="nondiff_argnums entry 3 is out of range"):
        ft.grad(g)(1.0)


def test_error_state_is_clean_after_failure():
    f = ft.custom_vjp(lambda x: x)
    f.defvjp(lambda x: (x, None), lambda _, g: (g, g))
    with pytest.raises(TypeError):
        ft.grad(f)(1.0)
    assert float(ft.grad(make_sin_vjp())(0.0)) == 1.0
    assert float(ft.grad(ft.remat(fnp.sin))(0.0)) == 1.0


def test_with_gradient_replacement_shape():
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"with_gradient: the hook .* returned a cotangent of shape \(3,\); "
                                         r"expected shape \(2,\)"):
        ft.grad(lambda x: fnp.sum(ft.with_gradient(x, lambda g: np.ones(3)) * 2.0))(x)
    g = ft.grad(lambda x: fnp.sum(ft.with_gradient(x, lambda g: 0.5) * 2.0))(x)   # a scalar broadcasts
    np.testing.assert_allclose(g, [0.5, 0.5])


def test_remat_indirect_capture_is_a_clear_error():
    class Holder:
        pass

    def loss(w):
        h = Holder()
        h.w = w
        return ft.remat(lambda x: x * h.w)(2.0)
    with pytest.raises(TypeError,
                       match=r"remat function .* captures indirectly.*Pass that value as an argument"):
        ft.grad(loss)(3.0)
    assert float(ft.grad(ft.remat(fnp.sin))(0.0)) == 1.0
