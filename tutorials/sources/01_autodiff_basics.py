# %% [markdown]
# # Automatic differentiation
#
# *A functrans port of "Automatic differentiation" from* Dive into Deep Learning
# *(d2l.ai, section `sec_autograd`).*
#
# Differentiation is a crucial step in nearly every optimisation algorithm used to train deep
# networks. Doing it by hand is tedious and error-prone, and more so as models grow. Modern
# frameworks take this off our plate with *automatic differentiation* (autograd): as data
# passes through each successive function, the framework follows how each value depends on
# the others, and to compute derivatives it works backwards through that graph applying the
# chain rule. Applying the chain rule this way is called *backpropagation*.
#
# Autograd has a long history (Wengert 1964; Speelpenning 1980; Griewank 1989), and
# backpropagation, although the default, is not the only choice: Julia, for example, uses
# forward propagation. functrans offers both.
#
# **The functrans way.** The d2l chapter shows three styles: MXNet's `attach_grad` +
# `autograd.record()`, PyTorch's `requires_grad` + `.backward()` + `.grad` buffers, and
# TensorFlow's `GradientTape`. functrans, like JAX, is *functional*: there is no tape to open
# and no gradient buffer to attach. You write the computation as a Python function and
# **transform** it: `ft.grad(f)` is a new function that returns the gradient of `f`.

# %%
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import functrans as ft
import functrans.numpy as fnp

# %% [markdown]
# ## A simple function
#
# Suppose we want to **differentiate the function $y = 2\mathbf{x}^{\top}\mathbf{x}$ with
# respect to the column vector $\mathbf{x}$**. First we give `x` an initial value.

# %%
x = fnp.arange(4.0)
x

# %% [markdown]
# In MXNet and PyTorch we would now allocate a place to store the gradient (`x.attach_grad()`,
# `x.requires_grad_(True)`), and in TensorFlow wrap `x` in a `tf.Variable`. Deep learning
# repeatedly takes derivatives with respect to the same parameters, so those frameworks reuse
# one gradient buffer per parameter. In functrans nothing needs to be prepared: `x` stays a
# plain NumPy array and a gradient is a *new* array, returned by the transformed function,
# with the same shape as `x` (the gradient of a scalar function of a vector is a vector of
# the same shape).
#
# **Now we compute a function of `x`.** Written as a Python function, it can be called
# normally ...

# %%
def y_of(x):
    return 2 * fnp.dot(x, x)

y = y_of(x)
y

# %% [markdown]
# ... **or differentiated.** `ft.grad(y_of)` is a function that computes the gradient of `y`
# with respect to its (first) argument: the counterpart of `y.backward(); x.grad` or of
# `t.gradient(y, x)`.

# %%
x_grad = ft.grad(y_of)(x)
x_grad

# %% [markdown]
# **We already know that the gradient of $y = 2\mathbf{x}^{\top}\mathbf{x}$ with respect
# to $\mathbf{x}$ is $4\mathbf{x}$.** Let us check that the automatic gradient matches.

# %%
x_grad == 4 * x

# %% [markdown]
# **Now we compute another function of `x` and take its gradient.** PyTorch accumulates new
# gradients into the existing `.grad` buffer (so `x.grad.zero_()` is needed first), while
# MXNet and TensorFlow overwrite it. functrans has no buffer at all: every call returns a
# fresh gradient, so nothing can be accumulated by accident. (To add up the gradients of
# several objectives, differentiate their sum, or add the returned arrays.)

# %%
ft.grad(lambda x: x.sum())(x)

# %% [markdown]
# ## Backward for non-scalar variables
#
# When `y` is a vector, the most natural interpretation of the derivative of `y` with respect
# to a vector `x` is a matrix, the *Jacobian*, holding the partial derivative of each
# component of `y` with respect to each component of `x`. For higher-order `y` and `x` the
# result can be an even higher-order tensor.
#
# Jacobians do show up in advanced techniques, but more commonly we want to **sum up the
# gradients of each component of `y`** with respect to the full vector `x`, giving a vector
# of the same shape as `x`: for example, when `y` holds the loss of each example of a batch.
#
# MXNet and TensorFlow silently sum a non-scalar target; PyTorch refuses unless told how to
# reduce it (`y.backward(gradient=v)` computes $\mathbf{v}^\top \partial_{\mathbf{x}}
# \mathbf{y}$). functrans follows PyTorch's caution: `ft.grad` needs a scalar output.

