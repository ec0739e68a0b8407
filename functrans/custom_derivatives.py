"""Custom derivatives: ``custom_vjp`` and ``custom_jvp``, call-primitives registered like built-ins.

A function with a custom rule is applied as one primitive whose parameters carry the user's
functions (flattened over pytrees). Its rules sit in the same tables as ``sin``'s:

* ``custom_vjp_call`` outputs the function's flattened outputs *followed by the flattened
  residuals* of ``fwd``. Under reverse mode the tape node keeps them in ``ans``, so the vjp
  rule calls ``bwd(residuals, g)`` without running the forward again. Forward mode applies the
  transpose of the (linear) pullback to the tangents — the vjp of ``g -> bwd(res, g)`` — and
  differentiates ``fwd`` for the residuals' tangents, so ``jacfwd`` and ``hessian`` work.
  A cotangent reaching the residuals (second order) is pulled back through ``fwd``.
* ``custom_jvp_call`` outputs the function's outputs; its jvp rule is the user's, its vjp rule
  the transpose of the user's (linear) tangent map.
* Both batch by re-binding themselves with vmapped functions, so an outer ``grad`` still uses
  the custom rule.

When no differentiating transform is running, the function itself is called (as JAX does).
Traced values a function *closes over* are lifted into explicit arguments
(:func:`closure_convert`), so ``vmap`` sees them; differentiating with respect to one is an
error, since the custom rule gives no derivative for it.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from typing import Any, Callable, Sequence, cast

import numpy as np

from . import core, tree
from . import primitives as P
from .batching import batch_rules, vmap_flat
from .core import Primitive, Tracer, dtype_of, shape_of
from .forward import JVPTrace, jvp_flat, jvp_rules
from .reverse import VJPTrace, backward, vjp_flat, vjp_rules

__all__ = ["custom_vjp", "custom_jvp", "closure_convert", "custom_vjp_call_p", "custom_jvp_call_p"]


# ---------------------------------------------------------------------------------------
# Helpers shared with checkpointing.

def differentiating() -> bool:
    """True if a jvp or vjp trace is running in this thread (else custom rules are not needed)."""
    t: core.Trace | None = core.current_trace()
    while t is not None:
        if isinstance(t, (JVPTrace, VJPTrace)):
            return True
        t = t.parent
    return False


def is_tracer(x: Any) -> bool:
    return isinstance(x, Tracer)


def is_array(x: Any) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic, float, complex)) and not isinstance(x, bool)


_MAX_DEPTH = 6


def closure_convert(obj: Any, dynamic: Callable[[Any], bool] = is_tracer
                    ) -> tuple[Callable[[Sequence[Any]], Any] | None, list]:
    """Split a function (or pytree of functions) into a rebuilder and its ``dynamic`` captures.

    Looks through closure cells, defaults, ``functools.partial`` arguments, bound methods'
    ``self`` and pytrees (e.g. an ``nn.Module`` that is called). Returns ``(rebuild, values)``
    with ``rebuild(new_values)`` an equivalent object capturing ``new_values`` instead; the
    rebuilder is ``None`` when nothing dynamic was found (use ``obj`` as it is). Captures held
    by other objects are not found.
    """
    found: list = []
    build = _convert(obj, found, dynamic, frozenset(), 0)
    if build is None:
        return None, []

    def rebuild(values: Sequence[Any]) -> Any:
        return build(iter(values))
    return rebuild, found


def _convert(obj: Any, found: list, dynamic: Callable[[Any], bool], seen: frozenset,
             depth: int) -> Callable[[Any], Any] | None:
    if dynamic(obj):
        found.append(obj)
        return next
    if depth > _MAX_DEPTH or id(obj) in seen:
        return None
    seen = seen | {id(obj)}
    if isinstance(obj, types.FunctionType):
        return _convert_function(obj, found, dynamic, seen, depth)
    if isinstance(obj, functools.partial):
        fb = _convert(obj.func, found, dynamic, seen, depth + 1)
        ab = _convert(obj.args, found, dynamic, seen, depth + 1)
        kb = _convert(obj.keywords, found, dynamic, seen, depth + 1)
        if fb is None and ab is None and kb is None:
            return None
        return lambda it: functools.partial(fb(it) if fb else obj.func, *(ab(it) if ab else obj.args),
                                            **(kb(it) if kb else obj.keywords))
    if isinstance(obj, types.MethodType):
        fb = _convert(obj.__func__, found, dynamic, seen, depth + 1)
        sb = _convert(obj.__self__, found, dynamic, seen, depth + 1)
        if fb is None and sb is None:
            return None
        return lambda it: types.MethodType(fb(it) if fb else obj.__func__, sb(it) if sb else obj.__self__)
    if isinstance(obj, (type, types.ModuleType, str, bytes, int, bool, type(None))):
        return None
    leaves, treedef = tree.flatten(obj)
    if treedef.node is None:            # a leaf that is not dynamic
        return None
    builders = [_convert(x, found, dynamic, seen, depth + 1) for x in leaves]
    if all(b is None for b in builders):
        return None
    return lambda it: tree.unflatten(treedef, [b(it) if b else x for b, x in zip(builders, leaves)])


def _convert_function(fn: types.FunctionType, found: list, dynamic: Callable[[Any], bool],
                      seen: frozenset, depth: int) -> Callable[[Any], Any] | None:
    cells = fn.__closure__ or ()
    cell_builders: list[Callable[[Any], Any] | None] = []
    for cell in cells:
        try:
            contents = cell.cell_contents
        except ValueError:              # an empty cell (a name assigned later)
            cell_builders.append(None)
            continue
        cell_builders.append(_convert(contents, found, dynamic, seen, depth + 1))
    db = _convert(fn.__defaults__, found, dynamic, seen, depth + 1) if fn.__defaults__ else None
    kb = _convert(fn.__kwdefaults__, found, dynamic, seen, depth + 1) if fn.__kwdefaults__ else None
    if db is None and kb is None and all(b is None for b in cell_builders):
        return None

    def build(it: Any) -> types.FunctionType:
        closure = tuple(types.CellType(b(it)) if b else c for b, c in zip(cell_builders, cells))
        defaults = db(it) if db else fn.__defaults__
        new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults, closure or None)
        new.__kwdefaults__ = kb(it) if kb else fn.__kwdefaults__
        new.__qualname__ = fn.__qualname__
        new.__dict__.update(fn.__dict__)
        return new
    return build


def batched(fun: Callable[..., Sequence[Any]], dims: Sequence[int | None], axis_size: int
            ) -> Callable[..., list]:
    """``fun`` (flat in, flat out) vmapped over ``dims``, every output batched on axis 0.

    ``None`` outputs (symbolic zeros) stay ``None``.
    """
    dims = list(dims)

    def fun_batched(*vals: Any) -> list:
        outs, trace = vmap_flat(lambda *xs: fun(*xs), list(vals), dims, axis_size, "vmap")
        return [None if o is None else _to_front(trace.unpack(o), axis_size) for o in outs]
    return fun_batched


def _to_front(val_dim: tuple, axis_size: int) -> Any:
    val, bdim = val_dim
    if bdim is None:
        if not isinstance(val, (Tracer, np.ndarray)):
            val = np.asarray(val)
        return P.broadcast_to(P.expand_dims(val, 0), (axis_size,) + tuple(shape_of(val)))
    return P.moveaxis(val, bdim, 0)


def batch_to_front(vals: Sequence[Any], dims: Sequence[int | None]) -> tuple[list, list]:
    """Move each batch axis to 0 (so dims are only ``0`` or ``None``)."""
    return ([v if d is None else P.moveaxis(v, d, 0) for v, d in zip(vals, dims)],
            [None if d is None else 0 for d in dims])


def _check_no_tracers(outs: Sequence[Any], what: str) -> None:
    """At the eval level an output can be traced only if ``fun`` used a traced value it captured
    in a way :func:`closure_convert` could not see."""
    for o in outs:
        if isinstance(o, Tracer):
            raise TypeError(
                f"{what} uses a value traced by `{o._trace.transform}` that it captures "
                f"indirectly (through an object that is not a closure cell, default, partial or "
                f"pytree). Pass that value as an argument instead.")


def _zero_ct(c: Any) -> bool:
    """A cotangent known to be zero (a materialised symbolic zero), checked only when concrete."""
    if c is None:
        return True
    if isinstance(c, Tracer):
        return False
    return not np.any(c)


def _fn_name(f: Any) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


def _describe(x: Any) -> str:
    if is_array(x) or isinstance(x, int):
        return f"shape {tuple(shape_of(x))} dtype {dtype_of(x)}"
    return f"a {type(x).__name__}"


def _check_like(rule: str, what: str, got: Any, like: Any, labels: Sequence[str],
                check_dtype: bool = True) -> list:
    """Leaves of ``got``, which must have ``like``'s structure and leaf shapes (and dtype kinds).

    ``None`` in place of a whole entry means zero. Returns the leaves (``None`` for zeros),
    cast to the reference dtype when only the precision differs.
    """
    like_flat, like_tree = tree.flatten(like)
    if got is None:
        return [None] * len(like_flat)
    got_flat, got_tree = tree.flatten(got)
    if got_tree != like_tree:
        raise TypeError(f"{rule} returned {what} with structure {got_tree}; expected the structure "
                        f"{like_tree} of {labels[0] if len(labels) == 1 else 'the reference'}")
    out: list = []
    for k, (g, ref) in enumerate(zip(got_flat, like_flat)):
        where = labels[0] if len(like_flat) == 1 else f"{labels[0]} (leaf {k})"
        if g is None:
            out.append(None)
            continue
        if not is_array(g) and not isinstance(g, int):
            raise TypeError(f"{rule} returned {what} for {where} that is not an array: got "
                            f"{_describe(g)}, expected {_describe(ref)}")
        if tuple(shape_of(g)) != tuple(shape_of(ref)):
            raise ValueError(f"{rule} returned {what} for {where} of shape {tuple(shape_of(g))}; "
                             f"expected shape {tuple(shape_of(ref))} (that of {where})")
        if check_dtype:
            want, have = np.dtype(dtype_of(ref)), np.dtype(dtype_of(g))
            if want.kind in "fc" and have.kind != want.kind and not (want.kind == "c" and have.kind in "fiu"):
                raise TypeError(f"{rule} returned {what} for {where} of dtype {have}; expected "
                                f"dtype {want}")
            if want.kind in "fc" and have != want:
                g = P.convert_element_type(g, want)
        out.append(P.borrowed(g))     # the rule may return an array its caller holds
    return out


def _reject_nondiff(name: str, diff_mask: Sequence[bool], kinds: Sequence[str],
                    positions: Sequence[int], transform: str) -> None:
    for i in positions:
        if not diff_mask[i]:
            raise TypeError(
                f"{transform} of '{name}' with respect to {kinds[i]}, for which the custom rule "
                f"gives no derivative. Make it a regular (differentiable) argument of '{name}', "
                f"or wrap it in ft.stop_gradient.")


class _Store:
    """Per-call structure learned when the rule first runs: output tree, residual layout."""

    __slots__ = ("out_tree", "n_out", "res_tree", "res_static", "res_mask")

    def __init__(self) -> None:
        self.out_tree: tree.PyTreeDef | None = None     # all three set when the rule first runs
        self.n_out: int | None = None
        self.res_tree: tree.PyTreeDef | None = None
        self.res_static: list = []
        self.res_mask: list = []


class _Args:
    """How a call's arguments map onto the primitive's flat positional operands.

    Operands are: the leaves of the differentiable arguments, then the traced leaves of the
    ``nondiff_argnums`` arguments, then values the user functions close over.
    """

    def __init__(self, name: str, args: tuple, nondiff: tuple[int, ...], funs: tuple):
        self.name = name
        self.nargs = len(args)
        for i in nondiff:
            if not -len(args) <= i < len(args):
                raise ValueError(f"'{name}': nondiff_argnums entry {i} is out of range for a call "
                                 f"with {len(args)} positional arguments")
        self.nondiff = tuple(sorted({i % len(args) for i in nondiff})) if args else ()
        self.diff_pos = [i for i in range(len(args)) if i not in self.nondiff]
        self.diff_args = tuple(args[i] for i in self.diff_pos)
        diff_flat, self.diff_tree = tree.flatten(self.diff_args)
        for k, x in enumerate(diff_flat):
            if not (is_array(x) or isinstance(x, int)):
                raise TypeError(f"'{name}': differentiable arguments must be arrays (or pytrees of "
                                f"arrays); got {_describe(x)}. List the argument in "
                                f"nondiff_argnums if it is static.")
        self.nd_templates = []
        nd_dyn = []
        for i in self.nondiff:
            leaves, td = tree.flatten(args[i])
            mask = [is_tracer(x) for x in leaves]
            self.nd_templates.append((td, leaves, mask))
            nd_dyn += [x for x, m in zip(leaves, mask) if m]
        self.rebuild_funs, consts = closure_convert(funs, is_tracer)
        self.funs = funs
        self.n_diff, self.n_nd, self.n_cl = len(diff_flat), len(nd_dyn), len(consts)
        self.operands = list(diff_flat) + nd_dyn + list(consts)
        self.kinds = ([f"argument {self.diff_pos[j]}" for j, _ in self._leaf_args(self.diff_args)]
                      + [f"argument {i} (in nondiff_argnums)" for i, (td, lv, m) in
                         zip(self.nondiff, self.nd_templates) for x in m if x]
                      + ["a traced value it closes over"] * len(consts))
        self.diff_mask = tuple([True] * self.n_diff + [False] * (self.n_nd + self.n_cl))

    @staticmethod
    def _leaf_args(args: tuple) -> list:
        return [(j, x) for j, a in enumerate(args) for x in tree.leaves(a)]

    def unpack(self, flat: Sequence[Any]) -> tuple[tuple, list, tuple]:
        """``(all args, nondiff args, funs)`` from flat operands."""
        flat = list(flat)
        diff_args = tree.unflatten(self.diff_tree, flat[:self.n_diff])
        it = iter(flat[self.n_diff:self.n_diff + self.n_nd])
        nondiff_args = [tree.unflatten(td, [next(it) if m else x for x, m in zip(leaves, mask)])
                        for td, leaves, mask in self.nd_templates]
        funs = (self.funs if self.rebuild_funs is None
                else self.rebuild_funs(flat[self.n_diff + self.n_nd:]))
        full: list = [None] * self.nargs
        for i, a in zip(self.diff_pos, diff_args):
            full[i] = a
        for i, a in zip(self.nondiff, nondiff_args):
            full[i] = a
        return tuple(full), nondiff_args, funs

    def diff_like(self, flat: Sequence[Any]) -> tuple:
        return tree.unflatten(self.diff_tree, list(flat[:self.n_diff]))


# ---------------------------------------------------------------------------------------
# The decorator classes share how they are made and called.

class _CustomFunction:
    """A user function with a custom rule attached later (``kind``: "vjp" or "jvp")."""

    kind = ""

    def __new__(cls, fun: Callable[..., Any] | None = None, *, nondiff_argnums: Sequence[int] = ()):
        if fun is None:          # @custom_vjp(nondiff_argnums=...) with arguments
            return functools.partial(cls, nondiff_argnums=nondiff_argnums)
        return super().__new__(cls)

    def __init__(self, fun: Callable[..., Any], *, nondiff_argnums: Sequence[int] = ()):
        if not callable(fun):
            raise TypeError(f"custom_{self.kind}: expected a function, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)  # type: ignore[arg-type]  # callable: subclasses define __call__
        self.fun = fun
        self.nondiff_argnums = tuple(int(i) for i in nondiff_argnums)

    @property
    def _name(self) -> str:
        return _fn_name(self.fun)

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        """Keyword arguments bound to their positions, as JAX does: the rules take positional ones."""
        if not kwargs:
            return args
        try:
            bound = inspect.signature(self.fun).bind(*args, **kwargs)
            bound.apply_defaults()
            problem = f"keyword-only parameters {sorted(bound.kwargs)}" if bound.kwargs else ""
        except TypeError as e:
            problem = str(e)
        if problem:
            raise TypeError(f"custom_{self.kind} function '{self._name}': keyword arguments must "
                            f"bind to positional parameters ({problem})")
        return bound.args

    def _traced_call(self, args: tuple, attached: bool, how: str) -> _Args | None:
        """The flattened arguments if a transform must see the rule, else ``None`` (plain call)."""
        name = self._name
        if not attached:
            raise TypeError(f"custom_{self.kind} function '{name}' was called before a rule was "
                            f"attached: {how.format(name=name)} first")
        if not core._active or not differentiating():
            return None
        spec = _Args(name, args, self.nondiff_argnums, self._rules())
        return spec if any(isinstance(x, Tracer) for x in spec.operands) else None

    def _rules(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__}._rules: a subclass of _CustomFunction must "
                                  f"return its rules (custom_vjp and custom_jvp do)")


# ---------------------------------------------------------------------------------------
# custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True, symbolic_zero_cts=True)


class _ClosureResidual:
    """The pullback of a one-function rule as residuals: its captured arrays are the children."""

    def __init__(self, rebuild: Callable[[Sequence[Any]], Any] | None, pullback: Any, values: list):
        self.rebuild, self.pullback, self.values = rebuild, pullback, values

    def function(self) -> Any:
        return self.pullback if self.rebuild is None else self.rebuild(self.values)


tree.register(_ClosureResidual, lambda r: (r.values, (r.rebuild, r.pullback)),
              lambda aux, ch: _ClosureResidual(aux[0], aux[1], list(ch)))


class custom_vjp(_CustomFunction):
    """A function with a custom reverse-mode rule (``f.defvjp(fwd, bwd)`` or ``@f.defvjp``).

    ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g)`` returning one cotangent per
    differentiable argument (with ``nondiff_argnums``: ``bwd(*nondiff_args, residuals, g)``).
    The one-function form ``vjp(*args) -> (out, pullback)`` is Swift's ``@derivative(of:)``.
    Write ``bwd`` in functrans operations: then higher derivatives and forward mode (the
    transpose of ``bwd``) work too.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> @ft.custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))
        >>> float(ft.grad(lambda x: 3.0 * clip_gradient(x))(2.0))
        1.0
    """

    kind = "vjp"

    def __init__(self, fun: Callable[..., Any], *, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums=nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.rule_name = ""

    def _rules(self) -> tuple:
        return self.fwd, self.bwd

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any] | None = None) -> Any:
        """Attach the rule: ``defvjp(fwd, bwd)``, or ``defvjp(vjp)`` / ``@f.defvjp`` (one function)."""
        if self.fwd is not None:
            raise ValueError(f"custom_vjp function '{self._name}' already has a vjp rule "
                             f"({self.rule_name}); a function has one rule")
        if not callable(fwd) or (bwd is not None and not callable(bwd)):
            raise TypeError(f"custom_vjp '{self._name}'.defvjp expects callables, got "
                            f"{type(fwd).__name__} and {type(bwd).__name__}")
        if bwd is not None:
            self.fwd, self.bwd = fwd, bwd
            self.rule_name = f"fwd rule '{_fn_name(fwd)}', bwd rule '{_fn_name(bwd)}'"
            return None
        vjp_fn = fwd
        vname = _fn_name(vjp_fn)

        def fwd_from_vjp(*args: Any) -> tuple:
            result = vjp_fn(*args)
            if not (isinstance(result, (tuple, list)) and len(result) == 2 and callable(result[1])):
                raise TypeError(f"vjp rule '{vname}' of '{self._name}' must return a pair (output, "
                                f"pullback) with a callable pullback, got {_short(result)}")
            out, pullback = result
            rebuild, values = closure_convert(pullback, is_array)
            return out, _ClosureResidual(rebuild, pullback, values)

        def bwd_from_vjp(*nondiff_and_res_g: Any) -> Any:
            res, g = nondiff_and_res_g[-2:]
            return res.function()(g)
        fwd_from_vjp.__qualname__ = bwd_from_vjp.__qualname__ = vname
        self.fwd, self.bwd = fwd_from_vjp, bwd_from_vjp
        self.rule_name = f"vjp rule '{vname}'"
        return vjp_fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = self._positional(args, kwargs)
        spec = self._traced_call(args, self.fwd is not None,
                                 "call {name}.defvjp(fwd, bwd) (or use @{name}.defvjp)")
        if spec is None or self in _running_fwd.rules:
            return self.fun(*args)
        name = spec.name
        store = _Store()
        outs = custom_vjp_call_p.bind(
            *spec.operands, fwd=_vjp_fwd_flat(spec, store, self.rule_name, self),
            bwd=_vjp_bwd_flat(spec, store, self.rule_name), store=store,
            diff_mask=spec.diff_mask, kinds=tuple(spec.kinds), name=name)
        # bind ran fwd, which set the output structure
        return tree.unflatten(cast(tree.PyTreeDef, store.out_tree), list(outs[:store.n_out]))


def _short(x: Any) -> str:
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a {type(x).__name__}"


class _RunningFwd(threading.local):
    def __init__(self) -> None:
        self.rules: set = set()


# The custom_vjp functions whose fwd is running in this thread. A fwd that calls its own
# function (as Swift's sillyExp derivative does) gets the plain function: differentiating fwd
# for the residuals' tangents must not re-enter the rule being defined.
_running_fwd = _RunningFwd()


def _vjp_fwd_flat(spec: _Args, store: _Store, rule_name: str, owner: Any) -> Callable[..., tuple]:
    """``fwd`` over flat operands: flat outputs then flat (array) residuals."""
    def fwd_flat(*flat: Any) -> tuple:
        args, _, (fwd, _) = spec.unpack(flat)
        running = _running_fwd.rules
        entered = owner not in running
        running.add(owner)
        try:
            result = fwd(*args)
        finally:
            if entered:
                running.discard(owner)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f"{rule_name} of '{spec.name}': fwd must return a pair (output, "
                            f"residuals), got {_short(result)}")
        out, residuals = result
        out_flat, out_tree = tree.flatten(out)
        for k, o in enumerate(out_flat):
            if not (is_array(o) or isinstance(o, int)):
                raise TypeError(f"{rule_name} of '{spec.name}': fwd returned an output that is not "
                                f"an array (leaf {k}): {_describe(o)}")
        res_flat, res_tree = tree.flatten(residuals)
        mask = [is_array(r) for r in res_flat]
        if store.out_tree is None:
            store.out_tree, store.n_out, store.res_tree = out_tree, len(out_flat), res_tree
            store.res_mask = mask
            store.res_static = [None if m else r for r, m in zip(res_flat, mask)]
        elif out_tree != store.out_tree or sum(mask) != sum(store.res_mask):
            raise TypeError(f"{rule_name} of '{spec.name}': fwd returned outputs of structure "
                            f"{out_tree} and {sum(mask)} residual arrays, which differ from an "
                            f"earlier run ({store.out_tree}, {sum(store.res_mask)})")
        return tuple(out_flat) + tuple(r for r, m in zip(res_flat, mask) if m)
    return fwd_flat


def _vjp_bwd_flat(spec: _Args, store: _Store, rule_name: str) -> Callable[..., list]:
    """``bwd`` over flat values: ``(residuals, output cotangents, operands) -> cotangent per operand``."""
    def bwd_flat(res: Sequence[Any], ct: Sequence[Any], operands: Sequence[Any]) -> list:
        it = iter(res)
        res_flat = [next(it) if m else s for m, s in zip(store.res_mask, store.res_static)]
        # bwd runs after fwd, which set both structures
        residuals = tree.unflatten(cast(tree.PyTreeDef, store.res_tree), res_flat)
        g = tree.unflatten(cast(tree.PyTreeDef, store.out_tree), list(ct))
        _, nondiff_args, (_, bwd) = spec.unpack(operands)
        cts = bwd(*nondiff_args, residuals, g)
        n = len(spec.diff_pos)
        if not isinstance(cts, (tuple, list)) or len(cts) != n:
            single = n == 1 and not isinstance(cts, (tuple, list))
            hint = " (wrap a single cotangent in a tuple: `return (g,)`)" if single else ""
            raise TypeError(f"{rule_name} of '{spec.name}': bwd must return a tuple with one "
                            f"cotangent per differentiable argument ({n}: arguments "
                            f"{spec.diff_pos}), got {_short(cts)}{hint}")
        flat: list = []
        for j, (c, a) in enumerate(zip(cts, spec.diff_like(operands))):
            flat += _check_like(f"{rule_name} of '{spec.name}'", "a cotangent", c, a,
                                [f"argument {spec.diff_pos[j]}"])
        return flat + [None] * (len(operands) - len(flat))
    return bwd_flat


def _custom_vjp_impl(*args: Any, fwd: Callable[..., Any], name: str, **_: Any) -> tuple:
    outs = fwd(*args)
    _check_no_tracers(outs, f"custom_vjp function '{name}'")
    return outs


custom_vjp_call_p.def_impl(_custom_vjp_impl)


def _custom_vjp_vjp(ct: tuple, ans: tuple, primals: list, params: dict, argnums: list) -> list:
    n_out = params["store"].n_out
    _reject_nondiff(params["name"], params["diff_mask"], params["kinds"], argnums,
                    "reverse-mode differentiation")
    cts: list = [None] * len(primals)
    ct_out, ct_res = list(ct[:n_out]), list(ct[n_out:])
    if not all(_zero_ct(c) for c in ct_out):
        # bwd sees a cotangent for every output: an unused output's symbolic zero becomes zeros.
        ct_out = [P.zeros_like(a) if c is None else c for c, a in zip(ct_out, ans)]
        cts = params["bwd"](list(ans[n_out:]), ct_out, primals)
    if ct_res and not all(_zero_ct(c) for c in ct_res):
        # Second order: a cotangent reached the residuals, which depend on the inputs through fwd.
        fwd = params["fwd"]

        def residuals_of(*xs: Any) -> tuple:
            full = list(primals)
            for i, x in zip(argnums, xs):
                full[i] = x
            return fwd(*full)[n_out:]
        outs, trace, in_slots = vjp_flat(residuals_of, [primals[i] for i in argnums], "vjp")
        more = backward(trace, [trace.slot_of(o) for o in outs], ct_res, in_slots, consume=True)
        for i, c in zip(argnums, more):
            cts[i] = core.add_any(cts[i], c)
    return [cts[i] for i in argnums]


def _custom_vjp_jvp(primals: list, tangents: list, *, fwd: Callable[..., Any],
                    bwd: Callable[..., Any], store: _Store, diff_mask: tuple, kinds: tuple,
                    name: str) -> tuple:
    _reject_nondiff(name, diff_mask, kinds, [i for i, t in enumerate(tangents) if t is not None],
                    "forward-mode differentiation")
    # Primal outputs, residuals and the residuals' tangents: differentiate fwd itself.
    outs, trace = jvp_flat(lambda *xs: fwd(*xs), primals, tangents)
    pairs = [trace.unpack(o) for o in outs]
    n_out = store.n_out
    primal_out = [p for p, _ in pairs]
    res = primal_out[n_out:]
    # Output tangents: the transpose of the linear map g -> bwd(res, g), applied to the tangents.
    g0 = [P.zeros_like(o) for o in primal_out[:n_out]]
    lin_out, lin_trace, g_slots = vjp_flat(lambda *g: bwd(res, list(g), primals), g0, "jvp")
    seeds = [t if m else None for t, m in zip(tangents, diff_mask)]
    out_slots = [lin_trace.slot_of(o) if s is not None else None for o, s in zip(lin_out, seeds)]
    t_out = backward(lin_trace, out_slots, seeds, g_slots, consume=True)
    t_out = [None if t is None else P.unbroadcast(t, p) for t, p in zip(t_out, primal_out[:n_out])]
    return primal_out, t_out + [t for _, t in pairs[n_out:]]


def _custom_vjp_batch(axis_size: int, vals: list, dims: list, *, fwd: Callable[..., Any],
                      bwd: Callable[..., Any], store: _Store, diff_mask: tuple, kinds: tuple,
                      name: str) -> tuple:
    vals, dims = batch_to_front(vals, dims)
    fwd_b = batched(fwd, dims, axis_size)

    def bwd_b(res: Sequence[Any], ct: Sequence[Any], operands: Sequence[Any]) -> list:
        n_res, n_ct = len(res), len(ct)
        f = batched(lambda *xs: bwd(xs[:n_res], xs[n_res:n_res + n_ct], xs[n_res + n_ct:]),
                    [0] * (n_res + n_ct) + list(dims), axis_size)
        cts = f(*res, *ct, *operands)
        # An unbatched operand's cotangent sums over the examples.
        return [c if c is None or d is not None else P.reduce_sum(c, (0,)) for c, d in zip(cts, dims)]
    outs = custom_vjp_call_p.bind(*vals, fwd=fwd_b, bwd=bwd_b, store=store, diff_mask=diff_mask,
                                  kinds=kinds, name=name)
    return outs, [0] * len(outs)


vjp_rules[custom_vjp_call_p] = _custom_vjp_vjp
jvp_rules[custom_vjp_call_p] = _custom_vjp_jvp
batch_rules[custom_vjp_call_p] = _custom_vjp_batch


# ---------------------------------------------------------------------------------------
# custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True, symbolic_zero_cts=True)


class custom_jvp(_CustomFunction):
    """A function with a custom forward-mode rule, attached with ``@f.defjvp`` (or ``f.defjvps``).

    ``jvp(primals, tangents) -> (primal_out, tangent_out)`` (with ``nondiff_argnums``:
    ``jvp(*nondiff_args, primals, tangents)``); the tangent out must be linear in the tangents.
    Reverse mode transposes it.

    Example:
        >>> import functrans as ft, functrans.numpy as fnp
        >>> @ft.custom_jvp
        ... def log1pexp(x):
        ...     return fnp.log(1.0 + fnp.exp(x))
        >>> @log1pexp.defjvp
        ... def log1pexp_jvp(primals, tangents):
        ...     (x,), (t,) = primals, tangents
        ...     return log1pexp(x), t * (1.0 - 1.0 / (1.0 + fnp.exp(x)))
        >>> float(ft.grad(log1pexp)(50.0))
        1.0
    """

    kind = "jvp"

    def __init__(self, fun: Callable[..., Any], *, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums=nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None

    def _rules(self) -> tuple:
        return self.fun, self.jvp

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """Attach the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``; returns it."""
        if self.jvp is not None:
            raise ValueError(f"custom_jvp function '{self._name}' already has a jvp rule "
                             f"('{_fn_name(self.jvp)}'); a function has one rule")
        if not callable(jvp):
            raise TypeError(f"custom_jvp '{self._name}'.defjvp expects a callable, got "
                            f"{type(jvp).__name__}")
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """Attach one tangent rule per argument, ``jvp_i(t_i, ans, *primals)`` (JAX's form).

        The tangent out is the sum of the rules' results, each shaped like the output;
        ``None`` marks an argument with no derivative. Builds the rule of :meth:`defjvp`.

        Example:
            >>> import functrans as ft, functrans.numpy as fnp
            >>> @ft.custom_jvp
            ... def f(x, y):
            ...     return fnp.sin(x) * y
            >>> f.defjvps(lambda tx, ans, x, y: fnp.cos(x) * tx * y,
            ...           lambda ty, ans, x, y: fnp.sin(x) * ty)
            >>> float(ft.grad(f, argnums=1)(0.5, 2.0)) == float(fnp.sin(0.5))
            True
        """
        if self.nondiff_argnums:
            raise TypeError(f"custom_jvp '{self._name}'.defjvps cannot be used with nondiff_argnums; "
                            f"use defjvp")
        for k, r in enumerate(jvps):
            if r is not None and not callable(r):
                raise TypeError(f"custom_jvp '{self._name}'.defjvps expects callables or None, got "
                                f"{type(r).__name__} for argument {k}")

        def jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
            if len(jvps) != len(primals):
                raise TypeError(f"custom_jvp '{self._name}'.defjvps has {len(jvps)} rule"
                                f"{'s' if len(jvps) != 1 else ''} but the function was called with "
                                f"{len(primals)} arguments: give one rule (or None) per argument")
            ans = self(*primals)
            out_flat, out_tree = tree.flatten(ans)
            total: list = [None] * len(out_flat)
            for k, (rule, t) in enumerate(zip(jvps, tangents)):
                if rule is not None:
                    where = f"defjvps rule {k} ('{_fn_name(rule)}') of '{self._name}'"
                    got = _check_like(where, "a tangent", rule(t, ans, *primals), ans, ["the output"])
                    total = [core.add_any(a, b) for a, b in zip(total, got)]
            return ans, tree.unflatten(out_tree, [P.zeros_like(o) if t is None else t
                                                  for t, o in zip(total, out_flat)])
        jvp.__qualname__ = f"{self._name}.defjvps"
        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = self._positional(args, kwargs)
        spec = self._traced_call(args, self.jvp is not None,
                                 "decorate its rule with @{name}.defjvp")
        if spec is None:
            return self.fun(*args)
        name = spec.name
        store = _Store()
        rule = f"jvp rule '{_fn_name(self.jvp)}'"
        outs = custom_jvp_call_p.bind(
            *spec.operands, fun=_jvp_fun_flat(spec, store), jvp=_jvp_rule_flat(spec, store, rule),
            store=store, diff_mask=spec.diff_mask, kinds=tuple(spec.kinds), name=name)
        return tree.unflatten(cast(tree.PyTreeDef, store.out_tree), list(outs))   # set by the rule bind ran


def _set_out_tree(store: _Store, out_tree: Any, n: int, what: str) -> None:
    if store.out_tree is None:
        store.out_tree, store.n_out = out_tree, n
    elif store.out_tree != out_tree:
        raise TypeError(f"{what} has structure {out_tree}, but the function's output has "
                        f"structure {store.out_tree}")


def _jvp_fun_flat(spec: _Args, store: _Store) -> Callable[..., tuple]:
    def fun_flat(*flat: Any) -> tuple:
        args, _, (fun, _) = spec.unpack(flat)
        out_flat, out_tree = tree.flatten(fun(*args))
        _set_out_tree(store, out_tree, len(out_flat), f"the output of '{spec.name}'")
        return tuple(out_flat)
    return fun_flat


def _jvp_rule_flat(spec: _Args, store: _Store, rule: str) -> Callable[..., tuple]:
    """The user's rule over flat operands and tangents (tangents of operands; zeros, not None)."""
    def jvp_flat_rule(flat: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
        args, nondiff_args, (_, jvp) = spec.unpack(flat)
        diff_args = spec.diff_like(flat)
        diff_tangents = spec.diff_like(tangents)
        result = jvp(*nondiff_args, diff_args, diff_tangents)
        where = f"{rule} of '{spec.name}'"
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f"{where} must return a pair (primal_out, tangent_out), got {_short(result)}")
        primal_out, tangent_out = result
        out_flat, out_tree = tree.flatten(primal_out)
        _set_out_tree(store, out_tree, len(out_flat), f"the primal output returned by {where}")
        t_flat = _check_like(where, "a tangent", tangent_out, primal_out, ["the primal output"])
        t_flat = [P.zeros_like(o) if t is None else t for t, o in zip(t_flat, out_flat)]
        return list(out_flat), t_flat
    return jvp_flat_rule


def _custom_jvp_impl(*args: Any, fun: Callable[..., Any], name: str, **_: Any) -> tuple:
    outs = fun(*args)
    _check_no_tracers(outs, f"custom_jvp function '{name}'")
    return outs


custom_jvp_call_p.def_impl(_custom_jvp_impl)


def _custom_jvp_jvp(primals: list, tangents: list, *, fun: Callable[..., Any], jvp: Callable[..., Any],
                    store: _Store, diff_mask: tuple, kinds: tuple, name: str) -> tuple:
    _reject_nondiff(name, diff_mask, kinds, [i for i, t in enumerate(tangents) if t is not None],
                    "forward-mode differentiation")
    tangents = [P.zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
    return jvp(primals, tangents)


def _custom_jvp_vjp(ct: tuple, ans: tuple, primals: list, params: dict, argnums: list) -> list:
    _reject_nondiff(params["name"], params["diff_mask"], params["kinds"], argnums,
                    "reverse-mode differentiation")
    jvp = params["jvp"]

    def tangent_map(*ts: Any) -> list:
        full = [P.zeros_like(p) for p in primals]
        for i, t in zip(argnums, ts):
            full[i] = t
        return jvp(primals, full)[1]
    t0 = [P.zeros_like(primals[i]) for i in argnums]
    outs, trace, in_slots = vjp_flat(tangent_map, t0, "vjp")
    cts = backward(trace, [trace.slot_of(o) for o in outs], list(ct), in_slots, consume=True)
    return [None if c is None else P.unbroadcast(c, primals[i]) for c, i in zip(cts, argnums)]


def _custom_jvp_batch(axis_size: int, vals: list, dims: list, *, fun: Callable[..., Any],
                      jvp: Callable[..., Any], store: _Store, diff_mask: tuple, kinds: tuple,
                      name: str) -> tuple:
    vals, dims = batch_to_front(vals, dims)
    n = len(vals)
    fun_b = batched(fun, dims, axis_size)

    def jvp_b(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
        def both(*xs: Any) -> list:
            p, t = jvp(list(xs[:n]), list(xs[n:]))
            return list(p) + list(t)
        outs = batched(both, list(dims) * 2, axis_size)(*primals, *tangents)
        half = len(outs) // 2
        return outs[:half], outs[half:]
    outs = custom_jvp_call_p.bind(*vals, fun=fun_b, jvp=jvp_b, store=store, diff_mask=diff_mask,
                                  kinds=kinds, name=name)
    return outs, [0] * len(outs)


jvp_rules[custom_jvp_call_p] = _custom_jvp_jvp
vjp_rules[custom_jvp_call_p] = _custom_jvp_vjp
batch_rules[custom_jvp_call_p] = _custom_jvp_batch
