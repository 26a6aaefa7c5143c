"""Two environments on one App ID and engine must not put agents into one channel with one uid.

On one App ID a channel is one room: staging's agent joining prod's channel with prod's uid
knocks prod's agent out (two clients with one uid clash), so staging's apply would alter
prod's agents. Sharing an App ID is allowed (each environment keeps its own state); the clash
is reported by ``validate`` and ``plan --env all``, at the manifest, once, with both names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import EXIT_ERROR
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.reliability.inproc import run_cli

SETTINGS = """\
engine: sandbox
environments:
  staging:
    app_id: {staging}
    state: state/staging.json
  prod:
    app_id: {prod}
    state: state/prod.json
"""
SAME = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
COMMANDS = [("validate",), ("plan", "--env", "all")]


def project(tmp_path: Path, staging: str, prod: str) -> Path:
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "agents.d" / "alpha.yaml").write_text(
        MANIFEST_TEMPLATE.format(name="alpha"), encoding="utf-8"
    )
    settings = SETTINGS.format(staging=staging, prod=prod)
    (tmp_path / "reconciler.yaml").write_text(settings, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_environments_on_one_app_id_sharing_a_channel_and_uid_are_refused(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    directory = project(tmp_path, SAME, SAME)
    result = run_cli("-C", str(directory), *command)
    assert result.code == EXIT_ERROR, result
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if "channel 'alpha'" in line]
    assert len(lines) == 1, result.stderr  # once, at the manifest
    assert lines[0].strip().startswith("agents.d/alpha.yaml:"), lines
    assert "[staging,prod]" in lines[0] and SAME in lines[0], lines
    assert not (directory / "state").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_environments_on_one_app_id_with_their_own_channels_are_valid(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    directory = project(tmp_path, SAME, SAME)
    with (directory / "agents.d" / "alpha.yaml").open("a", encoding="utf-8") as manifest:
        manifest.write("overrides:\n  staging:\n    properties: {channel: alpha-staging}\n")
    result = run_cli("-C", str(directory), *command)
    assert result.code == 0, result


def test_environments_on_their_own_app_ids_may_use_one_channel(tmp_path: Path) -> None:
    assert run_cli("-C", str(project(tmp_path, SAME, OTHER)), "validate").code == 0


@pytest.mark.parametrize(
    "command", [("plan",), ("plan", "--no-refresh"), ("apply", "--auto-approve")], ids=" ".join
)
def test_one_environment_s_plan_refuses_to_join_the_room_of_another_on_its_app_id(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    directory = project(tmp_path, SAME, SAME)
    result = run_cli("-C", str(directory), "--env", "staging", *command)
    assert result.code == EXIT_ERROR, result
    assert "[staging,prod] channel 'alpha'" in result.stderr, result
    assert not (directory / "state" / "staging.json").exists()


def test_another_environment_whose_app_id_cannot_be_read_here_is_not_compared(
    tmp_path: Path,
) -> None:
    """A job that holds staging's secrets only cannot read prod's App ID: nothing to compare."""
    directory = project(tmp_path, SAME, "${PROD_AGORA_APP_ID}")
    result = run_cli("-C", str(directory), "--env", "staging", "plan")
    assert result.code == 0, result


def test_destroy_of_one_environment_is_not_held_back_by_a_clash_with_another(
    tmp_path: Path,
) -> None:
    """Destroying starts nothing: it must stay the way out of a clash."""
    directory = project(tmp_path, SAME, OTHER)
    assert run_cli("-C", str(directory), "--env", "staging", "apply", "--auto-approve").code == 0
    settings = directory / "reconciler.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(OTHER, SAME), "utf-8")
    result = run_cli("-C", str(directory), "--env", "staging", "destroy", "--auto-approve")
    assert result.code == 0, result
    assert "1 stopped" in result.stdout + result.stderr, result


def test_validate_of_one_environment_checks_its_rooms_as_its_plan_does(tmp_path: Path) -> None:
    directory = project(tmp_path, SAME, SAME)
    result = run_cli("-C", str(directory), "--env", "prod", "validate")
    assert result.code == EXIT_ERROR, result
    assert "[staging,prod] channel 'alpha'" in result.stderr, result
