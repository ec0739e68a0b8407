"""functrans.nn: layers as pytree Modules, activations, losses and the convolution primitive.

Example (the XOR MLP of Swift's custom-differentiation tutorial):
    >>> import numpy as np, functrans as ft
    >>> rng = np.random.default_rng(0)
    >>> model = ft.nn.Sequential([ft.nn.Dense(2, 10, activation=ft.nn.relu, rng=rng),
    ...                           ft.nn.Dense(10, 1, rng=rng)])
    >>> x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    >>> y = np.array([[0], [1], [1], [0]], np.float32)
    >>> loss = lambda m: ft.nn.mean_squared_error(m(x), y)
    >>> grads = ft.grad(loss)(model)             # a Sequential of gradients
    >>> type(grads).__name__, grads.layers[0].kernel.shape
    ('Sequential', (2, 10))
"""

from .conv import conv2d, conv2d_p, conv_padding
from .functions import (bias_add, bias_add_p, elu, relu_p, log_softmax, logsumexp, mean_squared_error,
                        one_hot, relu,
                        sigmoid, softmax, softmax_cross_entropy, softplus)
from .layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Flatten, Lambda, MaxPool2D, Remat,
                     Sequential, glorot_uniform)
from .module import Module, is_array

__all__ = ["Module", "is_array", "Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten",
           "BatchNorm", "Sequential", "Remat", "Lambda", "glorot_uniform", "conv2d", "conv2d_p",
           "conv_padding", "bias_add", "bias_add_p", "relu", "relu_p", "elu", "sigmoid", "softplus",
               "softmax", "log_softmax",
           "logsumexp", "one_hot", "softmax_cross_entropy", "mean_squared_error"]
