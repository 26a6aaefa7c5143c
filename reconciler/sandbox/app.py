"""The sandbox as an ASGI application: `create_app(config) -> Starlette`.

Usable in-process (`httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`, which is what
`engine: sandbox` does) or served by uvicorn (`server.serve`). The `Sandbox` behind the app is
`app.state.sandbox`; call its `close()` when done with an in-process app.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from .config import SandboxConfig
from .core import Sandbox
from .errors import no_route_response
from .routes_control import control_routes
from .routes_engine import engine_routes


async def _no_route(request: Request, exc: Exception) -> Response:
    return no_route_response()


def create_app(
    config: SandboxConfig, *, time_source: Callable[[], float] | None = None
) -> Starlette:
    """Build a sandbox engine app; `time_source` replaces `time.time` (for tests)."""
    sandbox = Sandbox(config, time_source)
    app = Starlette(
        routes=[*engine_routes(sandbox), *control_routes(sandbox)],
        exception_handlers={404: _no_route, 405: _no_route},
    )
    # Starlette would answer a path with a stray trailing slash with a 307 redirect to the
    # route without it; the engine's gateway has no such route, so it is the no-route 404.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app
