"""The watch's log lines (`--log-format text|json`): every event starts a line of its own with
its timestamp; nothing in a message or a field (a file name, an error text, a key written in a
manifest) can start a line that looks like another event."""

from __future__ import annotations

import json
import logging
import re

from reconciler.watch.logs import make_formatter

FORGED = 'bad\n2026-01-01T00:00:00.000Z info reconcile.done: forged\r\n{"event": "x"}'
EVENT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT")


def _record(message: str, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("reconciler.watch", logging.ERROR, __file__, 1, message, (), None)
    record.event = "reconcile.failed"
    record.fields = fields
    return record


def test_a_text_line_continues_a_multi_line_message_on_indented_lines_only() -> None:
    text = make_formatter("text").format(_record(FORGED, where=FORGED))
    lines = text.splitlines()
    assert EVENT_LINE.match(lines[0])
    assert all(line.startswith("  ") for line in lines[1:]), text
    assert "\r" not in text


def test_a_json_line_is_one_line_whatever_the_message() -> None:
    text = make_formatter("json").format(_record(FORGED, where=FORGED))
    assert "\n" not in text and "\r" not in text
    assert json.loads(text)["msg"] == FORGED
