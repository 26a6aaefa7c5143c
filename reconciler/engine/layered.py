"""The HTTP layers both REST clients stand on (the engine's and the Platform's).

:class:`LayeredClient` builds one :class:`httpx.AsyncClient` from them, as httpx layers its
own concerns:

* :class:`~reconciler.engine.auth.EngineAuth`, the auth flow, sets the ``Authorization``
  header (and remembers its credential for scrubbing);
* :class:`~reconciler.engine.transport.RetryTransport` makes the attempts: retries with
  backoff, endpoint fail-over, timeouts, the in-flight limit, retry events and metrics;
* :class:`~reconciler.engine.pools.PooledTransport` (or the caller's transport, e.g. the
  in-process sandbox) talks to the network.

It owns the client's lifetime (``async with``), its endpoints and the secrets it scrubs from
every text it quotes; the operations are the subclasses'.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import lru_cache, partial
from types import TracebackType
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.engine.auth import AuthProvider, EngineAuth
from reconciler.engine.call import Call
from reconciler.engine.endpoints import Endpoints
from reconciler.engine.errors_map import error_for_status
from reconciler.engine.pools import PooledTransport, needs_tls
from reconciler.engine.retry import RetryPolicy
from reconciler.engine.scrubbing import Scrubber
from reconciler.engine.transport import ResponseHook, RetryTransport

_Client = TypeVar("_Client", bound="LayeredClient")


@lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed, once for the many calls to the same URL (every join has one): httpx
    checks a URL character by character, a good part of building a request."""
    return httpx.URL(url)


USER_AGENT = f"reconciler/{__version__}"
"""The ``User-Agent`` of every request: ``reconciler/<version>``, the version ``reconciler
--version`` prints (asking the installed package's metadata instead searched the import path,
about 0.3 s before an apply's first call on a busy machine)."""


class LayeredClient:
    """An async REST client for one App ID on the layers above; use as ``async with``.

    ``base_urls`` are tried in order, moving to the next on a connection failure (and staying
    there for later calls). ``transport`` replaces the network (the in-process sandbox's ASGI
    transport, or a mock in tests). ``timeout`` bounds each attempt as a whole. At most
    ``max_connections`` requests are in flight at once; give at least the caller's own
    concurrency. ``sleep`` and ``clock`` (monotonic seconds) drive any polling the client does.
    ``on_response`` hears of every attempt: the operation and the HTTP status, 0 when no answer
    came (for metrics; it must not raise).
    """

    SERVICE: ClassVar[str] = "engine"
    """Who is called, in messages (``engine`` or ``platform``)."""
    API_ROOT: ClassVar[str] = "v2/projects"
    """The path, under a base URL, of the projects (App IDs)."""

    def __init__(
        self,
        app_id: str,
        base_urls: Sequence[str],
        auth: AuthProvider,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 10,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_response: ResponseHook | None = None,
    ) -> None:
        name = type(self).__name__
        if not base_urls:
            raise ValueError(f"{name} needs at least one base URL")
        if not app_id:
            raise ValueError(f"{name} needs an app_id")
        if max_connections < 1 or timeout <= 0:
            raise ValueError("max_connections must be >= 1 and timeout > 0")
        self.app_id = app_id
        self._endpoints = Endpoints(base_urls)
        self._sleep = sleep
        self._clock = clock
        self._secrets = Scrubber()
        if transport is not None:
            network = transport
        else:
            network = PooledTransport(max_connections, tls=needs_tls(base_urls))
        self._http = httpx.AsyncClient(
            auth=EngineAuth(auth, self._secrets.remember),
            transport=RetryTransport(
                network,
                self._endpoints,
                retry if retry is not None else RetryPolicy(),
                timeout=timeout,
                max_in_flight=max_connections,
                on_response=on_response,
            ),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self: _Client) -> _Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (and the transport)."""
        await self._http.aclose()

    def add_secrets(self, values: Iterable[str]) -> None:
        """Also scrub these values from every text the client quotes (secrets the project
        knows, e.g. vendor keys sent at join that an error about a later call could quote)."""
        self._secrets.add(values)

    @property
    def endpoint(self) -> str:
        """The base URL the next request goes to."""
        return self._endpoints.current

    def _no_such_resource(self, response: httpx.Response) -> bool:
        """Whether a 404 means the resource does not exist (not a wrong path)."""
        raise NotImplementedError

    def _remember_body_secrets(self, body: Mapping[str, Any]) -> None:
        """Hook: what a request body tells the client to scrub from later answers too."""

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
        resend_safe: bool = True,
    ) -> httpx.Response:
        """Send one operation (the transport retries it) and give its 2xx answer.

        ``path`` is under the project's root (``<API root>/<app id>/``). Any other answer raises
        the exception :mod:`~reconciler.engine.errors_map` gives it, except, with
        ``not_found_ok``, a 404 that means the resource does not exist, which is returned.
        ``resend_safe`` False: never sent again once an attempt may have been delivered.
        """
        if body is not None:
            self._remember_body_secrets(body)
        call = Call(
            operation,
            what,
            f"{self.API_ROOT}/{path_segment(self.app_id)}/{path}",
            scrub=partial(self._secrets.scrub, body=body),
            service=self.SERVICE,
            resend_safe=resend_safe,
        )
        url = _parsed_url(f"{self._endpoints.current}/{call.path}")
        request = self._http.build_request(
            method, url, json=body, params=params, headers=headers or None
        )
        response = await self._http.send(call.attach(request))
        if 200 <= response.status_code < 300:
            return response
        if not_found_ok and response.status_code == 404 and self._no_such_resource(response):
            return response
        raise error_for_status(response, call)


def path_segment(value: str) -> str:
    """One URL path segment, percent-encoded."""
    return quote(value, safe="")
