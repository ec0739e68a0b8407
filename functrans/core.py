"""The interpreter core: primitives, traces, tracers and the current-trace context.

Every user-visible operation is a :class:`Primitive` applied with :meth:`Primitive.bind`, which
hands it to the *current trace*. The base trace evaluates with NumPy; each transform (forward,
reverse, batching) is a trace with a *parent*. A trace unwraps only the tracers that belong to
it (``x._trace is self``) and treats every other value as a constant; its rules run with the
parent as the current trace. Nesting transforms is stacking traces, and because a tracer is
matched to its trace by identity, no transform can mistake another's perturbation for its own.

The current trace is per thread, so transforms running in different threads never meet.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ConcretizationError, LeakedTracerError


class Primitive:
    """An operation known to every interpreter: a NumPy implementation plus rule tables.

    ``multiple_results`` primitives return a tuple. ``differentiable=False`` marks
    primitives whose derivative is zero everywhere it exists (comparisons, ``sign``,
    ``floor``, ``stop_gradient``): differentiating traces evaluate them on the primal values
    and return an untraced result. ``symbolic_zero_cts`` lets the cotangent rule of a
    multiple-results primitive receive ``None`` for outputs with no cotangent instead of
    materialised zeros. ``residuals`` says what its cotangent rule reads, so reverse mode
    keeps no more: ``"all"``, ``"ans"`` (the output, and only the shapes and dtypes of the
    inputs), ``"primals"`` (the inputs, not the output) or ``"avals"`` (shapes and dtypes only).

    Example (docs/adding_a_primitive.md adds one with all its rules):
        >>> import numpy as np, functrans as ft
        >>> ft.nn.relu_p.name, ft.nn.relu_p.bind(np.array([-1.0, 2.0]))
        ('relu', array([0., 2.]))
    """

    __slots__ = ("name", "impl", "multiple_results", "differentiable", "symbolic_zero_cts",
                 "residuals")

    def __init__(self, name: str, impl: Callable[..., Any] | None = None, *,
                 multiple_results: bool = False, differentiable: bool = True,
                 symbolic_zero_cts: bool = False, residuals: str = "all"):
        self.name = name
        self.impl = impl if impl is not None else self._missing_impl
        self.multiple_results = multiple_results
        self.differentiable = differentiable
        self.symbolic_zero_cts = symbolic_zero_cts
        self.residuals = residuals

    def def_impl(self, impl: Callable[..., Any]) -> Callable[..., Any]:
        self.impl = impl
        return impl

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive: arrays positional, static metadata keyword-only."""
        if not _active:        # no transform running anywhere: straight to NumPy
            return self.impl(*args, **params) if params else self.impl(*args)
        trace = _state.trace
        if trace is EVAL:      # the rules of the lowest transform evaluate
            return self.impl(*args, **params) if params else self.impl(*args)
        return trace.process(self, args, params)

    def _missing_impl(self, *args: Any, **params: Any) -> Any:
        raise NotImplementedError(f"evaluation rule for '{self.name}' not registered: create the "
                                  f"primitive as Primitive(name, impl) or call {self.name}_p.def_impl(impl)")

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


class Trace:
    """An interpreter. ``process`` applies a primitive to values of this trace's level.

    A trace is ``alive`` while the transform that created it runs; a tracer of a dead trace
    is a leaked tracer.
    """

    __slots__ = ("parent", "transform", "alive", "__weakref__")

    def __init__(self, parent: Trace | None, transform: str):
        self.parent = parent
        self.transform = transform
        self.alive = True

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.process: a Trace subclass must implement "
                                  f"process(prim, args, params) to apply '{prim.name}'")


class EvalTrace(Trace):
    """The bottom of every stack: plain NumPy evaluation.

    A tracer that reaches it escaped its transform; NumPy hands it back to the tracer's
    protocols (``__array_ufunc__``, ``__array_function__``, ``__array__``), which raise
    :class:`LeakedTracerError`, so no check is needed on this hot path.
    """

    __slots__ = ()

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        return prim.impl(*args, **params)


