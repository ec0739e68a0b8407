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
    E("ConcretizationError", "numpy/__init__.py", " needs a concrete value: ",
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
    E("TypeError", "api.py", "jvp: primals and tangents must be tuples",
      "ft.jvp(fnp.sin, x, x)", "Pass one entry per argument: `ft.jvp(fun, (x,), (t,))`."),
    E("TypeError", "api.py", "jvp: each tangent must have its primal's dtype",
      "ft.jvp(fnp.sin, (x,), (x.astype(np.float32),))",
      "Give each tangent its primal's dtype: `t.astype(x.dtype)`."),
    E("TypeError", "api.py", "vmap: in_axes entries must be int or None",
      'ft.vmap(fnp.sin, in_axes="0")(x)', "Use an int (the mapped axis) or None (not mapped)."),
    E("TypeError", "api.py", "batch_jacobian: argnums must be an int",
      "ft.batch_jacobian(f, argnums=(0,))", "batch_jacobian differentiates one argument: `argnums=0`."),
    E("TypeError", "api.py", "with_gradient: hook must be callable",
      "ft.with_gradient(x, 3.0)", "Pass a function `hook(g)` returning an array or None."),
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
    E("TypeError", "numpy/_protocols.py", "has no functrans rule for traced values (with arguments",
      "ft.grad(lambda x: np.add.reduce(x))(x)",
      "Call the `functrans.numpy` function named in the message, without `out=` and other extra arguments."),
    E("TypeError", "numpy/_protocols.py", "has no functrans rule for traced values; use the functrans.numpy",
      "ft.grad(lambda x: np.unwrap(x).sum())(x)",
      "Write it with `functrans.numpy` functions (or add it there: docs/adding_a_primitive.md)."),
    E("TypeError", "numpy/_protocols.py", "the hook cannot modify this cotangent in place",
      """\
def double(g):
    g *= 2.0
ft.jacrev(lambda x: ft.with_gradient(x, double) * 2.0)(x)""",
      "Return the new cotangent from the hook (`return g * 2`) instead of modifying it in place."),
    # ---- TypeError: custom derivatives ------------------------------------------------------
    E("TypeError", "custom_derivatives.py", "custom_vjp: expected a function",
      "ft.custom_vjp(3.0)", "Decorate a function: `@ft.custom_vjp def f(x): ...`."),
    E("TypeError", "custom_derivatives.py", ".defvjp expects callables",
      CUSTOM_VJP + "h.defvjp(1, 2)", "Pass the rule functions: `h.defvjp(h_fwd, h_bwd)`."),
    E("TypeError", "custom_derivatives.py", "was called before a rule was attached: call",
      CUSTOM_VJP + "h(1.0)", "Attach the rule with `h.defvjp(fwd, bwd)` before calling `h`."),
    E("TypeError", "custom_derivatives.py", "custom_vjp function '{}': pass arguments positionally",
      CUSTOM_VJP + "h.defvjp(lambda x: (h(x), x), lambda x, g: (g * fnp.cos(x),))\nh(x=1.0)",
      "Call `h(1.0)`, not `h(x=1.0)`."),
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
    E("TypeError", "custom_derivatives.py", "custom_jvp: expected a function",
      "ft.custom_jvp(3.0)", "Decorate a function: `@ft.custom_jvp def f(x): ...`."),
    E("TypeError", "custom_derivatives.py", ".defjvp expects a callable",
      CUSTOM_JVP + "h.defjvp(3.0)", "Decorate the rule: `@h.defjvp def h_jvp(primals, tangents): ...`."),
    E("TypeError", "custom_derivatives.py", "was called before a rule was attached: decorate",
      CUSTOM_JVP + "h(1.0)", "Attach the rule with `@h.defjvp` before calling `h`."),
    E("TypeError", "custom_derivatives.py", "custom_jvp function '{}': pass arguments positionally",
      CUSTOM_JVP + "h.defjvp(lambda p, t: (h(p[0]), t[0] * fnp.cos(p[0])))\nh(x=1.0)",
      "Call `h(1.0)`, not `h(x=1.0)`."),
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
    E("ValueError", "api.py", "pullback: the cotangent must have the output's shapes",
      "ft.vjp(fnp.sin, x)[1](np.ones(2))", "Give the cotangent the output's shape."),
    E("ValueError", "api.py", "jvp: each tangent must have its primal's shape",
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
    E("ValueError", "tree.py", "must be a prefix of the arguments' structure: got a ",
      'ft.vmap(lambda p: p[0], in_axes=({"a": 0},))((x, x))',
      "in_axes must mirror the arguments' containers (or be one int/None for a whole subtree)."),
    E("ValueError", "tree.py", "must be a prefix of the arguments' structure: got ",
      "ft.vmap(lambda p: p[0], in_axes=((0, 0, 0),))((x, x))",
      "in_axes must mirror the arguments' containers (or be one int/None for a whole subtree)."),
    # ---- ValueError: functrans.numpy -------------------------------------------------------
    E("ValueError", "numpy/__init__.py", " is out of bounds for an array of dimension ",
      "fnp.sum(x, axis=2)", "Use an axis with `-ndim <= axis < ndim`."),
    E("ValueError", "numpy/__init__.py", "reshape: only order='C' or 'F' is supported",
      'ft.grad(lambda x: fnp.sum(fnp.reshape(x, (3, 1), order="A")))(x)',
      "Say which order is meant: order='C' (row-major) or order='F' (column-major)."),
    E("ValueError", "numpy/__init__.py", "transpose: axes must be a permutation of range(",
      "fnp.transpose(np.ones((2, 3)), (1,))", "Pass every axis once, e.g. `(1, 0)`."),
    E("ValueError", "numpy/__init__.py", "squeeze: cannot select an axis to squeeze out",
      "fnp.squeeze(x, axis=0)", "Squeeze only axes of size 1."),
    E("ValueError", "numpy/__init__.py", "stack: all input arrays must have the same shape",
      "fnp.stack([x, np.ones(2)])", "Stack arrays of one shape (pad or reshape them first)."),
    E("ValueError", "numpy/__init__.py", "matmul: input operand does not have enough dimensions",
      "ft.grad(lambda x: fnp.sum(fnp.matmul(2.0, x)))(x)",
      "Use `*` for a scalar factor; matmul needs arrays of rank >= 1."),
    E("ValueError", "numpy/__init__.py", "einsum: the subscripts name ",
      'fnp.einsum("i,i->", x)', "Pass one operand per comma-separated subscript."),
    E("ValueError", "numpy/__init__.py", "einsum: subscripts ",
      'fnp.einsum("ij->", x)', "Give each operand one subscript letter per axis."),
    E("ValueError", "numpy/linalg.py", "norm: ord=",
      "fnp.linalg.norm(np.ones((2, 2)), ord=1, axis=(0, 1))",
      "Use a vector norm over one axis, or ord=None/'fro' over two."),
    E("ValueError", "numpy/linalg.py", "eigh: only UPLO='L' is supported",
      'fnp.linalg.eigh(np.eye(2), UPLO="U")', "Symmetrise the matrix and use UPLO='L'."),
    E("ValueError", "numpy/linalg.py", "svd: full_matrices=True of a non-square",
      "fnp.linalg.svd(np.ones((3, 2)))", "Pass `full_matrices=False`."),
    E("ValueError", "numpy/linalg.py", "qr: only mode='reduced' of a matrix with rows >= columns",
      'fnp.linalg.qr(np.ones((2, 3)))',
      "Use mode='reduced' on a tall (or square) matrix; transpose a wide one."),
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
