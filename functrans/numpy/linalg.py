"""functrans.numpy.linalg: NumPy's linear algebra, differentiable."""

from __future__ import annotations

from typing import Any

from .. import primitives as P
from . import _axes, ndim, sum as _sum, max as _max, min as _min, abs as _abs, sqrt as _sqrt


def _safe_sqrt_of(s: Any) -> Any:
    """``sqrt(s)`` whose derivative is 0 (not NaN) where ``s`` is 0: the norm's convention."""
    zero = P.eq(s, 0)
    return P.where(zero, 0.0, _sqrt(P.where(zero, 1.0, s)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0 or any p) and the Frobenius norm.

    The gradient of the 2-norm at the zero vector is 0 (see the conventions in API.md).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> float(fnp.linalg.norm(fnp.array([3.0, 4.0])))
        5.0
        >>> ft.grad(fnp.linalg.norm)(fnp.zeros(2))
        array([0., 0.])
    """
    n = ndim(x)
    if axis is None and ord is not None and n == 2:
        axis = (0, 1)
    axes = _axes(axis, n)
    if ord in (None, 2, "fro") and (ord != 2 or len(axes) == 1):
        return _safe_sqrt_of(_sum(x * x, axis=axes, keepdims=keepdims))
    if len(axes) != 1:
        raise ValueError(f"norm: ord={ord!r} over axes {axes} is not supported "
                         f"(vector norms need one axis; matrix norms 'fro' or None)")
    if ord == float("inf"):
        return _max(_abs(x), axis=axes, keepdims=keepdims)
    if ord == -float("inf"):
        return _min(_abs(x), axis=axes, keepdims=keepdims)
    if ord == 0:
        return _sum(P.convert_element_type(P.ne(x, 0), x.dtype if hasattr(x, "dtype") else float),
                    axis=axes, keepdims=keepdims)
    if ord == 1:
        return _sum(_abs(x), axis=axes, keepdims=keepdims)
    return _sum(_abs(x) ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)


__all__ = ["norm"]
