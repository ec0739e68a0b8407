# %% [markdown]
# # Advanced automatic differentiation
#
# *A functrans port of the TensorFlow guide "Advanced automatic differentiation"
# (tensorflow.org/guide/advanced_autodiff).*
#
# The TensorFlow guide covers the less common features of `tf.GradientTape`: controlling what
# is recorded, stopping gradients, custom gradients, several sources at once, higher-order
# gradients, Jacobians, the Hessian and the batch Jacobian. functrans has no tape object:
# every one of these is a *function transformation* (or an operation used inside the
# transformed function). This notebook shows the functional counterpart of each example,
# with the same numbers.
#
# ## Setup

# %%
%matplotlib inline
import copy

import numpy as np
import matplotlib as mpl
import matplotlib.pyplot as plt

import functrans as ft
import functrans.numpy as fnp

mpl.rcParams['figure.figsize'] = (8, 6)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Controlling gradient recording
#
# A tape records whatever runs inside its `with` block, so TensorFlow needs
# `GradientTape.stop_recording()` to temporarily suspend recording, for example to save
# the overhead of differentiating a metric or an intermediate result computed in the middle
# of a model.
#
# In functrans the "recording" is the function being transformed. What should not be
# differentiated is either computed **outside** that function (and passed in, or closed
# over, as a constant), or marked with `ft.stop_gradient` inside it. The gradient with
# respect to a dict of sources is a dict: `ft.grad` accepts any pytree.

# %%
x = 2.0
y = 3.0

def z_of(sources):
    x_sq = sources['x'] * sources['x']
    y_sq = ft.stop_gradient(sources['y'] * sources['y'])     # not recorded
    return x_sq + y_sq

grad = ft.grad(z_of)({'x': x, 'y': y})

print('dz/dx:', grad['x'])  # 2*x => 4
print('dz/dy:', grad['y'])

# %% [markdown]
# TensorFlow returns `None` for `dz/dy` (the tape never saw `y`); functrans returns a zero
# of `y`'s shape, so the gradient always has the structure of the input.
#
# To start over entirely TensorFlow uses `reset()`, which throws away what the tape has
# recorded so far: the computations done before the reset no longer connect the result to
# its sources. The functional equivalent is the same as above: whatever came "before the
# reset" enters the differentiated computation as a constant.

# %%
x = 2.0
y = 3.0
reset = True

def z_of(sources):
    y_sq = sources['y'] * sources['y']
    if reset:
        # Forget how y_sq was computed, as the tape's reset does
        y_sq = ft.stop_gradient(y_sq)
    return sources['x'] * sources['x'] + y_sq

grad = ft.grad(z_of)({'x': x, 'y': y})

print('dz/dx:', grad['x'])  # 2*x => 4
print('dz/dy:', grad['y'])

# %% [markdown]
# ## Stop gradient
#
# In contrast to the global tape controls above, `stop_gradient` is much more precise: it
# stops gradients from flowing along one particular path, without needing access to any
# tape. `ft.stop_gradient` is the counterpart of `tf.stop_gradient`.

# %%
x = 2.0
y = 3.0

def z_of(x, y):
    y_sq = y ** 2
    return x ** 2 + ft.stop_gradient(y_sq)

dz_dx, dz_dy = ft.grad(z_of, argnums=(0, 1))(x, y)

print('dz/dx:', dz_dx)  # 2*x => 4
print('dz/dy:', dz_dy)

# %% [markdown]
# ## Custom gradients
#
# Sometimes you want to control exactly how a gradient is computed rather than use the
# default:
#
# - there is no defined gradient for a new op you are writing;
# - the default computation is numerically unstable;
# - you want to cache an expensive computation from the forward pass;
# - you want to modify a value (for example with `clip` or `round`) without modifying the
#   gradient.
#
# For writing a new op TensorFlow registers a gradient with `tf.RegisterGradient`; in
# functrans a new op is a new *primitive* with its own rules (see notebook 05). For the
# other cases TensorFlow has `tf.custom_gradient`, and functrans `ft.custom_vjp` (reverse
# mode) and `ft.custom_jvp` (forward mode).
#
# Here is an example that applies a norm clip to the intermediate gradient. The one-function
# form of `defvjp` mirrors `tf.custom_gradient`: the rule returns the value and the backward
# function, which returns one cotangent per argument.

