"""What apply shows while it runs: begin lines, still-running lines, a live bar on a terminal,
and the JSON event stream, against a served sandbox whose stops take 12 s.

The text tests read the CLI through a pipe (a CI log) and through a pseudo-terminal (a
person's terminal); the JSON test checks every line against the documented schema.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, leaks
from tests.terminal import EXITED, Terminal

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "apply-events.schema.json").read_text()
)
pytestmark = pytest.mark.slow


def _applied_with_slow_stops(project: Project, sandbox: Sandbox) -> None:
    """Applied, then a change that restarts concierge; its stop takes 12 s to settle (the
    sandbox fixes an agent's stop delay when it starts)."""
    sandbox.control("POST", "/settings", {"stop_delay_s": 12.0})
    project.apply()
    project.edit("concierge", 'agent_rtc_uid: "3001"', 'agent_rtc_uid: "3002"')


def test_a_long_stop_prints_begin_still_running_and_done_lines_in_a_ci_log(
    project: Project, sandbox: Sandbox
) -> None:
    _applied_with_slow_stops(project, sandbox)
    result = project.ok("apply", "--auto-approve")
    lines = result.stdout.splitlines()
    begin = lines.index("concierge: stopping for restart...")
    still = next(i for i, line in enumerate(lines) if line.startswith("concierge: still"))
    done = next(
        i for i, line in enumerate(lines) if line.startswith("concierge: stopped (restart)")
    )
    started = next(i for i, line in enumerate(lines) if line.startswith("concierge: started"))
    assert begin < still < done < started
    assert lines[still] == "concierge: still stopping for restart... [10s elapsed]"
    assert lines[-1].startswith("Apply complete: 1 restarted. (1")  # ~12 s
    assert "\x1b[" not in result.stdout + result.stderr  # no bar or colour in a pipe


def test_on_a_terminal_a_progress_bar_counts_actions_a_restart_being_one(
    project: Project, sandbox: Sandbox
) -> None:
    _applied_with_slow_stops(project, sandbox)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        project.command("apply", "--auto-approve"),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**project.env, "NO_COLOR": "1"},
        cwd=project.dir,
    )
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(primary)
    text = screen.decode(errors="replace")
    assert process.returncode == 0, text
    assert "concierge: stopping for restart..." in text
    assert "concierge: still stopping for restart... [10s elapsed]" in text
    assert "[------------------------] 0/1 actions  1 in flight" in text
    assert "1/2" not in text  # the stop half of the restart is not an action of its own
    assert "[########################] 1/1 actions" in text
    assert "\x1b[3" not in text  # NO_COLOR removes colour, not progress


def test_apply_format_json_is_one_schema_valid_event_per_line(
    project: Project, sandbox: Sandbox
) -> None:
    _applied_with_slow_stops(project, sandbox)
    project.manifest("sales-en").unlink()
    result = project.ok("apply", "--auto-approve", "--format", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "apply_start" and kinds[-1] == "summary"
    assert {"action_begin", "action_answered", "action_progress", "action_complete"} <= set(kinds)
    start = events[0]
    assert {(a["name"], a["action"]) for a in start["actions"]} == {
        ("concierge", "restart"),
        ("sales-en", "stop"),
    }
    assert start["steps"] == 3
    # the removed agent's stop comes first, then the restart (each stop takes 12 s)
    progress = next(
        e for e in events if e["type"] == "action_progress" and e["name"] == "concierge"
    )
    assert progress["elapsed_s"] >= 10
    summary = events[-1]
    assert summary["ok"] is True
    assert summary["counts"]["stop"] == 1 and summary["counts"]["restart"] == 1
    assert leaks([("stdout", result.stdout), ("stderr", result.stderr)], SECRETS) == []


def test_apply_format_json_needs_auto_approve(project: Project, sandbox: Sandbox) -> None:
    refused = project.ok("apply", "--format", "json", code=1)
    assert "--format json needs --auto-approve" in refused.stderr
    assert refused.stdout == ""


def test_the_bar_shows_retries_as_they_happen_elapsed_time_and_an_eta(
    project: Project, sandbox: Sandbox
) -> None:
    # The first three joins are answered 503 with Retry-After: 2 (waits of 2 s each).
    sandbox.add_fault(route="join", status=503, retry_after_s=2, times=3)
    terminal = Terminal(
        # --no-wait: an action is done when its start is recorded (with the wait, it is done
        # once RUNNING, after every join, so none would be done while sales-en retries)
        project.command("apply", "--auto-approve", "--no-wait"),
        cwd=project.dir,
        env={**project.env, "NO_COLOR": "1"},
    )
    try:
        during = terminal.wait_for(lambda s: "retrying: HTTP 503" in s)
        bar = during.splitlines()[-1]
        assert re.match(r"^\[[#-]{24}\] [0-2]/3 actions  [1-3] in flight  [1-3] retrying: "
                        r"HTTP 503  elapsed \d:\d\d(  ETA \d:\d\d)?$", bar), bar  # fmt: skip
        after = terminal.wait_for(lambda s: EXITED in s)
        assert "[exit 0]" in after
        assert "Apply complete: 3 started." in after
        assert "actions" not in after  # the bar is gone once the run ends
    finally:
        terminal.close()
