"""End to end, through the CLI and a served sandbox: the life of the example project.

Start it, change a prompt (update in place), change a TTS vendor (restart), delete a manifest
(stop), destroy.
"""

from __future__ import annotations

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow

EXAMPLE = ("concierge", "sales-en", "support-en")
OLD_PROMPT = "Answer briefly and in plain words."
NEW_PROMPT = "Answer in one short sentence, in plain words."


def start_example(project: Project) -> dict[str, str]:
    """Apply the example project; return agent ids by name (from state)."""
    project.apply()
    return {name: r["agent_id"] for name, r in project.state()["agents"].items()}


def test_example_project_apply_starts_three_agents_then_nothing_is_left_to_do(
    project: Project, sandbox: Sandbox
) -> None:
    assert project.ok("plan", "--detailed-exitcode", code=2)

    first = project.ok("apply", "--auto-approve")

    assert "Apply complete: 3 started." in first.stdout
    running = sandbox.running()
    assert sorted(running) == [project.wire(name) for name in EXAMPLE]
    recorded = project.state()["agents"]
    assert {r["agent_id"] for r in recorded.values()} == {a["agent_id"] for a in running.values()}
    for name in EXAMPLE:
        assert f"{name}: started [{recorded[name]['agent_id']}]" in first.stdout

    again = project.ok("apply", "--auto-approve")
    assert "No changes" in again.stdout
    assert "Apply complete" not in again.stdout
    assert project.ok("plan", "--detailed-exitcode", code=0)
    assert len(sandbox.agents()) == 3  # nothing was started twice


def test_editing_a_prompt_updates_the_agent_in_place_with_the_same_agent_id(
    project: Project, sandbox: Sandbox
) -> None:
    ids = start_example(project)
    project.edit("support-en", OLD_PROMPT, NEW_PROMPT)

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "support-en will be updated in place" in plan.stdout
    assert "properties.llm.system_messages[0].content" in plan.stdout
    assert f"+You are the voice support agent of Acme Cloud. {NEW_PROMPT}" in plan.stdout
    assert "Plan: 1 to update in place; 2 unchanged." in plan.stdout

    applied = project.apply()

    assert "Apply complete: 1 updated." in applied.stdout
    assert project.state()["agents"]["support-en"]["agent_id"] == ids["support-en"]
    view = sandbox.agent(ids["support-en"])
    assert view["status"] == "RUNNING"
    assert len(view["updates"]) == 1
    sent = view["updates"][0]["body"]["properties"]
    assert NEW_PROMPT in sent["llm"]["system_messages"][0]["content"]
    assert NEW_PROMPT in view["properties"]["llm"]["system_messages"][0]["content"]
    assert sorted(sandbox.running()) == [project.wire(name) for name in EXAMPLE]
    assert project.ok("plan", "--detailed-exitcode", code=0)


def test_changing_the_tts_vendor_restarts_the_agent_under_a_new_id(
    project: Project, sandbox: Sandbox
) -> None:
    ids = start_example(project)
    project.edit("support-en", "vendor: microsoft", "vendor: elevenlabs")

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "support-en will be restarted" in plan.stdout
    assert "changes force a restart: properties.tts.vendor" in plan.stdout

    applied = project.apply()

    assert "Apply complete: 1 restarted." in applied.stdout
    record = project.state()["agents"]["support-en"]
    assert record["agent_id"] != ids["support-en"]
    assert record["wire_name"] == project.wire("support-en", 2)
    assert sandbox.agent(ids["support-en"])["status"] == "STOPPED"
    new = sandbox.agent(record["agent_id"])
    assert new["status"] == "RUNNING"
    assert new["name"] == project.wire("support-en", 2)
    assert new["join_body"]["properties"]["tts"]["vendor"] == "elevenlabs"
    assert len(sandbox.agents(channel="support-en", status="RUNNING")) == 1
    assert project.ok("plan", "--detailed-exitcode", code=0)


def test_deleting_a_manifest_stops_its_agent_and_destroy_stops_everything(
    project: Project, sandbox: Sandbox
) -> None:
    ids = start_example(project)
    project.manifest("sales-en").unlink()

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "sales-en will be stopped" in plan.stdout

    applied = project.apply()

    assert "Apply complete: 1 stopped." in applied.stdout
    assert sandbox.agent(ids["sales-en"])["status"] == "STOPPED"
    assert sorted(project.state()["agents"]) == ["concierge", "support-en"]
    assert sorted(sandbox.running()) == [project.wire("concierge"), project.wire("support-en")]

    destroyed = project.ok("destroy", "--auto-approve")

    assert "Destroy complete: 2 stopped." in destroyed.stdout
    assert "apply" not in (destroyed.stdout + destroyed.stderr).lower()
    assert {a["status"] for a in sandbox.agents()} == {"STOPPED"}
    state = project.state()
    assert state["agents"] == {}
    assert state["pending"] == []
    assert "No changes" in project.ok("destroy", "--auto-approve").stdout
    events = project.ok("destroy", "--auto-approve", "--format", "json").stdout.splitlines()
    assert '"message":"No changes. Nothing to destroy."' in events[-1]


def test_reconciler_engine_in_the_environment_overrides_the_settings_file(
    project: Project, sandbox: Sandbox
) -> None:
    project.set_setting("engine", "sandbox")
    env = {**project.env, "RECONCILER_ENGINE": sandbox.url}

    applied = project.ok("apply", "--auto-approve", env=env)

    assert "Apply complete: 3 started." in applied.stdout
    assert sorted(sandbox.running()) == [project.wire(name) for name in EXAMPLE]
    assert not (project.dir / ".sandbox").exists()  # the embedded sandbox was not used
