"""The closed set of primitives, each in one block: implementation, jvp, vjp and batching.

Everything in :mod:`functrans.numpy` is built from these. Rules are written with the
functions of this module (never raw NumPy), so every rule can itself be differentiated or
batched by an outer transform. Functions here take normalised arguments (``axes`` tuples of
non-negative ints, full shapes); :mod:`functrans.numpy` offers NumPy's signatures.
"""

from __future__ import annotations

import operator
import threading
import weakref
from typing import Any, Callable, Sequence, cast

import math

import numpy as np

from . import core as _core
from .batching import DEFER_SIZE, BatchTrace, ScaledTracer, batch_rules, defer_rules, scaled_rules
from .core import Primitive, Tracer, add_p, concrete_value, dtype_of, op1, op2, shape_of, zeros_like_p
from .errors import ConcretizationError
from .forward import defjvp, deflinear, jvp_rules
from .reverse import defvjp, defvjp_all, vjp_rules

Unary = Callable[[Any], Any]              # the functions applying a primitive of one / two arguments
Binary = Callable[[Any, Any], Any]

# ---------------------------------------------------------------------------------------
# Registration helpers shared by many primitives.


def float_dtype(x: Any) -> Any:
    """The floating dtype NumPy computes ``x`` in: its own if inexact, else float64 (a Python
    number is float64 too, not the float16 that ``result_type`` with a weak scalar gives)."""
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind in "fc" else np.result_type(dtype, np.float64)


def ndim_of(x: Any) -> int:
    return len(shape_of(x))


def moveaxis(x: Any, source: int, destination: int) -> Any:
    """Move one axis (non-negative ``source`` and ``destination``); a no-op costs nothing."""
    if source == destination:
        return x
    perm = [i for i in range(ndim_of(x)) if i != source]
    perm.insert(destination, source)
    return transpose(x, tuple(perm))


def bdim_to_front(x: Any, bdim: int | None, axis_size: int) -> Any:
    """``x`` with its batch axis first, broadcasting an unbatched ``x`` (``bdim is None``)."""
    if bdim is None:
        return broadcast_to(x, (axis_size,) + tuple(shape_of(x)))
    return moveaxis(x, bdim, 0)


def defvectorized(prim: Primitive) -> None:
    """Batching rule of an elementwise primitive of one array argument."""
    def batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, int]:
        return prim.bind(*vals, **params), dims[0]
    batch_rules[prim] = batch


def defbroadcasting(prim: Primitive) -> None:
    """Batching rule of an elementwise primitive whose arguments broadcast (NumPy rules)."""
    def batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, int]:
        if len(vals) == 2:                 # the common cases first: the batch axis stays
            (x, y), (dx, dy) = vals, dims
            try:                           # (ndim_of inlined: NumPy arrays and tracers)
                rx, ry = len(x.shape), len(y.shape)
            except AttributeError:
                rx, ry = ndim_of(x), ndim_of(y)
            stays = None                   # the batch axis, if it stays where it is
            if dy is None:
                if ry < rx - dx:
                    stays = dx
            elif dx is None:
                if rx < ry - dy:
                    stays = dy
            elif dx == dy and rx == ry:
                stays = dx
            if stays is not None:          # (without an empty ``**params``: cheaper)
                return (prim.bind(x, y, **params) if params else prim.bind(x, y)), stays
        elif len(vals) == 3 and dims[0] is None:     # where(unbatched condition, x, y)
            (c, x, y), (_, dx, dy) = vals, dims
            if dx == dy:
                rx = ndim_of(x)
                if ndim_of(y) == rx and ndim_of(c) < rx - dx:
                    return prim.bind(c, x, y, **params), dx
        ranks = [ndim_of(v) - (d is not None) for v, d in zip(vals, dims)]
        out_rank = max(ranks)
        d0 = next(d for d in dims if d is not None)
        if all(d is None or (d == d0 and r == out_rank) for d, r in zip(dims, ranks)):
            # The batch axis stays where it is: an unbatched operand reaching past it (from
            # the right) gets a unit axis there instead.
            vals = [v if d is not None or r <= out_rank - d0 else
                    expand_dims(v, d0 - (out_rank - r)) for v, d, r in zip(vals, dims, ranks)]
            return prim.bind(*vals, **params), d0
        aligned = []
        for v, d, r in zip(vals, dims, ranks):
            if d is not None:
                v = moveaxis(v, d, 0)
                if r < out_rank:
                    v = reshape(v, (axis_size,) + (1,) * (out_rank - r) + tuple(shape_of(v)[1:]))
            aligned.append(v)
        return prim.bind(*aligned, **params), 0
    batch_rules[prim] = batch


_SCALAR_TYPES = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.generic))
_LEADING_AXES = [tuple(range(n)) for n in range(8)]     # unbroadcast's axes, built once


def _broadcast_axes(ct_shape: tuple, shape: tuple, lead: int) -> tuple:
    """The axes of ``ct_shape`` that broadcasting ``shape`` to it added or stretched (out of
    :func:`unbroadcast`, where the comprehension would make its locals closure cells)."""
    return tuple(range(lead)) + tuple([i + lead for i, d in enumerate(shape)
                                       if d == 1 and ct_shape[i + lead] != 1])


def unbroadcast(ct: Any, x: Any) -> Any:
    """Sum ``ct`` down to the shape of ``x`` (undoing broadcasting) and give it ``x``'s dtype."""
    if type(ct) is type(x) and type(ct) in _SCALAR_TYPES:     # NumPy scalars of one type
        return ct
    try:
        shape, dtype = x.shape, x.dtype
        ct_shape = ct.shape
        if ct_shape == shape and ct.dtype == dtype:
            return ct
    except AttributeError:       # a Python number
        shape, dtype = shape_of(x), dtype_of(x)
        ct_shape = shape_of(ct)
    if ct_shape != shape:
        lead = len(ct_shape) - len(shape)
        if ct_shape[lead:] == shape:      # broadcast along leading axes only (a bias)
            ct = reduce_sum(ct, _LEADING_AXES[lead] if lead < 8 else tuple(range(lead)))
        else:
            axes = _broadcast_axes(ct_shape, shape, lead)
            if axes:
                ct = reduce_sum(ct, axes)
            if shape_of(ct) != shape:
                ct = reshape(ct, shape)
    ct_dtype = dtype_of(ct)
    if ct_dtype != dtype and dtype.kind in "fc":
        if dtype.kind == "f" and ct_dtype.kind == "c":
            ct = real(ct)         # a real input's cotangent is the real part (as in JAX)
        ct = convert_element_type(ct, dtype)
    return ct


def _unary(name: str, impl: Callable[..., Any], derivative: Callable[[Any, Any], Any] | None,
           residuals: str = "all") -> tuple[Primitive, Callable[[Any], Any]]:
    """An elementwise real function with derivative ``derivative(ans, x)`` (``residuals="ans"``
    when it reads only the output)."""
    prim = Primitive(name, impl, differentiable=derivative is not None, residuals=residuals)
    if derivative is not None:
        defjvp(prim, lambda t, ans, x: t * derivative(ans, x))
        # Registered directly, not through defvjp: the hottest rule of the backward pass.
        vjp_rules[prim] = lambda ct, ans, primals, params, argnums: (ct * derivative(ans, primals[0]),)
    defvectorized(prim)
    fun = op1(prim)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = f"Elementwise ``{name}`` (NumPy's ``{getattr(impl, '__name__', name)}``)."
    return prim, fun


def _nondiff(name: str, impl: Callable[..., Any], nargs: int = 2) -> tuple[Primitive, Callable[..., Any]]:
    """An elementwise primitive with zero derivative (comparisons, logic, rounding)."""
    prim = Primitive(name, impl, differentiable=False)
    defbroadcasting(prim)
    fun = op1(prim) if nargs == 1 else op2(prim)
    fun.__name__ = fun.__qualname__ = name
    fun.__doc__ = f"Elementwise ``{name}``; its derivative is zero."
    return prim, fun


# ---------------------------------------------------------------------------------------
# Elementwise arithmetic.

_NUMBERS = (np.generic, float, int, complex)


def _arith(op: Callable[[Any, Any], Any], ufunc: Any) -> Callable[[Any, Any], Any]:
    """The impl of an arithmetic primitive: the ufunc, except on NumPy scalars (with Python
    numbers), where the Python operator computes the same value ~10x cheaper. Operations on
    0-d arrays give scalars, so 0-d code (and every cotangent rule on it) meets them at
    each step. Not for a Python complex with a float64: ``1j * np.float64(2)`` is a Python
    complex (np.float64 subclasses float), which has no shape or dtype."""
    def impl(x: Any, y: Any) -> Any:
        if type(x) is not np.ndarray and isinstance(x, _NUMBERS) and isinstance(y, _NUMBERS) and (
                isinstance(x, np.generic) or (isinstance(y, np.generic) and type(x) is not complex)):
            return op(x, y)
        return ufunc(x, y)
    impl.__name__ = ufunc.__name__
    return impl


add_p.def_impl(_arith(operator.add, np.add))
add = op2(add_p)


# The cotangent rules of add, sub and mul are written out whole (not as one function per
# argument through defvjp): they are the most frequent nodes of every backward pass.
def _add_vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
    x, y = primals
    if len(argnums) == 2:
        return unbroadcast(ct, x), unbroadcast(ct, y)
    return (unbroadcast(ct, y if argnums[0] else x),)


vjp_rules[add_p] = _add_vjp
defbroadcasting(add_p)


def broadcast_like(t: Any, ans: Any, *_primals: Any) -> Any:
    """A tangent ``t`` broadcast to the shape of the output ``ans`` (no-op if it has it).

    Further arguments are ignored, so it is add's tangent rule ``(t, ans, x, y)`` itself."""
    try:            # arrays and tracers (each elementwise tangent rule passes here)
        shape = ans.shape
        if t.shape == shape:
            return t
    except AttributeError:
        shape = shape_of(ans)
        if shape_of(t) == shape:
            return t
    return broadcast_to(t, shape)


defjvp(add_p, broadcast_like, broadcast_like)       # (t, ans, x, y): the tangent, broadcast
sub_p = Primitive("sub", _arith(operator.sub, np.subtract), residuals="avals")
defjvp(sub_p, broadcast_like, lambda t, ans, x, y: broadcast_like(neg(t), ans))


def _sub_vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
    x, y = primals
    if len(argnums) == 2:
        return unbroadcast(ct, x), unbroadcast(neg(ct), y)
    return (unbroadcast(neg(ct), y) if argnums[0] else unbroadcast(ct, x),)


