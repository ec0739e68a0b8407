"""Elementwise functions (NumPy's ufuncs): primitives under NumPy's names, and compositions.

A composition starts with the eval fast path: when no transform runs anywhere, NumPy's own
function is called directly, so values, dtypes and speed are NumPy's. Otherwise it is built
from primitives, which makes it differentiable and batchable.
"""

from __future__ import annotations

import builtins
from typing import Any

from . import _np

from .. import core as _core
from .. import primitives as P
from ..core import Primitive, Tracer, dtype_of
from ..errors import ConcretizationError
from ..forward import defjvp
from ..reverse import defvjp

ArrayLike = Any

sin, cos, tan, arcsin, arccos, arctan = P.sin, P.cos, P.tan, P.arcsin, P.arccos, P.arctan
sinh, cosh, tanh, arcsinh, arccosh, arctanh = P.sinh, P.cosh, P.tanh, P.arcsinh, P.arccosh, P.arctanh
exp, log, log1p, expm1, sqrt, cbrt = P.exp, P.log, P.log1p, P.expm1, P.sqrt, P.cbrt
abs = absolute = P.abs  # noqa: A001
sign, floor, ceil, trunc, signbit = P.sign, P.floor, P.ceil, P.trunc, P.signbit
power = P.pow
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


def _numpy_eval(op: Any, prim: _core.Primitive, ufunc: Any) -> Any:
    """``op(prim)`` calling NumPy's ``ufunc`` itself on the eval fast path: the impls of these
    primitives first look for NumPy scalars, a shortcut that pays only inside transforms."""
    fun = op(prim, ufunc)
    fun.__name__ = fun.__qualname__ = ufunc.__name__
    return fun


add = _numpy_eval(_core.op2, P.add_p, _np.add)
subtract = _numpy_eval(_core.op2, P.sub_p, _np.subtract)
multiply = _numpy_eval(_core.op2, P.mul_p, _np.multiply)
divide = true_divide = _numpy_eval(_core.op2, P.div_p, _np.divide)
negative = _numpy_eval(_core.op1, P.neg_p, _np.negative)

