"""What every ``/_sandbox/`` control route shares (the engine's and the Platform's): a JSON
object body (an empty body is ``{}``), errors answered as ``{"error": "..."}`` with their
status, and the sandbox clock refreshed before each call. Control routes have no auth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import wire
from .clock import Clock

Handler = Callable[[Request], Awaitable[Response]]
Call = Callable[[Request], Awaitable[Any]]
"""A control: the request in, the value to answer as JSON out."""


class ControlError(Exception):
    """A control-route error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; ``{}`` when the body is empty; 400 otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = wire.loads(raw)
    except wire.NotJson:
        raise ControlError(400, "body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ControlError(400, "body must be a JSON object")
    return value


def json_handler(clock: Clock, call: Call) -> Handler:
    """A route handler answering ``call``'s value as JSON, a :class:`ControlError` with its
    status and a ``ValueError`` (a refused setting or rule) with 400."""

    async def handler(request: Request) -> Response:
        clock.refresh()
        try:
            return JSONResponse(await call(request))
        except ControlError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return handler


def control_routes_of(
    clock: Clock, table: Iterable[tuple[str, str, Call]], name: str
) -> list[BaseRoute]:
    """One route per ``(method, path, call)`` of ``table``, each a :func:`json_handler`, named
    ``<name>:<method>:<path>`` (a path served with several methods gets one route per method)."""
    return [
        Route(path, json_handler(clock, call), methods=[method], name=f"{name}:{method}:{path}")
        for method, path, call in table
    ]
