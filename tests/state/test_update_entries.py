"""The write-ahead entry of a resource's update lives in its record (``ResourceRecord.updating``):
every backend stores a record whole, so the entry survives the local store's write log and the
PostgreSQL rows as they are, and a record without one is written byte for byte as before."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.models.resources import PendingUpdate, ResourceRecord
from reconciler.models.settings import Settings
from reconciler.models.state import StateDoc
from reconciler.state import LocalStateStore, StateStore, open_backend
from tests.state.conftest import make_doc

RECORD = ResourceRecord(
    kind="SavedAgent",
    name="support",
    id="a-1",
    version='"v1"',
    spec={"instructions": "Help."},
    spec_digest="sha256:1",
    created_at=1.0,
)
ENTRY = PendingUpdate(
    base_version='"v1"',
    started_at=2.0,
    spec={"instructions": "Help briefly."},
    spec_digest="sha256:2",
)


def with_record(doc: StateDoc, record: ResourceRecord) -> StateDoc:
    return doc.model_copy(update={"resources": {record.address: record}})


def test_a_record_without_an_update_entry_is_written_as_before(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "agents.json")
    store.write(with_record(make_doc("agent-1"), RECORD))
    written = json.loads((tmp_path / "agents.json").read_text(encoding="utf-8"))
    assert set(written["resources"]["SavedAgent/support"]) == {
        "kind",
        "name",
        "id",
        "version",
        "spec",
        "spec_digest",
        "created_at",
        "references",
        "protect",
    }


def test_an_update_entry_survives_the_write_log_and_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(with_record(make_doc("agent-1"), RECORD))
    pending = RECORD.model_copy(update={"updating": ENTRY})
    with store.write_log():
        doc = store.write(with_record(doc, pending))
        # another process reads the state while the apply runs (the log replayed)
        assert LocalStateStore(path).load().resources["SavedAgent/support"].updating == ENTRY
    assert LocalStateStore(path).load() == doc
    doc = store.write(with_record(doc, RECORD))
    assert LocalStateStore(path).load().resources["SavedAgent/support"].updating is None


def test_an_update_entry_survives_the_postgres_rows(pg_url: str, tmp_path: Path) -> None:
    def store() -> StateStore:
        return open_backend(Settings(project_dir=tmp_path, state=pg_url), {}).store

    writer = store()
    pending = RECORD.model_copy(update={"updating": ENTRY})
    doc = writer.write(with_record(make_doc("agent-1"), pending))
    assert store().load() == doc
    assert store().load().resources["SavedAgent/support"].updating == ENTRY
    doc = writer.write(with_record(doc, RECORD))
    assert store().load() == doc
    assert store().load().resources["SavedAgent/support"].updating is None