# The docstrings of the primitives' functions re-exported above (they are shared objects: one
# docstring each, also for an alias such as ``absolute``); their examples run as doctests.
_DOCS = {
    sin: """Sine, elementwise; its derivative is ``cos(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.sin)(0.5)
        array(0.87758256)
    """,
    cos: """Cosine, elementwise; its derivative is ``-sin(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.cos)(0.5)
        array(-0.47942554)
    """,
    tan: """Tangent, elementwise; its derivative is ``1 + tan(x)**2``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.tan)(0.5)
        array(1.29844641)
    """,
    arcsin: """Inverse sine, elementwise; its derivative is ``1 / sqrt(1 - x**2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arcsin)(0.5)
        array(1.15470054)
    """,
    arccos: """Inverse cosine, elementwise; its derivative is ``-1 / sqrt(1 - x**2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arccos)(0.5)
        array(-1.15470054)
    """,
    arctan: """Inverse tangent, elementwise; its derivative is ``1 / (1 + x**2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arctan)(0.5)
        array(0.8)
    """,
    sinh: """Hyperbolic sine, elementwise; its derivative is ``cosh(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.sinh)(0.5)
        array(1.12762597)
    """,
    cosh: """Hyperbolic cosine, elementwise; its derivative is ``sinh(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.cosh)(0.5)
        array(0.52109531)
    """,
    tanh: """Hyperbolic tangent, elementwise; its derivative is ``1 - tanh(x)**2``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.tanh)(0.5)
        array(0.78644773)
    """,
    arcsinh: """Inverse hyperbolic sine, elementwise; its derivative is ``1 / sqrt(x**2 + 1)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arcsinh)(0.5)
        array(0.89442719)
    """,
    arccosh: """Inverse hyperbolic cosine (``x >= 1``), elementwise; its derivative is ``1 / sqrt(x**2 - 1)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arccosh)(2.0)
        array(0.57735027)
    """,
    arctanh: """Inverse hyperbolic tangent (``|x| < 1``), elementwise; its derivative is ``1 / (1 - x**2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arctanh)(0.5)
        array(1.33333333)
    """,
    exp: """Exponential, elementwise; its derivative is itself.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.exp)(0.5)
        array(1.64872127)
    """,
    log: """Natural logarithm, elementwise; its derivative is ``1 / x``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.log)(2.0)
        array(0.5)
    """,
    log1p: """``log(1 + x)``, accurate for small ``x``; its derivative is ``1 / (1 + x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.log1p)(1.0)
        array(0.5)
    """,
    expm1: """``exp(x) - 1``, accurate for small ``x``; its derivative is ``exp(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.expm1)(0.5)
        array(1.64872127)
    """,
    sqrt: """Square root, elementwise; its derivative is ``1 / (2 sqrt(x))`` (infinite at 0).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.sqrt)(4.0)
        array(0.25)
    """,
    cbrt: """Cube root (real, also of negative numbers); its derivative is ``1 / (3 cbrt(x)**2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.cbrt)(-8.0)
        array(0.08333333)
    """,
    abs: """Absolute value (``absolute``); its derivative is ``sign(x)`` (0 at 0); of a complex ``x``, the
    modulus.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.vmap(ft.grad(fnp.abs))(np.array([-2.0, 0.0, 3.0]))
        array([-1.,  0.,  1.])
    """,
    sign: """The sign (-1, 0 or 1), elementwise; piecewise constant, so its derivative is 0.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.sign(np.array([-2.0, 0.0, 3.0])), ft.grad(fnp.sign)(3.0)
        (array([-1.,  0.,  1.]), array(0.))
    """,
    floor: """The largest integer ``<= x``, elementwise; its derivative is 0.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.floor(np.array([-1.5, 1.5]))
        array([-2.,  1.])
    """,
    ceil: """The smallest integer ``>= x``, elementwise; its derivative is 0.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.ceil(np.array([-1.5, 1.5]))
        array([-1.,  2.])
    """,
    trunc: """Round towards zero, elementwise; its derivative is 0.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.trunc(np.array([-1.5, 1.5]))
        array([-1.,  1.])
    """,
    signbit: """Whether the sign bit is set (also of ``-0.0``); boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.signbit(np.array([-0.0, 0.0, -2.0]))
        array([ True, False,  True])
    """,
    add: """``x + y`` with broadcasting; the gradient of a broadcast argument is summed back to its shape.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda w: fnp.sum(fnp.add(w, np.ones((2, 3)))))(np.zeros(3))
        array([2., 2., 2.])
    """,
    subtract: """``x - y`` with broadcasting; its partial derivatives are 1 and -1.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.subtract, argnums=(0, 1))(1.0, 2.0)
        (array(1.), array(-1.))
    """,
    multiply: """``x * y`` with broadcasting; its partial derivatives are ``y`` and ``x``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.multiply, argnums=(0, 1))(2.0, 3.0)
        (array(3.), array(2.))
    """,
    divide: """``x / y`` (true division, also ``true_divide``); its partials are ``1 / y`` and ``-x / y**2``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.divide, argnums=(0, 1))(1.0, 2.0)
        (array(0.5), array(-0.25))
    """,
    power: """``x ** y`` with broadcasting; its partials are ``y x**(y-1)`` and ``x**y log(x)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.power, argnums=(0, 1))(2.0, 3.0)
        (array(12.), array(5.54517744))
    """,
    negative: """``-x``, elementwise; its derivative is -1.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.negative)(2.0)
        array(-1.)
    """,
    maximum: """The larger of ``x`` and ``y``, elementwise (NaN propagates); the derivative goes to the larger
    argument, split equally on a tie.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.maximum, argnums=(0, 1))(1.0, 1.0)
        (array(0.5), array(0.5))
    """,
    minimum: """The smaller of ``x`` and ``y``, elementwise (NaN propagates); the derivative goes to the
    smaller argument, split equally on a tie.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.minimum, argnums=(0, 1))(1.0, 2.0)
        (array(1.), array(0.))
    """,
    arctan2: """The angle of the point ``(x, y)``: ``arctan2(y, x)`` in ``(-pi, pi]``; its partials are ``x /
    r**2`` (in ``y``) and ``-y / r**2`` (in ``x``).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.arctan2, argnums=(0, 1))(1.0, 1.0)
        (array(0.5), array(-0.5))
    """,
    remainder: """``x - floor(x / y) * y`` (``mod``; the sign of ``y``, as Python's ``%``); its partials are 1
    and ``-floor(x / y)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.remainder(-5.5, 2.0), ft.grad(fnp.remainder, argnums=(0, 1))(5.5, 2.0)
        (np.float64(0.5), (array(1.), array(-2.)))
    """,
    fmod: """``x - trunc(x / y) * y`` (the sign of ``x``, as C's ``fmod``); its partials are 1 and
    ``-trunc(x / y)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.fmod(-5.5, 2.0), ft.grad(fnp.fmod, argnums=(0, 1))(-5.5, 2.0)
        (np.float64(-1.5), (array(1.), array(2.)))
    """,
    floor_divide: """``floor(x / y)`` (Python's ``//``); piecewise constant, so its derivative is 0.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.floor_divide(np.array([7, -7]), 2)
        array([ 3, -4])
    """,
    equal: """``x == y``, elementwise with broadcasting; boolean, so no derivative (differentiating code may
    still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.equal(np.array([1.0, 2.0, 3.0]), 2.0)
        array([False,  True, False])
    """,
    not_equal: """``x != y``, elementwise with broadcasting; boolean, so no derivative (differentiating code
    may still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.not_equal(np.array([1.0, 2.0, 3.0]), 2.0)
        array([ True, False,  True])
    """,
    less: """``x < y``, elementwise with broadcasting; boolean, so no derivative (differentiating code may
    still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.less(np.array([1.0, 2.0, 3.0]), 2.0)
        array([ True, False, False])
    """,
    less_equal: """``x <= y``, elementwise with broadcasting; boolean, so no derivative (differentiating code
    may still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.less_equal(np.array([1.0, 2.0, 3.0]), 2.0)
        array([ True,  True, False])
    """,
    greater: """``x > y``, elementwise with broadcasting; boolean, so no derivative (differentiating code may
    still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.greater(np.array([1.0, 2.0, 3.0]), 2.0)
        array([False, False,  True])
    """,
    greater_equal: """``x >= y``, elementwise with broadcasting; boolean, so no derivative (differentiating
    code may still use it, e.g. in ``where``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.greater_equal(np.array([1.0, 2.0, 3.0]), 2.0)
        array([False,  True,  True])
    """,
    bitwise_and: """``x & y`` of integers or booleans, elementwise; no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.bitwise_and(np.array([12, 10]), 6)
        array([4, 2])
    """,
    bitwise_or: """``x | y`` of integers or booleans, elementwise; no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.bitwise_or(np.array([12, 10]), 6)
        array([14, 14])
    """,
    bitwise_xor: """``x ^ y`` of integers or booleans, elementwise; no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.bitwise_xor(np.array([12, 10]), 6)
        array([10, 12])
    """,
    invert: """``~x`` (``bitwise_not``) of integers or booleans, elementwise; no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.invert(np.array([0, 5])), fnp.invert(np.array([True, False]))
        (array([-1, -6]), array([False,  True]))
    """,
    logical_and: """``x and y`` of truth values, elementwise; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.logical_and(np.array([True, True, False]), np.array([True, False, False]))
        array([ True, False, False])
    """,
    logical_or: """``x or y`` of truth values, elementwise; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.logical_or(np.array([True, True, False]), np.array([True, False, False]))
        array([ True,  True, False])
    """,
    logical_xor: """``x xor y`` (exactly one true) of truth values, elementwise; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.logical_xor(np.array([True, True, False]), np.array([True, False, False]))
        array([False,  True, False])
    """,
    logical_not: """``not x``, elementwise; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.logical_not(np.array([0.0, 2.0]))
        array([ True, False])
    """,
    isfinite: """Whether each element is finite (not inf or NaN); boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isfinite(np.array([1.0, np.inf, np.nan]))
        array([ True, False, False])
    """,
    isnan: """Whether each element is NaN; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isnan(np.array([1.0, np.inf, np.nan]))
        array([False, False,  True])
    """,
    isinf: """Whether each element is +inf or -inf; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isinf(np.array([1.0, -np.inf, np.nan]))
        array([False,  True, False])
    """,
    conj: """The complex conjugate (``conjugate``); a real ``x`` is returned as it is.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.conj(np.array([1.0 + 2.0j, 3.0]))
        array([1.-2.j, 3.-0.j])
    """,
    real: """The real part (of a real ``x``, ``x`` itself).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.real(np.array([1.0 + 2.0j, 3.0 - 1.0j]))
        array([1., 3.])
    """,
    imag: """The imaginary part (of a real ``x``, zeros).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.imag(np.array([1.0 + 2.0j, 3.0 - 1.0j]))
        array([ 2., -1.])
    """,
}
for _fun, _doc in _DOCS.items():
    _fun.__doc__ = _doc
