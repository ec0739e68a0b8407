"""Shapes and selection under NumPy's names and signatures (re-exported by functrans.numpy).

Everything here is composed from a few primitives: reshape, transpose, broadcast_to,
concatenate, getitem (gathers with index arrays) and scatter, so each function is exactly
differentiable and batchable through them. Where a layout is irregular (pad, repeat, insert,
delete, roll), NumPy itself computes the index array from the shape alone, which makes the
layout NumPy's by construction. Each function calls NumPy directly when no transform is running
(``if not _core._active``, first thing in its body): the eval fast path (NumPy's stubs take
its flags only as literals, not variables, hence the ``type: ignore`` there).
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Sequence

from numpy import _NoValue  # NumPy's "not given" default of prepend=/append=

from . import _np

from .. import core as _core
from .. import primitives as P
from ..core import Tracer, dtype_of, shape_of
from . import ArrayLike, _IndexUpdate, _axes, _concrete, getitem, matmul, ndim, normalize_axis, sum, where


def _along(axis: int, index: Any) -> tuple:
    """The index that applies ``index`` to axis ``axis`` (all earlier axes kept whole)."""
    return (slice(None),) * axis + (index,)


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{name}: `out` is not supported on traced values (they are immutable); "
                        f"use the returned array")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, _np.integer)) and not isinstance(x, (bool, _np.bool_))


# ---------------------------------------------------------------------------------------
# Reshaping and axes.

def reshape(a: ArrayLike, newshape: Any, order: str = "C") -> Any:
    """``a`` with a new ``shape`` (row-major, or column-major with ``order='F'``); the gradient is reshaped
    back.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> w = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> ft.grad(lambda a: fnp.sum(fnp.reshape(a, (2, 2)) * w))(np.zeros(4))
        array([1., 2., 3., 4.])
    """
    if not _core._active:                      # eval fast path: nothing can be traced
        # NumPy's stubs take these flags only as literals, not variables.
        return _np.reshape(a, newshape, order=order)  # type: ignore[call-overload]
    if order not in ("C", "F"):
        raise ValueError(f"reshape: only order='C' or 'F' is supported for traced values, got "
                         f"order={order!r}; pass one of them explicitly")
    if _is_int(newshape):
        newshape = (int(newshape),)
    if order == "F":            # Fortran order: C order of the reversed axes
        return transpose(P.reshape(transpose(a), tuple(int(d) for d in reversed(newshape))))
    return P.reshape(a, tuple(int(d) for d in newshape))


def ravel(a: ArrayLike, order: str = "C") -> Any:
    """The elements of ``a`` as a 1-D array (row-major).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.ravel(np.array([[1.0, 2.0], [3.0, 4.0]]), order="F")
        array([1., 3., 2., 4.])
    """
    if not _core._active:
        return _np.ravel(a, order)  # type: ignore[call-overload]
    return reshape(a, (-1,), order=order)


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """``a`` with its axes permuted (reversed if ``axes`` is None); under ``vmap``, the axes of each example.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.transpose(np.ones((2, 3, 4))).shape, ft.vmap(fnp.transpose)(np.ones((5, 2, 3))).shape
        ((4, 3, 2), (5, 3, 2))
    """
    if not _core._active:                      # eval fast path: nothing can be traced
        return _np.transpose(a, axes)
    n = ndim(a)
    perm = tuple(reversed(range(n))) if axes is None else tuple(normalize_axis(i, n, "axes") for i in axes)
    if sorted(perm) != list(range(n)):
        raise ValueError(f"transpose: axes must be a permutation of range({n}), got {axes}")
    return P.transpose(a, perm)


def moveaxis(a: ArrayLike, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """Move axes ``source`` to positions ``destination`` (ints or sequences of ints).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.moveaxis(np.ones((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    if not _core._active:
        return _np.moveaxis(a, source, destination)
    n = ndim(a)
    src: list = [source] if _is_int(source) else list(source)  # type: ignore[arg-type]
    dst: list = [destination] if _is_int(destination) else list(destination)  # type: ignore[arg-type]
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: `source` and `destination` must have the same number of "
                         f"elements, got {len(src)} and {len(dst)}")
    src = [normalize_axis(s, n, "source") for s in src]
    dst = [normalize_axis(d, n, "destination") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in `source` {src} or `destination` {dst}")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return P.transpose(a, tuple(order))


def rollaxis(a: ArrayLike, axis: int, start: int = 0) -> Any:
    """NumPy's older ``moveaxis``: axis ``axis`` goes to just before position ``start``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.rollaxis(np.ones((2, 3, 4)), 2).shape
        (4, 2, 3)
    """
    if not _core._active:
        return _np.rollaxis(a, axis, start)
    n = ndim(a)
    axis = normalize_axis(axis, n)
    if not -n <= start <= n:
        raise ValueError(f"rollaxis: start {start} must satisfy -{n} <= start <= {n}")
    start = start + n if start < 0 else start
    start -= axis < start
    return moveaxis(a, axis, start)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    """``a`` with ``axis1`` and ``axis2`` exchanged.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.swapaxes(np.ones((2, 3, 4)), 0, 2).shape
        (4, 3, 2)
    """
    if not _core._active:
        return _np.swapaxes(a, axis1, axis2)
    n = ndim(a)
    perm = list(range(n))
    i, j = normalize_axis(axis1, n, "axis1"), normalize_axis(axis2, n, "axis2")
    perm[i], perm[j] = j, i
    return P.transpose(a, tuple(perm))


def broadcast_to(a: ArrayLike, shape: Any) -> Any:
    """``array`` broadcast to ``shape``; the gradient sums over the broadcast axes.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.broadcast_to(a, (4, 2))))(np.ones(2))
        array([4., 4.])
    """
    if not _core._active:                      # eval fast path: nothing can be traced
        return _np.broadcast_to(a, shape)
    shape = (shape,) if _is_int(shape) else tuple(shape)
    _np.broadcast_shapes(shape_of(a), shape)  # raises NumPy's error for incompatible shapes
    return P.broadcast_to(a, shape)


def broadcast_arrays(*args: ArrayLike) -> tuple:
    """The arguments broadcast to one shape; the gradient of each is summed back to its own shape.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.broadcast_arrays(a, np.ones((2, 3)))[0]))(np.ones(3))
        array([2., 2., 2.])
    """
    if not _core._active:
        return _np.broadcast_arrays(*args)
    shape = _np.broadcast_shapes(*(shape_of(a) for a in args))
    return tuple(P.broadcast_to(a, shape) for a in args)


def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Any:
    """``a`` with new axes of size 1 at the positions ``axis``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.expand_dims(np.ones((2, 3)), (0, 3)).shape
        (1, 2, 3, 1)
    """
    if not _core._active:
        return _np.expand_dims(a, axis)
    given: tuple = (axis,) if _is_int(axis) else tuple(axis)  # type: ignore[arg-type]
    n = ndim(a) + len(given)
    axes = sorted(normalize_axis(ax, n) for ax in given)
    shp = list(shape_of(a))
    for ax in axes:
        shp.insert(ax, 1)
    return P.reshape(a, tuple(shp))


def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    """``a`` without its axes of size 1 (or only the named ``axis``); under ``vmap`` the batch axis is never
    squeezed.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.squeeze(np.ones((1, 3, 1))).shape, ft.vmap(fnp.squeeze)(np.ones((2, 1, 3))).shape
        ((3,), (2, 3))
    """
    if not _core._active:
        return _np.squeeze(a, axis)
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


def _atleast(rank: int, arys: tuple, layout: Callable[[tuple], tuple]) -> Any:
    out = [a if ndim(a) >= rank else P.reshape(a, layout(tuple(shape_of(a)))) for a in arys]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: ArrayLike) -> Any:
    """Each argument with at least one axis (a scalar becomes shape ``(1,)``).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.atleast_1d(2.0), fnp.atleast_1d(np.ones((2, 2))).shape
        (array([2.]), (2, 2))
    """
    if not _core._active:
        return _np.atleast_1d(*arys)
    return _atleast(1, arys, lambda s: (1,))


def atleast_2d(*arys: ArrayLike) -> Any:
    """Each argument with at least two axes (new ones in front).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.atleast_2d(np.array([1.0, 2.0]))
        array([[1., 2.]])
    """
    if not _core._active:
        return _np.atleast_2d(*arys)
    return _atleast(2, arys, lambda s: (1,) + (s or (1,)))


def atleast_3d(*arys: ArrayLike) -> Any:
    """0-d becomes (1, 1, 1), (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1), as in NumPy.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.atleast_3d(np.array([1.0, 2.0])).shape
        (1, 2, 1)
    """
    if not _core._active:
        return _np.atleast_3d(*arys)
    return _atleast(3, arys, lambda s: (1, 1, 1) if not s else ((1,) + s + (1,) if len(s) == 1 else s + (1,)))


# ---------------------------------------------------------------------------------------
# Joining and splitting.

def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0, out: Any = None, *,
                dtype: Any = None, casting: str = "same_kind") -> Any:
    """Join arrays along an existing axis (``axis=None`` flattens them first), converted to
    ``dtype`` if given (under NumPy's ``casting`` rule).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.concatenate([a, a]) * np.arange(4.0)))(np.ones(2))
        array([2., 4.])
    """
    if not _core._active:                      # eval fast path: nothing can be traced
        if dtype is None and out is None and casting == "same_kind":
            return _np.concatenate(arrays, axis)
        # NumPy's stubs take casting only as a literal, not a str variable.
        return _np.concatenate(arrays, axis, out, dtype=dtype, casting=casting)  # type: ignore[call-overload]
    _no_out("concatenate", out)
    arrays = list(arrays) if dtype is None else _cast_all(arrays, dtype, casting, "concatenate")
    if axis is None:
        arrays, axis = [ravel(x) for x in arrays], 0
    if len(arrays) == 1:
        return arrays[0]
    return P.concatenate(arrays, normalize_axis(axis, ndim(arrays[0])))


def stack(arrays: Sequence[ArrayLike], axis: int = 0, out: Any = None, *, dtype: Any = None,
          casting: str = "same_kind") -> Any:
    """Join arrays along a new axis (converted to ``dtype`` if given, as in :func:`concatenate`).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.stack([np.ones(2), np.zeros(2)], axis=1)
        array([[1., 0.],
               [1., 0.]])
    """
    if not _core._active:
        if dtype is None and out is None and casting == "same_kind":
            return _np.stack(arrays, axis)
        # NumPy's stubs take casting only as a literal, not a str variable.
        return _np.stack(arrays, axis, out, dtype=dtype, casting=casting)  # type: ignore[call-overload]
    arrays = list(arrays) if dtype is None else _cast_all(arrays, dtype, casting, "stack")
    shapes = {tuple(shape_of(x)) for x in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}")
    axis = normalize_axis(axis, ndim(arrays[0]) + 1)
    return concatenate([expand_dims(x, axis) for x in arrays], axis, out)


def _cast_all(arrays: Sequence[ArrayLike], dtype: Any, casting: str, name: str) -> list:
    """The arrays converted to ``dtype``, which NumPy's ``casting`` rule must allow."""
    arrays = [x if isinstance(x, Tracer) else _np.asarray(x) for x in arrays]
    common = _np.result_type(*[dtype_of(x) for x in arrays])
    if not _np.can_cast(common, dtype, casting):  # type: ignore[arg-type]
        raise TypeError(f"{name}: cannot cast array data from {common} to {_np.dtype(dtype)} "
                        f"according to the rule {casting!r}")
    return [P.convert_element_type(x, dtype) for x in arrays]


def hstack(arrays: Sequence[ArrayLike]) -> Any:
    """Arrays joined along their second axis (the first for 1-d arrays).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.jacfwd(lambda a: fnp.hstack([a, 2.0 * a]))(np.ones(1))
        array([[1.],
               [2.]])
    """
    if not _core._active:
        return _np.hstack(arrays)
    arrays = [atleast_1d(x) for x in arrays]
    return concatenate(arrays, 0 if ndim(arrays[0]) == 1 else 1)


def vstack(arrays: Sequence[ArrayLike]) -> Any:
    """Arrays joined along their first axis (1-d arrays become rows).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.vstack([np.ones(2), np.zeros(2)])
        array([[1., 1.],
               [0., 0.]])
    """
    if not _core._active:
        return _np.vstack(arrays)
    return concatenate([atleast_2d(x) for x in arrays], 0)


def dstack(arrays: Sequence[ArrayLike]) -> Any:
    """Arrays joined along a third axis (made at least 3-d first).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.dstack([np.ones(2), np.zeros(2)]).shape
        (1, 2, 2)
    """
    if not _core._active:
        return _np.dstack(arrays)
    return concatenate([atleast_3d(x) for x in arrays], 2)


def column_stack(arrays: Sequence[ArrayLike]) -> Any:
    """1-D arrays become columns; 2-D arrays are joined along their second axis.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.column_stack([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
        array([[1., 3.],
               [2., 4.]])
    """
    if not _core._active:
        return _np.column_stack(arrays)
    return concatenate([P.reshape(x, (-1, 1)) if ndim(x) < 2 else x for x in arrays], 1)


def append(arr: ArrayLike, values: ArrayLike, axis: int | None = None) -> Any:
    """``values`` joined after ``arr`` (both flattened if ``axis`` is None).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.append(a, a) * np.arange(4.0)))(np.ones(2))
        array([2., 4.])
    """
    if not _core._active:
        return _np.append(arr, values, axis)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


def array_split(ary: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into ``indices_or_sections`` parts (the first ones one longer if uneven) or at
    the given indices.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> [s.shape for s in fnp.array_split(np.ones(5), 2)]
        [(3,), (2,)]
    """
    if not _core._active:
        return _np.array_split(ary, indices_or_sections, axis)
    axis = normalize_axis(axis, ndim(ary))
    length = shape_of(ary)[axis]
    if _is_int(indices_or_sections):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"array_split: the number of sections must be larger than 0, got {sections}")
        each, extra = divmod(length, sections)
        bounds = [0] + list(_np.cumsum([each + 1] * extra + [each] * (sections - extra)))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [length]
    return [P.getitem(ary, _along(axis, slice(lo, hi))) for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(ary: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into equal parts (``indices_or_sections`` must divide the axis) or at indices.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.split(a, 2)[1]))(np.ones(4))
        array([0., 0., 1., 1.])
    """
    if not _core._active:
        return _np.split(ary, indices_or_sections, axis)
    if _is_int(indices_or_sections):
        length = shape_of(ary)[normalize_axis(axis, ndim(ary))]
        if int(indices_or_sections) <= 0 or length % int(indices_or_sections):
            raise ValueError(f"split: array split does not result in an equal division "
                             f"({length} into {indices_or_sections} sections)")
    return array_split(ary, indices_or_sections, axis)


def _split_along(name: str, min_ndim: int, axis_of: Callable[[int], int],
                 example: str) -> Callable[..., list]:
    def f(ary: ArrayLike, indices_or_sections: Any) -> list:
        if ndim(ary) < min_ndim:
            raise ValueError(f"{name} only works on arrays of {min_ndim} or more dimensions, "
                             f"got {ndim(ary)}")
        return split(ary, indices_or_sections, axis_of(ndim(ary)))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"NumPy's ``{name}``: ``split`` along axis {axis_of(min_ndim + 1)} (see NumPy).\n\n"
                 f"Example:\n    >>> import numpy as np, functrans.numpy as fnp\n    {example}\n")
    return f


hsplit = _split_along("hsplit", 1, lambda n: 1 if n > 1 else 0, """\
>>> [s.shape for s in fnp.hsplit(np.ones((2, 4)), 2)]
    [(2, 2), (2, 2)]""")
vsplit = _split_along("vsplit", 2, lambda n: 0, """\
>>> [s.shape for s in fnp.vsplit(np.ones((4, 2)), 2)]
    [(2, 2), (2, 2)]""")
dsplit = _split_along("dsplit", 3, lambda n: 2, """\
>>> [s.shape for s in fnp.dsplit(np.ones((1, 2, 4)), [1])]
    [(1, 2, 1), (1, 2, 3)]""")


# ---------------------------------------------------------------------------------------
# Repeating, flipping, rolling, padding.

def tile(A: ArrayLike, reps: Any) -> Any:  # noqa: N803 - NumPy's name
    """``A`` repeated ``reps`` times along each axis: one broadcast between two reshapes.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.tile(a, (2, 2))))(np.ones(2))
        array([4., 4.])
    """
    if not _core._active:
        return _np.tile(A, reps)
    reps = (int(reps),) if _is_int(reps) else tuple(int(r) for r in reps)
    d = builtins.max(len(reps), ndim(A))
    shape = (1,) * (d - ndim(A)) + tuple(shape_of(A))
    reps = (1,) * (d - len(reps)) + reps
    x = P.reshape(A, tuple(v for s in shape for v in (1, s)))
    x = P.broadcast_to(x, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return P.reshape(x, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a: ArrayLike, repeats: Any, axis: int | None = None) -> Any:
    """Each element repeated ``repeats`` times (an int, or one count per element along ``axis``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.repeat(a, 3)))(np.ones(2))
        array([3., 3.])
    """
    if not _core._active:
        return _np.repeat(a, repeats, axis)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim(a))
    shape = tuple(shape_of(a))
    counts = _np.asarray(_concrete(repeats, "repeat's `repeats`"))
    if counts.ndim == 0:
        r = int(counts)
        if r < 0:
            raise ValueError(f"repeat: `repeats` may not contain negative values, got {r}")
        x = P.broadcast_to(P.reshape(a, shape[:axis + 1] + (1,) + shape[axis + 1:]),
                           shape[:axis + 1] + (r,) + shape[axis + 1:])
        return P.reshape(x, shape[:axis] + (shape[axis] * r,) + shape[axis + 1:])
    return P.getitem(a, _along(axis, _np.repeat(_np.arange(shape[axis]), counts)))


def flip(m: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    """``a`` reversed along ``axis`` (all axes if None); the gradient is reversed the same way.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.flip(a) * np.array([1.0, 2.0, 3.0])))(np.zeros(3))
        array([3., 2., 1.])
    """
    if not _core._active:
        return _np.flip(m, axis)  # type: ignore[arg-type]
    axes = _axes(axis, ndim(m))
    return P.getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim(m))))


