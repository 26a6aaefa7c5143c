"""A restart left half done (its old agent stopped by the apply, its new one not started) is
finished by the next apply, whatever the agent's ``restart_policy``: the exit is the tool's own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.drift import build_drift
from reconciler.models import DesiredSet
from reconciler.models.plan import ReasonCode
from tests.apply.harness import World, agent, desired, make_world

POLICIES = ["always", "on-failure", "never"]


def _with_policy(want: DesiredSet, policy: str) -> DesiredSet:
    agents = {n: a.model_copy(update={"restart_policy": policy}) for n, a in want.agents.items()}
    return DesiredSet(agents=agents)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, stop_delay_s=0.02)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_restart_whose_start_failed_is_started_by_the_next_plan_whatever_its_restart_policy(
    world: World, policy: str
) -> None:
    world.apply(_with_policy(desired(agent("support")), policy))
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("support", 2), "status": 400},
    )
    changed = _with_policy(desired(agent("support", tts_vendor="cartesia")), policy)
    _, result, state = world.apply(changed)
    assert result.left_stopped == ["support"]
    world.control("DELETE", "/_sandbox/faults/rules")

    plan, _ = world.plan(changed)

    (action,) = plan.agents
    assert action.action == "start", action.reason
    assert action.reason_code == ReasonCode.RESTART_UNFINISHED
    assert action.reason.startswith("restart unfinished: "), action.reason
    report = build_drift(changed, state, world.live(state), now=time.time())
    (item,) = report.items
    assert item.cause == "restart-unfinished" and not item.expected, item

    _, result, state = world.apply(changed)
    assert result.ok and result.count("start") == 1
    assert not state.agents["support"].restarting
    plan, _ = world.plan(changed)
    assert [a.action for a in plan.agents] == ["no-op"]


def test_a_restart_whose_stop_failed_leaves_no_mark_on_its_record(world: World) -> None:
    want = _with_policy(desired(agent("support")), "never")
    world.apply(want)
    world.control("POST", "/_sandbox/faults/rules", {"route": "leave", "status": 400})

    _, result, state = world.apply(_with_policy(desired(agent("support", tts_vendor="x")), "never"))

    assert [r.name for r in result.failed] == ["support"]
    assert not state.agents["support"].restarting
    assert "restarting" not in state.model_dump(mode="json")["agents"]["support"]
