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


def sensitive_paths(spec: Any, interpolated: Collection[FieldPath] = frozenset()) -> set[FieldPath]:
    """Paths of the sensitive values of ``spec``.

    ``interpolated`` holds the paths (in ``spec``) whose values were interpolated.
    """
    found: set[FieldPath] = set()
    if isinstance(spec, (dict, list)):
        _collect(spec, (), (), interpolated, found)
    elif () in interpolated and is_sensitive((), interpolated=True):
        found.add(FieldPath())
    return found


def _collect(
    value: dict[Any, Any] | list[Any],
    path: tuple[PathPart, ...],
    keys: tuple[str, ...],
    interpolated: Collection[FieldPath],
    found: set[FieldPath],
) -> None:
    # Paths are plain tuples here (a FieldPath compares and hashes as its tuple of parts): one
    # FieldPath is made per distinct path found, not per value walked (this runs for every agent).
    if isinstance(value, dict):
        for key, item in value.items():
            sub = (*path, key)
            if is_secret_key(key):
                found.add(_field_path(sub))
            elif isinstance(item, (dict, list)):
                _collect(item, sub, (*keys, key), interpolated, found)
            elif sub in interpolated and is_sensitive((*keys, key), interpolated=True):
                found.add(_field_path(sub))
    else:
        for index, item in enumerate(value):
            sub = (*path, index)
            if isinstance(item, (dict, list)):
                _collect(item, sub, keys, interpolated, found)
            elif sub in interpolated and is_sensitive(keys, interpolated=True):
                found.add(_field_path(sub))


@lru_cache(maxsize=4096)
def _field_path(parts: tuple[PathPart, ...]) -> FieldPath:
    """One shared (immutable) path object per path: agents share their sensitive paths."""
    return FieldPath(parts)


def minimal(paths: set[FieldPath]) -> frozenset[FieldPath]:
    """Drop paths that lie under another path of the set (the parent already covers them)."""
    return frozenset(
        path for path in paths if not any(path[:depth] in paths for depth in range(1, len(path)))
    )
