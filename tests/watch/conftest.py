"""Fixtures of the watch tests about processes: a served sandbox per session (reset before each
test), a copy of the example project pointed at it, and a fresh PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import sandbox, served_sandbox
from tests.e2e.e2e_helpers import Project, Sandbox
from tests.state.pg import pg_url

__all__ = ["pg_url", "sandbox", "served_sandbox"]


def make_project(tmp_path: Path, sandbox: Sandbox, name: str = "project") -> Project:
    directory = tmp_path / name
    directory.mkdir()
    return Project(directory, sandbox)


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Project:
    return make_project(tmp_path, sandbox)
