"""Test and demo controls of the Platform API, under ``/_sandbox/platform`` (no auth).

| route | body | answer |
|---|---|---|
| GET  /_sandbox/platform?app_id= | | every kind below, each a list |
| GET  /_sandbox/platform/{kind}?app_id= | | `{"<kind>": [...]}` (kinds below) |
| POST /_sandbox/platform/secrets/check | `{"app_id","set","key","value"}` | `{"matches": bool}` |
| POST /_sandbox/platform/sessions/{id}/runtime-changes | `{"supported": bool}` | the session |
| POST /_sandbox/platform/sessions/{id}/fail | `{"message"?: str}` | the session (FAILED) |
| POST /_sandbox/platform/campaigns/{id}/finish | `{"status", "failure"?}` | the campaign |

Kinds: secret_sets, agents, numbers, sessions, campaigns. A campaign finishes with status
``completed`` or ``failed``.

What they show is everything the sandbox holds, as stored, except secret values, which it
never keeps: a key shows its ETag and times, ``secrets/check`` tells whether a value is the
stored one, a number shows whether its trunk has credentials and their username, never the
password. Errors are ``{"error": "..."}`` with 400 or 404.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from ..control_http import ControlError, control_routes_of, read_body
from . import campaigns, numbers, secret_sets, sessions
from .context import Platform
from .store import Resource

KINDS = {
    "secret_sets": "secret_set",
    "agents": "agent",
    "numbers": "number",
    "sessions": "session",
    "campaigns": "campaign",
}


def _base(resource: Resource) -> dict[str, Any]:
    return {
        "app_id": resource.app_id,
        "id": resource.id,
        "etag": resource.etag,
        "create_ts": resource.create_ts,
        "update_ts": resource.update_ts,
    }


def _show(platform: Platform, resource: Resource) -> dict[str, Any]:
    """The control view of one resource."""
    now = platform.now()
    body = resource.body
    shown = _base(resource)
    links = platform.store.links_of(resource.app_id, resource.kind, resource.id)
    if resource.kind == "secret_set":
        shown["keys"] = {
            key: {k: entry[k] for k in ("etag", "create_ts", "update_ts", "size")}
            for key, entry in sorted(body["keys"].items())
        }
    elif resource.kind == "agent":
        shown["config"] = body
        shown["links"] = links
    elif resource.kind == "number":
        auth = body["sip_trunk"].get("auth")
        shown["view"] = numbers.view(resource)
        shown["sip_auth"] = {"username": auth["username"]} if auth else None
        shown["links"] = links
    elif resource.kind == "session":
        settings = platform.sandbox.settings
        status, stop_ts = sessions.status_of(
            now, resource, settings.start_delay_s, settings.stop_delay_s
        )
        shown.update(
            status=status,
            stop_ts=stop_ts,
            agent_id=body.get("agent_id"),
            transport={k: v for k, v in body["transport"].items() if k != "token"},
            has_token="token" in body["transport"],
            values=body.get("values"),
            secret_versions=body.get("secret_versions"),
            runtime_changes=body.get("runtime_changes", True),
            updates=body.get("updates"),
            idempotency_key=body.get("idempotency_key"),
        )
    elif resource.kind == "campaign":
        shown["view"] = campaigns.view_at(resource, now)
        shown["contacts"] = body["contacts"]
        shown["links"] = links
    return shown


def _find(platform: Platform, kind: str, ident: str) -> Resource:
    for resource in platform.store.scan(None, kind):
        if resource.id == ident:
            return resource
    raise ControlError(404, f"unknown {kind} {ident}")


def _routes(platform: Platform) -> list[tuple[str, str, Callable[[Request], Awaitable[Any]]]]:
    store = platform.store

    def listing(kind: str, app_id: str | None) -> list[dict[str, Any]]:
        return [_show(platform, r) for r in store.scan(app_id, kind)]

    async def everything(request: Request) -> Any:
        app_id = request.query_params.get("app_id") or None
        return {name: listing(kind, app_id) for name, kind in KINDS.items()}

    async def one_kind(request: Request) -> Any:
        name = request.path_params["kind"]
        if name not in KINDS:
            raise ControlError(404, f"kind must be one of {', '.join(KINDS)}")
        return {name: listing(KINDS[name], request.query_params.get("app_id") or None)}

    async def check_secret(request: Request) -> Any:
        body = await read_body(request)
        fields = [body.get(k) for k in ("app_id", "set", "key", "value")]
        app_id, set_name, key, value = (v if isinstance(v, str) else "" for v in fields)
        if not (app_id and set_name and key and value):
            raise ControlError(400, "expected app_id, set, key and value (non-empty strings)")
        resource = store.get(app_id, "secret_set", set_name)
        entry = resource.body["keys"].get(key) if resource is not None else None
        if entry is None:
            raise ControlError(404, "no such secret set or key")
        given = secret_sets.digest_of(store, value)
        return {"matches": hmac.compare_digest(given, entry["digest"])}

    async def runtime_changes(request: Request) -> Any:
        supported = (await read_body(request)).get("supported")
        if not isinstance(supported, bool):
            raise ControlError(400, "supported must be true or false")
        with store.store.transaction():
            session = _find(platform, "session", request.path_params["id"])
            session.body["runtime_changes"] = supported
            store.put(session)
        return _show(platform, session)

    async def fail_session(request: Request) -> Any:
        message = (await read_body(request)).get("message") or "The session failed (sandbox)."
        if not isinstance(message, str):
            raise ControlError(400, "message must be a string")
        with store.store.transaction():
            session = _find(platform, "session", request.path_params["id"])
            session.body["failed_at"] = platform.now()
            session.body["message"] = message
            store.put(session)
        return _show(platform, session)

    async def finish_campaign(request: Request) -> Any:
        body = await read_body(request)
        status = body.get("status")
        if status not in ("completed", "failed"):
            raise ControlError(400, "status must be completed or failed")
        with store.store.transaction():
            campaign = _find(platform, "campaign", request.path_params["id"])
            if campaigns.status_of(campaign, platform.now()) in ("completed", "canceled", "failed"):
                raise ControlError(400, "campaign has finished already")
            if status == "failed":
                campaign.body["failure"] = body.get("failure") or {"detail": "sandbox"}
            campaigns.finish(store, campaign, status, platform.now())
        return _show(platform, campaign)

    return [
        ("GET", "/_sandbox/platform", everything),
        ("POST", "/_sandbox/platform/secrets/check", check_secret),
        ("GET", "/_sandbox/platform/{kind}", one_kind),
        ("POST", "/_sandbox/platform/sessions/{id}/runtime-changes", runtime_changes),
        ("POST", "/_sandbox/platform/sessions/{id}/fail", fail_session),
        ("POST", "/_sandbox/platform/campaigns/{id}/finish", finish_campaign),
    ]


def platform_control_routes(platform: Platform) -> list[BaseRoute]:
    """The ``/_sandbox/platform`` routes."""
    return control_routes_of(platform.sandbox.clock, _routes(platform), "platform-control")
