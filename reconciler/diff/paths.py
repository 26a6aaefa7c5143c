"""Canonical field paths.

Keys are joined with dots and list items indexed: ``properties.llm.params.model``,
``properties.llm.system_messages[0].content``.

Keys that are not plain identifiers (dots, brackets, spaces) are quoted: ``labels["team.name"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

PathPart = str | int
_PLAIN = re.compile(r"^[A-Za-z0-9_$-]+$")
_TOKEN = re.compile(r'\.?([A-Za-z0-9_$-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def format_path(parts: Sequence[PathPart]) -> str:
    """Render path parts as a canonical string."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def parse_path(path: str) -> tuple[PathPart, ...]:
    """Inverse of :func:`format_path`."""
    parts: list[PathPart] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"not a field path: {path!r}")
        key, index, quoted = match.groups()
        if key is not None:
            parts.append(key)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(str(json.loads(quoted)))
        pos = match.end()
    return tuple(parts)


def is_within(path: str, prefix: str) -> bool:
    """True when ``path`` is ``prefix`` or lies under it."""
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")
