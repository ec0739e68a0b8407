# %% [markdown]
# # Under the hood: transforms are interpreters
#
# How can `ft.grad(ft.vmap(f))` or `ft.jacfwd(ft.grad(f))` work for *any* Python function
# `f`, at any nesting depth? This notebook opens the box:
#
# 1. every operation is a **primitive** applied with `bind`;
# 2. `bind` hands the primitive to the **current trace** (an interpreter); each transform
#    is a trace stacked on a *parent*, and its rules run **under the parent**;
# 3. tracers are matched to their trace by identity, which rules out **perturbation
#    confusion**;
# 4. so **adding a primitive** means giving it an implementation and one rule per
#    interpreter: jvp (forward mode), vjp (reverse mode) and batching (`vmap`). Then every
#    transform, and every nesting of them, works on it.

# %%
%matplotlib inline
import inspect

import numpy as np
import matplotlib.pyplot as plt

import functrans as ft
import functrans.numpy as fnp
from functrans import core

# %% [markdown]
# ## 1. Primitives and `bind`
#
# `fnp.sin` is the application of the primitive `sin_p`. A `Primitive` has a name, a NumPy
# implementation (`impl`) and, registered elsewhere, its rules. `Primitive.bind` is the
# single door every operation goes through:

# %%
from functrans.primitives import sin_p

print(sin_p, sin_p.impl)
print(inspect.getsource(core.Primitive.bind))

# %% [markdown]
# With no transform running, `bind` calls the implementation directly (that is why plain
# calls of functrans functions cost almost nothing more than NumPy). Otherwise it calls
# `process` on the **current trace**.
#
# ## 2. The current trace, and rules that run under the parent
#
# A trace is an interpreter: `process(primitive, args, params)` says what applying a
# primitive means to it. The bottom of the stack, `EvalTrace`, just evaluates. Each
# transform pushes a new trace whose `parent` is the trace that was current when it started,
# and wraps the function's inputs in **tracers** of that trace: values that route every
# operation on them (functrans functions, but also Python operators and NumPy functions,
# through NumPy's protocols) to `bind`.
#
# We can write a complete (if useless) transform in a few lines: an interpreter that prints
# every primitive it sees and lets its parent compute it, and its tracer.

# %%
class LoggingTracer(core.Tracer):
    """A value of the logging trace: wraps a value of the parent level."""
    __slots__ = ("val",)

    def __init__(self, trace, val):
        self._trace, self.val = trace, val

    @property
    def shape(self):
        return core.shape_of(self.val)

    @property
    def dtype(self):
        return core.dtype_of(self.val)

    def concrete(self):
        return core.concrete_value(self.val)


class LoggingTrace(core.Trace):
    """An interpreter that prints each primitive, then hands it to its parent."""

    def __init__(self, parent):
        super().__init__(parent, "log")

    def process(self, prim, args, params):
        # unwrap our own tracers only; anything else is a constant to us
        vals = [a.val if isinstance(a, LoggingTracer) and a._trace is self else a for a in args]
        print(f"  {prim.name}({', '.join(str(core.shape_of(v)) for v in vals)})")
        out = self.parent.process(prim, vals, params)
        if prim.multiple_results:
            return tuple(LoggingTracer(self, o) for o in out)
        return LoggingTracer(self, out)


def logged(fun):
    """The transform: run fun on LoggingTracers, with a LoggingTrace current."""
    def run(*args):
        trace = LoggingTrace(core.current_trace())
        out = core.trace_call(trace, fun, [LoggingTracer(trace, np.asarray(a)) for a in args])
        return ft.tree.map(lambda o: o.val if isinstance(o, LoggingTracer) else o, out)
    return run


def f(x):
    return fnp.sin(x) * x

print("f:")
print(logged(f)(2.0))

# %% [markdown]
# Now put a transform **inside** the logging interpreter. `ft.grad` pushes a reverse-mode
# trace above it: the reverse trace records each primitive on its tape and evaluates it on
# the primal values *at the parent level*, so the log shows the forward pass; then the
# backward pass runs the vjp rules, written with functrans operations, which also land in
# the log. `vmap` pushes a batching trace: its rules re-bind the primitive on the whole
# batch, so the log shows batched shapes.

# %%
print("grad(f):")
print(logged(ft.grad(f))(2.0))
print("vmap(f):")
print(logged(ft.vmap(f))(np.arange(3.0)))