del _fun, _doc

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
    if dtype_of(a).kind in "iu":       # integers stay integers, as in NumPy
        return a if decimals > 0 else P.convert_element_type(round(P.convert_element_type(
            a, _np.float64), decimals), dtype_of(a))
    scale = 10.0 ** decimals
    return P.round(a * scale) / scale


around = round


def rint(x: ArrayLike) -> Any:
    """Round to the nearest integer (half to even); zero derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.rint(np.array([0.5, 1.5, 2.5, -0.5]))
        array([ 0.,  2.,  2., -0.])
    """
    if not _core._active:
        return _np.rint(x)
    return P.round(x)


def fix(x: ArrayLike) -> Any:
    """Round towards zero; zero derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.fix(np.array([2.7, -2.7]))
        array([ 2., -2.])
    """
    if not _core._active:
        return _np.fix(x)
    return P.trunc(x)


def positive(x: ArrayLike) -> Any:
    """``+x``: ``x`` unchanged (derivative 1).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.positive)(2.0)
        array(1.)
    """
    if not _core._active:
        return _np.positive(x)
    return x


def square(x: ArrayLike) -> Any:
    """``x * x``, elementwise; its derivative is ``2 x``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.square)(3.0)
        array(6.)
    """
    if not _core._active:
        return _np.square(x)
    return P.mul(x, x)


