"""The worked examples of the seed tutorials (/work/shared/seeds), ported to functrans.

* d2l "Automatic differentiation": gradient of 2 x^T x, non-scalar outputs, detaching,
  Python control flow.
* TensorFlow "Advanced automatic differentiation": stop_gradient, clipped custom gradient,
  several sources, higher-order gradients, input-gradient regularisation, Jacobians,
  Hessian + Newton step, batch Jacobian (and its BatchNorm caveat).
* Swift "Custom differentiation": stop gradient, derivative surgery, a hooked MLP loss.

Printed float32 numbers of the originals are compared with ~1e-6 relative tolerance; every
other derivative is checked against closed forms or finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

from reference import close, fd_jac


def relu(z):
    return fnp.where(z > 0, z, 0.0)


def elu(z):
    return fnp.where(z > 0, z, fnp.exp(fnp.minimum(z, 0.0)) - 1.0)


def dense(x, kernel, bias, activation):
    return activation(x @ kernel + bias)


def glorot(rng, n_in, n_out):
    lim = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out))


# =======================================================================================
# d2l: automatic differentiation


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_d2l_gradient_of_2xTx_is_4x(dtype):
    x = np.arange(4, dtype=dtype)
    g = ft.grad(lambda x: 2 * fnp.dot(x, x))(x)
    assert g.dtype == dtype and g.shape == (4,)
    np.testing.assert_array_equal(g, 4 * x)          # exactly, as d2l's `x.grad == 4 * x`


def test_d2l_gradient_of_sum_is_ones():
    x = np.arange(4.0)
    np.testing.assert_array_equal(ft.grad(lambda x: x.sum())(x), np.ones(4))
    np.testing.assert_array_equal(ft.grad(fnp.sum)(x), np.ones(4))


def test_d2l_non_scalar_output_sum_then_grad():
    x = np.arange(4.0)
    # TensorFlow / MXNet sum a non-scalar target; PyTorch's y.backward(ones)
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(x * x))(x), 2 * x)
    out, pb = ft.vjp(lambda x: x * x, x)
    np.testing.assert_array_equal(pb(np.ones(4))[0], 2 * x)


def test_d2l_detaching_computation():
    x = np.arange(4.0)

    def z_of(x):
        y = x * x
        u = ft.stop_gradient(y)
        return fnp.sum(u * x)

    u = x * x
    np.testing.assert_array_equal(ft.grad(z_of)(x), u)      # x.grad == u, not 3 x^2
    # the computation of y itself is still differentiable: dy/dx = 2x
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(x * x))(x), 2 * x)

    # both targets from one recorded computation (TF's persistent tape): one vjp, two cotangents
    def yz(x):
        y = x * x
        return y, ft.stop_gradient(y) * x

    (y, z), pb = ft.vjp(yz, x)
    np.testing.assert_array_equal(pb((np.zeros(4), np.ones(4)))[0], u)
    np.testing.assert_array_equal(pb((np.ones(4), np.zeros(4)))[0], 2 * x)


def d2l_f(a):
    b = a * 2
    while fnp.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


@pytest.mark.parametrize("seed", range(6))
def test_d2l_python_control_flow_scalar(seed):
    a = np.random.default_rng(seed).standard_normal(size=())      # a 0-d array, as d2l's
    d = d2l_f(a)
    d_grad = ft.grad(d2l_f)(a)
    close(d_grad, d / a, rtol=1e-12)
    # the scale is a power of two, times 100 for a negative input
    k = float(d / a)
    assert k > 0
    mantissa = k / 100 if a < 0 else k
    assert np.log2(mantissa) == int(np.log2(mantissa))


def test_d2l_python_control_flow_negative_branch_and_value():
    a = np.array(-0.37)
    d = d2l_f(a)
    assert d < 0
    close(ft.grad(d2l_f)(a), d / a, rtol=1e-12)
    close(ft.value_and_grad(d2l_f)(a)[0], d)


def test_d2l_control_flow_vector_input_exercise():
    # Exercise 3: a random vector; f(a) = k a, so the Jacobian is k I with k = d / a.
    a = np.random.default_rng(42).standard_normal(3)
    d = d2l_f(a)
    J = ft.jacrev(d2l_f)(a)
    close(J, np.diag(d / a), rtol=1e-12)
    close(ft.grad(lambda a: fnp.sum(d2l_f(a)))(a), d / a, rtol=1e-12)


def test_d2l_exercise_plot_sin_derivative():
    xs = np.linspace(-2 * np.pi, 2 * np.pi, 101)
    close(ft.vmap(ft.grad(fnp.sin))(xs), np.cos(xs), rtol=1e-12, atol=1e-12)


def test_d2l_exercise_dependency_graph_function():
    # f(x) = log(x^2) sin x + 1/x ; f' = 2 sin(x)/x + log(x^2) cos x - 1/x^2
    f = lambda x: fnp.log(x ** 2) * fnp.sin(x) + x ** -1
    for x in [0.5, 2.0, -1.5]:
        want = 2 * np.sin(x) / x + np.log(x ** 2) * np.cos(x) - 1 / x ** 2
        close(ft.grad(f)(x), want)
        close(ft.jvp(f, (x,), (1.0,))[1], want)


# =======================================================================================
# TensorFlow: advanced automatic differentiation


def test_tf_stop_recording_and_reset_dz_dx_is_4():
    # x_sq recorded, y_sq not (stop_recording / reset): dz/dx = 4, dz/dy = None (zero)
    def z(v):
        return v["x"] * v["x"] + ft.stop_gradient(v["y"] * v["y"])
    g = ft.grad(z)({"x": 2.0, "y": 3.0})
    close(g["x"], 4.0)
    close(g["y"], 0.0)


def test_tf_stop_gradient_dz_dx_is_4():
    g = ft.grad(lambda x, y: x ** 2 + ft.stop_gradient(y ** 2), argnums=(0, 1))(2.0, 3.0)
    close(g[0], 4.0)
    close(g[1], 0.0)


def test_tf_clip_gradients_custom_gradient_gives_2():
    def clip_by_norm(dy, clip):
        n = np.sqrt(np.sum(np.asarray(dy) ** 2))
        return dy * (clip / n) if n > clip else dy

    def clip_gradients(y):
        return ft.with_gradient(y, lambda dy: clip_by_norm(dy, 0.5))

    close(ft.grad(lambda v: clip_gradients(v * v))(2.0), 2.0)   # 4 clipped to 2


def test_tf_multiple_tapes_cos0_and_sigmoid_prime0():
    ys = lambda x0, x1: fnp.sum(fnp.sin(x0) + fnp.sigmoid(x1))
    g0, g1 = ft.grad(ys, argnums=(0, 1))(0.0, 0.0)
    close(g0, 1.0)
    close(g1, 0.25)
    # float32, as TensorFlow
    g0, g1 = ft.grad(ys, argnums=(0, 1))(np.float32(0.0), np.float32(0.0))
    assert np.asarray(g1).dtype == np.float32
    close(g0, 1.0)
    close(g1, 0.25)


def test_tf_higher_order_x_cubed():
    f = lambda x: x * x * x
    dy_dx = ft.grad(f)
    d2y_dx2 = ft.grad(dy_dx)
    close(dy_dx(1.0), 3.0)
    close(d2y_dx2(1.0), 6.0)
    close(dy_dx(np.float32(1.0)), 3.0)
    close(d2y_dx2(np.float32(1.0)), 6.0)


def test_tf_input_gradient_regularisation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5))
    kernel, bias = glorot(rng, 5, 10), 0.1 * rng.standard_normal(10)

    def out(x, kernel, bias):
        return fnp.sum(dense(x, kernel, bias, relu) ** 2)

    def g1_mag(kernel, bias):
        g1 = ft.grad(out)(x, kernel, bias)          # 1. input gradient
        return fnp.linalg.norm(g1)                  # 2. its magnitude

    dk, db = ft.grad(g1_mag, argnums=(0, 1))(kernel, bias)   # 3. w.r.t. the model
    assert dk.shape == (5, 10) and db.shape == (10,)

    # independent reference: d out/dx = 2 relu(x K + b) K^T (closed form), then FD over K, b
    def g1_mag_np(k, b):
        return np.linalg.norm(2 * np.maximum(x @ k + b, 0.0) @ k.T)
    close(g1_mag(kernel, bias), g1_mag_np(kernel, bias), rtol=1e-12)
    close(dk, fd_jac(lambda k: g1_mag_np(k, bias), kernel), rtol=1e-6, atol=1e-8)
    close(db, fd_jac(lambda b: g1_mag_np(kernel, b), bias), rtol=1e-6, atol=1e-8)


def test_tf_jacobian_scalar_source_sigmoid():
    x = np.linspace(-10.0, 10.0, 200 + 1)
    f = lambda delta: fnp.sigmoid(x + delta)
    for jac in [ft.jacobian, ft.jacrev, ft.jacfwd]:
        dy_dx = jac(f)(0.0)
        assert dy_dx.shape == (201,)
        s = 1 / (1 + np.exp(-x))
        close(dy_dx, s * (1 - s), rtol=1e-10, atol=1e-15)


def test_tf_jacobian_tensor_source_dense_kernel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 5))
    kernel, bias = glorot(rng, 5, 10), np.zeros(10)
    layer = lambda k: dense(x, k, bias, relu)
    assert layer(kernel).shape == (7, 10)
    for jac in [ft.jacobian, ft.jacrev, ft.jacfwd]:
        j = jac(layer)(kernel)
        assert j.shape == (7, 10, 5, 10)
        # closed form: dy[i, o]/dK[k, l] = [z_io > 0] x_ik delta_ol
        active = (x @ kernel > 0).astype(float)
        want = np.einsum("io,ik,ol->iokl", active, x, np.eye(10))
        close(j, want, rtol=0, atol=0)
        # summing over the target's axes leaves the gradient of the sum
        g = ft.grad(lambda k: fnp.sum(layer(k)))(kernel)
        assert g.shape == (5, 10)
        assert np.max(np.abs(g - j.sum(axis=(0, 1)))) < 1e-12
        close(g, x.T @ active)


def _two_layer_setup():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 5))
    k1, b1 = glorot(rng, 5, 8), 0.1 * rng.standard_normal(8)
    k2, b2 = glorot(rng, 8, 6), 0.1 * rng.standard_normal(6)
    return x, k1, b1, k2, b2


def test_tf_hessian_and_newton_step():
    x, k1, b1, k2, b2 = _two_layer_setup()

    def loss(k):
        h = dense(dense(x, k, b1, relu), k2, b2, relu)
        return fnp.mean(h ** 2)

    g = ft.grad(loss)(k1)
    h = ft.jacobian(ft.grad(loss))(k1)
    assert g.shape == (5, 8)
    assert h.shape == (5, 8, 5, 8)
    assert ft.hessian(loss)(k1).shape == (5, 8, 5, 8)

    # independent reference: hand-written backprop, then FD of it for the Hessian
    def grad_np(k):
        z1 = x @ k + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ k2 + b2
        a2 = np.maximum(z2, 0)
        dz2 = 2 * a2 / a2.size * (z2 > 0)
        dz1 = (dz2 @ k2.T) * (z1 > 0)
        return x.T @ dz1

    close(g, grad_np(k1), rtol=1e-12, atol=1e-15)
    h_fd = fd_jac(grad_np, k1)
    close(h, h_fd, rtol=1e-6, atol=1e-9)

    n_params = 5 * 8
    g_vec = np.reshape(g, (n_params, 1))
    h_mat = np.reshape(h, (n_params, n_params))
    np.testing.assert_allclose(h_mat, h_mat.T, rtol=0, atol=1e-12)      # symmetric
    # piecewise-linear network + squared loss: locally a convex quadratic (PSD Hessian)
    assert np.linalg.eigvalsh(h_mat).min() > -1e-10

    eps = 1e-3
    update = np.linalg.solve(h_mat + np.eye(n_params) * eps, g_vec)     # concrete, as TF's
    assert update.shape == (40, 1)
    close(update, np.linalg.solve(np.reshape(h_fd, (40, 40)) + eps * np.eye(40), g_vec),
          rtol=1e-4, atol=1e-9)
    new_k1 = k1 - np.reshape(update, k1.shape)
    assert float(loss(new_k1)) < float(loss(k1))


def _elu_model(x, k1, b1, k2, b2):
    return dense(dense(x, k1, b1, elu), k2, b2, elu)


def test_tf_batch_jacobian_vs_full_jacobian():
    x, k1, b1, k2, b2 = _two_layer_setup()
    f = lambda x: _elu_model(x, k1, b1, k2, b2)
    y = f(x)
    assert y.shape == (7, 6)
    j = ft.jacobian(f)(x)
    assert j.shape == (7, 6, 7, 5)
    # every (batch, batch) slice is diagonal
    off = j.copy()
    for b in range(7):
        off[b, :, b, :] = 0
    assert np.max(np.abs(off)) == 0.0
    j_sum = j.sum(axis=2)
    j_select = np.einsum("bxby->bxy", j)
    assert j_sum.shape == j_select.shape == (7, 6, 5)
    for mode in ["auto", "rev", "fwd"]:
        jb = ft.batch_jacobian(f, mode=mode)(x)
        assert jb.shape == (7, 6, 5)
        assert np.max(np.abs(jb - j_sum)) < 1e-12
        close(jb, j_select, rtol=1e-12, atol=1e-15)
    # independent reference: finite differences per example
    for b in range(7):
        close(j_select[b], fd_jac(lambda xb: np.asarray(f(xb[None]))[0], x[b]),
              rtol=1e-6, atol=1e-9)


def test_tf_batch_jacobian_batchnorm_caveat():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 5))
    k1, b1 = glorot(rng, 5, 8), np.zeros(8)
    k2, b2 = glorot(rng, 8, 6), np.zeros(6)

    def f(x):
        y = dense(x, k1, b1, elu)
        y = (y - fnp.mean(y, axis=0)) / fnp.sqrt(fnp.var(y, axis=0) + 1e-3)   # batch norm
        return dense(y, k2, b2, elu)

    j = ft.jacobian(f)(x)
    assert j.shape == (7, 6, 7, 5)
    # the slices are no longer diagonal ...
    assert np.abs(j[0, :, 1, :]).max() > 1e-3
    # ... and batch_jacobian still runs and returns something of the expected shape
    jb = ft.batch_jacobian(f)(x)
    assert jb.shape == (7, 6, 5)
    close(j, fd_jac(f, x), rtol=1e-5, atol=1e-8)


# =======================================================================================
# Swift: custom differentiation


def test_swift_stop_gradient_example():
    f = lambda x, y: fnp.sin(fnp.sin(fnp.sin(x))) + ft.stop_gradient(fnp.cos(fnp.cos(fnp.cos(y))))
    gx, gy = ft.grad(f, argnums=(0, 1))(2.0, 3.0)
    close(gx, -0.18009877, rtol=1e-6)
    close(gy, 0.0, atol=0)
    gx32, gy32 = ft.grad(f, argnums=(0, 1))(np.float32(2.0), np.float32(3.0))
    assert np.asarray(gx32).dtype == np.float32
    close(gx32, -0.18009877, rtol=1e-6)
    close(gy32, 0.0, atol=0)
    # closed form
    s1 = np.sin(2.0)
    s2 = np.sin(s1)
    close(gx, np.cos(s2) * np.cos(s1) * np.cos(2.0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_swift_derivative_surgery(dtype):
    printed = []

    def observe(g):
        printed.append(("∂+/∂sin", float(g)))

    def rewrite(dx):
        printed.append(("∂log/∂x", float(dx)))
        dx[...] = 0.5                       # in place, as Swift's `dx = 0.5` on an inout

    def f(x):
        a = ft.with_gradient(fnp.sin(x), observe)
        b = fnp.log(ft.with_gradient(x, rewrite))
        return a + b

    g = ft.grad(f)(dtype(30.0))
    close(g, 0.65425146, rtol=1e-6)
    close(g, np.cos(30.0) + 0.5, rtol=1e-6)
    assert [name for name, _ in printed] == ["∂log/∂x", "∂+/∂sin"]
    close(printed[0][1], 0.033333335, rtol=1e-6)
    close(printed[1][1], 1.0, rtol=0)


def test_swift_mlp_hooked_loss_cotangent():
    # The tutorial's loss mean((ŷ - y)^2) broadcasts ŷ (4, 1) against y (4,) into (4, 4):
    # ∂L/∂ŷ_i = sum_j 2 (ŷ_i - y_j) / 16 = ŷ_i / 2 - 1/4, so rows where relu gives 0 print
    # -0.25 (as in the original's output).
    rng = np.random.default_rng(5)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.float32)
    model = {"k1": glorot(rng, 2, 10).astype(np.float32), "b1": np.zeros(10, np.float32),
             "k2": glorot(rng, 10, 1).astype(np.float32), "b2": np.zeros(1, np.float32)}
    seen = {}

    def loss(m):
        h0 = ft.with_gradient(dense(x, m["k1"], m["b1"], relu),
                              lambda g: seen.__setitem__("layer1", np.array(g)))
        y_hat = ft.with_gradient(dense(h0, m["k2"], m["b2"], relu),
                                 lambda g: seen.__setitem__("y_hat", np.array(g)))
        seen["y_hat_value"] = np.asarray(ft.core.concrete_value(y_hat))
        return fnp.mean((y_hat - y) ** 2)

    lr = 0.02
    for step in range(3):
        value, grads = ft.value_and_grad(loss)(model)
        y_hat = seen["y_hat_value"]
        assert seen["y_hat"].shape == (4, 1) and seen["layer1"].shape == (4, 10)
        close(seen["y_hat"], y_hat / 2 - 0.25, rtol=1e-6, atol=1e-7)
        close(value, np.mean((y_hat - y) ** 2), rtol=1e-6)
        # ∂L/∂layer1 = (∂L/∂ŷ * [z2 > 0]) k2^T
        h0 = np.maximum(x @ model["k1"] + model["b1"], 0)
        z2 = h0 @ model["k2"] + model["b2"]
        close(seen["layer1"], (seen["y_hat"] * (z2 > 0)) @ model["k2"].T, rtol=1e-5, atol=1e-7)
        assert set(grads) == set(model)
        assert all(grads[k].dtype == np.float32 and grads[k].shape == model[k].shape for k in model)
        model = ft.tree.map(lambda p, g: p - lr * g, model, grads)
