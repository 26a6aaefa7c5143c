"""The watch metrics: actions by kind and outcome, agents by the engine's status."""

from __future__ import annotations

from reconciler.apply import ActionResult, ApplyResult
from reconciler.engine import RetryEvent
from reconciler.models import AgentPlan, AgentRecord, LiveAgent, LiveStatus, Plan, StateDoc
from reconciler.models.plan import ReasonCode
from reconciler.watch.metrics import WatchMetrics

LINEAGE = "00000000-0000-4000-8000-000000000000"


def _record(name: str, agent_id: str) -> AgentRecord:
    return AgentRecord(
        name=name,
        agent_id=agent_id,
        wire_name=f"{name}-1",
        generation=1,
        channel=name,
        started_at=0.0,
        spec={},
        spec_digest="d",
    )


def _sample(metrics: WatchMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_actions_are_counted_by_kind_and_outcome_and_not_attempted_by_planned_kind() -> None:
    metrics = WatchMetrics()
    plan = Plan(
        lineage=LINEAGE,
        serial=1,
        manifests_digest="m",
        created_at=0,
        refreshed=True,
        agents=(
            AgentPlan(name="a", action="start", reason="new agent", reason_code=ReasonCode.NEW),
            AgentPlan(
                name="b",
                action="restart",
                reason="rotate",
                reason_code=ReasonCode.ROTATION,
                agent_id="B",
            ),
            AgentPlan(
                name="c",
                action="renew-token",
                reason="token",
                reason_code=ReasonCode.TOKEN_EXPIRING,
                agent_id="C",
            ),
        ),
    )
    result = ApplyResult(
        results=[
            ActionResult(name="a", action="start", ok=True),
            ActionResult(name="b", action="restart", ok=False),
        ],
        not_attempted=["c"],
    )
    metrics.applied(plan, result)
    total = "reconciler_watch_actions_total"
    assert _sample(metrics, total, action="start", outcome="ok") == 1
    assert _sample(metrics, total, action="restart", outcome="failed") == 1
    assert _sample(metrics, total, action="renew-token", outcome="not_attempted") == 1


def test_agents_gauge_counts_recorded_agents_by_live_status_and_missing() -> None:
    metrics = WatchMetrics()
    state = StateDoc(
        lineage=LINEAGE,
        salt="s",
        agents={n: _record(n, n.upper()) for n in ("a", "b", "c")},
    )
    live = LiveStatus(
        refreshed=True,
        agents={
            "A": LiveAgent(agent_id="A", status="RUNNING"),
            "B": LiveAgent(agent_id="B", status="FAILED"),
        },
    )
    metrics.observed(state, live)
    gauge = "reconciler_watch_agents"
    assert _sample(metrics, gauge, status="RUNNING") == 1
    assert _sample(metrics, gauge, status="FAILED") == 1
    assert _sample(metrics, gauge, status="MISSING") == 1
    metrics.observed(state, LiveStatus(refreshed=True, agents={}))
    assert _sample(metrics, gauge, status="RUNNING") is None, "a status no agent has is dropped"
    assert _sample(metrics, gauge, status="MISSING") == 3


def test_a_status_the_engine_does_not_document_is_counted_as_other_not_by_its_text() -> None:
    """The engine's status is a label value only when it is a documented one: whatever else an
    engine sends (a new status, a long text per agent) cannot grow the label's values."""
    metrics = WatchMetrics()
    names = [f"a{i}" for i in range(50)]
    state = StateDoc(lineage=LINEAGE, salt="s", agents={n: _record(n, n.upper()) for n in names})
    weird = {n.upper(): LiveAgent(agent_id=n.upper(), status=f"WEIRD-{n}" * 20) for n in names}
    weird["A0"] = LiveAgent(agent_id="A0", status="RUNNING")
    metrics.observed(state, LiveStatus(refreshed=True, agents=weird))
    gauge = "reconciler_watch_agents"
    assert _sample(metrics, gauge, status="RUNNING") == 1
    assert _sample(metrics, gauge, status="other") == 49
    exposition = metrics.exposition().decode()
    assert "WEIRD" not in exposition


def test_a_run_sets_the_last_success_time_only_when_it_succeeds() -> None:
    metrics = WatchMetrics()
    metrics.run_finished(True, 0.5, 1000.0)
    metrics.run_finished(False, 0.5, 2000.0)
    assert _sample(metrics, "reconciler_watch_last_success_timestamp_seconds") == 1000.0
    assert _sample(metrics, "reconciler_watch_reconcile_runs_total", outcome="error") == 1
    assert _sample(metrics, "reconciler_watch_reconcile_duration_seconds_count") == 2


def test_engine_retries_are_counted_by_route_and_status() -> None:
    metrics = WatchMetrics()
    metrics.retried(RetryEvent("join", 1, 6, 0.5, "HTTP 503 ServiceUnavailable", 503))
    metrics.retried(RetryEvent("list", 1, 6, 0.5, "timeout"))
    total = "reconciler_watch_engine_retries_total"
    assert _sample(metrics, total, route="join", status="503") == 1
    assert _sample(metrics, total, route="list", status="0") == 1


def test_engine_calls_are_counted_by_route_and_status() -> None:
    metrics = WatchMetrics()
    metrics.called("join", 200)
    metrics.called("join", 200)
    metrics.called("leave", 404)
    metrics.called("list", 0)
    total = "reconciler_watch_engine_calls_total"
    assert _sample(metrics, total, route="join", status="200") == 2
    assert _sample(metrics, total, route="leave", status="404") == 1
    assert _sample(metrics, total, route="list", status="0") == 1
