"""Suite-wide test configuration: deterministic hypothesis runs (CI must not flake), and every
piped child process a test opened reaped at its end (``tests/processes.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.processes import reap_opened

settings.register_profile(
    "reconciler",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("reconciler")


@pytest.fixture(autouse=True)
def _reap_opened_processes() -> Iterator[None]:
    """Reap the piped children this test opened, so none is left to the garbage collector."""
    yield
    reap_opened()
