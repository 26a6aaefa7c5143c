"""Values unknown until a variable is set, where the manifest expects no string.

With unset variables allowed (``validate``, ``plan --no-refresh``), ``${IDLE}`` stays as written
and its value is unknown (:attr:`~reconciler.manifests.interpolate.Interpolated.unknown`). In a
string field that is no problem; where an integer, a boolean, a choice or a uid goes, the text
``${IDLE}`` would fail the field's check although the value, once set, may well pass it. Such a
value is set aside for the models' checks (:func:`set_aside`) and put back, still unknown, into
the spec they produce (:func:`put_back`); the checks run on it once the variable is set.

Where a list or a mapping goes, no variable can ever give one: that error stands.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from reconciler.manifests.validation import path_of

Loc = tuple[str | int, ...]
"""A path as pydantic gives it: keys and indexes from the document's root."""

_NEVER_FROM_TEXT = frozenset(
    {
        "dict_type",
        "list_type",
        "model_type",
        "model_attributes_type",
        "set_type",
        "tuple_type",
        "missing",
    }
)
"""Pydantic errors no interpolated text can fix: the field needs a collection (or is absent)."""


def unknown_errors(
    errors: Sequence[Mapping[str, Any]], unknown: Collection[str], within: str
) -> list[Loc]:
    """The paths of ``errors`` under the key ``within`` (``properties``: the spec, which may
    carry unknown values) that hold an unknown value a set variable may make valid."""
    found: list[Loc] = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] in _NEVER_FROM_TEXT or len(loc) < 2 or loc[0] != within:
            continue
        if loc[-1] == "[key]":
            continue
        if path_of(loc) not in unknown:
            continue
        while isinstance(loc[-1], int):  # an item: set its whole list aside (indexes stay)
            loc = loc[:-1]
        if loc not in found:
            found.append(loc)
    return found


def set_aside(data: dict[str, Any], locs: Collection[Loc]) -> dict[str, Any]:
    """``data`` without the values at ``locs``; containers on their paths are copied, the rest
    shared (``data`` is left as it was)."""
    result = dict(data)
    for loc in locs:
        parent: Any = result
        for part in loc[:-1]:
            child = parent[part]
            child = dict(child) if isinstance(child, dict) else list(child)
            parent[part] = child
            parent = child
        parent.pop(loc[-1], None)
    return result


def put_back(target: dict[str, Any], source: Mapping[str, Any], locs: Collection[Loc]) -> None:
    """Copy the value at each of ``locs`` (relative to ``target``) from ``source`` into
    ``target``, creating the mappings on the way that ``target`` lacks."""
    for loc in locs:
        into: Any = target
        value: Any = source
        for part in loc[:-1]:
            value = value[part]
            if isinstance(into, dict) and part not in into:
                into[part] = {} if isinstance(value, dict) else list(value)
            into = into[part]
        into[loc[-1]] = value[loc[-1]]
