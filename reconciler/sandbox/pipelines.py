"""Published pipelines (`pipeline_id` of a join): an agent saved in AI Studio.

A join naming a `pipeline_id` starts from that pipeline's saved properties, and the join's own
`properties` override them (objects merge key by key; lists and scalars replace), so `asr`,
`llm` and `tts` may be left out of the join. A project registers its pipelines with
`POST /_sandbox/pipelines` (`{"pipeline_id", "properties", "app_id"?}`; without `app_id` the
pipeline serves every App ID). A join naming a pipeline nobody registered is refused with 400
`InvalidFieldValue`: what the real engine answers then is unconfirmed (docs/engine-api.md).

Pipelines are kept in the store's meta table, so they survive restarts; `/_sandbox/reset`
forgets them with everything else.
"""

from __future__ import annotations

import json
from typing import Any

from .core import Sandbox
from .errors import invalid
from .store import dumps

_PREFIX = "pipeline:"
ANY_APP = "*"


def _key(app_id: str, pipeline_id: str) -> str:
    return f"{_PREFIX}{app_id}:{pipeline_id}"


def register(sb: Sandbox, pipeline_id: Any, properties: Any, app_id: Any = None) -> dict[str, Any]:
    """Save a pipeline's properties; raises ValueError on a bad id, App ID or properties."""
    if not isinstance(pipeline_id, str) or not pipeline_id:
        raise ValueError("pipeline_id must be a non-empty string")
    if not isinstance(properties, dict):
        raise ValueError("properties must be a JSON object")
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise ValueError("app_id must be a non-empty string")
    scope = app_id or ANY_APP
    sb.store.set_meta(_key(scope, pipeline_id), dumps(properties))
    return {"pipeline_id": pipeline_id, "app_id": scope, "properties": properties}


def lookup(sb: Sandbox, app_id: str, pipeline_id: str) -> dict[str, Any] | None:
    """The saved properties of a pipeline for `app_id` (its own, else one for every App ID)."""
    for scope in (app_id, ANY_APP):
        text = sb.store.get_meta(_key(scope, pipeline_id))
        if text is not None:
            value: dict[str, Any] = json.loads(text)
            return value
    return None


def merge(base: Any, override: Any) -> Any:
    """`override` on top of `base`: objects merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override


def apply_pipeline(sb: Sandbox, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The join body with its pipeline's properties underneath its own (unchanged without one).

    Raises 400 `InvalidFieldValue` for a `pipeline_id` that is not registered.
    """
    pipeline_id = body.get("pipeline_id")
    if not isinstance(pipeline_id, str):
        return body  # absent, or of the wrong type (validation names it)
    saved = lookup(sb, app_id, pipeline_id)
    if saved is None:
        raise invalid("pipeline_id", f"no published pipeline {pipeline_id!r} in this project")
    properties = body.get("properties")
    if properties is not None and not isinstance(properties, dict):
        return body
    return dict(body, properties=merge(saved, properties or {}))
