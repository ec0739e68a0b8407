"""Functional optimizers: ``state = opt.init(params)``; ``params, state = opt.update(params, grads, state)``.

``params`` is any pytree of arrays (a :class:`functrans.nn.Module`, a dict, a tuple...), and
``grads`` has its structure (what ``ft.grad`` returns). Nothing is modified in place, so an
update can itself be differentiated or vmapped (meta-learning, ensembles).

Example:
    >>> import numpy as np, functrans as ft
    >>> opt = ft.optim.SGD(learning_rate=0.1)
    >>> params = {"w": np.array(1.0)}
    >>> state = opt.init(params)
    >>> params, state = opt.update(params, ft.grad(lambda p: p["w"] ** 2)(params), state)
    >>> float(params["w"])
    0.8
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import numpy as fnp
from . import tree

__all__ = ["SGD", "Adam", "AdamState", "SGDState"]


def _check(params: Any, grads: Any, name: str) -> tuple[list, Any, list]:
    leaves, treedef = tree.flatten(params)
    g_leaves, g_def = tree.flatten(grads)
    if g_def != treedef:
        raise ValueError(f"{name}.update: grads must have the structure of params ({treedef}), "
                         f"got {g_def}")
    return leaves, treedef, g_leaves


def _like(new: Any, old: Any) -> Any:
    """Keep a parameter's dtype (a float64 step must not promote float32 weights)."""
    dtype = getattr(old, "dtype", None)
    if dtype is not None and getattr(new, "dtype", dtype) != dtype and isinstance(new, np.ndarray):
        return new.astype(dtype)
    return new


class SGDState(NamedTuple):
    """The state of :class:`SGD`: the velocity (shaped like the parameters), or None without momentum.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.optim.SGD(0.1).init({"w": np.ones(2)}), ft.optim.SGD(0.1, momentum=0.9).init({"w": np.ones(2)})
        (SGDState(velocity=None), SGDState(velocity={'w': array([0., 0.])}))
    """

    velocity: Any          # None without momentum


class SGD:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = momentum * v - learning_rate * g``; ``p = p + v`` (or ``p + momentum * v -
    learning_rate * g`` with ``nesterov``), as Keras and Swift for TensorFlow define it.

    Example:
        >>> import numpy as np, functrans as ft
        >>> opt = ft.optim.SGD(learning_rate=0.1, momentum=0.9)
        >>> params = {"w": np.array(1.0)}
        >>> state = opt.init(params)
        >>> for _ in range(2):
        ...     params, state = opt.update(params, {"w": np.array(1.0)}, state)
        >>> float(params["w"]), float(state.velocity["w"])       # v: -0.1, then -0.19
        (0.71, -0.19)
    """

    def __init__(self, learning_rate: float = 0.02, momentum: float = 0.0, nesterov: bool = False):
        if learning_rate < 0 or momentum < 0:
            raise ValueError(f"SGD: learning_rate and momentum must be >= 0, got "
                             f"{learning_rate} and {momentum}")
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov

    def init(self, params: Any) -> SGDState:
        if not self.momentum:
            return SGDState(None)
        return SGDState(tree.map(lambda p: fnp.zeros_like(p), params))

    def update(self, params: Any, grads: Any, state: SGDState) -> tuple[Any, SGDState]:
        leaves, treedef, g_leaves = _check(params, grads, "SGD")
        lr, mu = self.learning_rate, self.momentum
        if not mu:
            new = [_like(p - lr * g, p) for p, g in zip(leaves, g_leaves)]
            return tree.unflatten(treedef, new), state
        v_leaves = tree.leaves(state.velocity)
        vs = [mu * v - lr * g for v, g in zip(v_leaves, g_leaves)]
        if self.nesterov:
            new = [_like(p + mu * v - lr * g, p) for p, v, g in zip(leaves, vs, g_leaves)]
        else:
            new = [_like(p + v, p) for p, v in zip(leaves, vs)]
        return tree.unflatten(treedef, new), SGDState(tree.unflatten(treedef, vs))


class AdamState(NamedTuple):
    """The state of :class:`Adam`: the step count and the two moment estimates.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.optim.Adam().init(np.ones(2))
        AdamState(step=0, mu=array([0., 0.]), nu=array([0., 0.]))
    """

    step: Any
    mu: Any                # first-moment estimates, shaped like params
    nu: Any                # second-moment estimates


class Adam:
    """Adam (Kingma & Ba): bias-corrected moment estimates of the gradient.

    ``p -= learning_rate * m_hat / (sqrt(v_hat) + eps)``.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> opt = ft.optim.Adam(learning_rate=0.1)
        >>> params = np.array([3.0, -4.0])
        >>> state = opt.init(params)
        >>> params, state = opt.update(params, ft.grad(lambda p: fnp.sum(p ** 2))(params), state)
        >>> params, state.step               # the first step is learning_rate * sign(g)
        (array([ 2.9, -3.9]), 1)
    """

    def __init__(self, learning_rate: float = 1e-3, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-8):
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Adam: b1 and b2 must be in [0, 1), got {b1} and {b2}")
        self.learning_rate = learning_rate
        self.b1, self.b2, self.eps = b1, b2, eps

    def init(self, params: Any) -> AdamState:
        zeros = tree.map(lambda p: fnp.zeros_like(p), params)
        return AdamState(0, zeros, tree.map(lambda p: fnp.zeros_like(p), params))

    def update(self, params: Any, grads: Any, state: AdamState) -> tuple[Any, AdamState]:
        leaves, treedef, g_leaves = _check(params, grads, "Adam")
        b1, b2 = self.b1, self.b2
        step = state.step + 1
        mus = [b1 * m + (1 - b1) * g for m, g in zip(tree.leaves(state.mu), g_leaves)]
        nus = [b2 * v + (1 - b2) * g * g for v, g in zip(tree.leaves(state.nu), g_leaves)]
        c1, c2 = 1 - b1 ** step, 1 - b2 ** step
        new = [_like(p - self.learning_rate * (m / c1) / (fnp.sqrt(v / c2) + self.eps), p)
               for p, m, v in zip(leaves, mus, nus)]
        return tree.unflatten(treedef, new), AdamState(step, tree.unflatten(treedef, mus),
                                                       tree.unflatten(treedef, nus))
