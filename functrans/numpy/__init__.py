"""functrans.numpy: NumPy's names and signatures, built from functrans primitives.

Every function here works on NumPy arrays, Python numbers and traced values alike, and is
differentiable and batchable because it is made of primitives. Importing this module also
gives traced values their Python operators, array methods and NumPy protocols.
"""

from __future__ import annotations

import builtins
import functools
import string
from typing import Any, Callable, Sequence

import numpy as _np

from .. import core as _core
from .. import primitives as P
from ..core import Tracer, concrete_value, dtype_of, shape_of
from ..errors import ConcretizationError

# Dtypes and constants, so ``fnp.float32`` and ``fnp.pi`` work as with NumPy.
from numpy import (bool_, complex64, complex128, dtype, e, float16, float32,  # noqa: F401
                   float64, inf, int8, int16, int32, int64, intp, nan, ndarray, newaxis, pi,
                   uint8)

ArrayLike = Any

__all__ = [
    # NumPy's own dtypes, constants and array creation, re-exported (NumPy documents them)
    "bool_", "complex64", "complex128", "dtype", "e", "float16", "float32", "float64", "inf", "int8",
    "int16", "int32", "int64", "intp", "nan", "ndarray", "newaxis", "pi", "uint8",
    "array", "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "identity", "meshgrid", "tri",
    # elementwise
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
    "arctanh", "exp", "log", "log1p", "expm1", "sqrt", "abs", "absolute", "sign", "floor", "ceil", "trunc",
    "add", "subtract", "multiply", "divide", "true_divide", "power", "negative", "maximum", "minimum",
    "arctan2", "remainder", "mod", "floor_divide", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "bitwise_not", "logical_and",
    "logical_or", "logical_xor", "logical_not", "isfinite", "isnan", "isinf", "round", "around",
    "positive", "square", "reciprocal", "exp2", "log2", "log10", "hypot", "logaddexp", "sigmoid",
    "where", "clip",
    # creation from arrays, shapes and dtypes
    "asarray", "zeros_like", "ones_like", "full_like", "astype", "ndim", "shape", "size",
    "normalize_axis",
    # reductions
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "argmax", "argmin", "all", "any",
    # products
    "matmul", "dot", "tensordot", "outer", "inner", "vdot", "einsum", "kron", "cross",
    # indexing, linear algebra
    "getitem", "linalg",
]

# ---------------------------------------------------------------------------------------
# Elementwise functions: the primitives themselves, under NumPy's names.

sin, cos, tan, arcsin, arccos, arctan = P.sin, P.cos, P.tan, P.arcsin, P.arccos, P.arctan
sinh, cosh, tanh, arcsinh, arccosh, arctanh = P.sinh, P.cosh, P.tanh, P.arcsinh, P.arccosh, P.arctanh
exp, log, log1p, expm1, sqrt = P.exp, P.log, P.log1p, P.expm1, P.sqrt
abs = absolute = P.abs  # noqa: A001
sign, floor, ceil, trunc = P.sign, P.floor, P.ceil, P.trunc
add, subtract, multiply = P.add, P.sub, P.mul
divide = true_divide = P.div
power = P.pow
negative = P.neg
maximum, minimum, arctan2 = P.maximum, P.minimum, P.arctan2
remainder = mod = P.remainder
floor_divide = P.floor_divide
equal, not_equal, less, less_equal, greater, greater_equal = P.eq, P.ne, P.lt, P.le, P.gt, P.ge
bitwise_and, bitwise_or, bitwise_xor, invert = P.bitwise_and, P.bitwise_or, P.bitwise_xor, P.invert
bitwise_not = invert
logical_and, logical_or, logical_xor, logical_not = (P.logical_and, P.logical_or,
                                                     P.logical_xor, P.logical_not)
isfinite, isnan, isinf = P.isfinite, P.isnan, P.isinf


def _document(fun: Any, name: str, summary: str | None, example: str) -> None:
    """Give an elementwise primitive its NumPy name, a summary (if it has none) and an example."""
    fun.__name__ = fun.__qualname__ = name
    doc = summary or fun.__doc__
    lines = ["    " + line for line in (">>> import numpy as np, functrans as ft, functrans.numpy as fnp\n"
                                         + example).split("\n")]
    fun.__doc__ = doc + "\n\nExample:\n" + "\n".join(lines)


def _unary_example(name: str, x: float, printed: str) -> str:
    return f">>> np.round([fnp.{name}({x}), ft.grad(fnp.{name})({x})], 6)   # value, derivative\n{printed}"


