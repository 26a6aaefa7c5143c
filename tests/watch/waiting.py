"""Waiting inside an event loop on a condition, with a generous timeout (never on a time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TIMEOUT_S = 30.0
"""Generous: a condition that holds at all holds long before this on a loaded machine."""


async def until(what: str, check: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    """Turn the event loop (other tasks run) until ``check()`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.02)
