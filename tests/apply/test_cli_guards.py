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


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("apply", "saved.plan", "--target", "x"), "--target"),
        (("apply", "--no-wait", "--wait-timeout", "1m", "--auto-approve"), "--wait-timeout"),
        (("apply", "--format", "json"), "--auto-approve"),
        (("destroy", "--format", "json"), "--auto-approve"),
    ],
    ids=[
        "plan-option-with-a-saved-plan",
        "wait-timeout-with-no-wait",
        "json-apply",
        "json-destroy",
    ],
)
def test_conflicting_options_are_usage_errors_naming_them_before_anything_is_read(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    """Said as click says a usage error (the usage line, then the error naming the option),
    exit 1 (2 means changes), before the settings are read: in a project of several
    environments without --env, the conflict is still what is reported."""
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "reconciler.yaml").write_text((ROOT / "reconciler.yaml").read_text())
    done = run_cli("-C", str(tmp_path), *args)
    assert done.code == 1, done
    assert done.stderr.startswith(f"Usage: reconciler {args[0]} "), done.stderr
    assert named in done.stderr.split("Error: ", 1)[1]
    assert not (tmp_path / "state").exists()
