"""functrans.numpy.linalg: NumPy's linear algebra, differentiable."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import core as _core
from .. import primitives as P
from ..batching import batch_rules
from ..core import Primitive, add_any
from ..errors import ConcretizationError
from ..forward import defjvp, jvp_rules
from ..reverse import backward, defvjp, defvjp_all, vjp_flat, vjp_rules
from . import _axes, _concrete, ndim, normalize_axis
from . import abs as _abs, max as _max, min as _min, sqrt as _sqrt, sum as _sum
from . import count_nonzero, cross, diagonal as _diagonal, matmul, outer, tensordot, trace as _trace



# NumPy's named result tuples (``w, v = eigh(a)`` and ``eigh(a).eigenvalues`` both work);
# plain tuples where NumPy returns plain tuples.
_EighResult = type(np.linalg.eigh(np.eye(1)))
_SlogdetResult = type(np.linalg.slogdet(np.eye(1)))
_SVDResult = type(np.linalg.svd(np.eye(1)))
_QRResult = type(np.linalg.qr(np.eye(1)))


def _result(kind: type, values: Any) -> tuple:
    make = getattr(kind, "_make", None)
    return make(values) if make is not None else tuple(values)

def _safe_sqrt_of(s: Any) -> Any:
    """``sqrt(s)`` whose derivative is 0 (not NaN) where ``s`` is 0: the norm's convention."""
    zero = P.eq(s, 0)
    return P.where(zero, 0.0, _sqrt(P.where(zero, 1.0, s)))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """NumPy's vector and matrix norms, with ``ord``, ``axis`` (an int or a 2-tuple) and
    ``keepdims``.

    Vector ``ord``: None or 2, 1, inf, -inf, 0 (the count of non-zeros) or any p (negative
    too); matrix ``ord``: None or 'fro', 'nuc', 1, -1, 2, -2, inf, -inf ('nuc' and ±2 are
    the singular values', so their derivatives need distinct ones). The gradient of the
    2-norm and Frobenius norm at zero is 0 (see the conventions in API.md).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> float(fnp.linalg.norm(fnp.array([3.0, 4.0])))
        5.0
        >>> ft.grad(fnp.linalg.norm)(fnp.zeros(2))
        array([0., 0.])
    """
    if not _core._active:
        return np.linalg.norm(x, ord, axis, keepdims)
    if P.dtype_of(x).kind in "biu":                 # NumPy's norms of integers are floats
        x = P.convert_element_type(x, np.float64)
    n = ndim(x)
    if axis is None:
        if ord is not None and n not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} needs a 1-d or 2-d array when axis is None, got {n}-d")
        axes = tuple(range(n))
        if ord is None:
            return _keep(_safe_sqrt_of(_sum(_abs2(x))), n, axes, keepdims)
    else:
        given = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = tuple(normalize_axis(int(a), n, "axis") for a in given)
        if len(set(axes)) != len(axes) or len(axes) not in (1, 2):
            raise ValueError(f"norm: axis must be an int or a 2-tuple of distinct axes, got {axis}")
    out = _vector_norm(x, ord, axes[0]) if len(axes) == 1 else _matrix_norm(x, ord, *axes)
    return _keep(out, n, axes, keepdims)


def _abs2(x: Any) -> Any:
    """``|x|**2``, real also for complex ``x`` (where ``x * x`` is not)."""
    return P.real(x * P.conj(x)) if P.dtype_of(x).kind == "c" else x * x


def _keep(out: Any, n: int, axes: tuple, keepdims: bool) -> Any:
    """``out`` with the reduced ``axes`` back as length-1 axes when ``keepdims``."""
    if not keepdims:
        return out
    shape = list(P.shape_of(out))
    for a in sorted(axes):
        shape.insert(a, 1)
    return P.reshape(out, tuple(shape))


def _vector_norm(x: Any, ord: Any, axis: int) -> Any:  # noqa: A002
    if ord is None or ord == 2:
        return _safe_sqrt_of(_sum(_abs2(x), axis=axis))
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == float("inf"):
        return _max(_abs(x), axis=axis)
    if ord == -float("inf"):
        return _min(_abs(x), axis=axis)
    if ord == 0:
        real = np.finfo(P.dtype_of(x)).dtype        # float64 for complex128, as NumPy
        return _sum(P.convert_element_type(P.ne(x, 0), real), axis=axis)
    if ord == 1:
        return _sum(_abs(x), axis=axis)
    return _sum(_abs(x) ** ord, axis=axis) ** (1.0 / ord)


def _matrix_norm(x: Any, ord: Any, row: int, col: int) -> Any:  # noqa: A002
    if ord in (None, "fro"):
        return _safe_sqrt_of(_sum(_abs2(x), axis=(row, col)))
    if ord in ("nuc", 2, -2):
        s = svdvals(_to_last_two(x, row, col))
        return _sum(s, axis=-1) if ord == "nuc" else (_max if ord == 2 else _min)(s, axis=-1)
    if ord in (1, -1, float("inf"), -float("inf")):
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        extremum = _max if ord in (1, float("inf")) else _min
        return extremum(_sum(_abs(x), axis=summed), axis=other - (other > summed))
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


