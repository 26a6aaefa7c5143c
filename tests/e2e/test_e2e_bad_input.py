"""End to end, through the CLI and a served sandbox: bad input is refused before anything is
done, never hangs the command, and never stops an agent for a spec the engine would refuse."""

from __future__ import annotations

import os

import pytest

from tests.blocking import unblock_fifos
from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow

TIMEOUT_S = 30.0
"""Far beyond what a refusal takes; a command blocked on a FIFO is killed and the test fails."""


@pytest.fixture
def unblock(project: Project) -> object:
    yield None
    unblock_fifos(project.dir)


def test_a_fifo_in_agents_d_fails_validate_and_plan_at_once(
    project: Project, sandbox: Sandbox, unblock: object
) -> None:
    os.mkfifo(project.dir / "agents.d" / "f.yaml")
    for command in ("validate", "plan"):
        result = project.run(command, timeout=TIMEOUT_S)
        assert result.code == 1, str(result)
        assert "Traceback" not in result.output
        assert (
            "agents.d/f.yaml: cannot read: is a FIFO (named pipe), not a regular file"
            in result.stderr
        )
    assert sandbox.agents() == []


def test_a_fifo_as_the_state_file_fails_plan_and_apply_at_once(
    project: Project, sandbox: Sandbox, unblock: object
) -> None:
    project.state_file.parent.mkdir()
    os.mkfifo(project.state_file)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = project.run(*command, timeout=TIMEOUT_S)
        assert result.code == 1, str(result)
        assert "Traceback" not in result.output
        assert "is a FIFO (named pipe), not a regular file" in result.stderr
    assert project.state_file.is_fifo()
    assert sandbox.agents() == []


def test_a_channel_the_engine_would_refuse_never_stops_the_running_agent(
    project: Project, sandbox: Sandbox
) -> None:
    project.ok("apply", "--auto-approve")
    running = sorted(sandbox.running())
    assert project.wire("sales-en") in running
    project.edit("sales-en", "channel: sales-en", "channel: " + "s" * 65)

    result = project.run("apply", "--auto-approve", timeout=TIMEOUT_S)

    assert result.code == 1, str(result)
    assert (
        "agents.d/sales-en.yaml:6: channel must be at most 64 characters (it has 65)"
        in result.stderr
    )
    assert sorted(sandbox.running()) == running
    assert sandbox.requests("leave") == []