def raise_leaked(tracer: Tracer, where: str) -> None:
    if tracer._trace.alive:      # its transform still runs, but not in this thread's stack
        raise LeakedTracerError(
            f"a value traced by `{tracer._trace.transform}` was used in '{where}' outside that "
            f"transform, which is still running in another thread (or was started elsewhere): "
            f"traced values cannot cross threads. Pass the concrete value instead (compute it "
            f"before the transform, or use ft.stop_gradient(x) and x.item() inside it).")
    raise LeakedTracerError(
        f"a value traced by `{tracer._trace.transform}` was used in '{where}' after that "
        f"transform returned (a leaked tracer). Return it from the transformed function as an "
        f"output (or as aux with has_aux=True) instead of storing it outside.")


def in_current_stack(trace: Trace) -> bool:
    """Whether ``trace`` is the current trace of this thread or one of its parents."""
    t: Trace | None = _state.trace
    while t is not None:
        if t is trace:
            return True
        t = t.parent
    return False


EVAL = EvalTrace(None, "eval")


class _TraceState(threading.local):
    def __init__(self) -> None:
        self.trace: Trace = EVAL


_state = _TraceState()

# The number of transforms running in all threads. While it is zero no tracer can be live,
# so ``bind`` skips the trace lookup: the eval fast path.
_active = 0
_active_lock = threading.Lock()


def current_trace() -> Trace:
    return _state.trace


def run_under(trace: Trace, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fun`` with ``trace`` current, restoring the previous trace even on error."""
    previous = _state.trace
    _state.trace = trace
    try:
        return fun(*args, **kwargs)
    finally:
        _state.trace = previous


def trace_call(trace: Trace, fun: Callable[..., Any], args: Any) -> Any:
    """Run a transform: ``fun(*args)`` with the new ``trace`` current, which dies on return."""
    global _active
    _active_lock.acquire()       # not ``with``: half the cost, and nothing between can raise
    _active += 1
    _active_lock.release()
    previous = _state.trace
    _state.trace = trace
    try:
        return fun(*args)
    finally:
        _state.trace = previous
        trace.alive = False
        _active_lock.acquire()
        _active -= 1
        _active_lock.release()


_NO_PARAMS: dict = {}     # shared by parameterless calls; never mutated


def op1(prim: Primitive, eval_impl: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """The function applying a one-argument primitive, with the eval fast path inlined (calling
    ``eval_impl``, e.g. NumPy's ufunc where the impl has shortcuts for internal values)."""
    impl = prim.impl if eval_impl is None else eval_impl

    def apply(x: Any) -> Any:
        if not _active:
            return impl(x)
        trace = _state.trace
        if trace is EVAL:
            return impl(x)
        return trace.process(prim, (x,), _NO_PARAMS)
    return apply


def op2(prim: Primitive, eval_impl: Callable[[Any, Any], Any] | None = None) -> Callable[[Any, Any], Any]:
    """The function applying a two-argument primitive, with the eval fast path inlined (calling
    ``eval_impl`` if given)."""
    impl = prim.impl if eval_impl is None else eval_impl

    def apply(x: Any, y: Any) -> Any:
        if not _active:
            return impl(x, y)
        trace = _state.trace
        if trace is EVAL:
            return impl(x, y)
        return trace.process(prim, (x, y), _NO_PARAMS)
    return apply


class Tracer:
    """A value being transformed. Subclasses belong to one trace and know its shape and dtype.

    Python operators, array methods and NumPy's protocols are attached by
    :mod:`functrans.numpy`, which is where the operations live.
    """

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    _trace: Trace
    shape: tuple
    dtype: Any

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        size = 1
        for d in self.shape:
            size *= d
        return size

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced value, shape ()); use x.shape "
                            "or x.size, which every traced value has")
        return self.shape[0]

    def concrete(self) -> Any:
        """The value as a NumPy array, if the trace knows it (raises ConcretizationError if not)."""
        raise ConcretizationError(
            f"a concrete value (bool, int or index) is needed but this value is abstract under "
            f"`{self._trace.transform}` (shape {self.shape}): avoid Python control flow and "
            f"conversions on it, e.g. select with functrans.numpy.where")

    def __bool__(self) -> bool:
        return bool(self.concrete())

    def __float__(self) -> float:
        return float(self.concrete())

    def __int__(self) -> int:
        return int(self.concrete())

    def __complex__(self) -> complex:
        return complex(self.concrete())

    def __index__(self) -> int:
        return self.concrete().__index__()

    def __hash__(self) -> int:
        raise TypeError(f"traced values are unhashable (like NumPy arrays), got a value traced by "
                        f"`{self._trace.transform}` as a dict key or set member; key by id(x) or a "
                        f"name instead")

    def __str__(self) -> str:
        try:
            return str(self.concrete())
        except (ConcretizationError, LeakedTracerError):
            return self._describe()

    def __format__(self, spec: str) -> str:
        """``f"{x:.3f}"`` formats the concrete value, where the trace knows it (as ``str``)."""
        if not spec:
            return str(self)
        return format(self.concrete(), spec)

    def __repr__(self) -> str:
        return self._describe()

    def _describe(self) -> str:
        return f"Traced<{self._trace.transform}>({self._payload()!r})"

    def _payload(self) -> Any:
        return None


