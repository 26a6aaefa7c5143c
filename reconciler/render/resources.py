"""What every renderer shows of the resources of kinds other than ``Agent``.

A plan with no such resource renders exactly as before: each renderer adds its resources part
only when :attr:`Plan.resources` is not empty. Resources are shown by address (``KIND/NAME``),
in the plan's order (what is referenced first), with the same field views as an agent's changes;
an id that only apply will learn is shown as ``(known after apply)``, a change that cannot be
made in place is marked ``# forces replacement``. Nothing here names a kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from reconciler.kinds import KNOWN_AFTER_APPLY, is_known_after_apply
from reconciler.models import Plan
from reconciler.models.plan import FieldChange, ResourcePlan
from reconciler.render.common import (
    FORCES_RESTART,
    RESOURCE_LABELS,
    ChangeView,
    change_kind,
    change_view,
    created_view,
    is_sensitive,
)
from reconciler.render.created import created_fields
from reconciler.render.values import clip, compact

SYMBOLS: dict[str, str] = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "delete": "-",
    "no-op": " ",
}
"""Terraform's symbol of each resource action."""

VERBS: dict[str, str] = {
    "create": "will be created",
    "update": "will be updated in place",
    "replace": "will be replaced (deleted, then created again)",
    "delete": "will be deleted",
    "no-op": "is unchanged",
}

FORCES_REPLACEMENT = "# forces replacement"

CREATE_FIRST_VERB = "will be replaced (created, then the old one deleted)"
"""The verb of a replace that creates first (:attr:`ResourcePlan.create_before_delete`);
:data:`VERBS` says the order of one that deletes first."""
DEPOSED_VERB = "will be deleted (deposed: the old one of a replacement)"


CREATE_FIRST_SYMBOL = "+/-"
"""Terraform's symbol of a replacement that creates first (``-/+``: deletes first)."""


def resource_symbol(resource: ResourcePlan) -> str:
    """The action's symbol (:data:`SYMBOLS`; ``+/-`` for a replace that creates first)."""
    if resource.action == "replace" and resource.create_before_delete:
        return CREATE_FIRST_SYMBOL
    return SYMBOLS[resource.action]


def resource_verb(resource: ResourcePlan) -> str:
    """What happens to ``resource``, in the order apply does it (text)."""
    if resource.action == "replace" and resource.create_before_delete:
        return CREATE_FIRST_VERB
    if resource.deposed is not None:
        return DEPOSED_VERB
    return VERBS[resource.action]


def resource_label(resource: ResourcePlan) -> str:
    """The action's label in markdown (:data:`RESOURCE_LABELS`, with the order of a replace
    that creates first and the deposed object of a delete)."""
    if resource.action == "replace" and resource.create_before_delete:
        return "replace (create first)"
    if resource.deposed is not None:
        return "delete deposed"
    return RESOURCE_LABELS[resource.action]


class _Known:
    """Stands for an id known only after apply while a new resource's spec is listed."""


_KNOWN = _Known()


DRIFT_TITLE = "changed outside since the last apply (state's value -> the Platform's):"
"""Heads a resource's drift in text and markdown (JSON: its ``drift``, ``recorded`` and
``outside``)."""


def resource_details(resource: ResourcePlan) -> str:
    """``(id pn-1, protected)`` for a resource's header line (empty when neither applies)."""
    parts = [f"{'deposed ' if resource.deposed else ''}id {resource.id}"] if resource.id else []
    if resource.protect:
        parts.append("protected")
    return f"({', '.join(parts)})" if parts else ""


def changed_resources(plan: Plan) -> list[ResourcePlan]:
    """The resources the plan acts on, in plan order."""
    return [r for r in plan.resources if r.action != "no-op"]


