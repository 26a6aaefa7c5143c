"""The event stream of ``apply|destroy --format json`` with the Platform's resources: every line
is valid against docs/apply-events.schema.json, whatever the resource action (create, update,
replace, delete)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.cli.platform_project import KEYS, NUMBER, SAVED, Platform

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "apply-events.schema.json").read_text()
)


def _events(platform: Platform, *args: str) -> list[dict[str, Any]]:
    result = platform.ok(*args, "--auto-approve", "--format", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    return events


def _planned(events: list[dict[str, Any]]) -> dict[str, str]:
    return {a["name"]: a["action"] for a in events[0]["actions"]}


def test_creating_resources_streams_schema_valid_events(fresh_platform: Platform) -> None:
    events = _events(fresh_platform, "apply")
    assert _planned(events) == {KEYS: "create", SAVED: "create", NUMBER: "create"}
    assert events[-1]["counts"]["create"] == 3


def test_updating_and_replacing_resources_streams_schema_valid_events(
    applied_platform: Platform,
) -> None:
    applied_platform.edit("How can I help?", "What can I do for you?")
    applied_platform.edit('number: "+14155550100"', 'number: "+14155550101"')
    events = _events(applied_platform, "apply")
    assert _planned(events) == {SAVED: "update", NUMBER: "replace"}
    assert events[-1]["counts"]["replace"] == 1


def test_destroying_resources_streams_schema_valid_events(applied_platform: Platform) -> None:
    events = _events(applied_platform, "destroy")
    assert events[0]["command"] == "destroy"
    assert _planned(events) == {KEYS: "delete", SAVED: "delete", NUMBER: "delete"}


def _failed_steps(platform: Platform, *args: str) -> list[tuple[str, str, str]]:
    """``(name, action, phase)`` of every ``action_failed`` event of a failing run."""
    result = platform.ok(*args, "--auto-approve", "--format", "json", code=1)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    return [(e["name"], e["action"], e["phase"]) for e in events if e["type"] == "action_failed"]


def test_a_failed_create_reports_phase_create(fresh_platform: Platform) -> None:
    fresh_platform.fault(route="create-secret-set", status=400)
    assert _failed_steps(fresh_platform, "apply")[0] == (KEYS, "create", "create")


def test_a_failed_update_reports_phase_update(applied_platform: Platform) -> None:
    applied_platform.edit("How can I help?", "What can I do for you?")
    applied_platform.fault(route="update-agent", status=400)
    assert _failed_steps(applied_platform, "apply") == [(SAVED, "update", "update")]


def test_a_replace_whose_delete_fails_reports_phase_delete(applied_platform: Platform) -> None:
    applied_platform.edit('number: "+14155550100"', 'number: "+14155550101"')
    applied_platform.fault(route="delete-number", status=400)
    assert _failed_steps(applied_platform, "apply") == [(NUMBER, "replace", "delete")]


def test_a_replace_whose_create_fails_reports_phase_create(applied_platform: Platform) -> None:
    applied_platform.edit('number: "+14155550100"', 'number: "+14155550101"')
    applied_platform.fault(route="create-number", status=400)
    assert _failed_steps(applied_platform, "apply") == [(NUMBER, "replace", "create")]


def test_a_failed_delete_reports_phase_delete(applied_platform: Platform) -> None:
    applied_platform.fault(route="delete-number", status=400)
    assert _failed_steps(applied_platform, "destroy")[0] == (NUMBER, "delete", "delete")
