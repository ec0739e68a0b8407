"""functrans.nn and functrans.optim: the convolution primitive against a naive reference and
finite differences, layers against closed forms, Modules as pytrees, training."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.nn import conv2d, conv2d_p


def naive_conv(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), lhs_dilation=(1, 1),
               rhs_dilation=(1, 1), groups=1):
    """The definition, one output element at a time (float64)."""
    n, h, wd, c = x.shape
    kh, kw, cin, cout = w.shape
    dh, dw = lhs_dilation
    xd = np.zeros((n, (h - 1) * dh + 1, (wd - 1) * dw + 1, c))
    xd[:, ::dh, ::dw] = x
    (pt, pb), (pl, pr) = padding
    src = xd[:, max(-pt, 0):xd.shape[1] - max(-pb, 0), max(-pl, 0):xd.shape[2] - max(-pr, 0)]
    xp = np.zeros((n, src.shape[1] + max(pt, 0) + max(pb, 0),
                   src.shape[2] + max(pl, 0) + max(pr, 0), c))
    xp[:, max(pt, 0):max(pt, 0) + src.shape[1], max(pl, 0):max(pl, 0) + src.shape[2]] = src
    (rh, rw), (sh, sw) = rhs_dilation, strides
    ho = (xp.shape[1] - ((kh - 1) * rh + 1)) // sh + 1
    wo = (xp.shape[2] - ((kw - 1) * rw + 1)) // sw + 1
    cg = cout // groups
    out = np.zeros((n, ho, wo, cout))
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for o in range(cout):
                    g = o // cg
                    acc = 0.0
                    for a in range(kh):
                        for e in range(kw):
                            for k in range(cin):
                                acc += xp[b, i * sh + a * rh, j * sw + e * rw, g * cin + k] * w[a, e, k, o]
                    out[b, i, j, o] = acc
    return out


def same_padding(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return (total // 2, total - total // 2)


# (strides, padding, lhs_dilation, rhs_dilation, groups, cin per group, cout)
CONFIGS = [
    ((1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1, 2, 3),
    ((2, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1, 2, 2),
    ((2, 3), ((1, 1), (0, 1)), (1, 1), (1, 1), 1, 1, 2),
    ((1, 1), ((2, 2), (1, 3)), (1, 1), (1, 1), 1, 3, 1),       # wide padding: one filter row at a time
    ((1, 1), ((3, -1), (2, 2)), (1, 1), (2, 1), 1, 2, 1),      # ... with a crop and dilated rows
    ((1, 1), ((2, 2), (2, 2)), (1, 1), (1, 2), 1, 2, 1),       # ... dilated columns: the scatter path
    ((1, 1), ((2, 1), (0, 2)), (2, 3), (1, 1), 1, 2, 1),       # transposed convolution
    ((1, 1), ((-1, 2), (1, -1)), (2, 1), (2, 1), 1, 2, 1),     # negative padding crops
    ((2, 1), ((1, 0), (0, 1)), (1, 1), (2, 2), 1, 2, 2),       # atrous
    ((1, 2), ((1, 1), (2, 0)), (2, 1), (1, 2), 2, 2, 4),       # grouped
]


@pytest.mark.parametrize("config", CONFIGS)
def test_conv_primitive_matches_naive(config):
    strides, padding, lhs, rhs, groups, cin, cout = config
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 5, cin * groups))
    w = rng.normal(size=(3, 2, cin, cout))
    got = conv2d_p.bind(x, w, strides=strides, padding=padding, lhs_dilation=lhs,
                        rhs_dilation=rhs, groups=groups)
    np.testing.assert_allclose(got, naive_conv(x, w, strides, padding, lhs, rhs, groups),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS)
def test_conv_primitive_derivatives_second_order(config):
    strides, padding, lhs, rhs, groups, cin, cout = config
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 4, cin * groups))
    w = rng.normal(size=(2, 3, cin, cout))

    def f(x, w):
        return conv2d_p.bind(x, w, strides=strides, padding=padding, lhs_dilation=lhs,
                             rhs_dilation=rhs, groups=groups)
    ft.check_grads(f, (x, w), order=2)


@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (3, 2)])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_conv2d_strides_and_same_padding(strides, padding):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 7, 8, 3))
    w = rng.normal(size=(3, 4, 3, 2))
    got = conv2d(x, w, strides, padding)
    pads = ((0, 0), (0, 0)) if padding == "VALID" else (same_padding(7, 3, strides[0]),
                                                         same_padding(8, 4, strides[1]))
    np.testing.assert_allclose(got, naive_conv(x, w, strides, pads), rtol=1e-12, atol=1e-12)
    if padding == "SAME":
        assert got.shape[1:3] == (-(-7 // strides[0]), -(-8 // strides[1]))
    ft.check_grads(lambda x, w: conv2d(x, w, strides, padding), (x, w), order=2)


def test_conv2d_float32_and_single_image():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 6, 6, 2)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    out = conv2d(x, w)
    assert out.dtype == np.float32
    np.testing.assert_allclose(conv2d(x[0], w), out[0], rtol=1e-6)
    np.testing.assert_allclose(out, naive_conv(x, w), rtol=1e-4, atol=1e-5)
    g = ft.grad(lambda w: fnp.sum(conv2d(x, w) ** 2))(w)
    assert g.dtype == np.float32 and g.shape == w.shape


def test_conv2d_errors():
    with pytest.raises(ValueError, match="channels"):
        conv2d(np.zeros((1, 4, 4, 3)), np.zeros((2, 2, 2, 1)))
    with pytest.raises(ValueError, match="padding"):
        conv2d(np.zeros((1, 4, 4, 1)), np.zeros((2, 2, 1, 1)), padding="FULL")


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("strides,padding", [((1, 1), "VALID"), ((2, 2), "SAME")])
def test_conv_batching_matches_loop(groups, strides, padding):
    rng = np.random.default_rng(5)
    B = 3
    xs = rng.normal(size=(B, 2, 6, 5, 2 * groups))
    ws = rng.normal(size=(B, 3, 2, 2, 2 * groups))

    def f(x, w):
        return conv2d(x, w, strides, padding, groups=groups)
    x, w = xs[0], ws[0]
    loop = lambda pairs: np.stack([f(a, b) for a, b in pairs])  # noqa: E731
    np.testing.assert_allclose(ft.vmap(f, (0, None))(xs, w), loop((a, w) for a in xs), atol=1e-12)
    np.testing.assert_allclose(ft.vmap(f, (None, 0))(x, ws), loop((x, b) for b in ws), atol=1e-12)
    np.testing.assert_allclose(ft.vmap(f)(xs, ws), loop(zip(xs, ws)), atol=1e-12)
    # Batch axes elsewhere than in front, and nested vmap.
    np.testing.assert_allclose(ft.vmap(f, (2, 4))(np.moveaxis(xs, 0, 2), np.moveaxis(ws, 0, 4)),
                               loop(zip(xs, ws)), atol=1e-12)
    xss = np.stack([xs, xs + 1.0])
    np.testing.assert_allclose(ft.vmap(ft.vmap(f))(xss, np.stack([ws, 2 * ws])),
                               np.stack([loop(zip(xss[0], ws)), loop(zip(xss[1], 2 * ws))]),
                               atol=1e-12)


def test_conv_per_example_gradients_and_jacobians():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5, 5, 2))
    w = rng.normal(size=(3, 3, 2, 3))

    def loss(w, xi):
        return fnp.sum(fnp.tanh(conv2d(xi[None], w, (2, 2), "SAME")))
    per_example = ft.vmap(ft.grad(loss), (None, 0))(w, x)
    np.testing.assert_allclose(per_example, np.stack([ft.grad(loss)(w, xi) for xi in x]), atol=1e-12)
    # Per-example weights and the gradient of a vmapped function (batched filters in reverse).
    ws = w + 0.1 * rng.normal(size=(4,) + w.shape)
    g = ft.grad(lambda ws: fnp.sum(ft.vmap(loss)(ws, x)))(ws)
    np.testing.assert_allclose(g, np.stack([ft.grad(loss)(wi, xi) for wi, xi in zip(ws, x)]),
                               atol=1e-12)
    f = lambda w: conv2d(x[:1], w, (2, 1), "SAME")  # noqa: E731
    np.testing.assert_allclose(ft.jacfwd(f)(w), ft.jacrev(f)(w), atol=1e-12)
    h = ft.hessian(lambda w: fnp.sum(conv2d(x[:2], w) ** 3))(w)
    assert h.shape == w.shape * 2


# ---------------------------------------------------------------------------------------
# Pooling, normalisation, activations, losses.

def test_maxpool_values_and_gradient_to_the_max():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    pool = ft.nn.MaxPool2D((2, 2), strides=(2, 2))
    np.testing.assert_array_equal(pool(x)[0, :, :, 0], [[5, 7], [13, 15]])
    g = ft.grad(lambda x: fnp.sum(pool(x)))(x)[0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[1, 1] = expected[1, 3] = expected[3, 1] = expected[3, 3] = 1
    np.testing.assert_array_equal(g, expected)
    # A tie shares the derivative; an odd size drops the last row/column (VALID).
    t = np.ones((1, 3, 3, 1))
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(pool(x)))(t)[0, :, :, 0],
                                  [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]])


@pytest.mark.parametrize("pool,strides,padding", [((2, 2), (2, 2), "VALID"), ((3, 2), (1, 2), "VALID"),
                                                  ((3, 3), (2, 2), "SAME"), ((2, 2), (2, 2), "SAME")])
def test_maxpool_against_loops(pool, strides, padding):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 7, 6, 3))
    got = ft.nn.MaxPool2D(pool, strides=strides, padding=padding)(x)
    if padding == "SAME":
        (pt, pb), (pl, pr) = same_padding(7, pool[0], strides[0]), same_padding(6, pool[1], strides[1])
        x_p = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    else:
        x_p = x
    ho = (x_p.shape[1] - pool[0]) // strides[0] + 1
    wo = (x_p.shape[2] - pool[1]) // strides[1] + 1
    ref = np.array([[[x_p[b, i * strides[0]:i * strides[0] + pool[0],
                          j * strides[1]:j * strides[1] + pool[1]].max(axis=(0, 1))
                      for j in range(wo)] for i in range(ho)] for b in range(2)])
    np.testing.assert_array_equal(got, ref)
    ft.check_grads(ft.nn.MaxPool2D(pool, strides=strides, padding=padding), (x,), order=2)


def test_avgpool_and_flatten():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(ft.nn.AvgPool2D((2, 2))(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert ft.nn.Flatten()(np.zeros((10, 6, 6, 6))).shape == (10, 216)


def test_batchnorm_values_and_gradients():
    rng = np.random.default_rng(8)
    x = rng.normal(3.0, 2.0, size=(16, 4, 4, 5))
    bn = ft.nn.BatchNorm(5, dtype=np.float64)
    bn = ft.tree.map(lambda p: p, bn)
    bn.scale = np.linspace(0.5, 2.0, 5)
    bn.offset = np.arange(5.0)
    y = bn(x)
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * bn.scale + bn.offset, rtol=1e-12)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), bn.offset, atol=1e-12)
    ft.check_grads(lambda x, bn: bn(x), (x[:4, :2, :2], bn), order=2)
    g = ft.grad(lambda bn: fnp.sum(bn(x) * x))(bn)
    assert isinstance(g, ft.nn.BatchNorm) and g.epsilon == bn.epsilon
    # Normalising over the batch couples the examples: the Jacobian is not block-diagonal,
    # which is why batch_jacobian must not be used through BatchNorm (TF's caveat).
    xs = rng.normal(size=(3, 2))
    J = ft.jacrev(ft.nn.BatchNorm(2, dtype=np.float64))(xs)
    assert np.abs(J[0, :, 1, :]).max() > 1e-3


def test_relu_and_elu_conventions():
    assert float(ft.grad(ft.nn.relu)(0.0)) == 0.0
    assert float(ft.grad(ft.nn.relu)(-1.0)) == 0.0
    assert float(ft.grad(ft.nn.relu)(2.0)) == 1.0
    np.testing.assert_array_equal(ft.nn.relu(np.array([-1.0, 0.0, 3.0])), [0, 0, 3])
    assert ft.nn.relu(np.array([-1, 2])).dtype.kind == "i"
    assert float(ft.grad(ft.nn.elu)(0.0)) == 1.0
    assert float(ft.nn.elu(-1.0)) == pytest.approx(np.exp(-1.0) - 1)
    assert float(ft.grad(ft.nn.elu)(-1.0)) == pytest.approx(np.exp(-1.0))
    assert float(ft.grad(ft.nn.elu)(-1000.0)) == 0.0          # no overflow, no NaN
    assert float(ft.grad(ft.nn.elu)(100.0)) == 1.0
    x = np.array([-1.5, -0.3, 0.4, 2.0])
    ft.check_grads(ft.nn.relu, (x,), order=2)
    ft.check_grads(ft.nn.elu, (x,), order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_elu_primitive_value_derivatives_and_batching(alpha, dtype):
    """elu is one primitive: its value against NumPy, derivatives to second order against
    finite differences, vmap (also of its gradient) against a loop, the dtype kept."""
    rng = np.random.default_rng(21)
    x = (rng.normal(size=(3, 4)) * 2).astype(dtype)
    x[0, :2] = [0.0, -1000.0]
    x64 = x.astype(np.float64)
    want = np.where(x64 > 0, x64, alpha * np.expm1(np.minimum(x64, 0)))
    got = ft.nn.elu(x, alpha)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14)
    # the slope is ans + alpha below 0: in float32 good to an ulp of alpha
    slope = np.where(x64 > 0, 1.0, alpha * np.exp(np.minimum(x64, 0)))
    tol = dict(rtol=1e-6, atol=1e-7 * alpha) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-16)
    g = ft.grad(lambda x: fnp.sum(ft.nn.elu(x, alpha)))(x)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, slope, **tol)
    _, t = ft.jvp(lambda x: ft.nn.elu(x, alpha), (x,), (np.ones_like(x),))
    assert t.dtype == dtype
    np.testing.assert_allclose(t, slope, **tol)
    smooth = x64[1:]                       # away from the kink at 0, where FD straddles it
    ft.check_grads(lambda x: ft.nn.elu(x, alpha), (smooth,), order=2)
    ft.check_grads(lambda x: ft.nn.elu(x, alpha) * x, (smooth,), order=2)
    second = ft.vmap(ft.grad(ft.grad(lambda v: ft.nn.elu(v, alpha))))(smooth.ravel())
    np.testing.assert_allclose(second, np.where(smooth.ravel() > 0, 0.0, alpha * np.exp(smooth.ravel())),
                               rtol=1e-12)
    for axis in (0, 1):
        loop = np.stack([ft.nn.elu(np.take(x, i, axis=axis), alpha) for i in range(x.shape[axis])])
        np.testing.assert_array_equal(ft.vmap(lambda r: ft.nn.elu(r, alpha), in_axes=axis)(x), loop)
        gl = np.stack([ft.grad(lambda r: fnp.sum(ft.nn.elu(r, alpha) ** 2))(np.take(x64, i, axis=axis))
                       for i in range(x.shape[axis])])
        np.testing.assert_allclose(
            ft.vmap(ft.grad(lambda r: fnp.sum(ft.nn.elu(r, alpha) ** 2)), in_axes=axis)(x64), gl, rtol=1e-12)


def test_elu_with_a_differentiated_or_array_alpha():
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    # d/dalpha elu(x, alpha) = expm1(x) where x <= 0, else 0.
    np.testing.assert_allclose(ft.jacrev(lambda a: ft.nn.elu(x, a))(0.7),
                               np.where(x > 0, 0.0, np.expm1(x)), rtol=1e-14)
    np.testing.assert_allclose(ft.grad(lambda a: fnp.sum(ft.nn.elu(x, a)))(0.7),
                               np.sum(np.where(x > 0, 0.0, np.expm1(x))), rtol=1e-14)
    ft.check_grads(lambda x, a: ft.nn.elu(x, a), (x[:2], 0.7), order=2)
    alphas = np.array([0.5, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(ft.nn.elu(x, alphas), np.where(x > 0, x, alphas * np.expm1(x)), rtol=1e-14)
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(ft.nn.elu(x, alphas)))(x),
                               np.where(x > 0, 1.0, alphas * np.exp(x)), rtol=1e-14)


def test_elu_of_integers_nan_and_infinities():
    assert ft.nn.elu(np.array([-1, 2])).dtype == np.float64
    np.testing.assert_array_equal(ft.nn.elu(np.array([np.inf, -np.inf, np.nan])), [np.inf, -1.0, np.nan])
    g = ft.grad(lambda x: fnp.sum(ft.nn.elu(x)))(np.array([np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(g, [1.0, 0.0, np.nan])


def test_sigmoid_softplus_closed_forms():
    x = np.linspace(-5, 5, 11)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(ft.nn.sigmoid(x), sig, rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.grad(ft.nn.sigmoid))(x), sig * (1 - sig), rtol=1e-10)
    np.testing.assert_allclose(ft.nn.softplus(x), np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.grad(ft.nn.softplus))(x), sig, rtol=1e-10)
    assert float(ft.nn.softplus(1000.0)) == 1000.0
    assert float(ft.nn.softplus(-1000.0)) == 0.0
    assert float(ft.grad(ft.nn.softplus)(1000.0)) == 1.0
    ft.check_grads(ft.nn.softplus, (x,), order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_accurate_in_both_tails_and_keeps_the_dtype(dtype):
    # The closed form in exact arithmetic: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below (floats of
    # twice the width), relative error a few eps even where the value underflows towards 0.
    x = np.array([-80.0, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, 80.0], dtype)
    wide = x.astype(np.longdouble)
    want = np.where(wide >= 0, 1 / (1 + np.exp(-wide)), np.exp(wide) / (1 + np.exp(wide)))
    got = ft.nn.sigmoid(x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.astype(np.longdouble), want, rtol=4 * np.finfo(dtype).eps)
    assert np.isnan(ft.nn.sigmoid(np.array(np.nan, dtype)))
    np.testing.assert_array_equal(ft.nn.sigmoid(np.array([-np.inf, np.inf], dtype)), [0.0, 1.0])
    mid = x[2:7]          # the rule s(1 - s) loses relative accuracy only in the upper tail
    s = 1 / (1 + np.exp(-mid.astype(np.float64)))
    np.testing.assert_allclose(ft.vmap(ft.grad(ft.nn.sigmoid))(mid), s * (1 - s),
                               rtol=64 * np.finfo(dtype).eps)


def test_softplus_and_logsumexp_derivatives_at_infinity_are_the_limits():
    inf = np.inf
    assert float(ft.grad(ft.nn.softplus)(inf)) == 1.0 and float(ft.grad(ft.nn.softplus)(-inf)) == 0.0
    assert float(ft.grad(ft.grad(ft.nn.softplus))(inf)) == 0.0
    lse = ft.nn.logsumexp
    for x, want in (([inf, 1.0, 2.0], [1.0, 0.0, 0.0]),         # one +inf: all of it there
                    ([inf, 1.0, inf], [0.5, 0.0, 0.5]),         # two: split as a tie
                    ([-inf, -inf], [0.5, 0.5]), ([-inf, 0.0], [0.0, 1.0])):
        x = np.array(x)
        with np.errstate(divide="ignore"):
            assert float(lse(x)) == np.log(np.sum(np.exp(x)))
            np.testing.assert_array_equal(ft.grad(lse)(x), want)
            np.testing.assert_array_equal(ft.hessian(lse)(x), np.zeros((x.size, x.size)))
    y = np.array([[inf, 1.0, 2.0], [0.0, 1.0, 2.0]])
    p = np.exp(y[1] - np.log(np.sum(np.exp(y[1]))))
    np.testing.assert_allclose(ft.vmap(ft.grad(lse))(y), [[1.0, 0.0, 0.0], p], rtol=1e-15)
    np.testing.assert_allclose(ft.jacrev(lambda y: lse(y, axis=1))(y)[1, 1], p, rtol=1e-15)


def test_logsumexp_stable_with_axis_and_keepdims():
    x = np.array([1000.0, 1000.0])
    assert float(ft.nn.logsumexp(x)) == pytest.approx(1000 + np.log(2), abs=1e-12)
    np.testing.assert_allclose(ft.grad(ft.nn.logsumexp)(x), [0.5, 0.5])
    assert float(ft.nn.logsumexp(np.array([-1000.0, -1000.0]))) == pytest.approx(-1000 + np.log(2))
    with np.errstate(divide="ignore"):
        assert float(ft.nn.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    rng = np.random.default_rng(9)
    y = rng.normal(size=(3, 4))
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            want = np.log(np.sum(np.exp(y), axis=axis, keepdims=keepdims))
            got = ft.nn.logsumexp(y, axis=axis, keepdims=keepdims)
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    ft.check_grads(lambda y: ft.nn.logsumexp(y, axis=1), (y,), order=2)
    # Its gradient is the softmax; its Hessian diag(p) - p p^T.
    p = np.exp(y[0]) / np.exp(y[0]).sum()
    np.testing.assert_allclose(ft.grad(ft.nn.logsumexp)(y[0]), p, rtol=1e-12)
    np.testing.assert_allclose(ft.hessian(ft.nn.logsumexp)(y[0]), np.diag(p) - np.outer(p, p), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((), None), ((4,), 0), ((3, 4), None), ((3, 4), 1),
                                         ((3, 4), -2), ((2, 3, 4), (0, 2))])
def test_logsumexp_primitive_value_derivatives_and_batching(shape, axis, dtype):
    rng = np.random.default_rng(11)
    y = (rng.normal(size=shape) * 3).astype(dtype)
    for keepdims in (False, True):
        want = np.log(np.sum(np.exp(y.astype(np.float64)), axis=axis, keepdims=keepdims))
        got = ft.nn.logsumexp(y, axis=axis, keepdims=keepdims)
        assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    y64 = y.astype(np.float64)
    ft.check_grads(lambda y: ft.nn.logsumexp(y, axis=axis), (y64,), order=2)
    ft.check_grads(lambda y: ft.nn.softmax(y, axis=axis), (y64,), order=2)
    if shape:      # vmap over every axis, against a loop
        for ax in range(-len(shape), len(shape)):
            f = lambda v: ft.nn.logsumexp(v, axis=-1 if v.ndim else None, keepdims=True)
            loop = np.stack([f(np.take(y64, i, axis=ax)) for i in range(shape[ax])])
            np.testing.assert_allclose(ft.vmap(f, in_axes=ax)(y64), loop, rtol=1e-12)
            gl = np.stack([ft.grad(lambda v: ft.nn.logsumexp(v))(np.take(y64, i, axis=ax))
                           for i in range(shape[ax])])
            np.testing.assert_allclose(ft.vmap(ft.grad(ft.nn.logsumexp), in_axes=ax)(y64), gl,
                                       rtol=1e-12)


def test_logsumexp_of_integers_is_a_float_and_softmax_sums_to_one_at_infinity():
    assert np.asarray(ft.nn.logsumexp(np.array([0, 0]))).dtype == np.float64
    assert float(ft.nn.logsumexp(np.array([0, 0]))) == pytest.approx(np.log(2))
    np.testing.assert_array_equal(ft.nn.softmax(np.array([np.inf, 0.0, np.inf])), [0.5, 0.0, 0.5])


def test_softmax_and_log_softmax():
    rng = np.random.default_rng(10)
    y = rng.normal(size=(3, 4)) * 3
    p = np.exp(y) / np.exp(y).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(ft.nn.softmax(y), p, rtol=1e-12)
    np.testing.assert_allclose(ft.nn.log_softmax(y), np.log(p), rtol=1e-12)
    np.testing.assert_allclose(ft.nn.softmax(y, axis=0), np.exp(y) / np.exp(y).sum(0), rtol=1e-12)
    np.testing.assert_allclose(ft.nn.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    J = ft.jacrev(ft.nn.softmax)(y[0])
    np.testing.assert_allclose(J, np.diag(p[0]) - np.outer(p[0], p[0]), atol=1e-12)
    ft.check_grads(ft.nn.softmax, (y,), order=2)
    ft.check_grads(ft.nn.log_softmax, (y,), order=2)


def test_softmax_cross_entropy_closed_forms():
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = -np.mean(np.log(p[np.arange(5), labels]))
    assert float(ft.nn.softmax_cross_entropy(logits, labels)) == pytest.approx(want, rel=1e-12)
    onehot = np.eye(4)[labels]
    assert float(ft.nn.softmax_cross_entropy(logits, onehot)) == pytest.approx(want, rel=1e-12)
    # The gradient w.r.t. the logits is (softmax - onehot) / batch.
    np.testing.assert_allclose(ft.grad(ft.nn.softmax_cross_entropy)(logits, labels),
                               (p - onehot) / 5, atol=1e-12)
    # A scaled loss: the seed reaches the rule as a NumPy scalar, not a 0-d array.
    np.testing.assert_allclose(ft.grad(lambda z: 3.0 * ft.nn.softmax_cross_entropy(z, labels))(logits),
                               3 * (p - onehot) / 5, atol=1e-12)
    ft.check_grads(lambda z: ft.nn.softmax_cross_entropy(z, labels), (logits,), order=2)
    # Soft labels; large logits stay finite.
    soft = rng.dirichlet(np.ones(4), size=5)
    assert float(ft.nn.softmax_cross_entropy(logits, soft)) == pytest.approx(
        -np.mean(np.sum(soft * np.log(p), -1)), rel=1e-12)
    assert np.isfinite(float(ft.nn.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))))
    with pytest.raises(ValueError, match="labels"):
        ft.nn.softmax_cross_entropy(logits, np.array([0, 1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 3, 4)])
def test_cross_entropy_primitive_value_derivatives_and_batching(shape, dtype):
    """The fused row cross-entropy against the composed closed form, its derivatives in both
    arguments to second order, and vmap over every axis against a loop."""
    rng = np.random.default_rng(14)
    logits = (rng.normal(size=shape) * 3).astype(dtype)
    soft = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]).astype(dtype)
    z64 = logits.astype(np.float64)
    log_p = z64 - np.log(np.sum(np.exp(z64), -1, keepdims=True))
    got = ft.nn.softmax_cross_entropy(logits, soft)
    assert np.asarray(got).dtype == dtype
    np.testing.assert_allclose(got, -np.mean(np.sum(soft * log_p, -1)),
                               rtol=1e-5 if dtype == np.float32 else 1e-13)
    # The gradient in the logits is (softmax - labels) / rows, in the labels -log_softmax / rows.
    rows = int(np.prod(shape[:-1]))
    g_logits, g_labels = ft.grad(ft.nn.softmax_cross_entropy, argnums=(0, 1))(logits, soft)
    assert g_logits.dtype == dtype and g_labels.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_logits, (np.exp(log_p) - soft) / rows, **tol)
    np.testing.assert_allclose(g_labels, -log_p / rows, **tol)
    # Labels that are not distributions: the gradient is softmax * (row mass) - labels.
    heavy = 2.5 * soft
    np.testing.assert_allclose(ft.grad(ft.nn.softmax_cross_entropy)(z64, heavy.astype(np.float64)),
                               (2.5 * np.exp(log_p) - heavy) / rows, rtol=1e-5, atol=1e-12)
    ft.check_grads(ft.nn.softmax_cross_entropy, (z64, soft.astype(np.float64)), order=2)
    ft.check_grads(lambda z: ft.nn.softmax_cross_entropy(z, soft.astype(np.float64)), (z64,), order=3)
    # Its Hessian in the logits: one block mass · (diag(p) - p pᵀ) / rows per row.
    p = np.exp(log_p).reshape(rows, -1)
    mass = soft.astype(np.float64).reshape(rows, -1).sum(-1)
    blocks = np.zeros((rows, shape[-1], rows, shape[-1]))
    for r in range(rows):
        blocks[r, :, r, :] = mass[r] * (np.diag(p[r]) - np.outer(p[r], p[r])) / rows
    hess = ft.hessian(lambda z: ft.nn.softmax_cross_entropy(z, soft.astype(np.float64)))(z64)
    np.testing.assert_allclose(hess.reshape(blocks.shape), blocks, rtol=1e-10, atol=1e-14)
    if len(shape) > 1:
        for ax in range(len(shape) - 1):
            for labels_axis in (ax, None):
                lab = soft.astype(np.float64)
                lab = lab if labels_axis is not None else np.take(lab, 0, axis=ax)
                f = lambda z, y: ft.nn.softmax_cross_entropy(z, y)
                args = [(np.take(z64, i, axis=ax), lab if labels_axis is None else np.take(lab, i, axis=ax))
                        for i in range(shape[ax])]
                np.testing.assert_allclose(ft.vmap(f, in_axes=(ax, labels_axis))(z64, lab),
                                           [f(*a) for a in args], rtol=1e-12)
                gl = [ft.grad(f)(*a) for a in args]
                np.testing.assert_allclose(ft.vmap(ft.grad(f), in_axes=(ax, labels_axis))(z64, lab),
                                           np.stack(gl), rtol=1e-12, atol=1e-15)


def _log_softmax64(z):
    """The closed form in float64, rows along the last axis."""
    s = z.astype(np.float64) - np.max(z, axis=-1, keepdims=True).astype(np.float64)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_ordinary_and_huge_row_maxima_matches_the_closed_form(dtype):
    """Finite row maxima take a short path (no errstate: every row total is at least 1), huge
    ones (whose square overflows the finiteness check) the careful one: both give the float64
    closed form, its gradient (softmax - labels) / rows and no floating-point warning, also
    for rows where every entry but the maximum underflows, labels of another float dtype and
    non-contiguous arrays."""
    huge = 1e30 if dtype == np.float32 else 1e200
    logits = np.array([[0.0, 2.0, -1.0, 0.5],
                       [5.0, -1e4, 50.0, 0.0],          # exp underflows but at the maximum
                       [huge, 0.0, 1.0, -huge / 2]], dtype)
    soft = np.random.default_rng(16).dirichlet(np.ones(4), size=3)
    tol = dict(rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for rows in (slice(0, 2), slice(2, 3), slice(0, 3)):
            z = logits[rows]
            log_p = _log_softmax64(z)
            for labels in (np.eye(4)[[1, 2, 0][rows]], soft[rows]):
                for y in (labels.astype(dtype), labels.astype(np.float64), labels.astype(np.float16)):
                    y64 = y.astype(np.float64)
                    got = ft.nn.softmax_cross_entropy(z, y)
                    assert np.asarray(got).dtype == np.result_type(dtype, y.dtype)
                    np.testing.assert_allclose(got, -np.mean(np.sum(y64 * log_p, -1)), **tol)
                    g = ft.grad(ft.nn.softmax_cross_entropy)(z, y)
                    assert g.dtype == dtype
                    np.testing.assert_allclose(g, (np.exp(log_p) - y64) / len(z), **tol)
            # The same from transposed (non-contiguous) views.
            zt, yt = np.ascontiguousarray(z.T).T, np.ascontiguousarray(soft[rows].T).T
            np.testing.assert_allclose(ft.nn.softmax_cross_entropy(zt, yt),
                                       -np.mean(np.sum(soft[rows] * log_p, -1)), **tol)
        # The softmax and log-sum-exp share the finiteness check.
        np.testing.assert_allclose(ft.nn.softmax(logits), np.exp(_log_softmax64(logits)), **tol)
        np.testing.assert_array_equal(ft.nn.logsumexp(logits[2]), dtype(huge))
        np.testing.assert_allclose(ft.grad(lambda v: fnp.sum(ft.nn.logsumexp(v, axis=-1)))(logits[1:]),
                                   np.exp(_log_softmax64(logits[1:])), **tol)


def test_cross_entropy_at_a_minus_infinite_logit_with_finite_row_maxima():
    """A logit of -inf in a row with a finite maximum: probability 0, an infinite loss if the
    labels put mass there, and a finite gradient (softmax - labels) / rows either way."""
    z = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -1.0]])
    p = np.exp(_log_softmax64(z))
    assert p[0, 1] == 0.0
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    with np.errstate(invalid="ignore"):
        assert float(ft.nn.softmax_cross_entropy(z, y)) == np.inf
        np.testing.assert_allclose(ft.grad(ft.nn.softmax_cross_entropy)(z, y), (p - y) / 2, rtol=1e-13)
        np.testing.assert_allclose(ft.grad(ft.nn.softmax_cross_entropy)(z, np.array([0, 0])),
                                   (p - np.eye(3)[[0, 0]]) / 2, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_classes_masked_by_minus_infinite_logits(dtype):
    """Classes masked with a -inf logit and label 0 cost nothing (0 * -inf counts as 0, as
    in optax): the loss is the closed form over the other classes in every path (the fused
    one, the careful one, vmap), with its finite gradient, tangents and Hessian, no warning;
    the derivative in a masked class's 0 label is 0."""
    z = np.array([[-np.inf, 0.0, 1.0], [0.5, -np.inf, 2.0], [0.1, 0.2, 0.3]], dtype)
    classes = np.array([1, 0, 2])
    y = np.eye(3, dtype=dtype)[classes]
    finite = np.isfinite(z)
    z64 = np.where(finite, z, 0.0).astype(np.float64)
    log_p = np.where(finite, z64 - np.log(np.sum(np.where(finite, np.exp(z64), 0.0), -1, keepdims=True)),
                     -np.inf)
    p, log_p0 = np.exp(log_p), np.where(finite, log_p, 0.0)       # log_p0: 0 where masked
    want = -np.mean(log_p[np.arange(3), classes])
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    ce = ft.nn.softmax_cross_entropy
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(ce(z[:1], y[:1]), 1.3132616875182228, **tol)   # log(1 + e)
        np.testing.assert_allclose(ce(z[:1], classes[:1]), 1.3132616875182228, **tol)
        np.testing.assert_allclose(ce(z, y), want, **tol)
        np.testing.assert_allclose(ce(z, classes), want, **tol)
        np.testing.assert_allclose(ce(z.astype(np.float64), y), want, **tol)
        assert ce(np.array([-np.inf, 0.0], dtype), np.array([0.0, 1.0], dtype)) == 0.0
        # soft labels, 0 on the masked classes
        soft = np.where(finite, np.array([[9.0, 1.0, 3.0], [1.0, 5.0, 1.0], [1.0, 2.0, 1.0]]), 0.0)
        soft = (soft / soft.sum(-1, keepdims=True)).astype(dtype)
        soft_want = -np.mean(np.sum(soft * log_p0, -1))
        np.testing.assert_allclose(ce(z, soft), soft_want, **tol)
        # gradients: (softmax - labels) / rows, 0 at the masked logits; finite differences
        g_z, g_y = ft.grad(ce, argnums=(0, 1))(z, soft)
        np.testing.assert_allclose(g_z, (p - soft) / 3, **tol)
        np.testing.assert_allclose(g_y, -log_p0 / 3, **tol)
        if dtype == np.float64:
            eps = 1e-6
            for i in zip(*np.nonzero(finite)):
                e = np.zeros_like(z)
                e[i] = eps
                fd = (ce(z + e, soft) - ce(z - e, soft)) / (2 * eps)
                np.testing.assert_allclose(g_z[i], fd, rtol=1e-7, atol=1e-10)
        # tangents, in the logits and in the labels (0 on the masked classes)
        t = np.where(finite, np.arange(9.0).reshape(3, 3) / 4, 0.0).astype(dtype)
        value, tangent = ft.jvp(lambda v: ce(v, soft), (z,), (t,))
        np.testing.assert_allclose(value, soft_want, **tol)
        np.testing.assert_allclose(tangent, np.sum(t * (p - soft)) / 3, **tol)
        _, tangent = ft.jvp(lambda w: ce(z, w), (soft,), (t,))
        np.testing.assert_allclose(tangent, -np.sum(t * log_p0) / 3, **tol)
        # the Hessian in the logits: mass (diag(p) - p pᵀ) / rows per row, finite
        hess = ft.hessian(lambda v: ce(v, soft))(z)
        blocks = np.zeros((3, 3, 3, 3))
        for r in range(3):
            blocks[r, :, r, :] = (np.diag(p[r]) - np.outer(p[r], p[r])) / 3
        np.testing.assert_allclose(hess, blocks, **tol)
        # vmap over examples (the composed form) against a loop, values and gradients
        zs, ys = z[:, None, :], soft[:, None, :]
        loop = [ce(a, b) for a, b in zip(zs, ys)]
        np.testing.assert_allclose(ft.vmap(ce)(zs, ys), loop, **tol)
        np.testing.assert_allclose(ft.vmap(ce)(zs, classes[:, None]), -log_p[np.arange(3), classes], **tol)
        for argnums in (0, 1):
            loop = np.stack([ft.grad(ce, argnums)(a, b) for a, b in zip(zs, ys)])
            np.testing.assert_allclose(ft.vmap(ft.grad(ce, argnums))(zs, ys), loop, **tol)
        loop = np.stack([ft.hessian(ce)(a, b) for a, b in zip(zs, ys)])
        np.testing.assert_allclose(ft.vmap(ft.hessian(ce))(zs, ys), loop, **tol)
        # log_softmax and softmax: -inf and 0 at the masked entries, the closed form elsewhere
        np.testing.assert_allclose(ft.nn.log_softmax(z), log_p, **tol)
        np.testing.assert_allclose(ft.nn.softmax(z), p, **tol)
    # A label on a masked class is an infinite cross-entropy, in every path.
    y_bad = np.eye(3, dtype=dtype)[[0, 1, 2]]
    with np.errstate(invalid="ignore"):
        assert float(ce(z, y_bad)) == np.inf
        per_example = ft.vmap(ce)(zs, y_bad[:, None, :])
    assert list(per_example[:2]) == [np.inf, np.inf]
    np.testing.assert_allclose(per_example[2], -log_p[2, 2], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_primitive_derivatives_batching_and_infinite_entries(dtype):
    rng = np.random.default_rng(15)
    y = (rng.normal(size=(3, 4, 5)) * 3).astype(dtype)
    for axis in (0, 1, -1, (0, 2), None):
        e = np.exp(y.astype(np.float64) - np.max(y, axis=axis, keepdims=True))
        got = ft.nn.softmax(y, axis=axis)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, e / e.sum(axis=axis, keepdims=True),
                                   rtol=1e-5 if dtype == np.float32 else 1e-13)
    y64 = y.astype(np.float64)
    ft.check_grads(lambda v: ft.nn.softmax(v, axis=1), (y64,), order=3)
    # Its Jacobian along a row is diag(s) - s sᵀ.
    s = ft.nn.softmax(y64[0, 0])
    np.testing.assert_allclose(ft.jacrev(ft.nn.softmax)(y64[0, 0]), np.diag(s) - np.outer(s, s), atol=1e-15)
    np.testing.assert_allclose(ft.jacfwd(ft.nn.softmax)(y64[0, 0]), np.diag(s) - np.outer(s, s), atol=1e-15)
    for ax in range(3):
        f = lambda v: ft.nn.softmax(v, axis=0)
        loop = np.stack([f(np.take(y64, i, axis=ax)) for i in range(y.shape[ax])])
        np.testing.assert_allclose(ft.vmap(f, in_axes=ax)(y64), loop, rtol=1e-13)
        jl = np.stack([ft.jacrev(lambda v: f(v)[1])(np.take(y64, i, axis=ax)) for i in range(y.shape[ax])])
        np.testing.assert_allclose(ft.vmap(ft.jacrev(lambda v: f(v)[1]), in_axes=ax)(y64), jl, rtol=1e-12,
                                   atol=1e-15)
    # At an infinite maximum: the limit, and a zero derivative (x + t has the same softmax).
    inf = np.array([[np.inf, 1.0, np.inf], [0.0, 1.0, 2.0]], dtype)
    with np.errstate(invalid="ignore"):
        out = ft.nn.softmax(inf)
        jac = ft.jacrev(ft.nn.softmax)(inf)
    np.testing.assert_array_equal(out[0], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(jac[0], np.zeros((3, 2, 3)))
    np.testing.assert_allclose(jac[1, :, 1], np.diag(out[1]) - np.outer(out[1], out[1]), atol=1e-6)
    np.testing.assert_array_equal(ft.nn.softmax(np.array([-np.inf, -np.inf], dtype)), [0.5, 0.5])


def test_mean_squared_error_closed_form():
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert float(ft.nn.mean_squared_error(a, b)) == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)
    np.testing.assert_allclose(ft.grad(ft.nn.mean_squared_error)(a, b), 2 * (a - b) / 12, atol=1e-12)


