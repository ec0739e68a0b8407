"""Elementwise functions (NumPy's ufuncs): primitives under NumPy's names, and compositions.

A composition starts with the eval fast path: when no transform runs anywhere, NumPy's own
function is called directly, so values, dtypes and speed are NumPy's. Otherwise it is built
from primitives, which makes it differentiable and batchable.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as _np

from .. import core as _core
from .. import primitives as P
from ..core import Tracer, dtype_of

ArrayLike = Any

sin, cos, tan, arcsin, arccos, arctan = P.sin, P.cos, P.tan, P.arcsin, P.arccos, P.arctan
sinh, cosh, tanh, arcsinh, arccosh, arctanh = P.sinh, P.cosh, P.tanh, P.arcsinh, P.arccosh, P.arctanh
exp, log, log1p, expm1, sqrt, cbrt = P.exp, P.log, P.log1p, P.expm1, P.sqrt, P.cbrt
abs = absolute = P.abs  # noqa: A001
sign, floor, ceil, trunc, signbit = P.sign, P.floor, P.ceil, P.trunc, P.signbit
add, subtract, multiply = P.add, P.sub, P.mul
divide = true_divide = P.div
power = P.pow
negative = P.neg
maximum, minimum, arctan2 = P.maximum, P.minimum, P.arctan2
remainder = mod = P.remainder
fmod = P.fmod
floor_divide = P.floor_divide
equal, not_equal, less, less_equal, greater, greater_equal = P.eq, P.ne, P.lt, P.le, P.gt, P.ge
bitwise_and, bitwise_or, bitwise_xor, invert = P.bitwise_and, P.bitwise_or, P.bitwise_xor, P.invert
bitwise_not = invert
logical_and, logical_or, logical_xor, logical_not = (P.logical_and, P.logical_or,
                                                     P.logical_xor, P.logical_not)
isfinite, isnan, isinf = P.isfinite, P.isnan, P.isinf
conj = conjugate = P.conj
real, imag = P.real, P.imag

_LN2 = float(_np.log(2.0))     # Python floats: they keep float32 float32 (NEP 50)
_LN10 = float(_np.log(10.0))
_DEG = float(_np.pi / 180.0)


def _result_dtype(*args: ArrayLike) -> Any:
    """The dtype NumPy's float ufuncs give ``args``: Python numbers stay weak (NEP 50) and
    integers compute in float64."""
    dtype = _np.result_type(*(a.dtype if isinstance(a, Tracer) else
                              a if isinstance(a, (int, float, complex, _np.ndarray, _np.generic))
                              else _np.asarray(a) for a in args))
    return dtype if dtype.kind in "fc" else _np.result_type(dtype, _np.float64)


def _as(x: Any, dtype: Any) -> Any:
    return x if dtype_of(x) == dtype else P.convert_element_type(x, dtype)


def round(a: ArrayLike, decimals: int = 0) -> Any:  # noqa: A001
    """Round to ``decimals`` places (half to even); its derivative is zero.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.round(fnp.array([0.5, 1.5, 2.26]), 1)
        array([0.5, 1.5, 2.3])
    """
    if not _core._active:
        return _np.round(a, decimals)
    if decimals == 0:
        return P.round(a)
    scale = 10.0 ** decimals
    return P.round(a * scale) / scale


around = round


def rint(x: ArrayLike) -> Any:
    """Round to the nearest integer (half to even); zero derivative."""
    if not _core._active:
        return _np.rint(x)
    return P.round(x)


def fix(x: ArrayLike) -> Any:
    """Round towards zero; zero derivative."""
    if not _core._active:
        return _np.fix(x)
    return P.trunc(x)


def positive(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.positive(x)
    return x


def square(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.square(x)
    return P.mul(x, x)


def reciprocal(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.reciprocal(x)
    return P.div(1.0, x)


def exp2(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.exp2(x)
    return P.pow(2.0, x)


def log2(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.log2(x)
    return P.log(x) / _LN2


def log10(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.log10(x)
    return P.log(x) / _LN10


def deg2rad(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.deg2rad(x)
    return P.mul(x, _DEG)


def rad2deg(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.rad2deg(x)
    return P.mul(x, 1.0 / _DEG)


radians, degrees = deg2rad, rad2deg


def hypot(x: ArrayLike, y: ArrayLike) -> Any:
    """``sqrt(x**2 + y**2)`` scaled by the larger magnitude, so it does not overflow (as NumPy's);
    its derivative at ``(0, 0)`` is 0, as the 2-norm's (API.md), not NaN."""
    if not _core._active:
        return _np.hypot(x, y)
    ax, ay = (P.abs(a) if hasattr(a, "dtype") else builtins.abs(a) for a in (x, y))  # keep Python
    m = P.stop_gradient_p.bind(P.maximum(ax, ay))          # numbers weak, as NumPy's promotion does
    m = P.convert_element_type(P.where(P.isfinite(m), P.where(P.eq(m, 0), 1.0, m), 1.0), dtype_of(m))
    u, v = P.div(x, m), P.div(y, m)
    s = P.add(P.mul(u, u), P.mul(v, v))
    zero = P.eq(s, 0)
    return P.mul(m, P.where(zero, 0.0, P.sqrt(P.where(zero, 1.0, s))))


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow (exact derivative for any shift).

    Example:
        >>> import functrans.numpy as fnp
        >>> float(fnp.logaddexp(1000.0, 1000.0)) == 1000.0 + float(fnp.log(2.0))
        True
    """
    if not _core._active:
        return _np.logaddexp(x, y)
    m = P.stop_gradient_p.bind(P.maximum(x, y))
    m = P.where(P.isfinite(m), m, 0.0)
    return m + P.log(P.exp(P.sub(x, m)) + P.exp(P.sub(y, m)))


def logaddexp2(x: ArrayLike, y: ArrayLike) -> Any:
    """``log2(2**x + 2**y)`` without overflow."""
    if not _core._active:
        return _np.logaddexp2(x, y)
    return logaddexp(P.mul(x, _LN2), P.mul(y, _LN2)) / _LN2


def sinc(x: ArrayLike) -> Any:
    """``sin(pi x) / (pi x)``, 1 at 0; near 0 a Taylor polynomial, so every derivative there
    is exact too (no 0/0).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> float(fnp.sinc(0.0)), f"{float(ft.grad(ft.grad(fnp.sinc))(0.0)):.6f}"  # -pi**2 / 3
        (1.0, '-3.289868')
    """
    if not _core._active:
        return _np.sinc(x)
    y = P.mul(x, float(_np.pi))
    small = P.lt(P.abs(y), 1e-2)
    safe = P.where(small, 1.0, y)
    y2 = y * y
    taylor = 1.0 - y2 / 6.0 + y2 * y2 / 120.0 - y2 * y2 * y2 / 5040.0
    return P.where(small, taylor, P.sin(safe) / safe)


def copysign(x: ArrayLike, y: ArrayLike) -> Any:
    """``|x|`` with the sign of ``y`` (its sign bit: -0.0 counts as negative)."""
    if not _core._active:
        return _np.copysign(x, y)
    dtype = _result_dtype(x, y)
    ax = _as(P.abs(x), dtype)
    return P.where(P.signbit(y), P.neg(ax), ax)


def heaviside(x1: ArrayLike, x2: ArrayLike) -> Any:
    """0 below zero, ``x2`` at zero, 1 above (NaN stays NaN); zero derivative in ``x1``."""
    if not _core._active:
        return _np.heaviside(x1, x2)
    dtype = _result_dtype(x1, x2)
    x1 = P.stop_gradient_p.bind(x1)
    out = P.where(P.gt(x1, 0), 1.0, P.where(P.lt(x1, 0), 0.0, P.where(P.eq(x1, 0), x2, x1)))
    return _as(out, dtype)


def fabs(x: ArrayLike) -> Any:
    """Absolute value of a real ``x``, always floating (integers become float64)."""
    if not _core._active:
        return _np.fabs(x)
    return P.abs(_as(x, _result_dtype(x)))


def float_power(x: ArrayLike, y: ArrayLike) -> Any:
    """``x ** y`` computed in float64 (complex128 for complex arguments)."""
    if not _core._active:
        return _np.float_power(x, y)
    dtype = _np.result_type(_result_dtype(x, y), _np.float64)
    return P.pow(_as(x, dtype), _as(y, dtype))


def fmax(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise maximum ignoring NaN (NaN only where both are NaN); ties split."""
    if not _core._active:
        return _np.fmax(x, y)
    return _ignoring_nan(P.maximum, x, y)


def fmin(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise minimum ignoring NaN (NaN only where both are NaN); ties split."""
    if not _core._active:
        return _np.fmin(x, y)
    return _ignoring_nan(P.minimum, x, y)


def _ignoring_nan(op: Any, x: ArrayLike, y: ArrayLike) -> Any:
    """``op(x, y)`` with a NaN on one side replaced by the other side before ``op`` sees it, so
    the NaN side gets a zero derivative (``op`` itself gives a NaN one to a NaN input)."""
    x = P.where(P.isnan(x), y, x)
    return op(x, P.where(P.isnan(y), x, y))


def divmod(x: ArrayLike, y: ArrayLike) -> tuple:  # noqa: A001
    """``(x // y, x % y)``."""
    if not _core._active:
        return _np.divmod(x, y)
    return P.floor_divide(x, y), P.remainder(x, y)


def modf(x: ArrayLike) -> tuple:
    """``(fractional part, integral part)``, both with the sign of ``x``."""
    if not _core._active:
        return _np.modf(x)
    whole = P.trunc(x)
    return P.sub(x, whole), whole


def ldexp(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 * 2**x2`` for integer exponents ``x2`` (differentiable in ``x1``)."""
    if not _core._active:
        return _np.ldexp(x1, x2)
    dtype = _result_dtype(x1)
    return _as(P.mul(x1, _as(P.pow(2.0, P.stop_gradient_p.bind(x2)), dtype)), dtype)


def angle(z: ArrayLike, deg: bool = False) -> Any:
    """The argument of ``z`` (``arctan2(imag, real)``), in degrees if ``deg``."""
    if not _core._active:
        return _np.angle(z, deg)
    a = P.arctan2(P.imag(z), P.real(z))
    return a * (1.0 / _DEG) if deg else a


def isreal(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.isreal(x)
    return P.eq(P.imag(x), 0)


def iscomplex(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.iscomplex(x)
    return P.ne(P.imag(x), 0)


def isposinf(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.isposinf(x)
    return P.logical_and(P.isinf(x), P.logical_not(P.signbit(x)))


def isneginf(x: ArrayLike) -> Any:
    if not _core._active:
        return _np.isneginf(x)
    return P.logical_and(P.isinf(x), P.signbit(x))


def nan_to_num(x: ArrayLike, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN and infinities replaced by finite numbers; derivative 1 at the finite elements."""
    if not _core._active:
        return _np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    dtype = dtype_of(x)
    if dtype.kind == "c":
        parts = [nan_to_num(f(x), nan=nan, posinf=posinf, neginf=neginf) for f in (P.real, P.imag)]
        return parts[0] + parts[1] * 1j
    if dtype.kind != "f":
        return x
    big = float(_np.finfo(dtype).max)
    x = P.where(P.isnan(x), nan, x)
    x = P.where(isposinf(x), big if posinf is None else posinf, x)
    return _as(P.where(isneginf(x), -big if neginf is None else neginf, x), dtype)


def isclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """``|a - b| <= atol + rtol |b|`` elementwise (infinities equal only to themselves)."""
    if not _core._active:
        return _np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    a, b = P.stop_gradient_p.bind(a), P.stop_gradient_p.bind(b)
    finite = P.logical_and(P.isfinite(a), P.isfinite(b))
    close = P.le(P.abs(P.sub(P.where(finite, a, 0.0), P.where(finite, b, 0.0))),
                 atol + rtol * P.abs(P.where(finite, b, 0.0)))
    out = P.where(finite, close, P.eq(a, b))
    if equal_nan:
        out = P.logical_or(out, P.logical_and(P.isnan(a), P.isnan(b)))
    return out


def allclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Any:
    """Whether every element is close (see :func:`isclose`)."""
    if not _core._active:
        return _np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    close = isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return P.reduce_min(close, tuple(range(len(P.shape_of(close)))))


def sigmoid(x: ArrayLike) -> Any:
    return P.logistic(x)


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """Elementwise ``x if condition else y``: the way to branch per element (and per example).

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.where(fnp.array([True, False]), 1.0, 2.0)
        array([1., 2.])
    """
    if x is None and y is None:
        return _np.nonzero(_concrete(condition, "nonzero"))
    return P.where(condition, x, y)


def _concrete(a: ArrayLike, what: str) -> Any:
    from ..errors import ConcretizationError
    try:
        return _core.concrete_value(a)
    except ConcretizationError as err:
        raise ConcretizationError(f"{what} needs a concrete value: {err}") from None


_NO_VALUE: Any = object()


def clip(a: ArrayLike, a_min: ArrayLike = _NO_VALUE, a_max: ArrayLike = _NO_VALUE, *,
         min: ArrayLike = None, max: ArrayLike = None) -> Any:  # noqa: A002
    """Limit ``a`` to ``[a_min, a_max]`` (or NumPy 2's ``min=``/``max=``); the derivative is 1
    inside and 0 outside.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.clip(fnp.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
        array([-1. ,  0.5,  1. ])
    """
    lo = min if a_min is _NO_VALUE else a_min
    hi = max if a_max is _NO_VALUE else a_max
    if not _core._active:
        return _np.clip(a, lo, hi)
    if lo is not None:
        a = P.where(P.lt(a, lo), lo, a)
    if hi is not None:
        a = P.where(P.gt(a, hi), hi, a)
    return a


__all__ = ["abs", "absolute", "add", "allclose", "angle", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
           "arctan2", "arctanh", "around", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "cbrt",
           "ceil", "clip", "conj", "conjugate", "copysign", "cos", "cosh", "deg2rad", "degrees", "divide",
           "divmod", "equal", "exp", "exp2", "expm1", "fabs", "fix", "float_power", "floor", "floor_divide",
           "fmax", "fmin", "fmod", "greater", "greater_equal", "heaviside", "hypot", "imag", "invert",
           "isclose", "iscomplex", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "ldexp",
           "less", "less_equal", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "logical_and",
           "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "mod", "modf", "multiply",
           "nan_to_num", "negative", "not_equal", "positive", "power", "rad2deg", "radians", "real",
           "reciprocal", "remainder", "rint", "round", "sigmoid", "sign", "signbit", "sin", "sinc", "sinh",
           "sqrt", "square", "subtract", "tan", "tanh", "true_divide", "trunc", "where"]