def reciprocal(x: ArrayLike) -> Any:
    """``1 / x``, elementwise; its derivative is ``-1 / x**2``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.reciprocal)(2.0)
        array(-0.25)
    """
    if not _core._active:
        return _np.reciprocal(x)
    return P.div(1.0, x)


def exp2(x: ArrayLike) -> Any:
    """``2 ** x``, elementwise; its derivative is ``2**x log(2)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.exp2)(3.0)
        array(5.54517744)
    """
    if not _core._active:
        return _np.exp2(x)
    return P.pow(2.0, x)


def log2(x: ArrayLike) -> Any:
    """Base-2 logarithm, elementwise; its derivative is ``1 / (x log(2))``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.log2)(2.0)
        array(0.72134752)
    """
    if not _core._active:
        return _np.log2(x)
    return P.log(x) / _LN2


def log10(x: ArrayLike) -> Any:
    """Base-10 logarithm, elementwise; its derivative is ``1 / (x log(10))``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.log10)(2.0)
        array(0.21714724)
    """
    if not _core._active:
        return _np.log10(x)
    return P.log(x) / _LN10


def deg2rad(x: ArrayLike) -> Any:
    """Degrees to radians (``radians``): ``x * pi / 180``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.deg2rad(180.0), ft.grad(fnp.deg2rad)(90.0)
        (np.float64(3.141592653589793), array(0.01745329))
    """
    if not _core._active:
        return _np.deg2rad(x)
    return P.mul(x, _DEG)


