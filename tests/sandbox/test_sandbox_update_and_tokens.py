"""update replaces `llm.params`, `llm.system_messages`, `mllm.params` and `token` (empty token:
no change) and refuses every other key; every update is recorded. Tokens are checked strictly by
default: a join with a bad token is accepted and the agent fails shortly after, naming the cause;
an update with one is refused. An agent whose minted token expires without an update bringing a
new one stops with a message; the derived expiry is inspectable.

The agents of the expiry tests use `idle_timeout: 0`: nobody is in their channel (the default),
and their idle exit would otherwise come first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agora_agent.agentkit.token import generate_convo_ai_token

from reconciler.sandbox import accesstoken
from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, CERT, Client, api

MakeEngine = Callable[..., Client]


def _token(
    engine: Client,
    seconds: int,
    app_id: str = APP_ID,
    cert: str = CERT,
    age: int = 0,
    channel: str = "room-1",
    uid: int = 1001,
) -> str:
    """A token issued `age` seconds before the engine's (fake) real time."""
    assert engine.time is not None
    issue_ts = int(engine.time.now) - age
    service = accesstoken.rtc_service(channel, uid, seconds)
    return accesstoken.build(app_id, cert, issue_ts=issue_ts, expire=seconds, services=(service,))


def test_update_answers_agent_id_create_ts_status(engine: Client) -> None:
    agent_id = engine.start()
    response = engine.update(agent_id, {"properties": {"llm": {"params": {"model": "x"}}}})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"agent_id", "create_ts", "status"}
    assert (body["agent_id"], body["status"]) == (agent_id, "RUNNING")


def test_update_replaces_llm_params_whole(engine: Client) -> None:
    agent_id = engine.start()
    engine.update(agent_id, {"properties": {"llm": {"params": {"temperature": 0.2}}}})
    llm = engine.agent(agent_id)["properties"]["llm"]
    assert llm["params"] == {"temperature": 0.2}
    assert llm["url"] == "https://api.openai.com/v1/chat/completions"


def test_update_replaces_system_messages(engine: Client) -> None:
    agent_id = engine.start()
    messages = [{"role": "system", "content": "Be brief."}]
    engine.update(agent_id, {"properties": {"llm": {"system_messages": messages}}})
    llm = engine.agent(agent_id)["properties"]["llm"]
    assert llm["system_messages"] == messages
    assert llm["params"] == {"model": "gpt-4o-mini", "max_tokens": 128}


def test_update_replaces_mllm_params(engine: Client) -> None:
    agent_id = engine.start(mllm={"enable": True, "params": {"voice": "a", "model": "m"}})
    engine.update(agent_id, {"properties": {"mllm": {"params": {"voice": "b"}}}})
    assert engine.agent(agent_id)["properties"]["mllm"] == {
        "enable": True,
        "params": {"voice": "b"},
    }


def test_update_replaces_the_token_and_an_empty_token_changes_nothing(engine: Client) -> None:
    agent_id = engine.start(token="first")
    engine.update(agent_id, {"properties": {"token": "second"}})
    assert engine.agent(agent_id)["properties"]["token"] == "second"
    engine.update(agent_id, {"properties": {"token": ""}})
    engine.update(agent_id, {"properties": {"token": None}})
    assert engine.agent(agent_id)["properties"]["token"] == "second"


def test_every_update_is_recorded_exactly_as_sent(engine: Client) -> None:
    agent_id = engine.start()
    first = {"properties": {"llm": {"params": {"a": 1}, "system_messages": None}}}
    second = {"properties": {"token": "", "llm": None}}
    engine.update(agent_id, first)
    engine.advance(3)
    engine.update(agent_id, second)
    updates = engine.agent(agent_id)["updates"]
    assert [u["body"] for u in updates] == [first, second]
    assert updates[1]["at"] - updates[0]["at"] == pytest.approx(3)


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ({"tts": {"vendor": "openai"}}, "properties.tts"),
        ({"idle_timeout": 0}, "properties.idle_timeout"),
        ({"llm": {"url": "https://x.example/v1"}}, "properties.llm.url"),
        ({"mllm": {"vendor": "openai", "params": {}}}, "properties.mllm.vendor"),
        ({"token": "t", "labels": {"a": "b"}}, "properties.labels"),
    ],
)
def test_update_refuses_keys_that_cannot_change_live(
    engine: Client, properties: dict[str, Any], named: str
) -> None:
    agent_id = engine.start()
    before = engine.agent(agent_id)["properties"]
    response = engine.update(agent_id, {"properties": properties})
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidRequestBody")
    assert named in response.json()["detail"]
    assert engine.agent(agent_id)["properties"] == before
    assert engine.agent(agent_id)["updates"] == []