def fliplr(m: ArrayLike) -> Any:
    """``m`` reversed along its second axis (at least 2-d).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.fliplr(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[2., 1.],
               [4., 3.]])
    """
    if not _core._active:
        return _np.fliplr(m)
    if ndim(m) < 2:
        raise ValueError(f"fliplr: the input must be at least 2-d, got {ndim(m)}-d")
    return flip(m, 1)


def flipud(m: ArrayLike) -> Any:
    """``m`` reversed along its first axis (at least 1-d).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.flipud(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[3., 4.],
               [1., 2.]])
    """
    if not _core._active:
        return _np.flipud(m)
    if ndim(m) < 1:
        raise ValueError("flipud: the input must be at least 1-d, got 0-d")
    return flip(m, 0)


def roll(a: ArrayLike, shift: Any, axis: Any = None) -> Any:
    """Elements shifted cyclically by ``shift`` along ``axis`` (ints or matching tuples).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.roll(np.array([1.0, 2.0, 3.0]), 1)
        array([3., 1., 2.])
    """
    if not _core._active:
        return _np.roll(a, shift, axis)
    if axis is None:
        return P.reshape(roll(ravel(a), shift, 0), tuple(shape_of(a)))
    n = ndim(a)
    total: dict = {}
    for s, ax in _np.broadcast(_np.asarray(shift), _np.asarray(axis)):
        ax = normalize_axis(int(ax), n)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        size = shape_of(a)[ax]
        s = s % size if size else 0
        if s:
            a = P.concatenate([P.getitem(a, _along(ax, slice(size - s, None))),
                               P.getitem(a, _along(ax, slice(None, size - s)))], ax)
    return a


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: Any = _NoValue, append: Any = _NoValue) -> Any:
    """The ``n``-th forward difference ``a[1:] - a[:-1]`` along ``axis`` (of ``a`` with
    ``prepend`` and ``append`` joined to it there; for booleans, ``!=`` as in NumPy).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.diff(np.array([1.0, 4.0, 9.0, 16.0]), n=2)
        array([2., 2.])
    """
    if not _core._active:
        return _np.diff(a, n, axis, prepend, append)
    if n < 0:
        raise ValueError(f"diff: the order n must be non-negative, got {n}")
    if n == 0:
        return a
    ax = normalize_axis(axis, ndim(a))
    if prepend is not _NoValue or append is not _NoValue:
        ends = [_diff_end(e, a, ax) for e in (prepend, append)]
        a = concatenate([x for x in (ends[0], a, ends[1]) if x is not None], ax)
    op = P.ne if dtype_of(a) == _np.bool_ else P.sub
    for _ in range(n):
        a = op(P.getitem(a, _along(ax, slice(1, None))), P.getitem(a, _along(ax, slice(None, -1))))
    return a


