"""HTTP routes of the engine API v2 under `/api/conversational-ai-agent` and `/cn/api/...`.

Every engine request goes through the same pipeline: request log → random faults (latency,
429, server errors, drops; before authentication, as a gateway would) → authentication
(401) → targeted fault rules → the operation → the JSON answer (or an empty 200 for leave).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import engine_ops as ops
from . import wire
from .admission import JsonAnswer, admit, dropped_after, log_entry
from .core import Sandbox
from .errors import ApiFailure
from .faults import DroppedResponse

PREFIXES = ("/api/conversational-ai-agent", "/cn/api/conversational-ai-agent")


@dataclass(frozen=True)
class Call:
    """One authenticated engine call."""

    sb: Sandbox
    app_id: str
    agent_id: str
    raw: bytes
    query: dict[str, str]


Operation = Callable[[Call], Any]
Endpoint = Callable[[Request], Awaitable[Response | DroppedResponse]]


def _name_for_rules(
    sb: Sandbox, route: str, app_id: str, agent_id: str | None, raw: bytes
) -> str | None:
    if not any(rule.name is not None for rule in sb.faults.rules):
        return None
    if route == "join":
        try:
            body = wire.loads(raw)
        except wire.NotJson:
            return None
        name = body.get("name") if isinstance(body, dict) else None
        return name if isinstance(name, str) else None
    if agent_id is None:
        return None
    record = sb.store.get(app_id, agent_id)
    return record.name if record is not None else None


def _endpoint(sb: Sandbox, route: str, operation: Operation) -> Endpoint:
    async def endpoint(request: Request) -> Response | DroppedResponse:
        app_id: str = request.path_params["appid"]
        agent_id: str | None = request.path_params.get("agent_id")
        entry = log_entry(sb, request, route, app_id, agent_id)
        try:
            admitted = await admit(
                sb,
                request,
                entry,
                route=route,
                app_id=app_id,
                ident=agent_id,
                body_methods=("POST",),
                name_of=lambda raw: _name_for_rules(sb, route, app_id, agent_id, raw),
            )
            if isinstance(admitted, DroppedResponse):
                return admitted
            call = Call(sb, app_id, agent_id or "", admitted.raw, dict(request.query_params))
            result = operation(call)
            if isinstance(result, dict) and route == "join":
                entry["agent_id"] = result.get("agent_id")
            lost = dropped_after(admitted, entry)
            if lost is not None:
                return lost
            entry["status"] = 200
            if result is None:
                return Response(status_code=200)
            return JsonAnswer(result)
        except ApiFailure as failure:
            entry["status"] = failure.status
            return failure.response()

    return endpoint


_AGENT = "/v2/projects/{appid}/agents/{agent_id}"
_TABLE: tuple[tuple[str, str, str, Operation], ...] = (
    ("join", "POST", "/v2/projects/{appid}/join", lambda c: ops.join(c.sb, c.app_id, c.raw)),
    (
        "list",
        "GET",
        "/v2/projects/{appid}/agents",
        lambda c: ops.list_agents(c.sb, c.app_id, c.query),
    ),
    ("get", "GET", _AGENT, lambda c: ops.get(c.sb, c.app_id, c.agent_id)),
    ("leave", "POST", _AGENT + "/leave", lambda c: ops.leave(c.sb, c.app_id, c.agent_id)),
    ("update", "POST", _AGENT + "/update", lambda c: ops.update(c.sb, c.app_id, c.agent_id, c.raw)),
    ("history", "GET", _AGENT + "/history", lambda c: ops.history(c.sb, c.app_id, c.agent_id)),
    ("turns", "GET", _AGENT + "/turns", lambda c: ops.turns(c.sb, c.app_id, c.agent_id, c.query)),
    ("speak", "POST", _AGENT + "/speak", lambda c: ops.speak(c.sb, c.app_id, c.agent_id, c.raw)),
    (
        "interrupt",
        "POST",
        _AGENT + "/interrupt",
        lambda c: ops.interrupt(c.sb, c.app_id, c.agent_id),
    ),
    ("think", "POST", _AGENT + "/think", lambda c: ops.think(c.sb, c.app_id, c.agent_id, c.raw)),
)


def engine_routes(sb: Sandbox) -> list[BaseRoute]:
    """The engine routes, under both prefixes."""
    routes: list[BaseRoute] = []
    for prefix in PREFIXES:
        for route, method, path, operation in _TABLE:
            endpoint = _endpoint(sb, route, operation)
            routes.append(Route(prefix + path, endpoint, methods=[method], name=f"{route}{prefix}"))
    return routes