def resource_change_views(resource: ResourcePlan) -> Iterator[ChangeView]:
    """What a reviewer sees of ``resource``: every attribute of a new one, else its changes."""
    if resource.create_spec is not None:
        for field in created_fields(_with_known(resource.create_spec)):
            if field.value is _KNOWN:
                yield ChangeView(path=field.text, kind="add", marker="", after=KNOWN_AFTER_APPLY)
            else:
                yield created_view(field)
        return
    for change in resource.changes:
        if not is_sensitive(change) and is_known_after_apply(change.after):
            before = change_view(change.model_copy(update={"after": None}), "update").before
            marker = FORCES_REPLACEMENT if change.forces_restart else ""
            kind = change_kind(change)
            yield ChangeView(
                change.path.format(), kind, marker, before=before, after=KNOWN_AFTER_APPLY
            )
            continue
        view = change_view(change, "update")
        if view.marker == FORCES_RESTART:
            view = dataclasses.replace(view, marker=FORCES_REPLACEMENT)
        yield view


def resource_json(resource: ResourcePlan) -> dict[str, Any]:
    """One resource's entry of the JSON plan (known-after-apply values as that text)."""
    if resource.create_spec is not None:
        changes = [
            {
                "path": field.text,
                "kind": "add",
                "before": None,
                "after": _json_value(field.value),
                "sensitive": field.sensitive,
                "forces_replacement": False,
            }
            for field in created_fields(_with_known(resource.create_spec))
        ]
    else:
        changes = []
        for change in resource.changes:
            sensitive = is_sensitive(change)
            changes.append(
                {
                    "path": str(change.path),
                    "kind": change_kind(change),
                    "before": None if sensitive else _json_value(change.before),
                    "after": None if sensitive else _json_value(change.after),
                    "sensitive": sensitive,
                    "forces_replacement": change.forces_restart,
                }
            )
    entry: dict[str, Any] = {
        "address": resource.address,
        "kind": resource.kind,
        "name": resource.name,
        "action": resource.action,
        "reason": resource.reason,
        "id": resource.id,
        "depends_on": list(resource.depends_on),
        "changes": changes,
    }
    if resource.drift:
        entry["drift"] = drift_json(resource.drift)
    if resource.protect:
        entry["protect"] = True
    if resource.create_before_delete:
        entry["create_before_delete"] = True
    if resource.deposed is not None:
        entry["deposed"] = resource.deposed
    return entry


def drift_json(changes: Iterable[FieldChange]) -> list[dict[str, Any]]:
    """Fields changed outside, as the JSON plan and the JSON drift report list them: state's
    value (``recorded``) and the engine's (``outside``); a sensitive field's values are null."""
    return [
        {
            "path": str(change.path),
            "kind": change_kind(change),
            "recorded": None if is_sensitive(change) else _json_value(change.before),
            "outside": None if is_sensitive(change) else _json_value(change.after),
            "sensitive": is_sensitive(change),
        }
        for change in changes
    ]


def drift_lines(changes: Iterable[FieldChange]) -> list[str]:
    """Fields changed outside, one line each: ``path: recorded -> outside`` (values clipped to
    one line; ``(sensitive)`` for a secret; ``(absent)`` for a side without the field)."""
    lines = []
    for change in changes:
        if is_sensitive(change):
            lines.append(f"{change.path.format()}: (sensitive) changed")
            continue
        before = clip(compact(change.before)) if change.before_present else "(absent)"
        after = clip(compact(change.after)) if change.after_present else "(absent)"
        lines.append(f"{change.path.format()}: {before} -> {after}")
    return lines


def _json_value(value: Any) -> Any:
    if value is _KNOWN or is_known_after_apply(value):
        return KNOWN_AFTER_APPLY
    return value


def _with_known(value: Any) -> Any:
    """``value`` with every known-after-apply marker replaced by :data:`_KNOWN` (a leaf)."""
    if is_known_after_apply(value):
        return _KNOWN
    if isinstance(value, dict):
        return {k: _with_known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_known(v) for v in value]
    return value
