"""End to end, through the CLI and a served sandbox: nothing is lost or started twice when a
join's answer is lost, when apply is killed mid-flight, or when an agent crashes."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow


def test_a_join_whose_answer_was_lost_is_retried_and_adopted_not_duplicated(
    project: Project, sandbox: Sandbox
) -> None:
    sandbox.add_fault(route="join", name=project.wire("support-en"), action="drop_after", times=1)

    applied = project.apply()

    assert "Apply complete: 3 started." in applied.stdout
    assert "support-en: started" in applied.stdout
    assert "adopted the running agent after 409 TaskConflict" in applied.stdout
    in_channel = sandbox.agents(channel="support-en")
    assert len(in_channel) == 1
    assert in_channel[0]["agent_id"] == project.state()["agents"]["support-en"]["agent_id"]
    project.ok("plan", "--detailed-exitcode", code=0)


def test_an_apply_killed_mid_join_is_resolved_by_the_next_run(
    project: Project, sandbox: Sandbox
) -> None:
    # The joins are held 5 s on the engine: a window the kill below lands in however loaded
    # the machine (it waits for a condition, the joins' arrival, not for a time).
    sandbox.add_fault(route="join", action="delay", delay_ms=5000)
    running = project.popen("apply", "--auto-approve")
    # Kill it once the three joins (journaled first) have reached the engine, before answers.
    deadline = time.monotonic() + 30
    while len(sandbox.requests("join")) < 3:
        assert time.monotonic() < deadline, "the three joins never reached the engine"
        time.sleep(0.02)
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=10)
    assert len(project.state()["pending"]) == 3
    assert project.state()["agents"] == {}
    # The joins the killed run sent complete on the engine all the same.
    deadline = time.monotonic() + 30
    while len(sandbox.running()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    sandbox.control("DELETE", "/faults/rules")
    assert len(sandbox.running()) == 3

    before = project.state_file.read_bytes()
    plan = project.ok("plan", "--detailed-exitcode", code=2)

    # plan only shows what apply will do about the journal (each adoption as its own action,
    # never silently); it writes nothing.
    assert plan.stderr.count("is unresolved; apply will adopt agent") == 3, plan.stderr
    assert plan.stdout.startswith("Plan: 3 to adopt; 0 unchanged."), plan.stdout
    assert "\n <= sales-en  agent_id=" in plan.stdout
    assert "will be adopted into state" in plan.stdout
    assert project.state_file.read_bytes() == before
    applied = project.apply()
    assert applied.stderr.count("started by an interrupted run") == 3, applied.stderr
    assert "Plan: 3 to adopt; 0 unchanged." in applied.stdout
    assert "Apply complete: 3 adopted." in applied.stdout
    state = project.state()
    assert state["pending"] == []
    assert {r["agent_id"] for r in state["agents"].values()} == {
        a["agent_id"] for a in sandbox.running().values()
    }
    assert "No changes" in project.apply().stdout
    assert len(sandbox.agents()) == 3


def test_a_crashed_agent_is_started_again(project: Project, sandbox: Sandbox) -> None:
    project.apply()
    crashed = project.state()["agents"]["sales-en"]["agent_id"]
    sandbox.control("POST", f"/agents/{crashed}/crash", {"message": "vendor outage"})

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "vendor outage" in plan.stdout
    applied = project.apply()

    assert "Apply complete: 1 started." in applied.stdout
    record = project.state()["agents"]["sales-en"]
    assert record["agent_id"] != crashed
    assert record["wire_name"] == project.wire("sales-en", 2)
    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        project.wire("sales-en", 2),
        project.wire("support-en"),
    ]
    project.ok("plan", "--detailed-exitcode", code=0)
