"""Build an :class:`EngineClient` from the project settings.

``engine: sandbox`` needs the caller to pass the sandbox's ASGI transport (the engine package
does not import the sandbox); the client then talks to :data:`SANDBOX_BASE_URL` through it, with
Basic auth from the settings or, when none are set, the sandbox's default ``sandbox:sandbox``.
Any other engine is resolved with :func:`resolve_endpoints` and authenticated as
``settings.auth`` says. The client's in-flight limit is ``settings.parallelism`` unless the
caller passes its own (``apply --parallelism N``): a limit below the caller's own concurrency
would silently cap it.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from reconciler.engine.auth import AuthProvider, BasicAuth, auth_from_settings
from reconciler.engine.client import EngineClient
from reconciler.engine.endpoints import SANDBOX_BASE_URL, resolve_endpoints
from reconciler.engine.retry import RetryPolicy
from reconciler.errors import SettingsError
from reconciler.models.settings import Settings

SANDBOX_DEFAULT_CREDENTIALS = ("sandbox", "sandbox")
"""Customer id and secret a sandbox accepts when it was started without its own."""


def build_client(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: AuthProvider | None = None,
    retry: RetryPolicy | None = None,
    max_connections: int | None = None,
    on_response: Callable[[str, int], None] | None = None,
) -> EngineClient:
    """An engine client for ``settings`` (see the module docstring); close it after use."""
    if settings.uses_sandbox:
        if transport is None:
            raise SettingsError("engine: sandbox needs the sandbox's in-process transport")
        base_urls = [SANDBOX_BASE_URL]
        if auth is None:
            has_basic = settings.customer_id is not None and settings.customer_secret is not None
            uses_token = settings.auth == "token" and settings.app_certificate is not None
            auth = (
                auth_from_settings(settings)
                if has_basic or uses_token
                else BasicAuth(*SANDBOX_DEFAULT_CREDENTIALS)
            )
    else:
        base_urls = resolve_endpoints(settings.engine)
        if auth is None:
            auth = auth_from_settings(settings)
    return EngineClient(
        settings.app_id,
        base_urls,
        auth,
        transport=transport,
        timeout=settings.request_timeout_s,
        retry=retry if retry is not None else RetryPolicy(settings.max_attempts),
        max_connections=max(max_connections or settings.parallelism, 1),
        on_response=on_response,
    )
