"""Test configuration: the hypothesis profiles.

``ci`` (the default) is bounded and derandomized, so every run of the suite draws the same
examples and the property tests add well under a minute; ``long`` (``HYPOTHESIS_PROFILE=long``,
``nox -s props``) draws many more, from a fresh seed each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=600, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
