"""The shape of a partial's blocks, checked on its own (whether or not a manifest extends it).

A partial is merged under the manifests that extend it, and a mapping of the manifest replaces
whatever the partial holds at that key: a wrong-typed block in a partial (``properties: [1]``)
would vanish silently under a manifest that sets ``properties:``, and a partial nothing extends
is never merged at all. So every partial of an agent (no ``kind``, or ``kind: Agent``) is checked
against the manifest schema here: each block the schema declares a mapping (``properties``,
``llm``, ...) must be a mapping (or ``null``), each it declares a list must be a list, at the
partial's line. Scalars are left to the merged manifest (they may hold ``${VAR}`` until
interpolated); keys the schema does not know are left to it too (``strict: false``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from reconciler.errors import Problem
from reconciler.manifests.schema import manifest_schema
from reconciler.manifests.yamlfile import LineDict

_AGENT = "Agent"


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return manifest_schema(partial=True)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed, and ``anyOf: [X, null]`` taken as ``X``."""
    for _ in range(20):  # a reference chain, never a cycle in this schema
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node = _schema()["$defs"][ref.removeprefix("#/$defs/")]
            continue
        options = [o for o in node.get("anyOf", ()) if o.get("type") != "null"]
        if len(options) == 1 and len(node.get("anyOf", ())) == 2:
            node = options[0]
            continue
        break
    return node


def _kind_of(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    return kind if kind in ("object", "array") else None


def partial_shape_problems(doc: LineDict) -> list[Problem]:
    """A problem, at the partial's line, for each block of ``doc`` (a partial's mapping) that
    is not the mapping or the list the manifest schema declares there."""
    if doc.get("kind", _AGENT) != _AGENT:
        return []
    problems: list[Problem] = []
    _check(doc, _schema(), "", problems)
    return problems


def _check(doc: LineDict, node: dict[str, Any], prefix: str, problems: list[Problem]) -> None:
    known = node.get("properties")
    if not isinstance(known, dict):
        return
    for key, value in doc.items():
        if not isinstance(key, str) or key not in known or value is None:
            continue
        child = _resolve(known[key])
        expected = _kind_of(child)
        path = f"{prefix}{key}"
        if expected == "object":
            if isinstance(value, LineDict):
                _check(value, child, f"{path}.", problems)
            elif not isinstance(value, dict):
                message = f"{path} must be a mapping, not {_what(value)}"
                problems.append(Problem(doc.key_location(key), message))
        elif expected == "array" and not isinstance(value, list):
            message = f"{path} must be a list, not {_what(value)}"
            problems.append(Problem(doc.key_location(key), message))


def _what(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"