# %%
try:
    ft.grad(lambda x: x * x)(x)
except TypeError as e:
    print("TypeError:", e)

# %% [markdown]
# Either sum explicitly (the faster way, as `y.sum().backward()` in PyTorch) ...

# %%
ft.grad(lambda x: fnp.sum(x * x))(x)     # same as the gradient of y = sum(x * x)

# %% [markdown]
# ... or ask for the vector-Jacobian product $\mathbf{v}^\top \partial_{\mathbf{x}}
# \mathbf{y}$ directly: `ft.value_and_pullback` (alias `ft.vjp`) returns the value and a
# *pullback* function, which maps a cotangent `v` shaped like `y` to one cotangent per input.
# With `v` all ones this is PyTorch's `y.backward(gradient=torch.ones(len(y)))`.

# %%
y, pullback = ft.value_and_pullback(lambda x: x * x, x)
pullback(fnp.ones(len(y)))

# %% [markdown]
# And when the full Jacobian is what we want, `ft.jacobian` gives it; summing its rows gives
# back the gradient of the sum.

# %%
J = ft.jacobian(lambda x: x * x)(x)
print(J)
print(J.sum(axis=0))

# %% [markdown]
# ## Detaching computation
#
# Sometimes we want to **move some calculations outside of the recorded computational
# graph**: for example, an auxiliary intermediate term through which no gradient should
# flow. Say `z = x * y` and `y = x * x`, but we want the *direct* influence of `x` on `z`,
# not the influence conveyed through `y`. We create `u = stop_gradient(y)`: it has the value
# of `y`, but its provenance is erased, so no gradient flows from `u` back to `x`. The
# gradient of `z = u * x` is then `u`, not `3 * x * x` as `z = x * x * x` would suggest.
# (`ft.stop_gradient` is `y.detach()` in MXNet and PyTorch, `tf.stop_gradient` in TensorFlow.)

# %%
def z_of(x):
    y = x * x
    u = ft.stop_gradient(y)
    z = u * x
    return fnp.sum(z)

u = x * x
x_grad = ft.grad(z_of)(x)
x_grad == u

# %% [markdown]
# This detaches `y`'s ancestors only from the graph leading to `z`; the computation of `y`
# itself is unaffected, so we can still differentiate `y` with respect to `x`. (TensorFlow
# needs a `persistent=True` tape to take a second gradient from the same recording; a
# functrans function can be transformed as many times as we like.)

# %%
ft.grad(lambda x: fnp.sum(x * x))(x) == 2 * x

# %% [markdown]
# ## Gradients and Python control flow
#
# So far the path from input to output was well defined, as in `z = x * x * x`. Programming
# allows much more freedom: the result may depend on auxiliary variables or on conditional
# choices. One benefit of automatic differentiation is that **even if building the function
# required passing through a maze of Python control flow** (conditionals, loops, arbitrary
# function calls), **we can still compute the gradient of the result**. In the snippet
# below, both the number of iterations of the `while` loop and the branch of the `if`
# depend on the value of the input `a`.

# %%
def f(a):
    b = a * 2
    while fnp.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c

# %% [markdown]
# We call the function on a random value. Since the input is random we do not know what
# form the computation will take, but each time we differentiate `f(a)` on a specific input,
# functrans runs `f` on that input (values are concrete during differentiation, so `while`
# and `if` just work) and records the operations that actually happened.

# %%
rng = np.random.default_rng(0)
a = rng.normal(size=())
d = f(a)
d_grad = ft.grad(f)(a)
d_grad

# %% [markdown]
# Our function `f` is contrived, but its dependence on the input is simple: it is a *linear*
# function of `a` with a piecewise-defined scale. So `f(a) / a` is a constant, and it must
# match the gradient of `f(a)` with respect to `a`.

# %%
d_grad == d / a

