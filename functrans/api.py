"""The transforms users call: thin pytree shells around the flat interpreters.

Each transform flattens its arguments with :mod:`functrans.tree`, runs a flat interpreter
(:func:`~functrans.forward.jvp_flat`, :func:`~functrans.reverse.vjp_flat`,
:func:`~functrans.batching.vmap_flat`) and rebuilds the user's structure. Jacobian-shaped
transforms are vmaps over a basis of jvps or pullbacks, never Python loops.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union, cast

import functools
import math

import numpy as np

from . import primitives as P
from . import tree
from .batching import vmap_basis, vmap_flat
from .core import dtype_of, shape_of, trace_call
from .forward import jvp_flat
from .reverse import VJPTrace, backward, new_trace

Argnums = Union[int, Sequence[int]]

__all__ = ["grad", "value_and_grad", "value_and_pullback", "vjp", "jvp", "linearize", "vmap",
           "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "batch_jacobian",
           "stop_gradient", "with_gradient"]


# ---------------------------------------------------------------------------------------
# Argument handling shared by the transforms.

def _check_fun(fun: Any, name: str) -> None:
    """Transforms take a function: anything else is refused when the transform is made."""
    if not callable(fun):
        raise TypeError(f"{name}: expected a function (a callable) as `fun`, got "
                        f"{type(fun).__name__} {fun!r:.60}")


def _normalize_argnums(argnums: Argnums, nargs: int, name: str) -> tuple[int, ...]:
    if type(argnums) is int and 0 <= argnums < nargs:      # the most frequent call, checked
        return (argnums,)
    many = not isinstance(argnums, (int, np.integer))
    if many and not isinstance(argnums, (tuple, list)):
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
    nums = tuple(argnums) if many else (argnums,)  # type: ignore[arg-type]
    if many and not nums:
        raise ValueError(f"{name}: argnums must name at least one argument, got ()")
    out = []
    for i in nums:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -nargs <= i < nargs:
            raise ValueError(f"{name}: argnums {i} is out of range for a function called with "
                             f"{nargs} positional argument{'s' if nargs != 1 else ''}")
        if int(i) % nargs in out:   # two tracers for one argument: the second would hide the first
            raise ValueError(f"{name}: argnums must name each argument once, got {argnums!r}")
        out.append(int(i) % nargs)
    return tuple(out)


def _diff_input(x: Any, name: str, where: str) -> Any:
    """``x`` as an array, which must have a float or complex dtype to be differentiated."""
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        if isinstance(x, (bool, int, float, complex, list, tuple, np.generic)):
            x = np.asarray(x)
        else:
            raise TypeError(f"{name} can only differentiate with respect to arrays and numbers; "
                            f"{where} is a {type(x).__name__}")
    if dtype_of(x).kind not in "fc":
        # jvp, vjp and linearize differentiate every primal: there is no argnums to leave it out of
        other = ("close over it (e.g. functools.partial(fun, n)) instead of passing it as a primal"
                 if where.startswith("primals") else "leave it out of argnums")
        raise TypeError(f"{name} requires real- or complex-valued (float) inputs to differentiate; "
                        f"{where} has dtype {dtype_of(x)}. Convert it, e.g. x.astype(float), or "
                        f"{other}.")
    return x


def _split_args(fun: Callable[..., Any], args: tuple, kwargs: dict, argnums: tuple[int, ...]
                ) -> Callable[..., Any]:
    """``fun`` as a function of the arguments at ``argnums`` only, the others fixed."""
    def partial(*diff_args: Any) -> Any:
        return fun(*_placed(args, argnums, diff_args), **kwargs)
    return partial


def _placed(args: Sequence, nums: Sequence[int], values: Sequence) -> list:
    """``args`` as a list with ``values`` at the positions ``nums``."""
    full = list(args)
    for i, a in zip(nums, values):
        full[i] = a
    return full


def _flat_diff_args(args: Sequence, nums: Sequence[int], name: str,
                    label: str) -> tuple[list, list]:
    """The leaves of the arguments at ``nums`` checked for differentiation, and the
    structure of each (argument ``i`` is called ``label.format(i)`` in errors)."""
    if len(nums) == 1:                   # one argument (most grads): its leaves as they come
        flat, treedef = tree.flatten(args[nums[0]])
        trees = [treedef]
    else:
        flat, trees = [], []
        for i in nums:
            leaves, treedef = tree.flatten(args[i])
            flat += leaves
            trees.append(treedef)
    _check_diff_leaves(flat, trees, name, label, nums)
    return flat, trees


def _flat_diff_inputs(values: tuple, name: str, label: str,
                      nums: Sequence[int] | None = None) -> tuple[list, Any]:
    """The leaves of ``values`` checked for differentiation, and the structure of the tuple."""
    flat, treedef = tree.flatten(values)
    _check_diff_leaves(flat, treedef.children, name, label, nums)
    return flat, treedef


def _check_diff_leaves(flat: list, trees: Sequence[Any], name: str, label: str,
                       nums: Sequence[int] | None) -> None:
    """Make the leaves ``flat`` of values of structures ``trees`` arrays to differentiate, in
    place. Value ``i`` is called ``label.format(nums[i])`` in errors (``label.format(i)``
    without ``nums``): built only when an error needs it, so the common call costs no more."""
    for k, x in enumerate(flat):
        if type(x) is not np.ndarray or x.dtype.kind not in "fc":
            i, end = 0, trees[0].num_leaves
            while k >= end:
                i += 1
                end += trees[i].num_leaves
            flat[k] = _diff_input(x, name, label.format(i if nums is None else nums[i]))


def _unflatten_args(trees: list, leaves: list) -> list:
    """One value per structure of ``trees``, rebuilt from consecutive ``leaves``."""
    if len(trees) == 1:
        return [tree.unflatten(trees[0], leaves)]
    out, start = [], 0
    for treedef in trees:
        stop = start + treedef.num_leaves
        out.append(tree.unflatten(treedef, leaves[start:stop]))
        start = stop
    return out


def _split_aux(out: Any, has_aux: bool, name: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        got = f"a {type(out).__name__}"
        if hasattr(out, "shape"):
            got = f"an array of shape {tuple(shape_of(out))}"
        elif isinstance(out, (tuple, list)):
            got += f" of length {len(out)}"
        raise TypeError(f"{name} with has_aux=True needs the function to return a pair "
                        f"(output, aux), got {got}: return `value, aux`, or drop has_aux")
    return out[0], out[1]


def _primals_of(trace: VJPTrace, tree_: Any) -> Any:
    """``tree_`` with this trace's tracers replaced by their primal values (for aux)."""
    return tree.map(lambda x: x.primal if trace.slot_of(x) is not None else x, tree_)


