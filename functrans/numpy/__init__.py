"""functrans.numpy: NumPy's names and signatures, built from functrans primitives.

Every function here works on NumPy arrays, Python numbers and traced values alike, and is
differentiable and batchable because it is made of primitives. Importing this module also
gives traced values their Python operators, array methods and NumPy protocols.
"""

from __future__ import annotations

import builtins
import string
from typing import Any

from .. import core as _core
from .. import primitives as P
from ..core import Tracer, concrete_value, dtype_of, shape_of  # noqa: F401
from ..errors import ConcretizationError  # noqa: F401
from . import _np  # NumPy's names, for the fast paths

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
    "tril_indices", "triu_indices",
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
    "asarray", "zeros_like", "ones_like", "full_like", "empty_like", "logspace", "geomspace",
    "astype", "ndim", "shape", "size",
    "normalize_axis",
    # reductions
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "argmax", "argmin", "all", "any",
    # products
    "matmul", "dot", "tensordot", "outer", "inner", "vdot", "einsum", "kron", "cross",
    # indexing, linear algebra
    "getitem", "linalg",
]

# ---------------------------------------------------------------------------------------
# Elementwise functions (ufuncs) and reductions live in submodules.

from ._elementwise import *  # noqa: E402, F401, F403  (re-exported: see its __all__)
from ._elementwise import _concrete, _result_dtype, log10  # noqa: E402
from ._reductions import *  # noqa: E402, F401, F403  (re-exported: see its __all__)
from ._reductions import _axes, ndim, normalize_axis  # noqa: E402, F401  (_axes: for linalg)

# ---------------------------------------------------------------------------------------
# Creation. Concrete arrays are plain NumPy; ``*_like`` follows a traced argument.

zeros, ones, empty = _np.zeros, _np.ones, _np.empty
arange, eye, identity, tri = _np.arange, _np.eye, _np.identity, _np.tri
tril_indices, triu_indices = _np.tril_indices, _np.triu_indices     # index arrays: nothing to differentiate


def _any_traced(*args: Any) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in args)


_np_array = _np.array


def array(object: ArrayLike, dtype: Any = None, copy: bool = True, order: str = "K",  # noqa: A002
          ndmin: int = 0) -> Any:
    """NumPy's ``array``; traced values (also inside lists) give a traced array. ``copy``,
    ``order`` and ``ndmin`` are keyword arguments in NumPy (here also positional: on Python 3.11
    keyword-only defaults cost a third of NumPy's own call on a small array).

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.array([1, 2], dtype=fnp.float32)
        array([1., 2.], dtype=float32)
    """
    if dtype is None and not ndmin and not _core._active and copy is True and order == "K":
        return _np_array(object)        # the common call (a global, not _np's attribute)
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.array(object, dtype, copy=copy, order=order, ndmin=ndmin)  # type: ignore[call-overload]
    out = asarray(object, dtype)
    if ndim(out) < ndmin:
        out = P.reshape(out, (1,) * (ndmin - ndim(out)) + tuple(shape_of(out)))
    return out


def asarray(a: ArrayLike, dtype: Any = None) -> Any:
    """``a`` as an array; a traced value stays traced (converted to ``dtype`` if given).

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.asarray([1, 2], dtype=fnp.float32)
        array([1., 2.], dtype=float32)
    """
    if type(a) is ndarray and dtype is None:     # as NumPy: the array itself (never traced)
        return a
    if not _core._active:
        return _np.asarray(a, dtype)
    if isinstance(a, Tracer):
        return a if dtype is None or a.dtype == dtype else P.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, Tracer) for x in _flat(a)):
        return _stack_traced(a, dtype)
    return _np.asarray(a, dtype=dtype)


def _stack_traced(seq: Any, dtype: Any) -> Any:
    """A (nested) list holding traced values as one traced array (out of ``asarray``, whose
    fast path a comprehension over ``dtype`` would slow down with a closure cell)."""
    return stack([asarray(x, dtype) for x in seq])


def _flat(seq: Any) -> list:
    out = []
    for x in seq:
        out.extend(_flat(x) if isinstance(x, (list, tuple)) else [x])
    return out


def _like(a: ArrayLike, dtype: Any, shape: Any) -> tuple:
    """The shape and dtype a ``*_like`` function gives for a traced ``a`` (whose per-example
    shape it is under vmap: a constant needs no batch axis)."""
    return (tuple(shape_of(a)) if shape is None else shape), (a.dtype if dtype is None else dtype)


