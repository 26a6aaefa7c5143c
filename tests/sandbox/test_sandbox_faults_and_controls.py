"""Seeded, reproducible faults (latency, 429 with Retry-After, server errors, dropped
connections, targeted rules) and the `/_sandbox/` controls (agents, clock, settings, request
log, reset)."""

from __future__ import annotations

import asyncio
import contextlib
import typing
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from agora_agent.types.agent_error_response_reason import AgentErrorResponseReason

from reconciler.sandbox.faults import DEFAULT_REASONS, ConnectionDropped
from tests.sandbox.sandbox_helpers import APP_ID, BASIC, Client, api

MakeEngine = Callable[..., Client]


def _outcomes(engine: Client, n: int) -> list[int]:
    return [engine.list().status_code for _ in range(n)]


def test_same_seed_gives_the_same_fault_sequence(make_engine: MakeEngine) -> None:
    faults = {"error_rate": 0.3, "rate_limit": 0.2, "seed": 42}
    first = make_engine(**faults)
    second = make_engine(**faults)
    sequence = _outcomes(first, 40)
    assert sequence == _outcomes(second, 40)
    assert {200, 429, 503} <= set(sequence)


def test_reseeding_through_the_control_replays_the_sequence(engine: Client) -> None:
    engine.control("POST", "/faults", {"error_rate": 0.5, "seed": 3})
    first = _outcomes(engine, 20)
    engine.control("POST", "/faults", {"seed": 3})
    assert _outcomes(engine, 20) == first


def test_the_nth_request_fate_does_not_depend_on_the_rates(make_engine: MakeEngine) -> None:
    low = make_engine(error_rate=0.2, seed=9)
    high = make_engine(error_rate=0.6, seed=9)
    low_failed = {i for i, s in enumerate(_outcomes(low, 50)) if s != 200}
    high_failed = {i for i, s in enumerate(_outcomes(high, 50)) if s != 200}
    assert low_failed <= high_failed


def test_rate_limited_requests_get_429_with_retry_after(make_engine: MakeEngine) -> None:
    engine = make_engine(rate_limit=1.0, retry_after_s=7)
    response = engine.list()
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert set(response.json()) == {"detail", "reason"}


def test_every_reason_the_sandbox_injects_is_one_the_sdk_lists(make_engine: MakeEngine) -> None:
    listed = set(typing.get_args(typing.get_args(AgentErrorResponseReason)[0]))
    assert set(DEFAULT_REASONS.values()) <= listed
    assert make_engine(rate_limit=1.0).list().json()["reason"] in listed


def test_error_rate_answers_503_service_unavailable(make_engine: MakeEngine) -> None:
    response = make_engine(error_rate=1.0).join()
    assert (response.status_code, response.json()["reason"]) == (503, "ServiceUnavailable")


def test_injected_errors_apply_nothing(make_engine: MakeEngine) -> None:
    engine = make_engine(error_rate=1.0)
    engine.join()
    assert engine.control("GET", "/agents")["agents"] == []


def test_error_status_500_answers_internal_error(make_engine: MakeEngine) -> None:
    response = make_engine(error_rate=1.0, error_status=500).list()
    assert (response.status_code, response.json()["reason"]) == (500, "InternalError")


def test_latency_holds_an_engine_request_before_it_is_answered(make_engine: MakeEngine) -> None:
    # An hour of latency: whenever the test looks, the request is still held. No clock is read:
    # the request log shows it arrived, and it is neither authenticated nor answered. (Without
    # latency nothing between its logging and its authentication awaits, so it would be.)
    engine = make_engine(latency_ms=3_600_000)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=engine.app), base_url="http://x")

    async def scenario() -> dict[str, Any]:
        headers = {"Authorization": BASIC}
        held = asyncio.create_task(http.get(api("/agents"), headers=headers))
        try:
            for _ in range(100_000):  # a condition, not a time: the event loop turns until then
                await asyncio.sleep(0)
                log = (await http.get("/_sandbox/requests")).json()["requests"]
                if log:
                    assert not held.done()
                    entry: dict[str, Any] = log[0]
                    return entry
            raise AssertionError("the request never reached the sandbox")
        finally:
            held.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await held
            await http.aclose()

    entry = asyncio.run(scenario())
    assert (entry["route"], entry["auth"], entry["status"]) == ("list", None, None)


def test_faults_can_be_limited_to_some_routes(engine: Client) -> None:
    engine.control("POST", "/faults", {"error_rate": 1.0, "routes": ["join"]})
    assert engine.list().status_code == 200
    assert engine.join().status_code == 503


def test_dropped_connection_raises_in_process(make_engine: MakeEngine) -> None:
    engine = make_engine(drop_rate=1.0)
    with pytest.raises(ConnectionDropped):
        engine.list()


