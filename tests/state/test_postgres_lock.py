"""The PostgreSQL lock: an advisory lock that dies with its session, holder rows, force-unlock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from reconciler.errors import LockHeldError, StateError
from reconciler.models.settings import Settings
from reconciler.state import open_backend
from reconciler.state.postgres.backend import PostgresBackend
from tests.state.conftest import make_doc

HOLDER = """
import sys
from pathlib import Path
from reconciler.models.settings import Settings
from reconciler.state import open_backend

backend = open_backend(Settings(project_dir=Path("."), state=sys.argv[1]), {})
info = backend.lock("apply", 0.0).acquire(command="apply")
print(info.id, flush=True)
sys.stdin.readline()  # hold until killed
"""


def pg_backend(url: str, tmp_path: Path) -> PostgresBackend:
    backend = open_backend(Settings(project_dir=tmp_path, state=url), {})
    assert isinstance(backend, PostgresBackend)
    return backend


def backend_pid(backend: PostgresBackend) -> int:
    row = backend.session.connection().execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_the_lock_is_released_when_the_holders_connection_is_terminated(
    pg_url: str, tmp_path: Path
) -> None:
    holder = pg_backend(pg_url, tmp_path)
    holder.store.write(make_doc("a"))
    lock = holder.lock("apply", 0.0)
    lock.acquire(command="apply")
    terminate(pg_url, backend_pid(holder))
    with pg_backend(pg_url, tmp_path).lock("apply", 5.0):
        pass
    # the run that lost its lock stops writing instead of reconnecting without it
    with pytest.raises(StateError, match=r"lost the connection .* held the state lock"):
        holder.store.write(holder.store.load())
    lock.release()
    assert pg_backend(pg_url, tmp_path).store.load().serial == 1


LOSE_CONNECTION = """
import sys
from pathlib import Path
import psycopg
from reconciler.errors import StateError
from reconciler.models.settings import Settings
from reconciler.state import open_backend
from tests.state.conftest import make_doc
url = sys.argv[1]
backend = open_backend(Settings(project_dir=Path(sys.argv[2]), state=url), {})
doc = backend.store.write(make_doc("a"))
lock = backend.lock("apply", 0.0)
lock.acquire(command="apply")
pid = backend.session.connection().execute("SELECT pg_backend_pid()").fetchone()[0]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
try:
    backend.store.write(make_doc("a", "b").model_copy(update={"lineage": doc.lineage}))
except StateError as exc:
    print(exc)
"""


def test_a_write_on_a_terminated_connection_fails_with_one_error_and_prints_nothing_else(
    pg_url: str, tmp_path: Path
) -> None:
    # psycopg notes the failure in its own log ("error ignored terminating <Pipeline>"), which
    # logging's last resort prints on stderr, unmasked: the StateError is the one report
    done = subprocess.run(
        [sys.executable, "-c", LOSE_CONNECTION, pg_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "lost the connection" in done.stdout
    assert done.stderr == ""
    assert pg_backend(pg_url, tmp_path).store.load().serial == 1


def test_a_holder_in_another_process_is_named_with_its_ci_run(pg_url: str, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "team/agents",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lock_id = proc.stdout.readline().strip()
        assert lock_id, "the holder process did not start"
        with pytest.raises(LockHeldError) as refused:
            pg_backend(pg_url, tmp_path).lock("apply", 0.0).acquire()
        message = str(refused.value)
        assert lock_id in message and f"(pid {proc.pid})" in message
        assert "https://github.com/team/agents/actions/runs/42" in message
        proc.kill()  # kill -9: the server ends the session and with it the lock
        proc.wait(timeout=10)
        with pg_backend(pg_url, tmp_path).lock("apply", 10.0) as info:
            assert info.id != lock_id
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_force_unlock_ends_the_session_of_a_stuck_holder(pg_url: str, tmp_path: Path) -> None:
    stuck = pg_backend(pg_url, tmp_path)
    info = stuck.lock("apply", 0.0).acquire(command="apply")
    removed = pg_backend(pg_url, tmp_path).force_unlock(info.id)
    assert removed == info
    with pg_backend(pg_url, tmp_path).lock("apply", 0.0):
        pass
    with pytest.raises(StateError, match="lost the connection"):
        stuck.store.write(make_doc("a"))


def test_force_unlock_deletes_the_row_a_dead_holder_left(pg_url: str, tmp_path: Path) -> None:
    holder = pg_backend(pg_url, tmp_path)
    info = holder.lock("apply", 0.0).acquire(command="apply")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a row the holder had no time to delete
        conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid(holder),))
    removed = pg_backend(pg_url, tmp_path).force_unlock(info.id)
    assert removed.id == info.id
    with pytest.raises(StateError, match="is not locked"):
        pg_backend(pg_url, tmp_path).force_unlock(info.id)


def test_a_stale_holder_row_never_names_the_wrong_holder(pg_url: str, tmp_path: Path) -> None:
    dead = pg_backend(pg_url, tmp_path)
    dead_info = dead.lock("destroy", 0.0).acquire(command="destroy")
    terminate(pg_url, backend_pid(dead))
    # a new holder takes the lock; until it writes its row, the dead one's is still there
    live = pg_backend(pg_url, tmp_path)
    live_info = live.lock("apply", 0.0).acquire(command="apply")
    with pytest.raises(LockHeldError) as refused:
        pg_backend(pg_url, tmp_path).lock("plan", 0.0).acquire()
    assert live_info.id in str(refused.value) and dead_info.id not in str(refused.value)
