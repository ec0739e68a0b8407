"""Batching: the vmap interpreter and the helpers that register batching rules.

A :class:`BatchTracer` holds a value of the parent trace with one extra axis, ``bdim``, the
batch axis. Values without a batch axis are never wrapped, and a primitive with no batched
argument goes straight to the parent. A rule receives ``(axis_size, values, dims, **params)``
(``dims[i]`` is ``None`` for an unbatched argument) and returns ``(out, out_dim)``. Rules
move the batch axis only when they must.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .core import Primitive, Trace, Tracer, _state, dtype_of, shape_of, trace_call
from .errors import ConcretizationError

batch_rules: dict[Primitive, Callable[..., Any]] = {}
# Rules that keep a one-hot basis symbolic: ``rule(trace, vals, dims, **params)`` returns a
# BasisTracer, ``(out, out_dim)``, or ``None`` to have the basis materialised instead.
basis_rules: dict[Primitive, Callable[..., Any]] = {}


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


class BasisTracer(BatchTracer):
    """A one-hot basis batched on axis 0, kept symbolic (the input of a Jacobian).

    Example ``i`` is zero except ``diag`` at the ``i``-th element of its trailing axes, at
    every index of its ``lead`` leading axes (the examples of ``batch_jacobian``, which share
    the basis). Elementwise scalings keep it symbolic (``basis_rules``) and a product consumes
    it at the cost of a scaling, not of a dense product with an identity; every other
    primitive sees the dense basis, made once.
    """

    __slots__ = ("diag", "lead", "_dense")

    def __init__(self, trace: BatchTrace, diag: Any, lead: int):
        self._trace = trace
        self.diag = diag
        self.lead = lead
        self.bdim = 0
        self._dense = None

    @property
    def shape(self) -> tuple:  # type: ignore[override]
        return tuple(shape_of(self.diag))

    @property
    def dtype(self) -> Any:  # type: ignore[override]
        return dtype_of(self.diag)

    @property
    def val(self) -> Any:  # type: ignore[override]
        """The dense basis ``(n, *shape)``, made on first use (exactly: zeros off the one-hot)."""
        if self._dense is None:
            shape, d = self.shape, self.diag
            lead_shape, own = shape[:self.lead], shape[self.lead:]
            n, m = int(np.prod(own, dtype=np.int64)), int(np.prod(lead_shape, dtype=np.int64))
            if type(d) is np.ndarray:
                dense = np.zeros((n, m, n), dtype=d.dtype)
                hits = np.arange(n)
                dense[hits, :, hits] = d.reshape(m, n).T
                self._dense = dense.reshape((n,) + shape)
            else:                           # a tracer of an enclosing transform
                from .primitives import where
                eye = np.eye(n, dtype=bool).reshape((n,) + (1,) * self.lead + own)
                self._dense = where(eye, d, np.zeros((), d.dtype))
        return self._dense

    def same_basis(self, other: Any) -> bool:
        return (type(other) is BasisTracer and other._trace is self._trace
                and other.lead == self.lead and other.shape == self.shape)


class BatchTrace(Trace):
    __slots__ = ("axis_size",)

    def __init__(self, parent: Trace, axis_size: int, transform: str = "vmap"):
        super().__init__(parent, transform)
        self.axis_size = axis_size

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        vals = []
        dims = []
        found = basis = False
        for x in args:
            if type(x) is BatchTracer and x._trace is self:
                vals.append(x.val)
                dims.append(x.bdim)
                found = True
            elif type(x) is BasisTracer and x._trace is self:
                vals.append(x)
                dims.append(0)
                found = basis = True
            else:
                vals.append(x)
                dims.append(None)
        parent = self.parent
        if not found:
            return parent.process(prim, vals, params)
        rule = batch_rules.get(prim)
        if rule is None:
            raise NotImplementedError(f"batching rule for '{prim.name}' not registered")
        previous = _state.trace
        _state.trace = parent
        try:
            if basis:
                symbolic = basis_rules.get(prim)
                result = None if symbolic is None else symbolic(self, vals, dims, **params)
                if result is not None:
                    return result if type(result) is BasisTracer else self.lift(*result)
                vals = [x.val if type(x) is BasisTracer else x for x in vals]
            out, out_dim = rule(self.axis_size, vals, dims, **params)
        finally:
            _state.trace = previous
        if prim.multiple_results:
            return tuple(self.lift(o, d) for o, d in zip(out, out_dim))
        return self.lift(out, out_dim)

    def lift(self, val: Any, bdim: int | None) -> Any:
        return val if bdim is None else BatchTracer(self, val, bdim)

    def unpack(self, x: Any) -> tuple[Any, int | None]:
        if type(x) in (BatchTracer, BasisTracer) and x._trace is self:
            return x.val, x.bdim
        return x, None


def vmap_flat(fun: Callable[..., Any], args: list, dims: list, axis_size: int,
              transform: str = "vmap") -> tuple[Any, BatchTrace]:
    """Run ``fun`` with ``args[i]`` batched along ``dims[i]`` (``None``: unbatched)."""
    trace = BatchTrace(_state.trace, axis_size, transform)
    out = trace_call(trace, fun, [trace.lift(a, d) for a, d in zip(args, dims)])
    return out, trace


def vmap_basis(fun: Callable[..., Any], x: Any, lead: int = 0) -> tuple[Any, BatchTrace]:
    """Run ``fun`` on the one-hot basis of ``x``'s elements after its ``lead`` axes (whose
    indices all share it), batched on axis 0 and kept symbolic (:class:`BasisTracer`)."""
    shape = tuple(shape_of(x))
    trace = BatchTrace(_state.trace, int(np.prod(shape[lead:], dtype=np.int64)))
    diag = np.ones(shape, dtype=dtype_of(x))
    return trace_call(trace, fun, [BasisTracer(trace, diag, lead)]), trace


__all__ = ["BatchTrace", "BatchTracer", "BasisTracer", "batch_rules", "basis_rules", "vmap_flat",
           "vmap_basis"]
