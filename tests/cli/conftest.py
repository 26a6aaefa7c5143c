"""Fixtures of the CLI tests: the example project on its own in-process sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.ops_project import OpsProject


@pytest.fixture
def project(tmp_path: Path) -> Iterator[OpsProject]:
    """The example project on its own in-process sandbox, closed after the test."""
    p = OpsProject(tmp_path / "project")
    yield p
    p.close()


@pytest.fixture
def applied(project: OpsProject) -> OpsProject:
    """:func:`project`, applied."""
    project.ok("apply", "--auto-approve")
    return project
