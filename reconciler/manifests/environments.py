"""Environments in documents: which environments a manifest exists in, and its overrides there.

A project's ``reconciler.yaml`` names its environments (``environments: {staging: ..., prod:
...}``); one ``agents.d/`` serves them all. Any manifest, of any kind, may say:

- ``environments: [staging, prod]``: the environments it exists in (default: every one);
- ``overrides: {prod: {...}}``: what differs in one environment, merged onto the document the
  way :func:`overlay` says (mappings merge key by key, lists and scalars replace, ``null``
  removes the key).

:func:`select_environment` works on the raw document (after ``extends`` is resolved, before
interpolation and before the kind's model validates it), so it knows no kind: the result is an
ordinary document, validated as if it had been written that way. Every merged key keeps the
line it was written at, so a problem in an override is reported at the override's line.

The settings file uses the same :func:`overlay` for an environment's block of settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.manifests.extends import EXTENDS_KEY
from reconciler.manifests.yamlfile import LineDict, LineList, describe_key

ENVIRONMENTS_KEY = "environments"
OVERRIDES_KEY = "overrides"
FIXED_KEYS = (ENVIRONMENTS_KEY, OVERRIDES_KEY, "name", "kind", EXTENDS_KEY)
"""Keys an override may not set: the document's identity, and what was read before the
overrides are merged (its kind, its ``extends``)."""
ALL = "all"
"""``--env all``: every environment (never an environment's name)."""
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
NAME_RULE = "1 to 31 lowercase letters, digits and '-', starting with a letter"


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an environment, or ``None``."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return f"invalid environment name {name!r}: use {NAME_RULE}"
    if name == ALL:
        return f"'{ALL}' cannot name an environment (--env {ALL} means every environment)"
    return None


def overlay(base: Any, override: Any) -> Any:
    """``override`` on top of ``base``: mappings merge, ``null`` removes, anything else replaces.

    Locations are kept: a key from ``override`` keeps the line it was written at.
    """
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = LineDict(getattr(base, "path", ""), getattr(base, "line", 0))
    merged.paths = {}
    for source in (base, override):
        for key, value in source.items():
            if source is override and value is None:
                merged.pop(key, None)
                merged.lines.pop(key, None)
                merged.paths.pop(key, None)
                continue
            if source is override and key in merged:
                value = overlay(merged[key], value)
            merged[key] = value
            if isinstance(source, LineDict):
                where = source.key_location(key)
                merged.lines[key] = where.line
                merged.paths[key] = where.path
    return merged


@dataclass
class Selected:
    """A document as one environment sees it."""

    document: LineDict | None = None
    """The document with its overrides merged in (``None``: absent there, or unusable)."""
    present: bool = True
    problems: list[Problem] = field(default_factory=list)


def select_environment(
    document: LineDict, environment: str | None, declared: tuple[str, ...]
) -> Selected:
    """``document`` as ``environment`` sees it (``None``: a project without environments).

    The loader adds the environment's name to every problem (``[prod] ...``).
    """
    has_presence = ENVIRONMENTS_KEY in document
    has_overrides = OVERRIDES_KEY in document
    if not has_presence and not has_overrides:
        return Selected(document)
    selected = Selected()
    if environment is None:
        selected.problems.extend(_no_environments_problems(document))
        return selected
    presence = document.get(ENVIRONMENTS_KEY)
    if has_presence:
        selected.problems.extend(_presence_problems(document, declared))
    chosen: Any = None
    if has_overrides:
        chosen = _chosen_overrides(document, environment, declared, selected.problems)
    if selected.problems:
        return selected
    if isinstance(presence, list) and environment not in presence:
        selected.present = False
        return selected
    base = _without_selection_keys(document)
    selected.document = overlay(base, chosen) if isinstance(chosen, dict) else base
    return selected


def _no_environments_problems(document: LineDict) -> list[Problem]:
    """In a project without environments: each of ``environments:`` and ``overrides:`` the
    document writes."""
    return [
        Problem(
            document.key_location(key),
            f"{key}: this project declares no environments (add `environments:` to "
            "reconciler.yaml, see docs/environments.md)",
        )
        for key in (ENVIRONMENTS_KEY, OVERRIDES_KEY)
        if key in document
    ]


def _presence_problems(document: LineDict, declared: tuple[str, ...]) -> list[Problem]:
    """What is wrong with the document's ``environments:`` list: not a list of names, a name
    not declared, or a name listed twice."""
    presence = document.get(ENVIRONMENTS_KEY)
    where = document.key_location(ENVIRONMENTS_KEY)
    if not isinstance(presence, list) or not all(isinstance(n, str) for n in presence):
        return [Problem(where, "environments must be a list of environment names")]
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, name in enumerate(presence):
        line = presence.lines[index] if isinstance(presence, LineList) else where.line
        if name not in declared:
            message = f"environments: no environment {name!r} ({_declared(declared)})"
            problems.append(Problem(Location(where.path, line), message))
        elif name in first:
            message = f"environments: {name!r} is listed twice (first at line {first[name]})"
            problems.append(Problem(Location(where.path, line), message))
        first.setdefault(name, line)
    return problems


def _chosen_overrides(
    document: LineDict, environment: str, declared: tuple[str, ...], problems: list[Problem]
) -> Any:
    """The document's ``overrides:`` of ``environment`` (None: none); what is wrong with its
    ``overrides:`` (not a mapping, an environment not declared, an override that is not a
    mapping or sets a fixed key) is added to ``problems``."""
    overrides = document.get(OVERRIDES_KEY)
    where = document.key_location(OVERRIDES_KEY)
    if not isinstance(overrides, dict):
        message = "overrides must map environment names to what differs there"
        problems.append(Problem(where, message))
        return None
    for name in overrides:
        if name not in declared:
            at = _at(overrides, name, where)
            written = overrides.written if isinstance(overrides, LineDict) else None
            shown = describe_key(name, written.get(name) if written else None)
            message = f"overrides: no environment {shown} ({_declared(declared)})"
            problems.append(Problem(at, message))
    chosen = overrides.get(environment)
    if chosen is not None and not isinstance(chosen, dict):
        at = overrides.key_location(environment) if isinstance(overrides, LineDict) else where
        problems.append(Problem(at, f"overrides.{environment} must be a mapping"))
    elif isinstance(chosen, dict):
        for key in FIXED_KEYS:
            if key in chosen:
                at = _at(chosen, key, where)
                problems.append(Problem(at, f"overrides.{environment} cannot set {key!r}"))
    return chosen


def _without_selection_keys(document: LineDict) -> LineDict:
    """``document`` without its ``environments:`` and ``overrides:`` (its lines kept)."""
    base = LineDict(document.path, document.line)
    base.lines = document.lines
    base.paths = document.paths
    base.update((k, v) for k, v in document.items() if k not in (ENVIRONMENTS_KEY, OVERRIDES_KEY))
    return base


def _declared(declared: tuple[str, ...]) -> str:
    return f"declared: {', '.join(declared)}" if declared else "none declared"


def _at(mapping: Any, key: Any, where: Location) -> Location:
    return mapping.key_location(key) if isinstance(mapping, LineDict) else where
