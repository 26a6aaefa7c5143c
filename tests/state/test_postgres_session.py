"""The connection a PostgreSQL state opens: bounded waits on a server that went silent, and the
URL's own connection parameters kept over the tool's defaults."""

from __future__ import annotations

from pathlib import Path

from reconciler.models.settings import Settings
from reconciler.state import open_backend
from reconciler.state.postgres.backend import PostgresBackend


def parameters(url: str, tmp_path: Path) -> dict[str, str]:
    backend = open_backend(Settings(project_dir=tmp_path, state=url), {})
    assert isinstance(backend, PostgresBackend)
    try:
        return dict(backend.session.connection().info.get_parameters())
    finally:
        backend.session.close()


def test_a_server_that_goes_silent_is_given_up_on_instead_of_waited_for_for_hours(
    pg_url: str, tmp_path: Path
) -> None:
    # A host that vanishes mid-apply (no reset) leaves the client waiting on its socket: the
    # system's keepalive starts after 2 hours. TCP keepalives and a user timeout end the session
    # within about a minute; the run then stops as for any lost connection (the lock is gone too).
    got = parameters(pg_url, tmp_path)
    assert got["keepalives"] == "1"
    idle, interval, count = (
        int(got[k]) for k in ("keepalives_idle", "keepalives_interval", "keepalives_count")
    )
    assert idle + interval * count <= 60
    assert 0 < int(got["tcp_user_timeout"]) <= 60_000


def test_connection_parameters_the_url_sets_are_kept(pg_url: str, tmp_path: Path) -> None:
    # Regression: connect_timeout=3 in the URL was replaced by the tool's 10 seconds
    url = f"{pg_url}?connect_timeout=3&keepalives_idle=120&tcp_user_timeout=0"
    got = parameters(url, tmp_path)
    assert got["connect_timeout"] == "3"
    assert got["keepalives_idle"] == "120"
    assert got.get("tcp_user_timeout", "0") == "0"
