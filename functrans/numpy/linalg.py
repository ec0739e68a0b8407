"""functrans.numpy.linalg: NumPy's linear algebra, differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import primitives as P
from ..batching import batch_rules
from ..core import Primitive, add_any
from ..forward import defjvp, jvp_rules
from ..reverse import backward, defvjp, defvjp_all, vjp_flat, vjp_rules
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




# ---------------------------------------------------------------------------------------
# Matrix functions as primitives. NumPy's implementations work on stacks (..., n, n), so one
# batching rule serves them all: batch axes to the front, apply, outputs batched on axis 0.
# Rules use matrix products over the last two axes, so they work on stacks too.

_mT = P._mT
_eye_like = lambda a: np.eye(P.shape_of(a)[-1], dtype=P.dtype_of(a))  # noqa: E731


def _stacked_batch(prim: Primitive) -> None:
    def batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        moved = [P.bdim_to_front(v, d, axis_size) for v, d in zip(vals, dims)]
        out = prim.bind(*moved, **params)
        return out, ((0,) * len(out) if prim.multiple_results else 0)
    batch_rules[prim] = batch


def _tr(x: Any) -> Any:
    """Trace over the last two axes (of a stack of matrices)."""
    return P.reduce_sum(P.mul(x, _eye_like(x)), (P.ndim_of(x) - 2, P.ndim_of(x) - 1))


inv_p = Primitive("inv", np.linalg.inv)
defjvp(inv_p, lambda t, ans, a: P.neg(P.matmul(P.matmul(ans, t), ans)))
defvjp(inv_p, lambda ct, ans, a: P.neg(P.matmul(P.matmul(_mT(ans), ct), _mT(ans))))
_stacked_batch(inv_p)


def inv(a: Any) -> Any:
    """The inverse of a square matrix (or of each matrix in a stack).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.linalg.inv(a)[0, 0])(fnp.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[-0.25, -0.  ],
               [-0.  , -0.  ]])
    """
    return inv_p.bind(a)


solve_p = Primitive("solve", np.linalg.solve)   # b is a matrix (..., n, k) here


def _solve_vjp_b(ct: Any, ans: Any, a: Any, b: Any) -> Any:
    return P.unbroadcast(solve_p.bind(_mT(a), ct), b)


defjvp(solve_p, lambda t, ans, a, b: P.neg(solve_p.bind(a, P.matmul(t, ans))),
       lambda t, ans, a, b: solve_p.bind(a, t))
defvjp(solve_p, lambda ct, ans, a, b: P.unbroadcast(P.neg(P.matmul(solve_p.bind(_mT(a), ct), _mT(ans))), a),
       _solve_vjp_b)
_stacked_batch(solve_p)


def solve(a: Any, b: Any) -> Any:
    """The solution ``x`` of ``a @ x = b`` (``b`` a vector or a matrix, as in NumPy).

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.solve(fnp.array([[2.0, 0.0], [0.0, 4.0]]), fnp.array([2.0, 2.0]))
        array([1. , 0.5])
    """
    if ndim(b) == 1:
        return P.reshape(solve_p.bind(a, P.expand_dims(b, -1)), P.shape_of(b))
    return solve_p.bind(a, b)


slogdet_p = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), multiple_results=True,
                      symbolic_zero_cts=True)


def _slogdet_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    sign, logdet = slogdet_p.bind(a)
    return (sign, logdet), (P.zeros_like(sign), _tr(solve_p.bind(a, t)))


def _slogdet_vjp(ct: tuple, ans: tuple, a: Any) -> list:
    _, ct_logdet = ct
    if ct_logdet is None:
        return [None]
    return [P.mul(P.expand_dims(P.expand_dims(ct_logdet, -1), -1), _mT(inv(a)))]


jvp_rules[slogdet_p] = _slogdet_jvp
defvjp_all(slogdet_p, _slogdet_vjp)
_stacked_batch(slogdet_p)


def slogdet(a: Any) -> tuple:
    """``(sign, log|det a|)``; the sign has zero derivative.

    Example:
        >>> import functrans.numpy as fnp
        >>> sign, logdet = fnp.linalg.slogdet(fnp.array([[2.0, 0.0], [0.0, 3.0]]))
        >>> float(sign), round(float(logdet), 6)
        (1.0, 1.791759)
    """
    return tuple(slogdet_p.bind(a))


det_p = Primitive("det", np.linalg.det)
defjvp(det_p, lambda t, ans, a: P.mul(ans, _tr(solve_p.bind(a, t))))
defvjp(det_p, lambda ct, ans, a: P.mul(P.expand_dims(P.expand_dims(P.mul(ct, ans), -1), -1), _mT(inv(a))))
_stacked_batch(det_p)


def det(a: Any) -> Any:
    """The determinant.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.linalg.det)(fnp.array([[2.0, 1.0], [1.0, 3.0]]))
        array([[ 3., -1.],
               [-1.,  2.]])
    """
    return det_p.bind(a)


def _sym(x: Any) -> Any:
    return P.mul(P.add(x, _mT(x)), 0.5)


def _triangles(x: Any) -> tuple:
    n = P.shape_of(x)[-1]
    dtype = P.dtype_of(x)
    return np.tril(np.ones((n, n), dtype)), np.tril(np.ones((n, n), dtype), -1)


def _seen(t: Any) -> Any:
    """The symmetric matrix NumPy's cholesky/eigh read from ``t``: its lower triangle mirrored."""
    lower, strict = _triangles(t)
    return P.add(P.mul(t, lower), _mT(P.mul(t, strict)))


