"""Two states on one App ID never take each other's agents.

State A runs ``alpha``; state B (same manifests, its own state: a second team, a staging copy
with its own state key) applies on the same engine. Whatever happens to B's join (dropped, left
in B's journal by a kill), B never records, adopts or stops A's agent. And an agent that carries
one of our own wire names is adopted only if the engine created it after our journal entry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from reconciler.apply import resolve_journal
from reconciler.apply.records import wire_name
from reconciler.models import JournalEntry, StateDoc
from reconciler.state import LocalStateStore
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def team_a(tmp_path: Path) -> World:
    return make_world(tmp_path / "a")


@pytest.fixture
def team_b(team_a: World, tmp_path: Path) -> World:
    """Another state on team A's engine and App ID."""
    return World(tmp=tmp_path / "b", app=team_a.app, store=LocalStateStore(tmp_path / "b.json"))


def running(world: World) -> dict[str, str]:
    return {a["agent_id"]: a["name"] for a in world.agents("RUNNING")}


def test_two_states_send_different_wire_names_for_the_same_manifest(
    team_a: World, team_b: World
) -> None:
    _, _, a = team_a.apply(desired(agent("alpha")))
    _, result, b = team_b.apply(desired(agent("alpha")))
    assert result.ok, result.failed
    assert a.agents["alpha"].wire_name != b.agents["alpha"].wire_name
    assert a.agents["alpha"].wire_name == wire_name("alpha", 1, a.lineage)
    assert len(a.agents["alpha"].wire_name) <= 64


def test_a_dropped_join_of_a_second_state_never_adopts_the_first_states_agent(
    team_a: World, team_b: World
) -> None:
    """Issue 28 (a): B's first join is dropped before the engine sees it; its retry must not
    end in a 409 that B answers by recording A's agent (which B's destroy would then stop)."""
    _, _, a = team_a.apply(desired(agent("alpha")))
    theirs = a.agents["alpha"].agent_id
    team_b.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": team_b.wire("alpha"), "action": "drop", "times": 1},
    )
    _, result, b = team_b.apply(desired(agent("alpha")))
    assert all("adopted" not in (r.detail or "") for r in result.results)
    assert b.agents.get("alpha") is None or b.agents["alpha"].agent_id != theirs
    team_b.control("DELETE", "/_sandbox/faults/rules")
    _, destroyed, b = team_b.apply(desired(), destroy=True)
    assert destroyed.ok, destroyed.failed
    assert b.agents == {}
    assert running(team_a).get(theirs) == a.agents["alpha"].wire_name  # A's agent still runs


def interrupted_join(world: World, entry_wire_name: str, created_at: float) -> StateDoc:
    """The state a run leaves when it is killed with the join of alpha in its journal."""
    entry = JournalEntry(
        id=str(uuid.uuid4()),
        op="join",
        name="alpha",
        wire_name=entry_wire_name,
        generation=1,
        channel="alpha",
        created_at=created_at,
    )
    state = world.store.load()
    return world.store.write(state.model_copy(update={"journal": [entry]}))


def resolve(world: World, state: StateDoc) -> tuple[StateDoc, list[str]]:
    async def go() -> tuple[StateDoc, list[str]]:
        async with world.client() as c:
            return await resolve_journal(state, c, world.store)

    return asyncio.run(go())


def test_a_killed_run_of_a_second_state_never_adopts_the_first_states_agent(
    team_a: World, team_b: World
) -> None:
    """Issue 28 (b): B is killed with its join of alpha in the journal (the join never reached
    the engine); B's next run must forget the entry, not adopt A's alpha."""
    _, _, a = team_a.apply(desired(agent("alpha")))
    theirs = a.agents["alpha"].agent_id
    state = interrupted_join(team_b, team_b.wire("alpha"), time.time())
    doc, notes = resolve(team_b, state)
    assert doc.agents == {} and doc.journal == []
    assert "never took effect" in notes[0]
    _, result, b = team_b.apply(desired(agent("alpha")))
    assert result.ok and b.agents["alpha"].agent_id != theirs
    assert theirs in running(team_a)


def test_an_agent_under_our_wire_name_created_before_our_journal_entry_is_not_adopted(
    team_a: World,
) -> None:
    """The name alone is not evidence: an agent started by hand (with another body) under the
    wire name of an interrupted join, before the join was journaled, is not the join's agent."""
    by_hand = team_a.start_directly(team_a.wire("alpha"), channel="alpha", uid="4242")
    entry_written = time.time() + 600  # ten minutes after the agent was created
    doc, notes = resolve(team_a, interrupted_join(team_a, team_a.wire("alpha"), entry_written))
    assert doc.agents == {} and doc.journal == []
    assert "never took effect" in notes[0]
    assert by_hand in running(team_a)


def test_an_older_entry_under_a_shared_wire_name_never_adopts_an_earlier_agent(
    team_a: World, team_b: World
) -> None:
    """A journal entry left by an older version (wire name without the lineage tag, as every
    state sent then) is settled by the creation time alone: A's earlier agent is not B's."""
    theirs = team_a.start_directly("alpha-1", channel="alpha")
    doc, _ = resolve(team_b, interrupted_join(team_b, "alpha-1", time.time() + 600))
    assert doc.agents == {}
    assert theirs in running(team_a)


def test_an_agent_created_after_our_entry_under_our_wire_name_is_adopted(
    team_a: World,
) -> None:
    """The evidence rule still adopts what our killed run started."""
    entry_written = time.time()
    state = interrupted_join(team_a, team_a.wire("alpha"), entry_written)
    ours = team_a.start_directly(team_a.wire("alpha"), channel="alpha")
    doc, _ = resolve(team_a, state)
    assert doc.agents["alpha"].agent_id == ours
