"""The lease on PostgreSQL: one holder per state key, lost with its session, noticed between
runs."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.errors import StateError
from reconciler.project import Project
from reconciler.watch.controller import Watcher, WatchOptions
from reconciler.watch.lease import Lease
from reconciler.watch.metrics import WatchMetrics
from tests.state.pg import admin, pg_url
from tests.watch.waiting import until

__all__ = ["pg_url"]

ROOT = Path(__file__).resolve().parents[2]
ENV = {"OPENAI_API_KEY": "sk-watch-test"}


def _project_dir(tmp_path: Path, url: str, key: str = "") -> Path:
    directory = tmp_path / f"project{key}"
    shutil.copytree(ROOT / "agents.d", directory / "agents.d")
    text = (ROOT / "tests" / "single_environment.yaml").read_text(encoding="utf-8")
    text = text.replace("state: state/agents.json", f"state: {url}")
    if key:
        text += f"state_key: {key}\n"
    (directory / "reconciler.yaml").write_text(text, encoding="utf-8")
    return directory


def _terminate_sessions(url: str) -> None:
    """End every session of the database of ``url`` (as a dead leader's would end)."""
    with admin() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (urlsplit(url).path.lstrip("/"),),
        )


def test_one_lease_per_state_key_and_the_next_replica_gets_it_when_released(
    tmp_path: Path, pg_url: str
) -> None:
    directory = _project_dir(tmp_path, pg_url)
    first, second = (Lease(Project.open(directory, None, ENV)) for _ in range(2))
    assert first.try_acquire()
    assert not second.try_acquire(), "a standby, not an error"
    first.release()
    assert second.try_acquire()
    second.release()


def test_projects_in_one_database_are_led_independently(tmp_path: Path, pg_url: str) -> None:
    red = Lease(Project.open(_project_dir(tmp_path, pg_url, "red"), None, ENV))
    blue = Lease(Project.open(_project_dir(tmp_path, pg_url, "blue"), None, ENV))
    assert red.try_acquire() and blue.try_acquire()
    red.release()
    blue.release()


def test_a_lease_whose_session_died_fails_its_check_and_a_standby_takes_it(
    tmp_path: Path, pg_url: str
) -> None:
    directory = _project_dir(tmp_path, pg_url)
    leader, standby = (Lease(Project.open(directory, None, ENV)) for _ in range(2))
    assert leader.try_acquire()  # the standby has no session yet
    leader.check()
    _terminate_sessions(pg_url)
    with pytest.raises(StateError, match="lost the connection"):
        leader.check()
    deadline = time.monotonic() + 5
    while not standby.try_acquire():
        assert time.monotonic() < deadline, "the server did not release the lock"
        time.sleep(0.05)
    leader.lost()
    assert not leader.held
    standby.release()


def test_a_leader_notices_a_lost_lease_between_runs_not_at_its_next_run(
    tmp_path: Path, pg_url: str
) -> None:
    directory = _project_dir(tmp_path, pg_url)
    options = WatchOptions(directory=directory, config=None, interval=600, standby_poll_s=0.05)
    watcher = Watcher(Project.open(directory, None, ENV), options, metrics=WatchMetrics())
    rival = Lease(Project.open(directory, None, ENV))

    async def scenario() -> None:
        loop = asyncio.create_task(watcher.run())
        await until("the first run", lambda: watcher.runs >= 1 and watcher.status.is_leader)
        _terminate_sessions(pg_url)
        # The rival takes the freed lock before the watcher can compete again: it polls without
        # yielding to the event loop, so the watcher (a task of this loop) does not run meanwhile.
        deadline = time.monotonic() + 30
        while not rival.try_acquire():
            assert time.monotonic() < deadline, "the server did not release the lock"
            time.sleep(0.01)
        await until("the watcher to stand by", lambda: watcher.status.readiness().role == "standby")
        assert watcher.metrics.registry.get_sample_value("reconciler_watch_leader") == 0
        watcher.request_stop()
        await asyncio.wait_for(loop, 5)

    try:
        asyncio.run(scenario())
    finally:
        rival.release()
