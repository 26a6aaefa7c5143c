"""Control routes of notification webhooks and published pipelines (under `/_sandbox/`).

* `POST /_sandbox/webhooks` `{"url": str, "secret": str, "app_id"?: str}`: deliver events
  there too (only those of `app_id` when given, as a real project's webhook; else every App
  ID's); answers `{"id", "url", "fixed", "app_id"}` (never the secret).
* `GET /_sandbox/webhooks`: `{"webhooks", "stats", "deliveries"}` (the recent deliveries).
* `DELETE /_sandbox/webhooks`: forget the webhooks added at run time; answers as GET.
* `POST /_sandbox/pipelines` `{"pipeline_id": str, "properties": {...}, "app_id"?: str}`:
  register a published pipeline (`pipelines.py`); answers it.

Errors are `{"error": "..."}` with 400, as on the other control routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import wire
from .ncs import Notifier, check_webhook
from .pipelines import register


async def _object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        value = wire.loads(raw) if raw.strip() else {}
    except wire.NotJson:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("body must be a JSON object")
    return value


def _handler(func: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        try:
            return JSONResponse(await func(request))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return handler


def event_routes(notifier: Notifier) -> list[BaseRoute]:
    """The webhook and pipeline control routes."""

    async def add_webhook(request: Request) -> Any:
        body = await _object(request)
        url, secret = check_webhook(body.get("url"), body.get("secret"))
        return notifier.add(url, secret, app_id=body.get("app_id")).public()

    async def list_webhooks(_: Request) -> Any:
        return notifier.view()

    async def clear_webhooks(_: Request) -> Any:
        notifier.remove_added()
        return notifier.view()

    async def add_pipeline(request: Request) -> Any:
        body = await _object(request)
        return register(
            notifier.sb, body.get("pipeline_id"), body.get("properties"), body.get("app_id")
        )

    table: tuple[tuple[str, str, Callable[[Request], Awaitable[Any]]], ...] = (
        ("POST", "/_sandbox/webhooks", add_webhook),
        ("GET", "/_sandbox/webhooks", list_webhooks),
        ("DELETE", "/_sandbox/webhooks", clear_webhooks),
        ("POST", "/_sandbox/pipelines", add_pipeline),
    )
    return [
        Route(path, _handler(func), methods=[method], name=f"control:{method}:{path}")
        for method, path, func in table
    ]
