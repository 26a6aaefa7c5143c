"""The async REST client of the Conversational AI Platform (docs/platform-api.md).

:class:`PlatformClient` sends its operations through the engine client's layers: the auth flow
(:class:`~reconciler.engine.auth.EngineAuth`), the retry transport (attempts, backoff,
``Retry-After``, in-flight limit) and the pooled network transport or the in-process
sandbox's ASGI transport. Non-2xx answers become exceptions in the one error table
(:mod:`reconciler.engine.errors_map`), worded ``platform refused ...``.

Creates have no idempotency key on the Platform, so a create is never sent a second time once
an attempt may have reached it: it fails with
:class:`~reconciler.engine.platform.errors.OutcomeUnknownError` and the caller looks for the
resource (list and match) before trying again. Secret values (secret sets' values, SIP
passwords) are added to the client's scrubber before they are sent, so no error quotes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.engine.auth import AuthProvider, BasicAuth, EngineAuth, auth_from_settings
from reconciler.engine.call import Call
from reconciler.engine.client import USER_AGENT
from reconciler.engine.endpoints import Endpoints
from reconciler.engine.errors_map import error_for_status
from reconciler.engine.platform.endpoints import resolve_platform
from reconciler.engine.platform.rules import (
    MAX_PAGES,
    NOT_FOUND_REASON,
    PAGE_SIZE,
    SANDBOX_BASE_URL,
    VERSION_PATH,
)
from reconciler.engine.platform.wire import Versioned, page, reason_of, resource
from reconciler.engine.pools import PooledTransport
from reconciler.engine.retry import RetryPolicy
from reconciler.engine.scrubbing import Scrubber
from reconciler.engine.transport import ResponseHook, RetryTransport
from reconciler.errors import EngineProtocolError, SettingsError
from reconciler.models.secrets import secret_strings
from reconciler.models.settings import Settings, is_sandbox

SANDBOX_DEFAULT_CREDENTIALS = ("sandbox", "sandbox")
"""Customer id and secret a sandbox accepts when it was started without its own."""


@dataclass(frozen=True)
class KeyWrite:
    """The answer to setting one secret key: whether it was new, the key's ETag and the set."""

    created: bool
    etag: str | None
    secret_set: dict[str, Any]


