"""End to end, through the CLI and a served sandbox: every command that waits on the engine has a
total deadline (``--timeout``, ``RECONCILER_TIMEOUT``), reports it by name when it runs out and
exits 124. A persistent 503 with ``Retry-After: 3600`` ends at once under a deadline shorter
than the capped wait (30 s) instead of keeping the command silent for minutes; an apply stops
beginning actions at its deadline, finishes what is in flight and records it."""

from __future__ import annotations

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow


def _busy(sandbox: Sandbox, route: str = "*") -> None:
    sandbox.add_fault(route=route, status=503, retry_after_s=3600)


@pytest.mark.parametrize("command", [("plan",), ("drift",), ("apply", "--auto-approve")])
def test_a_persistent_503_with_a_huge_retry_after_ends_at_the_deadline(
    project: Project, sandbox: Sandbox, command: tuple[str, ...]
) -> None:
    project.apply()
    _busy(sandbox)
    result = project.run(*command, "--timeout", "10s")
    assert result.code == 124, str(result)
    assert "Traceback" not in result.stderr
    assert (
        "Error: gave up waiting for the engine: the command's deadline (--timeout 10s) runs "
        "out before the next attempt (due in 30s)"
    ) in result.stderr, str(result)
    assert "HTTP 503 ServiceUnavailable" in result.stderr


def test_the_deadline_can_come_from_the_environment(project: Project, sandbox: Sandbox) -> None:
    project.apply()
    _busy(sandbox)
    result = project.run("plan", env={**project.env, "RECONCILER_TIMEOUT": "10s"})
    assert result.code == 124, str(result)
    assert "the command's deadline (RECONCILER_TIMEOUT=10s)" in result.stderr


def test_a_timeout_that_is_not_a_duration_is_a_usage_error(project: Project) -> None:
    result = project.run("plan", "--timeout", "soon")
    assert result.code == 1, str(result)
    assert "--timeout: 'soon' is not a duration" in result.stderr


def test_apply_stops_beginning_actions_at_its_deadline_and_records_what_it_did(
    project: Project, sandbox: Sandbox
) -> None:
    # The first join takes 6 s; the deadline (4 s) passes meanwhile: that join is finished and
    # recorded, and no other action begins. (The plan before it takes well under 4 s.)
    sandbox.add_fault(route="join", action="delay", delay_ms=6000, times=1)
    result = project.run("apply", "--auto-approve", "--parallelism", "1", "--timeout", "4s")
    assert result.code == 124, str(result)
    assert "Apply interrupted: 1 started; 2 not attempted; run reconciler apply." in result.stdout
    assert "Error: apply stopped at the command's deadline (--timeout 4s)" in result.stderr
    recorded = {r["agent_id"] for r in project.state()["agents"].values()}
    assert recorded == {a["agent_id"] for a in sandbox.running().values()}
    assert len(recorded) == 1
    assert "Apply complete: 2 started." in project.apply().stdout
