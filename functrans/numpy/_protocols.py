"""Traced values behave like NumPy arrays: operators, methods and NumPy's protocols.

Operators and methods call :mod:`functrans.numpy`. NumPy functions applied to a traced value
(``np.sin(t)``, ``np.sum(t, axis=0)``) reach ``__array_ufunc__`` / ``__array_function__``
and are computed by the functrans function of the same name; a NumPy function functrans does
not have raises a ``TypeError`` rather than silently dropping the derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import primitives as P
from ..core import Tracer, in_current_stack, raise_leaked


def _swap(f: Any) -> Any:
    return lambda self, other: f(other, self)


def _inplace(name: str, f: Any) -> Any:
    """``x op= y`` rebinds ``x`` to ``x op y`` (traced values are immutable), except on the
    cotangent a with_gradient hook is looking at, where rebinding would silently lose the edit."""
    def op(self: Any, other: Any) -> Any:
        if any(self is c for c in P.hook_state.traced):
            raise TypeError(
                f"with_gradient: the hook cannot modify this cotangent in place ({name}): it is "
                f"traced by an enclosing transform (jacrev, vmap, nested grad...), not a NumPy "
                f"array. Return the new cotangent from the hook instead, e.g. `return g * 2`.")
        return f(self, other)
    return op


def install_tracer_methods(at_cls: type) -> None:
    import functrans.numpy as fnp

    ops = {
        "__add__": P.add, "__sub__": P.sub, "__mul__": P.mul, "__truediv__": P.div,
        "__pow__": P.pow, "__floordiv__": P.floor_divide, "__mod__": P.remainder,
        "__matmul__": fnp.matmul,
        "__lt__": P.lt, "__le__": P.le, "__gt__": P.gt, "__ge__": P.ge,
        "__eq__": P.eq, "__ne__": P.ne,
        "__and__": P.bitwise_and, "__or__": P.bitwise_or, "__xor__": P.bitwise_xor,
    }
    for name, f in ops.items():
        setattr(Tracer, name, f)
        if name not in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
            setattr(Tracer, "__r" + name[2:], _swap(f))
    for name, f in (("__iadd__", P.add), ("__isub__", P.sub), ("__imul__", P.mul),
                    ("__itruediv__", P.div), ("__ipow__", P.pow), ("__imatmul__", fnp.matmul),
                    ("__ifloordiv__", P.floor_divide), ("__imod__", P.remainder)):
        setattr(Tracer, name, _inplace(name, f))
    Tracer.__neg__ = P.neg  # type: ignore[assignment]
    Tracer.__pos__ = lambda self: self  # type: ignore[assignment]
    Tracer.__abs__ = P.abs  # type: ignore[assignment]
    Tracer.__invert__ = P.invert  # type: ignore[assignment]
    Tracer.__getitem__ = fnp.getitem  # type: ignore[attr-defined]
    Tracer.__iter__ = lambda self: (self[i] for i in range(len(self)))  # type: ignore[attr-defined]
    Tracer.T = property(lambda self: fnp.transpose(self))  # type: ignore[attr-defined]
    Tracer.mT = property(lambda self: fnp.swapaxes(self, -1, -2))  # type: ignore[attr-defined]
    Tracer.at = property(at_cls)  # type: ignore[attr-defined]

    def method(f: Any) -> Any:
        return lambda self, *args, **kwargs: f(self, *args, **kwargs)

    for name in ("sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin", "all",
                 "any", "ravel", "transpose", "swapaxes", "squeeze", "clip", "dot", "astype",
                 "round", "nonzero"):
        setattr(Tracer, name, method(getattr(fnp, name)))
    Tracer.flatten = method(fnp.ravel)  # type: ignore[attr-defined]
    Tracer.copy = lambda self: self  # type: ignore[attr-defined]
    Tracer.item = lambda self: self.concrete().item()  # type: ignore[attr-defined]
    Tracer.tolist = lambda self: np.asarray(self.concrete()).tolist()  # type: ignore[attr-defined]

    def reshape(self: Any, *shape: Any, order: str = "C") -> Any:
        return fnp.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def transpose(self: Any, *axes: Any) -> Any:
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return fnp.transpose(self, axes or None)

    Tracer.reshape = reshape  # type: ignore[attr-defined]
    Tracer.transpose = transpose  # type: ignore[attr-defined]
    Tracer.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
    Tracer.__array_function__ = _array_function  # type: ignore[attr-defined]
    Tracer.__array__ = _array  # type: ignore[attr-defined]


_UFUNC_NAMES = {"absolute": "abs", "true_divide": "divide", "conjugate": None}
_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}   # ufunc.reduce


def _lookup(name: str, module: str = "") -> Any:
    import functrans.numpy as fnp
    namespace = fnp.linalg if module.endswith("linalg") else fnp
    return getattr(namespace, _UFUNC_NAMES.get(name, name) or "", None)


def _check_alive(self: Any, where: str) -> None:
    """A traced value reaching NumPy is fine inside its transform (it is handed back to
    functrans.numpy); after it, or outside this thread's stack of transforms, it has leaked."""
    if not self._trace.alive or not in_current_stack(self._trace):
        raise_leaked(self, where)


def _array_ufunc(self: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    _check_alive(self, f"numpy.{ufunc.__name__}")
    f = _lookup(ufunc.__name__) if method == "__call__" else None
    if f is None or kwargs.get("out") is not None or set(kwargs) - {"out"}:
        raise TypeError(
            f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} has no "
            f"functrans rule for traced values (with arguments {sorted(kwargs) or 'none'}); "
            f"use functrans.numpy.{_suggest(ufunc.__name__, method)} instead")
    return f(*inputs)


def _suggest(name: str, method: str) -> str:
    if method == "reduce" and name in _REDUCTIONS:
        return _REDUCTIONS[name]
    return _UFUNC_NAMES.get(name, name) or name


def _array_function(self: Any, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    _check_alive(self, f"numpy.{func.__name__}")
    f = _lookup(func.__name__, getattr(func, "__module__", "") or "")
    if f is None:
        raise TypeError(f"numpy.{func.__name__} has no functrans rule for traced values; use the "
                        f"functrans.numpy equivalent (functrans.numpy.{func.__name__} does not exist yet)")
    return f(*args, **kwargs)


def _array(self: Any, dtype: Any = None, copy: Any = None) -> Any:
    _check_alive(self, "numpy.asarray")
    raise TypeError(
        f"a traced value (under `{self._trace.transform}`) cannot be converted to a NumPy array: "
        f"that would silently drop its derivative. Use functrans.numpy functions on it, or "
        f"ft.stop_gradient(x) and then float(x) or x.item() if a constant is really meant.")
