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
]


# The fnp.linalg names this file covers (test_primitives' coverage test counts them).
COVERED = {"inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "qr"}


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
    with pytest.raises(ValueError, match="full_matrices"):
        fnp.linalg.svd(TALL)
    with pytest.raises(ValueError, match="mode='reduced'"):
        fnp.linalg.qr(WIDE)
    with pytest.raises(ValueError, match="UPLO"):
        fnp.linalg.eigh(SPD, UPLO="U")
