"""Redaction: replace every sensitive value by a salted digest.

A redacted value is ``{"$sensitive": "sha256:<hex>"}`` where the digest covers the project's
salt and the canonical JSON of the value, so a changed secret changes the digest while the
value itself is never written anywhere. The salt lives in the state document; without it a
digest cannot be checked against guessed values.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.models.fieldpath import ABSENT, FieldPath

SENSITIVE_MARKER = "$sensitive"
UNKNOWN_PREFIX = "unknown:"
"""A marker ``{"$sensitive": "unknown:VAR,..."}`` stands for a value not known at plan time."""


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""One encoder for every call (``json.dumps`` with options builds a new one each time)."""


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return _CANONICAL.encode(value)


def digest_value(value: Any, salt: str) -> str:
    """Salted digest of one sensitive value."""
    data = (salt + "\x00" + canonical_json(value)).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_redacted(value: Any) -> bool:
    """True for a ``{"$sensitive": ...}`` marker."""
    return isinstance(value, dict) and len(value) == 1 and SENSITIVE_MARKER in value


def redact(spec: dict[str, Any], sensitive: Iterable[FieldPath], salt: str) -> dict[str, Any]:
    """Copy of ``spec`` with the value at every sensitive path replaced by its digest marker.

    Paths that do not exist in ``spec`` are ignored (a sensitive key may have been dropped by
    normalization, e.g. a null value).
    """
    return redact_in_place(copy.deepcopy(spec), sensitive, salt)


def redact_in_place(
    tree: dict[str, Any], sensitive: Iterable[FieldPath], salt: str
) -> dict[str, Any]:
    """Like :func:`redact`, but replaces the values in ``tree`` itself (and returns it).

    For a tree the caller owns outright, e.g. the fresh copy :func:`normalize_spec` returns: it
    saves the deep copy.
    """
    for path in sorted(sensitive, key=len):
        _replace(tree, path, salt)
    return tree


def redact_copying(
    tree: dict[str, Any], sensitive: Iterable[FieldPath], salt: str
) -> dict[str, Any]:
    """Like :func:`redact_in_place` for a tree whose top-level mapping the caller owns but whose
    subtrees may be shared (:func:`~reconciler.diff.normalize.normalize_spec_sharing`).

    Every dict and list on the way down to a sensitive value is copied before the marker is put
    in the copy, so a shared subtree is never written to; the rest stays shared.
    """
    fresh = {id(tree)}
    for path in sorted(sensitive, key=len):
        _replace_copying(tree, path, salt, fresh)
    return tree


def _replace_copying(tree: dict[str, Any], path: FieldPath, salt: str, fresh: set[int]) -> None:
    """:func:`_replace`, copying each container on the path that is not in ``fresh`` (the ids
    of the containers this redaction made, or owns) before writing to it."""
    if not path:
        return
    chain: list[Any] = [tree]
    for part in path[:-1]:
        child = _child(chain[-1], part)
        if child is ABSENT or is_redacted(child):
            return
        chain.append(child)
    value = _child(chain[-1], path[-1])
    if value is ABSENT or is_redacted(value):
        return
    parent: Any = tree
    for part, child in zip(path[:-1], chain[1:], strict=True):
        if id(child) not in fresh:
            child = dict(child) if isinstance(child, dict) else list(child)
            fresh.add(id(child))
            parent[part] = child
        parent = child
    parent[path[-1]] = {SENSITIVE_MARKER: digest_value(value, salt)}


def _replace(tree: dict[str, Any], path: FieldPath, salt: str) -> None:
    """Replace the value at ``path`` by its marker, unless it (or a parent) is one already."""
    if not path:
        return
    parent: Any = tree
    for part in path[:-1]:  # one walk down, checking each parent on the way
        parent = _child(parent, part)
        if parent is ABSENT or is_redacted(parent):
            return
    last = path[-1]
    value = _child(parent, last)
    if value is ABSENT or is_redacted(value):
        return
    parent[last] = {SENSITIVE_MARKER: digest_value(value, salt)}


def _child(node: Any, part: str | int) -> Any:
    """``node[part]`` as :meth:`FieldPath.get_in` reads it: :data:`ABSENT` where there is none."""
    if isinstance(node, dict):
        return node.get(part, ABSENT) if isinstance(part, str) else ABSENT
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return ABSENT


def unknown_names(value: Any) -> tuple[str, ...]:
    """The variables named by an unknown-value marker (empty for anything else)."""
    if is_redacted(value):
        payload = value[SENSITIVE_MARKER]
        if isinstance(payload, str) and payload.startswith(UNKNOWN_PREFIX):
            return tuple(payload[len(UNKNOWN_PREFIX) :].split(","))
    return ()


def settle_unknown(
    tree: dict[str, Any],
    unknown: Mapping[FieldPath, tuple[str, ...]],
    sensitive: Iterable[FieldPath],
    recorded: dict[str, Any] | None,
) -> dict[str, Any]:
    """Give every value that is unknown (an unset variable) its recorded value, else a marker.

    A plan made without secrets cannot tell whether such a value changed: the recorded one is
    assumed (so it shows no change), and where nothing is recorded the value is marked
    ``{"$sensitive": "unknown:VAR"}``. A path inside a sensitive subtree settles the subtree.
    Changes ``tree`` in place and returns it.
    """
    secret = sorted(sensitive, key=len)
    targets: dict[FieldPath, list[str]] = {}
    for path, names in unknown.items():
        target = next((s for s in secret if path.is_within(s)), path)
        targets.setdefault(target, []).extend(names)
    for target, variables in sorted(targets.items(), key=lambda item: len(item[0])):
        old = target.get_in(recorded) if recorded is not None else ABSENT
        marker = {SENSITIVE_MARKER: UNKNOWN_PREFIX + ",".join(dict.fromkeys(variables))}
        target.set_in(tree, marker if old is ABSENT else copy.deepcopy(old))
    return tree


def spec_digest(redacted_spec: dict[str, Any]) -> str:
    """Digest of a whole redacted spec (not salted: it holds only digests of secrets)."""
    return "sha256:" + hashlib.sha256(canonical_json(redacted_spec).encode("utf-8")).hexdigest()
