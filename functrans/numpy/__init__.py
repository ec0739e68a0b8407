"""functrans.numpy: NumPy's names and signatures, built from functrans primitives.

Every function here works on NumPy arrays, Python numbers and traced values alike, and is
differentiable and batchable because it is made of primitives. Importing this module also
gives traced values their Python operators, array methods and NumPy protocols.
"""

from __future__ import annotations

import builtins
import string
from typing import Any, Sequence

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


def round(a: ArrayLike, decimals: int = 0) -> Any:  # noqa: A001
    """Round to ``decimals`` places; its derivative is zero."""
    if decimals == 0:
        return P.round(a)
    scale = 10.0 ** decimals
    return P.round(a * scale) / scale


around = round


def positive(x: ArrayLike) -> Any:
    return x


def square(x: ArrayLike) -> Any:
    return P.mul(x, x)


def reciprocal(x: ArrayLike) -> Any:
    return P.div(1.0, x)


def exp2(x: ArrayLike) -> Any:
    return P.pow(2.0, x)


def log2(x: ArrayLike) -> Any:
    return P.log(x) / float(_np.log(2.0))  # a Python float keeps float32 (NEP 50)


def log10(x: ArrayLike) -> Any:
    return P.log(x) / float(_np.log(10.0))


def hypot(x: ArrayLike, y: ArrayLike) -> Any:
    return sqrt(x * x + y * y)


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow (exact derivative for any shift)."""
    m = P.stop_gradient_p.bind(P.maximum(x, y))
    m = P.where(P.isfinite(m), m, 0.0)
    return m + P.log(P.exp(P.sub(x, m)) + P.exp(P.sub(y, m)))


def sigmoid(x: ArrayLike) -> Any:
    return P.logistic(x)


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """Elementwise ``x if condition else y``: the way to branch per element (and per example)."""
    if x is None and y is None:
        return nonzero(condition)
    return P.where(condition, x, y)


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None) -> Any:
    """Limit ``a`` to ``[a_min, a_max]``; the derivative is 1 inside and 0 outside."""
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
    """``a`` as an array; a traced value stays traced (converted to ``dtype`` if given)."""
    if isinstance(a, Tracer):
        return a if dtype is None else P.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and any(isinstance(x, Tracer) for x in _flat(a)):
        return stack([asarray(x) for x in a])
    return _np.asarray(a, dtype=dtype)


def _flat(seq: Any) -> list:
    out = []
    for x in seq:
        out.extend(_flat(x) if isinstance(x, (list, tuple)) else [x])
    return out


def zeros_like(a: ArrayLike, dtype: Any = None) -> Any:
    out = P.zeros_like(a)
    return out if dtype is None else P.convert_element_type(out, dtype)


def ones_like(a: ArrayLike, dtype: Any = None) -> Any:
    return full_like(a, 1, dtype)


def full_like(a: ArrayLike, fill_value: Any, dtype: Any = None) -> Any:
    """As NumPy: the result has ``a``'s dtype (or ``dtype``), whatever ``fill_value``'s type."""
    out = zeros_like(a, dtype) + fill_value
    target = _np.dtype(dtype_of(a) if dtype is None else dtype)
    return out if dtype_of(out) == target else P.convert_element_type(out, target)


def astype(x: ArrayLike, dtype: Any) -> Any:
    return P.convert_element_type(x, dtype)


# ---------------------------------------------------------------------------------------
# Reductions.

def ndim(a: ArrayLike) -> int:
    return len(shape_of(a))


def shape(a: ArrayLike) -> tuple:
    return tuple(shape_of(a))


def size(a: ArrayLike) -> int:
    return int(_np.prod(shape_of(a), dtype=_np.int64))


def normalize_axis(axis: int, ndim: int, argname: str = "axis") -> int:
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
    """Sum over ``axis`` (all axes if ``None``)."""
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    if axis is None:
        return P.reduce_sum_p.bind(a, axes=None, keepdims=keepdims)
    axes = _axes(axis, ndim(a))
    return P.reduce_sum(a, axes, keepdims) if axes or keepdims else a


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``."""
    shp = shape_of(a)
    axes = _axes(axis, len(shp))
    count = int(_np.prod([shp[i] for i in axes], dtype=_np.int64))
    total = sum(a, axis=axes, dtype=dtype, keepdims=keepdims)
    return P.div(total, count) if dtype_of(total).kind in "fc" else P.div(total, float(count))


