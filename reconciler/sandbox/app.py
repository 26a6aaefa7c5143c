"""The sandbox as an ASGI application: `create_app(config) -> Starlette`.

Usable in-process (`httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`, which is what
`engine: sandbox` does) or served by uvicorn (`server.serve`). The `Sandbox` behind the app is
`app.state.sandbox`; call its `close()` when done with an in-process app. The app also serves
the Conversational AI Platform API (`platform/`) on the same store, clock and faults.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from .config import SandboxConfig
from .core import Sandbox
from .errors import no_route_response
from .platform.context import Platform
from .platform.control import platform_control_routes
from .platform.routes import platform_routes
from .routes_control import control_routes
from .routes_engine import engine_routes


async def _no_route(request: Request, exc: Exception) -> Response:
    return no_route_response()


def create_app(
    config: SandboxConfig, *, time_source: Callable[[], float] | None = None
) -> Starlette:
    """Build a sandbox engine app; `time_source` replaces `time.time` (for tests)."""
    sandbox = Sandbox(config, time_source)
    platform = Platform(sandbox)
    sandbox.on_reset.append(platform.reset)
    app = Starlette(
        routes=[
            *engine_routes(sandbox),
            *control_routes(sandbox),
            *platform_control_routes(platform),
            *platform_routes(platform),
        ],
        exception_handlers={404: _no_route, 405: _no_route},
    )
    # Starlette would answer a path with a stray trailing slash with a 307 redirect to the
    # route without it; the engine's gateway has no such route, so it is the no-route 404.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app
