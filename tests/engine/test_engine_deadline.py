"""The command's deadline bounds every wait on the engine: a persistent 503 with a huge
``Retry-After`` waits at most the documented cap per retry, and the call fails with
:class:`DeadlineExceededError` (exit 124, the deadline named) as soon as the next attempt would
begin after the deadline. Nothing sleeps for real: the policy's sleep advances a fake clock that
the deadline reads, except for one test whose deadline is 50 ms."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler.engine.auth import BasicAuth
from reconciler.engine.client import EngineClient
from reconciler.engine.retry import DEFAULT_MAX_RETRY_AFTER_S, RetryPolicy
from reconciler.errors import EXIT_DEADLINE, DeadlineExceededError, EngineUnavailableError
from reconciler.models.deadline import Deadline, current_deadline, deadline_scope
from tests.engine.engine_helpers import APP_ID, BASE

BUSY = httpx.Response(
    503, headers={"Retry-After": "3600"}, json={"reason": "ServiceUnavailable", "detail": "busy"}
)


class FakeTime:
    """A clock that only moves when the retry policy sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(handler: Any, time: FakeTime, max_attempts: int = 6) -> EngineClient:
    policy = RetryPolicy(max_attempts, sleep=time.sleep, random=lambda: 1.0)
    return EngineClient(
        APP_ID,
        [BASE],
        BasicAuth("customer", "customer-secret-value"),
        transport=httpx.MockTransport(handler),
        retry=policy,
    )


def _list(handler: Any, time: FakeTime, deadline: Deadline | None, **kw: Any) -> Any:
    async def main() -> Any:
        async with _client(handler, time, **kw) as client:
            return await client.list_agents()

    with deadline_scope(deadline):
        return asyncio.run(main())


def test_a_huge_retry_after_is_capped_at_the_documented_maximum() -> None:
    time = FakeTime()
    with pytest.raises(EngineUnavailableError) as caught:
        _list(lambda request: BUSY, time, None, max_attempts=4)
    assert not isinstance(caught.value, DeadlineExceededError)
    assert time.sleeps == [DEFAULT_MAX_RETRY_AFTER_S] * 3
    assert DEFAULT_MAX_RETRY_AFTER_S == 30.0  # the figure docs/operations.md gives


def test_a_persistent_503_ends_at_the_deadline_naming_it_without_waiting_past_it() -> None:
    time = FakeTime()
    deadline = Deadline.after(100.0, "--timeout 100s", clock=time.clock)
    attempts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(time.now)
        return BUSY

    with pytest.raises(DeadlineExceededError) as caught:
        _list(handler, time, deadline)
    # attempts at 0, 30, 60 and 90 s; the next would begin at 120 s, after the deadline
    assert [t - 1000.0 for t in attempts] == [0.0, 30.0, 60.0, 90.0]
    assert time.sleeps == [30.0, 30.0, 30.0]
    message = str(caught.value)
    assert "the command's deadline (--timeout 100s) runs out before the next attempt" in message
    assert "after 4 attempts (HTTP 503 ServiceUnavailable" in message
    assert caught.value.exit_code == EXIT_DEADLINE == 124


def test_a_call_made_after_the_deadline_is_not_sent() -> None:
    time = FakeTime()
    deadline = Deadline.after(5.0, "RECONCILER_TIMEOUT=5s", clock=time.clock)
    time.now += 6
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"list": []})

    with pytest.raises(DeadlineExceededError, match=r"RECONCILER_TIMEOUT=5s\) ran out.*not sent"):
        _list(handler, time, deadline)
    assert sent == []


def test_an_attempt_that_hangs_is_cut_at_the_deadline() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    deadline = Deadline.after(0.05, "--timeout 50ms")
    with pytest.raises(DeadlineExceededError, match=r"--timeout 50ms\) ran out.*timeout"):
        _list(hang, FakeTime(), deadline)


def test_the_deadline_is_the_command_s_only_inside_its_scope() -> None:
    deadline = Deadline.after(1.0, "--timeout 1s")
    assert current_deadline() is None
    with deadline_scope(deadline):
        assert current_deadline() is deadline
        with deadline_scope(None):  # watch: no deadline
            assert current_deadline() is None
        assert current_deadline() is deadline
    assert current_deadline() is None
