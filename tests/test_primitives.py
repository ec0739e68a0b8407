"""Table-driven tests of every primitive and every function of ``functrans.numpy``.

Each row of the table (an :class:`OpRecord`) names a function, the shapes of its arguments
(single shapes and broadcasting pairs) and the domain its arguments are drawn from, chosen
where the function is smooth. For every row, shape case and dtype (float64, float32):

* value: equal to NumPy's own function, with NumPy's dtype (float32 in, float32 out);
* derivatives: ``ft.check_grads(order=2, modes=("fwd", "rev"))``, which compares jvp and
  pullback (and the jvp and pullback of those) with central finite differences taken in
  float64; the gradient and the output tangent have the input's / output's dtype;
  rows of non-differentiable functions (comparisons, rounding, ...) instead check that the
  derivative is exactly zero;
* batching: ``ft.vmap(f, in_axes)`` for mixes of 0, 1, -1 and None equals ``np.stack`` of
  ``f`` per example, and so does a nested vmap over two different axes.

The conventions of API.md at non-differentiable points are tested separately against exact
values. Coverage tests keep the table complete: every primitive has its rules and is used by
a row, every public ``functrans.numpy`` name has a row or is listed (with a reason) as not
numeric. Derivatives are never compared with functrans' own computation of the same thing.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import batching, core, forward, primitives, reverse
from functrans.errors import ConcretizationError

F64, F32 = np.float64, np.float32
DTYPES = (F64, F32)

# ---------------------------------------------------------------------------------------
# Domains: where a row's arguments are drawn from.


@dataclasses.dataclass(frozen=True)
class Domain:
    """Draws an argument of a given shape and float dtype. ``diff``: differentiate w.r.t. it."""

    sample: Callable[[np.random.Generator, tuple, Any], np.ndarray]
    diff: bool = True


def uniform(lo: float, hi: float) -> Domain:
    return Domain(lambda rng, shape, dtype: rng.uniform(lo, hi, shape).astype(dtype))


def away_from_zero(lo: float = 0.3, hi: float = 2.0) -> Domain:
    """``±[lo, hi]``: both signs, never near 0 (abs, reciprocal, prod, ...)."""
    def sample(rng, shape, dtype):
        return (rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)
    return Domain(sample)


def avoiding(lo: float, hi: float, *gaps: tuple) -> Domain:
    """Uniform on ``[lo, hi]`` without the open intervals ``gaps`` (kinks of clip etc.)."""
    def sample(rng, shape, dtype):
        x = rng.uniform(lo, hi, shape)
        for _ in range(100):
            bad = np.zeros(np.shape(x), bool)
            for a, b in gaps:
                bad |= (x > a) & (x < b)
            if not bad.any():
                break
            x = np.where(bad, rng.uniform(lo, hi, shape), x)
        return np.asarray(x).astype(dtype)
    return Domain(sample)


def near_half_integers() -> Domain:
    """``k + 1/2 ± 0.15`` with ``|x| < 2.7``: far from the jumps of ``floor(x / y)`` for ``|y|≈1``."""
    def sample(rng, shape, dtype):
        return (rng.integers(-3, 3, shape) + 0.5 + rng.uniform(-0.15, 0.15, shape)).astype(dtype)
    return Domain(sample)


def near_integers() -> Domain:
    """``k ± 0.15``: at least 0.2 from every value of :func:`near_half_integers` (no ties)."""
    def sample(rng, shape, dtype):
        return (rng.integers(-3, 3, shape) + rng.uniform(-0.15, 0.15, shape)).astype(dtype)
    return Domain(sample)


def near_one() -> Domain:
    """``±[0.97, 1.03]``: divisors for remainder / floor_divide."""
    return away_from_zero(0.97, 1.03)


def small_ints(lo: float = -2, hi: float = 3) -> Domain:
    """Integer-valued floats (with zeros), for all/any and ties."""
    return Domain(lambda rng, shape, dtype: rng.integers(lo, hi, shape).astype(dtype))


def bools() -> Domain:
    return Domain(lambda rng, shape, dtype: rng.random(shape) < 0.5, diff=False)


def indices(n: int) -> Domain:
    """Integer index arrays into an axis of length ``n``, with repeats."""
    return Domain(lambda rng, shape, dtype: rng.integers(0, n, shape), diff=False)


NORMAL = uniform(-2.0, 2.0)
POSITIVE = uniform(0.5, 3.0)

# ---------------------------------------------------------------------------------------
# The record.

SHAPES1 = [(), (3,), (2, 3)]
SHAPES2 = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
           ((), (2, 3))]


@dataclasses.dataclass
class OpRecord:
    """One row: ``fun`` of ``nargs`` arrays, tested on each shape case in ``shapes``.

    ``rng`` is one :class:`Domain` for all arguments or one per argument; ``ref`` computes the
    same thing with NumPy; ``names`` are the public ``functrans.numpy`` names the row covers.
    ``diff=False`` marks a function whose derivative is zero (checked exactly instead of by
    finite differences). ``order``/``modes`` configure check_grads; ``tol`` overrides its
    tolerance per dtype.
    """

    name: str
    fun: Callable[..., Any]
    nargs: int
    rng: Domain | Sequence[Domain]
    shapes: Sequence[Any]
    ref: Callable[..., Any]
    names: Sequence[str] = ()
    diff: bool = True
    order: int = 2
    modes: Sequence[str] = ("fwd", "rev")
    tol: dict | None = None
    dtypes: Sequence[Any] = DTYPES

    def domains(self) -> list:
        rng = self.rng if isinstance(self.rng, (list, tuple)) else [self.rng] * self.nargs
        assert len(rng) == self.nargs, self.name
        return list(rng)

    def shape_cases(self) -> list:
        """Each case as a tuple of argument shapes (a one-argument row may list bare shapes)."""
        def one(s):
            return s if isinstance(s, tuple) and s and isinstance(s[0], tuple) else (s,)
        return [s if self.nargs > 1 else one(s) for s in self.shapes]


def rec(name, fun, nargs, rng, shapes, ref, names=(), **kw) -> OpRecord:
    return OpRecord(name, fun, nargs, rng, shapes, ref, tuple(names), **kw)


def at(x):
    """``x.at``; a concrete NumPy array has no ``.at``, so build the same updater for it.

    (Inside a transform ``x`` is traced and ``x.at`` is the public API; this helper only lets
    the same row run on plain arrays for the value test and the per-example reference.)
    """
    return x.at if isinstance(x, core.Tracer) else fnp._At(x)


def np_add_at(x, idx, v):
    out = np.array(x, copy=True)
    np.add.at(out, idx, v)
    return out


def np_set(x, idx, v):
    out = np.array(x, copy=True)
    out[idx] = v
    return out


RECORDS: list[OpRecord] = []


def add(*records: OpRecord) -> None:
    RECORDS.extend(records)


# ---- elementwise, one argument -----------------------------------------------------------

UNARY = [
    ("sin", fnp.sin, np.sin, NORMAL),
    ("cos", fnp.cos, np.cos, NORMAL),
    ("tan", fnp.tan, np.tan, uniform(-1.2, 1.2)),
    ("arcsin", fnp.arcsin, np.arcsin, uniform(-0.9, 0.9)),
    ("arccos", fnp.arccos, np.arccos, uniform(-0.9, 0.9)),
    ("arctan", fnp.arctan, np.arctan, NORMAL),
    ("sinh", fnp.sinh, np.sinh, NORMAL),
    ("cosh", fnp.cosh, np.cosh, NORMAL),
    ("tanh", fnp.tanh, np.tanh, NORMAL),
    ("arcsinh", fnp.arcsinh, np.arcsinh, NORMAL),
    ("arccosh", fnp.arccosh, np.arccosh, uniform(1.2, 3.0)),
    ("arctanh", fnp.arctanh, np.arctanh, uniform(-0.9, 0.9)),
    ("exp", fnp.exp, np.exp, NORMAL),
    ("exp2", fnp.exp2, np.exp2, NORMAL),
    ("expm1", fnp.expm1, np.expm1, NORMAL),
    ("log", fnp.log, np.log, POSITIVE),
    ("log2", fnp.log2, np.log2, POSITIVE),
    ("log10", fnp.log10, np.log10, POSITIVE),
    ("log1p", fnp.log1p, np.log1p, uniform(-0.5, 2.0)),
    ("sqrt", fnp.sqrt, np.sqrt, POSITIVE),
    ("abs", fnp.abs, np.abs, away_from_zero()),
    ("absolute", fnp.absolute, np.absolute, away_from_zero()),
    ("negative", fnp.negative, np.negative, NORMAL),
    ("positive", fnp.positive, np.positive, NORMAL),
    ("square", fnp.square, np.square, NORMAL),
    ("reciprocal", fnp.reciprocal, np.reciprocal, away_from_zero()),
    ("sigmoid", fnp.sigmoid, lambda x: (1 / (1 + np.exp(-x))).astype(x.dtype), NORMAL),
]
for _name, _f, _ref, _dom in UNARY:
    add(rec(_name, _f, 1, _dom, SHAPES1, _ref, [_name]))

add(
    rec("op:-x", lambda x: -x, 1, NORMAL, SHAPES1, np.negative),
    rec("op:abs(x)", lambda x: abs(x), 1, away_from_zero(), SHAPES1, np.abs),
    rec("op:x**3", lambda x: x ** 3, 1, NORMAL, SHAPES1, lambda x: x ** 3),
    rec("op:x**2", lambda x: x ** 2, 1, NORMAL, SHAPES1, lambda x: x ** 2),
    rec("op:x**0.5", lambda x: x ** 0.5, 1, POSITIVE, SHAPES1, lambda x: x ** 0.5),
    rec("op:2.0**x", lambda x: 2.0 ** x, 1, NORMAL, SHAPES1, lambda x: 2.0 ** x),
    rec("op:1-x/2", lambda x: 1.0 - x / 2.0, 1, NORMAL, SHAPES1, lambda x: 1.0 - x / 2.0),
    rec("op:x.T", lambda x: x.T, 1, NORMAL, SHAPES1, lambda x: x.T),
    rec("with_gradient", lambda x: ft.with_gradient(fnp.sin(x), lambda g: None), 1, NORMAL,
        SHAPES1, np.sin),
    rec("asarray", lambda x: fnp.asarray(x), 1, NORMAL, SHAPES1, np.asarray, ["asarray"]),
    rec("astype(float32)", lambda x: fnp.astype(x, fnp.float32), 1, NORMAL, SHAPES1,
        lambda x: x.astype(np.float32), ["astype"], tol={F64: 2e-3, F32: 5e-3}),
    rec("astype(float64)", lambda x: fnp.astype(x, fnp.float64), 1, NORMAL, SHAPES1,
        lambda x: x.astype(np.float64), ["astype"]),
    rec("asarray([x,x])", lambda x: fnp.asarray([x, 2.0 * x]), 1, NORMAL, SHAPES1,
        lambda x: np.asarray([x, 2.0 * x]), ["asarray"]),
    rec("asarray(dtype)", lambda x: fnp.asarray(x, dtype=fnp.float64) * 2.0, 1, NORMAL,
        SHAPES1, lambda x: x.astype(np.float64) * 2.0, ["asarray"]),
)

# ---- elementwise, two arguments (broadcasting) -------------------------------------------

BINARY = [
    ("add", fnp.add, np.add, NORMAL),
    ("subtract", fnp.subtract, np.subtract, NORMAL),
    ("multiply", fnp.multiply, np.multiply, NORMAL),
    ("divide", fnp.divide, np.divide, (NORMAL, away_from_zero())),
    ("true_divide", fnp.true_divide, np.true_divide, (NORMAL, away_from_zero())),
    ("power", fnp.power, np.power, (POSITIVE, NORMAL)),
    ("maximum", fnp.maximum, np.maximum, NORMAL),
    ("minimum", fnp.minimum, np.minimum, NORMAL),
    ("arctan2", fnp.arctan2, np.arctan2, (away_from_zero(0.5, 2.0), away_from_zero(0.5, 2.0))),
    ("remainder", fnp.remainder, np.remainder, (near_half_integers(), near_one())),
    ("mod", fnp.mod, np.mod, (near_half_integers(), near_one())),
    ("hypot", fnp.hypot, np.hypot, away_from_zero(0.5, 2.0)),
    ("logaddexp", fnp.logaddexp, np.logaddexp, NORMAL),
]
for _name, _f, _ref, _dom in BINARY:
    add(rec(_name, _f, 2, _dom, SHAPES2, _ref, [_name]))

add(
    rec("op:x+y", lambda x, y: x + y, 2, NORMAL, SHAPES2, np.add),
    rec("op:x-y", lambda x, y: x - y, 2, NORMAL, SHAPES2, np.subtract),
    rec("op:x*y", lambda x, y: x * y, 2, NORMAL, SHAPES2, np.multiply),
    rec("op:x/y", lambda x, y: x / y, 2, (NORMAL, away_from_zero()), SHAPES2, np.divide),
    rec("op:x**y", lambda x, y: x ** y, 2, (POSITIVE, NORMAL), SHAPES2, np.power),
    rec("op:x%y", lambda x, y: x % y, 2, (near_half_integers(), near_one()), SHAPES2, np.mod),
)

# ---- non-differentiable elementwise functions (value, derivative exactly zero) ------------

NONDIFF_UNARY = [
    ("sign", fnp.sign, np.sign, away_from_zero()),
    ("floor", fnp.floor, np.floor, NORMAL),
    ("ceil", fnp.ceil, np.ceil, NORMAL),
    ("trunc", fnp.trunc, np.trunc, NORMAL),
    ("round", fnp.round, np.round, NORMAL),
    ("around", fnp.around, np.around, NORMAL),
    ("isfinite", fnp.isfinite, np.isfinite, NORMAL),
    ("isnan", fnp.isnan, np.isnan, NORMAL),
    ("isinf", fnp.isinf, np.isinf, NORMAL),
    ("logical_not", fnp.logical_not, np.logical_not, small_ints()),
    ("zeros_like", fnp.zeros_like, np.zeros_like, NORMAL),
    ("ones_like", fnp.ones_like, np.ones_like, NORMAL),
    ("stop_gradient", ft.stop_gradient, lambda x: x, NORMAL),
]
for _name, _f, _ref, _dom in NONDIFF_UNARY:
    add(rec(_name, _f, 1, _dom, SHAPES1, _ref, [_name] if hasattr(fnp, _name) else [], diff=False))

add(
    rec("round(decimals=1)", lambda x: fnp.round(x, 1), 1, NORMAL, SHAPES1,
        lambda x: np.round(x, 1), ["round"], diff=False),
    rec("full_like", lambda x: fnp.full_like(x, 2.5), 1, NORMAL, SHAPES1,
        lambda x: np.full_like(x, 2.5), ["full_like"], diff=False),
    rec("op:~(x>0)", lambda x: ~(x > 0), 1, NORMAL, SHAPES1, lambda x: ~(x > 0), diff=False),
    # the share of a maximum's (minimum's) derivative: 1 where x wins, 0.5 at a tie, else 0
    rec("win_share(greater)", lambda x, y: primitives.win_share(x, y, True, x.dtype), 2,
        small_ints(), SHAPES2, lambda x, y: np.where(x > y, 1, np.where(x == y, 0.5, 0)).astype(x.dtype),
        diff=False),
    rec("win_share(less)", lambda x, y: primitives.win_share(x, y, False, x.dtype), 2,
        small_ints(), SHAPES2, lambda x, y: np.where(x < y, 1, np.where(x == y, 0.5, 0)).astype(x.dtype),
        diff=False),
    rec("invert", lambda x: fnp.invert(x > 0), 1, NORMAL, SHAPES1, lambda x: np.invert(x > 0),
        ["invert", "bitwise_not"], diff=False),
    rec("invert(int)", lambda x: fnp.invert(fnp.astype(x, np.int64)) * 1.0, 1, NORMAL, SHAPES1,
        lambda x: np.invert(x.astype(np.int64)) * 1.0, diff=False),
    rec("bitwise_and", lambda x, y: fnp.bitwise_and(x > 0, y > 0), 2, NORMAL, SHAPES2,
        lambda x, y: np.bitwise_and(x > 0, y > 0), ["bitwise_and"], diff=False),
    rec("bitwise_or", lambda x, y: fnp.bitwise_or(x > 0, y > 0), 2, NORMAL, SHAPES2,
        lambda x, y: np.bitwise_or(x > 0, y > 0), ["bitwise_or"], diff=False),
    rec("bitwise_xor(int)", lambda x, y: fnp.bitwise_xor(fnp.astype(x, np.int64), 6) * 1.0, 2, NORMAL,
        SHAPES2, lambda x, y: np.bitwise_xor(x.astype(np.int64), 6) * 1.0, ["bitwise_xor"], diff=False),
)

NONDIFF_BINARY = [
    ("equal", fnp.equal, np.equal, small_ints()),
    ("not_equal", fnp.not_equal, np.not_equal, small_ints()),
    ("less", fnp.less, np.less, small_ints()),
    ("less_equal", fnp.less_equal, np.less_equal, small_ints()),
    ("greater", fnp.greater, np.greater, small_ints()),
    ("greater_equal", fnp.greater_equal, np.greater_equal, small_ints()),
    ("logical_and", fnp.logical_and, np.logical_and, small_ints()),
    ("logical_or", fnp.logical_or, np.logical_or, small_ints()),
    ("logical_xor", fnp.logical_xor, np.logical_xor, small_ints()),
    ("floor_divide", fnp.floor_divide, np.floor_divide, (near_half_integers(), near_one())),
]
for _name, _f, _ref, _dom in NONDIFF_BINARY:
    add(rec(_name, _f, 2, _dom, SHAPES2, _ref, [_name], diff=False))

add(
    rec("op:x<y", lambda x, y: x < y, 2, small_ints(), SHAPES2, np.less, diff=False),
    rec("op:x>=y", lambda x, y: x >= y, 2, small_ints(), SHAPES2, np.greater_equal, diff=False),
    rec("op:x==y", lambda x, y: x == y, 2, small_ints(), SHAPES2, np.equal, diff=False),
    rec("op:x!=y", lambda x, y: x != y, 2, small_ints(), SHAPES2, np.not_equal, diff=False),
    rec("op:x//y", lambda x, y: x // y, 2, (near_half_integers(), near_one()), SHAPES2,
        np.floor_divide, diff=False),
    rec("op:(x>0)&(y>0)", lambda x, y: (x > 0) & (y > 0), 2, NORMAL, SHAPES2,
        lambda x, y: (x > 0) & (y > 0), diff=False),
    rec("op:(x>0)|(y>0)", lambda x, y: (x > 0) | (y > 0), 2, NORMAL, SHAPES2,
        lambda x, y: (x > 0) | (y > 0), diff=False),
    rec("op:(x>0)^(y>0)", lambda x, y: (x > 0) ^ (y > 0), 2, NORMAL, SHAPES2,
        lambda x, y: (x > 0) ^ (y > 0), diff=False),
)

# ``mask(x, keep)`` = ``where(keep, x, 0)``: an internal primitive of the where/select rules.
add(rec("primitives.mask", lambda x, keep: primitives.mask(x, keep), 2, (NORMAL, bools()), SHAPES2,
        lambda x, keep: np.where(keep, x, np.zeros((), x.dtype))))

# ---- where and clip ----------------------------------------------------------------------

SHAPES3_WHERE = [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()),
                 ((2, 1), (1, 3), (2, 3)), ((), (2, 3), (3,))]
add(
    rec("where", lambda c, x, y: fnp.where(c, x, y), 3, (bools(), NORMAL, NORMAL),
        SHAPES3_WHERE, np.where, ["where"]),
    rec("where(x>0,x,y)", lambda x, y: fnp.where(x > 0, x, y), 2, (away_from_zero(), NORMAL),
        SHAPES2, lambda x, y: np.where(x > 0, x, y), ["where"]),
    rec("where(x>0,x*x,0)", lambda x: fnp.where(x > 0, x * x, 0.0), 1, away_from_zero(),
        SHAPES1, lambda x: np.where(x > 0, x * x, 0.0).astype(x.dtype), ["where"]),
    rec("clip(x,-0.5,0.5)", lambda x: fnp.clip(x, -0.5, 0.5), 1,
        avoiding(-2, 2, (-0.6, -0.4), (0.4, 0.6)), SHAPES1, lambda x: np.clip(x, -0.5, 0.5),
        ["clip"]),
    rec("clip(x,None,0.5)", lambda x: fnp.clip(x, None, 0.5), 1,
        avoiding(-2, 2, (0.4, 0.6)), SHAPES1, lambda x: np.clip(x, None, 0.5), ["clip"]),
    rec("clip(x,lo,hi)", lambda x, lo, hi: fnp.clip(x, lo, hi), 3,
        (avoiding(-3, 3, (-1.3, -0.7), (0.7, 1.3)), uniform(-1.2, -0.8), uniform(0.8, 1.2)),
        [((3,), (3,), (3,)), ((2, 3), (3,), ()), ((2, 3), (2, 1), (2, 3)), ((), (), ())],
        np.clip, ["clip"]),
    rec("op:x.clip", lambda x: x.clip(-0.5, 0.5), 1,
        avoiding(-2, 2, (-0.6, -0.4), (0.4, 0.6)), SHAPES1, lambda x: x.clip(-0.5, 0.5)),
)

# ---- reductions ----------------------------------------------------------------------------

REDUCTIONS = [
    ("sum", fnp.sum, np.sum, NORMAL),
    ("mean", fnp.mean, np.mean, NORMAL),
    ("prod", fnp.prod, np.prod, away_from_zero(0.5, 1.5)),
    ("max", fnp.max, np.max, NORMAL),
    ("min", fnp.min, np.min, NORMAL),
    ("amax", fnp.amax, np.amax, NORMAL),
    ("amin", fnp.amin, np.amin, NORMAL),
    ("var", fnp.var, np.var, NORMAL),
    ("std", fnp.std, np.std, NORMAL),
]
AXIS_CASES = [  # (kwargs, shapes)
    ({}, SHAPES1),
    ({"axis": None, "keepdims": True}, [(), (2, 3)]),
    ({"axis": 0}, [(3,), (2, 3)]),
    ({"axis": -1, "keepdims": True}, [(3,), (2, 3)]),
    ({"axis": 1}, [(2, 3), (2, 3, 2)]),
    ({"axis": (0, 1)}, [(2, 3)]),
    ({"axis": (-1, 0), "keepdims": True}, [(2, 3), (2, 3, 2)]),
]


def _kw(kwargs: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in kwargs.items())


for _name, _f, _ref, _dom in REDUCTIONS:
    for _kwargs, _shapes in AXIS_CASES:
        if _name in ("amax", "amin") and _kwargs:
            continue  # aliases: one row each is enough
        if _name == "std":
            # the std of one element is sqrt(0): not differentiable (tested at 0 separately)
            _shapes = [s for s in _shapes if s != ()]
        add(rec(f"{_name}({_kw(_kwargs)})", (lambda f, kw: lambda x: f(x, **kw))(_f, _kwargs), 1,
                _dom, _shapes, (lambda f, kw: lambda x: f(x, **kw))(_ref, _kwargs), [_name]))

add(
    rec("var(ddof=1)", lambda x: fnp.var(x, axis=-1, ddof=1), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.var(x, axis=-1, ddof=1), ["var"]),
    rec("std(ddof=1,keepdims)", lambda x: fnp.std(x, axis=0, ddof=1, keepdims=True), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.std(x, axis=0, ddof=1, keepdims=True), ["std"]),
    rec("sum(dtype=float64)", lambda x: fnp.sum(x, axis=0, dtype=fnp.float64), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.sum(x, axis=0, dtype=np.float64), ["sum"]),
    rec("mean(dtype=float64)", lambda x: fnp.mean(x, dtype=fnp.float64), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.mean(x, dtype=np.float64), ["mean"]),
    rec("op:x.sum(0)", lambda x: x.sum(0), 1, NORMAL, [(3,), (2, 3)], lambda x: x.sum(0)),
    rec("op:x.mean(axis=-1)", lambda x: x.mean(axis=-1), 1, NORMAL, [(3,), (2, 3)],
        lambda x: x.mean(axis=-1)),
    rec("op:x.max()", lambda x: x.max(), 1, NORMAL, SHAPES1, lambda x: x.max()),
    rec("op:x.prod(axis=1)", lambda x: x.prod(axis=1), 1, away_from_zero(0.5, 1.5), [(2, 3)],
        lambda x: x.prod(axis=1)),
    rec("prod(with zeros)", lambda x: fnp.prod(x * (x > 0), axis=-1), 1, away_from_zero(0.5, 1.5),
        [(3,), (2, 3)], lambda x: np.prod(x * (x > 0), axis=-1), ["prod"]),
)

# NumPy's where= masks (masked-out elements get a zero derivative) and initial= values
_WHERE3, _WHERE23 = np.array([True, False, True]), np.array([[True, False, True], [False, False, True]])
for _name, _dom, _kwargs in [
        ("sum", NORMAL, {"where": _WHERE3}), ("sum", NORMAL, {"axis": 0, "where": _WHERE23, "initial": 1.5}),
        ("sum", NORMAL, {"initial": -2.0, "keepdims": True}),
        ("prod", away_from_zero(0.5, 1.5), {"axis": -1, "where": _WHERE3, "initial": 2.0}),
        ("prod", away_from_zero(0.5, 1.5), {"where": _WHERE23}),
        ("mean", NORMAL, {"axis": 1, "where": _WHERE23}),
        ("mean", NORMAL, {"where": _WHERE3, "keepdims": True}),
        ("var", NORMAL, {"axis": -1, "where": _WHERE23}), ("std", NORMAL, {"where": _WHERE23}),
        ("max", NORMAL, {"axis": 1, "where": _WHERE3, "initial": -9.0}),
        ("max", NORMAL, {"axis": (0, 1), "initial": -9.0, "keepdims": True}),
        ("max", NORMAL, {"where": _WHERE23, "initial": 9.0}),
        ("min", NORMAL, {"axis": 0, "where": _WHERE23, "initial": 9.0, "keepdims": True}),
        ("min", NORMAL, {"initial": 9.0})]:
    add(rec(f"{_name}({_kw(_kwargs)})", (lambda f, kw: lambda x: f(x, **kw))(getattr(fnp, _name), _kwargs),
            1, _dom, [(2, 3)], (lambda f, kw: lambda x: f(x, **kw))(getattr(np, _name), _kwargs), [_name]))
add(rec("op:x.sum(where=)", lambda x: x.sum(where=x > 0), 1, NORMAL, [(2, 3)],
        lambda x: x.sum(where=x > 0)))

for _name, _f, _ref in [("argmax", fnp.argmax, np.argmax), ("argmin", fnp.argmin, np.argmin)]:
    for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]),
                             ({"axis": -1, "keepdims": True}, [(2, 3)])]:
        add(rec(f"{_name}({_kw(_kwargs)})", (lambda f, kw: lambda x: f(x, **kw))(_f, _kwargs), 1,
                NORMAL, _shapes, (lambda f, kw: lambda x: f(x, **kw))(_ref, _kwargs), [_name],
                diff=False))
for _name, _f, _ref in [("all", fnp.all, np.all), ("any", fnp.any, np.any)]:
    # all/any see integer-valued floats (with zeros) made by floor, itself tested above.
    for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]),
                             ({"axis": -1, "keepdims": True}, [(2, 3)]),
                             ({"axis": 1, "where": _WHERE3}, [(2, 3)]), ({"where": _WHERE23}, [(2, 3)])]:
        add(rec(f"{_name}({_kw(_kwargs)})",
                (lambda f, kw: lambda x: f(fnp.floor(x), **kw))(_f, _kwargs), 1,
                uniform(-0.3, 3.0), _shapes,
                (lambda f, kw: lambda x: f(np.floor(x), **kw))(_ref, _kwargs), [_name], diff=False))

# ---- norms -------------------------------------------------------------------------------

add(
    rec("linalg.norm", lambda x: fnp.linalg.norm(x), 1, NORMAL, [(3,), (2, 3)], np.linalg.norm,
        ["linalg.norm"]),
    rec("linalg.norm(axis=-1,keepdims)", lambda x: fnp.linalg.norm(x, axis=-1, keepdims=True), 1,
        NORMAL, [(3,), (2, 3)], lambda x: np.linalg.norm(x, axis=-1, keepdims=True)),
    rec("linalg.norm(ord=2,axis=0)", lambda x: fnp.linalg.norm(x, ord=2, axis=0), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=2, axis=0)),
    rec("linalg.norm(fro)", lambda x: fnp.linalg.norm(x, ord="fro"), 1, NORMAL, [(2, 3)],
        lambda x: np.linalg.norm(x, ord="fro")),
    rec("linalg.norm(ord=1)", lambda x: fnp.linalg.norm(x, ord=1, axis=-1), 1, away_from_zero(),
        [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=1, axis=-1)),
    rec("linalg.norm(ord=inf)", lambda x: fnp.linalg.norm(x, ord=np.inf, axis=-1), 1,
        away_from_zero(), [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=np.inf, axis=-1)),
    rec("linalg.norm(ord=-inf)", lambda x: fnp.linalg.norm(x, ord=-np.inf, axis=-1), 1,
        away_from_zero(), [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=-np.inf, axis=-1)),
    rec("linalg.norm(ord=3)", lambda x: fnp.linalg.norm(x, ord=3, axis=-1), 1, away_from_zero(),
        [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=3, axis=-1)),
    rec("linalg.norm(ord=0)", lambda x: fnp.linalg.norm(x, ord=0, axis=-1), 1, small_ints(),
        [(3,), (2, 3)], lambda x: np.linalg.norm(x, ord=0, axis=-1), diff=False),
)

# ---- shapes --------------------------------------------------------------------------------

add(
    rec("reshape(2,3->3,2)", lambda x: fnp.reshape(x, (3, 2)), 1, NORMAL, [(2, 3)],
        lambda x: np.reshape(x, (3, 2)), ["reshape"]),
    rec("reshape(-1)", lambda x: fnp.reshape(x, -1), 1, NORMAL, SHAPES1,
        lambda x: np.reshape(x, -1), ["reshape"]),
    rec("reshape(1,-1,1)", lambda x: fnp.reshape(x, (1, -1, 1)), 1, NORMAL, SHAPES1,
        lambda x: np.reshape(x, (1, -1, 1)), ["reshape"]),
    rec("op:x.reshape(3,2)", lambda x: x.reshape(3, 2), 1, NORMAL, [(2, 3)],
        lambda x: x.reshape(3, 2)),
    rec("ravel", fnp.ravel, 1, NORMAL, SHAPES1, np.ravel, ["ravel"]),
    rec("transpose", fnp.transpose, 1, NORMAL, SHAPES1 + [(2, 3, 2)], np.transpose, ["transpose"]),
    rec("transpose(1,2,0)", lambda x: fnp.transpose(x, (1, -1, 0)), 1, NORMAL, [(2, 3, 2)],
        lambda x: np.transpose(x, (1, -1, 0)), ["transpose"]),
    rec("moveaxis", lambda x: fnp.moveaxis(x, 0, -1), 1, NORMAL, [(3,), (2, 3), (2, 3, 2)],
        lambda x: np.moveaxis(x, 0, -1), ["moveaxis"]),
    rec("swapaxes", lambda x: fnp.swapaxes(x, 0, -1), 1, NORMAL, [(2, 3), (2, 3, 2)],
        lambda x: np.swapaxes(x, 0, -1), ["swapaxes"]),
    rec("broadcast_to(2,3)", lambda x: fnp.broadcast_to(x, (2, 3)), 1, NORMAL,
        [(), (3,), (2, 3), (2, 1), (1, 3)], lambda x: np.broadcast_to(x, (2, 3)), ["broadcast_to"]),
    rec("broadcast_to(2,2,3)", lambda x: fnp.broadcast_to(x, (2, 2, 3)), 1, NORMAL,
        [(3,), (2, 1, 3)], lambda x: np.broadcast_to(x, (2, 2, 3)), ["broadcast_to"]),
    rec("broadcast_arrays", lambda x, y: fnp.stack(fnp.broadcast_arrays(x, y)), 2, NORMAL,
        SHAPES2, lambda x, y: np.stack(np.broadcast_arrays(x, y)), ["broadcast_arrays"]),
    rec("expand_dims(0)", lambda x: fnp.expand_dims(x, 0), 1, NORMAL, SHAPES1,
        lambda x: np.expand_dims(x, 0), ["expand_dims"]),
    rec("expand_dims(-1)", lambda x: fnp.expand_dims(x, -1), 1, NORMAL, SHAPES1,
        lambda x: np.expand_dims(x, -1), ["expand_dims"]),
    rec("expand_dims((0,2))", lambda x: fnp.expand_dims(x, (0, 2)), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.expand_dims(x, (0, 2)), ["expand_dims"]),
    rec("squeeze", fnp.squeeze, 1, NORMAL, [(), (1, 3), (2, 1, 3), (1, 1)], np.squeeze, ["squeeze"]),
    rec("squeeze(axis=1)", lambda x: fnp.squeeze(x, axis=1), 1, NORMAL, [(2, 1, 3), (1, 1)],
        lambda x: np.squeeze(x, axis=1), ["squeeze"]),
    rec("squeeze(axis=(0,-1))", lambda x: fnp.squeeze(x, axis=(0, -1)), 1, NORMAL, [(1, 3, 1)],
        lambda x: np.squeeze(x, axis=(0, -1)), ["squeeze"]),
    rec("atleast_1d", fnp.atleast_1d, 1, NORMAL, SHAPES1, np.atleast_1d, ["atleast_1d"]),
    rec("concatenate(0)", lambda x, y: fnp.concatenate([x, y]), 2, NORMAL,
        [((3,), (2,)), ((2, 3), (1, 3))], lambda x, y: np.concatenate([x, y]), ["concatenate"]),
    rec("concatenate(-1)", lambda x, y: fnp.concatenate([x, y, x], axis=-1), 2, NORMAL,
        [((2, 3), (2, 2)), ((3,), (1,))], lambda x, y: np.concatenate([x, y, x], axis=-1),
        ["concatenate"]),
    rec("concatenate(None)", lambda x, y: fnp.concatenate([x, y], axis=None), 2, NORMAL,
        [((2, 3), (3,)), ((), (2,))], lambda x, y: np.concatenate([np.ravel(x), np.ravel(y)]),
        ["concatenate"]),
    rec("concatenate([x])", lambda x: fnp.concatenate([x], axis=0) * 1.0, 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.concatenate([x], axis=0), ["concatenate"]),
    rec("stack(0)", lambda x, y: fnp.stack([x, y]), 2, NORMAL,
        [((), ()), ((3,), (3,)), ((2, 3), (2, 3))], lambda x, y: np.stack([x, y]), ["stack"]),
    rec("stack(-1)", lambda x, y: fnp.stack([x, y, x], axis=-1), 2, NORMAL,
        [((), ()), ((3,), (3,)), ((2, 3), (2, 3))], lambda x, y: np.stack([x, y, x], axis=-1),
        ["stack"]),
    rec("hstack", lambda x, y: fnp.hstack([x, y]), 2, NORMAL,
        [((), (3,)), ((3,), (2,)), ((2, 3), (2, 1))], lambda x, y: np.hstack([x, y]), ["hstack"]),
    rec("vstack", lambda x, y: fnp.vstack([x, y]), 2, NORMAL,
        [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (1, 3))], lambda x, y: np.vstack([x, y]), ["vstack"]),
)

# ---- products ------------------------------------------------------------------------------

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2)),
                 ((2, 2, 3), (3, 2)), ((2, 2, 3), (3,)), ((3,), (2, 3, 2)),
                 ((2, 1, 2, 3), (3, 3, 2))]
DOT_SHAPES = [((), (3,)), ((2, 3), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
              ((2, 3), (3, 2)), ((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2)), ((3,), (2, 3, 2))]
add(
    rec("matmul", fnp.matmul, 2, NORMAL, MATMUL_SHAPES, np.matmul, ["matmul"]),
    rec("op:x@y", lambda x, y: x @ y, 2, NORMAL, MATMUL_SHAPES, np.matmul),
    rec("dot", fnp.dot, 2, NORMAL, DOT_SHAPES, np.dot, ["dot"]),
    # (x * s) @ w in one primitive: what a pending scaling of a batched value times a matrix is
    rec("scaled_matmul", primitives.scaled_matmul, 3, NORMAL,
        [((2, 3), (3,), (3, 2)), ((2, 2, 3), (2, 3), (3, 4)), ((3,), (3,), (3, 2)),
         ((1, 3), (2, 3), (3, 2))], lambda x, s, w: (x * s) @ w),
    # (a method of the traced value; NumPy's own ndarray.dot cannot see a traced argument)
    rec("op:x.dot(x.T)", lambda x: x.dot(x.T), 1, NORMAL, [(3,), (2, 3)], lambda x: x.dot(x.T)),
    rec("outer", fnp.outer, 2, NORMAL, [((3,), (2,)), ((2, 3), (2,)), ((), (3,))], np.outer, ["outer"]),
    rec("inner", fnp.inner, 2, NORMAL, [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 3)), ((), (3,))],
        np.inner, ["inner"]),
    rec("vdot", fnp.vdot, 2, NORMAL, [((3,), (3,)), ((2, 3), (3, 2))], np.vdot, ["vdot"]),
    rec("trace", fnp.trace, 1, NORMAL, [(3, 3), (2, 3), (3, 2), (2, 3, 2)], np.trace, ["trace"]),
    rec("trace(offset=1)", lambda x: fnp.trace(x, offset=1), 1, NORMAL, [(3, 3), (2, 4)],
        lambda x: np.trace(x, offset=1), ["trace"]),
    rec("trace(offset=-1,axes)", lambda x: fnp.trace(x, -1, axis1=-1, axis2=0), 1, NORMAL,
        [(3, 2, 3)], lambda x: np.trace(x, -1, axis1=-1, axis2=0), ["trace"]),
)
for _axes, _shapes in [(1, [((2, 3), (3, 2)), ((3,), (3, 2))]),
                       (2, [((2, 3), (2, 3)), ((2, 2, 3), (2, 3, 2))]),
                       (0, [((2,), (3,))]), (([1], [0]), [((2, 3), (3, 2))]),
                       (([0, 1], [1, 0]), [((2, 3), (3, 2))]), ((-1, 0), [((2, 3), (3,))])]:
    add(rec(f"tensordot(axes={_axes})", (lambda a: lambda x, y: fnp.tensordot(x, y, axes=a))(_axes),
            2, NORMAL, _shapes, (lambda a: lambda x, y: np.tensordot(x, y, axes=a))(_axes),
            ["tensordot"]))

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),                       # implicit output
    ("ij,ij->i", [(2, 3), (2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),                                  # implicit output: transpose
    ("ij->", [(2, 3)]),
    ("ii->", [(3, 3)]),                                # trace
    ("ii", [(3, 3)]),                                  # implicit trace
    ("ii->i", [(3, 3)]),                               # diagonal
    ("i,j->ij", [(3,), (2,)]),                         # outer product
    ("i,i", [(3,), (3,)]),
    ("i,i->i", [(3,), (3,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,jk->...ik", [(2, 2, 3), (3, 2)]),
    ("...i,...i", [(2, 3), (3,)]),                     # ellipsis, broadcast, implicit output
    ("i...->...", [(3, 2)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ijk,ik->j", [(2, 3, 2), (2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("iij->j", [(2, 2, 3)]),
]
for _spec, _shapes in EINSUMS:
    add(rec(f"einsum({_spec})", (lambda s: lambda *xs: fnp.einsum(s, *xs))(_spec), len(_shapes),
            NORMAL, [tuple(_shapes)], (lambda s: lambda *xs: np.einsum(s, *xs))(_spec), ["einsum"]))

# ---- indexing ----------------------------------------------------------------------------

INDICES = [  # (label, index, shape of x)
    ("[1]", 1, (3, 4)),
    ("[-1]", -1, (3,)),
    ("[1:3]", slice(1, 3), (3, 4)),
    ("[::-1]", slice(None, None, -1), (3, 4)),
    ("[:,1:3]", (slice(None), slice(1, 3)), (3, 4)),
    ("[1,2]", (1, 2), (3, 4)),
    ("[None]", None, (3,)),
    ("[None,1]", (None, 1), (3, 4)),
    ("[...,0]", (Ellipsis, 0), (2, 3, 4)),
    ("[1,...,None]", (1, Ellipsis, None), (2, 3, 4)),
    ("[...]", Ellipsis, ()),
    ("[[0,0,2]]", [0, 0, 2], (3, 4)),                           # repeated: accumulates
    ("[[-1,0,-1]]", [-1, 0, -1], (3,)),                          # negative, repeated
    ("[-2:,::-2]", (slice(-2, None), slice(None, None, -2)), (3, 4)),
    ("[5:]", slice(5, None), (3,)),                              # empty
    ("[np.int64(1)]", np.int64(1), (3,)),
    ("[:,[1,1,0]]", (slice(None), [1, 1, 0]), (3, 4)),
    ("[[0,2],[1,1]]", ([0, 2], [1, 1]), (3, 4)),
    ("[[[0,1],[1,1]]]", np.array([[0, 1], [1, 1]]), (3,)),
    ("[[0,1],:,[1,2]]", ([0, 1], slice(None), [1, 2]), (2, 3, 4)),  # split advanced: moved first
    ("[:,[0,2],[1,3]]", (slice(None), [0, 2], [1, 3]), (2, 3, 4)),
    ("[0,:,[1,1,2]]", (0, slice(None), [1, 1, 2]), (2, 3, 4)),
    ("[1,[0,2]]", (1, [0, 2]), (3, 4)),
    ("[None,[0,0]]", (None, [0, 0]), (3,)),
    ("[mask]", np.array([True, False, True]), (3,)),
    ("[mask2d]", np.array([[True, False, True, False], [False, False, True, True],
                           [True, True, False, False]]), (3, 4)),
    ("[:,mask]", (slice(None), np.array([False, True, True, False])), (3, 4)),
    ("[mask,1:]", (np.array([True, False, True]), slice(1, None)), (3, 4)),
]
for _label, _idx, _shape in INDICES:
    add(rec(f"x{_label}", (lambda i: lambda x: x[i])(_idx), 1, NORMAL, [_shape],
            (lambda i: lambda x: np.asarray(x)[i])(_idx)),
        rec(f"getitem{_label}", (lambda i: lambda x: fnp.getitem(x, i))(_idx), 1, NORMAL, [_shape],
            (lambda i: lambda x: np.asarray(x)[i])(_idx), ["getitem"]))

# Traced integer index arrays (batched by vmap: one index array per example).
add(
    rec("getitem(x,i)", lambda x, i: fnp.getitem(x, i), 2, (NORMAL, indices(3)),
        [((3,), (4,)), ((3, 2), (2, 2)), ((3,), ())], lambda x, i: x[i], ["getitem"]),
    rec("getitem(x,(i,1:))", lambda x, i: fnp.getitem(x, (i, slice(1, None))), 2,
        (NORMAL, indices(3)), [((3, 3), (4,))], lambda x, i: x[i, 1:], ["getitem"]),
    rec("getitem(x,(1:,i))", lambda x, i: fnp.getitem(x, (slice(1, None), i)), 2,
        (NORMAL, indices(3)), [((2, 3), (4,))], lambda x, i: x[1:, i], ["getitem"]),
    rec("getitem(x,(i,:,j))", lambda x, i, j: fnp.getitem(x, (i, slice(None), j)), 3,
        (NORMAL, indices(2), indices(2)), [((2, 3, 2), (3,), (3,))], lambda x, i, j: x[i, :, j],
        ["getitem"]),
)

# Functional updates.
AT_INDICES = [  # (label, index, shape of x, shape of the update)
    ("[1]", 1, (3, 4), (4,)),
    ("[1]<-scalar", 1, (3, 4), ()),
    ("[:,1:3]", (slice(None), slice(1, 3)), (3, 4), (3, 2)),
    ("[::2]", slice(None, None, 2), (3,), (2,)),
    ("[...,0]", (Ellipsis, 0), (2, 3), (2,)),
    ("[[0,2]]", [0, 2], (3, 4), (2, 4)),
    ("[[0,2],[1,3]]", ([0, 2], [1, 3]), (3, 4), (2,)),
    ("[[0,1],:,[1,2]]", ([0, 1], slice(None), [1, 2]), (2, 3, 3), (2, 3)),
    ("[mask]", np.array([True, False, True]), (3,), (2,)),
    ("[-1]", -1, (3, 2), (2,)),
    ("[[-1,0]]", [-1, 0], (3,), (2,)),
]
for _label, _idx, _xs, _us in AT_INDICES:
    _np_idx = tuple(np.asarray(i) if isinstance(i, list) else i for i in _idx) \
        if isinstance(_idx, tuple) else (np.asarray(_idx) if isinstance(_idx, list) else _idx)
    add(rec(f"at{_label}.set", (lambda i: lambda x, v: at(x)[i].set(v))(_idx), 2, NORMAL,
            [(_xs, _us)], (lambda i: lambda x, v: np_set(x, i, v))(_np_idx)),
        rec(f"at{_label}.add", (lambda i: lambda x, v: at(x)[i].add(v))(_idx), 2, NORMAL,
            [(_xs, _us)], (lambda i: lambda x, v: np_add_at(x, i, v))(_np_idx)))
add(
    rec("at[[0,0,2]].add", lambda x, v: at(x)[[0, 0, 2]].add(v), 2, NORMAL, [((3,), (3,)), ((3, 2), (3, 2))],
        lambda x, v: np_add_at(x, np.array([0, 0, 2]), v)),
    rec("at[i].add(traced i)", lambda x, v, i: at(x)[i].add(v), 3, (NORMAL, NORMAL, indices(3)),
        [((3,), (4,), (4,)), ((3, 2), (2, 2), (2,))], lambda x, v, i: np_add_at(x, i, v)),
    rec("at[i].set(traced i)", lambda x, v, i: at(x)[i].set(v), 3, (NORMAL, NORMAL, indices(3)),
        [((3,), (), (1,)), ((3, 2), (2,), ())], lambda x, v, i: np_set(x, i, v)),
    rec("at[i].get", lambda x: at(x)[1:].get(), 1, NORMAL, [(3,), (2, 3)], lambda x: x[1:]),
)

# ---- shapes and selection (functrans/numpy/_shapes.py) -------------------------------------


def np_cross(*args, **kw):
    """NumPy's cross, without its DeprecationWarning for 2-vectors (still NumPy's values)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(*args, **kw)


