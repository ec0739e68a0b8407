"""Layers: Modules whose arrays are parameters and whose other fields are static settings.

Each layer takes its sizes and a ``numpy.random.Generator`` (keyword ``rng``) and is called
on a batch: ``layer(x)``. Images are NHWC, filters HWIO (as in TensorFlow and Swift for
TensorFlow). Parameters are float32 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

import numpy as np

from .. import numpy as fnp
from .. import primitives as P
from ..batching import batch_rules
from ..core import Primitive, shape_of
from ..forward import defjvp
from ..reverse import defvjp
from .conv import _pair, conv2d
from .functions import bias_add
from .module import Module

__all__ = ["Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "BatchNorm", "Sequential",
           "Remat", "Lambda", "glorot_uniform"]


def glorot_uniform(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int,
                   dtype: Any = np.float32) -> np.ndarray:
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio; Keras' default).

    Example:
        >>> import numpy as np, functrans as ft
        >>> w = ft.nn.glorot_uniform(np.random.default_rng(0), (3, 5), 3, 5)
        >>> w.shape, w.dtype, bool(np.abs(w).max() <= np.sqrt(6 / 8))
        ((3, 5), dtype('float32'), True)
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return np.random.default_rng() if rng is None else rng


def _apply(activation: Callable[[Any], Any] | None, x: Any) -> Any:
    return x if activation is None else activation(x)


def _check_features(layer: Module, x: Any, features: int) -> None:
    shape = shape_of(x)
    if not shape or shape[-1] != features:
        raise ValueError(f"{type(layer).__name__}: the input's last axis must hold {features} features, "
                         f"got an input of shape {shape}")


class Dense(Module):
    """``activation(x @ kernel + bias)`` with ``kernel`` of shape ``(in_features, out_features)``.

    Example:
        >>> import numpy as np, functrans as ft
        >>> layer = ft.nn.Dense(2, 10, activation=ft.nn.relu, rng=np.random.default_rng(0))
        >>> layer.kernel.shape, layer.bias.shape, layer(np.ones((4, 2), np.float32)).shape
        ((2, 10), (10,), (4, 10))
    """

    kernel: Any
    bias: Any
    activation: Callable[[Any], Any] | None = None

    def __init__(self, in_features: int, out_features: int,
                 activation: Callable[[Any], Any] | None = None, *,
                 rng: np.random.Generator | None = None, use_bias: bool = True,
                 dtype: Any = np.float32):
        self.kernel = glorot_uniform(_rng(rng), (in_features, out_features), in_features,
                                     out_features, dtype)
        self.bias = np.zeros(out_features, dtype) if use_bias else None
        self.activation = activation

    def __call__(self, x: Any) -> Any:
        _check_features(self, x, shape_of(self.kernel)[0])
        y = fnp.matmul(x, self.kernel)
        if self.bias is not None:
            y = bias_add(y, self.bias)
        return _apply(self.activation, y)


class Conv2D(Module):
    """A 2-D cross-correlation of NHWC images with an HWIO ``filter`` plus a ``bias``.

    ``filter_shape`` is ``(height, width, in_channels, out_channels)``; ``padding`` is
    "VALID" (the default) or "SAME"; ``strides`` and ``dilation`` are pairs (or ints).

    Example:
        >>> import numpy as np, functrans as ft
        >>> conv = ft.nn.Conv2D((5, 5, 3, 6), rng=np.random.default_rng(0))
        >>> conv(np.zeros((10, 16, 16, 3), np.float32)).shape
        (10, 12, 12, 6)
    """

    filter: Any
    bias: Any
    strides: tuple = (1, 1)
    padding: Any = "VALID"
    dilation: tuple = (1, 1)
    activation: Callable[[Any], Any] | None = None

    def __init__(self, filter_shape: Sequence[int], strides: Any = (1, 1), padding: Any = "VALID",
                 activation: Callable[[Any], Any] | None = None, *,
                 rng: np.random.Generator | None = None, dilation: Any = (1, 1),
                 use_bias: bool = True, dtype: Any = np.float32):
        kh, kw, cin, cout = (int(n) for n in filter_shape)
        self.filter = glorot_uniform(_rng(rng), (kh, kw, cin, cout), kh * kw * cin,
                                     kh * kw * cout, dtype)
        self.bias = np.zeros(cout, dtype) if use_bias else None
        self.strides = _pair(strides, "strides")
        self.padding = padding if isinstance(padding, str) else tuple(map(tuple, padding))
        self.dilation = _pair(dilation, "dilation")
        self.activation = activation

    def __call__(self, x: Any) -> Any:
        y = conv2d(x, self.filter, self.strides, self.padding, rhs_dilation=self.dilation)
        if self.bias is not None:
            y = bias_add(y, self.bias)
        return _apply(self.activation, y)


# ---------------------------------------------------------------------------------------
# The maximum over tiled windows: images viewed as (..., ho, ph, wo, pw, c), no copy. The
# derivative is shared by the window's maxima; the two linear maps that apply it are each
# other's transposes, so every derivative is one of these three primitives again.

def _rows(x6: np.ndarray) -> list:
    """The ``ph`` window rows ``(..., ho, wo, pw, c)``: each image row stays one contiguous run,
    so NumPy's loops over them are long (whole columns of a window are not)."""
    return [x6[..., i, :, :, :] for i in range(x6.shape[-4])]