# %% [markdown]
# A traced value knows its trace. From inside a function we can look at the stack of
# interpreters (current trace first, following `parent`) and at how values are wrapped:
# under `grad(vmap(g))` a value is a `vmap` tracer around a `grad` tracer around an array.

# %%
def trace_stack():
    t, names = core.current_trace(), []
    while t is not None:
        names.append(t.transform)
        t = t.parent
    return " -> ".join(names)

def g(x):
    print(f"  stack: {trace_stack():28s} value: {x!r}")
    return fnp.sin(x)

print("grad(sum(vmap(g))):")
ft.grad(lambda x: fnp.sum(ft.vmap(g)(x)))(np.arange(2.0))
print("jacfwd(grad(sum(g))):  (jacfwd is vmap of jvp)")
_ = ft.jacfwd(ft.grad(lambda x: fnp.sum(g(x))))(np.arange(2.0))

# %% [markdown]
# Here is the forward-mode interpreter's `process`. It unwraps the tracers that belong to
# **this** trace (`x._trace is self`) and treats everything else, including tracers of
# other traces, as constants. If nothing is its own, the primitive goes straight to the
# parent. Otherwise it runs the primitive's jvp rule **with the parent as the current
# trace**: the rule's own operations are interpreted by the enclosing transforms, which is
# what makes `grad(grad(f))`, `jacfwd(jacrev(f))` and `vmap(grad(f))` exact.

# %%
print(inspect.getsource(ft.forward.JVPTrace.process))

# %% [markdown]
# ## 3. Perturbation confusion
#
# Consider $\frac{d}{dx}\left[x \cdot \frac{d}{dy}(x + y)\Big|_{y=1}\right]_{x=1}$. The inner
# derivative is 1 (whatever `x` is), so the answer is $\frac{d}{dx}[x] = 1$.
#
# A naive forward-mode implementation with untagged dual numbers gets this wrong: the inner
# derivative sees `x`'s perturbation (from the outer derivative) as if it were `y`'s, and
# returns 2 instead of 1 (Siskind & Pearlmutter call this *perturbation confusion*).

# %%
class Dual:
    """A naive dual number v + d·ε, with no record of WHICH derivative ε belongs to."""

    def __init__(self, v, d):
        self.v, self.d = v, d

    def __add__(self, other):
        other = other if isinstance(other, Dual) else Dual(other, 0.0)
        return Dual(self.v + other.v, self.d + other.d)

    def __mul__(self, other):
        other = other if isinstance(other, Dual) else Dual(other, 0.0)
        return Dual(self.v * other.v, self.d * other.v + self.v * other.d)

    __radd__, __rmul__ = __add__, __mul__

def naive_derivative(fun):
    return lambda x: fun(Dual(x, 1.0)).d

print("naive dual numbers:",
      naive_derivative(lambda x: x * naive_derivative(lambda y: x + y)(1.0))(1.0))

# %% [markdown]
# In functrans each `ft.grad` (or `ft.jvp`) call creates its own trace, and a tracer belongs
# to exactly one trace, checked by identity. In the inner derivative `x` is a tracer of the
# *outer* trace, so the inner trace treats it as a constant: its derivative with respect
# to `y` is 1. The outer trace then differentiates `x * 1`.

# %%
print("functrans grad:     ",
      ft.grad(lambda x: x * ft.grad(lambda y: x + y)(1.0))(1.0))
print("functrans jvp:      ",
      ft.jvp(lambda x: x * ft.jvp(lambda y: x + y, (1.0,), (1.0,))[1], (1.0,), (1.0,))[1])
print("mixed modes:        ",
      ft.grad(lambda x: x * ft.jacfwd(lambda y: x + y)(1.0))(1.0))

# %% [markdown]
# ## 4. Adding a new primitive
#
# Suppose we want SiLU (also called swish), $\mathrm{silu}(x) = x\,\sigma(x) = x / (1 +
# e^{-x})$, as a single primitive with a NumPy implementation, rather than as a composition
# of existing operations. (A composition would be differentiable already; a primitive is the
# way to wrap an operation functrans cannot see through, such as a call into a compiled
# library, or to give an operation a cheaper or more stable derivative.)
#
# ### The implementation
#
# A `Primitive` needs a name and an implementation on NumPy arrays. `bind` is how it is
# applied; a small wrapper function gives it a friendly signature.

# %%
from functrans.core import Primitive

def silu_impl(x):
    return x / (1.0 + np.exp(-x))

silu_p = Primitive("silu", silu_impl)

def silu(x):
    """SiLU: x * sigmoid(x), elementwise."""
    return silu_p.bind(x)