# %%
def clip_by_norm(t, clip_norm):
    """tf.clip_by_norm: rescale t so that its L2 norm is at most clip_norm."""
    norm = fnp.linalg.norm(t)
    return t * clip_norm / fnp.maximum(norm, clip_norm)

# Establish an identity operation, but clip during the gradient pass
@ft.custom_vjp
def clip_gradients(y):
    return y

@clip_gradients.defvjp
def clip_gradients_vjp(y):
    def backward(dy):
        return (clip_by_norm(dy, 0.5),)
    return y, backward

v = 2.0
print(ft.grad(lambda v: clip_gradients(v * v))(v))  # calls "backward", which clips 4 to 2

# %% [markdown]
# The gradient arriving at `clip_gradients` is 1, clipped to 0.5, then multiplied by
# $d(v^2)/dv = 4$: 2.0 instead of 4.0. See `help(ft.custom_vjp)` for the JAX-style two-function
# form (`f.defvjp(f_fwd, f_bwd)`), `nondiff_argnums` and `ft.custom_jvp`.
#
# ## Multiple tapes
#
# In TensorFlow several tapes can watch different tensors at the same time. With functions
# this is just differentiating with respect to several arguments: `argnums` picks the
# sources, and the result has one gradient per source.

# %%
x0 = 0.0
x1 = 0.0

def ys_of(x0, x1):
    y0 = fnp.sin(x0)
    y1 = ft.nn.sigmoid(x1)
    y = y0 + y1
    return fnp.sum(y)

dys_dx0, dys_dx1 = ft.grad(ys_of, argnums=(0, 1))(x0, x1)

# %%
dys_dx0   # cos(x) => 1.0

# %%
dys_dx1   # sigmoid(x1)*(1-sigmoid(x1)) => 0.25

# %% [markdown]
# ### Higher-order gradients
#
# With tapes, a gradient computed inside an outer tape's context is itself recorded, so
# the same API gives higher-order gradients. With transforms, the gradient is a function,
# so it can be differentiated again: `ft.grad(ft.grad(f))`.

# %%
x = 1.0

def y_of(x):
    return x * x * x

dy_dx = ft.grad(y_of)(x)
d2y_dx2 = ft.grad(ft.grad(y_of))(x)

print('dy_dx:', dy_dx)  # 3 * x**2 => 3.0
print('d2y_dx2:', d2y_dx2)  # 6 * x => 6.0

# %% [markdown]
# This gives the second derivative of a *scalar* function. For a vector input, nesting
# `ft.grad` gives a Hessian only through `ft.jacobian(ft.grad(f))`, which is what
# `ft.hessian` does; see the [Hessian example](#hessian) below.
#
# Nested gradients are a good pattern when you compute a scalar from a gradient and that
# scalar is then the target of a second gradient, as in the following example.
#
# #### Example: input-gradient regularisation
#
# Many models are susceptible to "adversarial examples": inputs modified to confuse the
# model's output. The simplest implementation takes a single step along the gradient of the
# output with respect to the input, the "input gradient". One technique to increase
# robustness to adversarial examples is *input-gradient regularisation*
# ([Ross & Doshi-Velez](https://arxiv.org/abs/1905.11468)), which minimises the magnitude of
# the input gradient: if the input gradient is small, the change in the output should be
# small too.
#
# A naive implementation:
#
# 1. Compute the gradient of the output with respect to the input (the inner gradient).
# 2. Compute the magnitude of that input gradient.
# 3. Compute the gradient of that magnitude with respect to the model (the outer gradient).
#
# A functrans layer is a pytree (a `ft.nn.Module`), so "the gradient with respect to the
# model" is simply `ft.grad` with the layer as the argument: the result is a `Dense` whose
# fields are the gradients.

