"""What every backend's state lock object shares: who holds it, the guards, ``with``.

A backend's lock (:class:`~reconciler.state.local.lock.StateLock`,
:class:`~reconciler.state.postgres.lock.PostgresStateLock`) subclasses :class:`HeldLock` and
says only how it takes the lock (waiting through :func:`~reconciler.state.lockwait.wait_for_lock`)
and records its holder, how it checks the lock is still held, and how it lets go.
:class:`HeldLock` makes the holder info (:class:`~reconciler.state.holder.LockInfo`: a new id,
user@host, pid, command, start time, CI run), refuses to take a lock the object already holds,
and makes the object a context manager: ``with lock as info:`` takes it with the ``timeout``
and ``command`` given when the object was made, and releases it on the way out.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from uuid import uuid4

from reconciler.errors import StateError
from reconciler.state.holder import LockInfo, ci_run_from_env, now_iso, who

__all__ = ["HeldLock", "refuse_if_read_only"]


def refuse_if_read_only(command: str, read_only: bool) -> None:
    """Raise :class:`StateError` when the backend of a read-only command is asked for its lock:
    every write of the state takes it first, so a read-only command asking is a defect."""
    if read_only:
        raise StateError(
            f"{command} would write the state, but it was opened for a read-only command "
            "(a defect in reconciler)"
        )


class HeldLock(ABC):
    """A state lock held by at most one object at a time (see the module docstring)."""

    def __init__(self, *, timeout: float = 0.0, command: str = "") -> None:
        self.timeout = timeout
        """How long ``with`` waits for the lock (0: a held lock is refused at once)."""
        self.command = command
        """The command ``with`` records as the holder's."""
        self._info: LockInfo | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._info is not None

    @property
    def info(self) -> LockInfo | None:
        """The holder info this object recorded while it holds the lock."""
        return self._info

    def acquire(self, timeout: float = 0.0, command: str = "") -> LockInfo:
        """Take the lock and record this process, running ``command``, as its holder.

        With ``timeout`` 0 a held lock is refused at once; otherwise the lock is polled until it
        is free or ``timeout`` seconds have passed. Raises
        :class:`~reconciler.errors.LockHeldError` naming the holder.
        """
        if self._info is not None:
            raise RuntimeError(f"{self!r} is already held by this object")
        # Everything but the id and the start time is looked up before locking, so that the
        # holder info follows the lock as closely as possible.
        user_host, ci_run = who(), ci_run_from_env(os.environ)

        def holder() -> LockInfo:
            return LockInfo(
                id=str(uuid4()),
                who=user_host,
                pid=os.getpid(),
                command=command,
                started_at=now_iso(),
                ci_run=ci_run,
            )

        self._info = self._take(timeout, holder)
        return self._info

    @abstractmethod
    def _take(self, timeout: float, holder: Callable[[], LockInfo]) -> LockInfo:
        """Wait up to ``timeout`` seconds for the lock, then record ``holder()`` as its holder
        and return that; raise ``LockHeldError`` when refused, ``StateError`` when it fails."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``StateError`` unless this object still holds the lock."""

    @abstractmethod
    def release(self) -> None:
        """Clear the holder info and release the lock; nothing happens if it is not held."""

    def _refused(self) -> None:  # noqa: B027 (a hook: by default there is nothing to undo)
        """Called when ``with`` could not take the lock (no ``__exit__`` follows)."""

    def __enter__(self) -> LockInfo:
        if self._info is not None:  # acquired explicitly before the with-statement
            return self._info
        try:
            return self.acquire(self.timeout, self.command)
        except BaseException:
            self._refused()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
