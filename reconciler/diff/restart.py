"""Which fields the engine changes live (``update``) and which force a restart.

Per docs/engine-api.md ("What update changes live"): ``token``, ``llm.system_messages``,
``llm.params`` (sent whole) and ``mllm.params`` are updatable in place; everything else is fixed
at join.
"""

from __future__ import annotations

from reconciler.models.fieldpath import FieldPath

IN_PLACE_PATHS: tuple[FieldPath, ...] = (
    FieldPath(("token",)),
    FieldPath(("properties", "token")),
    FieldPath(("properties", "llm", "system_messages")),
    FieldPath(("properties", "llm", "params")),
    FieldPath(("properties", "mllm", "params")),
)
"""Spec paths (and everything under them) that ``update`` changes on a running agent.
``token`` is the token *mode* (``auto``); ``properties.token`` a literal token."""


def forces_restart(path: FieldPath) -> bool:
    """True when a change at ``path`` can only be applied by stopping and starting the agent."""
    return in_place_root(path) is None


def in_place_root(path: FieldPath) -> FieldPath | None:
    """The update field a path belongs to (``properties.llm.params`` for ``...params.model``)."""
    for prefix in IN_PLACE_PATHS:
        if path.is_within(prefix):
            return prefix
    return None
