"""The one way an agent record is made from a desired agent: by a start, or by an import.

The record holds the redacted spec (salted digests in place of secrets, see
:func:`reconciler.plan.desired_view`), never the real one.
"""

from __future__ import annotations

from typing import Any

from reconciler.kinds.agent import wire_name
from reconciler.models import AgentRecord, DesiredAgent

__all__ = ["agent_record", "wire_name"]


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
        restart_policy=agent.restart_policy,
    )
