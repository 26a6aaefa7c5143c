"""The retry transport: bounded attempts, backoff, endpoint fail-over and the in-flight limit.

:class:`RetryTransport` wraps the transport that talks to the network (the pooled one, or the
in-process sandbox's ASGI transport) the way httpx layers its own concerns: the client's auth
flow sets the ``Authorization`` header once per operation, and this transport makes the
attempts. Each attempt

* goes to the endpoint :class:`~reconciler.engine.endpoints.Endpoints` names now, so a
  connection failure moves this and every later request to the next base URL (without waiting
  when that one was not tried yet by this request);
* waits for one of ``max_in_flight`` slots and is bounded as a whole (answer and body) by
  ``timeout``;
* is reported to ``on_response`` with its operation and status (0 when no answer came).

Retried: 429 and 5xx answers (honouring ``Retry-After``), timeouts and dropped or refused
connections, for every operation. A join retried after an attempt that may have reached the
engine is marked in its :class:`~reconciler.engine.call.Call` (``maybe_delivered``), so that
a 409 it then meets is reported as possibly its own agent. A call that is not ``resend_safe``
(a Platform create) is retried only while no attempt can have reached the service (refused
connections, 429). Never retried: other answers, TLS certificate failures and malformed
requests. When attempts run out on a failure without an
answer this transport raises (see :mod:`reconciler.engine.errors_map`); on a retryable answer it
returns the last one for the client's error table.

The command's deadline (:func:`~reconciler.models.deadline.current_deadline`, ``--timeout``)
bounds it all: no attempt runs past it, and a pause before another attempt that would end after
it is not taken: the call fails at once with
:class:`~reconciler.errors.DeadlineExceededError`, which names the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from reconciler.engine.call import Call, call_of
from reconciler.engine.endpoints import Endpoints
from reconciler.engine.errors_map import (
    certificate_failure,
    certificate_refused,
    deadline_exceeded,
    request_failed,
    unreachable,
)
from reconciler.engine.retry import RetryEvent, RetryPolicy, is_retryable_status
from reconciler.engine.wire import error_fields, transport_cause
from reconciler.models.deadline import current_deadline

# Failures worth another attempt; others (UnsupportedProtocol, LocalProtocolError) are bugs.
# A bare ConnectionError is how an in-process (ASGI) server's dropped connection surfaces.
RETRYABLE_FAILURES: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    ConnectionError,
    asyncio.TimeoutError,
)
"""Exceptions of an attempt that got no answer and is worth repeating."""
ResponseHook = Callable[[str, int], None]
"""Hears of every attempt: the operation and the HTTP status (0 when no answer came)."""
CONNECT_FAILURES: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures that prove the request never reached the engine (and move to the next endpoint)."""


