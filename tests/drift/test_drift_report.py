"""``build_drift`` and the exit classification it shares with the plan, as a specification."""

from __future__ import annotations

import pytest

from reconciler.drift import build_drift, expectation
from reconciler.errors import PlanError
from reconciler.models import DesiredSet, JournalEntry, LiveAgent, LiveStatus, StateDoc
from reconciler.models.liveness import agent_exit
from reconciler.plan import PlanOptions, build_plan
from tests.apply.harness import agent, desired
from tests.state.conftest import make_doc

NOW = 1_790_000_000.0


def _live(*agents: LiveAgent) -> LiveStatus:
    return LiveStatus(refreshed=True, agents={a.agent_id: a for a in agents}, fetched_at=NOW)


def _running(doc: StateDoc, *names: str) -> list[LiveAgent]:
    return [LiveAgent(agent_id=doc.agents[n].agent_id, status="RUNNING") for n in names]


@pytest.mark.parametrize(
    ("status", "message", "cause"),
    [
        (
            "STOPPED",
            "agent exits with reason: idle timeout, no remote user for 30s",
            "idle-timeout",
        ),
        ("STOPPED", "agent exits with reason: maximum runtime of 72h reached", "runtime-cap"),
        ("STOPPED", "agent exits with reason: Token Expired", "token-expired"),
        ("FAILED", "agent exits with reason: token expired", "failed"),
        ("FAILED", None, "failed"),
        ("STOPPED", "agent exits with reason: leave requested", "exited"),
        ("STOPPING", None, "exited"),
    ],
)
def test_the_exit_cause_is_read_from_the_engine_status_and_message(
    status: str, message: str | None, cause: str
) -> None:
    exited = agent_exit("A1", _live(LiveAgent(agent_id="A1", status=status, message=message)))
    assert exited is not None
    assert exited.cause == cause
    assert exited.message == (message or "")


def test_an_active_agent_has_not_exited_and_an_unknown_one_is_missing() -> None:
    live = _live(LiveAgent(agent_id="A1", status="RECOVERING"))
    assert agent_exit("A1", live) is None
    missing = agent_exit("A2", live)
    assert missing is not None and missing.cause == "missing"
    assert agent_exit("A2", LiveStatus()) is None  # the engine was not asked: nothing known


def test_drift_and_plan_give_a_failed_agent_the_same_reason() -> None:
    doc = make_doc("support")
    live = _live(
        LiveAgent(agent_id=doc.agents["support"].agent_id, status="FAILED", message="LLM error")
    )
    want = desired(agent("support"))
    report = build_drift(want, doc, live, now=NOW)
    plan = build_plan(want, doc, live, now=NOW, options=PlanOptions())
    assert [item.reason for item in report.items] == ["failed: LLM error"]
    assert plan.agents[0].reason == "failed: LLM error"


def test_every_exit_of_an_agent_the_manifests_want_is_unexpected() -> None:
    for kind in ("exited", "missing"):
        for cause in ("idle-timeout", "runtime-cap", "token-expired", "failed", "missing"):
            assert not expectation(kind, cause, wanted=True).expected  # type: ignore[arg-type]


def test_the_drift_of_an_agent_whose_manifest_is_gone_is_expected() -> None:
    doc = make_doc("old", "support")
    live = _live(*_running(doc, "support"))  # "old" is gone from the engine
    report = build_drift(desired(agent("support")), doc, live, now=NOW)
    assert [(i.name, i.kind, i.expected) for i in report.items] == [("old", "missing", True)]
    assert not report.has_unexpected
    assert report.in_sync == 1


def test_an_unrecorded_agent_counts_only_in_a_managed_channel() -> None:
    doc = make_doc("support")
    live = _live(
        *_running(doc, "support"),
        LiveAgent(agent_id="STRAY1", status="RUNNING", channel="support"),
        LiveAgent(agent_id="STRAY2", status="RUNNING", channel="someone-else"),
        LiveAgent(agent_id="STRAY3", status="RUNNING"),  # channel unknown: not listed by ours
        LiveAgent(agent_id="ENDED", status="STOPPED", channel="support"),
    )
    report = build_drift(desired(agent("support")), doc, live, now=NOW)
    assert [(i.kind, i.agent_id, i.expected) for i in report.items] == [
        ("unmanaged", "STRAY1", False)
    ]


def test_an_agent_a_journal_entry_names_is_not_unmanaged_and_entries_are_counted() -> None:
    doc = make_doc("support")
    entry = JournalEntry(
        id="e1",
        op="join",
        name="new",
        wire_name="new-1",
        generation=1,
        channel="support",
        agent_id="JOINED",
        created_at=NOW,
    )
    doc = doc.model_copy(update={"journal": [entry]})
    live = _live(
        *_running(doc, "support"), LiveAgent(agent_id="JOINED", status="RUNNING", channel="support")
    )
    report = build_drift(desired(agent("support")), doc, live, now=NOW)
    assert report.items == ()
    assert report.journal_entries == 1


def test_a_clean_engine_gives_an_empty_report() -> None:
    doc = make_doc("sales", "support")
    report = build_drift(
        desired(agent("sales"), agent("support")),
        doc,
        _live(*_running(doc, "sales", "support")),
        now=NOW,
    )
    assert report.items == () and report.in_sync == 2 and not report.has_unexpected


def test_drift_without_the_engines_live_status_is_refused() -> None:
    with pytest.raises(PlanError, match="live status"):
        build_drift(DesiredSet(), make_doc("support"), LiveStatus(), now=NOW)
