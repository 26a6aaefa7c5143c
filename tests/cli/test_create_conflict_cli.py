"""A create the Platform refuses because it holds the resource already (made outside this state)
fails cleanly, nothing recorded, and says how to bring it under management."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import EXIT_ERROR
from tests.cli.test_state_resources_cli import KEYS, Platform


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    project = Platform(tmp_path / "project", monkeypatch, "state/agents.json")
    project.ok("apply", "--auto-approve")
    yield project
    project.app.state.sandbox.close()


def test_a_create_of_a_set_the_platform_holds_already_names_the_import_command(
    applied: Platform,
) -> None:
    applied.ok("state", "rm", "--force", KEYS)
    result = applied.ok("apply", "--auto-approve", code=EXIT_ERROR)
    assert "SecretSetAlreadyExists" in result.stderr
    assert f"`reconciler import {KEYS} ID`" in result.stderr
    assert KEYS not in applied.state().resources
    applied.ok("import", KEYS, "llm_keys")
    assert KEYS in applied.state().resources