def _diff_end(end: Any, a: Any, axis: int) -> Any:
    """``prepend``/``append`` of :func:`diff` as an array to join (a scalar fills one slice)."""
    if end is _NoValue:
        return None
    if ndim(end) == 0:
        shp = list(shape_of(a))
        shp[axis] = 1
        return P.broadcast_to(end, tuple(shp))
    return end


def rot90(m: ArrayLike, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotation by 90° ``k`` times in the plane of ``axes`` (NumPy's composition of flips and
    a transpose).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.rot90(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[2., 4.],
               [1., 3.]])
    """
    if not _core._active:
        return _np.rot90(m, k, axes)  # type: ignore[call-overload]
    axes = tuple(axes)
    n = ndim(m)
    if len(axes) != 2:
        raise ValueError(f"rot90: len(axes) must be 2, got {axes}")
    a0, a1 = normalize_axis(axes[0], n, "axes"), normalize_axis(axes[1], n, "axes")
    if a0 == a1:
        raise ValueError(f"rot90: axes must be different, got {axes}")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return P.transpose(flip(m, a1), tuple(perm)) if k == 1 else flip(P.transpose(m, tuple(perm)), a1)


# Each mode's keyword arguments, as NumPy's ``pad`` accepts them.
_PAD_KWARGS = {"constant": {"constant_values"}, "edge": set(), "wrap": set(), "empty": set(),
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "linear_ramp": {"end_values"}, "maximum": {"stat_length"},
               "minimum": {"stat_length"}, "mean": {"stat_length"}, "median": {"stat_length"}}


def _pad_pairs(value: Any, n: int, name: str, index: bool = False) -> list:
    """``value`` as (before, after) pairs for each of ``n`` axes, as NumPy's ``pad`` reads it:
    one or two values are NumPy scalars, more are Python numbers (which ``linspace`` promotes
    differently); ``index``: non-negative integers, rounded."""
    if isinstance(value, Tracer):
        raise TypeError(f"pad: `{name}` must be concrete (a number or nested sequence), got a "
                        f"traced value")
    x = _np.array(value)
    if index:
        x = _np.round(x).astype(_np.intp, copy=False)
        if x.size and x.min() < 0:
            raise ValueError(f"pad: `{name}` cannot contain negative values, got {value}")
    if x.ndim < 3 and x.size == 1:
        v = x.ravel()[0]
        return [(v, v)] * n
    if x.ndim < 3 and x.size == 2 and x.shape != (2, 1):
        v = x.ravel()
        return [(v[0], v[1])] * n
    try:
        return _np.broadcast_to(x, (n, 2)).tolist()
    except ValueError:
        raise ValueError(f"pad: `{name}` must broadcast to (before, after) pairs for each of the "
                         f"{n} axes, shape ({n}, 2); got shape {x.shape}") from None


def pad(array: ArrayLike, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """NumPy's ``pad`` with every named mode and its keyword arguments: ``constant``
    (``constant_values``), ``edge``, ``wrap``, ``reflect`` and ``symmetric``
    (``reflect_type``), ``linear_ramp`` (``end_values``), ``maximum``, ``minimum``, ``mean``
    and ``median`` (``stat_length``), and ``empty`` (whose undefined pad is zeros here).

    Axes are padded one after another as NumPy does, so corners and iterated reflections
    hold NumPy's values. Copying modes are gathers whose indices are NumPy's own ``pad`` of
    ``arange``; the others compute their pads from the traced values, so every pad has
    derivatives (a pad's derivative in the values it reads).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([1.0, 2.0])
        >>> fnp.pad(x, 1, mode='edge'), ft.grad(lambda a: fnp.sum(fnp.pad(a, 1, mode='edge')))(x)
        (array([1., 1., 2., 2.]), array([2., 2.]))
        >>> ft.grad(lambda a: fnp.sum(fnp.pad(a, 2, mode='mean')))(x)
        array([3., 3.])
    """
    if not _core._active:
        return _np.pad(array, pad_width, mode, **kwargs)  # type: ignore[call-overload]
    if callable(mode):
        raise TypeError("pad: a function as `mode` fills the array in place, which a traced "
                        "value cannot do; use one of the named modes "
                        f"{sorted(_PAD_KWARGS)}")
    if mode not in _PAD_KWARGS:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_KWARGS)}, got {mode!r}")
    unexpected = set(kwargs) - _PAD_KWARGS[mode]
    if unexpected:
        raise ValueError(f"pad: mode {mode!r} takes the keyword arguments "
                         f"{sorted(_PAD_KWARGS[mode]) or 'none'}, got {sorted(unexpected)}")
    n = ndim(array)
    if _np.asarray(pad_width).dtype.kind not in "iu":
        raise TypeError(f"pad: `pad_width` must be of integral type, got "
                        f"{_np.asarray(pad_width).dtype}")
    widths = _pad_pairs(pad_width, n, "pad_width", index=True)
    if mode not in ("constant", "empty"):
        for ax in range(n):
            if shape_of(array)[ax] == 0 and any(widths[ax]):
                raise ValueError(f"pad: can't extend empty axis {ax} using modes other than "
                                 f"'constant' or 'empty'")
    if mode in ("constant", "empty"):
        values = _pad_pairs(kwargs.get("constant_values", 0), n, "constant_values")
    elif mode == "linear_ramp":
        values = _pad_pairs(kwargs.get("end_values", 0), n, "end_values")
    elif mode in ("maximum", "minimum", "mean", "median"):
        length = kwargs.get("stat_length")
        lengths = None if length is None else _pad_pairs(length, n, "stat_length", index=True)
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    for ax, (before, after) in enumerate(widths):
        before, after = int(before), int(after)
        if not before and not after:
            continue
        if mode in ("constant", "empty"):
            one = list(shape_of(array))
            one[ax] = 1
            array = _pad_sides(array, ax, (before, after),
                               *(_np.full(tuple(one), v, dtype_of(array)) for v in values[ax]))
        elif mode == "linear_ramp":
            array = _pad_linear_ramp(array, ax, (before, after), values[ax])
        elif mode in ("maximum", "minimum", "mean", "median"):
            array = _pad_stat(array, ax, (before, after), mode,
                              (None, None) if lengths is None else lengths[ax])
        elif mode in ("reflect", "symmetric") and reflect_type == "odd" and shape_of(array)[ax] > 1:
            array = _pad_odd_reflect(array, ax, before, after, include_edge=mode == "symmetric")
        else:
            index = _np.pad(_np.arange(shape_of(array)[ax]), (before, after),
                            mode=mode)  # type: ignore[call-overload]
            array = P.getitem(array, _along(ax, index))
    return array


def _pad_sides(array: Any, ax: int, widths: tuple, left: Any, right: Any) -> Any:
    """``array`` between ``left`` and ``right`` (each of length 1 along ``ax``, or already of
    its width: constants, statistics, ramps) repeated to ``widths`` along ``ax``."""
    pieces = []
    for width, side in zip(widths, (left, right)):
        if shape_of(side)[ax] != width:
            shape = list(shape_of(array))
            shape[ax] = width
            side = P.broadcast_to(side, tuple(shape))
        pieces.append(side)
    return P.concatenate([pieces[0], array, pieces[1]], ax)


def _pad_stat(array: Any, ax: int, widths: tuple, mode: str, lengths: Sequence) -> Any:
    """Pads of the maximum, minimum, mean or median of the ``lengths`` values nearest each
    side (all of them for None), rounded for integers, as NumPy."""
    import functrans.numpy as fnp
    stats_of: dict[str, Callable[..., Any]] = {"maximum": fnp.max, "minimum": fnp.min,
                                               "mean": fnp.mean, "median": fnp.median}
    stat = stats_of[mode]
    size = shape_of(array)[ax]
    left_length, right_length = (size if k is None or k > size else k for k in lengths)
    if (left_length == 0 or right_length == 0) and mode in ("maximum", "minimum"):
        raise ValueError("pad: stat_length of 0 yields no value for padding")
    stats = []
    for part in (slice(0, left_length), slice(size - right_length, size)):
        value = stat(P.getitem(array, _along(ax, part)), axis=ax, keepdims=True)
        if dtype_of(array).kind in "iu":
            value = P.convert_element_type(P.round(value), dtype_of(array))
        stats.append(value)
    return _pad_sides(array, ax, widths, *stats)


def _pad_linear_ramp(array: Any, ax: int, widths: tuple, end_values: Sequence) -> Any:
    """Ramps from each end value to the edge (excluded), as NumPy's ``linspace`` computes
    them (its dtype, its formula; floored for integers), so they hold NumPy's bits."""
    size, dtype = shape_of(array)[ax], dtype_of(array)
    ramps = []
    for side, (width, end) in enumerate(zip(widths, end_values)):
        edge = P.getitem(array, _along(ax, slice(0, 1) if side == 0 else slice(size - 1, size)))
        if not width:                       # (no ramp: no division by its zero width)
            ramps.append(P.getitem(edge, _along(ax, slice(0, 0))))
            continue
        work = _np.result_type(end, dtype)          # a Python number is weak, as in linspace
        if work.kind not in "fc":
            work = _np.result_type(work, 1.0)
        start = work.type(end)
        delta = P.convert_element_type(edge, work) - start
        k = _np.arange(width, dtype=work).reshape((width,) + (1,) * (ndim(array) - ax - 1))
        step = delta / width
        # linspace's other formula where any step is zero (NumPy's gh-5437), for its bits
        ramp = (k / width) * delta + start if _any_zero(step) else k * step + start
        if dtype.kind in "iu":
            ramp = P.floor(ramp)
        ramp = P.convert_element_type(ramp, dtype)
        ramps.append(ramp if side == 0 else P.getitem(ramp, _along(ax, slice(None, None, -1))))
    return _pad_sides(array, ax, widths, *ramps)


def _any_zero(x: Any) -> bool:
    """Whether ``x`` has a zero, where its value is known (an abstract value: no)."""
    from ..errors import ConcretizationError
    try:
        return bool(_np.any(_core.concrete_value(x) == 0))
    except ConcretizationError:
        return False


def _pad_odd_reflect(array: Any, ax: int, before: int, after: int, include_edge: bool) -> Any:
    """``reflect_type='odd'``: each reflected value subtracted from twice the edge, in chunks
    of the original period as NumPy builds them (so wide pads keep extending the trend)."""
    period = shape_of(array)[ax]
    while before or after:
        length = shape_of(array)[ax]                  # what is filled so far
        if include_edge:
            chunk_max, offset = length // period * period, 1
        else:
            chunk_max, offset = (length - 1) // (period - 1) * (period - 1), 0
        if before:
            chunk = builtins.min(chunk_max, before)
            values = P.getitem(array, _along(ax, _np.arange(chunk - offset, -offset, -1)))
            edge = P.getitem(array, _along(ax, slice(0, 1)))
            array = P.concatenate([2 * edge - values, array], ax)
            before -= chunk
        if after:
            chunk = builtins.min(chunk_max, after)
            last = shape_of(array)[ax] - 1
            values = P.getitem(array, _along(ax, _np.arange(last + offset - 1,
                                                            last + offset - 1 - chunk, -1)))
            edge = P.getitem(array, _along(ax, slice(last, last + 1)))
            array = P.concatenate([array, 2 * edge - values], ax)
            after -= chunk
    return array


# ---------------------------------------------------------------------------------------
# Diagonals and triangles.

def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal of the ``axis1``, ``axis2`` planes, as a last axis (NumPy's layout).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda m: fnp.sum(fnp.diagonal(m)))(np.ones((2, 2)))
        array([[1., 0.],
               [0., 1.]])
    """
    if not _core._active:
        return _np.diagonal(a, offset, axis1, axis2)
    n = ndim(a)
    if n < 2:
        raise ValueError(f"diagonal: the array must have at least two dimensions, got {n}")
    axis1, axis2 = normalize_axis(axis1, n, "axis1"), normalize_axis(axis2, n, "axis2")
    if axis1 == axis2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same, got {axis1}")
    rows, cols = shape_of(a)[axis1], shape_of(a)[axis2]
    length = builtins.max(0, builtins.min(rows, cols - offset) if offset >= 0
                          else builtins.min(rows + offset, cols))
    k = _np.arange(length)
    x = P.transpose(a, tuple(i for i in range(n) if i not in (axis1, axis2)) + (axis1, axis2))
    return P.getitem(x, (slice(None),) * (n - 2) + ((k, k + offset) if offset >= 0 else (k - offset, k)))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    """Sum of a diagonal (NumPy's signature: any rectangular shape, ``offset``, axes).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.trace)(np.ones((2, 3)))
        array([[1., 0., 0.],
               [0., 1., 0.]])
    """
    if not _core._active:
        return _np.trace(a, offset, axis1, axis2, dtype, out)
    # A sum, so small integer types widen as in NumPy (int32 -> int64).
    return sum(diagonal(a, offset, axis1, axis2), axis=ndim(a) - 2, dtype=dtype, out=out)


def diag(v: ArrayLike, k: int = 0) -> Any:
    """The ``k``-th diagonal of a 2-D ``v``, or the square matrix with 1-D ``v`` on it.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.diag(np.array([1.0, 2.0])), fnp.diag(np.array([[1.0, 2.0], [3.0, 4.0]]))
        (array([[1., 0.],
               [0., 2.]]), array([1., 4.]))
    """
    if not _core._active:
        return _np.diag(v, k)
    if ndim(v) == 2:
        return diagonal(v, k)
    if ndim(v) != 1:
        raise ValueError(f"diag: the input must be 1-d or 2-d, got {ndim(v)}-d")
    m = shape_of(v)[0]
    size = m + builtins.abs(k)
    i = _np.arange(m)
    out = _np.zeros((size, size), dtype=dtype_of(v))
    return P.scatter_add(out, v, (i + builtins.max(-k, 0), i + builtins.max(k, 0)))


def diagflat(v: ArrayLike, k: int = 0) -> Any:
    """A matrix with the flattened ``v`` on its ``k``-th diagonal.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.diagflat(np.array([1.0, 2.0]), 1)
        array([[0., 1., 0.],
               [0., 0., 2.],
               [0., 0., 0.]])
    """
    if not _core._active:
        return _np.diagflat(v, k)
    return diag(ravel(v), k)


def _triangle(m: ArrayLike, k: int, upper: bool) -> Any:
    """``m`` where ``tri(k)`` of its last two axes holds (or, if ``upper``, where ``tri(k - 1)``
    does not), else 0; a 1-D ``m`` is broadcast as a row, as in NumPy."""
    shape = tuple(shape_of(m)[-2:])
    rows, cols = (shape[0], shape[0]) if len(shape) == 1 else shape
    keep = _np.tri(int(rows), int(cols), k - 1 if upper else k, dtype=bool)
    return P.where(~keep if upper else keep, m, _np.zeros((), dtype_of(m)))


def tril(m: ArrayLike, k: int = 0) -> Any:
    """``m`` with the elements above the ``k``-th diagonal zeroed (over its last two axes).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda m: fnp.sum(fnp.tril(m)))(np.ones((2, 2)))
        array([[1., 0.],
               [1., 1.]])
    """
    if not _core._active:
        return _np.tril(m, k)
    return _triangle(m, k, upper=False)


def triu(m: ArrayLike, k: int = 0) -> Any:
    """``m`` with the elements below the ``k``-th diagonal zeroed (over its last two axes).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.triu(np.array([[1.0, 2.0], [3.0, 4.0]]), 1)
        array([[0., 2.],
               [0., 0.]])
    """
    if not _core._active:
        return _np.triu(m, k)
    return _triangle(m, k, upper=True)


# ---------------------------------------------------------------------------------------
# Selection: gathers with index arrays (traced ones too).

def _index_mode(indices: Any, size: int, mode: str | None) -> Any:
    if mode in (None, "raise"):
        return indices
    if mode == "wrap":
        return indices % size
    if mode == "clip":
        return P.minimum(P.maximum(indices, 0), size - 1)
    raise ValueError(f"mode must be one of 'raise', 'wrap' or 'clip', got {mode!r}")


def take(a: ArrayLike, indices: Any, axis: int | None = None, out: None = None, mode: str = "raise") -> Any:
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` if ``None``).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.take(a, np.array([0, 0, 2]))))(np.ones(3))
        array([2., 0., 1.])
    """
    if not _core._active:
        return _np.take(a, indices, axis, out, mode)  # type: ignore[call-overload]
    _no_out("take", out)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim(a))
    indices = indices if isinstance(indices, Tracer) else _np.asarray(indices)
    return getitem(a, _along(axis, _index_mode(indices, shape_of(a)[axis], mode)))


def _along_axis(name: str, arr: ArrayLike, indices: Any, axis: int | None) -> tuple:
    """``(arr, key)``: ``arr`` (flattened for ``axis=None``) and the index that pairs
    ``indices`` along ``axis`` with every position of the other axes (broadcasting)."""
    if axis is None:
        arr, axis = ravel(arr), 0
    n = ndim(arr)
    if ndim(indices) != n:
        raise ValueError(f"{name}: `indices` and `arr` must have the same number of "
                         f"dimensions, got {ndim(indices)} and {n}")
    axis = normalize_axis(axis, n)
    key = tuple(indices if d == axis else _np.arange(s).reshape((1,) * d + (-1,) + (1,) * (n - d - 1))
                for d, s in enumerate(shape_of(arr)))
    return arr, key


def take_along_axis(arr: ArrayLike, indices: Any, axis: int | None = -1) -> Any:
    """``arr`` gathered at ``indices`` along ``axis``, the other axes matched (broadcasting).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.take_along_axis(np.array([[3.0, 1.0], [2.0, 4.0]]), np.array([[1], [0]]), axis=1)
        array([[1.],
               [2.]])
    """
    if not _core._active:
        return _np.take_along_axis(arr, indices, axis)
    return getitem(*_along_axis("take_along_axis", arr, indices, axis))


def put_along_axis(arr: ArrayLike, indices: Any, values: ArrayLike, axis: int | None,
                   inplace: bool = False) -> Any:
    """A copy of ``arr`` with ``values`` (broadcast to ``indices``) put at ``indices`` along
    ``axis``: NumPy's ``put_along_axis`` as a function, as JAX's (which returns the new array;
    NumPy's changes ``arr`` and returns None). Differentiable in ``arr`` (0 where overwritten)
    and ``values``; of an element given several values the last one stays, as in NumPy, and
    only it gets a derivative.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> a = np.array([[3.0, 1.0], [2.0, 4.0]])
        >>> fnp.put_along_axis(a, np.array([[1], [0]]), 9.0, axis=1)
        array([[3., 9.],
               [9., 4.]])
        >>> ft.grad(lambda v: fnp.sum(fnp.put_along_axis(a, np.array([[1], [0]]), v, 1) ** 2))(
        ...     np.array([[1.0], [2.0]]))
        array([[2.],
               [4.]])
    """
    if inplace:
        raise ValueError("put_along_axis: inplace=True is not supported: arrays are not changed in "
                         "place (traced values are immutable); pass inplace=False and use the returned "
                         "array, as with jax.numpy.put_along_axis")
    if not _core._active:
        out = _np.array(arr, copy=True)
        _np.put_along_axis(out, indices, values, axis)
        return out
    flat, key = _along_axis("put_along_axis", arr, indices, axis)
    dtype = dtype_of(flat)
    if dtype_of(values) != dtype:        # NumPy's assignment casts to arr's dtype
        values = P.convert_element_type(values, dtype)
    out = _IndexUpdate(flat, key).set(values)
    return out if axis is not None else reshape(out, shape_of(arr))


def argsort(a: ArrayLike, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
            stable: bool | None = None) -> Any:
    """The permutation that sorts ``a`` along ``axis``; integer-valued, with no derivative.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.argsort(np.array([3.0, 1.0, 2.0]))
        array([1, 2, 0])
    """
    if not _core._active:
        return _np.argsort(a, axis, kind, order, stable=stable)  # type: ignore[arg-type]
    if order is not None:
        raise ValueError("argsort: `order` (structured arrays) is not supported")
    if axis is None:
        a, axis = ravel(a), 0
    kind = "stable" if stable else kind
    return P.argsort_p.bind(a, axis=normalize_axis(axis, ndim(a)), kind=kind)


def sort(a: ArrayLike, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
         stable: bool | None = None) -> Any:
    """``a`` sorted along ``axis``: a gather through ``argsort``, so the derivative moves with
    the elements (the gradient scatters back through the permutation).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda x: fnp.sort(x)[0])(fnp.array([3.0, 1.0, 2.0]))
        array([0., 1., 0.])
    """
    if not _core._active:
        return _np.sort(a, axis, kind, order, stable=stable)  # type: ignore[arg-type]
    if axis is None:
        a, axis = ravel(a), 0
    return take_along_axis(a, argsort(a, axis, kind, order, stable=stable), axis)


def searchsorted(a: ArrayLike, v: ArrayLike, side: str = "left", sorter: Any = None) -> Any:
    """Indices where ``v`` would be inserted into the sorted 1-D ``a``: traced, it counts the
    elements before each value (O(len(a) · size(v)), batchable in ``a`` and ``v`` alike).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> a = np.array([1.0, 2.0, 3.0])
        >>> fnp.searchsorted(a, np.array([0.5, 2.0, 4.0])), ft.vmap(lambda v: fnp.searchsorted(a, v))(a)
        (array([0, 1, 3]), array([0, 1, 2]))
    """
    if not _core._active:
        return _np.searchsorted(a, v, side, sorter)  # type: ignore[call-overload]
    if ndim(a) != 1:
        raise ValueError(f"searchsorted: `a` must be 1-d, got {ndim(a)}-d")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = take(a, sorter)
    before = (P.lt if side == "left" else P.le)(a, P.expand_dims(v, -1))
    return P.reduce_sum(before, (ndim(before) - 1,))


def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left: ArrayLike = None, right: ArrayLike = None,
           period: float | None = None) -> Any:
    """Piecewise-linear interpolation of the points ``(xp, fp)`` at ``x``, differentiable in
    ``x`` and ``fp`` (``xp`` must be concrete). At a knot the derivative in ``x`` is that of
    the segment to its right (at ``xp[-1]``, to its left), as in JAX.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
        >>> float(fnp.interp(2.0, xp, fp)), float(ft.grad(fnp.interp)(2.0, xp, fp))
        (2.5, 0.5)
    """
    if not _core._active:
        return _np.interp(x, xp, fp, left, right, period)
    if isinstance(xp, Tracer):
        raise TypeError("interp: xp (the sample points) must be a concrete array: functrans "
                        "gives no derivative with respect to it (differentiate in x and fp)")
    xp = _np.asarray(xp, _np.float64)
    fp = fp if isinstance(fp, Tracer) else _np.asarray(fp)
    if xp.ndim != 1 or ndim(fp) != 1 or len(xp) != shape_of(fp)[0]:
        raise ValueError(f"interp: xp and fp must be 1-d and of the same length, got shapes "
                         f"{xp.shape} and {tuple(shape_of(fp))}")
    if len(xp) == 0:
        raise ValueError("interp: the sample points xp are empty")
    x = P.convert_element_type(x, _np.float64)
    fp = P.convert_element_type(fp, _np.complex128 if dtype_of(fp).kind == "c" else _np.float64)
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be non-zero")
        period = builtins.abs(period)
        x, order = x % period, _np.argsort(xp % period)
        xp = _np.concatenate([xp[order][-1:] - period, xp[order] % period, xp[order][:1] + period])
        fp = take(fp, _np.concatenate([order[-1:], order, order[:1]]))
    if len(xp) == 1:       # one point: a constant (a zero-width segment, see `flat` below)
        xp, fp = _np.concatenate([xp, xp]), take(fp, _np.array([0, 0]))
    i = P.minimum(P.maximum(searchsorted(xp, x, side="right"), 1), len(xp) - 1)
    x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
    flat = P.le(P.abs(x1 - x0), _np.spacing(_np.finfo(_np.float64).eps))  # no NaN from 0/0
    f = where(flat, f0, f0 + (x - x0) / where(flat, 1.0, x1 - x0) * (f1 - f0))
    if period is None:
        f = where(P.lt(x, xp[0]), fp[0] if left is None else left, f)
        f = where(P.gt(x, xp[-1]), fp[-1] if right is None else right, f)
    return f