def _columns(r: np.ndarray) -> list:
    """The ``pw`` columns ``(..., ho, wo, c)`` of window rows ``r``."""
    return [r[..., j, :] for j in range(r.shape[-2])]


def _spread(a: np.ndarray, pw: int) -> np.ndarray:
    """``a`` ``(..., ho, wo, c)`` repeated over the ``pw`` columns of each window (contiguous)."""
    return np.repeat(a, pw, axis=-2).reshape(a.shape[:-1] + (pw, a.shape[-1]))     # ~2.5x a broadcast copy


def _fold(ufunc: np.ufunc, parts: list, dtype: Any = None) -> np.ndarray:
    """``ufunc`` over ``parts`` into a new array: the first call allocates, no copy."""
    if len(parts) == 1:
        return np.array(parts[0], dtype=dtype)
    out = ufunc(parts[0], parts[1], dtype=dtype)
    for part in parts[2:]:
        ufunc(out, part, out=out)
    return out


def _window_max_impl(x6: Any) -> Any:
    return _fold(np.maximum, _columns(_fold(np.maximum, _rows(np.asarray(x6)))))


def _hits(x6: np.ndarray, m: np.ndarray, dtype: Any) -> tuple[np.ndarray, Any]:
    """Where ``x == max`` (bool, as ``x6``; one comparison against the maxima spread over the
    window's columns and broadcast over its rows); and the number of maxima of each window,
    or None if every window has one (no ties: checked by one count of all hits)."""
    hits = np.equal(x6, _spread(m, x6.shape[-2])[..., None, :, :, :])
    if np.count_nonzero(hits) == m.size and not (      # a NaN window has no hit: not tie-free
            m.dtype.kind == "f" and m.size and np.isnan(np.max(m))):
        return hits, None
    per_row = hits.view(np.uint8) if x6.shape[-4] * x6.shape[-2] < 256 else hits.astype(np.int32)
    return hits, _fold(np.add, _columns(_fold(np.add, _rows(per_row))), dtype)


def _window_grad_impl(ct: Any, x6: Any, m: Any) -> Any:
    """``ct`` shared among each window's maxima, as ``x6``: the cotangent of the maximum."""
    ct, x6, m = np.asarray(ct), np.asarray(x6), np.asarray(m)
    dtype = np.result_type(ct, x6)
    hits, count = _hits(x6, m, dtype)
    share = ct if count is None else np.divide(ct, count, out=count)
    return np.multiply(hits, _spread(share, x6.shape[-2])[..., None, :, :, :], dtype=dtype)


def _window_dot_impl(t6: Any, x6: Any, m: Any) -> Any:
    """``t6`` averaged over each window's maxima: the tangent of the maximum."""
    t6, x6, m = np.asarray(t6), np.asarray(x6), np.asarray(m)
    dtype = np.result_type(t6, x6)
    hits, count = _hits(x6, m, dtype)
    picked = np.multiply(t6, hits, dtype=dtype)
    out = _fold(np.add, _columns(_fold(np.add, _rows(picked))))
    return out if count is None else np.divide(out, count, out=out)


_window_max_p = Primitive("window_max", _window_max_impl)
_window_grad_p = Primitive("window_max_grad", _window_grad_impl, residuals="primals")
_window_dot_p = Primitive("window_max_dot", _window_dot_impl, residuals="primals")
defjvp(_window_max_p, lambda t, ans, x6: _window_dot_p.bind(t, x6, ans))
defvjp(_window_max_p, lambda ct, ans, x6: _window_grad_p.bind(ct, x6, ans))
for _linear, _transpose in ((_window_grad_p, _window_dot_p), (_window_dot_p, _window_grad_p)):
    # Linear in the first argument; zero derivative in the images and maxima (almost everywhere).
    defjvp(_linear, lambda t, _, a, x6, m, _p=_linear: _p.bind(t, x6, m), None, None)
    defvjp(_linear, lambda ct, _, a, x6, m, _p=_transpose: _p.bind(ct, x6, m), None, None)


