"""Traced values behave like NumPy arrays: operators, methods and NumPy's protocols.

Operators and methods call :mod:`functrans.numpy`. NumPy functions applied to a traced value
(``np.sin(t)``, ``np.sum(t, axis=0)``) reach ``__array_ufunc__`` / ``__array_function__``
and are computed by the functrans function of the same name; a NumPy function functrans does
not have raises a ``TypeError`` rather than silently dropping the derivative.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import primitives as P
from ..core import Tracer, _state, in_current_stack, raise_leaked


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
    # Attached here at import time, so mypy sees a Tracer class without them (and reads a
    # dunder on the class as an operator applied to it).
    Tracer.__neg__ = P.neg  # type: ignore[operator]
    Tracer.__pos__ = lambda self: self  # type: ignore[operator]
    Tracer.__abs__ = P.abs  # type: ignore[attr-defined]
    Tracer.__invert__ = P.invert  # type: ignore[operator]
    Tracer.__getitem__ = fnp.getitem  # type: ignore[misc]
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
    for name in ("repeat", "take", "diagonal", "trace", "argsort", "searchsorted"):
        setattr(Tracer, name, method(getattr(fnp, name)))
    # NumPy 2's ndarray methods of the reductions and complex parts (no ``ptp``: removed)
    for name in ("cumsum", "cumprod", "conj", "conjugate"):
        setattr(Tracer, name, method(getattr(fnp, name)))
    Tracer.real = property(fnp.real)  # type: ignore[attr-defined]
    Tracer.imag = property(fnp.imag)  # type: ignore[attr-defined]
    Tracer.compress = lambda self, condition, axis=None: fnp.compress(condition, self, axis)  # type: ignore[attr-defined]
    for name in ("sort", "fill", "put", "resize", "partition", "itemset", "setfield", "byteswap"):
        setattr(Tracer, name, _in_place_method(name))
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


def _in_place_method(name: str) -> Any:
    """NumPy's in-place methods: a traced value is immutable, so they raise and say what to use."""
    use = {"sort": "fnp.sort(x, axis)", "put": "x.at[indices].set(values)",
           "fill": "fnp.full_like(x, value)", "resize": "fnp.reshape"}.get(name, "a functional form")

    def op(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"x.{name}() modifies an array in place, which a traced value (under "
                        f"`{self._trace.transform}`) cannot do; use {use}, which returns a new array")
    op.__name__ = name
    return op


_UFUNC_NAMES = {"absolute": "abs", "true_divide": "divide"}
# ``np.add.reduce(t, axis)`` and friends: the functrans.numpy reduction of the same meaning.
_UFUNC_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
                     "logical_and": "all", "logical_or": "any"}
_UFUNC_ACCUMULATIONS = {"add": "cumsum", "multiply": "cumprod"}


@functools.lru_cache(maxsize=None)      # the namespaces are fixed once imported
def _lookup(name: str, module: str = "numpy") -> Any:
    """The functrans.numpy function for NumPy's ``module.name``, or None if there is none.

    NumPy's main namespace maps to functrans.numpy and ``numpy.linalg`` to its linalg; other
    NumPy modules (fft, random, ...) have no counterparts. A name that functrans.numpy simply
    re-exports from NumPy (creation functions) is no rule either: it would dispatch again.
    """
    import functrans.numpy as fnp
    namespace = {"numpy": fnp, "numpy.linalg": fnp.linalg}.get(module)
    f = getattr(namespace, _UFUNC_NAMES.get(name, name) or "", None) if namespace else None
    if f is None or isinstance(f, type) or not callable(f) \
            or getattr(f, "__module__", "").startswith("numpy"):
        return None
    return f


def _equivalent(name: str, module: str = "numpy") -> str:
    """``use functrans.numpy.X instead``, or that there is no equivalent."""
    where = "functrans.numpy" + module[len("numpy"):]
    if _lookup(name, module) is not None:
        return f"use {where}.{_UFUNC_NAMES.get(name, name)} instead"
    import functrans.numpy as fnp
    if module == "numpy" and hasattr(fnp, name):
        return f"{where}.{name} is NumPy's own, for concrete values only"
    return f"{where} has no equivalent of it"


def _check_alive(self: Any, where: str) -> None:
    """A traced value reaching NumPy is fine inside its transform (it is handed back to
    functrans.numpy); after it, or outside this thread's stack of transforms, it has leaked."""
    if not self._trace.alive or not in_current_stack(self._trace):
        raise_leaked(self, where)


