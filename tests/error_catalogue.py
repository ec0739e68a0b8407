"""The catalogue of every error functrans raises: one :class:`Entry` per ``raise`` site.

``docs/errors.md`` is generated from it (``python tests/error_catalogue.py --write``): each
entry's example is run and the message it really raises is shown. ``tests/test_error_catalogue.py``
checks that every ``raise`` in ``functrans/`` has an entry, that each example raises exactly
the entry's class with a message containing the fragment, and that ``docs/errors.md`` is up
to date.

An entry names a raise site by its file (relative to ``functrans/``), its exception class and
a *fragment*: a piece of the message's literal text (the parts of the f-string outside the
``{...}``), long enough to single the site out in its file; ``{}`` in a fragment stands for
one such hole (a value filled in at run time).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"

PRELUDE = """\
import numpy as np
import functrans as ft
import functrans.numpy as fnp
from functrans import core

x = np.array([1.0, 2.0, 3.0])

def f(x):
    return fnp.sum(fnp.sin(x))
"""


@dataclasses.dataclass(frozen=True)
class Entry:
    cls: str             # the exception class's name, as raised
    file: str            # the raising module, relative to functrans/
    fragment: str        # literal text of the message that singles the site out
    example: str         # code (run after PRELUDE) that raises it
    fix: str             # how to fix the call

    @property
    def literal(self) -> str:
        """The fragment as it appears in the source's literal text (holes dropped)."""
        return self.fragment.replace("{}", "")

    def in_message(self, message: str) -> bool:
        """Whether a raised message contains the fragment (holes match anything)."""
        return re.search(".*?".join(re.escape(p) for p in self.fragment.split("{}")), message) is not None


E = Entry

CUSTOM_VJP = """\
@ft.custom_vjp
def h(x):
    return fnp.sin(x)
"""

CUSTOM_JVP = """\
@ft.custom_jvp
def h(x):
    return fnp.sin(x)
"""

