"""Every path given on the command line is relative to ``-C DIR``, as ``terraform -chdir`` and
``git -C`` take them ("as if started in DIR"): ``--out``, ``--config``, a saved plan, a state
file, ``init DIR``. An absolute path, or any path without ``-C``, is used as given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory: not the project (``tmp_path/p``), which commands reach by -C."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    example_project(tmp_path / "p")
    return cwd


def test_plan_out_and_apply_and_show_of_a_saved_plan_are_relative_to_the_project_directory(
    elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    code, _, err = run_main(["-C", "../p", "plan", "--out", "reviewed.plan"], capsys)
    assert code == 0, err
    assert (project / "reviewed.plan").is_file() and not (elsewhere / "reviewed.plan").exists()
    assert "apply it with: reconciler -C ../p apply reviewed.plan" in err
    code, out, err = run_main(["-C", "../p", "show", "reviewed.plan"], capsys)
    assert code == 0 and "to start" in out, err
    code, _, err = run_main(["-C", "../p", "apply", "reviewed.plan"], capsys)
    assert code == 0, err
    assert (project / "state" / "agents.json").is_file()


def test_a_saved_plan_applies_from_another_directory_by_an_absolute_path(
    elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "reviewed.plan"
    assert run_main(["-C", "../p", "plan", "--out", str(saved)], capsys)[0] == 0
    code, _, err = run_main(["apply", str(saved), "-C", str(tmp_path / "p")], capsys)
    assert code == 0, err


def test_plan_of_every_environment_saves_its_plans_under_the_project_directory(
    elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    shutil.copy(Path(__file__).resolve().parents[2] / "reconciler.yaml", project)
    code, _, err = run_main(
        ["-C", "../p", "plan", "--env", "all", "--out", "plans/{env}.plan"], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in (project / "plans").iterdir()) == ["prod.plan", "staging.plan"]
    assert not (elsewhere / "plans").exists()
    assert "reconciler -C ../p --env prod apply plans/prod.plan" in err


def test_config_state_files_and_init_directory_are_relative_to_the_project_directory(
    elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    (project / "conf").mkdir()
    (project / "reconciler.yaml").rename(project / "conf" / "settings.yaml")
    code, _, err = run_main(
        ["-C", "../p", "--config", "conf/settings.yaml", "apply", "--auto-approve"], capsys
    )
    assert code == 0, err
    config = ["-C", "../p", "--config", "conf/settings.yaml"]
    code, _, err = run_main([*config, "state", "pull", "--out", "copy.json"], capsys)
    assert code == 0, err
    assert (project / "copy.json").is_file() and not (elsewhere / "copy.json").exists()
    code, _, err = run_main([*config, "state", "push", "copy.json", "--force"], capsys)
    assert code == 0, err
    code, _, err = run_main(["-C", "../p", "init", "sub"], capsys)
    assert code == 0, err
    assert (project / "sub" / "reconciler.yaml").is_file() and not (elsewhere / "sub").exists()


def test_without_directory_paths_are_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = example_project(tmp_path / "p")
    monkeypatch.chdir(project)
    code, _, err = run_main(["plan", "--out", "x.plan"], capsys)
    assert code == 0, err
    assert (project / "x.plan").is_file()
    assert "apply it with: reconciler apply x.plan" in err
