"""Apply against the in-process sandbox: phases, state after every action, adoption, failures."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyEvent
from reconciler.engine import EngineClient
from reconciler.errors import PlanError
from reconciler.models.plan import ReasonCode
from reconciler.project.planchecks import ensure_applicable
from tests.apply.harness import World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_apply_starts_new_agents_and_records_each_in_state(world: World) -> None:
    want = desired(agent("alpha"), agent("beta"), agent("gamma"))
    plan, result, state = world.apply(want)
    assert [a.action for a in plan.agents] == ["start"] * 3
    assert result.ok and result.count("start") == 3
    assert sorted(state.agents) == ["alpha", "beta", "gamma"]
    running = world.agents("RUNNING")
    assert sorted(a["name"] for a in running) == [
        world.wire("alpha"),
        world.wire("beta"),
        world.wire("gamma"),
    ]
    assert {a["agent_id"] for a in running} == {r.agent_id for r in state.agents.values()}
    assert state.journal == []


def test_replanning_after_apply_shows_no_changes(world: World) -> None:
    want = desired(agent("alpha"), agent("beta"))
    world.apply(want)
    plan, _ = world.plan(want)
    assert not plan.has_changes
    assert [a.reason for a in plan.agents] == ["up to date", "up to date"]


def test_state_is_written_after_every_engine_action(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, list[str]]] = []
    original_join = EngineClient.join

    async def join(self: EngineClient, name: str, *args: Any, **kwargs: Any) -> Any:
        on_disk = world.store.load()  # what a crash right now would leave
        sent.append((name, [p.wire_name for p in on_disk.journal]))
        return await original_join(self, name, *args, **kwargs)

    class DurableEvents(list[ApplyEvent]):
        def append(self, event: ApplyEvent) -> None:
            if event.phase == "start" and event.status == "done":
                assert event.name in world.store.load().agents  # reported only once recorded
            super().append(event)

    monkeypatch.setattr(EngineClient, "join", join)
    world.events = DurableEvents()
    world.apply(desired(agent("alpha"), agent("beta"), agent("gamma")))
    # every join went out only once its write-ahead entry was on disk
    assert sorted(name for name, _ in sent) == [
        world.wire("alpha"),
        world.wire("beta"),
        world.wire("gamma"),
    ]
    assert all(name in pending for name, pending in sent)
    assert len([e for e in world.events if e.status == "done"]) == 3
    state = world.store.load()
    assert sorted(state.agents) == ["alpha", "beta", "gamma"] and state.journal == []
    # changes that complete together share a write (group commit): never more than one each
    assert 2 <= world.writes <= 6


def test_prompt_edit_updates_in_place_and_keeps_the_agent_id(world: World) -> None:
    _, _, before = world.apply(desired(agent("alpha")))
    plan, result, after = world.apply(desired(agent("alpha", prompt="Be brief.")))
    assert plan.agents[0].action == "update"
    assert result.ok and result.count("update") == 1
    assert after.agents["alpha"].agent_id == before.agents["alpha"].agent_id
    (view,) = world.agents("RUNNING")
    (update,) = view["updates"]
    body = update["body"]["properties"]
    assert body["llm"]["system_messages"] == [{"role": "system", "content": "Be brief."}]
    assert not world.plan(desired(agent("alpha", prompt="Be brief.")))[0].has_changes


def test_tts_vendor_change_restarts_with_a_new_agent_and_stops_the_old(world: World) -> None:
    _, _, before = world.apply(desired(agent("alpha")))
    plan, result, after = world.apply(desired(agent("alpha", tts_vendor="elevenlabs")))
    (action,) = plan.agents
    assert action.action == "restart"
    assert "properties.tts.vendor" in action.restart_fields
    assert result.ok and result.count("restart") == 1
    old, new = before.agents["alpha"], after.agents["alpha"]
    assert new.agent_id != old.agent_id
    assert new.generation == 2 and new.wire_name == world.wire("alpha", 2)
    statuses = {a["agent_id"]: a["status"] for a in world.agents()}
    assert statuses[old.agent_id] == "STOPPED"
    assert statuses[new.agent_id] == "RUNNING"


def test_agent_removed_from_manifests_is_stopped_and_forgotten(world: World) -> None:
    world.apply(desired(agent("alpha"), agent("beta")))
    plan, result, state = world.apply(desired(agent("alpha")))
    assert [(a.name, a.action) for a in plan.agents] == [("alpha", "no-op"), ("beta", "stop")]
    assert result.ok and result.count("stop") == 1
    assert sorted(state.agents) == ["alpha"]
    assert [a["name"] for a in world.agents("RUNNING")] == [world.wire("alpha")]


def test_agent_that_exited_on_the_engine_is_started_again(world: World) -> None:
    _, _, state = world.apply(desired(agent("alpha")))
    world.control(
        "POST",
        f"/_sandbox/agents/{state.agents['alpha'].agent_id}/crash",
        {"message": "LLM unreachable"},
    )
    plan, result, after = world.apply(desired(agent("alpha")))
    (action,) = plan.agents
    assert action.action == "start"
    assert action.reason.startswith("failed:") and "LLM unreachable" in action.reason
    assert result.ok
    assert after.agents["alpha"].generation == 2


def test_a_failing_agent_does_not_stop_the_others(world: World) -> None:
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("beta"), "status": 400, "reason": "InvalidFieldValue"},
    )
    _, result, state = world.apply(desired(agent("alpha"), agent("beta"), agent("gamma")))
    assert not result.ok
    (failure,) = result.failed
    assert failure.name == "beta" and failure.reason == "InvalidFieldValue"
    assert sorted(state.agents) == ["alpha", "gamma"]
    assert state.journal == []


def test_retries_through_injected_503s_and_429s(world: World) -> None:
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("alpha"), "status": 503, "times": 2},
    )
    world.control(
        "POST",
        "/_sandbox/faults/rules",
        {"route": "join", "name": world.wire("beta"), "status": 429, "times": 1},
    )
    _, result, state = world.apply(desired(agent("alpha"), agent("beta")), max_attempts=4)
    assert result.ok
    assert sorted(state.agents) == ["alpha", "beta"]
    assert len(world.agents("RUNNING")) == 2


def test_state_holds_no_secret_value(world: World) -> None:
    world.apply(desired(agent("alpha"), agent("beta")))
    text = world.store.path.read_text()
    assert "sk-secret-value-123" not in text
    assert "tts-secret-key-456" not in text
    assert "$sensitive" in text


def test_a_plan_over_the_capacity_cap_carries_the_overrun_and_cannot_be_applied(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, pcu_limit=50)
    want = desired(*(agent(f"a{i}") for i in range(3)))
    plan, _ = world.plan(want, max_concurrent_agents=2)
    assert [a.action for a in plan.agents] == ["start", "start", "start"]
    assert len(plan.errors) == 1
    assert re.fullmatch(r"3 agents would run; the cap for app .* is 2 \(.*\)", plan.errors[0])
    with pytest.raises(PlanError, match="this plan cannot be applied: 3 agents would run"):
        ensure_applicable(plan)
    assert world.agents() == []


def test_the_capacity_check_counts_agents_running_outside_the_project(tmp_path: Path) -> None:
    world = make_world(tmp_path, pcu_limit=50)
    world.start_directly(world.wire("stray"), channel="x", uid="1")
    plan, _ = world.plan(desired(agent("a0")), max_concurrent_agents=1)
    assert plan.errors and plan.errors[0].startswith(
        "2 agents would run (including 1 not managed by this project)"
    )


def test_a_stop_request_starts_nothing_new_and_leaves_no_entry_written_ahead(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.apply import ApplyContext, apply_plan
    from reconciler.engine import mint_agent_token
    from tests.apply.harness import APP_ID, CERT

    want = desired(*(agent(f"a{i}") for i in range(8)))
    plan, state = world.plan(want)
    answered: list[str] = []
    original_join = EngineClient.join

    async def join(self: EngineClient, name: str, *args: Any, **kwargs: Any) -> Any:
        result = await original_join(self, name, *args, **kwargs)
        answered.append(name)
        return result

    monkeypatch.setattr(EngineClient, "join", join)

    async def go() -> Any:
        async with world.client() as client:
            ctx = ApplyContext(
                client=client,
                store=world.store,
                mint_token=lambda a, now: mint_agent_token(
                    APP_ID, CERT, a.channel, a.agent_rtc_uid, 86400, now, False
                ),
                parallelism=2,
                should_stop=lambda: len(answered) >= 2,  # Ctrl-C once two joins are answered
            )
            return await apply_plan(plan, want, state, ctx)

    result, final = asyncio.run(go())
    assert result.interrupted
    on_disk = world.store.load()
    assert on_disk.journal == []  # entries written ahead for joins never sent are gone again
    assert sorted(r.wire_name for r in on_disk.agents.values()) == sorted(answered)
    assert len(answered) < 8
    running = sorted(a["name"] for a in world.agents("RUNNING"))
    assert running == sorted(answered)
    assert final.journal == [] and sorted(final.agents) == sorted(on_disk.agents)


def test_starts_into_one_channel_never_leave_two_joins_unresolved(world: World) -> None:
    """With several agents in one channel, at most one join there is ever unrecorded, so a run
    killed mid-join leaves an entry the next run can match to exactly one agent."""
    seen: list[int] = []
    real_write = world.store.write

    def spying_write(doc):  # type: ignore[no-untyped-def]
        per_channel: dict[str, int] = {}
        for entry in doc.journal:
            per_channel[entry.channel] = per_channel.get(entry.channel, 0) + 1
        seen.append(max(per_channel.values(), default=0))
        return real_write(doc)

    world.store.write = spying_write  # type: ignore[method-assign]
    want = desired(*(agent(f"a{i}", channel="shared") for i in range(6)))
    _, result, state = world.apply(want)
    assert result.ok and len(state.agents) == 6
    assert max(seen) == 1


def test_a_join_with_unknown_outcome_stops_further_starts_in_that_channel(world: World) -> None:
    world.control(
        "POST", "/_sandbox/faults/rules", {"route": "join", "name": world.wire("a0"), "status": 503}
    )
    want = desired(
        agent("a0", channel="shared"), agent("a1", channel="shared"), agent("b0", channel="b")
    )
    _, result, state = world.apply(want, max_attempts=2)
    reasons = {r.name: r.reason for r in result.failed}
    assert reasons["a0"] == "ServiceUnavailable"
    assert reasons["a1"] == "UnresolvedJoin"
    assert "b0" in state.agents
    assert [p.name for p in state.journal] == ["a0"]


def test_apply_never_stops_an_agent_id_its_state_does_not_record(world: World) -> None:
    from reconciler.apply import ApplyContext, apply_plan
    from reconciler.models import AgentPlan

    foreign = world.start_directly("someone-else", channel="theirs", uid="4242")
    plan, state = world.plan(desired())
    forged = plan.model_copy(
        update={
            "agents": (
                *plan.agents,
                AgentPlan(
                    name="theirs",
                    action="stop",
                    reason="forged",
                    reason_code=ReasonCode.REMOVED,
                    agent_id=foreign,
                ),
            )
        }
    )

    async def go() -> Any:
        async with world.client() as client:
            ctx = ApplyContext(client=client, store=world.store, parallelism=2)
            return await apply_plan(forged, desired(), state, ctx)

    asyncio.run(go())
    assert [a["agent_id"] for a in world.agents("RUNNING")] == [foreign]