def _to_last_two(x: Any, row: int, col: int) -> Any:
    n = P.ndim_of(x)
    return P.transpose(x, tuple(i for i in range(n) if i not in (row, col)) + (row, col))


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:  # noqa: A002
    """The array API's vector norm: over all axes (flattened) when ``axis`` is None.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> v = np.array([3.0, 4.0])
        >>> fnp.linalg.vector_norm(v), ft.grad(fnp.linalg.vector_norm)(v)
        (np.float64(5.0), array([0.6, 0.8]))
    """
    if not _core._active:
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    if axis is None:
        out = _vector_norm(P.reshape(x, (-1,)), ord, 0)
        return _keep(out, ndim(x), tuple(range(ndim(x))), keepdims)
    if isinstance(axis, tuple) and len(axis) != 1:
        axes = _axes(axis, ndim(x))
        moved = P.transpose(x, tuple(i for i in range(ndim(x)) if i not in axes) + axes)
        out = _vector_norm(P.reshape(moved, P.shape_of(moved)[:ndim(x) - len(axes)] + (-1,)), ord, -1)
        return _keep(out, ndim(x), axes, keepdims)
    return norm(x, ord, axis, keepdims)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:  # noqa: A002
    """The array API's matrix norm over the last two axes.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> m = np.array([[3.0, 1.0], [1.0, 3.0]])
        >>> fnp.linalg.matrix_norm(m), ft.grad(fnp.linalg.matrix_norm)(m)
        (np.float64(4.47213595499958), array([[0.67082039, 0.2236068 ],
               [0.2236068 , 0.67082039]]))
    """
    if not _core._active:
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    return norm(x, ord, (-2, -1), keepdims)


# ---------------------------------------------------------------------------------------
# Matrix functions as primitives. NumPy's implementations work on stacks (..., n, n), so one
# batching rule serves them all: batch axes to the front, apply, outputs batched on axis 0.
# Rules use matrix products over the last two axes, so they work on stacks too.

_mT = P._mT
_eye_like = lambda a: np.eye(P.shape_of(a)[-1], dtype=P.dtype_of(a))  # noqa: E731


def _stacked_batch(prim: Primitive) -> None:
    def batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        if len(vals) == 1:
            moved = [P.bdim_to_front(vals[0], dims[0], axis_size)]
        else:
            # NumPy broadcasts the stack axes of several operands from the right, so a batched
            # operand with fewer of them than another gets length-1 axes after its batch axis
            # (solve(a of (B, n, n), b of (B, 2, n, k)) pairs a[i] with both b[i, j]); an
            # unbatched one broadcasts as it is.
            rank = max(P.ndim_of(v) - (d is not None) for v, d in zip(vals, dims))
            moved = []
            for v, d in zip(vals, dims):
                if d is not None:
                    v = P.moveaxis(v, d, 0)
                    pad = rank + 1 - P.ndim_of(v)
                    if pad:
                        v = P.reshape(v, P.shape_of(v)[:1] + (1,) * pad + P.shape_of(v)[1:])
                moved.append(v)
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
    """The solution ``x`` of ``a @ x = b``, with NumPy 2's broadcasting: a 1-d ``b`` (M,) is
    one vector for every matrix of a stack ``a`` (..., M, M); otherwise ``b`` is a stack of
    matrices (..., M, K) whose stack axes broadcast against ``a``'s.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.solve(fnp.array([[2.0, 0.0], [0.0, 4.0]]), fnp.array([2.0, 2.0]))
        array([1. , 0.5])
    """
    if not _core._active:
        return np.linalg.solve(a, b)
    if ndim(b) == 1:     # NumPy 2: only a 1-d b is a vector (a stack of them with a stack of a)
        x = solve_p.bind(a, P.expand_dims(b, -1))
        return P.reshape(x, P.shape_of(x)[:-1])
    return solve_p.bind(a, b)



def _real_only(name: str, a: Any) -> None:
    """The derivative rules of these decompositions are for real matrices: a complex one
    raises rather than get a silently wrong derivative."""
    if np.dtype(P.dtype_of(a)).kind == "c":
        raise TypeError(f"functrans.numpy.linalg.{name}: derivatives with respect to a complex "
                        f"matrix are not supported (got dtype {P.dtype_of(a)}); its values are. "
                        f"Differentiate with respect to the real and imaginary parts of a real "
                        f"formulation, or use ft.stop_gradient on the matrix")


slogdet_p = Primitive("slogdet", lambda a: tuple(np.linalg.slogdet(a)), multiple_results=True,
                      symbolic_zero_cts=True)


def _slogdet_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    _real_only("slogdet", a)
    sign, logdet = slogdet_p.bind(a)
    return (sign, logdet), (P.zeros_like(sign), _tr(solve_p.bind(a, t)))


def _slogdet_vjp(ct: tuple, ans: tuple, a: Any) -> list:
    _, ct_logdet = ct
    if ct_logdet is None:
        return [None]
    _real_only("slogdet", a)
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
    return _result(_SlogdetResult, slogdet_p.bind(a))


