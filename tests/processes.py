"""Helpers for tests about processes (forked children, killed parents)."""

from __future__ import annotations

import os
import time


def wait_gone(pid: int, within: float) -> bool:
    """Whether process ``pid`` no longer exists within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
