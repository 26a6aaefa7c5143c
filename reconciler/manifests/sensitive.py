"""Which paths of an agent's spec are sensitive, by the rule of :mod:`reconciler.models.secrets`.

:func:`sensitive_paths` walks the spec once: the path of every secret-like key (the whole subtree
below it is then sensitive, so the key's path is enough) and of every interpolated value whose
nearest key is not plain. :func:`minimal` drops paths that another path of the set covers.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any

from reconciler.models.fieldpath import FieldPath, PathPart
from reconciler.models.secrets import is_secret_key, is_sensitive

_is_secret_key = lru_cache(maxsize=8192)(is_secret_key)
""":func:`is_secret_key`, remembered: agents share their keys (this runs for every key)."""


def sensitive_paths(spec: Any, interpolated: Collection[FieldPath] = frozenset()) -> set[FieldPath]:
    """Paths of the sensitive values of ``spec``.

    ``interpolated`` holds the paths (in ``spec``) whose values were interpolated.
    """
    found: set[FieldPath] = set()
    if isinstance(spec, (dict, list)):
        # A leaf is looked up in ``interpolated`` only when its key or index ends one of them.
        ends = frozenset(path[-1] for path in interpolated if path)
        _collect(spec, (), (), interpolated, ends, found)
    elif () in interpolated and is_sensitive((), interpolated=True):
        found.add(FieldPath())
    return found


def _collect(
    value: dict[Any, Any] | list[Any],
    path: tuple[PathPart, ...],
    keys: tuple[str, ...],
    interpolated: Collection[FieldPath],
    ends: frozenset[PathPart],
    found: set[FieldPath],
) -> None:
    # Paths are plain tuples here (a FieldPath compares and hashes as its tuple of parts), built
    # only where needed: one FieldPath per distinct path found (this runs for every agent).
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_secret_key(key):
                found.add(_field_path((*path, key)))
            elif isinstance(item, (dict, list)):
                _collect(item, (*path, key), (*keys, key), interpolated, ends, found)
            elif (
                key in ends
                and (*path, key) in interpolated
                and is_sensitive((*keys, key), interpolated=True)
            ):
                found.add(_field_path((*path, key)))
    else:
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _collect(item, (*path, index), keys, interpolated, ends, found)
            elif (
                index in ends
                and (*path, index) in interpolated
                and is_sensitive(keys, interpolated=True)
            ):
                found.add(_field_path((*path, index)))


@lru_cache(maxsize=4096)
def _field_path(parts: tuple[PathPart, ...]) -> FieldPath:
    """One shared (immutable) path object per path: agents share their sensitive paths."""
    return FieldPath(parts)


def minimal(paths: set[FieldPath]) -> frozenset[FieldPath]:
    """Drop paths that lie under another path of the set (the parent already covers them)."""
    return frozenset(
        path for path in paths if not any(path[:depth] in paths for depth in range(1, len(path)))
    )