def _vjp_by_transposing(prim: Primitive) -> None:
    """Cotangent rule from the tangent rule: the jvp is linear in the tangent, so pulling the
    cotangent back through it (reverse mode over the tangent map) is the transpose."""
    many = prim.multiple_results

    def vjp(ct: Any, ans: Any, primals: list, params: dict, argnums: list) -> list:
        def tangent_map(t: Any) -> Any:
            out = jvp_rules[prim](list(primals), [t], **params)[1]
            return tuple(out) if many else (out,)
        outs, trace, in_slots = vjp_flat(tangent_map, [P.zeros_like(primals[0])])
        return backward(trace, [trace.slot_of(o) for o in outs], list(ct) if many else [ct], in_slots)
    vjp_rules[prim] = vjp


def _expand2(x: Any) -> Any:
    """``x[..., None, None]``: a value per matrix, to scale a stack of matrices."""
    return P.expand_dims(P.expand_dims(x, -1), -1)


def _cofactor_impl(a: Any) -> Any:
    """The cofactor matrix ``adj(a)ᵀ``: ``det(a) a⁻ᵀ`` from one LU where every matrix is well
    conditioned (or holds a NaN or inf, which that propagates), else from the SVD
    ``a = U diag(s) Vh``: ``det(U) det(Vh) · conj(U) diag(p) conj(Vh)`` with ``p_i`` the
    product of the other singular values, exact at singular matrices too (~30x the LU)."""
    a = np.asarray(a)
    inverse, conditioned = _inverse_if_conditioned(a)
    if inverse is not None and (conditioned.all() or not np.isfinite(a).all()):
        return np.linalg.det(a)[..., None, None] * np.swapaxes(inverse, -1, -2)
    u, s, vh = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    phase = np.linalg.det(u) * np.linalg.det(vh)
    if u.dtype.kind == "c":
        u, vh = np.conj(u), np.conj(vh)
    else:
        phase = np.sign(phase)
    return np.asarray(phase)[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)


def _inverse_if_conditioned(a: np.ndarray) -> tuple[Any, Any]:
    """``(a⁻¹, whether each matrix's 1-norm condition number is below 1e8)``, ``(None, all
    False)`` for an exactly singular stack: one LU, where an SVD would cost ~30x."""
    with np.errstate(all="ignore"):
        try:
            inverse = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return None, np.zeros(a.shape[:-2], bool)
        cond = np.linalg.norm(a, 1, axis=(-2, -1)) * np.linalg.norm(inverse, 1, axis=(-2, -1))
    return inverse, cond < 1e8


def _well_conditioned_impl(a: Any) -> Any:
    return _inverse_if_conditioned(np.asarray(a))[1]


cofactor_p = Primitive("cofactor", _cofactor_impl)
# Whether each matrix is far from singular: there the cofactor's tangent is written with
# solves (differentiable again to any order); elsewhere it has a closed form from the SVD.
well_conditioned_p = Primitive("well_conditioned", _well_conditioned_impl, differentiable=False)


def _pair_products(s: Any) -> Any:
    """``Q[..., i, k]``: the product of the singular values other than ``s_i`` and ``s_k``
    (i ≠ k), 0 on the diagonal. Without division, so exact where singular values are zero."""
    n = P.shape_of(s)[-1]
    eye = np.eye(n, dtype=bool)
    skip = eye[:, None, :] | eye[None, :, :]                    # [i, k, j]: j is i or k
    q = P.reduce_prod(P.where(skip, 1.0, P.expand_dims(P.expand_dims(s, -2), -2)), (P.ndim_of(s) + 1,))
    return P.mul(q, (~eye).astype(P.dtype_of(s)))


def _cofactor_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    cof = cofactor_p.bind(a)
    try:
        invertible = bool(_concrete(well_conditioned_p.bind(a), "cofactor").all())
    except ConcretizationError:     # batched by vmap: the closed form holds for every example
        invertible = False
    if invertible:                  # d(det a⁻ᵀ) = C tr(X) - C Xᵀ with X = a⁻¹ dA
        x = solve_p.bind(a, t)
        return cof, P.sub(P.mul(cof, _expand2(_tr(x))), P.matmul(cof, _mT(x)))
    # a = U S Vh, T = Uᴴ dA Vhᴴ: d adj(a) = c V N Uᴴ with N = diag(Q diag(T)) - Q ∘ T, Q the
    # pair products, c = det(U) det(Vh); a polynomial in s, so it holds at singular a.
    u, s, vh = svd_p.bind(a)
    complex_ = P.dtype_of(u).kind == "c"
    h = (lambda x: P.conj(_mT(x))) if complex_ else _mT
    phase = P.mul(det_p.bind(u), det_p.bind(vh))
    if not complex_:
        phase = P.sign(phase)
    tt = P.matmul(h(u), P.matmul(t, h(vh)))
    q = _pair_products(s)
    eye = _eye_like(tt)
    diag = P.reduce_sum(P.mul(tt, eye), (P.ndim_of(tt) - 1,))
    qd = P.reduce_sum(P.mul(q, P.expand_dims(diag, -2)), (P.ndim_of(q) - 1,))
    n_mat = P.sub(P.mul(P.expand_dims(qd, -1), eye), P.mul(q, tt))
    if complex_:
        u, vh = P.conj(u), P.conj(vh)
    return cof, P.mul(_expand2(phase), P.matmul(u, P.matmul(_mT(n_mat), vh)))


