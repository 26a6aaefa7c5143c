"""Checks across the manifests of Platform kinds: each address is declared once, each value the
Platform holds once per project is declared once, and every reference names something declared.

* A resource's address (``KIND/NAME``) is its key: declared twice, it is reported at every place.
* A field of :data:`~reconciler.models.platform.UNIQUE_FIELDS` (a phone number's ``number``)
  with one value in two manifests is reported at each: apply would create the first and the
  Platform would refuse the second.
* ``{ref: KIND/NAME}`` must name a resource some manifest declares; ``$secrets.<set>.<key>`` a
  declared ``SecretSet`` that has that key, unless the settings name the set as unmanaged
  (``unmanaged: [SecretSet/<set>]``: made outside this project, which then checks nothing of it).
  A ``{ref:}`` cannot name an unmanaged resource: its id would be unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.models.fieldpath import FieldPath
from reconciler.models.platform import SECRET_SET, UNIQUE_FIELDS
from reconciler.models.resources import DesiredResource

__all__ = ["duplicate_resources", "duplicate_values", "undeclared_references"]

_SECRET = re.compile(r"^\$secrets\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$")


def duplicate_resources(found: Mapping[str, list[DesiredResource]]) -> list[Problem]:
    """A problem at every place of each address declared more than once."""
    problems: list[Problem] = []
    for address, resources in found.items():
        if len(resources) > 1:
            for resource in resources:
                others = [f"{r.path}:{r.line}" for r in resources if r is not resource]
                problems.append(
                    Problem(
                        Location(resource.path, resource.line),
                        f"duplicate {address} (also declared at {', '.join(others)})",
                    )
                )
    return problems


def duplicate_values(found: Mapping[str, list[DesiredResource]]) -> list[Problem]:
    """A problem at every resource that declares a value of :data:`UNIQUE_FIELDS` another one
    declares too (values not known yet, from unset variables, are not compared)."""
    groups: dict[tuple[str, str, str], list[DesiredResource]] = {}
    for resources in found.values():
        resource = resources[0]
        for field in UNIQUE_FIELDS.get(resource.kind, ()):
            value = resource.spec.get(field)
            if isinstance(value, str) and FieldPath((field,)) not in resource.unknown:
                groups.setdefault((resource.kind, field, value), []).append(resource)
    problems: list[Problem] = []
    for (kind, field, value), group in sorted(groups.items()):
        for resource in group if len(group) > 1 else ():
            others = ", ".join(
                f"{o.address} ({o.path}:{o.line})" for o in group if o is not resource
            )
            problems.append(
                Problem(
                    Location(resource.path, resource.line),
                    f"{resource.address}: {field} {value!r} is declared by {others} too; the "
                    f"Platform holds one {kind} of each {field} in a project",
                )
            )
    return problems


def undeclared_references(
    found: Mapping[str, list[DesiredResource]], unmanaged: Iterable[str]
) -> list[Problem]:
    """A problem for every reference to something the manifests do not declare."""
    outside = set(unmanaged)
    problems: list[Problem] = []
    declared = {address: resources[0] for address, resources in found.items()}
    for address, resource in sorted(declared.items()):
        where = Location(resource.path, resource.line)
        for kind, target, key in _references(resource.spec):
            target_address = f"{kind}/{target}"
            if target_address in outside:
                if key is None:
                    problems.append(
                        Problem(
                            where,
                            f"{address}: {{ref: {target_address}}} names a resource marked "
                            "unmanaged: its id is unknown here; declare it in agents.d/",
                        )
                    )
                continue
            held = declared.get(target_address)
            if held is None:
                hint = (
                    f"declare it in agents.d/, or list {target_address} under unmanaged: in "
                    "reconciler.yaml if it is made outside this project"
                    if kind == SECRET_SET
                    else "declare it in agents.d/"
                )
                problems.append(
                    Problem(
                        where,
                        f"{address} references {target_address}, which no manifest "
                        f"declares ({hint})",
                    )
                )
            elif key is not None and key not in held.spec.get("keys", {}):
                problems.append(
                    Problem(
                        where,
                        f"{address} references $secrets.{target}.{key}: {target_address} "
                        f"({held.path}:{held.line}) has no key {key!r}",
                    )
                )
    return problems


def _references(spec: Any) -> list[tuple[str, str, str | None]]:
    """``(kind, name, key)`` of every reference in ``spec`` (key: of a ``$secrets`` one)."""
    found: list[tuple[str, str, str | None]] = []
    stack = [spec]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("ref")
            if len(value) == 1 and isinstance(ref, str) and "/" in ref:
                kind, _, name = ref.partition("/")
                found.append((kind, name, None))
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            match = _SECRET.match(value)
            if match is not None:
                found.append((SECRET_SET, match.group(1), match.group(2)))
    return sorted(set(found), key=lambda f: (f[0], f[1], f[2] or ""))
