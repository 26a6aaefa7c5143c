"""Field-level differences between two normalized, redacted specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.diff.paths import PathPart, format_path
from reconciler.diff.redact import is_redacted

_ABSENT: Any = object()


@dataclass(frozen=True)
class RawChange:
    """One difference. ``before``/``after`` are the (redacted) values; absent sides are None."""

    path: str
    before: Any
    after: Any
    before_present: bool
    after_present: bool
    sensitive: bool


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[RawChange]:
    """Every leaf-level difference, in path order.

    Mappings are compared key by key and lists of equal length item by item; a list whose
    length changed, a type change and a redacted (sensitive) value are compared whole.
    """
    out: list[RawChange] = []
    _walk((), before, after, out)
    return out


def _walk(path: tuple[PathPart, ...], a: Any, b: Any, out: list[RawChange]) -> None:
    if a is _ABSENT or b is _ABSENT:
        present = b if a is _ABSENT else a
        if isinstance(present, dict) and present and not is_redacted(present):
            # An added or removed block is listed leaf by leaf, like any other change.
            for key in sorted(present):
                pair = (_ABSENT, present[key]) if a is _ABSENT else (present[key], _ABSENT)
                _walk((*path, key), *pair, out)
            return
        _emit(path, a, b, out)
        return
    if isinstance(a, dict) and isinstance(b, dict) and not is_redacted(a) and not is_redacted(b):
        for key in sorted(set(a) | set(b)):
            _walk((*path, key), a.get(key, _ABSENT), b.get(key, _ABSENT), out)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk((*path, index), x, y, out)
        return
    if a != b or type(a) is not type(b):
        _emit(path, a, b, out)


def _emit(path: tuple[PathPart, ...], a: Any, b: Any, out: list[RawChange]) -> None:
    sensitive = _contains_redacted(a) or _contains_redacted(b)
    out.append(
        RawChange(
            path=format_path(path),
            before=None if a is _ABSENT else a,
            after=None if b is _ABSENT else b,
            before_present=a is not _ABSENT,
            after_present=b is not _ABSENT,
            sensitive=sensitive,
        )
    )


def _contains_redacted(value: Any) -> bool:
    if is_redacted(value):
        return True
    if isinstance(value, dict):
        return any(_contains_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_redacted(v) for v in value)
    return False
