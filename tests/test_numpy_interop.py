"""Plain NumPy on traced values: the code of docs/numpy_interop.md, run exactly as printed,
and the protocols (``__array_ufunc__``, ``__array_function__``, ``__array__``) one by one."""

import re
from pathlib import Path

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.errors import ConcretizationError

PAGE = Path(__file__).resolve().parent.parent / "docs" / "numpy_interop.md"


def test_the_page_runs_as_printed():
    code = "\n".join(re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S))
    assert "import functrans.numpy" not in code      # the point of the page: NumPy only
    exec(compile(code, str(PAGE), "exec"), {})


rng = np.random.default_rng(3)
X = rng.standard_normal((3, 4))
V = rng.standard_normal(4)

# (label, a function of one array written with plain NumPy, the shape of its argument)
NUMPY_CODE = [
    ("np.sin", lambda x: np.sin(x), (4,)),
    ("np.exp * np.log", lambda x: np.exp(x) * np.log(x * x + 1.0), (2, 3)),
    ("np.sum(axis=0)", lambda x: np.sum(x, axis=0), (3, 4)),
    ("np.mean(keepdims)", lambda x: np.mean(x, axis=-1, keepdims=True), (3, 4)),
    ("np.dot(t, a)", lambda x: np.dot(x, V), (3, 4)),
    ("np.dot(a, t)", lambda x: np.dot(X, x), (4,)),
    ("a @ t", lambda x: X @ x, (4, 2)),
    ("np.matmul", lambda x: np.matmul(x, X.T), (2, 4)),
    ("np.concatenate([t, a])", lambda x: np.concatenate([x, V]), (4,)),
    ("np.stack", lambda x: np.stack([x, 2 * x, V], axis=1), (4,)),
    ("np.where", lambda x: np.where(x > 0, x ** 2, -x), (4,)),
    ("np.linalg.norm", lambda x: np.linalg.norm(x), (3, 4)),
    ("np.linalg.norm(ord=nuc)", lambda x: np.linalg.norm(x, "nuc"), (3, 4)),
    ("np.linalg.solve", lambda x: np.linalg.solve(x @ x.T + np.eye(3), V[:3]), (3, 4)),
    ("np.linalg.det", lambda x: np.linalg.det(x[:, :3]), (3, 4)),
    ("np.linalg.pinv", lambda x: np.linalg.pinv(x), (3, 4)),
    ("np.einsum", lambda x: np.einsum("ij,j->i", x, V), (3, 4)),
    ("np.tensordot", lambda x: np.tensordot(x, X, axes=([0], [0])), (3, 2)),
    ("np.outer / np.kron", lambda x: np.kron(np.outer(x, V), x), (2,)),
    ("np.cross", lambda x: np.cross(x, V[:3]), (3,)),
    ("np.sort", lambda x: np.sort(x, axis=0) * np.arange(4.0)[:, None], (4, 2)),
    ("np.pad", lambda x: np.pad(x, 1, mode="reflect"), (2, 3)),
    ("np.roll / np.flip", lambda x: np.roll(np.flip(x, 0), 1, axis=1), (2, 3)),
    ("np.tile / np.repeat", lambda x: np.tile(np.repeat(x, 2), 2), (3,)),
    ("np.take_along_axis", lambda x: np.take_along_axis(x, np.argsort(x, axis=1), 1), (2, 3)),
    ("np.diag / np.trace", lambda x: np.diag(x) * np.trace(np.outer(x, x)), (3,)),
    ("np.triu", lambda x: np.triu(x) + np.tril(x, -1) ** 2, (3, 3)),
    ("np.split", lambda x: np.split(x, 2)[1] * np.split(x, 2)[0], (4,)),
    ("np.maximum / np.clip", lambda x: np.maximum(x, 0.3) + np.clip(x, -0.5, 0.5), (4,)),
    ("np.add.reduce", lambda x: np.add.reduce(x, axis=1), (2, 3)),
    ("np.maximum.reduce", lambda x: np.maximum.reduce(x), (2, 3)),
    ("np.abs / np.sqrt", lambda x: np.sqrt(np.abs(x) + 1.0), (4,)),
    ("np.reshape / np.transpose", lambda x: np.transpose(np.reshape(x, (2, 3))), (6,)),
    ("np.diagonal / np.swapaxes", lambda x: np.diagonal(np.swapaxes(x, 0, 1)), (3, 3)),
    ("np.select", lambda x: np.select([x < -0.5, x > 0.5], [x, x ** 2], default=0.0), (4,)),
    ("np.var / np.std", lambda x: np.var(x, axis=0) + np.std(x), (3, 2)),
    ("np.linalg.eigvalsh", lambda x: np.linalg.eigvalsh(x @ x.T), (3, 4)),
    ("np.linalg.matrix_power", lambda x: np.linalg.matrix_power(x[:, :3], 3), (3, 4)),
    ("np.linalg.lstsq", lambda x: np.linalg.lstsq(X.T, x, rcond=None)[0], (4,)),
]


