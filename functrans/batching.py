"""Batching: the vmap interpreter and the helpers that register batching rules.

A :class:`BatchTracer` holds a value of the parent trace with one extra axis, ``bdim``, the
batch axis. Values without a batch axis are never wrapped, and a primitive with no batched
argument goes straight to the parent. A rule receives ``(axis_size, values, dims, **params)``
(``dims[i]`` is ``None`` for an unbatched argument) and returns ``(out, out_dim)``. Rules
move the batch axis only when they must.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import math

import numpy as np

from .core import EVAL, Primitive, Trace, Tracer, _state, dtype_of, trace_call
from .errors import ConcretizationError

batch_rules: dict[Primitive, Callable[..., Any]] = {}
_new = object.__new__
# Rules that keep scalings symbolic (see ScaledTracer): ``rule(trace, vals, dims, **params)``
# sees ScaledTracers among the (otherwise unwrapped) values and returns a ScaledTracer,
# ``(out, out_dim)``, or ``None`` to have them materialised and the batching rule run.
scaled_rules: dict[Primitive, Callable[..., Any]] = {}
# Rules that may start a pending scaling when no operand is scaled yet (products, masks), of
# a value of at least DEFER_SIZE elements (a smaller product costs less made at once).
defer_rules: dict[Primitive, Callable[..., Any]] = {}
DEFER_SIZE = 4096


def _unscaled(vals: list, trace: Trace) -> list:
    """``vals`` with ``trace``'s scaled tracers replaced by their values (out of
    ``BatchTrace.process``, where a comprehension would make ``self`` a closure cell)."""
    return [x.val if type(x) is ScaledTracer and x._trace is trace else x for x in vals]


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    _trace: BatchTrace

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def shape(self) -> tuple:  # type: ignore[override]
        bdim = self.bdim
        if bdim == 0:
            return self.val.shape[1:]
        shape = self.val.shape
        return shape[:bdim] + shape[bdim + 1:]

    @property
    def dtype(self) -> Any:
        return self.val.dtype

    def concrete(self) -> Any:
        raise ConcretizationError(
            f"a concrete value (bool, int or index) is needed of a value batched by `vmap`, "
            f"which holds one value per example (shape {self.shape}, batch axis {self.bdim} "
            f"of {self.val.shape}). Python control flow cannot branch per example: use "
            f"functrans.numpy.where(condition, x, y) to select elementwise instead.")

    def _payload(self) -> Any:
        return self.val


class ScaledTracer(BatchTracer):
    """A batched value times a pending unbatched ``scale``: ``base * scale``, made on first use.

    ``base`` is a dense batched value (batch axis ``bdim``) or ``None``: the one-hot basis of
    a Jacobian (batch axis 0), whose example ``i`` is zero except ``scale`` at element
    ``trace.basis_start + i`` of its trailing axes, at every index of its ``lead`` leading
    axes (the examples of ``batch_jacobian``, which share it). A chunk of the basis is a
    window of its rows: ``basis_start`` is the first, ``trace.axis_size`` how many. A chain
    of elementwise scalings then costs one pass over the batch, not one per operation, and a
    product with the basis is a scaling of the other factor, not a dense product with an
    identity. Any primitive without a rule in ``scaled_rules`` sees the materialised value.
    ``unit``: the basis itself (scale all ones).
    """

    __slots__ = ("base", "scale", "lead", "unit", "_dense")

    def __init__(self, trace: BatchTrace, base: Any, bdim: int, scale: Any, lead: int = 0,
                 unit: bool = False):
        self._trace = trace
        self.base = base
        self.bdim = bdim
        self.scale = scale
        self.lead = lead
        self.unit = unit
        self._dense = None

    @property
    def shape(self) -> tuple:  # type: ignore[override]
        if self.base is None:
            return tuple(self.scale.shape)     # an array (or tracer) of the basis' shape
        shape = self.base.shape
        return shape[:self.bdim] + shape[self.bdim + 1:]

    @property
    def dtype(self) -> Any:
        return dtype_of(self.scale if self.base is None else self.base)

    @property
    def val(self) -> Any:
        if self._dense is None:
            if self.base is None:
                self._dense = self._basis()
            else:   # the product replaces its factor, which can then be freed (one array, not two)
                self._dense = self.base = dense = self._scaled()
                self.scale = np.ones((), dtype_of(dense))
        return self._dense

    def _scaled(self) -> Any:
        from .primitives import mul_p
        out, _ = batch_rules[mul_p](self._trace.axis_size, [self.base, self.scale], [self.bdim, None])
        return out

    def _basis(self) -> Any:
        """The dense basis rows ``(k, *shape)``, exactly zero off the one-hot elements."""
        shape, d = self.shape, self.scale
        lead_shape, own = shape[:self.lead], shape[self.lead:]
        n, m = math.prod(own), math.prod(lead_shape)
        k, start = self._trace.axis_size, self._trace.basis_start
        if type(d) is np.ndarray:
            dense = np.zeros((k, m, n), dtype=d.dtype)
            hits = np.arange(k)
            dense[hits, :, start + hits] = d.reshape(m, n)[:, start:start + k].T
            return dense.reshape((k,) + shape)
        from .primitives import where      # a tracer of an enclosing transform
        eye = np.eye(k, n, start, dtype=bool).reshape((k,) + (1,) * self.lead + own)
        return where(eye, d, np.zeros((), d.dtype))


class BatchTrace(Trace):
    # A trace of :func:`vmap_basis` maps basis rows from ``basis_start``; ``checked`` keeps
    # what its rules learnt of the values they multiply by the basis, for the next chunk.
    __slots__ = ("axis_size", "basis_start", "checked")

    parent: Trace        # a transform always runs above another trace

    def __init__(self, parent: Trace, axis_size: int, transform: str = "vmap",
                 basis_start: int = 0, checked: dict | None = None):
        self.parent = parent           # Trace.__init__ inlined: one or more traces per call
        self.transform = transform
        self.alive = True
        self.axis_size = axis_size
        self.basis_start = basis_start
        self.checked = checked

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        # Most calls have no batched argument (the primal half of a jvp under vmap): they
        # leave after one cheap pass over the arguments.
        for x in args:
            if (type(x) is BatchTracer or type(x) is ScaledTracer) and x._trace is self:
                break
        else:
            parent = self.parent
            if parent is not EVAL:
                return parent.process(prim, args, params)
            return prim.impl(*args, **params) if params else prim.impl(*args)
        vals = list(args)
        dims: list = [None] * len(args)
        scaled = large = False
        for i, x in enumerate(args):
            kind = type(x)
            if (kind is BatchTracer or kind is ScaledTracer) and x._trace is self:
                dims[i] = x.bdim
                if kind is BatchTracer:
                    vals[i] = val = x.val
                    large = large or type(val) is not np.ndarray or val.size >= DEFER_SIZE
                else:
                    scaled = True
        parent = self.parent
        rule = batch_rules.get(prim)
        if rule is None:
            raise NotImplementedError(f"batching rule for '{prim.name}' not registered: register one "
                                      f"with batching.batch_rules[prim] = rule "
                                      f"(see docs/adding_a_primitive.md)")
        previous = _state.trace
        _state.trace = parent
        try:
            symbolic = scaled_rules.get(prim) if scaled else defer_rules.get(prim) if large else None
            if symbolic is not None:
                result = symbolic(self, vals, dims, **params)
                if result is not None:
                    if type(result) is ScaledTracer:
                        return result
                    out, out_dim = result
                    return out if out_dim is None else BatchTracer(self, out, out_dim)
            if scaled:
                vals = _unscaled(vals, self)
            # (an empty ``**params`` costs as much as the rest of a call: most have none)
            out, out_dim = rule(self.axis_size, vals, dims, **params) if params else rule(
                self.axis_size, vals, dims)
        finally:
            _state.trace = previous
        if prim.multiple_results:
            return tuple(map(self.lift, out, out_dim))   # (not a comprehension: self would be a cell)
        if out_dim is None:
            return out
        tracer = _new(BatchTracer)      # BatchTracer(self, out, out_dim) without the __init__ call
        tracer._trace = self
        tracer.val = out
        tracer.bdim = out_dim
        return tracer

    def lift(self, val: Any, bdim: int | None) -> Any:
        return val if bdim is None else BatchTracer(self, val, bdim)

    def unpack(self, x: Any) -> tuple[Any, int | None]:
        if type(x) in (BatchTracer, ScaledTracer) and x._trace is self:
            return x.val, x.bdim
        return x, None


def vmap_flat(fun: Callable[..., Any], args: list, dims: list, axis_size: int,
              transform: str = "vmap") -> tuple[Any, BatchTrace]:
    """Run ``fun`` with ``args[i]`` batched along ``dims[i]`` (``None``: unbatched)."""
    trace = BatchTrace(_state.trace, axis_size, transform)
    out = trace_call(trace, fun, [trace.lift(a, d) for a, d in zip(args, dims)])
    return out, trace


def vmap_basis(fun: Callable[..., Any], x: Any, lead: int = 0, start: int = 0,
               stop: int | None = None, checked: dict | None = None) -> tuple[Any, BatchTrace]:
    """Run ``fun`` on rows ``start:stop`` of the one-hot basis of ``x``'s elements after its
    ``lead`` axes (whose indices all share it), batched on axis 0 and kept symbolic
    (:class:`ScaledTracer`): a chunk of the basis is never materialised either. The chunks
    of one Jacobian share ``checked`` (``None``: one chunk, nothing to remember)."""
    shape = tuple(x.shape)
    n = math.prod(shape[lead:])
    trace = BatchTrace(_state.trace, (n if stop is None else stop) - start, basis_start=start,
                       checked=checked)
    diag = np.empty(shape, dtype=x.dtype)          # np.ones, without its Python-level wrapper
    diag.fill(1)
    return trace_call(trace, fun, [ScaledTracer(trace, None, 0, diag, lead, unit=True)]), trace


__all__ = ["BatchTrace", "BatchTracer", "ScaledTracer", "batch_rules", "scaled_rules", "defer_rules",
           "DEFER_SIZE",
           "vmap_flat",
           "vmap_basis"]
