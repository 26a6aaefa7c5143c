"""Waiting for a state lock: the one polling loop of every backend's lock.

A backend's lock makes one attempt at a time: it either takes the lock, or finds it held and
answers a :class:`Busy`. :func:`wait_for_lock` repeats the attempt until the lock is taken or
``timeout`` seconds have passed, then refuses with :class:`~reconciler.errors.LockHeldError`
naming the holder. A holder takes the lock first and records who it is just after; an acquirer
that is due to refuse but finds no holder recorded yet waits up to ``grace`` seconds for the
record, so that a refusal names the holder whenever there is one to name.

``clock`` and ``sleep`` are this module's own names for ``time.monotonic`` and ``time.sleep``,
read at every call, so that a test can drive the loop without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import LockHeldError

__all__ = ["HOLDER_WRITE_GRACE_S", "Busy", "wait_for_lock"]

T = TypeVar("T")

HOLDER_WRITE_GRACE_S = 1.0
"""How long a refused acquirer waits for a holder that has the lock but no record written yet.

The holder records itself right after taking the lock; on a loaded machine that gap can exceed a
few milliseconds, and a refusal should still say who holds the lock."""

clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Busy:
    """An attempt that found the lock held by someone else."""

    describe: Callable[[], tuple[bool, str]]
    """Whether a holder is recorded, and the refusal naming it (asked only when refusing)."""
    release: Callable[[], None] = _nothing
    """Let go of what the attempt holds open (called once, before the next attempt)."""


def wait_for_lock(
    attempt: Callable[[], T | Busy],
    *,
    timeout: float,
    interval: float,
    min_sleep: float,
    grace: float | None = None,
) -> T:
    """What ``attempt`` returns once it takes the lock (see the module docstring).

    With ``timeout`` 0 a held lock is refused at once (after the ``grace`` for an unrecorded
    holder); otherwise the lock is tried every ``interval`` seconds (never less than
    ``min_sleep`` apart) until it is free or ``timeout`` has passed. ``grace`` defaults to
    :data:`HOLDER_WRITE_GRACE_S`, read at each call.
    """
    if grace is None:
        grace = HOLDER_WRITE_GRACE_S
    start = clock()
    deadline = start + max(timeout, 0.0)
    while True:
        got = attempt()
        if not isinstance(got, Busy):
            return got
        try:
            now = clock()
            if now >= deadline:
                known, message = got.describe()
                if known or now >= start + grace:
                    if timeout > 0:
                        waited = f"timed out after {timeout:g}s waiting for the state lock"
                        message = f"{waited}: {message}"
                    raise LockHeldError(message)
        finally:
            got.release()
        sleep(max(min(interval, deadline - now), min_sleep))
