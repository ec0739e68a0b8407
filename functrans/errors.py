"""The exceptions functrans raises.

Every error names what was wrong, what was expected and what was received, so a user can fix
the call without reading functrans' source.
"""

from __future__ import annotations


class FunctransError(Exception):
    """Base class of the errors specific to functrans."""


class LeakedTracerError(FunctransError):
    """A traced value was used after the transform that created it had returned."""


class ConcretizationError(FunctransError, TypeError):
    """Python asked for one concrete value (``bool``, ``int``, an index) of a value that has none."""


__all__ = ["FunctransError", "LeakedTracerError", "ConcretizationError"]