class PlatformClient:
    """Async client of the Platform's REST API for one project (App ID); ``async with``.

    ``base_url`` ends in ``/conversational-ai``. ``transport`` replaces the network (the
    sandbox's ASGI transport). At most ``max_connections`` requests are in flight at once.
    ``on_response`` hears of every attempt (operation, HTTP status; 0 without an answer).
    """

    def __init__(
        self,
        app_id: str,
        base_url: str,
        auth: AuthProvider,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 10,
        on_response: ResponseHook | None = None,
    ) -> None:
        if not app_id:
            raise ValueError("PlatformClient needs an app_id")
        if max_connections < 1 or timeout <= 0:
            raise ValueError("max_connections must be >= 1 and timeout > 0")
        self.app_id = app_id
        self._endpoints = Endpoints([base_url])
        self._secrets = Scrubber()
        network = transport if transport is not None else PooledTransport(max_connections)
        self._http = httpx.AsyncClient(
            auth=EngineAuth(auth, self._secrets.remember),
            transport=RetryTransport(
                network,
                self._endpoints,
                retry if retry is not None else RetryPolicy(),
                timeout=timeout,
                max_in_flight=max_connections,
                on_response=on_response,
            ),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (and the transport)."""
        await self._http.aclose()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Values to scrub from every text the client quotes (the manifests' secrets)."""
        self._secrets.add(values)

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self._endpoints.current

    # ------------------------------------------------------------------------- secret sets

    async def create_secret_set(self, name: str, secrets: Mapping[str, str]) -> Versioned:
        """``POST /secrets``; :class:`AlreadyExistsError` when the name is taken."""
        self._secrets.add(secrets.values())
        body = {"name": name, "secrets": dict(secrets)}
        response = await self._send(
            "create-secret-set",
            "POST",
            "secrets",
            what=f"create of secret set {name!r}",
            body=body,
            resend_safe=False,
        )
        return resource(response, "create-secret-set", "name")

    async def get_secret_set(self, name: str) -> Versioned | None:
        """``GET /secrets/{name}``: its key names and ETag, or None when it does not exist."""
        return await self._get(
            "retrieve-secret-set",
            f"secrets/{_seg(name)}",
            "name",
            f"retrieve of secret set {name!r}",
        )

    async def list_secret_sets(self) -> list[dict[str, Any]]:
        """Every secret set (names and key names), oldest first, across pages."""
        return await self._list("list-secret-sets", "secrets", "secret sets")

    async def replace_secret_set(
        self, name: str, secrets: Mapping[str, str], if_match: str
    ) -> Versioned:
        """``PUT /secrets/{name}``: the set holds exactly ``secrets`` afterwards."""
        self._secrets.add(secrets.values())
        response = await self._send(
            "replace-secret-set",
            "PUT",
            f"secrets/{_seg(name)}",
            what=f"replace of secret set {name!r}",
            body={"secrets": dict(secrets)},
            if_match=if_match,
        )
        return resource(response, "replace-secret-set", "name")

    async def update_secret_set(
        self, name: str, changes: Mapping[str, str | None], if_match: str | None = None
    ) -> Versioned:
        """``PATCH /secrets/{name}``: a string sets a key, None removes it."""
        self._secrets.add(v for v in changes.values() if v is not None)
        response = await self._send(
            "update-secret-set",
            "PATCH",
            f"secrets/{_seg(name)}",
            what=f"update of secret set {name!r}",
            body={"secrets": dict(changes)},
            if_match=if_match,
        )
        return resource(response, "update-secret-set", "name")

    async def delete_secret_set(self, name: str, if_match: str) -> bool:
        """``DELETE /secrets/{name}``; False when it did not exist (any more)."""
        return await self._delete(
            "delete-secret-set", f"secrets/{_seg(name)}", f"delete of secret set {name!r}", if_match
        )

    async def set_secret_key(
        self,
        name: str,
        key: str,
        value: str,
        *,
        if_match: str | None = None,
        only_if_absent: bool = False,
    ) -> KeyWrite:
        """``PUT /secrets/{name}/keys/{key}``: add or rotate one key (safe to repeat).

        ``if_match`` is the key's ETag from the last write; ``only_if_absent`` sends
        ``If-None-Match: *`` (a live value is never overwritten).
        """
        self._secrets.add([value])
        headers = {"If-None-Match": "*"} if only_if_absent else {}
        response = await self._send(
            "set-secret-key",
            "PUT",
            f"secrets/{_seg(name)}/keys/{_seg(key)}",
            what=f"write of key {key!r} of secret set {name!r}",
            body={"value": value},
            if_match=if_match,
            headers=headers,
        )
        answer = resource(response, "set-secret-key", "name")
        return KeyWrite(response.status_code == 201, answer.etag, answer.body)

    async def delete_secret_key(self, name: str, key: str, if_match: str | None = None) -> bool:
        """``DELETE /secrets/{name}/keys/{key}``; False when the key did not exist."""
        return await self._delete(
            "delete-secret-key",
            f"secrets/{_seg(name)}/keys/{_seg(key)}",
            f"delete of key {key!r} of secret set {name!r}",
            if_match,
        )

    # ------------------------------------------------------------------------------ agents

    async def create_agent(self, config: Mapping[str, Any]) -> Versioned:
        """``POST /agents`` (never resent: see the module)."""
        name = config.get("agent_name")
        response = await self._send(
            "create-agent",
            "POST",
            "agents",
            what=f"create of agent {name!r}",
            body=dict(config),
            resend_safe=False,
        )
        return resource(response, "create-agent", "agent_id")

    async def get_agent(self, agent_id: str) -> Versioned | None:
        """``GET /agents/{agent_id}``, or None when it does not exist."""
        return await self._get(
            "retrieve-agent",
            f"agents/{_seg(agent_id)}",
            "agent_id",
            f"retrieve of agent {agent_id}",
        )

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every saved agent, oldest first, across pages."""
        return await self._list("list-agents", "agents", "agents")

    async def update_agent(
        self, agent_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        """``PATCH /agents/{agent_id}`` with a JSON merge patch; 412 ->
        :class:`PreconditionFailedError`."""
        response = await self._send(
            "update-agent",
            "PATCH",
            f"agents/{_seg(agent_id)}",
            what=f"update of agent {agent_id}",
            body=dict(patch),
            if_match=if_match,
        )
        return resource(response, "update-agent", "agent_id")

    async def delete_agent(self, agent_id: str, if_match: str | None = None) -> bool:
        """``DELETE /agents/{agent_id}``; False when it did not exist (any more)."""
        return await self._delete(
            "delete-agent", f"agents/{_seg(agent_id)}", f"delete of agent {agent_id}", if_match
        )

    # ------------------------------------------------------------------------------ numbers

    async def create_number(self, spec: Mapping[str, Any]) -> Versioned:
        """``POST /numbers`` (never resent: see the module)."""
        response = await self._send(
            "create-number",
            "POST",
            "numbers",
            what=f"create of phone number {spec.get('number')!r}",
            body=dict(spec),
            resend_safe=False,
        )
        return resource(response, "create-number", "number_id")

    async def get_number(self, number_id: str) -> Versioned | None:
        """``GET /numbers/{number_id}``, or None when it does not exist."""
        return await self._get(
            "retrieve-number",
            f"numbers/{_seg(number_id)}",
            "number_id",
            f"retrieve of phone number {number_id}",
        )

    async def list_numbers(self) -> list[dict[str, Any]]:
        """Every phone number, oldest first, across pages."""
        return await self._list("list-numbers", "numbers", "phone numbers")

    async def update_number(
        self, number_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        """``PATCH /numbers/{number_id}`` (``sip_trunk`` and ``inbound`` replace whole)."""
        response = await self._send(
            "update-number",
            "PATCH",
            f"numbers/{_seg(number_id)}",
            what=f"update of phone number {number_id}",
            body=dict(patch),
            if_match=if_match,
        )
        return resource(response, "update-number", "number_id")

    async def delete_number(self, number_id: str, if_match: str | None = None) -> bool:
        """``DELETE /numbers/{number_id}``; False when it did not exist (any more)."""
        return await self._delete(
            "delete-number",
            f"numbers/{_seg(number_id)}",
            f"delete of phone number {number_id}",
            if_match,
        )

    # ------------------------------------------------------------------------------ helpers

    async def _get(self, operation: str, path: str, id_field: str, what: str) -> Versioned | None:
        response = await self._send(operation, "GET", path, what=what, not_found_ok=True)
        if response.status_code == 404:
            return None
        return resource(response, operation, id_field)

    async def _delete(self, operation: str, path: str, what: str, if_match: str | None) -> bool:
        response = await self._send(
            operation, "DELETE", path, what=what, if_match=if_match, not_found_ok=True
        )
        return response.status_code != 404

    async def _list(self, operation: str, path: str, what: str) -> list[dict[str, Any]]:
        """Every item of a list, following ``next_cursor`` (oldest first, each once)."""
        params = {"limit": str(PAGE_SIZE[path]), "order": "create_ts.asc"}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        cursor = ""
        for _ in range(MAX_PAGES):
            query = dict(params, cursor=cursor) if cursor else params
            response = await self._send(
                operation, "GET", path, what=f"list of {what}", params=query
            )
            answer = page(response, operation)
            items.extend(answer.data.items)
            cursor = answer.next_cursor or ""
            if not answer.has_more or not cursor:
                return items
            if cursor in seen:
                raise EngineProtocolError(
                    f"platform's list of {what} went in a loop (a cursor came back twice)",
                    status=200,
                )
            seen.add(cursor)
        raise EngineProtocolError(f"platform's list of {what} did not end after {MAX_PAGES} pages")

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        if_match: str | None = None,
        headers: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
        resend_safe: bool = True,
    ) -> httpx.Response:
        """Send one operation (the transport retries it) and give its 2xx answer; with
        ``not_found_ok``, a 404 ``NotFound`` (the resource does not exist) is returned too."""
        if body is not None:
            self._secrets.add(secret_strings(body))
        call = Call(
            operation,
            what,
            f"{VERSION_PATH}/{_seg(self.app_id)}/{path}",
            scrub=partial(self._secrets.scrub, body=body),
            service="platform",
            resend_safe=resend_safe,
        )
        extra = dict(headers or {})
        if if_match is not None:
            extra["If-Match"] = if_match
        url = f"{self._endpoints.current}/{call.path}"
        request = self._http.build_request(
            method, url, json=body, params=params, headers=extra or None
        )
        response = await self._http.send(call.attach(request))
        if 200 <= response.status_code < 300:
            return response
        if not_found_ok and response.status_code == 404 and reason_of(response) == NOT_FOUND_REASON:
            return response
        raise error_for_status(response, call)


def build_platform_client(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: AuthProvider | None = None,
    retry: RetryPolicy | None = None,
    max_connections: int | None = None,
    on_response: Callable[[str, int], None] | None = None,
) -> PlatformClient:
    """A Platform client for ``settings.platform``: ``sandbox`` through the caller's in-process
    transport (Basic auth from the settings, or the sandbox's default credentials), otherwise
    the resolved URL with the settings' auth (Basic, or a token from the App Certificate)."""
    if is_sandbox(settings.platform):
        if transport is None:
            raise SettingsError("platform: sandbox needs the sandbox's in-process transport")
        base_url = SANDBOX_BASE_URL
        if auth is None:
            has_basic = settings.customer_id is not None and settings.customer_secret is not None
            uses_token = settings.auth == "token" and settings.app_certificate is not None
            auth = (
                auth_from_settings(settings)
                if has_basic or uses_token
                else BasicAuth(*SANDBOX_DEFAULT_CREDENTIALS)
            )
    else:
        base_url = resolve_platform(settings.platform)
        if auth is None:
            auth = auth_from_settings(settings)
    return PlatformClient(
        settings.app_id,
        base_url,
        auth,
        transport=transport,
        timeout=settings.request_timeout_s,
        retry=retry if retry is not None else RetryPolicy(settings.max_attempts),
        max_connections=max(max_connections or settings.parallelism, 1),
        on_response=on_response,
    )


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded."""
    return quote(value, safe="")


__all__: Sequence[str] = ("KeyWrite", "PlatformClient", "Versioned", "build_platform_client")
