"""The PostgreSQL store: rows per record, compare-and-set writes, the versioned schema, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest

from reconciler.errors import EXIT_ERROR, StateError
from reconciler.models.resources import PendingCreate, ResourceRecord
from reconciler.models.settings import Settings
from reconciler.state import open_backend
from reconciler.state.postgres.backend import PostgresBackend
from reconciler.state.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from tests.secret_scan import find_leaks
from tests.served import refused_port
from tests.state.conftest import make_doc, make_record

PASSWORD = "pg-Secret-pw-7f3e1a"


def pg_backend(url: str, tmp_path: Path, **settings: str) -> PostgresBackend:
    backend = open_backend(Settings(project_dir=tmp_path, state=url, **settings), {})
    assert isinstance(backend, PostgresBackend)
    return backend


def row_versions(url: str, table: str, column: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(f"SELECT {column}, xmin::text FROM {table}").fetchall()
    return {str(key): str(xmin) for key, xmin in rows}


def test_a_write_touches_only_the_rows_of_changed_records(pg_url: str, tmp_path: Path) -> None:
    store = pg_backend(pg_url, tmp_path).store
    doc = store.write(make_doc(*(f"agent-{i}" for i in range(20))))
    before = row_versions(pg_url, "reconciler_records", "name")
    changed = make_record("agent-3", generation=2)
    agents = {**doc.agents, "agent-3": changed}
    del agents["agent-7"]
    store.write(doc.model_copy(update={"agents": agents}))
    after = row_versions(pg_url, "reconciler_records", "name")
    rewritten = {name for name in after if after[name] != before.get(name)}
    assert rewritten == {"agent-3"}
    assert set(before) - set(after) == {"agent-7"}


def test_a_write_after_another_run_wrote_is_refused_and_overwrites_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    mine = pg_backend(pg_url, tmp_path).store
    doc = mine.write(make_doc("a"))
    theirs = pg_backend(pg_url, tmp_path).store
    newer = theirs.write(theirs.load().model_copy(update={"agents": {"b": make_record("b")}}))
    with pytest.raises(StateError, match="another run changed it") as refused:
        mine.write(doc.model_copy(update={"agents": {"c": make_record("c")}}))
    assert f"serial {doc.serial}" in str(refused.value)
    assert pg_backend(pg_url, tmp_path).store.load() == newer


def test_two_runs_creating_the_first_state_at_once_cannot_both_win(
    pg_url: str, tmp_path: Path
) -> None:
    first, second = pg_backend(pg_url, tmp_path).store, pg_backend(pg_url, tmp_path).store
    first.load()
    second.load()
    first.write(make_doc("a"))
    with pytest.raises(StateError, match="created it meanwhile"):
        second.write(make_doc("b"))


def test_each_state_key_is_its_own_state(pg_url: str, tmp_path: Path) -> None:
    pg_backend(pg_url, tmp_path, state_key="team-a").store.write(make_doc("a"))
    other = pg_backend(pg_url, tmp_path, state_key="team-b").store
    assert not other.exists
    assert pg_backend(pg_url, tmp_path).store.exists is False  # default key: the App ID
    assert sorted(pg_backend(pg_url, tmp_path, state_key="team-a").store.load().agents) == ["a"]


def table_names(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'reconciler_%'")
        return {row[0] for row in rows}


def test_the_schema_is_created_on_first_write_and_versioned(pg_url: str, tmp_path: Path) -> None:
    store = pg_backend(pg_url, tmp_path).store
    assert (store.exists, store.load().agents) == (False, {})
    assert table_names(pg_url) == set()  # a read runs no DDL
    store.write(make_doc("a"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        (version,) = conn.execute("SELECT version FROM reconciler_schema").fetchone() or (0,)
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'reconciler_%'"
            )
        }
    assert version == SCHEMA_VERSION
    assert tables == {
        "reconciler_schema",
        "reconciler_states",
        "reconciler_records",
        "reconciler_pending",
        "reconciler_locks",
        "reconciler_resources",
    }
    pg_backend(pg_url, tmp_path).store.load()  # a second session finds it in place


def test_a_schema_from_a_newer_version_is_refused(pg_url: str, tmp_path: Path) -> None:
    pg_backend(pg_url, tmp_path).store.write(make_doc("a"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE reconciler_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StateError, match="newer reconciler") as refused:
        pg_backend(pg_url, tmp_path).store.load()
    assert refused.value.exit_code == EXIT_ERROR
    assert f"schema version {SCHEMA_VERSION + 1}" in str(refused.value)


def test_a_state_document_from_a_newer_version_is_refused(pg_url: str, tmp_path: Path) -> None:
    pg_backend(pg_url, tmp_path).store.write(make_doc("a"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE reconciler_states SET version = 99")
    with pytest.raises(StateError, match="newer reconciler"):
        pg_backend(pg_url, tmp_path).store.load()


def test_a_corrupt_record_row_is_a_clear_error(pg_url: str, tmp_path: Path) -> None:
    pg_backend(pg_url, tmp_path).store.write(make_doc("a"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("""UPDATE reconciler_records SET record = '{"name": "a"}'""")
    with pytest.raises(StateError, match=r"is corrupt: .*agents\.a\.agent_id"):
        pg_backend(pg_url, tmp_path).store.load()


def test_strings_jsonb_would_refuse_still_round_trip(pg_url: str, tmp_path: Path) -> None:
    record = make_record("a").model_copy(update={"spec": {"prompt": "nul\u0000 and \u00e9"}})
    doc = make_doc().model_copy(update={"agents": {"a": record}})
    written = pg_backend(pg_url, tmp_path).store.write(doc)
    assert pg_backend(pg_url, tmp_path).store.load() == written


def test_a_database_that_is_down_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{refused_port()}/state"
    with pytest.raises(StateError) as failed:
        pg_backend(url, tmp_path).store.load()
    message = str(failed.value)
    assert "cannot connect" in message and "postgres:***@127.0.0.1" in message
    assert PASSWORD not in message and PASSWORD not in repr(failed.value)


def test_a_missing_database_is_a_clear_error_without_the_password(
    pg_url: str, tmp_path: Path
) -> None:
    url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    url = url.rsplit("/", 1)[0] + "/reconciler_no_such_database"
    with pytest.raises(StateError, match='database "reconciler_no_such_database" does not exist'):
        pg_backend(url, tmp_path).store.exists  # noqa: B018 - the property connects
    backend = pg_backend(url, tmp_path)
    assert PASSWORD not in repr(backend) + repr(backend.store) + repr(backend.session)


def test_pgpassword_and_password_parameters_are_scrubbed_from_messages(tmp_path: Path) -> None:
    url = f"postgresql://u@127.0.0.1:{refused_port()}/db?password={PASSWORD}"
    settings = Settings(project_dir=tmp_path, state=url)
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.state_shown
    backend = open_backend(settings, {"PGPASSWORD": "env-" + PASSWORD})
    assert isinstance(backend, PostgresBackend)
    scrubbed = backend.session.scrub(
        f"password={PASSWORD} env-{PASSWORD} postgresql://u:{PASSWORD}@h/db password='a b'"
    )
    assert PASSWORD not in scrubbed and "a b" not in scrubbed


SSL_PASSWORD = "ssl-Key-Passphrase-42/+="


@pytest.mark.parametrize("database", ["down", "missing"])
def test_every_secret_connection_parameter_is_masked_in_database_errors(
    pg_url: str, tmp_path: Path, database: str
) -> None:
    """Regression: ``sslpassword=`` (the client key's passphrase) was printed verbatim in every
    database error, as part of the URL shown, while the password was masked."""
    secret = quote(SSL_PASSWORD, safe="")
    if database == "down":
        url = f"postgresql://postgres@127.0.0.1:{refused_port()}/state"
    else:
        url = pg_url.rsplit("/", 1)[0] + "/reconciler_no_such_database"
    url += f"?sslpassword={secret}&password={PASSWORD}&application_name=masked"
    settings = Settings(project_dir=tmp_path, state=url)
    assert settings.state == url.split("?")[0] + "?application_name=masked"
    assert settings.state_shown.endswith("?application_name=masked&sslpassword=***")
    with pytest.raises(StateError) as failed:
        pg_backend(url, tmp_path).store.load()
    message = str(failed.value)
    assert "cannot connect" in message and "sslpassword=***" in message
    secrets = {"sslpassword": SSL_PASSWORD, "password": PASSWORD}
    texts = [("message", message), ("repr", repr(failed.value)), ("settings", repr(settings))]
    assert find_leaks(texts, secrets, basic_credential=PASSWORD) == []


def test_a_connection_string_in_any_form_is_masked_in_one_place(tmp_path: Path) -> None:
    url = f"postgresql://u@127.0.0.1:{refused_port()}/db?sslpassword={quote(SSL_PASSWORD, safe='')}"
    backend = pg_backend(url, tmp_path)
    text = backend.session.scrub(
        "host=h password='it\\'s a secret' sslpassword = plain-Pass oauth_client_secret=c1ient "
        f"postgresql://u:pw-in-url@h/db?sslmode=require&sslpassword=other-Pass&x=1 "
        f"echo {quote_plus(SSL_PASSWORD)} {SSL_PASSWORD.encode().hex()}"
    )
    assert text == (
        "host=h password=*** sslpassword = *** oauth_client_secret=*** "
        "postgresql://u:***@h/db?sslmode=require&sslpassword=***&x=1 echo *** ***"
    )


def test_a_write_to_a_state_deleted_behind_the_store_is_refused(
    pg_url: str, tmp_path: Path
) -> None:
    store = pg_backend(pg_url, tmp_path).store
    doc = store.write(make_doc("a"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM reconciler_states")
    with pytest.raises(StateError, match=r"another run changed it .*\(it was deleted\)"):
        store.write(doc.model_copy(update={"agents": {"b": make_record("b")}}))
    assert not pg_backend(pg_url, tmp_path).store.exists


def test_sessions_writing_to_a_fresh_database_at_once_create_the_schema_once(
    pg_url: str, tmp_path: Path
) -> None:
    stores = [pg_backend(pg_url, tmp_path).store for _ in range(4)]
    with ThreadPoolExecutor(len(stores)) as pool:
        found = list(pool.map(lambda store: store.exists, stores))
        assert found == [False] * len(stores)
        list(pool.map(lambda store: store.session.ensure_tables(), stores))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute("SELECT version FROM reconciler_schema").fetchall()
    assert rows == [(SCHEMA_VERSION,)]


def test_every_schema_version_has_its_migration() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def test_resources_and_their_create_entries_are_stored_row_by_row(
    pg_url: str, tmp_path: Path
) -> None:
    store = pg_backend(pg_url, tmp_path).store
    doc = store.write(make_doc("agent-1"))
    base = ResourceRecord(
        kind="Widget", name="base", id="w-1", spec={}, spec_digest="sha256:0", created_at=1.0
    )
    other = base.model_copy(update={"name": "other", "id": "w-2"})
    entry = PendingCreate(
        kind="Widget", name="next", marker="m-1", started_at=2.0, spec={}, spec_digest="sha256:0"
    )
    update = {"resources": {base.address: base, other.address: other}}
    doc = store.write(doc.model_copy(update={**update, "creating": {entry.address: entry}}))
    assert pg_backend(pg_url, tmp_path).store.load() == doc
    before = row_versions(pg_url, "reconciler_resources", "address")
    changed = base.model_copy(update={"version": '"v2"'})
    doc = store.write(doc.model_copy(update={"resources": {base.address: changed}, "creating": {}}))
    assert pg_backend(pg_url, tmp_path).store.load() == doc
    after = row_versions(pg_url, "reconciler_resources", "address")
    assert set(after) == {"Widget/base"}  # the other record and the entry: rows deleted
    assert after["Widget/base"] != before["Widget/base"]
