"""Values unknown until a variable is set, where the manifest expects no string.

With unset variables allowed (``validate``, ``plan --no-refresh``), ``${IDLE}`` stays as written
and its value is unknown (:attr:`~reconciler.manifests.interpolate.Interpolated.unknown`). In a
string field that is no problem; where an integer, a boolean, a choice or a uid goes, the text
``${IDLE}`` would fail the field's check although the value, once set, may well pass it. Such a
value is set aside for the models' checks (:func:`validate_known`) and put back, still unknown,
into the spec they produce (:func:`put_back`); the checks run on it once the variable is set.

Where a list or a mapping goes, no variable can ever give one: that error stands.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import pydantic

from reconciler.manifests.validation import path_of

Model = TypeVar("Model", bound=pydantic.BaseModel)

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


def validate_known(
    model: type[Model], data: dict[str, Any], unknown: Collection[str], within: str
) -> tuple[Model, tuple[Loc, ...]]:
    """``model`` validated from ``data``, the unknown values under ``within`` that fail a check
    set aside (and the paths set aside), or the :class:`pydantic.ValidationError` of what else
    fails. The validation context's ``unknown`` names the unknown paths, for the model's checks
    across fields to pass over."""
    if not unknown:
        return model.model_validate(data), ()
    context = {"unknown": unknown}
    aside: list[Loc] = []
    while True:
        try:
            return model.model_validate(set_aside(data, aside), context=context), tuple(aside)
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            more = [loc for loc in unknown_errors(errors, unknown, within) if loc not in aside]
            if not more or any(not is_under(tuple(e["loc"]), aside + more) for e in errors):
                raise
            aside.extend(more)


def is_under(loc: tuple[Any, ...], prefixes: Iterable[Loc]) -> bool:
    """Whether ``loc`` is one of ``prefixes`` or lies under one."""
    return any(loc[: len(prefix)] == prefix for prefix in prefixes)
