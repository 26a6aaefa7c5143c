"""Build the engine's and the Platform's clients from the project settings.

``engine: sandbox`` (``platform: sandbox``) needs the caller to pass the sandbox's ASGI
transport (the engine package does not import the sandbox); the client then talks to the
sandbox's base URL through it, with the settings' auth or, when they set none, the sandbox's
default ``sandbox:sandbox``. Any other engine is resolved with :func:`resolve_endpoints` (any
other Platform with :func:`resolve_platform`) and authenticated as ``settings.auth`` says. The
client's in-flight limit is ``settings.parallelism`` unless the caller passes its own
(``apply --parallelism N``): a limit below the caller's own concurrency would silently cap it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx

from reconciler.engine.auth import AuthProvider, BasicAuth, auth_from_settings
from reconciler.engine.client import EngineClient
from reconciler.engine.endpoints import SANDBOX_BASE_URL, resolve_endpoints
from reconciler.engine.layered import LayeredClient
from reconciler.engine.platform.client import PlatformClient
from reconciler.engine.platform.endpoints import resolve_platform
from reconciler.engine.platform.rules import SANDBOX_BASE_URL as PLATFORM_SANDBOX_BASE_URL
from reconciler.engine.retry import RetryPolicy
from reconciler.errors import SettingsError
from reconciler.models.settings import Settings, is_sandbox

SANDBOX_DEFAULT_CREDENTIALS = ("sandbox", "sandbox")
"""Customer id and secret a sandbox accepts when it was started without its own."""

_Client = TypeVar("_Client", bound=LayeredClient)


@dataclass(frozen=True)
class ClientOptions:
    """What a caller sets on a client instead of taking it from the settings."""

    transport: httpx.AsyncBaseTransport | None = None
    """Replaces the network (the in-process sandbox's ASGI transport)."""
    auth: AuthProvider | None = None
    """Replaces the settings' auth."""
    retry: RetryPolicy | None = None
    """Replaces ``RetryPolicy(settings.max_attempts)``."""
    max_connections: int | None = None
    """Replaces ``settings.parallelism`` as the in-flight limit."""
    on_response: Callable[[str, int], None] | None = None
    """Hears of every attempt (operation, HTTP status; 0 without an answer)."""

    def build(
        self, cls: type[_Client], settings: Settings, base_urls: Sequence[str], *, sandbox: bool
    ) -> _Client:
        """A ``cls`` client for ``settings`` at ``base_urls`` (a sandbox's when ``sandbox``)."""
        if sandbox and self.transport is None:
            service = "engine" if cls is EngineClient else "platform"
            raise SettingsError(f"{service}: sandbox needs the sandbox's in-process transport")
        return cls(
            settings.app_id,
            base_urls,
            self.auth if self.auth is not None else _auth(settings, sandbox=sandbox),
            transport=self.transport,
            timeout=settings.request_timeout_s,
            retry=self.retry if self.retry is not None else RetryPolicy(settings.max_attempts),
            max_connections=max(self.max_connections or settings.parallelism, 1),
            on_response=self.on_response,
        )


def build_client(settings: Settings, options: ClientOptions | None = None) -> EngineClient:
    """An engine client for ``settings`` (see the module docstring); close it after use."""
    sandbox = settings.uses_sandbox
    base_urls = [SANDBOX_BASE_URL] if sandbox else resolve_endpoints(settings.engine)
    return (options or ClientOptions()).build(EngineClient, settings, base_urls, sandbox=sandbox)


def build_platform_client(
    settings: Settings, options: ClientOptions | None = None
) -> PlatformClient:
    """A Platform client for ``settings.platform`` (see the module docstring)."""
    sandbox = is_sandbox(settings.platform)
    base_url = PLATFORM_SANDBOX_BASE_URL if sandbox else resolve_platform(settings.platform)
    return (options or ClientOptions()).build(PlatformClient, settings, [base_url], sandbox=sandbox)


def _auth(settings: Settings, *, sandbox: bool) -> AuthProvider:
    """The settings' auth; for a sandbox without credentials of its own, its default."""
    if sandbox:
        has_basic = settings.customer_id is not None and settings.customer_secret is not None
        uses_token = settings.auth == "token" and settings.app_certificate is not None
        if not (has_basic or uses_token):
            return BasicAuth(*SANDBOX_DEFAULT_CREDENTIALS)
    return auth_from_settings(settings)
