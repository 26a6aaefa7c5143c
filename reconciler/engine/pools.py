"""The engine client's network transport: several small connection pools sharing one TLS context.

httpcore's connection pool does work quadratic in its size on every request (each assignment
pass checks every connection against every queued request; encode/httpcore#1035), which at 50
connections cost more CPU than the rest of an apply. :class:`PooledTransport` therefore spreads
requests over several httpx connection pools of at most :data:`POOL_SIZE`
connections (one: even at ten, the pool's checks of its idle connections, each asking the
socket for its peer, cost about as much CPU as the rest of a request; one connection a pool
halved the CPU of a request at 50 in flight): a request goes to the first pool with a free
connection, and the pools hold
``max_connections`` together (the retry transport's in-flight limit keeps requests from queuing
in any of them). A pool counts as busy until the answer's body has been read, which this
transport does before returning it (engine answers are small JSON documents).

The TLS context is built once per process and shared: building one loads the trust store
(about 35 ms of CPU here), which took longer than the rest of a plan's set-up when every pool
built its own, and an apply builds two clients (refresh, then the changes). When no request can
use TLS (every engine URL and every proxy named by the environment is ``http://``), no trust
store is loaded: the pools get a context that trusts nothing, so a TLS connection, should one
ever be made, fails verification instead of going unchecked. Verification is always on;
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` may add CAs.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable, Iterable

import httpx

from reconciler.errors import SettingsError

__all__ = ["POOL_SIZE", "PooledTransport", "needs_tls", "pool_sizes"]

POOL_SIZE = 1
"""Connections per HTTP connection pool (see the module docstring)."""

PoolFactory = Callable[[int], httpx.AsyncBaseTransport]
"""Makes one pool of the given number of connections."""


def pool_sizes(max_connections: int) -> list[int]:
    """The sizes of the pools that hold ``max_connections`` (each at most :data:`POOL_SIZE`)."""
    if max_connections < 1:
        raise ValueError("max_connections must be >= 1")
    count = -(-max_connections // POOL_SIZE)
    return [len(range(i, max_connections, count)) for i in range(count)]


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def needs_tls(urls: Iterable[str]) -> bool:
    """Whether a request to one of ``urls`` may use TLS: one of them, or a proxy the
    environment names (as httpx reads it), is not plain ``http://``."""
    wanted = [*urls, *_proxies()]
    return any(not url.lower().startswith("http://") for url in wanted)


def verifying_context() -> ssl.SSLContext:
    """A TLS context that verifies certificates, or :class:`SettingsError` when it cannot be
    built (an unreadable ``SSL_CERT_FILE``, for instance). One per process for the same
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``."""
    return _verifying_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _verifying_context(_cert_file: str | None, _cert_dir: str | None) -> ssl.SSLContext:
    try:
        return httpx.create_ssl_context()
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(
            f"cannot set up TLS certificate verification ({exc}); check SSL_CERT_FILE "
            "and SSL_CERT_DIR in the environment"
        ) from None


def trusting_nothing() -> ssl.SSLContext:
    """A TLS context that verifies certificates and host names against no CA at all: every
    TLS connection fails verification. For pools that are never meant to use TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


class PooledTransport(httpx.AsyncBaseTransport):
    """``max_connections`` connections over pools of at most :data:`POOL_SIZE`, made lazily.

    ``make_pool`` replaces the network pools (tests); by default each pool is an httpx
    client over the shared verifying TLS context, which is built at once so that a broken
    trust store fails before any request; ``tls=False`` (no request can use TLS, see
    :func:`needs_tls`) gives them :func:`trusting_nothing` instead.
    """

    def __init__(
        self, max_connections: int, *, make_pool: PoolFactory | None = None, tls: bool = True
    ) -> None:
        self._sizes = pool_sizes(max_connections)
        if make_pool is None:
            make_pool = _network_pools(verifying_context() if tls else trusting_nothing())
        self._make_pool = make_pool
        self._pools: list[httpx.AsyncBaseTransport] = []
        self._busy: list[int] = []
        self._new_pool()

    @property
    def sizes(self) -> list[int]:
        """The planned size of each pool (together ``max_connections``)."""
        return list(self._sizes)

    @property
    def opened(self) -> int:
        """How many pools have been made so far."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through a pool with a free connection and read the answer in full."""
        index = self._free_pool()
        self._busy[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self._pools:
            await pool.aclose()

    def _new_pool(self) -> int:
        self._pools.append(self._make_pool(self._sizes[len(self._pools)]))
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


def _proxies() -> list[str]:
    """The proxies the environment names (as httpx reads them)."""
    found = [os.environ.get(n) or os.environ.get(n.lower()) for n in _PROXY_VARIABLES]
    return [p for p in found if p]


def names_proxy() -> bool:
    """Whether the environment names a proxy for any request."""
    return bool(_proxies())


class _NetworkPool(httpx.AsyncBaseTransport):
    """One pool of ``size`` connections.

    When the environment names a proxy, an httpx client without auth or redirects, so that the
    proxy settings (``HTTPS_PROXY``, ``NO_PROXY``) apply as to any httpx client. Otherwise
    that client would only hand each request to its connection pool, after a second pass
    through httpx's client machinery (cookies, redirects, auth, URL checks) per request, the
    outer client having done it all already: the pool is then used directly.
    """

    def __init__(self, size: int, context: ssl.SSLContext) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._pool: httpx.AsyncClient | httpx.AsyncHTTPTransport
        if names_proxy():
            self._pool = httpx.AsyncClient(verify=context, limits=limits, follow_redirects=False)
        else:
            self._pool = httpx.AsyncHTTPTransport(verify=context, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` as it is (headers, timeouts and all), answer unread."""
        if isinstance(self._pool, httpx.AsyncClient):
            return await self._pool.send(request, stream=True)
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pool's connections."""
        await self._pool.aclose()


def _network_pools(context: ssl.SSLContext) -> PoolFactory:
    def make(size: int) -> httpx.AsyncBaseTransport:
        return _NetworkPool(size, context)

    return make
