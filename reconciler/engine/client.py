"""The async REST client of the engine (docs/engine-api.md).

:class:`EngineClient` sends through :class:`~reconciler.engine.pools.ConnectionPools`. Every
call goes through :meth:`EngineClient._request` (retries, endpoint fail-over, timeouts) and then
:meth:`EngineClient._raise_for_status` / :func:`~reconciler.engine.wire.parse_body`; together
they are the one place where failures become exceptions:

* non-2xx (after retries) -> :class:`~reconciler.errors.EngineError` with ``status``,
  ``reason`` and ``detail`` from the body (current, legacy or non-JSON);
* 2xx whose body is not JSON or has the wrong shape -> :class:`EngineProtocolError`;
* timeouts, connection errors, and 429/5xx that outlast every attempt ->
  :class:`EngineUnavailableError`.

Request bodies carry secrets (vendor keys, tokens): they never appear in an exception, and
engine-supplied text is scrubbed of any secret the request carried before it is quoted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.engine.auth import AuthProvider
from reconciler.engine.pools import ConnectionPools
from reconciler.engine.retry import RetryEvent, RetryPolicy, is_retryable_status
from reconciler.engine.wire import (
    GetBody,
    ListBody,
    StatusBody,
    TurnsBody,
    error_fields,
    host_of,
    is_not_found,
    parse_body,
    scrub,
    status_name,
    to_ts,
    transport_cause,
)
from reconciler.errors import (
    EngineError,
    EngineProtocolError,
    EngineUnavailableError,
    NameConflictError,
)
from reconciler.models.live import ENDED_STATUSES, STATUS_CODES, LiveAgent
from reconciler.models.secrets import secret_strings

ALL_STATES: tuple[int, ...] = tuple(sorted(STATUS_CODES.values()))
"""Every status code (0..6), sent explicitly because the engine's default filter is unknown."""
MAX_LIST_PAGES = 10_000
"""Guard against an engine whose cursors never end."""
# Failures worth another attempt; others (UnsupportedProtocol, LocalProtocolError) are bugs.
# A bare ConnectionError is how an in-process (ASGI) server's dropped connection surfaces.
_RETRYABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    ConnectionError,
)
_CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout)


def _user_agent() -> str:
    try:
        version = metadata.version("reconciler")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"reconciler/{version}"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class JoinResult:
    """What the engine answered to a join."""

    agent_id: str
    create_ts: int | None
    status: str


@dataclass(frozen=True)
class AgentIdentity:
    """Who an agent is, from the engine's ``turns`` answer: the name it was joined with."""

    agent_id: str
    name: str
    channel: str


@dataclass
class _Delivery:
    """Whether a failed attempt of one request may still have reached the engine."""

    maybe_delivered: bool = False


