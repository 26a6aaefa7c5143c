"""Test and demo controls, all under `/_sandbox/` (never under the engine's paths). No auth.

| route | body | answer |
|---|---|---|
| GET  /_sandbox/health | | `{"ok": true, "now": ts}` |
| GET  /_sandbox/agents?app_id=&name=&channel=&status= | | `{"now": ts, "agents": [view...]}` |
| GET  /_sandbox/agents/{agent_id} | | view (404 if unknown) |
| POST /_sandbox/agents/{agent_id}/crash | `{"message"?: str}` | view, FAILED (409 if not active) |
| POST /_sandbox/agents/{agent_id}/history | `{"role": "user"/"assistant", "content": str}` | view |
| POST /_sandbox/agents/{agent_id}/status | `{"status": "RECOVERING"/"IDLE"/"RUNNING",` | view |
|   | `"seconds"?: N}` | (409 unless RUNNING or held) |
| GET  /_sandbox/channels/{channel}?app_id= | | `{"users": [uid...], "agents": [...]}` |
| POST /_sandbox/channels/{channel}/join | `{"uids"?: [str], "app_id"?: str}` | same as GET |
| POST /_sandbox/channels/{channel}/leave | `{"uids"?: [str], "app_id"?: str}` | same as GET |
| GET  /_sandbox/clock | | `{"now", "offset_s", "real"}` |
| POST /_sandbox/clock/advance | `{"seconds": N}` | same as GET |
| GET / POST /_sandbox/faults | partial settings | the fault settings and rules |
| POST /_sandbox/faults/rules | one rule (`faults.py`; `echo`) | the rule with its `id` |
| DELETE /_sandbox/faults/rules | | the fault settings |
| GET / POST /_sandbox/settings | partial settings | lifecycle settings (pcu_limit, delays, ...) |
| GET / DELETE /_sandbox/requests?route=&app_id= | | `{"requests": [...]}` (engine request log) |
| POST /_sandbox/reset | | `{"ok": true}`: agents, clock, faults, settings, log |

Channel presence (see `presence.py`): `join` marks remote users present (default `uids`: the
remote uids of every active agent in the channel, `*` standing for "some user"), `leave` removes
them (default: everyone). Without `app_id` they apply to the channel of every App ID. The
answer lists the users present and, per active agent, `idle_deadline` (null: not counting down).
`status` holds a RUNNING agent in RECOVERING or IDLE (for `seconds`, or until set back to
RUNNING); it stays active meanwhile.

A view is `Sandbox.agent_view`: app_id, agent_id, name (the wire name), channel, mode, status,
message, create_ts, stop_ts, timestamps, `token` (issued_at, expires_at on the sandbox clock,
seconds_left, verified), `join_body` (exactly as sent), `properties` (effective), `updates`
(every update body applied, with its time) and `history`. Control errors are
`{"error": "..."}` with 400, 404 or 409.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import partial
from typing import Any, Protocol

from starlette.requests import Request
from starlette.routing import BaseRoute

from .control_http import ControlError, control_routes_of, read_body
from .core import Sandbox
from .lifecycle import MSG_CRASH, OVERRIDES, STATUS_CODES, view
from .presence import WILDCARD

_Control = Callable[[Sandbox, Request], Awaitable[Any]]


async def health(sb: Sandbox, _: Request) -> Any:
    return {"ok": True, "now": sb.now()}


async def list_agents(sb: Sandbox, request: Request) -> Any:
    now = sb.now()
    q = request.query_params
    status = q.get("status")
    if status is not None and status not in STATUS_CODES:
        raise ControlError(400, f"unknown status {status!r}")
    agents = []
    for record in sb.store.all(q.get("app_id") or None):
        if q.get("name") and record.name != q["name"]:
            continue
        if q.get("channel") and record.channel != q["channel"]:
            continue
        if status is not None and view(record, now).status != status:
            continue
        agents.append(sb.agent_view(record, now))
    return {"now": now, "agents": agents}


def _find(sb: Sandbox, request: Request) -> Any:
    record = sb.store.find(request.path_params["agent_id"])
    if record is None:
        raise ControlError(404, "unknown agent")
    return record


async def get_agent(sb: Sandbox, request: Request) -> Any:
    return sb.agent_view(_find(sb, request), sb.now())


async def crash(sb: Sandbox, request: Request) -> Any:
    body = await read_body(request)
    message = body.get("message") or MSG_CRASH
    if not isinstance(message, str):
        raise ControlError(400, "message must be a string")
    with sb.store.transaction():
        record = _find(sb, request)
        now = sb.now()
        if not view(record, now).active:
            raise ControlError(409, "agent is not active")
        record.failed_at = now
        record.fail_message = message
        sb.save(record)
        sb.settle_channel(record.app_id, record.channel, now, seeds=(record,))
    return sb.agent_view(record, now)


async def hold_status(sb: Sandbox, request: Request) -> Any:
    body = await read_body(request)
    status, seconds = body.get("status"), body.get("seconds")
    if status not in (*sorted(OVERRIDES), "RUNNING"):
        raise ControlError(400, "status must be RECOVERING, IDLE or RUNNING")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0
    ):
        raise ControlError(400, "seconds must be a number > 0")
    with sb.store.transaction():
        record = _find(sb, request)
        now = sb.now()
        if view(record, now).status not in ("RUNNING", *OVERRIDES):
            raise ControlError(409, "agent is not running")
        record.status_override = None if status == "RUNNING" else status
        record.override_until = None if seconds is None else now + float(seconds)
        sb.save(record)
    return sb.agent_view(record, now)


async def add_history(sb: Sandbox, request: Request) -> Any:
    body = await read_body(request)
    role, content = body.get("role"), body.get("content")
    if role not in ("user", "assistant") or not isinstance(content, str):
        raise ControlError(400, "expected {'role': 'user'|'assistant', 'content': str}")
    with sb.store.transaction():
        record = _find(sb, request)
        items = record.history_list()
        items.append({"role": role, "content": content, "at": sb.now()})
        record.history = json.dumps(items, separators=(",", ":"))
        sb.save(record)
    return sb.agent_view(record, sb.now())


def _uids(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
        raise ControlError(400, "uids must be a list of non-empty strings")
    return list(value)


def _app_id(body: dict[str, Any], request: Request) -> str | None:
    app_id = body.get("app_id", request.query_params.get("app_id"))
    if app_id is not None and not isinstance(app_id, str):
        raise ControlError(400, "app_id must be a string")
    return app_id or None


def _channel_view(sb: Sandbox, channel: str, app_id: str | None, now: float) -> dict[str, Any]:
    apps = [app_id] if app_id is not None else sb.store.channel_apps(channel)
    # Users joined for every App ID (`*`) show even before any agent used the channel.
    users = sorted({u for app in apps or [WILDCARD] for u in sb.store.present_uids(app, channel)})
    agents = []
    for app in apps:
        for record in sb.store.active_in_channel(channel, app, now):
            deadline = None
            if record.users_left_at is not None and record.idle_timeout > 0:
                deadline = record.users_left_at + record.idle_timeout
            agents.append(
                {"app_id": record.app_id, "agent_id": record.agent_id, "idle_deadline": deadline}
            )
    return {"channel": channel, "users": users, "agents": agents}


def _settle(sb: Sandbox, channel: str, app_id: str | None, now: float) -> None:
    for app in [app_id] if app_id is not None else sb.store.channel_apps(channel):
        sb.settle_channel(app, channel, now)


async def get_channel(sb: Sandbox, request: Request) -> Any:
    return _channel_view(sb, request.path_params["channel"], _app_id({}, request), sb.now())


async def _presence_change(request: Request) -> tuple[str, str | None, list[str] | None]:
    """The channel, App ID (None: every one) and uids (None: the default) of a join or leave."""
    body = await read_body(request)
    return request.path_params["channel"], _app_id(body, request), _uids(body.get("uids"))


async def users_join(sb: Sandbox, request: Request) -> Any:
    channel, app_id, uids = await _presence_change(request)
    with sb.store.transaction():
        now = sb.now()
        if uids is None:
            apps = [app_id] if app_id is not None else sb.store.channel_apps(channel)
            for app in apps:
                wanted = {
                    uid
                    for record in sb.store.active_in_channel(channel, app, now)
                    for uid in record.remote_list()
                }
                sb.store.add_present(app, channel, sorted(wanted), now)
        else:
            sb.store.add_present(app_id or WILDCARD, channel, uids, now)
        _settle(sb, channel, app_id, now)
        return _channel_view(sb, channel, app_id, now)


async def users_leave(sb: Sandbox, request: Request) -> Any:
    channel, app_id, uids = await _presence_change(request)
    with sb.store.transaction():
        now = sb.now()
        sb.store.remove_present(app_id, channel, uids)
        _settle(sb, channel, app_id, now)
        return _channel_view(sb, channel, app_id, now)


def _clock(sb: Sandbox) -> dict[str, float]:
    return {"now": sb.now(), "offset_s": sb.clock.offset, "real": sb.clock.real()}


async def get_clock(sb: Sandbox, _: Request) -> Any:
    return _clock(sb)


async def advance_clock(sb: Sandbox, request: Request) -> Any:
    seconds = (await read_body(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError(400, "seconds must be a number >= 0")
    sb.clock.advance(float(seconds))
    return _clock(sb)


class _Tunable(Protocol):
    def as_dict(self) -> dict[str, Any]: ...

    def update(self, changes: dict[str, Any]) -> None: ...


def _tunable(pick: Callable[[Sandbox], _Tunable]) -> tuple[_Control, _Control]:
    """The GET and POST controls of a group of settings (faults, lifecycle settings): show
    them; change those the body names and show them all."""

    async def show(sb: Sandbox, _: Request) -> Any:
        return pick(sb).as_dict()

    async def change(sb: Sandbox, request: Request) -> Any:
        pick(sb).update(await read_body(request))
        return pick(sb).as_dict()

    return show, change


get_faults, set_faults = _tunable(lambda sb: sb.faults)


async def add_rule(sb: Sandbox, request: Request) -> Any:
    return asdict(sb.faults.add_rule(await read_body(request)))


async def clear_rules(sb: Sandbox, _: Request) -> Any:
    sb.faults.clear_rules()
    return sb.faults.as_dict()


get_settings, set_settings = _tunable(lambda sb: sb.settings)


async def get_requests(sb: Sandbox, request: Request) -> Any:
    route, app_id = request.query_params.get("route"), request.query_params.get("app_id")
    entries = [
        e
        for e in sb.requests
        if (route is None or e["route"] == route) and (app_id is None or e["app_id"] == app_id)
    ]
    return {"requests": entries}


async def clear_requests(sb: Sandbox, _: Request) -> Any:
    sb.requests.clear()
    return {"requests": []}


async def reset(sb: Sandbox, _: Request) -> Any:
    sb.reset()
    return {"ok": True}


_TABLE: tuple[tuple[str, str, _Control], ...] = (
    ("GET", "/_sandbox/health", health),
    ("GET", "/_sandbox/agents", list_agents),
    ("GET", "/_sandbox/agents/{agent_id}", get_agent),
    ("POST", "/_sandbox/agents/{agent_id}/crash", crash),
    ("POST", "/_sandbox/agents/{agent_id}/history", add_history),
    ("POST", "/_sandbox/agents/{agent_id}/status", hold_status),
    ("GET", "/_sandbox/channels/{channel}", get_channel),
    ("POST", "/_sandbox/channels/{channel}/leave", users_leave),
    ("POST", "/_sandbox/channels/{channel}/join", users_join),
    ("GET", "/_sandbox/clock", get_clock),
    ("POST", "/_sandbox/clock/advance", advance_clock),
    ("GET", "/_sandbox/faults", get_faults),
    ("POST", "/_sandbox/faults", set_faults),
    ("POST", "/_sandbox/faults/rules", add_rule),
    ("DELETE", "/_sandbox/faults/rules", clear_rules),
    ("GET", "/_sandbox/settings", get_settings),
    ("POST", "/_sandbox/settings", set_settings),
    ("GET", "/_sandbox/requests", get_requests),
    ("DELETE", "/_sandbox/requests", clear_requests),
    ("POST", "/_sandbox/reset", reset),
)


def control_routes(sb: Sandbox) -> list[BaseRoute]:
    """The `/_sandbox/` routes. Paths served with several methods get one route per method."""
    table = [(method, path, partial(func, sb)) for method, path, func in _TABLE]
    return control_routes_of(sb.clock, table, "control")