def var(a: ArrayLike, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    shp = shape_of(a)
    axes = _axes(axis, len(shp))
    count = int(_np.prod([shp[i] for i in axes], dtype=_np.int64))
    centered = a - mean(a, axis=axes, keepdims=True)
    return sum(centered * centered, axis=axes, keepdims=keepdims) / builtins.max(count - ddof, 0)


def std(a: ArrayLike, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    return sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def max(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the derivative equally."""
    return P.reduce_max(a, None if axis is None else _axes(axis, ndim(a)), keepdims)


def min(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``; tied minima share the derivative equally."""
    return P.reduce_min(a, None if axis is None else _axes(axis, ndim(a)), keepdims)


amax, amin = max, min


def prod(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``; exact derivatives even where elements are zero."""
    return P.reduce_prod(a, _axes(axis, ndim(a)), keepdims)


def _argreduce(impl: Any, a: ArrayLike, axis: int | None, keepdims: bool) -> Any:
    if axis is not None:
        axis = normalize_axis(axis, ndim(a))
    return P.argreduce_p.bind(a, axis=axis, keepdims=keepdims, impl=impl)


def argmax(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    return _argreduce(_np.argmax, a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    return _argreduce(_np.argmin, a, axis, keepdims)


def all(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return P.reduce_min(P.ne(a, 0), _axes(axis, ndim(a)), keepdims)


def any(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return P.reduce_max(P.ne(a, 0), _axes(axis, ndim(a)), keepdims)


# ---------------------------------------------------------------------------------------
# Shapes.

def reshape(a: ArrayLike, newshape: Any, order: str = "C") -> Any:
    if not _core._active:                      # eval fast path: nothing can be traced
        return _np.reshape(a, newshape, order=order)
    if order != "C":
        raise ValueError(f"reshape: only order='C' is supported, got order={order!r}")
    if isinstance(newshape, (int, _np.integer)):
        newshape = (int(newshape),)
    return P.reshape(a, tuple(int(d) for d in newshape))


def ravel(a: ArrayLike) -> Any:
    return P.reshape(a, (-1,))


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    n = ndim(a)
    perm = tuple(reversed(range(n))) if axes is None else tuple(normalize_axis(i, n, "axes") for i in axes)
    if sorted(perm) != list(range(n)):
        raise ValueError(f"transpose: axes must be a permutation of range({n}), got {axes}")
    return P.transpose(a, perm)


def moveaxis(a: ArrayLike, source: int, destination: int) -> Any:
    n = ndim(a)
    return P.moveaxis(a, normalize_axis(source, n, "source"), normalize_axis(destination, n, "destination"))


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    n = ndim(a)
    perm = list(range(n))
    i, j = normalize_axis(axis1, n, "axis1"), normalize_axis(axis2, n, "axis2")
    perm[i], perm[j] = j, i
    return P.transpose(a, tuple(perm))


def broadcast_to(a: ArrayLike, shape: Any) -> Any:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    _np.broadcast_shapes(shape_of(a), shape)  # raises NumPy's error for incompatible shapes
    return P.broadcast_to(a, shape)


def broadcast_arrays(*args: ArrayLike) -> list:
    shape = _np.broadcast_shapes(*(shape_of(a) for a in args))
    return [P.broadcast_to(a, shape) for a in args]


def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Any:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = ndim(a) + len(axes)
    axes = sorted(normalize_axis(ax, n) for ax in axes)
    shp = list(shape_of(a))
    for ax in axes:
        shp.insert(ax, 1)
    return P.reshape(a, tuple(shp))


def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    shp = shape_of(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shp) if d == 1)
    else:
        axes = _axes(axis, len(shp))
        bad = [i for i in axes if shp[i] != 1]
        if bad:
            raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not "
                             f"equal to one (axis {bad[0]} of shape {shp})")
    return P.reshape(a, tuple(d for i, d in enumerate(shp) if i not in axes))


def atleast_1d(a: ArrayLike) -> Any:
    return P.reshape(a, (1,)) if ndim(a) == 0 else a


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (``axis=None`` flattens them first)."""
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [ravel(x) for x in arrays], 0
    if len(arrays) == 1:
        return arrays[0]
    return P.concatenate(arrays, normalize_axis(axis, ndim(arrays[0])))


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Any:
    """Join arrays along a new axis."""
    arrays = list(arrays)
    shapes = {tuple(shape_of(x)) for x in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}")
    axis = normalize_axis(axis, ndim(arrays[0]) + 1)
    return concatenate([expand_dims(x, axis) for x in arrays], axis)


def hstack(arrays: Sequence[ArrayLike]) -> Any:
    arrays = [atleast_1d(x) for x in arrays]
    return concatenate(arrays, 0 if ndim(arrays[0]) == 1 else 1)


def vstack(arrays: Sequence[ArrayLike]) -> Any:
    return concatenate([P.reshape(x, (1, -1)) if ndim(x) < 2 else x for x in arrays], 0)


def nonzero(a: ArrayLike) -> tuple:
    """Indices of the non-zero elements; needs a concrete ``a`` (the result's size depends on it)."""
    return _np.nonzero(_concrete(a, "nonzero"))


def _concrete(a: ArrayLike, what: str) -> Any:
    try:
        return concrete_value(a)
    except ConcretizationError as err:
        raise ConcretizationError(f"{what} needs a concrete value: {err}") from None


# ---------------------------------------------------------------------------------------
# Products.

def matmul(a: ArrayLike, b: ArrayLike) -> Any:
    """Matrix product with NumPy's broadcasting and 1-D rules."""
    if not _core._active:
        return _np.matmul(a, b)
    if ndim(a) == 0 or ndim(b) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (got a 0-d array)")
    return P.matmul(a, b)


def dot(a: ArrayLike, b: ArrayLike) -> Any:
    """NumPy's ``dot``: products for 0-d, matrix products up to 2-d, a sum over the last axis
    of ``a`` and the second-to-last of ``b`` beyond."""
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
    return P.mul(P.reshape(a, (-1, 1)), P.reshape(b, (1, -1)))


def inner(a: ArrayLike, b: ArrayLike) -> Any:
    if ndim(a) == 0 or ndim(b) == 0:
        return P.mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    return P.reduce_sum(P.mul(ravel(a), ravel(b)), (0,))


def einsum(subscripts: str, *operands: ArrayLike) -> Any:
    """Einstein summation (NumPy's subscripts, ellipsis and implicit output included)."""
    return P.einsum(_explicit_einsum(subscripts, [ndim(x) for x in operands]), *operands)


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


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Sum of a diagonal (NumPy's signature: any rectangular shape, ``offset``, axes)."""
    n = ndim(a)
    axis1, axis2 = normalize_axis(axis1, n, "axis1"), normalize_axis(axis2, n, "axis2")
    rows, cols = shape_of(a)[axis1], shape_of(a)[axis2]
    k = _np.arange(builtins.max(0, builtins.min(rows, cols - offset) if offset >= 0
                                else builtins.min(rows + offset, cols)))
    a = P.transpose(a, (axis1, axis2) + tuple(i for i in range(n) if i not in (axis1, axis2)))
    diagonal = P.getitem(a, (k, k + offset) if offset >= 0 else (k - offset, k))
    # A sum, so small integer types widen as in NumPy (int32 -> int64).
    return P.reduce_sum(diagonal, (0,))


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
    """``x[key]`` (NumPy's basic and advanced indexing) for arrays, lists and traced values."""
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


class _At:
    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdate:
        return _IndexUpdate(self.x, key)


from . import linalg  # noqa: E402, F401  (fnp.linalg)
from ._protocols import install_tracer_methods  # noqa: E402

install_tracer_methods(_At)
