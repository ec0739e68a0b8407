"""Reductions and cumulative functions, with NumPy's ``axis`` (int, tuple, negative, None),
``keepdims``, ``dtype`` and ``ddof``.

Each starts with the eval fast path (NumPy's own function when no transform runs anywhere);
otherwise it is built from the reduction primitives. Derivatives follow API.md: tied
extrema share the derivative equally, products are exact at zeros.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

from numpy import _NoValue  # NumPy's "not given" default of initial=

from . import _np

from .. import core as _core
from .. import primitives as P
from ..core import Tracer, concrete_value, dtype_of, shape_of
from ..errors import ConcretizationError

ArrayLike = Any


def ndim(a: ArrayLike) -> int:
    """The number of axes; of a value batched by ``vmap``, per example.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.ndim(np.ones((2, 3))), ft.vmap(lambda r: fnp.ndim(r) * fnp.sum(r))(np.ones((2, 3)))
        (2, array([3., 3.]))
    """
    return len(shape_of(a))


def shape(a: ArrayLike) -> tuple:
    """The shape; of a value batched by ``vmap``, the shape of one example.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.shape(np.ones((2, 3))), ft.vmap(lambda r: fnp.shape(r)[0] * fnp.sum(r))(np.ones((2, 3)))
        ((2, 3), array([9., 9.]))
    """
    return a.shape if type(a) is _np.ndarray or isinstance(a, Tracer) else _np.shape(a)


def size(a: ArrayLike) -> int:
    """The number of elements; of a value batched by ``vmap``, of one example.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.size(np.ones((2, 3))), ft.vmap(lambda r: fnp.sum(r) / fnp.size(r))(np.ones((2, 3)))
        (6, array([1., 1.]))
    """
    return a.size if type(a) is _np.ndarray or isinstance(a, Tracer) else _np.size(a)


def normalize_axis(axis: int, ndim: int, argname: str = "axis") -> int:
    """``axis`` as a non-negative index into ``ndim`` axes (NumPy's ``AxisError`` rule: ``-ndim <= axis <
    ndim``); ``argname`` names it in the error.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.normalize_axis(-1, 3)
        2
    """
    if not -ndim <= axis < ndim:
        raise ValueError(f"{argname} {axis} is out of bounds for an array of dimension {ndim}")
    return axis + ndim if axis < 0 else axis


def _axes(axis: int | Sequence[int] | None, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:     # the common case, without the sort
        return (axis + ndim if axis < 0 else axis,)
    if isinstance(axis, (int, _np.integer)):
        axis = (axis,)
    return tuple(sorted(normalize_axis(int(a), ndim) for a in axis))


def _count(a: ArrayLike, axes: tuple) -> int:
    shp = shape_of(a)
    return math.prod([shp[i] for i in axes])


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported on traced values (they are immutable); "
                        f"use the returned value")


def _masked(a: ArrayLike, where: Any, fill: Any, name: str) -> Any:
    """``a`` with the elements outside the mask ``where`` (broadcast to ``a``) replaced by
    ``fill``: they get a zero derivative."""
    if where is True:
        return a
    if not isinstance(a, Tracer):
        a = _np.asarray(a)
    if not isinstance(where, Tracer):
        where = _np.asarray(where)
    if dtype_of(where) != _np.bool_:
        raise TypeError(f"{name}: where= must be a boolean mask, got dtype {dtype_of(where)}")
    a_shape = tuple(shape_of(a))
    try:
        fits = _np.broadcast_shapes(tuple(shape_of(where)), a_shape) == a_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: the where= mask of shape {tuple(shape_of(where))} does not "
                         f"broadcast to the array's shape {a_shape}")
    return P.where(where, a, _np.asarray(fill, dtype_of(a)))


def _mask_count(a: ArrayLike, where: Any, axes: tuple, keepdims: bool, name: str) -> Any:
    """How many elements ``where`` selects in each reduced slice (an int without a mask)."""
    if where is True:
        return _count(a, axes)
    ones = _masked(_np.ones(shape_of(a), _np.int64), where, 0, name)
    return P.reduce_sum(ones, axes, keepdims)


def _initial_like(initial: Any, total: Any) -> Any:
    """``initial`` cast to the result's dtype, as NumPy does."""
    return initial if isinstance(initial, Tracer) else _np.asarray(initial, dtype_of(total))


def _as_dtype(total: Any, dtype: Any) -> Any:
    """``total`` in the ``dtype=`` asked for: NumPy's sums and products of small integers
    give ``int64`` unless told otherwise."""
    return total if dtype is None or dtype_of(total) == dtype else P.convert_element_type(total, dtype)


