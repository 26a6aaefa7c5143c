"""What a state backend is, and choosing one from the settings: a local file or a database.

:func:`open_backend` gives a :class:`StateBackend`: the store every command reads and writes
through (:class:`StateStore`), a factory for the lock that serialises writers
(:class:`StateLocker`), and ``force-unlock``. Each backend is a package below this one: the local
backend (``state: state/agents.json``, :mod:`reconciler.state.local`) and the PostgreSQL backend
(a ``postgresql://`` URL, :mod:`reconciler.state.postgres`), whose modules (and ``psycopg``) are
imported only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from reconciler.models.settings import Settings
from reconciler.models.state import StateDoc
from reconciler.state.binding import StateBinding
from reconciler.state.holder import LockInfo
from reconciler.state.local.backend import LocalBackend

__all__ = ["StateBackend", "StateLocker", "StateStore", "open_backend"]


class StateStore(Protocol):
    """What every state store does (see :class:`~reconciler.state.local.store.LocalStateStore`)."""

    binding: StateBinding | None
    """The App ID and engine its state must belong to (see :mod:`reconciler.state.binding`)."""

    @property
    def where(self) -> str: ...

    @property
    def exists(self) -> bool: ...

    def load(self) -> StateDoc: ...

    def write(self, doc: StateDoc) -> StateDoc: ...

    def write_log(self) -> AbstractContextManager[None]:
        """Within: writes may go to a log folded into the state when it ends (apply)."""
        ...

    def replace(self, doc: StateDoc) -> StateDoc: ...


class StateLocker(AbstractContextManager[LockInfo], Protocol):
    """A state lock: ``with lock as info:`` holds it (raises ``LockHeldError`` when refused)."""

    @property
    def held(self) -> bool: ...

    def acquire(self, timeout: float = 0.0, command: str = "") -> LockInfo: ...

    def check(self) -> None:
        """Raise ``StateError`` unless the lock is still held (a lost database session)."""
        ...

    def release(self) -> None: ...


class StateBackend(Protocol):
    """A store, its lock, and ``force-unlock``."""

    @property
    def store(self) -> StateStore: ...

    def lock(self, command: str, timeout: float) -> StateLocker: ...

    def force_unlock(self, lock_id: str) -> LockInfo: ...


def open_backend(
    settings: Settings, environ: Mapping[str, str], *, read_only: bool = False
) -> StateBackend:
    """The backend ``settings.state`` names (nothing is opened or connected yet).

    ``read_only`` (a read-only command): its lock is refused (every write takes it first), and
    a database session is read-only (``default_transaction_read_only``), so that the database
    itself refuses any write.
    """
    if settings.state_is_database:
        from reconciler.state.postgres.backend import PostgresBackend

        return PostgresBackend(settings, environ, read_only=read_only)
    return LocalBackend(settings, environ, read_only=read_only)
