"""``protect: true``: recorded in state; removing a protected agent's manifest fails the plan
until it is unprotected (``protect: false`` applied, or ``reconciler state unprotect``);
``destroy`` refuses protected agents unless ``--force``."""

from __future__ import annotations

import json

import pytest

from reconciler.state import LocalStateStore
from tests.cli.ops_project import OpsProject


def _protect(project: OpsProject, name: str, value: bool) -> None:
    path = project.dir / "agents.d" / f"{name}.yaml"
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith("protect:")
    ]
    at = next(i for i, line in enumerate(lines) if line.startswith("name:")) + 1
    lines.insert(at, f"protect: {'true' if value else 'false'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def protected(project: OpsProject) -> OpsProject:
    _protect(project, "concierge", True)
    project.ok("apply", "--auto-approve")
    return project


def test_protect_is_recorded_in_state_when_applied(protected: OpsProject) -> None:
    agents = protected.state()["agents"]
    assert agents["concierge"]["protect"] is True
    assert agents["sales-en"]["protect"] is False


def test_turning_protect_on_is_a_state_only_update_without_an_engine_call(
    project: OpsProject,
) -> None:
    project.ok("apply", "--auto-approve")
    agent_id = project.agent_id("concierge")
    _protect(project, "concierge", True)
    plan = json.loads(project.ok("plan", "--format", "json").stdout)
    concierge = next(a for a in plan["agents"] if a["name"] == "concierge")
    assert concierge["action"] == "update"
    assert concierge["reason"] == "protect: true recorded in state (no engine call)"
    assert [(c["path"], c["before"], c["after"]) for c in concierge["changes"]] == [
        ("protect", False, True)
    ]
    project.ok("apply", "--auto-approve")
    assert project.state()["agents"]["concierge"]["protect"] is True
    assert project.agent_id("concierge") == agent_id
    updates = project.engine.control("GET", f"/_sandbox/agents/{agent_id}")["updates"]
    assert updates == []
    assert "No changes." in project.ok("plan").stdout


def test_removing_a_protected_manifest_fails_the_plan_naming_how_to_unprotect(
    protected: OpsProject,
) -> None:
    (protected.dir / "agents.d" / "concierge.yaml").unlink()
    result = protected.ok("plan", code=1)
    assert "Error: this plan cannot be applied:" in result.stdout
    assert (
        "concierge is protected (protect: true in state) and its manifest was removed; to "
        "remove it, first apply its manifest with protect: false, or run "
        "`reconciler state unprotect concierge`"
    ) in result.stdout
    assert protected.ok("apply", "--auto-approve", code=1)
    assert protected.status(protected.agent_id("concierge")) == "RUNNING"


def test_protect_false_applied_first_lets_the_manifest_be_removed(protected: OpsProject) -> None:
    _protect(protected, "concierge", False)
    protected.ok("apply", "--auto-approve")
    assert protected.state()["agents"]["concierge"]["protect"] is False
    (protected.dir / "agents.d" / "concierge.yaml").unlink()
    protected.ok("apply", "--auto-approve")
    assert "concierge" not in protected.state()["agents"]


def test_state_unprotect_lets_the_next_plan_stop_the_agent(protected: OpsProject) -> None:
    agent_id = protected.agent_id("concierge")
    (protected.dir / "agents.d" / "concierge.yaml").unlink()
    result = protected.ok("state", "unprotect", "concierge")
    assert result.stdout.startswith(f"Unprotected concierge (agent {agent_id})")
    assert protected.status(agent_id) == "RUNNING"
    protected.ok("apply", "--auto-approve")
    assert "concierge" not in protected.state()["agents"]


def test_state_unprotect_warns_when_the_manifest_still_protects_the_agent(
    protected: OpsProject,
) -> None:
    result = protected.ok("state", "unprotect", "concierge")
    assert "agents.d/concierge.yaml still says protect: true" in result.stderr


def test_state_unprotect_refuses_an_unknown_or_unprotected_agent(protected: OpsProject) -> None:
    before = protected.state()
    assert "not protected" in protected.ok("state", "unprotect", "sales-en", code=1).output
    assert "records no agent 'nope'" in protected.ok("state", "unprotect", "nope", code=1).output
    assert protected.state() == before


def test_destroy_refuses_protected_agents_unless_forced(protected: OpsProject) -> None:
    agent_id = protected.agent_id("concierge")
    result = protected.ok("destroy", "--auto-approve", code=1)
    assert "concierge is protected (protect: true in state) and destroy would stop it" in (
        result.stdout
    )
    assert "pass --force" in result.stdout
    assert protected.status(agent_id) == "RUNNING"
    assert len(protected.state()["agents"]) == 3
    protected.ok("destroy", "--auto-approve", "--force")
    assert protected.state()["agents"] == {}


def test_a_state_file_written_before_protect_existed_loads_as_unprotected(
    project: OpsProject,
) -> None:
    project.ok("apply", "--auto-approve")
    doc = project.state()
    for record in doc["agents"].values():
        del record["protect"]
    project.state_file.write_text(json.dumps(doc), encoding="utf-8")
    assert "No changes." in project.ok("plan").stdout
    records = LocalStateStore(project.state_file).load().agents.values()
    assert [r.protect for r in records] == [False, False, False]
