"""Keep freed memory for reuse (glibc only).

Differentiating allocates and frees many large temporaries: cotangents, tape residuals,
Jacobian bases. By default glibc returns big freed blocks to the operating system at once,
so the next allocation of the same size page-faults its way through fresh memory, which can
cost more than the arithmetic. Raising the mmap and trim thresholds keeps those blocks in
the heap for reuse. Set ``FUNCTRANS_MALLOC_TUNING=0`` to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds; returns whether anything was changed."""
    if os.environ.get("FUNCTRANS_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 64 << 20) and mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    return bool(ok and mallopt(_M_TOP_PAD, 16 << 20))