vjp_rules[sub_p] = _sub_vjp
defbroadcasting(sub_p)


sub = op2(sub_p)


mul_p = Primitive("mul", _arith(operator.mul, np.multiply))
defjvp(mul_p, lambda t, ans, x, y: mul(t, y), lambda t, ans, x, y: mul(x, t))


def _mul_vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
    x, y = primals
    if len(argnums) == 2:
        return unbroadcast(mul(ct, y), x), unbroadcast(mul(x, ct), y)
    return (unbroadcast(mul(x, ct), y) if argnums[0] else unbroadcast(mul(ct, y), x),)


vjp_rules[mul_p] = _mul_vjp
defbroadcasting(mul_p)


mul: Binary = op2(mul_p)


div_p = Primitive("div", _arith(operator.truediv, np.true_divide))
defjvp(div_p, lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(mul(t, div(ans, y))))
defvjp(div_p, lambda ct, ans, x, y: unbroadcast(div(ct, y), x),
       lambda ct, ans, x, y: unbroadcast(neg(mul(ct, div(ans, y))), y))
defbroadcasting(div_p)


div: Binary = op2(div_p)


neg_p = Primitive("neg", lambda x: -x if isinstance(x, np.generic) else np.negative(x),  # type: ignore[operator]
                  residuals="avals")
deflinear(neg_p)
defvjp(neg_p, lambda ct, ans, x: neg(ct))
defvectorized(neg_p)


neg: Unary = op1(neg_p)


def _pow_dx(ans: Any, x: Any, y: Any) -> Any:
    """d(x**y)/dx = y * x**(y-1); written so an integer power of a negative base works."""
    if isinstance(y, (int, float)):
        return 0.0 * x if y == 0 else (y * x if y == 2 else y * pow(x, y - 1))
    return where(eq(y, 0), 0.0, y * pow(x, y - 1))


def _pow_dy(ans: Any, x: Any, y: Any) -> Any:
    """d(x**y)/dy = x**y log x, taken as 0 at x = 0 (the convention of API.md)."""
    zero = eq(x, 0)
    d = where(zero, 0.0, ans * log(where(zero, 1.0, x)))
    # A constant base such as 2.0 gives a float64 log: keep the output's dtype (float32).
    return d if dtype_of(d) == dtype_of(ans) else convert_element_type(d, dtype_of(ans))


pow_p = Primitive("pow", np.power)
defjvp(pow_p, lambda t, ans, x, y: mul(t, _pow_dx(ans, x, y)),
       lambda t, ans, x, y: mul(t, _pow_dy(ans, x, y)))
defvjp(pow_p, lambda ct, ans, x, y: unbroadcast(mul(ct, _pow_dx(ans, x, y)), x),
       lambda ct, ans, x, y: unbroadcast(mul(ct, _pow_dy(ans, x, y)), y))
defbroadcasting(pow_p)


pow = op2(pow_p)


def _win_share_impl(x: Any, y: Any, greater: bool, dtype: Any) -> Any:
    if type(y) is float and y == 0.0 and type(x) is np.ndarray and x.dtype == dtype:
        # against 0 (relu, elu): the step function of ±x, NaN at NaN and 0.5 at ±0
        return np.heaviside(x if greater else np.negative(x), 0.5)
    wins, ties = (np.greater, np.greater_equal) if greater else (np.less, np.less_equal)
    share = np.add(wins(x, y), ties(x, y), dtype=dtype)
    share *= 0.5
    nan = np.isnan(x)
    if nan.any():        # a NaN ``x`` makes the output NaN: its derivative is NaN, not 0
        share = np.where(nan, np.nan, share)
    return share


# 1 where ``x`` wins (is greater, or less), 0.5 at a tie, NaN where ``x`` is NaN, else 0: one
# primitive, as it is evaluated in every derivative of a maximum or minimum (relu).
win_share_p = Primitive("win_share", _win_share_impl, differentiable=False)
defbroadcasting(win_share_p)


def win_share(x: Any, y: Any, greater: bool, dtype: Any) -> Any:
    return win_share_p.bind(x, y, greater=greater, dtype=np.dtype(dtype))


def _split_ties(ct: Any, x: Any, y: Any, greater: bool) -> Any:
    """``ct`` where ``x`` wins, half of it at a tie, NaN where ``x`` is NaN, else 0.

    Ties split the cotangent (API.md). A NaN ``x`` makes the output NaN, so its derivative is
    NaN rather than a silent zero. The share is computed on the primals and applied with one
    product, so a batched ``ct`` (a Jacobian's basis) costs a single pass.
    """
    return mul(ct, win_share(x, y, greater, dtype_of(ct)))


maximum_p = Primitive("maximum", np.maximum)
defjvp(maximum_p, lambda t, ans, x, y: broadcast_like(_split_ties(t, x, y, True), ans),
       lambda t, ans, x, y: broadcast_like(_split_ties(t, y, x, True), ans))
defvjp(maximum_p, lambda ct, ans, x, y: unbroadcast(_split_ties(ct, x, y, True), x),
       lambda ct, ans, x, y: unbroadcast(_split_ties(ct, y, x, True), y))
defbroadcasting(maximum_p)


maximum = op2(maximum_p)


minimum_p = Primitive("minimum", np.minimum)
defjvp(minimum_p, lambda t, ans, x, y: broadcast_like(_split_ties(t, x, y, False), ans),
       lambda t, ans, x, y: broadcast_like(_split_ties(t, y, x, False), ans))
defvjp(minimum_p, lambda ct, ans, x, y: unbroadcast(_split_ties(ct, x, y, False), x),
       lambda ct, ans, x, y: unbroadcast(_split_ties(ct, y, x, False), y))
defbroadcasting(minimum_p)


minimum = op2(minimum_p)


def _atan2_dy(x: Any, y: Any) -> Any:
    return div(x, add(mul(x, x), mul(y, y)))


def _atan2_dx(x: Any, y: Any) -> Any:
    return neg(div(y, add(mul(x, x), mul(y, y))))


arctan2_p = Primitive("arctan2", np.arctan2)
defjvp(arctan2_p, lambda t, ans, y, x: mul(t, _atan2_dy(x, y)),
       lambda t, ans, y, x: mul(t, _atan2_dx(x, y)))
defvjp(arctan2_p, lambda ct, ans, y, x: unbroadcast(mul(ct, _atan2_dy(x, y)), y),
       lambda ct, ans, y, x: unbroadcast(mul(ct, _atan2_dx(x, y)), x))
defbroadcasting(arctan2_p)


arctan2 = op2(arctan2_p)

# Made below by _unary and _nondiff; declared here for the rules that refer to them first.
trunc: Unary
floor_divide: Binary
cos: Unary
cosh: Unary
sqrt: Unary
sign: Unary


def _defmodulo(prim: Primitive, quotient: Callable[[Any, Any], Any]) -> None:
    """``x - y * quotient(x, y)`` with a piecewise-constant quotient: derivatives 1 and -q."""
    defjvp(prim, lambda t, ans, x, y: broadcast_like(t, ans),
           lambda t, ans, x, y: neg(mul(t, quotient(x, y))))
    defvjp(prim, lambda ct, ans, x, y: unbroadcast(ct, x),
           lambda ct, ans, x, y: unbroadcast(neg(mul(ct, quotient(x, y))), y))
    defbroadcasting(prim)


remainder_p = Primitive("remainder", np.remainder)
_defmodulo(remainder_p, lambda x, y: floor_divide(x, y))
remainder = op2(remainder_p)

fmod_p = Primitive("fmod", np.fmod)                 # the sign of x, as C's fmod
_defmodulo(fmod_p, lambda x, y: trunc(div(x, y)))
fmod = op2(fmod_p)


# ---------------------------------------------------------------------------------------
# Elementwise functions of one argument: name, NumPy implementation, derivative(ans, x).

sin_p, sin = _unary("sin", np.sin, lambda ans, x: cos(x))
cos_p, cos = _unary("cos", np.cos, lambda ans, x: neg(sin(x)))
tan_p, tan = _unary("tan", np.tan, lambda ans, x: 1.0 + ans * ans, "ans")
arcsin_p, arcsin = _unary("arcsin", np.arcsin, lambda ans, x: 1.0 / sqrt(1.0 - x * x))
arccos_p, arccos = _unary("arccos", np.arccos, lambda ans, x: -1.0 / sqrt(1.0 - x * x))
arctan_p, arctan = _unary("arctan", np.arctan, lambda ans, x: 1.0 / (1.0 + x * x))
sinh_p, sinh = _unary("sinh", np.sinh, lambda ans, x: cosh(x))
cosh_p, cosh = _unary("cosh", np.cosh, lambda ans, x: sinh(x))
tanh_p, tanh = _unary("tanh", np.tanh, lambda ans, x: 1.0 - ans * ans, "ans")


def _tanh_vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
    """``ct * (1 - ans²)``: on arrays of one shape and dtype (a hidden layer's first-order
    cotangent) in place on one temporary, not three (the same operations, the same bits)."""
    if (type(ct) is np.ndarray and type(ans) is np.ndarray and ct.dtype == ans.dtype
            and ct.shape == ans.shape):
        d = ans * ans
        np.subtract(1, d, out=d)
        d *= ct
        return (d,)
    return (ct * (1.0 - ans * ans),)


