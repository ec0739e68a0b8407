"""NumPy's public names, re-exported for the eval fast paths (``from . import _np``).

CPython 3.11 caches an attribute lookup on a module only if the module has no ``__getattr__``,
and NumPy's has one (for its lazily loaded and deprecated names): each ``numpy.f`` in a function
body then costs ~40 ns, a sixth of NumPy's own call on a 3-element array. Looked up on this
plain module, the same names cost a cached global.
"""

from numpy import *  # noqa: F401, F403
