"""Finding the agent that carries a given wire name, for adoption after an interrupted join.

The engine's list items carry no ``name``, so the agents of a channel are listed first and each
unrecorded one is then asked who it is: the ``turns`` answer names the agent's join name and
channel. Being in the same channel is no evidence at all (anyone can start an agent there), and
a name alone is not enough either. An agent is ours only when all of these hold:

* its join name is the wire name we sent, which is unique to our state (it carries the state's
  lineage tag, see :func:`reconciler.apply.records.wire_name`);
* it is in the channel we asked for (name and channel are all the engine reports of an agent's
  body: the rest of what it was started with cannot be compared);
* the engine created it no earlier than our journal entry, less :data:`CLOCK_SKEW_S` (an agent
  that already ran when we wrote the entry cannot be the answer to our join). An agent whose
  creation time the engine does not report is not identified.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.engine.client import AgentIdentity
from reconciler.engine.refresh import ACTIVE_STATE_CODES, REFRESH_WINDOW_S
from reconciler.errors import EngineError
from reconciler.models.live import LiveAgent

CLOCK_SKEW_S = 60.0
"""How far the engine's clock may be behind ours: an agent created up to this long before our
journal entry (by the engine's ``start_ts``, in whole seconds) may still be the answer to it."""


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


class AgentFinder(AgentLister, Protocol):
    """A lister that can also tell who an agent is (the client's ``identify``)."""

    async def identify(self, agent_id: str) -> AgentIdentity: ...


async def find_conflicting(
    client: AgentLister,
    channel: str,
    exclude_ids: Collection[str] = (),
    *,
    now: float | None = None,
) -> list[LiveAgent]:
    """Active agents (``models.live.ACTIVE_STATUSES``) in ``channel``, minus ``exclude_ids``.

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


@dataclass(frozen=True)
class NameSearch:
    """What the engine says about the unrecorded active agents of one channel.

    ``match`` is the one carrying the wire name (an active name is unique, so there is at most
    one); ``others`` are those known not to be it (another name or channel, or created before
    the join could have been sent); ``unknown`` maps the agents that could not be identified to
    why. The search is conclusive when it found the match, or when
    every candidate was identified and none carries the name.
    """

    wire_name: str
    channel: str
    match: LiveAgent | None = None
    others: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()

    @property
    def found(self) -> bool:
        return self.match is not None

    @property
    def absent(self) -> bool:
        """No active unrecorded agent in the channel carries the name, for certain."""
        return self.match is None and not self.unknown

    def why_unknown(self) -> str:
        """One line on the agents that could not be identified (empty when there are none)."""
        if not self.unknown:
            return ""
        ids = ", ".join(agent_id for agent_id, _ in self.unknown)
        verb = "is" if len(self.unknown) == 1 else "are"
        return f"the engine did not say who {ids} {verb} ({self.unknown[0][1]})"


async def find_by_name(
    client: AgentFinder,
    channel: str,
    wire_name: str,
    exclude_ids: Collection[str] = (),
    *,
    sent_after: float,
    now: float | None = None,
    candidates: Sequence[LiveAgent] | None = None,
) -> NameSearch:
    """Look for the active agent of ``channel`` that was joined as ``wire_name`` by a join sent
    after ``sent_after`` (the journal entry's time, by our clock).

    ``candidates`` (the channel's active agents, already listed) saves the list call; agents in
    ``exclude_ids`` (recorded ones) are never considered. Failing to list raises; failing to
    identify one agent only makes the search inconclusive for it.
    """
    earliest = sent_after - CLOCK_SKEW_S
    if candidates is None:
        candidates = await find_conflicting(client, channel, exclude_ids, now=now)
    excluded = set(exclude_ids)
    pool = [agent for agent in candidates if agent.agent_id not in excluded]

    async def who(agent: LiveAgent) -> AgentIdentity | str:
        try:
            return await client.identify(agent.agent_id)
        except EngineError as exc:
            return str(exc)

    answers = await asyncio.gather(*(who(agent) for agent in pool))
    match: LiveAgent | None = None
    others: list[str] = []
    unknown: list[tuple[str, str]] = []
    for agent, answer in zip(pool, answers, strict=True):
        if isinstance(answer, str):
            unknown.append((agent.agent_id, answer))
        elif answer.name != wire_name or answer.channel != channel:
            others.append(agent.agent_id)
        elif agent.start_ts is None:
            unknown.append((agent.agent_id, "the engine did not say when it was created"))
        elif agent.start_ts < int(earliest):
            others.append(agent.agent_id)  # it ran before our join could have been sent
        else:
            match = agent
    return NameSearch(wire_name, channel, match, tuple(others), tuple(unknown))
