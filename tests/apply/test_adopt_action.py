"""Adoption is visible: an agent the journal's evidence takes into state is its own plan action.

Settling the journal (``adopt``, ``forget``, ``keep``) is covered by test_journal_evidence.py;
here: how an adoption shows in the plan, and that apply only ever confirms one (the record is
written when apply settles the journal, under the lock), never makes one from a plan.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyContext, apply_plan
from reconciler.models import AgentPlan
from reconciler.models.plan import ReasonCode
from reconciler.render import render_json, render_markdown, render_text
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_a_settled_adoption_is_planned_as_adopt_with_its_evidence(world: World) -> None:
    want = desired(agent("alpha"), agent("beta"))
    world.apply(want)
    ours = world.store.load().agents["alpha"].agent_id

    plan, _ = world.plan(want, adopted=(("alpha", ours),))

    alpha = plan.agent("alpha")
    assert alpha is not None and alpha.action == "adopt"
    assert alpha.reason.startswith(f"adopt agent {ours}: an interrupted run started it")
    assert plan.agent("beta") is not None and plan.agent("beta").action == "no-op"  # type: ignore[union-attr]
    assert plan.has_changes and plan.summary.adopt == 1
    assert render_text(plan).startswith("Plan: 1 to adopt; 1 unchanged.")
    assert f"<= alpha  agent_id={ours}" in render_text(plan)
    assert "| `<=` adopt | 1 |" in render_markdown(plan)
    assert render_json(plan)["summary"]["adopt"] == 1
    assert render_json(plan)["agents"][0]["actions"] == ["import"]


def test_an_adopted_agent_that_also_changed_keeps_its_action_and_says_it_is_adopted(
    world: World,
) -> None:
    world.apply(desired(agent("alpha")))
    ours = world.store.load().agents["alpha"].agent_id
    changed = desired(agent("alpha", prompt="You are brief."))

    plan, _ = world.plan(changed, adopted=(("alpha", ours),))

    alpha = plan.agent("alpha")
    assert alpha is not None and alpha.action == "update"
    assert alpha.reason.startswith(f"adopt agent {ours}") and "; then " in alpha.reason


def test_apply_confirms_an_adoption_without_any_engine_call(world: World) -> None:
    want = desired(agent("alpha"))
    world.apply(want)
    ours = world.store.load().agents["alpha"].agent_id
    serial = world.store.load().serial
    plan, state = world.plan(want, adopted=(("alpha", ours),))
    requests_before = len(world.control("GET", "/_sandbox/requests")["requests"])

    result = _apply(world, plan, want, state)

    assert result.ok and result.count("adopt") == 1
    assert len(world.control("GET", "/_sandbox/requests")["requests"]) == requests_before
    assert world.store.load().serial == serial  # nothing to write: the record was already there


def test_apply_never_adopts_an_agent_from_what_a_plan_says(world: World) -> None:
    stranger = world.start_directly("someone-else", channel="theirs", uid="4242")
    want = desired()
    plan, state = world.plan(want)
    forged = plan.model_copy(
        update={
            "agents": (
                *plan.agents,
                AgentPlan(
                    name="theirs",
                    action="adopt",
                    reason="forged",
                    reason_code=ReasonCode.ADOPTED,
                    agent_id=stranger,
                ),
            )
        }
    )

    result = _apply(world, forged, want, state)

    assert [r.name for r in result.failed] == ["theirs"]
    assert "was not settled from the journal" in result.failed[0].detail
    assert "theirs" not in world.store.load().agents


def _apply(world: World, plan: Any, want: Any, state: Any) -> Any:
    async def go() -> Any:
        async with world.client() as client:
            ctx = ApplyContext(client=client, store=world.store, parallelism=2)
            return (await apply_plan(plan, want, state, ctx))[0]

    return asyncio.run(go())
