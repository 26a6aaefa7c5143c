"""``reconciler status``: every managed resource with what the engine reports now, a header,
``--format json``; read-only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.cli.ops_project import OpsProject
from tests.terminal import EXITED, Terminal


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in directory.rglob("*")
        if ".sandbox" not in p.relative_to(directory).parts
    }


def test_status_prints_a_header_and_every_managed_agent_running(applied: OpsProject) -> None:
    result = applied.ok("status")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "ID", "CHANNEL", "STATUS", "UPTIME", "TOKEN",
                                "REASON"]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert set(rows) == {"concierge", "sales-en", "support-en"}
    sales = rows["sales-en"]
    assert sales[1:5] == ["Agent", applied.agent_id("sales-en"), "sales-en", "RUNNING"]
    assert sales[6] == "in" and sales[7].endswith("m")  # the token expires in about 24 h
    assert "3 managed, 3 active, 0 not running; 3 resources: 3 present." in result.stdout


def test_status_shows_a_failed_agent_with_the_engines_reason(applied: OpsProject) -> None:
    crashed = applied.agent_id("sales-en")
    applied.crash(crashed, "agent exits with reason: LLM request error")
    result = applied.ok("status")
    row = next(line for line in result.stdout.splitlines() if line.startswith("sales-en"))
    assert "FAILED" in row
    assert row.endswith("failed: agent exits with reason: LLM request error")
    assert "3 managed, 2 active, 1 not running; 3 resources: 3 present." in result.stdout


def test_status_shows_no_token_expiry_for_an_agent_that_is_not_running(
    applied: OpsProject,
) -> None:
    applied.crash(applied.agent_id("sales-en"), "agent exits with reason: LLM request error")
    result = applied.ok("status")
    row = next(line for line in result.stdout.splitlines() if line.startswith("sales-en"))
    assert row.split()[5:7] == ["-", "-"]  # no uptime, no token: it does not run
    running = next(line for line in result.stdout.splitlines() if line.startswith("concierge"))
    assert running.split()[6] == "in"


def test_status_lists_an_unmanaged_agent_in_a_managed_channel(applied: OpsProject) -> None:
    stray = applied.engine.start_directly("stray-1", channel="support-en", uid="4242")
    result = applied.ok("status")
    row = next(line for line in result.stdout.splitlines() if stray in line)
    assert row.startswith("-  ")
    assert "support-en" in row and "unmanaged" in row
    assert ", 1 unmanaged in managed channels; 3 resources: 3 present." in result.stdout


def test_status_format_json_gives_kind_id_status_uptime_and_token_expiry(
    applied: OpsProject,
) -> None:
    doc = json.loads(applied.ok("status", "--format", "json").stdout)
    assert doc["format_version"] == "1.1"
    by_name = {r["name"]: r for r in doc["resources"]}
    concierge = by_name["concierge"]
    assert concierge["kind"] == "Agent"
    assert concierge["id"] == applied.agent_id("concierge")
    assert concierge["status"] == "RUNNING" and concierge["reason"] is None
    assert concierge["managed"] is True
    assert concierge["uptime_s"] >= 0
    assert concierge["token_expires_at"].endswith("Z")


def test_status_writes_nothing(applied: OpsProject) -> None:
    before = _files(applied.dir)
    applied.ok("status")
    applied.ok("status", "--format", "json")
    assert _files(applied.dir) == before


def test_status_without_state_says_nothing_is_recorded(project: OpsProject) -> None:
    result = project.ok("status")
    assert "No managed resources recorded in state." in result.stdout


@pytest.mark.slow
def test_status_watch_redraws_the_table_in_place_on_a_terminal(applied: OpsProject) -> None:
    terminal = Terminal(
        [sys.executable, "-m", "reconciler", "status", "--watch", "--interval", "0.5s"],
        cwd=applied.dir,
        env=os.environ,
    )
    try:
        first = terminal.wait_for(lambda s: "3 managed, 3 active" in s)
        assert first.splitlines()[0].startswith("Every 0.5s: reconciler status")
        applied.crash(applied.agent_id("concierge"), "agent exits with reason: crashed")
        after = terminal.wait_for(lambda s: "3 managed, 2 active, 1 not running" in s)
        # One table on the screen, redrawn: not a second one appended below the first.
        assert after.count("NAME  ") == 1
        assert "3 managed, 3 active" not in after
        row = next(line for line in after.splitlines() if line.startswith("concierge"))
        assert "FAILED" in row
        terminal.send("C-c")
        ended = terminal.wait_for(lambda s: EXITED in s)
        assert "[exit 0]" in ended
        assert "Traceback" not in ended
    finally:
        terminal.close()
