"""The sandbox clock: real time plus an offset that `/_sandbox/clock/advance` moves.

Every time-driven transition of the sandbox (STARTING→RUNNING, STOPPING→STOPPED, idle timeout,
the 72 h cap, token expiry) is computed from stored timestamps against `Clock.now()`, never by a
background thread, so advancing the clock is enough to make time pass. The offset is kept in the
store's meta table, so it survives restarts and is shared by processes that use the same file.

`real()` is the underlying time source (`time.time` unless a test injects another); the auth
layer checks the expiry of `agora token=` headers against it, because clients mint those with
their own real clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .store import Store

_OFFSET_KEY = "clock_offset_s"


class Clock:
    """Injectable clock; `now()` = `time_source()` + persisted offset."""

    def __init__(self, store: Store, time_source: Callable[[], float] | None = None) -> None:
        self._store = store
        self._time_source: Callable[[], float] = time_source or time.time
        stored = store.get_meta(_OFFSET_KEY)
        self._offset = float(stored) if stored is not None else 0.0

    def real(self) -> float:
        """The underlying time source, without the offset (Unix seconds)."""
        return self._time_source()

    @property
    def offset(self) -> float:
        """Seconds the clock has been advanced in total."""
        return self._offset

    def refresh(self) -> None:
        """Re-read the offset from the store (another process may have advanced it)."""
        stored = self._store.get_meta(_OFFSET_KEY)
        self._offset = float(stored) if stored is not None else 0.0

    def now(self) -> float:
        """Sandbox time in Unix seconds."""
        return self._time_source() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (>= 0); returns the new `now()`."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._store.transaction():
            self.refresh()
            self._offset += seconds
            self._store.set_meta(_OFFSET_KEY, repr(self._offset))
        return self.now()

    def reset(self) -> None:
        """Forget every advance (offset back to 0)."""
        self._offset = 0.0
        self._store.set_meta(_OFFSET_KEY, "0.0")
