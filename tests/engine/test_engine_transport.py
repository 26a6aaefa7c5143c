"""The retry transport under the engine client: retries, fail-over, delivery, limits, hooks."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.engine.auth import BasicAuth
from reconciler.engine.call import Call
from reconciler.engine.client import EngineClient
from reconciler.engine.endpoints import Endpoints
from reconciler.engine.transport import RetryTransport
from reconciler.errors import EngineError, EngineUnavailableError, NameConflictError
from tests.engine.engine_helpers import APP_ID, BASE, Recorder

URLS = [f"https://h{i}.test/api/conversational-ai-agent" for i in range(2)]
CONFLICT = httpx.Response(409, json={"detail": "name held", "reason": "TaskConflict"})
JOINED = httpx.Response(200, json={"agent_id": "A1", "status": "RUNNING"})


def _scripted(*answers: Exception | httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """A handler giving ``answers`` in turn (raising the exceptions), repeating the last one."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def _client(handler: Any, recorder: Recorder, **kw: Any) -> EngineClient:
    kw.setdefault("retry", recorder.policy(kw.pop("max_attempts", 6)))
    return EngineClient(
        APP_ID,
        kw.pop("base_urls", [BASE]),
        BasicAuth("customer", "customer-secret-value"),
        transport=httpx.MockTransport(handler),
        **kw,
    )


def _join(handler: Any, recorder: Recorder, **kw: Any) -> Any:
    async def main() -> Any:
        async with _client(handler, recorder, **kw) as client:
            return await client.join("room-agent-1", {"channel": "room"})

    return asyncio.run(main())


def test_the_transport_retries_a_503_then_returns_the_success(recorder: Recorder) -> None:
    handler = _scripted(httpx.Response(503, json={"reason": "ServiceUnavailable"}), JOINED)
    transport = RetryTransport(
        httpx.MockTransport(handler),
        Endpoints([BASE]),
        recorder.policy(),
        timeout=5,
        max_in_flight=1,
    )
    call = Call("join", "join of 'x'", f"v2/projects/{APP_ID}/join", scrub=str)

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as http:
            request = http.build_request("POST", f"{BASE}/{call.path}", json={})
            return await http.send(call.attach(request))

    response = asyncio.run(main())
    assert response.status_code == 200 and response.json()["agent_id"] == "A1"
    assert (call.attempts, call.maybe_delivered) == (2, True)
    assert [(e.operation, e.cause, e.status) for e in recorder.events] == [
        ("join", "HTTP 503 ServiceUnavailable", 503)
    ]


def test_connection_errors_fail_over_to_the_second_endpoint_and_stay_there(
    recorder: Recorder,
) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "h0.test":
            raise httpx.ConnectError("refused")
        if request.url.path.endswith("/agents"):
            return httpx.Response(200, json={"data": {"list": []}})
        return httpx.Response(200, json={"agent_id": "A1", "status": "RUNNING"})

    async def main() -> str:
        async with _client(handler, recorder, base_urls=URLS) as client:
            await client.get("A1")
            await client.list_agents(states=[2])  # a later call goes to the endpoint that worked
            return client.endpoint

    assert asyncio.run(main()) == URLS[1]
    assert hosts == ["h0.test", "h1.test", "h1.test"]
    assert recorder.sleeps == []  # the second endpoint was untried: no wait
    assert [(e.cause, e.endpoint) for e in recorder.events] == [("connection error", URLS[0])]


def test_the_query_and_body_follow_the_request_to_the_next_endpoint(recorder: Recorder) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "h0.test":
            raise httpx.ConnectError("refused")
        return JOINED

    _join(handler, recorder, base_urls=URLS)
    first, second = seen
    assert (first.url.path, second.url.path) == (
        f"/api/conversational-ai-agent/v2/projects/{APP_ID}/join",
    ) * 2
    assert second.headers["host"] == "h1.test" and second.content == first.content
    assert second.headers["authorization"] == first.headers["authorization"]