def _seen_transpose(g: Any) -> Any:
    """Adjoint of :func:`_seen` for a symmetric gradient ``g``: the lower triangle, off-diagonal
    entries counted twice (they stand for both mirrored entries)."""
    lower, strict = _triangles(g)
    return P.add(P.mul(g, lower), P.mul(g, strict))


def _lower_half(x: Any) -> Any:
    """Φ: the strictly lower triangle plus half the diagonal (Cholesky's derivative)."""
    n = P.shape_of(x)[-1]
    weights = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    return P.mul(x, weights.astype(P.dtype_of(x)))


cholesky_p = Primitive("cholesky", np.linalg.cholesky)


def _cholesky_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    low = cholesky_p.bind(a)
    # dL = L Φ(L⁻¹ dS L⁻ᵀ), dS the symmetric matrix read from dA's lower triangle.
    inner = solve_p.bind(low, _mT(solve_p.bind(low, _seen(t))))
    return low, P.matmul(low, _lower_half(inner))


def _cholesky_vjp(ct: Any, low: Any, a: Any) -> Any:
    # Ā = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, symmetrised (Murray 2016).
    phi = _lower_half(P.matmul(_mT(low), ct))
    inner = solve_p.bind(_mT(low), _mT(solve_p.bind(_mT(low), _mT(phi))))
    return _seen_transpose(_sym(_mT(inner)))


jvp_rules[cholesky_p] = _cholesky_jvp
defvjp(cholesky_p, _cholesky_vjp)
_stacked_batch(cholesky_p)


def cholesky(a: Any) -> Any:
    """The lower Cholesky factor ``L`` of a symmetric positive definite ``a = L Lᵀ``.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]]))
        array([[2., 0.],
               [1., 2.]])
    """
    return cholesky_p.bind(a)


eigh_p = Primitive("eigh", lambda a: tuple(np.linalg.eigh(a)), multiple_results=True,
                   symbolic_zero_cts=True)


def _eig_gaps(w: Any) -> Any:
    """F with F[i, j] = 1 / (w[j] - w[i]) off the diagonal and 0 on it."""
    diff = P.sub(P.expand_dims(w, -2), P.expand_dims(w, -1))
    n = P.shape_of(w)[-1]
    off = ~np.eye(n, dtype=bool)
    return P.where(off, P.div(1.0, P.where(off, diff, 1.0)), 0.0)


def _eigh_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    w, v = eigh_p.bind(a)
    vt_dA_v = P.matmul(_mT(v), P.matmul(_seen(t), v))
    dw = P.reduce_sum(P.mul(vt_dA_v, _eye_like(vt_dA_v)), (P.ndim_of(vt_dA_v) - 1,))
    dv = P.matmul(v, P.mul(_eig_gaps(w), vt_dA_v))
    return (w, v), (dw, dv)


def _eigh_vjp(ct: tuple, ans: tuple, a: Any) -> list:
    w_bar, v_bar = ct
    w, v = ans
    inner = None
    if w_bar is not None:
        inner = P.mul(P.expand_dims(w_bar, -1), _eye_like(v))
    if v_bar is not None:   # only eigenvectors bring the 1/(wj - wi) terms
        inner = add_any(inner, P.mul(_eig_gaps(w), P.matmul(_mT(v), v_bar)))
    return [_seen_transpose(_sym(P.matmul(v, P.matmul(inner, _mT(v)))))]


jvp_rules[eigh_p] = _eigh_jvp
defvjp_all(eigh_p, _eigh_vjp)
_stacked_batch(eigh_p)


def eigh(a: Any, UPLO: str = "L") -> tuple:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix.

    Gradients of functions of the eigenvalues alone stay finite at repeated eigenvalues.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(lambda a: fnp.sum(fnp.linalg.eigh(a)[0]))(fnp.eye(2))
        array([[1., 0.],
               [0., 1.]])
    """
    if UPLO != "L":
        raise ValueError(f"eigh: only UPLO='L' is supported, got {UPLO!r}")
    return tuple(eigh_p.bind(a))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) of a symmetric matrix.

    Only the ``UPLO`` triangle is read, so the derivative lands there: the off-diagonal entry
    of the lower triangle stands for both symmetric positions.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> a = np.array([[2.0, 1.0], [1.0, 2.0]])
        >>> fnp.linalg.eigvalsh(a)
        array([1., 3.])
        >>> ft.grad(lambda a: fnp.linalg.eigvalsh(a)[1])(a)      # v v^T folded onto the lower triangle
        array([[0.5, 0. ],
               [1. , 0.5]])
    """
    return eigh(a, UPLO)[0]




