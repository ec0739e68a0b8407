"""functrans.numpy.linalg: values against NumPy, derivatives against finite differences (to
second order), batching against a loop, and the awkward points."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp

rng = np.random.default_rng(7)
A = rng.standard_normal((3, 3))
SPD = A @ A.T + 3 * np.eye(3)
TALL = rng.standard_normal((4, 3))
WIDE = rng.standard_normal((3, 4))

CASES = [
    ("inv", fnp.linalg.inv, np.linalg.inv, (A,)),
    ("solve vector", fnp.linalg.solve, np.linalg.solve, (A, rng.standard_normal(3))),
    ("solve matrix", fnp.linalg.solve, np.linalg.solve, (A, rng.standard_normal((3, 2)))),
    ("det", fnp.linalg.det, np.linalg.det, (A,)),
    ("slogdet", lambda a: fnp.linalg.slogdet(a)[1], lambda a: np.linalg.slogdet(a)[1], (A,)),
    ("cholesky", fnp.linalg.cholesky, np.linalg.cholesky, (SPD,)),
    ("eigvalsh", fnp.linalg.eigvalsh, np.linalg.eigvalsh, (SPD,)),
    ("eigh vectors", lambda a: fnp.abs(fnp.linalg.eigh(a)[1]),
     lambda a: np.abs(np.linalg.eigh(a)[1]), (SPD,)),
    ("svd values", lambda a: fnp.linalg.svd(a, compute_uv=False),
     lambda a: np.linalg.svd(a, compute_uv=False), (A,)),
    ("svd u tall", lambda a: fnp.abs(fnp.linalg.svd(a, full_matrices=False)[0]),
     lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[0]), (TALL,)),
    ("svd vh wide", lambda a: fnp.abs(fnp.linalg.svd(a, full_matrices=False)[2]),
     lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[2]), (WIDE,)),
    ("qr q", lambda a: fnp.linalg.qr(a)[0], lambda a: np.linalg.qr(a)[0], (TALL,)),
    ("qr r", lambda a: fnp.linalg.qr(a)[1], lambda a: np.linalg.qr(a)[1], (TALL,)),
    ("svdvals", fnp.linalg.svdvals, np.linalg.svdvals, (TALL,)),
    ("pinv", fnp.linalg.pinv, np.linalg.pinv, (A,)),
    ("pinv tall", fnp.linalg.pinv, np.linalg.pinv, (TALL,)),
    ("pinv wide", fnp.linalg.pinv, np.linalg.pinv, (WIDE,)),
    ("lstsq x", lambda a, b: fnp.linalg.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
     (TALL, rng.standard_normal(4))),
    ("lstsq x matrix b", lambda a, b: fnp.linalg.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
     (TALL, rng.standard_normal((4, 2)))),
    ("lstsq x wide", lambda a, b: fnp.linalg.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
     (WIDE, rng.standard_normal(3))),
    ("lstsq residuals", lambda a, b: fnp.linalg.lstsq(a, b)[1], lambda a, b: np.linalg.lstsq(a, b)[1],
     (TALL, rng.standard_normal((4, 2)))),
    ("lstsq s", lambda a, b: fnp.linalg.lstsq(a, b)[3], lambda a, b: np.linalg.lstsq(a, b)[3],
     (TALL, rng.standard_normal(4))),
    ("matrix_power 0", lambda a: fnp.linalg.matrix_power(a, 0), lambda a: np.linalg.matrix_power(a, 0), (A,)),
    ("matrix_power 3", lambda a: fnp.linalg.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3), (A,)),
    ("matrix_power 6", lambda a: fnp.linalg.matrix_power(a, 6), lambda a: np.linalg.matrix_power(a, 6), (A,)),
    ("matrix_power -2", lambda a: fnp.linalg.matrix_power(a, -2), lambda a: np.linalg.matrix_power(a, -2),
     (SPD,)),
    ("cond", fnp.linalg.cond, np.linalg.cond, (A,)),
    ("cond -2", lambda a: fnp.linalg.cond(a, -2), lambda a: np.linalg.cond(a, -2), (TALL,)),
    ("cond fro", lambda a: fnp.linalg.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"), (A,)),
    ("cond inf", lambda a: fnp.linalg.cond(a, np.inf), lambda a: np.linalg.cond(a, np.inf), (A,)),
    ("multi_dot", lambda a, b, c: fnp.linalg.multi_dot([a, b, c]),
     lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     (TALL, A, WIDE)),
    ("multi_dot vectors", lambda u, a, b, v: fnp.linalg.multi_dot([u, a, b, v]),
     lambda u, a, b, v: np.linalg.multi_dot([u, a, b, v]),
     (rng.standard_normal(4), TALL, WIDE, rng.standard_normal(4))),
    ("matrix_transpose", fnp.linalg.matrix_transpose, np.linalg.matrix_transpose, (TALL,)),
    ("trace", lambda a: fnp.linalg.trace(a, offset=1), lambda a: np.linalg.trace(a, offset=1), (WIDE,)),
    ("diagonal", lambda a: fnp.linalg.diagonal(a, offset=-1), lambda a: np.linalg.diagonal(a, offset=-1),
     (TALL,)),
    ("vecdot", fnp.linalg.vecdot, np.linalg.vecdot, (TALL, 2 * TALL + 1)),
    ("outer", fnp.linalg.outer, np.linalg.outer, (TALL[0], WIDE[0])),
    ("cross", fnp.linalg.cross, np.linalg.cross, (TALL, 2 * TALL[::-1] + 1)),
    ("matmul", fnp.linalg.matmul, np.linalg.matmul, (TALL, WIDE)),
    ("tensordot", fnp.linalg.tensordot, np.linalg.tensordot, (TALL, TALL)),
    ("eigvals", lambda a: fnp.imag(fnp.linalg.eigvals(a)) + fnp.real(fnp.linalg.eigvals(a)),
     lambda a: np.imag(np.linalg.eigvals(a)) + np.real(np.linalg.eigvals(a)), (A,)),
    # NumPy 2's solve: a 1-d b is one vector for every matrix of a stack; otherwise b is a
    # stack of matrices broadcasting against a.
    ("solve stack a, vector b", fnp.linalg.solve, np.linalg.solve,
     (np.stack([A, SPD]), rng.standard_normal(3))),
    ("solve matrix a, stack b", fnp.linalg.solve, np.linalg.solve, (A, rng.standard_normal((2, 3, 2)))),
    ("solve stacks broadcast", fnp.linalg.solve, np.linalg.solve,
     (np.stack([A, SPD])[:, None], rng.standard_normal((3, 3, 2)))),
    ("det singular", fnp.linalg.det, np.linalg.det, (np.array([[1.0, 2.0], [2.0, 4.0]]),)),
    ("det rank 1", fnp.linalg.det, np.linalg.det, (np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),)),
    ("cholesky upper", lambda a: fnp.linalg.cholesky(a, upper=True),
     lambda a: np.linalg.cholesky(a, upper=True), (SPD + 7 * np.tril(A, -1),)),
    ("pinv hermitian", lambda a: fnp.linalg.pinv(a, hermitian=True),
     lambda a: np.linalg.pinv(a, hermitian=True), (SPD + 7 * np.triu(A, 1),)),
    ("pinv hermitian indefinite", lambda a: fnp.linalg.pinv(a, hermitian=True),
     lambda a: np.linalg.pinv(a, hermitian=True), (np.diag([2.0, -1.0, 0.5]) + 0.1 * (A + A.T),)),
    ("qr mode r", lambda a: fnp.linalg.qr(a, mode="r"), lambda a: np.linalg.qr(a, mode="r"), (TALL,)),
    ("qr wide q", lambda a: fnp.linalg.qr(a)[0], lambda a: np.linalg.qr(a)[0], (WIDE,)),
    ("qr wide r", lambda a: fnp.linalg.qr(a)[1], lambda a: np.linalg.qr(a)[1], (WIDE,)),
    ("qr wide complete r", lambda a: fnp.linalg.qr(a, mode="complete")[1],
     lambda a: np.linalg.qr(a, mode="complete")[1], (WIDE,)),
    ("qr square complete q", lambda a: fnp.linalg.qr(a, mode="complete")[0],
     lambda a: np.linalg.qr(a, mode="complete")[0], (A,)),
]


# The fnp.linalg names this file covers (test_primitives' coverage test counts them).
COVERED = {"inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "qr", "svdvals", "pinv",
           "lstsq", "matrix_power", "cond", "multi_dot", "matrix_transpose", "trace", "diagonal", "vecdot",
           "outer", "cross", "matmul", "tensordot", "matrix_rank", "eigvals"}


def test_covered_names_exist():
    assert COVERED <= set(fnp.linalg.__all__)


@pytest.mark.parametrize("name,f,ref,args", CASES, ids=[c[0] for c in CASES])
def test_value_grads_and_vmap(name, f, ref, args):
    np.testing.assert_allclose(f(*args), ref(*args), rtol=1e-10, atol=1e-12)
    ft.check_grads(f, args, order=2, rtol=1e-4, atol=1e-4)
    stacked = [np.stack([a, 1.1 * a + 0.05 * np.eye(*a.shape) if a.ndim == 2 else 1.1 * a]) for a in args]
    expected = np.stack([ref(*[s[i] for s in stacked]) for i in range(2)])
    np.testing.assert_allclose(ft.vmap(f)(*stacked), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    a = SPD.astype(dtype)
    for f in (fnp.linalg.inv, fnp.linalg.det, fnp.linalg.cholesky, fnp.linalg.eigvalsh):
        assert f(a).dtype == dtype
        assert ft.grad(lambda x: fnp.sum(f(x)))(a).dtype == dtype


def test_eigh_gradient_of_eigenvalues_is_finite_at_repeated_eigenvalues():
    # sum(λ²) = ‖A‖_F², so its gradient is 2A even where eigenvalues coincide.
    for a in (np.eye(3), np.diag([2.0, 2.0, 5.0])):
        g = ft.grad(lambda x: fnp.sum(fnp.linalg.eigvalsh(x) ** 2))(a)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, 2 * a, atol=1e-12)


def test_det_gradient_is_cofactor_matrix():
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(A), np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-12)


def test_unsupported_forms_raise_clear_errors():
    with pytest.raises(ValueError, match="UPLO"):
        fnp.linalg.eigh(SPD, UPLO="X")
    with pytest.raises(ValueError, match=r"qr: mode must be 'reduced', 'complete', 'r' or 'raw', got 'full'"):
        traced(lambda a: fnp.linalg.qr(a, mode="full")[0], TALL)


def test_eigh_gradient_of_sum_of_eigenvalues_at_the_identity_is_the_identity():
    # sum(λ) = trace(A): its gradient is I, also where all eigenvalues coincide (A = I).
    for n in (1, 3):
        g = ft.grad(lambda x: fnp.sum(fnp.linalg.eigvalsh(x)))(np.eye(n))
        np.testing.assert_array_equal(g, np.eye(n))
    g = ft.grad(lambda x: fnp.linalg.eigvalsh(x)[-1] + fnp.linalg.eigvalsh(x)[0])(np.eye(3))
    assert np.all(np.isfinite(g)), g
    np.testing.assert_allclose(np.trace(g), 2.0, atol=1e-12)   # a tangent of the sum λ_0 + λ_2


def test_matrix_rank_counts_singular_values_and_batches():
    low = TALL @ np.diag([1.0, 1.0, 0.0]) @ A
    assert int(fnp.linalg.matrix_rank(low)) == np.linalg.matrix_rank(low) == 2
    assert int(fnp.linalg.matrix_rank(TALL)) == 3
    assert int(fnp.linalg.matrix_rank(np.zeros(3))) == 0 and int(fnp.linalg.matrix_rank(np.ones(2))) == 1
    assert int(fnp.linalg.matrix_rank(A, tol=1e6)) == 0
    np.testing.assert_array_equal(ft.vmap(fnp.linalg.matrix_rank)(np.stack([low, TALL])), [2, 3])
    # Inside grad the rank is an integer with no derivative: the gradient it feeds is zero.
    g = ft.grad(lambda a: fnp.linalg.matrix_rank(a) * fnp.sum(a))(TALL)
    np.testing.assert_allclose(g, 3 * np.ones_like(TALL))


def test_lstsq_returns_numpys_four_tuple():
    b = rng.standard_normal(4)
    for a in (TALL, WIDE[:, :3], TALL @ np.diag([1.0, 1.0, 0.0])):
        bb = b[:a.shape[0]]
        got, want = fnp.linalg.lstsq(a, bb), np.linalg.lstsq(a, bb)
        assert len(got) == 4
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    # The solution's gradient against finite differences, through b too.
    ft.check_grads(lambda a, b: fnp.linalg.lstsq(a, b)[1], (TALL, b), order=2, rtol=1e-5, atol=1e-5)


def traced(f, x):
    """``f(x)`` with ``x`` traced, so functrans computes (plain arrays take NumPy's own path)."""
    return ft.grad(lambda x: fnp.sum(f(x)))(x)


def test_matrix_power_rejects_bad_exponents_and_shapes():
    with pytest.raises(TypeError, match="exponent must be an integer"):
        traced(lambda a: fnp.linalg.matrix_power(a, 1.5), A)
    with pytest.raises(ValueError, match="square"):
        traced(lambda a: fnp.linalg.matrix_power(a, 2), TALL)
    np.testing.assert_allclose(ft.grad(lambda a: fnp.sum(fnp.linalg.matrix_power(a, 0)))(A), np.zeros((3, 3)))


def test_norm_rejects_bad_orders_and_axes():
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        traced(lambda x: fnp.linalg.norm(x, "fro"), np.ones(3))
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        traced(lambda a: fnp.linalg.norm(a, 3), A)
    with pytest.raises(ValueError, match="1-d or 2-d"):
        traced(lambda x: fnp.linalg.norm(x, 2), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="2-tuple of distinct axes"):
        traced(lambda a: fnp.linalg.norm(a, axis=(0, 0)), A)


def test_decompositions_return_numpys_named_results():
    """``eigh(a).eigenvalues`` and friends work as in NumPy, traced or not, and unpack as tuples."""
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    for f, fields in ((fnp.linalg.eigh, ("eigenvalues", "eigenvectors")),
                      (fnp.linalg.slogdet, ("sign", "logabsdet")),
                      (fnp.linalg.svd, ("U", "S", "Vh")),
                      (fnp.linalg.qr, ("Q", "R"))):
        want = getattr(np.linalg, f.__name__)(a)
        got = f(a)
        assert type(got) is type(want) and len(got) == len(fields)
        for name in fields:
            np.testing.assert_allclose(np.abs(getattr(got, name)), np.abs(getattr(want, name)), rtol=1e-12)
    # Traced: the field is the same value as the tuple entry, and its derivative is right
    # (d/da sum(eigenvalues) = I, d/da log|det a| = a^-T).
    np.testing.assert_allclose(ft.grad(lambda a: fnp.sum(fnp.linalg.eigh(a).eigenvalues))(a), np.eye(2),
                               atol=1e-12)
    np.testing.assert_allclose(ft.grad(lambda a: fnp.linalg.slogdet(a).logabsdet)(a), np.linalg.inv(a).T,
                               rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(lambda m: fnp.linalg.svd(m).S)(np.stack([a, 2 * a])),
                               np.stack([np.linalg.svd(a).S, np.linalg.svd(2 * a).S]), rtol=1e-12)


# ---- eigvals: the derivative of a non-symmetric eigenvalue, dλ_i = u_iᴴ dA v_i / u_iᴴ v_i ----

EIG_RNG = np.random.default_rng(11)
EIG_CASES = {   # matrices with distinct eigenvalues
    "real spectrum": np.diag([-2.0, -0.5, 1.0, 2.5]) + 0.1 * EIG_RNG.standard_normal((4, 4)),
    "complex pairs": EIG_RNG.standard_normal((4, 4)),
    "complex input": EIG_RNG.standard_normal((4, 4)) + 1j * EIG_RNG.standard_normal((4, 4)),
}


def _central(f, a, t, h):
    return (f(a + h * t) - f(a - h * t)) / (2 * h), (f(a + h * t) - 2 * f(a) + f(a - h * t)) / h ** 2


@pytest.mark.parametrize("label", list(EIG_CASES))
def test_eigvals_derivatives_match_finite_differences(label):
    """Each eigenvalue's first and second derivative along a direction (complex for complex
    input) against central differences of NumPy's eigvals, and the pullback against the
    tangent under JAX's pairing Re Σ ct·dλ = Re Σ pullback(ct)·dA."""
    a = EIG_CASES[label]
    rng = np.random.default_rng(5)
    t = rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape) if a.dtype.kind == "c" else 0)
    w = np.linalg.eigvals(a)
    assert fnp.linalg.eigvals(a).dtype == w.dtype
    assert w.dtype == (np.float64 if label == "real spectrum" else np.complex128)
    w_traced, dw = ft.jvp(fnp.linalg.eigvals, (a,), (t,))
    np.testing.assert_allclose(w_traced, w, rtol=1e-12)
    first, _ = _central(np.linalg.eigvals, a, t, 1e-6)
    np.testing.assert_allclose(dw, first, rtol=1e-6, atol=1e-7)
    d2 = ft.jvp(lambda x: ft.jvp(fnp.linalg.eigvals, (x,), (t,))[1], (a,), (t,))[1]
    _, second = _central(np.linalg.eigvals, a, t, 1e-4)
    np.testing.assert_allclose(d2, second, rtol=1e-4, atol=1e-4)
    ct = rng.standard_normal(w.shape) + (1j * rng.standard_normal(w.shape) if w.dtype.kind == "c" else 0)
    _, pullback = ft.vjp(fnp.linalg.eigvals, a)
    (g,) = pullback(ct)
    assert g.dtype == a.dtype                     # a real matrix gets a real cotangent
    np.testing.assert_allclose(np.real(np.sum(g * t)), np.real(np.sum(ct * first)), rtol=1e-6)


