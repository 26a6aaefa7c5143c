"""Rename (``renamed_from``) and forget (``lifecycle.on_delete: forget``): state edits only.

Neither calls the engine: the agent keeps running with its id; only the record moves or goes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.models import DesiredAgent
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _with(base: DesiredAgent, **fields: object) -> DesiredAgent:
    return base.model_copy(update=fields)


def _engine_calls(world: World) -> int:
    return len(world.control("GET", "/_sandbox/requests")["requests"])


def test_renamed_from_moves_the_record_without_restarting_the_agent(world: World) -> None:
    world.apply(desired(agent("support", channel="help")))
    agent_id = world.store.load().agents["support"].agent_id
    want = desired(_with(agent("help-desk", channel="help"), renamed_from="support"))
    plan, _ = world.plan(want)
    assert [(a.name, a.action, a.reason) for a in plan.agents] == [
        ("help-desk", "rename", "support -> help-desk (renamed, no restart)")
    ]
    calls = _engine_calls(world)

    _, result, state = world.apply(want)

    assert result.ok and result.count("rename") == 1
    assert _engine_calls(world) - calls == 1  # the refresh before planning, nothing else
    assert list(state.agents) == ["help-desk"] and state.agents["help-desk"].agent_id == agent_id
    assert [a["agent_id"] for a in world.agents("RUNNING")] == [agent_id]
    assert not world.plan(want)[0].has_changes


def test_a_renamed_agent_with_other_changes_is_renamed_first_then_changed(world: World) -> None:
    world.apply(desired(agent("support", channel="help")))
    want = desired(
        _with(agent("help-desk", channel="help", tts_vendor="cartesia"), renamed_from="support")
    )
    plan, _ = world.plan(want)
    assert plan.agents[0].action == "rename"
    assert "then restart on the next plan" in plan.agents[0].reason
    world.apply(want)
    follow_up, _ = world.plan(want)
    assert [(a.name, a.action) for a in follow_up.agents] == [("help-desk", "restart")]


def test_renamed_from_is_ignored_once_the_old_name_is_declared_again(world: World) -> None:
    world.apply(desired(agent("support", channel="help")))
    want = desired(
        agent("support", channel="help"),
        _with(agent("help-desk", channel="desk"), renamed_from="support"),
    )
    plan, _ = world.plan(want)
    assert [(a.name, a.action) for a in plan.agents] == [
        ("help-desk", "start"),
        ("support", "no-op"),
    ]


def test_on_delete_forget_drops_the_record_and_leaves_the_agent_running(world: World) -> None:
    world.apply(desired(_with(agent("legacy"), on_delete="forget"), agent("support")))
    legacy_id = world.store.load().agents["legacy"].agent_id
    assert world.store.load().agents["legacy"].on_delete == "forget"

    plan, result, state = world.apply(desired(agent("support")))

    assert [(a.name, a.action) for a in plan.agents] == [("legacy", "forget"), ("support", "no-op")]
    assert result.ok and result.count("forget") == 1
    assert "legacy" not in state.agents
    assert legacy_id in {a["agent_id"] for a in world.agents("RUNNING")}


def test_on_delete_forget_is_recorded_by_a_state_only_update(world: World) -> None:
    world.apply(desired(agent("legacy")))
    want = desired(_with(agent("legacy"), on_delete="forget"))
    plan, _ = world.plan(want)
    assert [(a.action, a.reason) for a in plan.agents] == [
        ("update", "lifecycle.on_delete: forget recorded in state (no engine call)")
    ]
    world.apply(want)
    assert world.store.load().agents["legacy"].on_delete == "forget"


def test_destroy_stops_a_forget_agent_all_the_same(world: World) -> None:
    world.apply(desired(_with(agent("legacy"), on_delete="forget")))
    plan, result, state = world.apply(desired(), destroy=True)
    assert [a.action for a in plan.agents] == ["stop"] and result.ok
    assert state.agents == {} and world.agents("RUNNING") == []
