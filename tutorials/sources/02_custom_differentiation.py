# %% [markdown]
# # Custom differentiation
#
# *A functrans port of the Swift for TensorFlow tutorial "Custom differentiation"
# (tensorflow.org/swift/tutorials/custom_differentiation).*
#
# This tutorial shows how to define your own custom derivatives, perform derivative
# surgery, and implement your own gradient checkpointing API in just a few lines of Python.
#
# Swift's `Float` is 32-bit, so the examples use `np.float32` values to print the same
# numbers as the original.

# %%
%matplotlib inline
import math

import numpy as np

import functrans as ft
import functrans.numpy as fnp

# %% [markdown]
# ## Declaring custom derivatives
#
# You can define custom derivatives for any Python function that has differentiable
# parameters and results. By doing that, you can even call a C function and make it
# differentiable: here `math.pow`, from the C library, which functrans cannot see into.
#
# Swift's `@derivative(of: sillyExp)` attaches a function returning `(value, pullback)`.
# In functrans, decorate the function with `@ft.custom_vjp` and attach the same kind of
# function with `@sillyExp.defvjp`; the pullback returns one cotangent per argument (a
# tuple).

# %%
@ft.custom_vjp
def sillyExp(x):
    e = np.float32(math.e)
    print(f"Taking 𝑒({e!s}) to the power of {x!s}!")
    return np.float32(math.pow(e, x))

@sillyExp.defvjp
def sillyDerivative(x):
    y = sillyExp(x)
    return y, lambda v: (v * y,)

print("exp(3) =", sillyExp(np.float32(3)))
print("𝛁exp(3) =", ft.grad(sillyExp)(np.float32(3)))

# %% [markdown]
# The derivative rule calls `sillyExp` once, so computing the gradient takes 𝑒 to the power
# of 3 only once. (`{x!s}` formats a NumPy float32 the way Swift and NumPy print it,
# shortest round-trip digits.)
#
# functrans also accepts JAX's two-function form, `f.defvjp(f_fwd, f_bwd)`, where
# `f_fwd(x)` returns the value and *residuals* saved for the backward pass, and
# `f_bwd(residuals, v)` the cotangents:

# %%
@ft.custom_vjp
def exp_jax_style(x):
    return np.float32(math.pow(np.float32(math.e), x))

def exp_fwd(x):
    y = exp_jax_style(x)
    return y, y                 # value, residuals

def exp_bwd(y, v):
    return (v * y,)

exp_jax_style.defvjp(exp_fwd, exp_bwd)
print("𝛁exp(3) =", ft.grad(exp_jax_style)(np.float32(3)))

# %% [markdown]
# ## Stop derivatives from propagating
#
# Commonly known as "stop gradient" in machine learning, Swift's `withoutDerivative(at:)`
# is `ft.stop_gradient`: the value passes through, its derivative is zero.
#
# In Swift it also helps the compiler avoid differentiating what does not need to be. In
# functrans, the operations on a stopped value are evaluated but not recorded for the
# backward pass.

# %%
x = np.float32(2.0)
y = np.float32(3.0)
xyGradient = ft.grad(lambda x, y: fnp.sin(fnp.sin(fnp.sin(x))) + ft.stop_gradient(fnp.cos(fnp.cos(fnp.cos(y)))),
                     argnums=(0, 1))(x, y)
print(xyGradient)
print(f"({xyGradient[0]!s}, {xyGradient[1]!s})")      # printed as Swift prints a tuple

# %% [markdown]
# ## Derivative surgery
#
# Swift's `withDerivative(_:)` (earlier `withGradient(_:)`) makes arbitrary operations,
# including mutation, run on the gradient at a value during the enclosing function's
# backpropagation. functrans has `ft.with_gradient(x, hook)`: `x` is unchanged, and during
# the backward pass `hook(g)` receives the cotangent arriving at `x`. The hook may return a
# replacement, or return `None` to keep it, possibly after modifying it **in place** (it
# is a writable NumPy array, 0-d for a scalar): Swift's `inout` parameter.
#
# Use this to debug or make experimental tweaks to backpropagation.
#
# ### It works anywhere
#
# Every functrans transform works on any pytree of arrays: scalars, arrays, tuples, dicts,
# and your own `ft.nn.Module`s.