def test_bias_add_rules():
    rng = np.random.default_rng(13)
    x, b = rng.normal(size=(3, 4, 5)), rng.normal(size=5)
    ft.check_grads(ft.nn.bias_add, (x, b), order=2)
    bs = rng.normal(size=(3, 5))
    np.testing.assert_allclose(ft.vmap(ft.nn.bias_add)(x, bs), x + bs[:, None, :])
    np.testing.assert_allclose(ft.vmap(ft.nn.bias_add, (None, 0))(x[0], bs), x[0] + bs[:, None, :])
    np.testing.assert_allclose(ft.vmap(ft.nn.bias_add, (2, None))(x, b[:4]),
                               np.moveaxis(x, 2, 0) + b[:4])
    J = ft.jacrev(ft.nn.bias_add, 1)(x, b)
    np.testing.assert_array_equal(J, np.broadcast_to(np.eye(5), (3, 4, 5, 5)))


# ---------------------------------------------------------------------------------------
# Modules as pytrees.

class Affine(ft.nn.Module):
    a: np.ndarray
    b: np.ndarray
    name: str = "affine"
    scale: float = 2.0

    def __call__(self, x):
        return self.scale * (self.a * x + self.b)


def test_module_is_a_dataclass_pytree_with_static_fields():
    m = Affine(np.array(2.0), np.array(1.0))
    leaves, treedef = ft.tree.flatten(m)
    assert [float(v) for v in leaves] == [2.0, 1.0]
    assert "name" not in repr(leaves)
    rebuilt = ft.tree.unflatten(treedef, [np.array(5.0), np.array(6.0)])
    assert type(rebuilt) is Affine and float(rebuilt.a) == 5.0 and rebuilt.name == "affine"
    assert rebuilt.scale == 2.0
    # Static fields are part of the structure.
    assert ft.tree.structure(Affine(np.array(0.0), np.array(0.0), "other")) != treedef
    assert ft.tree.structure(Affine(np.array(7.0), np.array(8.0))) == treedef
    # A tree of anything mapped over a module flattens like the module (vmap's in_axes).
    axes = ft.tree.map(lambda _: None, m)
    assert ft.tree.structure(axes, is_leaf=lambda v: v is None) == treedef and axes.a is None
    g = ft.grad(lambda m, x: m(x))(m, 3.0)
    assert type(g) is Affine and float(g.a) == 6.0 and float(g.b) == 2.0 and g.name == "affine"


