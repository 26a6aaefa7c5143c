"""The async REST client of the engine (docs/engine-api.md): the engine's operations.

:class:`EngineClient` is the engine's operations on the HTTP layers of
:class:`~reconciler.engine.layered.LayeredClient` (the auth flow, the retry transport, the
pooled network transport).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.engine.layered import LayeredClient, path_segment
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


class EngineClient(LayeredClient):
    """Async client of the engine's v2 REST API for one App ID; use as ``async with``.

    Its layers, fail-over, limits and hooks are :class:`~reconciler.engine.layered.LayeredClient`'s
    (``on_response`` hears ``join``, ``list``, ...); ``sleep`` and ``clock`` drive
    :meth:`wait_stopped`'s polling.
    """

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
        path = f"agents/{path_segment(agent_id)}/leave"
        response = await self._send("leave", "POST", path, what=what, not_found_ok=True)
        return response.status_code != 404

    async def update(self, agent_id: str, properties: Mapping[str, Any]) -> None:
        """Change an agent in place (token, llm.system_messages, llm.params, mllm.params)."""
        body: dict[str, Any] = {"properties": dict(properties)}
        what = f"update of agent {agent_id}"
        path = f"agents/{path_segment(agent_id)}/update"
        response = await self._send("update", "POST", path, what=what, body=body)
        if response.content.strip():
            parse_body(response, StatusBody, "update")

    async def get(self, agent_id: str) -> LiveAgent:
        """One agent's status; ``LiveAgent(status="MISSING")`` when the engine does not know it."""
        what = f"get of agent {agent_id}"
        path = f"agents/{path_segment(agent_id)}"
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
        path = f"agents/{path_segment(agent_id)}/turns"
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

    def _no_such_resource(self, response: httpx.Response) -> bool:
        """A 404 that means "no such agent" (an answer to get and leave)."""
        return is_not_found(response)