# %%
x = rng.normal(size=(7, 5)).astype(np.float32)

layer = ft.nn.Dense(5, 10, activation=ft.nn.relu, rng=rng)

# %%
def input_gradient_magnitude(layer):
    # The inner gradient is taken with respect to the input only, not the variables.
    def out_of(x):
        y = layer(x)
        return fnp.sum(layer(x) ** 2)
    # 1. Calculate the input gradient.
    g1 = ft.grad(out_of)(x)
    # 2. Calculate the magnitude of the input gradient.
    return fnp.linalg.norm(g1)

# 3. Calculate the gradient of the magnitude with respect to the model.
dg1_mag = ft.grad(input_gradient_magnitude)(layer)

# %%
[var.shape for var in ft.tree.leaves(dg1_mag)]

# %% [markdown]
# ## Jacobians
#
# All the previous examples took the gradient of a scalar target with respect to some
# source(s). The [Jacobian matrix](https://en.wikipedia.org/wiki/Jacobian_matrix_and_determinant)
# represents the gradients of a vector-valued function: each row holds the gradient of one
# of the vector's elements. `ft.jacobian` computes it, choosing forward or reverse mode from
# the sizes (`ft.jacfwd` and `ft.jacrev` force one).
#
# - Like `ft.grad`, the sources can be any pytree (`argnums` picks arguments).
# - Unlike `ft.grad`, the target need not be a scalar; it may also be a pytree.
#
# ### Scalar source
#
# As a first example, the Jacobian of a vector target with respect to a scalar source.

# %%
x = fnp.linspace(-10.0, 10.0, 200 + 1)
delta = 0.0

def y_of(delta):
    return ft.nn.sigmoid(x + delta)

y = y_of(delta)
dy_dx = ft.jacobian(y_of)(delta)

# %% [markdown]
# When you take the Jacobian with respect to a scalar the result has the shape of the
# **target**, and gives the gradient of each element with respect to the source:

# %%
print(y.shape)
print(dy_dx.shape)

# %%
plt.plot(x, y, label='y')
plt.plot(x, dy_dx, label='dy/dx')
plt.legend()
_ = plt.xlabel('x')

# %% [markdown]
# ### Tensor source
#
# Whether the input is scalar or tensor, the Jacobian efficiently calculates the gradient
# of each element of the source for each element of the target.
#
# For example, the output of this layer has a shape of `(7, 10)`:

# %%
x = rng.normal(size=(7, 5)).astype(np.float32)
layer = ft.nn.Dense(5, 10, activation=ft.nn.relu, rng=rng)

y = layer(x)
y.shape

# %% [markdown]
# And the layer's kernel's shape is `(5, 10)`:

# %%
layer.kernel.shape

# %% [markdown]
# To differentiate with respect to the kernel alone, we write the output as a function of
# the kernel. Modules are plain pytrees, so we use a copy of the layer with the kernel
# replaced (nothing is modified in place). The shape of the Jacobian of the output with
# respect to the kernel is those two shapes concatenated:

# %%
def replace(module, **fields):
    """A shallow copy of `module` with some fields replaced."""
    new = copy.copy(module)
    for name, value in fields.items():
        setattr(new, name, value)
    return new

def y_of_kernel(kernel):
    return replace(layer, kernel=kernel)(x)

j = ft.jacobian(y_of_kernel)(layer.kernel)
j.shape

# %% [markdown]
# (Taking `ft.jacobian(lambda layer: layer(x))(layer)` instead gives a `Dense`-shaped
# Jacobian whose `kernel` is this same `(7, 10, 5, 10)` array and whose `bias` is
# `(7, 10, 10)`.)
#
# If you sum over the target's dimensions, you are left with the gradient of the sum, which
# `ft.grad` computes directly:

# %%
g = ft.grad(lambda kernel: fnp.sum(y_of_kernel(kernel)))(layer.kernel)
print('g.shape:', g.shape)

j_sum = fnp.sum(j, axis=(0, 1))
delta = fnp.max(abs(g - j_sum))
assert delta < 1e-3
print('delta:', delta)

