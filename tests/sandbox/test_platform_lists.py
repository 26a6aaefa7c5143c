"""Platform list endpoints through HTTP: the envelope, limit bounds, both orders, cursors that
walk every item once, and cursors that are refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.sandbox.platform_helpers import (
    create_number,
    create_set,
    number_body,
    ok,
    papi,
    refused,
    setup_agent,
)
from tests.sandbox.sandbox_helpers import Client

Maker = Callable[[Client, int], str]


def _set(client: Client, index: int) -> str:
    name: str = create_set(client, f"set_{index:03d}", {"k": "v"}).json()["name"]
    return name


def _agent(client: Client, index: int) -> str:
    response = client.request("POST", papi("/agents"), json={"agent_name": f"a{index}"})
    agent_id: str = ok(response, 201)["agent_id"]
    return agent_id


def _number(client: Client, index: int) -> str:
    number_id: str = create_number(client, number_body(number=f"+1415555{index:04d}")).json()[
        "number_id"
    ]
    return number_id


KINDS: dict[str, tuple[str, str, Maker, int]] = {
    "secret sets": ("/secrets", "name", _set, 200),
    "agents": ("/agents", "agent_id", _agent, 200),
    "numbers": ("/numbers", "number_id", _number, 100),
}


def _walk(client: Client, path: str, key: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = ok(client.request("GET", papi(path), params=query))
        assert set(body) == {"data", "has_more", "next_cursor"}
        assert body["data"]["count"] == len(body["data"]["list"])
        pages.append([item[key] for item in body["data"]["list"]])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return pages
        cursor = body["next_cursor"]
        assert isinstance(cursor, str) and cursor


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pages_walk_every_item_once_newest_first_by_default(engine: Client, kind: str) -> None:
    path, key, make, _ = KINDS[kind]
    made = [make(engine, i) for i in range(7)]
    pages = _walk(engine, path, key, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == made[::-1]
    ascending = _walk(engine, path, key, limit=3, order="create_ts.asc")
    assert [i for p in ascending for i in p] == made


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_limit_defaults_to_50_within_its_documented_range(engine: Client, kind: str) -> None:
    path, _key, make, top = KINDS[kind]
    for i in range(51):
        make(engine, i)
    body = ok(engine.request("GET", papi(path)))
    assert body["data"]["count"] == 50 and body["has_more"] is True
    for bad in ("0", str(top + 1), "x", "-1"):
        refused(engine.request("GET", papi(path), params={"limit": bad}), 400, "InvalidRequest")
    assert engine.request("GET", papi(path), params={"limit": str(top)}).status_code == 200


def test_an_empty_list_has_the_envelope(engine: Client) -> None:
    body = ok(engine.request("GET", papi("/agents")))
    assert body == {"data": {"count": 0, "list": []}, "has_more": False, "next_cursor": None}


def test_items_created_while_paging_do_not_repeat_or_shift_items(engine: Client) -> None:
    made = [_agent(engine, i) for i in range(4)]
    first = ok(engine.request("GET", papi("/agents"), params={"limit": 2}))
    _agent(engine, 99)
    engine.request("DELETE", papi(f"/agents/{made[3]}"))
    rest = ok(
        engine.request("GET", papi("/agents"), params={"limit": 2, "cursor": first["next_cursor"]})
    )
    seen = [a["agent_id"] for a in first["data"]["list"] + rest["data"]["list"]]
    assert seen == [made[3], made[2], made[1], made[0]]


def test_bad_orders_and_cursors_are_refused(engine: Client) -> None:
    for i in range(3):
        _agent(engine, i)
    refused(
        engine.request("GET", papi("/agents"), params={"order": "name.asc"}), 400, "InvalidRequest"
    )
    refused(
        engine.request("GET", papi("/agents"), params={"cursor": "garbage!"}), 400, "InvalidRequest"
    )
    cursor = ok(engine.request("GET", papi("/agents"), params={"limit": 1}))["next_cursor"]
    other_order = {"cursor": cursor, "order": "create_ts.asc"}
    refused(engine.request("GET", papi("/agents"), params=other_order), 400, "InvalidRequest")
    refused(
        engine.request("GET", papi("/numbers"), params={"cursor": cursor}), 400, "InvalidRequest"
    )


def _forged(cursor: str, **changes: Any) -> str:
    """``cursor`` (base64url of a JSON object, perhaps followed by more) with ``changes``."""
    payload = cursor.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        ("/agents", {}),
        ("/agents", {"s": 10**30}),
        ("/agents", {"s": True}),
        ("/sessions", {"f": {"status": 5, "started_after": 0}}),
        ("/sessions", {"f": {"status": ["RUNNING"], "started_after": "yesterday"}}),
        ("/campaigns", {"f": {"status": ["running"]}}),
    ],
)
def test_a_cursor_the_sandbox_did_not_make_is_refused(
    engine: Client, path: str, changes: dict[str, Any]
) -> None:
    agent_id = setup_agent(engine)
    number_id = create_number(engine, number_body()).json()["number_id"]
    for i in range(2):
        _agent(engine, i)
        transport = {"type": "rtc", "channel": "room-1"}
        engine.request(
            "POST", papi("/sessions"), json={"agent_id": agent_id, "transport": transport}
        )
        campaign = {
            "name": f"c{i}",
            "agent_id": agent_id,
            "transport": {"type": "telephony", "from": number_id},
            "schedule": {"mode": "immediate"},
            "contacts": [{"number": "+14155550111"}],
        }
        ok(engine.request("POST", papi("/campaigns"), json=campaign), 201)
    cursor = ok(engine.request("GET", papi(path), params={"limit": 1}))["next_cursor"]
    forged = _forged(cursor, **changes)
    response = engine.request("GET", papi(path), params={"limit": 1, "cursor": forged})
    assert "cursor" in refused(response, 400, "InvalidRequest")
