"""Persistence: agents, their bodies, updates and the clock offset survive a restart of the
server (SQLite file); two processes can share a file."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from agora_agent.agentkit.token import generate_convo_ai_token

from reconciler.sandbox import SandboxConfig, create_app
from tests.sandbox.conftest import Served
from tests.sandbox.sandbox_helpers import (
    APP_ID,
    APP_ID_2,
    BASIC,
    CERT,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    Client,
    FakeTime,
    api,
    asgi_client,
    http_client,
    join_body,
)


def _in_process(db: Path, fake_time: FakeTime, **overrides: Any) -> tuple[Client, Any]:
    config = SandboxConfig(
        customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET, db_path=str(db), **overrides
    )
    app = create_app(config, time_source=fake_time)
    return asgi_client(app), app


def _close(client: Client, app: Any) -> None:
    client.close()
    app.state.sandbox.close()


def test_agents_and_clock_survive_recreating_the_app_on_the_same_file(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    db = tmp_path / "sub" / "engine.db"
    client, app = _in_process(db, fake_time)
    running = client.start("running")
    stopping = client.start("stopping", APP_ID_2)
    client.update(running, {"properties": {"llm": {"params": {"v": 2}}}})
    client.leave(stopping, APP_ID_2)
    client.advance(0.5)
    before = client.control("GET", "/agents")["agents"]
    _close(client, app)

    client, app = _in_process(db, fake_time)
    try:
        assert client.control("GET", "/clock")["offset_s"] == pytest.approx(0.5)
        assert client.control("GET", "/agents")["agents"] == before
        assert client.status(running) == "RUNNING"
        assert client.status(stopping, APP_ID_2) == "STOPPING"
        client.advance(1)
        assert client.status(stopping, APP_ID_2) == "STOPPED"
        assert client.join("running").status_code == 409
    finally:
        _close(client, app)


def test_time_keeps_running_while_the_server_is_down(tmp_path: Path, fake_time: FakeTime) -> None:
    db = tmp_path / "engine.db"
    client, app = _in_process(db, fake_time)
    agent_id = client.start()
    client.leave(agent_id)
    _close(client, app)
    fake_time.tick(5)
    client, app = _in_process(db, fake_time)
    try:
        assert client.status(agent_id) == "STOPPED"
    finally:
        _close(client, app)


def test_two_apps_can_share_one_file(tmp_path: Path, fake_time: FakeTime) -> None:
    db = tmp_path / "engine.db"
    first, first_app = _in_process(db, fake_time)
    second, second_app = _in_process(db, fake_time)
    try:
        agent_id = first.start("shared")
        assert second.status(agent_id) == "RUNNING"
        assert second.join("shared").status_code == 409
        second.advance(100)
        assert first.control("GET", "/clock")["offset_s"] == pytest.approx(100)
    finally:
        _close(first, first_app)
        _close(second, second_app)


@pytest.mark.slow
def test_agents_survive_a_restart_of_the_served_sandbox(
    tmp_path: Path, server_factory: Callable[..., Served]
) -> None:
    db = str(tmp_path / "engine.db")
    server = server_factory(db, "--seed", "3")
    client = http_client(server.url)
    try:
        first = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001, token_expire=7200)
        renewed = generate_convo_ai_token(APP_ID, CERT, "room-1", 1001)
        agent_id = client.start("persistent", token=first, idle_timeout=0)
        assert client.update(agent_id, {"properties": {"token": renewed}}).status_code == 200
        client.advance(3600)
        view = client.agent(agent_id)
    finally:
        client.close()
    server.stop()

    restarted = server_factory(db, "--seed", "3")
    client = http_client(restarted.url)
    try:
        assert client.status(agent_id) == "RUNNING"
        after = client.agent(agent_id)
        assert after["join_body"] == view["join_body"]
        assert after["updates"] == view["updates"]
        assert after["properties"]["token"] == renewed
        assert client.control("GET", "/clock")["offset_s"] == pytest.approx(3600)
        second = client.start("another", token=renewed)
        assert second != agent_id
    finally:
        client.close()


def test_concurrent_joins_from_two_processes_sharing_a_file_never_duplicate_a_name(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    db = tmp_path / "engine.db"
    engines = [_in_process(db, fake_time, pcu_limit=1000) for _ in range(2)]
    results: list[list[int]] = [[], []]

    def run(index: int) -> None:
        client = engines[index][0]
        results[index] = [client.join(f"name-{i % 10}").status_code for i in range(30)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = results[0] + results[1]
        assert statuses.count(200) == 10
        assert statuses.count(409) == 50
        names = [a["name"] for a in engines[0][0].control("GET", "/agents")["agents"]]
        assert sorted(names) == sorted(f"name-{i}" for i in range(10))
    finally:
        for client, app in engines:
            _close(client, app)


def test_concurrent_joins_never_exceed_the_pcu_limit(make_engine: Callable[..., Client]) -> None:
    engine = make_engine(pcu_limit=5)
    url = api("/join")

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=engine.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            calls = [
                http.post(url, json=join_body(f"n{i}"), headers={"Authorization": BASIC})
                for i in range(20)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(burst())
    assert (statuses.count(200), statuses.count(422)) == (5, 15)


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


def test_a_read_only_sandbox_works_on_a_copy_and_leaves_the_file_as_it_was(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    """The read-only sandbox (read-only commands) answers from the file's agents; what it does
    meanwhile (here a time-driven stop, and even a join) is discarded with it."""
    db = tmp_path / "engine.db"
    client, app = _in_process(db, fake_time)
    running = client.start("running")
    _close(client, app)
    files = _files(tmp_path)
    content = db.read_bytes()

    client, app = _in_process(db, fake_time, db_read_only=True)
    assert client.status(running) == "RUNNING"
    fake_time.tick(4 * 24 * 3600)  # past the runtime cap: stopped, in memory
    assert client.status(running) == "STOPPED"
    client.start("meanwhile")
    _close(client, app)

    assert _files(tmp_path) == files
    assert db.read_bytes() == content


def test_a_read_only_sandbox_without_its_file_is_empty_and_creates_nothing(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    db = tmp_path / "missing" / "engine.db"
    client, app = _in_process(db, fake_time, db_read_only=True)
    assert client.list().json()["data"]["count"] == 0
    _close(client, app)

    assert list(tmp_path.iterdir()) == []


def test_a_read_only_sandbox_reads_what_a_serving_process_committed(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    """With the file open elsewhere (its write-ahead log beside it), the copy holds what that
    process committed, and the log and index files are left to it."""
    db = tmp_path / "engine.db"
    serving, serving_app = _in_process(db, fake_time)
    running = serving.start("running")
    assert (tmp_path / "engine.db-wal").exists()
    names = {p.name for p in tmp_path.iterdir()}

    client, app = _in_process(db, fake_time, db_read_only=True)
    assert client.status(running) == "RUNNING"
    _close(client, app)

    assert {p.name for p in tmp_path.iterdir()} == names
    serving.start("after")  # the serving process goes on writing
    _close(serving, serving_app)
