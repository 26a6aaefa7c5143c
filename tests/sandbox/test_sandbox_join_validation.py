"""Join validation: 400 InvalidRequestBody / MissingRequiredField / InvalidFieldValue; JSON null
is absent; unknown keys are accepted and kept exactly as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sandbox.sandbox_helpers import APP_ID, Client, api, join_body


def _join(engine: Client, body: Any) -> tuple[int, dict[str, Any]]:
    response = engine.request("POST", api("/join"), json=body)
    return response.status_code, response.json()


def _reason(engine: Client, body: Any) -> str:
    status, answer = _join(engine, body)
    assert status == 400, answer
    assert answer["detail"]
    reason: str = answer["reason"]
    return reason


def test_valid_join_returns_agent_id_create_ts_and_running(engine: Client) -> None:
    status, body = _join(engine, join_body())
    assert status == 200
    assert set(body) == {"agent_id", "create_ts", "status"}
    assert body["status"] == "RUNNING"
    assert isinstance(body["create_ts"], int)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"name"', b"{", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_returns_400_invalid_request_body(
    engine: Client, raw: bytes
) -> None:
    response = engine.request(
        "POST", api("/join"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "InvalidRequestBody"


@pytest.mark.parametrize(
    "path",
    [
        "name",
        "properties",
        "properties.channel",
        "properties.agent_rtc_uid",
        "properties.remote_rtc_uids",
    ],
)
@pytest.mark.parametrize("how", ["absent", "null", "empty"])
def test_missing_required_field_returns_400_missing_required_field(
    engine: Client, path: str, how: str
) -> None:
    body = join_body()
    parent: dict[str, Any] = body
    *parents, key = path.split(".")
    for part in parents:
        parent = parent[part]
    if how == "absent":
        del parent[key]
    elif how == "null":
        parent[key] = None
    else:
        parent[key] = {"name": "", "properties": {}, "remote_rtc_uids": []}.get(key, "")
    assert _reason(engine, body) == "MissingRequiredField"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", 12),
        ("properties", "x"),
        ("properties.channel", 5),
        ("properties.agent_rtc_uid", 1001),
        ("properties.remote_rtc_uids", "2001"),
        ("properties.remote_rtc_uids", [2001]),
        ("properties.idle_timeout", "30"),
        ("properties.idle_timeout", True),
        ("properties.enable_string_uid", "yes"),
        ("properties.token", 7),
        ("properties.llm", "gpt"),
        ("properties.llm.params", []),
        ("preset", 3),
    ],
)
def test_field_of_the_wrong_type_returns_400_invalid_request_body(
    engine: Client, path: str, value: Any
) -> None:
    body = join_body()
    parent: dict[str, Any] = body
    *parents, key = path.split(".")
    for part in parents:
        parent = parent[part]
    parent[key] = value
    assert _reason(engine, body) == "InvalidRequestBody"


@pytest.mark.parametrize(
    "properties",
    [
        {"agent_rtc_uid": "agent-a"},
        {"remote_rtc_uids": ["user-a"]},
        {"agent_rtc_uid": "-1"},
        {"agent_rtc_uid": "4294967296"},
        {"idle_timeout": -1},
        {"idle_timeout": 2**63},
        {"idle_timeout": 10**30},
        {"channel": "a/b"},
        {"channel": "x" * 65},
    ],
)
def test_out_of_range_value_returns_400_invalid_field_value(
    engine: Client, properties: dict[str, Any]
) -> None:
    assert _reason(engine, join_body(**properties)) == "InvalidFieldValue"


def test_string_uids_are_accepted_with_enable_string_uid(engine: Client) -> None:
    body = join_body(enable_string_uid=True, agent_rtc_uid="agent-a", remote_rtc_uids=["user-a"])
    assert _join(engine, body)[0] == 200


def test_wildcard_remote_uid_and_uid_zero_are_accepted(engine: Client) -> None:
    assert _join(engine, join_body(agent_rtc_uid="0", remote_rtc_uids=["*"]))[0] == 200


def test_idle_timeout_zero_is_accepted(engine: Client) -> None:
    assert _join(engine, join_body(idle_timeout=0))[0] == 200


def test_token_is_optional_without_certificate(engine: Client) -> None:
    assert _join(engine, join_body(token=None))[0] == 200


def test_token_is_required_when_a_certificate_is_configured(cert_engine: Client) -> None:
    assert _reason(cert_engine, join_body(token=None)) == "MissingRequiredField"
    assert _reason(cert_engine, join_body(token="")) == "MissingRequiredField"


def test_token_requirement_can_be_turned_off(make_engine: Any) -> None:
    engine = make_engine(app_certificate="c" * 32, require_token=False)
    assert _join(engine, join_body(token=None))[0] == 200


def test_token_requirement_can_be_turned_on_without_certificate(make_engine: Any) -> None:
    engine = make_engine(require_token=True)
    assert _reason(engine, join_body(token=None)) == "MissingRequiredField"


def test_agentkit_style_nulls_are_treated_as_absent(engine: Client) -> None:
    body = join_body(asr=None)
    body.update({"preset": None, "pipeline_id": None})
    body["properties"].update({"asr": None, "mllm": None, "avatar": None, "idle_timeout": None})
    body["properties"]["llm"]["greeting_message"] = None
    status, answer = _join(engine, body)
    assert status == 200
    view = engine.agent(answer["agent_id"])
    assert view["idle_timeout"] == 30
    assert "asr" not in view["properties"]
    assert "greeting_message" not in view["properties"]["llm"]


def test_unknown_keys_are_accepted_and_kept(engine: Client) -> None:
    body = join_body(
        vad={"mode": "x"},
        agent_rtm_uid="9",
        advanced_features={"enable_aivad": True, "enable_bhvs": True},
        turn_detection={"type": "agora_vad", "language": "en-US"},
        parameters={"audio_scenario": "default", "transcript": {"enable": True}},
    )
    body["properties"]["llm"]["style"] = "openai"
    body["future_top_level_key"] = {"a": [1, None]}
    status, answer = _join(engine, body)
    assert status == 200
    view = engine.agent(answer["agent_id"])
    assert view["join_body"] == body
    assert view["properties"]["vad"] == {"mode": "x"}
    assert view["properties"]["llm"]["style"] == "openai"


def test_join_body_is_kept_exactly_as_sent(engine: Client) -> None:
    raw = (
        b'{"properties": {"channel": "c", "agent_rtc_uid": "1", "remote_rtc_uids": ["2"]},'
        b'\n "name": "exact", "preset": null}'
    )
    response = engine.request(
        "POST", api("/join"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    view = engine.agent(response.json()["agent_id"])
    assert view["join_body"] == json.loads(raw)
    assert list(view["join_body"]) == ["properties", "name", "preset"]
    assert view["name"] == "exact"
    assert view["app_id"] == APP_ID


def test_mllm_agents_are_recognised(engine: Client) -> None:
    agent_id = engine.start(llm=None, tts=None, mllm={"enable": True, "vendor": "openai"})
    assert engine.agent(agent_id)["mode"] == "mllm"
    legacy = engine.start("legacy", advanced_features={"enable_mllm": True}, mllm={"vendor": "x"})
    assert engine.agent(legacy)["mode"] == "mllm"
    assert engine.agent(engine.start("plain"))["mode"] == "llm"
