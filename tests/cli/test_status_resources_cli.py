"""``reconciler status`` shows the Platform's resources the state records beside the agents:
present, missing (deleted outside), an interrupted update noted, an interrupted create as
creating. End to end through the CLI on the in-process sandbox (the example's Platform
manifests: a secret set, a saved agent using it, a number routed to the agent)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.errors import EXIT_ERROR
from tests.cli.test_state_resources_cli import KEYS, NUMBER, PLATFORM, SAVED, Platform


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    project = Platform(tmp_path / "project", monkeypatch, "state/agents.json")
    yield project
    project.app.state.sandbox.close()


@pytest.fixture
def applied(fresh: Platform) -> Platform:
    fresh.ok("apply", "--auto-approve")
    return fresh


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


def test_status_lists_every_recorded_resource_as_present(applied: Platform) -> None:
    state = applied.state()
    rows = _rows(applied)
    assert set(rows) == {KEYS, SAVED, NUMBER}
    for address, row in rows.items():
        assert (row["id"], row["status"], row["reason"], row["channel"]) == (
            state.resources[address].id,
            "PRESENT",
            None,
            None,
        )
    text = applied.ok("status").stdout
    assert text.rstrip().endswith("3 resources: 3 present.")
    number_line = next(line for line in text.splitlines() if line.startswith("support-line "))
    assert number_line.split()[1:4] == ["PhoneNumber", state.resources[NUMBER].id, "-"]


def test_status_shows_a_resource_deleted_outside_as_missing(applied: Platform) -> None:
    _delete_outside(applied, "numbers", applied.state().resources[NUMBER].id)
    row = _rows(applied)[NUMBER]
    assert row["status"] == "MISSING"
    assert row["reason"] == "deleted outside: the next plan creates it again"
    assert applied.ok("status").stdout.rstrip().endswith("3 resources: 1 missing, 2 present.")


def test_status_notes_an_interrupted_update(applied: Platform) -> None:
    applied.edit("Answer briefly and in plain words.", "Answer in one sentence.")
    applied.fault(route="update-agent", status=503)
    applied.ok("apply", "--auto-approve", code=EXIT_ERROR)
    applied.control("DELETE", "/faults/rules")
    row = _rows(applied)[SAVED]
    assert (row["status"], row["reason"]) == (
        "PRESENT",
        "update interrupted: the next plan or apply settles it",
    )


def test_status_shows_an_interrupted_create_as_creating(fresh: Platform) -> None:
    fresh.fault(route="create-number", action="drop_after", times=1)
    fresh.ok("apply", "--auto-approve", code=EXIT_ERROR)
    fresh.control("DELETE", "/faults/rules")
    row = _rows(fresh)[NUMBER]
    assert (row["status"], row["id"], row["reason"]) == (
        "CREATING",
        "",
        "create interrupted: the next plan or apply looks for it",
    )


def test_status_of_resources_writes_nothing(applied: Platform) -> None:
    state_dir = applied.dir / "state"
    before = {p.name: p.read_bytes() for p in state_dir.iterdir()}
    applied.ok("status")
    applied.ok("status", "--format", "json")
    assert {p.name: p.read_bytes() for p in state_dir.iterdir()} == before