def both(name, f_fnp, f_np, nargs, rng, shapes, names=None, **kw):
    """A row whose function is written once for ``fnp`` and once for ``np``."""
    return rec(name, f_fnp, nargs, rng, shapes, f_np, [name.split("(")[0]] if names is None else names, **kw)


MASK3 = np.array([True, False, True])
MASK23 = np.array([[True, False, True], [False, False, True]])
SORTED = np.array([-1.0, 0.0, 0.5, 1.0])
XP = np.array([-1.0, 0.0, 0.5, 2.0])
AROUND_XP = [(k - 0.1, k + 0.1) for k in XP]
add(
    both("rollaxis(2)", lambda x: fnp.rollaxis(x, 2), lambda x: np.rollaxis(x, 2), 1, NORMAL, [(2, 3, 2)]),
    both("rollaxis(0,2)", lambda x: fnp.rollaxis(x, 0, 2), lambda x: np.rollaxis(x, 0, 2), 1, NORMAL,
         [(2, 3), (2, 3, 2)]),
    both("moveaxis((0,1),(-1,0))", lambda x: fnp.moveaxis(x, (0, 1), (-1, 0)),
         lambda x: np.moveaxis(x, (0, 1), (-1, 0)), 1, NORMAL, [(2, 3, 2)]),
    both("atleast_2d", fnp.atleast_2d, np.atleast_2d, 1, NORMAL, SHAPES1 + [(2, 3, 2)]),
    both("atleast_3d", fnp.atleast_3d, np.atleast_3d, 1, NORMAL, SHAPES1 + [(2, 3, 2)]),
    both("atleast_1d(x,y)", lambda x, y: fnp.concatenate([fnp.ravel(a) for a in fnp.atleast_1d(x, y)]),
         lambda x, y: np.concatenate([np.ravel(a) for a in np.atleast_1d(x, y)]), 2, NORMAL,
         [((), (3,)), ((2, 3), ())]),
    both("dstack", lambda x, y: fnp.dstack([x, y]), lambda x, y: np.dstack([x, y]), 2, NORMAL,
         [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3, 1), (2, 3, 2))]),
    both("column_stack", lambda x, y: fnp.column_stack([x, y]), lambda x, y: np.column_stack([x, y]), 2,
         NORMAL, [((3,), (3,)), ((3, 2), (3,)), ((2, 3), (2, 1))]),
    both("append", fnp.append, np.append, 2, NORMAL, [((2, 3), (3,)), ((), (2,))]),
    both("append(axis=0)", lambda x, y: fnp.append(x, y, axis=0), lambda x, y: np.append(x, y, axis=0), 2,
         NORMAL, [((2, 3), (1, 3)), ((3,), (2,))]),
    both("split(3,axis=-1)",
         lambda x: fnp.concatenate([p * (i + 1.0) for i, p in enumerate(fnp.split(x, 3, -1))], -1),
         lambda x: np.concatenate([p * (i + 1.0) for i, p in enumerate(np.split(x, 3, -1))], -1),
         1, NORMAL, [(3,), (2, 3)]),
    both("split([1,2])",
         lambda x: fnp.concatenate([p * (i + 1.0) for i, p in enumerate(fnp.split(x, [1, 2]))]),
         lambda x: np.concatenate([p * (i + 1.0) for i, p in enumerate(np.split(x, [1, 2]))]),
         1, NORMAL, [(3,), (3, 2)]),
    both("array_split(2,axis=-1)", lambda x: fnp.concatenate([p * (i + 1.0) for i, p in
                                                              enumerate(fnp.array_split(x, 2, axis=-1))], -1),
         lambda x: np.concatenate([p * (i + 1.0) for i, p in enumerate(np.array_split(x, 2, axis=-1))], -1),
         1, NORMAL, [(3,), (2, 3)]),
    both("hsplit", lambda x: fnp.hsplit(x, 3)[-1] * 2.0, lambda x: np.hsplit(x, 3)[-1] * 2.0, 1, NORMAL,
         [(3,), (2, 3)]),
    both("vsplit", lambda x: fnp.vsplit(x, [1])[1] * 2.0, lambda x: np.vsplit(x, [1])[1] * 2.0, 1, NORMAL,
         [(2, 3), (3, 2)]),
    both("dsplit", lambda x: fnp.dsplit(x, 2)[0] * 2.0, lambda x: np.dsplit(x, 2)[0] * 2.0, 1, NORMAL,
         [(2, 3, 2)]),
    both("tile(2)", lambda x: fnp.tile(x, 2), lambda x: np.tile(x, 2), 1, NORMAL, SHAPES1),
    both("tile((2,1,2))", lambda x: fnp.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2)), 1, NORMAL,
         [(), (3,), (2, 3)]),
    both("repeat(2)", lambda x: fnp.repeat(x, 2), lambda x: np.repeat(x, 2), 1, NORMAL, SHAPES1),
    both("repeat(2,axis=-1)", lambda x: fnp.repeat(x, 2, axis=-1), lambda x: np.repeat(x, 2, axis=-1), 1,
         NORMAL, [(3,), (2, 3)]),
    both("repeat([1,0,2],axis=-1)", lambda x: fnp.repeat(x, [1, 0, 2], axis=-1),
         lambda x: np.repeat(x, [1, 0, 2], axis=-1), 1, NORMAL, [(3,), (2, 3)]),
    both("repeat([2,1],axis=0)", lambda x: fnp.repeat(x, [2, 1], axis=0),
         lambda x: np.repeat(x, [2, 1], axis=0),
         1, NORMAL, [(2,), (2, 3)]),
    both("flip", fnp.flip, np.flip, 1, NORMAL, SHAPES1),
    both("flip(-1)", lambda x: fnp.flip(x, -1), lambda x: np.flip(x, -1), 1, NORMAL, [(3,), (2, 3)]),
    both("flip((0,1))", lambda x: fnp.flip(x, (0, 1)), lambda x: np.flip(x, (0, 1)), 1, NORMAL, [(2, 3, 2)]),
    both("fliplr", fnp.fliplr, np.fliplr, 1, NORMAL, [(2, 3), (2, 3, 2)]),
    both("flipud", fnp.flipud, np.flipud, 1, NORMAL, [(3,), (2, 3)]),
    both("diff", lambda x: fnp.diff(x), lambda x: np.diff(x), 1, NORMAL, [(3,), (2, 3)]),
    both("diff(2,axis=0)", lambda x: fnp.diff(x, 2, axis=0), lambda x: np.diff(x, 2, axis=0), 1,
         NORMAL, [(3, 2), (4, 3)]),
    both("roll(1)", lambda x: fnp.roll(x, 1), lambda x: np.roll(x, 1), 1, NORMAL, SHAPES1),
    both("roll(-2,axis=-1)", lambda x: fnp.roll(x, -2, axis=-1), lambda x: np.roll(x, -2, axis=-1), 1,
         NORMAL, [(3,), (2, 3)]),
    both("roll((1,5),axis=(0,1))", lambda x: fnp.roll(x, (1, 5), axis=(0, 1)),
         lambda x: np.roll(x, (1, 5), axis=(0, 1)), 1, NORMAL, [(2, 3), (2, 3, 2)]),
    both("roll((1,2),axis=(0,0))", lambda x: fnp.roll(x, (1, 2), axis=(0, 0)),
         lambda x: np.roll(x, (1, 2), axis=(0, 0)), 1, NORMAL, [(3,), (3, 2)]),
    both("rot90", fnp.rot90, np.rot90, 1, NORMAL, [(2, 3), (2, 3, 2)]),
    both("rot90(2)", lambda x: fnp.rot90(x, 2), lambda x: np.rot90(x, 2), 1, NORMAL, [(2, 3)]),
    both("rot90(3,axes=(1,2))", lambda x: fnp.rot90(x, 3, axes=(1, 2)), lambda x: np.rot90(x, 3, axes=(1, 2)),
         1, NORMAL, [(2, 3, 2)]),
    both("rot90(-1,axes=(-1,0))", lambda x: fnp.rot90(x, -1, axes=(-1, 0)),
         lambda x: np.rot90(x, -1, axes=(-1, 0)), 1, NORMAL, [(2, 3)]),
    both("pad(1)", lambda x: fnp.pad(x, 1), lambda x: np.pad(x, 1), 1, NORMAL, SHAPES1),
    both("pad(((1,0),(0,2)),1.5)", lambda x: fnp.pad(x, ((1, 0), (0, 2)), constant_values=1.5),
         lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=1.5), 1, NORMAL, [(2, 3)]),
    both("pad(((1,2),),values=(-1,2))", lambda x: fnp.pad(x, ((1, 2),), constant_values=(-1, 2)),
         lambda x: np.pad(x, ((1, 2),), constant_values=(-1, 2)), 1, NORMAL, [(3,), (2, 3)]),
    both("pad(2,edge)", lambda x: fnp.pad(x, 2, mode="edge"), lambda x: np.pad(x, 2, mode="edge"), 1,
         NORMAL, [(3,), (2, 3)]),
    both("pad((1,4),reflect)", lambda x: fnp.pad(x, (1, 4), mode="reflect"),
         lambda x: np.pad(x, (1, 4), mode="reflect"), 1, NORMAL, [(3,), (2, 3)]),
    both("pad(((1,2),(3,0)),symmetric)", lambda x: fnp.pad(x, ((1, 2), (3, 0)), mode="symmetric"),
         lambda x: np.pad(x, ((1, 2), (3, 0)), mode="symmetric"), 1, NORMAL, [(2, 3)]),
    both("pad(4,wrap)", lambda x: fnp.pad(x, 4, mode="wrap"), lambda x: np.pad(x, 4, mode="wrap"), 1,
         NORMAL, [(3,), (2, 3)]),
    both("diagonal", fnp.diagonal, np.diagonal, 1, NORMAL, [(3, 3), (2, 3), (3, 2), (2, 3, 2)]),
    both("diagonal(1)", lambda x: fnp.diagonal(x, 1), lambda x: np.diagonal(x, 1), 1, NORMAL,
         [(3, 3), (2, 4)]),
    both("diagonal(-1,-1,0)", lambda x: fnp.diagonal(x, -1, -1, 0), lambda x: np.diagonal(x, -1, -1, 0), 1,
         NORMAL, [(3, 2, 3)]),
    both("diag", fnp.diag, np.diag, 1, NORMAL, [(3,), (3, 3), (2, 3)]),
    both("diag(k=1)", lambda x: fnp.diag(x, 1), lambda x: np.diag(x, 1), 1, NORMAL, [(3,), (3, 3), (2, 4)]),
    both("diag(k=-2)", lambda x: fnp.diag(x, -2), lambda x: np.diag(x, -2), 1, NORMAL, [(3,), (4, 3)]),
    both("diagflat", fnp.diagflat, np.diagflat, 1, NORMAL, [(), (3,), (2, 2)]),
    both("diagflat(k=-1)", lambda x: fnp.diagflat(x, -1), lambda x: np.diagflat(x, -1), 1, NORMAL, [(3,)]),
    both("tril", fnp.tril, np.tril, 1, NORMAL, [(3, 3), (2, 3), (2, 3, 3)]),
    both("tril(k=1)", lambda x: fnp.tril(x, 1), lambda x: np.tril(x, 1), 1, NORMAL, [(3,), (3, 2)]),
    both("triu", fnp.triu, np.triu, 1, NORMAL, [(3, 3), (2, 3), (2, 3, 3)]),
    both("triu(k=-1)", lambda x: fnp.triu(x, -1), lambda x: np.triu(x, -1), 1, NORMAL, [(3,), (3, 2)]),
    both("take([2,0,0])", lambda x: fnp.take(x, [2, 0, 0]), lambda x: np.take(x, [2, 0, 0]), 1, NORMAL,
         [(3,), (2, 3)]),
    both("take(1,axis=-1)", lambda x: fnp.take(x, 1, axis=-1), lambda x: np.take(x, 1, axis=-1), 1, NORMAL,
         [(3,), (2, 3)]),
    both("take([[0,1]],axis=0)", lambda x: fnp.take(x, [[0, 1], [1, 1]], axis=0),
         lambda x: np.take(x, [[0, 1], [1, 1]], axis=0), 1, NORMAL, [(2,), (2, 3)]),
    both("take([4,-4],wrap)", lambda x: fnp.take(x, [4, -4], mode="wrap"),
         lambda x: np.take(x, [4, -4], mode="wrap"), 1, NORMAL, [(3,), (2, 3)]),
    both("take([4,-4],clip)", lambda x: fnp.take(x, [4, -4], mode="clip"),
         lambda x: np.take(x, [4, -4], mode="clip"), 1, NORMAL, [(3,), (2, 3)]),
    both("take(x,i,axis=0)", lambda x, i: fnp.take(x, i, axis=0), lambda x, i: np.take(x, i, axis=0), 2,
         (NORMAL, indices(3)), [((3,), (4,)), ((3, 2), (2, 2)), ((3,), ())]),
    both("take_along_axis(-1)", lambda x, i: fnp.take_along_axis(x, i, -1),
         lambda x, i: np.take_along_axis(x, i, -1), 2, (NORMAL, indices(3)),
         [((3,), (5,)), ((2, 3), (2, 4)), ((2, 3), (1, 2))]),
    both("take_along_axis(0)", lambda x, i: fnp.take_along_axis(x, i, 0),
         lambda x, i: np.take_along_axis(x, i, 0), 2, (NORMAL, indices(3)),
         [((3, 2), (4, 2)), ((3, 2), (2, 1))]),
    both("take_along_axis(None)", lambda x, i: fnp.take_along_axis(x, i, None),
         lambda x, i: np.take_along_axis(x, i, None), 2, (NORMAL, indices(3)),
         [((3,), (4,)), ((1, 3), (2,))]),
    both("sort", fnp.sort, np.sort, 1, NORMAL, [(3,), (2, 3), (2, 3, 4)]),
    both("sort(axis=0)", lambda x: fnp.sort(x, axis=0), lambda x: np.sort(x, axis=0), 1, NORMAL,
         [(3,), (3, 2)]),
    both("sort(axis=None,stable)", lambda x: fnp.sort(x, axis=None, stable=True),
         lambda x: np.sort(x, axis=None, stable=True), 1, NORMAL, [(), (2, 3)]),
    both("sort(ties)", lambda x: fnp.sort(fnp.floor(x) + 0.1 * x),
         lambda x: np.sort(np.floor(x) + 0.1 * x), 1,
         uniform(0.1, 0.9), [(4,), (2, 4)]),
    both("argsort", fnp.argsort, np.argsort, 1, NORMAL, [(3,), (2, 3)], diff=False),
    both("argsort(axis=0,stable)", lambda x: fnp.argsort(fnp.floor(x), axis=0, stable=True),
         lambda x: np.argsort(np.floor(x), axis=0, stable=True), 1, NORMAL, [(3,), (4, 2)], diff=False),
    both("argsort(axis=None)", lambda x: fnp.argsort(x, axis=None), lambda x: np.argsort(x, axis=None), 1,
         NORMAL, [(), (2, 3)], diff=False),
    both("searchsorted", lambda v: fnp.searchsorted(SORTED, v), lambda v: np.searchsorted(SORTED, v), 1,
         small_ints(-2, 2), SHAPES1, diff=False),
    both("searchsorted(right)", lambda v: fnp.searchsorted(SORTED, v, side="right"),
         lambda v: np.searchsorted(SORTED, v, side="right"), 1, small_ints(-2, 2), SHAPES1, diff=False),
    both("searchsorted(traced a,sorter)", lambda a, v: fnp.searchsorted(a, v, sorter=fnp.argsort(a)),
         lambda a, v: np.searchsorted(a, v, sorter=np.argsort(a)), 2, NORMAL,
         [((4,), (3,)), ((4,), ()), ((3,), (2, 3))], diff=False),
    # interp: x away from the knots of XP (kinks), and from them modulo the period
    both("interp", lambda x, fp: fnp.interp(x, XP, fp), lambda x, fp: np.interp(x, XP, fp), 2,
         (avoiding(-2, 3, *AROUND_XP), NORMAL), [((), (4,)), ((3,), (4,)), ((2, 3), (4,))]),
    both("interp(left,right)", lambda x, fp: fnp.interp(x, XP, fp, left=-3.0, right=fp[0]),
         lambda x, fp: np.interp(x, XP, fp, left=-3.0, right=fp[0]), 2,
         (avoiding(-2, 3, *AROUND_XP), NORMAL), [((3,), (4,)), ((2, 3), (4,))], names=["interp"]),
    both("interp(period)", lambda x, fp: fnp.interp(x, XP, fp, period=2.5),
         lambda x, fp: np.interp(x, XP, fp, period=2.5), 2,
         (avoiding(-2, 3, *AROUND_XP, (-2.1, -1.9), (-1.6, -1.4), (-0.6, -0.4), (1.4, 1.6), (2.4, 2.6)),
          NORMAL),
         [((3,), (4,)), ((2, 3), (4,))], names=["interp"]),
    both("convolve", lambda a, v: fnp.convolve(a, v), lambda a, v: np.convolve(a, v), 2, NORMAL,
         [((3,), (2,)), ((2,), (3,)), ((1,), (1,)), ((4,), (4,))]),
    both("convolve(same)", lambda a, v: fnp.convolve(a, v, "same"), lambda a, v: np.convolve(a, v, "same"),
         2, NORMAL, [((5,), (2,)), ((5,), (4,)), ((2,), (3,))], names=["convolve"]),
    both("convolve(valid)", lambda a, v: fnp.convolve(a, v, "valid"),
         lambda a, v: np.convolve(a, v, "valid"), 2, NORMAL, [((5,), (3,)), ((3,), (5,))],
         names=["convolve"]),
    both("select", lambda x: fnp.select([x < -0.5, x > 0.5], [x * x, fnp.sin(x)], default=x),
         lambda x: np.select([x < -0.5, x > 0.5], [x * x, np.sin(x)], default=x), 1,
         avoiding(-2, 2, (-0.6, -0.4), (0.4, 0.6)), SHAPES1),
    both("select(default=0)", lambda x, y: fnp.select([x > 0], [y]), lambda x, y: np.select([x > 0], [y]), 2,
         (away_from_zero(), NORMAL), SHAPES2),
    both("choose", lambda i, x, y: fnp.choose(i, [x, y]), lambda i, x, y: np.choose(i, [x, y]), 3,
         (indices(2), NORMAL, NORMAL), [((3,), (3,), (3,)), ((2, 3), (3,), ()), ((), (2,), (2,))]),
    both("choose(wrap)", lambda x, y: fnp.choose([3, 0, -1], [x, y], mode="wrap"),
         lambda x, y: np.choose([3, 0, -1], [x, y], mode="wrap"), 2, NORMAL, [((3,), (3,)), ((2, 3), ())]),
    both("compress", lambda x: fnp.compress(MASK3, x, axis=-1), lambda x: np.compress(MASK3, x, axis=-1), 1,
         NORMAL, [(3,), (2, 3)]),
    both("compress(None)", lambda x: fnp.compress([False, True], x), lambda x: np.compress([False, True], x),
         1, NORMAL, [(3,), (2, 3)], names=["compress"]),
    both("extract", lambda x: fnp.extract(MASK23, x), lambda x: np.extract(MASK23, x), 1, NORMAL, [(2, 3)]),
    both("delete(1,axis=-1)", lambda x: fnp.delete(x, 1, axis=-1), lambda x: np.delete(x, 1, axis=-1), 1,
         NORMAL, [(3,), (2, 3)]),
    both("delete([0,2])", lambda x: fnp.delete(x, [0, 2]), lambda x: np.delete(x, [0, 2]), 1, NORMAL,
         [(3,), (2, 3)]),
    both("delete(slice,axis=0)", lambda x: fnp.delete(x, slice(0, 2), axis=0),
         lambda x: np.delete(x, slice(0, 2), axis=0), 1, NORMAL, [(3,), (3, 2)]),
    both("insert(1,y,axis=-1)", lambda x, y: fnp.insert(x, 1, y, axis=-1),
         lambda x, y: np.insert(x, 1, y, axis=-1), 2, NORMAL, [((3,), ()), ((2, 3), ()), ((2, 3), (2,))]),
    both("insert([0,2],y)", lambda x, y: fnp.insert(x, [0, 2], y), lambda x, y: np.insert(x, [0, 2], y), 2,
         NORMAL, [((3,), (2,)), ((2, 3), ())]),
    both("insert(1,y,axis=0)", lambda x, y: fnp.insert(x, 1, y, axis=0),
         lambda x, y: np.insert(x, 1, y, axis=0),
         2, NORMAL, [((2, 3), (3,)), ((2, 3), (2, 3)), ((3,), ())]),
    both("insert([2,1],y,axis=1)", lambda x, y: fnp.insert(x, [2, 1], y, axis=1),
         lambda x, y: np.insert(x, [2, 1], y, axis=1), 2, NORMAL, [((2, 3), (2, 1)), ((2, 3), ())]),
    both("count_nonzero", fnp.count_nonzero, np.count_nonzero, 1, small_ints(), SHAPES1, diff=False),
    both("count_nonzero(axis=0)", lambda x: fnp.count_nonzero(x, axis=0),
         lambda x: np.count_nonzero(x, axis=0),
         1, small_ints(), [(3,), (2, 3)], diff=False),
    both("op:x.repeat(2,axis=0)", lambda x: x.repeat(2, axis=0), lambda x: x.repeat(2, axis=0), 1, NORMAL,
         [(3,), (2, 3)], names=[]),
    both("op:x.take([1,0])", lambda x: x.take([1, 0]), lambda x: x.take([1, 0]), 1, NORMAL, [(3,), (2, 3)],
         names=[]),
    both("op:x.diagonal()", lambda x: x.diagonal(), lambda x: x.diagonal(), 1, NORMAL, [(2, 3), (3, 3)],
         names=[]),
    both("op:x.trace(1)", lambda x: x.trace(1), lambda x: x.trace(1), 1, NORMAL, [(2, 3), (3, 3)], names=[]),
    both("op:x.flatten()", lambda x: x.flatten(), lambda x: x.flatten(), 1, NORMAL, SHAPES1, names=[]),
    both("op:x.swapaxes(0,1)", lambda x: x.swapaxes(0, 1), lambda x: x.swapaxes(0, 1), 1, NORMAL, [(2, 3)],
         names=[]),
    both("op:x.argsort()", lambda x: x.argsort(), lambda x: x.argsort(), 1, NORMAL, [(3,), (2, 3)], names=[],
         diff=False),
    both("op:x.compress(mask)", lambda x: x.compress(MASK3, axis=-1), lambda x: x.compress(MASK3, axis=-1),
         1, NORMAL, [(3,), (2, 3)], names=[]),
)