# %% [markdown]
# <a id="hessian"></a>
#
# #### Example: Hessian
#
# functrans has `ft.hessian` (forward-over-reverse: `ft.jacfwd(ft.grad(f))`); the guide
# builds the Hessian as the Jacobian of a gradient, which works too.
#
# Note: the Hessian matrix contains `N**2` parameters. For this and other reasons it is not
# practical for most models. This example is included more as a demonstration of the
# Jacobian than as an endorsement of direct Hessian-based optimisation. A Hessian-vector
# product can be computed efficiently without forming the Hessian (`ft.hvp`, below), and
# is a much more efficient approach to second-order optimisation.

# %%
x = rng.normal(size=(7, 5)).astype(np.float32)
layer1 = ft.nn.Dense(5, 8, activation=ft.nn.relu, rng=rng)
layer2 = ft.nn.Dense(8, 6, activation=ft.nn.relu, rng=rng)

def loss_of(kernel1):
    h = replace(layer1, kernel=kernel1)(x)
    h = layer2(h)
    return fnp.mean(h ** 2)

g = ft.grad(loss_of)(layer1.kernel)
h = ft.jacobian(ft.grad(loss_of))(layer1.kernel)       # the guide's way
print('same as ft.hessian:', np.allclose(h, ft.hessian(loss_of)(layer1.kernel)))

# %%
print(f'layer.kernel.shape: {layer1.kernel.shape}')
print(f'h.shape: {h.shape}')

# %% [markdown]
# To use this Hessian for a Newton's method step, you would first flatten its axes into a
# matrix, and flatten the gradient into a vector:

# %%
n_params = int(np.prod(layer1.kernel.shape))

g_vec = fnp.reshape(g, [n_params, 1])
h_mat = fnp.reshape(h, [n_params, n_params])

# %% [markdown]
# The Hessian matrix should be symmetric:

# %%
def imshow_zero_center(image, **kwargs):
    lim = np.max(abs(image))
    plt.imshow(image, vmin=-lim, vmax=lim, cmap='seismic', **kwargs)
    plt.colorbar()

# %%
imshow_zero_center(h_mat)

# %%
print('symmetric:', np.allclose(h_mat, h_mat.T, atol=1e-6))

# %% [markdown]
# The Newton's method update step is shown below.

# %%
eps = 1e-3
eye_eps = np.eye(h_mat.shape[0]) * eps

# %% [markdown]
# Note: [don't actually invert the matrix](https://www.johndcook.com/blog/2010/01/19/dont-invert-that-matrix/):
# solve the linear system. `fnp.linalg.solve` is `tf.linalg.solve`'s counterpart (and is
# itself differentiable, should the step ever need to be).

# %%
# X(k+1) = X(k) - (∇²f(X(k)))^-1 @ ∇f(X(k))
# h_mat = ∇²f(X(k))
# g_vec = ∇f(X(k))
update = fnp.linalg.solve(h_mat + eye_eps, g_vec)

# Reshape the update and apply it to the variable (a new layer: nothing is mutated).
print('loss before:', loss_of(layer1.kernel))
layer1 = replace(layer1, kernel=(layer1.kernel - fnp.reshape(update, layer1.kernel.shape)).astype(np.float32))
print('loss after: ', loss_of(layer1.kernel))

# %% [markdown]
# While this is relatively simple for a single kernel, applying it to a non-trivial model
# would require careful concatenation and slicing to produce a full Hessian across multiple
# variables. The Hessian-vector product $H v$ needs none of that and never forms $H$: here
# it matches `h_mat @ v`.

# %%
v = rng.normal(size=layer1.kernel.shape).astype(np.float32)
h_full = ft.hessian(loss_of)(layer1.kernel).reshape(n_params, n_params)
hv = ft.hvp(loss_of, (layer1.kernel,), (v,))
print(hv.shape, np.allclose(hv.reshape(-1), h_full @ v.reshape(-1), atol=1e-5))