def _as_array(x: Any) -> Any:
    """Derivatives come back as arrays, 0-d ones included (not NumPy scalars)."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def _owned(flat: list, given: Sequence[Any] = ()) -> list:
    """``flat``, derivatives about to be returned, with each array writable and sharing no
    memory with another nor with ``given`` (the caller's cotangents or tangents), in place.

    Rules may return read-only broadcasts, cached constants or one cotangent for several
    inputs, but users update gradients in place (as with autograd): only such arrays are
    copied. Tracers (a transform nested in another) are left alone.
    """
    ids: list = []      # distinct arrays owning their memory (most gradients) were computed
    for c in (*given, *flat) if given else flat:      # for this call: kept, ~0.1 µs each
        if type(c) is np.ndarray:
            i = id(c)
            if c.base is not None or i in ids:
                break
            ids.append(i)
    else:
        return flat
    owners: dict = {}        # id of the object owning the memory -> the arrays seen in it
    for c in given:
        if type(c) is np.ndarray:
            owners.setdefault(id(_memory_owner(c)), []).append(c)
    for k, c in enumerate(flat):
        if type(c) is np.ndarray:
            seen = owners.setdefault(id(_memory_owner(c)), [])
            if not c.flags.writeable or _overlaps(c, seen):
                flat[k] = c = c.copy()
                seen = owners[id(c)] = []
            seen.append(c)
    return flat


def _overlaps(x: np.ndarray, others: list) -> bool:
    """Whether ``x`` may share memory with one of ``others`` (a loop, not ``any`` of a
    generator, which would make ``x`` a cell in :func:`_owned`)."""
    for o in others:
        if np.may_share_memory(x, o):
            return True
    return False


def _memory_owner(x: np.ndarray) -> Any:
    """The object owning ``x``'s memory: arrays sharing memory have the same one."""
    while isinstance(x, np.ndarray) and x.base is not None:
        x = x.base
    return x


def _owned_tree(t: Any) -> Any:
    """The pytree ``t`` of derivatives with its leaves :func:`_owned`."""
    flat, treedef = tree.flatten(t)
    return tree.unflatten(treedef, _owned(flat))


# ---------------------------------------------------------------------------------------
# Reverse mode.

class _Reverse:
    """The state of one reverse-mode trace of ``fun(*args, **kwargs)`` in the arguments at
    ``nums``: outputs, slots and the structure of each of those arguments."""

    __slots__ = ("in_trees", "in_flat", "trace", "out_tree", "out_slots", "out", "out_flat", "aux")

    def __init__(self, fun: Callable[..., Any], args: tuple, kwargs: dict, nums: Sequence[int],
                 has_aux: bool, name: str, label: str):
        flat, in_trees = _flat_diff_args(args, nums, name, label)
        self.in_flat, self.in_trees = flat, in_trees
        trace, tracers = new_trace(flat, name)
        full = _placed(args, nums, _unflatten_args(in_trees, tracers))
        out = trace_call(trace, functools.partial(fun, **kwargs) if kwargs else fun, full)
        self.trace = trace
        if has_aux:
            out, aux = _split_aux(out, True, name)
        slot = trace.slot_of(out)
        if slot is not None:        # one traced output (every grad): no structure to walk
            self.out_tree = tree.LEAF
            self.out_slots: list[int | None] = [slot]
            self.out = out.primal
            self.out_flat = [self.out]
        else:
            out_flat, self.out_tree = tree.flatten(out)
            # loops, not comprehensions: those would make trace a cell in every call
            self.out_slots = out_slots = []
            for o in out_flat:
                out_slots.append(trace.slot_of(o))
            self.out_flat = [o if s is None else o.primal for o, s in zip(out_flat, out_slots)]
            self.out = tree.unflatten(self.out_tree, self.out_flat)
        self.aux = _primals_of(trace, aux) if has_aux else None

    def input_cotangents(self, cts: list, consume: bool, given: Sequence[Any] = ()) -> list:
        """The cotangents of the inputs for those ``cts`` of the outputs, finished to return
        (``given``: the caller's own arrays, which they must not share memory with)."""
        in_flat = self.in_flat
        in_cts = backward(self.trace, self.out_slots, cts, range(len(in_flat)), consume)
        for k, c in enumerate(in_cts):      # in place: in_cts is backward's new list
            x = in_flat[k]
            # An array that already has its input's shape and dtype (most) skips the call.
            if not (type(c) is np.ndarray and type(x) is np.ndarray and c.shape == x.shape
                    and c.dtype == x.dtype):
                in_cts[k] = _input_cotangent(c, x)
        return _owned(in_cts, given)


def _input_cotangent(ct: Any, x: Any) -> Any:
    """The cotangent ``ct`` of the input ``x`` as an array of its shape and dtype (zeros for
    ``None``)."""
    if ct is None and type(x) is np.ndarray:
        return np.zeros(x.shape, x.dtype)     # ~2x cheaper than np.zeros_like
    return _as_array(P.zeros_like(x) if ct is None else P.unbroadcast(ct, x))


def value_and_pullback(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """Evaluate ``fun(*primals)`` and return its output with the pullback (vector-Jacobian product).

    ``pullback(cotangent)`` takes a cotangent shaped like the output and returns a tuple with
    one cotangent per primal. The pullback may be called any number of times; its tape is
    freed when it is dropped.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> out, pullback = ft.value_and_pullback(lambda x, y: x * y, 2.0, 3.0)
        >>> float(out), pullback(1.0)
        (6.0, (array(3.), array(2.)))
    """
    _check_fun(fun, "vjp")
    rev = _Reverse(fun, primals, {}, range(len(primals)), has_aux, "vjp", "primals[{}]")
    out_shapes = [shape_of(o) for o in rev.out_flat]
    out_dtypes = [dtype_of(o) for o in rev.out_flat]

    def pullback(cotangent: Any) -> tuple:
        ct_flat = tree.flatten_as(rev.out_tree, cotangent, "pullback: the cotangent")
        for k, (c, s, d) in enumerate(zip(ct_flat, out_shapes, out_dtypes)):
            if tuple(shape_of(c)) != tuple(s):
                raise ValueError(f"pullback: the cotangent must have the output's shapes; output "
                                 f"leaf {k} has shape {tuple(s)}, got a cotangent of shape "
                                 f"{tuple(shape_of(c))}")
            if dtype_of(c) != d and d.kind in "fc":
                ct_flat[k] = _in_dtype(c, d, lambda: f"pullback: output leaf {k}", "cotangent")
        in_cts = rev.input_cotangents(ct_flat, consume=False, given=ct_flat)
        return tuple(_unflatten_args(rev.in_trees, in_cts))

    if has_aux:
        return rev.out, pullback, rev.aux
    return rev.out, pullback


vjp = value_and_pullback


def _in_dtype(v: Any, dtype: np.dtype, where: Callable[[], str], noun: str) -> Any:
    """A ``noun`` (tangent or cotangent) ``v`` of another dtype than ``dtype``, that of its
    primal or output (``where()`` names it, built only for the error), converted: a Python
    number, an array of another precision or of integers (as autograd accepts them; the
    derivative keeps ``dtype``'s precision). A complex one for a real ``dtype`` is refused:
    its imaginary part would be dropped silently."""
    if dtype_of(v).kind == "c" and dtype.kind != "c":
        short = "ct" if noun == "cotangent" else "t"
        raise TypeError(f"{where()} has real dtype {dtype}, got a complex {noun} of dtype "
                        f"{dtype_of(v)}: pass its real part (`{short}.real`), or make it complex")
    return np.asarray(v, dtype=dtype) if type(v) in (int, float, bool) else P.convert_element_type(v, dtype)


def value_and_grad(fun: Callable[..., Any], argnums: Argnums = 0,
                   has_aux: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """A function returning ``(fun(*args), gradient)`` (or ``((value, aux), gradient)``).

    Complex inputs follow JAX: for a real ``fun`` the gradient is ``df/dx - i df/dy`` (so
    ``-conj(gradient)`` is the steepest-descent direction); with ``holomorphic=True`` a
    complex ``fun`` of complex inputs gives its complex derivative ``f'(z)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> value, g = ft.value_and_grad(lambda x: fnp.sum(x ** 2))(fnp.array([1.0, 2.0]))
        >>> float(value), g
        (5.0, array([2., 4.]))
    """
    _check_fun(fun, "value_and_grad")
    run = _grad_runner(fun, argnums, has_aux, holomorphic)

    def value_and_grad_fun(*args: Any, **kwargs: Any) -> Any:
        return run(args, kwargs)
    return value_and_grad_fun


_seeds: dict = {}     # a 0-d one per dtype, copied for each backward pass (rules may write to it)


def _grad_runner(fun: Callable[..., Any], argnums: Argnums, has_aux: bool,
                 holomorphic: bool) -> Callable[[tuple, dict], tuple]:
    """The body of :func:`value_and_grad` and :func:`grad`: ``run(args, kwargs)`` returns
    ``(value, gradient)``."""
    one = isinstance(argnums, (int, np.integer))     # the gradient of that argument, not a tuple
    first = (argnums,) if type(argnums) is int and argnums >= 0 else None  # valid if < len(args)

    def run(args: tuple, kwargs: dict) -> tuple:
        nums = (first if first is not None and argnums < len(args)  # type: ignore[operator]
                else _normalize_argnums(argnums, len(args), "grad"))
        rev = _Reverse(fun, args, kwargs, nums, has_aux, "grad", "argument {}")
        out_flat = rev.out_flat
        if len(out_flat) != 1 or shape_of(out_flat[0]) != ():
            got = (f"shape {tuple(shape_of(out_flat[0]))}" if len(out_flat) == 1
                   else f"a pytree of {len(out_flat)} leaves")
            raise TypeError(f"grad requires a scalar output (shape ()), got {got}. Use "
                            f"ft.jacrev or ft.value_and_pullback for non-scalar outputs.")
        value = out_flat[0]
        dtype = dtype_of(value)
        if holomorphic:
            _check_holomorphic(rev.in_flat, value, "grad")
        elif dtype.kind != "f":
            raise TypeError(f"grad requires a real floating-point output, got dtype "
                            f"{dtype}; pass holomorphic=True for a holomorphic function "
                            f"of complex inputs, or use ft.value_and_pullback")
        seed = _seeds.get(dtype)
        if seed is None:
            seed = _seeds[dtype] = np.array(1, dtype=dtype)
        in_cts = rev.input_cotangents([seed.copy()], consume=True)
        if one:
            g = tree.unflatten(rev.in_trees[0], in_cts)
        else:
            g = tuple(_unflatten_args(rev.in_trees, in_cts))
        return ((rev.out, rev.aux) if has_aux else rev.out), g
    return run


def grad(fun: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``fun`` with respect to the argument(s) at ``argnums``.

    With ``holomorphic=True``, the complex derivative of a holomorphic ``fun``
    (see :func:`value_and_grad`).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> float(ft.grad(fnp.sin)(0.0))
        1.0
        >>> float(ft.grad(ft.grad(ft.grad(lambda x: x ** 4)))(1.0))
        24.0
        >>> complex(ft.grad(lambda z: z ** 2, holomorphic=True)(1 + 1j))
        (2+2j)
    """
    _check_fun(fun, "grad")
    run = _grad_runner(fun, argnums, has_aux, holomorphic)

    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        value, g = run(args, kwargs)
        return (g, value[1]) if has_aux else g      # value is (out, aux) with has_aux
    return grad_fun


def _check_holomorphic(inputs: Sequence[Any], out: Any, name: str) -> None:
    """``holomorphic=True`` needs complex inputs and a complex output (as in JAX); ``out`` is
    ``None`` where only the inputs are known."""
    for k, x in enumerate(inputs):
        if dtype_of(x).kind != "c":
            raise TypeError(f"{name} with holomorphic=True requires complex inputs; input leaf {k} "
                            f"has dtype {dtype_of(x)}. Convert it, e.g. x.astype(complex)")
    if out is not None and dtype_of(out).kind != "c":
        raise TypeError(f"{name} with holomorphic=True requires a complex output, got dtype "
                        f"{dtype_of(out)}")


# ---------------------------------------------------------------------------------------
# Forward mode.

def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        has_aux: bool = False) -> Any:
    """``(fun(*primals), J @ tangents)``: the Jacobian-vector product, in one forward pass.

    With ``has_aux=True``, ``fun`` returns ``(out, aux)`` and the result is
    ``(out, tangent_out, aux)``, ``aux`` with primal values (as in JAX).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> out, tangent = ft.jvp(fnp.sin, (0.0,), (2.0,))
        >>> float(out), tangent
        (0.0, array(2.))
    """
    _check_fun(fun, "jvp")
    return _jvp(fun, primals, tangents, has_aux, "jvp")


def _jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool,
         name: str, flat: list | None = None, in_tree: Any = None) -> Any:
    """The body of :func:`jvp` (and of :func:`linearize`'s linear map: errors say ``name``);
    ``flat``, ``in_tree``: the primals already checked and flattened."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{name}: primals and tangents must be tuples (one entry per argument), "
                        f"got {type(primals).__name__} and {type(tangents).__name__}")
    if flat is None:
        flat, in_tree = _flat_diff_inputs(tuple(primals), name, "primals[{}]")
    t_flat = tree.flatten_as(in_tree, tuple(tangents), f"{name}: tangents (the structure of primals)")
    for k, (p, t) in enumerate(zip(flat, t_flat)):
        if tuple(shape_of(t)) != tuple(shape_of(p)):
            raise ValueError(f"{name}: each tangent must have its primal's shape; "
                             f"{_leaf_name(in_tree, k, 'primals')} has shape "
                             f"{tuple(shape_of(p))}, got a tangent of shape {tuple(shape_of(t))}")
        if dtype_of(t) != dtype_of(p):
            t_flat[k] = _in_dtype(t, dtype_of(p), lambda: f"{name}: {_leaf_name(in_tree, k, 'primals')}",
                                  "tangent")
    out, trace = jvp_flat(lambda *xs: fun(*tree.unflatten(in_tree, xs)), flat, list(t_flat))
    out, aux = _split_aux(out, has_aux, name)
    out_flat, out_tree = tree.flatten(out)
    pairs = [trace.unpack(o) for o in out_flat]
    primals_out = [p for p, _ in pairs]
    tangents_out = _owned([_as_array(P.zeros_like(p) if t is None else t) for p, t in pairs],
                          t_flat)
    out, tangent_out = tree.unflatten(out_tree, primals_out), tree.unflatten(out_tree, tangents_out)
    if has_aux:
        return out, tangent_out, tree.map(lambda a: trace.unpack(a)[0], aux)
    return out, tangent_out


def _leaf_name(treedef: Any, k: int, label: str) -> str:
    """Leaf ``k`` of the tuple ``treedef`` in errors: ``primals[1]``, or ``leaf 0 of primals[1]``
    where that argument is a pytree of several leaves (built only when an error needs it)."""
    end = 0
    for i, child in enumerate(treedef.children):
        if k < end + child.num_leaves:
            return f"{label}[{i}]" if child.num_leaves == 1 else f"leaf {k - end} of {label}[{i}]"
        end += child.num_leaves
    return f"{label} leaf {k}"


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the linear map ``t -> J t``.

    With ``has_aux=True``, ``fun`` returns ``(out, aux)`` and the result is
    ``(out, f_jvp, aux)``, ``aux`` with primal values (as in JAX).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> out, f_jvp = ft.linearize(fnp.exp, 0.0)
        >>> float(f_jvp(3.0))
        3.0
        >>> out, f_jvp, aux = ft.linearize(lambda x: (x ** 2, x + 1.0), 3.0, has_aux=True)
        >>> float(f_jvp(1.0)), float(aux)
        (6.0, 4.0)
    """
    _check_fun(fun, "linearize")
    flat, in_tree = _flat_diff_inputs(primals, "linearize", "primals[{}]")   # before fun runs
    out, aux = _split_aux(fun(*primals), has_aux, "linearize")
    main = (lambda *a: _split_aux(fun(*a), True, "linearize")[0]) if has_aux else fun

    def f_jvp(*tangents: Any) -> Any:
        return _jvp(main, primals, tangents, False, "linearize", list(flat), in_tree)[1]
    return (out, f_jvp, aux) if has_aux else (out, f_jvp)


# ---------------------------------------------------------------------------------------
# Batching.

def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0, *,
         axis_size: int | None = None, chunk_size: int | None = None) -> Callable[..., Any]:
    """Vectorise ``fun`` over an axis of its arguments (``in_axes``), stacking outputs on ``out_axes``.

    ``chunk_size`` maps that many examples at a time (bounded memory, same result).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.vmap(lambda x, y: x @ y, in_axes=(0, None))(fnp.ones((4, 3)), fnp.ones(3))
        array([3., 3., 3., 3.])
    """
    _check_fun(fun, "vmap")
    chunk_size = _check_chunk_size(chunk_size, "vmap")
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        axes_spec = tuple(in_axes) if isinstance(in_axes, list) else in_axes
        if isinstance(axes_spec, tuple) and len(axes_spec) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes_spec)} entries but the function was "
                             f"called with {len(args)} positional arguments")
        prefix = axes_spec if isinstance(axes_spec, tuple) else (axes_spec,) * len(args)
        # Keyword arguments are mapped over their axis 0, as in JAX.
        flat, in_tree = tree.flatten((args, kwargs))
        axes = tree.broadcast_prefix((prefix, 0), (args, kwargs), "vmap in_axes")
        arg_of = [i for i, a in enumerate(args) for _ in tree.leaves(a)] + [
            f"{k!r}" for k in sorted(kwargs) for _ in tree.leaves(kwargs[k])]
        dims: list[int | None] = []
        sizes: list[tuple[int | str, int, int]] = []
        for x, ax, i in zip(flat, axes, arg_of):
            if ax is None:
                dims.append(None)
                continue
            if not isinstance(ax, (int, np.integer)):
                raise TypeError(f"vmap: in_axes entries must be int or None, got {ax!r}")
            n = len(shape_of(x))
            if not -n <= ax < n:
                raise ValueError(f"vmap: in_axes {ax} is out of range for argument {i}, which has "
                                 f"rank {n} (shape {tuple(shape_of(x))})")
            dims.append(int(ax) % n)
            sizes.append((i, int(ax), shape_of(x)[int(ax) % n]))
        size = _axis_size(sizes, axis_size)
        step = size if chunk_size is None else chunk_size
        if step >= size:
            return _vmap_call(fun, flat, in_tree, dims, size, out_axes)

        def run(start: int, stop: int) -> tuple[list, Any, list]:
            sliced = [x if d is None else P.getitem(x, (slice(None),) * d + (slice(start, stop),))
                      for x, d in zip(flat, dims)]
            out = _vmap_call(fun, sliced, in_tree, dims, stop - start, out_axes)
            out_flat, out_tree = tree.flatten(out)
            o_axes = tree.broadcast_prefix(_prefix(out_axes), out, "vmap out_axes", "the outputs")
            return out_flat, out_tree, [None if a is None else int(a) % len(shape_of(o))
                                        for o, a in zip(out_flat, o_axes)]
        out_flat, out_tree = _run_chunks(run, size, step)
        return tree.unflatten(out_tree, out_flat)
    return vmapped


def _prefix(out_axes: Any) -> Any:
    return tuple(out_axes) if isinstance(out_axes, list) else out_axes


def _vmap_call(fun: Callable[..., Any], flat: list, in_tree: Any, dims: list, size: int,
               out_axes: Any) -> Any:
    def flat_fun(*xs: Any) -> Any:
        args, kwargs = tree.unflatten(in_tree, xs)
        return fun(*args, **kwargs)
    out, trace = vmap_flat(flat_fun, flat, dims, size)
    out_flat, out_tree = tree.flatten(out)
    o_axes = tree.broadcast_prefix(_prefix(out_axes), out, "vmap out_axes", "the outputs")
    return tree.unflatten(out_tree, [_place_batch_axis(trace.unpack(o), ax, size)
                                     for o, ax in zip(out_flat, o_axes)])


def _axis_size(sizes: list, axis_size: int | None) -> int:
    found = {s for _, _, s in sizes}
    if axis_size is not None:
        found.add(axis_size)
    if len(found) > 1:
        listing = "; ".join(f"argument {i} has size {s} along axis {ax}" for i, ax, s in sizes)
        extra = f"; axis_size={axis_size}" if axis_size is not None else ""
        raise ValueError(f"vmap got inconsistent sizes for the mapped axes: {listing}{extra}")
    if not found:
        raise ValueError("vmap needs axis_size=... when no argument is mapped "
                         "(every in_axes entry is None)")
    return found.pop()


def _place_batch_axis(val_dim: tuple, out_axis: Any, size: int) -> Any:
    val, bdim = val_dim
    if out_axis is None:
        if bdim is not None:
            raise ValueError("vmap: an output with out_axes=None varies along the mapped axis; "
                             "give it an integer out_axes")
        return val
    n = len(shape_of(val)) + (bdim is None)
    if not -n <= out_axis < n:
        raise ValueError(f"vmap: out_axes {out_axis} is out of range for an output of rank {n}")
    out_axis = int(out_axis) % n
    if bdim is None:
        val = P.broadcast_to(P.expand_dims(val, 0), (size,) + tuple(shape_of(val)))
        bdim = 0
    return P.moveaxis(val, bdim, out_axis)


# ---------------------------------------------------------------------------------------
# Jacobians: vmaps over a basis of pullbacks or jvps.

def _basis_rows(leaves: list, batch_shape: tuple, start: int, stop: int) -> list:
    """Rows ``start:stop`` of the identity over all leaves' elements: one ``(rows, *leaf)`` per leaf.

    With ``batch_shape`` every example gets the same basis (for batch Jacobians).
    """
    out, offset = [], 0
    for x in leaves:
        shape = tuple(shape_of(x))
        per_example = shape[len(batch_shape):]
        n = math.prod(per_example)
        block = np.zeros((stop - start, n), dtype=dtype_of(x))
        hits = np.arange(max(start, offset), min(stop, offset + n))
        block[hits - start, hits - offset] = 1
        block = block.reshape((stop - start,) + (1,) * len(batch_shape) + per_example)
        out.append(np.broadcast_to(block, (stop - start,) + shape) if batch_shape else block)
        offset += n
    return out


def _map_basis(f: Callable[..., Any], leaves: list, batch_shape: tuple = (),
               chunk_size: int | None = None) -> tuple[list, Any]:
    """``vmap(f)`` over the identity basis of ``leaves``: flat outputs ``(N, ...)`` and structure.

    With ``chunk_size`` the basis is mapped ``chunk_size`` rows at a time, so memory is
    bounded by the chunk (plus the result, filled in place when it is concrete). The basis
    of one leaf stays symbolic, whole or a window of rows per chunk (``vmap_basis``).
    """
    total = sum(math.prod(tuple(shape_of(x))[len(batch_shape):]) for x in leaves)
    if total == 1:                  # a single basis vector (a gradient): no vmap needed
        flat, out_tree = tree.flatten(f(*[r[0] for r in _basis_rows(leaves, batch_shape, 0, 1)]))
        return [P.expand_dims(o if hasattr(o, "shape") else np.asarray(o), 0) for o in flat], out_tree

    chunked = chunk_size is not None and chunk_size < total
    checked: dict | None = {} if chunked else None      # shared by the chunks (see vmap_basis)

    def run(start: int, stop: int) -> tuple[list, Any, list]:
        if len(leaves) == 1 and stop > start:
            out, trace = vmap_basis(f, leaves[0], len(batch_shape), start, stop, checked)
            flat, out_tree = tree.flatten(out)
            flat = [_place_batch_axis(trace.unpack(o), 0, stop - start) for o in flat]
        else:
            flat, out_tree = tree.flatten(vmap(f)(*_basis_rows(leaves, batch_shape, start, stop)))
        return flat, out_tree, [0] * len(flat)
    if not chunked:
        return run(0, total)[:2]
    return _run_chunks(run, total, cast(int, chunk_size))


def _map_leaf_basis(f: Callable[[Any], Any], x: Any, lead: int, chunk_size: int | None) -> Any:
    """``_map_basis`` of one array ``x`` (its first ``lead`` axes shared) for an ``f`` with one
    array output: unchunked, the whole basis is one ``vmap_basis``, without the pytree steps."""
    shape = tuple(shape_of(x))
    n = math.prod(shape[lead:])
    if n == 1 or (chunk_size is not None and chunk_size < n):
        (out,), _ = _map_basis(f, [x], shape[:lead], chunk_size)
        return out
    out, trace = vmap_basis(f, x, lead)
    val, bdim = trace.unpack(out)
    return val if bdim == 0 else _place_batch_axis((val, bdim), 0, n)


def _run_chunks(run: Callable[[int, int], tuple[list, Any, list]], size: int,
                step: int) -> tuple[list, Any]:
    """Stack ``run(start, stop)``'s flat outputs over ``range(size)`` in chunks of ``step``.

    ``run`` returns ``(leaves, structure, axes)``: each leaf holds its chunk along ``axes[k]``
    (``None``: the same for every chunk). Concrete leaves are written into one preallocated
    array as each chunk arrives, and the chunk is dropped before the next one runs, so the
    peak is the result plus one chunk's working memory (not every chunk plus their
    concatenation); traced leaves are concatenated at the end.
    """
    results: list = []
    out_tree: Any = None
    axes: list | None = None
    flat: list | None
    for start in range(0, size, step):
        stop = min(size, start + step)
        flat, out_tree, axes = run(start, stop)
        if not results:
            results = [_stacked_empty(o, ax, size)
                       if type(o) is np.ndarray and ax is not None else [] for o, ax in zip(flat, axes)]
        for k, (o, ax) in enumerate(zip(flat, axes)):
            r = results[k]
            if ax is None:
                results[k] = [o]
            elif type(r) is np.ndarray and type(o) is np.ndarray:
                r[(slice(None),) * ax + (slice(start, stop),)] = o
            else:        # a traced chunk after concrete ones: keep the pieces, concatenate
                if type(r) is np.ndarray:
                    results[k] = r = [r[(slice(None),) * ax + (slice(0, start),)]]
                r.append(o)
        flat = o = None  # the chunk's outputs are copied: free them before the next chunk
    # axes is None only if no chunk ran, and then results is empty too
    return [r if type(r) is np.ndarray else r[0] if ax is None or len(r) == 1 else
            P.concatenate(r, ax) for r, ax in zip(results, cast(list, axes))], out_tree


def _stacked_empty(o: np.ndarray, ax: int, size: int) -> np.ndarray:
    """An empty array for ``size`` entries along ``ax`` of chunks like ``o``, in ``o``'s memory
    order: chunks are copied in contiguously, and the result is laid out as unchunked."""
    shape = o.shape[:ax] + (size,) + o.shape[ax + 1:]
    order = sorted(range(o.ndim), key=lambda i: -abs(o.strides[i]))
    return np.empty([shape[i] for i in order], o.dtype).transpose(np.argsort(order))


def _check_chunk_size(chunk_size: Any, name: str) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"{name}: chunk_size must be a positive int or None, got {chunk_size!r}")
    return int(chunk_size)


def _jacobian_argnums(argnums: Argnums, args: tuple, name: str) -> tuple[tuple[int, ...], tuple]:
    nums = _normalize_argnums(argnums, len(args), name)
    return nums, tuple(args[i] for i in nums)


def _pack(argnums: Argnums, per_arg: tuple) -> Any:
    return per_arg[0] if isinstance(argnums, (int, np.integer)) else per_arg


def jacrev(fun: Callable[..., Any], argnums: Argnums = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian by reverse mode: one pullback, vmapped over the output basis.

    ``chunk_size`` bounds memory by mapping that many basis rows at a time. For complex
    inputs and outputs the result is the complex Jacobian of a holomorphic ``fun``;
    ``holomorphic=True`` checks that both are complex. With ``has_aux=True``, ``fun``
    returns ``(out, aux)`` and the result is ``(jacobian, aux)``: ``aux`` is evaluated once,
    with primal values, and not differentiated (as in JAX).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.jacrev(lambda x: x ** 2)(fnp.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
        >>> jac, aux = ft.jacrev(lambda x: (x ** 2, fnp.sum(x)), has_aux=True)(fnp.array([1.0, 2.0]))
        >>> float(aux)
        3.0
    """
    _check_fun(fun, "jacrev")
    chunk_size = _check_chunk_size(chunk_size, "jacrev")
    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = _normalize_argnums(argnums, len(args), "jacrev")
        rev = _Reverse(fun, args, kwargs, nums, has_aux, "jacrev", "argument {}")
        if holomorphic:
            for o in rev.out_flat:
                _check_holomorphic(rev.in_flat, o, "jacrev")

        def pullback(cotangent: Any) -> tuple:
            cts = tree.leaves(cotangent)       # the basis, in the output's structure
            return tuple(_unflatten_args(rev.in_trees, rev.input_cotangents(cts, consume=False)))
        j = _owned_tree(_jacobian_from_pullback(rev.out, pullback, argnums, chunk_size))
        return (j, rev.aux) if has_aux else j
    return jac


def _jacobian_from_pullback(out: Any, pullback: Callable[..., Any], argnums: Argnums,
                            chunk_size: int | None) -> Any:
    """The Jacobian of ``out`` from its pullback, vmapped over the output basis."""
    out_flat, out_tree = tree.flatten(out)
    in_flat, in_tree = _map_basis(
        lambda *cts: _pack(argnums, pullback(tree.unflatten(out_tree, cts))), out_flat,
        chunk_size=chunk_size)
    blocks, start = [], 0
    for o in out_flat:
        n = math.prod(shape_of(o))
        rows_of_o = in_flat if len(out_flat) == 1 else [
            P.getitem(r, (slice(start, start + n),)) for r in in_flat]
        blocks.append(tree.unflatten(in_tree, [
            P.reshape(r, tuple(shape_of(o)) + tuple(shape_of(r)[1:])) for r in rows_of_o]))
        start += n
    return tree.unflatten(out_tree, blocks)


def jacfwd(fun: Callable[..., Any], argnums: Argnums = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian by forward mode: one jvp, vmapped over the input basis.

    ``chunk_size`` bounds memory by mapping that many basis columns at a time.
    ``holomorphic=True`` checks that the inputs and outputs are complex (see :func:`jacrev`).
    With ``has_aux=True``, ``fun`` returns ``(out, aux)`` and the result is
    ``(jacobian, aux)``, ``aux`` with primal values (as in JAX).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.jacfwd(lambda x: fnp.sum(x ** 2))(fnp.array([1.0, 2.0]))
        array([2., 4.])
        >>> jac, aux = ft.jacfwd(lambda x: (x ** 2, x[0]), has_aux=True)(fnp.array([1.0, 2.0]))
        >>> float(aux)
        1.0
    """
    _check_fun(fun, "jacfwd")
    chunk_size = _check_chunk_size(chunk_size, "jacfwd")
    def jac(*args: Any, **kwargs: Any) -> Any:
        nums, dargs = _jacobian_argnums(argnums, args, "jacfwd")
        in_flat, in_tree = _flat_diff_inputs(dargs, "jacfwd", "argument {}", nums)
        if holomorphic:
            _check_holomorphic(in_flat, None, "jacfwd")
        partial = _split_args(fun, args, kwargs, nums)
        aux_box: list = [None]

        def push(*ts: Any) -> Any:
            if not has_aux:
                return jvp(partial, dargs, tree.unflatten(in_tree, ts))[1]
            # aux depends on the primals only, which the vmap over the tangents leaves unbatched
            _, tangent, aux_box[0] = jvp(lambda *a: _split_aux(partial(*a), True, "jacfwd"), dargs,
                                         tree.unflatten(in_tree, ts), has_aux=True)
            return tangent
        out_flat, out_tree = _map_basis(push, in_flat, chunk_size=chunk_size)
        if holomorphic:
            for c in out_flat:
                _check_holomorphic((), c, "jacfwd")
        blocks = []
        for c in out_flat:
            out_shape = tuple(shape_of(c)[1:])
            c = P.moveaxis(c, 0, len(out_shape))
            per_in, start = [], 0
            for x in in_flat:
                n = math.prod(shape_of(x))
                piece = c if len(in_flat) == 1 else P.getitem(
                    c, (slice(None),) * len(out_shape) + (slice(start, start + n),))
                per_in.append(P.reshape(piece, out_shape + tuple(shape_of(x))))
                start += n
            blocks.append(_pack(argnums, tuple(tree.unflatten(in_tree, per_in))))
        j = _owned_tree(tree.unflatten(out_tree, blocks))
        return (j, aux_box[0]) if has_aux else j
    return jac


def jacobian(fun: Callable[..., Any], argnums: Argnums = 0, *, mode: str = "auto",
             has_aux: bool = False, chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian, by ``mode`` "rev", "fwd" or "auto" (the cheaper side: fewer passes).

    ``has_aux=True``: ``fun`` returns ``(out, aux)``, the result is ``(jacobian, aux)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.jacobian(fnp.sin)(fnp.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    _check_fun(fun, "jacobian")
    chunk_size = _check_chunk_size(chunk_size, "jacobian")
    if mode not in ("auto", "rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'auto', 'rev' or 'fwd', got {mode!r}")
    if mode != "auto":
        return (jacrev if mode == "rev" else jacfwd)(fun, argnums, has_aux=has_aux,
                                                     chunk_size=chunk_size)

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums, dargs = _jacobian_argnums(argnums, args, "jacobian")
        n_in = sum(math.prod(shape_of(x)) for x in tree.leaves(dargs))
        out, _ = _split_aux(fun(*args, **kwargs), has_aux, "jacobian")
        n_out = sum(math.prod(shape_of(x)) for x in tree.leaves(out))
        # Fewer passes; at a tie forward mode, which keeps no tape. A plain call sizes the output.
        chosen = jacfwd if n_in <= n_out else jacrev
        return chosen(fun, argnums, has_aux=has_aux, chunk_size=chunk_size)(*args, **kwargs)
    return jac


def hessian(fun: Callable[..., Any], argnums: Argnums = 0, *, has_aux: bool = False,
            chunk_size: int | None = None) -> Callable[..., Any]:
    """The Hessian, forward over reverse: ``jacfwd(jacrev(fun))``.

    ``has_aux=True``: ``fun`` returns ``(out, aux)``, the result is ``(hessian, aux)``.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.hessian(lambda x: fnp.sum(x ** 3))(fnp.array([1.0, 2.0]))
        array([[ 6.,  0.],
               [ 0., 12.]])
    """
    _check_fun(fun, "hessian")
    chunk_size = _check_chunk_size(chunk_size, "hessian")
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux,
                  chunk_size=chunk_size)


def hvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """The Hessian-vector product ``jvp(grad(fun), primals, tangents)[1]``, without the Hessian.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.hvp(lambda x: fnp.sum(x ** 3), (fnp.array([1.0, 2.0]),), (fnp.array([1.0, 0.0]),))
        array([6., 0.])
    """
    _check_fun(fun, "hvp")
    return jvp(grad(fun), primals, tangents)[1]


def batch_jacobian(fun: Callable[..., Any], argnums: int = 0, *, mode: str = "auto",
                   chunk_size: int | None = None) -> Callable[..., Any]:
    """Per-example Jacobians ``J[b] = d fun(x)[b] / d x[b]`` of shape ``(B, *out, *in)``.

    One pullback (or jvp), vmapped over the per-example basis: the number of passes does not
    grow with the batch size. Assumes examples are independent (as TensorFlow does).

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> ft.batch_jacobian(lambda x: x ** 2)(fnp.array([[1.0], [3.0]]))
        array([[[2.]],
        <BLANKLINE>
               [[6.]]])
    """
    _check_fun(fun, "batch_jacobian")
    chunk_size = _check_chunk_size(chunk_size, "batch_jacobian")
    if mode not in ("auto", "rev", "fwd"):
        raise ValueError(f"batch_jacobian: mode must be 'auto', 'rev' or 'fwd', got {mode!r}")
    if not isinstance(argnums, (int, np.integer)):
        raise TypeError(f"batch_jacobian: argnums must be an int, got {argnums!r}")

    sizes: dict = {}     # auto mode: (n_in, n_out) seen per input shape and dtype

    def jac(*args: Any, **kwargs: Any) -> Any:
        (num,) = _normalize_argnums(argnums, len(args), "batch_jacobian")
        x = args[num]
        if type(x) is not np.ndarray or x.dtype.kind not in "fc":
            x = _diff_input(x, "batch_jacobian", f"argument {num}")
        shape = tuple(x.shape)
        if not shape:
            raise ValueError("batch_jacobian: the input needs a leading batch axis, got a 0-d array")
        partial = _split_args(fun, args, kwargs, (num,))
        batch, in_shape = shape[:1], shape[1:]
        forward = mode == "fwd"
        if mode == "auto":
            # One plain call tells the output's size; its memory per input shape saves that
            # call next time (a stale one could only choose the slower mode, never misreport).
            key = (shape, x.dtype)
            n_in_out = sizes.get(key)
            if n_in_out is None:
                out = _batched_output(partial(x), batch)
                if len(sizes) > 64:
                    sizes.clear()
                sizes[key] = n_in_out = (math.prod(in_shape), math.prod(tuple(shape_of(out))[1:]))
            forward = n_in_out[0] <= n_in_out[1]
        if forward:
            def push(t: Any) -> Any:
                out, trace = jvp_flat(partial, [x], [t])
                primal, tangent = trace.unpack(_batched_output(out, batch))
                return P.zeros_like(primal) if tangent is None else tangent
            cols = _map_leaf_basis(push, x, 1, chunk_size)                 # (N, B, *out)
            out_shape = tuple(shape_of(cols))[2:]
            cols = P.transpose(cols, tuple(range(1, 2 + len(out_shape))) + (0,))  # (B, *out, N)
            j = cols if len(in_shape) == 1 else P.reshape(cols, batch + out_shape + in_shape)
        else:
            out, pullback = value_and_pullback(partial, x)
            out_shape = tuple(shape_of(_batched_output(out, batch)))[1:]
            rows = _map_leaf_basis(lambda c: pullback(c)[0], out, 1, chunk_size)  # (M, B, *in)
            j = P.reshape(P.moveaxis(rows, 0, 1), batch + out_shape + in_shape)
        return _owned([j])[0]
    return jac


def _batched_output(out: Any, batch: tuple) -> Any:
    shape = getattr(out, "shape", None)
    if shape is None or tuple(shape[:1]) != batch:
        got = f"shape {tuple(shape)}" if shape is not None else f"a {type(out).__name__}"
        raise ValueError(f"batch_jacobian: the output must be an array with the input's batch "
                         f"size {batch[0]} first, got {got}")
    return out


# ---------------------------------------------------------------------------------------
# Derivative control.

def stop_gradient(x: Any) -> Any:
    """``x`` (a pytree of arrays) with zero derivative under every transform.

    Example:
        >>> import functrans as ft
        >>> float(ft.grad(lambda x: x * ft.stop_gradient(x))(3.0))
        3.0
    """
    return tree.map(lambda leaf: P.stop_gradient_p.bind(leaf), x)


def with_gradient(x: Any, hook: Callable[[Any], Any]) -> Any:
    """``x`` unchanged; in the backward pass ``hook(g)`` sees the cotangent arriving at ``x``.

    A returned array replaces the cotangent; ``None`` keeps it (modified in place or not).
    Identity in forward mode.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> clip = lambda g: fnp.clip(g, -1.0, 1.0)
        >>> float(ft.grad(lambda x: ft.with_gradient(x, clip) * 5.0)(2.0))
        1.0
    """
    if not callable(hook):
        raise TypeError(f"with_gradient: hook must be callable, got {type(hook).__name__}")
    return tree.map(lambda leaf: P.hook_p.bind(leaf, hook=hook), x)
