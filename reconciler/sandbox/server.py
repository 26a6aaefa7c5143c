"""Serve the sandbox over HTTP with uvicorn (loopback by default)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import SandboxConfig


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
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        app.state.sandbox.close()
