"""The sandbox as an ASGI application: `create_app(config) -> Starlette`.

Usable in-process (`httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`, which is what
`engine: sandbox` does) or served by uvicorn (`server.serve`). The `Sandbox` behind the app is
`app.state.sandbox`; call its `close()` when done with an in-process app. The app also serves
the Conversational AI Platform API (`platform/`) on the same store, clock and faults.
`app.state.notifier` delivers the notification events (`ncs.py`); every request nudges it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import SandboxConfig
from .core import Sandbox
from .errors import no_route_response
from .ncs import Notifier
from .platform.context import Platform
from .platform.control import platform_control_routes
from .platform.routes import platform_routes
from .routes_control import control_routes
from .routes_engine import engine_routes
from .routes_events import event_routes


async def _no_route(request: Request, exc: Exception) -> Response:
    return no_route_response()


class _Nudge:
    """After every request, tell the notifier something may have changed (`ncs.py`)."""

    def __init__(self, app: ASGIApp, notifier: Notifier) -> None:
        self.app = app
        self.notifier = notifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.notifier.nudge()


def create_app(
    config: SandboxConfig, *, time_source: Callable[[], float] | None = None
) -> Starlette:
    """Build a sandbox engine app; `time_source` replaces `time.time` (for tests)."""
    sandbox = Sandbox(config, time_source)
    notifier = Notifier(sandbox, config.webhooks, config.webhook_app_id)
    platform = Platform(sandbox)
    sandbox.on_reset.append(platform.reset)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        notifier.nudge()  # served: time-driven events are noticed without any request
        yield
        await notifier.aclose()

    app = Starlette(
        routes=[
            *engine_routes(sandbox),
            *control_routes(sandbox),
            *event_routes(notifier),
            *platform_control_routes(platform),
            *platform_routes(platform),
        ],
        exception_handlers={404: _no_route, 405: _no_route},
        middleware=[Middleware(_Nudge, notifier=notifier)],
        lifespan=lifespan,
    )
    # Starlette would answer a path with a stray trailing slash with a 307 redirect to the
    # route without it; the engine's gateway has no such route, so it is the no-route 404.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    app.state.notifier = notifier
    return app