def test_update_without_properties_or_with_an_empty_body_is_a_no_op(engine: Client) -> None:
    agent_id = engine.start()
    before = engine.agent(agent_id)["properties"]
    assert engine.update(agent_id, {}).status_code == 200
    empty = engine.request(
        "POST",
        api(f"/agents/{agent_id}/update"),
        content=b"",
        headers={"content-type": "application/json"},
    )
    assert empty.status_code == 200
    assert engine.agent(agent_id)["properties"] == before
    assert [u["body"] for u in engine.agent(agent_id)["updates"]] == [{}, {}]


@pytest.mark.parametrize(
    "body",
    [
        {"properties": "x"},
        {"properties": {"token": 5}},
        {"properties": {"llm": {"params": "x"}}},
        {"properties": {"llm": {"system_messages": "x"}}},
        {"properties": {"llm": {"system_messages": ["x"]}}},
        {"properties": {"mllm": {"params": []}}},
        [1],
    ],
)
def test_update_with_wrong_types_returns_400_invalid_request_body(
    engine: Client, body: Any
) -> None:
    response = engine.update(engine.start(), body)
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidRequestBody")


def test_update_of_a_starting_agent_is_accepted(make_engine: MakeEngine) -> None:
    engine = make_engine(start_delay_s=5)
    agent_id = engine.start()
    response = engine.update(agent_id, {"properties": {"token": "x"}})
    assert response.json()["status"] == "STARTING"


# -- token expiry ------------------------------------------------------------------------------


def test_sandbox_derives_the_token_expiry_from_the_minted_token(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001, token_expire=3600)
    agent_id = cert_engine.start(token=token)
    view = cert_engine.agent(agent_id)["token"]
    assert view["verified"] is True
    assert view["seconds_left"] == pytest.approx(3600, abs=5)
    assert view["expires_at"] == pytest.approx(view["issued_at"] + 3600, abs=5)


def test_agent_stops_when_its_token_expires_without_an_update(cert_engine: Client) -> None:
    agent_id = cert_engine.start(token=_token(cert_engine, 600), idle_timeout=0)
    cert_engine.advance(599.5)
    assert cert_engine.status(agent_id) == "RUNNING"
    cert_engine.advance(1)
    body = cert_engine.get(agent_id).json()
    assert body["status"] == "STOPPING"
    assert body["message"] == "agent exits with reason: token expired"
    cert_engine.advance(2)
    assert cert_engine.status(agent_id) == "STOPPED"


def test_updating_the_token_before_expiry_keeps_the_agent_running(cert_engine: Client) -> None:
    agent_id = cert_engine.start(token=_token(cert_engine, 600), idle_timeout=0)
    cert_engine.advance(500)
    cert_engine.update(agent_id, {"properties": {"token": _token(cert_engine, 600)}})
    left = cert_engine.agent(agent_id)["token"]["seconds_left"]
    assert left == pytest.approx(600, abs=5)
    cert_engine.advance(599)
    assert cert_engine.status(agent_id) == "RUNNING"
    cert_engine.advance(1.5)
    assert cert_engine.status(agent_id) == "STOPPING"


def test_an_empty_token_update_does_not_renew_the_expiry(cert_engine: Client) -> None:
    agent_id = cert_engine.start(token=_token(cert_engine, 600), idle_timeout=0)
    cert_engine.advance(500)
    cert_engine.update(agent_id, {"properties": {"token": ""}})
    cert_engine.advance(100.5)
    assert cert_engine.status(agent_id) == "STOPPING"


def test_tokens_are_not_checked_when_the_app_has_no_certificate(engine: Client) -> None:
    agent_id = engine.start(token=APP_ID, idle_timeout=0)
    assert engine.agent(agent_id)["token"]["expires_at"] is None
    engine.advance(48 * 3600)
    assert engine.status(agent_id) == "RUNNING"