# ---- more products -----------------------------------------------------------------------

add(
    both("kron", fnp.kron, np.kron, 2, NORMAL, [((2,), (3,)), ((2, 3), (2, 2)), ((3,), (2, 2)), ((), (3,)),
                                                 ((2, 1, 2), (3, 2))]),
    both("cross", fnp.cross, np_cross, 2, NORMAL,
         [((3,), (3,)), ((2, 3), (3,)), ((2,), (3,)), ((3,), (2,)), ((2,), (2,)), ((2, 2), (2,))],
         names=["cross"]),
    both("cross(axisa=0,axisc=0)", lambda x, y: fnp.cross(x, y, axisa=0, axisb=-1, axisc=0),
         lambda x, y: np_cross(x, y, axisa=0, axisb=-1, axisc=0), 2, NORMAL, [((3, 2), (2, 3)), ((3,), (3,))],
         names=["cross"]),
    both("cross(axis=0)", lambda x, y: fnp.cross(x, y, axis=0), lambda x, y: np_cross(x, y, axis=0), 2,
         NORMAL, [((3, 2), (3, 2)), ((2, 2), (3, 1))], names=["cross"]),
)
MORE_EINSUMS = [
    ("ii,i->i", [(3, 3), (3,)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("ij,ij,ij->", [(2, 3), (2, 3), (2, 3)]),
    ("ijj->i", [(2, 3, 3)]),
    ("ii...->i...", [(3, 3, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 2), (2, 3)]),
    ("i,j,k->ijk", [(2,), (3,), (2,)]),
    ("ij,kl->ijkl", [(2, 3), (2, 2)]),
    ("...,...->...", [(2, 3), ()]),
    ("Ab,bC->AC", [(2, 3), (3, 2)]),
    ("ji,ij->", [(3, 2), (2, 3)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
    ("ij->j", [(2, 3)]),
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),
]
for _spec, _shapes in MORE_EINSUMS:
    add(rec(f"einsum({_spec.replace(' ', '')})", (lambda s: lambda *xs: fnp.einsum(s, *xs))(_spec),
            len(_shapes), NORMAL, [tuple(_shapes)], (lambda s: lambda *xs: np.einsum(s, *xs))(_spec),
            ["einsum"]))

add(
    rec("einsum(sublists)", lambda x, y: fnp.einsum(x, [0, 1], y, [2, 1], [0, 2]), 2, NORMAL,
        [((2, 3), (2, 3)), ((2, 3), (1, 3))], lambda x, y: np.einsum(x, [0, 1], y, [2, 1], [0, 2]),
        ["einsum"]),
    rec("einsum(sublists,...)", lambda x, y: fnp.einsum(x, [Ellipsis, 1], y, [1]), 2, NORMAL,
        [((2, 3), (3,)), ((3,), (3,))], lambda x, y: np.einsum(x, [Ellipsis, 1], y, [1]), ["einsum"]),
    rec("einsum(...i,...i broadcast)", lambda x, y: fnp.einsum("...i,...i->...", x, y), 2, NORMAL,
        [((2, 3), (1, 3)), ((2, 1, 3), (2, 3))], lambda x, y: np.einsum("...i,...i->...", x, y), ["einsum"]),
)

# ---- more norms (matrix ords, axis pairs, keepdims) ---------------------------------------

for _ord in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
    add(rec(f"linalg.norm(matrix,ord={_ord})", (lambda o: lambda x: fnp.linalg.norm(x, o))(_ord), 1, NORMAL,
            [(2, 3), (3, 3)], (lambda o: lambda x: np.linalg.norm(x, o))(_ord), ["linalg.norm"]),
        rec(f"linalg.norm(ord={_ord},axis=(2,0),keepdims)",
            (lambda o: lambda x: fnp.linalg.norm(x, o, axis=(2, 0), keepdims=True))(_ord), 1, NORMAL,
            [(2, 3, 3)], (lambda o: lambda x: np.linalg.norm(x, o, axis=(2, 0), keepdims=True))(_ord)))
for _ord in (-1, -2, 0.5, -np.inf):
    add(rec(f"linalg.norm(vector,ord={_ord})", (lambda o: lambda x: fnp.linalg.norm(x, o))(_ord), 1,
            away_from_zero(), [(3,)], (lambda o: lambda x: np.linalg.norm(x, o))(_ord), ["linalg.norm"]))
add(
    rec("linalg.norm(ord=0,axis=None)", lambda x: fnp.linalg.norm(fnp.floor(x), 0), 1, uniform(-1, 2), [(3,)],
        lambda x: np.linalg.norm(np.floor(x), 0), diff=False),
    rec("linalg.norm(axis=None,keepdims)", lambda x: fnp.linalg.norm(x, keepdims=True), 1, NORMAL,
        [(3,), (2, 3), (2, 3, 2)], lambda x: np.linalg.norm(x, keepdims=True)),
    rec("linalg.vector_norm", lambda x: fnp.linalg.vector_norm(x), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.linalg.vector_norm(x), ["linalg.vector_norm"]),
    rec("linalg.vector_norm(axis=(0,-1),ord=3)", lambda x: fnp.linalg.vector_norm(x, axis=(0, -1), ord=3), 1,
        away_from_zero(), [(2, 3), (2, 3, 2)], lambda x: np.linalg.vector_norm(x, axis=(0, -1), ord=3),
        ["linalg.vector_norm"]),
    rec("linalg.vector_norm(axis=1,keepdims,ord=1)",
        lambda x: fnp.linalg.vector_norm(x, axis=1, keepdims=True, ord=1), 1, away_from_zero(), [(2, 3)],
        lambda x: np.linalg.vector_norm(x, axis=1, keepdims=True, ord=1), ["linalg.vector_norm"]),
    rec("linalg.matrix_norm(nuc)", lambda x: fnp.linalg.matrix_norm(x, ord="nuc"), 1, NORMAL,
        [(2, 3), (2, 3, 2)], lambda x: np.linalg.matrix_norm(x, ord="nuc"), ["linalg.matrix_norm"]),
    rec("linalg.matrix_norm(keepdims)", lambda x: fnp.linalg.matrix_norm(x, keepdims=True), 1, NORMAL,
        [(2, 3)], lambda x: np.linalg.matrix_norm(x, keepdims=True), ["linalg.matrix_norm"]),
)


# ---- more ufuncs, reductions and creation (issue 5) ----------------------------------------


def with_nans(lo: float = -2.0, hi: float = 2.0) -> Domain:
    """Uniform, with a NaN at flat index 1 (never a whole slice NaN): for the nan-reductions."""
    def sample(rng, shape, dtype):
        x = rng.uniform(lo, hi, shape).astype(dtype)
        if x.size >= 2:
            x.reshape(-1)[1] = np.nan
        return x
    return Domain(sample)


def _nonfinite(m, x):
    """``x`` with inf above 1.5, -inf below -1.5 and NaN in (-0.6, 0.6), built with ``m.where``."""
    return m.where(x > 1.5, np.inf, m.where(x < -1.5, -np.inf, m.where(abs(x) < 0.6, np.nan, x)))


for _name, _f, _ref, _dom in [
    ("cbrt", fnp.cbrt, np.cbrt, away_from_zero()),
    ("deg2rad", fnp.deg2rad, np.deg2rad, NORMAL),
    ("rad2deg", fnp.rad2deg, np.rad2deg, NORMAL),
    ("radians", fnp.radians, np.radians, NORMAL),
    ("degrees", fnp.degrees, np.degrees, NORMAL),
    ("fabs", fnp.fabs, np.fabs, away_from_zero()),
    ("sinc", fnp.sinc, np.sinc, NORMAL),
    ("conj", fnp.conj, np.conj, NORMAL),
    ("conjugate", fnp.conjugate, np.conjugate, NORMAL),
    ("real", fnp.real, np.real, NORMAL),
    ("imag", fnp.imag, np.imag, NORMAL),
    ("angle", fnp.angle, np.angle, away_from_zero()),
    ("nan_to_num", fnp.nan_to_num, np.nan_to_num, NORMAL),
]:
    add(rec(_name, _f, 1, _dom, SHAPES1, _ref, [_name]))
for _name, _f, _ref, _dom in [
    ("fmod", fnp.fmod, np.fmod, (near_half_integers(), near_one())),
    ("copysign", fnp.copysign, np.copysign, away_from_zero()),
    ("logaddexp2", fnp.logaddexp2, np.logaddexp2, NORMAL),
    ("fmax", fnp.fmax, np.fmax, (near_half_integers(), near_integers())),
    ("fmin", fnp.fmin, np.fmin, (near_half_integers(), near_integers())),
    ("float_power", fnp.float_power, np.float_power, (POSITIVE, NORMAL)),
]:
    add(rec(_name, _f, 2, _dom, SHAPES2, _ref, [_name]))
for _name, _f, _ref, _dom in [
    ("rint", fnp.rint, np.rint, NORMAL),
    ("fix", fnp.fix, np.fix, NORMAL),
    ("signbit", fnp.signbit, np.signbit, NORMAL),
    ("isposinf", fnp.isposinf, np.isposinf, NORMAL),
    ("isneginf", fnp.isneginf, np.isneginf, NORMAL),
    ("isreal", fnp.isreal, np.isreal, NORMAL),
    ("iscomplex", fnp.iscomplex, np.iscomplex, NORMAL),
]:
    add(rec(_name, _f, 1, _dom, SHAPES1, _ref, [_name], diff=False))
add(
    rec("heaviside", fnp.heaviside, 2, NORMAL, SHAPES2, np.heaviside, ["heaviside"], diff=False),
    rec("isclose", fnp.isclose, 2, small_ints(), SHAPES2, np.isclose, ["isclose"], diff=False),
    rec("allclose", fnp.allclose, 2, small_ints(), SHAPES2, np.allclose, ["allclose"], diff=False),
    rec("divmod", lambda x, y: fnp.stack(fnp.divmod(x, y)), 2, (near_half_integers(), near_one()),
        SHAPES2, lambda x, y: np.stack(np.divmod(x, y)), ["divmod"]),
    rec("clip(min=,max=)", lambda x: fnp.clip(x, min=-0.5, max=0.5), 1,
        avoiding(-2, 2, (-0.6, -0.4), (0.4, 0.6)), SHAPES1, lambda x: np.clip(x, min=-0.5, max=0.5),
        ["clip"]),
    rec("nan_to_num(nan,inf)", lambda x: fnp.nan_to_num(_nonfinite(fnp, x), nan=-9.0, neginf=-5.0), 1,
        avoiding(-2, 2, (-1.6, -1.4), (-0.7, -0.5), (0.5, 0.7), (1.4, 1.6)), SHAPES1,
        lambda x: np.nan_to_num(_nonfinite(np, x), nan=-9.0, neginf=-5.0), ["nan_to_num"]),
    rec("modf", lambda x: fnp.stack(fnp.modf(x)), 1, near_half_integers(), SHAPES1,
        lambda x: np.stack(np.modf(x)), ["modf"]),
    rec("ldexp", lambda x: fnp.ldexp(x, np.array([1, -2, 3])), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.ldexp(x, np.array([1, -2, 3])), ["ldexp"]),
    rec("primitives.zeros_like", primitives.zeros_like, 1, NORMAL, SHAPES1, np.zeros_like, diff=False),
)

MORE_REDUCTIONS = [
    ("ptp", fnp.ptp, np.ptp, NORMAL),
    ("median", fnp.median, np.median, NORMAL),
    ("nansum", fnp.nansum, np.nansum, with_nans()),
    ("nanprod", fnp.nanprod, np.nanprod, with_nans(0.5, 1.5)),
    ("nanmean", fnp.nanmean, np.nanmean, with_nans()),
    ("nanvar", fnp.nanvar, np.nanvar, with_nans()),
    ("nanstd", fnp.nanstd, np.nanstd, with_nans()),
    ("nanmax", fnp.nanmax, np.nanmax, with_nans()),
    ("nanmin", fnp.nanmin, np.nanmin, with_nans()),
    ("nanmedian", fnp.nanmedian, np.nanmedian, with_nans()),
]
for _name, _f, _ref, _dom in MORE_REDUCTIONS:
    for _kwargs, _shapes in AXIS_CASES:
        if _name == "nanstd":   # no slice of one non-NaN element: sqrt(0) is not differentiable
            _shapes = [s for s in _shapes if s != () and not (_kwargs == {"axis": 0} and s == (2, 3))]
        add(rec(f"{_name}({_kw(_kwargs)})", (lambda f, kw: lambda x: f(x, **kw))(_f, _kwargs), 1,
                _dom, _shapes, (lambda f, kw: lambda x: f(x, **kw))(_ref, _kwargs), [_name]))

for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]), ({"axis": -1}, [(2, 3), (2, 3, 2)]),
                         ({"axis": 1}, [(2, 3, 2)])]:
    add(rec(f"cumsum({_kw(_kwargs)})", (lambda kw: lambda x: fnp.cumsum(x, **kw))(_kwargs), 1, NORMAL,
            _shapes, (lambda kw: lambda x: np.cumsum(x, **kw))(_kwargs), ["cumsum"]),
        rec(f"cumprod({_kw(_kwargs)})", (lambda kw: lambda x: fnp.cumprod(x, **kw))(_kwargs), 1,
            away_from_zero(0.5, 1.5), _shapes, (lambda kw: lambda x: np.cumprod(x, **kw))(_kwargs),
            ["cumprod"]),
        rec(f"cumprod(zeros,{_kw(_kwargs)})", (lambda kw: lambda x: fnp.cumprod(x, **kw))(_kwargs), 1,
            small_ints(), _shapes, (lambda kw: lambda x: np.cumprod(x, **kw))(_kwargs), ["cumprod"]))
