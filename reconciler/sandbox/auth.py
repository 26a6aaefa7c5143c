"""Authentication of engine requests (docs/engine-api.md).

Two schemes: `Basic base64(customer_id:customer_secret)` compared with the configured
credentials, and `agora token=<AccessToken2>` (quoted or not) verified against the configured
App Certificate: signature, App ID (must be the `{appid}` of the path) and expiry. The channel
and uid inside the token are not checked (the SDK's own `stop_agent` uses channel "stop", uid 0).
Without a configured certificate, token auth cannot be verified and is rejected.

Anything missing, empty, malformed or wrong answers 401 with reason `InvalidPermission`.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from . import accesstoken
from .errors import ApiFailure

BASIC = "basic"
TOKEN = "token"


def _unauthorized(detail: str) -> ApiFailure:
    return ApiFailure(401, "InvalidPermission", detail)


def authenticate(
    header: str | None,
    *,
    app_id: str,
    customer_id: str,
    customer_secret: str,
    app_certificate: str | None,
    now: float,
) -> str:
    """Check an `Authorization` header; returns the scheme used or raises a 401 ApiFailure."""
    if header is None or not header.strip():
        raise _unauthorized("missing authorization header")
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme == "basic":
        _check_basic(rest, customer_id, customer_secret)
        return BASIC
    if scheme == "agora":
        key, sep, token = rest.partition("=")
        if not sep or key.strip().lower() != "token":
            raise _unauthorized("malformed agora token authorization header")
        token = token.strip()
        if len(token) >= 2 and token[0] == token[-1] == '"':
            token = token[1:-1].strip()
        if not token:
            raise _unauthorized("empty token")
        if app_certificate is None:
            raise _unauthorized("token authentication is not enabled for this project")
        try:
            accesstoken.verify(token, app_certificate=app_certificate, app_id=app_id, now=now)
        except accesstoken.TokenError as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        return TOKEN
    raise _unauthorized("unsupported authorization scheme")


def _check_basic(encoded: str, customer_id: str, customer_secret: str) -> None:
    if not encoded:
        raise _unauthorized("empty basic credentials")
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _unauthorized("malformed basic credentials") from None
    given_id, sep, given_secret = decoded.partition(":")
    ok_id = hmac.compare_digest(given_id.encode(), customer_id.encode())
    ok_secret = hmac.compare_digest(given_secret.encode(), customer_secret.encode())
    if not (sep and ok_id and ok_secret):
        raise _unauthorized("invalid customer id or customer secret")
