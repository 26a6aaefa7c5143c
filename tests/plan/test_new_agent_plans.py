"""How a plan carries a new agent: one create entry holding its redacted spec, shown whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.models import DesiredAgent, DesiredSet, LiveStatus, StateDoc
from reconciler.models.plan import ReasonCode
from reconciler.plan import PlanOptions, build_plan
from reconciler.project.planfile import load_plan_file, save_plan_file
from reconciler.render import render_json, render_json_chunks, render_json_text, render_text

LINEAGE = "3f0c8a8e-5d1b-4c1e-9a57-0d9b1f6f2c11"
SECRET = "sk-live-very-secret-key"
SPEC: dict[str, Any] = {
    "properties": {
        "channel": "support",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["*"],
        "labels": {"team.name": "care"},
        "llm": {
            "url": "https://llm.example/v1",
            "api_key": SECRET,
            "system_messages": [{"role": "system", "content": "You help."}],
        },
        "tts": {"vendor": "microsoft", "params": {"key": SECRET, "voice_name": "en-US-Aria"}},
    }
}


def new_agent(**fields: Any) -> DesiredAgent:
    values: dict[str, Any] = {
        "name": "support",
        "path": "agents.d/support.yaml",
        "channel": "support",
        "spec": SPEC,
        "sensitive": frozenset({"properties.llm.api_key", "properties.tts.params.key"}),
    }
    values.update(fields)
    return DesiredAgent(**values)


def plan_of(*agents: DesiredAgent) -> Any:
    state = StateDoc(lineage=LINEAGE, salt="salt")
    desired = DesiredSet(agents={a.name: a for a in agents})
    return build_plan(desired, state, LiveStatus(), now=1_735_689_600.0, options=PlanOptions())


def test_a_new_agent_is_one_create_entry_holding_its_redacted_spec_not_a_change_per_field() -> None:
    (agent,) = plan_of(new_agent()).agents
    assert (agent.action, agent.reason_code, agent.changes) == ("start", ReasonCode.NEW, ())
    assert agent.create_spec is not None
    assert agent.create_spec["properties"]["tts"]["vendor"] == "microsoft"
    assert SECRET not in json.dumps(agent.create_spec)
    assert set(agent.create_spec["properties"]["llm"]["api_key"]) == {"$sensitive"}


def test_json_lists_every_attribute_of_a_new_agent_as_added_secrets_without_values() -> None:
    changes = render_json(plan_of(new_agent()))["agents"][0]["changes"]
    by_path = {c["path"]: c for c in changes}
    assert list(by_path) == [  # leaf by leaf in key order, defaults the tool fills included
        "properties.agent_rtc_uid",
        "properties.channel",
        "properties.enable_string_uid",
        "properties.idle_timeout",
        'properties.labels["team.name"]',
        "properties.llm.api_key",
        "properties.llm.system_messages",
        "properties.llm.url",
        "properties.remote_rtc_uids",
        "properties.tts.params.key",
        "properties.tts.params.voice_name",
        "properties.tts.vendor",
    ]
    assert by_path['properties.labels["team.name"]']["after"] == "care"
    assert by_path["properties.remote_rtc_uids"]["after"] == ["*"]  # a list is listed whole
    assert by_path["properties.llm.api_key"] == {
        "path": "properties.llm.api_key",
        "kind": "add",
        "before": None,
        "after": None,
        "sensitive": True,
        "forces_restart": False,
        "unknown": [],
    }
    assert all(c["kind"] == "add" and not c["forces_restart"] for c in changes)
    assert SECRET not in render_json_text(plan_of(new_agent()))


def test_a_new_agent_lists_the_same_attributes_in_verbose_text_and_json() -> None:
    plan = plan_of(new_agent())
    text = render_text(plan, verbose=True)
    for change in render_json(plan)["agents"][0]["changes"]:
        assert f"+ {change['path']} = " in text
    assert "+ properties.llm.api_key = (sensitive)" in text
    assert SECRET not in text


def test_a_value_of_a_variable_not_set_is_listed_as_unknown() -> None:
    agent = new_agent(unknown={"properties.llm.api_key": ("OPENAI_API_KEY",)})
    plan = plan_of(agent)
    (change,) = [c for c in render_json(plan)["agents"][0]["changes"] if "api_key" in c["path"]]
    assert change["unknown"] == ["OPENAI_API_KEY"] and change["sensitive"]
    assert change["after"] is None
    text = render_text(plan)
    assert "+ properties.llm.api_key = (sensitive, unknown: OPENAI_API_KEY not set)" in text


def test_the_json_document_in_pieces_is_the_document_whole() -> None:
    plan = plan_of(new_agent(), new_agent(name="sales", channel="sales"))
    pieces = list(render_json_chunks(plan))
    assert len(pieces) == 2 + len(plan.agents)
    assert "".join(pieces) == render_json_text(plan)
    assert json.loads("".join(pieces)) == render_json(plan)


def test_a_saved_plan_of_new_agents_loads_back_equal(tmp_path: Path) -> None:
    plan = plan_of(new_agent())
    path = tmp_path / "plan.json"
    save_plan_file(plan, path)
    assert load_plan_file(path).plan == plan
    assert SECRET not in path.read_text(encoding="utf-8")