for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]),
                         ({"axis": (0, -1), "keepdims": True}, [(2, 3), (2, 3, 2)])]:
    add(rec(f"count_nonzero({_kw(_kwargs)})",
            (lambda kw: lambda x: fnp.count_nonzero(x, **kw))(_kwargs), 1, small_ints(), _shapes,
            (lambda kw: lambda x: np.count_nonzero(x, **kw))(_kwargs), ["count_nonzero"], diff=False))
add(
    rec("cumsum(dtype=float64)", lambda x: fnp.cumsum(x, 0, dtype=fnp.float64), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.cumsum(x, 0, dtype=np.float64), ["cumsum"]),
    rec("op:x.cumsum(-1)", lambda x: x.cumsum(-1), 1, NORMAL, [(3,), (2, 3)], lambda x: x.cumsum(-1)),
    rec("op:x.cumprod()", lambda x: x.cumprod(), 1, NORMAL, SHAPES1, lambda x: x.cumprod()),
    rec("op:x.var(ddof=1)", lambda x: x.var(ddof=1), 1, NORMAL, [(3,), (2, 3)], lambda x: x.var(ddof=1)),
    rec("op:x.std(0)", lambda x: x.std(0), 1, NORMAL, [(2, 3)], lambda x: x.std(0)),
    rec("op:x.argmax(-1)", lambda x: x.argmax(-1), 1, NORMAL, [(3,), (2, 3)], lambda x: x.argmax(-1),
        diff=False),
    rec("op:x.any(0)", lambda x: x.round().any(0), 1, NORMAL, [(3,), (2, 3)],
        lambda x: x.round().any(0), diff=False),
    rec("op:x.all()", lambda x: x.round().all(), 1, NORMAL, SHAPES1, lambda x: x.round().all(), diff=False),
    rec("op:x.conj().real+x.imag", lambda x: x.conj().real + x.imag + x.conjugate(), 1, NORMAL, SHAPES1,
        lambda x: x.conj().real + x.imag + x.conjugate()),
    rec("var(dtype=float64)", lambda x: fnp.var(x, 0, fnp.float64), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.var(x, 0, np.float64), ["var"]),
    rec("prod(dtype=float64)", lambda x: fnp.prod(x, -1, fnp.float64), 1, NORMAL, [(3,), (2, 3)],
        lambda x: np.prod(x, -1, np.float64), ["prod"]),
    rec("nanvar(ddof=1)", lambda x: fnp.nanvar(x, axis=-1, ddof=1), 1, with_nans(), [(3,), (2, 3)],
        lambda x: np.nanvar(x, axis=-1, ddof=1), ["nanvar"]),
    rec("average", fnp.average, 1, NORMAL, SHAPES1, np.average, ["average"]),
    rec("average(axis,keepdims)", lambda x: fnp.average(x, axis=-1, keepdims=True), 1, NORMAL,
        [(3,), (2, 3)], lambda x: np.average(x, axis=-1, keepdims=True), ["average"]),
    rec("average(weights)", lambda x, w: fnp.average(x, weights=w), 2, (NORMAL, POSITIVE),
        [((3,), (3,)), ((2, 3), (2, 3))], lambda x, w: np.average(x, weights=w), ["average"]),
    rec("average(weights,axis=1)", lambda x, w: fnp.average(x, axis=1, weights=w), 2,
        (NORMAL, POSITIVE), [((2, 3), (3,)), ((2, 3, 2), (3,))],
        lambda x, w: np.average(x, axis=1, weights=w), ["average"]),
    rec("average(returned)", lambda x, w: fnp.stack(fnp.average(x, 0, w, returned=True)), 2,
        (NORMAL, POSITIVE), [((3,), (3,)), ((2, 3), (2, 3))],
        lambda x, w: np.stack(np.average(x, 0, w, returned=True)), ["average"]),
)
def with_kw(f, kw):
    return lambda x: f(x, **kw)


