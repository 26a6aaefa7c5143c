"""A state belongs to one App ID and one engine: every command refuses it with another.

The example project on its in-process sandbox: apply once, then change the App ID (or the
engine) in the settings; every command that reads the state must refuse it, exit 1, name both
sides and write nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.models.settings import SANDBOX_APP_ID
from tests.cli.ops_project import OpsProject
from tests.reliability.inproc import run_cli

OTHER_APP_ID = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def applied(tmp_path: Path) -> Iterator[OpsProject]:
    project = OpsProject(tmp_path / "project")
    project.ok("apply", "--auto-approve")
    yield project
    project.close()


def settings(project: OpsProject, **values: str) -> None:
    """Rewrite keys of the project's reconciler.yaml."""
    path = project.dir / "reconciler.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        key = line.split(":", 1)[0]
        out.append(f"{key}: {values.pop(key)}" if key in values else line)
    out.extend(f"{key}: {value}" for key, value in values.items())
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def engine_agents(project: OpsProject) -> list[tuple[str, str, str]]:
    return sorted((a["app_id"], a["agent_id"], a["status"]) for a in project.engine.agents())


def test_apply_records_the_app_id_and_engine_in_the_state(applied: OpsProject) -> None:
    state = applied.state()
    assert (state["version"], state["app_id"], state["engine"]) == (3, SANDBOX_APP_ID, "sandbox")


@pytest.mark.parametrize(
    "command",
    [
        ("plan",),
        ("plan", "--no-refresh"),
        ("apply", "--auto-approve"),
        ("destroy", "--auto-approve"),
        ("drift",),
        ("import", "support-en", "SOMEAGENT"),
        ("state", "list"),
        ("state", "show"),
        ("state", "pull"),
        ("state", "rm", "support-en", "--force"),
    ],
    ids=lambda c: " ".join(c),
)
def test_every_command_refuses_the_state_of_another_app_id(
    applied: OpsProject, command: tuple[str, ...]
) -> None:
    before = applied.state_file.read_bytes()
    running = engine_agents(applied)
    settings(applied, app_id=OTHER_APP_ID)
    result = applied.ok(*command, code=1)
    assert f"App ID {SANDBOX_APP_ID}" in result.stderr, result
    assert f"App ID {OTHER_APP_ID}" in result.stderr, result
    assert "reconciler state rebind" in result.stderr
    assert applied.state_file.read_bytes() == before  # nothing written
    assert engine_agents(applied) == running  # nothing started or stopped, on either app


def test_plan_without_refresh_refuses_a_sandbox_state_against_a_real_engine(
    applied: OpsProject,
) -> None:
    settings(applied, engine="us")
    result = applied.ok("plan", "--no-refresh", code=1)
    assert "engine sandbox" in result.stderr and "engine us" in result.stderr, result
    assert "unchanged" not in result.output


def test_a_saved_plan_is_refused_against_another_engine(applied: OpsProject) -> None:
    plan_file = applied.dir / "saved.json"
    applied.ok("plan", "--out", str(plan_file))
    settings(applied, engine="us")
    credentials = {
        "AGORA_CUSTOMER_ID": "someone",
        "AGORA_CUSTOMER_SECRET": "s3cret-value-1234",
        "AGORA_APP_CERTIFICATE": "fedcba9876543210fedcba9876543210",
    }
    result = run_cli(
        "-C", str(applied.dir), "apply", str(plan_file), "--auto-approve", env=credentials
    )
    assert result.code == 1, result
    assert "engine sandbox" in result.stderr and "engine us" in result.stderr, result
    assert "s3cret" not in result.output


def test_a_version_1_state_takes_the_project_app_id_and_engine_at_its_next_write(
    applied: OpsProject,
) -> None:
    old = applied.state()
    del old["app_id"], old["engine"]
    old["version"] = 1
    applied.state_file.write_text(json.dumps(old, indent=2, sort_keys=True), encoding="utf-8")
    applied.ok("plan", code=0)
    assert applied.state()["version"] == 1  # a read-only command writes nothing
    applied.ok("state", "rm", "sales-en", "--force")
    state = applied.state()
    assert (state["version"], state["app_id"], state["engine"]) == (3, SANDBOX_APP_ID, "sandbox")


def test_state_rebind_moves_a_state_to_the_project_app_id_on_purpose(
    applied: OpsProject,
) -> None:
    settings(applied, app_id=OTHER_APP_ID)
    result = applied.ok("state", "rebind")
    assert SANDBOX_APP_ID in result.stderr and OTHER_APP_ID in result.stderr
    assert applied.state()["app_id"] == OTHER_APP_ID
    applied.ok("state", "list")
