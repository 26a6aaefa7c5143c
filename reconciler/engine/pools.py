"""The engine client's HTTP connection pools: several small ones sharing one TLS context.

httpcore's connection pool does work quadratic in its size on every request (each assignment
pass checks every connection against every queued request; encode/httpcore#1035), which at 50
connections cost more CPU than the rest of an apply. :class:`ConnectionPools` therefore spreads
requests over several :class:`httpx.AsyncClient` pools of at most :data:`POOL_SIZE`
connections: a request goes to the first pool with a free connection, and the pools hold
``max_connections`` together (the caller's slots keep requests from queuing in any of them).

The TLS context is built once and shared: building one loads the trust store, which took
longer than the rest of a plan's set-up when every pool built its own. Verification is always
on; ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` may add CAs (httpx's ``trust_env`` behaviour).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from reconciler.errors import SettingsError

__all__ = ["POOL_SIZE", "ConnectionPools"]

POOL_SIZE = 10
"""Connections per HTTP connection pool."""


class ConnectionPools:
    """``max_connections`` connections over pools of at most :data:`POOL_SIZE`, made lazily.

    With a ``transport`` (the in-process sandbox, a mock) there is one pool and no TLS.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        timeout: float,
        headers: dict[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        count = 1 if transport is not None else -(-max_connections // POOL_SIZE)
        self._sizes = [len(range(i, max_connections, count)) for i in range(count)]
        self._timeout = timeout
        self._headers = headers
        self._transport = transport
        self._tls: ssl.SSLContext | None = None
        self._pools: list[httpx.AsyncClient] = []
        self._busy: list[int] = []
        self._new_pool()  # fail early (e.g. an unreadable CA bundle), before any request

    @property
    def sizes(self) -> list[int]:
        """The planned size of each pool (together ``max_connections``)."""
        return list(self._sizes)

    @property
    def opened(self) -> int:
        """How many pools have been made so far."""
        return len(self._pools)

    def _verify(self) -> ssl.SSLContext | bool:
        """What each pool verifies with: the shared context (``True`` with a transport)."""
        return True if self._transport is not None else self._tls_context()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                self._tls = httpx.create_ssl_context()
            except (ssl.SSLError, OSError) as exc:
                raise SettingsError(
                    f"cannot set up TLS certificate verification ({exc}); check SSL_CERT_FILE "
                    "and SSL_CERT_DIR in the environment"
                ) from None
        return self._tls

    def _new_pool(self) -> int:
        size = self._sizes[len(self._pools)]
        self._pools.append(
            httpx.AsyncClient(
                transport=self._transport,
                verify=self._verify(),
                timeout=httpx.Timeout(self._timeout),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                headers=self._headers,
                follow_redirects=False,
            )
        )
        self._busy.append(0)
        return len(self._pools) - 1

    def _free_pool(self) -> int:
        """Index of the first pool with a free connection (made if all made are busy)."""
        for index, busy in enumerate(self._busy):
            if busy < self._sizes[index]:
                return index
        if len(self._pools) < len(self._sizes):
            return self._new_pool()
        return min(range(len(self._busy)), key=self._busy.__getitem__)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A pool with a free connection, counted busy while the block runs."""
        index = self._free_pool()
        self._busy[index] += 1
        try:
            yield self._pools[index]
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        """Close every pool (and the transport)."""
        for pool in self._pools:
            await pool.aclose()