@pytest.mark.parametrize(
    ("first_attempt", "resent"),
    [
        (httpx.ReadTimeout("sent, no answer"), True),
        (httpx.RemoteProtocolError("dropped after sending"), True),
        (httpx.Response(503, json={"reason": "ServiceUnavailable"}), True),
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("never connected"), False),
        (httpx.Response(429, json={"reason": "TooManyRequests"}), False),
    ],
    ids=["read-timeout", "dropped", "503", "refused", "connect-timeout", "429"],
)
def test_a_join_conflict_after_an_attempt_that_may_have_been_delivered_is_resent(
    recorder: Recorder, first_attempt: Exception | httpx.Response, resent: bool
) -> None:
    with pytest.raises(NameConflictError) as info:
        _join(_scripted(first_attempt, CONFLICT), recorder)
    assert info.value.resent is resent
    assert (info.value.status, info.value.reason, info.value.detail) == (
        409,
        "TaskConflict",
        "name held",
    )


def test_a_join_that_times_out_after_sending_is_reported_resent(recorder: Recorder) -> None:
    attempts: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(5)  # the engine got it but answers too late
        return CONFLICT

    with pytest.raises(NameConflictError) as info:
        _join(handler, recorder, timeout=0.05)
    assert info.value.resent and len(attempts) == 2
    assert [e.cause for e in recorder.events] == ["timeout"]


def test_a_join_conflict_met_at_once_is_not_resent(recorder: Recorder) -> None:
    with pytest.raises(NameConflictError) as info:
        _join(_scripted(CONFLICT), recorder)
    assert not info.value.resent and recorder.events == []


def test_every_attempt_is_reported_with_its_route_and_status(recorder: Recorder) -> None:
    heard: list[tuple[str, int]] = []
    handler = _scripted(
        httpx.ReadError("reset"), httpx.Response(502, json={"reason": "BadGateway"}), JOINED
    )
    _join(handler, recorder, on_response=lambda route, status: heard.append((route, status)))
    assert heard == [("join", 0), ("join", 502), ("join", 200)]


def test_no_more_than_max_connections_calls_are_in_flight(recorder: Recorder) -> None:
    in_flight = [0, 0]

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.01)
        in_flight[0] -= 1
        return httpx.Response(200, json={"agent_id": "A", "status": "RUNNING"})

    async def main() -> None:
        async with _client(handler, recorder, max_connections=3) as client:
            await asyncio.gather(*(client.get(f"A{i}") for i in range(10)))

    asyncio.run(main())
    assert in_flight[1] == 3


def test_a_certificate_failure_is_refused_at_once_naming_the_host(recorder: Recorder) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        failure = ssl.SSLCertVerificationError("certificate verify failed")
        failure.verify_message = "self-signed certificate"
        raise httpx.ConnectError("tls") from failure

    with pytest.raises(EngineError) as info:
        _join(handler, recorder, base_urls=URLS)
    assert str(info.value).startswith(
        "engine refused: join of 'room-agent-1': the TLS certificate of h0.test could not be "
        "verified (self-signed certificate)"
    )
    assert recorder.events == []  # never retried, never failed over


def test_a_request_httpx_cannot_send_is_an_engine_error_without_retries(
    recorder: Recorder,
) -> None:
    with pytest.raises(
        EngineError, match=r"engine request failed: join of .* \(UnsupportedProtocol"
    ):
        _join(_scripted(httpx.UnsupportedProtocol("ftp")), recorder)
    assert recorder.events == []


def test_failures_without_an_answer_outlasting_every_attempt_are_unavailable(
    recorder: Recorder,
) -> None:
    with pytest.raises(EngineUnavailableError) as info:
        _join(_scripted(httpx.ReadError("reset")), recorder, max_attempts=3)
    assert str(info.value) == (
        "engine unavailable: join of 'room-agent-1' failed after 3 attempts "
        "(connection dropped at engine.test)"
    )
    assert info.value.status == 0 and len(recorder.events) == 2
