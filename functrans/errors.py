"""The exceptions functrans raises.

Every error names what was wrong, what was expected and what was received, so a user can fix
the call without reading functrans' source.
"""

from __future__ import annotations


class FunctransError(Exception):
    """Base class of the errors specific to functrans.

    Example:
        >>> import functrans as ft
        >>> issubclass(ft.errors.ConcretizationError, ft.errors.FunctransError)
        True
    """


class LeakedTracerError(FunctransError):
    """A traced value was used after the transform that created it had returned.

    Example:
        >>> import functrans as ft
        >>> leaked = []
        >>> _ = ft.grad(lambda x: leaked.append(x) or x * 2.0)(1.0)
        >>> leaked[0] + 1.0
        Traceback (most recent call last):
        ...
        functrans.errors.LeakedTracerError: a value traced by `grad` was used in 'numpy.add' after...
    """


class ConcretizationError(FunctransError, TypeError):
    """Python asked for one concrete value (``bool``, ``int``, an index) of a value that has none.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.vmap(lambda x: x if x > 0 else -x)(np.array([1.0, -1.0]))
        Traceback (most recent call last):
        ...
        functrans.errors.ConcretizationError: a concrete value (bool, int or index) is needed...
    """


__all__ = ["FunctransError", "LeakedTracerError", "ConcretizationError"]
