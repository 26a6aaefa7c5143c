"""Which fields the engine changes live (``update``) and which force a restart.

Per docs/engine-api.md ("What update changes live"): ``token``, ``llm.system_messages``,
``llm.params`` (sent whole) and ``mllm.params`` are updatable in place; everything else is fixed
at join.
"""

from __future__ import annotations

from reconciler.diff.paths import is_within

IN_PLACE_PATHS: tuple[str, ...] = (
    "token",
    "properties.token",
    "properties.llm.system_messages",
    "properties.llm.params",
    "properties.mllm.params",
)
"""Spec paths (and everything under them) that ``update`` changes on a running agent.
``token`` is the token *mode* (``auto``); ``properties.token`` a literal token."""


def forces_restart(path: str) -> bool:
    """True when a change at ``path`` can only be applied by stopping and starting the agent."""
    return not any(is_within(path, prefix) for prefix in IN_PLACE_PATHS)


def in_place_root(path: str) -> str | None:
    """The update field a path belongs to (``properties.llm.params`` for ``...params.model``)."""
    for prefix in IN_PLACE_PATHS:
        if is_within(path, prefix):
            return prefix
    return None
