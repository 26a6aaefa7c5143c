"""``reconciler status`` shows the Platform's resources the state records beside the agents:
present, missing (deleted outside), an interrupted update noted, an interrupted create as
creating. End to end through the CLI on the in-process sandbox (the example's Platform
manifests: a secret set, a saved agent using it, a number routed to the agent)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import KEYS, NUMBER, PLATFORM, SAVED, Platform


def _rows(project: Platform) -> dict[str, dict[str, Any]]:
    report = json.loads(project.ok("status", "--format", "json").stdout)
    return {f"{r['kind']}/{r['name']}": r for r in report["resources"]}


def _delete_outside(project: Platform, collection: str, ident: str) -> None:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=project.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
            auth = httpx.BasicAuth("sandbox", "sandbox")
            return await c.delete(f"{PLATFORM}/{collection}/{ident}", auth=auth)

    assert asyncio.run(go()).status_code == 200


def test_status_lists_every_recorded_resource_as_present(applied_platform: Platform) -> None:
    state = applied_platform.state()
    rows = _rows(applied_platform)
    assert set(rows) == {KEYS, SAVED, NUMBER}
    for address, row in rows.items():
        assert (row["id"], row["status"], row["reason"], row["channel"]) == (
            state.resources[address].id,
            "PRESENT",
            None,
            None,
        )
    text = applied_platform.ok("status").stdout
    assert text.rstrip().endswith("3 resources: 3 present.")
    number_line = next(line for line in text.splitlines() if line.startswith("support-line "))
    assert number_line.split()[1:4] == ["PhoneNumber", state.resources[NUMBER].id, "-"]


def test_status_shows_a_resource_deleted_outside_as_missing(applied_platform: Platform) -> None:
    _delete_outside(applied_platform, "numbers", applied_platform.state().resources[NUMBER].id)
    row = _rows(applied_platform)[NUMBER]
    assert row["status"] == "MISSING"
    assert row["reason"] == "deleted outside: the next plan creates it again"
    assert (
        applied_platform.ok("status").stdout.rstrip().endswith("3 resources: 1 missing, 2 present.")
    )


def test_status_notes_an_interrupted_update(applied_platform: Platform) -> None:
    applied_platform.edit("Answer briefly and in plain words.", "Answer in one sentence.")
    applied_platform.fault(route="update-agent", status=503)
    applied_platform.ok("apply", "--auto-approve", code=EXIT_ERROR)
    applied_platform.control("DELETE", "/faults/rules")
    row = _rows(applied_platform)[SAVED]
    assert (row["status"], row["reason"]) == (
        "PRESENT",
        "update interrupted: the next plan or apply settles it",
    )


def test_status_shows_an_interrupted_create_as_creating(fresh_platform: Platform) -> None:
    fresh_platform.fault(route="create-number", action="drop_after", times=1)
    fresh_platform.ok("apply", "--auto-approve", code=EXIT_ERROR)
    fresh_platform.control("DELETE", "/faults/rules")
    row = _rows(fresh_platform)[NUMBER]
    assert (row["status"], row["id"], row["reason"]) == (
        "CREATING",
        "",
        "create interrupted: the next plan or apply looks for it",
    )


def test_status_of_resources_writes_nothing(applied_platform: Platform) -> None:
    state_dir = applied_platform.dir / "state"
    before = {p.name: p.read_bytes() for p in state_dir.iterdir()}
    applied_platform.ok("status")
    applied_platform.ok("status", "--format", "json")
    assert {p.name: p.read_bytes() for p in state_dir.iterdir()} == before


def test_status_shows_what_it_read_and_fails_when_the_platform_is_down(
    applied_platform: Platform,
) -> None:
    applied_platform.fault(route="list-numbers", status=503)
    settings = applied_platform.dir / "reconciler.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "max_attempts: 1\n", "utf-8")
    result = applied_platform.ok("status", code=EXIT_ERROR)
    lines = result.stdout.splitlines()
    for address in (KEYS, SAVED, NUMBER):
        name = address.split("/")[1]
        row = next(line for line in lines if line.startswith(f"{name} "))
        assert row.split()[4:] == ["UNKNOWN", "-", "-", "not", "read"]
    assert "3 resources: 3 unknown." in result.stdout
    assert "Not read (shown UNKNOWN): platform unavailable" in result.stdout
    assert "Error: status incomplete: platform unavailable" in result.stderr
    report = json.loads(applied_platform.ok("status", "--format", "json", code=EXIT_ERROR).stdout)
    assert {r["status"] for r in report["resources"]} == {"UNKNOWN"}
    assert len(report["unread"]) == 1 and "503" in report["unread"][0]


def test_status_json_has_no_unread_when_everything_was_read(applied_platform: Platform) -> None:
    report = json.loads(applied_platform.ok("status", "--format", "json").stdout)
    assert "unread" not in report