def test_rule_fails_join_for_one_name_permanently(engine: Client) -> None:
    rule = engine.control("POST", "/faults/rules", {"route": "join", "name": "doomed"})
    assert rule["id"] >= 1
    for _ in range(3):
        response = engine.join("doomed")
        assert (response.status_code, response.json()["reason"]) == (503, "ServiceUnavailable")
    assert engine.join("fine").status_code == 200
    assert engine.control("GET", "/faults")["rules"][0]["hits"] == 3


def test_rule_with_times_fails_only_that_often(engine: Client) -> None:
    engine.control(
        "POST",
        "/faults/rules",
        {"route": "join", "status": 429, "retry_after_s": 2, "times": 2},
    )
    first = engine.join("a")
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert engine.join("a").status_code == 429
    assert engine.join("a").status_code == 200


def test_rule_can_target_an_agent_by_name_on_agent_routes(engine: Client) -> None:
    victim = engine.start("victim")
    other = engine.start("other")
    engine.control(
        "POST",
        "/faults/rules",
        {"route": "leave", "name": "victim", "status": 504, "reason": "TaskOperationTimeout"},
    )
    response = engine.leave(victim)
    assert (response.status_code, response.json()["reason"]) == (504, "TaskOperationTimeout")
    assert engine.leave(other).status_code == 200


def test_an_echo_rule_quotes_the_request_in_its_error(engine: Client) -> None:
    """What a careless server does, for the tests of the client's scrubbing: the detail quotes
    the body as received and the Authorization header."""
    engine.control("POST", "/faults/rules", {"route": "join", "status": 400, "echo": True})
    response = engine.join("echoed", llm={"api_key": "k-echo-1234"})
    detail = response.json()["detail"]
    assert response.status_code == 400
    assert '"name":"echoed"' in detail and '"api_key":"k-echo-1234"' in detail
    assert detail.endswith(f"; Authorization: {BASIC}")  # the body as sent, then the header


def test_an_echo_rule_must_say_true_or_false(engine: Client) -> None:
    response = engine.request("POST", "/_sandbox/faults/rules", json={"echo": "yes"})
    assert response.status_code == 400 and "echo" in response.json()["error"]


def test_rule_can_target_an_agent_id(engine: Client) -> None:
    agent_id = engine.start()
    engine.control("POST", "/faults/rules", {"route": "get", "agent_id": agent_id, "status": 500})
    assert engine.get(agent_id).status_code == 500


def test_drop_after_applies_the_request_but_loses_the_answer(engine: Client) -> None:
    engine.control("POST", "/faults/rules", {"route": "join", "action": "drop_after", "times": 1})
    with pytest.raises(ConnectionDropped):
        engine.join("lost-answer")
    agents = engine.control("GET", "/agents?name=lost-answer")["agents"]
    assert [a["status"] for a in agents] == ["RUNNING"]
    assert engine.join("lost-answer").json()["reason"] == "TaskConflict"


def test_drop_rule_loses_the_request(engine: Client) -> None:
    engine.control("POST", "/faults/rules", {"route": "join", "action": "drop"})
    with pytest.raises(ConnectionDropped):
        engine.join()
    assert engine.control("GET", "/agents")["agents"] == []


def test_rules_can_be_cleared(engine: Client) -> None:
    engine.control("POST", "/faults/rules", {"route": "*"})
    assert engine.list().status_code == 503
    engine.control("DELETE", "/faults/rules")
    assert engine.list().status_code == 200


def test_faults_apply_before_authentication_and_rules_after(engine: Client) -> None:
    engine.control("POST", "/faults/rules", {"route": "list"})
    unauthenticated = engine.request("GET", engine_list_path(), headers={"Authorization": "x"})
    assert unauthenticated.status_code == 401


