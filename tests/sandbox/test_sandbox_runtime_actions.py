"""history, speak, interrupt, think (docs/engine-api.md) and turns; unknown routes; the CN
prefix; agent ids."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.sandbox import SandboxConfig, create_app
from tests.sandbox.sandbox_helpers import APP_ID, Client, api, asgi_client


def test_history_answers_running_with_contents(engine: Client) -> None:
    greeting = {**engine_llm(), "greeting_message": "Hello!"}
    agent_id = engine.start(llm=greeting)
    engine.post(agent_id, "speak", {"text": "Welcome."})
    body = engine.request("GET", api(f"/agents/{agent_id}/history")).json()
    assert body["agent_id"] == agent_id
    assert body["status"] == "RUNNING"
    assert isinstance(body["start_ts"], int)
    assert body["contents"] == [
        {"role": "assistant", "content": "Hello!"},
        {"role": "assistant", "content": "Welcome."},
    ]


def engine_llm() -> dict[str, Any]:
    return {"url": "https://llm.example/v1", "params": {"model": "m"}}


def test_history_is_capped_at_max_history(engine: Client) -> None:
    agent_id = engine.start(llm={**engine_llm(), "max_history": 2})
    for text in ("one", "two", "three"):
        engine.post(agent_id, "speak", {"text": text})
    body = engine.request("GET", api(f"/agents/{agent_id}/history")).json()
    assert [c["content"] for c in body["contents"]] == ["two", "three"]


def test_history_of_a_starting_agent_returns_404(make_engine: Any) -> None:
    engine = make_engine(start_delay_s=5)
    agent_id = engine.start()
    response = engine.request("GET", api(f"/agents/{agent_id}/history"))
    assert (response.status_code, response.json()["reason"]) == (404, "TaskNotFound")


def test_speak_answers_agent_id_channel_start_ts(engine: Client) -> None:
    agent_id = engine.start()
    body = {"text": "Hi", "priority": "APPEND", "interruptable": False}
    answer = engine.post(agent_id, "speak", body).json()
    assert set(answer) == {"agent_id", "channel", "start_ts"}
    assert (answer["agent_id"], answer["channel"]) == (agent_id, "room-1")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "MissingRequiredField"),
        ({"text": ""}, "MissingRequiredField"),
        ({"text": "x" * 513}, "InvalidFieldValue"),
        ({"text": "é" * 257}, "InvalidFieldValue"),
        ({"text": "hi", "priority": "NOW"}, "InvalidFieldValue"),
        ({"text": "hi", "interruptable": "no"}, "InvalidRequestBody"),
        ({"text": 5}, "InvalidRequestBody"),
    ],
)
def test_invalid_speak_returns_400(engine: Client, body: dict[str, Any], reason: str) -> None:
    response = engine.post(engine.start(), "speak", body)
    assert (response.status_code, response.json()["reason"]) == (400, reason)


def test_speak_of_512_bytes_is_accepted(engine: Client) -> None:
    assert engine.post(engine.start(), "speak", {"text": "x" * 512}).status_code == 200


def test_speak_on_an_mllm_agent_returns_400(engine: Client) -> None:
    agent_id = engine.start(llm=None, tts=None, mllm={"enable": True, "vendor": "openai"})
    response = engine.post(agent_id, "speak", {"text": "hi"})
    assert response.status_code == 400
    assert response.json()["reason"] == "InvalidRequestBody"
    assert "mllm" in response.json()["detail"]


def test_interrupt_with_an_empty_body_and_json_content_type_is_accepted(engine: Client) -> None:
    agent_id = engine.start()
    response = engine.request(
        "POST",
        api(f"/agents/{agent_id}/interrupt"),
        content=b"",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["agent_id"] == agent_id
    assert set(response.json()) == {"agent_id", "channel", "start_ts"}


def test_interrupt_with_an_empty_json_object_is_accepted(engine: Client) -> None:
    assert engine.post(engine.start(), "interrupt", {}).status_code == 200


def test_think_answers_agent_id_channel_start_ts(engine: Client) -> None:
    agent_id = engine.start()
    body = {
        "text": "Summarise.",
        "on_listening_action": "inject",
        "on_thinking_action": "append",
        "on_speaking_action": "interrupt",
        "interruptable": True,
        "metadata": {"k": "v"},
    }
    answer = engine.post(agent_id, "think", body).json()
    assert (answer["agent_id"], answer["channel"]) == (agent_id, "room-1")


@pytest.mark.parametrize(
    "body",
    [{}, {"text": "x", "on_listening_action": "shout"}, {"text": "x", "metadata": {"k": 1}}],
)
def test_invalid_think_returns_400(engine: Client, body: dict[str, Any]) -> None:
    assert engine.post(engine.start(), "think", body).status_code == 400


def test_turns_lists_greeting_and_speak_turns_even_after_the_agent_stopped(
    engine: Client,
) -> None:
    agent_id = engine.start(llm={**engine_llm(), "greeting_message": "Hello"})
    engine.post(agent_id, "speak", {"text": "a"})
    engine.leave(agent_id)
    engine.advance(5)
    body = engine.request(
        "GET", api(f"/agents/{agent_id}/turns"), params={"page_index": 1, "page_size": 1}
    ).json()
    assert body["total_turn_count"] == 2
    assert body["pagination"] == {"page_index": 1, "total_pages": 2, "is_last_page": False}
    assert body["turns"][0]["start"]["type"] == "greeting"
    assert (body["name"], body["channel"]) == ("agent-1", "room-1")


@pytest.mark.parametrize("start_delay_s", [0, 5], ids=["running", "starting"])
def test_turns_names_the_agent_and_its_channel_while_it_is_active(
    make_engine: Any, start_delay_s: float
) -> None:
    """Journal resolution adopts an agent only when turns names it with the wire name sent."""
    engine = make_engine(start_delay_s=start_delay_s)
    agent_id = engine.start("sales-en-2", channel="sales-en")
    status = engine.get(agent_id).json()["status"]
    assert status == ("STARTING" if start_delay_s else "RUNNING")
    response = engine.request("GET", api(f"/agents/{agent_id}/turns"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["agent_id"], body["name"], body["channel"]) == (agent_id, "sales-en-2", "sales-en")
    assert body["total_turn_count"] == 0 and body["turns"] == []


def test_turns_of_an_unknown_agent_returns_404(engine: Client) -> None:
    response = engine.request("GET", api("/agents/NOSUCHAGENT/turns"))
    assert (response.status_code, response.json()["reason"]) == (404, "TaskNotFound")


# -- routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/conversational-ai-agent/v1/projects/x/join"),
        ("GET", api("/join")),
        ("DELETE", api("/agents/X")),
        ("POST", api("/agents")),
        ("POST", api("/agents/X/explode")),
        ("POST", api("/join/")),
        ("GET", api("/agents/")),
        ("GET", api("/agents/X/")),
        ("POST", "/_sandbox/reset/"),
    ],
)
def test_unknown_route_returns_404_no_route_matched(engine: Client, method: str, path: str) -> None:
    response = engine.request(method, path)
    assert response.status_code == 404  # a stray trailing slash is no route either, not a 307
    assert response.json() == {"message": "no Route matched with those values"}


def test_the_cn_prefix_serves_the_same_api(engine: Client) -> None:
    prefix = "/cn/api/conversational-ai-agent"
    response = engine.request(
        "POST",
        api("/join", prefix=prefix),
        json={
            "name": "cn",
            "properties": {"channel": "c", "agent_rtc_uid": "1", "remote_rtc_uids": ["2"]},
        },
    )
    assert response.status_code == 200
    agent_id = response.json()["agent_id"]
    assert engine.status(agent_id) == "RUNNING"
    assert engine.request("GET", api(f"/agents/{agent_id}", prefix=prefix)).status_code == 200


def test_agent_ids_are_32_upper_case_alphanumerics(engine: Client) -> None:
    ids = {engine.start(f"a{i}") for i in range(10)}
    assert len(ids) == 10
    assert all(re.fullmatch(r"[A-Z0-9]{32}", agent_id) for agent_id in ids)


def _first_ids(seed: int | None) -> list[str]:
    app = create_app(
        SandboxConfig(customer_id="customer-id", customer_secret="customer-secret", seed=seed)
    )
    client = asgi_client(app)
    try:
        return [client.start(f"a{i}") for i in range(3)]
    finally:
        client.close()
        app.state.sandbox.close()


def test_agent_ids_are_reproducible_with_a_seed() -> None:
    assert _first_ids(5) == _first_ids(5)
    assert _first_ids(5) != _first_ids(6)


def test_agent_ids_are_random_without_a_seed() -> None:
    assert _first_ids(None) != _first_ids(None)


def test_app_id_is_taken_from_the_path(engine: Client) -> None:
    agent_id = engine.start(app_id="x" * 32)
    assert engine.agent(agent_id)["app_id"] == "x" * 32
    assert engine.get(agent_id, APP_ID).status_code == 404