# %% [markdown]
# ### Batch Jacobian
#
# In some cases you want the Jacobian of each of a stack of targets with respect to a stack
# of sources, where the Jacobian of each target-source pair is independent.
#
# For example, here the input `x` has shape `(batch, ins)` and the output `y` has shape
# `(batch, outs)`:

# %%
x = rng.normal(size=(7, 5)).astype(np.float32)

layer1 = ft.nn.Dense(5, 8, activation=ft.nn.elu, rng=rng)
layer2 = ft.nn.Dense(8, 6, activation=ft.nn.elu, rng=rng)

def model(x):
    y = layer1(x)
    y = layer2(y)
    return y

y = model(x)
y.shape

# %% [markdown]
# The full Jacobian of `y` with respect to `x` has a shape of `(batch, outs, batch, ins)`,
# even if you only want `(batch, outs, ins)`:

# %%
j = ft.jacobian(model)(x)
j.shape

# %% [markdown]
# If the gradients of each item in the stack are independent, then every `(batch, batch)`
# slice of this tensor is a diagonal matrix:

# %%
imshow_zero_center(j[:, 0, :, 0])
_ = plt.title('A (batch, batch) slice')

# %%
def plot_as_patches(j):
    # Reorder axes so the diagonals will each form a contiguous patch.
    j = np.transpose(j, [1, 0, 3, 2])
    # Pad in between each patch.
    lim = np.max(abs(j))
    j = np.pad(j, [[0, 0], [1, 1], [0, 0], [1, 1]],
               constant_values=-lim)
    # Reshape to form a single image.
    s = j.shape
    j = np.reshape(j, [s[0] * s[1], s[2] * s[3]])
    imshow_zero_center(j, extent=[-0.5, s[2] - 0.5, s[0] - 0.5, -0.5])

plot_as_patches(j)
_ = plt.title('All (batch, batch) slices are diagonal')

# %% [markdown]
# To get the desired result you can sum over the duplicate `batch` dimension, or select
# the diagonals with `einsum`:

# %%
j_sum = fnp.sum(j, axis=2)
print(j_sum.shape)
j_select = fnp.einsum('bxby->bxy', j)
print(j_select.shape)

# %% [markdown]
# It would be much more efficient to do the calculation without the extra dimension in the
# first place. `ft.batch_jacobian` does exactly that: one batched backward (or forward)
# pass per output (or input) element, however large the batch.

# %%
jb = ft.batch_jacobian(model)(x)
jb.shape

# %%
error = fnp.max(abs(jb - j_sum))
assert error < 1e-3
print(error)

# %% [markdown]
# Caution: `ft.batch_jacobian`, like `GradientTape.batch_jacobian`, only verifies that the
# first dimension of the source and target match. It doesn't check that the gradients are
# actually independent. It's up to you to use it only where it makes sense. For example,
# adding a batch normalisation layer (`ft.nn.BatchNorm`, which normalises with the batch's
# statistics) destroys the independence, since it normalises across the `batch` dimension:

# %%
x = rng.normal(size=(7, 5)).astype(np.float32)

layer1 = ft.nn.Dense(5, 8, activation=ft.nn.elu, rng=rng)
bn = ft.nn.BatchNorm(8)
layer2 = ft.nn.Dense(8, 6, activation=ft.nn.elu, rng=rng)

def model(x):
    y = layer1(x)
    y = bn(y)
    y = layer2(y)
    return y

j = ft.jacobian(model)(x)
print(f'j.shape: {j.shape}')

# %%
plot_as_patches(j)

_ = plt.title('These slices are not diagonal')
_ = plt.xlabel("Don't use `batch_jacobian`")

# %% [markdown]
# In this case `batch_jacobian` still runs and returns *something* with the expected shape,
# but its contents have an unclear meaning: they are not the diagonal blocks
# $\partial y_b / \partial x_b$ of the full Jacobian (they mix in the other examples).

# %%
jb = ft.batch_jacobian(model)(x)
print(f'jb.shape: {jb.shape}')
print('equal to the diagonal blocks:', np.allclose(jb, fnp.einsum('bxby->bxy', j), atol=1e-5))
