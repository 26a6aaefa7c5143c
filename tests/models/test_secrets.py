"""The one sensitivity rule: secret-like keys, plain keys, and how they combine."""

from __future__ import annotations

import pytest

from reconciler.models.secrets import (
    SECRET_WORDS,
    is_plain_key,
    is_secret_key,
    is_sensitive,
    secret_strings,
)


@pytest.mark.parametrize(
    "key",
    [
        *("api_key", "apiKey", "X-Api-Key", "key", "token", "secret", "password", "TOKEN"),
        *("access_key", "secret_key", "encryption_key", "adc_credentials_string", "agora_token"),
        *("client_secret", "access_token", "db_password", "private_key", "encryption_salt"),
        *("app_certificate", "customer_secret", "Authorization", "credentials", "signature"),
    ],
)
def test_secret_like_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "keywords", "voice_id", "monkey", "region", "key_id", "credential_mode"],
)
def test_keys_that_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_the_secret_words_cover_the_documented_keys() -> None:
    assert {"key", "token", "secret", "password", "salt", "certificate"} <= SECRET_WORDS


@pytest.mark.parametrize(
    "key",
    ["channel", "agent_rtc_uid", "remote_rtc_uids", "vendor", "model", "region", "language"],
)
def test_identifiers_and_plain_settings_are_plain(key: str) -> None:
    assert is_plain_key(key)


@pytest.mark.parametrize("key", ["voice", "voice_name", "voiceName", "voice_id"])
def test_voice_names_are_plain(key: str) -> None:
    assert is_plain_key(key)


@pytest.mark.parametrize("key", ["url", "content", "greeting_message", "api_key", "x"])
def test_other_keys_are_not_plain(key: str) -> None:
    assert not is_plain_key(key)


def test_an_interpolated_identifier_or_plain_setting_is_not_sensitive() -> None:
    assert not is_sensitive(("properties", "channel"), interpolated=True)
    assert not is_sensitive(("properties", "remote_rtc_uids"), interpolated=True)
    assert not is_sensitive(("properties", "llm", "params", "model"), interpolated=True)


def test_an_interpolated_value_under_any_other_key_is_sensitive() -> None:
    assert is_sensitive(("properties", "llm", "url"), interpolated=True)
    assert is_sensitive(("properties", "llm", "system_messages", "content"), interpolated=True)
    assert is_sensitive((), interpolated=True)


def test_a_value_under_a_secret_like_key_is_sensitive_even_when_literal() -> None:
    assert is_sensitive(("properties", "llm", "api_key"), interpolated=False)
    assert is_sensitive(("properties", "tts", "params", "key"), interpolated=False)


def test_a_plain_key_under_a_secret_like_key_stays_sensitive() -> None:
    assert is_sensitive(("properties", "credentials", "region"), interpolated=True)
    assert is_sensitive(("properties", "credentials", "region"), interpolated=False)


def test_a_literal_value_under_an_ordinary_key_is_not_sensitive() -> None:
    assert not is_sensitive(("properties", "llm", "url"), interpolated=False)


def test_secret_strings_are_the_strings_under_secret_like_keys_at_any_depth() -> None:
    body = {
        "name": "agent-1",
        "properties": {
            "channel": "room-1",
            "llm": {"api_key": "sk-1234", "headers": {"Authorization": "Bearer abcd"}},
            "tts": {"params": {"key": "tts-key", "region": "eastus"}},
            "avatar": {"credentials": [{"id": "one-id"}, "two-value"]},
            "rtc": {"encryption_key": "abc"},  # shorter than 4: would match anywhere
            "max_tokens": 100,
        },
    }
    assert secret_strings(body) == {"sk-1234", "Bearer abcd", "tts-key", "one-id", "two-value"}
