"""The tables of the PostgreSQL state backend, created on first use and migrated by version.

``reconciler_schema`` holds one row: the schema version. Opening a session reads it
(:func:`schema_version`, a query that writes nothing); a version newer than this tool knows is a
:class:`~reconciler.errors.StateError`. Only a command that writes the state creates or migrates
the tables (:func:`ensure_schema`): when the version is older than :data:`SCHEMA_VERSION` the
missing migrations of :data:`MIGRATIONS` run in order, in one transaction under a
transaction-scoped advisory lock (so two first runs cannot both create the tables). A command that
only reads never runs DDL: a database without the tables holds no state yet, and a role that may
only read (``SELECT``, no ``CREATE``) can run every read-only command.

Version 1:

* ``reconciler_states``: one header row per state key (lineage, serial, salt, document version);
* ``reconciler_records``: one row per agent record, keyed by ``(state_key, name)``;
* ``reconciler_pending``: one row per journal entry, keyed by ``(state_key, id)``, ordered by
  ``position``;
* ``reconciler_locks``: who holds the lock of a state key (the lock itself is an advisory lock).

Version 2 adds ``app_id`` and ``engine`` to ``reconciler_states`` (null in a state written
before: it takes the project's at its next write; see :mod:`reconciler.state.binding`).

Version 3 adds ``reconciler_resources``: one row per resource of a kind other than ``Agent``
(section ``resource``) and per write-ahead entry of a resource's create (section ``creating``),
keyed by ``(state_key, section, address)``.

Version 4 adds ``environment`` to ``reconciler_states``: the name of the environment the state
belongs to (null for a project without environments, and in a state written before: it takes
the project's at its next write; see :mod:`reconciler.state.binding`). A read-only command on a
version 3 database reads it as null.

Records and entries are ``json`` (not ``jsonb``): the text is kept exactly as written, and every
string the models allow, ``\\u0000`` included, is accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.errors import StateError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS",
    "OLDEST_READABLE",
    "SCHEMA_VERSION",
    "check_not_newer",
    "ensure_schema",
    "schema_version",
]

SCHEMA_VERSION = 4
OLDEST_READABLE = 1
"""The oldest schema a read-only command reads as it is (version 1: no ``app_id``/``engine``
columns, and before version 4 no ``environment`` column, read as null); an older one must first
be migrated by a command that writes."""
_MIGRATION_LOCK = 0x5245434F4E43  # "RECONC": serialises schema creation across processes

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE reconciler_states (
            state_key text PRIMARY KEY,
            version integer NOT NULL,
            lineage text NOT NULL,
            serial bigint NOT NULL,
            salt text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE reconciler_records (
            state_key text NOT NULL REFERENCES reconciler_states ON DELETE CASCADE
                DEFERRABLE INITIALLY DEFERRED,
            name text NOT NULL,
            record json NOT NULL,
            PRIMARY KEY (state_key, name)
        )""",
        """CREATE TABLE reconciler_pending (
            state_key text NOT NULL REFERENCES reconciler_states ON DELETE CASCADE
                DEFERRABLE INITIALLY DEFERRED,
            id text NOT NULL,
            position bigint NOT NULL,
            entry json NOT NULL,
            PRIMARY KEY (state_key, id)
        )""",
        """CREATE TABLE reconciler_locks (
            state_key text PRIMARY KEY,
            lock_id text NOT NULL,
            who text NOT NULL,
            pid integer NOT NULL,
            command text NOT NULL,
            started_at text NOT NULL,
            ci_run text,
            backend_pid integer NOT NULL
        )""",
    ),
    2: ("ALTER TABLE reconciler_states ADD COLUMN app_id text, ADD COLUMN engine text",),
    3: (
        """CREATE TABLE reconciler_resources (
            state_key text NOT NULL REFERENCES reconciler_states ON DELETE CASCADE
                DEFERRABLE INITIALLY DEFERRED,
            section text NOT NULL,
            address text NOT NULL,
            body json NOT NULL,
            PRIMARY KEY (state_key, section, address)
        )""",
    ),
    4: ("ALTER TABLE reconciler_states ADD COLUMN environment text",),
}
"""The statements that bring the schema from version ``n - 1`` to ``n``."""


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0: no tables yet), read without writing anything."""
    row = conn.execute("SELECT to_regclass('reconciler_schema') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    version = conn.execute("SELECT max(version) FROM reconciler_schema").fetchone()
    return int(version[0]) if version is not None and version[0] is not None else 0


def check_not_newer(version: int, shown: str) -> None:
    """Refuse a schema made by a newer reconciler (:class:`StateError`)."""
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {shown} has schema version {version}, made by a newer "
            f"reconciler (this one knows up to version {SCHEMA_VERSION}); upgrade reconciler"
        )


def ensure_schema(conn: psycopg.Connection[Any], shown: str) -> None:
    """Create or migrate the tables to :data:`SCHEMA_VERSION`; refuse a newer schema.

    DDL: only for a command that writes the state.
    """
    version = schema_version(conn)
    check_not_newer(version, shown)
    if version == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS reconciler_schema (version integer NOT NULL)",
        )
        version = schema_version(conn)  # another process may have migrated meanwhile
        check_not_newer(version, shown)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute("DELETE FROM reconciler_schema")
            conn.execute("INSERT INTO reconciler_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