vjp_rules[tanh_p] = _tanh_vjp
arcsinh_p, arcsinh = _unary("arcsinh", np.arcsinh, lambda ans, x: 1.0 / sqrt(x * x + 1.0))
arccosh_p, arccosh = _unary("arccosh", np.arccosh, lambda ans, x: 1.0 / sqrt(x * x - 1.0))
arctanh_p, arctanh = _unary("arctanh", np.arctanh, lambda ans, x: 1.0 / (1.0 - x * x))
exp_p, exp = _unary("exp", np.exp, lambda ans, x: ans, "ans")
log_p, log = _unary("log", np.log, lambda ans, x: 1.0 / x)
vjp_rules[log_p] = lambda ct, ans, primals, params, argnums: (div(ct, primals[0]),)   # one pass, not two
log1p_p, log1p = _unary("log1p", np.log1p, lambda ans, x: 1.0 / (1.0 + x))
expm1_p, expm1 = _unary("expm1", np.expm1, lambda ans, x: ans + 1.0, "ans")
sqrt_p, sqrt = _unary("sqrt", np.sqrt, lambda ans, x: 0.5 / ans, "ans")
cbrt_p, cbrt = _unary("cbrt", np.cbrt, lambda ans, x: 1.0 / (3.0 * ans * ans), "ans")
abs_p, abs = _unary("abs", np.abs, lambda ans, x: sign(x))  # noqa: A001
def _logistic_impl(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow: from ``e = exp(-|x|)``, ``1 / (1 + e)`` for
    ``x >= 0`` and ``e / (1 + e)`` below, accurate in both tails (one transcendental pass)."""
    x = np.asarray(x)
    x = x if x.dtype.kind in "fc" else x.astype(float_dtype(x))
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    out = np.where(x >= 0, r, e * r)
    return out[()] if out.ndim == 0 else out      # a scalar for a scalar, as NumPy's ufuncs


logistic_p, logistic = _unary("logistic", _logistic_impl, lambda ans, x: ans * (1.0 - ans), "ans")
sign_p, sign = _nondiff("sign", np.sign, 1)
floor_p, floor = _nondiff("floor", np.floor, 1)
ceil_p, ceil = _nondiff("ceil", np.ceil, 1)
round_p, round = _nondiff("round", np.round, 1)  # noqa: A001
trunc_p, trunc = _nondiff("trunc", np.trunc, 1)
floor_divide_p, floor_divide = _nondiff("floor_divide", np.floor_divide)
eq_p, eq = _nondiff("eq", np.equal)
ne_p, ne = _nondiff("ne", np.not_equal)
lt_p, lt = _nondiff("lt", np.less)
le_p, le = _nondiff("le", np.less_equal)
gt_p, gt = _nondiff("gt", np.greater)
ge_p, ge = _nondiff("ge", np.greater_equal)
logical_and_p, logical_and = _nondiff("logical_and", np.logical_and)
logical_or_p, logical_or = _nondiff("logical_or", np.logical_or)
logical_xor_p, logical_xor = _nondiff("logical_xor", np.logical_xor)
logical_not_p, logical_not = _nondiff("logical_not", np.logical_not, 1)
bitwise_and_p, bitwise_and = _nondiff("bitwise_and", np.bitwise_and)
bitwise_or_p, bitwise_or = _nondiff("bitwise_or", np.bitwise_or)
bitwise_xor_p, bitwise_xor = _nondiff("bitwise_xor", np.bitwise_xor)
invert_p, invert = _nondiff("invert", np.invert, 1)
isfinite_p, isfinite = _nondiff("isfinite", np.isfinite, 1)
isnan_p, isnan = _nondiff("isnan", np.isnan, 1)
isinf_p, isinf = _nondiff("isinf", np.isinf, 1)
signbit_p, signbit = _nondiff("signbit", np.signbit, 1)

# ---------------------------------------------------------------------------------------
# Complex parts. Derivatives follow JAX: a cotangent rule is the transpose of the (real-
# linear) tangent map, so ``conj`` conjugates its cotangent, ``real`` makes the real
# cotangent complex and ``imag`` multiplies it by -1j; a holomorphic rule is ``ct * f'(z)``.


def _is_complex(x: Any) -> bool:
    return dtype_of(x).kind == "c"


conj_p = Primitive("conj", np.conjugate, residuals="avals")
deflinear(conj_p)
defvjp(conj_p, lambda ct, ans, x: conj(ct))
defvectorized(conj_p)
conj: Unary = op1(conj_p)

real_p = Primitive("real", np.real, residuals="avals")
deflinear(real_p)
defvjp(real_p, lambda ct, ans, x: unbroadcast(ct, x))
defvectorized(real_p)
_real = op1(real_p)


def real(x: Any) -> Any:
    # An array's real part with no transform running is its ``.real`` view: one call deep,
    # as NumPy's own ``np.real`` (through ``op1`` it would cost two Python calls).
    if type(x) is np.ndarray and not _core._active:
        return x.real
    return _real(x)

imag_p = Primitive("imag", np.imag, residuals="avals")
deflinear(imag_p)
defvjp(imag_p, lambda ct, ans, x: mul(ct, -1j) if _is_complex(x) else zeros_like(x))
defvectorized(imag_p)
imag = op1(imag_p)


def _conj_unit(x: Any, ans: Any) -> Any:
    """conj(z) / |z| (0 at z = 0). Traced by an outer transform, it is written with z and |z|
    so that it has derivatives of its own (sign(z) is a constant to the outer transform, and
    |z|'' would come out 0); on concrete values conj(sign(z)), which NumPy rounds exactly."""
    if isinstance(x, Tracer):
        return div(conj(x), where(eq(ans, 0), 1.0, ans))
    return conj(sign(x))


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    """|z| has the real tangent Re(conj(z) t) / |z| (0 at z = 0, as for real x)."""
    return real(mul(_conj_unit(x, ans), t)) if _is_complex(x) else mul(t, sign(x))


defjvp(abs_p, _abs_jvp)
vjp_rules[abs_p] = lambda ct, ans, primals, params, argnums: (
    unbroadcast(mul(ct, _conj_unit(primals[0], ans)), primals[0]) if _is_complex(primals[0])
    else mul(ct, sign(primals[0])),)


def _mask_impl(x: Any, keep: Any) -> Any:
    """``where(keep, x, 0)`` as one product, unless ``x`` holds inf or NaN (0 * inf is NaN)."""
    if _all_finite(x):
        return np.multiply(x, keep, dtype=float_dtype(x))
    return np.where(keep, x, np.zeros((), float_dtype(x)))


mask_p = Primitive("mask", _mask_impl)
defjvp(mask_p, lambda t, ans, x, keep: broadcast_like(mask(t, keep), ans))
defvjp(mask_p, lambda ct, ans, x, keep: unbroadcast(mask(ct, keep), x))
defbroadcasting(mask_p)
mask: Binary = op2(mask_p)

select_p = Primitive("select", np.where)


def _select_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    """One ``where`` on the tangents (a missing one is 0), not one per branch."""
    c, x, y = primals
    _, tx, ty = tangents
    ans = where(c, x, y)
    if tx is None and ty is None:
        return ans, None
    if ty is None:
        return ans, broadcast_like(mask(tx, c), ans)
    if tx is None:
        return ans, broadcast_like(mask(ty, logical_not(c)), ans)
    return ans, broadcast_like(where(c, tx, ty), ans)


jvp_rules[select_p] = _select_jvp
defvjp(select_p, None, lambda ct, ans, c, x, y: unbroadcast(mask(ct, c), x),
       lambda ct, ans, c, x, y: unbroadcast(mask(ct, logical_not(c)), y))
defbroadcasting(select_p)


def where(condition: Any, x: Any, y: Any) -> Any:
    return select_p.bind(condition, x, y)


def _convert(x: Any, dtype: Any) -> Any:
    x = np.asarray(x)
    if x.dtype.kind == "c" and dtype.kind != "c":
        x = x.real                # complex to real keeps the real part, without a warning
    return x.astype(dtype, copy=False)


convert_element_type_p = Primitive("convert_element_type", _convert)
defjvp(convert_element_type_p,
       lambda t, ans, x, dtype: convert_element_type(t, dtype) if np.dtype(dtype).kind in "fc" else None)
defvjp(convert_element_type_p, lambda ct, ans, x, dtype: convert_element_type(ct, dtype_of(x))
       if np.dtype(dtype).kind in "fc" else None)
defvectorized(convert_element_type_p)


def convert_element_type(x: Any, dtype: Any) -> Any:
    return convert_element_type_p.bind(x, dtype=np.dtype(dtype))


defvectorized(zeros_like_p)


def zeros_like(x: Any) -> Any:
    return zeros_like_p.bind(x)


stop_gradient_p = Primitive("stop_gradient", lambda x: x, differentiable=False)
defvectorized(stop_gradient_p)

# ---------------------------------------------------------------------------------------
# Reductions. ``axes`` is a sorted tuple of non-negative axes, or ``None`` for all of them.


_CONSTANT_ROWS: dict = {}


def constant_row(value: float, n: int, dtype: Any) -> np.ndarray:
    """A cached read-only vector of ``n`` copies of ``value``: the ones of a sum done as a
    BLAS product, the zeros of a fast ``maximum``, without an allocation per call."""
    # (callers pass an array's dtype: the conversion, ~0.5 µs, only for a scalar type)
    key = (value, n, dtype if type(dtype) is not type else np.dtype(dtype))
    row = _CONSTANT_ROWS.get(key)
    if row is None:
        if len(_CONSTANT_ROWS) > 256:
            _CONSTANT_ROWS.clear()
        row = _CONSTANT_ROWS[key] = np.full(n, value, dtype)
        row.flags.writeable = False
    return row


def all_axes(axes: tuple | None, x: Any) -> tuple:
    return tuple(range(ndim_of(x))) if axes is None else axes


def _reduce_batch(prim: Primitive) -> None:
    def batch(axis_size: int, vals: list, dims: list, *, axes: tuple | None, keepdims: bool,
              **params: Any) -> tuple[Any, int]:
        (x,), (d,) = vals, dims
        axes = tuple(range(ndim_of(x) - 1)) if axes is None else axes
        moved = tuple(a + (a >= d) for a in axes)
        out_dim = d if keepdims else d - sum(a < d for a in axes)
        return prim.bind(x, axes=moved, keepdims=keepdims, **params), out_dim
    batch_rules[prim] = batch


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` kept as ones (a function of its own: as a
    comprehension in :func:`expand_reduced` it would make ``axes`` a closure cell)."""
    return tuple([1 if i in axes else n for i, n in enumerate(shape)])


def expand_reduced(ct: Any, x: Any, axes: tuple, keepdims: bool) -> Any:
    """``ct`` of a reduction over ``axes`` broadcast back to the shape of ``x``."""
    shape = shape_of(x)
    axes = all_axes(axes, x)
    if not keepdims:
        ct = reshape_p.bind(ct, shape=_kept_shape(shape, axes))
    return broadcast_to(ct, shape)


def _sum_impl(x: Any, axes: tuple | None, keepdims: bool) -> Any:
    """``np.sum``, as a product with a vector of ones where BLAS does it many times faster
    than NumPy's reduction: over the trailing axes of a float32/float64 array (NumPy loops
    once per row: 7x slower on 128 rows of 10), over the leading axes of 16 rows or more. The
    plan is cached by shape, dtype and axes: one lookup per call (every bias cotangent)."""
    if type(x) is np.ndarray and axes:
        key = (x.shape, x.dtype, axes, keepdims)
        plan = _SUM_PLANS.get(key, False)
        if plan is False:
            if len(_SUM_PLANS) > 256:
                _SUM_PLANS.clear()
            plan = _SUM_PLANS[key] = _sum_plan(*key)
        if plan is not None and x.flags.c_contiguous:
            ones, flat_shape, lead, out_shape = plan
            flat = x.reshape(flat_shape)
            return (ones @ flat if lead else flat @ ones).reshape(out_shape)
    # NumPy's stubs accept keepdims only as a literal True or False, not a bool variable.
    return np.add.reduce(x, axis=axes, keepdims=keepdims)  # type: ignore[call-overload]


_SUM_PLANS: dict = {}


def _sum_plan(shape: tuple, dtype: Any, axes: tuple, keepdims: bool) -> tuple | None:
    """``(ones, flat shape, leading?, out shape)`` of a sum done as a product, or None."""
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):      # BLAS's types
        return None
    n, k = len(shape), len(axes)
    lead = axes == tuple(range(k))          # (a full reduction counts as leading)
    if lead:
        m, kept = math.prod(shape[:k]), shape[k:]
        size = m * math.prod(kept)
        # NumPy adds row by row: BLAS wins from 16 rows on, over all axes on 4096 elements
        if size < 4096 and (m < 16 or not kept or size == 0):
            return None
        return constant_row(1, m, dtype), (m, -1), True, (1,) * k + kept if keepdims else kept
    if axes[0] != n - k or axes != tuple(range(n - k, n)):      # trailing
        return None
    m, kept = math.prod(shape[n - k:]), shape[:n - k]
    if m == 0:                              # (no -1 to infer in an empty flat shape)
        return None
    return constant_row(1, m, dtype), (-1, m), False, kept + (1,) * k if keepdims else kept