def zeros_like(a: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None) -> Any:
    """Zeros shaped like ``a``: a plain NumPy array even for a traced ``a`` (a constant).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.zeros_like(np.ones((2, 2), np.float32))
        array([[0., 0.],
               [0., 0.]], dtype=float32)
    """
    if not _core._active and dtype is None and shape is None and order == "K" and subok:
        return _np.zeros_like(a)                # the eval fast path of the common call
    if not isinstance(a, Tracer):
        # NumPy's stubs take order only as a literal, not a str variable.
        return _np.zeros_like(a, dtype, order, subok, shape)  # type: ignore[call-overload]
    return _np.zeros(*_like(a, dtype, shape))


def ones_like(a: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
              shape: Any = None) -> Any:
    """Ones shaped like ``a``: a plain NumPy array even for a traced ``a``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.ones_like(np.array([1, 2]))
        array([1, 1])
    """
    if not _core._active and dtype is None and shape is None and order == "K" and subok:
        return _np.ones_like(a)                # the eval fast path of the common call
    if not isinstance(a, Tracer):
        # NumPy's stubs take order only as a literal, not a str variable.
        return _np.ones_like(a, dtype, order, subok, shape)  # type: ignore[call-overload]
    return _np.ones(*_like(a, dtype, shape))


def empty_like(a: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None) -> Any:
    """An uninitialised array shaped like ``a`` (plain NumPy, also for a traced ``a``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.empty_like(np.ones((2, 3))).shape
        (2, 3)
    """
    if not _core._active and dtype is None and shape is None and order == "K" and subok:
        return _np.empty_like(a)                # the eval fast path of the common call
    if not isinstance(a, Tracer):
        # NumPy's stubs take order only as a literal, not a str variable.
        return _np.empty_like(a, dtype, order, subok, shape)  # type: ignore[call-overload]
    return _np.empty(*_like(a, dtype, shape))


def full(shape: Any, fill_value: ArrayLike, dtype: Any = None, order: str = "C") -> Any:
    """An array of ``shape`` filled with ``fill_value`` (traced if ``fill_value`` is).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.full(2, 7.0), ft.grad(lambda v: fnp.sum(fnp.full((2, 3), v)))(1.0)
        (array([7., 7.]), array(6.))
    """
    if not isinstance(fill_value, Tracer):
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.full(shape, fill_value, dtype, order)  # type: ignore[call-overload]
    shape = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
    return P.broadcast_to(fill_value if dtype is None else astype(fill_value, dtype), shape)


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: Any = None, order: str = "K",
              subok: bool = True, shape: Any = None) -> Any:
    """As NumPy: the result has ``a``'s dtype (or ``dtype``), whatever ``fill_value``'s type;
    it is traced only if ``fill_value`` is.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.full_like(np.array([1, 2]), 2.5)
        array([2, 2])
    """
    if not isinstance(fill_value, Tracer):
        if not isinstance(a, Tracer):
            plain = dtype is None and shape is None
            # NumPy's stubs take order only as a literal, not a str variable.
            return (_np.full_like(a, fill_value) if plain else
                    _np.full_like(a, fill_value, dtype, order, subok, shape))  # type: ignore[call-overload]
        shape, dtype = _like(a, dtype, shape)
        return _np.full(shape, fill_value, dtype)
    shape, dtype = _like(a if isinstance(a, Tracer) else _np.asarray(a), dtype, shape)
    return P.broadcast_to(astype(fill_value, dtype), shape)


