"""SQLite store of the sandbox engine.

One table holds every agent of every App ID, keyed by `(app_id, agent_id)`, with indexes on the
name, the channel, the creation time, the sequence number and `terminal_at` (the instant the
agent stops being active, precomputed by `lifecycle.terminal_at` on every write so that "is this
name in use" is a single indexed query). The exact join body is kept as text, next to the
effective properties and the list of updates applied.

Work per request does not grow with the number of agents (the sandbox must not be what a
benchmark of 20,000 agents measures): each query names its index's leading columns; the count
of active agents (the PCU check of every join) is kept by triggers in `active_count`, valid
until the next instant an agent ends; a list page is read in sequence order from its cursor
and stops when full, the status of each agent computed inside SQLite (`STATUS_CODE_SQL`); the
total of a list under a state filter comes from counts per status (`state_count`, kept by
triggers) of statuses materialised in `state_code` for the agents due (`materialise_states`);
and the notifier's sweep reads ranges of lifecycle instants through one index each.

A second table, `meta`, keeps small values such as the clock offset, so they survive restarts.
`presence` lists the remote users present in each channel (per App ID; the App ID `*` stands for
every App ID) and `channels` remembers the channels agents have joined (a channel not in it is
new, and gets the default presence). Databases written by an older sandbox gain the newer
columns on open. Other parts of the sandbox (the Platform API) add their own tables with
`add_tables` and use them through `rows`; `reset` empties those too.

One connection is shared by all threads and guarded by a re-entrant lock; `transaction()` wraps
compound operations in `BEGIN IMMEDIATE` so that they are atomic even when another process uses
the same file. Files use WAL journaling.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at REAL NOT NULL,
    running_at REAL NOT NULL,
    stop_delay_s REAL NOT NULL,
    max_runtime_s REAL NOT NULL,
    idle_timeout INTEGER NOT NULL,
    stop_requested_at REAL,
    users_left_at REAL,
    failed_at REAL,
    fail_message TEXT,
    token_issued_at REAL,
    token_expires_at REAL,
    token_verified INTEGER,
    terminal_at REAL NOT NULL,
    join_body TEXT NOT NULL,
    properties TEXT NOT NULL,
    updates TEXT NOT NULL,
    history TEXT NOT NULL,
    agent_uid TEXT NOT NULL DEFAULT '',
    remote_uids TEXT NOT NULL DEFAULT '[]',
    remote_seen INTEGER NOT NULL DEFAULT 0,
    status_override TEXT,
    override_until REAL,
    state_code INTEGER NOT NULL DEFAULT -1,
    state_until REAL NOT NULL DEFAULT -1e300,
    UNIQUE (app_id, agent_id)
);
CREATE TABLE IF NOT EXISTS presence (
    app_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    uid TEXT NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (app_id, channel, uid)
);
CREATE TABLE IF NOT EXISTS channels (
    app_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (app_id, channel)
);
CREATE INDEX IF NOT EXISTS agents_name ON agents (app_id, name, terminal_at);
CREATE INDEX IF NOT EXISTS agents_channel_active ON agents (app_id, channel, terminal_at);
CREATE INDEX IF NOT EXISTS agents_seq ON agents (app_id, seq);
CREATE INDEX IF NOT EXISTS agents_window ON agents (app_id, created_at, terminal_at);
CREATE INDEX IF NOT EXISTS agents_terminal ON agents (app_id, terminal_at);
CREATE INDEX IF NOT EXISTS agents_id ON agents (agent_id);
CREATE INDEX IF NOT EXISTS agents_state_due ON agents (app_id, state_until);
CREATE INDEX IF NOT EXISTS agents_state ON agents (app_id, state_code, created_at, terminal_at);
CREATE TABLE IF NOT EXISTS state_count (
    app_id TEXT NOT NULL,
    code INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (app_id, code)
);
CREATE TABLE IF NOT EXISTS state_mark (app_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TRIGGER IF NOT EXISTS agents_state_insert AFTER INSERT ON agents BEGIN
    INSERT INTO state_count (app_id, code, n) VALUES (NEW.app_id, NEW.state_code, 1)
        ON CONFLICT (app_id, code) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS agents_state_update AFTER UPDATE OF state_code ON agents
WHEN OLD.state_code != NEW.state_code BEGIN
    UPDATE state_count SET n = n - 1 WHERE app_id = OLD.app_id AND code = OLD.state_code;
    INSERT INTO state_count (app_id, code, n) VALUES (NEW.app_id, NEW.state_code, 1)
        ON CONFLICT (app_id, code) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS agents_state_delete AFTER DELETE ON agents BEGIN
    UPDATE state_count SET n = n - 1 WHERE app_id = OLD.app_id AND code = OLD.state_code;
END;
CREATE TABLE IF NOT EXISTS active_count (
    app_id TEXT PRIMARY KEY,
    n INTEGER NOT NULL,
    at REAL NOT NULL,
    next_end REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS agents_count_insert AFTER INSERT ON agents BEGIN
    UPDATE active_count SET
        n = n + (NEW.terminal_at > at),
        next_end = CASE WHEN NEW.terminal_at > at THEN min(next_end, NEW.terminal_at)
                   ELSE next_end END
    WHERE app_id = NEW.app_id;
END;
CREATE TRIGGER IF NOT EXISTS agents_count_update AFTER UPDATE OF terminal_at ON agents BEGIN
    UPDATE active_count SET
        n = n + (NEW.terminal_at > at) - (OLD.terminal_at > at),
        next_end = CASE WHEN NEW.terminal_at > at THEN min(next_end, NEW.terminal_at)
                   ELSE next_end END
    WHERE app_id = NEW.app_id;
END;
CREATE TRIGGER IF NOT EXISTS agents_count_delete AFTER DELETE ON agents BEGIN
    UPDATE active_count SET n = n - (OLD.terminal_at > at) WHERE app_id = OLD.app_id;
END;
"""