# %%
x = np.float32(30)

def print_sin_derivative(g):
    # Print the partial derivative with respect to the result of `sin(x)`.
    print(f"∂+/∂sin = {g!s}")

def rewrite_log_derivative(dx):
    # Force the partial derivative with respect to `x` to be `0.5`.
    print(f"∂log/∂x = {dx!s}, but rewritten to 0.5")
    dx[...] = 0.5

def f(x):
    a = ft.with_gradient(fnp.sin(x), print_sin_derivative)
    b = fnp.log(ft.with_gradient(x, rewrite_log_derivative))
    return a + b

xGradient = ft.grad(f)(x)
print(xGradient)

# %% [markdown]
# The backward pass visits the operations in reverse order: the hook inside the `log` was
# applied after the one on `sin(x)`, so it runs first. The result is $\cos(30) + 0.5$: the
# $1/30$ from `log` was replaced by 0.5.
#
# ### Use it in a neural network module
#
# Just as with a simple scalar function, we can use it in any numerical application, like
# the following neural network built with `ft.nn`. An `ft.nn.Module` subclass declares its
# fields with annotations (it becomes a dataclass and a pytree), so `ft.grad` with respect
# to the model returns a model of gradients, as Swift's `gradient(at: classifier)` does.

# %%
class MLP(ft.nn.Module):
    layer1: ft.nn.Dense
    layer2: ft.nn.Dense

    def __init__(self, rng):
        self.layer1 = ft.nn.Dense(2, 10, activation=ft.nn.relu, rng=rng)
        self.layer2 = ft.nn.Dense(10, 1, activation=ft.nn.relu, rng=rng)

    def __call__(self, input):
        h0 = ft.with_gradient(self.layer1(input), lambda g: print("∂L/∂layer1 =", g))
        return self.layer2(h0)

rng = np.random.default_rng(7)
classifier = MLP(rng)
optimizer = ft.optim.SGD(learning_rate=0.02)
opt_state = optimizer.init(classifier)

x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
y = np.array([0, 1, 1, 0], dtype=np.float32)

for _ in range(10):
    def loss_of(classifier):
        y_hat = ft.with_gradient(classifier(x), lambda g: print("∂L/∂ŷ =", g))
        loss = fnp.mean(fnp.square(y_hat - y))
        print(f"Loss: {loss!s}")
        return loss
    grad_model = ft.grad(loss_of)(classifier)
    classifier, opt_state = optimizer.update(classifier, grad_model, opt_state)

# %% [markdown]
# The weights are random, so the numbers differ from the original's, but the pattern is the
# same. As in the Swift code, `y_hat` has shape `(4, 1)` and `y` shape `(4,)`, so
# `y_hat - y` broadcasts to `(4, 4)`: $\partial L / \partial \hat y_i = \sum_j 2(\hat y_i -
# y_j)/16 = \hat y_i / 2 - 1/4$, which is why rows whose ReLU output is 0 print exactly
# `-0.25` (as in the original), and why `∂L/∂layer1` has zero rows where the output unit is
# inactive.

# %%
print(type(grad_model).__name__, grad_model.layer1.kernel.shape, grad_model.layer2.kernel.shape)

# %% [markdown]
# ## Recomputing activations during backpropagation to save memory (checkpointing)
#
# Checkpointing is a traditional technique in reverse-mode automatic differentiation for
# saving memory: rather than saving large intermediate values of the original computation
# for computing derivatives, the intermediate values are recomputed as needed during
# backpropagation. This technique is realised in modern deep learning libraries as well. In
# Swift, `withRecomputationInPullbacks(_:)` controls what to recompute during
# backpropagation; functrans has `ft.remat` (alias `ft.checkpoint`), used below.
#
# But first, let us learn how to define our own gradient checkpointing API from scratch,
# in just a few lines of code.
#
# ### My gradient checkpointing API
#
# We can define our own gradient checkpointing API, `make_recomputed_in_gradient`, in terms
# of `ft.custom_vjp`, which creates a differentiable function directly from its value and a
# derivative function (also called a "vector-Jacobian products (VJP) function"), as Swift's
# `differentiableFunction(from:)` does.
#
# As we have seen before, the derivative function returns a tuple of the original
# function's result and a pullback closure. We return `original(*args)` as the value, and the
# pullback calls `ft.value_and_pullback` on `original` to evaluate the original function
# again and get its pullback. Nothing from the first evaluation is kept but the arguments.

