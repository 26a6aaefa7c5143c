"""The engine's ``Authorization`` header: HTTP Basic or an AccessToken2 (docs/engine-api.md).

* ``auth: basic``: ``Basic base64(customer_id:customer_secret)``; the RESTful credentials from
  ``AGORA_CUSTOMER_ID`` / ``AGORA_CUSTOMER_SECRET``.
* ``auth: token``: ``agora token=<AccessToken2>`` minted from the App ID and App Certificate as
  the SDK's ``stop_agent`` does (channel ``"stop"``, uid 0); cached and minted again shortly
  before it expires.

A provider is anything with a ``header() -> str`` method, so tests and callers can supply
their own; :class:`EngineAuth` is the httpx auth flow that puts its header on the client's
requests. The providers here never show a secret: their ``repr`` names the scheme only, and
error messages name the missing setting, not a value.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Generator
from typing import Protocol

import httpx

from reconciler.engine.tokens import mint_rest_token
from reconciler.errors import SettingsError
from reconciler.models.settings import Settings

REST_TOKEN_TTL_S = 3600
"""Lifetime of a minted REST token."""
REST_TOKEN_MARGIN_S = 300
"""A cached REST token is replaced when it has less than this left."""


class AuthProvider(Protocol):
    """Gives the value of the ``Authorization`` header for the next request."""

    def header(self) -> str:
        """The full header value (scheme included)."""
        ...


class BasicAuth:
    """``Authorization: Basic base64(customer_id:customer_secret)``."""

    def __init__(self, customer_id: str, customer_secret: str) -> None:
        if not customer_id or not customer_secret:
            raise SettingsError(
                "auth: basic needs AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET (both non-empty)"
            )
        if ":" in customer_id:
            raise SettingsError("AGORA_CUSTOMER_ID must not contain ':'")
        raw = f"{customer_id}:{customer_secret}".encode()
        self._value = "Basic " + base64.b64encode(raw).decode("ascii")

    def header(self) -> str:
        """The Basic header value."""
        return self._value

    def __repr__(self) -> str:
        return "BasicAuth(<redacted>)"


class TokenAuth:
    """``Authorization: agora token=<AccessToken2>``, minted from App ID + App Certificate.

    The token is cached and minted again once it has less than ``margin_s`` of its ``ttl_s``
    left. ``clock`` (wall-clock seconds) is injectable for tests.
    """

    def __init__(
        self,
        app_id: str,
        app_certificate: str,
        *,
        ttl_s: int = REST_TOKEN_TTL_S,
        margin_s: float = REST_TOKEN_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not app_certificate:
            raise SettingsError("auth: token needs app_certificate (AGORA_APP_CERTIFICATE)")
        if margin_s >= ttl_s:
            raise ValueError("margin_s must be smaller than ttl_s")
        self._app_id = app_id
        self._certificate = app_certificate
        self._ttl_s = ttl_s
        self._margin_s = margin_s
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self.minted = 0
        """How many tokens were minted (for tests and diagnostics)."""

    def header(self) -> str:
        """The token header value, minting a new token when the cached one is close to expiry."""
        now = self._clock()
        if not self._token or now >= self._expires_at - self._margin_s:
            self._token, self._expires_at = mint_rest_token(
                self._app_id, self._certificate, self._ttl_s, now
            )
            self.minted += 1
        return f"agora token={self._token}"

    def __repr__(self) -> str:
        return "TokenAuth(<redacted>)"


def auth_from_settings(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> AuthProvider:
    """The provider ``settings.auth`` asks for, or :class:`SettingsError` when credentials lack."""
    if settings.auth == "token":
        if settings.app_certificate is None:
            raise SettingsError("auth: token needs app_certificate (AGORA_APP_CERTIFICATE)")
        return TokenAuth(settings.app_id, settings.app_certificate.get_secret_value(), clock=clock)
    if settings.customer_id is None or settings.customer_secret is None:
        raise SettingsError(
            "auth: basic needs AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET in the environment"
        )
    return BasicAuth(
        settings.customer_id.get_secret_value(), settings.customer_secret.get_secret_value()
    )


class EngineAuth(httpx.Auth):
    """The client's httpx auth flow: sets the provider's header on each operation's request.

    The header is taken once per operation (its retries reuse it; a cached REST token is
    minted again well before it expires), and its credential parts are handed to ``remember``
    so that engine text quoting them can be scrubbed.
    """

    def __init__(self, provider: AuthProvider, remember: Callable[[str], None]) -> None:
        self._provider = provider
        self._remember = remember

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the ``Authorization`` header and send the request once."""
        header = self._provider.header()
        self._remember(header)
        request.headers["Authorization"] = header
        yield request

    def __repr__(self) -> str:
        return f"EngineAuth({self._provider!r})"
