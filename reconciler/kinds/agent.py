"""The ``Agent`` kind: a running agent of the v2 engine (``join``/``leave``), the default kind.

Everything that is true of this kind alone and that the rest of the code asks about lives here:

* **manifest model**: :class:`~reconciler.models.manifest.Manifest` (a manifest without a
  ``kind:`` line, or with ``kind: Agent``);
* **identity**: state files an agent under its manifest ``name``; the engine knows it by the
  ``agent_id`` its join answered with, and by the *wire name* ``<name>-<generation>-<lineage
  tag>`` sent in the join (:func:`wire_name`: a new generation for every start, so a restart
  never collides with the agent it replaces; the tag makes it unique to the state);
* **in place vs replace**: which fields ``update`` changes on a running agent
  (:data:`IN_PLACE_PATHS`, per docs/engine-api.md "What update changes live": ``token``,
  ``llm.system_messages``, ``llm.params`` (sent whole) and ``mllm.params``); any other change
  forces a restart (:func:`forces_restart`);
* **sensitive fields**: the project-wide rule of :mod:`reconciler.models.secrets`, applied to an
  agent's spec when its manifest is loaded (``manifests/sensitive.py``);
* **live status**: :mod:`reconciler.models.liveness` (why a recorded agent no longer runs);
* **references**: none (an agent's spec names nothing else we manage).

The v2 agent keeps its own plan, executor phases and journal (rolling restarts, generations,
tokens, channel evidence): see "Kinds" in docs/architecture.md for what still lives outside
this module.
"""

from __future__ import annotations

from typing import Any

from reconciler.models.fieldpath import FieldPath
from reconciler.models.manifest import AGENT_KIND, Manifest
from reconciler.models.state import lineage_tag

KIND = AGENT_KIND
"""The kind's name in a manifest (``kind: Agent``) and in an address (``Agent/support-en``)."""

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


def wire_name(name: str, generation: int, lineage: str) -> str:
    """The ``name`` sent to the engine's join: ``<name>-<generation>-<lineage tag>``.

    The tag (the first 8 hexadecimal digits of the state's lineage) makes the name unique to
    the state: two states that manage an agent of the same name on one App ID (a second team,
    a staging copy with its own state key) never send the same name, so neither mistakes the
    other's agent for its own. At most 48 + 1 + 6 + 1 + 8 = 64 characters of ``[a-z0-9-]``.
    """
    return f"{name}-{generation}-{lineage_tag(lineage)}"


class AgentKind:
    """The rules of the ``Agent`` kind (:class:`~reconciler.kinds.base.KindRules`)."""

    name = KIND
    manifest_model = Manifest

    def forces_replacement(self, path: FieldPath) -> bool:
        """A change at ``path`` restarts the agent (stop, then start a new generation)."""
        return forces_restart(path)

    def creates_before_deleting(self, recorded: dict[str, Any], desired: dict[str, Any]) -> bool:
        """Never asked: an agent's replacement is a restart, with its own rollout."""
        return False

    def references(self, spec: dict[str, Any]) -> tuple[str, ...]:
        """An agent references nothing we manage."""
        return ()


AGENT = AgentKind()
"""The ``Agent`` kind, registered in every :class:`~reconciler.kinds.registry.KindRegistry`."""
