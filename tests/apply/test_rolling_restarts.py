"""Rolling restarts: ``max_unavailable`` bounds how many managed agents one apply has down."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import ApplyEvent
from reconciler.models.rollout import max_unavailable_problem, resolve_max_unavailable
from tests.apply.harness import World, agent, desired, make_world

NAMES = [f"agent-{i:02d}" for i in range(8)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, stop_delay_s=0.02)


def most_restarts_down(events: list[ApplyEvent]) -> int:
    """The most restarts between their stop's begin and their start's end at any moment."""
    down = most = 0
    for event in events:
        if event.action != "restart":
            continue
        if event.phase == "stop" and event.status == "begin":
            down += 1
            most = max(most, down)
        elif event.phase == "start" and event.status in ("done", "failed"):
            down -= 1
    return most


def most_in_phase(events: list[ApplyEvent], action: str, phase: str) -> int:
    busy = most = 0
    for event in events:
        if event.action == action and event.phase == phase:
            if event.status == "begin":
                busy += 1
                most = max(most, busy)
            elif event.status in ("done", "failed"):
                busy -= 1
    return most


def test_restarts_roll_no_more_than_max_unavailable_down_at_once(world: World) -> None:
    world.apply(desired(*(agent(n) for n in NAMES)), parallelism=8)
    before = {a["agent_id"] for a in world.agents("RUNNING")}
    world.events.clear()

    plan, result, state = world.apply(
        desired(*(agent(n, tts_vendor="cartesia") for n in NAMES)),
        parallelism=8,
        max_unavailable=3,
    )

    assert plan.max_unavailable == 3
    assert [a.action for a in plan.agents] == ["restart"] * 8
    assert result.ok and result.count("restart") == 8
    assert most_restarts_down(world.events) == 3  # waves of 3, 3 and 2
    running = world.agents("RUNNING")
    assert len(running) == 8 and not {a["agent_id"] for a in running} & before
    assert {r.agent_id for r in state.agents.values()} == {a["agent_id"] for a in running}


def test_each_restart_is_started_before_the_next_wave_is_stopped(world: World) -> None:
    world.apply(desired(*(agent(n) for n in NAMES[:3])))
    world.events.clear()

    world.apply(desired(*(agent(n, tts_vendor="cartesia") for n in NAMES[:3])), max_unavailable=1)

    steps = [(e.name, e.phase) for e in world.events if e.status == "done"]
    assert steps == [(n, p) for n in NAMES[:3] for p in ("stop", "start")]


def test_stops_of_removed_agents_and_starts_of_new_ones_are_not_rolled(world: World) -> None:
    world.apply(desired(*(agent(n) for n in NAMES[:4])), parallelism=4)
    world.events.clear()

    _, result, _ = world.apply(
        desired(*(agent(n) for n in NAMES[4:])), parallelism=4, max_unavailable=1
    )

    assert result.ok and result.count("stop") == 4 and result.count("start") == 4
    assert most_in_phase(world.events, "stop", "stop") == 4
    assert most_in_phase(world.events, "start", "start") > 1


def test_a_stop_request_begins_no_further_wave_and_finishes_the_current_one(
    world: World,
) -> None:
    world.apply(desired(*(agent(n) for n in NAMES[:4])))
    old = {r.name: r.agent_id for r in world.store.load().agents.values()}
    world.events.clear()

    def stop_after_first_stop() -> bool:
        return any(e.phase == "stop" and e.status == "done" for e in world.events)

    _, result, state = world.apply(
        desired(*(agent(n, tts_vendor="cartesia") for n in NAMES[:4])),
        max_unavailable=2,
        should_stop=stop_after_first_stop,
    )

    assert result.interrupted
    restarted = sorted(r.name for r in result.results if r.action == "restart" and r.ok)
    assert restarted == NAMES[:2]
    assert result.not_attempted == NAMES[2:4]
    assert result.left_stopped == []
    for name in NAMES[2:4]:
        assert state.agents[name].agent_id == old[name]
    assert len(world.agents("RUNNING")) == 4


@pytest.mark.parametrize(
    ("setting", "managed", "count"),
    [(3, 12, 3), ("25%", 12, 3), ("25%", 3, 1), ("50%", 5, 2), ("100%", 7, 7), ("4", 2, 4),
     ("10%", 0, 1)],
)  # fmt: skip
def test_max_unavailable_resolves_to_a_count_of_at_least_one(
    setting: int | str, managed: int, count: int
) -> None:
    assert resolve_max_unavailable(setting, managed) == count


@pytest.mark.parametrize("bad", [0, -1, "0", "0%", "101%", "abc", "2.5", True, 1.5, None])
def test_max_unavailable_rejects_what_is_neither_a_count_nor_a_percentage(bad: object) -> None:
    assert max_unavailable_problem(bad) is not None


def test_rotations_ahead_of_the_runtime_cap_roll_oldest_agent_first(world: World) -> None:
    want = desired(*(agent(n) for n in NAMES[:3]))
    world.apply(want)
    doc = world.store.load()
    ages = {NAMES[0]: 300.0, NAMES[1]: 100.0, NAMES[2]: 900.0}  # seconds since started
    agents = {
        name: record.model_copy(update={"started_at": record.started_at - ages[name]})
        for name, record in doc.agents.items()
    }
    world.store.write(doc.model_copy(update={"agents": agents}))
    world.events.clear()

    plan, result, _ = world.apply(want, max_unavailable=1, rotate_before_cap_s=72 * 3600 - 1)

    assert all(a.is_rotation for a in plan.agents), [a.reason for a in plan.agents]
    assert plan.agents[0].reason.startswith("rotate (reaches the 72 h cap in ")
    assert result.ok and result.count("restart") == 3
    stopped = [e.name for e in world.events if e.phase == "stop" and e.status == "begin"]
    assert stopped == [NAMES[2], NAMES[0], NAMES[1]]  # oldest first
    assert most_restarts_down(world.events) == 1


def test_a_failed_restart_ends_the_rollout_and_later_waves_keep_running_their_old_agents(
    world: World,
) -> None:
    names = NAMES[:6]
    world.apply(desired(*(agent(n) for n in names)))
    old = {r.name: r.agent_id for r in world.store.load().agents.values()}
    failing = names[2]
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire(failing, 2), "status": 400},
    )
    world.events.clear()
    changed = desired(*(agent(n, tts_vendor="cartesia") for n in names))

    _, result, state = world.apply(changed, max_unavailable=2)

    assert not result.ok
    assert sorted(r.name for r in result.results if r.action == "restart" and r.ok) == [
        names[0],
        names[1],
        names[3],
    ]
    assert [r.name for r in result.failed] == [failing]
    assert result.left_stopped == [failing]
    assert result.not_attempted == names[4:]  # the wave after the failure never began
    assert result.rollout_halted_by == [failing]
    for name in names[4:]:
        assert state.agents[name].agent_id == old[name]
    running = {a["agent_id"] for a in world.agents("RUNNING")}
    assert {old[n] for n in names[4:]} <= running
    assert world.store.load() == state

    world.control("DELETE", "/_sandbox/faults/rules")
    plan, _ = world.plan(changed)
    assert {a.name: a.action for a in plan.agents if a.action != "no-op"} == {
        failing: "start",
        names[4]: "restart",
        names[5]: "restart",
    }


def test_each_wave_is_up_on_the_engine_before_the_next_wave_is_stopped(tmp_path: Path) -> None:
    world = make_world(tmp_path, stop_delay_s=0.02, start_delay_s=0.05)
    names = NAMES[:4]
    world.apply(desired(*(agent(n) for n in names)), ready_timeout_s=30)
    world.events.clear()

    _, result, _ = world.apply(
        desired(*(agent(n, tts_vendor="cartesia") for n in names)),
        max_unavailable=2,
        ready_timeout_s=30,
    )

    assert result.ok and result.count("restart") == 4
    steps = [(e.name, e.phase, e.status) for e in world.events]
    first_wave_up = max(steps.index((n, "wait", "done")) for n in names[:2])
    second_wave_down = min(steps.index((n, "stop", "begin")) for n in names[2:])
    assert first_wave_up < second_wave_down
    assert len(world.agents("RUNNING")) + len(world.agents("STARTING")) == 4


def test_a_restart_that_never_comes_up_ends_the_rollout(tmp_path: Path) -> None:
    world = make_world(tmp_path, stop_delay_s=0.02)
    names = NAMES[:4]
    world.apply(desired(*(agent(n) for n in names)))
    old = {r.name: r.agent_id for r in world.store.load().agents.values()}
    world.events.clear()
    world.control("POST", "/_sandbox/settings", {"start_delay_s": 3600})

    _, result, state = world.apply(
        desired(*(agent(n, tts_vendor="cartesia") for n in names)),
        max_unavailable=2,
        ready_timeout_s=0.2,
    )

    assert sorted(r.name for r in result.failed) == names[:2]
    assert {r.reason for r in result.failed} == {"NotReady"}
    assert result.not_attempted == names[2:]
    for name in names[2:]:
        assert state.agents[name].agent_id == old[name]