reduce_sum_p = Primitive("reduce_sum", _sum_impl, residuals="avals")
deflinear(reduce_sum_p)
defvjp(reduce_sum_p, lambda ct, ans, x, axes, keepdims: expand_reduced(ct, x, axes, keepdims))
_reduce_batch(reduce_sum_p)


def reduce_sum(x: Any, axes: tuple, keepdims: bool = False) -> Any:
    if not _core._active:       # the eval fast path inlined: every bias cotangent sums
        return _sum_impl(x, axes, keepdims)
    return reduce_sum_p.bind(x, axes=axes, keepdims=keepdims)


def _extremum_hits(ans: Any, x: Any, axes: tuple, keepdims: bool) -> tuple[Any, Any]:
    """1 at the positions attaining the extremum of each reduced slice (else 0), and their
    number per slice (tied extrema share the derivative equally).

    The rules divide by the count at the reduced size, before broadcasting back.
    """
    hit = convert_element_type(eq(x, expand_reduced(ans, x, axes, keepdims)), dtype_of(x))
    return hit, reduce_sum(hit, axes, keepdims=keepdims)


def _extremum_jvp(t: Any, ans: Any, x: Any, axes: tuple, keepdims: bool) -> Any:
    hit, count = _extremum_hits(ans, x, axes, keepdims)
    return reduce_sum(t * hit, axes, keepdims) / count


def _extremum_vjp(ct: Any, ans: Any, x: Any, axes: tuple, keepdims: bool) -> Any:
    hit, count = _extremum_hits(ans, x, axes, keepdims)
    return expand_reduced(ct / count, x, axes, keepdims) * hit


def _defextremum(prim: Primitive) -> None:
    defjvp(prim, _extremum_jvp)
    defvjp(prim, _extremum_vjp)
    _reduce_batch(prim)


reduce_max_p = Primitive("reduce_max",
                         lambda x, axes, keepdims: np.maximum.reduce(x, axis=axes, keepdims=keepdims))
reduce_min_p = Primitive("reduce_min",
                         lambda x, axes, keepdims: np.minimum.reduce(x, axis=axes, keepdims=keepdims))
_defextremum(reduce_max_p)
_defextremum(reduce_min_p)


def reduce_max(x: Any, axes: tuple | None, keepdims: bool = False) -> Any:
    return reduce_max_p.bind(x, axes=axes, keepdims=keepdims)


def reduce_min(x: Any, axes: tuple | None, keepdims: bool = False) -> Any:
    return reduce_min_p.bind(x, axes=axes, keepdims=keepdims)


def _prod_of_others(x: Any, axes: tuple) -> Any:
    """For each element, the product of the other elements of its reduced slice.

    Computed without division so that zeros are handled exactly (and to any order).
    """
    axes = all_axes(axes, x)
    shape = shape_of(x)
    kept = [i for i in range(len(shape)) if i not in axes]
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    flat = reshape(transpose(x, tuple(kept) + axes), tuple(shape[i] for i in kept) + (n,))
    eye = np.eye(n, dtype=bool)
    others = reduce_prod(where(eye, 1.0, expand_dims(flat, -2)), (len(kept) + 1,))
    others = reshape(others, tuple(shape[i] for i in kept) + tuple(shape[a] for a in axes))
    perm = tuple(kept) + axes
    return transpose(others, tuple(int(i) for i in np.argsort(perm)))


reduce_prod_p = Primitive("reduce_prod", lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims))
defjvp(reduce_prod_p, lambda t, ans, x, axes, keepdims: reduce_sum(
    t * _prod_of_others(x, axes), axes, keepdims))
defvjp(reduce_prod_p, lambda ct, ans, x, axes, keepdims: expand_reduced(ct, x, axes, keepdims)
       * _prod_of_others(x, axes))
_reduce_batch(reduce_prod_p)


def reduce_prod(x: Any, axes: tuple, keepdims: bool = False) -> Any:
    return reduce_prod_p.bind(x, axes=axes, keepdims=keepdims)


# Cumulative sums and products along one (non-negative) ``axis``.

def _cum_batch(prim: Primitive) -> None:
    def batch(axis_size: int, vals: list, dims: list, *, axis: int) -> tuple[Any, int]:
        (x,), (d,) = vals, dims
        return prim.bind(x, axis=axis + (axis >= d)), d
    batch_rules[prim] = batch


def _reverse(x: Any, axis: int) -> Any:
    return getitem(x, (slice(None),) * axis + (slice(None, None, -1),))


cumsum_p = Primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis), residuals="avals")
deflinear(cumsum_p)
defvjp(cumsum_p, lambda ct, ans, x, axis: unbroadcast(_reverse(cumsum(_reverse(ct, axis), axis), axis), x))
_cum_batch(cumsum_p)


def cumsum(x: Any, axis: int) -> Any:
    return cumsum_p.bind(x, axis=axis)


def _cumprod_partials(x: Any, axis: int) -> Any:
    """``A[..., i, j, ...] = prod_{k <= j, k != i} x[..., k, ...]`` (i inserted before ``axis``).

    ``d cumprod(x)_j / d x_i`` is ``A[i, j]`` for ``i <= j`` and 0 above: a cumprod of copies
    of ``x`` with a 1 at ``i``, so zeros in ``x`` are exact (no division) to any order.
    """
    n = shape_of(x)[axis]
    rest = ndim_of(x) - axis - 1
    eye = np.eye(n, dtype=bool).reshape((n, n) + (1,) * rest)
    copies = where(eye, 1.0, expand_dims(x, axis))
    return mask(cumprod(copies, axis + 1), np.tri(n, dtype=bool).T.reshape((n, n) + (1,) * rest))


cumprod_p = Primitive("cumprod", lambda x, axis: np.cumprod(x, axis=axis), residuals="primals")
defjvp(cumprod_p, lambda t, ans, x, axis: reduce_sum(
    mul(expand_dims(t, axis + 1), _cumprod_partials(x, axis)), (axis,)))
defvjp(cumprod_p, lambda ct, ans, x, axis: unbroadcast(reduce_sum(
    mul(expand_dims(ct, axis), _cumprod_partials(x, axis)), (axis + 1,)), x))
_cum_batch(cumprod_p)


def cumprod(x: Any, axis: int) -> Any:
    return cumprod_p.bind(x, axis=axis)


def _arg_batch(axis_size: int, vals: list, dims: list, *, axis: int | None,
               keepdims: bool, impl: Any) -> tuple[Any, int]:
    (x,), (d,) = vals, dims
    if axis is None:
        shape = (axis_size,) + (1,) * (ndim_of(x) - 1 if keepdims else 0)    # (unit axes of keepdims)
        x = reshape(moveaxis(x, d, 0), (axis_size, -1))
        return reshape(argreduce_p.bind(x, axis=1, keepdims=False, impl=impl), shape), 0
    moved = axis + (axis >= d)
    # Reducing an axis before the batch axis (without keepdims) shifts the batch axis left.
    return argreduce_p.bind(x, axis=moved, keepdims=keepdims, impl=impl), d - (moved < d and not keepdims)


argreduce_p = Primitive("argreduce", lambda x, axis, keepdims, impl: impl(x, axis=axis, keepdims=keepdims),
                        differentiable=False)
batch_rules[argreduce_p] = _arg_batch


def _argsort_batch(axis_size: int, vals: list, dims: list, *, axis: int, kind: Any) -> tuple[Any, int]:
    (x,), (d,) = vals, dims
    return argsort_p.bind(x, axis=axis + (axis >= d), kind=kind), d


# Sorting is a gather through the permutation (functrans.numpy.sort), so only the
# permutation itself needs a primitive; it has no derivative.
argsort_p = Primitive("argsort", lambda x, axis, kind: np.argsort(x, axis=axis, kind=kind),
                      differentiable=False)
batch_rules[argsort_p] = _argsort_batch

# ---------------------------------------------------------------------------------------
# Shapes.

reshape_p = Primitive("reshape", lambda x, shape: np.asarray(x).reshape(shape), residuals="avals")
deflinear(reshape_p)
defvjp(reshape_p, lambda ct, ans, x, shape: reshape(ct, shape_of(x)))
batch_rules[reshape_p] = lambda axis_size, vals, dims, shape: (
    reshape(moveaxis(vals[0], dims[0], 0), (axis_size,) + shape), 0)


