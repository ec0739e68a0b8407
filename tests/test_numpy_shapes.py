"""functrans.numpy's shapes and selection beyond the table of test_primitives: sort's
derivative in closed form, and the errors of bad arguments (on traced values, where
functrans computes; on plain arrays NumPy's own function runs and raises NumPy's errors)."""

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp


def test_sort_gradient_scatters_back_through_the_permutation():
    x = np.array([0.3, -1.2, 2.5, 0.7])
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    # d/dx_i sum_k w_k sort(x)_k = w at the rank of x_i.
    ranks = np.argsort(np.argsort(x))
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(w * fnp.sort(x)))(x), w[ranks])
    np.testing.assert_array_equal(ft.jvp(fnp.sort, (x,), (np.arange(4.0),))[1], np.argsort(x).astype(float))
    # along an axis, batched: each row is permuted on its own
    xs = np.stack([x, -x, x[::-1]])
    g = ft.vmap(ft.grad(lambda x: fnp.sum(w * fnp.sort(x))))(xs)
    np.testing.assert_array_equal(g, np.stack([w[np.argsort(np.argsort(r))] for r in xs]))
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(w[:, None] * fnp.sort(x, axis=0)))(xs.T), g.T)


def test_sort_ties_pass_each_cotangent_to_one_element():
    x = np.array([1.0, 1.0, 0.0])
    g = ft.grad(lambda x: fnp.sum(np.array([1.0, 2.0, 3.0]) * fnp.sort(x, stable=True)))(x)
    np.testing.assert_array_equal(g, [2.0, 3.0, 1.0])    # stable: the first 1.0 ranks first


def test_argsort_has_no_derivative_and_batches():
    x = np.array([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    np.testing.assert_array_equal(ft.vmap(fnp.argsort)(x), np.argsort(x))
    np.testing.assert_array_equal(ft.vmap(fnp.argsort, in_axes=1)(x), np.argsort(x.T))
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(x * fnp.argsort(x)))(x[0]), np.argsort(x[0]))


