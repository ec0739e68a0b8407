"""Batching: the vmap interpreter and the helpers that register batching rules.

A :class:`BatchTracer` holds a value of the parent trace with one extra axis, ``bdim``, the
batch axis. Values without a batch axis are never wrapped, and a primitive with no batched
argument goes straight to the parent. A rule receives ``(axis_size, values, dims, **params)``
(``dims[i]`` is ``None`` for an unbatched argument) and returns ``(out, out_dim)``. Rules
move the batch axis only when they must.
"""

from __future__ import annotations

from typing import Any, Callable

from .core import Primitive, Trace, Tracer, _state, trace_call
from .errors import ConcretizationError

batch_rules: dict[Primitive, Callable[..., Any]] = {}


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def shape(self) -> tuple:  # type: ignore[override]
        shape = self.val.shape
        return shape[:self.bdim] + shape[self.bdim + 1:]

    @property
    def dtype(self) -> Any:  # type: ignore[override]
        return self.val.dtype

    def concrete(self) -> Any:
        raise ConcretizationError(
            f"a concrete value (bool, int or index) is needed of a value batched by `vmap`, "
            f"which holds one value per example (shape {self.shape}, batch axis {self.bdim} "
            f"of {self.val.shape}). Python control flow cannot branch per example: use "
            f"functrans.numpy.where(condition, x, y) to select elementwise instead.")

    def _payload(self) -> Any:
        return self.val


class BatchTrace(Trace):
    __slots__ = ("axis_size",)

    def __init__(self, parent: Trace, axis_size: int, transform: str = "vmap"):
        super().__init__(parent, transform)
        self.axis_size = axis_size

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        vals = []
        dims = []
        found = False
        for x in args:
            if type(x) is BatchTracer and x._trace is self:
                vals.append(x.val)
                dims.append(x.bdim)
                found = True
            else:
                vals.append(x)
                dims.append(None)
        parent = self.parent
        if not found:
            return parent.process(prim, vals, params)
        rule = batch_rules.get(prim)
        if rule is None:
            raise NotImplementedError(f"batching rule for '{prim.name}' not registered: register one "
                                      f"with batching.batch_rules[prim] = rule "
                                      f"(see docs/adding_a_primitive.md)")
        previous = _state.trace
        _state.trace = parent
        try:
            out, out_dim = rule(self.axis_size, vals, dims, **params)
        finally:
            _state.trace = previous
        if prim.multiple_results:
            return tuple(self.lift(o, d) for o, d in zip(out, out_dim))
        return self.lift(out, out_dim)

    def lift(self, val: Any, bdim: int | None) -> Any:
        return val if bdim is None else BatchTracer(self, val, bdim)

    def unpack(self, x: Any) -> tuple[Any, int | None]:
        if type(x) is BatchTracer and x._trace is self:
            return x.val, x.bdim
        return x, None


def vmap_flat(fun: Callable[..., Any], args: list, dims: list, axis_size: int,
              transform: str = "vmap") -> tuple[Any, BatchTrace]:
    """Run ``fun`` with ``args[i]`` batched along ``dims[i]`` (``None``: unbatched)."""
    trace = BatchTrace(_state.trace, axis_size, transform)
    out = trace_call(trace, fun, [trace.lift(a, d) for a, d in zip(args, dims)])
    return out, trace


__all__ = ["BatchTrace", "BatchTracer", "batch_rules", "vmap_flat"]