def test_eigvals_of_a_two_by_two_triangular_matrix_closed_form():
    # [[a, b], [0, d]]: λ = (a, d), ∇λ_i = u_i v_iᵀ / u_iᵀ v_i with u_0 = (1, b/(a-d)), v_0 = e_0
    # and u_1 = e_1, v_1 = (b, d-a)
    a = np.array([[3.0, 2.0], [0.0, 1.0]])
    np.testing.assert_allclose(ft.grad(lambda m: fnp.linalg.eigvals(m)[0])(a), [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(ft.grad(lambda m: fnp.linalg.eigvals(m)[1])(a), [[0.0, 0.0], [-1.0, 1.0]])


def test_eig_eigenvector_tangent_keeps_numpys_normalisation():
    """The internal eig primitive's eigenvector tangent is that of NumPy's own vectors (unit
    norm, largest component real), so it matches finite differences of np.linalg.eig."""
    from functrans.numpy.linalg import eig_p
    for a in EIG_CASES.values():
        rng = np.random.default_rng(2)
        t = rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape) if a.dtype.kind == "c" else 0)
        _, (_, dv) = ft.jvp(lambda x: tuple(eig_p.bind(x)), (a,), (t,))
        first, _ = _central(lambda x: np.linalg.eig(x)[1], a, t, 1e-6)
        np.testing.assert_allclose(dv, first, rtol=1e-5, atol=1e-6)


