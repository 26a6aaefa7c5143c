"""The group write's batched record and journal changes: applied together, they leave the state
exactly as applied one after the other, and what they do not touch stays the same object."""

from __future__ import annotations

import functools

from reconciler.apply.run import AgentChange, apply_agent_changes
from reconciler.models import AgentRecord, JournalEntry, StateDoc
from reconciler.state import new_state


def _record(name: str) -> AgentRecord:
    return AgentRecord(
        name=name,
        agent_id=f"agent-{name}",
        wire_name=f"{name}-1",
        generation=1,
        channel=f"ch-{name}",
        started_at=1.0,
        spec={},
        spec_digest="",
    )


def _entry(number: int, name: str) -> JournalEntry:
    return JournalEntry(
        id=f"e{number}",
        op="join",
        name=name,
        wire_name=f"{name}-1",
        generation=1,
        channel=f"ch-{name}",
        created_at=1.0,
    )


def _state() -> StateDoc:
    doc = new_state()
    return doc.model_copy(
        update={"agents": {"a": _record("a"), "b": _record("b")}, "journal": [_entry(0, "c")]}
    )


def test_changes_applied_together_leave_the_state_they_leave_one_by_one() -> None:
    changes = [
        AgentChange(add=(_entry(1, "d"),)),
        AgentChange(settle=frozenset({"e0"}), put=(_record("c"),)),
        AgentChange(add=(_entry(2, "e"),)),
        AgentChange(settle=frozenset({"e1"}), put=(_record("d"),)),
        AgentChange(drop=frozenset({"a"})),
        AgentChange(settle=frozenset({"e2"})),  # a join that failed: no record
    ]
    doc = _state()
    one_by_one = functools.reduce(lambda d, change: change(d), changes, doc)
    together = apply_agent_changes(doc, changes)
    assert together == one_by_one
    assert sorted(together.agents) == ["b", "c", "d"] and together.journal == []


def test_a_change_of_the_journal_alone_keeps_the_records_object() -> None:
    doc = _state()
    changed = apply_agent_changes(doc, [AgentChange(add=(_entry(1, "d"),))])
    assert changed.agents is doc.agents
    assert [e.id for e in changed.journal] == ["e0", "e1"]
    assert apply_agent_changes(doc, [AgentChange()]) is doc
