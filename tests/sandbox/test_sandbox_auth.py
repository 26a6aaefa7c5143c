"""Authentication: Basic with the configured credentials, `agora token=` (quoted or not) with an
AccessToken2 verified against the App Certificate; anything else is 401 InvalidPermission."""

from __future__ import annotations

import base64
import time

import pytest
from agora_agent.agentkit.token import generate_convo_ai_token, generate_rtc_token

from reconciler.sandbox import accesstoken
from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, CERT, Client, api

OTHER_CERT = "0" * 32


def _get_list(engine: Client, authorization: str | None) -> tuple[int, dict[str, str]]:
    headers = {} if authorization is None else {"Authorization": authorization}
    if authorization is None:
        response = engine._request("GET", api("/agents"), headers=headers)
    else:
        response = engine.request("GET", api("/agents"), headers=headers)
    return response.status_code, response.json()


def test_basic_auth_with_configured_credentials_is_accepted(engine: Client) -> None:
    assert engine.list().status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"customer-id:wrong").decode(),
        "Basic " + base64.b64encode(b"wrong:customer-secret").decode(),
        "Basic " + base64.b64encode(b"customer-id").decode(),
        "Basic not-base64!!",
        "Basic ",
        "",
        "   ",
        "Bearer abc",
        "agora token=",
        'agora token=""',
        "agora tokenx",
    ],
)
def test_wrong_or_malformed_authorization_returns_401_invalid_permission(
    engine: Client, authorization: str
) -> None:
    status, body = _get_list(engine, authorization)
    assert status == 401
    assert body["reason"] == "InvalidPermission"
    assert body["detail"]


def test_missing_authorization_header_returns_401(engine: Client) -> None:
    status, body = _get_list(engine, None)
    assert (status, body["reason"]) == (401, "InvalidPermission")


def test_token_auth_is_rejected_when_no_certificate_is_configured(engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001)
    status, body = _get_list(engine, f"agora token={token}")
    assert (status, body["reason"]) == (401, "InvalidPermission")


@pytest.mark.parametrize("quoted", [False, True])
def test_agora_token_quoted_or_unquoted_is_accepted(cert_engine: Client, quoted: bool) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001)
    value = f'agora token="{token}"' if quoted else f"agora token={token}"
    assert _get_list(cert_engine, value)[0] == 200


def test_rtc_only_token_with_uid_zero_is_accepted(cert_engine: Client) -> None:
    token = generate_rtc_token(APP_ID, CERT, "stop", 0)
    assert _get_list(cert_engine, f"agora token={token}")[0] == 200


def test_token_signed_with_another_certificate_returns_401(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, OTHER_CERT, "room-1", 1001)
    status, body = _get_list(cert_engine, f"agora token={token}")
    assert (status, body["reason"]) == (401, "InvalidPermission")
    assert "signature" in body["detail"]


def test_token_for_another_app_id_returns_401(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID_2, CERT, "room-1", 1001)
    status, body = _get_list(cert_engine, f"agora token={token}")
    assert (status, body["reason"]) == (401, "InvalidPermission")
    assert "app id" in body["detail"]


def test_expired_token_returns_401(cert_engine: Client) -> None:
    now = int(time.time())
    token = accesstoken.build(APP_ID, CERT, issue_ts=now - 7200, expire=3600)
    status, body = _get_list(cert_engine, f"agora token={token}")
    assert (status, body["reason"]) == (401, "InvalidPermission")
    assert "expired" in body["detail"]


def test_tampered_token_returns_401(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    assert _get_list(cert_engine, f"agora token={tampered}")[0] == 401


def test_basic_auth_still_works_when_a_certificate_is_configured(cert_engine: Client) -> None:
    assert cert_engine.list().status_code == 200


def test_control_routes_need_no_authorization(engine: Client) -> None:
    response = engine._request("GET", "/_sandbox/agents", headers={})
    assert response.status_code == 200


# -- AccessToken2 implementation, checked against the SDK's builder -----------------------------


def test_parses_sdk_convo_ai_token_fields() -> None:
    before = int(time.time())
    token = generate_convo_ai_token(APP_ID, CERT, "room-9", 1234, token_expire=600)
    parsed = accesstoken.parse(token)
    assert parsed.app_id == APP_ID
    assert before <= parsed.issue_ts <= before + 5
    assert parsed.expire == 600
    assert parsed.expires_at == parsed.issue_ts + 600
    rtc, rtm = parsed.services
    assert (rtc.type, rtc.strings) == (accesstoken.SERVICE_RTC, ("room-9", "1234"))
    assert (rtm.type, rtm.strings) == (accesstoken.SERVICE_RTM, ("1234",))
    assert parsed.signature_matches(CERT)
    assert not parsed.signature_matches(OTHER_CERT)


def test_rtc_join_privilege_shorter_than_token_sets_the_agent_expiry() -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "c", 5, token_expire=100, privilege_expire=40)
    parsed = accesstoken.parse(token)
    assert parsed.rtc_expires_at == parsed.issue_ts + 40


def test_built_token_verifies_like_an_sdk_token() -> None:
    now = int(time.time())
    token = accesstoken.build(
        APP_ID, CERT, issue_ts=now, expire=60, services=(accesstoken.rtc_service("c", 7, 60),)
    )
    parsed = accesstoken.verify(token, app_certificate=CERT, app_id=APP_ID, now=now + 1)
    assert parsed.services[0].strings == ("c", "7")
    with pytest.raises(accesstoken.TokenError, match="expired"):
        accesstoken.verify(token, app_certificate=CERT, app_id=APP_ID, now=now + 60)


@pytest.mark.parametrize("token", ["", "006abc", "007", "007!!!", "007" + "QUJD"])
def test_malformed_tokens_raise_token_error(token: str) -> None:
    with pytest.raises(accesstoken.TokenError):
        accesstoken.parse(token)
