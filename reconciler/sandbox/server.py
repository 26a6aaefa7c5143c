"""Serve the sandbox over HTTP with uvicorn (loopback by default)."""

from __future__ import annotations

import socket
import sqlite3
import sys
from collections.abc import Callable

import uvicorn

from .app import create_app
from .config import SandboxConfig

KEEP_ALIVE_S = 75
"""How long an idle client connection is kept open. uvicorn's default of 5 s let a busy client
(thousands of joins on a loaded machine) reuse a connection the server was closing that very
moment, and fail with a read error that no real engine's load balancer would cause."""

STARTUP_FAILURE = 1
"""The exit status when the server does not start for a reason uvicorn alone reports."""


class ServeError(Exception):
    """The sandbox cannot be served: its address cannot be bound, or its database opened."""


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
    try:
        sock = _bind(host, port)
    except OSError as exc:
        raise ServeError(f"cannot serve on {host}:{port} ({exc.strerror or exc})") from None
    try:
        app = create_app(config)
    except sqlite3.DatabaseError as exc:
        sock.close()
        raise ServeError(
            f"--db {config.db_path}: cannot use it as the sandbox's database ({exc})"
        ) from None
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
        server.run(sockets=[sock])  # what uvicorn.run does for one worker without reload
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        app.state.sandbox.close()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, bound here so that a refusal (the port in use,
    an address not of this machine) is an error of its own rather than a log line of uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP, and
    # an accepted connection takes the listener's. Without it, an answer written in two parts
    # waits for the client's delayed ACK: 40 ms a request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
