"""Suite-wide test configuration: deterministic hypothesis runs (CI must not flake)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "reconciler",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("reconciler")