def _real_dtype(dtype: Any) -> Any:
    """The dtype of a variance computed in ``dtype`` (a real float; complex gives its real part)."""
    return dtype if dtype is not None and _np.dtype(dtype).kind == "f" else None


def _real_square(c: Any) -> Any:
    """``|c|**2``: ``c * c`` for real ``c``, ``Re(c conj(c))`` for complex (as NumPy's var)."""
    return P.real(P.mul(c, P.conj(c))) if dtype_of(c).kind == "c" else P.mul(c, c)


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,  # noqa: A001
        keepdims: bool = False, initial: Any = _NoValue, where: Any = True) -> Any:
    """Sum over ``axis`` (all axes if ``None``), of the elements selected by the mask
    ``where``, plus ``initial``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.sum(fnp.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
        array([4., 6.])
        >>> ft.grad(lambda x: fnp.sum(x, where=x > 1.5))(np.array([1.0, 2.0, 3.0]))
        array([0., 1., 1.])
    """
    if not _core._active:
        return _np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                       where=where)
    _no_out(out, "sum")
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    a = _masked(a, where, 0, "sum")
    if axis is None:
        total = P.reduce_sum_p.bind(a, axes=None, keepdims=keepdims)
    else:
        axes = _axes(axis, ndim(a))
        total = P.reduce_sum(a, axes, keepdims) if axes or keepdims else a
    total = _as_dtype(total, dtype)
    return total if initial is _NoValue else P.add(total, _initial_like(initial, total))


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, where: Any = True) -> Any:
    """Arithmetic mean over ``axis`` (of the elements selected by the mask ``where``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.mean)(np.array([1.0, 2.0, 3.0, 4.0]))
        array([0.25, 0.25, 0.25, 0.25])
    """
    if not _core._active:
        return _np.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)
    _no_out(out, "mean")
    axes = _axes(axis, ndim(a))
    count = _mask_count(a, where, axes, keepdims, "mean")
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    a = _masked(a, where, 0, "mean")
    total = P.reduce_sum(a, axes, keepdims) if axes or keepdims else a
    if dtype_of(total).kind not in "fc":
        total = P.convert_element_type(total, _np.float64)
    avg = P.div(total, count if isinstance(count, int) else P.convert_element_type(count, dtype_of(total)))
    return _as_dtype(avg, dtype)     # an integer dtype= truncates the mean, as in NumPy


_mean = mean     # for var and std, whose mean= argument hides the function


def _ddof(ddof: Any, correction: Any, name: str) -> Any:
    """NumPy 2's ``correction=``, another name of ``ddof``: giving both is an error, as in NumPy."""
    if correction is _NoValue:
        return ddof
    if ddof != 0:
        raise ValueError(f"{name}: ddof and correction can't be provided simultaneously (correction "
                         f"is another name of ddof), got ddof={ddof!r} and correction={correction!r}")
    return correction


def _centre(a: ArrayLike, given: Any, axes: tuple, dtype: Any, where: Any, nan: bool) -> Any:
    """``a`` minus its mean over ``axes`` (kept as unit axes), or minus the ``mean=`` given
    (NumPy 2's keyword: a precomputed mean of that shape, differentiable too)."""
    if given is not _NoValue:
        return a - given
    return a - (nanmean if nan else _mean)(a, axis=axes, dtype=dtype, keepdims=True, where=where)


