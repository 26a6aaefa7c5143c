"""A manifest's ``import:`` entry (import in review) end to end, through the CLI, against the
in-process sandbox: the plan shows the import, apply records it, the next plan leaves it alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from reconciler.project.planfile import plan_digest
from tests.cli.ops_project import ROOT, OpsProject


def _declare_import(project: OpsProject, name: str, agent_id: str) -> Path:
    """Write ``import: AGENT_ID`` under ``name:`` in the manifest of ``name``; its path."""
    path = project.dir / "agents.d" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"name: {name}\n", f"name: {name}\nimport: {agent_id}\n", 1))
    return path


def _import_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("import:"))


def _json_plan(project: OpsProject, *args: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(project.ok("plan", "--format", "json", *args).stdout)
    return plan


def _agents(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {agent["name"]: agent for agent in plan["agents"]}


def test_import_entry_is_planned_as_an_import_applied_as_a_record_and_then_left_alone(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)

    text = project.ok("plan").stdout
    assert "Plan: 2 to start, 1 to import; 0 unchanged." in text
    assert "# support-en will be imported into state" in text
    assert f"import agent {agent_id}: recorded as running agents.d/support-en.yaml" in text
    assert "+ support-en" not in text  # no second agent for the manifest

    whole = _json_plan(project)
    assert whole["capacity"]["running_after"] == 3  # the imported agent counted once
    planned = _agents(whole)["support-en"]
    assert (planned["action"], planned["actions"], planned["reason_code"]) == (
        "adopt",
        ["import"],
        "imported",
    )
    assert (planned["agent_id"], planned["channel"]) == (agent_id, "support-en")

    result = project.ok("apply", "--auto-approve")
    assert "2 started, 1 adopted" in result.stdout
    record = project.state()["agents"]["support-en"]
    assert (record["agent_id"], record["generation"]) == (agent_id, 0)
    assert record["spec"]["properties"]["channel"] == "support-en"  # recorded as its manifest
    assert project.state()["pending"] == []  # journal-free: no engine call to adopt
    assert project.status(agent_id) == "RUNNING"  # nothing was started or stopped

    # token: auto: the token the agent holds is unknown, so the next plan renews it (only).
    after = _agents(_json_plan(project))
    assert after["support-en"]["action"] == "renew-token"
    assert after["support-en"]["agent_id"] == agent_id
    project.ok("apply", "--auto-approve")
    result = project.ok("plan")
    assert "No changes. 3 agents up to date." in result.stdout
    notes = [line for line in result.stderr.splitlines() if "import:" in line]
    assert notes == [
        f"Warning: support-en: import: {agent_id} is a no-op, the state already records "
        "support-en; the entry can be removed from agents.d/support-en.yaml"
    ]


def test_import_entry_of_an_agent_the_state_already_records_is_a_no_op(
    applied: OpsProject,
) -> None:
    agent_id = applied.agent_id("support-en")
    _declare_import(applied, "support-en", agent_id)
    before = applied.state_file.read_bytes()
    result = applied.ok("plan")
    assert "No changes. 3 agents up to date." in result.stdout
    assert f"import: {agent_id} is a no-op, the state already records support-en" in (result.stderr)
    applied.ok("apply", "--auto-approve")
    assert json.loads(applied.state_file.read_bytes())["agents"] == json.loads(before)["agents"]


def test_import_entry_naming_no_agent_is_a_located_error_at_the_import_line(
    project: OpsProject,
) -> None:
    path = _declare_import(project, "support-en", "NOSUCHAGENT")
    line = _import_line(path)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = project.ok(*command, code=1)
        assert (
            f"agents.d/support-en.yaml:{line}: import: NOSUCHAGENT: the engine lists no such agent"
            in result.stderr
        )
        assert f"{line} | import: NOSUCHAGENT" in result.stderr  # the excerpt
    assert not project.state_file.exists()


def test_import_entry_of_an_agent_in_another_channel_is_a_located_error(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("x-1", channel="sales-en")
    path = _declare_import(project, "support-en", agent_id)
    result = project.ok("plan", code=1)
    assert (
        f"agents.d/support-en.yaml:{_import_line(path)}: import: {agent_id}: the engine does not "
        "list it among the active agents of this manifest's channel 'support-en'" in result.stderr
    )


def test_import_entry_of_an_agent_that_no_longer_runs_is_a_located_error(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("x-1", channel="support-en")
    project.crash(agent_id, "agent exits with reason: crashed")
    _declare_import(project, "support-en", agent_id)
    result = project.ok("plan", code=1)
    assert f"import: {agent_id}: the agent is FAILED, not running" in result.stderr


def test_import_entry_of_an_agent_recorded_under_another_name_is_refused(
    applied: OpsProject,
) -> None:
    applied.ok("state", "rm", "--force", "support-en")
    sales = applied.agent_id("sales-en")
    _declare_import(applied, "support-en", sales)
    result = applied.ok("plan", code=1)
    assert f"import: {sales}: the state already records it as sales-en" in result.stderr
    assert "reconciler state mv sales-en support-en" in result.stderr


def test_saved_plan_carries_the_import_and_apply_of_the_file_records_it(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)
    plan_file = project.dir / "import.plan"
    project.ok("plan", "--target", "support-en", "--out", str(plan_file))
    saved = json.loads(plan_file.read_text(encoding="utf-8"))
    (entry,) = saved["plan"]["agents"] if "plan" in saved else saved["agents"]
    assert (entry["action"], entry["reason_code"], entry["agent_id"]) == (
        "adopt",
        "imported",
        agent_id,
    )
    project.ok("apply", str(plan_file))
    assert project.agent_id("support-en") == agent_id
    assert set(project.state()["agents"]) == {"support-en"}  # the target only


def test_apply_of_a_saved_import_refuses_an_agent_that_stopped_since_the_plan(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)
    plan_file = project.dir / "import.plan"
    project.ok("plan", "--target", "support-en", "--out", str(plan_file))
    project.crash(agent_id, "agent exits with reason: crashed")
    result = project.ok("apply", str(plan_file), code=1)
    assert f"support-en: import of {agent_id}: the agent is FAILED" in result.output
    assert not project.state_file.exists() or "support-en" not in project.state()["agents"]


def test_import_entry_without_refresh_is_planned_unverified_and_cannot_be_saved(
    project: OpsProject,
) -> None:
    _declare_import(project, "support-en", "NOTCHECKED")
    text = project.ok("plan", "--no-refresh", "--target", "support-en").stdout
    assert "import agent NOTCHECKED (unverified: engine not refreshed)" in text
    plan_file = project.dir / "unverified.plan"
    result = project.ok(
        "plan", "--no-refresh", "--target", "support-en", "--out", str(plan_file), code=1
    )
    assert "cannot save the plan: the import of support-en was not checked" in result.stderr
    assert not plan_file.exists()


def test_apply_refuses_a_saved_plan_whose_import_was_not_checked(project: OpsProject) -> None:
    """A saved plan edited to look like an unrefreshed import is refused before anything."""
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)
    plan_file = project.dir / "import.plan"
    project.ok("plan", "--target", "support-en", "--out", str(plan_file))
    envelope = json.loads(plan_file.read_text(encoding="utf-8"))
    envelope["plan"]["refreshed"] = False
    envelope["digest"] = plan_digest(envelope)
    plan_file.write_text(json.dumps(envelope), encoding="utf-8")
    result = project.ok("apply", str(plan_file), code=1)
    assert "a plan made without refreshing did not check agent" in result.stderr
    assert not project.state_file.exists()


def test_markdown_plan_shows_the_import_in_its_table_and_block(project: OpsProject) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)
    text = project.ok("plan", "--format", "markdown").stdout
    assert "**Plan: 2 to start, 1 to import; 0 unchanged. Resources: 3 to create; " in text
    assert "| `<=` import | 1 |" in text
    assert f"<code><= support-en</code> import: import agent {agent_id}" in text


def test_exclude_and_target_leave_an_import_entry_out_like_its_agent(project: OpsProject) -> None:
    _declare_import(project, "support-en", "NOSUCHAGENT")
    excluded = _agents(_json_plan(project, "--exclude", "support-en"))
    assert "support-en" not in excluded
    targeted = _agents(_json_plan(project, "--target", "sales-en"))
    assert set(targeted) == {"sales-en"}
    project.ok("plan", "--target", "support-en", code=1)  # targeted: checked


def test_two_manifests_importing_one_agent_is_a_located_error_at_the_later_name(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    later = _declare_import(project, "support-en", agent_id)
    _declare_import(project, "sales-en", agent_id)  # sales-en < support-en: it claims first
    result = project.ok("plan", code=1)
    assert (
        f"agents.d/support-en.yaml:{_import_line(later)}: import: {agent_id}: the manifest of "
        "sales-en imports it too" in result.stderr
    )
    assert not project.state_file.exists()


def test_import_entry_in_a_manifest_that_says_desired_stopped_is_a_located_error(
    project: OpsProject,
) -> None:
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    path = _declare_import(project, "support-en", agent_id)
    path.write_text(path.read_text(encoding="utf-8") + "desired: stopped\n", encoding="utf-8")
    result = project.ok("plan", code=1)
    assert (
        f"agents.d/support-en.yaml:{_import_line(path)}: import: {agent_id}: the manifest says "
        "desired: stopped" in result.stderr
    )


def test_an_environments_import_entry_goes_under_its_overrides(project: OpsProject) -> None:
    """The agent started by hand runs on staging's App ID: only staging's plan imports it."""
    shutil.copy(ROOT / "reconciler.yaml", project.dir / "reconciler.yaml")
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    path = project.dir / "agents.d" / "support-en.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"overrides:\n  staging:\n    import: {agent_id}\n", encoding="utf-8")
    staging = _agents(_json_plan(project, "--env", "staging"))["support-en"]
    assert (staging["action"], staging["agent_id"]) == ("adopt", agent_id)
    prod = _agents(_json_plan(project, "--env", "prod"))["support-en"]
    assert prod["action"] == "start"


def test_validate_refuses_an_import_entry_that_cannot_be_an_id(project: OpsProject) -> None:
    path = _declare_import(project, "support-en", "'bad id'")
    result = project.ok("validate", code=1)
    assert f"agents.d/support-en.yaml:{_import_line(path)}: import: string should match" in (
        result.stderr
    )


def test_import_entry_of_a_platform_kind_is_refused_naming_the_import_command(
    project: OpsProject,
) -> None:
    path = project.dir / "agents.d" / "platform.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: support\n", "name: support\nimport: 3f6c2a9e\n", 1))
    result = project.ok("validate", code=1)
    assert (
        f"agents.d/platform.yaml:{_import_line(path)}: import: is not supported for kind "
        "SavedAgent yet; take the resource in with `reconciler import SavedAgent/support "
        "3f6c2a9e` (or `reconciler pull --record` for everything the Platform holds that state "
        "lacks), then remove this entry"
    ) in result.stderr


def test_a_failed_import_entry_reports_phase_state_in_the_event_stream(
    project: OpsProject,
) -> None:
    """An import is a state edit (no engine call but a read): its failure names that step,
    ``phase: state``, not another phase's name (it said ``stop``)."""
    agent_id = project.engine.start_directly("started-by-hand", channel="support-en")
    _declare_import(project, "support-en", agent_id)
    plan_file = project.dir / "import.plan"
    project.ok("plan", "--target", "support-en", "--out", str(plan_file))
    project.crash(agent_id, "agent exits with reason: crashed")
    result = project.ok("apply", str(plan_file), "--format", "json", code=1)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failed = [(e["name"], e["action"], e["phase"]) for e in events if e["type"] == "action_failed"]
    assert failed == [("support-en", "adopt", "state")]
