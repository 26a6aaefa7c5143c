"""How a single value is shown: compact JSON, clipped around the first difference, or as lines.

Every renderer shows field values the same way:

- scalars and small structures as compact one-line JSON (``"gpt-4o"``, ``{"model": "gpt-4o"}``);
- a long one-line rendering clipped to :data:`MAX_VALUE_CHARS`, with the window placed around the
  first character where before and after differ, so a clipped change never looks like no change;
- any value holding a multi-line string (a prompt, or a list of messages holding one) as lines,
  so that before and after can be compared with a unified line diff (:func:`line_diff`).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from reconciler.models.fieldpath import is_plain_key

MAX_VALUE_CHARS = 120
"""Longest one-line value shown whole; longer ones are clipped around their first difference."""
MAX_DIFF_LINE_CHARS = 240
"""Longest line of a unified diff shown whole."""
MAX_DIFF_LINES = 200
"""Most lines of one field's unified diff; the rest are counted, not shown."""
DIFF_CONTEXT = 3
"""Unchanged lines shown around each changed line of a unified diff."""


def compact(value: Any) -> str:
    """One-line JSON with sorted keys and readable separators (``{"a": 1, "b": [1, 2]}``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def clip(text: str, focus: int = 0, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters around index ``focus``, marking cuts with ``…``.

    A clipped text ends with its full length (``… (2,345 chars)``) so the reader knows it was cut.
    """
    if len(text) <= limit:
        return text
    start = max(0, min(focus - limit // 4, len(text) - limit))
    end = start + limit
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return f"{head}{text[start:end]}{tail} ({len(text):,} chars)"


def common_prefix_length(a: str, b: str) -> int:
    """Number of leading characters ``a`` and ``b`` share."""
    n = 0
    limit = min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def clip_pair(before: str | None, after: str | None) -> tuple[str | None, str | None]:
    """Clip both renderings around the first character where they differ."""
    focus = common_prefix_length(before, after) if before is not None and after is not None else 0
    return (
        None if before is None else clip(before, focus),
        None if after is None else clip(after, focus),
    )


def has_multiline(value: Any) -> bool:
    """True when ``value`` is, or contains, a string with a line break."""
    if isinstance(value, str):
        return "\n" in value or "\r" in value
    if isinstance(value, dict):
        return any(has_multiline(v) for v in value.values())
    if isinstance(value, list):
        return any(has_multiline(v) for v in value)
    return False


def _key(key: Any) -> str:
    """A mapping key as shown in :func:`block_lines`: bare when it is plain in a path, else
    quoted (non-ASCII kept readable)."""
    text = str(key)
    return text if is_plain_key(text) else json.dumps(text, ensure_ascii=False)


def block_lines(value: Any, indent: int = 0) -> list[str]:
    """``value`` as YAML-like lines: one line per scalar, multi-line strings as ``|`` blocks.

    A bare string gives its own lines (a prompt diffs line by line); a structure gives one line
    per leaf, so a list of messages whose length changed still diffs readably.
    """
    pad = "  " * indent
    if isinstance(value, str):
        return [pad + line for line in value.splitlines()] or [pad + '""']
    if isinstance(value, dict) and value:
        out: list[str] = []
        for key in sorted(value, key=str):
            out.extend(_entry(pad + _key(key) + ":", value[key], indent))
        return out
    if isinstance(value, list) and value:
        out = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = block_lines(item, indent + 1)
                nested[0] = pad + "- " + nested[0][len(pad) + 2 :]
                out.extend(nested)
            else:
                out.extend(_entry(pad + "-", item, indent))
        return out
    return [pad + compact(value)]


def _entry(label: str, value: Any, indent: int) -> list[str]:
    """Lines for ``label`` (``key:`` or ``-``) followed by ``value``."""
    inner = "  " * (indent + 1)
    if isinstance(value, str) and has_multiline(value):
        return [label + " |", *(inner + line for line in value.splitlines())]
    if isinstance(value, (dict, list)) and value:
        return [label, *block_lines(value, indent + 1)]
    return [label + " " + compact(value)]


def line_diff(before: Any, after: Any, before_present: bool, after_present: bool) -> list[str]:
    """Unified line diff (hunks only, no file headers) between two values shown as lines.

    Each returned line starts with ``@``, ``' '``, ``-``, ``+`` or ``\\`` (a note), as in
    ``diff -u``. Long lines are clipped and a long diff is cut after :data:`MAX_DIFF_LINES`.
    """
    old = block_lines(before) if before_present else []
    new = block_lines(after) if after_present else []
    out = list(difflib.unified_diff(old, new, lineterm="", n=DIFF_CONTEXT))[2:]  # no file headers
    if _ends_differently(before, after):
        out.append("\\ the values differ in their final line break")
    if not out:
        out.append("\\ the values differ only in line endings")
    if len(out) > MAX_DIFF_LINES:
        rest = len(out) - MAX_DIFF_LINES
        out = [*out[:MAX_DIFF_LINES], f"\\ … {rest:,} more diff line{'s' if rest != 1 else ''}"]
    return [clip(line, 0, MAX_DIFF_LINE_CHARS) for line in out]


def _ends_differently(before: Any, after: Any) -> bool:
    if not (isinstance(before, str) and isinstance(after, str)):
        return False
    return before.endswith("\n") != after.endswith("\n")
