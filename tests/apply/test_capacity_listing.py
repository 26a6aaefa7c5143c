"""The capacity check counts the plan's refresh instead of listing again when that refresh is
fresh enough (made under this run's lock, seconds ago, nothing stopped or started since), and
still refuses starts over the cap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from reconciler.apply.context import ActiveListing
from reconciler.apply.starts import LISTING_REUSE_S
from reconciler.models import Settings
from reconciler.project import Project
from reconciler.project.project import Hooks
from tests.apply.harness import MANIFEST_TEMPLATE, agent, desired, make_world

MANIFEST = MANIFEST_TEMPLATE


def write_manifests(directory: Path, names: list[str]) -> None:
    (directory / "agents.d").mkdir(exist_ok=True)
    for name in names:
        (directory / "agents.d" / f"{name}.yaml").write_text(MANIFEST.format(name=name))


def plan_and_apply(project: Project, calls: list[str]) -> tuple[int, int]:
    """Plan under the lock and apply the plan with what it learned (its outcome's listing);
    the number of ``list`` calls of the plan, and of starts."""
    hooks = Hooks(on_engine_call=lambda operation, _status: calls.append(operation))

    async def go() -> tuple[int, int]:
        outcome = await project.plan(resolve=True, hooks=hooks)
        planned = calls.count("list")
        result, _ = await project.apply(
            outcome.plan, outcome.desired, outcome.state, hooks=hooks, listing=outcome.listing
        )
        return planned, result.count("start")

    with project.lock("apply", 0):
        return asyncio.run(go())


def test_an_apply_of_new_agents_lists_the_engine_once(tmp_path: Path) -> None:
    write_manifests(tmp_path, ["a", "b", "c"])
    project = Project(Settings(project_dir=tmp_path, max_concurrent_agents=10), {})
    calls: list[str] = []
    planned, started = plan_and_apply(project, calls)
    assert started == 3
    assert planned == 1 and calls.count("list") == 1  # the capacity check counted the refresh


def test_the_listing_travels_in_the_plan_outcome_not_in_the_project(tmp_path: Path) -> None:
    """The plan's refresh is handed to the apply as a value: an apply given no listing lists
    again, whatever plan the project made before."""
    write_manifests(tmp_path, ["a"])
    project = Project(Settings(project_dir=tmp_path, max_concurrent_agents=10), {})
    calls: list[str] = []
    hooks = Hooks(on_engine_call=lambda operation, _status: calls.append(operation))

    async def go() -> None:
        outcome = await project.plan(resolve=True, hooks=hooks)
        assert outcome.listing is not None and outcome.listing.agent_ids == frozenset()
        await project.apply(outcome.plan, outcome.desired, outcome.state, hooks=hooks)

    with project.lock("apply", 0):
        asyncio.run(go())
    assert calls.count("list") == 2
    assert not any(isinstance(v, ActiveListing) for v in vars(project).values())


@pytest.mark.parametrize("fresh", [True, False])
def test_a_fresh_listing_is_counted_and_an_old_one_is_not(tmp_path: Path, fresh: bool) -> None:
    world = make_world(tmp_path, pcu_limit=100)
    stale = 0.0 if fresh else LISTING_REUSE_S + 1
    crowded = ActiveListing(
        frozenset(f"X{i}" for i in range(20)), time.monotonic() - stale
    )  # the cap (20) is full as far as the listing says
    _, result, _ = world.apply(desired(agent("a")), active_listing=crowded)
    assert result.count("start") == (0 if fresh else 1)