jvp_rules[cofactor_p] = _cofactor_jvp
_vjp_by_transposing(cofactor_p)
_stacked_batch(cofactor_p)
_stacked_batch(well_conditioned_p)

det_p = Primitive("det", np.linalg.det)
# d det = <adj(a)ᵀ, dA>: through the cofactor matrix, defined also where a is singular
# (grad det [[1, 2], [2, 4]] = [[4, -2], [-2, 1]]), where det · a⁻ᵀ is not.
defjvp(det_p, lambda t, ans, a: P.reduce_sum(P.mul(cofactor_p.bind(a), t),
                                             (P.ndim_of(t) - 2, P.ndim_of(t) - 1)))
defvjp(det_p, lambda ct, ans, a: P.mul(_expand2(ct), cofactor_p.bind(a)))
_stacked_batch(det_p)


def det(a: Any) -> Any:
    """The determinant. Its gradient is the cofactor matrix ``adj(a)ᵀ``, also at a singular
    matrix; second derivatives are exact everywhere, higher ones need a well-conditioned ``a``
    or distinct singular values.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.linalg.det)(fnp.array([[2.0, 1.0], [1.0, 3.0]])).round(12)
        array([[ 3., -1.],
               [-1.,  2.]])
        >>> ft.grad(fnp.linalg.det)(fnp.array([[1.0, 2.0], [2.0, 4.0]])).round(12)  # singular
        array([[ 4., -2.],
               [-2.,  1.]])
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
    _real_only("cholesky", a)
    low = cholesky_p.bind(a)
    # dL = L Φ(L⁻¹ dS L⁻ᵀ), dS the symmetric matrix read from dA's lower triangle.
    inner = solve_p.bind(low, _mT(solve_p.bind(low, _seen(t))))
    return low, P.matmul(low, _lower_half(inner))


def _cholesky_vjp(ct: Any, low: Any, a: Any) -> Any:
    _real_only("cholesky", a)
    # Ā = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, symmetrised (Murray 2016).
    phi = _lower_half(P.matmul(_mT(low), ct))
    inner = solve_p.bind(_mT(low), _mT(solve_p.bind(_mT(low), _mT(phi))))
    return _seen_transpose(_sym(_mT(inner)))


jvp_rules[cholesky_p] = _cholesky_jvp
defvjp(cholesky_p, _cholesky_vjp)
_stacked_batch(cholesky_p)


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """The lower Cholesky factor ``L`` of a symmetric positive definite ``a = L Lᵀ``, or with
    ``upper=True`` (NumPy 2) the upper one ``U = Lᴴ`` with ``a = Uᴴ U``. Only the lower
    (``upper=True``: the upper) triangle of ``a`` is read, as NumPy, so the derivative lands
    there.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]]))
        array([[2., 0.],
               [1., 2.]])
        >>> fnp.linalg.cholesky(fnp.array([[4.0, 2.0], [2.0, 5.0]]), upper=True)
        array([[2., 1.],
               [0., 2.]])
    """
    if not _core._active:
        return np.linalg.cholesky(a, upper=upper)
    if not upper:
        return cholesky_p.bind(a)
    # The upper triangle of a is the lower one of its conjugate transpose; U = Lᴴ.
    h = (lambda x: P.conj(_mT(x))) if np.dtype(P.dtype_of(a)).kind == "c" else _mT
    return h(cholesky_p.bind(h(a)))


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
    _real_only("eigh", a)
    w, v = eigh_p.bind(a)
    vt_dA_v = P.matmul(_mT(v), P.matmul(_seen(t), v))
    dw = P.reduce_sum(P.mul(vt_dA_v, _eye_like(vt_dA_v)), (P.ndim_of(vt_dA_v) - 1,))
    dv = P.matmul(v, P.mul(_eig_gaps(w), vt_dA_v))
    return (w, v), (dw, dv)


def _eigh_vjp(ct: tuple, ans: tuple, a: Any) -> list:
    _real_only("eigh", a)
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
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if UPLO == "U":     # the upper triangle of a is the lower one of its conjugate transpose
        a = P.conj(_mT(a)) if np.dtype(P.dtype_of(a)).kind == "c" else _mT(a)
    return _result(_EighResult, eigh_p.bind(a))


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
    if not _core._active and UPLO == "L":     # NumPy's, without the eigenvectors
        return np.linalg.eigvalsh(a)
    return eigh(a, UPLO)[0]




svd_p = Primitive("svd", lambda a, full_matrices=False: tuple(np.linalg.svd(a, full_matrices=full_matrices)),
                  multiple_results=True, symbolic_zero_cts=True)


def _svd_jvp(primals: list, tangents: list, full_matrices: bool = False) -> tuple:
    (a,), (t,) = primals, tangents
    _real_only("svd", a)
    m, n = P.shape_of(a)[-2:]
    if full_matrices and m != n:
        raise ValueError(f"svd: derivatives of the singular vectors with full_matrices=True of a "
                         f"non-square {m}x{n} matrix are not supported (its {abs(m - n)} extra "
                         f"{'columns of U' if m > n else 'rows of Vh'} are any orthonormal completion, "
                         f"not functions of the matrix); pass full_matrices=False, or "
                         f"compute_uv=False for the singular values alone")
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
_svd_vjp_reduced = vjp_rules[svd_p]


def _svd_vjp(ct: Any, ans: Any, primals: list, params: dict, argnums: list) -> list:
    """With full_matrices=True of a non-square matrix only the singular values have a
    derivative, ``Ā = U_k diag(S̄) Vh_k`` (k = min(m, n)): used when U and Vh have none."""
    (a,) = primals
    m, n = P.shape_of(a)[-2:]
    u_bar, s_bar, vh_bar = ct
    if not (params.get("full_matrices") and m != n) or u_bar is not None or vh_bar is not None:
        return _svd_vjp_reduced(ct, ans, primals, params, argnums)   # (the jvp rule raises if full)
    _real_only("svd", a)
    u_k, _, vh_k = svd_p.bind(a)   # the reduced factors again: differentiable, unlike the full ones
    return [P.matmul(P.mul(u_k, P.expand_dims(s_bar, -2)), vh_k)]


vjp_rules[svd_p] = _svd_vjp
_stacked_batch(svd_p)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U diag(S) Vh``, with NumPy's defaults (full
    matrices: U is m×m and Vh n×n) and ``hermitian`` (from ``eigh`` of the lower triangle).

    Derivatives need distinct singular values. Of a non-square matrix with
    ``full_matrices=True`` only the singular values have one (in reverse mode; the extra
    singular vectors are not functions of the matrix): differentiating U or Vh raises, so
    pass ``full_matrices=False``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> a = fnp.array([[3.0, 0.0], [0.0, -2.0]])
        >>> ft.grad(lambda a: fnp.sum(fnp.linalg.svd(a, compute_uv=False)))(a)
        array([[ 1.,  0.],
               [ 0., -1.]])
        >>> [m.shape for m in fnp.linalg.svd(fnp.ones((3, 2)))]
        [(3, 3), (2,), (2, 2)]
    """
    if not _core._active:
        return np.linalg.svd(a, full_matrices, compute_uv, hermitian)  # type: ignore[call-overload]
    if hermitian:
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return svd_p.bind(a)[1]
    m, n = P.shape_of(a)[-2:]
    out = svd_p.bind(a, full_matrices=True) if full_matrices and m != n else svd_p.bind(a)
    return _result(_SVDResult, out)


