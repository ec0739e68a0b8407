"""Issue 5: the eval fast path of every exported ``functrans.numpy`` function against NumPy.

With no transform running, ``fnp.f(args)`` must cost at most 1.5× ``np.f(args)`` on small
arrays (3 elements, 3×3): the table below is one call per name. Both sides make the same call
on the same argument objects, spelt out in the timing loop (no lambda, no argument unpacking:
only the call itself is timed); samples of both sides alternate, and each side's time is its
fastest sample of process CPU time, since on a shared machine other processes only ever make
a sub-microsecond call slower. Add a name by adding a row to ``CALLS``; names without a row are
printed.

    python benchmarks/bench_numpy.py [--quick] [--json out.json] [--only=name,name] [--clock wall]
"""

from __future__ import annotations

import _harness  # noqa: F401  (pins BLAS threads; must precede numpy)
from _harness import Report

import sys

import numpy as np

import functrans.numpy as fnp

v = np.array([0.1, 0.7, -0.4])
w = np.array([0.5, -0.2, 0.3])
pos = np.array([0.5, 1.5, 2.5])
m = np.arange(9.0).reshape(3, 3) / 10 - 0.3
spd = m @ m.T + np.eye(3)
mask = v > 0
ints = np.array([3, 0, 2])
mask33 = m > 0
m_mean = m.mean(axis=1, keepdims=True)
put_into, put_at = m.copy(), np.array([[2], [0], [1]])

# name -> (positional args, keyword args); the name is called in both modules.
UNARY = ("sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arctanh exp exp2 expm1 "
         "log1p sqrt cbrt abs absolute fabs negative positive square reciprocal sign floor ceil "
         "trunc rint fix round around isfinite isnan isinf isposinf isneginf signbit conj "
         "conjugate real imag angle sinc deg2rad rad2deg degrees radians nan_to_num isreal "
         "iscomplex modf logical_not ravel transpose atleast_1d squeeze asarray array zeros_like "
         "ones_like empty_like").split()
BINARY = ("add subtract multiply divide true_divide power arctan2 hypot logaddexp logaddexp2 "
          "maximum minimum fmax fmin copysign heaviside float_power remainder mod fmod "
          "floor_divide divmod equal not_equal less less_equal greater greater_equal logical_and "
          "logical_or logical_xor isclose allclose").split()
REDUCTIONS = ("sum mean var std max min amax amin ptp prod argmax argmin all any count_nonzero "
              "cumsum cumprod average nansum nanprod nanmean nanvar nanstd nanmax nanmin nanargmax "
              "nanargmin nancumsum nancumprod median nanmedian").split()

CALLS: dict[str, tuple] = {}
CALLS.update({n: ((v,), {}) for n in UNARY})
CALLS.update({n: ((pos,), {}) for n in ("log", "log2", "log10", "arccosh")})
CALLS["arccosh"] = ((pos + 1,), {})
CALLS.update({n: ((v, w), {}) for n in BINARY})
CALLS.update({n: ((m,), {}) for n in REDUCTIONS})
CALLS.update({f"{n}(axis=0)": ((m,), {"axis": 0}) for n in ("sum", "mean", "max", "cumsum", "median")})
CALLS.update({
    "sigmoid": None,                        # NumPy has no sigmoid
    "bitwise_and": ((mask, ~mask), {}), "bitwise_or": ((mask, ~mask), {}),
    "bitwise_xor": ((ints, ints), {}), "invert": ((ints,), {}), "bitwise_not": ((ints,), {}),
    "clip": ((v, -0.2, 0.2), {}), "ldexp": ((v, ints), {}), "where": ((mask, v, w), {}),
    "quantile": ((m, 0.3), {}), "percentile": ((m, 30.0), {}),
    "nanquantile": ((m, 0.3), {}), "nanpercentile": ((m, 30.0), {}),
    # NumPy's put_along_axis writes into its own array (and returns None); fnp's returns a new one
    "put_along_axis": ((put_into, put_at, 9.0, 1), {}),
    "var(mean=,correction=)": ((m,), {"axis": 1, "mean": m_mean, "correction": 1}),
    "std(correction=)": ((m,), {"correction": 1}),
    "nansum(where=)": ((m,), {"where": mask33}), "nanmean(where=)": ((m,), {"where": mask33}),
    "nanmax(where=,initial=)": ((m,), {"where": mask33, "initial": -1.0}),
    "nanvar(where=)": ((m,), {"where": mask33}),
    "full_like": ((v, 2.0), {}), "astype": None,
    "zeros": (((3, 3),), {}), "ones": (((3, 3),), {}), "empty": (((3, 3),), {}),
    "full": (((3, 3), 2.0), {}), "arange": ((3,), {}), "linspace": ((0.0, 1.0, 3), {}),
    "logspace": ((0.0, 1.0, 3), {}), "geomspace": ((1.0, 8.0, 3), {}), "eye": ((3,), {}),
    "identity": ((3,), {}), "tri": ((3,), {}), "meshgrid": ((v, w), {}),
    "reshape": ((m, (9,)), {}), "moveaxis": ((m, 0, 1), {}), "swapaxes": ((m, 0, 1), {}),
    "broadcast_to": ((v, (3, 3)), {}), "broadcast_arrays": ((v, m), {}),
    "expand_dims": ((v, 0), {}), "concatenate": (([v, w],), {}), "stack": (([v, w],), {}),
    "hstack": (([v, w],), {}), "vstack": (([v, w],), {}), "nonzero": ((v,), {}),
    "matmul": ((m, m), {}), "dot": ((m, v), {}), "tensordot": ((m, m), {}), "outer": ((v, w), {}),
    "inner": ((v, w), {}), "vdot": ((v, w), {}), "einsum": (("ij,jk->ik", m, m), {}),
    "trace": ((m,), {}), "ndim": ((m,), {}), "shape": ((m,), {}), "size": ((m,), {}),
})
CALLS["astype"] = None                       # a method in NumPy: ``np.astype`` is 2.1+ only
LINALG = {"solve": ((spd, v), {}), "inv": ((spd,), {}), "det": ((spd,), {}),
          "slogdet": ((spd,), {}), "cholesky": ((spd,), {}), "eigh": ((spd,), {}),
          "eigvalsh": ((spd,), {}), "eigvals": ((m,), {}), "svd": ((m,), {}), "qr": ((m,), {}),
          "norm": ((v,), {})}