# One example per elementwise function; the values and derivatives agree with the closed forms.
for _fun, _name, _x, _printed in [
        (sin, "sin", 0.5, "array([0.479426, 0.877583])"),
        (cos, "cos", 0.5, "array([ 0.877583, -0.479426])"),
        (tan, "tan", 0.5, "array([0.546302, 1.298446])"),
        (arcsin, "arcsin", 0.5, "array([0.523599, 1.154701])"),
        (arccos, "arccos", 0.5, "array([ 1.047198, -1.154701])"),
        (arctan, "arctan", 0.5, "array([0.463648, 0.8     ])"),
        (sinh, "sinh", 0.5, "array([0.521095, 1.127626])"),
        (cosh, "cosh", 0.5, "array([1.127626, 0.521095])"),
        (tanh, "tanh", 0.5, "array([0.462117, 0.786448])"),
        (arcsinh, "arcsinh", 0.5, "array([0.481212, 0.894427])"),
        (arccosh, "arccosh", 2.0, "array([1.316958, 0.57735 ])"),
        (arctanh, "arctanh", 0.5, "array([0.549306, 1.333333])"),
        (exp, "exp", 0.5, "array([1.648721, 1.648721])"),
        (log, "log", 0.5, "array([-0.693147,  2.      ])"),
        (log1p, "log1p", 0.5, "array([0.405465, 0.666667])"),
        (expm1, "expm1", 0.5, "array([0.648721, 1.648721])"),
        (sqrt, "sqrt", 0.5, "array([0.707107, 0.707107])"),
        (abs, "abs", -0.5, "array([ 0.5, -1. ])")]:
    _document(_fun, _name, None, _unary_example(_name, _x, _printed))

