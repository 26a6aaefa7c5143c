"""Shared helpers of the engine tests: a recording sleep, retry policies and mock clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler.engine.auth import BasicAuth
from reconciler.engine.client import EngineClient
from reconciler.engine.retry import RetryEvent, RetryPolicy

APP_ID = "0123456789abcdef0123456789abcdef"
BASE = "https://engine.test/api/conversational-ai-agent"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response] | httpx.Response]


class Recorder:
    """Records the sleeps and retry events a policy asked for (nothing really sleeps)."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[RetryEvent] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def policy(self, max_attempts: int = 6, **kwargs: Any) -> RetryPolicy:
        kwargs.setdefault("random", lambda: 1.0)
        return RetryPolicy(max_attempts, sleep=self.sleep, on_retry=self.events.append, **kwargs)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mock_client(recorder: Recorder) -> Callable[..., EngineClient]:
    """Build an EngineClient over an httpx.MockTransport running ``handler``."""

    def build(
        handler: Handler,
        *,
        base_urls: list[str] | None = None,
        max_attempts: int = 6,
        timeout: float = 5.0,
        auth: Any = None,
    ) -> EngineClient:
        return EngineClient(
            APP_ID,
            base_urls or [BASE],
            auth or BasicAuth("customer", "customer-secret-value"),
            transport=httpx.MockTransport(handler),
            timeout=timeout,
            retry=recorder.policy(max_attempts),
            sleep=recorder.sleep,
        )

    return build
