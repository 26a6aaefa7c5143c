"""The state lock of the PostgreSQL backend: a session advisory lock, and who holds it in a table.

:class:`PostgresStateLock` takes ``pg_try_advisory_lock(k)`` on the session the store writes
through, with ``k`` a 64-bit hash of the state key. The server releases an advisory lock when its
session ends, so a CI job killed mid-apply (or whose connection dies) never blocks the next one.
After locking, the holder writes a :class:`~reconciler.state.holder.LockInfo` row (id, user@host,
pid, command, start time, CI run, and its server backend pid) into ``reconciler_locks``; a refused
acquirer reads it, checks against ``pg_locks`` that it belongs to the session that holds the lock
now (a row left by a killed holder is stale), and names the holder in its
:class:`~reconciler.errors.LockHeldError` (exit 3). ``timeout`` polls until the lock is free.

:func:`force_unlock_postgres` is for a holder that hangs with its session open (a stuck CI runner):
when the id matches, it ends that session with ``pg_terminate_backend``, which releases the lock;
when the lock is already free it only deletes the stale holder row.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.errors import LockHeldError, StateError
from reconciler.state.heldlock import HeldLock
from reconciler.state.holder import LockInfo
from reconciler.state.lockwait import Busy, wait_for_lock
from reconciler.state.postgres.session import PgSession

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStateLock", "advisory_key", "force_unlock_postgres"]

POLL_INTERVAL_S = 0.2

_HOLDER_COLUMNS = "lock_id, who, pid, command, started_at, ci_run, backend_pid"


def advisory_key(state_key: str) -> int:
    """The advisory lock key of a state key: the first 8 bytes of its SHA-256, signed."""
    digest = hashlib.sha256(b"reconciler-state:" + state_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder_pid(conn: psycopg.Connection[Any], key: int) -> int | None:
    """The backend pid of the session holding the advisory lock ``key`` now, if any."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = %s::text::oid AND objid = %s::text::oid AND objsubid = 1",
        (str(unsigned >> 32), str(unsigned & 0xFFFFFFFF)),
    ).fetchone()
    return None if row is None else int(row[0])


def _holder_row(conn: psycopg.Connection[Any], state_key: str) -> tuple[LockInfo, int] | None:
    row = conn.execute(
        f"SELECT {_HOLDER_COLUMNS} FROM reconciler_locks WHERE state_key = %s", (state_key,)
    ).fetchone()
    if row is None:
        return None
    lock_id, user_host, pid, command, started_at, ci_run, backend_pid = row
    info = LockInfo(
        id=lock_id,
        who=user_host,
        pid=pid,
        command=command,
        started_at=started_at,
        ci_run=ci_run,
    )
    return info, int(backend_pid)


def _held_message(session: PgSession, info: LockInfo | None, backend_pid: int | None) -> str:
    where = f"state key {session.state_key!r} in {session.shown}"
    if info is None:
        return (
            f"{where} is locked by database session {backend_pid} (no holder recorded); wait "
            "with --lock-timeout"
        )
    return (
        f"{where} is locked by {info.describe()}, lock id {info.id}; wait with --lock-timeout, "
        f"or, if that run is stuck, `reconciler force-unlock {info.id}` ends its database session"
    )