def test_eigvals_batches_as_numpy_on_a_stack():
    stack = np.stack([EIG_CASES["real spectrum"], EIG_CASES["complex pairs"]])
    got = ft.vmap(fnp.linalg.eigvals)(stack)
    assert got.dtype == np.linalg.eigvals(stack).dtype == np.complex128
    np.testing.assert_allclose(got, np.linalg.eigvals(stack), rtol=1e-12)
    g = ft.vmap(ft.grad(lambda m: fnp.sum(fnp.real(fnp.linalg.eigvals(m)) ** 2)))(stack)
    np.testing.assert_allclose(g, [ft.grad(lambda m: fnp.sum(fnp.real(fnp.linalg.eigvals(m)) ** 2))(m)
                                   for m in stack], rtol=1e-10)


def test_vdot_conjugates_its_first_argument_when_traced():
    # NumPy's vdot(a, b) = sum(conj(a) * b); the traced path must agree with it
    z = np.array([1.0 + 1.0j, 0.5 - 2.0j, -0.7 + 0.3j])
    t = np.array([0.3 - 0.1j, 0.2 + 0.4j, -1.0 + 0.5j])
    value, tangent = ft.jvp(lambda z: fnp.vdot(z, z), (z,), (t,))
    np.testing.assert_allclose(value, np.vdot(z, z), rtol=1e-14)
    np.testing.assert_allclose(tangent, np.vdot(t, z) + np.vdot(z, t), rtol=1e-14)
    ft.check_grads(lambda z: fnp.vdot(z, 2 * z + 1), (z,), order=2)