def _bad_tokens(engine: Client) -> dict[str, tuple[str | None, str]]:
    """Bad join tokens for agent uid 1001 in room-1, each with the cause its failure names."""
    return {
        "placeholder": ("token", "not an AccessToken2"),
        "another channel": (
            _token(engine, 600, channel="room-9"),
            "token was issued for channel 'room-9', not 'room-1'",
        ),
        "another uid": (_token(engine, 600, uid=42), "token was issued for uid '42', not '1001'"),
        "expired": (_token(engine, 60, age=3600), "token has expired"),
        "another certificate": (
            _token(engine, 600, cert="1" * 32),
            "token signature does not match the app certificate",
        ),
        "another app id": (_token(engine, 600, app_id=APP_ID_2), "issued for another app id"),
    }


BAD_TOKEN_CASES = (
    "placeholder",
    "another channel",
    "another uid",
    "expired",
    "another certificate",
    "another app id",
)


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_a_join_with_a_bad_token_is_accepted_and_the_agent_fails_naming_the_cause(
    cert_engine: Client, case: str
) -> None:
    token, cause = _bad_tokens(cert_engine)[case]
    response = cert_engine.join(token=token, idle_timeout=0)
    assert response.status_code == 200
    agent_id = response.json()["agent_id"]
    assert response.json()["status"] == "RUNNING"
    cert_engine.advance(1)
    body = cert_engine.get(agent_id).json()
    assert body["status"] == "FAILED"
    assert body["message"].startswith("agent failed to join the channel: ")
    assert cause in body["message"]
    assert cert_engine.agent(agent_id)["token"]["verified"] is False


def test_a_token_for_uid_0_lets_the_agent_join_with_any_uid(cert_engine: Client) -> None:
    agent_id = cert_engine.start(token=_token(cert_engine, 600, uid=0), idle_timeout=0)
    cert_engine.advance(5)
    assert cert_engine.status(agent_id) == "RUNNING"
    assert cert_engine.agent(agent_id)["token"]["verified"] is True


def test_a_join_without_a_token_is_refused_when_the_app_has_a_certificate(
    cert_engine: Client,
) -> None:
    response = cert_engine.join(token=None)
    assert (response.status_code, response.json()["reason"]) == (400, "MissingRequiredField")


def test_without_a_required_token_an_agent_of_a_certified_app_fails(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(app_certificate=CERT, require_token=False)
    agent_id = engine.start(token=None, idle_timeout=0)
    engine.advance(1)
    body = engine.get(agent_id).json()
    assert body["status"] == "FAILED"
    assert "no token was given" in body["message"]


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_an_update_with_a_bad_token_is_refused(cert_engine: Client, case: str) -> None:
    agent_id = cert_engine.start(token=_token(cert_engine, 600), idle_timeout=0)
    token, cause = _bad_tokens(cert_engine)[case]
    response = cert_engine.update(agent_id, {"properties": {"token": token}})
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidFieldValue")
    assert cause in response.json()["detail"]
    assert cert_engine.agent(agent_id)["updates"] == []
    cert_engine.advance(5)
    assert cert_engine.status(agent_id) == "RUNNING"


def test_the_lenient_token_check_lets_agents_with_bad_tokens_run(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(app_certificate=CERT, token_check="lenient")
    foreign = engine.start("foreign", token=_token(engine, 600, app_id=APP_ID_2), idle_timeout=0)
    placeholder = engine.start("placeholder", token="token", idle_timeout=0)
    engine.advance(5)
    assert engine.agent(foreign)["token"]["verified"] is False
    assert engine.status(foreign) == "RUNNING"
    assert engine.status(placeholder) == "RUNNING"
    update = engine.update(foreign, {"properties": {"token": _token(engine, 600, uid=7)}})
    assert update.status_code == 200


def test_token_lifetime_runs_on_the_sandbox_clock_from_when_it_is_received(
    cert_engine: Client,
) -> None:
    cert_engine.advance(10 * 86400)
    agent_id = cert_engine.start(token=_token(cert_engine, 600), idle_timeout=0)
    assert cert_engine.agent(agent_id)["token"]["seconds_left"] == pytest.approx(600, abs=5)
    assert cert_engine.status(agent_id) == "RUNNING"


def test_join_with_token_auth_minted_by_the_sdk(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001)
    response = cert_engine.request(
        "POST",
        api("/join"),
        headers={"Authorization": f"agora token={token}"},
        json={
            "name": "t",
            "properties": {
                "channel": "room-1",
                "token": token,
                "agent_rtc_uid": "1001",
                "remote_rtc_uids": ["*"],
            },
        },
    )
    assert response.status_code == 200