def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full") -> Any:
    """The discrete linear convolution of two 1-D arrays (modes ``full``, ``same``, ``valid``),
    differentiable in both: the windows of the zero-padded longer one times the other, flipped.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> fnp.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
        array([0. , 1. , 2.5, 4. , 1.5])
        >>> ft.grad(lambda v: fnp.sum(fnp.convolve(np.array([1.0, 2.0, 3.0]), v, "valid")))(np.ones(2))
        array([5., 3.])
    """
    if not _core._active:
        return _np.convolve(a, v, mode)  # type: ignore[call-overload]
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"convolve: mode must be 'full', 'same' or 'valid', got {mode!r}")
    if ndim(a) != 1 or ndim(v) != 1:
        raise ValueError(f"convolve: a and v must be 1-d, got shapes {tuple(shape_of(a))} and "
                         f"{tuple(shape_of(v))}")
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError(f"convolve: {'a' if n == 0 else 'v'} cannot be empty")
    if m > n:              # convolution is symmetric; NumPy slides the shorter one too
        a, v, n, m = v, a, m, n
    start, size = {"full": (0, n + m - 1), "same": ((m - 1) // 2, n), "valid": (m - 1, n - m + 1)}[mode]
    windows = getitem(pad(a, m - 1), (_np.arange(start, start + size)[:, None] + _np.arange(m),))
    return matmul(windows, flip(v))


def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike], default: ArrayLike = 0) -> Any:
    """The element of the first choice whose condition holds, else ``default``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([-1.0, 0.5, 2.0])
        >>> ft.grad(lambda a: fnp.sum(fnp.select([a < 0.0, a > 1.0], [-a, a ** 2])))(x)
        array([-1.,  0.,  4.])
    """
    if not _core._active:
        return _np.select(condlist, choicelist, default)
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, got "
                         f"{len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise ValueError("select: condlist is empty")
    out = default
    for c, x in zip(reversed(condlist), reversed(choicelist)):
        out = where(c, x, out)
    return out


