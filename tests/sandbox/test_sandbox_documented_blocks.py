"""The engine as documented today: published pipelines (`pipeline_id`), the shapes of the newer
`properties` blocks, and `credential_mode: managed`."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, Client, api, join_body


def _join(engine: Client, body: Any) -> tuple[int, dict[str, Any]]:
    response = engine.request("POST", api("/join"), json=body)
    return response.status_code, response.json()


def _refused(engine: Client, body: Any) -> tuple[str, str]:
    status, answer = _join(engine, body)
    assert status == 400, answer
    return answer["reason"], answer["detail"]


# -- pipelines ---------------------------------------------------------------------------------

PIPELINE = {
    "asr": {"vendor": "ares", "language": "en-US"},
    "llm": {"url": "https://llm.example/v1", "params": {"model": "m", "max_tokens": 64}},
    "tts": {"vendor": "microsoft", "params": {"voice_name": "en-US-A"}},
    "idle_timeout": 0,
}


def test_a_join_with_a_registered_pipeline_starts_from_it_and_its_properties_override(
    engine: Client,
) -> None:
    registered = engine.control(
        "POST", "/pipelines", {"pipeline_id": "pl-1", "properties": PIPELINE}
    )
    assert registered["app_id"] == "*"
    body = join_body("piped", llm={"params": {"max_tokens": 16}}, tts=None)
    body["pipeline_id"] = "pl-1"
    status, answer = _join(engine, body)
    assert status == 200, answer
    props = engine.agent(answer["agent_id"])["properties"]
    assert props["llm"] == {
        "url": "https://llm.example/v1",
        "params": {"model": "m", "max_tokens": 16},
    }
    assert props["tts"] == PIPELINE["tts"] and props["asr"] == PIPELINE["asr"]
    assert engine.agent(answer["agent_id"])["idle_timeout"] == 0


def test_a_join_naming_an_unknown_pipeline_is_refused_invalid_field_value(engine: Client) -> None:
    body = join_body("piped")
    body["pipeline_id"] = "never-published"
    reason, detail = _refused(engine, body)
    assert reason == "InvalidFieldValue" and "pipeline_id" in detail


def test_a_pipeline_registered_for_one_app_id_is_unknown_to_another(engine: Client) -> None:
    engine.control(
        "POST", "/pipelines", {"pipeline_id": "pl-2", "properties": PIPELINE, "app_id": APP_ID}
    )
    body = join_body("piped")
    body["pipeline_id"] = "pl-2"
    assert _join(engine, body)[0] == 200
    response = engine.request("POST", api("/join", APP_ID_2), json=body)
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidFieldValue")


def test_the_pipelines_route_refuses_a_bad_registration(engine: Client) -> None:
    for bad in ({"properties": PIPELINE}, {"pipeline_id": "x", "properties": []}):
        response = engine.request("POST", "/_sandbox/pipelines", json=bad)
        assert response.status_code == 400, bad


# -- newer blocks --------------------------------------------------------------------------------

SALT = base64.b64encode(b"s" * 32).decode()
DOCUMENTED = {
    "geofence": {"area": "GLOBAL", "exclude_area": "EUROPE"},
    "turn_detection": {
        "mode": "default",
        "config": {
            "speech_threshold": 0.5,
            "start_of_speech": {
                "mode": "vad",
                "vad_config": {"interrupt_duration_ms": 160, "prefix_padding_ms": 800},
            },
            "end_of_speech": {
                "mode": "semantic",
                "semantic_config": {"silence_duration_ms": 240, "max_wait_ms": -1},
            },
        },
    },
    "interruption": {
        "enable": True,
        "mode": "keywords",
        "keywords_config": {"trigger_keywords": ["stop"]},
    },
    "sal": {"sal_mode": "locking", "sample_urls": {"alice": "https://x/a.wav"}},
    "labels": {"team": "support"},
    "rtc": {"encryption_key": "k", "encryption_salt": SALT, "encryption_mode": 8},
    "filler_words": {
        "enable": True,
        "trigger": {"mode": "fixed_time", "fixed_time_config": {"response_wait_ms": 1500}},
        "content": {
            "mode": "static",
            "static_config": {"phrases": ["hmm"], "selection_rule": "shuffle"},
        },
    },
    "avatar": {"enable": False, "vendor": "heygen", "params": {"avatar_id": "a"}},
}


def test_every_newer_block_in_its_documented_shape_is_accepted(engine: Client) -> None:
    body = join_body("documented", **DOCUMENTED)
    body["properties"]["llm"]["mcp_servers"] = [
        {"name": "tools.v1", "timeout_ms": 10000, "allowed_tools": ["*"]}
    ]
    body["properties"]["asr"] = {"vendor": "deepgram", "credential_mode": "managed"}
    status, answer = _join(engine, body)
    assert status == 200, answer


@pytest.mark.parametrize(
    ("key", "value", "reason", "where"),
    [
        ("geofence", {"area": "MARS"}, "InvalidFieldValue", "geofence.area"),
        (
            "geofence",
            {"area": "ASIA", "exclude_area": "INDIA"},
            "InvalidFieldValue",
            "exclude_area",
        ),
        ("geofence", {"area": "GLOBAL", "exclude_area": "GLOBAL"}, "InvalidFieldValue", "exclude"),
        ("geofence", {"area": 1}, "InvalidRequestBody", "geofence.area"),
        (
            "turn_detection",
            {"config": {"start_of_speech": {"vad_config": {"interrupt_duration_ms": 50}}}},
            "InvalidFieldValue",
            "interrupt_duration_ms",
        ),
        (
            "turn_detection",
            {"config": {"end_of_speech": {"mode": "guess"}}},
            "InvalidFieldValue",
            "end_of_speech.mode",
        ),
        ("turn_detection", {"config": {"speech_threshold": 2}}, "InvalidFieldValue", "threshold"),
        ("interruption", {"mode": "always"}, "InvalidFieldValue", "interruption.mode"),
        (
            "interruption",
            {"keywords_config": {"trigger_keywords": ["k"] * 129}},
            "InvalidFieldValue",
            "trigger_keywords",
        ),
        ("sal", {"sal_mode": "guess"}, "InvalidFieldValue", "sal_mode"),
        ("labels", {"team": 7}, "InvalidRequestBody", "labels"),
        ("rtc", {"encryption_mode": 9}, "InvalidFieldValue", "encryption_mode"),
        ("rtc", {"encryption_salt": "c2hvcnQ="}, "InvalidFieldValue", "encryption_salt"),
        (
            "filler_words",
            {"trigger": {"fixed_time_config": {"response_wait_ms": 50}}},
            "InvalidFieldValue",
            "response_wait_ms",
        ),
        ("avatar", {"vendor": "nobody"}, "InvalidFieldValue", "avatar.vendor"),
    ],
)
def test_a_newer_block_outside_its_documented_shape_is_refused(
    engine: Client, key: str, value: Any, reason: str, where: str
) -> None:
    got, detail = _refused(engine, join_body("bad", **{key: value}))
    assert got == reason
    assert where in detail


def test_mcp_server_names_follow_the_documented_pattern(engine: Client) -> None:
    body = join_body("mcp")
    body["properties"]["llm"]["mcp_servers"] = [{"name": "bad name!"}]
    reason, detail = _refused(engine, body)
    assert reason == "InvalidFieldValue" and "mcp_servers[0].name" in detail


def test_credential_mode_managed_is_accepted_and_another_value_refused(engine: Client) -> None:
    body = join_body("managed", tts={"vendor": "minimax", "credential_mode": "managed"})
    assert _join(engine, body)[0] == 200
    body = join_body("other", tts={"vendor": "minimax", "credential_mode": "byo"})
    reason, detail = _refused(engine, body)
    assert reason == "InvalidFieldValue" and "tts.credential_mode" in detail


def test_the_deprecated_preset_is_still_accepted(engine: Client) -> None:
    body = join_body("preset", llm=None, tts=None)
    body["preset"] = "deepgram_nova_3,openai_gpt_4o_mini,minimax_speech_2_6_turbo"
    assert _join(engine, body)[0] == 200