class Aval:
    """The shape and dtype of an array, kept by reverse mode instead of the array itself when a
    cotangent rule needs no more (to unbroadcast, reshape or cast)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype: Any):
        self.shape = shape
        self.dtype = dtype


def aval_of(x: Any) -> Any:
    """``x``, or only its shape and dtype if it is a large array (small values cost nothing)."""
    return Aval(x.shape, x.dtype) if type(x) is np.ndarray and x.size >= 4096 else x


class PrimalTracer(Tracer):
    """A tracer that carries its value at the parent level (forward and reverse mode), so its
    shape, dtype and concrete value are the primal's."""

    __slots__ = ("primal",)

    primal: Any

    # A custom rule may give a Python number as a primal (an output or a residual); the
    # try is free for arrays, where a call of shape_of/dtype_of would cost every access.
    @property
    def shape(self) -> tuple:  # type: ignore[override]
        try:
            return self.primal.shape
        except AttributeError:
            return np.shape(self.primal)

    @property
    def dtype(self) -> Any:
        try:
            return self.primal.dtype
        except AttributeError:
            return np.result_type(self.primal)

    def concrete(self) -> Any:
        if not self._trace.alive:
            raise_leaked(self, "a conversion to a concrete value")
        return concrete_value(self.primal)

    def _payload(self) -> Any:
        return self.primal


def concrete_value(x: Any) -> Any:
    """``x`` with every layer of tracing removed (the primal NumPy value)."""
    return x.concrete() if isinstance(x, Tracer) else x


def shape_of(x: Any) -> tuple:
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def dtype_of(x: Any) -> Any:
    try:
        return x.dtype
    except AttributeError:
        return np.result_type(x)


# The two primitives the interpreters themselves need: accumulating fan-out tangents and
# cotangents, and materialising a symbolic zero. Their rules live with the others.
add_p = Primitive("add", np.add, residuals="avals")
zeros_like_p = Primitive("zeros_like", np.zeros_like, differentiable=False)


def add_any(x: Any, y: Any) -> Any:
    """Sum of two tangents or cotangents, either of which may be the symbolic zero ``None``."""
    if x is None:
        return y
    if y is None:
        return x
    return add_p.bind(x, y)


__all__ = ["Primitive", "Trace", "Tracer", "PrimalTracer", "Aval", "aval_of", "EvalTrace", "EVAL",
           "current_trace", "run_under",
           "concrete_value", "shape_of", "dtype_of", "raise_leaked", "in_current_stack",
           "add_p", "zeros_like_p",
           "add_any", "trace_call", "op1", "op2"]