@pytest.mark.parametrize("name, f", [
    ("slogdet", lambda a: fnp.linalg.slogdet(a)[1]),
    ("cholesky", lambda a: fnp.linalg.cholesky(a @ fnp.conj(a.T) + np.eye(2))),
    ("eigh", lambda a: fnp.linalg.eigh(a + fnp.conj(a.T))[0]),
    ("svd", lambda a: fnp.linalg.svd(a, compute_uv=False)),
    ("qr", lambda a: fnp.linalg.qr(a)[1]),
])
def test_complex_decompositions_refuse_derivatives_rather_than_get_them_wrong(name, f):
    a = np.array([[2.0 + 1.0j, 0.3 - 0.2j], [0.1 + 0.5j, 1.5 - 0.4j]])
    f(a)                                   # values work
    with pytest.raises(TypeError, match=rf"linalg\.{name}: derivatives with respect to a complex"):
        ft.jvp(f, (a,), (np.ones_like(a),))
    with pytest.raises(TypeError, match=rf"linalg\.{name}: derivatives with respect to a complex"):
        ft.vjp(f, a)[1](np.ones_like(f(a)))


def test_eigh_upper_triangle_is_numpys():
    """UPLO='U' reads the upper triangle only, as NumPy: values match and the lower triangle
    gets no derivative."""
    a = np.array([[2.0, 0.5, -1.0], [9.0, 1.0, 0.3], [7.0, -4.0, 3.0]])
    np.testing.assert_allclose(fnp.linalg.eigvalsh(a, UPLO="U"), np.linalg.eigvalsh(a, UPLO="U"))
    g = ft.grad(lambda a: fnp.sum(fnp.linalg.eigvalsh(a, UPLO="U") ** 2))(a)
    s = np.triu(a) + np.triu(a, 1).T
    np.testing.assert_allclose(g, 2 * np.triu(2 * s - np.diag(np.diag(s))), atol=1e-12)