for _op, _op_name, _summary, _example in [
        (add, "add", "``x + y`` with broadcasting.",
         ">>> fnp.add(np.array([1.0, 2.0]), 3.0)\narray([4., 5.])"),
        (subtract, "subtract", "``x - y`` with broadcasting.",
         ">>> fnp.subtract(np.array([1.0, 2.0]), 3.0)\narray([-2., -1.])"),
        (multiply, "multiply", "``x * y`` with broadcasting.",
         ">>> [float(g) for g in ft.grad(fnp.multiply, argnums=(0, 1))(2.0, 3.0)]\n[3.0, 2.0]"),
        (divide, "divide", "``x / y`` (true division).",
         ">>> fnp.divide(np.array([1.0, 3.0]), 2.0)\narray([0.5, 1.5])"),
        (power, "power", "``x ** y``; differentiable in both arguments.",
         ">>> float(fnp.power(2.0, 3.0)), float(ft.grad(fnp.power)(2.0, 3.0))\n(8.0, 12.0)"),
        (negative, "negative", "``-x``.",
         ">>> fnp.negative(np.array([1.0, -2.0]))\narray([-1.,  2.])"),
        (maximum, "maximum", "Elementwise maximum; ties share the derivative equally.",
         ">>> fnp.maximum(np.array([1.0, 5.0]), 3.0)\narray([3., 5.])"),
        (minimum, "minimum", "Elementwise minimum; ties share the derivative equally.",
         ">>> fnp.minimum(np.array([1.0, 5.0]), 3.0)\narray([1., 3.])"),
        (arctan2, "arctan2", "The angle of the point ``(x, y)``: ``arctan2(y, x)``.",
         ">>> float(np.round(fnp.arctan2(1.0, 1.0), 6))\n0.785398"),
        (remainder, "remainder", "``x mod y`` with the sign of ``y`` (NumPy's ``remainder``).",
         ">>> fnp.remainder(np.array([5.0, -5.0]), 3.0)\narray([2., 1.])"),
        (floor_divide, "floor_divide", None,
         ">>> fnp.floor_divide(np.array([5, -5]), 3)\narray([ 1, -2])"),
        (sign, "sign", None, ">>> fnp.sign(np.array([-2.0, 0.0, 3.0]))\narray([-1.,  0.,  1.])"),
        (floor, "floor", None, ">>> fnp.floor(np.array([-1.5, 1.5])), float(ft.grad(fnp.floor)(1.5))\n"
                               "(array([-2.,  1.]), 0.0)"),
        (ceil, "ceil", None, ">>> fnp.ceil(np.array([-1.5, 1.5]))\narray([-1.,  2.])"),
        (trunc, "trunc", None, ">>> fnp.trunc(np.array([-1.5, 1.5]))\narray([-1.,  1.])"),
        (equal, "equal", None, ">>> fnp.equal(np.array([1, 2]), 2)\narray([False,  True])"),
        (not_equal, "not_equal", None, ">>> fnp.not_equal(np.array([1, 2]), 2)\narray([ True, False])"),
        (less, "less", None, ">>> fnp.less(np.array([1, 2, 3]), 2)\narray([ True, False, False])"),
        (less_equal, "less_equal", None,
         ">>> fnp.less_equal(np.array([1, 2, 3]), 2)\narray([ True,  True, False])"),
        (greater, "greater", None, ">>> fnp.greater(np.array([1, 2, 3]), 2)\narray([False, False,  True])"),
        (greater_equal, "greater_equal", None,
         ">>> fnp.greater_equal(np.array([1, 2, 3]), 2)\narray([False,  True,  True])"),
        (bitwise_and, "bitwise_and", None, ">>> fnp.bitwise_and(np.array([12, 10]), 6)\narray([4, 2])"),
        (bitwise_or, "bitwise_or", None, ">>> fnp.bitwise_or(np.array([12, 10]), 6)\narray([14, 14])"),
        (bitwise_xor, "bitwise_xor", None, ">>> fnp.bitwise_xor(np.array([12, 10]), 6)\narray([10, 12])"),
        (invert, "invert", None, ">>> fnp.invert(np.array([True, False])), fnp.invert(np.array([0]))\n"
                                 "(array([False,  True]), array([-1]))"),
        (logical_and, "logical_and", None,
         ">>> fnp.logical_and(np.array([True, True]), np.array([True, False]))\narray([ True, False])"),
        (logical_or, "logical_or", None,
         ">>> fnp.logical_or(np.array([True, False]), np.array([False, False]))\narray([ True, False])"),
        (logical_xor, "logical_xor", None,
         ">>> fnp.logical_xor(np.array([True, True]), np.array([True, False]))\narray([False,  True])"),
        (logical_not, "logical_not", None, ">>> fnp.logical_not(np.array([0, 1]))\narray([ True, False])"),
        (isfinite, "isfinite", None,
         ">>> fnp.isfinite(np.array([1.0, np.inf, np.nan]))\narray([ True, False, False])"),
        (isnan, "isnan", None,
         ">>> fnp.isnan(np.array([1.0, np.inf, np.nan]))\narray([False, False,  True])"),
        (isinf, "isinf", None,
         ">>> fnp.isinf(np.array([1.0, np.inf, np.nan]))\narray([False,  True, False])")]:
    _document(_op, _op_name, _summary, _example)


def round(a: ArrayLike, decimals: int = 0) -> Any:  # noqa: A001
    """Round to ``decimals`` places; its derivative is zero.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.round(np.array([1.234, 5.678]), 1)
        array([1.2, 5.7])
    """
    if decimals == 0:
        return P.round(a)
    scale = 10.0 ** decimals
    return P.round(a * scale) / scale


around = round


def positive(x: ArrayLike) -> Any:
    """``+x``: ``x`` itself.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.positive(np.array([-1.0, 2.0]))
        array([-1.,  2.])
    """
    return x


def square(x: ArrayLike) -> Any:
    """``x * x``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.square(3.0)), float(ft.grad(fnp.square)(3.0))
        (9.0, 6.0)
    """
    return P.mul(x, x)


def reciprocal(x: ArrayLike) -> Any:
    """``1 / x``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.reciprocal(4.0)), float(ft.grad(fnp.reciprocal)(2.0))
        (0.25, -0.25)
    """
    return P.div(1.0, x)


def exp2(x: ArrayLike) -> Any:
    """``2 ** x``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.exp2(3.0))
        8.0
    """
    return P.pow(2.0, x)


def log2(x: ArrayLike) -> Any:
    """Base-2 logarithm.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.log2(8.0))
        3.0
    """
    return P.log(x) / float(_np.log(2.0))  # a Python float keeps float32 (NEP 50)


def log10(x: ArrayLike) -> Any:
    """Base-10 logarithm.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(np.round(fnp.log10(1000.0), 12))
        3.0
    """
    return P.log(x) / float(_np.log(10.0))