def choose(a: ArrayLike, choices: Sequence[ArrayLike], out: None = None, mode: str = "raise") -> Any:
    """``choices[a[i]][i]`` for every position ``i`` (all broadcast together).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.choose(np.array([0, 1, 0]), [np.zeros(3), np.ones(3)])
        array([0., 1., 0.])
    """
    if not _core._active:
        return _np.choose(a, choices, out, mode)  # type: ignore[call-overload]
    _no_out("choose", out)
    choices = list(choices)
    a = a if isinstance(a, Tracer) else _np.asarray(a)
    shape = _np.broadcast_shapes(shape_of(a), *(shape_of(c) for c in choices))
    stacked = stack([P.broadcast_to(c, shape) for c in choices])
    index = _index_mode(P.broadcast_to(a, shape), len(choices), mode)
    return P.reshape(take_along_axis(stacked, P.reshape(index, (1,) + shape), 0), shape)


def compress(condition: ArrayLike, a: ArrayLike, axis: int | None = None, out: None = None) -> Any:
    """The slices of ``a`` along ``axis`` where the concrete ``condition`` holds.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.compress([True, False, True], a)))(np.ones(3))
        array([1., 0., 1.])
    """
    if not _core._active:
        return _np.compress(condition, a, axis, out)
    _no_out("compress", out)
    keep = _np.flatnonzero(_concrete(condition, "compress"))
    return take(a, keep, axis)


