"""Serve the sandbox over HTTP with uvicorn (loopback by default)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import SandboxConfig

KEEP_ALIVE_S = 75
"""How long an idle client connection is kept open. uvicorn's default of 5 s let a busy client
(thousands of joins on a loaded machine) reuse a connection the server was closing that very
moment, and fail with a read error that no real engine's load balancer would cause."""


def serve(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    log_level: str = "warning",
) -> None:
    """Run the sandbox until interrupted; closes its store on the way out."""
    app = create_app(config)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    finally:
        app.state.sandbox.close()
