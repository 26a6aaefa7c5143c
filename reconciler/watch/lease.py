"""The lease: which replica of ``watch`` may act on a project's state.

The lease is the state lock itself, held for as long as this replica leads, so ``apply`` by a
person and ``watch`` exclude each other exactly as two applies do.

* **Local state** (one replica): the file lock. A second ``watch`` (or an ``apply``) is refused
  at once; :meth:`Lease.try_acquire` raises :class:`~reconciler.errors.LockHeldError` (exit 3).
* **PostgreSQL state** (high availability): the session advisory lock of the state key. A
  refused replica is a standby and tries again on its next poll. The server drops the lock
  when the leader's session ends (the process died, its connection was cut), so a standby
  takes over on its next poll. A leader whose connection is lost cannot write any more (the
  session refuses to reconnect while it holds the lock, and every write is a compare-and-set on
  the state serial), so it steps down: :meth:`Lease.lost` releases what is left and the replica
  competes again once the database answers. Each state key has its own advisory lock, so the
  projects sharing one database are led independently.
"""

from __future__ import annotations

from reconciler.errors import LockHeldError
from reconciler.project import Project
from reconciler.state import StateLocker

__all__ = ["Lease"]

COMMAND = "watch"


class Lease:
    """The state lock of ``project``, taken without waiting and held until released."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.shared = project.settings.state_is_database
        """Whether other replicas may compete (PostgreSQL state): a refusal then means standby."""
        self._lock: StateLocker | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.held

    def try_acquire(self) -> bool:
        """Take the lease if free: True when held; False when another replica holds it.

        Raises ``LockHeldError`` for local state (no standby there), and ``StateError`` when
        the state cannot be reached.
        """
        if self.held:
            return True
        lock = self.project.lock(COMMAND, 0.0)
        try:
            lock.acquire(0.0, COMMAND)
        except LockHeldError:
            if not self.shared:
                raise
            return False
        self._lock = lock
        return True

    def check(self) -> None:
        """Raise ``StateError`` if the lease was held and is gone (its database session died)."""
        if self._lock is not None:
            self._lock.check()

    def lost(self) -> None:
        """The lease may be gone (the database connection failed): let go of it."""
        if self.shared:
            self.release()

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
