"""One manifest document → one :class:`~reconciler.models.desired.DesiredAgent`.

The steps, each collecting every problem it finds rather than stopping at the first:

0. ``kind:`` is ``Agent`` or absent (the default); a Platform kind (``SecretSet``,
   ``SavedAgent``, ``PhoneNumber``) is loaded by :mod:`reconciler.manifests.resources`;
1. ``extends`` is resolved (the partial's keys keep their own locations), then the document is
   taken as the selected environment sees it (:mod:`reconciler.manifests.environments`);
2. string values are interpolated (``name``, ``extends`` and ``strict`` are taken literally);
   with any engine but the sandbox, a ``${VAR:-default}`` default taken for a sensitive value
   is refused (:mod:`reconciler.manifests.defaults`);
3. unknown keys are reported with a suggestion, unless the document says ``strict: false``;
4. the typed models validate the core fields, then the cross-field rules run;
5. the token mode is decided: ``token: auto`` (minted at apply, absent from the spec; needs an
   App Certificate in the settings), a literal token (top-level ``token`` or
   ``properties.token``; sent as ``properties.token``, sensitive), or none (absent, null or
   empty).

The spec is the validated model dumped with only the keys that were written, so a value given as
``"30"`` for ``idle_timeout`` is sent as ``30``; unknown keys kept by ``strict: false`` pass
through as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pydantic

from reconciler.errors import Location, Problem
from reconciler.manifests.defaults import refused_defaults, sensitive_spec_value
from reconciler.manifests.environments import Selected, select_environment
from reconciler.manifests.extends import ExtendsResolver
from reconciler.manifests.interpolate import Interpolated, interpolate_tree
from reconciler.manifests.introspect import unknown_keys
from reconciler.manifests.resources import is_resource_kind, load_resource
from reconciler.manifests.sensitive import minimal, sensitive_paths
from reconciler.manifests.unknown import Loc, is_under, put_back, unknown_errors, validate_known
from reconciler.manifests.validation import path_of, translate, unknown_key_message
from reconciler.manifests.yamlfile import Document, LineDict
from reconciler.models.desired import DesiredAgent, TokenMode
from reconciler.models.fieldpath import FieldPath
from reconciler.models.manifest import AGENT_KIND, Manifest
from reconciler.models.platform import PLATFORM_KINDS
from reconciler.models.resources import DesiredResource
from reconciler.models.rules import RuleViolation, check_rules, token_required

LITERAL_KEYS = frozenset({"kind", "name", "extends", "strict"})
"""Top-level keys that are never interpolated."""
SPEC_KEYS = ("preset", "pipeline_id")
"""Top-level keys sent beside ``properties``."""
AUTO = "auto"
_SPEC_ROOT = "properties"
"""The key of the spec: the only values that may stay unknown (an unset variable) in it."""
_KINDS = ", ".join((AGENT_KIND, *PLATFORM_KINDS))
_WHERE = "the manifest"
_NAME_RULE = "use 1 to 48 lowercase letters, digits and '-', starting with a letter or digit"


@dataclass
class LoadedDocument:
    """What one document gave: an agent (when it has no problem) and its name's location."""

    agent: DesiredAgent | None = None
    resource: DesiredResource | None = None
    """A document of a Platform kind gives a resource instead of an agent."""
    invalid: str | None = None
    """The address of a document of a Platform kind that was refused (when it names one)."""
    name: str | None = None
    name_location: Location | None = None
    renamed_from: tuple[str, Location] | None = None
    """An agent's ``renamed_from`` (when it names another agent) and where it is written."""
    problems: list[Problem] = field(default_factory=list)


