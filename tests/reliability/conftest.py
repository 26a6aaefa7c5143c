"""Fixtures of the reliability suite: one served sandbox engine per session (a real process on a
loopback port), reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.chaos_harness import Engine, start_engine


@pytest.fixture(scope="session")
def served_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = start_engine(tmp_path_factory.mktemp("reliability-engine"), stop_delay_s=0.2, seed=6)
    yield engine
    engine.stop()


@pytest.fixture
def engine(served_engine: Engine) -> Engine:
    """The served engine with no agent, fault, latency or rule."""
    served_engine.reset()
    return served_engine
