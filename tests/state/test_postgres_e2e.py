"""Two checkouts, two processes, one PostgreSQL state: what two CI runners sharing it would see.

Each test runs the CLI as real subprocesses in two copies of the example project, both pointed
at one served sandbox and at one throwaway database (with a password in the URL that must never
show), and without any local state file.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.e2e_helpers import Project, Result, Sandbox, start_sandbox
from tests.secret_scan import find_leaks

PASSWORD = "e2e-PG-password-51c9d7"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    (tmp_path / "engine").mkdir()
    served = start_sandbox(tmp_path / "engine")
    yield served
    served.stop()


def checkout(tmp_path: Path, name: str, sandbox: Sandbox, pg_url: str) -> Project:
    (tmp_path / name).mkdir()
    project = Project(tmp_path / name, sandbox)
    project.set_setting("state", "${RECONCILER_STATE_URL}")
    url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    project.env["RECONCILER_STATE_URL"] = url
    return project


@pytest.fixture
def runners(tmp_path: Path, sandbox: Sandbox, pg_url: str) -> Iterator[tuple[Project, Project]]:
    first = checkout(tmp_path, "runner-1", sandbox, pg_url)
    second = checkout(tmp_path, "runner-2", sandbox, pg_url)
    yield first, second
    texts = [(str(r), r.output) for p in (first, second) for r in p.results]
    texts += [("sandbox log", sandbox.server.log_text())]
    assert not find_leaks(texts, {"the state URL password": PASSWORD}, basic_credential=PASSWORD)
    for project in (first, second):
        assert not project.state_file.exists()


def state(pg_url: str) -> dict[str, object]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SELECT serial FROM reconciler_states").fetchone()
        records = conn.execute("SELECT record FROM reconciler_records").fetchall()
        pending = conn.execute("SELECT count(*) FROM reconciler_pending").fetchone()
    return {
        "serial": None if row is None else row[0],
        "agent_ids": sorted(record["agent_id"] for (record,) in records),
        "pending": 0 if pending is None else pending[0],
    }


def wait_for_lock_row(pg_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            try:
                if conn.execute("SELECT 1 FROM reconciler_locks").fetchone() is not None:
                    return
            except psycopg.errors.UndefinedTable:  # the first run has not made the tables yet
                pass
            time.sleep(0.05)
    raise AssertionError("the first apply never took the lock")


@pytest.mark.slow
def test_apply_from_one_checkout_leaves_nothing_to_do_for_the_other(
    runners: tuple[Project, Project], sandbox: Sandbox, pg_url: str
) -> None:
    first, second = runners
    first.apply()
    second.ok("plan", "--detailed-exitcode")
    recorded = state(pg_url)
    assert recorded["pending"] == 0
    assert recorded["agent_ids"] == sorted(a["agent_id"] for a in sandbox.running().values())
    pulled = json.loads(second.ok("state", "pull").stdout)
    assert sorted(r["agent_id"] for r in pulled["agents"].values()) == recorded["agent_ids"]


@pytest.mark.slow
def test_concurrent_applies_one_proceeds_and_the_other_exits_3_naming_it(
    runners: tuple[Project, Project], sandbox: Sandbox, pg_url: str
) -> None:
    first, second = runners
    sandbox.add_fault(route="join", action="delay", delay_ms=4000)
    slow = first.popen("apply", "--auto-approve")
    try:
        wait_for_lock_row(pg_url)
        refused = second.run("apply", "--auto-approve")
    finally:
        out, err = slow.communicate(timeout=120)
    first.results.append(Result(("apply", "--auto-approve"), slow.returncode, out, err))
    assert slow.returncode == 0, err
    assert refused.code == 3, str(refused)
    assert f"(pid {slow.pid}) running 'apply'" in refused.stderr
    assert "Traceback" not in refused.stderr
    second.ok("plan", "--detailed-exitcode")


@pytest.mark.slow
def test_kill_9_of_an_apply_at_random_moments_then_reapply_converges(
    runners: tuple[Project, Project], sandbox: Sandbox, pg_url: str
) -> None:
    first, second = runners
    rng = random.Random(13)
    sandbox.add_fault(route="join", action="delay", delay_ms=150)
    sandbox.add_fault(route="leave", action="delay", delay_ms=150)
    for trial in range(3):
        runner = (first, second)[trial % 2]
        if trial:  # give the apply to kill something to do again
            runner.ok("destroy", "--auto-approve")
        proc = runner.popen("apply", "--auto-approve")
        time.sleep(rng.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        runner.results.append(Result(("apply (killed)",), proc.returncode, out, err))
        other = (second, first)[trial % 2]
        other.apply()  # no manual unlock: the lock died with the killed run's session
        other.ok("plan", "--detailed-exitcode")
        recorded = state(pg_url)
        running = sandbox.running()
        assert recorded["pending"] == 0, f"trial {trial}"
        assert recorded["agent_ids"] == sorted(a["agent_id"] for a in running.values())
        names = [a["name"].rpartition("-")[0] for a in running.values()]
        assert len(names) == len(set(names)), f"duplicates in trial {trial}: {sorted(names)}"


@pytest.mark.slow
def test_a_database_connection_killed_mid_apply_stops_the_run_cleanly_and_loses_nothing(
    runners: tuple[Project, Project], sandbox: Sandbox, pg_url: str
) -> None:
    first, second = runners
    sandbox.add_fault(route="join", action="delay", delay_ms=2000)
    proc = first.popen("apply", "--auto-approve")
    try:
        wait_for_lock_row(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(backend_pid) FROM reconciler_locks")
    finally:
        out, err = proc.communicate(timeout=120)
    first.results.append(Result(("apply (connection killed)",), proc.returncode, out, err))
    assert proc.returncode == 1, err
    assert "lost the connection to the state database" in err
    assert "Traceback" not in err
    second.apply()
    second.ok("plan", "--detailed-exitcode")
    recorded = state(pg_url)
    assert recorded["pending"] == 0
    assert recorded["agent_ids"] == sorted(a["agent_id"] for a in sandbox.running().values())


@pytest.mark.slow
def test_a_plan_saved_in_one_checkout_is_stale_once_the_other_applied(
    runners: tuple[Project, Project], pg_url: str
) -> None:
    first, second = runners
    first.ok("plan", "--out", "plan.json")
    second.apply()
    stale = first.run("apply", "plan.json")
    assert stale.code == 3, str(stale)
    assert "Traceback" not in stale.stderr
    first.ok("plan", "--detailed-exitcode")
