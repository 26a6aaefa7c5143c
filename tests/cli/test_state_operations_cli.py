"""``reconciler import``, ``state mv`` and ``state rm`` end to end against the in-process
sandbox: what each records, that the agent keeps running, what the next plan does, and every
refusal (which changes nothing)."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import EXIT_CONFLICT
from tests.cli.ops_project import OpsProject
from tests.served import refused_port
from tests.state.conftest import HolderFactory, holder  # noqa: F401  (a fixture)


def _plan(project: OpsProject) -> dict[str, dict[str, object]]:
    plan = json.loads(project.ok("plan", "--format", "json").stdout)
    return {agent["name"]: agent for agent in plan["agents"]}


def _rename_manifest(project: OpsProject, old: str, new: str) -> None:
    path = project.dir / "agents.d" / f"{old}.yaml"
    text = path.read_text(encoding="utf-8").replace(f"name: {old}\n", f"name: {new}\n")
    (project.dir / "agents.d" / f"{new}.yaml").write_text(text, encoding="utf-8")
    path.unlink()


# -- import -------------------------------------------------------------------------------------


def test_import_records_a_running_agent_and_the_next_plan_restarts_it_onto_the_manifest(
    project: OpsProject,
) -> None:
    project.ok("validate")
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    result = project.ok("import", "support-en", agent_id)
    assert f"Imported {agent_id} as support-en (channel support-en)" in result.stdout
    assert "the next plan restarts support-en" in result.stderr
    record = project.state()["agents"]["support-en"]
    assert (record["agent_id"], record["generation"], record["spec"]) == (agent_id, 0, {})
    plan = _plan(project)
    assert plan["support-en"]["action"] == "restart"
    assert plan["support-en"]["agent_id"] == agent_id
    assert project.status(agent_id) == "RUNNING"  # import itself touched nothing


def test_import_with_assume_matches_records_the_manifest_and_the_next_plan_only_renews_the_token(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    project.ok("import", "--assume-matches", "support-en", agent_id)
    plan = _plan(project)
    assert plan["support-en"]["action"] == "renew-token"
    assert plan["support-en"]["changes"] == []
    project.ok("apply", "--auto-approve")
    assert project.agent_id("support-en") == agent_id
    assert project.status(agent_id) == "RUNNING"
    assert _plan(project)["support-en"]["action"] == "no-op"


def test_import_refuses_a_name_no_manifest_declares(project: OpsProject) -> None:
    agent_id = project.engine.start_directly("x-1", channel="support-en")
    result = project.ok("import", "nobody", agent_id, code=1)
    assert "no manifest in agents.d declares 'nobody'" in result.stderr
    assert not project.state_file.exists()


def test_import_refuses_a_name_state_already_records(applied: OpsProject) -> None:
    agent_id = applied.engine.start_directly("x-1", channel="support-en", uid="4242")
    before = applied.state_file.read_bytes()
    result = applied.ok("import", "support-en", agent_id, code=1)
    assert "state already records support-en as agent" in result.stderr
    assert "reconciler state rm support-en" in result.stderr
    assert applied.state_file.read_bytes() == before


def test_import_refuses_an_agent_the_engine_does_not_know(project: OpsProject) -> None:
    result = project.ok("import", "support-en", "NOSUCHAGENT", code=1)
    assert "cannot import NOSUCHAGENT as support-en: the engine does not know it" in result.stderr
    assert not project.state_file.exists()


def test_import_refuses_an_agent_that_is_no_longer_running(project: OpsProject) -> None:
    agent_id = project.engine.start_directly("x-1", channel="support-en")
    project.crash(agent_id, "agent exits with reason: crashed")
    result = project.ok("import", "support-en", agent_id, code=1)
    assert "it is FAILED (agent exits with reason: crashed), not running" in result.stderr
    assert not project.state_file.exists()


def test_import_refuses_an_agent_in_another_channel_than_the_manifests(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("x-1", channel="sales-en")
    result = project.ok("import", "support-en", agent_id, code=1)
    assert "does not list it among the active agents of channel 'support-en'" in result.stderr
    assert not project.state_file.exists()


def test_import_without_engine_credentials_is_an_error_before_anything_is_read(
    project: OpsProject,
) -> None:
    settings = project.dir / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8").replace(
        "engine: sandbox", f"engine: http://127.0.0.1:{refused_port()}"
    )
    settings.write_text(text, encoding="utf-8")
    result = project.ok("import", "support-en", "SOMEAGENT", code=1)
    assert "import (checking the agent on the engine) needs the credentials" in result.stderr
    assert not (project.dir / "state").exists()


def test_import_refuses_an_agent_recorded_under_another_name(applied: OpsProject) -> None:
    applied.ok("state", "rm", "--force", "support-en")
    sales = applied.agent_id("sales-en")
    result = applied.ok("import", "support-en", sales, code=1)
    assert "state already records it as sales-en" in result.stderr


# -- state mv -----------------------------------------------------------------------------------


def test_state_mv_moves_the_record_and_the_renamed_manifest_plans_no_change(
    applied: OpsProject,
) -> None:
    agent_id = applied.agent_id("support-en")
    _rename_manifest(applied, "support-en", "support-main")
    result = applied.ok("state", "mv", "support-en", "support-main")
    assert f"Moved support-en to support-main (agent {agent_id} keeps running)" in result.stdout
    agents = applied.state()["agents"]
    assert "support-en" not in agents
    assert (agents["support-main"]["agent_id"], agents["support-main"]["name"]) == (
        agent_id,
        "support-main",
    )
    assert applied.status(agent_id) == "RUNNING"
    assert applied.ok("plan", "--detailed-exitcode").code == 0


def test_state_mv_refuses_when_the_next_plan_would_stop_or_duplicate_the_agent(
    applied: OpsProject,
) -> None:
    before = applied.state_file.read_bytes()
    result = applied.ok("state", "mv", "support-en", "support-main", code=1)
    assert "no manifest declares support-main, so the next plan stops the agent" in result.stderr
    assert "still declares support-en, so the next plan starts a second agent" in result.stderr
    assert applied.state_file.read_bytes() == before


def test_state_mv_with_force_moves_anyway_and_warns(applied: OpsProject) -> None:
    result = applied.ok("state", "mv", "--force", "support-en", "support-main")
    assert "Warning: no manifest declares support-main" in result.stderr
    assert "support-main" in applied.state()["agents"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("nobody", "x", "state records no agent 'nobody'"),
        ("support-en", "sales-en", "state already records sales-en as agent"),
        ("support-en", "Bad_Name", "not an agent name"),
    ],
)
def test_state_mv_refuses_unknown_taken_or_invalid_names(
    applied: OpsProject, old: str, new: str, message: str
) -> None:
    before = applied.state_file.read_bytes()
    result = applied.ok("state", "mv", "--force", old, new, code=1)
    assert message in result.stderr
    assert applied.state_file.read_bytes() == before


# -- state rm -----------------------------------------------------------------------------------


def test_state_rm_forgets_the_agent_which_keeps_running_unmanaged(applied: OpsProject) -> None:
    agent_id = applied.agent_id("concierge")
    (applied.dir / "agents.d" / "concierge.yaml").unlink()
    result = applied.ok("state", "rm", "concierge")
    assert f"Removed concierge from state; agent {agent_id} keeps running" in result.stdout
    assert "concierge" not in applied.state()["agents"]
    assert applied.status(agent_id) == "RUNNING"
    assert "concierge" not in _plan(applied)  # nothing stops it


def test_state_rm_refuses_while_a_manifest_declares_the_agent(applied: OpsProject) -> None:
    before = applied.state_file.read_bytes()
    result = applied.ok("state", "rm", "concierge", code=1)
    assert "the next plan starts a second agent for it" in result.stderr
    assert "delete the manifest first, or pass --force" in result.stderr
    assert applied.state_file.read_bytes() == before


def test_state_rm_with_force_warns_that_the_next_plan_starts_a_second_agent(
    applied: OpsProject,
) -> None:
    result = applied.ok("state", "rm", "--force", "concierge")
    assert "Warning: agents.d/concierge.yaml still declares concierge" in result.stderr
    assert _plan(applied)["concierge"]["action"] == "start"


def test_state_rm_refuses_an_agent_with_an_unresolved_journal_entry(applied: OpsProject) -> None:
    (applied.dir / "agents.d" / "concierge.yaml").unlink()
    doc = applied.state()
    doc["pending"] = [
        {
            "id": "interrupted-leave",
            "op": "leave",
            "name": "concierge",
            "wire_name": "concierge-1",
            "generation": 1,
            "channel": "concierge-lobby",
            "agent_id": doc["agents"]["concierge"]["agent_id"],
            "created_at": 1.0,
        }
    ]
    applied.state_file.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    result = applied.ok("state", "rm", "concierge", code=1)
    assert "an interrupted engine call of a previous run concerns concierge" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("state", "rm", "--force", "concierge"),
        ("state", "mv", "--force", "concierge", "c2"),
        ("import", "concierge", "SOMEAGENT"),
    ],
)
def test_state_edits_and_import_fail_fast_while_another_process_holds_the_lock(
    applied: OpsProject,
    holder: HolderFactory,  # noqa: F811  (the fixture imported above)
    args: tuple[str, ...],
) -> None:
    before = applied.state_file.read_bytes()
    held = holder(applied.state_file)
    try:
        assert applied.run(*args).code == EXIT_CONFLICT
    finally:
        held.release()
    assert applied.state_file.read_bytes() == before
