"""What a watch process knows about itself: leader or standby, and the last run's outcome.

Written by the controller's loop, read by the HTTP endpoint's thread, so every access holds a
lock. ``reason`` is a short category ("last reconcile failed", ...), never an error message,
so the endpoint cannot show anything taken from the manifests or the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Readiness", "WatchStatus"]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    role: str
    reason: str


class WatchStatus:
    """Leadership and health, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._role = "starting"
        self._ok = False
        self._reason = "no reconcile run yet"

    def leading(self, ok: bool, reason: str = "") -> None:
        """As leader: the last run succeeded (``ok``), or failed for ``reason``."""
        with self._lock:
            self._role, self._ok, self._reason = "leader", ok, reason

    def standing_by(self, ok: bool, reason: str = "") -> None:
        """As standby: the database answered (``ok``: the lease is held elsewhere), or not."""
        with self._lock:
            self._role, self._ok, self._reason = "standby", ok, reason

    def stopping(self) -> None:
        with self._lock:
            self._role, self._ok, self._reason = "stopping", False, "shutting down"

    @property
    def is_leader(self) -> bool:
        with self._lock:
            return self._role == "leader"

    def readiness(self) -> Readiness:
        with self._lock:
            return Readiness(ready=self._ok, role=self._role, reason=self._reason)