silu(np.array([-1.0, 0.0, 2.0]))

# %% [markdown]
# It evaluates, but no interpreter knows what to do with it yet, and each says so:

# %%
for name, transform in [("grad", lambda: ft.grad(silu)(1.0)),
                        ("jvp", lambda: ft.jvp(silu, (1.0,), (1.0,))),
                        ("vmap", lambda: ft.vmap(silu)(np.ones(3)))]:
    try:
        transform()
    except NotImplementedError as e:
        print(f"{name:5s} -> NotImplementedError: {e}")

# %% [markdown]
# ### The rules
#
# $\mathrm{silu}'(x) = \sigma(x)\,(1 + x\,(1 - \sigma(x)))$. We write the derivative **with
# functrans operations** (not raw NumPy), so that the rules themselves can be
# differentiated and batched by outer transforms: this is what gives higher derivatives.
#
# * **jvp** (forward mode), registered with `functrans.forward.defjvp`: one rule per
#   argument, `rule(tangent, ans, *primals)` returns the tangent of the output;
# * **vjp** (reverse mode), registered with `functrans.reverse.defvjp`: one rule per
#   argument, `rule(cotangent, ans, *primals)` returns the cotangent of that argument;
# * **batching** (`vmap`), an entry of `functrans.batching.batch_rules`:
#   `rule(axis_size, values, batch_dims)` returns `(output, output_batch_dim)`. An
#   elementwise function just applies itself to the batched array and keeps its batch axis;
#   `functrans.primitives.defvectorized(silu_p)` registers exactly this rule.

# %%
from functrans.forward import defjvp
from functrans.reverse import defvjp
from functrans.batching import batch_rules

def silu_derivative(x):
    s = ft.nn.sigmoid(x)
    return s * (1 + x * (1 - s))

defjvp(silu_p, lambda t, ans, x: t * silu_derivative(x))
defvjp(silu_p, lambda ct, ans, x: ct * silu_derivative(x))

def silu_batch_rule(axis_size, values, batch_dims):
    (x,), (bdim,) = values, batch_dims
    return silu(x), bdim            # elementwise: same batch axis in and out

batch_rules[silu_p] = silu_batch_rule
# (equivalently: functrans.primitives.defvectorized(silu_p))

# %% [markdown]
# ### Every transform now works, in any combination

# %%
xs = np.linspace(-3.0, 3.0, 5)
print("grad:          ", ft.grad(silu)(1.0))
print("grad of grad:  ", ft.grad(ft.grad(silu))(1.0))
print("vmap(grad):    ", ft.vmap(ft.grad(silu))(xs))
print("jacfwd:\n", ft.jacfwd(silu)(xs))
print("jacrev == jacfwd:", np.allclose(ft.jacrev(silu)(xs), ft.jacfwd(silu)(xs)))
print("hessian of sum (diagonal):", np.diag(ft.hessian(lambda x: fnp.sum(silu(x)))(xs)))
print("vmap(vmap):    ", ft.vmap(ft.vmap(silu))(np.ones((2, 3)))[0])

# %% [markdown]
# `ft.check_grads` compares forward and reverse mode, to second order, with finite
# differences (it raises `AssertionError` on a mismatch), and the derivatives agree with the
# same function written as a composition of existing primitives:

# %%
ft.check_grads(silu, (xs,), order=2)
composed = lambda x: x * ft.nn.sigmoid(x)
print(np.allclose(ft.vmap(ft.grad(silu))(xs), ft.vmap(ft.grad(composed))(xs)))
print(np.allclose(ft.vmap(ft.grad(ft.grad(silu)))(xs), ft.vmap(ft.grad(ft.grad(composed)))(xs)))

# %%
grid = np.linspace(-6, 6, 241)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(grid, silu(grid), label="silu(x)")
ax.plot(grid, ft.vmap(ft.grad(silu))(grid), "--", label="silu'(x): vmap(grad(silu))")
ax.plot(grid, ft.vmap(ft.grad(ft.grad(silu)))(grid), ":", label="silu''(x): vmap(grad(grad(silu)))")
ax.set_xlabel("x")
ax.legend()
ax.grid(True)

# %% [markdown]
# The logging interpreter from section 2 shows what the new primitive's rules do under
# `grad`: the forward pass applies `silu`, then the backward pass runs the vjp rule, built
# from functrans operations (the primitives of `sigmoid`, `mul`, `add`, ...).

# %%
print(logged(ft.grad(silu))(1.0))
