"""Gradient checkpointing: ``remat`` (alias ``checkpoint``), a call-primitive.

``remat_call`` evaluates ``fun``. Under reverse mode the VJP interpreter computes it at the
parent level, so ``fun``'s intermediates are never taped: the node keeps only the inputs and
outputs, and its vjp rule runs ``fun`` again under a fresh reverse trace, then that trace's
backward pass. The jvp and batching rules re-bind ``remat_call`` on the jvp / vmap of
``fun``, so a reverse trace further out still rematerialises.

Traced values that ``fun`` closes over are lifted into explicit operands (see
:func:`~functrans.custom_derivatives.closure_convert`), so ``remat(lambda x: x @ w)`` is
differentiated with respect to ``w`` too.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from . import core, tree
from . import primitives as P
from .batching import batch_rules
from .core import Primitive
from .custom_derivatives import (_check_no_tracers, _fn_name, batch_to_front, batched, closure_convert,
                                 is_tracer)
from .forward import jvp_flat, jvp_rules
from .reverse import backward, vjp_flat, vjp_rules

__all__ = ["remat", "checkpoint", "remat_p"]

remat_p = Primitive("remat_call", multiple_results=True, symbolic_zero_cts=True, residuals="primals")


def remat(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` with the same values and derivatives, whose intermediates reverse mode does not keep.

    During the backward pass ``fun`` runs again (on its saved inputs) to rebuild them: memory
    for time. Arguments and outputs may be pytrees; non-array arguments are static.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> layer = ft.remat(lambda w, x: fnp.tanh(x * w))
        >>> round(float(ft.grad(lambda w: layer(w, layer(w, 1.0)))(0.5)), 6)
        0.811253
    """
    if not callable(fun):
        raise TypeError(f"remat: expected a function, got {type(fun).__name__}")
    name = _fn_name(fun)
    # Calls whose leaves are all arrays share one flat function per argument structure, so a
    # tape of many remat nodes (one per layer) holds no per-call bookkeeping. Its output
    # structure is handed back through a per-thread box, set by every evaluation.
    shared: dict = {}
    box = threading.local()

    def shared_flat_fun(in_tree: Any) -> Callable[..., tuple]:
        def flat_fun(*operands: Any) -> tuple:
            a, kw = tree.unflatten(in_tree, operands)
            out_flat, box.out_tree = tree.flatten(fun(*a, **kw))
            return tuple(out_flat)
        return flat_fun

    @functools.wraps(fun)
    def rematted(*args: Any, **kwargs: Any) -> Any:
        if not core._active:               # nothing to differentiate: just call
            return fun(*args, **kwargs)
        flat, in_tree = tree.flatten((args, kwargs))
        mask = [_is_operand(x) for x in flat]
        rebuild, consts = closure_convert(fun, is_tracer)
        if rebuild is None and all(mask):
            cached = shared.get(in_tree)
            if cached is None:
                cached = shared[in_tree] = shared_flat_fun(in_tree)
            outs = remat_p.bind(*flat, fun=cached, name=name)
            return tree.unflatten(box.out_tree, list(outs))
        static = [None if m else x for x, m in zip(flat, mask)]
        n_args = sum(mask)
        out_trees: list = []

        def flat_fun(*operands: Any) -> tuple:
            it = iter(operands[:n_args])
            a, kw = tree.unflatten(in_tree, [next(it) if m else s for m, s in zip(mask, static)])
            f = fun if rebuild is None else rebuild(operands[n_args:])
            out_flat, out_tree = tree.flatten(f(*a, **kw))
            if not out_trees:
                out_trees.append(out_tree)
            return tuple(out_flat)
        operands = [x for x, m in zip(flat, mask) if m] + list(consts)
        outs = remat_p.bind(*operands, fun=flat_fun, name=name)
        return tree.unflatten(out_trees[0], list(outs))
    return rematted


checkpoint = remat


def _is_operand(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") or isinstance(x, (float, complex))


def _remat_impl(*args: Any, fun: Callable[..., tuple], name: str) -> tuple:
    outs = fun(*args)
    _check_no_tracers(outs, f"remat function '{name}'")
    return outs


remat_p.def_impl(_remat_impl)


def _remat_vjp(ct: tuple, ans: tuple, primals: list, params: dict, argnums: list) -> list:
    fun = params["fun"]

    def partial(*xs: Any) -> tuple:
        full = list(primals)
        for i, x in zip(argnums, xs):
            full[i] = x
        return fun(*full)
    outs, trace, in_slots = vjp_flat(partial, [primals[i] for i in argnums], "remat")
    return backward(trace, [trace.slot_of(o) for o in outs], list(ct), in_slots, consume=True)


def _remat_jvp(primals: list, tangents: list, *, fun: Callable[..., tuple], name: str) -> tuple:
    carries = [t is not None for t in tangents]
    n = len(primals)

    def fun_jvp(*xs: Any) -> tuple:
        ts = iter(xs[n:])
        outs, trace = jvp_flat(lambda *ps: fun(*ps), list(xs[:n]),
                               [next(ts) if c else None for c in carries], "jvp")
        pairs = [trace.unpack(o) for o in outs]
        return (tuple(p for p, _ in pairs)
                + tuple(P.zeros_like(p) if t is None else t for p, t in pairs))
    outs = remat_p.bind(*primals, *[t for t in tangents if t is not None], fun=fun_jvp, name=name)
    half = len(outs) // 2
    return list(outs[:half]), list(outs[half:])


def _remat_batch(axis_size: int, vals: list, dims: list, *, fun: Callable[..., tuple],
                 name: str) -> tuple:
    vals, dims = batch_to_front(vals, dims)
    fun_b = batched(fun, dims, axis_size)
    outs = remat_p.bind(*vals, fun=lambda *xs: tuple(fun_b(*xs)), name=name)
    return outs, [0] * len(outs)


vjp_rules[remat_p] = _remat_vjp
jvp_rules[remat_p] = _remat_jvp
batch_rules[remat_p] = _remat_batch