for _name in ("nanargmax", "nanargmin"):
    for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]),
                             ({"axis": -1, "keepdims": True}, [(2, 3)])]:
        add(rec(f"{_name}({_kw(_kwargs)})", with_kw(getattr(fnp, _name), _kwargs), 1, with_nans(),
                [s for s in _shapes if s != ()], with_kw(getattr(np, _name), _kwargs), [_name],
                diff=False))
for _name in ("nancumsum", "nancumprod"):
    for _kwargs, _shapes in [({}, SHAPES1), ({"axis": 0}, [(3,), (2, 3)]), ({"axis": -1}, [(2, 3)])]:
        add(rec(f"{_name}({_kw(_kwargs)})", with_kw(getattr(fnp, _name), _kwargs), 1,
                with_nans(0.5, 1.5), _shapes, with_kw(getattr(np, _name), _kwargs), [_name]))
QUANTILE_CASES = [  # (q, kwargs, shapes)
    (0.3, {}, SHAPES1),
    ([0.0, 0.25, 0.5, 1.0], {}, [(3,), (2, 3)]),
    (0.75, {"axis": 0}, [(3,), (2, 3)]),
    (np.array([[0.1, 0.9], [0.5, 0.6]]), {"axis": -1, "keepdims": True}, [(2, 3), (2, 3, 2)]),
    ([0.2, 0.7], {"axis": (0, 2)}, [(2, 3, 2)]),
]
for _q, _kwargs, _shapes in QUANTILE_CASES:
    add(rec(f"quantile(q={_q!r},{_kw(_kwargs)})",
            (lambda q, kw: lambda x: fnp.quantile(x, q, **kw))(_q, _kwargs), 1, NORMAL, _shapes,
            (lambda q, kw: lambda x: np.quantile(x, q, **kw))(_q, _kwargs), ["quantile"]),
        rec(f"percentile(q={_q!r},{_kw(_kwargs)})",
            (lambda q, kw: lambda x: fnp.percentile(x, np.multiply(q, 100.0), **kw))(_q, _kwargs), 1,
            NORMAL, _shapes,
            (lambda q, kw: lambda x: np.percentile(x, np.multiply(q, 100.0), **kw))(_q, _kwargs),
            ["percentile"]))
add(
    rec("median(axis=1)", lambda x: fnp.median(x, axis=1), 1, NORMAL, [(2, 4), (2, 3, 2)],
        lambda x: np.median(x, axis=1), ["median"]),
)
# the nan-quantiles: each slice its own count of non-NaN elements (one NaN, at flat index 1);
# an int q is a percentage
def _as_fraction(q):
    return np.divide(q, 100) if isinstance(q, int) else q


def _as_percent(q):
    return q if isinstance(q, int) else np.multiply(q, 100.0)


for _q, _kwargs, _shapes in QUANTILE_CASES + [(30, {"axis": 1}, [(2, 4)])]:
    add(rec(f"nanquantile(q={_q!r},{_kw(_kwargs)})",
            (lambda q, kw: lambda x: fnp.nanquantile(x, _as_fraction(q), **kw))(_q, _kwargs), 1, with_nans(),
            _shapes, (lambda q, kw: lambda x: np.nanquantile(x, _as_fraction(q), **kw))(_q, _kwargs),
            ["nanquantile"]),
        rec(f"nanpercentile(q={_q!r},{_kw(_kwargs)})",
            (lambda q, kw: lambda x: fnp.nanpercentile(x, _as_percent(q), **kw))(_q, _kwargs), 1, with_nans(),
            _shapes, (lambda q, kw: lambda x: np.nanpercentile(x, _as_percent(q), **kw))(_q, _kwargs),
            ["nanpercentile"]))
