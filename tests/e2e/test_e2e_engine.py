"""End to end, through the CLI and a served sandbox: how apply copes with the engine.

A 409 conflict on a name held outside state fails and adopts nothing; the concurrency cap
refuses before starting anything; injected 503s and 429s are retried until apply converges; a
persistent failure fails that agent only, and the next apply finishes the job.
"""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.e2e_helpers import SECRETS, Project, Sandbox, join_directly
from tests.served import refused_port

pytestmark = pytest.mark.slow


def test_a_409_conflict_on_a_name_held_outside_state_fails_and_adopts_nothing(
    project: Project, sandbox: Sandbox
) -> None:
    # An agent that this state does not record already runs under the wire name apply is about
    # to use (another project, or a copy of this one, started it): it is not ours to take.
    holder = join_directly(sandbox, project.wire("support-en"), "support-en", "1001")

    applied = project.ok("apply", "--auto-approve", code=1)

    assert "Apply failed: 2 started; 1 failed." in applied.stdout
    assert (
        f"the name {project.wire('support-en')} is already held by agent {holder}" in applied.stdout
    )
    assert "nothing was adopted" in applied.stdout
    assert "support-en" not in project.state()["agents"]
    assert project.state()["pending"] == []
    in_channel = sandbox.agents(channel="support-en")
    assert [(a["agent_id"], a["status"]) for a in in_channel] == [(holder, "RUNNING")]
    conflicts = [r for r in sandbox.requests("join") if r.get("status") == 409]
    assert len(conflicts) == 1


def test_exceeding_max_concurrent_agents_is_refused_before_anything_starts(
    project: Project, sandbox: Sandbox
) -> None:
    project.set_setting("max_concurrent_agents", 2)

    refused = project.ok("apply", "--auto-approve", code=1)

    assert "3 agents would run; the cap for app" in refused.stderr
    assert "is 2 (max_concurrent_agents in reconciler.yaml)" in refused.stderr
    assert sandbox.agents() == []
    assert sandbox.requests("join") == []
    assert project.ok("plan", code=1).stderr == refused.stderr


def test_agents_running_outside_the_project_count_against_the_cap(
    project: Project, sandbox: Sandbox
) -> None:
    project.set_setting("max_concurrent_agents", 3)
    join_directly(sandbox, "someone-else", "elsewhere", "9001")

    refused = project.ok("apply", "--auto-approve", code=1)

    assert "4 agents would run" in refused.stderr
    assert "is 3 (max_concurrent_agents in reconciler.yaml)" in refused.stderr
    assert len(sandbox.agents()) == 1


def test_apply_retries_through_injected_503s_and_429s_and_converges(
    project: Project, sandbox: Sandbox
) -> None:
    sandbox.add_fault(route="list", status=503, times=1)
    sandbox.add_fault(route="join", name=project.wire("support-en"), status=503, times=2)
    sandbox.add_fault(
        route="join", name=project.wire("sales-en"), status=429, times=2, retry_after_s=1
    )

    applied = project.ok("-v", "apply", "--auto-approve")

    assert "Apply complete: 3 started." in applied.stdout
    assert [rule["hits"] for rule in sandbox.faults()["rules"]] == [1, 2, 2]
    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        project.wire("sales-en"),
        project.wire("support-en"),
    ]
    assert len(sandbox.agents()) == 3  # retried joins never started a duplicate
    # -v reports every retry, the refresh's included.
    assert applied.stderr.count("retry: ") == 5, applied.stderr
    assert "retry: list attempt 1/6 failed (HTTP 503 ServiceUnavailable)" in applied.stderr
    assert applied.stderr.count("retry: join attempt 1/6 failed (HTTP 503 ") == 1
    assert applied.stderr.count("retry: join attempt 2/6 failed (HTTP 503 ") == 1
    assert (
        "join attempt 1/6 failed (HTTP 429 ResourceQuotaLimitExceeded); next in 1.0s"
        in applied.stderr
    )
    assert (
        "join attempt 2/6 failed (HTTP 429 ResourceQuotaLimitExceeded); next in 1.0s"
        in applied.stderr
    )
    # Retry-After: 1 was honoured between the 429s and the next attempt.
    sales = [r["at"] for r in sandbox.requests("join") if r.get("name") == project.wire("sales-en")]
    assert len(sales) == 3
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(sales))
    assert project.ok("plan", "--detailed-exitcode", code=0)


def test_a_persistent_failure_fails_that_agent_only_and_the_next_apply_finishes(
    project: Project, sandbox: Sandbox
) -> None:
    project.set_setting("max_attempts", 2)
    sandbox.add_fault(
        route="join",
        name=project.wire("sales-en"),
        status=400,
        reason="InvalidRequestBody",
        detail=f"llm.api_key {SECRETS['OPENAI_API_KEY']} is not accepted",
    )
    sandbox.add_fault(route="join", name=project.wire("support-en"), status=503)

    failed = project.ok("apply", "--auto-approve", code=1)

    assert "Apply failed: 1 started; 2 failed." in failed.stdout
    assert (
        "sales-en: FAILED: join failed: InvalidRequestBody llm.api_key (sensitive) is not accepted"
        in failed.stdout
    )
    assert "sales-en start (InvalidRequestBody)" in failed.stderr
    assert "support-en start (ServiceUnavailable)" in failed.stderr
    assert SECRETS["OPENAI_API_KEY"] not in failed.output
    assert sorted(sandbox.running()) == [project.wire("concierge")]
    assert sorted(project.state()["agents"]) == ["concierge"]

    sandbox.control("DELETE", "/faults/rules")
    finished = project.apply()

    assert "Apply complete: 2 started." in finished.stdout
    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        project.wire("sales-en"),
        project.wire("support-en"),
    ]
    assert project.state()["pending"] == []
    assert project.ok("plan", "--detailed-exitcode", code=0)


def test_an_unreachable_engine_fails_cleanly_and_the_journal_is_resolved_later(
    project: Project, sandbox: Sandbox
) -> None:
    project.set_setting("max_attempts", 2)
    project.set_setting("engine", f"http://127.0.0.1:{refused_port()}")  # nothing listens there

    refused = project.ok("apply", "--auto-approve", code=1)
    assert "engine unavailable: list of agents failed after 2 attempts (connection error" in (
        refused.stderr
    )
    project.ok("plan", "--no-refresh", "--out", "offline.json")
    failed = project.ok("apply", "offline.json", code=1)
    assert "Apply failed: nothing changed; 3 failed." in failed.stdout
    wire = project.wire("support-en")
    assert f"support-en: FAILED: join failed: engine unavailable: join of '{wire}'" in (
        failed.stdout
    )
    # The outcome of those joins is unknown: the journal keeps them for the next run.
    assert len(project.state()["pending"]) == 3

    # The state now belongs to the unreachable engine: used with another, it is refused until
    # it is moved on purpose (here: the same agents' engine, back on another port).
    project.set_setting("engine", sandbox.url)
    assert "reconciler state rebind" in project.ok("plan", code=1).stderr
    project.ok("state", "rebind")
    planned = project.ok("plan")
    assert planned.stderr.count("is unresolved; apply will forget it") == 3, planned.stderr
    assert len(project.state()["pending"]) == 3  # plan only shows what apply will do
    applied = project.apply()
    assert applied.stderr.count("never took effect; forgotten") == 3, applied.stderr
    assert "Apply complete: 3 started." in applied.stdout
    assert project.state()["pending"] == []
    assert len(sandbox.agents()) == 3
