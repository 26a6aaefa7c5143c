"""Two environments of one project on two App IDs of one served sandbox, through the real CLI.

staging and prod share ``agents.d/``: sales-en uses another model in staging (an override),
``vip-desk`` exists in prod only. Each environment is planned against its own state and App ID;
applying one never sends the other's App ID a request (the sandbox's request log says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox

STAGING_APP = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
PROD_APP = "9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b"

SETTINGS = """\
engine: {engine}
auth: basic
app_certificate: ${{AGORA_APP_CERTIFICATE}}
environments:
  staging:
    app_id: "{staging}"
    state: state/staging.json
  prod:
    app_id: "{prod}"
    state: state/prod.json
    max_concurrent_agents: 30
"""

STAGING_OVERRIDE = """
overrides:
  staging:
    properties:
      llm:
        params:
          model: gpt-4.1-nano
"""

PROD_ONLY = """\
name: vip-desk
environments: [prod]
extends: _base/openai.yaml
token: auto
properties:
  channel: vip-desk
  agent_rtc_uid: "4001"
  remote_rtc_uids: ["*"]
  idle_timeout: 0
  llm:
    system_messages:
      - role: system
        content: You are the VIP desk.
  tts:
    vendor: microsoft
    params: {key: "${AZURE_TTS_KEY}", region: eastus, voice_name: en-US-AndrewNeural}
"""


@pytest.fixture
def two(project: Project, sandbox: Sandbox) -> Project:
    """The example project with staging and prod on two App IDs of the served sandbox."""
    project.settings_file.write_text(
        SETTINGS.format(engine=sandbox.url, staging=STAGING_APP, prod=PROD_APP), encoding="utf-8"
    )
    with project.manifest("sales-en").open("a", encoding="utf-8") as manifest:
        manifest.write(STAGING_OVERRIDE)
    project.manifest("vip-desk").write_text(PROD_ONLY, encoding="utf-8")
    return project


def _plans(project: Project) -> dict[str, dict[str, Any]]:
    result = project.ok("plan", "--env", "all", "--format", "json")
    document = json.loads(result.stdout)
    return {entry["name"]: entry["plan"] for entry in document["environments"]}


def _actions(plan: dict[str, Any]) -> dict[str, str]:
    return {
        agent["name"]: agent["action"] for agent in plan["agents"] if agent["action"] != "no-op"
    }


def _model(view: dict[str, Any]) -> str:
    model: str = view["properties"]["llm"]["params"]["model"]
    return model


def _app_requests(sandbox: Sandbox, app_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sandbox.control("GET", f"/requests?app_id={app_id}")["requests"]
    return entries


def test_plan_all_shows_each_environment_against_its_own_app_and_state(
    two: Project, sandbox: Sandbox
) -> None:
    plans = _plans(two)
    assert [(p["environment"], p["app_id"]) for p in plans.values()] == [
        ("staging", STAGING_APP),
        ("prod", PROD_APP),
    ]
    assert _actions(plans["staging"]) == dict.fromkeys(
        ["concierge", "sales-en", "support-en"], "start"
    )
    assert _actions(plans["prod"]) == dict.fromkeys(
        ["concierge", "sales-en", "support-en", "vip-desk"], "start"
    )
    text = two.ok("plan", "--env", "all").stdout
    assert f"Environment: staging; engine: {sandbox.url}, app {STAGING_APP}" in text
    assert f"Environment: prod; engine: {sandbox.url}, app {PROD_APP}" in text
    for name, app in (("staging", STAGING_APP), ("prod", PROD_APP)):
        single = two.ok("--env", name, "plan").stdout
        assert f"Environment: {name}; engine: {sandbox.url}, app {app}" in single


def test_applying_staging_leaves_prod_untouched_and_prod_converges_after(
    two: Project, sandbox: Sandbox
) -> None:
    two.ok("--env", "staging", "apply", "--auto-approve")
    assert _app_requests(sandbox, PROD_APP) == []
    staging = {a["name"]: a for a in sandbox.agents(status="RUNNING")}
    assert len(staging) == 3
    sales = next(a for a in staging.values() if a["name"].startswith("sales-en"))
    assert _model(sales) == "gpt-4.1-nano"
    assert not (two.dir / "state" / "prod.json").exists()

    plans = _plans(two)
    assert _actions(plans["staging"]) == {}
    assert len(_actions(plans["prod"])) == 4

    two.ok("--env", "prod", "apply", "--auto-approve")
    plans = _plans(two)
    assert _actions(plans["staging"]) == {} and _actions(plans["prod"]) == {}
    assert two.run("plan", "--env", "all", "--detailed-exitcode").code == 0
    running = sandbox.agents(status="RUNNING")
    prod_sales = [
        a for a in running if a["name"].startswith("sales-en") and a["app_id"] == PROD_APP
    ]
    assert len(running) == 7 and [_model(a) for a in prod_sales] == ["gpt-4o-mini"]


def test_a_change_to_staging_only_plans_a_change_in_staging_only(
    two: Project, sandbox: Sandbox
) -> None:
    two.ok("--env", "staging", "apply", "--auto-approve")
    two.ok("--env", "prod", "apply", "--auto-approve")
    two.edit("sales-en", "model: gpt-4.1-nano", "model: gpt-4.1-mini")
    plans = _plans(two)
    assert _actions(plans["staging"]) == {"sales-en": "update"}
    assert _actions(plans["prod"]) == {}
    sandbox.control("DELETE", "/requests")
    two.ok("--env", "staging", "apply", "--auto-approve")
    assert _app_requests(sandbox, PROD_APP) == []
    assert _actions(_plans(two)["staging"]) == {}


def test_a_saved_plan_of_staging_is_refused_with_env_prod(two: Project, tmp_path: Path) -> None:
    saved = tmp_path / "staging.plan"
    two.ok("--env", "staging", "plan", "--out", str(saved))
    refused = two.run("--env", "prod", "apply", str(saved))
    assert refused.code == 1, str(refused)
    assert "made for environment staging" in refused.stderr
    assert f"(app {PROD_APP})" in refused.stderr
    assert not (two.dir / "state" / "prod.json").exists()
    two.ok("--env", "staging", "apply", str(saved))


def test_a_project_with_environments_and_none_chosen_names_them(two: Project) -> None:
    refused = two.run("plan")
    assert refused.code == 1
    assert "declares the environments staging, prod" in refused.stderr
    assert "--env NAME" in refused.stderr
    unknown = two.run("--env", "qa", "plan")
    assert unknown.code == 1 and "staging, prod" in unknown.stderr


def test_adding_environments_to_a_running_project_restarts_nothing(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    before = {a["name"]: a["agent_id"] for a in sandbox.agents(status="RUNNING")}
    app = "0123456789abcdef0123456789abcdef"  # the single-environment example's App ID
    # The recipe of docs/environments.md: the running App ID and state become the first
    # environment; the new one gets its own.
    project.settings_file.write_text(
        SETTINGS.format(engine=sandbox.url, staging=PROD_APP, prod=app).replace(
            "state/prod.json", "state/agents.json"
        ),
        encoding="utf-8",
    )
    sandbox.control("DELETE", "/requests")
    plans = _plans(project)
    assert _actions(plans["prod"]) == {}
    assert project.run("--env", "prod", "apply", "--auto-approve").code == 0
    assert sandbox.requests("join") == [] and sandbox.requests("leave") == []
    after = {a["name"]: a["agent_id"] for a in sandbox.agents(status="RUNNING")}
    assert after == before
