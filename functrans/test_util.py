"""check_grads: compare every transform against central finite differences."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import tree
from .api import jvp, value_and_pullback
from .core import concrete_value, dtype_of


def _single(dtype: Any) -> bool:
    """float32, complex64 and narrower: looser tolerances and a larger step."""
    dtype = np.dtype(dtype)
    return (np.finfo(dtype).bits if dtype.kind in "fc" else 8 * dtype.itemsize) <= 32


def _tolerance(dtype: Any) -> float:
    return 5e-3 if _single(dtype) else 1e-5


def _random_like(rng: np.random.Generator, x: Any) -> Any:
    """A random direction like ``x``: with a random imaginary part too if ``x`` is complex."""
    x = np.asarray(x)
    r = rng.standard_normal(x.shape)
    if x.dtype.kind == "c":
        r = r + 1j * rng.standard_normal(x.shape)
    return r.astype(x.dtype)


def _wide(x: Any) -> np.ndarray:
    """``x`` as float64, or complex128 if it is complex (nothing is discarded)."""
    x = np.asarray(concrete_value(x))
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


def _inner(xs: list, ys: list) -> float:
    """The real inner product ``Re sum(conj(x) * y)`` (JAX's, for complex values)."""
    return float(sum(np.real(np.vdot(_wide(a), _wide(b))) for a, b in zip(xs, ys)))


def _check_close(what: str, got: list, want: list, atol: float, rtol: float) -> None:
    worst, where = 0.0, None
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = _wide(g), _wide(w)
        if g.shape != w.shape:
            raise AssertionError(f"{what}: leaf {k} has shape {g.shape}, expected {w.shape}")
        excess = np.abs(g - w) - (atol + rtol * np.abs(w))
        nan_mismatch = np.isnan(g) != np.isnan(w)
        if nan_mismatch.any():
            raise AssertionError(f"{what}: NaN mismatch in leaf {k}: got {g}, expected {w}")
        if excess.size and np.nanmax(excess) > worst:
            i = int(np.nanargmax(excess))
            worst, where = float(np.nanmax(excess)), (k, i, g.ravel()[i], w.ravel()[i])
    if where is not None:
        k, i, g, w = where
        raise AssertionError(f"{what}: worst mismatch at leaf {k}, element {i}: got {g!r}, "
                             f"expected {w!r} (|diff| exceeds atol + rtol*|expected| by {worst:.3g})")


def check_grads(fun: Callable[..., Any], args: Sequence[Any], order: int = 1,
                modes: Sequence[str] = ("fwd", "rev"), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None) -> None:
    """Check ``fun``'s derivatives up to ``order`` against central finite differences.

    Forward mode compares ``jvp`` with the finite difference along a random direction;
    reverse mode checks ``<ct, J t> == <pullback(ct), t>``. Higher orders apply the same
    checks to the jvp and the pullback themselves. Finite differences are taken in float64,
    so float32 functions are checked against an accurate reference. Raises
    ``AssertionError`` naming the worst mismatch.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.check_grads(fnp.sin, (0.5,), order=2)
    """
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: modes must contain 'fwd' and/or 'rev', got {mode!r}")
    rng = np.random.default_rng(0)
    args = tuple(tree.map(lambda a: a if hasattr(a, "dtype") else np.asarray(a), arg)
                 for arg in args)     # pytree arguments (dicts, tuples, ...) keep their structure
    _check(fun, args, order, tuple(modes), atol, rtol, eps, rng)


def _cast_like(values: Any, like: Any) -> Any:
    """``values`` with the dtypes of ``like`` (finite differences evaluate in float64)."""
    return tree.map(lambda v, x: np.asarray(v).astype(dtype_of(x)), values, like)


def _pulled_back(fun: Callable[..., Any], args: tuple, ct: Any) -> Any:
    """``pullback(ct)`` at ``args``, ``ct`` cast to the output's dtypes (finite differences
    evaluate in float64, and a pullback refuses a cotangent of another dtype)."""
    out, pullback = value_and_pullback(fun, *args)
    return pullback(_cast_like(ct, out))


def _check(fun: Callable[..., Any], args: tuple, order: int, modes: tuple, atol: Any, rtol: Any,
           eps: Any, rng: np.random.Generator) -> None:
    flat, in_tree = tree.flatten(args)
    dtype = np.result_type(*[np.asarray(concrete_value(x)).dtype for x in flat])
    tol = _tolerance(dtype)
    atol_ = tol if atol is None else atol
    rtol_ = tol if rtol is None else rtol
    step = (1e-3 if _single(dtype) else 1e-4) if eps is None else eps
    tangents = tree.unflatten(in_tree, [_random_like(rng, concrete_value(x)) for x in flat])

    def numerical_jvp() -> list:
        x64 = [_wide(x) for x in flat]
        t64 = [_wide(t) for t in tree.leaves(tangents)]
        plus = fun(*tree.unflatten(in_tree, [x + step * t for x, t in zip(x64, t64)]))
        minus = fun(*tree.unflatten(in_tree, [x - step * t for x, t in zip(x64, t64)]))
        return [(_wide(p) - _wide(m)) / (2 * step)
                for p, m in zip(tree.leaves(plus), tree.leaves(minus))]

    expected = numerical_jvp()
    if "fwd" in modes:
        _, t_out = jvp(fun, args, tuple(tangents))
        _check_close("jvp vs finite differences", tree.leaves(t_out), expected, atol_, rtol_)
        if order > 1:
            _check(lambda *a: jvp(fun, a, _cast_like(tangents, a))[1], args, order - 1, modes, atol, rtol,
                   eps, rng)
    if "rev" in modes:
        out, pullback = value_and_pullback(fun, *args)
        out_flat, out_tree = tree.flatten(out)
        ct = tree.unflatten(out_tree, [_random_like(rng, concrete_value(o)) for o in out_flat])
        # As JAX's check_vjp: <t, conj(pullback(conj(ct)))> == <J t, ct>, real parts of
        # conjugate-linear inner products, so complex functions are checked in full.
        in_cts = tree.leaves(pullback(tree.map(np.conj, ct)))
        got = _inner(tree.leaves(tangents), [np.conj(_wide(c)) for c in in_cts])
        want = _inner(expected, tree.leaves(ct))
        _check_close("vjp (<pullback(ct), t> vs <ct, finite-difference J t>)", [np.float64(got)],
                     [np.float64(want)], atol_ * max(1.0, len(in_cts)), rtol_)
        if order > 1:
            _check(lambda *a: _pulled_back(fun, a, ct), args, order - 1, modes, atol, rtol, eps, rng)
