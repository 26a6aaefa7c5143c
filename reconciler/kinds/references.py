"""References between resources, as a manifest writes them.

Two forms name another resource whose engine id may be known only once it is created:

* ``{ref: KIND/NAME}``: a mapping with the one key ``ref`` (``{ref: SavedAgent/support}``);
  apply sends the referenced resource's id in its place (:func:`resolve_references`);
* ``$secrets.<set>.<key>``: a whole string naming a key of a secret set
  (:mod:`reconciler.models.secretref`, whose grammar the manifests' checks hold every such string
  to); it is sent as written (the engine resolves it) but still orders the plan after
  ``SecretSet/<set>``.

Until the referenced resource exists, the plan shows its id as :data:`KNOWN_AFTER_APPLY`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.models.secretref import parse_secret_reference

REF_KEY = "ref"
SECRET_SET_KIND = "SecretSet"
KNOWN_AFTER_APPLY = "(known after apply)"
"""How a plan shows an id that only apply will learn (Terraform's wording)."""
_UNKNOWN_KEY = "$known_after_apply"
_ADDRESS = re.compile(r"^[A-Z][A-Za-z0-9]*/[A-Za-z0-9_.-]+$")


def is_reference(value: Any) -> bool:
    """True for a ``{ref: KIND/NAME}`` mapping."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(REF_KEY), str)
        and _ADDRESS.match(value[REF_KEY]) is not None
    )


def find_references(spec: Any) -> tuple[str, ...]:
    """Every address ``spec`` references (both forms), sorted, each once."""
    found: set[str] = set()
    stack = [spec]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if is_reference(value):
                found.add(value[REF_KEY])
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            secret = parse_secret_reference(value)
            if secret is not None:
                found.add(f"{SECRET_SET_KIND}/{secret[0]}")
    return tuple(sorted(found))


def known_after_apply(address: str) -> dict[str, str]:
    """The marker a plan holds in place of ``address``'s id while it is not known yet."""
    return {_UNKNOWN_KEY: address}


def is_known_after_apply(value: Any) -> bool:
    """True for the marker of :func:`known_after_apply`."""
    return isinstance(value, dict) and len(value) == 1 and _UNKNOWN_KEY in value


def resolve_references(spec: Any, ids: Mapping[str, str | None]) -> Any:
    """``spec`` with each ``{ref: KIND/NAME}`` replaced by ``ids[KIND/NAME]``, or by the
    known-after-apply marker where that id is None or missing. A new tree; ``spec`` is left as
    it is."""
    if isinstance(spec, dict):
        if is_reference(spec):
            found = ids.get(spec[REF_KEY])
            return found if found is not None else known_after_apply(spec[REF_KEY])
        return {k: resolve_references(v, ids) for k, v in spec.items()}
    if isinstance(spec, list):
        return [resolve_references(v, ids) for v in spec]
    return spec
