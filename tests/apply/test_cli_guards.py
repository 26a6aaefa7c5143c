"""Options that make no sense for a command are refused before anything is read or locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.inproc import run_cli


def test_destroy_has_no_replace_option(tmp_path: Path) -> None:
    done = run_cli("-C", str(tmp_path), "destroy", "--replace", "x")
    assert done.code == 1
    assert "No such option '--replace'" in done.stderr
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("option", [("--target", "x"), ("--replace", "x"), ("--no-refresh",)])
def test_apply_of_a_saved_plan_refuses_plan_options_before_taking_the_lock(
    tmp_path: Path, option: tuple[str, ...]
) -> None:
    (tmp_path / "agents.d").mkdir()
    done = run_cli("-C", str(tmp_path), "apply", "saved.plan", *option)
    assert done.code == 1
    assert "belong to the plan, not to `apply FILE`" in done.stderr
    assert not (tmp_path / "state").exists()
