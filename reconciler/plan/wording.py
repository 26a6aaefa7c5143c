"""How a plan words numbers, durations and values in its reasons and warnings."""

from __future__ import annotations

from typing import Any


def shown_value(value: Any) -> str:
    """A value as a reason writes it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def duration(seconds: float) -> str:
    """``2h05m``, ``12m`` or ``40s``: a time left, rounded down, never negative."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def plural(n: int, noun: str) -> str:
    """``1 variable``, ``3 variables``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
