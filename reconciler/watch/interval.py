"""Durations (``30s``, ``2m``, ``1h``, ``500ms``) and listen addresses (``127.0.0.1:9108``)."""

from __future__ import annotations

import math
import re

from reconciler.errors import ReconcilerError

__all__ = ["WatchOptionError", "parse_duration", "parse_listen"]


class WatchOptionError(ReconcilerError):
    """A ``watch`` option with a value that cannot be used (exit 1)."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
MAX_DURATION_S = 7 * 24 * 3600.0


def parse_duration(text: str, *, what: str = "--interval") -> float:
    """Seconds in ``text``: a number with an optional unit (ms, s, m, h; default s)."""
    match = _DURATION.match(text)
    if match is None:
        raise WatchOptionError(
            f"{what}: {text!r} is not a duration; write a number with an optional unit, "
            "e.g. 30s, 2m, 1h or 500ms"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_DURATION_S:
        raise WatchOptionError(f"{what}: {text!r} must be more than 0 and at most 7 days")
    return seconds


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9108`` for IPv6) as a host and a port number."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise WatchOptionError(f"--listen: {text!r} is not HOST:PORT (e.g. 127.0.0.1:9108)")
    return host, int(port)