#: The indexes of the notifier's sweep (`Store.lifecycle_between`), one per kind of instant,
#: across App IDs. Created by the first sweep, so that a sandbox without webhooks does not pay
#: for them on every join.
_LIFECYCLE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS agents_running_at ON agents (running_at)",
    "CREATE INDEX IF NOT EXISTS agents_terminal_at ON agents (terminal_at)",
    "CREATE INDEX IF NOT EXISTS agents_token_at ON agents (token_expires_at)",
)

#: `next_end` of an App ID none of whose active agents ever ends (no agent is active).
_NEVER = 1e300

#: An agent's exit instant (`lifecycle.exit_event(...).at`) as an SQL expression.
_EXIT_AT = """min(
    coalesce(stop_requested_at, 1e300),
    created_at + max_runtime_s,
    CASE WHEN users_left_at IS NOT NULL AND idle_timeout > 0
         THEN users_left_at + idle_timeout ELSE 1e300 END,
    CASE WHEN token_expires_at IS NOT NULL
         THEN max(token_expires_at, created_at) ELSE 1e300 END)"""

#: An agent's status code at `:now` (`lifecycle.view(...).code`) as an SQL expression: the same
#: rules in the same order (FAILED, STOPPED, STOPPING, STARTING, a held override, RUNNING).
STATUS_CODE_SQL = f"""CASE
    WHEN failed_at IS NOT NULL AND failed_at <= :now
         AND failed_at <= ({_EXIT_AT}) + stop_delay_s THEN 6
    WHEN :now >= ({_EXIT_AT}) + stop_delay_s THEN 4
    WHEN :now >= ({_EXIT_AT}) THEN 3
    WHEN :now < running_at THEN 1
    WHEN status_override IN ('RECOVERING', 'IDLE')
         AND (override_until IS NULL OR :now < override_until)
         THEN CASE status_override WHEN 'IDLE' THEN 0 ELSE 5 END
    ELSE 2 END"""

