"""Fixtures for the manifest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests.manifest_helpers import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project (with an empty agents.d/) under tmp_path."""
    return Project(tmp_path)