BAD = [
    (lambda x: fnp.pad(x, 1, mode="mirror"), ValueError, "mode must be one of"),
    (lambda x: fnp.pad(x, 1, mode="edge", constant_values=1), ValueError,
     "mode 'edge' takes the keyword arguments none, got \\['constant_values'\\]"),
    (lambda x: fnp.pad(x, 1, mode="reflect", reflect_type="mirror"), ValueError,
     "reflect_type must be 'even' or 'odd'"),
    (lambda x: fnp.pad(x, 1, mode=lambda v, w, i, k: None), TypeError, "a function as `mode`"),
    (lambda x: fnp.pad(x, 1, mode="maximum", stat_length=0), ValueError, "stat_length of 0"),
    (lambda x: fnp.pad(x, 1, mode="mean", stat_length=-1), ValueError,
     "`stat_length` cannot contain negative values"),
    (lambda x: fnp.pad(x, ((1, 2, 3),)), ValueError, "must broadcast to \\(before, after\\) pairs"),
    (lambda x: fnp.pad(x[:0], 1, mode="edge"), ValueError, "can't extend empty axis 0"),
    (lambda x: fnp.pad(x, 1, mode="linear_ramp", end_values=x[0]), TypeError,
     "`end_values` must be concrete"),
    (lambda x: fnp.pad(x, -1), ValueError, "cannot contain negative values"),
    (lambda x: fnp.pad(x, 1.5), TypeError, "must be of integral type"),
    (lambda x: fnp.pad(x, 1, constant_values=x[0]), TypeError, "must be concrete"),
    (lambda x: fnp.split(x, 4), ValueError, "does not result in an equal division"),
    (lambda x: fnp.array_split(x, 0), ValueError, "must be larger than 0"),
    (lambda x: fnp.hsplit(x[0], 1), ValueError, "hsplit only works on arrays of 1 or more dimensions"),
    (lambda x: fnp.vsplit(x, 1), ValueError, "vsplit only works on arrays of 2 or more"),
    (lambda x: fnp.take_along_axis(x, np.array([[0]]), 0), ValueError, "same number of dimensions"),
    (lambda x: fnp.cross(x, x), ValueError, "dimension must be 2 or 3"),
    (lambda x: fnp.cross(x[:3], x[:3], axisc=2), ValueError, "axisc 2 is out of bounds"),
    (lambda x: fnp.diagonal(x), ValueError, "at least two dimensions"),
    (lambda x: fnp.diagonal(fnp.reshape(x, (2, 3)), 0, 1, -1), ValueError, "cannot be the same"),
    (lambda x: fnp.diag(fnp.reshape(x, (1, 2, 3))), ValueError, "1-d or 2-d"),
    (lambda x: fnp.moveaxis(fnp.reshape(x, (2, 3)), (0, 1), 0), ValueError, "same number of elements"),
    (lambda x: fnp.moveaxis(fnp.reshape(x, (2, 3)), (0, 0), (0, 1)), ValueError, "repeated axis"),
    (lambda x: fnp.moveaxis(x, 1, 0), ValueError, "source 1 is out of bounds"),
    (lambda x: fnp.rot90(fnp.reshape(x, (2, 3)), axes=(0, -2)), ValueError, "axes must be different"),
    (lambda x: fnp.rot90(fnp.reshape(x, (2, 3)), axes=(0,)), ValueError, "len\\(axes\\) must be 2"),
    (lambda x: fnp.repeat(x, -1), ValueError, "may not contain negative values"),
    (lambda x: fnp.searchsorted(fnp.reshape(x, (2, 3)), 0.5), ValueError, "`a` must be 1-d"),
    (lambda x: fnp.searchsorted(x, 0.5, side="middle"), ValueError, "side must be 'left' or 'right'"),
    (lambda x: fnp.select([x > 0], [x, x]), ValueError, "must have the same length"),
    (lambda x: fnp.select([], []), ValueError, "condlist is empty"),
    (lambda x: fnp.take(x, [0], mode="nearest"), ValueError, "mode must be one of"),
    (lambda x: fnp.take(x, [0], out=np.empty(1)), TypeError, "`out` is not supported"),
    (lambda x: fnp.fliplr(x), ValueError, "at least 2-d"),
    (lambda x: fnp.argsort(x, order="f"), ValueError, "`order`"),
    (lambda x: fnp.rollaxis(x, 0, 3), ValueError, "start 3 must satisfy"),
    (lambda x: fnp.linalg.multi_dot([x]), ValueError, "at least two arrays"),
    (lambda x: fnp.interp(0.5, x, x), TypeError, "xp \\(the sample points\\) must be a concrete array"),
    (lambda x: fnp.interp(x, [0.0, 1.0], x), ValueError, "xp and fp must be 1-d and of the same length"),
    (lambda x: fnp.interp(x, [], []), ValueError, "the sample points xp are empty"),
    (lambda x: fnp.interp(x, [0.0, 1.0], [1.0, 2.0], period=0), ValueError, "period must be non-zero"),
    (lambda x: fnp.convolve(x, x, "circular"), ValueError, "mode must be 'full', 'same' or 'valid'"),
    (lambda x: fnp.convolve(fnp.reshape(x, (2, 3)), x), ValueError, "a and v must be 1-d"),
    (lambda x: fnp.convolve(x, x[:0]), ValueError, "v cannot be empty"),
]


@pytest.mark.parametrize("f,error,message", BAD, ids=[b[2] for b in BAD])
def test_bad_arguments_raise_clear_errors(f, error, message):
    with pytest.raises(error, match=message):
        ft.grad(lambda x: fnp.sum(f(x)))(np.linspace(0.0, 1.0, 6))
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(fnp.sort(x)))(np.ones(2)), np.ones(2))


