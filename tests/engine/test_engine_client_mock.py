"""EngineClient against faults the sandbox cannot produce (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.engine.client import EngineClient
from reconciler.engine.layered import USER_AGENT
from reconciler.errors import (
    EngineError,
    EngineProtocolError,
    EngineUnavailableError,
    NameConflictError,
)
from tests.engine.engine_helpers import APP_ID, BASE, Recorder

Build = Callable[..., EngineClient]
PROPS: dict[str, Any] = {
    "channel": "room",
    "token": "007-agent-token-secret",
    "agent_rtc_uid": "1001",
    "remote_rtc_uids": ["*"],
    "llm": {"url": "https://llm.test/v1", "api_key": "sk-very-secret-key", "params": {}},
}
JOIN_OK = {"agent_id": "A1", "create_ts": 1735035893, "status": "RUNNING"}


def _run(build: Build, handler: Any, call: Callable[[EngineClient], Any], **kw: Any) -> Any:
    async def main() -> Any:
        async with build(handler, **kw) as client:
            return await call(client)

    return asyncio.run(main())


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_join_sends_the_documented_request(mock_client: Build) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(200, JOIN_OK)

    result = _run(mock_client, handler, lambda c: c.join("room-agent-1", PROPS, preset="p1"))
    assert (result.agent_id, result.create_ts, result.status) == ("A1", 1735035893, "RUNNING")
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v2/projects/{APP_ID}/join"
    assert request.headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("reconciler/")
    assert request.headers["authorization"].startswith("Basic ")
    assert json.loads(request.content) == {
        "name": "room-agent-1",
        "properties": PROPS,
        "preset": "p1",
    }


def test_join_falls_back_to_state_and_numeric_codes(mock_client: Build) -> None:
    bodies = iter([{"agent_id": "A1", "state": "STARTING"}, {"agent_id": "A2", "status": 2}])
    results = [
        _run(mock_client, lambda r: _json(200, next(bodies)), lambda c: c.join("n", PROPS))
        for _ in range(2)
    ]
    assert [r.status for r in results] == ["STARTING", "RUNNING"]
    assert results[0].create_ts is None


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(200, text="<html>ok</html>"),
            "answered 200 to join with a body that is not JSON",
        ),
        (httpx.Response(200, text=""), "not JSON"),
        (_json(200, ["A1"]), "JSON of the wrong shape"),
        (_json(200, {"id": "A1"}), "JSON of the wrong shape (agent_id: missing)"),
    ],
)
def test_bad_success_bodies_are_protocol_errors(
    mock_client: Build, response: httpx.Response, message: str
) -> None:
    with pytest.raises(EngineProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _run(mock_client, lambda r: response, lambda c: c.join("n", PROPS))


def test_list_with_wrong_shape_is_a_protocol_error(mock_client: Build) -> None:
    with pytest.raises(EngineProtocolError, match="to list with JSON of the wrong shape"):
        _run(mock_client, lambda r: _json(200, {"data": {}}), lambda c: c.list_agents())


@pytest.mark.parametrize(
    ("response", "reason", "detail"),
    [
        (
            _json(400, {"detail": "bad channel", "reason": "InvalidFieldValue"}),
            "InvalidFieldValue",
            "bad channel",
        ),
        (
            _json(409, {"message": "task conflict", "statusCode": "TaskConflict", "taskId": "X"}),
            "TaskConflict",
            "task conflict",
        ),
        (httpx.Response(403, text="<html> Forbidden </html>"), "", "<html> Forbidden </html>"),
        (_json(401, {"detail": [{"loc": ["x"]}]}), "", '[{"loc":["x"]}]'),
    ],
)
def test_error_bodies_of_every_shape_map_to_engine_error(
    mock_client: Build, recorder: Recorder, response: httpx.Response, reason: str, detail: str
) -> None:
    with pytest.raises(EngineError) as info:
        _run(mock_client, lambda r: response, lambda c: c.join("n", PROPS))
    error = info.value
    assert type(error) is (NameConflictError if reason == "TaskConflict" else EngineError)
    assert (error.status, error.reason, error.detail) == (response.status_code, reason, detail)
    assert f"HTTP {response.status_code}" in str(error)
    assert recorder.sleeps == []  # 4xx is never retried


def test_no_retry_on_400(mock_client: Build, recorder: Recorder) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _json(400, {"detail": "no", "reason": "InvalidRequestBody"})

    with pytest.raises(EngineError):
        _run(mock_client, handler, lambda c: c.update("A1", {"llm": {"params": {}}}))
    assert len(calls) == 1 and recorder.events == []


def test_503s_are_retried_with_backoff(mock_client: Build, recorder: Recorder) -> None:
    answers = iter(
        [_json(503, {"detail": "busy", "reason": "ServiceUnavailable"})] * 3 + [_json(200, JOIN_OK)]
    )
    result = _run(mock_client, lambda r: next(answers), lambda c: c.join("n", PROPS))
    assert result.agent_id == "A1"
    assert recorder.sleeps == [0.5, 1.0, 2.0]  # random() == 1.0: the full ceilings
    assert [e.cause for e in recorder.events] == ["HTTP 503 ServiceUnavailable"] * 3
    assert [e.attempt for e in recorder.events] == [1, 2, 3]


def test_429_honours_retry_after(mock_client: Build, recorder: Recorder) -> None:
    answers = iter(
        [_json(429, {"reason": "TooManyRequests"}, {"Retry-After": "7"}), _json(200, JOIN_OK)]
    )
    _run(mock_client, lambda r: next(answers), lambda c: c.join("n", PROPS))
    assert recorder.sleeps == [7.0]
    assert recorder.events[0].status == 429


def test_exhausted_retries_are_unavailable_with_the_last_answer(
    mock_client: Build, recorder: Recorder
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _json(502, {"detail": "gateway", "reason": "InternalError"})

    with pytest.raises(EngineUnavailableError) as info:
        _run(mock_client, handler, lambda c: c.get("A1"), max_attempts=3)
    assert (info.value.status, info.value.reason) == (502, "InternalError")
    assert "after 3 attempts" in str(info.value)
    assert len(recorder.sleeps) == 2


def test_a_hang_past_the_timeout_is_unavailable(mock_client: Build, recorder: Recorder) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return _json(200, JOIN_OK)

    with pytest.raises(EngineUnavailableError, match="timeout"):
        _run(mock_client, handler, lambda c: c.join("n", PROPS), timeout=0.02, max_attempts=2)
    assert [e.cause for e in recorder.events] == ["timeout"]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("eof"),
        ConnectionResetError("drop"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_dropped_connections_are_retried(
    mock_client: Build, recorder: Recorder, failure: Exception
) -> None:
    answers: list[Exception | httpx.Response] = [
        failure,
        _json(200, {"agent_id": "A1", "status": "RUNNING"}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    agent = _run(mock_client, handler, lambda c: c.get("A1"))
    assert agent.status == "RUNNING" and len(recorder.events) == 1


def test_connection_errors_fail_over_in_order(mock_client: Build, recorder: Recorder) -> None:
    hosts: list[str] = []
    urls = [f"https://h{i}.test/api/conversational-ai-agent" for i in range(3)]

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host != "h2.test":
            raise httpx.ConnectError("refused")
        return _json(200, {"agent_id": "A1", "status": "RUNNING"})

    async def main() -> list[str]:
        async with mock_client(handler, base_urls=urls) as client:
            await client.get("A1")
            await client.get("A1")  # sticks to the endpoint that worked
            return [client.endpoint]

    assert asyncio.run(main()) == [urls[2]]
    assert hosts == ["h0.test", "h1.test", "h2.test", "h2.test"]
    assert recorder.sleeps == []  # moving to an untried endpoint does not wait
    assert [e.cause for e in recorder.events] == ["connection error"] * 2


def test_every_endpoint_down_is_unavailable(mock_client: Build, recorder: Recorder) -> None:
    urls = [f"https://h{i}.test/api/conversational-ai-agent" for i in range(2)]

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(EngineUnavailableError, match="connection error"):
        _run(mock_client, handler, lambda c: c.get("A1"), base_urls=urls, max_attempts=4)
    assert recorder.sleeps == [1.0, 2.0]  # h0 -> h1 is free; then backoff on known-bad ones


def test_list_sends_state_explicitly_and_follows_cursors(mock_client: Build) -> None:
    pages = {
        "": {
            "data": {
                "count": 2,
                "list": [
                    {"agent_id": "A", "status": "RUNNING", "start_ts": 1},
                    {"agent_id": "B", "status": "STOPPED"},
                ],
            },
            "meta": {"cursor": "C", "total": 3},
        },
        "C": {
            "data": {"count": 1, "list": [{"agent_id": "C", "status": 6}]},
            "meta": {"cursor": None},
        },
    }
    queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(dict(request.url.params))
        return _json(200, pages[request.url.params.get("cursor", "")])

    agents = _run(
        mock_client, handler, lambda c: c.list_agents(channel="room", from_time=10, limit=2)
    )
    assert [(a.agent_id, a.status, a.channel) for a in agents] == [
        ("A", "RUNNING", "room"),
        ("B", "STOPPED", "room"),
        ("C", "FAILED", "room"),
    ]
    assert queries[0] == {
        "state": "0,1,2,3,4,5,6",
        "channel": "room",
        "from_time": "10",
        "limit": "2",
    }
    assert queries[1]["cursor"] == "C"


def test_list_cursor_loop_is_detected(mock_client: Build) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cursor = "X" if request.url.params.get("cursor") != "X" else "Y"
        if request.url.params.get("cursor") == "Y":
            cursor = "X"
        return _json(200, {"data": {"list": []}, "meta": {"cursor": cursor}})

    with pytest.raises(EngineProtocolError, match="loop"):
        _run(mock_client, handler, lambda c: c.list_agents(states=[2]))


def test_404_from_a_gateway_route_miss_is_not_missing(mock_client: Build) -> None:
    response = _json(404, {"message": "no Route matched with those values"})
    with pytest.raises(EngineError, match="HTTP 404"):
        _run(mock_client, lambda r: response, lambda c: c.get("A1"))
    with pytest.raises(EngineError, match="HTTP 404"):
        _run(mock_client, lambda r: response, lambda c: c.leave("A1"))
    legacy = _json(404, {"message": "gone", "statusCode": "TaskNotFound"})
    assert _run(mock_client, lambda r: legacy, lambda c: c.leave("A1")) is False


def test_no_secret_reaches_an_exception(mock_client: Build) -> None:
    header_values: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        header_values.append(request.headers["authorization"])
        body = request.content.decode()
        return _json(
            400,
            {
                "detail": f"bad body {body} auth {request.headers['authorization']}",
                "reason": "InvalidFieldValue",
            },
        )

    with pytest.raises(EngineError) as info:
        _run(mock_client, echo, lambda c: c.join("n", PROPS))
    text = f"{info.value} {info.value.detail}"
    for secret in ("sk-very-secret-key", "007-agent-token-secret", header_values[0].split()[1]):
        assert secret not in text
    assert "(sensitive)" in text

    def unavailable(request: httpx.Request) -> httpx.Response:
        return _json(
            503,
            {
                "detail": f"cannot start with {request.content.decode()}",
                "reason": "ServiceUnavailable",
            },
        )

    with pytest.raises(EngineUnavailableError) as info2:
        _run(mock_client, unavailable, lambda c: c.join("n", PROPS), max_attempts=1)
    assert "sk-very-secret-key" not in f"{info2.value} {info2.value.detail}"


def test_wait_stopped_polls_until_an_end_state(mock_client: Build, recorder: Recorder) -> None:
    statuses = iter(["RUNNING", "STOPPING", "STOPPED"])

    def handler(request: httpx.Request) -> httpx.Response:
        return _json(200, {"agent_id": "A1", "status": next(statuses), "message": "bye"})

    agent = _run(mock_client, handler, lambda c: c.wait_stopped("A1", timeout=60, poll_interval=2))
    assert (agent.status, agent.message) == ("STOPPED", "bye")
    assert recorder.sleeps == [2, 2]


def test_wait_stopped_times_out(mock_client: Build) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _json(200, {"agent_id": "A1", "status": "STOPPING"})

    async def main() -> None:
        now = [0.0]

        async def tick(seconds: float) -> None:
            now[0] += seconds

        async with mock_client(handler, sleep=tick, clock=lambda: now[0]) as client:
            await client.wait_stopped("A1", timeout=3, poll_interval=1)

    with pytest.raises(EngineError, match="did not stop within 3 s"):
        asyncio.run(main())
