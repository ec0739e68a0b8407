# %% [markdown]
# # Vectorising with `vmap`, per-example gradients, and `jacfwd` vs `jacrev`
#
# `ft.vmap(f)` turns a function written for **one** example into a function of a **batch**:
# it maps `f` over an axis of its arguments, not with a Python loop but by running `f` once
# on whole arrays (each primitive has a *batching rule* that knows how to handle the extra
# axis). Because it is a transform like `ft.grad`, the two compose: `ft.vmap(ft.grad(loss))`
# gives one gradient per example, and `ft.jacfwd` / `ft.jacrev` are `vmap`s of `ft.jvp` /
# of a pullback over a basis.

# %%
%matplotlib inline
import time

import numpy as np
import matplotlib.pyplot as plt

import functrans as ft
import functrans.numpy as fnp

rng = np.random.default_rng(0)

def timeit(fun, *args, repeat=5):
    """Best wall-clock time of fun(*args) in milliseconds."""
    best = float('inf')
    for _ in range(repeat):
        t0 = time.perf_counter()
        fun(*args)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best

# %% [markdown]
# ## `vmap` basics
#
# A function written for a single vector: a 1-D convolution (a sliding weighted sum).

# %%
def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(fnp.dot(x[i - 1:i + 2], w))
    return fnp.stack(output)

x = fnp.arange(5.0)
w = fnp.array([2.0, 3.0, 4.0])
convolve(x, w)

# %% [markdown]
# For a batch of vectors we could loop in Python and stack the results, or rewrite the
# function by hand for a batch axis. `vmap` does the rewriting for us: the same numbers,
# computed in one pass over the batch.

# %%
xs = fnp.stack([x, x + 1.0, x * 2.0])
ws = fnp.stack([w, w, w * 0.5])

looped = fnp.stack([convolve(xi, wi) for xi, wi in zip(xs, ws)])
batched = ft.vmap(convolve)(xs, ws)
print(batched)
print(np.allclose(looped, batched))

# %% [markdown]
# ## `in_axes` and `out_axes`
#
# `in_axes` says, per argument, which axis is the batch axis, or `None` for an argument
# shared by all examples (broadcast, not mapped). Here every `x` uses the same `w`:

# %%
ft.vmap(convolve, in_axes=(0, None))(xs, w)

# %% [markdown]
# The batch axis need not be the first one (negative axes count from the end), and
# `out_axes` places the batch axis of the result:

# %%
xs_t = xs.T                                     # examples are now columns: shape (5, 3)
out = ft.vmap(convolve, in_axes=(1, None), out_axes=1)(xs_t, w)
print(out.shape)                                # (3 outputs per example, 3 examples)
print(np.allclose(out, ft.vmap(convolve, in_axes=(-1, None), out_axes=-1)(xs_t, w)))
print(np.allclose(out.T, ft.vmap(convolve, in_axes=(0, None))(xs, w)))

# %% [markdown]
# Arguments can be pytrees, and `in_axes` can then be a pytree prefix of them: below the
# parameters `params` are shared (`None`) and a dict of inputs is mapped along axis 0.

# %%
def affine(params, inputs):
    return params['a'] * inputs['u'] + params['b'] * fnp.sum(inputs['v'])

params = {'a': 2.0, 'b': -1.0}
inputs = {'u': fnp.arange(4.0), 'v': fnp.ones((4, 3))}
ft.vmap(affine, in_axes=(None, 0))(params, inputs)

# %% [markdown]
# `vmap`s nest: mapping over one argument and then over the other gives all pairs, here a
# matrix of pairwise distances.

# %%
def distance(p, q):
    return fnp.sqrt(fnp.sum((p - q) ** 2))

points = rng.normal(size=(4, 2))
pairwise = ft.vmap(ft.vmap(distance, in_axes=(None, 0)), in_axes=(0, None))(points, points)
print(pairwise.round(3))
print(np.allclose(pairwise, np.linalg.norm(points[:, None] - points[None], axis=-1)))

# %% [markdown]
# Inside `vmap` a value is one example, but it holds a whole batch of numbers, so Python
# cannot branch on it: `if x > 0:` raises a `ConcretizationError` that suggests
# `fnp.where`, which selects elementwise.