def _vjp_by_transposing(prim: Primitive) -> None:
    """Cotangent rule from the tangent rule: the jvp is linear in the tangent, so pulling the
    cotangent back through it (reverse mode over the tangent map) is the transpose."""
    def vjp(ct: Any, ans: Any, primals: list, params: dict, argnums: list) -> list:
        def tangent_map(t: Any) -> Any:
            return tuple(jvp_rules[prim](list(primals), [t], **params)[1])
        outs, trace, in_slots = vjp_flat(tangent_map, [P.zeros_like(primals[0])])
        return backward(trace, [trace.slot_of(o) for o in outs], list(ct), in_slots)
    vjp_rules[prim] = vjp


svd_p = Primitive("svd", lambda a: tuple(np.linalg.svd(a, full_matrices=False)), multiple_results=True,
                  symbolic_zero_cts=True)


def _svd_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    u, s, vh = svd_p.bind(a)
    v = _mT(vh)
    dp = P.matmul(_mT(u), P.matmul(t, v))                       # Uᵀ dA V, (k, k)
    ds = P.reduce_sum(P.mul(dp, _eye_like(dp)), (P.ndim_of(dp) - 1,))
    s_row, s_col = P.expand_dims(s, -2), P.expand_dims(s, -1)
    f = _eig_gaps(P.mul(s, s))                                   # 1 / (s_j² - s_i²)
    du = P.matmul(u, P.mul(f, P.add(P.mul(dp, s_row), P.mul(s_col, _mT(dp)))))
    dv = P.matmul(v, P.mul(f, P.add(P.mul(s_col, dp), P.mul(_mT(dp), s_row))))
    m, n = P.shape_of(a)[-2:]
    if m > n:       # the part of dA outside the span of U
        du = P.add(du, P.div(P.sub(P.matmul(t, v), P.matmul(u, dp)), s_row))
    if n > m:
        dv = P.add(dv, P.div(P.sub(P.matmul(_mT(t), u), P.matmul(v, _mT(dp))), s_row))
    return (u, s, vh), (du, ds, _mT(dv))


jvp_rules[svd_p] = _svd_jvp
_vjp_by_transposing(svd_p)
_stacked_batch(svd_p)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition ``a = U diag(S) Vh`` (derivatives need distinct singular
    values, and ``full_matrices=False`` when ``a`` is not square).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> a = fnp.array([[3.0, 0.0], [0.0, -2.0]])
        >>> ft.grad(lambda a: fnp.sum(fnp.linalg.svd(a, compute_uv=False)))(a)
        array([[ 1.,  0.],
               [ 0., -1.]])
    """
    m, n = P.shape_of(a)[-2:]
    if full_matrices and compute_uv and m != n:
        raise ValueError(f"svd: full_matrices=True of a non-square {m}x{n} matrix is not supported "
                         f"(its extra singular vectors are not determined); pass full_matrices=False")
    u, s, vh = svd_p.bind(a)
    return (u, s, vh) if compute_uv else s


qr_p = Primitive("qr", lambda a: tuple(np.linalg.qr(a)), multiple_results=True, symbolic_zero_cts=True)


def _qr_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    q, r = qr_p.bind(a)
    # With C = Qᵀ dA R⁻¹: Ω = tril(C, -1) - tril(C, -1)ᵀ, dR = (C - Ω) R, dQ = Q Ω + (dA - Q Qᵀ dA) R⁻¹.
    dar = _mT(solve_p.bind(_mT(r), _mT(t)))                      # dA R⁻¹
    c = P.matmul(_mT(q), dar)
    _, strict = _triangles(c)
    low = P.mul(c, strict)
    omega = P.sub(low, _mT(low))
    dr = P.matmul(P.sub(c, omega), r)
    dq = P.add(P.matmul(q, omega), P.sub(dar, P.matmul(q, c)))
    return (q, r), (dq, dr)


jvp_rules[qr_p] = _qr_jvp
_vjp_by_transposing(qr_p)
_stacked_batch(qr_p)


def qr(a: Any, mode: str = "reduced") -> tuple:
    """The reduced QR decomposition ``a = Q R`` of a matrix with at least as many rows as columns.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> q, r = fnp.linalg.qr(fnp.array([[3.0, 0.0], [4.0, 5.0]]))
        >>> bool(np.allclose(q @ r, [[3.0, 0.0], [4.0, 5.0]]))
        True
    """
    m, n = P.shape_of(a)[-2:]
    if mode != "reduced" or m < n:
        raise ValueError(f"qr: only mode='reduced' of a matrix with rows >= columns is supported, got "
                         f"mode={mode!r} for a {m}x{n} matrix")
    return tuple(qr_p.bind(a))


__all__ = ["norm", "inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "qr"]
