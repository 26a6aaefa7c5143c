"""EngineClient, refresh and adoption against the in-process sandbox (httpx.ASGITransport)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler.engine import (
    ACTIVE_STATE_CODES,
    SANDBOX_BASE_URL,
    AuthProvider,
    BasicAuth,
    ClientOptions,
    EngineClient,
    TokenAuth,
    build_client,
    find_by_name,
    find_conflicting,
    mint_agent_token,
    refresh,
)
from reconciler.engine.adopt import CLOCK_SKEW_S
from reconciler.errors import EngineError, EngineUnavailableError, NameConflictError
from reconciler.models.live import LiveAgent
from reconciler.models.settings import Settings
from reconciler.models.state import AgentRecord
from reconciler.sandbox import SandboxConfig, create_app
from tests.engine.engine_helpers import APP_ID, CERT, CountingTransport, Recorder


def props(channel: str = "room", **extra: Any) -> dict[str, Any]:
    """A valid join ``properties`` body with secrets in it."""
    return {
        "channel": channel,
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["*"],
        "idle_timeout": 0,
        "llm": {
            "url": "https://llm.test/v1/chat/completions",
            "api_key": "sk-sandbox-secret-key",
            "system_messages": [{"role": "system", "content": "Be brief."}],
            "params": {"model": "gpt-4o-mini"},
        },
        "tts": {"vendor": "microsoft", "params": {"key": "tts-secret", "region": "eastus"}},
        **extra,
    }


class Env:
    """One sandbox app, an engine client over a counting transport, and a control client."""

    def __init__(self, client: EngineClient, control: httpx.AsyncClient, wire: CountingTransport):
        self.client = client
        self.control = control
        self.wire = wire

    async def ctl(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.control.request(method, f"/_sandbox/{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()


Scenario = Callable[[Env], Awaitable[Any]]


def run(
    scenario: Scenario,
    recorder: Recorder,
    *,
    config: SandboxConfig | None = None,
    auth: AuthProvider | None = None,
    max_attempts: int = 6,
) -> Any:
    """Run ``scenario`` against a fresh sandbox; everything is closed afterwards."""
    app = create_app(config or SandboxConfig(stop_delay_s=0.0))

    async def main() -> Any:
        wire = CountingTransport(httpx.ASGITransport(app=app))
        client = EngineClient(
            APP_ID,
            [SANDBOX_BASE_URL],
            auth or BasicAuth("sandbox", "sandbox"),
            transport=wire,
            retry=recorder.policy(max_attempts),
            sleep=recorder.sleep,
        )
        control = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        )
        async with client, control:
            return await scenario(Env(client, control, wire))

    try:
        return asyncio.run(main())
    finally:
        app.state.sandbox.close()


def test_join_get_update_leave_round_trip(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        c = env.client
        joined = await c.join("room-agent-1", props())
        assert joined.status == "RUNNING" and joined.create_ts
        agent = await c.get(joined.agent_id)
        assert (agent.agent_id, agent.status, agent.stop_ts, agent.message) == (
            joined.agent_id,
            "RUNNING",
            None,
            None,
        )
        await c.update(joined.agent_id, {"llm": {"params": {"model": "gpt-4.1-mini"}}})
        view = await env.ctl("GET", f"agents/{joined.agent_id}")
        assert view["properties"]["llm"]["params"] == {"model": "gpt-4.1-mini"}
        assert view["join_body"]["name"] == "room-agent-1"
        assert await c.leave(joined.agent_id) is True
        stopped = await c.wait_stopped(joined.agent_id, timeout=5, poll_interval=0.01)
        assert stopped.status == "STOPPED" and stopped.message
        assert await c.leave(joined.agent_id) is False  # 404 TaskNotFound: already stopped
        assert (await c.get("NO-SUCH-AGENT")).status == "MISSING"
        with pytest.raises(EngineError) as info:
            await c.update(joined.agent_id, {"llm": {"params": {}}})
        assert (info.value.status, info.value.reason) == (404, "TaskNotFound")

    run(scenario, recorder)
    assert recorder.sleeps == []


def test_list_follows_at_least_three_pages(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        ids = [
            (await env.client.join(f"agent-{i}", props(f"room-{i % 2}"))).agent_id for i in range(7)
        ]
        agents = await env.client.list_agents(states=[2], limit=3)
        assert sorted(a.agent_id for a in agents) == sorted(ids)
        assert env.wire.count("GET", "/agents") == 3
        pages = [q for m, p, q in env.wire.requests if m == "GET" and p.endswith("/agents")]
        assert [q.get("cursor") is None for q in pages] == [True, False, False]
        assert all(q["state"] == "2" for q in pages)
        in_room = await env.client.list_agents(channel="room-0", limit=2)
        assert len(in_room) == 4 and {a.channel for a in in_room} == {"room-0"}

    run(scenario, recorder)


def test_409_conflict_is_found_for_adoption(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        first = await env.client.join("support-en-1", props("support"))
        await env.client.join("other-1", props("elsewhere"))
        with pytest.raises(NameConflictError) as info:
            await env.client.join("support-en-1", props("support"))
        assert (info.value.status, info.value.reason) == (409, "TaskConflict")
        assert not info.value.resent  # the first attempt met the conflict: held by someone else
        assert info.value.holder == first.agent_id  # the 409 names the holder (a report only)
        found = await find_conflicting(env.client, "support", ())
        assert [(a.agent_id, a.channel) for a in found] == [(first.agent_id, "support")]
        assert await find_conflicting(env.client, "support", {first.agent_id}) == []
        query = env.wire.requests[-1][2]
        assert query["state"] == "0,1,2,5" and int(query["from_time"]) < time.time() - 72 * 3600

    run(scenario, recorder)
    assert recorder.sleeps == []  # 409 is never retried


@pytest.mark.parametrize("status", ["IDLE", "RECOVERING"])
def test_an_idle_or_recovering_agent_is_active_wherever_the_reconciler_asks(
    recorder: Recorder, status: str
) -> None:
    """One definition of "active" (models.live.ACTIVE_STATUSES): an agent the engine shows
    IDLE holds its name and channel, so adoption's list of a channel finds it, and a refresh
    shows it running (regression: the list filter left IDLE out while the refresh counted it)."""

    async def scenario(env: Env) -> None:
        held = await env.client.join("support-en-1", props("support"))
        await env.ctl("POST", f"agents/{held.agent_id}/status", {"status": status})
        found = await find_conflicting(env.client, "support", ())
        assert [a.agent_id for a in found] == [held.agent_id]
        (live,) = await env.client.list_agents(channel="support", states=ACTIVE_STATE_CODES)
        assert live.status == status and live.active

    run(scenario, recorder)


def test_lost_join_answer_then_retry_gives_409_and_adoption_finds_it(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.ctl("POST", "faults/rules", {"route": "join", "action": "drop_after", "times": 1})
        with pytest.raises(NameConflictError) as info:
            await env.client.join("support-en-1", props("support"))
        assert info.value.reason == "TaskConflict"
        assert info.value.resent  # the dropped attempt may have started the holder
        (holder,) = await find_conflicting(env.client, "support")
        search = await find_by_name(env.client, "support", "support-en-1", sent_after=0.0)
        assert search.match is not None and search.match.agent_id == holder.agent_id

    run(scenario, recorder)
    assert [e.cause for e in recorder.events] == ["connection dropped"]


def test_a_conflict_after_a_refused_connection_is_not_marked_resent(recorder: Recorder) -> None:
    """A refused connection never reached the engine, so it cannot have started the holder."""

    async def scenario(env: Env) -> None:
        await env.client.join("support-en-1", props("support"))
        await env.ctl("POST", "faults/rules", {"route": "join", "status": 503, "times": 1})
        with pytest.raises(NameConflictError) as after_503:
            await env.client.join("support-en-1", props("support"))
        assert after_503.value.resent  # a 5xx may have been answered after the work was done
        await env.ctl("POST", "faults/rules", {"route": "join", "status": 429, "times": 1})
        with pytest.raises(NameConflictError) as after_429:
            await env.client.join("support-en-1", props("support"))
        assert not after_429.value.resent  # rate limited: refused before any work

    run(scenario, recorder)


def test_identify_reads_the_join_name_and_channel_from_turns(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        joined = await env.client.join("sales-en-3", props("sales-en"))
        who = await env.client.identify(joined.agent_id)
        assert (who.agent_id, who.name, who.channel) == (joined.agent_id, "sales-en-3", "sales-en")
        method, path, query = env.wire.requests[-1]
        assert (method, path.rsplit("/", 1)[-1]) == ("GET", "turns")
        assert query == {"page_index": "1", "page_size": "1"}
        with pytest.raises(EngineError) as info:
            await env.client.identify("NOSUCHAGENT")
        assert (info.value.status, info.value.reason) == (404, "TaskNotFound")

    run(scenario, recorder)


def test_find_by_name_ignores_a_stranger_in_the_channel(recorder: Recorder) -> None:
    """Sharing the channel is no evidence: only the join name counts."""

    async def scenario(env: Env) -> None:
        stranger = await env.client.join("someone-else", props("sales-en", agent_rtc_uid="7777"))
        search = await find_by_name(env.client, "sales-en", "sales-en-2", sent_after=0.0)
        assert search.match is None and search.absent
        assert search.others == (stranger.agent_id,)
        ours = await env.client.join("sales-en-2", props("sales-en"))
        search = await find_by_name(env.client, "sales-en", "sales-en-2", sent_after=0.0)
        assert search.match is not None and search.match.agent_id == ours.agent_id
        assert search.others == (stranger.agent_id,)
        excluded = await find_by_name(
            env.client, "sales-en", "sales-en-2", {ours.agent_id}, sent_after=0.0
        )
        assert excluded.match is None

    run(scenario, recorder)


def test_find_by_name_needs_the_channel_to_match_as_well_as_the_name(recorder: Recorder) -> None:
    """A candidate that the engine places in another channel is not ours, whatever a list
    claimed about it."""

    async def scenario(env: Env) -> None:
        elsewhere = await env.client.join("sales-en-2", props("elsewhere"))
        listed = [LiveAgent(agent_id=elsewhere.agent_id, status="RUNNING", channel="sales-en")]
        search = await find_by_name(
            env.client, "sales-en", "sales-en-2", sent_after=0.0, candidates=listed
        )
        assert search.match is None and search.others == (elsewhere.agent_id,)

    run(scenario, recorder)


def test_find_by_name_refuses_an_agent_created_before_the_join_was_sent(recorder: Recorder) -> None:
    """The name alone is not evidence: an agent that already ran when our journal entry was
    written (less the allowed clock skew) cannot be the answer to our join."""

    async def scenario(env: Env) -> None:
        earlier = await env.client.join("sales-en-2", props("sales-en"))
        (listed,) = await find_conflicting(env.client, "sales-en")
        assert listed.start_ts is not None
        entry_written = listed.start_ts + CLOCK_SKEW_S + 2
        search = await find_by_name(env.client, "sales-en", "sales-en-2", sent_after=entry_written)
        assert search.match is None and search.absent
        assert search.others == (earlier.agent_id,)
        within_skew = listed.start_ts + CLOCK_SKEW_S - 2
        search = await find_by_name(env.client, "sales-en", "sales-en-2", sent_after=within_skew)
        assert search.match is not None and search.match.agent_id == earlier.agent_id

    run(scenario, recorder)


def test_find_by_name_cannot_identify_an_agent_without_a_creation_time(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        ours = await env.client.join("sales-en-2", props("sales-en"))
        listed = [LiveAgent(agent_id=ours.agent_id, status="RUNNING", channel="sales-en")]
        search = await find_by_name(
            env.client, "sales-en", "sales-en-2", sent_after=0.0, candidates=listed
        )
        assert search.match is None and not search.absent
        assert "when it was created" in search.why_unknown()

    run(scenario, recorder)


def test_find_by_name_is_inconclusive_when_turns_fails(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        stranger = await env.client.join("someone-else", props("sales-en", agent_rtc_uid="7777"))
        await env.ctl("POST", "faults/rules", {"route": "turns", "status": 400, "reason": "Nope"})
        search = await find_by_name(env.client, "sales-en", "sales-en-2", sent_after=0.0)
        assert search.match is None and not search.absent
        assert [agent_id for agent_id, _ in search.unknown] == [stranger.agent_id]
        assert stranger.agent_id in search.why_unknown()

    run(scenario, recorder)


def test_422_when_the_concurrency_cap_is_reached(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.client.join("a-1", props("a"))
        await env.client.join("b-1", props("b"))
        with pytest.raises(EngineError) as info:
            await env.client.join("c-1", props("c"))
        assert info.value.status == 422
        assert info.value.reason == "ConcurrencyLimitExceeded"
        assert env.wire.count("POST", "/join") == 3

    run(scenario, recorder, config=SandboxConfig(stop_delay_s=0.0, pcu_limit=2))
    assert recorder.sleeps == []


def test_injected_503s_and_429_are_retried(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.ctl("POST", "faults/rules", {"route": "join", "status": 503, "times": 2})
        await env.ctl(
            "POST", "faults/rules", {"route": "get", "status": 429, "retry_after_s": 3, "times": 1}
        )
        joined = await env.client.join("a-1", props())
        assert (await env.client.get(joined.agent_id)).status == "RUNNING"
        assert env.wire.count("POST", "/join") == 3

    run(scenario, recorder)
    assert recorder.sleeps == [0.5, 1.0, 3.0]
    assert [(e.operation, e.status) for e in recorder.events] == [
        ("join", 503),
        ("join", 503),
        ("get", 429),
    ]


def test_persistent_503_exhausts_retries(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.ctl("POST", "faults/rules", {"route": "leave", "status": 503})
        with pytest.raises(EngineUnavailableError) as info:
            await env.client.leave("ANY")
        assert (info.value.status, info.value.reason) == (503, "ServiceUnavailable")
        assert env.wire.count("POST", "/leave") == 3

    run(scenario, recorder, max_attempts=3)


def test_dropped_connections_are_retried(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        joined = await env.client.join("a-1", props())
        await env.ctl("POST", "faults/rules", {"route": "get", "action": "drop", "times": 2})
        assert (await env.client.get(joined.agent_id)).status == "RUNNING"

    run(scenario, recorder)
    assert len(recorder.events) == 2


def test_token_auth_is_accepted_and_a_bad_one_refused(recorder: Recorder) -> None:
    config = SandboxConfig(stop_delay_s=0.0, app_certificate=CERT)
    auth = TokenAuth(APP_ID, CERT)

    async def scenario(env: Env) -> None:
        token, expires_at = mint_agent_token(APP_ID, CERT, "room", "1001", 3600, time.time(), False)
        joined = await env.client.join("a-1", props(token=token))
        view = await env.ctl("GET", f"agents/{joined.agent_id}")
        assert view["status"] == "RUNNING" and view["token"]["verified"] is True
        assert abs(view["token"]["expires_at"] - expires_at) < 5
        assert (await env.client.get(joined.agent_id)).status == "RUNNING"
        assert auth.minted == 1  # cached across requests
        assert env.wire.requests  # went over the wire with "agora token="

    run(scenario, recorder, config=config, auth=auth)

    wrong = TokenAuth(APP_ID, "0" * 32)

    async def refused(env: Env) -> None:
        with pytest.raises(EngineError) as info:
            await env.client.list_agents()
        assert info.value.status == 401
        assert wrong.header().split("=", 1)[1] not in str(info.value)

    run(refused, recorder, config=config, auth=wrong)
    assert recorder.sleeps == []


def test_errors_never_carry_request_secrets(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        body = props()
        del body["channel"]
        with pytest.raises(EngineError) as info:
            await env.client.join("a-1", body)
        assert info.value.status == 400
        text = f"{info.value!s} {info.value.detail} {info.value!r}"
        assert "sk-sandbox-secret-key" not in text and "tts-secret" not in text

    run(scenario, recorder)


def _record(name: str, agent_id: str) -> AgentRecord:
    return AgentRecord(
        name=name,
        agent_id=agent_id,
        wire_name=f"{name}-1",
        generation=1,
        channel=name,
        started_at=time.time(),
        spec={},
        spec_digest="sha256:0",
    )


def test_refresh_lists_once_and_gets_only_what_the_list_cannot_tell(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        running = [(await env.client.join(f"r-{i}", props(f"r{i}"))).agent_id for i in range(5)]
        stopped = (await env.client.join("s-1", props("s"))).agent_id
        await env.client.leave(stopped)
        await env.client.wait_stopped(stopped, timeout=5, poll_interval=0.01)
        unrecorded = (await env.client.join("u-1", props("u"))).agent_id
        recorded = {f"r{i}": _record(f"r{i}", aid) for i, aid in enumerate(running)}

        env.wire.requests.clear()
        live = await refresh(env.client, recorded, time.time())
        assert env.wire.requests == [
            (
                "GET",
                f"/api/conversational-ai-agent/v2/projects/{APP_ID}/agents",
                env.wire.requests[0][2],
            )
        ]
        assert env.wire.requests[0][2]["state"] == "0,1,2,3,4,5,6"
        assert int(env.wire.requests[0][2]["from_time"]) <= int(time.time()) - 73 * 3600
        assert live.refreshed and {a.status for a in live.agents.values()} >= {"RUNNING"}
        assert unrecorded in live.agents

        recorded["s"] = _record("s", stopped)
        recorded["gone"] = _record("gone", "GONE-AGENT-ID")
        env.wire.requests.clear()
        live = await refresh(env.client, recorded, time.time())
        gets = sorted(
            p.rsplit("/", 1)[1] for m, p, _ in env.wire.requests if not p.endswith("/agents")
        )
        assert env.wire.count("GET", "/agents") == 1
        assert gets == sorted(["GONE-AGENT-ID", stopped])
        assert live.agents["GONE-AGENT-ID"].status == "MISSING"
        assert live.agents[stopped].status == "STOPPED" and live.agents[stopped].message

        env.wire.requests.clear()
        live = await refresh(env.client, recorded, time.time(), exit_details=False, channels=["r0"])
        assert len(env.wire.requests) == 3  # list, list of channel r0, GET of the missing one
        assert live.agents[running[0]].channel == "r0"

    run(scenario, recorder)


def test_build_client_for_the_sandbox(recorder: Recorder) -> None:
    app = create_app(SandboxConfig())

    async def main() -> str:
        settings = Settings.model_validate({"project_dir": ".", "engine": "sandbox"})
        async with build_client(settings, ClientOptions(httpx.ASGITransport(app=app))) as client:
            assert client.endpoint == SANDBOX_BASE_URL
            return (await client.join("a-1", props())).status

    try:
        assert asyncio.run(main()) == "RUNNING"
    finally:
        app.state.sandbox.close()


def test_refresh_asks_for_every_state_so_the_engine_default_of_running_only_hides_nothing(
    recorder: Recorder,
) -> None:
    async def scenario(env: Env) -> None:
        running = (await env.client.join("r-1", props("r"))).agent_id
        stopped = (await env.client.join("s-1", props("s"))).agent_id
        await env.client.leave(stopped)
        await env.client.wait_stopped(stopped, timeout=5, poll_interval=0.01)
        plain = await env.control.get(  # no state, no limit: the engine's defaults
            f"/api/conversational-ai-agent/v2/projects/{APP_ID}/agents",
            headers={"Authorization": "Basic " + base64.b64encode(b"sandbox:sandbox").decode()},
        )
        assert [a["agent_id"] for a in plain.json()["data"]["list"]] == [running]
        env.wire.requests.clear()
        live = await refresh(env.client, {}, time.time(), exit_details=False)
        assert live.agents[stopped].status == "STOPPED" and live.agents[running].status == "RUNNING"
        (query,) = [q for _, _, q in env.wire.requests]
        assert query["state"] == "0,1,2,3,4,5,6" and query["limit"] == "100"

    run(scenario, recorder)