# %%
def make_recomputed_in_gradient(original):
    """Given a differentiable function, returns the same differentiable function, except that when
    derivatives of it are computed, values of the original function needed for the derivatives are
    recomputed instead of being captured by the pullback."""
    @ft.custom_vjp
    def recomputed(*args):
        return original(*args)

    @recomputed.defvjp
    def recomputed_vjp(*args):
        return original(*args), lambda v: ft.value_and_pullback(original, *args)[1](v)

    return recomputed

# %% [markdown]
# ### Verify it works
#
# (NumPy's float32 `sin` is one ulp off at 10, which would print -0.91294515; so this
# example computes in float64 and shows the result rounded to float32, as Swift prints
# its `Float`.)

# %%
input = 10.0
print("Running original computation...")

# Differentiable multiplication with checkpointing.
def square_(x):
    print("  Computing square...")
    return x * x

square = make_recomputed_in_gradient(square_)

# Differentiate `f(x) = (cos(x))^2`.
output, backprop = ft.value_and_pullback(lambda input: square(fnp.cos(input)), input)
print("Running backpropagation...")
(grad,) = backprop(1.0)
print(f"Gradient = {np.float32(grad)!s}")

# %% [markdown]
# The square is computed twice: once in the original computation and once during
# backpropagation. `ft.remat` does the same, and also under forward mode, `vmap` and
# higher-order differentiation:

# %%
square = ft.remat(square_)

print("Running original computation...")
output, backprop = ft.value_and_pullback(lambda input: square(fnp.cos(input)), input)
print("Running backpropagation...")
(grad,) = backprop(1.0)
print(f"Gradient = {np.float32(grad)!s}")

# %%
print("second derivative:", ft.grad(ft.grad(lambda input: ft.remat(lambda x: x * x)(fnp.cos(input))))(input),
      "=", -2 * np.cos(2 * input))

# %% [markdown]
# ### Extend it to neural network modules
#
# In this example we define a simple convolutional neural network: a `Sequential` of a
# convolution, a max-pooling layer, a flattening layer and a dense layer (images are NHWC,
# filters HWIO, as in Swift for TensorFlow):
#
# ```python
# model = ft.nn.Sequential([
#     ft.nn.Conv2D((5, 5, 3, 6), rng=rng),
#     ft.nn.MaxPool2D((2, 2), strides=(2, 2)),
#     ft.nn.Flatten(),
#     ft.nn.Dense(36 * 6, 10, rng=rng),
# ])
# ```
#
# We want the activations of the convolution layer to be recomputed during
# backpropagation. Calling `make_recomputed_in_gradient` inside the model would make the
# code look cumbersome, especially when the layers are applied in sequence. So, why don't we
# define a **special layer type** that wraps a layer and makes its activations be recomputed
# during backpropagation? Let's do it.
#
# Our `make_recomputed_in_gradient` already accepts any number of arguments (Swift needs a
# second, binary version), and those arguments can be pytrees, Modules included. Here is the
# generic layer `ActivationDiscarding`:

# %%
class ActivationDiscarding(ft.nn.Module):
    """A layer wrapper that makes the underlying layer's activations be discarded during
    application and recomputed during backpropagation."""
    # The wrapped layer.
    wrapped: ft.nn.Module

    def __call__(self, input):
        def apply_layer(layer, input):
            print(f"    Applying {type(layer).__name__} layer...")
            return layer(input)
        return make_recomputed_in_gradient(apply_layer)(self.wrapped, input)