#: The first instant after `:now` at which `STATUS_CODE_SQL` may give another answer (1e300:
#: never): the least of the thresholds it compares `:now` with that are still ahead. The status
#: is constant from `:now` until then, so a materialised `state_code` holds until `state_until`.
_STATE_UNTIL_SQL = f"""min(
    CASE WHEN running_at > :now THEN running_at ELSE 1e300 END,
    CASE WHEN ({_EXIT_AT}) > :now THEN ({_EXIT_AT}) ELSE 1e300 END,
    CASE WHEN ({_EXIT_AT}) + stop_delay_s > :now THEN ({_EXIT_AT}) + stop_delay_s ELSE 1e300 END,
    CASE WHEN failed_at > :now THEN failed_at ELSE 1e300 END,
    CASE WHEN override_until > :now THEN override_until ELSE 1e300 END)"""

#: Status codes of ended agents (STOPPED, FAILED): only these can be hidden by the retention.
_ENDED_CODES = frozenset({4, 6})


@dataclass
class AgentRecord:
    """One agent as stored. Times are seconds on the sandbox clock (Unix epoch plus offset)."""

    app_id: str
    agent_id: str
    name: str
    channel: str
    mode: str
    created_at: float
    running_at: float
    stop_delay_s: float
    max_runtime_s: float
    idle_timeout: int
    stop_requested_at: float | None
    users_left_at: float | None
    failed_at: float | None
    fail_message: str | None
    token_issued_at: float | None
    token_expires_at: float | None
    token_verified: bool | None
    terminal_at: float
    join_body: str
    properties: str
    updates: str
    history: str
    agent_uid: str = ""
    remote_uids: str = "[]"
    remote_seen: bool = False
    """Whether one of the agent's remote users has been present since it joined."""
    status_override: str | None = None
    """RECOVERING or IDLE while a control route holds the agent there (until `override_until`)."""
    override_until: float | None = None
    seq: int = 0

    def properties_obj(self) -> dict[str, Any]:
        """The effective properties (join properties with every update applied)."""
        value: dict[str, Any] = json.loads(self.properties)
        return value

    def updates_list(self) -> list[dict[str, Any]]:
        """Every update applied, oldest first: `{"at": ts, "body": {...}}`."""
        value: list[dict[str, Any]] = json.loads(self.updates)
        return value

    def remote_list(self) -> list[str]:
        """The `remote_rtc_uids` the agent joined with."""
        value: list[str] = json.loads(self.remote_uids)
        return value

    def history_list(self) -> list[dict[str, Any]]:
        """The conversation history items (`{"role", "content"}`)."""
        value: list[dict[str, Any]] = json.loads(self.history)
        return value


_COLUMNS = [f.name for f in fields(AgentRecord)]
_INSERT_COLUMNS = [c for c in _COLUMNS if c != "seq"]
_TEXT_COLUMNS = ("join_body", "properties", "updates", "history")
#: Columns added after schema version 1, with their SQL definitions (added on open if missing).
_ADDED_COLUMNS = {
    "agent_uid": "TEXT NOT NULL DEFAULT ''",
    "remote_uids": "TEXT NOT NULL DEFAULT '[]'",
    "remote_seen": "INTEGER NOT NULL DEFAULT 0",
    "status_override": "TEXT",
    "override_until": "REAL",
    "state_code": "INTEGER NOT NULL DEFAULT -1",
    "state_until": "REAL NOT NULL DEFAULT -1e300",
}
_LIST_SELECT = ", ".join(f"'' AS {c}" if c in _TEXT_COLUMNS else c for c in _COLUMNS)


def _plain(uid: str) -> bool:
    """Whether `uid` appears verbatim between quotes in the stored JSON (no escapes needed)."""
    return json.dumps(uid, ensure_ascii=False) == f'"{uid}"'


