"""The PostgreSQL state store: the state document as rows, written by compare-and-set.

:class:`PostgresStateStore` has the contract of
:class:`~reconciler.state.local.store.LocalStateStore` (``load``, ``write``, ``replace``,
``exists``; lineage, serial and salt; records and journal entries), for the state named by a
*state key* inside one database (see :mod:`reconciler.state.postgres.schema` for the tables).

A write costs O(changed records): the store remembers the document it last loaded or wrote and
sends only the difference (upserted and deleted record rows and journal rows), with the new
serial, in one transaction. The header update is a compare-and-set:
``UPDATE ... SET serial = new WHERE state_key = k AND serial = last_seen AND lineage = l``. When
no row matches, another run wrote since this store last looked, and the write is refused with a
:class:`~reconciler.errors.StateError` - a run that lost its lock never overwrites a newer state.

Reading is one repeatable-read transaction, so a document is never a mix of two writes.
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import StateError
from reconciler.models.agent_table import changed_names
from reconciler.models.state import STATE_VERSION, AgentRecord, JournalEntry, StateDoc
from reconciler.state.binding import StateBinding
from reconciler.state.document import describe_validation, new_state
from reconciler.state.postgres.session import PgSession

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStateStore"]

_UPSERT_RECORD = (
    "INSERT INTO reconciler_records (state_key, name, record) VALUES (%s, %s, %s) "
    "ON CONFLICT (state_key, name) DO UPDATE SET record = EXCLUDED.record"
)
_UPSERT_ENTRY = (
    "INSERT INTO reconciler_pending (state_key, id, position, entry) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (state_key, id) DO UPDATE SET position = EXCLUDED.position, entry = EXCLUDED.entry"
)


def _header(doc: StateDoc) -> tuple[object, ...]:
    """The header columns of ``reconciler_states`` for ``doc``, in the order the statements
    name them: version, lineage, serial, salt, app_id, engine, environment."""
    return (doc.version, doc.lineage, doc.serial, doc.salt, doc.app_id, doc.engine, doc.environment)


def _json(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


class PostgresStateStore:
    """State kept in PostgreSQL under one state key."""

    def __init__(self, session: PgSession, binding: StateBinding | None = None) -> None:
        self.session = session
        self.binding = binding
        """The App ID and engine this store's state must belong to (None: any)."""
        self.key = session.state_key
        self._base: StateDoc | None = None
        """The document as in the database when this store last loaded or wrote it."""
        self._looked = False
        """Whether :attr:`_base` is known (``None`` then means: no state in the database)."""
        self._positions: dict[str, int] = {}
        self._lock = threading.RLock()
        """One statement sequence at a time on the shared connection (apply writes from threads)."""

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.session.shown!r}, state_key={self.key!r})"

    @property
    def where(self) -> str:
        """Where the state lives, for messages (the password masked)."""
        return f"state key {self.key!r} in {self.session.shown}"

    @property
    def exists(self) -> bool:
        """Whether a state has been written under this key."""
        with self._lock:
            return self._exists()

    def _exists(self) -> bool:
        if not self.session.has_tables():  # read-only: no tables is no state yet
            return False
        try:
            row = (
                self.session.connection()
                .execute("SELECT 1 FROM reconciler_states WHERE state_key = %s", (self.key,))
                .fetchone()
            )
        except _psycopg_error() as exc:
            raise self.session.failure("read the state", exc) from None
        return row is not None

    # -- reading -------------------------------------------------------------------------------

    def load(self) -> StateDoc:
        """Read and validate the state; a fresh document (not yet written) if there is none.

        A state of another App ID or engine than :attr:`binding` is refused
        (:class:`~reconciler.errors.StateBindingError`).
        """
        with self._lock:
            doc = self._load()
        if self.binding is not None:
            self.binding.check(doc, self.where)
        return doc

    def _load(self) -> StateDoc:
        if not self.session.has_tables():  # read-only: no tables is no state yet, no DDL
            self._base, self._looked, self._positions = None, True, {}
            return new_state()
        conn = self.session.connection()
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                # Schema 1 (before the App ID and engine were recorded) and schemas before 4
                # (before the environment was) are read as they are: no DDL to read.
                bound = "app_id, engine" if self.session.schema >= 2 else "NULL, NULL"
                bound += ", environment" if self.session.schema >= 4 else ", NULL"
                header = conn.execute(
                    f"SELECT version, lineage, serial, salt, {bound} FROM reconciler_states "
                    "WHERE state_key = %s",
                    (self.key,),
                ).fetchone()
                records: list[tuple[Any, ...]] = []
                entries: list[tuple[Any, ...]] = []
                resources: list[tuple[Any, ...]] = []
                if header is not None:
                    records = conn.execute(
                        "SELECT name, record FROM reconciler_records WHERE state_key = %s",
                        (self.key,),
                    ).fetchall()
                    entries = conn.execute(
                        "SELECT id, position, entry FROM reconciler_pending "
                        "WHERE state_key = %s ORDER BY position, id",
                        (self.key,),
                    ).fetchall()
                    if self.session.schema >= 3:
                        resources = conn.execute(
                            "SELECT section, address, body FROM reconciler_resources "
                            "WHERE state_key = %s",
                            (self.key,),
                        ).fetchall()
        except _psycopg_error() as exc:
            raise self.session.failure("read the state", exc) from None
        if header is None:
            self._base, self._looked, self._positions = None, True, {}
            return new_state()
        version, lineage, serial, salt, app_id, engine, environment = header
        if version > STATE_VERSION:
            raise StateError(
                f"the state ({self.where}) was written by a newer reconciler (version {version}; "
                f"this one reads up to version {STATE_VERSION}); upgrade reconciler to use it"
            )
        data = {
            "version": version,
            "lineage": lineage,
            "serial": serial,
            "salt": salt,
            "app_id": app_id,
            "engine": engine,
            "environment": environment,
            "agents": {name: record for name, record in records},
            "pending": [entry for _, _, entry in entries],
        }
        held = {a: b for section, a, b in resources if section == _RESOURCE}
        creating = {a: b for section, a, b in resources if section == _CREATING}
        if held:
            data["resources"] = held
        if creating:
            data["creating"] = creating
        try:
            doc = StateDoc.model_validate(data)
        except PydanticValidationError as exc:
            raise StateError(
                f"the state ({self.where}) is corrupt: {describe_validation(exc)} (the rows of "
                "reconciler_records and reconciler_pending are keyed by agent name and entry "
                "id); it was left unchanged"
            ) from None
        self._base, self._looked = doc, True
        self._positions = {entry_id: position for entry_id, position, _ in entries}
        return doc

    # -- writing -------------------------------------------------------------------------------

    def write_log(self) -> AbstractContextManager[None]:
        """Nothing to do: every write already costs O(changed rows)."""
        return nullcontext()

    def write(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` and return it with the serial incremented (compare-and-set).

        Refuses (:class:`StateError`, nothing written) a document of another lineage and any
        write when the state in the database changed since this store last read or wrote it.
        """
        return self._write(doc, replace=False)

    def replace(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` whole, whatever lineage the state has (``state push --force``).

        Still a compare-and-set: the state must not have changed since this store loaded it.
        """
        return self._write(doc, replace=True)

    def _write(self, doc: StateDoc, *, replace: bool) -> StateDoc:
        if self.binding is not None:
            doc = self.binding.stamp(doc, self.where)
        with self._lock:
            self.session.ensure_tables()  # only writers create the tables
            if not self._looked:
                self._load()
            base = self._base
            if base is not None and base.lineage != doc.lineage and not replace:
                raise StateError(
                    f"refusing to overwrite the state ({self.where}): it belongs to another "
                    f"state lineage ({base.lineage}, not {doc.lineage}); is this the right "
                    "state_key?"
                )
            serial = max(doc.serial, base.serial if base is not None else 0) + 1
            new = doc.model_copy(update={"serial": serial})
            conn = self.session.connection()
            try:
                # One round trip: the header compare-and-set and the rows are pipelined, and the
                # header's row count is checked before the transaction commits.
                with conn.pipeline() as pipeline, conn.transaction():
                    if base is None:
                        header = self._insert_header(conn, new)
                    else:
                        header = self._update_header(conn, new, base)
                    positions = self._write_rows(conn, new, None if replace else base)
                    pipeline.sync()
                    if header.rowcount != 1:
                        raise self._refusal(conn, base)
            except StateError:
                raise
            except _psycopg_error() as exc:
                raise self.session.failure(
                    "write the state (this write was not recorded)", exc
                ) from None
            self._base, self._positions = new, positions
            return new

    def _insert_header(self, conn: psycopg.Connection[Any], new: StateDoc) -> psycopg.Cursor[Any]:
        return conn.execute(
            "INSERT INTO reconciler_states "
            "(state_key, version, lineage, serial, salt, app_id, engine, environment) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (state_key) DO NOTHING",
            (self.key, *_header(new)),
        )

    def _update_header(
        self, conn: psycopg.Connection[Any], new: StateDoc, base: StateDoc
    ) -> psycopg.Cursor[Any]:
        return conn.execute(
            "UPDATE reconciler_states SET version = %s, lineage = %s, serial = %s, salt = %s, "
            "app_id = %s, engine = %s, environment = %s, updated_at = now() "
            "WHERE state_key = %s AND serial = %s AND lineage = %s",
            (*_header(new), self.key, base.serial, base.lineage),
        )

    def _refusal(self, conn: psycopg.Connection[Any], base: StateDoc | None) -> StateError:
        """Why the header compare-and-set matched no row: another run wrote (or created) it."""
        if base is None:
            return StateError(
                f"refusing to write the state ({self.where}): another run created it meanwhile; "
                "run the command again"
            )
        row = conn.execute(
            "SELECT serial FROM reconciler_states WHERE state_key = %s", (self.key,)
        ).fetchone()
        now = "it was deleted" if row is None else f"its serial is now {row[0]}"
        return StateError(
            f"refusing to write the state ({self.where}): another run changed it since this one "
            f"read it at serial {base.serial} ({now}); nothing was overwritten - run the command "
            "again"
        )

    def _write_rows(
        self, conn: psycopg.Connection[Any], new: StateDoc, base: StateDoc | None
    ) -> dict[str, int]:
        """Upsert and delete the rows that differ from ``base`` (all rows when ``None``)."""
        key = self.key
        if base is None:
            conn.execute("DELETE FROM reconciler_records WHERE state_key = %s", (key,))
            conn.execute("DELETE FROM reconciler_pending WHERE state_key = %s", (key,))
            old_agents: dict[str, AgentRecord] = {}
            old_entries: dict[str, JournalEntry] = {}
            old_positions: dict[str, int] = {}
        else:
            old_agents = base.agents
            old_entries = {entry.id: entry for entry in base.journal}
            old_positions = self._positions
        changed = changed_names(old_agents, new.agents)  # O(changed) for an apply's tables
        upserts = [
            (key, name, _json(record))
            for name in changed
            if (record := new.agents.get(name)) is not None
        ]
        gone = [name for name in changed if name not in new.agents]
        positions = _positions(new.journal, old_positions)
        entry_rows = [
            (key, entry.id, positions[entry.id], _json(entry))
            for entry in new.journal
            if (old_entry := old_entries.get(entry.id)) is None
            or old_entry != entry
            or old_positions.get(entry.id) != positions[entry.id]
        ]
        new_ids = set(positions)
        finished = [entry_id for entry_id in old_entries if entry_id not in new_ids]
        with conn.cursor() as cur:
            if gone:
                cur.execute(
                    "DELETE FROM reconciler_records WHERE state_key = %s AND name = ANY(%s)",
                    (key, gone),
                )
            if upserts:
                cur.executemany(_UPSERT_RECORD, upserts)
            if finished:
                cur.execute(
                    "DELETE FROM reconciler_pending WHERE state_key = %s AND id = ANY(%s)",
                    (key, finished),
                )
            if entry_rows:
                cur.executemany(_UPSERT_ENTRY, entry_rows)
            self._write_resources(cur, new, base)
        return positions

    def _write_resources(
        self, cur: psycopg.Cursor[Any], new: StateDoc, base: StateDoc | None
    ) -> None:
        """Upsert and delete the resources' rows (records and create entries) that differ."""
        key = self.key
        if base is None:
            cur.execute("DELETE FROM reconciler_resources WHERE state_key = %s", (key,))
        for section, now, before in (
            (_RESOURCE, new.resources, base.resources if base is not None else {}),
            (_CREATING, new.creating, base.creating if base is not None else {}),
        ):
            gone = [address for address in before if address not in now]
            if gone:
                cur.execute(
                    "DELETE FROM reconciler_resources WHERE state_key = %s AND section = %s "
                    "AND address = ANY(%s)",
                    (key, section, gone),
                )
            rows = [
                (key, section, address, _json(item))
                for address, item in now.items()
                if (old := before.get(address)) is not item and old != item
            ]
            if rows:
                cur.executemany(_UPSERT_RESOURCE, rows)


def _positions(journal: list[JournalEntry], old: dict[str, int]) -> dict[str, int]:
    """Positions that keep the journal's order: kept entries keep theirs, new ones go after.

    Apply only appends entries and removes finished ones, so usually no kept row changes; should
    the kept entries be reordered, or a new one come before a kept one, the journal is renumbered.
    """
    positions: dict[str, int] = {}
    last = -1
    first_new = following = max(old.values(), default=-1) + 1
    for entry in journal:
        known = old.get(entry.id)
        if known is not None and known > last and following == first_new:
            positions[entry.id] = last = known
        elif known is None:
            positions[entry.id] = last = following
            following += 1
        else:
            return {item.id: index for index, item in enumerate(journal)}
    return positions


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


_RESOURCE = "resource"
_CREATING = "creating"
_UPSERT_RESOURCE = (
    "INSERT INTO reconciler_resources (state_key, section, address, body) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (state_key, section, address) "
    "DO UPDATE SET body = EXCLUDED.body"
)