def _hermitian_svd(a: Any, compute_uv: bool) -> Any:
    """NumPy's svd(hermitian=True): from eigh, singular values |λ| in descending order, the
    signs of the eigenvalues moved into Vh."""
    from . import argsort, take_along_axis
    w, v = eigh_p.bind(a)
    order = P.getitem(argsort(_abs(w), axis=-1), (Ellipsis, slice(None, None, -1)))
    s = take_along_axis(_abs(w), order, axis=-1)
    if not compute_uv:
        return s
    sign = take_along_axis(P.where(P.signbit(w), -1.0, 1.0), order, axis=-1)    # copysign: 0 is +
    u = take_along_axis(v, P.expand_dims(order, -2), axis=-1)
    vh = _mT(P.mul(u, P.expand_dims(sign, -2)))
    return _result(_SVDResult, (u, s, P.conj(vh) if P.dtype_of(vh).kind == "c" else vh))


qr_p = Primitive("qr", lambda a, mode="reduced": tuple(np.linalg.qr(a, mode=mode)), multiple_results=True,
                 symbolic_zero_cts=True)


def _qr_tall_jvp(q: Any, r: Any, t: Any) -> tuple:
    # With C = Qᵀ dA R⁻¹: Ω = tril(C, -1) - tril(C, -1)ᵀ, dR = (C - Ω) R, dQ = Q Ω + (dA - Q Qᵀ dA) R⁻¹.
    dar = _mT(solve_p.bind(_mT(r), _mT(t)))                      # dA R⁻¹
    c = P.matmul(_mT(q), dar)
    _, strict = _triangles(c)
    low = P.mul(c, strict)
    omega = P.sub(low, _mT(low))
    dr = P.matmul(P.sub(c, omega), r)
    dq = P.add(P.matmul(q, omega), P.sub(dar, P.matmul(q, c)))
    return dq, dr


