"""One manifest document of a Platform kind (``SecretSet``, ``SavedAgent``, ``PhoneNumber``) ->
one :class:`~reconciler.models.resources.DesiredResource`.

The document is interpolated (``kind`` and ``name`` taken literally), validated against its
kind's model (:mod:`reconciler.models.platform`: unknown keys are problems with their line),
and turned into the spec that is diffed and sent:

* ``SecretSet``: ``{"keys": {key: value}}``; every key's value is sensitive (a salted digest in
  state and plans), and must come from the environment (a literal value in git is refused);
* ``SavedAgent``: the ``spec`` as written, ``agent_name`` defaulting to the manifest's name;
* ``PhoneNumber``: the ``spec`` as written; ``sip_trunk.auth`` is write-only (sensitive).

Values interpolated from the environment are sensitive as an agent's are (secret-like keys and
interpolated values, :mod:`reconciler.manifests.sensitive`); a ``$secrets.<set>.<key>``
reference is not (it is a name, not a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from reconciler.errors import Location, Problem
from reconciler.manifests.defaults import mapping_keys, refused_defaults
from reconciler.manifests.interpolate import Interpolated, interpolate_tree
from reconciler.manifests.introspect import known_keys
from reconciler.manifests.secretrefs import secret_reference_problems
from reconciler.manifests.sensitive import minimal, sensitive_paths
from reconciler.manifests.unknown import is_under, unknown_errors, validate_known
from reconciler.manifests.validation import path_of, translate, unknown_key_message
from reconciler.manifests.yamlfile import LineDict
from reconciler.models.fieldpath import ABSENT, FieldPath
from reconciler.models.platform import (
    MANIFEST_MODELS,
    PHONE_NUMBER,
    SAVED_AGENT,
    SECRET_SET,
    SavedAgentManifest,
)
from reconciler.models.resources import DesiredResource
from reconciler.models.secretref import looks_like_secret_reference
from reconciler.models.secrets import is_sensitive

LITERAL_KEYS = frozenset({"kind", "name", "protect"})
_SPEC = "spec"
"""The key of a resource's spec: the only values that may stay unknown (an unset variable)."""
SIP_AUTH = FieldPath(("sip_trunk", "auth"))


@dataclass
class LoadedResource:
    """What one document of a Platform kind gave."""

    resource: DesiredResource | None = None
    problems: list[Problem] = field(default_factory=list)
    address: str | None = None
    """``KIND/NAME`` of the document when its ``name`` is a string, even if it was refused (a
    reference to it is then not reported as a reference to nothing)."""


def is_resource_kind(kind: object) -> bool:
    """True for the ``kind:`` of a Platform kind."""
    return isinstance(kind, str) and kind in MANIFEST_MODELS


def load_resource(
    raw: LineDict,
    kind: str,
    path: str,
    line: int,
    environ: Mapping[str, str],
    *,
    allow_unset: bool = False,
    sandbox: bool = False,
) -> LoadedResource:
    """Validate one document of kind ``kind`` of manifest file ``path`` and build its resource.

    ``sandbox``: the Platform is the embedded sandbox, the only one a ``${VAR:-default}``
    default of a sensitive value may reach (:mod:`reconciler.manifests.defaults`).
    """
    root = Location(path, line)
    named = raw.get("name")
    loaded = LoadedResource(address=f"{kind}/{named}" if isinstance(named, str) else None)
    values = interpolate_tree(raw, environ, root, LITERAL_KEYS, allow_unset=allow_unset)
    loaded.problems.extend(values.problems)
    if values.defaulted:
        loaded.problems.extend(
            refused_defaults(
                values, root, sandbox=sandbox, sensitive=_sensitive, allow_unset=allow_unset
            )
        )
    data = values.value
    if not isinstance(data, dict) or values.problems:
        return loaded
    if "import" in data:  # the manifest's import: entry is built for agents only, so far
        loaded.problems.append(_import_unsupported(kind, data, values, root))
        return loaded
    try:
        manifest, _ = validate_known(MANIFEST_MODELS[kind], data, values.unknown, _SPEC)
    except pydantic.ValidationError as exc:
        loaded.problems.extend(_refused(exc, kind, values, root))
        return loaded
    name: str = getattr(manifest, "name")  # noqa: B009 (every Platform model has a name)
    protect: bool = getattr(manifest, "protect")  # noqa: B009
    if kind == SECRET_SET:
        spec, sensitive = _secret_set_spec(data, values, root, loaded.problems)
        prefix = ""
    else:
        only = manifest.spec.credential_fields() if isinstance(manifest, SavedAgentManifest) else {}
        loaded.problems.extend(
            secret_reference_problems(data["spec"], values, root, references_only=only)
        )
        prefix = "spec."
        spec, sensitive = _platform_spec(kind, name, data, values, prefix)
    if loaded.problems:
        return loaded
    loaded.resource = DesiredResource(
        kind=kind,
        name=name,
        path=path,
        line=line,
        spec=spec,
        sensitive=sensitive,
        secrets=_secrets(values, prefix, sensitive),
        protect=protect,
        unknown={
            FieldPath.parse(p[len(prefix) :]): names
            for p, names in values.unknown.items()
            if p.startswith(prefix)
        },
        lines={
            p[len(prefix) :]: at
            for p, at in values.locations.lines_in(path).items()
            if p.startswith("keys" if kind == SECRET_SET else prefix)
        },
    )
    return loaded