def test_module_nested_lists_dicts_and_custom_init():
    class Net(ft.nn.Module):
        layers: list
        extra: dict
        act: object = None

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x * self.extra["gain"]

    rng = np.random.default_rng(14)
    net = Net([ft.nn.Dense(3, 4, rng=rng), ft.nn.Dense(4, 2, rng=rng)], {"gain": np.array(1.5)},
              ft.nn.relu)
    leaves = ft.tree.leaves(net)
    assert len(leaves) == 5                        # 2 kernels, 2 biases, the gain
    g = ft.grad(lambda n: fnp.sum(n(np.ones((2, 3), np.float32))))(net)
    assert isinstance(g, Net) and isinstance(g.layers[1], ft.nn.Dense) and g.act is ft.nn.relu
    assert g.layers[0].kernel.shape == (3, 4) and g.layers[0].kernel.dtype == np.float32

    class Scaled(ft.nn.Dense):                    # inherits Dense's __init__
        pass
    s = Scaled(2, 3, rng=rng)
    assert s.kernel.shape == (2, 3) and len(ft.tree.leaves(s)) == 2
    # vmap over an ensemble of models: in_axes given as a Module-shaped prefix.
    models = ft.tree.map(lambda *xs: np.stack(xs), ft.nn.Dense(3, 2, rng=rng), ft.nn.Dense(3, 2, rng=rng))
    out = ft.vmap(lambda m, x: m(x), (0, None))(models, np.ones((5, 3), np.float32))
    assert out.shape == (2, 5, 2)


