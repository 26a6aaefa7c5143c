"""The JSON plan: versioned schema, Terraform-style actions, no secrets, stable bytes."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from reconciler.kinds.agent import forces_restart
from reconciler.models import AgentPlan, DesiredAgent, FieldChange, FieldPath
from reconciler.models.plan import ReasonCode
from reconciler.render import JSON_FORMAT_VERSION, render_json, render_json_text
from tests.apply.harness import desired, make_world
from tests.render.render_plans import (
    DIGEST,
    LINEAGE,
    make_plan,
    noop,
    one_of_each,
    renew,
    restart,
    start,
    stop,
    update,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-format.md"


def _agent(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in doc["agents"] if a["name"] == name)


def test_json_has_the_documented_top_level_fields_in_order() -> None:
    doc = render_json(one_of_each())
    assert list(doc) == [
        "format_version",
        "app_id",
        "engine",
        "lineage",
        "serial",
        "manifests_digest",
        "refreshed",
        "created_at",
        "destroy",
        "targets",
        "has_changes",
        "errors",
        "unknown_variables",
        "summary",
        "capacity",
        "warnings",
        "agents",
    ]
    assert doc["format_version"] == "1.3" == JSON_FORMAT_VERSION
    assert doc["app_id"] == "0123456789abcdef0123456789abcdef"
    assert doc["lineage"] == LINEAGE
    assert doc["serial"] == 7
    assert doc["manifests_digest"] == DIGEST
    assert doc["refreshed"] is True
    assert doc["has_changes"] is True
    assert doc["capacity"] == {
        "running_after": 5,
        "max_concurrent_agents": 20,
        "max_unavailable": 1,
    }


def test_json_created_at_is_iso_8601_utc() -> None:
    assert render_json(one_of_each())["created_at"] == "2025-01-01T00:00:00Z"
    plan = one_of_each().model_copy(update={"created_at": 1_735_689_600.25})
    assert render_json(plan)["created_at"] == "2025-01-01T00:00:00.250Z"


def test_json_summary_counts_each_action_and_a_restart_once() -> None:
    doc = render_json(make_plan(start("a"), restart("b"), restart("c"), noop("d")))
    assert doc["summary"] == {
        "start": 1,
        "update": 0,
        "restart": 2,
        "stop": 0,
        "renew_token": 0,
        "rename": 0,
        "forget": 0,
        "adopt": 0,
        "unchanged": 1,
    }


def test_json_lists_every_agent_including_no_ops_in_name_order() -> None:
    doc = render_json(one_of_each())
    assert [a["name"] for a in doc["agents"]] == [
        "billing",
        "kiosk",
        "legacy-fr",
        "night-shift",
        "sales-de",
        "support-en",
    ]
    assert list(doc["agents"][0]) == [
        "name",
        "action",
        "actions",
        "reason",
        "reason_code",
        "renamed_from",
        "agent_id",
        "channel",
        "changes",
    ]


def test_json_gives_terraform_style_actions_arrays() -> None:
    doc = render_json(
        make_plan(start("a"), stop("b"), update("c"), restart("d"), renew("e"), noop("f"))
    )
    actions = {a["name"]: (a["action"], a["actions"]) for a in doc["agents"]}
    assert actions == {
        "a": ("start", ["create"]),
        "b": ("stop", ["delete"]),
        "c": ("update", ["update"]),
        "d": ("restart", ["delete", "create"]),
        "e": ("renew-token", ["update"]),
        "f": ("no-op", ["no-op"]),
    }


def test_json_agent_carries_reason_agent_id_and_channel() -> None:
    agent = _agent(render_json(one_of_each()), "billing")
    assert agent["reason"] == "changes force a restart: properties.asr.language"
    assert agent["reason_code"] == "spec_changed"
    assert agent["agent_id"] == "AGENTRST01"
    assert agent["channel"] == "billing"
    assert _agent(render_json(one_of_each()), "support-en")["agent_id"] is None


def test_json_changes_have_path_kind_before_after_sensitive_and_forces_restart() -> None:
    changes = _agent(render_json(one_of_each()), "billing")["changes"]
    assert changes == [
        {
            "path": "properties.asr.language",
            "kind": "change",
            "before": "en-US",
            "after": "de-DE",
            "sensitive": False,
            "forces_restart": True,
            "unknown": [],
        },
        {
            "path": "properties.llm.params.temperature",
            "kind": "add",
            "before": None,
            "after": 0.2,
            "sensitive": False,
            "forces_restart": False,
            "unknown": [],
        },
    ]


def test_json_sensitive_changes_have_null_before_and_after() -> None:
    changes = _agent(render_json(one_of_each()), "sales-de")["changes"]
    api_key = next(c for c in changes if c["path"] == "properties.llm.api_key")
    assert api_key == {
        "path": "properties.llm.api_key",
        "kind": "change",
        "before": None,
        "after": None,
        "sensitive": True,
        "forces_restart": False,
        "unknown": [],
    }


def test_json_treats_a_change_holding_a_redaction_marker_as_sensitive() -> None:
    marker = {"$sensitive": "sha256:" + "cd" * 32}
    agent = AgentPlan(
        name="a",
        action="update",
        reason="r",
        reason_code=ReasonCode.UPDATED_IN_PLACE,
        changes=(FieldChange(path="properties.llm.api_key", before=marker, after="sk-live-1"),),
    )
    text = render_json_text(make_plan(agent))
    assert "sk-live-1" not in text
    assert "cdcd" not in text
    change = render_json(make_plan(agent))["agents"][0]["changes"][0]
    assert change["sensitive"] is True
    assert change["before"] is None
    assert change["after"] is None


def test_json_does_not_alias_the_plan_values() -> None:
    plan = make_plan(
        AgentPlan(
            name="a",
            action="update",
            reason="r",
            reason_code=ReasonCode.UPDATED_IN_PLACE,
            changes=(FieldChange(path="p", before={"x": [1]}, after={"x": [2]}),),
        )
    )
    doc = render_json(plan)
    doc["agents"][0]["changes"][0]["after"]["x"].append(3)
    assert plan.agents[0].changes[0].after == {"x": [2]}


def test_json_is_serializable_and_deterministic() -> None:
    first = render_json_text(one_of_each())
    assert first == render_json_text(one_of_each())
    assert first.endswith("}")
    assert json.loads(first) == render_json(one_of_each())
    assert (
        json.dumps(render_json(one_of_each())).encode()
        == json.dumps(render_json(one_of_each())).encode()
    )


def test_json_reports_targets_destroy_and_warnings() -> None:
    plan = make_plan(stop("a"), warnings=("w1",)).model_copy(
        update={"targets": ("a",), "destroy": True}
    )
    doc = render_json(plan)
    assert doc["targets"] == ["a"]
    assert doc["destroy"] is True
    assert doc["warnings"] == ["w1"]
    assert render_json(make_plan(noop()))["has_changes"] is False


def test_every_json_field_is_documented_in_plan_format_md() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    doc = render_json(one_of_each())
    fields = set(doc) | set(doc["summary"]) | set(doc["agents"][0])
    fields |= set(doc["agents"][0]["changes"][0])
    assert fields - documented == set()
    assert f'"format_version": "{JSON_FORMAT_VERSION}"' in DOC.read_text(encoding="utf-8")


def test_every_reason_code_is_documented_with_its_meaning_in_plan_format_md() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### Reason codes") : text.index("### `agents[].changes[]`")]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| (.+) \|$", table, re.M))
    rows.pop("reason_code")  # the header row
    assert set(rows) == {code.value for code in ReasonCode}
    assert all(len(meaning) > 10 for meaning in rows.values())


def documented_example() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index("## Example") :].split("```json\n", 1)[1].split("\n```", 1)[0]
    example: dict[str, Any] = json.loads(block)
    return example


def test_the_documented_example_follows_the_restart_rules() -> None:
    example = documented_example()
    for agent in example["agents"]:
        new = agent["action"] == "start" and agent["agent_id"] is None
        paths = [c["path"] for c in agent["changes"]]
        for change in agent["changes"]:
            assert change["forces_restart"] is (
                not new and forces_restart(FieldPath.parse(change["path"]))
            )
            if change["sensitive"]:
                assert (change["before"], change["after"]) == (None, None)
        restarting = [c["path"] for c in agent["changes"] if c["forces_restart"]]
        if restarting:
            assert agent["action"] == "restart"
            assert agent["reason"] == "changes force a restart: " + ", ".join(restarting)
        if agent["action"] == "update":
            assert agent["reason"] == "in-place update of " + ", ".join(paths)
        if new:
            assert paths and {c["kind"] for c in agent["changes"]} == {"add"}
    counted = Counter(a["action"] for a in example["agents"])
    assert example["summary"] == {
        "start": counted["start"],
        "update": counted["update"],
        "restart": counted["restart"],
        "stop": counted["stop"],
        "renew_token": counted["renew-token"],
        "rename": counted["rename"],
        "forget": counted["forget"],
        "adopt": counted["adopt"],
        "unchanged": counted["no-op"],
    }


def test_the_documented_new_agent_lists_what_the_tool_lists(tmp_path: Path) -> None:
    (documented,) = [a for a in documented_example()["agents"] if a["agent_id"] is None]
    properties: dict[str, Any] = {}
    sensitive = set()
    for change in documented["changes"]:
        *parents, leaf = change["path"].split(".")[1:]
        node = properties
        for key in parents:
            node = node.setdefault(key, {})
        if change["sensitive"]:
            sensitive.add(change["path"])
        if change["path"] != "properties.enable_string_uid":  # a default the tool fills
            node[leaf] = "secret-value" if change["sensitive"] else change["after"]
    agent = DesiredAgent(
        name=documented["name"],
        path="agents.d/x.yaml",
        spec={"properties": properties},
        sensitive=frozenset(sensitive),
    )
    plan, _ = make_world(tmp_path).plan(desired(agent))
    assert _agent(render_json(plan), documented["name"]) == documented


def test_json_text_is_one_line_by_default_and_indented_on_request() -> None:
    plan = one_of_each()
    compact = render_json_text(plan)
    assert "\n" not in compact
    assert json.loads(compact) == render_json(plan) == json.loads(render_json_text(plan, indent=2))
    assert render_json_text(plan, indent=2).startswith('{\n  "format_version"')