class PostgresStateLock(HeldLock):
    """The lock of one state key, held on the session of a :class:`PgSession`."""

    def __init__(self, session: PgSession, *, timeout: float = 0.0, command: str = "") -> None:
        super().__init__(timeout=timeout, command=command)
        self.session = session
        self.key = advisory_key(session.state_key)

    def __repr__(self) -> str:
        return f"PostgresStateLock({self.session!r}, {'held' if self.held else 'free'})"

    def _take(self, timeout: float, holder: Callable[[], LockInfo]) -> LockInfo:
        import psycopg

        self.session.ensure_tables()  # the lock is taken to write: a writer creates the tables
        conn = self.session.connection()

        def attempt() -> bool | Busy:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row is not None and row[0]:
                return True
            return Busy(describe=lambda: self._describe(conn))

        try:
            wait_for_lock(
                attempt,
                timeout=timeout,
                interval=POLL_INTERVAL_S,
                min_sleep=0.05,
            )
            self.session.lock_held = True
            info = holder()
            conn.execute(
                f"INSERT INTO reconciler_locks (state_key, {_HOLDER_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) "
                "ON CONFLICT (state_key) DO UPDATE SET lock_id = EXCLUDED.lock_id, "
                "who = EXCLUDED.who, pid = EXCLUDED.pid, command = EXCLUDED.command, "
                "started_at = EXCLUDED.started_at, ci_run = EXCLUDED.ci_run, "
                "backend_pid = EXCLUDED.backend_pid",
                (
                    self.session.state_key,
                    info.id,
                    info.who,
                    info.pid,
                    info.command,
                    info.started_at,
                    info.ci_run,
                ),
            )
        except psycopg.Error as exc:
            self.session.lock_held = False
            self.session.close()
            raise self.session.failure("take the state lock", exc) from None
        return info

    def _describe(self, conn: psycopg.Connection[Any]) -> tuple[bool, str]:
        info, backend_pid = self._current_holder(conn)
        return info is not None, _held_message(self.session, info, backend_pid)

    def _current_holder(self, conn: psycopg.Connection[Any]) -> tuple[LockInfo | None, int | None]:
        backend_pid = _holder_pid(conn, self.key)
        found = _holder_row(conn, self.session.state_key)
        if found is not None and backend_pid is not None and found[1] == backend_pid:
            return found[0], backend_pid
        return None, backend_pid

    def check(self) -> None:
        """Make sure the lock is still held: a round trip on its session, asking the server
        which session holds the advisory lock. Raises :class:`StateError` when the connection
        is lost or the lock is no longer this session's (the lock is then gone)."""
        if self._info is None:
            raise StateError(f"the state lock of state key {self.session.state_key!r} is not held")
        import psycopg

        try:
            conn = self.session.connection()
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            holder = _holder_pid(conn, self.key)
        except psycopg.Error as exc:
            raise self.session.failure("check the state lock", exc) from None
        if row is None or holder != int(row[0]):
            raise StateError(
                f"the state lock of state key {self.session.state_key!r} in "
                f"{self.session.shown} is no longer held by this session"
            )

    def release(self) -> None:
        """Delete the holder row, release the lock and close the session's connection."""
        info, self._info = self._info, None
        if info is None:
            return
        import psycopg

        try:
            conn = self.session.connection()
            conn.execute(
                "DELETE FROM reconciler_locks WHERE state_key = %s AND lock_id = %s",
                (self.session.state_key, info.id),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except (psycopg.Error, StateError):
            pass  # the session is gone, and the server released the lock with it
        finally:
            self.session.lock_held = False
            self.session.close()

    def _refused(self) -> None:
        self.session.close()


def force_unlock_postgres(session: PgSession, lock_id: str, wait_s: float = 10.0) -> LockInfo:
    """Remove the lock ``lock_id`` of the session's state key; return who held it.

    * No holder recorded, or another id: :class:`StateError` (nothing changed).
    * Lock free (the holder died): the stale holder row is deleted.
    * Lock held by the recorded session: that session is ended (``pg_terminate_backend``),
      which releases the lock, and the row is deleted.
    """
    import psycopg

    key = advisory_key(session.state_key)
    where = f"state key {session.state_key!r} in {session.shown}"
    try:
        conn = session.connection()
        found = _holder_row(conn, session.state_key) if session.has_tables() else None
        if found is None:
            raise StateError(f"{where} is not locked (no holder recorded)")
        info, backend_pid = found
        if info.id != lock_id:
            raise StateError(
                f"lock id {lock_id} does not match the current lock of {where} ({info.id}, held "
                f"by {info.describe()}); nothing was unlocked"
            )
        holder = _holder_pid(conn, key)
        if holder is not None and holder != backend_pid:
            raise LockHeldError(
                f"the lock changed hands: {_held_message(session, None, holder)}; nothing was "
                "unlocked"
            )
        if holder is not None:
            row = conn.execute("SELECT pg_terminate_backend(%s)", (holder,)).fetchone()
            if row is None or not row[0]:
                raise StateError(f"could not end the database session {holder} holding {where}")
            deadline = time.monotonic() + wait_s
            while _holder_pid(conn, key) == holder and time.monotonic() < deadline:
                time.sleep(0.05)
        conn.execute(
            "DELETE FROM reconciler_locks WHERE state_key = %s AND lock_id = %s",
            (session.state_key, lock_id),
        )
    except psycopg.Error as exc:
        raise session.failure("remove the state lock", exc) from None
    finally:
        session.close()
    return info