def test_interp_derivatives_closed_form_and_conventions():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([1.0, 3.0, 2.0])
    x = np.array([-1.0, 0.5, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    # slope of the segment to the right of a knot (left of the last one), 0 outside
    np.testing.assert_allclose(ft.vmap(ft.grad(lambda x: fnp.interp(x, xp, fp)))(x),
                               [0.0, 2.0, -0.5, -0.5, -0.5, 0.0])
    # linear in fp: the hat-function weights (the right value outside)
    J = ft.jacrev(lambda fp: fnp.interp(x, xp, fp))(fp)
    np.testing.assert_allclose(J, [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1], [0, 0, 1]])
    # repeated sample points give no NaN; one sample point is a constant
    g = ft.grad(lambda x: fnp.interp(x, [0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 5.0, 6.0]))(1.0)
    assert np.isfinite(g)
    np.testing.assert_array_equal(ft.grad(lambda f: fnp.interp(0.3, [1.0], f))(np.array([7.0])), [1.0])


def test_convolve_derivatives_are_correlations():
    rng = np.random.default_rng(5)
    a, v, w = rng.standard_normal(5), rng.standard_normal(3), rng.standard_normal(7)
    # d/da sum(w * (a * v)) = correlate(w, v, 'valid'); d/dv = correlate(w, a, 'valid')
    ga, gv = ft.grad(lambda a, v: fnp.sum(w * fnp.convolve(a, v)), argnums=(0, 1))(a, v)
    np.testing.assert_allclose(ga, np.correlate(w, v, "valid"))
    np.testing.assert_allclose(gv, np.correlate(w, a, "valid"))
    J = ft.jacfwd(lambda v: fnp.convolve(a, v, "same"))(v)
    np.testing.assert_allclose(J, np.stack([np.convolve(a, e, "same") for e in np.eye(3)], 1))
    vs = rng.standard_normal((4, 3))
    np.testing.assert_allclose(ft.vmap(lambda v: fnp.convolve(a, v, "valid"))(vs),
                               [np.convolve(a, v, "valid") for v in vs])


def test_put_along_axis_is_functional_and_its_derivative_follows_what_stays():
    a = np.array([[3.0, 1.0, 2.0], [2.0, 4.0, 0.5]])
    i = np.argmax(a, axis=1)[:, None]
    got = fnp.put_along_axis(a, i, 0.0, axis=1)
    np.testing.assert_array_equal(got, [[0.0, 1.0, 2.0], [2.0, 0.0, 0.5]])
    np.testing.assert_array_equal(a, [[3.0, 1.0, 2.0], [2.0, 4.0, 0.5]])        # a is unchanged
    # overwritten elements of arr get 0; every value its one position's cotangent
    w = np.array([[1.0, 10.0, 100.0], [1000.0, 1e4, 1e5]])
    ga, gv = ft.grad(lambda a, v: fnp.sum(w * fnp.put_along_axis(a, i, v, 1)), argnums=(0, 1))(
        a, np.ones((2, 1)))
    np.testing.assert_array_equal(ga, w * [[0, 1, 1], [1, 0, 1]])
    np.testing.assert_array_equal(gv, [[1.0], [1e4]])
    # repeated indices: NumPy keeps the last value, and only that one gets a derivative
    rep = np.array([[0, 0, 0]])
    v = np.array([[5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(fnp.put_along_axis(a[:1], rep, v, 1), [[7.0, 1.0, 2.0]])
    gv = ft.grad(lambda v: fnp.sum(w[:1] * fnp.put_along_axis(a[:1], rep, v, 1)))(v)
    np.testing.assert_array_equal(gv, [[0.0, 0.0, 1.0]])
    gv = ft.vmap(ft.grad(lambda v, i: fnp.sum(fnp.put_along_axis(a[0], i, v, 0))))(
        np.ones((2, 3)), np.array([[0, 0, 1], [2, 1, 0]]))
    np.testing.assert_array_equal(gv, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="put_along_axis: inplace=True is not supported.*inplace=False"):
        ft.grad(lambda a: fnp.sum(fnp.put_along_axis(a, i, 0.0, 1, inplace=True)))(a)
    with pytest.raises(TypeError, match=r"numpy.put_along_axis changes its array in place \(and returns "
                                        r"None\), which a traced value \(under `grad`\) cannot do; use "
                                        r"fnp.put_along_axis\(arr, indices, values, axis\)"):
        ft.grad(lambda a: fnp.sum(np.put_along_axis(a, i, 0.0, 1)))(a)
    with pytest.raises(ValueError, match="put_along_axis: `indices` and `arr` must have the same number of "
                                         "dimensions, got 1 and 2"):
        ft.grad(lambda a: fnp.sum(fnp.put_along_axis(a, np.array([0]), 0.0, 1)))(a)


def test_at_set_with_repeated_indices_differentiates_the_update_that_stays():
    v = np.array([1.0, 2.0, 3.0])
    w = np.array([1.0, 10.0, 100.0])

    def f(v):      # x.at[[0, 2, 0]].set(v): position 0 keeps v[2], NumPy's last
        return fnp.sum(w * (0.0 * v).at[np.array([0, 2, 0])].set(v))
    assert float(ft.value_and_grad(f)(v)[0]) == 3.0 + 200.0
    np.testing.assert_array_equal(ft.grad(f)(v), [0.0, 100.0, 1.0])
    # (finite differences of repeated traced indices: the put_along_axis rows of test_primitives)


PAD_CASES = [
    ("edge", {}), ("wrap", {}), ("reflect", {}), ("symmetric", {}),
    ("reflect", {"reflect_type": "odd"}), ("symmetric", {"reflect_type": "odd"}),
    ("linear_ramp", {}), ("linear_ramp", {"end_values": (1.5, -2)}),
    ("linear_ramp", {"end_values": [[1, 2], [3, 4]]}), ("linear_ramp", {"end_values": [[1.0, 2.0]]}),
    ("maximum", {}), ("minimum", {"stat_length": 2}), ("mean", {}),
    ("mean", {"stat_length": ((1, 2), (3, 1))}), ("median", {}), ("median", {"stat_length": (2, 3)}),
    ("maximum", {"stat_length": ((1, 2), (2, 1))}), ("mean", {"stat_length": 1.6}),
    ("constant", {"constant_values": ((3.0, -1.0), (2.0, 0.5))})]


def _fd_jacobian(f, x, h=1e-6):
    """Central differences of NumPy's own function (the reference, not functrans)."""
    cols = [(f(x + h * e.reshape(x.shape)) - f(x - h * e.reshape(x.shape))) / (2 * h)
            for e in np.eye(x.size)]
    return np.stack(cols, -1).reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize("mode, kwargs", PAD_CASES)
@pytest.mark.parametrize("shape, width", [((4, 3), ((1, 2), (4, 0))), ((2, 3), 5), ((4, 1), 2)])
def test_pad_modes_match_numpy_with_derivatives_and_batching(mode, kwargs, shape, width):
    """Every mode of NumPy's pad on traced values: NumPy's values to the bit (corners and
    iterated reflections included), the Jacobian in both modes against central differences
    of np.pad, and vmap against a loop, in float64, float32 and integers."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    f = lambda a: fnp.pad(a, width, mode, **kwargs)
    reference = lambda a: np.pad(a, width, mode, **kwargs)
    # A mean or median may differ from NumPy's in its last bit (another summation order), and
    # so may a ramp under vmap (NumPy picks one of two formulas per call, from the values).
    close = lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    same = np.testing.assert_array_equal if mode not in ("mean", "median") else close
    out, _ = ft.vjp(f, x)
    same(out, reference(x))
    want = _fd_jacobian(reference, x)
    np.testing.assert_allclose(ft.jacrev(f)(x), want, atol=1e-7)
    np.testing.assert_allclose(ft.jacfwd(f)(x), want, atol=1e-7)
    xs = rng.standard_normal((3,) + shape)
    (close if mode == "linear_ramp" else same)(ft.vmap(f)(xs), np.stack([reference(a) for a in xs]))
    for dtype in (np.float32, np.int64):
        xd = (5 * x).astype(dtype)
        got = ft.vmap(f)(xd[None])[0]
        assert got.dtype == dtype
        if dtype == np.float32 and mode in ("mean", "median", "linear_ramp"):
            np.testing.assert_allclose(got, reference(xd), rtol=1e-6)
        else:
            np.testing.assert_array_equal(got, reference(xd))


def test_pad_wide_odd_reflection_keeps_numpys_trend_and_empty_mode_is_zeros():
    x = np.array([0.0, 1.0, 3.0])
    for mode in ("reflect", "symmetric"):
        got = ft.jvp(lambda a: fnp.pad(a, (7, 6), mode, reflect_type="odd"), (x,), (np.ones(3),))
        np.testing.assert_array_equal(got[0], np.pad(x, (7, 6), mode, reflect_type="odd"))
        np.testing.assert_array_equal(got[1], np.ones(16))    # a shift moves every value alike
    got = ft.vmap(lambda a: fnp.pad(a, (2, 1), "empty"))(x[None])[0]
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 1.0, 3.0, 0.0])
    # An integer mean pads with NumPy's rounding (half to even).
    ints = np.array([1, 2, 4, 7])
    np.testing.assert_array_equal(ft.vmap(lambda a: fnp.pad(a, 1, "mean", stat_length=2))(ints[None])[0],
                                  np.pad(ints, 1, "mean", stat_length=2))