def _window_batch(prim: Primitive) -> None:
    """Batching: the batch axis leads; the primitives take any leading axes."""
    def batch(axis_size: int, vals: list, dims: list) -> tuple[Any, int]:
        return prim.bind(*(P.bdim_to_front(v, d, axis_size) for v, d in zip(vals, dims))), 0
    batch_rules[prim] = batch


for _prim in (_window_max_p, _window_grad_p, _window_dot_p):
    _window_batch(_prim)


def _window_max(x6: Any) -> Any:
    return _window_max_p.bind(x6)


def _tiled_mean(x6: Any) -> Any:
    # Window positions first, (ph * pw, ..., ho, wo, c): NumPy reduces a leading axis ~10x
    # faster than the two small interleaved axes of (..., ho, ph, wo, pw, c).
    n, ho, ph, wo, pw, c = shape_of(x6)
    x = P.transpose(x6, (2, 4, 0, 1, 3, 5))
    return fnp.mean(P.reshape(x, (ph * pw, n, ho, wo, c)), axis=0)


def _windows(name: str, x: Any, pool: tuple, strides: tuple, padding: str, fill: float,
             reduce: Callable[..., Any], tiled: Callable[[Any], Any]) -> Any:
    """``reduce`` over each pooling window of NHWC (or HWC) ``x``.

    Non-overlapping windows that tile the image are a reshape to ``(n, ho, ph, wo, pw, c)``
    and ``tiled`` of it; otherwise the ``ph * pw`` strided slices (one per window position,
    not per pixel) are stacked and reduced.
    """
    x = fnp.asarray(x)
    if len(shape_of(x)) not in (3, 4):
        raise ValueError(f"{name}: images must be NHWC (4-d) or HWC (3-d), got shape {shape_of(x)}")
    single = len(shape_of(x)) == 3
    if single:
        x = P.expand_dims(x, 0)
    n, h, w, c = shape_of(x)
    (ph, pw), (sh, sw) = pool, strides
    if padding.upper() == "SAME":
        pads = []
        for size, k, s in ((h, ph, sh), (w, pw, sw)):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = _pad_constant(x, pads, fill)
        n, h, w, c = shape_of(x)
    elif padding.upper() != "VALID":
        raise ValueError(f"pooling: padding must be 'VALID' or 'SAME', got {padding!r}")
    ho, wo = (h - ph) // sh + 1, (w - pw) // sw + 1
    if (ph, pw) == (sh, sw):
        if (h, w) != (ho * sh, wo * sw):
            x = P.getitem(x, (slice(None), slice(0, ho * sh), slice(0, wo * sw)))
        out = tiled(P.reshape(x, (n, ho, ph, wo, pw, c)))
    else:
        parts = [P.getitem(x, (slice(None), slice(i, i + (ho - 1) * sh + 1, sh),
                               slice(j, j + (wo - 1) * sw + 1, sw)))
                 for i in range(ph) for j in range(pw)]
        out = reduce(fnp.stack(parts, axis=0), axis=0)
    return P.reshape(out, shape_of(out)[1:]) if single else out


def _pad_constant(x: Any, pads: list, fill: float) -> Any:
    n, h, w, c = shape_of(x)
    (top, bottom), (left, right) = pads
    dtype = x.dtype
    if left or right:
        x = fnp.concatenate([np.full((n, h, left, c), fill, dtype), x,
                             np.full((n, h, right, c), fill, dtype)], axis=2)
        w += left + right
    if top or bottom:
        x = fnp.concatenate([np.full((n, top, w, c), fill, dtype), x,
                             np.full((n, bottom, w, c), fill, dtype)], axis=1)
    return x


class MaxPool2D(Module):
    """The maximum of each ``pool_size`` window (NHWC); the derivative goes to the maximum.

    (Tied maxima in a window share it equally, as for ``fnp.max``.)

    Example:
        >>> import numpy as np, functrans as ft
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> ft.nn.MaxPool2D((2, 2), strides=(2, 2))(x)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """

    pool_size: tuple = (2, 2)
    strides: tuple | None = None
    padding: str = "VALID"

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "VALID"):
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        self.padding = padding

    def __call__(self, x: Any) -> Any:
        strides = cast(tuple, self.strides)      # None only as the field's default
        return _windows("MaxPool2D", x, self.pool_size, strides, self.padding, -np.inf, fnp.max,
                        _window_max)