def load_document(
    document: Document,
    path: str,
    resolver: ExtendsResolver,
    environ: Mapping[str, str],
    *,
    has_certificate: bool,
    allow_unset: bool = False,
    sandbox: bool = False,
    platform_sandbox: bool = False,
    environment: str | None = None,
    declared: tuple[str, ...] = (),
) -> LoadedDocument:
    """Validate one document of manifest file ``path`` and build its agent, as ``environment``
    (one of ``declared``; ``None``: a project without environments) sees it.

    ``sandbox``: the engine is the embedded sandbox, the only one a ``${VAR:-default}`` default
    of a sensitive value may reach (:mod:`reconciler.manifests.defaults`).
    """
    root = Location(path, document.line)
    loaded = LoadedDocument()
    raw = document.value
    if not isinstance(raw, LineDict):
        loaded.problems.append(
            Problem(root, "a manifest must be a mapping (name, properties, ...)")
        )
        return loaded
    kind = raw.get("kind", AGENT_KIND)
    if is_resource_kind(kind):
        selection = select_environment(raw, environment, declared)
        return _resource_document(
            selection, kind, path, document.line, environ, allow_unset, platform_sandbox
        )
    if kind != AGENT_KIND:
        loaded.problems.append(Problem(raw.key_location("kind"), _unknown_kind_message(kind)))
        return loaded
    resolved = resolver.resolve(raw)
    if resolved is None:
        return loaded  # the resolver reported why
    selected = select_environment(resolved, environment, declared)
    loaded.problems.extend(selected.problems)
    name = raw.get("name")
    if isinstance(name, str) and selected.present:
        loaded.name, loaded.name_location = name, raw.key_location("name")
    merged = selected.document
    if merged is None:
        return loaded  # absent in this environment, or its selection failed (reported)
    values = interpolate_tree(merged, environ, root, LITERAL_KEYS, allow_unset=allow_unset)
    loaded.problems.extend(values.problems)
    if values.defaulted:
        loaded.problems.extend(
            refused_defaults(
                values,
                root,
                sandbox=sandbox,
                sensitive=sensitive_spec_value,
                allow_unset=allow_unset,
            )
        )
    data = values.value
    if not isinstance(data, dict):
        return loaded
    manifest, aside = _validate(data, values, root, loaded.problems)
    if manifest is None or loaded.problems:
        return loaded
    agent, problems = _agent(manifest, data, values, path, document.line, has_certificate, aside)
    loaded.problems.extend(problems)
    loaded.agent = None if problems else agent
    if agent.renamed_from and agent.renamed_from != agent.name:
        where = values.locations.get("renamed_from", root)
        loaded.renamed_from = (agent.renamed_from, where)
    return loaded


def _resource_document(
    selection: Selected,
    kind: str,
    path: str,
    line: int,
    environ: Mapping[str, str],
    allow_unset: bool,
    platform_sandbox: bool,
) -> LoadedDocument:
    """A document of a Platform kind, as its environment ``selection`` left it: its resource,
    or its address when it is refused."""
    loaded = LoadedDocument(problems=list(selection.problems))
    if selection.document is None:
        return loaded  # absent in this environment, or its selection failed (reported)
    found = load_resource(
        selection.document,
        kind,
        path,
        line,
        environ,
        allow_unset=allow_unset,
        sandbox=platform_sandbox,
    )
    loaded.problems.extend(found.problems)
    loaded.resource = found.resource
    if found.resource is None:
        loaded.invalid = found.address
    return loaded


def _unknown_kind_message(kind: Any) -> str:
    """Why ``kind:`` names no kind a manifest declares (with the kind it may have meant)."""
    if not isinstance(kind, str):
        return f"kind: must be the name of a kind ({_KINDS}), not a {_type(kind)}"
    shown = kind if kind.isprintable() else kind.encode("unicode_escape").decode("ascii")
    message = f"unknown kind '{shown[:60]}': agents.d declares kinds {_KINDS}"
    close = difflib.get_close_matches(kind, (AGENT_KIND, *PLATFORM_KINDS), n=1)
    if close:
        message += f" (did you mean {close[0]}?)"
    return message


def _type(value: Any) -> str:
    """What a YAML value is, in the words of a manifest's author."""
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _validate(
    data: dict[str, Any], values: Interpolated, root: Location, problems: list[Problem]
) -> tuple[Manifest | None, tuple[Loc, ...]]:
    """The manifest model of ``data``, and the paths of the unknown values set aside while
    checking it (:func:`.unknown.validate_known`); ``None`` and every problem found added to
    ``problems``."""
    failed = values.failed

    def under_failed(path: str) -> bool:
        return any(path == f or path.startswith((f + ".", f + "[")) for f in failed)

    if data.get("strict") is not False:
        for unknown in unknown_keys(data):
            parent = path_of(unknown.parent)
            where = values.locations.get(path_of((*unknown.parent, unknown.key)), root)
            message = unknown_key_message(unknown.key, parent, unknown.known, _WHERE)
            problems.append(Problem(where, message))
    try:
        return validate_known(Manifest, data, values.unknown, _SPEC_ROOT)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        rules = [e for e in errors if e["type"] == "manifest_rule"]
        if rules:  # every field was valid: the model's rule check ran and says what broke
            violations = [
                RuleViolation(str(path), str(message))
                for error in rules
                for path, message in (error.get("ctx") or {}).get("violations", [])
            ]
        else:  # field errors stopped the model before its rule check: run it on the raw data
            violations = [v for v in check_rules(data) if v.path not in values.unknown]
        aside = unknown_errors(errors, values.unknown, _SPEC_ROOT)

        def skip(path: str, error: dict[str, Any]) -> bool:
            return (
                error["type"] == "manifest_rule"
                or under_failed(path)
                or is_under(tuple(error["loc"]), aside)
            )

        def custom(path: str, error: dict[str, Any]) -> str | None:
            if path == "name" and error["type"] == "string_pattern_mismatch":
                return f"invalid name {data.get('name')!r}: {_NAME_RULE}"
            return None

        found = translate(exc, values.locations, root, where=_WHERE, skip=skip, custom=custom)
        found.extend(
            Problem(_locate(rule.path, values, root), rule.message)
            for rule in violations
            if not under_failed(rule.path)
        )
        if not found and not problems:
            found.append(Problem(root, "invalid manifest"))
        problems.extend(found)
        return None, ()


