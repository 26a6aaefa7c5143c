"""Helpers shared by the engine tests (imported by name; conftest.py holds the fixtures)."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.engine.retry import RetryEvent, RetryPolicy

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"
BASE = "https://engine.test/api/conversational-ai-agent"


class Recorder:
    """Records the sleeps and retry events a policy asked for (nothing really sleeps)."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[RetryEvent] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def policy(self, max_attempts: int = 6, **kwargs: Any) -> RetryPolicy:
        """A policy that records instead of sleeping; ``random()`` is 1.0 (full ceilings)."""
        kwargs.setdefault("random", lambda: 1.0)
        return RetryPolicy(max_attempts, sleep=self.sleep, on_retry=self.events.append, **kwargs)


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and records ``(method, path, query)`` of every request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path, dict(request.url.params)))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, method: str, suffix: str = "") -> int:
        """Requests with ``method`` whose path ends with ``suffix``."""
        return sum(1 for m, path, _ in self.requests if m == method and path.endswith(suffix))
