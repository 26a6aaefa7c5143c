"""The one way an agent record is made from a desired agent: by a start, or by an import.

The record holds the redacted spec (salted digests in place of secrets, see
:func:`reconciler.plan.desired_view`), never the real one.
"""

from __future__ import annotations

from typing import Any

from reconciler.models import AgentRecord, DesiredAgent
from reconciler.models.state import lineage_tag


def wire_name(name: str, generation: int, lineage: str) -> str:
    """The ``name`` sent to the engine's join: ``<name>-<generation>-<lineage tag>``.

    The tag (the first 8 hexadecimal digits of the state's lineage) makes the name unique to
    the state: two states that manage an agent of the same name on one App ID (a second team,
    a staging copy with its own state key) never send the same name, so neither mistakes the
    other's agent for its own. At most 48 + 1 + 6 + 1 + 8 = 64 characters of ``[a-z0-9-]``.
    """
    return f"{name}-{generation}-{lineage_tag(lineage)}"


def agent_record(
    agent: DesiredAgent,
    *,
    agent_id: str,
    wire_name: str,
    generation: int,
    started_at: float,
    token_expires_at: float | None,
    spec: dict[str, Any],
    spec_digest: str,
) -> AgentRecord:
    """The record of ``agent`` running as ``agent_id``; ``spec`` must already be redacted."""
    return AgentRecord(
        name=agent.name,
        agent_id=agent_id,
        wire_name=wire_name,
        generation=generation,
        channel=agent.channel,
        started_at=started_at,
        token_mode=agent.token_mode,
        token_expires_at=token_expires_at,
        spec=spec,
        spec_digest=spec_digest,
        protect=agent.protect,
        on_delete=agent.on_delete,
    )