def _away_from_kinks(shape):
    x = rng.uniform(0.7, 1.3, shape) * rng.choice([-1.0, 1.0], shape)
    return x + 0.01 * np.arange(x.size).reshape(shape)     # distinct values (sort, eigh)


@pytest.mark.parametrize("label,f,shape", NUMPY_CODE, ids=[c[0] for c in NUMPY_CODE])
def test_numpy_functions_on_traced_values(label, f, shape):
    x = _away_from_kinks(shape)
    ft.check_grads(f, (x,), order=2, modes=("fwd", "rev"), rtol=1e-5, atol=1e-5)
    xs = np.stack([x, 1.1 * x])
    np.testing.assert_allclose(ft.vmap(f)(xs), np.stack([f(x), f(1.1 * x)]), rtol=1e-10, atol=1e-12)


def test_every_numpy_function_with_a_functrans_namesake_dispatches_to_it():
    """By name: each ``numpy.X`` reaching ``__array_function__`` runs ``functrans.numpy.X``."""
    from functrans.numpy import _protocols
    names = [n for n in dir(np) if callable(getattr(np, n)) and hasattr(getattr(np, n), "__wrapped__")
             or isinstance(getattr(np, n), np.ufunc)]
    found = {n for n in names if _protocols._lookup(n) is not None}
    assert {"sum", "sort", "pad", "einsum", "kron", "take_along_axis", "sin", "matmul", "cross",
            "concatenate", "where", "diag", "roll", "split", "searchsorted"} <= found
    for n in found:
        assert _protocols._lookup(n) is getattr(fnp, _protocols._UFUNC_NAMES.get(n, n))
    for n in fnp.linalg.__all__:
        assert _protocols._lookup(n, "numpy.linalg") is getattr(fnp.linalg, n)


def _type_error(f, x=np.ones(3)):
    with pytest.raises(TypeError) as info:
        ft.grad(lambda x: fnp.sum(f(x)))(x)
    return str(info.value)


def test_numpy_functions_without_a_rule_raise_type_errors_naming_the_equivalent():
    assert "numpy.fft.fft has no functrans rule" in _type_error(lambda x: np.fft.fft(x).real)
    assert "functrans.numpy.fft has no equivalent" in _type_error(lambda x: np.fft.fft(x).real)
    msg = _type_error(lambda x: np.sin(x, out=np.empty(3)))
    assert "numpy.sin with the arguments ['out']" in msg and "use functrans.numpy.sin instead" in msg
    assert "numpy.maximum.accumulate" in _type_error(lambda x: np.maximum.accumulate(x))
    assert "x.at[indices].add(values)" in _type_error(lambda x: np.add.at(x, [0, 0], 1.0))
    # meshgrid is functrans.numpy's own, so NumPy's computes through it
    np.testing.assert_array_equal(ft.grad(lambda x: np.sum(np.meshgrid(x, x)[0]))(np.ones(3)), [3.0] * 3)
    assert "numpy.random.permutation" in _type_error(lambda x: np.random.permutation(x)) \
        or "cannot be converted" in _type_error(lambda x: np.random.permutation(x))
    assert "functrans.numpy has no equivalent" in _type_error(lambda x: np.gradient(x))