class RetryTransport(httpx.AsyncBaseTransport):
    """Sends each request through ``inner`` with retries and fail-over (see the module)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        endpoints: Endpoints,
        policy: RetryPolicy,
        *,
        timeout: float,
        max_in_flight: int,
        on_response: ResponseHook | None = None,
    ) -> None:
        if max_in_flight < 1 or timeout <= 0:
            raise ValueError("max_in_flight must be >= 1 and timeout > 0")
        self._inner = inner
        self._endpoints = endpoints
        self._policy = policy
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        self._on_response = on_response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The first answer not worth retrying, or the last one when attempts ran out."""
        call = call_of(request)
        tried: set[int] = set()
        deadline = current_deadline()
        while True:
            index = self._endpoints.index
            if deadline is not None and deadline.expired():  # nothing left for an attempt
                base = self._endpoints.base(index)
                raise deadline_exceeded(call, base, "not sent", deadline, None)
            call.attempts += 1
            tried.add(index)
            try:
                response = await self._attempt(request, self._endpoints.url(index, call.path))
            except RETRYABLE_FAILURES as exc:
                self._heard(call, 0)
                await self._after_failure(call, exc, index, tried)
                continue
            except httpx.HTTPError as exc:
                raise request_failed(call, self._endpoints.base(index), exc) from exc
            self._heard(call, response.status_code)
            if not await self._after_answer(call, response, index):
                return response

    async def _after_failure(
        self, call: Call, exc: BaseException, index: int, tried: set[int]
    ) -> None:
        """Wait before the next attempt after one that got no answer, or raise when it is the
        last one (or a certificate failure, which every attempt would meet again)."""
        base = self._endpoints.base(index)
        why = certificate_failure(exc)
        if why is not None:
            raise certificate_refused(call, base, why) from exc
        connect_failed = isinstance(exc, CONNECT_FAILURES)
        call.maybe_delivered |= not connect_failed
        cause = "connection error" if connect_failed else transport_cause(exc)
        if connect_failed:
            self._endpoints.fail_over(index)
        deadline = current_deadline()
        if deadline is not None and deadline.expired():  # it cut this attempt short
            raise deadline_exceeded(call, base, cause, deadline, None) from exc
        if not self._policy.should_retry(call.attempts) or call.outcome_unknown:
            raise unreachable(call, base, cause) from exc
        fresh = connect_failed and self._endpoints.index not in tried
        delay = 0.0 if fresh else self._policy.delay(call.attempts)
        self._within_deadline(call, base, cause, delay)
        await self._pause(call, delay, cause, 0, base)

    async def _after_answer(self, call: Call, response: httpx.Response, index: int) -> bool:
        """Whether to try again after ``response`` (having waited), False to return it."""
        status = response.status_code
        if not is_retryable_status(status):
            return False
        call.maybe_delivered |= status != 429
        if not self._policy.should_retry(call.attempts) or call.outcome_unknown:
            return False
        reason = call.scrub(error_fields(response)[0])
        cause = f"HTTP {status}" + (f" {reason}" if reason else "")
        delay = self._policy.delay(call.attempts, response.headers.get("retry-after"))
        base = self._endpoints.base(index)
        self._within_deadline(call, base, cause, delay)
        await self._pause(call, delay, cause, status, base)
        return True

    @staticmethod
    def _within_deadline(call: Call, base: str, cause: str, delay: float) -> None:
        """Raise when the command's deadline ends before the next attempt would begin."""
        deadline = current_deadline()
        if deadline is not None and deadline.remaining() <= delay:
            raise deadline_exceeded(call, base, cause, deadline, delay)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()

    async def _attempt(self, request: httpx.Request, url: str) -> httpx.Response:
        """One attempt at ``url``, bounded as a whole by the timeout and the in-flight slots."""
        aimed = _aimed(request, url)
        timeout = self._timeout
        deadline = current_deadline()
        async with self._slots:
            if deadline is not None:  # the time left, once a slot is free
                timeout = max(0.0, min(timeout, deadline.remaining()))
            return await asyncio.wait_for(self._exchange(aimed), timeout=timeout)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _pause(self, call: Call, delay: float, cause: str, status: int, base: str) -> None:
        limit = self._policy.max_attempts
        event = RetryEvent(
            call.operation, call.attempts, limit, delay, cause, status, base, call.service
        )
        await self._policy.pause(event)

    def _heard(self, call: Call, status: int) -> None:
        if self._on_response is not None:
            self._on_response(call.operation, status)


def _aimed(request: httpx.Request, url: str) -> httpx.Request:
    """``request`` sent to ``url`` (with the request's query), a copy when that differs.

    The request is usually built for ``url`` already (the endpoint did not change since): the
    text of its URL says so without parsing ``url`` (two URL parses per attempt otherwise).
    """
    if str(request.url).partition("?")[0] == url:
        return request
    target = httpx.URL(url).copy_with(query=request.url.query or None)
    if target == request.url:
        return request
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
    return httpx.Request(
        request.method,
        target,
        headers=headers,
        content=request.content,
        extensions=request.extensions,
    )
