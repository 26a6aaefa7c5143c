"""The request prelude every engine route and every Platform route goes through.

After the request is logged: random faults (before authentication, as a gateway would) ->
authentication (401) -> the body (on the methods that carry one) -> targeted fault rules ->
the reset check (a request that waited across a reset is not carried out). :func:`admit`
returns the body and the matched rule, or the dropped response that ends the request;
:func:`dropped_after` carries out a ``drop_after`` rule once the operation ran. The log entry
is completed on the way (``auth``, ``name``, ``fault``, ``status``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate
from .core import Sandbox
from .faults import Decision, DroppedResponse, echoing


class JsonAnswer(Response):
    """A JSON answer rendered once with compact separators."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def log_entry(
    sb: Sandbox, request: Request, route: str, app_id: str, ident: str | None, **more: Any
) -> dict[str, Any]:
    """Log a request as it arrives (``ident``: the id its path names; ``more``: the name and
    what else the route records); the entry is completed on the way."""
    return sb.log_request(
        method=request.method,
        path=request.url.path,
        route=route,
        app_id=app_id,
        agent_id=ident,
        **{"name": None, "auth": None, "status": None, "fault": None, **more},
    )


@dataclass(frozen=True)
class Admitted:
    """A request that passed the prelude: its body (empty without one) and the rule it met."""

    raw: bytes
    rule: Decision


async def admit(
    sb: Sandbox,
    request: Request,
    entry: dict[str, Any],
    *,
    route: str,
    app_id: str,
    ident: str | None,
    body_methods: Collection[str],
    name_of: Callable[[bytes], str | None],
) -> Admitted | DroppedResponse:
    """Run the prelude for one logged request (``entry``); raises the
    :class:`~reconciler.sandbox.errors.ApiFailure` a fault or the authentication answers.

    ``ident`` is the id the path names (fault rules' ``agent_id``); ``name_of`` gives the name
    fault rules match from the body.
    """
    epoch = sb.epoch
    sb.clock.refresh()
    decision = sb.faults.draw(route)
    if decision.delay_s > 0:
        await asyncio.sleep(decision.delay_s)
    early = _act(decision, entry)
    if early is not None:
        return early
    entry["auth"] = authenticate(
        request.headers.get("authorization"),
        app_id=app_id,
        customer_id=sb.config.customer_id,
        customer_secret=sb.config.customer_secret,
        app_certificate=sb.config.app_certificate,
        now=sb.clock.real(),
    )
    raw = await request.body() if request.method in body_methods else b""
    name = name_of(raw)
    entry["name"] = name
    rule = sb.faults.match(route, app_id, name, ident)
    if rule.echo and rule.failure is not None:
        quoted = echoing(rule.failure, raw, request.headers.get("authorization"))
        rule = replace(rule, failure=quoted)
    if rule.delay_s > 0:
        await asyncio.sleep(rule.delay_s)
    early = _act(rule, entry)
    if early is not None:
        return early
    if sb.epoch != epoch:  # reset while this request waited: it is not carried out
        return _dropped(entry)
    return Admitted(raw, rule)


def dropped_after(admitted: Admitted, entry: dict[str, Any]) -> DroppedResponse | None:
    """The dropped response when the matched rule drops the answer after the operation ran."""
    return _dropped(entry) if admitted.rule.kind == "drop_after" else None


def _act(decision: Decision, entry: dict[str, Any]) -> DroppedResponse | None:
    if decision.source is not None:
        entry["fault"] = decision.source
    if decision.kind == "error" and decision.failure is not None:
        raise decision.failure
    if decision.kind == "drop":
        return _dropped(entry)
    return None


def _dropped(entry: dict[str, Any]) -> DroppedResponse:
    entry["status"] = "dropped"
    return DroppedResponse()
