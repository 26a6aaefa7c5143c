"""The 409 ``TaskConflict`` path of join: find the agent that already holds the name.

The engine's list items carry no ``name``, so the agent that caused the conflict is looked for
among the active agents of the channel the join asked for. The caller adopts it when exactly one
unrecorded agent is there, and fails the action with a clear message otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Protocol

from reconciler.engine.refresh import ACTIVE_STATE_CODES, REFRESH_WINDOW_S
from reconciler.models.live import LiveAgent


class AgentLister(Protocol):
    """Anything with the engine client's ``list_agents`` (the client, or apply's view of it)."""

    async def list_agents(
        self,
        *,
        channel: str | None = None,
        states: Sequence[int] | None = None,
        from_time: int | None = None,
        to_time: int | None = None,
        limit: int = 100,
    ) -> list[LiveAgent]: ...


async def find_conflicting(
    client: AgentLister,
    channel: str,
    exclude_ids: Collection[str] = (),
    *,
    now: float | None = None,
) -> list[LiveAgent]:
    """Active agents (STARTING, RUNNING, RECOVERING) in ``channel``, minus ``exclude_ids``.

    The list window reaches back 73 hours from ``now`` (default: the wall clock), because the
    engine's default window (2 hours) would miss a long-running agent.
    """
    moment = time.time() if now is None else now
    agents = await client.list_agents(
        channel=channel,
        states=ACTIVE_STATE_CODES,
        from_time=int(moment - REFRESH_WINDOW_S),
    )
    excluded = set(exclude_ids)
    return [agent for agent in agents if agent.agent_id not in excluded]