# ---- NumPy's full svd and every qr mode: values exactly NumPy's, traced or not ----------

@pytest.mark.parametrize("a", [TALL, WIDE, A], ids=["tall", "wide", "square"])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_values_are_numpys_with_its_default_full_matrices(a, full_matrices):
    want = np.linalg.svd(a, full_matrices=full_matrices)
    for got in (fnp.linalg.svd(a, full_matrices=full_matrices),           # untraced: NumPy's own
                ft.vmap(lambda m: fnp.linalg.svd(m, full_matrices=full_matrices))(a[None])):
        assert len(got) == 3
        for g, w in zip(got, want):
            g = np.asarray(g).reshape(w.shape)
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    assert [m.shape for m in fnp.linalg.svd(a)] == [m.shape for m in np.linalg.svd(a)]
    stack = np.stack([a, 2 * a + 0.1])
    got = ft.vmap(lambda m: fnp.linalg.svd(m, full_matrices=full_matrices))(stack)
    for g, w in zip(got, np.linalg.svd(stack, full_matrices=full_matrices)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("a", [TALL, WIDE], ids=["tall", "wide"])
def test_full_svd_of_non_square_differentiates_singular_values_and_refuses_vectors(a):
    # The singular values of a full SVD have a derivative (reverse mode), to second order.
    ft.check_grads(lambda m: fnp.linalg.svd(m)[1], (a,), order=2, modes=("rev",))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(ft.grad(lambda m: fnp.linalg.svd(m)[1][0])(a), np.outer(u[:, 0], vh[0]),
                               rtol=1e-10, atol=1e-12)
    side = "columns of U" if a.shape[0] > a.shape[1] else "rows of Vh"
    message = (rf"svd: derivatives of the singular vectors with full_matrices=True of a non-square "
               rf"{a.shape[0]}x{a.shape[1]} matrix .* 1 extra {side} .*pass full_matrices=False")
    for transform in (ft.jacfwd, ft.jacrev):
        for k in (0, 2):
            with pytest.raises(ValueError, match=message):
                transform(lambda m: fnp.linalg.svd(m)[k])(a)
    with pytest.raises(ValueError, match=message):      # forward mode computes every tangent
        ft.jvp(lambda m: fnp.linalg.svd(m)[1], (a,), (a,))
    # what the message suggests works
    ft.check_grads(lambda m: fnp.abs(fnp.linalg.svd(m, full_matrices=False)[0]), (a,), order=1)


@pytest.mark.parametrize("a", [TALL, WIDE, A], ids=["tall", "wide", "square"])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r", "raw"])
def test_qr_values_are_numpys_in_every_mode(a, mode):
    want = np.linalg.qr(a, mode=mode)
    got = fnp.linalg.qr(a, mode=mode)
    assert type(got) is type(want)
    stack = np.stack([a, 2 * a + 0.1])
    batched = ft.vmap(lambda m: fnp.linalg.qr(m, mode=mode))(stack)
    loop = [np.linalg.qr(m, mode=mode) for m in stack]
    if mode == "r":
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batched, np.stack(loop), rtol=1e-12, atol=1e-12)
        return
    assert type(batched) is type(want) and len(batched) == len(want) == 2
    for i in range(2):
        np.testing.assert_allclose(got[i], want[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batched[i], np.stack([w[i] for w in loop]), rtol=1e-12, atol=1e-12)


def test_qr_derivatives_of_r_mode_and_wide_matrices_match_finite_differences():
    for a in (TALL, WIDE, A):
        ft.check_grads(lambda m: fnp.linalg.qr(m, mode="r"), (a,), order=2, rtol=1e-4, atol=1e-4)
    # wide: Q R = A to first order, Qᵀ dQ antisymmetric and dR upper triangular
    t = rng.standard_normal(WIDE.shape)
    (q, r), (dq, dr) = ft.jvp(lambda m: tuple(fnp.linalg.qr(m)), (WIDE,), (t,))
    np.testing.assert_allclose(dq @ r + q @ dr, t, atol=1e-12)
    np.testing.assert_allclose(q.T @ dq + dq.T @ q, 0, atol=1e-12)
    np.testing.assert_array_equal(np.tril(dr, -1), 0)


def test_qr_refuses_derivatives_where_they_are_not_defined():
    with pytest.raises(ValueError, match=r"qr: derivatives with mode='complete' of a tall 4x3 matrix .*"
                                         r"1 extra columns of Q.*pass mode='reduced'"):
        ft.jacfwd(lambda m: fnp.linalg.qr(m, mode="complete")[0])(TALL)
    with pytest.raises(ValueError, match=r"qr: derivatives with mode='complete' of a tall"):
        ft.grad(lambda m: fnp.sum(fnp.linalg.qr(m, mode="complete")[1]))(TALL)
    with pytest.raises(ValueError, match=r"qr: derivatives of mode='raw'.*mode='reduced'"):
        ft.grad(lambda m: fnp.sum(fnp.linalg.qr(m, mode="raw")[1]))(TALL)


# ---- solve: NumPy 2's broadcasting under vmap, jacfwd and grad, against a per-example loop ----

A_STACK = np.stack([A, SPD, A + 2 * np.eye(3)])
B_VEC = rng.standard_normal(3)
B_STACK = rng.standard_normal((3, 3))


@pytest.mark.parametrize("in_axes,args", [
    ((0, None), (A_STACK, B_VEC)),                        # batched a, one b for all
    ((None, 0), (A, B_STACK)),                            # one a, batched b
    ((0, 0), (A_STACK, B_STACK)),
    ((0, None), (A_STACK, rng.standard_normal((3, 2)))),  # b a matrix
    ((None, 0), (A, rng.standard_normal((3, 3, 2)))),
    ((0, None), (A_STACK, rng.standard_normal((2, 3, 4)))),   # each a with a stack of b
    ((0, 0), (A_STACK[:, None].repeat(2, 1), B_STACK)),   # a stack of a with one b each
], ids=["a", "b", "both", "a, matrix b", "matrix b", "a, stack of b", "stack of a, b"])
def test_solve_batched_against_a_per_example_loop(in_axes, args):
    def example(i):
        return [x[i] if ax == 0 else x for x, ax in zip(args, in_axes)]
    loop = np.stack([np.linalg.solve(*example(i)) for i in range(3)])
    np.testing.assert_allclose(ft.vmap(fnp.linalg.solve, in_axes=in_axes)(*args), loop, rtol=1e-10)
    for argnums in (0, 1):
        jac = ft.vmap(ft.jacfwd(fnp.linalg.solve, argnums=argnums), in_axes=in_axes)(*args)
        jac_rev = ft.vmap(ft.jacrev(fnp.linalg.solve, argnums=argnums), in_axes=in_axes)(*args)
        grads = ft.vmap(ft.grad(lambda a, b: fnp.sum(fnp.linalg.solve(a, b) ** 2), argnums=argnums),
                        in_axes=in_axes)(*args)
        for i in range(3):
            a, b = example(i)
            x = np.linalg.solve(a, b)
            want = _fd_jacobian(lambda v: np.linalg.solve(*((v, b) if argnums == 0 else (a, v))),
                                (a, b)[argnums])
            np.testing.assert_allclose(jac[i], want, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(jac_rev[i], want, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(grads[i], np.tensordot(2 * x, want, x.ndim), rtol=1e-6, atol=1e-8)


def _fd_jacobian(f, x, h=1e-6):
    """Central differences of a NumPy function: shape f(x).shape + x.shape."""
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = h
        jac[(Ellipsis,) + idx] = (f(x + e) - f(x - e)) / (2 * h)
    return jac


def test_solve_stack_of_a_with_one_vector_b_under_grad():
    # Before: reshaping the (2, 3) solution to b's shape (3,) raised.
    b = rng.standard_normal(3)
    g = ft.grad(lambda a, b: fnp.sum(fnp.linalg.solve(a, b)), argnums=(0, 1))(A_STACK, b)
    x = np.linalg.solve(A_STACK, b)
    w = np.linalg.solve(np.swapaxes(A_STACK, -1, -2), np.ones((3, 3, 1)))[..., 0]   # a⁻ᵀ 1 per matrix
    np.testing.assert_allclose(g[1], w.sum(0), rtol=1e-10)
    np.testing.assert_allclose(g[0], -w[:, :, None] * x[:, None, :], rtol=1e-10)
    ft.check_grads(fnp.linalg.solve, (A_STACK, b), order=2, rtol=1e-5, atol=1e-5)


# ---- det at singular matrices: the cofactor matrix, and second derivatives -----------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
RANK1 = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])


def _fd_hessian(f, a, h=1e-3):
    n = a.size
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i] = h
            ej[j] = h
            shift = lambda d: f(a + d.reshape(a.shape))  # noqa: E731
            out[i, j] = (shift(ei + ej) - shift(ei - ej) - shift(ej - ei) + shift(-ei - ej)) / (4 * h * h)
    return out.reshape(a.shape + a.shape)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix():
    # Before: LinAlgError("Singular matrix") from the inverse.
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(SINGULAR), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    t = rng.standard_normal((2, 2))
    _, dt = ft.jvp(fnp.linalg.det, (SINGULAR,), (t,))
    np.testing.assert_allclose(dt, 4 * t[0, 0] - 2 * t[0, 1] - 2 * t[1, 0] + t[1, 1], atol=1e-12)
    # rank n-2: the cofactor matrix is zero, the Hessian is not
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(RANK1), np.zeros((3, 3)), atol=1e-12)
    for a in (SINGULAR, RANK1, np.zeros((3, 3)), A):
        for h in (ft.hessian(fnp.linalg.det)(a), ft.jacfwd(ft.jacfwd(fnp.linalg.det))(a),
                  ft.jacrev(ft.jacrev(fnp.linalg.det))(a)):
            np.testing.assert_allclose(h, _fd_hessian(np.linalg.det, a), atol=1e-6)
    # 2x2: d²det = t11 s22 + t22 s11 - t12 s21 - t21 s12
    want = np.zeros((2, 2, 2, 2))
    want[0, 0, 1, 1] = want[1, 1, 0, 0] = 1.0
    want[0, 1, 1, 0] = want[1, 0, 0, 1] = -1.0
    np.testing.assert_allclose(ft.hessian(fnp.linalg.det)(SINGULAR), want, atol=1e-12)