class EngineClient:
    """Async client of the engine's v2 REST API for one App ID; use as ``async with``.

    ``base_urls`` are tried in order, moving to the next on a connection failure (and staying
    there for later calls). ``transport`` replaces the network (the in-process sandbox's ASGI
    transport, or a mock in tests). ``timeout`` bounds each attempt as a whole. At most
    ``max_connections`` requests are in flight at once; give at least the apply parallelism.
    ``sleep`` and ``clock`` (monotonic seconds) drive :meth:`wait_stopped`'s polling.
    ``on_response`` hears of every attempt: the operation (``join``, ``list``, ...) and the HTTP
    status, 0 when no answer came (for metrics; it must not raise).
    """

    def __init__(
        self,
        app_id: str,
        base_urls: Sequence[str],
        auth: AuthProvider,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 10,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_response: Callable[[str, int], None] | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("EngineClient needs at least one base URL")
        if not app_id:
            raise ValueError("EngineClient needs an app_id")
        if max_connections < 1 or timeout <= 0:
            raise ValueError("max_connections must be >= 1 and timeout > 0")
        self.app_id = app_id
        self._base_urls = [url.rstrip("/") for url in base_urls]
        self._endpoint = 0
        self._auth = auth
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
        self._slots = asyncio.Semaphore(max_connections)
        self._sleep = sleep
        self._clock = clock
        self._on_response = on_response
        self._credentials: list[str] = []
        self._known_secrets: set[str] = set()
        self._pools = ConnectionPools(
            max_connections=max_connections,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
        )

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools (and the transport)."""
        await self._pools.aclose()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Also scrub these values from engine text (secrets the project knows, e.g. vendor keys
        sent at join that an error about a later call could quote)."""
        self._known_secrets.update(v for v in values if v)

    @property
    def endpoint(self) -> str:
        """The base URL the next request goes to."""
        return self._base_urls[self._endpoint]

    # ----------------------------------------------------------------------------- operations

    async def join(
        self,
        name: str,
        properties: Mapping[str, Any],
        preset: str | None = None,
        pipeline_id: str | None = None,
    ) -> JoinResult:
        """Start an agent (``POST /join``); 409 ``TaskConflict``, 422 etc. raise EngineError."""
        body: dict[str, Any] = {"name": name, "properties": dict(properties)}
        if preset is not None:
            body["preset"] = preset
        if pipeline_id is not None:
            body["pipeline_id"] = pipeline_id
        what = f"join of {name!r}"
        delivery = _Delivery()
        response = await self._request(
            "join", "POST", "join", what=what, body=body, delivery=delivery
        )
        try:
            self._raise_for_status(response, what, body)
        except EngineError as exc:
            if exc.status == 409 and exc.reason == "TaskConflict":
                raise NameConflictError(
                    str(exc), detail=exc.detail, resent=delivery.maybe_delivered
                ) from None
            raise
        parsed = parse_body(response, StatusBody, "join")
        return JoinResult(
            agent_id=parsed.agent_id,
            create_ts=to_ts(parsed.create_ts),
            status=status_name(parsed.status, parsed.state) or "STARTING",
        )

    async def leave(self, agent_id: str) -> bool:
        """Stop an agent; True if the engine accepted, False if it was already gone (404)."""
        what = f"leave of agent {agent_id}"
        response = await self._request("leave", "POST", f"agents/{_seg(agent_id)}/leave", what=what)
        if response.status_code == 404 and is_not_found(response):
            return False
        self._raise_for_status(response, what, None)
        return True

    async def update(self, agent_id: str, properties: Mapping[str, Any]) -> None:
        """Change an agent in place (token, llm.system_messages, llm.params, mllm.params)."""
        body: dict[str, Any] = {"properties": dict(properties)}
        what = f"update of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}/update"
        response = await self._request("update", "POST", path, what=what, body=body)
        self._raise_for_status(response, what, body)
        if response.content.strip():
            parse_body(response, StatusBody, "update")

    async def get(self, agent_id: str) -> LiveAgent:
        """One agent's status; ``LiveAgent(status="MISSING")`` when the engine does not know it."""
        what = f"get of agent {agent_id}"
        response = await self._request("get", "GET", f"agents/{_seg(agent_id)}", what=what)
        if response.status_code == 404 and is_not_found(response):
            return LiveAgent(agent_id=agent_id, status="MISSING")
        self._raise_for_status(response, what, None)
        parsed = parse_body(response, GetBody, "get")
        status = status_name(parsed.status, parsed.state)
        if not status:
            raise EngineProtocolError(
                f"engine answered {response.status_code} to get with JSON of the wrong shape "
                "(no status)",
                status=response.status_code,
            )
        return LiveAgent(
            agent_id=parsed.agent_id or agent_id,
            status=status,
            start_ts=to_ts(parsed.start_ts) or None,
            stop_ts=to_ts(parsed.stop_ts) or None,
            message=self._scrub(parsed.message) or None,
        )

    async def identify(self, agent_id: str) -> AgentIdentity:
        """The name and channel the agent was joined with, from ``GET .../turns``.

        Only the first page of one turn is asked for; the turns themselves are not read. An
        unknown agent (404) or any other failure raises like every call of this client.
        """
        what = f"turns of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}/turns"
        params = {"page_index": "1", "page_size": "1"}
        response = await self._request("turns", "GET", path, what=what, params=params)
        self._raise_for_status(response, what, None)
        parsed = parse_body(response, TurnsBody, "turns")
        if not parsed.name or not parsed.channel:
            raise EngineProtocolError(
                f"engine answered {response.status_code} to turns without the agent's name "
                "and channel",
                status=response.status_code,
            )
        return AgentIdentity(
            agent_id=parsed.agent_id or agent_id, name=parsed.name, channel=parsed.channel
        )

    async def list_agents(
        self,
        *,
        channel: str | None = None,
        states: Sequence[int] | None = None,
        from_time: int | None = None,
        to_time: int | None = None,
        limit: int = 100,
    ) -> list[LiveAgent]:
        """Every agent matching the filters, following ``meta.cursor`` across pages.

        ``states`` defaults to every state (always sent explicitly, comma-separated). Agents are
        returned in the engine's order, each once; with ``channel`` they carry that channel.
        """
        codes = ALL_STATES if states is None else tuple(states)
        if not codes or any(code not in ALL_STATES for code in codes):
            raise ValueError(f"states must be non-empty codes from {ALL_STATES}")
        if limit < 1:
            raise ValueError("limit must be >= 1")
        params: dict[str, str] = {"state": ",".join(str(code) for code in codes)}
        if channel is not None:
            params["channel"] = channel
        if from_time is not None:
            params["from_time"] = str(int(from_time))
        if to_time is not None:
            params["to_time"] = str(int(to_time))
        params["limit"] = str(limit)
        found: dict[str, LiveAgent] = {}
        seen_cursors: set[str] = set()
        cursor = ""
        for _page in range(MAX_LIST_PAGES):
            query = dict(params, cursor=cursor) if cursor else params
            what = "list of agents"
            response = await self._request("list", "GET", "agents", what=what, params=query)
            self._raise_for_status(response, what, None)
            page = parse_body(response, ListBody, "list")
            for item in page.data.items:
                if item.agent_id not in found:
                    found[item.agent_id] = LiveAgent(
                        agent_id=item.agent_id,
                        status=status_name(item.status, item.state) or "UNKNOWN",
                        start_ts=to_ts(item.start_ts) or None,
                        channel=channel,
                    )
            cursor = (page.meta.cursor if page.meta is not None else None) or ""
            if not cursor:
                return list(found.values())
            if cursor in seen_cursors:
                raise EngineProtocolError(
                    "engine's list paging went in a loop (a cursor came back twice)", status=200
                )
            seen_cursors.add(cursor)
        raise EngineProtocolError(f"engine's list paging did not end after {MAX_LIST_PAGES} pages")

    async def wait_stopped(
        self, agent_id: str, timeout: float, poll_interval: float = 1.0
    ) -> LiveAgent:
        """Poll GET until the agent is STOPPED, FAILED or MISSING; EngineError after ``timeout``."""
        deadline = self._clock() + timeout
        while True:
            agent = await self.get(agent_id)
            if agent.status in ENDED_STATUSES or agent.status == "MISSING":
                return agent
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise EngineError(
                    f"agent {agent_id} did not stop within {timeout:g} s (still {agent.status})",
                    reason="StopTimeout",
                )
            await self._sleep(min(poll_interval, remaining))

    # ------------------------------------------------------------------------------ machinery

    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        delivery: _Delivery | None = None,
    ) -> httpx.Response:
        """Send with retries and fail-over; returns the first non-retryable answer.

        ``delivery`` learns whether an attempt that failed may have reached the engine anyway
        (anything but a refused connection), which tells a join's 409 apart from a conflict
        with a name that was already held.
        """
        delivery = delivery if delivery is not None else _Delivery()
        tried: set[int] = set()
        attempt = 0
        while True:
            attempt += 1
            index = self._endpoint
            tried.add(index)
            base = self._base_urls[index]
            try:
                response = await self._send_once(method, base, path, body, params)
                if self._on_response is not None:
                    self._on_response(operation, response.status_code)
            except (*_RETRYABLE_TRANSPORT, asyncio.TimeoutError) as exc:
                if self._on_response is not None:
                    self._on_response(operation, 0)
                refused = _certificate_failure(exc)
                if refused is not None:  # never retried, never bypassed
                    raise EngineError(
                        f"engine refused: {what}: the TLS certificate of {host_of(base)} could "
                        f"not be verified ({refused}); verification cannot be turned off: fix "
                        "the certificate, or trust its CA with SSL_CERT_FILE"
                    ) from exc
                connect_failed = isinstance(exc, _CONNECT_FAILURES)
                delivery.maybe_delivered |= not connect_failed
                cause = "connection error" if connect_failed else transport_cause(exc)
                if connect_failed and len(self._base_urls) > 1:
                    self._endpoint = (index + 1) % len(self._base_urls)
                if not self._retry.should_retry(attempt):
                    raise EngineUnavailableError(
                        f"engine unavailable: {what} failed after {attempt} attempt"
                        f"{'s' if attempt != 1 else ''} ({cause} at {host_of(base)})"
                    ) from exc
                fresh = connect_failed and self._endpoint not in tried
                delay = 0.0 if fresh else self._retry.delay(attempt)
                await self._retry.pause(
                    RetryEvent(operation, attempt, self._retry.max_attempts, delay, cause, 0, base)
                )
                continue
            except httpx.HTTPError as exc:
                raise EngineError(
                    f"engine request failed: {what} ({type(exc).__name__} at {host_of(base)})"
                ) from exc
            status = response.status_code
            if not is_retryable_status(status):
                return response
            delivery.maybe_delivered |= status != 429
            reason, detail = self._error_fields(response, body)
            cause = f"HTTP {status}" + (f" {reason}" if reason else "")
            if not self._retry.should_retry(attempt):
                raise EngineUnavailableError(
                    f"engine unavailable: {what} answered {cause} after {attempt} attempt"
                    f"{'s' if attempt != 1 else ''}",
                    status=status,
                    reason=reason,
                    detail=detail,
                )
            delay = self._retry.delay(attempt, response.headers.get("retry-after"))
            await self._retry.pause(
                RetryEvent(operation, attempt, self._retry.max_attempts, delay, cause, status, base)
            )

    async def _send_once(
        self,
        method: str,
        base: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One attempt, bounded as a whole by the timeout and by the connection slots."""
        url = f"{base}/v2/projects/{_seg(self.app_id)}/{path}"
        header = self._auth.header()
        self._remember(header)
        headers = {"Authorization": header}
        async with self._slots, self._pools.client() as pool:
            return await asyncio.wait_for(
                pool.request(method, url, json=body, params=params, headers=headers),
                timeout=self._timeout,
            )

    def _raise_for_status(
        self, response: httpx.Response, what: str, body: Mapping[str, Any] | None
    ) -> None:
        """Map a non-2xx answer to :class:`EngineError` (the one place that does)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        reason, detail = self._error_fields(response, body)
        text = f"engine refused {what}: HTTP {status}"
        text += f" {reason}" if reason else ""
        text += f": {detail}" if detail else ""
        raise EngineError(text, status=status, reason=reason, detail=detail)

    def _remember(self, header: str) -> None:
        """Keep the credential parts of recent auth headers, to scrub them from engine text:
        the header's credential and, for Basic, the ``id:secret`` it encodes and the secret."""
        credential = header.split("=", 1)[-1] if "token=" in header else header.split(" ", 1)[-1]
        if credential in self._credentials:
            return
        parts = [credential]
        if header.startswith("Basic "):
            try:
                pair = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            parts += [pair, pair.partition(":")[2]] if pair else []
        self._credentials = [*self._credentials[-9:], *parts]

    def _error_fields(
        self, response: httpx.Response, body: Mapping[str, Any] | None
    ) -> tuple[str, str]:
        """``(reason, detail)`` of an error answer, both scrubbed of every secret known here."""
        reason, detail = error_fields(response)
        return self._scrub(reason, body), self._scrub(detail, body)

    def _scrub(self, text: str | None, body: Mapping[str, Any] | None = None) -> str:
        """Engine-supplied ``text`` without any secret known here (see :func:`scrub`)."""
        if not text:
            return ""
        secrets = secret_strings(body) if body is not None else set()
        return scrub(text, [*secrets, *self._known_secrets, *self._credentials])


def _certificate_failure(exc: BaseException) -> str | None:
    """Why TLS verification failed, when that is what ``exc`` (or its cause) is; else None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "certificate verify failed")
        seen = seen.__cause__ or seen.__context__
    return None


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded."""
    return quote(value, safe="")