CATALOGUE: list[Entry] = [
    # ---- LeakedTracerError ------------------------------------------------------------
    E("LeakedTracerError", "core.py", "after that transform returned (a leaked tracer)",
      "saved = []\nft.grad(lambda x: saved.append(x) or fnp.sin(x))(1.0)\nfnp.sin(saved[0])",
      "Return the value from the transformed function (as an output, or as aux with "
      "`has_aux=True`) instead of storing it in an outer variable."),
    E("LeakedTracerError", "core.py", "which is still running in another thread",
      """\
import threading, queue
handed, done = queue.Queue(), threading.Event()
def inside(x):
    handed.put(x)              # hands its tracer to the main thread
    done.wait(10)
    return fnp.sin(x)
worker = threading.Thread(target=lambda: ft.grad(inside)(1.0))
worker.start()
try:
    fnp.sin(handed.get(timeout=10))
finally:
    done.set()
    worker.join()""",
      "Each thread runs its own transforms; pass concrete values (NumPy arrays) between threads."),
    # ---- ConcretizationError ---------------------------------------------------------------
    E("ConcretizationError", "batching.py", "is needed of a value batched by `vmap`",
      "ft.vmap(lambda a: a if a > 0 else -a)(x)",
      "Select elementwise with `fnp.where(a > 0, a, -a)` instead of Python's `if`."),
    E("ConcretizationError", "core.py", "is needed but this value is abstract under",
      """\
class Abstract(core.Tracer):     # a tracer of a trace that keeps no values
    shape, dtype = (), np.dtype(float)
t = Abstract()
t._trace = core.Trace(None, "abstract")
bool(t)""",
      "Avoid Python control flow on the value, or compute it outside the transform."),
    E("ConcretizationError", "numpy/_elementwise.py", " needs a concrete value: ",
      "ft.vmap(lambda a: fnp.nonzero(a))(x)",
      "Functions whose output shape depends on the values (nonzero, boolean masks) need concrete "
      "inputs: apply them outside vmap, or use `fnp.where`."),
    # ---- TypeError: transforms ------------------------------------------------------------
    E("TypeError", "api.py", "argnums must be an int or a tuple of ints",
      'ft.grad(f, argnums="x")(x)', "Pass argument positions: `argnums=0` or `argnums=(0, 1)`."),
    E("TypeError", "api.py", "requires real- or complex-valued (float) inputs to differentiate",
      "ft.grad(f)(np.array([1, 2, 3]))",
      "Convert the input with `x.astype(float)`, or leave it out of `argnums`."),
    E("TypeError", "api.py", "can only differentiate with respect to arrays and numbers",
      'ft.grad(lambda s: 1.0)("text")',
      "Differentiate with respect to arrays, numbers or pytrees of them; pass other values as "
      "arguments not in `argnums`."),
    E("TypeError", "api.py", "with has_aux=True needs the function to return a pair",
      "ft.grad(f, has_aux=True)(x)", "Return `(value, aux)` from the function, or drop `has_aux`."),
    E("TypeError", "api.py", "grad requires a scalar output (shape ())",
      "ft.grad(fnp.sin)(x)",
      "Reduce the output to a scalar (e.g. `fnp.sum`), or use `ft.jacrev` / `ft.value_and_pullback`."),
    E("TypeError", "api.py", "grad requires a real floating-point output",
      "ft.grad(lambda x: x * 1j)(1.0)",
      "Differentiate a real part (`fnp.real`), or use `ft.value_and_pullback` with a complex cotangent."),
    E("TypeError", "api.py", "{}: primals and tangents must be tuples",
      "ft.jvp(fnp.sin, x, x)", "Pass one entry per argument: `ft.jvp(fun, (x,), (t,))`."),
    E("TypeError", "api.py", "{} has real dtype {}, got a complex {} of dtype",
      "ft.jvp(fnp.sin, (x,), (x + 1j,))",
      "Pass the real part (`t.real`), or differentiate at a complex primal; for a pullback, the "
      "cotangent of a real output is real (`ct.real`)."),
    E("TypeError", "api.py", "vmap: in_axes entries must be int or None",
      'ft.vmap(fnp.sin, in_axes="0")(x)', "Use an int (the mapped axis) or None (not mapped)."),
    E("TypeError", "api.py", "batch_jacobian: argnums must be an int",
      "ft.batch_jacobian(f, argnums=(0,))", "batch_jacobian differentiates one argument: `argnums=0`."),
    E("TypeError", "api.py", "with_gradient: hook must be callable",
      "ft.with_gradient(x, 3.0)", "Pass a function `hook(g)` returning an array or None."),
    E("TypeError", "api.py", ": expected a function (a callable) as `fun`, got ",
      "ft.grad(3.0)", "Pass the function first: `ft.grad(f)(x)`, not `ft.grad(f(x))`."),
    E("TypeError", "checkpointing.py", "remat: expected a function",
      "ft.remat(3.0)", "Wrap a function: `ft.remat(layer)`, then call it."),
    E("TypeError", "core.py", "len() of unsized object (a 0-d traced value",
      "ft.grad(lambda x: len(x) * x)(1.0)", "A 0-d value has no length: use `x.shape` or `x.size`."),
    E("TypeError", "core.py", "traced values are unhashable",
      "ft.grad(lambda x: {x: 1.0}[x] * x)(1.0)",
      "Key dicts and sets by something hashable: `id(x)`, a name, or `float(x)` (a constant)."),
    # ---- TypeError: NumPy interoperation ---------------------------------------------------------
    E("TypeError", "numpy/_protocols.py", "cannot be converted to a NumPy array",
      "ft.grad(lambda x: np.asarray(x).sum())(x)",
      "Use `functrans.numpy` functions on traced values; `ft.stop_gradient(x)` then `float(x)` "
      "if a constant is really meant."),
    E("TypeError", "numpy/_protocols.py", "numpy.{} has no functrans rule for traced values; ",
      "ft.grad(lambda x: np.sin(x, where=x > 1).sum())(x)",
      "Call the `functrans.numpy` function named in the message, without `out=` and other extra arguments."),
    E("TypeError", "numpy/_protocols.py", "{}.{} has no functrans rule for traced values; ",
      "ft.grad(lambda x: np.unwrap(x).sum())(x)",
      "Write it with `functrans.numpy` functions (or add it there: docs/adding_a_primitive.md)."),
    E("TypeError", "numpy/_protocols.py", "the hook cannot modify this cotangent in place",
      """\
def double(g):
    g *= 2.0
ft.jacrev(lambda x: ft.with_gradient(x, double) * 2.0)(x)""",
      "Return the new cotangent from the hook (`return g * 2`) instead of modifying it in place."),
    # ---- TypeError: custom derivatives ------------------------------------------------------
    E("TypeError", "custom_derivatives.py", "custom_{}: expected a function, got ",
      "ft.custom_vjp(3.0)", "Decorate a function: `@ft.custom_vjp def f(x): ...` (or custom_jvp)."),
    E("TypeError", "custom_derivatives.py", ".defvjp expects callables",
      CUSTOM_VJP + "h.defvjp(1, 2)", "Pass the rule functions: `h.defvjp(h_fwd, h_bwd)`."),
    E("TypeError", "custom_derivatives.py", ".defjvps expects callables or None",
      "ft.custom_jvp(lambda x: x).defjvps(3)",
      "Pass one tangent rule `rule(t, ans, *primals)` (or None) per argument."),
    E("TypeError", "custom_derivatives.py", ".defjvps cannot be used with nondiff_argnums",
      "ft.custom_jvp(lambda x, n: x * n, nondiff_argnums=(1,)).defjvps(lambda t, ans, x, n: t * n)",
      "Attach one rule with `@h.defjvp` (it receives the nondiff arguments first)."),
    E("TypeError", "custom_derivatives.py", "rule{} but the function was called with",
      "h = ft.custom_jvp(lambda x, y: x * y)\nh.defjvps(lambda t, ans, x, y: t * y)\nft.grad(h)(1.0, 2.0)",
      "Give `defjvps` one rule per argument of the function, `None` for one with no derivative."),
    E("TypeError", "custom_derivatives.py", "was called before a rule was attached: ",
      CUSTOM_VJP + "h(1.0)",
      "Attach the rule before calling `h`: `h.defvjp(fwd, bwd)` (custom_vjp) or `@h.defjvp` (custom_jvp)."),
    E("TypeError", "custom_derivatives.py", "keyword arguments must bind to positional parameters",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: (g * fnp.cos(x),))\nh(1.0, x=2.0)",
      "Pass each argument once, by position or by name; the rules receive them positionally, "
      "so `h` cannot have keyword-only parameters."),
    E("TypeError", "custom_derivatives.py", "fwd must return a pair (output, residuals)",
      CUSTOM_VJP + "h.defvjp(lambda x: fnp.sin(x), lambda r, g: (g,))\nft.grad(h)(1.0)",
      "Return `(output, residuals)` from fwd."),
    E("TypeError", "custom_derivatives.py", "fwd returned an output that is not an array",
      CUSTOM_VJP + 'h.defvjp(lambda x: ("sin", x), lambda r, g: (g,))\nft.grad(h)(1.0)',
      "fwd's output must be the function's output: arrays (or pytrees of arrays)."),
    E("TypeError", "custom_derivatives.py", "which differ from an earlier run",
      CUSTOM_VJP + """\
runs = []
def h_fwd(x):
    runs.append(1)
    return fnp.sin(x), (x,) * len(runs)     # a different residual count on each run
h.defvjp(h_fwd, lambda res, g: (g * fnp.cos(res[0]),))
ft.grad(ft.grad(h))(1.0)""",
      "fwd must return the same output structure and number of residual arrays every time it runs."),
    E("TypeError", "custom_derivatives.py", "bwd must return a tuple with one cotangent per differentiable",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: g * fnp.cos(x))\nft.grad(h)(1.0)",
      "Return a tuple, one entry per differentiable argument: `return (g * fnp.cos(x),)`."),
    E("TypeError", "custom_derivatives.py", "must return a pair (output, pullback) with a callable pullback",
      CUSTOM_VJP + "@h.defvjp\ndef h_vjp(x):\n    return fnp.sin(x)\nft.grad(h)(1.0)",
      "The one-function rule returns `(output, pullback)`, `pullback(g)` a tuple of cotangents."),
    E("TypeError", "custom_derivatives.py", "with structure ",
      """\
@ft.custom_vjp
def h(p):
    return p[0] * p[1]
h.defvjp(lambda p: (h(p), p), lambda p, g: (g,))
ft.grad(h)((1.0, 2.0))""",
      "Give each cotangent the structure of its argument: here `((g * p[1], g * p[0]),)`."),
    E("TypeError", "custom_derivatives.py", " that is not an array: got ",
      CUSTOM_VJP + 'h.defvjp(lambda x: (h(x), x), lambda x, g: ("zero",))\nft.grad(h)(1.0)',
      "Return arrays (or None for a zero cotangent)."),
    E("TypeError", "custom_derivatives.py", "; expected dtype ",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: (g * 1j,))\nft.grad(h)(1.0)",
      "Return cotangents of the argument's dtype kind (real for a real argument)."),
    E("TypeError", "custom_derivatives.py", "for which the custom rule gives no derivative",
      """\
@ft.custom_vjp(nondiff_argnums=(1,))
def h(x, n):
    return x * n
h.defvjp(lambda x, n: (h(x, n), None), lambda n, res, g: (g * n,))
ft.grad(h, argnums=1)(1.0, 2.0)""",
      "Make the argument a regular (differentiable) argument, or wrap it in `ft.stop_gradient`."),
    E("TypeError", "custom_derivatives.py", "differentiable arguments must be arrays (or pytrees of",
      CUSTOM_VJP.replace("h(x)", "h(x, mode)") + """\
h.defvjp(lambda x, mode: (h(x, mode), x), lambda x, g: (g * fnp.cos(x), None))
ft.grad(h)(1.0, "fast")""",
      "List static (non-array) arguments in `nondiff_argnums`."),
    E("TypeError", "custom_derivatives.py", "that it captures indirectly",
      """\
class Box:
    pass
box = Box()
@ft.remat
def scaled(y):
    return y * box.value       # reads a traced value through an object attribute
def outer(x):
    box.value = x
    return scaled(1.0)
ft.grad(outer)(2.0)""",
      "Pass the traced value as an argument: `scaled(y, x)`."),
    E("TypeError", "custom_derivatives.py", ".defjvp expects a callable",
      CUSTOM_JVP + "h.defjvp(3.0)", "Decorate the rule: `@h.defjvp def h_jvp(primals, tangents): ...`."),
    E("TypeError", "custom_derivatives.py", "must return a pair (primal_out, tangent_out)",
      CUSTOM_JVP + "h.defjvp(lambda p, t: fnp.sin(p[0]))\nft.jvp(h, (1.0,), (1.0,))",
      "Return `(primal_out, tangent_out)` from the jvp rule."),
    E("TypeError", "custom_derivatives.py", ", but the function's output has structure ",
      """\
@ft.custom_jvp
def h(x):
    return fnp.sin(x)
h.defjvp(lambda p, t: ((fnp.sin(p[0]), p[0]), (t[0], t[0])))
ft.grad(h)(1.0)""",
      "The rule's primal output must have the function's output structure."),
    # ---- ValueError: transforms ---------------------------------------------------------------
    E("ValueError", "api.py", "argnums must name at least one argument",
      "ft.grad(f, argnums=())(x)", "Name at least one argument: `argnums=0`."),
    E("ValueError", "api.py", "is out of range for a function called with",
      "ft.grad(f, argnums=1)(x)", "Use a position below the number of positional arguments."),
    E("ValueError", "api.py", "argnums must name each argument once",
      "ft.grad(lambda x, y: x * y, argnums=(0, 0))(1.0, 2.0)",
      "List each argument position once: `argnums=(0, 1)`."),
    E("ValueError", "api.py", "pullback: the cotangent must have the output's shapes",
      "ft.vjp(fnp.sin, x)[1](np.ones(2))", "Give the cotangent the output's shape."),
    E("ValueError", "api.py", "{}: each tangent must have its primal's shape",
      "ft.jvp(fnp.sin, (x,), (np.ones(2),))", "Give each tangent its primal's shape."),
    E("ValueError", "api.py", "vmap: in_axes has ",
      "ft.vmap(lambda a, b: a * b, in_axes=(0,))(x, x)",
      "Give one in_axes entry per positional argument (or one int for all)."),
    E("ValueError", "api.py", "which has rank ",
      "ft.vmap(fnp.sin, in_axes=1)(x)", "Map an existing axis: `-rank <= in_axes < rank`."),
    E("ValueError", "api.py", "vmap got inconsistent sizes for the mapped axes",
      "ft.vmap(lambda a, b: a * b)(x, np.ones(4))",
      "Mapped axes must all have one size; map the odd argument with in_axes=None if it is shared."),
    E("ValueError", "api.py", "vmap needs axis_size=",
      "ft.vmap(lambda a: a * 2.0, in_axes=None)(x)", "Pass `axis_size=n` or map at least one argument."),
    E("ValueError", "api.py", "vmap: an output with out_axes=None varies along the mapped axis",
      "ft.vmap(fnp.sin, out_axes=None)(x)",
      "Give that output an integer out_axes; None is only for outputs that do not depend on the "
      "mapped axis."),
    E("ValueError", "api.py", "is out of range for an output of rank",
      "ft.vmap(fnp.sin, out_axes=3)(x)",
      "Use `-rank <= out_axes < rank` for the output with its batch axis."),
    E("ValueError", "api.py", "chunk_size must be a positive int",
      "ft.vmap(fnp.sin, chunk_size=0)(x)", "Pass a positive int, or None for one pass."),
    E("ValueError", "api.py", "jacobian: mode must be ",
      'ft.jacobian(f, mode="both")', 'Use mode="rev", "fwd" or "auto".'),
    E("ValueError", "api.py", "batch_jacobian: mode must be ",
      'ft.batch_jacobian(f, mode="both")', 'Use mode="rev", "fwd" or "auto".'),
    E("ValueError", "api.py", "batch_jacobian: the input needs a leading batch axis",
      "ft.batch_jacobian(fnp.sin)(1.0)", "Pass a batch `(B, ...)`; for one example use `ft.jacobian`."),
    E("ValueError", "api.py", "batch_jacobian: the output must be an array with the input's batch size",
      "ft.batch_jacobian(fnp.sum)(np.ones((2, 3)))",
      "The function must map a batch to a batch (keep the leading axis); use `ft.jacobian` otherwise."),
    E("ValueError", "custom_derivatives.py", "already has a vjp rule",
      CUSTOM_VJP + "rule = (lambda x: (h(x), x), lambda x, g: (g * fnp.cos(x),))\n"
      "h.defvjp(*rule)\nh.defvjp(*rule)",
      "Attach one rule per function; define a new custom_vjp function for another rule."),
    E("ValueError", "custom_derivatives.py", "already has a jvp rule",
      CUSTOM_JVP + "rule = lambda p, t: (h(p[0]), t[0] * fnp.cos(p[0]))\nh.defjvp(rule)\nh.defjvp(rule)",
      "Attach one rule per function; define a new custom_jvp function for another rule."),
    E("ValueError", "custom_derivatives.py", "nondiff_argnums entry ",
      """\
@ft.custom_vjp(nondiff_argnums=(3,))
def h(x):
    return fnp.sin(x)
h.defvjp(lambda x: (h(x), x), lambda x, g: (g * fnp.cos(x),))
ft.grad(h)(1.0)""",
      "nondiff_argnums must name positions of the call's arguments."),
    E("ValueError", "custom_derivatives.py", "; expected shape ",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: (np.ones(2),))\nft.grad(h)(1.0)",
      "Give each cotangent its argument's shape."),
    E("ValueError", "primitives.py", "returned a cotangent of shape ",
      "ft.grad(lambda x: fnp.sum(ft.with_gradient(x, lambda g: np.ones(2))))(x)",
      "Return a cotangent shaped like the value (a scalar is broadcast), or None to keep it."),
    # ---- ValueError: pytrees ---------------------------------------------------------------------
    E("ValueError", "tree.py", "unflatten: the structure ",
      "ft.tree.unflatten(ft.tree.structure((1.0, 2.0)), [1.0])",
      "Pass exactly `treedef.num_leaves` leaves."),
    E("ValueError", "tree.py", " must have the structure ",
      "ft.vjp(lambda a: (a, a), x)[1](np.ones(3))",
      "Give the value the structure named in the message (here: a pair of cotangents)."),
    E("ValueError", "tree.py", "must be a prefix of the structure of {}: got a ",
      'ft.vmap(lambda p: p[0], in_axes=({"a": 0},))((x, x))',
      "in_axes must mirror the arguments' containers (or be one int/None for a whole subtree)."),
    E("ValueError", "tree.py", "must be a prefix of the structure of {}: got ",
      "ft.vmap(lambda p: p[0], in_axes=((0, 0, 0),))((x, x))",
      "in_axes must mirror the arguments' containers (or be one int/None for a whole subtree)."),
    # ---- ValueError: functrans.numpy -------------------------------------------------------
    E("ValueError", "numpy/_reductions.py", "does not broadcast to the array's shape",
      "ft.grad(lambda x: fnp.sum(x, where=np.array([True, False])))(x)",
      "Give a mask that broadcasts to the array (NumPy's rule for where=)."),
    E("ValueError", "numpy/_reductions.py", "a where= mask needs initial=",
      "ft.grad(lambda x: fnp.max(x, where=x > 1.5))(x)",
      "Pass the value an empty slice gives, e.g. `initial=-np.inf` for max (as NumPy requires)."),
    E("TypeError", "numpy/_reductions.py", "where= must be a boolean mask, got dtype ",
      "ft.grad(lambda x: fnp.sum(x, where=x))(x)", "Pass a boolean mask, e.g. `where=x > 0`."),
    E("ValueError", "numpy/_reductions.py", " is out of bounds for an array of dimension ",
      "ft.grad(lambda x: fnp.sum(x, axis=2))(x)", "Use an axis with `-ndim <= axis < ndim`."),
    E("ValueError", "numpy/_shapes.py", "interp: xp and fp must be 1-d and of the same length",
      "ft.grad(lambda x: fnp.sum(fnp.interp(x, [0.0, 1.0], x)))(x)",
      "Give one value in fp per sample point in xp (both 1-d)."),
    E("ValueError", "numpy/_shapes.py", "interp: the sample points xp are empty",
      "ft.grad(lambda x: fnp.sum(fnp.interp(x, [], [])))(x)", "Give at least one sample point."),
    E("ValueError", "numpy/_shapes.py", "interp: period must be non-zero",
      "ft.grad(lambda x: fnp.sum(fnp.interp(x, [0.0, 1.0], [1.0, 2.0], period=0)))(x)",
      "Pass `period=None` for non-periodic data, or the (non-zero) period."),
    E("ValueError", "numpy/_shapes.py", "convolve: mode must be 'full', 'same' or 'valid'",
      "ft.grad(lambda x: fnp.sum(fnp.convolve(x, x, 'circular')))(x)", "Use one of NumPy's modes."),
    E("ValueError", "numpy/_shapes.py", "convolve: a and v must be 1-d",
      "ft.grad(lambda x: fnp.sum(fnp.convolve(fnp.outer(x, x), x)))(x)",
      "Convolve 1-d arrays (for images, see ft.nn.conv2d)."),
    E("ValueError", "numpy/_shapes.py", " cannot be empty",
      "ft.grad(lambda x: fnp.sum(fnp.convolve(x, x[:0])))(x)", "Give both arrays at least one element."),
    E("ValueError", "numpy/_shapes.py", "reshape: only order='C' or 'F' is supported",
      'ft.grad(lambda x: fnp.sum(fnp.reshape(x, (3, 1), order="A")))(x)',
      "Say which order is meant: order='C' (row-major) or order='F' (column-major)."),
    E("ValueError", "numpy/_shapes.py", "transpose: axes must be a permutation of range(",
      "ft.grad(lambda x: fnp.sum(fnp.transpose(x, (1,))))(np.ones((2, 3)))",
      "Pass every axis once, e.g. `(1, 0)`."),
    E("ValueError", "numpy/_shapes.py", "squeeze: cannot select an axis to squeeze out",
      "ft.grad(lambda x: fnp.sum(fnp.squeeze(x, axis=0)))(x)", "Squeeze only axes of size 1."),
    E("ValueError", "numpy/_shapes.py", "diff: the order n must be non-negative",
      "ft.grad(lambda x: fnp.sum(fnp.diff(x, n=-1)))(x)", "Pass `n >= 0` (the number of differences)."),
    E("ValueError", "numpy/_shapes.py", "stack: all input arrays must have the same shape",
      "ft.grad(lambda x: fnp.sum(fnp.stack([x, np.ones(2)])))(x)",
      "Stack arrays of one shape (pad or reshape them first)."),
    E("ValueError", "numpy/__init__.py", "matmul: input operand does not have enough dimensions",
      "ft.grad(lambda x: fnp.sum(fnp.matmul(2.0, x)))(x)",
      "Use `*` for a scalar factor; matmul needs arrays of rank >= 1."),
    E("ValueError", "numpy/__init__.py", "einsum: the subscripts name ",
      'ft.grad(lambda x: fnp.einsum("i,i->", x))(x)', "Pass one operand per comma-separated subscript."),
    E("ValueError", "numpy/__init__.py", "einsum: subscripts ",
      'ft.grad(lambda x: fnp.einsum("ij->", x))(x)', "Give each operand one subscript letter per axis."),
    E("ValueError", "numpy/linalg.py", "norm: ord=",
      "ft.grad(lambda x: fnp.linalg.norm(fnp.reshape(x, (1, 1, 3)), ord=2))(x)",
      "With an ord, say which axis (vector norm) or two axes (matrix norm) to take it over: `axis=`."),
    E("ValueError", "numpy/linalg.py", "eigh: UPLO must be 'L' or 'U'",
      'fnp.linalg.eigh(np.eye(2), UPLO="X")', "Pass UPLO='L' (the lower triangle) or 'U' (the upper)."),
    E("TypeError", "numpy/_shapes.py", ": cannot cast array data from {} to {} according to the rule",
      'ft.grad(lambda x: fnp.sum(fnp.concatenate([x, x], dtype=np.int64)))(x)',
      "Pass `casting='unsafe'` (or a dtype the arrays cast to safely), as NumPy asks."),
    E("ValueError", "numpy/linalg.py", "svd: derivatives of the singular vectors with full_matrices=True",
      "ft.jacfwd(lambda a: fnp.linalg.svd(a)[0])(np.arange(6.0).reshape(3, 2))",
      "Pass `full_matrices=False` (NumPy's default is True): the reduced U and Vh are differentiable. "
      "For the singular values alone pass `compute_uv=False` (or use `fnp.linalg.svdvals`)."),
    E("ValueError", "numpy/linalg.py", "qr: mode must be 'reduced', 'complete', 'r' or 'raw'",
      'ft.grad(lambda a: fnp.sum(fnp.linalg.qr(a, mode="full")[1]))(np.eye(2))',
      "Pass one of NumPy's modes: 'reduced' (the default), 'complete', 'r' or 'raw'."),
    E("ValueError", "numpy/linalg.py", "qr: derivatives of mode='raw'",
      'ft.grad(lambda a: fnp.sum(fnp.linalg.qr(a, mode="raw")[1]))(np.eye(2))',
      "Differentiate mode='reduced' (Q and R) or mode='r' (R alone) instead of the Householder form."),
    E("ValueError", "numpy/linalg.py", "qr: derivatives with mode='complete' of a tall",
      'ft.grad(lambda a: fnp.sum(fnp.linalg.qr(a, mode="complete")[0]))(np.ones((3, 2)) + np.eye(3, 2))',
      "Pass mode='reduced': its Q (m×n) and R are differentiable; the extra columns of the complete Q "
      "are not functions of the matrix."),
    E("TypeError", "numpy/linalg.py", ": derivatives with respect to a complex matrix are not supported",
      "ft.grad(lambda a: fnp.linalg.slogdet(a)[1])(np.eye(2) * (1 + 1j))",
      "Differentiate a real formulation (real and imaginary parts as separate real matrices), "
      "or stop the gradient at the matrix."),
    # ---- ValueError: nn and optim -----------------------------------------------------------
    E("ValueError", "nn/conv.py", "do not fit ",
      """\
from functrans.nn.conv import conv2d_p
conv2d_p.bind(np.ones((1, 4, 4, 3)), np.ones((2, 2, 2, 4)), strides=(1, 1), padding=((0, 0), (0, 0)),
              lhs_dilation=(1, 1), rhs_dilation=(1, 1), groups=1)""",
      "Give the filter `C // groups` input channels (conv2d checks this before binding)."),
    E("ValueError", "nn/conv.py", " must be an int or a pair of ints",
      "ft.nn.conv2d(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), strides=(1, 1, 1))",
      "Pass an int or a pair `(height, width)`."),
    E("ValueError", "nn/conv.py", "conv2d: padding must be 'VALID', 'SAME' or explicit pairs",
      'ft.nn.conv2d(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), padding="FULL")',
      "Use 'VALID', 'SAME' or `((top, bottom), (left, right))`."),
    E("ValueError", "nn/conv.py", "conv2d: explicit padding needs two (low, high) pairs",
      "ft.nn.conv2d(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), padding=((1, 1),))",
      "Give `((top, bottom), (left, right))`."),
    E("ValueError", "nn/conv.py", "conv2d: the filter must be HWIO (4-d)",
      "ft.nn.conv2d(np.ones((1, 4, 4, 1)), np.ones((2, 2)))",
      "Shape the filter `(height, width, in_channels, out_channels)`."),
    E("ValueError", "nn/conv.py", "conv2d: images must be NHWC (4-d) or HWC (3-d)",
      "ft.nn.conv2d(np.ones((4, 4)), np.ones((2, 2, 1, 1)))",
      "Shape images `(batch, height, width, channels)`; add a channel axis to a 2-d image."),
    E("ValueError", "nn/conv.py", "conv2d: images have ",
      "ft.nn.conv2d(np.ones((1, 4, 4, 3)), np.ones((2, 2, 2, 4)))",
      "The filter's third axis must be the images' channels (divided by groups)."),
    E("ValueError", "nn/functions.py", "bias_add: the bias must be a vector as long as the last axis",
      "ft.nn.bias_add(np.ones((2, 3)), np.ones(2))", "Give the bias the length of x's last axis."),
    E("ValueError", "nn/functions.py", "softmax_cross_entropy: integer labels must have shape",
      "ft.nn.softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1]))",
      "One integer label per example: the logits' shape without the class axis."),
    E("ValueError", "nn/functions.py", "softmax_cross_entropy: probability (one-hot) labels must have",
      "ft.nn.softmax_cross_entropy(np.zeros((4, 3)), np.ones((4, 2)) / 2)",
      "Give probability labels the logits' shape (or pass integer class labels)."),
    E("ValueError", "nn/layers.py", "pooling: padding must be 'VALID' or 'SAME'",
      'ft.nn.MaxPool2D((2, 2), padding="FULL")(np.ones((1, 4, 4, 1)))', "Use 'VALID' or 'SAME'."),
    E("ValueError", "optim.py", ".update: grads must have the structure of params",
      """\
opt = ft.optim.SGD(0.1)
params = {"w": x}
opt.update(params, {"v": x}, opt.init(params))""",
      "Pass the gradient of the same params: `ft.grad(loss)(params)`."),
    E("ValueError", "optim.py", "SGD: learning_rate and momentum must be >= 0",
      "ft.optim.SGD(learning_rate=-0.1)", "Use a non-negative learning rate and momentum."),
    E("ValueError", "optim.py", "Adam: b1 and b2 must be in [0, 1)",
      "ft.optim.Adam(b1=1.0)", "Use decay rates in [0, 1), e.g. the defaults 0.9 and 0.999."),
    E("ValueError", "test_util.py", "check_grads: modes must contain 'fwd' and/or 'rev'",
      'ft.check_grads(f, (x,), modes=("forward",))', 'Use modes=("fwd", "rev") or one of them.'),
    # ---- merged after the numpy submodules (functrans/numpy/_shapes.py, linalg.py, ...) --------
    E('TypeError', 'api.py', 'with holomorphic=True requires complex inputs; input leaf ',
      'ft.grad(lambda z: z * z, holomorphic=True)(1.0)',
      'Pass complex inputs (`z.astype(complex)`), or drop holomorphic=True for a real function.'),
    E('TypeError', 'api.py', 'with holomorphic=True requires a complex output, got dtype ',
      'ft.grad(lambda z: fnp.real(z), holomorphic=True)(1.0 + 1.0j)',
      'A holomorphic function has complex outputs; for a real-valued function of complex '
      'inputs, drop holomorphic=True.'),
    E('NotImplementedError', 'custom_derivatives.py', '._rules: a subclass of _CustomFunction must',
      'from functrans.custom_derivatives import _CustomFunction\n_CustomFunction(np.sin)._rules()',
      'Use `ft.custom_vjp` or `ft.custom_jvp` (their subclasses of _CustomFunction define the rules).'),
    E('ValueError', 'nn/layers.py', "the input's last axis must hold ",
      'ft.nn.Dense(2, 3, rng=np.random.default_rng(0))(np.ones((4, 5)))',
      'Give the input `in_features` features on its last axis (or build the layer for its width).'),
    E('ValueError', 'nn/layers.py', ': images must be NHWC (4-d) or HWC (3-d), got shape ',
      'ft.nn.MaxPool2D((2, 2))(np.ones((4, 4)))',
      'Shape images `(batch, height, width, channels)`; add a channel axis to a 2-d image.'),
    E('TypeError', 'nn/layers.py', 'Sequential: layer ',
      'ft.nn.Sequential([3.0])',
      'Give Sequential layers (Modules) or functions, in order.'),
    E('ValueError', 'numpy/__init__.py', "meshgrid: indexing must be 'xy' or 'ij'",
      'ft.grad(lambda x: fnp.sum(fnp.meshgrid(x, x, indexing="yx")[0]))(x)',
      "Use indexing='xy' (Cartesian) or 'ij' (matrix)."),
    E('ValueError', 'numpy/__init__.py', 'cross: incompatible dimensions for cross product',
      'ft.grad(lambda x: fnp.sum(fnp.cross(x, np.ones(4))))(x)',
      'Cross vectors of 2 or 3 components (axisa/axisb pick the axis).'),
    E('TypeError', 'numpy/_protocols.py', 'modifies an array in place, which a traced value',
      'ft.grad(lambda x: x.sort())(x)',
      'Use the functional form named in the message, which returns a new array.'),
    E("TypeError", "numpy/_shapes.py", "interp: xp (the sample points) must be a concrete array",
      "ft.grad(lambda x: fnp.interp(0.5, x, x))(x)",
      "Pass concrete sample points xp (a NumPy array); only x and fp are differentiable."),
    E('TypeError', 'numpy/_protocols.py', ' changes its array in place (and returns None)',
      'ft.grad(lambda x: np.put_along_axis(x, np.array([0]), 9.0, 0))(x)',
      'Use the functional form named in the message and its returned array.'),
    E('TypeError', 'numpy/_protocols.py', ' on traced values runs ',
      'ft.grad(lambda x: np.quantile(x, 0.5, weights=x))(x)',
      'Call it with the arguments the functrans function takes (listed in the message).'),
    E('TypeError', 'numpy/_reductions.py', ': out= is not supported on traced values',
      'ft.grad(lambda x: fnp.sum(fnp.mean(x, out=np.empty(()))))(x)',
      'Drop `out=` and use the returned value.'),
    E('ValueError', 'numpy/_reductions.py', "{}: only method='linear' is supported",
      'ft.grad(lambda x: fnp.quantile(x, 0.5, method="nearest"))(x)',
      "Use method='linear' (the default) under transforms."),
    E('ValueError', 'numpy/_reductions.py', '{}: q must be in [0, {}]',
      'ft.grad(lambda x: fnp.quantile(x, 2.0))(x)',
      'Give q in [0, 1] (for percentile, in [0, 100]).'),
    E('ValueError', 'numpy/_reductions.py', "{}: ddof and correction can't be provided simultaneously",
      'ft.grad(lambda x: fnp.var(x, ddof=1, correction=1))(x)',
      "Give one of them: correction is NumPy 2's name of ddof."),
    E('TypeError', 'numpy/_reductions.py', 'average: axis must be an int when the shapes',
      'ft.grad(lambda x: fnp.average(fnp.stack([x, x]), weights=x))(x)',
      "Pass the axis the 1-D weights run along, e.g. `axis=1`, or weights of a's shape."),
    E('ValueError', 'numpy/_reductions.py', 'average: 1-D weights must have the length of a along axis',
      'ft.grad(lambda x: fnp.sum(fnp.average(fnp.stack([x, x]), axis=0, weights=x)))(x)',
      "Give one weight per element along `axis` (here 2), or weights of a's shape."),
    E('ValueError', 'numpy/_shapes.py', "mode must be one of 'raise', 'wrap' or 'clip'",
      'ft.grad(lambda x: fnp.sum(fnp.take(x, np.array([0]), mode="nearest")))(x)',
      "Use mode='raise', 'wrap' or 'clip'."),
    E('TypeError', 'numpy/_shapes.py', ': `out` is not supported on traced values',
      'ft.grad(lambda x: fnp.sum(fnp.take(x, np.array([0]), out=np.empty(1))))(x)',
      'Drop `out=` and use the returned array.'),
    E('ValueError', 'numpy/_shapes.py', 'moveaxis: `source` and `destination` must have the same number',
      'ft.grad(lambda x: fnp.sum(fnp.moveaxis(x, [0], [0, 1])))(x)',
      'Give one destination per source axis.'),
    E('ValueError', 'numpy/_shapes.py', 'moveaxis: repeated axis in `source`',
      'ft.grad(lambda x: fnp.sum(fnp.moveaxis(fnp.outer(x, x), [0, 0], [0, 1])))(x)',
      'Name each axis at most once in source and destination.'),
    E('ValueError', 'numpy/_shapes.py', 'rollaxis: start ',
      'ft.grad(lambda x: fnp.sum(fnp.rollaxis(x, 0, 5)))(x)',
      'Use a start in `[-ndim, ndim]`.'),
    E('ValueError', 'numpy/_shapes.py', 'fliplr: the input must be at least 2-d',
      'ft.grad(lambda x: fnp.sum(fnp.fliplr(x)))(x)',
      'fliplr flips axis 1; use `fnp.flip(x)` for a 1-d array.'),
    E('ValueError', 'numpy/_shapes.py', 'flipud: the input must be at least 1-d',
      'ft.grad(lambda a: fnp.flipud(a))(1.0)',
      'A scalar has no axis to flip: use it as it is.'),
    E('ValueError', 'numpy/_shapes.py', 'rot90: len(axes) must be 2',
      'ft.grad(lambda x: fnp.sum(fnp.rot90(fnp.outer(x, x), axes=(0,))))(x)',
      'Name the plane: two axes, e.g. `axes=(0, 1)`.'),
    E('ValueError', 'numpy/_shapes.py', 'rot90: axes must be different',
      'ft.grad(lambda x: fnp.sum(fnp.rot90(fnp.outer(x, x), axes=(0, -2))))(x)',
      'Name two different axes, e.g. `axes=(0, 1)`.'),
    E('TypeError', 'numpy/_shapes.py', 'pad: a function as `mode` fills the array in place',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, mode=lambda v, w, i, k: None)))(x)',
      'Use a named mode, or build the border with `fnp.concatenate` from traced values.'),
    E('ValueError', 'numpy/_shapes.py', 'pad: mode must be one of',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, mode="mirror")))(x)',
      "Use one of NumPy's modes listed in the message (`mode='reflect'` mirrors)."),
    E('ValueError', 'numpy/_shapes.py', 'pad: mode {} takes the keyword arguments',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, mode="edge", constant_values=1)))(x)',
      'Pass only the keyword arguments of that mode, as in NumPy.'),
    E('TypeError', 'numpy/_shapes.py', 'pad: `pad_width` must be of integral type',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1.5)))(x)',
      'Give whole numbers of elements, e.g. `pad_width=1` or `((1, 2),)`.'),
    E('TypeError', 'numpy/_shapes.py', 'pad: `{}` must be concrete',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, constant_values=x[0])))(x)',
      'Pad with a constant and set the border with `fnp.where`, or concatenate the traced value.'),
    E('ValueError', 'numpy/_shapes.py', 'pad: `{}` cannot contain negative values',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, -1)))(x)',
      'Pad by zero or more; to cut elements off, slice: `x[1:-1]`.'),
    E('ValueError', 'numpy/_shapes.py', 'pad: `{}` must broadcast to (before, after) pairs',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, ((1, 2, 3),))))(x)',
      'Give one number, one (before, after) pair, or one pair per axis.'),
    E('ValueError', 'numpy/_shapes.py', "pad: can't extend empty axis",
      'ft.grad(lambda x: fnp.sum(fnp.pad(x[:0], 1, mode="edge")))(x)',
      "An empty axis has no values to copy: pad it with mode='constant'."),
    E('ValueError', 'numpy/_shapes.py', "pad: reflect_type must be 'even' or 'odd'",
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, mode="reflect", reflect_type="mirror")))(x)',
      "Use reflect_type='even' (a mirror image) or 'odd' (twice the edge minus it)."),
    E('ValueError', 'numpy/_shapes.py', 'pad: stat_length of 0 yields no value for padding',
      'ft.grad(lambda x: fnp.sum(fnp.pad(x, 1, mode="maximum", stat_length=0)))(x)',
      'Take the statistic of at least one value: `stat_length >= 1`, or None for the whole axis.'),
    E('ValueError', 'numpy/_shapes.py', 'diagonal: the array must have at least two dimensions',
      'ft.grad(lambda x: fnp.sum(fnp.diagonal(x)))(x)',
      'Take the diagonal of a matrix (or a stack); `fnp.diag(x)` builds one from a vector.'),
    E('ValueError', 'numpy/_shapes.py', 'diagonal: axis1 and axis2 cannot be the same',
      'ft.grad(lambda x: fnp.sum(fnp.diagonal(fnp.outer(x, x), axis1=0, axis2=-2)))(x)',
      'Name two different axes, e.g. `axis1=0, axis2=1`.'),
    E('ValueError', 'numpy/_shapes.py', 'diag: the input must be 1-d or 2-d',
      'ft.grad(lambda x: fnp.sum(fnp.diag(fnp.reshape(x, (1, 1, 3)))))(x)',
      'Use `fnp.diagonal` for the diagonals of a stack of matrices.'),
    E('ValueError', 'numpy/_shapes.py', '{}: `indices` and `arr` must have the same number',
      'ft.grad(lambda x: fnp.sum(fnp.take_along_axis(x, np.zeros((1, 1), int), axis=0)))(x)',
      "Give indices arr's number of axes (add size-1 axes with `[:, None]`)."),
    E('ValueError', 'numpy/_shapes.py', 'put_along_axis: inplace=True is not supported',
      'fnp.put_along_axis(x, np.array([0]), 9.0, 0, inplace=True)',
      'Pass inplace=False (the default) and use the array put_along_axis returns.'),
    E('ValueError', 'numpy/_shapes.py', 'argsort: `order` (structured arrays) is not supported',
      'ft.vmap(lambda a: fnp.argsort(a, order="f"))(np.ones((2, 3)))',
      "Sort by one field: pass that field's array (functrans has no structured arrays)."),
    E('ValueError', 'numpy/_shapes.py', 'searchsorted: `a` must be 1-d',
      'ft.vmap(lambda v: fnp.searchsorted(np.ones((2, 2)), v))(x)',
      'Search a sorted 1-d array (ravel or vmap over rows).'),
    E('ValueError', 'numpy/_shapes.py', "searchsorted: side must be 'left' or 'right'",
      'ft.vmap(lambda v: fnp.searchsorted(x, v, side="middle"))(x)',
      "Use side='left' or side='right'."),
    E('ValueError', 'numpy/_shapes.py', 'select: condlist and choicelist must have the same length',
      'ft.grad(lambda x: fnp.sum(fnp.select([x > 1.0], [x, x])))(x)',
      'Give one choice per condition.'),
    E('ValueError', 'numpy/_shapes.py', 'select: condlist is empty',
      'ft.grad(lambda x: fnp.select([], []) + fnp.sum(x))(x)',
      'Give at least one condition and choice.'),
    E('ValueError', 'numpy/_shapes.py', 'array_split: the number of sections must be larger than 0',
      'ft.grad(lambda x: fnp.sum(fnp.array_split(x, 0)[0]))(x)',
      'Ask for one section or more.'),
    E('ValueError', 'numpy/_shapes.py', 'split: array split does not result in an equal division',
      'ft.grad(lambda x: fnp.sum(fnp.split(x, 2)[0]))(x)',
      'Use a number of sections that divides the axis, or `fnp.array_split`.'),
    E('ValueError', 'numpy/_shapes.py', ' only works on arrays of ',
      'ft.grad(lambda x: fnp.sum(fnp.dsplit(x, 1)[0]))(x)',
      'dsplit needs 3 axes, vsplit/hsplit 2 and 1: use `fnp.split` with `axis=`.'),
    E('ValueError', 'numpy/_shapes.py', 'repeat: `repeats` may not contain negative values',
      'ft.grad(lambda x: fnp.sum(fnp.repeat(x, -1)))(x)',
      'Repeat zero or more times.'),
    E('ValueError', 'numpy/linalg.py', 'norm: invalid norm order {} for matrices',
      'ft.grad(lambda x: fnp.linalg.norm(fnp.outer(x, x), ord=3))(x)',
      "Use a matrix order: None/'fro', 'nuc', 1, -1, 2, -2, inf or -inf."),
    E('ValueError', 'numpy/linalg.py', 'norm: invalid norm order {} for vectors',
      'ft.grad(lambda x: fnp.linalg.norm(x, ord="fro"))(x)',
      "Use a number (or inf) as the vector order; 'fro' and 'nuc' need two axes."),
    E('TypeError', 'numpy/linalg.py', 'matrix_power: the exponent must be an integer',
      'ft.grad(lambda x: fnp.sum(fnp.linalg.matrix_power(fnp.outer(x, x), 1.5)))(x)',
      'Use an integer power; for a real one, use eigh of a symmetric matrix.'),
    E('ValueError', 'numpy/linalg.py', 'matrix_power: expected a stack of square matrices',
      'ft.grad(lambda x: fnp.sum(fnp.linalg.matrix_power(x, 2)))(x)',
      'Raise square matrices (last two axes equal) to a power.'),
    E('TypeError', 'numpy/linalg.py', 'multi_dot: `out` is not supported',
      'ft.grad(lambda x: fnp.sum(fnp.linalg.multi_dot([x, x], out=np.empty(()))))(x)',
      'Drop `out=` and use the returned array.'),
    E('ValueError', 'numpy/linalg.py', 'multi_dot: expecting at least two arrays',
      'ft.grad(lambda x: fnp.sum(fnp.linalg.multi_dot([x])))(x)',
      'Pass two arrays or more (use `fnp.matmul` for two).'),
    E('ValueError', 'numpy/linalg.py', 'norm: axis must be an int or a 2-tuple of distinct axes',
      'ft.grad(lambda x: fnp.linalg.norm(fnp.outer(x, x), axis=(0, -2)))(x)',
      'Give one axis (vector norm) or two different axes (matrix norm).'),
    # ---- IndexError -------------------------------------------------------------------------
    E("IndexError", "numpy/__init__.py", "boolean scalar indices are not supported",
      "ft.grad(lambda x: fnp.sum(x[True]))(x)", "Select with `fnp.where(condition, x, 0.0)`."),
    E("IndexError", "numpy/__init__.py", "arrays used as indices must be of integer (or boolean) type",
      "ft.grad(lambda x: x[x[0]])(x)",
      "Index with integers: `i.astype(int)` on a concrete value, or compute the index outside."),
    E("IndexError", "numpy/__init__.py", "only integers, slices, None, Ellipsis and integer or boolean",
      'ft.grad(lambda x: x["first"])(x)', "Index with integers, slices, None, Ellipsis or int/bool arrays."),
    E("IndexError", "numpy/__init__.py", "too many indices for array",
      "ft.grad(lambda x: x[0, 0])(x)", "Use at most one index per axis."),
    # ---- NotImplementedError: extending functrans ----------------------------------------------
    E("NotImplementedError", "core.py", "evaluation rule for '",
      'core.Primitive("no_impl").bind(1.0)',
      "Give the primitive its NumPy implementation: `Primitive(name, impl)` or `prim.def_impl(impl)`."),
    E("NotImplementedError", "core.py", ".process: a Trace subclass must implement",
      'core.Trace(None, "mine").process(core.add_p, (1.0, 2.0), {})',
      "Subclass Trace and define `process(prim, args, params)`."),
    E("NotImplementedError", "forward.py", "jvp rule for '",
      'ft.jvp(lambda a: core.Primitive("no_rules", np.sin).bind(a), (1.0,), (1.0,))',
      "Register a tangent rule: `forward.defjvp(prim, ...)` (docs/adding_a_primitive.md)."),
    E("NotImplementedError", "reverse.py", "vjp rule for '",
      'ft.grad(lambda a: core.Primitive("no_rules", np.sin).bind(a))(1.0)',
      "Register a cotangent rule: `reverse.defvjp(prim, ...)` (docs/adding_a_primitive.md)."),
    E("NotImplementedError", "batching.py", "batching rule for '",
      'ft.vmap(lambda a: core.Primitive("no_rules", np.sin).bind(a))(x)',
      "Register a batching rule in `batching.batch_rules` (docs/adding_a_primitive.md)."),
    # ---- AssertionError: check_grads ------------------------------------------------------------
    E("AssertionError", "test_util.py", ": worst mismatch at leaf ",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: (2.0 * g * fnp.cos(x),))  # wrong by 2\n"
      "ft.check_grads(h, (x,), modes=(\"rev\",))",
      "The derivative disagrees with finite differences: fix the rule the message points at "
      "(or loosen atol/rtol for an ill-conditioned function)."),
    E("AssertionError", "test_util.py", ": NaN mismatch in leaf ",
      "ft.check_grads(lambda x: fnp.sqrt(x * x), (0.0,))",
      "A NaN derivative where finite differences are finite: a singular point (here sqrt'(0) * 0); "
      "check elsewhere or make the function differentiable there."),
    E("AssertionError", "test_util.py", ": leaf ",
      "ft.check_grads(lambda x: x if x.dtype == np.float32 else fnp.stack([x, x]), (np.float32(1.0),))",
      "The function's output shape must not depend on the input's dtype (check_grads evaluates "
      "finite differences in float64)."),
]