def hypot(x: ArrayLike, y: ArrayLike) -> Any:
    """``sqrt(x**2 + y**2)``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.hypot(3.0, 4.0)), float(np.round(ft.grad(fnp.hypot)(3.0, 4.0), 12))
        (5.0, 0.6)
    """
    return sqrt(x * x + y * y)


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow (exact derivative for any shift).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(np.round(fnp.logaddexp(1000.0, 1000.0) - 1000.0, 9))
        0.693147181
        >>> float(ft.grad(fnp.logaddexp)(1000.0, 1000.0))
        0.5
    """
    m = P.stop_gradient_p.bind(P.maximum(x, y))
    m = P.where(P.isfinite(m), m, 0.0)
    return m + P.log(P.exp(P.sub(x, m)) + P.exp(P.sub(y, m)))


def sigmoid(x: ArrayLike) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.sigmoid(0.0)), float(ft.grad(fnp.sigmoid)(0.0))
        (0.5, 0.25)
    """
    return P.logistic(x)


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """Elementwise ``x if condition else y``: the way to branch per element (and per example).

    With only ``condition``, the indices of its non-zero elements (as ``nonzero``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([-2.0, 3.0])
        >>> fnp.where(x > 0, x, 0.0)
        array([0., 3.])
        >>> ft.grad(lambda x: fnp.sum(fnp.where(x > 0, x * x, -x)))(x)
        array([-1.,  6.])
    """
    if x is None and y is None:
        return nonzero(condition)
    return P.where(condition, x, y)


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None) -> Any:
    """Limit ``a`` to ``[a_min, a_max]``; the derivative is 1 inside and 0 outside.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([-2.0, 0.5, 3.0])
        >>> fnp.clip(x, -1.0, 1.0)
        array([-1. ,  0.5,  1. ])
        >>> ft.grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(x)
        array([0., 1., 0.])
    """
    if a_min is not None:
        a = P.where(P.lt(a, a_min), a_min, a)
    if a_max is not None:
        a = P.where(P.gt(a, a_max), a_max, a)
    return a


# ---------------------------------------------------------------------------------------
# Creation. Concrete arrays are plain NumPy; ``*_like`` follows a traced argument.

array = _np.array
zeros, ones, full, empty = _np.zeros, _np.ones, _np.full, _np.empty
arange, linspace, eye, identity, meshgrid, tri = (_np.arange, _np.linspace, _np.eye,
                                                  _np.identity, _np.meshgrid, _np.tri)


def asarray(a: ArrayLike, dtype: Any = None) -> Any:
    """``a`` as an array; a traced value stays traced (converted to ``dtype`` if given).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.asarray([1, 2], dtype=np.float32)
        array([1., 2.], dtype=float32)
    """
    if isinstance(a, Tracer):
        return a if dtype is None else P.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, Tracer) for x in _flat(a)):
        return asarray(stack([asarray(x) for x in a]), dtype)
    return _np.asarray(a, dtype=dtype)


def _flat(seq: Any) -> list:
    out = []
    for x in seq:
        out.extend(_flat(x) if isinstance(x, (list, tuple)) else [x])
    return out


def zeros_like(a: ArrayLike, dtype: Any = None) -> Any:
    """Zeros with ``a``'s shape and dtype (or ``dtype``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.zeros_like(np.array([1.5, 2.5]))
        array([0., 0.])
    """
    out = P.zeros_like(a)
    return out if dtype is None else P.convert_element_type(out, dtype)


def ones_like(a: ArrayLike, dtype: Any = None) -> Any:
    """Ones with ``a``'s shape and dtype (or ``dtype``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.ones_like(np.array([1, 2]), dtype=np.float32)
        array([1., 1.], dtype=float32)
    """
    return full_like(a, 1, dtype)


def full_like(a: ArrayLike, fill_value: Any, dtype: Any = None) -> Any:
    """As NumPy: the result has ``a``'s dtype (or ``dtype``), whatever ``fill_value``'s type.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.full_like(np.array([1, 2]), 7.9)
        array([7, 7])
    """
    out = zeros_like(a, dtype) + fill_value
    target = _np.dtype(dtype_of(a) if dtype is None else dtype)
    return out if dtype_of(out) == target else P.convert_element_type(out, target)


def astype(x: ArrayLike, dtype: Any) -> Any:
    """``x`` converted to ``dtype``; the cotangent is converted back.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.astype(np.array([1.5, 2.5]), np.float32)
        array([1.5, 2.5], dtype=float32)
    """
    return P.convert_element_type(x, dtype)


# ---------------------------------------------------------------------------------------
# Reductions.