def extract(condition: ArrayLike, arr: ArrayLike) -> Any:
    """The elements of ``arr`` where the (concrete) ``condition`` holds, flattened; differentiable in ``arr``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> keep = np.array([True, False, True])
        >>> ft.grad(lambda a: fnp.sum(fnp.extract(keep, a) ** 2))(np.array([1.0, 2.0, 3.0]))
        array([2., 0., 6.])
    """
    if not _core._active:
        return _np.extract(condition, arr)
    return take(ravel(arr), _np.flatnonzero(_concrete(condition, "extract")))


def delete(arr: ArrayLike, obj: Any, axis: int | None = None) -> Any:
    """``arr`` without the entries ``obj`` (concrete: ints, a slice or a mask) along ``axis``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.delete(a, 1)))(np.ones(3))
        array([1., 0., 1.])
    """
    if not _core._active:
        return _np.delete(arr, obj, axis)
    if axis is None:
        arr, axis = ravel(arr), 0
    axis = normalize_axis(axis, ndim(arr))
    obj = obj if isinstance(obj, slice) else _concrete(obj, "delete's `obj`")
    return P.getitem(arr, _along(axis, _np.delete(_np.arange(shape_of(arr)[axis]), obj)))


def insert(arr: ArrayLike, obj: Any, values: ArrayLike, axis: int | None = None) -> Any:
    """``values`` inserted before the (concrete) indices ``obj`` along ``axis``: the input and
    the values are joined, then gathered in the order NumPy's own ``insert`` gives indices.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.insert(np.array([1.0, 2.0]), 1, 9.0)
        array([1., 9., 2.])
    """
    if not _core._active:
        return _np.insert(arr, obj, values, axis)
    if axis is None:
        arr, axis = ravel(arr), 0
    n = ndim(arr)
    axis = normalize_axis(axis, n)
    length = shape_of(arr)[axis]
    obj = obj if isinstance(obj, slice) else _np.asarray(_concrete(obj, "insert's `obj`"))
    target = list(shape_of(arr))
    if isinstance(obj, _np.ndarray) and obj.ndim == 0:
        # NumPy: the values become an array of arr's rank whose first axis moves to ``axis``.
        values = P.reshape(values, (1,) * (n - ndim(values)) + tuple(shape_of(values)))
        values = moveaxis(values, 0, axis)
        target[axis] = shape_of(values)[axis]
    else:
        target[axis] = len(_np.arange(length)[obj])
    values = P.broadcast_to(values, tuple(target))
    if dtype_of(values) != dtype_of(arr):
        values = P.convert_element_type(values, dtype_of(arr))
    order = _np.insert(_np.arange(length), obj, _np.arange(length, length + target[axis]))
    return P.getitem(P.concatenate([arr, values], axis), _along(axis, order))


