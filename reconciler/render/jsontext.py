"""JSON text every strict reader accepts: the one home for serializing a JSON output.

A file name that is not UTF-8 reaches Python as ``os.fsdecode`` made it: each undecodable byte
a lone surrogate (``b"\\xff"`` -> ``"\\udcff"``). ``json.dumps`` writes such a character as a
lone ``\\udcff`` escape (or, with ``ensure_ascii=False``, raw, which is not UTF-8 either), and
strict JSON readers refuse both. Every JSON output (validate, plan, drift, status, state list,
apply events) goes through :func:`dumps` or :func:`valid_json`, which write it in the
backslash-replaced form: the byte ``0xff`` as the four characters ``\\xff`` (another lone
surrogate as ``\\udXXX`` spelled out), as :func:`reconciler.errors.printable` shows names.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def _replaced(match: re.Match[str]) -> str:
    code = ord(match.group())
    # inside a JSON string a backslash is written doubled: the reader sees ``\xff``
    return f"\\\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\\\u{code:04x}"


def valid_json(text: str) -> str:
    """``text``, JSON serialized with ``ensure_ascii=False``, with every lone surrogate in the
    backslash-replaced form (see the module docstring); the same string when it has none."""
    if text.isascii():
        return text
    return _SURROGATE.sub(_replaced, text)


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` made valid (:func:`valid_json`)."""
    return valid_json(json.dumps(value, ensure_ascii=False, **options))
