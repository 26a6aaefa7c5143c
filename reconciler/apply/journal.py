"""Resolving the write-ahead journal left by an interrupted run.

A ``join`` entry means a run sent (or was about to send) a join and died before recording the
answer. Being in the entry's channel proves nothing (anyone can start an agent there), so each
unrecorded active agent of the channel is asked its join name (the engine's ``turns``
answer): the one carrying the entry's wire name (unique to this state), in the entry's channel,
created by the engine after the entry was written (less the allowed clock skew, see
:mod:`reconciler.engine.adopt`) is the agent that run started, and it is adopted, however many
strangers share the channel. When every such agent answers with another
name (or there is none), the join never took effect and the entry is forgotten. When some
agent cannot be identified there is no evidence either way: the entry is kept, nothing more is
started in its channel, and apply fails until the engine can tell (or those agents are gone).
An agent still STARTING is a candidate like any other: it is adopted if it carries the name,
and keeps the entry if the engine cannot say who it is.

A ``leave`` entry is simply dropped: the refresh that follows shows whether the agent stopped,
and the plan acts on that.

:func:`preview_journal` decides without writing anything (``plan`` shows the decisions);
:func:`resolve_journal` decides and writes the result (``apply``, under the state lock).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from reconciler.apply.context import EngineOps, StateWriter
from reconciler.engine import NameSearch, find_by_name, find_conflicting
from reconciler.models import AgentRecord, JournalEntry, LiveAgent, StateDoc
from reconciler.models.agent_table import AgentTable

Outcome = Literal["adopt", "forget", "keep", "drop"]


@dataclass(frozen=True)
class Settlement:
    """What becomes of one journal entry, and the evidence for it."""

    entry: JournalEntry
    outcome: Outcome
    agent: LiveAgent | None = None
    """For ``adopt``: the agent that carries the entry's wire name."""
    search: NameSearch | None = None

    def done(self) -> str:
        """The note once the entry has been settled (apply)."""
        e = self.entry
        if self.outcome == "drop":
            return (
                f"{e.name}: an interrupted stop of {e.agent_id} was found; "
                "the refresh shows its outcome"
            )
        if self.outcome == "adopt" and self.agent is not None:
            return (
                f"{e.name}: adopted agent {self.agent.agent_id}, started by an interrupted run "
                f"(the engine names it {e.wire_name} in channel {e.channel})"
            )
        if self.outcome == "forget":
            return (
                f"{e.name}: an interrupted start of {e.wire_name} never took effect; forgotten"
                f"{self._strangers()}"
            )
        return (
            f"{e.name}: an interrupted start of {e.wire_name} in channel {e.channel} cannot be "
            f"settled: {self._why()}; the entry is kept and nothing more is started in that "
            f"channel. {self.hint()}"
        )

    def preview(self) -> str:
        """What apply will do about the entry (plan, which changes nothing)."""
        e = self.entry
        if self.outcome == "drop":
            return (
                f"{e.name}: an interrupted stop of {e.agent_id} is unresolved; apply will drop "
                "the entry and act on the agent's live status"
            )
        head = f"{e.name}: an interrupted start of {e.wire_name} is unresolved; apply will"
        if self.outcome == "adopt" and self.agent is not None:
            return (
                f"{head} adopt agent {self.agent.agent_id} (the engine names it {e.wire_name} "
                f"in channel {e.channel})"
            )
        if self.outcome == "forget":
            return (
                f"{head} forget it (no active agent in channel {e.channel} carries that name"
                f"{self._strangers()})"
            )
        return (
            f"{head} keep it, start nothing in channel {e.channel} and fail: {self._why()}. "
            f"{self.hint()}"
        )

    def hint(self) -> str:
        """How a user settles a kept entry."""
        e = self.entry
        ids = ", ".join(agent_id for agent_id, _ in self.search.unknown) if self.search else ""
        which = f" ({ids})" if ids else ""
        return (
            f'Inspect it with `reconciler state show` (under "pending"); apply settles it '
            f"by itself once the engine identifies the unrecorded agents in channel "
            f"{e.channel}{which}, or once they have stopped."
        )

    def _why(self) -> str:
        return self.search.why_unknown() if self.search else "no evidence"

    def _strangers(self) -> str:
        others = self.search.others if self.search else ()
        if not others:
            return ""
        n = len(others)
        verb = "carry" if n != 1 else "carries"
        return f"; {n} agent{'s' if n != 1 else ''} there {verb} other names"


async def preview_journal(
    doc: StateDoc, client: EngineOps, clock: Callable[[], float] = time.time
) -> list[Settlement]:
    """Decide what becomes of every journal entry, asking the engine; writes nothing."""
    joins = [p for p in doc.journal if p.op == "join"]
    channels = sorted({p.channel for p in joins})
    now = clock()
    listed = await asyncio.gather(*(find_conflicting(client, c, now=now) for c in channels))
    active_by_channel: dict[str, Sequence[LiveAgent]] = dict(zip(channels, listed, strict=True))
    recorded = {r.agent_id for r in doc.agents.values()}
    out: list[Settlement] = []
    for entry in doc.journal:
        if entry.op == "leave":
            out.append(Settlement(entry, "drop"))
            continue
        search = await find_by_name(
            client,
            entry.channel,
            entry.wire_name,
            recorded,
            sent_after=entry.created_at,
            candidates=active_by_channel.get(entry.channel, ()),
        )
        if search.match is not None:
            recorded.add(search.match.agent_id)
            out.append(Settlement(entry, "adopt", search.match, search))
        elif search.absent:
            out.append(Settlement(entry, "forget", None, search))
        else:
            out.append(Settlement(entry, "keep", None, search))
    return out


def settle(doc: StateDoc, settlements: Sequence[Settlement]) -> StateDoc:
    """``doc`` with the settlements carried out (in memory)."""
    adopted: dict[str, AgentRecord] = {}
    keep: list[JournalEntry] = []
    for item in settlements:
        entry, found = item.entry, item.agent
        if item.outcome == "keep":
            keep.append(entry)
        elif item.outcome == "adopt" and found is not None:
            adopted[entry.name] = AgentRecord(
                name=entry.name,
                agent_id=found.agent_id,
                wire_name=entry.wire_name,
                generation=entry.generation,
                channel=entry.channel,
                started_at=float(found.start_ts or entry.created_at),
                token_mode=entry.token_mode,
                token_expires_at=entry.token_expires_at,
                spec=entry.spec,
                spec_digest=entry.spec_digest,
            )
    agents = AgentTable.derive(doc.agents, put=adopted.values())
    return doc.model_copy(update={"agents": agents, "journal": keep})


async def resolve_journal(
    doc: StateDoc,
    client: EngineOps,
    store: StateWriter,
    clock: Callable[[], float] = time.time,
) -> tuple[StateDoc, list[str]]:
    """Settle every journal entry; write state once if anything changed. Returns notes.

    Entries that cannot be settled stay in the journal of the returned document.
    """
    if not doc.journal:
        return doc, []
    settlements = await preview_journal(doc, client, clock)
    return store.write(settle(doc, settlements)), [s.done() for s in settlements]