# %%
def relu_if(x):
    return x if x > 0 else 0.0

try:
    ft.vmap(relu_if)(fnp.array([-1.0, 2.0]))
except ft.errors.ConcretizationError as e:
    print("ConcretizationError:", str(e)[:120], "...")

print(ft.vmap(lambda x: fnp.where(x > 0, x, 0.0))(fnp.array([-1.0, 2.0])))

# %% [markdown]
# ## Per-example gradients
#
# Training differentiates the *mean* loss of a batch: one gradient for the whole batch. Some
# methods need the gradient of **each example's** loss: differential privacy (clip each
# example's gradient), importance sampling, gradient-noise diagnostics. The direct way is a
# loop of `ft.grad` calls; the functrans way is to write the loss of one example and
# `vmap` its gradient over the batch, sharing the parameters (`in_axes=(None, 0, 0)`).
#
# A small two-layer network for regression:

# %%
def init_params(rng, sizes):
    return [{'w': rng.normal(size=(m, n)) / np.sqrt(m), 'b': np.zeros(n)}
            for m, n in zip(sizes[:-1], sizes[1:])]

def predict(params, x):
    for layer in params[:-1]:
        x = fnp.tanh(x @ layer['w'] + layer['b'])
    last = params[-1]
    return (x @ last['w'] + last['b'])[0]

def loss(params, x, y):
    """Squared error of ONE example (x: (features,), y: scalar)."""
    return (predict(params, x) - y) ** 2

params = init_params(rng, [10, 32, 1])
batch = 64
X = rng.normal(size=(batch, 10))
Y = np.sin(X.sum(axis=1))

# %%
def per_example_grads_loop(params, X, Y):
    grads = [ft.grad(loss)(params, x, y) for x, y in zip(X, Y)]
    return ft.tree.map(lambda *g: np.stack(g), *grads)      # stack the leaves

per_example_grads = ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))

g_loop = per_example_grads_loop(params, X, Y)
g_vmap = per_example_grads(params, X, Y)
print([leaf.shape for leaf in ft.tree.leaves(g_vmap)])
print('same as the loop:', all(np.allclose(a, b) for a, b in
                               zip(ft.tree.leaves(g_loop), ft.tree.leaves(g_vmap))))

# %% [markdown]
# Each leaf gained a leading batch axis of 64. Averaged over the batch, the per-example
# gradients give back the ordinary gradient of the mean loss:

# %%
def mean_loss(params, X, Y):
    return fnp.mean(ft.vmap(loss, in_axes=(None, 0, 0))(params, X, Y))

g_mean = ft.grad(mean_loss)(params, X, Y)
print(all(np.allclose(g.mean(axis=0), m) for g, m in
          zip(ft.tree.leaves(g_vmap), ft.tree.leaves(g_mean))))

# %% [markdown]
# And `vmap` is much faster than the loop, since it runs each operation once on the whole
# batch instead of once per example:

# %%
t_loop = timeit(per_example_grads_loop, params, X, Y)
t_vmap = timeit(per_example_grads, params, X, Y)
print(f'loop of grad: {t_loop:7.2f} ms')
print(f'vmap of grad: {t_vmap:7.2f} ms  ({t_loop / t_vmap:.0f}x faster)')

# %% [markdown]
# A typical use: differentially private SGD clips each example's gradient to a maximum norm
# before averaging, something the gradient of the mean loss cannot express.

# %%
def clipped_mean_gradient(params, X, Y, max_norm=1.0):
    g = per_example_grads(params, X, Y)
    sq = sum(fnp.sum(leaf.reshape(len(X), -1) ** 2, axis=1) for leaf in ft.tree.leaves(g))
    scale = fnp.minimum(1.0, max_norm / fnp.sqrt(sq))            # one factor per example
    return ft.tree.map(lambda leaf: fnp.mean(leaf * scale.reshape((-1,) + (1,) * (leaf.ndim - 1)),
                                             axis=0), g)

g_dp = clipped_mean_gradient(params, X, Y)
print([leaf.shape for leaf in ft.tree.leaves(g_dp)])

