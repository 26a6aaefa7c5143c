"""The one table from HTTP answers to exceptions, as every operation of the client sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler.engine.auth import BasicAuth
from reconciler.engine.call import Call
from reconciler.engine.client import EngineClient
from reconciler.engine.errors_map import error_for_status
from reconciler.errors import EngineError, EngineUnavailableError, NameConflictError
from tests.engine.engine_helpers import APP_ID, BASE, Recorder

Operation = Callable[[EngineClient], Awaitable[Any]]
OPERATIONS: dict[str, Operation] = {
    "join": lambda c: c.join("room-agent-1", {"channel": "room"}),
    "leave": lambda c: c.leave("A1"),
    "update": lambda c: c.update("A1", {"llm": {"params": {}}}),
    "get": lambda c: c.get("A1"),
    "turns": lambda c: c.identify("A1"),
    "list": lambda c: c.list_agents(),
}


def _answer(status: int, reason: str, detail: str = "it went wrong") -> httpx.Response:
    return httpx.Response(status, json={"detail": detail, "reason": reason})


def _call(operation: str = "join") -> Call:
    return Call(operation, "join of 'room-agent-1'", "v2/projects/x/join", scrub=str, attempts=1)


@pytest.mark.parametrize(
    ("status", "reason", "error", "message"),
    [
        (401, "Unauthorized", EngineError, "engine refused join of 'room-agent-1': HTTP 401"),
        (403, "Forbidden", EngineError, "engine refused join of 'room-agent-1': HTTP 403"),
        (404, "InvalidPath", EngineError, "engine refused join of 'room-agent-1': HTTP 404"),
        (409, "TaskConflict", NameConflictError, "engine refused join of 'room-agent-1': HTTP 409"),
        (422, "LimitExceeded", EngineError, "engine refused join of 'room-agent-1': HTTP 422"),
        (429, "TooManyRequests", EngineUnavailableError, "engine unavailable: join of"),
        (500, "InternalError", EngineUnavailableError, "engine unavailable: join of"),
        (502, "", EngineUnavailableError, "engine unavailable: join of"),
        (503, "ServiceUnavailable", EngineUnavailableError, "engine unavailable: join of"),
    ],
)
def test_the_table_maps_each_status_to_its_exception_and_message(
    status: int, reason: str, error: type[EngineError], message: str
) -> None:
    raised = error_for_status(_answer(status, reason), _call())
    assert type(raised) is error
    assert str(raised).startswith(message)
    assert (raised.status, raised.reason, raised.detail) == (status, reason, "it went wrong")


def test_refusals_quote_the_reason_and_detail() -> None:
    raised = error_for_status(_answer(422, "LimitExceeded", "too many agents"), _call())
    assert str(raised) == (
        "engine refused join of 'room-agent-1': HTTP 422 LimitExceeded: too many agents"
    )


def test_unavailability_counts_the_attempts() -> None:
    call = _call()
    call.attempts = 3
    raised = error_for_status(_answer(503, "ServiceUnavailable"), call)
    assert str(raised) == (
        "engine unavailable: join of 'room-agent-1' answered HTTP 503 ServiceUnavailable "
        "after 3 attempts"
    )


def test_a_task_conflict_is_a_name_conflict_only_for_a_join() -> None:
    raised = error_for_status(_answer(409, "TaskConflict"), _call("update"))
    assert type(raised) is EngineError


def test_a_name_conflict_carries_whether_the_join_may_have_been_resent() -> None:
    call = _call()
    call.maybe_delivered = True
    raised = error_for_status(_answer(409, "TaskConflict"), call)
    assert isinstance(raised, NameConflictError) and raised.resent


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(
    ("status", "error"),
    [(401, EngineError), (403, EngineError), (422, EngineError), (503, EngineUnavailableError)],
)
def test_every_operation_raises_through_the_table(
    recorder: Recorder, operation: str, status: int, error: type[EngineError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _answer(status, "Reason")

    async def main() -> None:
        async with EngineClient(
            APP_ID,
            [BASE],
            BasicAuth("customer", "customer-secret-value"),
            transport=httpx.MockTransport(handler),
            retry=recorder.policy(1),
        ) as client:
            await OPERATIONS[operation](client)

    with pytest.raises(EngineError) as info:
        asyncio.run(main())
    assert type(info.value) is error and info.value.status == status


@pytest.mark.parametrize(
    ("body", "holder"),
    [
        ({"detail": "d", "reason": "TaskConflict", "agent_id": "A1B2C3"}, "A1B2C3"),
        ({"message": "task conflict", "statusCode": "TaskConflict", "taskId": "X9"}, "X9"),
        ({"detail": "d", "reason": "TaskConflict"}, None),
        ({"detail": "d", "reason": "TaskConflict", "agent_id": "not an id!"}, None),
        ({"detail": "d", "reason": "TaskConflict", "agent_id": 7}, None),
    ],
)
def test_a_409_reports_the_holder_it_names_and_nothing_else(
    body: dict[str, Any], holder: str | None
) -> None:
    raised = error_for_status(httpx.Response(409, json=body), _call("join"))
    assert isinstance(raised, NameConflictError)
    assert raised.holder == holder
