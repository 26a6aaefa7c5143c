"""The retry policy: full-jitter backoff, Retry-After, bounded attempts, no real sleeping."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from reconciler.engine.retry import (
    RetryEvent,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
)

NOW = 1_750_000_000.0


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 409, 422, 499, 600])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status)


def test_backoff_is_exponential_and_capped_at_its_ceiling() -> None:
    policy = RetryPolicy(8, base_delay_s=0.5, max_delay_s=10.0, random=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_has_full_jitter() -> None:
    draws = iter([0.0, 0.25, 0.999])
    policy = RetryPolicy(base_delay_s=1.0, random=lambda: next(draws))
    assert policy.backoff(3) == 0.0
    assert policy.backoff(3) == 1.0
    assert policy.backoff(3) == pytest.approx(3.996)


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(3)
    assert [policy.should_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert not RetryPolicy.no_retries().should_retry(1)
    with pytest.raises(ValueError):
        RetryPolicy(0)


def test_retry_after_seconds_and_dates() -> None:
    when = datetime.fromtimestamp(NOW + 7, tz=timezone.utc)
    assert parse_retry_after("3", NOW) == 3.0
    assert parse_retry_after(" 1.5 ", NOW) == 1.5
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(7.0)
    past = datetime.fromtimestamp(NOW - 60, tz=timezone.utc)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0.0
    for bad in (None, "", "soon", "-1", "nan", "inf", "Mon, 99 Foo 2024 25:00:00"):
        assert parse_retry_after(bad, NOW) is None


def test_delay_prefers_retry_after_and_caps_it() -> None:
    policy = RetryPolicy(max_retry_after_s=30.0, random=lambda: 0.5, clock=lambda: NOW)
    assert policy.delay(1, "2") == 2.0
    assert policy.delay(1, "3600") == 30.0
    assert policy.delay(1, "garbage") == 0.25  # falls back to jittered backoff
    assert policy.delay(2, None) == 0.5


def test_pause_reports_then_sleeps_without_real_time() -> None:
    slept: list[float] = []
    events: list[RetryEvent] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(sleep=fake_sleep, on_retry=events.append)
    event = RetryEvent("join", 1, 6, 1.25, "HTTP 503 ServiceUnavailable", 503, "http://x")
    asyncio.run(policy.pause(event))
    asyncio.run(policy.pause(RetryEvent("get", 2, 6, 0.0, "connection error")))
    assert slept == [1.25]  # a zero delay does not sleep at all
    assert [e.operation for e in events] == ["join", "get"]
