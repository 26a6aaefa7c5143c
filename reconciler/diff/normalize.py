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


_LEAVES = frozenset({str, int, float, bool})
"""Types copied as they are, recognised by one set lookup (the common case by far)."""


def drop_nulls(value: Any) -> Any:
    """Recursively remove ``None`` values from mappings (list positions are kept)."""
    if isinstance(value, dict):
        return _drop_in_mapping(value)
    if isinstance(value, list):
        return _drop_in_list(value)
    return value


# This runs on every spec of a plan: leaves are copied without a call or an isinstance each.
def _drop_in_mapping(value: dict[Any, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if type(item) not in _LEAVES:
            if isinstance(item, dict):
                item = _drop_in_mapping(item)
            elif isinstance(item, list):
                item = _drop_in_list(item)
        out[key] = item
    return out


def _drop_in_list(value: list[Any]) -> list[Any]:
    return [item if type(item) in _LEAVES else drop_nulls(item) for item in value]


def normalize_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Canonical copy of a spec (``{"properties": ..., "preset"?, "pipeline_id"?, "token"?}``)."""
    return _with_defaults(drop_nulls(spec))


def normalize_spec_sharing(spec: dict[str, Any]) -> dict[str, Any]:
    """:func:`normalize_spec`, sharing with ``spec`` every subtree normalization leaves as it is.

    The result's top-level mapping and its ``properties`` are new; below them, a spec without a
    null anywhere (the common case) keeps ``spec``'s own dicts and lists rather than copies (a
    spec holding a null is copied whole, as :func:`normalize_spec` does). Neither tree may then
    be changed in place: a plan's view of an agent shares its manifest's values this way, which
    halves what a plan of new agents holds (the view is what state records and the plan shows).
    Change the result only through copies, as
    :func:`~reconciler.diff.redact.redact_copying` does.
    """
    if _holds_null(spec):
        return normalize_spec(spec)
    out = dict(spec)
    props = out.get("properties")
    if isinstance(props, dict):
        out["properties"] = dict(props)
    return _with_defaults(out)


def _holds_null(value: Any) -> bool:
    """Whether a ``None`` is anywhere in ``value`` (a mapping's value or a list's item)."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return False
    for item in items:
        if item is None:
            return True
        if type(item) not in _LEAVES and _holds_null(item):
            return True
    return False


def _with_defaults(out: dict[str, Any]) -> dict[str, Any]:
    """Fill in the documented defaults and the uids' string form in ``out``'s own
    ``properties`` (which the caller owns: replaced, never changed below it)."""
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
