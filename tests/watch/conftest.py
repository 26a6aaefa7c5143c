"""Fixtures of the watch tests about processes: a served sandbox per session (reset before each
test), a copy of the example project pointed at it, and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox, start_sandbox
from tests.state.pg import pg_url

__all__ = ["pg_url"]


@pytest.fixture(scope="session")
def served_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("watch-sandbox"))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(served_sandbox: Sandbox) -> Sandbox:
    served_sandbox.reset()
    return served_sandbox


def make_project(tmp_path: Path, sandbox: Sandbox, name: str = "project") -> Project:
    directory = tmp_path / name
    directory.mkdir()
    return Project(directory, sandbox)


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Project:
    return make_project(tmp_path, sandbox)
