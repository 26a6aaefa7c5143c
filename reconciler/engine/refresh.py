"""Refresh: learn what the engine says about the recorded agents, in as few calls as possible.

One paginated ``list`` call set covers every agent created in the last 73 hours (the engine's
72 h maximum runtime plus an hour of slack) in every state. Then only the recorded agents that
need more are fetched with GET, concurrently (bounded):

* recorded agents missing from the list (to learn whether they are gone, and why), and
* recorded agents the list shows as ended (STOPPED/FAILED): list items carry no ``message``,
  and the plan reports the exit reason (``failed: <engine message>``). Pass
  ``exit_details=False`` to skip these.

In the steady state (every recorded agent running) that is one list call set and no GET.
Optionally, ``channels`` adds one list set per channel (active states only) so that agents in
managed channels carry their channel, which the plan uses to report unmanaged agents;
:func:`with_channels` adds them to a refresh already made (when it shows an unmanaged agent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from reconciler.engine.client import ALL_STATES, EngineClient
from reconciler.models.live import ACTIVE_STATE_CODES, ENDED_STATUSES, LiveAgent, LiveStatus
from reconciler.models.state import AgentRecord

# ACTIVE_STATE_CODES is models.live's
__all__ = ["ACTIVE_STATE_CODES", "REFRESH_WINDOW_S", "refresh", "with_channels"]

REFRESH_WINDOW_S = 73 * 3600
"""How far back the list looks: the 72 h runtime cap plus one hour."""
DEFAULT_GET_CONCURRENCY = 10


async def refresh(
    client: EngineClient,
    recorded: Mapping[str, AgentRecord],
    now: float,
    *,
    channels: Collection[str] = (),
    exit_details: bool = True,
    concurrency: int = DEFAULT_GET_CONCURRENCY,
) -> LiveStatus:
    """The engine's view of every agent it lists, plus every recorded agent, keyed by agent id.

    A recorded agent the engine no longer knows is reported with status ``MISSING``.
    ``now`` is wall-clock seconds; it sets the list window and ``fetched_at``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    from_time = int(now - REFRESH_WINDOW_S)
    listed = await client.list_agents(states=ALL_STATES, from_time=from_time)
    agents: dict[str, LiveAgent] = {agent.agent_id: agent for agent in listed}
    await _learn_channels(client, agents, channels, from_time)
    wanted = sorted(
        {
            record.agent_id
            for record in recorded.values()
            if _needs_get(agents.get(record.agent_id), exit_details)
        }
    )
    slots = asyncio.Semaphore(concurrency)

    async def fetch(agent_id: str) -> LiveAgent:
        async with slots:
            return await client.get(agent_id)

    for agent in await asyncio.gather(*(fetch(agent_id) for agent_id in wanted)):
        known = agents.get(agent.agent_id)
        if known is not None and known.channel and not agent.channel:
            agent = agent.model_copy(update={"channel": known.channel})
        agents[agent.agent_id] = agent
    return LiveStatus(refreshed=True, agents=agents, fetched_at=now)


async def with_channels(
    client: EngineClient, live: LiveStatus, channels: Collection[str]
) -> LiveStatus:
    """``live`` (a :func:`refresh`) with the channel of every active agent that one of
    ``channels`` lists: one channel-filtered list set per channel, and nothing else asked."""
    if not live.refreshed or not channels:
        return live
    agents = dict(live.agents)
    await _learn_channels(client, agents, channels, int(live.fetched_at - REFRESH_WINDOW_S))
    return live.model_copy(update={"agents": agents})


async def _learn_channels(
    client: EngineClient, agents: dict[str, LiveAgent], channels: Collection[str], from_time: int
) -> None:
    """Set in ``agents`` the channel of each active agent that a channel-filtered list shows
    (list items carry no channel: only the filter tells it), adding those not there yet. The
    lists are asked concurrently (the client bounds the calls in flight) and merged in channel
    order."""
    ordered = sorted(set(channels))
    lists = await asyncio.gather(
        *(
            client.list_agents(channel=channel, states=ACTIVE_STATE_CODES, from_time=from_time)
            for channel in ordered
        )
    )
    for channel, in_channel in zip(ordered, lists, strict=True):
        for agent in in_channel:
            known = agents.get(agent.agent_id)
            agents[agent.agent_id] = (
                known.model_copy(update={"channel": channel}) if known is not None else agent
            )


def _needs_get(listed: LiveAgent | None, exit_details: bool) -> bool:
    if listed is None:
        return True
    return exit_details and listed.status in ENDED_STATUSES and listed.message is None