def test_dense_and_conv2d_layers():
    rng = np.random.default_rng(15)
    dense = ft.nn.Dense(2, 10, activation=ft.nn.relu, rng=rng)
    assert dense.kernel.shape == (2, 10) and dense.bias.shape == (10,)
    limit = np.sqrt(6 / 12)
    assert np.abs(dense.kernel).max() <= limit
    x = rng.normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(dense(x), np.maximum(x @ dense.kernel + dense.bias, 0), rtol=1e-6)
    conv = ft.nn.Conv2D((5, 5, 3, 6), rng=rng)
    assert conv(np.zeros((10, 16, 16, 3), np.float32)).shape == (10, 12, 12, 6)
    conv = ft.nn.Conv2D((3, 3, 2, 4), strides=(2, 2), padding="SAME", activation=ft.nn.elu, rng=rng)
    xi = rng.normal(size=(2, 7, 7, 2))
    want = naive_conv(xi, conv.filter, (2, 2), (same_padding(7, 3, 2),) * 2) + conv.bias
    np.testing.assert_allclose(conv(xi), np.where(want > 0, want, np.expm1(want)), rtol=1e-5, atol=1e-6)
    ft.check_grads(lambda c: c(xi), (ft.tree.map(lambda p: p.astype(np.float64), conv),), order=2)