# %% [markdown]
# ## `jacfwd` vs `jacrev`, and what each costs
#
# For $f: \mathbb{R}^n \to \mathbb{R}^m$ the Jacobian is $m \times n$.
#
# * **`ft.jacfwd`** pushes the $n$ basis vectors of the input through `ft.jvp` (vmapped: one
#   batched forward pass of size $n$). Each jvp gives one **column**. Cost grows with the
#   number of **inputs**.
# * **`ft.jacrev`** runs the function once, then pulls the $m$ basis vectors of the output
#   back through the pullback (vmapped: one batched backward pass of size $m$). Each gives
#   one **row**. Cost grows with the number of **outputs**, and the forward pass's
#   intermediates must be kept for the backward pass.
#
# So `jacrev` suits *wide* functions (many inputs, few outputs: a loss of many
# parameters) and `jacfwd` *tall* ones (few inputs, many outputs: a curve in a
# high-dimensional space). `ft.jacobian` (`mode="auto"`) picks the cheaper side from the sizes.
#
# We time both on a wide and on a tall function built from the same layers.

# %%
def make_fn(n_in, n_out, hidden=256):
    W1 = rng.normal(size=(hidden, n_in)) / np.sqrt(n_in)
    W2 = rng.normal(size=(n_out, hidden)) / np.sqrt(hidden)
    def f(x):
        return W2 @ fnp.tanh(W1 @ fnp.sin(x))
    return f

wide = make_fn(n_in=1000, n_out=4)          # R^1000 -> R^4
tall = make_fn(n_in=4, n_out=1000)          # R^4 -> R^1000
x_wide = rng.normal(size=1000)
x_tall = rng.normal(size=4)

for name, f, x0 in [('wide (1000 -> 4)', wide, x_wide), ('tall (4 -> 1000)', tall, x_tall)]:
    J_fwd, J_rev = ft.jacfwd(f)(x0), ft.jacrev(f)(x0)
    assert np.allclose(J_fwd, J_rev) and J_fwd.shape == f(x0).shape + x0.shape
    t_fwd = timeit(ft.jacfwd(f), x0)
    t_rev = timeit(ft.jacrev(f), x0)
    t_auto = timeit(ft.jacobian(f), x0)
    print(f'{name}: Jacobian {J_fwd.shape}  jacfwd {t_fwd:7.2f} ms   jacrev {t_rev:7.2f} ms   '
          f'jacobian(auto) {t_auto:7.2f} ms')

# %% [markdown]
# On the wide function `jacfwd` carries 1000 tangents through every layer while `jacrev`
# pulls back only 4 cotangents; on the tall function it is the other way round.
# `ft.jacobian` follows the cheaper mode (it first runs the function once to learn the
# output's size, a small overhead). The same
# reasoning explains why gradients of a scalar loss use reverse mode, and why the Hessian
# is computed forward-over-reverse (`ft.hessian = jacfwd(jacrev)`): the inner gradient is
# wide (many inputs, one output), the outer Jacobian of that gradient is square, where
# forward mode's lower overhead wins.
#
# The cost of a Jacobian column by `jvp` and a row by a pullback is a small constant
# multiple of one function evaluation. Let us see how the time of each mode grows with
# the number of inputs at a fixed 4 outputs: `jacfwd` grows with $n$ (its batch of tangents
# is $n$ wide), `jacrev` only with the cost of evaluating $f$ itself.

# %%
sizes = [25, 50, 100, 200, 400, 800]
t_fwd, t_rev = [], []
for n in sizes:
    f = make_fn(n_in=n, n_out=4)
    x0 = rng.normal(size=n)
    t_fwd.append(timeit(ft.jacfwd(f), x0))
    t_rev.append(timeit(ft.jacrev(f), x0))

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(sizes, t_fwd, 'o-', label='jacfwd')
ax.plot(sizes, t_rev, 's-', label='jacrev')
ax.set_xlabel('number of inputs n (4 outputs)')
ax.set_ylabel('time (ms)')
ax.set_title('Jacobian of R^n -> R^4')
ax.legend()
ax.set_ylim(bottom=0)
ax.grid(True, alpha=0.3)
