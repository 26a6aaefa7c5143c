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
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from reconciler.diff.paths import PathPart, parse_path

SENSITIVE_MARKER = "$sensitive"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_value(value: Any, salt: str) -> str:
    """Salted digest of one sensitive value."""
    data = (salt + "\x00" + canonical_json(value)).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_redacted(value: Any) -> bool:
    """True for a ``{"$sensitive": ...}`` marker."""
    return isinstance(value, dict) and len(value) == 1 and SENSITIVE_MARKER in value


def redact(spec: dict[str, Any], sensitive: Iterable[str], salt: str) -> dict[str, Any]:
    """Copy of ``spec`` with the value at every sensitive path replaced by its digest marker.

    Paths that do not exist in ``spec`` are ignored (a sensitive key may have been dropped by
    normalization, e.g. a null value).
    """
    return redact_in_place(copy.deepcopy(spec), sensitive, salt)


def redact_in_place(tree: dict[str, Any], sensitive: Iterable[str], salt: str) -> dict[str, Any]:
    """Like :func:`redact`, but replaces the values in ``tree`` itself (and returns it).

    For a tree the caller owns outright, e.g. the fresh copy :func:`normalize_spec` returns: it
    saves the deep copy.
    """
    for path in sorted(sensitive, key=len):
        _replace(tree, _parse_cached(path), salt)
    return tree


@lru_cache(maxsize=4096)
def _parse_cached(path: str) -> tuple[PathPart, ...]:
    return parse_path(path)


def _replace(tree: Any, parts: tuple[PathPart, ...], salt: str) -> None:
    node = tree
    for part in parts[:-1]:
        node = _child(node, part)
        if node is None or is_redacted(node):
            return
    last = parts[-1]
    if isinstance(node, dict) and isinstance(last, str):
        if last in node and not is_redacted(node[last]):
            node[last] = {SENSITIVE_MARKER: digest_value(node[last], salt)}
    elif (
        isinstance(node, list)
        and isinstance(last, int)
        and 0 <= last < len(node)
        and not is_redacted(node[last])
    ):
        node[last] = {SENSITIVE_MARKER: digest_value(node[last], salt)}


def _child(node: Any, part: PathPart) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def spec_digest(redacted_spec: dict[str, Any]) -> str:
    """Digest of a whole redacted spec (not salted: it holds only digests of secrets)."""
    return "sha256:" + hashlib.sha256(canonical_json(redacted_spec).encode("utf-8")).hexdigest()
