"""End to end through the CLI against a served sandbox: the Platform's kinds (a secret set, a
saved agent that references it, a phone number routed to that agent) in the example project.

Each test runs ``reconciler`` as a subprocess; the served sandbox (one process, engine and
Platform) is checked from outside through its control routes and request log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks
from tests.e2e.e2e_helpers import Project as _Project

WRITES = (
    "create-secret-set",
    "update-secret-set",
    "replace-secret-set",
    "set-secret-key",
    "delete-secret-key",
    "delete-secret-set",
    "create-agent",
    "update-agent",
    "delete-agent",
    "create-number",
    "update-number",
    "delete-number",
)


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> _Project:
    """The example project with its Platform resources (agents.d/platform.yaml)."""
    directory = tmp_path / "project"
    directory.mkdir()
    return _Project(directory, sandbox, with_platform=True)


def platform_writes(sandbox: Sandbox) -> list[tuple[str, Any]]:
    """Every write request to the Platform, in order: ``(operation, id or name)``."""
    found = []
    for route in WRITES:
        for entry in sandbox.requests(route):
            found.append((entry["seq"], route, entry.get("agent_id") or entry.get("name")))
    return [(route, ident) for _, route, ident in sorted(found)]


def clear_log(sandbox: Sandbox) -> None:
    sandbox.control("DELETE", "/requests")


def no_leaks(project: Project) -> None:
    texts = [(f"output of {' '.join(r.args)}", r.output) for r in project.results]
    texts.append(("state", project.state_file.read_text(encoding="utf-8")))
    assert leaks(texts) == []


def the_agent(sandbox: Sandbox) -> dict[str, Any]:
    (agent,) = sandbox.platform("agents")
    return agent


def test_apply_creates_the_three_kinds_in_reference_order_and_plans_clean_after(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    assert [w[0] for w in platform_writes(sandbox)] == [
        "create-secret-set",
        "create-agent",
        "create-number",
    ]
    (secret_set,) = sandbox.platform("secret_sets")
    agent = the_agent(sandbox)
    (number,) = sandbox.platform("numbers")
    assert secret_set["id"] == "llm_keys" and list(secret_set["keys"]) == ["openai"]
    assert agent["config"]["agent_name"] == "support"
    assert agent["config"]["llm"]["credential"]["fields"] == {"api_key": "$secrets.llm_keys.openai"}
    assert number["view"]["inbound"]["agent"] == agent["id"]
    assert number["sip_auth"] == {"username": "acme"}
    check = {"app_id": agent["app_id"], "set": "llm_keys", "key": "openai"}
    matches = sandbox.control(
        "POST", "/platform/secrets/check", {**check, "value": SECRETS["OPENAI_API_KEY"]}
    )
    assert matches == {"matches": True}
    state = project.state()["resources"]
    assert state["PhoneNumber/support-line"]["spec"]["inbound"]["agent"] == agent["id"]
    assert state["SavedAgent/support"]["version"] == agent["etag"]
    project.ok("plan", "--detailed-exitcode")
    no_leaks(project)


def test_a_new_secret_value_is_one_key_update_and_never_shown(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    clear_log(sandbox)
    new_value = "sk-e2e-ROTATED-key-0c4e8a2f6b"
    project.env["OPENAI_API_KEY"] = new_value
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "SecretSet/llm_keys" in plan.stdout and "keys.openai" in plan.stdout
    assert "~ SavedAgent" not in plan.stdout and "~ PhoneNumber" not in plan.stdout
    applied = project.apply()
    assert platform_writes(sandbox) == [("update-secret-set", "llm_keys")]
    agent = the_agent(sandbox)
    check = {"app_id": agent["app_id"], "set": "llm_keys", "key": "openai", "value": new_value}
    assert sandbox.control("POST", "/platform/secrets/check", check) == {"matches": True}
    secrets = {**SECRETS, "OPENAI_API_KEY_NEW": new_value}
    texts = [("plan", plan.output), ("apply", applied.output)]
    texts.append(("state", project.state_file.read_text(encoding="utf-8")))
    assert leaks(texts, secrets) == []
    project.ok("plan", "--detailed-exitcode")


def test_new_instructions_are_one_merge_patch_and_nothing_else(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    clear_log(sandbox)
    project.edit("platform", "Answer briefly and in plain words.", "Answer in one sentence.")
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "instructions" in plan.stdout
    project.apply()
    agent = the_agent(sandbox)
    assert platform_writes(sandbox) == [("update-agent", agent["id"])]
    assert "one sentence" in agent["config"]["instructions"]
    assert agent["config"]["llm"]["credential"]["fields"]["api_key"] == (
        "$secrets.llm_keys.openai"
    )  # credentials, never read back, are kept by the merge patch
    project.ok("plan", "--detailed-exitcode")


def test_a_console_edit_refuses_a_saved_plan_as_stale_then_plan_shows_the_drift(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    project.edit("platform", "Answer briefly and in plain words.", "Answer in one sentence.")
    project.ok("plan", "--out", "tfplan")
    agent = the_agent(sandbox)
    console = sandbox.platform_call(
        "PATCH",
        f"agents/{agent['id']}",
        {"greeting": {"text": "Edited in the console"}},
        {"If-Match": agent["etag"]},
    )
    assert console.status_code == 200, console.text
    clear_log(sandbox)
    refused = project.ok("apply", "tfplan", "--auto-approve", code=3)  # stale, as for agents
    assert "changed outside" in refused.output and "Traceback" not in refused.output
    assert sandbox.requests("update-agent") == []  # refused before anything is sent
    assert the_agent(sandbox)["config"]["greeting"]["text"] == "Edited in the console"
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "changed outside: greeting.text" in plan.stdout
    assert "Edited in the console" in plan.stdout
    project.apply()
    held = the_agent(sandbox)["config"]
    assert held["greeting"]["text"] == "Hi, this is Acme support. How can I help?"
    assert "one sentence" in held["instructions"]
    project.ok("plan", "--detailed-exitcode")


def test_removing_the_agent_and_its_route_changes_the_number_first(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    agent_id = the_agent(sandbox)["id"]
    number_id = sandbox.platform("numbers")[0]["id"]
    text = project.manifest("platform").read_text(encoding="utf-8")
    head, agent_doc, number_doc = text.split("---\n")[0], None, text.split("---\n")[2]
    del agent_doc
    number_doc = number_doc.replace(
        "  inbound:\n    agent: {ref: SavedAgent/support}\n"
        "    call_policy: {max_call_duration_seconds: 1800}\n",
        "",
    )
    project.manifest("platform").write_text(head + "---\n" + number_doc, encoding="utf-8")
    clear_log(sandbox)
    project.apply()
    assert platform_writes(sandbox) == [("update-number", number_id), ("delete-agent", agent_id)]
    assert sandbox.platform("agents") == []
    project.ok("plan", "--detailed-exitcode")


def test_an_in_use_refusal_fails_the_delete_cleanly(project: Project, sandbox: Sandbox) -> None:
    project.apply()
    agent_id = the_agent(sandbox)["id"]
    outside = sandbox.platform_call(
        "POST",
        "numbers",
        {
            "number": "+14155550199",
            "sip_trunk": {"hostname": "other.example.com"},
            "inbound": {"agent": agent_id, "call_policy": {}},
        },
    )
    assert outside.status_code == 201, outside.text
    text = project.manifest("platform").read_text(encoding="utf-8")
    secret_doc = text.split("---\n")[0]
    project.manifest("platform").write_text(secret_doc, encoding="utf-8")
    result = project.ok("apply", "--auto-approve", code=1)
    assert "AgentInUse" in result.output and "Traceback" not in result.output
    state = project.state()["resources"]
    assert "PhoneNumber/support-line" not in state  # deleted before the agent was tried
    assert "SavedAgent/support" in state  # the refused delete left it recorded
    assert [a["id"] for a in sandbox.platform("agents")] == [agent_id]


def test_destroy_deletes_in_reverse_reference_order(project: Project, sandbox: Sandbox) -> None:
    project.apply()
    agent_id = the_agent(sandbox)["id"]
    number_id = sandbox.platform("numbers")[0]["id"]
    clear_log(sandbox)
    project.ok("destroy", "--auto-approve")
    assert platform_writes(sandbox) == [
        ("delete-number", number_id),
        ("delete-agent", agent_id),
        ("delete-secret-set", "llm_keys"),
    ]
    assert sandbox.platform("secret_sets") == sandbox.platform("agents") == []
    assert json.loads(project.state_file.read_text(encoding="utf-8")).get("resources") is None
    no_leaks(project)


def test_a_create_whose_answer_was_lost_is_adopted_by_its_evidence_never_duplicated(
    project: Project, sandbox: Sandbox
) -> None:
    sandbox.add_fault(route="create-agent", action="drop_after", times=1)
    lost = project.ok("apply", "--auto-approve", code=1)
    assert "unknown" in lost.output and "Traceback" not in lost.output
    (agent,) = sandbox.platform("agents")  # it was created; the answer was lost
    pending = project.state()["creating"]
    assert list(pending) == ["SavedAgent/support"]
    assert agent["config"]["metadata"]["reconciler"] == pending["SavedAgent/support"]["marker"]
    preview = project.ok("plan")
    assert "took effect" in preview.output and agent["id"] in preview.output
    assert "creating" in project.state()  # plan wrote nothing
    project.apply()
    assert [a["id"] for a in sandbox.platform("agents")] == [agent["id"]]
    state = project.state()
    assert state.get("creating") in (None, {})
    assert state["resources"]["SavedAgent/support"]["id"] == agent["id"]
    assert sandbox.platform("numbers")[0]["view"]["inbound"]["agent"] == agent["id"]
    project.ok("plan", "--detailed-exitcode")


def test_a_create_that_never_landed_is_forgotten_and_made_once(
    project: Project, sandbox: Sandbox
) -> None:
    sandbox.add_fault(route="create-number", action="drop", times=1)
    project.ok("apply", "--auto-approve", code=1)
    assert sandbox.platform("numbers") == []
    project.apply()
    assert len(sandbox.platform("numbers")) == 1
    project.ok("plan", "--detailed-exitcode")


def test_no_platform_secret_reaches_plans_saved_plans_events_state_or_errors(
    project: Project, sandbox: Sandbox
) -> None:
    p = project
    p.ok("plan", "--format", "json")
    p.ok("plan", "--format", "markdown")
    p.ok("plan", "--out", "create.json")
    p.ok("-v", "apply", "create.json", "--format", "json")
    rotated = "sk-e2e-ROTATED-platform-7d3c9b1e"
    p.env["OPENAI_API_KEY"] = rotated
    p.env["SIP_PASSWORD"] = "sip-e2e-ROTATED-4a8e2c6f"
    secrets = {**SECRETS, "rotated key": rotated, "rotated SIP": p.env["SIP_PASSWORD"]}
    p.ok("plan", "--out", "rotate.json", "--detailed-exitcode", code=2)
    p.ok("show", "rotate.json", "--format", "json")
    # The Platform echoes the values it was sent in its refusal: they are scrubbed.
    sandbox.add_fault(
        route="update-secret-set",
        status=400,
        reason="InvalidRequest",
        detail=f"value rejected: {rotated}",
    )
    failed = p.ok("-v", "apply", "--auto-approve", code=1)
    assert "value rejected: (sensitive)" in failed.output
    sandbox.control("DELETE", "/faults/rules")
    p.ok("apply", "--auto-approve", "--format", "json")
    texts = [(f"output of {' '.join(r.args)}", r.output) for r in p.results]
    for name in ("create.json", "rotate.json"):
        texts.append((name, (p.dir / name).read_text(encoding="utf-8")))
    texts.append(("state", p.state_file.read_text(encoding="utf-8")))
    backup = p.state_file.with_name("agents.json.backup")
    if backup.exists():
        texts.append(("backup", backup.read_text(encoding="utf-8")))
    assert leaks(texts, secrets) == []
    (number,) = sandbox.platform("numbers")
    assert number["sip_auth"] == {"username": "acme"}  # the password is sent, never shown


def test_pull_writes_manifests_for_console_resources_and_records_them(
    project: Project, sandbox: Sandbox
) -> None:
    project.manifest("platform").unlink()
    made = sandbox.platform_call(
        "POST", "secrets", {"name": "console_keys", "secrets": {"openai": "sk-console-9f1e"}}
    )
    assert made.status_code == 201, made.text
    agent = sandbox.platform_call(
        "POST",
        "agents",
        {
            "agent_name": "Console Support",
            "instructions": "Made in the console.",
            "llm": {
                "vendor": "openai",
                "credential": {
                    "mode": "byok",
                    "fields": {"api_key": "$secrets.console_keys.openai"},
                },
            },
        },
    ).json()
    number = sandbox.platform_call(
        "POST",
        "numbers",
        {
            "number": "+14155550111",
            "description": "Console line",
            "sip_trunk": {"hostname": "console.example.com", "transport": "tls"},
            "inbound": {
                "agent": agent["agent_id"],
                "call_policy": {"max_call_duration_seconds": 60},
            },
        },
    )
    assert number.status_code == 201, number.text
    pulled = project.ok("pull", "--out", "agents.d/pulled.yaml", "--record", "--auto-approve")
    assert "Pulled 3 resource(s); recorded in state." in pulled.stderr
    text = (project.dir / "agents.d" / "pulled.yaml").read_text(encoding="utf-8")
    assert "openai: ${CONSOLE_KEYS_OPENAI}" in text
    assert "name: console-support" in text and "ref: SavedAgent/console-support" in text
    assert "sk-console" not in text
    project.env["CONSOLE_KEYS_OPENAI"] = "sk-console-9f1e"
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "SecretSet/console_keys" in plan.stdout  # values not verified: written once
    assert "+ SavedAgent" not in plan.stdout and "+ PhoneNumber" not in plan.stdout
    project.apply()
    assert len(sandbox.platform("agents")) == 1 and len(sandbox.platform("numbers")) == 1
    project.ok("plan", "--detailed-exitcode")
    assert sandbox.platform("agents")[0]["config"]["llm"]["credential"]["fields"] == {
        "api_key": "$secrets.console_keys.openai"
    }


def test_import_records_each_kind_so_the_plan_updates_instead_of_creating(
    project: Project, sandbox: Sandbox
) -> None:
    made = sandbox.platform_call(
        "POST", "secrets", {"name": "llm_keys", "secrets": {"openai": "sk-console-1a2b"}}
    )
    assert made.status_code == 201, made.text
    agent = sandbox.platform_call(
        "POST",
        "agents",
        {
            "agent_name": "support",
            "instructions": "Made in the console.",
            "llm": {
                "vendor": "openai",
                "credential": {"mode": "byok", "fields": {"api_key": "$secrets.llm_keys.openai"}},
            },
        },
    ).json()
    number = sandbox.platform_call(
        "POST",
        "numbers",
        {
            "number": "+14155550100",
            "sip_trunk": {"hostname": "acme.pstn.example.com", "transport": "tls"},
            "inbound": {"agent": agent["agent_id"], "call_policy": {}},
        },
    ).json()
    project.ok("import", "SecretSet/llm_keys", "llm_keys")
    project.ok("import", "SavedAgent/support", agent["agent_id"])
    project.ok("import", "PhoneNumber/support-line", number["number_id"])
    refused = project.ok("import", "SavedAgent/support", agent["agent_id"], code=1)
    assert "already records" in refused.output
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "+ SecretSet" not in plan.stdout and "+ SavedAgent" not in plan.stdout
    assert "+ PhoneNumber" not in plan.stdout
    project.apply()
    assert [a["id"] for a in sandbox.platform("agents")] == [agent["agent_id"]]
    assert [n["id"] for n in sandbox.platform("numbers")] == [number["number_id"]]
    assert "Answer briefly" in sandbox.platform("agents")[0]["config"]["instructions"]
    project.ok("plan", "--detailed-exitcode")


def test_the_json_plan_marks_drift_made_outside_field_by_field(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    number = sandbox.platform("numbers")[0]
    console = sandbox.platform_call(
        "PATCH",
        f"numbers/{number['id']}",
        {"description": "Renamed in the console"},
        {"If-Match": number["etag"]},
    )
    assert console.status_code == 200, console.text
    plan = json.loads(project.ok("plan", "--format", "json").stdout)
    (entry,) = [r for r in plan["resources"] if r["address"] == "PhoneNumber/support-line"]
    assert entry["action"] == "update"
    assert entry["drift"] == [
        {
            "path": "description",
            "kind": "change",
            "recorded": "Customer support line",
            "outside": "Renamed in the console",
            "sensitive": False,
        }
    ]
    project.apply()
    assert sandbox.platform("numbers")[0]["view"]["description"] == "Customer support line"
    assert sandbox.platform("numbers")[0]["sip_auth"] == {"username": "acme"}  # auth resent