def reshape(x: Any, shape: tuple) -> Any:
    if -1 in shape:
        size = int(np.prod(shape_of(x), dtype=np.int64))
        known = -int(np.prod(shape, dtype=np.int64))
        shape = tuple(size // known if d == -1 else d for d in shape) if known else shape
    return reshape_p.bind(x, shape=tuple(shape))


def _transpose_impl(x: Any, perm: tuple) -> Any:
    return (x if type(x) is np.ndarray else np.asarray(x)).transpose(perm)


transpose_p = Primitive("transpose", _transpose_impl, residuals="avals")
deflinear(transpose_p)
defvjp(transpose_p, lambda ct, ans, x, perm: transpose(ct, tuple(int(i) for i in np.argsort(perm))))
batch_rules[transpose_p] = lambda axis_size, vals, dims, perm: (
    transpose(vals[0], (dims[0],) + tuple(p + (p >= dims[0]) for p in perm)), 0)


def transpose(x: Any, perm: tuple) -> Any:
    if perm == tuple(range(len(perm))):
        return x
    return transpose_p.bind(x, perm=perm)


def _broadcast_to_impl(x: Any, shape: tuple) -> Any:
    """``np.broadcast_to`` (a read-only view), built directly: NumPy's version costs ~3 µs of
    Python, which every reduction's cotangent pays."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    lead = len(shape) - x.ndim
    if lead < 0:
        return np.broadcast_to(x, shape)          # NumPy's error for incompatible shapes
    strides = [0] * lead
    for d, n, st in zip(x.shape, shape[lead:], x.strides):
        if d == n:
            strides.append(st)
        elif d == 1:
            strides.append(0)
        else:
            return np.broadcast_to(x, shape)
    try:
        out = np.ndarray(shape, x.dtype, x, 0, tuple(strides))
    except (ValueError, TypeError):               # a non-contiguous view exports no buffer
        return np.broadcast_to(x, shape)
    out.flags.writeable = False
    return out


broadcast_to_p = Primitive("broadcast_to", _broadcast_to_impl, residuals="avals")
deflinear(broadcast_to_p)
defvjp(broadcast_to_p, lambda ct, ans, x, shape: unbroadcast(ct, x))


def _broadcast_to_batch(axis_size: int, vals: list, dims: list, shape: tuple) -> tuple[Any, int]:
    x = moveaxis(vals[0], dims[0], 0)
    rank = ndim_of(x) - 1
    x = reshape(x, (axis_size,) + (1,) * (len(shape) - rank) + tuple(shape_of(x)[1:]))
    return broadcast_to(x, (axis_size,) + shape), 0


batch_rules[broadcast_to_p] = _broadcast_to_batch


def broadcast_to(x: Any, shape: tuple) -> Any:
    shape = tuple(shape)
    try:                        # (shape_of inlined: arrays and tracers)
        same = x.shape == shape
    except AttributeError:
        same = shape_of(x) == shape
    if same:
        return x
    return broadcast_to_p.bind(x, shape=shape)


def expand_dims(x: Any, axis: int) -> Any:
    shape = list(shape_of(x))
    axis = axis if axis >= 0 else axis + len(shape) + 1
    shape.insert(axis, 1)
    return reshape(x, tuple(shape))


def _concatenate_impl(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


concatenate_p = Primitive("concatenate", _concatenate_impl)
deflinear(concatenate_p)


def _concatenate_vjp(ct: Any, ans: Any, *xs: Any, axis: int) -> list:
    cts, start = [], 0
    for x in xs:
        size = shape_of(x)[axis]
        index = (slice(None),) * axis + (slice(start, start + size),)
        cts.append(getitem(ct, index))
        start += size
    return cts


def _concatenate_batch(axis_size: int, vals: list, dims: list, axis: int) -> tuple[Any, int]:
    xs = [bdim_to_front(v, d, axis_size) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*xs, axis=axis + 1), 0


defvjp_all(concatenate_p, _concatenate_vjp)
batch_rules[concatenate_p] = _concatenate_batch


def concatenate(xs: Sequence[Any], axis: int) -> Any:
    return concatenate_p.bind(*xs, axis=axis)


# ---------------------------------------------------------------------------------------
# Indexing. An index is a static tuple of slices, ints, None and NumPy integer arrays, in
# which ``DYNAMIC`` marks a traced integer array passed as an extra operand.

class _Dynamic:
    def __repr__(self) -> str:
        return "DYNAMIC"


DYNAMIC = _Dynamic()


def _fill(idx: tuple, dynamic: Sequence[Any]) -> tuple:
    if not dynamic:
        return idx
    it = iter(dynamic)
    return tuple(next(it) if i is DYNAMIC else i for i in idx)


def _is_advanced(i: Any) -> bool:
    return i is DYNAMIC or isinstance(i, np.ndarray)


def _getitem_impl(x: Any, *dynamic: Any, idx: tuple) -> Any:
    return np.asarray(x)[_fill(idx, dynamic)]


def _scatter_add_impl(x: Any, updates: Any, *dynamic: Any, idx: tuple) -> Any:
    out = np.array(x, dtype=np.result_type(x, updates), copy=True)
    full = _fill(idx, dynamic)
    if any(_is_advanced(i) for i in idx):
        np.add.at(out, full, updates)
    else:
        out[full] += updates
    return out


def _scatter_set_impl(x: Any, updates: Any, *dynamic: Any, idx: tuple) -> Any:
    out = np.array(x, dtype=np.result_type(x, updates), copy=True)
    out[_fill(idx, dynamic)] = updates
    return out


getitem_p = Primitive("getitem", _getitem_impl)
scatter_add_p = Primitive("scatter_add", _scatter_add_impl)
scatter_set_p = Primitive("scatter_set", _scatter_set_impl)


def getitem(x: Any, idx: tuple, dynamic: Sequence[Any] = ()) -> Any:
    return getitem_p.bind(x, *dynamic, idx=idx)


def scatter_add(x: Any, updates: Any, idx: tuple, dynamic: Sequence[Any] = ()) -> Any:
    return scatter_add_p.bind(x, updates, *dynamic, idx=idx)


def scatter_set(x: Any, updates: Any, idx: tuple, dynamic: Sequence[Any] = ()) -> Any:
    return scatter_set_p.bind(x, updates, *dynamic, idx=idx)


def _zero_or(t: Any, like: Any) -> Any:
    return zeros_like(like) if t is None else t


def _getitem_jvp(primals: list, tangents: list, *, idx: tuple) -> tuple[Any, Any]:
    x, *dynamic = primals
    ans = getitem(x, idx, dynamic)
    return ans, None if tangents[0] is None else getitem(tangents[0], idx, dynamic)


def _scatter_jvp(prim: Primitive) -> Callable[..., tuple[Any, Any]]:
    def jvp(primals: list, tangents: list, *, idx: tuple) -> tuple[Any, Any]:
        x, updates, *dynamic = primals
        ans = prim.bind(*primals, idx=idx)
        if tangents[0] is None and tangents[1] is None:
            return ans, None
        tx = _zero_or(tangents[0], ans)
        tu = _zero_or(tangents[1], updates)
        return ans, prim.bind(tx, tu, *dynamic, idx=idx)
    return jvp


jvp_rules[getitem_p] = _getitem_jvp
jvp_rules[scatter_add_p] = _scatter_jvp(scatter_add_p)
jvp_rules[scatter_set_p] = _scatter_jvp(scatter_set_p)
defvjp(getitem_p, lambda ct, ans, x, *dynamic, idx: scatter_add(zeros_like(x), ct, idx, dynamic))
defvjp(scatter_add_p, lambda ct, ans, x, u, *dynamic, idx: ct,
       lambda ct, ans, x, u, *dynamic, idx: unbroadcast(getitem(ct, idx, dynamic), u))


def _scatter_set_vjp_updates(ct: Any, ans: Any, x: Any, u: Any, *dynamic: Any, idx: tuple) -> Any:
    """``ct[idx]``, but of an element that integer arrays select more than once only the
    update that stays (NumPy's assignment keeps one, the last) gets it: the others are
    overwritten, so their derivative is 0. Which one stays is found by assigning positions."""
    g = getitem(ct, idx, dynamic)
    if any(_is_advanced(i) for i in idx):
        ids = np.arange(math.prod(shape_of(g))).reshape(shape_of(g))
        placed = scatter_set(np.full(shape_of(x), -1), ids, idx, dynamic)
        g = mask(g, eq(getitem(placed, idx, dynamic), ids))
    return unbroadcast(g, u)


defvjp(scatter_set_p, lambda ct, ans, x, u, *dynamic, idx: scatter_set(ct, 0.0, idx, dynamic),
       _scatter_set_vjp_updates)


def _index_layout(idx: tuple, dynamic: Sequence[Any]) -> tuple[bool, int, int]:
    """``(advanced block contiguous, result dims before it, rank of its broadcast shape)``.

    NumPy keeps a contiguous block of advanced indices (ints count as advanced when arrays
    are present) in place and moves a split one to the front of the result.
    """
    arrays = [shape_of(i) for i in _fill(idx, dynamic) if _is_advanced(i)]
    if not arrays:
        return True, 0, 0
    positions = [k for k, i in enumerate(idx) if _is_advanced(i) or isinstance(i, (int, np.integer))]
    contiguous = positions == list(range(positions[0], positions[-1] + 1))
    before = sum(1 for i in idx[:positions[0]] if isinstance(i, slice) or i is None)
    return contiguous, before, len(np.broadcast_shapes(*arrays))


def _batched_indices(axis_size: int, dynamic: list, ddims: list, idx: tuple) -> tuple:
    """Per-example index arrays made batch-first and aligned, plus the arange that indexes the
    batch axis: ``(per-example shapes, rank of the advanced block, moved arrays, arange)``."""
    per_example = [shape_of(v) if d is None else shape_of(v)[:d] + shape_of(v)[d + 1:]
                   for v, d in zip(dynamic, ddims)]
    statics = [i.shape for i in idx if isinstance(i, np.ndarray)]
    rank = len(np.broadcast_shapes(*per_example, *statics))
    moved = []
    for v, d, s in zip(dynamic, ddims, per_example):
        if d is not None:
            v = reshape(moveaxis(v, d, 0), (axis_size,) + (1,) * (rank - len(s)) + tuple(s))
        moved.append(v)
    return per_example, rank, moved, np.arange(axis_size).reshape((axis_size,) + (1,) * rank)


def _getitem_batch(axis_size: int, vals: list, dims: list, *, idx: tuple) -> tuple[Any, int]:
    x, *dynamic = vals
    xd, *ddims = dims
    if all(d is None for d in ddims):
        out = getitem(moveaxis(x, xd, 0), (slice(None),) + idx, dynamic)
        contiguous, _, adv_rank = _index_layout(idx, dynamic)
        return out, 0 if contiguous else adv_rank
    # Batched index arrays: index the batch axis too, with an arange broadcast against them.
    x = bdim_to_front(x, xd, axis_size)
    per_example, rank, moved, batch_index = _batched_indices(axis_size, dynamic, ddims, idx)
    out = getitem(x, (DYNAMIC,) + idx, [batch_index] + moved)
    contiguous, before, _ = _index_layout(idx, moved)  # ``dynamic`` mixes batched shapes
    if contiguous and before:
        # The result is (B, *advanced, *basic); per example the advanced block follows
        # ``before`` basic dims.
        n = ndim_of(out)
        out = transpose(out, (0,) + tuple(range(1 + rank, 1 + rank + before))
                        + tuple(range(1, 1 + rank)) + tuple(range(1 + rank + before, n)))
    return out, 0


def _index_shape(shape: tuple, idx: tuple, dynamic: Sequence[Any]) -> tuple:
    """The shape of ``x[idx]`` for ``x`` of ``shape``, computed on a zero-strided dummy."""
    dummies = [np.zeros(shape_of(d), dtype=np.intp) for d in dynamic]
    return np.broadcast_to(np.empty((), np.int8), shape)[_fill(idx, dummies)].shape


def _scatter_batch(prim: Primitive) -> Callable[..., tuple[Any, int]]:
    def batch(axis_size: int, vals: list, dims: list, *, idx: tuple) -> tuple[Any, int]:
        x, updates, *dynamic = vals
        xd, ud, *ddims = dims
        x = bdim_to_front(x, xd, axis_size)
        if any(d is not None for d in ddims):
            return _scatter_batched_indices(prim, axis_size, x, updates, ud, dynamic, ddims, idx), 0
        contiguous, _, adv_rank = _index_layout(idx, dynamic)
        if ud is not None or not contiguous:
            # Lay the updates out like x[:, idx]: the batch axis (size 1 if unbatched) first,
            # or right after the advanced block when NumPy moves a split block to the front.
            target_rank = len(_index_shape(shape_of(x)[1:], idx, dynamic))
            if ud is not None:
                updates = moveaxis(updates, ud, 0)
                lead, u_shape = (axis_size,), tuple(shape_of(updates)[1:])
            else:
                lead, u_shape = (1,), tuple(shape_of(updates))
            updates = reshape(updates, lead + (1,) * (target_rank - len(u_shape)) + u_shape)
            if not contiguous:
                updates = moveaxis(updates, 0, adv_rank)
        return prim.bind(x, updates, *dynamic, idx=(slice(None),) + idx), 0
    return batch


def _scatter_batched_indices(prim: Primitive, axis_size: int, x: Any, updates: Any, ud: Any,
                             dynamic: list, ddims: list, idx: tuple) -> Any:
    """Scatter with per-example index arrays (``x`` batched first): as in ``_getitem_batch``,
    an arange indexes the batch axis, and the updates take the layout of that gather."""
    per_example, rank, moved, batch_index = _batched_indices(axis_size, dynamic, ddims, idx)
    target = tuple(_index_shape(shape_of(x)[1:], idx, [np.zeros(s, np.intp) for s in per_example]))
    if ud is None:
        updates = broadcast_to(updates, (axis_size,) + target)
    else:
        updates = moveaxis(updates, ud, 0)
        u_shape = tuple(shape_of(updates)[1:])
        updates = reshape(updates, (axis_size,) + (1,) * (len(target) - len(u_shape)) + u_shape)
        updates = broadcast_to(updates, (axis_size,) + target)
    contiguous, before, _ = _index_layout(idx, moved)
    if contiguous and before:
        # Per example the advanced block follows ``before`` basic dims; the gather with the
        # batch arange puts it first: (B, *advanced, *basic).
        n = 1 + len(target)
        updates = transpose(updates, (0,) + tuple(range(1 + before, 1 + before + rank))
                            + tuple(range(1, 1 + before)) + tuple(range(1 + before + rank, n)))
    return prim.bind(x, updates, batch_index, *moved, idx=(DYNAMIC,) + idx)


batch_rules[getitem_p] = _getitem_batch
batch_rules[scatter_add_p] = _scatter_batch(scatter_add_p)
batch_rules[scatter_set_p] = _scatter_batch(scatter_set_p)

# ---------------------------------------------------------------------------------------
# Products.

def _band_of(m: Any, wide: bool) -> tuple[int, Any] | None:
    """``(offset, d)`` if ``m`` is zero except ``d`` on one diagonal spanning its short side.

    Jacobian bases are such matrices (identities, and row or column blocks of them in
    chunks; diagonals after an elementwise rule). ``wide`` asks for ``m[i, offset + i]`` with
    rows ≤ columns, else ``m[offset + j, j]`` with columns ≤ rows. The first elements reject a
    dense matrix in O(1) (in :func:`_matmul_impl`); the full check is O(n²), less than the
    O(n³) product it saves.
    """
    rows, cols = m.shape
    if (rows > cols) if wide else (cols > rows):
        return None
    first = m[0] if wide else m[:, 0]
    offset = int(np.argmax(first != 0))
    d = np.diagonal(m, offset if wide else -offset)
    # ``m != 0`` then a count of booleans is ~3x faster than counting a float array's nonzeros.
    if len(d) != min(rows, cols) or np.count_nonzero(m != 0) != np.count_nonzero(d):
        return None
    return offset, d


def _matmul_impl(a: Any, b: Any) -> Any:
    """``a @ b``, as an elementwise scaling when one factor is a (block of a) diagonal matrix.

    The scaling is used only when the other factor is finite, so NaN and inf propagate
    exactly as in the dense product.
    """
    if type(a) is np.ndarray and type(b) is np.ndarray:
        # Whether each may be a band: a matrix of at least 32 x 32 whose entries (0, 1) and
        # (1, 0) are zero; inlined (every product runs it), a dense matrix costs one ``item``.
        sa, sb = a.shape, b.shape
        a_band = (len(sa) == 2 and sa[0] >= 32 and sa[1] >= 32
                  and a.item(0, 1) == 0 and a.item(1, 0) == 0)
        b_band = (len(sb) == 2 and sb[0] >= 32 and sb[1] >= 32
                  and b.item(0, 1) == 0 and b.item(1, 0) == 0)
        if (a_band or b_band) and b.ndim >= 2:
            band = _band_of(a, wide=True) if a_band else None
            if band is not None and _all_finite(b):
                offset, d = band
                out = d[:, None] * b[..., offset:offset + len(d), :]
                return out.astype(np.result_type(a, b), copy=False)
            band = _band_of(b, wide=False) if b_band and a.ndim >= 1 else None
            if band is not None and _all_finite(a):
                offset, d = band
                return (a[..., offset:offset + len(d)] * d).astype(np.result_type(a, b), copy=False)
    return np.matmul(a, b)


def _all_finite(x: Any) -> bool:
    """No inf or NaN in ``x`` (for a large array a finite sum proves it without a temporary)."""
    if type(x) is not np.ndarray:
        return bool(np.isfinite(x).all())
    if x.size < 4096:       # the ufuncs themselves: ``.all()`` is a Python wrapper
        return bool(np.logical_and.reduce(np.isfinite(x), axis=None))
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(x))) or bool(np.isfinite(x).all())


matmul_p = Primitive("matmul", _matmul_impl, residuals="primals")


matmul = op2(matmul_p)


def _mT(x: Any) -> Any:
    n = ndim_of(x)
    return transpose(x, tuple(range(n - 2)) + (n - 1, n - 2))


def _matmul_vjp_a(ct: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = ndim_of(a), ndim_of(b)
    if nb == 1:                      # ct: (..., m) or (); ct_a = ct ⊗ b
        return unbroadcast(mul(expand_dims(ct, -1), b) if na > 1 else mul(ct, b), a)
    if na == 1:                      # ct: (..., n); ct_a = b @ ct
        if nb == 2:
            return matmul(b, ct) if ndim_of(ct) == 1 else unbroadcast(matmul(ct, _mT(b)), a)
        return unbroadcast(reshape(matmul(b, expand_dims(ct, -1)), shape_of(ct)[:-1] + shape_of(a)), a)
    return unbroadcast(matmul(ct, _mT(b)), a)


def _matmul_vjp_b(ct: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = ndim_of(a), ndim_of(b)
    if na == 1:                      # ct_b = a ⊗ ct
        return unbroadcast(mul(expand_dims(a, -1), expand_dims(ct, -2)) if nb > 1 else mul(ct, a), b)
    if nb == 1:                      # ct: (..., m); ct_b = ct @ a, summed over a's batch axes
        if na == 2:
            return matmul(ct, a)
        return unbroadcast(reshape(matmul(expand_dims(ct, -2), a), shape_of(ct)[:-1] + shape_of(b)), b)
    return unbroadcast(matmul(_mT(a), ct), b)


_SWAP = (1, 0)


def _matrix_transpose(x: Any) -> Any:
    """The transpose of a matrix, with the eval fast path inlined (two per matmul cotangent)."""
    if not _core._active and type(x) is np.ndarray:
        return x.T
    return transpose_p.bind(x, perm=_SWAP)


def _in_dtype_of(ct: Any, x: Any) -> Any:
    """A cotangent that already has the shape of ``x`` (a matrix factor's) in ``x``'s dtype:
    unbroadcast's dtype step without its shape tests."""
    try:
        if ct.dtype == x.dtype:
            return ct
    except AttributeError:
        pass
    return unbroadcast(ct, x)


def _matmul_vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
    a, b = primals
    try:                                          # (ndim_of inlined: arrays and tracers)
        matrices = len(a.shape) == 2 and len(b.shape) == 2
    except AttributeError:                        # a list constant: the general path
        matrices = False
    if matrices:                                  # (most calls): no batch axes
        if len(argnums) == 2:
            return (_in_dtype_of(matmul(ct, _matrix_transpose(b)), a),
                    _in_dtype_of(matmul(_matrix_transpose(a), ct), b))
        if argnums[0] == 0:
            return (_in_dtype_of(matmul(ct, _matrix_transpose(b)), a),)
        return (_in_dtype_of(matmul(_matrix_transpose(a), ct), b),)
    cts = []          # a loop: a comprehension would make the arguments closure cells
    for i in argnums:
        cts.append((_matmul_vjp_b if i else _matmul_vjp_a)(ct, ans, a, b))
    return cts


defjvp(matmul_p, lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t))
vjp_rules[matmul_p] = _matmul_vjp


def _matmul_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, int]:
    (a, b), (da, db) = vals, dims
    try:                                              # (ndim_of inlined: arrays and tracers)
        ra, rb = len(a.shape) - (da is not None), len(b.shape) - (db is not None)
    except AttributeError:
        ra, rb = ndim_of(a) - (da is not None), ndim_of(b) - (db is not None)
    if db is None and ra == 1 and rb == 2:           # rows of vectors times a matrix
        return matmul(moveaxis(a, da, 0), b), 0
    if da is None and ra == 2 and rb == 1:           # a matrix times columns of vectors
        return matmul(a, _mT(moveaxis(b, db, 0))), 1
    if da is not None and db is None and ra >= 2 and rb == 2 and da < ra - 1:
        return matmul(a, b), da                       # stacked matrices times one matrix
    # General case: promote vectors to matrices, batch axes first, equal batch ranks.
    # (The batch axes go first before promoting: a trailing batch axis of a vector would
    # otherwise be taken for its contracted axis.)
    if da is not None:
        a, da = moveaxis(a, da, 0), 0
    if db is not None:
        b, db = moveaxis(b, db, 0), 0
    a2 = expand_dims(a, -2) if ra == 1 else a
    b2 = expand_dims(b, -1) if rb == 1 else b
    rank = max(ra, 2, rb) - 2
    ops = []
    for x, d, r in ((a2, da, max(ra, 2)), (b2, db, max(rb, 2))):
        if d is not None:
            x = moveaxis(x, d, 0)
            if r - 2 < rank:
                x = reshape(x, (axis_size,) + (1,) * (rank - r + 2) + tuple(shape_of(x)[1:]))
        ops.append(x)
    out = matmul(*ops)
    shape = shape_of(out)
    if ra == 1 or rb == 1:
        drop = {len(shape) - 2} if ra == 1 else set()
        if rb == 1:
            drop.add(len(shape) - 1)
        out = reshape(out, tuple(n for i, n in enumerate(shape) if i not in drop))
    return out, 0


batch_rules[matmul_p] = _matmul_batch


def _scaled_matmul_impl(x: Any, s: Any, w: Any) -> Any:
    """``(x * s) @ w``, the product made block by block so that each block stays in cache.

    A pending scaling meeting a matrix (see ``_basis_matmul``) is a large batched product
    of broadcast factors: made whole, it is written to memory and read back by the matmul,
    which costs more than the arithmetic. The blocks split the leading axes of ``x * s``.
    """
    shape = np.broadcast_shapes(np.shape(x), np.shape(s))
    if np.ndim(w) != 2 or not _blocked(shape):
        return np.matmul(np.multiply(x, s), w)
    lead, k = shape[:-1], shape[-1]
    rows = max(_MIN_ROWS, _BLOCK // k)               # rows of ``x * s`` per block
    axis = next(i for i in range(len(lead)) if math.prod(lead[i + 1:]) <= rows)
    step = max(1, rows // math.prod(lead[axis + 1:]))
    xb, sb = np.broadcast_to(x, shape), np.broadcast_to(s, shape)
    out = np.empty(lead + (w.shape[1],), dtype=np.result_type(x, s, w))
    # Columns first where a block of ``x`` is a transposed view (multiplied without striding),
    # else rows first: a broadcast ``x`` (zero strides) would give ``empty_like`` a strided
    # layout, which made ``buf @ w`` 2x slower.
    block = xb[(0,) * axis + (slice(0, step),)]
    columns = block.flags.f_contiguous and not block.flags.c_contiguous
    buf = np.empty(block.shape, dtype=np.result_type(x, s), order="F" if columns else "C")
    for outer in np.ndindex(*lead[:axis]):
        for start in range(0, lead[axis], step):
            at = outer + (slice(start, start + step),)
            part = buf[:min(step, lead[axis] - start)]
            np.multiply(xb[at], sb[at], out=part)
            np.matmul(part, w, out=out[at])
    return out


# Elements of ``x * s`` per block (128 KiB of float64); a product of up to 16 blocks fits in
# cache whole, and one call is cheaper than many smaller ones.
_BLOCK = 1 << 14
# ... but at least this many rows: a block of fewer makes each matmul a matrix-vector product,
# which reads all of ``w`` per row (memory-bound: 10x slower for a ``w`` beyond the cache).
_MIN_ROWS = 64


def _blocked(shape: tuple) -> bool:
    """Whether ``scaled_matmul`` makes a product ``x * s`` of this shape in blocks."""
    return len(shape) >= 2 and math.prod(shape) > 16 * _BLOCK

scaled_matmul_p = Primitive("scaled_matmul", _scaled_matmul_impl, residuals="primals")


def scaled_matmul(x: Any, s: Any, w: Any) -> Any:
    """``matmul(mul(x, s), w)`` as one primitive (cache-blocked); linear in each argument."""
    return scaled_matmul_p.bind(x, s, w)


def _scaled_matmul_vjp(ct: Any, ans: Any, x: Any, s: Any, w: Any) -> list:
    xs = mul(x, s)
    ct_xs = _matmul_vjp_a(ct, ans, xs, w)
    return [unbroadcast(mul(ct_xs, s), x), unbroadcast(mul(ct_xs, x), s), _matmul_vjp_b(ct, ans, xs, w)]


def _scaled_matmul_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, int]:
    """The batched product, then the batched matmul (the batching rules of its definition)."""
    (x, s, w), (dx, ds, dw) = vals, dims
    xs, dxs = (mul(x, s), None) if dx is None and ds is None else batch_rules[mul_p](
        axis_size, [x, s], [dx, ds])
    return batch_rules[matmul_p](axis_size, [xs, w], [dxs, dw])


defjvp(scaled_matmul_p, lambda t, ans, x, s, w: scaled_matmul(t, s, w),
       lambda t, ans, x, s, w: scaled_matmul(x, t, w), lambda t, ans, x, s, w: scaled_matmul(x, s, t))
defvjp_all(scaled_matmul_p, _scaled_matmul_vjp)
batch_rules[scaled_matmul_p] = _scaled_matmul_batch


# ---------------------------------------------------------------------------------------
# Pending scalings (see batching.ScaledTracer): products with unbatched values, masks and
# selections between two scalings of one value stay symbolic; the one-hot basis of a
# Jacobian times a matrix is a scaling of the matrix.

def _fits(shape: tuple, y: Any) -> bool:
    """The unbatched ``y`` broadcasts into ``shape`` without growing it."""
    own = tuple(shape_of(y))
    if own == shape or not own:
        return True
    return len(own) <= len(shape) and all(a == 1 or a == b for a, b in zip(own[::-1], shape[::-1]))


def _finite(y: Any, checked: dict | None = None) -> bool:
    """``y`` is known to hold no inf or NaN (a value without a concrete value is not).

    ``checked`` (id -> (weak reference, answer)) remembers the answer for an array: every
    chunk of a Jacobian asks it of the same matrices, and the check costs a pass over them.
    """
    v = y
    if type(v) is not np.ndarray:
        try:
            v = concrete_value(y)
        except ConcretizationError:
            return False
    if checked is None or type(v) is not np.ndarray:
        return _all_finite(v)
    ref, known = checked.get(id(v), (None, False))
    if ref is None or ref() is not v:
        known = _all_finite(v)
        checked[id(v)] = (weakref.ref(v), known)
    return known


def _own(trace: BatchTrace, v: Any) -> bool:
    """``v`` is a pending scaling of this trace (not a value of an enclosing one)."""
    return type(v) is ScaledTracer and v._trace is trace


def _parts(trace: BatchTrace, v: Any, d: int | None) -> tuple | None:
    """``(base, bdim, scale)`` of a batched operand (``scale`` None: none pending)."""
    if _own(trace, v):
        return v.base, v.bdim, v.scale
    return None if d is None else (v, d, None)


def _scaling(trace: BatchTrace, v: Any, d: int, y: Any, keep: bool = False) -> Any:
    """``v * y`` (``where(y, v, 0)`` with ``keep``) for an unbatched ``y``, kept pending, or None.

    A zero of the basis times inf or NaN, or a masked inf or NaN, would not be zero, so those
    need finite values; a dense base keeps its dtype, so only arrays of that dtype join it.
    """
    if _own(trace, v):
        base, bdim, scale = v.base, v.bdim, v.scale
        shape = v.shape
    else:
        base, bdim, scale = v, d, None
        shape = tuple(shape_of(v))
        if math.prod(shape) < DEFER_SIZE:
            return None          # small: a product now costs less than keeping it pending
        shape = shape[:d] + shape[d + 1:]
    if not _fits(shape, y):
        return None
    if base is None:
        if not (keep or _finite(y)):
            return None
        new = mask(scale, y) if keep else mul(scale, y)
        return ScaledTracer(trace, None, 0, new, v.lead)
    dtype = dtype_of(base)
    if keep:
        if not _finite(base):
            return None
        y = convert_element_type(y, dtype)
    elif isinstance(y, (int, float, complex)) or dtype_of(y) != dtype:
        return None
    return ScaledTracer(trace, base, bdim, y if scale is None else mul(scale, y))



def _same_base(trace: BatchTrace, vals: list, dims: list) -> tuple | None:
    """``(base, bdim, scales)`` if all batched operands are scalings of one value."""
    parts = [_parts(trace, v, d) for v, d in zip(vals, dims)]
    first = parts[0]
    if first is None or any(p is None or p[0] is not first[0] or p[1] != first[1] for p in parts):
        return None
    if first[0] is None and any(v.lead != vals[0].lead or v.shape != vals[0].shape for v in vals):
        return None
    return first[0], first[1], [p[2] for p in cast("list[tuple]", parts)]     # no None: checked above


def _scaled_mul(trace: BatchTrace, vals: list, dims: list) -> Any:
    (x, y), (dx, dy) = vals, dims
    if dy is None:
        return _scaling(trace, x, dx, y)
    if dx is None:
        return _scaling(trace, y, dy, x)
    same = _same_base(trace, vals, dims)
    if same is not None and same[0] is None:          # basis times basis: the same one-hots
        return ScaledTracer(trace, None, 0, mul(*same[2]), x.lead)
    return None


def _scaled_mask(trace: BatchTrace, vals: list, dims: list) -> Any:
    (x, keep), (dx, dk) = vals, dims
    return _scaling(trace, x, dx, keep, keep=True) if dk is None else None


def _scaled_sum(op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """Rule of ``add``/``sub``: two scalings of one value are one scaling."""
    def rule(trace: BatchTrace, vals: list, dims: list) -> Any:
        if not (_own(trace, vals[0]) or _own(trace, vals[1])):
            return None
        same = _same_base(trace, vals, dims)
        if same is None:
            return None
        base, bdim, (sx, sy) = same        # a scale None is 1 (a dense base and its scaling)
        return ScaledTracer(trace, base, bdim, op(1.0 if sx is None else sx, 1.0 if sy is None else sy),
                            vals[0].lead if base is None else 0)
    return rule


def _scaled_select(trace: BatchTrace, vals: list, dims: list) -> Any:
    c, x, y = vals
    if dims[0] is not None or not (_own(trace, x) or _own(trace, y)):
        return None
    same = _same_base(trace, [x, y], dims[1:])
    if same is None or not _fits((x if _own(trace, x) else y).shape, c):
        return None
    base, bdim, (sx, sy) = same
    if base is None:
        return ScaledTracer(trace, None, 0, where(c, sx, sy), x.lead)
    return ScaledTracer(trace, base, bdim, where(c, 1.0 if sx is None else sx, 1.0 if sy is None else sy))


def _scaled_neg(trace: BatchTrace, vals: list, dims: list) -> Any:
    (t,) = vals
    if not _own(trace, t):
        return None
    return ScaledTracer(trace, t.base, t.bdim, neg(t.scale), t.lead)


def _basis_convert(trace: BatchTrace, vals: list, dims: list, *, dtype: Any) -> Any:
    (t,) = vals
    if not _own(trace, t) or t.base is not None:
        return None
    return ScaledTracer(trace, None, 0, convert_element_type(t.scale, dtype), t.lead)


def _basis_reduce_sum(trace: BatchTrace, vals: list, dims: list, *, axes: tuple | None,
                      keepdims: bool) -> Any:
    """Summing out the basis' own axes leaves its diagonal, example ``i`` its element ``i``."""
    (t,) = vals
    if not _own(trace, t):
        return None
    lead, shape = t.lead, t.shape
    if keepdims or all_axes(axes, t) != tuple(range(lead, len(shape))):
        return None
    if t.base is not None:     # vector examples: base @ scale, the scaled copy never made
        if len(shape) != 1 or ndim_of(t.scale) > 1:
            return None
        return matmul(moveaxis(t.base, t.bdim, 0), broadcast_to(t.scale, shape)), 0
    flat = reshape(t.scale, shape[:lead] + (math.prod(shape[lead:]),))
    return moveaxis(_window(trace, flat, lead), lead, 0), 0


def _window(trace: BatchTrace, x: Any, axis: int) -> Any:
    """The entries of ``x`` along ``axis`` that this trace's basis rows hit (all, unchunked)."""
    start, k = trace.basis_start, trace.axis_size
    if start == 0 and k == shape_of(x)[axis]:
        return x
    return getitem(x, (slice(None),) * (axis % ndim_of(x)) + (slice(start, start + k),))


def _basis_matmul(trace: BatchTrace, vals: list, dims: list) -> Any:
    """Rows of a matrix scaled by the basis' diagonal (basis @ b), or its columns (a @ basis);
    a pending scaling of a dense value times a matrix is one blocked ``scaled_matmul``."""
    (a, b), (da, db) = vals, dims
    if type(a) is ScaledTracer and a._trace is trace:           # (_own, inlined: every basis @ W)
        b_shape = b.shape if type(b) is np.ndarray else shape_of(b)
        if db is not None or len(b_shape) != 2:
            return None
        if a.base is not None:
            base, bdim, scale = a.base, a.bdim, a.scale
            nb = ndim_of(base)
            if 0 < bdim >= nb - 2:     # the examples along a matrix axis (columns): first, as a view
                base, bdim = moveaxis(base, bdim, 0), 0
            # Fused only where the product is made in blocks; a smaller one is materialised in
            # the factor's place (which frees the factor: one array alive, not two).
            if nb >= 2 and (bdim == 0 or bdim < nb - 2) and ndim_of(scale) < nb - bdim \
                    and shape_of(base)[-1] == b_shape[0] \
                    and _blocked(np.broadcast_shapes(shape_of(base), shape_of(scale))):
                return scaled_matmul(base, scale, b), bdim
            return None
        a_shape, lead = a.shape, a.lead
        if len(a_shape) != lead + 1 or a_shape[-1] != b_shape[0] or not _finite(b, trace.checked):
            return None
        k, m = trace.axis_size, b_shape[1]
        rows = reshape(b if k == b_shape[0] else _window(trace, b, 0), (k,) + (1,) * lead + (m,))
        if a.unit:
            return broadcast_to(rows, (k,) + a_shape[:-1] + (m,)), 0
        d = expand_dims(_window(trace, moveaxis(a.scale, lead, 0), 0), -1)   # (k, *lead, 1)
        return mul(d, rows), 0
    if _own(trace, b) and b.base is None and da is None and b.lead == 0 \
            and ndim_of(b) == 1 and ndim_of(a) in (1, 2) and shape_of(a)[-1] == shape_of(b)[0] \
            and _finite(a, trace.checked):
        cols = _window(trace, a, -1)                                     # columns of a
        return (cols if b.unit else mul(cols, _window(trace, b.scale, 0))), ndim_of(a) - 1
    return None


scaled_rules[mul_p] = defer_rules[mul_p] = _scaled_mul
scaled_rules[mask_p] = defer_rules[mask_p] = _scaled_mask
scaled_rules[add_p] = _scaled_sum(add)
scaled_rules[sub_p] = _scaled_sum(sub)
scaled_rules[neg_p] = _scaled_neg
scaled_rules[select_p] = _scaled_select
scaled_rules[convert_element_type_p] = _basis_convert
scaled_rules[reduce_sum_p] = _basis_reduce_sum
scaled_rules[matmul_p] = _basis_matmul


def _einsum_impl(*operands: Any, spec: str) -> Any:
    return np.einsum(spec, *operands, optimize=len(operands) > 2)


einsum_p = Primitive("einsum", _einsum_impl)


def einsum(spec: str, *operands: Any) -> Any:
    """Einsum with an explicit ``spec`` ("ij,jk->ik": no ellipsis, output given)."""
    return einsum_p.bind(*operands, spec=spec)


def _einsum_jvp(primals: list, tangents: list, *, spec: str) -> tuple[Any, Any]:
    ans = einsum(spec, *primals)
    out = None
    for k, t in enumerate(tangents):
        if t is not None:
            ops = list(primals)
            ops[k] = t
            term = einsum(spec, *ops)
            out = term if out is None else add(out, term)
    return ans, out


def _einsum_vjp(ct: Any, ans: Any, *operands: Any, spec: str) -> list:
    ins, out = spec.split("->")
    subs = ins.split(",")
    cts = []
    for k, (sub, x) in enumerate(zip(subs, operands)):
        others = [s for j, s in enumerate(subs) if j != k]
        available = set(out).union(*others)
        unique = "".join(dict.fromkeys(sub))
        present = "".join(c for c in unique if c in available)
        g = einsum(",".join([out] + others) + "->" + present, ct,
                   *[o for j, o in enumerate(operands) if j != k])
        sizes = {c: n for c, n in zip(sub, shape_of(x))}
        if present != unique:          # letters summed within this operand only: broadcast
            g = broadcast_to(reshape(g, tuple(sizes[c] if c in present else 1 for c in unique)),
                             tuple(sizes[c] for c in unique))
        if unique != sub:              # repeated letters (a diagonal): place on it
            fresh = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         if c not in spec)
            seen: set = set()
            target, eyes, eye_ops = "", [], []
            for c in sub:
                if c in seen:
                    f = next(fresh)
                    target += f
                    eyes.append(c + f)
                    eye_ops.append(np.eye(sizes[c], dtype=dtype_of(x)))
                else:
                    seen.add(c)
                    target += c
            g = einsum(",".join([unique] + eyes) + "->" + target, g, *eye_ops)
        cts.append(unbroadcast(g, x))
    return cts


def _einsum_batch(axis_size: int, vals: list, dims: list, *, spec: str) -> tuple[Any, int]:
    letter = next(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
    ins, out = spec.split("->")
    subs = ins.split(",")
    new_subs = []
    for s, v, d in zip(subs, vals, dims):
        new_subs.append(s if d is None else s[:d] + letter + s[d:])
    return einsum(",".join(new_subs) + "->" + letter + out, *vals), 0


jvp_rules[einsum_p] = _einsum_jvp
defvjp_all(einsum_p, _einsum_vjp)
batch_rules[einsum_p] = _einsum_batch

# ---------------------------------------------------------------------------------------
# Derivative surgery.


class _HookState(threading.local):
    def __init__(self) -> None:
        self.traced: list = []     # traced cotangents being shown to a hook (see _protocols)


hook_state = _HookState()


def borrowed(x: Any) -> Any:
    """``x``, a derivative a user's rule or hook returned, as a read-only view if it is a NumPy
    array: the rule may hand back an array someone else holds (its cotangent, a residual, a
    closed-over constant) that owns its memory like a fresh result. The transforms'
    finishing step (``api._owned``) copies read-only arrays, so this one is copied only if it
    reaches the user unchanged, and the caller's array cannot be modified through the
    gradient. O(1): no data is copied here."""
    if type(x) is not np.ndarray:
        return x
    view = x.view()
    view.flags.writeable = False
    return view


def _hook_vjp(ct: Any, ans: Any, x: Any, *, hook: Callable[[Any], Any]) -> Any:
    g = ct if isinstance(ct, Tracer) else np.array(ct, dtype=dtype_of(ct), copy=True)
    if isinstance(g, Tracer):
        # Not a NumPy array: ``g *= 2`` would silently rebind the hook's local name, so the
        # in-place operators of Tracer raise for the cotangent a hook is looking at.
        hook_state.traced.append(g)
        try:
            replaced = hook(g)
        finally:
            hook_state.traced.pop()
    else:
        replaced = hook(g)
    if replaced is None:
        return g
    if tuple(shape_of(replaced)) != tuple(shape_of(ct)):
        if shape_of(replaced) != ():
            raise ValueError(f"with_gradient: the hook {getattr(hook, '__qualname__', hook)!r} "
                             f"returned a cotangent of shape {tuple(shape_of(replaced))}; expected "
                             f"shape {tuple(shape_of(ct))} (that of the value), or None")
        replaced = broadcast_to(replaced, tuple(shape_of(ct)))
    return replaced if replaced is g else borrowed(replaced)


hook_p = Primitive("with_gradient", lambda x, hook: x)
defjvp(hook_p, lambda t, ans, x, hook: t)
defvjp(hook_p, _hook_vjp)
defvectorized(hook_p)