# ---------------------------------------------------------------------------------------
# Results whose size depends on the values: concrete values only (not under vmap).

def nonzero(a: ArrayLike) -> tuple:
    """Indices of the non-zero elements; needs a concrete ``a`` (the result's size depends on it).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.nonzero(np.array([[0, 1], [2, 0]]))
        (array([0, 1]), array([1, 0]))
    """
    if not _core._active:                      # eval fast path: nothing can be traced
        return _np.nonzero(a)
    return _np.nonzero(_concrete(a, "nonzero"))


def flatnonzero(a: ArrayLike) -> Any:
    """The indices of the non-zero elements of the flattened ``a``; needs a concrete ``a``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.flatnonzero(np.array([[0, 1], [2, 0]]))
        array([1, 2])
    """
    return _np.flatnonzero(_concrete(a, "flatnonzero"))


def argwhere(a: ArrayLike) -> Any:
    """The indices of the non-zero elements, one row each; needs a concrete ``a`` (the result's size depends
    on its values).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.argwhere(np.array([[0, 1], [2, 0]]))
        array([[0, 1],
               [1, 0]])
    """
    return _np.argwhere(_concrete(a, "argwhere"))


def count_nonzero(a: ArrayLike, axis: Any = None, *, keepdims: bool = False) -> Any:
    """The number of non-zero elements (computed on traced values too: its size is static).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.count_nonzero(np.array([[0, 1], [2, 3]]), axis=0)
        array([1, 2])
    """
    if not _core._active:
        return _np.count_nonzero(a, axis, keepdims=keepdims)
    return sum(P.ne(a, 0), axis=axis, keepdims=keepdims)


