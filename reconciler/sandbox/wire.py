"""Reading what clients send as strictly as JSON (RFC 8259) and a query string define it.

Python reads both more loosely than the real API's servers do: `json.loads` takes `NaN`,
`Infinity` and `-Infinity`, turns `1e400` into infinity, overflows the stack on a deeply
nested body (`RecursionError`) and takes a string escaping half a surrogate pair
(`"\\ud800"`: no Unicode text, which I-JSON, RFC 7493, forbids, and which no answer or store
could encode); `int()`, `float()` and `str.isdigit()` take digits other than 0-9 (a
superscript two, an Arabic-Indic three) and underscores ("1_0"). Each route refuses such input
as the bad input it is (a 400 in its API's shape), never with a 500, and never stores a value
that its answers could not render as JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


class NotJson(ValueError):
    """The bytes are not one JSON text."""


def _no_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"{text} is out of the range of a JSON number")
    return value


def loads(raw: bytes | str) -> Any:
    """Decode one JSON text (UTF-8 when bytes); `NotJson` when it is not one."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except NotJson:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise NotJson(str(exc)) from None
    _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    """`NotJson` when a string (key or value) is no Unicode text (an unpaired surrogate)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise NotJson("a string holds half a surrogate pair") from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def integer(text: str, *, signed: bool = False) -> int | None:
    """A decimal integer of ASCII digits (a sign only when `signed`), else None."""
    if not _INTEGER.fullmatch(text) or (not signed and text[0] in "+-"):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() converts
        return None


def number(text: str) -> float | None:
    """A finite decimal number of ASCII characters (`12`, `-1.5`, `1.7e9`), else None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None
