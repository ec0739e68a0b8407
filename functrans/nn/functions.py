"""Activations and losses. Those on every training step's hot path (relu, bias_add,
logsumexp, softmax, the softmax cross-entropy) are primitives, whose rules are written in
functrans operations; the rest are composed. Either way every transform applies.

Conventions at the kinks follow API.md: ``relu'(0) = 0`` (and ``elu'(0) = 1``, its one-sided
derivatives agreeing). The log-sum-exp family subtracts a stopped-gradient maximum, which
changes no derivative (the functions are shift-invariant) but keeps ``exp`` from overflowing.
"""

from __future__ import annotations

import cmath
import math
from typing import Any, Sequence

import numpy as np

from .. import numpy as fnp
from ..numpy._elementwise import _may_hold_inf
from ..numpy._reductions import _axes
from .. import primitives as P
from ..batching import batch_rules
from ..core import Primitive, Tracer, add_any, dtype_of, shape_of
from ..forward import defjvp, jvp_rules
from ..reverse import defvjp, vjp_rules

__all__ = ["relu", "relu_p", "bias_add", "bias_add_p", "elu", "sigmoid", "softplus", "softmax",
           "log_softmax", "logsumexp",
           "softmax_cross_entropy", "mean_squared_error", "one_hot"]


_sum = P.reduce_sum_p.impl     # NumPy's sum, fast over short trailing axes
_ROW = 1024    # the fast paths below view contiguous arrays as rows of up to this many elements


def _row_width(*arrays: np.ndarray) -> int:
    """The row length (a divisor of the size, at least 64) for the fast paths, or 0: equal
    shapes, one floating dtype, C-contiguous, big enough that the passes dominate."""
    a = arrays[0]
    if a.dtype.kind != "f" or a.size < 4096 or any(
            b.shape != a.shape or b.dtype != a.dtype or not b.flags.c_contiguous for b in arrays):
        return 0
    width = math.gcd(a.size, _ROW)
    return width if width >= 64 else 0


def _relu_impl(x: Any) -> Any:
    """``maximum(x, 0)``, against a row of zeros when ``x`` is big: NumPy's ``maximum`` with a
    scalar runs a branchy loop, ~2.5x slower than with an array on random signs."""
    x = np.asarray(x)
    width = _row_width(x)
    if not width:
        return np.maximum(x, 0)
    return np.maximum(x.reshape(-1, width), P.constant_row(0, width, x.dtype)).reshape(x.shape)


def _relu_grad_impl(ct: Any, ans: Any) -> Any:
    """``ct`` where relu's output ``ans`` is positive, 0 where it is 0 (``relu'(0) = 0``,
    API.md) and NaN where it is NaN (not a silent zero).

    For big arrays the mask is ``ceil(minimum(ans, 1))`` (exactly 0, 1 or NaN, for an ``ans``
    that is relu's output) multiplied in place: three float passes, no bool array, no
    separate NaN check; ~1.6x faster than the product with ``ans > 0`` and its NaN scan.
    """
    ct, ans = np.asarray(ct), np.asarray(ans)
    width = _row_width(ct, ans)
    if width:
        mask = np.minimum(ans.reshape(-1, width), P.constant_row(1, width, ans.dtype))
        np.ceil(mask, out=mask)
        return np.multiply(ct.reshape(-1, width), mask, out=mask).reshape(ans.shape)
    out = np.multiply(ct, np.greater(ans, 0), dtype=np.result_type(ct, ans))
    if ans.dtype.kind == "f" and ans.size and np.isnan(np.max(ans)):
        out = np.where(np.isnan(ans), np.array(np.nan, out.dtype), out)
    return out


# relu's derivative as a product: linear in the cotangent (or tangent), with zero derivative
# in relu's output (relu'' = 0 almost everywhere).
_relu_grad_p = Primitive("relu_grad", _relu_grad_impl, residuals="primals")
defjvp(_relu_grad_p, lambda t, _, ct, ans: _relu_grad_p.bind(t, ans), None)
defvjp(_relu_grad_p, lambda g, _, ct, ans: _relu_grad_p.bind(g, ans), None)
P.defbroadcasting(_relu_grad_p)

# A primitive, not ``where(x > 0, x, 0)``: NumPy's ``where`` on a random mask is ~10x slower
# than ``maximum`` and a product with the mask, which dominated a CNN's training step.
# Its rules read only the output.
relu_p = Primitive("relu", _relu_impl, residuals="ans")
defjvp(relu_p, lambda t, ans, x: _relu_grad_p.bind(t, ans))
defvjp(relu_p, lambda ct, ans, x: _relu_grad_p.bind(ct, ans))
P.defvectorized(relu_p)


