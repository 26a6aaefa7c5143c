"""One database session of the PostgreSQL state backend: connecting, the schema, clean errors.

A :class:`PgSession` opens its connection on first use (``psycopg`` is imported only then, so
commands on the local backend never load it), reads the schema version without writing anything
(:meth:`PgSession.has_tables`: a database without the tables holds no state yet), creates or
migrates the tables only for a writer (:meth:`PgSession.ensure_tables`; see
:mod:`reconciler.state.postgres.schema`), and turns every database failure into a
:class:`~reconciler.errors.StateError` whose message holds no secret: libpq messages may echo
connection parameters, so every secret of the connection (the password, ``PGPASSWORD``, the
secret parameters such as ``sslpassword``, in any encoding and any ``name=value`` form) is masked
by :func:`reconciler.models.stateurl.mask_connection_text`.

The store and the lock of a project share the session: the advisory lock belongs to the
connection, so when that connection is lost while the lock is held, the session refuses to open a
new one (which would write without the lock) and every later write fails.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import StateError
from reconciler.models.stateurl import mask_connection_text, split_postgres_url, tls_defaults

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgSession"]

CONNECT_TIMEOUT_S = 10
CONNECTION_DEFAULTS = {
    "connect_timeout": str(CONNECT_TIMEOUT_S),
    "application_name": "reconciler",
    # A server host that vanishes (no reset) would leave a query waiting until the system's
    # keepalive, after 2 hours: probes after 30 s idle, 3 unanswered 10 s apart, end the
    # session, and so does data unacknowledged for 60 s. The run then stops as for any lost
    # connection (its lock went with the session).
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}
"""Connection parameters of every state session, each unless the URL sets it."""
_PARAMETER_ENV = {"connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}


class PgSession:
    """A lazily opened connection to the state database, shared by the store and the lock."""

    def __init__(
        self,
        url: str,
        password: str | None,
        state_key: str,
        shown: str,
        environ: Mapping[str, str],
        secret_params: Mapping[str, str] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.read_only = read_only
        """Every transaction of the connection is read-only (``default_transaction_read_only``):
        the database refuses any write of a read-only command."""
        self.state_key = state_key
        self.shown = shown
        """The URL as shown to people (secrets masked)."""
        self._password = password
        self._secret_params = dict(secret_params or {})
        split = split_postgres_url(url)
        self._params: dict[str, str] = {
            key: value
            for key, value in CONNECTION_DEFAULTS.items()
            if key not in split.query and not environ.get(_PARAMETER_ENV.get(key, ""))
        }
        self._params.update(tls_defaults(split, environ))
        self._secrets = [
            s for s in (password, environ.get("PGPASSWORD"), *self._secret_params.values()) if s
        ]
        self._conn: psycopg.Connection[Any] | None = None
        self._version = 0
        """The schema version last read or made (0: no tables when last looked)."""
        self._guard = threading.RLock()
        self.lock_held = False
        """Set by the lock while it holds the advisory lock on this session's connection."""

    def __repr__(self) -> str:
        return f"PgSession({self.shown!r}, state_key={self.state_key!r})"

    def scrub(self, text: str) -> str:
        """``text`` without any secret of the connection (see the module docstring)."""
        return mask_connection_text(text, self._secrets)

    def failure(self, doing: str, exc: BaseException) -> StateError:
        """A clean, password-free error for a database failure while ``doing`` something."""
        detail = " ".join(str(exc).split()) or type(exc).__name__
        conn = self._conn
        if self.lock_held and (conn is None or conn.broken or conn.closed):
            return self._lost_lock(f" ({self.scrub(detail)})")
        return StateError(
            f"state database {self.shown} (state key {self.state_key}): cannot {doing}: "
            f"{self.scrub(detail)}"
        )

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection (opened, and the schema checked, on first use)."""
        with self._guard:
            conn = self._conn
            if conn is not None and not conn.closed and not conn.broken:
                return conn
            if self.lock_held:
                raise self._lost_lock("")
            self._conn = self._open()
            return self._conn

    def has_tables(self) -> bool:
        """Whether the state tables exist, read without writing (no tables: no state yet).

        A schema older than this reconciler reads (:data:`~reconciler.state.postgres.schema.
        OLDEST_READABLE`) is refused here: only a writing command may migrate it.
        """
        from reconciler.state.postgres.schema import (
            OLDEST_READABLE,
            check_not_newer,
            schema_version,
        )

        with self._guard:
            conn = self.connection()
            if self._version == 0:  # looked again: another run may have made them meanwhile
                try:
                    self._version = schema_version(conn)
                except _psycopg_error() as exc:
                    raise self.failure("read the state", exc) from None
                check_not_newer(self._version, self.shown)
            if 0 < self._version < OLDEST_READABLE:
                raise StateError(
                    f"the state database {self.shown} has schema version {self._version}, older "
                    f"than this reconciler reads ({OLDEST_READABLE}); a command that writes the "
                    "state (apply) upgrades it"
                )
            return self._version > 0

    @property
    def schema(self) -> int:
        """The schema version of the database as last read (0: no tables yet)."""
        return self._version

    def ensure_tables(self) -> None:
        """Create or migrate the state tables (DDL): for commands that write the state."""
        from reconciler.state.postgres.schema import SCHEMA_VERSION, ensure_schema

        with self._guard:
            conn = self.connection()
            if self._version == SCHEMA_VERSION:
                return
            try:
                ensure_schema(conn, self.shown)
            except _psycopg_error() as exc:
                raise self.failure("set up its tables", exc) from None
            self._version = SCHEMA_VERSION

    def _lost_lock(self, detail: str) -> StateError:
        return StateError(
            f"lost the connection to the state database {self.shown} that held the state "
            f"lock{detail}; stopped so as not to write without the lock (the state holds every "
            "step recorded so far; run the command again)"
        )

    def _open(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a declared dependency
            raise StateError(
                "a postgresql:// state needs the psycopg package: pip install 'psycopg[binary]'"
            ) from None
        from reconciler.state.postgres.schema import check_not_newer, schema_version

        _quiet_psycopg()
        params: dict[str, Any] = dict(self._params)
        params.update(self._secret_params)
        if self._password is not None:
            params["password"] = self._password
        try:
            conn = psycopg.connect(self.url, autocommit=True, **params)
        except psycopg.Error as exc:
            raise self.failure("connect", exc) from None
        try:
            if self.read_only:
                conn.execute("SET SESSION default_transaction_read_only = on")
            self._version = schema_version(conn)
            check_not_newer(self._version, self.shown)
        except psycopg.Error as exc:
            conn.close()
            raise self.failure("read the state", exc) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close the connection (a later use opens a new one unless the lock was lost)."""
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                conn.close()

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            with contextlib.suppress(Exception):  # at shutdown anything may be gone
                conn.close()


def _quiet_psycopg() -> None:
    """Keep the log records of psycopg (and of its child loggers) off stderr: logging's last
    resort would print them (``error ignored terminating <Pipeline>`` when a lost connection ends
    a write), unmasked and beside the :class:`StateError` that already reports that failure
    without a secret."""
    logger = logging.getLogger("psycopg")
    if logger.propagate or not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error
