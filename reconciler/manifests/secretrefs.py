"""The ``$secrets.<set>.<key>`` references of one Platform manifest: each well formed, at its line.

Two rules, checked on the interpolated document (after its model accepted it):

* a string meant as a reference (it starts with ``$secrets``) must be a whole, well-formed one
  (:mod:`reconciler.models.secretref`); it is never sent as it is for the Platform to refuse;
* a saved agent's credential fields (``spec.<stage>.credential.fields.*``) take only references:
  the Platform takes no keys in a saved agent.

A value still unknown (an unset variable with ``plan --no-refresh``) is not judged. Messages name
the field and what is wrong, never the value (it may be a key written in by mistake).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.manifests.interpolate import Interpolated, child_path, item_path
from reconciler.models.secretref import (
    SECRET_REFERENCE_FORM,
    looks_like_secret_reference,
    secret_reference_message,
    secret_reference_problem,
)

__all__ = ["secret_reference_problems"]

_REFERENCES_ONLY = (
    f"must be a {SECRET_REFERENCE_FORM} reference: a saved agent takes no keys, only "
    "references to the keys of a SecretSet"
)


def secret_reference_problems(
    spec: Any,
    values: Interpolated,
    root: Location,
    *,
    prefix: str = "spec",
    references_only: Mapping[tuple[str, ...], str] | None = None,
) -> list[Problem]:
    """A problem at each malformed reference under ``spec`` (the document's value at
    ``prefix``), and at each path of ``references_only`` (paths under ``spec``) whose value is
    not a reference."""
    only = {_text(prefix, parts) for parts in references_only or {}}
    problems: list[Problem] = []
    for path, value in _strings(spec, prefix):
        if path in values.unknown:
            continue
        reason = secret_reference_problem(value)
        if reason is None:
            continue
        if looks_like_secret_reference(value):
            message = secret_reference_message(reason)
        elif path in only:
            message = _REFERENCES_ONLY
        else:
            continue
        problems.append(Problem(values.locations.get(path, root), f"{path}: {message}"))
    return problems


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, string)`` of every string under ``value``, depth first, in document order."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, child_path(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, item_path(path, index))


def _text(prefix: str, parts: tuple[str, ...]) -> str:
    """The path text of ``parts`` under ``prefix``."""
    path = prefix
    for part in parts:
        path = child_path(path, part)
    return path
