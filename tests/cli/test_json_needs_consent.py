"""`apply` / `destroy --format json` without `--auto-approve` is a usage error: said first
(exit 1), before the state lock is taken or the engine asked, so a lock held by another run
(exit 3) or an engine that is down cannot hide it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.project import Project
from tests.cli.cli_helpers import example_project, run_main


@pytest.mark.parametrize("command", ["apply", "destroy"])
def test_json_without_auto_approve_is_a_usage_error_even_while_the_state_is_locked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    directory = example_project(tmp_path / "p")
    with Project.open(directory, None, {}).lock("another run", 0.0):
        code, _, err = run_main(["-C", str(directory), command, "--format", "json"], capsys)
    assert code == 1
    assert f"--format json needs --auto-approve (there is no one to ask to {command})" in err
    assert "locked" not in err