def discarding_activations(layer):
    """The same layer, except its activations are discarded during application and
    recomputed during backpropagation."""
    return ActivationDiscarding(layer)

# %% [markdown]
# functrans ships this wrapper as `ft.nn.Remat(layer)` (built on `ft.remat`). To watch it
# work, we give the convolution a message when it is applied, like the `print` in Swift's
# `ActivationDiscarding`:

# %%
class Conv2D(ft.nn.Conv2D):
    """ft.nn.Conv2D announcing each application."""
    def __call__(self, input):
        print("    Applying Conv2D layer...")
        return super().__call__(input)

# %% [markdown]
# Back in the model, all we have to change is to wrap the convolution layer into the
# activation-recomputing layer:
#
# ```python
# ft.nn.Remat(Conv2D((5, 5, 3, 6), rng=rng))        # or discarding_activations(ft.nn.Conv2D(...))
# ```
#
# Now, simply use it in the model!

# %%
def make_model(rng):
    return ft.nn.Sequential([
        ft.nn.Remat(Conv2D((5, 5, 3, 6), rng=rng)),
        ft.nn.MaxPool2D((2, 2), strides=(2, 2)),
        ft.nn.Flatten(),
        ft.nn.Dense(36 * 6, 10, rng=rng),
    ])

# %% [markdown]
# When we run a training loop, we can see that the convolution layer's activations are
# computed twice: once during layer application, and once during backpropagation. As in
# Swift, the loop takes the model's pullback (`appliedForBackpropagation` is
# `ft.value_and_pullback` of the model applied to `x`), the gradient of the loss with
# respect to the logits, and pulls it back to a model-shaped gradient.

# %%
rng = np.random.default_rng(0)

# Use random training data.
x = rng.normal(size=(10, 16, 16, 3)).astype(np.float32)
y = np.arange(0, 10, 1, dtype=np.int32)

model = make_model(rng)
opt = ft.optim.SGD(learning_rate=0.01)
opt_state = opt.init(model)

for i in range(1, 6):
    print(f"Starting training step {i}")
    print("  Running original computation...")
    logits, backprop = ft.value_and_pullback(lambda model: model(x), model)
    loss, dL_dŷ = ft.value_and_grad(lambda logits: ft.nn.softmax_cross_entropy(logits, y))(logits)
    print(f"  Loss: {loss!s}")
    print("  Running backpropagation...")
    (dL_dθ,) = backprop(dL_dŷ)

    model, opt_state = opt.update(model, dL_dθ, opt_state)

# %% [markdown]
# Our own `ActivationDiscarding` gives the same gradients as `ft.nn.Remat` (and both the
# same as the plain model): here the wrapped convolution is a silent `ft.nn.Conv2D`, so the
# messages come from `ActivationDiscarding` itself, twice per gradient.

# %%
rng = np.random.default_rng(1)
conv = ft.nn.Conv2D((5, 5, 3, 6), rng=rng)
rest = [ft.nn.MaxPool2D((2, 2), strides=(2, 2)), ft.nn.Flatten(), ft.nn.Dense(36 * 6, 10, rng=rng)]
plain = ft.nn.Sequential([conv] + rest)
with_remat = ft.nn.Sequential([ft.nn.Remat(conv)] + rest)
ours = ft.nn.Sequential([discarding_activations(conv)] + rest)

def loss_of(model):
    return ft.nn.softmax_cross_entropy(model(x), y)

g_plain = ft.grad(loss_of)(plain)
g_remat = ft.grad(loss_of)(with_remat)
g_ours = ft.grad(loss_of)(ours)
same = lambda g, h: all(np.allclose(a, b, atol=1e-6) for a, b in zip(ft.tree.leaves(g), ft.tree.leaves(h)))
print("ft.nn.Remat == plain:", same(g_remat, g_plain))
print("ActivationDiscarding == plain:", same(g_ours, g_plain))

# %% [markdown]
# Just like that, it is super easy to define generic differentiable programming libraries
# for different domains.
