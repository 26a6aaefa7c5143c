"""Fixtures of the CLI tests: the example project on its own in-process sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.ops_project import OpsProject
from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform, platform_on
from tests.state.pg import pg_url  # noqa: F401  (a fixture)


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


@pytest.fixture
def fresh_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The example's Platform manifests only, on their own in-process sandbox app, with a local
    state file; nothing applied yet."""
    yield from platform_on(tmp_path, monkeypatch, "state/agents.json")


@pytest.fixture
def applied_platform(fresh_platform: Platform) -> Platform:
    """:func:`fresh_platform`, applied: the three resources are created and recorded."""
    fresh_platform.ok("apply", "--auto-approve")
    assert set(fresh_platform.state().resources) == {KEYS, SAVED, NUMBER}
    return fresh_platform


@pytest.fixture
def on_postgres(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_url: str,  # noqa: F811  (the fixture imported above)
) -> Iterator[Platform]:
    """The Platform project with its state in a throwaway PostgreSQL database, applied."""
    for made in platform_on(tmp_path, monkeypatch, pg_url):
        made.ok("apply", "--auto-approve")
        yield made
