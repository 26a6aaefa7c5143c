"""The contract every state backend keeps, run against the local file and PostgreSQL alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.errors import EXIT_CONFLICT, LockHeldError, StateError
from reconciler.models.settings import Settings
from reconciler.models.state import JournalEntry
from reconciler.state import StateBackend, open_backend
from tests.state.conftest import make_doc, make_record

OTHER_LINEAGE = "99999999-2222-3333-4444-555555555555"


@pytest.fixture(params=["local", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "local":
        return Settings(project_dir=tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return Settings(project_dir=tmp_path, state=url)


def backend(settings: Settings) -> StateBackend:
    """A new backend object, as a new process would open it."""
    return open_backend(settings, {})


def _entry(entry_id: str, name: str) -> JournalEntry:
    return JournalEntry(
        id=entry_id,
        op="join",
        name=name,
        wire_name=f"{name}-2",
        generation=2,
        channel=name,
        created_at=1_790_000_100.0,
        spec={"channel": name},
        spec_digest="sha256:9",
    )


def test_a_fresh_backend_has_no_state_and_offers_a_new_document(settings: Settings) -> None:
    store = backend(settings).store
    assert not store.exists
    doc = store.load()
    assert doc.serial == 0 and doc.agents == {} and doc.journal == []
    assert not store.exists  # loading writes nothing


def test_records_journal_and_salt_round_trip_through_a_new_store(settings: Settings) -> None:
    doc = make_doc("b", "a").model_copy(
        update={"journal": [_entry("e2", "z"), _entry("e1", "y")], "salt": "ab" * 16}
    )
    written = backend(settings).store.write(doc)
    assert written.serial == 1
    loaded = backend(settings).store.load()
    assert loaded == written
    assert [entry.id for entry in loaded.journal] == ["e2", "e1"]  # journal order is kept


def test_the_serial_increases_on_every_write(settings: Settings) -> None:
    store = backend(settings).store
    doc = store.load()
    serials = []
    for name in ("a", "b", "c"):
        doc = store.write(
            doc.model_copy(update={"agents": {**doc.agents, name: make_record(name)}})
        )
        serials.append(doc.serial)
    assert serials == [1, 2, 3]
    assert backend(settings).store.load().serial == 3


def test_removed_records_and_finished_journal_entries_are_gone_after_a_write(
    settings: Settings,
) -> None:
    store = backend(settings).store
    doc = store.write(
        make_doc("a", "b", "c").model_copy(
            update={"journal": [_entry("e1", "a"), _entry("e2", "b")]}
        )
    )
    agents = {k: v for k, v in doc.agents.items() if k != "b"}
    doc = store.write(doc.model_copy(update={"agents": agents, "journal": [doc.journal[1]]}))
    doc = store.write(doc.model_copy(update={"journal": [*doc.journal, _entry("e3", "c")]}))
    loaded = backend(settings).store.load()
    assert sorted(loaded.agents) == ["a", "c"]
    assert [entry.id for entry in loaded.journal] == ["e2", "e3"]
    assert loaded == doc


def test_a_document_of_another_lineage_is_never_written(settings: Settings) -> None:
    store = backend(settings).store
    store.write(make_doc("a"))
    other = backend(settings).store
    other.load()
    with pytest.raises(StateError, match="another state lineage"):
        other.write(make_doc("x", lineage=OTHER_LINEAGE))
    assert sorted(backend(settings).store.load().agents) == ["a"]


def test_replace_takes_another_lineage_and_moves_the_serial_forward(settings: Settings) -> None:
    store = backend(settings).store
    first = store.write(store.write(make_doc("a")))
    other = backend(settings).store
    other.load()
    replaced = other.replace(make_doc("x", lineage=OTHER_LINEAGE))
    assert replaced.serial == first.serial + 1
    loaded = backend(settings).store.load()
    assert loaded.lineage == OTHER_LINEAGE and sorted(loaded.agents) == ["x"]


def test_a_second_lock_holder_is_refused_with_exit_3_naming_the_first(settings: Settings) -> None:
    first, second = backend(settings).lock("apply", 0.0), backend(settings).lock("plan", 0.0)
    with first as info, pytest.raises(LockHeldError) as refused, second:
        pass
    assert refused.value.exit_code == EXIT_CONFLICT
    message = str(refused.value)
    assert info.id in message and info.who in message and "'apply'" in message
    with backend(settings).lock("plan", 0.0):  # free again once released
        pass


def test_a_refused_lock_leaves_no_database_connection_open(pg_url: str, tmp_path: Path) -> None:
    """A with-statement whose lock is refused runs no __exit__: the lock closes its session
    itself (regression: the connection stayed open until garbage collection)."""
    settings = Settings(project_dir=tmp_path, state=pg_url)
    with backend(settings).lock("apply", 0.0):
        refused = backend(settings)
        with pytest.raises(LockHeldError), refused.lock("plan", 0.0):
            pass
        assert refused.session._conn is None  # type: ignore[attr-defined]


def test_lock_timeout_waits_for_the_holder_to_release(settings: Settings) -> None:
    first = backend(settings).lock("apply", 0.0)
    first.acquire(command="apply")
    releasing = threading.Event()

    def release() -> None:
        # The holder's work ends when it releases; a local lock removes the lock file and the
        # state directory it created within its release, so a waiter may get in before the
        # release returns, never before it begins.
        releasing.set()
        first.release()

    timer = threading.Timer(0.4, release)
    timer.start()
    try:
        with backend(settings).lock("plan", 120.0):  # generous: only a hang reaches it
            assert releasing.is_set(), "the lock was taken while the holder still held it"
    finally:
        timer.join()


def test_force_unlock_with_another_id_changes_nothing(settings: Settings) -> None:
    with backend(settings).lock("apply", 0.0) as info:
        with pytest.raises(StateError, match="does not match"):
            backend(settings).force_unlock("not-the-id")
        with pytest.raises(LockHeldError), backend(settings).lock("plan", 0.0):
            pass
    assert info.id
