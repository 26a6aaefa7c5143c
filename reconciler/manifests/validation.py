"""Turning pydantic errors and unknown keys into located, secret-free problems.

Shared by manifests and settings. Locations come from the ``path -> Location`` map built by
:func:`reconciler.manifests.interpolate.interpolate_tree`; a path that was not written (a missing
key) is located at its closest written parent. Messages name keys and paths, never values: pydantic
errors are read with ``include_input=False`` and described by their type.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pydantic

from reconciler.errors import Location, Problem, printable
from reconciler.manifests.interpolate import child_path, item_path

Describe = Callable[[str, dict[str, Any]], str | None]
"""A hook ``(path, error) -> message`` for errors a caller words itself (``None``: default)."""

_MESSAGE_BY_ERROR_TYPE: dict[str, str] = {
    "string_type": "expected a string (quote the value)",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "string_too_short": "must not be empty",
}
"""Pydantic error types and the plain words a problem line gives for them."""
_BOUNDS: dict[str, str] = {
    "greater_than_equal": ">= {ge}",
    "greater_than": "> {gt}",
    "less_than_equal": "<= {le}",
    "less_than": "< {lt}",
}


def path_of(loc: Sequence[str | int]) -> str:
    """The canonical path of a pydantic ``loc`` (``properties.llm.system_messages[0]``)."""
    path = ""
    for part in loc:
        path = item_path(path, part) if isinstance(part, int) else child_path(path, str(part))
    return path


def locate(loc: Sequence[str | int], locations: Mapping[str, Location], root: Location) -> Location:
    """Where the deepest written part of ``loc`` is (``root`` when nothing of it was written)."""
    found = root
    path = ""
    for part in loc:
        path = item_path(path, part) if isinstance(part, int) else child_path(path, str(part))
        where = locations.get(path)
        if where is None:
            break
        found = where
    return found


def suggest(key: str, known: Iterable[str]) -> str:
    """``", did you mean 'x'?"`` for the closest known key, or nothing."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f", did you mean '{close[0]}'?" if close else ""


def unknown_key_message(key: str, parent: str, known: Iterable[str], where: str) -> str:
    """``unknown key 'idle_timout' in properties, did you mean 'idle_timeout'?``.

    The key is shown on one line (control characters escaped) and cut to 60 characters, so a
    key can neither forge extra lines of output nor flood it.
    """
    shown = printable(key)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"unknown key '{shown}' in {parent or where}{suggest(key, known)}"


def describe(error: Mapping[str, Any]) -> str:
    """A short, value-free description of one pydantic error."""
    kind = str(error.get("type", ""))
    if kind in _MESSAGE_BY_ERROR_TYPE:
        return _MESSAGE_BY_ERROR_TYPE[kind]
    ctx = error.get("ctx") or {}
    if kind in _BOUNDS:
        try:
            return "must be " + _BOUNDS[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "invalid value"))
    return message[:1].lower() + message[1:]


def translate(
    exc: pydantic.ValidationError,
    locations: Mapping[str, Location],
    root: Location,
    *,
    where: str,
    skip: Callable[[str, dict[str, Any]], bool] | None = None,
    custom: Describe | None = None,
) -> list[Problem]:
    """Located problems for every error of ``exc``.

    ``where`` names the root in messages ("the manifest", "settings"); ``skip`` drops errors
    (e.g. those under a path whose interpolation already failed); ``custom`` words some errors.
    """
    problems: list[Problem] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        named = bool(loc) and loc[-1] == "[key]"  # pydantic's mark of an invalid key name
        if named:
            loc = loc[:-1]
        path = path_of(loc)
        err = dict(error)
        if skip is not None and skip(path, err):
            continue
        at = locate(loc, locations, root)
        message = custom(path, err) if custom is not None else None
        if message is None:
            if error["type"] == "missing" and loc:
                parent = path_of(loc[:-1])
                message = f"missing required key '{loc[-1]}' in {parent or where}"
            else:
                message = f"{path or where}: {'key name: ' if named else ''}{describe(err)}"
        problems.append(Problem(at, message))
    return problems