def relu(x: Any) -> Any:
    """``max(x, 0)`` with derivative 0 at 0 (and below).

    Example:
        >>> import functrans as ft
        >>> float(ft.grad(ft.nn.relu)(0.0)), float(ft.grad(ft.nn.relu)(2.0))
        (0.0, 1.0)
    """
    return relu_p.bind(x)


def _bias_add_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    x, b = primals
    tx, tb = tangents
    ans = bias_add(x, b)
    out = None if tx is None else P.broadcast_like(tx, ans)
    if tb is not None:
        out = add_any(out, P.broadcast_to(tb, shape_of(ans)))
    return ans, out


def _bias_add_vjp_b(ct: Any, ans: Any, x: Any, b: Any) -> Any:
    # The sum over all leading axes as a product with ones: NumPy's reduction over the
    # leading axis of a narrow array is ~40x slower than this BLAS call.
    channels = shape_of(ct)[-1]
    rows = int(np.prod(shape_of(ct)[:-1], dtype=np.int64))
    ones = P.constant_row(1, rows, dtype_of(ct))
    return P.unbroadcast(P.matmul(ones, P.reshape(ct, (rows, channels))), b)


def _bias_add_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, int]:
    (x, b), (xd, bd) = vals, dims
    if bd is None:
        return bias_add(P.moveaxis(x, xd, 0), b), 0
    x = P.bdim_to_front(x, xd, axis_size)
    b = P.moveaxis(b, bd, 0)
    b = P.reshape(b, (axis_size,) + (1,) * (len(shape_of(x)) - 2) + (shape_of(b)[-1],))
    return P.add(x, b), 0