def var(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = True, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (real for complex ``a``),
    of the elements selected by the mask ``where``. As in NumPy 2, ``mean`` may give the mean
    (with ``keepdims=True``'s shape) and ``correction`` is another name of ``ddof``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.var)(np.array([1.0, 3.0]))
        array([-1.,  1.])
        >>> fnp.var(np.array([1.0, 3.0]), correction=1), fnp.var(np.array([1.0, 3.0]), mean=0.0)
        (np.float64(2.0), np.float64(5.0))
    """
    if not _core._active:
        if mean is _NoValue and correction is _NoValue:       # (NumPy 2's keywords cost when passed)
            return _np.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
        return _np.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where,
                       mean=mean, correction=correction)
    _no_out(out, "var")
    ddof = _ddof(ddof, correction, "var")
    axes = _axes(axis, ndim(a))
    count = _mask_count(a, where, axes, keepdims, "var")
    centered = _centre(a, mean, axes, dtype, where, False)
    total = sum(_real_square(centered), axis=axes, keepdims=keepdims, where=where)
    total = _as_dtype(total, _real_dtype(dtype))
    if isinstance(count, int):
        return total / builtins.max(count - ddof, 0)
    return total / P.maximum(P.convert_element_type(count, dtype_of(total)) - ddof, 0.0)


def std(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = True, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    """Standard deviation over ``axis``: ``sqrt(var)`` (with :func:`var`'s ``mean`` and ``correction``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.std)(np.array([1.0, 3.0]))
        array([-0.5,  0.5])
    """
    if not _core._active:
        if mean is _NoValue and correction is _NoValue:       # (NumPy 2's keywords cost when passed)
            return _np.std(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
        return _np.std(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where,
                       mean=mean, correction=correction)
    _no_out(out, "std")
    return P.sqrt(var(a, axis=axis, dtype=dtype, ddof=_ddof(ddof, correction, "std"), keepdims=keepdims,
                      where=where, mean=mean))


def _extreme_fill(dtype: Any, sign: int) -> Any:
    """The fill of masked-out elements of a max (``sign`` 1) or min (-1): no element is beyond it."""
    dtype = _np.dtype(dtype)
    if dtype.kind in "iu":
        return _np.iinfo(dtype).min if sign > 0 else _np.iinfo(dtype).max
    return sign < 0 if dtype.kind == "b" else -sign * _np.inf


def _extremum(reduce: Any, sign: int, name: str, a: ArrayLike, axis: Any, keepdims: bool,
              initial: Any, where: Any) -> Any:
    """``reduce`` over ``axis`` of the elements in ``where`` and ``initial``, which takes part
    in ties as one more element (so the derivative is shared as API.md says)."""
    if initial is _NoValue:
        if where is not True:
            raise ValueError(f"{name}: a where= mask needs initial= (the reduction has no "
                             f"identity: what would an empty slice give?), as in NumPy")
        return reduce(a, None if axis is None else _axes(axis, ndim(a)), keepdims)
    a = _masked(a, where, _extreme_fill(dtype_of(a), sign), name)
    axes = _axes(axis, ndim(a))
    shp = tuple(shape_of(a))
    kept = [i for i in range(len(shp)) if i not in axes]
    kept_shape = tuple(shp[i] for i in kept)
    rows = P.reshape(P.transpose(a, tuple(kept) + axes), kept_shape + (-1,))
    column = P.broadcast_to(_initial_like(initial, rows), kept_shape + (1,))
    out = reduce(P.concatenate([rows, column], len(kept)), (len(kept),), False)
    if keepdims:
        out = P.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shp)))
    return out


def max(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = _NoValue, where: Any = True) -> Any:
    """Maximum over ``axis`` of the elements in the mask ``where`` and ``initial``; tied maxima
    (``initial`` among them) share the derivative equally.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.max)(np.array([1.0, 3.0, 3.0]))
        array([0. , 0.5, 0.5])
        >>> ft.grad(lambda x: fnp.max(x, initial=3.0))(np.array([1.0, 3.0]))
        array([0. , 0.5])
    """
    if not _core._active:
        return _np.max(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    _no_out(out, "max")
    return _extremum(P.reduce_max, 1, "max", a, axis, keepdims, initial, where)


def min(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = _NoValue, where: Any = True) -> Any:
    """Minimum over ``axis`` of the elements in the mask ``where`` and ``initial``; tied minima
    share the derivative equally.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.min(np.array([[1.0, 4.0], [3.0, 2.0]]), axis=0)
        array([1., 2.])
    """
    if not _core._active:
        return _np.min(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    _no_out(out, "min")
    return _extremum(P.reduce_min, -1, "min", a, axis, keepdims, initial, where)


amax, amin = max, min


def ptp(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """Range ``max - min`` over ``axis`` (peak to peak).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.ptp)(np.array([1.0, 4.0, 2.0]))
        array([-1.,  1.,  0.])
    """
    if not _core._active:
        return _np.ptp(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "ptp")
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, initial: Any = _NoValue, where: Any = True) -> Any:
    """Product over ``axis`` of the elements in the mask ``where``, times ``initial``; exact
    derivatives even where elements are zero.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.prod)(np.array([2.0, 3.0, 4.0]))
        array([12.,  8.,  6.])
    """
    if not _core._active:
        return _np.prod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                        where=where)
    _no_out(out, "prod")
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    a = _masked(a, where, 1, "prod")
    total = _as_dtype(P.reduce_prod(a, _axes(axis, ndim(a)), keepdims), dtype)
    return total if initial is _NoValue else P.mul(total, _initial_like(initial, total))


def _argreduce(impl: Any, a: ArrayLike, axis: int | None, keepdims: bool) -> Any:
    if axis is not None:
        axis = normalize_axis(axis, ndim(a))
    return P.argreduce_p.bind(a, axis=axis, keepdims=keepdims, impl=impl)


def argmax(a: ArrayLike, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """Index of the (first) maximum along ``axis`` (of the flattened array if ``None``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.argmax(np.array([[1.0, 4.0], [3.0, 2.0]]), axis=1)
        array([1, 0])
    """
    if not _core._active:
        return _np.argmax(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "argmax")
    return _argreduce(_np.argmax, a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """Index of the (first) minimum along ``axis`` (of the flattened array if ``None``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.vmap(fnp.argmin)(np.array([[1.0, 4.0], [3.0, 2.0]]))
        array([0, 1])
    """
    if not _core._active:
        return _np.argmin(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "argmin")
    return _argreduce(_np.argmin, a, axis, keepdims)


def all(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, *,  # noqa: A001
        where: Any = True) -> Any:
    """Whether every element (along ``axis``, in the mask ``where``) is true; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.all(np.array([[True, False], [True, True]]), axis=1)
        array([False,  True])
    """
    if not _core._active:
        return _np.all(a, axis=axis, out=out, keepdims=keepdims, where=where)
    _no_out(out, "all")
    # As a count of false elements: an empty slice is all true (min/max have no identity).
    false = P.logical_not(_masked(P.ne(a, 0), where, True, "all"))
    return P.eq(P.reduce_sum(false, _axes(axis, ndim(a)), keepdims), 0)


def any(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False, *,  # noqa: A001
        where: Any = True) -> Any:
    """Whether some element (along ``axis``, in the mask ``where``) is true; boolean, no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.any(np.array([[0.0, 0.0], [0.0, 2.0]]), axis=1)
        array([False,  True])
    """
    if not _core._active:
        return _np.any(a, axis=axis, out=out, keepdims=keepdims, where=where)
    _no_out(out, "any")
    return P.gt(P.reduce_sum(_masked(P.ne(a, 0), where, False, "any"), _axes(axis, ndim(a)), keepdims), 0)


def _cumulative(prim_fun: Any, a: ArrayLike, axis: int | None, dtype: Any) -> Any:
    if dtype is not None:
        a = P.convert_element_type(a, dtype)
    if axis is None:
        a, axis = P.reshape(a, (-1,)), 0
    return _as_dtype(prim_fun(a, normalize_axis(axis, ndim(a))), dtype)


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative sum along ``axis`` (of the flattened array if ``None``).

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.cumsum(fnp.array([1.0, 2.0, 3.0]))
        array([1., 3., 6.])
    """
    if not _core._active:
        return _np.cumsum(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "cumsum")
    return _cumulative(P.cumsum, a, axis, dtype)


def cumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative product along ``axis``; derivatives exact where elements are zero.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda x: fnp.cumprod(x)[-1])(fnp.array([2.0, 0.0, 3.0]))
        array([0., 6., 0.])
    """
    if not _core._active:
        return _np.cumprod(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "cumprod")
    return _cumulative(P.cumprod, a, axis, dtype)


def average(a: ArrayLike, axis: Any = None, weights: ArrayLike = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean over ``axis``; with ``returned``, also the sum of the weights.

    1-D ``weights`` along a single ``axis`` are allowed, as in NumPy.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.average(a, weights=np.array([1.0, 3.0])))(np.array([1.0, 2.0]))
        array([0.25, 0.75])
    """
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.average(  # type: ignore[call-overload]
            a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)
    nd = ndim(a)
    axes = _axes(axis, nd)
    if weights is None:
        avg = mean(a, axis=axes, keepdims=keepdims)
        scale = _count(a, axes)
    else:
        w = weights if isinstance(weights, Tracer) else _np.asarray(weights)
        if tuple(shape_of(w)) != tuple(shape_of(a)):
            if axis is None or not isinstance(axis, (int, _np.integer)):
                raise TypeError("average: axis must be an int when the shapes of a and weights "
                                f"differ, got axis={axis!r}")
            if ndim(w) != 1 or shape_of(w)[0] != shape_of(a)[axes[0]]:
                raise ValueError(f"average: 1-D weights must have the length of a along axis "
                                 f"{axis}; got weights of shape {tuple(shape_of(w))} for a of shape "
                                 f"{tuple(shape_of(a))}")
            w = P.reshape(w, tuple(-1 if i == axes[0] else 1 for i in range(nd)))
        dtype = _np.result_type(dtype_of(a), dtype_of(w))
        if dtype.kind not in "fc":
            dtype = _np.result_type(dtype, _np.float64)
        scale = sum(P.broadcast_to(P.convert_element_type(w, dtype), tuple(shape_of(a))),
                    axis=axes, keepdims=keepdims)
        avg = sum(P.mul(a, w), axis=axes, keepdims=keepdims) / scale
        avg = P.convert_element_type(avg, dtype) if dtype_of(avg) != dtype else avg
    if not returned:
        return avg
    return avg, P.broadcast_to(P.convert_element_type(scale, dtype_of(avg)), tuple(shape_of(avg)))


# ---- ignoring NaN --------------------------------------------------------------------------

def _nan_filled(a: ArrayLike, fill: float) -> Any:
    return P.where(P.isnan(a), fill, a) if dtype_of(a).kind in "fc" else a


def nansum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False, initial: Any = _NoValue, where: Any = True) -> Any:
    """Sum treating NaN as zero (of the elements in the mask ``where``, plus ``initial``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nansum)(np.array([1.0, np.nan, 3.0]))
        array([1., 0., 1.])
        >>> fnp.nansum(np.array([1.0, np.nan, 3.0]), where=np.array([False, True, True]))
        np.float64(3.0)
    """
    if not _core._active:
        return _np.nansum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                          where=where)
    _no_out(out, "nansum")
    return sum(_nan_filled(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
               where=where)


def nanprod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False, initial: Any = _NoValue, where: Any = True) -> Any:
    """Product treating NaN as one (of the elements in the mask ``where``, times ``initial``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nanprod)(np.array([2.0, np.nan, 3.0]))
        array([3., 0., 2.])
    """
    if not _core._active:
        return _np.nanprod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                           where=where)
    _no_out(out, "nanprod")
    return prod(_nan_filled(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
                where=where)


def _nan_count(a: ArrayLike, axes: tuple, keepdims: bool, where: Any, name: str) -> Any:
    """How many non-NaN elements in the mask ``where`` each reduced slice has."""
    return P.reduce_sum(_masked(P.logical_not(P.isnan(a)), where, False, name), axes, keepdims)


def nanmean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False, *, where: Any = True) -> Any:
    """Mean of the non-NaN elements in the mask ``where`` (NaN for a slice without any).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nanmean)(np.array([1.0, np.nan, 3.0]))
        array([0.5, 0. , 0.5])
    """
    if not _core._active:
        return _np.nanmean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)
    _no_out(out, "nanmean")
    if dtype_of(a).kind not in "fc":
        return mean(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    axes = _axes(axis, ndim(a))
    total = nansum(a, axis=axes, dtype=dtype, keepdims=keepdims, where=where)
    return total / P.convert_element_type(_nan_count(a, axes, keepdims, where, "nanmean"), dtype_of(total))


def nanvar(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = True, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    """Variance of the non-NaN elements in the mask ``where`` (``mean`` and ``correction`` as
    in :func:`var`).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nanvar)(np.array([1.0, np.nan, 3.0]))
        array([-1.,  0.,  1.])
    """
    if not _core._active:
        if mean is _NoValue and correction is _NoValue:       # (NumPy 2's keywords cost when passed)
            return _np.nanvar(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
        return _np.nanvar(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where,
                          mean=mean, correction=correction)
    _no_out(out, "nanvar")
    ddof = _ddof(ddof, correction, "nanvar")
    if dtype_of(a).kind not in "fc":
        return var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where, mean=mean)
    axes = _axes(axis, ndim(a))
    centered = _nan_filled(_centre(a, mean, axes, dtype, where, True), 0.0)
    total = sum(_real_square(centered), axis=axes, keepdims=keepdims, where=where)
    total = _as_dtype(total, _real_dtype(dtype))
    dof = P.convert_element_type(_nan_count(a, axes, keepdims, where, "nanvar"), dtype_of(total)) - ddof
    # NumPy: NaN without a degree of freedom
    return P.where(dof > 0, total / P.where(dof > 0, dof, 1.0), _np.nan)


def nanstd(a: ArrayLike, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = True, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    """Standard deviation of the non-NaN elements: ``sqrt(nanvar)``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nanstd(np.array([1.0, np.nan, 3.0]))
        np.float64(1.0)
    """
    if not _core._active:
        if mean is _NoValue and correction is _NoValue:       # (NumPy 2's keywords cost when passed)
            return _np.nanstd(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where)
        return _np.nanstd(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where,
                          mean=mean, correction=correction)
    _no_out(out, "nanstd")
    return P.sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=_ddof(ddof, correction, "nanstd"),
                         keepdims=keepdims, where=where, mean=mean))


def _nan_extremum(reduce: Any, sign: int, name: str, a: ArrayLike, axis: Any, keepdims: bool,
                  initial: Any, where: Any) -> Any:
    """The extremum ignoring NaN: NaN for a slice with nothing else, unless ``initial`` is
    given (then that slice gives ``initial``, as NumPy's ``fmax.reduce``)."""
    if dtype_of(a).kind not in "fc":
        return _extremum(reduce, sign, name, a, axis, keepdims, initial, where)
    nans = P.isnan(a)
    m = _extremum(reduce, sign, name, P.where(nans, -sign * _np.inf, a), axis, keepdims, initial, where)
    if initial is not _NoValue:
        return m
    return P.where(P.reduce_min(nans, _axes(axis, ndim(a)), keepdims), _np.nan, m)


def nanmax(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = _NoValue, where: Any = True) -> Any:
    """Maximum ignoring NaN (NaN for an all-NaN slice) of the elements in the mask ``where``
    and ``initial``; ties share the derivative.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nanmax)(np.array([1.0, np.nan, 3.0]))
        array([0., 0., 1.])
    """
    if not _core._active:
        return _np.nanmax(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    _no_out(out, "nanmax")
    return _nan_extremum(P.reduce_max, 1, "nanmax", a, axis, keepdims, initial, where)


def nanmin(a: ArrayLike, axis: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = _NoValue, where: Any = True) -> Any:
    """Minimum ignoring NaN (NaN for an all-NaN slice) of the elements in the mask ``where``
    and ``initial``; ties share the derivative.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.nanmin)(np.array([1.0, np.nan, 3.0]))
        array([1., 0., 0.])
    """
    if not _core._active:
        return _np.nanmin(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    _no_out(out, "nanmin")
    return _nan_extremum(P.reduce_min, -1, "nanmin", a, axis, keepdims, initial, where)


def nanargmax(a: ArrayLike, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """Index of the maximum ignoring NaN.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nanargmax(np.array([np.nan, 1.0, 3.0]))
        np.int64(2)
    """
    if not _core._active:
        return _np.nanargmax(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "nanargmax")
    return argmax(_nan_filled(a, -_np.inf), axis, keepdims=keepdims)


def nanargmin(a: ArrayLike, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """Index of the minimum ignoring NaN.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nanargmin(np.array([np.nan, 1.0, 3.0]))
        np.int64(1)
    """
    if not _core._active:
        return _np.nanargmin(a, axis=axis, out=out, keepdims=keepdims)
    _no_out(out, "nanargmin")
    return argmin(_nan_filled(a, _np.inf), axis, keepdims=keepdims)


def nancumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative sum treating NaN as zero.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nancumsum(np.array([1.0, np.nan, 2.0]))
        array([1., 1., 3.])
    """
    if not _core._active:
        return _np.nancumsum(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "nancumsum")
    return cumsum(_nan_filled(a, 0.0), axis, dtype)


def nancumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: Any = None) -> Any:
    """Cumulative product treating NaN as one.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nancumprod(np.array([2.0, np.nan, 3.0]))
        array([2., 2., 6.])
    """
    if not _core._active:
        return _np.nancumprod(a, axis=axis, dtype=dtype, out=out)
    _no_out(out, "nancumprod")
    return cumprod(_nan_filled(a, 1.0), axis, dtype)


# ---- order statistics ----------------------------------------------------------------------
# Sorting is an index permutation (argsort, no derivative) followed by a gather, which
# carries the derivative.

def _take_last(x: Any, idx: Any) -> Any:
    """``x`` gathered along its last axis at ``idx`` (of shape ``x.shape[:-1] + (k,)``)."""
    lead = shape_of(x)[:-1]
    grids = [_np.arange(n).reshape((n,) + (1,) * (len(lead) - k)) for k, n in enumerate(lead)]
    if isinstance(idx, Tracer):
        return P.getitem(x, tuple(grids) + (P.DYNAMIC,), [idx])
    return P.getitem(x, tuple(grids) + (idx,))


def _sorted_last(x: Any) -> Any:
    """``x`` sorted along its last axis (NaN last, as NumPy sorts)."""
    return _take_last(x, P.argsort_p.bind(x, axis=-1, kind="stable"))


def _quantile(name: str, a: ArrayLike, q: ArrayLike, axis: Any, method: str, keepdims: bool,
              skip_nan: bool, top: float = 1.0) -> Any:
    """The quantiles ``q / top`` over ``axis`` (linear interpolation between order statistics);
    with ``skip_nan``, of the non-NaN elements of each slice (NaN last after sorting, so the
    order statistics of the first ``count`` elements, a count that differs between slices).
    Otherwise a slice holding NaN gives NaN, as in NumPy."""
    if method != "linear":
        raise ValueError(f"{name}: only method='linear' is supported on traced values, got "
                         f"method={method!r}")
    # A traced q carries a derivative (through the interpolation weight); under vmap it may
    # have no single concrete value, so its range is then checked per example (NaN outside).
    traced_q = isinstance(q, Tracer)
    try:
        qs: Any = _np.asarray(concrete_value(q), dtype=_np.float64)
    except ConcretizationError:
        qs = None
    if qs is not None and _np.any((qs < 0) | (qs > top)):
        raise ValueError(f"{name}: q must be in [0, {top:g}], got {q!r}")
    # a Python number q is weak (NEP 50), as in NumPy
    q_dtype = q if isinstance(q, (int, float, _np.generic)) else dtype_of(q) if traced_q else qs.dtype
    out_dtype = _np.result_type(dtype_of(a), q_dtype)
    if out_dtype.kind not in "fc":
        out_dtype = _np.result_type(out_dtype, _np.float64)
    if traced_q:
        q_shape = tuple(shape_of(q))
        qv = P.convert_element_type(q, _np.float64) if dtype_of(q) != _np.float64 else q
        qv = P.div(qv, top) if top != 1.0 else qv
        if qs is None:   # batched: gather in range (those results become NaN below)
            outside = P.logical_or(P.lt(qv, 0.0), P.gt(qv, 1.0))
            qv = P.where(outside, 0.0, qv)
    else:
        q_shape = qs.shape
        qv = qs = qs / top if top != 1.0 else qs
    shp = tuple(shape_of(a))
    axes = _axes(axis, len(shp))
    kept = [i for i in range(len(shp)) if i not in axes]
    kept_shape = tuple(shp[i] for i in kept)
    n, nq = _count(a, axes), len(q_shape)
    x = P.reshape(P.transpose(a, tuple(kept) + axes), kept_shape + (n,))
    if n == 0:         # an empty slice's quantile is NaN, as in NumPy
        x, n = _np.full(kept_shape + (1,), _np.nan, out_dtype), 1
    s = _sorted_last(P.convert_element_type(x, out_dtype) if dtype_of(x) != out_dtype else x)
    if skip_nan or traced_q:   # indices from traced values (no derivative), per slice
        if skip_nan:   # from each slice's count of non-NaN elements
            valid = P.reduce_sum(P.logical_not(P.isnan(s)), (len(kept),), True)
            last = P.convert_element_type(P.reshape(P.maximum(valid, 1) - 1, kept_shape + (1,) * nq),
                                          _np.float64)
        else:
            last = _np.full(kept_shape + (1,) * nq, n - 1, _np.float64)
        index = P.mul(last, qv)
        floor = P.floor(index)
        below = P.convert_element_type(floor, _np.intp)
        above = P.minimum(below + 1, P.convert_element_type(last, _np.intp))
        gamma = P.convert_element_type(P.sub(index, floor), out_dtype)
        flat = kept_shape + (-1,)
        lo, hi = (P.reshape(_take_last(s, P.reshape(i, flat)), kept_shape + q_shape)
                  for i in (below, above))
    else:
        index = qs * (n - 1)
        below = _np.floor(index).astype(_np.intp)
        above = _np.minimum(below + 1, n - 1)
        gamma = _np.asarray(index - below, dtype=out_dtype)
        lead = (slice(None),) * len(kept)
        lo, hi = P.getitem(s, lead + (below,)), P.getitem(s, lead + (above,))
    # NumPy's lerp: from whichever end is nearer, so q = 1 gives the maximum exactly.
    diff = hi - lo
    res = P.where(gamma >= 0.5, hi - diff * (1 - gamma), lo + diff * gamma)
    if skip_nan:       # a slice of NaN only: NaN (its sorted first element)
        res = P.where(P.reshape(P.eq(valid, 0), kept_shape + (1,) * nq), _np.nan, res)
    else:
        has_nan = P.reduce_max(P.isnan(s), (len(kept),))
        res = P.where(P.reshape(has_nan, tuple(shape_of(has_nan)) + (1,) * nq), _np.nan, res)
    if qs is None:     # q batched by vmap: NaN where it is out of range
        res = P.where(outside, _np.nan, res)
    # (kept..., *q.shape) -> (*q.shape, kept...), with unit axes for keepdims
    res = P.transpose(res, tuple(range(len(kept), len(kept) + nq)) + tuple(range(len(kept))))
    if keepdims:
        res = P.reshape(res, q_shape + tuple(1 if i in axes else d for i, d in enumerate(shp)))
    return res


def quantile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: Any = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False) -> Any:
    """The ``q``-th quantiles over ``axis`` by linear interpolation between order statistics
    (NumPy's default method). The derivative flows to the two neighbouring elements.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.quantile(fnp.array([4.0, 1.0, 3.0, 2.0]), [0.0, 0.5, 0.9])
        array([1. , 2.5, 3.7])
    """
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.quantile(  # type: ignore[call-overload]
            a, q, axis=axis, out=out, overwrite_input=overwrite_input,
            method=method, keepdims=keepdims)
    _no_out(out, "quantile")
    return _quantile("quantile", a, q, axis, method, keepdims, False)


def percentile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: Any = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False) -> Any:
    """The ``q``-th percentiles (``q`` in [0, 100]): :func:`quantile` of ``q / 100``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.percentile(a, 50.0))(np.array([1.0, 2.0, 3.0, 4.0]))
        array([0. , 0.5, 0.5, 0. ])
    """
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.percentile(  # type: ignore[call-overload]
            a, q, axis=axis, out=out, overwrite_input=overwrite_input,
            method=method, keepdims=keepdims)
    _no_out(out, "percentile")
    return _quantile("percentile", a, q, axis, method, keepdims, False, 100.0)


def median(a: ArrayLike, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """The median over ``axis`` (the mean of the two middle elements of an even count).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.median(np.array([3.0, 1.0, 2.0])), ft.grad(fnp.median)(np.array([3.0, 1.0, 2.0]))
        (np.float64(2.0), array([0., 0., 1.]))
    """
    if not _core._active:
        return _np.median(a, axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    _no_out(out, "median")
    return _quantile("median", a, 0.5, axis, "linear", keepdims, False)


def nanquantile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False) -> Any:
    """:func:`quantile` of the non-NaN elements of each slice (NaN for a slice of NaN only);
    NaN elements get no derivative.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([[4.0, np.nan, 1.0], [2.0, 3.0, 5.0]])
        >>> fnp.nanquantile(x, 0.5, axis=1)
        array([2.5, 3. ])
        >>> ft.grad(lambda x: fnp.nanquantile(x, 0.25))(np.array([4.0, np.nan, 1.0]))
        array([0.25, 0.  , 0.75])
    """
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.nanquantile(  # type: ignore[call-overload]
            a, q, axis=axis, out=out, overwrite_input=overwrite_input,
            method=method, keepdims=keepdims)
    _no_out(out, "nanquantile")
    return _quantile("nanquantile", a, q, axis, method, keepdims, True)


def nanpercentile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear", keepdims: bool = False) -> Any:
    """The ``q``-th percentiles (``q`` in [0, 100]) of the non-NaN elements: :func:`nanquantile`
    of ``q / 100``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nanpercentile(np.array([4.0, np.nan, 1.0]), [0.0, 50.0])
        array([1. , 2.5])
    """
    if not _core._active:
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.nanpercentile(  # type: ignore[call-overload]
            a, q, axis=axis, out=out, overwrite_input=overwrite_input,
            method=method, keepdims=keepdims)
    _no_out(out, "nanpercentile")
    return _quantile("nanpercentile", a, q, axis, method, keepdims, True, 100.0)


def nanmedian(a: ArrayLike, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """The median of the non-NaN elements over ``axis`` (NaN for a slice of NaN only).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([3.0, np.nan, 1.0, 2.0])
        >>> fnp.nanmedian(x), ft.grad(fnp.nanmedian)(x)
        (np.float64(2.0), array([0., 0., 0., 1.]))
    """
    if not _core._active:
        return _np.nanmedian(a, axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    _no_out(out, "nanmedian")
    return _quantile("nanmedian", a, 0.5, axis, "linear", keepdims, True)


__all__ = ["ndim", "shape", "size", "normalize_axis", "sum", "mean", "var", "std", "max", "min",
           "amax", "amin", "ptp", "prod", "argmax", "argmin", "all", "any",
           "cumsum", "cumprod", "average", "nansum", "nanprod", "nanmean", "nanvar", "nanstd",
           "nanmax", "nanmin", "nanargmax", "nanargmin", "nancumsum", "nancumprod", "quantile",
           "percentile", "median", "nanquantile", "nanpercentile", "nanmedian"]
