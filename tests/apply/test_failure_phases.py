"""A failed step's event names the step that was attempted: its ``action`` is the planned
action and its ``phase`` the call that failed (``start``, ``update``, ``stop``; a restart's
``stop`` or ``start``), never another phase's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _refuse(world: World, route: str, **match: Any) -> None:
    rule = {"route": route, "status": 400, "reason": "InvalidRequest", **match}
    world.control("POST", "/_sandbox/faults/rules", rule)


def _failed(world: World) -> list[tuple[str, str, str]]:
    return [(e.name, e.action, e.phase) for e in world.events if e.status == "failed"]


def test_a_failed_start_reports_phase_start(world: World) -> None:
    _refuse(world, "join")
    world.apply(desired(agent("alpha")))
    assert _failed(world) == [("alpha", "start", "start")]


def test_a_failed_update_in_place_reports_phase_update(world: World) -> None:
    world.apply(desired(agent("alpha")))
    world.events.clear()
    _refuse(world, "update")
    world.apply(desired(agent("alpha", prompt="Be brief.")))
    assert _failed(world) == [("alpha", "update", "update")]


def test_a_failed_stop_reports_phase_stop(world: World) -> None:
    world.apply(desired(agent("alpha"), agent("beta")))
    world.events.clear()
    _refuse(world, "leave")
    world.apply(desired(agent("beta")))
    assert _failed(world) == [("alpha", "stop", "stop")]


def test_a_restart_whose_stop_fails_reports_phase_stop(world: World) -> None:
    world.apply(desired(agent("alpha")))
    world.events.clear()
    _refuse(world, "leave")
    world.apply(desired(agent("alpha", tts_vendor="elevenlabs")))
    assert _failed(world) == [("alpha", "restart", "stop")]


def test_a_restart_whose_start_fails_reports_phase_start(world: World) -> None:
    world.apply(desired(agent("alpha")))
    world.events.clear()
    _refuse(world, "join", name=world.wire("alpha", 2))
    world.apply(desired(agent("alpha", tts_vendor="elevenlabs")))
    assert _failed(world) == [("alpha", "restart", "start")]