def test_remat_layer_same_values_and_gradients():
    pytest.importorskip("functrans.checkpointing")
    rng = np.random.default_rng(16)
    conv = ft.nn.Conv2D((3, 3, 2, 3), rng=rng)
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    plain = ft.nn.Sequential([conv, ft.nn.MaxPool2D(), ft.nn.Flatten()])
    wrapped = ft.nn.Sequential([ft.nn.Remat(conv), ft.nn.MaxPool2D(), ft.nn.Flatten()])
    np.testing.assert_allclose(wrapped(x), plain(x), rtol=1e-6)
    g1 = ft.grad(lambda m: fnp.sum(m(x) ** 2))(plain)
    g2 = ft.grad(lambda m: fnp.sum(m(x) ** 2))(wrapped)
    np.testing.assert_allclose(g2.layers[0].layer.filter, g1.layers[0].filter, rtol=1e-5)
    assert isinstance(g2.layers[0], ft.nn.Remat)


def test_sequential_wraps_functions():
    rng = np.random.default_rng(17)
    model = ft.nn.Sequential([ft.nn.Dense(2, 8, rng=rng), ft.nn.relu, ft.nn.Dense(8, 1, rng=rng)])
    assert len(ft.tree.leaves(model)) == 4 and len(model) == 3
    assert model(np.zeros((4, 2), np.float32)).shape == (4, 1)


