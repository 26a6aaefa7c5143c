"""Read-only commands on a PostgreSQL state never run DDL nor write: they work with a role that
may only read, and a database without the state tables means "no state recorded yet".

Each test makes a real role with ``SELECT`` only (no ``CREATE`` on the schema) in a throwaway
database and runs the CLI in this process against the in-process sandbox engine.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from reconciler.errors import EXIT_ERROR, StateError
from reconciler.models.settings import Settings
from reconciler.state import open_backend
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.reliability.inproc import CliResult, run_cli
from tests.state.conftest import make_doc, make_record
from tests.state.pg import admin

READ_ONLY_COMMANDS = [
    ("plan",),
    ("plan", "--no-refresh"),
    ("plan", "--format", "json"),
    ("state", "list"),
    ("state", "show"),
    ("state", "pull"),
    ("state", "where"),
    ("drift",),
]
TABLES = ("reconciler_schema", "reconciler_states", "reconciler_records", "reconciler_locks")


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def reader(pg_url: str) -> Iterator[str]:
    """A login role of the throwaway database that may read and nothing else."""
    role = f"reconciler_reader_{secrets.token_hex(5)}"
    database = urlsplit(pg_url).path.lstrip("/")
    with admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f'REVOKE CREATE ON SCHEMA public FROM "{role}"')
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        # Tables the owner creates later (the first apply) may be read by the role, not written.
        grant = f'GRANT SELECT ON TABLES TO "{role}"'
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public {grant}")
    try:
        yield role
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
        with admin() as conn:
            conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


class Checkout:
    """A project whose state is the throwaway database, reached as a given role."""

    def __init__(self, directory: Path, pg_url: str) -> None:
        self.dir = directory
        self.pg_url = pg_url
        (directory / "agents.d").mkdir(parents=True)
        (directory / "reconciler.yaml").write_text(
            "engine: sandbox\nstate: ${STATE_URL}\n", encoding="utf-8"
        )
        for name in ("alpha", "beta"):
            (directory / "agents.d" / f"{name}.yaml").write_text(
                MANIFEST_TEMPLATE.format(name=name), encoding="utf-8"
            )

    def run(self, *args: str, role: str = "postgres") -> CliResult:
        env = {"STATE_URL": as_role(self.pg_url, role)}
        return run_cli("-C", str(self.dir), *args, env=env)

    def tables(self) -> list[str]:
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            return [
                name
                for name in TABLES
                if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,)
            ]


@pytest.fixture
def checkout(tmp_path: Path, pg_url: str) -> Checkout:
    return Checkout(tmp_path / "project", pg_url)


@pytest.mark.parametrize("role", ["reader", "owner"])
def test_read_only_commands_on_a_fresh_database_see_no_state_and_create_no_table(
    checkout: Checkout, reader: str, role: str
) -> None:
    """Regression: the first ``plan`` created the tables, so with a role that may only read,
    ``plan``, ``state list``, ``drift``... failed; with any role a read created them."""
    who = reader if role == "reader" else "postgres"
    for command in READ_ONLY_COMMANDS:
        result = checkout.run(*command, role=who)
        if command in (("state", "show"), ("state", "pull")):  # as for a local file not written
            assert result.code == EXIT_ERROR, str(result)
            assert "no state recorded yet" in result.stderr
        else:
            assert result.code == 0, (command, str(result))
        assert "Traceback" not in result.output
    assert "+ alpha" in checkout.run("plan", role=who).stdout
    assert checkout.tables() == []


def test_read_only_commands_read_a_recorded_state_with_a_role_that_may_only_read(
    checkout: Checkout, reader: str
) -> None:
    applied = checkout.run("apply", "--auto-approve")
    assert applied.code == 0, str(applied)
    assert checkout.tables() == list(TABLES)
    for command in READ_ONLY_COMMANDS:
        result = checkout.run(*command, role=reader)
        assert result.code == 0, (command, str(result))
    assert "No changes" in checkout.run("plan", role=reader).stdout
    listed = checkout.run("state", "list", role=reader).stdout
    assert "alpha" in listed and "beta" in listed


def test_a_writing_command_with_a_role_that_may_only_read_fails_cleanly(
    checkout: Checkout, reader: str
) -> None:
    refused = checkout.run("apply", "--auto-approve", role=reader)
    assert refused.code == EXIT_ERROR, str(refused)
    assert "permission denied" in refused.stderr and "Traceback" not in refused.output
    assert checkout.tables() == []


def schema(pg_url: str) -> tuple[int, bool]:
    """The schema version, and whether ``reconciler_states`` has the ``environment`` column."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        version = conn.execute("SELECT max(version) FROM reconciler_schema").fetchone()
        column = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'reconciler_states' AND column_name = 'environment'"
        ).fetchone()
    assert version is not None and column is not None
    return int(version[0]), bool(column[0])


def test_read_only_commands_read_a_schema_3_database_as_it_is(
    checkout: Checkout, reader: str
) -> None:
    """A database of schema version 3 (before the environment was recorded): the read-only
    commands of an environment read it with a role that may only read, and leave it at version
    3; the next write (as the owner) migrates it to version 4 and records the environment."""
    (checkout.dir / "reconciler.yaml").write_text(
        "engine: sandbox\nstate: ${STATE_URL}\nenvironments:\n  staging: {state_key: staging}\n"
        "  prod: {state_key: prod, app_id: fedcba9876543210fedcba9876543210}\n",
        encoding="utf-8",
    )
    assert checkout.run("--env", "staging", "apply", "--auto-approve").code == 0
    with psycopg.connect(checkout.pg_url, autocommit=True) as conn:  # as written by version 3
        conn.execute("ALTER TABLE reconciler_states DROP COLUMN environment")
        conn.execute("UPDATE reconciler_schema SET version = 3")
    for command in READ_ONLY_COMMANDS:
        result = checkout.run("--env", "staging", *command, role=reader)
        assert result.code == 0, (command, str(result))
    assert "No changes" in checkout.run("--env", "staging", "plan", role=reader).stdout
    assert schema(checkout.pg_url) == (3, False)

    (checkout.dir / "agents.d" / "gamma.yaml").write_text(
        MANIFEST_TEMPLATE.format(name="gamma"), encoding="utf-8"
    )
    assert checkout.run("--env", "staging", "apply", "--auto-approve").code == 0
    assert schema(checkout.pg_url) == (4, True)
    pulled = checkout.run("--env", "staging", "state", "pull", role=reader)
    assert json.loads(pulled.stdout)["environment"] == "staging"


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT name, xmin::text FROM reconciler_records ORDER BY name"
        ).fetchall()


def test_the_backend_of_a_read_only_command_reads_and_the_database_refuses_its_writes(
    pg_url: str, tmp_path: Path
) -> None:
    """Defence in depth: the session of a read-only command is read-only in the database
    itself, and its lock (which every write takes first) is refused."""
    settings = Settings(project_dir=tmp_path, state=pg_url)
    written = open_backend(settings, {}).store.write(make_doc("a"))
    before = _rows(pg_url)
    backend = open_backend(settings, {}, read_only=True)

    assert backend.store.load().agents == written.agents
    with pytest.raises(StateError, match="read-only"):
        backend.store.write(
            written.model_copy(update={"agents": {**written.agents, "b": make_record("b")}})
        )
    with pytest.raises(StateError, match="read-only command"):
        backend.lock("apply", 0.0)
    assert _rows(pg_url) == before