def _array_ufunc(self: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    if self._trace is _state.trace and method == "__call__" and not kwargs:
        # The common call (``array @ t``, ``np.sin(t)`` inside the transform): a tracer of
        # the current trace is alive and in this thread's stack, so the check is not needed.
        f = _lookup(ufunc.__name__)
        if f is not None:
            return f(*inputs)
    name = ufunc.__name__
    _check_alive(self, "numpy." + name)
    if method == "__call__" and not kwargs:
        f = _lookup(name)
        if f is not None:
            return f(*inputs)
    if method == "reduce" and name in _UFUNC_REDUCTIONS and len(inputs) == 1 \
            and set(kwargs) <= {"axis", "keepdims"}:
        import functrans.numpy as fnp
        return getattr(fnp, _UFUNC_REDUCTIONS[name])(inputs[0], axis=kwargs.get("axis", 0),
                                                     keepdims=kwargs.get("keepdims", False))
    if method == "accumulate" and name in _UFUNC_ACCUMULATIONS and len(inputs) == 1 \
            and set(kwargs) <= {"axis"}:
        import functrans.numpy as fnp
        return getattr(fnp, _UFUNC_ACCUMULATIONS[name])(inputs[0], axis=kwargs.get("axis", 0))
    if method == "outer" and len(inputs) == 2 and not kwargs and _lookup(name) is not None:
        import functrans.numpy as fnp
        a, b = inputs           # outer: a's axes first, then b's, by broadcasting
        return _lookup(name)(fnp.reshape(a, fnp.shape(a) + (1,) * fnp.ndim(b)), b)
    call = name if method == "__call__" else f"{name}.{method}"
    extra = f" with the arguments {sorted(kwargs)}" if kwargs else ""
    hint = ("use the functional update x.at[indices].add(values) (or .set, .multiply, ...) "
            "instead" if method == "at" else _equivalent(name))
    raise TypeError(f"numpy.{call}{extra} has no functrans rule for traced values; {hint}")


# NumPy functions that change an argument in place (and return None) with a functional
# functrans.numpy counterpart of the same name: dispatching would drop the result silently.
_IN_PLACE_FUNCTIONS = {"put_along_axis": "fnp.put_along_axis(arr, indices, values, axis)"}


def _array_function(self: Any, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    name, module = func.__name__, getattr(func, "__module__", None) or ""
    _check_alive(self, f"numpy.{name}")
    if name in _IN_PLACE_FUNCTIONS:
        raise TypeError(f"numpy.{name} changes its array in place (and returns None), which a traced "
                        f"value (under `{self._trace.transform}`) cannot do; use "
                        f"{_IN_PLACE_FUNCTIONS[name]}, which returns a new array")
    f = _lookup(name, module)
    if f is None or f is func:
        raise TypeError(f"{module}.{name} has no functrans rule for traced values; "
                        f"{_equivalent(name, module)}")
    try:
        return f(*args, **kwargs)
    except TypeError:
        _check_signature(f, args, kwargs, f"{module}.{name}")
        raise


def _public_module(f: Any) -> str:
    """``functrans.numpy`` (or ``functrans.numpy.linalg``) for a function of its private submodules."""
    return ".".join(part for part in f.__module__.split(".") if not part.startswith("_"))


def _check_signature(f: Any, args: Any, kwargs: Any, numpy_name: str) -> None:
    """A NumPy argument the functrans function does not take gets an error that says so."""
    import inspect
    try:
        inspect.signature(f).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{numpy_name} on traced values runs {_public_module(f)}."
                        f"{f.__name__}, which does not take these arguments ({err}); arguments it "
                        f"takes: {list(inspect.signature(f).parameters)}") from None


def _array(self: Any, dtype: Any = None, copy: Any = None) -> Any:
    _check_alive(self, "numpy.asarray")
    raise TypeError(
        f"a traced value (under `{self._trace.transform}`) cannot be converted to a NumPy array: "
        f"that would silently drop its derivative. Use functrans.numpy functions on it, or "
        f"ft.stop_gradient(x) and then float(x) or x.item() if a constant is really meant. "
        f"To index a NumPy array `a` by a traced index `i`, use fnp.take(a, i) or "
        f"fnp.getitem(a, i).")
