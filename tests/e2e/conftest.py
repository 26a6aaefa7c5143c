"""Fixtures of the end-to-end tests: one served sandbox per session (reset before each test)
and a fresh copy of the example project per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, start_sandbox


@pytest.fixture(scope="session")
def served_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("e2e-sandbox"))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(served_sandbox: Sandbox) -> Sandbox:
    """The served sandbox, reset (agents, clock, faults, settings, request log)."""
    served_sandbox.reset()
    return served_sandbox


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Project:
    """The example project (reconciler.yaml + agents.d/) with ``engine: http://127.0.0.1:PORT``."""
    directory = tmp_path / "project"
    directory.mkdir()
    return Project(directory, sandbox)
