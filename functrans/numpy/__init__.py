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
from ..core import Tracer, concrete_value, dtype_of, shape_of  # noqa: F401
from ..errors import ConcretizationError  # noqa: F401

# Dtypes and constants, so ``fnp.float32`` and ``fnp.pi`` work as with NumPy.
from numpy import (bool_, complex64, complex128, dtype, e, float16, float32,  # noqa: F401
                   float64, inf, int8, int16, int32, int64, intp, nan, ndarray, newaxis, pi,
                   uint8)

ArrayLike = Any

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


def _any_traced(*args: Any) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in args)


def array(object: ArrayLike, dtype: Any = None, *, copy: bool = True, order: str = "K",  # noqa: A002
          ndmin: int = 0) -> Any:
    """NumPy's ``array``; traced values (also inside lists) give a traced array.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.array([1, 2], dtype=fnp.float32)
        array([1., 2.], dtype=float32)
    """
    if not _core._active:
        return _np.array(object, dtype, copy=copy, order=order, ndmin=ndmin)
    out = asarray(object, dtype)
    if ndim(out) < ndmin:
        out = P.reshape(out, (1,) * (ndmin - ndim(out)) + tuple(shape_of(out)))
    return out


def asarray(a: ArrayLike, dtype: Any = None) -> Any:
    """``a`` as an array; a traced value stays traced (converted to ``dtype`` if given)."""
    if not _core._active:
        return _np.asarray(a, dtype=dtype)
    if isinstance(a, Tracer):
        return a if dtype is None or a.dtype == dtype else P.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, Tracer) for x in _flat(a)):
        return stack([asarray(x, dtype) for x in a])
    return _np.asarray(a, dtype=dtype)


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
    """Zeros shaped like ``a``: a plain NumPy array even for a traced ``a`` (a constant)."""
    if not isinstance(a, Tracer):
        plain = dtype is None and shape is None
        return _np.zeros_like(a) if plain else _np.zeros_like(a, dtype, order, subok, shape)
    return _np.zeros(*_like(a, dtype, shape))


def ones_like(a: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
              shape: Any = None) -> Any:
    """Ones shaped like ``a``: a plain NumPy array even for a traced ``a``."""
    if not isinstance(a, Tracer):
        plain = dtype is None and shape is None
        return _np.ones_like(a) if plain else _np.ones_like(a, dtype, order, subok, shape)
    return _np.ones(*_like(a, dtype, shape))


def empty_like(a: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None) -> Any:
    """An uninitialised array shaped like ``a`` (plain NumPy, also for a traced ``a``)."""
    if not isinstance(a, Tracer):
        plain = dtype is None and shape is None
        return _np.empty_like(a) if plain else _np.empty_like(a, dtype, order, subok, shape)
    return _np.empty(*_like(a, dtype, shape))


def full(shape: Any, fill_value: ArrayLike, dtype: Any = None, order: str = "C") -> Any:
    """An array of ``shape`` filled with ``fill_value`` (traced if ``fill_value`` is)."""
    if not isinstance(fill_value, Tracer):
        return _np.full(shape, fill_value, dtype, order)
    shape = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
    return P.broadcast_to(fill_value if dtype is None else astype(fill_value, dtype), shape)


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: Any = None, order: str = "K",
              subok: bool = True, shape: Any = None) -> Any:
    """As NumPy: the result has ``a``'s dtype (or ``dtype``), whatever ``fill_value``'s type;
    it is traced only if ``fill_value`` is."""
    if not isinstance(fill_value, Tracer):
        if not isinstance(a, Tracer):
            plain = dtype is None and shape is None
            return (_np.full_like(a, fill_value) if plain
                    else _np.full_like(a, fill_value, dtype, order, subok, shape))
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
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
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
    """``base ** linspace(start, stop)``; differentiable in ``start``, ``stop`` and ``base``."""
    if not _any_traced(start, stop, base):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    out_dtype = _numpy_dtype(_np.logspace, start, stop, num, endpoint, base, dtype, axis)
    if ndim(base):
        base = expand_dims(base, axis)
    return astype(P.pow(base, linspace(start, stop, num, endpoint, axis=axis)), out_dtype)


def geomspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
              dtype: Any = None, axis: int = 0) -> Any:
    """Values spaced evenly on a log scale from ``start`` to ``stop`` (of one sign), which are
    hit exactly; differentiable in both."""
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
    """Coordinate matrices from coordinate vectors; traced vectors give traced grids."""
    if not _any_traced(*xi):
        return _np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(xi)
    axes = list(range(n))
    if indexing == "xy" and n > 1:
        axes[0], axes[1] = 1, 0
    out = [P.reshape(x, tuple(-1 if k == ax else 1 for k in range(n))) for x, ax in zip(xi, axes)]
    return tuple(out) if sparse else tuple(broadcast_arrays(*out))


def astype(x: ArrayLike, dtype: Any) -> Any:
    return P.convert_element_type(x, dtype)


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