# ---------------------------------------------------------------------------------------
# Training and optimizers.

def test_xor_mlp_trains_with_sgd():
    """The MLP of Swift's tutorial (2 -> 10 relu -> 1), trained on XOR to a low loss."""
    rng = np.random.default_rng(0)
    model = ft.nn.Sequential([ft.nn.Dense(2, 10, activation=ft.nn.relu, rng=rng),
                              ft.nn.Dense(10, 1, rng=rng)])
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)
    opt = ft.optim.SGD(learning_rate=0.1)
    state = opt.init(model)
    loss = lambda m: ft.nn.mean_squared_error(m(x), y)  # noqa: E731
    first = float(loss(model))
    for _ in range(1000):
        grads = ft.grad(loss)(model)
        model, state = opt.update(model, grads, state)
    assert float(loss(model)) < 1e-3 < first
    assert model.layers[0].kernel.dtype == np.float32
    np.testing.assert_allclose(model(x), y, atol=0.1)


def test_cnn_trains_like_the_swift_tutorial():
    rng = np.random.default_rng(0)
    model = ft.nn.Sequential([ft.nn.Conv2D((5, 5, 3, 6), rng=rng), ft.nn.MaxPool2D((2, 2), strides=(2, 2)),
                              ft.nn.Flatten(), ft.nn.Dense(36 * 6, 10, rng=rng)])
    x = rng.normal(size=(10, 16, 16, 3)).astype(np.float32)
    y = np.arange(10)
    opt = ft.optim.SGD()
    state = opt.init(model)
    losses = []
    for _ in range(5):
        loss, grads = ft.value_and_grad(lambda m: ft.nn.softmax_cross_entropy(m(x), y))(model)
        model, state = opt.update(model, grads, state)
        losses.append(float(loss))
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_sgd_update_rule_and_momentum():
    params = {"w": np.array([1.0, -2.0])}
    grads = {"w": np.array([0.5, 1.0])}
    opt = ft.optim.SGD(learning_rate=0.1)
    new, _ = opt.update(params, grads, opt.init(params))
    np.testing.assert_allclose(new["w"], [0.95, -2.1])
    opt = ft.optim.SGD(learning_rate=0.1, momentum=0.9)
    state = opt.init(params)
    p1, state = opt.update(params, grads, state)
    p2, state = opt.update(p1, grads, state)
    # v1 = -0.1 g; v2 = 0.9 v1 - 0.1 g = -0.19 g
    np.testing.assert_allclose(p2["w"], params["w"] - 0.29 * grads["w"])
    with pytest.raises(ValueError, match="structure"):
        opt.update(params, {"v": grads["w"]}, state)


def test_adam_first_step_and_quadratic():
    opt = ft.optim.Adam(learning_rate=0.1)
    params = (np.array([3.0, -4.0]),)
    state = opt.init(params)
    g = ft.grad(lambda p: fnp.sum(p[0] ** 2))(params)
    p1, state = opt.update(params, g, state)
    # The first bias-corrected step is lr * sign(g) (up to eps).
    np.testing.assert_allclose(p1[0], [2.9, -3.9], rtol=1e-6)

    center = np.array([1.0, -2.0, 0.5])
    f = lambda p: fnp.sum((p["x"] - center) ** 2 * np.array([1.0, 10.0, 0.1]))  # noqa: E731
    params = {"x": np.zeros(3)}
    state = opt.init(params)
    values = [float(f(params))]
    for _ in range(300):
        params, state = opt.update(params, ft.grad(f)(params), state)
        values.append(float(f(params)))
    assert values[-1] < 1e-3 * values[0]
    np.testing.assert_allclose(params["x"], center, atol=0.05)


def test_optimizer_keeps_float32():
    rng = np.random.default_rng(18)
    model = ft.nn.Dense(3, 2, rng=rng)
    for opt in (ft.optim.SGD(0.1, momentum=0.5), ft.optim.Adam()):
        state = opt.init(model)
        grads = ft.tree.map(lambda p: np.ones(p.shape), model)     # float64 gradients
        new, state = opt.update(model, grads, state)
        assert all(leaf.dtype == np.float32 for leaf in ft.tree.leaves(new))


# ---------------------------------------------------------------------------------------
# API.md's sentences on functrans.nn, one test each where the tests above do not say it.

def test_module_tuple_fields_are_children_and_static_fields_are_not():
    class Pair(ft.nn.Module):
        weights: tuple
        names: tuple = ("a", "b")           # a tuple of strings: static
        act: object = None

        def __call__(self, x):
            return self.weights[0] * x + self.weights[1]

    m = Pair((np.array(2.0), np.array(1.0)), act=ft.nn.relu)
    assert len(ft.tree.leaves(m)) == 2
    g = ft.grad(lambda m: m(3.0))(m)
    assert isinstance(g.weights, tuple) and [float(v) for v in g.weights] == [3.0, 1.0]
    assert g.names == ("a", "b") and g.act is ft.nn.relu
    assert ft.tree.structure(Pair((np.array(0.0), np.array(0.0)), ("c", "d"))) != ft.tree.structure(m)


def test_conv2d_default_is_a_stride_1_valid_cross_correlation_plus_bias():
    rng = np.random.default_rng(20)
    conv = ft.nn.Conv2D((3, 2, 2, 3), rng=rng, dtype=np.float64)
    conv.bias = rng.normal(size=3)
    assert conv.filter.shape == (3, 2, 2, 3) and conv.strides == (1, 1) and conv.padding == "VALID"
    x = rng.normal(size=(2, 5, 4, 2))
    np.testing.assert_allclose(conv(x), naive_conv(x, conv.filter) + conv.bias, rtol=1e-12)
    # Its gradient with respect to the bias is the sum over batch and pixels of the cotangent.
    w = rng.normal(size=(2, 3, 3, 3))
    g = ft.grad(lambda c: fnp.sum(c(x) * w))(conv)
    np.testing.assert_allclose(g.bias, w.sum(axis=(0, 1, 2)), rtol=1e-12)


