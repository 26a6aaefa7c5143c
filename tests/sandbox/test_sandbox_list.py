"""list: `{"data":{"count","list":[{start_ts,status,agent_id}]},"meta":{"cursor","total"},
"status":"ok"}`, filtered by channel, comma-separated numeric states and a from/to window that
defaults to the last 2 hours; `limit` (default 20) pages with a cursor = the agent id the next
page starts at, "" on the last page; stable creation order; several App IDs side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.sandbox.sandbox_helpers import APP_ID, APP_ID_2, Client

MakeEngine = Callable[..., Client]


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["agent_id"] for item in body["data"]["list"]]


def _all_pages(engine: Client, **params: Any) -> list[list[str]]:
    pages = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = engine.list(**query).json()
        pages.append(_ids(body))
        cursor = body["meta"]["cursor"]
        if cursor == "":
            return pages


def test_list_answers_the_documented_shape(engine: Client) -> None:
    agent_id = engine.start()
    body = engine.list().json()
    assert body == {
        "data": {
            "count": 1,
            "list": [
                {
                    "start_ts": body["data"]["list"][0]["start_ts"],
                    "status": "RUNNING",
                    "agent_id": agent_id,
                }
            ],
        },
        "meta": {"cursor": "", "total": 1},
        "status": "ok",
    }
    assert isinstance(body["data"]["list"][0]["start_ts"], int)


def test_list_of_an_app_without_agents_is_empty(engine: Client) -> None:
    assert engine.list().json() == {
        "data": {"count": 0, "list": []},
        "meta": {"cursor": "", "total": 0},
        "status": "ok",
    }


def test_list_pages_with_a_cursor_in_stable_creation_order(engine: Client) -> None:
    engine.control("POST", "/settings", {"pcu_limit": 100})
    created = [engine.start(f"agent-{i}") for i in range(7)]
    first = engine.list(limit=3).json()
    assert first["data"]["count"] == 3
    assert first["meta"] == {"cursor": created[3], "total": 7}
    assert _all_pages(engine, limit=3) == [created[0:3], created[3:6], created[6:7]]


def test_default_page_size_is_20(engine: Client) -> None:
    engine.control("POST", "/settings", {"pcu_limit": 100})
    created = [engine.start(f"agent-{i}") for i in range(25)]
    pages = _all_pages(engine)
    assert [len(p) for p in pages] == [20, 5]
    assert [agent_id for page in pages for agent_id in page] == created


def test_list_filters_by_channel(engine: Client) -> None:
    a = engine.start("a", channel="room-a")
    engine.start("b", channel="room-b")
    assert _ids(engine.list(channel="room-a").json()) == [a]


def test_list_without_state_answers_running_agents_and_pages_of_20_as_documented(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(pcu_limit=30)
    running = [engine.start(f"run-{i}", idle_timeout=0) for i in range(21)]
    stopping = engine.start("leaving", idle_timeout=0)
    engine.post(stopping, "leave")
    body = engine.list().json()
    assert _ids(body) == running[:20]
    assert (body["data"]["count"], body["meta"]["total"]) == (20, 21)
    assert body["meta"]["cursor"] == running[20]


def test_list_filters_by_comma_separated_state_codes(engine: Client) -> None:
    running = engine.start("running")
    stopping = engine.start("stopping")
    engine.leave(stopping)
    assert _ids(engine.list(state="2").json()) == [running]
    assert _ids(engine.list(state="3").json()) == [stopping]
    assert _ids(engine.list(state="1,2,3").json()) == [running, stopping]
    assert _ids(engine.list(state="4,6").json()) == []


def test_state_filter_and_paging_combine(engine: Client) -> None:
    engine.control("POST", "/settings", {"pcu_limit": 100})
    ids = [engine.start(f"agent-{i}") for i in range(9)]
    for agent_id in ids[::2]:
        engine.leave(agent_id)
    running = ids[1::2]
    assert _all_pages(engine, state="2", limit=2) == [running[0:2], running[2:4]]
    body = engine.list(state="2", limit=2).json()
    assert body["meta"]["total"] == 4


@pytest.mark.parametrize("state", ["RUNNING", "2;3", "9", "-1", "2,x"])
def test_invalid_state_returns_400_invalid_field_value(engine: Client, state: str) -> None:
    response = engine.list(state=state)
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidFieldValue")


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "x"}, {"from_time": "yesterday"}, {"cursor": "NOPE"}]
)
def test_invalid_paging_or_window_returns_400(engine: Client, params: dict[str, str]) -> None:
    response = engine.list(**params)
    assert (response.status_code, response.json()["reason"]) == (400, "InvalidFieldValue")


def test_default_window_is_the_last_two_hours(engine: Client) -> None:
    old = engine.start("old", idle_timeout=0)
    engine.advance(2 * 3600 + 10)
    new = engine.start("new")
    assert _ids(engine.list().json()) == [new]
    now = engine.control("GET", "/clock")["now"]
    assert _ids(engine.list(from_time=now - 3 * 3600).json()) == [old, new]


def test_to_time_excludes_later_agents(engine: Client) -> None:
    first = engine.start("first", idle_timeout=0)
    cut = engine.control("GET", "/clock")["now"]
    engine.advance(60)
    engine.start("second")
    assert _ids(engine.list(to_time=cut + 1).json()) == [first]


def test_from_and_to_time_accept_float_seconds(engine: Client) -> None:
    agent_id = engine.start()
    now = engine.control("GET", "/clock")["now"]
    assert _ids(engine.list(from_time=f"{now - 10:.1f}", to_time=f"{now + 1:.1f}").json()) == [
        agent_id
    ]


def test_list_covers_at_most_the_last_seven_days(engine: Client) -> None:
    engine.start("old", idle_timeout=0)
    engine.advance(8 * 86400)
    now = engine.control("GET", "/clock")["now"]
    assert _ids(engine.list(from_time=now - 10 * 86400).json()) == []


def test_several_app_ids_live_side_by_side(engine: Client) -> None:
    mine = engine.start("same", APP_ID)
    theirs = engine.start("same", APP_ID_2)
    assert _ids(engine.list(APP_ID).json()) == [mine]
    assert _ids(engine.list(APP_ID_2).json()) == [theirs]
    listed = engine.control("GET", f"/agents?app_id={APP_ID_2}")["agents"]
    assert [a["agent_id"] for a in listed] == [theirs]
