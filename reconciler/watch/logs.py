"""Structured log lines of a watch process (``--log-format text|json``).

The controller logs through ``logging.getLogger("reconciler.watch")`` with an ``event`` name and
a few fields (``extra={"event": ..., "fields": {...}}``); the CLI installs
:func:`make_formatter`'s formatter on a stderr handler. Messages carry only what error messages
carry (names, counts, scrubbed engine and database errors), never a spec value.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["LOGGER", "fields_of", "log", "make_formatter"]

LOGGER = logging.getLogger("reconciler.watch")


def log(level: int, event: str, message: str, **fields: Any) -> None:
    """One log line: ``event`` (a stable name), ``message`` (for people) and ``fields``."""
    LOGGER.log(level, message, extra={"event": event, "fields": fields})


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, event, msg and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "msg": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            line.setdefault(key, value)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-12-01T22:00:00.000Z info reconcile.done: message key=value ...``

    A message of several lines (a list of problems) continues on lines indented by two spaces,
    so that only an event starts a line: no text in a message or a field can forge one."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            _timestamp(record),
            record.levelname.lower(),
            f"{getattr(record, 'event', 'log')}:",
            record.getMessage(),
        ]
        parts += [f"{key}={value}" for key, value in fields_of(record).items()]
        lines = " ".join(parts).splitlines()
        return "\n".join([lines[0], *(f"  {line}" for line in lines[1:])]) if lines else ""


def make_formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()