def test_batchnorm_learns_scale_and_offset():
    """d/dscale sum(w * bn(x)) = sum(w * x_hat) and d/doffset = sum(w), over every axis but the last."""
    rng = np.random.default_rng(21)
    x = rng.normal(1.0, 3.0, size=(6, 3, 4))
    w = rng.normal(size=x.shape)
    bn = ft.nn.BatchNorm(4, epsilon=1e-5, dtype=np.float64)
    x_hat = (x - x.mean(axis=(0, 1))) / np.sqrt(x.var(axis=(0, 1)) + 1e-5)
    g = ft.grad(lambda bn: fnp.sum(bn(x) * w))(bn)
    np.testing.assert_allclose(g.scale, np.sum(w * x_hat, axis=(0, 1)), rtol=1e-10)
    np.testing.assert_allclose(g.offset, np.sum(w, axis=(0, 1)), rtol=1e-12)
    assert [leaf.shape for leaf in ft.tree.leaves(bn)] == [(4,), (4,)]


def test_remat_layer_is_applied_again_in_the_backward_pass():
    calls = []

    class Logged(ft.nn.Conv2D):
        def __call__(self, x):
            calls.append(1)
            return super().__call__(x)

    rng = np.random.default_rng(22)
    model = ft.nn.Sequential([ft.nn.Remat(Logged((3, 3, 1, 2), rng=rng)), ft.nn.Flatten()])
    x = rng.normal(size=(2, 5, 5, 1)).astype(np.float32)
    logits, pullback = ft.value_and_pullback(lambda m: m(x), model)
    assert len(calls) == 1
    (g,) = pullback(np.ones_like(logits))
    assert len(calls) == 2                 # recomputed, not saved
    plain = ft.grad(lambda m: fnp.sum(m(x)))(ft.nn.Sequential([model.layers[0].layer, ft.nn.Flatten()]))
    np.testing.assert_allclose(g.layers[0].layer.filter, plain.layers[0].filter, rtol=1e-6)


def test_layers_are_reproducible_from_their_generator():
    a = ft.nn.Dense(3, 4, rng=np.random.default_rng(5))
    b = ft.nn.Dense(3, 4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.kernel, b.kernel)
    other = ft.nn.Dense(3, 4, rng=np.random.default_rng(6))
    assert a.kernel.dtype == np.float32 and not np.array_equal(a.kernel, other.kernel)


def test_adam_two_steps_closed_form():
    opt = ft.optim.Adam(learning_rate=0.01, b1=0.9, b2=0.999, eps=1e-8)
    p = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, 2.0]), np.array([-1.0, 1.0])
    state = opt.init(p)
    p1, state = opt.update(p, g1, state)
    p2, state = opt.update(p1, g2, state)
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1 ** 2) + 0.001 * g2 ** 2
    step1 = 0.01 * g1 / (np.abs(g1) + 1e-8)
    step2 = 0.01 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(p2, p - step1 - step2, rtol=1e-12)
    assert state.step == 2