add(
    rec("nanmedian(axis=1,keepdims)", lambda x: fnp.nanmedian(x, axis=1, keepdims=True), 1, with_nans(),
        [(2, 4), (2, 3, 2)], lambda x: np.nanmedian(x, axis=1, keepdims=True), ["nanmedian"]),
)

# NumPy 2's mean= (differentiable too) and correction= (ddof's other name) of var and std
for _name, _dom in [("var", NORMAL), ("std", NORMAL), ("nanvar", with_nans()), ("nanstd", with_nans())]:
    add(rec(f"{_name}(mean=,axis=1)", (lambda f: lambda x, m: f(x, axis=1, mean=m))(getattr(fnp, _name)), 2,
            (_dom, NORMAL), [((2, 3), (2, 1)), ((2, 3, 2), (2, 1, 2))],
            (lambda f: lambda x, m: f(x, axis=1, mean=m))(getattr(np, _name)), [_name]),
        rec(f"{_name}(correction=1)", with_kw(getattr(fnp, _name), {"axis": -1, "correction": 1}), 1,
            _dom, [(2, 3)], with_kw(getattr(np, _name), {"axis": -1, "correction": 1}), [_name]))

# where= (and initial=) of the nan-reductions; _WHERE3F keeps two elements of every row
_WHERE3F = np.array([True, True, False])
for _name, _dom, _kwargs in [
        ("nansum", with_nans(), {"where": _WHERE23}), ("nansum", with_nans(), {"axis": 0, "where": _WHERE23,
                                                                            "initial": 1.5}),
        ("nanprod", with_nans(0.5, 1.5), {"axis": -1, "where": _WHERE3, "initial": 2.0}),
        ("nanmean", with_nans(), {"axis": 1, "where": _WHERE3F}),
        ("nanmean", with_nans(), {"where": _WHERE23, "keepdims": True}),
        ("nanvar", with_nans(), {"axis": -1, "where": _WHERE3F}),
        ("nanstd", with_nans(), {"where": _WHERE23}),
        ("nanmax", with_nans(), {"axis": 1, "where": _WHERE3, "initial": -9.0}),
        ("nanmax", with_nans(), {"initial": 9.0}),
        ("nanmin", with_nans(), {"axis": 0, "where": _WHERE23, "initial": 9.0, "keepdims": True})]:
    add(rec(f"{_name}({_kw(_kwargs)})", with_kw(getattr(fnp, _name), _kwargs), 1, _dom, [(2, 3)],
            with_kw(getattr(np, _name), _kwargs), [_name]))


def np_put_along_axis(x, i, v, axis):
    out = np.array(x, copy=True)
    np.put_along_axis(out, i, v, axis)
    return out


# put_along_axis: concrete and traced (batched) indices, repeats among them (the last stays)
_PERM = np.array([[2, 0], [1, 2]])
add(
    rec("put_along_axis(1)", lambda x, v: fnp.put_along_axis(x, _PERM, v, 1), 2, NORMAL,
        [((2, 3), (2, 2)), ((2, 3), (2, 1)), ((2, 3), ())], lambda x, v: np_put_along_axis(x, _PERM, v, 1),
        ["put_along_axis"]),
    rec("put_along_axis(0)", lambda x, v: fnp.put_along_axis(x, _PERM.T, v, 0), 2, NORMAL,
        [((3, 2), (2, 2)), ((3, 2), (1, 2))],
        lambda x, v: np_put_along_axis(x, _PERM.T, v, 0), ["put_along_axis"]),
    rec("put_along_axis(None)", lambda x, v: fnp.put_along_axis(x, np.array([4, 0]), v, None), 2, NORMAL,
        [((2, 3), (2,)), ((5,), ())], lambda x, v: np_put_along_axis(x, np.array([4, 0]), v, None),
        ["put_along_axis"]),
    rec("put_along_axis(x,i,v,-1)", lambda x, v, i: fnp.put_along_axis(x, i, v, -1), 3,
        (NORMAL, NORMAL, indices(3)), [((2, 3), (2, 4), (2, 4)), ((3,), (), (2,)), ((2, 3), (1,), (2, 1))],
        lambda x, v, i: np_put_along_axis(x, i, v, -1), ["put_along_axis"]),
)

# linalg.eigvals of matrices near one with well separated eigenvalues (real, or a complex pair)
_REAL_SPECTRUM = np.diag([-2.0, 0.0, 2.0])
_COMPLEX_PAIR = np.array([[0.5, -1.5, 0.0], [1.5, 0.5, 0.0], [0.0, 0.0, -1.0]])
for _label, _base in [("real", _REAL_SPECTRUM), ("complex", _COMPLEX_PAIR)]:
    add(rec(f"linalg.eigvals({_label})",
            (lambda b: lambda x: fnp.stack([fnp.real(fnp.linalg.eigvals(b + 0.2 * x)),
                                            fnp.imag(fnp.linalg.eigvals(b + 0.2 * x))]))(_base),
            1, NORMAL, [(3, 3), (2, 3, 3)],
            (lambda b: lambda x: np.stack([np.real(np.linalg.eigvals(b + 0.2 * x)),
                                           np.imag(np.linalg.eigvals(b + 0.2 * x))]))(_base),
            ["linalg.eigvals"]))

# Creation from traced values: endpoints, fill values, coordinate vectors.
add(
    rec("array([x,2x])", lambda x: fnp.array([x, 2.0 * x]), 1, NORMAL, SHAPES1,
        lambda x: np.array([x, 2.0 * x]), ["array"]),
    rec("array(ndmin=2)", lambda x: fnp.array(x, ndmin=2), 1, NORMAL, SHAPES1,
        lambda x: np.array(x, ndmin=2), ["array"]),
    rec("full((2,3),x)", lambda x: fnp.full((2, 3), x), 1, NORMAL, [()], lambda x: np.full((2, 3), x),
        ["full"]),
    rec("full_like(x,y)", lambda x, y: fnp.full_like(x, y), 2, NORMAL, [((3,), ()), ((2, 3), ())],
        lambda x, y: np.full_like(x, y), ["full_like"]),
    rec("linspace", lambda a, b: fnp.linspace(a, b, 5), 2, NORMAL, [((), ()), ((3,), (3,)), ((2, 3), (3,))],
        lambda a, b: np.linspace(a, b, 5), ["linspace"]),
    rec("linspace(endpoint=False,axis=-1)", lambda a, b: fnp.linspace(a, b, 4, endpoint=False, axis=-1),
        2, NORMAL, [((), ()), ((3,), (3,))], lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=-1),
        ["linspace"]),
    rec("linspace(retstep)", lambda a, b: fnp.linspace(a, b, 3, retstep=True)[1], 2, NORMAL,
        [((), ()), ((3,), (3,))], lambda a, b: np.linspace(a, b, 3, retstep=True)[1], ["linspace"]),
    rec("logspace", lambda a, b: fnp.logspace(a, b, 4), 2, NORMAL, [((), ()), ((3,), (3,))],
        lambda a, b: np.logspace(a, b, 4), ["logspace"]),
    rec("logspace(base)", lambda a, b: fnp.logspace(0.0, a, 3, base=b), 2, (NORMAL, POSITIVE),
        [((), ()), ((3,), (3,))], lambda a, b: np.logspace(0.0, a, 3, base=b), ["logspace"]),
    rec("geomspace", lambda a, b: fnp.geomspace(a, b, 4), 2, POSITIVE, [((), ()), ((3,), (3,))],
        lambda a, b: np.geomspace(a, b, 4), ["geomspace"]),
    rec("geomspace(<0)", lambda a, b: fnp.geomspace(-a, -b, 3), 2, POSITIVE, [((), ())],
        lambda a, b: np.geomspace(-a, -b, 3), ["geomspace"]),
    rec("meshgrid", lambda x, y: fnp.stack(fnp.meshgrid(x, y)), 2, NORMAL, [((3,), (2,))],
        lambda x, y: np.stack(np.meshgrid(x, y)), ["meshgrid"]),
    rec("meshgrid(ij)", lambda x, y: fnp.stack(fnp.meshgrid(x, y, x, indexing="ij")), 2, NORMAL,
        [((3,), (2,))], lambda x, y: np.stack(np.meshgrid(x, y, x, indexing="ij")), ["meshgrid"]),
    rec("meshgrid(sparse)",
        (lambda m: lambda x, y: m(x, y, sparse=True)[0] * m(x, y, sparse=True)[1])(fnp.meshgrid),
        2, NORMAL, [((3,), (2,))],
        (lambda m: lambda x, y: m(x, y, sparse=True)[0] * m(x, y, sparse=True)[1])(np.meshgrid),
        ["meshgrid"]),
)


# ---------------------------------------------------------------------------------------
# Running a record.

def seed_of(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def make_args(r: OpRecord, shapes: tuple, dtype: Any, seed_extra: Any = ()) -> list:
    rng = np.random.default_rng(seed_of(r.name, shapes, np.dtype(dtype).name, seed_extra))
    return [d.sample(rng, s, dtype) for d, s in zip(r.domains(), shapes)]


def diff_argnums(r: OpRecord) -> list:
    return [i for i, d in enumerate(r.domains()) if d.diff]


def partial_in(fun: Callable, args: list, argnums: list) -> Callable:
    """``fun`` as a function of ``args[argnums]``, the others fixed."""
    def f(*diff):
        full = list(args)
        for i, a in zip(argnums, diff):
            full[i] = a
        return fun(*full)
    return f


def cases(records: list, *, diff: bool | None = None, dtypes: Sequence = DTYPES) -> list:
    out = []
    for r in records:
        if diff is not None and r.diff != diff:
            continue
        for shapes in r.shape_cases():
            for dt in dtypes:
                if dt in r.dtypes:
                    sid = "-".join("x".join(map(str, s)) or "()" for s in shapes)
                    out.append(pytest.param(r, shapes, dt, id=f"{r.name}-{sid}-{np.dtype(dt).name}"))
    return out


def tolerances(dtype: Any, actual_dtype: Any = None) -> dict:
    """float32 tolerances when the inputs or the result are float32 (a float64 result computed
    from float32 inputs, e.g. a quantile at a float64 ``q``, rounds in float32 on the way)."""
    if np.float32 in (np.dtype(dtype), np.dtype(actual_dtype or dtype)):
        return dict(rtol=2e-6, atol=2e-6)
    return dict(rtol=1e-12, atol=1e-12)


def assert_same(got: Any, want: Any, dtype: Any, what: str = "") -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, err_msg=what, **tolerances(dtype, want.dtype))
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ---------------------------------------------------------------------------------------
# Value, dtype, derivatives and batching of every row.

@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS))
def test_value_matches_numpy(r, shapes, dtype):
    args = make_args(r, shapes, dtype)
    want = r.ref(*[a.copy() for a in args])
    got = r.fun(*args)
    assert_same(got, want, dtype)


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS))
def test_traced_value_matches_numpy(r, shapes, dtype):
    """Under a transform (here jvp) the value is computed by functrans, not by NumPy's own
    function (the eval path of a composite can be NumPy's): it must agree all the same."""
    args = make_args(r, shapes, dtype)
    want = r.ref(*[a.copy() for a in args])
    nums = diff_argnums(r)
    if not nums:
        return
    f = partial_in(r.fun, args, nums)
    diff_args = [args[i] for i in nums]
    got, _ = ft.jvp(f, tuple(diff_args), tuple(np.zeros_like(a) for a in diff_args))
    assert_same(got, want, dtype)


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS, diff=True))
def test_grads_match_finite_differences(r, shapes, dtype):
    args = make_args(r, shapes, dtype)
    nums = diff_argnums(r)
    f = partial_in(r.fun, args, nums)
    diff_args = [args[i] for i in nums]
    tol = None if r.tol is None else r.tol[dtype]
    ft.check_grads(f, diff_args, order=r.order, modes=r.modes, atol=tol, rtol=tol)


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS, diff=True))
def test_derivative_dtypes(r, shapes, dtype):
    """The gradient has each input's dtype; the output tangent has the output's dtype."""
    args = make_args(r, shapes, dtype)
    nums = diff_argnums(r)
    f = partial_in(r.fun, args, nums)
    diff_args = [args[i] for i in nums]
    out = np.asarray(r.fun(*args))
    grads = ft.grad(lambda *a: fnp.sum(f(*a)), argnums=tuple(range(len(nums))))(*diff_args)
    for g, a in zip(grads, diff_args):
        assert np.asarray(g).shape == a.shape
        assert np.asarray(g).dtype == a.dtype, f"gradient dtype {np.asarray(g).dtype} != {a.dtype}"
    ct = np.ones(out.shape, out.dtype)
    _, pullback = ft.value_and_pullback(f, *diff_args)
    for c, a in zip(pullback(ct), diff_args):
        assert np.asarray(c).dtype == a.dtype, f"cotangent dtype {np.asarray(c).dtype} != {a.dtype}"
    primal_out, tangent_out = ft.jvp(f, tuple(diff_args), tuple(np.ones_like(a) for a in diff_args))
    assert np.asarray(primal_out).dtype == out.dtype
    assert np.asarray(tangent_out).dtype == out.dtype
    assert np.asarray(tangent_out).shape == out.shape


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS, diff=False))
def test_nondifferentiable_derivative_is_zero(r, shapes, dtype):
    args = make_args(r, shapes, dtype)
    nums = diff_argnums(r)
    f = partial_in(r.fun, args, nums)
    diff_args = [args[i] for i in nums]
    out, t_out = ft.jvp(f, tuple(diff_args), tuple(np.ones_like(a) for a in diff_args))
    assert_same(out, r.ref(*args), dtype)
    assert np.shape(t_out) == np.shape(out)
    assert not np.any(np.asarray(t_out)), t_out
    grads = ft.grad(lambda *a: fnp.sum(fnp.astype(f(*a), dtype) * 3.0),
                    argnums=tuple(range(len(nums))))(*diff_args)
    for g, a in zip(grads, diff_args):
        assert np.asarray(g).dtype == a.dtype and np.asarray(g).shape == a.shape
        np.testing.assert_array_equal(g, np.zeros_like(a))


def in_axes_cases(ranks: list) -> list:
    """Mixes of 0, 1, -1 and None across arguments of (unbatched) ``ranks``."""
    n = len(ranks)
    combos = [(0,) * n, (-1,) * n, tuple(1 if r >= 1 else 0 for r in ranks)]
    if n > 1:
        for k in range(n):
            combos.append(tuple((1 if ranks[i] >= 1 else -1) if i == k else None for i in range(n)))
        combos.append(tuple(None if i == 0 else (-1 if i % 2 else 0) for i in range(n)))
        combos.append(tuple((1 if r >= 1 else 0) if i % 2 == 0 else -1 for i, r in enumerate(ranks)))
    return list(dict.fromkeys(combos))


def insert_axis(rng: np.random.Generator, dom: Domain, shape: tuple, axis: int | None,
                size: int, dtype: Any) -> np.ndarray:
    if axis is None:
        return dom.sample(rng, shape, dtype)
    full = list(shape)
    full.insert(axis % (len(shape) + 1), size)
    return dom.sample(rng, tuple(full), dtype)


def take(x: np.ndarray, axis: int | None, i: int) -> np.ndarray:
    return x if axis is None else np.take(x, i, axis=axis)


def batching_tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-12)


def assert_batched(got, want, dtype, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, err_msg=what, **batching_tol(dtype))
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS))
def test_vmap_matches_loop(r, shapes, dtype):
    B = 4
    doms = r.domains()
    for in_axes in in_axes_cases([len(s) for s in shapes]):
        rng = np.random.default_rng(seed_of(r.name, shapes, in_axes))
        batched = [insert_axis(rng, d, s, ax, B, dtype) for d, s, ax in zip(doms, shapes, in_axes)]
        want = np.stack([np.asarray(r.fun(*[take(x, ax, b) for x, ax in zip(batched, in_axes)]))
                         for b in range(B)])
        got = ft.vmap(r.fun, in_axes=in_axes)(*batched)
        assert_batched(got, want, dtype, f"vmap(in_axes={in_axes})")


@pytest.mark.parametrize("r,shapes,dtype", cases(RECORDS))
def test_nested_vmap_matches_loop(r, shapes, dtype):
    """``vmap(vmap(f, inner), outer)``: the inner batch axis first, the outer one last."""
    B1, B2 = 2, 3
    n = r.nargs
    inner = tuple(None if (n > 1 and i == n - 1) else 0 for i in range(n))
    outer = (-1,) * n
    rng = np.random.default_rng(seed_of(r.name, shapes, "nested"))
    args = []
    for d, s, ax in zip(r.domains(), shapes, inner):
        full = ((B1,) if ax == 0 else ()) + tuple(s) + (B2,)
        args.append(d.sample(rng, full, dtype))
    want = np.stack([np.stack([np.asarray(r.fun(*[take(take(x, -1, j), ax, i)
                                                  for x, ax in zip(args, inner)]))
                               for i in range(B1)]) for j in range(B2)])
    got = ft.vmap(ft.vmap(r.fun, in_axes=inner), in_axes=outer)(*args)
    assert_batched(got, want, dtype, f"vmap(vmap(in_axes={inner}), in_axes={outer})")


# ---------------------------------------------------------------------------------------
# The conventions of API.md at awkward points, against exact values.

def test_abs_derivative_at_zero_is_zero():
    assert ft.grad(fnp.abs)(0.0) == 0.0
    assert ft.jvp(fnp.abs, (0.0,), (1.0,))[1] == 0.0
    x = np.array([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(fnp.abs(x)))(x), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(abs(x)))(np.float32(0.0)), 0.0)


