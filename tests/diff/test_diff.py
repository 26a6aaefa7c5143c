"""Normalizing, redacting and diffing specs."""

from __future__ import annotations

from reconciler.diff import (
    field_changes,
    is_redacted,
    normalize_spec,
    redact,
    spec_digest,
)
from reconciler.kinds.agent import forces_restart
from reconciler.models import FieldPath

API_KEY = [FieldPath.parse("properties.llm.api_key")]


def _spec(**props: object) -> dict[str, object]:
    return {"properties": {"channel": "c", "agent_rtc_uid": "1", **props}}


def test_null_and_absent_are_the_same() -> None:
    a = normalize_spec(_spec(llm={"url": "u", "greeting_message": None}))
    b = normalize_spec(_spec(llm={"url": "u"}))
    assert field_changes(a, b) == []


def test_documented_defaults_are_filled_so_writing_them_out_changes_nothing() -> None:
    a = normalize_spec(_spec())
    b = normalize_spec(_spec(idle_timeout=30, enable_string_uid=False))
    assert field_changes(a, b) == []


def test_integer_uids_compare_equal_to_their_string_form() -> None:
    a = normalize_spec({"properties": {"agent_rtc_uid": 1001, "remote_rtc_uids": [7]}})
    b = normalize_spec({"properties": {"agent_rtc_uid": "1001", "remote_rtc_uids": ["7"]}})
    assert field_changes(a, b) == []


def test_redaction_replaces_secrets_with_salted_digests() -> None:
    spec = _spec(llm={"api_key": "sk-very-secret"})
    out = redact(spec, API_KEY, "salt")
    marker = out["properties"]["llm"]["api_key"]
    assert is_redacted(marker)
    assert "sk-very-secret" not in str(out)
    other = redact(spec, API_KEY, "other")
    assert other["properties"]["llm"]["api_key"] != marker


def test_a_rotated_secret_is_a_sensitive_change() -> None:
    a = redact(_spec(llm={"api_key": "one"}), API_KEY, "s")
    b = redact(_spec(llm={"api_key": "two"}), API_KEY, "s")
    (change,) = field_changes(a, b)
    assert str(change.path) == "properties.llm.api_key"
    assert change.sensitive


def test_an_unchanged_secret_is_no_change() -> None:
    a = redact(_spec(llm={"api_key": "one"}), API_KEY, "s")
    b = redact(_spec(llm={"api_key": "one"}), API_KEY, "s")
    assert field_changes(a, b) == []
    assert spec_digest(a) == spec_digest(b)


def test_only_token_prompt_and_params_are_in_place() -> None:
    for in_place in (
        "properties.llm.system_messages[0].content",
        "properties.llm.params.model",
        "properties.mllm.params.voice",
        "properties.token",
        "token",
    ):
        assert not forces_restart(FieldPath.parse(in_place))
    for fixed in (
        "properties.tts.vendor",
        "properties.llm.url",
        "properties.llm.paramsx",
        "properties.channel",
        "preset",
    ):
        assert forces_restart(FieldPath.parse(fixed))