def ndim(a: ArrayLike) -> int:
    """The number of axes (also of a traced value).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.ndim(np.zeros((2, 3)))
        2
    """
    return len(shape_of(a))


def shape(a: ArrayLike) -> tuple:
    """The shape as a tuple (also of a traced value).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.shape(np.zeros((2, 3)))
        (2, 3)
    """
    return tuple(shape_of(a))


def size(a: ArrayLike) -> int:
    """The number of elements.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.size(np.zeros((2, 3)))
        6
    """
    return int(_np.prod(shape_of(a), dtype=_np.int64))


def normalize_axis(axis: int, ndim: int, argname: str = "axis") -> int:
    """``axis`` in ``range(ndim)`` (negative axes count from the end); a clear error
    naming ``argname`` when it is out of bounds.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.normalize_axis(-1, 3)
        2
        >>> fnp.normalize_axis(3, 3)
        Traceback (most recent call last):
        ...
        ValueError: axis 3 is out of bounds for an array of dimension 3
    """
    if not -ndim <= axis < ndim:
        raise ValueError(f"{argname} {axis} is out of bounds for an array of dimension {ndim}")
    return axis + ndim if axis < 0 else axis


def _axes(axis: int | Sequence[int] | None, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, _np.integer)):
        axis = (axis,)
    return tuple(sorted(normalize_axis(int(a), ndim) for a in axis))


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``axis`` (all axes if ``None``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.arange(6.0).reshape(2, 3)
        >>> fnp.sum(x, axis=0)
        array([3., 5., 7.])
        >>> ft.grad(fnp.sum)(x)
        array([[1., 1., 1.],
               [1., 1., 1.]])
    """
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    if axis is None:
        return P.reduce_sum_p.bind(a, axes=None, keepdims=keepdims)
    axes = _axes(axis, ndim(a))
    return P.reduce_sum(a, axes, keepdims) if axes or keepdims else a


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([1.0, 2.0, 6.0])
        >>> float(fnp.mean(x))
        3.0
        >>> ft.grad(fnp.mean)(x)
        array([0.33333333, 0.33333333, 0.33333333])
    """
    shp = shape_of(a)
    axes = _axes(axis, len(shp))
    count = int(_np.prod([shp[i] for i in axes], dtype=_np.int64))
    total = sum(a, axis=axes, dtype=dtype, keepdims=keepdims)
    return P.div(total, count) if dtype_of(total).kind in "fc" else P.div(total, float(count))


def var(a: ArrayLike, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` (``ddof`` as NumPy's).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([1.0, 2.0, 6.0])
        >>> float(np.round(fnp.var(x), 6)), float(fnp.var(x, ddof=1))
        (4.666667, 7.0)
        >>> ft.grad(fnp.var)(x)
        array([-1.33333333, -0.66666667,  2.        ])
    """
    shp = shape_of(a)
    axes = _axes(axis, len(shp))
    count = int(_np.prod([shp[i] for i in axes], dtype=_np.int64))
    centered = a - mean(a, axis=axes, keepdims=True)
    return sum(centered * centered, axis=axes, keepdims=keepdims) / builtins.max(count - ddof, 0)


def std(a: ArrayLike, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis``: ``sqrt(var(a))``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.std(np.array([1.0, 3.0])))
        1.0
    """
    return sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def max(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the derivative equally.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([1.0, 3.0, 3.0])
        >>> float(fnp.max(x)), ft.grad(fnp.max)(x)
        (3.0, array([0. , 0.5, 0.5]))
    """
    return P.reduce_max(a, None if axis is None else _axes(axis, ndim(a)), keepdims)


def min(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``; tied minima share the derivative equally.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([[1.0, 4.0], [2.0, 0.5]])
        >>> fnp.min(x, axis=1)
        array([1. , 0.5])
    """
    return P.reduce_min(a, None if axis is None else _axes(axis, ndim(a)), keepdims)


amax, amin = max, min


def prod(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``; exact derivatives even where elements are zero.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([2.0, 0.0, 5.0])
        >>> float(fnp.prod(x)), ft.grad(fnp.prod)(x)
        (0.0, array([ 0., 10.,  0.]))
    """
    return P.reduce_prod(a, _axes(axis, ndim(a)), keepdims)


def _argreduce(impl: Any, a: ArrayLike, axis: int | None, keepdims: bool) -> Any:
    if axis is not None:
        axis = normalize_axis(axis, ndim(a))
    return P.argreduce_p.bind(a, axis=axis, keepdims=keepdims, impl=impl)


def argmax(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (the first one) along ``axis``; an integer, not differentiated.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.argmax(np.array([[1, 5], [7, 2]]), axis=1)
        array([1, 0])
    """
    return _argreduce(_np.argmax, a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (the first one) along ``axis``; an integer, not differentiated.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> int(fnp.argmin(np.array([3.0, 1.0, 2.0])))
        1
    """
    return _argreduce(_np.argmin, a, axis, keepdims)


def all(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether every element along ``axis`` is non-zero.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.all(np.array([[1, 0], [1, 1]]), axis=1)
        array([False,  True])
    """
    return P.reduce_min(P.ne(a, 0), _axes(axis, ndim(a)), keepdims)


def any(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether some element along ``axis`` is non-zero.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.any(np.array([[1, 0], [0, 0]]), axis=1)
        array([ True, False])
    """
    return P.reduce_max(P.ne(a, 0), _axes(axis, ndim(a)), keepdims)


# ---------------------------------------------------------------------------------------
# Shapes and selection: functrans/numpy/_shapes.py (imported at the end of this module).
# Composite functions there and below take NumPy's own path when nothing is traced.

def _eval_as(numpy_fun: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Call ``numpy_fun`` when no transform runs anywhere (nothing can be traced)."""
    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def fun(*args: Any, **kwargs: Any) -> Any:
            if not _core._active:
                return numpy_fun(*args, **kwargs)
            return f(*args, **kwargs)
        return fun
    return wrap


def _concrete(a: ArrayLike, what: str) -> Any:
    try:
        return concrete_value(a)
    except ConcretizationError as err:
        raise ConcretizationError(f"{what} needs a concrete value: {err}") from None


# ---------------------------------------------------------------------------------------
# Products.

def matmul(a: ArrayLike, b: ArrayLike) -> Any:
    """Matrix product with NumPy's broadcasting and 1-D rules.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> a, b = np.ones((2, 3)), np.arange(3.0)
        >>> fnp.matmul(a, b)
        array([3., 3.])
        >>> ft.grad(lambda b: fnp.sum(fnp.matmul(a, b)))(b)
        array([2., 2., 2.])
    """
    if not _core._active:
        return _np.matmul(a, b)
    if ndim(a) == 0 or ndim(b) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (got a 0-d array)")
    return P.matmul(a, b)


@_eval_as(_np.dot)
def dot(a: ArrayLike, b: ArrayLike) -> Any:
    """NumPy's ``dot``: products for 0-d, matrix products up to 2-d, a sum over the last axis
    of ``a`` and the second-to-last of ``b`` beyond.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.arange(4.0)
        >>> float(fnp.dot(x, x)), ft.grad(lambda x: 2 * fnp.dot(x, x))(x)
        (14.0, array([ 0.,  4.,  8., 12.]))
    """
    na, nb = ndim(a), ndim(b)
    if na == 0 or nb == 0:
        return P.mul(a, b)
    if na <= 2 and nb <= 2:
        return P.matmul(a, b)
    letters = iter(string.ascii_letters)
    sa = "".join(next(letters) for _ in range(na))
    sb = [next(letters) for _ in range(nb)]
    sb[-2 if nb > 1 else -1] = sa[-1]
    sb_s = "".join(sb)
    out = sa[:-1] + "".join(c for c in sb_s if c != sa[-1])
    return P.einsum(f"{sa},{sb_s}->{out}", a, b)


@_eval_as(_np.tensordot)
def tensordot(a: ArrayLike, b: ArrayLike, axes: Any = 2) -> Any:
    """Sum of products over the last ``axes`` of ``a`` and the first of ``b`` (or the listed
    axes).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.tensordot(np.ones((2, 3, 4)), np.ones((3, 4, 5))).shape
        (2, 5)
        >>> fnp.tensordot(np.ones((2, 3)), np.ones((4, 3)), axes=([1], [1])).shape
        (2, 4)
    """
    na, nb = ndim(a), ndim(b)
    if isinstance(axes, (int, _np.integer)):
        axes_a, axes_b = list(range(na - axes, na)), list(range(int(axes)))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, int) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, int) else list(axes_b)
    axes_a = [normalize_axis(i, na, "axes") for i in axes_a]
    axes_b = [normalize_axis(i, nb, "axes") for i in axes_b]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(na)]
    sb = [next(letters) for _ in range(nb)]
    for i, j in zip(axes_a, axes_b):
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in axes_a] + [c for k, c in enumerate(sb) if k not in axes_b]
    return P.einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


@_eval_as(_np.outer)
def outer(a: ArrayLike, b: ArrayLike) -> Any:
    """Outer product of two vectors (inputs are flattened).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.outer(np.array([1.0, 2.0]), np.array([1.0, 10.0]))
        array([[ 1., 10.],
               [ 2., 20.]])
    """
    return P.mul(P.reshape(a, (-1, 1)), P.reshape(b, (1, -1)))


@_eval_as(_np.inner)
def inner(a: ArrayLike, b: ArrayLike) -> Any:
    """Sum of products over the last axes.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.inner(np.array([1.0, 2.0]), np.array([3.0, 4.0])))
        11.0
    """
    if ndim(a) == 0 or ndim(b) == 0:
        return P.mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@_eval_as(_np.vdot)
def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """Dot product of the flattened arrays.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.vdot(np.ones((2, 2)), np.full((2, 2), 2.0)))
        8.0
    """
    return P.reduce_sum(P.mul(ravel(a), ravel(b)), (0,))


@_eval_as(_np.einsum)
def einsum(subscripts: str, *operands: ArrayLike, optimize: Any = None) -> Any:
    """Einstein summation: NumPy's subscripts, with ellipsis, repeated indices (diagonals and
    traces), implicit output and any number of operands (``optimize`` is accepted and ignored:
    contractions of more than two operands are always optimised).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.einsum("ii", a))(fnp.ones((2, 2)))
        array([[1., 0.],
               [0., 1.]])
    """
    if not isinstance(subscripts, str):     # NumPy's sublist form: op0, [0, 1], op1, [1, 2], [0, 2]
        subscripts, operands = _sublist_subscripts((subscripts,) + operands)
    return P.einsum(_explicit_einsum(subscripts, [ndim(x) for x in operands]), *operands)


def _sublist_subscripts(args: tuple) -> tuple[str, tuple]:
    """``(op0, sub0, op1, sub1, ..., [out])`` as a subscripts string and the operands."""
    def letters(sub: Any) -> str:
        return "".join("..." if i is Ellipsis else string.ascii_letters[int(i)] for i in sub)
    operands, subs = args[0::2], args[1::2]
    out = "->" + letters(args[-1]) if len(args) % 2 else ""
    operands = operands[:len(subs)]
    return ",".join(letters(s) for s in subs) + out, operands


@_eval_as(_np.kron)
def kron(a: ArrayLike, b: ArrayLike) -> Any:
    """Kronecker product: one broadcast product of interleaved axes, reshaped."""
    nd = builtins.max(ndim(a), ndim(b))
    sa = (1,) * (nd - ndim(a)) + tuple(shape_of(a))
    sb = (1,) * (nd - ndim(b)) + tuple(shape_of(b))
    x = P.mul(P.reshape(a, tuple(v for s in sa for v in (s, 1))),
              P.reshape(b, tuple(v for s in sb for v in (1, s))))
    return P.reshape(x, tuple(i * j for i, j in zip(sa, sb)))


@_eval_as(_np.cross)
def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """Cross product of 3-vectors (a 2-vector has a zero third component; two 2-vectors give
    the scalar z-component), with NumPy's ``axisa``, ``axisb``, ``axisc`` and ``axis``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, normalize_axis(axisa, ndim(a), "axisa"), -1)
    b = moveaxis(b, normalize_axis(axisb, ndim(b), "axisb"), -1)
    da, db = shape_of(a)[-1], shape_of(b)[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must be 2 "
                         f"or 3), got {da} and {db}")
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if da == 2 and db == 2:
        return z
    if da == 2:
        x, y = a1 * b[..., 2], -(a0 * b[..., 2])
    elif db == 2:
        x, y = -(a[..., 2] * b1), a[..., 2] * b0
    else:
        x, y = a1 * b[..., 2] - a[..., 2] * b1, a[..., 2] * b0 - a0 * b[..., 2]
    out = stack(broadcast_arrays(x, y, z), -1)
    return moveaxis(out, -1, normalize_axis(axisc, ndim(out), "axisc"))


def _explicit_einsum(subscripts: str, ndims: list) -> str:
    """Rewrite einsum subscripts without ellipsis and with an explicit output."""
    subscripts = subscripts.replace(" ", "")
    ins, arrow, out = subscripts.partition("->")
    terms = ins.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the subscripts name {len(terms)} operands, got {len(ndims)}")
    free = iter(c for c in string.ascii_letters if c not in subscripts)
    ell_rank = builtins.max([n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t],
                            default=0)
    ell = "".join(next(free) for _ in range(ell_rank))
    new_terms = []
    for t, n in zip(terms, ndims):
        if "..." in t:
            k = n - len(t.replace("...", ""))
            t = t.replace("...", ell[ell_rank - k:])
        if len(t) != n:
            raise ValueError(f"einsum: subscripts {t!r} do not match an operand of dimension {n}")
        new_terms.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts: dict = {}
        for c in "".join(new_terms):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return ",".join(new_terms) + "->" + out


# ---------------------------------------------------------------------------------------
# Indexing.

def _normalize_index(x: Any, key: Any) -> tuple[tuple, list]:
    """Split an index into a static part and the traced integer arrays it holds.

    Ellipsis is expanded, lists become arrays, boolean masks become integer arrays (which
    needs a concrete mask).
    """
    key = key if isinstance(key, tuple) else (key,)
    n = ndim(x)
    consumed = builtins.sum(ndim(k) if _is_bool(k) else (0 if k is None or k is Ellipsis else 1)
                            for k in key)
    idx: list = []
    dynamic: list = []
    for k in key:
        if k is Ellipsis:
            idx.extend([slice(None)] * (n - consumed))
        elif k is None or isinstance(k, slice):
            idx.append(k)
        elif isinstance(k, (bool, _np.bool_)):
            raise IndexError("boolean scalar indices are not supported; use fnp.where")
        elif isinstance(k, (int, _np.integer)):
            idx.append(int(k))
        elif isinstance(k, Tracer):
            if k.dtype == bool:
                idx.extend(_np.nonzero(_concrete(k, "a boolean mask index")))
            elif k.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, "
                                 f"got {k.dtype}")
            else:
                idx.append(P.DYNAMIC)
                dynamic.append(k)
        else:
            arr = _np.asarray(k)
            if arr.dtype == bool:
                idx.extend(_np.nonzero(arr))
            elif arr.dtype.kind in "iu":
                idx.append(arr)
            elif arr.size == 0:
                idx.append(arr.astype(_np.intp))
            else:
                raise IndexError(f"only integers, slices, None, Ellipsis and integer or boolean "
                                 f"arrays are valid indices, got {k!r}")
    if builtins.sum(1 for i in idx if i is not None) > n:
        raise IndexError(f"too many indices for array: array is {n}-dimensional, but "
                         f"{builtins.sum(1 for i in idx if i is not None)} were indexed")
    return tuple(idx), dynamic


def _is_bool(k: Any) -> bool:
    return (isinstance(k, Tracer) and k.dtype == bool) or (
        isinstance(k, (_np.ndarray, list)) and _np.asarray(k).dtype == bool)


def getitem(x: ArrayLike, key: Any) -> Any:
    """``x[key]``, the function behind the ``[]`` of traced values (basic and integer-array
    indexing, boolean masks on concrete values).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.arange(5.0)
        >>> fnp.getitem(x, np.array([0, 0, 3]))
        array([0., 0., 3.])
        >>> ft.grad(lambda x: fnp.sum(x[np.array([0, 0, 3])]))(x)
        array([2., 0., 0., 1., 0.])
    """
    if not _core._active:
        return _np.asarray(x)[key]
    idx, dynamic = _normalize_index(x, key)
    return P.getitem(x, idx, dynamic)


class _IndexUpdate:
    """``x.at[idx]``: functional updates that return a new array."""

    __slots__ = ("x", "idx", "dynamic")

    def __init__(self, x: Any, key: Any):
        self.x = x
        self.idx, self.dynamic = _normalize_index(x, key)

    def set(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] = values``."""
        return P.scatter_set(self.x, values, self.idx, self.dynamic)

    def add(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``values`` added at ``idx`` (repeated indices accumulate)."""
        return P.scatter_add(self.x, values, self.idx, self.dynamic)

    def get(self) -> Any:
        return P.getitem(self.x, self.idx, self.dynamic)


class _At:
    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


from ._shapes import *  # noqa: E402, F401, F403
from . import _shapes  # noqa: E402

__all__ += _shapes.__all__
from . import linalg  # noqa: E402, F401  (fnp.linalg)
from ._protocols import install_tracer_methods  # noqa: E402

install_tracer_methods(_At)