def test_layer_input_errors_name_the_layer_and_the_shapes():
    rng = np.random.default_rng(23)
    with pytest.raises(ValueError, match=r"Dense: the input's last axis must hold 2 features, got an input "
                                         r"of shape \(4, 3\)"):
        ft.nn.Dense(2, 10, rng=rng)(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm: the input's last axis must hold 3 features, got an "
                                         r"input of shape \(4, 5\)"):
        ft.nn.BatchNorm(3)(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"MaxPool2D: images must be NHWC \(4-d\) or HWC \(3-d\), got "
                                         r"shape \(8, 8\)"):
        ft.nn.MaxPool2D((2, 2))(np.ones((8, 8)))
    with pytest.raises(ValueError, match=r"AvgPool2D: images must be NHWC"):
        ft.nn.AvgPool2D((2, 2))(np.ones(8))
    with pytest.raises(TypeError, match=r"Sequential: layer 1 must be a Module or a function, got int 3"):
        ft.nn.Sequential([ft.nn.relu, 3])
    with pytest.raises(ValueError, match=r"SGD: learning_rate and momentum must be >= 0, got -1"):
        ft.optim.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match=r"Adam: b1 and b2 must be in \[0, 1\), got 1.0"):
        ft.optim.Adam(b1=1.0)
    # The same checks hold under transforms (the shapes are the per-example ones under vmap).
    layer = ft.nn.Dense(2, 3, rng=rng)
    assert ft.vmap(layer)(np.ones((5, 2), np.float32)).shape == (5, 3)
    with pytest.raises(ValueError, match=r"Dense: the input's last axis must hold 2 features"):
        ft.grad(lambda x: fnp.sum(layer(x)))(np.ones((4, 3), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [4, 1])
def test_conv_filter_larger_than_output(dtype, channels):
    """The shape of a filter cotangent (windows and taps swapped internally), on views too;
    one channel (a first layer's: runs of ``wo * n = 3`` elements, the transposed copy)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 7, 6, channels)).astype(dtype).transpose(3, 1, 2, 0)   # a view
    w = rng.normal(size=(5, 4, 2, 3)).astype(dtype).transpose(0, 1, 3, 2)   # (5, 4, 3, 2) view
    for padding in (((0, 0), (0, 0)), ((1, 0), (0, 1))):
        got = conv2d_p.bind(x, w, strides=(1, 1), padding=padding, lhs_dilation=(1, 1),
                            rhs_dilation=(1, 1), groups=1)
        assert got.dtype == dtype
        want = naive_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), padding)
        assert got.shape == want.shape and got.shape[1] * got.shape[2] < 5 * 4
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


def test_conv_gradients_through_the_swapped_filter_cotangent():
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(4, 6, 5, 3)), rng.normal(size=(3, 3, 3, 2))
    f = lambda x, w: conv2d(x, w, padding="SAME")
    ft.check_grads(f, (x, w), order=2)
    # the filter cotangent against its closed form: sum over examples and positions
    ct = rng.normal(size=(4, 6, 5, 2))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.stack([np.stack([np.einsum("nhwc,nhwo->co", xp[:, i:i + 6, j:j + 5], ct)
                               for j in range(3)]) for i in range(3)])
    np.testing.assert_allclose(ft.vjp(lambda w: f(x, w), w)[1](ct)[0], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [None, 1, 24000])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_wide_filter_cotangent_channel_first(block_bytes, padding, channels, monkeypatch):
    """Cotangents at least 8 wide: the filter cotangent gathers channel-first patches (one
    channel) or patches in the images' layout (three), in one block, one example per block,
    and blocks of two or three with a shorter last one, against its closed form; derivatives
    to second order."""
    from functrans.nn import conv as conv_module
    if block_bytes is not None:
        monkeypatch.setattr(conv_module, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(18)
    x = rng.normal(size=(5, 11, 10, channels)).astype(np.float32)
    w = rng.normal(size=(3, 3, channels, 4)).astype(np.float32)
    f = lambda x, w: conv2d(x, w, padding=padding)
    y, pullback = ft.vjp(f, x, w)
    assert y.shape[2] >= 8
    ct = rng.normal(size=y.shape).astype(np.float32)
    pad = 1 if padding == "SAME" else 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = y.shape[1:3]
    want = np.stack([np.stack([np.einsum("nhwc,nhwo->co", xp[:, i:i + ho, j:j + wo], ct)
                               for j in range(3)]) for i in range(3)])
    got = pullback(ct)[1]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    ft.check_grads(f, (x[:2].astype(np.float64), w[:, :, :, :2].astype(np.float64)), order=2)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[4] == 1])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_conv_patch_copies_match_naive(config, channels):
    """Both ways of copying patches (per tap for rows under 8 elements, whole rows else)."""
    strides, padding, lhs, rhs, _, _, cout = config
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 8, channels)).astype(np.float32)
    w = rng.normal(size=(3, 3, channels, cout)).astype(np.float32)
    got = conv2d_p.bind(x, w, strides=strides, padding=padding, lhs_dilation=lhs,
                        rhs_dilation=rhs, groups=1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, naive_conv(x.astype(np.float64), w.astype(np.float64), strides,
                                               padding, lhs, rhs, 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", CONFIGS)
def test_conv_in_blocks_of_examples_matches_naive(config, monkeypatch):
    """One example per block (the paths that work a block of examples at a time), to 2nd order."""
    from functrans.nn import conv as conv_module
    monkeypatch.setattr(conv_module, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv_module, "_ROW_BLOCK_BYTES", 1)
    strides, padding, lhs, rhs, groups, cin, cout = config
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 6, 5, cin * groups))
    w = rng.normal(size=(3, 2, cin, cout))

    def f(x, w):
        return conv2d_p.bind(x, w, strides=strides, padding=padding, lhs_dilation=lhs,
                             rhs_dilation=rhs, groups=groups)
    np.testing.assert_allclose(f(x, w), naive_conv(x, w, strides, padding, lhs, rhs, groups),
                               rtol=1e-12, atol=1e-12)
    ft.check_grads(f, (x, w), order=2)


def test_relu_derivative_propagates_nan_and_batches():
    x = np.array([-1.0, 0.0, np.nan, 2.0], np.float32)
    g = ft.grad(lambda x: fnp.sum(ft.nn.relu(x)))(x)
    np.testing.assert_array_equal(g, np.array([0, 0, np.nan, 1], np.float32))
    assert g.dtype == np.float32
    _, t = ft.jvp(ft.nn.relu, (x,), (np.full(4, 3.0, np.float32),))
    np.testing.assert_array_equal(t, [0, 0, np.nan, 3])
    xs = np.random.default_rng(14).normal(size=(3, 5))
    per_row = ft.vmap(ft.grad(lambda r: fnp.sum(ft.nn.relu(r) ** 2)))(xs)
    np.testing.assert_allclose(per_row, 2 * np.maximum(xs, 0))
    ft.check_grads(lambda x: ft.nn.relu(x) * x, (xs,), order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(32, 12, 12, 16), (4097,), (64, 65)])
@pytest.mark.filterwarnings("ignore:invalid value encountered")     # inf * 0 on purpose
def test_relu_large_arrays(shape, dtype):
    """Big contiguous arrays take the row-of-constants paths of relu and its derivative
    (4097 elements: odd, the plain paths; 64 * 65: rows of 64)."""
    rng = np.random.default_rng(16)
    x = rng.normal(size=shape).astype(dtype)
    flat = x.reshape(-1)
    flat[:7] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45]
    want = np.where(np.isnan(x), np.nan, np.where(x > 0, x, 0)).astype(dtype)
    y = ft.nn.relu(x)
    np.testing.assert_array_equal(y, want)
    assert y.dtype == dtype and not np.signbit(y.reshape(-1)[1])
    ct = rng.normal(size=shape).astype(dtype)
    ct.reshape(-1)[7] = np.inf                   # inf times a zero derivative: NaN, as ct * 0
    y, pullback = ft.vjp(ft.nn.relu, x)
    g = pullback(ct)[0]
    closed = np.where(np.isnan(x), np.nan, ct * (x > 0)).astype(dtype)
    np.testing.assert_array_equal(g, closed)
    assert g.dtype == dtype
    _, t = ft.jvp(ft.nn.relu, (x,), (ct,))
    np.testing.assert_array_equal(t, closed)
    # the derivative of the derivative (linear in the cotangent): the same mask again
    _, pb2 = ft.vjp(lambda c: pullback(c)[0], ct)
    np.testing.assert_array_equal(pb2(ct)[0], closed)
    x = np.nan_to_num(x, posinf=3.0, neginf=-3.0)          # relu'(-inf) * -inf would be NaN
    batched = ft.vmap(lambda r: ft.grad(lambda r: fnp.sum(ft.nn.relu(r) * r))(r))(x)
    np.testing.assert_allclose(batched, 2 * np.maximum(x, 0), rtol=1e-6)


@pytest.mark.parametrize("shape", [(64, 9, 16), (7, 13, 11), (2, 4096)])
def test_bias_add_large_arrays(shape):
    """Large arrays take the tiled-bias path; views and odd sizes the plain one."""
    rng = np.random.default_rng(15)
    x = rng.normal(size=shape).astype(np.float32)
    b = rng.normal(size=shape[-1]).astype(np.float32)
    for xv in (x, x[::-1], np.asfortranarray(x)):
        got = ft.nn.bias_add(xv, b)
        assert got.dtype == np.float32 and got.shape == xv.shape
        np.testing.assert_array_equal(got, xv + b)
    assert ft.nn.bias_add(x, b.astype(np.float64)).dtype == np.float64


def _window_max_closed_form(x, ct, t, p):
    """Per window (p x p tiles): the max; ct shared by its maxima; t averaged over them
    (a window holding NaN: NaN everywhere)."""
    n, h, w, c = x.shape
    out, grad, tan = (np.zeros((n, h // p, w // p, c)), np.zeros(x.shape),
                      np.zeros((n, h // p, w // p, c)))
    for b, i, j, k in np.ndindex(out.shape):
        win = x[b, i * p:(i + 1) * p, j * p:(j + 1) * p, k]
        if np.isnan(win).any():
            out[b, i, j, k] = tan[b, i, j, k] = np.nan
            grad[b, i * p:(i + 1) * p, j * p:(j + 1) * p, k] = np.nan
            continue
        hit = win == win.max()
        out[b, i, j, k] = win.max()
        grad[b, i * p:(i + 1) * p, j * p:(j + 1) * p, k] = hit * ct[b, i, j, k] / hit.sum()
        tan[b, i, j, k] = (t[b, i * p:(i + 1) * p, j * p:(j + 1) * p, k] * hit).sum() / hit.sum()
    return out, grad, tan


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")   # the NaN window
@pytest.mark.parametrize("case", ["distinct", "relu ties", "nan", "3x3 ties"])
def test_maxpool_tie_free_and_tied_paths(case):
    """Distinct maxima skip counting them (one count of all hits); ties (relu's zeros) and
    NaN windows (no hit at all) take the counting path. Values, the cotangent and the
    tangent against per-window loops, in float32."""
    rng = np.random.default_rng(17)
    p = 3 if case == "3x3 ties" else 2
    x = rng.normal(size=(3, 6, 12, 5)).astype(np.float32)
    if case == "distinct":         # values 0.1 apart: finite differences cross no kink
        x = (rng.permutation(x.size).reshape(x.shape) * 0.1 - 50).astype(np.float32)
    else:
        x = np.maximum(x, 0)
    if case == "nan":
        x[1, 2, 3, 4] = np.nan
    ct = rng.normal(size=(3, 6 // p, 12 // p, 5)).astype(np.float32)
    t = rng.normal(size=x.shape).astype(np.float32)
    out, grad, tan = _window_max_closed_form(x.astype(np.float64), ct, t, p)
    pool = ft.nn.MaxPool2D((p, p))
    y, pullback = ft.vjp(pool, x)
    np.testing.assert_array_equal(y, out.astype(np.float32))
    g = pullback(ct)[0]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, grad, rtol=1e-6)
    _, t_out = ft.jvp(pool, (x,), (t,))
    np.testing.assert_allclose(t_out, tan, rtol=1e-5, atol=1e-6)
    if case == "distinct":         # ties are kinks: no finite differences there
        ft.check_grads(lambda x: pool(x) * x[:, ::p, ::p], (x.astype(np.float64),), order=2)


def test_maxpool_tiled_windows_batch_and_forward_mode():
    """The tiled path's primitives under vmap and jvp, against per-example loops, ties included."""
    rng = np.random.default_rng(16)
    xs = rng.normal(size=(3, 2, 4, 6, 2))
    xs[0, 0, :2, :2] = 1.5                               # tied maxima share the derivative
    pool = ft.nn.MaxPool2D((2, 2))
    loss = lambda x: fnp.sum(pool(x) ** 2)
    np.testing.assert_allclose(ft.vmap(ft.grad(loss))(xs), np.stack([ft.grad(loss)(x) for x in xs]))
    np.testing.assert_allclose(ft.vmap(pool)(xs), np.stack([pool(x) for x in xs]))
    np.testing.assert_allclose(ft.jacfwd(pool)(xs[0]), ft.jacrev(pool)(xs[0]), atol=1e-12)
    g = ft.grad(lambda x: fnp.sum(pool(x)))(xs[0])
    np.testing.assert_allclose(g[0, :2, :2], np.full((2, 2, 2), 0.25))
    ft.check_grads(lambda x: pool(x) * x[:, ::2, ::2], (xs[1],), order=2)
    hv = ft.vmap(lambda v: ft.jvp(ft.grad(loss), (xs[2],), (v,))[1])(xs)
    np.testing.assert_allclose(hv, np.stack([ft.jvp(ft.grad(loss), (xs[2],), (v,))[1] for v in xs]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_conv_gather_copies_overlapping_views_exactly(dtype):
    """Patches copied run by run (one opaque element per last-axis run) equal NumPy's copy,
    for overlapping windows, reversed and strided outer axes, a strided last axis and one element."""
    from numpy.lib.stride_tricks import as_strided
    from functrans.nn.conv import _gather
    x = np.arange(2 * 7 * 6 * 3).astype(dtype).reshape(2, 7, 6, 3)
    s0, s1, s2, s3 = x.strides
    views = [as_strided(x, (2, 5, 4, 3, 9), (s0, s1, s2, s1, s3)),   # overlapping windows
             x[:, ::-2, 1:],                                          # reversed, strided rows
             x[..., ::2],                                             # strided last axis
             x[:, :, :, :1], x[0, 0, 0, 0]]
    for v in views:
        got = _gather(v)
        assert got.flags.c_contiguous and got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, np.array(v))


def test_conv_padding_keeps_the_images_memory_order():
    """Padded images equal np.pad's and keep their layout: a filter cotangent's images, handed
    over transposed, stay readable as C-ordered NHWC without another transposed copy."""
    from functrans.nn.conv import _pad
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    for images in (x, x.transpose(3, 1, 2, 0)):
        got = _pad(images, (1, 2), (0, 1))
        assert got.dtype == images.dtype
        np.testing.assert_array_equal(got, np.pad(images, ((0, 0), (1, 2), (0, 1), (0, 0))))
        assert got.strides.index(min(got.strides)) == images.strides.index(min(images.strides))
