"""A plan's refresh runs while the manifests load; a manifest error still wins over an engine
error, and the refresh it cancels leaves no warning behind."""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import reconciler.engine as engine_module
from reconciler.errors import EngineError, ValidationError
from reconciler.models import DesiredSet, LiveStatus, Settings
from reconciler.project import Project
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.served import refused_port

MANIFEST = MANIFEST_TEMPLATE


def remote_project(directory: Path, manifest: str = MANIFEST) -> Project:
    """A project whose engine is a loopback port nothing listens on."""
    (directory / "agents.d").mkdir()
    (directory / "agents.d" / "a.yaml").write_text(manifest.format(name="a"))
    settings = Settings(
        project_dir=directory,
        engine=f"http://127.0.0.1:{refused_port()}",
        customer_id=SecretStr("id"),
        customer_secret=SecretStr("secret"),
        max_attempts=1,
        request_timeout_s=5,
    )
    return Project(settings, {})


def test_the_refresh_is_under_way_while_the_manifests_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = remote_project(tmp_path)
    seen: list[str] = []
    loading, refreshing = threading.Event(), threading.Event()

    async def refresh(*_args: Any, **_kwargs: Any) -> LiveStatus:
        seen.append("refresh begins" + (" while loading" if loading.is_set() else ""))
        refreshing.set()
        return LiveStatus(refreshed=True)

    real_load = project.load_desired

    def load(**kwargs: Any) -> DesiredSet:
        loading.set()
        # Side by side, the refresh begins while this waits; one after the other, it never
        # does (a refresh after the load would start only once this returned).
        assert refreshing.wait(timeout=60), "the refresh did not begin while the manifests loaded"
        seen.append("manifests loaded")
        return real_load(**kwargs)

    monkeypatch.setattr(engine_module, "refresh", refresh)
    monkeypatch.setattr(project, "load_desired", load)
    outcome = asyncio.run(project.plan())
    assert seen[-1] == "manifests loaded" and seen[0].startswith("refresh begins")
    assert outcome.live.refreshed and list(outcome.desired.agents) == ["a"]


def test_a_manifest_error_wins_over_the_engine_and_cancels_the_refresh_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = remote_project(tmp_path, MANIFEST.replace("properties:", "properties: 3\nx:"))
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG, logger="asyncio"):
        warnings.simplefilter("error")
        with pytest.raises(ValidationError):
            asyncio.run(project.plan())
    assert "Task was destroyed" not in caplog.text and "never retrieved" not in caplog.text


def test_an_engine_error_of_the_early_refresh_is_the_one_reported(tmp_path: Path) -> None:
    project = remote_project(tmp_path)
    with pytest.raises(EngineError):
        asyncio.run(project.plan())