def _qr_jvp(primals: list, tangents: list, mode: str = "reduced") -> tuple:
    (a,), (t,) = primals, tangents
    _real_only("qr", a)
    m, n = P.shape_of(a)[-2:]
    if mode == "raw":
        raise ValueError("qr: derivatives of mode='raw' (NumPy's Householder reflectors) are not "
                         "supported; use mode='reduced' (or 'r') for differentiable factors")
    if mode == "complete" and m > n:
        raise ValueError(f"qr: derivatives with mode='complete' of a tall {m}x{n} matrix are not "
                         f"supported (its {m - n} extra columns of Q are any orthonormal completion, "
                         f"not functions of the matrix); pass mode='reduced'")
    q, r = qr_p.bind(a)
    if m >= n:
        return (q, r), _qr_tall_jvp(q, r, t)
    # Wide, a = [A1 A2] with A1 square: Q, R1 are the QR of A1 and R2 = Qᵀ A2 (NumPy's
    # Householder steps see only the first m columns), so dR2 = dQᵀ A2 + Qᵀ dA2.
    first, rest = (Ellipsis, slice(None), slice(0, m)), (Ellipsis, slice(None), slice(m, None))
    dq, dr1 = _qr_tall_jvp(q, P.getitem(r, first), P.getitem(t, first))
    dr2 = P.add(P.matmul(_mT(dq), P.getitem(a, rest)), P.matmul(_mT(q), P.getitem(t, rest)))
    return (q, r), (dq, P.concatenate([dr1, dr2], P.ndim_of(r) - 1))


