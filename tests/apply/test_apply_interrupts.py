"""A stop request (SIGTERM, Ctrl-C) during the stop phase of restarts: every restart whose old
agent was stopped still gets its new one (within the grace period), and the result says exactly
what was done and what was left."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply import ApplyResult
from reconciler.cli.output import summary_line
from reconciler.engine import EngineClient
from reconciler.models import DesiredSet
from tests.apply.harness import World, agent, desired, make_world

N = 12


@pytest.fixture
def world(tmp_path: Any) -> World:
    return make_world(tmp_path)


def _leaves_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Agent ids of the leaves the engine has answered, in order."""
    answered: list[str] = []
    original = EngineClient.leave

    async def leave(self: EngineClient, agent_id: str) -> bool:
        result = await original(self, agent_id)
        answered.append(agent_id)
        return result

    monkeypatch.setattr(EngineClient, "leave", leave)
    return answered


def _restart_all(world: World) -> DesiredSet:
    world.apply(desired(*(agent(f"a{i:02}") for i in range(N))))
    return desired(*(agent(f"a{i:02}", tts_vendor="elevenlabs") for i in range(N)))


def test_an_interrupt_during_restart_stops_still_starts_every_agent_it_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = _restart_all(world)
    answered = _leaves_counted(monkeypatch)
    plan, result, _ = world.apply(changed, should_stop=lambda: len(answered) >= 3)
    assert [a.action for a in plan.agents] == ["restart"] * N
    assert result.interrupted
    stopped = len(answered)
    assert 3 <= stopped < N  # the stops in flight finished; no new one began
    assert result.left_stopped == []
    assert result.count("restart") == stopped
    assert len(result.not_attempted) == N - stopped
    # every agent runs: the restarted ones in their new version, the others untouched
    running = world.agents("RUNNING")
    assert len(running) == N
    second = {world.wire(f"a{i:02}", 2) for i in range(N)}
    assert sum(a["name"] in second for a in running) == stopped
    on_disk = world.store.load()
    assert on_disk.journal == []
    assert {r.agent_id for r in on_disk.agents.values()} == {a["agent_id"] for a in running}
    assert summary_line(result, "apply") == (
        f"Apply interrupted: {stopped} restarted; {N - stopped} not attempted; "
        "run reconciler apply. State is saved."
    )


def test_restarts_left_stopped_after_the_grace_period_are_named_in_the_summary(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = _restart_all(world)
    answered = _leaves_counted(monkeypatch)
    _, result, _ = world.apply(
        changed, should_stop=lambda: len(answered) >= 3, interrupt_grace_s=0.0
    )
    stopped = len(answered)
    assert result.interrupted and result.count("restart") == 0
    assert len(result.left_stopped) == stopped
    names = ", ".join(result.left_stopped)
    assert summary_line(result, "apply") == (
        f"Apply interrupted: nothing changed; {stopped} stopped for restart, not started: "
        f"{names}; {N - stopped} not attempted; run reconciler apply. State is saved."
    )
    assert len(world.agents("RUNNING")) == N - stopped


def test_an_interrupt_begins_no_new_agent_even_while_restarts_are_finished(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.apply(desired(agent("old")))
    answered = _leaves_counted(monkeypatch)
    want = desired(agent("old", tts_vendor="elevenlabs"), agent("new"))
    _, result, _ = world.apply(want, should_stop=lambda: len(answered) >= 1)
    assert result.count("restart") == 1
    assert result.not_attempted == ["new"]
    assert sorted(a["name"] for a in world.agents("RUNNING")) == [world.wire("old", 2)]


def test_the_result_of_a_completed_apply_leaves_nothing_out(world: World) -> None:
    _, result, _ = world.apply(desired(agent("a"), agent("b")))
    assert (result.left_stopped, result.not_attempted, result.aborted) == ([], [], "")
    assert isinstance(result, ApplyResult) and result.ok
