"""The JSON Schema of a manifest, generated from :mod:`reconciler.models.manifest`.

Editors that speak yaml-language-server pick it up from a first-line comment::

    # yaml-language-server: $schema=../docs/manifest.schema.json

The schema forbids unknown keys (``additionalProperties: false``) even though ``strict: false``
allows them at load time: an editor should flag a typo. It requires only ``name``: the other
required keys (``properties``, ``channel``, the uids) may come from a partial through ``extends``,
so the loader checks them after merging. Partials (``agents.d/_*``) hold only part of a manifest,
so :func:`manifest_schema` with ``partial=True`` gives the same schema with nothing required.
"""

from __future__ import annotations

from typing import Any

from reconciler.models.manifest import Manifest
from reconciler.models.platform import MANIFEST_MODELS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:reconciler:schema:manifest:1"
"""``$id`` of the manifest schema (``...:partial:1`` for partials), stable within a major."""


_ENVIRONMENT_KEYS: dict[str, Any] = {
    "environments": {
        "description": "The environments of reconciler.yaml this manifest exists in "
        "(default: every one); see docs/environments.md.",
        "type": "array",
        "items": {"type": "string"},
    },
    "overrides": {
        "description": "Per environment, what differs there: merged onto this manifest "
        "(maps merge, lists and scalars replace, null removes).",
        "type": "object",
        "additionalProperties": {"type": "object"},
    },
}
"""Keys read before the manifest's model (:mod:`reconciler.manifests.environments`)."""


def manifest_schema(partial: bool = False) -> dict[str, Any]:
    """The JSON Schema of one manifest document (of a partial when ``partial`` is true)."""
    schema = Manifest.model_json_schema()
    body: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID.replace("manifest", "manifest:partial") if partial else SCHEMA_ID,
        "title": "Agent manifest (partial)" if partial else "Agent manifest",
        "description": (
            "A partial deep-merged by manifests that `extends` it (agents.d/_*)."
            if partial
            else "One agent of agents.d/: name, token and the engine's join properties."
        ),
    }
    body.update((k, v) for k, v in schema.items() if k not in body)
    body["properties"] = {**body.get("properties", {}), **_ENVIRONMENT_KEYS}
    if partial:
        return dict(_without_required(body))
    body["required"] = ["name"]
    for definition in body.get("$defs", {}).values():
        if definition.get("title") == "Properties":
            definition.pop("required", None)
    return _with_platform_kinds(body)


_SHARED = ("Ref",)
"""Definitions that several Platform kinds share (one model)."""


def _with_platform_kinds(agent: dict[str, Any]) -> dict[str, Any]:
    """The schema of every kind: a document whose ``kind`` names a Platform kind validates
    against that kind's model, any other against the agent's schema (``if``/``then``/``else``,
    which yaml-language-server follows)."""
    head = ("$schema", "$id", "title", "description")
    defs: dict[str, Any] = dict(agent.get("$defs", {}))
    branches = []
    for kind, model in MANIFEST_MODELS.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        extra = schema.pop("$defs", {})
        clash = sorted(set(extra) & set(defs) - set(_SHARED))
        if clash:  # two models of one name would share one definition
            raise ValueError(f"schema definitions named twice: {', '.join(clash)}")
        defs.update(extra)
        defs[f"{kind}Manifest"] = schema
        branches.append(
            {
                "if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                "then": {"$ref": f"#/$defs/{kind}Manifest"},
            }
        )
    body = {k: agent[k] for k in head if k in agent}
    body["title"] = "Manifest (Agent, SecretSet, SavedAgent or PhoneNumber)"
    body["description"] = (
        "One document of agents.d/: a running agent of the v2 engine (no kind, or kind: Agent), "
        "or a resource of the Conversational AI Platform (kind: SecretSet, SavedAgent, "
        "PhoneNumber)."
    )
    kinds = list(MANIFEST_MODELS)
    platform = {"required": ["kind"], "properties": {"kind": {"enum": kinds}}}
    agent_body = {k: v for k, v in agent.items() if k not in (*head, "$defs")}
    body["$defs"] = {**defs, "AgentManifest": agent_body}
    body["if"] = platform
    body["then"] = {"allOf": branches}
    body["else"] = {"$ref": "#/$defs/AgentManifest"}
    return body


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node