def _like_literal(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself (escape character `!`)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


@dataclass(frozen=True)
class ListWindow:
    """The agents a list query takes: those of `app_id` created within [`from_time`,
    `to_time`] (in `channel`, if given), not expired (`now` < `terminal_at` + `retention_s`)
    and, when `states` is given, in one of those status codes at `now`."""

    app_id: str
    now: float
    channel: str | None
    from_time: float
    to_time: float
    retention_s: float
    states: Collection[int] | None = None


def _list_filter(window: ListWindow) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and parameters of a list query (see `Store.list_page`)."""
    where = (
        "app_id = :app AND created_at >= :from AND created_at <= :to AND :now < terminal_at + :keep"
    )
    params: dict[str, Any] = {
        "app": window.app_id,
        "from": window.from_time,
        "to": window.to_time,
        "now": window.now,
        "keep": window.retention_s,
    }
    if window.channel is not None:
        where += " AND channel = :channel"
        params["channel"] = window.channel
    if window.states is not None:
        codes = ", ".join(str(int(code)) for code in sorted(window.states))
        where += f" AND ({STATUS_CODE_SQL}) IN ({codes})"
    return where, params


def copy_into(path: str, target: sqlite3.Connection) -> None:
    """Copy the database at `path` (if there is one) into `target`, writing nothing at `path`.

    No other process has the file open when no write-ahead log lies beside it (the last
    connection to close removes it): the file is then opened `immutable`, which creates no
    `-wal` or `-shm` file (a read-only connection to a WAL database would, and leave them
    behind). With a log beside it (a served sandbox has the file open), a read-only connection
    shares that process's log and index, and sees what it committed.
    """
    if not os.path.isfile(path):
        return
    mode = "ro" if os.path.exists(f"{path}-wal") else "ro&immutable=1"
    uri = f"{pathlib.Path(os.path.abspath(path)).as_uri()}?mode={mode}"
    source = sqlite3.connect(uri, uri=True, timeout=30.0)
    try:
        source.backup(target)
    finally:
        source.close()


def dumps(value: Any) -> str:
    """Compact JSON encoding used for every JSON column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    """Thread-safe SQLite store; `path=None` keeps the database in memory.

    `read_only`: the file at `path` is read, never written: the store is an in-memory copy of
    it (sqlite's backup API; empty when there is no file), so that what the sandbox does as
    time passes (statuses materialised, counts kept) happens in memory and is discarded at
    `close`. No directory, database, journal or lock file is created, and none is changed.
    """

    def __init__(self, path: str | None, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if path is not None and not read_only and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path if path is not None and not read_only else ":memory:",
            check_same_thread=False,
            isolation_level=None,
            timeout=30.0,
        )
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        self._extra_tables: list[str] = []
        self._lifecycle_indexed = False
        with self._lock:
            if path is not None and read_only:
                copy_into(path, self._conn)
            elif path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._migrate()
            self._conn.executescript(_SCHEMA)
            with self.transaction():  # rows written before the per-state counts existed
                self._conn.execute("DELETE FROM state_count")
                self._conn.execute(
                    "INSERT INTO state_count (app_id, code, n)"
                    " SELECT app_id, state_code, COUNT(*) FROM agents GROUP BY app_id, state_code"
                )
            self._conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )

    def _migrate(self) -> None:
        """Add the columns a database of an older schema lacks."""
        rows = self._conn.execute("PRAGMA table_info(agents)").fetchall()
        have = {row[1] for row in rows}
        if not have:
            return
        # (app_id, channel) alone let the planner prefer the (app_id, terminal_at) index, a
        # scan of every active agent, for the channel queries of `presence.settle`.
        self._conn.execute("DROP INDEX IF EXISTS agents_channel")
        # (app_id, created_at) made list's COUNT read every row of the window; the
        # replacement also holds `terminal_at`, so an unfiltered count reads the index only.
        self._conn.execute("DROP INDEX IF EXISTS agents_created")
        for column, definition in _ADDED_COLUMNS.items():
            if column not in have:
                self._conn.execute(f"ALTER TABLE agents ADD COLUMN {column} {definition}")
        self._conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,)
        )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Run the block atomically (`BEGIN IMMEDIATE` ... `COMMIT`, or rollback on error)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[AgentRecord]:
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        records = [AgentRecord(**{k: row[k] for k in _COLUMNS}) for row in rows]
        for record in records:
            if record.token_verified is not None:
                record.token_verified = bool(record.token_verified)
            record.remote_seen = bool(record.remote_seen)
        return records

    # -- tables of other parts of the sandbox --------------------------------------------------

    def add_tables(self, script: str, tables: Collection[str]) -> None:
        """Create tables (``script``: idempotent DDL) that `reset` empties with the others."""
        with self._lock:
            self._conn.executescript(script)
            self._extra_tables.extend(t for t in tables if t not in self._extra_tables)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run one statement on the shared connection; the rows it gives (if any)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- agents ---------------------------------------------------------------------------

    def insert(self, record: AgentRecord) -> int:
        """Insert a new agent; returns its sequence number (the stable list order)."""
        placeholders = ", ".join("?" for _ in _INSERT_COLUMNS)
        values = tuple(getattr(record, c) for c in _INSERT_COLUMNS)
        with self._lock:
            cur = self._conn.execute(
                f"INSERT INTO agents ({', '.join(_INSERT_COLUMNS)}) VALUES ({placeholders})",
                values,
            )
            seq = cur.lastrowid
        record.seq = int(seq or 0)
        return record.seq

    def save(self, record: AgentRecord) -> None:
        """Write back every mutable column of an existing agent."""
        columns = [c for c in _INSERT_COLUMNS if c not in ("app_id", "agent_id")]
        # any change of timestamps may change the status: materialised again at the next count
        assignments = ", ".join([*(f"{c} = ?" for c in columns), "state_until = -1e300"])
        values = (*(getattr(record, c) for c in columns), record.app_id, record.agent_id)
        with self._lock:
            self._conn.execute(
                f"UPDATE agents SET {assignments} WHERE app_id = ? AND agent_id = ?", values
            )

    def get(self, app_id: str, agent_id: str) -> AgentRecord | None:
        """The agent `agent_id` of `app_id`, or None."""
        found = self._query(
            "SELECT * FROM agents WHERE app_id = ? AND agent_id = ?", (app_id, agent_id)
        )
        return found[0] if found else None

    def find(self, agent_id: str) -> AgentRecord | None:
        """The agent `agent_id` of any App ID, or None."""
        found = self._query("SELECT * FROM agents WHERE agent_id = ? ORDER BY seq", (agent_id,))
        return found[0] if found else None

    def agent_id_exists(self, agent_id: str) -> bool:
        """Whether any App ID has an agent with this id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM agents WHERE agent_id = ? LIMIT 1", (agent_id,)
            ).fetchone()
        return row is not None

    def active_with_name(
        self, app_id: str, name: str, now: float, channel: str | None = None
    ) -> list[AgentRecord]:
        """Agents of `app_id` named `name` (in `channel`, if given) still active at `now`."""
        sql = "SELECT * FROM agents WHERE app_id = ? AND name = ? AND terminal_at > ?"
        params: tuple[Any, ...] = (app_id, name, now)
        if channel is not None:
            sql += " AND channel = ?"
            params += (channel,)
        return self._query(sql + " ORDER BY seq", params)

    def active_in_channel_light(self, channel: str, app_id: str, now: float) -> list[AgentRecord]:
        """Like `active_in_channel`, without the JSON text columns (for `save_countdown`)."""
        return self._query(
            f"SELECT {_LIST_SELECT} FROM agents"
            " WHERE app_id = ? AND channel = ? AND terminal_at > ? ORDER BY seq",
            (app_id, channel, now),
        )

    def active_in_channel_matching(
        self,
        channel: str,
        app_id: str,
        now: float,
        *,
        agent_ids: Collection[str] = (),
        listening_to: Collection[str] = (),
        agent_uids: Collection[str] = (),
    ) -> list[AgentRecord] | None:
        """Active agents of the channel (light rows) that have one of `agent_ids`, list one of
        `listening_to` (or `*`) in `remote_rtc_uids`, or use one of `agent_uids`.

        None when a uid cannot be matched in the stored JSON text (the caller loads all).
        """
        if not all(_plain(uid) for uid in listening_to):
            return None
        clauses: list[str] = []
        params: list[Any] = []
        if agent_ids:
            clauses.append(f"agent_id IN ({', '.join('?' for _ in agent_ids)})")
            params.extend(agent_ids)
        if listening_to:
            for uid in (*listening_to, "*"):
                clauses.append("remote_uids LIKE ? ESCAPE '!'")
                params.append("%" + _like_literal(f'"{uid}"') + "%")
        if agent_uids:
            clauses.append(f"agent_uid IN ({', '.join('?' for _ in agent_uids)})")
            params.extend(agent_uids)
        if not clauses:
            return []
        return self._query(
            f"SELECT {_LIST_SELECT} FROM agents"
            " WHERE app_id = ? AND channel = ? AND terminal_at > ?"
            f" AND ({' OR '.join(clauses)}) ORDER BY seq",
            (app_id, channel, now, *params),
        )

    def save_countdown(self, record: AgentRecord) -> None:
        """Write back only the idle countdown columns (and the `terminal_at` they move)."""
        with self._lock:
            self._conn.execute(
                "UPDATE agents SET users_left_at = ?, remote_seen = ?, terminal_at = ?,"
                " state_until = -1e300 WHERE app_id = ? AND agent_id = ?",
                (
                    record.users_left_at,
                    record.remote_seen,
                    record.terminal_at,
                    record.app_id,
                    record.agent_id,
                ),
            )

    def count_active(self, app_id: str, now: float) -> int:
        """How many agents of `app_id` are active at `now`.

        O(1) while no agent has ended since the last count: the `active_count` row holds the
        count at an instant `at` and a bound `next_end` no counted agent ends before, and
        triggers keep it current as agents are inserted, change their `terminal_at` or are
        deleted; for `at <= now < next_end` it is the answer. Otherwise (an agent ended, or
        the clock went back) it is counted again, once, with the index on `terminal_at`.
        """
        with self.transaction():
            row = self._conn.execute(
                "SELECT n, at, next_end FROM active_count WHERE app_id = ?", (app_id,)
            ).fetchone()
            if row is not None and row[1] <= now < row[2]:
                return int(row[0])
            counted = self._conn.execute(
                "SELECT COUNT(*), MIN(terminal_at) FROM agents"
                " WHERE app_id = ? AND terminal_at > ?",
                (app_id, now),
            ).fetchone()
            self._conn.execute(
                "INSERT INTO active_count (app_id, n, at, next_end) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (app_id) DO UPDATE SET"
                " n = excluded.n, at = excluded.at, next_end = excluded.next_end",
                (app_id, counted[0], now, _NEVER if counted[1] is None else counted[1]),
            )
        return int(counted[0])

    def active_in_channel(self, channel: str, app_id: str | None, now: float) -> list[AgentRecord]:
        """Active agents in `channel` (of one App ID, or of all when `app_id` is None)."""
        if app_id is None:
            return self._query(
                "SELECT * FROM agents WHERE channel = ? AND terminal_at > ? ORDER BY seq",
                (channel, now),
            )
        return self._query(
            "SELECT * FROM agents WHERE app_id = ? AND channel = ? AND terminal_at > ? "
            "ORDER BY seq",
            (app_id, channel, now),
        )

    def list_page(
        self, window: ListWindow, *, from_seq: int, limit: int
    ) -> tuple[int, list[tuple[str, float, int]]]:
        """One page of the engine's list: the total and up to `limit` + 1 agents.

        The agents of `window`: returns how many there are (`count_listed`) and, in
        creation order from sequence number `from_seq` on, `(agent_id, created_at, status
        code)` of the first `limit` + 1 (`page_rows`; the last one, if any, is where the next
        page starts).
        """
        if window.states is None:
            where, params = _list_filter(window)
            with self._lock:
                total = self._conn.execute(
                    f"SELECT COUNT(*) FROM agents WHERE {where}", params
                ).fetchone()[0]
        else:
            total = self.count_in_states(window)
        rows = self.page_rows(window, from_seq=from_seq, limit=limit)
        return int(total), rows

    def materialise_states(self, app_id: str, now: float) -> None:
        """Bring `state_code` of every agent of `app_id` to its status at `now`.

        Only the agents whose status may have changed are rewritten: those written since
        (`save` sets `state_until` to -1e300) and those a time-driven transition reached
        (`state_until` <= `now`), found with the index `agents_state_due`, so the work is the
        number of due agents. Triggers keep `state_count` (agents per App ID and code) current.
        If the clock went back since the last call (`state_mark`), every agent is due, once.
        """
        params = {"app": app_id, "now": now}
        with self.transaction():
            mark = self._conn.execute(
                "SELECT at FROM state_mark WHERE app_id = ?", (app_id,)
            ).fetchone()
            if mark is not None and now < mark[0]:
                self._conn.execute(
                    "UPDATE agents SET state_until = -1e300 WHERE app_id = ?", (app_id,)
                )
            self._conn.execute(
                f"UPDATE agents SET state_code = {STATUS_CODE_SQL},"
                f" state_until = {_STATE_UNTIL_SQL}"
                " WHERE app_id = :app AND state_until <= :now",
                params,
            )
            self._conn.execute(
                "INSERT INTO state_mark (app_id, at) VALUES (:app, :now)"
                " ON CONFLICT (app_id) DO UPDATE SET at = excluded.at",
                params,
            )

    def count_in_states(self, window: ListWindow) -> int:
        """The total of a list filtered by status (`list_page`'s filter, counted).

        The statuses are materialised first (`materialise_states`: work per due agent). Then,
        for active statuses without a channel, the kept count per code less the agents of those
        codes created outside [from_time, to_time] (index `agents_state`: work per agent
        outside the window, none when the window holds them all, as the default 2 hours does
        for a fleet younger than that). An active agent is never hidden by the retention
        (`terminal_at` > `now`). Otherwise (a channel, or STOPPED/FAILED, whose retention is
        checked agent by agent) the matching agents are counted through the same index.
        """
        app_id, now = window.app_id, window.now
        codes = sorted({int(code) for code in window.states or ()})
        if not codes or window.from_time > window.to_time:  # (the sides outside would overlap)
            return 0
        marks = ", ".join("?" for _ in codes)
        with self.transaction():
            self.materialise_states(app_id, now)
            if (
                window.channel is None
                and window.retention_s >= 0
                and _ENDED_CODES.isdisjoint(codes)
            ):
                kept = self._conn.execute(
                    f"SELECT coalesce(SUM(n), 0) FROM state_count"
                    f" WHERE app_id = ? AND code IN ({marks})",
                    (app_id, *codes),
                ).fetchone()[0]
                side = (
                    f"SELECT COUNT(*) FROM agents INDEXED BY agents_state"
                    f" WHERE app_id = ? AND state_code IN ({marks}) AND created_at"
                )
                outside = self._conn.execute(
                    f"SELECT ({side} < ?) + ({side} > ?)",
                    (app_id, *codes, window.from_time, app_id, *codes, window.to_time),
                ).fetchone()[0]
                return int(kept) - int(outside)
            where, params = _list_filter(replace(window, states=None))
            codes_sql = ", ".join(str(code) for code in codes)
            counted = self._conn.execute(
                f"SELECT COUNT(*) FROM agents INDEXED BY agents_state"
                f" WHERE {where} AND state_code IN ({codes_sql})",
                params,
            ).fetchone()[0]
        return int(counted)

    def page_rows(
        self, window: ListWindow, *, from_seq: int, limit: int
    ) -> list[tuple[str, float, int]]:
        """The rows of `list_page` without the total.

        Read in sequence order from `from_seq` (index `agents_seq`) and stopped after `limit`
        + 1 matches: a page costs what it returns, not what the App ID holds. (The total of
        `list_page` without a state filter is one COUNT inside SQLite over the window's index
        range: linear, in C, about 0.2 µs an agent; with one, see `count_in_states`.)
        """
        where, params = _list_filter(window)
        params.update(seq=from_seq, limit=limit + 1)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT agent_id, created_at, {STATUS_CODE_SQL} FROM agents INDEXED BY agents_seq"
                f" WHERE {where} AND seq >= :seq ORDER BY seq LIMIT :limit",
                params,
            ).fetchall()
        return [(str(r[0]), float(r[1]), int(r[2])) for r in rows]

    def lifecycle_between(
        self, after: float, upto: float, token_lead: float
    ) -> list[tuple[str, str, float, float, float | None]]:
        """Agents (every App ID) that start running, end, or reach `token_lead` seconds before
        their token's expiry within (after, upto] (for notifications), in creation order:
        `(app_id, agent_id, running_at, terminal_at, token_expires_at)`."""
        # One indexed range query per instant (`_LIFECYCLE_INDEXES`), so a sweep reads the
        # agents whose instants fall in the range, not every agent. The token's range is
        # widened by a second for the index and then checked exactly.
        with self._lock:
            if not self._lifecycle_indexed:
                for statement in _LIFECYCLE_INDEXES:
                    self._conn.execute(statement)
                self._lifecycle_indexed = True
            rows = self._conn.execute(
                "SELECT app_id, agent_id, running_at, terminal_at, token_expires_at FROM agents"
                " WHERE seq IN ("
                " SELECT seq FROM agents WHERE running_at > :after AND running_at <= :upto"
                " UNION SELECT seq FROM agents WHERE terminal_at > :after AND terminal_at <= :upto"
                " UNION SELECT seq FROM agents"
                " WHERE token_expires_at > :after + :lead - 1.0"
                " AND token_expires_at <= :upto + :lead + 1.0"
                " AND token_expires_at - :lead > :after AND token_expires_at - :lead <= :upto"
                ") ORDER BY seq",
                {"after": after, "upto": upto, "lead": token_lead},
            ).fetchall()
        return [(str(r[0]), str(r[1]), float(r[2]), float(r[3]), r[4]) for r in rows]

    def all(self, app_id: str | None = None) -> list[AgentRecord]:
        """Every agent (of one App ID, or of all), in creation order."""
        if app_id is None:
            return self._query("SELECT * FROM agents ORDER BY seq")
        return self._query("SELECT * FROM agents WHERE app_id = ? ORDER BY seq", (app_id,))

    # -- channels and presence -------------------------------------------------------------

    def present_uids(self, app_id: str, channel: str) -> list[str]:
        """The remote users present in `channel` of `app_id` (including those of App ID `*`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT uid FROM presence WHERE channel = ? AND app_id IN (?, '*')"
                " ORDER BY uid",
                (channel, app_id),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def add_present(self, app_id: str, channel: str, uids: list[str], now: float) -> None:
        """Mark users present in a channel (`app_id` `*`: in that channel of every App ID)."""
        with self._lock:
            self._conn.executemany(
                "INSERT OR IGNORE INTO presence (app_id, channel, uid, joined_at)"
                " VALUES (?, ?, ?, ?)",
                [(app_id, channel, uid, now) for uid in uids],
            )

    def remove_present(self, app_id: str | None, channel: str, uids: list[str] | None) -> None:
        """Users leave a channel (of one App ID, or of all when None; every user when None)."""
        sql = "DELETE FROM presence WHERE channel = ?"
        params: tuple[Any, ...] = (channel,)
        if app_id is not None:
            sql += " AND app_id IN (?, '*')"
            params += (app_id,)
        with self._lock:
            if uids is None:
                self._conn.execute(sql, params)
            else:
                self._conn.executemany(sql + " AND uid = ?", [(*params, uid) for uid in uids])

    def channel_apps(self, channel: str) -> list[str]:
        """The App IDs that have agents (of any status) in `channel`."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT app_id FROM channels WHERE channel = ? ORDER BY app_id",
                (channel,),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def mark_channel(self, app_id: str, channel: str, now: float) -> bool:
        """Remember that an agent joined `channel`; True when the channel was new."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO channels (app_id, channel, first_seen) VALUES (?, ?, ?)",
                (app_id, channel, now),
            )
        return cur.rowcount > 0

    def reset(self) -> None:
        """Delete every agent, channel, presence and meta value except the schema version."""
        with self.transaction():
            self._conn.execute("DELETE FROM agents")
            self._conn.execute("DELETE FROM active_count")
            self._conn.execute("DELETE FROM state_count")
            self._conn.execute("DELETE FROM state_mark")
            self._conn.execute("DELETE FROM presence")
            self._conn.execute("DELETE FROM channels")
            for table in self._extra_tables:
                self._conn.execute(f"DELETE FROM {table}")
            self._conn.execute("DELETE FROM meta WHERE key != 'schema_version'")
