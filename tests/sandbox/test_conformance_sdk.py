"""Conformance: Agora's official SDK `agora-agents==2.12.0`, unchanged, drives a served sandbox
(uvicorn on a free loopback port): the low-level Fern client, the pool client with
`AGORA_AGENTS_API_BASE_URL`, and an agentkit session in app-credentials mode whose minted
`agora token=` the sandbox verifies. Errors are checked through the SDK's `ApiError`."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from agora_agent import Agent, Agora, Area, DeepgramSTT, MicrosoftTTS, OpenAI
    from agora_agent.client import Agora as FernAgora
    from agora_agent.client import AsyncAgora as FernAsyncAgora
    from agora_agent.core.api_error import ApiError

from tests.sandbox.conftest import Served
from tests.sandbox.sandbox_helpers import (
    APP_ID,
    BASIC,
    CERT,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    PREFIX,
    Client,
)

pytestmark = pytest.mark.slow

WRONG_CERT = "0" * 32


def _properties(channel: str = "room-1", **extra: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "token": "007-placeholder",
        "agent_rtc_uid": "0",
        "remote_rtc_uids": ["1002"],
        "llm": {
            "url": "https://api.openai.com/v1/chat/completions",
            "api_key": "sk-test",
            "params": {"model": "gpt-4o-mini"},
        },
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus"}},
        **extra,
    }


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def raw(served: Served, served_client: Client, http: httpx.Client) -> FernAgora:
    """The low-level Fern client with Basic auth, pointed at the served sandbox."""
    return FernAgora(
        base_url=served.url + PREFIX,
        authorization=BASIC,
        username="",
        password="",
        httpx_client=http,
    )


@pytest.fixture
def base_url_env(served: Served, served_client: Client, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AGORA_AGENTS_API_BASE_URL", served.url)
    return served.url


def _api_error(call: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def test_sdk_start_get_update_stop_round_trip(raw: FernAgora, served_client: Client) -> None:
    started = raw.agents.start(APP_ID, name="room-1-agent", properties=_properties())
    assert started.status == "RUNNING"
    assert len(started.agent_id) == 32
    info = raw.agents.get(APP_ID, started.agent_id)
    assert (info.agent_id, info.status, info.start_ts) == (
        started.agent_id,
        "RUNNING",
        started.create_ts,
    )
    updated = raw.agents.update(
        APP_ID,
        started.agent_id,
        properties={
            "llm": {
                "system_messages": [{"role": "system", "content": "Be brief."}],
                "params": {"model": "gpt-4.1-mini"},
            }
        },
    )
    assert updated.status == "RUNNING"
    assert raw.agents.update(APP_ID, started.agent_id).status == "RUNNING"  # no properties
    view = served_client.agent(started.agent_id)
    assert view["properties"]["llm"]["params"] == {"model": "gpt-4.1-mini"}
    assert view["join_body"]["name"] == "room-1-agent"

    assert raw.agents.stop(APP_ID, started.agent_id) is None
    assert raw.agents.get(APP_ID, started.agent_id).status == "STOPPING"
    served_client.advance(1)
    stopped = raw.agents.get(APP_ID, started.agent_id)
    assert stopped.status == "STOPPED"
    assert stopped.stop_ts is not None and stopped.stop_ts >= stopped.start_ts


def test_sdk_list_pages_across_three_pages_and_filters_by_state(
    raw: FernAgora, served_client: Client
) -> None:
    ids = [
        raw.agents.start(APP_ID, name=f"agent-{i}", properties=_properties()).agent_id
        for i in range(7)
    ]
    served_client.control("DELETE", "/requests")
    listed = [item.agent_id for item in raw.agents.list(APP_ID, limit=3)]
    assert listed == ids
    list_calls = served_client.control("GET", "/requests?route=list")["requests"]
    assert len(list_calls) == 3

    for agent_id in ids[:3]:
        raw.agents.stop(APP_ID, agent_id)
    running = [item.agent_id for item in raw.agents.list(APP_ID, state="2", limit=2)]
    assert running == ids[3:]
    stopping = [item.agent_id for item in raw.agents.list(APP_ID, state="3,4", limit=2)]
    assert stopping == ids[:3]
    served_client.advance(1)
    stopped = [i.agent_id for i in raw.agents.list(APP_ID, state="4", channel="room-1")]
    assert stopped == ids[:3]
    assert [i.agent_id for i in raw.agents.list(APP_ID, channel="elsewhere")] == []
    page = raw.agents.list(APP_ID, state="1,2,3,4,6", limit=5)
    assert page.response is not None and page.response.meta is not None
    assert page.response.meta.total == 7


def test_sdk_history_speak_interrupt_think_on_a_running_agent(raw: FernAgora) -> None:
    props = _properties(llm={"url": "u", "params": {}, "greeting_message": "Hello there"})
    agent_id = raw.agents.start(APP_ID, name="talker", properties=props).agent_id
    spoken = raw.agents.speak(APP_ID, agent_id, text="Welcome!", priority="APPEND")
    assert (spoken.agent_id, spoken.channel) == (agent_id, "room-1")
    interrupted = raw.agents.interrupt(APP_ID, agent_id)
    assert interrupted.agent_id == agent_id
    thought = raw.agent_management.agent_think(APP_ID, agent_id, text="Offer help.")
    assert thought.channel == "room-1"
    history = raw.agents.get_history(APP_ID, agent_id)
    assert history.status == "RUNNING"
    assert history.contents is not None
    assert [(c.role, c.content) for c in history.contents] == [
        ("assistant", "Hello there"),
        ("assistant", "Welcome!"),
        ("user", "Offer help."),
    ]


def test_sdk_turns_pages_and_bad_paging_is_an_api_error_naming_the_parameter(
    raw: FernAgora,
) -> None:
    props = _properties(llm={"url": "u", "params": {}, "greeting_message": "Hello there"})
    agent_id = raw.agents.start(APP_ID, name="turns", properties=props).agent_id
    for line in range(4):
        raw.agents.speak(APP_ID, agent_id, text=f"line {line}")
    first = raw.agents.get_turns(APP_ID, agent_id, page_index=1, page_size=2)
    assert first.total_turn_count == 5 and first.pagination is not None
    assert (first.pagination.total_pages, first.pagination.is_last_page) == (3, False)
    last = raw.agents.get_turns(APP_ID, agent_id, page_index=3, page_size=2)
    assert last.turns is not None and last.pagination is not None
    assert [t.start.type for t in last.turns if t.start] == ["api_speak"]
    assert last.pagination.is_last_page is True

    for params in ({"page_size": 0}, {"page_index": -1}):
        bad = _api_error(lambda p=params: raw.agents.get_turns(APP_ID, agent_id, **p))
        (field,) = params
        assert (bad.status_code, bad.body["reason"]) == (400, "InvalidFieldValue")
        assert bad.body["detail"].startswith(f"{field}:")
    huge = _api_error(lambda: raw.agents.list(APP_ID, limit=2**63))
    assert (huge.status_code, huge.body["reason"]) == (400, "InvalidFieldValue")


def test_sdk_errors_surface_as_api_error_with_status_and_reason(
    raw: FernAgora, served: Served, served_client: Client, http: httpx.Client
) -> None:
    missing = _api_error(lambda: raw.agents.get(APP_ID, "MISSING"))
    assert (missing.status_code, missing.body["reason"]) == (404, "TaskNotFound")

    agent_id = raw.agents.start(APP_ID, name="dup", properties=_properties()).agent_id
    conflict = _api_error(lambda: raw.agents.start(APP_ID, name="dup", properties=_properties()))
    assert (conflict.status_code, conflict.body["reason"]) == (409, "TaskConflict")

    bad = _api_error(
        lambda: raw.agents.start(
            APP_ID, name="bad", properties=_properties(remote_rtc_uids=["not-a-number"])
        )
    )
    assert (bad.status_code, bad.body["reason"]) == (400, "InvalidFieldValue")

    served_client.control("POST", "/settings", {"pcu_limit": 1})
    full = _api_error(lambda: raw.agents.start(APP_ID, name="more", properties=_properties()))
    assert (full.status_code, full.body["reason"]) == (422, "ConcurrencyLimitExceeded")

    raw.agents.stop(APP_ID, agent_id)
    served_client.advance(1)
    gone = _api_error(lambda: raw.agents.speak(APP_ID, agent_id, text="hi"))
    assert (gone.status_code, gone.body["reason"]) == (404, "TaskNotFound")
    again = _api_error(lambda: raw.agents.stop(APP_ID, agent_id))
    assert again.status_code == 404

    intruder = FernAgora(
        base_url=served.url + PREFIX,
        authorization="Basic " + "d3Jvbmc6d3Jvbmc=",
        username="",
        password="",
        httpx_client=http,
    )
    denied = _api_error(lambda: intruder.agents.list(APP_ID))
    assert (denied.status_code, denied.body["reason"]) == (401, "InvalidPermission")


def test_sdk_sees_injected_429_and_503_as_api_errors(raw: FernAgora, served_client: Client) -> None:
    served_client.control(
        "POST", "/faults/rules", {"route": "join", "status": 429, "retry_after_s": 3, "times": 1}
    )
    served_client.control("POST", "/faults/rules", {"route": "join", "name": "never"})
    limited = _api_error(lambda: raw.agents.start(APP_ID, name="x", properties=_properties()))
    assert limited.status_code == 429
    assert limited.headers is not None and limited.headers["retry-after"] == "3"
    failed = _api_error(lambda: raw.agents.start(APP_ID, name="never", properties=_properties()))
    assert (failed.status_code, failed.body["reason"]) == (503, "ServiceUnavailable")


def test_pool_client_with_base_url_env_and_its_stop_agent(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(
        area=Area.US,
        app_id=APP_ID,
        app_certificate=CERT,
        customer_id=CUSTOMER_ID,
        customer_secret=CUSTOMER_SECRET,
        httpx_client=http,
    )
    assert client.get_current_url() == base_url_env + PREFIX
    agent_id = client.agents.start(APP_ID, name="pooled", properties=_properties()).agent_id
    assert client.agents.get(APP_ID, agent_id).status == "RUNNING"
    client.stop_agent(agent_id)
    assert served_client.status(agent_id) == "STOPPING"
    client.stop_agent(agent_id)  # 404 now: treated as success by the SDK
    served_client.advance(1)
    assert client.agents.get(APP_ID, agent_id).status == "STOPPED"


def test_pool_client_in_the_cn_area_uses_the_cn_prefix(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(
        area=Area.CN,
        app_id=APP_ID,
        app_certificate=CERT,
        customer_id=CUSTOMER_ID,
        customer_secret=CUSTOMER_SECRET,
        httpx_client=http,
    )
    assert client.get_current_url() == base_url_env + "/cn/api/conversational-ai-agent"
    agent_id = client.agents.start(APP_ID, name="cn", properties=_properties()).agent_id
    assert client.agents.get(APP_ID, agent_id).status == "RUNNING"
    paths = [e["path"] for e in served_client.control("GET", "/requests")["requests"]]
    assert all(path.startswith("/cn/api/") for path in paths)


def _agentkit_agent(client: Any) -> Any:
    return (
        Agent(client=client, instructions="You are a helpful voice assistant.")
        .with_llm(
            OpenAI(
                api_key="sk-test",
                base_url="https://api.openai.com/v1/chat/completions",
                model="gpt-4o-mini",
            )
        )
        .with_tts(
            MicrosoftTTS(key="k", region="eastus", voice_name="en-US-AndrewMultilingualNeural")
        )
        .with_stt(DeepgramSTT(api_key="dg", model="nova-2"))
    )


def test_agentkit_session_in_app_credentials_mode_is_verified_by_the_sandbox(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(area=Area.US, app_id=APP_ID, app_certificate=CERT, httpx_client=http)
    assert client.auth_mode == "app-credentials"
    session = _agentkit_agent(client).create_session(
        channel="room-kit", agent_uid="1001", remote_uids=["2002"], name="kit-agent"
    )
    agent_id = session.start()
    view = served_client.agent(agent_id)
    assert view["name"] == "kit-agent"
    assert view["join_body"]["preset"] is None
    assert view["properties"]["llm"]["system_messages"][0]["content"].startswith("You are")
    assert view["token"]["verified"] is True
    assert view["token"]["seconds_left"] == pytest.approx(86400, abs=30)

    session.say("Hello!")
    session.interrupt()
    assert [c.content for c in session.get_history().contents] == ["Hello!"]
    assert session.get_info().status == "RUNNING"
    session.update({"llm": {"params": {"model": "gpt-4.1-mini"}}})
    session.stop()
    assert served_client.status(agent_id) == "STOPPING"
    client.stop_agent(agent_id)  # already stopping: 404, which the SDK treats as success

    log = served_client.control("GET", "/requests")["requests"]
    sdk_calls = [e for e in log if e["auth"] == "token"]
    assert [e["route"] for e in sdk_calls] == [
        "join", "speak", "interrupt", "history", "get", "update", "leave", "leave",
    ]  # fmt: skip
    assert [e["status"] for e in sdk_calls][-1] == 404
    assert [e["auth"] for e in log if e not in sdk_calls] == ["basic"]  # our own status check


def test_agentkit_think_and_get_all_turns_walk_every_page(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(area=Area.US, app_id=APP_ID, app_certificate=CERT, httpx_client=http)
    session = _agentkit_agent(client).create_session(
        channel="room-kit", agent_uid="1001", remote_uids=["2002"], name="kit-turns"
    )
    session.start()
    for line in range(3):
        session.say(f"line {line}")
    thought = session.think("Offer help.", on_listening_action="inject", metadata={"k": "v"})
    assert thought.channel == "room-kit"
    turns = session.get_all_turns(page_size=1)
    assert turns.turns is not None and [t.turn_id for t in turns.turns] == [1, 2, 3]
    assert [c.content for c in session.get_history().contents][-1] == "Offer help."
    pages = served_client.control("GET", "/requests?route=turns")["requests"]
    assert [e["status"] for e in pages] == [200, 200, 200]


def test_agentkit_session_with_a_wrong_certificate_gets_401(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(area=Area.US, app_id=APP_ID, app_certificate=WRONG_CERT, httpx_client=http)
    session = _agentkit_agent(client).create_session(
        channel="room-kit", agent_uid="1001", remote_uids=["2002"], name="kit-agent"
    )
    denied = _api_error(session.start)
    assert (denied.status_code, denied.body["reason"]) == (401, "InvalidPermission")
    assert served_client.control("GET", "/agents")["agents"] == []


def test_direct_calls_of_an_app_credentials_client_send_an_empty_header_and_get_401(
    base_url_env: str, served_client: Client, http: httpx.Client
) -> None:
    client = Agora(area=Area.US, app_id=APP_ID, app_certificate=CERT, httpx_client=http)
    denied = _api_error(lambda: client.agents.get(APP_ID, "ANY"))
    assert (denied.status_code, denied.body["reason"]) == (401, "InvalidPermission")


def test_async_low_level_client_lists_with_async_for(
    raw: FernAgora, served: Served, served_client: Client
) -> None:
    ids = [
        raw.agents.start(APP_ID, name=f"a{i}", properties=_properties()).agent_id for i in range(5)
    ]

    async def collect() -> list[str]:
        async with httpx.AsyncClient(timeout=10.0) as http:
            client = FernAsyncAgora(
                base_url=served.url + PREFIX,
                authorization=BASIC,
                username="",
                password="",
                httpx_client=http,
            )
            pager = await client.agents.list(APP_ID, limit=2)
            return [item.agent_id async for item in pager]

    assert asyncio.run(collect()) == ids