def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``; differentiable in both.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.jacfwd(lambda b: fnp.linspace(0.0, b, 3))(2.0)
        array([0. , 0.5, 1. ])
    """
    if not _any_traced(start, stop):
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis)  # type: ignore[call-overload]
    div = (num - 1) if endpoint else num
    out_dtype = _numpy_dtype(_np.linspace, start, stop, num, endpoint, False, dtype, axis)
    dt = _result_dtype(start, stop, float(num))
    start, stop = astype(start, dt), astype(stop, dt)
    shp = _np.broadcast_shapes(shape_of(start), shape_of(stop))
    steps = _np.arange(num, dtype=dt).reshape((num,) + (1,) * len(shp))
    step = (stop - start) / div if div > 0 else (stop - start) * _np.nan
    y = steps * step + start if div > 0 else P.broadcast_to(start, (num,) + shp)
    if endpoint and num > 1:
        last = _np.arange(num).reshape(steps.shape) == num - 1
        y = P.where(last, stop, y)
    y = astype(moveaxis(y, 0, axis) if axis != 0 else y, out_dtype)
    return (y, step) if retstep else y


def logspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             base: ArrayLike = 10.0, dtype: Any = None, axis: int = 0) -> Any:
    """``base ** linspace(start, stop)``; differentiable in ``start``, ``stop`` and ``base``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.logspace(0.0, 2.0, 3), ft.jacfwd(lambda s: fnp.logspace(0.0, s, 2))(1.0)
        (array([  1.,  10., 100.]), array([ 0.        , 23.02585093]))
    """
    if not _any_traced(start, stop, base):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    out_dtype = _numpy_dtype(_np.logspace, start, stop, num, endpoint, base, dtype, axis)
    if ndim(base):
        base = expand_dims(base, axis)
    return astype(P.pow(base, linspace(start, stop, num, endpoint, axis=axis)), out_dtype)


def geomspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
              dtype: Any = None, axis: int = 0) -> Any:
    """Values spaced evenly on a log scale from ``start`` to ``stop`` (of one sign), which are
    hit exactly; differentiable in both.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> fnp.geomspace(1.0, 8.0, 4), ft.jacfwd(lambda b: fnp.geomspace(1.0, b, 2))(8.0)
        (array([1., 2., 4., 8.]), array([0., 1.]))
    """
    if not _any_traced(start, stop):
        return _np.geomspace(start, stop, num, endpoint, dtype, axis)
    out_dtype = _numpy_dtype(_np.geomspace, start, stop, num, endpoint, dtype, axis)
    start, stop = astype(start, out_dtype), astype(stop, out_dtype)
    sgn = P.sign(P.stop_gradient_p.bind(start))
    y = sgn * logspace(log10(P.abs(start)), log10(P.abs(stop)), num, endpoint, axis=0)
    first = _np.arange(num).reshape((num,) + (1,) * (ndim(y) - 1)) == 0
    y = P.where(first, start, y)
    if endpoint and num > 1:
        y = P.where(first[::-1], stop, y)
    y = moveaxis(y, 0, axis) if axis != 0 else y
    return astype(y, out_dtype)


def _numpy_dtype(fun: Any, *args: Any) -> Any:
    """The dtype of NumPy's ``fun(*args)`` with traced arguments replaced by ones: the
    promotion rules of linspace and friends differ between numbers and arrays."""
    with _np.errstate(all="ignore"):     # the ones may not fit the other values (geomspace)
        return fun(*(_np.ones(shape_of(a), a.dtype) if isinstance(a, Tracer) else a
                     for a in args)).dtype


def meshgrid(*xi: ArrayLike, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    """Coordinate matrices from coordinate vectors; traced vectors give traced grids.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.meshgrid(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]))[0].shape
        (3, 2)
    """
    if not _any_traced(*xi):
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)  # type: ignore[call-overload]
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(xi)
    axes = list(range(n))
    if indexing == "xy" and n > 1:
        axes[0], axes[1] = 1, 0
    out = [P.reshape(x, tuple(-1 if k == ax else 1 for k in range(n))) for x, ax in zip(xi, axes)]
    return tuple(out) if sparse else tuple(broadcast_arrays(*out))


def astype(x: ArrayLike, dtype: Any) -> Any:
    """``x`` converted to ``dtype``; the cotangent is converted back.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.astype(np.array([1.5, 2.5]), np.float32)
        array([1.5, 2.5], dtype=float32)
    """
    return P.convert_element_type(x, dtype)


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
    try:                        # arrays and tracers: their shapes, without ndim's calls
        zero_d = not a.shape or not b.shape
    except AttributeError:      # a number or a list
        zero_d = ndim(a) == 0 or ndim(b) == 0
    if zero_d:
        raise ValueError("matmul: input operand does not have enough dimensions (got a 0-d array)")
    return P.matmul(a, b)


def dot(a: ArrayLike, b: ArrayLike) -> Any:
    """NumPy's ``dot``: products for 0-d, matrix products up to 2-d, a sum over the last axis
    of ``a`` and the second-to-last of ``b`` beyond.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.arange(4.0)
        >>> float(fnp.dot(x, x)), ft.grad(lambda x: 2 * fnp.dot(x, x))(x)
        (14.0, array([ 0.,  4.,  8., 12.]))
    """
    if not _core._active:
        return _np.dot(a, b)
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
    if not _core._active:
        return _np.tensordot(a, b, axes)
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


def outer(a: ArrayLike, b: ArrayLike) -> Any:
    """Outer product of two vectors (inputs are flattened).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.outer(np.array([1.0, 2.0]), np.array([1.0, 10.0]))
        array([[ 1., 10.],
               [ 2., 20.]])
    """
    if not _core._active:
        return _np.outer(a, b)
    return P.mul(P.reshape(a, (-1, 1)), P.reshape(b, (1, -1)))


def inner(a: ArrayLike, b: ArrayLike) -> Any:
    """Sum of products over the last axes.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.inner(np.array([1.0, 2.0]), np.array([3.0, 4.0])))
        11.0
    """
    if not _core._active:
        return _np.inner(a, b)
    if ndim(a) == 0 or ndim(b) == 0:
        return P.mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """Dot product of the flattened arrays, conjugating ``a`` if it is complex (as NumPy).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> float(fnp.vdot(np.ones((2, 2)), np.full((2, 2), 2.0)))
        8.0
        >>> complex(ft.jvp(lambda z: fnp.vdot(z, z), (np.array([1j]),), (np.array([1.0 + 0j]),))[0])
        (1+0j)
    """
    if not _core._active:
        return _np.vdot(a, b)
    if _np.dtype(_core.dtype_of(a)).kind == "c":
        a = P.conj(a)
    return P.reduce_sum(P.mul(ravel(a), ravel(b)), (0,))


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
    if not _core._active:
        return (_np.einsum(subscripts, *operands) if optimize is None
                else _np.einsum(subscripts, *operands, optimize=optimize))
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


def kron(a: ArrayLike, b: ArrayLike) -> Any:
    """Kronecker product: one broadcast product of interleaved axes, reshaped.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.kron(np.eye(2), np.array([[1.0, 2.0]]))
        array([[1., 2., 0., 0.],
               [0., 0., 1., 2.]])
    """
    if not _core._active:
        return _np.kron(a, b)
    nd = builtins.max(ndim(a), ndim(b))
    sa = (1,) * (nd - ndim(a)) + tuple(shape_of(a))
    sb = (1,) * (nd - ndim(b)) + tuple(shape_of(b))
    x = P.mul(P.reshape(a, tuple(v for s in sa for v in (s, 1))),
              P.reshape(b, tuple(v for s in sb for v in (1, s))))
    return P.reshape(x, tuple(i * j for i, j in zip(sa, sb)))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """Cross product of 3-vectors (a 2-vector has a zero third component; two 2-vectors give
    the scalar z-component), with NumPy's ``axisa``, ``axisb``, ``axisc`` and ``axis``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ex, ey = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
        >>> fnp.cross(ex, ey), ft.grad(lambda a: fnp.cross(a, ey)[2])(np.ones(3))
        (array([0., 0., 1.]), array([1., 0., 0.]))
    """
    if not _core._active:
        return _np.cross(a, b, axisa, axisb, axisc, axis)
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
    if type(x) is ndarray and not _core._active:     # eval fast path: NumPy's own indexing
        return x[key]
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

    def multiply(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] *= values`` (repeated indices multiply by every update)."""
        return self._combine(multiply, values, "multiply", "prod")

    def divide(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] /= values`` (repeated indices divide by every update)."""
        return self._combine(divide, values, "divide")

    def power(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] **= values`` (repeated indices: to the product of
        every update, ``x ** (a b)``, as JAX)."""
        return self._combine(power, values, "power")

    def min(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] = minimum(x[idx], values)`` (repeated indices: the
        least of ``x`` and all their updates; ties share the derivative equally)."""
        return self._combine(minimum, values, "min", "min")

    def max(self, values: ArrayLike) -> Any:
        """A copy of ``x`` with ``x[idx] = maximum(x[idx], values)`` (repeated indices: the
        greatest of ``x`` and all their updates; ties share the derivative equally)."""
        return self._combine(maximum, values, "max", "max")

    def _combine(self, op: Any, values: ArrayLike, name: str, reduce: str | None = None) -> Any:
        """``x[idx] = op(x[idx], values)``. Read-modify-write keeps only one of repeated
        indices' updates, so repeats go to :meth:`_repeated` (``reduce`` names the reduction
        that applies all of them) or, for ``divide`` and ``power``, :meth:`_by_product`.
        Indices mapped by vmap have no concrete value to check: they take those forms too."""
        try:
            dynamic = [_core.concrete_value(d) for d in self.dynamic]
        except ConcretizationError:       # indices mapped by vmap: no concrete value to check
            dynamic = None
        if dynamic is not None:
            hit = _np.arange(size(self.x)).reshape(shape(self.x))[P._fill(self.idx, dynamic)]
            if _np.unique(hit).size == hit.size:
                return self.set(op(self.get(), values))
        else:
            hit = None
        return self._repeated(reduce, values, hit) if reduce else self._by_product(op, values)

    def _by_product(self, op: Any, values: ArrayLike) -> Any:
        """``divide`` and ``power`` with repeated (or vmap-mapped) indices as JAX computes
        them: ``op(x, p)`` with ``p`` the product of every update of each element (1
        elsewhere), so ``x / (a b)`` and ``x ** (a b)``."""
        dt = _np.result_type(dtype_of(self.x), dtype_of(values) if isinstance(values, Tracer) else values)
        ones = object.__new__(_IndexUpdate)
        ones.x, ones.idx, ones.dynamic = _np.ones(shape(self.x), dt), self.idx, self.dynamic
        return op(self.x, ones.multiply(values))

    def _repeated(self, reduce: str, values: ArrayLike, hit: Any) -> Any:
        """``x`` with each selected element replaced by the ``reduce`` ("prod", "min", "max") of
        itself and all the updates selecting it, as ``np.multiply.at`` (``minimum.at``,
        ``maximum.at``) and JAX compute it; made of differentiable operations, so every
        transform applies. The reductions' derivatives give JAX's: the product rule, and an
        equal share for each of tied extremes.

        ``hit`` (the flat position each selection updates, concrete) lays the candidates out
        as a ``(touched elements, 1 + most updates of one)`` matrix padded with the
        reduction's identity. Without ``hit`` (indices batched by vmap) the positions are
        compared with every element: an ``(updates + 1, x.size)`` one-hot matrix, the price
        of not knowing the indices."""
        x = self.x
        x_shape = tuple(shape(x))
        # NumPy's promotion of x and the updates (a Python number is weakly typed)
        dt = _np.result_type(*(a.dtype if isinstance(a, Tracer) else a if isinstance(
            a, (int, float, complex, ndarray, _np.generic)) else _np.asarray(a) for a in (x, values)))
        positions = hit if hit is not None else P.getitem(
            _np.arange(size(x)).reshape(x_shape), self.idx, self.dynamic)
        n = builtins.max(int(_np.prod(shape(positions))), 1)
        v = astype(reshape(broadcast_to(values, tuple(shape(positions))), (n,)), dt)
        flat = astype(reshape(x, (-1,)), dt)
        if dt.kind == "b":
            pad = _np.array(reduce != "max", dt)
        elif reduce == "prod":
            pad = _np.array(1, dt)
        elif dt.kind in "iu":
            pad = _np.array(_np.iinfo(dt).min if reduce == "max" else _np.iinfo(dt).max, dt)
        else:
            pad = _np.array(-_np.inf if reduce == "max" else _np.inf, dt)
        combine = getattr(_reductions, reduce)
        if hit is None:
            chosen = P.eq(reshape(positions, (n, 1)), _np.arange(size(x)).reshape(1, -1))
            candidates = where(chosen, reshape(v, (n, 1)), pad)
            out = combine(concatenate([reshape(flat, (1, -1)), candidates], axis=0), axis=0)
            return reshape(out, x_shape)
        h = hit.ravel()
        order = _np.argsort(h, kind="stable")    # each element's updates in their order
        touched, first, counts = _np.unique(h[order], return_index=True, return_counts=True)
        group = _np.repeat(_np.arange(touched.size), counts)
        rank = _np.arange(h.size) - _np.repeat(first, counts)
        slots = P.scatter_set(_np.full((touched.size, int(counts.max())), pad), P.getitem(v, (order,)),
                              (group, rank))
        candidates = concatenate([reshape(P.getitem(flat, (touched,)), (-1, 1)), slots], axis=1)
        out = P.scatter_set(flat, combine(candidates, axis=1), (touched,))
        return reshape(out, x_shape)


class _At:
    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


from ._shapes import *  # noqa: E402, F401, F403
from . import _elementwise, _reductions, _shapes  # noqa: E402

# Each submodule lists its own names; together with the list above they are the public API.
__all__ = list(dict.fromkeys(__all__ + _elementwise.__all__ + _reductions.__all__ + _shapes.__all__))
from . import linalg  # noqa: E402, F401  (fnp.linalg)
from ._protocols import install_tracer_methods  # noqa: E402

install_tracer_methods(_At)