def test_det_gradient_near_singular_and_of_a_nan_matrix():
    """Close to singular (condition ~1e12) the cofactor matrix still is the closed form (not
    det · a⁻ᵀ from a poor inverse); a NaN entry gives NaNs, not an SVD failure."""
    eps = 1e-12
    near = np.array([[1.0, 2.0], [2.0, 4.0 + eps]])
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(near), [[4.0 + eps, -2.0], [-2.0, 1.0]],
                               rtol=1e-12)
    g = ft.grad(fnp.linalg.det)(np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert np.isnan(g).all()


def test_det_derivatives_batched_over_singular_and_regular_matrices():
    stack = np.stack([RANK1, A, np.eye(3), np.diag([1.0, 0.0, 0.0])])
    np.testing.assert_allclose(ft.vmap(ft.grad(fnp.linalg.det))(stack),
                               np.stack([ft.grad(fnp.linalg.det)(a) for a in stack]), atol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.hessian(fnp.linalg.det))(stack),
                               np.stack([_fd_hessian(np.linalg.det, a) for a in stack]), atol=1e-6)


def test_det_third_order_away_from_singular_points():
    for a in (np.eye(3), A):
        ft.check_grads(fnp.linalg.det, (a,), order=3, rtol=1e-4, atol=1e-4)


