"""Normalization: the canonical form both sides of a diff are brought to.

Key order and YAML style are already gone once parsed; on top of that, JSON ``null`` means
absent, the engine's documented defaults are filled in, and UIDs are strings. Applying and
re-planning therefore always yields "No changes".
"""

from __future__ import annotations

from typing import Any

PROPERTY_DEFAULTS: dict[str, Any] = {
    "enable_string_uid": False,
    "idle_timeout": 30,
}
"""Defaults the engine applies when a key is absent (the engine's documented defaults)."""


def drop_nulls(value: Any) -> Any:
    """Recursively remove ``None`` values from mappings (list positions are kept)."""
    # Leaves are copied as they are, without a call each (this runs on every spec of a plan).
    if isinstance(value, dict):
        return {
            k: drop_nulls(v) if isinstance(v, (dict, list)) else v
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [drop_nulls(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Canonical copy of a spec (``{"properties": ..., "preset"?, "pipeline_id"?, "token"?}``)."""
    out: dict[str, Any] = drop_nulls(spec)
    props = out.get("properties")
    if isinstance(props, dict):
        for key, default in PROPERTY_DEFAULTS.items():
            props.setdefault(key, default)
        uid = props.get("agent_rtc_uid")
        if isinstance(uid, int) and not isinstance(uid, bool):
            props["agent_rtc_uid"] = str(uid)
        remotes = props.get("remote_rtc_uids")
        if isinstance(remotes, list):
            props["remote_rtc_uids"] = [
                str(r) if isinstance(r, int) and not isinstance(r, bool) else r for r in remotes
            ]
    return out
