"""Independent references shared by the tests: central finite differences in float64."""

import numpy as np


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of a real scalar function of one array."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


def fd_jac(f, x, eps=1e-6):
    """Central finite differences: the Jacobian, of shape out.shape + in.shape."""
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    J = np.zeros(out_shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        J[(Ellipsis,) + i] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps)
    return J