# ---------------------------------------------------------------------------------------
# Running the examples and rendering docs/errors.md.

def run_example(entry: Entry) -> BaseException | None:
    """Run ``entry.example`` after :data:`PRELUDE`; the exception it raised (None if none)."""
    import warnings
    namespace: dict = {"__name__": "errors_example"}
    exec(PRELUDE, namespace)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(entry.example, namespace)
    except BaseException as e:      # the point of the example
        return e
    return None


GROUPS = [
    ("LeakedTracerError", "`functrans.errors.LeakedTracerError` (a `FunctransError`): a traced value "
     "was used outside the transform that traces it."),
    ("ConcretizationError", "`functrans.errors.ConcretizationError` (a `FunctransError` and a "
     "`TypeError`): Python needed one concrete value of a value that has none."),
    ("TypeError", "`TypeError`: a value of the wrong kind (a non-array, a wrong dtype, a rule "
     "returning the wrong thing)."),
    ("ValueError", "`ValueError`: a value of the right kind but the wrong shape, size, axis or option."),
    ("IndexError", "`IndexError`: indexing a traced value, as NumPy raises it."),
    ("NotImplementedError", "`NotImplementedError`: extending functrans (a primitive or trace "
     "missing a rule)."),
    ("AssertionError", "`AssertionError`: raised by `ft.check_grads` when a derivative is wrong."),
]

