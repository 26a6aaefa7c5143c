"""Adoption needs evidence: an agent is ours only if the engine names it with our wire name.

Covers journal resolution (an interrupted start left in state) and the 409 on join, against
the in-process sandbox: being in the same channel as the journal entry is never enough.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from reconciler.apply import Settlement, preview_journal, resolve_journal
from reconciler.models import JournalEntry, StateDoc
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def interrupted_start(world: World, name: str = "alpha", generation: int = 1) -> StateDoc:
    """State as a run leaves it when it dies after journaling the join of ``name``."""
    entry = JournalEntry(
        id=str(uuid.uuid4()),
        op="join",
        name=name,
        wire_name=world.wire(name, generation),
        generation=generation,
        channel=name,
        created_at=0.0,
    )
    state = world.store.load()
    return world.store.write(state.model_copy(update={"journal": [*state.journal, entry]}))


def resolve(world: World, state: StateDoc) -> tuple[StateDoc, list[str]]:
    async def go() -> tuple[StateDoc, list[str]]:
        async with world.client() as c:
            return await resolve_journal(state, c, world.store)

    return asyncio.run(go())


def preview(world: World, state: StateDoc) -> list[Settlement]:
    async def go() -> list[Settlement]:
        async with world.client() as c:
            return await preview_journal(state, c)

    return asyncio.run(go())


def block_turns(world: World) -> None:
    world.control(
        "POST", "/_sandbox/faults/rules", {"route": "turns", "status": 400, "reason": "Nope"}
    )


# -- journal resolution ------------------------------------------------------------------------


def test_interrupted_start_with_no_agent_in_its_channel_is_forgotten(world: World) -> None:
    doc, notes = resolve(world, interrupted_start(world))
    assert doc.agents == {} and doc.journal == []
    assert world.store.load().journal == []  # written
    assert notes == [
        f"alpha: an interrupted start of {world.wire('alpha')} never took effect; forgotten"
    ]


def test_interrupted_start_is_not_adopted_from_the_one_foreign_agent_in_its_channel(
    world: World,
) -> None:
    state = interrupted_start(world)
    stranger = world.start_directly("someone-else", channel="alpha", uid="7777")
    doc, notes = resolve(world, state)
    assert doc.agents == {} and doc.journal == []
    assert "never took effect" in notes[0] and "1 agent there carries other names" in notes[0]
    assert [a["agent_id"] for a in world.agents("RUNNING")] == [stranger]


def test_interrupted_start_is_not_adopted_when_several_foreign_agents_share_its_channel(
    world: World,
) -> None:
    state = interrupted_start(world)
    for i in range(3):
        world.start_directly(f"someone-{i}", channel="alpha", uid=f"777{i}")
    doc, notes = resolve(world, state)
    assert doc.agents == {} and doc.journal == []
    assert "3 agents there carry other names" in notes[0]


def test_interrupted_start_adopts_the_agent_with_its_wire_name_among_strangers(
    world: World,
) -> None:
    world.start_directly(world.wire("someone", 0), channel="alpha", uid="7770")
    ours = world.start_directly(world.wire("alpha"), channel="alpha")
    world.start_directly(world.wire("someone"), channel="alpha", uid="7771")
    doc, notes = resolve(world, interrupted_start(world))
    assert doc.journal == []
    assert doc.agents["alpha"].agent_id == ours
    assert doc.agents["alpha"].wire_name == world.wire("alpha")
    assert f"adopted agent {ours}" in notes[0] and f"names it {world.wire('alpha')}" in notes[0]


def test_interrupted_start_ignores_an_agent_with_its_name_in_another_channel(
    world: World,
) -> None:
    world.start_directly(world.wire("alpha"), channel="elsewhere")
    doc, notes = resolve(world, interrupted_start(world))
    assert doc.agents == {} and doc.journal == []
    assert "never took effect" in notes[0]


def test_interrupted_start_adopts_an_agent_that_is_still_starting(tmp_path: Path) -> None:
    world = make_world(tmp_path, start_delay_s=30.0)
    ours = world.start_directly(world.wire("alpha"), channel="alpha")
    assert world.agents("STARTING")
    doc, _ = resolve(world, interrupted_start(world))
    assert doc.agents["alpha"].agent_id == ours


def test_interrupted_start_adopts_an_agent_started_longer_ago_than_the_engines_default_window(
    world: World,
) -> None:
    """The engine's list covers the last 2 hours unless told otherwise; resolution must look
    back over the whole 72 h an agent can run."""
    ours = world.start_directly(world.wire("alpha"), channel="alpha")
    world.control("POST", "/_sandbox/clock/advance", {"seconds": 3 * 3600})
    doc, _ = resolve(world, interrupted_start(world))
    assert doc.agents["alpha"].agent_id == ours


def test_interrupted_start_is_kept_when_the_engine_cannot_say_who_shares_its_channel(
    world: World,
) -> None:
    stranger = world.start_directly("someone-else", channel="alpha", uid="7777")
    block_turns(world)
    state = interrupted_start(world)
    doc, notes = resolve(world, state)
    assert doc.agents == {}
    assert [p.wire_name for p in doc.journal] == [world.wire("alpha")]
    assert "cannot be settled" in notes[0] and stranger in notes[0]
    assert "reconciler state show" in notes[0]


def test_a_kept_entry_blocks_starts_in_its_channel_and_fails_them(world: World) -> None:
    world.start_directly("someone-else", channel="alpha", uid="7777")
    block_turns(world)
    resolve(world, interrupted_start(world))
    _, result, state = world.apply(desired(agent("alpha"), agent("beta")))
    reasons = {r.name: r.reason for r in result.failed}
    assert reasons == {"alpha": "UnresolvedJoin"}
    assert world.wire("alpha") in result.failed[0].detail
    assert sorted(state.agents) == ["beta"]
    assert [p.wire_name for p in state.journal] == [world.wire("alpha")]
    assert len(world.agents("RUNNING")) == 2  # the stranger and beta; no second alpha


def test_preview_decides_like_resolution_and_writes_nothing(world: World) -> None:
    ours = world.start_directly(world.wire("alpha"), channel="alpha")
    world.start_directly("someone-else", channel="beta", uid="7777")
    state = interrupted_start(world, "alpha")
    state = interrupted_start(world, "beta")
    before = world.store.path.read_bytes()
    settlements = preview(world, state)
    assert world.store.path.read_bytes() == before
    assert [(s.entry.name, s.outcome) for s in settlements] == [
        ("alpha", "adopt"),
        ("beta", "forget"),
    ]
    assert f"apply will adopt agent {ours}" in settlements[0].preview()
    assert "apply will forget it" in settlements[1].preview()


# -- 409 on join -------------------------------------------------------------------------------


def test_join_conflict_on_the_first_attempt_fails_and_adopts_nothing(world: World) -> None:
    """Another state (a copy of this project) runs our wire name: it is not ours to take."""
    holder = world.start_directly(world.wire("alpha"), channel="alpha")
    _, result, state = world.apply(desired(agent("alpha")))
    (failure,) = result.failed
    assert failure.reason == "TaskConflict"
    assert f"held by agent {holder}" in failure.detail and "nothing was adopted" in failure.detail
    assert state.agents == {} and state.journal == []
    assert [a["agent_id"] for a in world.agents("RUNNING")] == [holder]


def test_join_conflict_names_the_holder_the_409_reports_even_without_other_evidence(
    world: World,
) -> None:
    holder = world.start_directly(world.wire("alpha"), channel="alpha")
    block_turns(world)
    _, result, state = world.apply(desired(agent("alpha")))
    (failure,) = result.failed
    assert f"held by agent {holder}" in failure.detail and "nothing was adopted" in failure.detail
    assert state.agents == {} and state.journal == []
    world.control("DELETE", "/_sandbox/faults/rules")


def test_retried_join_conflict_adopts_the_agent_its_lost_attempt_started(world: World) -> None:
    world.start_directly("someone-else", channel="alpha", uid="7777")
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("alpha"), "action": "drop_after", "times": 1},
    )
    _, result, state = world.apply(desired(agent("alpha")))
    assert result.ok, result.failed
    (started,) = result.results
    assert "adopted the running agent after 409 TaskConflict" in started.detail
    ours = [a for a in world.agents("RUNNING") if a["name"] == world.wire("alpha")]
    assert [state.agents["alpha"].agent_id] == [a["agent_id"] for a in ours]


def test_retried_join_conflict_without_evidence_adopts_nothing(world: World) -> None:
    world.start_directly("someone-else", channel="alpha", uid="7777")
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("alpha"), "action": "drop_after", "times": 1},
    )
    block_turns(world)
    _, result, state = world.apply(desired(agent("alpha")))
    (failure,) = result.failed
    assert failure.reason == "TaskConflict" and "nothing was adopted" in failure.detail
    assert state.agents == {}
    # The lost attempt may have started alpha: the journal keeps it for the next run.
    assert [p.wire_name for p in state.journal] == [world.wire("alpha")]
    world.control("DELETE", "/_sandbox/faults/rules")
    doc, _ = resolve(world, state)
    ours = [a for a in world.agents("RUNNING") if a["name"] == world.wire("alpha")]
    assert [doc.agents["alpha"].agent_id] == [a["agent_id"] for a in ours]