# %% [markdown]
# Dynamic control flow is very common in deep learning: when processing text, for example,
# the computation depends on the length of the input. In such cases automatic
# differentiation becomes vital for statistical modelling, since it is impossible to
# compute the gradient a priori.
#
# ## Discussion
#
# You have now had a taste of the power of automatic differentiation. Libraries that compute
# derivatives automatically and efficiently are a big productivity boost for deep learning
# practitioners, letting them focus on higher-level concerns, and they let us design large
# models for which pen-and-paper gradients would be prohibitively time consuming.
#
# The basics to remember, functrans style: (i) write the computation as a function of the
# variables to differentiate; (ii) transform it with `ft.grad` (or `ft.value_and_pullback`,
# `ft.jacobian`, ...); (iii) call the transformed function; (iv) use the returned gradient.
#
# ## Exercises
#
# **1. Why is the second derivative much more expensive to compute than the first
# derivative?**
#
# A second derivative differentiates the *derivative computation*: the backward pass, which
# already costs a small multiple of the forward pass, is itself recorded and differentiated.
# For a function of $n$ inputs the full second derivative (the Hessian) has $n^2$ entries:
# forming it takes $n$ derivative passes (one Hessian-vector product per input direction),
# while the gradient takes one. Compare the gradient with the Hessian as $n$ grows:

# %%
import time

def g(x):
    return fnp.sum(fnp.sin(x) * fnp.cos(x[::-1]))

for n in (10, 100, 400):
    xn = np.linspace(0.0, 1.0, n)
    t0 = time.perf_counter()
    ft.grad(g)(xn)
    t1 = time.perf_counter()
    H = ft.hessian(g)(xn)
    t2 = time.perf_counter()
    print(f"n = {n:3d}: gradient {1e3 * (t1 - t0):6.2f} ms, Hessian {H.shape} "
          f"{1e3 * (t2 - t1):7.2f} ms")

# %% [markdown]
# A single second derivative along one direction, the Hessian-vector product `ft.hvp`, costs
# only a constant factor more than the gradient: use it when the full Hessian is not needed.
# For a scalar function of a scalar, `ft.grad(ft.grad(f))` is exactly that.
#
# **2. After running the function for backpropagation, immediately run it again and see
# what happens. Why?**
#
# In PyTorch the second `y.backward()` raises an error: the graph's intermediate buffers are
# freed by the first backward pass (unless `retain_graph=True`); TensorFlow's non-persistent
# tape likewise refuses a second `gradient` call. In functrans the gradient function is an
# ordinary function: calling it again re-runs the forward and backward passes and gives the
# same result (there is no buffer in which it could accumulate). A pullback returned by
# `ft.value_and_pullback` keeps its recording alive as long as it is referenced, so it too
# can be called again.

# %%
grad_y = ft.grad(y_of)
print(grad_y(x))
print(grad_y(x))
y, pullback = ft.value_and_pullback(y_of, x)
print(pullback(1.0))
print(pullback(1.0))

# %% [markdown]
# **3. In the control-flow example, what happens if we change `a` to a random vector or a
# matrix? The result of `f(a)` is then no longer a scalar. What happens to the result, and
# how do we analyse it?**
#
# `ft.grad` refuses a non-scalar output (MXNet and TensorFlow would silently return the
# gradient of the sum). The Jacobian is the right object: `f` still multiplies its whole
# input by one scale factor chosen by the control flow (now the norm of the whole vector
# decides the number of doublings, and the sign of the *sum* picks the branch), so the
# Jacobian is that constant times the identity, and the gradient of the sum is that
# constant in every entry.

# %%
a = rng.normal(size=3)
try:
    ft.grad(f)(a)
except TypeError as e:
    print("TypeError:", e)
print("f(a) / a =", f(a) / a)
print(ft.jacobian(f)(a))
print("gradient of the sum:", ft.grad(lambda a: fnp.sum(f(a)))(a))

# %%
A = rng.normal(size=(2, 2))
JA = ft.jacobian(f)(A)
print(JA.shape)                                   # out.shape + in.shape
print(np.allclose(JA.reshape(4, 4), (f(A) / A).flat[0] * np.eye(4)))

# %% [markdown]
# **4. Let $f(x) = \sin(x)$. Plot the graph of $f$ and of its derivative $f'$. Do not
# exploit the fact that $f'(x) = \cos(x)$; use automatic differentiation instead.**
#
# `ft.grad(fnp.sin)` is the derivative of a scalar function; `ft.vmap` maps it over a whole
# array of points. (Since the points are independent, the gradient of `sum(sin(x))` gives
# the same values in one backward pass.)

