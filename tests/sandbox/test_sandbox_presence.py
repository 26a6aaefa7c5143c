"""Channel presence and the idle timeout: the countdown runs while none of an agent's remote uids
is present (other agents count for `["*"]` and for the uids they listen as); a new channel is
empty by default (`presence: occupied` puts the agent's remote users in it); whether the
countdown runs before anyone joined is a setting (default: it does); `idle_timeout: 0` disables
only the idle exit. RECOVERING and IDLE, held by a control route, count as active."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxConfig, create_app
from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, Client, asgi_client

MakeEngine = Callable[..., Client]


def test_agent_in_an_empty_channel_stops_when_its_idle_timeout_runs_out(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=5)
    engine.advance(4.5)
    assert engine.status(agent_id) == "RUNNING"
    engine.advance(1)
    body = engine.get(agent_id).json()
    assert body["status"] == "STOPPING"
    assert body["message"] == (
        "agent exits with reason: idle timeout, no remote user in the channel for 5s"
    )
    engine.advance(1)
    assert engine.status(agent_id) == "STOPPED"


def test_default_idle_timeout_is_30_seconds(engine: Client) -> None:
    agent_id = engine.start()
    engine.advance(29.5)
    assert engine.status(agent_id) == "RUNNING"
    engine.advance(1)
    assert engine.status(agent_id) == "STOPPING"


def test_idle_timeout_zero_disables_only_the_idle_exit(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.advance(3600)
    assert engine.status(agent_id) == "RUNNING"
    engine.advance(72 * 3600)
    assert "72h" in engine.get(agent_id).json()["message"]


def test_agent_keeps_running_while_one_of_its_remote_uids_is_present(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=5, remote_rtc_uids=["2001"])
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001"]})
    engine.advance(3600)
    assert engine.status(agent_id) == "RUNNING"


def test_countdown_starts_when_the_last_remote_user_leaves(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=10, remote_rtc_uids=["*"])
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001", "2002"]})
    engine.advance(100)
    engine.control("POST", "/channels/room-1/leave", {"uids": ["2001"]})
    engine.advance(100)
    assert engine.status(agent_id) == "RUNNING"
    left = engine.control("POST", "/channels/room-1/leave", {"uids": ["2002"]})
    assert left["users"] == []
    deadline = engine.agent(agent_id)["idle_deadline"]
    assert [a["idle_deadline"] for a in left["agents"]] == [deadline]
    assert deadline == pytest.approx(engine.control("GET", "/clock")["now"] + 10)
    engine.advance(9.5)
    assert engine.status(agent_id) == "RUNNING"
    engine.advance(1)
    assert engine.status(agent_id) == "STOPPING"


def test_a_user_not_in_remote_rtc_uids_does_not_count(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=5, remote_rtc_uids=["2001"])
    engine.control("POST", "/channels/room-1/join", {"uids": ["9999"]})
    engine.advance(5.5)
    assert engine.status(agent_id) == "STOPPING"


def test_a_user_returning_cancels_the_countdown(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=10)
    engine.advance(5)
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001"]})
    engine.advance(60)
    assert engine.status(agent_id) == "RUNNING"
    assert engine.agent(agent_id)["idle_deadline"] is None


def test_join_without_uids_brings_every_agents_remote_users(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=5, remote_rtc_uids=["2001"])
    joined = engine.control("POST", "/channels/room-1/join", {})
    assert joined["users"] == ["2001"]
    engine.advance(60)
    assert engine.status(agent_id) == "RUNNING"
    engine.control("POST", "/channels/room-1/leave", {})
    engine.advance(5.5)
    assert engine.status(agent_id) == "STOPPING"


def test_countdown_before_anyone_joined_can_be_switched_off(make_engine: MakeEngine) -> None:
    engine = make_engine(idle_before_join=False)
    agent_id = engine.start(idle_timeout=5)
    engine.advance(3600)
    assert engine.status(agent_id) == "RUNNING"
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001"]})
    engine.advance(60)
    engine.control("POST", "/channels/room-1/leave", {"uids": ["2001"]})
    engine.advance(5.5)
    assert engine.status(agent_id) == "STOPPING"


def test_occupied_presence_puts_the_agents_remote_users_in_a_new_channel(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(presence="occupied")
    agent_id = engine.start(idle_timeout=5, remote_rtc_uids=["2001"])
    engine.advance(3600)
    assert engine.status(agent_id) == "RUNNING"
    assert engine.control("GET", "/channels/room-1")["users"] == ["2001"]
    engine.control("POST", "/channels/room-1/leave", {})
    engine.advance(5.5)
    assert engine.status(agent_id) == "STOPPING"


def test_presence_settings_can_change_while_the_sandbox_runs(engine: Client) -> None:
    settings = engine.control("POST", "/settings", {"presence": "occupied"})
    assert settings["presence"] == "occupied"
    agent_id = engine.start(idle_timeout=5)
    engine.advance(60)
    assert engine.status(agent_id) == "RUNNING"
    response = engine.request("POST", "/_sandbox/settings", json={"presence": "full"})
    assert response.status_code == 400


def test_wildcard_agents_in_one_channel_keep_each_other_running(engine: Client) -> None:
    first = engine.start("first", idle_timeout=5, remote_rtc_uids=["*"], agent_rtc_uid="1001")
    second = engine.start("second", idle_timeout=5, remote_rtc_uids=["*"], agent_rtc_uid="1002")
    engine.advance(3600)
    assert (engine.status(first), engine.status(second)) == ("RUNNING", "RUNNING")
    engine.leave(second)
    engine.advance(1)  # second is STOPPED after its 1 s stop delay: first is alone from then
    engine.advance(4.5)
    assert engine.status(first) == "RUNNING"
    engine.advance(1)
    assert engine.status(first) == "STOPPING"


def test_a_wildcard_agent_joining_late_does_not_revive_a_countdown_already_over(
    engine: Client,
) -> None:
    first = engine.start("first", idle_timeout=5, remote_rtc_uids=["*"])
    engine.advance(5.5)
    engine.start("second", idle_timeout=5, remote_rtc_uids=["*"], agent_rtc_uid="1002")
    assert engine.status(first) == "STOPPING"


def test_an_agent_counts_for_another_that_lists_its_uid(engine: Client) -> None:
    listener = engine.start("listener", idle_timeout=5, remote_rtc_uids=["1002"])
    talker = engine.start("talker", idle_timeout=0, agent_rtc_uid="1002", remote_rtc_uids=["7"])
    engine.advance(60)
    assert engine.status(listener) == "RUNNING"
    engine.leave(talker)
    engine.advance(1 + 5.5)
    assert engine.status(listener) == "STOPPING"


def test_an_agent_with_explicit_uids_does_not_count_other_agents(engine: Client) -> None:
    alone = engine.start("alone", idle_timeout=5, remote_rtc_uids=["2001"])
    engine.start("other", idle_timeout=0, agent_rtc_uid="1002", remote_rtc_uids=["*"])
    engine.advance(5.5)
    assert engine.status(alone) == "STOPPING"


def test_a_peer_whose_end_is_scheduled_leaves_the_channel_then(make_engine: MakeEngine) -> None:
    engine = make_engine(max_runtime_s=100)
    engine.start("short", idle_timeout=0, agent_rtc_uid="1002", remote_rtc_uids=["7"])
    engine.advance(50)
    waiting = engine.start("waiting", idle_timeout=5, remote_rtc_uids=["*"])
    engine.advance(50 + 1 + 4.5)  # short hits the cap at 100 s and is STOPPED at 101 s
    assert engine.status(waiting) == "RUNNING"
    engine.advance(1)
    assert engine.status(waiting) == "STOPPING"


def test_users_of_one_app_id_do_not_count_in_the_same_channel_of_another(
    engine: Client,
) -> None:
    mine = engine.start(idle_timeout=5)
    theirs = engine.start(app_id=APP_ID_2, idle_timeout=5)
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001"], "app_id": APP_ID})
    engine.advance(10)
    assert engine.status(mine) == "RUNNING"
    assert engine.status(theirs, APP_ID_2) == "STOPPED"


def test_agents_of_another_app_id_are_not_in_the_channel(engine: Client) -> None:
    mine = engine.start(idle_timeout=5, remote_rtc_uids=["*"])
    engine.start(app_id=APP_ID_2, idle_timeout=0, agent_rtc_uid="1002")
    engine.advance(5.5)
    assert engine.status(mine) == "STOPPING"


def test_the_agent_view_shows_presence_and_the_idle_deadline(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=5)
    view = engine.agent(agent_id)
    assert view["users_present"] == []
    assert view["remote_rtc_uids"] == ["2001"]
    assert view["idle_deadline"] == pytest.approx(view["created_at"] + 5)
    engine.control("POST", "/channels/room-1/join", {"uids": ["2001"]})
    view = engine.agent(agent_id)
    assert (view["users_present"], view["idle_deadline"], view["remote_seen"]) == (
        ["2001"],
        None,
        True,
    )


def test_control_routes_reject_bad_uids(engine: Client) -> None:
    response = engine.request("POST", "/_sandbox/channels/room-1/join", json={"uids": "2001"})
    assert response.status_code == 400


# -- RECOVERING and IDLE ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["RECOVERING", "IDLE"])
def test_an_agent_can_be_held_in_recovering_or_idle_and_stays_active(
    engine: Client, status: str
) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.control("POST", f"/agents/{agent_id}/status", {"status": status})
    assert engine.status(agent_id) == status
    code = {"RECOVERING": 5, "IDLE": 0}[status]
    listed = engine.list(state=str(code)).json()["data"]["list"]
    assert [a["agent_id"] for a in listed] == [agent_id]
    assert engine.join().status_code == 409
    engine.control("POST", f"/agents/{agent_id}/status", {"status": "RUNNING"})
    assert engine.status(agent_id) == "RUNNING"


def test_a_held_status_can_last_for_some_seconds(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.control("POST", f"/agents/{agent_id}/status", {"status": "RECOVERING", "seconds": 10})
    engine.advance(9)
    assert engine.status(agent_id) == "RECOVERING"
    engine.advance(2)
    assert engine.status(agent_id) == "RUNNING"


def test_a_recovering_agent_can_be_stopped(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.control("POST", f"/agents/{agent_id}/status", {"status": "RECOVERING"})
    assert engine.leave(agent_id).status_code == 200
    assert engine.status(agent_id) == "STOPPING"
    engine.advance(1)
    assert engine.status(agent_id) == "STOPPED"


def test_only_a_running_agent_can_be_held(engine: Client) -> None:
    agent_id = engine.start(idle_timeout=0)
    engine.leave(agent_id)
    response = engine.request(
        "POST", f"/_sandbox/agents/{agent_id}/status", json={"status": "IDLE"}
    )
    assert response.status_code == 409
    bad = engine.request("POST", f"/_sandbox/agents/{agent_id}/status", json={"status": "X"})
    assert bad.status_code == 400


# -- older databases --------------------------------------------------------------------------


def test_a_database_of_the_first_schema_gains_the_presence_columns(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE agents (seq INTEGER PRIMARY KEY AUTOINCREMENT, app_id TEXT NOT NULL,"
            " agent_id TEXT NOT NULL, name TEXT NOT NULL, channel TEXT NOT NULL,"
            " mode TEXT NOT NULL, created_at REAL NOT NULL, running_at REAL NOT NULL,"
            " stop_delay_s REAL NOT NULL, max_runtime_s REAL NOT NULL,"
            " idle_timeout INTEGER NOT NULL, stop_requested_at REAL, users_left_at REAL,"
            " failed_at REAL, fail_message TEXT, token_issued_at REAL, token_expires_at REAL,"
            " token_verified INTEGER, terminal_at REAL NOT NULL, join_body TEXT NOT NULL,"
            " properties TEXT NOT NULL, updates TEXT NOT NULL, history TEXT NOT NULL,"
            " UNIQUE (app_id, agent_id));"
        )
    app = create_app(SandboxConfig(db_path=str(db)))
    client = asgi_client(app)
    try:
        client_basic = client.request(
            "GET", "/_sandbox/health", headers={"Authorization": "Basic c2FuZGJveDpzYW5kYm94"}
        )
        assert client_basic.status_code == 200
        columns = {row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(agents)")}
        assert {"agent_uid", "remote_uids", "remote_seen", "status_override"} <= columns
    finally:
        client.close()
        app.state.sandbox.close()


def test_a_peer_that_crashes_leaves_the_channel_at_once(engine: Client) -> None:
    listener = engine.start("listener", idle_timeout=5, remote_rtc_uids=["1002"])
    talker = engine.start("talker", idle_timeout=0, agent_rtc_uid="1002", remote_rtc_uids=["7"])
    engine.advance(60)
    engine.control("POST", f"/agents/{talker}/crash", {})
    engine.advance(4.5)
    assert engine.status(listener) == "RUNNING"
    engine.advance(1)
    assert engine.status(listener) == "STOPPING"


def test_users_can_be_in_a_channel_before_any_agent_joins_it(engine: Client) -> None:
    assert engine.control("POST", "/channels/room-1/join", {"uids": ["2001"]})["users"] == ["2001"]
    agent_id = engine.start(idle_timeout=5)
    engine.advance(60)
    assert engine.status(agent_id) == "RUNNING"