def _bias_add_impl(x: Any, b: Any) -> Any:
    """``x + b``, the bias tiled to rows of up to 64 channel vectors when that divides ``x``:
    NumPy's broadcast of a few channels runs an inner loop per pixel, ~2.5x slower."""
    x, b = np.asarray(x), np.asarray(b)
    channels = b.size
    if x.size >= 4096 and x.flags.c_contiguous and channels:
        reps = math.gcd(x.size // channels, 64)
        if reps > 1:
            return np.add(x.reshape(-1, reps * channels), np.tile(b, reps)).reshape(x.shape)
    return np.add(x, b)


bias_add_p = Primitive("bias_add", _bias_add_impl)
jvp_rules[bias_add_p] = _bias_add_jvp
defvjp(bias_add_p, lambda ct, ans, x, b: P.unbroadcast(ct, x), _bias_add_vjp_b)
batch_rules[bias_add_p] = _bias_add_batch


def bias_add(x: Any, b: Any) -> Any:
    """``x + b`` for a vector ``b`` along the last axis of ``x`` (a layer's bias).

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.nn.bias_add(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
        array([[1., 2., 3.],
               [1., 2., 3.]])
    """
    if len(shape_of(b)) != 1 or shape_of(x)[-1:] != shape_of(b):
        raise ValueError(f"bias_add: the bias must be a vector as long as the last axis of x "
                         f"{shape_of(x)}, got shape {shape_of(b)}")
    return bias_add_p.bind(x, b)


def _elu_impl(x: Any, alpha: float) -> Any:
    """``max(x, alpha * expm1(min(x, 0)))``: expm1 of the clipped value cannot overflow, and
    for ``0 <= alpha <= 1`` the negative branch is never below ``x`` (``e**x >= 1 + x``),
    so one ``maximum`` selects it; cheaper than NumPy's ``where`` on a random mask."""
    negative = np.expm1(np.minimum(x, 0))
    out = negative if type(negative) is np.ndarray else None      # in place, unless 0-d
    if alpha != 1.0:
        negative = np.multiply(negative, alpha, out=out)
    if 0.0 <= alpha <= 1.0:
        return np.maximum(x, negative, out=out)
    return np.add(negative, np.maximum(x, 0), out=out)


def _elu_slope_impl(x: Any, ans: Any, alpha: float) -> Any:
    """elu's derivative ``where(x > 0, 1, ans + alpha)``; for ``alpha = 1`` (the default) it is
    ``min(ans, 0) + 1``, two fast passes instead of a comparison and a ``where``."""
    if alpha == 1.0:
        slope = np.minimum(ans, 0)
        return np.add(slope, 1, out=slope if type(slope) is np.ndarray else None)
    return np.where(np.greater(x, 0), 1, np.add(ans, alpha))


def _elu_slope_ct(ct: Any, slope: Any, x: Any, ans: Any, alpha: float) -> Any:
    """The slope is ``ans + alpha`` where ``x <= 0`` (or NaN) and constant elsewhere: its
    derivative in ``ans`` is that mask, in ``x`` zero."""
    return P.mask(ct, P.logical_not(P.gt(x, 0)))


# The slope as a function of (x, ans), so elu's rules read no transcendental twice; its own
# rules make elu differentiable to any order.
_elu_slope_p = Primitive("elu_slope", _elu_slope_impl)
defjvp(_elu_slope_p, None, _elu_slope_ct)
defvjp(_elu_slope_p, None, _elu_slope_ct)
P.defbroadcasting(_elu_slope_p)

# One primitive, not gt/minimum/expm1/where composed: under vmap of a jvp (batch_jacobian)
# each of those is an interpreter step of its own.
elu_p = Primitive("elu", _elu_impl)
defjvp(elu_p, lambda t, ans, x, alpha: P.mul(t, _elu_slope_p.bind(x, ans, alpha=alpha)))
defvjp(elu_p, lambda ct, ans, x, alpha: P.mul(ct, _elu_slope_p.bind(x, ans, alpha=alpha)))
P.defvectorized(elu_p)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import functrans as ft
        >>> round(float(ft.nn.elu(-1.0)), 6)
        -0.632121
    """
    if type(x) is not np.ndarray and not isinstance(x, Tracer):
        x = fnp.asarray(x)
    if x.dtype.kind != "f":
        x = P.convert_element_type(x, P.float_dtype(x))
    if type(alpha) is float or (not isinstance(alpha, Tracer) and np.ndim(alpha) == 0):
        return elu_p.bind(x, alpha=float(alpha))
    # A traced alpha (differentiated) or an array of them: elu is linear in alpha, whose
    # multiple of elu(x, 1) is the negative branch.
    return P.where(P.gt(x, 0), x, P.mul(alpha, elu_p.bind(x, alpha=1.0)))


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    Example:
        >>> import functrans as ft
        >>> float(ft.nn.sigmoid(0.0))
        0.5
    """
    return P.logistic(x)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow; its derivative is ``sigmoid``.

    Example:
        >>> import functrans as ft
        >>> float(ft.nn.softplus(1000.0))
        1000.0
    """
    return fnp.logaddexp(x, 0.0)


def _finite_maxima(m: np.ndarray) -> bool:
    """Whether every maximum in ``m`` is finite, in one C call: ``m·m`` is finite only then
    (an overflow of huge finite maxima merely takes the careful path)."""
    return cmath.isfinite(np.vdot(m, m))


def _exp_shifted(x: np.ndarray, axes: tuple) -> tuple:
    """``(x - s, exp(x - s), its sum over axes, s, m)``, the parts of log-sum-exp and softmax:
    ``m`` is the maximum over ``axes`` and the shift ``s`` is ``m`` where finite and 0 elsewhere,
    so ``exp`` never overflows and never sees ``inf - inf``. ``s is m`` when all are finite."""
    m = np.maximum.reduce(x, axis=axes, keepdims=True)
    if _finite_maxima(m):
        shift = m
    else:
        finite = np.isfinite(m)
        shift = m if finite.all() else np.where(finite, m, np.zeros((), m.dtype))
    shifted = x - shift
    e = np.exp(shifted)
    return shifted, e, _sum(e, axes, keepdims=True), shift, m


def _log_total(total: Any, shift: Any, m: Any) -> Any:
    """``log(total)``; with every maximum finite the total is at least 1 (``exp(0)`` is one
    of its terms), so only an infinite maximum can give ``log(0) = -inf``."""
    if shift is m:
        return np.log(total)
    with np.errstate(divide="ignore"):      # log(0) = -inf when all are -inf
        return np.log(total)


def _normalized(x: np.ndarray, e: Any, total: Any, shift: Any, m: Any, axes: tuple) -> Any:
    """The softmax ``e / total`` from :func:`_exp_shifted`'s parts; where the maximum is
    infinite, the limit: 1 at the entries equal to it (the +inf ones, or all -inf), split
    equally, 0 elsewhere."""
    if shift is m:                  # every maximum finite
        if type(e) is np.ndarray:
            e /= total
            return e
        return e / total            # a 0-d input: NumPy's scalar
    top = np.equal(x, m).astype(x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isinf(m), top / np.add.reduce(top, axis=axes, keepdims=True), e / total)


def _logsumexp_impl(x: Any, axes: tuple, keepdims: bool) -> Any:
    """NumPy's log-sum-exp, shifted by the finite maximum: an infinite maximum (or NaN) is
    its own result, and ``exp`` never overflows."""
    x = np.asarray(x)
    _, _, total, shift, m = _exp_shifted(x, axes)
    out = _log_total(total, shift, m) + shift
    return out if keepdims else out.reshape([d for i, d in enumerate(x.shape) if i not in axes])


def _softmax_impl(x: Any, axes: tuple) -> Any:
    """``exp(x - m) / sum(exp(x - m))`` over ``axes``: accurate at any magnitude."""
    x = np.asarray(x)
    _, e, total, shift, m = _exp_shifted(x, axes)
    return _normalized(x, e, total, shift, m, axes)


def _softmax_rule(g: Any, ans: Any, x: Any, axes: tuple) -> Any:
    """The tangent (or cotangent, the Jacobian being symmetric) ``s * (g - sum(g * s))`` of
    the softmax ``s = ans``; zero along the axes whose maximum is infinite, where ``x + g``
    has the same softmax as ``x``."""
    out = ans * (g - P.reduce_sum(g * ans, axes, keepdims=True))
    if _may_hold_inf(x):
        infinite = P.isinf(P.reduce_max(P.stop_gradient_p.bind(x), axes, keepdims=True))
        out = P.where(infinite, P.zeros_like(out), out)
    return out


def _softmax_batch(axis_size: int, vals: list, dims: list, *, axes: tuple) -> tuple[Any, int]:
    (x,), (d,) = vals, dims
    return softmax_p.bind(x, axes=tuple(a + (a >= d) for a in axes)), d


# One primitive, not max/exp/sum/div composed: the derivative of logsumexp (so of every
# cross-entropy) in one NumPy pass instead of six interpreter steps.
softmax_p = Primitive("softmax", _softmax_impl)
defjvp(softmax_p, _softmax_rule)
defvjp(softmax_p, _softmax_rule)
batch_rules[softmax_p] = _softmax_batch


# One primitive, not max/exp/sum/log composed: a fraction of the interpreter steps and
# passes over memory in a cross-entropy's gradient. Its rules are written in functrans
# operations and read only the input.
logsumexp_p = Primitive("logsumexp", _logsumexp_impl, residuals="primals")
defjvp(logsumexp_p, lambda t, ans, x, axes, keepdims:
       P.reduce_sum(t * softmax_p.bind(x, axes=axes), axes, keepdims))
defvjp(logsumexp_p, lambda ct, ans, x, axes, keepdims:
       P.expand_reduced(ct, x, axes, keepdims) * softmax_p.bind(x, axes=axes))
P._reduce_batch(logsumexp_p)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x), axis))``, stable for large entries; at an infinite entry its
    derivative is the limit (1 there, split between several).

    Example:
        >>> import numpy as np, functrans as ft
        >>> x = np.array([1000.0, 1000.0])
        >>> round(float(ft.nn.logsumexp(x)) - 1000.0, 12), ft.grad(ft.nn.logsumexp)(x)
        (0.69314718056, array([0.5, 0.5]))
    """
    x = fnp.asarray(x)
    if dtype_of(x).kind not in "fc":
        x = P.convert_element_type(x, np.result_type(dtype_of(x), np.float32))
    return logsumexp_p.bind(x, axes=_axes(axis, len(shape_of(x))), keepdims=bool(keepdims))


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - logsumexp(x, axis)``: log-probabilities.

    Example:
        >>> import numpy as np, functrans as ft
        >>> np.round(np.exp(ft.nn.log_softmax(np.array([0.0, np.log(3.0)]))), 6)
        array([0.25, 0.75])
    """
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x), axis)``, stable for large entries.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.nn.softmax(np.array([1000.0, 1000.0]))
        array([0.5, 0.5])
    """
    x = fnp.asarray(x)
    if dtype_of(x).kind not in "fc":
        x = P.convert_element_type(x, np.result_type(dtype_of(x), np.float32))
    return softmax_p.bind(x, axes=_axes(axis, len(shape_of(x))))


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> Any:
    """Integer labels as one-hot rows: shape ``labels.shape + (num_classes,)``.

    Example:
        >>> import functrans as ft
        >>> ft.nn.one_hot([2, 0], 3)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """
    labels = fnp.asarray(labels)
    hit = P.eq(P.expand_dims(labels, -1), np.arange(num_classes))
    return P.convert_element_type(hit, dtype)


def _rows(logits: Any) -> int:
    """The number of rows (examples) of ``logits``: every axis but the last is a batch axis."""
    return math.prod(shape_of(logits)[:-1])


def _ones_column(n: int, dtype: Any) -> np.ndarray:
    """A ``(n, 1)`` column of ones (a view of the shared cached row): ``x @ column`` sums the
    rows of ``x`` in one BLAS call and keeps their axis (NumPy's reduction loops once per
    short row)."""
    return P.constant_row(1, n, dtype).reshape(n, 1)


def _cross_entropy_impl(logits: Any, labels: Any) -> tuple:
    """The mean over rows of ``-sum(labels * log_softmax(logits), -1)``, and the softmax:
    both from one ``exp``.

    The common case, real arrays of one shape, takes a few C calls: the row totals
    ``t = sum(exp(logits - max)) >= 1`` as a BLAS product and the loss as a dot product of
    the labels with ``log(t) - (logits - max)``, the negative log-softmax. Any inf or NaN
    among the logits or labels makes that dot product NaN or infinite, so one test of the
    loss sends them to the careful path.
    """
    if (type(logits) is np.ndarray and type(labels) is np.ndarray
            and labels.shape == logits.shape and logits.dtype.kind == "f"
            and labels.dtype.kind == "f"):
        n = logits.shape[-1]
        shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e @ _ones_column(n, e.dtype)
        loss = np.vdot(labels, np.log(total) - shifted) / (logits.size // n)
        if math.isfinite(loss):
            e /= total
            return loss, e
    logits = np.asarray(logits)
    last = logits.ndim - 1
    shifted, e, total, shift, m = _exp_shifted(logits, (last,))
    loss = _label_sum(labels, _log_total(total, shift, m) - shifted) / _rows(logits)
    return loss, _normalized(logits, e, total, shift, m, (last,))


def _label_sum(labels: Any, nll: np.ndarray) -> Any:
    """``sum(labels * nll)`` with ``0 * inf = 0`` (as in xlogy and optax): a class masked by
    a -inf logit (``nll`` +inf) costs nothing where its label is 0, a positive label there
    still gives +inf."""
    with np.errstate(invalid="ignore"):
        return np.add.reduce(np.where(labels == 0, np.zeros((), nll.dtype), labels * nll), axis=None)


def _label_log_probs(logits: Any, labels: Any) -> Any:
    """``log_softmax(logits)`` as the labels weigh it, in the rules and the vmap form: 0, not
    -inf, at a class masked by a -inf logit whose label is 0, so that the product is 0 as in
    the loss (not NaN) and the derivative in such a label is 0. Finite logits skip the mask."""
    log_probs = log_softmax(logits)
    if not _may_hold_inf(logits):
        return log_probs
    masked = P.logical_and(P.eq(labels, 0), P.isinf(log_probs))
    return P.where(masked, 0.0, log_probs)


def _cross_entropy_dlogits(probs: Any, labels: Any) -> Any:
    """The derivative in the logits of each row's cross-entropy: the softmax times the row's
    label mass, minus the labels (``softmax - labels`` for one-hot or probability rows)."""
    mass = labels @ _ones_column(shape_of(labels)[-1], dtype_of(labels))   # row sums, kept as a column
    out = probs * mass
    if type(out) is np.ndarray and type(labels) is np.ndarray:
        out -= labels         # in place: ``out`` is this call's own temporary
        return out
    return out - labels


def _cross_entropy_jvp(primals: list, tangents: list) -> tuple:
    (logits, labels), (t_logits, t_labels) = primals, tangents
    loss, probs = cross_entropy_p.bind(logits, labels)
    every = tuple(range(len(shape_of(logits))))
    t_loss = t_probs = None
    if t_logits is not None:
        t_loss = P.reduce_sum(t_logits * _cross_entropy_dlogits(probs, labels), every)
        t_probs = _softmax_rule(t_logits, probs, logits, every[-1:])
    if t_labels is not None:
        t_loss = add_any(t_loss, P.neg(P.reduce_sum(t_labels * _label_log_probs(logits, labels),
                                                    every)))
    return (loss, probs), (None if t_loss is None else t_loss / _rows(logits), t_probs)


def _cross_entropy_vjp(ct: tuple, ans: tuple, primals: Sequence, params: dict,
                       argnums: Sequence) -> list:
    (ct_loss, ct_probs), (_, probs), (logits, labels) = ct, ans, primals
    if (argnums == (0,) and ct_probs is None and type(probs) is np.ndarray
            and type(labels) is np.ndarray and (isinstance(ct_loss, np.floating) or (
                type(ct_loss) is np.ndarray and ct_loss.dtype.kind == "f"))):
        # Plain arrays (every first-order gradient): scaled in place, no second temporary,
        # by a Python float (NumPy's 0-d arithmetic costs a microsecond a step).
        out = _cross_entropy_dlogits(probs, labels)
        out *= float(ct_loss) / _rows(logits)
        return [out]
    per_row = None if ct_loss is None else ct_loss / _rows(logits)
    cts = []
    for i in argnums:
        if i == 0:
            out = None if per_row is None else per_row * _cross_entropy_dlogits(probs, labels)
            if ct_probs is not None:
                out = add_any(out, _softmax_rule(ct_probs, probs, logits, (len(shape_of(logits)) - 1,)))
        else:
            out = None if per_row is None else P.neg(per_row * _label_log_probs(logits, labels))
        cts.append(out)
    return cts


def _cross_entropy_batch(axis_size: int, vals: list, dims: list) -> tuple[tuple, tuple]:
    """Per example, the mean over its own rows: composed, since the primitive means over all."""
    logits, labels = (P.bdim_to_front(v, d, axis_size) for v, d in zip(vals, dims))
    rank = len(shape_of(logits))
    rows = P.reduce_sum(labels * _label_log_probs(logits, labels), (rank - 1,))
    loss = P.neg(P.reduce_sum(rows, tuple(range(1, rank - 1)))) / (_rows(logits) // axis_size)
    return (loss, softmax_p.bind(logits, axes=(rank - 1,))), (0, 0)


# One primitive, not log_softmax, product, sum and mean composed: a classifier's gradient is
# softmax minus the labels, and the forward pass already has the softmax (its second output,
# free for the cotangent rule): one interpreter step instead of a dozen, a third of the passes.
cross_entropy_p = Primitive("cross_entropy", _cross_entropy_impl, multiple_results=True,
                            symbolic_zero_cts=True)
jvp_rules[cross_entropy_p] = _cross_entropy_jvp
vjp_rules[cross_entropy_p] = _cross_entropy_vjp
batch_rules[cross_entropy_p] = _cross_entropy_batch


def softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """Cross-entropy of ``softmax(logits)`` against ``labels``, averaged over the batch.

    ``labels`` are integer class indices (shape ``logits.shape[:-1]``) or probabilities
    such as one-hot rows (shape ``logits.shape``). Every axis but the last is a batch axis.
    A class masked by a ``-inf`` logit adds nothing where its label is 0 (``0 * -inf``
    counts as 0, as in optax), and makes the loss ``+inf`` where its label is positive.

    Example:
        >>> import numpy as np, functrans as ft
        >>> logits = np.array([[0.0, 0.0], [0.0, np.log(3.0)]])
        >>> round(float(ft.nn.softmax_cross_entropy(logits, np.array([0, 1]))), 6)
        0.490415
    """
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels)
    if dtype_of(logits).kind not in "fc":
        logits = P.convert_element_type(logits, np.result_type(dtype_of(logits), np.float32))
    if dtype_of(labels).kind in "iub":
        if shape_of(labels) != shape_of(logits)[:-1]:
            raise ValueError(f"softmax_cross_entropy: integer labels must have shape "
                             f"{shape_of(logits)[:-1]} (the logits' without the class axis), got "
                             f"{shape_of(labels)}")
        labels = one_hot(labels, shape_of(logits)[-1], dtype_of(logits))
    elif shape_of(labels) != shape_of(logits):
        raise ValueError(f"softmax_cross_entropy: probability (one-hot) labels must have the "
                         f"logits' shape {shape_of(logits)}, got {shape_of(labels)}")
    return cross_entropy_p.bind(logits, labels)[0]


def mean_squared_error(predictions: Any, targets: Any) -> Any:
    """``mean((predictions - targets) ** 2)`` over all elements (after broadcasting).

    Example:
        >>> import numpy as np, functrans as ft
        >>> float(ft.nn.mean_squared_error(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
        2.5
    """
    d = fnp.asarray(predictions) - targets
    return fnp.mean(d * d)
