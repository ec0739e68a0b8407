"""functrans: composable function transformations (grad, jvp, vmap, ...) for NumPy code.

Example:
    >>> import functrans as ft, functrans.numpy as fnp
    >>> float(ft.grad(lambda x: fnp.sin(x) * x)(0.0))
    0.0
"""

from . import errors, tree
from ._malloc import tune_malloc

tune_malloc()
from . import numpy  # noqa: F401  (gives traced values their operators and methods)
from .api import (batch_jacobian, grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp,
                  linearize, stop_gradient, value_and_grad, value_and_pullback, vjp, vmap,
                  with_gradient)
from .checkpointing import checkpoint, remat
from .custom_derivatives import custom_jvp, custom_vjp
from .test_util import check_grads
from . import nn, optim  # noqa: E402

__version__ = "0.1.0"

__all__ = ["grad", "value_and_grad", "value_and_pullback", "vjp", "jvp", "linearize", "vmap",
           "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "batch_jacobian",
           "stop_gradient", "with_gradient", "custom_vjp", "custom_jvp", "remat", "checkpoint",
           "check_grads", "tree", "errors", "numpy", "nn", "optim"]
