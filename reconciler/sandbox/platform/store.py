"""The Platform's resources in the sandbox's SQLite database (so they survive a restart).

One table holds every resource of every kind (``secret_set``, ``agent``, ``number``,
``session``, ``campaign``, ``idempotency_key``) as a JSON document keyed by
``(app_id, kind, id)``; ``seq`` is the creation order that lists page on. A second table
records what each resource references (``secret_set:<name>``, ``secret_key:<name>.<key>``,
``agent:<id>``, ``number:<id>``), so "is this in use" is one indexed query.

Secret values are never stored: a key keeps a salted digest of its value (to let the control
routes confirm a value) and its size (for the 64 KiB limit).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS platform_resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    etag TEXT NOT NULL,
    create_ts REAL NOT NULL,
    update_ts REAL NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (app_id, kind, id)
);
CREATE INDEX IF NOT EXISTS platform_resources_order ON platform_resources (app_id, kind, seq);
CREATE TABLE IF NOT EXISTS platform_links (
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (app_id, kind, id, target)
);
CREATE INDEX IF NOT EXISTS platform_links_target ON platform_links (app_id, target);
"""
TABLES = ("platform_resources", "platform_links")
SALT_KEY = "platform_secret_salt"


@dataclass
class Resource:
    """One stored resource; ``body`` is its JSON document (the kind decides its fields)."""

    app_id: str
    kind: str
    id: str
    etag: str
    create_ts: float
    update_ts: float
    body: dict[str, Any]
    seq: int = 0


def new_etag() -> str:
    """A fresh strong ETag (quoted, opaque)."""
    return f'"{secrets.token_hex(10)}"'


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _resource(row: Any) -> Resource:
    return Resource(
        app_id=row["app_id"],
        kind=row["kind"],
        id=row["id"],
        etag=row["etag"],
        create_ts=row["create_ts"],
        update_ts=row["update_ts"],
        body=json.loads(row["body"]),
        seq=row["seq"],
    )


class PlatformStore:
    """Resources and links on the sandbox's shared store (its connection, lock and reset)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.add_tables(SCHEMA, TABLES)

    def salt(self) -> str:
        """The database's salt for secret digests (made on first use, kept across restarts)."""
        value = self.store.get_meta(SALT_KEY)
        if value is None:
            # INSERT OR IGNORE: two processes sharing the file agree on the first salt written.
            self.store.rows(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                (SALT_KEY, secrets.token_hex(16)),
            )
            value = self.store.get_meta(SALT_KEY) or ""
        return value

    def get(self, app_id: str, kind: str, ident: str) -> Resource | None:
        """One resource, or None."""
        rows = self.store.rows(
            "SELECT * FROM platform_resources WHERE app_id = ? AND kind = ? AND id = ?",
            (app_id, kind, ident),
        )
        return _resource(rows[0]) if rows else None

    def put(self, resource: Resource, links: Iterable[str] | None = None) -> None:
        """Insert or replace ``resource`` (keeping its place in the order); ``links``: what
        it references now (None keeps the recorded links)."""
        with self.store.transaction():
            rows = self.store.rows(
                "SELECT seq FROM platform_resources WHERE app_id = ? AND kind = ? AND id = ?",
                (resource.app_id, resource.kind, resource.id),
            )
            values = (
                resource.etag,
                resource.create_ts,
                resource.update_ts,
                _dumps(resource.body),
            )
            if rows:
                self.store.rows(
                    "UPDATE platform_resources SET etag = ?, create_ts = ?, update_ts = ?,"
                    " body = ? WHERE app_id = ? AND kind = ? AND id = ?",
                    (*values, resource.app_id, resource.kind, resource.id),
                )
                resource.seq = int(rows[0]["seq"])
            else:
                self.store.rows(
                    "INSERT INTO platform_resources (app_id, kind, id, etag, create_ts,"
                    " update_ts, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (resource.app_id, resource.kind, resource.id, *values),
                )
                seq = self.store.rows("SELECT last_insert_rowid() AS seq")[0]["seq"]
                resource.seq = int(seq)
            if links is not None:
                self._set_links(resource.app_id, resource.kind, resource.id, links)

    def _set_links(self, app_id: str, kind: str, ident: str, links: Iterable[str]) -> None:
        self.store.rows(
            "DELETE FROM platform_links WHERE app_id = ? AND kind = ? AND id = ?",
            (app_id, kind, ident),
        )
        for target in sorted(set(links)):
            self.store.rows(
                "INSERT INTO platform_links (app_id, kind, id, target) VALUES (?, ?, ?, ?)",
                (app_id, kind, ident, target),
            )

    def delete(self, app_id: str, kind: str, ident: str) -> None:
        """Remove a resource and its links."""
        with self.store.transaction():
            self.store.rows(
                "DELETE FROM platform_resources WHERE app_id = ? AND kind = ? AND id = ?",
                (app_id, kind, ident),
            )
            self._set_links(app_id, kind, ident, ())

    def referrers(self, app_id: str, targets: Iterable[str]) -> list[tuple[str, str, str]]:
        """``(kind, id, target)`` of every resource linking to one of ``targets``."""
        wanted = sorted(set(targets))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self.store.rows(
            f"SELECT kind, id, target FROM platform_links WHERE app_id = ? AND target IN ({marks})"
            " ORDER BY kind, id, target",
            (app_id, *wanted),
        )
        return [(str(r["kind"]), str(r["id"]), str(r["target"])) for r in rows]

    def links_of(self, app_id: str, kind: str, ident: str) -> list[str]:
        """What one resource references."""
        rows = self.store.rows(
            "SELECT target FROM platform_links WHERE app_id = ? AND kind = ? AND id = ?"
            " ORDER BY target",
            (app_id, kind, ident),
        )
        return [str(r["target"]) for r in rows]

    def scan(
        self, app_id: str | None, kind: str, *, after: int | None = None, ascending: bool = True
    ) -> Iterable[Resource]:
        """Resources of a kind in creation order (or its reverse), after sequence ``after``.

        Read in batches, so a caller that stops early reads little.
        """
        batch = 200
        position = after
        while True:
            sql = "SELECT * FROM platform_resources WHERE kind = ?"
            params: tuple[Any, ...] = (kind,)
            if app_id is not None:
                sql += " AND app_id = ?"
                params += (app_id,)
            if position is not None:
                sql += " AND seq > ?" if ascending else " AND seq < ?"
                params += (position,)
            sql += f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT {batch}"
            rows = self.store.rows(sql, params)
            for row in rows:
                yield _resource(row)
            if len(rows) < batch:
                return
            position = int(rows[-1]["seq"])
