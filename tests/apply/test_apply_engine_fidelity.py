"""The reconciler against the sandbox's faithful defaults: agents whose idle timeout runs out in
an empty channel, agents whose token cannot get them into their channel, and join names held by
someone else under either name-uniqueness scope. The plan after each names what happened."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.engine import mint_agent_token
from reconciler.models import DesiredAgent
from reconciler.sandbox import accesstoken
from tests.apply.harness import APP_ID, CERT, World, agent, desired, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _with(base: DesiredAgent, **properties: object) -> DesiredAgent:
    spec = {**base.spec, "properties": {**base.spec["properties"], **properties}}
    mode = "literal" if "token" in properties else base.token_mode
    return base.model_copy(update={"spec": spec, "token_mode": mode})


def _plan_for(world: World, want: DesiredAgent) -> tuple[str, str]:
    plan, _ = world.plan(desired(want))
    (entry,) = plan.agents
    return entry.action, entry.reason


def test_plan_names_the_idle_exit_of_an_agent_alone_in_its_channel(world: World) -> None:
    want = _with(agent("alpha"), idle_timeout=5, remote_rtc_uids=["2001"])
    _, result, state = world.apply(desired(want))
    assert result.ok, result.failed
    world.control("POST", "/_sandbox/clock/advance", {"seconds": 5})
    assert world.agents("STOPPED")[0]["agent_id"] == state.agents["alpha"].agent_id
    action, reason = _plan_for(world, want)
    assert action == "start"
    assert "idle timeout" in reason


def test_an_agent_whose_remote_user_is_present_keeps_running(world: World) -> None:
    want = _with(agent("alpha"), idle_timeout=5, remote_rtc_uids=["2001"])
    _, result, _ = world.apply(desired(want))
    assert result.ok, result.failed
    world.control("POST", "/_sandbox/channels/alpha/join", {"uids": ["2001"]})
    world.control("POST", "/_sandbox/clock/advance", {"seconds": 3600})
    assert [a["status"] for a in world.agents()] == ["RUNNING"]
    assert _plan_for(world, want)[0] == "no-op"


def _token(channel: str = "alpha", uid: int = 1001, age: int = 0, seconds: int = 3600) -> str:
    service = accesstoken.rtc_service(channel, uid, seconds)
    issued = int(time.time()) - age
    return accesstoken.build(APP_ID, CERT, issue_ts=issued, expire=seconds, services=(service,))


@pytest.mark.parametrize(
    ("token", "cause"),
    [
        ("token", "not an AccessToken2"),
        (_token(channel="beta"), "token was issued for channel 'beta', not 'alpha'"),
        (_token(uid=7), "token was issued for uid '7', not '1001'"),
        (_token(age=7200, seconds=60), "token has expired"),
    ],
    ids=["placeholder", "another-channel", "another-uid", "expired"],
)
def test_an_agent_started_with_a_bad_token_fails_and_the_plan_reports_why(
    world: World, token: str, cause: str
) -> None:
    want = _with(agent("alpha"), token=token)
    _, result, _ = world.apply(desired(want))
    assert result.ok, result.failed  # the engine accepts the join; the agent fails afterwards
    world.control("POST", "/_sandbox/clock/advance", {"seconds": 1})
    (failed,) = world.agents("FAILED")
    assert cause in failed["message"]
    action, reason = _plan_for(world, want)
    assert action == "start"
    assert cause in reason


def test_a_renewed_token_for_the_wrong_channel_fails_the_update(world: World) -> None:
    good, _ = mint_agent_token(APP_ID, CERT, "alpha", "1001", 3600, time.time(), False)
    _, result, _ = world.apply(desired(_with(agent("alpha"), token=good)))
    assert result.ok, result.failed
    _, result, _ = world.apply(desired(_with(agent("alpha"), token=_token(channel="beta"))))
    (failed,) = result.failed
    assert (failed.action, failed.reason) == ("update", "InvalidFieldValue")
    assert "channel 'beta'" in (failed.detail or "")
    assert [a["status"] for a in world.agents()] == ["RUNNING"]


def test_with_app_name_scope_a_name_held_in_another_channel_fails_the_agent(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, name_scope="app")
    foreign = world.start_directly(world.wire("alpha"), channel="elsewhere")
    _, result, state = world.apply(desired(agent("alpha")))
    (failed,) = result.failed
    assert (failed.name, failed.reason) == ("alpha", "TaskConflict")
    assert "alpha" not in state.agents
    assert [(a["agent_id"], a["status"]) for a in world.agents()] == [(foreign, "RUNNING")]


def test_with_channel_name_scope_a_name_held_in_another_channel_does_not_conflict(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, name_scope="channel")
    foreign = world.start_directly(world.wire("alpha"), channel="elsewhere")
    _, result, state = world.apply(desired(agent("alpha")))
    assert result.ok, result.failed
    assert state.agents["alpha"].agent_id != foreign
    running = {a["agent_id"]: a["channel"] for a in world.agents("RUNNING")}
    assert running == {foreign: "elsewhere", state.agents["alpha"].agent_id: "alpha"}


@pytest.mark.parametrize("scope", ["app", "channel"])
def test_a_name_held_by_someone_else_in_the_same_channel_fails_the_agent_under_either_scope(
    tmp_path: Path, scope: str
) -> None:
    world = make_world(tmp_path, name_scope=scope)
    foreign = world.start_directly(world.wire("alpha"), channel="alpha", uid="4242")
    _, result, state = world.apply(desired(agent("alpha")))
    (failed,) = result.failed
    assert (failed.name, failed.reason) == ("alpha", "TaskConflict")
    assert "alpha" not in state.agents  # never adopted: sharing a channel is no evidence
    assert [(a["agent_id"], a["status"]) for a in world.agents()] == [(foreign, "RUNNING")]