def test_ufunc_accumulate_and_outer_compute_through_functrans():
    x, y = np.array([0.3, 0.8, 1.5]), np.array([1.0, 2.0])
    # d/dx_j cumsum(x)_i = [j <= i]; d/dx_j cumprod(x)_i = prod_{k<=i} x_k / x_j for j <= i
    np.testing.assert_array_equal(ft.jacrev(lambda x: np.add.accumulate(x))(x), np.tril(np.ones((3, 3))))
    want = np.tril(np.cumprod(x)[:, None] / x[None, :])
    np.testing.assert_allclose(ft.jacfwd(lambda x: np.multiply.accumulate(x))(x), want, rtol=1e-14)
    got = ft.jacrev(lambda x: np.add.accumulate(fnp.outer(x, y), axis=1))(x)
    np.testing.assert_allclose(got, np.eye(3)[:, None, :] * np.cumsum(y)[None, :, None])
    # outer: a's axes, then b's; d/dx_i (x_i * y_j) = y_j
    out = ft.jacrev(lambda x: np.multiply.outer(x, y))(x)
    np.testing.assert_array_equal(out, np.eye(3)[:, None, :] * y[None, :, None])
    np.testing.assert_array_equal(ft.vmap(lambda x: np.subtract.outer(x, y))(np.ones((4, 3))),
                                  np.broadcast_to(1.0 - y, (4, 3, 2)))


def test_numpy_arguments_functrans_does_not_take_are_named():
    msg = _type_error(lambda x: np.quantile(x, 0.5, weights=x))
    assert "numpy.quantile on traced values runs functrans.numpy.quantile, which does not take" in msg
    assert "'weights'" in msg and "arguments it takes: ['a', 'q', 'axis'" in msg
    # NumPy 2's var(correction=) and std(mean=) reach functrans.numpy's
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(ft.grad(lambda x: np.var(x, correction=1))(x), 2 * (x - x.mean()) / 2)
    np.testing.assert_allclose(ft.grad(lambda x: np.std(x, mean=0.0))(x), x / 3 / np.sqrt(np.mean(x ** 2)))
    # an error of the function itself is not rewritten
    with pytest.raises(TypeError, match="exponent must be an integer"):
        ft.grad(lambda a: np.sum(np.linalg.matrix_power(a, 0.5)))(np.eye(2))


def test_asarray_of_a_value_being_differentiated_raises():
    for transform in (ft.grad, lambda f: ft.jacfwd(f)):
        with pytest.raises(TypeError, match="cannot be converted to a NumPy array.*drop its derivative"):
            transform(lambda x: fnp.sum(np.asarray(x)))(np.ones(3))
    with pytest.raises(TypeError, match="cannot be converted"):
        ft.vmap(lambda x: np.array(x))(np.ones((2, 3)))
    # ... and the next call works: no state is left behind.
    np.testing.assert_allclose(ft.grad(lambda x: np.sum(np.sin(x)))(np.zeros(3)), np.ones(3))


def test_in_place_methods_raise_and_name_the_functional_form():
    def f(x):
        x.sort()
        return fnp.sum(x)
    with pytest.raises(TypeError, match=r"x.sort\(\) modifies an array in place.*fnp.sort"):
        ft.grad(f)(np.ones(3))
    with pytest.raises(TypeError, match=r"x.put\(\).*x.at\[indices\].set"):
        ft.grad(lambda x: x.put([0], 1.0))(np.ones(3))
    with pytest.raises(TypeError, match=r"x.fill\(\)"):
        ft.vmap(lambda x: x.fill(0.0))(np.ones((2, 3)))


def test_value_dependent_shapes_need_concrete_values():
    x = np.array([0.0, 1.5, 0.0, -2.0])
    # Under grad values are concrete: masks, nonzero, unique work and keep derivatives.
    g = ft.grad(lambda x: fnp.sum(x[x != 0] ** 2) + fnp.sum(fnp.unique(x)))(x)
    np.testing.assert_allclose(g, [1.0, 4.0, 0.0, -3.0])   # unique's 0 is the first zero
    np.testing.assert_array_equal(fnp.flatnonzero(x), np.flatnonzero(x))
    np.testing.assert_array_equal(fnp.argwhere(x.reshape(2, 2)), np.argwhere(x.reshape(2, 2)))
    got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for a, b in zip(got, np.unique(x, return_index=True, return_inverse=True, return_counts=True)):
        np.testing.assert_array_equal(a, b)
    # Under vmap each example would have its own size: a clear ConcretizationError.
    for f, what in ((fnp.nonzero, "nonzero"), (fnp.flatnonzero, "flatnonzero"), (fnp.argwhere, "argwhere"),
                    (fnp.unique, "unique"), (lambda x: x[x > 0], "boolean mask"),
                    (lambda x: fnp.repeat(x, fnp.astype(x > 0, int)), "repeat")):
        with pytest.raises(ConcretizationError, match=what):
            ft.vmap(f)(np.stack([x, -x]))
