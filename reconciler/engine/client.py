"""The async REST client of the engine (docs/engine-api.md): the engine's operations.

:class:`EngineClient` is an :class:`httpx.AsyncClient` layered as httpx layers its own
concerns, and the operations on top:

* :class:`~reconciler.engine.auth.EngineAuth`, the auth flow, sets the ``Authorization``
  header (and remembers its credential for scrubbing);
* :class:`~reconciler.engine.transport.RetryTransport` makes the attempts: retries with
  backoff, endpoint fail-over, timeouts, the in-flight limit, retry events and metrics;
* :class:`~reconciler.engine.pools.PooledTransport` (or the caller's transport, e.g. the
  in-process sandbox) talks to the network.

Failures become exceptions in one place, :mod:`reconciler.engine.errors_map`: non-2xx answers
through its table (:class:`~reconciler.errors.EngineError` and subclasses with ``status``,
``reason`` and ``detail``), failures without an answer as
:class:`~reconciler.errors.EngineUnavailableError`. A 2xx whose body is not JSON or has the
wrong shape is an :class:`~reconciler.errors.EngineProtocolError`
(:func:`~reconciler.engine.wire.parse_body`).

Request bodies carry secrets (vendor keys, tokens): they never appear in an exception, and
engine-supplied text is scrubbed of every secret known to the client before it is quoted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.engine.auth import AuthProvider, EngineAuth
from reconciler.engine.call import Call
from reconciler.engine.endpoints import Endpoints
from reconciler.engine.errors_map import error_for_status
from reconciler.engine.pools import PooledTransport, needs_tls
from reconciler.engine.retry import RetryPolicy
from reconciler.engine.scrubbing import Scrubber
from reconciler.engine.transport import ResponseHook, RetryTransport
from reconciler.engine.wire import (
    GetBody,
    ListBody,
    StatusBody,
    TurnsBody,
    is_not_found,
    parse_body,
    status_name,
    to_ts,
)
from reconciler.errors import EngineError, EngineProtocolError
from reconciler.models.live import ENDED_STATUSES, STATUS_CODES, LiveAgent

ALL_STATES: tuple[int, ...] = tuple(sorted(STATUS_CODES.values()))
"""Every status code (0..6), sent explicitly because the engine's default filter is unknown."""
MAX_LIST_PAGES = 10_000
"""Guard against an engine whose cursors never end."""


@lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed, once for the many calls to the same URL (every join has one): httpx
    checks a URL character by character, a good part of building a request."""
    return httpx.URL(url)


USER_AGENT = f"reconciler/{__version__}"
"""The version ``reconciler --version`` prints (asking the installed package's metadata instead
searched the import path, about 0.3 s before an apply's first call on a busy machine)."""


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
        on_response: ResponseHook | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("EngineClient needs at least one base URL")
        if not app_id:
            raise ValueError("EngineClient needs an app_id")
        if max_connections < 1 or timeout <= 0:
            raise ValueError("max_connections must be >= 1 and timeout > 0")
        self.app_id = app_id
        self._endpoints = Endpoints(base_urls)
        self._sleep = sleep
        self._clock = clock
        self._secrets = Scrubber()
        if transport is not None:
            network = transport
        else:
            network = PooledTransport(max_connections, tls=needs_tls(base_urls))
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
        """Close the HTTP client (and the transport)."""
        await self._http.aclose()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Also scrub these values from engine text (secrets the project knows, e.g. vendor keys
        sent at join that an error about a later call could quote)."""
        self._secrets.add(values)

    @property
    def endpoint(self) -> str:
        """The base URL the next request goes to."""
        return self._endpoints.current

    # ----------------------------------------------------------------------------- operations

    async def join(
        self,
        name: str,
        properties: Mapping[str, Any],
        preset: str | None = None,
        pipeline_id: str | None = None,
    ) -> JoinResult:
        """Start an agent (``POST /join``).

        409 ``TaskConflict`` raises :class:`~reconciler.errors.NameConflictError` (``resent``
        when an earlier attempt of this join may have reached the engine); 422 etc. raise
        :class:`~reconciler.errors.EngineError`.
        """
        body: dict[str, Any] = {"name": name, "properties": dict(properties)}
        if preset is not None:
            body["preset"] = preset
        if pipeline_id is not None:
            body["pipeline_id"] = pipeline_id
        response = await self._send("join", "POST", "join", what=f"join of {name!r}", body=body)
        parsed = parse_body(response, StatusBody, "join")
        return JoinResult(
            agent_id=parsed.agent_id,
            create_ts=to_ts(parsed.create_ts),
            status=status_name(parsed.status, parsed.state) or "STARTING",
        )

    async def leave(self, agent_id: str) -> bool:
        """Stop an agent; True if the engine accepted, False if it was already gone (404)."""
        what = f"leave of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}/leave"
        response = await self._send("leave", "POST", path, what=what, not_found_ok=True)
        return response.status_code != 404

    async def update(self, agent_id: str, properties: Mapping[str, Any]) -> None:
        """Change an agent in place (token, llm.system_messages, llm.params, mllm.params)."""
        body: dict[str, Any] = {"properties": dict(properties)}
        what = f"update of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}/update"
        response = await self._send("update", "POST", path, what=what, body=body)
        if response.content.strip():
            parse_body(response, StatusBody, "update")

    async def get(self, agent_id: str) -> LiveAgent:
        """One agent's status; ``LiveAgent(status="MISSING")`` when the engine does not know it."""
        what = f"get of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}"
        response = await self._send("get", "GET", path, what=what, not_found_ok=True)
        if response.status_code == 404:
            return LiveAgent(agent_id=agent_id, status="MISSING")
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
            message=self._secrets.scrub(parsed.message) or None,
        )

    async def identify(self, agent_id: str) -> AgentIdentity:
        """The name and channel the agent was joined with, from ``GET .../turns``.

        Only the first page of one turn is asked for; the turns themselves are not read. An
        unknown agent (404) or any other failure raises like every call of this client.
        """
        what = f"turns of agent {agent_id}"
        path = f"agents/{_seg(agent_id)}/turns"
        params = {"page_index": "1", "page_size": "1"}
        response = await self._send("turns", "GET", path, what=what, params=params)
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
            response = await self._send("list", "GET", "agents", what=what, params=query)
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

    # ------------------------------------------------------------------------------ sending

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
    ) -> httpx.Response:
        """Send one operation (the transport retries it) and give its 2xx answer.

        Any other answer raises the exception :mod:`~reconciler.engine.errors_map` gives it,
        except, with ``not_found_ok``, a 404 that means "no such agent", which is returned.
        """
        call = Call(
            operation,
            what,
            f"v2/projects/{_seg(self.app_id)}/{path}",
            scrub=partial(self._secrets.scrub, body=body),
        )
        url = _parsed_url(f"{self._endpoints.current}/{call.path}")
        request = self._http.build_request(method, url, json=body, params=params)
        response = await self._http.send(call.attach(request))
        if 200 <= response.status_code < 300:
            return response
        if not_found_ok and response.status_code == 404 and is_not_found(response):
            return response
        raise error_for_status(response, call)


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded."""
    return quote(value, safe="")