def test_norm_gradient_at_zero_vector_is_zero():
    for z in (np.zeros(3), np.zeros((2, 3)), np.zeros(3, np.float32)):
        g = ft.grad(fnp.linalg.norm)(z)
        assert g.dtype == z.dtype
        np.testing.assert_array_equal(g, np.zeros_like(z))
        assert ft.jvp(fnp.linalg.norm, (z,), (np.ones_like(z),))[1] == 0.0
    # Per row, with an axis: only the zero row has a zero gradient.
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = ft.grad(lambda x: fnp.sum(fnp.linalg.norm(x, axis=1)))(x)
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)
    # Elsewhere the gradient is x / |x|.
    np.testing.assert_allclose(ft.grad(fnp.linalg.norm)(np.array([3.0, 4.0])), [0.6, 0.8], rtol=1e-15)


@pytest.mark.parametrize("f,wins", [(fnp.maximum, "x"), (fnp.minimum, "y")])
def test_maximum_minimum_split_ties(f, wins):
    gx, gy = ft.grad(f, argnums=(0, 1))(1.0, 1.0)
    assert (gx, gy) == (0.5, 0.5)
    assert ft.jvp(f, (2.0, 2.0), (1.0, 3.0))[1] == 2.0
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([3.0, 2.0, 1.0])
    gx, gy = ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, y)
    first = [0.0, 0.5, 1.0] if wins == "x" else [1.0, 0.5, 0.0]
    np.testing.assert_array_equal(gx, first)
    np.testing.assert_array_equal(gy, 1.0 - np.array(first))
    # A broadcast scalar tying with several elements gets a half from each.
    gx, gy = ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(np.array([2.0, 2.0, 5.0]), 2.0)
    np.testing.assert_array_equal(gx, [0.5, 0.5, 1.0 if wins == "x" else 0.0])
    assert gy == (1.0 if wins == "x" else 2.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_like_derivatives_against_zero(dtype):
    """maximum(x, 0.0) and minimum(x, 0.0): 1 on the winning side, 0.5 at ±0, NaN at NaN."""
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.inf, -np.inf, np.nan], dtype=dtype)
    for x0, want0 in ((np.array(x[0]), 0.0), (np.array(x[-1]), np.nan)):      # 0-d arrays too
        np.testing.assert_array_equal(ft.grad(lambda x: fnp.maximum(x, 0.0))(x0), want0)
    up = np.array([0.0, 0.5, 0.5, 1.0, 1.0, 0.0, np.nan], dtype=dtype)
    for f, want in ((fnp.maximum, up), (fnp.minimum, 1.0 - up)):
        t = ft.jvp(lambda x: f(x, 0.0), (x,), (np.ones_like(x),))[1]
        assert t.dtype == dtype
        np.testing.assert_array_equal(t, want)
        np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(f(x, 0.0)))(x), want)


