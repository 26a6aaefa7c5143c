"""Fixtures of the engine tests: a recording retry policy and clients over mock transports."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from reconciler.engine.auth import BasicAuth
from reconciler.engine.client import EngineClient
from tests.engine.engine_helpers import APP_ID, BASE, Recorder

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


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
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Coroutine[None, None, None]] | None = None,
    ) -> EngineClient:
        return EngineClient(
            APP_ID,
            base_urls or [BASE],
            auth or BasicAuth("customer", "customer-secret-value"),
            transport=httpx.MockTransport(handler),
            timeout=timeout,
            retry=recorder.policy(max_attempts),
            sleep=sleep or recorder.sleep,
            clock=clock or time.monotonic,
        )

    return build