def test_complex_det_derivatives_at_singular_and_regular_matrices():
    c = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    singular = np.array([[1 + 1j, 2.0], [2 + 2j, 4.0]])
    for a in (c, singular):
        t = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
        _, first = ft.jvp(fnp.linalg.det, (a,), (t,))
        _, second = ft.jvp(lambda x: ft.jvp(fnp.linalg.det, (x,), (t,))[1], (a,), (t,))
        first_fd, _ = _central(np.linalg.det, a, t, 1e-6)
        _, second_fd = _central(np.linalg.det, a, t, 1e-4)
        np.testing.assert_allclose(first, first_fd, rtol=1e-7)
        np.testing.assert_allclose(second, second_fd, rtol=1e-5)


# ---- triangles: pinv(hermitian=True) and cholesky(upper=True) read what NumPy reads ----------

def test_pinv_hermitian_reads_the_lower_triangle_only():
    a = SPD + 7 * np.triu(A, 1)                    # garbage above the diagonal
    got = ft.vmap(lambda m: fnp.linalg.pinv(m, hermitian=True))(a[None])[0]     # traced path
    np.testing.assert_allclose(got, np.linalg.pinv(a, hermitian=True), rtol=1e-12)
    assert not np.allclose(got, np.linalg.pinv(a))
    g = ft.grad(lambda m: fnp.sum(fnp.linalg.pinv(m, hermitian=True) ** 2))(a)
    np.testing.assert_array_equal(np.triu(g, 1), 0)
    # singular: the cutoff drops the zero eigenvalue, as NumPy
    low = np.diag([2.0, -1.0, 0.0])
    np.testing.assert_allclose(ft.vmap(lambda m: fnp.linalg.pinv(m, hermitian=True))(low[None])[0],
                               np.linalg.pinv(low, hermitian=True), atol=1e-15)
    # complex hermitian (values)
    z = np.array([[2.0, 5j], [1 - 1j, 3.0]])
    np.testing.assert_allclose(ft.vmap(lambda m: fnp.linalg.pinv(m, hermitian=True))(z[None])[0],
                               np.linalg.pinv(z, hermitian=True), rtol=1e-12)


