"""The local state backend: ``state/agents.json`` with its OS lock.

:class:`LocalBackend` is what :func:`~reconciler.state.backend.open_backend` gives for a
``state:`` that names a file: the :class:`~reconciler.state.local.store.LocalStateStore` of that
file, the :class:`~reconciler.state.local.lock.StateLock` beside it, and its ``force-unlock``.
:func:`log_threshold` reads the tuning knob of the store's write log from the environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.errors import SettingsError
from reconciler.models.settings import Settings
from reconciler.state.binding import StateBinding
from reconciler.state.heldlock import refuse_if_read_only
from reconciler.state.holder import LockInfo
from reconciler.state.local.lock import StateLock, force_unlock
from reconciler.state.local.store import LOG_FROM_BYTES, LocalStateStore

LOG_FROM_ENV = "RECONCILER_STATE_LOG_FROM_BYTES"

__all__ = ["LOG_FROM_ENV", "LocalBackend", "log_threshold"]


class LocalBackend:
    """``state/agents.json`` and its OS lock."""

    def __init__(
        self, settings: Settings, environ: Mapping[str, str], *, read_only: bool = False
    ) -> None:
        self.path = settings.state_path
        self.read_only = read_only
        """Opened for a read-only command: the lock is refused (see
        :func:`~reconciler.state.backend.open_backend`)."""
        self._store = LocalStateStore(
            self.path, log_from_bytes=log_threshold(environ), binding=StateBinding.of(settings)
        )

    @property
    def store(self) -> LocalStateStore:
        return self._store

    def lock(self, command: str, timeout: float) -> StateLock:
        refuse_if_read_only(command, self.read_only)
        return StateLock(self.path, timeout=timeout, command=command)

    def force_unlock(self, lock_id: str) -> LockInfo:
        return force_unlock(self.path, lock_id)


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
