"""Platform sessions and campaigns through HTTP: start (200) from a saved agent or inline,
Idempotency-Key, asynchronous start and stop, list filters, runtime updates; campaigns'
schedule, cancel/pause/resume, delete only when finished, and what they hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.sandbox.platform_helpers import (
    SECRET_VALUE,
    create_number,
    number_body,
    ok,
    papi,
    refused,
    setup_agent,
)
from tests.sandbox.sandbox_helpers import CERT, Client

RTC = {"type": "rtc", "channel": "room-1", "uid": 1001}


def _start(client: Client, agent_id: str, **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"agent_id": agent_id, "transport": extra.pop("transport", RTC), **extra}
    return client.request("POST", papi("/sessions"), json=body, headers=headers)


def test_start_answers_200_with_a_32_character_session_id(engine: Client) -> None:
    agent_id = setup_agent(engine)
    body = ok(_start(engine, agent_id, values={"customer_name": "Ada"}))
    session_id = body["agent_session_id"]
    assert len(session_id) == 32 and session_id.isalnum() and session_id == session_id.lower()
    assert body["status"] == "RUNNING" and body["stop_ts"] is None
    assert body["agent_id"] == agent_id and body["agent_name"] == "support"


def test_start_refuses_unknown_agents_transports_and_variables(engine: Client) -> None:
    agent_id = setup_agent(engine)
    refused(_start(engine, "3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10"), 400, "InvalidReference")
    refused(_start(engine, agent_id, transport={"type": "pigeon"}), 400, "InvalidRequest")
    refused(_start(engine, agent_id, transport={"type": "rtc"}), 400, "InvalidRequest")
    refused(_start(engine, agent_id, values={"unknown": "x"}), 400, "InvalidRequest")
    phone = {
        "type": "telephony",
        "from": "3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10",
        "to": "+14155550111",
    }
    refused(_start(engine, agent_id, transport=phone), 400, "InvalidReference")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/sessions", "agent"), ("/sessions", "overrides"), ("/sessions/ephemeral", "agnet_name")],
)
def test_a_start_body_field_the_api_does_not_have_is_refused_and_starts_nothing(
    engine: Client, path: str, field: str
) -> None:
    agent_id = setup_agent(engine)
    body: dict[str, Any] = {"transport": RTC, field: {"instructions": "Be someone else."}}
    body.update({"agent_id": agent_id} if path == "/sessions" else {"agent": {}})
    detail = refused(engine.request("POST", papi(path), json=body), 400, "InvalidRequest")
    assert detail.startswith(f"{field}:")
    listed = ok(engine.request("GET", papi("/sessions"), params={"status": "STARTING,RUNNING"}))
    assert listed["data"]["count"] == 0


def test_with_an_app_certificate_an_rtc_session_needs_a_token(make_engine: Any) -> None:
    engine = make_engine(app_certificate=CERT)
    agent_id = setup_agent(engine)
    refused(_start(engine, agent_id), 400, "InvalidRequest")
    assert _start(engine, agent_id, transport={**RTC, "token": "007abc"}).status_code == 200


def test_a_telephony_session_calls_from_a_registered_number(engine: Client) -> None:
    agent_id = setup_agent(engine)
    number_id = create_number(engine, number_body()).json()["number_id"]
    phone = {"type": "telephony", "from": number_id, "to": "+14155550111"}
    assert ok(_start(engine, agent_id, transport=phone))["transport"] == phone


def test_an_idempotency_key_starts_one_session_only(engine: Client) -> None:
    agent_id = setup_agent(engine)
    headers = {"Idempotency-Key": "k-1"}
    first = ok(_start(engine, agent_id, headers=headers))
    detail = refused(_start(engine, agent_id, headers=headers), 409, "IdempotencyKeyConflict")
    assert first["agent_session_id"] not in detail  # the original answer is not returned
    sessions = ok(engine.request("GET", papi("/sessions")))["data"]["list"]
    assert [s["agent_session_id"] for s in sessions] == [first["agent_session_id"]]


def test_start_and_stop_are_asynchronous(engine: Client) -> None:
    engine.control("POST", "/settings", {"start_delay_s": 2, "stop_delay_s": 3})
    agent_id = setup_agent(engine)
    session_id = ok(_start(engine, agent_id))["agent_session_id"]
    path = papi(f"/sessions/{session_id}")
    assert ok(engine.request("GET", path))["status"] == "STARTING"
    engine.advance(2)
    assert ok(engine.request("GET", path))["status"] == "RUNNING"
    assert ok(engine.request("POST", path + "/stop")) == {}
    assert ok(engine.request("GET", path))["status"] == "STOPPING"
    engine.advance(3)
    body = ok(engine.request("GET", path))
    assert body["status"] == "STOPPED" and isinstance(body["stop_ts"], int)
    assert ok(engine.request("POST", path + "/stop")) == {}
    refused(engine.request("GET", papi("/sessions/" + "0" * 32)), 404, "NotFound")


def test_an_ephemeral_session_runs_an_inline_configuration(engine: Client) -> None:
    agent = {
        "instructions": "Test",
        "llm": {"credential": {"mode": "byok", "fields": {"api_key": "sk-inline"}}},
    }
    body = {"agent": agent, "transport": RTC}
    answer = ok(engine.request("POST", papi("/sessions/ephemeral"), json=body))
    assert answer["agent_id"] is None and answer["status"] == "RUNNING"
    assert ok(engine.request("GET", papi("/agents")))["data"]["count"] == 0
    refused(
        engine.request("POST", papi("/sessions/ephemeral"), json={"transport": RTC}),
        400,
        "InvalidRequest",
    )
    named = {"agent": {**agent, "agent_name": "x"}, "transport": RTC}
    refused(engine.request("POST", papi("/sessions/ephemeral"), json=named), 400, "InvalidRequest")
    missing = {
        "agent": {"llm": {"credential": {"mode": "byok", "fields": {"api_key": "$secrets.no.k"}}}},
        "transport": RTC,
    }
    refused(
        engine.request("POST", papi("/sessions/ephemeral"), json=missing), 400, "InvalidReference"
    )


def test_a_session_keeps_the_secret_version_it_resolved_at_start(engine: Client) -> None:
    agent_id = setup_agent(engine)
    before = ok(_start(engine, agent_id))["agent_session_id"]
    engine.request("PUT", papi("/secrets/llm_keys/keys/openai"), json={"value": SECRET_VALUE + "2"})
    after = ok(_start(engine, agent_id))["agent_session_id"]
    sessions = {s["id"]: s for s in engine.control("GET", "/platform/sessions")["sessions"]}
    old, new = (sessions[i]["secret_versions"]["$secrets.llm_keys.openai"] for i in (before, after))
    assert old != new


def test_list_shows_running_sessions_of_the_last_two_hours_by_default(engine: Client) -> None:
    agent_id = setup_agent(engine)
    old = ok(_start(engine, agent_id))["agent_session_id"]
    engine.advance(3 * 3600)
    stopped = ok(_start(engine, agent_id))["agent_session_id"]
    engine.request("POST", papi(f"/sessions/{stopped}/stop"))
    engine.advance(5)
    other = ok(_start(engine, agent_id, transport={**RTC, "channel": "room-2"}))["agent_session_id"]
    running = ok(engine.request("GET", papi("/sessions")))["data"]["list"]
    assert [s["agent_session_id"] for s in running] == [other]
    every = {"status": "RUNNING,STOPPED", "started_after": "0"}
    found = ok(engine.request("GET", papi("/sessions"), params=every))["data"]["list"]
    assert [s["agent_session_id"] for s in found] == [other, stopped, old]
    room = ok(engine.request("GET", papi("/sessions"), params={**every, "channel": "room-1"}))
    assert [s["agent_session_id"] for s in room["data"]["list"]] == [stopped, old]
    refused(
        engine.request("GET", papi("/sessions"), params={"status": "DANCING"}),
        400,
        "InvalidRequest",
    )


def test_update_renews_the_token_or_replaces_messages_of_a_running_session(engine: Client) -> None:
    agent_id = setup_agent(engine)
    session_id = ok(_start(engine, agent_id, transport={**RTC, "token": "t1"}))["agent_session_id"]
    path = papi(f"/sessions/{session_id}")
    assert engine.request("PATCH", path, json={"transport": {"token": "t2"}}).status_code == 200
    overrides = {
        "agent": {
            "overrides": {
                "messages": [{"role": "system", "content": "x"}],
                "llm": {"params": {"t": 1}},
            }
        }
    }
    assert engine.request("PATCH", path, json=overrides).status_code == 200
    refused(
        engine.request("PATCH", path, json={"transport": {"channel": "other"}}),
        400,
        "InvalidRequest",
    )
    engine.control("POST", f"/platform/sessions/{session_id}/runtime-changes", {"supported": False})
    refused(engine.request("PATCH", path, json=overrides), 501, "NotImplemented")
    engine.request("POST", path + "/stop")
    engine.advance(5)
    refused(
        engine.request("PATCH", path, json={"transport": {"token": "t3"}}), 409, "SessionNotActive"
    )


def test_a_failed_session_shows_its_message(engine: Client) -> None:
    agent_id = setup_agent(engine)
    session_id = ok(_start(engine, agent_id))["agent_session_id"]
    engine.control(
        "POST", f"/platform/sessions/{session_id}/fail", {"message": "provider refused the key"}
    )
    body = ok(engine.request("GET", papi(f"/sessions/{session_id}")))
    assert (body["status"], body["message"]) == ("FAILED", "provider refused the key")


# -- campaigns -------------------------------------------------------------------------------


def _campaign(agent: str, number_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "renewals",
        "agent_id": agent,
        "transport": {
            "type": "telephony",
            "from": number_id,
            "call_policy": {"max_ring_duration_ms": 30000},
        },
        "schedule": {
            "mode": "scheduled",
            "start_time": "2999-01-01T09:00:00",
            "time_zone": "America/New_York",
        },
        "contacts": [{"number": "+14155550111", "values": {"customer_name": "Ada"}}],
    }
    body.update(changes)
    return body


@pytest.fixture
def ids(engine: Client) -> tuple[str, str]:
    agent_id = setup_agent(engine)
    number_id: str = create_number(engine, number_body()).json()["number_id"]
    return agent_id, number_id


def test_a_scheduled_campaign_waits_can_pause_resume_and_cancel(
    engine: Client, ids: tuple[str, str]
) -> None:
    body = ok(engine.request("POST", papi("/campaigns"), json=_campaign(*ids)), 201)
    campaign_id = body["campaign_id"]
    assert body["status"] == "scheduled" and body["transport"]["from"] == [ids[1]]
    assert body["contact_count"] == 1
    assert ok(engine.request("POST", papi(f"/campaigns/{campaign_id}:pause")))["status"] == "paused"
    assert (
        ok(engine.request("POST", papi(f"/campaigns/{campaign_id}:resume")))["status"]
        == "scheduled"
    )
    refused(engine.request("DELETE", papi(f"/campaigns/{campaign_id}")), 409, "CampaignNotFinished")
    assert (
        ok(engine.request("POST", papi(f"/campaigns/{campaign_id}:cancel")))["status"] == "canceled"
    )
    refused(
        engine.request("POST", papi(f"/campaigns/{campaign_id}:cancel")), 409, "CampaignFinished"
    )
    assert ok(engine.request("DELETE", papi(f"/campaigns/{campaign_id}"))) == {"deleted": True}
    refused(engine.request("GET", papi(f"/campaigns/{campaign_id}")), 404, "NotFound")


def test_an_unfinished_campaign_holds_its_agent_and_numbers(
    engine: Client, ids: tuple[str, str]
) -> None:
    agent_id, number_id = ids
    campaign = _campaign(*ids, schedule={"mode": "immediate"})
    campaign_id = ok(engine.request("POST", papi("/campaigns"), json=campaign), 201)["campaign_id"]
    assert ok(engine.request("GET", papi(f"/campaigns/{campaign_id}")))["status"] == "running"
    refused(engine.request("DELETE", papi(f"/agents/{agent_id}")), 409, "AgentInUse")
    refused(engine.request("DELETE", papi(f"/numbers/{number_id}")), 409, "NumberInUse")
    engine.control("POST", f"/platform/campaigns/{campaign_id}/finish", {"status": "completed"})
    assert ok(engine.request("GET", papi(f"/campaigns/{campaign_id}")))["status"] == "completed"
    assert engine.request("DELETE", papi(f"/numbers/{number_id}")).status_code == 200
    assert engine.request("DELETE", papi(f"/agents/{agent_id}")).status_code == 200


def test_campaigns_list_by_status(engine: Client, ids: tuple[str, str]) -> None:
    first = ok(engine.request("POST", papi("/campaigns"), json=_campaign(*ids)), 201)["campaign_id"]
    second = ok(
        engine.request(
            "POST", papi("/campaigns"), json=_campaign(*ids, schedule={"mode": "immediate"})
        ),
        201,
    )
    listed = ok(engine.request("GET", papi("/campaigns")))["data"]["list"]
    assert [c["campaign_id"] for c in listed] == [second["campaign_id"], first]
    running = ok(engine.request("GET", papi("/campaigns"), params={"status": "running"}))["data"][
        "list"
    ]
    assert [c["campaign_id"] for c in running] == [second["campaign_id"]]
    refused(
        engine.request("GET", papi("/campaigns"), params={"status": "odd"}), 400, "InvalidRequest"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"agent_id": "3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10"}, "agent_id"),
        ({"contacts": []}, "contacts"),
        ({"contacts": [{"number": "12"}]}, "contacts[0].number"),
        ({"schedule": {"mode": "later"}}, "schedule.mode"),
        (
            {
                "schedule": {
                    "mode": "scheduled",
                    "start_time": "2000-01-01T09:00:00",
                    "time_zone": "UTC",
                }
            },
            "schedule.start_time",
        ),
        (
            {
                "schedule": {
                    "mode": "scheduled",
                    "start_time": "2999-01-01T09:00:00",
                    "time_zone": "Mars/Base",
                }
            },
            "schedule.time_zone",
        ),
        ({"transport": {"type": "telephony", "from": []}}, "transport.from"),
        ({"transport": {"type": "telephony", "from": [["n"]]}}, "transport.from[0]"),
        (
            {"contacts": [{"number": "+14155550111", "values": {"nickname": "Ada"}}]},
            "contacts[0].values.nickname",
        ),
        (
            {"contacts": [{"number": "+14155550111", "values": {"customer_name": ["Ada"]}}]},
            "contacts[0].values.customer_name",
        ),
        ({"transport": {"type": "telephony", "from": [{"number_id": "n"}]}}, "transport.from[0]"),
    ],
)
def test_invalid_campaigns_are_refused_naming_the_field(
    engine: Client, ids: tuple[str, str], change: dict[str, Any], field: str
) -> None:
    response = engine.request("POST", papi("/campaigns"), json=_campaign(*ids, **change))
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:")


def test_a_scheduled_campaign_runs_at_its_local_start_time(
    engine: Client, ids: tuple[str, str]
) -> None:
    now = ok(engine.request("GET", "/_sandbox/clock"))["now"]
    start = datetime.fromtimestamp(now, timezone.utc) + timedelta(hours=1)
    local = start.astimezone(timezone(timedelta(hours=-5))).replace(tzinfo=None, microsecond=0)
    schedule = {"mode": "scheduled", "start_time": local.isoformat(), "time_zone": "Etc/GMT+5"}
    campaign_id = ok(
        engine.request("POST", papi("/campaigns"), json=_campaign(*ids, schedule=schedule)), 201
    )["campaign_id"]
    assert ok(engine.request("GET", papi(f"/campaigns/{campaign_id}")))["status"] == "scheduled"
    engine.advance(3601)
    assert ok(engine.request("GET", papi(f"/campaigns/{campaign_id}")))["status"] == "running"
