"""Rolling restarts: how many managed agents one apply may have down at once.

``max_unavailable`` in ``reconciler.yaml`` is a count (``3``) or a percentage of the agents the
manifests declare (``"25%"``). A percentage is rounded down, and the result is never below 1 (a
restart needs at least one agent down). The plan carries the resolved count, so the reviewer
sees exactly how the apply will roll.
"""

from __future__ import annotations

import re

DEFAULT_MAX_UNAVAILABLE = "25%"
"""A quarter of the managed agents at a time (at least one)."""

_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")
_SHAPE = 'must be a count (3) or a percentage of the managed agents ("25%")'
_COUNT = re.compile(r"^\s*\d{1,9}\s*$")


def as_max_unavailable(value: object) -> object:
    """``value`` with a count given as a string (``"3"``, as interpolation yields) made an int."""
    if isinstance(value, str) and _COUNT.match(value):
        return int(value)
    return value


def max_unavailable_problem(value: object) -> str | None:
    """Why ``value`` is not a valid ``max_unavailable`` (never quoting it), or None."""
    if isinstance(value, bool):
        return _SHAPE
    if isinstance(value, int):
        return None if value >= 1 else "must be at least 1"
    if isinstance(value, str):
        if _COUNT.match(value):
            return None if int(value) >= 1 else "must be at least 1"
        match = _PERCENT.match(value)
        if match is None:
            return _SHAPE
        if not 1 <= int(match.group(1)) <= 100:
            return "must be a percentage between 1% and 100%"
        return None
    return _SHAPE


def resolve_max_unavailable(value: int | str, managed: int) -> int:
    """The count ``value`` allows for ``managed`` agents (at least 1)."""
    if isinstance(value, int):
        return max(1, value)
    if _COUNT.match(value):
        return max(1, int(value))
    match = _PERCENT.match(value)
    if match is None:
        raise ValueError(max_unavailable_problem(value) or _SHAPE)
    return max(1, managed * int(match.group(1)) // 100)
