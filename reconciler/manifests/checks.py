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

A problem of a reference stands at the reference's line and names its field
(``spec.llm.credential.fields.api_key``); one of a duplicate at the document's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.manifests.interpolate import child_path, item_path
from reconciler.models.fieldpath import FieldPath
from reconciler.models.platform import SECRET_SET, UNIQUE_FIELDS
from reconciler.models.resources import DesiredResource
from reconciler.models.secretref import parse_secret_reference

__all__ = ["duplicate_resources", "duplicate_values", "undeclared_references"]


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
    found: Mapping[str, list[DesiredResource]],
    unmanaged: Iterable[str],
    invalid: Iterable[str] = (),
) -> list[Problem]:
    """A problem for every reference to something the manifests do not declare. ``invalid``:
    addresses whose documents were refused (reported already): references to them are not
    judged."""
    outside = set(unmanaged)
    refused = set(invalid)
    problems: list[Problem] = []
    declared = {address: resources[0] for address, resources in found.items()}
    for address, resource in sorted(declared.items()):
        for field, kind, target, key in _references(resource):
            where = Location(resource.path, resource.lines.get(field, resource.line))
            target_address = f"{kind}/{target}"
            if target_address in refused and target_address not in declared:
                continue
            if target_address in outside:
                if key is None:
                    problems.append(
                        Problem(
                            where,
                            f"{_shown(resource, field)}: {address}: {{ref: {target_address}}} "
                            "names a resource marked unmanaged: its id is unknown here; declare "
                            "it in agents.d/",
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
                        f"{_shown(resource, field)}: {address} references {target_address}, "
                        f"which no manifest declares ({hint})",
                    )
                )
            elif key is not None and key not in held.spec.get("keys", {}):
                has = ", ".join(sorted(held.spec.get("keys", {})))
                problems.append(
                    Problem(
                        where,
                        f"{_shown(resource, field)}: {address} references "
                        f"$secrets.{target}.{key}: {target_address} ({held.path}:{held.line}) "
                        f"has no key {key!r} (its keys: {has})",
                    )
                )
    return problems


def _shown(resource: DesiredResource, field: str) -> str:
    """``field`` (a path in the resource's spec) as its path in the document: under ``spec``,
    except in a secret set, whose spec is the document's ``keys``."""
    if resource.kind == SECRET_SET or not field:
        return field or "spec"
    return f"spec{field}" if field.startswith("[") else f"spec.{field}"


def _references(resource: DesiredResource) -> list[tuple[str, str, str, str | None]]:
    """``(field, kind, name, key)`` of every reference in the resource's spec, in document
    order (field: the path of the reference in the spec; key: of a ``$secrets`` one)."""
    found: list[tuple[str, str, str, str | None]] = []
    for field, value in _walk(resource.spec, ""):
        if isinstance(value, dict):
            ref = value["ref"]
            kind, _, name = ref.partition("/")
            found.append((field, kind, name, None))
        else:
            secret = parse_secret_reference(value)
            if secret is not None:
                found.append((field, SECRET_SET, secret[0], secret[1]))
    return found


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every ``{ref: KIND/NAME}`` mapping and every string under
    ``value``."""
    if isinstance(value, dict):
        ref = value.get("ref")
        if len(value) == 1 and isinstance(ref, str) and "/" in ref:
            yield path, value
            return
        for key, item in value.items():
            yield from _walk(item, child_path(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, item_path(path, index))
    elif isinstance(value, str):
        yield path, value
