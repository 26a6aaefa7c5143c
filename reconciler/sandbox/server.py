"""Serve the sandbox over HTTP with uvicorn (loopback by default)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable

import uvicorn

from .app import create_app
from .config import SandboxConfig

KEEP_ALIVE_S = 75
"""How long an idle client connection is kept open. uvicorn's default of 5 s let a busy client
(thousands of joins on a loaded machine) reuse a connection the server was closing that very
moment, and fail with a read error that no real engine's load balancer would cause."""

STARTUP_FAILURE = 3
"""The exit status when the server cannot start (e.g. the port is taken), as uvicorn's."""


class _Server(uvicorn.Server):
    """uvicorn's server, telling ``on_listening`` the port it bound once it listens."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit and self.servers:
            bound = self.servers[0].sockets[0].getsockname()
            self._on_listening(int(bound[1]))


def serve(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    log_level: str = "warning",
    on_listening: Callable[[int], None] = lambda _port: None,
) -> None:
    """Run the sandbox until interrupted; closes its store on the way out.

    ``on_listening`` is called with the port once the server listens (with ``port`` 0, the
    one the system chose).
    """
    app = create_app(config)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        ),
        on_listening,
    )
    try:
        server.run()  # what uvicorn.run does for one worker without reload
    except KeyboardInterrupt:
        pass
    finally:
        app.state.sandbox.close()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
