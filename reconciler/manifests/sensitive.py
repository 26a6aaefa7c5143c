"""Which paths of an agent's spec are sensitive, by the rule of :mod:`reconciler.models.secrets`.

:func:`sensitive_paths` walks the spec once: the path of every secret-like key (the whole subtree
below it is then sensitive, so the key's path is enough) and of every interpolated value whose
nearest key is not plain. :func:`minimal` drops paths that another path of the set covers.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from reconciler.models.fieldpath import FieldPath
from reconciler.models.secrets import is_secret_key, is_sensitive


def sensitive_paths(spec: Any, interpolated: Collection[FieldPath] = frozenset()) -> set[FieldPath]:
    """Paths of the sensitive values of ``spec``.

    ``interpolated`` holds the paths (in ``spec``) whose values were interpolated.
    """
    found: set[FieldPath] = set()
    _collect(spec, FieldPath(), (), interpolated, found)
    return found


def _collect(
    value: Any,
    path: FieldPath,
    keys: tuple[str, ...],
    interpolated: Collection[FieldPath],
    found: set[FieldPath],
) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            sub = path.child(key)
            if is_secret_key(key):
                found.add(sub)
            elif interpolated or isinstance(item, (dict, list)):
                _collect(item, sub, (*keys, key), interpolated, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if interpolated or isinstance(item, (dict, list)):
                _collect(item, path.child(index), keys, interpolated, found)
    elif path in interpolated and is_sensitive(keys, interpolated=True):
        found.add(path)


def minimal(paths: set[FieldPath]) -> frozenset[FieldPath]:
    """Drop paths that lie under another path of the set (the parent already covers them)."""
    return frozenset(
        path for path in paths if not any(path[:depth] in paths for depth in range(1, len(path)))
    )
