"""A state that would manage one agent twice, or make an invalid request, is refused on read.

Both backends, located: the local file (and the field) or the database's state key (and the
record's name and field). Nothing is written back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from reconciler.errors import StateError
from reconciler.models import Settings
from reconciler.state import LocalStateStore, dump_state, open_backend
from tests.state.conftest import make_doc
from tests.state.pg import pg_url

__all__ = ["pg_url"]


def local_state(tmp_path: Path, edit: Any) -> Path:
    """A valid state file of agents a and b, with ``edit(document)`` applied to its JSON."""
    path = tmp_path / "agents.json"
    data = json.loads(dump_state(make_doc("a", "b")))
    edit(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    before = path.read_bytes()
    with pytest.raises(StateError) as info:
        LocalStateStore(path).load()
    assert path.read_bytes() == before
    assert str(path) in str(info.value)
    return str(info.value)


def same_id(data: dict[str, Any]) -> None:
    data["agents"]["b"]["agent_id"] = data["agents"]["a"]["agent_id"]


def test_a_local_state_recording_one_agent_id_under_two_names_is_refused(
    tmp_path: Path,
) -> None:
    message = refused(local_state(tmp_path, same_id))
    assert "agents.a.agent_id and agents.b.agent_id" in message
    assert "recorded under two names" in message


def test_a_state_recording_one_wire_name_under_two_names_is_refused(tmp_path: Path) -> None:
    def same_wire_name(data: dict[str, Any]) -> None:
        data["agents"]["b"]["wire_name"] = data["agents"]["a"]["wire_name"]

    assert "agents.a.wire_name and agents.b.wire_name" in refused(
        local_state(tmp_path, same_wire_name)
    )


@pytest.mark.parametrize("number", ["1e400", "1" + "0" * 400, "1.5", "-1", "true", "1000000"])
def test_a_generation_that_is_not_a_small_non_negative_integer_is_refused(
    tmp_path: Path, number: str
) -> None:
    path = local_state(tmp_path, lambda d: None)
    text = path.read_text(encoding="utf-8").replace('"generation": 1', f'"generation": {number}', 1)
    path.write_text(text, encoding="utf-8")
    assert "agents.a.generation" in refused(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wire_name", "a-1-" + "f" * 70),  # longer than the engine takes
        ("wire_name", "A 1"),
        ("channel", "bad\nchannel"),
        ("channel", "c" * 65),
        ("agent_id", "../../agents"),
        ("agent_id", ""),
        ("name", "a"),  # filed under another key than its own name (b)
    ],
)
def test_a_record_that_would_make_an_invalid_request_is_refused(
    tmp_path: Path, field: str, value: str
) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["agents"]["b"][field] = value

    message = refused(local_state(tmp_path, edit))
    assert "agents.b" in message or "the record under 'b'" in message


def test_a_journal_entry_that_would_make_an_invalid_request_is_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["pending"] = [
            {
                "id": "e1",
                "op": "join",
                "name": "c",
                "wire_name": "c-1",
                "generation": 10**20,
                "channel": "c",
                "created_at": 1.0,
            }
        ]

    assert "pending.0.generation" in refused(local_state(tmp_path, edit))


# -- PostgreSQL --------------------------------------------------------------------------------


def pg_state(tmp_path: Path, url: str) -> Settings:
    settings = Settings(project_dir=tmp_path, state=url)
    open_backend(settings, {}).store.write(make_doc("a", "b"))
    return settings


def edit_row(url: str, name: str, edit: Any) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        (record,) = conn.execute(
            "SELECT record FROM reconciler_records WHERE name = %s", (name,)
        ).fetchone() or (None,)
        assert isinstance(record, dict)
        edit(record)
        conn.execute(
            "UPDATE reconciler_records SET record = %s WHERE name = %s",
            (json.dumps(record), name),
        )


def test_a_database_state_recording_one_agent_id_under_two_names_is_refused(
    tmp_path: Path, pg_url: str
) -> None:
    settings = pg_state(tmp_path, pg_url)
    edit_row(pg_url, "b", lambda r: r.update(agent_id="AA"))
    with pytest.raises(StateError) as info:
        open_backend(settings, {}).store.load()
    message = str(info.value)
    assert "state key" in message and "reconciler_records" in message
    assert "agents.a.agent_id and agents.b.agent_id" in message


def test_a_database_state_with_a_huge_generation_is_refused(tmp_path: Path, pg_url: str) -> None:
    settings = pg_state(tmp_path, pg_url)
    edit_row(pg_url, "a", lambda r: r.update(generation=10**400))
    with pytest.raises(StateError, match=r"agents\.a\.generation"):
        open_backend(settings, {}).store.load()


def test_a_schema_1_database_is_read_as_it_is_and_bound_at_the_next_write(
    tmp_path: Path, pg_url: str
) -> None:
    """A database written before the App ID and engine were recorded: read-only commands read
    it without DDL; the next write migrates the schema and records the project's identity."""
    settings = pg_state(tmp_path, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE reconciler_states DROP COLUMN app_id, DROP COLUMN engine, "
            "DROP COLUMN environment"
        )
        conn.execute("DROP TABLE reconciler_resources")  # schema version 3
        conn.execute("UPDATE reconciler_schema SET version = 1")
        conn.execute("UPDATE reconciler_states SET version = 1")
    doc = open_backend(settings, {}).store.load()
    assert (doc.version, doc.app_id, doc.engine) == (1, None, None)
    written = open_backend(settings, {}).store.write(doc)
    again = open_backend(settings, {}).store.load()
    assert (again.version, again.app_id, again.engine) == (3, settings.app_id, "sandbox")
    assert again.serial == written.serial and sorted(again.agents) == ["a", "b"]
