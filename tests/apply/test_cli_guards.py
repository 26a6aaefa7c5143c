"""Options that make no sense for a command are refused before anything is read or locked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_destroy_has_no_replace_option(tmp_path: Path) -> None:
    done = _run(tmp_path, "destroy", "--replace", "x")
    assert done.returncode == 1
    assert "No such option '--replace'" in done.stderr
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("option", [("--target", "x"), ("--replace", "x"), ("--no-refresh",)])
def test_apply_of_a_saved_plan_refuses_plan_options_before_taking_the_lock(
    tmp_path: Path, option: tuple[str, ...]
) -> None:
    (tmp_path / "agents.d").mkdir()
    done = _run(tmp_path, "apply", "saved.plan", *option)
    assert done.returncode == 1
    assert "belong to the plan, not to `apply FILE`" in done.stderr
    assert not (tmp_path / "state").exists()