def rad2deg(x: ArrayLike) -> Any:
    """Radians to degrees (``degrees``): ``x * 180 / pi``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.rad2deg(np.pi), ft.grad(fnp.rad2deg)(1.0)
        (np.float64(180.0), array(57.29577951))
    """
    if not _core._active:
        return _np.rad2deg(x)
    return P.mul(x, 1.0 / _DEG)


radians, degrees = deg2rad, rad2deg


def hypot(x: ArrayLike, y: ArrayLike) -> Any:
    """``sqrt(x**2 + y**2)`` scaled by the larger magnitude, so it does not overflow (as NumPy's);
    its derivative at ``(0, 0)`` is 0, as the 2-norm's (API.md), not NaN.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.hypot(3.0, 4.0), ft.grad(fnp.hypot, argnums=(0, 1))(3.0, 4.0)
        (np.float64(5.0), (array(0.6), array(0.8)))
    """
    if not _core._active:
        return _np.hypot(x, y)
    ax, ay = (P.abs(a) if hasattr(a, "dtype") else builtins.abs(a) for a in (x, y))  # keep Python
    m = P.stop_gradient_p.bind(P.maximum(ax, ay))          # numbers weak, as NumPy's promotion does
    m = P.convert_element_type(P.where(P.isfinite(m), P.where(P.eq(m, 0), 1.0, m), 1.0), dtype_of(m))
    u, v = P.div(x, m), P.div(y, m)
    s = P.add(P.mul(u, u), P.mul(v, v))
    zero = P.eq(s, 0)
    return P.mul(m, P.where(zero, 0.0, P.sqrt(P.where(zero, 1.0, s))))


def _may_hold_inf(m: Any) -> bool:
    """Whether ``m`` (the stop-gradient maximum of logaddexp, logsumexp) may be ±inf: False
    only when its concrete value shows none, so the common case skips the inf-safe form (a
    third more work). A value batched by vmap is not concrete: it takes the inf-safe form."""
    try:
        return bool(_np.isinf(_core.concrete_value(m)).any())
    except ConcretizationError:
        return True


def _logaddexp_share(ans: Any, x: Any, y: Any) -> Any:
    """``d logaddexp(x, y) / dx = sigmoid(x - y)``, accurate at any magnitude; at equal
    infinite arguments (then ``ans`` is infinite) the limit of the tie, 1/2."""
    if _may_hold_inf(ans):
        tie = P.logical_and(P.eq(x, y), P.isinf(ans))
        x, y = P.where(tie, 0.0, x), P.where(tie, 0.0, y)
    return P.logistic(P.sub(x, y))


# One primitive (NumPy's ufunc is stable) rather than a shifted composition: a fifth of the
# interpreter steps, also under vmap. Its rules are written in functrans operations.
logaddexp_p = Primitive("logaddexp", _np.logaddexp)
defjvp(logaddexp_p,
       lambda t, ans, x, y: P.broadcast_like(t * _logaddexp_share(ans, x, y), ans),
       lambda t, ans, x, y: P.broadcast_like(t * _logaddexp_share(ans, y, x), ans))
defvjp(logaddexp_p,
       lambda ct, ans, x, y: P.unbroadcast(ct * _logaddexp_share(ans, x, y), x),
       lambda ct, ans, x, y: P.unbroadcast(ct * _logaddexp_share(ans, y, x), y))
