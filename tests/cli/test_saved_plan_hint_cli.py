"""The command `plan --out` suggests applies that saved plan: in a project with environments it
names the plan's environment (without it, apply refuses: the project declares several)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_with_environments, run_main


def test_plan_out_of_one_environment_suggests_apply_with_that_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = example_with_environments(tmp_path / "p")
    monkeypatch.chdir(directory)
    code, _, err = run_main(["--env", "staging", "plan", "--out", "s.plan"], capsys)
    assert code == 0, err
    hint = "apply it with: reconciler --env staging apply s.plan"
    assert hint in err
    suggested = shlex.split(err.split("apply it with: ")[1].splitlines()[0])
    code, out, err = run_main([*suggested[1:], "--auto-approve"], capsys)
    assert code == 0, err
    assert "Apply complete" in out