jvp_rules[qr_p] = _qr_jvp
_vjp_by_transposing(qr_p)
_stacked_batch(qr_p)


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR decomposition ``a = Q R`` in NumPy's modes: 'reduced' (Q m×k, R k×n with
    k = min(m, n)), 'complete' (Q m×m, R m×n), 'r' (R alone) and 'raw' (NumPy's Householder
    form ``(h, tau)``, values only).

    Derivatives (real matrices of full rank): 'reduced' and 'r' of any shape, 'complete'
    unless the matrix is tall (its extra columns of Q are not functions of the matrix).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> q, r = fnp.linalg.qr(fnp.array([[3.0, 0.0], [4.0, 5.0]]))
        >>> bool(np.allclose(q @ r, [[3.0, 0.0], [4.0, 5.0]]))
        True
        >>> fnp.linalg.qr(np.ones((3, 2)), mode="complete").Q.shape
        (3, 3)
    """
    if not _core._active:
        return np.linalg.qr(a, mode=mode)  # type: ignore[call-overload]
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw', got {mode!r}")
    m, n = P.shape_of(a)[-2:]
    if mode == "r":
        return qr_p.bind(a)[1]
    if mode == "raw":
        return tuple(qr_p.bind(a, mode="raw"))
    if mode == "complete" and m > n:
        return _result(_QRResult, qr_p.bind(a, mode="complete"))
    return _result(_QRResult, qr_p.bind(a))


eig_p = Primitive("eig", lambda a: tuple(np.linalg.eig(a)), multiple_results=True, symbolic_zero_cts=True)


def _eig_jvp(primals: list, tangents: list) -> tuple:
    (a,), (t,) = primals, tangents
    w, v = eig_p.bind(a)
    complex_v = P.dtype_of(v).kind == "c"
    if P.dtype_of(t) != P.dtype_of(v):       # a real matrix with complex eigenvalues
        t = P.convert_element_type(t, P.dtype_of(v))
    # M = V⁻¹ dA V. The rows of V⁻¹ are the left eigenvectors u_iᴴ scaled to u_iᴴ v_i = 1, so
    # M's diagonal is dλ_i = u_iᴴ dA v_i / u_iᴴ v_i; off it, M gives dV = V (F ∘ M).
    m = solve_p.bind(v, P.matmul(t, v))
    rows = P.ndim_of(m) - 2
    dw = P.reduce_sum(P.mul(m, _eye_like(m)), (rows + 1,))
    dv = P.matmul(v, P.mul(_eig_gaps(w), m))
    # plus v_i c_i, which keeps NumPy's normalisation: |v_i| = 1 (Re c_i = -Re v_iᴴ dv_i) and,
    # for complex vectors, the largest component v_ki real (Im c_i = -Im(dv_ki / v_ki)).
    c = P.neg(P.real(P.reduce_sum(P.mul(P.conj(v), dv), (rows,))))
    if complex_v:
        k = P.argreduce_p.bind(P.abs(v), axis=rows, keepdims=True, impl=np.argmax)
        top = P.eq(np.arange(P.shape_of(v)[-2]).reshape(-1, 1), k)
        ratio = P.div(P.reduce_sum(P.mask(dv, top), (rows,)), P.reduce_sum(P.mask(v, top), (rows,)))
        c = P.sub(c, P.mul(P.imag(ratio), 1j))
    return (w, v), (dw, P.add(dv, P.mul(v, P.expand_dims(c, -2))))


jvp_rules[eig_p] = _eig_jvp
_vjp_by_transposing(eig_p)
_stacked_batch(eig_p)


def eigvals(a: Any) -> Any:
    """The eigenvalues of a square matrix (or of each in a stack), in NumPy's order: complex,
    unless all are real (as NumPy). Derivatives need distinct eigenvalues: ``dλ_i = u_iᴴ dA
    v_i / u_iᴴ v_i`` with ``u_i``, ``v_i`` the left and right eigenvectors.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> a = np.array([[0.0, -2.0], [2.0, 0.0]])
        >>> fnp.linalg.eigvals(a)
        array([0.+2.j, 0.-2.j])
        >>> ft.grad(lambda a: fnp.linalg.eigvals(a)[0])(np.array([[2.0, 1.0], [0.0, 1.0]]))  # u v^T
        array([[1., 0.],
               [1., 0.]])
    """
    if not _core._active:
        return np.linalg.eigvals(a)
    return eig_p.bind(a)[0]


def svdvals(x: Any, /) -> Any:
    """The singular values (descending) of a matrix or of each matrix in a stack.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> m = np.array([[3.0, 1.0], [1.0, 3.0]])
        >>> fnp.linalg.svdvals(m), ft.grad(lambda a: fnp.linalg.svdvals(a)[0])(np.diag([2.0, 1.0]))
        (array([4., 2.]), array([[1., 0.],
               [0., 0.]]))
    """
    if not _core._active:
        return np.linalg.svdvals(x)
    return svd_p.bind(x)[1]


# ---------------------------------------------------------------------------------------
# Composite functions, with NumPy's algorithms (so values agree to rounding).

def _inverse_singular_values(s: Any, rcond: Any) -> Any:
    """``1/s`` where ``s`` exceeds ``rcond`` times the largest singular value, else 0."""
    large = P.gt(s, P.mul(rcond, _max(s, axis=-1, keepdims=True)))
    return P.where(large, P.div(1.0, P.where(large, s, 1.0)), P.zeros_like(s))


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """The Moore-Penrose pseudo-inverse, from the SVD (NumPy's cutoff ``rcond`` = 1e-15 relative
    to the largest singular value; ``rtol`` as in NumPy). Differentiable where the rank is
    constant and the singular values are distinct. ``hermitian=True`` reads only the lower
    triangle (NumPy's eigh), so the derivative lands there.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.pinv(fnp.array([[2.0, 0.0], [0.0, 0.0]]))
        array([[0.5, 0. ],
               [0. , 0. ]])
    """
    if not _core._active:
        return (np.linalg.pinv(a, rcond, hermitian) if rtol is None   # NumPy's rtol=None differs
                else np.linalg.pinv(a, rcond, hermitian, rtol=rtol))  # from no rtol
    if rcond is None:
        rcond = 1e-15 if rtol is None else rtol
    if hermitian:   # NumPy's: eigh of the lower triangle, cut off at rcond · max |λ|
        w, v = eigh_p.bind(a)
        large = P.gt(_abs(w), P.mul(rcond, _max(_abs(w), axis=-1, keepdims=True)))
        w_inv = P.where(large, P.div(1.0, P.where(large, w, 1.0)), P.zeros_like(w))
        vh = P.conj(_mT(v)) if P.dtype_of(v).kind == "c" else _mT(v)
        return P.matmul(P.mul(v, P.expand_dims(w_inv, -2)), vh)
    u, s, vh = svd_p.bind(a)
    s_inv = _inverse_singular_values(s, rcond)
    return P.matmul(_mT(vh), P.mul(P.expand_dims(s_inv, -1), _mT(u)))


def matrix_power(a: Any, n: int) -> Any:
    """``a`` to the integer power ``n`` (negative: of the inverse), by NumPy's repeated squaring.

    Example:
        >>> import functrans.numpy as fnp
        >>> fnp.linalg.matrix_power(fnp.array([[2.0, 0.0], [0.0, 3.0]]), -1)
        array([[0.5       , 0.        ],
               [0.        , 0.33333333]])
    """
    if not _core._active:
        return np.linalg.matrix_power(a, n)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    shape = P.shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"matrix_power: expected a stack of square matrices, got shape {tuple(shape)}")
    n = int(n)
    if n == 0:
        return P.add(P.zeros_like(a), np.eye(shape[-1], dtype=P.dtype_of(a)))
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        out = a
        for _ in range(n - 1):
            out = P.matmul(out, a)
        return out
    z = result = None
    while n > 0:
        z = a if z is None else P.matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else P.matmul(result, z)
    return result


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple:
    """The least-squares solution of ``a @ x = b``: NumPy's ``(x, residuals, rank, s)``.

    ``x`` (through the SVD) and ``s`` are differentiable, ``rank`` is an integer and
    ``residuals`` (the squared residual norms, present when ``a`` has full column rank and
    more rows than columns) follow ``x``. ``rcond`` defaults to eps · max(M, N) as in NumPy.
    Under ``vmap`` the rank is per example, so the residuals are computed whenever M > N.

    Example:
        >>> import functrans.numpy as fnp
        >>> x, res, rank, s = fnp.linalg.lstsq(fnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]),
        ...                                    fnp.array([1.0, 2.0, 3.0]))
        >>> x.round(12), int(rank)
        (array([1., 1.]), 2)
    """
    if not _core._active:
        return np.linalg.lstsq(a, b, rcond)
    m, n = P.shape_of(a)[-2:]
    if rcond is None:
        rcond = np.finfo(P.dtype_of(a)).eps * max(m, n)
    u, s, vh = svd_p.bind(a)
    s_inv = _inverse_singular_values(s, rcond)
    vector = ndim(b) == 1
    b2 = P.expand_dims(b, -1) if vector else b
    x = P.matmul(_mT(vh), P.mul(P.expand_dims(s_inv, -1), P.matmul(_mT(u), b2)))
    rank = count_nonzero(s_inv, axis=-1)
    residuals = np.zeros((0,), P.dtype_of(x))
    if m > n:
        try:
            full_rank = int(_concrete(rank, "lstsq's rank")) == n
        except ConcretizationError:   # batched by vmap: the rank is per example
            full_rank = True
        if full_rank:
            r = P.sub(P.matmul(a, x), b2)
            residuals = _sum(P.mul(r, r), axis=-2)
    return (P.reshape(x, P.shape_of(x)[:-1]) if vector else x), residuals, rank, s


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:  # noqa: N803
    """The number of singular values above ``tol`` (NumPy's default: S.max() · max(M, N) · eps).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]]))
        np.int64(1)
    """
    if not _core._active:
        return np.linalg.matrix_rank(A, tol, hermitian, rtol=rtol)
    if ndim(A) < 2:
        return P.convert_element_type(P.ne(count_nonzero(A), 0), np.int64)
    s = svd(A, compute_uv=False, hermitian=hermitian)
    if tol is None:
        m, n = P.shape_of(A)[-2:]
        tol = P.mul(_max(s, axis=-1, keepdims=True), (max(m, n) * np.finfo(P.dtype_of(s)).eps
                                                      if rtol is None else rtol))
    else:
        tol = P.expand_dims(tol, -1) if ndim(tol) else tol
    return count_nonzero(P.gt(s, tol), axis=-1)


def cond(x: Any, p: Any = None) -> Any:
    """The condition number: ratio of extreme singular values (p None, 2, -2), else
    ``norm(x, p) * norm(inv(x), p)``.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.cond(np.array([[3.0, 1.0], [1.0, 3.0]]))
        np.float64(2.0000000000000004)
    """
    if not _core._active:
        return np.linalg.cond(x, p)
    if p in (None, 2, -2):
        s = svdvals(x)
        first, last = s[..., 0], s[..., -1]
        return P.div(first, last) if p != -2 else P.div(last, first)
    return P.mul(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """The product of a chain of matrices, in the cheapest order (NumPy's); a 1-D first
    (last) argument is a row (column) vector.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.multi_dot([np.ones(2), np.eye(2), np.array([1.0, 2.0])])
        np.float64(3.0)
    """
    if not _core._active:
        return np.linalg.multi_dot(arrays, out=out)
    if out is not None:
        raise TypeError("multi_dot: `out` is not supported (functrans arrays are immutable)")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError(f"multi_dot: expecting at least two arrays, got {len(arrays)}")
    first, last = ndim(arrays[0]) == 1, ndim(arrays[-1]) == 1
    if first:
        arrays[0] = P.reshape(arrays[0], (1, -1))
    if last:
        arrays[-1] = P.reshape(arrays[-1], (-1, 1))
    out = _chain(arrays, _chain_order([P.shape_of(x) for x in arrays]), 0, len(arrays) - 1)
    shape = P.shape_of(out)
    return P.reshape(out, tuple(d for keep, d in zip((not first, not last), shape) if keep))


def _chain_order(shapes: list) -> Any:
    """NumPy's matrix-chain dynamic programme: ``split[i][j]`` is where to split i..j."""
    dims = [s[0] for s in shapes] + [shapes[-1][1]]
    n = len(shapes)
    cost = np.zeros((n, n))
    split = np.zeros((n, n), dtype=int)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j] = np.inf
            for k in range(i, j):
                c = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i, j]:
                    cost[i, j], split[i, j] = c, k
    return split