HEADER = """\
# Error catalogue

Every error functrans raises, grouped by class, with a call that raises it, the message it
gives and how to fix the call. Messages name the argument, what was expected and what was
got. `FunctransError` (in `functrans.errors`) is the base of the errors specific to
functrans; everything else is a built-in class, as NumPy would raise.

A failure inside a transformed function leaves no state behind: the next call works.

This page is generated from `tests/error_catalogue.py` (which `tests/test_error_catalogue.py`
checks against every `raise` in `functrans/`): after changing a message or adding a raise
site, add its entry there and run `python tests/error_catalogue.py --write`.

Every example below runs after:

```python
{prelude}```
"""


def render() -> str:
    parts = [HEADER.format(prelude=PRELUDE)]
    for cls, intro in GROUPS:
        parts.append(f"\n## {cls}\n\n{intro}\n")
        for entry in (e for e in CATALOGUE if e.cls == cls):
            err = run_example(entry)
            message = "(no error raised)" if err is None else f"{type(err).__name__}: {err}"
            wrapped = "\n".join(textwrap.fill(line, 100, break_long_words=False, break_on_hyphens=False)
                                for line in message.splitlines())
            title = entry.fragment.strip().replace("{}", "…")
            parts.append(f"\n### `{title}`\n\nRaised in `functrans/{entry.file}`.\n\n"
                         f"```python\n{entry.example}\n```\n\n```text\n{wrapped}\n```\n\n"
                         f"**Fix:** {entry.fix}\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    text = render()
    if "--write" in sys.argv:
        DOC.write_text(text)
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        print(text)