def _import_unsupported(
    kind: str, data: dict[str, Any], values: Interpolated, root: Location
) -> Problem:
    """An ``import:`` entry in a document of a Platform kind: the commands that take the
    resource in instead."""
    named, ident = data.get("name"), data.get("import")
    named = named if isinstance(named, str) and named else "NAME"
    ident = ident if isinstance(ident, str) and ident else "ID"
    return Problem(
        values.locations.get("import", root),
        f"import: is not supported for kind {kind} yet; take the resource in with "
        f"`reconciler import {kind}/{named} {ident}` (or `reconciler pull --record` for "
        "everything the Platform holds that state lacks), then remove this entry",
    )


def _refused(
    exc: pydantic.ValidationError, kind: str, values: Interpolated, root: Location
) -> list[Problem]:
    """The problems of a document its kind's model refuses, located in the manifest; an
    unknown value's failed check is not one, and an unknown key names the keys known there."""
    model = MANIFEST_MODELS[kind]
    where = f"the {kind} manifest"
    aside = unknown_errors(
        exc.errors(include_url=False, include_input=False), values.unknown, _SPEC
    )

    def unknown_key(path: str, error: dict[str, Any]) -> str | None:
        if error["type"] != "extra_forbidden" or not error["loc"]:
            return None
        *parent, key = error["loc"]
        known = known_keys(model, tuple(parent))
        return unknown_key_message(str(key), path_of(parent), known, where)

    def skip(path: str, error: dict[str, Any]) -> bool:
        return is_under(tuple(error["loc"]), aside)

    return translate(exc, values.locations, root, where=where, skip=skip, custom=unknown_key)


def _secret_set_spec(
    data: dict[str, Any], values: Interpolated, root: Location, problems: list[Problem]
) -> tuple[dict[str, Any], frozenset[FieldPath]]:
    """A secret set's spec (its keys) and sensitive paths (every key's value); a value
    written in the manifest rather than read from the environment is added to ``problems``."""
    spec: dict[str, Any] = {"keys": dict(data["keys"])}
    literal = sorted(k for k in spec["keys"] if f"keys.{k}" not in values.interpolated)
    literal = [k for k in literal if f"keys.{k}" not in values.unknown]
    for key in literal:
        at = values.locations.get(f"keys.{key}", root)
        problems.append(
            Problem(
                at,
                f"keys.{key}: a secret value must come from the environment "
                f"(write ${{VARIABLE}}), never from the manifest itself",
            )
        )
    return spec, frozenset(FieldPath(("keys", k)) for k in spec["keys"])


def _platform_spec(
    kind: str, name: str, data: dict[str, Any], values: Interpolated, prefix: str
) -> tuple[dict[str, Any], frozenset[FieldPath]]:
    """The ``spec`` of a saved agent or number (a saved agent's ``agent_name`` defaulting to
    its name) and its sensitive paths: secret-like keys, interpolated sensitive values, a
    number's SIP auth."""
    spec = dict(data["spec"])
    if kind == SAVED_AGENT and not spec.get("agent_name"):
        spec["agent_name"] = name
    interpolated = {
        FieldPath.parse(p[len(prefix) :]) for p in values.interpolated if p.startswith(prefix)
    }
    found = {
        p
        for p in sensitive_paths(spec, interpolated)
        if not _only_references(p.get_in(spec)) or any(i.is_within(p) for i in interpolated)
    }
    if kind == PHONE_NUMBER and SIP_AUTH.get_in(spec) not in (ABSENT, None):
        found.add(SIP_AUTH)
    return spec, minimal(found)


def _sensitive(path: str) -> bool:
    """Whether an interpolated value at document ``path`` is sensitive: a secret set's value,
    or a value of a ``spec`` under a key that is not plain."""
    keys = mapping_keys(path)
    if len(keys) >= 2 and keys[0] == "keys":
        return True
    return len(keys) >= 2 and keys[0] == "spec" and is_sensitive(keys[1:], interpolated=True)


def _only_references(value: Any, key: str = "") -> bool:
    """True when every value under ``value`` is a ``$secrets`` reference (a name, not a
    secret) or a credential's ``mode``: a secret-like key (``credential``, ``api_key``) that
    holds only those is not sensitive."""
    if isinstance(value, dict):
        return all(_only_references(v, str(k)) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_references(v) for v in value)
    if isinstance(value, str):
        return looks_like_secret_reference(value) or key == "mode"
    return value is None


def _secrets(values: Interpolated, prefix: str, sensitive: frozenset[FieldPath]) -> frozenset[str]:
    """Each value interpolated under a sensitive path (to scrub from any text)."""
    found: set[str] = set()
    for doc_path, pieces in values.pieces.items():
        if not doc_path.startswith(prefix):
            continue
        path = FieldPath.parse(doc_path[len(prefix) :])
        if any(path.is_within(s) for s in sensitive):
            found.update(p for p in pieces if p)
    return frozenset(found)
