"""Manifest fields recorded in state only, and how a change of one is shown."""

from __future__ import annotations

from typing import Any

from reconciler.models import (
    FieldChange,
    FieldPath,
)

STATE_FIELDS = ("protect", "lifecycle.on_delete", "restart_policy")
"""Manifest fields recorded in state only (not in the spec, never sent to the engine): their
change alone is an ``update`` without an engine call."""


def state_change(path: str, before: Any, after: Any) -> FieldChange:
    """The change of a state-only field (see :data:`STATE_FIELDS`): the engine never sees it."""
    return FieldChange(path=FieldPath.parse(path), before=before, after=after)