P.defbroadcasting(logaddexp_p)


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow; at an infinite argument the derivative is
    its limit (1 for a +inf argument, 0 for the other, split at a tie).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.logaddexp(1000.0, 1000.0)) == 1000.0 + float(fnp.log(2.0))
        True
        >>> ft.grad(fnp.logaddexp, argnums=(0, 1))(np.inf, 1.0)
        (array(1.), array(0.))
    """
    if not _core._active:
        return _np.logaddexp(x, y)
    return logaddexp_p.bind(x, y)


def logaddexp2(x: ArrayLike, y: ArrayLike) -> Any:
    """``log2(2**x + 2**y)`` without overflow.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.logaddexp2(1.0, 1.0), ft.grad(fnp.logaddexp2, argnums=(0, 1))(1.0, 1.0)
        (np.float64(2.0), (array(0.5), array(0.5)))
    """
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
    """``|x|`` with the sign of ``y`` (its sign bit: -0.0 counts as negative).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.copysign(2.0, -1.0), ft.grad(fnp.copysign)(2.0, -1.0)
        (np.float64(-2.0), array(-1.))
    """
    if not _core._active:
        return _np.copysign(x, y)
    dtype = _result_dtype(x, y)
    ax = _as(P.abs(x), dtype)
    return P.where(P.signbit(y), P.neg(ax), ax)


def heaviside(x1: ArrayLike, x2: ArrayLike) -> Any:
    """0 below zero, ``x2`` at zero, 1 above (NaN stays NaN); zero derivative in ``x1``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.heaviside(np.array([-1.0, 0.0, 2.0]), 0.5)
        array([0. , 0.5, 1. ])
    """
    if not _core._active:
        return _np.heaviside(x1, x2)
    dtype = _result_dtype(x1, x2)
    x1 = P.stop_gradient_p.bind(x1)
    out = P.where(P.gt(x1, 0), 1.0, P.where(P.lt(x1, 0), 0.0, P.where(P.eq(x1, 0), x2, x1)))
    return _as(out, dtype)


def fabs(x: ArrayLike) -> Any:
    """Absolute value of a real ``x``, always floating (integers become float64).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.vmap(ft.grad(fnp.fabs))(np.array([-2.0, 3.0]))
        array([-1.,  1.])
    """
    if not _core._active:
        return _np.fabs(x)
    return P.abs(_as(x, _result_dtype(x)))


def float_power(x: ArrayLike, y: ArrayLike) -> Any:
    """``x ** y`` computed in float64 (complex128 for complex arguments).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.float_power, argnums=(0, 1))(2.0, 3.0)
        (array(12.), array(5.54517744))
    """
    if not _core._active:
        return _np.float_power(x, y)
    dtype = _np.result_type(_result_dtype(x, y), _np.float64)
    return P.pow(_as(x, dtype), _as(y, dtype))


def fmax(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise maximum ignoring NaN (NaN only where both are NaN); ties split.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.fmax(np.nan, 2.0), ft.grad(fnp.fmax, argnums=(0, 1))(np.nan, 2.0)
        (np.float64(2.0), (array(0.), array(1.)))
    """
    if not _core._active:
        return _np.fmax(x, y)
    return _ignoring_nan(P.maximum, x, y)