NOT_FUNCTIONS = {"linalg", "normalize_axis", "getitem"}


def exported() -> list[str]:
    return sorted(n for n in dir(fnp) if not n.startswith("_") and callable(getattr(fnp, n))
                  and not isinstance(getattr(fnp, n), type) and hasattr(np, n.split("(")[0])
                  or n in CALLS)


CALLS_PER_SAMPLE = 100


def calls(f: object, args: tuple, kwargs: dict, n: int = CALLS_PER_SAMPLE) -> object:
    """A function making ``n`` calls ``f(a0, a1, key=k0)``, written out in its code with the
    arguments bound as globals: the loop adds the same few nanoseconds to both sides."""
    names = [f"a{i}" for i in range(len(args))] + [f"{k}=k{i}" for i, k in enumerate(kwargs)]
    ns = {"f": f, "calls": range(n), **{f"a{i}": a for i, a in enumerate(args)},
          **{f"k{i}": v for i, v in enumerate(kwargs.values())}}
    exec(f"def run():\n    for _ in calls:\n        f({', '.join(names)})\n", ns)
    return ns["run"]


def cases() -> list[tuple[str, object, object]]:
    out = []
    for label, spec in CALLS.items():
        name = label.split("(")[0]
        if spec is None or not hasattr(fnp, name) or not hasattr(np, name):
            continue
        args, kwargs = spec
        out.append((label, calls(getattr(fnp, name), args, kwargs),
                    calls(getattr(np, name), args, kwargs)))
    for name, (args, kwargs) in LINALG.items():
        if hasattr(fnp.linalg, name):
            out.append((f"linalg.{name}", calls(getattr(fnp.linalg, name), args, kwargs),
                        calls(getattr(np.linalg, name), args, kwargs)))
    return out


def _identity(a: object) -> object:
    return a


def main() -> None:
    rep = Report("numpy: eval fast path vs NumPy (3 elements / 3×3)", clock="cpu")
    if not rep.args.repeat:        # many short samples: the fastest is what is reported
        rep.repeat, rep.min_time = (5, 0.004) if rep.quick else (15, 0.01)
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
    for label, f_ft, f_np in cases():
        if only and label.split("(")[0] not in only:
            continue
        t = rep.compare({"ft": f_ft, "np": f_np}, stat="min")
        rep.ratio(label, t["ft"] / CALLS_PER_SAMPLE, t["np"] / CALLS_PER_SAMPLE, target=1.5)
    floor = rep.compare({"identity": calls(_identity, (v,), {}), "np": calls(np.asarray, (v,), {})},
                        stat="min")
    rep.note(f"the floor of any Python function: `def f(a): return a` takes "
             f"{floor['identity'] / CALLS_PER_SAMPLE * 1e9:.0f} ns, {floor['identity'] / floor['np']:.2f}× "
             f"np.asarray(v) of an array ({floor['np'] / CALLS_PER_SAMPLE * 1e9:.0f} ns)")
    public = {n for n in dir(fnp) if not n.startswith("_") and callable(getattr(fnp, n))
              and not isinstance(getattr(fnp, n), type)} - NOT_FUNCTIONS
    covered = {label.split("(")[0] for label, spec in CALLS.items() if spec is not None}
    without_numpy = sorted(n for n in public - covered if not hasattr(np, n))
    uncovered = sorted(n for n in public - covered if hasattr(np, n))
    missing_linalg = sorted(set(getattr(fnp.linalg, "__all__", [])) - set(LINALG))
    rep.note("not covered (no row in CALLS): " + (", ".join(uncovered + [f"linalg.{n}" for n in
                                                                         missing_linalg]) or "none"))
    rep.note("no NumPy counterpart to compare with: " + (", ".join(without_numpy) or "none")
             + "; sigmoid and astype (a method in NumPy) are skipped")
    worst = sorted(rep.rows, key=lambda r: -r["value"])[:5]
    rep.note("worst ratios: " + ", ".join(f"{r['case']} {r['value']:.2f}×" for r in worst))
    rep.finish()


if __name__ == "__main__":
    main()