def engine_list_path() -> str:
    return f"/api/conversational-ai-agent/v2/projects/{APP_ID}/agents"


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 2},
        {"latency_ms": -1},
        {"error_status": 418},
        {"routes": ["nope"]},
        {"bogus": 1},
        {"rules": [{"route": "nope"}]},
        {"rules": [{"action": "explode"}]},
        {"rules": [{"status": 200}]},
        {"rules": [{"times": 0}]},
        {"rules": [{"colour": "red"}]},
        {"seed": "x"},
        {"error_rate": 0.5, "seed": "x"},
        {"latency_ms": 5, "rules": [{"route": "nope"}]},
    ],
)
def test_invalid_fault_settings_are_refused_with_400(engine: Client, body: dict[str, Any]) -> None:
    before = engine.control("GET", "/faults")
    response = engine.request("POST", "/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert engine.control("GET", "/faults") == before


# -- controls ----------------------------------------------------------------------------------


def test_control_agents_shows_status_wire_name_join_body_and_updates(engine: Client) -> None:
    agent_id = engine.start("wire-name")
    engine.update(agent_id, {"properties": {"llm": {"params": {"model": "b"}}}})
    (view,) = engine.control("GET", "/agents")["agents"]
    assert view["agent_id"] == agent_id
    assert view["name"] == "wire-name"
    assert view["status"] == "RUNNING"
    assert view["join_body"]["name"] == "wire-name"
    assert view["join_body"]["properties"]["llm"]["params"] == {
        "model": "gpt-4o-mini",
        "max_tokens": 128,
    }
    assert view["properties"]["llm"]["params"] == {"model": "b"}
    assert len(view["updates"]) == 1


def test_control_agents_filters_by_status_name_and_channel(engine: Client) -> None:
    a = engine.start("a", channel="one")
    b = engine.start("b", channel="two")
    engine.leave(b)
    ids = lambda query: [x["agent_id"] for x in engine.control("GET", f"/agents?{query}")["agents"]]  # noqa: E731
    assert ids("status=RUNNING") == [a]
    assert ids("status=STOPPING") == [b]
    assert ids("name=b") == [b]
    assert ids("channel=one") == [a]
    assert engine.request("GET", "/_sandbox/agents?status=BOGUS").status_code == 400


def test_control_unknown_agent_is_404(engine: Client) -> None:
    assert engine.request("GET", "/_sandbox/agents/NOPE").status_code == 404


def test_clock_advance_moves_now_and_refuses_going_back(engine: Client) -> None:
    before = engine.control("GET", "/clock")
    after = engine.control("POST", "/clock/advance", {"seconds": 90})
    assert after["now"] - before["now"] == pytest.approx(90)
    assert after["offset_s"] == pytest.approx(90)
    assert (
        engine.request("POST", "/_sandbox/clock/advance", json={"seconds": -1}).status_code == 400
    )
    assert engine.request("POST", "/_sandbox/clock/advance", json={}).status_code == 400


def test_create_ts_follows_the_sandbox_clock(engine: Client) -> None:
    engine.advance(1000)
    now = engine.control("GET", "/clock")["now"]
    assert engine.join().json()["create_ts"] == int(now)


def test_settings_can_be_changed_at_runtime(engine: Client) -> None:
    settings = engine.control("POST", "/settings", {"pcu_limit": 1, "stop_delay_s": 0})
    assert (settings["pcu_limit"], settings["stop_delay_s"]) == (1, 0)
    agent_id = engine.start("a")
    assert engine.join("b").status_code == 422
    engine.leave(agent_id)
    assert engine.status(agent_id) == "STOPPED"
    response = engine.request("POST", "/_sandbox/settings", json={"pcu_limit": -1})
    assert response.status_code == 400
    assert engine.request("POST", "/_sandbox/settings", json={"nope": 1}).status_code == 400


def test_request_log_records_engine_calls_with_status_and_fault(engine: Client) -> None:
    engine.control("POST", "/faults/rules", {"route": "get", "times": 1})
    agent_id = engine.start()
    engine.get(agent_id)
    engine.get(agent_id)
    log = engine.control("GET", "/requests")["requests"]
    assert [(e["route"], e["status"], e["fault"]) for e in log] == [
        ("join", 200, None),
        ("get", 503, "rule:1"),
        ("get", 200, None),
    ]
    assert log[0]["agent_id"] == agent_id
    assert log[0]["auth"] == "basic"
    assert [e["route"] for e in engine.control("GET", "/requests?route=join")["requests"]] == [
        "join"
    ]
    engine.control("DELETE", "/requests")
    assert engine.control("GET", "/requests")["requests"] == []


def test_reset_forgets_agents_clock_faults_and_settings(engine: Client) -> None:
    engine.start()
    engine.advance(500)
    engine.control("POST", "/faults", {"error_rate": 1.0})
    engine.control("POST", "/settings", {"pcu_limit": 3})
    assert engine.control("POST", "/reset") == {"ok": True}
    assert engine.control("GET", "/agents")["agents"] == []
    assert engine.control("GET", "/clock")["offset_s"] == 0
    assert engine.control("GET", "/faults")["error_rate"] == 0
    assert engine.control("GET", "/settings")["pcu_limit"] == 20
    assert engine.list().status_code == 200


def test_history_can_be_seeded_through_the_control(engine: Client) -> None:
    agent_id = engine.start()
    engine.control("POST", f"/agents/{agent_id}/history", {"role": "user", "content": "Hi?"})
    body = engine.request("GET", engine_list_path() + f"/{agent_id}/history").json()
    assert body["contents"] == [{"role": "user", "content": "Hi?"}]
    response = engine.request("POST", f"/_sandbox/agents/{agent_id}/history", json={"role": "x"})
    assert response.status_code == 400