def fmin(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise minimum ignoring NaN (NaN only where both are NaN); ties split.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.fmin(1.0, np.nan), ft.grad(fnp.fmin, argnums=(0, 1))(1.0, np.nan)
        (np.float64(1.0), (array(1.), array(0.)))
    """
    if not _core._active:
        return _np.fmin(x, y)
    return _ignoring_nan(P.minimum, x, y)


def _ignoring_nan(op: Any, x: ArrayLike, y: ArrayLike) -> Any:
    """``op(x, y)`` with a NaN on one side replaced by the other side before ``op`` sees it, so
    the NaN side gets a zero derivative (``op`` itself gives a NaN one to a NaN input)."""
    x = P.where(P.isnan(x), y, x)
    return op(x, P.where(P.isnan(y), x, y))


def divmod(x: ArrayLike, y: ArrayLike) -> tuple:  # noqa: A001
    """``(x // y, x % y)``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.divmod(np.array([7.0, -7.0]), 2.0)
        (array([ 3., -4.]), array([1., 1.]))
    """
    if not _core._active:
        return _np.divmod(x, y)
    return P.floor_divide(x, y), P.remainder(x, y)


def modf(x: ArrayLike) -> tuple:
    """``(fractional part, integral part)``, both with the sign of ``x``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.modf(np.array([2.5, -1.25]))
        (array([ 0.5 , -0.25]), array([ 2., -1.]))
    """
    if not _core._active:
        return _np.modf(x)
    whole = P.trunc(x)
    return P.sub(x, whole), whole


def ldexp(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 * 2**x2`` for integer exponents ``x2`` (differentiable in ``x1``).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.ldexp(1.5, 3), ft.grad(fnp.ldexp)(1.5, 3)
        (np.float64(12.0), array(8.))
    """
    if not _core._active:
        return _np.ldexp(x1, x2)
    dtype = _result_dtype(x1)
    return _as(P.mul(x1, _as(P.pow(2.0, P.stop_gradient_p.bind(x2)), dtype)), dtype)


def angle(z: ArrayLike, deg: bool = False) -> Any:
    """The argument of ``z`` (``arctan2(imag, real)``), in degrees if ``deg``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.angle(np.array([1.0j, -1.0]))
        array([1.57079633, 3.14159265])
    """
    if not _core._active:
        return _np.angle(z, deg)
    a = P.arctan2(P.imag(z), P.real(z))
    return a * (1.0 / _DEG) if deg else a


def isreal(x: ArrayLike) -> Any:
    """Whether each element has a zero imaginary part (every element of a real array); boolean.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isreal(np.array([1.0 + 1.0j, 2.0 + 0.0j]))
        array([False,  True])
    """
    if not _core._active:
        return _np.isreal(x)
    return P.eq(P.imag(x), 0)


def iscomplex(x: ArrayLike) -> Any:
    """Whether each element has a non-zero imaginary part; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.iscomplex(np.array([1.0 + 1.0j, 2.0 + 0.0j]))
        array([ True, False])
    """
    if not _core._active:
        return _np.iscomplex(x)
    return P.ne(P.imag(x), 0)


def isposinf(x: ArrayLike) -> Any:
    """Whether each element is +inf; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isposinf(np.array([-np.inf, np.inf, 1.0]))
        array([False,  True, False])
    """
    if not _core._active:
        return _np.isposinf(x)
    return P.logical_and(P.isinf(x), P.logical_not(P.signbit(x)))


def isneginf(x: ArrayLike) -> Any:
    """Whether each element is -inf; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isneginf(np.array([-np.inf, np.inf, 1.0]))
        array([ True, False, False])
    """
    if not _core._active:
        return _np.isneginf(x)
    return P.logical_and(P.isinf(x), P.signbit(x))


def nan_to_num(x: ArrayLike, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN and infinities replaced by finite numbers; derivative 1 at the finite elements.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nan_to_num(np.array([np.nan, 1.0, -np.inf]), neginf=-9.0)
        array([ 0.,  1., -9.])
    """
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
    """``|a - b| <= atol + rtol |b|`` elementwise (infinities equal only to themselves).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.isclose(np.array([1.0, 2.0]), np.array([1.0, 2.1]))
        array([ True, False])
    """
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
    """Whether every element is close (see :func:`isclose`).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
        True
    """
    if not _core._active:
        return _np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    close = isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return P.reduce_min(close, tuple(range(len(P.shape_of(close)))))


def sigmoid(x: ArrayLike) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``; its derivative is ``sigmoid(x) (1 - sigmoid(x))``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.sigmoid(0.0), ft.grad(fnp.sigmoid)(0.0)
        (np.float64(0.5), array(0.25))
    """
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
