"""A command's deadline: the time it may spend waiting on the engine, in all.

The CLI sets one :class:`Deadline` for the whole command (``--timeout``, else
``RECONCILER_TIMEOUT``, else :data:`DEFAULT_TIMEOUT_S`) with :func:`deadline_scope`, in a context
variable, the way a timeout scope works: every engine client the command opens, however deep,
obeys it without the deadline being passed through each layer, and a command that sets none
(``watch``, which runs until stopped) has none. The engine's retry transport reads it with
:func:`current_deadline`: an attempt never runs past it, and a pause before another attempt that
would end after it is not taken (the call fails at once, naming the deadline).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

DEFAULT_TIMEOUT_S = 30 * 60.0
"""The deadline of a command that names none: 30 minutes."""


@dataclass(frozen=True)
class Deadline:
    """A moment on ``clock`` (monotonic seconds), and how the user set it, for messages."""

    at: float
    source: str
    """How it was set, as the user wrote it: ``--timeout 10m``, ``RECONCILER_TIMEOUT=10m``,
    ``the default 30m``."""
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def after(
        cls, seconds: float, source: str, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(at=clock() + seconds, source=source, clock=clock)

    def remaining(self) -> float:
        """Seconds left (negative once it has passed)."""
        return self.at - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def later(self, seconds: float) -> Deadline:
        """The same deadline, ``seconds`` later (for the calls an interrupted apply finishes)."""
        return replace(self, at=self.at + seconds)

    def __str__(self) -> str:
        return f"the command's deadline ({self.source})"


_CURRENT: ContextVar[Deadline | None] = ContextVar("reconciler_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the command running in this context, if any."""
    return _CURRENT.get()


@contextmanager
def deadline_scope(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` the current one inside the ``with`` block (and the tasks started in
    it: asyncio copies the context into each task), restoring the previous one after."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def extend_current(seconds: float) -> None:
    """Move the current deadline ``seconds`` later (the time a person took to confirm is not
    the command's to count), in the current context only."""
    deadline = _CURRENT.get()
    if deadline is not None and seconds > 0:
        _CURRENT.set(deadline.later(seconds))
