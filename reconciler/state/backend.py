"""Choosing the state backend from the settings: a local file or a PostgreSQL database.

:func:`open_backend` gives a :class:`StateBackend`: the store every command reads and writes
through, a factory for the lock that serialises writers, and ``force-unlock``. The local backend
(``state: state/agents.json``) is :class:`~reconciler.state.store.LocalStateStore` with
:class:`~reconciler.state.lock.StateLock`; a ``postgresql://`` URL gives the PostgreSQL backend,
whose modules (and ``psycopg``) are imported only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from reconciler.errors import SettingsError
from reconciler.models.settings import Settings
from reconciler.models.state import StateDoc
from reconciler.state.binding import StateBinding
from reconciler.state.holder import LockInfo
from reconciler.state.lock import StateLock, force_unlock
from reconciler.state.store import LOG_FROM_BYTES, LocalStateStore

LOG_FROM_ENV = "RECONCILER_STATE_LOG_FROM_BYTES"

__all__ = ["LocalBackend", "StateBackend", "StateLocker", "StateStore", "open_backend"]


class StateStore(Protocol):
    """What every state store does (see :class:`~reconciler.state.store.LocalStateStore`)."""

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


class LocalBackend:
    """``state/agents.json`` and its OS lock."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self.path = settings.state_path
        self._store = LocalStateStore(
            self.path, log_from_bytes=log_threshold(environ), binding=StateBinding.of(settings)
        )

    @property
    def store(self) -> LocalStateStore:
        return self._store

    def lock(self, command: str, timeout: float) -> StateLock:
        return StateLock(self.path, timeout=timeout, command=command)

    def force_unlock(self, lock_id: str) -> LockInfo:
        return force_unlock(self.path, lock_id)


def open_backend(settings: Settings, environ: Mapping[str, str]) -> StateBackend:
    """The backend ``settings.state`` names (nothing is opened or connected yet)."""
    if settings.state_is_database:
        from reconciler.state.pgbackend import PostgresBackend

        return PostgresBackend(settings, environ)
    return LocalBackend(settings, environ)


def log_threshold(environ: Mapping[str, str]) -> int:
    """The state file size from which an apply writes through the write log: the environment's
    ``RECONCILER_STATE_LOG_FROM_BYTES`` (a tuning knob), else :data:`LOG_FROM_BYTES`."""
    text = environ.get(LOG_FROM_ENV, "").strip()
    if not text:
        return LOG_FROM_BYTES
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{LOG_FROM_ENV}={text!r}: expected a number of bytes (0 or more)")
    return value