# %%
xs = fnp.linspace(-2 * np.pi, 2 * np.pi, 201)
dsin = ft.vmap(ft.grad(fnp.sin))(xs)
print(np.allclose(dsin, ft.grad(lambda x: fnp.sum(fnp.sin(x)))(xs)))
print("max |f'(x) - cos(x)| =", np.abs(dsin - np.cos(xs)).max())

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(xs, fnp.sin(xs), label="f(x) = sin(x)")
ax.plot(xs, dsin, "--", label="f'(x) by ft.vmap(ft.grad(fnp.sin))")
ax.set_xlabel("x")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
ax.grid(True)

# %% [markdown]
# **5. Let $f(x) = ((\log x^2) \cdot \sin x) + x^{-1}$. Write out a dependency graph tracing
# results from $x$ to $f(x)$.**
#
# ```
# x ──► a = x²  ──► b = log a ──┐
# │                             ├─► d = b · c ──┐
# ├──► c = sin x ───────────────┘               ├─► f = d + e
# └──► e = x⁻¹ ─────────────────────────────────┘
# ```
#
# **6. Use the chain rule to compute the derivative $\frac{df}{dx}$ of the aforementioned
# function, placing each term on the dependency graph that you constructed previously.**
#
# Local derivatives on the edges: $\partial a/\partial x = 2x$, $\partial b/\partial a =
# 1/a$, $\partial c/\partial x = \cos x$, $\partial d/\partial b = c$, $\partial d/\partial c
# = b$, $\partial e/\partial x = -x^{-2}$, $\partial f/\partial d = \partial f/\partial e =
# 1$. Summing over the paths from $x$ to $f$:
#
# $$\frac{df}{dx} = c \cdot \frac{1}{a} \cdot 2x + b \cos x - x^{-2}
#   = \frac{2 \sin x}{x} + \log(x^2) \cos x - \frac{1}{x^2}.$$

# %%
def f5(x):
    a = x ** 2
    b = fnp.log(a)
    c = fnp.sin(x)
    d = b * c
    e = x ** -1
    return d + e

def df5_by_hand(x):
    return 2 * np.sin(x) / x + np.log(x ** 2) * np.cos(x) - 1 / x ** 2

x0 = 1.7
print("ft.grad:", ft.grad(f5)(x0))
print("by hand:", df5_by_hand(x0))

# %% [markdown]
# **7. Given the graph and the intermediate derivative results, you have a number of
# options when computing the gradient. Evaluate the result once starting from $x$ to $f$
# and once from $f$ tracing back to $x$.** The path from $x$ to $f$ is *forward
# differentiation*; the path from $f$ to $x$ is *backward differentiation*.
#
# functrans implements both. Forward mode (`ft.jvp`) pushes a tangent $\dot x = 1$ along with
# the values from $x$ to $f$: $\dot a = 2x\dot x$, $\dot b = \dot a / a$, $\dot c = \cos x
# \,\dot x$, ... Reverse mode (`ft.value_and_pullback`) first computes the values, then
# pulls the cotangent $\bar f = 1$ back from $f$ to $x$: $\bar d = \bar e = \bar f$, $\bar b
# = c \bar d$, $\bar c = b \bar d$, ... Both give the same number.

# %%
_, forward = ft.jvp(f5, (x0,), (1.0,))
_, pullback = ft.value_and_pullback(f5, x0)
(backward,) = pullback(1.0)
print("forward (x to f): ", forward)
print("backward (f to x):", backward)

# %% [markdown]
# **8. When might you want to use forward, and when backward, differentiation? Hint:
# consider the amount of intermediate data needed, the ability to parallelise steps, and
# the size of the matrices and vectors involved.**
#
# * Forward mode gives one column of the Jacobian (one input direction) per pass and needs
#   no stored intermediates: the tangents travel with the values. It wins when there are few
#   inputs and many outputs, and when memory is tight.
# * Reverse mode gives one row of the Jacobian (the gradient of one output) per pass, but
#   must keep (or recompute, see `ft.remat`) the intermediates of the forward pass for the
#   backward pass. It wins when there are many inputs and few outputs: a scalar loss of
#   millions of parameters, the common case in deep learning.
# * The passes for different directions are independent, so both parallelise across
#   directions: `ft.jacfwd` and `ft.jacrev` are `ft.vmap` over the basis of jvps or of
#   pullbacks. Notebook 04 times them on a wide and on a tall function.
