"""Token minting with the SDK's builders, and the Authorization header providers."""

from __future__ import annotations

import base64
import time

import pytest

from reconciler.engine.auth import BasicAuth, TokenAuth, auth_from_settings
from reconciler.engine.tokens import MAX_TOKEN_TTL_S, mint_agent_token, mint_rest_token, parse_uid
from reconciler.errors import SettingsError
from reconciler.models.settings import Settings
from reconciler.sandbox import accesstoken
from tests.engine.engine_helpers import APP_ID, CERT


def _verify(token: str) -> accesstoken.AccessToken2:
    return accesstoken.verify(token, app_certificate=CERT, app_id=APP_ID, now=time.time())


def test_rtc_agent_token_verifies_and_names_channel_and_uid() -> None:
    now = time.time()
    token, expires_at = mint_agent_token(APP_ID, CERT, "support-en", "1001", 3600, now, False)
    parsed = _verify(token)
    assert expires_at == now + 3600
    assert parsed.expire == 3600
    assert [s.type for s in parsed.services] == [accesstoken.SERVICE_RTC]
    assert parsed.services[0].strings == ("support-en", "1001")
    with pytest.raises(accesstoken.TokenError):
        accesstoken.verify(token, app_certificate="x" * 32, app_id=APP_ID, now=now)


def test_uid_zero_means_any_uid() -> None:
    token, _ = mint_agent_token(APP_ID, CERT, "room", "0", 600, time.time(), False)
    assert _verify(token).services[0].strings == ("room", "")


def test_rtm_agent_token_carries_rtc_and_rtm_services() -> None:
    token, _ = mint_agent_token(APP_ID, CERT, "room", "42", 600, time.time(), True)
    parsed = _verify(token)
    assert [s.type for s in parsed.services] == [accesstoken.SERVICE_RTC, accesstoken.SERVICE_RTM]
    assert parsed.services[1].strings == ("42",)


def test_ttl_is_capped_at_24_hours() -> None:
    now = time.time()
    token, expires_at = mint_agent_token(APP_ID, CERT, "room", "1", 10**6, now, False)
    assert _verify(token).expire == MAX_TOKEN_TTL_S
    assert expires_at == now + MAX_TOKEN_TTL_S
    with pytest.raises(SettingsError, match="positive"):
        mint_agent_token(APP_ID, CERT, "room", "1", 0, now, False)


@pytest.mark.parametrize("uid", ["alice", "", "-1", "1.5", "4294967296", "١٢"])
def test_string_uids_are_refused_clearly(uid: str) -> None:
    with pytest.raises(SettingsError, match="numeric RTC uids"):
        mint_agent_token(APP_ID, CERT, "room", uid, 600, time.time(), False)


def test_parse_uid_accepts_the_full_range() -> None:
    assert parse_uid(" 4294967295 ") == 4294967295
    assert parse_uid("0") == 0


def test_bad_credentials_name_lengths_never_values() -> None:
    secret = "short-secret-value"
    with pytest.raises(SettingsError) as info:
        mint_agent_token(APP_ID, secret, "room", "1", 600, time.time(), False)
    assert secret not in str(info.value)
    assert "app_certificate is 18 characters" in str(info.value)


def test_rest_token_is_minted_like_the_sdks_stop_agent() -> None:
    token, _ = mint_rest_token(APP_ID, CERT, 3600, time.time())
    parsed = _verify(token)
    assert parsed.services[0].strings[0] == "stop"
    assert [s.type for s in parsed.services] == [accesstoken.SERVICE_RTC, accesstoken.SERVICE_RTM]


def test_basic_auth_header_and_repr() -> None:
    auth = BasicAuth("cust-id", "cust-secret")
    assert auth.header() == "Basic " + base64.b64encode(b"cust-id:cust-secret").decode()
    assert "cust" not in repr(auth)
    with pytest.raises(SettingsError):
        BasicAuth("", "x")


def test_token_auth_caches_and_remints_before_expiry() -> None:
    clock = [time.time()]
    auth = TokenAuth(APP_ID, CERT, ttl_s=3600, margin_s=300, clock=lambda: clock[0])
    first = auth.header()
    assert first.startswith("agora token=007")
    assert auth.header() == first and auth.minted == 1
    clock[0] += 3000  # still more than the margin left
    assert auth.header() == first
    clock[0] += 301  # inside the margin: a fresh token
    assert auth.minted == 1 and auth.header() != first and auth.minted == 2
    assert CERT not in repr(auth)


def test_auth_from_settings_picks_the_scheme_and_reports_missing_credentials() -> None:
    base = {"project_dir": "."}
    basic = Settings.model_validate({**base, "customer_id": "id", "customer_secret": "secret"})
    assert isinstance(auth_from_settings(basic), BasicAuth)
    token = Settings.model_validate({**base, "auth": "token", "app_certificate": CERT})
    assert isinstance(auth_from_settings(token), TokenAuth)
    with pytest.raises(SettingsError, match="AGORA_CUSTOMER_ID"):
        auth_from_settings(Settings.model_validate(base))
    with pytest.raises(SettingsError, match="app_certificate"):
        auth_from_settings(Settings.model_validate({**base, "auth": "token"}))


def test_the_sdk_token_module_is_the_sdks_own_file_loaded_without_the_whole_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random
    import sys
    import warnings

    from reconciler.engine import tokens

    standalone = tokens._load_sdk_file()
    assert standalone is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import agora_agent.agentkit.token as sdk

    assert standalone.__file__ == sdk.__file__
    assert standalone.__name__ not in sys.modules  # private: the SDK's own module is untouched
    # same code, same inputs (salt and clock pinned): the same token
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    minted = []
    for module in (standalone, sdk):
        random.seed(7)
        minted.append(
            module.generate_convo_ai_token(
                app_id=APP_ID, app_certificate=CERT, channel_name="c", uid=5, token_expire=600
            )
        )
    assert minted[0] == minted[1]


def test_minting_many_tokens_searches_the_import_path_at_most_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK's builders import an optional package on every call; when it is absent, that
    failed import must not cost a search of the whole import path per token."""
    import importlib.machinery

    mint_agent_token(APP_ID, CERT, "room", "42", 600, time.time(), True)  # the SDK is loaded
    searches: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searches.append(name)
        return find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
    for number in range(20):
        token, _ = mint_agent_token(APP_ID, CERT, f"room-{number}", "42", 600, time.time(), True)
        assert _verify(token).services[0].strings == (f"room-{number}", "42")
    assert searches == []
