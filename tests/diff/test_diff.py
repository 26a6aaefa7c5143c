"""Normalizing, redacting and diffing specs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.diff import (
    field_changes,
    forces_restart,
    format_path,
    is_redacted,
    normalize_spec,
    parse_path,
    redact,
    spec_digest,
)


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
    out = redact(spec, ["properties.llm.api_key"], "salt")
    marker = out["properties"]["llm"]["api_key"]
    assert is_redacted(marker)
    assert "sk-very-secret" not in str(out)
    other = redact(spec, ["properties.llm.api_key"], "other")
    assert other["properties"]["llm"]["api_key"] != marker


def test_a_rotated_secret_is_a_sensitive_change() -> None:
    a = redact(_spec(llm={"api_key": "one"}), ["properties.llm.api_key"], "s")
    b = redact(_spec(llm={"api_key": "two"}), ["properties.llm.api_key"], "s")
    (change,) = field_changes(a, b)
    assert change.path == "properties.llm.api_key"
    assert change.sensitive


def test_an_unchanged_secret_is_no_change() -> None:
    a = redact(_spec(llm={"api_key": "one"}), ["properties.llm.api_key"], "s")
    b = redact(_spec(llm={"api_key": "one"}), ["properties.llm.api_key"], "s")
    assert field_changes(a, b) == []
    assert spec_digest(a) == spec_digest(b)


def test_list_items_are_compared_by_position_when_lengths_match() -> None:
    a = _spec(llm={"system_messages": [{"role": "system", "content": "a"}]})
    b = _spec(llm={"system_messages": [{"role": "system", "content": "b"}]})
    (change,) = field_changes(a, b)
    assert change.path == "properties.llm.system_messages[0].content"


def test_list_length_change_is_one_whole_change() -> None:
    (change,) = field_changes(_spec(remote_rtc_uids=["1"]), _spec(remote_rtc_uids=["1", "2"]))
    assert change.path == "properties.remote_rtc_uids"


def test_only_token_prompt_and_params_are_in_place() -> None:
    assert not forces_restart("properties.llm.system_messages[0].content")
    assert not forces_restart("properties.llm.params.model")
    assert not forces_restart("properties.mllm.params.voice")
    assert not forces_restart("properties.token")
    assert not forces_restart("token")
    assert forces_restart("properties.tts.vendor")
    assert forces_restart("properties.llm.url")
    assert forces_restart("properties.llm.paramsx")
    assert forces_restart("properties.channel")
    assert forces_restart("preset")


keys = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8)
paths = st.lists(st.one_of(keys, st.integers(min_value=0, max_value=99)), min_size=1, max_size=6)


@given(paths)
def test_paths_round_trip(parts: list[str | int]) -> None:
    if isinstance(parts[0], int):
        parts = ["root", *parts]
    assert parse_path(format_path(parts)) == tuple(parts)