def _locate(path: str, values: Interpolated, root: Location) -> Location:
    while path:
        if path in values.locations:
            return values.locations[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return root


def _agent(
    manifest: Manifest,
    data: dict[str, Any],
    values: Interpolated,
    path: str,
    line: int,
    has_certificate: bool,
    aside: tuple[Loc, ...] = (),
) -> tuple[DesiredAgent, list[Problem]]:
    """The agent ``manifest`` declares, and the problems of its token."""
    problems: list[Problem] = []
    properties = manifest.properties.model_dump(exclude_unset=True)
    put_back(properties, data["properties"], [loc[1:] for loc in aside])
    token = manifest.token if manifest.token is not None else manifest.properties.token
    properties.pop("token", None)
    mode = _token_mode(token)
    if mode == "literal":
        properties["token"] = token
    problem = _token_problem(mode, has_certificate)
    if problem is not None:
        where = values.locations.get("token") or values.locations.get("properties.token")
        problems.append(Problem(where or Location(path, line), problem))
    spec: dict[str, Any] = {"properties": _shared_values(properties)}
    if manifest.preset is not None:
        spec["preset"] = manifest.preset
    if manifest.pipeline_id is not None:
        spec["pipeline_id"] = manifest.pipeline_id

    interpolated = {_spec_field_path(p) for p in values.interpolated if _in_spec(p)}
    sensitive = sensitive_paths(spec, interpolated)
    if mode != "literal":
        sensitive.discard(FieldPath(("properties", "token")))
    covered = _shared_paths(minimal(sensitive))
    secrets = _shared_secrets(
        piece
        for doc_path, pieces in values.pieces.items()
        if _in_spec(doc_path) and _is_under(_spec_field_path(doc_path), covered)
        for piece in pieces
    )
    lines = _spec_lines(values, path, mode)
    # Every value below is already validated (the manifest model) or built here with the
    # declared types: construct without validating again.
    fields: dict[str, Any] = dict(
        name=manifest.name,
        path=path,
        line=line,
        spec=spec,
        token_mode=mode,
        protect=manifest.protect,
        restart_policy=manifest.restart_policy,
        desired=manifest.desired,
        renamed_from=manifest.renamed_from,
        import_id=manifest.import_,
        import_line=_line_of(values.locations.get("import"), path, line),
        on_delete=manifest.lifecycle.on_delete if manifest.lifecycle is not None else "stop",
        sensitive=covered,
        secrets=secrets,
        lines=lines,
        unknown={_spec_field_path(p): names for p, names in values.unknown.items() if _in_spec(p)},
    )
    agent = DesiredAgent.model_construct(_fields_set_of(fields), **fields)
    return agent, problems


def _token_mode(token: str | None) -> TokenMode:
    """How the agent's token is had: minted (``auto``), written (``literal``), or none."""
    if token == AUTO:
        return "auto"
    return "literal" if token else "none"


def _token_problem(mode: TokenMode, has_certificate: bool) -> str | None:
    """Why the token ``mode`` cannot work with the settings, if it cannot."""
    if mode == "auto":
        if has_certificate:
            return None
        return "token: auto needs app_certificate in the settings (reconciler.yaml)"
    if mode == "none":
        missing = token_required(has_token=False, has_certificate=has_certificate)
        return missing.message if missing is not None else None
    return None


def _spec_lines(values: Interpolated, path: str, mode: TokenMode) -> dict[str, int]:
    """The line in ``path`` of each spec field (a top-level ``token`` counts as
    ``properties.token``, kept only for a literal token)."""
    lines = {
        p: at
        for p, at in values.locations.lines_in(path).items()
        if p.startswith(_SPEC_PREFIXES) or p in _SPEC_ROOTS
    }
    token_at = values.locations.get("token")
    if token_at is not None and token_at.path == path:
        lines["properties.token"] = token_at.line
    if mode != "literal":
        lines.pop("properties.token", None)
    return lines


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _fields_set_of(fields: dict[str, Any]) -> set[str]:
    """The names of ``fields``, one set object shared by every agent built with those names.

    Pydantic keeps a set of the fields given per instance (``model_fields_set``); an agent is
    frozen, so its set is never added to (``model_copy`` copies it first), and sharing it
    spares each agent its own (about 500 bytes an agent, once per batch a worker sends back).
    """
    names = frozenset(fields)
    found = _FIELDS_SETS.get(names)
    if found is None:
        found = _FIELDS_SETS[names] = set(names)
    return found


_PATH_SETS: dict[frozenset[FieldPath], frozenset[FieldPath]] = {}
_PATH_SETS_SIZE = 4096


def _shared_paths(paths: frozenset[FieldPath]) -> frozenset[FieldPath]:
    """One object per distinct set of sensitive paths: agents of one project share theirs."""
    if len(_PATH_SETS) >= _PATH_SETS_SIZE:
        return paths
    return _PATH_SETS.setdefault(paths, paths)


_SECRET_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared_secrets(pieces: Iterable[str]) -> frozenset[str]:
    """One object per distinct set of secrets: agents of one project mostly share theirs."""
    found = frozenset(pieces)
    if len(_SECRET_SETS) >= _PATH_SETS_SIZE:
        return found
    return _SECRET_SETS.setdefault(found, found)


_SHARED_MAPPINGS: dict[tuple[Any, ...], dict[str, Any]] = {}
_SHARED_MAPPINGS_SIZE = 16384
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _shared_values(tree: dict[str, Any]) -> dict[str, Any]:
    """``tree`` with each mapping of scalars below it replaced by one object per distinct
    mapping (``{"mode": "semantic"}``, an LLM's ``params``) that every agent shares.

    Agents of one project repeat the same small mappings (from a shared partial, most of
    them); one object each rather than one per agent, here in the process that reads the file
    and then once per batch a worker sends back, is about a fifth of what the agents of a large
    project hold. An agent's spec is never changed in place (see
    :func:`reconciler.diff.normalize.normalize_spec_sharing`), so sharing is safe; ``tree``
    itself, the ``properties`` mapping the caller owns, is changed here and kept.
    """
    for key, value in tree.items():
        if isinstance(value, dict):
            tree[key] = _shared_mapping(value)
        elif isinstance(value, list):
            _share_items(value)
    return tree


def _shared_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    signature: list[Any] = []
    scalars = True
    for key, value in mapping.items():
        kind = type(value)
        if kind in _SCALARS:
            signature += (key, kind, value)  # the type too: 1, 1.0 and True are equal
            continue
        scalars = False
        if kind is dict:
            mapping[key] = _shared_mapping(value)
        elif kind is list:
            _share_items(value)
    if not scalars or not mapping or len(_SHARED_MAPPINGS) >= _SHARED_MAPPINGS_SIZE:
        return mapping
    return _SHARED_MAPPINGS.setdefault(tuple(signature), mapping)


def _share_items(items: list[Any]) -> None:
    for index, value in enumerate(items):
        if type(value) is dict:
            items[index] = _shared_mapping(value)
        elif type(value) is list:
            _share_items(value)


def _line_of(where: Location | None, path: str, line: int) -> int:
    """The line of ``where`` when it is in this manifest's file, else the document's line."""
    return where.line if where is not None and where.path == path else line


_SPEC_ROOTS = ("properties", *SPEC_KEYS)
_SPEC_PREFIXES = tuple(f"{root}{sep}" for root in _SPEC_ROOTS for sep in ".[")


@lru_cache(maxsize=4096)
def _spec_field_path(doc_path: str) -> FieldPath:
    """The spec's path of a document path (the top-level ``token`` is ``properties.token``).

    Cached: manifests share their paths, which are then one (immutable) object each, parsed
    once and pickled once per batch of a worker process.
    """
    return FieldPath.parse("properties.token" if doc_path == "token" else doc_path)


def _is_under(path: FieldPath, prefixes: frozenset[FieldPath]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or lies below one of them."""
    return any(path[:depth] in prefixes for depth in range(1, len(path) + 1))


def _in_spec(path: str) -> bool:
    return path == "token" or path in _SPEC_ROOTS or path.startswith(_SPEC_PREFIXES)