def test_svd_and_matrix_rank_hermitian_are_numpys():
    a = np.array([[1.0, 99.0], [2.0, 4.0]])        # rank 1 read as hermitian, 2 as it is
    stack = np.stack([a, SPD[:2, :2] + np.triu(A[:2, :2], 1)])
    np.testing.assert_array_equal(ft.vmap(lambda m: fnp.linalg.matrix_rank(m, hermitian=True))(stack),
                                  [np.linalg.matrix_rank(m, hermitian=True) for m in stack])
    for compute_uv in (True, False):
        got = ft.vmap(lambda m: fnp.linalg.svd(m, hermitian=True, compute_uv=compute_uv))(stack)
        want = np.linalg.svd(stack, hermitian=True, compute_uv=compute_uv)
        for g, w in zip(got if compute_uv else [got], want if compute_uv else [want]):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    ft.check_grads(lambda m: fnp.linalg.svd(m, hermitian=True, compute_uv=False),
                   (np.diag([3.0, -2.0, 1.0]) + 0.1 * A,), order=2)


def test_cholesky_upper_is_numpys_with_derivatives():
    a = SPD + 7 * np.tril(A, -1)                   # garbage below the diagonal: only the upper is read
    want = np.linalg.cholesky(a, upper=True)
    np.testing.assert_allclose(fnp.linalg.cholesky(a, upper=True), want, rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(lambda m: fnp.linalg.cholesky(m, upper=True))(a[None])[0], want,
                               rtol=1e-12)
    g = ft.grad(lambda m: fnp.sum(fnp.linalg.cholesky(m, upper=True) ** 3))(a)
    np.testing.assert_array_equal(np.tril(g, -1), 0)
    # U = Lᵀ of the mirrored upper triangle, and its derivative is the transposed one
    sym = np.triu(a) + np.triu(a, 1).T
    t = rng.standard_normal(a.shape)
    _, du = ft.jvp(lambda m: fnp.linalg.cholesky(m, upper=True), (a,), (t,))
    _, dl = ft.jvp(fnp.linalg.cholesky, (sym,), (np.triu(t) + np.triu(t, 1).T,))
    np.testing.assert_allclose(du, dl.T, rtol=1e-10, atol=1e-12)
    z = np.array([[4.0, 1 - 2j], [9.0, 6.0]])     # complex: the upper triangle is hermitian-mirrored
    np.testing.assert_allclose(ft.vmap(lambda m: fnp.linalg.cholesky(m, upper=True))(z[None])[0],
                               np.linalg.cholesky(z, upper=True), rtol=1e-12)
    with pytest.raises(TypeError):                 # upper is keyword-only, as NumPy
        fnp.linalg.cholesky(a, True)
