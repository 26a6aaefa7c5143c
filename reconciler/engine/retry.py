"""When and how long to wait before trying an engine call again.

Retried: HTTP 429 and 5xx answers, timeouts and connection errors (the client classifies those).
Never retried: any other 4xx, which would fail the same way again (a 409 ``TaskConflict`` in
particular is handled by adoption, not by retrying).

Delays use exponential backoff with *full jitter*: before attempt ``n + 1`` the policy waits a
uniformly random time in ``[0, min(max_delay_s, base_delay_s * 2 ** (n - 1))]``. A
``Retry-After`` header (seconds or an HTTP date) replaces that draw, capped at
``max_retry_after_s``. ``sleep``, ``random`` and ``clock`` are injectable so tests neither sleep
nor depend on chance, and ``on_retry`` lets the caller log or count retries (nothing prints).
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BASE_DELAY_S = 0.5
DEFAULT_MAX_DELAY_S = 10.0
DEFAULT_MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen, as reported to ``on_retry``.

    ``attempt`` is the attempt that just failed (1-based); ``cause`` is a short description
    (``"HTTP 503 ServiceUnavailable"``, ``"timeout"``, ``"connection error"``); ``status`` is the
    HTTP status (0 when no answer came); ``endpoint`` the base URL the failed attempt used;
    ``service`` which service it was.
    """

    operation: str
    attempt: int
    max_attempts: int
    delay_s: float
    cause: str
    status: int = 0
    endpoint: str = ""
    service: str = "engine"
    """Who was asked: ``engine`` (the v2 engine) or ``platform`` (the Conversational AI
    Platform), as the lines that report a retry name it."""


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth another attempt: 429 and every 5xx."""
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date), or None.

    ``now`` is the wall clock (for the date form). Negative or unparsable values give None; a
    date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative, inf
        return None
    return seconds


class RetryPolicy:
    """Bounded retries with exponential backoff, full jitter and ``Retry-After``."""

    def __init__(
        self,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        base_delay_s: float = DEFAULT_BASE_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.time,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if base_delay_s < 0 or max_delay_s < 0 or max_retry_after_s < 0:
            raise ValueError("delays must be >= 0")
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._on_retry = on_retry

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt may follow the failed ``attempt`` (1-based)."""
        return attempt < self.max_attempts

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay after the failed ``attempt`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, attempt - 1))
        return self._random() * ceiling

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """The wait before the next attempt: ``Retry-After`` (capped) if usable, else backoff."""
        hinted = parse_retry_after(retry_after, self._clock())
        if hinted is not None:
            return min(hinted, self.max_retry_after_s)
        return self.backoff(attempt)

    async def pause(self, event: RetryEvent) -> None:
        """Report ``event`` to ``on_retry``, then wait ``event.delay_s``."""
        if self._on_retry is not None:
            self._on_retry(event)
        if event.delay_s > 0:
            await self._sleep(event.delay_s)

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """A policy that makes a single attempt."""
        return cls(max_attempts=1)
