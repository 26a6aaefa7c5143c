"""``drift_live``: what drift asks the engine. A clean engine costs what a plan's refresh costs;
channel lists are made only when an unrecorded agent is active."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from reconciler.drift import build_drift
from reconciler.models import DesiredSet, LiveStatus, StateDoc
from reconciler.project.operations import drift_live
from tests.apply.harness import World, agent, desired, make_world


def _live(world: World, want: DesiredSet, state: StateDoc) -> tuple[LiveStatus, int]:
    world.control("DELETE", "/_sandbox/requests")

    async def go() -> LiveStatus:
        async with world.client() as client:
            return await drift_live(client, want, state, time.time())

    live = asyncio.run(go())
    lists = world.control("GET", "/_sandbox/requests?route=list")["requests"]
    return live, len(lists)


def test_a_clean_engine_is_read_with_one_list_and_no_channel_lists(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    want = desired(agent("sales"), agent("support"))
    _, _, state = world.apply(want)
    live, lists = _live(world, want, state)
    assert lists == 1
    assert build_drift(want, state, live, now=time.time()).items == ()


def test_an_unrecorded_active_agent_makes_drift_list_the_managed_channels(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    want = desired(agent("sales"), agent("support"))
    _, _, state = world.apply(want)
    stray = world.start_directly("stray-1", channel="support", uid="4242")
    live, lists = _live(world, want, state)
    assert lists == 1 + 2  # the app-wide list, then one list per managed channel (not again)
    report = build_drift(want, state, live, now=time.time())
    assert [(i.kind, i.agent_id, i.channel) for i in report.items] == [
        ("unmanaged", stray, "support")
    ]
