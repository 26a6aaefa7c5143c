"""The PostgreSQL state backend: one session shared by the store and the lock of a project.

Imported only when ``state:`` is a ``postgresql://`` URL (see
:func:`reconciler.state.backend.open_backend`).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.models.settings import Settings
from reconciler.state.binding import StateBinding
from reconciler.state.heldlock import refuse_if_read_only
from reconciler.state.holder import LockInfo
from reconciler.state.postgres.lock import PostgresStateLock, force_unlock_postgres
from reconciler.state.postgres.session import PgSession
from reconciler.state.postgres.store import PostgresStateStore

__all__ = ["PostgresBackend"]


class PostgresBackend:
    """The store, lock and ``force-unlock`` of one state key in one database."""

    def __init__(
        self, settings: Settings, environ: Mapping[str, str], *, read_only: bool = False
    ) -> None:
        password = settings.state_password
        self.read_only = read_only
        """Opened for a read-only command: the lock is refused and the session is read-only
        (see :func:`~reconciler.state.backend.open_backend`)."""
        self.session = PgSession(
            settings.state,
            None if password is None else password.get_secret_value(),
            settings.effective_state_key,
            settings.state_shown,
            environ,
            {k: v.get_secret_value() for k, v in settings.state_secret_params.items()},
            read_only=read_only,
        )
        self._store = PostgresStateStore(self.session, StateBinding.of(settings))

    def __repr__(self) -> str:
        return f"PostgresBackend({self.session!r})"

    @property
    def store(self) -> PostgresStateStore:
        return self._store

    def lock(self, command: str, timeout: float) -> PostgresStateLock:
        refuse_if_read_only(command, self.read_only)
        return PostgresStateLock(self.session, timeout=timeout, command=command)

    def force_unlock(self, lock_id: str) -> LockInfo:
        return force_unlock_postgres(self.session, lock_id)