def _chain(arrays: list, split: Any, i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    k = split[i, j]
    return P.matmul(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


def matrix_transpose(x: Any, /) -> Any:
    """The transpose of the last two axes (of each matrix in a stack).

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.matrix_transpose(np.ones((5, 2, 3))).shape
        (5, 3, 2)
    """
    return _mT(x)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The array API's trace: over the last two axes.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.trace(np.arange(8.0).reshape(2, 2, 2))
        array([ 3., 11.])
    """
    out = _trace(x, offset, -2, -1)
    return out if dtype is None else P.convert_element_type(out, dtype)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """The array API's diagonal: of the last two axes.

    Example:
        >>> import numpy as np, functrans.numpy as fnp
        >>> fnp.linalg.diagonal(np.arange(8.0).reshape(2, 2, 2))
        array([[0., 3.],
               [4., 7.]])
    """
    return _diagonal(x, offset, -2, -1)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The dot product along ``axis``, broadcasting the other axes (conjugating ``x1``); its gradients are
    ``x2`` and ``x1``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> ft.grad(fnp.linalg.vecdot, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        (array([3., 4.]), array([1., 2.]))
    """
    if not _core._active:
        return np.linalg.vecdot(x1, x2, axis=axis)  # type: ignore[call-overload]
    return _sum(P.mul(x1, x2), axis=axis)


__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "solve", "det", "slogdet", "cholesky", "eigh",
           "eigvals", "eigvalsh", "svd", "svdvals", "qr", "pinv", "matrix_power", "lstsq", "matrix_rank",
           "cond", "multi_dot", "matrix_transpose", "trace", "diagonal", "vecdot", "matmul", "tensordot",
           "outer", "cross"]