@pytest.mark.parametrize("f", [fnp.max, fnp.min])
def test_max_min_reductions_split_ties(f):
    x = np.array([1.0, 3.0, 3.0]) if f is fnp.max else np.array([-1.0, -3.0, -3.0])
    np.testing.assert_array_equal(ft.grad(f)(x), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(ft.grad(f)(np.full(3, 7.0)), [1 / 3, 1 / 3, 1 / 3])
    assert ft.jvp(f, (x,), (np.array([10.0, 1.0, 2.0]),))[1] == 1.5
    s = 1.0 if f is fnp.max else -1.0
    m = s * np.array([[1.0, 1.0, 0.0], [2.0, 5.0, 5.0], [4.0, 5.0, 4.0], [3.0, 3.0, 3.0]])
    g = ft.grad(lambda m: fnp.sum(f(m, axis=1)))(m)
    np.testing.assert_allclose(g, [[0.5, 0.5, 0], [0, 0.5, 0.5], [0, 1, 0], [1 / 3, 1 / 3, 1 / 3]],
                               rtol=1e-15)
    g = ft.grad(lambda m: fnp.sum(f(m, axis=0, keepdims=True)))(m)
    np.testing.assert_allclose(g, [[0, 0, 0], [0, 0.5, 1], [1, 0.5, 0], [0, 0, 0]], rtol=1e-15)
    _, t = ft.jvp(lambda m: f(m, axis=-1), (m,), (np.arange(12.0).reshape(4, 3),))
    np.testing.assert_allclose(t, [0.5, 4.5, 7.0, 10.0], rtol=1e-15)
    # float32 ties keep float32
    g = ft.grad(f)(np.ones(4, np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.full(4, 0.25, np.float32))


@pytest.mark.parametrize("f", [fnp.max, fnp.min])
def test_max_min_initial_takes_part_in_ties(f):
    s = 1.0 if f is fnp.max else -1.0
    x = s * np.array([1.0, 3.0, 3.0])
    # initial ties with two elements: each of the three gets a third
    np.testing.assert_allclose(ft.grad(lambda x: f(x, initial=s * 3.0))(x), [0, 1 / 3, 1 / 3])
    assert ft.grad(lambda x: f(x, initial=s * 4.0))(x).tolist() == [0.0, 0.0, 0.0]
    # a masked-out element takes no part (not even in ties), and gets a zero derivative
    mask = np.array([True, True, False])
    np.testing.assert_allclose(ft.grad(lambda x: f(x, where=mask, initial=s * 3.0))(x), [0, 0.5, 0])
    np.testing.assert_allclose(ft.jvp(lambda x: f(x, where=mask, initial=-s * 9.0), (x,),
                                      (np.array([1.0, 2.0, 4.0]),))[1], 2.0)
    m = s * np.array([[1.0, 5.0], [2.0, 2.0]])
    g = ft.grad(lambda m: fnp.sum(f(m, axis=0, initial=s * 2.0, where=np.array([True, False]))))(m)
    np.testing.assert_allclose(g, [[0, 0], [0.5, 0]])


def test_where_and_initial_errors():
    x = np.ones(3)
    with pytest.raises(ValueError, match="max: a where= mask needs initial="):
        ft.grad(lambda x: fnp.max(x, where=x > 0))(x)
    with pytest.raises(TypeError, match="sum: where= must be a boolean mask, got dtype float64"):
        ft.grad(lambda x: fnp.sum(x, where=x))(x)
    with pytest.raises(ValueError, match=r"mean: the where= mask of shape \(2,\) does not broadcast "
                                         r"to the array's shape \(3,\)"):
        ft.grad(lambda x: fnp.mean(x, where=np.ones(2, bool)))(x)
    # integer inputs: initial is cast to their dtype, as NumPy does
    for f, init in [(fnp.sum, 0.5), (fnp.max, 2.5), (fnp.prod, 2.5)]:
        got = ft.vmap(lambda x: f(x, initial=init), in_axes=None, axis_size=1)(np.array([1, 2]))[0]
        assert got == getattr(np, f.__name__)(np.array([1, 2]), initial=init) and got.dtype == np.int64


def test_where_mask_under_vmap_matches_loop():
    rng = np.random.default_rng(3)
    xs, ms = rng.standard_normal((5, 4)), rng.random((5, 4)) < 0.5
    ms[:, 0] = True
    for name, kw in [("sum", {}), ("mean", {}), ("max", {"initial": -9.0}), ("prod", {"initial": 2.0})]:
        f, ref = getattr(fnp, name), getattr(np, name)
        np.testing.assert_allclose(ft.vmap(lambda x, m: f(x, where=m, **kw))(xs, ms),
                                   [ref(x, where=m, **kw) for x, m in zip(xs, ms)], err_msg=name)
        g = ft.vmap(ft.grad(lambda x, m: f(x, where=m, **kw)))(xs, ms)
        assert np.all(g[~ms] == 0), name
        np.testing.assert_allclose(g, [ft.grad(lambda x: f(x, where=m, **kw))(x) for x, m in zip(xs, ms)])


def test_pow_derivative_in_exponent_at_zero_base_is_zero():
    gx, gy = ft.grad(lambda x, y: x ** y, argnums=(0, 1))(0.0, 2.0)
    assert (gx, gy) == (0.0, 0.0)
    gx, gy = ft.grad(lambda x, y: fnp.power(x, y), argnums=(0, 1))(0.0, 3.0)
    assert (gx, gy) == (0.0, 0.0)
    g = ft.grad(lambda y: fnp.sum(fnp.power(np.array([0.0, 2.0]), y)))(np.array([2.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 8.0 * np.log(2.0)], rtol=1e-15)
    assert ft.jvp(lambda y: 0.0 ** y, (1.5,), (1.0,))[1] == 0.0
    # x ** 0 is constant 1 (derivative 0 even at x = 0)
    assert ft.grad(lambda x: x ** 0)(0.0) == 0.0
    assert ft.grad(lambda x: fnp.power(x, 0.0))(0.0) == 0.0


def test_integer_power_of_negative_base_is_differentiable():
    assert ft.grad(lambda x: x ** 3)(-2.0) == 12.0
    assert ft.grad(ft.grad(lambda x: x ** 3))(-2.0) == -12.0
    assert ft.grad(lambda x: fnp.power(x, 3.0))(-2.0) == 12.0
    assert ft.grad(lambda x: fnp.power(x, 2))(-3.0) == -6.0
    assert ft.jvp(lambda x: x ** 4, (-1.0,), (1.0,))[1] == -4.0
    g = ft.grad(lambda x: fnp.sum(fnp.power(x, np.array([1.0, 2.0, 3.0]))))(np.array([-1.0, -1.0, -2.0]))
    np.testing.assert_array_equal(g, [1.0, -2.0, 12.0])
    g = ft.grad(lambda x: fnp.sum(x ** 3))(np.array([-2.0, -1.0], np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [12.0, 3.0])
    ft.check_grads(lambda x: x ** 3, (np.array([-2.0, -0.5, 1.5]),), order=2)
    ft.check_grads(lambda x: fnp.power(x, 5), (np.array([-1.2, -0.7]),), order=2)


def test_sqrt_derivative_at_zero_is_inf():
    with np.errstate(divide="ignore"):
        assert ft.grad(fnp.sqrt)(0.0) == np.inf
        assert ft.jvp(fnp.sqrt, (0.0,), (1.0,))[1] == np.inf
        g = ft.grad(lambda x: fnp.sum(fnp.sqrt(x)))(np.array([0.0, 4.0], np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [np.inf, 0.25])


def test_repeated_indices_accumulate():
    x = np.arange(5.0)
    g = ft.grad(lambda x: fnp.sum(x[[0, 0, 1]]))(x)
    np.testing.assert_array_equal(g, [2.0, 1.0, 0.0, 0.0, 0.0])
    g = ft.grad(lambda x: fnp.sum(x[np.array([3, 3, 3, 0])] * np.array([1.0, 2.0, 3.0, 4.0])))(x)
    np.testing.assert_array_equal(g, [4.0, 0.0, 0.0, 6.0, 0.0])
    m = np.zeros((2, 3))
    g = ft.grad(lambda m: fnp.sum(m[[0, 0, 1], [1, 1, 2]]))(m)
    np.testing.assert_array_equal(g, [[0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    g = ft.grad(lambda m: fnp.sum(m[:, [2, 2]]))(m)
    np.testing.assert_array_equal(g, [[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]])
    # forward mode gathers (no accumulation to do)
    _, t = ft.jvp(lambda x: x[[0, 0, 1]], (x,), (np.array([1.0, 2.0, 3.0, 4.0, 5.0]),))
    np.testing.assert_array_equal(t, [1.0, 1.0, 2.0])
    # under vmap, per example
    g = ft.vmap(ft.grad(lambda x: fnp.sum(x[[0, 0, 1]])))(np.zeros((2, 3)))
    np.testing.assert_array_equal(g, [[2.0, 1.0, 0.0]] * 2)
    # traced (batched) repeated indices accumulate per example
    idx = np.array([[0, 0], [2, 1]])
    g = ft.vmap(lambda i: ft.grad(lambda x: fnp.sum(fnp.getitem(x, i)))(np.zeros(3)))(idx)
    np.testing.assert_array_equal(g, [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    # .at[...].add with repeated indices accumulates in the value and in the derivative
    out = ft.jvp(lambda x: x.at[[0, 0, 2]].add(1.0), (np.zeros(3),), (np.ones(3),))[0]
    np.testing.assert_array_equal(out, [2.0, 0.0, 1.0])
    gv = ft.grad(lambda v: fnp.sum(at(np.zeros(3))[[0, 0, 2]].add(v) * np.array([1.0, 2.0, 3.0])))(
        np.zeros(3))
    np.testing.assert_array_equal(gv, [1.0, 1.0, 3.0])


def test_at_set_gradients():
    x = np.arange(4.0)
    gx, gv = ft.grad(lambda x, v: fnp.sum(x.at[1:3].set(v) * np.array([1.0, 2.0, 3.0, 4.0])),
                     argnums=(0, 1))(x, np.zeros(2))
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0, 4.0])
    np.testing.assert_array_equal(gv, [2.0, 3.0])
    # a scalar update broadcast over the slice collects every element's cotangent
    gv = ft.grad(lambda v: fnp.sum(at(np.zeros(4))[1:3].set(v) * np.array([1.0, 2.0, 3.0, 4.0])))(0.0)
    assert gv == 5.0


def test_boolean_masks():
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    g = ft.grad(lambda x: fnp.sum(x[x > 0] ** 2))(x)   # the mask is concrete under grad
    np.testing.assert_array_equal(g, [0.0, 4.0, 0.0, 8.0])
    mask = np.array([[True, False], [False, True]])
    g = ft.grad(lambda m: fnp.sum(m[mask] * np.array([2.0, 3.0])))(np.zeros((2, 2)))
    np.testing.assert_array_equal(g, [[2.0, 0.0], [0.0, 3.0]])
    # a concrete mask under vmap is fine; a per-example (batched) one has no concrete value
    out = ft.vmap(lambda r: r[np.array([True, False, True])])(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(out, [[0.0, 2.0], [3.0, 5.0]])
    with pytest.raises(ConcretizationError):
        ft.vmap(lambda r: r[r > 0])(np.ones((2, 3)))


def test_logaddexp_is_stable():
    assert fnp.logaddexp(1000.0, 1000.0) == 1000.0 + np.log(2.0)
    gx, gy = ft.grad(fnp.logaddexp, argnums=(0, 1))(1000.0, 1000.0)
    assert (gx, gy) == (0.5, 0.5)
    gx, gy = ft.grad(fnp.logaddexp, argnums=(0, 1))(-1000.0, 0.0)
    assert (gx, gy) == (0.0, 1.0)
    assert fnp.logaddexp(-np.inf, 0.0) == 0.0
    assert ft.grad(fnp.logaddexp, argnums=1)(-np.inf, 0.0) == 1.0


def test_clip_and_where_derivatives():
    x = np.array([-2.0, -0.5, 0.0, 0.3, 2.0])
    g = ft.grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])
    glo, ghi = ft.grad(lambda lo, hi: fnp.sum(fnp.clip(x, lo, hi)), argnums=(0, 1))(-1.0, 1.0)
    assert (glo, ghi) == (1.0, 1.0)
    # where: the untaken branch gets exactly zero even where it is not finite
    g = ft.grad(lambda x: fnp.sum(fnp.where(x > 0, fnp.sqrt(fnp.where(x > 0, x, 1.0)), 0.0)))(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np.where(x > 0, 0.5 / np.sqrt(np.where(x > 0, x, 1.0)), 0.0))


def test_mask_of_non_finite_values():
    x = np.array([np.inf, -np.inf, np.nan, 1.0])
    keep = np.array([False, True, False, True])
    np.testing.assert_array_equal(primitives.mask(x, keep), [0.0, -np.inf, 0.0, 1.0])
    g = ft.grad(lambda x: fnp.sum(fnp.where(keep, x, 0.0)))(np.array([np.inf, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, 1.0])


def test_comparisons_have_zero_derivative():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    for f in (fnp.less, fnp.less_equal, fnp.greater, fnp.greater_equal, fnp.equal, fnp.not_equal):
        gx, gy = ft.grad(lambda x, y: fnp.sum(fnp.where(f(x, y), x * 0.0 + 1.0, 0.0)),
                         argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx, 0.0)
        np.testing.assert_array_equal(gy, 0.0)


def test_stop_gradient_and_with_gradient():
    assert ft.grad(lambda x: x * ft.stop_gradient(x))(3.0) == 3.0
    assert ft.grad(lambda x: ft.with_gradient(x * x, lambda g: 2.0 * g))(3.0) == 12.0


_XI = np.array([1, 2, 3], np.int32)
_YI = np.array([2, 1, 3], np.int64)
_BI = np.array([True, False, True])
INTEGER_CASES = [  # (label, function of a module: fnp or np) on integer / bool inputs
    ("sin", lambda m: m.sin(_XI)), ("exp", lambda m: m.exp(_XI)), ("sqrt", lambda m: m.sqrt(_XI)),
    ("log", lambda m: m.log(_XI)), ("log2", lambda m: m.log2(_XI)), ("exp2", lambda m: m.exp2(_XI)),
    ("abs", lambda m: m.abs(-_XI)), ("square", lambda m: m.square(_XI)),
    ("negative", lambda m: m.negative(_XI)), ("add", lambda m: m.add(_XI, _YI)),
    ("multiply", lambda m: m.multiply(_XI, 2)), ("divide", lambda m: m.divide(_XI, _YI)),
    ("power", lambda m: m.power(_XI, _YI)), ("maximum", lambda m: m.maximum(_XI, _YI)),
    ("remainder", lambda m: m.remainder(_XI, _YI)), ("floor_divide", lambda m: m.floor_divide(_XI, _YI)),
    ("arctan2", lambda m: m.arctan2(_XI, _YI)), ("hypot", lambda m: m.hypot(_XI, _YI)),
    ("sum", lambda m: m.sum(_XI)), ("sum(bool)", lambda m: m.sum(_BI)), ("mean", lambda m: m.mean(_XI)),
    ("prod", lambda m: m.prod(_XI)), ("max", lambda m: m.max(_XI)), ("var", lambda m: m.var(_XI)),
    ("std", lambda m: m.std(_XI)), ("argmax", lambda m: m.argmax(_XI)),
    ("matmul", lambda m: m.matmul(_XI, _YI)), ("dot", lambda m: m.dot(_XI, _YI)),
    ("outer", lambda m: m.outer(_XI, _YI)), ("einsum", lambda m: m.einsum("i,i", _XI, _YI)),
    ("trace", lambda m: m.trace(np.eye(3, dtype=np.int32))),
    ("trace(bool)", lambda m: m.trace(np.eye(2, dtype=bool))),
    ("where", lambda m: m.where(_XI > 1, _XI, _YI)), ("clip", lambda m: m.clip(_XI, 1, 2)),
    ("linalg.norm", lambda m: m.linalg.norm(_XI)), ("round", lambda m: m.round(_XI)),
    ("floor", lambda m: m.floor(_XI)), ("sign", lambda m: m.sign(-_XI)),
    ("ones_like", lambda m: m.ones_like(_XI)), ("ones_like(bool)", lambda m: m.ones_like(_BI)),
    ("full_like", lambda m: m.full_like(_XI, 2.5)), ("zeros_like", lambda m: m.zeros_like(_BI)),
    ("logical_and", lambda m: m.logical_and(_XI, _BI)), ("less", lambda m: m.less(_XI, _YI)),
    ("concatenate", lambda m: m.concatenate([_XI, _YI])), ("stack", lambda m: m.stack([_XI, _XI])),
    ("getitem", lambda m: (m.asarray(_XI))[[0, 0]]),
    ("float16 arctan", lambda m: m.arctan(np.float16([1.0, 2.0]))),
    ("float16 mean", lambda m: m.mean(np.float16([1.0, 2.0]))),
    ("float32*python float", lambda m: m.multiply(np.float32([1.0]), 2.5)),
    ("float32 var(ddof=1)", lambda m: m.var(np.float32([1.0, 2.0]), ddof=1)),
]


@pytest.mark.parametrize("label,f", INTEGER_CASES, ids=[c[0] for c in INTEGER_CASES])
def test_integer_bool_and_float16_inputs_follow_numpy(label, f):
    """NumPy's dtype rules beyond float64/float32: ints to float, widening sums, bools."""
    assert_same(f(fnp), f(np), F64 if np.asarray(f(np)).dtype != np.float32 else F32)


# ---------------------------------------------------------------------------------------
# Creation functions, dtypes and constants: simple value tests.

RNG_TRI = np.random.default_rng(7)


def test_creation_functions_are_numpy():
    assert_same(fnp.array([1.0, 2.0], dtype=fnp.float32), np.array([1.0, 2.0], np.float32), F32)
    assert_same(fnp.zeros((2, 3)), np.zeros((2, 3)), F64)
    assert_same(fnp.ones(3, fnp.float32), np.ones(3, np.float32), F32)
    assert_same(fnp.full((2,), 7.0), np.full((2,), 7.0), F64)
    assert fnp.empty((2, 3)).shape == (2, 3) and fnp.empty(2, fnp.float32).dtype == np.float32
    assert_same(fnp.arange(5), np.arange(5), F64)
    assert_same(fnp.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25), F64)
    assert_same(fnp.linspace(0, 1, 5), np.linspace(0, 1, 5), F64)
    assert_same(fnp.eye(3, 2), np.eye(3, 2), F64)
    assert_same(fnp.identity(3), np.identity(3), F64)
    assert_same(fnp.tri(3), np.tri(3), F64)
    assert fnp.tril_indices is np.tril_indices and fnp.triu_indices is np.triu_indices
    # concrete indices select a traced value's triangle (differentiable through indexing)
    m = RNG_TRI.standard_normal((3, 3))
    g = ft.grad(lambda m: fnp.sum(m[fnp.triu_indices(3, 1)] ** 2))(m)
    np.testing.assert_allclose(g, 2 * np.triu(m, 1))
    np.testing.assert_allclose(ft.vmap(lambda m: m[fnp.tril_indices(3)])(np.stack([m, 2 * m])),
                               [m[np.tril_indices(3)], 2 * m[np.tril_indices(3)]])
    for a, b in zip(fnp.meshgrid(np.arange(2.0), np.arange(3.0)),
                    np.meshgrid(np.arange(2.0), np.arange(3.0))):
        assert_same(a, b, F64)


def test_dtypes_and_constants_are_numpy():
    for name in ("bool_", "complex64", "complex128", "float16", "float32", "float64", "int8",
                 "int16", "int32", "int64", "intp", "uint8", "dtype", "ndarray"):
        assert getattr(fnp, name) is getattr(np, name)
    assert fnp.pi == np.pi and fnp.e == np.e and fnp.inf == np.inf and np.isnan(fnp.nan)
    assert fnp.newaxis is None
    assert fnp.dtype("float32") == np.float32


def test_shape_queries_on_traced_values():
    def f(x):
        assert fnp.shape(x) == (2, 3) and fnp.ndim(x) == 2 and fnp.size(x) == 6
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6
        return fnp.sum(x)
    ft.grad(f)(np.ones((2, 3)))
    ft.vmap(f)(np.ones((4, 2, 3)))
    ft.jvp(f, (np.ones((2, 3)),), (np.ones((2, 3)),))
    assert fnp.shape(3.0) == () and fnp.ndim(np.ones((1, 2))) == 2 and fnp.size(np.ones(4)) == 4


def test_normalize_axis():
    assert fnp.normalize_axis(-1, 3) == 2 and fnp.normalize_axis(0, 1) == 0
    with pytest.raises(ValueError, match="axis"):
        fnp.normalize_axis(3, 3)


def test_nonzero_and_one_argument_where():
    x = np.array([[0.0, 1.0], [2.0, 0.0]])
    for got in (fnp.nonzero(x), fnp.where(x)):
        for a, b in zip(got, np.nonzero(x)):
            np.testing.assert_array_equal(a, b)
    # under grad the value is concrete: nonzero works and indexing with it is differentiable
    g = ft.grad(lambda x: fnp.sum(x[fnp.nonzero(x)] ** 2))(x)
    np.testing.assert_array_equal(g, 2 * x)
    with pytest.raises(ConcretizationError):
        ft.vmap(fnp.nonzero)(x)


# ---------------------------------------------------------------------------------------
# Coverage: rules for every primitive, a row for every primitive and every public name.

ALL_PRIMITIVES = {name: p for name, p in vars(primitives).items() if isinstance(p, core.Primitive)}

# Public names of functrans.numpy that are not numeric functions of arrays, and why.
NOT_NUMERIC = {
    # dtypes, NumPy's own objects re-exported (test_dtypes_and_constants_are_numpy)
    "bool_", "complex64", "complex128", "float16", "float32", "float64", "int8", "int16",
    "int32", "int64", "intp", "uint8", "dtype", "ndarray",
    # constants (test_dtypes_and_constants_are_numpy)
    "e", "pi", "inf", "nan", "newaxis",
    # creation from shapes/values: plain NumPy, nothing to differentiate
    # (test_creation_functions_are_numpy)
    "zeros", "ones", "empty", "arange", "eye", "identity", "tri", "tril_indices", "triu_indices",
    # uninitialised values (test_like_functions_give_plain_arrays)
    "empty_like",
    # shape queries return Python ints (test_shape_queries_on_traced_values)
    "ndim", "shape", "size", "normalize_axis",
    # results whose size depends on the values: concrete values only, not under vmap
    # (test_nonzero_and_one_argument_where; test_numpy_interop's
    # test_value_dependent_shapes_need_concrete_values, which differentiates unique too)
    "nonzero", "flatnonzero", "argwhere", "unique",
    # the linalg submodule: its functions (norm) have rows of their own
    "linalg",
}


def test_every_primitive_has_its_rules():
    missing = []
    for name, p in ALL_PRIMITIVES.items():
        if p not in batching.batch_rules:
            missing.append(f"{name}: batching rule")
        if p.differentiable:
            if p not in forward.jvp_rules:
                missing.append(f"{name}: jvp rule")
            if p not in reverse.vjp_rules:
                missing.append(f"{name}: vjp rule")
    assert not missing, missing


class _Recorder(core.Trace):
    """A pass-through interpreter that notes every primitive bound through it."""

    def __init__(self, parent, seen):
        super().__init__(parent, "record")
        self.seen = seen

    def process(self, prim, args, params):
        self.seen.add(prim)
        return self.parent.process(prim, args, params)


def primitives_used(r: OpRecord) -> set:
    seen: set = set()
    shapes = r.shape_cases()[0]
    args = make_args(r, shapes, F64)
    core.trace_call(_Recorder(core.current_trace(), seen), r.fun, args)
    return seen


def test_every_primitive_has_a_row():
    """Differentiable primitives are used by a differentiable row (so check_grads covers
    their jvp and vjp to second order); every primitive by some row (value, batching)."""
    used_diff, used_any = set(), set()
    for r in RECORDS:
        seen = primitives_used(r)
        used_any |= seen
        if r.diff:
            used_diff |= seen
    missing = [name for name, p in ALL_PRIMITIVES.items()
               if p not in (used_diff if p.differentiable else used_any)]
    assert not missing, f"primitives without a row in the table: {missing}"


def test_every_public_numpy_name_has_a_row():
    public = set(fnp.__all__)
    covered = {n for r in RECORDS for n in r.names if not n.startswith("linalg.")}
    missing = sorted(public - covered - NOT_NUMERIC)
    assert not missing, f"functrans.numpy names without a row (or a reason in NOT_NUMERIC): {missing}"
    stale = sorted((covered | NOT_NUMERIC) - public)
    assert not stale, f"names in the table that functrans.numpy does not export: {stale}"
    linalg_covered = {n[len("linalg."):] for r in RECORDS for n in r.names if n.startswith("linalg.")}
    from test_linalg import COVERED as covered_in_test_linalg
    missing = sorted(set(fnp.linalg.__all__) - linalg_covered - covered_in_test_linalg)
    assert not missing, f"functrans.numpy.linalg names without a row: {missing}"


# ---------------------------------------------------------------------------------------
# Eval-level shortcuts of the cotangent helpers: the same values, dtypes and shapes as the
# NumPy operations they stand for, on every path.

def _unbroadcast_reference(ct: Any, shape: tuple, dtype: Any) -> np.ndarray:
    """Sum ``ct`` over its extra leading axes and the axes ``shape`` has as 1, as NumPy would."""
    ct = np.asarray(ct)
    lead = ct.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1)
    out = np.sum(ct, axis=axes).reshape(shape) if axes else ct.reshape(shape)
    if out.dtype != dtype and dtype.kind in "fc":
        out = (out.real if dtype.kind == "f" else out).astype(dtype)
    return out


@pytest.mark.parametrize("ct_shape, x_shape", [
    ((2, 3), (3,)), ((4, 2, 3), (3,)), ((4, 2, 3), (2, 3)), ((2, 3), (1, 3)), ((2, 3), (2, 1)),
    ((5, 2, 3), (1, 3)), ((2, 3), ()), ((3,), (1,)), ((2, 3), (2, 3)), ((1, 3), (1, 3)),
    ((2, 1, 3), (1, 1, 3)), ((2, 1, 3), (3,))])
@pytest.mark.parametrize("ct_dtype, x_dtype", [(F32, F32), (F64, F32), (F32, F64),
                                               (np.complex128, F64), (np.complex64, np.complex64)])
def test_unbroadcast_sums_broadcast_axes(ct_shape, x_shape, ct_dtype, x_dtype):
    rng = np.random.default_rng(zlib.crc32(repr((ct_shape, x_shape)).encode()))
    ct = rng.standard_normal(ct_shape).astype(ct_dtype)
    if np.dtype(ct_dtype).kind == "c":
        ct = ct + 1j * rng.standard_normal(ct_shape).astype(ct_dtype)
    x = np.zeros(x_shape, x_dtype)
    want = _unbroadcast_reference(ct, x_shape, np.dtype(x_dtype))
    for like in (x, core.Aval(x.shape, x.dtype)):
        got = primitives.unbroadcast(ct, like)
        assert type(got) is np.ndarray or np.isscalar(got)
        assert np.shape(got) == x_shape and np.asarray(got).dtype == x_dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_unbroadcast_of_numbers_and_traced_cotangents():
    assert primitives.unbroadcast(np.float32(2.0), np.float32(1.0)) == np.float32(2.0)
    got = primitives.unbroadcast(np.ones((2, 3)), 1.0)      # a Python number: float64, shape ()
    assert np.shape(got) == () and float(got) == 6.0
    # traced cotangents (the backward pass of grad(grad)): the bias gradient's gradient
    w = np.arange(6.0).reshape(2, 3) / 10
    f = lambda b: fnp.sum(fnp.tanh(w + b) ** 2)
    gg = ft.grad(lambda b: fnp.sum(ft.grad(f)(b) ** 2))(np.array([0.1, -0.2, 0.3]))
    h = 1e-6
    fd = [(np.sum(ft.grad(f)(np.array([0.1, -0.2, 0.3]) + h * e) ** 2)
           - np.sum(ft.grad(f)(np.array([0.1, -0.2, 0.3]) - h * e) ** 2)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(gg, fd, rtol=1e-5)


@pytest.mark.parametrize("shape, axes", [
    ((2, 3), (0,)), ((2, 3), (1,)), ((2, 3), (0, 1)), ((4, 2, 3), (0, 1)), ((4, 2, 3), (1, 2)),
    ((4, 2, 3), (1,)), ((4, 2, 3), (0, 2)), ((128, 40), (0,)), ((128, 40), (1,)), ((5,), (0,)),
    ((64, 2, 40), (0, 1)), ((64, 2, 40), (1, 2)), ((64, 2, 40), (0, 1, 2)), ((3, 0), (1,)),
    ((0, 3), (1,)), ((5000, 0), (0,)), ((16, 3), (0,)), ((32, 2, 3), (0, 1)), ((20,), (0,)),
    ((20, 0), (0,)), ((15, 4), (0,))])
@pytest.mark.parametrize("dtype", [F32, F64, np.float16, np.int32])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_impl_matches_numpy(shape, axes, dtype, keepdims):
    x = (np.arange(math.prod(shape)) % 7 - 3).astype(dtype).reshape(shape)
    for a in (x, np.asfortranarray(x), x[..., ::-1]):
        got = primitives._sum_impl(a, axes, keepdims)
        want = np.sum(a, axis=axes, keepdims=keepdims)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)     # small integers: exact in every dtype


def test_sum_impl_plans_follow_the_dtype():
    """The cached plan of a shape is not reused for another dtype (its row of ones)."""
    for dtype in (F32, F64, F32):
        x = np.full((128, 40), 0.5, dtype)
        for axes in ((0,), (1,)):
            got = primitives._sum_impl(x, axes, False)
            assert got.dtype == dtype and got.shape == (40 if axes == (0,) else 128,)
            np.testing.assert_array_equal(got, np.full(got.shape, 0.5 * x.shape[axes[0]], dtype))


def _band_cases():
    rng = np.random.default_rng(3)
    d = rng.standard_normal(40)
    d[::7] = 0.0                                   # zeros on the diagonal too
    rows = np.zeros((40, 90))
    rows[np.arange(40), 50 + np.arange(40)] = 1.0  # a block of identity rows at offset 50
    shifted = np.diag(np.ones(39), 1)[:40, :40]    # a band at offset 1: the dense product
    dense = rng.standard_normal((40, 40))
    return [np.eye(40), np.diag(d), rows, rows.T.copy(), shifted, dense, np.eye(40, dtype=F32)]


@pytest.mark.parametrize("k", range(7))
def test_matmul_impl_of_bands_equals_the_product(k):
    """Banded factors (Jacobian bases) are scaled, not multiplied: the same values and dtype,
    with NaN and inf still propagated as the dense product does."""
    m = _band_cases()[k]
    other = np.random.default_rng(k).standard_normal((m.shape[1], 40)).astype(F32)
    left = np.random.default_rng(k).standard_normal((40, m.shape[0]))
    for a, b in ((m, other), (left, m), (m, np.where(other > 1, np.nan, other))):
        got, want = primitives._matmul_impl(a, b), np.matmul(a, b)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_array_at_traced_matrix_gradient():
    """``array @ t`` reaches the tracer's ``__array_ufunc__``: d sum(x @ w) / dw = x^T 1."""
    x = np.arange(12.0).reshape(4, 3)
    g = ft.grad(lambda w: fnp.sum(np.tanh(x @ w)))(np.full((3, 2), 0.01))
    np.testing.assert_allclose(g, x.T @ (1 - np.tanh(x @ np.full((3, 2), 0.01)) ** 2), rtol=1e-12)


def test_matrix_cotangents_keep_the_input_dtypes():
    """2-D matmul's rule (a cheaper transpose at eval level) keeps each input's dtype."""
    a = np.arange(6.0, dtype=F32).reshape(2, 3) / 10
    b = np.arange(12.0).reshape(3, 4) / 10              # float64
    ga, gb = ft.grad(lambda a, b: fnp.sum(fnp.tanh(a @ b)), argnums=(0, 1))(a, b)
    d = 1 - np.tanh(a.astype(F64) @ b) ** 2
    assert ga.dtype == F32 and gb.dtype == F64
    np.testing.assert_allclose(ga, d @ b.T, rtol=1e-6)
    np.testing.assert_allclose(gb, a.astype(F64).T @ d, rtol=1e-6)
    assert np.array_equal(primitives._matrix_transpose(b), b.T)


@pytest.mark.parametrize("zero_d", [np.float64(2.0), np.array(2.0), 2.0])
def test_matmul_of_a_0d_operand_raises(zero_d):
    """Under a transform, on traced values, arrays and lists alike (as NumPy, which raises too)."""
    m = np.ones((2, 2))
    for f in (lambda m: fnp.matmul(m, zero_d), lambda m: fnp.matmul(zero_d, m),
              lambda m: fnp.matmul(m, ft.stop_gradient(m)) + fnp.matmul([[1.0, 2.0]], zero_d)):
        with pytest.raises(ValueError, match="matmul: input operand does not have enough"):
            ft.grad(lambda m: fnp.sum(f(m)))(m)