def unique(ar: ArrayLike, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None) -> Any:
    """NumPy's ``unique`` of a concrete ``ar``; the values are a gather of the first occurrence
    of each, so they keep their derivative (which goes to that occurrence).

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> x = np.array([3.0, 1.0, 3.0])
        >>> fnp.unique(x), ft.grad(lambda a: fnp.sum(fnp.unique(a)))(x)
        (array([1., 3.]), array([1., 1., 0.]))
    """
    found = _np.unique(_concrete(ar, "unique"), return_index=True, return_inverse=return_inverse,
                       return_counts=return_counts, axis=axis)  # type: ignore[call-overload]
    values = take(ar, found[1], axis)
    extra = ((found[1],) if return_index else ()) + tuple(found[2:])
    return (values,) + extra if extra else values


__all__ = ["reshape", "ravel", "transpose", "moveaxis", "rollaxis", "swapaxes", "broadcast_to",
           "broadcast_arrays", "expand_dims", "squeeze", "atleast_1d", "atleast_2d", "atleast_3d",
           "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "append", "array_split",
           "split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "flip", "fliplr", "flipud", "roll",
           "diff", "rot90", "pad", "diagonal", "trace", "diag", "diagflat", "tril", "triu", "take",
           "take_along_axis", "put_along_axis", "argsort", "sort", "searchsorted", "interp", "convolve",
           "select", "choose",
           "compress", "extract", "delete", "insert", "nonzero", "flatnonzero", "argwhere", "count_nonzero",
           "unique"]