class AvgPool2D(Module):
    """The mean of each ``pool_size`` window (NHWC; VALID padding).

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.nn.AvgPool2D((2, 2))(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """

    pool_size: tuple = (2, 2)
    strides: tuple | None = None

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None):
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")

    def __call__(self, x: Any) -> Any:
        strides = cast(tuple, self.strides)      # None only as the field's default
        return _windows("AvgPool2D", x, self.pool_size, strides, "VALID", 0.0, fnp.mean,
                        _tiled_mean)


class Flatten(Module):
    """Reshape ``(batch, ...)`` to ``(batch, -1)``.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.nn.Flatten()(np.zeros((10, 6, 6, 6))).shape
        (10, 216)
    """

    def __call__(self, x: Any) -> Any:
        shape = shape_of(x)
        return P.reshape(x, (shape[0], int(np.prod(shape[1:], dtype=np.int64))))


class BatchNorm(Module):
    """Normalise with the batch's mean and variance over every axis but the last, then
    ``scale * x_hat + offset`` (learned, per feature).

    Always uses the current batch's statistics (training mode); examples are therefore not
    independent, and ``batch_jacobian`` through it is not a per-example Jacobian.

    Example:
        >>> import numpy as np, functrans as ft
        >>> y = ft.nn.BatchNorm(3)(np.random.default_rng(0).normal(5.0, 2.0, (100, 3)))
        >>> np.allclose(y.mean(0), 0, atol=1e-6), np.allclose(y.std(0), 1, atol=1e-3)
        (True, True)
    """

    scale: Any
    offset: Any
    epsilon: float = 1e-3

    def __init__(self, features: int, epsilon: float = 1e-3, dtype: Any = np.float32):
        self.scale = np.ones(features, dtype)
        self.offset = np.zeros(features, dtype)
        self.epsilon = epsilon

    def __call__(self, x: Any) -> Any:
        x = fnp.asarray(x)
        _check_features(self, x, shape_of(self.scale)[0])
        axes = tuple(range(len(shape_of(x)) - 1))
        mean = fnp.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = fnp.mean(centered * centered, axis=axes, keepdims=True)
        return centered / fnp.sqrt(var + self.epsilon) * self.scale + self.offset


class Lambda(Module):
    """A parameter-free function as a layer (``Sequential`` wraps plain functions in it).

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.nn.Lambda(ft.nn.relu)(np.array([-1.0, 2.0]))
        array([0., 2.])
        >>> type(ft.nn.Sequential([ft.nn.relu]).layers[0]).__name__
        'Lambda'
    """

    fn: Callable[[Any], Any]

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class Sequential(Module):
    """Layers applied in order (plain functions such as ``ft.nn.relu`` are allowed).

    Example:
        >>> import numpy as np, functrans as ft
        >>> rng = np.random.default_rng(0)
        >>> model = ft.nn.Sequential([ft.nn.Dense(2, 8, rng=rng), ft.nn.relu, ft.nn.Dense(8, 1, rng=rng)])
        >>> model(np.zeros((4, 2), np.float32)).shape
        (4, 1)
    """

    layers: list

    def __init__(self, layers: Sequence[Any]):
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: layer {i} must be a Module or a function, got "
                                f"{type(layer).__name__} {layer!r}")
        self.layers = [layer if isinstance(layer, Module) else Lambda(layer) for layer in layers]

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Any:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


class Remat(Module):
    """``layer`` whose activations reverse mode discards and recomputes (``ft.remat``).

    Swift's ``discardingActivations()``: same values and derivatives, less memory held
    between the forward and the backward pass, the layer running again during the latter.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> calls = []
        >>> class Logged(ft.nn.Dense):
        ...     def __call__(self, x):
        ...         calls.append("applied")
        ...         return super().__call__(x)
        >>> layer = Logged(3, 2, rng=np.random.default_rng(0))
        >>> x = np.ones((4, 3), np.float32)
        >>> g = ft.grad(lambda m: fnp.sum(m(x)))(ft.nn.Remat(layer))
        >>> len(calls), type(g).__name__, g.layer.kernel.shape      # applied again in the backward pass
        (2, 'Remat', (3, 2))
        >>> np.allclose(g.layer.kernel, ft.grad(lambda m: fnp.sum(m(x)))(layer).kernel)
        True
    """

    layer: Any

    def __call__(self, x: Any) -> Any:
        from ..checkpointing import remat   # imported late: checkpointing imports much
        return remat(_call_layer)(self.layer, x)


def _call_layer(layer: Any, x: Any) -> Any:
    return layer(x)
