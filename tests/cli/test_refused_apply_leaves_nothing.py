"""An apply refused after planning (no terminal to confirm on, a saved plan of another
environment) did nothing, so it leaves no file it did not find: not the state lock file, not
the `state/` directory the lock would have created (the embedded sandbox's `.sandbox/` is the
engine's, not the project's, and is left out of the comparison)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.cli.cli_helpers import copy_example, example_with_environments, run_main, snapshot


def _project_files(directory: Path) -> set[str]:
    return {path for path in snapshot(directory) if not path.startswith(".sandbox")}


def test_apply_refused_for_want_of_a_terminal_leaves_no_state_directory_nor_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    copy_example(directory)
    before = _project_files(directory)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    code, _, err = run_main(["-C", str(directory), "apply"], capsys)
    assert code == 1
    assert "refusing to apply without confirmation: stdin is not a terminal" in err
    assert _project_files(directory) == before
    assert not (directory / "state").exists()


def test_apply_refused_for_want_of_a_terminal_leaves_no_lock_beside_an_existing_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    copy_example(directory)
    assert run_main(["-C", str(directory), "apply", "--auto-approve"], capsys)[0] == 0
    (directory / "state" / "agents.json.lock").unlink(missing_ok=True)  # as a fresh clone has
    (directory / "agents.d" / "sales-en.yaml").unlink()  # something to do
    before = snapshot(directory / "state")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run_main(["-C", str(directory), "apply"], capsys)
    assert code == 1, err
    assert "stdin is not a terminal" in err
    assert snapshot(directory / "state") == before


def test_saved_plan_of_another_environment_refused_leaves_no_state_directory_nor_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_with_environments(tmp_path / "p")
    code, _, err = run_main(
        ["-C", str(directory), "--env", "staging", "plan", "--out", "s.plan"], capsys
    )
    assert code == 0, err
    before = _project_files(directory)
    code, _, err = run_main(["-C", str(directory), "--env", "prod", "apply", "s.plan"], capsys)
    assert code == 1
    assert "the plan was made for environment staging" in err
    assert _project_files(directory) == before
    assert not (directory / "state").exists()
