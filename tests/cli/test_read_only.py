"""Read-only commands create or change no file of the project, and outside a project no command
writes anything: it says which file is missing and how to point at the project.

Regressions: every plan created ``state/agents.json.lock``; ``plan --out`` created
``state/agents.json``; in a directory that is not a project (even inside ``agents.d/``) plan
wrote ``state/agents.json.lock`` before failing. The embedded sandbox's database (``.sandbox/``)
is the engine's, not the project's, and is left out of the comparison.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.state import StateLock
from tests.cli.cli_helpers import example_project, snapshot
from tests.reliability.inproc import run_cli

READ_ONLY = [
    ("validate",),
    ("validate", "--format", "json"),
    ("plan",),
    ("plan", "--no-refresh"),
    ("plan", "--format", "json"),
    ("plan", "--format", "markdown"),
    ("plan", "--destroy"),
    ("plan", "--out", "{out}"),
    ("show", "{saved}"),
    ("schema",),
    ("state", "list"),
    ("state", "show"),
    ("drift",),
]
EVERY_PROJECT_COMMAND = [
    ("validate",),
    ("plan",),
    ("plan", "--out", "{out}"),
    ("apply", "--auto-approve"),
    ("apply", "{saved}"),
    ("destroy", "--auto-approve"),
    ("state", "list"),
    ("state", "show"),
    ("force-unlock", "0123"),
    ("drift",),
    ("import", "concierge", "AGENT0123"),
    ("state", "rm", "concierge"),
    ("state", "mv", "concierge", "lobby"),
]


def _args(template: tuple[str, ...], out: Path, saved: Path) -> list[str]:
    return [a.format(out=out, saved=saved) for a in template]


@pytest.fixture
def saved_plan(tmp_path: Path) -> Path:
    """A plan saved from another copy of the project (outside the tree under test)."""
    other = example_project(tmp_path / "other")
    path = tmp_path / "saved.plan"
    assert run_cli("-C", str(other), "plan", "--out", str(path)).code == 0
    return path


@pytest.mark.parametrize("state", ["fresh", "applied"])
@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_read_only_command_changes_no_file_of_the_project(
    tmp_path: Path, saved_plan: Path, command: tuple[str, ...], state: str
) -> None:
    project = example_project(tmp_path / "project")
    if state == "applied":
        assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
    out = tmp_path / "out.plan"
    before = snapshot(project)

    result = run_cli("-C", str(project), *_args(command, out, saved_plan))

    assert "Traceback" not in result.output and "Internal error" not in result.output, result
    if not (command == ("state", "show") and state == "fresh"):  # nothing recorded: an error
        assert result.code in ((0, 2) if command == ("drift",) else (0,)), result
    assert snapshot(project) == before
    assert ("{out}" in command) == out.is_file()


def test_plan_reads_state_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    project = example_project(tmp_path / "project")
    assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0

    with StateLock(project / "state" / "agents.json", command="apply"):
        planned = run_cli("-C", str(project), "plan", "--detailed-exitcode")

    assert planned.code == 0, planned
    assert "No changes." in planned.stdout


@pytest.mark.parametrize("command", EVERY_PROJECT_COMMAND, ids=" ".join)
def test_outside_a_project_nothing_is_written_and_the_error_hints_at_dash_c(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    saved_plan: Path,
    command: tuple[str, ...],
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = run_cli(*_args(command, elsewhere / "out.plan", saved_plan))

    assert result.code == 1, result
    assert f"{elsewhere} is not a reconciler project" in result.stderr
    assert "it has no reconciler.yaml and no agents.d/ directory" in result.stderr
    assert "pass -C DIR, or create one with `reconciler init`" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(elsewhere) == {}


@pytest.mark.parametrize("command", EVERY_PROJECT_COMMAND, ids=" ".join)
def test_inside_agents_d_nothing_is_written_and_the_error_names_the_project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    saved_plan: Path,
    command: tuple[str, ...],
) -> None:
    project = example_project(tmp_path / "project")
    before = snapshot(project)
    monkeypatch.chdir(project / "agents.d")

    result = run_cli(*_args(command, tmp_path / "out.plan", saved_plan))

    assert result.code == 1, result
    assert f"the project is {project.resolve()}: run there, or pass -C .." in result.stderr
    assert snapshot(project) == before


def test_a_missing_project_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    result = run_cli("-C", str(missing), "plan")

    assert result.code == 1, result
    assert f"project directory {missing} not found" in result.stderr
    assert not missing.exists()
