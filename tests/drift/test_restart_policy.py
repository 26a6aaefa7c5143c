"""``restart_policy`` and ``desired``: which exits the plan heals, and which drift is expected.

The plan and drift read one rule (``exit_expected``), so they always agree: an exit the policy
expects is left stopped by the plan and reported expected by drift.
"""

from __future__ import annotations

import pytest

from reconciler.drift import build_drift
from reconciler.models import DesiredAgent, LiveAgent, LiveStatus, StateDoc
from reconciler.plan import PlanOptions, build_plan
from tests.apply.harness import agent, desired
from tests.state.conftest import make_doc

NOW = 1_790_000_000.0
MESSAGES = {
    "idle-timeout": ("STOPPED", "agent exits with reason: idle timeout"),
    "runtime-cap": ("STOPPED", "agent exits with reason: maximum runtime of 72h reached"),
    "token-expired": ("STOPPED", "agent exits with reason: token expired"),
    "failed": ("FAILED", "LLM request error"),
}


def _with(base: DesiredAgent, **fields: str) -> DesiredAgent:
    return base.model_copy(update=fields)


def _exited(doc: StateDoc, name: str, cause: str) -> LiveStatus:
    status, message = MESSAGES[cause]
    agent_id = doc.agents[name].agent_id
    live = {agent_id: LiveAgent(agent_id=agent_id, status=status, message=message)}
    return LiveStatus(refreshed=True, agents=live, fetched_at=NOW)


@pytest.mark.parametrize(
    ("policy", "cause", "restarted"),
    [
        ("always", "idle-timeout", True),
        ("always", "failed", True),
        ("on-failure", "idle-timeout", False),
        ("on-failure", "runtime-cap", False),
        ("on-failure", "token-expired", True),
        ("on-failure", "failed", True),
        ("never", "failed", False),
        ("never", "idle-timeout", False),
    ],
)
def test_plan_and_drift_agree_on_which_exits_the_restart_policy_heals(
    policy: str, cause: str, restarted: bool
) -> None:
    doc = make_doc("support")
    live = _exited(doc, "support", cause)
    want = desired(_with(agent("support"), restart_policy=policy))
    plan = build_plan(want, doc, live, now=NOW, options=PlanOptions())
    report = build_drift(want, doc, live, now=NOW)
    assert plan.agents[0].action == ("start" if restarted else "no-op")
    assert [item.expected for item in report.items] == [not restarted]
    if not restarted:
        assert f"restart_policy {policy}" in plan.agents[0].reason
        assert any(w.startswith("support ") and "left stopped" in w for w in plan.warnings)
        assert plan.running_after == 0  # an agent left stopped takes no slot


def test_desired_stopped_stops_a_running_agent_and_keeps_its_manifest() -> None:
    doc = make_doc("support")
    agent_id = doc.agents["support"].agent_id
    live = LiveStatus(
        refreshed=True,
        agents={agent_id: LiveAgent(agent_id=agent_id, status="RUNNING")},
        fetched_at=NOW,
    )
    want = desired(_with(agent("support"), desired="stopped"))
    plan = build_plan(want, doc, live, now=NOW, options=PlanOptions())
    assert (plan.agents[0].action, plan.agents[0].reason) == ("stop", "desired: stopped")
    assert plan.running_after == 0


def test_desired_stopped_does_not_start_a_new_agent() -> None:
    plan = build_plan(
        desired(_with(agent("night"), desired="stopped")),
        make_doc(),
        LiveStatus(refreshed=True, fetched_at=NOW),
        now=NOW,
        options=PlanOptions(),
    )
    assert (plan.agents[0].action, plan.agents[0].reason) == (
        "no-op",
        "desired: stopped (not started)",
    )
    assert not plan.has_changes and plan.running_after == 0


def test_drift_of_an_agent_meant_to_be_stopped_is_expected() -> None:
    doc = make_doc("support")
    live = _exited(doc, "support", "failed")
    report = build_drift(desired(_with(agent("support"), desired="stopped")), doc, live, now=NOW)
    assert [(i.expected, i.why) for i in report.items] == [
        (True, "its manifest says desired: stopped; the next apply stops it")
    ]
