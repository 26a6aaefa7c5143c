"""Lifecycle: STARTING → RUNNING → STOPPING → STOPPED, computed from timestamps against the clock
that `/_sandbox/clock/advance` moves; 404 TaskNotFound once ended; 409 for an active name; 422 at
the PCU limit; the 72 h cap, idle timeout, token expiry and crashes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, Client, api

MakeEngine = Callable[..., Client]


def test_join_answers_running_at_once_by_default(engine: Client) -> None:
    response = engine.join()
    assert response.json()["status"] == "RUNNING"
    assert engine.status(response.json()["agent_id"]) == "RUNNING"


def test_join_answers_starting_with_a_start_delay_then_running(make_engine: MakeEngine) -> None:
    engine = make_engine(start_delay_s=3)
    response = engine.join()
    assert response.json()["status"] == "STARTING"
    agent_id = response.json()["agent_id"]
    engine.advance(2.9)
    assert engine.status(agent_id) == "STARTING"
    engine.advance(0.2)
    assert engine.status(agent_id) == "RUNNING"


def test_leave_answers_200_with_an_empty_body(engine: Client) -> None:
    agent_id = engine.start()
    response = engine.leave(agent_id)
    assert response.status_code == 200
    assert response.content == b""


def test_leave_without_content_type_or_body_is_accepted(engine: Client) -> None:
    agent_id = engine.start()
    response = engine.request("POST", api(f"/agents/{agent_id}/leave"), content=b"")
    assert "content-type" not in response.request.headers
    assert response.status_code == 200


def test_leave_sets_stopping_then_stopped_after_the_stop_delay(engine: Client) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    body = engine.get(agent_id).json()
    assert body["status"] == "STOPPING"
    assert body["stop_ts"] == 0
    engine.advance(0.9)
    assert engine.status(agent_id) == "STOPPING"
    engine.advance(0.2)
    body = engine.get(agent_id).json()
    assert body["status"] == "STOPPED"
    assert "leave" in body["message"]
    assert body["stop_ts"] >= body["start_ts"]


def test_get_answers_message_start_ts_stop_ts_status_agent_id_and_name(engine: Client) -> None:
    agent_id = engine.start("named-agent")
    body = engine.get(agent_id).json()
    assert set(body) == {"message", "start_ts", "stop_ts", "status", "agent_id", "name"}
    assert (body["agent_id"], body["name"]) == (agent_id, "named-agent")


def test_stop_delay_zero_stops_at_once(make_engine: MakeEngine) -> None:
    engine = make_engine(stop_delay_s=0)
    agent_id = engine.start()
    engine.leave(agent_id)
    assert engine.status(agent_id) == "STOPPED"


def test_leave_on_stopped_agent_returns_404_task_not_found(engine: Client) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    engine.advance(5)
    response = engine.leave(agent_id)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "The session was not found, has already ended, or failed to start.",
        "reason": "TaskNotFound",
    }


def test_second_leave_while_stopping_returns_404_task_not_found(engine: Client) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    assert engine.leave(agent_id).status_code == 404


def test_leave_on_unknown_agent_returns_404(engine: Client) -> None:
    assert engine.leave("NOSUCHAGENT").json()["reason"] == "TaskNotFound"


def test_get_on_unknown_agent_returns_404_task_not_found(engine: Client) -> None:
    response = engine.get("NOSUCHAGENT")
    assert (response.status_code, response.json()["reason"]) == (404, "TaskNotFound")


def test_agent_of_another_app_id_is_not_found(engine: Client) -> None:
    agent_id = engine.start(app_id=APP_ID_2)
    assert engine.get(agent_id, APP_ID).status_code == 404
    assert engine.get(agent_id, APP_ID_2).status_code == 200


def test_get_on_ended_agent_keeps_answering_until_the_retention_then_404(
    engine: Client,
) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    engine.advance(6 * 86400)
    assert engine.status(agent_id) == "STOPPED"
    engine.advance(86400 + 2)
    assert engine.get(agent_id).status_code == 404


def test_get_on_ended_agent_is_404_at_once_with_zero_retention(make_engine: MakeEngine) -> None:
    engine = make_engine(stop_delay_s=0, get_retention_s=0)
    agent_id = engine.start()
    engine.leave(agent_id)
    assert engine.get(agent_id).status_code == 404


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("update", {"properties": {"llm": {"params": {"model": "x"}}}}),
        ("speak", {"text": "hi"}),
        ("interrupt", None),
        ("think", {"text": "hi"}),
    ],
)
def test_runtime_calls_on_a_stopped_agent_return_404_task_not_found(
    engine: Client, action: str, body: object
) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    engine.advance(2)
    response = engine.post(agent_id, action, body)
    assert (response.status_code, response.json()["reason"]) == (404, "TaskNotFound")


def test_history_on_a_stopping_agent_returns_404(engine: Client) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    response = engine.request("GET", api(f"/agents/{agent_id}/history"))
    assert (response.status_code, response.json()["reason"]) == (404, "TaskNotFound")


# -- names and the concurrency limit ---------------------------------------------------------


def test_join_with_the_name_of_a_running_agent_returns_409_task_conflict(engine: Client) -> None:
    engine.start("same")
    response = engine.join("same")
    assert response.status_code == 409
    assert response.json()["reason"] == "TaskConflict"


def test_a_stopping_agent_still_holds_its_name(engine: Client) -> None:
    engine.leave(engine.start("same"))
    assert engine.join("same").status_code == 409


def test_a_name_is_free_again_once_its_agent_is_stopped(engine: Client) -> None:
    first = engine.start("same")
    engine.leave(first)
    engine.advance(1.5)
    second = engine.start("same")
    assert second != first
    assert engine.status(first) == "STOPPED"


def test_a_name_is_free_again_once_its_agent_failed(engine: Client) -> None:
    first = engine.start("same")
    engine.control("POST", f"/agents/{first}/crash", {})
    assert engine.join("same").status_code == 200


def test_names_are_per_app_id(engine: Client) -> None:
    engine.start("same", APP_ID)
    assert engine.join("same", APP_ID_2).status_code == 200


def test_with_app_name_scope_a_name_is_unique_across_the_channels_of_an_app_id(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(name_scope="app")
    engine.start("same", channel="room-1")
    response = engine.join("same", channel="room-2")
    assert (response.status_code, response.json()["reason"]) == (409, "TaskConflict")


def test_by_default_a_name_is_unique_only_within_its_channel_as_documented(
    engine: Client,
) -> None:
    engine.start("same", channel="room-1")
    assert engine.join("same", channel="room-2").status_code == 200
    response = engine.join("same", channel="room-1")
    assert (response.status_code, response.json()["reason"]) == (409, "TaskConflict")


def test_the_409_body_names_the_agent_that_holds_the_name(engine: Client) -> None:
    holder = engine.start("same", channel="room-1")
    response = engine.join("same", channel="room-1")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "create agent failed: agent with same name exists",
        "reason": "TaskConflict",
        "agent_id": holder,
    }


def test_the_name_scope_can_change_while_the_sandbox_runs(engine: Client) -> None:
    engine.start("same", channel="room-1")
    engine.control("POST", "/settings", {"name_scope": "app"})
    response = engine.join("same", channel="room-2")
    assert (response.status_code, response.json()["reason"]) == (409, "TaskConflict")


def test_join_beyond_the_pcu_limit_returns_422_concurrency_limit_exceeded(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(pcu_limit=2)
    engine.start("a")
    engine.start("b")
    response = engine.join("c")
    assert response.status_code == 422
    assert response.json()["reason"] == "ConcurrencyLimitExceeded"
    assert engine.join("c", APP_ID_2).status_code == 200


def test_the_concurrency_reason_is_configurable(make_engine: MakeEngine) -> None:
    engine = make_engine(pcu_limit=0, concurrency_reason="ResourceQuotaLimitExceeded")
    assert engine.join().json()["reason"] == "ResourceQuotaLimitExceeded"


def test_stopping_agents_count_until_stopped(make_engine: MakeEngine) -> None:
    engine = make_engine(pcu_limit=1)
    engine.leave(engine.start("a"))
    assert engine.join("b").status_code == 422
    engine.advance(1.5)
    assert engine.join("b").status_code == 200


def test_default_pcu_limit_is_20(engine: Client) -> None:
    for index in range(20):
        engine.start(f"agent-{index}")
    assert engine.join("agent-20").status_code == 422


# -- time-driven exits -------------------------------------------------------------------------


def test_agent_stops_after_72_hours_whatever_idle_timeout_says(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.advance(72 * 3600 - 1)
    assert engine.status(agent_id) == "RUNNING"
    engine.advance(1)
    body = engine.get(agent_id).json()
    assert body["status"] == "STOPPING"
    assert "72h" in body["message"]
    engine.advance(1)
    assert engine.status(agent_id) == "STOPPED"


def test_crash_makes_the_agent_failed_with_its_message(engine: Client) -> None:
    agent_id = engine.start()
    view = engine.control("POST", f"/agents/{agent_id}/crash", {"message": "core: edge failed"})
    assert view["status"] == "FAILED"
    body = engine.get(agent_id).json()
    assert (body["status"], body["message"]) == ("FAILED", "core: edge failed")
    assert body["stop_ts"] >= body["start_ts"]
    assert engine.leave(agent_id).status_code == 404


def test_crash_of_an_ended_agent_is_refused(engine: Client) -> None:
    agent_id = engine.start()
    engine.leave(agent_id)
    engine.advance(2)
    response = engine.request("POST", f"/_sandbox/agents/{agent_id}/crash", json={})
    assert response.status_code == 409


def test_list_state_codes_follow_the_lifecycle(make_engine: MakeEngine) -> None:
    engine = make_engine(start_delay_s=1)
    stopped = engine.start("stopped")
    engine.advance(2)
    engine.leave(stopped)
    engine.advance(1.5)
    failed = engine.start("failed")
    engine.control("POST", f"/agents/{failed}/crash", {})
    running = engine.start("running")
    engine.advance(2)
    stopping = engine.start("stopping")
    engine.advance(1.5)
    engine.leave(stopping)
    starting = engine.start("starting")
    by_state = {
        code: [a["agent_id"] for a in engine.list(state=code).json()["data"]["list"]]
        for code in ("0", "1", "2", "3", "4", "5", "6")
    }
    assert by_state == {
        "0": [],
        "1": [starting],
        "2": [running],
        "3": [stopping],
        "4": [stopped],
        "5": [],
        "6": [failed],
    }
